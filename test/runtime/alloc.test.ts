// Zero-copy buffers (program.alloc): passed by address, never copied; views survive memory growth;
// freed space is reused; misuse is an ArgumentError.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Active, ArgumentError, Const, Duplicated, Forward, Program, Reverse, ReverseWithPrimal, autodiff } from "../../src/index.js";

const kernel = (f: string) => readFileSync(new URL(`../kernels/${f}`, import.meta.url), "utf8");

describe("program.alloc", () => {
  it("differentiates dot on zero-copy buffers, gradient written in place", async () => {
    const p = await Program.fromWat(kernel("dot.wat"));
    const k = p.kernel("dot");
    const n = 16;
    const x = p.alloc(Float64Array, n), y = p.alloc(Float64Array, n), dx = p.alloc(Float64Array, n), dy = p.alloc(Float64Array, n);
    x.array.set(Array.from({ length: n }, (_, i) => Math.sin(i)));
    y.array.set(Array.from({ length: n }, (_, i) => Math.cos(i)));
    dy.array.fill(1); // read-only inputs accumulate
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x, dx), Duplicated(y, dy), Const(n));
    const want = x.array.reduce((s, v, i) => s + v * y.array[i], 0);
    expect(r.primal).toBe(k.call(x, y, n));
    expect(r.primal).toBeCloseTo(want, 12);
    for (let i = 0; i < n; i++) {
      expect(dx.array[i]).toBe(y.array[i]);
      expect(dy.array[i]).toBe(1 + x.array[i]);
    }
  });

  it("in-place kernels update the buffer itself (heat), forward and reverse", async () => {
    const p = await Program.fromWat(kernel("heat.wat"));
    const k = p.kernel("heat");
    const n = 12, steps = 5;
    const u0 = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const u = p.alloc(Float64Array, n), tmp = p.alloc(Float64Array, n), du = p.alloc(Float64Array, n), dtmp = p.alloc(Float64Array, n);
    u.array.set(u0);
    const ref = u0.slice();
    k.call(ref, new Float64Array(n), n, 0.2, steps);
    du.array.fill(1);
    const r = await autodiff(Reverse, k, Duplicated(u, du), Duplicated(tmp, dtmp), Const(n), Active(0.2), Const(steps));
    expect(Array.from(u.array)).toEqual(Array.from(ref));
    // the same derivative through copied arrays
    const du2 = new Float64Array(n).fill(1);
    const r2 = await autodiff(Reverse, k, Duplicated(u0.slice(), du2), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n), Active(0.2), Const(steps));
    expect(Array.from(du.array)).toEqual(Array.from(du2));
    expect(r.derivs[3]).toBe(r2.derivs[3]);
    // forward with a handle primal and a copied shadow
    u.array.set(u0);
    const tu = new Float64Array(n).fill(0.5);
    await autodiff(Forward, k, Duplicated(u, tu), Duplicated(tmp, new Float64Array(n)), Const(n), Duplicated(0.2, 0), Const(steps));
    expect(Array.from(u.array)).toEqual(Array.from(ref));
    expect(tu.some((v) => v !== 0.5)).toBe(true);
  });

  it("views survive memory growth, freed space is reused, memory stays flat", async () => {
    const p = await Program.fromWat(kernel("dot.wat"));
    const a = p.alloc(Float64Array, 4);
    a.array.set([1, 2, 3, 4]);
    const big = p.alloc(Float64Array, 1 << 17); // 1 MiB: grows memory and detaches old views
    expect(Array.from(a.array)).toEqual([1, 2, 3, 4]);
    const where = big.address;
    big.free();
    const again = p.alloc(Float64Array, 1 << 17);
    expect(again.address).toBe(where);
    const size = p.memory.buffer.byteLength;
    for (let i = 0; i < 200; i++) p.alloc(Float64Array, 1000).free();
    expect(p.memory.buffer.byteLength).toBe(size);
    expect(() => big.array).toThrow(ArgumentError);
  });

  it("refuses aliasing, freed buffers and buffers of another program", async () => {
    const p = await Program.fromWat(kernel("dot.wat"));
    const q = await Program.fromWat(kernel("dot.wat"));
    const k = p.kernel("dot");
    const x = p.alloc(Float64Array, 4), dx = p.alloc(Float64Array, 4), other = q.alloc(Float64Array, 4);
    await expect(autodiff(Reverse, k, Duplicated(x, dx), Duplicated(x, dx), Const(4))).rejects.toThrow(/share memory/);
    await expect(autodiff(Reverse, k, Duplicated(x, x), Const(new Float64Array(4)), Const(4))).rejects.toThrow(ArgumentError);
    await expect(autodiff(Reverse, k, Duplicated(x, dx), Const(other), Const(4))).rejects.toThrow(/another Program/);
    const gone = p.alloc(Float64Array, 4);
    gone.free();
    expect(() => k.call(x, gone, 4)).toThrow(/freed/);
    expect(() => p.alloc(Float64Array, -1)).toThrow(ArgumentError);
  });
});

describe("endurance", () => {
  it("100 000 consecutive reverse calls leave the memory size flat", async () => {
    const p = await Program.fromWat(kernel("dot.wat"));
    const k = p.kernel("dot");
    const x = Float64Array.from({ length: 16 }, (_, i) => i), y = x.map((v) => 1 - v), dx = new Float64Array(16), dy = new Float64Array(16);
    await autodiff(Reverse, k, Duplicated(x, dx), Duplicated(y, dy), Const(16));
    const size = p.memory.buffer.byteLength;
    for (let i = 0; i < 100_000; i++) await autodiff(Reverse, k, Duplicated(x, dx), Duplicated(y, dy), Const(16));
    expect(p.memory.buffer.byteLength).toBe(size);
    // read-only inputs accumulated 100 001 times
    expect(dx[3]).toBe(100_001 * y[3]);
  });
});
