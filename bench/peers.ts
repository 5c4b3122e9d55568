// `npm run bench:peers` (the first part of `npm run bench`, bench/suite.ts): our gradient
// against the other web AD systems (Rose, jax-js, tfjs on its cpu and wasm backends), a
// hand-written adjoint in AssemblyScript and finite differences, on issue 6's kernels, side
// by side in one process (shared/PEERS.md).
//
//   node dist/bench/peers.js [--quick] [--rounds N] [--only K,...] [--json FILE] [--svg FILE] [size flags]
//   (--help lists the size flags)
//
// Per kernel case (bench/peers/kernels/*.ts): our primal, reverse gradient and forward
// directional derivative through the public API (bench/peers/ours.ts; arrays copied in and
// out, plus a zero-copy reverse on program.alloc buffers), the hand-written AS adjoint
// (assembly/hand/), finite differences, and every peer's gradient, each checked against ours
// before it is timed; then all of them round-robin in the same rounds (bench/peers/timing.ts).
// A peer that cannot express a kernel, fails, gives a wrong gradient or is too slow is
// reported with the reason. Output: the tables on stdout (bench/peers/report.ts), the chart
// (bench/peers/svg.ts), and with --json every figure.
import "./v8-state.js"; // first: one dummy ArrayBuffer detached before anything is timed
import { execSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseCli } from "./peers/cli.js";
import { F32_TOLERANCE, F64_TOLERANCE, HAND_TOLERANCE, type Job, checkCase, describe } from "./peers/check.js";
import type { KernelCase } from "./peers/common.js";
import * as jaxjs from "./peers/jaxjs.js";
import { baCase } from "./peers/kernels/ba.js";
import { gmmCase } from "./peers/kernels/gmm.js";
import { heatCase } from "./peers/kernels/heat.js";
import { lstmCase } from "./peers/kernels/lstm.js";
import { mlpBatchCase, mlpCase } from "./peers/kernels/mlp.js";
import { rk4Case } from "./peers/kernels/rk4.js";
import { rosenbrockCase } from "./peers/kernels/rosenbrock.js";
import { buildOurs, firstCall } from "./peers/ours.js";
import { printReport, verdicts } from "./peers/report.js";
import { type CaseResult, type Meta, type Row, derive } from "./peers/results.js";
import { writeSvg } from "./peers/svg.js";
import { type Timed, prepare, rounds } from "./peers/timing.js";
import * as tfjs from "./peers/tfjs.js";

const cli = parseCli(process.argv.slice(2), fileURLToPath(new URL("../../bench/peers.svg", import.meta.url)));
const { timing } = cli;
const log = (s: string) => process.stderr.write(s + "\n");
// (5: single first calls on this 2-core machine spread by half their value, 48/68/42 ms for
// one MLP, and a median of 3 still moved by a third between runs)
const firstCallRepeats = cli.quick ? 1 : 5;
/** Which src was measured (another engineer may be editing it while this runs). */
function srcVersion(): string {
  try {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    const head = execSync("git rev-parse --short HEAD", { cwd: root, encoding: "utf8" }).trim();
    const dirty = execSync("git status --porcelain -- src", { cwd: root, encoding: "utf8" }).trim() !== "";
    return dirty ? `${head} + uncommitted src changes` : head;
  } catch { return "unknown (no git)"; }
}

// ---- cases ----
const cases: KernelCase[] = [];
const want = (id: string) => cli.only.has(id);
if (want("rosenbrock")) for (const n of cli.rosenbrock) cases.push(rosenbrockCase(n));
if (want("mlp")) cases.push(mlpCase());
if (want("mlp-batch")) cases.push(mlpBatchCase(cli.mlpBatch));
if (want("heat")) cases.push(heatCase(...cli.heat));
if (want("gmm")) for (const [d, k, n] of cli.gmm) cases.push(gmmCase(d, k, n));
if (want("ba")) cases.push(baCase(cli.ba));
if (want("lstm")) cases.push(lstmCase(...cli.lstm));
if (want("rk4")) cases.push(rk4Case(cli.rk4));
for (const c of cases) c.math = cli.math;

const t0 = performance.now();
const srcSnapshot = srcVersion();
const loadAtStart = loadavg()[0];
log(`bench:peers: node ${process.version}, ${cpus().length} cpus, ${timing.rounds} rounds${cli.quick ? " (--quick: smoke test, not a measurement)" : ""}`);

// Library start-up (binaryen's and asc's first runs, jax-js init, tfjs backends) belongs to no
// kernel: pay it before any first-call figure.
const loadMs: Record<string, number> = {};
{
  let s = performance.now();
  const warm = rosenbrockCase(8);
  await (await buildOurs(warm)).gradient();
  await firstCall(warm, 1);
  loadMs["wasm-autodiff + asc (start-up, throwaway compiles)"] = performance.now() - s;
  s = performance.now();
  try { await jaxjs.load(); } catch (e) { log(`jax-js failed to load: ${describe(e)}`); }
  loadMs["jax-js init('wasm')"] = performance.now() - s;
  s = performance.now();
  try { await tfjs.load(); } catch (e) { log(`tfjs failed to load: ${describe(e)}`); }
  loadMs["tfjs import + cpu/wasm backends"] = performance.now() - s;
}

// ---- build and check everything before timing anything ----
const results: CaseResult[] = [];
const jobs: Job[] = [];
const disposers: (() => void)[] = [];
for (const c of cases) {
  const checked = await checkCase(c, { traceLimitMs: cli.traceLimitMs, firstCallRepeats, log });
  results.push(checked.res);
  jobs.push(...checked.jobs);
  disposers.push(...checked.disposers);
}

// ---- timing ----
const timed: { row: Row; which: Job["which"]; t: Timed; scale: number }[] = [];
for (const x of jobs) {
  log(`warming up ${x.name} ...`);
  try {
    const t = await prepare({ name: x.name, run: x.run, async: x.async }, x.setup, timing);
    timed.push({ row: x.row, which: x.which, t, scale: x.scale ?? 1 });
  } catch (e) {
    x.row.status = "error"; x.row.reason = `while timing: ${describe(e)}`;
  }
}
await rounds(timed.map((x) => x.t), timing, (r) => log(`round ${r + 1}/${timing.rounds}`));
for (const { row, which, t, scale } of timed) {
  if (t.error) { row.status = "error"; row.reason = `while timing: ${t.error}`; continue; }
  const series = t.perCallMs.map((v) => v * scale);
  if (which === "grad") { row.gradPerCallMs = series; row.samples = t.sampleMs.length; }
  else if (which === "primal") row.primalPerCallMs = series;
  else row.forwardPerCallMs = series;
}
for (const c of results) derive(c);
for (const d of disposers) try { d(); } catch { /* already freed */ }

// ---- output ----
const loadAtEnd = loadavg()[0];
const meta: Meta & Record<string, unknown> = {
  date: new Date().toISOString(), node: process.version, v8: process.versions.v8, platform: `${process.platform} ${process.arch}`,
  cpus: cpus().length, cpuModel: cpus()[0]?.model, quick: cli.quick, timing, detachedAtStart: true, firstCallRepeats, math: cli.math,
  tolerances: { hand: HAND_TOLERANCE, f64Peers: F64_TOLERANCE, f32Peers: F32_TOLERANCE, finiteDifferences: 1e-4 },
  loadavg: { start: loadAtStart, end: loadAtEnd }, libraryStartupMs: loadMs, wallSeconds: (performance.now() - t0) / 1000, src: srcSnapshot,
  argv: process.argv.slice(2),
  versions: { rose: "0.4.10", "@jax-js/jax": "0.1.25", "@tensorflow/tfjs": "4.22.0", "@tensorflow/tfjs-backend-wasm": "4.22.0", assemblyscript: "0.28.20" },
};
printReport(results, meta);
if (cli.svg) { writeSvg(cli.svg, results, meta); log(`bench:peers: wrote ${cli.svg}`); }
if (cli.json) {
  writeFileSync(cli.json, JSON.stringify({ meta, verdicts: verdicts(results), cases: results }, null, 2) + "\n");
  log(`bench:peers: wrote ${cli.json}`);
}
log(`bench:peers: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
// tfjs / jax-js keep handles alive; the figures are out.
process.exit(0);
