// Random-program fuzzing of both AD modes (bench/fuzz/: generator, oracle, minimizer).
// 1. fast-check generates small kernels (f64/f32, Duplicated buffers, in-place updates,
//    reused locals, nested loops with early exits, branches, direct/recursive/indirect
//    calls, Math intrinsics) and checks each one: primal of the *WithPrimal modes ≡
//    kernel.call, reverse gradient and forward tangents against finite differences, and
//    forward against reverse (bench/fuzz/property.ts). On failure the shrunk counterexample
//    is printed as WAT. Longer campaigns: `node dist/bench/fuzz.js --count N [--seed S]`,
//    which also minimizes further and saves failures under test/fuzz/regressions/.
//    FUZZ_RUNS=n overrides the number of programs (default 300, ≈ 30 s). Programs with an odd
//    input seed run as a user's first calls do (the unoptimized first tier of optimize:
//    "tiered"), the others optimized (optimize: "fast").
// 2. Every saved regression (test/fuzz/regressions/*.wat) must pass: each is a minimal
//    program that once failed, so these fail until the bug they record is fixed.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FuzzProgram, programArb, toWat } from "../../bench/fuzz/generator.js";
import { checkProgramDetailed } from "../../bench/fuzz/property.js";
import { parseRegression } from "../../bench/fuzz/regression.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = 20261127;

describe("fuzz: random kernels, both modes against the primal, finite differences and each other", () => {
  it(`${RUNS} programs (fast-check seed ${SEED})`, async () => {
    const failures = new WeakMap<FuzzProgram, string>();
    let last: { program: FuzzProgram; seed: number; failure: string } | null = null;
    await fc.assert(
      fc.asyncProperty(programArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (program, seed) => {
        // both compilation tiers: the default's first (unoptimized) tier, and the optimized one
        const failure = (await checkProgramDetailed(program, seed, seed % 2 ? {} : { optimize: "fast" })).failure;
        if (failure === null) return true;
        failures.set(program, failure);
        last = { program, seed, failure };
        return false;
      }),
      {
        seed: SEED, numRuns: RUNS,
        reporter(run) {
          if (!run.failed) return;
          const [program, seed] = run.counterexample ?? (last ? [last.program, last.seed] : [null, null]);
          if (!program) throw new Error(`fuzz property failed without a counterexample: ${run.errorInstance}`);
          const failure = failures.get(program) ?? last?.failure ?? "(unknown)";
          throw new Error(`fuzz failure after ${run.numRuns} programs, ${run.numShrinks} shrinks ` +
            `(fast-check seed ${run.seed}, path ${run.counterexamplePath}), input seed ${seed}:\n${failure}\n\n${toWat(program)}\n\n` +
            "Minimize and save it: node dist/bench/fuzz.js --count N --seed S, or save it by hand under test/fuzz/regressions/ (see bench/fuzz/regression.ts).");
        },
      },
    );
  }, 600_000);
});

const DIR = new URL("./regressions/", import.meta.url);
const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith(".wat")).sort() : [];

describe("fuzz regressions (test/fuzz/regressions/*.wat)", () => {
  if (files.length === 0) it("none saved", () => expect(files).toEqual([]));
  it.each(files)("%s", async (file) => {
    const { seed, case: saved } = parseRegression(readFileSync(new URL(file, DIR), "utf8"));
    for (const options of [{}, { optimize: "fast" as const }]) {
      const failure = (await checkProgramDetailed(saved, seed, options)).failure;
      expect(failure, `${file} (input seed ${seed}, ${options.optimize ?? "first tier"}) still fails:\n${failure}\n\n${saved.wat}`).toBeNull();
    }
  }, 120_000);
});
