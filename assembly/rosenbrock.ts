// Extended Rosenbrock function:
//   f(x) = Σ_{i=0}^{n-2} 100 · (x[i+1] − x[i]²)² + (1 − x[i])²
//
//   rosenbrock(x, n)   x: f64[n] (read-only); returns f(x)

export function rosenbrock(x: usize, n: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < n - 1; i++) {
    const a = load<f64>(x + (<usize>i << 3));
    const b = load<f64>(x + (<usize>(i + 1) << 3));
    const t = b - a * a;
    const u = 1.0 - a;
    s += 100.0 * t * t + u * u;
  }
  return s;
}
