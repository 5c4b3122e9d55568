// A Program: a lifted module instantiated once (its memory and mutable globals are the
// state every call shares), its kernels, and the compile cache of derivative modules.
// Derivative modules import the program's memory and mutable globals, so primal calls
// and derivative calls see one state, in one linear memory.
import type { ActivitySignature, ParamActivity } from "../analysis/signature.js";
import { signatureKey } from "../analysis/signature.js";
import { Differentiator } from "../ad/differentiator.js";
import { forwardEntry, reverseEntry } from "../ad/entry.js";
import { emitModule } from "../backend/emit.js";
import { ArgumentError, ParseError, TrapError } from "../errors.js";
import { liftModule, readWasm, splitLocals } from "../frontend/lift.js";
import { watToWasm } from "../frontend/wat.js";
import { type AscMath, type AscOptions, type AscParam, compileAssemblyScriptWithParams } from "../frontend/assemblyscript.js";
import type { Expr, IRExport, IRFunction, IRModule } from "../ir/types.js";
import { STOP_GLOBAL } from "../ad/bulk-memory.js";
import { isFloat, typeOfCallResults } from "../ir/types.js";
import { hostMath } from "./host-math.js";
import { mathImportName } from "../ir/math-imports.js";
import { printFunction } from "../ir/print.js";
import { StoreSummary } from "../analysis/stable-memory.js";
import { callKernel } from "./call.js";
import { instantiate } from "./instantiate.js";
import { CompiledDerivative } from "./compiled.js";
import { PrimalTiers } from "./primal.js";
import { ScratchArena } from "./memory.js";
import { type TypedArray, type TypedArrayConstructor, WasmArray } from "./wasm-array.js";
import { growsMemory, HEAP_EXHAUSTED, KERNEL_LIMIT, KERNEL_PAGES, virtualizeMemory } from "./prepare.js";
import { registerRule, resolveFunction, RULE_IMPORTS, type RuleSpec } from "./rules.js";

const debugEnabled = () => typeof process !== "undefined" && !!process.env?.WASM_AUTODIFF_DEBUG;

export interface ProgramOptions {
  /** The module's imports other than "Math", as for WebAssembly.instantiate. */
  imports?: Record<string, Record<string, unknown>>;
  /**
   * How derivative modules (and the lifted primal) are optimized: a binaryen optimize level
   * (0 turns optimization off, 3 is binaryen's -O3); "fast": a short pass list, as fast on the
   * bench kernels as -O3 at about half the compile time (backend/emit.ts); or "tiered" (the
   * default): a derivative is first compiled without optimization and optimized with the "fast"
   * list once its calls have taken as long as that first compile (runtime/compiled.ts); the
   * lifted primal likewise, once kernel.call has taken as long as the program's creation
   * (runtime/primal.ts).
   */
  optimize?: number | "fast" | "tiered";
  /**
   * Give every assignment its own local before differentiating (binaryen's ssa pass). Optimized
   * output of asc or clang reuses one local for unrelated values (a pointer, later a counter),
   * which the pointer analysis would have to refuse. On by default for fromAssemblyScript.
   */
  splitLocals?: boolean;
  /**
   * Bytes kept free above the module's memory for its own allocations during a call (its
   * memory.grow: AssemblyScript's runtime, C's malloc); the runtime's buffers, shadows and tape
   * sit above them. Default 16 MiB when the module contains a memory.grow, else 0.
   */
  heapReserve?: number;
}

const DEFAULT_HEAP_RESERVE = 16 << 20;
const PAGE = 65536;
/**
 * 16 MiB for a module that grows memory (it has an allocator), else nothing. Under a declared
 * maximum the whole memory must also hold the runtime's buffers and tape: half the room then.
 */
function defaultHeapReserve(ir: IRModule, pages: number, maximum: number | null): number {
  if (!growsMemory(ir)) return 0;
  return maximum === null ? DEFAULT_HEAP_RESERVE : Math.min(DEFAULT_HEAP_RESERVE, Math.floor(Math.max(maximum - pages, 0) / 2) * PAGE);
}
const mib = (bytes: number) => `${+(bytes / (1 << 20)).toFixed(2)} MiB`;

type Imports = Record<string, Record<string, unknown>>;
const SHARED = "__ad";

const DIGIT: Partial<Record<ParamActivity, number>> = { const: 0, dup: 1, active: 2, "const-ptr": 3 };
/**
 * A call's key among a kernel's compiled derivatives: a small integer (two bits per parameter,
 * then the result's activity, the primal's use and the mode) where the signature allows, as
 * every call looks it up; else the signature as a string.
 */
function callCode(mode: "forward" | "reverse", sig: ActivitySignature, unused: boolean): number | string {
  if (sig.params.length > 13) return callString(mode, sig, unused);
  let code = 0;
  for (const p of sig.params) {
    const d = DIGIT[p];
    if (d === undefined) return callString(mode, sig, unused);
    code = code * 4 + d;
  }
  return ((code * 2 + (sig.resultActive ? 1 : 0)) * 2 + (unused ? 1 : 0)) * 2 + (mode === "reverse" ? 1 : 0);
}
const callString = (mode: "forward" | "reverse", sig: ActivitySignature, unused: boolean) => `${mode}|${signatureKey(sig)}${unused ? "|np" : ""}`;

export { CompiledDerivative };

export class Kernel {
  private writes?: boolean;
  constructor(readonly program: Program, readonly name: string, readonly fn: IRFunction) {}
  /**
   * Whether running the kernel can write memory: it or a function it calls stores, or it calls
   * an import other than Math's, or the program has custom rules. When it cannot, its buffers
   * hold the same after a call (primal or derivative: derivative code writes shadows, the tape
   * and nothing else), so they are not copied back, only the shadows.
   */
  get mayWriteMemory(): boolean {
    // (a custom rule is user code that may write what the function it replaces does not)
    if (this.program.hasRules) return true;
    return (this.writes ??= new StoreSummary(this.program.ir).mayStore(this.fn.name));
  }
  /** A plain primal call, with the same argument rules as autodiff (buffers copied in and out). */
  call(...args: unknown[]): number | bigint | undefined {
    return callKernel(this, args);
  }
}

export class Program {
  readonly arena: ScratchArena;
  private readonly cache = new Map<string, Promise<CompiledDerivative>>();

  private constructor(readonly ir: IRModule, readonly instance: WebAssembly.Instance, readonly memory: WebAssembly.Memory,
    private readonly imports: Imports, readonly options: ProgramOptions, heapReserve: number) {
    this.arena = new ScratchArena(memory, () => this.kernelPages(), heapReserve);
  }

  static async fromWasm(bytes: Uint8Array | ArrayBuffer, options: ProgramOptions = {}): Promise<Program> {
    const startedAt = performance.now();
    const u8 = bytes instanceof Uint8Array ? bytes : bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : null;
    if (!u8) throw new ParseError("Program.fromWasm takes a Uint8Array or an ArrayBuffer");
    const m = readWasm(u8);
    let ir: IRModule;
    try {
      // optimized code may reuse one local for unrelated values (a pointer into one buffer,
      // then a counter); giving each assignment its own local keeps the analyses precise
      if (options.splitLocals) splitLocals(m);
      ir = liftModule(m);
    } finally { m.dispose(); }
    return Program.instantiate(ir, options, startedAt);
  }

  static async fromWat(text: string, options: ProgramOptions = {}): Promise<Program> {
    if (typeof text !== "string") throw new ParseError("Program.fromWat takes the module's text");
    return Program.fromWasm(await watToWasm(text), options);
  }

  static async fromAssemblyScript(source: string, options: ProgramOptions & { asc?: AscOptions; math?: AscMath } = {}): Promise<Program> {
    // asc -O3 reuses locals across unrelated values (a pointer parameter becomes a loop counter)
    const { bytes, params } = await compileAssemblyScriptWithParams(source, options.asc, options.math);
    const program = await Program.fromWasm(bytes, { splitLocals: true, ...options });
    program.ascParams = params;
    return program;
  }

  /** `startedAt`: when the creation began (its time is the primal's first-tier budget). */
  private static async instantiate(lifted: IRModule, options: ProgramOptions, startedAt: number): Promise<Program> {
    const user = options.imports ?? {};
    // every program has one memory: derivatives need it for shadows and the tape
    const memory = lifted.memory ?? { initial: 1, maximum: null };
    // an imported memory may already be larger than declared: the kernel owns all of it
    const given = memory.import ? user[memory.import.module]?.[memory.import.base] : undefined;
    const pages = Math.max(memory.initial, given instanceof WebAssembly.Memory ? given.buffer.byteLength / PAGE : 0);
    const reserve = options.heapReserve ?? defaultHeapReserve(lifted, pages, memory.maximum);
    if (typeof reserve !== "number" || !Number.isInteger(reserve) || reserve < 0 || reserve > 2 ** 32)
      throw new ArgumentError(`options.heapReserve must be a number of bytes between 0 and 4 GiB, got ${String(reserve)}`);
    const o = options.optimize;
    if (o !== undefined && o !== "tiered" && o !== "fast" && !(typeof o === "number" && Number.isInteger(o) && o >= 0 && o <= 4))
      throw new ArgumentError(`options.optimize must be "tiered" (the default), "fast" or a binaryen optimize level 0–4, got ${JSON.stringify(o)}`);
    const ir = virtualizeMemory(lifted, { initial: pages, maximum: memory.maximum });
    const primal: IRModule = {
      ...ir, memory: { ...memory, exportName: `${SHARED}_memory` },
      exports: [...ir.exports.filter((x) => x.kind !== "memory"),
        ...ir.globals.filter((g) => g.mutable && !g.import).map((g) => ({ name: `${SHARED}_g_${g.name}`, kind: "global" as const, target: g.name }))],
    };
    if (memory.import) delete primal.memory!.exportName;
    // the lifted module went through ssa (more locals, copies at merges): optimize it back, at
    // once or (tiered) once its calls have taken as long as this creation (runtime/primal.ts)
    const level = options.optimize ?? "tiered";
    const { bytes } = emitModule(primal, { optimize: level === "tiered" ? 0 : level });
    const imports: Imports = { ...user, Math: { ...hostMath, ...(user.Math ?? {}) } };
    // AssemblyScript's JSMath bindings import env."Math.exp" and friends, and constants as globals (Math.PI)
    const jsMath = [...ir.globals.map((g) => ({ imp: g.import, kind: "number" })), ...ir.functions.map((f) => ({ imp: f.import, kind: "function" }))];
    for (const { imp, kind } of jsMath) {
      const name = imp && imp.module === "env" ? mathImportName(imp) : null;
      if (!imp || name === null || (user.env && imp.base in user.env)) continue;
      const v = (Math as unknown as Record<string, unknown>)[name];
      if (typeof v === kind) imports.env = { ...(imports.env ?? {}), [imp.base]: v };
    }
    for (const f of ir.functions) {
      if (f.import && f.import.module !== "Math" && !(imports[f.import.module]?.[f.import.base]))
        throw new ArgumentError(`the module imports ${f.import.module}.${f.import.base}; supply it in options.imports`);
    }
    let instance: WebAssembly.Instance;
    try {
      instance = await instantiate(bytes, imports as WebAssembly.Imports);
    } catch (e) {
      throw new ArgumentError(`cannot instantiate the module: ${(e as Error).message}`);
    }
    const mem = memory.import
      ? (user[memory.import.module]?.[memory.import.base] as WebAssembly.Memory)
      : (instance.exports[`${SHARED}_memory`] as WebAssembly.Memory);
    const program = new Program({ ...ir, memory }, instance, mem, imports, options, Math.ceil(reserve / PAGE) * PAGE);
    program.primal = new PrimalTiers(instance, level !== "tiered" ? null : {
      build: () => emitModule({ ...program.sharedModule(), exports: program.ir.exports.filter((x) => x.kind === "function") }, { optimize: "fast", names: debugEnabled() }).bytes,
      imports: () => program.sharedImports() as WebAssembly.Imports,
      budgetMs: performance.now() - startedAt,
    });
    return program;
  }

  /**
   * A zero-copy buffer of `length` elements in the program's memory (zeroed). Pass it to
   * kernels like a typed array: it goes by address and is never copied. Free it when done.
   */
  alloc<T extends TypedArray>(ctor: TypedArrayConstructor<T>, length: number): WasmArray<T> {
    if (typeof ctor !== "function" || typeof ctor.BYTES_PER_ELEMENT !== "number") throw new ArgumentError("program.alloc takes a typed array constructor, e.g. Float64Array");
    if (!Number.isInteger(length) || length < 0) throw new ArgumentError(`program.alloc: length must be a non-negative integer, got ${length}`);
    const address = this.arena.heap.alloc(length * ctor.BYTES_PER_ELEMENT);
    return new WasmArray(this.arena.heap, this, ctor, address, length);
  }

  private readonly globalsByName = new Map<string, WebAssembly.Global>();
  // (looked up once: reading instance.exports by a built name is a good part of a small call's overhead)
  private global(name: string): WebAssembly.Global {
    let g = this.globalsByName.get(name);
    if (!g) { g = this.instance.exports[`${SHARED}_g_${name}`] as WebAssembly.Global; this.globalsByName.set(name, g); }
    return g;
  }

  private kernelPages(): number { return (this.pagesGlobal ??= this.global(KERNEL_PAGES)).value as number; }
  private pagesGlobal: WebAssembly.Global | null = null;

  /** Bytes the kernel may grow by during the current call (for the message when it runs out). */
  private heapRoom = 0;

  /**
   * @internal Starts a call's memory layout (primal or derivative): the scratch region goes above the
   * kernel's pages and its reserve, and the kernel may grow only up to the runtime's first page.
   */
  beginCall(): ScratchArena {
    const pages = this.kernelPages();
    const limit = this.arena.reset(pages);
    // (a Global's value setter is a good part of a small call: write only when it changes)
    if (limit !== this.limitSet) { (this.limitGlobal ??= this.global(KERNEL_LIMIT)).value = limit; this.limitSet = limit; }
    this.heapRoom = (limit - pages) * PAGE;
    return this.arena;
  }
  private limitGlobal: WebAssembly.Global | null = null;
  /** The value last written to the kernel's limit (only the runtime writes it). */
  private limitSet = -1;

  /**
   * @internal After a trap: the error for a kernel whose own heap ran into the runtime's regions (the
   * flag is cleared), or null when the trap had another cause.
   */
  heapExhausted(kernel: string): TrapError | null {
    const flag = this.global(HEAP_EXHAUSTED);
    if (flag.value === 0) return null;
    flag.value = 0;
    const reserve = this.arena.reserve;
    const room = this.heapRoom < reserve ? ` (live program.alloc buffers left it ${mib(this.heapRoom)})` : "";
    const more = reserve > 0 ? 2 * reserve : DEFAULT_HEAP_RESERVE;
    return new TrapError(`kernel ${kernel} trapped: the module's own heap (its memory.grow) outgrew the ${mib(reserve)} reserved for it during the call${room}; ` +
      `the caller's arrays were left unchanged. Create the Program with { heapReserve: ${more} } (${mib(more)}) to reserve more`);
  }

  /**
   * Marks a function as carrying no derivative (logging, timers, RNG seeding): calls to it run
   * in every mode but are never differentiated, and its result counts as a constant. `name` is
   * an export, a function name of the module, or an import as "module.base" (e.g. "env.log").
   * The caller vouches for it: a marked function that writes active data makes derivatives wrong.
   * This is also how to declare the `free` of an allocator named with `allocator`: giving a
   * block back moves no derivatives (the built-in deallocators, C's `free` and
   * AssemblyScript's `__free`, are inactive already).
   */
  inactive(name: string): this {
    const targets = resolveFunction(this.ir, name);
    if (targets.length === 0) throw new ArgumentError(`inactive(${JSON.stringify(name)}): no such function or import in the module`);
    for (const f of targets) f.inactive = true;
    this.invalidate();
    return this;
  }

  /**
   * Names `name` (an export, a function of the module, or an import as "module.base") as an
   * allocator that the built-in list (AssemblyScript's `__new`/`__alloc`, C's `malloc`,
   * `calloc`, `aligned_alloc`, Rust's `__rust_alloc`) does not know: each block a call returns
   * then gets a zeroed shadow block of the same size, and pointers into it carry derivatives.
   * `size` is the index of the i32 parameter giving the size in bytes, or two indexes whose
   * product is the size (calloc's count and element size). Only the returned pointer and the
   * size are used, so an import may be named too. A function that gives blocks back needs
   * no counterpart: mark it with `inactive`, as it moves no derivatives.
   */
  allocator(name: string, options: { size: number | [number] | [number, number] }): this {
    const what = `allocator(${JSON.stringify(name)})`;
    const targets = resolveFunction(this.ir, name);
    if (targets.length === 0) throw new ArgumentError(`${what}: no such function or import in the module`);
    const f = targets[0];
    const sig = `(param ${f.params.join(" ") || "none"}) (result ${f.results.join(" ") || "none"})`;
    if (f.results.length !== 1 || f.results[0] !== "i32")
      throw new ArgumentError(`${what}: ${name} has signature ${sig}; an allocator returns one i32, the block's address`);
    const given = options?.size;
    const size = typeof given === "number" ? [given] : given;
    const form = "{ size: i } (the i32 parameter giving the size in bytes) or { size: [i, j] } (two i32 parameters whose product is the size, as calloc's)";
    if (!Array.isArray(size) || size.length < 1 || size.length > 2)
      throw new ArgumentError(`${what}: expected ${form}, got ${JSON.stringify(given)}`);
    for (const i of size)
      if (!Number.isInteger(i) || f.params[i] !== "i32")
        throw new ArgumentError(`${what}: size index ${JSON.stringify(i)} is not an i32 parameter of ${name} ${sig}; expected ${form}`);
    for (const t of targets) t.allocator = { size: [...size] as [number] | [number, number] };
    this.invalidate();
    return this;
  }

  /**
   * Gives `name` (an export, a function of the module, or an import as "module.base") a
   * custom derivative rule: calls to it then use the rule instead of differentiating its
   * body (or refusing an import). Rule functions are functions of the program (by name) or JS
   * functions; the conventions are in the README ("Custom derivative rules"). One rule
   * written for the all-active case serves every call site, specialised to its Const
   * arguments; rules given `when` an activity pattern win where the pattern matches exactly.
   * Signatures are checked here: a mismatch throws ArgumentError with the expected one.
   */
  rule(name: string, spec: RuleSpec): this {
    registerRule(this.ir, this.jsRules, name, spec, this.imports);
    this.hasRules = true;
    this.invalidate();
    return this;
  }
  private readonly jsRules: Record<string, (...a: never[]) => unknown> = {};
  /** Whether program.rule was called (Kernel.mayWriteMemory). */
  hasRules = false;
  /** For programs compiled from AssemblyScript: how each export takes its parameters (StaticArray, managed objects). */
  ascParams: Map<string, AscParam[]> | null = null;

  /**
   * Bounds reverse mode's tape for long loops: the outermost loops of kernel `name` keep a
   * snapshot (locals and the argument buffers the kernel writes) every `every` iterations
   * instead of recording every iteration, and the reverse sweep replays one segment at a time.
   * Default `every`: ⌈√(trip count)⌉ when the loop's bound is known before it runs (`i < n`), else 1024.
   */
  checkpoint(name: string, options: { every?: number } = {}): this {
    const every = options.every ?? null;
    if (every !== null && (!Number.isInteger(every) || every < 1 || every > 0x7fffffff))
      throw new ArgumentError(`checkpoint(${JSON.stringify(name)}): every must be a positive integer, got ${every}`);
    const targets = resolveFunction(this.ir, name).filter((f) => f.body);
    if (targets.length === 0) throw new ArgumentError(`checkpoint(${JSON.stringify(name)}): no such function in the module`);
    for (const f of targets) f.checkpoint = { every };
    this.invalidate();
    return this;
  }

  /** The exported function `name` as a Kernel. */
  kernel(name: string): Kernel {
    const x = this.ir.exports.find((e) => e.kind === "function" && e.name === name);
    if (!x) {
      const names = this.ir.exports.filter((e) => e.kind === "function").map((e) => e.name);
      throw new ArgumentError(`no exported function ${JSON.stringify(name)}; the module exports ${names.length ? names.join(", ") : "no functions"}`);
    }
    return new Kernel(this, name, this.ir.functions.find((f) => f.name === x.target)!);
  }

  /**
   * @internal The primal functions: the instance that owns the program's state, then (tiered) an
   * optimized module over the same state (runtime/primal.ts). Set once, by the creation.
   */
  primal!: PrimalTiers;

  private invalidate(): void {
    this.cache.clear(); this.ready.clear();
  }

  /** The derivative entry for (kernel, mode, signature), compiled once and cached. */
  derivative(kernel: Kernel, mode: "forward" | "reverse", sig: ActivitySignature, primalUsed = true): Promise<CompiledDerivative> | CompiledDerivative {
    // (`Reverse` without the primal has a module of its own: its forward sweep does less)
    const unused = mode === "reverse" && !primalUsed && kernel.fn.results.length > 0;
    const code = callCode(mode, sig, unused);
    // (compiled already: no promise to wait on, and no key string to build, which a small kernel's call would notice)
    const ready = this.ready.get(kernel.name)?.get(code);
    if (ready) return ready;
    const key = `${kernel.name}|${code}`;
    let got = this.cache.get(key);
    if (!got) {
      got = this.compile(kernel, mode, sig, !unused);
      this.cache.set(key, got);
      const compiling = got;
      // (unless a rule, mark or checkpoint cleared the cache while it compiled)
      got.then((c) => {
        if (this.cache.get(key) !== compiling) return;
        let table = this.ready.get(kernel.name);
        if (!table) this.ready.set(kernel.name, table = new Map());
        table.set(code, c);
      }, () => this.cache.delete(key));
    }
    return got;
  }
  /** Compiled derivatives by kernel name, then call code. */
  private readonly ready = new Map<string, Map<number | string, CompiledDerivative>>();

  /** @internal The derivatives compiled for a kernel so far (tests reach their tiers through this). */
  compiledDerivatives(kernel: Kernel): CompiledDerivative[] {
    return [...(this.ready.get(kernel.name)?.values() ?? [])];
  }

  /** The derivative module's IR, for inspection and tests (not optimized, not instantiated). */
  derivativeIR(kernel: Kernel, mode: "forward" | "reverse", sig: ActivitySignature, opts: { primalUsed?: boolean } = {}): IRModule {
    if (mode !== "forward" && mode !== "reverse") throw new ArgumentError(`derivativeIR: mode must be "forward" or "reverse", got ${JSON.stringify(mode)}`);
    checkSignature(kernel, sig);
    return this.derivativeModule(kernel, mode, sig, opts.primalUsed ?? true).mod;
  }

  /**
   * The program's module as one that runs over the primal instance's state: memory and mutable
   * globals imported from it (sharedImports), no data segments, no start function, no exports.
   * Derivative modules and the primal's optimized tier are built on it.
   */
  private sharedModule(): IRModule {
    const ir = this.ir;
    return {
      ...ir,
      memory: { initial: ir.memory!.initial, maximum: ir.memory!.maximum, import: ir.memory!.import ?? { module: SHARED, base: "memory" } },
      globals: ir.globals.map((g) => (g.mutable && !g.import ? { ...g, init: null, import: { module: SHARED, base: `g_${g.name}` } } : g)),
      data: [], start: null, exports: [],
    };
  }

  /** The imports of a module built on sharedModule: the user's, the primal instance's memory and mutable globals, the JS rules. */
  private sharedImports(): Imports {
    const imports: Imports = { ...this.imports, [SHARED]: { memory: this.memory }, [RULE_IMPORTS]: this.jsRules };
    for (const g of this.ir.globals)
      if (g.mutable && !g.import) imports[SHARED][`g_${g.name}`] = this.instance.exports[`${SHARED}_g_${g.name}`];
    return imports;
  }

  /** The derivative module, and the errors its run-time stops stand for (by site number - 1). */
  private derivativeModule(kernel: Kernel, mode: "forward" | "reverse", sig: ActivitySignature, primalUsed = true): { mod: IRModule; stops: Error[] } {
    const shared = this.sharedModule();
    // a kernel with a custom rule is differentiated through a call, so that the rule serves it too
    let target = kernel.fn.name;
    if (kernel.fn.rules?.length) {
      const f = kernel.fn;
      target = "__ad_calls_" + f.name;
      const args = f.params.map((t, i): Expr => ({ kind: "local.get", type: t, local: i }));
      shared.functions = [...shared.functions, { name: target, params: [...f.params], results: [...f.results], locals: [...f.params],
        body: { kind: "call", type: typeOfCallResults(f.results), func: f.name, args } }];
    }
    // AssemblyScript object parameters (Float64Array, Array<f64>): their data pointer sits in fields 0 (buffer) and 4 (dataStart)
    const views = new Map((this.ascParams?.get(kernel.name) ?? []).flatMap((p, i) => (p.kind === "view" ? [[i, [0, 4]] as [number, number[]]] : [])));
    if (views.size) shared.functions = shared.functions.map((f) => (f === kernel.fn ? { ...f, viewParams: views } : f));
    const d = new Differentiator(shared);
    d.entry = target;
    const entry = mode === "reverse" ? reverseEntry(d, target, sig, "__ad_entry", primalUsed) : forwardEntry(d, target, sig, "__ad_entry");
    const mod = d.finish([entry]);
    const stop: IRExport[] = d.stops.length ? [{ name: "stop", kind: "global", target: STOP_GLOBAL }] : [];
    return { mod: { ...mod, exports: [{ name: "entry", kind: "function", target: entry.name }, ...stop] }, stops: d.stops };
  }

  private async compile(kernel: Kernel, mode: "forward" | "reverse", sig: ActivitySignature, primalUsed: boolean): Promise<CompiledDerivative> {
    const t0 = performance.now();
    const { mod, stops } = this.derivativeModule(kernel, mode, sig, primalUsed);
    if (debugEnabled()) {
      // WASM_AUTODIFF_DEBUG=1: the generated functions as IR, before binaryen optimizes them
      for (const f of mod.functions) if (f.body && f.name.includes("__")) console.error(printFunction(f));
    }
    // (with debugging on, the module keeps its function names, so a trap's stack trace names the derivative function)
    const optimize = this.options.optimize ?? "tiered";
    const tiered = optimize === "tiered";
    const { bytes } = emitModule(mod, { optimize: tiered ? 0 : optimize, names: debugEnabled() });
    return CompiledDerivative.create(bytes, this.sharedImports() as WebAssembly.Imports, stops, { tiered, names: debugEnabled(), startedAt: t0 });
  }
}

const ACTIVITIES: readonly ParamActivity[] = ["active", "dup", "const-ptr", "const", "unknown"];

/**
 * A signature given by hand (derivativeIR) must fit the kernel, as the ones autodiff derives
 * do: the differentiator trusts its signatures, and one that does not fit (an active result
 * of a function without one) gives a module that fails validation, not a message.
 */
function checkSignature(kernel: Kernel, sig: ActivitySignature): void {
  const fn = kernel.fn;
  const where = `derivativeIR(${kernel.name})`;
  if (!sig || !Array.isArray(sig.params) || typeof sig.resultActive !== "boolean")
    throw new ArgumentError(`${where}: the signature must be { params: [...], resultActive: boolean }`);
  if (sig.params.length !== fn.params.length)
    throw new ArgumentError(`${where}: the kernel takes ${fn.params.length} parameters, the signature lists ${sig.params.length}`);
  sig.params.forEach((p, i) => {
    const t = fn.params[i];
    if (!ACTIVITIES.includes(p)) throw new ArgumentError(`${where}: parameter ${i}: unknown activity ${JSON.stringify(p)} (one of ${ACTIVITIES.join(", ")})`);
    if (p === "active" && !isFloat(t)) throw new ArgumentError(`${where}: parameter ${i} is ${t}; only f32 and f64 parameters can be "active"`);
    if ((p === "dup" || p === "const-ptr" || p === "unknown") && t !== "i32") throw new ArgumentError(`${where}: parameter ${i} is ${t}; "${p}" is for i32 pointers`);
  });
  if (sig.resultActive && !(fn.results.length === 1 && isFloat(fn.results[0])))
    throw new ArgumentError(`${where}: resultActive needs one f32 or f64 result; the kernel returns ${fn.results.length ? fn.results.join(", ") : "nothing"}`);
}
