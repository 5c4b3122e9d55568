// An upper bound on how often a loop's header runs, as an expression evaluated just before
// the loop. It lets the augmented sweep check tape capacity once before an innermost loop
// instead of once per iteration (a compare and a call path in the hottest code).
//
// Recognized: one exit, tested on every iteration as `i < X` (signed or unsigned) or
// `i != X`; `i` a local stepped by +1 exactly once on every iteration; X loop-invariant
// (constants and locals the loop does not assign). With step 1, `i` cannot jump over X,
// so the bound is exact up to one iteration: no wrap-around case to get wrong.
import { binary, unary } from "../ir/builder.js";
import type { Expr } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";
import { type CountedLoop, type ForwardCfg, successors } from "./cfg.js";

/** Blocks every path from the header back to the latch goes through. */
function onEveryIteration(cfg: ForwardCfg, loop: CountedLoop): Set<number> {
  const out = new Set<number>();
  for (const b of loop.blocks) {
    if (b === loop.header || b === loop.latch) { out.add(b); continue; }
    // remove b: can the header still reach the latch?
    const seen = new Set<number>([b]);
    const stack = [loop.header];
    let reaches = false;
    while (stack.length && !reaches) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      if (x === loop.latch) reaches = true;
      for (const s of successors(cfg.blocks.get(x)!.exit)) if (loop.blocks.has(s) && s !== loop.header) stack.push(s);
    }
    if (!reaches) out.add(b);
  }
  return out;
}

/** Every local the loop's blocks assign, at any depth. */
function assignedLocals(cfg: ForwardCfg, loop: CountedLoop): Map<number, Expr[]> {
  const defs = new Map<number, Expr[]>();
  const note = (l: number, s: Expr) => { const list = defs.get(l) ?? []; list.push(s); defs.set(l, list); };
  for (const b of loop.blocks)
    for (const st of cfg.blocks.get(b)!.stmts)
      forEachNode(st, (n) => {
        if (n.kind === "local.set") note(n.local, n);
        if (n.kind === "tuple.set") for (const l of n.locals) note(l, n);
      });
  return defs;
}

const isInvariant = (e: Expr, assigned: Map<number, Expr[]>): boolean => {
  let ok = true;
  forEachNode(e, (n) => {
    if (n.kind === "local.get") { if (assigned.has(n.local)) ok = false; }
    else if (n.kind === "const") { if (n.type !== "i32") ok = false; }
    else if (n.kind !== "binary" || !/^i32\.(add|sub|mul|shl|shr_[su]|and|or|xor)$/.test(n.op)) ok = false;
  });
  return ok;
};

/**
 * An i64 expression (over the primal's locals, valid on the edge into the loop) that bounds
 * how many times the header runs, or null when the loop's shape is not recognized.
 * Branches to blocks that only trap do not count as exits.
 */
export function headerRunsBound(cfg: ForwardCfg, loop: CountedLoop): Expr | null {
  const trapsOnly = (id: number) => cfg.blocks.get(id)!.exit.kind === "unreachable";
  const exiting: { block: number; outside: number }[] = [];
  for (const b of loop.blocks)
    for (const s of successors(cfg.blocks.get(b)!.exit))
      if (!loop.blocks.has(s) && !trapsOnly(s)) exiting.push({ block: b, outside: s });
  if (exiting.length !== 1) return null;
  const { block, outside } = exiting[0];
  const every = onEveryIteration(cfg, loop);
  const exit = cfg.blocks.get(block)!.exit;
  if (!every.has(block) || exit.kind !== "branch" || exit.then === exit.else) return null;
  // the condition under which the loop goes on
  const goesOnWhenTrue = exit.else === outside;
  const cond = exit.cond;
  if (cond.kind !== "binary") return null;
  const assigned = assignedLocals(cfg, loop);
  // normalize to `i OP X` meaning "go on"
  const flip: Record<string, string> = { "i32.lt_s": "i32.gt_s", "i32.lt_u": "i32.gt_u", "i32.gt_s": "i32.lt_s", "i32.gt_u": "i32.lt_u",
    "i32.le_s": "i32.ge_s", "i32.le_u": "i32.ge_u", "i32.ge_s": "i32.le_s", "i32.ge_u": "i32.le_u", "i32.ne": "i32.ne", "i32.eq": "i32.eq" };
  const negate: Record<string, string> = { "i32.ge_s": "i32.lt_s", "i32.ge_u": "i32.lt_u", "i32.eq": "i32.ne" };
  const forms: { i: number; x: Expr; op: string }[] = [];
  if (cond.left.kind === "local.get") forms.push({ i: cond.left.local, x: cond.right, op: cond.op });
  if (cond.right.kind === "local.get" && flip[cond.op]) forms.push({ i: cond.right.local, x: cond.left, op: flip[cond.op] });
  for (const f of forms) {
    const op = goesOnWhenTrue ? f.op : negate[f.op];
    if (op !== "i32.lt_s" && op !== "i32.lt_u" && op !== "i32.ne") continue;
    if (!isInvariant(f.x, assigned)) continue;
    const defs = assigned.get(f.i) ?? [];
    if (defs.length !== 1) continue;
    const d = defs[0];
    if (d.kind !== "local.set" || d.tee || !isStepByOne(d.value, f.i)) continue;
    // the step must be a statement of a block run on every iteration
    const stepBlock = [...loop.blocks].find((b) => cfg.blocks.get(b)!.stmts.includes(d));
    if (stepBlock === undefined || !every.has(stepBlock)) continue;
    const ext = op === "i32.lt_s" ? "i64.extend_i32_s" : "i64.extend_i32_u";
    const iGet: Expr = { kind: "local.get", type: "i32", local: f.i };
    // lt: back edges ≤ max(0, X − i0); ne: back edges ≤ (X − i0) mod 2^32; header runs one more
    const span = op === "i32.ne"
      ? unary("i64.extend_i32_u", binary("i32.sub", f.x, iGet))
      : binary("i64.sub", unary(ext, f.x), unary(ext, iGet));
    const nonNegative: Expr = op === "i32.ne" ? span
      : { kind: "select", type: "i64", ifTrue: span, ifFalse: { kind: "const", type: "i64", value: 0n }, cond: binary("i64.gt_s", span, { kind: "const", type: "i64", value: 0n }) };
    return binary("i64.add", nonNegative, { kind: "const", type: "i64", value: 1n });
  }
  return null;
}

const isStepByOne = (v: Expr, i: number): boolean => {
  if (v.kind !== "binary") return false;
  const isI = (e: Expr) => e.kind === "local.get" && e.local === i;
  const isConst = (e: Expr, c: number) => e.kind === "const" && e.type === "i32" && e.value === c;
  if (v.op === "i32.add") return (isI(v.left) && isConst(v.right, 1)) || (isI(v.right) && isConst(v.left, 1));
  if (v.op === "i32.sub") return isI(v.left) && isConst(v.right, -1);
  return false;
};
