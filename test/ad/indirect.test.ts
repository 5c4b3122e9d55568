// Differentiating through call_indirect: targets recorded in reverse mode, forward and
// reverse versions of every table entry of the call's type, checked against finite differences.
import { describe, expect, it } from "vitest";
import { Active, Const, Duplicated, ForwardWithPrimal, Program, ReverseWithPrimal, autodiff } from "../../src/index.js";

const wat = `(module
  (memory (export "memory") 1)
  (type $unop (func (param f64) (result f64)))
  (table 4 funcref)
  (elem (i32.const 0) $sq $cube $scaled $sq)
  (func $sq (param $x f64) (result f64) (f64.mul (local.get $x) (local.get $x)))
  (func $cube (param $x f64) (result f64) (f64.mul (local.get $x) (f64.mul (local.get $x) (local.get $x))))
  (func $scaled (param $x f64) (result f64) (f64.mul (f64.const 2.5) (call $sq (local.get $x))))
  ;; sum_i f_{ops[i] % 4}(x[i] * a): which function runs depends on integer data
  (func (export "apply") (param $x i32) (param $ops i32) (param $n i32) (param $a f64) (result f64)
    (local $i i32) (local $s f64)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $s (f64.add (local.get $s)
        (call_indirect (type $unop)
          (f64.mul (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))) (local.get $a))
          (i32.rem_u (i32.load (i32.add (local.get $ops) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 4)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $s)))`;

describe("call_indirect on the active path", () => {
  it("reverse and forward match finite differences and each other", async () => {
    const program = await Program.fromWat(wat);
    const k = program.kernel("apply");
    const n = 9;
    const x = Float64Array.from({ length: n }, (_, i) => Math.cos(i) * 0.8);
    const ops = Int32Array.from({ length: n }, (_, i) => (i * 7) % 5);
    const a = 1.3;
    const f = (xx: Float64Array, aa: number) => k.call(xx.slice(), ops.slice(), n, aa) as number;
    const h = 1e-5;
    const dx = new Float64Array(n);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Const(ops.slice()), Const(n), Active(a));
    expect(r.primal).toBe(f(x, a));
    const fdA = (f(x, a + h) - f(x, a - h)) / (2 * h);
    expect(r.derivs[3]).toBeCloseTo(fdA, 6);
    for (let i = 0; i < n; i++) {
      const xp = x.slice(), xm = x.slice();
      xp[i] += h; xm[i] -= h;
      expect(dx[i]).toBeCloseTo((f(xp, a) - f(xm, a)) / (2 * h), 6);
    }
    // forward along (tx, ta) equals <gradient, (tx, ta)>
    const tx = Float64Array.from({ length: n }, (_, i) => Math.sin(3 * i));
    const fw = await autodiff(ForwardWithPrimal, k, Duplicated(x.slice(), tx.slice()), Const(ops.slice()), Const(n), Duplicated(a, 0.7));
    const dot = tx.reduce((s, v, i) => s + v * dx[i], 0.7 * r.derivs[3]!);
    expect(Math.abs(fw.tangent! - dot) / Math.max(1, Math.abs(dot))).toBeLessThan(1e-9);
    expect(r.stats.tapeBytes).toBeGreaterThanOrEqual(4 * n);
  });
});

const chained = `(module
  (memory (export "memory") 1)
  ;; step(x, c) = a few rounds of x <- x - 0.1 * (x*x - c): the callee's loop records on the tape
  (func $step (param $x f64) (param $c f64) (result f64)
    (local $k i32)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $k) (i32.const 3)))
      (local.set $x (f64.sub (local.get $x) (f64.mul (f64.const 0.1) (f64.sub (f64.mul (local.get $x) (local.get $x)) (local.get $c)))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $next)))
    (local.get $x))
  ;; x is overwritten by the call's result every iteration, so its old value is recorded around the call
  (func (export "chain") (param $x f64) (param $c f64) (param $n i32) (result f64)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $x (call $step (f64.mul (local.get $x) (local.get $x)) (local.get $c)))
      (local.set $x (f64.mul (local.get $x) (f64.const 0.9)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $x)))`;

describe("calls whose result overwrites an argument, inside a loop", () => {
  it("restores the overwritten local around the callee's own tape entries", async () => {
    const program = await Program.fromWat(chained);
    const k = program.kernel("chain");
    const f = (x: number, c: number) => k.call(x, c, 5) as number;
    const r = await autodiff(ReverseWithPrimal, k, Active(0.7), Active(0.4), Const(5));
    const h = 1e-6;
    expect(r.primal).toBe(f(0.7, 0.4));
    expect(r.derivs[0]).toBeCloseTo((f(0.7 + h, 0.4) - f(0.7 - h, 0.4)) / (2 * h), 6);
    expect(r.derivs[1]).toBeCloseTo((f(0.7, 0.4 + h) - f(0.7, 0.4 - h)) / (2 * h), 6);
    const fw = await autodiff(ForwardWithPrimal, k, Duplicated(0.7, 1), Duplicated(0.4, -2), Const(5));
    expect(fw.tangent!).toBeCloseTo(r.derivs[0]! - 2 * r.derivs[1]!, 10);
  });
});
