// Bytes moved through integers: `i64.load` / `i64.store` of a struct copy, `load8_u` /
// `store8` in a memcpy compiled as a function, the sign bit of a double flipped with
// `i64.xor`. Where the source memory has a shadow, those bytes may be floats, and the
// integer path carries no derivative: the copy's shadow would silently stay behind.
// Without type information that tells floats from integers in memory, such a flow (an
// integer loaded from shadowed memory reaching a store into shadowed memory, through any
// integer arithmetic and locals) is refused with the remedy, never differentiated.
import type { Analyzed } from "./differentiator.js";
import { hasShadow } from "../analysis/pointers.js";
import { UnsupportedError } from "../errors.js";
import { printExpr } from "../ir/print.js";
import type { Expr } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { assignmentsOf, children, forEachNode } from "../ir/walk.js";
import { accessBytes, type Dep, wordAssignments } from "./clean-words.js";
import { computedInteger, integerEvidence, type ParameterWords, parseSlotKey, slotKey, wordAtCall } from "./memory-pointers.js";

export function refuseIntegerCopies(a: Analyzed, isEntry: boolean, isModuleFunction: (name: string) => boolean, mode: "forward" | "reverse",
  calleeWords: (name: string) => ParameterWords = () => ({ ints: new Map(), floats: new Map(), typed: new Set() }),
  /** Whether the bytes at a word (slotKey) of the function's own frames can hold no float bits (clean-words.ts). */
  cleanFrameWord: (key: string, size: number) => boolean = () => false,
  /** What a module function's i32 result is made of (clean-words.ts), null where unknown. */
  calleeReturns: (name: string) => Dep | null = () => null): void {
  const fn = a.fn;
  const keyAssigns = wordAssignments(fn.body as Expr);
  // across calls: a double fits an i64, so an i64 parameter (of a function the kernel calls) and
  // an i64 returned by a function of the module may hold a double's bytes; narrower integers
  // through calls are taken as integers (an i32 carrying an f32's bits through a call is not seen)
  const tainted = new Set<number>(isEntry ? [] : fn.params.flatMap((t, i) => (t === "i64" ? [i] : [])));
  /** Whether an integer tree carries bytes loaded from shadowed memory. */
  // otherwise a call's result is no copy of its arguments (an allocator's size, say): only operators carry bytes
  const carries = (e: Expr): boolean => {
    if (isFloat(e.type)) return false;
    // an i64 of the module may hold a double; an i32 that a callee made of bytes that may be a float's (`return *(int *)&f`)
    if (e.kind === "call") {
      if (!isModuleFunction(e.func)) return false;
      if (e.type === "i64") return true;
      const r = e.type === "i32" ? calleeReturns(e.func) : null;
      if (!r) return false;
      return r.dirty || [...r.params].some((pk) => { const at = wordAtCall(e, pk, keyAssigns); return !at || !cleanFrameWord(at, 4); });
    }
    if (e.kind === "call_indirect") return e.type === "i64";
    // (a word of the function's own frame that only integers are written to holds no float)
    if (e.kind === "load") return hasShadow(a.ptr.of(e.addr)) && !cleanFrameWord(slotKey(e.addr, e.offset, keyAssigns), accessBytes(e.op, e.type));
    if (e.kind === "local.get") return tainted.has(e.local);
    return children(e).some(carries);
  };
  const sets: { local: number; value: Expr }[] = [];
  forEachNode(fn.body as Expr, (n) => { if (n.kind === "local.set" && !isFloat(fn.locals[n.local])) sets.push({ local: n.local, value: n.value }); });
  for (let changed = true; changed;) {
    changed = false;
    for (const s of sets) if (!tainted.has(s.local) && carries(s.value)) { tainted.add(s.local); changed = true; }
  }
  let evidence: { slots: Set<string>; locals: Set<number> } | null = null;
  const assigns = assignmentsOf(fn.body as Expr);
  // a word is an integer's when the function uses it (or a load of the same word) as one, or
  // stores into that word an i32 made of no loaded bytes (computed by integer arithmetic)
  const ints = () => {
    if (evidence) return evidence;
    evidence = integerEvidence(fn);
    // (computed: not a constant, whose bits a float can have, as in `u.i = 0x3f800000`, nor a parameter passed along)
    // or a pointer the analyses trace to a buffer (an argument's, a block's): no float either
    // (the kernel's own integer parameters come from the caller's numbers: integers)
    const pointer = (v: Expr) => {
      const p = a.ptr.of(v);
      return p.kind === "arg" || (p.kind === "alloc" && !a.ptr.isDynamicDelta(p.delta)) || (isEntry && v.kind === "local.get" && v.local < fn.params.length);
    };
    forEachNode(fn.body as Expr, (n) => {
      if (n.kind === "store" && n.op === "i32.store" && !carries(n.value) && (computedInteger(n.value, assigns, fn.params.length) || pointer(n.value)))
        evidence!.slots.add(slotKey(n.addr, n.offset, assigns));
    });
    // words a callee shows to be integers, through the pointer it gets (`&frame[k]`)
    for (const k of calleeSlots((w) => w.ints)) evidence.slots.add(k);
    return evidence;
  };
  /** The words (by slotKey) callees show something of, through pointers to them passed as arguments. */
  const calleeSlots = (which: (w: ParameterWords) => Map<number, Set<number>>): string[] => {
    const out: string[] = [];
    forEachNode(fn.body as Expr, (n) => {
      if (n.kind !== "call" || !isModuleFunction(n.func)) return;
      const known = which(calleeWords(n.func));
      n.args.forEach((arg, j) => {
        const m = arg.type === "i32" && known.has(j) ? parseSlotKey(slotKey(arg, 0, assigns)) : null;
        if (m) for (const o of known.get(j)!) out.push(`${m.off + o}@${m.root}`);
      });
    });
    return out;
  };
  /** Words the function also reads or writes as floats (a union, a float's sign tested as an integer). */
  let floats: Set<string> | null = null;
  const floatSlots = () => {
    if (floats) return floats;
    floats = new Set<string>();
    forEachNode(fn.body as Expr, (n) => {
      if (n.kind === "load" && isFloat(n.type)) floats!.add(slotKey(n.addr, n.offset, assigns));
      if (n.kind === "store" && isFloat(n.value.type)) floats!.add(slotKey(n.addr, n.offset, assigns));
    });
    // and words callees read or write as floats, through pointers to them
    for (const k of calleeSlots((w) => w.floats)) floats.add(k);
    return floats;
  };
  const mixed = (st: Expr & { kind: "store" }) => floatSlots().has(slotKey(st.addr, st.offset, assigns)) || loadsOf(st.value).some((k) => floatSlots().has(k));
  /** The words of the i32 loads a value is made of (through locals); "?" for anything else loaded. */
  const loadsOf = (e: Expr, seen = new Set<number>()): string[] => {
    const out: string[] = [];
    forEachNode(e, (x) => {
      if (x.kind === "load") out.push(x.op === "i32.load" ? slotKey(x.addr, x.offset, assigns) : "?");
      if (x.kind === "local.get" && !seen.has(x.local)) { seen.add(x.local); for (const v of assigns.get(x.local) ?? []) out.push(...loadsOf(v, seen)); }
      if (x.kind === "local.get" && x.local < fn.params.length && tainted.has(x.local)) out.push("?");
      // a callee's result made of bytes that may be a float's: no word shows it to be an integer
      if ((x.kind === "call" || x.kind === "call_indirect") && carries(x)) out.push("?");
    });
    return out;
  };
  /** Whether an i32 tree is 0 or 1 made by a comparison: a comparison, `eqz`, `&` with one, or a local only ever assigned such. */
  const truthSeen = new Set<number>();
  const isTruth = (e: Expr, depth = 0): boolean => {
    if (depth > 32 || e.type !== "i32") return false;
    if (e.kind === "unary") return e.op === "i32.eqz" || e.op === "i64.eqz";
    if (e.kind === "binary") {
      if (/\.(eq|ne|lt_[su]|gt_[su]|le_[su]|ge_[su]|lt|gt|le|ge)$/.test(e.op)) return true;
      return e.op === "i32.and" && (isTruth(e.left, depth + 1) || isTruth(e.right, depth + 1));
    }
    if (e.kind !== "local.get" || e.local < fn.params.length) return false;
    // (a cycle of copies adds no value that is not a truth value)
    if (truthSeen.has(e.local)) return true;
    truthSeen.add(e.local);
    const vs = assigns.get(e.local) ?? [];
    const ok = vs.length > 0 && vs.every((v) => isTruth(v, depth + 1));
    truthSeen.delete(e.local);
    return ok;
  };
  /** Whether a stored word is shown to be an integer: the value (its local) or every word it is loaded from. */
  const isInteger = (v: Expr) => (v.kind === "local.get" && ints().locals.has(v.local)) || loadsOf(v).every((k) => ints().slots.has(k));
  // a pointer kept in a word whose bytes the function also overwrites in part (`i32.store8` over
  // one of them): the word's shadow word, which says where the pointer's shadow is, would be
  // left describing the old pointer
  const pointerWords: { off: number; root: number }[] = [];
  forEachNode(fn.body as Expr, (n) => {
    if (n.kind !== "store" || n.op !== "i32.store" || !hasShadow(a.ptr.of(n.addr)) || !hasShadow(a.ptr.of(n.value))) return;
    const k = parseSlotKey(slotKey(n.addr, n.offset, assigns));
    if (k) pointerWords.push(k);
  });
  if (pointerWords.length) forEachNode(fn.body as Expr, (n) => {
    if (n.kind !== "store" || isFloat(n.value.type) || n.op === "i32.store" || n.op === "i64.store") return;
    const k = parseSlotKey(slotKey(n.addr, n.offset, assigns));
    const bytes = accessBytes(n.op, n.value.type);
    if (k && pointerWords.some((w) => w.root === k.root && k.off < w.off + 4 && w.off < k.off + bytes))
      throw new UnsupportedError(fn.name, printExpr(n, 0, fn.localNames).replace(/\s+/g, " ").slice(0, 120),
        "this store overwrites part of a word where the function keeps a pointer, whose shadow would then be lost; store the pointer whole (i32.store)");
  });
  forEachNode(fn.body as Expr, (n) => {
    // an integer loaded from shadowed memory passed to a function that may store it (a float's
    // bits handed to a helper as an int): in reverse mode only if either side shows it to be an
    // integer or a pointer
    // (the derivative code's own helpers, `__ad_delta_of(p)`, store nothing)
    if (mode === "reverse" && n.kind === "call" && isModuleFunction(n.func) && !n.func.startsWith("__ad_"))
      n.args.forEach((arg, j) => {
        if (arg.type !== "i32" || !carries(arg) || isInteger(arg) || calleeWords(n.func).typed.has(j)) return;
        throw new UnsupportedError(fn.name, `call ${n.func}`,
          `argument ${j} is an integer loaded from memory that has a shadow, and neither this function nor ${n.func} uses it as an integer or a pointer: the bytes may be a float's, whose derivative would not follow the call; pass floats as f32/f64`);
      });
    // a float made of bytes loaded as an integer: its derivative went with the integer path
    if (n.kind === "unary" && /^f(32|64)\.reinterpret_i/.test(n.op) && carries(n.value))
      throw new UnsupportedError(fn.name, printExpr(n, 0, fn.localNames).replace(/\s+/g, " ").slice(0, 120),
        "a float is made of bytes loaded as an integer from memory that has a shadow, so its derivative would be lost; load it as a float (f64.load / f32.load)");
    if (n.kind !== "store" || isFloat(n.value.type) || !carries(n.value)) return;
    // bytes that may be a float's stored where no shadow follows them (module data, a Const
    // integer address): read back as a float, the value would have lost its derivative
    if (!hasShadow(a.ptr.of(n.addr))) {
      if (isInteger(n.value)) return;
      throw new UnsupportedError(fn.name, printExpr(n, 0, fn.localNames).replace(/\s+/g, " ").slice(0, 120),
        "an integer loaded from memory that has a shadow is stored into memory that has none (module data or a Const integer address): the bytes may be a float's, whose derivative would be lost; copy floats with f64/f32 loads and stores into a Duplicated buffer");
    }
    // a word whose shadow word goes with it (memory-pointers.ts): exact in forward mode for any
    // bytes; in reverse mode only for integers and pointers, whose shadows are no adjoints. An
    // integer shown to be one gets shadow word 0, in both modes
    // (or the word it goes to is read back as an integer or an address: no float's bits are used so)
    // a truth value (a comparison's 0 or 1, `& 1` of one) is a new integer, no copy of bytes: its
    // derivative is zero, as for the comparison itself (Rust's `Option` tags and `bool` flags at -O0)
    if (isTruth(n.value)) return;
    const intoInteger = n.op === "i32.store" && ints().slots.has(slotKey(n.addr, n.offset, assigns));
    if (n.op === "i32.store" && ((mode === "forward" && hasShadow(a.ptr.of(n.value))) || ((isInteger(n.value) || intoInteger) && !mixed(n)))) return;
    const p = a.ptr.of(n.addr);
    const frame = p.kind === "alloc" && fn.localNames?.[p.delta]?.startsWith("frame_delta");
    throw new UnsupportedError(fn.name, printExpr(n, 0, fn.localNames).replace(/\s+/g, " ").slice(0, 120),
      "an integer loaded from memory that has a shadow is stored into memory that has one: the bytes may be floats (a byte-wise or i64 copy, a memcpy compiled as a function, bit tricks on a double), and their derivatives would not follow; copy with f64/f32 loads and stores, or mark the copying function with a custom rule" +
      (frame ? ". Here the memory is a C stack frame whose slots stay in memory because the frame's address is passed to a function (at -O0 every local is such a slot): build with -O1 or higher" : ""));
  });
}
