// Randomly generated kernels (a fixed seed, so the run is deterministic): straight-line code,
// counted loops, in-place buffer updates, reused locals, branches and calls to a helper, built
// from smooth operations. Reverse and forward mode are checked against finite differences
// and against each other (dot-product test) on every program.
import { describe, expect, it } from "vitest";
import { Active, Const, Duplicated, ForwardWithPrimal, Program, ReverseWithPrimal, autodiff } from "../../src/index.js";
import { relErr, richardsonFD, rng } from "../helpers/check.js";

const N = 4; // buffer length

function generate(seed: number): string {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const locals = ["$t0", "$t1", "$t2"];
  const leaf = (): string => pick([
    "(local.get $x)", "(local.get $y)", `(local.get ${pick(locals)})`,
    `(f64.load offset=${8 * Math.floor(r() * N)} (local.get $p))`,
    `(f64.const ${(r() * 2 - 1).toFixed(3)})`,
  ]);
  const expr = (depth: number): string => {
    if (depth <= 0 || r() < 0.25) return leaf();
    const a = expr(depth - 1), b = expr(depth - 1);
    switch (Math.floor(r() * 9)) {
      case 0: return `(f64.add ${a} ${b})`;
      case 1: return `(f64.sub ${a} ${b})`;
      case 2: return `(f64.mul ${a} ${b})`;
      // smooth division: a / (1 + b²)
      case 3: return `(f64.div ${a} (f64.add (f64.const 1) (f64.mul ${b} ${b})))`;
      case 4: return `(call $sin ${a})`;
      case 5: return `(call $tanh ${a})`;
      case 6: return `(f64.sqrt (f64.add (f64.const 1) (f64.mul ${a} ${a})))`;
      case 7: return `(call $helper ${a} ${b})`;
      default: return `(call $exp (call $tanh ${a}))`;
    }
  };
  const stmt = (depth: number): string => {
    switch (Math.floor(r() * 5)) {
      case 0: case 1: return `(local.set ${pick(locals)} ${expr(depth)})`;
      case 2: return `(f64.store offset=${8 * Math.floor(r() * N)} (local.get $p) ${expr(depth)})`;
      case 3: {
        // a counted loop updating a local and the buffer in place
        const body = [stmt(depth - 1), stmt(depth - 1)].join(" ");
        return `(local.set $i (i32.const 0)) (block $b${depth} (loop $l${depth} (br_if $b${depth} (i32.ge_s (local.get $i) (i32.const 3))) ${body}
          (f64.store (i32.add (local.get $p) (i32.shl (i32.and (local.get $i) (i32.const 3)) (i32.const 3)))
            (f64.mul (f64.const 0.5) (f64.load (i32.add (local.get $p) (i32.shl (i32.and (local.get $i) (i32.const 3)) (i32.const 3))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l${depth})))`;
      }
      default: return `(if (f64.gt ${leaf()} (f64.const 0.1)) (then ${stmt(depth - 1)}) (else ${stmt(depth - 1)}))`;
    }
  };
  const body = Array.from({ length: 4 }, () => stmt(2)).join("\n    ");
  return `(module
  (import "Math" "sin" (func $sin (param f64) (result f64)))
  (import "Math" "tanh" (func $tanh (param f64) (result f64)))
  (import "Math" "exp" (func $exp (param f64) (result f64)))
  (memory (export "memory") 1)
  (func $helper (param $a f64) (param $b f64) (result f64) (f64.add (f64.mul (local.get $a) (call $tanh (local.get $b))) (local.get $b)))
  (func (export "k") (param $x f64) (param $y f64) (param $p i32) (result f64)
    (local $t0 f64) (local $t1 f64) (local $t2 f64) (local $i i32)
    ${body}
    (f64.add (f64.add (local.get $t0) (local.get $t1)) (f64.add (local.get $t2) (f64.load (local.get $p))))))`;
}

describe("random kernels: reverse and forward against finite differences and each other", () => {
  const seeds = Array.from({ length: Number(process.env.RANDOM_KERNELS ?? 40) }, (_, i) => 1000 + i);
  it.each(seeds)("seed %i", async (seed) => {
    const wat = generate(seed);
    const k = (await Program.fromWat(wat)).kernel("k");
    const r = rng(seed * 7 + 1);
    const x = r() * 2 - 1, y = r() * 2 - 1;
    const p = Float64Array.from({ length: N }, () => r() * 2 - 1);
    const w = Float64Array.from({ length: N }, () => r() * 2 - 1); // seed of L on the final buffer
    const tx = r() * 2 - 1, ty = r() * 2 - 1;
    const tp = Float64Array.from({ length: N }, () => r() * 2 - 1);
    // L = return value + w · final p
    const L = (xx: number, yy: number, pp: Float64Array) => {
      const q = pp.slice();
      const ret = k.call(xx, yy, q) as number;
      return ret + q.reduce((s, v, i) => s + w[i] * v, 0);
    };
    const dp = w.slice();
    const rev = await autodiff(ReverseWithPrimal, k, Active(x), Active(y), Duplicated(p.slice(), dp));
    expect(rev.primal).toBe(k.call(x, y, p.slice()));
    const fd = (f: (h: number) => number) => richardsonFD(f, 1e-4);
    const check = (got: number, want: number, what: string) =>
      expect(relErr(got, want), `${what}: got ${got}, want ${want}\n${wat}`).toBeLessThan(1e-6);
    check(rev.derivs[0]!, fd((h) => L(x + h, y, p)), "dL/dx");
    check(rev.derivs[1]!, fd((h) => L(x, y + h, p)), "dL/dy");
    for (let i = 0; i < N; i++) check(dp[i], fd((h) => { const q = p.slice(); q[i] += h; return L(x, y, q); }), `dL/dp[${i}]`);
    const q = p.slice(), dq = tp.slice();
    const fw = await autodiff(ForwardWithPrimal, k, Duplicated(x, tx), Duplicated(y, ty), Duplicated(q, dq));
    const dir = fw.tangent! + dq.reduce((s, v, i) => s + w[i] * v, 0);
    check(dir, fd((h) => { const pp = p.map((v, i) => v + h * tp[i]); return L(x + h * tx, y + h * ty, pp); }), "forward");
    const dot = rev.derivs[0]! * tx + rev.derivs[1]! * ty + dp.reduce((s, v, i) => s + v * tp[i], 0);
    expect(relErr(dir, dot), `forward vs reverse\n${wat}`).toBeLessThan(1e-9);
    void Const;
  });
});
