// jax-js 0.1.25 on its Wasm device: jit(valueAndGrad(f)) over float64 arrays kept resident
// between calls (passed with .ref, since every argument is consumed); the gradient is read
// back with dataSync() on every call. jax-js has no loop primitives: heat's time loop
// unrolls at trace time into a graph of `steps` updates (deep recursion in the tracer).
import type { HeatInput, PeerRun, RosenbrockInput } from "./common.js";

let ready: Promise<any> | null = null;
/** Imports jax-js and starts its Wasm device (done once, before any first-call timing). */
export async function load(): Promise<any> {
  // np.array needs Float16Array, which Node 20 lacks; jax-js only tests for its presence here.
  const g = globalThis as any;
  if (!g.Float16Array) g.Float16Array = class Float16Array extends Float32Array {};
  ready ??= (async () => {
    const jax: any = await import("@jax-js/jax");
    await jax.init("wasm"); // init() without a device throws `navigator is not defined` in Node
    jax.defaultDevice("wasm");
    return jax;
  })();
  return ready;
}

export async function rosenbrock({ n, x }: RosenbrockInput): Promise<PeerRun> {
  const jax = await load();
  const np = jax.numpy;
  const f = (v: any) => {
    const a = v.ref.slice([0, n - 1]), b = v.slice([1, n]);
    const d = b.sub(a.ref.mul(a.ref));
    const e = np.subtract(1, a);
    return d.ref.mul(d).mul(100).add(e.ref.mul(e)).sum();
  };
  const vg = jax.jit(jax.valueAndGrad(f));
  const pf = jax.jit(f);
  const xa = np.array(x, { dtype: np.float64 });
  const call = () => { const [v, g] = vg(xa.ref); const d = g.dataSync() as Float64Array; v.dispose(); return d; };
  return {
    grad: call,
    primal: () => pf(xa.ref).dataSync(),
    gradient: () => Float64Array.from(call()),
    io: "resident float64 array; gradient read with dataSync()",
    dispose: () => xa.dispose(),
  };
}

export async function heat({ n, steps, a, u0, w }: HeatInput): Promise<PeerRun> {
  const jax = await load();
  const np = jax.numpy;
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
  const pf = jax.jit(f);
  const ua = np.array(u0, { dtype: np.float64 }), aa = np.array(a, { dtype: np.float64 }), wa = np.array(w, { dtype: np.float64 });
  const call = () => {
    const [v, [gu, ga]] = vg(ua.ref, aa.ref, wa.ref);
    const du = gu.dataSync() as Float64Array, da = ga.dataSync() as Float64Array;
    v.dispose();
    return [du, da] as const;
  };
  return {
    grad: call,
    primal: () => pf(ua.ref, aa.ref, wa.ref).dataSync(),
    gradient: () => { const [du, da] = call(); return Float64Array.from([...du, da[0]]); },
    io: "resident float64 arrays; gradient read with dataSync()",
    dispose: () => { ua.dispose(); aa.dispose(); wa.dispose(); },
  };
}
