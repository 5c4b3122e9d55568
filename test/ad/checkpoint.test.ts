// Checkpointed loops (program.checkpoint): the reverse sweep replays segments of a long loop
// from snapshots instead of recording every iteration. Derivatives must be bit-identical to
// the recorded ones for every segment length (including segments longer than the loop, one
// iteration, and counts that are multiples of it), for loops that exit mid-body, branch,
// nest loops and update buffers in place; the tape must stay bounded (RK4, 10^6 steps).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Active, ArgumentError, Const, Duplicated, Forward, Program, ReverseWithPrimal, UnsupportedError, autodiff } from "../../src/index.js";
import { relErr } from "../helpers/check.js";

const rk4Source = readFileSync(new URL("../../assembly/rk4.ts", import.meta.url), "utf8");

let compiled: Promise<Program>[] = [];
/** A fresh program for `fresh`, else one of two shared ones (recorded, checkpointed: re-marked per call). */
async function rk4Gradient(steps: number, every: number | null | undefined, fresh = false) {
  if (compiled.length === 0) compiled = [Program.fromAssemblyScript(rk4Source), Program.fromAssemblyScript(rk4Source)];
  const p = fresh ? await Program.fromAssemblyScript(rk4Source) : await compiled[every === undefined ? 0 : 1];
  if (every !== undefined) p.checkpoint("rk4", every === null ? {} : { every });
  const st = Float64Array.of(1.2, 0.8), dst = Float64Array.of(1, -0.5), prm = Float64Array.of(1.1, 0.4, 0.4, 0.1), dprm = new Float64Array(4);
  const r = await autodiff(ReverseWithPrimal, p.kernel("rk4"), Duplicated(st, dst), Duplicated(prm, dprm), Duplicated(new Float64Array(10), new Float64Array(10)), Active(0.01), Const(steps));
  return { primal: r.primal, state: [...st], dst: [...dst], dprm: [...dprm], ddt: r.derivs[3], tape: r.stats.tapeBytes, memory: p.memory.buffer.byteLength };
}

describe("checkpointed loops", () => {
  it("RK4: the same derivatives, bit for bit, for every segment length", async () => {
    for (const steps of [0, 1, 7, 64, 100]) {
      const ref = await rk4Gradient(steps, undefined);
      for (const every of [1, 3, 8, 64, 1000, null]) {
        const got = await rk4Gradient(steps, every);
        expect({ ...got, tape: 0, memory: 0 }, `steps=${steps} every=${every}`).toEqual({ ...ref, tape: 0, memory: 0 });
        // (a checkpointed kernel records its inner loops' counts, which the recording of every step recomputes)
        if (steps === 100 && (every === 8 || every === 64)) expect(got.tape).toBeLessThan(ref.tape / 3.5);
      }
    }
  });

  it("RK4 with 10^6 steps differentiates within a bounded tape, and long runs match the recorded gradient", async () => {
    const got = await rk4Gradient(1_000_000, null, true);
    // ~1000 snapshots of under 1 KB, plus one replayed segment: a few MB, where recording every step takes 192 MB
    expect(got.memory).toBeLessThan(16 << 20);
    expect(got.tape).toBeLessThan(2 << 20);
    expect([got.ddt, ...got.dst, ...got.dprm].every(Number.isFinite)).toBe(true);
    const p = await Program.fromAssemblyScript(rk4Source);
    const st = Float64Array.of(1.2, 0.8);
    expect(p.kernel("rk4").call(st, Float64Array.of(1.1, 0.4, 0.4, 0.1), new Float64Array(10), 0.01, 1_000_000)).toBe(got.primal);
    expect(got.state).toEqual([...st]);
    // 2·10^5 steps: the same as recording every step (38 MB of tape), bit for bit
    const ref = await rk4Gradient(200_000, undefined, true), ck = await rk4Gradient(200_000, null, true);
    expect({ ...ck, tape: 0, memory: 0 }).toEqual({ ...ref, tape: 0, memory: 0 });
    expect(ck.memory).toBeLessThan(ref.memory / 4);
  }, 60_000);

  // a loop that exits in the middle of its body on a data-dependent test, with a branch and an
  // inner loop, updating x in place: x[j] ← x[j]·c + sin(x[j+1]) … until Σ exceeds a limit
  const wat = `(module
    (import "Math" "sin" (func $sin (param f64) (result f64)))
    (memory (export "memory") 1)
    (func (export "k") (param $x i32) (param $n i32) (param $c f64) (param $limit f64) (param $maxit i32) (result f64)
      (local $it i32) (local $j i32) (local $s f64) (local $v f64)
      (block $done (loop $outer
        (local.set $s (f64.const 0))
        (local.set $j (i32.const 0))
        (block $jd (loop $inner
          (br_if $jd (i32.ge_s (local.get $j) (i32.sub (local.get $n) (i32.const 1))))
          (local.set $v (f64.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3)))))
          (if (f64.gt (local.get $v) (f64.const 0))
            (then (local.set $v (f64.add (f64.mul (local.get $v) (local.get $c)) (call $sin (f64.load offset=8 (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3))))))))
            (else (local.set $v (f64.mul (local.get $v) (f64.const 0.5)))))
          (f64.store (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 3))) (local.get $v))
          (local.set $s (f64.add (local.get $s) (f64.mul (local.get $v) (local.get $v))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $inner)))
        (br_if $done (f64.gt (local.get $s) (local.get $limit)))
        (local.set $it (i32.add (local.get $it) (i32.const 1)))
        (br_if $done (i32.ge_s (local.get $it) (local.get $maxit)))
        (br $outer)))
      (f64.add (local.get $s) (f64.convert_i32_s (local.get $it)))))`;

  it("a loop with mid-body exits, branches and an inner loop: bit-identical, and right against finite differences", async () => {
    const n = 5;
    const x0 = Float64Array.from({ length: n }, (_, i) => 0.3 + 0.1 * i - (i === 2 ? 0.6 : 0));
    for (const [limit, maxit] of [[1e9, 40], [3.0, 1000], [1e9, 0]]) {
      const results = [];
      for (const every of [undefined, 1, 4, 16, 100]) {
        const p = await Program.fromWat(wat);
        if (every !== undefined) p.checkpoint("k", { every });
        const dx = Float64Array.from({ length: n }, (_, i) => (i === 1 ? 1 : 0));
        const r = await autodiff(ReverseWithPrimal, p.kernel("k"), Duplicated(x0.slice(), dx), Const(n), Active(1.01), Const(limit), Const(maxit));
        results.push({ primal: r.primal, dx: [...dx], dc: r.derivs[2] });
      }
      for (const r of results.slice(1)) expect(r, `limit=${limit} maxit=${maxit}`).toEqual(results[0]);
      // forward mode is not affected by checkpoints: dot-product test against the checkpointed reverse
      const p = await Program.fromWat(wat);
      p.checkpoint("k", { every: 4 });
      const tx = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
      const seedOut = Float64Array.from({ length: n }, (_, i) => (i === 1 ? 1 : 0));
      const xt = x0.slice();
      const fw = await autodiff(Forward, p.kernel("k"), Duplicated(xt, tx.slice()), Const(n), Duplicated(1.01, 0.3), Const(limit), Const(maxit));
      const tangentOut = tx.slice();
      await autodiff(Forward, p.kernel("k"), Duplicated(x0.slice(), tangentOut), Const(n), Duplicated(1.01, 0.3), Const(limit), Const(maxit));
      const lhs = fw.tangent! + seedOut.reduce((s, w, i) => s + w * tangentOut[i], 0);
      const rhs = results[0].dx.reduce((s, g, i) => s + g * tx[i], 0) + 0.3 * results[0].dc!;
      expect(relErr(lhs, rhs), `dot limit=${limit}`).toBeLessThan(1e-10);
    }
  });

  it("refuses what a snapshot cannot restore, naming the function", async () => {
    const p = await Program.fromWat(`(module (memory (export "memory") 1)
      (func $k (export "k") (param $x i32) (param $n i32) (result f64) (local $i i32) (local $s f64)
        (block $d (loop $l (br_if $d (i32.ge_s (local.get $i) (local.get $n)))
          (f64.store (i32.const 64) (f64.load (local.get $x)))
          (local.set $s (f64.add (local.get $s) (f64.mul (f64.load (i32.const 64)) (f64.load (local.get $x)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
        (local.get $s)))`);
    p.checkpoint("k", { every: 2 });
    await expect(autodiff(ReverseWithPrimal, p.kernel("k"), Duplicated(Float64Array.of(2), new Float64Array(1)), Const(3))).rejects.toThrow(UnsupportedError);
    await expect(autodiff(ReverseWithPrimal, p.kernel("k"), Duplicated(Float64Array.of(2), new Float64Array(1)), Const(3))).rejects.toThrow(/function k: the loop writes memory outside the argument buffers/);
    expect(() => p.checkpoint("k", { every: 0 })).toThrow(ArgumentError);
    expect(() => p.checkpoint("nope")).toThrow(/no such function/);
  });
});
