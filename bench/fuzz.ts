// A fuzzing campaign: random kernels (bench/fuzz/generator.ts) differentiated in both modes
// and checked against the primal and finite differences (bench/fuzz/property.ts), with
// fast-check's shrinking on failure.
//
//   node dist/bench/fuzz.js --count N [--seed S] [--max-failures F] [--optimize L|fast] [--size small|medium]
//                           [--no-minimize] [--out DIR]
//
// Runs N programs (fast-check, numRuns N, seed S; default seed 20261127). On a failure the
// counterexample is shrunk by fast-check, then reduced further by bench/fuzz/minimize.ts
// (unless --no-minimize), printed as WAT and saved as DIR/<hash>.wat (default
// test/fuzz/regressions/, which test/fuzz/fuzz.test.ts runs as regression tests) with a
// JSON comment header holding the input seed and the kernel signature; then the campaign
// goes on with the remaining count under the next seed, until F (default 5) failures.
// Exit status 1 if anything failed. Programs are compiled as a user's are by default (optimize:
// "tiered": the checked calls run the unoptimized first tier); --optimize fast checks the
// optimized tier, --optimize L a binaryen level.
//
// Run it as built JS under plain node (npx tsc -p tsconfig.json first).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { type FuzzProgram, MEDIUM, SMALL, programArbitrary, sigOf, toWat } from "./fuzz/generator.js";
import { minimize } from "./fuzz/minimize.js";
import { regressionText } from "./fuzz/regression.js";
import { checkProgramDetailed, type CheckDetails } from "./fuzz/property.js";

interface Options { count: number; seed: number; maxFailures: number; optimize: number | "fast" | undefined; out: string; size: "small" | "medium"; minimize: boolean }

function parseArgs(argv: string[]): Options {
  const o: Options = {
    count: 100, seed: 20261127, maxFailures: 5, optimize: undefined, size: "small", minimize: true,
    out: fileURLToPath(new URL("../../test/fuzz/regressions/", import.meta.url)),
  };
  const usage = () => {
    console.error("usage: node dist/bench/fuzz.js --count N [--seed S] [--max-failures F] [--optimize L|fast] [--size small|medium] [--no-minimize] [--out DIR]");
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    const int = () => { const n = Number(v); if (!Number.isInteger(n)) usage(); i++; return n; };
    if (a === "--count") o.count = int();
    else if (a === "--seed") o.seed = int();
    else if (a === "--max-failures") o.maxFailures = int();
    else if (a === "--optimize") { if (v === "fast") { o.optimize = "fast"; i++; } else o.optimize = int(); }
    else if (a === "--out" && v !== undefined) { o.out = v; i++; }
    else if (a === "--size" && (v === "small" || v === "medium")) { o.size = v; i++; }
    else if (a === "--no-minimize") o.minimize = false;
    else usage();
  }
  if (o.count < 1) usage();
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const totals: CheckDetails = { failure: null, fdUnreliable: 0, fdChecked: 0 };
  let checked = 0, passed = 0, remaining = o.count, round = 0, shrinkCalls = 0;
  const failures: { file: string; failure: string }[] = [];
  const categories = new Map<string, number>();
  let lastReport = performance.now();

  while (remaining > 0 && failures.length < o.maxFailures) {
    const seed = o.seed + round++;
    let calls = 0;
    const prop = fc.asyncProperty(programArbitrary(o.size === "small" ? SMALL : MEDIUM), fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (program, inputSeed) => {
      calls++;
      const d = await checkProgramDetailed(program, inputSeed, { optimize: o.optimize });
      totals.fdUnreliable += d.fdUnreliable;
      totals.fdChecked += d.fdChecked;
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        console.error(`  … ${checked + calls} programs checked (including shrink steps), ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
      return d.failure === null;
    });
    const run = await fc.check(prop, { seed, numRuns: remaining });
    checked += run.numRuns;
    passed += run.failed ? run.numRuns - 1 : run.numRuns;
    remaining -= run.numRuns;
    shrinkCalls += calls - run.numRuns;
    if (!run.failed) break;
    if (!run.counterexample) {
      console.error(`fast-check stopped without a counterexample: ${run.errorInstance ?? ""}`);
      failures.push({ file: "(none)", failure: String(run.errorInstance) });
      break;
    }
    const [shrunk, inputSeed] = run.counterexample;
    const recheck = async (p: FuzzProgram) => (await checkProgramDetailed(p, inputSeed, { optimize: o.optimize })).failure;
    let program = shrunk;
    let failure = (await recheck(shrunk)) ?? "(did not fail again when re-run: flaky?)";
    if (o.minimize && failure.includes(":")) {
      const m = await minimize(shrunk, failure, recheck);
      console.error(`  minimized with ${m.checks} more checks: ${toWat(shrunk).length} → ${toWat(m.program).length} characters of WAT`);
      program = m.program;
      failure = m.failure;
    }
    const text = regressionText(program, inputSeed, failure, { fcSeed: seed, fcPath: run.counterexamplePath, minimized: o.minimize, size: o.size, ...(o.optimize === undefined ? {} : { optimize: o.optimize }) });
    const hash = createHash("sha256").update(toWat(program)).digest("hex").slice(0, 12);
    mkdirSync(o.out, { recursive: true });
    const file = `${o.out.replace(/\/$/, "")}/${hash}.wat`;
    const existed = existsSync(file);
    if (!existed) writeFileSync(file, text);
    const cat = failure.split(":")[0];
    categories.set(cat, (categories.get(cat) ?? 0) + 1);
    failures.push({ file, failure });
    console.log(`\nFAILURE after ${run.numRuns} programs (fast-check seed ${seed}, ${run.numShrinks} shrinks), input seed ${inputSeed}:\n${failure}\n`);
    console.log(toWat(program));
    console.log(`\n${existed ? "already saved as" : "saved as"} ${file}\n`);
  }

  const secs = (performance.now() - t0) / 1000;
  console.log(`checked ${checked} programs, ${passed} passed, ${failures.length} failed` +
    ` (${shrinkCalls} more runs while shrinking); ${secs.toFixed(1)} s, ${(1000 * secs / Math.max(1, checked + shrinkCalls)).toFixed(0)} ms per program`);
  console.log(`finite differences: ${totals.fdChecked} entries compared, ${totals.fdUnreliable} with inconsistent FD estimates (checked by the dot-product test only)`);
  if (failures.length) {
    console.log(`failures by category: ${[...categories].map(([c, n]) => `${c} ${n}`).join(", ")}`);
    for (const f of failures) console.log(`  ${f.file}: ${f.failure.split("\n")[0]}`);
  }
  if (remaining > 0 && failures.length >= o.maxFailures) console.log(`stopped after ${o.maxFailures} failures with ${remaining} programs left`);
  process.exit(failures.length ? 1 : 0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
