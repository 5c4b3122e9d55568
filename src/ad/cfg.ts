// Turns a function in statement form into a control-flow graph of basic blocks, the
// shape reverse mode works on: the reverse sweep runs the blocks backwards and chooses
// each predecessor by a recorded edge id. Returns become an assignment to a result
// local and a jump to one EXIT block.
import type { Expr } from "../ir/types.js";

export type FTerm =
  | { kind: "goto"; to: number }
  | { kind: "branch"; cond: Expr; then: number; else: number }
  | { kind: "switch"; index: Expr; targets: number[]; default: number }
  | { kind: "exit" }
  | { kind: "unreachable" };

export interface FBlock { id: number; stmts: Expr[]; exit: FTerm; preds: number[] }
export interface ForwardCfg { blocks: Map<number, FBlock>; entry: number; exit: number; order: number[] }

export const successors = (t: FTerm): number[] =>
  t.kind === "goto" ? [t.to] : t.kind === "branch" ? [t.then, t.else] : t.kind === "switch" ? [...t.targets, t.default] : [];

/** Builds the CFG; `retLocal` receives return values (-1 for functions without results). */
export function buildCfg(body: Expr, retLocal: number): ForwardCfg {
  const blocks = new Map<number, FBlock>();
  let next = 0;
  const make = (): FBlock => { const b: FBlock = { id: next++, stmts: [], exit: { kind: "unreachable" }, preds: [] }; blocks.set(b.id, b); return b; };
  const entry = make();
  const exit = make();
  exit.exit = { kind: "exit" };
  let cur = entry;
  const labels: { label: string; target: number }[] = [];
  const target = (label: string) => {
    for (let i = labels.length - 1; i >= 0; i--) if (labels[i].label === label) return labels[i].target;
    throw new Error(`branch to unknown label ${label}`);
  };
  const end = (t: FTerm, continueIn: FBlock = make()) => { cur.exit = t; cur = continueIn; };

  const stmt = (s: Expr): void => {
    switch (s.kind) {
      case "block": {
        // an unlabeled block is only grouping: nothing can branch to its end
        if (!s.label) { s.body.forEach(stmt); return; }
        const after = make();
        if (s.label) labels.push({ label: s.label, target: after.id });
        s.body.forEach(stmt);
        if (s.label) labels.pop();
        end({ kind: "goto", to: after.id }, after);
        return;
      }
      case "loop": {
        const header = make();
        end({ kind: "goto", to: header.id }, header);
        labels.push({ label: s.label, target: header.id });
        stmt(s.body);
        labels.pop();
        return;
      }
      case "if": {
        const thenB = make(), join = make();
        const elseB = s.else ? make() : join;
        end({ kind: "branch", cond: s.cond, then: thenB.id, else: elseB.id }, thenB);
        stmt(s.then);
        end({ kind: "goto", to: join.id }, elseB);
        if (s.else) { stmt(s.else); end({ kind: "goto", to: join.id }, join); }
        return;
      }
      case "br":
        if (s.cond) { const fall = make(); end({ kind: "branch", cond: s.cond, then: target(s.label), else: fall.id }, fall); }
        else end({ kind: "goto", to: target(s.label) });
        return;
      case "br_table":
        end({ kind: "switch", index: s.index, targets: s.labels.map(target), default: target(s.default) });
        return;
      case "return":
        if (s.value && retLocal >= 0) cur.stmts.push({ kind: "local.set", type: "none", local: retLocal, value: s.value, tee: false });
        end({ kind: "goto", to: exit.id });
        return;
      case "unreachable": end({ kind: "unreachable" }); return;
      case "nop": return;
      default: cur.stmts.push(s);
    }
  };
  stmt(body);
  end({ kind: "goto", to: exit.id });

  // drop blocks that cannot be reached, then record predecessors (each once, in a stable order)
  const reached = new Set<number>();
  const order: number[] = [];
  const stack = [entry.id];
  while (stack.length) {
    const id = stack.pop()!;
    if (reached.has(id)) continue;
    reached.add(id);
    order.push(id);
    for (const s of successors(blocks.get(id)!.exit).reverse()) if (!reached.has(s)) stack.push(s);
  }
  for (const id of [...blocks.keys()]) if (!reached.has(id) && id !== exit.id) blocks.delete(id);
  if (!reached.has(exit.id)) order.push(exit.id);
  for (const id of order) for (const s of new Set(successors(blocks.get(id)!.exit))) blocks.get(s)!.preds.push(id);
  return { blocks, entry: entry.id, exit: exit.id, order };
}

/**
 * Loops whose header has exactly two predecessors: one from outside (`pre`) and one back
 * edge (`latch`). Reverse mode counts their iterations instead of recording an edge id
 * per iteration; `blocks` is the natural loop of the back edge.
 */
export interface CountedLoop { header: number; pre: number; latch: number; blocks: Set<number> }

export function countedLoops(cfg: ForwardCfg): Map<number, CountedLoop> {
  const loops = new Map<number, CountedLoop>();
  for (const [id, b] of cfg.blocks) {
    if (b.preds.length !== 2) continue;
    for (const latch of b.preds) {
      const blocks = naturalLoop(cfg, id, latch);
      if (!blocks) continue;
      const pre = b.preds.find((p) => p !== latch)!;
      if (blocks.has(pre)) continue;
      loops.set(id, { header: id, pre, latch, blocks });
      break;
    }
  }
  return loops;
}

/** Blocks that reach `latch` without passing `header`, plus the header; null if latch→header is not a back edge. */
function naturalLoop(cfg: ForwardCfg, header: number, latch: number): Set<number> | null {
  const blocks = new Set<number>([header]);
  const stack = [latch];
  while (stack.length) {
    const x = stack.pop()!;
    if (blocks.has(x)) continue;
    blocks.add(x);
    for (const p of cfg.blocks.get(x)!.preds) stack.push(p);
  }
  // a back edge: the header dominates the latch, i.e. the loop is entered only through the header
  for (const x of blocks) if (x !== header) for (const p of cfg.blocks.get(x)!.preds) if (!blocks.has(p)) return null;
  if (blocks.has(cfg.entry) && header !== cfg.entry) return null;
  return blocks;
}

/**
 * Joins whose predecessor can be recomputed in the reverse sweep instead of recorded: the
 * two arms of one if (each a single block, or the if without else), when the condition reads
 * nothing the arms assign. `onTrue`/`onFalse` are the join's predecessors for each outcome.
 */
export interface RecomputedJoin { join: number; cond: Expr; onTrue: number; onFalse: number }

export function recomputableJoins(cfg: ForwardCfg, condOk: (cond: Expr, armDefs: Set<number>) => boolean,
  defsOf: (block: number) => number[]): Map<number, RecomputedJoin> {
  const out = new Map<number, RecomputedJoin>();
  for (const [j, b] of cfg.blocks) {
    if (b.preds.length !== 2) continue;
    const single = (x: number) => { const xb = cfg.blocks.get(x)!; return xb.preds.length === 1 && xb.exit.kind === "goto" && xb.exit.to === j ? xb.preds[0] : -1; };
    const [p, q] = b.preds;
    let found: RecomputedJoin | null = null;
    // diamond: D → p, D → q, p → j, q → j
    const dp = single(p), dq = single(q);
    if (dp >= 0 && dp === dq) {
      const d = cfg.blocks.get(dp)!.exit;
      if (d.kind === "branch" && ((d.then === p && d.else === q) || (d.then === q && d.else === p)))
        found = { join: j, cond: d.cond, onTrue: d.then, onFalse: d.else };
    }
    // triangle: D → t → j and D → j
    for (const [t, dd] of [[p, q], [q, p]] as const) {
      if (found) break;
      if (single(t) !== dd) continue;
      const d = cfg.blocks.get(dd)!.exit;
      if (d.kind === "branch" && d.then === t && d.else === j) found = { join: j, cond: d.cond, onTrue: t, onFalse: dd };
      else if (d.kind === "branch" && d.else === t && d.then === j) found = { join: j, cond: d.cond, onTrue: dd, onFalse: t };
    }
    if (!found) continue;
    const arms = [found.onTrue, found.onFalse].filter((x) => cfg.blocks.get(x)!.preds.length === 1 && single(x) >= 0);
    const armDefs = new Set(arms.flatMap(defsOf));
    if (condOk(found.cond, armDefs)) out.set(j, found);
  }
  return out;
}
