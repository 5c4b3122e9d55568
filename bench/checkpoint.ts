// `npm run bench:checkpoint`: tape memory and time of the RK4 kernel's reverse gradient
// (assembly/rk4.ts) with every step recorded, and with the time loop checkpointed
// (program.checkpoint: the default ⌈√n⌉-or-1024 segments, and k = 100), for 10^5 and 10^6
// steps. Each variant runs in its own Program, so its memory size is its own: the figure
// reported is the Program's memory after the calls (the module's page, the buffers, the
// tape at its peak). Times are medians of calls after one warm-up call; derivatives of the
// checkpointed variants must equal the recorded ones bit for bit before anything is reported.
//
//   node dist/bench/checkpoint.js [--quick] [--json FILE]
import "./v8-state.js";
import { readFileSync, writeFileSync } from "node:fs";
import { Active, Const, Duplicated, Program, Reverse, autodiff } from "../src/index.js";
import { median } from "./measure.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const jsonAt = args.indexOf("--json");
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : null;
const source = readFileSync(new URL("../../assembly/rk4.ts", import.meta.url), "utf8");

interface Row { steps: number; variant: string; primalMs: number; reverseMs: number; ratio: number; tapeBytes: number; memoryBytes: number }

async function measure(steps: number, every: number | null | undefined, calls: number): Promise<Row & { grad: number[] }> {
  const p = await Program.fromAssemblyScript(source, { optimize: "fast" }); // (timed: the optimized tier at once)
  if (every !== undefined) p.checkpoint("rk4", every === null ? {} : { every });
  const k = p.kernel("rk4");
  const prm = Float64Array.of(1.1, 0.4, 0.4, 0.1);
  const run = async () => {
    const st = Float64Array.of(1.2, 0.8), dst = Float64Array.of(1, -0.5), dprm = new Float64Array(4);
    const r = await autodiff(Reverse, k, Duplicated(st, dst), Duplicated(prm.slice(), dprm), Duplicated(new Float64Array(10), new Float64Array(10)), Active(0.01), Const(steps));
    return { r, grad: [...dst, ...dprm, r.derivs[3]!] };
  };
  const first = await run();
  const times: number[] = [];
  for (let i = 0; i < calls; i++) { const t0 = performance.now(); await run(); times.push(performance.now() - t0); }
  const primal: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    k.call(Float64Array.of(1.2, 0.8), prm, new Float64Array(10), 0.01, steps);
    primal.push(performance.now() - t0);
  }
  const variant = every === undefined ? "every step recorded" : every === null ? "checkpointed (default k)" : `checkpointed (k = ${every})`;
  const reverseMs = median(times), primalMs = median(primal);
  return { steps, variant, primalMs, reverseMs, ratio: reverseMs / primalMs, tapeBytes: first.r.stats.tapeBytes, memoryBytes: p.memory.buffer.byteLength, grad: first.grad };
}

const rows: Row[] = [];
for (const steps of quick ? [100_000] : [100_000, 1_000_000]) {
  const calls = quick ? 3 : 7;
  const recorded = await measure(steps, undefined, calls);
  for (const m of [recorded, await measure(steps, null, calls), await measure(steps, 100, calls)]) {
    if (m.grad.some((g, i) => !Object.is(g, recorded.grad[i]))) throw new Error(`${m.variant}, ${steps} steps: the gradient differs from the recorded one`);
    const { grad: _grad, ...row } = m;
    rows.push(row);
  }
}
const mb = (b: number) => (b / 2 ** 20).toFixed(b < 2 ** 20 ? 3 : 1);
console.log("steps     variant                    primal ms  reverse ms  reverse/primal  tape MiB (forward sweep)  memory MiB");
for (const r of rows)
  console.log(`${String(r.steps).padEnd(9)} ${r.variant.padEnd(26)} ${r.primalMs.toFixed(2).padStart(9)}  ${r.reverseMs.toFixed(1).padStart(10)}  ${r.ratio.toFixed(2).padStart(14)}  ${mb(r.tapeBytes).padStart(24)}  ${mb(r.memoryBytes).padStart(10)}`);
console.log("\nGradients of the checkpointed variants equal the recorded ones bit for bit. Medians of", quick ? 3 : 7, "calls after a warm-up call; memory is the Program's linear memory after the calls.");
if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ node: process.version, rows }, null, 2));
