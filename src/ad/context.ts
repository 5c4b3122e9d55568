// What forward and reverse mode share while generating one derivative function: the
// new function's locals (original parameters, then extra parameters, then the original
// locals, then generated ones), derivative locals per active original local, per-buffer
// shadow offsets, and the materialisation of pure trees into temporaries so that rules
// can refer to operand values without duplicating work.
import type { ActivityAnalysis } from "../analysis/activity.js";
import { hasShadow, type PointerAnalysis, type Provenance } from "../analysis/pointers.js";
import { POINTER_DELTA, RETURN_DELTA } from "../analysis/allocators.js";
import { CONST_DELTA, LOG_WORD, POISON, SINK_WORD, ZERO_WORD } from "./memory-pointers.js";
import type { ActivitySignature } from "../analysis/signature.js";
import { ActivityError, UnsupportedError } from "../errors.js";
import { binary, get, i32, load, set } from "../ir/builder.js";
import type { Call, Expr, IRFunction, Store, ValType } from "../ir/types.js";
import { forEachNode, mapTree } from "../ir/walk.js";
import { printExpr } from "../ir/print.js";
import type { MathCall, Partial } from "./rules/rule.js";

/** Placeholders a rule's partials are built on: operand i and the result, replaced after the rule ran. */
export type ShadowUse = "pass" | "read" | "sink" | "zero";

export const PLACEHOLDER = { operand: (i: number) => -1 - i, result: -100 };

export class DiffContext {
  readonly locals: ValType[];
  readonly localNames: string[];
  private readonly deriv = new Map<number, number>();
  private readonly deltas = new Map<string, number>();
  readonly nExtra: number;

  constructor(
    readonly src: IRFunction, readonly sig: ActivitySignature, readonly act: ActivityAnalysis, readonly ptr: PointerAnalysis,
    extraParams: { type: ValType; name: string }[], readonly math: MathCall, readonly derivSuffix: string,
  ) {
    const np = src.params.length;
    this.nExtra = extraParams.length;
    this.locals = [...src.params, ...extraParams.map((p) => p.type), ...src.locals.slice(np)];
    const name = (i: number) => src.localNames?.[i] ?? `l${i}`;
    this.localNames = [...src.params.map((_, i) => name(i)), ...extraParams.map((p) => p.name), ...src.locals.slice(np).map((_, i) => name(np + i))];
  }

  /** New index of an original local. */
  map(orig: number): number {
    return orig < this.src.params.length ? orig : orig + this.nExtra;
  }
  add(type: ValType, name: string): number {
    this.locals.push(type);
    this.localNames.push(`${name}${this.locals.length - 1}`);
    return this.locals.length - 1;
  }
  /** Rewrites an original tree to the new local numbering. */
  remap(e: Expr): Expr {
    return mapTree(e, (n) => {
      if (n.kind === "local.get") return n.local < 0 ? n : { ...n, local: this.map(n.local) };
      if (n.kind === "local.set") return { ...n, local: this.map(n.local) };
      if (n.kind === "tuple.set") return { ...n, locals: n.locals.map((l) => this.map(l)) };
      return n;
    });
  }

  /** The tangent (forward) or adjoint (reverse) local of an active original local. */
  derivOf(orig: number): number {
    let d = this.deriv.get(orig);
    if (d === undefined) {
      d = this.add(this.src.locals[orig], `${this.src.localNames?.[orig] ?? "l" + orig}${this.derivSuffix}`);
      this.deriv.set(orig, d);
    }
    return d;
  }
  setDeriv(orig: number, local: number) { this.deriv.set(orig, local); }
  /** Every derivative local created so far (new numbering). */
  derivLocals(): Set<number> { return new Set(this.deriv.values()); }

  /** Local holding shadow − primal for a shadowed parameter; set at function entry by `deltaInit`. */
  deltaOf(param: number, view?: number): number {
    const key = view === undefined ? `${param}` : `${param}@${view}`;
    let d = this.deltas.get(key);
    if (d === undefined) { d = this.add("i32", `delta_p${param}${view === undefined ? "" : "_data"}_`); this.deltas.set(key, d); }
    return d;
  }
  /** Deltas at function entry: shadow − primal, or for object parameters the data pointers the object and its shadow object hold. */
  deltaInit(shadowParamOf: (param: number) => number): Expr[] {
    return [...this.deltas].map(([key, d]) => {
      const [p, view] = key.split("@").map(Number);
      if (Number.isNaN(view) || view === undefined) return set(d, binary("i32.sub", get(shadowParamOf(p), "i32"), get(p, "i32")));
      return set(d, binary("i32.sub", load("i32.load", get(shadowParamOf(p), "i32"), view), load("i32.load", get(p, "i32"), view)));
    });
  }

  /** The shadow address (new numbering) for an access through `addr` (new numbering), or why there is none. */
  /**
   * `val` maps an original tree to its value here (the reverse sweep may recompute a local
   * instead of restoring it): the delta of an allocated block is a local like any other.
   */
  /**
   * `use` says what the access does with a shadow that may be a Const pointer's (a delta read
   * from memory, memory-pointers.ts): "read" a tangent (Const data has zero ones: the access is
   * sent to a zero word), "sink" an adjoint or a zero (sent to a word nobody reads), or "pass"
   * the address on or write a derivative there, which for Const data must stop the call: the
   * delta CONST_DELTA puts the address out of bounds; "zero" writes no derivative (an integer's
   * shadow word, a cleared shadow), also where the shadow is unknown. `offset`: the access's own offset.
   */
  shadowAddress(addrOrig: Expr, addrNew: Expr, instr: () => string, val: (e: Expr) => Expr = (e) => this.remap(e), use: ShadowUse = "pass", offset = 0): Expr | null {
    const p: Provenance = this.ptr.of(addrOrig);
    if (p.kind === "arg" && p.shadowed) return binary("i32.add", addrNew, get(this.deltaOf(p.param, p.view), "i32"));
    if (p.kind === "alloc") {
      const d = val(get(p.delta, "i32"));
      const sh = binary("i32.add", addrNew, d);
      if (use === "pass" || !this.ptr.isDynamicDelta(p.delta)) return sh;
      // the word at the global lies at the access's address once the offset is added (the global is far above any field offset)
      const word: Expr = binary("i32.sub", { kind: "global.get", type: "i32", global: use === "read" ? ZERO_WORD : SINK_WORD }, i32(offset));
      // a zero written carries no derivative: memory without a followable shadow (POISON) may take it too
      const cond = use !== "zero" ? binary("i32.eq", d, i32(CONST_DELTA)) : binary("i32.or", binary("i32.eq", d, i32(CONST_DELTA)), binary("i32.eq", d, i32(POISON)));
      return { kind: "select", type: "i32", ifTrue: word, ifFalse: sh, cond };
    }
    if (p.kind === "unknown")
      throw new UnsupportedError(this.src.name, instr(),
        `the address cannot be traced to an argument buffer (${p.why}); pass the data as a Duplicated buffer argument and index it directly` +
        (p.why.includes("different buffers") ? ", or, for optimized code that reuses locals, load the module with { splitLocals: true }" : ""));
    return null;
  }

  /**
   * An i32 store into shadowed memory, and the store of its shadow word beside it (shadowWordOf;
   * memory-pointers.ts). `recording`: reverse mode's recording sweep, which logs the words it
   * writes over a caller's memory.
   */
  storeWithShadowWord(s: Store, val: (e: Expr) => Expr = (e) => this.remap(e), recording = false): Expr[] {
    const a = this.add("i32", "a"), v = this.add("i32", "word");
    const word = get(v, "i32");
    const out: Expr[] = [set(a, val(s.addr)), set(v, val(s.value)), { ...s, addr: get(a, "i32"), value: word }];
    const sh = this.shadowAddress(s.addr, get(a, "i32"), () => `${s.op} ${this.describe(s)}`, val, "zero", s.offset)!;
    const shadowWord = this.shadowWordOf(s.value, word, val);
    // into memory a caller passed, reverse mode's recording sweep logs the word it replaces (the caller's seed)
    if (recording && !this.owned(s.addr)) out.push({ kind: "call", type: "none", func: LOG_WORD, args: [s.offset ? binary("i32.add", sh, i32(s.offset)) : sh, shadowWord] });
    else out.push({ ...s, addr: sh, value: shadowWord });
    return out;
  }

  /**
   * The shadow word of an i32 value (`word`, its value here): its shadow for a pointer with one
   * (a loaded pointer without one: 0), the value + CONST_DELTA for a Const buffer's pointer, a
   * select of the two for a choice between two pointers; 0 for anything else (an integer, an
   * untraced pointer), which also reads as a zero derivative should the bytes become a float.
   */
  private shadowWordOf(orig: Expr, word: Expr, val: (e: Expr) => Expr): Expr {
    const p = this.ptr.of(orig);
    if (p.kind === "arg" && p.shadowed) return binary("i32.add", word, get(this.deltaOf(p.param, p.view), "i32"));
    if (p.kind === "alloc") {
      const d = val(get(p.delta, "i32"));
      const sw = binary("i32.add", word, d);
      return this.ptr.isDynamicDelta(p.delta) ? { kind: "select", type: "i32", ifTrue: i32(0), ifFalse: sw, cond: binary("i32.eq", d, i32(POISON)) } : sw;
    }
    if (p.kind === "arg") return binary("i32.add", word, i32(CONST_DELTA));
    if (orig.kind === "select" && this.ptr.of(orig.ifTrue).kind !== "unknown" && this.ptr.of(orig.ifFalse).kind !== "unknown")
      return { kind: "select", type: "i32", ifTrue: this.shadowWordOf(orig.ifTrue, val(orig.ifTrue), val), ifFalse: this.shadowWordOf(orig.ifFalse, val(orig.ifFalse), val), cond: val(orig.cond) };
    return i32(0);
  }

  /**
   * `global.set RETURN_DELTA …` for a returned i32 (original tree): the delta of the pointer it
   * is (a select of two for a choice), CONST_DELTA for a Const buffer's, POISON for anything else.
   */
  returnDelta(orig: Expr, val: (e: Expr) => Expr = (e) => this.remap(e)): Expr {
    return { kind: "global.set", type: "none", global: RETURN_DELTA, value: this.pointerDeltaOf(orig, val) };
  }

  /** The delta of the pointer an i32 tree (original) is, here: see returnDelta. */
  pointerDeltaOf(e: Expr, val: (e: Expr) => Expr = (x) => this.remap(x)): Expr {
    const p = this.ptr.of(e);
    if (p.kind === "arg") return p.shadowed ? get(this.deltaOf(p.param, p.view), "i32") : i32(CONST_DELTA);
    if (p.kind === "alloc") return val(get(p.delta, "i32"));
    if (e.kind === "select") return { kind: "select", type: "i32", ifTrue: this.pointerDeltaOf(e.ifTrue, val), ifFalse: this.pointerDeltaOf(e.ifFalse, val), cond: val(e.cond) };
    return i32(POISON);
  }

  /** Whether an address reaches a block this function allocated (a frame, malloc): no caller's seeds there. */
  owned(addrOrig: Expr): boolean {
    const p = this.ptr.of(addrOrig);
    return p.kind === "alloc" && !this.ptr.isDynamicDelta(p.delta);
  }

  /** A store of zeros over the shadow of what a store writes (an integer other than an i32 word: no derivative). */
  zeroShadowOf(s: Store, addrNew: Expr, val: (e: Expr) => Expr = (e) => this.remap(e)): Expr {
    const t = s.value.type as ValType;
    const z: Expr = t === "i64" ? { kind: "const", type: "i64", value: 0n } : t === "f64" || t === "f32" ? { kind: "const", type: t, value: 0 } : i32(0);
    return { ...s, addr: this.shadowAddress(s.addr, addrNew, () => `${s.op} ${this.describe(s)}`, val, "zero", s.offset)!, value: z };
  }

  /** `delta == CONST_DELTA` for an address whose delta comes from memory (it may be a Const pointer's), else null. */
  constPointer(addrOrig: Expr, val: (e: Expr) => Expr = (e) => this.remap(e)): Expr | null {
    const p = this.ptr.of(addrOrig);
    return p.kind === "alloc" && this.ptr.isDynamicDelta(p.delta) ? binary("i32.eq", val(get(p.delta, "i32")), i32(CONST_DELTA)) : null;
  }

  /** `d = __ad_pointer_delta(a, a)` as generated: the shadow word read at a's shadow address, or POISON for memory without a shadow. */
  pointerDelta(s: Expr & { kind: "local.set" }, val: (e: Expr) => Expr = (e) => this.remap(e)): Expr[] {
    const addr = (s.value as Call).args[0];
    if (!hasShadow(this.ptr.of(addr))) return [set(this.map(s.local), i32(POISON))];
    const a = this.add("i32", "a");
    // a pointer loaded from a Const buffer reads the zero word: POISON (its shadow is unknown)
    return [set(a, val(addr)), set(this.map(s.local), { kind: "call", type: "i32", func: POINTER_DELTA, args: [get(a, "i32"), this.shadowAddress(addr, get(a, "i32"), () => "i32.load", val, "read")!] })];
  }

  /** For each pointer parameter, the kernel argument it comes from (when known), for messages. */
  origins: Map<number, number> | null = null;

  activityError(what: string, addrOrig: Expr): never {
    const p = this.ptr.of(addrOrig);
    const arg = p.kind === "arg" ? (this.origins ? this.origins.get(p.param) : p.param) : undefined;
    const where = p.kind === "arg" && arg !== undefined ? `argument ${arg} is Const but receives active values; pass it as Duplicated` :
      p.kind === "arg" ? `parameter ${p.param} points into a buffer passed as Const but receives active values; pass that buffer as Duplicated` :
      "memory not derived from any Duplicated argument receives active values (module data or a Const integer address); pass the destination as a Duplicated buffer";
    // clang/rustc at -O0 keep locals on a stack in linear memory, below the global __stack_pointer
    let stack = false;
    forEachNode(this.src.body as Expr, (n) => { if (n.kind === "global.get" && n.global === "__stack_pointer") stack = true; });
    const hint = stack && p.kind === "int" ? " (here most likely memory on the C/Rust stack below __stack_pointer that is not a frame of constant size — alloca, a variable-length array — or a frame the function reaches some other way: frames `__stack_pointer - K` get shadow frames, other stack memory does not; build with -O1 or higher so values stay in Wasm locals, or use malloc)" : "";
    throw new ActivityError(`${this.src.name}: ${what}: ${where}${hint}`);
  }

  describe(e: Expr): string {
    const s = printExpr(e).replace(/\s+/g, " ");
    return s.length > 120 ? s.slice(0, 117) + "..." : s;
  }
}

/** Substitutes placeholders in a partial with the given operand/result expressions. */
export function fillPartial(p: Partial, operands: Expr[], result: () => Expr): Partial {
  if (typeof p === "string") return p;
  return mapTree(p, (n) => {
    if (n.kind !== "local.get" || n.local >= 0) return n;
    if (n.local === PLACEHOLDER.result) return result();
    return operands[-1 - n.local];
  });
}

export function placeholders(types: ValType[], resultType: ValType): { ops: Expr[]; result: Expr } {
  return { ops: types.map((t, i) => get(PLACEHOLDER.operand(i), t)), result: get(PLACEHOLDER.result, resultType) };
}

/** Which placeholders a partial refers to. */
export function partialUses(p: Partial): { operands: Set<number>; result: boolean } {
  const operands = new Set<number>();
  let result = false;
  if (typeof p !== "string")
    mapTree(p, (n) => {
      if (n.kind === "local.get" && n.local < 0) {
        if (n.local === PLACEHOLDER.result) result = true;
        else operands.add(-1 - n.local);
      }
      return n;
    });
  return { operands, result };
}

/** partial · d, folding the unit cases. */
export function scale(p: Partial, d: Expr, t: ValType): Expr | null {
  if (p === "zero") return null;
  if (p === "one") return d;
  if (p === "neg-one") return { kind: "unary", type: t, op: `${t}.neg`, value: d };
  return binary(`${t}.mul`, p, d);
}
