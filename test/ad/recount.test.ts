// Loop counts the reverse sweep computes instead of reading them from the tape: a loop with an
// exact closed-form count whose counter starts from a constant or an unassigned-in-loop local
// gets its count and its counter's final value on the way back in (trip-count.ts
// recountOnExit), so nested loops over read-only data record nothing per run. Each shape is
// checked against finite differences and forward mode, Reverse against ReverseWithPrimal bit
// for bit, and for a tape that does not grow with the trip counts where nothing else is recorded.
import { describe, expect, it } from "vitest";
import { Const, Duplicated, Forward, Program, Reverse, ReverseWithPrimal, autodiff } from "../../src/index.js";
import { relErr, richardsonFD, rng } from "../helpers/check.js";

const LEN = 10;
const term = `
  (local.set $a (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
  (local.set $s (f64.add (local.get $s) (f64.mul (local.get $a) (f64.mul (local.get $a) (f64.convert_i32_s (i32.add (local.get $j) (i32.const 1)))))))`;
const kernel = (body: string) => `(module (memory (export "memory") 1)
  (func (export "f") (param $x i32) (param $n i32) (param $k i32) (result f64)
    (local $i i32) (local $j i32) (local $c i32) (local $s f64) (local $a f64)
    ${body}
    (local.get $s)))`;
const outer = (inner: string, after = "") => `
  (block $out (loop $rows
    (br_if $out (i32.ge_s (local.get $j) (local.get $n)))
    ${inner}
    ${after}
    (local.set $j (i32.add (local.get $j) (i32.const 1)))
    (br $rows)))`;
const inner = (init: string, test: string) => `
    (local.set $i ${init})
    (block $done (loop $next
      (br_if $done ${test})
      ${term}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))`;

interface Shape { name: string; wat: string; args: [number, number][]; flat?: boolean }
const shapes: Shape[] = [
  { name: "a triangle: i from 0 while i < j", wat: kernel(outer(inner("(i32.const 0)", "(i32.ge_s (local.get $i) (local.get $j))"))), args: [[0, 0], [1, 0], [4, 0], [LEN, 0]], flat: true },
  { name: "i from k while i < n, k stepped after each run", wat: kernel(outer(inner("(local.get $k)", "(i32.ge_s (local.get $i) (local.get $n))"), "(local.set $k (i32.add (local.get $k) (i32.const 2)))")),
    args: [[5, 0], [6, 1], [3, -2], [7, 7]] },
  { name: "i from k while i != j + 2 (unsigned count)", wat: kernel(outer(inner("(local.get $k)", "(i32.eq (local.get $i) (i32.add (local.get $j) (i32.const 2)))"))), args: [[3, 0], [6, 2], [4, 1]] },
  { name: "unsigned: i from k while i < j (k above j runs nothing)", wat: kernel(outer(inner("(local.get $k)", "(i32.ge_u (local.get $i) (local.get $j))"))), args: [[6, 0], [6, 3], [8, 9]], flat: true },
  { name: "the counter read after the inner loop, then reassigned", wat: kernel(outer(inner("(i32.const 1)", "(i32.ge_s (local.get $i) (local.get $n))"),
    `(local.set $s (f64.add (local.get $s) (f64.mul (f64.convert_i32_s (local.get $i)) (f64.load (local.get $x)))))
     (local.set $i (i32.const 77))`)), args: [[1, 0], [5, 0], [LEN, 0]] },
  { name: "the start reassigned in the preheader after a first value", wat: kernel(outer(`(local.set $c (local.get $j)) ${inner("(local.get $c)", "(i32.ge_s (local.get $i) (local.get $n))")} (local.set $c (i32.const 3))`)),
    args: [[4, 0], [LEN, 0]] },
  { name: "counter copies: m = i read before the step, 5 on entry (not the counter's value)", wat: kernel(`
    (local.set $j (i32.const 5))
    (local.set $i (i32.const 0))
    (local.set $c (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      ${term.replace(/\$i\)/g, "$j)")}
      (local.set $i (i32.add (local.get $c) (i32.const 1)))
      (local.set $c (local.get $i))
      (local.set $j (local.get $i))
      (br $next)))`), args: [[0, 0], [1, 0], [4, 0], [LEN, 0]] },
  { name: "counter copies: the loop's counter class reset in an outer loop (i = c + 1; c = i; a triangle)", wat: kernel(outer(`
    (local.set $i (i32.const 0))
    (local.set $c (local.get $i))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $j)))
      ${term}
      (local.set $i (i32.add (local.get $c) (i32.const 1)))
      (local.set $c (local.get $i))
      (br $next)))`)), args: [[0, 0], [3, 0], [LEN, 0]], flat: true },
];

describe("loop counts recomputed by the reverse sweep", () => {
  for (const s of shapes) {
    it(`${s.name}: finite differences, forward, Reverse = ReverseWithPrimal${s.flat ? ", a tape that does not grow with n" : ""}`, async () => {
      const p = await Program.fromWat(s.wat);
      const k = p.kernel("f");
      const r = rng(s.name.length * 31);
      const tapes: number[] = [];
      for (const [n, kk] of s.args) {
        const x0 = Float64Array.from({ length: LEN }, () => r() * 2 - 1);
        const g = new Float64Array(LEN), gp = new Float64Array(LEN);
        const a = await autodiff(Reverse, k, Duplicated(x0.slice(), g), Const(n), Const(kk));
        const b = await autodiff(ReverseWithPrimal, k, Duplicated(x0.slice(), gp), Const(n), Const(kk));
        tapes.push(b.stats.tapeBytes);
        const at = `n = ${n}, k = ${kk}`;
        expect(b.primal, at).toBe(k.call(x0.slice(), n, kk));
        for (let j = 0; j < LEN; j++) {
          expect(Object.is(g[j], gp[j]), `${at}: Reverse dx[${j}]`).toBe(true);
          const fd = richardsonFD((h) => { const v = x0.slice(); v[j] += h; return k.call(v, n, kk) as number; }, 1e-3);
          expect(relErr(gp[j], fd), `${at}: dx[${j}] ${gp[j]} vs finite differences ${fd}`).toBeLessThan(1e-6);
        }
        const dir = Float64Array.from({ length: LEN }, () => r() * 2 - 1);
        const fw = await autodiff(Forward, k, Duplicated(x0.slice(), dir.slice()), Const(n), Const(kk));
        expect(relErr(fw.tangent as number, gp.reduce((acc, v, j) => acc + v * dir[j], 0)), `${at}: forward`).toBeLessThan(1e-10);
      }
      if (s.flat) expect(new Set(tapes).size, `tape bytes ${tapes}`).toBe(1);
    });
  }
});
