// AssemblyScript parameter types the wrapper handles: StaticArray<f64> / StaticArray<f32>
// parameters take plain typed arrays (the wrapper writes the object header before the data,
// so `.length` works); Float64Array/Float32Array and Array<f64>/Array<f32> parameters take
// typed arrays too (the wrapper builds the object around the data, and a shadow object around
// the shadow); other managed objects (classes, strings) are refused with an ArgumentError
// naming the type instead of being passed as a bare data pointer.
import { describe, expect, it } from "vitest";
import { Active, ArgumentError, UnsupportedError, Const, Duplicated, Forward, Program, ReverseWithPrimal, autodiff } from "../../src/index.js";
import { relErr } from "../helpers/check.js";

const source = `
export function dot(a: StaticArray<f64>, b: StaticArray<f64>): f64 {
  let s = 0.0;
  for (let i = 0; i < a.length; i++) s += a[i] * Math.sin(b[i]);
  return s;
}
export function sq32(a: StaticArray<f32>): f32 { let s: f32 = 0; for (let i = 0; i < a.length; i++) s += a[i] * a[i]; return s / <f32>a.length; }
export function scale(a: StaticArray<f64>, c: f64): void { for (let i = 0; i < a.length; i++) a[i] = a[i] * c; }
export function typed(a: Float64Array): f64 { return a[0]; }
export function arr(a: Array<f64>): f64 { return a[0]; }
export function norm(a: Float64Array, w: Float32Array): f64 { let s = 0.0; for (let i = 0; i < a.length; i++) s += <f64>w[i % w.length] * a[i] * a[i]; return Math.sqrt(s); }
export function axpy(y: Float64Array, x: Array<f64>, c: f64): f64 { for (let i = 0; i < y.length; i++) y[i] = y[i] + c * Math.sin(x[i]); return <f64>y.length; }
export function arrwrite(y: Array<f64>): f64 { for (let i = 0; i < y.length; i++) y[i] = y[i] * y[i]; return 0; }
class Point { x: f64 = 0; }
export function point(p: Point): f64 { return p.x; }
`;

describe("AssemblyScript managed parameters", () => {
  it("StaticArray<f64>: plain typed arrays in, .length from the header, derivatives exact", async () => {
    const p = await Program.fromAssemblyScript(source);
    const k = p.kernel("dot");
    for (const n of [1, 3, 17]) {
      const a = Float64Array.from({ length: n }, (_, i) => 0.5 + i), b = Float64Array.from({ length: n }, (_, i) => 0.1 * i - 0.3);
      const want = a.reduce((s, x, i) => s + x * Math.sin(b[i]), 0);
      expect(relErr(k.call(a, b) as number, want)).toBeLessThan(1e-14);
      const da = new Float64Array(n), db = new Float64Array(n);
      const r = await autodiff(ReverseWithPrimal, k, Duplicated(a.slice(), da), Duplicated(b.slice(), db));
      expect(r.primal).toBe(k.call(a, b));
      for (let i = 0; i < n; i++) {
        expect(relErr(da[i], Math.sin(b[i]))).toBeLessThan(1e-14);
        expect(relErr(db[i], a[i] * Math.cos(b[i]))).toBeLessThan(1e-14);
      }
      const ta = Float64Array.from({ length: n }, (_, i) => Math.cos(i)), tb = Float64Array.from({ length: n }, (_, i) => Math.sin(2 * i));
      const fw = await autodiff(Forward, k, Duplicated(a.slice(), ta), Duplicated(b.slice(), tb));
      expect(relErr(fw.tangent!, ta.reduce((s, t, i) => s + t * da[i] + tb[i] * db[i], 0))).toBeLessThan(1e-12);
    }
  });

  it("StaticArray<f32> and an in-place update through a StaticArray", async () => {
    const p = await Program.fromAssemblyScript(source);
    const f = Float32Array.of(1, 2, 3), df = new Float32Array(3);
    const r = await autodiff(ReverseWithPrimal, p.kernel("sq32"), Duplicated(f, df));
    expect(r.primal).toBe(Math.fround(14 / 3));
    expect([...df]).toEqual([2 / 3, 4 / 3, 2].map(Math.fround));
    // in place: a ← c·a, so the seed on a's final contents comes back scaled by c
    const a2 = Float64Array.of(1, -2, 4), s2 = Float64Array.of(1, 1, 1);
    const r2 = await autodiff(ReverseWithPrimal, p.kernel("scale"), Duplicated(a2, s2), Const(2.5));
    expect([...a2]).toEqual([2.5, -5, 10]);
    expect([...s2]).toEqual([2.5, 2.5, 2.5]);
    expect(r2.derivs).toEqual([null, null]);
  });

  it.each(["stub", "incremental"])("Float64Array, Float32Array and Array<f64> parameters (%s runtime): built around typed arrays, derivatives exact in both modes", async (runtime) => {
    const p = await Program.fromAssemblyScript(source, { asc: { runtime } });
    expect(p.kernel("typed").call(Float64Array.of(2.5, 1))).toBe(2.5);
    expect(p.kernel("arr").call(Float64Array.of(-1, 1))).toBe(-1);
    // norm = sqrt(Σ w[i mod m] a[i]²), a Float64Array and a Const Float32Array of another length
    const k = p.kernel("norm");
    for (const n of [1, 5, 12]) {
      const a = Float64Array.from({ length: n }, (_, i) => 0.3 + Math.sin(i)), w = Float32Array.of(0.5, 2, 1.25);
      const wt = (i: number) => Math.fround(w[i % 3]);
      const nrm = Math.sqrt(a.reduce((s, v, i) => s + wt(i) * v * v, 0));
      expect(relErr(k.call(a, w) as number, nrm)).toBeLessThan(1e-14);
      const da = new Float64Array(n);
      const r = await autodiff(ReverseWithPrimal, k, Duplicated(a.slice(), da), Const(w));
      expect(r.primal).toBe(k.call(a, w));
      for (let i = 0; i < n; i++) expect(relErr(da[i], (wt(i) * a[i]) / nrm)).toBeLessThan(1e-13);
      const t = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
      const fw = await autodiff(Forward, k, Duplicated(a.slice(), t), Const(w));
      expect(relErr(fw.tangent!, t.reduce((s, v, i) => s + v * da[i], 0))).toBeLessThan(1e-12);
    }
    // axpy in place on a Float64Array, reading an Array<f64>: y ← y + c·sin(x); the seed on y's final contents flows to y, x and c
    const y = Float64Array.of(1, 2, 3), x = Float64Array.of(0.1, 0.7, -0.4), sy = Float64Array.of(1, -1, 0.5), dx = new Float64Array(3);
    const r = await autodiff(ReverseWithPrimal, p.kernel("axpy"), Duplicated(y, sy), Duplicated(x, dx), Active(0.5));
    expect(r.primal).toBe(3);
    expect([...y]).toEqual([1, 2, 3].map((v, i) => v + 0.5 * Math.sin(x[i])));
    expect([...sy]).toEqual([1, -1, 0.5]);
    for (let i = 0; i < 3; i++) expect(relErr(dx[i], [1, -1, 0.5][i] * 0.5 * Math.cos(x[i]))).toBeLessThan(1e-15);
    expect(relErr(r.derivs[2]!, [1, -1, 0.5].reduce((s, v, i) => s + v * Math.sin(x[i]), 0))).toBeLessThan(1e-15);
  });

  it("other managed types are refused, naming the type, and the wrong array type is refused", async () => {
    const p = await Program.fromAssemblyScript(source);
    expect(() => p.kernel("point").call(0)).toThrow(/Point, a managed object the wrapper cannot build; take the data as StaticArray<f64>/);
    expect(() => p.kernel("typed").call(Float32Array.of(1))).toThrow(/Float64Array; pass a Float64Array/);
    // writing through an Array<f64> parameter: AssemblyScript's index setter may grow the array, rewriting its fields
    await expect(autodiff(ReverseWithPrimal, p.kernel("arrwrite"), Duplicated(Float64Array.of(1, 2), new Float64Array(2)))).rejects.toThrow(UnsupportedError);
    await expect(autodiff(ReverseWithPrimal, p.kernel("arr"), Duplicated(Float64Array.of(1), p.alloc(Float64Array, 1)))).rejects.toThrow(/Array<f64> parameter must be a Float64Array too/);
    expect(() => p.kernel("dot").call(Float32Array.of(1), Float64Array.of(1))).toThrow(/StaticArray<f64>; pass a Float64Array/);
    expect(() => p.kernel("dot").call(p.alloc(Float64Array, 2), Float64Array.of(1, 2))).toThrow(ArgumentError);
  });
});
