// AssemblyScript kernels built ahead of time with `npx asc --target release` (asconfig.json)
// and loaded with Program.fromWasm. Pointer arguments are addresses of f64 arrays.

/** Extended Rosenbrock function over n values at x. */
export function rosenbrock(x: usize, n: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < n - 1; i++) {
    const a = load<f64>(x + (<usize>i << 3));
    const b = load<f64>(x + (<usize>(i + 1) << 3));
    s += 100.0 * (b - a * a) * (b - a * a) + (1.0 - a) * (1.0 - a);
  }
  return s;
}

/** Sum of squares of x[i] * w[i]. */
export function weighted_sq(x: usize, w: usize, n: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < n; i++) {
    const v = load<f64>(x + (<usize>i << 3)) * load<f64>(w + (<usize>i << 3));
    s += v * v;
  }
  return s;
}
