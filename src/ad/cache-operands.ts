// Reverse mode needs the values of some operands of nonlinear nodes (x·y needs x and y). It
// finds them by re-evaluating the operand trees on restored locals; in a loop each local
// the tree reads is recorded on the tape when it is overwritten. When an operand tree
// reads two or more float locals, recording the operand's value instead is cheaper: one
// push instead of one per local. This pass gives such operands a local of their own
// (`t = left − 2·mid + right; tmp[i] = mid + a·t`), so the reverse sweep restores t alone.
// ReverseNeeds then declines to recompute t from those locals (see its rematerialize).
import type { Expr, IRFunction, ValType } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";
import { rewriteStatements } from "../ir/normalize.js";
import { partialUses } from "./context.js";
import type { MathCall } from "./rules/rule.js";
import { nodeRule } from "./rules/index.js";

const floatLocalsRead = (e: Expr): number => {
  const seen = new Set<number>();
  forEachNode(e, (n) => { if (n.kind === "local.get" && isFloat(n.type)) seen.add(n.local); });
  return seen.size;
};

export function cacheNeededOperands(fn: IRFunction, math: (t: ValType) => MathCall): IRFunction {
  const locals = [...fn.locals];
  const localNames = [...(fn.localNames ?? [])];
  let changed = false;
  const cache = (e: Expr, out: Expr[]): Expr => {
    changed = true;
    const t = locals.push(e.type as ValType) - 1;
    localNames[t] = `op${t}`;
    out.push({ kind: "local.set", type: "none", local: t, value: e, tee: false });
    return { kind: "local.get", type: e.type as ValType, local: t };
  };
  /** e with its needed compound operands moved into locals (statements appended to out). */
  const tree = (e: Expr, out: Expr[]): Expr => {
    if (!isFloat(e.type) || (e.kind !== "unary" && e.kind !== "binary" && e.kind !== "select")) return e;
    if (e.kind === "select") return { ...e, ifTrue: tree(e.ifTrue, out), ifFalse: tree(e.ifFalse, out), cond: needed(e.cond, out) };
    const rule = nodeRule(e, math(e.type as ValType));
    if (!rule || rule.kind === "constant") return e;
    if (rule.kind === "convert") return e.kind === "unary" ? { ...e, value: tree(e.value, out) } : e;
    const uses = new Set<number>();
    for (const p of rule.partials) for (const j of partialUses(p).operands) uses.add(j);
    const operand = (o: Expr, j: number) => (uses.has(j) ? needed(tree(o, out), out) : tree(o, out));
    if (e.kind === "unary") return { ...e, value: operand(e.value, 0) };
    const left = operand(e.left, 0);
    return { ...e, left, right: operand(e.right, 1) };
  };
  const needed = (o: Expr, out: Expr[]) => (o.kind !== "local.get" && o.kind !== "const" && floatLocalsRead(o) >= 2 ? cache(o, out) : o);

  const body = rewriteStatements(fn.body as Expr, (s, out) => {
    if (s.kind === "local.set" || s.kind === "store") { const pre: Expr[] = []; const value = tree(s.value, pre); out.push(...pre, { ...s, value }); return; }
    out.push(s);
  });
  return changed ? { ...fn, locals, localNames, body } : fn;
}
