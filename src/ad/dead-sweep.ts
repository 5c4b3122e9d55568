// The augmented sweep of a kernel called for its gradient alone (`Reverse`, no primal asked
// for): its result is read by nobody, so the computations only the result needed are dead,
// and a loop left with nothing but its counter (a reduction over read-only data, as the
// Rosenbrock sum) need not run at all: the reverse sweep gets the loop's trip count and its
// counter's final value from closed forms (trip-count.ts). This is what Enzyme gets from
// LLVM's dead-code elimination when the primal return is unused.
//
// Liveness is over the sweep's CFG, edge code included. A statement is dropped only when it
// is `local.set` of a local nobody reads later and its value has no effect: no store, global
// write, nested assignment, call but to a math function, or operation that traps on some
// operands (integer division and remainder, float-to-integer truncation), so `Reverse` traps
// where the primal does. A load is dropped like a pure value: it traps only out of the
// memory's bounds, where the kernel is wrong already (as LLVM, which treats such a load as
// undefined behaviour and deletes it when unused). A loop is dropped only
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

const TRAPPING_BINARY = /^i(32|64)\.(div|rem)_[su]$/;
const TRAPPING_UNARY = /^i(32|64)\.trunc_f(32|64)_[su]$/;

/** Whether evaluating e does nothing but compute a value (or trap out of bounds: see the header). */
function isPure(e: Expr): boolean {
  let pure = true;
  forEachNode(e, (n) => {
    switch (n.kind) {
      case "call": if (!pureCall(n.func)) pure = false; break;
      // a trap the primal would raise (division by zero, a float out of an integer's range) is kept
      case "binary": if (TRAPPING_BINARY.test(n.op)) pure = false; break;
      case "unary": if (TRAPPING_UNARY.test(n.op)) pure = false; break;
      case "call_indirect": case "store": case "global.set": case "local.set": case "tuple.set":
      case "memory.grow": case "memory.copy": case "memory.fill": case "unreachable": case "return": case "br": case "br_table": case "block": case "loop": case "if":
        pure = false;
    }
  });
  return pure;
}
const isDroppable = (s: Expr): s is Expr & { kind: "local.set" } => s.kind === "local.set" && !s.tee && isPure(s.value);

/** The loops' count locals: kept, as dropLoop reads the count set on the way in (binaryen drops it later if unread). */
let pinned = new Set<number>();

/** Per statement, once: the local a droppable assignment defines (-1 for any other statement) and the locals it reads. */
interface StmtInfo { def: number; uses: number[] }
let infos = new WeakMap<Expr, StmtInfo>();
function infoOf(s: Expr): StmtInfo {
  let got = infos.get(s);
  if (!got) {
    const used = new Set<number>();
    forEachNode(isDroppable(s) ? s.value : s, (n) => { if (n.kind === "local.get") used.add(n.local); });
    got = { def: isDroppable(s) && !pinned.has(s.local) ? s.local : -1, uses: [...used] };
    infos.set(s, got);
  }
  return got;
}

/** Sets of locals as bit sets over the function's locals. */
type Bits = Uint32Array;
const has = (b: Bits, l: number) => (b[l >>> 5] & (1 << (l & 31))) !== 0;
const add = (b: Bits, l: number) => { b[l >>> 5] |= 1 << (l & 31); };
const del = (b: Bits, l: number) => { b[l >>> 5] &= ~(1 << (l & 31)); };
let width = 0;
const empty = (): Bits => new Uint32Array(width);

/** Live locals before a statement list, given those live after it; with `kept`, the statements that stay (dead droppable ones do not). */
function through(stmts: Expr[], liveAfter: Bits, kept?: Expr[]): Bits {
  const live = liveAfter.slice();
  for (let k = stmts.length - 1; k >= 0; k--) {
    const { def, uses } = infoOf(stmts[k]);
    if (def >= 0) {
      if (!has(live, def)) continue;
      del(live, def);
    }
    for (const l of uses) add(live, l);
    kept?.push(stmts[k]);
  }
  kept?.reverse();
  return live;
}

function exitUses(b: CfgBlock, into: Bits): void {
  const e = b.exit.kind === "branch" ? b.exit.cond : b.exit.kind === "switch" ? b.exit.index : b.exit.kind === "return" ? b.exit.value : null;
  if (e) for (const l of infoOf(e).uses) add(into, l);
}

interface Liveness { blockIn: Map<number, Bits>; edgeIn: Map<Edge, Bits> }

function liveness(blocks: CfgBlock[]): Liveness {
  const blockIn = new Map<number, Bits>(blocks.map((b) => [b.id, empty()]));
  const edgeIn = new Map<Edge, Bits>();
  const none = empty();
  for (let changed = true; changed;) {
    changed = false;
    for (let k = blocks.length - 1; k >= 0; k--) {
      const b = blocks[k];
      const out = empty();
      for (const e of edgesOf(b)) {
        const inE = e.code.length ? through(e.code, blockIn.get(e.target) ?? none) : blockIn.get(e.target) ?? none;
        edgeIn.set(e, inE);
        for (let w = 0; w < width; w++) out[w] |= inE[w];
      }
      exitUses(b, out);
      const inB = through(b.body, out);
      const old = blockIn.get(b.id)!;
      for (let w = 0; w < width; w++) if (inB[w] !== old[w]) { blockIn.set(b.id, inB); changed = true; break; }
    }
  }
  return { blockIn, edgeIn };
}

/** Drops dead assignments from every block and edge of a CFG body, in place; whether any went. */
function pruneDead(blocks: CfgBlock[]): { live: Liveness; dropped: boolean } {
  const live = liveness(blocks);
  let dropped = false;
  const none = empty();
  for (const b of blocks) {
    const out = empty();
    for (const e of edgesOf(b)) {
      const kept: Expr[] = [];
      through(e.code, live.blockIn.get(e.target) ?? none, kept);
      if (kept.length !== e.code.length) { e.code = kept; dropped = true; }
      const inE = live.edgeIn.get(e) ?? none;
      for (let w = 0; w < width; w++) out[w] |= inE[w];
    }
    exitUses(b, out);
    const kept: Expr[] = [];
    through(b.body, out, kept);
    if (kept.length !== b.body.length) { b.body = kept; dropped = true; }
  }
  // (liveness is unchanged by dropping dead assignments)
  return { live, dropped };
}

/**
 * Prunes the augmented sweep `fn` (a CFG body) of what only its result needed, which the
 * caller has replaced by a constant, and drops the loops of `loops` left with nothing to do.
 * `temp()` makes a fresh i32 local; `isPureCall(f)`: whether a call of f only computes a value.
 */
export function pruneUnusedResult(fn: IRFunction, loops: DroppableLoop[], temp: () => number, isPureCall: (func: string) => boolean): void {
  if (!fn.body || (fn.body as { kind: string }).kind !== "cfg") return;
  pureCall = isPureCall;
  infos = new WeakMap();
  pinned = new Set(loops.map((l) => l.count));
  const body = fn.body as { blocks: CfgBlock[] };
  // inner loops first: an outer loop is empty only once its inner ones are gone
  const pending = [...loops].sort((x, y) => x.blocks.size - y.blocks.size);
  for (let dropped = true; dropped;) {
    dropped = false;
    width = (fn.locals.length + 31) >>> 5;
    const { live } = pruneDead(body.blocks);
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
  const liveAfter = live.edgeIn.get(out) ?? empty();
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
    for (const s of b.body) if (!isDroppable(s) || (has(liveAfter, s.local) && !counters.has(s.local))) return false;
  }
  const entry = edgesOf(pre).filter((e) => e.target === loop.header);
  // (the count is set on the way in: the closed form, not a counter stepped in the loop)
  if (entry.length !== 1 || !entry[0].code.some((s) => s.kind === "local.set" && s.local === loop.count)) return false;
  // straight from pre to the loop's exit: the counters as the loop leaves them (unchanged if it
  // does not run: a copy nobody reads may hold anything before), then the exit edge's code
  const t = temp();
  const finals: Expr[] = [set(t, binary("i32.add", get(loop.i, "i32"), get(loop.count, "i32")))];
  for (const m of counters) if (has(liveAfter, m)) finals.push(set(m, { kind: "select", type: "i32", ifTrue: get(t, "i32"), ifFalse: get(m, "i32"), cond: get(loop.count, "i32") }));
  entry[0].code = [...entry[0].code, ...finals, ...out.code];
  entry[0].target = out.target;
  body.blocks = body.blocks.filter((b) => !loop.blocks.has(b.id));
  return true;
}
