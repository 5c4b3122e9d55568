// Reusable numerical checks for derivative tests: a Richardson-extrapolated central
// difference, a relative error with an absolute floor, a seeded PRNG, and
// checkScalarKernel, which checks a float-scalar kernel's reverse gradient and forward
// directional derivative against finite differences and against each other.
import { expect } from "vitest";
import { Active, autodiff, Duplicated, ForwardWithPrimal, ReverseWithPrimal } from "../../src/index.js";
import type { Program } from "../../src/index.js";

/** Central difference of f at 0: D(h) = (f(h) - f(-h)) / 2h. */
const central = (f: (h: number) => number, h: number): number => (f(h) - f(-h)) / (2 * h);

/**
 * Richardson-extrapolated central difference of f at 0: (4 D(h/2) - D(h)) / 3, which
 * cancels the h² error term of the central difference (error O(h⁴)).
 */
export function richardsonFD(f: (h: number) => number, h: number): number {
  return (4 * central(f, h / 2) - central(f, h)) / 3;
}

export { relErr, rng } from "../../bench/random.js";
import { relErr, rng } from "../../bench/random.js";

export interface CheckOptions {
  /** Tolerance (relErr) of reverse vs FD and forward vs FD; default 1e-6 for f64 kernels, 2e-3 when f32 is involved. */
  tol?: number;
  /** Tolerance (relErr) of the dot-product test forward vs <reverse, tangent>; default 1e-9 for f64, 1e-4 with f32. */
  dotTol?: number;
  /** FD step; default 2^-10 for f64, 2^-7 with f32 (powers of two, so x ± h is exact in f32 for |x| < 2^12). */
  h?: number;
  /** Treat the kernel as single precision (looser defaults) even if its signature is all f64 (e.g. it demotes inside). */
  f32?: boolean;
  /** Seed of the random tangent; by default derived from the kernel name and the arguments. */
  seed?: number;
  /** Prefix of assertion messages. */
  label?: string;
}

export interface CheckResult {
  args: number[];
  primal: number;
  reverse: number[];
  fd: number[];
  tangent: number[];
  forward: number;
  fdDirectional: number;
}

function hashOf(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Checks a kernel whose parameters are all float scalars (f32/f64) and whose result is a
 * float, at `args`: reverse gradient (Active for every arg) ≈ FD gradient, forward
 * directional derivative (Duplicated for every arg, random tangent) ≈ FD directional
 * derivative, forward ≈ <reverse, tangent>, and both WithPrimal primals are exactly
 * (Object.is) k.call(...args). Arguments of f32 parameters are rounded to f32 first.
 */
export async function checkScalarKernel(program: Program, name: string, args: number[], opts: CheckOptions = {}): Promise<CheckResult> {
  const k = program.kernel(name);
  const { params, results } = k.fn;
  if (!params.every((p) => p === "f32" || p === "f64")) throw new Error(`checkScalarKernel: ${name} has non-float parameters (${params.join(", ")})`);
  if (results.length !== 1 || (results[0] !== "f32" && results[0] !== "f64")) throw new Error(`checkScalarKernel: ${name} must return one float`);
  if (args.length !== params.length) throw new Error(`checkScalarKernel: ${name} takes ${params.length} arguments, got ${args.length}`);
  const single = opts.f32 ?? [...params, ...results].some((t) => t === "f32");
  const tol = opts.tol ?? (single ? 2e-3 : 1e-6);
  const dotTol = opts.dotTol ?? (single ? 1e-4 : 1e-9);
  const h = opts.h ?? (single ? 2 ** -7 : 2 ** -10);
  const label = `${opts.label ?? name}(${args.join(", ")})`;
  const x = args.map((a, i) => (params[i] === "f32" ? Math.fround(a) : a));
  const call = (xs: number[]) => k.call(...xs) as number;

  // the tangent: in f32 a multiple of 1/8, so that x + h·v stays exact
  const r = rng(opts.seed ?? hashOf(`${name}|${x.join(",")}`));
  const v = params.map((p) => {
    const s = r() < 0.5 ? -1 : 1;
    return p === "f32" ? (s * (1 + Math.floor(r() * 8))) / 8 : s * (0.25 + 0.75 * r());
  });

  const primal = call(x);
  const rev = await autodiff(ReverseWithPrimal, k, ...x.map((xi) => Active(xi)));
  const fwd = await autodiff(ForwardWithPrimal, k, ...x.map((xi, i) => Duplicated(xi, v[i])));
  expect(Object.is(rev.primal, primal), `${label}: ReverseWithPrimal primal ${rev.primal} vs call ${primal}`).toBe(true);
  expect(Object.is(fwd.primal, primal), `${label}: ForwardWithPrimal primal ${fwd.primal} vs call ${primal}`).toBe(true);

  const reverse = rev.derivs.map((d) => d as number);
  const fd = x.map((_, i) => richardsonFD((e) => call(x.map((xj, j) => (j === i ? xj + e : xj))), h));
  const forward = fwd.tangent as number;
  const fdDirectional = richardsonFD((e) => call(x.map((xj, j) => xj + e * v[j])), h);
  const dot = reverse.reduce((s, g, i) => s + g * v[i], 0);

  fd.forEach((f, i) => {
    expect(Number.isFinite(f), `${label}: FD derivative of arg ${i} is ${f}; choose a point inside the domain`).toBe(true);
    expect(relErr(reverse[i], f), `${label}: d/d arg ${i}: reverse ${reverse[i]} vs FD ${f}`).toBeLessThanOrEqual(tol);
  });
  expect(relErr(forward, fdDirectional), `${label}: forward ${forward} vs FD ${fdDirectional} along [${v.join(", ")}]`).toBeLessThanOrEqual(tol);
  expect(relErr(forward, dot), `${label}: forward ${forward} vs <reverse, tangent> ${dot} along [${v.join(", ")}]`).toBeLessThanOrEqual(dotTol);
  return { args: x, primal, reverse, fd, tangent: v, forward, fdDirectional };
}
