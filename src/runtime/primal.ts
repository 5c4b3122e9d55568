// The program's primal functions, and their tiers. With `optimize: "tiered"` (the default)
// Program creation instantiates the lifted module without binaryen's passes: they were a
// third of a small kernel's creation, and more while binaryen's own code is still cold
// (15 of an MLP's 23 ms in bench:peers' first-call figure). The first instance owns the
// program's state (memory, mutable globals, data segments, the start function), and stays.
// Calls to it are timed; once they have taken as long as the creation did, the next call
// compiles the module again with the "fast" passes, as a module that imports the first
// instance's memory and mutable globals, as derivative modules do (no data segments and no
// start function: the state is not touched), and later calls run that one. The same
// ski-rental bound as a derivative's tiers (runtime/compiled.ts): a program whose primal is
// called rarely never pays for the passes.
import { instantiateNow, instantiate } from "./instantiate.js";
import { TierBudget } from "./tier-budget.js";

type Exports = WebAssembly.Exports;

export interface PrimalTier2 {
  /** The optimized module's bytes (imports the first instance's memory and mutable globals). */
  build: () => Uint8Array;
  imports: () => WebAssembly.Imports;
  /** Run time (ms) the first tier may take before it is optimized: the creation's time. */
  budgetMs: number;
}

export class PrimalTiers extends TierBudget<PrimalTier2> {
  private exports: Exports;
  /** @internal Set when an optimization compiled asynchronously failed (the first tier keeps running). */
  failure: unknown = null;

  /** `tier2` null: the instance is optimized already. */
  constructor(first: WebAssembly.Instance, tier2: PrimalTier2 | null) {
    super(tier2);
    this.exports = first.exports;
  }

  /** The exported function `name` of the tier that runs now. */
  fn(name: string): (...a: unknown[]) => unknown {
    return this.exports[name] as (...a: unknown[]) => unknown;
  }

  /**
   * Compiles the optimized tier and swaps it in. Where the engine refuses to compile it
   * synchronously (a browser's main thread, above 4 KB), the swap happens when the
   * asynchronous compile ends; calls run the first tier until then.
   */
  optimize(): void {
    const t = this.takeUnoptimized();
    if (!t) return;
    const bytes = t.build(), imports = t.imports();
    const now = instantiateNow(bytes, imports);
    if (now) { this.exports = now.exports; return; }
    instantiate(bytes, imports).then((i) => { this.exports = i.exports; }, (e) => { this.failure = e; });
  }
}
