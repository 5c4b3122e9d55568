// Adversarial kernels from a review of allocation, object fields, stack frames, bulk memory
// and integer copies (test/fixtures/soundness/*.wat: a C-like module with its own malloc,
// free, realloc, memset, memcpy and __stack_pointer). Each once gave a silent wrong
// derivative. Now each must be either refused with an error that names the function, or
// exact: reverse against finite differences, forward against reverse, primal as kernel.call.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ActivityError, Const, Duplicated, Forward, Program, ReverseWithPrimal, UnsupportedError, autodiff } from "../../src/index.js";
import { relErr, richardsonFD } from "../helpers/check.js";

const fixture = (name: string) => readFileSync(new URL(`../fixtures/soundness/${name}.wat`, import.meta.url), "utf8");
const kernels: Record<string, string[]> = {
  t1: ["k_frame_derived", "k_frame_callee", "k_obj_derived", "k_realloc_field", "k_realloc_field_inplace", "k_escape_global", "k_escape_reload", "k_memset_field"],
  t2: ["k_int_copy_calls", "k_int_copy_wr", "k_int_copy_inline", "k_copy_f32_blocks2", "k_copy_f32_blocks", "k_copy_f32_only"],
  t5: ["k_two_frames", "k_below_block", "k_realloc_copies"],
  t6: ["k_reinterp", "k_reinterp2", "k_obj_copies"],
  a1: ["k_neg_derived", "k_neg_callee", "k_neg_frame", "k_fill_below"],
};

describe.each(Object.keys(kernels))("review kernels %s", (file) => {
  it.each(kernels[file])("%s: refused, or exact", async (name) => {
    const p = await Program.fromWat(fixture(file));
    p.inactive("free");
    const k = p.kernel(name);
    const x = Float64Array.from({ length: 6 }, (_, i) => 0.3 + 0.25 * i);
    const dx = new Float64Array(6);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), dx), Const(6)).catch((e) => e);
    if (r instanceof Error) {
      expect(r instanceof UnsupportedError || r instanceof ActivityError, r.message).toBe(true);
      return;
    }
    const f = (y: Float64Array) => k.call(y.slice(), 6) as number;
    expect(r.primal).toBe(f(x));
    const h = file === "t2" ? 1e-3 : 1e-4; // the f32 kernels round their inputs
    for (let i = 0; i < 6; i++) {
      const fd = richardsonFD((e) => { const y = x.slice(); y[i] += e; return f(y); }, h);
      expect(Math.abs(dx[i] - fd), `dx[${i}] = ${dx[i]}, finite differences ${fd}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(fd)));
    }
    const t = Float64Array.from({ length: 6 }, (_, i) => Math.cos(i));
    const fw = await autodiff(Forward, k, Duplicated(x.slice(), t.slice()), Const(6));
    expect(relErr(fw.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0))).toBeLessThan(1e-9);
  });
});

// AssemblyScript kernels that write the object of a Float64Array parameter (its data pointer)
// through a computed address, a helper, a copy or a fill: the shadow object would not follow
const viewWriters = `
export function st_add(a: Float64Array, b: Float64Array): f64 {
  store<usize>(changetype<usize>(a) + <usize>(b.length & 4), load<usize>(changetype<usize>(b), 4));
  return unchecked(a[0]) * unchecked(a[1]);
}
@inline function setds(o: usize, v: usize): void { store<usize>(o, v, 4); }
export function st_helper(a: Float64Array, b: Float64Array): f64 {
  setds(changetype<usize>(a), load<usize>(changetype<usize>(b), 4));
  return unchecked(a[0]) * unchecked(a[1]);
}
function setds2(o: usize, v: usize): void { store<usize>(o, v, 4); if (v == 12345) store<usize>(o, v, 8); }
export function st_call(a: Float64Array, b: Float64Array): f64 {
  setds2(changetype<usize>(a), load<usize>(changetype<usize>(b), 4));
  return unchecked(a[0]) * unchecked(a[1]);
}
export function st_copy(a: Float64Array, b: Float64Array): f64 {
  memory.copy(changetype<usize>(a), changetype<usize>(b), 12);
  return unchecked(a[0]) * unchecked(a[1]);
}
export function st_fill(a: Float64Array, b: Float64Array): f64 {
  memory.fill(changetype<usize>(a) + 4, 0, 1);
  return unchecked(a[0]) * unchecked(a[1]);
}
`;

describe("writes to the object of a Float64Array parameter", () => {
  it.each(["st_add", "st_helper", "st_call", "st_copy", "st_fill"])("%s is refused", async (name) => {
    const p = await Program.fromAssemblyScript(viewWriters);
    const a = Float64Array.of(1.3, 1.55, 0.3, 0.4), b = Float64Array.of(0.5, 0.25, 2, 3);
    const err = await autodiff(ReverseWithPrimal, p.kernel(name), Duplicated(a, new Float64Array(4)), Const(b)).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
  });
});
