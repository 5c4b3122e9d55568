// A derivative module, compiled and instantiated: the entry function a call runs, the errors
// of its run-time stops, and its tiers. With `optimize: "tiered"` (the default) a derivative
// is first emitted without binaryen's passes, which are most of a small kernel's first-call
// latency, and runs as it is (0–20% slower on the bench kernels: V8's optimizing tier does
// much of what the passes do). Once its calls have taken as long in total as that first
// compile did, the next call optimizes it with the "fast" pass list and swaps the entry: a
// call that is made once never pays for the passes, and a kernel called in a loop pays at
// most about its first compile's time again before it runs optimized code (the ski-rental
// bound of a JIT's tier-up).
import { optimizeBinary } from "../backend/emit.js";
import { instantiate } from "./instantiate.js";

export class CompiledDerivative {
  entry!: (...a: unknown[]) => unknown;
  private flag: WebAssembly.Global | undefined;
  /** Tier 1: the unoptimized module and the run time (ms) left before it is optimized; null when optimized. */
  private tier1: { bytes: Uint8Array; budgetMs: number } | null;

  private constructor(instance: WebAssembly.Instance, readonly compileMs: number, readonly bytes: number,
    private readonly stops: Error[], private readonly imports: WebAssembly.Imports, tier1Bytes: Uint8Array | null, private readonly names: boolean) {
    this.link(instance);
    this.tier1 = tier1Bytes ? { bytes: tier1Bytes, budgetMs: compileMs } : null;
  }

  /**
   * `bytes` instantiated with `imports`. `tiered`: they were emitted without optimization, to be
   * optimized later (optimizeBinary). `compileMs`: the time from the start of the compile to now.
   */
  static async create(bytes: Uint8Array, imports: WebAssembly.Imports, stops: Error[], opts: { tiered: boolean; names: boolean; startedAt: number }): Promise<CompiledDerivative> {
    const instance = await instantiate(bytes, imports);
    return new CompiledDerivative(instance, performance.now() - opts.startedAt, bytes.length, stops, imports, opts.tiered ? bytes : null, opts.names);
  }

  private link(instance: WebAssembly.Instance): void {
    this.entry = instance.exports.entry as (...a: unknown[]) => unknown;
    this.flag = instance.exports.stop as WebAssembly.Global | undefined;
  }

  /** Whether calls should be timed (tier 1, budget left). */
  get timed(): boolean { return this.tier1 !== null && this.tier1.budgetMs > 0; }
  /** Whether the next call should optimize first (tier 1, budget spent). */
  get due(): boolean { return this.tier1 !== null && this.tier1.budgetMs <= 0; }
  /** Whether the module runs optimized (always, unless tiered and not yet optimized). */
  get optimized(): boolean { return this.tier1 === null; }

  /** Counts a tier-1 call's run time against the budget. */
  ran(ms: number): void {
    if (this.tier1) this.tier1.budgetMs -= ms;
  }

  /**
   * Optimizes the module and swaps the entry in. Where the engine refuses to compile it
   * synchronously (a browser's main thread, above 4 KB) the swap happens when the
   * asynchronous compile ends, and calls run the unoptimized module until then.
   */
  optimize(): void | Promise<void> {
    const t = this.tier1;
    if (!t) return;
    this.tier1 = null;
    const bytes = optimizeBinary(t.bytes, { names: this.names });
    return instantiate(bytes, this.imports).then((i) => this.link(i));
  }

  /** After a trap: the error of the run-time stop that caused it (bulk-memory.ts), if one did (the flag is cleared). */
  stopped(): Error | null {
    const site = this.flag ? (this.flag.value as number) : 0;
    if (!site) return null;
    this.flag!.value = 0;
    return this.stops[site - 1] ?? null;
  }
}
