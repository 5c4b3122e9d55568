// `npm run bench:rules`: what custom derivative rules (Program.rule) cost and save, on
// assembly/matmul.ts (C = A·B, n×n, then Σ C²: matmul_loss):
//  (a) the reverse gradient (A, B Duplicated) with the hand-written all-active rule
//      against differentiating matmul's loops (a Program without rules), n = 64 and 128;
//  (b) A Const: the all-active rule specialised by wasm-autodiff to the call site (zero
//      tangents, discarded shadows, folded away) against the hand-specialised `when` rule
//      (matmul_fwd_constA / matmul_rev_constA), reverse and forward: ratio generic / hand,
//      target ≤ 1.1.
// Every derivative is checked before anything is timed: rule against loops, generic
// against hand (relErr ≤ 1e-12), one finite difference per size, forward against reverse.
//
// Replicas: the same derivative code runs up to ±15 % faster or slower in one Program than
// in another identical one at n = 128 (the rules' column-strided loops are memory-bound,
// so where each Program's memory lands matters). Each variant is therefore measured on
// `--replicas` fresh Programs (default 3); a variant's time in a round is the mean over
// its replicas. All subjects are sampled round-robin in one process (bench/measure.ts);
// figures are medians over rounds, ratios medians of per-round ratios.
//
//   node dist/bench/rules.js [--quick] [--rounds N] [--replicas K] [--json FILE]
import "./v8-state.js"; // first: puts V8 in the post-detach state before anything is timed
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { Const, Duplicated, Forward, Program, Reverse, autodiff, type AutodiffResult } from "../src/index.js";
import { type Subject, type TimingOptions, calibrate, interleave, median, perRoundRatios, quantile, timingFor } from "./measure.js";
import { relErr, rng, uniform } from "./random.js";

// ---- command line ----
function parseArgs(argv: string[]) {
  const out = { quick: false, json: null as string | null, rounds: null as number | null, replicas: null as number | null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") out.quick = true;
    else if (a === "--json" && i + 1 < argv.length) out.json = argv[++i];
    else if (a === "--rounds" && i + 1 < argv.length) out.rounds = Number(argv[++i]);
    else if (a === "--replicas" && i + 1 < argv.length) out.replicas = Number(argv[++i]);
    else {
      console.error(`usage: node dist/bench/rules.js [--quick] [--rounds N] [--replicas K] [--json FILE]\nunknown or incomplete argument: ${a}`);
      process.exit(2);
    }
  }
  for (const k of ["rounds", "replicas"] as const)
    if (out[k] !== null && !(Number.isInteger(out[k]) && out[k]! >= 1)) {
      console.error(`--${k} takes a positive integer`);
      process.exit(2);
    }
  return out;
}
const cli = parseArgs(process.argv.slice(2));
const timing: TimingOptions = timingFor(cli.quick, cli.rounds);
const REPLICAS = cli.replicas ?? (cli.quick ? 1 : 3);
const SIZES = [64, 128];
const AGREE = 1e-12; // rule vs loops, generic vs hand
const FD_TOL = 1e-6;
const TARGET = 1.1; // generic / hand

const log = (s: string) => process.stderr.write(s + "\n");
const t0 = performance.now();
const loadAtStart = loadavg()[0];
log(`bench:rules: node ${process.version}, ${cpus().length} cpus, ${timing.rounds} rounds, ${REPLICAS} replica(s)${cli.quick ? " (--quick: smoke test, not a measurement)" : ""}`);

// ---- programs ----
// dist/bench/rules.js sits two levels below the project root
const source = readFileSync(new URL("../../assembly/matmul.ts", import.meta.url), "utf8");
type Variant = "loops" | "generic" | "hand";
async function makeProgram(v: Variant): Promise<Program> {
  const p = await Program.fromAssemblyScript(source, { optimize: "fast" }); // (timed: the optimized tier at once)
  // loops: no rules, matmul's loops are differentiated; generic: the all-active rules only;
  // hand: plus the hand-specialised rules for a Const A
  if (v !== "loops") p.rule("matmul", { forward: "matmul_fwd", reverse: "matmul_rev" });
  if (v === "hand") p.rule("matmul", { forward: "matmul_fwd_constA", reverse: "matmul_rev_constA", when: ["const", "dup", "dup", "const"] });
  return p;
}
const programs: Record<Variant, Program[]> = { loops: [], generic: [], hand: [] };
for (let i = 0; i < REPLICAS; i++) for (const v of ["loops", "generic", "hand"] as const) programs[v].push(await makeProgram(v));

// ---- checks ----
interface Check { what: string; relErr: number; tol: number; ok: boolean }
const checks: Check[] = [];
const check = (what: string, err: number, tol: number) => {
  const c = { what, relErr: err, tol, ok: err <= tol };
  checks.push(c);
  if (!c.ok) console.warn(`WARNING ${what}: relative error ${err.toExponential(2)} > ${tol}`);
};
const maxRelErr = (a: Float64Array, b: Float64Array) => a.reduce((m, v, i) => Math.max(m, relErr(v, b[i])), 0);
const fd4 = (f: (t: number) => number, h: number) => (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h);
const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0);

/** matmul_loss at size n in one program: inputs fixed, shadows reset before every call. */
function makeCase(program: Program, n: number, constA: boolean) {
  const N = n * n;
  const r = rng(0x3a7 + n);
  const A = uniform(N, r, -1, 1), B = uniform(N, r, -1, 1), C = new Float64Array(N);
  const seedC = uniform(N, r, -1, 1), tA = uniform(N, r, -1, 1), tB = uniform(N, r, -1, 1);
  const gA = new Float64Array(N), gB = new Float64Array(N), gC = new Float64Array(N);
  const dA = new Float64Array(N), dB = new Float64Array(N), dC = new Float64Array(N);
  const k = program.kernel("matmul_loss");
  const a = (shadow: Float64Array) => (constA ? Const(A) : Duplicated(A, shadow));
  return {
    seedC, tA, tB, gA, gB, dC,
    primal: () => k.call(A, B, C, n),
    reverse: (): Promise<AutodiffResult> => {
      gA.fill(0); gB.fill(0); gC.set(seedC); // the seed on C is consumed by every call
      return autodiff(Reverse, k, a(gA), Duplicated(B, gB), Duplicated(C, gC), Const(n));
    },
    forward: (): Promise<AutodiffResult> => {
      dA.set(tA); dB.set(tB);
      return autodiff(Forward, k, a(dA), Duplicated(B, dB), Duplicated(C, dC), Const(n));
    },
    /** L = Σ C² + Σ seedC · C at A + dAj·e_j, B + dBj·e_j */
    L: (dAj: number, dBj: number, j: number) => {
      const a2 = A.slice(), b2 = B.slice(), c2 = new Float64Array(N);
      a2[j] += dAj; b2[j] += dBj;
      return (k.call(a2, b2, c2, n) as number) + dot(c2, seedC);
    },
  };
}

// the subjects: one per (size, measurement, replica)
const MEASURES = ["primal", "reverse loops", "reverse rule", "A Const reverse generic", "A Const reverse hand", "A Const forward generic", "A Const forward hand"] as const;
type Measure = (typeof MEASURES)[number];
const subjects: { n: number; measure: Measure; replica: number; subject: Subject; batch: number }[] = [];
const stats: Record<number, { tapeBytes: Record<string, number>; compileMs: Record<string, number> }> = {};
for (const n of SIZES) {
  log(`n = ${n}: checking derivatives ...`);
  stats[n] = { tapeBytes: {}, compileMs: {} };
  for (let i = 0; i < REPLICAS; i++) {
    const loops = makeCase(programs.loops[i], n, false), rule = makeCase(programs.generic[i], n, false);
    const generic = makeCase(programs.generic[i], n, true), hand = makeCase(programs.hand[i], n, true);
    const tag = `n=${n}${REPLICAS > 1 ? ` replica ${i}` : ""}`;
    // (a) rule vs loops, A and B Duplicated
    const rl = await loops.reverse(), rr = await rule.reverse();
    check(`${tag} reverse dL/dA: rule vs loops`, maxRelErr(rule.gA, loops.gA), AGREE);
    check(`${tag} reverse dL/dB: rule vs loops`, maxRelErr(rule.gB, loops.gB), AGREE);
    // (b) A Const: generic (specialised) vs hand, and against the loops
    const rg = await generic.reverse(), rh = await hand.reverse();
    check(`${tag} A Const, reverse dL/dB: generic vs hand`, maxRelErr(generic.gB, hand.gB), AGREE);
    check(`${tag} A Const, reverse dL/dB: generic vs loops`, maxRelErr(generic.gB, loops.gB), AGREE);
    const fg = await generic.forward(), fh = await hand.forward();
    check(`${tag} A Const, forward tangent: generic vs hand`, relErr(fg.tangent as number, fh.tangent as number), AGREE);
    check(`${tag} A Const, forward dC: generic vs hand`, maxRelErr(generic.dC, hand.dC), AGREE);
    if (i === 0) {
      const j = (n * n) >> 1;
      check(`n=${n} reverse dL/dA[${j}] (rule) vs finite difference`, relErr(rule.gA[j], fd4((t) => rule.L(t, 0, j), 1e-3)), FD_TOL);
      check(`n=${n} reverse dL/dB[${j}] (rule) vs finite difference`, relErr(rule.gB[j], fd4((t) => rule.L(0, t, j), 1e-3)), FD_TOL);
      // forward along (0, tB) against reverse: ⟨∇_B L, tB⟩ = tangent + ⟨seedC, dC⟩
      check(`n=${n} A Const, forward vs ⟨reverse, tangent⟩`, relErr((fh.tangent as number) + dot(hand.dC, hand.seedC), dot(hand.gB, hand.tB)), 1e-10);
      Object.assign(stats[n].tapeBytes, { loops: rl.stats.tapeBytes, rule: rr.stats.tapeBytes, "A Const generic": rg.stats.tapeBytes, "A Const hand": rh.stats.tapeBytes });
      Object.assign(stats[n].compileMs, {
        "reverse loops": rl.stats.compileMs, "reverse rule": rr.stats.compileMs, "A Const reverse generic": rg.stats.compileMs,
        "A Const reverse hand": rh.stats.compileMs, "A Const forward generic": fg.stats.compileMs, "A Const forward hand": fh.stats.compileMs,
      });
    }
    const runs: Record<Measure, [() => unknown, boolean]> = {
      primal: [loops.primal, false], "reverse loops": [loops.reverse, true], "reverse rule": [rule.reverse, true],
      "A Const reverse generic": [generic.reverse, true], "A Const reverse hand": [hand.reverse, true],
      "A Const forward generic": [generic.forward, true], "A Const forward hand": [hand.forward, true],
    };
    for (const measure of MEASURES) {
      const [run, async] = runs[measure];
      subjects.push({ n, measure, replica: i, subject: { name: `${tag} ${measure}`, run, async }, batch: 0 });
    }
  }
}
const failed = checks.filter((c) => !c.ok);
if (failed.length) {
  console.error(`bench:rules: ${failed.length} derivative check(s) failed; not timing wrong derivatives`);
  for (const c of failed) console.error(`  ${c.what}: ${c.relErr.toExponential(2)} > ${c.tol}`);
  process.exit(1);
}

// ---- timing ----
for (const s of subjects) {
  log(`warming up ${s.subject.name} ...`);
  s.batch = (await calibrate(s.subject, timing)).batch;
}
const series = await interleave(subjects, timing.rounds, timing.minSampleMs, (r) => log(`round ${r + 1}/${timing.rounds}`));

// ---- results ----
/** Per round: the mean over replicas of ms per call. */
const perRound = (n: number, m: Measure): number[] => {
  const mine = subjects.flatMap((s, i) => (s.n === n && s.measure === m ? [series[i].perCallMs] : []));
  return Array.from({ length: timing.rounds }, (_, r) => mine.reduce((t, xs) => t + xs[r], 0) / mine.length);
};
const replicaMedians = (n: number, m: Measure) => subjects.flatMap((s, i) => (s.n === n && s.measure === m ? [median(series[i].perCallMs)] : []));
const ratio = (n: number, a: Measure, b: Measure) => {
  const rs = perRoundRatios(perRound(n, a), perRound(n, b));
  return { median: median(rs), iqr: [quantile(rs, 0.25), quantile(rs, 0.75)] as [number, number], perRound: rs };
};
const results = SIZES.map((n) => ({
  n,
  medianMs: Object.fromEntries(MEASURES.map((m) => [m, median(perRound(n, m))])) as Record<Measure, number>,
  replicaMedianMs: Object.fromEntries(MEASURES.map((m) => [m, replicaMedians(n, m)])) as Record<Measure, number[]>,
  perRoundMs: Object.fromEntries(MEASURES.map((m) => [m, perRound(n, m)])),
  ratios: {
    loopsOverRule: ratio(n, "reverse loops", "reverse rule"),
    ruleOverPrimal: ratio(n, "reverse rule", "primal"),
    loopsOverPrimal: ratio(n, "reverse loops", "primal"),
    genericOverHandReverse: ratio(n, "A Const reverse generic", "A Const reverse hand"),
    genericOverHandForward: ratio(n, "A Const forward generic", "A Const forward hand"),
  },
  ...stats[n],
}));

// ---- tables ----
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(3));
const x2 = (x: number) => x.toFixed(2);
const bytes = (b: number) => (b >= 1e4 ? `${(b / 1e6).toFixed(2)} MB` : `${b} B`);
const spread = (xs: number[]) => (xs.length > 1 ? `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}` : "–");
function table(header: string[], rowsOut: string[][]) {
  const widths = header.map((h, i) => Math.max(h.length, ...rowsOut.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rowsOut) console.log(line(r));
}
console.log("(a) matmul_loss reverse gradient, A and B Duplicated: the all-active rule vs differentiating matmul's loops");
table(["n", "primal (ms)", "loops (ms)", "rule (ms)", "loops / rule", "rule / primal", "loops / primal", "tape loops", "tape rule"],
  results.map((r) => [String(r.n), ms(r.medianMs.primal), ms(r.medianMs["reverse loops"]), ms(r.medianMs["reverse rule"]),
    x2(r.ratios.loopsOverRule.median), x2(r.ratios.ruleOverPrimal.median), x2(r.ratios.loopsOverPrimal.median), bytes(r.tapeBytes.loops), bytes(r.tapeBytes.rule)]));
console.log();
console.log(`(b) A Const: the all-active rule specialised to the call site (generic) vs the hand-written \`when\` rule (hand); target generic / hand ≤ ${TARGET}`);
const status = (x: number) => (x <= TARGET ? "ok" : "MISS");
table(["n", "mode", "generic (ms)", "hand (ms)", "generic / hand", "IQR", "target", "replicas: generic", "hand"],
  results.flatMap((r) => (["reverse", "forward"] as const).map((m) => {
    const q = m === "reverse" ? r.ratios.genericOverHandReverse : r.ratios.genericOverHandForward;
    const g = `A Const ${m} generic` as Measure, h = `A Const ${m} hand` as Measure;
    return [String(r.n), m, ms(r.medianMs[g]), ms(r.medianMs[h]), x2(q.median), `${x2(q.iqr[0])}–${x2(q.iqr[1])}`, `≤ ${TARGET} ${status(q.median)}`,
      spread(r.replicaMedianMs[g]), spread(r.replicaMedianMs[h])];
  })));
console.log();
console.log(`Medians of ${timing.rounds} interleaved rounds (samples ≥ ${timing.minSampleMs} ms) of the mean over ${REPLICAS} Program replica(s) per variant;`);
console.log("ratios are medians of per-round ratios; \"replicas\" gives the range of the replicas' own medians (same code, different Programs).");
console.log("Times are through the public API (autodiff with typed arrays, copied in and out of linear memory), shadows reset before every call.");
for (const c of checks) console.log(`check ${c.what}: rel. err. ${c.relErr.toExponential(1)} ok`);
const loadAtEnd = loadavg()[0];
if (Math.max(loadAtStart, loadAtEnd) > 0.5)
  console.log(`\nLoad average ${loadAtStart.toFixed(2)} → ${loadAtEnd.toFixed(2)} on ${cpus().length} cpus: other processes were running, expect noisy figures (JSON has per-round values).`);
if (cli.quick) console.log("\n--quick: a smoke test of the harness; do not quote these figures.");

if (cli.json) {
  const doc = {
    meta: {
      date: new Date().toISOString(), node: process.version, v8: process.versions.v8, platform: `${process.platform} ${process.arch}`,
      cpus: cpus().length, cpuModel: cpus()[0]?.model, quick: cli.quick, timing, replicas: REPLICAS, target: TARGET,
      loadavg: { start: loadAtStart, end: loadAtEnd }, wallSeconds: (performance.now() - t0) / 1000,
    },
    checks,
    results,
    series: subjects.map((s, i) => ({ n: s.n, measure: s.measure, replica: s.replica, batch: s.batch, perCallMs: series[i].perCallMs, sampleMs: series[i].sampleMs })),
  };
  writeFileSync(cli.json, JSON.stringify(doc, null, 2) + "\n");
  log(`bench:rules: wrote ${cli.json}`);
}
log(`bench:rules: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
