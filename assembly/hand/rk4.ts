// Hand-written adjoint of assembly/rk4.ts (RK4 on Lotka–Volterra, state in place, returns the
// first integral V of the final state): the gradient of V w.r.t. the initial state and the
// parameters by hand. Only the gradient is here: the bench compiles this file after
// assembly/rk4.ts, as one source, so the primal rk4(state, params, work, dt, steps), its
// helpers lotkaVolterra and axpy and the constant DIM are that file's.
//
//   rk4_grad(state, params, work, dt, steps, dstate, dparams, tape): f64
//     V (state ends as the final state, as after rk4); dstate (2) and dparams (4) overwritten
//     with ∂V/∂(initial state) and ∂V/∂(α, β, γ, δ); work: f64[10] and tape: f64[2 · steps] scratch.
//
// The forward part is the primal's loop plus a record of the state at the start of each
// step (16 bytes); the reverse sweep, on locals, recomputes that step's stages from it and
// pushes the adjoint back through them.

export function rk4_grad(state: usize, params: usize, work: usize, dt: f64, steps: i32, dstate: usize, dparams: usize, tape: usize): f64 {
  const a = load<f64>(params, 0), b = load<f64>(params, 8), g = load<f64>(params, 16), d = load<f64>(params, 24);
  const h = 0.5 * dt, w = dt / 6.0;
  // forward: the primal's loop as written, recording the state at the start of each step
  const sz = <usize>DIM << 3;
  const k1 = work, k2 = k1 + sz, k3 = k2 + sz, k4 = k3 + sz, tmp = k4 + sz;
  for (let s = 0; s < steps; s++) {
    const r = tape + (<usize>s << 4);
    store<f64>(r, load<f64>(state, 0));
    store<f64>(r, load<f64>(state, 8), 8);
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
  const x = load<f64>(state, 0), y = load<f64>(state, 8);
  const V = d * x - g * Math.log(x) + b * y - a * Math.log(y);

  // adjoint of V = δx − γ ln x + βy − α ln y
  let dx = d - g / x, dy = b - a / y;
  let da = -Math.log(y), db = y, dg = -Math.log(x), dd = x;
  for (let s = steps - 1; s >= 0; s--) {
    const r = tape + (<usize>s << 4);
    const x0 = load<f64>(r), y0 = load<f64>(r, 8);
    // recompute the stages' points
    const k1x = a * x0 - b * x0 * y0, k1y = d * x0 * y0 - g * y0;
    const t1x = x0 + h * k1x, t1y = y0 + h * k1y;
    const k2x = a * t1x - b * t1x * t1y, k2y = d * t1x * t1y - g * t1y;
    const t2x = x0 + h * k2x, t2y = y0 + h * k2y;
    const k3x = a * t2x - b * t2x * t2y, k3y = d * t2x * t2y - g * t2y;
    const t3x = x0 + dt * k3x, t3y = y0 + dt * k3y;
    // x' = x + w (k1 + 2k2 + 2k3 + k4); k_j = f(t_{j−1}) with f(u, v) = (αu − βuv, δuv − γv)
    let sx = dx, sy = dy;
    let e1x = w * dx, e1y = w * dy;
    let e2x = 2.0 * e1x, e2y = 2.0 * e1y, e3x = e2x, e3y = e2y;
    const e4x = e1x, e4y = e1y;
    // k4 = f(t3), t3 = x + dt k3
    let ux = e4x * (a - b * t3y) + e4y * d * t3y, uy = -e4x * b * t3x + e4y * (d * t3x - g);
    da += e4x * t3x; db -= e4x * t3x * t3y; dd += e4y * t3x * t3y; dg -= e4y * t3y;
    sx += ux; sy += uy; e3x += dt * ux; e3y += dt * uy;
    // k3 = f(t2), t2 = x + h k2
    ux = e3x * (a - b * t2y) + e3y * d * t2y; uy = -e3x * b * t2x + e3y * (d * t2x - g);
    da += e3x * t2x; db -= e3x * t2x * t2y; dd += e3y * t2x * t2y; dg -= e3y * t2y;
    sx += ux; sy += uy; e2x += h * ux; e2y += h * uy;
    // k2 = f(t1), t1 = x + h k1
    ux = e2x * (a - b * t1y) + e2y * d * t1y; uy = -e2x * b * t1x + e2y * (d * t1x - g);
    da += e2x * t1x; db -= e2x * t1x * t1y; dd += e2y * t1x * t1y; dg -= e2y * t1y;
    sx += ux; sy += uy; e1x += h * ux; e1y += h * uy;
    // k1 = f(x)
    sx += e1x * (a - b * y0) + e1y * d * y0; sy += -e1x * b * x0 + e1y * (d * x0 - g);
    da += e1x * x0; db -= e1x * x0 * y0; dd += e1y * x0 * y0; dg -= e1y * y0;
    dx = sx; dy = sy;
  }
  store<f64>(dstate, dx, 0);
  store<f64>(dstate, dy, 8);
  store<f64>(dparams, da, 0);
  store<f64>(dparams, db, 8);
  store<f64>(dparams, dg, 16);
  store<f64>(dparams, dd, 24);
  return V;
}
