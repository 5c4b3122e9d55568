// Rust kernels built by scripts/build-corpus.sh (Debian's rustc 1.63, wasm32-unknown-unknown,
// cdylib, opt-level 0 and 2; the .wasm files are committed). std's libm (sin, exp, tanh) and its
// allocator (__rust_alloc_zeroed/__rust_alloc/__rust_dealloc over dlmalloc) are compiled into the
// module: each kernel is checked against a JS reference, reverse against finite differences,
// forward against reverse.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Active, Const, Duplicated, Forward, Program, ReverseWithPrimal, autodiff } from "../../src/index.js";
import { relErr, richardsonFD } from "../helpers/check.js";

const load = (name: string, opt: 0 | 2) =>
  Program.fromWasm(readFileSync(new URL(`../../corpus/rust/wasm/${name}.O${opt}.wasm`, import.meta.url)), { splitLocals: true });

/** corpus/rust/physics.rs in JS: n positions then n velocities, updated in place; returns the energy. */
function simulateRef(s: Float64Array, n: number, dt: number, steps: number): number {
  const K = 1.5, G = 0.8, damp = Math.exp(-0.3 * dt);
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < n; i++) {
      const left = i > 0 ? s[i - 1] : 0, right = i + 1 < n ? s[i + 1] : 0;
      s[n + i] = (s[n + i] + dt * (K * (left + right - 2 * s[i]) - G * Math.sin(s[i]))) * damp;
    }
    for (let i = 0; i < n; i++) s[i] += dt * s[n + i];
  }
  let e = 0;
  for (let i = 0; i < n; i++) {
    const h = Math.sin(0.5 * s[i]);
    e += 0.5 * s[n + i] * s[n + i] + 2 * G * h * h;
    if (i + 1 < n) e += 0.5 * K * (s[i + 1] - s[i]) ** 2;
  }
  return e;
}

/** corpus/rust/network.rs in JS: w = W (nh × ni), b (nh), v (nh), c. */
function mlpRef(x: Float64Array, w: Float64Array, ni: number, nh: number): number {
  let out = w[nh * ni + 2 * nh];
  for (let j = 0; j < nh; j++) {
    let z = w[nh * ni + j];
    for (let i = 0; i < ni; i++) z += w[j * ni + i] * x[i];
    out += w[nh * ni + nh + j] * Math.tanh(z);
  }
  return out;
}

describe.each([0, 2] as const)("Rust kernels (rustc -C opt-level=%i, wasm32-unknown-unknown)", (opt) => {
  it("simulate (sin, exp from std's libm; state updated in place through a raw pointer): reverse against finite differences, forward against reverse", async () => {
    const p = await load("physics", opt);
    expect(p.ir.functions.filter((f) => ["sin", "exp"].includes(f.name)).length).toBe(2); // compiled in, not imported
    const k = p.kernel("simulate");
    const n = 4, steps = 5, dt = 0.1;
    const s0 = Float64Array.from({ length: 2 * n }, (_, i) => (i < n ? 0.4 * Math.sin(i + 1) : 0.2 * Math.cos(i)));
    const seed = Float64Array.from({ length: 2 * n }, (_, i) => 0.25 * (i % 3) - 0.25);
    // L = returned energy + Σ seed · final state
    const L = (s: Float64Array, h: number) => { const y = s.slice(); const e = k.call(y, n, h, steps) as number; return e + y.reduce((a, v, i) => a + seed[i] * v, 0); };
    const final = s0.slice(), ref = s0.slice();
    expect(relErr(k.call(final, n, dt, steps) as number, simulateRef(ref, n, dt, steps))).toBeLessThan(1e-12);
    final.forEach((v, i) => expect(relErr(v, ref[i]), `state[${i}]`).toBeLessThan(1e-12));

    const ds = seed.slice();
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(s0.slice(), ds), Const(n), Active(dt), Const(steps));
    expect(r.primal).toBe(k.call(s0.slice(), n, dt, steps));
    for (let i = 0; i < 2 * n; i++) expect(relErr(ds[i], richardsonFD((h) => { const y = s0.slice(); y[i] += h; return L(y, dt); }, 1e-3)), `ds[${i}]`).toBeLessThan(1e-8);
    expect(relErr(r.derivs[2]!, richardsonFD((h) => L(s0, dt + h), 1e-3)), "d/d dt").toBeLessThan(1e-8);

    const t = Float64Array.from({ length: 2 * n }, (_, i) => Math.cos(3 * i)), tdt = 0.5;
    const tOut = t.slice(); // in/out: forward overwrites it with the final state's tangent
    const fw = await autodiff(Forward, k, Duplicated(s0.slice(), tOut), Const(n), Duplicated(dt, tdt), Const(steps));
    const lhs = fw.tangent! + seed.reduce((a, v, i) => a + v * tOut[i], 0);
    const rhs = t.reduce((a, v, i) => a + v * ds[i], tdt * r.derivs[2]!);
    expect(relErr(lhs, rhs)).toBeLessThan(1e-12);
  });

  describe.each([
    ["mlp", "vec![0.0; n]: __rust_alloc_zeroed"],
    ["mlp_push", "Vec::with_capacity and push: __rust_alloc, reserve_for_push"],
    ["mlp_grow", "Vec::new and push, which reallocates as it grows: reserve_for_push, __rust_realloc"],
  ] as const)("%s (hidden layer in a Vec<f64>, %s, and __rust_dealloc; tanh from std's libm)", (name, _alloc) => {
    it("reverse against finite differences, forward against reverse, for several layer sizes", async () => {
      const p = await load("network", opt);
      expect(p.ir.functions.some((f) => f.name === "tanh")).toBe(true);
      const k = p.kernel(name);
      for (const [ni, nh] of [[1, 1], [3, 4], [5, 9], [2, 17]]) {
        const nw = nh * ni + 2 * nh + 1, at = `ni=${ni} nh=${nh}`;
        const x = Float64Array.from({ length: ni }, (_, i) => 0.9 * Math.cos(2.3 * i + 0.5));
        const w = Float64Array.from({ length: nw }, (_, i) => 0.6 * Math.sin(1.7 * i + 0.3));
        const f = (xx: Float64Array, ww: Float64Array) => k.call(xx.slice(), ww.slice(), ni, nh) as number;
        expect(relErr(f(x, w), mlpRef(x, w, ni, nh)), at).toBeLessThan(1e-12);

        const dx = new Float64Array(ni), dw = new Float64Array(nw);
        const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Duplicated(w.slice(), dw), Const(ni), Const(nh));
        expect(r.primal).toBe(f(x, w));
        for (let i = 0; i < ni; i++) expect(relErr(dx[i], richardsonFD((h) => { const y = x.slice(); y[i] += h; return f(y, w); }, 1e-3)), `dx[${i}] ${at}`).toBeLessThan(1e-8);
        for (let i = 0; i < nw; i++) expect(relErr(dw[i], richardsonFD((h) => { const y = w.slice(); y[i] += h; return f(x, y); }, 1e-3)), `dw[${i}] ${at}`).toBeLessThan(1e-8);

        const tx = Float64Array.from({ length: ni }, (_, i) => Math.cos(i + 1)), tw = Float64Array.from({ length: nw }, (_, i) => Math.sin(2 * i + 1));
        const fw = await autodiff(Forward, k, Duplicated(x.slice(), tx.slice()), Duplicated(w.slice(), tw.slice()), Const(ni), Const(nh));
        const want = tx.reduce((a, v, i) => a + v * dx[i], 0) + tw.reduce((a, v, i) => a + v * dw[i], 0);
        expect(relErr(fw.tangent!, want), at).toBeLessThan(1e-12);
      }
    });
  });
});
