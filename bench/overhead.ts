// The fixed cost of an autodiff call (npm run bench:overhead): reverse mode on a kernel that
// does almost nothing (x[0]²), zero-copy and with copied arrays, against an awaited call of
// the compiled derivative's exported entry with the same arguments (what no wrapper can go
// below). Interleaved rounds, medians (bench/measure.ts).
import { Const, Duplicated, Program, Reverse, autodiff } from "../src/index.js";
import { calibrate, interleave, median, timingFor, type Subject } from "./measure.js";

const quick = process.argv.includes("--quick");
const o = timingFor(quick, null);
const p = await Program.fromWat(`(module (memory (export "memory") 1)
  (func (export "f") (param $x i32) (param $n i32) (result f64) (f64.mul (f64.load (local.get $x)) (f64.load (local.get $x)))))`, { optimize: "fast" });
const k = p.kernel("f");
const x = p.alloc(Float64Array, 4), dx = p.alloc(Float64Array, 4);
x.array.set([3, 1, 2, 5]);
const xc = Float64Array.of(3, 1, 2, 5), dxc = new Float64Array(4);
await autodiff(Reverse, k, Duplicated(x, dx), Const(4));
// (the entry's arguments: x, n, dx, the result's seed, the tape's base, each argument's byte length)
const compiled = await p.derivative(k, "reverse", { params: ["dup", "const"], resultActive: true }, false);
const tape = p.arena.heap.top + (1 << 16);
p.arena.ensure(tape + (1 << 16));
const bare = async () => compiled.entry(x.address, 4, dx.address, 1.0, tape, 32, 0);
await bare();
dx.array.fill(0);
const subjects: Subject[] = [
  { name: "autodiff, zero-copy", async: true, run: () => autodiff(Reverse, k, Duplicated(x, dx), Const(4)) },
  { name: "autodiff, copied arrays", async: true, run: () => autodiff(Reverse, k, Duplicated(xc, dxc), Const(4)) },
  { name: "awaited call of the entry", async: true, run: bare },
];
const cal = [];
for (const s of subjects) cal.push({ subject: s, batch: (await calibrate(s, o)).batch });
const series = await interleave(cal, o.rounds, o.minSampleMs);
const base = median(series[2].perCallMs);
for (const s of series) {
  const m = median(s.perCallMs);
  console.log(`${s.name.padEnd(28)} ${(m * 1000).toFixed(3)} µs per call${s === series[2] ? "" : `  (+${((m - base) * 1000).toFixed(3)} µs over the bare call)`}`);
}
if (dx.array[0] <= 0 || dxc[0] <= 0) throw new Error("the derivative did not run");
