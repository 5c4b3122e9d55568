// A kernel calling a host (JS) function, which wasm-autodiff cannot look into: it gets
// derivative rules written in JS (Program.rule on the import "env.expensive").
//
//   expensive(x): f64   supplied by the host (options.imports.env.expensive), any smooth
//                       function of x; the tests use φ(x) = log(1 + x²) + atan(x)
//   host_loss(x, n, t): f64 = Σ_i x[i] · expensive(t · x[i])
//     x: f64[n] (read-only), n: i32, t: f64
//
//   program.rule("env.expensive", {
//     forward: (x, dx) => [φ(x), φ'(x) · dx],   // value and tangent
//     reverse: (x, adjoint) => φ'(x) · adjoint, // adjoint of x
//   });
//
// Without the rule, differentiating host_loss is refused (UnsupportedError naming
// env.expensive): an import other than Math.* that receives active values has no derivative.

@external("env", "expensive")
declare function expensive(x: f64): f64;

export function host_loss(x: usize, n: i32, t: f64): f64 {
  let s = 0.0;
  for (let i = 0; i < n; i++) {
    const xi = load<f64>(x + (<usize>i << 3));
    s += xi * expensive(t * xi);
  }
  return s;
}
