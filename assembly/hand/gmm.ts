// Hand-written adjoint of assembly/gmm.ts (ADBench GMM objective): its gradient w.r.t.
// alphas, means and icf by hand. Only the gradient is here: the bench compiles this file after
// assembly/gmm.ts, as one source, so the primal gmm(alphas, means, icf, x, work, d, k, n, gamma, m),
// its helpers (logsumexp, sqnorm) and constants are that file's.
//
//   gmm_grad(alphas, means, icf, x, d, k, n, gamma, m, dalphas, dmeans, dicf, s): f64
//     the objective; dalphas (k), dmeans (k·d), dicf (k·(d + d(d−1)/2)) overwritten with its
//     gradient; s: f64[gmm_grad_scratch(d, k)] scratch.
//
// Per point, the forward part keeps x − μ_c and Q_c (x − μ_c) of every component (k·d each)
// so that, once the point's logsumexp is known, its adjoint (the softmax weights) flows
// back through every component without recomputation; nothing else is recorded. The parts
// that do not depend on the points come from the primal itself, called with n = 0: it fills
// Q_c's diagonal exp(q_c) and Σ q_c (the first k·d + k doubles of its work, here of s) and
// returns the Wishart prior term (the data terms vanish). exp(q_c)'s adjoint is accumulated
// and pushed through exp at the end.

/** Doubles of scratch gmm_grad needs. */
export function gmm_grad_scratch(d: i32, k: i32): i32 {
  return 4 * k * d + 3 * k + d;
}

export function gmm_grad(alphas: usize, means: usize, icf: usize, x: usize, d: i32, k: i32, n: i32, gamma: f64, m: i32,
                         dalphas: usize, dmeans: usize, dicf: usize, s: usize): f64 {
  const icfSz = d * (d + 1) / 2;
  const kd = <usize>(k * d) << 3, kb = <usize>k << 3;
  // qdiags and sumQs first and adjacent, as in the primal's work
  const qdiags = s, sumQs = qdiags + kd, dqdiags = sumQs + kb, xcs = dqdiags + kd;
  const qxcs = xcs + kd, dsumQs = qxcs + kd, mainTerm = dsumQs + kb, dxc = mainTerm + kb;
  memory.fill(dalphas, 0, kb);
  memory.fill(dmeans, 0, kd);
  memory.fill(dicf, 0, <usize>(k * icfSz) << 3);
  memory.fill(dqdiags, 0, kd);
  memory.fill(dsumQs, 0, kb);

  // exp(q_c) into qdiags, Σ q_c into sumQs; the prior term, −k·C included
  const prior = gmm(alphas, means, icf, x, s, d, k, 0, gamma, m);

  let slse = 0.0;
  for (let i = 0; i < n; i++) {
    const xi = x + (<usize>(i * d) << 3);
    // forward: x − μ_c, Q_c (x − μ_c) and the main term of every component
    for (let c = 0; c < k; c++) {
      const cd = <usize>(c * d) << 3;
      const mu = means + cd, xc = xcs + cd, qxc = qxcs + cd, qd = qdiags + cd;
      const ltri = icf + (<usize>(c * icfSz + d) << 3);
      for (let j = 0; j < d; j++) {
        const o = <usize>j << 3;
        const v = load<f64>(xi + o) - load<f64>(mu + o);
        store<f64>(xc + o, v);
        store<f64>(qxc + o, load<f64>(qd + o) * v);
      }
      let li = 0;
      for (let col = 0; col < d; col++) {
        const xcol = load<f64>(xc + (<usize>col << 3));
        for (let row = col + 1; row < d; row++) {
          const p = qxc + (<usize>row << 3);
          store<f64>(p, load<f64>(p) + load<f64>(ltri + (<usize>li << 3)) * xcol);
          li++;
        }
      }
      store<f64>(mainTerm + (<usize>c << 3),
        load<f64>(alphas + (<usize>c << 3)) + load<f64>(sumQs + (<usize>c << 3)) - 0.5 * sqnorm(qxc, d));
    }
    const lse = logsumexp(mainTerm, k);
    slse += lse;
    // reverse: ∂lse/∂main_c = softmax_c; ∂main_c/∂(Q_c xc) = −Q_c xc
    for (let c = 0; c < k; c++) {
      const cb = <usize>c << 3, cd = <usize>(c * d) << 3;
      const p = Math.exp(load<f64>(mainTerm + cb) - lse);
      store<f64>(dalphas + cb, load<f64>(dalphas + cb) + p);
      store<f64>(dsumQs + cb, load<f64>(dsumQs + cb) + p);
      const xc = xcs + cd, qxc = qxcs + cd, qd = qdiags + cd, dqd = dqdiags + cd;
      const ltri = icf + (<usize>(c * icfSz + d) << 3), dltri = dicf + (<usize>(c * icfSz + d) << 3);
      for (let j = 0; j < d; j++) {
        const o = <usize>j << 3;
        const dq = -p * load<f64>(qxc + o);
        store<f64>(dqd + o, load<f64>(dqd + o) + dq * load<f64>(xc + o));
        store<f64>(dxc + o, dq * load<f64>(qd + o));
      }
      let li = 0;
      for (let col = 0; col < d; col++) {
        const xcol = load<f64>(xc + (<usize>col << 3));
        let acc = 0.0;
        for (let row = col + 1; row < d; row++) {
          const dq = -p * load<f64>(qxc + (<usize>row << 3));
          const lo = <usize>li << 3;
          store<f64>(dltri + lo, load<f64>(dltri + lo) + dq * xcol);
          acc += dq * load<f64>(ltri + lo);
          li++;
        }
        const o = <usize>col << 3;
        store<f64>(dxc + o, load<f64>(dxc + o) + acc);
      }
      const dmu = dmeans + cd;
      for (let j = 0; j < d; j++) {
        const o = <usize>j << 3;
        store<f64>(dmu + o, load<f64>(dmu + o) - load<f64>(dxc + o));
      }
    }
  }

  const constant = -<f64>n * <f64>d * 0.5 * LOG_2PI;
  const lseA = logsumexp(alphas, k);
  const err = constant + slse - <f64>n * lseA + prior; // grouped as the primal sums it
  for (let c = 0; c < k; c++) {
    const cb = <usize>c << 3;
    store<f64>(dalphas + cb, load<f64>(dalphas + cb) - <f64>n * Math.exp(load<f64>(alphas + cb) - lseA));
  }

  // the Wishart prior's gradient: ½γ²(‖exp(q_c)‖² + ‖L_c‖²) − m Σ q_c
  const g2 = gamma * gamma;
  for (let c = 0; c < k; c++) {
    const cd = <usize>(c * d) << 3, cb = <usize>c << 3;
    const ltri = icf + (<usize>(c * icfSz + d) << 3), dltri = dicf + (<usize>(c * icfSz + d) << 3);
    for (let j = 0; j < d; j++) {
      const o = cd + (<usize>j << 3);
      store<f64>(dqdiags + o, load<f64>(dqdiags + o) + g2 * load<f64>(qdiags + o));
    }
    for (let li = 0; li < icfSz - d; li++) {
      const lo = <usize>li << 3;
      store<f64>(dltri + lo, load<f64>(dltri + lo) + g2 * load<f64>(ltri + lo));
    }
    store<f64>(dsumQs + cb, load<f64>(dsumQs + cb) - <f64>m);
  }

  // q_c feeds exp(q_c) (the diagonal) and Σ q_c
  for (let c = 0; c < k; c++) {
    const dq = dicf + (<usize>(c * icfSz) << 3);
    const ds = load<f64>(dsumQs + (<usize>c << 3));
    for (let j = 0; j < d; j++) {
      const o = <usize>(c * d + j) << 3;
      store<f64>(dq + (<usize>j << 3), load<f64>(dqdiags + o) * load<f64>(qdiags + o) + ds);
    }
  }
  return err;
}
