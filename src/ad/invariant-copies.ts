// Copies of values that never change: `t = a` where `a` is never assigned in the function
// (a parameter the code only reads) and `t` has no other assignment. Wherever t is read after
// its assignment, it holds a's value, so reads of t can read a instead. Optimized asc/clang
// output keeps such temporaries (a scalar parameter copied into a local inside a loop); left
// alone, reverse mode would record t on every iteration, since the loop overwrites it.
// Reads of t must be dominated by its assignment (else they could see t's initial zero).
import type { Expr } from "../ir/types.js";
import { forEachNode, mapTree } from "../ir/walk.js";
import type { ForwardCfg } from "./cfg.js";

/** Rewrites cfg in place: reads of such copies become reads of what they copy. */
export function propagateInvariantCopies(cfg: ForwardCfg): void {
  const defs = new Map<number, { block: number; index: number; value: Expr }[]>();
  for (const [id, b] of cfg.blocks)
    b.stmts.forEach((st, index) => forEachNode(st, (n) => {
      if (n.kind === "local.set") { const l = defs.get(n.local) ?? []; l.push({ block: id, index: n === st ? index : -1, value: n.value }); defs.set(n.local, l); }
      if (n.kind === "tuple.set") for (const x of n.locals) { const l = defs.get(x) ?? []; l.push({ block: id, index: -1, value: n.value }); defs.set(x, l); }
    }));
  const alias = new Map<number, { of: number; block: number; index: number }>();
  for (const [t, ds] of defs) {
    if (ds.length !== 1 || ds[0].index < 0 || ds[0].value.kind !== "local.get") continue;
    const a = ds[0].value.local;
    if (defs.has(a) || a === t) continue;
    alias.set(t, { of: a, block: ds[0].block, index: ds[0].index });
  }
  if (alias.size === 0) return;
  const dom = dominators(cfg);
  // every read of t: in a block its assignment's block dominates, after the assignment in that block
  const ok = new Set(alias.keys());
  for (const [id, b] of cfg.blocks) {
    const check = (e: Expr, at: number) => forEachNode(e, (n) => {
      if (n.kind !== "local.get" || !ok.has(n.local)) return;
      const d = alias.get(n.local)!;
      if (!dom.get(id)!.has(d.block) || (id === d.block && at <= d.index)) ok.delete(n.local);
    });
    b.stmts.forEach((st, k) => check(st, k));
    const x = b.exit;
    if (x.kind === "branch") check(x.cond, b.stmts.length);
    if (x.kind === "switch") check(x.index, b.stmts.length);
  }
  if (ok.size === 0) return;
  const swap = (e: Expr): Expr => mapTree(e, (n) => (n.kind === "local.get" && ok.has(n.local) ? { ...n, local: alias.get(n.local)!.of } : n));
  for (const b of cfg.blocks.values()) {
    b.stmts = b.stmts.map((st) => (st.kind === "local.set" ? { ...st, value: swap(st.value) } : swap(st)));
    if (b.exit.kind === "branch") b.exit = { ...b.exit, cond: swap(b.exit.cond) };
    if (b.exit.kind === "switch") b.exit = { ...b.exit, index: swap(b.exit.index) };
  }
}

/** For each block, the blocks that dominate it (itself included). */
function dominators(cfg: ForwardCfg): Map<number, Set<number>> {
  const all = new Set(cfg.blocks.keys());
  const dom = new Map<number, Set<number>>([...cfg.blocks.keys()].map((id) => [id, id === cfg.entry ? new Set([id]) : new Set(all)]));
  for (let changed = true; changed;) {
    changed = false;
    for (const id of cfg.order) {
      if (id === cfg.entry) continue;
      const preds = cfg.blocks.get(id)!.preds;
      let next: number[] | null = null;
      for (const p of preds) { const dp = dom.get(p)!; next = next ? next.filter((x) => dp.has(x)) : [...dp]; }
      const d = new Set<number>([...(next ?? []), id]);
      if (d.size !== dom.get(id)!.size) { dom.set(id, d); changed = true; }
    }
  }
  return dom;
}

