// Addresses built from loaded indices (x[idx[i]]), directly and through a callee, and
// pointers loaded from memory: correct derivatives or a refusal, never a silent zero.
import { describe, expect, it } from "vitest";
import { Const, Duplicated, Forward, Program, Reverse, TrapError, UnsupportedError, autodiff } from "../../src/index.js";

const wat = `(module (memory (export "memory") 1)
  (func $sq (param $p i32) (result f64) (f64.mul (f64.load (local.get $p)) (f64.load (local.get $p))))
  ;; sum_i x[idx[i]]^2 through a helper
  (func (export "g") (param $x i32) (param $idx i32) (param $n i32) (result f64)
    (local $i i32) (local $s f64)
    (block $d (loop $l (br_if $d (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $s (f64.add (local.get $s)
        (call $sq (i32.add (local.get $x) (i32.shl (i32.load (i32.add (local.get $idx) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 3))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
    (local.get $s))
  ;; a pointer read from memory, dereferenced in a callee
  (func (export "h") (param $cell i32) (result f64) (call $sq (i32.load (local.get $cell)))))`;

describe("gathers and loaded pointers", () => {
  it("x[idx[i]] through a callee: reverse and forward are exact", async () => {
    const p = await Program.fromWat(wat);
    const k = p.kernel("g");
    const x = Float64Array.of(1, 2, 3), idx = Int32Array.of(2, 0, 2);
    const dx = new Float64Array(3);
    await autodiff(Reverse, k, Duplicated(x.slice(), dx), Const(idx), Const(3));
    expect(Array.from(dx)).toEqual([2, 0, 12]);
    const tx = Float64Array.of(1, 1, 1);
    const f = await autodiff(Forward, k, Duplicated(x.slice(), tx), Const(idx), Const(3));
    expect(f.tangent).toBe(14);
  });
  it("a pointer loaded from a buffer the caller filled (whose shadow holds no shadow pointer) stops the call, not differentiated as zero", async () => {
    // the shadow word beside the pointer is what the caller passed (0: no shadow pointer), so
    // the shadow access through it traps (memory-pointers.ts), in both modes
    const p = await Program.fromWat(wat);
    const k = p.kernel("h");
    for (const mode of [Reverse, Forward]) {
      const cell = Uint32Array.of(8), shadow = new Uint32Array(1);
      const err = await autodiff(mode, k, Duplicated(cell, shadow)).catch((e) => e);
      expect(err).toBeInstanceOf(TrapError);
      expect(err.message).toMatch(/pointer without a shadow/);
      expect([...cell, ...shadow]).toEqual([8, 0]);
    }
  });
});

describe("pointers kept in globals", () => {
  it("a pointer into an argument buffer stored in a global is refused, not treated as module memory", async () => {
    const p = await Program.fromWat(`(module (memory (export "memory") 1) (global $p (mut i32) (i32.const 0))
      (func $get (result f64) (f64.mul (f64.load (global.get $p)) (f64.load (global.get $p))))
      (func (export "k") (param $x i32) (result f64) (global.set $p (local.get $x)) (call $get)))`);
    const k = p.kernel("k");
    await expect(autodiff(Reverse, k, Duplicated(Float64Array.of(3), new Float64Array(1)))).rejects.toThrow(/global/);
    await expect(autodiff(Forward, k, Duplicated(Float64Array.of(3), new Float64Array(1)))).rejects.toThrow(UnsupportedError);
    expect(k.call(Float64Array.of(3))).toBe(9);
  });
});
