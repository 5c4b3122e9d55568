// ADBench's LSTM objective (assembly/lstm.ts): gradient w.r.t. the weights and the initial
// state (updated in place), sequence constant. The case, the hand-written adjoint's calls,
// and each peer's version (no peer has loops: the T − 1 steps are unrolled or run eagerly).
import { rng, uniform } from "../../random.js";
import { type KernelCase, type PeerRun, type TfBackend, arg, concat, scalar } from "../common.js";
import * as jaxjs from "../jaxjs.js";
import * as rose from "../rose.js";
import * as tfjs from "../tfjs.js";

export function lstmCase(l: number, h: number, T: number): KernelCase {
  const r = rng(0x1e7 + 7 * l + h + T);
  const weights = uniform(l * 8 * h + 3 * h, r, -0.5, 0.5), state = uniform(l * 2 * h, r, -0.5, 0.5), seq = uniform(T * h, r, -1, 1);
  return {
    id: "lstm", size: `l=${l}, h=${h}, T=${T}`, file: "lstm.ts", fn: "lstm", params: { l, h, T }, target: 3,
    objective: "∇ loss w.r.t. weights and initial state (sequence Const)",
    args: [
      { kind: "dup", name: "weights", data: weights, role: "grad" },
      { kind: "dup", name: "state", data: state, role: "grad", inPlace: true },
      { kind: "const", name: "seq", data: seq },
      { kind: "dup", name: "work", data: new Float64Array(2 * h), role: "scratch" },
      { kind: "int", name: "l", value: l }, { kind: "int", name: "h", value: h }, { kind: "int", name: "T", value: T },
    ],
    hand: (m) => {
      const wa = m.put(weights), sa = m.alloc(8 * state.length), qa = m.put(seq), ka = m.alloc(16 * h);
      const dwa = m.alloc(8 * weights.length), dsa = m.alloc(8 * state.length), tape = m.alloc(8 * m.fn("lstm_grad_tape")(l, h, T));
      const f = m.fn("lstm"), g = m.fn("lstm_grad");
      const primal = () => { m.f64(sa, state.length).set(state); return f(wa, sa, qa, ka, l, h, T); };
      const grad = () => { m.f64(sa, state.length).set(state); return g(wa, sa, qa, l, h, T, dwa, dsa, tape); };
      return {
        primal, grad,
        gradient: () => { grad(); return Float64Array.from([...m.f64(dwa, weights.length), ...m.f64(dsa, state.length)]); },
        io: "resident data; records gates and states per step",
      };
    },
    peers: { rose: roseVersion, jax: jaxVersion, tfjs: tfjsVersion },
    smaller: () => (T >= 20 ? [{ case: lstmCase(l, h, Math.ceil(T / 10)), factor: (T - 1) / (Math.ceil(T / 10) - 1) }] : []),
  };
}

const sizes = (c: KernelCase) => ({ l: scalar(c, "l"), h: scalar(c, "h"), T: scalar(c, "T") });

// ---- Rose: one time step (all layers and the step's log-likelihood) is a Rose function,
// called T − 1 times while tracing (Rose has no loops). Weights as nested vectors: per layer 8
// rows of h ([w (4 rows) | b (4 rows)], the flat layout), then [inW | outW | outB]; exp, tanh
// and log are opaque JS functions with custom jvps; logsumexp's max is a chain of selects.
// The sequence rides along in vjp's one argument (its gradient is computed and dropped).
async function roseVersion(c: KernelCase): Promise<PeerRun> {
  const { fn, Real, Vec, vjp, compile, sum, add, sub, mul, div, neg, vec, select, gt } = rose.R;
  const { l, h, T } = sizes(c);
  const W = Vec(l, Vec(8, Vec(h, Real))), E = Vec(3, Vec(h, Real)), St = Vec(l, Vec(2, Vec(h, Real)));
  const sigmoid = (v: any) => div(1, add(1, rose.exp(neg(v))));
  const step = fn([W, E, St, Vec(h, Real), Vec(h, Real)], { st: St, ll: Real }, (w: any, e: any, st: any, xin: any, gold: any) => {
    const out: any[] = [];
    let input = vec(h, Real, (i: any) => mul(xin[i], e[0][i]));
    for (let L = 0; L < l; L++) {
      const wl = w[L], hs = st[L][0], cs = st[L][1], inp = input;
      const gate = (g: number, v: any, act: (z: any) => any) => vec(h, Real, (i: any) => act(add(mul(v[i], wl[g][i]), wl[4 + g][i])));
      const forget = gate(0, inp, sigmoid), ingate = gate(1, hs, sigmoid), outgate = gate(2, inp, sigmoid), change = gate(3, hs, rose.tanh);
      const cell = vec(h, Real, (i: any) => add(mul(cs[i], forget[i]), mul(ingate[i], change[i])));
      const hidden = vec(h, Real, (i: any) => mul(outgate[i], rose.tanh(cell[i])));
      out.push([hidden, cell]);
      input = hidden;
    }
    const last = input;
    const ypred = vec(h, Real, (i: any) => add(mul(last[i], e[1][i]), e[2][i]));
    let mx = ypred[0];
    for (let i = 1; i < h; i++) mx = select(gt(ypred[i], mx), Real, ypred[i], mx);
    const mxc = mx;
    const lse = add(rose.log(sum(h, (i: any) => rose.exp(sub(ypred[i], mxc)))), mxc);
    return { st: out, ll: sum(h, (i: any) => mul(gold[i], sub(ypred[i], lse))) };
  });
  const S = { w: W, e: E, st: St, seq: Vec(T, Vec(h, Real)) };
  const f = fn([S], Real, (s: any) => {
    let st = s.st, total: any = 0;
    for (let t = 0; t < T - 1; t++) {
      const r = step(s.w, s.e, st, s.seq[t], s.seq[t + 1]);
      st = r.st;
      total = add(total, r.ll);
    }
    return mul(-1 / ((T - 1) * h), total);
  });
  const cg = await compile(fn([S], S, (s: any) => vjp(f)(s).grad(1)));
  const weights = arg(c, "weights"), state = arg(c, "state"), seq = arg(c, "seq");
  const rows = (a: Float64Array, off: number, n: number) => Array.from({ length: n }, (_, r) => Array.from(a.subarray(off + r * h, off + (r + 1) * h)));
  const sq = rows(seq, 0, T);
  const input = () => ({
    w: Array.from({ length: l }, (_, L) => rows(weights, L * 8 * h, 8)), e: rows(weights, l * 8 * h, 3),
    st: Array.from({ length: l }, (_, L) => rows(state, L * 2 * h, 2)), seq: sq,
  });
  const call = () => cg(input()) as { w: number[][][]; e: number[][]; st: number[][][] };
  return {
    grad: call,
    gradient: () => { const g = call(); return concat([g.w.flat(2), g.e.flat(), g.st.flat(2)]); },
    io: "JS object of nested number[] in and out (converted per call)",
  };
}

// ---- jax-js: the T − 1 steps and l layers unrolled at trace time (no loop primitive), over
// slices of the flat weight and state vectors.
async function jaxVersion(c: KernelCase): Promise<PeerRun> {
  const jax = await jaxjs.load();
  const np = jax.numpy;
  const { l, h, T } = sizes(c);
  const f = (weights: any, state: any, seq: any) => {
    const sl = (a: any, off: number) => a.ref.slice([off, off + h]);
    const inW = sl(weights, 8 * l * h), outW = sl(weights, 8 * l * h + h), outB = sl(weights, 8 * l * h + 2 * h);
    const W = Array.from({ length: l }, (_, L) => Array.from({ length: 8 }, (_, g) => sl(weights, (8 * L + g) * h)));
    let hs = Array.from({ length: l }, (_, L) => sl(state, 2 * L * h)), cs = Array.from({ length: l }, (_, L) => sl(state, (2 * L + 1) * h));
    const xs = Array.from({ length: T }, (_, t) => sl(seq, t * h));
    let total: any = null;
    for (let t = 0; t < T - 1; t++) {
      let input = xs[t].ref.mul(inW.ref);
      const nh: any[] = [], nc: any[] = [];
      for (let L = 0; L < l; L++) {
        const w = W[L];
        const gate = (g: number, v: any) => v.mul(w[g].ref).add(w[4 + g].ref);
        const forget = jax.nn.sigmoid(gate(0, input.ref)), ingate = jax.nn.sigmoid(gate(1, hs[L].ref));
        const outgate = jax.nn.sigmoid(gate(2, input)), change = np.tanh(gate(3, hs[L]));
        const cell = cs[L].mul(forget).add(ingate.mul(change));
        const hidden = outgate.mul(np.tanh(cell.ref));
        nh.push(hidden.ref); nc.push(cell);
        input = hidden;
      }
      hs = nh; cs = nc;
      const ypred = input.mul(outW.ref).add(outB.ref);
      const ll = xs[t + 1].ref.mul(ypred.ref.sub(jax.nn.logsumexp(ypred))).sum();
      total = total === null ? ll : total.add(ll);
    }
    return total.mul(-1 / ((T - 1) * h));
  };
  const vg = jax.jit(jax.valueAndGrad(f, { argnums: [0, 1] }));
  const wa = jaxjs.f64(jax, arg(c, "weights")), sa = jaxjs.f64(jax, arg(c, "state")), qa = jaxjs.f64(jax, arg(c, "seq"));
  const call = () => {
    const [v, gs] = vg(wa.ref, sa.ref, qa.ref);
    const out = concat(gs.map((g: any) => g.dataSync() as Float64Array));
    v.dispose();
    return out;
  };
  return { grad: call, gradient: call, io: "resident float64 arrays; gradient read with dataSync()", dispose: () => { for (const a of [wa, sa, qa]) a.dispose(); } };
}

// ---- tfjs: the same, run eagerly step by step on the tape.
async function tfjsVersion(backend: TfBackend, c: KernelCase): Promise<PeerRun> {
  const tf = await tfjs.load();
  await tfjs.use(tf, backend);
  const { l, h, T } = sizes(c);
  const wt = tf.tensor1d(Float32Array.from(arg(c, "weights"))), st = tf.tensor1d(Float32Array.from(arg(c, "state"))), qt = tf.tensor2d(Float32Array.from(arg(c, "seq")), [T, h]);
  const { call } = tfjs.gradCall(tf, (weights: any, state: any) => {
    const sl = (a: any, off: number) => a.slice(off, h);
    const inW = sl(weights, 8 * l * h), outW = sl(weights, 8 * l * h + h), outB = sl(weights, 8 * l * h + 2 * h);
    const W = Array.from({ length: l }, (_, L) => Array.from({ length: 8 }, (_, g) => sl(weights, (8 * L + g) * h)));
    const hs = Array.from({ length: l }, (_, L) => sl(state, 2 * L * h)), cs = Array.from({ length: l }, (_, L) => sl(state, (2 * L + 1) * h));
    const xs = tf.unstack(qt);
    let total = tf.scalar(0);
    for (let t = 0; t < T - 1; t++) {
      let input = xs[t].mul(inW);
      for (let L = 0; L < l; L++) {
        const w = W[L];
        const gate = (g: number, v: any) => v.mul(w[g]).add(w[4 + g]);
        const forget = tf.sigmoid(gate(0, input)), ingate = tf.sigmoid(gate(1, hs[L]));
        const outgate = tf.sigmoid(gate(2, input)), change = tf.tanh(gate(3, hs[L]));
        cs[L] = cs[L].mul(forget).add(ingate.mul(change));
        hs[L] = outgate.mul(tf.tanh(cs[L]));
        input = hs[L];
      }
      const ypred = input.mul(outW).add(outB);
      total = total.add(xs[t + 1].mul(ypred.sub(tf.logSumExp(ypred))).sum());
    }
    return total.mul(-1 / ((T - 1) * h));
  }, [wt, st]);
  return {
    grad: call, gradient: () => concat(call()), io: "resident float32 tensors; gradient read with dataSync()",
    setup: () => tfjs.use(tf, backend), dispose: () => { for (const t of [wt, st, qt]) t.dispose(); },
  };
}
