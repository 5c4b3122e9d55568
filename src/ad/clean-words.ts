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
import { assignmentsOf, forEachNode } from "../ir/walk.js";
import { parseSlotKey, slotKey, wordAtCall } from "./memory-pointers.js";
import { stackFrames } from "./stack-frames.js";

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

/** What a function does with its pointer parameter: the bytes written through it (by offset), writes at offsets it cannot name, and whether the pointer escapes. */
export interface ParamWrites { words: Map<number, Dep>; any: Dep | null; escapes: boolean }
export type WriteSummary = Map<number, ParamWrites>;

/** The bytes a load or store reaches: `i32.store8` 1, `i64.load32_u` 4, else the type's size. */
export function accessBytes(op: string, type: string): number {
  const m = /(8|16|32)(_[su])?$/.exec(op);
  return m ? Number(m[1]) / 8 : type === "i64" || type === "f64" ? 8 : 4;
}
/** The 4-byte words of a parameter an access of `size` bytes at offset `off` reads (an i64 load: both of its words). */
const paramChunks = (off: number, param: number, size: number) => Array.from({ length: Math.ceil(size / 4) }, (_, i) => `${off + 4 * i}@${param}`);

/** The assignments cleanWords names words with (slotKey): zeros left out. */
export const wordAssignments = (body: Expr) => assignmentsOf(body, true);

export interface CleanWords {
  /** Whether the `size` bytes (4 unless given) at word `key` hold no float bits. */
  isClean: (key: string, paramClean?: (paramWord: string) => boolean, size?: number) => boolean;
  writes: WriteSummary;
  paramWords: Set<string>;
  /** What its i32/i64 results are made of. */
  returns: Dep;
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
  // (zero aside: an inlined callee's locals start at zero before they get their values)
  const assigns = wordAssignments(body);
  const frames = new Set(stackFrames(body).keys());
  const parse = parseSlotKey;
  const isFrameWord = (key: string) => { const k = parse(key); return !!k && frames.has(k.root); };

  // pointer values this function stores into its own frame words, by word: loads of those words give them back
  const storedAt = new Map<string, Expr[]>();
  const framesPassed = new Set<number>();
  forEachNode(body, (n) => {
    if (n.kind === "store" && n.value.type === "i32") { const key = slotKey(n.addr, n.offset, assigns); if (isFrameWord(key)) storedAt.set(key, [...(storedAt.get(key) ?? []), n.value]); }
  });

  /** The frames and parameters a pointer may reach (through copies, pointer arithmetic and the function's own frame words), and whether it may reach other memory. */
  const rootsOf = (e: Expr, seen = new Set<string>()): { roots: Set<number>; unknown: boolean } => {
    const roots = new Set<number>();
    let unknown = false;
    const visit = (x: Expr) => {
      switch (x.kind) {
        case "local.get": {
          if (seen.has(`l${x.local}`)) return;
          seen.add(`l${x.local}`);
          if (frames.has(x.local) || x.local < np) { roots.add(x.local); return; }
          for (const v of assigns.get(x.local) ?? []) visit(v);
          return;
        }
        case "load": {
          const key = slotKey(x.addr, x.offset, assigns);
          if (x.op !== "i32.load" || !isFrameWord(key)) { unknown = true; return; }
          if (seen.has(key)) return;
          seen.add(key);
          for (const v of storedAt.get(key) ?? []) visit(v);
          // callees given a pointer into the frame may have written a pointer there too
          if (framesPassed.has(parse(key)!.root)) unknown = true;
          return;
        }
        case "call": case "call_indirect": unknown = true; return;
        case "binary": visit(x.left); visit(x.right); return;
        case "select": visit(x.ifTrue); visit(x.ifFalse); return;
        default: return;
      }
    };
    visit(e);
    return { roots, unknown };
  };
  // frames whose pointers are handed to callees (they may read pointers kept in them)
  // (the derivative code's own helpers, `__ad_shadow_alloc(size, frame)`, read none of the kernel's words)
  forEachNode(body, (n) => {
    if ((n.kind === "call" && !n.func.startsWith("__ad_")) || n.kind === "call_indirect") for (const a of n.args) if (a.type === "i32") for (const r of rootsOf(a).roots) if (frames.has(r)) framesPassed.add(r);
  });

  // escapes: a pointer stored into memory other than the function's own frame words (or into
  // frames whose pointers callees get), returned, or handed to a callee that lets it escape
  const escaped = new Set<number>();
  const escape = (e: Expr) => { for (const r of rootsOf(e).roots) escaped.add(r); };
  forEachNode(body, (n) => {
    if (n.kind === "store" && n.value.type === "i32") {
      const k = parse(slotKey(n.addr, n.offset, assigns));
      if (!k || !frames.has(k.root) || framesPassed.has(k.root)) escape(n.value);
    }
    if (n.kind === "return" && n.value?.type === "i32") escape(n.value);
    // bytes copied out may hold pointers into it
    if (n.kind === "memory.copy") escape(n.src);
    if (n.kind === "call_indirect") n.args.forEach((a) => { if (a.type === "i32") escape(a); });
    if (n.kind === "call") {
      const s = callee(n.func);
      n.args.forEach((a, j) => { if (a.type === "i32" && (!s || s.get(j)?.escapes)) escape(a); });
    }
  });
  if (body.type === "i32") escape(body);

  const words = new Map<string, Dep>(), frameAny = new Map<number, Dep>();
  /** The words of parameters the function's values come from (what callers may vouch for). */
  const paramWords = new Set<string>();
  let localDeps = new Map<number, Dep>();
  /** What a word holds: a frame's (as far as known), a parameter's, or unknown memory's. */
  const wordDep = (key: string, size = 4): Dep => {
    const k = parse(key);
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
      case "load": return wordDep(slotKey(e.addr, e.offset, assigns), accessBytes(e.op, e.type));
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

  type Into = { words: Map<string, Dep>; frameAny: Map<number, Dep>; params: WriteSummary };
  const param = (into: Into, p: number) => { if (!into.params.has(p)) into.params.set(p, { words: new Map(), any: null, escapes: escaped.has(p) }); return into.params.get(p)!; };
  /** Records a write of `dep` over `size` bytes at `key` (or anywhere the address may reach, when it names no word). */
  const record = (key: string, addr: Expr, dep: Dep, into: Into, size = 1) => {
    const k = parse(key);
    const add = <K>(m: Map<K, Dep>, at: K) => m.set(at, join(m.get(at) ?? clean(), dep));
    if (k && frames.has(k.root)) { for (let i = 0; i < size; i++) add(into.words, `${k.off + i}@${k.root}`); return; }
    if (k && k.root < np) { for (let i = 0; i < size; i++) add(param(into, k.root).words, k.off + i); return; }
    for (const r of rootsOf(addr).roots) {
      if (frames.has(r)) add(into.frameAny, r);
      else { const w = param(into, r); w.any = join(w.any ?? clean(), dep); }
    }
  };

  const pass = (): Into => {
    localDeps = new Map();
    const into: Into = { words: new Map(), frameAny: new Map(), params: new Map() };
    for (let p = 0; p < np; p++) if (escaped.has(p)) param(into, p);
    forEachNode(body, (n) => {
      if (n.kind === "store") record(slotKey(n.addr, n.offset, assigns), n.addr, valueDep(n.value), into, accessBytes(n.op, n.value.type));
      if (n.kind === "memory.fill") record("", n.dest, clean(), into);
      if (n.kind === "memory.copy") record("", n.dest, DIRTY, into);
      if (n.kind !== "call") return;
      const summary = callee(n.func);
      if (!summary) return; // (an import's pointer arguments escaped above)
      n.args.forEach((a, j) => {
        const w = a.type === "i32" ? summary.get(j) : undefined;
        if (!w) return;
        const b = parse(slotKey(a, 0, assigns));
        for (const [o, d] of w.words) record(b ? `${b.off + o}@${b.root}` : "", a, mapCalleeDep(n, d), into);
        if (w.any) record("", a, mapCalleeDep(n, w.any), into);
      });
    });
    return into;
  };
  const writes: WriteSummary = new Map();
  for (let i = 0; ; i++) {
    const next = pass();
    const changed = next.words.size !== words.size || [...next.words].some(([k, d]) => !words.has(k) || !same(words.get(k)!, d))
      || next.frameAny.size !== frameAny.size || [...next.frameAny].some(([k, d]) => !frameAny.has(k) || !same(frameAny.get(k)!, d));
    words.clear(); frameAny.clear(); writes.clear();
    for (const [k, d] of next.words) words.set(k, d);
    for (const [k, d] of next.frameAny) frameAny.set(k, d);
    for (const [k, w] of next.params) writes.set(k, w);
    if (!changed) break;
    // (deps only grow, over finitely many words; a bound all the same)
    if (i === 64) { for (const f of frames) escaped.add(f); break; }
  }
  // what the function returns (integers made of what)
  localDeps = new Map();
  let returns = clean();
  forEachNode(body, (n) => { if (n.kind === "return" && n.value && !isFloat(n.value.type)) returns = join(returns, valueDep(n.value)); });
  if (body.type === "i32" || body.type === "i64") returns = join(returns, valueDep(body));
  // the words of parameters callees' values come from, through pointers into the parameters passed on
  forEachNode(body, (n) => {
    const c = n.kind === "call" ? calleeWords(n.func) : null;
    if (n.kind !== "call" || !c) return;
    for (const pk of c.paramWords) { const at = wordAtCall(n, pk, assigns); if (at && parse(at)!.root < np) paramWords.add(at); }
  });
  /** Whether a word holds no float bits, given which words of the parameters do not (`paramClean`, from the callers). */
  const isClean = (key: string, paramClean: (paramWord: string) => boolean = () => false, size = 4) => {
    const k = parse(key);
    if (!k) return false;
    if (k.root < np) return paramChunks(k.off, k.root, size).every(paramClean);
    if (!frames.has(k.root)) return false;
    const d = wordDep(key, size);
    return !d.dirty && [...d.params].every(paramClean);
  };
  return { isClean, writes, paramWords, returns };
}
