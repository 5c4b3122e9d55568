// The augmented sweep of a kernel called for its gradient alone (`Reverse`, no primal asked
// for): its result is read by nobody, so the computations only the result needed are dead,
// and a loop left with nothing but its counter (a reduction over read-only data, as the
// Rosenbrock sum) need not run at all: the reverse sweep gets the loop's trip count and its
// counter's final value from closed forms (trip-count.ts). This is what Enzyme gets from
// LLVM's dead-code elimination when the primal return is unused.
//
// Liveness is over the sweep's CFG, edge code included. A statement is dropped only when it
// is `local.set` of a local nobody reads later and its value has no effect but a possible
// trap: no store, global write, nested assignment or call but to a math function (a load is dropped like any pure
// value: a kernel whose primal reads out of bounds is wrong already). A loop is dropped only
// when its trip count is exact, nothing inside pushes to the tape or writes memory, it has no
// exit but its header's test, and every local it assigns is dead after it but the counter.
import { binary, get, set } from "../ir/builder.js";
import type { CfgBlock, Edge, Expr, IRFunction } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";

/** A loop of the augmented sweep (block ids as in the sweep) whose trip count the sweep sets on entry. */
export interface DroppableLoop {
  header: number; pre: number; blocks: Set<number>;
  /** The local holding the trip count (set by the edge from pre). */
  count: number;
  /** The counter the header's test reads, and every local holding the counter (all i0 + count when the loop is left after running). */
  i: number; counters: number[];
}

const edgesOf = (b: CfgBlock): Edge[] =>
  b.exit.kind === "goto" ? [b.exit.edge] : b.exit.kind === "branch" ? [b.exit.then, b.exit.else] : b.exit.kind === "switch" ? [...b.exit.targets, b.exit.default] : [];

/** Calls that only compute a value: the math functions the rules know (JS Math, libm, AssemblyScript's NativeMath). */
let pureCall: (func: string) => boolean = () => false;

/** Whether evaluating e does nothing but compute a value (or trap). */
function isPure(e: Expr): boolean {
  let pure = true;
  forEachNode(e, (n) => {
    switch (n.kind) {
      case "call": if (!pureCall(n.func)) pure = false; break;
      case "call_indirect": case "store": case "global.set": case "local.set": case "tuple.set":
      case "memory.grow": case "memory.copy": case "memory.fill": case "unreachable": case "return": case "br": case "br_table": case "block": case "loop": case "if":
        pure = false;
    }
  });
  return pure;
}
const isDroppable = (s: Expr): s is Expr & { kind: "local.set" } => s.kind === "local.set" && !s.tee && isPure(s.value);

function uses(e: Expr, into: Set<number>): void {
  forEachNode(e, (n) => { if (n.kind === "local.get") into.add(n.local); });
}

/** Live locals before a statement list, given those live after it; drops dead droppable statements when `prune`. */
function through(stmts: Expr[], liveAfter: Set<number>, prune: boolean): { live: Set<number>; kept: Expr[] } {
  const live = new Set(liveAfter);
  const kept: Expr[] = [];
  for (let k = stmts.length - 1; k >= 0; k--) {
    const s = stmts[k];
    if (isDroppable(s)) {
      if (!live.has(s.local)) continue;
      live.delete(s.local);
      uses(s.value, live);
    } else uses(s, live);
    kept.push(s);
  }
  return { live, kept: prune ? kept.reverse() : stmts };
}

interface Liveness { blockIn: Map<number, Set<number>>; edgeIn: Map<Edge, Set<number>> }

function liveness(blocks: CfgBlock[]): Liveness {
  const blockIn = new Map<number, Set<number>>(blocks.map((b) => [b.id, new Set()]));
  const edgeIn = new Map<Edge, Set<number>>();
  for (let changed = true; changed;) {
    changed = false;
    for (let k = blocks.length - 1; k >= 0; k--) {
      const b = blocks[k];
      const out = new Set<number>();
      for (const e of edgesOf(b)) {
        const inE = through(e.code, blockIn.get(e.target) ?? new Set(), false).live;
        edgeIn.set(e, inE);
        for (const l of inE) out.add(l);
      }
      if (b.exit.kind === "branch") uses(b.exit.cond, out);
      if (b.exit.kind === "switch") uses(b.exit.index, out);
      if (b.exit.kind === "return" && b.exit.value) uses(b.exit.value, out);
      const inB = through(b.body, out, false).live;
      const old = blockIn.get(b.id)!;
      if (inB.size !== old.size || [...inB].some((l) => !old.has(l))) { blockIn.set(b.id, inB); changed = true; }
    }
  }
  return { blockIn, edgeIn };
}

/** Drops dead assignments from every block and edge of a CFG body, in place. */
function pruneDead(blocks: CfgBlock[]): Liveness {
  const live = liveness(blocks);
  for (const b of blocks) {
    const out = new Set<number>();
    for (const e of edgesOf(b)) {
      e.code = through(e.code, live.blockIn.get(e.target) ?? new Set(), true).kept;
      for (const l of live.edgeIn.get(e) ?? []) out.add(l);
    }
    if (b.exit.kind === "branch") uses(b.exit.cond, out);
    if (b.exit.kind === "switch") uses(b.exit.index, out);
    if (b.exit.kind === "return" && b.exit.value) uses(b.exit.value, out);
    b.body = through(b.body, out, true).kept;
  }
  return liveness(blocks);
}

/**
 * Prunes the augmented sweep `fn` (a CFG body) of what only its result needed, which the
 * caller has replaced by a constant, and drops the loops of `loops` left with nothing to do.
 * `temp()` makes a fresh i32 local; `isPureCall(f)`: whether a call of f only computes a value.
 */
export function pruneUnusedResult(fn: IRFunction, loops: DroppableLoop[], temp: () => number, isPureCall: (func: string) => boolean): void {
  if (!fn.body || (fn.body as { kind: string }).kind !== "cfg") return;
  pureCall = isPureCall;
  const body = fn.body as { blocks: CfgBlock[] };
  // inner loops first: an outer loop is empty only once its inner ones are gone
  const pending = [...loops].sort((x, y) => x.blocks.size - y.blocks.size);
  for (let dropped = true; dropped;) {
    dropped = false;
    const live = pruneDead(body.blocks);
    for (const loop of pending) {
      if (dropLoop(body, loop, live, temp)) { pending.splice(pending.indexOf(loop), 1); dropped = true; break; }
    }
  }
}

function dropLoop(body: { blocks: CfgBlock[] }, loop: DroppableLoop, live: Liveness, temp: () => number): boolean {
  const byId = new Map(body.blocks.map((b) => [b.id, b]));
  const header = byId.get(loop.header);
  const pre = byId.get(loop.pre);
  if (!header || !pre || header.exit.kind !== "branch" || !isPure(header.exit.cond)) return false;
  const inside = [...loop.blocks].filter((id) => byId.has(id));
  // one way out: the header's test
  const exitEdge = [header.exit.then, header.exit.else].filter((e) => !loop.blocks.has(e.target));
  if (exitEdge.length !== 1) return false;
  const out = exitEdge[0];
  const counters = new Set(loop.counters);
  const liveAfter = live.edgeIn.get(out) ?? new Set<number>();
  for (const id of inside) {
    const b = byId.get(id)!;
    for (const e of edgesOf(b)) {
      if (e === out) continue;
      if (!loop.blocks.has(e.target) || e.code.length) return false;
    }
    if (b.exit.kind === "switch" && !isPure(b.exit.index)) return false;
    if (b.exit.kind === "branch" && !isPure(b.exit.cond)) return false;
    if (b.exit.kind !== "goto" && b.exit.kind !== "branch" && b.exit.kind !== "switch") return false;
    // only assignments, whose locals nobody reads after the loop (the counter's we set below)
    for (const s of b.body) if (!isDroppable(s) || (liveAfter.has(s.local) && !counters.has(s.local))) return false;
  }
  const entry = edgesOf(pre).filter((e) => e.target === loop.header);
  // (the count is set on the way in: the closed form, not a counter stepped in the loop)
  if (entry.length !== 1 || !entry[0].code.some((s) => s.kind === "local.set" && s.local === loop.count)) return false;
  // straight from pre to the loop's exit: the counters as the loop leaves them (unchanged if it
  // does not run: a copy nobody reads may hold anything before), then the exit edge's code
  const t = temp();
  const finals: Expr[] = [set(t, binary("i32.add", get(loop.i, "i32"), get(loop.count, "i32")))];
  for (const m of counters) if (liveAfter.has(m)) finals.push(set(m, { kind: "select", type: "i32", ifTrue: get(t, "i32"), ifFalse: get(m, "i32"), cond: get(loop.count, "i32") }));
  entry[0].code = [...entry[0].code, ...finals, ...out.code];
  entry[0].target = out.target;
  body.blocks = body.blocks.filter((b) => !loop.blocks.has(b.id));
  return true;
}
