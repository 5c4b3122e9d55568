// memory.copy and memory.fill on buffers that have shadows, in both modes: a copy moves the
// shadow along (forward) and hands the adjoints back to the source (reverse), with the
// element type taken from the function's float accesses; a fill zeroes the shadow. A copy
// whose element type the function does not show stops the call at run time, in reverse mode,
// when it moves bytes (Rust's Vec at -O0 has such a copy on a path that does not run);
// overlapping regions trap.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Duplicated, Forward, Program, Reverse, ReverseWithPrimal, TrapError, UnsupportedError, autodiff } from "../../src/index.js";

const wat = `(module (memory (export "memory") 1)
  ;; y[0..n) = x[0..n); y[1] = 0 by a fill; returns Σ y[i]² · (i + 1)
  (func (export "copy") (param $x i32) (param $y i32) (param $n i32) (result f64) (local $i i32) (local $s f64)
    (memory.copy (local.get $y) (local.get $x) (i32.shl (local.get $n) (i32.const 3)))
    (memory.fill (i32.add (local.get $y) (i32.const 8)) (i32.const 0) (i32.const 8))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $s (f64.add (local.get $s) (f64.mul (f64.convert_i32_u (i32.add (local.get $i) (i32.const 1)))
        (f64.mul (f64.load (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 3))))
                 (f64.load (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 3))))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $s))
  ;; a copy and nothing else: the element type is not known here
  (func (export "blind") (param $x i32) (param $y i32) (param $n i32)
    (memory.copy (local.get $y) (local.get $x) (local.get $n)))
  ;; shifts x one element up within itself (overlapping), then reads it
  (func (export "shift") (param $x i32) (param $y i32) (param $n i32) (result f64)
    (memory.copy (i32.add (local.get $x) (i32.const 8)) (local.get $x) (i32.const 16))
    (f64.mul (f64.load offset=8 (local.get $x)) (f64.load offset=16 (local.get $x)))))`;

describe("bulk memory on shadowed buffers", () => {
  it("memory.copy and memory.fill: reverse exact, forward against reverse", async () => {
    const p = await Program.fromWat(wat);
    const k = p.kernel("copy");
    const x = Float64Array.of(0.5, -1.5, 2, 3), n = 4;
    const dx = new Float64Array(n), dy = new Float64Array(n);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Duplicated(new Float64Array(n), dy), n);
    expect(r.primal).toBe(0.25 + 0 + 3 * 4 + 4 * 9);
    expect([...dx]).toEqual([1, 0, 12, 24]); // y[1] was overwritten by the fill: no derivative flows to x[1]
    const t = Float64Array.of(1, 2, 3, 4), ty = new Float64Array(n);
    const fw = await autodiff(Forward, k, Duplicated(x.slice(), t.slice()), Duplicated(new Float64Array(n), ty), n);
    expect(fw.tangent).toBe(t.reduce((s, v, i) => s + v * dx[i], 0));
    expect([...ty]).toEqual([1, 0, 3, 4]); // the tangent of y: copied, then the fill's zero
  });

  it("a copy whose element type the function does not show stops a reverse call that moves bytes, naming it, and leaves the caller's arrays", async () => {
    const p = await Program.fromWat(wat);
    const x = Float64Array.of(1, 2), dx = Float64Array.of(5, 6), y = Float64Array.of(7, 8), dy = Float64Array.of(1, 1);
    const err = await autodiff(Reverse, p.kernel("blind"), Duplicated(x, dx), Duplicated(y, dy), 16).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/memory\.copy \(or memcpy\/memmove\) in function 1: the call copied bytes .*neither only f64 nor only f32.*left unchanged/);
    expect([...x, ...dx, ...y, ...dy]).toEqual([1, 2, 5, 6, 7, 8, 1, 1]);
    // forward mode carries the bytes of any copy
    const ty = new Float64Array(2);
    await autodiff(Forward, p.kernel("blind"), Duplicated(Float64Array.of(1, 2), Float64Array.of(0.5, -1)), Duplicated(new Float64Array(2), ty), 16);
    expect([...ty]).toEqual([0.5, -1]);
  });

  it("where such a copy does not run, the reverse call is exact (finite differences, forward mode), and the same kernel stops when it does", async () => {
    const p = await Program.fromWat(readFileSync(new URL("../fixtures/bulk-memory/maybe-copy.wat", import.meta.url), "utf8"));
    const k = p.kernel("maybe");
    const x0 = Float64Array.of(1.5, -0.5);
    const f = (x: Float64Array) => k.call(x, new Float64Array(2), 0) as number;
    const g = new Float64Array(2);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x0.slice(), g), Duplicated(new Float64Array(2), new Float64Array(2)), 0);
    expect(r.primal).toBe(f(x0.slice()));
    for (let i = 0; i < 2; i++) {
      const h = 1e-6, a = x0.slice(), b = x0.slice(); a[i] += h; b[i] -= h;
      expect(Math.abs(g[i] - (f(a) - f(b)) / (2 * h))).toBeLessThan(1e-6);
    }
    expect([...g]).toEqual([2 * 1.5 * -0.5, 1.5 * 1.5]);
    const fw = await autodiff(Forward, k, Duplicated(x0.slice(), Float64Array.of(1, 2)), Duplicated(new Float64Array(2), new Float64Array(2)), 0);
    expect(fw.tangent).toBeCloseTo(g[0] + 2 * g[1], 12);
    const err = await autodiff(Reverse, k, Duplicated(x0.slice(), new Float64Array(2)), Duplicated(new Float64Array(2), new Float64Array(2)), 1).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/in function move: the call copied bytes/);
    // the flag was cleared: the next call that does not copy is exact again
    const g2 = new Float64Array(2);
    await autodiff(Reverse, k, Duplicated(x0.slice(), g2), Duplicated(new Float64Array(2), new Float64Array(2)), 0);
    expect([...g2]).toEqual([...g]);
  });

  it("overlapping regions (memmove within one buffer) trap in reverse mode rather than guess", async () => {
    const p = await Program.fromWat(wat);
    const err = await autodiff(Reverse, p.kernel("shift"), Duplicated(Float64Array.of(1, 2, 3), new Float64Array(3)), Duplicated(new Float64Array(1), new Float64Array(1)), 0).catch((e) => e);
    expect(err).toBeInstanceOf(TrapError);
  });
});
