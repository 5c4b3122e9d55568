// The benchmark cases. Each case builds its inputs once and exposes, through the public
// API only: the primal call, the reverse gradient, the forward directional derivative,
// a first-call measurement on a fresh Program, and a finite-difference check — the
// check runs before any timing so a benchmark never times a wrong derivative silently.
import { readFileSync } from "node:fs";
import {
  Active, Const, Duplicated, Forward, Program, Reverse, autodiff,
  type AutodiffResult, type Kernel, type Mode,
} from "../src/index.js";
import { rng, uniform } from "./random.js";

/** Relative error above which a derivative check warns. */
export const CHECK_TOLERANCE = 1e-5;

export interface Check {
  what: string;
  ad: number;
  /** The reference: a finite difference, or for "consistency" checks the other AD mode. */
  ref: number;
  relErr: number;
  ok: boolean;
}

export interface FirstCall {
  /** stats.compileMs of the first autodiff call: differentiate + optimize + emit + instantiate. */
  compileMs: number;
  /** Program.fromWat on the kernel text: parse (wabt) + lift + instantiate the primal. */
  fromWatMs: number;
  /** Wall time of that first autodiff call (compile + argument placement + run). */
  firstCallMs: number;
  moduleBytes: number;
}

export interface BenchCase {
  kernel: string;
  size: string;
  params: Record<string, number>;
  /** Upper bounds on reverse/primal and forward/primal (absent: no target). */
  targets: { reverse?: number; forward?: number };
  /** Anything a reader of the figures must know about how the calls are made. */
  notes: string[];
  primal: () => unknown;
  reverse: () => Promise<AutodiffResult>;
  forward: () => Promise<AutodiffResult>;
  firstCall: (mode: Mode) => Promise<FirstCall>;
  check: () => Promise<Check[]>;
}

const dot = (a: Float64Array, b: Float64Array) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };

/**
 * Fourth-order central difference of f at 0. Why fourth order: both kernels are
 * polynomials along the directions checked (rosenbrock is quartic in each coordinate,
 * heat is linear in u0 and of degree `steps` in a), for which this stencil's truncation
 * error vanishes or is tiny, so h can be large enough to keep rounding noise far below
 * the tolerance.
 */
function fd4(f: (t: number) => number, h: number): number {
  return (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h);
}

function compare(what: string, ad: number, ref: number): Check {
  const scale = Math.max(Math.abs(ad), Math.abs(ref));
  const relErr = scale === 0 ? 0 : Math.abs(ad - ref) / scale;
  return { what, ad, ref, relErr, ok: Number.isFinite(relErr) && relErr <= CHECK_TOLERANCE };
}

/**
 * Steady-state timings run the optimized tier: the code a derivative runs under the default
 * (optimize: "tiered") once its calls have taken as long as its first compile, compiled at
 * once here so that no timed call runs the first tier or pays for the tier-up. First-call
 * figures use the default.
 */
const STEADY = { optimize: "fast" } as const;

async function firstCallOf(text: string, name: string, mode: Mode, args: () => unknown[]): Promise<FirstCall> {
  // A fresh Program has an empty derivative cache, so its first autodiff call compiles.
  const t0 = performance.now();
  const p = await Program.fromWat(text);
  const t1 = performance.now();
  const r = await autodiff(mode, p.kernel(name), ...args());
  const t2 = performance.now();
  return { compileMs: r.stats.compileMs, fromWatMs: t1 - t0, firstCallMs: t2 - t1, moduleBytes: r.stats.moduleBytes };
}

const readKernel = (dir: URL, file: string) => readFileSync(new URL(file, dir), "utf8");

/** Extended Rosenbrock, f(x) = Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])², gradient w.r.t. x. */
export async function rosenbrockCase(dir: URL, n: number, targets: BenchCase["targets"]): Promise<BenchCase> {
  const text = readKernel(dir, "rosenbrock.wat");
  const program = await Program.fromWat(text, STEADY);
  const k: Kernel = program.kernel("rosenbrock");
  const r = rng(0x5eed + n);
  const x = uniform(n, r, -1, 1.5);
  const dx = uniform(n, r, -1, 1); // forward tangent direction
  const gx = new Float64Array(n); // reverse shadow (gradient accumulates into it)
  const args = (mode: Mode, xs = x, shadow = mode === Reverse ? gx : dx) => [Duplicated(xs, shadow), Const(n)];
  const f = (xs: Float64Array) => k.call(xs, n) as number;

  return {
    kernel: "rosenbrock",
    size: `n=${n}`,
    params: { n },
    targets,
    notes: [
      "reverse: the shadow is not re-zeroed between timed calls; the gradient accumulates into it (Enzyme semantics), so zeroing is the caller's choice and is not timed",
    ],
    primal: () => k.call(x, n),
    reverse: () => autodiff(Reverse, k, ...args(Reverse)),
    forward: () => autodiff(Forward, k, ...args(Forward)),
    firstCall: (mode) => firstCallOf(text, "rosenbrock", mode, () => args(mode, x.slice(), new Float64Array(n))),
    async check() {
      // x[n−2] appears in the last two terms only, so moving it changes only the last
      // additions of the running sum: the finite difference is not drowned in the
      // rounding of a 10⁷-sized sum over n terms.
      const j = n - 2;
      const g = new Float64Array(n);
      await autodiff(Reverse, k, Duplicated(x, g), Const(n));
      const h = 1e-2 * Math.max(1, Math.abs(x[j]));
      const fdj = fd4((t) => { const xs = x.slice(); xs[j] += t; return f(xs); }, h);
      const fw = await autodiff(Forward, k, Duplicated(x, dx.slice()), Const(n));
      const tangent = fw.tangent as number;
      const fdDir = fd4((t) => f(x.map((v, i) => v + t * dx[i])), 1e-2);
      return [
        compare(`reverse ∂f/∂x[${j}] vs finite difference`, g[j], fdj),
        compare("forward ∇f·dx vs finite difference along dx", tangent, fdDir),
        compare("consistency: forward tangent vs reverse gradient·dx", tangent, dot(g, dx)),
      ];
    },
  };
}

/**
 * Explicit 1D heat equation, `steps` in-place updates of u (tmp is scratch), no result.
 * Reverse: seed ū = w (random), so the gradient is that of L = w·u_final w.r.t. u0 and a.
 * Forward: tangent (v, 1) on (u0, a).
 */
export async function heatCase(dir: URL, n: number, steps: number, a: number, targets: BenchCase["targets"]): Promise<BenchCase> {
  const text = readKernel(dir, "heat.wat");
  const program = await Program.fromWat(text, STEADY);
  const k: Kernel = program.kernel("heat");
  const r = rng(0x4ea7 + n);
  const u0 = uniform(n, r, -1, 1);
  const w = uniform(n, r, -1, 1); // reverse seed on u_final
  const v = uniform(n, r, -1, 1); // forward tangent on u0
  const u = new Float64Array(n), tmp = new Float64Array(n), du = new Float64Array(n), dtmp = new Float64Array(n);
  // The kernel works in place (u, du, tmp and dtmp come back overwritten), so every timed
  // call restores its inputs first. Without that, u and its shadow would decay over
  // thousands of calls towards subnormal numbers, which are slow on x86 and would make
  // the timing depend on how many calls came before. The restore (4 × n doubles) is in
  // all three modes alike and is negligible beside n × steps updates.
  const reset = (shadow: Float64Array | null) => {
    u.set(u0); tmp.fill(0);
    if (shadow) { du.set(shadow); dtmp.fill(0); }
  };
  const revArgs = (us: Float64Array, dus: Float64Array) =>
    [Duplicated(us, dus), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n), Active(a), Const(steps)];
  const fwdArgs = (us: Float64Array, dus: Float64Array) =>
    [Duplicated(us, dus), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n), Duplicated(a, 1), Const(steps)];
  /** L(u0 + t·dir, a + t·da) = w · u_final. */
  const L = (t: number, dir: Float64Array | null, j: number, da: number) => {
    const us = u0.slice();
    if (dir) for (let i = 0; i < n; i++) us[i] += t * dir[i];
    if (j >= 0) us[j] += t;
    k.call(us, new Float64Array(n), n, a + t * da, steps);
    return dot(w, us);
  };

  return {
    kernel: "heat",
    size: `n=${n}, steps=${steps}`,
    params: { n, steps, a },
    targets,
    notes: ["every call (all modes) restores u, tmp and their shadows first: the kernel works in place"],
    primal: () => { reset(null); return k.call(u, tmp, n, a, steps); },
    reverse: () => {
      reset(w);
      return autodiff(Reverse, k, Duplicated(u, du), Duplicated(tmp, dtmp), Const(n), Active(a), Const(steps));
    },
    forward: () => {
      reset(v);
      return autodiff(Forward, k, Duplicated(u, du), Duplicated(tmp, dtmp), Const(n), Duplicated(a, 1), Const(steps));
    },
    firstCall: (mode) => firstCallOf(text, "heat", mode,
      () => (mode === Reverse ? revArgs(u0.slice(), w.slice()) : fwdArgs(u0.slice(), v.slice()))),
    async check() {
      const j = n >> 1;
      const us = u0.slice(), gu = w.slice();
      const rr = await autodiff(Reverse, k, ...revArgs(us, gu));
      const ga = rr.derivs[3] as number;
      const fus = u0.slice(), tu = v.slice();
      await autodiff(Forward, k, ...fwdArgs(fus, tu));
      const tangent = dot(w, tu); // the forward tangent of u_final, projected on w
      // L is linear in u0, so any h works for u0[j]; in a it has degree `steps`, and
      // h = 1e-4 keeps the stencil's h⁴ error and the rounding noise both below 1e-9.
      return [
        compare(`reverse ∂L/∂u0[${j}] vs finite difference`, gu[j], fd4((t) => L(t, null, j, 0), 1e-2)),
        compare("reverse ∂L/∂a vs finite difference", ga, fd4((t) => L(t, null, -1, 1), 1e-4)),
        compare("forward w·u̇ vs finite difference along (v, 1)", tangent, fd4((t) => L(t, v, -1, 1), 1e-4)),
        compare("consistency: forward w·u̇ vs reverse ∇L·(v, 1)", tangent, dot(gu, v) + ga),
      ];
    },
  };
}

/**
 * A kernel from assembly/ compiled with Program.fromAssemblyScript: `inputs` are its buffers
 * (index → array; `const` ones carry no shadow) and scalars in parameter order. Reverse seeds
 * the scalar result only (shadows zero), forward uses random tangents on the active buffers.
 * Checks: one gradient coordinate against a finite difference, and forward vs reverse.
 */
export async function assemblyCase(root: URL, file: string, name: string, size: string, params: Record<string, number>,
  inputs: (Float64Array | number | { const: Float64Array })[], targets: BenchCase["targets"]): Promise<BenchCase> {
  const text = readFileSync(new URL(`assembly/${file}`, root), "utf8");
  const program = await Program.fromAssemblyScript(text, STEADY);
  const k: Kernel = program.kernel(name);
  const r = rng(0xa5 + file.length);
  const active = inputs.map((x) => x instanceof Float64Array);
  const originals = inputs.map((x) => (x instanceof Float64Array ? x.slice() : x));
  const fresh = () => originals.map((x) => (x instanceof Float64Array ? x.slice() : typeof x === "number" ? x : x.const));
  const shadows = inputs.map((x) => (x instanceof Float64Array ? new Float64Array(x.length) : null));
  const tangents = inputs.map((x) => (x instanceof Float64Array ? uniform(x.length, r, -1, 1) : null));
  const bufs = fresh();
  const reset = () => originals.forEach((x, i) => { if (x instanceof Float64Array) (bufs[i] as Float64Array).set(x); });
  const annotate = (vals: unknown[], sh: (Float64Array | null)[]) => vals.map((v, i) => (active[i] ? Duplicated(v as Float64Array, sh[i]!) : Const(v as number)));
  const f = (vals: unknown[]) => k.call(...vals) as number;
  return {
    kernel: name, size, params, targets,
    notes: [`AssemblyScript (assembly/${file}) through Program.fromAssemblyScript; buffers restored before every call (the kernel may update some in place)`],
    primal: () => { reset(); return k.call(...bufs); },
    reverse: () => { reset(); for (const s of shadows) s?.fill(0); return autodiff(Reverse, k, ...annotate(bufs, shadows)); },
    forward: () => { reset(); return autodiff(Forward, k, ...annotate(bufs, tangents.map((t) => t && t.slice()))); },
    firstCall: async (mode) => {
      const t0 = performance.now();
      const p = await Program.fromAssemblyScript(text);
      const t1 = performance.now();
      const res = await autodiff(mode, p.kernel(name), ...annotate(fresh(), inputs.map((x) => (x instanceof Float64Array ? new Float64Array(x.length) : null))));
      return { compileMs: res.stats.compileMs, fromWatMs: t1 - t0, firstCallMs: performance.now() - t1, moduleBytes: res.stats.moduleBytes };
    },
    async check() {
      const vals = fresh(), g = inputs.map((x) => (x instanceof Float64Array ? new Float64Array(x.length) : null));
      await autodiff(Reverse, k, ...annotate(vals, g));
      const b = active.findIndex(Boolean);
      const at = (t: number, dir: (Float64Array | null)[] | null, j: number) => {
        const v = fresh();
        if (dir) v.forEach((x, i) => { if (dir[i]) (x as Float64Array).forEach((_, e) => { (x as Float64Array)[e] += t * dir[i]![e]; }); });
        if (j >= 0) (v[b] as Float64Array)[j] += t;
        return f(v);
      };
      // the coordinate with the largest derivative, so the finite difference is not all rounding noise
      const gb = g[b]!;
      const jmax = gb.reduce((m, v, i) => (Math.abs(v) > Math.abs(gb[m]) ? i : m), 0);
      const fdj = fd4((t) => at(t, null, jmax), 1e-3);
      const tv = tangents.map((t) => t && t.slice());
      const fw = await autodiff(Forward, k, ...annotate(fresh(), tv));
      const fdDir = fd4((t) => at(t, tangents, -1), 1e-3);
      const dotGT = g.reduce((s, x, i) => s + (x ? dot(x, tangents[i]!) : 0), 0);
      return [
        compare(`reverse ∂f/∂(argument ${b})[${jmax}] vs finite difference`, gb[jmax], fdj),
        compare("forward along random tangents vs finite difference", fw.tangent as number, fdDir),
        compare("consistency: forward tangent vs reverse gradient·tangent", fw.tangent as number, dotGT),
      ];
    },
  };
}
