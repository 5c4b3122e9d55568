// Bytes read or written as floats of two widths (a union of a double and two floats): a
// float's derivative lives in shadow bytes of its width, so an access that carries one over
// bytes reached at another width is refused, naming the function and the access; a copy in
// forward mode (the tangent's bits move unchanged) and a read only compared carry nothing
// and pass (src/ad/float-widths.ts).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Const, Duplicated, Forward, Program, Reverse, ReverseWithPrimal, UnsupportedError, autodiff } from "../../src/index.js";

const wat = `(module (memory (export "memory") 1)
  ;; p[1] = p[0]² (f32); the 8 bytes of p[0], p[1] copied as one f64 to p[2], p[3]; returns p[3]
  (func $copy_as_double (export "copy_as_double") (param $p i32) (result f32)
    (f32.store offset=4 (local.get $p) (f32.mul (f32.load (local.get $p)) (f32.load (local.get $p))))
    (f64.store offset=8 (local.get $p) (f64.load (local.get $p)))
    (f32.load offset=12 (local.get $p)))
  ;; p[1] = p[0]²; the 8 bytes read as a double only to test for NaN; returns p[1]
  (func $compared_as_double (export "compared_as_double") (param $p i32) (result f32)
    (f32.store offset=4 (local.get $p) (f32.mul (f32.load (local.get $p)) (f32.load (local.get $p))))
    (if (f64.ne (f64.load (local.get $p)) (f64.load (local.get $p))) (then (return (f32.const 0))))
    (f32.load offset=4 (local.get $p)))
  ;; the double's bits used in arithmetic beside its halves' floats
  (func $computed_as_double (export "computed_as_double") (param $p i32) (result f32)
    (f32.add (f32.demote_f64 (f64.load (local.get $p))) (f32.load offset=4 (local.get $p))))
  ;; a double and a float side by side: no byte in common
  (func $side_by_side (export "side_by_side") (param $p i32) (result f32)
    (f32.mul (f32.demote_f64 (f64.load (local.get $p))) (f32.load offset=8 (local.get $p))))
  ;; a helper reads the upper half of the double this function reads as a double
  (func $upper (param $q i32) (result f32) (f32.load offset=4 (local.get $q)))
  (func $half_in_callee (export "half_in_callee") (param $p i32) (result f32)
    (f32.mul (f32.demote_f64 (f64.load (local.get $p))) (call $upper (local.get $p)))))`;

const p0 = 0.75;
const buffer = () => Float32Array.of(p0, 0, 0, 0);

describe("floats of two widths over the same bytes", () => {
  it("a double copy of two floats: forward mode is exact, reverse mode refuses the copy", async () => {
    const k = (await Program.fromWat(wat)).kernel("copy_as_double");
    for (const t of [1, -2.5]) {
      const fw = await autodiff(Forward, k, Duplicated(buffer(), Float32Array.of(t, 0, 0, 0)));
      expect(fw.tangent).toBeCloseTo(2 * p0 * t, 6);
    }
    const err = await autodiff(Reverse, k, Duplicated(buffer(), new Float32Array(4))).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/^cannot differentiate \(f(32|64)\.(load|store) .* in function copy_as_double: the bytes it (reads|writes) in the memory parameter 0 points to are also reached as floats of another width or at another offset \(this function's (read|write) of an f(32|64) at offset (0|4|8|12)\).*forward mode, which copies such bytes exactly/);
  });

  it("a double read only compared carries nothing: both modes exact, and they agree", async () => {
    const k = (await Program.fromWat(wat)).kernel("compared_as_double");
    const dp = new Float32Array(4);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(buffer(), dp));
    expect(r.primal).toBeCloseTo(p0 * p0, 6);
    expect(dp[0]).toBeCloseTo(2 * p0, 6);
    const fw = await autodiff(Forward, k, Duplicated(buffer(), Float32Array.of(1, 0, 0, 0)));
    expect(fw.tangent).toBeCloseTo(dp[0], 6);
  });

  it.each(["computed_as_double", "half_in_callee"])("%s: refused in both modes, naming the double's read", async (name) => {
    const k = (await Program.fromWat(wat)).kernel(name);
    for (const mode of [Reverse, Forward]) {
      const err = await autodiff(mode, k, Duplicated(buffer(), new Float32Array(4))).catch((e) => e);
      expect(err).toBeInstanceOf(UnsupportedError);
      expect(err.message).toMatch(new RegExp(`^cannot differentiate \\(f(64|32)\\.load .* in function ${name}: the bytes it reads .* \\((this function's read|a callee's access) of an f(32|64) at offset [04]`));
    }
  });

  it("a double and a float in different bytes are differentiated as before (finite differences, both modes)", async () => {
    const k = (await Program.fromWat(wat)).kernel("side_by_side");
    const x = Float64Array.of(1.5, 0);
    new Float32Array(x.buffer)[2] = 2.25; // the float at byte 8
    const f = (v: number) => Math.fround(Math.fround(v) * 2.25);
    const dx = new Float64Array(2);
    await autodiff(Reverse, k, Duplicated(x.slice(), dx));
    expect(dx[0]).toBe(2.25);
    expect(dx[0]).toBeCloseTo((f(1.5 + 1e-3) - f(1.5 - 1e-3)) / 2e-3, 2);
    const fw = await autodiff(Forward, k, Duplicated(x.slice(), Float64Array.of(1, 0)));
    expect(fw.tangent).toBeCloseTo(dx[0], 6);
  });

  it("clang -O2's f64 copy of a union of two floats (review kernel b6): reverse refused, forward exact", async () => {
    const p = await Program.fromWasm(readFileSync(new URL("../fixtures/pointer-words/review5.O2.wasm", import.meta.url)), { splitLocals: true });
    const k = p.kernel("b6_union_mix_retype_o2");
    const x = Float32Array.of(0.3, 0.7, 1.1, -0.4);
    // gethi(b)·x2 + gethi(a)·x3 with both halves x0·x1: d/dx0 = x1·(x2 + x3)
    const fw = await autodiff(Forward, k, Duplicated(x.slice(), Float32Array.of(1, 0, 0, 0)), Const(4));
    expect(fw.tangent).toBeCloseTo(0.7 * (1.1 - 0.4), 5);
    const err = await autodiff(Reverse, k, Duplicated(x.slice(), new Float32Array(4)), Const(4)).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/in function b6_union_mix_retype_o2: the bytes it reads in its stack frame are also reached as floats of another width/);
  });
});
