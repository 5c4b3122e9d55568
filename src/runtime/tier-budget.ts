// When a module's unoptimized first tier gives way to its optimized one, for derivative
// modules (runtime/compiled.ts) and the primal (runtime/primal.ts) alike: calls are timed
// while run time is left in the budget (the first compile's time); once they have used it up,
// the next call optimizes first. A module called once never pays for the optimization, and one
// called in a loop pays at most about its first compile's time again (a JIT's ski-rental bound).
export abstract class TierBudget<T extends { budgetMs: number }> {
  /** What optimizing needs, and the run time (ms) left before it is due; null once optimized. */
  private unoptimized: T | null;

  protected constructor(unoptimized: T | null) {
    this.unoptimized = unoptimized;
  }

  /** Whether calls should be timed (first tier, budget left). */
  get timed(): boolean { return this.unoptimized !== null && this.unoptimized.budgetMs > 0; }
  /** Whether the next call should optimize first (first tier, budget spent). */
  get due(): boolean { return this.unoptimized !== null && this.unoptimized.budgetMs <= 0; }
  /** Whether calls run optimized code (or its compile is under way, where the engine compiles asynchronously). */
  get optimized(): boolean { return this.unoptimized === null; }

  /** Counts a first-tier call's run time against the budget. */
  ran(ms: number): void {
    if (this.unoptimized) this.unoptimized.budgetMs -= ms;
  }

  /** What optimizing needs, handed over once (null when optimized already): from now on the tier counts as optimized. */
  protected takeUnoptimized(): T | null {
    const t = this.unoptimized;
    this.unoptimized = null;
    return t;
  }
}
