// The example AssemblyScript kernels in assembly/ (one self-contained file each), compiled
// with Program.fromAssemblyScript and differentiated at small sizes:
//  (a) ReverseWithPrimal / ForwardWithPrimal primal equals kernel.call (Object.is), and the
//      buffers after the derivative call hold the primal results, bit for bit;
//  (b) every reverse derivative (Active scalars, each element of each Duplicated buffer)
//      equals a Richardson finite difference of L = return value + Σ seed · final buffer
//      contents (seeds only on output buffers, zero on scratch and read-only inputs);
//  (c) forward mode along a random tangent equals the finite difference along it, and
//      ⟨reverse gradient, tangent⟩.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Active, Const, Duplicated, Forward, ForwardWithPrimal, Program, Reverse, ReverseWithPrimal, UnsupportedError, autodiff } from "../../src/index.js";
import type { Kernel } from "../../src/index.js";
import { relErr, richardsonFD, rng } from "../helpers/check.js";

type Arg =
  | { kind: "int"; value: number } // i32 size or index: Const
  | { kind: "scalar"; value: number } // f64: Active (reverse) / Duplicated (forward)
  | { kind: "const"; data: Float64Array | Int32Array } // read-only buffer, no shadow
  | { kind: "dup"; data: Float64Array; seed?: Float64Array }; // Duplicated buffer; seed on its final contents (zero if absent)

const int = (value: number): Arg => ({ kind: "int", value });
const scalar = (value: number): Arg => ({ kind: "scalar", value });
const constBuf = (data: Float64Array | Int32Array): Arg => ({ kind: "const", data });
const dup = (data: Float64Array, seed?: Float64Array): Arg => ({ kind: "dup", data, seed });

const programs = new Map<string, Promise<Program>>();
/** assembly/<file>.ts compiled once per file and math (Program.fromAssemblyScript's: JS Math imports, or NativeMath in the module). */
function programOf(file: string, math: "js" | "wasm" = "js"): Promise<Program> {
  const key = `${file}|${math}`;
  if (!programs.has(key)) {
    const src = readFileSync(new URL(`../../assembly/${file}.ts`, import.meta.url), "utf8");
    programs.set(key, Program.fromAssemblyScript(src, { math }));
  }
  return programs.get(key)!;
}

const uniform = (r: () => number, n: number, lo: number, hi: number) => Float64Array.from({ length: n }, () => lo + (hi - lo) * r());

interface CheckOptions {
  /** FD step (default 2^-10). */
  h?: number;
  /** tolerance (relErr) of reverse and forward against FD (default 1e-6). */
  tol?: number;
  /** tolerance (relErr) of forward against ⟨reverse, tangent⟩ (default 1e-9). */
  dotTol?: number;
  seed?: number;
}

/** Runs (a), (b), (c) on kernel k at args; returns the number of derivatives compared with FD. */
async function checkKernel(k: Kernel, args: Arg[], opts: CheckOptions = {}): Promise<number> {
  const h = opts.h ?? 2 ** -10, tol = opts.tol ?? 1e-6, dotTol = opts.dotTol ?? 1e-9;
  const label = k.name;
  const copy = (as: Arg[]) => as.map((a) => (a.kind === "int" || a.kind === "scalar" ? a.value : a.data.slice()));
  const num = (x: unknown) => (x === undefined || x === null ? 0 : (x as number));
  const seedDot = (as: Arg[], bufs: (number | Float64Array | Int32Array)[]) =>
    as.reduce((s, a, i) => (a.kind === "dup" && a.seed ? s + a.seed.reduce((t, w, j) => t + w * (bufs[i] as Float64Array)[j], 0) : s), 0);

  // L at perturbed arguments: return value + Σ seed · final contents
  const L = (as: Arg[]): number => {
    const vals = copy(as);
    const ret = num(k.call(...vals));
    return ret + seedDot(as, vals);
  };
  const with_ = (i: number, change: (a: Arg) => Arg) => args.map((a, j) => (j === i ? change(a) : a));

  // (a) primal
  const primalArgs = copy(args);
  const primal = k.call(...primalArgs);
  const revVals = copy(args);
  const revShadows = args.map((a) => (a.kind === "dup" ? (a.seed ? a.seed.slice() : new Float64Array(a.data.length)) : null));
  const rev = await autodiff(ReverseWithPrimal, k, ...args.map((a, i) => {
    if (a.kind === "scalar") return Active(a.value);
    if (a.kind === "dup") return Duplicated(revVals[i] as Float64Array, revShadows[i]!);
    return Const(revVals[i]);
  }));
  expect(Object.is(rev.primal ?? undefined, primal), `${label}: ReverseWithPrimal primal ${rev.primal} vs call ${primal}`).toBe(true);
  args.forEach((a, i) => {
    if (a.kind !== "dup" && a.kind !== "const") return;
    const got = revVals[i] as Float64Array, want = primalArgs[i] as Float64Array;
    const bad = Array.from(want).findIndex((v, j) => !Object.is(v, got[j]));
    expect(bad, `${label}: argument ${i}[${bad}] after reverse ${got[bad]} vs after call ${want[bad]}`).toBe(-1);
  });

  // (b) reverse against FD, element by element
  let compared = 0;
  const fd = (f: (e: number) => number) => richardsonFD(f, h);
  args.forEach((a, i) => {
    if (a.kind === "scalar") {
      const want = fd((e) => L(with_(i, () => scalar(a.value + e))));
      const got = rev.derivs[i] as number;
      expect(relErr(got, want), `${label}: dL/d arg ${i}: reverse ${got} vs FD ${want}`).toBeLessThan(tol);
      compared++;
    } else if (a.kind === "dup") {
      for (let j = 0; j < a.data.length; j++) {
        const want = fd((e) => L(with_(i, () => { const d = a.data.slice(); d[j] += e; return dup(d, a.seed); })));
        const got = revShadows[i]![j];
        expect(relErr(got, want), `${label}: dL/d arg ${i}[${j}]: reverse ${got} vs FD ${want}`).toBeLessThan(tol);
        compared++;
      }
    }
  });

  // (c) forward along a random tangent
  const r = rng(opts.seed ?? 12345);
  const tangents = args.map((a) => (a.kind === "scalar" ? r() * 2 - 1 : a.kind === "dup" ? uniform(r, a.data.length, -1, 1) : null));
  const fwdVals = copy(args);
  const fwdShadows = tangents.map((t) => (t instanceof Float64Array ? t.slice() : null));
  const fwd = await autodiff(ForwardWithPrimal, k, ...args.map((a, i) => {
    if (a.kind === "scalar") return Duplicated(a.value, tangents[i] as number);
    if (a.kind === "dup") return Duplicated(fwdVals[i] as Float64Array, fwdShadows[i]!);
    return Const(fwdVals[i]);
  }));
  expect(Object.is(fwd.primal ?? undefined, primal), `${label}: ForwardWithPrimal primal ${fwd.primal} vs call ${primal}`).toBe(true);
  args.forEach((a, i) => {
    if (a.kind !== "dup") return;
    const got = fwdVals[i] as Float64Array, want = primalArgs[i] as Float64Array;
    const bad = Array.from(want).findIndex((v, j) => !Object.is(v, got[j]));
    expect(bad, `${label}: argument ${i}[${bad}] after forward ${got[bad]} vs after call ${want[bad]}`).toBe(-1);
  });
  const directional = num(fwd.tangent) + seedDot(args, fwdShadows as Float64Array[]);
  const fdDir = fd((e) => L(args.map((a, i) => {
    if (a.kind === "scalar") return scalar(a.value + e * (tangents[i] as number));
    if (a.kind === "dup") return dup(a.data.map((v, j) => v + e * (tangents[i] as Float64Array)[j]), a.seed);
    return a;
  })));
  expect(relErr(directional, fdDir), `${label}: forward ${directional} vs FD ${fdDir}`).toBeLessThan(tol);
  const dot = args.reduce((s, a, i) => {
    if (a.kind === "scalar") return s + (rev.derivs[i] as number) * (tangents[i] as number);
    if (a.kind === "dup") return s + revShadows[i]!.reduce((t, g, j) => t + g * (tangents[i] as Float64Array)[j], 0);
    return s;
  }, 0);
  expect(relErr(directional, dot), `${label}: forward ${directional} vs <reverse, tangent> ${dot}`).toBeLessThan(dotTol);
  return compared;
}

// with math: "wasm", tanh, exp, log, sin, cos are AssemblyScript's NativeMath functions in the
// module, differentiated by their rules (src/ad/calls.ts), not through their bit-level code
describe.each(["js", "wasm"] as const)("assembly/ kernels (Math: %s): reverse and forward against finite differences and each other", (math) => {
  const program = (file: string) => programOf(file, math);
  it("mlp: 2-50-2 tanh network, params packed in one buffer (252 values)", async () => {
    const k = (await program("mlp")).kernel("mlp");
    const r = rng(1);
    const n = await checkKernel(k, [dup(uniform(r, 252, -0.5, 0.5)), dup(uniform(r, 2, -1, 1))]);
    expect(n).toBe(254);
  });

  it("mlp_batch: the same network summed over 5 inputs", async () => {
    const k = (await program("mlp")).kernel("mlp_batch");
    const r = rng(2);
    const n = await checkKernel(k, [dup(uniform(r, 252, -0.5, 0.5)), dup(uniform(r, 10, -1, 1)), int(5)]);
    expect(n).toBe(262);
  });

  it("rosenbrock: extended Rosenbrock, n = 10", async () => {
    const k = (await program("rosenbrock")).kernel("rosenbrock");
    const r = rng(3);
    await checkKernel(k, [dup(uniform(r, 10, -1.5, 1.5)), int(10)]);
  });

  it("heat: in-place explicit heat equation, n = 12, 20 steps, seeds on u", async () => {
    const k = (await program("heat")).kernel("heat");
    const r = rng(4);
    const n = 12;
    await checkKernel(k, [dup(uniform(r, n, 0, 1), uniform(r, n, -1, 1)), dup(uniform(r, n, -1, 1)), int(n), scalar(0.2), int(20)]);
  });

  it.each([
    { d: 2, k: 3, n: 10, m: 0 },
    { d: 3, k: 2, n: 4, m: 2 },
  ])("gmm: ADBench GMM objective with Wishart prior, d = $d, k = $k, n = $n, m = $m", async ({ d, k: K, n, m }) => {
    const k = (await program("gmm")).kernel("gmm");
    const r = rng(5 + d);
    const icfSz = (d * (d + 1)) / 2;
    await checkKernel(k, [
      dup(uniform(r, K, -1, 1)), // alphas
      dup(uniform(r, K * d, -1, 1)), // means
      dup(uniform(r, K * icfSz, -0.5, 0.5)), // icf
      constBuf(uniform(r, n * d, -1.5, 1.5)), // x
      dup(uniform(r, K * d + 2 * K + 2 * d, -1, 1)), // work (scratch, contents irrelevant)
      int(d), int(K), int(n), scalar(1.3), int(m),
    ]);
  });

  it.each([
    { rot: "a rotation", r: [0.2, -0.15, 0.1] },
    { rot: "zero rotation (first-order branch)", r: [0, 0, 0] },
  ])("ba_residual: one observation, camera with $rot, seeds on the residual", async ({ r: rot }) => {
    const k = (await program("ba")).kernel("ba_residual");
    const r = rng(9);
    const cam = Float64Array.from([...rot, 0.1, -0.2, 0.05, 1.1, 0.03, -0.02, 0.04, -0.01]);
    await checkKernel(k, [dup(cam), dup(Float64Array.from([0.4, -0.3, 4])), dup(Float64Array.from([0.2, -0.1])), dup(uniform(r, 2, -1, 1), uniform(r, 2, -1, 1))]);
  });

  // fails today: the camera/point addresses come from indices loaded from obs and reach
  // ba_residual through a call, whose derivative is then silently zero (see the src issues below)
  it("ba: bundle-adjustment reprojection error, 3 cameras (one with zero rotation), 4 points, 5 observations", async () => {
    const k = (await program("ba")).kernel("ba");
    const r = rng(6);
    const nCams = 3, nPts = 4, p = 5;
    const cams = new Float64Array(nCams * 11);
    for (let c = 0; c < nCams; c++) {
      const cam = cams.subarray(c * 11, (c + 1) * 11);
      cam.set(c === 2 ? [0, 0, 0] : uniform(r, 3, -0.3, 0.3), 0); // rotation (angle-axis)
      cam.set(uniform(r, 3, -0.5, 0.5), 3); // centre
      cam[6] = 0.8 + 0.4 * r(); // focal length
      cam.set(uniform(r, 2, -0.1, 0.1), 7); // principal point
      cam.set(uniform(r, 2, -0.05, 0.05), 9); // radial distortion
    }
    const pts = Float64Array.from({ length: nPts * 3 }, (_, i) => (i % 3 === 2 ? 3 + 2 * r() : r() * 2 - 1));
    const obs = Int32Array.from([0, 0, 1, 0, 2, 1, 0, 2, 2, 3]);
    expect(obs.length).toBe(2 * p);
    const feats = uniform(r, 2 * p, -0.5, 0.5);
    // err holds the residuals: seed them (L = Σ‖e‖² + w · e)
    await checkKernel(k, [dup(cams), dup(pts), constBuf(obs), constBuf(feats), dup(uniform(r, 2 * p, -1, 1), uniform(r, 2 * p, -1, 1)), int(p)]);
  });

  it("lstm: ADBench LSTM objective, 2 layers, h = 4, T = 3, seeds on the final state", async () => {
    const k = (await program("lstm")).kernel("lstm");
    const r = rng(7);
    const l = 2, h = 4, T = 3;
    await checkKernel(k, [
      dup(uniform(r, l * 8 * h + 3 * h, -1, 1)), // weights
      dup(uniform(r, l * 2 * h, -0.5, 0.5), uniform(r, l * 2 * h, -1, 1)), // state (in/out)
      dup(uniform(r, T * h, -1, 1)), // sequence (read-only)
      dup(uniform(r, 2 * h, -1, 1)), // work (scratch)
      int(l), int(h), int(T),
    ]);
  });

  it("rk4: Lotka–Volterra, 100 RK4 steps, state in place, seeds on the final state", async () => {
    const k = (await program("rk4")).kernel("rk4");
    const r = rng(8);
    await checkKernel(k, [
      dup(Float64Array.from([10, 5]), uniform(r, 2, -1, 1)), // state (x, y)
      dup(Float64Array.from([1.1, 0.4, 0.4, 0.1])), // α, β, γ, δ
      dup(uniform(r, 10, -1, 1)), // work (scratch)
      scalar(0.01), int(100),
    ], { h: 2 ** -14 }); // L depends on dt through 100 steps: FD's h⁴ error term grows like 100⁴
  });
});

// The primal values against plain JS transcriptions of the same formulas (ADBench's C++
// for GMM, BA and LSTM), so that the kernels compute what their headers say.
describe("assembly/ kernels: primal against JS references", () => {
  const program = (file: string) => programOf(file);
  const close = (got: number, want: number, what: string) => expect(relErr(got, want), `${what}: ${got} vs ${want}`).toBeLessThan(1e-12);
  const lse = (v: number[]) => { const m = Math.max(...v); return Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0)) + m; };

  it("mlp and mlp_batch", async () => {
    const prog = await program("mlp");
    const r = rng(11);
    const params = uniform(r, 252, -0.5, 0.5), xs = uniform(r, 6, -1, 1);
    const ref = (x0: number, x1: number) => {
      let y0 = params[250], y1 = params[251];
      for (let j = 0; j < 50; j++) {
        const h = Math.tanh(params[2 * j] * x0 ** 3 + params[2 * j + 1] * x1 ** 3 + params[100 + j]);
        y0 += params[150 + j] * h;
        y1 += params[200 + j] * h;
      }
      return y0 + y1;
    };
    close(prog.kernel("mlp").call(params, xs.slice(0, 2)) as number, ref(xs[0], xs[1]), "mlp");
    close(prog.kernel("mlp_batch").call(params, xs, 3) as number, ref(xs[0], xs[1]) + ref(xs[2], xs[3]) + ref(xs[4], xs[5]), "mlp_batch");
  });

  it("heat", async () => {
    const r = rng(12);
    const n = 7, a = 0.3;
    const u = uniform(r, n, 0, 1), want = Array.from(u);
    for (let t = 0; t < 3; t++) {
      const old = want.slice();
      for (let i = 0; i < n; i++) want[i] = old[i] + a * ((old[i - 1] ?? 0) - 2 * old[i] + (old[i + 1] ?? 0));
    }
    (await program("heat")).kernel("heat").call(u, new Float64Array(n), n, a, 3);
    want.forEach((w, i) => close(u[i], w, `u[${i}]`));
  });

  it("gmm", async () => {
    const r = rng(13);
    const d = 3, K = 2, n = 4, m = 2, gamma = 1.3, icfSz = (d * (d + 1)) / 2;
    const alphas = uniform(r, K, -1, 1), means = uniform(r, K * d, -1, 1), icf = uniform(r, K * icfSz, -0.5, 0.5), x = uniform(r, n * d, -1.5, 1.5);
    const lgamma = (z: number) => { let t = Number.isInteger(z) ? 1 : 0.5, g = t === 1 ? 0 : 0.5 * Math.log(Math.PI); for (; t < z; t++) g += Math.log(t); return g; };
    let slse = 0;
    for (let i = 0; i < n; i++) {
      const terms: number[] = [];
      for (let c = 0; c < K; c++) {
        const q = icf.subarray(c * icfSz, c * icfSz + d), L = icf.subarray(c * icfSz + d, (c + 1) * icfSz);
        const xc = Array.from({ length: d }, (_, j) => x[i * d + j] - means[c * d + j]);
        // Q = diag(exp q) + strictly lower triangle, column-major
        const Q = Array.from({ length: d }, (_, row) => Array.from({ length: d }, (_, col) => (row === col ? Math.exp(q[row]) : 0)));
        let li = 0;
        for (let col = 0; col < d; col++) for (let row = col + 1; row < d; row++) Q[row][col] = L[li++];
        const Qx = Q.map((rowv) => rowv.reduce((s, v, j) => s + v * xc[j], 0));
        terms.push(alphas[c] + q.reduce((s, v) => s + v, 0) - 0.5 * Qx.reduce((s, v) => s + v * v, 0));
      }
      slse += lse(terms);
    }
    const nw = d + m + 1;
    let lgd = 0.25 * d * (d - 1) * Math.log(Math.PI);
    for (let j = 1; j <= d; j++) lgd += lgamma(0.5 * nw + 0.5 * (1 - j));
    const C = nw * d * (Math.log(gamma) - 0.5 * Math.log(2)) - lgd;
    let prior = 0;
    for (let c = 0; c < K; c++) {
      const v = icf.subarray(c * icfSz, (c + 1) * icfSz);
      let frob = 0, sq = 0;
      v.forEach((e, j) => { frob += j < d ? Math.exp(2 * e) : e * e; if (j < d) sq += e; });
      prior += 0.5 * gamma * gamma * frob - m * sq;
    }
    const want = -n * d * 0.5 * Math.log(2 * Math.PI) + slse - n * lse(Array.from(alphas)) + prior - K * C;
    const got = (await program("gmm")).kernel("gmm").call(alphas, means, icf, x, new Float64Array(K * d + 2 * K + 2 * d), d, K, n, gamma, m) as number;
    close(got, want, "gmm");
    // lgamma of half-integers: Γ(5/2) = 3√π/4, Γ(4) = 6
    close(lgamma(2.5), Math.log((3 * Math.sqrt(Math.PI)) / 4), "lgamma(2.5)");
    close(lgamma(4), Math.log(6), "lgamma(4)");
  });

  it("ba_residual", async () => {
    const cam = [0.2, -0.15, 0.1, 0.1, -0.2, 0.05, 1.1, 0.03, -0.02, 0.04, -0.01], X = [0.4, -0.3, 4], feat = [0.2, -0.1];
    // rotation matrix from the angle-axis vector (Rodrigues' formula, matrix form)
    const th = Math.hypot(cam[0], cam[1], cam[2]), [kx, ky, kz] = cam.slice(0, 3).map((v) => v / th);
    const K = [[0, -kz, ky], [kz, 0, -kx], [-ky, kx, 0]];
    const R = [0, 1, 2].map((i) => [0, 1, 2].map((j) => (i === j ? 1 : 0) + Math.sin(th) * K[i][j] + (1 - Math.cos(th)) * [0, 1, 2].reduce((s, l) => s + K[i][l] * K[l][j], 0)));
    const Xc = [0, 1, 2].map((i) => X[i] - cam[3 + i]);
    const Y = R.map((row) => row.reduce((s, v, j) => s + v * Xc[j], 0));
    const p = [Y[0] / Y[2], Y[1] / Y[2]], rsq = p[0] ** 2 + p[1] ** 2, Ld = 1 + cam[9] * rsq + cam[10] * rsq * rsq;
    const e = [cam[6] * p[0] * Ld + cam[7] - feat[0], cam[6] * p[1] * Ld + cam[8] - feat[1]];
    const err = new Float64Array(2);
    const got = (await program("ba")).kernel("ba_residual").call(Float64Array.from(cam), Float64Array.from(X), Float64Array.from(feat), err) as number;
    close(err[0], e[0], "err[0]");
    close(err[1], e[1], "err[1]");
    close(got, e[0] ** 2 + e[1] ** 2, "ba_residual");
  });

  it("ba: the sum of ba_residual over the observations", async () => {
    const prog = await program("ba");
    const r = rng(15);
    const cams = Float64Array.from({ length: 22 }, (_, i) => (i % 11 === 6 ? 1 : (r() - 0.5) * 0.2));
    const pts = Float64Array.from({ length: 9 }, (_, i) => (i % 3 === 2 ? 4 : r() - 0.5));
    const obs = Int32Array.from([1, 2, 0, 1, 1, 0]), feats = uniform(r, 6, -0.5, 0.5), err = new Float64Array(6);
    const got = prog.kernel("ba").call(cams, pts, obs, feats, err, 3) as number;
    let want = 0;
    for (let j = 0; j < 3; j++) {
      const e = new Float64Array(2);
      want += prog.kernel("ba_residual").call(cams.slice(11 * obs[2 * j], 11 * obs[2 * j] + 11), pts.slice(3 * obs[2 * j + 1], 3 * obs[2 * j + 1] + 3), feats.slice(2 * j, 2 * j + 2), e) as number;
      expect([err[2 * j], err[2 * j + 1]]).toEqual([e[0], e[1]]);
    }
    expect(got).toBe(want);
  });

  it("lstm", async () => {
    const r = rng(14);
    const l = 2, h = 3, T = 4;
    const w = uniform(r, l * 8 * h + 3 * h, -1, 1), state = uniform(r, l * 2 * h, -0.5, 0.5), seq = uniform(r, T * h, -1, 1);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const s = Array.from(state);
    let total = 0;
    for (let t = 0; t < T - 1; t++) {
      let inp = Array.from({ length: h }, (_, i) => seq[t * h + i] * w[l * 8 * h + i]);
      for (let layer = 0; layer < l; layer++) {
        const W = (g: number, i: number) => w[layer * 8 * h + g * h + i], B = (g: number, i: number) => w[layer * 8 * h + 4 * h + g * h + i];
        const hid = layer * 2 * h, cel = hid + h;
        for (let i = 0; i < h; i++) {
          const f = sig(inp[i] * W(0, i) + B(0, i)), ig = sig(s[hid + i] * W(1, i) + B(1, i));
          const og = sig(inp[i] * W(2, i) + B(2, i)), ch = Math.tanh(s[hid + i] * W(3, i) + B(3, i));
          s[cel + i] = s[cel + i] * f + ig * ch;
          s[hid + i] = og * Math.tanh(s[cel + i]);
        }
        inp = s.slice(hid, hid + h);
      }
      const y = inp.map((v, i) => v * w[l * 8 * h + h + i] + w[l * 8 * h + 2 * h + i]);
      const z = lse(y);
      y.forEach((v, i) => { total += seq[(t + 1) * h + i] * (v - z); });
    }
    const got = (await program("lstm")).kernel("lstm").call(w, state, seq, new Float64Array(2 * h), l, h, T) as number;
    close(got, -total / ((T - 1) * h), "loss");
    s.forEach((v, i) => close(state[i], v, `state[${i}]`));
  });

  it("rk4: close to the exact flow (V conserved)", async () => {
    const [a, b, g, d] = [1.1, 0.4, 0.4, 0.1];
    const V = (x: number, y: number) => d * x - g * Math.log(x) + b * y - a * Math.log(y);
    const st = Float64Array.from([10, 5]);
    const got = (await program("rk4")).kernel("rk4").call(st, Float64Array.from([a, b, g, d]), new Float64Array(10), 0.01, 500) as number;
    close(got, V(st[0], st[1]), "returned V vs V(final state)");
    expect(Math.abs(got - V(10, 5)), "V drift over 500 RK4 steps of 0.01").toBeLessThan(1e-8);
    expect(Math.abs(st[0] - 10) + Math.abs(st[1] - 5), "the state moved").toBeGreaterThan(0.1);
  });
});

// Minimal reproductions of src/ limitations hit while writing the kernels above: these assert
// the correct behaviour and fail until src/ handles them.
describe("assembly/ kernels: src issues (reported)", () => {
  it("Math.PI under Math=JSMath (an imported global env.\"Math.PI\") instantiates", async () => {
    const k = (await Program.fromAssemblyScript("export function f(x: f64): f64 { return x * Math.PI; }")).kernel("f");
    expect(k.call(2)).toBe(2 * Math.PI);
    const r = await autodiff(ReverseWithPrimal, k, Active(2));
    expect(r.derivs[0]).toBe(Math.PI);
  });

  it("gather through an index loaded from a Const i32 buffer: x[idx[i]]", async () => {
    const k = (await Program.fromAssemblyScript(`
export function gather(x: usize, idx: usize, n: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < n; i++) {
    const v = load<f64>(x + (<usize>load<i32>(idx + (<usize>i << 2)) << 3));
    s += v * v;
  }
  return s;
}`)).kernel("gather");
    const dx = new Float64Array(3);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(Float64Array.from([1, 2, 3]), dx), Int32Array.from([2, 0, 2]), 3);
    expect(r.primal).toBe(19);
    expect(Array.from(dx)).toEqual([2, 0, 12]);
  });
});

describe("assembly/ kernels: src issues (reported), silent zeros", () => {
  // x + (idx[0] << 3) passed to a callee: the callee's pointer parameter gets no shadow
  // (calleeSignature maps an argument of "unknown" provenance to "const") and the derivative
  // through it is silently 0. Correct: the derivative, or an UnsupportedError as when the
  // same load is made in the kernel itself (never a silent zero).
  it("a callee reading x[idx[0]] through an address computed from a loaded index: the derivative or UnsupportedError, never 0", async () => {
    const k = (await Program.fromWat(`(module (memory (export "memory") 1)
      (func $sq (param $p i32) (result f64) (f64.mul (f64.load (local.get $p)) (f64.load (local.get $p))))
      (func (export "g") (param $x i32) (param $idx i32) (result f64)
        (call $sq (i32.add (local.get $x) (i32.shl (i32.load (local.get $idx)) (i32.const 3))))))`)).kernel("g");
    const x = Float64Array.from([1, 2, 3]), idx = Int32Array.from([2]);
    expect(k.call(x.slice(), idx)).toBe(9);
    const outcome = async (f: () => Promise<unknown>) => {
      try { return JSON.stringify(await f()); } catch (e) { if (e instanceof UnsupportedError) return "unsupported"; throw e; }
    };
    const dx = new Float64Array(3);
    const rev = await outcome(async () => { await autodiff(Reverse, k, Duplicated(x.slice(), dx), Const(idx)); return Array.from(dx); });
    const fwd = await outcome(async () => (await autodiff(Forward, k, Duplicated(x.slice(), Float64Array.from([1, 1, 1])), Const(idx))).tangent);
    expect(["[0,0,6]", "unsupported"], `reverse gave dx = ${rev}`).toContain(rev);
    expect(["6", "unsupported"], `forward gave ${fwd}`).toContain(fwd);
  });
});
