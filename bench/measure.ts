// Timing harness, following shared/PEERS.md "Measuring fairly": warm each subject up,
// calibrate a batch size so one sample lasts long enough for performance.now() to be
// precise, then take samples round-robin over all subjects in one process so drift
// (thermal, GC, other load on the machine) hits every subject alike, and compare
// subjects through per-round pairs rather than through independent medians.

export interface Subject {
  readonly name: string;
  /** One call of the thing measured. */
  readonly run: () => unknown;
  /** True when run returns a promise that must be awaited (autodiff); kernel.call is
   *  synchronous and is looped without await, so it is not charged a microtask per call. */
  readonly async: boolean;
}

export interface TimingOptions {
  /** Warm-up lasts at least this long and at least warmupCalls calls, so V8's tiers
   *  (Liftoff → TurboFan for Wasm, Ignition → TurboFan for the JS glue) have settled. */
  warmupMs: number;
  warmupCalls: number;
  /** Each sample is a batch of calls lasting at least this long. */
  minSampleMs: number;
  rounds: number;
}

/**
 * The timing every benchmark uses: a full run follows shared/PEERS.md (≥ 300 ms and ≥ 3 calls
 * of warm-up, samples ≥ 10 ms, 15 rounds unless `rounds` says otherwise); `--quick` is a smoke
 * test of the harness (seconds, not a measurement).
 */
export const timingFor = (quick: boolean, rounds: number | null): TimingOptions => (quick
  ? { warmupMs: 30, warmupCalls: 3, minSampleMs: 3, rounds: rounds ?? 3 }
  : { warmupMs: 300, warmupCalls: 3, minSampleMs: 10, rounds: rounds ?? 15 });

export interface Calibration {
  batch: number;
  warmupCalls: number;
  warmupMs: number;
}

export interface Series {
  name: string;
  batch: number;
  /** Milliseconds per call, one entry per round. */
  perCallMs: number[];
  /** Wall time of each sample (one or more whole batches), to show every sample met minSampleMs. */
  sampleMs: number[];
}

async function timeBatch(s: Subject, calls: number): Promise<number> {
  const t0 = performance.now();
  if (s.async) for (let i = 0; i < calls; i++) await s.run();
  else for (let i = 0; i < calls; i++) s.run();
  return performance.now() - t0;
}

/** Warms s up, then finds a batch size whose sample lasts ≥ minSampleMs. */
export async function calibrate(s: Subject, o: TimingOptions): Promise<Calibration> {
  // Warm up in doubling batches: one call at a time would make warm-up of a µs-scale call
  // mostly loop overhead, one big batch could overshoot a slow call by seconds.
  let calls = 0, spent = 0, b = 1, last = 0, lastB = 1;
  while (calls < o.warmupCalls || spent < o.warmupMs) {
    last = await timeBatch(s, b);
    lastB = b;
    spent += last;
    calls += b;
    if (spent < o.warmupMs / 2) b *= 2;
  }
  // Size the batch from the last (warmest) warm-up batch, then check it with a fresh timed
  // batch and grow it until it really lasts ≥ minSampleMs. The 1.25 margin keeps later
  // samples above the floor when a round runs a little faster than the calibration.
  const perCall = last / lastB;
  let batch = Math.max(1, Math.ceil((o.minSampleMs * 1.5) / Math.max(perCall, 1e-6)));
  for (;;) {
    const t = await timeBatch(s, batch);
    if (t >= o.minSampleMs * 1.25) break;
    const scale = t > 0 ? (o.minSampleMs * 1.5) / t : 16;
    batch = Math.max(batch + 1, Math.ceil(batch * Math.min(scale, 16)));
  }
  return { batch, warmupCalls: calls, warmupMs: spent };
}

/**
 * Runs `rounds` rounds; each round takes one sample of every subject. The order starts
 * one later each round and runs backwards on odd rounds, so no subject always runs
 * first, or right after the same neighbour (e.g. after a reverse call that left garbage
 * for the GC to collect during the next sample).
 */
export async function interleave(subjects: readonly { subject: Subject; batch: number }[], rounds: number,
  minSampleMs: number, onRound?: (r: number) => void): Promise<Series[]> {
  const series: Series[] = subjects.map(({ subject, batch }) => ({ name: subject.name, batch, perCallMs: [], sampleMs: [] }));
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < subjects.length; k++) {
      const j = r % 2 ? subjects.length - 1 - k : k;
      const i = (j + r) % subjects.length;
      const { subject, batch } = subjects[i];
      // If the machine got faster than at calibration, add whole batches until the sample
      // lasts ≥ minSampleMs, rather than keep a sample too short to time precisely.
      let t = 0, calls = 0;
      do { t += await timeBatch(subject, batch); calls += batch; } while (t < minSampleMs);
      series[i].perCallMs.push(t / calls);
      series[i].sampleMs.push(t);
    }
    onRound?.(r);
  }
  return series;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Quantile by linear interpolation (q in [0, 1]); used for the spread reported in JSON. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const p = (s.length - 1) * q, lo = Math.floor(p), hi = Math.ceil(p);
  return s[lo] + (s[hi] - s[lo]) * (p - lo);
}

/** a[r] / b[r] per round: both were sampled in the same round, so slow phases cancel. */
export function perRoundRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, r) => x / b[r]);
}
