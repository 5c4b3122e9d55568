// LSTM objective, as in ADBench (lstm_objective): `l` stacked LSTM layers with diagonal
// (elementwise) weights, hidden size h, input size h, run over a sequence of T vectors;
// at each step t = 0 … T−2 the network reads seq[t] and predicts seq[t+1] through a
// log-softmax. For one layer with input x, hidden state hs and cell state cs:
//   forget = σ(x ⊙ w[0:h] + b[0:h])        ingate = σ(hs ⊙ w[h:2h] + b[h:2h])
//   outgate = σ(x ⊙ w[2h:3h] + b[2h:3h])   change = tanh(hs ⊙ w[3h:4h] + b[3h:4h])
//   cs ← cs ⊙ forget + ingate ⊙ change     hs ← outgate ⊙ tanh(cs)
// with σ(v) = 1 / (1 + exp(−v)). The first layer reads x = seq[t] ⊙ inW, layer i > 0 reads
// the hidden state of layer i − 1; ypred = hs_last ⊙ outW + outB.
//   loss = −( Σ_t ⟨seq[t+1], ypred_t − logsumexp(ypred_t)⟩ ) / ((T − 1) · h)
// (ADBench's C++ logsumexp is log(2 + Σ exp); this one is the plain logsumexp, max trick.)
//
//   lstm(weights, state, seq, work, l, h, T): f64 (loss)
//     weights: f64[l·8h + 3h]  per layer [w (4h) | b (4h)], then [inW (h) | outW (h) | outB (h)]
//     state:   f64[l·2h]       per layer [hidden (h) | cell (h)]: the initial state on entry,
//                              the final state on return (input and output)
//     seq:     f64[T·h]        the sequence (read-only)
//     work:    f64[2h]         scratch: [x (h) | ypred (h)]; contents on entry not read
//     l, h, T: i32 (l ≥ 1, T ≥ 2)

function sigmoid(v: f64): f64 {
  return 1.0 / (1.0 + Math.exp(-v));
}

/** One LSTM cell update of (hidden, cell) in place from input. */
function lstmModel(h: i32, weight: usize, bias: usize, hidden: usize, cell: usize, input: usize): void {
  const hb = <usize>h << 3;
  for (let i = 0; i < h; i++) {
    const o = <usize>i << 3;
    const xi = load<f64>(input + o);
    const hi = load<f64>(hidden + o);
    const forget = sigmoid(xi * load<f64>(weight + o) + load<f64>(bias + o));
    const ingate = sigmoid(hi * load<f64>(weight + hb + o) + load<f64>(bias + hb + o));
    const outgate = sigmoid(xi * load<f64>(weight + 2 * hb + o) + load<f64>(bias + 2 * hb + o));
    const change = Math.tanh(hi * load<f64>(weight + 3 * hb + o) + load<f64>(bias + 3 * hb + o));
    const c = load<f64>(cell + o) * forget + ingate * change;
    store<f64>(cell + o, c);
    store<f64>(hidden + o, outgate * Math.tanh(c));
  }
}

export function lstm(weights: usize, state: usize, seq: usize, work: usize, l: i32, h: i32, T: i32): f64 {
  const hb = <usize>h << 3;
  const extra = weights + (<usize>(8 * l * h) << 3);
  const inW = extra;
  const outW = extra + hb;
  const outB = extra + 2 * hb;
  const x = work;
  const ypred = work + hb;

  let total = 0.0;
  for (let t = 0; t < T - 1; t++) {
    const input = seq + (<usize>(t * h) << 3);
    const gold = input + hb;
    for (let i = 0; i < h; i++) {
      const o = <usize>i << 3;
      store<f64>(x + o, load<f64>(input + o) * load<f64>(inW + o));
    }
    // layer 0 reads x, layer i > 0 the hidden state of layer i − 1 (two call sites rather than
    // one input pointer switching from work to state: a local that may point into two
    // different buffers is refused by the pointer analysis)
    lstmModel(h, weights, weights + 4 * hb, state, state + hb, x);
    for (let layer = 1; layer < l; layer++) {
      const w = weights + (<usize>(8 * layer * h) << 3);
      const s = state + (<usize>(2 * layer * h) << 3);
      lstmModel(h, w, w + 4 * hb, s, s + hb, s - 2 * hb);
    }
    const xp = state + (<usize>(2 * (l - 1) * h) << 3); // hidden state of the last layer
    // ypred, then its logsumexp (max trick) and the log-likelihood of the next vector
    let mx = 0.0;
    for (let i = 0; i < h; i++) {
      const o = <usize>i << 3;
      const y = load<f64>(xp + o) * load<f64>(outW + o) + load<f64>(outB + o);
      store<f64>(ypred + o, y);
      if (i == 0 || y > mx) mx = y;
    }
    let se = 0.0;
    for (let i = 0; i < h; i++) se += Math.exp(load<f64>(ypred + (<usize>i << 3)) - mx);
    const lse = Math.log(se) + mx;
    for (let i = 0; i < h; i++) {
      const o = <usize>i << 3;
      total += load<f64>(gold + o) * (load<f64>(ypred + o) - lse);
    }
  }
  return -total / <f64>((T - 1) * h);
}
