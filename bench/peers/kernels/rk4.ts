// RK4 on Lotka–Volterra (assembly/rk4.ts), state in place, returning the first integral V of
// the final state: gradient w.r.t. the initial state and the four parameters. The case, the
// hand-written adjoint's calls, and each peer's version (no peer has loops: every step is
// unrolled or run eagerly).
import { type KernelCase, type PeerRun, type TfBackend, arg, concat, scalar } from "../common.js";
import * as jaxjs from "../jaxjs.js";
import * as rose from "../rose.js";
import * as tfjs from "../tfjs.js";

export function rk4Case(steps: number): KernelCase {
  const state = Float64Array.from([10, 5]), params = Float64Array.from([1.1, 0.4, 0.4, 0.1]); // (x, y); (α, β, γ, δ)
  const dt = 10 / steps; // integrate to t = 10 whatever the step count
  return {
    id: "rk4", size: `${steps} steps`, file: "rk4.ts", fn: "rk4", params: { steps, dt }, target: 3,
    objective: "∇V(final state) w.r.t. initial state and (α, β, γ, δ)",
    args: [
      { kind: "dup", name: "state", data: state, role: "grad", inPlace: true },
      { kind: "dup", name: "params", data: params, role: "grad" },
      { kind: "dup", name: "work", data: new Float64Array(10), role: "scratch" },
      { kind: "real", name: "dt", value: dt, active: false },
      { kind: "int", name: "steps", value: steps },
    ],
    hand: (m) => {
      const sa = m.alloc(16), pa = m.put(params), wa = m.alloc(80), dsa = m.alloc(16), dpa = m.alloc(32), tape = m.alloc(16 * steps);
      const f = m.fn("rk4"), g = m.fn("rk4_grad");
      const primal = () => { m.f64(sa, 2).set(state); return f(sa, pa, wa, dt, steps); };
      const grad = () => { m.f64(sa, 2).set(state); return g(sa, pa, wa, dt, steps, dsa, dpa, tape); };
      return { primal, grad, gradient: () => { grad(); return Float64Array.from([...m.f64(dsa, 2), ...m.f64(dpa, 4)]); }, io: "resident data; records the state per step" };
    },
    peers: { rose: roseVersion, jax: jaxVersion, tfjs: tfjsVersion },
    smaller: () => [100, 10].filter((q) => steps >= 10 * q).map((q) => ({ case: rk4Case(Math.ceil(steps / q)), factor: steps / Math.ceil(steps / q) })),
  };
}

const sizes = (c: KernelCase) => ({ steps: scalar(c, "steps"), dt: scalar(c, "dt") });

/** One RK4 step of Lotka–Volterra in any AD system's arithmetic (ops: its add, sub, mul). */
function rk4Step(o: { add: any; sub: any; mul: any }, x: any, y: any, p: [any, any, any, any], dt: number): [any, any] {
  const [a, b, g, d] = p;
  const f = (u: any, v: any): [any, any] => [o.sub(o.mul(a, u), o.mul(o.mul(b, u), v)), o.sub(o.mul(o.mul(d, u), v), o.mul(g, v))];
  const [k1x, k1y] = f(x, y);
  const [k2x, k2y] = f(o.add(x, o.mul(0.5 * dt, k1x)), o.add(y, o.mul(0.5 * dt, k1y)));
  const [k3x, k3y] = f(o.add(x, o.mul(0.5 * dt, k2x)), o.add(y, o.mul(0.5 * dt, k2y)));
  const [k4x, k4y] = f(o.add(x, o.mul(dt, k3x)), o.add(y, o.mul(dt, k3y)));
  const inc = (p1: any, p2: any, p3: any, p4: any) => o.add(o.add(o.add(p1, o.mul(2, p2)), o.mul(2, p3)), p4);
  return [o.add(x, o.mul(dt / 6, inc(k1x, k2x, k3x, k4x))), o.add(y, o.mul(dt / 6, inc(k1y, k2y, k3y, k4y)))];
}

// ---- Rose: one step is a Rose function, called `steps` times while tracing (no loops); log
// is an opaque JS function with a custom jvp.
async function roseVersion(c: KernelCase): Promise<PeerRun> {
  const { fn, Real, Vec, vjp, compile, add, sub, mul } = rose.R;
  const { steps, dt } = sizes(c);
  const step = fn([Vec(2, Real), Vec(4, Real)], Vec(2, Real), (s: any, p: any) => rk4Step({ add, sub, mul }, s[0], s[1], [p[0], p[1], p[2], p[3]], dt));
  const S = { s: Vec(2, Real), p: Vec(4, Real) };
  const f = fn([S], Real, (q: any) => {
    let s = q.s;
    for (let t = 0; t < steps; t++) s = step(s, q.p);
    const [a, b, g, d] = [q.p[0], q.p[1], q.p[2], q.p[3]];
    return add(sub(add(sub(mul(d, s[0]), mul(g, rose.log(s[0]))), mul(b, s[1])), mul(a, rose.log(s[1]))), 0);
  });
  const cg = await compile(fn([S], S, (q: any) => vjp(f)(q).grad(1)));
  const x = { s: Array.from(arg(c, "state")), p: Array.from(arg(c, "params")) };
  const call = () => cg(x) as { s: number[]; p: number[] };
  return { grad: call, gradient: () => { const g = call(); return concat([g.s, g.p]); }, io: "JS object of number[] in and out" };
}

// ---- jax-js: every step unrolled at trace time on 0-d arrays (no loop primitive).
async function jaxVersion(c: KernelCase): Promise<PeerRun> {
  const jax = await jaxjs.load();
  const np = jax.numpy;
  const { steps, dt } = sizes(c);
  // jax-js consumes its arguments: every operand is passed with .ref (numbers need none)
  const r = (v: any) => (typeof v === "number" ? v : v.ref);
  const o = { add: (u: any, v: any) => np.add(r(u), r(v)), sub: (u: any, v: any) => np.subtract(r(u), r(v)), mul: (u: any, v: any) => np.multiply(r(u), r(v)) };
  const f = (state: any, params: any) => {
    const p = [0, 1, 2, 3].map((i) => params.ref.slice([i, i + 1]).reshape([])) as [any, any, any, any];
    let x = state.ref.slice([0, 1]).reshape([]), y = state.ref.slice([1, 2]).reshape([]);
    for (let t = 0; t < steps; t++) [x, y] = rk4Step(o, x, y, p, dt);
    const [a, b, g, d] = p;
    return o.add(o.sub(o.add(o.sub(o.mul(d, x), o.mul(g, np.log(x.ref))), o.mul(b, y)), o.mul(a, np.log(y.ref))), 0);
  };
  const vg = jax.jit(jax.valueAndGrad(f, { argnums: [0, 1] }));
  const sa = jaxjs.f64(jax, arg(c, "state")), pa = jaxjs.f64(jax, arg(c, "params"));
  const call = () => {
    const [v, gs] = vg(sa.ref, pa.ref);
    const out = concat(gs.map((g: any) => g.dataSync() as Float64Array));
    v.dispose();
    return out;
  };
  return { grad: call, gradient: call, io: "resident float64 arrays; gradient read with dataSync()", dispose: () => { sa.dispose(); pa.dispose(); } };
}

// ---- tfjs: every step run eagerly on scalar tensors, all on the tape.
async function tfjsVersion(backend: TfBackend, c: KernelCase): Promise<PeerRun> {
  const tf = await tfjs.load();
  await tfjs.use(tf, backend);
  const { steps, dt } = sizes(c);
  const st = tf.tensor1d(Float32Array.from(arg(c, "state"))), pt = tf.tensor1d(Float32Array.from(arg(c, "params")));
  const o = { add: tf.add, sub: tf.sub, mul: tf.mul };
  const { call } = tfjs.gradCall(tf, (state: any, params: any) => {
    const p = tf.unstack(params) as [any, any, any, any];
    let [x, y] = tf.unstack(state);
    for (let t = 0; t < steps; t++) [x, y] = rk4Step(o, x, y, p, dt);
    const [a, b, g, d] = p;
    return d.mul(x).sub(g.mul(tf.log(x))).add(b.mul(y)).sub(a.mul(tf.log(y)));
  }, [st, pt]);
  return {
    grad: call, gradient: () => concat(call()), io: "resident float32 tensors; gradient read with dataSync()",
    setup: () => tfjs.use(tf, backend), dispose: () => { st.dispose(); pt.dispose(); },
  };
}
