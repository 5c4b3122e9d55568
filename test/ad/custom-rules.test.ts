// Custom derivative rules (Program.rule) on WAT modules: that calls use the rule and not the
// body, every activity pattern of one all-active rule (specialised per call site), exact
// `when` rules winning, pointer arguments (shadows written, Const ones discarded), rules for
// JS imports, `augmented` for values the call overwrites, and registration errors. Each
// derivative is checked against central differences and forward against reverse.
import { describe, expect, it } from "vitest";
import { Active, ArgumentError, Const, Duplicated, Forward, ForwardWithPrimal, Program, Reverse, ReverseWithPrimal, UnsupportedError, autodiff } from "../../src/index.js";
import { relErr } from "../helpers/check.js";
import type { Expr } from "../../src/ir/types.js";
import { forEachNode } from "../../src/ir/walk.js";

const fd = (f: (h: number) => number, h = 1e-6) => (f(h) - f(-h)) / (2 * h);

// g(x, p) = p·x³, computed through the bits of x (a reinterpret round trip): its body cannot
// be differentiated, so a derivative that comes out at all comes from the rule.
const scalarWat = `(module
  (import "env" "count" (func $count (param i32)))
  (import "Math" "sin" (func $sin (param f64) (result f64)))
  (memory (export "memory") 1)
  (func $g (export "g") (param $x f64) (param $p f64) (result f64)
    (local $y f64)
    (local.set $y (f64.reinterpret_i64 (i64.reinterpret_f64 (local.get $x))))
    (f64.mul (f64.mul (local.get $y) (f64.mul (local.get $y) (local.get $y))) (local.get $p)))
  (func (export "g_fwd") (param $x f64) (param $dx f64) (param $p f64) (param $dp f64) (result f64 f64)
    (call $g (local.get $x) (local.get $p))
    (f64.add (f64.mul (f64.mul (f64.const 3) (f64.mul (local.get $x) (local.get $x))) (f64.mul (local.get $p) (local.get $dx)))
             (f64.mul (f64.mul (local.get $x) (f64.mul (local.get $x) (local.get $x))) (local.get $dp))))
  (func (export "g_rev") (param $x f64) (param $p f64) (param $adj f64) (result f64 f64)
    (f64.mul (f64.mul (f64.const 3) (f64.mul (local.get $x) (local.get $x))) (f64.mul (local.get $p) (local.get $adj)))
    (f64.mul (f64.mul (local.get $x) (f64.mul (local.get $x) (local.get $x))) (local.get $adj)))
  ;; hand-specialised for p Const: counts its calls so the test can see which rule ran
  (func (export "g_rev_x") (param $x f64) (param $p f64) (param $adj f64) (result f64)
    (call $count (i32.const 1))
    (f64.mul (f64.mul (f64.const 3) (f64.mul (local.get $x) (local.get $x))) (f64.mul (local.get $p) (local.get $adj))))
  (func (export "g_fwd_tangent") (param $x f64) (param $dx f64) (param $p f64) (param $dp f64) (result f64)
    (f64.add (f64.mul (f64.mul (f64.const 3) (f64.mul (local.get $x) (local.get $x))) (f64.mul (local.get $p) (local.get $dx)))
             (f64.mul (f64.mul (local.get $x) (f64.mul (local.get $x) (local.get $x))) (local.get $dp))))
  ;; f(x, p) = sin(g(x, p)) + x·p
  (func (export "f") (param $x f64) (param $p f64) (result f64)
    (f64.add (call $sin (call $g (local.get $x) (local.get $p))) (f64.mul (local.get $x) (local.get $p)))))`;

async function scalarProgram(counter: { n: number } = { n: 0 }) {
  return Program.fromWat(scalarWat, { imports: { env: { count: (k: number) => { counter.n += k; } } } });
}

describe("custom rules on scalar functions", () => {
  const x = 0.7, p = 1.3;
  const exact = { dx: Math.cos(p * x ** 3) * 3 * p * x * x + p, dp: Math.cos(p * x ** 3) * x ** 3 + x };

  it("without a rule the body is refused; with it every activity pattern matches the analytic derivative", async () => {
    const bare = await scalarProgram();
    await expect(autodiff(Reverse, bare.kernel("f"), Active(x), Active(p))).rejects.toThrow(UnsupportedError);
    const prog = await scalarProgram();
    prog.rule("g", { forward: "g_fwd", reverse: "g_rev" });
    const k = prog.kernel("f");
    const r = await autodiff(ReverseWithPrimal, k, Active(x), Active(p));
    expect(r.primal).toBe(k.call(x, p));
    expect(relErr(r.derivs[0]!, exact.dx)).toBeLessThan(1e-14);
    expect(relErr(r.derivs[1]!, exact.dp)).toBeLessThan(1e-14);
    expect(relErr(r.derivs[0]!, fd((h) => k.call(x + h, p) as number))).toBeLessThan(1e-8);
    // the all-active rule specialised to each Const pattern
    const rx = await autodiff(Reverse, k, Active(x), Const(p));
    expect(rx.derivs[0]).toBe(r.derivs[0]);
    const rp = await autodiff(Reverse, k, Const(x), Active(p));
    expect(rp.derivs[1]).toBe(r.derivs[1]);
    const fx = await autodiff(ForwardWithPrimal, k, Duplicated(x, 1), Const(p));
    expect(relErr(fx.tangent!, exact.dx)).toBeLessThan(1e-14);
    expect(fx.primal).toBe(k.call(x, p));
    const fp = await autodiff(Forward, k, Const(x), Duplicated(p, 1));
    expect(relErr(fp.tangent!, exact.dp)).toBeLessThan(1e-14);
    const both = await autodiff(Forward, k, Duplicated(x, 0.3), Duplicated(p, -0.4));
    expect(relErr(both.tangent!, 0.3 * r.derivs[0]! - 0.4 * r.derivs[1]!)).toBeLessThan(1e-14);
  });

  it("a forward rule may return the tangent only: the function gives the primal", async () => {
    const prog = await scalarProgram();
    prog.rule("g", { forward: "g_fwd_tangent" });
    const k = prog.kernel("f");
    const fw = await autodiff(ForwardWithPrimal, k, Duplicated(x, 1), Duplicated(p, 0));
    expect(fw.primal).toBe(k.call(x, p));
    expect(relErr(fw.tangent!, exact.dx)).toBeLessThan(1e-14);
    // no reverse rule: reverse mode says so, naming the function
    await expect(autodiff(Reverse, k, Active(x), Active(p))).rejects.toThrow(/no rule of g has a reverse function/);
  });

  it("a rule written for the exact activity pattern wins over the all-active one", async () => {
    const counter = { n: 0 };
    const prog = await scalarProgram(counter);
    prog.rule("g", { forward: "g_fwd", reverse: "g_rev" });
    prog.rule("g", { reverse: "g_rev_x", when: ["active", "const"] });
    const k = prog.kernel("f");
    const r = await autodiff(Reverse, k, Active(x), Const(p));
    expect(counter.n).toBe(1);
    expect(relErr(r.derivs[0]!, exact.dx)).toBeLessThan(1e-14);
    await autodiff(Reverse, k, Active(x), Active(p));
    expect(counter.n).toBe(1); // the all-active pattern uses the all-active rule
  });

  it("a kernel that has a rule itself is differentiated by its rule", async () => {
    const prog = await scalarProgram();
    prog.rule("g", { forward: "g_fwd", reverse: "g_rev" });
    const r = await autodiff(Reverse, prog.kernel("g"), Active(x), Active(p));
    expect(relErr(r.derivs[0]!, 3 * p * x * x)).toBeLessThan(1e-14);
    expect(relErr(r.derivs[1]!, x ** 3)).toBeLessThan(1e-14);
  });

  it("registration checks signatures and patterns, naming what is expected", async () => {
    const prog = await scalarProgram();
    expect(() => prog.rule("g", { reverse: "g_fwd" })).toThrow(ArgumentError);
    expect(() => prog.rule("g", { reverse: "g_fwd" })).toThrow(/expected \(param f64 f64 f64\) \(result f64 f64\)/);
    expect(() => prog.rule("g", { forward: "g_rev" })).toThrow(/expected \(param f64 f64 f64 f64\) \(result f64 f64\) or \(param f64 f64 f64 f64\) \(result f64\)/);
    expect(() => prog.rule("nope", { reverse: "g_rev" })).toThrow(/no such function/);
    expect(() => prog.rule("g", { reverse: "nope" })).toThrow(/no function of the program/);
    expect(() => prog.rule("g", {})).toThrow(/at least one of forward and reverse/);
    expect(() => prog.rule("g", { reverse: "g_rev", when: ["active"] })).toThrow(/when has 1 entries/);
    expect(() => prog.rule("g", { reverse: "g_rev", when: ["dup", "active"] })).toThrow(/parameter 0 is a float/);
  });
});

// axpy(a, x, y, n): y += a·x over n doubles; the kernel returns Σ y².
const axpyWat = `(module (memory (export "memory") 1)
  (func $axpy (export "axpy") (param $a f64) (param $x i32) (param $y i32) (param $n i32) (local $i i32) (local $o i32)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $o (i32.shl (local.get $i) (i32.const 3)))
      (f64.store (i32.add (local.get $y) (local.get $o)) (f64.add (f64.load (i32.add (local.get $y) (local.get $o)))
        (f64.mul (local.get $a) (f64.load (i32.add (local.get $x) (local.get $o))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $next))))
  ;; forward: y += a x and dy += da x + a dx (the rule does the primal writes too)
  (func (export "axpy_fwd") (param $a f64) (param $da f64) (param $x i32) (param $dx i32) (param $y i32) (param $dy i32) (param $n i32) (local $i i32) (local $o i32)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $o (i32.shl (local.get $i) (i32.const 3)))
      (f64.store (i32.add (local.get $y) (local.get $o)) (f64.add (f64.load (i32.add (local.get $y) (local.get $o)))
        (f64.mul (local.get $a) (f64.load (i32.add (local.get $x) (local.get $o))))))
      (f64.store (i32.add (local.get $dy) (local.get $o)) (f64.add (f64.load (i32.add (local.get $dy) (local.get $o)))
        (f64.add (f64.mul (local.get $da) (f64.load (i32.add (local.get $x) (local.get $o))))
                 (f64.mul (local.get $a) (f64.load (i32.add (local.get $dx) (local.get $o)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $next))))
  ;; reverse: dx += a dy; da = Σ dy x (y's adjoint passes through unchanged)
  (func (export "axpy_rev") (param $a f64) (param $x i32) (param $dx i32) (param $y i32) (param $dy i32) (param $n i32) (result f64) (local $i i32) (local $o i32) (local $da f64)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $o (i32.shl (local.get $i) (i32.const 3)))
      (f64.store (i32.add (local.get $dx) (local.get $o)) (f64.add (f64.load (i32.add (local.get $dx) (local.get $o)))
        (f64.mul (local.get $a) (f64.load (i32.add (local.get $dy) (local.get $o))))))
      (local.set $da (f64.add (local.get $da) (f64.mul (f64.load (i32.add (local.get $dy) (local.get $o))) (f64.load (i32.add (local.get $x) (local.get $o))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $next)))
    (local.get $da))
  (func (export "k") (param $a f64) (param $x i32) (param $y i32) (param $n i32) (result f64) (local $i i32) (local $s f64) (local $v f64)
    (call $axpy (local.get $a) (local.get $x) (local.get $y) (local.get $n))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $v (f64.load (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $s (f64.add (local.get $s) (f64.mul (local.get $v) (local.get $v))))
      (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $next)))
    (local.get $s)))`;

describe("custom rules with pointer arguments", () => {
  const n = 6;
  const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
  const y = Float64Array.from({ length: n }, (_, i) => Math.cos(2 * i));
  const a = 0.8;

  it("shadows are written through; a Const buffer's shadow is discarded by specialisation", async () => {
    const plain = await Program.fromWat(axpyWat);
    const prog = await Program.fromWat(axpyWat);
    prog.rule("axpy", { forward: "axpy_fwd", reverse: "axpy_rev" });
    const k = prog.kernel("k"), kp = plain.kernel("k");
    for (const xConst of [false, true]) {
      const dx = new Float64Array(n), dy = new Float64Array(n);
      const xArg = xConst ? Const(x.slice()) : Duplicated(x.slice(), dx);
      const r = await autodiff(ReverseWithPrimal, k, Active(a), xArg, Duplicated(y.slice(), dy), Const(n));
      // against differentiating the body
      const dxp = new Float64Array(n), dyp = new Float64Array(n);
      const rp = await autodiff(ReverseWithPrimal, kp, Active(a), xConst ? Const(x.slice()) : Duplicated(x.slice(), dxp), Duplicated(y.slice(), dyp), Const(n));
      expect(r.primal).toBe(rp.primal);
      expect(relErr(r.derivs[0]!, rp.derivs[0]!)).toBeLessThan(1e-14);
      for (let i = 0; i < n; i++) {
        expect(relErr(dy[i], dyp[i])).toBeLessThan(1e-14);
        expect(relErr(dx[i], dxp[i])).toBeLessThan(1e-14);
        if (xConst) expect(dx[i]).toBe(0);
      }
      // central differences on a and y[2]
      const f = (aa: number, yy: Float64Array) => k.call(aa, x.slice(), yy.slice(), n) as number;
      expect(relErr(r.derivs[0]!, fd((h) => f(a + h, y)))).toBeLessThan(1e-8);
      expect(relErr(dy[2], fd((h) => { const yy = y.slice(); yy[2] += h; return f(a, yy); }))).toBeLessThan(1e-8);
      // forward along (ta, tx, ty) equals <gradient, tangent>
      const tx = Float64Array.from({ length: n }, (_, i) => Math.cos(3 * i)), ty = Float64Array.from({ length: n }, (_, i) => Math.sin(5 * i));
      const fw = await autodiff(Forward, k, Duplicated(a, 0.6), xConst ? Const(x.slice()) : Duplicated(x.slice(), tx.slice()), Duplicated(y.slice(), ty.slice()), Const(n));
      let dot = 0.6 * r.derivs[0]!;
      for (let i = 0; i < n; i++) dot += ty[i] * dy[i] + (xConst ? 0 : tx[i] * dx[i]);
      expect(relErr(fw.tangent!, dot)).toBeLessThan(1e-12);
    }
    // the Const-x call site runs a specialised copy of the rule without the dx work
    const ir = prog.derivativeIR(k, "reverse", { params: ["active", "const-ptr", "dup", "const"], resultActive: true });
    const spec = ir.functions.find((f) => f.name.includes("__for_"));
    expect(spec).toBeDefined();
    let stores = 0;
    forEachNode(spec!.body as Expr, (e) => { if (e.kind === "store") stores++; });
    expect(stores).toBe(0); // axpy_rev's only stores go to dx
  });
});

describe("custom rules for host (JS) imports", () => {
  const wat = `(module
    (import "env" "soft" (func $soft (param f64) (result f64)))
    (memory (export "memory") 1)
    (func (export "k") (param $x f64) (param $w f64) (result f64)
      (f64.mul (local.get $w) (call $soft (f64.mul (local.get $x) (local.get $x))))))`;
  const soft = (v: number) => Math.log1p(Math.exp(v));
  const dsoft = (v: number) => 1 / (1 + Math.exp(-v));

  it("a JS rule makes an imported function differentiable in both modes", async () => {
    const bare = await Program.fromWat(wat, { imports: { env: { soft } } });
    await expect(autodiff(Reverse, bare.kernel("k"), Active(0.5), Active(2))).rejects.toThrow(/env\.soft/);
    const prog = await Program.fromWat(wat, { imports: { env: { soft } } });
    prog.rule("env.soft", { forward: (v: number, t: number) => [soft(v), dsoft(v) * t], reverse: (v: number, adj: number) => dsoft(v) * adj });
    const k = prog.kernel("k");
    const x = 0.5, w = 2;
    const r = await autodiff(Reverse, k, Active(x), Active(w));
    expect(relErr(r.derivs[0]!, w * dsoft(x * x) * 2 * x)).toBeLessThan(1e-14);
    expect(relErr(r.derivs[1]!, soft(x * x))).toBeLessThan(1e-14);
    expect(relErr(r.derivs[0]!, fd((h) => k.call(x + h, w) as number))).toBeLessThan(1e-8);
    const fw = await autodiff(Forward, k, Duplicated(x, 1), Const(w));
    expect(relErr(fw.tangent!, r.derivs[0]!)).toBeLessThan(1e-14);
  });
});

describe("augmented: values the call overwrites reach the reverse rule", () => {
  // sq(p): p[0] = p[0]²  in place. Its reverse needs the old p[0]: augmented saves it in a
  // slot of the module's own memory (a stack at 1024, top in a global) and returns the slot.
  const wat = `(module (memory (export "memory") 1)
    (global $top (mut i32) (i32.const 1024))
    (func $sq (export "sq") (param $p i32) (f64.store (local.get $p) (f64.mul (f64.load (local.get $p)) (f64.load (local.get $p)))))
    (func (export "sq_aug") (param $p i32) (result i32)
      (f64.store (global.get $top) (f64.load (local.get $p)))
      (global.set $top (i32.add (global.get $top) (i32.const 8)))
      (i32.sub (global.get $top) (i32.const 8)))
    (func (export "sq_rev") (param $p i32) (param $dp i32) (param $slot i32)
      (f64.store (local.get $dp) (f64.mul (f64.load (local.get $dp)) (f64.mul (f64.const 2) (f64.load (local.get $slot)))))
      (global.set $top (local.get $slot)))
    (func (export "sq_rev_late") (param $p i32) (param $dp i32)
      (f64.store (local.get $dp) (f64.mul (f64.load (local.get $dp)) (f64.mul (f64.const 2) (f64.load (local.get $p))))))
    (func (export "k") (param $p i32) (result f64)
      (call $sq (local.get $p)) (call $sq (local.get $p)) (f64.load (local.get $p))))`;

  it("with augmented the derivative of p⁴ is exact; reading p late in the reverse rule would not be", async () => {
    const prog = await Program.fromWat(wat);
    prog.rule("sq", { reverse: "sq_rev", augmented: "sq_aug" });
    const p0 = 1.1;
    const dp = new Float64Array(1);
    const r = await autodiff(ReverseWithPrimal, prog.kernel("k"), Duplicated(Float64Array.of(p0), dp));
    expect(r.primal).toBe(p0 ** 2 * p0 ** 2);
    expect(relErr(dp[0], 4 * p0 ** 3)).toBeLessThan(1e-14);
    expect(r.stats.tapeBytes).toBeGreaterThanOrEqual(8); // the two slots returned by sq_aug
    const late = await Program.fromWat(wat);
    late.rule("sq", { reverse: "sq_rev_late" });
    const dl = new Float64Array(1);
    await autodiff(Reverse, late.kernel("k"), Duplicated(Float64Array.of(p0), dl));
    expect(relErr(dl[0], 4 * p0 ** 3)).toBeGreaterThan(0.1);
  });

  it("augmented needs a reverse rule, and its signature is checked", async () => {
    const prog = await Program.fromWat(wat);
    expect(() => prog.rule("sq", { augmented: "sq_aug", forward: "sq_rev_late" })).toThrow(/augmented is only used with a reverse rule/);
    expect(() => prog.rule("sq", { reverse: "sq_rev_late", augmented: "sq_aug" })).toThrow(/expected \(param i32 i32 i32\)/);
  });
});

describe("rules that could be silently unused or misread", () => {
  it("a function nothing calls is refused (an inlined callee would ignore its rule) unless standalone", async () => {
    const prog = await scalarProgram();
    // g_fwd is never called: a rule for it would serve only autodiff on g_fwd itself
    expect(() => prog.rule("g_rev_x", { reverse: "g_rev_x", standalone: false } as never)).toThrow(/never called in the module.*shrinkLevel: 1/);
    expect(() => prog.rule("f", { forward: "g_fwd" })).toThrow(/never called/);
    // standalone: the function is then differentiated by its rule as a kernel
    const k = await scalarProgram();
    k.rule("g", { forward: "g_fwd", reverse: "g_rev", standalone: true });
    const r = await autodiff(Reverse, k.kernel("g"), Active(0.5), Active(2));
    expect(relErr(r.derivs[0]!, 3 * 2 * 0.25)).toBeLessThan(1e-14);
  });

  it("a JS forward rule for an import may return the tangent alone; the import gives the value", async () => {
    const wat = `(module (import "env" "sq" (func $sq (param f64) (result f64))) (memory (export "memory") 1)
      (func (export "k") (param $x f64) (result f64) (f64.mul (f64.const 2) (call $sq (local.get $x)))))`;
    let calls = 0;
    const prog = await Program.fromWat(wat, { imports: { env: { sq: (x: number) => { calls++; return x * x; } } } });
    prog.rule("env.sq", { forward: (x: number, t: number) => 2 * x * t });
    const fw = await autodiff(ForwardWithPrimal, prog.kernel("k"), Duplicated(3, 1));
    expect(fw.primal).toBe(18);
    expect(fw.tangent).toBe(12);
    expect(calls).toBe(1);
  });

  it("a registration that fails leaves no rule and no import behind", async () => {
    const prog = await scalarProgram();
    const before = prog.ir.functions.length;
    expect(() => prog.rule("g", { forward: () => [0, 0], reverse: "g_fwd" })).toThrow(ArgumentError);
    expect(prog.ir.functions.length).toBe(before);
    expect(prog.ir.functions.find((f) => f.name === "g")?.rules).toBeUndefined();
  });
});
