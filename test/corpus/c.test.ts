// C kernels built by scripts/build-corpus.sh (clang 14 + wasi-libc, -O0 and -O2; the .wasm
// files are committed). At -O2 the kernels keep their values in Wasm locals and call libm
// compiled into the module (sin, exp, logf, expf, tanhf): those are recognised by name and
// differentiated by rules, checked here against finite differences and forward against
// reverse. At -O0 clang keeps every local in a C stack frame in linear memory: the frame gets
// a shadow frame, and pointers kept in its slots carry their shadow pointers in the shadow
// slots (src/ad/memory-pointers.ts); each kernel is checked at -O0 too.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Active, UnsupportedError, Const, Duplicated, Forward, Program, ReverseWithPrimal, autodiff } from "../../src/index.js";
import { relErr, richardsonFD } from "../helpers/check.js";

const load = (opt: 0 | 2) => Program.fromWasm(readFileSync(new URL(`../../corpus/c/wasm/energy.O${opt}.wasm`, import.meta.url)), { splitLocals: true });

describe.each([0, 2] as const)("C kernels (clang -O%i, wasi-libc)", (opt) => {
  it("energy (double, libm sin and exp): reverse and forward against finite differences and each other", async () => {
    const p = await load(opt);
    expect(p.ir.functions.filter((f) => ["sin", "exp"].includes(f.name)).length).toBe(2); // libm compiled in, not imported
    const k = p.kernel("energy");
    const x = Float64Array.of(0.1, 0.5, -0.3, 0.8, 1.4, -1.1), n = x.length, kk = 2;
    const dx = new Float64Array(n);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Const(n), Active(kk));
    const f = (xx: Float64Array, c: number) => k.call(xx.slice(), n, c) as number;
    expect(r.primal).toBe(f(x, kk));
    for (let i = 0; i < n; i++) expect(relErr(dx[i], richardsonFD((h) => { const y = x.slice(); y[i] += h; return f(y, kk); }, 1e-3)), `dx[${i}]`).toBeLessThan(1e-8);
    expect(relErr(r.derivs[2]!, richardsonFD((h) => f(x, kk + h), 1e-3))).toBeLessThan(1e-8);
    const tx = Float64Array.from({ length: n }, (_, i) => Math.cos(3 * i));
    const fw = await autodiff(Forward, k, Duplicated(x.slice(), tx), Const(n), Duplicated(kk, 0.4));
    expect(relErr(fw.tangent!, tx.reduce((s, t, i) => s + t * dx[i], 0.4 * r.derivs[2]!))).toBeLessThan(1e-12);
  });

  it("softplus_tanh (float, logf, expf, tanhf, in place): reverse and forward against finite differences and each other", async () => {
    const p = await load(opt);
    const k = p.kernel("softplus_tanh");
    const x = Float32Array.of(0.25, -0.5, 0.75, 1.5), n = x.length, w = 0.75, c = 0.25;
    const seed = Float32Array.of(0.5, -1, 0.25, 1);
    const dx = seed.slice();
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Const(n), Active(w), Active(c));
    // L = return value + Σ seed · final x
    const L = (xx: Float32Array, ww: number, cc: number) => { const y = xx.slice(); const v = k.call(y, n, ww, cc) as number; return v + y.reduce((s, t, i) => s + seed[i] * t, 0); };
    const h = 2 ** -7;
    for (let i = 0; i < n; i++) expect(relErr(dx[i], richardsonFD((e) => { const y = x.slice(); y[i] += e; return L(y, w, c); }, h)), `dx[${i}]`).toBeLessThan(2e-3);
    expect(relErr(r.derivs[2]!, richardsonFD((e) => L(x, w + e, c), h))).toBeLessThan(2e-3);
    expect(relErr(r.derivs[3]!, richardsonFD((e) => L(x, w, c + e), h))).toBeLessThan(2e-3);
    const tx = Float32Array.of(0.5, 0.25, -0.75, 1);
    const xt = x.slice(), txOut = tx.slice();
    const fw = await autodiff(Forward, k, Duplicated(xt, txOut), Const(n), Duplicated(w, 0.5), Duplicated(c, -0.25));
    const lhs = fw.tangent! + seed.reduce((s, v, i) => s + v * txOut[i], 0);
    const rhs = tx.reduce((s, t, i) => s + t * dx[i], 0) + 0.5 * r.derivs[2]! - 0.25 * r.derivs[3]!;
    expect(relErr(lhs, rhs)).toBeLessThan(1e-4);
  });
});

describe.each([0, 2] as const)("C kernels that allocate (malloc, calloc, free), -O%i", (opt) => {
  it("relax: work arrays from calloc/malloc, swapped every sweep, tanh from libm: reverse against finite differences, forward against reverse", async () => {
    const p = await Program.fromWasm(readFileSync(new URL(`../../corpus/c/wasm/relax.O${opt}.wasm`, import.meta.url)), { splitLocals: true });
    const k = p.kernel("relax");
    const ref = (b: Float64Array, iters: number) => {
      let u = new Float64Array(b.length), v = new Float64Array(b.length);
      for (let it = 0; it < iters; it++) {
        for (let i = 0; i < b.length; i++) v[i] = 0.5 * ((i > 0 ? u[i - 1] : 0) + (i < b.length - 1 ? u[i + 1] : 0) + b[i]) - 0.1 * Math.tanh(u[i]);
        [u, v] = [v, u];
      }
      return u.reduce((s, x) => s + x * x, 0);
    };
    for (const [n, iters] of [[1, 1], [5, 3], [9, 6]]) {
      const b = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
      const f = (y: Float64Array) => k.call(y.slice(), n, iters) as number;
      expect(relErr(f(b), ref(b, iters))).toBeLessThan(1e-12);
      const db = new Float64Array(n);
      const r = await autodiff(ReverseWithPrimal, k, Duplicated(b.slice(), db), Const(n), Const(iters));
      expect(r.primal).toBe(f(b));
      for (let i = 0; i < n; i++) expect(relErr(db[i], richardsonFD((h) => { const y = b.slice(); y[i] += h; return f(y); }, 1e-3)), `db[${i}] n=${n}`).toBeLessThan(1e-8);
      const t = Float64Array.from({ length: n }, (_, i) => Math.cos(3 * i));
      const fw = await autodiff(Forward, k, Duplicated(b.slice(), t), Const(n), Const(iters));
      expect(relErr(fw.tangent!, t.reduce((s, x, i) => s + x * db[i], 0))).toBeLessThan(1e-12);
    }
  });
});

describe.each([0, 2] as const)("C kernels that reallocate, -O%i", (opt) => {
  it("vector_sum: a vector grown with realloc (in place or moved), then reduced: reverse exact, forward against reverse", async () => {
    const p = await Program.fromWasm(readFileSync(new URL(`../../corpus/c/wasm/vector.O${opt}.wasm`, import.meta.url)), { splitLocals: true });
    const k = p.kernel("vector_sum");
    for (const n of [1, 2, 3, 9, 100]) {
      const x = Float64Array.from({ length: n }, (_, i) => 0.1 + 0.05 * i);
      const f = (y: Float64Array) => k.call(y.slice(), n) as number;
      expect(relErr(f(x), x.reduce((s, v) => s + v * v * Math.sin(v), 0))).toBeLessThan(1e-12);
      const dx = new Float64Array(n);
      const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Const(n));
      expect(r.primal).toBe(f(x));
      for (let i = 0; i < n; i++) expect(relErr(dx[i], 2 * x[i] * Math.sin(x[i]) + x[i] * x[i] * Math.cos(x[i])), `dx[${i}] n=${n}`).toBeLessThan(1e-12);
      expect(relErr(dx[0], richardsonFD((h) => { const y = x.slice(); y[0] += h; return f(y); }, 1e-3))).toBeLessThan(1e-8);
      const t = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
      const fw = await autodiff(Forward, k, Duplicated(x.slice(), t), Const(n));
      expect(relErr(fw.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0))).toBeLessThan(1e-12);
    }
  });
});

describe.each([0, 2] as const)("memcpy and memset compiled into the module, on arrays in the C stack frame (-O%i)", (opt) => {
  it("particles: memcpy into and memset on stack arrays, x and v in place, dt active: reverse against finite differences, forward against reverse", async () => {
    const p = await Program.fromWasm(readFileSync(new URL(`../../corpus/c/wasm/particles.O${opt}.wasm`, import.meta.url)), { splitLocals: true });
    expect(p.ir.functions.some((f) => f.name === "memcpy")).toBe(true); // compiled in, a function of the module
    const k = p.kernel("particles"), n = 6, steps = 9;
    const x0 = Float64Array.from({ length: n }, (_, i) => 0.3 * i), v0 = Float64Array.from({ length: n }, (_, i) => 0.1 * (i - 2));
    const f = (x: Float64Array, v: Float64Array, dt: number) => k.call(x.slice(), v.slice(), n, dt, steps) as number;
    const dx = new Float64Array(n), dv = new Float64Array(n);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x0.slice(), dx), Duplicated(v0.slice(), dv), Const(n), Active(0.1), Const(steps));
    expect(r.primal).toBe(f(x0, v0, 0.1));
    for (let i = 0; i < n; i++) {
      expect(relErr(dx[i], richardsonFD((h) => { const y = x0.slice(); y[i] += h; return f(y, v0, 0.1); }, 1e-3)), `dx[${i}]`).toBeLessThan(1e-7);
      expect(relErr(dv[i], richardsonFD((h) => { const y = v0.slice(); y[i] += h; return f(x0, y, 0.1); }, 1e-3)), `dv[${i}]`).toBeLessThan(1e-7);
    }
    expect(relErr(r.derivs[3]!, richardsonFD((h) => f(x0, v0, 0.1 + h), 1e-3))).toBeLessThan(1e-7);
    const tx = Float64Array.from({ length: n }, (_, i) => Math.cos(i)), tv = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const want = tx.reduce((s, t, i) => s + t * dx[i] + tv[i] * dv[i], 0.5 * r.derivs[3]!);
    const fw = await autodiff(Forward, k, Duplicated(x0.slice(), tx.slice()), Duplicated(v0.slice(), tv.slice()), Const(n), Duplicated(0.1, 0.5), Const(steps));
    expect(relErr(fw.tangent!, want)).toBeLessThan(1e-12);
  });

  it("escape_sum: a local whose address is passed to a function lives in the frame; its shadow in the shadow frame", async () => {
    const p = await Program.fromWasm(readFileSync(new URL(`../../corpus/c/wasm/escape.O${opt}.wasm`, import.meta.url)), { splitLocals: true });
    const k = p.kernel("escape_sum");
    const x = Float64Array.of(0.5, -1, 2, 0.25), dx = new Float64Array(4);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Const(4));
    expect(r.primal).toBe(5.3125);
    expect([...dx]).toEqual([1, -2, 4, 0.5]);
    const fw = await autodiff(Forward, k, Duplicated(x.slice(), Float64Array.of(1, 2, 3, 4)), Const(4));
    expect(fw.tangent).toBe(1 - 4 + 12 + 2);
  });
});

// sort-based objective (malloc, an insertion sort; -O2 turns the copy into memcpy), recursion,
// a struct of pointers built on the stack, function-pointer callbacks (call_indirect)
const more: Record<string, { fn: string; inputs: () => Float64Array[]; call: (x: Float64Array, rest: Float64Array[]) => unknown[]; act: (x: Float64Array, dx: Float64Array, rest: Float64Array[]) => unknown[] }> = {
  sort: { fn: "sorted_weighted", inputs: () => [Float64Array.of(0.3, -1.2, 2.5, 0.7, 1.9, -0.4), Float64Array.of(1, 2, 3, 4, 5, 6)],
    call: (x, [w]) => [x, w, 6], act: (x, dx, [w]) => [Duplicated(x, dx), Const(w), Const(6)] },
  recursion: { fn: "tree", inputs: () => [Float64Array.of(0.3, -1.2, 0.5, 0.7, 0.9, -0.4, 0.2)], call: (x) => [x, 7], act: (x, dx) => [Duplicated(x, dx), Const(7)] },
  structs: { fn: "dense", inputs: () => [Float64Array.of(0.3, -1.2, 0.5), Float64Array.from({ length: 6 }, (_, i) => 0.1 * i - 0.2), Float64Array.of(0.1, -0.1)],
    call: (x, [w, b]) => [x, w, b, new Float64Array(2), 3, 2], act: (x, dx, [w, b]) => [Duplicated(x, dx), Const(w), Const(b), Duplicated(new Float64Array(2), new Float64Array(2)), Const(3), Const(2)] },
  callbacks: { fn: "quad", inputs: () => [Float64Array.of(1.3, 0.7)], call: (p) => [p, 0, 50], act: (p, dp) => [Duplicated(p, dp), Const(0), Const(50)] },
};
const cases = (["sort", "recursion", "structs", "callbacks"] as const).flatMap((name) => ([0, 2] as const).map((opt) => [name, opt] as const));

describe.each(cases)("more C kernels: %s at -O%i", (name, opt) => {
  it("reverse against finite differences, forward against reverse, primal as kernel.call", async () => {
    const c = more[name];
    const p = await Program.fromWasm(readFileSync(new URL(`../../corpus/c/wasm/${name}.O${opt}.wasm`, import.meta.url)), { splitLocals: true });
    const k = p.kernel(c.fn);
    const [x, ...rest] = c.inputs();
    const f = (y: Float64Array) => k.call(...c.call(y.slice(), rest)) as number;
    const dx = new Float64Array(x.length);
    const r = await autodiff(ReverseWithPrimal, k, ...(c.act(x.slice(), dx, rest) as [never]));
    expect(r.primal).toBe(f(x));
    for (let i = 0; i < x.length; i++) expect(relErr(dx[i], richardsonFD((h) => { const y = x.slice(); y[i] += h; return f(y); }, 1e-3)), `dx[${i}]`).toBeLessThan(1e-7);
    const t = Float64Array.from(x, (_, i) => Math.cos(i));
    const fw = await autodiff(Forward, k, ...(c.act(x.slice(), t.slice(), rest) as [never]));
    expect(relErr(fw.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0))).toBeLessThan(1e-12);
  });
});

describe.each([0, 2] as const)("libm's fmod (-O%i)", (opt) => {
  it("fmod and fmodf: exact partials in x and in the period, in both modes", async () => {
    const p = await Program.fromWasm(readFileSync(new URL(`../../corpus/c/wasm/periodic.O${opt}.wasm`, import.meta.url)), { splitLocals: true });
    const x = Float64Array.of(2.5, -3.7, 7.1), per = 1.3, dx = new Float64Array(3);
    const r = await autodiff(ReverseWithPrimal, p.kernel("wrap"), Duplicated(x.slice(), dx), Const(3), Active(per));
    x.forEach((v, i) => expect(relErr(dx[i], 2 * v - Math.trunc(v / per) * per)).toBeLessThan(1e-14));
    expect(relErr(r.derivs[2]!, x.reduce((s, v) => s - Math.trunc(v / per) * v, 0))).toBeLessThan(1e-14);
    const fw = await autodiff(Forward, p.kernel("wrap"), Duplicated(x.slice(), Float64Array.of(1, 1, 1)), Const(3), Duplicated(per, 1));
    expect(relErr(fw.tangent!, dx.reduce((s, d) => s + d, r.derivs[2]!))).toBeLessThan(1e-13);
    const xf = Float32Array.of(2.5, -3.75), dxf = new Float32Array(2);
    await autodiff(ReverseWithPrimal, p.kernel("wrapf"), Duplicated(xf, dxf), Const(2), Active(1.25));
    expect([...dxf]).toEqual([2 * 2.5 - 2 * 1.25, 2 * -3.75 + 3 * 1.25].map(Math.fround));
  });
});

describe.each([0, 2] as const)("libm's frexp, ldexp and scalbn (-O%i)", (opt) => {
  // f = Σ m² e + x·2^(e mod 3) + x²/4 with (m, e) = frexp(x): ∂f/∂x = 2 m² e / x + 2^(e mod 3) + x/2
  const frexp = (v: number) => { if (v === 0) return [0, 0]; const e = Math.floor(Math.log2(Math.abs(v))) + 1; return [v / 2 ** e, e]; };
  const grad = (v: number) => { const [m, e] = frexp(v); return 2 * m * m * e / v + 2 ** (e % 3) + v / 2; };
  it("mantissas (double) and mantissasf (float): the rules' partials, in both modes, not the bit-level bodies", async () => {
    const p = await Program.fromWasm(readFileSync(new URL(`../../corpus/c/wasm/periodic.O${opt}.wasm`, import.meta.url)), { splitLocals: true });
    expect(p.ir.functions.some((f) => f.name === "frexp")).toBe(true); // compiled in
    const x = Float64Array.of(2.5, -3.7, 7.1, 0.3, 1.5e-3, -0.75), dx = new Float64Array(6); // away from powers of two, where e jumps
    const r = await autodiff(ReverseWithPrimal, p.kernel("mantissas"), Duplicated(x.slice(), dx), Const(6));
    x.forEach((v, i) => expect(relErr(dx[i], grad(v)), `dx[${i}]`).toBeLessThan(1e-13));
    const f = (y: Float64Array) => p.kernel("mantissas").call(y, 6) as number;
    x.forEach((_, i) => expect(relErr(dx[i], richardsonFD((h) => { const y = x.slice(); y[i] += h; return f(y); }, 1e-6))).toBeLessThan(1e-6));
    const t = Float64Array.from(x, (_, i) => Math.cos(i));
    const fw = await autodiff(Forward, p.kernel("mantissas"), Duplicated(x.slice(), t.slice()), Const(6));
    expect(relErr(fw.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0))).toBeLessThan(1e-13);
    const xf = Float32Array.of(2.5, -3.75, 0.625), dxf = new Float32Array(3);
    await autodiff(ReverseWithPrimal, p.kernel("mantissasf"), Duplicated(xf, dxf), Const(3));
    xf.forEach((v, i) => expect(relErr(dxf[i], grad(v)), `dxf[${i}]`).toBeLessThan(1e-6));
  });
});

describe("a variable-length array on the C stack", () => {
  const vla = (opt: 0 | 2) => Program.fromWasm(readFileSync(new URL(`../../corpus/c/wasm/vla.O${opt}.wasm`, import.meta.url)), { splitLocals: true });
  it.each([0, 2] as const)("at -O%i is a block with a shadow block (at -O0 carved out of the frame, its address kept in a slot): exact in both modes", async (opt) => {
    const k = (await vla(opt)).kernel("vla_sum");
    for (const n of [1, 3, 17]) {
      const x = Float64Array.from({ length: n }, (_, i) => 0.5 + 0.25 * i), dx = new Float64Array(n);
      const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Const(n));
      expect(r.primal).toBe(x.reduce((s, v, i) => s + v * v * (i + 1), 0));
      expect([...dx]).toEqual([...x].map((v, i) => 2 * v * (i + 1)));
      const t = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
      const fw = await autodiff(Forward, k, Duplicated(x.slice(), t), Const(n));
      expect(relErr(fw.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0))).toBeLessThan(1e-14);
    }
  });
});

describe("libm names are recognised only for libm", () => {
  it("a WAT function that happens to be called log (here: logging, returns x) is differentiated as written", async () => {
    const p = await Program.fromWat(`(module (memory (export "memory") 1)
      (global $__stack_pointer (mut i32) (i32.const 1024))
      (func $log (param $x f64) (result f64) (local.get $x))
      (func (export "k") (param $x f64) (result f64) (f64.mul (call $log (local.get $x)) (f64.const 3))))`);
    const r = await autodiff(ReverseWithPrimal, p.kernel("k"), Active(2));
    expect(r.derivs[0]).toBe(3);
  });
});

describe("WASI imports", () => {
  it("are inactive by default: a kernel that reports progress through fd_write differentiates", async () => {
    let writes = 0;
    const p = await Program.fromWasm(readFileSync(new URL("../../corpus/c/wasm/logged.O2.wasm", import.meta.url)),
      { splitLocals: true, imports: { wasi_snapshot_preview1: { fd_write: () => { writes++; return 0; } } } });
    const x = Float64Array.of(0.1, 0.5, -0.3, 1.2), dx = new Float64Array(4);
    const r = await autodiff(ReverseWithPrimal, p.kernel("logged_sum"), Duplicated(x.slice(), dx), Const(4), Active(2));
    expect(writes).toBe(3); // ".", ".", "\n": the primal runs its reports once per call
    for (let i = 0; i < 4; i++) expect(relErr(dx[i], -2 * Math.sin(x[i]))).toBeLessThan(1e-14);
    expect(relErr(r.derivs[2]!, x.reduce((s, v) => s + Math.cos(v), 0))).toBeLessThan(1e-14);
  });
});

describe("the same kernels in AssemblyScript (assembly/energy.ts, for bench:c)", () => {
  it("give the C kernels' gradients, and forward agrees with reverse", async () => {
    const c = await load(2);
    const as = await Program.fromAssemblyScript(readFileSync(new URL("../../assembly/energy.ts", import.meta.url), "utf8"));
    const x = Float64Array.of(0.1, 0.5, -0.3, 0.8, 1.4, -1.1), n = x.length;
    const grad = async (p: Program) => { const g = new Float64Array(n); const r = await autodiff(ReverseWithPrimal, p.kernel("energy"), Duplicated(x.slice(), g), Const(n), Active(2)); return [...g, r.derivs[2]!]; };
    const gc = await grad(c), ga = await grad(as);
    gc.forEach((v, i) => expect(relErr(ga[i], v), `energy ${i}`).toBeLessThan(1e-12));
    const tx = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
    const fw = await autodiff(Forward, as.kernel("energy"), Duplicated(x.slice(), tx), Const(n), Duplicated(2, 0.5));
    expect(relErr(fw.tangent!, tx.reduce((s, t, i) => s + t * ga[i], 0.5 * ga[n]))).toBeLessThan(1e-12);
    const y = Float32Array.of(0.25, -0.5, 0.75), seed = Float32Array.of(1, -0.5, 0.25);
    const g32 = async (p: Program) => { const g = seed.slice(); const r = await autodiff(ReverseWithPrimal, p.kernel("softplus_tanh"), Duplicated(y.slice(), g), Const(3), Active(0.75), Active(0.25)); return [...g, r.derivs[2]!, r.derivs[3]!]; };
    const hc = await g32(c), ha = await g32(as);
    hc.forEach((v, i) => expect(relErr(ha[i], v), `softplus_tanh ${i}`).toBeLessThan(1e-5));
  });
});
