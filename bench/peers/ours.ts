// Our side of a case, through the public API only: the kernel from assembly/<file> compiled
// with Program.fromAssemblyScript, its primal (kernel.call), reverse gradient and forward
// directional derivative (autodiff), with typed arrays copied in and out as a user's call
// does, plus a zero-copy variant on program.alloc buffers; first-call latency on fresh
// Programs; the gradient vector every other system is checked against.
import {
  Active, Const, Duplicated, Forward, Program, Reverse, autodiff,
  type AutodiffResult, type Kernel, type WasmArray,
} from "../../src/index.js";
import { rng, uniform } from "../random.js";
import { assemblySource, compileAsc } from "./asc.js";
import type { KernelCase } from "./common.js";

export interface Ours {
  primal: () => unknown;
  reverse: () => Promise<AutodiffResult>;
  forward: () => Promise<AutodiffResult>;
  primalZeroCopy: () => unknown;
  reverseZeroCopy: () => Promise<AutodiffResult>;
  /** Runs reverse and returns the gradient vector (the reference for every other system). */
  gradient: () => Promise<Float64Array>;
  gradientZeroCopy: () => Promise<Float64Array>;
  /** Forward tangent of L along a random direction, and ∇L · that direction from reverse. */
  consistency: () => Promise<{ tangent: number; gradDot: number }>;
  /** The primal value of L (return value + Σ seed · final contents). */
  value: () => number;
}

export async function buildOurs(c: KernelCase): Promise<Ours> {
  // (the optimized tier at once: what a tiered derivative runs after its tier-up, so no timed call runs the first tier)
  const program = await Program.fromAssemblyScript(assemblySource(c.file), { math: c.math, optimize: "fast" });
  const k: Kernel = program.kernel(c.fn);
  const r = rng(0x0dd5 + c.args.length);
  // Copy API: working buffers, shadows and forward directions per argument (null where none).
  const bufs = c.args.map((a) => (a.kind === "dup" ? a.data.slice() : null));
  const shadows = c.args.map((a) => (a.kind === "dup" ? new Float64Array(a.data.length) : null));
  const dirs = c.args.map((a) => (a.kind === "dup" && a.role === "grad" ? uniform(a.data.length, r, -1, 1) : null));
  const realDir = c.args.map((a) => (a.kind === "real" && a.active ? uniform(1, r, -1, 1)[0] : 0));
  const restore = (b: (Float64Array | null)[]) => c.args.forEach((a, i) => { if (a.kind === "dup" && a.inPlace) b[i]!.set(a.data); });
  // Shadows on entry: the seed on seeded buffers, zero elsewhere (a scratch buffer's shadow
  // must be zero too, or L would include shadow · its final contents).
  const seedShadows = (s: (Float64Array | null)[]) => c.args.forEach((a, i) => {
    if (a.kind !== "dup") return;
    if (a.seed) s[i]!.set(a.seed); else s[i]!.fill(0);
  });
  const values = (b: (Float64Array | null)[]) => c.args.map((a, i) => (a.kind === "dup" ? b[i] : a.kind === "const" ? a.data : a.value));
  const revArgs = (b: unknown[], s: unknown[]) => c.args.map((a, i) =>
    a.kind === "dup" ? Duplicated(b[i] as Float64Array, s[i] as Float64Array) : a.kind === "const" ? Const(a.data) : a.kind === "real" && a.active ? Active(a.value) : Const(a.value));
  const gradientOf = (res: AutodiffResult, s: (Float64Array | null)[]) => {
    const parts: number[] = [];
    c.args.forEach((a, i) => {
      if (a.kind === "dup" && a.role === "grad") for (const v of s[i]!) parts.push(v);
      else if (a.kind === "real" && a.active) parts.push(res.derivs[i] as number);
    });
    return Float64Array.from(parts);
  };
  const reverse = () => { restore(bufs); seedShadows(shadows); return autodiff(Reverse, k, ...revArgs(bufs, shadows)); };
  const fwdArgs = () => c.args.map((a, i) => {
    if (a.kind === "dup") {
      const t = shadows[i]!;
      if (dirs[i]) t.set(dirs[i]!); else t.fill(0);
      return Duplicated(bufs[i]!, t);
    }
    return a.kind === "const" ? Const(a.data) : a.kind === "real" && a.active ? Duplicated(a.value, realDir[i]) : Const(a.value);
  });
  const forward = () => { restore(bufs); return autodiff(Forward, k, ...fwdArgs()); };
  const primal = () => { restore(bufs); return k.call(...values(bufs)); };
  const L = (ret: unknown, b: (Float64Array | null)[] | Float64Array[]) => {
    let s = typeof ret === "number" ? ret : 0;
    c.args.forEach((a, i) => { if (a.kind === "dup" && a.seed) for (let j = 0; j < a.seed.length; j++) s += a.seed[j] * b[i]![j]; });
    return s;
  };

  // Zero-copy: every buffer and shadow in the program's memory, used in place.
  const wa: (WasmArray<Float64Array> | WasmArray<Int32Array> | null)[] = c.args.map((a) =>
    a.kind === "dup" ? program.alloc(Float64Array, a.data.length)
      : a.kind === "const" ? (a.data instanceof Int32Array ? program.alloc(Int32Array, a.data.length) : program.alloc(Float64Array, a.data.length)) : null);
  const wsh = c.args.map((a) => (a.kind === "dup" ? program.alloc(Float64Array, a.data.length) : null));
  c.args.forEach((a, i) => { if (a.kind === "dup" || a.kind === "const") (wa[i]!.array as Float64Array | Int32Array).set(a.data); });
  const zRestore = () => c.args.forEach((a, i) => { if (a.kind === "dup" && a.inPlace) (wa[i]!.array as Float64Array).set(a.data); });
  const zSeed = () => c.args.forEach((a, i) => { if (a.kind === "dup") { if (a.seed) wsh[i]!.array.set(a.seed); else wsh[i]!.array.fill(0); } });
  const zValues = () => c.args.map((a, i) => (a.kind === "dup" || a.kind === "const" ? wa[i] : a.value));
  const zRevArgs = () => c.args.map((a, i) =>
    a.kind === "dup" ? Duplicated(wa[i]!, wsh[i]!) : a.kind === "const" ? Const(wa[i]!) : a.kind === "real" && a.active ? Active(a.value) : Const(a.value));
  const reverseZeroCopy = () => { zRestore(); zSeed(); return autodiff(Reverse, k, ...zRevArgs()); };

  return {
    primal,
    reverse,
    forward,
    primalZeroCopy: () => { zRestore(); return k.call(...zValues()); },
    reverseZeroCopy,
    gradient: async () => gradientOf(await reverse(), shadows),
    gradientZeroCopy: async () => gradientOf(await reverseZeroCopy(), wsh.map((w) => w && w.array)),
    consistency: async () => {
      const g = gradientOf(await reverse(), shadows);
      const f = await forward();
      const tangent = L(f.tangent ?? 0, shadows);
      let gradDot = 0, o = 0;
      c.args.forEach((a, i) => {
        if (a.kind === "dup" && a.role === "grad") { for (let j = 0; j < a.data.length; j++) gradDot += g[o + j] * dirs[i]![j]; o += a.data.length; }
        else if (a.kind === "real" && a.active) gradDot += g[o++] * realDir[i];
      });
      return { tangent, gradDot };
    },
    value: () => L(primal(), bufs),
  };
}

export interface FirstCall {
  /** asc compile of the kernel source (what Program.fromAssemblyScript adds in front of fromWasm). */
  ascMs: number;
  /** Program.fromWasm(asc bytes, { splitLocals: true }): lift + instantiate the primal. */
  createMs: number;
  /** Wall time of the first autodiff(Reverse) call on that fresh Program. */
  firstCallMs: number;
  /** Its r.stats.compileMs: differentiate + optimize + instantiate. */
  compileMs: number;
  tapeBytes: number;
  moduleBytes: number;
}

/**
 * First-call latency on fresh Programs (empty derivative cache): the kernel compiled ahead of
 * time by asc (as build/kernels.wasm is), then Program.fromWasm + the first reverse call.
 * `repeats` fresh Programs; the figures of the median total.
 */
export async function firstCall(c: KernelCase, repeats: number): Promise<FirstCall & { totalMsAll: number[] }> {
  const t0 = performance.now();
  const bytes = await compileAsc(assemblySource(c.file), c.math);
  const ascMs = performance.now() - t0;
  const all: FirstCall[] = [];
  for (let k = 0; k < repeats; k++) {
    const args = c.args.map((a) =>
      a.kind === "dup" ? Duplicated(a.data.slice(), a.seed ? a.seed.slice() : new Float64Array(a.data.length))
        : a.kind === "const" ? Const(a.data) : a.kind === "real" && a.active ? Active(a.value) : Const(a.value));
    const s = performance.now();
    const p = await Program.fromWasm(bytes, { splitLocals: true });
    const m = performance.now();
    const res = await autodiff(Reverse, p.kernel(c.fn), ...args);
    const e = performance.now();
    all.push({ ascMs, createMs: m - s, firstCallMs: e - m, compileMs: res.stats.compileMs, tapeBytes: res.stats.tapeBytes, moduleBytes: res.stats.moduleBytes });
  }
  const total = (f: FirstCall) => f.createMs + f.firstCallMs;
  const mid = [...all].sort((a, b) => total(a) - total(b))[(all.length - 1) >> 1];
  return { ...mid, totalMsAll: all.map(total) };
}
