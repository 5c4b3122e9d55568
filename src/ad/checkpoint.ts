// Checkpointed loops (program.checkpoint): bounded tape memory for long loops of a kernel.
// The forward sweep runs such a loop as the primal, pushing a snapshot (every local, and
// every argument buffer the kernel writes) when the iteration count is a multiple of k.
// The reverse sweep takes the segments last to first: it pops a snapshot, replays the
// segment's k iterations augmented (recording their tape), and reverses them, so the tape
// holds N/k snapshots plus one segment's records instead of all N iterations'. k is the
// user's, or ⌈√(trip bound)⌉ when trip-count.ts bounds the loop (1024 otherwise).
// The driver blocks that do this in the reverse sweep are built in reverse.ts.
import { POINTER_DELTA } from "../analysis/allocators.js";
import { hasShadow } from "../analysis/pointers.js";
import { binary, get, i32, load, set, unary } from "../ir/builder.js";
import type { CfgBlock, Expr, IRFunction, ValType } from "../ir/types.js";
import { UnsupportedError } from "../errors.js";
import { type CountedLoop, type ForwardCfg, successors } from "./cfg.js";
import { forEachNode } from "../ir/walk.js";
import type { DiffContext } from "./context.js";
import type { Analyzed, Differentiator } from "./differentiator.js";
import { sizeOf, TAPE } from "./tape.js";
import { headerRunsBound } from "./trip-count.js";
import { PointerAnalysis } from "../analysis/pointers.js";
import { KERNEL_GROW } from "./tape.js";

export const DEFAULT_SEGMENT = 1024;

export interface CheckpointedLoop {
  loop: CountedLoop;
  /** Aug local holding k for this execution of the loop (pushed at the exit with the count). */
  augEvery: number;
  /** Argument buffers the kernel writes: their contents are part of each snapshot. */
  buffers: number[];
  /** Statements on the edge into the loop (forward sweep): k for this execution. */
  enter(cx: DiffContext): Expr[];
  /** The forward sweep's version of a block of the loop: the primal, with the snapshot at the header. */
  primalBlock(id: number, stmts: Expr[], exit: CfgBlock["exit"], counter: number, cx: DiffContext, bases: Map<number, number>): CfgBlock;
  /** Pushes a snapshot (locals in cx, buffers from their base addresses). */
  push(cx: DiffContext, bases: Map<number, number>): Expr[];
  /**
   * Reads back the snapshot below address local `sp` (moving sp down) into locals and buffers.
   * The reverse sweep reads snapshots through its own pointer: the tape's top holds the
   * buffers' final contents and the replayed segment's records meanwhile.
   */
  pop(cx: DiffContext, bases: Map<number, number>, sp: number): Expr[];
  /** Keeps the buffers' final contents while segments are replayed (the primal result stays in them after the call). */
  keepBuffers(cx: DiffContext, bases: Map<number, number>): Expr[];
  restoreBuffers(cx: DiffContext, bases: Map<number, number>): Expr[];
}

/** The global holding the byte length of argument p's buffer, set by the reverse entry. */
export const bufferLengthGlobal = (p: number) => `__ad_blen${p}`;

export function planCheckpoints(d: Differentiator, fn: IRFunction, a: Analyzed, cfg: ForwardCfg, loops: Map<number, CountedLoop>,
  exitedLoops: (from: number, to: number) => CountedLoop[], ax: DiffContext, recordedIn: (block: number) => number[]): Map<number, CheckpointedLoop> {
  const out = new Map<number, CheckpointedLoop>();
  const mark = d.checkpointOf(fn.name);
  if (!mark) return out;
  const refuse = (why: string) => { throw new UnsupportedError(fn.name, "checkpointed loop", why); };
  if (!d.isEntryKernel(fn.name)) refuse("checkpointing applies to loops of the kernel itself (the function autodiff is called on), not to functions it calls");
  const outermost = [...loops.values()].filter((l) => ![...loops.values()].some((o) => o !== l && o.blocks.has(l.header)));
  if (outermost.length === 0) refuse("the function has no loop to checkpoint");
  const written = writtenMemory(d, fn, a, refuse);
  const buffers = [...written.params].filter((p) => fn.params[p] === "i32").sort((x, y) => x - y);
  const mutable = new Map(d.module.globals.filter((g) => g.mutable).map((g) => [g.name, g.type]));
  const liveIn = liveAtHeaders(cfg);
  const lengthOf = (p: number): Expr => ({ kind: "global.get", type: "i32", global: bufferLengthGlobal(p) });
  for (const loop of outermost) {
    forEachInLoop(cfg, loop, (n) => {
      if (n.kind === "call" && n.func === KERNEL_GROW) refuse("the loop grows memory, which a replay would repeat");
      if ((n.kind === "call" && n.func === POINTER_DELTA) || (n.kind === "store" && n.op === "i32.store" && hasShadow(a.ptr.of(n.addr))))
        refuse("the loop keeps pointers in memory that has a shadow (their shadow words are written by the recording sweep only); keep them in locals");
      if (n.kind === "call" && d.mayStore(n.func) && calleeWrites(d, n.func).other) refuse(`the loop calls ${n.func}, which may write module memory that a snapshot cannot restore`);
      if (n.kind === "call_indirect" && d.module.tables.some((t) => t.segments.some((sg) => sg.funcs.some((f) => d.mayStore(f)))))
        refuse("the loop makes an indirect call that may write memory a snapshot cannot restore");
    });
    for (const b of loop.blocks)
      for (const t of successors(cfg.blocks.get(b)!.exit)) if (!loop.blocks.has(t) && exitedLoops(b, t).length !== 1) refuse("an exit leaves several nested loops at once");
    // the loop must leave module memory alone, and read it only if nothing writes it
    forEachInLoop(cfg, loop, (n) => {
      if ((n.kind === "store" || n.kind === "memory.fill" || n.kind === "memory.copy") && a.ptr.of(n.kind === "store" ? n.addr : n.dest).kind !== "arg")
        refuse("the loop writes memory outside the argument buffers, which a snapshot cannot restore");
      if (n.kind === "load" && a.ptr.of(n.addr).kind !== "arg" && written.other)
        refuse("the loop reads module memory that the kernel also writes, which a replay could not see as it was");
    });
    // mutable globals the loop reads or writes are part of the snapshot, and of the kept final state
    const globals = new Set<string>();
    forEachInLoop(cfg, loop, (n) => { if ((n.kind === "global.get" || n.kind === "global.set") && mutable.has(n.global)) globals.add(n.global); });
    const savedGlobals = [...globals].sort().map((g) => ({ name: g, type: mutable.get(g)! }));
    const globalBytes = savedGlobals.reduce((acc, g) => acc + sizeOf(g.type), 0);
    const bound = headerRunsBound(cfg, loop, fn.params.length);
    // a snapshot holds what the loop reads before writing (live at the header), the locals whose
    // old values a replayed iteration records (they must be the values of that iteration), and the buffers
    const saved = [...new Set([...liveIn(loop.header), ...[...loop.blocks].flatMap(recordedIn)])].sort((x, y) => x - y);
    const localBytes = saved.reduce((acc, l) => acc + sizeOf(fn.locals[l]), 0);
    const augEvery = ax.add("i32", `every_b${loop.header}_`);
    // bytes of the buffers plus `fixed`: their lengths are known only at run time
    const withBuffers = (fixed: number): Expr => buffers.reduce<Expr>((acc, p) => binary("i32.add", acc, lengthOf(p)), i32(fixed));
    const gget = (g: { name: string; type: ValType }): Expr => ({ kind: "global.get", type: g.type, global: g.name });
    const gset = (g: { name: string }, value: Expr): Expr => ({ kind: "global.set", type: "none", global: g.name, value });
    const c: CheckpointedLoop = {
      loop, augEvery, buffers,
      enter(cx) {
        if (mark.every) return [set(augEvery, i32(mark.every))];
        if (!bound) return [set(augEvery, i32(DEFAULT_SEGMENT))];
        // ⌈√runs⌉, at least 1
        const k: Expr = unary("i32.trunc_sat_f64_u", unary("f64.ceil", unary("f64.sqrt", unary("f64.convert_i64_u", cx.remap(bound)))));
        return [set(augEvery, k), { kind: "if", type: "none", cond: unary("i32.eqz", get(augEvery, "i32")), then: set(augEvery, i32(1)), else: null }];
      },
      primalBlock(id, stmts, exit, counter, cx, bases) {
        // edges inside the loop carry only the loop's own iteration count
        const strip = (e: { target: number; code: Expr[] }) => (loop.blocks.has(e.target)
          ? { target: e.target, code: e.target === loop.header && id === loop.latch ? [set(counter, binary("i32.add", get(counter, "i32"), i32(1)))] : [] } : e);
        const x = exit;
        const newExit: CfgBlock["exit"] = x.kind === "goto" ? { ...x, edge: strip(x.edge) } : x.kind === "branch" ? { ...x, then: strip(x.then), else: strip(x.else) }
          : x.kind === "switch" ? { ...x, targets: x.targets.map(strip), default: strip(x.default) } : x;
        const body = stmts.map((s) => cx.remap(s));
        if (id !== loop.header) return { id, body, exit: newExit };
        const due = unary("i32.eqz", binary("i32.rem_u", get(counter, "i32"), get(augEvery, "i32")));
        return { id, body: [{ kind: "if", type: "none", cond: due, then: { kind: "block", type: "none", label: null, body: this.push(cx, bases) }, else: null }, ...body], exit: newExit };
      },
      push(cx, bases) {
        const out: Expr[] = [...TAPE.checkRuns(unary("i64.extend_i32_u", withBuffers(localBytes + globalBytes)), 1)];
        for (const l of saved) out.push(...TAPE.push(get(cx.map(l), fn.locals[l] as ValType)));
        for (const g of savedGlobals) out.push(...TAPE.push(gget(g)));
        for (const p of buffers) out.push(...TAPE.pushBytes(get(bases.get(p)!, "i32"), lengthOf(p)));
        return out;
      },
      keepBuffers(cx, bases) {
        return [...TAPE.checkRuns(unary("i64.extend_i32_u", withBuffers(globalBytes)), 1), ...buffers.flatMap((p) => TAPE.pushBytes(get(bases.get(p)!, "i32"), lengthOf(p))),
          ...savedGlobals.flatMap((g) => TAPE.push(gget(g)))];
      },
      restoreBuffers(cx, bases) {
        const out: Expr[] = [];
        for (const g of [...savedGlobals].reverse()) { const t = cx.add(g.type, "kept"); out.push(...TAPE.pop(g.type, t), gset(g, get(t, g.type))); }
        return [...out, ...[...buffers].reverse().flatMap((p) => TAPE.popBytes(get(bases.get(p)!, "i32"), lengthOf(p)))];
      },
      pop(cx, bases, sp) {
        const down = (n: Expr) => set(sp, binary("i32.sub", get(sp, "i32"), n));
        const out: Expr[] = [];
        for (const p of [...buffers].reverse())
          out.push(down(lengthOf(p)), { kind: "memory.copy", type: "none", dest: get(bases.get(p)!, "i32"), src: get(sp, "i32"), size: lengthOf(p) });
        for (const g of [...savedGlobals].reverse()) out.push(down(i32(sizeOf(g.type))), gset(g, load(`${g.type}.load`, get(sp, "i32"), 0, 1)));
        for (const l of [...saved].reverse()) {
          const t = fn.locals[l] as ValType;
          out.push(down(i32(sizeOf(t))), set(cx.map(l), load(`${t}.load`, get(sp, "i32"), 0, 1)));
        }
        return out;
      },
    };
    out.set(loop.header, c);
  }
  return out;
}

/** The argument buffers the kernel may write (directly or through callees); refuses untraced writes. */
function writtenMemory(d: Differentiator, fn: IRFunction, a: Analyzed, refuse: (why: string) => never): { params: Set<number>; other: boolean } {
  const params = new Set<number>();
  let other = false;
  const mark = (addr: Expr) => {
    const p = a.ptr.of(addr);
    if (p.kind === "arg" && p.view !== undefined) refuse(`the kernel writes the data of object parameter ${p.param} (an AssemblyScript Float64Array or Array), which snapshots do not cover; take the data as StaticArray<f64>`);
    if (p.kind === "arg") params.add(p.param);
    else if (p.kind === "int") other = true;
    else refuse("the kernel writes through an address that cannot be traced to an argument buffer, which a snapshot cannot restore");
  };
  forEachNode(fn.body as Expr, (n) => {
    if (n.kind === "store") mark(n.addr);
    else if (n.kind === "memory.fill" || n.kind === "memory.copy") mark(n.dest);
    else if (n.kind === "call" && d.mayStore(n.func)) {
      const w = calleeWrites(d, n.func);
      if (w.other) other = true;
      n.args.forEach((x, i) => { if (w.params.has(i)) mark(x); });
    } else if (n.kind === "call_indirect") {
      // any function of the table may run: assume each writes through every pointer it gets, and module memory
      other = true;
      for (const x of n.args) if (x.type === "i32" && a.ptr.of(x).kind !== "int") mark(x);
    }
  });
  return { params, other };
}

const calleeMemo = new WeakMap<Differentiator, Map<string, { params: Set<number>; other: boolean }>>();
/** Which of a module function's parameters it may write through (itself or through its callees), and whether it may write module memory. */
function calleeWrites(d: Differentiator, name: string, visiting = new Set<string>()): { params: Set<number>; other: boolean } {
  let memo = calleeMemo.get(d);
  if (!memo) { memo = new Map(); calleeMemo.set(d, memo); }
  const known = memo.get(name);
  if (known) return known;
  const fn = d.module.functions.find((f) => f.name === name);
  const all = { params: new Set(fn?.params.flatMap((t, i) => (t === "i32" ? [i] : [])) ?? []), other: true };
  if (!fn || !fn.body || visiting.has(name)) return fn?.import ? { params: new Set(), other: d.mayStore(name) } : all;
  visiting.add(name);
  const norm = d.normalizedFn(name);
  const ptr = new PointerAnalysis(norm, { params: norm.params.map((t) => (t === "i32" ? "const-ptr" : "const")), resultActive: false });
  const out = { params: new Set<number>(), other: false };
  const mark = (addr: Expr) => { const p = ptr.of(addr); if (p.kind === "arg") out.params.add(p.param); else out.other = true; };
  forEachNode(norm.body as Expr, (n) => {
    if (n.kind === "store") mark(n.addr);
    else if (n.kind === "memory.fill" || n.kind === "memory.copy") mark(n.dest);
    else if (n.kind === "call" && d.mayStore(n.func)) {
      const w = calleeWrites(d, n.func, visiting);
      if (w.other) out.other = true;
      n.args.forEach((x, i) => { if (w.params.has(i)) mark(x); });
    } else if (n.kind === "call_indirect") { out.other = true; n.args.forEach((x) => { if (x.type === "i32") mark(x); }); }
  });
  visiting.delete(name);
  memo.set(name, out);
  return out;
}

function forEachInLoop(cfg: ForwardCfg, loop: CountedLoop, f: (n: Expr) => void): void {
  for (const b of loop.blocks) {
    const bl = cfg.blocks.get(b)!;
    for (const st of bl.stmts) forEachNode(st, f);
    if (bl.exit.kind === "branch") forEachNode(bl.exit.cond, f);
    if (bl.exit.kind === "switch") forEachNode(bl.exit.index, f);
  }
}

/**
 * Locals that may be read before being written on some path from a block (backward liveness).
 * What the reverse sweep reads needs no snapshot: replaying a segment recomputes, and records,
 * what the loop defines, and what it does not define holds its value across the loop.
 */
function liveAtHeaders(cfg: ForwardCfg): (block: number) => Set<number> {
  const use = new Map<number, Set<number>>(), def = new Map<number, Set<number>>();
  for (const [id, b] of cfg.blocks) {
    const u = new Set<number>(), d = new Set<number>();
    const read = (e: Expr) => forEachNode(e, (n) => { if (n.kind === "local.get" && !d.has(n.local)) u.add(n.local); });
    for (const st of b.stmts) {
      if (st.kind === "local.set") { read(st.value); d.add(st.local); }
      else if (st.kind === "tuple.set") { read(st.value); st.locals.forEach((l) => d.add(l)); }
      else read(st);
    }
    const x = b.exit;
    if (x.kind === "branch") read(x.cond);
    if (x.kind === "switch") read(x.index);
    use.set(id, u); def.set(id, d);
  }
  const live = new Map([...cfg.blocks.keys()].map((id) => [id, new Set(use.get(id))]));
  for (let changed = true; changed;) {
    changed = false;
    for (const id of [...cfg.order].reverse()) {
      const inSet = live.get(id)!;
      for (const t of successors(cfg.blocks.get(id)!.exit)) for (const l of live.get(t)!) if (!def.get(id)!.has(l) && !inSet.has(l)) { inSet.add(l); changed = true; }
    }
  }
  return (block) => live.get(block)!;
}

