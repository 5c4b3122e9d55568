// Determinism: the same inputs give bit-identical results (Object.is per value: primal,
// reverse derivatives and shadows, forward tangents and shadows, final buffers) across
// repeated calls on one Program (compile cache hits), across two Program instances of the
// same module, with optimize: 0, 3 and the default's two tiers against the "fast" pass list — binaryen's
// optimizer must not change float semantics (no reassociation, no fused operations).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  Active, Const, Duplicated, ForwardWithPrimal, Program, ReverseWithPrimal, autodiff,
  type Kernel, type ProgramOptions,
} from "../../src/index.js";

const KERNELS = new URL("../kernels/", import.meta.url);
const wat = (file: string) => readFileSync(new URL(file, KERNELS), "utf8");

/** A labelled list of every number a run produces. */
type Values = [label: string, value: number | bigint | undefined | null][];

interface Case {
  file: string;
  name: string;
  /** primal call, reverse and forward, on fresh copies of fixed inputs */
  run(k: Kernel): Promise<Values>;
}

const arr = (label: string, xs: ArrayLike<number>): Values => Array.from(xs, (v, i) => [`${label}[${i}]`, v]);

// inputs: fixed, irregular values (no seeds that would make results trivially equal)
const heatN = 12, heatSteps = 7;
const heatU = Float64Array.from({ length: heatN }, (_, i) => Math.sin(1.3 * i + 0.2) * 0.8);
const heatSeed = Float64Array.from({ length: heatN }, (_, i) => Math.cos(0.7 * i) - 0.1 * i);
const heatTangent = Float64Array.from({ length: heatN }, (_, i) => Math.sin(2.1 * i + 1));
const dotN = 9;
const dotX = Float64Array.from({ length: dotN }, (_, i) => Math.tan(0.3 * i + 0.1));
const dotY = Float64Array.from({ length: dotN }, (_, i) => Math.exp(-0.2 * i) - 0.37);

const cases: Case[] = [
  {
    file: "heat.wat", name: "heat",
    async run(k) {
      const a = 0.2137;
      const u0 = heatU.slice(), tmp0 = new Float64Array(heatN);
      k.call(u0, tmp0, heatN, a, heatSteps);
      const u = heatU.slice(), du = heatSeed.slice(), tmp = new Float64Array(heatN), dtmp = new Float64Array(heatN);
      const r = await autodiff(ReverseWithPrimal, k, Duplicated(u, du), Duplicated(tmp, dtmp), Const(heatN), Active(a), Const(heatSteps));
      const fu = heatU.slice(), fdu = heatTangent.slice(), ftmp = new Float64Array(heatN), fdtmp = new Float64Array(heatN);
      const f = await autodiff(ForwardWithPrimal, k, Duplicated(fu, fdu), Duplicated(ftmp, fdtmp), Const(heatN), Duplicated(a, 0.75), Const(heatSteps));
      return [
        ...arr("call u", u0), ...arr("call tmp", tmp0),
        ["reverse dL/da", r.derivs[3]], ...arr("reverse u", u), ...arr("reverse du", du), ...arr("reverse dtmp", dtmp),
        ...arr("forward u", fu), ...arr("forward du", fdu), ...arr("forward dtmp", fdtmp),
      ];
    },
  },
  {
    file: "dot.wat", name: "dot",
    async run(k) {
      const primal = k.call(dotX.slice(), dotY.slice(), dotN);
      const dx = Float64Array.from(dotY, (v) => v * 0.5), dy = new Float64Array(dotN); // dx starts non-zero: read-only inputs accumulate
      const r = await autodiff(ReverseWithPrimal, k, Duplicated(dotX.slice(), dx), Duplicated(dotY.slice(), dy), Const(dotN));
      const tx = Float64Array.from(dotX, (v, i) => v * 0.3 - i), ty = Float64Array.from(dotY, (v) => 1 - v);
      const f = await autodiff(ForwardWithPrimal, k, Duplicated(dotX.slice(), tx), Duplicated(dotY.slice(), ty), Const(dotN));
      return [["call", primal], ["reverse primal", r.primal], ...arr("reverse dx", dx), ...arr("reverse dy", dy),
        ["forward primal", f.primal], ["forward tangent", f.tangent], ...arr("forward tx", tx), ...arr("forward ty", ty)];
    },
  },
  {
    file: "calls.wat", name: "calls",
    async run(k) {
      const out: Values = [];
      for (const [x, y] of [[0.7316, -1.2093], [1.9, 0.3141], [-0.45, 2.2]]) {
        out.push([`call(${x}, ${y})`, k.call(x, y)]);
        const r = await autodiff(ReverseWithPrimal, k, Active(x), Active(y));
        out.push([`reverse primal(${x}, ${y})`, r.primal], [`d/dx(${x}, ${y})`, r.derivs[0]], [`d/dy(${x}, ${y})`, r.derivs[1]]);
        const f = await autodiff(ForwardWithPrimal, k, Duplicated(x, 0.6), Duplicated(y, -1.3));
        out.push([`forward primal(${x}, ${y})`, f.primal], [`tangent(${x}, ${y})`, f.tangent]);
      }
      return out;
    },
  },
];

const bits = (v: unknown): string => {
  if (typeof v !== "number") return String(v);
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, v);
  return `${v} (0x${b.getBigUint64(0).toString(16).padStart(16, "0")})`;
};

/** Every value bit-identical (Object.is), reported with both values' bits otherwise. */
function expectIdentical(a: Values, b: Values, what: string): void {
  expect(a.map(([l]) => l), what).toEqual(b.map(([l]) => l));
  const diffs = a.flatMap(([label, v], i) => (Object.is(v, b[i][1]) ? [] : [`${label}: ${bits(v)} vs ${bits(b[i][1])}`]));
  expect(diffs, `${what}: ${diffs.length} of ${a.length} values differ\n${diffs.join("\n")}`).toEqual([]);
  // guard against a vacuous comparison: the derivatives are real numbers
  expect(a.every(([, v]) => typeof v !== "number" || Number.isFinite(v)), `${what}: non-finite values`).toBe(true);
}

const load = (c: Case, options?: ProgramOptions) => Program.fromWat(wat(c.file), options).then((p) => p.kernel(c.name));

describe("determinism: bit-identical derivatives", () => {
  describe.each(cases)("$name", (c) => {
    it("across repeated calls on one Program", async () => {
      const k = await load(c);
      const first = await c.run(k);
      for (let i = 0; i < 3; i++) expectIdentical(await c.run(k), first, `repeat ${i + 1}`);
    });

    it("across two Program instances of the same module", async () => {
      const [a, b] = await Promise.all([load(c), load(c)]);
      expectIdentical(await c.run(b), await c.run(a), "second Program");
    });

    it("with optimize: 0, binaryen's -O3, the \"fast\" pass list and the default (tiered)", async () => {
      const [tiered, plain, o3, fast] = await Promise.all([load(c), load(c, { optimize: 0 }), load(c, { optimize: 3 }), load(c, { optimize: "fast" })]);
      const want = await c.run(fast);
      expectIdentical(await c.run(plain), want, "optimize 0 vs fast");
      expectIdentical(await c.run(o3), want, "optimize 3 vs fast");
      // tiered: unoptimized first, then optimized once the calls have run as long as the compile took
      expectIdentical(await c.run(tiered), want, "tiered, first tier vs fast");
      expect(tiered.program.compiledDerivatives(tiered).some((d) => !d.optimized), "a first tier ran").toBe(true);
      for (const d of tiered.program.compiledDerivatives(tiered)) d.ran(Infinity);
      expectIdentical(await c.run(tiered), want, "tiered, optimized vs fast");
      expect(tiered.program.compiledDerivatives(tiered).every((d) => d.optimized), "every derivative optimized").toBe(true);
    });
  });
});
