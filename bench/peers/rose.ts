// Rose 0.4.10: functions traced from JS over f64 (`fn`), gradients by `vjp`, emitted as
// Wasm by `compile`. Rose has no loops: heat's time loop is unrolled at trace time into
// `steps` calls of a one-step function. Rosenbrock's sum is Rose's own `sum` over the
// index type n, with x[i+1] as x[imod(n, i+1)] masked by `select` (plain `iadd` out of
// range would read out of bounds silently). Sizes are part of the types, so each n is its own trace. Compiled
// functions take and return JS arrays (copied in and out on every call).
import * as rose from "rose";
import type { HeatInput, PeerRun, RosenbrockInput } from "./common.js";

// Rose's types are precise enough to make generic code awkward; the bench only needs values.
const { fn, Real, Vec, vjp, compile, sum, add, sub, mul, imod, iadd, ilt, igt, select, vec } = rose as any;

export async function rosenbrock({ n, x }: RosenbrockInput): Promise<PeerRun> {
  const V = Vec(n, Real);
  const f = fn([V], Real, (v: any) => sum(n, (i: any) => {
    const a = v[i], b = v[imod(n, iadd(n, i, 1))];
    const d = sub(b, mul(a, a)), e = sub(1, a);
    return select(ilt(n, i, n - 1), Real, add(mul(100, mul(d, d)), mul(e, e)), 0);
  }));
  const g = fn([V], V, (v: any) => vjp(f)(v).grad(1));
  const cf = await compile(f), cg = await compile(g);
  const xs = Array.from(x);
  return {
    grad: () => cg(xs),
    primal: () => cf(xs),
    gradient: () => Float64Array.from(cg(xs) as number[]),
    io: "JS number[] in, number[] out",
  };
}

export async function heat({ n, steps, a, u0, w }: HeatInput): Promise<PeerRun> {
  // vjp takes one argument: the constant weights w ride along in it (their gradient is computed and dropped).
  const S = { u: Vec(n, Real), a: Real, w: Vec(n, Real) };
  // One step is its own Rose function, called `steps` times: inlining the steps into one
  // body exceeds Wasm's limit on locals per function ("local count too large").
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
  const g = fn([S], S, (p: any) => vjp(f)(p).grad(1));
  const cf = await compile(f), cg = await compile(g);
  const arg = { u: Array.from(u0), a, w: Array.from(w) };
  return {
    grad: () => cg(arg),
    primal: () => cf(arg),
    gradient: () => { const r = cg(arg) as { u: number[]; a: number }; return Float64Array.from([...r.u, r.a]); },
    io: "JS object of number[] in and out",
  };
}
