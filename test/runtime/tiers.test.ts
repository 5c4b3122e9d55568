// Tiered compilation (optimize: "tiered", the default): a derivative runs unoptimized at
// first and is optimized with the "fast" pass list once its calls have taken as long as its
// first compile; results are bit-identical across the tiers (determinism.test.ts checks more
// kernels), and run-time stops still name their cause after the swap.
import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { Active, ArgumentError, Const, Duplicated, Forward, Program, Reverse, UnsupportedError, autodiff } from "../../src/index.js";

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

// The primal's tiers (runtime/primal.ts): created unoptimized, optimized once kernel.call has
// taken as long as the creation, as a module over the first instance's state. The module keeps
// state in every form a swap could lose: a mutable global, memory from a data segment, a start
// function that must not run again, and a heap grown through the virtual memory size.
const stateful = `(module
  (memory (export "memory") 1)
  (data (i32.const 64) "\\00\\00\\00\\00\\00\\00\\f8\\3f") ;; 1.5 at byte 64
  (global $count (mut i32) (i32.const 0))
  (global $boots (mut i32) (i32.const 0))
  (func $boot (global.set $boots (i32.add (global.get $boots) (i32.const 1))))
  (start $boot)
  (func (export "tick") (result i32) (global.set $count (i32.add (global.get $count) (i32.const 1))) (global.get $count))
  (func (export "boots") (result i32) (global.get $boots))
  (func (export "peek") (param $a i32) (result f64) (f64.load (local.get $a)))
  (func (export "poke") (param $a i32) (param $v f64) (f64.store (local.get $a) (local.get $v)))
  (func (export "grow") (param $d i32) (result i32) (memory.grow (local.get $d)))
  (func (export "pages") (result i32) (memory.size)))`;

describe("the primal's tiers", () => {
  it("starts unoptimized, swaps to an optimized module over the same state, and gives the same bits", async () => {
    const p = await Program.fromWat(stateful);
    const call = (name: string, ...a: number[]) => p.kernel(name).call(...a);
    expect(p.primal.optimized).toBe(false);
    expect(p.primal.timed).toBe(true);
    expect(call("tick")).toBe(1);
    expect(call("tick")).toBe(2);
    expect(call("peek", 64)).toBe(1.5); // the data segment
    call("poke", 64, 2.25);
    expect(call("grow", 2)).toBe(1);
    expect(call("pages")).toBe(3);
    const before = p.primal.fn("tick");
    p.primal.ran(Infinity);
    expect(p.primal.due).toBe(true);
    expect(call("tick")).toBe(3); // optimizes first, then runs: the global went on counting
    expect(p.primal.optimized).toBe(true);
    expect(p.primal.timed).toBe(false);
    expect(p.primal.fn("tick")).not.toBe(before);
    expect(call("boots")).toBe(1); // the start function ran once
    expect(call("peek", 64)).toBe(2.25); // the data segment was not applied again
    expect(call("pages")).toBe(3); // the virtual memory size is the first instance's
    expect(call("grow", 1)).toBe(3);
    expect(call("pages")).toBe(4);
    expect(call("tick")).toBe(4);
  });

  it("tiers up through timed calls, bit-identical, and derivatives still see the program's state", async () => {
    const p = await Program.fromWat(rosenbrock);
    const k = p.kernel("f");
    const v1 = k.call(x0, n) as number;
    const started = performance.now();
    let calls = 0;
    while (!p.primal.optimized && performance.now() - started < 20000) { k.call(x0, n); calls++; }
    expect(p.primal.optimized).toBe(true);
    expect(calls).toBeGreaterThan(1);
    expect(Object.is(k.call(x0, n), v1)).toBe(true);
    const g = new Float64Array(n);
    const r = await autodiff(Reverse, k, Duplicated(x0.slice(), g), Const(n));
    expect(r.derivs).toEqual([null, null]);
    expect(maxRel(g, exact(x0))).toBeLessThan(1e-13);
  });

  it("a program's mutable globals are shared by the optimized primal and the derivative modules", async () => {
    // f(x) = s · x[0]², s a global the primal sets
    const wat = `(module (memory (export "memory") 1) (global $s (mut f64) (f64.const 1))
      (func (export "set") (param $v f64) (global.set $s (local.get $v)))
      (func (export "f") (param $x i32) (result f64) (f64.mul (global.get $s) (f64.mul (f64.load (local.get $x)) (f64.load (local.get $x))))))`;
    const p = await Program.fromWat(wat);
    p.primal.ran(Infinity);
    p.kernel("set").call(3); // optimizes, then sets s in the shared global
    expect(p.primal.optimized).toBe(true);
    const g = new Float64Array(1);
    await autodiff(Reverse, p.kernel("f"), Duplicated(Float64Array.of(2), g));
    expect(g[0]).toBe(12);
    expect(p.kernel("f").call(Float64Array.of(2))).toBe(12);
  });

  it("a program with rules (a JS rule for an import, a Wasm rule) tiers its primal up after they are registered", async () => {
    // k(x, w) = w · soft(sq(x)): soft a JS import with a JS rule, sq a module function with a Wasm rule
    const wat = `(module
      (import "env" "soft" (func $soft (param f64) (result f64)))
      (memory (export "memory") 1)
      (func $sq (export "sq") (param $x f64) (result f64) (f64.mul (local.get $x) (local.get $x)))
      (func (export "sq_rev") (param $x f64) (param $adj f64) (result f64) (f64.mul (f64.mul (f64.const 2) (local.get $x)) (local.get $adj)))
      (func (export "k") (param $x f64) (param $w f64) (result f64) (f64.mul (local.get $w) (call $soft (call $sq (local.get $x))))))`;
    const soft = (v: number) => Math.log1p(Math.exp(v));
    const dsoft = (v: number) => 1 / (1 + Math.exp(-v));
    const p = await Program.fromWat(wat, { imports: { env: { soft } } });
    const k = p.kernel("k");
    const v1 = k.call(0.5, 2) as number;
    p.rule("env.soft", { reverse: (v: number, adj: number) => dsoft(v) * adj });
    p.rule("sq", { reverse: "sq_rev" });
    p.primal.ran(Infinity);
    expect(Object.is(k.call(0.5, 2), v1)).toBe(true); // optimizes (the rule import is in the module now), then runs
    expect(p.primal.optimized).toBe(true);
    expect(v1).toBe(2 * soft(0.25));
    const r = await autodiff(Reverse, k, Active(0.5), Active(2));
    expect(r.derivs[0]).toBeCloseTo(2 * dsoft(0.25) * 2 * 0.5, 14);
    expect(r.derivs[1]).toBeCloseTo(soft(0.25), 14);
  });

  it('optimize: "fast" and levels optimize the primal at once, without timing calls', async () => {
    for (const optimize of ["fast", 0, 3] as const) {
      const p = await Program.fromWat(stateful, { optimize });
      expect(p.primal.optimized).toBe(true);
      expect(p.primal.timed).toBe(false);
      expect(p.kernel("tick").call()).toBe(1);
    }
  });

  it("where synchronous compilation is refused, the optimized tier is swapped in when the asynchronous compile ends", async () => {
    const p = await Program.fromWat(stateful);
    const first = p.primal.fn("tick");
    const refused = vi.spyOn(WebAssembly, "Module").mockImplementation(function () { throw new RangeError("WebAssembly.Module(): Buffer size is larger than 4KB"); });
    try {
      p.primal.ran(Infinity);
      expect(p.kernel("tick").call()).toBe(1); // runs the first tier while the optimized one compiles
      expect(refused).toHaveBeenCalled();
    } finally {
      refused.mockRestore();
    }
    for (let i = 0; i < 100 && p.primal.fn("tick") === first; i++) await new Promise((r) => setTimeout(r, 10));
    expect(p.primal.fn("tick")).not.toBe(first);
    expect(p.primal.failure).toBe(null);
    expect(p.kernel("tick").call()).toBe(2);
  });
});
