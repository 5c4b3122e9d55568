// Reverse mode: generates, for one function and activity signature, an augmented forward
// sweep (the primal plus tape pushes of overwritten values and taken CFG edges) and a
// reverse sweep (a CFG of reversed blocks, structured by the backend's Relooper). Adjoints
// are locals; shadow memory is reached through per-buffer offsets; callees get their own
// augmented and reverse functions, so recursion works through the shared tape.
import type { ActivitySignature } from "../analysis/signature.js";
import { hasShadow } from "../analysis/pointers.js";
import { DELTA_OF, POINTER_DELTA, SHADOW_ALLOC, SHADOW_REALLOC, SHADOW_UNREALLOC } from "../analysis/allocators.js";
import { copiedElementType, copyAdjointName } from "./bulk-memory.js";
import { copyWithConstEnds, ifElse, UNLOG_WORD } from "./memory-pointers.js";
import { UnsupportedError } from "../errors.js";
import { binary, get, i32, set, unary, zero } from "../ir/builder.js";
import type { Call, CallIndirect, CfgBlock, CustomRule, Edge, Expr, IRFunction, Store, ValType } from "../ir/types.js";
import { isFloat, typeOfCallResults } from "../ir/types.js";
import { forEachNode, mapTree } from "../ir/walk.js";
import { buildCfg, countedLoops, recomputableJoins, successors } from "./cfg.js";
import { localizeTape } from "./tape-locals.js";
import { callsModule, hoistLoopChecks } from "./tape-checks.js";
import { exactBackEdges, foldCounterCopies, headerRunsBound, recountedLoops } from "./trip-count.js";
import { pruneUnusedResult } from "./dead-sweep.js";
import { propagateInvariantCopies } from "./invariant-copies.js";
import { type CheckpointedLoop, planCheckpoints } from "./checkpoint.js";
import { foldZeroAdjoints } from "./fold-zeros.js";
import { type Callee, callCarries, calleeOf, calleeSignature, checkCallSupported } from "./calls.js";
import { DiffContext, fillPartial, partialUses, placeholders, scale } from "./context.js";
import type { Analyzed, Differentiator } from "./differentiator.js";
import { invertible, ReverseNeeds } from "./reverse-needs.js";
import { ruleForCall, takesPart } from "./custom-rules.js";
import { nodeRule } from "./rules/index.js";
import { sizeOf, TAPE } from "./tape.js";

type Val = (tree: Expr) => Expr;

const isShadowAlloc = (s: Expr) => s.kind === "local.set" && s.value.kind === "call" && (s.value.func === SHADOW_ALLOC || s.value.func === SHADOW_REALLOC);

/** Parameters and results of the reverse sweep of fn under sig. */
export function reverseSignature(fn: { params: ValType[]; results: ValType[] }, sig: ActivitySignature): { params: ValType[]; results: ValType[] } {
  const shadows = sig.params.filter((p) => p === "dup").map(() => "i32" as ValType);
  const seed = sig.resultActive ? [fn.results[0]] : [];
  return { params: [...fn.params, ...shadows, ...seed], results: fn.params.filter((_, i) => sig.params[i] === "active") };
}

export function generateReverse(d: Differentiator, names: { aug: string; rev: string }, a: Analyzed, sig: ActivitySignature, resultUnused = false): { aug: IRFunction; rev: IRFunction } {
  const resultType = a.fn.results[0];
  const retLocal = a.fn.results.length === 1 ? a.fn.locals.length : -1;
  const fn: IRFunction = retLocal >= 0 ? { ...a.fn, locals: [...a.fn.locals, resultType], localNames: [...(a.fn.localNames ?? []), "ret"] } : a.fn;
  const cfg = buildCfg(fn.body as Expr, retLocal);
  // one local per loop counter again where the ssa pass made copies, so the counter is undone, not recorded
  foldCounterCopies(cfg, countedLoops(cfg), fn.params.length);
  propagateInvariantCopies(cfg);
  // if-joins whose condition the reverse sweep can evaluate again need no recorded edge
  const condOk = (cond: Expr, armDefs: Set<number>) => {
    let ok = true;
    forEachNode(cond, (n) => {
      if (n.kind === "local.get" && armDefs.has(n.local)) ok = false;
      if ((n.kind === "load" && !a.stable.isStable(n)) || n.kind === "global.get") ok = false;
    });
    return ok;
  };
  const defsOf = (id: number) => cfg.blocks.get(id)!.stmts.flatMap((st) => (st.kind === "local.set" ? [st.local] : st.kind === "tuple.set" ? st.locals : []));
  const joins = recomputableJoins(cfg, condOk, defsOf);
  const entryReads = new Map([...joins].map(([j, r]) => {
    const ls = new Set<number>();
    forEachNode(r.cond, (n) => { if (n.kind === "local.get") ls.add(n.local); });
    return [j, ls];
  }));
  // words kept in shadowed memory (pointers, integers): their shadow words may share bytes with floats
  let wordTraffic = false;
  forEachNode(fn.body as Expr, (n) => {
    if ((n.kind === "store" && n.op === "i32.store" && hasShadow(a.ptr.of(n.addr))) || (n.kind === "call" && n.func === POINTER_DELTA)) wordTraffic = true;
    // a callee given an owned block may keep words in it
    if ((n.kind === "call" || n.kind === "call_indirect") && n.args.some((x) => x.type === "i32" && hasShadow(a.ptr.of(x)) && a.ptr.of(x).kind === "alloc")) wordTraffic = true;
  });
  // counted loops: a counter per loop instead of an edge id per iteration; the count is
  // pushed when the loop is left and popped when the reverse sweep enters it again, unless the
  // reverse sweep can compute it there, with the counter's final value (trip-count.ts recountOnExit)
  const loops = countedLoops(cfg);
  const exitedLoops = (from: number, to: number) =>
    [...loops.values()].filter((l) => l.blocks.has(from) && !l.blocks.has(to)).sort((x, y) => x.blocks.size - y.blocks.size);
  const exact = new Map([...loops.values()].flatMap((l) => {
    const e = exactBackEdges(cfg, l, fn.params.length);
    return e ? [[l.header, e] as const] : [];
  }));
  const recounted = recountedLoops(cfg, loops, exact, fn.params.length, !!d.checkpointOf(fn.name));
  const edgeSets = new Map<string, { sets: Set<number>; reads: Set<number> }>();
  for (const [id, b] of cfg.blocks)
    for (const to of new Set(successors(b.exit))) {
      const rs = exitedLoops(id, to).flatMap((l) => recounted.get(l.header) ?? []);
      if (rs.length) edgeSets.set(`${id}>${to}`, { sets: new Set(rs.map((r) => r.i)), reads: new Set(rs.flatMap((r) => [...r.reads])) });
    }
  const needs = new ReverseNeeds(d, a.act, a.ptr, a.stable, cfg, retLocal, sig.resultActive, entryReads, edgeSets);
  const isActiveLocal = (l: number) => a.act.activeLocals[l] || (l === retLocal && sig.resultActive);

  // ---- augmented forward sweep: the primal's parameters and the shadows; the primal's results ----
  // the augmented sweep takes the shadows too: pointers it stores into memory store their shadow words
  const augShadows = sig.params.flatMap((p, i) => (p === "dup" ? [{ type: "i32" as ValType, name: `p${i}_shadow`, param: i }] : []));
  const ax = new DiffContext(fn, sig, a.act, a.ptr, augShadows, d.mathCall("f64"), "_unused");
  ax.origins = d.originsOf(fn.name);
  const augBlocks: CfgBlock[] = [];
  const edgeId = (from: number, to: number) => cfg.blocks.get(to)!.preds.indexOf(from);
  const augCounter = new Map([...loops.keys()].map((h) => [h, ax.add("i32", `count_b${h}_`)]));
  const revCounter = new Map<number, number>();
  const recorded = (from: number, to: number) => exitedLoops(from, to).filter((l) => !recounted.has(l.header));
  const edgeBytes = (from: number, to: number) =>
    (!loops.has(to) && !joins.has(to) && cfg.blocks.get(to)!.preds.length > 1 ? 1 : 0) + 4 * recorded(from, to).length
    + 4 * exitedLoops(from, to).filter((l) => checkpointed.has(l.header)).length;
  // loops of a kernel marked by program.checkpoint: the forward sweep runs them as the primal
  // with a snapshot every k iterations; the reverse sweep replays each segment (checkpoint.ts)
  const checkpointed = planCheckpoints(d, fn, a, cfg, loops, exitedLoops, ax,
    (b) => needs.restore.get(b)!.flatMap((xs, k) => (invertible(cfg.blocks.get(b)!.stmts[k]) ? [] : xs)));
  // (not for checkpointed loops and the loops in them, whose snapshots read the counter as it goes)
  const exactCounts = new Map([...exact].filter(([h]) => ![...checkpointed.values()].some((c) => c.loop.blocks.has(h))));
  const augEdge = (from: number, to: number, cx = ax, counter = augCounter): Edge => {
    // edge pushes are checked on the edge, so a loop's own iterations pay nothing for its exit
    const covered = hoisted.covered.has(from) && hoisted.covered.has(to) && exitedLoops(from, to).length === 0;
    const code: Expr[] = covered ? [] : [...TAPE.check(edgeBytes(from, to))];
    for (const l of recorded(from, to)) {
      code.push(...TAPE.push(get(counter.get(l.header)!, "i32")));
      const ck = checkpointed.get(l.header);
      if (ck) code.push(...TAPE.push(get(ck.augEvery, "i32")));
    }
    const loop = loops.get(to);
    if (loop) {
      const before = hoisted.beforeLoop.get(to);
      const primalRun = cx === ax && checkpointed.has(to); // the forward sweep runs a checkpointed loop as the primal
      if (before && from === loop.pre && !primalRun) code.push(...TAPE.checkRuns(cx.remap(before.runs), before.perRun));
      if (primalRun && from === loop.pre) code.push(...checkpointed.get(to)!.enter(cx));
      const c = counter.get(to)!;
      // a count known on entry (trip-count.ts) is set once; the loop's iterations pay nothing
      const known = cx === ax ? exactCounts.get(to) : undefined;
      if (known) { if (from === loop.pre) code.push(set(c, cx.remap(known.count))); }
      else code.push(set(c, from === loop.pre ? i32(0) : binary("i32.add", get(c, "i32"), i32(1))));
    } else if (!joins.has(to) && cfg.blocks.get(to)!.preds.length > 1) code.push(...TAPE.pushByte(edgeId(from, to)));
    return { target: to, code };
  };
  const exitPushes = [...needs.atExit].filter((l) => l >= fn.params.length || definedSomewhere(l));
  function definedSomewhere(l: number) { for (const st of needs.stmts.values()) for (const n of st) if (n.defs.includes(l)) return true; return false; }

  const isImport = (f: string) => d.isImport(f);
  /** The augmented statements of block id in context cx, and the bytes they push. */
  const augBody = (id: number, cx: DiffContext): { body: Expr[]; bytes: number } => {
    const b = cfg.blocks.get(id)!;
    const body: Expr[] = [];
    let bytes = 0;
    const restores = needs.restore.get(id)!;
    b.stmts.forEach((s, k) => {
      const saves: Expr[] = [];
      for (const x of restores[k]) if (!invertible(s)) { saves.push(...TAPE.push(get(cx.map(x), fn.locals[x]))); bytes += sizeOf(fn.locals[x]); }
      const { stmts, after } = augStmt(s, cx);
      if (after.length) bytes += 4; // the recorded call_indirect target
      const value = s.kind === "local.set" || s.kind === "tuple.set" ? s.value : null;
      if (value && (value.kind === "call" || value.kind === "call_indirect") && (saves.length || after.length)) {
        // a callee pushes onto the tape too: record the old values (and the target) after the call
        // returns, so that the reverse sweep pops them before calling the callee's reverse
        const defs = s.kind === "local.set" ? [s.local] : (s as { locals: number[] }).locals;
        const temps = defs.map((l) => cx.add(fn.locals[l], "res"));
        const call = stmts[stmts.length - 1] as { value: Expr };
        const callInto: Expr = temps.length === 1 ? set(temps[0], call.value) : { kind: "tuple.set", type: "none", locals: temps, value: call.value as Call };
        body.push(...stmts.slice(0, -1), callInto, ...saves, ...after, ...defs.map((l, i) => set(cx.map(l), get(temps[i], fn.locals[l]))));
      } else body.push(...saves, ...stmts, ...after);
    });
    if (id === cfg.exit) for (const l of exitPushes) { body.push(...TAPE.push(get(cx.map(l), fn.locals[l]))); bytes += sizeOf(fn.locals[l]); }
    return { body, bytes };
  };
  const built = new Map(cfg.order.map((id) => [id, augBody(id, ax)]));
  // one capacity check per iteration of an innermost loop, for the most its body can push
  const hoisted = hoistLoopChecks(cfg, loops, (id) => built.get(id)!.bytes, (from, to) => (loops.has(to) ? 0 : edgeBytes(from, to)),
    (id) => cfg.blocks.get(id)!.stmts.some((st) => callsModule(st, isImport)), (loop) => headerRunsBound(cfg, loop, fn.params.length));
  const augExit = (id: number, cx: DiffContext, counter: Map<number, number>): CfgBlock["exit"] => {
    const e = cfg.blocks.get(id)!.exit;
    return e.kind === "goto" ? { kind: "goto", edge: augEdge(id, e.to, cx, counter) } :
      e.kind === "branch" ? { kind: "branch", cond: cx.remap(e.cond), then: augEdge(id, e.then, cx, counter), else: augEdge(id, e.else, cx, counter) } :
      e.kind === "switch" ? { kind: "switch", index: cx.remap(e.index), targets: e.targets.map((t) => augEdge(id, t, cx, counter)), default: augEdge(id, e.default, cx, counter) } :
      e.kind === "exit" ? { kind: "return", value: retLocal < 0 ? null : resultUnused && cx === ax ? zero(resultType) : get(cx.map(retLocal), resultType) } : { kind: "unreachable" };
  };
  const augCheck = (id: number) => (hoisted.perIteration.has(id) ? TAPE.check(hoisted.perIteration.get(id)!) : hoisted.covered.has(id) ? [] : TAPE.check(built.get(id)!.bytes));
  // checkpoint snapshots copy whole argument buffers: from their addresses as passed in
  const snapshotBuffers = [...new Set([...checkpointed.values()].flatMap((c) => c.buffers))];
  const augBases = new Map(snapshotBuffers.map((p) => [p, ax.add("i32", `base_p${p}_`)]));
  for (const id of cfg.order) {
    const b = cfg.blocks.get(id)!;
    const exit = augExit(id, ax, augCounter);
    const ck = [...checkpointed.values()].find((c) => c.loop.blocks.has(id));
    const bases = id === cfg.entry ? [...augBases].map(([p, l]) => set(l, get(ax.map(p), "i32"))) : [];
    if (ck) augBlocks.push(ck.primalBlock(id, b.stmts, exit, augCounter.get(ck.loop.header)!, ax, augBases));
    else augBlocks.push({ id, body: [...bases, ...augCheck(id), ...built.get(id)!.body], exit });
  }

  /** The shadow pointers (new numbering) a call passes to the callee's augmented sweep, one per dup parameter. */
  function augShadowArgs(c: Call | CallIndirect, csig: ActivitySignature, cx: DiffContext): Expr[] {
    const what = c.kind === "call" ? `call ${c.func}` : "call_indirect";
    return csig.params.flatMap((p, i) => (p === "dup" ? [cx.shadowAddress(c.args[i], cx.remap(c.args[i]), () => what)!] : []));
  }
  /** A (remapped) call statement with arguments appended. */
  function withArgs(st: Expr, extra: Expr[]): Expr {
    if (st.kind === "local.set" || st.kind === "tuple.set") return { ...st, value: withArgs(st.value, extra) } as Expr;
    return st.kind === "call" || st.kind === "call_indirect" ? { ...st, args: [...st.args, ...extra] } : st;
  }
  /** The augmented version of a statement, and what to record after it (an indirect call's target). */
  function augStmt(s: Expr, cx: DiffContext): { stmts: Expr[]; after: Expr[] } {
    const c = s.kind === "local.set" || s.kind === "tuple.set" ? s.value : s;
    if (s.kind === "local.set" && c.kind === "call" && c.func === POINTER_DELTA) return { stmts: cx.pointerDelta(s), after: [] };
    if (s.kind === "local.set" && c.kind === "call" && c.func === DELTA_OF) return { stmts: [set(cx.map(s.local), cx.pointerDeltaOf(c.args[0]))], after: [] };
    // a returned i32 may be a pointer its caller follows (a returned reference): its delta goes back beside it
    if (s.kind === "local.set" && s.local === retLocal && resultType === "i32") return { stmts: [cx.remap(s), cx.returnDelta(s.value)], after: [] };
    if (s.kind === "store" && s.op === "i32.store" && hasShadow(a.ptr.of(s.addr))) return { stmts: cx.storeWithShadowWord(s, undefined, true), after: [] };
    if (s.kind === "store" && hasShadow(a.ptr.of(s.addr)) && cx.owned(s.addr) && (!isFloat(s.value.type) || wordTraffic)) {
      // memory the function allocated holds no seeds: a store there clears the shadow of what
      // it overwrites (a pointer's shadow word, an integer's), so adjoints later added there start at 0
      const addr = cx.add("i32", "a");
      return { stmts: [set(addr, cx.remap(s.addr)), { ...cx.remap(s), addr: get(addr, "i32") } as Expr, cx.zeroShadowOf(s as Store, get(addr, "i32"))], after: [] };
    }
    if (c.kind === "call" || c.kind === "call_indirect") {
      const callee = c.kind === "call" ? calleeOf(d.module, c.func) : null;
      checkCallSupported(d.module, fn.name, callee, c, a.act);
      const carries = callCarries(d.module, c, a.act);
      const withCall = (call: Expr) => cx.remap(s.kind === "local.set" ? { ...s, value: call } : s.kind === "tuple.set" ? { ...s, value: call as Call } : call);
      if (c.kind === "call" && callee?.kind === "function" && carries) {
        d.noteCall(fn.name, callee.fn.name, c.args, a.ptr);
        const csig = calleeSignature(callee.fn, c, a.act, a.ptr);
        const names = d.reverse(callee.fn.name, csig);
        return { stmts: [withArgs(withCall({ ...c, func: names.aug }), augShadowArgs(c, csig, cx))], after: [] };
      }
      if (c.kind === "call_indirect" && carries) {
        // record which function was called: the reverse sweep calls its reverse through the same index
        const csig = calleeSignature(c, c, a.act, a.ptr);
        const table = d.derivedTable(c, "aug", csig);
        const target = cx.remap(c.target);
        const idx = cx.add("i32", "callee");
        // idx is already in cx's numbering: put it in after remapping the call
        const useIdx = (e: Expr): Expr => (e.kind === "call_indirect" ? { ...e, target: get(idx, "i32") } : e.kind === "local.set" ? { ...e, value: useIdx(e.value) }
          : e.kind === "tuple.set" ? { ...e, value: useIdx(e.value) as CallIndirect } : e);
        const shadows = augShadowArgs(c, csig, cx);
        return { stmts: [set(idx, target), withArgs(useIdx(withCall({ ...c, table, params: [...c.params, ...shadows.map(() => "i32" as ValType)] })), shadows)], after: TAPE.push(get(idx, "i32")) };
      }
      if (c.kind === "call" && callee?.kind === "rule" && carries) {
        // the function itself runs in the forward sweep; an `augmented` rule runs just before it
        // and what it returns is recorded for the reverse rule
        const { rule } = ruleForCall(fn.name, c, callee.fn, callee.rules, "reverse", a.act, a.ptr);
        if (!rule.augmented) return { stmts: [cx.remap(s)], after: [] };
        const kept = cx.add("i32", "rule_tape");
        return { stmts: [set(kept, cx.remap({ ...c, func: rule.augmented, type: "i32" })), cx.remap(s)], after: TAPE.push(get(kept, "i32")) };
      }
      return { stmts: [cx.remap(s)], after: [] };
    }
    if (s.kind === "store" && isFloat(s.value.type)) {
      const p = a.ptr.of(s.addr);
      const active = a.act.isActive(s.value);
      if (p.kind === "unknown" && (active || d.hasShadows(sig))) cx.shadowAddress(s.addr, s.addr, () => `${s.op} ${cx.describe(s)}`);
      if (p.kind !== "unknown" && !hasShadow(p) && active) cx.activityError(`${s.op} ${cx.describe(s)}`, s.addr);
    }
    if (s.kind === "global.set" && a.act.isActive(s.value))
      throw new UnsupportedError(fn.name, `global.set ${s.global}`, "storing an active value in a global is not supported; keep it in a Duplicated buffer");
    if ((s.kind === "memory.copy" || s.kind === "memory.fill")) {
      const p = a.ptr.of(s.dest);
      // filling shadowed memory with bytes: its reversal zeroes the shadow (the old values' adjoints die)
      if (s.kind === "memory.fill" && hasShadow(p)) return { stmts: [cx.remap(s)], after: [] };
      if (s.kind === "memory.copy") {
        const q = a.ptr.of(s.src);
        // (a copy whose float type the function does not show is reversed by a run-time stop: see the reverse sweep)
        // between blocks the function allocated (no seeds there) the shadow goes along: pointers' shadow words
        if (hasShadow(p) && hasShadow(q) && cx.owned(s.dest) && cx.owned(s.src) && wordTraffic)
          return { stmts: [cx.remap(s), { ...s, dest: cx.shadowAddress(s.dest, cx.remap(s.dest), () => "memory.copy")!, src: cx.shadowAddress(s.src, cx.remap(s.src), () => "memory.copy")!, size: cx.remap(s.size) }], after: [] };
        // into an owned block from a caller's memory, whose shadow holds seeds, not shadow words:
        // the block's shadow words are cleared (a pointer copied so has no shadow: using it traps)
        if (hasShadow(p) && hasShadow(q) && cx.owned(s.dest) && !cx.owned(s.src) && wordTraffic) {
          const dest = cx.add("i32", "a");
          return { stmts: [set(dest, cx.remap(s.dest)), { ...cx.remap(s), dest: get(dest, "i32") } as Expr,
            { kind: "memory.fill", type: "none", dest: cx.shadowAddress(s.dest, get(dest, "i32"), () => "memory.copy")!, value: i32(0), size: cx.remap(s.size) }], after: [] };
        }
        if (hasShadow(p) && (hasShadow(q) || q.kind === "int")) return { stmts: [cx.remap(s)], after: [] };
        if (p.kind === "int" && hasShadow(q)) cx.activityError("memory.copy", s.dest);
      }
      if (p.kind !== "int")
        throw new UnsupportedError(fn.name, s.kind, "bulk memory whose destination cannot be traced to a buffer is not supported in reverse mode; copy element by element");
    }
    return { stmts: [cx.remap(s)], after: [] };
  }

  // ---- reverse sweep ----
  const shadowParams: number[] = [];
  const extra: { type: ValType; name: string }[] = [];
  sig.params.forEach((p, i) => { if (p === "dup") { shadowParams[i] = fn.params.length + extra.length; extra.push({ type: "i32", name: `p${i}_shadow` }); } });
  const seedParam = sig.resultActive ? fn.params.length + extra.length : -1;
  if (sig.resultActive) extra.push({ type: resultType, name: "seed" });
  const rx = new DiffContext(fn, sig, a.act, a.ptr, extra, d.mathCall("f64"), "_adj");
  const isLeaf = (e: Expr) => e.kind === "const" || e.kind === "local.get";
  const temp = (v: Expr, out: Expr[], hint = "v"): Expr => {
    if (isLeaf(v)) return v;
    const t = rx.add(v.type as ValType, hint);
    out.push(set(t, v));
    return get(t, v.type as ValType);
  };
  const addTo = (local: number, v: Expr, t: ValType): Expr => set(local, binary(`${t}.add`, get(local, t), v));

  /** Adds adjoint `adj` (a leaf) into everything the pure original tree e reads; `val` gives an original tree's value at this point. */
  const propagate = (e: Expr, adj: Expr, out: Expr[], val: Val): void => {
    if (!a.act.isActive(e)) return;
    const t = e.type as ValType;
    switch (e.kind) {
      case "local.get": out.push(addTo(rx.derivOf(e.local), adj, t)); return;
      case "load": {
        const addr = temp(val(e.addr), out, "a");
        const sh = rx.shadowAddress(e.addr, addr, () => `${e.op} ${rx.describe(e)}`, val, "sink", e.offset);
        if (!sh) return;
        const sa = temp(sh, out, "sa");
        out.push({ kind: "store", type: "none", op: `${t}.store`, addr: sa, offset: e.offset, align: e.align,
          value: binary(`${t}.add`, { ...e, addr: sa }, adj) });
        return;
      }
      case "unary": case "binary": case "select": {
        const rule = nodeRule(e, d.mathCall(t));
        if (!rule) throw new UnsupportedError(fn.name, rx.describe(e), "this instruction has no derivative rule");
        if (rule.kind === "constant") return;
        if (rule.kind === "convert") {
          const back = temp({ kind: "unary", type: rule.operand.type as ValType, op: rule.rule.reverse, value: adj }, out, "g");
          return propagate(rule.operand, back, out, val);
        }
        // only active operands get a partial: values only their partials read are not needed (nor restored)
        const uses = rule.partials.map((p, i) => (a.act.isActive(rule.operands[i]) ? partialUses(p) : { operands: new Set<number>(), result: false }));
        const vals = rule.operands.map((o, i) => (uses.some((u) => u.operands.has(i)) ? temp(val(o), out) : val(o)));
        let zv: Expr | null = null;
        const z = () => (zv ??= temp(val(e), out, "z"));
        rule.partials.forEach((p, i) => {
          if (p === "zero" || !a.act.isActive(rule.operands[i])) return;
          const g = scale(fillPartial(p, vals, z), adj, t);
          if (g) propagate(rule.operands[i], temp(g, out, "g"), out, val);
        });
        return;
      }
      default: return;
    }
  };

  const restore = (s: Expr, x: number, out: Expr[]) => {
    const inv = invertible(s);
    if (inv) out.push(rx.remap(inv));
    else out.push(...TAPE.pop(fn.locals[x], rx.map(x)));
  };
  /** Takes the adjoint of local x (zeroing it, as the assignment killed x) into a temporary. */
  const takeAdjoint = (x: number, out: Expr[]): Expr => {
    const t = fn.locals[x];
    const adj = temp(get(rx.derivOf(x), t), out, "adj");
    const tmp = rx.add(t, "adj");
    out.push(set(tmp, adj), set(rx.derivOf(x), zero(t)));
    return get(tmp, t);
  };

  const revCall = (s: Expr, c: Call | CallIndirect, target: number | null, restores: number[], out: Expr[], val: Val) => {
    const callee: Callee = c.kind === "call" ? calleeOf(d.module, c.func) : { kind: "indirect", params: c.params, results: c.results };
    const carries = callCarries(d.module, c, a.act);
    const adj = target !== null && isActiveLocal(target) && carries && callee.kind !== "import" ? takeAdjoint(target, out) : null;
    if (!carries || callee.kind === "import") { for (const x of restores) restore(s, x, out); return; }
    if (callee.kind === "intrinsic" && c.kind === "call") {
      const t = c.type as ValType;
      const ph = placeholders(c.args.map(() => t), t);
      const uses = callee.rule.partials(ph.ops, ph.result, t, d.mathCall(t)).map(partialUses);
      // the result is read before the restore below overwrites the local: copy it
      let z: Expr | null = null;
      if (uses.some((u) => u.result) && target !== null) {
        const zl = rx.add(t, "z");
        out.push(set(zl, get(rx.map(target), t)));
        z = get(zl, t);
      }
      for (const x of restores) restore(s, x, out);
      if (!adj) return;
      const vals = c.args.map((o, i) => (uses.some((u) => u.operands.has(i)) ? temp(val(o), out) : val(o)));
      callee.rule.partials(vals, z ?? zero(t), t, d.mathCall(t)).forEach((p, i) => {
        if (!a.act.isActive(c.args[i])) return;
        const g = scale(p, adj, t);
        if (g) propagate(c.args[i], temp(g, out, "g"), out, val);
      });
      return;
    }
    if (callee.kind === "intrinsic") return;
    if (callee.kind === "rule") return revRuleCall(s, c as Call, callee.fn, callee.rules, adj, restores, out, val);
    // the recorded target was pushed after the restored values: pop it first
    const idx = c.kind === "call_indirect" ? rx.add("i32", "callee") : -1;
    if (idx >= 0) out.push(...TAPE.pop("i32", idx));
    for (const x of restores) restore(s, x, out);
    const types = callee.kind === "function" ? callee.fn : callee;
    const csig = calleeSignature(types, c, a.act, a.ptr);
    const rsig = reverseSignature(types, csig);
    const args = c.args.map((o) => val(o));
    const vals = args.map((x) => temp(x, out));
    const what = c.kind === "call" ? `call ${c.func}` : "call_indirect";
    const shadows = csig.params.flatMap((p, i) => (p === "dup" ? [rx.shadowAddress(c.args[i], vals[i], () => what, val)!] : []));
    const seed = csig.resultActive ? [adj ?? zero(types.results[0])] : [];
    const cargs = [...vals, ...shadows, ...seed];
    const call: Call | CallIndirect = c.kind === "call"
      ? { kind: "call", type: typeOfCallResults(rsig.results), func: d.reverse((callee as { fn: IRFunction }).fn.name, csig).rev, args: cargs }
      : { kind: "call_indirect", type: typeOfCallResults(rsig.results), table: d.derivedTable(c, "rev", csig), params: rsig.params, results: rsig.results, target: get(idx, "i32"), args: cargs };
    const actives = csig.params.flatMap((p, i) => (p === "active" ? [i] : []));
    const outs = actives.map((i) => rx.add(types.params[i], "gc"));
    if (outs.length === 0) out.push(call);
    else if (outs.length === 1) out.push(set(outs[0], call));
    else out.push({ kind: "tuple.set", type: "none", locals: outs, value: call });
    actives.forEach((i, k) => propagate(c.args[i], get(outs[k], types.params[i]), out, val));
  };

  /** The reverse rule of a call to a function with custom rules, specialised to the call site. */
  const revRuleCall = (s: Expr, c: Call, callee: IRFunction, rules: CustomRule[], adj: Expr | null, restores: number[], out: Expr[], val: Val) => {
    const { rule, pattern } = ruleForCall(fn.name, c, callee, rules, "reverse", a.act, a.ptr);
    const kinds = rule.kinds;
    // what `augmented` returned was pushed after the restored values: pop it first
    const kept = rule.augmented ? rx.add("i32", "rule_tape") : -1;
    if (kept >= 0) out.push(...TAPE.pop("i32", kept));
    for (const x of restores) restore(s, x, out);
    const vals = c.args.map((o) => temp(val(o), out));
    const args: Expr[] = [];
    const discard = new Set<number>();
    c.args.forEach((o, i) => {
      args.push(vals[i]);
      if (!takesPart(rule, i) || kinds[i] !== "ptr") return;
      if (pattern[i] !== "dup") discard.add(args.length);
      args.push(pattern[i] === "dup" ? rx.shadowAddress(o, vals[i], () => `call ${callee.name}`, val)! : i32(0));
    });
    const resultT = callee.results.length === 1 && isFloat(callee.results[0]) ? callee.results[0] : null;
    if (resultT) args.push(adj ?? zero(resultT));
    if (kept >= 0) args.push(get(kept, "i32"));
    const ruleFn = d.module.functions.find((f) => f.name === rule.reverse)!;
    const call: Call = { kind: "call", type: typeOfCallResults(ruleFn.results), func: d.ruleTarget(rule.reverse!, new Set(), discard, fn.name, callee.name), args };
    const floats = c.args.flatMap((_, i) => (kinds[i] === "float" && takesPart(rule, i) ? [i] : []));
    const outs = floats.map((i) => rx.add(callee.params[i], "gr"));
    if (outs.length === 0) out.push(call);
    else if (outs.length === 1) out.push(set(outs[0], call));
    else out.push({ kind: "tuple.set", type: "none", locals: outs, value: call });
    floats.forEach((i, k) => { if (pattern[i] === "active") propagate(c.args[i], get(outs[k], callee.params[i]), out, val); });
  };

  const revStmt = (s: Expr, restores: number[], out: Expr[], subst: Map<number, Expr>) => {
    const val: Val = subst.size === 0 ? (t) => rx.remap(t)
      : (t) => rx.remap(mapTree(t, (n) => (n.kind === "local.get" && subst.has(n.local) ? subst.get(n.local)! : n)));
    if (isShadowAlloc(s) && s.kind === "local.set" && s.value.kind === "call") {
      // the allocation's reversal: every use of its shadow block is behind; the restored values
      // were pushed after the block: pop them, then the block. A reallocation first hands the
      // adjoints of the bytes it copied back to the old block's shadow (the delta it produced is read before its restore)
      if (s.value.func === SHADOW_REALLOC) {
        const [size, block, old, oldDelta] = s.value.args.map((x) => val(x));
        out.push({ kind: "call", type: "none", func: SHADOW_UNREALLOC, args: [size, binary("i32.add", block, get(rx.map(s.local), "i32")), old, oldDelta] });
      }
      for (const x of restores) restore(s, x, out);
      out.push(...TAPE.land(rx.add("i32", "tape_top")));
      return;
    }
    switch (s.kind) {
      case "local.set": {
        if (s.value.kind === "call" || s.value.kind === "call_indirect") return revCall(s, s.value, s.local, restores, out, val);
        if (!isActiveLocal(s.local)) { for (const x of restores) restore(s, x, out); return; }
        const adj = takeAdjoint(s.local, out);
        for (const x of restores) restore(s, x, out);
        return propagate(s.value, adj, out, val);
      }
      case "tuple.set":
        if (callCarries(d.module, s.value, a.act) && s.locals.some(isActiveLocal))
          throw new UnsupportedError(fn.name, s.value.kind === "call" ? `call ${s.value.func}` : "call_indirect", "multi-value results on the active path are not supported");
        return revCall(s, s.value, null, restores, out, val);
      case "call": case "call_indirect": return revCall(s, s, null, restores, out, val);
      case "memory.copy": {
        if (!hasShadow(a.ptr.of(s.dest))) return;
        const dest = temp(val(s.dest), out, "a");
        const dsh = temp(rx.shadowAddress(s.dest, dest, () => "memory.copy", val)!, out, "sa");
        const zero: Expr = { kind: "memory.fill", type: "none", dest: dsh, value: i32(0), size: val(s.size) };
        const srcShadowed = hasShadow(a.ptr.of(s.src));
        const srcShadow = srcShadowed ? rx.shadowAddress(s.src, val(s.src), () => "memory.copy", val)! : null;
        const type = srcShadowed ? copiedElementType(fn, a.ptr, [s.dest, s.src]) : null;
        // adjoints are added back element by element, as the function's one float type; where it
        // shows none, a copy that moves bytes at run time stops the call with this error (bulk-memory.ts)
        const stop = srcShadowed && !type ? d.stopSite(new UnsupportedError(fn.name, "memory.copy (or memcpy/memmove)",
          "the call copied bytes between buffers that have a shadow, and this function reads or writes them as neither only f64 nor only f32, so their adjoints cannot be added back; " +
          "the caller's arrays were left unchanged. Access the data as floats in this function, copy element by element, or use Forward mode, which carries the bytes of any copy")) : null;
        const add: Expr | null = !srcShadow ? null : stop ? { kind: "call", type: "none", func: stop.func, args: [dsh, srcShadow, val(s.size), i32(stop.site)] }
          : { kind: "call", type: "none", func: copyAdjointName(type!), args: [dsh, srcShadow, val(s.size)] };
        out.push(...copyWithConstEnds(rx.constPointer(s.dest, val), srcShadowed ? rx.constPointer(s.src, val) : null, zero, add));
        return;
      }
      case "memory.fill": {
        if (!hasShadow(a.ptr.of(s.dest))) return;
        const dest = temp(val(s.dest), out, "a");
        const fill: Expr = { kind: "memory.fill", type: "none", dest: rx.shadowAddress(s.dest, dest, () => "memory.fill", val)!, value: i32(0), size: val(s.size) };
        const destConst = rx.constPointer(s.dest, val);
        out.push(destConst ? ifElse(destConst, [], [fill]) : fill);
        return;
      }
      case "store": {
        const p = a.ptr.of(s.addr);
        if (!hasShadow(p)) return;
        if (!isFloat(s.value.type)) {
          // an integer overwrote the bytes: before it, their adjoints are zero; the recording sweep's
          // log entry for a word written into a caller's memory is dropped
          out.push(rx.zeroShadowOf(s, temp(val(s.addr), out, "a"), val));
          if (s.op === "i32.store" && !rx.owned(s.addr)) out.push({ kind: "call", type: "none", func: UNLOG_WORD, args: [] });
          return;
        }
        const t = s.value.type as ValType;
        const addr = temp(val(s.addr), out, "a");
        // an active value stored through a Const pointer kept in memory stops the call (as in forward mode)
        const sa = temp(rx.shadowAddress(s.addr, addr, () => s.op, val, a.act.isActive(s.value) ? "pass" : "zero", s.offset)!, out, "sa");
        const adj = temp({ kind: "load", type: t, op: `${t}.load`, addr: sa, offset: s.offset, align: s.align }, out, "adj");
        // the store overwrote the location: its seed is consumed here
        out.push({ ...s, addr: sa, value: zero(t) });
        return propagate(s.value, adj, out, val);
      }
      default: return;
    }
  };

  const FINAL = -1, START = -2;
  // ---- checkpointed loops: per loop, driver blocks and replayed (augmented) copies of its blocks ----
  const drivers = new Map<number, { init: number; seg: number; guard: number; tail: number; next: number; every: number; segStart: number; first: number; sp: number; copy: (b: number) => number; counters: Map<number, number> }>();
  function driver(ck: CheckpointedLoop) {
    let dv = drivers.get(ck.loop.header);
    if (!dv) {
      const base = -1000 - 10 * drivers.size;
      const counters = new Map([...loops.keys()].filter((h) => ck.loop.blocks.has(h)).map((h) => [h, rx.add("i32", `replay_b${h}_`)]));
      dv = { init: base, seg: base - 1, guard: base - 2, tail: base - 3, next: base - 4, every: rx.add("i32", "every"), segStart: rx.add("i32", "seg_start"),
        first: rx.add("i32", "first_seg"), sp: rx.add("i32", "snapshots"), copy: (b) => 1_000_000 + b, counters };
      drivers.set(ck.loop.header, dv);
    }
    return dv;
  }
  /**
   * The reverse sweep of a checkpointed loop L with count n and segment length k:
   *   init: sp = the tape's top (the snapshots lie below); keep the buffers' final contents on
   *         the tape; start = n − n mod k (the last snapshot), first = 1
   *   seg:  read the snapshot taken at iteration `start` below sp; replay from L's header
   *   guard (before each replayed header): except in the first (last-in-time) segment, stop after k iterations
   *   copies of L's blocks, augmented: they record the segment's tape; the natural exit (first
   *         segment only) goes to the reversal of the exiting block with the segment's count
   *   tail: reverse from the latch with count k − 1
   *   next (L's reversed header with count 0): first = 0; when start = 0 put the final contents
   *         back, drop the snapshots (top = sp) and go on before the loop, else start −= k, seg
   */
  function driverBlocks(ck: CheckpointedLoop): CfgBlock[] {
    const L = ck.loop, dv = driver(ck), rc = revCounterOf(L.header), cc = dv.counters.get(L.header)!;
    const iget = (l: number) => get(l, "i32");
    const blocks: CfgBlock[] = [
      { id: dv.init, body: [set(dv.sp, TAPE.top()), ...ck.keepBuffers(rx, revBases), set(dv.segStart, binary("i32.sub", iget(rc), binary("i32.rem_u", iget(rc), iget(dv.every)))), set(dv.first, i32(1))],
        exit: { kind: "goto", edge: { target: dv.seg, code: [] } } },
      { id: dv.seg, body: ck.pop(rx, revBases, dv.sp), exit: { kind: "goto", edge: { ...augEdge(L.pre, L.header, rx, dv.counters), target: dv.guard } } },
      { id: dv.guard, body: [], exit: { kind: "branch", cond: binary("i32.and", unary("i32.eqz", iget(dv.first)), binary("i32.eq", iget(cc), iget(dv.every))),
        then: { target: dv.tail, code: [] }, else: { target: dv.copy(L.header), code: [] } } },
      { id: dv.tail, body: [set(rc, binary("i32.sub", iget(dv.every), i32(1)))], exit: { kind: "goto", edge: { target: L.latch, code: [] } } },
      { id: dv.next, body: [set(dv.first, i32(0))], exit: { kind: "branch", cond: unary("i32.eqz", iget(dv.segStart)),
        then: { target: L.pre, code: [...ck.restoreBuffers(rx, revBases), ...TAPE.setTop(get(dv.sp, "i32"))] }, else: { target: dv.seg, code: [set(dv.segStart, binary("i32.sub", iget(dv.segStart), iget(dv.every)))] } } },
    ];
    const retarget = (from: number, e: Edge): Edge =>
      !L.blocks.has(e.target) ? { target: from, code: [set(rc, iget(cc))] } // the natural exit: reverse from the exiting block
        : { target: e.target === L.header ? dv.guard : dv.copy(e.target), code: e.code };
    for (const b of L.blocks) {
      const x = augExit(b, rx, dv.counters);
      const exit: CfgBlock["exit"] = x.kind === "goto" ? { kind: "goto", edge: retarget(b, x.edge) }
        : x.kind === "branch" ? { ...x, then: retarget(b, x.then), else: retarget(b, x.else) }
        : x.kind === "switch" ? { ...x, targets: x.targets.map((t) => retarget(b, t)), default: retarget(b, x.default) } : x;
      blocks.push({ id: dv.copy(b), body: [...augCheck(b), ...augBody(b, rx).body], exit });
    }
    return blocks;
  }
  function revCounterOf(h: number) {
    let c = revCounter.get(h);
    if (c === undefined) { c = rx.add("i32", `count_b${h}_`); revCounter.set(h, c); }
    return c;
  }
  const revBlocks: CfgBlock[] = [];
  const sel = rx.add("i32", "edge");
  for (const id of cfg.order) {
    const b = cfg.blocks.get(id)!;
    const out: Expr[] = [];
    const restores = needs.restore.get(id)!;
    const stmtNeeds = needs.stmts.get(id)!;
    for (let k = b.stmts.length - 1; k >= 0; k--) revStmt(b.stmts[k], restores[k], out, stmtNeeds[k].subst);
    // going back along a loop exit enters the loop again: pop its iteration count (outermost first)
    const edge = (to: number, extra: Expr[] = []): Edge => {
      // going back into a checkpointed loop through its exit: its driver replays the segments
      const ck = [...checkpointed.values()].find((c) => c.loop.blocks.has(to) && !c.loop.blocks.has(id));
      if (ck) return { target: driver(ck).init, code: [...TAPE.pop("i32", driver(ck).every), ...TAPE.pop("i32", revCounterOf(ck.loop.header)), ...extra] };
      return { target: to, code: [...exitedLoops(to, id).reverse().flatMap((l) => {
        const r = recounted.get(l.header);
        if (!r) return TAPE.pop("i32", revCounterOf(l.header));
        const c = revCounterOf(l.header);
        return [set(c, rx.remap(r.count)), set(rx.map(r.i), binary("i32.add", rx.remap(r.start), get(c, "i32")))];
      }), ...extra] };
    };
    let exit: CfgBlock["exit"];
    const loop = loops.get(id);
    if (b.preds.length === 0) exit = { kind: "goto", edge: edge(FINAL) };
    else if (b.preds.length === 1) exit = { kind: "goto", edge: edge(b.preds[0]) };
    else if (loop) {
      const c = revCounterOf(id);
      const ck = checkpointed.get(id);
      exit = { kind: "branch", cond: get(c, "i32"), then: edge(loop.latch, [set(c, binary("i32.sub", get(c, "i32"), i32(1)))]),
        else: ck ? { target: driver(ck).next, code: [] } : edge(loop.pre) };
    } else if (joins.has(id)) {
      const j = joins.get(id)!;
      exit = { kind: "branch", cond: rx.remap(j.cond), then: edge(j.onTrue), else: edge(j.onFalse) };
    } else {
      out.push(...TAPE.popByte(sel));
      exit = { kind: "switch", index: get(sel, "i32"), targets: b.preds.map((p) => edge(p)), default: edge(b.preds[0]) };
    }
    revBlocks.push({ id, body: out, exit });
  }
  const revBases = new Map(snapshotBuffers.map((p) => [p, rx.add("i32", `base_p${p}_`)]));
  for (const ck of checkpointed.values()) revBlocks.push(...driverBlocks(ck));
  const start: Expr[] = [...[...revBases].map(([p, l]) => set(l, get(p, "i32")))];
  if (sig.resultActive) start.push(set(rx.derivOf(retLocal), get(seedParam, resultType)));
  for (const l of [...exitPushes].reverse()) start.push(...TAPE.pop(fn.locals[l], rx.map(l)));
  const activeParams = fn.params.flatMap((t, i) => (sig.params[i] === "active" ? [get(rx.derivOf(i), t)] : []));
  revBlocks.push({ id: FINAL, body: [], exit: { kind: "return", value: activeParams.length === 0 ? null : activeParams.length === 1 ? activeParams[0] : { kind: "tuple.make", type: "tuple", values: activeParams } } });
  // deltas are known only now (created on first use); they read the parameters as passed in
  revBlocks.push({ id: START, body: [...rx.deltaInit((p) => shadowParams[p]), ...start], exit: { kind: "goto", edge: { target: cfg.exit, code: [] } } });

  const rsig = reverseSignature(fn, sig);
  // the augmented sweep's deltas (known only now) read its shadow parameters
  const AUG_START = -3;
  const augShadowIndex = new Map(augShadows.map((x, k) => [x.param, fn.params.length + k]));
  augBlocks.push({ id: AUG_START, body: ax.deltaInit((p) => augShadowIndex.get(p)!), exit: { kind: "goto", edge: { target: cfg.entry, code: [] } } });
  const aug0: IRFunction = { name: names.aug, params: [...fn.params, ...augShadows.map((x) => x.type)], results: fn.results, locals: ax.locals, localNames: ax.localNames, body: { kind: "cfg", entry: AUG_START, blocks: augBlocks } };
  const rev0: IRFunction = { name: names.rev, params: rsig.params, results: rsig.results, locals: rx.locals, localNames: rx.localNames, body: { kind: "cfg", entry: START, blocks: revBlocks } };
  // nobody reads the result (`Reverse`): what only it needed goes, and loops left empty (dead-sweep.ts)
  if (resultUnused)
    pruneUnusedResult(aug0, [...exactCounts].map(([h, e]) => {
      const l = loops.get(h)!;
      return { header: h, pre: l.pre, blocks: l.blocks, count: augCounter.get(h)!, i: ax.map(e.i), counters: e.counters.map((m) => ax.map(m)) };
    }), () => ax.add("i32", "final"), (f) => d.module.functions.some((g) => g.name === f) && calleeOf(d.module, f).kind === "intrinsic");
  return { aug: localizeTape(aug0, isImport), rev: localizeTape(foldZeroAdjoints(rev0, rx.derivLocals()), isImport) };
}
