// Hand-written adjoint of assembly/lstm.ts (ADBench LSTM objective): the gradient w.r.t. the
// weights and the initial state by hand. Only the gradient is here: the bench compiles this
// file after assembly/lstm.ts, as one source, so the primal lstm(weights, state, seq, work, l,
// h, T) and its helper sigmoid are that file's.
//
//   lstm_grad(weights, state, seq, l, h, T, dweights, dstate, tape): f64
//     the loss (state ends as the final state, as after lstm); dweights (l·8h + 3h) and
//     dstate (l·2h) overwritten with the gradient w.r.t. the weights and the initial state
//     (no seed on the final state); tape: f64[lstm_grad_tape(l, h, T)] scratch.
//
// The forward part records, per step and layer, the cell's input, its previous hidden and
// cell state, the four gates and tanh(c) (8h values), and per step the prediction and its
// logsumexp; the reverse sweep walks the steps and layers backwards on those, carrying the
// adjoints of every layer's hidden and cell state in dstate.

/** Doubles of tape lstm_grad needs. */
export function lstm_grad_tape(l: i32, h: i32, T: i32): i32 {
  return (T - 1) * (l * 8 * h + h + 1);
}

export function lstm_grad(weights: usize, state: usize, seq: usize, l: i32, h: i32, T: i32,
                          dweights: usize, dstate: usize, tape: usize): f64 {
  const hb = <usize>h << 3;
  const layerRec = 8 * hb, stepRec = <usize>l * layerRec + hb + 8;
  const extra = <usize>(8 * l * h) << 3;
  const inW = weights + extra, outW = inW + hb, outB = inW + 2 * hb;
  const dinW = dweights + extra, doutW = dinW + hb, doutB = dinW + 2 * hb;
  memory.fill(dweights, 0, <usize>(8 * l * h + 3 * h) << 3);
  memory.fill(dstate, 0, <usize>(2 * l * h) << 3);

  let total = 0.0;
  for (let t = 0; t < T - 1; t++) {
    const rec = tape + <usize>t * stepRec;
    const input = seq + (<usize>(t * h) << 3);
    const gold = input + hb;
    for (let layer = 0; layer < l; layer++) {
      const r = rec + <usize>layer * layerRec;
      const w = weights + (<usize>(8 * layer * h) << 3), b = w + 4 * hb;
      const hs = state + (<usize>(2 * layer * h) << 3), cs = hs + hb;
      for (let i = 0; i < h; i++) {
        const o = <usize>i << 3;
        const xi = layer == 0 ? load<f64>(input + o) * load<f64>(inW + o) : load<f64>(hs - 2 * hb + o);
        const hi = load<f64>(hs + o), ci = load<f64>(cs + o);
        const forget = sigmoid(xi * load<f64>(w + o) + load<f64>(b + o));
        const ingate = sigmoid(hi * load<f64>(w + hb + o) + load<f64>(b + hb + o));
        const outgate = sigmoid(xi * load<f64>(w + 2 * hb + o) + load<f64>(b + 2 * hb + o));
        const change = Math.tanh(hi * load<f64>(w + 3 * hb + o) + load<f64>(b + 3 * hb + o));
        const c = ci * forget + ingate * change;
        const tc = Math.tanh(c);
        store<f64>(r + o, xi);
        store<f64>(r + hb + o, hi);
        store<f64>(r + 2 * hb + o, ci);
        store<f64>(r + 3 * hb + o, forget);
        store<f64>(r + 4 * hb + o, ingate);
        store<f64>(r + 5 * hb + o, outgate);
        store<f64>(r + 6 * hb + o, change);
        store<f64>(r + 7 * hb + o, tc);
        store<f64>(cs + o, c);
        store<f64>(hs + o, outgate * tc);
      }
    }
    const xp = state + (<usize>(2 * (l - 1) * h) << 3);
    const yp = rec + <usize>l * layerRec;
    let mx = 0.0;
    for (let i = 0; i < h; i++) {
      const o = <usize>i << 3;
      const y = load<f64>(xp + o) * load<f64>(outW + o) + load<f64>(outB + o);
      store<f64>(yp + o, y);
      if (i == 0 || y > mx) mx = y;
    }
    let se = 0.0;
    for (let i = 0; i < h; i++) se += Math.exp(load<f64>(yp + (<usize>i << 3)) - mx);
    const lse = Math.log(se) + mx;
    store<f64>(yp + hb, lse);
    for (let i = 0; i < h; i++) {
      const o = <usize>i << 3;
      total += load<f64>(gold + o) * (load<f64>(yp + o) - lse);
    }
  }
  const dtotal = -1.0 / <f64>((T - 1) * h);

  for (let t = T - 2; t >= 0; t--) {
    const rec = tape + <usize>t * stepRec;
    const input = seq + (<usize>(t * h) << 3);
    const gold = input + hb;
    const yp = rec + <usize>l * layerRec;
    const lse = load<f64>(yp + hb);
    // ∂/∂ypred_i of Σ_j gold_j (ypred_j − lse) = gold_i − (Σ gold) softmax_i
    let sg = 0.0;
    for (let i = 0; i < h; i++) sg += load<f64>(gold + (<usize>i << 3));
    const last = rec + <usize>(l - 1) * layerRec;
    const dhsLast = dstate + (<usize>(2 * (l - 1) * h) << 3);
    for (let i = 0; i < h; i++) {
      const o = <usize>i << 3;
      const dy = dtotal * (load<f64>(gold + o) - sg * Math.exp(load<f64>(yp + o) - lse));
      const hsLast = load<f64>(last + 5 * hb + o) * load<f64>(last + 7 * hb + o);
      store<f64>(doutB + o, load<f64>(doutB + o) + dy);
      store<f64>(doutW + o, load<f64>(doutW + o) + dy * hsLast);
      store<f64>(dhsLast + o, load<f64>(dhsLast + o) + dy * load<f64>(outW + o));
    }
    for (let layer = l - 1; layer >= 0; layer--) {
      const r = rec + <usize>layer * layerRec;
      const w = weights + (<usize>(8 * layer * h) << 3);
      const dw = dweights + (<usize>(8 * layer * h) << 3), db = dw + 4 * hb;
      const dhs = dstate + (<usize>(2 * layer * h) << 3), dcs = dhs + hb;
      for (let i = 0; i < h; i++) {
        const o = <usize>i << 3;
        const xi = load<f64>(r + o), hi = load<f64>(r + hb + o), ci = load<f64>(r + 2 * hb + o);
        const forget = load<f64>(r + 3 * hb + o), ingate = load<f64>(r + 4 * hb + o);
        const outgate = load<f64>(r + 5 * hb + o), change = load<f64>(r + 6 * hb + o), tc = load<f64>(r + 7 * hb + o);
        const dh = load<f64>(dhs + o);
        const dc = load<f64>(dcs + o) + dh * outgate * (1.0 - tc * tc);
        const dzf = dc * ci * forget * (1.0 - forget);
        const dzi = dc * change * ingate * (1.0 - ingate);
        const dzo = dh * tc * outgate * (1.0 - outgate);
        const dzc = dc * ingate * (1.0 - change * change);
        store<f64>(dw + o, load<f64>(dw + o) + dzf * xi);
        store<f64>(db + o, load<f64>(db + o) + dzf);
        store<f64>(dw + hb + o, load<f64>(dw + hb + o) + dzi * hi);
        store<f64>(db + hb + o, load<f64>(db + hb + o) + dzi);
        store<f64>(dw + 2 * hb + o, load<f64>(dw + 2 * hb + o) + dzo * xi);
        store<f64>(db + 2 * hb + o, load<f64>(db + 2 * hb + o) + dzo);
        store<f64>(dw + 3 * hb + o, load<f64>(dw + 3 * hb + o) + dzc * hi);
        store<f64>(db + 3 * hb + o, load<f64>(db + 3 * hb + o) + dzc);
        const din = dzf * load<f64>(w + o) + dzo * load<f64>(w + 2 * hb + o);
        store<f64>(dhs + o, dzi * load<f64>(w + hb + o) + dzc * load<f64>(w + 3 * hb + o));
        store<f64>(dcs + o, dc * forget);
        if (layer > 0) store<f64>(dhs - 2 * hb + o, load<f64>(dhs - 2 * hb + o) + din);
        else store<f64>(dinW + o, load<f64>(dinW + o) + din * load<f64>(input + o));
      }
    }
  }
  return -total / <f64>((T - 1) * h);
}
