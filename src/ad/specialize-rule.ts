// Specialises an all-active rule function to a call site with Const arguments: tangents of
// Const floats become zero, shadows of Const pointers are discarded (loads through them read
// zero, stores through them go away), and the zeros are folded through the arithmetic
// (x·0 → 0, x + 0 → x, locals only ever zero → 0), so the work that only served the Const
// arguments disappears before binaryen sees it. Folding treats a zero tangent as exactly
// zero (0·∞ → 0), as AD tools do for structurally zero derivatives.
import type { ParamActivity } from "../analysis/signature.js";
import { PointerAnalysis } from "../analysis/pointers.js";
import { UnsupportedError } from "../errors.js";
import { zero as zeroOf } from "../ir/builder.js";
import { normalizeFunction } from "../ir/normalize.js";
import type { Expr, IRFunction, ValType } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { forEachNode, mapTree } from "../ir/walk.js";

const isZero = (e: Expr) => e.kind === "const" && (e.value === 0 || e.value === 0n);
const hasEffects = (e: Expr) => {
  let found = false;
  forEachNode(e, (n) => { if (n.kind === "call" || n.kind === "call_indirect" || n.kind === "memory.grow") found = true; });
  return found;
};

/**
 * A copy of `rule` named `name` in which the parameters in `zero` read as 0 and the pointer
 * parameters in `discard` are shadows nobody needs. Refuses (naming the rule) when a
 * discarded shadow escapes: passed to a call, stored, or kept in a global.
 */
export function specializeRule(rule: IRFunction, name: string, zero: Set<number>, discard: Set<number>): IRFunction {
  let fn = normalizeFunction(rule);
  const assigned = new Set<number>();
  forEachNode(fn.body as Expr, (n) => { if (n.kind === "local.set") assigned.add(n.local); if (n.kind === "tuple.set") n.locals.forEach((l) => assigned.add(l)); });
  const sig: ParamActivity[] = fn.params.map((_, i) => (discard.has(i) ? "const-ptr" : "const"));
  const ptr = new PointerAnalysis(fn, { params: sig, resultActive: false });
  const discarded = (addr: Expr) => { const p = ptr.of(addr); return p.kind === "arg" && discard.has(p.param); };
  const escape = (what: string) => {
    throw new UnsupportedError(rule.name, what, "the shadow of a Const pointer argument escapes the rule, so it cannot be specialised to this call site; give a rule for this activity pattern with `when`");
  };
  forEachNode(fn.body as Expr, (n) => {
    if (n.kind === "call" || n.kind === "call_indirect") n.args.forEach((a) => { if (a.type === "i32" && discarded(a)) escape(n.kind === "call" ? `call ${n.func}` : "call_indirect"); });
    if (n.kind === "store" && n.value.type === "i32" && discarded(n.value)) escape(n.op);
    if (n.kind === "global.set" && n.value.type === "i32" && discarded(n.value)) escape(`global.set ${n.global}`);
  });
  let body = mapTree(fn.body as Expr, (n) => {
    if (n.kind === "local.get" && zero.has(n.local) && !assigned.has(n.local)) return zeroOf(n.type as ValType);
    if (n.kind === "load" && isFloat(n.type) && discarded(n.addr)) return zeroOf(n.type as ValType);
    if (n.kind === "store" && discarded(n.addr)) return hasEffects(n.value) ? { kind: "drop", type: "none", value: n.value } : { kind: "nop", type: "none" };
    return n;
  });
  const entrySets: Expr[] = [...zero].filter((p) => assigned.has(p)).map((p) => ({ kind: "local.set", type: "none", local: p, value: zeroOf(fn.locals[p]), tee: false }));
  if (entrySets.length) body = { kind: "block", type: body.type, label: null, body: [...entrySets, body] };
  fn = { ...fn, name, body, import: undefined, rules: undefined, inactive: undefined };
  return foldZeros(fn);
}

/** Folds float arithmetic on zeros, and locals that only ever hold zero, to a fixed point. */
function foldZeros(fn: IRFunction): IRFunction {
  let body = fn.body as Expr;
  for (let round = 0; round < 8; round++) {
    body = mapTree(body, foldNode);
    // non-parameter locals start at zero: one assigned only zeros or itself is always zero
    const notZero = new Set<number>(fn.params.map((_, i) => i));
    forEachNode(body, (n) => {
      if (n.kind === "tuple.set") n.locals.forEach((l) => notZero.add(l));
      if (n.kind === "local.set" && !isZero(n.value) && !(n.value.kind === "local.get" && n.value.local === n.local)) notZero.add(n.local);
    });
    let changed = false;
    body = mapTree(body, (n) => {
      if (n.kind === "local.get" && !notZero.has(n.local)) { changed = true; return zeroOf(n.type as ValType); }
      return n;
    });
    if (!changed) break;
  }
  return { ...fn, body };
}

function foldNode(n: Expr): Expr {
  if (n.kind === "local.set" && !n.tee && n.value.kind === "local.get" && n.value.local === n.local) return { kind: "nop", type: "none" };
  if (!isFloat(n.type)) return n;
  if (n.kind === "unary" && /\.neg$/.test(n.op) && isZero(n.value)) return n.value;
  if (n.kind !== "binary") return n;
  const t = n.type as ValType, l = n.left, r = n.right;
  switch (n.op.slice(4)) {
    case "mul": return isZero(l) ? l : isZero(r) ? r : n;
    case "div": return isZero(l) ? l : n;
    case "add": return isZero(l) ? r : isZero(r) ? l : n;
    case "sub": return isZero(r) ? l : isZero(l) ? { kind: "unary", type: t, op: `${t}.neg`, value: r } : n;
    default: return n;
  }
}

