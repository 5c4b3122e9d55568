// Tiered compilation (optimize: "tiered", the default): a derivative runs unoptimized at
// first and is optimized with the "fast" pass list once its calls have taken as long as its
// first compile; results are bit-identical across the tiers (determinism.test.ts checks more
// kernels), and run-time stops still name their cause after the swap.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ArgumentError, Const, Duplicated, Forward, Program, Reverse, UnsupportedError, autodiff } from "../../src/index.js";

// Σ 100 (x[i+1] − x[i]²)² + (1 − x[i])²
const rosenbrock = `(module (memory (export "memory") 1)
  (func (export "f") (param $x i32) (param $n i32) (result f64) (local $i i32) (local $s f64) (local $a f64) (local $t f64)
    (block $done (loop $next
      (br_if $done (i32.ge_s (i32.add (local.get $i) (i32.const 1)) (local.get $n)))
      (local.set $a (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $t (f64.sub (f64.load offset=8 (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))) (f64.mul (local.get $a) (local.get $a))))
      (local.set $s (f64.add (local.get $s) (f64.add (f64.mul (f64.const 100) (f64.mul (local.get $t) (local.get $t)))
        (f64.mul (f64.sub (f64.const 1) (local.get $a)) (f64.sub (f64.const 1) (local.get $a))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $s)))`;

const n = 20000;
const x0 = Float64Array.from({ length: n }, (_, i) => Math.sin(0.37 * i) * 1.2);
const exact = (x: Float64Array) => {
  const g = new Float64Array(x.length);
  for (let i = 0; i + 1 < x.length; i++) {
    const t = x[i + 1] - x[i] * x[i];
    g[i] += -400 * x[i] * t - 2 * (1 - x[i]);
    g[i + 1] += 200 * t;
  }
  return g;
};
const maxRel = (a: Float64Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i]))), 0);

describe("tiered compilation", () => {
  it("runs unoptimized first, is optimized once it has run as long as its compile took, and gives the same bits", async () => {
    const p = await Program.fromWat(rosenbrock);
    const k = p.kernel("f");
    const g1 = new Float64Array(n);
    const r1 = await autodiff(Reverse, k, Duplicated(x0.slice(), g1), Const(n));
    expect(maxRel(g1, exact(x0))).toBeLessThan(1e-13);
    const [d] = p.compiledDerivatives(k);
    expect(d.optimized).toBe(false);
    // the real path: call until the tier-up (each call is ~0.1 ms; the compile took r1.stats.compileMs)
    const started = performance.now();
    let calls = 0;
    while (!d.optimized && performance.now() - started < 20000) {
      await autodiff(Reverse, k, Duplicated(x0.slice(), new Float64Array(n)), Const(n));
      calls++;
    }
    expect(d.optimized).toBe(true);
    expect(calls).toBeGreaterThan(1);
    const g2 = new Float64Array(n);
    const r2 = await autodiff(Reverse, k, Duplicated(x0.slice(), g2), Const(n));
    expect(g2.every((v, i) => Object.is(v, g1[i]))).toBe(true);
    // the stats describe the first compile
    expect(r2.stats.compileMs).toBe(r1.stats.compileMs);
    expect(r2.stats.moduleBytes).toBe(r1.stats.moduleBytes);
    // forward mode tiers the same way
    const dir = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
    const t1 = (await autodiff(Forward, k, Duplicated(x0.slice(), dir.slice()), Const(n))).tangent!;
    expect(t1).toBeCloseTo(g1.reduce((s, v, i) => s + v * dir[i], 0), 6);
    const fw = p.compiledDerivatives(k).find((c) => c !== d)!;
    expect(fw.optimized).toBe(false);
    fw.ran(Infinity);
    expect((await autodiff(Forward, k, Duplicated(x0.slice(), dir.slice()), Const(n))).tangent).toBe(t1);
    expect(fw.optimized).toBe(true);
  });

  it('optimize: "fast" and levels compile optimized code at once, without timing calls', async () => {
    for (const optimize of ["fast", 0, 3] as const) {
      const p = await Program.fromWat(rosenbrock, { optimize });
      const k = p.kernel("f");
      const g = new Float64Array(n);
      await autodiff(Reverse, k, Duplicated(x0.slice(), g), Const(n));
      const [d] = p.compiledDerivatives(k);
      expect(d.optimized).toBe(true);
      expect(d.timed).toBe(false);
      expect(maxRel(g, exact(x0))).toBeLessThan(1e-13);
    }
  });

  it("a run-time stop in the optimized tier still names its cause, and the flag is cleared", async () => {
    const p = await Program.fromWat(readFileSync(new URL("../fixtures/bulk-memory/maybe-copy.wat", import.meta.url), "utf8"));
    const k = p.kernel("maybe");
    const x = Float64Array.of(1.5, -0.5);
    const run = (grow: number, g = new Float64Array(2)) => autodiff(Reverse, k, Duplicated(x.slice(), g), Duplicated(new Float64Array(2), new Float64Array(2)), grow);
    await run(0);
    for (const d of p.compiledDerivatives(k)) d.ran(Infinity);
    const g = new Float64Array(2);
    await run(0, g); // optimizes, then runs
    expect(p.compiledDerivatives(k).every((d) => d.optimized)).toBe(true);
    expect([...g]).toEqual([2 * 1.5 * -0.5, 1.5 * 1.5]);
    const err = await run(1).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/in function move: the call copied bytes/);
    const g2 = new Float64Array(2);
    await run(0, g2);
    expect([...g2]).toEqual([...g]);
  });

  it("an unknown optimize option is an ArgumentError, not silently unoptimized code", async () => {
    for (const optimize of ["O3", 5, -1, 1.5, null])
      await expect(Program.fromWat(rosenbrock, { optimize: optimize as never })).rejects.toThrow(ArgumentError);
    await expect(Program.fromWat(rosenbrock, { optimize: "fasst" as never })).rejects.toThrow(/options\.optimize must be "tiered" \(the default\), "fast" or a binaryen optimize level 0–4, got "fasst"/);
  });
});
