// `Reverse` without the primal: the entry's forward sweep is pruned of what only its result
// needed, and loops left with nothing but their counter are dropped, their trip count and
// final counter set from closed forms (dead-sweep.ts, trip-count.ts exactBackEdges). Every
// shape is checked three ways: the pruned sweep's gradient has the same bits as
// ReverseWithPrimal's (whose sweep is not pruned), it agrees with finite differences, and
// with forward mode along a random direction; and the IR shows which loops went.
import { describe, expect, it } from "vitest";
import { Const, Duplicated, Forward, Program, Reverse, ReverseWithPrimal, autodiff } from "../../src/index.js";
import type { CfgBlock, CfgBody, Expr, IRModule } from "../../src/ir/types.js";
import { forEachNode } from "../../src/ir/walk.js";
import { relErr, richardsonFD, rng } from "../helpers/check.js";

// kernels f(x, n, k): f64 over x[0..len) (read-only unless the shape says otherwise)
const loop = (init: string, test: string, body: string, step = "(local.set $i (i32.add (local.get $i) (i32.const 1)))") => `
  (local.set $i ${init})
  (block $done (loop $next
    (br_if $done ${test})
    ${body}
    ${step}
    (br $next)))`;
const term = (idx: string) => `
    (local.set $a (f64.load (i32.add (local.get $x) (i32.shl ${idx} (i32.const 3)))))
    (local.set $s (f64.add (local.get $s) (f64.add (f64.mul (local.get $a) (local.get $a)) (f64.sin (local.get $a)))))`;
const kernel = (body: string, after = "") => `(module
  (func $sin (import "Math" "sin") (param f64) (result f64))
  (memory (export "memory") 1)
  (func (export "f") (param $x i32) (param $n i32) (param $k i32) (result f64)
    (local $i i32) (local $j i32) (local $s f64) (local $a f64) (local $b f64)
    ${body}
    ${after}
    (local.get $s)))`.replace(/f64\.sin/g, "call $sin");

interface Shape { name: string; wat: string; dropped: boolean; ns: number[]; ks?: number[]; len?: (n: number, k: number) => number }
const shapes: Shape[] = [
  { name: "i from 0 while i < n (signed)", wat: kernel(loop("(i32.const 0)", "(i32.ge_s (local.get $i) (local.get $n))", term("(local.get $i)"))), dropped: true, ns: [0, 1, 2, 7, -3] },
  { name: "i from k while i < n (unsigned)", wat: kernel(loop("(local.get $k)", "(i32.ge_u (local.get $i) (local.get $n))", term("(local.get $i)"))), dropped: true, ns: [0, 3, 8], ks: [0, 2, 5] },
  { name: "i from k while i != n", wat: kernel(loop("(local.get $k)", "(i32.eq (local.get $i) (local.get $n))", term("(local.get $i)"))), dropped: true, ns: [4, 9], ks: [0, 4, 3] },
  { name: "Rosenbrock's two-point term, i < n − 1", wat: kernel(loop("(i32.const 0)", "(i32.ge_s (local.get $i) (i32.sub (local.get $n) (i32.const 1)))",
    `(local.set $b (f64.load (i32.add (local.get $x) (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 3)))))
     (local.set $a (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
     (local.set $a (f64.sub (local.get $b) (f64.mul (local.get $a) (local.get $a))))
     (local.set $s (f64.add (local.get $s) (f64.mul (f64.const 100) (f64.mul (local.get $a) (local.get $a)))))`)), dropped: true, ns: [0, 1, 2, 6] },
  { name: "the counter read after the loop", wat: kernel(loop("(local.get $k)", "(i32.ge_s (local.get $i) (local.get $n))", term("(local.get $i)")),
    `(local.set $s (f64.add (local.get $s) (f64.mul (f64.convert_i32_s (local.get $i)) (f64.load (local.get $x)))))`), dropped: true, ns: [1, 4, 6], ks: [0, 3, 5, 9] },
  { name: "nested: the inner loop goes, the outer stays", wat: kernel(`
    (block $out (loop $rows
      (br_if $out (i32.ge_s (local.get $j) (local.get $k)))
      ${loop("(i32.const 0)", "(i32.ge_s (local.get $i) (local.get $n))", term("(local.get $i)"))}
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $rows)))`), dropped: true, ns: [0, 3], ks: [0, 1, 3] },
  // not dropped: what the loop computes is needed (by the reverse sweep, by memory, by a second exit)
  { name: "a running value the reverse sweep needs (s · a)", wat: kernel(loop("(i32.const 0)", "(i32.ge_s (local.get $i) (local.get $n))",
    `(local.set $a (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
     (local.set $s (f64.add (f64.mul (local.get $s) (local.get $a)) (local.get $a)))`)), dropped: false, ns: [0, 1, 5] },
  { name: "a store in the loop", wat: kernel(loop("(i32.const 0)", "(i32.ge_s (local.get $i) (local.get $n))",
    `${term("(local.get $i)")}
     (f64.store (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))) (f64.mul (local.get $a) (f64.const 0.5)))`)), dropped: false, ns: [0, 1, 5] },
  { name: "a second exit (break when x[i] > 0.9)", wat: kernel(loop("(i32.const 0)", "(i32.ge_s (local.get $i) (local.get $n))",
    `${term("(local.get $i)")}
     (br_if $done (f64.gt (local.get $a) (f64.const 0.9)))`)), dropped: false, ns: [0, 3, 7] },
  { name: "the sum stored after the loop", wat: kernel(loop("(i32.const 0)", "(i32.ge_s (local.get $i) (local.get $n))", term("(local.get $i)")),
    `(f64.store (local.get $x) (local.get $s))`), dropped: false, ns: [1, 4] },
  { name: "a loop tested at the bottom (do-while)", wat: kernel(`(local.set $i (i32.const 0))
    (loop $next ${term("(local.get $i)")}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_s (local.get $i) (local.get $n))))`), dropped: false, ns: [1, 4] },
];

const LEN = 12;
const imports = {};

/** The loops (back edges) and f64 loads of the entry's augmented sweep, pruned (`Reverse`) or not. */
function augShape(mod: IRModule, pruned: boolean): { loops: number; loads: number } {
  const aug = mod.functions.find((f) => !f.name.startsWith("__") && (pruned ? f.name.endsWith("_np_aug") : f.name.endsWith("_aug") && !f.name.endsWith("_np_aug")))!;
  expect(aug, "augmented sweep").toBeTruthy();
  const body = aug.body as CfgBody;
  const byId = new Map(body.blocks.map((b) => [b.id, b]));
  const edges = (b: CfgBlock) => (b.exit.kind === "goto" ? [b.exit.edge] : b.exit.kind === "branch" ? [b.exit.then, b.exit.else] : b.exit.kind === "switch" ? [...b.exit.targets, b.exit.default] : []);
  let loads = 0, loops = 0;
  const count = (e: Expr) => forEachNode(e, (n) => { if (n.kind === "load" && n.type === "f64") loads++; });
  for (const b of body.blocks) { b.body.forEach(count); for (const e of edges(b)) e.code.forEach(count); }
  const state = new Map<number, 1 | 2>();
  const dfs = (id: number) => {
    state.set(id, 1);
    for (const e of edges(byId.get(id)!)) {
      if (state.get(e.target) === 1) loops++;
      else if (!state.has(e.target)) dfs(e.target);
    }
    state.set(id, 2);
  };
  dfs(body.entry);
  return { loops, loads };
}

describe("Reverse without the primal: a pruned forward sweep", () => {
  for (const s of shapes) {
    it(`${s.name}: ${s.dropped ? "the loop goes" : "the loop stays"}; same bits as ReverseWithPrimal, finite differences, forward`, async () => {
      const p = await Program.fromWat(s.wat, { imports });
      const k = p.kernel("f");
      const sig = { params: ["dup", "const", "const"] as const, resultActive: true };
      const pruned = augShape(p.derivativeIR(k, "reverse", { ...sig, params: [...sig.params] }, { primalUsed: false }), true);
      const full = augShape(p.derivativeIR(k, "reverse", { ...sig, params: [...sig.params] }), false);
      expect(full.loads).toBeGreaterThan(0);
      expect(pruned.loops, "loops left in the pruned sweep").toBe(full.loops - (s.dropped ? 1 : 0));
      const r = rng(s.name.length * 131);
      for (const n of s.ns)
        for (const kk of s.ks ?? [0]) {
          const x0 = Float64Array.from({ length: LEN }, () => r() * 1.6 - 0.8);
          const g = new Float64Array(LEN), gp = new Float64Array(LEN);
          const x1 = x0.slice(), x2 = x0.slice();
          const res = await autodiff(Reverse, k, Duplicated(x1, g), Const(n), Const(kk));
          const resp = await autodiff(ReverseWithPrimal, k, Duplicated(x2, gp), Const(n), Const(kk));
          expect(res.primal).toBeUndefined();
          const at = `n = ${n}, k = ${kk}`;
          for (let j = 0; j < LEN; j++) {
            expect(Object.is(g[j], gp[j]), `${at}: dx[${j}] ${g[j]} vs ${gp[j]}`).toBe(true);
            expect(Object.is(x1[j], x2[j]), `${at}: x[${j}] after the call`).toBe(true);
          }
          // finite differences of f (a store into x changes x: only where the kernel reads x before writing)
          const f = (v: Float64Array) => k.call(v, n, kk) as number;
          for (let j = 0; j < LEN; j++) {
            const fd = richardsonFD((h) => { const v = x0.slice(); v[j] += h; return f(v); }, 1e-3);
            expect(relErr(g[j], fd), `${at}: dx[${j}] ${g[j]} vs finite differences ${fd}`).toBeLessThan(1e-6);
          }
          const dir = Float64Array.from({ length: LEN }, () => r() * 2 - 1);
          const fw = await autodiff(Forward, k, Duplicated(x0.slice(), dir.slice()), Const(n), Const(kk));
          const dot = g.reduce((acc, v, j) => acc + v * dir[j], 0);
          expect(relErr(fw.tangent as number, dot), `${at}: forward ${fw.tangent} vs gradient · direction ${dot}`).toBeLessThan(1e-10);
        }
    });
  }

  it("Rosenbrock in AssemblyScript: the pruned sweep records the count and the counter only, and the gradient is the same", async () => {
    const { readFileSync } = await import("node:fs");
    const p = await Program.fromAssemblyScript(readFileSync(new URL("../../assembly/rosenbrock.ts", import.meta.url), "utf8"));
    const k = p.kernel("rosenbrock");
    expect(augShape(p.derivativeIR(k, "reverse", { params: ["dup", "const"], resultActive: true }, { primalUsed: false }), true)).toEqual({ loops: 0, loads: 0 });
    const r = rng(7);
    for (const n of [0, 1, 2, 100]) {
      const x = p.alloc(Float64Array, Math.max(n, 1)), g = p.alloc(Float64Array, Math.max(n, 1)), gp = p.alloc(Float64Array, Math.max(n, 1));
      for (let j = 0; j < n; j++) x.array[j] = r() * 2 - 1;
      const a = await autodiff(Reverse, k, Duplicated(x, g), Const(n));
      const b = await autodiff(ReverseWithPrimal, k, Duplicated(x, gp), Const(n));
      expect(a.stats.tapeBytes).toBeLessThanOrEqual(b.stats.tapeBytes);
      for (let j = 0; j < n; j++) expect(Object.is(g.array[j], gp.array[j]), `n = ${n}: dx[${j}]`).toBe(true);
      if (n === 100) expect(b.primal).toBeCloseTo(k.call(x, n) as number, 12);
    }
  });
});

// Found by an adversarial review of the closed-form counts and the pruned sweep.
describe("Reverse without the primal: review findings", () => {
  const check = async (wat: string, args: [number, number][], LEN = 6) => {
    const p = await Program.fromWat(wat);
    const k = p.kernel("f");
    const r = rng(wat.length);
    for (const [a, b] of args) {
      const x0 = Float64Array.from({ length: LEN }, () => r() * 2 - 1);
      const g = new Float64Array(LEN), gp = new Float64Array(LEN);
      await autodiff(Reverse, k, Duplicated(x0.slice(), g), Const(a), Const(b));
      const res = await autodiff(ReverseWithPrimal, k, Duplicated(x0.slice(), gp), Const(a), Const(b));
      const at = `(${a}, ${b})`;
      expect(res.primal, `${at}: primal`).toBe(k.call(x0.slice(), a, b));
      for (let j = 0; j < LEN; j++) {
        const fd = richardsonFD((h) => { const v = x0.slice(); v[j] += h; return k.call(v, a, b) as number; }, 1e-3);
        expect(relErr(gp[j], fd), `${at}: dx[${j}] ${gp[j]} vs finite differences ${fd}`).toBeLessThan(1e-6);
        expect(Object.is(g[j], gp[j]), `${at}: Reverse dx[${j}] ${g[j]} vs ${gp[j]}`).toBe(true);
      }
      const dir = Float64Array.from({ length: LEN }, () => r() * 2 - 1);
      const fw = await autodiff(Forward, k, Duplicated(x0.slice(), dir.slice()), Const(a), Const(b));
      expect(relErr(fw.tangent as number, gp.reduce((s, v, j) => s + v * dir[j], 0))).toBeLessThan(1e-10);
    }
    return k;
  };

  it("a counter copy assigned only in an inner loop keeps its value across the outer loop (not its initial zero)", async () => {
    // i = c + 1; c = i: in the outer loop's second run c starts where the first run left it,
    // so the inner loop runs once, not n times. Both reverse modes took it for n runs.
    const wat = `(module (memory (export "memory") 1)
     (func (export "f") (param $x i32) (param $n i32) (param $m i32) (result f64)
      (local $i i32) (local $j i32) (local $c i32) (local $s f64) (local $a f64)
      (block $out (loop $rows
        (br_if $out (i32.ge_s (local.get $j) (local.get $m)))
        (local.set $i (i32.const 0))
        (block $done (loop $next
          (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
          (local.set $a (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
          (local.set $s (f64.add (local.get $s) (f64.mul (local.get $a) (f64.mul (local.get $a) (local.get $a)))))
          (local.set $i (i32.add (local.get $c) (i32.const 1)))
          (local.set $c (local.get $i))
          (br $next)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rows)))
      (local.get $s)))`;
    const k = await check(wat, [[3, 1], [3, 2], [2, 3], [5, 4], [0, 2], [6, 0]]);
    // x = 1, 2, 3 with n = 3, m = 2: 1 + 8 + 27, then x[0] once more
    expect(k.call(new Float64Array([1, 2, 3]), 3, 2)).toBe(37);
    const g = new Float64Array(3);
    await autodiff(Reverse, k, Duplicated(new Float64Array([1, 2, 3]), g), Const(3), Const(2));
    expect([...g]).toEqual([6, 12, 27]);
  });

  it("a dead division that can trap stays in the pruned sweep: Reverse traps where the primal does", async () => {
    const wat = `(module (memory (export "memory") 1)
     (func (export "f") (param $x i32) (param $n i32) (param $k i32) (result f64)
      (local $i i32) (local $c i32) (local $s f64) (local $a f64)
      (block $done (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $a (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $s (f64.add (local.get $s) (f64.mul (local.get $a) (local.get $a))))
        (local.set $c (i32.add (local.get $c) (i32.div_s (i32.const 10) (i32.sub (local.get $i) (local.get $k)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
      (local.get $s)))`;
    const k = await check(wat, [[3, 7], [6, -1], [0, 0]]);
    const x = new Float64Array([1, 2, 3]);
    for (const mode of [Reverse, ReverseWithPrimal]) {
      const g = new Float64Array(3);
      await expect(autodiff(mode, k, Duplicated(x, g), Const(3), Const(1))).rejects.toThrow(/divide by zero/);
      expect([...g]).toEqual([0, 0, 0]);
    }
    expect(() => k.call(x, 3, 1)).toThrow(/divide by zero/);
  });
});
