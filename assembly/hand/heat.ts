// Hand-written adjoint of assembly/heat.ts (explicit 1D heat equation, in place): a reverse
// sweep written by hand. Only the gradient is here: the bench compiles this file after
// assembly/heat.ts, as one source, so the primal heat(u, tmp, n, a, steps) is that file's export.
//
//   heat_grad(u, tmp, n, a, steps, ub, tape): f64       runs the primal (u ends as u_final,
//     as after heat), then with ub = w on entry (the seed, L = w · u_final) leaves
//     ub = ∂L/∂u0 and returns ∂L/∂a.  tmp: f64[n] scratch, tape: f64[steps · n] scratch.
//
// The update u ← u + a·Δu (Δu = u[i−1] − 2u[i] + u[i+1], zero outside) is linear in u and its
// matrix is symmetric, so the adjoint step is the same stencil applied to ū; ∂L/∂a needs
// Δu of every step, the only thing recorded (8 bytes per point and step, as our tape). The
// loops keep the primal's shape (copy-back loop, no memory.copy) so that the comparison
// measures differentiation, not a different primal.

export function heat_grad(u: usize, tmp: usize, n: i32, a: f64, steps: i32, ub: usize, tape: usize): f64 {
  const row = <usize>n << 3;
  for (let t = 0; t < steps; t++) {
    const lap = tape + <usize>t * row;
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 3;
      const mid = load<f64>(u + o);
      const left = i > 0 ? load<f64>(u + o - 8) : 0.0;
      const right = i < n - 1 ? load<f64>(u + o + 8) : 0.0;
      const d = left - 2.0 * mid + right;
      store<f64>(lap + o, d);
      store<f64>(tmp + o, mid + a * d);
    }
    for (let i = 0; i < n; i++) store<f64>(u + (<usize>i << 3), load<f64>(tmp + (<usize>i << 3)));
  }
  let abar = 0.0;
  for (let t = steps - 1; t >= 0; t--) {
    const lap = tape + <usize>t * row;
    for (let i = 0; i < n; i++) {
      const o = <usize>i << 3;
      const mid = load<f64>(ub + o);
      abar += mid * load<f64>(lap + o);
      const left = i > 0 ? load<f64>(ub + o - 8) : 0.0;
      const right = i < n - 1 ? load<f64>(ub + o + 8) : 0.0;
      store<f64>(tmp + o, mid + a * (left - 2.0 * mid + right));
    }
    for (let i = 0; i < n; i++) store<f64>(ub + (<usize>i << 3), load<f64>(tmp + (<usize>i << 3)));
  }
  return abar;
}
