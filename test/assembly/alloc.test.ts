// Memory a kernel allocates itself: `new StaticArray<f64>(n)`, `heap.alloc`/`heap.free`,
// blocks allocated in a loop, pointers swapped between blocks, a pointer kept from the
// previous run of a loop that allocates again, with AssemblyScript's stub and incremental
// (GC) runtimes. Each shadow block is allocated beside its block; the reverse gradient is
// checked against finite differences, and forward against reverse (dot-product test).
import { describe, expect, it } from "vitest";
import { Const, Duplicated, Forward, Program, ReverseWithPrimal, autodiff } from "../../src/index.js";
import { relErr, richardsonFD } from "../helpers/check.js";

const source = `
export function sumcube(x: StaticArray<f64>, n: i32): f64 {
  const t = new StaticArray<f64>(n);
  for (let i = 0; i < n; i++) t[i] = x[i] * x[i];
  let s = 0.0;
  for (let i = 0; i < n; i++) s += t[i] * Math.sin(x[i]);
  return s;
}
export function heaptemp(x: usize, n: i32): f64 {
  const t = heap.alloc(<usize>n << 3);
  for (let i = 0; i < n; i++) store<f64>(t + (<usize>i << 3), Math.exp(load<f64>(x + (<usize>i << 3))));
  let s = 0.0;
  for (let i = 0; i < n; i++) s += load<f64>(t + (<usize>i << 3)) * load<f64>(x + (<usize>i << 3));
  heap.free(t);
  return s;
}
export function smooth(x: StaticArray<f64>, rounds: i32): f64 {
  const n = x.length;
  let cur = new StaticArray<f64>(n);
  for (let i = 0; i < n; i++) cur[i] = x[i];
  for (let r = 0; r < rounds; r++) {
    const next = new StaticArray<f64>(n);
    for (let i = 0; i < n; i++) next[i] = cur[i] * cur[(i + 1) % n] + 0.5 * cur[i];
    cur = next;
  }
  let s = 0.0;
  for (let i = 0; i < n; i++) s += cur[i];
  return s;
}
export function chain(x: StaticArray<f64>, rounds: i32): f64 {
  const n = x.length;
  let prev: StaticArray<f64> | null = null;
  let s = 0.0;
  for (let r = 0; r < rounds; r++) {
    const next = new StaticArray<f64>(n);
    for (let i = 0; i < n; i++) next[i] = x[i] * <f64>(r + 1);
    if (prev) for (let i = 0; i < n; i++) s += prev[i] * Math.cos(next[i]);
    prev = next;
  }
  return s;
}
export function typedtemp(x: StaticArray<f64>, n: i32): f64 {
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) t[i] = x[i] * x[i];
  let s = 0.0;
  for (let i = 0; i < n; i++) s += t[i] * Math.tanh(x[i]);
  return s;
}
export function arraytemp(x: StaticArray<f64>, n: i32): f64 {
  const t = new Array<f64>(n);
  for (let i = 0; i < n; i++) t[i] = Math.sin(x[i]);
  let s = 0.0;
  for (let i = 0; i < n; i++) s += t[i] * x[i];
  return s;
}
export function pushed(x: StaticArray<f64>, n: i32): f64 {
  const a = new Array<f64>(0);
  for (let i = 0; i < n; i++) a.push(x[i] * x[i]);
  let s = 0.0;
  for (let i = 0; i < a.length; i++) s += a[i] * Math.cos(x[i]);
  return s;
}
`;

/** f(x) computed by plain JS, for the primal check. */
const reference: Record<string, (x: Float64Array, m: number) => number> = {
  sumcube: (x) => x.reduce((s, v) => s + v * v * Math.sin(v), 0),
  heaptemp: (x) => x.reduce((s, v) => s + Math.exp(v) * v, 0),
  smooth: (x, rounds) => {
    let cur = x.slice();
    for (let r = 0; r < rounds; r++) cur = cur.map((v, i) => v * cur[(i + 1) % cur.length] + 0.5 * v);
    return cur.reduce((s, v) => s + v, 0);
  },
  typedtemp: (x) => x.reduce((s, v) => s + v * v * Math.tanh(v), 0),
  arraytemp: (x) => x.reduce((s, v) => s + Math.sin(v) * v, 0),
  pushed: (x) => x.reduce((s, v) => s + v * v * Math.cos(v), 0),
  chain: (x, rounds) => {
    let s = 0;
    for (let r = 1; r < rounds; r++) for (let i = 0; i < x.length; i++) s += x[i] * r * Math.cos(x[i] * (r + 1));
    return s;
  },
};

/** The kernel's second argument: n for the flat kernels, the number of rounds for the others. */
const second = (name: string, n: number) => (name === "smooth" || name === "chain" ? 3 : n);

async function check(p: Program, name: string, n: number) {
  const k = p.kernel(name);
  const x = Float64Array.from({ length: n }, (_, i) => 0.3 + 0.7 * Math.sin(1.3 * i + 0.2));
  const m = second(name, n);
  const f = (y: Float64Array) => k.call(y.slice(), m) as number;
  expect(relErr(f(x), reference[name](x, m)), `${name} primal`).toBeLessThan(1e-12);
  const dx = new Float64Array(n);
  const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Const(m));
  expect(r.primal).toBe(f(x));
  for (let i = 0; i < n; i++)
    expect(relErr(dx[i], richardsonFD((h) => { const y = x.slice(); y[i] += h; return f(y); }, 1e-3)), `${name} dx[${i}] (n=${n})`).toBeLessThan(1e-7);
  const t = Float64Array.from({ length: n }, (_, i) => Math.cos(2.1 * i));
  const fw = await autodiff(Forward, k, Duplicated(x.slice(), t), Const(m));
  expect(relErr(fw.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0)), `${name} forward vs reverse (n=${n})`).toBeLessThan(1e-11);
}

describe.each(["stub", "incremental"])("allocation inside AssemblyScript kernels, %s runtime", (runtime) => {
  it.each(["sumcube", "heaptemp", "smooth", "chain"])("%s: reverse against finite differences, forward against reverse", async (name) => {
    const p = await Program.fromAssemblyScript(source, { asc: { runtime } });
    for (const n of [1, 4, 9]) await check(p, name, n);
  });

  // objects holding a pointer to their data (dataStart), read back on every access; push
  // grows the Array's buffer with __renew past 8 elements, moving the data and its shadow
  it.each(["typedtemp", "arraytemp", "pushed"])("%s (Float64Array, Array<f64>): reverse against finite differences, forward against reverse", async (name) => {
    const p = await Program.fromAssemblyScript(source, { asc: { runtime } });
    for (const n of [1, 7, 9, 40]) await check(p, name, n);
  });

  it("large blocks (beyond the module's first pages) and repeated calls keep exact gradients", async () => {
    const p = await Program.fromAssemblyScript(source, { asc: { runtime } });
    const k = p.kernel("sumcube");
    const n = 30000; // 240 KB per block
    const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    for (let call = 0; call < 3; call++) {
      const dx = new Float64Array(n);
      await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Const(n));
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, relErr(dx[i], 2 * x[i] * Math.sin(x[i]) + x[i] * x[i] * Math.cos(x[i])));
      expect(worst).toBeLessThan(1e-12);
    }
  });
});

describe("allocator calls stay calls", () => {
  it("Program.fromAssemblyScript keeps the runtime's __alloc/__new out of kernels (asc would inline them)", async () => {
    const p = await Program.fromAssemblyScript(source);
    const body = (fn: string) => JSON.stringify(p.ir.functions.find((f) => f.name.endsWith(`/${fn}`))!.body);
    expect(body("heaptemp")).toContain("~lib/rt/stub/__alloc");
    // the stub allocator's bump pointer is read by the allocator only
    for (const k of ["sumcube", "heaptemp", "smooth", "chain", "typedtemp", "pushed"]) expect(body(k)).not.toContain("~lib/rt/stub/offset");
  });
});

describe("assembly/workspace.ts (the allocating kernels of the ahead-of-time build)", () => {
  it.each([["smooth", (n: number) => [n, 3]], ["temporaries", (n: number) => [n]]] as const)("%s: reverse against finite differences, forward against reverse", async (name, rest) => {
    const { readFileSync } = await import("node:fs");
    const p = await Program.fromAssemblyScript(readFileSync(new URL("../../assembly/workspace.ts", import.meta.url), "utf8"));
    const k = p.kernel(name);
    for (const n of [1, 6]) {
      const x = Float64Array.from({ length: n }, (_, i) => 0.3 + 0.5 * Math.sin(1.1 * i));
      const f = (y: Float64Array) => k.call(y.slice(), ...rest(n)) as number;
      const dx = new Float64Array(n);
      const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), ...rest(n).map((v) => Const(v)));
      expect(r.primal).toBe(f(x));
      for (let i = 0; i < n; i++) expect(relErr(dx[i], richardsonFD((h) => { const y = x.slice(); y[i] += h; return f(y); }, 1e-3))).toBeLessThan(1e-7);
      const t = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
      const fw = await autodiff(Forward, k, Duplicated(x.slice(), t), ...rest(n).map((v) => Const(v)));
      expect(relErr(fw.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0))).toBeLessThan(1e-12);
    }
  });
});
