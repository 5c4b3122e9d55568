// One parameterised test per row of every derivative rule table (float arithmetic, precision
// conversions, Math intrinsics), in f64 and f32. The rows are read from the tables
// themselves, so a new row is tested automatically (with a generic kernel and a default
// domain in (0.3, 0.9) until it gets an entry in the domain tables below).
//
// Each op is wrapped in a small nonlinear context, z = u (w + u²/4) + (v w)/2 (v an input) with w > 0,
// so dz/du = w + 3u²/4 > 0 and a wrong partial of u can never cancel out. Points are
// drawn (deterministically: fast-check with a fixed seed) inside the op's smooth domain,
// away from kinks and jumps by more than any FD step.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Active, autodiff, Duplicated, Forward, Program, Reverse } from "../../src/index.js";
import { convertRules, floatBinaryRules, floatUnaryRules } from "../../src/ad/rules/float-arith.js";
import { mathRules } from "../../src/ad/rules/math.js";
import { checkScalarKernel, relErr, richardsonFD, rng, type CheckOptions } from "../helpers/check.js";

type T = "f32" | "f64";
const PRECISIONS: T[] = ["f64", "f32"];
const RUNS = { seed: 42, numRuns: 20 };
const TIMEOUT = 60_000;

// ---- domains ------------------------------------------------------------------------

const U = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
/** |v| in [lo, hi], either sign. */
const pm = (lo: number, hi: number) => fc.tuple(U(lo, hi), fc.boolean()).map(([v, s]) => (s ? v : -v));
/** Away from integers and half-integers (the jumps of floor, ceil, trunc, nearest, round) by ≥ 0.1. */
const offGrid = fc.tuple(fc.integer({ min: -3, max: 3 }), U(0.1, 0.4), fc.boolean()).map(([n, f, up]) => n + (up ? 1 - f : f));
/** Pairs at least `gap` apart (the kink of min/max). */
const apart = (lo: number, hi: number, gap: number) => fc.tuple(U(lo, hi), U(lo, hi)).filter(([a, b]) => Math.abs(a - b) > gap);
const one = (a: fc.Arbitrary<number>) => a.map((v) => [v]);
const WEIGHT = U(0.5, 1.5);
const defaultDomain = (arity: number) => fc.tuple(...Array.from({ length: arity }, () => U(0.3, 0.9)));

/** Domains of the float unary ops, on the op's operand a = 1.25 x. */
const unaryDomains: Record<string, fc.Arbitrary<number>> = {
  abs: pm(0.1, 3), neg: U(-3, 3), sqrt: U(0.1, 4),
  ceil: offGrid, floor: offGrid, trunc: offGrid, nearest: offGrid,
};
/** Domains of the float binary ops, on the operands (a, b) = (1.25 x, y - 0.25). */
const binaryDomains: Record<string, fc.Arbitrary<number[]>> = {
  add: fc.tuple(U(-3, 3), U(-3, 3)), sub: fc.tuple(U(-3, 3), U(-3, 3)), mul: fc.tuple(U(-3, 3), U(-3, 3)),
  div: fc.tuple(U(-3, 3), pm(0.3, 3)),
  min: apart(-3, 3, 0.1), max: apart(-3, 3, 0.1),
  copysign: fc.tuple(pm(0.1, 3), pm(0.1, 3)),
};
/** Domains of OP(a, a) with a = 1.25 x (one operand, used twice: the partials must add up). */
const sameOperandDomain = pm(0.25, 3);

/** Domains of the Math intrinsics, on their arguments. */
const mathDomains: Record<string, fc.Arbitrary<number[]>> = {
  exp: one(U(-2, 2)), expm1: one(U(-2, 2)),
  log: one(U(0.2, 3)), log1p: one(U(-0.8, 3)), log2: one(U(0.2, 3)), log10: one(U(0.2, 3)),
  sqrt: one(U(0.1, 3)), cbrt: one(pm(0.2, 3)),
  sin: one(U(-3, 3)), cos: one(U(-3, 3)), tan: one(U(-1.3, 1.3)),
  asin: one(U(-0.9, 0.9)), acos: one(U(-0.9, 0.9)), atan: one(U(-3, 3)),
  sinh: one(U(-2, 2)), cosh: one(U(-2, 2)), tanh: one(U(-2, 2)),
  asinh: one(U(-3, 3)), acosh: one(U(1.1, 3)), atanh: one(U(-0.9, 0.9)),
  // atan2(y, x): away from the origin and from the branch cut (y = 0, x < 0)
  atan2: fc.tuple(pm(0.2, 2), U(-2, 2)),
  hypot: fc.tuple(pm(0.2, 2), U(-2, 2)),
  pow: fc.tuple(U(0.2, 3), U(-2, 3)),
  min: apart(-3, 3, 0.1), max: apart(-3, 3, 0.1),
  abs: one(pm(0.1, 3)), sign: one(pm(0.1, 3)),
  floor: one(offGrid), ceil: one(offGrid), round: one(offGrid), trunc: one(offGrid),
  fround: one(U(-3, 3)),
};
/** Domains of f(a, a, ...) for intrinsics of arity ≥ 2 (one value in every operand: the partials must add up). */
const mathSameDomains: Record<string, fc.Arbitrary<number>> = {
  atan2: pm(0.2, 2), hypot: pm(0.2, 2), pow: U(0.2, 3), min: U(-3, 3), max: U(-3, 3),
};
/** Per-row options: fround's value is piecewise constant at f32 resolution, so an f64 FD needs a larger step (the context is cubic, FD is exact for it). */
const mathOptions: Record<string, Partial<Record<T, CheckOptions>>> = {
  fround: { f64: { h: 1 / 16, tol: 1e-4 } },
};

// ---- kernels --------------------------------------------------------------------------

/** z = u (w + u²/4) + (x w)/2, in type t; `x` is an expression of type t. */
const context = (t: T, x: string) => `
    (${t}.add
      (${t}.mul (local.get $u) (${t}.add (local.get $w) (${t}.mul (${t}.const 0.25) (${t}.mul (local.get $u) (local.get $u)))))
      (${t}.mul (${t}.const 0.5) (${t}.mul ${x} (local.get $w))))`;

const unaryKernel = (op: string, t: T) => `(module
  (func (export "k") (param $x ${t}) (param $w ${t}) (result ${t}) (local $u ${t})
    (local.set $u (${t}.${op} (${t}.mul (local.get $x) (${t}.const 1.25))))
    ${context(t, "(local.get $x)")}))`;

const binaryKernel = (op: string, t: T) => `(module
  (func (export "k") (param $x ${t}) (param $y ${t}) (param $w ${t}) (result ${t}) (local $u ${t})
    (local.set $u (${t}.${op} (${t}.mul (local.get $x) (${t}.const 1.25)) (${t}.sub (local.get $y) (${t}.const 0.25))))
    ${context(t, "(local.get $y)")})
  (func (export "same") (param $x ${t}) (param $w ${t}) (result ${t}) (local $u ${t}) (local $a ${t})
    (local.set $a (${t}.mul (local.get $x) (${t}.const 1.25)))
    (local.set $u (${t}.${op} (local.get $a) (local.get $a)))
    ${context(t, "(local.get $x)")}))`;

/** A conversion `dst.name_src`: z in dst of u = convert(x (x + 1.25)) and of convert(x). */
const convertKernel = (key: string, src: T, dst: T) => `(module
  (func (export "k") (param $x ${src}) (param $w ${dst}) (result ${dst}) (local $u ${dst})
    (local.set $u (${key} (${src}.mul (local.get $x) (${src}.add (local.get $x) (${src}.const 1.25)))))
    ${context(dst, `(${key} (local.get $x))`)}))`;

/** Both conversions in one kernel: f64 → f32 arithmetic → f64. */
const mixedKernel = `(module
  (func (export "k") (param $x f64) (param $y f32) (result f64) (local $s f32) (local $d f64)
    (local.set $s (f32.mul (f32.demote_f64 (f64.mul (local.get $x) (local.get $x))) (local.get $y)))
    (local.set $d (f64.mul (f64.promote_f32 (f32.add (local.get $s) (local.get $y))) (local.get $x)))
    (f64.add (local.get $d) (f64.mul (f64.promote_f32 (local.get $s)) (f64.promote_f32 (local.get $s))))))`;

const params = (t: T, n: number) => Array.from({ length: n }, (_, i) => `(param $a${i} ${t})`).join(" ");
const gets = (n: number) => Array.from({ length: n }, (_, i) => `(local.get $a${i})`).join(" ");
const importMath = (name: string, t: T, n: number) =>
  `(import "Math" "${name}" (func $f ${Array.from({ length: n }, () => `(param ${t})`).join(" ")} (result ${t})))`;

const mathKernel = (name: string, t: T, n: number) => `(module
  ${importMath(name, t, n)}
  (func (export "k") ${params(t, n)} (param $w ${t}) (result ${t}) (local $u ${t})
    (local.set $u (call $f ${gets(n)}))
    ${context(t, "(local.get $a0)")})
  (func (export "same") (param $a0 ${t}) (param $w ${t}) (result ${t}) (local $u ${t})
    (local.set $u (call $f ${Array.from({ length: n }, () => "(local.get $a0)").join(" ")}))
    ${context(t, "(local.get $a0)")}))`;

/** The bare intrinsic, for the finiteness checks. */
const bareMathKernel = (name: string, n: number) => `(module
  ${importMath(name, "f64", n)}
  (func (export "k") ${params("f64", n)} (result f64) (call $f ${gets(n)})))`;

// ---- the helpers themselves -----------------------------------------------------------

describe("test helpers", () => {
  it("richardsonFD is O(h^4) accurate and relErr has an absolute floor", () => {
    const d = richardsonFD((h) => Math.exp(1.3 + h), 2 ** -6);
    expect(Math.abs(d - Math.exp(1.3))).toBeLessThan(1e-9);
    expect(relErr(1e-12, 2e-12)).toBe(1e-12);
    expect(relErr(100, 101)).toBeCloseTo(1 / 101, 15);
  });
  it("rng is deterministic and uniform in [0, 1)", () => {
    const a = rng(7), b = rng(7);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5)).toBeLessThan(0.05);
  });
});

// ---- float arithmetic -----------------------------------------------------------------

describe("float unary rules (floatUnaryRules)", () => {
  for (const op of Object.keys(floatUnaryRules))
    for (const t of PRECISIONS)
      it(`${t}.${op}`, async () => {
        const program = await Program.fromWat(unaryKernel(op, t));
        const domain = unaryDomains[op] ?? U(0.3, 0.9);
        await fc.assert(fc.asyncProperty(domain, WEIGHT, async (a, w) => {
          await checkScalarKernel(program, "k", [a / 1.25, w], { label: `${t}.${op}` });
        }), RUNS);
      }, TIMEOUT);
});

describe("float binary rules (floatBinaryRules)", () => {
  for (const op of Object.keys(floatBinaryRules))
    for (const t of PRECISIONS)
      it(`${t}.${op}`, async () => {
        const program = await Program.fromWat(binaryKernel(op, t));
        const domain = binaryDomains[op] ?? fc.tuple(U(0.3, 0.9), U(0.3, 0.9));
        await fc.assert(fc.asyncProperty(domain, WEIGHT, async ([a, b], w) => {
          await checkScalarKernel(program, "k", [a / 1.25, b + 0.25, w], { label: `${t}.${op}(a, b)` });
        }), RUNS);
        await fc.assert(fc.asyncProperty(sameOperandDomain, WEIGHT, async (a, w) => {
          await checkScalarKernel(program, "same", [a / 1.25, w], { label: `${t}.${op}(a, a)` });
        }), RUNS);
      }, TIMEOUT);
});

describe("precision conversion rules (convertRules)", () => {
  for (const key of Object.keys(convertRules))
    it(key, async () => {
      const m = /^(f32|f64)\.\w+_(f32|f64)$/.exec(key);
      expect(m, `conversion ${key} is not of the form dst.name_src`).not.toBeNull();
      const [dst, src] = [m![1] as T, m![2] as T];
      const program = await Program.fromWat(convertKernel(key, src, dst));
      await fc.assert(fc.asyncProperty(U(-2, 2), WEIGHT, async (x, w) => {
        // precision is lost on the way, so FD is single precision even for f64 → f64 paths
        await checkScalarKernel(program, "k", [x, w], { label: key, f32: true });
      }), RUNS);
    }, TIMEOUT);

  it("f64.promote_f32 and f32.demote_f64 in one kernel", async () => {
    const program = await Program.fromWat(mixedKernel);
    await fc.assert(fc.asyncProperty(U(-2, 2), U(-2, 2), async (x, y) => {
      await checkScalarKernel(program, "k", [x, y], { label: "mixed" });
    }), RUNS);
  }, TIMEOUT);
});

// ---- Math intrinsics ------------------------------------------------------------------

describe("Math intrinsic rules (mathRules)", () => {
  for (const [name, rule] of Object.entries(mathRules))
    for (const t of PRECISIONS)
      it(`Math.${name} (${t})`, async () => {
        const domain = mathDomains[name] ?? defaultDomain(rule.arity);
        const program = await Program.fromWat(mathKernel(name, t, rule.arity));
        await fc.assert(fc.asyncProperty(domain, WEIGHT, async (args, w) => {
          expect(args.length, `domain of Math.${name} has the rule's arity`).toBe(rule.arity);
          await checkScalarKernel(program, "k", [...args, w], { label: `Math.${name}/${t}`, ...mathOptions[name]?.[t] });
        }), RUNS);
        if (rule.arity >= 2)
          await fc.assert(fc.asyncProperty(mathSameDomains[name] ?? U(0.3, 0.9), WEIGHT, async (a, w) => {
            await checkScalarKernel(program, "same", [a, w], { label: `Math.${name}/${t}(a, a)`, ...mathOptions[name]?.[t] });
          }), RUNS);
      }, TIMEOUT);
});

/**
 * Points where the intrinsic's derivative must be finite: kinks and jumps (where the
 * rules take a subgradient or zero), ties, boundary-like points of pow, and
 * tiny/huge arguments whose true derivative is representable. `expect` gives the
 * partials where they are determined (null: only required finite).
 */
const finitePoints: Record<string, { at: number[]; expect?: (number | null)[] }[]> = {
  exp: [{ at: [0], expect: [1] }, { at: [700] }, { at: [-700] }],
  expm1: [{ at: [0], expect: [1] }, { at: [1e-300], expect: [1] }],
  log: [{ at: [1], expect: [1] }, { at: [1e-300], expect: [1e300] }, { at: [1e300], expect: [1e-300] }],
  log1p: [{ at: [0], expect: [1] }, { at: [1e-300], expect: [1] }],
  log2: [{ at: [1], expect: [1 / Math.LN2] }, { at: [1e300] }],
  log10: [{ at: [1], expect: [1 / Math.LN10] }, { at: [1e300] }],
  sqrt: [{ at: [4], expect: [0.25] }, { at: [1e-300] }, { at: [1e300] }],
  cbrt: [{ at: [8], expect: [1 / 12] }, { at: [-8], expect: [1 / 12] }, { at: [1e-300] }],
  sin: [{ at: [0], expect: [1] }, { at: [1e10] }],
  cos: [{ at: [0], expect: [-0] }, { at: [1e10] }],
  tan: [{ at: [0], expect: [1] }],
  asin: [{ at: [0], expect: [1] }, { at: [0.999] }, { at: [-0.999] }],
  acos: [{ at: [0], expect: [-1] }, { at: [0.999] }, { at: [-0.999] }],
  atan: [{ at: [0], expect: [1] }, { at: [1e200] }, { at: [-1e200] }],
  sinh: [{ at: [0], expect: [1] }, { at: [700] }],
  cosh: [{ at: [0], expect: [0] }, { at: [-700] }],
  tanh: [{ at: [0], expect: [1] }, { at: [30] }, { at: [-30] }],
  asinh: [{ at: [0], expect: [1] }, { at: [1e200] }, { at: [-1e200] }],
  acosh: [{ at: [2], expect: [1 / Math.sqrt(3)] }, { at: [1e200] }],
  atanh: [{ at: [0], expect: [1] }, { at: [0.999] }, { at: [-0.999] }],
  atan2: [{ at: [0, 1], expect: [1, 0] }, { at: [1, 0], expect: [0, -1] }, { at: [-1, -1], expect: [-0.5, 0.5] },
    { at: [1e200, 1e200] }, { at: [1e-200, 1e-200], expect: [5e199, -5e199] }],
  hypot: [{ at: [0, 1], expect: [0, 1] }, { at: [3, -4], expect: [0.6, -0.8] },
    { at: [1e200, 1e200], expect: [Math.SQRT1_2, Math.SQRT1_2] }, { at: [1e-200, 1e-200], expect: [Math.SQRT1_2, Math.SQRT1_2] }],
  pow: [{ at: [2, 3], expect: [12, 8 * Math.LN2] }, { at: [0, 2], expect: [0, 0] }, { at: [-2, 3], expect: [12, 0] },
    { at: [2, 0], expect: [0, Math.LN2] }, { at: [0, 1], expect: [1, 0] }, { at: [1, 0.5], expect: [0.5, 0] },
    // x^0 = 1 for every x: d/dx = 0 at x = 0 too (d/dy is only required finite there)
    { at: [0, 0], expect: [0, null] }, { at: [-2, 0], expect: [0, null] }],
  min: [{ at: [1, 1] }, { at: [1, 2], expect: [1, 0] }, { at: [2, 1], expect: [0, 1] }],
  max: [{ at: [1, 1] }, { at: [1, 2], expect: [0, 1] }, { at: [2, 1], expect: [1, 0] }],
  abs: [{ at: [0] }, { at: [-0] }, { at: [-3], expect: [-1] }, { at: [3], expect: [1] }],
  floor: [{ at: [2] }, { at: [-1] }, { at: [0.5], expect: [0] }],
  ceil: [{ at: [2] }, { at: [-1] }, { at: [0.5], expect: [0] }],
  round: [{ at: [0.5] }, { at: [-2.5] }, { at: [2] }, { at: [0.25], expect: [0] }],
  trunc: [{ at: [2] }, { at: [-1] }, { at: [0.5], expect: [0] }],
  sign: [{ at: [0] }, { at: [-0] }, { at: [2], expect: [0] }],
  fround: [{ at: [1], expect: [1] }, { at: [0.1], expect: [1] }],
};

describe("Math intrinsic derivatives are finite where expected", () => {
  for (const [name, rule] of Object.entries(mathRules))
    it(`Math.${name}`, async () => {
      const n = rule.arity;
      const program = await Program.fromWat(bareMathKernel(name, n));
      const k = program.kernel("k");
      const sampled = fc.sample(mathDomains[name] ?? defaultDomain(n), { seed: 42, numRuns: 5 }).map((at) => ({ at, expect: undefined }));
      for (const { at, expect: want } of [...(finitePoints[name] ?? []), ...sampled]) {
        const where = `Math.${name}(${at.join(", ")})`;
        expect(at.length, `${where}: arity`).toBe(n);
        const r = await autodiff(Reverse, k, ...at.map((a) => Active(a)));
        for (let i = 0; i < n; i++) {
          const f = await autodiff(Forward, k, ...at.map((a, j) => Duplicated(a, i === j ? 1 : 0)));
          const rev = r.derivs[i] as number, fwd = f.tangent as number;
          expect.soft(Number.isFinite(rev), `${where}: reverse d/d arg ${i} = ${rev}`).toBe(true);
          expect.soft(Number.isFinite(fwd), `${where}: forward d/d arg ${i} = ${fwd}`).toBe(true);
          expect.soft(relErr(fwd, rev), `${where}: forward ${fwd} vs reverse ${rev} for arg ${i}`).toBeLessThanOrEqual(1e-12);
          const w = want?.[i];
          if (w != null) {
            expect.soft(relErr(rev, w) <= 1e-12 || Math.abs(rev - w) <= 1e-12 * Math.abs(w),
              `${where}: d/d arg ${i} = ${rev}, expected ${w}`).toBe(true);
          }
        }
      }
    }, TIMEOUT);
});
