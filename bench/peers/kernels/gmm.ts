// ADBench's GMM objective (assembly/gmm.ts): gradient w.r.t. alphas, means and icf (the
// inverse Cholesky factors), data points constant. The case, the hand-written adjoint's
// calls, and each peer's version.
import { rng, uniform } from "../../random.js";
import { type KernelCase, type PeerRun, type TfBackend, arg, concat, scalar } from "../common.js";
import * as jaxjs from "../jaxjs.js";
import * as rose from "../rose.js";
import * as tfjs from "../tfjs.js";

export function gmmCase(d: number, k: number, n: number): KernelCase {
  const r = rng(0x6a3 + 31 * d + k);
  const icfSz = (d * (d + 1)) / 2;
  const alphas = uniform(k, r, -1, 1), means = uniform(k * d, r, -1, 1), icf = uniform(k * icfSz, r, -0.5, 0.5);
  const x = uniform(n * d, r, -1, 1);
  const gamma = 1.0, m = 0; // ADBench's Wishart prior parameters
  return {
    id: "gmm", size: `d=${d}, k=${k}, n=${n}`, file: "gmm.ts", fn: "gmm", params: { d, k, n, gamma, m }, target: 2,
    objective: "∇ objective w.r.t. alphas, means, icf (x Const)",
    args: [
      { kind: "dup", name: "alphas", data: alphas, role: "grad" },
      { kind: "dup", name: "means", data: means, role: "grad" },
      { kind: "dup", name: "icf", data: icf, role: "grad" },
      { kind: "const", name: "x", data: x },
      { kind: "dup", name: "work", data: new Float64Array(k * d + 2 * k + 2 * d), role: "scratch" },
      { kind: "int", name: "d", value: d }, { kind: "int", name: "k", value: k }, { kind: "int", name: "n", value: n },
      { kind: "real", name: "gamma", value: gamma, active: false }, { kind: "int", name: "m", value: m },
    ],
    hand: (mod) => {
      const aa = mod.put(alphas), ma = mod.put(means), ia = mod.put(icf), xa = mod.put(x), wa = mod.alloc(8 * (k * d + 2 * k + 2 * d));
      const da = mod.alloc(8 * k), dm = mod.alloc(8 * k * d), di = mod.alloc(8 * k * icfSz);
      const s = mod.alloc(8 * mod.fn("gmm_grad_scratch")(d, k));
      const f = mod.fn("gmm"), g = mod.fn("gmm_grad");
      const grad = () => g(aa, ma, ia, xa, d, k, n, gamma, m, da, dm, di, s);
      return {
        primal: () => f(aa, ma, ia, xa, wa, d, k, n, gamma, m), grad,
        gradient: () => { grad(); return Float64Array.from([...mod.f64(da, k), ...mod.f64(dm, k * d), ...mod.f64(di, k * icfSz)]); },
        io: "resident data, gradient overwritten",
      };
    },
    peers: { rose: roseVersion, jax: jaxVersion, tfjs: tfjsVersion },
  };
}

const LOG_2PI = Math.log(2 * Math.PI);

/** The objective's constant parts (no gradient): −n·d·½·log 2π and the Wishart normaliser k·C. */
function constants(d: number, k: number, n: number, gamma: number, m: number): number {
  const lgammaHalf = (x: number) => { let t = x === Math.floor(x) ? 1 : 0.5, g = t === 1 ? 0 : 0.5 * Math.log(Math.PI); while (t < x) { g += Math.log(t); t += 1; } return g; };
  const nw = d + m + 1;
  let lgd = 0.25 * d * (d - 1) * Math.log(Math.PI);
  for (let j = 1; j <= d; j++) lgd += lgammaHalf(0.5 * nw + 0.5 * (1 - j));
  const cw = nw * d * (Math.log(gamma) - 0.5 * Math.log(2)) - lgd;
  return -n * d * 0.5 * LOG_2PI - k * cw;
}

/** (row, col) of the li-th strictly-lower entry of Q in icf's layout (column by column). */
function lowerIndex(d: number): [number, number][] {
  const out: [number, number][] = [];
  for (let col = 0; col < d; col++) for (let row = col + 1; row < d; row++) out.push([row, col]);
  return out;
}

function sizes(c: KernelCase) {
  const d = scalar(c, "d"), k = scalar(c, "k"), n = scalar(c, "n"), gamma = scalar(c, "gamma"), m = scalar(c, "m");
  return { d, k, n, gamma, m, icfSz: (d * (d + 1)) / 2, C: constants(d, k, n, gamma, m) };
}

// ---- Rose: nested vectors (index types, no index arithmetic beyond iadd/imod), so icf is
// passed as q (k×d) and L as full d×d matrices whose upper part is masked with select; exp and
// log are opaque JS functions with custom jvps; logsumexp takes its max by a chain of selects.
// The data points ride along in vjp's one argument (their gradient is computed and dropped).
async function roseVersion(c: KernelCase): Promise<PeerRun> {
  const { fn, Real, Vec, vjp, compile, sum, add, sub, mul, vec, select, gt, igt } = rose.R;
  const { d, k, n, gamma, m, icfSz, C } = sizes(c);
  const lse = (v: any, len: number) => {
    let mx = v[0];
    for (let i = 1; i < len; i++) mx = select(gt(v[i], mx), Real, v[i], mx);
    const mxc = mx;
    return add(rose.log(sum(len, (i: any) => rose.exp(sub(v[i], mxc)))), mxc);
  };
  const S = { alphas: Vec(k, Real), means: Vec(k, Vec(d, Real)), q: Vec(k, Vec(d, Real)), L: Vec(k, Vec(d, Vec(d, Real))), x: Vec(n, Vec(d, Real)) };
  const g2 = gamma * gamma;
  const f = fn([S], Real, (s: any) => {
    const qd = vec(k, Vec(d, Real), (cc: any) => vec(d, Real, (j: any) => rose.exp(s.q[cc][j])));
    const sumQs = vec(k, Real, (cc: any) => sum(d, (j: any) => s.q[cc][j]));
    const slse = sum(n, (i: any) => {
      const main = vec(k, Real, (cc: any) => {
        const xc = vec(d, Real, (j: any) => sub(s.x[i][j], s.means[cc][j]));
        const qxc = vec(d, Real, (r: any) => add(mul(qd[cc][r], xc[r]),
          sum(d, (j: any) => select(igt(d, r, j), Real, mul(s.L[cc][r][j], xc[j]), 0))));
        return sub(add(s.alphas[cc], sumQs[cc]), mul(0.5, sum(d, (r: any) => mul(qxc[r], qxc[r]))));
      });
      return lse(main, k);
    });
    const prior = sum(k, (cc: any) => sub(
      mul(0.5 * g2, add(sum(d, (j: any) => mul(qd[cc][j], qd[cc][j])),
        sum(d, (r: any) => sum(d, (j: any) => select(igt(d, r, j), Real, mul(s.L[cc][r][j], s.L[cc][r][j]), 0))))),
      mul(m, sumQs[cc])));
    return add(add(add(C, slse), mul(-n, lse(s.alphas, k))), prior);
  });
  const cg = await compile(fn([S], S, (s: any) => vjp(f)(s).grad(1)));
  const alphas = arg(c, "alphas"), means = arg(c, "means"), icf = arg(c, "icf"), x = arg(c, "x");
  const tri = lowerIndex(d);
  const nested = (a: Float64Array, rows: number, cols: number, stride = cols, off = 0) =>
    Array.from({ length: rows }, (_, r) => Array.from(a.subarray(r * stride + off, r * stride + off + cols)));
  const xs = nested(x, n, d);
  const input = () => {
    const L = Array.from({ length: k }, (_, cc) => {
      const M = Array.from({ length: d }, () => new Array<number>(d).fill(0));
      tri.forEach(([r, j], li) => { M[r][j] = icf[cc * icfSz + d + li]; });
      return M;
    });
    return { alphas: Array.from(alphas), means: nested(means, k, d), q: nested(icf, k, d, icfSz), L, x: xs };
  };
  const call = () => cg(input()) as { alphas: number[]; means: number[][]; q: number[][]; L: number[][][] };
  return {
    grad: call,
    gradient: () => {
      const g = call();
      const dicf = new Float64Array(k * icfSz);
      for (let cc = 0; cc < k; cc++) {
        dicf.set(g.q[cc], cc * icfSz);
        tri.forEach(([r, j], li) => { dicf[cc * icfSz + d + li] = g.L[cc][r][j]; });
      }
      return concat([g.alphas, g.means.flat(), dicf]);
    },
    io: "JS object of nested number[] in and out (icf converted to q and full L per call)",
  };
}

// ---- jax-js: ADBench's vectorised formulation. L_c is built from icf's lower part by a
// constant one-hot matrix (k × P) @ (P × d²), then L_c (x_i − μ_c) for all i, c as one batched
// matmul over c (jax-js's einsum needs Iterator helpers, which Node 20 lacks).
async function jaxVersion(c: KernelCase): Promise<PeerRun> {
  const jax = await jaxjs.load();
  const np = jax.numpy;
  const { d, k, n, gamma, m, icfSz, C } = sizes(c);
  const P = icfSz - d, tri = lowerIndex(d);
  const E = new Float64Array(Math.max(P, 1) * d * d);
  tri.forEach(([r, j], li) => { E[li * d * d + r * d + j] = 1; });
  const Ea = jaxjs.f64(jax, E, [Math.max(P, 1), d * d]);
  const f = (alphas: any, means: any, icf: any, x: any, e: any) => {
    const qs = icf.ref.slice([], [0, d]), lt = icf.slice([], [d, icfSz]);
    const qd = np.exp(qs.ref); // (k, d)
    const sumQs = qs.sum(1); // (k)
    const L = np.matmul(lt.ref, e).reshape([k, d, d]);
    const xc = x.reshape([n, 1, d]).sub(means.reshape([1, k, d])); // (n, k, d)
    const lxc = np.matmul(L, xc.ref.transpose([1, 2, 0])).transpose([2, 0, 1]); // (k, d, d) @ (k, d, n) → (n, k, d)
    const qxc = qd.ref.reshape([1, k, d]).mul(xc).add(lxc);
    const main = alphas.ref.add(sumQs.ref).reshape([1, k]).sub(qxc.ref.mul(qxc).sum(2).mul(0.5)); // (n, k)
    const slse = jax.nn.logsumexp(main, 1).sum();
    const prior = qd.ref.mul(qd).sum().add(lt.ref.mul(lt).sum()).mul(0.5 * gamma * gamma).sub(sumQs.sum().mul(m));
    return slse.sub(jax.nn.logsumexp(alphas).mul(n)).add(prior).add(C);
  };
  const vg = jax.jit(jax.valueAndGrad(f, { argnums: [0, 1, 2] }));
  const aa = jaxjs.f64(jax, arg(c, "alphas")), ma = jaxjs.f64(jax, arg(c, "means"), [k, d]), ia = jaxjs.f64(jax, arg(c, "icf"), [k, icfSz]);
  const xa = jaxjs.f64(jax, arg(c, "x"), [n, d]);
  const call = () => {
    const [v, gs] = vg(aa.ref, ma.ref, ia.ref, xa.ref, Ea.ref);
    const out = concat(gs.map((g: any) => g.dataSync() as Float64Array));
    v.dispose();
    return out;
  };
  return { grad: call, gradient: call, io: "resident float64 arrays; gradient read with dataSync()", dispose: () => { for (const a of [aa, ma, ia, xa, Ea]) a.dispose(); } };
}

// ---- tfjs: the same formulation; Q_c (x_i − μ_c) as a broadcast product summed over the last
// axis (tfjs's einsum does not take this pattern).
async function tfjsVersion(backend: TfBackend, c: KernelCase): Promise<PeerRun> {
  const tf = await tfjs.load();
  await tfjs.use(tf, backend);
  const { d, k, n, gamma, m, icfSz, C } = sizes(c);
  const P = icfSz - d, tri = lowerIndex(d);
  const E = new Float32Array(Math.max(P, 1) * d * d);
  tri.forEach(([r, j], li) => { E[li * d * d + r * d + j] = 1; });
  const Et = tf.tensor2d(E, [Math.max(P, 1), d * d]);
  const xt = tf.tensor2d(Float32Array.from(arg(c, "x")), [n, d]);
  const at = tf.tensor1d(Float32Array.from(arg(c, "alphas"))), mt = tf.tensor2d(Float32Array.from(arg(c, "means")), [k, d]);
  const it = tf.tensor2d(Float32Array.from(arg(c, "icf")), [k, icfSz]);
  const { call } = tfjs.gradCall(tf, (alphas: any, means: any, icf: any) => {
    const qs = icf.slice([0, 0], [k, d]), lt = icf.slice([0, d], [k, P]);
    const qd = tf.exp(qs), sumQs = qs.sum(1);
    const L = tf.matMul(P > 0 ? lt : tf.zeros([k, 1]), Et).reshape([1, k, d, d]);
    const xc = xt.reshape([n, 1, d]).sub(means.reshape([1, k, d]));
    const qxc = qd.reshape([1, k, d]).mul(xc).add(L.mul(xc.reshape([n, k, 1, d])).sum(3));
    const main = alphas.add(sumQs).reshape([1, k]).sub(qxc.square().sum(2).mul(0.5));
    const prior = qd.square().sum().add(lt.square().sum()).mul(0.5 * gamma * gamma).sub(sumQs.sum().mul(m));
    return tf.logSumExp(main, 1).sum().sub(tf.logSumExp(alphas).mul(n)).add(prior).add(C);
  }, [at, mt, it]);
  return {
    grad: call, gradient: () => concat(call()), io: "resident float32 tensors; gradient read with dataSync()",
    setup: () => tfjs.use(tf, backend), dispose: () => { for (const t of [Et, xt, at, mt, it]) t.dispose(); },
  };
}
