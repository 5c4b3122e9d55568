// `npm run bench:c`: the same kernels compiled from C (clang -O2 + wasi-libc, corpus/c/wasm/)
// and from AssemblyScript (assembly/energy.ts), differentiated by wasm-autodiff: primal,
// reverse gradient and gradient/primal per toolchain, in one process, interleaved rounds,
// medians. The C module computes sin/exp/logf/… with libm compiled into it (recognised by
// name), the AssemblyScript one with JS Math imports. Gradients are checked against each
// other before timing.
//
//   node dist/bench/c-vs-as.js [--quick] [--json FILE]
import "./v8-state.js";
import { readFileSync, writeFileSync } from "node:fs";
import { Active, Const, Duplicated, Program, Reverse, autodiff } from "../src/index.js";
import { type Subject, calibrate, interleave, median, perRoundRatios, timingFor } from "./measure.js";
import { relErr } from "./random.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const jsonAt = args.indexOf("--json");
const timing = timingFor(quick, null);
const root = new URL("../../", import.meta.url);
const c = await Program.fromWasm(readFileSync(new URL("corpus/c/wasm/energy.O2.wasm", root)), { splitLocals: true, optimize: "fast" }); // (timed: the optimized tier at once)
const as = await Program.fromAssemblyScript(readFileSync(new URL("assembly/energy.ts", root), "utf8"), { optimize: "fast" });

const n = 10_000;
const x64 = Float64Array.from({ length: n }, (_, i) => Math.sin(0.37 * i));
const x32 = Float32Array.from({ length: n }, (_, i) => 0.5 * Math.cos(0.21 * i));
const cases = [
  { name: `energy (f64, sin/exp), n = ${n}`, kernel: "energy",
    primal: (p: Program) => () => p.kernel("energy").call(x64, n, 2),
    reverse: (p: Program) => { const g = new Float64Array(n); return async () => autodiff(Reverse, p.kernel("energy"), Duplicated(x64, g), Const(n), Active(2)); },
    grad: async (p: Program) => { const g = new Float64Array(n); const r = await autodiff(Reverse, p.kernel("energy"), Duplicated(x64.slice(), g), Const(n), Active(2)); return [...g, r.derivs[2]!]; } },
  { name: `softplus_tanh (f32, logf/expf/tanhf, in place), n = ${n}`, kernel: "softplus_tanh",
    primal: (p: Program) => () => p.kernel("softplus_tanh").call(x32.slice(), n, 0.75, 0.25),
    reverse: (p: Program) => { const g = new Float32Array(n); return async () => autodiff(Reverse, p.kernel("softplus_tanh"), Duplicated(x32.slice(), g.fill(1)), Const(n), Active(0.75), Active(0.25)); },
    grad: async (p: Program) => { const g = new Float32Array(n).fill(1); const r = await autodiff(Reverse, p.kernel("softplus_tanh"), Duplicated(x32.slice(), g), Const(n), Active(0.75), Active(0.25)); return [...g, r.derivs[2]!, r.derivs[3]!]; } },
];

const rows = [];
for (const k of cases) {
  const gc = await k.grad(c), ga = await k.grad(as);
  const err = Math.max(...gc.map((v, i) => relErr(v, ga[i])));
  if (!(err < (k.kernel === "energy" ? 1e-12 : 1e-4))) throw new Error(`${k.name}: C and AssemblyScript gradients differ (rel. err. ${err})`);
  const subjects: Subject[] = [
    { name: "C primal", run: k.primal(c), async: false }, { name: "C reverse", run: k.reverse(c), async: true },
    { name: "AS primal", run: k.primal(as), async: false }, { name: "AS reverse", run: k.reverse(as), async: true },
  ];
  const calibrated = [];
  for (const subject of subjects) calibrated.push({ subject, batch: (await calibrate(subject, timing)).batch });
  const series = await interleave(calibrated, timing.rounds, timing.minSampleMs);
  const ms = (i: number) => median(series[i].perCallMs);
  const ratio = (a: number, b: number) => median(perRoundRatios(series[a].perCallMs, series[b].perCallMs));
  rows.push({ name: k.name, gradientsAgree: err, cPrimal: ms(0), cReverse: ms(1), cRatio: ratio(1, 0), asPrimal: ms(2), asReverse: ms(3), asRatio: ratio(3, 2) });
}
console.log("kernel                                                 C primal   C reverse  C rev/primal   AS primal  AS reverse  AS rev/primal");
for (const r of rows)
  console.log(`${r.name.padEnd(54)} ${r.cPrimal.toFixed(3).padStart(8)} ms ${r.cReverse.toFixed(3).padStart(8)} ms ${r.cRatio.toFixed(2).padStart(12)} ${r.asPrimal.toFixed(3).padStart(8)} ms ${r.asReverse.toFixed(3).padStart(8)} ms ${r.asRatio.toFixed(2).padStart(13)}`);
console.log(`\nMedians of ${timing.rounds} interleaved rounds; ratios are medians of per-round ratios; times through the public API (buffers copied in and out).${quick ? "\n--quick: a smoke test of the harness; do not quote these figures." : ""}`);
if (jsonAt >= 0) writeFileSync(args[jsonAt + 1], JSON.stringify({ node: process.version, rows }, null, 2));
