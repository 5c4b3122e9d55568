// Seeded randomness and error measures shared by the benchmarks, the fuzzer and the tests,
// so every run (and every machine) draws the same inputs.

/** mulberry32: a seeded generator of uniform numbers in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform numbers in [lo, hi). */
export const uniform = (n: number, r: () => number, lo: number, hi: number): Float64Array =>
  Float64Array.from({ length: n }, () => lo + (hi - lo) * r());

/** |a − b| / max(1, |a|, |b|): relative for large values, absolute for small ones. */
export function relErr(a: number, b: number): number {
  // NaN on either side stays NaN, which fails every tolerance
  return Math.abs(a - b) / Math.max(1, Math.abs(a), Math.abs(b));
}
