// AssemblyScript kernels built ahead of time with `npx asc --target release` (asconfig.json)
// and loaded with Program.fromWasm. Pointer arguments are addresses of f64 arrays (i32 for
// BA's observation indices). Each kernel file is self-contained, so that it can also be
// compiled on its own with Program.fromAssemblyScript; see the header of each file for
// what it computes and its argument layout.

export { mlp, mlp_batch } from "./mlp";
export { rosenbrock } from "./rosenbrock";
export { heat } from "./heat";
export { gmm } from "./gmm";
export { ba, ba_residual } from "./ba";
export { lstm } from "./lstm";
export { rk4 } from "./rk4";
export { smooth, temporaries } from "./workspace";

/** Sum of squares of x[i] * w[i]. */
export function weighted_sq(x: usize, w: usize, n: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < n; i++) {
    const v = load<f64>(x + (<usize>i << 3)) * load<f64>(w + (<usize>i << 3));
    s += v * v;
  }
  return s;
}
