// Buffers of a kernel that cannot write memory are not copied back after a call (only the
// shadows are): Kernel.mayWriteMemory decides it from the module (stores in the kernel or any
// function it calls, imports other than Math, custom rules). Checked here: the decision on
// kernels that store directly, through a callee, through an import and after program.rule,
// and that every kind of call still leaves the caller's arrays with the right contents.
import { describe, expect, it } from "vitest";
import { Const, Duplicated, Forward, Program, Reverse, ReverseWithPrimal, autodiff } from "../../src/index.js";

const wat = `(module
  (import "env" "poke" (func $poke (param i32)))
  (func $sin (import "Math" "sin") (param f64) (result f64))
  (memory (export "memory") 1)
  (func $sumsin (export "sumsin") (param $x i32) (param $n i32) (result f64)
    (local $i i32) (local $s f64)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $s (f64.add (local.get $s) (call $sin (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $s))
  (func $scale (param $x i32) (param $n i32)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (f64.store (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))
        (f64.mul (f64.const 2) (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
  (func (export "scaled") (param $x i32) (param $n i32) (result f64)
    (call $scale (local.get $x) (local.get $n))
    (call $sumsin (local.get $x) (local.get $n)))
  (func (export "poked") (param $x i32) (param $n i32) (result f64)
    (call $poke (local.get $x))
    (call $sumsin (local.get $x) (local.get $n))))`;

describe("buffers copied back only when the kernel can write memory", () => {
  it("decides from stores, callees, imports and rules; the arrays hold the right contents after every kind of call", async () => {
    const imports = { env: { poke: (p: number) => { new Float64Array(program.memory.buffer, p, 1)[0] = 0.25; } } };
    const program: Program = await Program.fromWat(wat, { imports });
    const sumsin = program.kernel("sumsin"), scaled = program.kernel("scaled"), poked = program.kernel("poked");
    expect(sumsin.mayWriteMemory).toBe(false);
    expect(scaled.mayWriteMemory).toBe(true); // through the callee $scale
    expect(poked.mayWriteMemory).toBe(true); // an import that is not Math's
    const x0 = [0.5, -1, 2];
    // read-only: x unchanged, the gradient and tangent copied back
    const x = Float64Array.from(x0), dx = new Float64Array(3);
    const r = await autodiff(ReverseWithPrimal, sumsin, Duplicated(x, dx), Const(3));
    expect([...x]).toEqual(x0);
    expect(r.primal).toBe(x0.reduce((s, v) => s + Math.sin(v), 0));
    expect([...dx]).toEqual(x0.map(Math.cos));
    const t = Float64Array.from([1, 2, 3]);
    const f = await autodiff(Forward, sumsin, Duplicated(Float64Array.from(x0), t), Const(3));
    expect(f.tangent).toBeCloseTo(x0.reduce((s, v, i) => s + Math.cos(v) * (i + 1), 0), 14);
    // writing kernels: x comes back written, by the primal and by the derivatives
    for (const run of [
      async (y: Float64Array) => scaled.call(y, 3),
      async (y: Float64Array) => autodiff(Reverse, scaled, Duplicated(y, new Float64Array(3)), Const(3)),
      async (y: Float64Array) => autodiff(Forward, scaled, Duplicated(y, new Float64Array(3)), Const(3)),
    ]) {
      const y = Float64Array.from(x0);
      await run(y);
      expect([...y]).toEqual(x0.map((v) => 2 * v));
    }
    const z = Float64Array.from(x0);
    poked.call(z, 3);
    expect([...z]).toEqual([0.25, -1, 2]);
    // a custom rule is user code: every kernel of the program then copies its buffers back
    program.rule("sumsin", { forward: (_x: number, _dx: number, _n: number) => 0, reverse: (_x: number, _dx: number, _n: number, _adj: number) => [] });
    expect(sumsin.mayWriteMemory).toBe(true);
  });
});
