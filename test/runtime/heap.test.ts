// The module's own heap (memory.grow: AssemblyScript's runtimes, C's malloc) and the runtime's
// regions in one memory: the kernel sees only its own pages, grows into the reserve, never
// into the runtime's buffers; running out of reserve is a TrapError naming the remedy.
import { describe, expect, it } from "vitest";
import { Const, Duplicated, Program, ReverseWithPrimal, TrapError, autodiff } from "../../src/index.js";

const AS_SOURCE = `
export function sumsq(x: StaticArray<f64>, n: i32): f64 {
  const t = new StaticArray<f64>(n);
  for (let i = 0; i < n; i++) t[i] = x[i] * x[i];
  let s = 0.0;
  for (let i = 0; i < n; i++) s += t[i] * x[i];
  return s;
}
export function sumsq_ptr(x: usize, n: i32): f64 {
  const t = new StaticArray<f64>(n);
  for (let i = 0; i < n; i++) { const v = load<f64>(x + (<usize>i << 3)); t[i] = v * v; }
  let s = 0.0;
  for (let i = 0; i < n; i++) s += t[i] * load<f64>(x + (<usize>i << 3));
  return s;
}
export function square_in_place(x: StaticArray<f64>, n: i32): void {
  const t = new StaticArray<f64>(n);
  for (let i = 0; i < n; i++) t[i] = x[i] * x[i];
  for (let i = 0; i < n; i++) x[i] = t[i];
}
export function perm_dot(x: StaticArray<f64>, n: i32): f64 {
  const idx = new StaticArray<i32>(n);
  for (let i = 0; i < n; i++) idx[i] = (i * 7 + 3) % n;
  let s = 0.0;
  for (let i = 0; i < n; i++) s += x[idx[i]] * x[i];
  return s;
}`;

const input = (n: number) => Float64Array.from({ length: n }, (_, i) => (i % 7) * 0.1 - 0.25);
/** Σ x³ in the kernel's order of operations, so the comparison is exact. */
const sumCubes = (x: Float64Array) => { let s = 0; for (const v of x) s += v * v * v; return s; };

describe("a kernel that allocates with its own runtime", () => {
  for (const [what, options] of [["stub runtime", {}], ["incremental runtime (GC)", { asc: { runtime: "incremental" } }]] as const) {
    it(`${what}: kernel.call is exact for n = 3 … 100 000, call after call`, async () => {
      const k = (await Program.fromAssemblyScript(AS_SOURCE, options)).kernel("sumsq");
      for (const n of [3, 10_000, 20_000, 100_000, 3, 20_000, 100_000, 10_000]) {
        const x = input(n);
        expect(k.call(x, n)).toBe(sumCubes(x));
      }
    });
  }

  it("reverse mode over a kernel that allocates index scratch: exact gradient, primal as kernel.call", async () => {
    const k = (await Program.fromAssemblyScript(AS_SOURCE)).kernel("perm_dot");
    for (const n of [50, 20_000]) {
      const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i)), dx = new Float64Array(n);
      const r = await autodiff(ReverseWithPrimal, k, Duplicated(x, dx), Const(n));
      expect(r.primal).toBe(k.call(x, n));
      // s = Σ x[p(i)] x[i]: ∂s/∂x_j = Σ_{p(i)=j} x[i] + x[p(j)]
      const want = new Float64Array(n);
      for (let i = 0; i < n; i++) { const j = (i * 7 + 3) % n; want[j] += x[i]; want[i] += x[j]; }
      for (let i = 0; i < n; i++) expect(dx[i]).toBeCloseTo(want[i], 12);
    }
  });

  it("a heap outgrowing heapReserve is a TrapError naming the remedy; arrays unchanged; the next call works", async () => {
    const p = await Program.fromAssemblyScript(AS_SOURCE, { heapReserve: 64 << 10 });
    const k = p.kernel("square_in_place");
    const big = input(100_000), before = big.slice();
    let err: unknown;
    try { k.call(big, big.length); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TrapError);
    const msg = (err as Error).message;
    expect(msg).toContain("kernel square_in_place");
    expect(msg).toContain("outgrew the 0.06 MiB reserved for it");
    expect(msg).toContain("the caller's arrays were left unchanged");
    expect(msg).toContain(`{ heapReserve: ${128 << 10} }`);
    expect(Array.from(big)).toEqual(Array.from(before));
    // the flag was cleared: a small call succeeds, and a later ordinary trap is not blamed on the heap
    const x = input(5);
    k.call(x, 5);
    expect(Array.from(x)).toEqual(Array.from(input(5), (v) => v * v));
    expect(p.kernel("sumsq").call(input(3), 3)).toBe(sumCubes(input(3)));
    // the same error from a derivative call
    const dx = new Float64Array(100_000);
    await expect(autodiff(ReverseWithPrimal, p.kernel("perm_dot"), Duplicated(big, dx), Const(100_000))).rejects.toThrow(/outgrew the 0\.06 MiB reserved/);
    expect(dx.every((v) => v === 0)).toBe(true);
  });

  it("zero-copy buffers keep their contents across calls of a kernel that allocates", async () => {
    const p = await Program.fromAssemblyScript(AS_SOURCE);
    const k = p.kernel("sumsq_ptr");
    const n = 100_000;
    const x = p.alloc(Float64Array, n);
    x.array.set(input(n));
    const keep = p.alloc(Float64Array, 1000);
    keep.array.set(Array.from({ length: 1000 }, (_, i) => i + 0.5));
    // above the kernel's pages and its 16 MiB reserve
    expect(x.address).toBeGreaterThanOrEqual(16 << 20);
    for (const m of [n, 10_000, n, 3, n]) {
      expect(k.call(x, m)).toBe(sumCubes(x.array.subarray(0, m)));
      expect(Array.from(x.array)).toEqual(Array.from(input(n)));
      expect(Array.from(keep.array)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 0.5));
    }
    // a buffer allocated after the kernel grew lies above its pages too
    const later = p.alloc(Float64Array, 10);
    later.array.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    k.call(x, n);
    expect(Array.from(later.array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

/** probe(out, d) records memory.size, memory.grow(d), memory.size and the first word of the new pages, then marks them. */
const PROBE_WAT = `(module
  (memory 1)
  (func (export "probe") (param $out i32) (param $d i32)
    (local $old i32)
    (i32.store (local.get $out) (memory.size))
    (local.set $old (memory.grow (local.get $d)))
    (i32.store offset=4 (local.get $out) (local.get $old))
    (i32.store offset=8 (local.get $out) (memory.size))
    (if (i32.and (i32.ge_s (local.get $old) (i32.const 0)) (i32.gt_s (local.get $d) (i32.const 0)))
      (then
        (i32.store offset=12 (local.get $out) (i32.load (i32.shl (local.get $old) (i32.const 16))))
        (i32.store (i32.shl (local.get $old) (i32.const 16)) (i32.add (local.get $old) (i32.const 1000))))))
  (func (export "peek") (param $addr i32) (result i32) (i32.load (local.get $addr))))`;

describe("memory.size and memory.grow as the kernel sees them", () => {
  it("report the kernel's own pages; granted pages are zero; the kernel's data stays put", async () => {
    const p = await Program.fromWat(PROBE_WAT, { heapReserve: 4 << 16 });
    const probe = p.kernel("probe"), peek = p.kernel("peek");
    // 12 calls walk the kernel's pages through the 4-page reserve several times over, into
    // pages that held earlier calls' arguments (which are copied in as 0x77777777)
    for (let call = 0; call < 12; call++) {
      const out = new Int32Array(1024).fill(0x77777777);
      probe.call(out, 1);
      expect(Array.from(out.subarray(0, 4))).toEqual([1 + call, 1 + call, 2 + call, 0]);
    }
    for (let page = 1; page <= 12; page++) expect(peek.call(page << 16)).toBe(page + 1000);
    const out = new Int32Array(4);
    probe.call(out, 0);
    expect(Array.from(out.subarray(0, 3))).toEqual([13, 13, 13]);
    probe.call(out, -1); // 4 Gi pages: refused as memory.grow refuses it
    expect(Array.from(out.subarray(0, 3))).toEqual([13, -1, 13]);
    probe.call(out, 70_000); // beyond 4 GiB
    expect(Array.from(out.subarray(0, 3))).toEqual([13, -1, 13]);
    expect(() => probe.call(out, 5)).toThrow(/outgrew the 0\.25 MiB reserved for it during the call.*heapReserve: 524288/);
    probe.call(out, 4); // exactly the reserve
    expect(Array.from(out.subarray(0, 3))).toEqual([13, 13, 17]);
  });

  it("under a declared maximum: growing past it returns -1 as natively, past the reserve traps", async () => {
    // maximum 8 pages, 1 in use: the default reserve is half the room, 3 pages
    const p = await Program.fromWat(PROBE_WAT.replace("(memory 1)", "(memory 1 8)"));
    const probe = p.kernel("probe");
    const out = new Int32Array(4);
    probe.call(out, 10);
    expect(Array.from(out.subarray(0, 3))).toEqual([1, -1, 1]);
    probe.call(out, 3);
    expect(Array.from(out.subarray(0, 3))).toEqual([1, 1, 4]);
    expect(() => probe.call(out, 4)).toThrow(/outgrew the 0\.19 MiB reserved/);
  });

  it("memory.size ignores the runtime's regions when the module never grows", async () => {
    const p = await Program.fromWat(`(module (memory 2)
      (func (export "size") (param $x i32) (param $n i32) (result i32) (memory.size)))`);
    const k = p.kernel("size");
    expect(k.call(new Float64Array(1 << 18), 1 << 18)).toBe(2); // 2 MiB of argument above its pages
    expect(p.memory.buffer.byteLength).toBeGreaterThan(2 << 20);
    expect(k.call(new Float64Array(1), 1)).toBe(2);
  });
});
