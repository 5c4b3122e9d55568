// Classical Runge–Kutta (RK4) integration of the Lotka–Volterra predator–prey system
//   x' = α x − β x y,   y' = δ x y − γ y
// for `steps` steps of size dt, updating the state in place. Returns the Lotka–Volterra
// first integral of the final state, V = δ x − γ ln x + β y − α ln y (conserved by the
// exact flow, so it also measures the integration error).
//
//   rk4(state, params, work, dt, steps): f64
//     state:  f64[2]   (x, y), x, y > 0: the initial state on entry, the final one on return
//     params: f64[4]   (α, β, γ, δ), read-only
//     work:   f64[10]  scratch: [k1 | k2 | k3 | k4 | ytmp], 2 values each; not read on entry
//     dt: f64, steps: i32

const DIM: i32 = 2;

/** out = f(y; params), the Lotka–Volterra vector field. */
function lotkaVolterra(y: usize, params: usize, out: usize): void {
  const a = load<f64>(params, 0), b = load<f64>(params, 8), g = load<f64>(params, 16), d = load<f64>(params, 24);
  const x0 = load<f64>(y, 0), x1 = load<f64>(y, 8);
  store<f64>(out, a * x0 - b * x0 * x1);
  store<f64>(out, d * x0 * x1 - g * x1, 8);
}

/** dst = y + c · k */
function axpy(dst: usize, y: usize, c: f64, k: usize): void {
  for (let i = 0; i < DIM; i++) {
    const o = <usize>i << 3;
    store<f64>(dst + o, load<f64>(y + o) + c * load<f64>(k + o));
  }
}

export function rk4(state: usize, params: usize, work: usize, dt: f64, steps: i32): f64 {
  const sz = <usize>DIM << 3;
  const k1 = work, k2 = k1 + sz, k3 = k2 + sz, k4 = k3 + sz, tmp = k4 + sz;
  for (let s = 0; s < steps; s++) {
    lotkaVolterra(state, params, k1);
    axpy(tmp, state, 0.5 * dt, k1);
    lotkaVolterra(tmp, params, k2);
    axpy(tmp, state, 0.5 * dt, k2);
    lotkaVolterra(tmp, params, k3);
    axpy(tmp, state, dt, k3);
    lotkaVolterra(tmp, params, k4);
    for (let i = 0; i < DIM; i++) {
      const o = <usize>i << 3;
      const inc = load<f64>(k1 + o) + 2.0 * load<f64>(k2 + o) + 2.0 * load<f64>(k3 + o) + load<f64>(k4 + o);
      store<f64>(state + o, load<f64>(state + o) + dt / 6.0 * inc);
    }
  }
  const a = load<f64>(params, 0), b = load<f64>(params, 8), g = load<f64>(params, 16), d = load<f64>(params, 24);
  const x = load<f64>(state, 0), y = load<f64>(state, 8);
  return d * x - g * Math.log(x) + b * y - a * Math.log(y);
}
