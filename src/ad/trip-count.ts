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
import { forEachNode, mapTree } from "../ir/walk.js";
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
 * Branches to blocks that only trap do not count as exits. `paramCount`: the function's
 * parameters, to know which locals start at zero.
 */
export function headerRunsBound(cfg: ForwardCfg, loop: CountedLoop, paramCount = Infinity): Expr | null {
  const f = countedForm(cfg, loop, paramCount);
  if (!f) return null;
  const { i, x, op } = f;
  const ext = op === "i32.lt_s" ? "i64.extend_i32_s" : "i64.extend_i32_u";
  const iGet: Expr = { kind: "local.get", type: "i32", local: i };
  // lt: back edges ≤ max(0, X − i0); ne: back edges ≤ (X − i0) mod 2^32; header runs one more
  const span = op === "i32.ne"
    ? unary("i64.extend_i32_u", binary("i32.sub", x, iGet))
    : binary("i64.sub", unary(ext, x), unary(ext, iGet));
  const nonNegative: Expr = op === "i32.ne" ? span
    : { kind: "select", type: "i64", ifTrue: span, ifFalse: { kind: "const", type: "i64", value: 0n }, cond: binary("i64.gt_s", span, { kind: "const", type: "i64", value: 0n }) };
  return binary("i64.add", nonNegative, { kind: "const", type: "i64", value: 1n });
}

/**
 * The exact number of back edges a loop takes, as an i32 expression over the primal's locals
 * valid on the edge into the loop (mod 2^32, as a counter stepped per back edge would hold), or
 * null. On top of headerRunsBound's shape: the exit is tested by the header itself, and the
 * counter's step lies in another block that runs exactly once per iteration (on every path
 * to the latch, in no cycle that avoids the header), so the header's test in run j reads i0 + j
 * and the loop goes round exactly while that passes: max(0, X − i0) times for `<`, X − i0 for `!=`.
 * With it: `i`, the counter the test reads, and `counters`, the locals that hold the counter's
 * value (copies binaryen's ssa pass made), all i0 + count when the loop is left.
 */
export interface ExactCount { count: Expr; i: number; counters: number[] }
export function exactBackEdges(cfg: ForwardCfg, loop: CountedLoop, paramCount: number): ExactCount | null {
  const f = countedForm(cfg, loop, paramCount);
  if (!f || f.exitBlock !== loop.header || f.stepBlock === loop.header || inCycleWithoutHeader(cfg, loop, f.stepBlock)) return null;
  const iGet: Expr = { kind: "local.get", type: "i32", local: f.i };
  const span = binary("i32.sub", f.x, iGet);
  const out = (count: Expr): ExactCount => ({ count, i: f.i, counters: f.counters });
  if (f.op === "i32.ne") return out(span);
  const more = binary(f.op === "i32.lt_s" ? "i32.gt_s" : "i32.gt_u", f.x, iGet);
  return out({ kind: "select", type: "i32", ifTrue: span, ifFalse: { kind: "const", type: "i32", value: 0 }, cond: more });
}

/**
 * A loop's exact count and its counter's final value, as expressions the reverse sweep can
 * evaluate where it goes back into the loop through its exit, so that neither is recorded:
 * the counter's start must be what the preheader's last assignment to it gives, i32 arithmetic
 * over locals the loop does not assign (nor the preheader after it), or zero for
 * a local nothing but the loop assigns, in a loop entered once per call. There the
 * bound and the start read the values they had on entry, so count = the closed form with the
 * start for i, and i = start + count (mod 2^32). `reads`: the locals both read.
 */
export interface Recount { count: Expr; start: Expr; i: number; reads: Set<number> }
export function recountOnExit(cfg: ForwardCfg, loop: CountedLoop, exact: ExactCount, paramCount: number): Recount | null {
  const pre = cfg.blocks.get(loop.pre)!.stmts;
  const inLoop = assignedLocals(cfg, loop);
  let at = -1;
  pre.forEach((st, k) => { if (assignedIn([st]).has(exact.i)) at = k; });
  let start: Expr;
  if (at < 0) {
    // a local only the loop assigns, in a loop entered once per call: its initial zero
    const elsewhere = [...cfg.blocks].some(([id, b]) => !loop.blocks.has(id) && assignedIn(b.stmts).has(exact.i));
    if (exact.i < paramCount || elsewhere || reachesItself(cfg, loop.pre)) return null;
    start = { kind: "const", type: "i32", value: 0 };
  } else {
    const st = pre[at];
    if (st.kind !== "local.set" || st.tee || st.local !== exact.i) return null;
    start = st.value;
  }
  // i32 arithmetic over locals neither the loop nor the rest of the preheader assigns (a row
  // counter starting at col + 1): it has its entry value wherever the loop is left
  if (!isInvariant(start, inLoop)) return null;
  let moved = false;
  forEachNode(start, (n) => { if (n.kind === "local.get" && (n.local === exact.i || pre.slice(at + 1).some((x) => assignedIn([x]).has(n.local)))) moved = true; });
  if (moved) return null;
  const count = mapTree(exact.count, (n) => (n.kind === "local.get" && n.local === exact.i ? start : n));
  const reads = new Set<number>();
  forEachNode(count, (n) => { if (n.kind === "local.get") reads.add(n.local); });
  // (the bound is loop-invariant: exactBackEdges checked it)
  if (reads.has(exact.i) || [...reads].some((l) => inLoop.has(l))) return null;
  return { count, start, i: exact.i, reads };
}

/**
 * The loops whose count and counter the reverse sweep computes on the way back in (none in a
 * function with checkpointed loops, whose replays read the recorded counts). An edge that
 * leaves several such loops at once sets all their counters: none may read another's.
 */
export function recountedLoops(cfg: ForwardCfg, loops: Map<number, CountedLoop>, exact: Map<number, ExactCount>, paramCount: number, checkpointed: boolean): Map<number, Recount> {
  const out = new Map<number, Recount>();
  if (checkpointed) return out;
  for (const [h, e] of exact) {
    const r = recountOnExit(cfg, loops.get(h)!, e, paramCount);
    if (r) out.set(h, r);
  }
  for (let changed = true; changed;) {
    changed = false;
    for (const [id, b] of cfg.blocks)
      for (const to of successors(b.exit)) {
        const here = [...loops.values()].filter((l) => l.blocks.has(id) && !l.blocks.has(to) && out.has(l.header));
        for (const l of here) {
          const r = out.get(l.header)!;
          if (here.some((o) => o !== l && r.reads.has(out.get(o.header)!.i))) { out.delete(l.header); changed = true; }
        }
      }
  }
  return out;
}

/** Whether block b lies on a cycle of the CFG (can run more than once per call). */
function reachesItself(cfg: ForwardCfg, b: number): boolean {
  const seen = new Set<number>();
  const stack = successors(cfg.blocks.get(b)!.exit);
  while (stack.length) {
    const x = stack.pop()!;
    if (x === b) return true;
    if (seen.has(x)) continue;
    seen.add(x);
    stack.push(...successors(cfg.blocks.get(x)!.exit));
  }
  return false;
}

/** Whether block b can run again in one iteration: it reaches itself inside the loop without passing the header. */
function inCycleWithoutHeader(cfg: ForwardCfg, loop: CountedLoop, b: number): boolean {
  const seen = new Set<number>();
  const stack = successors(cfg.blocks.get(b)!.exit).filter((s) => loop.blocks.has(s) && s !== loop.header);
  while (stack.length) {
    const x = stack.pop()!;
    if (x === b) return true;
    if (seen.has(x)) continue;
    seen.add(x);
    for (const s of successors(cfg.blocks.get(x)!.exit)) if (loop.blocks.has(s) && s !== loop.header) stack.push(s);
  }
  return false;
}

/**
 * A counted loop's shape: it goes on while `i OP X` (OP normalized to lt_s, lt_u or ne) is
 * tested in exitBlock, its one exit; i steps by one in stepBlock; X is loop-invariant.
 */
function countedForm(cfg: ForwardCfg, loop: CountedLoop, paramCount: number): { i: number; x: Expr; op: string; exitBlock: number; stepBlock: number; counters: number[] } | null {
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
    const step = steppedByOne(cfg, loop, every, assigned, f.i, paramCount);
    if (step === null) continue;
    return { i: f.i, x: f.x, op, exitBlock: block, stepBlock: step.block, counters: [...step.cls] };
  }
  return null;
}

/**
 * Where local i advances by exactly 1 per iteration (the block, and the locals that hold the counter), or null: either `i = i + 1` is its only
 * assignment in the loop, on every iteration; or i belongs to a class of locals that
 * copy each other (what binaryen's ssa pass makes of one counter: `i = c + 1; c = i`),
 * all equal when the loop is entered, and all advanced by one block run on every
 * iteration, whose statements are the class's only assignments in the loop.
 */
function steppedByOne(cfg: ForwardCfg, loop: CountedLoop, every: Set<number>, assigned: Map<number, Expr[]>, i: number, paramCount: number): CounterClass | null {
  const defs = assigned.get(i) ?? [];
  if (defs.length === 1) {
    const d = defs[0];
    if (d.kind === "local.set" && !d.tee && isStepByOne(d.value, i)) {
      // the step must be a statement of a block run on every iteration
      const stepBlock = [...loop.blocks].find((b) => cfg.blocks.get(b)!.stmts.includes(d));
      if (stepBlock !== undefined && every.has(stepBlock)) return { cls: new Set([i]), block: stepBlock };
    }
  }
  return counterClass(cfg, loop, every, assigned, sourcesOf(assigned), i, paramCount);
}

/** The local a class assignment copies or steps, or null for any other assignment. */
const sourceOf = (d: Expr): number | null => {
  if (d.kind !== "local.set" || d.tee) return null;
  if (d.value.kind === "local.get") return d.value.local;
  // (left, then right; without a list per call: counterClass asks again on every round of its fixpoint)
  if (d.value.kind !== "binary") return null;
  const { left, right } = d.value;
  if (left.kind === "local.get" && isStepByOne(d.value, left.local)) return left.local;
  if (right.kind === "local.get" && isStepByOne(d.value, right.local)) return right.local;
  return null;
};

interface CounterClass { cls: Set<number>; block: number }

/** The locals a block's statements assign, at any depth (kept per statement list: foldCounterCopies replaces lists it rewrites). */
const assignedCache = new WeakMap<Expr[], Set<number>>();
function assignedIn(stmts: Expr[]): Set<number> {
  let got = assignedCache.get(stmts);
  if (!got) {
    const out = new Set<number>();
    for (const st of stmts) forEachNode(st, (n) => {
      if (n.kind === "local.set") out.add(n.local);
      if (n.kind === "tuple.set") n.locals.forEach((l) => out.add(l));
    });
    assignedCache.set(stmts, got = out);
  }
  return got;
}

/** Every assignment of `assigned` with its source (sourceOf), in the order of the map and its lists. */
function sourcesOf(assigned: Map<number, Expr[]>): { l: number; d: Expr; src: number | null }[] {
  const out: { l: number; d: Expr; src: number | null }[] = [];
  for (const [l, ds] of assigned) for (const d of ds) out.push({ l, d, src: sourceOf(d) });
  return out;
}

/** The copy class of i (see steppedByOne), with the block that advances it, or null. `sources`: sourcesOf(assigned), made once per round of foldCounterCopies rather than on every round of the fixpoint here. */
function counterClass(cfg: ForwardCfg, loop: CountedLoop, every: Set<number>, assigned: Map<number, Expr[]>, sources: { l: number; d: Expr; src: number | null }[], i: number, paramCount: number): CounterClass | null {
  const cls = new Set([i]);
  for (let grew = true; grew;) {
    grew = false;
    for (const { l, d, src } of sources) {
      if (src === null) { if (cls.has(l)) return null; continue; }
      if (cls.has(l) && !cls.has(src)) { cls.add(src); grew = true; }
      // a copy of a member is a member; a step from one may be another counter (a row
      // counter starting at col + 1), which the class's checks need not cover
      if (cls.has(src) && !cls.has(l) && d.kind === "local.set" && d.value.kind === "local.get") { cls.add(l); grew = true; }
    }
  }
  if (cls.size === 1) return null;
  // every class assignment in one block B on every iteration: from all equal to V, they end all equal to V + 1
  const blocks = [...loop.blocks].filter((b) => cfg.blocks.get(b)!.stmts.some((st) => st.kind === "local.set" && cls.has(st.local)));
  if (blocks.length !== 1 || !every.has(blocks[0])) return null;
  const value = new Map([...cls].map((l) => [l, 0]));
  let steps = 0;
  for (const st of cfg.blocks.get(blocks[0])!.stmts) {
    if (st.kind !== "local.set" || !cls.has(st.local)) continue;
    const src = sourceOf(st)!;
    const step = st.value.kind !== "local.get";
    if (step) steps++;
    value.set(st.local, value.get(src)! + (step ? 1 : 0));
  }
  if (steps !== 1 || [...value.values()].some((v) => v !== 1)) return null;
  // entering the loop, the class holds one value: the entry block's assignments give them all one constant or copy
  const pre = cfg.blocks.get(loop.pre)!;
  const token = new Map<number, string>();
  let fresh = 0;
  for (const st of pre.stmts) {
    if (st.kind === "tuple.set" || st.kind !== "local.set" || st.tee) { for (const l of assignedIn([st])) token.set(l, `t${fresh++}`); continue; }
    const v = st.value;
    // (an assignment nested in the value comes first and leaves its local unknown)
    for (const l of assignedIn([v])) token.set(l, `t${fresh++}`);
    token.set(st.local, v.kind === "const" ? `c${String(v.value)}` : v.kind === "local.get" && token.has(v.local) ? token.get(v.local)! : v.kind === "local.get" ? `l${v.local}` : `t${fresh++}`);
  }
  // only what the counter is computed from, and the copies the loop reads, matter (foldCounterCopies
  // reads r for them); copies the loop does not read may hold anything
  const read = new Set([i]);
  for (const [l, ds] of assigned) if (cls.has(l)) for (const d of ds) read.add(sourceOf(d)!);
  for (const b of loop.blocks) {
    const bl = cfg.blocks.get(b)!;
    const note = (e: Expr) => forEachNode(e, (n) => { if (n.kind === "local.get" && cls.has(n.local)) read.add(n.local); });
    bl.stmts.forEach(note);
    if (bl.exit.kind === "branch") note(bl.exit.cond);
    if (bl.exit.kind === "switch") note(bl.exit.index);
  }
  // a local the function assigns nowhere but in the loop still holds its initial zero, when the
  // loop is entered once per call: inside another loop it holds what the last run left in it
  const assignedOutside = (l: number) => [...cfg.blocks].some(([id, b]) => !loop.blocks.has(id) && assignedIn(b.stmts).has(l));
  const enteredOnce = !reachesItself(cfg, loop.pre);
  const tokens = new Set([...read].map((l) => token.get(l) ?? (l >= paramCount && enteredOnce && !assignedOutside(l) ? "c0" : `l${l}`)));
  return tokens.size === 1 || equalEverywhere(cfg, read, paramCount) ? { cls, block: blocks[0] } : null;
}

/**
 * Whether the locals of set hold one value at every block boundary (by induction over the
 * blocks): they all start at zero (no parameter among them), and every block that assigns any
 * of them, run from all of them equal, ends with all equal; followed statement by statement
 * through copies, steps by one and constants (a value from outside the set is unknown).
 */
function equalEverywhere(cfg: ForwardCfg, set: Set<number>, paramCount: number): boolean {
  if ([...set].some((l) => l < paramCount)) return false;
  for (const b of cfg.blocks.values()) {
    if (![...assignedIn(b.stmts)].some((l) => set.has(l))) continue;
    const value = new Map<number, string>([...set].map((l) => [l, "v+0"]));
    for (const st of b.stmts) {
      const inner = assignedIn([st]);
      if (![...inner].some((l) => value.has(l) || set.has(l))) continue;
      if (st.kind !== "local.set" || st.tee || inner.size !== 1) return false;
      const v = st.value;
      const src = sourceOf(st);
      const from = v.kind === "const" && v.type === "i32" ? `c${v.value}` : src !== null ? value.get(src) ?? "?" : "?";
      const m = /^v\+(\d+)$/.exec(from);
      value.set(st.local, v.kind !== "binary" || from === "?" ? from : m ? `v+${Number(m[1]) + 1}` : "?");
    }
    const ends = new Set([...set].map((l) => value.get(l)!));
    if (ends.size !== 1 || ends.has("?")) return false;
  }
  return true;
}

/**
 * Undoes what binaryen's ssa pass does to a loop counter, for reverse mode: inside each loop,
 * reads of the counter's copies become reads of the local its step assigns, wherever the two
 * hold the same value, so the step reads `r = r + 1` (undone by subtraction, not recorded) and
 * the copies are read by nobody in the loop (not recorded either). Rewrites cfg in place.
 */
export function foldCounterCopies(cfg: ForwardCfg, loops: Map<number, CountedLoop>, paramCount: number): void {
  for (const loop of loops.values()) {
    const every = onEveryIteration(cfg, loop);
    const tried = new Set<number>();
    // one class at a time (a fold rewrites the statements the next search reads): the loop's
    // own counter and a running index stepped with it (a triangle's li) may both be classes
    for (let folded = true; folded;) {
      folded = false;
      const assigned = assignedLocals(cfg, loop);
      // (the loop's statements in order, without building the list of all of them each round)
      const steps: Expr[] = [];
      for (const b of loop.blocks)
        for (const st of cfg.blocks.get(b)!.stmts) {
          if (st.kind !== "local.set" || st.type !== "none" || st.value.kind !== "binary" || st.value.type !== "i32") continue;
          const src = sourceOf(st);
          if (src !== null && src !== st.local) steps.push(st);
        }
      const sources = sourcesOf(assigned);
      for (const step of steps) {
        const r = (step as { local: number }).local;
        if (tried.has(r)) continue;
        tried.add(r);
        const found = counterClass(cfg, loop, every, assigned, sources, r, paramCount);
        if (!found) continue;
        const { cls, block } = found;
        // values relative to the iteration's start, statement by statement through B: a read of m
        // becomes r where they agree, r − 1 where m has not been advanced yet
        const value = new Map([...cls].map((l) => [l, 0]));
        const toR = (e: Expr): Expr => mapTree(e, (n) => {
          if (n.kind !== "local.get" || !cls.has(n.local)) return n;
          const get: Expr = { ...n, local: r };
          return value.get(n.local) === value.get(r) ? get : { kind: "binary", type: "i32", op: "i32.sub", left: get, right: { kind: "const", type: "i32", value: 1 } };
        });
        for (const b of loop.blocks) {
          const bl = cfg.blocks.get(b)!;
          // outside B every copy equals r
          for (const l of cls) value.set(l, 0);
          bl.stmts = bl.stmts.map((st) => {
            const out = st.kind === "local.set" ? { ...st, value: toR(st.value) } : toR(st);
            if (b === block && st.kind === "local.set" && cls.has(st.local)) value.set(st.local, value.get(sourceOf(st)!)! + (st.value.kind === "local.get" ? 0 : 1));
            return out;
          });
          if (bl.exit.kind === "branch") bl.exit = { ...bl.exit, cond: toR(bl.exit.cond) };
          if (bl.exit.kind === "switch") bl.exit = { ...bl.exit, index: toR(bl.exit.index) };
        }
        folded = true;
        break;
      }
    }
  }
}

const isStepByOne = (v: Expr, i: number): boolean => {
  if (v.kind !== "binary") return false;
  const isI = (e: Expr) => e.kind === "local.get" && e.local === i;
  const isConst = (e: Expr, c: number) => e.kind === "const" && e.type === "i32" && e.value === c;
  if (v.op === "i32.add") return (isI(v.left) && isConst(v.right, 1)) || (isI(v.right) && isConst(v.left, 1));
  if (v.op === "i32.sub") return isI(v.left) && isConst(v.right, -1);
  return false;
};
