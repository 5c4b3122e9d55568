// bench:peers' timing: measure.ts's warm-up and calibration, then round-robin rounds over
// every subject in one process, with two additions the peers need: an untimed setup before
// each sample (tfjs switches its global backend), and fewer samples for subjects whose single
// call lasts seconds (they are sampled every k-th round so that none takes more than a few
// seconds of the run; per-round ratios then use the rounds both subjects were sampled in).
import { type Subject, type TimingOptions, calibrate } from "../measure.js";

export interface Timed {
  subject: Subject;
  setup?: () => void | Promise<void>;
  batch: number;
  /** Sampled on rounds r with r % every === 0. */
  every: number;
  /** ms per call per round; NaN on rounds not sampled. */
  perCallMs: number[];
  sampleMs: number[];
  error?: string;
}

/** Seconds of sampling one slow subject may take over the whole run. */
const SLOW_SUBJECT_BUDGET_MS = 6000;

async function timeBatch(s: Subject, calls: number): Promise<number> {
  const t = performance.now();
  if (s.async) for (let i = 0; i < calls; i++) await s.run();
  else for (let i = 0; i < calls; i++) s.run();
  return performance.now() - t;
}

export async function prepare(subject: Subject, setup: (() => void | Promise<void>) | undefined, o: TimingOptions): Promise<Timed> {
  await setup?.();
  const cal = await calibrate(subject, o);
  const perCall = cal.warmupMs / cal.warmupCalls;
  const every = Math.min(o.rounds, Math.max(1, Math.ceil((perCall * cal.batch * o.rounds) / SLOW_SUBJECT_BUDGET_MS)));
  return { subject, setup, batch: cal.batch, every, perCallMs: [], sampleMs: [] };
}

/** As measure.ts's interleave: the order starts one later each round and runs backwards on odd rounds. */
export async function rounds(subjects: Timed[], o: TimingOptions, onRound: (r: number) => void): Promise<void> {
  for (let r = 0; r < o.rounds; r++) {
    for (let k = 0; k < subjects.length; k++) {
      const j = r % 2 ? subjects.length - 1 - k : k;
      const sub = subjects[(j + r) % subjects.length];
      if (sub.error !== undefined || r % sub.every !== 0) { sub.perCallMs[r] = NaN; continue; }
      try {
        await sub.setup?.();
        let t = 0, calls = 0;
        do { t += await timeBatch(sub.subject, sub.batch); calls += sub.batch; } while (t < o.minSampleMs);
        sub.perCallMs[r] = t / calls;
        sub.sampleMs.push(t);
      } catch (e) {
        sub.error = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e);
        sub.perCallMs[r] = NaN;
      }
    }
    onRound(r);
  }
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function quantile(xs: readonly number[], q: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const p = (s.length - 1) * q, lo = Math.floor(p), hi = Math.ceil(p);
  return s[lo] + (s[hi] - s[lo]) * (p - lo);
}

/** a[r] / b[r] over the rounds where both were sampled. */
export const perRound = (a: readonly number[], b: readonly number[]): number[] =>
  a.map((x, r) => x / b[r]).filter((x) => Number.isFinite(x));
