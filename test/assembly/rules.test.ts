// Custom derivative rules (Program.rule) on AssemblyScript kernels:
//  - assembly/newton.ts: an implicit-function-theorem rule for a Newton solver. With the
//    rule, reverse and forward give dx/dp = −g_p/g_x at the returned x even when the
//    solver stopped early (where differentiating the iterations, like finite differences,
//    gives the derivative of the truncated iteration instead); converged, everything agrees.
//  - assembly/matmul.ts: hand-written all-active rules and a hand-specialised rule for a
//    Const A (`when`), against differentiating the loops (a Program without rules), against
//    finite differences, forward against reverse, and which rule serves which call site.
//  - assembly/host_rule.ts: JS rules for a host import; refused without them.
//  - registration errors (signatures, `when`) on AssemblyScript functions.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  Active, ArgumentError, Const, Duplicated, Forward, ForwardWithPrimal, Program, Reverse, ReverseWithPrimal, UnsupportedError, autodiff,
} from "../../src/index.js";
import type { Program as ProgramT } from "../../src/index.js";
import type { Expr } from "../../src/ir/types.js";
import { forEachNode } from "../../src/ir/walk.js";
import { relErr, richardsonFD, rng } from "../helpers/check.js";

const source = (file: string) => readFileSync(new URL(`../../assembly/${file}.ts`, import.meta.url), "utf8");
const uniform = (r: () => number, n: number, lo = -1, hi = 1) => Float64Array.from({ length: n }, () => lo + (hi - lo) * r());
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, v, i) => s + v * b[i], 0);
/** Largest relErr over two arrays of the same length. */
const maxRelErr = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  return Array.from(a).reduce((m, v, i) => Math.max(m, relErr(v, b[i])), 0);
};

// ---- Newton solver: implicit-function rule ------------------------------------------------

describe("newton: implicit-function-theorem rule for solve (assembly/newton.ts)", () => {
  // asc -O3 inlines small call-free functions into their callers even when they are
  // exported (binaryen's flexible inlining: up to 70 nodes, loops allowed), which would leave
  // energy without a call to solve for the rule to replace; shrinkLevel ≥ 1 turns that off.
  const asc = { shrinkLevel: 1 };
  const programs = (async () => {
    const plain = await Program.fromAssemblyScript(source("newton"), { asc });
    const ruled = await Program.fromAssemblyScript(source("newton"), { asc });
    ruled.rule("solve", { forward: "solve_fwd", reverse: "solve_rev" });
    return { plain, ruled };
  })();
  /** dE/dp by the implicit function theorem at x (not necessarily a root). */
  const implicit = (p: number, x: number) => (2 * x + p * Math.cos(p * x)) / (3 * x * x + 1) + x * Math.cos(p * x);
  const derivs = async (prog: ProgramT, p: number, iters: number) => {
    const k = prog.kernel("energy");
    const rev = await autodiff(ReverseWithPrimal, k, Active(p), Const(iters));
    const fwd = await autodiff(ForwardWithPrimal, k, Duplicated(p, 1), Const(iters));
    const primal = k.call(p, iters) as number;
    expect(Object.is(rev.primal, primal), `reverse primal ${rev.primal} vs call ${primal}`).toBe(true);
    expect(Object.is(fwd.primal, primal), `forward primal ${fwd.primal} vs call ${primal}`).toBe(true);
    return { rev: rev.derivs[0] as number, fwd: fwd.tangent as number };
  };
  const fdOf = (prog: ProgramT, p: number, iters: number) => {
    const k = prog.kernel("energy");
    return richardsonFD((e) => k.call(p + e, iters) as number, 2 ** -12);
  };
  const points = [2, 0.7, -3.5];

  it("the call to solve survives compilation, so the rule has a call site", async () => {
    const { ruled } = await programs;
    const calls: string[] = [];
    forEachNode(ruled.kernel("energy").fn.body as Expr, (e) => { if (e.kind === "call") calls.push(e.func); });
    expect(calls).toContain(ruled.kernel("solve").fn.name);
  });

  it("iters = 2 (not converged): the rule gives the implicit derivative at the returned x; differentiating the loop gives a different one", async () => {
    const { plain, ruled } = await programs;
    for (const p of points) {
      const x = ruled.kernel("solve").call(p, 2) as number;
      const residual = x ** 3 + x - p;
      expect(Math.abs(residual), `p = ${p}: x after 2 steps is not a root yet`).toBeGreaterThan(1e-3);
      const want = implicit(p, x);
      const withRule = await derivs(ruled, p, 2);
      expect(relErr(withRule.rev, want), `p = ${p}: reverse with rule ${withRule.rev} vs implicit ${want}`).toBeLessThan(1e-13);
      expect(relErr(withRule.fwd, want), `p = ${p}: forward with rule ${withRule.fwd} vs implicit ${want}`).toBeLessThan(1e-13);
      // without the rule: the derivative of the two Newton steps, which is what FD measures
      const noRule = await derivs(plain, p, 2);
      const fd = fdOf(plain, p, 2);
      expect(relErr(noRule.rev, fd), `p = ${p}: reverse without rule ${noRule.rev} vs FD ${fd}`).toBeLessThan(1e-7);
      expect(relErr(noRule.fwd, fd), `p = ${p}: forward without rule ${noRule.fwd} vs FD ${fd}`).toBeLessThan(1e-7);
      expect(relErr(noRule.fwd, noRule.rev)).toBeLessThan(1e-13);
      expect(relErr(withRule.rev, noRule.rev), `p = ${p}: with rule ${withRule.rev} vs without ${noRule.rev}`).toBeGreaterThan(0.05);
    }
  });

  it("solve as the kernel is differentiated by its rule too", async () => {
    const { plain, ruled } = await programs;
    for (const p of points) {
      const x = ruled.kernel("solve").call(p, 2) as number;
      const want = 1 / (3 * x * x + 1);
      const rev = await autodiff(ReverseWithPrimal, ruled.kernel("solve"), Active(p), Const(2));
      const fwd = await autodiff(ForwardWithPrimal, ruled.kernel("solve"), Duplicated(p, 1), Const(2));
      expect(rev.primal).toBe(x);
      expect(fwd.primal).toBe(x);
      expect(relErr(rev.derivs[0] as number, want), `p = ${p}: reverse ${rev.derivs[0]} vs 1/g_x ${want}`).toBeLessThan(1e-15);
      expect(relErr(fwd.tangent as number, want), `p = ${p}: forward ${fwd.tangent} vs 1/g_x ${want}`).toBeLessThan(1e-15);
      const loop = (await autodiff(Reverse, plain.kernel("solve"), Active(p), Const(2))).derivs[0] as number;
      expect(relErr(loop, want), `p = ${p}: through the iterations ${loop} differs`).toBeGreaterThan(0.01);
    }
  });

  it("iters = 40 (converged): rule, no rule, finite differences and the implicit derivative at the root agree", async () => {
    const { plain, ruled } = await programs;
    for (const p of points) {
      const x = ruled.kernel("solve").call(p, 40) as number;
      expect(Math.abs(x ** 3 + x - p), `p = ${p}: converged`).toBeLessThan(1e-12);
      const want = implicit(p, x);
      const withRule = await derivs(ruled, p, 40);
      const noRule = await derivs(plain, p, 40);
      const fd = fdOf(plain, p, 40);
      for (const [what, got] of [["reverse with rule", withRule.rev], ["forward with rule", withRule.fwd], ["reverse without rule", noRule.rev], ["forward without rule", noRule.fwd]] as const) {
        expect(relErr(got, want), `p = ${p}: ${what} ${got} vs implicit ${want}`).toBeLessThan(1e-12);
        expect(relErr(got, fd), `p = ${p}: ${what} ${got} vs FD ${fd}`).toBeLessThan(1e-7);
      }
    }
  });
});

// ---- matmul: hand-written rules for a loop nest ----------------------------------------------

describe("matmul rules (assembly/matmul.ts)", () => {
  const WHEN_CONST_A = ["const", "dup", "dup", "const"] as const;
  const programs = (async () => {
    const src = source("matmul");
    const loops = await Program.fromAssemblyScript(src); // no rules: the loops are differentiated
    const generic = await Program.fromAssemblyScript(src); // the all-active rules only
    generic.rule("matmul", { forward: "matmul_fwd", reverse: "matmul_rev" });
    const both = await Program.fromAssemblyScript(src); // plus the hand-specialised rule for a Const A
    both.rule("matmul", { forward: "matmul_fwd", reverse: "matmul_rev" })
      .rule("matmul", { forward: "matmul_fwd_constA", reverse: "matmul_rev_constA", when: [...WHEN_CONST_A] });
    return { loops, generic, both };
  })();
  // a separate program whose rule functions first report to the host which one runs
  const RULES = ["matmul_fwd", "matmul_rev", "matmul_fwd_constA", "matmul_rev_constA"];
  const ran: string[] = [];
  const marked = (async () => {
    let src = `@external("test", "ran") declare function ran(rule: i32): void;\n${source("matmul")}`;
    RULES.forEach((name, i) => {
      const before = src;
      src = src.replace(new RegExp(`(export function ${name}\\([^)]*\\): void \\{)`), `$1 ran(${i});`);
      if (src === before) throw new Error(`no marker inserted into ${name}`);
    });
    const prog = await Program.fromAssemblyScript(src, { imports: { test: { ran: (i: number) => ran.push(RULES[i]) } } });
    return prog.rule("matmul", { forward: "matmul_fwd", reverse: "matmul_rev" })
      .rule("matmul", { forward: "matmul_fwd_constA", reverse: "matmul_rev_constA", when: [...WHEN_CONST_A] });
  })();

  const n = 3, N = n * n;
  const r = rng(2024);
  const A = uniform(r, N), B = uniform(r, N), seedC = uniform(r, N);
  const tA = uniform(r, N), tB = uniform(r, N), tCin = uniform(r, N);
  type Kind = "dup" | "const";
  const patterns: { name: string; a: Kind; b: Kind }[] = [
    { name: "A and B Duplicated", a: "dup", b: "dup" },
    { name: "A Const", a: "const", b: "dup" },
    { name: "B Const", a: "dup", b: "const" },
  ];
  const ab = (x: Float64Array, shadow: Float64Array, kind: Kind) => (kind === "dup" ? Duplicated(x.slice(), shadow) : Const(x.slice()));

  /** Reverse (seed 1 on the result, seedC on C) and forward (tangents tA, tB; tCin on C, which is overwritten). */
  async function run(prog: ProgramT, a: Kind, b: Kind) {
    const k = prog.kernel("matmul_loss");
    const gA = new Float64Array(N), gB = new Float64Array(N), gC = seedC.slice(), C = new Float64Array(N);
    const rev = await autodiff(ReverseWithPrimal, k, ab(A, gA, a), ab(B, gB, b), Duplicated(C, gC), Const(n));
    const dA = tA.slice(), dB = tB.slice(), dC = tCin.slice(), C2 = new Float64Array(N);
    const fwd = await autodiff(ForwardWithPrimal, k, ab(A, dA, a), ab(B, dB, b), Duplicated(C2, dC), Const(n));
    return { primal: rev.primal as number, C, C2, gA, gB, gC, fwdPrimal: fwd.primal as number, tangent: fwd.tangent as number, dC };
  }
  /** L = matmul_loss(A, B) + Σ seedC · C(A, B): what the reverse gradient differentiates. */
  const L = (prog: ProgramT, a: Float64Array, b: Float64Array) => {
    const C = new Float64Array(N);
    return (prog.kernel("matmul_loss").call(a, b, C, n) as number) + dot(seedC, C);
  };

  it.each(patterns)("$name: the rules give what differentiating the loops gives (relErr < 1e-12)", async ({ a, b }) => {
    const { loops, generic, both } = await programs;
    const want = await run(loops, a, b);
    const primal = loops.kernel("matmul_loss").call(A, B, new Float64Array(N), n) as number;
    for (const [name, prog] of [["all-active rule", generic], ["all-active + constA rules", both]] as const) {
      const got = await run(prog, a, b);
      const label = `${name}, A ${a}, B ${b}`;
      expect(Object.is(got.primal, primal) && Object.is(got.fwdPrimal, primal), `${label}: primal`).toBe(true);
      expect(Array.from(got.C), `${label}: C after reverse`).toEqual(Array.from(want.C));
      expect(Array.from(got.C2), `${label}: C after forward`).toEqual(Array.from(want.C2));
      expect(Array.from(got.gC), `${label}: seed of C consumed (C is overwritten)`).toEqual(new Array(N).fill(0));
      expect(Array.from(want.gC), "loops: seed of C consumed").toEqual(new Array(N).fill(0));
      if (a === "dup") expect(maxRelErr(got.gA, want.gA), `${label}: dL/dA`).toBeLessThan(1e-12);
      else expect(Array.from(got.gA), `${label}: Const A's array untouched`).toEqual(new Array(N).fill(0));
      if (b === "dup") expect(maxRelErr(got.gB, want.gB), `${label}: dL/dB`).toBeLessThan(1e-12);
      else expect(Array.from(got.gB), `${label}: Const B's array untouched`).toEqual(new Array(N).fill(0));
      expect(relErr(got.tangent, want.tangent), `${label}: forward tangent ${got.tangent} vs ${want.tangent}`).toBeLessThan(1e-12);
      expect(maxRelErr(got.dC, want.dC), `${label}: tangent of C`).toBeLessThan(1e-12);
    }
  });

  it("reverse with the rules against finite differences, every element of A and B", async () => {
    const { both } = await programs;
    const { gA, gB } = await run(both, "dup", "dup");
    for (let j = 0; j < N; j++) {
      const fdA = richardsonFD((e) => { const a = A.slice(); a[j] += e; return L(both, a, B); }, 2 ** -10);
      const fdB = richardsonFD((e) => { const b = B.slice(); b[j] += e; return L(both, A, b); }, 2 ** -10);
      expect(relErr(gA[j], fdA), `dL/dA[${j}]: ${gA[j]} vs FD ${fdA}`).toBeLessThan(1e-9);
      expect(relErr(gB[j], fdB), `dL/dB[${j}]: ${gB[j]} vs FD ${fdB}`).toBeLessThan(1e-9);
    }
    // with A Const (the constA rule) and B Const (the all-active rule, specialised)
    const constA = await run(both, "const", "dup"), constB = await run(both, "dup", "const");
    expect(maxRelErr(constA.gB, gB), "A Const: dL/dB").toBeLessThan(1e-13);
    expect(maxRelErr(constB.gA, gA), "B Const: dL/dA").toBeLessThan(1e-13);
  });

  it.each(patterns)("$name: forward against finite differences and ⟨reverse gradient, tangent⟩", async ({ a, b }) => {
    const { both } = await programs;
    const got = await run(both, a, b);
    const ta = a === "dup" ? tA : new Float64Array(N), tb = b === "dup" ? tB : new Float64Array(N);
    // the directional derivative of L = loss + Σ seedC · C along (tA, tB)
    const directional = got.tangent + dot(seedC, got.dC);
    const fd = richardsonFD((e) => L(both, A.map((v, i) => v + e * ta[i]), B.map((v, i) => v + e * tb[i])), 2 ** -10);
    const viaReverse = dot(got.gA, ta) + dot(got.gB, tb);
    expect(relErr(directional, fd), `forward ${directional} vs FD ${fd}`).toBeLessThan(1e-9);
    expect(relErr(directional, viaReverse), `forward ${directional} vs <reverse, tangent> ${viaReverse}`).toBeLessThan(1e-12);
  });

  it("which rule serves which call site: constA where A is Const, the all-active one (specialised) elsewhere", async () => {
    const prog = await marked;
    const { both } = await programs;
    const expected: Record<string, [string, string]> = {
      "dup,dup": ["matmul_rev", "matmul_fwd"], "const,dup": ["matmul_rev_constA", "matmul_fwd_constA"], "dup,const": ["matmul_rev", "matmul_fwd"],
    };
    for (const { a, b } of patterns) {
      ran.length = 0;
      const got = await run(prog, a, b);
      expect(ran, `A ${a}, B ${b}: rules run (reverse, then forward)`).toEqual(expected[`${a},${b}`]);
      // the marker changes nothing else
      const want = await run(both, a, b);
      expect(Array.from(got.gA)).toEqual(Array.from(want.gA));
      expect(Array.from(got.gB)).toEqual(Array.from(want.gB));
      expect(got.tangent).toBe(want.tangent);
    }
  });

  // two_layer: T = tanh(A·B) in place, C = T·W; seeds on T and C. Each call site gets the
  // rule for its own pattern (reverse runs site 2 first, forward site 1 first).
  const W = uniform(r, N), seedT = uniform(r, N), tW = uniform(r, N), tTin = uniform(r, N);
  const layerPatterns: { a: Kind; b: Kind; w: Kind; rev: string[]; fwd: string[] }[] = [
    { a: "dup", b: "dup", w: "dup", rev: ["matmul_rev", "matmul_rev"], fwd: ["matmul_fwd", "matmul_fwd"] },
    { a: "const", b: "dup", w: "dup", rev: ["matmul_rev", "matmul_rev_constA"], fwd: ["matmul_fwd_constA", "matmul_fwd"] },
    { a: "dup", b: "dup", w: "const", rev: ["matmul_rev", "matmul_rev"], fwd: ["matmul_fwd", "matmul_fwd"] },
    { a: "const", b: "dup", w: "const", rev: ["matmul_rev", "matmul_rev_constA"], fwd: ["matmul_fwd_constA", "matmul_fwd"] },
    // site 1 has no active input: T's seed must still be consumed and its tangent zeroed
    { a: "const", b: "const", w: "dup", rev: ["matmul_rev", "matmul_rev"], fwd: ["matmul_fwd", "matmul_fwd"] },
  ];
  async function runLayers(prog: ProgramT, a: Kind, b: Kind, w: Kind) {
    const k = prog.kernel("two_layer");
    const g = [new Float64Array(N), new Float64Array(N), new Float64Array(N), seedT.slice(), seedC.slice()];
    const bufs = [new Float64Array(N), new Float64Array(N)];
    const rev = await autodiff(ReverseWithPrimal, k, ab(A, g[0], a), ab(B, g[1], b), ab(W, g[2], w), Duplicated(bufs[0], g[3]), Duplicated(bufs[1], g[4]), Const(n));
    const t = [tA.slice(), tB.slice(), tW.slice(), tTin.slice(), tCin.slice()];
    const fwd = await autodiff(ForwardWithPrimal, k, ab(A, t[0], a), ab(B, t[1], b), ab(W, t[2], w), Duplicated(new Float64Array(N), t[3]), Duplicated(new Float64Array(N), t[4]), Const(n));
    return { primal: rev.primal as number, fwdPrimal: fwd.primal as number, bufs, g, tangent: fwd.tangent as number, t };
  }

  it.each(layerPatterns)("two_layer, A $a, B $b, W $w: each call site gets its rule; same values as the loops", async ({ a, b, w, rev, fwd }) => {
    const prog = await marked;
    const { loops } = await programs;
    ran.length = 0;
    const got = await runLayers(prog, a, b, w);
    expect(ran, "rules run: reverse (site 2, site 1), then forward (site 1, site 2)").toEqual([...rev, ...fwd]);
    const want = await runLayers(loops, a, b, w);
    expect(Object.is(got.primal, want.primal) && Object.is(got.fwdPrimal, want.primal), "primal").toBe(true);
    got.bufs.forEach((buf, i) => expect(Array.from(buf), `primal buffer ${i}`).toEqual(Array.from(want.bufs[i])));
    const names = ["A", "B", "W", "T", "C"];
    got.g.forEach((x, i) => expect(maxRelErr(x, want.g[i]), `reverse: shadow of ${names[i]}`).toBeLessThan(1e-12));
    got.t.forEach((x, i) => expect(maxRelErr(x, want.t[i]), `forward: shadow of ${names[i]}`).toBeLessThan(1e-12));
    expect(relErr(got.tangent, want.tangent), `forward tangent ${got.tangent} vs ${want.tangent}`).toBeLessThan(1e-12);
    // T and C are overwritten: their seeds are consumed
    expect(Array.from(got.g[3]).every((v) => v === 0) && Array.from(got.g[4]).every((v) => v === 0), "seeds of T and C consumed").toBe(true);
  });

  it("two_layer with the rules against finite differences (A, B, W Duplicated, seeds on T and C)", async () => {
    const prog = await marked;
    const { g, t, tangent } = await runLayers(prog, "dup", "dup", "dup");
    const Lw = (a: Float64Array, b: Float64Array, w: Float64Array) => {
      const T = new Float64Array(N), C = new Float64Array(N);
      return (prog.kernel("two_layer").call(a, b, w, T, C, n) as number) + dot(seedT, T) + dot(seedC, C);
    };
    const h = 2 ** -10;
    const inputs = [A, B, W];
    inputs.forEach((x, m) => {
      for (let j = 0; j < N; j++) {
        const fd = richardsonFD((e) => Lw(...(inputs.map((y, q) => { const z = y.slice(); if (q === m) z[j] += e; return z; }) as [Float64Array, Float64Array, Float64Array])), h);
        expect(relErr(g[m][j], fd), `dL/d${"ABW"[m]}[${j}]: ${g[m][j]} vs FD ${fd}`).toBeLessThan(1e-9);
      }
    });
    const directional = tangent + dot(seedT, t[3]) + dot(seedC, t[4]);
    const fdDir = richardsonFD((e) => Lw(A.map((v, i) => v + e * tA[i]), B.map((v, i) => v + e * tB[i]), W.map((v, i) => v + e * tW[i])), h);
    expect(relErr(directional, fdDir), `forward ${directional} vs FD ${fdDir}`).toBeLessThan(1e-9);
    const viaReverse = dot(g[0], tA) + dot(g[1], tB) + dot(g[2], tW);
    expect(relErr(directional, viaReverse), `forward ${directional} vs <reverse, tangent> ${viaReverse}`).toBeLessThan(1e-12);
  });

  it("matmul as the kernel: the rule for its pattern serves it", async () => {
    const prog = await marked;
    const { loops } = await programs;
    for (const { a, b } of patterns) {
      ran.length = 0;
      const got = { gA: new Float64Array(N), gB: new Float64Array(N), gC: seedC.slice() };
      await autodiff(Reverse, prog.kernel("matmul"), ab(A, got.gA, a), ab(B, got.gB, b), Duplicated(new Float64Array(N), got.gC), Const(n));
      const want = { gA: new Float64Array(N), gB: new Float64Array(N), gC: seedC.slice() };
      await autodiff(Reverse, loops.kernel("matmul"), ab(A, want.gA, a), ab(B, want.gB, b), Duplicated(new Float64Array(N), want.gC), Const(n));
      expect(ran).toEqual([a === "const" ? "matmul_rev_constA" : "matmul_rev"]);
      expect(maxRelErr(got.gA, want.gA), `A ${a}, B ${b}: dA`).toBeLessThan(1e-12);
      expect(maxRelErr(got.gB, want.gB), `A ${a}, B ${b}: dB`).toBeLessThan(1e-12);
      expect(Array.from(got.gC)).toEqual(new Array(N).fill(0));
    }
  });

  it("a `when` rule in JS gets byte addresses into program.memory", async () => {
    const prog = await Program.fromAssemblyScript(source("matmul"));
    const view = (addr: number) => new Float64Array(prog.memory.buffer, addr, N);
    let calls = 0;
    prog.rule("matmul", {
      when: [...WHEN_CONST_A],
      reverse: (a: number, b: number, db: number, _c: number, dc: number, m: number) => {
        calls++;
        const [A_, dB, dC] = [view(a), view(db), view(dc)];
        for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
          for (let k = 0; k < m; k++) dB[k * m + j] += A_[i * m + k] * dC[i * m + j];
          dC[i * m + j] = 0;
        }
        expect(b % 8).toBe(0);
      },
    });
    const { loops } = await programs;
    const gB = new Float64Array(N), gC = seedC.slice();
    await autodiff(Reverse, prog.kernel("matmul_loss"), Const(A.slice()), Duplicated(B.slice(), gB), Duplicated(new Float64Array(N), gC), Const(n));
    expect(calls).toBe(1);
    expect(maxRelErr(gB, (await run(loops, "const", "dup")).gB)).toBeLessThan(1e-12);
    expect(Array.from(gC)).toEqual(new Array(N).fill(0));
    // a JS rule cannot be specialised: the all-active pattern has none, and B Const is refused
    await expect(autodiff(Reverse, prog.kernel("matmul_loss"), Duplicated(A.slice(), new Float64Array(N)), Duplicated(B.slice(), new Float64Array(N)), Duplicated(new Float64Array(N), seedC.slice()), Const(n)))
      .rejects.toThrow(/no rule of [^ ]*matmul has a reverse function for this call site \(activity dup, dup, dup, const\)/);
  });
});

// ---- a host import with JS rules ------------------------------------------------------------

describe("JS rules for a host import (assembly/host_rule.ts)", () => {
  const phi = (x: number) => Math.log1p(x * x) + Math.atan(x);
  const dphi = (x: number) => (2 * x + 1) / (1 + x * x);
  const counts = { expensive: 0, forward: 0, reverse: 0 };
  const expensive = (x: number) => { counts.expensive++; return phi(x); };
  const imports = { env: { expensive } };
  const n = 6;
  const r = rng(99);
  const x = uniform(r, n, -1.5, 1.5), t = 0.8;

  it("reverse and forward against finite differences and each other", async () => {
    const prog = await Program.fromAssemblyScript(source("host_rule"), { imports });
    prog.rule("env.expensive", {
      forward: (v: number, dv: number) => { counts.forward++; return [phi(v), dphi(v) * dv]; },
      reverse: (v: number, adjoint: number) => { counts.reverse++; return dphi(v) * adjoint; },
    });
    const k = prog.kernel("host_loss");
    const f = (xs: Float64Array, tt: number) => k.call(xs.slice(), n, tt) as number;

    Object.assign(counts, { expensive: 0, forward: 0, reverse: 0 });
    const gx = new Float64Array(n);
    const rev = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), gx), Const(n), Active(t));
    expect(counts, "reverse: expensive runs in the forward sweep, the reverse rule once per call").toEqual({ expensive: n, forward: 0, reverse: n });
    expect(rev.primal).toBe(f(x, t));
    const h = 2 ** -10;
    for (let j = 0; j < n; j++) {
      const fd = richardsonFD((e) => { const xs = x.slice(); xs[j] += e; return f(xs, t); }, h);
      expect(relErr(gx[j], fd), `d/dx[${j}]: ${gx[j]} vs FD ${fd}`).toBeLessThan(1e-9);
    }
    const fdT = richardsonFD((e) => f(x, t + e), h);
    expect(relErr(rev.derivs[2] as number, fdT), `d/dt: ${rev.derivs[2]} vs FD ${fdT}`).toBeLessThan(1e-9);

    Object.assign(counts, { expensive: 0, forward: 0, reverse: 0 });
    const tx = uniform(r, n), tt = -0.6;
    const fwd = await autodiff(ForwardWithPrimal, k, Duplicated(x.slice(), tx.slice()), Const(n), Duplicated(t, tt));
    expect(counts, "forward: the rule gives value and tangent, expensive is not called").toEqual({ expensive: 0, forward: n, reverse: 0 });
    expect(fwd.primal).toBe(f(x, t));
    const fdDir = richardsonFD((e) => f(x.map((v, i) => v + e * tx[i]), t + e * tt), h);
    expect(relErr(fwd.tangent as number, fdDir), `forward ${fwd.tangent} vs FD ${fdDir}`).toBeLessThan(1e-9);
    const viaReverse = dot(gx, tx) + (rev.derivs[2] as number) * tt;
    expect(relErr(fwd.tangent as number, viaReverse), `forward ${fwd.tangent} vs <reverse, tangent> ${viaReverse}`).toBeLessThan(1e-12);

    // t Const: the all-active rule is called with a zero tangent for it (x still active)
    const onlyX = await autodiff(Forward, k, Duplicated(x.slice(), tx.slice()), Const(n), Const(t));
    expect(relErr(onlyX.tangent as number, dot(gx, tx))).toBeLessThan(1e-12);
  });

  it("without a rule, autodiff refuses with UnsupportedError naming the import", async () => {
    const prog = await Program.fromAssemblyScript(source("host_rule"), { imports });
    const k = prog.kernel("host_loss");
    for (const [mode, tArg] of [[Reverse, Active(t)], [Forward, Duplicated(t, 1)]] as const) {
      const err = await autodiff(mode, k, Duplicated(x.slice(), new Float64Array(n)), Const(n), tArg).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(UnsupportedError);
      expect((err as Error).message).toMatch("env.expensive");
      expect((err as Error).message).toMatch("no derivative rule");
    }
    // inactive arguments: nothing to differentiate through the import, no rule needed
    const plain = await autodiff(Reverse, k, Const(x.slice()), Const(n), Const(t));
    expect(plain.derivs.every((d) => d === null)).toBe(true);
  });
});

// ---- registration errors ---------------------------------------------------------------------

describe("Program.rule registration errors on AssemblyScript functions", () => {
  const programs = (async () => ({
    newton: await Program.fromAssemblyScript(source("newton"), { asc: { shrinkLevel: 1 } }),
    matmul: await Program.fromAssemblyScript(source("matmul")),
  }))();
  const expectArgError = (f: () => unknown, ...fragments: string[]) => {
    let err: unknown = null;
    try { f(); } catch (e) { err = e; }
    expect(err, "ArgumentError expected").toBeInstanceOf(ArgumentError);
    for (const frag of fragments) expect((err as Error).message).toContain(frag);
  };

  it("a rule function with the wrong signature: the message gives the expected one", async () => {
    const { newton, matmul } = await programs;
    // forward and reverse swapped
    expectArgError(() => newton.rule("solve", { forward: "solve_rev" }),
      "forward function solve_rev has signature (param f64 i32 f64) (result f64)",
      "expected (param f64 f64 i32) (result f64 f64) or (param f64 f64 i32) (result f64)");
    expectArgError(() => newton.rule("solve", { forward: "solve_fwd", reverse: "solve_fwd" }),
      "reverse function solve_fwd has signature (param f64 f64 i32) (result f64)", "expected (param f64 i32 f64) (result f64)");
    // the Const-A rules given as the all-active ones, and the other way round
    expectArgError(() => matmul.rule("matmul", { forward: "matmul_fwd_constA" }),
      "expected (param i32 i32 i32 i32 i32 i32 i32) (result —)", "parameters 0: ptr, 1: ptr, 2: ptr, 3: int");
    expectArgError(() => matmul.rule("matmul", { reverse: "matmul_rev", when: ["const", "dup", "dup", "const"] }),
      "expected (param i32 i32 i32 i32 i32 i32) (result —)", "when [const, dup, dup, const]");
    // with `augmented`, the reverse rule takes its i32 last
    expectArgError(() => newton.rule("solve", { reverse: "solve_rev", augmented: "solve" }), "expected (param f64 i32 f64 i32) (result f64)");
    // augmented takes the function's parameters and returns an i32 (a JS reverse rule is not checked)
    expectArgError(() => newton.rule("solve", { reverse: () => 0, augmented: "solve" }),
      "augmented function solve has signature (param f64 i32) (result f64); expected (param f64 i32) (result i32)");
    expectArgError(() => newton.rule("solve", { forward: "no_such_function" }), "no_such_function");
    expectArgError(() => newton.rule("no_such_function", { forward: "solve_fwd" }), "no such function");
    // the failed registrations left no rule behind: energy is still differentiated through the loop
    const k = newton.kernel("energy");
    const fd = richardsonFD((e) => k.call(2 + e, 2) as number, 2 ** -12);
    expect(relErr((await autodiff(Reverse, k, Active(2), Const(2))).derivs[0] as number, fd)).toBeLessThan(1e-7);
  });

  it("`when` with the wrong length or kinds", async () => {
    const { newton, matmul } = await programs;
    expectArgError(() => matmul.rule("matmul", { reverse: "matmul_rev_constA", when: ["const", "dup", "dup"] }), "when has 3 entries; matmul has 4 parameters");
    expectArgError(() => matmul.rule("matmul", { reverse: "matmul_rev_constA", when: ["const", "dup", "dup", "const", "const"] }), "when has 5 entries");
    expectArgError(() => matmul.rule("matmul", { reverse: "matmul_rev_constA", when: ["active", "dup", "dup", "const"] }),
      'when[0] is "active", but parameter 0 is a pointer (dup or const)');
    expectArgError(() => matmul.rule("matmul", { reverse: "matmul_rev_constA", when: ["const", "dup", "dup", "dup"] }),
      'when[3] is "dup", but parameter 3 is an integer (const)');
    expectArgError(() => newton.rule("solve", { forward: "solve_fwd", when: ["dup", "const"] }),
      'when[0] is "dup", but parameter 0 is a float (active or const)');
    expectArgError(() => newton.rule("solve", { forward: "solve_fwd", when: ["active", "active"] }),
      'when[1] is "active", but parameter 1 is an integer (const)');
    // `pointers` that disagree with an earlier rule's
    matmul.rule("matmul", { reverse: "matmul_rev" });
    expectArgError(() => matmul.rule("matmul", { reverse: "matmul_rev_constA", when: ["const", "dup", "const", "const"], pointers: [0, 1] }),
      "disagree on which parameters are pointers");
  });
});
