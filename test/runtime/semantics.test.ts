// Semantics of the public API (shared/DESIGN.md §1), checked against values computed
// independently in the test: analytic derivatives, or Richardson-extrapolated central
// differences of kernel.call on fresh copies of the inputs.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Active, autodiff, Const, Duplicated, Forward, ForwardWithPrimal, Program, Reverse, ReverseWithPrimal,
} from "../../src/index.js";

const KERNELS = new URL("../kernels/", import.meta.url);
const kernelWat = (file: string) => readFileSync(new URL(file, KERNELS), "utf8");
const load = async (file: string) => Program.fromWat(kernelWat(file));

// ---------------------------------------------------------------- helpers

/** Deterministic uniform numbers in [lo, hi). */
function rng(seed: number) {
  let s = seed >>> 0;
  return (lo = -1, hi = 1) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}
const randArray = (r: ReturnType<typeof rng>, n: number, lo = -1, hi = 1) => Float64Array.from({ length: n }, () => r(lo, hi));

/** Richardson-extrapolated central difference of g at 0 (g(t) = L(x + t·dir)). */
function richardson(g: (t: number) => number, h: number): number {
  const d = (s: number) => (g(s) - g(-s)) / (2 * s);
  return (4 * d(h / 2) - d(h)) / 3;
}
/** ∂L/∂v[j] for every j. */
function fdGradient(L: (v: number[]) => number, v: number[], h = 1e-3): number[] {
  return v.map((vj, j) => richardson((t) => { const w = v.slice(); w[j] = vj + t; return L(w); }, h * Math.max(1, Math.abs(vj))));
}
/** Directional derivative of L at v along dir. */
function fdDirectional(L: (v: number[]) => number, v: number[], dir: number[], h = 1e-3): number {
  return richardson((t) => L(v.map((x, j) => x + t * dir[j])), h);
}

function expectClose(actual: ArrayLike<number> | number, expected: ArrayLike<number> | number, rel = 1e-6, what = "") {
  const a = typeof actual === "number" ? [actual] : Array.from(actual);
  const e = typeof expected === "number" ? [expected] : Array.from(expected);
  expect(a.length, what).toBe(e.length);
  const scale = Math.max(1, ...e.map(Math.abs));
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - e[i]) <= rel * Math.max(scale, Math.abs(e[i]))))
      expect.fail(`${what}[${i}]: got ${a[i]}, expected ${e[i]} (rel tol ${rel})\n got ${a.join(", ")}\n exp ${e.join(", ")}`);
  }
}

const dotp = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; };
const num = (v: number | bigint | undefined) => Number(v);

// ---------------------------------------------------------------- small kernels written for these tests

const I64_WAT = `(module
  (memory (export "memory") 1)
  (func (export "x_times_k") (param $x f64) (param $k i64) (result f64)
    (f64.add (f64.mul (local.get $x) (f64.convert_i64_s (local.get $k))) (f64.mul (local.get $x) (local.get $x))))
  (func (export "store_i64") (param $y i32) (param $x f64) (param $k i64)
    (f64.store (local.get $y) (f64.mul (f64.mul (local.get $x) (local.get $x)) (f64.convert_i64_s (local.get $k)))))
  (func (export "mul_i64") (param $a i64) (param $b i64) (result i64) (i64.mul (local.get $a) (local.get $b))))`;

const GLOBALS_WAT = `(module
  (global $count (mut i32) (i32.const 0))
  (global $scale (mut f64) (f64.const 1))
  (func (export "set_scale") (param $s f64) (global.set $scale (local.get $s)))
  (func (export "count") (result i32) (global.get $count))
  (func (export "scaled") (param $x f64) (result f64)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (f64.mul (f64.mul (global.get $scale) (f64.convert_i32_s (global.get $count))) (f64.mul (local.get $x) (local.get $x)))))`;

const TABLE_WAT = `(module
  (memory (export "memory") 1)
  (type $ii (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $twice $plus1)
  (func $twice (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $plus1 (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func (export "weighted") (param $x i32) (param $n i32) (param $sel i32) (result f64)
    (local $i i32) (local $s f64) (local $v f64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $v (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $s (f64.add (local.get $s)
          (f64.mul (f64.mul (local.get $v) (local.get $v))
            (f64.convert_i32_s (call_indirect (type $ii) (local.get $i) (local.get $sel))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $s)))`;

/** A loop whose body switches on i % 3 with br_table; a different float update per case; s is written to y[i] each step. */
const MACHINE_WAT = `(module
  (memory (export "memory") 1)
  (func (export "machine") (param $x i32) (param $y i32) (param $n i32) (param $c f64) (result f64)
    (local $i i32) (local $s f64) (local $v f64)
    (local.set $s (f64.const 0.5))
    (block $done
      (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $v (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
        (block $join
          (block $c2
            (block $c1
              (block $c0
                (br_table $c0 $c1 $c2 (i32.rem_u (local.get $i) (i32.const 3))))
              ;; case 0
              (local.set $s (f64.add (local.get $s) (f64.mul (local.get $v) (local.get $v))))
              (br $join))
            ;; case 1
            (local.set $s (f64.mul (local.get $s) (f64.add (local.get $c) (f64.mul (f64.const 0.1) (local.get $v)))))
            (br $join))
          ;; case 2
          (local.set $s (f64.add (local.get $s)
            (f64.div (local.get $v) (f64.add (f64.const 1) (f64.mul (local.get $s) (local.get $s)))))))
        (f64.store (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 3))) (local.get $s))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $s)))`;

// ---------------------------------------------------------------- reverse mode

describe("reverse mode", () => {
  it("a read-only Duplicated input accumulates: dx = initial + gradient", async () => {
    const k = (await load("dot.wat")).kernel("dot");
    const r = rng(1), n = 16;
    const x = randArray(r, n), y = randArray(r, n), dx0 = randArray(r, n), dy0 = randArray(r, n);
    const x0 = x.slice(), y0 = y.slice(), dx = dx0.slice(), dy = dy0.slice();
    const res = await autodiff(Reverse, k, Duplicated(x, dx), Duplicated(y, dy), Const(n));
    expect(res.derivs).toEqual([null, null, null]);
    expect(res.primal).toBeUndefined();
    expectClose(dx, dx0.map((v, i) => v + y0[i]), 1e-12, "dx");
    expectClose(dy, dy0.map((v, i) => v + x0[i]), 1e-12, "dy");
    // read-only inputs are left as they were
    expect(Array.from(x)).toEqual(Array.from(x0));
    expect(Array.from(y)).toEqual(Array.from(y0));
    // a second call accumulates again
    await autodiff(Reverse, k, Duplicated(x, dx), Duplicated(y, dy), Const(n));
    expectClose(dx, dx0.map((v, i) => v + 2 * y0[i]), 1e-12, "dx after two calls");
  });

  it("seeds of overwritten buffers are consumed (in-place heat): shadows end as dL/d(initial contents)", async () => {
    const k = (await load("heat.wat")).kernel("heat");
    const r = rng(2), n = 10, steps = 6, a = 0.23;
    const u0 = randArray(r, n), tmp0 = randArray(r, n), su = randArray(r, n), st = randArray(r, n);
    // L = Σ su·u_final + Σ st·tmp_final, as a function of (u0, tmp0, a)
    const L = (v: number[]) => {
      const u = Float64Array.from(v.slice(0, n)), tmp = Float64Array.from(v.slice(n, 2 * n));
      k.call(u, tmp, n, v[2 * n], steps);
      return dotp(su, u) + dotp(st, tmp);
    };
    const v0 = [...u0, ...tmp0, a];
    const g = fdGradient(L, v0);
    const u = u0.slice(), tmp = tmp0.slice(), du = su.slice(), dtmp = st.slice();
    const res = await autodiff(Reverse, k, Duplicated(u, du), Duplicated(tmp, dtmp), Const(n), Active(a), Const(steps));
    expect(res.derivs.map((d, i) => (i === 3 ? typeof d : d))).toEqual([null, null, null, "number", null]);
    expectClose(du, g.slice(0, n), 1e-6, "du");
    expectClose(dtmp, g.slice(n, 2 * n), 1e-6, "dtmp");
    // tmp is written before it is read: its initial contents do not matter, its seed is consumed
    expect(Array.from(dtmp).every((v) => v === 0)).toBe(true);
    expectClose(res.derivs[3]!, g[2 * n], 1e-6, "da");
    // the primal effect of the call is visible as in kernel.call
    const uc = u0.slice(), tc = tmp0.slice();
    k.call(uc, tc, n, a, steps);
    expect(Array.from(u)).toEqual(Array.from(uc));
    expect(Array.from(tmp)).toEqual(Array.from(tc));
  });

  it("Const buffers have no shadow and get no derivative (dot with y Const)", async () => {
    const k = (await load("dot.wat")).kernel("dot");
    const r = rng(3), n = 12;
    const x = randArray(r, n), y = randArray(r, n), dx = new Float64Array(n);
    const y0 = y.slice();
    const res = await autodiff(ReverseWithPrimal, k, Duplicated(x, dx), Const(y), Const(n));
    expect(res.derivs).toEqual([null, null, null]);
    expectClose(dx, y0, 1e-12, "dx");
    expect(Array.from(y)).toEqual(Array.from(y0));
    expect(res.primal).toBe(k.call(x.slice(), y.slice(), n));
  });

  it("Const scalars get no derivative (heat with a Const, scalar_mix with x Const)", async () => {
    const heat = (await load("heat.wat")).kernel("heat");
    const r = rng(4), n = 8, steps = 4, a = 0.2;
    const u0 = randArray(r, n), su = randArray(r, n);
    const L = (v: number[]) => { const u = Float64Array.from(v); heat.call(u, new Float64Array(n), n, a, steps); return dotp(su, u); };
    const g = fdGradient(L, Array.from(u0));
    const u = u0.slice(), du = su.slice();
    // tmp receives values computed from u, so it must be Duplicated too (its seed is zero here)
    const res = await autodiff(Reverse, heat, Duplicated(u, du), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n), Const(a), Const(steps));
    expect(res.derivs).toEqual([null, null, null, null, null]);
    expectClose(du, g, 1e-6, "du");

    const mix = (await load("scalar_mix.wat")).kernel("scalar_mix");
    const x = 1.3, y = 0.7;
    const gy = richardson((t) => num(mix.call(x, y + t)), 1e-3);
    const rm = await autodiff(ReverseWithPrimal, mix, Const(x), Active(y));
    expect(rm.derivs[0]).toBeNull();
    expectClose(rm.derivs[1]!, gy, 1e-6, "d/dy");
    expect(Object.is(rm.primal, mix.call(x, y))).toBe(true);
  });

  it("a Duplicated buffer that is only written: seed consumed, gradient of the inputs (seed_matvec, data segment)", async () => {
    const k = (await load("seed_matvec.wat")).kernel("seed_matvec");
    // A = [2 3; 2 4] from the data segment: y[0] = 2 x0 + 3 x1
    const x = Float64Array.of(0.5, -1.25), y = Float64Array.of(99), dx = Float64Array.of(0.25, 0.5), dy = Float64Array.of(1.5);
    const res = await autodiff(ReverseWithPrimal, k, Duplicated(x, dx), Duplicated(y, dy));
    expect(res.derivs).toEqual([null, null]);
    expect(res.primal).toBeUndefined();
    expect(y[0]).toBe(2 * 0.5 + 3 * -1.25);
    expect(Array.from(dx)).toEqual([0.25 + 1.5 * 2, 0.5 + 1.5 * 3]);
    expect(Array.from(dy)).toEqual([0]);
    // forward: tangent of y[0] = 2 dx0 + 3 dx1, the (overwritten) incoming tangent of y is irrelevant
    const tx = Float64Array.of(1, -2), ty = Float64Array.of(123);
    const y2 = Float64Array.of(7);
    const f = await autodiff(Forward, k, Duplicated(x.slice(), tx), Duplicated(y2, ty));
    expect(f.tangent).toBeUndefined();
    expect(Array.from(ty)).toEqual([2 * 1 + 3 * -2]);
    expect(y2[0]).toBe(2 * 0.5 + 3 * -1.25);
    // the data segment is still in place for plain calls
    const y3 = new Float64Array(1);
    k.call(Float64Array.of(1, 0), y3);
    expect(y3[0]).toBe(2);
  });
});

const INPLACE_WAT = `(module
  (memory (export "memory") 1)
  ;; x[0] = x[0] * x[0]: the store overwrites the value the reverse sweep needs
  (func (export "square_in_place") (param $x i32)
    (f64.store (local.get $x) (f64.mul (f64.load (local.get $x)) (f64.load (local.get $x)))))
  ;; x[i] *= x[i-1] for i = 1..n-1: final x[i] = x[0]·…·x[i]
  (func (export "prefix_product") (param $x i32) (param $n i32)
    (local $i i32)
    (local.set $i (i32.const 1))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (f64.store (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))
        (f64.mul (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))
                 (f64.load (i32.add (local.get $x) (i32.shl (i32.sub (local.get $i) (i32.const 1)) (i32.const 3))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
  ;; recursion over a buffer: rs(x, n, c) = c·x[0]² + rs(x + 8, n - 1, 1.1·c)
  (func $rs (export "rec_sum") (param $x i32) (param $n i32) (param $c f64) (result f64)
    (if (result f64) (i32.eqz (local.get $n)) (then (f64.const 0))
      (else (f64.add (f64.mul (local.get $c) (f64.mul (f64.load (local.get $x)) (f64.load (local.get $x))))
                     (call $rs (i32.add (local.get $x) (i32.const 8)) (i32.sub (local.get $n) (i32.const 1)) (f64.mul (local.get $c) (f64.const 1.1)))))))
  ;; early return from inside the loop once |running product| > 10
  (func (export "early_exit") (param $x i32) (param $n i32) (result f64)
    (local $i i32) (local $p f64)
    (local.set $p (f64.const 1))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $p (f64.mul (local.get $p) (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))))
      (if (f64.gt (f64.abs (local.get $p)) (f64.const 10)) (then (return (f64.sqrt (f64.abs (local.get $p))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $p)))`;

/** A kernel that takes a scratch page of its own with memory.grow (as sbrk-style allocators do), fills it with integer weights, runs a long loop, then reads the weights back. */
const GROW_WAT = `(module
  (memory (export "memory") 1)
  (func (export "grow_scratch") (param $x i32) (param $n i32) (param $reps i32) (result f64)
    (local $base i32) (local $i i32) (local $r i32) (local $s f64) (local $v f64)
    (local.set $base (i32.shl (memory.size) (i32.const 16)))
    (drop (memory.grow (i32.const 1)))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_s (local.get $i) (local.get $n)))
      (i32.store (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2))) (i32.add (local.get $i) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l1)))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_s (local.get $r) (local.get $reps)))
      (local.set $v (f64.load (i32.add (local.get $x) (i32.shl (i32.rem_u (local.get $r) (local.get $n)) (i32.const 3)))))
      (local.set $s (f64.add (f64.mul (f64.mul (local.get $s) (local.get $v)) (f64.const 0.5)) (local.get $v)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $l2)))
    (local.set $i (i32.const 0))
    (block $d3 (loop $l3
      (br_if $d3 (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $s (f64.add (local.get $s)
        (f64.mul (f64.convert_i32_s (i32.load (i32.add (local.get $base) (i32.shl (local.get $i) (i32.const 2)))))
                 (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l3)))
    (local.get $s)))`;

describe("reverse mode: memory read and written by the kernel", () => {
  it("an in-place update x[0] = x[0]² (the store overwrites the value the reverse sweep needs)", async () => {
    const k = (await Program.fromWat(INPLACE_WAT)).kernel("square_in_place");
    const x = Float64Array.of(3), dx = Float64Array.of(1);
    await autodiff(Reverse, k, Duplicated(x, dx));
    expect(x[0]).toBe(9);
    expect(dx[0]).toBe(6); // d(x0²)/dx0 · seed 1
    const tx = Float64Array.of(1);
    await autodiff(Forward, k, Duplicated(Float64Array.of(3), tx));
    expect(tx[0]).toBe(6);
  });

  it("an in-place prefix product (each step reads the cell the previous step wrote)", async () => {
    const k = (await Program.fromWat(INPLACE_WAT)).kernel("prefix_product");
    const r = rng(21), n = 6;
    const x0 = randArray(r, n, 0.5, 1.5), s = randArray(r, n);
    const L = (v: number[]) => { const x = Float64Array.from(v); k.call(x, n); return dotp(s, x); };
    const g = fdGradient(L, Array.from(x0));
    const dx = s.slice();
    await autodiff(Reverse, k, Duplicated(x0.slice(), dx), Const(n));
    expectClose(dx, g, 1e-6, "dx");
    const t = randArray(r, n), tOut = t.slice();
    await autodiff(Forward, k, Duplicated(x0.slice(), tOut), Const(n));
    expectClose(dotp(s, tOut), dotp(g, t), 1e-6, "forward vs FD");
  });

  it("recursion over a buffer and an early return from inside a loop", async () => {
    const p = await Program.fromWat(INPLACE_WAT);
    const rs = p.kernel("rec_sum");
    const x0 = Float64Array.of(0.7, -1.3, 2.1, 0.4, 3.3);
    const g = fdGradient((v) => num(rs.call(Float64Array.from(v.slice(0, 5)), 5, v[5])), [...x0, 0.9]);
    const dx = new Float64Array(5);
    const r1 = await autodiff(ReverseWithPrimal, rs, Duplicated(x0.slice(), dx), Const(5), Active(0.9));
    expect(Object.is(r1.primal, rs.call(x0.slice(), 5, 0.9))).toBe(true);
    expectClose(dx, g.slice(0, 5), 1e-6, "rec_sum dx");
    expectClose(r1.derivs[2]!, g[5], 1e-6, "rec_sum dc");

    const early = p.kernel("early_exit");
    for (const xs of [x0, Float64Array.of(2, 3, 4, 5, 6), Float64Array.of(0.5, 0.5, 0.5, 0.5, 0.5)]) {
      const ge = fdGradient((v) => num(early.call(Float64Array.from(v), 5)), Array.from(xs));
      const d = new Float64Array(5);
      const re = await autodiff(ReverseWithPrimal, early, Duplicated(xs.slice(), d), Const(5));
      expect(Object.is(re.primal, early.call(xs.slice(), 5))).toBe(true);
      expectClose(d, ge, 1e-6, `early_exit dx at ${Array.from(xs)}`);
      const fw = await autodiff(Forward, early, Duplicated(xs.slice(), Float64Array.of(1, -1, 1, -1, 1)), Const(5));
      expectClose(fw.tangent!, ge[0] - ge[1] + ge[2] - ge[3] + ge[4], 1e-6, "early_exit forward");
    }
  });

  it("memory the kernel obtains with memory.grow is not overwritten by the tape", async () => {
    const p = await Program.fromWat(GROW_WAT);
    const k = p.kernel("grow_scratch");
    const n = 4, x0 = Float64Array.of(0.3, -0.2, 0.5, 0.1);
    for (const reps of [1000, 200000]) { // 200000 iterations need more tape than the initial reservation
      const expected = k.call(x0.slice(), n, reps);
      const dx = new Float64Array(n);
      const r = await autodiff(ReverseWithPrimal, k, Duplicated(x0.slice(), dx), Const(n), Const(reps));
      expect(r.primal, `reps=${reps}`).toBe(expected);
      const f = await autodiff(ForwardWithPrimal, k, Duplicated(x0.slice(), Float64Array.of(1, 0, 0, 0)), Const(n), Const(reps));
      expect(f.primal, `reps=${reps}`).toBe(expected);
      expectClose(f.tangent!, dx[0], 1e-9, `reps=${reps}: forward vs reverse`);
    }
  });
});

// ---------------------------------------------------------------- forward mode

describe("forward mode", () => {
  it("tangents in and out through buffers: shadows end as the tangents of the final contents (heat)", async () => {
    const k = (await load("heat.wat")).kernel("heat");
    const r = rng(5), n = 9, steps = 5, a = 0.17;
    const u0 = randArray(r, n), tmp0 = randArray(r, n), tu = randArray(r, n), tt = randArray(r, n), ta = 0.7;
    const run = (v: number[]) => {
      const u = Float64Array.from(v.slice(0, n)), tmp = Float64Array.from(v.slice(n, 2 * n));
      k.call(u, tmp, n, v[2 * n], steps);
      return [...u, ...tmp];
    };
    const v0 = [...u0, ...tmp0, a], dir = [...tu, ...tt, ta];
    const expected = Array.from({ length: 2 * n }, (_, j) => fdDirectional((v) => run(v)[j], v0, dir));
    const u = u0.slice(), tmp = tmp0.slice(), du = tu.slice(), dtmp = tt.slice();
    const res = await autodiff(ForwardWithPrimal, k, Duplicated(u, du), Duplicated(tmp, dtmp), Const(n), Duplicated(a, ta), Const(steps));
    expect(res.tangent).toBeUndefined();
    expect(res.primal).toBeUndefined();
    expectClose(du, expected.slice(0, n), 1e-6, "du");
    expectClose(dtmp, expected.slice(n), 1e-6, "dtmp");
    const primal = run(v0);
    expect([...u, ...tmp]).toEqual(primal);

    // dot-product test: <reverse gradient of Σ s·final, tangent> = <s, forward tangent of final>
    const su = randArray(r, n), st = randArray(r, n);
    const gu = su.slice(), gt = st.slice();
    const rr = await autodiff(Reverse, k, Duplicated(u0.slice(), gu), Duplicated(tmp0.slice(), gt), Const(n), Active(a), Const(steps));
    const lhs = dotp(gu, tu) + dotp(gt, tt) + rr.derivs[3]! * ta;
    const rhs = dotp(su, du) + dotp(st, dtmp);
    expectClose(lhs, rhs, 1e-9, "dot-product test");
  });

  it("the tangent of the return value (dot), with Const and Duplicated buffers", async () => {
    const k = (await load("dot.wat")).kernel("dot");
    const r = rng(6), n = 10;
    const x = randArray(r, n), y = randArray(r, n), tx = randArray(r, n), ty = randArray(r, n);
    const tx0 = tx.slice(), ty0 = ty.slice();
    const f = await autodiff(Forward, k, Duplicated(x, tx), Duplicated(y, ty), Const(n));
    expect(f.primal).toBeUndefined();
    expectClose(f.tangent!, dotp(tx0, y) + dotp(x, ty0), 1e-12, "tangent");
    // read-only buffers: tangents are unchanged (tangent of final contents = tangent of initial ones)
    expect(Array.from(tx)).toEqual(Array.from(tx0));
    expect(Array.from(ty)).toEqual(Array.from(ty0));
    const g = await autodiff(ForwardWithPrimal, k, Duplicated(x, tx), Const(y), Const(n));
    expectClose(g.tangent!, dotp(tx0, y), 1e-12, "tangent, y Const");
    expect(Object.is(g.primal, k.call(x, y, n))).toBe(true);
  });

  it("Duplicated scalars (scalar_mix, Const x)", async () => {
    const k = (await load("scalar_mix.wat")).kernel("scalar_mix");
    const x = 1.3, y = 0.7;
    const fdx = richardson((t) => num(k.call(x + t, y)), 1e-3), fdy = richardson((t) => num(k.call(x, y + t)), 1e-3);
    const f1 = await autodiff(Forward, k, Duplicated(x, 1), Duplicated(y, 0));
    const f2 = await autodiff(Forward, k, Duplicated(x, 0.5), Duplicated(y, -2));
    const f3 = await autodiff(Forward, k, Const(x), Duplicated(y, 1));
    expectClose(f1.tangent!, fdx, 1e-6, "df/dx");
    expectClose(f2.tangent!, 0.5 * fdx - 2 * fdy, 1e-6, "directional");
    expectClose(f3.tangent!, fdy, 1e-6, "df/dy, x Const");
    const rv = await autodiff(Reverse, k, Active(x), Active(y));
    expectClose(0.5 * rv.derivs[0]! - 2 * rv.derivs[1]!, f2.tangent!, 1e-9, "dot-product test");
  });
});

// ---------------------------------------------------------------- primal of the WithPrimal modes

describe("WithPrimal modes return the primal bit for bit", () => {
  it("saxpy_f32 (in-place f32 buffer): primal and buffer contents equal kernel.call's", async () => {
    const k = (await load("saxpy_f32.wat")).kernel("saxpy_f32");
    const r = rng(7), n = 12, a = Math.fround(1.5);
    const x = Float32Array.from({ length: n }, () => r()), y = Float32Array.from({ length: n }, () => r());
    const xc = x.slice(), yc = y.slice();
    const expected = k.call(a, xc, yc, n);
    for (const mode of [ReverseWithPrimal, ForwardWithPrimal]) {
      const xr = x.slice(), yr = y.slice();
      const res = mode === ReverseWithPrimal
        ? await autodiff(mode, k, Active(a), Duplicated(xr, new Float32Array(n)), Duplicated(yr, new Float32Array(n)), Const(n))
        : await autodiff(mode, k, Duplicated(a, 1), Duplicated(xr, new Float32Array(n)), Duplicated(yr, new Float32Array(n)), Const(n));
      expect(Object.is(res.primal, expected), mode.name).toBe(true);
      expect(Array.from(yr).every((v, i) => Object.is(v, yc[i])), mode.name).toBe(true);
      expect(Array.from(xr).every((v, i) => Object.is(v, xc[i])), mode.name).toBe(true);
    }
    // the plain modes return no primal
    const rr = await autodiff(Reverse, k, Active(a), Duplicated(x.slice(), new Float32Array(n)), Duplicated(y.slice(), new Float32Array(n)), Const(n));
    expect("primal" in rr).toBe(false);
  });

  it("logsumexp, calls, newton_sqrt, points_stride: primal equals kernel.call", async () => {
    const r = rng(8);
    const lse = (await load("logsumexp.wat")).kernel("logsumexp");
    const x = randArray(r, 20, -3, 3);
    const rl = await autodiff(ReverseWithPrimal, lse, Duplicated(x.slice(), new Float64Array(20)), Const(20));
    const fl = await autodiff(ForwardWithPrimal, lse, Duplicated(x.slice(), randArray(r, 20)), Const(20));
    const el = lse.call(x.slice(), 20);
    expect(Object.is(rl.primal, el)).toBe(true);
    expect(Object.is(fl.primal, el)).toBe(true);

    const calls = (await load("calls.wat")).kernel("calls");
    const ec = calls.call(0.9, -1.4);
    expect(Object.is((await autodiff(ReverseWithPrimal, calls, Active(0.9), Active(-1.4))).primal, ec)).toBe(true);
    expect(Object.is((await autodiff(ForwardWithPrimal, calls, Duplicated(0.9, 1), Const(-1.4))).primal, ec)).toBe(true);

    const newton = (await load("newton_sqrt.wat")).kernel("newton_sqrt");
    const en = newton.call(7.3);
    expect(Object.is((await autodiff(ReverseWithPrimal, newton, Active(7.3))).primal, en)).toBe(true);
    expect(Object.is((await autodiff(ForwardWithPrimal, newton, Duplicated(7.3, 1))).primal, en)).toBe(true);

    const pts = (await load("points_stride.wat")).kernel("points_stride");
    const n = 5, buf = new ArrayBuffer(24 * n), f = new Float64Array(buf), ints = new Int32Array(buf);
    for (let i = 0; i < n; i++) { f[3 * i] = r(); f[3 * i + 1] = r(); ints[6 * i + 4] = i + 2; }
    const ptsCopy = () => new Float64Array(buf.slice(0));
    const outE = new Float64Array(2), eP = pts.call(ptsCopy(), n, outE);
    const outR = new Float64Array(2);
    const rp = await autodiff(ReverseWithPrimal, pts, Duplicated(ptsCopy(), new Float64Array(3 * n)), Const(n), Duplicated(outR, new Float64Array(2)));
    expect(Object.is(rp.primal, eP)).toBe(true);
    expect(Array.from(outR)).toEqual(Array.from(outE));
  });
});

describe("WithPrimal primal on random inputs (property)", () => {
  it("scalar_mix, newton_sqrt and piecewise: primal, buffers and kernel.call agree bit for bit, NaN/Inf/-0 included", async () => {
    const mix = (await load("scalar_mix.wat")).kernel("scalar_mix");
    const newton = (await load("newton_sqrt.wat")).kernel("newton_sqrt");
    const pw = (await load("piecewise.wat")).kernel("piecewise");
    await fc.assert(fc.asyncProperty(fc.double(), fc.double(), async (x, y) => {
      const e = mix.call(x, y);
      expect(Object.is((await autodiff(ReverseWithPrimal, mix, Active(x), Active(y))).primal, e)).toBe(true);
      expect(Object.is((await autodiff(ForwardWithPrimal, mix, Duplicated(x, 1), Duplicated(y, -1))).primal, e)).toBe(true);
      const en = newton.call(x);
      expect(Object.is((await autodiff(ReverseWithPrimal, newton, Active(x))).primal, en)).toBe(true);
      expect(Object.is((await autodiff(ForwardWithPrimal, newton, Duplicated(x, 1))).primal, en)).toBe(true);
    }), { numRuns: 100, seed: 42 });
    await fc.assert(fc.asyncProperty(fc.array(fc.double(), { maxLength: 9 }), async (v) => {
      const x = Float64Array.from(v);
      const e = pw.call(x.slice(), x.length);
      expect(Object.is((await autodiff(ReverseWithPrimal, pw, Duplicated(x.slice(), new Float64Array(x.length)), Const(x.length))).primal, e)).toBe(true);
      expect(Object.is((await autodiff(ForwardWithPrimal, pw, Duplicated(x.slice(), new Float64Array(x.length)), Const(x.length))).primal, e)).toBe(true);
    }), { numRuns: 100, seed: 43 });
  });
});

// ---------------------------------------------------------------- parameter and buffer types

describe("parameter kinds", () => {
  it("kernels without a return value (heat, store_i64): no primal, no tangent", async () => {
    const p = await Program.fromWat(I64_WAT);
    const k = p.kernel("store_i64");
    expect(k.call(new Float64Array(1), 2, 3n)).toBeUndefined();
    const y = Float64Array.of(5), dy = Float64Array.of(2);
    const res = await autodiff(ReverseWithPrimal, k, Duplicated(y, dy), Active(1.5), Const(3n));
    expect(res.primal).toBeUndefined();
    expect(y[0]).toBe(1.5 * 1.5 * 3);
    expect(res.derivs[1]).toBe(2 * (2 * 1.5 * 3));
    expect(dy[0]).toBe(0);
    const ty = Float64Array.of(9);
    const f = await autodiff(ForwardWithPrimal, k, Duplicated(new Float64Array(1), ty), Duplicated(1.5, 0.5), Const(3n));
    expect(f.tangent).toBeUndefined();
    expect(ty[0]).toBe(0.5 * 2 * 1.5 * 3);
  });

  it("i64 parameters are bigints at the API (integral numbers are accepted too); i64 results come back as bigint", async () => {
    const p = await Program.fromWat(I64_WAT);
    expect(p.kernel("mul_i64").call(3n, -4n)).toBe(-12n);
    expect(p.kernel("mul_i64").call(3, 4)).toBe(12n);
    expect(p.kernel("mul_i64").call(1n << 40n, 1n << 20n)).toBe(1n << 60n);
    const k = p.kernel("x_times_k");
    const x = 0.75, kk = 5n;
    expect(k.call(x, kk)).toBe(x * 5 + x * x);
    const rv = await autodiff(ReverseWithPrimal, k, Active(x), Const(kk));
    expect(rv.primal).toBe(x * 5 + x * x);
    expect(rv.derivs).toEqual([5 + 2 * x, null]);
    const fw = await autodiff(ForwardWithPrimal, k, Duplicated(x, 2), Const(-3n));
    expect(fw.primal).toBe(x * -3 + x * x);
    expect(fw.tangent).toBe(2 * (-3 + 2 * x));
  });

  it("f32 parameters and Float32Array buffers (saxpy_f32), reverse and forward against the analytic derivative", async () => {
    const k = (await load("saxpy_f32.wat")).kernel("saxpy_f32");
    const r = rng(9), n = 12, a = Math.fround(1.25);
    const x = Float32Array.from({ length: n }, () => r()), y0 = Float32Array.from({ length: n }, () => r());
    const sx = Float32Array.from({ length: n }, () => r()), sy = Float32Array.from({ length: n }, () => r());
    // y_final = a x + y0; ret = Σ y_final; L = ret + Σ sx·x + Σ sy·y_final
    const dx = sx.slice(), dy = sy.slice(), y = y0.slice();
    const res = await autodiff(Reverse, k, Active(a), Duplicated(x, dx), Duplicated(y, dy), Const(n));
    expectClose(res.derivs[0]!, Array.from(x).reduce((s, xi, i) => s + (1 + sy[i]) * xi, 0), 1e-5, "da");
    expectClose(dx, Array.from(sx).map((v, i) => v + (1 + sy[i]) * a), 1e-5, "dx");
    expectClose(dy, Array.from(sy).map((v) => 1 + v), 1e-5, "dy");
    expect(res.derivs.slice(1)).toEqual([null, null, null]);
    expect(Array.from(y)).toEqual(Array.from(y0).map((v, i) => Math.fround(Math.fround(a * x[i]) + v)));

    const tx = Float32Array.from({ length: n }, () => r()), ty = Float32Array.from({ length: n }, () => r()), ta = 0.5;
    const tx0 = tx.slice(), ty0 = ty.slice();
    const f = await autodiff(Forward, k, Duplicated(a, ta), Duplicated(x, tx), Duplicated(y0.slice(), ty), Const(n));
    const tyExp = Array.from(ty0).map((v, i) => ta * x[i] + a * tx0[i] + v);
    expectClose(ty, tyExp, 1e-5, "ty");
    expectClose(f.tangent!, tyExp.reduce((s, v) => s + v, 0), 1e-5, "tangent");
    expect(Array.from(tx)).toEqual(Array.from(tx0));
  });
});

// ---------------------------------------------------------------- runtime behaviour

describe("runtime", () => {
  it("the compile cache: the same activity pattern reuses the compiled derivative, a different one compiles anew", async () => {
    const p = await load("dot.wat");
    const k = p.kernel("dot");
    const n = 4, x = Float64Array.of(1, 2, 3, 4), y = Float64Array.of(5, 6, 7, 8);
    const a = await autodiff(Reverse, k, Duplicated(x, new Float64Array(n)), Duplicated(y, new Float64Array(n)), Const(n));
    const b = await autodiff(Reverse, k, Duplicated(x, new Float64Array(n)), Duplicated(y, new Float64Array(n)), Const(n));
    expect(b.stats.compileMs).toBe(a.stats.compileMs);
    expect(b.stats.moduleBytes).toBe(a.stats.moduleBytes);
    // same pattern through another Kernel object of the same program: still cached
    const c = await autodiff(Reverse, p.kernel("dot"), Duplicated(x, new Float64Array(n)), Duplicated(y, new Float64Array(n)), Const(n));
    expect(c.stats.compileMs).toBe(a.stats.compileMs);
    // ReverseWithPrimal has a module of its own (Reverse's forward sweep skips what only the result needs), cached too
    const w1 = await autodiff(ReverseWithPrimal, k, Duplicated(x, new Float64Array(n)), Duplicated(y, new Float64Array(n)), Const(n));
    const w2 = await autodiff(ReverseWithPrimal, p.kernel("dot"), Duplicated(x, new Float64Array(n)), Duplicated(y, new Float64Array(n)), Const(n));
    expect(w1.stats.compileMs).not.toBe(a.stats.compileMs);
    expect(w2.stats.compileMs).toBe(w1.stats.compileMs);
    // a different pattern (y Const), and a different mode, compile anew
    const d = await autodiff(Reverse, k, Duplicated(x, new Float64Array(n)), Const(y), Const(n));
    expect(d.stats.compileMs).not.toBe(a.stats.compileMs);
    const e = await autodiff(Forward, k, Duplicated(x, new Float64Array(n)), Duplicated(y, new Float64Array(n)), Const(n));
    expect(e.stats.compileMs).not.toBe(a.stats.compileMs);
    expect(e.stats.compileMs).not.toBe(d.stats.compileMs);
    const e2 = await autodiff(Forward, k, Duplicated(x, new Float64Array(n)), Duplicated(y, new Float64Array(n)), Const(n));
    expect(e2.stats.compileMs).toBe(e.stats.compileMs);
    for (const s of [a, d, e]) {
      expect(s.stats.compileMs).toBeGreaterThan(0);
      expect(s.stats.moduleBytes).toBeGreaterThan(8);
    }
  });

  it("memory stays flat over 500 consecutive reverse calls", async () => {
    const p = await load("heat.wat");
    const k = p.kernel("heat");
    const r = rng(10), n = 32;
    const u0 = randArray(r, n), su = randArray(r, n);
    const run = () => autodiff(Reverse, k, Duplicated(u0.slice(), su.slice()), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n), Active(0.2), Const(20));
    const first = await run();
    expect(first.stats.tapeBytes).toBeGreaterThan(0);
    const bytes = p.memory.buffer.byteLength;
    let last = first;
    for (let i = 0; i < 499; i++) {
      last = await run();
      if (p.memory.buffer.byteLength !== bytes) expect.fail(`memory grew from ${bytes} to ${p.memory.buffer.byteLength} bytes at call ${i + 2}`);
    }
    expect(last.stats.tapeBytes).toBe(first.stats.tapeBytes);
    expect(last.derivs[3]).toBe(first.derivs[3]);
  });

  it("a tape larger than the initial reservation grows memory once, and the derivative stays right", async () => {
    const p = await load("heat.wat");
    const k = p.kernel("heat");
    const r = rng(13), n = 48, steps = 4000, a = 0.21;
    const u0 = randArray(r, n), su = randArray(r, n), tu = randArray(r, n);
    const du = su.slice();
    const rv = await autodiff(Reverse, k, Duplicated(u0.slice(), du), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n), Active(a), Const(steps));
    expect(rv.stats.tapeBytes).toBeGreaterThan(1 << 20);
    const bytes = p.memory.buffer.byteLength;
    const tuOut = tu.slice();
    const fw = await autodiff(Forward, k, Duplicated(u0.slice(), tuOut), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n), Duplicated(a, 0.3), Const(steps));
    expect(fw.tangent).toBeUndefined();
    expectClose(dotp(du, tu) + rv.derivs[3]! * 0.3, dotp(su, tuOut), 1e-9, "dot-product test");
    const again = await autodiff(Reverse, k, Duplicated(u0.slice(), su.slice()), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n), Active(a), Const(steps));
    expect(again.derivs[3]).toBe(rv.derivs[3]);
    expect(p.memory.buffer.byteLength).toBe(bytes);
  });

  it("recursion and several functions (calls.wat): reverse and forward against finite differences", async () => {
    const k = (await load("calls.wat")).kernel("calls");
    for (const [x, y] of [[0.9, -1.4], [1.7, 0.3], [-0.6, 2.2]]) {
      const L = (v: number[]) => num(k.call(v[0], v[1]));
      const g = fdGradient(L, [x, y]);
      // analytic check of the FD itself: calls(x,y) = |(x,y)|·x^5 + |(y, x+1)|
      const nx = Math.hypot(x, y), ny = Math.hypot(y, x + 1);
      expectClose(g, [x / nx * x ** 5 + nx * 5 * x ** 4 + (x + 1) / ny, y / nx * x ** 5 + y / ny], 1e-6, "FD vs analytic");
      const rv = await autodiff(Reverse, k, Active(x), Active(y));
      expectClose(rv.derivs as number[], g, 1e-6, `reverse at ${x},${y}`);
      const fw = await autodiff(Forward, k, Duplicated(x, 0.3), Duplicated(y, -1.1));
      expectClose(fw.tangent!, fdDirectional(L, [x, y], [0.3, -1.1]), 1e-6, "forward");
      expectClose(fw.tangent!, 0.3 * rv.derivs[0]! - 1.1 * rv.derivs[1]!, 1e-9, "dot-product test");
    }
  });

  it("mutable globals are one state shared by kernel.call and autodiff", async () => {
    const p = await Program.fromWat(GLOBALS_WAT);
    const scaled = p.kernel("scaled"), count = p.kernel("count");
    p.kernel("set_scale").call(2);
    const x = 3;
    expect(scaled.call(x)).toBe(2 * 1 * x * x); // count 1
    const rv = await autodiff(ReverseWithPrimal, scaled, Active(x)); // count 2
    expect(rv.primal).toBe(2 * 2 * x * x);
    expect(rv.derivs[0]).toBe(2 * 2 * 2 * x);
    expect(count.call()).toBe(2);
    const fw = await autodiff(ForwardWithPrimal, scaled, Duplicated(x, 1)); // count 3
    expect(fw.primal).toBe(2 * 3 * x * x);
    expect(fw.tangent).toBe(2 * 3 * 2 * x);
    expect(count.call()).toBe(3);
    p.kernel("set_scale").call(-1);
    const rv2 = await autodiff(Reverse, scaled, Active(x)); // count 4
    expect(rv2.derivs[0]).toBe(-1 * 4 * 2 * x);
    expect(scaled.call(x)).toBe(-1 * 5 * x * x);
    expect(count.call()).toBe(5);
  });

  it("points_stride's global counter advances once per call, in kernel.call and autodiff alike", async () => {
    // the counter is not exported; a module derived from points_stride.wat with an exported reader observes it
    const wat = kernelWat("points_stride.wat").replace(/\)\s*$/, `\n  (func (export "calls_so_far") (result i32) (global.get $calls)))`);
    const p = await Program.fromWat(wat);
    const k = p.kernel("points_stride"), calls = p.kernel("calls_so_far");
    const n = 3, pts = new Float64Array(3 * n);
    pts.set([1, 2, 0, 3, 4, 0, 5, 6, 0]);
    new Int32Array(pts.buffer)[4] = 1;
    expect(calls.call()).toBe(0);
    k.call(pts.slice(), n, new Float64Array(2));
    expect(calls.call()).toBe(1);
    await autodiff(Reverse, k, Duplicated(pts.slice(), new Float64Array(3 * n)), Const(n), Duplicated(new Float64Array(2), Float64Array.of(1, 1)));
    expect(calls.call()).toBe(2);
    await autodiff(Forward, k, Duplicated(pts.slice(), new Float64Array(3 * n)), Const(n), Duplicated(new Float64Array(2), new Float64Array(2)));
    expect(calls.call()).toBe(3);
  });

  it("a table + call_indirect on inactive data works in both modes", async () => {
    const p = await Program.fromWat(TABLE_WAT);
    const k = p.kernel("weighted");
    const r = rng(11), n = 7;
    const x = randArray(r, n);
    for (const [sel, w] of [[0, (i: number) => 2 * i], [1, (i: number) => i + 1]] as const) {
      expect(k.call(x, n, sel)).toBeCloseTo(Array.from(x).reduce((s, v, i) => s + v * v * w(i), 0), 12);
      const dx = new Float64Array(n);
      const rv = await autodiff(ReverseWithPrimal, k, Duplicated(x, dx), Const(n), Const(sel));
      expect(Object.is(rv.primal, k.call(x, n, sel))).toBe(true);
      expectClose(dx, Array.from(x).map((v, i) => 2 * v * w(i)), 1e-12, `dx sel=${sel}`);
      const tx = randArray(r, n);
      const fw = await autodiff(Forward, k, Duplicated(x, tx), Const(n), Const(sel));
      expectClose(fw.tangent!, dotp(dx, tx), 1e-9, `tangent sel=${sel}`);
    }
  });

  it("a br_table state machine on active data: reverse and forward against finite differences", async () => {
    const p = await Program.fromWat(MACHINE_WAT);
    const k = p.kernel("machine");
    const r = rng(12), n = 11, c = 0.9;
    const x0 = randArray(r, n), y0 = randArray(r, n), sx = randArray(r, n), sy = randArray(r, n);
    // L = ret + Σ sx·x + Σ sy·y_final, over (x, y0, c)
    const L = (v: number[]) => {
      const x = Float64Array.from(v.slice(0, n)), y = Float64Array.from(v.slice(n, 2 * n));
      const ret = num(k.call(x, y, n, v[2 * n]));
      return ret + dotp(sx, x) + dotp(sy, y);
    };
    const v0 = [...x0, ...y0, c];
    const g = fdGradient(L, v0);
    const dx = sx.slice(), dy = sy.slice(), x = x0.slice(), y = y0.slice();
    const rv = await autodiff(ReverseWithPrimal, k, Duplicated(x, dx), Duplicated(y, dy), Const(n), Active(c));
    expectClose(dx, g.slice(0, n), 1e-6, "dx");
    expectClose(dy, g.slice(n, 2 * n), 1e-6, "dy");
    expect(Array.from(dy).every((v) => v === 0)).toBe(true);
    expectClose(rv.derivs[3]!, g[2 * n], 1e-6, "dc");
    const yc = y0.slice();
    expect(Object.is(rv.primal, k.call(x0.slice(), yc, n, c))).toBe(true);
    expect(Array.from(y)).toEqual(Array.from(yc));

    // forward: tangent of the return and of y's final contents
    const tx = randArray(r, n), ty = randArray(r, n), tc = -0.4;
    const dir = [...tx, ...ty, tc];
    const yFinal = (v: number[]) => { const yy = Float64Array.from(v.slice(n, 2 * n)); k.call(Float64Array.from(v.slice(0, n)), yy, n, v[2 * n]); return yy; };
    const retOf = (v: number[]) => num(k.call(Float64Array.from(v.slice(0, n)), Float64Array.from(v.slice(n, 2 * n)), n, v[2 * n]));
    const tyExp = Array.from({ length: n }, (_, j) => fdDirectional((v) => yFinal(v)[j], v0, dir));
    const tyOut = ty.slice();
    const fw = await autodiff(Forward, k, Duplicated(x0.slice(), tx.slice()), Duplicated(y0.slice(), tyOut), Const(n), Duplicated(c, tc));
    expectClose(fw.tangent!, fdDirectional(retOf, v0, dir), 1e-6, "tangent of the return");
    expectClose(tyOut, tyExp, 1e-6, "tangent of y");
    // dot-product test against reverse: <g, dir> = tangent(ret) + <sx, tx> + <sy, ty_out>
    expectClose(dotp(dx, tx) + dotp(dy, ty) + rv.derivs[3]! * tc, fw.tangent! + dotp(sx, tx) + dotp(sy, tyOut), 1e-9, "dot-product test");
  });
});

describe("a function whose body never falls through", () => {
  // rustc at -O0 ends such bodies with `loop … br … end unreachable`: the loop is left only by return
  it("a loop left only by return, then unreachable: both modes", async () => {
    const { Program, autodiff, ReverseWithPrimal, Forward, Active, Duplicated } = await import("../../src/index.js");
    const p = await Program.fromWat(`(module (func (export "k") (param $x f64) (result f64) (local $i i32)
      (loop $l
        (if (i32.ge_u (local.get $i) (i32.const 3)) (then (return (local.get $x))))
        (local.set $x (f64.mul (local.get $x) (f64.const 1.5)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))
      unreachable))`);
    const r = await autodiff(ReverseWithPrimal, p.kernel("k"), Active(2));
    expect(r.primal).toBe(6.75);
    expect(r.derivs).toEqual([3.375]);
    expect((await autodiff(Forward, p.kernel("k"), Duplicated(2, 1))).tangent).toBe(3.375);
  });
});
