// What the augmented sweep records and where it checks tape capacity: loop trip bounds that
// let one check before a loop replace one per iteration (trip-count.ts), and operand values
// recorded instead of the several locals they are computed from (cache-operands.ts).
// Each shape is checked for the bound it gets, then end to end against finite differences
// and forward mode, including tapes that outgrow their first reservation inside such a loop.
import { describe, expect, it } from "vitest";
import { buildCfg, countedLoops } from "../../src/ad/cfg.js";
import { headerRunsBound } from "../../src/ad/trip-count.js";
import { liftModule, readWasm } from "../../src/frontend/lift.js";
import { watToWasm } from "../../src/frontend/wat.js";
import { normalizeFunction } from "../../src/ir/normalize.js";
import type { Expr, IRFunction } from "../../src/ir/types.js";
import { Active, Const, Duplicated, Forward, Program, Reverse, autodiff } from "../../src/index.js";
import { relErr, rng } from "../helpers/check.js";

async function liftFn(wat: string): Promise<IRFunction> {
  const m = readWasm(await watToWasm(wat));
  try { return normalizeFunction(liftModule(m).functions.find((f) => f.body)!); } finally { m.dispose(); }
}

/** Evaluates the small integer trees a bound is made of, with locals given by index. */
function evalBound(e: Expr, locals: Record<number, number>): bigint {
  const v = (x: Expr): bigint => {
    switch (x.kind) {
      case "const": return BigInt(x.value);
      case "local.get": return BigInt(locals[x.local] ?? 0);
      case "select": return v(x.cond) !== 0n ? v(x.ifTrue) : v(x.ifFalse);
      case "unary":
        if (x.op === "i64.extend_i32_s") return BigInt.asIntN(32, v(x.value));
        if (x.op === "i64.extend_i32_u") return BigInt.asUintN(32, v(x.value));
        break;
      case "binary": {
        const a = v(x.left), b = v(x.right);
        const w = x.op.startsWith("i32") ? 32 : 64;
        const wrap = (r: bigint) => BigInt.asIntN(w, r);
        switch (x.op.slice(4)) {
          case "add": return wrap(a + b);
          case "sub": return wrap(a - b);
          case "mul": return wrap(a * b);
          case "gt_s": return BigInt.asIntN(w, a) > BigInt.asIntN(w, b) ? 1n : 0n;
        }
      }
    }
    throw new Error(`cannot evaluate ${x.kind} ${"op" in x ? x.op : ""}`);
  };
  return v(e);
}

function boundsOf(fn: IRFunction) {
  const cfg = buildCfg(fn.body as Expr, -1);
  return [...countedLoops(cfg).values()].map((l) => headerRunsBound(cfg, l, fn.params.length));
}

const loopWat = (test: string, step = "(i32.add (local.get $i) (i32.const 1))", extra = "") => `(module (memory 1)
  (func (param $x i32) (param $n i32) (param $i0 i32) (result f64) (local $i i32) (local $s f64)
    (local.set $i (local.get $i0))
    (block $done (loop $next
      ${test}
      (local.set $s (f64.add (local.get $s) (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))))
      ${extra}
      (local.set $i ${step})
      (br $next)))
    (local.get $s)))`;

describe("loop trip bounds (one tape check before a loop)", () => {
  it("`i < n` tested at the header: bound is max(0, n − i0) + 1 header runs", async () => {
    for (const [cmp, ext] of [["i32.ge_s", "signed"], ["i32.ge_u", "unsigned"]] as const) {
      const fn = await liftFn(loopWat(`(br_if $done (${cmp} (local.get $i) (local.get $n)))`));
      const [b] = boundsOf(fn);
      expect(b, cmp).not.toBeNull();
      // params: x=0, n=1, i0=2; local i = 3
      for (const [i0, n] of [[0, 10], [5, 5], [7, 3], [-4, 6], [0, 0]]) {
        const runs = evalBound(b!, { 1: n, 3: i0 });
        const want = ext === "signed" ? Math.max(0, n - i0) + 1 : Math.max(0, (n >>> 0) - (i0 >>> 0)) + 1;
        expect(Number(runs), `${cmp} i0=${i0} n=${n}`).toBe(want);
      }
    }
  });

  it("`X > i` and a loop that goes on while the condition holds are recognized too", async () => {
    const fn = await liftFn(loopWat(`(br_if $done (i32.eqz (i32.gt_s (local.get $n) (local.get $i))))`));
    // eqz(gt) is not a plain comparison: not recognized, the per-iteration check stays
    expect(boundsOf(fn)[0]).toBeNull();
    const fn2 = await liftFn(`(module (memory 1)
      (func (param $x i32) (param $n i32) (result f64) (local $i i32) (local $s f64)
        (loop $next
          (if (i32.gt_s (local.get $n) (local.get $i)) (then
            (local.set $s (f64.add (local.get $s) (f64.load (local.get $x))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next))))
        (local.get $s)))`);
    const [b] = boundsOf(fn2);
    expect(b).not.toBeNull();
    expect(Number(evalBound(b!, { 1: 12, 2: 0 }))).toBe(13);
  });

  it("a rotated loop (`i != n` tested after the step, as C compilers emit) is bounded by (n − i0) mod 2^32 + 1", async () => {
    const fn = await liftFn(`(module (memory 1)
      (func (param $x i32) (param $n i32) (result f64) (local $i i32) (local $s f64)
        (loop $next
          (local.set $s (f64.add (local.get $s) (f64.load (local.get $x))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $next (i32.ne (local.get $i) (local.get $n))))
        (local.get $s)))`);
    const [b] = boundsOf(fn);
    expect(b).not.toBeNull();
    expect(Number(evalBound(b!, { 1: 9, 2: 0 }))).toBe(10);
  });

  // binaryen's ssa pass (splitLocals) turns one counter into copies: i = c + 1; c = i
  const ssaWat = (entry: string, extra = "") => `(module (memory 1)
    (func (param $x i32) (param $n i32) (result f64) (local $i i32) (local $c i32) (local $d i32) (local $s f64)
      ${entry}
      (block $done (loop $next
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $s (f64.add (local.get $s) (f64.load (local.get $x))))
        ${extra}
        (local.set $i (i32.add (local.get $c) (i32.const 1)))
        (local.set $c (local.get $i))
        (local.set $d (local.get $c))
        (br $next)))
      (local.get $s)))`;

  it("a counter split into copies by the ssa pass is bounded when the copies agree on entry", async () => {
    for (const entry of ["(local.set $i (i32.const 0)) (local.set $c (local.get $i))", "(local.set $i (i32.const 3)) (local.set $c (i32.const 3))", ""]) {
      const [b] = boundsOf(await liftFn(ssaWat(entry)));
      expect(b, entry).not.toBeNull();
    }
    const [b] = boundsOf(await liftFn(ssaWat("(local.set $i (i32.const 0)) (local.set $c (local.get $i))")));
    // params: x=0, n=1; locals i=2, c=3
    expect(Number(evalBound(b!, { 1: 10, 2: 0 }))).toBe(11);
    // copies that disagree on entry, or a member assigned elsewhere in the loop: no bound
    expect(boundsOf(await liftFn(ssaWat("(local.set $i (i32.const 0)) (local.set $c (i32.const 1))")))[0]).toBeNull();
    expect(boundsOf(await liftFn(ssaWat("(local.set $i (i32.const 0)) (local.set $c (local.get $i))", "(if (f64.gt (local.get $s) (f64.const 1)) (then (local.set $c (i32.const 0))))")))[0]).toBeNull();
  });

  it("shapes it cannot bound keep the check per iteration", async () => {
    const header = `(br_if $done (i32.ge_s (local.get $i) (local.get $n)))`;
    // step 2 could jump over the bound near 2^31; a step that is not +1; the bound changes in the loop;
    // the index is assigned twice; a second exit
    const cases = [
      loopWat(header, "(i32.add (local.get $i) (i32.const 2))"),
      loopWat(header, "(i32.mul (local.get $i) (i32.const 2))"),
      loopWat(header, undefined, "(local.set $n (i32.sub (local.get $n) (i32.const 1)))"),
      loopWat(header, undefined, "(local.set $i (i32.add (local.get $i) (i32.const 1)))"),
      loopWat(header, undefined, "(br_if $done (f64.gt (local.get $s) (f64.const 100)))"),
      loopWat(`(br_if $done (i32.ge_s (local.get $i) (i32.load (local.get $x))))`),
    ];
    for (const [k, wat] of cases.entries()) expect(boundsOf(await liftFn(wat))[0], `case ${k}`).toBeNull();
  });
});

const sumOfProducts = `(module (memory (export "memory") 1)
  ;; s = Σ x[i]·s_prev-like recurrence: each iteration overwrites a float local the reverse needs
  (func (export "f") (param $x i32) (param $n i32) (param $w f64) (result f64) (local $i i32) (local $s f64) (local $v f64)
    (local.set $s (f64.const 0.5))
    (block $done (loop $next
      (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $v (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $s (f64.add (f64.mul (local.get $s) (f64.mul (local.get $w) (local.get $v))) (f64.mul (local.get $v) (local.get $v))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $s)))`;

describe("tape capacity checked once before a loop", () => {
  it("a tape that outgrows its reservation inside such a loop grows before it and stays right", async () => {
    const p = await Program.fromWat(sumOfProducts);
    const k = p.kernel("f");
    const r = rng(41);
    for (const n of [0, 1, 7, 200000]) {
      const x = Float64Array.from({ length: n }, () => 0.9 + 0.2 * r());
      const w = 1.01 / 1.1;
      const dx = new Float64Array(n);
      const rv = await autodiff(Reverse, k, Duplicated(x.slice(), dx), Const(n), Active(w));
      if (n === 200000) expect(rv.stats.tapeBytes).toBeGreaterThan(1 << 20);
      // forward along (tx, tw) equals <gradient, (tx, tw)>
      const tx = Float64Array.from({ length: n }, () => r() - 0.5);
      const fw = await autodiff(Forward, k, Duplicated(x.slice(), tx), Const(n), Duplicated(w, 0.3));
      const dot = tx.reduce((s, t, i) => s + t * dx[i], 0.3 * rv.derivs[2]!);
      expect(relErr(fw.tangent!, dot), `n=${n}`).toBeLessThan(1e-9);
      // central differences on w and on a few x[i]
      const f = (xx: Float64Array, ww: number) => k.call(xx.slice(), n, ww) as number;
      const h = 1e-6;
      expect(relErr(rv.derivs[2]!, (f(x, w + h) - f(x, w - h)) / (2 * h)), `dw n=${n}`).toBeLessThan(1e-5);
      for (const i of n ? [0, n >> 1, n - 1] : []) {
        const xp = x.slice(), xm = x.slice();
        xp[i] += h; xm[i] -= h;
        expect(relErr(dx[i], (f(xp, w) - f(xm, w)) / (2 * h)), `dx[${i}] n=${n}`).toBeLessThan(1e-5);
      }
    }
  });

  it("a negative trip count (n < 0) runs no iteration and records none", async () => {
    const p = await Program.fromWat(sumOfProducts);
    const k = p.kernel("f");
    const rv = await autodiff(Reverse, k, Duplicated(new Float64Array(4), new Float64Array(4)), Const(-5), Active(0.7));
    expect(rv.derivs[2]).toBe(0);
    expect(rv.stats.tapeBytes).toBeLessThan(64);
  });
});

describe("operand values recorded instead of the locals they come from", () => {
  it("heat records one value per stencil point (8 B), not its three inputs", async () => {
    const { readFileSync } = await import("node:fs");
    const p = await Program.fromWat(readFileSync(new URL("../kernels/heat.wat", import.meta.url), "utf8"));
    const k = p.kernel("heat");
    const n = 50, steps = 40;
    const u = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const rv = await autodiff(Reverse, k, Duplicated(u.slice(), new Float64Array(n).fill(1)), Duplicated(new Float64Array(n), new Float64Array(n)),
      Const(n), Active(0.2), Const(steps));
    expect(rv.stats.tapeBytes).toBeGreaterThanOrEqual(8 * n * steps);
    expect(rv.stats.tapeBytes).toBeLessThan(8 * n * steps + 32 * steps + 64);
  });
});

describe("AssemblyScript loops record as little as their WAT twins", () => {
  // asc -O3 plus the ssa pass turn one loop counter into copies (i = c + 1; c = i; …); reverse
  // mode folds them back into one counter, undone by subtraction instead of recorded
  it("rosenbrock: 8 bytes of tape for any n, and the same gradient as the WAT kernel", async () => {
    const { readFileSync } = await import("node:fs");
    const as = await Program.fromAssemblyScript(readFileSync(new URL("../../assembly/rosenbrock.ts", import.meta.url), "utf8"));
    const wat = await Program.fromWat(readFileSync(new URL("../../bench/kernels/rosenbrock.wat", import.meta.url), "utf8"));
    for (const n of [2, 10, 1000]) {
      const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i) * 1.3);
      const ga = new Float64Array(n), gw = new Float64Array(n);
      const ra = await autodiff(Reverse, as.kernel("rosenbrock"), Duplicated(x.slice(), ga), Const(n));
      const rw = await autodiff(Reverse, wat.kernel("rosenbrock"), Duplicated(x.slice(), gw), Const(n));
      expect(ra.stats.tapeBytes, `n=${n}`).toBe(rw.stats.tapeBytes);
      for (let i = 0; i < n; i++) expect(relErr(ga[i], gw[i]), `n=${n} i=${i}`).toBeLessThan(1e-13);
    }
  });
});

describe("copies of parameters inside loops", () => {
  it("AssemblyScript heat records 8 bytes per point like the WAT kernel (the copy of a is read as a, tmp + 8i recomputed after the boundary tests), with its gradient", async () => {
    const { readFileSync } = await import("node:fs");
    const as = await Program.fromAssemblyScript(readFileSync(new URL("../../assembly/heat.ts", import.meta.url), "utf8"));
    const wat = await Program.fromWat(readFileSync(new URL("../kernels/heat.wat", import.meta.url), "utf8"));
    const n = 30, steps = 20, u0 = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const run = async (p: Program) => {
      const du = new Float64Array(n).fill(1);
      const r = await autodiff(Reverse, p.kernel("heat"), Duplicated(u0.slice(), du), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n), Active(0.2), Const(steps));
      return { da: r.derivs[3]!, du, tape: r.stats.tapeBytes };
    };
    const a = await run(as), w = await run(wat);
    expect(relErr(a.da, w.da)).toBeLessThan(1e-13);
    for (let i = 0; i < n; i++) expect(relErr(a.du[i], w.du[i])).toBeLessThan(1e-13);
    expect(a.tape).toBeLessThanOrEqual(8 * n * steps + 64 * steps);
  });

  it("a copy read before it is assigned (its initial zero) is not replaced by what it copies", async () => {
    // s = Σ t·x[i] where t = 0 on the first iteration and a afterwards: ds/da = Σ_{i ≥ 1} x[i]
    const p = await Program.fromWat(`(module (memory (export "memory") 1)
      (func (export "k") (param $x i32) (param $n i32) (param $a f64) (result f64) (local $i i32) (local $s f64) (local $t f64)
        (block $d (loop $l (br_if $d (i32.ge_s (local.get $i) (local.get $n)))
          (local.set $s (f64.add (local.get $s) (f64.mul (local.get $t) (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))))
          (local.set $t (local.get $a))
          (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
        (local.get $s)))`);
    const x = Float64Array.of(5, 1, 2, 3);
    const r = await autodiff(Reverse, p.kernel("k"), Const(x), Const(4), Active(0.5));
    expect(r.derivs[2]).toBe(6);
  });
});

describe("values recomputed in another block (reverse-needs.ts resolveAcross)", () => {
  const run = async (wat: string, n: number, xs: number) => {
    const p = await Program.fromWat(wat);
    const x = Float64Array.from({ length: xs }, (_, i) => 0.5 + Math.sin(i)), seed = Float64Array.from({ length: n }, (_, i) => i + 1);
    const dx = new Float64Array(xs), dy = seed.slice();
    await autodiff(Reverse, p.kernel("k"), Duplicated(x.slice(), dx), Duplicated(new Float64Array(n), dy), Const(n));
    const t = Float64Array.from({ length: xs }, (_, i) => Math.cos(3 * i)), ty = new Float64Array(n);
    await autodiff(Forward, p.kernel("k"), Duplicated(x.slice(), t), Duplicated(new Float64Array(n), ty), Const(n));
    // forward against reverse: Σ seed·ẏ = Σ dx·ṫ
    expect(relErr(seed.reduce((s, v, i) => s + v * ty[i], 0), dx.reduce((s, v, i) => s + v * t[i], 0))).toBeLessThan(1e-13);
    return dx;
  };

  it("an address whose index is changed on a branch between its definition and its use is recorded, not recomputed", async () => {
    // p = &y[i]; on odd i, i += 1; *p = 2·x[i]: y[0] = 2x[0], y[1] = 2x[2], y[3] = 2x[4], y[5] = 2x[6]
    const dx = await run(`(module (memory (export "memory") 1)
      (func (export "k") (param $x i32) (param $y i32) (param $n i32) (local $i i32) (local $p i32)
        (block $d (loop $l (br_if $d (i32.ge_s (local.get $i) (local.get $n)))
          (local.set $p (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 3))))
          (if (i32.and (local.get $i) (i32.const 1)) (then (local.set $i (i32.add (local.get $i) (i32.const 1)))))
          (f64.store (local.get $p) (f64.mul (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))) (f64.const 2)))
          (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))))`, 6, 8);
    expect([...dx]).toEqual([2, 0, 4, 0, 8, 0, 12, 0]);
  });

  it("an address defined after its use in a loop (the previous iteration's) is not recomputed from the current index", async () => {
    // y[i] = x[i], then on the next iteration y[i − 1] *= 3 through the p kept from before: y[j] = 3x[j] for j < n − 1
    const dx = await run(`(module (memory (export "memory") 1)
      (func (export "k") (param $x i32) (param $y i32) (param $n i32) (local $i i32) (local $p i32)
        (block $d (loop $l (br_if $d (i32.ge_s (local.get $i) (local.get $n)))
          (if (i32.gt_s (local.get $i) (i32.const 0)) (then (f64.store (local.get $p) (f64.mul (f64.load (local.get $p)) (f64.const 3)))))
          (local.set $p (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 3))))
          (f64.store (local.get $p) (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))))`, 5, 5);
    expect([...dx]).toEqual([3, 6, 9, 12, 5]);
  });

  it("a value whose only assignment reads its own previous value (a sum with no explicit zero) is not recomputed from the value after it", async () => {
    // s = Σ x[i] in a do-while whose s starts at the local's implicit zero; o[0] = s²
    const p = await Program.fromWat(`(module (memory (export "memory") 1)
      (func (export "k") (param $x i32) (param $o i32) (param $n i32) (local $i i32) (local $p i32) (local $s f64)
        (loop $l
          (local.set $p (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (local.set $s (f64.add (local.get $s) (f64.load (local.get $p))))
          (br_if $l (i32.lt_s (local.get $i) (local.get $n))))
        (f64.store (local.get $o) (f64.mul (local.get $s) (local.get $s)))))`);
    for (const n of [1, 3, 6]) {
      const x = Float64Array.from({ length: n }, (_, i) => 0.3 + 0.7 * Math.sin(1.3 * i + 0.4)), s = x.reduce((a, b) => a + b, 0);
      const dx = new Float64Array(n);
      await autodiff(Reverse, p.kernel("k"), Duplicated(x.slice(), dx), Duplicated(new Float64Array(1), Float64Array.of(1)), Const(n));
      for (let i = 0; i < n; i++) expect(relErr(dx[i], 2 * s), `n=${n} i=${i}`).toBeLessThan(1e-13);
    }
  });

  it("an offset advanced by its only assignment (off += 8) is not recomputed one step ahead", async () => {
    // v = x[n − 1], off = 8n; o[n] = v²
    const p = await Program.fromWat(`(module (memory (export "memory") 1)
      (func (export "k") (param $x i32) (param $o i32) (param $n i32) (local $i i32) (local $off i32) (local $v f64)
        (loop $l
          (local.set $v (f64.load (i32.add (local.get $x) (local.get $off))))
          (local.set $off (i32.add (local.get $off) (i32.const 8)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_s (local.get $i) (local.get $n))))
        (f64.store (i32.add (local.get $o) (local.get $off)) (f64.mul (local.get $v) (local.get $v)))))`);
    for (const n of [1, 4]) {
      const x = Float64Array.from({ length: n }, (_, i) => 1.25 + i), dx = new Float64Array(n), dout = new Float64Array(n + 1);
      dout[n] = 1;
      await autodiff(Reverse, p.kernel("k"), Duplicated(x.slice(), dx), Duplicated(new Float64Array(n + 1), dout), Const(n));
      expect([...dx]).toEqual(Array.from({ length: n }, (_, i) => (i === n - 1 ? 2 * x[n - 1] : 0)));
      expect([...dout]).toEqual(new Array(n + 1).fill(0));
    }
  });

  it("an address computed before a branch and used after it is recomputed: nothing recorded per iteration", async () => {
    const wat = `(module (memory (export "memory") 1)
      (func (export "k") (param $x i32) (param $y i32) (param $n i32) (local $i i32) (local $p i32) (local $v f64)
        (block $d (loop $l (br_if $d (i32.ge_s (local.get $i) (local.get $n)))
          (local.set $p (i32.add (local.get $y) (i32.shl (local.get $i) (i32.const 3))))
          (local.set $v (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
          (if (i32.gt_s (local.get $i) (i32.const 0)) (then (local.set $v (f64.mul (local.get $v) (f64.const 2)))))
          (f64.store (local.get $p) (local.get $v))
          (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))))`;
    const dx = await run(wat, 6, 6);
    expect([...dx]).toEqual([1, 4, 6, 8, 10, 12]);
    const p = await Program.fromWat(wat);
    const tapes = await Promise.all([10, 1000].map(async (n) => (await autodiff(Reverse, p.kernel("k"), Duplicated(new Float64Array(n), new Float64Array(n)), Duplicated(new Float64Array(n), new Float64Array(n)), Const(n))).stats.tapeBytes));
    // only the branch taken is recorded (4 bytes per iteration), not the address
    expect(tapes[1] - tapes[0]).toBeLessThanOrEqual(4 * 990);
  });
});
