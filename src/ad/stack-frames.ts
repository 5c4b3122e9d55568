// The C stack (clang and rustc keep locals whose address is taken, and at -O0 every local, in
// linear memory below the global `__stack_pointer`): a function's frame is allocated by
//     F = __stack_pointer - K;  __stack_pointer = F     … and given back by __stack_pointer = F + K.
// Such a frame is a block like any other allocation: it gets a shadow block of K bytes
// (allocations.ts), and slots holding pointers and integers are read as locals where that is
// exact (object-fields.ts), so a shadow stack follows the C stack.
import type { Expr, IRFunction } from "../ir/types.js";
import { UnsupportedError } from "../errors.js";
import { printExpr } from "../ir/print.js";
import { assignmentsOf, children, constantOf, forEachNode } from "../ir/walk.js";
import { loadOps, storeOps } from "../ir/ops.js";
import { slotOf } from "./memory-pointers.js";

export const STACK_POINTER = "__stack_pointer";

/**
 * Locals that hold a frame (assigned once, `__stack_pointer - K`), with the size K (an i32
 * tree: a constant for a frame, `n * 8` for a variable-length array or alloca). A function
 * that calls others stores the frame to `__stack_pointer`; a leaf uses the memory below the
 * stack pointer without moving it.
 */
export function stackFrames(body: Expr): Map<number, Expr> {
  // (several analyses ask for one function's frames; IR trees are never changed in place)
  let got = framesCache.get(body);
  if (!got) framesCache.set(body, got = findStackFrames(body));
  return got;
}
/** stackFrames per function body; the maps are only read. */
const framesCache = new WeakMap<Expr, Map<number, Expr>>();

function findStackFrames(body: Expr): Map<number, Expr> {
  // (zeros count: the inliner resets only locals a read may see first, definite-assignment.ts)
  const assigns = assignmentsOf(body);
  const only = (l: number) => { const v = assigns.get(l); return v && v.length === 1 ? v[0] : null; };
  // the stack pointer, a copy of it, or a frame (memory carved below a frame is a block of its own)
  const isSP = (e: Expr, depth = 0): boolean => depth < 64 && ((e.kind === "global.get" && e.global === STACK_POINTER)
    || (e.kind === "local.get" && !!only(e.local) && (isSP(only(e.local)!, depth + 1) || isCarved(only(e.local)!, depth + 1))));
  const isCarved = (v: Expr, depth: number): boolean => v.kind === "binary" && v.op === "i32.sub" && isSP(v.left, depth);
  const frames = new Map<number, Expr>();
  for (const [f] of assigns) {
    const v = only(f);
    if (!v || v.kind !== "binary" || v.op !== "i32.sub" || !isSP(v.left)) continue;
    const k = constantOf(v.right, assigns);
    if (k === null || k > 0) frames.set(f, k === null ? v.right : { kind: "const", type: "i32", value: k });
  }
  // (memory reached through another copy of the stack pointer, or two frames carved from one
  // value of it, would alias a frame where the analyses see none: then no frame is known)
  return frames.size && (!framesAccountForStackPointer(body, frames, only) || reachesOutside(body, frames, assigns)) ? new Map() : frames;
}

/**
 * Whether a load or store at a constant offset from a frame of constant size falls outside it
 * (`h + 16` of a 16-byte frame h carved below g is g's first word): frames have shadow blocks
 * of their own, so such an access would read or write the wrong shadow.
 */
function reachesOutside(body: Expr, frames: Map<number, Expr>, assigns: Map<number, Expr[]>): boolean {
  let outside = false;
  forEachNode(body, (n) => {
    if (outside || (n.kind !== "load" && n.kind !== "store")) return;
    // (through copies and constant offsets on either side: `q = h + 24`, `24 + h`)
    const at = slotOf(n.addr, n.offset, assigns);
    if (!at || !frames.has(at.root)) return;
    const size = frames.get(at.root)!;
    const bytes = (n.kind === "load" ? loadOps[n.op] : storeOps[n.op])?.bytes ?? 8;
    if (at.off < 0 || (size.kind === "const" && at.off + bytes > Number(size.value))) outside = true;
  });
  return outside;
}

/** The stack pointer, or a local of `copies`. */
const isStackPointer = (e: Expr, copies: Set<number>): boolean => (e.kind === "global.get" && e.global === STACK_POINTER) || (e.kind === "local.get" && copies.has(e.local));

/** Locals whose one assignment is the stack pointer or such a copy (saved to carve a frame from, or to restore it). */
function stackPointerCopies(body: Expr, only: (l: number) => Expr | null): Set<number> {
  const copies = new Set<number>();
  for (let changed = true; changed;) {
    changed = false;
    forEachNode(body, (n) => { if (n.kind === "local.set" && !copies.has(n.local) && only(n.local) === n.value && isStackPointer(n.value, copies)) { copies.add(n.local); changed = true; } });
  }
  return copies;
}

/** Whether an address is one of `made` or an offset from one. */
const madeFrom = (v: Expr, made: Set<number>): boolean => (v.kind === "local.get" && made.has(v.local))
  || (v.kind === "binary" && (v.op === "i32.add" || v.op === "i32.sub") && (madeFrom(v.left, made) || (v.op === "i32.add" && madeFrom(v.right, made))));

/** A frame and the locals made from it (copies and offsets; a value loaded through it is no address into it). */
function madeOf(body: Expr, frame: number): Set<number> {
  const made = new Set([frame]);
  for (let changed = true; changed;) {
    changed = false;
    forEachNode(body, (n) => { if (n.kind === "local.set" && !made.has(n.local) && madeFrom(n.value, made)) { made.add(n.local); changed = true; } });
  }
  return made;
}

/**
 * Whether every read of the stack pointer carves a frame (`F = sp - K`, directly or through
 * saved copies) or restores it from a saved copy; frames carved from one value of the stack
 * pointer (leaves inlined one after another; a saved copy keeps the value it read) do not live
 * at once: the earlier is not used after the later is carved, nor does its address leave the
 * function's locals (in a leaf, `sp - 16` twice is one block under two names); and a frame
 * given back is not used once a callee or another frame may have been carved over it.
 */
function framesAccountForStackPointer(body: Expr, frames: Map<number, Expr>, only: (l: number) => Expr | null): boolean {
  const copies = stackPointerCopies(body, only);
  const isRead = (e: Expr) => isStackPointer(e, copies);
  // (two frames carved from one local, a saved copy of the stack pointer or a frame, are one
  // block under two names whatever the stack pointer did in between)
  const sources = new Map<number, number>();
  for (const f of frames.keys()) {
    const v = only(f);
    if (v?.kind === "binary" && v.left.kind === "local.get") sources.set(v.left.local, (sources.get(v.left.local) ?? 0) + 1);
  }
  if ([...sources.values()].some((n) => n > 1)) return false;
  let ok = true, at = 0;
  /** Where each frame is carved, and the stack pointer's restores (`sp = saved`, `sp = F + K`): the frames they give back. */
  const carvedAt = new Map<number, number>();
  const pops: { at: number; from: number }[] = [];
  const calls: number[] = [];
  /**
   * Frames carved from each value of the stack pointer (numbered by the sets before its read: a
   * saved copy keeps the value it read), with where: two of one value may be one block.
   */
  let epoch = 0;
  const epochOf = new Map<number, number>();
  const open = new Map<number, { frame: number; at: number }[]>();
  const valueOf = (e: Expr): number => (e.kind === "local.get" ? epochOf.get(e.local) ?? -1 : epoch);
  const twins: { frame: number; until: number }[] = [];
  const gets = new Map<number, { at: number; parent: Expr | null; grand: Expr | null }[]>();
  const visit = (e: Expr, parent: Expr | null, grand: Expr | null) => {
    if (!ok) return;
    at++;
    if (e.kind === "local.get") gets.set(e.local, [...(gets.get(e.local) ?? []), { at, parent, grand }]);
    if (isRead(e)) {
      // (a copy kept to restore the stack pointer from, `__stack_pointer = saved`, as clang's -O2 epilogues do)
      const copy = (parent?.kind === "local.set" && copies.has(parent.local)) || (parent?.kind === "global.set" && parent.global === STACK_POINTER);
      const carving = parent?.kind === "binary" && parent.op === "i32.sub" && parent.left === e && grand?.kind === "local.set" && frames.has(grand.local);
      if (!copy && !carving) { ok = false; return; }
      if (copy && parent?.kind === "local.set") epochOf.set(parent.local, valueOf(e));
      if (carving) {
        const f = (grand as Expr & { kind: "local.set" }).local;
        if (!carvedAt.has(f)) carvedAt.set(f, at);
        const same = open.get(valueOf(e)) ?? [];
        for (const o of same) twins.push({ frame: o.frame, until: at });
        open.set(valueOf(e), [...same, { frame: f, at }]);
      }
    }
    if (e.kind === "local.set" && frames.has(e.local) && !carvedAt.has(e.local)) carvedAt.set(e.local, at);
    if ((e.kind === "call" && !e.func.startsWith("__ad_")) || e.kind === "call_indirect") calls.push(at);
    for (const c of children(e)) visit(c, e, parent);
    if (e.kind === "global.set" && e.global === STACK_POINTER) {
      epoch++;
      // a restore gives back the frames carved from the saved value, or the frame F and those carved after it
      const v = e.value;
      const base = v.kind === "local.get" ? v : v.kind === "binary" && v.op === "i32.add" && v.left.kind === "local.get" ? v.left : null;
      if (base && copies.has(base.local)) {
        const from = Math.min(...[...frames.keys()].filter((f) => { const w = only(f); return w?.kind === "binary" && w.left.kind === "local.get" && w.left.local === base.local; }).map((f) => carvedAt.get(f) ?? Infinity));
        if (Number.isFinite(from)) pops.push({ at, from });
      } else if (base && frames.has(base.local) && v.kind === "binary") pops.push({ at, from: carvedAt.get(base.local) ?? Infinity });
    }
  };
  visit(body, null, null);
  if (!ok) return false;
  // a frame given back and used after (another frame, a callee's, may be carved over it): unknown
  // (read back before anything else may carve over it, a frame given back still holds its bytes: Wasm runs nothing in between)
  const given: { frame: number; until: number }[] = [];
  for (const p of pops) {
    const over = Math.min(...[...carvedAt.values(), ...calls].filter((c) => c > p.at));
    if (Number.isFinite(over)) for (const [f, c] of carvedAt) if (c >= p.from && c < p.at) given.push({ frame: f, until: over });
  }
  for (const t of given) {
    const made = madeOf(body, t.frame);
    for (const l of made) for (const g of gets.get(l) ?? []) if (g.at > t.until) return false;
  }
  for (const t of twins) {
    // the earlier frame and the locals made from it: used only as addresses (it must not escape)
    const made = madeOf(body, t.frame);
    /** Whether a read of an address made from the frame goes into an address (or a local made from it), nowhere else. */
    // (or into the derivative code's own helpers, `__ad_shadow_alloc(size, frame)`, which keep no address)
    const staysAddress = (e: Expr, p: Expr | null): boolean => !!p && ((p.kind === "load" && p.addr === e) || (p.kind === "store" && p.addr === e)
      || (p.kind === "local.set" && made.has(p.local)) || (p.kind === "call" && p.func.startsWith("__ad_")));
    for (const l of made) for (const g of gets.get(l) ?? []) {
      if (g.at > t.until) return false;
      const self = g.parent && children(g.parent).find((c) => c.kind === "local.get" && c.local === l) || null;
      const offset = g.parent?.kind === "binary" && (g.parent.op === "i32.add" || g.parent.op === "i32.sub") && staysAddress(g.parent, g.grand);
      if (!(self && staysAddress(self, g.parent)) && !offset) return false;
    }
  }
  return true;
}

/**
 * Refuses a function that reads the stack pointer other than to carve a frame, or carves frames
 * the analysis cannot take for frames (stackFrames: aliased, reached beyond their size), and
 * reaches memory through it (`f64.load offset=8 (global.get $__stack_pointer)` in a callee: its caller's
 * frame). No analysis here names that memory; taken for module data, a derivative stored there
 * by the caller would silently read as zero.
 */
export function refuseStackPointerAccess(fn: IRFunction): void {
  const body = fn.body as Expr;
  const assigns = assignmentsOf(body);
  const only = (l: number) => { const v = assigns.get(l); return v && v.length === 1 ? v[0] : null; };
  const copies = stackPointerCopies(body, only);
  const isSP = (e: Expr) => isStackPointer(e, copies);
  // reads that carve (`F = sp - K`, or a copy of sp kept for that or to restore it) are the frame analysis's
  const carving = (e: Expr, parent: Expr | null, grand: Expr | null) =>
    (parent?.kind === "local.set" && only(parent.local) === e) || (parent?.kind === "global.set" && parent.global === STACK_POINTER)
    || (parent?.kind === "binary" && parent.op === "i32.sub" && parent.left === e && grand?.kind === "local.set" && only(grand.local) === parent);
  const derived = new Set<number>();
  let stray = false;
  const visit = (e: Expr, parent: Expr | null, grand: Expr | null) => {
    if (isSP(e) && !carving(e, parent, grand)) stray = true;
    for (const c of children(e)) visit(c, e, parent);
  };
  visit(body, null, null);
  // (frames carved here that the frame analysis could not take for frames: aliased, or reached beyond their size)
  if (!stray) {
    const frames = stackFrames(body);
    for (const [l, vs] of assigns) if (vs.length === 1 && vs[0].kind === "binary" && vs[0].op === "i32.sub" && isSP(vs[0].left) && !frames.has(l)) stray = true;
  }
  if (!stray) return;
  const fromSP = (e: Expr): boolean => { let r = false; forEachNode(e, (x) => { if (isSP(x) || (x.kind === "local.get" && derived.has(x.local))) r = true; }); return r; };
  for (let changed = true; changed;) {
    changed = false;
    forEachNode(body, (n) => { if (n.kind === "local.set" && !derived.has(n.local) && fromSP(n.value)) { derived.add(n.local); changed = true; } });
  }
  forEachNode(body, (n) => {
    // (or handed to a callee, which may reach memory through it)
    if ((n.kind === "call" && !n.func.startsWith("__ad_") && n.args.some(fromSP)) || (n.kind === "call_indirect" && n.args.some(fromSP)))
      throw new UnsupportedError(fn.name, n.kind === "call" ? `call ${n.func}` : "call_indirect",
        "an argument comes from the C stack pointer read other than to carve a frame (memory of another function's frame), which no analysis here follows; pass the data as a pointer argument instead");
    if ((n.kind === "load" || n.kind === "store") && fromSP(n.addr))
      throw new UnsupportedError(fn.name, printExpr(n, 0, fn.localNames).replace(/\s+/g, " ").slice(0, 120),
        "the address comes from the C stack pointer read other than to carve a frame (memory of another function's frame, or a frame under another name), which no analysis here follows; pass the data as a pointer argument instead");
  });
}
