// Gaussian mixture model objective, as in ADBench (gmm_objective, C++ reference):
// negative log-likelihood terms of n points in d dimensions under k Gaussian components
// parametrised by their inverse Cholesky factors, plus a Wishart prior on them.
//
//   err = CONSTANT + Σ_i logsumexp_c( alphas[c] + sum_qs[c] − ½ ‖Q_c (x_i − μ_c)‖² )
//         − n · logsumexp(alphas) + log_wishart_prior
//   CONSTANT = −n·d·½·log(2π),  Q_c = diag(exp(q_c)) + L_c (strictly lower triangular),
//   sum_qs[c] = Σ q_c,
//   log_wishart_prior = Σ_c [ ½ γ² (‖exp(q_c)‖² + ‖L_c‖²) − m · sum_qs[c] ] − k · C,
//   C = n_w·d·(log γ − ½ log 2) − log Γ_d(n_w / 2),  n_w = d + m + 1.
//
//   gmm(alphas, means, icf, x, work, d, k, n, gamma, m): f64 (err)
//     alphas: f64[k]              mixture weights (log-space, unnormalised)
//     means:  f64[k·d]            component means, one after another
//     icf:    f64[k·(d + d(d−1)/2)]  per component: q (log of the diagonal of Q, d values),
//                                 then the strictly lower triangle of Q column by column
//                                 (Q[1][0], Q[2][0], …, Q[d−1][0], Q[2][1], …)
//     x:      f64[n·d]            the data points (read-only; normally Const)
//     work:   f64[k·d + 2k + 2d]  scratch: [Qdiags (k·d) | sum_qs (k) | xcentered (d) |
//                                 Qxcentered (d) | main_term (k)]; contents on entry not read
//     d, k, n: i32; gamma: f64 and m: i32, the Wishart prior's parameters.
// All logsumexps use the max trick. π is a literal: under --use Math=JSMath, Math.PI is an
// imported global (env."Math.PI") that Program.fromAssemblyScript does not supply yet.

const PI: f64 = 3.141592653589793;
const LOG_2PI: f64 = 1.8378770664093453; // log(2π)
const LOG_2: f64 = 0.6931471805599453;

/** log Γ(x) for x a positive multiple of ½ (all the Wishart normaliser needs), by recurrence. */
function lgammaHalf(x: f64): f64 {
  let t: f64 = x == Math.floor(x) ? 1.0 : 0.5; // Γ(1) = 1, Γ(½) = √π
  let g: f64 = t == 1.0 ? 0.0 : 0.5 * Math.log(PI);
  while (t < x) {
    g += Math.log(t);
    t += 1.0;
  }
  return g;
}

/** log of the multivariate gamma function Γ_p(a). */
function logGammaDistrib(a: f64, p: i32): f64 {
  let out = 0.25 * <f64>(p * (p - 1)) * Math.log(PI);
  for (let j = 1; j <= p; j++) out += lgammaHalf(a + 0.5 * <f64>(1 - j));
  return out;
}

/** log Σ exp(v[i]) over len values at v, shifted by their maximum. */
function logsumexp(v: usize, len: i32): f64 {
  let mx = load<f64>(v);
  for (let i = 1; i < len; i++) {
    const e = load<f64>(v + (<usize>i << 3));
    if (e > mx) mx = e;
  }
  let s = 0.0;
  for (let i = 0; i < len; i++) s += Math.exp(load<f64>(v + (<usize>i << 3)) - mx);
  return Math.log(s) + mx;
}

function sqnorm(v: usize, len: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < len; i++) {
    const e = load<f64>(v + (<usize>i << 3));
    s += e * e;
  }
  return s;
}

export function gmm(alphas: usize, means: usize, icf: usize, x: usize, work: usize,
                    d: i32, k: i32, n: i32, gamma: f64, m: i32): f64 {
  const icfSz = d * (d + 1) / 2;
  const qdiags = work;
  const sumQs = qdiags + (<usize>(k * d) << 3);
  const xc = sumQs + (<usize>k << 3);
  const qxc = xc + (<usize>d << 3);
  const mainTerm = qxc + (<usize>d << 3);

  // Qdiags = exp(q), sum_qs = Σ q, per component
  for (let c = 0; c < k; c++) {
    const q = icf + (<usize>(c * icfSz) << 3);
    let s = 0.0;
    for (let j = 0; j < d; j++) {
      const qj = load<f64>(q + (<usize>j << 3));
      s += qj;
      store<f64>(qdiags + (<usize>(c * d + j) << 3), Math.exp(qj));
    }
    store<f64>(sumQs + (<usize>c << 3), s);
  }

  let slse = 0.0;
  for (let i = 0; i < n; i++) {
    const xi = x + (<usize>(i * d) << 3);
    for (let c = 0; c < k; c++) {
      const mu = means + (<usize>(c * d) << 3);
      for (let j = 0; j < d; j++) {
        store<f64>(xc + (<usize>j << 3), load<f64>(xi + (<usize>j << 3)) - load<f64>(mu + (<usize>j << 3)));
      }
      // Qxcentered = Q · xcentered (diagonal part, then the lower triangle column by column)
      const qd = qdiags + (<usize>(c * d) << 3);
      const ltri = icf + (<usize>(c * icfSz + d) << 3);
      for (let j = 0; j < d; j++) {
        store<f64>(qxc + (<usize>j << 3), load<f64>(qd + (<usize>j << 3)) * load<f64>(xc + (<usize>j << 3)));
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
    slse += logsumexp(mainTerm, k);
  }

  const constant = -<f64>n * <f64>d * 0.5 * LOG_2PI;
  let err = constant + slse - <f64>n * logsumexp(alphas, k);

  // Wishart prior
  const nw = d + m + 1;
  const cw = <f64>(nw * d) * (Math.log(gamma) - 0.5 * LOG_2) - logGammaDistrib(0.5 * <f64>nw, d);
  let prior = 0.0;
  for (let c = 0; c < k; c++) {
    const frob = sqnorm(qdiags + (<usize>(c * d) << 3), d)
               + sqnorm(icf + (<usize>(c * icfSz + d) << 3), icfSz - d);
    prior += 0.5 * gamma * gamma * frob - <f64>m * load<f64>(sumQs + (<usize>c << 3));
  }
  err += prior - <f64>k * cw;
  return err;
}
