// Every error the public API reports: its class, its stable `code`, a message fragment,
// and that the caller's arrays are left exactly as they were when the error is thrown.
import { readFileSync } from "node:fs";
import wabtInit from "wabt";
import { describe, expect, it } from "vitest";
import {
  Active, ActivityError, ArgumentError, AutodiffError, autodiff, Const, Duplicated, Forward, ForwardWithPrimal, ParseError,
  Program, Reverse, ReverseWithPrimal, TrapError, UnsupportedError,
} from "../../src/index.js";

const KERNELS = new URL("../kernels/", import.meta.url);
const kernelWat = (file: string) => readFileSync(new URL(file, KERNELS), "utf8");

const wabtP = wabtInit();
async function wat2wasm(text: string): Promise<Uint8Array<ArrayBuffer>> {
  const wabt = await wabtP;
  const m = wabt.parseWat("t.wat", text, { mutable_globals: true, sat_float_to_int: true, sign_extension: true, multi_value: true, bulk_memory: true });
  try {
    m.resolveNames();
    m.validate();
    return Uint8Array.from(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}

type ErrorClass = abstract new (...a: never[]) => Error;

/** Awaits f, expects it to throw an instance of cls with the given code and a message containing every fragment. */
async function expectError(f: () => unknown, cls: ErrorClass, code: string, ...fragments: (string | RegExp)[]): Promise<Error> {
  let err: unknown = null;
  try {
    await f();
  } catch (e) {
    err = e;
  }
  if (err === null) expect.fail(`expected ${cls.name} (${code}), nothing was thrown`);
  if (!(err instanceof cls)) expect.fail(`expected ${cls.name}, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
  expect(err).toBeInstanceOf(AutodiffError);
  expect((err as unknown as { code: string }).code).toBe(code);
  expect((err as Error).name).toBe(cls.name);
  for (const frag of fragments) expect((err as Error).message).toMatch(frag);
  return err as Error;
}

/** Snapshots typed arrays (bytes, so NaN payloads and -0 count) and checks later that they are unchanged. */
function snapshot(...views: ArrayBufferView[]) {
  const copies = views.map((v) => new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
  return () => views.forEach((v, i) => expect(Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)), `array ${i}`).toEqual(Array.from(copies[i])));
}

const f64s = (...v: number[]) => Float64Array.from(v);

// ---------------------------------------------------------------- ParseError

describe("ParseError", () => {
  it("malformed bytes", async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    await expectError(() => Program.fromWasm(bytes), ParseError, "PARSE", "not a WebAssembly binary");
    expect(Array.from(bytes)).toEqual([1, 2, 3]);
  });

  it("a valid header followed by garbage", async () => {
    const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff, 0xff, 0xff]);
    await expectError(() => Program.fromWasm(bytes), ParseError, "PARSE", /malformed|cannot read/);
  });

  it("truncated valid Wasm", async () => {
    const full = await wat2wasm(kernelWat("dot.wat"));
    expect(WebAssembly.validate(full)).toBe(true);
    for (const cut of [9, 20, full.length - 3]) {
      const bytes = full.slice(0, cut);
      const before = snapshot(bytes);
      await expectError(() => Program.fromWasm(bytes), ParseError, "PARSE", /malformed|cannot read/);
      before();
    }
  });

  it("invalid WAT text: syntax error and type error", async () => {
    await expectError(() => Program.fromWat("(module (func (export \"f\") (result f64) (f64.add (f64.const 1)"), ParseError, "PARSE", "invalid WAT");
    await expectError(() => Program.fromWat("(module (func (export \"f\") (result f64) (i32.const 1)))"), ParseError, "PARSE", "invalid WAT");
    await expectError(() => Program.fromWat("(module (func (export \"f\") (result f64) (f64.frobnicate (f64.const 1))))"), ParseError, "PARSE", "invalid WAT");
  });

  it("Program.fromWasm given a string, and fromWat given bytes", async () => {
    await expectError(() => Program.fromWasm("(module)" as unknown as Uint8Array), ParseError, "PARSE", "Uint8Array");
    await expectError(() => Program.fromWat(new Uint8Array([0, 0x61, 0x73, 0x6d]) as unknown as string), ParseError, "PARSE", "text");
  });
});

// ---------------------------------------------------------------- ArgumentError

describe("ArgumentError", () => {
  const dotWat = kernelWat("dot.wat");
  const mixWat = kernelWat("scalar_mix.wat");

  it("wrong argument count", async () => {
    const k = (await Program.fromWat(dotWat)).kernel("dot");
    const x = f64s(1, 2), y = f64s(3, 4), dx = f64s(0.5, 0.5);
    const same = snapshot(x, y, dx);
    expect(() => k.call(x, y)).toThrow(ArgumentError);
    await expectError(() => k.call(x, y), ArgumentError, "ARGUMENT", "takes 3 arguments", "got 2");
    await expectError(() => k.call(x, y, 2, 2), ArgumentError, "ARGUMENT", "takes 3 arguments", "got 4");
    await expectError(() => autodiff(Reverse, k, Duplicated(x, dx), Const(y)), ArgumentError, "ARGUMENT", "takes 3 arguments");
    same();
  });

  it("a typed array for an f64 parameter", async () => {
    const p = await Program.fromWat(mixWat);
    const k = p.kernel("scalar_mix");
    const x = f64s(1), dx = f64s(0);
    const same = snapshot(x, dx);
    await expectError(() => k.call(x, 2), ArgumentError, "ARGUMENT", "argument 0", "i32 (pointer)");
    await expectError(() => autodiff(Forward, k, Duplicated(x, dx), Duplicated(2, 1)), ArgumentError, "ARGUMENT", "argument 0");
    await expectError(() => autodiff(Reverse, k, Const(x), Active(2)), ArgumentError, "ARGUMENT", "argument 0");
    same();
  });

  it("a non-integer number for an i32 parameter", async () => {
    const k = (await Program.fromWat(dotWat)).kernel("dot");
    const x = f64s(1, 2), y = f64s(3, 4), dx = f64s(0, 0);
    const same = snapshot(x, y, dx);
    await expectError(() => k.call(x, y, 1.5), ArgumentError, "ARGUMENT", "argument 2", "1.5");
    await expectError(() => autodiff(Reverse, k, Duplicated(x, dx), Const(y), Const(1.5)), ArgumentError, "ARGUMENT", "argument 2", "integer");
    same();
  });

  it("a string or an object where a number is expected", async () => {
    const k = (await Program.fromWat(mixWat)).kernel("scalar_mix");
    await expectError(() => k.call("1", 2), ArgumentError, "ARGUMENT", "argument 0");
    await expectError(() => k.call({}, 2), ArgumentError, "ARGUMENT", "argument 0");
    await expectError(() => Active(f64s(1) as unknown as number), ArgumentError, "ARGUMENT", "Active takes a number");
  });

  it("Active in forward mode", async () => {
    const k = (await Program.fromWat(mixWat)).kernel("scalar_mix");
    await expectError(() => autodiff(Forward, k, Active(1.3), Duplicated(0.7, 1)), ArgumentError, "ARGUMENT", "argument 0", "Active is for reverse mode");
    await expectError(() => autodiff(ForwardWithPrimal, k, Duplicated(1.3, 1), Active(0.7)), ArgumentError, "ARGUMENT", "argument 1", "Active");
  });

  it("a Duplicated scalar in reverse mode", async () => {
    const k = (await Program.fromWat(mixWat)).kernel("scalar_mix");
    await expectError(() => autodiff(Reverse, k, Duplicated(1.3, 1), Active(0.7)), ArgumentError, "ARGUMENT", "argument 0", "r.derivs");
    await expectError(() => autodiff(ReverseWithPrimal, k, Active(1.3), Duplicated(0.7, 1)), ArgumentError, "ARGUMENT", "argument 1");
  });

  it("annotated arguments in kernel.call", async () => {
    const k = (await Program.fromWat(mixWat)).kernel("scalar_mix");
    await expectError(() => k.call(Active(1.3), 0.7), ArgumentError, "ARGUMENT", "kernel.call takes plain values");
  });

  it("a shadow whose byte length differs from its buffer's", async () => {
    const k = (await Program.fromWat(dotWat)).kernel("dot");
    const x = f64s(1, 2, 3), y = f64s(4, 5, 6), dx = f64s(7, 8), dy = new Float32Array(3);
    const same = snapshot(x, y, dx, dy);
    await expectError(() => autodiff(Reverse, k, Duplicated(x, dx), Const(y), Const(3)), ArgumentError, "ARGUMENT", "argument 0", "16 bytes", "24");
    await expectError(() => autodiff(Forward, k, Const(x), Duplicated(y, dy), Const(3)), ArgumentError, "ARGUMENT", "argument 1", "12 bytes");
    await expectError(() => autodiff(Reverse, k, Duplicated(x, 1 as unknown as Float64Array), Const(y), Const(3)), ArgumentError, "ARGUMENT", "shadow");
    same();
  });

  it("the same ArrayBuffer in two positions with overlapping ranges is refused (aliasing)", async () => {
    const k = (await Program.fromWat(dotWat)).kernel("dot");
    const buf = f64s(1, 2, 3, 4, 5, 6, 7, 8), shadows = new Float64Array(8).fill(0.5);
    const same = snapshot(buf, shadows);
    await expectError(() => k.call(buf.subarray(0, 4), buf.subarray(2, 6), 4), ArgumentError, "ARGUMENT", "share memory");
    await expectError(() => k.call(buf, buf, 8), ArgumentError, "ARGUMENT", "share memory");
    await expectError(() => autodiff(Reverse, k, Duplicated(buf.subarray(0, 4), shadows.subarray(0, 4)), Duplicated(buf.subarray(3, 7), shadows.subarray(4, 8)), Const(4)),
      ArgumentError, "ARGUMENT", "share memory");
    // a buffer that is its own shadow, and two shadows that overlap
    await expectError(() => autodiff(Reverse, k, Duplicated(buf.subarray(0, 4), buf.subarray(0, 4)), Const(f64s(1, 1, 1, 1)), Const(4)), ArgumentError, "ARGUMENT", "share memory");
    await expectError(() => autodiff(Reverse, k, Duplicated(buf.subarray(0, 4), shadows.subarray(0, 4)), Duplicated(buf.subarray(4, 8), shadows.subarray(2, 6)), Const(4)),
      ArgumentError, "ARGUMENT", "share memory");
    same();
    // disjoint ranges of one ArrayBuffer are fine
    expect(k.call(buf.subarray(0, 4), buf.subarray(4, 8), 4)).toBe(1 * 5 + 2 * 6 + 3 * 7 + 4 * 8);
    const r = await autodiff(Reverse, k, Duplicated(buf.subarray(0, 4), shadows.subarray(0, 4)), Duplicated(buf.subarray(4, 8), shadows.subarray(4, 8)), Const(4));
    expect(r.derivs).toEqual([null, null, null]);
    expect(Array.from(shadows)).toEqual([5.5, 6.5, 7.5, 8.5, 1.5, 2.5, 3.5, 4.5]);
  });

  it("a kernel name that is not exported", async () => {
    const p = await Program.fromWat(kernelWat("calls.wat"));
    await expectError(() => p.kernel("norm2"), ArgumentError, "ARGUMENT", '"norm2"', "calls");
    await expectError(() => p.kernel("nope"), ArgumentError, "ARGUMENT", "no exported function");
  });

  it("a missing import", async () => {
    const wat = `(module
      (import "env" "foo" (func $foo (param f64) (result f64)))
      (func (export "f") (param $x f64) (result f64) (call $foo (local.get $x))))`;
    await expectError(() => Program.fromWat(wat), ArgumentError, "ARGUMENT", "env.foo", "options.imports");
    await expectError(() => Program.fromWat(wat, { imports: { env: {} } }), ArgumentError, "ARGUMENT", "env.foo");
    const p = await Program.fromWat(wat, { imports: { env: { foo: (x: number) => x + 1 } } });
    expect(p.kernel("f").call(2)).toBe(3);
  });

  it("bad mode or kernel passed to autodiff", async () => {
    const k = (await Program.fromWat(mixWat)).kernel("scalar_mix");
    await expectError(() => autodiff(undefined as never, k, Active(1), Active(2)), ArgumentError, "ARGUMENT", "mode");
    await expectError(() => autodiff(Reverse, {} as never, Active(1), Active(2)), ArgumentError, "ARGUMENT", "kernel");
  });

  it("a signature given to derivativeIR that does not fit the kernel", async () => {
    // heat(u, tmp, n: i32, a: f64, steps: i32) returns nothing: an active result used to give a module
    // that failed the IR verifier ("local 7 has invalid type undefined") instead of a message
    const p = await Program.fromWat(kernelWat("heat.wat"));
    const k = p.kernel("heat");
    const ok = { params: ["dup", "dup", "const", "active", "const"] as const, resultActive: false };
    expect(p.derivativeIR(k, "reverse", { ...ok, params: [...ok.params] }).functions.length).toBeGreaterThan(0);
    const bad = (sig: object, mode: "forward" | "reverse" = "reverse") => () => p.derivativeIR(k, mode, sig as never);
    await expectError(bad({ ...ok, params: [...ok.params], resultActive: true }), ArgumentError, "ARGUMENT", "derivativeIR(heat)", "resultActive", "returns nothing");
    await expectError(bad({ ...ok, params: [...ok.params], resultActive: true }, "forward"), ArgumentError, "ARGUMENT", "resultActive");
    await expectError(bad({ params: ["dup", "dup", "const"], resultActive: false }), ArgumentError, "ARGUMENT", "takes 5 parameters", "lists 3");
    await expectError(bad({ params: ["dup", "dup", "active", "active", "const"], resultActive: false }), ArgumentError, "ARGUMENT", "parameter 2 is i32", '"active"');
    await expectError(bad({ params: ["dup", "dup", "const", "dup", "const"], resultActive: false }), ArgumentError, "ARGUMENT", "parameter 3 is f64", '"dup"');
    await expectError(bad({ params: ["dup", "dup", "const", "bogus", "const"], resultActive: false }), ArgumentError, "ARGUMENT", "unknown activity");
    await expectError(bad({ params: ok.params }), ArgumentError, "ARGUMENT", "resultActive: boolean");
    await expectError(bad(ok, "sideways" as never), ArgumentError, "ARGUMENT", "mode");
  });
});

// ---------------------------------------------------------------- ActivityError

describe("ActivityError", () => {
  const STORE_WAT = `(module
    (memory (export "memory") 1)
    (func (export "square_into") (param $x f64) (param $out i32) (param $n i32)
      (f64.store (local.get $out) (f64.mul (local.get $x) (local.get $x)))))`;

  it("an active scalar stored into a Const buffer, in Reverse and Forward mode", async () => {
    const k = (await Program.fromWat(STORE_WAT)).kernel("square_into");
    const out = f64s(42);
    const same = snapshot(out);
    const e1 = await expectError(() => autodiff(Reverse, k, Active(3), Const(out), Const(1)), ActivityError, "ACTIVITY",
      "argument 1 is Const but receives active values", "pass it as Duplicated");
    same();
    const e2 = await expectError(() => autodiff(Forward, k, Duplicated(3, 1), Const(out), Const(1)), ActivityError, "ACTIVITY",
      "argument 1 is Const but receives active values", "pass it as Duplicated");
    same();
    expect(e1.message).toMatch(/f64\.store/);
    expect(e2.message).toMatch(/f64\.store/);
    // with out Duplicated, it works
    const dout = f64s(2);
    const r = await autodiff(Reverse, k, Active(3), Duplicated(out, dout), Const(1));
    expect(r.derivs[0]).toBe(2 * 2 * 3);
    expect(out[0]).toBe(9);
    expect(dout[0]).toBe(0);
  });

  it("a Const scratch buffer that receives values computed from a Duplicated one (heat with tmp Const)", async () => {
    const k = (await Program.fromWat(kernelWat("heat.wat"))).kernel("heat");
    const u = f64s(1, 2, 3, 4), du = f64s(1, 1, 1, 1), tmp = new Float64Array(4);
    const same = snapshot(u, du, tmp);
    await expectError(() => autodiff(Reverse, k, Duplicated(u, du), Const(tmp), Const(4), Const(0.1), Const(2)), ActivityError, "ACTIVITY", "argument 1", "Duplicated");
    await expectError(() => autodiff(Forward, k, Duplicated(u, du), Const(tmp), Const(4), Const(0.1), Const(2)), ActivityError, "ACTIVITY", "argument 1", "Duplicated");
    same();
  });
  it("an active value stored into a Const buffer by a callee names the kernel's argument", async () => {
    const wat = `(module
      (memory (export "memory") 1)
      (func $put (param $o i32) (param $v f64) (f64.store (local.get $o) (local.get $v)))
      (func (export "square_via_callee") (param $x f64) (param $out i32)
        (call $put (local.get $out) (f64.mul (local.get $x) (local.get $x)))))`;
    const k = (await Program.fromWat(wat)).kernel("square_via_callee");
    const out = f64s(7);
    const same = snapshot(out);
    // the user passed `out` as argument 1 of the kernel; the callee's parameter index (0) means nothing to them
    await expectError(() => autodiff(Reverse, k, Active(3), Const(out)), ActivityError, "ACTIVITY", /argument 1\b/, "pass it as Duplicated");
    await expectError(() => autodiff(Forward, k, Duplicated(3, 1), Const(out)), ActivityError, "ACTIVITY", /argument 1\b/);
    same();
  });

  it("an active value stored into the module's own memory (constant address)", async () => {
    const wat = `(module
      (memory (export "memory") 1)
      (func (export "to_data") (param $x f64) (result f64)
        (f64.store (i32.const 16) (f64.mul (local.get $x) (local.get $x)))
        (f64.load (i32.const 16))))`;
    const k = (await Program.fromWat(wat)).kernel("to_data");
    expect(k.call(3)).toBe(9);
    await expectError(() => autodiff(Reverse, k, Active(3)), ActivityError, "ACTIVITY", "Duplicated");
    await expectError(() => autodiff(Forward, k, Duplicated(3, 1)), ActivityError, "ACTIVITY", "Duplicated");
  });
});

// ---------------------------------------------------------------- UnsupportedError

describe("UnsupportedError", () => {
  it("f64 → i64 reinterpret of an active value (bits kept in a local)", async () => {
    const wat = `(module
      (func (export "bits") (param $x f64) (result f64) (local $b i64)
        (local.set $b (i64.reinterpret_f64 (f64.mul (local.get $x) (local.get $x))))
        (f64.add (local.get $x) (f64.convert_i64_s (i64.shr_u (local.get $b) (i64.const 52))))))`;
    const k = (await Program.fromWat(wat)).kernel("bits");
    expect(k.call(2)).toBe(2 + 1025);
    const e = await expectError(() => autodiff(Reverse, k, Active(2)), UnsupportedError, "UNSUPPORTED", "reinterpret", "bits of an active float");
    expect((e as UnsupportedError).instruction).toMatch(/reinterpret/);
    await expectError(() => autodiff(Forward, k, Duplicated(2, 1)), UnsupportedError, "UNSUPPORTED", "reinterpret");
    // on inactive data it is fine
    expect((await autodiff(ForwardWithPrimal, k, Const(2))).primal).toBe(2 + 1025);
  });

  it("f64 → i64 reinterpret of an active value inside the returned expression (fabs by bit masking)", async () => {
    // |x| computed on the bits: the true derivative is sign(x); a silent 0 would be a wrong derivative
    const wat = `(module
      (func (export "fabs_bits") (param $x f64) (result f64)
        (f64.reinterpret_i64 (i64.and (i64.reinterpret_f64 (local.get $x)) (i64.const 0x7fffffffffffffff))))
      (func (export "exponent") (param $x f64) (result f64)
        (f64.convert_i64_s (i64.shr_u (i64.reinterpret_f64 (f64.mul (local.get $x) (local.get $x))) (i64.const 52)))))`;
    const p = await Program.fromWat(wat);
    for (const name of ["fabs_bits", "exponent"]) {
      const k = p.kernel(name);
      await expectError(() => autodiff(Reverse, k, Active(-2.5)), UnsupportedError, "UNSUPPORTED", "reinterpret");
      await expectError(() => autodiff(Forward, k, Duplicated(-2.5, 1)), UnsupportedError, "UNSUPPORTED", "reinterpret");
    }
  });

  it("an import (not from Math) called with active arguments", async () => {
    const wat = `(module
      (import "env" "f" (func $f (param f64) (result f64)))
      (func (export "g") (param $x f64) (param $c f64) (result f64)
        (f64.add (call $f (local.get $x)) (f64.mul (local.get $c) (call $f (local.get $c))))))`;
    const p = await Program.fromWat(wat, { imports: { env: { f: (x: number) => 2 * x } } });
    const k = p.kernel("g");
    expect(k.call(1, 3)).toBe(2 + 18);
    const e = await expectError(() => autodiff(Reverse, k, Active(1), Const(3)), UnsupportedError, "UNSUPPORTED", "env.f", "no derivative rule");
    expect((e as UnsupportedError).func).toBeTruthy();
    await expectError(() => autodiff(Forward, k, Duplicated(1, 1), Const(3)), UnsupportedError, "UNSUPPORTED", "env.f");
    // the import on inactive data only: c Active is used outside the call, x is Const
    await expectError(() => autodiff(Reverse, k, Const(1), Active(3)), UnsupportedError, "UNSUPPORTED", "env.f");
  });

  it("an import on inactive data only is fine", async () => {
    const wat = `(module
      (import "env" "f" (func $f (param f64) (result f64)))
      (func (export "g") (param $x f64) (param $c f64) (result f64)
        (f64.mul (local.get $x) (call $f (local.get $c)))))`;
    const k = (await Program.fromWat(wat, { imports: { env: { f: (x: number) => 2 * x } } })).kernel("g");
    const r = await autodiff(ReverseWithPrimal, k, Active(1.5), Const(3));
    expect(r.primal).toBe(9);
    expect(r.derivs).toEqual([6, null]);
  });

  it("call_indirect with active arguments: a table holding an import, or an imported table", async () => {
    // (call_indirect on the active path through the module's own functions is supported: see the last test here)
    const withImport = `(module
      (import "env" "f" (func $f (param f64) (result f64)))
      (type $ff (func (param f64) (result f64)))
      (table 2 funcref)
      (elem (i32.const 0) $sq $f)
      (func $sq (param f64) (result f64) (f64.mul (local.get 0) (local.get 0)))
      (func (export "ind") (param $x f64) (param $i i32) (result f64) (call_indirect (type $ff) (local.get $x) (local.get $i))))`;
    const k = (await Program.fromWat(withImport, { imports: { env: { f: (x: number) => 3 * x } } })).kernel("ind");
    expect(k.call(3, 0)).toBe(9);
    expect(k.call(3, 1)).toBe(9);
    await expectError(() => autodiff(Reverse, k, Active(3), Const(0)), UnsupportedError, "UNSUPPORTED", "call_indirect", "env.f");
    await expectError(() => autodiff(Forward, k, Duplicated(3, 1), Const(0)), UnsupportedError, "UNSUPPORTED", "call_indirect", "env.f");

    const importedTable = `(module
      (import "env" "tab" (table 1 funcref))
      (type $ff (func (param f64) (result f64)))
      (func (export "ind") (param $x f64) (result f64) (call_indirect (type $ff) (local.get $x) (i32.const 0))))`;
    const helper: WebAssembly.WebAssemblyInstantiatedSource = await WebAssembly.instantiate(await wat2wasm(`(module (func (export "sq") (param f64) (result f64) (f64.mul (local.get 0) (local.get 0))))`));
    const tab = new WebAssembly.Table({ initial: 1, element: "anyfunc" });
    tab.set(0, helper.instance.exports.sq as () => void);
    const k2 = (await Program.fromWat(importedTable, { imports: { env: { tab } } })).kernel("ind");
    expect(k2.call(3)).toBe(9);
    await expectError(() => autodiff(Reverse, k2, Active(3)), UnsupportedError, "UNSUPPORTED", "call_indirect", "imported");
    await expectError(() => autodiff(Forward, k2, Duplicated(3, 1)), UnsupportedError, "UNSUPPORTED", "call_indirect");
  });

  it("call_indirect with active arguments into the module's own functions is differentiated", async () => {
    const wat = `(module
      (type $ff (func (param f64) (result f64)))
      (table 2 funcref)
      (elem (i32.const 0) $sq $cube)
      (func $sq (param f64) (result f64) (f64.mul (local.get 0) (local.get 0)))
      (func $cube (param f64) (result f64) (f64.mul (local.get 0) (f64.mul (local.get 0) (local.get 0))))
      (func (export "ind") (param $x f64) (param $i i32) (result f64) (call_indirect (type $ff) (local.get $x) (local.get $i))))`;
    const k = (await Program.fromWat(wat)).kernel("ind");
    expect((await autodiff(ReverseWithPrimal, k, Active(3), Const(0)))).toMatchObject({ primal: 9, derivs: [6, null] });
    expect((await autodiff(ReverseWithPrimal, k, Active(3), Const(1)))).toMatchObject({ primal: 27, derivs: [27, null] });
    expect((await autodiff(ForwardWithPrimal, k, Duplicated(3, 2), Const(1)))).toMatchObject({ primal: 27, tangent: 54 });
  });

  it("storing an active value into a mutable global", async () => {
    const wat = `(module
      (global $last (mut f64) (f64.const 0))
      (func (export "keep") (param $x f64) (result f64)
        (global.set $last (f64.mul (local.get $x) (f64.const 2)))
        (f64.mul (local.get $x) (local.get $x))))`;
    const k = (await Program.fromWat(wat)).kernel("keep");
    expect(k.call(3)).toBe(9);
    await expectError(() => autodiff(Reverse, k, Active(3)), UnsupportedError, "UNSUPPORTED", "global.set", "global");
    await expectError(() => autodiff(Forward, k, Duplicated(3, 1)), UnsupportedError, "UNSUPPORTED", "global.set");
  });
});

// ---------------------------------------------------------------- TrapError

describe("TrapError", () => {
  // doubles x[i] in place; traps (unreachable) at the first negative element
  const TRAP_WAT = `(module
    (memory (export "memory") 1)
    (func (export "double_pos") (param $x i32) (param $n i32) (result f64)
      (local $i i32) (local $v f64) (local $s f64)
      (block $done
        (loop $next
          (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
          (local.set $v (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))
          (f64.store (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))) (f64.mul (local.get $v) (f64.const 2)))
          (if (f64.lt (local.get $v) (f64.const 0)) (then unreachable))
          (local.set $s (f64.add (local.get $s) (f64.mul (local.get $v) (local.get $v))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next)))
      (local.get $s))
    (func (export "load_at") (param $x i32) (param $i i32) (result f64)
      (f64.mul (f64.load (local.get $x)) (f64.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3)))))))`;

  it("unreachable on a negative input: kernel.call and autodiff(Reverse) leave buffers and shadows unchanged", async () => {
    const p = await Program.fromWat(TRAP_WAT);
    const k = p.kernel("double_pos");
    const x = f64s(1, 2, -3, 4), dx = f64s(0.5, 0.25, 0.125, 1);
    const same = snapshot(x, dx);
    await expectError(() => k.call(x, 4), TrapError, "TRAP", "double_pos", "unreachable");
    same();
    await expectError(() => autodiff(Reverse, k, Duplicated(x, dx), Const(4)), TrapError, "TRAP", "double_pos");
    same();
    await expectError(() => autodiff(ReverseWithPrimal, k, Duplicated(x, dx), Const(4)), TrapError, "TRAP");
    same();
    await expectError(() => autodiff(Forward, k, Duplicated(x, dx), Const(4)), TrapError, "TRAP");
    same();
    // the program is still usable after a trap: plain and derivative calls give the right answers
    const y = f64s(1, 2, 3), dy = f64s(0, 0, 0);
    expect(k.call(y.slice(), 3)).toBe(14);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(y, dy), Const(3));
    expect(r.primal).toBe(14);
    expect(Array.from(y)).toEqual([2, 4, 6]);
    // y_final = 2 y0 (seed 0) and ret = Σ y0²: dy = 2 y0
    expect(Array.from(dy)).toEqual([2, 4, 6]);
  });

  it("an out-of-bounds load: kernel.call and autodiff(Reverse) leave buffers and shadows unchanged", async () => {
    const p = await Program.fromWat(TRAP_WAT);
    const k = p.kernel("load_at");
    const x = f64s(3, 5), dx = f64s(1, 2);
    const same = snapshot(x, dx);
    const far = 1 << 28; // 2 GiB past x
    await expectError(() => k.call(x, far), TrapError, "TRAP", "load_at", /out of bounds/i);
    same();
    await expectError(() => autodiff(Reverse, k, Duplicated(x, dx), Const(far)), TrapError, "TRAP", "load_at");
    same();
    await expectError(() => autodiff(Forward, k, Duplicated(x, dx), Const(far)), TrapError, "TRAP");
    same();
    await expectError(() => k.call(x, -(1 << 20)), TrapError, "TRAP");
    same();
    expect(k.call(x, 1)).toBe(15);
    const r = await autodiff(Reverse, k, Duplicated(x, dx), Const(1));
    expect(Array.from(dx)).toEqual([1 + 5, 2 + 3]);
    expect(r.derivs).toEqual([null, null]);
  });
});

// ---------------------------------------------------------------- memory limits

describe("memory limits", () => {
  const dotWat = kernelWat("dot.wat");
  const heatWat = kernelWat("heat.wat");

  it("reverse mode works on a module that declares a small memory maximum when the tape fits", async () => {
    const p = await Program.fromWat(dotWat.replace('(memory (export "memory") 1)', '(memory (export "memory") 1 2)'));
    const k = p.kernel("dot");
    expect(k.call(f64s(1, 2), f64s(3, 4), 2)).toBe(11);
    const dx = f64s(0, 0);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(f64s(1, 2), dx), Const(f64s(3, 4)), Const(2));
    expect(r.primal).toBe(11);
    expect(Array.from(dx)).toEqual([3, 4]);
  });

  it("buffers that do not fit under the declared maximum: an AutodiffError (TrapError), arrays unchanged", async () => {
    const p = await Program.fromWat(dotWat.replace('(memory (export "memory") 1)', '(memory (export "memory") 1 2)'));
    const k = p.kernel("dot");
    const x = new Float64Array(20000).fill(1), y = new Float64Array(20000).fill(2);
    const same = snapshot(x, y);
    await expectError(() => k.call(x, y, 20000), TrapError, "TRAP", "memory");
    same();
  });

  it("a tape that exhausts the declared maximum traps; arrays unchanged, the program stays usable", async () => {
    const p = await Program.fromWat(heatWat.replace('(memory (export "memory") 1)', '(memory (export "memory") 1 20)'));
    const k = p.kernel("heat");
    const n = 64;
    const u = new Float64Array(n).fill(1), du = new Float64Array(n).fill(1), tmp = new Float64Array(n), dtmp = new Float64Array(n);
    const same = snapshot(u, du, tmp, dtmp);
    await expectError(() => autodiff(Reverse, k, Duplicated(u, du), Duplicated(tmp, dtmp), Const(n), Active(0.1), Const(5000)), TrapError, "TRAP", "heat");
    same();
    // 2 steps of u ≡ 1 with zero boundaries, seed 1 everywhere: only the boundary cells lose mass
    const r = await autodiff(Reverse, k, Duplicated(u, du), Duplicated(tmp, dtmp), Const(n), Active(0.1), Const(2));
    expect(r.derivs[3]).toBeCloseTo(-3.6, 12);
  });
});

// ---------------------------------------------------------------- non-finite values

describe("NaN and Inf propagate without exceptions", () => {
  it("sqrt of a negative number: NaN primal and NaN derivative", async () => {
    const wat = `(module (func (export "root") (param $x f64) (result f64) (f64.sqrt (local.get $x))))`;
    const k = (await Program.fromWat(wat)).kernel("root");
    expect(k.call(-1)).toBeNaN();
    const r = await autodiff(ReverseWithPrimal, k, Active(-1));
    expect(r.primal).toBeNaN();
    expect(r.derivs[0]).toBeNaN();
    const f = await autodiff(ForwardWithPrimal, k, Duplicated(-1, 1));
    expect(f.primal).toBeNaN();
    expect(f.tangent).toBeNaN();
    // sqrt at 0: derivative +Inf, no exception
    expect((await autodiff(Reverse, k, Active(0))).derivs[0]).toBe(Infinity);
  });

  it("Inf and NaN in buffers (dot)", async () => {
    const k = (await Program.fromWat(kernelWat("dot.wat"))).kernel("dot");
    const x = f64s(Infinity, 1, NaN), y = f64s(2, -0, 3), dx = new Float64Array(3), dy = new Float64Array(3);
    const r = await autodiff(ReverseWithPrimal, k, Duplicated(x, dx), Duplicated(y, dy), Const(3));
    expect(r.primal).toBeNaN();
    expect(Array.from(dx)).toEqual([2, 0, 3]); // 0 + (-0) = +0: the shadow started at zero
    expect(dy[0]).toBe(Infinity);
    expect(dy[1]).toBe(1);
    expect(dy[2]).toBeNaN();
    const f = await autodiff(Forward, k, Duplicated(f64s(1, 2, 3), f64s(Infinity, 0, 0)), Const(f64s(1, 1, 1)), Const(3));
    expect(f.tangent).toBe(Infinity);
  });
});
