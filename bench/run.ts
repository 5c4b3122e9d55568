// `npm run bench:ratios` (the second part of `npm run bench`, bench/suite.ts): primal,
// reverse-gradient and forward-derivative timings of the bench kernels through the public
// API, their ratios against targets, first-call (compile) latency and tape size, as a table
// on stdout (progress and warnings go to stderr).
//
//   node dist/bench/run.js [--quick] [--rounds N] [--json FILE]
//
// Run it as built JS under plain node, not tsx: importing binaryen under tsx takes ≈ 6 s
// (shared/STACK.md).
import "./v8-state.js"; // first: puts V8 in the post-detach state before anything is timed
import { existsSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Forward, type Mode, Reverse } from "../src/index.js";
import { type BenchCase, type Check, type FirstCall, CHECK_TOLERANCE, assemblyCase, heatCase, rosenbrockCase } from "./cases.js";
import { type Subject, type TimingOptions, calibrate, interleave, median, perRoundRatios, quantile, timingFor } from "./measure.js";

// ---- command line ----
function parseArgs(argv: string[]): { quick: boolean; json: string | null; rounds: number | null } {
  const out = { quick: false, json: null as string | null, rounds: null as number | null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") out.quick = true;
    else if (a === "--json" && i + 1 < argv.length) out.json = argv[++i];
    else if (a === "--rounds" && i + 1 < argv.length) out.rounds = Number(argv[++i]);
    else {
      console.error(`usage: node dist/bench/run.js [--quick] [--rounds N] [--json FILE]\nunknown or incomplete argument: ${a}`);
      process.exit(2);
    }
  }
  if (out.rounds !== null && !(Number.isInteger(out.rounds) && out.rounds >= 1)) {
    console.error("--rounds takes a positive integer");
    process.exit(2);
  }
  return out;
}

const cli = parseArgs(process.argv.slice(2));
// --quick is a smoke test of the harness (seconds, not a measurement): fewer rounds, short
// warm-up and samples. The full run follows shared/PEERS.md: ≥ 300 ms and ≥ 3 calls of
// warm-up, samples ≥ 10 ms, ≥ 10 rounds.
const timing: TimingOptions = timingFor(cli.quick, cli.rounds);
// First-call latency is one compile, easily disturbed by a GC or another process on a
// 2-core machine: take the median of this many fresh Programs.
// (5: single first calls on this 2-core machine spread by half their value, 48/68/42 ms for
// one MLP, and a median of 3 still moved by a third between runs)
const firstCallRepeats = cli.quick ? 1 : 5;

// dist/bench/run.js sits two levels below the project root, bench/run.ts one; resolving
// from the compiled file's URL (not the working directory) finds the .wat sources from
// any cwd.
const kernelsDir = new URL("../../bench/kernels/", import.meta.url);
if (!existsSync(fileURLToPath(new URL("rosenbrock.wat", kernelsDir)))) {
  console.error(`bench: kernel sources not found in ${fileURLToPath(kernelsDir)}; run the built file, dist/bench/run.js`);
  process.exit(2);
}

const log = (s: string) => process.stderr.write(s + "\n");

// ---- cases ----
const modes = ["primal", "reverse", "forward"] as const;
type ModeName = (typeof modes)[number];

type FirstCallFigures = FirstCall & { compileMsAll: number[] };

/** The first call on `firstCallRepeats` fresh Programs; the figures of the median compile. */
async function firstCall(c: BenchCase, mode: Mode): Promise<FirstCallFigures> {
  const all: FirstCall[] = [];
  for (let k = 0; k < firstCallRepeats; k++) all.push(await c.firstCall(mode));
  const mid = [...all].sort((a, b) => a.compileMs - b.compileMs)[(all.length - 1) >> 1];
  return { ...mid, compileMsAll: all.map((f) => f.compileMs) };
}

interface CaseResult {
  kernel: string;
  size: string;
  params: Record<string, number>;
  notes: string[];
  targets: BenchCase["targets"];
  error?: string;
  checks: Check[];
  firstCall: { reverse?: FirstCallFigures; forward?: FirstCallFigures };
  tapeBytes?: number;
  batch?: Record<ModeName, number>;
  perCallMs?: Record<ModeName, number[]>;
  sampleMs?: Record<ModeName, number[]>;
  medianMs?: Record<ModeName, number>;
  iqrMs?: Record<ModeName, [number, number]>;
  ratios?: { reverse: number[]; forward: number[] };
  ratio?: { reverse: number; forward: number };
  ratioIqr?: { reverse: [number, number]; forward: [number, number] };
  status?: { reverse?: "ok" | "MISS"; forward?: "ok" | "MISS" };
}

const projectRoot = new URL("../../", import.meta.url);
const seeded = (seed: number) => () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
const filled = (n: number, r: () => number, lo: number, hi: number) => Float64Array.from({ length: n }, () => lo + (hi - lo) * r());
/** ADBench GMM objective: gradient w.r.t. alphas, means and icf (x Const). */
function gmmCase(d: number, k: number, n: number) {
  const r = seeded(7), icf = k * (d + (d * (d - 1)) / 2);
  return assemblyCase(projectRoot, "gmm.ts", "gmm", `d=${d}, k=${k}, n=${n}`, { d, k, n },
    [filled(k, r, -1, 1), filled(k * d, r, -1, 1), filled(icf, r, -0.5, 0.5), { const: filled(n * d, r, -1, 1) },
      new Float64Array(k * d + 2 * k + 2 * d), d, k, n, 1.0, 0], { reverse: 4 });
}
/** ADBench LSTM objective: gradient w.r.t. the weights and the initial state (sequence Const). */
function lstmCase(l: number, h: number, T: number) {
  const r = seeded(11);
  return assemblyCase(projectRoot, "lstm.ts", "lstm", `l=${l}, h=${h}, T=${T}`, { l, h, T },
    [filled(l * 8 * h + 3 * h, r, -0.5, 0.5), filled(l * 2 * h, r, -0.5, 0.5), { const: filled(T * h, r, -1, 1) },
      new Float64Array(2 * h), l, h, T], { reverse: 4 });
}

const specs: { label: string; make: () => Promise<BenchCase> }[] = [
  { label: "rosenbrock n=200000", make: () => rosenbrockCase(kernelsDir, 200_000, { reverse: 3 }) },
  { label: "rosenbrock n=1000", make: () => rosenbrockCase(kernelsDir, 1000, {}) },
  { label: "heat n=200, steps=2000", make: () => heatCase(kernelsDir, 200, 2000, 0.2, { reverse: 4, forward: 2.5 }) },
  { label: "gmm d=2, k=5, n=1000", make: () => gmmCase(2, 5, 1000) },
  { label: "lstm l=2, h=16, T=50", make: () => lstmCase(2, 16, 50) },
];

const t0 = performance.now();
const loadAtStart = loadavg()[0];
log(`bench: node ${process.version}, ${cpus().length} cpus, ${timing.rounds} rounds${cli.quick ? " (--quick: smoke test, not a measurement)" : ""}`);

// Build every case, check its derivatives and measure its first call before timing
// anything. A case that fails to build or to differentiate is reported, not fatal: the
// other cases still run.
const cases: { c: BenchCase; res: CaseResult }[] = [];
const results: CaseResult[] = [];
let warmup: { of: string; reverse: number[]; forward: number[] } | null = null;
for (const spec of specs) {
  let c: BenchCase | null = null;
  const res: CaseResult = { kernel: spec.label.split(" ")[0], size: spec.label.slice(spec.label.indexOf(" ") + 1), params: {}, notes: [], targets: {}, checks: [], firstCall: {} };
  results.push(res);
  try {
    c = await spec.make();
    Object.assign(res, { kernel: c.kernel, size: c.size, params: c.params, notes: c.notes, targets: c.targets });
    // The first optimizes in a process pay binaryen's start-up (≈ 200 ms, shared/STACK.md)
    // and run its Wasm before V8 has tiered it up (the next few compiles still take ≈ 2×):
    // that belongs to no kernel, so spend it on throwaway compiles of both modes, recorded
    // separately, and let the compile column compare kernels and modes on equal terms.
    if (!warmup) {
      warmup = { of: c.kernel, reverse: [], forward: [] };
      for (let k = 0; k < firstCallRepeats; k++) {
        warmup.reverse.push((await c.firstCall(Reverse)).compileMs);
        warmup.forward.push((await c.firstCall(Forward)).compileMs);
      }
    }
    res.firstCall.reverse = await firstCall(c, Reverse);
    res.firstCall.forward = await firstCall(c, Forward);
    log(`checking ${spec.label} ...`);
    res.checks = await c.check();
    for (const ch of res.checks)
      if (!ch.ok) console.warn(`WARNING ${spec.label}: ${ch.what}: AD ${ch.ad} vs ${ch.ref}, relative error ${ch.relErr.toExponential(2)} > ${CHECK_TOLERANCE}`);
    res.tapeBytes = (await c.reverse()).stats.tapeBytes;
    cases.push({ c, res });
  } catch (e) {
    res.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    console.warn(`WARNING ${spec.label}: skipped, ${res.error}`);
  }
}

// ---- timing ----
const subjects: { subject: Subject; batch: number; res: CaseResult; mode: ModeName }[] = [];
for (const { c, res } of cases) {
  const runs: Record<ModeName, Subject> = {
    primal: { name: `${c.kernel} ${c.size} primal`, run: c.primal, async: false },
    reverse: { name: `${c.kernel} ${c.size} reverse`, run: c.reverse, async: true },
    forward: { name: `${c.kernel} ${c.size} forward`, run: c.forward, async: true },
  };
  res.batch = {} as Record<ModeName, number>;
  for (const m of modes) {
    log(`warming up ${runs[m].name} ...`);
    const cal = await calibrate(runs[m], timing);
    res.batch[m] = cal.batch;
    subjects.push({ subject: runs[m], batch: cal.batch, res, mode: m });
  }
}
const series = await interleave(subjects, timing.rounds, timing.minSampleMs, (r) => log(`round ${r + 1}/${timing.rounds}`));

for (const { res } of cases) {
  const mine = (m: ModeName) => series[subjects.findIndex((s) => s.res === res && s.mode === m)];
  res.perCallMs = {} as Record<ModeName, number[]>;
  res.sampleMs = {} as Record<ModeName, number[]>;
  res.medianMs = {} as Record<ModeName, number>;
  res.iqrMs = {} as Record<ModeName, [number, number]>;
  for (const m of modes) {
    const s = mine(m);
    res.perCallMs[m] = s.perCallMs;
    res.sampleMs[m] = s.sampleMs;
    res.medianMs[m] = median(s.perCallMs);
    res.iqrMs[m] = [quantile(s.perCallMs, 0.25), quantile(s.perCallMs, 0.75)];
  }
  // Ratios from per-round pairs (both samples taken in the same round), then the median.
  res.ratios = {
    reverse: perRoundRatios(res.perCallMs.reverse, res.perCallMs.primal),
    forward: perRoundRatios(res.perCallMs.forward, res.perCallMs.primal),
  };
  res.ratio = { reverse: median(res.ratios.reverse), forward: median(res.ratios.forward) };
  const iqr = (xs: number[]): [number, number] => [quantile(xs, 0.25), quantile(xs, 0.75)];
  res.ratioIqr = { reverse: iqr(res.ratios.reverse), forward: iqr(res.ratios.forward) };
  res.status = {};
  if (res.targets.reverse !== undefined) res.status.reverse = res.ratio.reverse <= res.targets.reverse ? "ok" : "MISS";
  if (res.targets.forward !== undefined) res.status.forward = res.ratio.forward <= res.targets.forward ? "ok" : "MISS";
}

// ---- table ----
const ms = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? "–" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(3);
const ratio = (x: number | undefined) => (x === undefined ? "–" : x.toFixed(2));
// Below 0.01 MB the bytes say more than "0.00".
const tape = (b: number | undefined) => (b === undefined ? "–" : b >= 1e4 ? (b / 1e6).toFixed(2) : `${b} B`);
const target = (t: number | undefined, s: string | undefined) => (t === undefined ? "–" : `≤ ${t} ${s ?? ""}`.trim());

const header = ["kernel", "size", "primal (ms)", "reverse (ms)", "reverse/primal", "target", "forward (ms)", "forward/primal", "target", "compile ms (rev/fwd)", "tape MB"];
const rows: string[][] = results.map((r) =>
  r.error
    ? [r.kernel, r.size, "error", "", "", "", "", "", "", "", ""]
    : [
        r.kernel, r.size,
        ms(r.medianMs?.primal), ms(r.medianMs?.reverse), ratio(r.ratio?.reverse), target(r.targets.reverse, r.status?.reverse),
        ms(r.medianMs?.forward), ratio(r.ratio?.forward), target(r.targets.forward, r.status?.forward),
        `${ms(r.firstCall.reverse?.compileMs)} / ${ms(r.firstCall.forward?.compileMs)}`,
        tape(r.tapeBytes),
      ]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
console.log();
console.log(`Medians of ${timing.rounds} interleaved rounds (samples ≥ ${timing.minSampleMs} ms); ratios are medians of per-round ratios.`);
console.log(`compile ms: stats.compileMs of the first autodiff call on a fresh Program (differentiate + optimize + emit + instantiate), median of ${firstCallRepeats}; lifting is in Program.fromWat (JSON fromWatMs).`);
if (warmup) console.log(`  Excluded: the process's first compiles, which include binaryen start-up (${warmup.of} reverse ${warmup.reverse.map(ms).join(", ")} ms; forward ${warmup.forward.map(ms).join(", ")} ms).`);
console.log("tape MB: stats.tapeBytes of one reverse call, 10^6 bytes.");
// Notes are per kernel (the same for every size): print each once.
const notes = new Map<string, string>();
for (const r of results) for (const n of r.notes) notes.set(`${r.kernel}: ${n}.`, "");
for (const n of notes.keys()) console.log(n);
console.log();
for (const r of results) {
  if (r.error) { console.log(`${r.kernel} ${r.size}: ERROR ${r.error}`); continue; }
  for (const ch of r.checks)
    console.log(`check ${r.kernel} ${r.size}: ${ch.what}: rel. err. ${ch.relErr.toExponential(1)} ${ch.ok ? "ok" : `WARNING > ${CHECK_TOLERANCE}`}`);
}
const loadAtEnd = loadavg()[0];
if (Math.max(loadAtStart, loadAtEnd) > 0.5)
  console.log(`\nLoad average ${loadAtStart.toFixed(2)} → ${loadAtEnd.toFixed(2)} on ${cpus().length} cpus: other processes were running, expect noisy figures (JSON has per-round values and IQRs).`);
if (cli.quick) console.log("\n--quick: a smoke test of the harness; do not quote these figures.");

// ---- JSON ----
if (cli.json) {
  const doc = {
    meta: {
      date: new Date().toISOString(), node: process.version, v8: process.versions.v8, platform: `${process.platform} ${process.arch}`,
      cpus: cpus().length, cpuModel: cpus()[0]?.model, quick: cli.quick, timing, checkTolerance: CHECK_TOLERANCE,
      detachedAtStart: true, firstCallRepeats, loadavg: { start: loadAtStart, end: loadAtEnd }, wallSeconds: (performance.now() - t0) / 1000,
    },
    processFirstCompiles: warmup,
    cases: results,
  };
  writeFileSync(cli.json, JSON.stringify(doc, null, 2) + "\n");
  log(`bench: wrote ${cli.json}`);
}
log(`bench: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
