// The seed MLP, y = W2 · tanh(W1 · x³ + b1) + b2 (2 → 50 → 2), objective y0 + y1: on one input
// (gradient w.r.t. the 252 parameters and the input) and summed over a batch (gradient w.r.t.
// the parameters, inputs constant). The cases (assembly/mlp.ts), the hand-written adjoint's
// calls, and each peer's version.
import { rng, uniform } from "../../random.js";
import { type KernelCase, type PeerRun, type TfBackend, arg, concat, scalar } from "../common.js";
import * as jaxjs from "../jaxjs.js";
import * as rose from "../rose.js";
import * as tfjs from "../tfjs.js";

const H = 50, P = 2 * H + H + 2 * H + 2; // [W1 (50×2) | b1 (50) | W2 (2×50) | b2 (2)]

const params = () => uniform(P, rng(0x3f1), -0.5, 0.5);

export function mlpCase(): KernelCase {
  const w = params(), x = uniform(2, rng(0x3f2), -1, 1);
  return {
    id: "mlp", size: "1 input", file: "mlp.ts", fn: "mlp", params: { hidden: H },
    objective: "∇(y0 + y1) w.r.t. parameters and input",
    args: [{ kind: "dup", name: "params", data: w, role: "grad" }, { kind: "dup", name: "x", data: x, role: "grad" }],
    hand: (m) => {
      const pa = m.put(w), xa = m.put(x), dpa = m.alloc(8 * P), dxa = m.alloc(16);
      const f = m.fn("mlp"), g = m.fn("mlp_grad");
      return {
        primal: () => f(pa, xa), grad: () => g(pa, xa, dpa, dxa),
        gradient: () => { g(pa, xa, dpa, dxa); return Float64Array.from([...m.f64(dpa, P), ...m.f64(dxa, 2)]); },
        io: "resident data, gradient overwritten",
      };
    },
    peers: { rose: roseSingle, jax: jaxSingle, tfjs: tfjsSingle },
  };
}

export function mlpBatchCase(n: number): KernelCase {
  const w = params(), xs = uniform(2 * n, rng(0x3f3 + n), -1, 1);
  return {
    id: "mlp-batch", size: `batch ${n}`, file: "mlp.ts", fn: "mlp_batch", params: { hidden: H, n }, target: 2,
    objective: "∇ Σ_batch (y0 + y1) w.r.t. parameters (inputs Const)",
    args: [{ kind: "dup", name: "params", data: w, role: "grad" }, { kind: "const", name: "xs", data: xs }, { kind: "int", name: "n", value: n }],
    hand: (m) => {
      const pa = m.put(w), xa = m.put(xs), dpa = m.alloc(8 * P);
      const f = m.fn("mlp_batch"), g = m.fn("mlp_batch_grad");
      return {
        primal: () => f(pa, xa, n), grad: () => g(pa, xa, n, dpa),
        gradient: () => { g(pa, xa, n, dpa); return m.f64(dpa, P).slice(); },
        io: "resident data, gradient overwritten",
      };
    },
    peers: { rose: roseBatch, jax: jaxBatch, tfjs: tfjsBatch },
  };
}

// ---- Rose: parameters as a struct of nested vectors (Rose indexes by index types and has no
// index multiplication, so W1[j][i] rather than w[2j + i]); tanh is an opaque JS function with
// a custom jvp (bench/peers/rose.ts). The flat layout is converted in JS on every call.
function roseParams(w: Float64Array) {
  const W1 = Array.from({ length: H }, (_, j) => [w[2 * j], w[2 * j + 1]]);
  const b1 = Array.from(w.subarray(2 * H, 3 * H));
  const W2 = [Array.from(w.subarray(3 * H, 4 * H)), Array.from(w.subarray(4 * H, 5 * H))];
  const b2 = [w[5 * H], w[5 * H + 1]];
  return { W1, b1, W2, b2 };
}
const flatParams = (g: { W1: number[][]; b1: number[]; W2: number[][]; b2: number[] }) => concat([g.W1.flat(), g.b1, g.W2[0], g.W2[1], g.b2]);

function roseMlp() {
  const { fn, Real, Vec, sum, add, mul, vec } = rose.R;
  const Params = { W1: Vec(H, Vec(2, Real)), b1: Vec(H, Real), W2: Vec(2, Vec(H, Real)), b2: Vec(2, Real) };
  const mlp = fn([Params, Vec(2, Real)], Real, (p: any, x: any) => {
    const u0 = mul(mul(x[0], x[0]), x[0]), u1 = mul(mul(x[1], x[1]), x[1]);
    const h = vec(H, Real, (j: any) => rose.tanh(add(add(mul(p.W1[j][0], u0), mul(p.W1[j][1], u1)), p.b1[j])));
    const y0 = add(p.b2[0], sum(H, (j: any) => mul(p.W2[0][j], h[j])));
    const y1 = add(p.b2[1], sum(H, (j: any) => mul(p.W2[1][j], h[j])));
    return add(y0, y1);
  });
  return { Params, mlp };
}

async function roseSingle(c: KernelCase): Promise<PeerRun> {
  const { fn, Real, Vec, vjp, compile } = rose.R;
  const { Params, mlp } = roseMlp();
  const S = { p: Params, x: Vec(2, Real) };
  const f = fn([S], Real, (q: any) => mlp(q.p, q.x));
  const cg = await compile(fn([S], S, (s: any) => vjp(f)(s).grad(1)));
  const w = arg(c, "params"), x = arg(c, "x");
  const call = () => cg({ p: roseParams(w), x: Array.from(x) }) as { p: any; x: number[] };
  return { grad: call, gradient: () => { const g = call(); return concat([flatParams(g.p), g.x]); }, io: "JS object of nested number[] in and out (converted from/to the flat layout per call)" };
}

// The batch rides along in vjp's one argument (its gradient is computed and dropped).
async function roseBatch(c: KernelCase): Promise<PeerRun> {
  const { fn, Real, Vec, vjp, compile, sum } = rose.R;
  const n = scalar(c, "n"), w = arg(c, "params"), xs = arg(c, "xs");
  const { Params, mlp } = roseMlp();
  const S = { p: Params, xs: Vec(n, Vec(2, Real)) };
  const f = fn([S], Real, (s: any) => sum(n, (i: any) => mlp(s.p, s.xs[i])));
  const cg = await compile(fn([S], S, (s: any) => vjp(f)(s).grad(1)));
  const xsNested = Array.from({ length: n }, (_, i) => [xs[2 * i], xs[2 * i + 1]]);
  const call = () => cg({ p: roseParams(w), xs: xsNested }) as { p: any };
  return { grad: call, gradient: () => flatParams(call().p), io: "JS object of nested number[] in and out (params converted per call)" };
}

// ---- jax-js: the flat parameter vector sliced and reshaped inside the traced function.
function jaxMlp(jax: any, p: any, X: any) {
  const np = jax.numpy;
  const W1 = p.ref.slice([0, 2 * H]).reshape([H, 2]), b1 = p.ref.slice([2 * H, 3 * H]);
  const W2 = p.ref.slice([3 * H, 5 * H]).reshape([2, H]), b2 = p.slice([5 * H, 5 * H + 2]);
  const u = X.ref.mul(X.ref).mul(X); // (m, 2)
  const h = np.tanh(np.matmul(u, W1.transpose()).add(b1)); // (m, H)
  return np.matmul(h, W2.transpose()).add(b2).sum();
}

async function jaxSingle(c: KernelCase): Promise<PeerRun> {
  const jax = await jaxjs.load();
  const vg = jax.jit(jax.valueAndGrad((p: any, x: any) => jaxMlp(jax, p, x.reshape([1, 2])), { argnums: [0, 1] }));
  const pa = jaxjs.f64(jax, arg(c, "params")), xa = jaxjs.f64(jax, arg(c, "x"));
  const call = () => {
    const [v, [gp, gx]] = vg(pa.ref, xa.ref);
    const out = concat([gp.dataSync() as Float64Array, gx.dataSync() as Float64Array]);
    v.dispose();
    return out;
  };
  return { grad: call, gradient: call, io: "resident float64 arrays; gradient read with dataSync()", dispose: () => { pa.dispose(); xa.dispose(); } };
}

async function jaxBatch(c: KernelCase): Promise<PeerRun> {
  const jax = await jaxjs.load();
  const n = scalar(c, "n");
  const vg = jax.jit(jax.valueAndGrad((p: any, X: any) => jaxMlp(jax, p, X)));
  const pa = jaxjs.f64(jax, arg(c, "params")), Xa = jaxjs.f64(jax, arg(c, "xs"), [n, 2]);
  const call = () => { const [v, g] = vg(pa.ref, Xa.ref); const out = Float64Array.from(g.dataSync() as Float64Array); v.dispose(); return out; };
  return { grad: call, gradient: call, io: "resident float64 arrays; gradient read with dataSync()", dispose: () => { pa.dispose(); Xa.dispose(); } };
}

// ---- tfjs: the same with matMul, parameters as one resident tensor.
function tfMlp(tf: any, p: any, X: any) {
  const W1 = p.slice(0, 2 * H).reshape([H, 2]), b1 = p.slice(2 * H, H);
  const W2 = p.slice(3 * H, 2 * H).reshape([2, H]), b2 = p.slice(5 * H, 2);
  const h = tf.tanh(tf.matMul(X.mul(X).mul(X), W1, false, true).add(b1));
  return tf.matMul(h, W2, false, true).add(b2).sum();
}

async function tfjsSingle(backend: TfBackend, c: KernelCase): Promise<PeerRun> {
  const tf = await tfjs.load();
  await tfjs.use(tf, backend);
  const pt = tf.tensor1d(Float32Array.from(arg(c, "params"))), xt = tf.tensor1d(Float32Array.from(arg(c, "x")));
  const { call } = tfjs.gradCall(tf, (p: any, x: any) => tfMlp(tf, p, x.reshape([1, 2])), [pt, xt]);
  return {
    grad: call, gradient: () => concat(call()), io: "resident float32 tensors; gradient read with dataSync()",
    setup: () => tfjs.use(tf, backend), dispose: () => { pt.dispose(); xt.dispose(); },
  };
}

async function tfjsBatch(backend: TfBackend, c: KernelCase): Promise<PeerRun> {
  const tf = await tfjs.load();
  await tfjs.use(tf, backend);
  const n = scalar(c, "n");
  const pt = tf.tensor1d(Float32Array.from(arg(c, "params"))), Xt = tf.tensor2d(Float32Array.from(arg(c, "xs")), [n, 2]);
  const { call } = tfjs.gradCall(tf, (p: any) => tfMlp(tf, p, Xt), [pt]);
  return {
    grad: call, gradient: () => concat(call()), io: "resident float32 tensors; gradient read with dataSync()",
    setup: () => tfjs.use(tf, backend), dispose: () => { pt.dispose(); Xt.dispose(); },
  };
}
