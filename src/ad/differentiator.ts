// The driver of the AD stage: takes a module, hands out derivative functions per
// (function, mode, activity signature) on request, generates them (and the callees they
// reach, recursion included) and returns the module extended with them.
import { ActivityAnalysis } from "../analysis/activity.js";
import { hasShadow, PointerAnalysis } from "../analysis/pointers.js";
import { StableMemory, StoreSummary } from "../analysis/stable-memory.js";
import { assignmentsOf, forEachNode } from "../ir/walk.js";
import type { ActivitySignature } from "../analysis/signature.js";
import { signatureKey } from "../analysis/signature.js";
import { normalizeFunction, withExplicitZeros, withParamsUnassigned } from "../ir/normalize.js";
import type { CallIndirect, Expr, IRFunction, IRGlobal, IRModule, IRTable, ValType } from "../ir/types.js";
import { sameTypes } from "./calls.js";
import { verifyFunction } from "../ir/verify.js";
import { callResultActive } from "./calls.js";
import { DiffContext } from "./context.js";
import { generateForward } from "./forward.js";
import { generateReverse, reverseSignature } from "./reverse.js";
import type { MathCall } from "./rules/rule.js";
import { TAPE, TAPE_GLOBALS } from "./tape.js";
import { hoistUnstableLoads } from "./hoist-loads.js";
import { cacheNeededOperands } from "./cache-operands.js";
import { specializeRule } from "./specialize-rule.js";
import { UnsupportedError } from "../errors.js";
import { printExpr } from "../ir/print.js";
import { moduleAllocates, shadowAllocFunction, shadowReallocFunctions, withShadowAllocations } from "./allocations.js";
import { inlineAllocatingCalls } from "./inline-allocating.js";
import { COPY_STOP, copyAdjointFunctions, copyStopFunction, lowerMemFunctions, STOP_GLOBAL } from "./bulk-memory.js";
import { refuseIntegerCopies } from "./integer-copies.js";
import { retypeCopies } from "./typed-copies.js";
import { type FloatSummary, type FloatWidths, floatWidths } from "./float-widths.js";
import { type CalleeWords, type CleanWords, cleanWords, type Dep, wordAssignments } from "./clean-words.js";
import { inertFrameArgs } from "./inert-frame-args.js";
import { deltaOfFunction, type ParameterWords, parameterWords, pointerDeltaFunction, wordAtCall, SINK_WORD, WORD_LOG, wordLogFunctions, ZERO_WORD } from "./memory-pointers.js";
import { refuseStackPointerAccess, STACK_POINTER } from "./stack-frames.js";
import { allocatorOf, reallocatorOf, RETURN_DELTA } from "../analysis/allocators.js";

/**
 * A pointer into an argument buffer kept in a global would come back as a plain address
 * (module memory, no shadow) and its data would be treated as constant: refuse it.
 */
/** The runtime builds object parameters (Float64Array, Array<f64>) with their data pointer: the kernel must not replace it. */
function refuseViewFieldStores(a: Analyzed, mayStore: (f: string) => boolean): void {
  // the object itself (not its data): a parameter's provenance without `view`
  const isObject = (addr: Expr) => { const p = a.ptr.of(addr); return p.kind === "arg" && p.view === undefined && a.ptr.viewOffsets(p.param) !== undefined ? p.param : -1; };
  const refuse = (n: Expr, param: number): never => {
    throw new UnsupportedError(a.fn.name, printExpr(n, 0, a.fn.localNames).replace(/\s+/g, " ").slice(0, 120),
      `the kernel may overwrite the object of its parameter ${param} (a Float64Array or Array built by the runtime), whose data pointer the shadow object would not follow; take the data as StaticArray<f64>`);
  };
  forEachNode(a.fn.body as Expr, (n) => {
    const dest = n.kind === "store" ? n.addr : n.kind === "memory.fill" || n.kind === "memory.copy" ? n.dest : null;
    if (dest && isObject(dest) >= 0) refuse(n, isObject(dest));
    // a function that may store, given the object: it may write its fields
    if ((n.kind === "call" && mayStore(n.func)) || n.kind === "call_indirect")
      for (const x of n.args) if (x.type === "i32" && isObject(x) >= 0) refuse(n, isObject(x));
  });
}

function refusePointerGlobals(a: Analyzed): void {
  // AssemblyScript's GC shadow stack keeps object pointers for the collector, never to read data back
  const assigns = assignmentsOf(a.fn.body as Expr);
  const gcStack = (e: Expr, depth = 0): boolean => {
    let gc = false;
    forEachNode(e, (x) => {
      if (x.kind === "global.get" && x.global === "~lib/memory/__stack_pointer") gc = true;
      if (x.kind === "local.get" && depth < 8) for (const v of assigns.get(x.local) ?? []) if (gcStack(v, depth + 1)) gc = true;
    });
    return gc;
  };
  forEachNode(a.fn.body as Expr, (n) => {
    // a pointer with a shadow stored in memory without one (a C global, module data): its shadow
    // word has nowhere to go, and loaded back it would read as constant memory
    if (n.kind === "store" && n.op === "i32.store" && hasShadow(a.ptr.of(n.value)) && !hasShadow(a.ptr.of(n.addr)) && a.ptr.of(n.addr).kind !== "unknown" && !gcStack(n.addr))
      throw new UnsupportedError(a.fn.name, printExpr(n, 0, a.fn.localNames).replace(/\s+/g, " ").slice(0, 120),
        "a pointer to data with a shadow is stored in memory without one (a global variable, module data), where its shadow cannot follow it; pass the pointer as an argument, or keep it in a local or a struct on the stack");
    if (n.kind !== "global.set" || n.value.type !== "i32") return;
    const p = a.ptr.of(n.value);
    if (p.kind === "arg")
      throw new UnsupportedError(a.fn.name, `global.set ${n.global}`,
        `a pointer into argument ${p.param}'s buffer is stored in a global, where its shadow cannot follow it; pass the pointer as an argument instead`);
    if (p.kind === "alloc" && n.global !== STACK_POINTER)
      throw new UnsupportedError(a.fn.name, `global.set ${n.global}`,
        "a pointer to memory the function allocated is stored in a global, where its shadow cannot follow it; keep it in a local or pass it as an argument");
  });
}

/** Reading the bits of an active float (reinterpret to an integer) has no derivative: refuse it anywhere in the function. */
function refuseBitReads(a: Analyzed): void {
  forEachNode(a.fn.body as Expr, (n) => {
    if (n.kind === "unary" && /^i(32|64)\.reinterpret_f/.test(n.op) && a.act.isActive(n.value))
      throw new UnsupportedError(a.fn.name, printExpr(n, 0, a.fn.localNames).replace(/\s+/g, " ").slice(0, 120),
        "reading the bits of an active float (reinterpret) has no derivative; this is typical of software math compiled into the module (AssemblyScript's NativeMath/NativeMathf, libm), here inlined into the kernel where it cannot be recognized: use Math/Mathf (Program.fromAssemblyScript maps them to JS Math) or compile with --use Math=JSMath, keep the software math as functions (Program.fromAssemblyScript(source, { math: \"wasm\" }), or the KeepNativeMathCalls transform in an asc build), import the function from \"Math\", or give the function a rule (program.rule)");
  });
}

export interface Analyzed { fn: IRFunction; ptr: PointerAnalysis; act: ActivityAnalysis; stable: StableMemory }

export class Differentiator {
  readonly module: IRModule;
  private readonly normalized = new Map<string, IRFunction>();
  private readonly generated = new Map<string, string>();
  private readonly queue: (() => IRFunction)[] = [];
  private readonly added: IRFunction[] = [];
  private readonly mathImports = new Map<string, string>();
  private readonly tables = new Map<string, IRTable>();
  private readonly names = new Set<string>();
  private readonly stores: StoreSummary;
  /** The function the runtime calls; loads in it are judged precisely by StableMemory. */
  entry: string | null = null;

  /** Whether the module has an allocator: derivative code then allocates shadow blocks on the tape. */
  readonly allocates: boolean;

  constructor(mod: IRModule) {
    this.allocates = moduleAllocates(mod);
    // (the global through which derivative functions return the deltas of returned pointers)
    const returnDelta: IRGlobal = { name: RETURN_DELTA, type: "i32", mutable: true, init: { kind: "const", type: "i32", value: 0 } };
    this.module = { ...mod, globals: [...mod.globals, returnDelta], functions: [...mod.functions, ...(this.allocates ? [shadowAllocFunction(), ...shadowReallocFunctions()] : []), ...copyAdjointFunctions(), pointerDeltaFunction(), deltaOfFunction()] };
    for (const f of this.module.functions) this.names.add(f.name);
    this.stores = new StoreSummary(this.module);
  }

  private called: Set<string> | null = null;
  /** Whether anything in the module calls `name` (directly or through a table); the module is walked once. */
  private isCalled(name: string): boolean {
    if (!this.called) {
      const called = new Set<string>();
      for (const f of this.module.functions) if (f.body) forEachNode(f.body as Expr, (n) => { if (n.kind === "call") called.add(n.func); });
      for (const t of this.module.tables) for (const seg of t.segments) seg.funcs.forEach((x) => called.add(x));
      this.called = called;
    }
    return this.called.has(name);
  }

  private unique(base: string): string {
    let n = base, i = 1;
    while (this.names.has(n)) n = `${base}_${i++}`;
    this.names.add(n);
    return n;
  }

  private readonly wrappers = new Map<string, boolean>();
  private readonly plain = new Map<string, IRFunction>();
  /** A function of the module in statement form, as written (before inlining and shadow allocations). */
  private plainNormalized(name: string): IRFunction {
    let f = this.plain.get(name);
    if (!f) { f = lowerMemFunctions(withParamsUnassigned(normalizeFunction(this.module.functions.find((x) => x.name === name)!)), this.module); this.plain.set(name, f); }
    return f;
  }

  normalizedFn(name: string): IRFunction {
    let f = this.normalized.get(name);
    if (!f) {
      const orig = this.module.functions.find((x) => x.name === name);
      if (!orig) throw new Error(`unknown function ${name}`);
      f = withShadowAllocations(retypeCopies(inlineAllocatingCalls(lowerMemFunctions(withExplicitZeros(withParamsUnassigned(normalizeFunction(orig))), this.module), this.module, (n) => this.plainNormalized(n), this.wrappers)), this.module);
      verifyFunction(f, this.module);
      this.normalized.set(name, f);
    }
    return f;
  }

  analyze(name: string, sig: ActivitySignature, mode: "forward" | "reverse"): Analyzed {
    const stack = this.module.globals.some((g) => g.name === STACK_POINTER);
    let words: CleanWords | null = null;
    const analyses = (fn: IRFunction): Analyzed => {
      const ptr = new PointerAnalysis(fn, sig);
      const act = new ActivityAnalysis(fn, sig, ptr, (call, argActive) => callResultActive(this.module, call, argActive));
      // pointers into the function's frames through which callees read only constants carry no derivative
      if (stack) {
        words = cleanWords(fn, (f) => this.calleeWordsOf(f));
        for (const a of inertFrameArgs(fn, act, ptr, words.frameWrites!, (f) => this.calleeWordsOf(f)?.writes ?? null)) act.inertArgs.add(a);
      }
      const stable = new StableMemory(fn, ptr, this.stores, this.entry, this.entry === name && this.isCalled(name));
      return { fn, ptr, act, stable };
    };
    const first = analyses(this.normalizedFn(name));
    refuseBitReads(first);
    refusePointerGlobals(first);
    if (stack) refuseStackPointerAccess(first.fn);
    refuseIntegerCopies(first, this.takesUserArguments(name), (f) => !this.isImport(f), mode, (f) => this.parameterWordsOf(f), this.cleanWordsIn(first.fn, name, words), (f) => this.resultOf(f));
    refuseViewFieldStores(first, (f) => this.mayStore(f));
    this.refuseMixedFloatWidths(first.fn, name, mode);
    if (mode === "forward") return first;
    // reverse mode reads values of loads from memory that may change only through locals
    const mutable = new Set(this.module.globals.filter((g) => g.mutable).map((g) => g.name));
    const hoisted = cacheNeededOperands(hoistUnstableLoads(first.fn, (l) => first.stable.isStable(l), mutable), (t) => this.mathCall(t));
    if (hoisted === first.fn) return first;
    verifyFunction(hoisted, this.module);
    return analyses(hoisted);
  }

  hasShadows(sig: ActivitySignature): boolean { return sig.params.includes("dup"); }

  private readonly paramWords = new Map<string, ParameterWords>();
  /** What function `name` shows about the words and values its parameters carry (memory-pointers.ts). */
  parameterWordsOf(name: string): ParameterWords {
    let w = this.paramWords.get(name);
    const none = (): ParameterWords => ({ ints: new Map(), floats: new Map(), typed: new Set() });
    if (!w) {
      this.paramWords.set(name, none()); // recursion: nothing known yet
      const f = this.module.functions.find((x) => x.name === name);
      // the derivative code's own helpers (__ad_pointer_delta reads shadow words as integers) tell nothing of the kernel's words
      w = f && f.body && !f.import && !f.inactive ? parameterWords(this.plainNormalized(name)) : none();
      this.paramWords.set(name, w);
    }
    return w;
  }

  private readonly wordSummaries = new Map<string, CleanWords | null>();
  /** clean-words.ts's account of module function `name` as written; null for an import or a helper of the derivative code. */
  private wordSummaryOf(name: string): CleanWords | null {
    if (this.wordSummaries.has(name)) return this.wordSummaries.get(name)!;
    const f = this.module.functions.find((x) => x.name === name);
    if (!f || f.import || !f.body || name.startsWith("__ad_")) return null;
    // recursion: while the summary is computed, every pointer parameter escapes
    const escaping: CleanWords = { isClean: () => false, paramWords: new Set(), returns: { dirty: true, params: new Set() }, writes: new Map(f.params.map((_, i) => [i, { words: new Map(), any: null, escapes: true, leaks: true, leakBytes: new Set<number>(), reads: new Set<number>(), readsAny: true, holds: new Map(), through: new Map() }])) };
    this.wordSummaries.set(name, escaping);
    // (in the form the function is differentiated in: frame fields forwarded to locals name the same words)
    let w = escaping;
    try { w = cleanWords(this.normalizedFn(name), (g) => this.calleeWordsOf(g)); } catch { /* a function the transform refuses: its pointers escape */ }
    this.wordSummaries.set(name, w);
    return w;
  }
  /** What the i32 result of module function `name` is made of; null for allocators (a fresh block's address) and imports. */
  private resultOf(name: string): Dep | null {
    const f = this.module.functions.find((x) => x.name === name);
    if (!f || allocatorOf(f) || reallocatorOf(f)) return null;
    return this.wordSummaryOf(name)?.returns ?? null;
  }

  /** What function `name` writes through its pointer parameters and reads from them; null for an import (anything). */
  private calleeWordsOf(name: string): CalleeWords | null {
    const f = this.module.functions.find((x) => x.name === name);
    if (!f || f.import) return null;
    // the derivative code's own helpers (shadow allocation, shadow words) touch none of the kernel's words
    return this.wordSummaryOf(name) ?? { writes: new Map(), paramWords: new Set(), returns: { dirty: false, params: new Set() } };
  }

  /** Per function: the words of its parameters every call site analysed so far shows to hold no float bits. */
  private readonly vouched = new Map<string, Set<string>>();
  /** Per function: the words of its parameters its analyses took to hold no float bits, on its callers' word. */
  private readonly relied = new Map<string, Set<string>>();
  /**
   * Whether a word (slotKey in fn) holds no float bits: a clean word of its own frames, or a
   * word of its parameters every caller vouches for. Vouches for the words of fn's callees as
   * it goes; a callee differentiated earlier on words this call cannot vouch for is refused.
   */
  private cleanWordsIn(fn: IRFunction, name: string, found: CleanWords | null = null): (key: string, size?: number) => boolean {
    // without a C/Rust stack there are no frames, and nothing a caller could vouch for (the entry's words never are)
    if (!this.module.globals.some((g) => g.name === STACK_POINTER)) return () => false;
    const words = found ?? cleanWords(fn, (f) => this.calleeWordsOf(f));
    const inTable = this.module.tables.some((t) => t.segments.some((sg) => sg.funcs.includes(name)));
    // (a function that calls itself would vouch for its own words: it takes nothing on its callers' word)
    let recursive = false;
    forEachNode(fn.body as Expr, (n) => { if (n.kind === "call" && n.func === name) recursive = true; });
    const trusting = !this.takesUserArguments(name) && !inTable && !recursive;
    const relied = this.relied.get(name) ?? new Set<string>();
    this.relied.set(name, relied);
    // (read when asked: the words vouched for as they stand then)
    const isClean = (key: string, size = 4) => words.isClean(key, (pk) => { if (!trusting || !this.vouched.get(name)?.has(pk)) return false; relied.add(pk); return true; }, size);
    const assigns = wordAssignments(fn.body as Expr);
    forEachNode(fn.body as Expr, (n) => {
      const callee = n.kind === "call" ? this.wordSummaryOf(n.func) : null;
      if (n.kind !== "call" || !callee) return;
      const shown = new Set<string>();
      for (const pk of callee.paramWords) { const at = wordAtCall(n, pk, assigns); if (at && isClean(at)) shown.add(pk); }
      const took = [...(this.relied.get(n.func) ?? [])].find((pk) => !shown.has(pk));
      if (took) throw new UnsupportedError(name, `call ${n.func}`,
        `${n.func} was differentiated taking the word at offset ${took.split("@")[0]} of what its parameter ${took.split("@")[1]} points to to hold an integer (its other callers showed it), which this call cannot show: the bytes may be a float's; keep floats and integers in separate memory, or build with -O1 or higher`);
      const prev = this.vouched.get(n.func);
      this.vouched.set(n.func, prev ? new Set([...prev].filter((pk) => shown.has(pk))) : shown);
    });
    return isClean;
  }

  private readonly floatSummaries = new Map<string, FloatSummary | null>();
  /** float-widths.ts's account of the float accesses module function `name` makes through its parameters; null for an import or a helper of the derivative code. */
  private floatSummaryOf(name: string): FloatSummary | null {
    if (this.floatSummaries.has(name)) {
      const s = this.floatSummaries.get(name)!;
      if (!s) this.floatRecursed = true;
      return s;
    }
    const f = this.module.functions.find((x) => x.name === name);
    if (!f || f.import || !f.body || name.startsWith("__ad_")) return null;
    this.floatSummaries.set(name, null); // recursion: its accesses are its own, seen where they are made
    const fn = this.normalizedFn(name);
    const widths = floatWidths(fn, (g) => this.floatSummaryOf(g));
    this.floatWidthsOf.set(name, { fn, widths });
    this.floatSummaries.set(name, widths.summary);
    return widths.summary;
  }
  /** The floatWidths each summary came from, for refuseMixedFloatWidths to reuse. */
  private readonly floatWidthsOf = new Map<string, { fn: IRFunction; widths: FloatWidths }>();
  /** Whether a summary was asked for while it was being made (recursion): those made meanwhile saw a callee's summary as null. */
  private floatRecursed = false;
  /** Refuses a float access that carries a derivative over bytes also reached as a float of another width (float-widths.ts). */
  private refuseMixedFloatWidths(fn: IRFunction, name: string, mode: "forward" | "reverse"): void {
    // (a callee's summary came from the same computation on the same normalized function: the
    // same accesses, unless a summary it consulted was still being made, which recursion shows)
    const made = this.floatWidthsOf.get(name);
    const widths = made && made.fn === fn && !this.floatRecursed ? made.widths : floatWidths(fn, (g) => this.floatSummaryOf(g));
    const c = widths.conflict(mode);
    if (!c) return;
    throw new UnsupportedError(name, printExpr(c.node, 0, fn.localNames).replace(/\s+/g, " ").slice(0, 120),
      `the bytes it ${c.node.kind === "load" ? "reads" : "writes"} in ${c.memory} are also reached as floats of another width or at another offset (${c.other}): a union of a double and two floats, whose derivatives cannot be told apart in shadow memory; keep the double and the floats in separate memory${mode === "reverse" && !widths.conflict("forward") ? " (forward mode, which copies such bytes exactly, differentiates this function)" : ""}`);
  }

  /** Whether calling `name` can write memory (itself or through its callees). */
  mayStore(name: string): boolean { return this.stores.mayStore(name); }

  /** The checkpoint mark of function `name` (program.checkpoint), if any. */
  checkpointOf(name: string): { every: number | null } | null {
    return this.module.functions.find((f) => f.name === name)?.checkpoint ?? null;
  }
  /** Whether `name` is the kernel the runtime calls, and nothing calls it back. */
  isEntryKernel(name: string): boolean { return name === this.entry && !this.isCalled(name); }
  /**
   * Whether `name`'s parameters are the caller's values as passed to the kernel: the entry
   * itself, or a function only the entry calls, with the entry's parameters as they are
   * (wasi-libc's `*.command_export` wrappers call the C function so).
   */
  takesUserArguments(name: string): boolean {
    let r = this.userArguments.get(name);
    if (r === undefined) { r = this.computeTakesUserArguments(name); this.userArguments.set(name, r); }
    return r;
  }
  private readonly userArguments = new Map<string, boolean>();
  private computeTakesUserArguments(name: string): boolean {
    if (this.isEntryKernel(name)) return true;
    if (!this.entry || !this.isEntryKernel(this.entry)) return false;
    const entry = this.module.functions.find((f) => f.name === this.entry);
    let only = true, calledByEntry = false;
    for (const f of this.module.functions) {
      if (!f.body) continue;
      forEachNode(f.body as Expr, (n) => {
        if (n.kind !== "call" || n.func !== name) return;
        if (f !== entry || !n.args.every((x) => x.kind === "local.get" && x.local < f.params.length)) only = false;
        else calledByEntry = true;
      });
    }
    return only && calledByEntry && !this.module.tables.some((t) => t.segments.some((sg) => sg.funcs.includes(name)));
  }
  /** Globals the generated code needs beyond the tape's (the reverse entry's buffer lengths). */
  readonly extraGlobals: IRGlobal[] = [];

  /** The run-time stops of the derivative code (bulk-memory.ts), by site number - 1: the error each stands for. */
  readonly stops: UnsupportedError[] = [];
  /** A site number for a run-time stop, and the function that stops (`__ad_copy_stop`), added on first use. */
  stopSite(error: UnsupportedError): { site: number; func: string } {
    if (!this.stops.length) {
      this.extraGlobals.push({ name: STOP_GLOBAL, type: "i32", mutable: true, init: { kind: "const", type: "i32", value: 0 } });
      this.added.push(copyStopFunction());
    }
    const known = this.stops.findIndex((e) => e.message === error.message);
    if (known >= 0) return { site: known + 1, func: COPY_STOP };
    this.stops.push(error);
    return { site: this.stops.length, func: COPY_STOP };
  }

  /** Whether `name` is an imported function: the module's own, or a Math import added for a rule. */
  isImport(name: string): boolean {
    return !!this.module.functions.find((f) => f.name === name)?.import || [...this.mathImports.values()].includes(name);
  }

  private readonly origins = new Map<string, Map<number, number>>();
  /** The kernel argument each pointer parameter of `name` comes from (null for the entry itself: identity). */
  originsOf(name: string): Map<number, number> | null {
    return name === this.entry && !this.isCalled(name) ? null : this.origins.get(name) ?? new Map();
  }
  /** Records, at a call site, which kernel arguments the callee's pointer parameters come from. */
  noteCall(caller: string, callee: string, args: Expr[], ptr: PointerAnalysis): void {
    const from = this.originsOf(caller);
    const to = this.origins.get(callee) ?? new Map<number, number>();
    args.forEach((a, i) => {
      const p = a.type === "i32" ? ptr.of(a) : null;
      if (p?.kind !== "arg" || to.has(i)) return;
      const arg = from ? from.get(p.param) : p.param;
      if (arg !== undefined) to.set(i, arg);
    });
    this.origins.set(callee, to);
  }

  /** A call to the JS Math function `name` at type t, importing it on first use. */
  mathCall(t: ValType): MathCall {
    return (name, args) => {
      const key = `${name}:${t}`;
      let fname = this.mathImports.get(key);
      if (!fname) {
        const existing = this.module.functions.find((f) => f.import?.module === "Math" && f.import.base === name && f.results[0] === t && f.params.length === args.length && f.params.every((p) => p === t));
        fname = existing ? existing.name : this.unique(`Math.${name}${t === "f64" ? "" : "_" + t}`);
        if (!existing) this.added.unshift({ name: fname, params: args.map(() => t), results: [t], locals: args.map(() => t), body: null, import: { module: "Math", base: name } });
        this.mathImports.set(key, fname);
      }
      return { kind: "call", type: t, func: fname, args } as Expr;
    };
  }

  /**
   * The function a rule call site calls: the rule itself, or its copy specialised to the
   * call site's Const arguments (rule parameters in `zero` read 0, shadows in `discard` unused).
   */
  ruleTarget(ruleFn: string, zero: Set<number>, discard: Set<number>, caller: string, callee: string): string {
    if (zero.size === 0 && discard.size === 0) return ruleFn;
    const f = this.module.functions.find((x) => x.name === ruleFn)!;
    if (f.import) {
      if (discard.size) throw new UnsupportedError(caller, `call ${callee}`, `its rule ${f.import.module}.${f.import.base} is a JS function, which cannot be specialised to a Const pointer argument; register a rule for this activity pattern with \`when\``);
      return ruleFn; // zero tangents are passed as zeros
    }
    const key = `spec:${ruleFn}:${[...zero].join(",")}:${[...discard].join(",")}`;
    let g = this.generated.get(key);
    if (!g) {
      g = this.unique(`${ruleFn}__for_${[...zero, ...discard].sort((a, b) => a - b).join("_")}`);
      this.generated.set(key, g);
      this.added.push(specializeRule(f, g, zero, discard));
    }
    return g;
  }

  /** Name of the forward-mode version of `name` for `sig` (generated when drained). */
  forward(name: string, sig: ActivitySignature): string {
    const key = `fwd:${name}:${signatureKey(sig)}`;
    let g = this.generated.get(key);
    if (!g) {
      const gname = this.unique(`${name}__fwd_${signatureKey(sig).replace(">", "_")}`);
      g = gname;
      this.generated.set(key, gname);
      this.queue.push(() => {
        const a = this.analyze(name, sig, "forward");
        const extra = sig.params.flatMap((p, i) => (p === "active" ? [{ type: a.fn.params[i], name: `p${i}_tan` }] : p === "dup" ? [{ type: "i32" as ValType, name: `p${i}_shadow` }] : []));
        const ctx = new DiffContext(a.fn, sig, a.act, a.ptr, extra, this.mathCall("f64"), "_tan");
        ctx.origins = this.originsOf(name);
        return generateForward(this, gname, name, ctx);
      });
    }
    return g;
  }

  /** Names of the augmented forward sweep and the reverse sweep of `name` for `sig`. */
  /** `resultUnused`: the entry kernel's sweeps when nobody reads its result (`Reverse`), a variant of their own (dead-sweep.ts). */
  reverse(name: string, sig: ActivitySignature, resultUnused = false): { aug: string; rev: string } {
    const key = `rev:${name}:${signatureKey(sig)}${resultUnused ? ":unused" : ""}`;
    const got = this.generated.get(key);
    if (got) return JSON.parse(got);
    const base = `${name}__${signatureKey(sig).replace(">", "_")}${resultUnused ? "_np" : ""}`;
    const names = { aug: this.unique(`${base}_aug`), rev: this.unique(`${base}_rev`) };
    this.generated.set(key, JSON.stringify(names));
    this.queue.push(() => {
      const a = this.analyze(name, sig, "reverse");
      const { aug, rev } = generateReverse(this, names, a, sig, resultUnused);
      this.added.push(aug);
      return rev;
    });
    return names;
  }

  revSignature(fn: IRFunction, sig: ActivitySignature) { return reverseSignature(fn, sig); }

  /**
   * A table holding, at the same indexes as `call.table`, the derivative functions (forward,
   * augmented or reverse) of every entry whose type matches the indirect call; an indirect
   * call site calls through it with the recorded or the same index.
   */
  derivedTable(call: CallIndirect, kind: "fwd" | "aug" | "rev", sig: ActivitySignature): string {
    const key = `${call.table}|${kind}|${signatureKey(sig)}|${call.params.join(",")}>${call.results.join(",")}`;
    const got = this.tables.get(key);
    if (got) return got.name;
    const orig = this.module.tables.find((t) => t.name === call.table)!;
    const segments: IRTable["segments"] = [];
    for (const seg of orig.segments)
      seg.funcs.forEach((name, i) => {
        const f = this.module.functions.find((x) => x.name === name);
        if (!f || f.import || !sameTypes(f.params, call.params) || !sameTypes(f.results, call.results)) return;
        const target = kind === "fwd" ? this.forward(name, sig) : this.reverse(name, sig)[kind];
        segments.push({ offset: seg.offset + i, funcs: [target] });
      });
    const table: IRTable = { name: this.unique(`${call.table}__${kind}_${signatureKey(sig).replace(">", "_")}`), initial: orig.initial, maximum: orig.maximum, segments };
    this.tables.set(key, table);
    return table.name;
  }

  /** Generates everything requested so far (and what that requests) and returns the extended module. */
  finish(extra: IRFunction[] = []): IRModule {
    while (this.queue.length) this.added.push(this.queue.shift()!());
    const needsTape = this.added.some((f) => f.name.endsWith("_aug")) || this.allocates;
    const words = [ZERO_WORD, SINK_WORD, WORD_LOG].map((name): IRGlobal => ({ name, type: "i32", mutable: true, init: { kind: "const", type: "i32", value: 0 } }));
    const globals = [...this.module.globals, ...(needsTape ? TAPE.globals() : []), ...this.extraGlobals, ...words];
    const tapeFns = needsTape ? [TAPE.growFunction(), ...wordLogFunctions(TAPE_GLOBALS.tp, TAPE_GLOBALS.grow, TAPE_GLOBALS.limit)] : [];
    return { ...this.module, globals, tables: [...this.module.tables, ...this.tables.values()], functions: [...this.added.filter((f) => f.import), ...this.module.functions, ...this.added.filter((f) => !f.import), ...tapeFns, ...extra] };
  }
}
