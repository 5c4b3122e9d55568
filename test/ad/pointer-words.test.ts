// Pointers and integers kept in memory beside floats (src/ad/memory-pointers.ts): C kernels
// from two adversarial reviews (test/fixtures/pointer-words/words.c, clang -O0 and -O2). Every
// kernel is checked in both modes: reverse against central finite differences and forward
// against reverse. Those marked "exact" must differentiate; the others may be refused (an
// UnsupportedError at compile time, a TrapError at run time), but never give a wrong number.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ActivityError, Const, Duplicated, Forward, Program, ReverseWithPrimal, TrapError, UnsupportedError, autodiff } from "../../src/index.js";

/** A Duplicated buffer, a Const buffer ({ c }) or a Const integer. */
type Arg = Float64Array | Float32Array | { c: Float64Array } | number;
const f32 = (n: number, s = 1) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s + 0.3) + 0.2);
const f64 = (n: number, s = 1) => Float64Array.from({ length: n }, (_, i) => Math.sin(i * s + 0.3) + 0.2);

/** [kernel, arguments, must be exact at -O0 / -O2] */
const KERNELS: [string, () => Arg[], { O0: boolean; O2: boolean }][] = [
  ["acc_zero_init", () => [f32(3), 3], { O0: true, O2: true }],
  ["reuse_int_then_float", () => [f32(4), 4], { O0: true, O2: true }],
  ["reuse_float_then_int", () => [f32(4), 4], { O0: true, O2: true }],
  ["coloring", () => [f32(4), 4], { O0: true, O2: true }],
  ["out_scratch", () => [f64(3), f64(3, 2), 3], { O0: true, O2: true }],
  ["passes", () => [f64(3), 3, 2], { O0: true, O2: true }],
  // -O2: the copy moves pointer words only, and reverse mode cannot tell them from floats: refused
  ["ptr_array_copy", () => [f64(3), f64(3, 2), 3, 8], { O0: true, O2: false }],
  ["struct_copy_const", () => [f32(4), 4], { O0: true, O2: true }],
  ["struct_copy_active", () => [f32(4), 4], { O0: true, O2: true }],
  ["word_copy", () => [f64(3), new Float64Array(3), 3], { O0: false, O2: false }],
  ["union_copy", () => [f32(3), 3], { O0: false, O2: true }],
  ["bit_abs", () => [f32(4), 4], { O0: false, O2: false }],
  ["bit_sign", () => [f32(4), 4], { O0: false, O2: false }],
  ["ptr_to_ptr", () => [f64(4), f64(4, 2), 4], { O0: true, O2: true }],
  ["linked_list", () => [f64(5), 5], { O0: true, O2: true }],
  ["nbody", () => [f64(4), f64(4, 2), 4, 3], { O0: true, O2: true }],
  // -O2: the helper gets `i & 1 ? w : x` (a select of two buffers), whose shadow is not followed: it traps
  ["alternate_slot", () => [f64(4), f64(4, 2), 4], { O0: true, O2: true }],
  ["cptr_scratch", () => [f64(3), { c: f64(2, 3) }, f64(2, 2)], { O0: true, O2: true }],
  ["dptr_scratch", () => [f64(3), f64(2, 2)], { O0: true, O2: true }],
  ["frame_reuse", () => [f64(3), { c: f64(2, 3) }], { O0: true, O2: true }],
  // pointers copied from a caller's memory into a block have no shadow words: using them traps
  ["copy_from_caller", () => [f64(3), f64(3, 2), 3], { O0: false, O2: false }],
  // module data's address has no shadow word: reading through it traps
  ["module_data_over_pointer", () => [f64(3), 3], { O0: false, O2: false }],
  ["select_over_pointer", () => [f64(3), f64(3, 2), 3], { O0: true, O2: true }],
  ["coloring_const", () => [f64(3), { c: f64(2, 3) }, f64(2, 2), 3], { O0: true, O2: true }],
  // float bits copied as words where only callees show the word's types, or handed to a helper as an int: refused in reverse mode
  ["evidence_in_callees", () => [f32(3), 3], { O0: false, O2: false }],
  ["bits_through_call", () => [f32(2), f32(2)], { O0: false, O2: false }],
  // a pointer with a shadow stored in a C global: refused
  ["global_pointer", () => [f64(3), 3], { O0: false, O2: false }],
  ["memcpy_pointers_in", () => [f64(4), f64(4, 2), new Float64Array(4), 4], { O0: false, O2: false }],
  // p + (w − x): refused (it reaches w's buffer, not p's)
  ["buffer_distance", () => [{ c: f64(4, 3) }, f64(4), 4], { O0: false, O2: false }],
  // returned references: the callee hands back the shadow of the pointer it returns
  ["ret_slot", () => [f64(4), f64(4, 2), 4], { O0: true, O2: true }],
  // (-O0: the callee chooses between its two pointer parameters by branches into one local, whose delta is set beside each assignment)
  ["ret_pick", () => [f64(4), f64(4, 2), 4], { O0: true, O2: true }],
  ["ret_pick_const", () => [f64(4), { c: f64(4, 2) }, 4], { O0: true, O2: true }],
  ["ret_through_memory", () => [f64(4), 4], { O0: true, O2: true }],
  // module data's address returned: no shadow, refused or trapping
  ["ret_module_data", () => [f64(3), 3], { O0: false, O2: false }],
  // frame words shown to hold integers, vouched for by every caller of a helper (clean-words.ts)
  ["vouch_int", () => [f32(4), 4], { O0: true, O2: true }],
  // a float's bits through the same helper, written directly or by a callee into a frame word: refused
  ["vouch_float_bits", () => [f32(2), f32(2), 2], { O0: false, O2: false }],
  ["frame_float_by_callee", () => [f32(2), f32(2)], { O0: false, O2: false }],
];

const isBuffer = (a: Arg): a is Float64Array | Float32Array => a instanceof Float64Array || a instanceof Float32Array;
const copy = (args: Arg[]): Arg[] => args.map((a) => (isBuffer(a) ? a.slice() : typeof a === "number" ? a : { c: a.c.slice() }));
const plain = (args: Arg[]) => args.map((a) => (typeof a === "object" && "c" in a ? a.c : a));
const Ctor = (a: Float64Array | Float32Array) => a.constructor as Float64ArrayConstructor;

/**
 * "exact", "refused: …", or "wrong: …", over both modes. Reverse mode starts from non-zero seeds on
 * the buffers: the gradient is that of L = f + Σ seed · (buffer after the call), checked against
 * central finite differences of L; forward mode's tangent against the reverse gradient.
 */
async function verdict(p: Program, name: string, args: Arg[]): Promise<string> {
  const k = p.kernel(name);
  const seeds = args.map((a, i) => (isBuffer(a) ? Ctor(a).from(a, (_, j) => 0.5 * Math.cos(j + 2 * i)) : null));
  const L = (xs: Arg[]) => {
    const ys = copy(xs);
    let v = Number(k.call(...plain(ys)));
    ys.forEach((y, i) => { if (isBuffer(y)) y.forEach((t, j) => { v += seeds[i]![j] * t; }); });
    return v;
  };
  const single = args.some((a) => a instanceof Float32Array);
  const dual = (xs: Arg[], shadows: (Float64Array | Float32Array | null)[]) =>
    xs.map((a, i) => (shadows[i] ? Duplicated(a as Float64Array, shadows[i] as Float64Array) : Const(plain([a])[0] as number)));
  try {
    const grads = seeds.map((s) => s && s.slice());
    const r = await autodiff(ReverseWithPrimal, k, ...dual(copy(args), grads));
    const tangents = args.map((a, i) => (isBuffer(a) ? Ctor(a).from(a, (_, j) => Math.cos(3 * j + i)) : null));
    const outT = tangents.map((t) => t && t.slice());
    const fw = await autodiff(Forward, k, ...dual(copy(args), outT));
    let dot = 0, worst = 0, lhs = fw.tangent!;
    args.forEach((a, i) => {
      if (!isBuffer(a)) return;
      for (let j = 0; j < a.length; j++) {
        const h = single ? 1e-2 : 1e-6;
        const up = copy(args), down = copy(args);
        (up[i] as Float64Array)[j] += h; (down[i] as Float64Array)[j] -= h;
        const fd = (L(up) - L(down)) / (2 * h);
        worst = Math.max(worst, Math.abs(grads[i]![j] - fd) / Math.max(1, Math.abs(fd)));
        dot += grads[i]![j] * tangents[i]![j];
        lhs += seeds[i]![j] * outT[i]![j];
      }
    });
    expect(r.primal).toBe(Number(k.call(...plain(copy(args)))));
    const fwErr = Math.abs(lhs - dot) / Math.max(1, Math.abs(dot));
    if (worst > (single ? 2e-2 : 1e-6) || fwErr > (single ? 1e-5 : 1e-10)) return `wrong: reverse vs FD ${worst.toExponential(1)}, forward vs reverse ${fwErr.toExponential(1)}`;
    return "exact";
  } catch (e) {
    // (an ActivityError: active values would reach memory with no shadow, refused at compile time)
    if (e instanceof UnsupportedError || e instanceof TrapError || e instanceof ActivityError) return `refused: ${e.message.slice(0, 80)}`;
    throw e;
  }
}

describe.each([0, 2] as const)("pointers and integers kept in memory beside floats (clang -O%i)", (opt) => {
  const program = Program.fromWasm(readFileSync(new URL(`../fixtures/pointer-words/words.O${opt}.wasm`, import.meta.url)), { splitLocals: true });
  it.each(KERNELS)("%s: exact, or refused — never a wrong number", async (name, args, exact) => {
    const v = await verdict(await program, name, args());
    expect(v).not.toMatch(/^wrong/);
    if (opt === 0 ? exact.O0 : exact.O2) expect(v).toBe("exact");
  });
});

/** Fifth review (test/fixtures/pointer-words/review5.c): exact or refused, never a wrong number. */
const REVIEW5: [string, () => Arg[]][] = [
  ["a1_i64_vouch_direct", () => [f32(2), f32(2, 2), 3]],
  ["a2_i64_vouch_frame", () => [f32(2), f32(2, 2), 3]],
  ["a3_memcpy_escape", () => [f32(2), f32(2, 2), f32(2, 3), 4]],
  ["a4_i64_addr_arg", () => [f32(2), f32(2, 2)]],
  ["a5_union_mix_retype", () => [f32(4), 4]],
  ["a6_ret_frame_ptr", () => [f32(2), f32(2, 2)]],
  ["a7_callee_loaded_ptr", () => [f32(2), f32(2, 2)]],
  ["a8_recursion", () => [f32(2), f32(2, 2), 2]],
  ["a9_fnptr", () => [f32(2), f32(2, 2), 1]],
  ["a10_computed_offset", () => [f32(2), f32(2, 2), 1]],
  ["a11_overlap_f64_i32", () => [f64(2), f64(2, 2)]],
  ["a12_vouch_second_level", () => [f32(2), f32(2, 2), 3]],
  ["a12b_vouch_second_level_first", () => [f32(2), f32(2, 2), 3]],
  ["a13_call_result_bits", () => [f32(2), f32(2, 2)]],
  ["a13b_call_result_bits_direct", () => [f32(2), f32(2, 2)]],
  ["a14_param_bits", () => [f32(2), f32(2, 2)]],
  ["a15_alias_two_callees", () => [f32(2), f32(2, 2), 3]],
  ["a16_ret_indirect", () => [f32(4), 4]],
  ["a17_callee_copies_float_bits", () => [f32(2), f32(2, 2)]],
  ["a18_i64_vouch_offset", () => [f32(2), f32(2, 2), 3]],
  ["a19_mixed_width", () => [f32(2), f32(2, 2), 3]],
  ["a20_ret_loaded_frame_ptr", () => [f32(2), f32(2, 2)]],
  ["b1_i64_vouch_control", () => [f32(2), f32(2, 2), 3]],
  ["b2_i64_copy_returning", () => [f32(2), f32(2, 2), 3]],
  ["b3_memcpy_escape_malloc", () => [f32(2), f32(2, 2), 4]],
  ["b3b_memcpy_escape_callee", () => [f32(2), f32(2, 2), 4]],
  ["b4_recursive_vouch", () => [f32(2), f32(2, 2), 3]],
  ["b4b_mutual_vouch", () => [f32(2), f32(2, 2), 3]],
  ["b5_loop_param_ptr", () => [f32(2), f32(2, 2), 2]],
  ["b5b_loop_param_copy", () => [f32(2), f32(2, 2), 2]],
  ["b6_union_mix_retype_o2", () => [f32(4), 4]],
  ["b6b_struct_ff_retype", () => [f32(4), 4]],
  ["b7_vouch_chain", () => [f32(2), f32(2, 2), 3]],
  ["c1_nested_ret", () => [f64(4), f64(4, 2), 4]],
  ["c2_ret_kept", () => [f64(4), f64(4, 2), 4]],
  ["c3_ret_chain", () => [f64(4), f64(4, 2), 4]],
  ["c4_ret_frame_field", () => [f32(2), f32(2, 2)]],
];
describe.each([0, 2] as const)("fifth review: frame words, vouching, returned references, retyped copies (clang -O%i)", (opt) => {
  const program = Program.fromWasm(readFileSync(new URL(`../fixtures/pointer-words/review5.O${opt}.wasm`, import.meta.url)), { splitLocals: true });
  for (const [name, args] of REVIEW5) {
    it(`${name}: exact, or refused — never a wrong number`, async () => {
      expect(await verdict(await program, name, args())).not.toMatch(/^wrong/);
    });
  }
});
