// MLP from the seed discussion: y = W2 · tanh(W1 · x³ + b1) + b2 (x³ elementwise),
// 2 inputs, 50 hidden units (tanh), 2 outputs.
//
// params: f64[252] = [W1 (50×2, row-major) | b1 (50) | W2 (2×50, row-major) | b2 (2)]
//
//   mlp(params, x)           x: f64[2]; returns y0 + y1
//   mlp_batch(params, xs, n) xs: f64[n·2] (n inputs, one after another);
//                            returns Σ over the n inputs of (y0 + y1)
//
// Nothing is written: params and x are read-only (reverse mode accumulates into their shadows).

const MLP_IN: i32 = 2;
const MLP_HIDDEN: i32 = 50;

/** y0 + y1 for the input (x0, x1). */
function mlpForward(params: usize, x0: f64, x1: f64): f64 {
  const w1 = params;
  const b1 = w1 + (<usize>(MLP_HIDDEN * MLP_IN) << 3);
  const w2 = b1 + (<usize>MLP_HIDDEN << 3);
  const b2 = w2 + (<usize>(2 * MLP_HIDDEN) << 3);
  const u0 = x0 * x0 * x0;
  const u1 = x1 * x1 * x1;
  let y0 = load<f64>(b2);
  let y1 = load<f64>(b2, 8);
  for (let j = 0; j < MLP_HIDDEN; j++) {
    const z = load<f64>(w1 + (<usize>(2 * j) << 3)) * u0
            + load<f64>(w1 + (<usize>(2 * j + 1) << 3)) * u1
            + load<f64>(b1 + (<usize>j << 3));
    const h = Math.tanh(z);
    y0 += load<f64>(w2 + (<usize>j << 3)) * h;
    y1 += load<f64>(w2 + (<usize>(MLP_HIDDEN + j) << 3)) * h;
  }
  return y0 + y1;
}

export function mlp(params: usize, x: usize): f64 {
  return mlpForward(params, load<f64>(x), load<f64>(x, 8));
}

export function mlp_batch(params: usize, xs: usize, n: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < n; i++) {
    const p = xs + (<usize>(MLP_IN * i) << 3);
    s += mlpForward(params, load<f64>(p), load<f64>(p, 8));
  }
  return s;
}
