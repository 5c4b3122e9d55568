// Extended Rosenbrock, f(x) = Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])², gradient w.r.t. x:
// the case (assembly/rosenbrock.ts), its hand-written adjoint's calls, and each peer's version.
import { rng, uniform } from "../../random.js";
import { type KernelCase, type PeerRun, type TfBackend, arg, scalar } from "../common.js";
import * as jaxjs from "../jaxjs.js";
import * as rose from "../rose.js";
import * as tfjs from "../tfjs.js";

export function rosenbrockCase(n: number): KernelCase {
  const x = uniform(n, rng(0x5eed + n), -1, 1.5);
  return {
    id: "rosenbrock", size: `n=${n}`, file: "rosenbrock.ts", fn: "rosenbrock", params: { n }, target: 2,
    objective: "∇f (x read-only)",
    args: [{ kind: "dup", name: "x", data: x, role: "grad" }, { kind: "int", name: "n", value: n }],
    hand: (m) => {
      const xa = m.put(x), ga = m.alloc(8 * n);
      const f = m.fn("rosenbrock"), g = m.fn("rosenbrock_grad");
      return { primal: () => f(xa, n), grad: () => g(xa, ga, n), gradient: () => { g(xa, ga, n); return m.f64(ga, n).slice(); }, io: "resident data, gradient overwritten" };
    },
    peers: { rose: roseVersion, jax: jaxVersion, tfjs: tfjsVersion },
  };
}

// Rose: the sum is Rose's own `sum` over the index type n, with x[i+1] as x[imod(n, i+1)]
// masked by `select` (plain `iadd` out of range would read out of bounds silently). Sizes are
// part of the types, so each n is its own trace. Compiled functions take and return JS arrays.
async function roseVersion(c: KernelCase): Promise<PeerRun> {
  const { fn, Real, Vec, vjp, compile, sum, add, sub, mul, imod, iadd, ilt, select } = rose.R;
  const n = scalar(c, "n"), xs = Array.from(arg(c, "x"));
  const V = Vec(n, Real);
  const f = fn([V], Real, (v: any) => sum(n, (i: any) => {
    const a = v[i], b = v[imod(n, iadd(n, i, 1))];
    const d = sub(b, mul(a, a)), e = sub(1, a);
    return select(ilt(n, i, n - 1), Real, add(mul(100, mul(d, d)), mul(e, e)), 0);
  }));
  const cg = await compile(fn([V], V, (v: any) => vjp(f)(v).grad(1)));
  return { grad: () => cg(xs), gradient: () => Float64Array.from(cg(xs) as number[]), io: "JS number[] in, number[] out" };
}

async function jaxVersion(c: KernelCase): Promise<PeerRun> {
  const jax = await jaxjs.load();
  const np = jax.numpy, n = scalar(c, "n");
  const f = (v: any) => {
    const a = v.ref.slice([0, n - 1]), b = v.slice([1, n]);
    const d = b.sub(a.ref.mul(a.ref));
    const e = np.subtract(1, a);
    return d.ref.mul(d).mul(100).add(e.ref.mul(e)).sum();
  };
  const vg = jax.jit(jax.valueAndGrad(f));
  const xa = jaxjs.f64(jax, arg(c, "x"));
  const call = () => { const [v, g] = vg(xa.ref); const d = g.dataSync() as Float64Array; v.dispose(); return d; };
  return { grad: call, gradient: () => Float64Array.from(call()), io: "resident float64 arrays; gradient read with dataSync()", dispose: () => xa.dispose() };
}

async function tfjsVersion(backend: TfBackend, c: KernelCase): Promise<PeerRun> {
  const tf = await tfjs.load();
  await tfjs.use(tf, backend);
  const n = scalar(c, "n");
  const xt = tf.tensor1d(Float32Array.from(arg(c, "x")));
  const { call } = tfjs.gradCall(tf, (v: any) => {
    const a = v.slice(0, n - 1), b = v.slice(1, n - 1);
    const d = b.sub(a.square());
    return d.square().mul(100).add(tf.sub(1, a).square()).sum();
  }, [xt]);
  return {
    grad: call, gradient: () => Float64Array.from(call()[0]),
    io: "resident float32 tensors; gradient read with dataSync()", setup: () => tfjs.use(tf, backend), dispose: () => xt.dispose(),
  };
}
