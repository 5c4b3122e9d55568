// Hand-written adjoint of assembly/rosenbrock.ts (bench:peers' "hand-written AS" row): its
// gradient written out by hand in one forward pass. Only the gradient is here: the bench
// compiles this file after assembly/rosenbrock.ts, as one source, so the primal rosenbrock(x, n)
// is that file's export.
//
//   rosenbrock_grad(x, g, n): f64         f(x); g: f64[n] receives ∇f (overwritten, not accumulated)
//
// Term i, 100 (x[i+1] − x[i]²)² + (1 − x[i])², contributes −400 x[i] d − 2 (1 − x[i]) to g[i]
// and 200 d to g[i+1] (d = x[i+1] − x[i]²): carrying the second part to the next iteration
// writes every g[i] exactly once, so nothing needs zeroing and nothing is stored.

export function rosenbrock_grad(x: usize, g: usize, n: i32): f64 {
  let s = 0.0;
  let carry = 0.0; // 200 d of the previous term: its contribution to this g[i]
  for (let i = 0; i < n - 1; i++) {
    const a = load<f64>(x + (<usize>i << 3));
    const b = load<f64>(x + (<usize>(i + 1) << 3));
    const t = b - a * a;
    const u = 1.0 - a;
    s += 100.0 * t * t + u * u;
    store<f64>(g + (<usize>i << 3), carry - 400.0 * a * t - 2.0 * u);
    carry = 200.0 * t;
  }
  if (n > 0) store<f64>(g + (<usize>(n - 1) << 3), carry);
  return s;
}
