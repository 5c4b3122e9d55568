// A Newton solver with an implicit-function-theorem derivative rule (Program.rule).
//
//   solve(p, iters): f64   x after `iters` Newton steps from x₀ = 0 on
//                          g(x, p) = x³ + x − p = 0
//                          (g_x = 3x² + 1 > 0: one real root for every p, Newton converges)
//   energy(p, iters): f64  E = x² + sin(p·x) with x = solve(p, iters)
//                          (p also enters directly, so dE/dp = (2x + p cos(px))·dx/dp + x cos(px))
//
// The rule: at a root, g(x(p), p) = 0, so dx/dp = −g_p / g_x = 1 / (3x² + 1), one (here
// scalar) linear solve at the returned x instead of differentiating through the
// iterations. With too few iterations x is not a root yet: the rule then gives the
// implicit derivative at the returned x, while differentiating the loop gives the
// derivative of the truncated iteration (what finite differences of `solve` measure).
//
//   solve_fwd(p, dp, iters): f64        tangent of solve: dp / g_x(x)
//   solve_rev(p, iters, adjoint): f64   adjoint of p:    adjoint / g_x(x)
//
// Registered with program.rule("solve", { forward: "solve_fwd", reverse: "solve_rev" }).
// AssemblyScript returns one value, so solve_fwd returns the tangent only (the runtime
// calls solve for the result) and both rules recompute x with solve.
//
// Compile with Program.fromAssemblyScript(src, { asc: { shrinkLevel: 1 } }). Every function
// is exported, so that asc keeps the rules, but exporting does not stop asc -O3 from
// inlining solve into energy (binaryen's "flexible" inlining takes call-free functions of
// up to 70 nodes, loops included, exported or not): energy would then have no call to
// solve, and the rule would silently not apply. shrinkLevel ≥ 1 turns that inlining off.

/** Newton's method on x³ + x − p from x₀ = 0, `iters` steps. */
export function solve(p: f64, iters: i32): f64 {
  let x = 0.0;
  for (let i = 0; i < iters; i++) {
    const g = x * x * x + x - p;
    const gx = 3.0 * x * x + 1.0;
    x -= g / gx;
  }
  return x;
}

/** Forward rule of solve (tangent only): dx = −g_p/g_x · dp = dp / (3x² + 1). */
export function solve_fwd(p: f64, dp: f64, iters: i32): f64 {
  const x = solve(p, iters);
  return dp / (3.0 * x * x + 1.0);
}

/** Reverse rule of solve: p̄ = x̄ · dx/dp = x̄ / (3x² + 1). */
export function solve_rev(p: f64, iters: i32, adjoint: f64): f64 {
  const x = solve(p, iters);
  return adjoint / (3.0 * x * x + 1.0);
}

/** E = x² + sin(p·x), x = solve(p, iters). */
export function energy(p: f64, iters: i32): f64 {
  const x = solve(p, iters);
  return x * x + Math.sin(p * x);
}
