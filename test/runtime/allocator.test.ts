// program.allocator: a module's own allocator, unknown to the built-in list, named by the
// user so that the blocks it returns get shadow blocks; program.inactive for its free.
// Checked against the analytic gradient, forward against reverse; then the argument checks,
// what stays refused (a block pointer kept in a global, a checkpointed kernel writing a
// block), and a C-like realloc, whose block keeps its derivatives when it moves.
import { describe, expect, it } from "vitest";
import { ArgumentError, Const, Duplicated, Forward, Program, Reverse, UnsupportedError, autodiff } from "../../src/index.js";

/**
 * Bump allocation of `bytes` (an expression) from the global $top, 16-byte aligned, growing
 * memory by whole pages when the block does not fit; leaves the block's address on the stack.
 */
const bump = (bytes: string) => `
    (local.set $p (i32.and (i32.add (global.get $top) (i32.const 15)) (i32.const -16)))
    (local.set $end (i32.add (local.get $p) ${bytes}))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then (if (i32.lt_s (memory.grow (i32.shr_u (i32.add (i32.sub (local.get $end) (i32.shl (memory.size) (i32.const 16))) (i32.const 65535)) (i32.const 16)))
                          (i32.const 0))
              (then unreachable))))
    (global.set $top (local.get $end))
    (local.get $p)`;

/** for $i in [0, n): body */
const loop = (label: string, body: string) => `
    (local.set $i (i32.const 0))
    (block $${label}_done (loop $${label}
      (br_if $${label}_done (i32.ge_s (local.get $i) (local.get $n)))
      ${body}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $${label})))`;
const at = (base: string, index = "(local.get $i)") => `(i32.add (local.get ${base}) (i32.shl ${index} (i32.const 3)))`;

/** s = Σ b[i]·x[i] with b[i] = sin(x[i]), b a block of n f64 from `alloc` (an expression); ∂s/∂x_i = sin x_i + x_i cos x_i. */
const dotSin = (name: string, alloc: string, extra = "") => `
  (func $${name} (export "${name}") (param $x i32) (param $n i32) (result f64)
    (local $b i32) (local $i i32) (local $s f64)
    (local.set $b ${alloc})
    ${extra}
    ${loop("fill", `(f64.store ${at("$b")} (call $sin (f64.load ${at("$x")})))`)}
    ${loop("sum", `(local.set $s (f64.add (local.get $s) (f64.mul (f64.load ${at("$b")}) (f64.load ${at("$x")}))))`)}
    (call $release (local.get $b))
    (local.get $s))`;

const WAT = `(module
  (import "Math" "sin" (func $sin (param f64) (result f64)))
  (memory 1)
  (global $top (mut i32) (i32.const 1024))
  (global $last (mut i32) (i32.const 0))
  ;; malloc-like: grab(bytes)
  (func $grab (param $bytes i32) (result i32) (local $p i32) (local $end i32) ${bump("(local.get $bytes)")})
  ;; calloc-like: grab_n(count, size), without calloc's zeroing (the kernels overwrite their blocks)
  (func $grab_n (param $count i32) (param $size i32) (result i32) (local $p i32) (local $end i32)
    ${bump("(i32.mul (local.get $count) (local.get $size))")})
  ;; gives back the most recent block (a stack allocator's free)
  (func $release (param $p i32) (global.set $top (local.get $p)))
  ;; moves a block: a new one, the old bytes copied one by one
  (func $realloc (param $old i32) (param $bytes i32) (result i32) (local $new i32) (local $k i32)
    (local.set $new (call $grab (local.get $bytes)))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $k) (local.get $bytes)))
      (i32.store8 (i32.add (local.get $new) (local.get $k)) (i32.load8_u (i32.add (local.get $old) (local.get $k))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $copy)))
    (local.get $new))
  ${dotSin("dot_sin", "(call $grab (i32.shl (local.get $n) (i32.const 3)))")}
  ${dotSin("dot_sin_n", "(call $grab_n (local.get $n) (i32.const 8))")}
  ${dotSin("keeps_block", "(call $grab (i32.shl (local.get $n) (i32.const 3)))", "(global.set $last (local.get $b))")}
  ;; a = sin(x), given back; b = 3x in the same memory: s = Σ a[i]² + Σ b[i] x[i], ∂s/∂x_i = 2 sin x_i cos x_i + 6 x_i
  (func $reuse (export "reuse") (param $x i32) (param $n i32) (result f64)
    (local $a i32) (local $b i32) (local $i i32) (local $s f64)
    (local.set $a (call $grab (i32.shl (local.get $n) (i32.const 3))))
    ${loop("f1", `(f64.store ${at("$a")} (call $sin (f64.load ${at("$x")})))`)}
    ${loop("s1", `(local.set $s (f64.add (local.get $s) (f64.mul (f64.load ${at("$a")}) (f64.load ${at("$a")}))))`)}
    (call $release (local.get $a))
    (local.set $b (call $grab (i32.shl (local.get $n) (i32.const 3))))
    ${loop("f2", `(f64.store ${at("$b")} (f64.mul (f64.const 3) (f64.load ${at("$x")})))`)}
    ${loop("s2", `(local.set $s (f64.add (local.get $s) (f64.mul (f64.load ${at("$b")}) (f64.load ${at("$x")}))))`)}
    (call $release (local.get $b))
    (local.get $s))
  ;; one 8-byte block per iteration (refused once the kernel is checkpointed)
  (func $per_step (export "per_step") (param $x i32) (param $n i32) (result f64)
    (local $b i32) (local $i i32) (local $s f64)
    ${loop("l", `(local.set $b (call $grab (i32.const 8)))
      (f64.store (local.get $b) (call $sin (f64.load ${at("$x")})))
      (local.set $s (f64.add (local.get $s) (f64.mul (f64.load (local.get $b)) (f64.load ${at("$x")}))))`)}
    (local.get $s))
  ;; b holds sin(x) when realloc moves it to twice the size; the sum reads it at its new place
  (func $grows_block (export "grows_block") (param $x i32) (param $n i32) (result f64)
    (local $b i32) (local $i i32) (local $s f64)
    (local.set $b (call $grab (i32.shl (local.get $n) (i32.const 3))))
    ${loop("fill", `(f64.store ${at("$b")} (call $sin (f64.load ${at("$x")})))`)}
    (local.set $b (call $realloc (local.get $b) (i32.shl (local.get $n) (i32.const 4))))
    ${loop("sum", `(local.set $s (f64.add (local.get $s) (f64.mul (f64.load ${at("$b")}) (f64.load ${at("$x")}))))`)}
    (local.get $s)))`;

const input = (n: number) => Float64Array.from({ length: n }, (_, i) => 0.3 + 0.9 * Math.sin(1.7 * i + 0.4));
const tangent = (n: number) => Float64Array.from({ length: n }, (_, i) => Math.cos(2.3 * i) - 0.2);
const closeTo = (got: number, want: number, tol: number) => Math.abs(got - want) <= tol * Math.max(1, Math.abs(want));

/** Reverse against sin x + x cos x, forward against ⟨gradient, t⟩, primal against JS. */
async function checkDotSin(p: Program, kernel: string) {
  const k = p.kernel(kernel);
  for (const n of [1, 5, 100]) {
    const x = input(n);
    expect(k.call(x.slice(), n)).toBeCloseTo(x.reduce((s, v) => s + Math.sin(v) * v, 0), 12);
    const dx = new Float64Array(n);
    await autodiff(Reverse, k, Duplicated(x.slice(), dx), Const(n));
    for (let i = 0; i < n; i++) {
      const want = Math.sin(x[i]) + x[i] * Math.cos(x[i]);
      expect(closeTo(dx[i], want, 1e-12), `${kernel} dx[${i}] = ${dx[i]}, want ${want} (n = ${n})`).toBe(true);
    }
    const t = tangent(n);
    const f = await autodiff(Forward, k, Duplicated(x.slice(), t), Const(n));
    const dot = t.reduce((s, v, i) => s + v * dx[i], 0);
    expect(closeTo(f.tangent!, dot, 1e-12), `${kernel} tangent ${f.tangent} against ⟨dx, t⟩ = ${dot} (n = ${n})`).toBe(true);
  }
}

describe("program.allocator", () => {
  it("a block from an allocator nobody named is refused, with program.allocator as the remedy", async () => {
    const p = await Program.fromWat(WAT);
    const n = 5;
    const err = await autodiff(Reverse, p.kernel("dot_sin"), Duplicated(input(n), new Float64Array(n)), Const(n)).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toContain("grab");
    expect(err.message).toContain("program.allocator");
  });

  it("malloc-like grab(bytes) named with { size: 0 }: exact gradient, forward = ⟨gradient, t⟩, for n = 1, 5, 100", async () => {
    const p = await Program.fromWat(WAT);
    expect(p.allocator("grab", { size: 0 })).toBe(p);
    p.inactive("release");
    await checkDotSin(p, "dot_sin");
  });

  it("calloc-like grab_n(count, size) named with { size: [0, 1] } works the same way", async () => {
    const p = await Program.fromWat(WAT);
    p.allocator("grab_n", { size: [0, 1] }).inactive("release");
    await checkDotSin(p, "dot_sin_n");
  });

  it("an imported allocator can be named as \"module.base\"", async () => {
    // a JS bump allocator handing out the module's second page
    let next = 0;
    const imports = { env: { alloc: (bytes: number) => { const b = 65536 + next; next = (next + bytes + 15) & ~15; return b; } } };
    const wat = `(module
  (import "Math" "sin" (func $sin (param f64) (result f64)))
  (import "env" "alloc" (func $alloc (param i32) (result i32)))
  (memory 2)
  (func $release (param $p i32))
  ${dotSin("dot_sin_js", "(call $alloc (i32.shl (local.get $n) (i32.const 3)))")})`;
    const p = await Program.fromWat(wat, { imports });
    p.allocator("env.alloc", { size: 0 }).inactive("release");
    const k = p.kernel("dot_sin_js");
    const n = 5, x = input(n), dx = new Float64Array(n);
    await autodiff(Reverse, k, Duplicated(x.slice(), dx), Const(n));
    for (let i = 0; i < n; i++) expect(closeTo(dx[i], Math.sin(x[i]) + x[i] * Math.cos(x[i]), 1e-12)).toBe(true);
    next = 0;
    const t = tangent(n);
    const f = await autodiff(Forward, k, Duplicated(x.slice(), t), Const(n));
    expect(closeTo(f.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0), 1e-12)).toBe(true);
  });

  it("wrong names, signatures and indexes are an ArgumentError naming the expected form", async () => {
    const p = await Program.fromWat(WAT);
    expect(() => p.allocator("nope", { size: 0 })).toThrow(ArgumentError);
    expect(() => p.allocator("nope", { size: 0 })).toThrow(/allocator\("nope"\): no such function/);
    // dot_sin returns an f64
    expect(() => p.allocator("dot_sin", { size: 1 })).toThrow(ArgumentError);
    expect(() => p.allocator("dot_sin", { size: 1 })).toThrow(/\(param i32 i32\) \(result f64\); an allocator returns one i32/);
    // grab has one parameter
    expect(() => p.allocator("grab", { size: 1 })).toThrow(ArgumentError);
    expect(() => p.allocator("grab", { size: 1 })).toThrow(/size index 1 is not an i32 parameter of grab \(param i32\) \(result i32\); expected \{ size: i \}/);
    expect(() => p.allocator("grab_n", { size: [0, 2] })).toThrow(/size index 2 is not an i32 parameter/);
    expect(() => p.allocator("grab", { size: -1 })).toThrow(/size index -1 is not an i32 parameter/);
    expect(() => p.allocator("grab", { size: 0.5 })).toThrow(ArgumentError);
    expect(() => p.allocator("grab", { size: 0.5 })).toThrow(/size index 0\.5 is not an i32 parameter/);
    expect(() => p.allocator("grab", { size: [] as unknown as [number] })).toThrow(/expected \{ size: i \} .* or \{ size: \[i, j\] \}/);
    expect(() => p.allocator("grab", {} as { size: number })).toThrow(ArgumentError);
    // nothing was marked by the refused calls
    expect(p.ir.functions.some((f) => f.allocator)).toBe(false);
  });

  it("a block pointer stored in a global is refused, naming the function and the global.set", async () => {
    const p = await Program.fromWat(WAT);
    p.allocator("grab", { size: 0 }).inactive("release");
    const n = 5;
    const err = await autodiff(Reverse, p.kernel("keeps_block"), Duplicated(input(n), new Float64Array(n)), Const(n)).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/cannot differentiate global\.set \S*last in function \S*keeps_block/);
    expect(err.message).toContain("stored in a global");
  });

  it("a custom free needs program.inactive; a block given back and handed out again keeps exact derivatives", async () => {
    const p = await Program.fromWat(WAT);
    p.allocator("grab", { size: 0 });
    const n = 5, x = input(n);
    // release stores its argument in a global: differentiated, it would be refused
    const err = await autodiff(Reverse, p.kernel("dot_sin"), Duplicated(x.slice(), new Float64Array(n)), Const(n)).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/cannot differentiate global\.set \S*top in function \S*release/);
    p.inactive("release");
    const k = p.kernel("reuse");
    for (const m of [1, 5, 100]) {
      const y = input(m), dx = new Float64Array(m);
      await autodiff(Reverse, k, Duplicated(y.slice(), dx), Const(m));
      for (let i = 0; i < m; i++) {
        const want = 2 * Math.sin(y[i]) * Math.cos(y[i]) + 6 * y[i];
        expect(closeTo(dx[i], want, 1e-12), `reuse dx[${i}] = ${dx[i]}, want ${want} (n = ${m})`).toBe(true);
      }
      const t = tangent(m);
      const f = await autodiff(Forward, k, Duplicated(y.slice(), t), Const(m));
      expect(closeTo(f.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0), 1e-12), `reuse forward (n = ${m})`).toBe(true);
    }
  });

  it("a checkpointed kernel that writes blocks it allocates is refused (a snapshot cannot restore them)", async () => {
    const p = await Program.fromWat(WAT);
    p.allocator("grab", { size: 0 });
    const n = 5, x = input(n), dx = new Float64Array(n);
    await autodiff(Reverse, p.kernel("per_step"), Duplicated(x.slice(), dx), Const(n));
    for (let i = 0; i < n; i++) expect(closeTo(dx[i], Math.sin(x[i]) + x[i] * Math.cos(x[i]), 1e-12)).toBe(true);
    p.checkpoint("per_step", { every: 2 });
    const err = await autodiff(Reverse, p.kernel("per_step"), Duplicated(x.slice(), dx), Const(n)).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/checkpointed loop in function \S*per_step/);
  });

  it("realloc (recognised by name) moves the block's shadow with its data: exact gradient, forward = ⟨gradient, t⟩", async () => {
    const p = await Program.fromWat(WAT);
    p.allocator("grab", { size: 0 });
    const k = p.kernel("grows_block");
    for (const n of [1, 5, 100]) {
      const x = input(n), dx = new Float64Array(n);
      await autodiff(Reverse, k, Duplicated(x.slice(), dx), Const(n));
      for (let i = 0; i < n; i++) {
        const want = Math.sin(x[i]) + x[i] * Math.cos(x[i]);
        expect(closeTo(dx[i], want, 1e-12), `grows_block dx[${i}] = ${dx[i]}, want ${want} (n = ${n})`).toBe(true);
      }
      const t = tangent(n);
      const f = await autodiff(Forward, k, Duplicated(x.slice(), t), Const(n));
      expect(closeTo(f.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0), 1e-12), `grows_block forward (n = ${n})`).toBe(true);
    }
  });
});
