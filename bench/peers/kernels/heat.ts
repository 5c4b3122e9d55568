// Explicit 1D heat equation in place (assembly/heat.ts), L = w · u_final: gradient w.r.t. the
// initial u and the diffusion number a. The case, the hand-written adjoint's calls, and each
// peer's version (none of them has loops: the time loop is unrolled or run eagerly).
import { rng, uniform } from "../../random.js";
import { type KernelCase, type PeerRun, type TfBackend, arg, scalar } from "../common.js";
import * as jaxjs from "../jaxjs.js";
import * as rose from "../rose.js";
import * as tfjs from "../tfjs.js";

export function heatCase(n: number, steps: number): KernelCase {
  const r = rng(0x4ea7 + n);
  const u0 = uniform(n, r, -1, 1), w = uniform(n, r, -1, 1), a = 0.2;
  return {
    id: "heat", size: `n=${n}, ${steps} steps`, file: "heat.ts", fn: "heat", params: { n, steps, a }, target: 3,
    objective: "∇(w · u_final) w.r.t. u0 and a",
    args: [
      { kind: "dup", name: "u", data: u0, role: "grad", seed: w, inPlace: true },
      { kind: "dup", name: "tmp", data: new Float64Array(n), role: "scratch" },
      { kind: "int", name: "n", value: n },
      { kind: "real", name: "a", value: a, active: true },
      { kind: "int", name: "steps", value: steps },
    ],
    hand: (m) => {
      const ua = m.alloc(8 * n), ta = m.alloc(8 * n), ub = m.alloc(8 * n), tape = m.alloc(8 * n * steps);
      const f = m.fn("heat"), g = m.fn("heat_grad");
      // in place: restore u (and the seed on ū) before every call, as ours does
      const primal = () => { m.f64(ua, n).set(u0); return f(ua, ta, n, a, steps); };
      const grad = () => { m.f64(ua, n).set(u0); m.f64(ub, n).set(w); return g(ua, ta, n, a, steps, ub, tape); };
      return { primal, grad, gradient: () => { const da = grad(); return Float64Array.from([...m.f64(ub, n), da]); }, io: "resident data; records Δu per point and step" };
    },
    peers: { rose: roseVersion, jax: jaxVersion, tfjs: tfjsVersion },
    smaller: () => [100, 10].filter((q) => steps >= 10 * q).map((q) => ({ case: heatCase(n, Math.ceil(steps / q)), factor: steps / Math.ceil(steps / q) })),
  };
}

// Rose has no loops: one step is its own Rose function, called `steps` times while tracing
// (inlining the steps into one body exceeds Wasm's limit on locals per function). vjp takes
// one argument: the constant weights w ride along in it (their gradient is computed and dropped).
async function roseVersion(c: KernelCase): Promise<PeerRun> {
  const { fn, Real, Vec, vjp, compile, sum, add, sub, mul, imod, iadd, ilt, igt, select, vec } = rose.R;
  const n = scalar(c, "n"), steps = scalar(c, "steps");
  const S = { u: Vec(n, Real), a: Real, w: Vec(n, Real) };
  const step = fn([Vec(n, Real), Real], Vec(n, Real), (v: any, aa: any) => vec(n, Real, (i: any) => {
    const mid = v[i];
    const left = select(igt(n, i, 0), Real, v[imod(n, iadd(n, i, n - 1))], 0);
    const right = select(ilt(n, i, n - 1), Real, v[imod(n, iadd(n, i, 1))], 0);
    return add(mid, mul(aa, add(sub(left, mul(2, mid)), right)));
  }));
  const f = fn([S], Real, (p: any) => {
    let u = p.u;
    for (let t = 0; t < steps; t++) u = step(u, p.a);
    const uf = u;
    return sum(n, (i: any) => mul(p.w[i], uf[i]));
  });
  const cg = await compile(fn([S], S, (p: any) => vjp(f)(p).grad(1)));
  const x = { u: Array.from(arg(c, "u")), a: scalar(c, "a"), w: Array.from(seedOf(c)) };
  return {
    grad: () => cg(x),
    gradient: () => { const r = cg(x) as { u: number[]; a: number }; return Float64Array.from([...r.u, r.a]); },
    io: "JS object of number[] in and out",
  };
}

// jax-js has no loop primitive: the time loop unrolls at trace time into `steps` updates.
async function jaxVersion(c: KernelCase): Promise<PeerRun> {
  const jax = await jaxjs.load();
  const np = jax.numpy, n = scalar(c, "n"), steps = scalar(c, "steps");
  const f = (u: any, aa: any, ww: any) => {
    for (let t = 0; t < steps; t++) {
      const zero = np.zeros([1], { dtype: np.float64 });
      const left = np.concatenate([zero.ref, u.ref.slice([0, n - 1])]);
      const right = np.concatenate([u.ref.slice([1, n]), zero]);
      u = u.ref.add(aa.ref.mul(left.add(right).sub(u.mul(2))));
    }
    aa.dispose();
    return u.mul(ww).sum();
  };
  const vg = jax.jit(jax.valueAndGrad(f, { argnums: [0, 1] }));
  const ua = jaxjs.f64(jax, arg(c, "u")), aa = jaxjs.f64(jax, [scalar(c, "a")]).reshape([]), wa = jaxjs.f64(jax, seedOf(c));
  const call = () => {
    const [v, [gu, ga]] = vg(ua.ref, aa.ref, wa.ref);
    const out = Float64Array.from([...(gu.dataSync() as Float64Array), ...(ga.dataSync() as Float64Array)]);
    v.dispose();
    return out;
  };
  return { grad: call, gradient: call, io: "resident float64 arrays; gradient read with dataSync()", dispose: () => { ua.dispose(); aa.dispose(); wa.dispose(); } };
}

// tfjs runs the time loop eagerly: `steps` × a few ops per call, all on the tape.
async function tfjsVersion(backend: TfBackend, c: KernelCase): Promise<PeerRun> {
  const tf = await tfjs.load();
  await tfjs.use(tf, backend);
  const n = scalar(c, "n"), steps = scalar(c, "steps");
  const ut = tf.tensor1d(Float32Array.from(arg(c, "u"))), at = tf.scalar(scalar(c, "a")), wt = tf.tensor1d(Float32Array.from(seedOf(c)));
  const { call } = tfjs.gradCall(tf, (u: any, aa: any) => {
    const zero = tf.zeros([1]);
    for (let t = 0; t < steps; t++) {
      const left = tf.concat([zero, u.slice(0, n - 1)]);
      const right = tf.concat([u.slice(1, n - 1), zero]);
      u = u.add(aa.mul(left.add(right).sub(u.mul(2))));
    }
    return u.mul(wt).sum();
  }, [ut, at]);
  return {
    grad: call, gradient: () => { const [du, da] = call(); return Float64Array.from([...du, ...da]); },
    io: "resident float32 tensors; gradient read with dataSync()", setup: () => tfjs.use(tf, backend),
    dispose: () => { ut.dispose(); at.dispose(); wt.dispose(); },
  };
}

const seedOf = (c: KernelCase) => {
  const u = c.args[0];
  if (u.kind !== "dup" || !u.seed) throw new Error("heat: no seed on u");
  return u.seed;
};
