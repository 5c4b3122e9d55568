// Pointers kept in stack frames (src/ad/frame-pointers.ts, clean-words.ts) and calls that read
// only constants out of a frame (src/ad/inert-frame-args.ts), on the shapes Rust's core takes at
// -O0 (test/fixtures/frame-pointers/kept.wat): exact where the analyses show the words to hold
// integers or constants, refused where float data reaches them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ActivityError, Duplicated, Forward, Program, ReverseWithPrimal, TrapError, UnsupportedError, autodiff } from "../../src/index.js";

const wat = readFileSync(new URL("../fixtures/frame-pointers/kept.wat", import.meta.url), "utf8");

describe("pointers kept in stack frames", () => {
  it("a length counted through a pointer kept in the frame is an integer: exact in both modes", async () => {
    const p = await Program.fromWat(wat);
    const k = p.kernel("setlen");
    const x = Float32Array.of(0.5, -1.25, 2);
    // f = (x0 + x1 + x2²) · 3
    const g = new Float32Array(3);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), g));
    expect(r.primal).toBeCloseTo((0.5 - 1.25 + 4) * 3, 5);
    expect(Array.from(g)).toEqual([3, 3, 12]);
    const t = Float32Array.of(1, 2, 0.5);
    const fw = await autodiff(Forward, k, Duplicated(x.slice(), t));
    expect(fw.tangent).toBeCloseTo(3 * 1 + 3 * 2 + 12 * 0.5, 5);
  });

  // (forward mode may copy the word with its shadow word, which is exact for any bytes: it must then give the tangent exactly)
  it.each(["float_through_kept", "float_through_param"])("%s: a float written through a kept pointer and copied as an integer is refused in reverse mode, exact or refused in forward mode", async (name) => {
    const p = await Program.fromWat(wat);
    const err = await autodiff(ReverseWithPrimal, p.kernel(name), Duplicated(Float32Array.of(1.5), new Float32Array(1)), Duplicated(new Float32Array(1), Float32Array.of(1))).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/an integer loaded from memory that has a shadow/);
    const ty = new Float32Array(1);
    const fw = await autodiff(Forward, p.kernel(name), Duplicated(Float32Array.of(1.5), Float32Array.of(0.25)), Duplicated(new Float32Array(1), ty)).catch((e) => e);
    if (fw instanceof Error) expect(fw).toBeInstanceOf(UnsupportedError);
    else expect(ty[0]).toBe(0.25);
  });

  it("a callee reading only a constant out of the frame (is_zero's bit test) is called as the primal: exact in both modes", async () => {
    const p = await Program.fromWat(wat);
    const k = p.kernel("zero_elem");
    const x = Float64Array.of(0.75, -2);
    // f = (x0² + x1) · 2
    const g = new Float64Array(2);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x.slice(), g));
    expect(r.primal).toBe((0.75 * 0.75 - 2) * 2);
    expect(Array.from(g)).toEqual([3, 2]);
    const fw = await autodiff(Forward, k, Duplicated(x.slice(), Float64Array.of(1, 3)));
    expect(fw.tangent).toBe(3 + 2 * 3);
  });

  it.each(["active_elem", "clearing_elem", "overwritten_elem"])("%s: the bits of a float that may carry a derivative (or a callee writing there) are refused in both modes", async (name) => {
    const p = await Program.fromWat(wat);
    for (const mode of [ReverseWithPrimal, Forward]) {
      const err = await autodiff(mode, p.kernel(name), Duplicated(Float64Array.of(0.5, 1), new Float64Array(2))).catch((e) => e);
      expect(err instanceof UnsupportedError || err instanceof ActivityError || err instanceof TrapError, String(err)).toBe(true);
    }
  });

  it("a pointer parameter kept in the callee's frame and loaded back names the parameter's word: exact in both modes", async () => {
    const p = await Program.fromWat(wat);
    const k = p.kernel("len_kept");
    const g = new Float32Array(1);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(Float32Array.of(1.5), g));
    expect(r.primal).toBe(4.5);
    expect(g[0]).toBe(3);
    expect((await autodiff(Forward, k, Duplicated(Float32Array.of(1.5), Float32Array.of(2)))).tangent).toBe(6);
  });

  it("len_retargeted: where a callee may have replaced the kept pointer, the word read is not shown to be an integer: refused in reverse mode", async () => {
    const p = await Program.fromWat(wat);
    const err = await autodiff(ReverseWithPrimal, p.kernel("len_retargeted"), Duplicated(Float32Array.of(1.5), new Float32Array(1)), Duplicated(new Float32Array(1), Float32Array.of(1))).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/an integer loaded from memory that has a shadow/);
  });

  it("float_through_selected: a kept pointer that may be either of two words of the frame makes both dirty: refused in reverse mode", async () => {
    const p = await Program.fromWat(wat);
    const err = await autodiff(ReverseWithPrimal, p.kernel("float_through_selected"), Duplicated(Float32Array.of(1.5), new Float32Array(1)), Duplicated(new Float32Array(1), Float32Array.of(1)), 0).catch((e) => e);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err.message).toMatch(/an integer loaded from memory that has a shadow/);
  });
});

// An adversarial review of the frame analyses (test/fixtures/frame-pointers/review/): a frame word
// retargeted through a local set to 0 and then to 4, read at `f + c` with c = 0 (zeros the word
// analyses once left out), a parameter reassigned before the copy, two leaf frames carved from one
// value of the stack pointer, the stack pointer read again as an address, an access beyond a
// carved frame, a kept pointer's byte overwritten with i32.store8. Each gave a silent wrong
// derivative in one mode or both. Every kernel there must now be refused (or stop at run time) or
// agree with finite differences, in both modes.
describe("frame analyses under review: refused or exact, never silently wrong", () => {
  const dir = new URL("../fixtures/frame-pointers/review/", import.meta.url);
  const files = ["retarget", "sp-alias", "sp-alias2", "offsets", "params", "twins", "sp-copy", "narrow",
    // a second review: a local read (as its starting zero) before its one assignment, through a
    // kept pointer (z4, z2) and in field forwarding (z5); the stack pointer read by a callee
    // that carves no frame (s11, s8b); a frame reached beyond its size through a derived
    // local or a constant on the left (s6, s12)
    "r2-z5", "r2-z4", "r2-z2", "r2-s11", "r2-s8b", "r2-s6", "r2-s12", "r2-s1", "r2-s3", "r2-s5", "r2-spcopy",
    // and shapes that must stay exact: a dead parameter reused as the frame pointer (binaryen's
    // coalesce-locals), the stack pointer restored from a saved copy (clang's -O2 epilogue)
    "r2-p5", "r2-p6", "r2-p7", "r2-p8",
    // a third review: frames carved from one value of the stack pointer through a saved copy
    // (r4, r4b), a frame used after it was given back and a callee carved over it (r15, r15b),
    // two sub-frames carved from one frame (r16), the stack pointer handed to a callee (r2)
    "r3-r4", "r3-r4b", "r3-r15", "r3-r15b", "r3-r16", "r3-r5", "r3-r2", "r3-r3", "r3-r13"];
  const cases = files.flatMap((f) => {
    const text = readFileSync(new URL(`${f}.wat`, dir), "utf8");
    return [...text.matchAll(/\(func \(export "(\w+)"\)/g)].map((m) => [f, m[1], text] as const);
  });
  const mustBeExact = new Set(["r2-p5", "r2-p6", "r2-p7", "r2-p8"]);
  it.each(cases)("%s.wat %s", async (file, name, text) => {
    const refused = (e: unknown) => !mustBeExact.has(file) && (e instanceof UnsupportedError || e instanceof ActivityError || e instanceof TrapError);
    const p = await Program.fromWat(text);
    const k = p.kernel(name);
    const x0 = Float64Array.of(1.5, -0.75), w = Float64Array.of(0.5, 2), tx = Float64Array.of(1, 0.3);
    const L = (x: Float64Array) => { const y = new Float64Array(2); const r = k.call(x, y); return (typeof r === "number" ? r : 0) + w[0] * y[0] + w[1] * y[1]; };
    const fd = [0, 1].map((i) => { const h = 1e-6, a = x0.slice(), b = x0.slice(); a[i] += h; b[i] -= h; return (L(a) - L(b)) / (2 * h); });
    const g = new Float64Array(2);
    const rev = await autodiff(ReverseWithPrimal, k, Duplicated(x0.slice(), g), Duplicated(new Float64Array(2), w.slice())).catch((e) => e);
    if (rev instanceof Error) expect(refused(rev), rev.message).toBe(true);
    else for (let i = 0; i < 2; i++) expect(Math.abs(g[i] - fd[i]), `dx[${i}]: ${g[i]} vs ${fd[i]}`).toBeLessThan(1e-5 * (1 + Math.abs(fd[i])));
    const ty = new Float64Array(2);
    const fw = await autodiff(Forward, k, Duplicated(x0.slice(), tx.slice()), Duplicated(new Float64Array(2), ty)).catch((e) => e);
    if (fw instanceof Error) expect(refused(fw), fw.message).toBe(true);
    else {
      const dir = (typeof fw.tangent === "number" ? fw.tangent : 0) + w[0] * ty[0] + w[1] * ty[1], want = fd[0] * tx[0] + fd[1] * tx[1];
      expect(Math.abs(dir - want), `tangent ${dir} vs ${want}`).toBeLessThan(1e-5 * (1 + Math.abs(want)));
    }
  });
});
