// ADBench-style bundle adjustment (assembly/ba.ts): Σ over observations of the squared
// reprojection error, gradient w.r.t. every camera (11 parameters) and point (3). Cameras and
// points are picked per observation through the Const index buffer obs. The case, the
// hand-written adjoint's calls, and each peer's version.
import { rng, uniform } from "../../random.js";
import { type KernelCase, type PeerRun, type TfBackend, arg, concat } from "../common.js";
import * as jaxjs from "../jaxjs.js";
import * as rose from "../rose.js";
import * as tfjs from "../tfjs.js";

export interface BaShape { nCams: number; nPts: number; p: number; obs: Int32Array }

/** p observations of nPts = p/4 points by nCams = p/50 cameras (≥ 2): each point seen 4 times. */
export function baCase(p: number): KernelCase {
  const r = rng(0xba + p);
  const nCams = Math.max(2, Math.round(p / 50)), nPts = Math.max(1, Math.round(p / 4));
  const cams = new Float64Array(nCams * 11);
  for (let c = 0; c < nCams; c++) {
    const cam = cams.subarray(c * 11, (c + 1) * 11);
    cam.set(uniform(3, r, -0.3, 0.3), 0); // rotation (angle-axis), never exactly zero
    cam.set(uniform(3, r, -0.5, 0.5), 3); // centre
    cam[6] = 0.8 + 0.4 * r(); // focal length
    cam.set(uniform(2, r, -0.1, 0.1), 7); // principal point
    cam.set(uniform(2, r, -0.05, 0.05), 9); // radial distortion
  }
  const pts = Float64Array.from({ length: nPts * 3 }, (_, i) => (i % 3 === 2 ? 3 + 2 * r() : 2 * r() - 1));
  const obs = new Int32Array(2 * p);
  for (let j = 0; j < p; j++) { obs[2 * j] = Math.floor(r() * nCams); obs[2 * j + 1] = j % nPts; }
  const feats = uniform(2 * p, r, -0.5, 0.5);
  return {
    id: "ba", size: `${p} obs, ${nCams} cams, ${nPts} pts`, file: "ba.ts", fn: "ba", params: { p, nCams, nPts },
    objective: "∇ Σ‖reprojection error‖² w.r.t. cameras and points",
    args: [
      { kind: "dup", name: "cams", data: cams, role: "grad" },
      { kind: "dup", name: "pts", data: pts, role: "grad" },
      { kind: "const", name: "obs", data: obs },
      { kind: "const", name: "feats", data: feats },
      { kind: "dup", name: "err", data: new Float64Array(2 * p), role: "scratch" },
      { kind: "int", name: "p", value: p },
    ],
    hand: (m) => {
      const ca = m.put(cams), pa = m.put(pts), oa = m.put(obs), fa = m.put(feats), ea = m.alloc(16 * p);
      const dca = m.alloc(8 * cams.length), dpa = m.alloc(8 * pts.length);
      const f = m.fn("ba"), g = m.fn("ba_grad");
      const grad = () => g(ca, pa, oa, fa, ea, p, dca, dpa, nCams, nPts);
      return {
        primal: () => f(ca, pa, oa, fa, ea, p), grad,
        gradient: () => { grad(); return Float64Array.from([...m.f64(dca, cams.length), ...m.f64(dpa, pts.length)]); },
        io: "resident data, gradient overwritten",
      };
    },
    peers: { rose: roseVersion, jax: jaxVersion, tfjs: tfjsVersion },
  };
}

export function baShape(c: KernelCase): BaShape {
  const obs = c.args.find((a) => a.name === "obs");
  if (!obs || obs.kind !== "const" || !(obs.data instanceof Int32Array)) throw new Error("ba: no obs");
  return { nCams: c.params.nCams, nPts: c.params.nPts, p: c.params.p, obs: obs.data };
}

// Every version keeps the kernel's two branches (Rodrigues for θ ≠ 0, the first-order form at
// θ = 0), selecting per observation, with θ² replaced by 1 where it is 0 inside the Rodrigues
// branch so that its unused derivative stays finite (the usual select/where idiom).

// ---- Rose: one observation's residual as a Rose function of its camera, point and feature,
// summed over the observations with the camera and point picked by index values of Rose's index
// types (Vec(p, nCams), Vec(p, nPts)); sin and cos are opaque JS functions with custom jvps.
async function roseVersion(c: KernelCase): Promise<PeerRun> {
  const { fn, Real, Vec, vjp, compile, sum, add, sub, mul, div, sqrt, select, gt } = rose.R;
  const { nCams, nPts, p, obs } = baShape(c);
  const residual = fn([Vec(11, Real), Vec(3, Real), Vec(2, Real)], Real, (cam: any, pt: any, feat: any) => {
    const r0 = cam[0], r1 = cam[1], r2 = cam[2];
    const x = sub(pt[0], cam[3]), y = sub(pt[1], cam[4]), z = sub(pt[2], cam[5]);
    const sq = add(add(mul(r0, r0), mul(r1, r1)), mul(r2, r2));
    const nonzero = gt(sq, 0);
    const theta = sqrt(select(nonzero, Real, sq, 1));
    const ct = rose.cos(theta), st = rose.sin(theta), inv = div(1, theta);
    const w0 = mul(r0, inv), w1 = mul(r1, inv), w2 = mul(r2, inv);
    const cx = sub(mul(w1, z), mul(w2, y)), cy = sub(mul(w2, x), mul(w0, z)), cz = sub(mul(w0, y), mul(w1, x));
    const tmp = mul(add(add(mul(w0, x), mul(w1, y)), mul(w2, z)), sub(1, ct));
    const rx = select(nonzero, Real, add(add(mul(x, ct), mul(cx, st)), mul(w0, tmp)), add(x, sub(mul(r1, z), mul(r2, y))));
    const ry = select(nonzero, Real, add(add(mul(y, ct), mul(cy, st)), mul(w1, tmp)), add(y, sub(mul(r2, x), mul(r0, z))));
    const rz = select(nonzero, Real, add(add(mul(z, ct), mul(cz, st)), mul(w2, tmp)), add(z, sub(mul(r0, y), mul(r1, x))));
    const px = div(rx, rz), py = div(ry, rz);
    const rsq = add(mul(px, px), mul(py, py));
    const l = add(add(1, mul(cam[9], rsq)), mul(cam[10], mul(rsq, rsq)));
    const ex = sub(add(mul(cam[6], mul(px, l)), cam[7]), feat[0]);
    const ey = sub(add(mul(cam[6], mul(py, l)), cam[8]), feat[1]);
    return add(mul(ex, ex), mul(ey, ey));
  });
  const S = { cams: Vec(nCams, Vec(11, Real)), pts: Vec(nPts, Vec(3, Real)), oc: Vec(p, nCams), op: Vec(p, nPts), feats: Vec(p, Vec(2, Real)) };
  const f = fn([S], Real, (s: any) => sum(p, (j: any) => residual(s.cams[s.oc[j]], s.pts[s.op[j]], s.feats[j])));
  const cg = await compile(fn([S], S, (s: any) => vjp(f)(s).grad(1)));
  const cams = arg(c, "cams"), pts = arg(c, "pts"), feats = arg(c, "feats");
  const rows = (a: Float64Array, w: number) => Array.from({ length: a.length / w }, (_, i) => Array.from(a.subarray(i * w, (i + 1) * w)));
  const oc = Array.from({ length: p }, (_, j) => obs[2 * j]), op = Array.from({ length: p }, (_, j) => obs[2 * j + 1]), fs = rows(feats, 2);
  const call = () => cg({ cams: rows(cams, 11), pts: rows(pts, 3), oc, op, feats: fs }) as { cams: number[][]; pts: number[][] };
  return { grad: call, gradient: () => { const g = call(); return concat([g.cams.flat(), g.pts.flat()]); }, io: "JS object of nested number[] in and out (converted per call)" };
}

// ---- jax-js: vectorised over the observations, cameras and points gathered with np.take
// (whose gradient scatters back), the residual computed column by column.
async function jaxVersion(c: KernelCase): Promise<PeerRun> {
  const jax = await jaxjs.load();
  const np = jax.numpy;
  const { nCams, nPts, p, obs } = baShape(c);
  const f = (cams: any, pts: any, ci: any, pi: any, feats: any) => {
    const C = np.take(cams, ci, 0), X = np.take(pts, pi, 0); // (p, 11), (p, 3)
    const col = (a: any, i: number) => a.ref.slice([], [i, i + 1]).reshape([p]);
    const r0 = col(C, 0), r1 = col(C, 1), r2 = col(C, 2);
    const x = col(X, 0).sub(col(C, 3)), y = col(X, 1).sub(col(C, 4)), z = col(X, 2).sub(col(C, 5));
    const sq = r0.ref.mul(r0.ref).add(r1.ref.mul(r1.ref)).add(r2.ref.mul(r2.ref));
    const nonzero = sq.ref.greater(0);
    const theta = np.sqrt(np.where(nonzero.ref, sq, 1));
    const ct = np.cos(theta.ref), st = np.sin(theta.ref), inv = np.reciprocal(theta);
    const w0 = r0.ref.mul(inv.ref), w1 = r1.ref.mul(inv.ref), w2 = r2.ref.mul(inv);
    const cx = w1.ref.mul(z.ref).sub(w2.ref.mul(y.ref)), cy = w2.ref.mul(x.ref).sub(w0.ref.mul(z.ref)), cz = w0.ref.mul(y.ref).sub(w1.ref.mul(x.ref));
    const tmp = w0.ref.mul(x.ref).add(w1.ref.mul(y.ref)).add(w2.ref.mul(z.ref)).mul(np.subtract(1, ct.ref));
    const rot = (v: any, cv: any, wv: any) => v.mul(ct.ref).add(cv.mul(st.ref)).add(wv.mul(tmp.ref));
    const rx = np.where(nonzero.ref, rot(x.ref, cx, w0), x.ref.add(r1.ref.mul(z.ref)).sub(r2.ref.mul(y.ref)));
    const ry = np.where(nonzero.ref, rot(y.ref, cy, w1), y.ref.add(r2.ref.mul(x.ref)).sub(r0.ref.mul(z.ref)));
    const rz = np.where(nonzero, rot(z.ref, cz, w2), z.add(r0.mul(y)).sub(r1.mul(x)));
    const px = rx.div(rz.ref), py = ry.div(rz);
    const rsq = px.ref.mul(px.ref).add(py.ref.mul(py.ref));
    const l = col(C, 9).mul(rsq.ref).add(col(C, 10).mul(rsq.ref).mul(rsq)).add(1);
    const fc = col(C, 6);
    const ex = fc.ref.mul(px.mul(l.ref)).add(col(C, 7)).sub(col(feats, 0));
    const ey = fc.mul(py.mul(l)).add(col(C, 8)).sub(col(feats, 1));
    return ex.ref.mul(ex).add(ey.ref.mul(ey)).sum();
  };
  const vg = jax.jit(jax.valueAndGrad(f, { argnums: [0, 1] }));
  const ca = jaxjs.f64(jax, arg(c, "cams"), [nCams, 11]), pa = jaxjs.f64(jax, arg(c, "pts"), [nPts, 3]), fa = jaxjs.f64(jax, arg(c, "feats"), [p, 2]);
  const ci = np.array(Int32Array.from({ length: p }, (_, j) => obs[2 * j]), { dtype: np.int32 });
  const pi = np.array(Int32Array.from({ length: p }, (_, j) => obs[2 * j + 1]), { dtype: np.int32 });
  const call = () => {
    const [v, gs] = vg(ca.ref, pa.ref, ci.ref, pi.ref, fa.ref);
    const out = concat(gs.map((g: any) => g.dataSync() as Float64Array));
    v.dispose();
    return out;
  };
  return { grad: call, gradient: call, io: "resident float64 arrays; gradient read with dataSync()", dispose: () => { for (const a of [ca, pa, fa, ci, pi]) a.dispose(); } };
}

// ---- tfjs: the same, with tf.gather (gradient: unsorted segment sum) on cpu.
async function tfjsVersion(backend: TfBackend, c: KernelCase): Promise<PeerRun> {
  const tf = await tfjs.load();
  await tfjs.use(tf, backend);
  const { nCams, nPts, p, obs } = baShape(c);
  const ct_ = tf.tensor2d(Float32Array.from(arg(c, "cams")), [nCams, 11]), pt_ = tf.tensor2d(Float32Array.from(arg(c, "pts")), [nPts, 3]);
  const ft = tf.tensor2d(Float32Array.from(arg(c, "feats")), [p, 2]);
  const ci = tf.tensor1d(Int32Array.from({ length: p }, (_, j) => obs[2 * j]), "int32"), pi = tf.tensor1d(Int32Array.from({ length: p }, (_, j) => obs[2 * j + 1]), "int32");
  // tf.gather's gradient (UnsortedSegmentSum) has no kernel on the wasm backend: there the
  // rows are picked by a one-hot matrix product instead, whose gradient is a matmul.
  const gather = backend === "wasm"
    ? (a: any, idx: any, rows: number) => tf.matMul(tf.oneHot(idx, rows).toFloat(), a)
    : (a: any, idx: any) => tf.gather(a, idx);
  const { call } = tfjs.gradCall(tf, (cams: any, pts: any) => {
    const C = gather(cams, ci, nCams), X = gather(pts, pi, nPts);
    const cc = tf.unstack(C, 1), xx = tf.unstack(X, 1), ff = tf.unstack(ft, 1);
    const [r0, r1, r2] = cc;
    const x = xx[0].sub(cc[3]), y = xx[1].sub(cc[4]), z = xx[2].sub(cc[5]);
    const sq = r0.square().add(r1.square()).add(r2.square());
    // tfjs has no gradient for comparisons (greater), so the branch is a 0/1 blend by sign(θ²)
    const nonzero = tf.sign(sq), zero = tf.sub(1, nonzero);
    const theta = tf.sqrt(sq.add(zero));
    const ct = tf.cos(theta), st = tf.sin(theta), inv = tf.reciprocal(theta);
    const w0 = r0.mul(inv), w1 = r1.mul(inv), w2 = r2.mul(inv);
    const tmp = w0.mul(x).add(w1.mul(y)).add(w2.mul(z)).mul(tf.sub(1, ct));
    const pick = (v: any, cv: any, wv: any, first: any) => v.mul(ct).add(cv.mul(st)).add(wv.mul(tmp)).mul(nonzero).add(first.mul(zero));
    const rx = pick(x, w1.mul(z).sub(w2.mul(y)), w0, x.add(r1.mul(z)).sub(r2.mul(y)));
    const ry = pick(y, w2.mul(x).sub(w0.mul(z)), w1, y.add(r2.mul(x)).sub(r0.mul(z)));
    const rz = pick(z, w0.mul(y).sub(w1.mul(x)), w2, z.add(r0.mul(y)).sub(r1.mul(x)));
    const px = rx.div(rz), py = ry.div(rz);
    const rsq = px.square().add(py.square());
    const l = cc[9].mul(rsq).add(cc[10].mul(rsq.square())).add(1);
    const ex = cc[6].mul(px.mul(l)).add(cc[7]).sub(ff[0]), ey = cc[6].mul(py.mul(l)).add(cc[8]).sub(ff[1]);
    return ex.square().add(ey.square()).sum();
  }, [ct_, pt_]);
  return {
    grad: call, gradient: () => concat(call()),
    io: `resident float32 tensors; gradient read with dataSync()${backend === "wasm" ? "; BA gathers by one-hot matmul (no UnsortedSegmentSum kernel on wasm)" : ""}`,
    setup: () => tfjs.use(tf, backend), dispose: () => { for (const t of [ct_, pt_, ft, ci, pi]) t.dispose(); },
  };
}
