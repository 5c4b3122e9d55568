// Hand-written adjoint of assembly/mlp.ts (y = W2 · tanh(W1 · x³ + b1) + b2, 2 → 50 → 2,
// objective y0 + y1): its gradient by hand. Only the gradient is here: the bench compiles this
// file after assembly/mlp.ts, as one source, so the primals mlp(params, x) and
// mlp_batch(params, xs, n) and the constants MLP_IN and MLP_HIDDEN are that file's.
//
//   mlp_grad(params, x, dparams, dx): f64        f; dparams: f64[252], dx: f64[2] overwritten with ∇f
//   mlp_batch_grad(params, xs, n, dparams): f64  Σ f over the n inputs; dparams overwritten with ∇ (xs constant)
//
// The seed on y0 + y1 is 1 on both outputs, so ∂/∂W2[o][j] = h_j and ∂/∂h_j = W2[0][j] + W2[1][j]:
// each hidden unit's adjoint is known as soon as its h_j is, and one pass over the 50 units
// computes the value and the whole gradient without storing h.

const MLP_PARAMS: i32 = MLP_HIDDEN * MLP_IN + MLP_HIDDEN + 2 * MLP_HIDDEN + 2;

// Value of one input; adds its gradient w.r.t. the parameters into dparams and stores
// ∂f/∂(x0, x1) in dxOut (when dxOut ≠ 0).
@inline
function mlpAdjoint(params: usize, dparams: usize, x0: f64, x1: f64, dxOut: usize): f64 {
  const w1 = params, dw1 = dparams;
  const b1 = w1 + (<usize>(MLP_HIDDEN * MLP_IN) << 3), db1 = dw1 + (<usize>(MLP_HIDDEN * MLP_IN) << 3);
  const w2 = b1 + (<usize>MLP_HIDDEN << 3), dw2 = db1 + (<usize>MLP_HIDDEN << 3);
  const b2 = w2 + (<usize>(2 * MLP_HIDDEN) << 3), db2 = dw2 + (<usize>(2 * MLP_HIDDEN) << 3);
  const x0sq = x0 * x0, x1sq = x1 * x1;
  const u0 = x0sq * x0, u1 = x1sq * x1;
  let y = load<f64>(b2) + load<f64>(b2, 8);
  let du0 = 0.0, du1 = 0.0;
  for (let j = 0; j < MLP_HIDDEN; j++) {
    const oa = <usize>(2 * j) << 3, ob = <usize>(2 * j + 1) << 3, oj = <usize>j << 3, ok = <usize>(MLP_HIDDEN + j) << 3;
    const wa = load<f64>(w1 + oa), wb = load<f64>(w1 + ob);
    const h = Math.tanh(wa * u0 + wb * u1 + load<f64>(b1 + oj));
    const v0 = load<f64>(w2 + oj), v1 = load<f64>(w2 + ok);
    y += (v0 + v1) * h;
    store<f64>(dw2 + oj, load<f64>(dw2 + oj) + h);
    store<f64>(dw2 + ok, load<f64>(dw2 + ok) + h);
    const dz = (v0 + v1) * (1.0 - h * h);
    store<f64>(db1 + oj, load<f64>(db1 + oj) + dz);
    store<f64>(dw1 + oa, load<f64>(dw1 + oa) + dz * u0);
    store<f64>(dw1 + ob, load<f64>(dw1 + ob) + dz * u1);
    du0 += dz * wa;
    du1 += dz * wb;
  }
  store<f64>(db2, load<f64>(db2) + 1.0);
  store<f64>(db2, load<f64>(db2, 8) + 1.0, 8);
  if (dxOut != 0) {
    store<f64>(dxOut, du0 * 3.0 * x0sq);
    store<f64>(dxOut, du1 * 3.0 * x1sq, 8);
  }
  return y;
}

export function mlp_grad(params: usize, x: usize, dparams: usize, dx: usize): f64 {
  memory.fill(dparams, 0, <usize>MLP_PARAMS << 3);
  return mlpAdjoint(params, dparams, load<f64>(x), load<f64>(x, 8), dx);
}

export function mlp_batch_grad(params: usize, xs: usize, n: i32, dparams: usize): f64 {
  memory.fill(dparams, 0, <usize>MLP_PARAMS << 3);
  let s = 0.0;
  for (let i = 0; i < n; i++) {
    const p = xs + (<usize>(MLP_IN * i) << 3);
    s += mlpAdjoint(params, dparams, load<f64>(p), load<f64>(p, 8), 0);
  }
  return s;
}
