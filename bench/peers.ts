// `npm run bench:peers`: our reverse gradient against the other web AD systems, a
// hand-written adjoint and finite differences, side by side in one process (shared/PEERS.md).
//
//   node dist/bench/peers.js [--quick] [--rounds N] [--json FILE]
//
// For each kernel: our primal and reverse gradient through the public API (arrays copied
// in and out, and a zero-copy variant on program.alloc buffers), and every peer's
// gradient (bench/peers/*.ts, each written the way that system's users would), timed
// round-robin in the same rounds; every peer's gradient is checked against ours first. A
// peer that cannot express a kernel, throws or is too slow is reported with the reason.
import "./v8-state.js"; // first: one dummy ArrayBuffer detached before anything is timed
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { Active, Const, Duplicated, Program, Reverse, autodiff } from "../src/index.js";
import { type TimingOptions, calibrate, median, quantile } from "./measure.js";
import { type HeatInput, type PeerRun, type RosenbrockInput, NotExpressible } from "./peers/common.js";
import * as fd from "./peers/fd.js";
import * as hand from "./peers/hand.js";
import * as jaxjs from "./peers/jaxjs.js";
import * as rose from "./peers/rose.js";
import * as tfjs from "./peers/tfjs.js";
import { rng, uniform } from "./random.js";

// ---- command line ----
const argv = process.argv.slice(2);
const cli = { quick: false, json: null as string | null, rounds: null as number | null };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--quick") cli.quick = true;
  else if (a === "--json" && i + 1 < argv.length) cli.json = argv[++i];
  else if (a === "--rounds" && i + 1 < argv.length) cli.rounds = Number(argv[++i]);
  else {
    console.error(`usage: node dist/bench/peers.js [--quick] [--rounds N] [--json FILE]\nunknown or incomplete argument: ${a}`);
    process.exit(2);
  }
}
if (cli.rounds !== null && !(Number.isInteger(cli.rounds) && cli.rounds >= 1)) { console.error("--rounds takes a positive integer"); process.exit(2); }
// --quick is a smoke test (fewer rounds, short warm-up and samples), not a measurement.
const timing: TimingOptions = cli.quick
  ? { warmupMs: 30, warmupCalls: 3, minSampleMs: 3, rounds: cli.rounds ?? 3 }
  : { warmupMs: 300, warmupCalls: 3, minSampleMs: 10, rounds: cli.rounds ?? 15 };
/** A peer whose first call (trace + compile + run) takes longer is reported as too slow, not timed. */
const FIRST_CALL_LIMIT_MS = 60_000;
/** A peer whose gradient call takes longer than this is reported, not timed (it would dominate the run). */
const CALL_LIMIT_MS = 5_000;

const log = (s: string) => process.stderr.write(s + "\n");
const kernelsDir = new URL("../../bench/kernels/", import.meta.url);
const wat = (f: string) => readFileSync(new URL(f, kernelsDir), "utf8");

// ---- inputs (seeded, the same for every system) ----

// ---- our side ----
interface Ours {
  primal: () => unknown;
  grad: () => Promise<unknown>;
  primalZeroCopy: () => unknown;
  gradZeroCopy: () => Promise<unknown>;
  /** Our gradient (copy API), the reference every peer is checked against. */
  gradient: () => Promise<Float64Array>;
  gradientZeroCopy: () => Promise<Float64Array>;
  firstCallMs: number;
}

async function oursRosenbrock({ n, x }: RosenbrockInput): Promise<Ours> {
  const text = wat("rosenbrock.wat");
  const t0 = performance.now();
  const program = await Program.fromWat(text);
  const k = program.kernel("rosenbrock");
  const g = new Float64Array(n);
  // The shadow accumulates (Enzyme semantics): each call zeroes it first, as a user wanting ∇f does.
  const grad = () => { g.fill(0); return autodiff(Reverse, k, Duplicated(x, g), Const(n)); };
  await grad();
  const firstCallMs = performance.now() - t0;
  const xa = program.alloc(Float64Array, n), ga = program.alloc(Float64Array, n);
  xa.array.set(x);
  const gradZeroCopy = () => { ga.array.fill(0); return autodiff(Reverse, k, Duplicated(xa, ga), Const(n)); };
  return {
    primal: () => k.call(x, n),
    grad,
    primalZeroCopy: () => k.call(xa, n),
    gradZeroCopy,
    gradient: async () => { await grad(); return g.slice(); },
    gradientZeroCopy: async () => { await gradZeroCopy(); return ga.array.slice(); },
    firstCallMs,
  };
}

async function oursHeat({ n, steps, a, u0, w }: HeatInput): Promise<Ours> {
  const text = wat("heat.wat");
  const t0 = performance.now();
  const program = await Program.fromWat(text);
  const k = program.kernel("heat");
  // In place: every call restores u, tmp and (reverse) the seed w on u's shadow.
  const u = new Float64Array(n), tmp = new Float64Array(n), du = new Float64Array(n), dtmp = new Float64Array(n);
  let ga = 0;
  const grad = async () => {
    u.set(u0); tmp.fill(0); du.set(w); dtmp.fill(0);
    const r = await autodiff(Reverse, k, Duplicated(u, du), Duplicated(tmp, dtmp), Const(n), Active(a), Const(steps));
    ga = r.derivs[3] as number;
    return r;
  };
  await grad();
  const firstCallMs = performance.now() - t0;
  const [ua, ta, dua, dta] = [0, 1, 2, 3].map(() => program.alloc(Float64Array, n));
  let gaZ = 0;
  const gradZeroCopy = async () => {
    ua.array.set(u0); ta.array.fill(0); dua.array.set(w); dta.array.fill(0);
    const r = await autodiff(Reverse, k, Duplicated(ua, dua), Duplicated(ta, dta), Const(n), Active(a), Const(steps));
    gaZ = r.derivs[3] as number;
    return r;
  };
  return {
    primal: () => { u.set(u0); tmp.fill(0); return k.call(u, tmp, n, a, steps); },
    grad,
    primalZeroCopy: () => { ua.array.set(u0); ta.array.fill(0); return k.call(ua, ta, n, a, steps); },
    gradZeroCopy,
    gradient: async () => { await grad(); return Float64Array.from([...du, ga]); },
    gradientZeroCopy: async () => { await gradZeroCopy(); return Float64Array.from([...dua.array, gaZ]); },
    firstCallMs,
  };
}

// ---- peers ----
interface PeerSpec { system: string; make: () => Promise<PeerRun> }
interface KernelSpec {
  kernel: string;
  size: string;
  ours: () => Promise<Ours>;
  peers: PeerSpec[];
}

const rosenbrockInput = (n: number): RosenbrockInput => ({ n, x: uniform(n, rng(0x5eed + n), -1, 1.5) });
const heatInput = (n: number, steps: number, a: number): HeatInput => {
  const r = rng(0x4ea7 + n);
  return { n, steps, a, u0: uniform(n, r, -1, 1), w: uniform(n, r, -1, 1) };
};
const rosenbrockPeers = (inp: RosenbrockInput, withFd: boolean): PeerSpec[] => [
  { system: "Rose (f64, Wasm)", make: () => rose.rosenbrock(inp) },
  { system: "jax-js jit (f64, wasm)", make: () => jaxjs.rosenbrock(inp) },
  { system: "tfjs cpu (f32)", make: () => tfjs.rosenbrock("cpu", inp) },
  { system: "tfjs wasm (f32)", make: () => tfjs.rosenbrock("wasm", inp) },
  { system: "hand adjoint (JS)", make: () => hand.rosenbrock(inp) },
  ...(withFd ? [{ system: "finite diff. (JS, n+1 primals)", make: () => fd.rosenbrock(inp) }] : []),
];
const r1k = rosenbrockInput(1000), r100k = rosenbrockInput(100_000), h = heatInput(100, 1000, 0.2);
const heatPeers = (inp: HeatInput): PeerSpec[] => [
  { system: "Rose (f64, Wasm)", make: () => rose.heat(inp) },
  { system: "jax-js jit (f64, wasm)", make: () => jaxjs.heat(inp) },
  { system: "tfjs cpu (f32)", make: () => tfjs.heat("cpu", inp) },
  { system: "tfjs wasm (f32)", make: () => tfjs.heat("wasm", inp) },
  { system: "hand adjoint (JS)", make: () => hand.heat(inp) },
];
const kernels: KernelSpec[] = [
  { kernel: "rosenbrock", size: "n=1000", ours: () => oursRosenbrock(r1k), peers: rosenbrockPeers(r1k, true) },
  { kernel: "rosenbrock", size: "n=100000", ours: () => oursRosenbrock(r100k), peers: rosenbrockPeers(r100k, false) },
  { kernel: "heat", size: "n=100, steps=1000", ours: () => oursHeat(h), peers: heatPeers(h) },
];

// ---- timing subjects ----
interface Subject { name: string; run: () => unknown; async: boolean; setup?: () => void | Promise<void> }
interface Row {
  kernel: string; size: string; system: string; io: string;
  status: "ok" | "not expressible" | "error" | "too slow";
  reason?: string;
  firstCallMs?: number;
  maxRelErr?: number;
  grad?: Subject; primal?: Subject;
  gradPerCallMs?: number[]; primalPerCallMs?: number[];
  gradBatch?: number; primalBatch?: number;
  gradMs?: number; primalMs?: number;
  ratioToOurs?: number; ratioToOursIqr?: [number, number];
  gradOverPrimal?: number;
}

/** max_i |g_i − ref_i| / max_i |ref_i|: the error relative to the gradient's scale (near-zero components do not blow it up). */
function relErr(g: Float64Array, ref: Float64Array): number {
  if (g.length !== ref.length) return Infinity;
  let e = 0, s = 0;
  for (let i = 0; i < ref.length; i++) { e = Math.max(e, Math.abs(g[i] - ref[i])); s = Math.max(s, Math.abs(ref[i])); }
  return Number.isNaN(e) ? Infinity : s === 0 ? e : e / s;
}
const describe = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message.split("\n")[0].slice(0, 160)}` : String(e));

const t0 = performance.now();
const loadAtStart = loadavg()[0];
log(`bench:peers: node ${process.version}, ${cpus().length} cpus, ${timing.rounds} rounds${cli.quick ? " (--quick: smoke test, not a measurement)" : ""}`);

// Library start-up (binaryen's first compile, jax-js init, tfjs backends) belongs to no
// kernel: pay it before any first-call figure.
const loadMs: Record<string, number> = {};
{
  let s = performance.now();
  await oursHeat(heatInput(8, 2, 0.2)); // throwaway: binaryen start-up and first compiles
  await oursRosenbrock(rosenbrockInput(8));
  loadMs["wasm-autodiff (binaryen start-up, throwaway compiles)"] = performance.now() - s;
  s = performance.now();
  try { await jaxjs.load(); } catch (e) { log(`jax-js failed to load: ${describe(e)}`); }
  loadMs["jax-js init('wasm')"] = performance.now() - s;
  s = performance.now();
  const warn = console.warn, info = console.log;
  console.warn = console.log = () => {}; // tfjs prints a banner recommending tfjs-node
  try { await tfjs.load(); } catch (e) { log(`tfjs failed to load: ${describe(e)}`); } finally { console.warn = warn; console.log = info; }
  loadMs["tfjs import + cpu/wasm backends"] = performance.now() - s;
}

const rows: Row[] = [];
const peerRuns: { row: Row; run: PeerRun }[] = [];
for (const ks of kernels) {
  log(`${ks.kernel} ${ks.size}: building ...`);
  const ours = await ks.ours();
  const ref = await ours.gradient();
  const mk = (system: string, io: string): Row => ({ kernel: ks.kernel, size: ks.size, system, io, status: "ok" });
  const rOurs = mk("wasm-autodiff (f64)", "JS Float64Array copied in/out");
  rOurs.firstCallMs = ours.firstCallMs; rOurs.maxRelErr = 0;
  rOurs.grad = { name: `${ks.kernel} ${ks.size} ours grad`, run: ours.grad, async: true };
  rOurs.primal = { name: `${ks.kernel} ${ks.size} ours primal`, run: ours.primal, async: false };
  const rZ = mk("wasm-autodiff zero-copy", "program.alloc buffers");
  rZ.maxRelErr = relErr(await ours.gradientZeroCopy(), ref);
  rZ.grad = { name: `${ks.kernel} ${ks.size} ours zero-copy grad`, run: ours.gradZeroCopy, async: true };
  rZ.primal = { name: `${ks.kernel} ${ks.size} ours zero-copy primal`, run: ours.primalZeroCopy, async: false };
  rows.push(rOurs, rZ);
  for (const p of ks.peers) {
    const row = mk(p.system, "");
    rows.push(row);
    log(`${ks.kernel} ${ks.size}: ${p.system} ...`);
    try {
      const s = performance.now();
      const run = await p.make();
      await run.setup?.();
      await run.grad();
      row.firstCallMs = performance.now() - s;
      row.io = run.io;
      if (row.firstCallMs > FIRST_CALL_LIMIT_MS) {
        row.status = "too slow"; row.reason = `first call (trace + compile) took ${(row.firstCallMs / 1000).toFixed(1)} s > ${FIRST_CALL_LIMIT_MS / 1000} s`;
        run.dispose?.();
        continue;
      }
      peerRuns.push({ row, run });
    } catch (e) {
      row.status = e instanceof NotExpressible ? "not expressible" : "error";
      row.reason = e instanceof RangeError && /call stack/i.test(e.message)
        ? `${describe(e)} (tracing recurses deeper than V8's default stack; a browser cannot raise it)`
        : describe(e);
      log(`  ${row.status}: ${row.reason}`);
    }
  }
  (ks as KernelSpec & { ref?: Float64Array }).ref = ref;
}

// Checks after every peer was built, so a peer left broken by another's failure shows up here.
for (const { row, run } of peerRuns) {
  const ks = kernels.find((k) => k.kernel === row.kernel && k.size === row.size) as KernelSpec & { ref: Float64Array };
  try {
    await run.setup?.();
    const s = performance.now();
    const g = await run.gradient();
    const callMs = performance.now() - s;
    row.maxRelErr = relErr(g, ks.ref);
    if (callMs > CALL_LIMIT_MS) { row.status = "too slow"; row.reason = `one gradient call takes ${(callMs / 1000).toFixed(1)} s > ${CALL_LIMIT_MS / 1000} s`; continue; }
    row.grad = { name: `${row.kernel} ${row.size} ${row.system} grad`, run: run.grad, async: !!run.gradAsync, setup: run.setup };
    if (run.primal) row.primal = { name: `${row.kernel} ${row.size} ${row.system} primal`, run: run.primal, async: false, setup: run.setup };
  } catch (e) {
    row.status = "error"; row.reason = `gradient check: ${describe(e)}`;
  }
}

// ---- timing: warm up and calibrate each subject, then interleave round-robin ----
const subjects: { s: Subject; batch: number; row: Row; which: "grad" | "primal"; perCallMs: number[]; sampleMs: number[] }[] = [];
for (const row of rows) {
  if (row.status !== "ok") continue;
  for (const which of ["primal", "grad"] as const) {
    const s = row[which];
    if (!s) continue;
    log(`warming up ${s.name} ...`);
    try {
      await s.setup?.();
      const cal = await calibrate(s, timing);
      subjects.push({ s, batch: cal.batch, row, which, perCallMs: [], sampleMs: [] });
    } catch (e) {
      row.status = "error"; row.reason = `while timing: ${describe(e)}`;
    }
  }
}
async function timeBatch(s: Subject, calls: number): Promise<number> {
  const t = performance.now();
  if (s.async) for (let i = 0; i < calls; i++) await s.run();
  else for (let i = 0; i < calls; i++) s.run();
  return performance.now() - t;
}
// As measure.ts's interleave, plus each subject's untimed setup before its sample. The
// order starts one later each round and runs backwards on odd rounds.
for (let r = 0; r < timing.rounds; r++) {
  for (let k = 0; k < subjects.length; k++) {
    const j = r % 2 ? subjects.length - 1 - k : k;
    const sub = subjects[(j + r) % subjects.length];
    if (sub.row.status !== "ok") continue;
    try {
      await sub.s.setup?.();
      let t = 0, calls = 0;
      do { t += await timeBatch(sub.s, sub.batch); calls += sub.batch; } while (t < timing.minSampleMs);
      sub.perCallMs.push(t / calls);
      sub.sampleMs.push(t);
    } catch (e) {
      sub.row.status = "error"; sub.row.reason = `while timing: ${describe(e)}`;
    }
  }
  log(`round ${r + 1}/${timing.rounds}`);
}

// ---- figures ----
for (const sub of subjects) {
  const row = sub.row;
  if (sub.which === "grad") { row.gradPerCallMs = sub.perCallMs; row.gradBatch = sub.batch; row.gradMs = median(sub.perCallMs); }
  else { row.primalPerCallMs = sub.perCallMs; row.primalBatch = sub.batch; row.primalMs = median(sub.perCallMs); }
}
for (const row of rows) {
  const ours = rows.find((r) => r.kernel === row.kernel && r.size === row.size && r.system === "wasm-autodiff (f64)");
  const pairs = (a?: number[], b?: number[]) => (a && b && a.length === b.length && a.length > 0 ? a.map((x, i) => x / b[i]) : null);
  const vsOurs = pairs(row.gradPerCallMs, ours?.gradPerCallMs);
  if (vsOurs) { row.ratioToOurs = median(vsOurs); row.ratioToOursIqr = [quantile(vsOurs, 0.25), quantile(vsOurs, 0.75)]; }
  const own = pairs(row.gradPerCallMs, row.primalPerCallMs);
  if (own) row.gradOverPrimal = median(own);
}

// ---- table ----
const time = (x?: number) => (x === undefined || !Number.isFinite(x) ? "–" : x >= 1 ? `${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)} ms` : `${(x * 1000).toPrecision(3)} µs`);
const num = (x?: number) => (x === undefined || !Number.isFinite(x) ? "–" : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const err = (x?: number) => (x === undefined ? "–" : x === 0 ? "(ref.)" : x.toExponential(1));
const header = ["kernel", "system", "gradient", "× ours", "primal", "grad/primal", "first call", "max rel. err"];
const cells = rows.map((r) =>
  r.status !== "ok"
    ? [`${r.kernel} ${r.size}`, r.system, r.status, "", "", "", r.firstCallMs === undefined ? "" : time(r.firstCallMs), err(r.maxRelErr)]
    : [`${r.kernel} ${r.size}`, r.system, time(r.gradMs), num(r.ratioToOurs), time(r.primalMs), num(r.gradOverPrimal), time(r.firstCallMs), err(r.maxRelErr)]);
const widths = header.map((hd, i) => Math.max(hd.length, ...cells.map((c) => c[i].length)));
const line = (c: string[]) => c.map((x, i) => (i < 2 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  ");
console.log(line(header));
console.log(widths.map((wd) => "-".repeat(wd)).join("  "));
let last = "";
for (let i = 0; i < rows.length; i++) {
  const k = `${rows[i].kernel} ${rows[i].size}`;
  if (last && k !== last) console.log();
  last = k;
  console.log(line(cells[i]));
}
console.log();
console.log(`Medians of ${timing.rounds} interleaved rounds (samples ≥ ${timing.minSampleMs} ms, warm-up ≥ ${timing.warmupMs} ms and ${timing.warmupCalls} calls; one ArrayBuffer detached at start).`);
console.log("gradient = one call returning value and gradient; × ours and grad/primal are medians of per-round ratios (× ours: against wasm-autodiff's copying API).");
console.log("first call: trace/compile + first gradient call on a warm library (ours: Program.fromWat + first reverse autodiff).");
console.log("max rel. err: max_i |g_i − ours_i| / max_i |ours_i| over the whole gradient (heat: ∂L/∂u0 and ∂L/∂a).");
console.log("Library start-up, excluded above: " + Object.entries(loadMs).map(([k, v]) => `${k} ${time(v)}`).join("; ") + ".");
console.log("ours: the rosenbrock gradient buffer is zeroed before every call; heat restores u, tmp and the seed w on u's shadow before every call (in place).");
const ios = new Map<string, string>();
for (const r of rows) if (r.io && !ios.has(r.system)) ios.set(r.system, r.io);
console.log("Inputs/outputs: " + [...ios].map(([s, io]) => `${s}: ${io}`).join("; ") + ".");
for (const r of rows) if (r.status !== "ok") console.log(`${r.kernel} ${r.size}, ${r.system}: ${r.status}: ${r.reason}`);
const loadAtEnd = loadavg()[0];
if (Math.max(loadAtStart, loadAtEnd) > 0.5)
  console.log(`Load average ${loadAtStart.toFixed(2)} → ${loadAtEnd.toFixed(2)} on ${cpus().length} cpus: other processes were running, expect noisy figures.`);
if (cli.quick) console.log("--quick: a smoke test of the harness; do not quote these figures.");

if (cli.json) {
  const doc = {
    meta: {
      date: new Date().toISOString(), node: process.version, v8: process.versions.v8, platform: `${process.platform} ${process.arch}`,
      cpus: cpus().length, cpuModel: cpus()[0]?.model, quick: cli.quick, timing, detachedAtStart: true,
      loadavg: { start: loadAtStart, end: loadAtEnd }, libraryStartupMs: loadMs, wallSeconds: (performance.now() - t0) / 1000,
      versions: { rose: "0.4.10", "@jax-js/jax": "0.1.25", "@tensorflow/tfjs": "4.22.0", "@tensorflow/tfjs-backend-wasm": "4.22.0" },
    },
    rows: rows.map(({ grad, primal, ...r }) => r),
  };
  writeFileSync(cli.json, JSON.stringify(doc, null, 2) + "\n");
  log(`bench:peers: wrote ${cli.json}`);
}
log(`bench:peers: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
// tfjs / jax-js may keep handles alive; the figures are out.
process.exit(0);
