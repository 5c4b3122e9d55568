// Where the augmented forward sweep checks tape capacity: once per basic block for what
// the block pushes, on each edge for what the edge pushes, and for innermost counted loops
// without calls either once before the loop, when its iterations are bounded in advance
// (trip-count.ts), or once per iteration at the header, for the most any path round the
// loop pushes.
import type { Expr } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";
import { type buildCfg, type CountedLoop, type countedLoops, successors } from "./cfg.js";

export const callsModule = (st: Expr, isImport: (f: string) => boolean) => {
  let found = false;
  forEachNode(st, (n) => { if (n.kind === "call_indirect" || (n.kind === "call" && !isImport(n.func))) found = true; });
  return found;
};

/**
 * For innermost counted loops without calls: the most bytes one iteration can push (longest
 * path from the header back to it), checked once before the loop for all the header's runs
 * (`beforeLoop`, when `runsBound` knows them) or once at the header (`perIteration`); the
 * loop's blocks and internal edges then need no checks of their own.
 */
export function hoistLoopChecks(cfg: ReturnType<typeof buildCfg>, loops: ReturnType<typeof countedLoops>, blockBytes: (id: number) => number,
  edgeBytes: (from: number, to: number) => number, hasCall: (id: number) => boolean, runsBound: (loop: CountedLoop) => Expr | null):
  { perIteration: Map<number, number>; beforeLoop: Map<number, { runs: Expr; perRun: number }>; covered: Set<number> } {
  const perIteration = new Map<number, number>(), covered = new Set<number>();
  const beforeLoop = new Map<number, { runs: Expr; perRun: number }>();
  for (const loop of loops.values()) {
    const inner = [...loop.blocks].every((b) => b === loop.header || !loops.has(b));
    if (!inner || [...loop.blocks].some(hasCall)) continue;
    const memo = new Map<number, number>();
    const onPath = new Set<number>();
    let cyclic = false;
    const longest = (id: number): number => {
      const known = memo.get(id);
      if (known !== undefined) return known;
      if (onPath.has(id)) { cyclic = true; return 0; }
      onPath.add(id);
      let best = 0;
      for (const t of successors(cfg.blocks.get(id)!.exit))
        if (loop.blocks.has(t) && t !== loop.header) best = Math.max(best, edgeBytes(id, t) + longest(t));
      onPath.delete(id);
      const r = blockBytes(id) + best;
      memo.set(id, r);
      return r;
    };
    const most = longest(loop.header);
    if (cyclic) continue;
    const runs = runsBound(loop);
    if (runs) beforeLoop.set(loop.header, { runs, perRun: most });
    else perIteration.set(loop.header, most);
    for (const b of loop.blocks) covered.add(b);
  }
  return { perIteration, beforeLoop, covered };
}
