// Which words of a function's own stack frames can hold no float bits. Code at -O0 (Rust's
// above all) keeps every integer in a frame slot and hands `&frame[k]` to callees that write
// results there (`into_iter`'s range, `next`'s `Option<usize>`): the integers loaded back are
// bytes from memory with a shadow, which integer-copies.ts would otherwise have to treat as
// possibly a float's. A frame is memory the function made itself, so while its address does
// not escape, every writer of its words is in view: the function's own stores, and callees
// given pointers into it, summarised by the words they write through each pointer parameter
// and what those values come from. A word is clean when every value written to it is: a
// constant, an i32 parameter, integer arithmetic on clean values, a call's result made of such
// values (what the callee returns, mapped to this function's words), or a load of a clean word. Floats, float bits (reinterpret, i64 values, which may hold a double),
// bytes from memory a caller passed, and writes the analysis cannot place make words dirty;
// so does an escaped frame (its address stored in memory, returned, or handed to a callee that
// lets it escape, to an import or to an indirect call), which anyone may write.
import type { Expr, IRFunction } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { assignmentsOf, constantOf, forEachNode } from "../ir/walk.js";
import { parseSlotKey, slotKey, wordAtCall } from "./memory-pointers.js";
import { stackFrames } from "./stack-frames.js";
import { framePointers, type ParamPointers, parseBase, type Ptr } from "./frame-pointers.js";

/** What a value may come from: bytes that may be a float's (`dirty`), or words of the function's pointer parameters (`o@k`). */
export interface Dep { dirty: boolean; params: Set<string> }
const clean = (): Dep => ({ dirty: false, params: new Set() });
const DIRTY: Dep = { dirty: true, params: new Set() };
function join(a: Dep, b: Dep): Dep {
  if (a.dirty || b.dirty) return DIRTY;
  if (!b.params.size) return a;
  if (!a.params.size) return b;
  return { dirty: false, params: new Set([...a.params, ...b.params]) };
}
const same = (a: Dep, b: Dep) => a.dirty === b.dirty && a.params.size === b.params.size && [...a.params].every((p) => b.params.has(p));

/**
 * What a function does with its pointer parameter: the bytes written through it (by offset),
 * writes at offsets it cannot name, and (frame-pointers.ts) whether the pointer escapes, the
 * pointers it keeps in that memory, and what it writes through the pointers it loads from it.
 */
export interface ParamWrites extends ParamPointers { words: Map<number, Dep>; any: Dep | null }
export type WriteSummary = Map<number, ParamWrites>;

/** The bytes a load or store reaches: `i32.store8` 1, `i64.load32_u` 4, else the type's size. */
export function accessBytes(op: string, type: string): number {
  const m = /(8|16|32)(_[su])?$/.exec(op);
  return m ? Number(m[1]) / 8 : type === "i64" || type === "f64" ? 8 : 4;
}
/** The 4-byte words of a parameter an access of `size` bytes at offset `off` reads (an i64 load: both of its words). */
const paramChunks = (off: number, param: number, size: number) => Array.from({ length: Math.ceil(size / 4) }, (_, i) => `${off + 4 * i}@${param}`);

/** The assignments cleanWords names words with (slotKey): zeros left out. */
export const wordAssignments = (body: Expr) => assignmentsOf(body);

export interface CleanWords {
  /** Whether the `size` bytes (4 unless given) at word `key` hold no float bits. */
  isClean: (key: string, paramClean?: (paramWord: string) => boolean, size?: number) => boolean;
  writes: WriteSummary;
  paramWords: Set<string>;
  /** What its i32/i64 results are made of. */
  returns: Dep;
  /** Who writes the function's frames (inert-frame-args.ts): absent from summaries of callees. */
  frameWrites?: FrameWrites;
}

/** The writers of a function's frames, as far as cleanWords found them. */
export interface FrameWrites {
  frames: Set<number>;
  escaped: Set<number>;
  /** Bytes (`off@frame`) and whole frames written by anyone but the function's own stores at named words. */
  byOthers: { bytes: Set<string>; frames: Set<number> };
  /** The function's own stores at named words, by frame. */
  ownStores: Map<number, { off: number; size: number; store: Expr & { kind: "store" } }[]>;
  /** Whether an integer value is made of constants, integer parameters and clean words only (no float bits, nothing a caller must vouch for). */
  cleanValue: (e: Expr) => boolean;
}

export type CalleeWords = Pick<CleanWords, "writes" | "paramWords" | "returns">;

/**
 * The clean words of fn's frames (by slotKey), what fn writes through its pointer parameters,
 * and what it returns. `calleeWords(f)`: the summary of module function f (null: an import,
 * whose effects are unknown).
 */
export function cleanWords(fn: IRFunction, calleeWords: (f: string) => CalleeWords | null): CleanWords {
  const callee = (f: string) => calleeWords(f)?.writes ?? null;
  const body = fn.body as Expr;
  const np = fn.params.length;
  const assigns = wordAssignments(body);
  const allAssigns = assignmentsOf(body);
  const frames = new Set(stackFrames(body).keys());
  const parse = parseSlotKey;

  // which pointers its frame words hold, which escape, and the summary's pointer part (frame-pointers.ts)
  const fp = framePointers(fn, assigns, frames, (f) => calleeWords(f)?.writes ?? null);
  const escaped = fp.escaped;

  const words = new Map<string, Dep>(), frameAny = new Map<number, Dep>();
  /** Bytes of frames (and frames, anywhere) written otherwise than by the function's own stores at named words (callees, unnamed stores, fills, copies): null until a pass has found them. */
  let byOthers: { bytes: Set<string>; frames: Set<number> } | null = null;
  /** The function's own stores at named words of its frames, by frame. */
  const ownStores = new Map<number, { off: number; size: number; store: Expr & { kind: "store" } }[]>();
  forEachNode(body, (n) => {
    if (n.kind !== "store") return;
    const k = parse(slotKey(n.addr, n.offset, assigns));
    if (k && frames.has(k.root)) ownStores.set(k.root, [...(ownStores.get(k.root) ?? []), { off: k.off, size: accessBytes(n.op, n.value.type), store: n }]);
  });
  /**
   * The one pointer an i32 tree holds, where certain: a parameter or frame plus a constant,
   * through single assignments and words of the function's own frames that only its own
   * i32.stores of that same pointer write (`store 28(F) p; q = load 28(F); load 4(q)` reads
   * word 4 of p's memory). A word written by anyone else (a callee, a wider or narrower
   * store, a fill or copy) is not certain. (As for every word here, a frame word is taken to be
   * written before it is read: code that reads uninitialized stack memory is outside the model.)
   */
  const exactPtr = (e: Expr, depth = 0): Ptr | null => {
    if (depth > 32) return null;
    if (e.kind === "local.get") {
      if (frames.has(e.local) || e.local < np) return { base: `r${e.local}`, off: 0 };
      const vs = assigns.get(e.local) ?? [];
      return vs.length === 1 ? exactPtr(vs[0], depth + 1) : null;
    }
    if (e.kind === "binary" && (e.op === "i32.add" || e.op === "i32.sub")) {
      const r = constantOf(e.right, assigns), l = e.op === "i32.add" && r === null ? constantOf(e.left, assigns) : null;
      const p = r !== null ? exactPtr(e.left, depth + 1) : l !== null ? exactPtr(e.right, depth + 1) : null;
      const by = r !== null ? (e.op === "i32.sub" ? -r : r) : l;
      return p && p.off !== null && by !== null ? { base: p.base, off: p.off + by } : null;
    }
    if (e.kind !== "load" || e.op !== "i32.load" || !byOthers) return null;
    const key = slotKey(e.addr, e.offset, assigns), k = parse(key);
    if (!k || !frames.has(k.root) || escaped.has(k.root) || byOthers.frames.has(k.root)) return null;
    for (let i = 0; i < 4; i++) if (byOthers.bytes.has(`${k.off + i}@${k.root}`)) return null;
    // (no own store of another width or word over these bytes)
    for (const o of ownStores.get(k.root) ?? []) if (o.off < k.off + 4 && k.off < o.off + o.size && (o.off !== k.off || o.store.op !== "i32.store")) return null;
    const vals = (fp.storedAt.get(key) ?? []).map((v) => exactPtr(v, depth + 1));
    if (!vals.length || vals.some((v) => !v || v.base !== vals[0]!.base || v.off !== vals[0]!.off)) return null;
    return vals[0];
  };
  /** A word named through a local that holds a certain pointer (exactPtr), as the parameter's or frame's word it is. */
  const resolve = (key: string): string => {
    const k = parse(key);
    if (!k || frames.has(k.root) || k.root < np) return key;
    const p = exactPtr({ kind: "local.get", type: "i32", local: k.root } as Expr);
    return p && p.off !== null ? `${p.off + k.off}@${p.base.slice(1)}` : key;
  };
  /** The words of parameters the function's values come from (what callers may vouch for). */
  const paramWords = new Set<string>();
  let localDeps = new Map<number, Dep>();
  /** What a word holds: a frame's (as far as known), a parameter's, or unknown memory's. */
  const wordDep = (key: string, size = 4): Dep => {
    const k = parse(resolve(key));
    if (!k) return DIRTY;
    if (k.root < np) {
      const keys = paramChunks(k.off, k.root, size);
      for (const pk of keys) paramWords.add(pk);
      return { dirty: false, params: new Set(keys) };
    }
    if (!frames.has(k.root) || escaped.has(k.root)) return DIRTY;
    // (writes are kept by byte: a wider or shifted store over part of the word counts)
    let d = frameAny.get(k.root) ?? clean();
    for (let i = 0; i < size; i++) d = join(d, words.get(`${k.off + i}@${k.root}`) ?? clean());
    return d;
  };
  /** Whether an address is a constant (module data): consts, sums of them, non-parameter locals only ever assigned them. */
  const fixedAddress = (e: Expr, depth = 0): boolean => {
    // (a local on a cycle of its own assignments, a moving address, is not taken as fixed)
    if (depth > 8) return false;
    if (e.kind === "const") return true;
    if (e.kind === "binary" && e.op === "i32.add") return fixedAddress(e.left, depth + 1) && fixedAddress(e.right, depth + 1);
    if (e.kind !== "local.get" || e.local < np) return false;
    const vs = allAssigns.get(e.local) ?? [];
    return vs.length > 0 && vs.every((v) => fixedAddress(v, depth + 1));
  };
  const valueDep = (e: Expr): Dep => {
    // (an i64 may hold a double's bits where it comes in from outside: a parameter, a call's result)
    if (isFloat(e.type)) return DIRTY;
    switch (e.kind) {
      case "const": case "global.get": case "memory.size": case "memory.grow": return clean();
      case "local.get": {
        if (e.local < np) return fn.params[e.local] === "i32" ? clean() : DIRTY;
        const got = localDeps.get(e.local);
        if (got) return got;
        localDeps.set(e.local, clean()); // a cycle through this local adds nothing new
        let d = clean();
        for (const v of assigns.get(e.local) ?? []) d = join(d, valueDep(v));
        localDeps.set(e.local, d);
        return d;
      }
      // (memory at a constant address, module data such as Rust's `RawVec::NEW`, has no shadow: no
      // derivative is ever stored there (integer-copies.ts and the activity checks refuse it), so
      // whatever its bytes are, they carry none)
      case "load": return fixedAddress(e.addr) ? clean() : wordDep(slotKey(e.addr, e.offset, assigns), accessBytes(e.op, e.type));
      case "unary": return /reinterpret/.test(e.op) || isFloat(e.value.type) ? DIRTY : valueDep(e.value);
      case "binary": return join(valueDep(e.left), valueDep(e.right));
      case "select": return join(join(valueDep(e.ifTrue), valueDep(e.ifFalse)), valueDep(e.cond));
      // what a module function returns, in this function's words; an import's i32 is an integer
      case "call": { const c = calleeWords(e.func); return c ? mapCalleeDep(e, c.returns) : e.type === "i32" ? clean() : DIRTY; }
      default: return DIRTY;
    }
  };

  /** A callee's dependence in this function's words: its parameters' words through the arguments passed. */
  const mapCalleeDep = (call: Expr & { kind: "call" }, d: Dep): Dep => {
    let out: Dep = d.dirty ? DIRTY : clean();
    for (const pk of d.params) { const at = wordAtCall(call, pk, assigns); out = join(out, at ? wordDep(at) : DIRTY); }
    return out;
  };

  type Into = { words: Map<string, Dep>; frameAny: Map<number, Dep>; params: WriteSummary; byOthers: { bytes: Set<string>; frames: Set<number> } };
  const param = (into: Into, p: number) => {
    if (!into.params.has(p)) {
      const ptrs = fp.params.get(p);
      // (the pointer part is structural, found once; the words written through loaded pointers are found with the rest)
      const through = new Map([...(ptrs?.through ?? [])].map(([k, t]) => [k, { words: new Map<number, Dep>(), any: null as Dep | null, escapes: t.escapes }]));
      into.params.set(p, { words: new Map(), any: null, escapes: escaped.has(p), leaks: ptrs?.leaks ?? false, leakBytes: ptrs?.leakBytes ?? new Set(), reads: ptrs?.reads ?? new Set(), readsAny: ptrs?.readsAny ?? false, holds: ptrs?.holds ?? new Map(), through });
    }
    return into.params.get(p)!;
  };
  const throughOf = (into: Into, p: number, k: number) => {
    const w = param(into, p);
    if (!w.through.has(k)) w.through.set(k, { words: new Map(), any: null, escapes: false });
    return w.through.get(k)!;
  };
  const add = <K>(m: Map<K, Dep>, at: K, dep: Dep) => m.set(at, join(m.get(at) ?? clean(), dep));
  /** Records a write of `dep` over `size` bytes at `off` bytes from pointer `p` (anywhere in its memory when either is unknown). */
  const recordAt = (p: Ptr, off: number | null, dep: Dep, into: Into, size: number, own = false) => {
    const b = parseBase(p.base);
    const at = p.off === null || off === null ? null : p.off + off;
    if ("param" in b) {
      const t = throughOf(into, b.param, b.word);
      if (at === null) t.any = join(t.any ?? clean(), dep);
      else for (let i = 0; i < size; i++) add(t.words, at + i, dep);
      return;
    }
    if (frames.has(b.root)) {
      if (at === null) { add(into.frameAny, b.root, dep); into.byOthers.frames.add(b.root); } else for (let i = 0; i < size; i++) {
        add(into.words, `${at + i}@${b.root}`, dep);
        if (!own) into.byOthers.bytes.add(`${at + i}@${b.root}`);
      }
      return;
    }
    if (b.root < np) {
      const w = param(into, b.root);
      if (at === null) w.any = join(w.any ?? clean(), dep);
      else for (let i = 0; i < size; i++) add(w.words, at + i, dep);
    }
    // (any other pointer reaches only escaped memory, whose words are dirty anyway)
  };
  /** Records a write of `dep` over `size` bytes at `offset` from address `addr` (offset null: anywhere the address may reach). */
  /** (`own`: the function's own store at a named word, which exactPtr and inert-frame-args.ts follow) */
  const record = (addr: Expr, offset: number | null, dep: Dep, into: Into, size = 1, own = false) => {
    const k = offset === null ? null : parse(slotKey(addr, offset, assigns));
    if (k && (frames.has(k.root) || k.root < np)) { recordAt({ base: `r${k.root}`, off: 0 }, k.off, dep, into, size, own); return; }
    for (const p of fp.ptrsOf(addr)) recordAt(p, offset, dep, into, size);
  };

  const pass = (): Into => {
    localDeps = new Map();
    const into: Into = { words: new Map(), frameAny: new Map(), params: new Map(), byOthers: { bytes: new Set(), frames: new Set() } };
    for (const p of fp.params.keys()) param(into, p);
    forEachNode(body, (n) => {
      if (n.kind === "store") record(n.addr, n.offset, valueDep(n.value), into, accessBytes(n.op, n.value.type), true);
      if (n.kind === "memory.fill") record(n.dest, null, clean(), into);
      if (n.kind === "memory.copy") record(n.dest, null, DIRTY, into);
      if (n.kind !== "call") return;
      const summary = callee(n.func);
      if (!summary) return; // (an import's pointer arguments escaped above)
      n.args.forEach((a, j) => {
        const w = a.type === "i32" ? summary.get(j) : undefined;
        if (!w) return;
        for (const [o, d] of w.words) record(a, o, mapCalleeDep(n, d), into);
        if (w.any) record(a, null, mapCalleeDep(n, w.any), into);
        // writes through the pointers the callee loads from this memory: through the pointers kept there
        for (const [k, t] of w.through) for (const p of fp.ptrsOf(a)) {
          const b = parseBase(p.base);
          let held: Ptr[];
          if ("param" in b) held = []; // (a pointer kept behind a loaded pointer escaped: frame-pointers.ts)
          else if (frames.has(b.root)) held = p.off === null ? fp.heldIn(b.root) : fp.heldAt(`${p.off + k}@${b.root}`);
          else if (b.root < np && p.off !== null) {
            // (this function's own `through`: the caller places it)
            const mine = throughOf(into, b.root, p.off + k);
            for (const [o, d] of t.words) add(mine.words, o, mapCalleeDep(n, d));
            if (t.any) mine.any = join(mine.any ?? clean(), mapCalleeDep(n, t.any));
            held = [];
          } else held = []; // (an unknown word of a parameter's memory: that memory leaks, frame-pointers.ts)
          for (const h of held) {
            for (const [o, d] of t.words) recordAt(h, o, mapCalleeDep(n, d), into, 1);
            if (t.any) recordAt(h, null, mapCalleeDep(n, t.any), into, 1);
          }
        }
      });
    });
    return into;
  };
  const writes: WriteSummary = new Map();
  for (let i = 0; ; i++) {
    const next = pass();
    // (which bytes others write is structural: found by the first pass, used by exactPtr from the second on)
    const changed = i === 0 || next.words.size !== words.size || [...next.words].some(([k, d]) => !words.has(k) || !same(words.get(k)!, d))
      || next.frameAny.size !== frameAny.size || [...next.frameAny].some(([k, d]) => !frameAny.has(k) || !same(frameAny.get(k)!, d));
    words.clear(); frameAny.clear(); writes.clear();
    for (const [k, d] of next.words) words.set(k, d);
    for (const [k, d] of next.frameAny) frameAny.set(k, d);
    for (const [k, w] of next.params) writes.set(k, w);
    byOthers = next.byOthers;
    if (!changed) break;
    // (deps only grow, over finitely many words; a bound all the same)
    if (i === 64) { for (const f of frames) escaped.add(f); break; }
  }
  // what the function returns (integers made of what)
  localDeps = new Map();
  let returns = clean();
  forEachNode(body, (n) => { if (n.kind === "return" && n.value && !isFloat(n.value.type)) returns = join(returns, valueDep(n.value)); });
  if (body.type === "i32" || body.type === "i64") returns = join(returns, valueDep(body));
  // and every integer word it loads from its parameters' memory (a length passed on to a callee,
  // `Vec::deref`'s): integer-copies.ts asks about those too, and callers may vouch for them
  forEachNode(body, (n) => {
    if (n.kind !== "load" || isFloat(n.type)) return;
    const k = parse(resolve(slotKey(n.addr, n.offset, assigns)));
    if (k && k.root < np) for (const pk of paramChunks(k.off, k.root, accessBytes(n.op, n.type))) paramWords.add(pk);
  });
  // the words of parameters callees' values come from, through pointers into the parameters passed on
  forEachNode(body, (n) => {
    const c = n.kind === "call" ? calleeWords(n.func) : null;
    if (n.kind !== "call" || !c) return;
    for (const pk of c.paramWords) { const at = wordAtCall(n, pk, assigns); if (at && parse(resolve(at))!.root < np) paramWords.add(resolve(at)); }
  });
  /** Whether a word holds no float bits, given which words of the parameters do not (`paramClean`, from the callers). */
  const isClean = (key: string, paramClean: (paramWord: string) => boolean = () => false, size = 4) => {
    key = resolve(key);
    const k = parse(key);
    if (!k) return false;
    if (k.root < np) return paramChunks(k.off, k.root, size).every(paramClean);
    if (!frames.has(k.root)) return false;
    const d = wordDep(key, size);
    return !d.dirty && [...d.params].every(paramClean);
  };
  const cleanValue = (e: Expr) => { localDeps = new Map(); const d = valueDep(e); return !d.dirty && !d.params.size; };
  return { isClean, writes, paramWords, returns, frameWrites: { frames, escaped, byOthers: byOthers ?? { bytes: new Set(), frames: new Set(frames) }, ownStores, cleanValue } };
}
