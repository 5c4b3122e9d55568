// Explicit 1D heat equation, in place (as bench/kernels/heat.wat):
//   repeat `steps` times:  u[i] ← u[i] + a · (u[i−1] − 2 u[i] + u[i+1]),  i = 0 … n−1,
// with zero (Dirichlet) values outside the grid; stable for 0 < a ≤ 1/2.
//
//   heat(u, tmp, n, a, steps)
//     u:   f64[n]  the initial temperatures on entry, the final ones on return (input and output)
//     tmp: f64[n]  scratch (its contents on entry are not read)
//     n: i32, a: f64 (diffusion number α·dt/dx²), steps: i32.  No return value.

export function heat(u: usize, tmp: usize, n: i32, a: f64, steps: i32): void {
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < n; i++) {
      const mid = load<f64>(u + (<usize>i << 3));
      const left = i > 0 ? load<f64>(u + (<usize>(i - 1) << 3)) : 0.0;
      const right = i < n - 1 ? load<f64>(u + (<usize>(i + 1) << 3)) : 0.0;
      store<f64>(tmp + (<usize>i << 3), mid + a * (left - 2.0 * mid + right));
    }
    for (let i = 0; i < n; i++) {
      store<f64>(u + (<usize>i << 3), load<f64>(tmp + (<usize>i << 3)));
    }
  }
}
