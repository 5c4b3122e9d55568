// Checkpointing on random kernels: for each generated program (bench/fuzz/generator.ts),
// reverse mode with the kernel's loops checkpointed every 1, 2 or 3 iterations must give
// exactly what recording every iteration gives (primal, adjoints, shadows and buffers,
// bit for bit), or be refused with an UnsupportedError naming the checkpointed loop
// (module calls in the loop, memory a snapshot cannot restore).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { programArb, sigOf, toWat } from "../../bench/fuzz/generator.js";
import { Active, Const, Duplicated, Program, ReverseWithPrimal, UnsupportedError, autodiff } from "../../src/index.js";
import { rng } from "../helpers/check.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300) / 3;

async function reverse(wat: string, sig: ReturnType<typeof sigOf>, seed: number, every: number | null) {
  const p = await Program.fromWat(wat);
  if (every !== null) p.checkpoint("k", { every });
  const r = rng(seed);
  const bufs: (Float64Array | Float32Array)[] = [], shadows: (Float64Array | Float32Array)[] = [];
  const args = sig.params.map((q) => {
    if (q.k === "int") return Const(q.value);
    if (q.k === "ints") return Const(Int32Array.from(q.values));
    if (q.k === "scalar") { const v = r() * 2 - 1; return q.active ? Active(v) : Const(v); }
    const make = (f: () => number) => (q.ty === "f64" ? Float64Array.from({ length: q.len }, f) : Float32Array.from({ length: q.len }, f));
    const b = make(() => r() * 2 - 1), s = make(() => r() * 2 - 1);
    bufs.push(b); shadows.push(s);
    return Duplicated(b, s);
  });
  const out = await autodiff(ReverseWithPrimal, p.kernel("k"), ...args);
  return JSON.stringify({ primal: out.primal, derivs: out.derivs, bufs: bufs.map((b) => [...b]), shadows: shadows.map((s) => [...s]) });
}

describe("fuzz: checkpointed loops replay exactly what recording gives", () => {
  it(`${RUNS} programs`, async () => {
    let compared = 0, refused = 0;
    await fc.assert(fc.asyncProperty(programArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 3 }), async (program, seed, every) => {
      const wat = toWat(program), sig = sigOf(program);
      let plain: string;
      try { plain = await reverse(wat, sig, seed, null); } catch { return true; } // the recorded path has its own fuzz test
      try {
        const ck = await reverse(wat, sig, seed, every);
        expect(ck, `every=${every}, seed ${seed}\n${wat}`).toBe(plain);
        compared++;
      } catch (e) {
        if (!(e instanceof UnsupportedError) || !/checkpointed loop/.test(e.message)) throw e;
        refused++;
      }
      return true;
    }), { seed: 20261128, numRuns: RUNS });
    // most generated kernels have a loop the checkpoint can take
    expect(compared).toBeGreaterThan(RUNS / 5);
    console.log(`checkpoint fuzz: ${compared} compared bit for bit, ${refused} refused`);
  }, 600_000);
});
