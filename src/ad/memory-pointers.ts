// Pointers kept in memory (Enzyme's shadow pointers in shadow memory). Code at -O0 keeps
// every pointer in a stack slot (`double *p = x` is a store, each `p[i]` loads p again); a
// struct holds pointers (`l->w`); a callee gets `&acc`. Where such memory has a shadow, the
// shadow word beside a pointer holds the pointer's shadow (context.ts, storeWithShadowWord):
//   - every full i32 store into shadowed memory also stores a shadow word at the shadow
//     address: the pointer's shadow for a pointer with one, the value + CONST_DELTA for a
//     Const buffer's pointer, and 0 for anything else (an integer, an untraced pointer), which
//     also reads as a zero derivative should the bytes become a float;
//   - a pointer loaded from shadowed memory gets a delta local, set before the load to
//     `__ad_pointer_delta(address, shadow address)` = shadow word − loaded word, or POISON when
//     the shadow word is 0 (no shadow known).
// POISON (2^31) moves a shadow address outside any memory under 2 GiB, so an access to active
// data through such a pointer traps instead of reading or writing a plausible wrong place;
// CONST_DELTA marks Const data, read as constant at run time. A delta travels from a loaded
// pointer to the locals derived from it as for allocations (allocations.ts), and through
// memory with the word. Reverse mode's recording sweep logs the words it writes over a
// caller's seeds and the entry puts them back (the word log, below).
//
// Which loads are pointers is read from their uses: a loaded word whose value reaches the base
// of an address, a call argument a callee uses as a pointer, or a stored word gets a delta;
// one used only as an integer (a counter, a length) does not.
import { binary, get, i32, load } from "../ir/builder.js";
import type { Expr, IRFunction, ValType } from "../ir/types.js";
import { assignmentsOf, constantOf, forEachNode } from "../ir/walk.js";
import { rewriteStatements } from "../ir/normalize.js";
import { printExpr } from "../ir/print.js";

import { DELTA_OF, POINTER_DELTA } from "../analysis/allocators.js";
/** The delta of a word that holds no pointer that can be followed (2^31 as an i32). */
export const POISON = -0x80000000;
/**
 * The delta of a pointer that has no shadow (a Const buffer's, an integer address of module
 * data): tangents read through it are zero, adjoints sent through it are dropped, and passing
 * it on or writing a derivative through it traps (2^30: no real delta, and out of bounds
 * beside any address of a memory under 1 GiB).
 */
export const CONST_DELTA = 0x40000000;
/** Globals holding the addresses of a zero word (tangents of Const data) and of a word nobody reads (their adjoints). */
export const ZERO_WORD = "__ad_zero_word";
export const SINK_WORD = "__ad_sink_word";

/** `__ad_pointer_delta(addr, shadowAddr)`: shadow word − word, or POISON for a shadow word never written. */
export function pointerDeltaFunction(): IRFunction {
  const s = get(2, "i32");
  return {
    name: POINTER_DELTA, inactive: true, params: ["i32", "i32"], results: ["i32"], locals: ["i32", "i32", "i32"], localNames: ["addr", "shadow_addr", "word"],
    body: { kind: "block", type: "unreachable", label: null, body: [
      { kind: "local.set", type: "none", local: 2, value: load("i32.load", get(1, "i32")), tee: false },
      { kind: "return", type: "unreachable", value: { kind: "select", type: "i32", ifTrue: i32(POISON), ifFalse: binary("i32.sub", s, load("i32.load", get(0, "i32"))),
        cond: { kind: "unary", type: "i32", op: "i32.eqz", value: s } } },
    ] },
  };
}

/** `__ad_delta_of(p)` as a function: generated code replaces each call (context.ts, pointerDeltaOf); one left over gives POISON. */
export function deltaOfFunction(): IRFunction {
  return { name: DELTA_OF, inactive: true, params: ["i32"], results: ["i32"], locals: ["i32"], localNames: ["p"], body: i32(POISON) };
}

/** Stops the call the way an access through a Const pointer's shadow does: out of bounds (2 GiB). */
export const trapOutOfBounds = (): Expr => ({ kind: "drop", type: "none", value: load("i32.load", i32(POISON)) });

/** `if (cond) then else otherwise`, for statements. */
export const ifElse = (cond: Expr, then: Expr[], otherwise: Expr[]): Expr =>
  ({ kind: "if", type: "none", cond, then: { kind: "block", type: "none", label: null, body: then }, else: otherwise.length ? { kind: "block", type: "none", label: null, body: otherwise } : null });

/**
 * The shadow side of a copy whose ends may be Const buffers reached through pointers kept in
 * memory (`destConst`/`srcConst`: the run-time tests, or null where an end cannot be one):
 * `copy` carries the shadow along (forward mode's copy, reverse mode's adjoint transfer; null
 * when the source has no shadow), `zeroDest` clears the destination's. From a Const source the
 * destination's shadow is cleared; into a Const destination only a Const source may copy (data
 * with derivatives would lose them there): otherwise the call stops.
 */
export function copyWithConstEnds(destConst: Expr | null, srcConst: Expr | null, zeroDest: Expr, copy: Expr | null): Expr[] {
  const body = !copy ? [zeroDest] : srcConst ? [ifElse(srcConst, [zeroDest], [copy])] : [copy];
  if (!destConst) return body;
  const intoConst = !copy ? [] : srcConst ? [ifElse(srcConst, [], [trapOutOfBounds()])] : [trapOutOfBounds()];
  return [ifElse(destConst, intoConst, body)];
}

/** Whether e's value points where a local of `ptrs` points (pointer ± integer, masks, select). */
export function readsPointer(e: Expr, ptrs: Set<number>): boolean {
  switch (e.kind) {
    case "local.get": return ptrs.has(e.local);
    case "binary":
      if (e.type !== "i32") return false;
      if (e.op === "i32.sub") return readsPointer(e.left, ptrs) && e.right.kind === "const";
      return ["i32.add", "i32.and", "i32.or", "i32.xor"].includes(e.op) && (readsPointer(e.left, ptrs) || readsPointer(e.right, ptrs));
    case "select": return readsPointer(e.ifTrue, ptrs) || readsPointer(e.ifFalse, ptrs);
    default: return false;
  }
}

/** `from` and the locals (`eligible` ones) some assignment of which reads a pointer of the set, through pointer arithmetic (readsPointer). */
export function pointerClosure(assigns: Map<number, Expr[]>, from: Set<number>, eligible: (l: number) => boolean): Set<number> {
  const out = new Set(from);
  for (let changed = true; changed;) {
    changed = false;
    for (const [l, vs] of assigns) if (!out.has(l) && eligible(l) && vs.some((v) => readsPointer(v, out))) { out.add(l); changed = true; }
  }
  return out;
}

/** What withShadowAllocations needs to know of the function. */
export interface PointerLoadScope {
  params: ValType[]; locals: ValType[];
  /** Locals holding blocks the function allocated (frames included). */
  blocks: Set<number>;
  /** Object parameters' data-pointer fields (read by the pointer analysis itself). */
  views?: Map<number, number[]>;
  /** Whether parameter i of module function f is used as a pointer there. */
  pointerParam: (f: string, i: number) => boolean;
  /** Whether callers use this function's result as a pointer (pointerResultsOf). */
  returnsPointer: boolean;
  /** Whether module function f's derivative hands back the delta of the pointer it returns. */
  pointerResult: (f: string) => boolean;
}

/** Whether an i32 tree is a plain integer: a constant, arithmetic other than pointer arithmetic, a loaded or converted value. */
function intish(e: Expr, assigns: Map<number, Expr[]>, depth = 0): boolean {
  if (constantOf(e, assigns) !== null || e.kind === "unary" || e.kind === "load") return true;
  if (e.kind === "binary") return !["i32.add", "i32.sub", "i32.and", "i32.or", "i32.xor"].includes(e.op);
  if (e.kind !== "local.get" || depth > 16) return false;
  const vs = assigns.get(e.local) ?? [];
  return vs.length > 0 && vs.every((v) => v.kind !== "local.get" && v.kind !== "load" && intish(v, assigns, depth + 1));
}

/**
 * The locals whose values are used as pointers in `body`: the bases of addresses, stored words,
 * arguments a callee uses as pointers, and back through the copies and pointer arithmetic that
 * made them. `known`: locals known to be pointers, which decide which side of a sum is the base.
 */
export function pointerUses(body: Expr, assigns: Map<number, Expr[]>, known: Set<number>, pointerParam: (f: string, i: number) => boolean, returnsPointer = false,
  /** Collects the functions whose calls, nested in a tree, are used as pointers. */
  callBases?: Set<string>): Set<number> {
  const bases = (e: Expr, into: Set<number>): void => {
    if (e.kind === "local.get") { into.add(e.local); return; }
    if (e.kind === "call") { callBases?.add(e.func); return; }
    if (e.kind === "select") { bases(e.ifTrue, into); bases(e.ifFalse, into); return; }
    if (e.kind !== "binary" || e.type !== "i32") return;
    if (e.op === "i32.sub") { bases(e.left, into); return; }
    if (!["i32.add", "i32.and", "i32.or", "i32.xor"].includes(e.op)) return;
    // a known pointer plus something: the something is an offset; else whichever side is no plain integer
    const kl = readsPointer(e.left, known), kr = readsPointer(e.right, known);
    if (kl && !kr) return bases(e.left, into);
    if (kr && !kl) return bases(e.right, into);
    if (!intish(e.left, assigns)) bases(e.left, into);
    if (!intish(e.right, assigns)) bases(e.right, into);
  };
  const used = new Set<number>();
  forEachNode(body, (n) => {
    if (n.kind === "load") bases(n.addr, used);
    if (n.kind === "store") { bases(n.addr, used); if (n.op === "i32.store") bases(n.value, used); }
    if (n.kind === "memory.copy") { bases(n.dest, used); bases(n.src, used); }
    if (n.kind === "memory.fill") bases(n.dest, used);
    if (n.kind === "call") n.args.forEach((a, i) => { if (a.type === "i32" && pointerParam(n.func, i)) bases(a, used); });
    if (n.kind === "call_indirect") n.args.forEach((a) => { if (a.type === "i32") bases(a, used); });
    // a function whose callers use its result as a pointer (a returned reference)
    if (n.kind === "return" && returnsPointer && n.value?.type === "i32") bases(n.value, used);
  });
  for (let changed = true; changed;) {
    changed = false;
    for (const l of [...used]) for (const v of assigns.get(l) ?? []) {
      if (v.kind === "load") continue;
      const s = new Set<number>();
      bases(v, s);
      for (const x of s) if (!used.has(x)) { used.add(x); changed = true; }
    }
  }
  return used;
}

/**
 * Per module: whether a function uses its i32 parameter i as a pointer (directly, by passing
 * it to a callee that does, or by returning it where `returnsPointer`). Unknown callees
 * (imports) and recursion count as no.
 */
export function pointerParamsOf(functions: IRFunction[], returnsPointer: (f: string) => boolean = () => false): (f: string, i: number) => boolean {
  const memo = new Map<string, Set<number>>();
  const visiting = new Set<string>();
  const of = (name: string): Set<number> => {
    const got = memo.get(name);
    if (got) return got;
    const fn = functions.find((f) => f.name === name);
    if (!fn || !fn.body || fn.import || fn.inactive || visiting.has(name)) return new Set();
    visiting.add(name);
    const params = new Set(fn.params.flatMap((t, i) => (t === "i32" ? [i] : [])));
    const used = pointerUses(fn.body as Expr, assignmentsOf(fn.body as Expr), params, (g, j) => of(g).has(j), returnsPointer(name));
    visiting.delete(name);
    const r = new Set([...params].filter((p) => used.has(p)));
    memo.set(name, r);
    return r;
  };
  return (f, i) => of(f).has(i);
}

/**
 * Per module: the functions (with a body, returning one i32) some caller uses the result of as
 * a pointer (`index_mut`, `as_mut_ptr`, a getter returning `&s->data[i]`), through functions
 * that return such results in turn. Their derivative functions hand the returned pointer's
 * delta back in the global RETURN_DELTA.
 */
export function pointerResultsOf(functions: IRFunction[], pointerParam: (f: string, i: number) => boolean): Set<string> {
  const returning = new Set(functions.filter((f) => f.body && !f.import && !f.inactive && f.results.length === 1 && f.results[0] === "i32" && mayReturnPointer(f)).map((f) => f.name));
  const out = new Set<string>();
  for (let changed = true; changed;) {
    changed = false;
    for (const fn of functions) {
      if (!fn.body || fn.import || fn.inactive) continue;
      const body = fn.body as Expr;
      const calls: { local: number; func: string }[] = [];
      let any = false;
      forEachNode(body, (n) => {
        if (n.kind === "call" && returning.has(n.func) && !out.has(n.func)) any = true;
        if (n.kind === "local.set" && n.value.kind === "call" && returning.has(n.value.func) && !out.has(n.value.func)) calls.push({ local: n.local, func: n.value.func });
      });
      if (!any) continue;
      const assigns = assignmentsOf(body);
      const nested = new Set<string>();
      const used = pointerUses(body, assigns, new Set(fn.params.flatMap((t, i) => (t === "i32" ? [i] : []))), pointerParam, out.has(fn.name), nested);
      for (const c of [...calls.filter((c) => used.has(c.local)).map((c) => c.func), ...nested])
        if (returning.has(c) && !out.has(c)) { out.add(c); changed = true; }
    }
  }
  return out;
}

/**
 * Whether what fn returns may be a pointer with a shadow: through copies and pointer
 * arithmetic it comes from a parameter, a loaded word or a call. An address made of globals
 * and constants (a bump allocator nobody named, module data) has none to hand back.
 */
function mayReturnPointer(fn: IRFunction): boolean {
  const body = fn.body as Expr;
  const assigns = assignmentsOf(body);
  const seen = new Set<number>();
  const roots = (e: Expr): boolean => {
    switch (e.kind) {
      case "local.get":
        if (e.local < fn.params.length) return true;
        if (seen.has(e.local)) return false;
        seen.add(e.local);
        return (assigns.get(e.local) ?? []).some(roots);
      case "load": case "call": case "call_indirect": return true;
      case "select": return roots(e.ifTrue) || roots(e.ifFalse);
      case "block": return e.body.length > 0 && roots(e.body[e.body.length - 1]);
      case "binary": return ["i32.add", "i32.sub", "i32.and", "i32.or", "i32.xor"].includes(e.op) && (roots(e.left) || (e.op !== "i32.sub" && roots(e.right)));
      default: return false;
    }
  };
  let may = false;
  forEachNode(body, (n) => { if (n.kind === "return" && n.value && roots(n.value)) may = true; });
  // a body that ends in its value (not in statement form)
  return may || (body.type === "i32" && roots(body));
}

/**
 * Loads of i32 words nested where a pointer is used (`f64.store (i32.add (i32.load p) …)`,
 * a data pointer read again after a call) moved into locals of their own before their
 * statement, so that pointerLoads can give them deltas. Statements are evaluated after their
 * operand trees, which read no memory a statement writes first: the move keeps every value.
 */
export function hoistAddressLoads(body: Expr, fresh: (hint: string) => number): Expr {
  return rewriteStatements(body, (st, out) => {
    const hoist = (e: Expr): Expr => {
      if (e.kind === "load" && e.op === "i32.load") {
        const l = fresh("ptr");
        out.push({ kind: "local.set", type: "none", local: l, value: { ...e, addr: hoist(e.addr) }, tee: false });
        return get(l, "i32");
      }
      if (e.kind === "binary" && e.type === "i32" && ["i32.add", "i32.sub", "i32.and", "i32.or", "i32.xor"].includes(e.op)) return { ...e, left: hoist(e.left), right: e.op === "i32.sub" ? e.right : hoist(e.right) };
      if (e.kind === "select") return { ...e, ifTrue: hoist(e.ifTrue), ifFalse: hoist(e.ifFalse) };
      return e;
    };
    const inAddr = (e: Expr): Expr => (e.kind === "load" ? { ...e, addr: hoist(e.addr) } : mapChildren(e, inAddr));
    switch (st.kind) {
      case "store": { const addr = hoist(st.addr); out.push({ ...st, addr, value: st.op === "i32.store" ? hoist(st.value) : inAddr(st.value) }); return; }
      case "local.set":
        if (st.value.kind === "call") out.push({ ...st, value: { ...st.value, args: st.value.args.map((a) => (a.type === "i32" ? hoist(a) : inAddr(a))) } });
        else if (st.value.kind === "load") out.push({ ...st, value: { ...st.value, addr: hoist(st.value.addr) } });
        // pointer arithmetic on a loaded word (`p = q[k] + 8`)
        else if (st.value.type === "i32" && (st.value.kind === "binary" || st.value.kind === "select")) out.push({ ...st, value: hoist(st.value) });
        else out.push({ ...st, value: inAddr(st.value) });
        return;
      case "memory.copy": { const dest = hoist(st.dest), src = hoist(st.src); out.push({ ...st, dest, src }); return; }
      case "memory.fill": out.push({ ...st, dest: hoist(st.dest) }); return;
      // (a returned reference: `return &p->data[i]`)
      case "return": out.push({ ...st, value: st.value ? (st.value.type === "i32" ? hoist(st.value) : inAddr(st.value)) : null }); return;
      case "call": out.push({ ...st, args: st.args.map((a) => (a.type === "i32" ? hoist(a) : inAddr(a))) }); return;
      default: out.push(st);
    }
  });
}

/** e with f applied to each direct child (pure trees). */
function mapChildren(e: Expr, f: (c: Expr) => Expr): Expr {
  switch (e.kind) {
    case "unary": return { ...e, value: f(e.value) };
    case "binary": return { ...e, left: f(e.left), right: f(e.right) };
    case "select": return { ...e, ifTrue: f(e.ifTrue), ifFalse: f(e.ifFalse), cond: f(e.cond) };
    default: return e;
  }
}

/**
 * The locals assigned words loaded from memory that are pointers (see above), given the
 * statement-form body. Loads through addresses derived from parameters, allocated blocks and
 * such loaded pointers only: a word read at a constant address (module data) stays untracked.
 */
export function pointerLoads(body: Expr, scope: PointerLoadScope): Set<number> {
  const assigns = assignmentsOf(body);
  const i32Params = new Set(scope.params.flatMap((t, i) => (t === "i32" ? [i] : [])));
  // (addr null: a call's result, a pointer wherever it is used as one)
  const loadSets: { local: number; addr: Expr | null }[] = [];
  forEachNode(body, (n) => {
    if (n.kind === "local.set" && n.value.kind === "load" && n.value.op === "i32.load" && n.local >= scope.params.length) {
      const a = n.value.addr;
      const view = a.kind === "local.get" && scope.views?.get(a.local)?.includes(n.value.offset);
      if (!view) loadSets.push({ local: n.local, addr: a });
    }
    if (n.kind === "local.set" && n.value.kind === "call" && scope.pointerResult(n.value.func) && n.local >= scope.params.length && !scope.blocks.has(n.local))
      loadSets.push({ local: n.local, addr: null });
  });
  if (loadSets.length === 0) return new Set();
  let loaded = new Set<number>();
  for (;;) {
    // pointers: parameters, blocks, loaded pointers and locals derived from them
    const known = pointerClosure(assigns, new Set([...i32Params, ...scope.blocks, ...loaded]), (l) => scope.locals[l] === "i32");
    const used = pointerUses(body, assigns, known, scope.pointerParam, scope.returnsPointer);
    const next = new Set(loadSets.filter((s) => used.has(s.local) && (!s.addr || readsPointer(s.addr, known))).map((s) => s.local));
    if (next.size === loaded.size) return next;
    loaded = next;
  }
}

/** The address a load reads, offset included (for the delta's call). */
export function loadAddress(addr: Expr, offset: number): Expr {
  return offset === 0 ? addr : binary("i32.add", addr, i32(offset));
}

/**
 * A name for the memory word an access reaches: its address followed back through locals
 * assigned once (copies, `+ constant`) to a root local that is itself assigned at most once
 * (a frame, a parameter, a block), with the constant offsets summed. Two accesses with the
 * same name reach the same word.
 */
export function slotKey(addr: Expr, offset: number, assigns: Map<number, Expr[]>): string {
  const at = slotOf(addr, offset, assigns);
  return at ? `${at.off}@${at.root}` : `${offset}:${printExpr(addr).replace(/\s+/g, " ")}`;
}

/** slotKey's word as a root local and a constant offset, or null where it names none (without printing the address). */
export function slotOf(addr: Expr, offset: number, assigns: Map<number, Expr[]>): { off: number; root: number } | null {
  const once = (l: number) => (assigns.get(l) ?? []).length <= 1;
  let e = addr, off = offset;
  for (let depth = 0; depth < 32; depth++) {
    if (e.kind === "binary" && e.op === "i32.add") {
      const r = constantOf(e.right, assigns), l = r === null ? constantOf(e.left, assigns) : null;
      if (r !== null) { off += r; e = e.left; continue; }
      if (l !== null) { off += l; e = e.right; continue; }
      break;
    }
    if (e.kind === "local.get") {
      const vs = assigns.get(e.local) ?? [];
      const v = vs.length === 1 ? vs[0] : null;
      const offsetOf = v?.kind === "binary" && v.op === "i32.add" && (constantOf(v.right, assigns) !== null || constantOf(v.left, assigns) !== null);
      if (v && (v.kind === "local.get" || offsetOf)) { e = v; continue; }
    }
    break;
  }
  if (e.kind !== "local.get" || !once(e.local)) return null;
  return { off, root: e.local };
}

/** A slotKey's constant offset and root local, or null for a word it could not name so. */
export function parseSlotKey(key: string): { off: number; root: number } | null {
  const m = /^(-?\d+)@(\d+)$/.exec(key);
  return m ? { off: Number(m[1]), root: Number(m[2]) } : null;
}

/**
 * The caller's word (slotKey) that a callee's parameter word `o@k` (o bytes into what its
 * parameter k points to) is at this call, or null where the argument names no word.
 */
export function wordAtCall(call: Expr & { kind: "call" }, paramWord: string, assigns: Map<number, Expr[]>): string | null {
  const w = parseSlotKey(paramWord)!, arg = call.args[w.root];
  const base = arg?.type === "i32" ? parseSlotKey(slotKey(arg, 0, assigns)) : null;
  return base ? `${base.off + w.off}@${base.root}` : null;
}

/**
 * What the function shows to be integers: words (by slotKey) a load of which is used as an
 * integer (compared, multiplied, shifted, a condition, an index or a pointer), and locals
 * used so (with the locals they are copied or offset from). A float's bits take no part in
 * such arithmetic, so a copy of such a word moves no float: reverse mode may copy its shadow word.
 */
export function integerEvidence(fn: IRFunction): { slots: Set<string>; locals: Set<number> } {
  const body = fn.body as Expr;
  const assigns = assignmentsOf(body);
  const slots = new Set<string>(), locals = new Set<number>();
  const mark = (e: Expr) => forEachNode(e, (x) => {
    if (x.kind === "local.get") locals.add(x.local);
    if (x.kind === "load" && x.op === "i32.load") slots.add(slotKey(x.addr, x.offset, assigns));
  });
  forEachNode(body, (n) => {
    // (masks and sign flips are what bit tricks on floats do: no evidence)
    if (n.kind === "binary" && n.left.type === "i32" && !["i32.add", "i32.sub", "i32.and", "i32.or", "i32.xor"].includes(n.op)) { mark(n.left); mark(n.right); }
    if (n.kind === "unary" && n.value.type === "i32") mark(n.value);
    if (n.kind === "if") mark(n.cond);
    if (n.kind === "br" && n.cond) mark(n.cond);
    if (n.kind === "br_table") mark(n.index);
    if (n.kind === "select") mark(n.cond);
    if (n.kind === "load" || n.kind === "store") mark(n.addr);
    if (n.kind === "memory.copy" || n.kind === "memory.fill") mark(n.size);
  });
  // the operands of an address sum are a base pointer and an index: both integers, back through further sums
  const inAddress = new Set<number>();
  forEachNode(body, (n) => { if (n.kind === "load" || n.kind === "store") forEachNode(n.addr, (x) => { if (x.kind === "local.get") inAddress.add(x.local); }); });
  for (let changed = true; changed;) {
    changed = false;
    for (const l of [...inAddress]) for (const v of assigns.get(l) ?? []) {
      if (v.kind !== "binary" || (v.op !== "i32.add" && v.op !== "i32.sub")) continue;
      for (const side of [v.left, v.right]) if (side.kind === "local.get" && !inAddress.has(side.local)) { inAddress.add(side.local); changed = true; }
    }
  }
  for (const l of inAddress) locals.add(l);
  // back through copies and `± constant`: the same integer
  for (let changed = true; changed;) {
    changed = false;
    for (const l of [...locals]) for (const v of assigns.get(l) ?? []) {
      const src = v.kind === "local.get" ? v : v.kind === "binary" && (v.op === "i32.add" || v.op === "i32.sub") && constantOf(v.right, assigns) !== null ? v.left : null;
      if (src?.kind === "local.get" && !locals.has(src.local)) { locals.add(src.local); changed = true; }
      if (src?.kind === "load" && src.op === "i32.load") slots.add(slotKey(src.addr, src.offset, assigns));
    }
    for (const l of locals) for (const v of assigns.get(l) ?? []) if (v.kind === "load" && v.op === "i32.load") slots.add(slotKey(v.addr, v.offset, assigns));
  }
  return { slots, locals };
}

/** What a function shows about the words and values its parameters carry (see parameterWords). */
export interface ParameterWords {
  /** Per pointer parameter, offsets of words it uses as integers or stores computed integers into. */
  ints: Map<number, Set<number>>;
  /** Per pointer parameter, offsets of words it reads or writes as floats. */
  floats: Map<number, Set<number>>;
  /** i32 parameters it uses as integers or pointers (directly, or through the word it keeps them in). */
  typed: Set<number>;
}

/**
 * A value computed by integer arithmetic: not a constant (a float's bits can be one), not a
 * loaded word, not a parameter passed along (a caller may pass a float's bits as an integer).
 */
export function computedInteger(v: Expr, assigns: Map<number, Expr[]>, params: number, depth = 0): boolean {
  if (depth > 16) return false;
  if (v.kind === "local.get") {
    const vs = assigns.get(v.local) ?? [];
    return v.local >= params && vs.length > 0 && vs.every((x) => computedInteger(x, assigns, params, depth + 1));
  }
  if (v.kind === "const" || v.kind === "load" || v.kind === "call" || v.kind === "call_indirect") return false;
  let loads = false;
  forEachNode(v, (x) => { if (x.kind === "load") loads = true; });
  return !loads && (v.kind === "binary" || v.kind === "unary" || v.kind === "select");
}

/**
 * The words a function shows to be integers or floats through its pointer parameters, by the
 * offsets of slotKey names rooted at the parameter: a caller passing `&frame[k]` learns what
 * words k + offset hold (a range built and advanced by callees; a float a helper writes).
 */
export function parameterWords(fn: IRFunction): ParameterWords {
  const body = fn.body as Expr;
  const assigns = assignmentsOf(body);
  const ev = integerEvidence(fn);
  const words = new Set(ev.slots);
  const floats = new Set<string>();
  const storedParams: { param: number; key: string }[] = [];
  forEachNode(body, (n) => {
    if (n.kind === "store" && n.op === "i32.store") {
      const key = slotKey(n.addr, n.offset, assigns);
      if (computedInteger(n.value, assigns, fn.params.length)) words.add(key);
      if (n.value.kind === "local.get" && n.value.local < fn.params.length) storedParams.push({ param: n.value.local, key });
    }
    if ((n.kind === "load" && (n.type === "f32" || n.type === "f64")) || (n.kind === "store" && (n.value.type === "f32" || n.value.type === "f64")))
      floats.add(slotKey(n.addr, n.offset, assigns));
  });
  const byParam = (keys: Set<string>, skip: Set<string>) => {
    const out = new Map<number, Set<number>>();
    for (const w of keys) {
      const m = parseSlotKey(w);
      if (!m || m.root >= fn.params.length || skip.has(w)) continue;
      if (!out.has(m.root)) out.set(m.root, new Set());
      out.get(m.root)!.add(m.off);
    }
    return out;
  };
  const typed = new Set<number>();
  fn.params.forEach((t, p) => { if (t === "i32" && ev.locals.has(p)) typed.add(p); });
  for (const sp of storedParams) if (ev.slots.has(sp.key) && !floats.has(sp.key)) typed.add(sp.param);
  return { ints: byParam(words, floats), floats: byParam(floats, new Set()), typed };
}

/**
 * Reverse mode's recording sweep writes shadow words into memory a caller passed, where the
 * shadow holds the caller's seeds (the adjoints of the final values). Each such write goes
 * through `__ad_log_word(shadow address, word)`, which keeps the old word on the tape in a
 * linked list (address, old word, previous entry); after the recording sweep the entry calls
 * `__ad_restore_words`, which puts the old words back newest first, so the reverse sweep sees
 * the seeds (deltas were recorded on the tape; nothing reads shadow words after that). The
 * reverse sweep drops an entry where it reverses the store (`__ad_unlog_word`). Shadow words
 * written into frames and blocks on the tape (a caller's frame, reached through a parameter)
 * are not restored: nothing was seeded there, and a later store may have cleared them.
 */
export const WORD_LOG = "__ad_word_log";
export const LOG_WORD = "__ad_log_word", UNLOG_WORD = "__ad_unlog_word", RESTORE_WORDS = "__ad_restore_words";

export function wordLogFunctions(tp: string, grow: string, limit: string): IRFunction[] {
  const g = (name: string): Expr => ({ kind: "global.get", type: "i32", global: name });
  const gs = (name: string, value: Expr): Expr => ({ kind: "global.set", type: "none", global: name, value });
  const set = (l: number, value: Expr): Expr => ({ kind: "local.set", type: "none", local: l, value, tee: false });
  const st = (addr: Expr, value: Expr, offset: number): Expr => ({ kind: "store", type: "none", op: "i32.store", addr, value, offset, align: 4 });
  const log: IRFunction = {
    name: LOG_WORD, inactive: true, params: ["i32", "i32"], results: [], locals: ["i32", "i32"], localNames: ["addr", "word"],
    body: { kind: "block", type: "none", label: null, body: [
      { kind: "if", type: "none", cond: binary("i32.gt_u", binary("i32.add", g(tp), i32(12)), g(limit)), then: { kind: "call", type: "none", func: grow, args: [i32(12)] }, else: null },
      // only the caller's buffers hold seeds: they lie below the tape, and the shadow blocks of
      // frames and allocations (any function's) on it; an entry for those restores nothing (address 0)
      st(g(tp), { kind: "select", type: "i32", ifTrue: get(0, "i32"), ifFalse: i32(0), cond: binary("i32.lt_u", get(0, "i32"), g(ZERO_WORD)) }, 0),
      st(g(tp), load("i32.load", get(0, "i32")), 4), st(g(tp), g(WORD_LOG), 8),
      gs(WORD_LOG, g(tp)), gs(tp, binary("i32.add", g(tp), i32(12))),
      st(get(0, "i32"), get(1, "i32"), 0),
    ] },
  };
  const unlog: IRFunction = {
    name: UNLOG_WORD, inactive: true, params: [], results: [], locals: [], localNames: [],
    body: gs(tp, binary("i32.sub", g(tp), i32(12))),
  };
  const e = 0;
  const restore: IRFunction = {
    name: RESTORE_WORDS, inactive: true, params: [], results: [], locals: ["i32"], localNames: ["entry"],
    body: { kind: "block", type: "none", label: "done", body: [
      set(e, g(WORD_LOG)),
      { kind: "loop", type: "none", label: "next", body: { kind: "block", type: "none", label: null, body: [
        { kind: "br", type: "none", label: "done", cond: { kind: "unary", type: "i32", op: "i32.eqz", value: get(e, "i32") }, value: null },
        { kind: "if", type: "none", cond: load("i32.load", get(e, "i32")), then: st(load("i32.load", get(e, "i32")), load("i32.load", get(e, "i32"), 4), 0), else: null },
        set(e, load("i32.load", get(e, "i32"), 8)),
        { kind: "br", type: "unreachable", label: "next", cond: null, value: null },
      ] } },
    ] },
  };
  return [log, unlog, restore];
}
