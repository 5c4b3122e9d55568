// npm start: differentiate a bundled kernel (the in-place heat equation) in both modes and
// check the result against finite differences, printing value, gradient and errors.
import { readFileSync } from "node:fs";
import { Active, Const, Duplicated, ForwardWithPrimal, Program, ReverseWithPrimal, autodiff } from "../src/index.js";

const heatWat = readFileSync(new URL("../../bench/kernels/heat.wat", import.meta.url), "utf8");

const n = 16, steps = 50, a = 0.2;
const u0 = Float64Array.from({ length: n }, (_, i) => Math.sin((Math.PI * (i + 1)) / (n + 1)));
// L = sum_i w_i * u_final[i]: the seed of u's shadow is w
const w = Float64Array.from({ length: n }, (_, i) => 1 + i / n);

const program = await Program.fromWat(heatWat);
const heat = program.kernel("heat");

const loss = (u: Float64Array, alpha: number) => {
  const uu = u.slice();
  heat.call(uu, new Float64Array(n), n, alpha, steps);
  return uu.reduce((s, v, i) => s + w[i] * v, 0);
};

const u = u0.slice(), du = w.slice(), tmp = new Float64Array(n), dtmp = new Float64Array(n);
const r = await autodiff(ReverseWithPrimal, heat, Duplicated(u, du), Duplicated(tmp, dtmp), Const(n), Active(a), Const(steps));
console.log(`heat equation, n = ${n}, ${steps} steps, a = ${a}`);
console.log(`L = Σ w·u_final = ${loss(u0, a).toFixed(12)}`);
console.log(`reverse: dL/da = ${r.derivs[3]!.toFixed(12)}   (tape ${r.stats.tapeBytes} bytes, compiled in ${r.stats.compileMs.toFixed(0)} ms)`);

// finite differences (central, Richardson-extrapolated)
const fd = (f: (h: number) => number, h: number) => { const D = (s: number) => (f(s) - f(-s)) / (2 * s); return (4 * D(h / 2) - D(h)) / 3; };
const fdA = fd((h) => loss(u0, a + h), 1e-4);
console.log(`finite differences:     ${fdA.toFixed(12)}   rel. error ${(Math.abs(fdA - r.derivs[3]!) / Math.abs(fdA)).toExponential(1)}`);
let worst = 0;
for (let i = 0; i < n; i++) {
  const g = fd((h) => { const x = u0.slice(); x[i] += h; return loss(x, a); }, 1e-4);
  worst = Math.max(worst, Math.abs(g - du[i]) / Math.max(1, Math.abs(g)));
}
console.log(`dL/du0 = [${Array.from(du.slice(0, 4), (v) => v.toFixed(6)).join(", ")}, ...]   worst rel. error vs finite differences ${worst.toExponential(1)}`);

// forward mode: the directional derivative along (du0 = 0, da = 1) equals dL/da
const fu = u0.slice(), fdu = new Float64Array(n);
await autodiff(ForwardWithPrimal, heat, Duplicated(fu, fdu), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n), Duplicated(a, 1), Const(steps));
const dir = fdu.reduce((s, v, i) => s + w[i] * v, 0);
console.log(`forward: d/da of L = ${dir.toFixed(12)}   forward vs reverse rel. difference ${(Math.abs(dir - r.derivs[3]!) / Math.abs(dir)).toExponential(1)}`);
