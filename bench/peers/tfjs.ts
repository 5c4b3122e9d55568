// TensorFlow.js 4.22.0 (the union package, which registers the gradients), on its `cpu`
// (plain JS) or `wasm` (XNNPACK, single-threaded SIMD in Node) backend: eager ops on a tape,
// tf.valueAndGrads inside tf.tidy, float32 only, inputs as resident tensors, the gradient
// read with dataSync() on every call. No control flow: heat's time loop runs eagerly,
// `steps` × a few ops per call.
import type { HeatInput, PeerRun, RosenbrockInput } from "./common.js";

let tfp: Promise<any> | null = null;
/** Imports tfjs and the wasm backend and initializes both backends (once, before any first-call timing). */
export async function load(): Promise<any> {
  tfp ??= (async () => {
    const tf: any = await import("@tensorflow/tfjs");
    await import("@tensorflow/tfjs-backend-wasm"); // registers the "wasm" backend
    for (const b of ["wasm", "cpu"]) { await tf.setBackend(b); await tf.ready(); }
    return tf;
  })();
  return tfp;
}

export type Backend = "cpu" | "wasm";

/** tfjs has one global backend: bench/peers.ts calls setup() (this) before each sample, untimed;
 *  a resident tensor moves to the selected backend on its first use there. */
async function use(tf: any, backend: Backend): Promise<void> {
  if (tf.getBackend() !== backend) { await tf.setBackend(backend); await tf.ready(); }
}

export async function rosenbrock(backend: Backend, { n, x }: RosenbrockInput): Promise<PeerRun> {
  const tf = await load();
  await use(tf, backend);
  const xt = tf.tensor1d(Float32Array.from(x));
  const f = (v: any) => {
    const a = v.slice(0, n - 1), b = v.slice(1, n - 1);
    const d = b.sub(a.square());
    return d.square().mul(100).add(tf.sub(1, a).square()).sum();
  };
  const vg = tf.valueAndGrads(f);
  const call = () => {
    const g = tf.tidy(() => vg([xt]).grads[0]);
    const d = g.dataSync() as Float32Array;
    g.dispose();
    return d;
  };
  return {
    grad: call,
    primal: () => { const v = tf.tidy(() => f(xt)); const d = v.dataSync(); v.dispose(); return d; },
    gradient: () => Float64Array.from(call()),
    io: "resident float32 tensor; gradient read with dataSync()",
    setup: () => use(tf, backend),
    dispose: () => xt.dispose(),
  };
}

export async function heat(backend: Backend, { n, steps, a, u0, w }: HeatInput): Promise<PeerRun> {
  const tf = await load();
  await use(tf, backend);
  const ut = tf.tensor1d(Float32Array.from(u0)), at = tf.scalar(a), wt = tf.tensor1d(Float32Array.from(w));
  const f = (u: any, aa: any) => {
    const zero = tf.zeros([1]);
    for (let t = 0; t < steps; t++) {
      const left = tf.concat([zero, u.slice(0, n - 1)]);
      const right = tf.concat([u.slice(1, n - 1), zero]);
      u = u.add(aa.mul(left.add(right).sub(u.mul(2))));
    }
    return u.mul(wt).sum();
  };
  const vg = tf.valueAndGrads(f);
  const call = () => {
    const [gu, ga] = tf.tidy(() => vg([ut, at]).grads);
    const du = gu.dataSync() as Float32Array, da = ga.dataSync() as Float32Array;
    gu.dispose(); ga.dispose();
    return [du, da] as const;
  };
  return {
    grad: call,
    primal: () => { const v = tf.tidy(() => f(ut, at)); const d = v.dataSync(); v.dispose(); return d; },
    gradient: () => { const [du, da] = call(); return Float64Array.from([...du, da[0]]); },
    io: "resident float32 tensors; gradient read with dataSync()",
    setup: () => use(tf, backend),
    dispose: () => { ut.dispose(); at.dispose(); wt.dispose(); },
  };
}
