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
import { TierBudget } from "./tier-budget.js";

/** Tier 1: the unoptimized module's bytes, and its budget (tier-budget.ts). */
export class CompiledDerivative extends TierBudget<{ bytes: Uint8Array; budgetMs: number }> {
  entry!: (...a: unknown[]) => unknown;
  private flag: WebAssembly.Global | undefined;

  private constructor(instance: WebAssembly.Instance, readonly compileMs: number, readonly bytes: number,
    private readonly stops: Error[], private readonly imports: WebAssembly.Imports, tier1Bytes: Uint8Array | null, private readonly names: boolean) {
    super(tier1Bytes ? { bytes: tier1Bytes, budgetMs: compileMs } : null);
    this.link(instance);
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

  /**
   * Optimizes the module and swaps the entry in. Where the engine refuses to compile it
   * synchronously (a browser's main thread, above 4 KB) the swap happens when the
   * asynchronous compile ends, and calls run the unoptimized module until then.
   */
  optimize(): void | Promise<void> {
    const t = this.takeUnoptimized();
    if (!t) return;
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
