// Pointers kept in memory that clean-words.ts can still follow, one level deep. At -O0, core
// keeps `&mut self.len` (a pointer into the caller's Vec) in a struct of its own frame
// (`SetLenOnDrop`) and hands that frame to callees, which write the length through the pointer
// they load back. A frame whose pointer is stored in memory counts as escaped (anyone may write
// it) unless every reader of the word that holds the pointer is in view. This file owns that
// account: which pointers (a parameter's or a frame's address plus an offset) each word of the
// function's own frames may hold, which pointers it stores into its parameters' memory
// (`holds`), what it does through the pointers it loads from its parameters' words
// (`through`), and which of those escape. Everything it cannot place escapes, as before: a
// pointer it cannot follow may only point to escaped memory, which holds no clean words.
import type { Expr, IRFunction } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";
import { accessBytes, type Dep } from "./clean-words.js";
import { parseSlotKey, slotKey } from "./memory-pointers.js";
import { STACK_POINTER } from "./stack-frames.js";

/**
 * A pointer value: a root local (`r5`: a parameter or a frame) or the pointer loaded from word
 * k of what parameter i points to (`t1:8`), plus a byte offset (null: unknown).
 */
export interface Ptr { base: string; off: number | null }
const rootBase = (l: number) => `r${l}`;
const loadedBase = (param: number, word: number) => `t${param}:${word}`;
export function parseBase(b: string): { root: number } | { param: number; word: number } {
  if (b[0] === "r") return { root: Number(b.slice(1)) };
  const [p, w] = b.slice(1).split(":").map(Number);
  return { param: p, word: w };
}

/** What a function does through the pointer it loads from a word of its parameter's memory. */
export interface Through { words: Map<number, Dep>; any: Dep | null; escapes: boolean }

/** The pointer part of a function's summary of one pointer parameter (clean-words.ts's ParamWrites adds the words written). */
export interface ParamPointers {
  /** The pointer may reach memory the summaries do not follow (stored where nobody tracks it, returned, handed to an import). */
  escapes: boolean;
  /** This memory is read at offsets the summary cannot name (or copied out): pointers kept anywhere in it escape. */
  leaks: boolean;
  /** Bytes of this memory read otherwise than as a whole i32 word (an f64, a byte, an i64 copy): a pointer kept over them escapes. */
  leakBytes: Set<number>;
  /** Bytes of this memory it (or a callee) reads, and whether it reads where it cannot name (inert-frame-args.ts). */
  reads: Set<number>;
  readsAny: boolean;
  /** Pointers to parameters' memory (parameter `param` + `off`) the function stores at word k (i32.store at a named offset). */
  holds: Map<number, { param: number; off: number }[]>;
  /** What it does through the pointer loaded from word k. */
  through: Map<number, Through>;
}
export type CalleePointers = (f: string) => Map<number, ParamPointers> | null;

export interface FramePointers {
  /** The pointers an i32 tree may hold, and whether it may hold others (which point only to escaped memory). */
  ptrsOf: (e: Expr) => Ptr[];
  /** The pointers word `key` (slotKey) of one of the function's frames may hold. */
  heldAt: (key: string) => Ptr[];
  /** Every pointer held in a frame (for a word the analysis cannot name). */
  heldIn: (frame: number) => Ptr[];
  escaped: Set<number>;
  /** The values this function stores (i32.store) at each word of its frames, by slotKey. */
  storedAt: Map<string, Expr[]>;
  /** The summary's pointer part, by parameter (only parameters with something to say). */
  params: Map<number, ParamPointers>;
}

const dedupe = (ps: Ptr[]): Ptr[] => {
  const seen = new Map<string, Ptr>();
  for (const p of ps) seen.set(`${p.base}+${p.off}`, p);
  return [...seen.values()];
};
const shift = (ps: Ptr[], by: number | null): Ptr[] => ps.map((p) => ({ base: p.base, off: p.off === null || by === null ? null : p.off + by }));

/**
 * The pointers fn keeps in its frames and parameters' memory. `assigns`: its assignments
 * (zeros left out), `frames`: its frame locals, `callee(f)`: the pointer summary of module
 * function f (null: an import, whose effects are unknown).
 */
export function framePointers(fn: IRFunction, assigns: Map<number, Expr[]>, frames: Set<number>, callee: CalleePointers): FramePointers {
  const body = fn.body as Expr;
  const np = fn.params.length;
  const isFrame = (l: number) => frames.has(l);
  const named = (addr: Expr, offset: number) => parseSlotKey(slotKey(addr, offset, assigns));

  // pointer values this function stores into its own frame words, by word
  const storedAt = new Map<string, Expr[]>();
  // pointers callees store into its frame words (their `holds`), by word
  const heldByCallees = new Map<string, Ptr[]>();
  forEachNode(body, (n) => {
    if (n.kind !== "store" || n.op !== "i32.store") return;
    const k = named(n.addr, n.offset);
    if (k && isFrame(k.root)) { const key = `${k.off}@${k.root}`; storedAt.set(key, [...(storedAt.get(key) ?? []), n.value]); }
  });

  // The pointers each local and each frame word may hold, found together to a fixpoint (a
  // value's pointers depend on the locals and words it reads, whose pointers depend on theirs).
  // A base seen with two offsets keeps the base with an unknown offset, so that a pointer
  // bumped in a loop ends the iteration (and is placed nowhere in particular).
  const localPtrs = new Map<number, Ptr[]>();
  const wordPtrs = new Map<string, Ptr[]>();
  const widen = (ps: Ptr[]): Ptr[] => {
    const byBase = new Map<string, Ptr>();
    for (const p of ps) {
      const had = byBase.get(p.base);
      byBase.set(p.base, !had || had.off === p.off ? p : { base: p.base, off: null });
    }
    return [...byBase.values()];
  };
  const constOf = (x: Expr): number | null => {
    if (x.kind === "const") return Number(x.value);
    if (x.kind !== "local.get") return null;
    const vs = assigns.get(x.local) ?? [];
    return vs.length === 1 && vs[0].kind === "const" ? Number(vs[0].value) : null;
  };
  /** The pointers an i32 tree may hold, from the locals' and words' as they stand (others point only to escaped memory). */
  const ptrs = (e: Expr): Ptr[] => {
    switch (e.kind) {
      case "local.get":
        if (isFrame(e.local) || e.local < np) return [{ base: rootBase(e.local), off: 0 }];
        return localPtrs.get(e.local) ?? [];
      case "load": {
        if (e.op !== "i32.load") return [];
        const k = named(e.addr, e.offset);
        if (!k) return [];
        if (isFrame(k.root)) return wordPtrs.get(`${k.off}@${k.root}`) ?? [];
        if (k.root < np) return [{ base: loadedBase(k.root, k.off), off: 0 }];
        return [];
      }
      // (a pointer through any other operator, of any type, an i64 or a float conversion and back
      // included, may still point into the same memory, at an offset not known)
      case "unary": return shift(ptrs(e.value), null);
      case "binary": {
        // (pointer ± constant keeps its offset; anything else made of a pointer may still point into the same memory)
        const r = constOf(e.right), l = constOf(e.left);
        if (e.type === "i32" && e.op === "i32.add" && r !== null) return shift(ptrs(e.left), r);
        if (e.type === "i32" && e.op === "i32.add" && l !== null) return shift(ptrs(e.right), l);
        if (e.type === "i32" && e.op === "i32.sub" && r !== null) return shift(ptrs(e.left), -r);
        return dedupe(shift([...ptrs(e.left), ...ptrs(e.right)], null));
      }
      case "select": return dedupe([...ptrs(e.ifTrue), ...ptrs(e.ifFalse)]);
      // (a callee returning a pointer it got lets it escape there)
      default: return [];
    }
  };
  const calls: (Expr & { kind: "call" })[] = [];
  forEachNode(body, (n) => { if (n.kind === "call") calls.push(n); });
  const update = <K>(m: Map<K, Ptr[]>, k: K, add: Ptr[]): boolean => {
    const had = m.get(k) ?? [];
    const next = widen(dedupe([...had, ...add]));
    if (next.length === had.length && next.every((p, i) => p.base === had[i].base && p.off === had[i].off)) return false;
    m.set(k, next);
    return true;
  };
  for (let round = 0; ; round++) {
    let changed = false;
    for (const [l, vs] of assigns) {
      if (isFrame(l) || l < np) continue;
      // a local assigned in several places (a pointer bumped in a loop) keeps its bases, not its offsets
      const got = dedupe(vs.flatMap((v) => ptrs(v)));
      if (update(localPtrs, l, vs.length > 1 ? shift(got, null) : got)) changed = true;
    }
    for (const [key, vs] of storedAt) if (update(wordPtrs, key, vs.flatMap((v) => ptrs(v)))) changed = true;
    // what callees store into the function's frame words (their `holds`)
    for (const c of calls) {
      const sm = callee(c.func);
      if (!sm) continue;
      for (const [j, w] of sm) for (const [k, vals] of w.holds) {
        const target = c.args[j] ? ptrs(c.args[j]) : [];
        const values = dedupe(vals.flatMap((v) => (c.args[v.param] ? shift(ptrs(c.args[v.param]), v.off) : [])));
        for (const t of target) {
          const b = parseBase(t.base);
          if (!("root" in b) || !isFrame(b.root) || t.off === null) continue;
          const key = `${t.off + k}@${b.root}`;
          if (update(heldByCallees, key, values)) changed = true;
          if (update(wordPtrs, key, values)) changed = true;
        }
      }
    }
    if (!changed) break;
    // (sets only grow, and widening bounds them: a bound all the same; callers then take the function's pointers to escape)
    if (round === 256) throw new Error("framePointers: no fixpoint");
  }
  const ptrsOf = (e: Expr) => ptrs(e);
  const heldAtKey = (key: string) => wordPtrs.get(key) ?? [];
  const heldIn = (frame: number) => dedupe([...wordPtrs.keys()].filter((k) => parseSlotKey(k)!.root === frame).flatMap(heldAtKey));

  // escapes, and the summary's pointer part
  const escaped = new Set<number>();
  const params = new Map<number, ParamPointers>();
  const param = (p: number) => { if (!params.has(p)) params.set(p, { escapes: false, leaks: false, leakBytes: new Set(), reads: new Set(), readsAny: false, holds: new Map(), through: new Map() }); return params.get(p)!; };
  const through = (p: number, k: number) => { const w = param(p); if (!w.through.has(k)) w.through.set(k, { words: new Map(), any: null, escapes: false }); return w.through.get(k)!; };
  const leakyFrames = new Set<number>();
  const escapePtrs = (ps: Ptr[]) => {
    for (const p of ps) {
      const b = parseBase(p.base);
      if ("root" in b) { escaped.add(b.root); if (b.root < np) param(b.root).escapes = true; }
      else through(b.param, b.word).escapes = true;
    }
  };
  /** Pointers kept in the memory `ps` point to (at the bytes `at` from each, or anywhere: null) may go where the analysis does not follow. */
  const leak = (ps: Ptr[], at: number[] | null = null) => {
    for (const p of ps) {
      const b = parseBase(p.base);
      if (!("root" in b)) { through(b.param, b.word).escapes = true; continue; }
      const bytes = at && p.off !== null ? at.map((x) => x + p.off!) : null;
      if (isFrame(b.root)) {
        if (!bytes) { leakyFrames.add(b.root); continue; }
        // (the words kept over those bytes: a word at w covers w..w+3)
        for (const key of wordPtrs.keys()) {
          const k = parseSlotKey(key)!;
          if (k.root === b.root && bytes.some((x) => x >= k.off && x < k.off + 4)) escapePtrs(heldAtKey(key));
        }
      } else if (b.root < np) {
        if (!bytes) param(b.root).leaks = true;
        else for (const x of bytes) param(b.root).leakBytes.add(x);
      }
    }
  };
  /** Records reads of the bytes `at` from each pointer of `ps` (null: anywhere in its memory). */
  const read = (ps: Ptr[], at: number[] | null) => {
    for (const p of ps) {
      const b = parseBase(p.base);
      // (reading through a loaded pointer: the summary does not follow that memory)
      if (!("root" in b)) { through(b.param, b.word).escapes = true; continue; }
      if (b.root >= np) continue;
      if (!at || p.off === null) param(b.root).readsAny = true;
      else for (const x of at) param(b.root).reads.add(x + p.off);
    }
  };
  const range = (off: number, size: number) => Array.from({ length: size }, (_, i) => off + i);
  forEachNode(body, (n) => {
    switch (n.kind) {
      case "store": {
        // (a pointer carried in a wider or other value stored anywhere: it escapes)
        if (n.value.type !== "i32") { escapePtrs(ptrsOf(n.value)); return; }
        const k = named(n.addr, n.offset);
        if (k && isFrame(k.root) && n.op === "i32.store") return; // (storedAt follows it)
        const vals = ptrsOf(n.value);
        // a pointer to the parameters' memory stored at a word of a parameter's: the caller places it
        if (k && k.root < np && n.op === "i32.store" && vals.length && vals.every((v) => v.off !== null && "root" in parseBase(v.base) && (parseBase(v.base) as { root: number }).root < np)) {
          const w = param(k.root);
          w.holds.set(k.off, [...(w.holds.get(k.off) ?? []), ...vals.map((v) => ({ param: (parseBase(v.base) as { root: number }).root, off: v.off! }))]);
          return;
        }
        escapePtrs(vals);
        return;
      }
      case "load": {
        // (reading through a loaded pointer: pointers kept there are lost to the summary)
        const k = named(n.addr, n.offset);
        const ps = ptrsOf(n.addr);
        read(ps, range(n.offset, accessBytes(n.op, n.type)));
        if (!k || !(isFrame(k.root) || k.root < np)) { leak(ps); return; }
        if (n.op !== "i32.load") leak(ptrsOf(n.addr), range(n.offset, accessBytes(n.op, n.type)));
        return;
      }
      case "return": if (n.value) escapePtrs(ptrsOf(n.value)); return;
      // (a pointer kept in a global: anyone may use it; the stack pointer moved over a frame is no such use)
      case "global.set": if (n.global !== STACK_POINTER) escapePtrs(ptrsOf(n.value)); return;
      case "memory.copy": { const s = ptrsOf(n.src); leak(s); escapePtrs(s); read(s, null); return; }
      case "call_indirect": for (const a of n.args) { escapePtrs(ptrsOf(a)); read(ptrsOf(a), null); } return;
      case "call": {
        const s = callee(n.func);
        n.args.forEach((a, j) => {
          // (a pointer handed on in an i64 or a float: the summaries do not follow it)
          if (a.type !== "i32") { escapePtrs(ptrsOf(a)); return; }
          const w = s ? s.get(j) : undefined;
          if (!s) { escapePtrs(ptrsOf(a)); read(ptrsOf(a), null); return; } // (an import)
          if (!w) return;
          const ps = ptrsOf(a);
          if (w.escapes) escapePtrs(ps);
          if (w.leaks) leak(ps);
          if (w.leakBytes.size) leak(ps, [...w.leakBytes]);
          if (w.readsAny) read(ps, null);
          else if (w.reads.size) read(ps, [...w.reads]);
          for (const [k, t] of w.through) for (const p of ps) {
            const b = parseBase(p.base);
            if ("param" in b) { through(b.param, b.word).escapes = true; continue; }
            if (isFrame(b.root)) { if (t.escapes) escapePtrs(p.off === null ? heldIn(b.root) : heldAtKey(`${p.off + k}@${b.root}`)); continue; }
            if (b.root >= np) continue;
            if (p.off === null) { param(b.root).leaks = true; continue; }
            if (t.escapes) through(b.root, p.off + k).escapes = true;
          }
          for (const [k, vals] of w.holds) {
            const values = dedupe(vals.flatMap((v) => (n.args[v.param] ? shift(ptrsOf(n.args[v.param]), v.off) : [])));
            for (const p of ps.length ? ps : [null]) {
              const b = p ? parseBase(p.base) : null;
              if (p && b && "root" in b && isFrame(b.root) && p.off !== null) continue; // (heldByCallees follows it)
              if (p && b && "root" in b && b.root < np && p.off !== null && values.every((v) => v.off !== null && "root" in parseBase(v.base) && (parseBase(v.base) as { root: number }).root < np)) {
                const w2 = param(b.root);
                w2.holds.set(p.off + k, [...(w2.holds.get(p.off + k) ?? []), ...values.map((v) => ({ param: (parseBase(v.base) as { root: number }).root, off: v.off! }))]);
                continue;
              }
              escapePtrs(values);
            }
          }
        });
        return;
      }
      default: return;
    }
  });
  if (body.type !== "none" && body.type !== "unreachable") escapePtrs(ptrsOf(body));
  // an escaped or leaky frame lets the pointers kept in it escape, and so on
  for (let changed = true; changed;) {
    changed = false;
    for (const f of frames) {
      if (!escaped.has(f) && !leakyFrames.has(f)) continue;
      const before = escaped.size + [...params.values()].filter((w) => w.escapes).length;
      const held = heldIn(f);
      escapePtrs(held);
      // (a pointer loaded from a parameter's word and kept here escapes too)
      if (escaped.size + [...params.values()].filter((w) => w.escapes).length !== before) changed = true;
    }
  }
  for (const p of escaped) if (p < np) param(p).escapes = true;
  return { ptrsOf, heldAt: heldAtKey, heldIn, escaped, params, storedAt };
}
