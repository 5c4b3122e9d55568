// Differential test of the lifter and the backend: every conformance kernel (.wat) is
// compiled directly with wabt and run with the plain WebAssembly API, and compared with
// Program.fromWat (wabt → binaryen → IR → binaryen → Wasm) + kernel.call on random inputs:
// results and buffer contents must be identical (Object.is per element).
// Also: what liftModule keeps of a module, and what it refuses.
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import wabtInit from "wabt";
import { describe, expect, it } from "vitest";
import { ParseError, Program } from "../../src/index.js";
import { liftModule, readWasm } from "../../src/frontend/lift.js";
import type { IRModule } from "../../src/ir/types.js";

const KERNELS = new URL("../kernels/", import.meta.url);

const wabtP = wabtInit();
const FEATURES = { mutable_globals: true, sat_float_to_int: true, sign_extension: true, multi_value: true, bulk_memory: true };
async function wat2wasm(text: string, features: Record<string, boolean> = FEATURES, validate = true): Promise<Uint8Array<ArrayBuffer>> {
  const wabt = await wabtP;
  const m = wabt.parseWat("t.wat", text, features);
  try {
    m.resolveNames();
    // wabt's validate() ignores the features for shared memories; WebAssembly.validate checks those modules instead
    if (validate) m.validate();
    return Uint8Array.from(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}

function lift(bytes: Uint8Array): IRModule {
  const m = readWasm(bytes);
  try {
    return liftModule(m);
  } finally {
    m.dispose();
  }
}

// ---------------------------------------------------------------- argument generators

/** One argument: a scalar, or a typed array the kernel receives by address. */
type Arg = number | bigint | Float64Array | Float32Array;

const anyF64 = fc.double(); // includes ±0, ±Inf, NaN, subnormals
const smallF64 = fc.double({ min: -4, max: 4, noNaN: true });
const f64Array = (n: number, el = anyF64) => fc.array(el, { minLength: n, maxLength: n }).map((a) => Float64Array.from(a));
const f32Array = (n: number) => fc.array(fc.float(), { minLength: n, maxLength: n }).map((a) => Float32Array.from(a));
/** n points {x: f64, y: f64, id: i32, pad: i32} with 24-byte stride, as one Float64Array. */
const points = (n: number) =>
  fc.array(fc.tuple(anyF64, anyF64, fc.integer()), { minLength: n, maxLength: n }).map((ps) => {
    const f = new Float64Array(3 * n), ints = new Int32Array(f.buffer);
    ps.forEach(([x, y, id], i) => { f[3 * i] = x; f[3 * i + 1] = y; ints[6 * i + 4] = id; ints[6 * i + 5] = 0; });
    return f;
  });
const withN = (min: number, max: number, f: (n: number) => fc.Arbitrary<Arg[]>) => fc.integer({ min, max }).chain(f);

/** Arguments per conformance kernel (by export name): every buffer has the length the kernel indexes. */
const ARGS: Record<string, fc.Arbitrary<Arg[]>> = {
  calls: fc.tuple(anyF64, anyF64),
  dot: withN(0, 12, (n) => fc.tuple(f64Array(n), f64Array(n), fc.constant(n))),
  heat: withN(0, 10, (n) => fc.tuple(f64Array(n, smallF64), f64Array(n), fc.constant(n), smallF64, fc.integer({ min: 0, max: 6 }))),
  horner: withN(1, 10, (n) => fc.tuple(f64Array(n), fc.constant(n), anyF64)),
  logsumexp: withN(0, 12, (n) => fc.tuple(f64Array(n), fc.constant(n))),
  newton_sqrt: fc.tuple(anyF64),
  piecewise: withN(0, 12, (n) => fc.tuple(f64Array(n), fc.constant(n))),
  points_stride: withN(0, 6, (n) => fc.tuple(points(n), fc.constant(n), f64Array(2))),
  saxpy_f32: withN(0, 12, (n) => fc.tuple(fc.float(), f32Array(n), f32Array(n), fc.constant(n))),
  scalar_mix: fc.tuple(anyF64, anyF64),
  seed_matvec: fc.tuple(f64Array(2), f64Array(1)),
};

// ---------------------------------------------------------------- the reference: plain WebAssembly

const copyArg = (a: Arg): Arg => (ArrayBuffer.isView(a) ? (a.slice() as Arg) : a);
const sameValue = (a: unknown, b: unknown) => Object.is(a, b);

/** Calls an export of a directly instantiated module, placing buffers as the runtime does (64-byte aligned, above the initial memory). */
function referenceCall(instance: WebAssembly.Instance, name: string, args: Arg[]): { result: unknown; buffers: Arg[] } {
  const memory = Object.values(instance.exports).find((x) => x instanceof WebAssembly.Memory) as WebAssembly.Memory | undefined;
  const buffers = args.map(copyArg);
  const views = buffers.filter((a): a is Float64Array | Float32Array => ArrayBuffer.isView(a));
  if (views.length && !memory) throw new Error(`${name}: buffers for a module without exported memory`);
  const addresses = new Map<ArrayBufferView, number>();
  if (memory) {
    let top = Math.max(64, Math.ceil(memory.buffer.byteLength / 64) * 64);
    for (const v of views) { addresses.set(v, top); top = Math.ceil((top + v.byteLength) / 64) * 64; }
    if (top > memory.buffer.byteLength) memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536));
    for (const v of views) new Uint8Array(memory.buffer, addresses.get(v)!, v.byteLength).set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  const f = instance.exports[name] as (...a: unknown[]) => unknown;
  const result = f(...buffers.map((a) => (ArrayBuffer.isView(a) ? addresses.get(a)! : a)));
  for (const v of views) new Uint8Array(v.buffer, v.byteOffset, v.byteLength).set(new Uint8Array(memory!.buffer, addresses.get(v)!, v.byteLength));
  return { result, buffers };
}

function expectIdentical(got: { result: unknown; buffers: Arg[] }, want: { result: unknown; buffers: Arg[] }, what: string) {
  if (!sameValue(got.result, want.result)) expect.fail(`${what}: result ${String(got.result)} !== reference ${String(want.result)}`);
  got.buffers.forEach((b, i) => {
    const w = want.buffers[i];
    if (!ArrayBuffer.isView(b)) return;
    const ga = Array.from(b as Float64Array), wa = Array.from(w as Float64Array);
    ga.forEach((v, j) => { if (!sameValue(v, wa[j])) expect.fail(`${what}: argument ${i}[${j}] = ${v}, reference ${wa[j]}`); });
  });
}

// ---------------------------------------------------------------- the differential test

const watFiles = readdirSync(KERNELS).filter((f) => f.endsWith(".wat")).sort();

describe("lifter + backend against direct WebAssembly (conformance kernels)", () => {
  it("finds the conformance kernels", () => {
    expect(watFiles.length).toBeGreaterThanOrEqual(10);
  });

  for (const file of watFiles) {
    it(file, async () => {
      const text = readFileSync(new URL(file, KERNELS), "utf8");
      const bytes = await wat2wasm(text);
      const { instance }: WebAssembly.WebAssemblyInstantiatedSource = await WebAssembly.instantiate(bytes, { Math: { ...Object.fromEntries(Object.getOwnPropertyNames(Math).map((k) => [k, (Math as unknown as Record<string, unknown>)[k]])) } } as WebAssembly.Imports);
      const program = await Program.fromWat(text);
      const exported = program.ir.exports.filter((e) => e.kind === "function").map((e) => e.name);
      expect(exported.length).toBeGreaterThan(0);
      for (const name of exported) {
        const arb = ARGS[name];
        if (!arb) expect.fail(`${file}: no argument generator for export ${name}; add one to ARGS`);
        const kernel = program.kernel(name);
        fc.assert(
          fc.property(arb, (args) => {
            const want = referenceCall(instance, name, args);
            const buffers = args.map(copyArg);
            const result = kernel.call(...buffers);
            expectIdentical({ result, buffers }, want, `${file} ${name}`);
          }),
          { numRuns: 60, seed: 20240601 },
        );
      }
    });
  }

  it("the same holds for a module given as bytes (Program.fromWasm)", async () => {
    const text = readFileSync(new URL("horner.wat", KERNELS), "utf8");
    const bytes = await wat2wasm(text);
    const { instance }: WebAssembly.WebAssemblyInstantiatedSource = await WebAssembly.instantiate(bytes);
    const k = (await Program.fromWasm(bytes)).kernel("horner");
    const k2 = (await Program.fromWasm(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer)).kernel("horner");
    fc.assert(fc.property(ARGS.horner, (args) => {
      const want = referenceCall(instance, "horner", args);
      for (const kk of [k, k2]) {
        const buffers = args.map(copyArg);
        expectIdentical({ result: kk.call(...buffers), buffers }, want, "horner via fromWasm");
      }
    }), { numRuns: 30, seed: 7 });
  });
});

// ---------------------------------------------------------------- what the lifter keeps

describe("liftModule keeps the module's structure", () => {
  const FULL_WAT = `(module
    (import "env" "g_in" (global $g_in i32))
    (import "Math" "sin" (func $sin (param f64) (result f64)))
    (type $ff (func (param f64) (result f64)))
    (memory (export "mem") 2 5)
    (table $t (export "tab") 3 7 funcref)
    (elem (i32.const 1) $sq $cube)
    (global $count (mut i32) (i32.const 4))
    (global $scale f64 (f64.const 2.5))
    (global $big (mut i64) (i64.const -9007199254740993))
    (global $half (export "half") f32 (f32.const 0.5))
    (data (i32.const 16) "\\01\\02\\03\\04")
    (data (i32.const 1024) "hello")
    (data $passive "xyz")
    (func $sq (type $ff) (f64.mul (local.get 0) (local.get 0)))
    (func $cube (type $ff) (f64.mul (local.get 0) (call $sq (local.get 0))))
    (func $init (global.set $count (i32.add (global.get $count) (global.get $g_in))))
    (start $init)
    (func (export "apply") (param $x f64) (param $which i32) (result f64)
      (f64.mul (global.get $scale) (call_indirect (type $ff) (call $sin (local.get $x)) (local.get $which))))
    (export "count" (global $count)))`;

  it("keeps tables and element segments, data segments, globals, imports, exports and the start function", async () => {
    const ir = lift(await wat2wasm(FULL_WAT));
    // memory
    expect(ir.memory).toMatchObject({ initial: 2, maximum: 5, exportName: "mem" });
    // table and its element segment, by function name
    expect(ir.tables).toHaveLength(1);
    const t = ir.tables[0];
    expect(t).toMatchObject({ initial: 3, maximum: 7 });
    expect(t.segments).toHaveLength(1);
    expect(t.segments[0].offset).toBe(1);
    expect(t.segments[0].funcs).toHaveLength(2);
    const fnNames = ir.functions.map((f) => f.name);
    for (const f of t.segments[0].funcs) expect(fnNames).toContain(f);
    const sq = ir.functions.find((f) => f.name === t.segments[0].funcs[0])!;
    expect(sq.params).toEqual(["f64"]);
    expect(sq.results).toEqual(["f64"]);
    // data segments: two active with constant offsets, one passive
    expect(ir.data).toHaveLength(3);
    expect(ir.data[0].offset).toBe(16);
    expect(Array.from(ir.data[0].bytes)).toEqual([1, 2, 3, 4]);
    expect(ir.data[1].offset).toBe(1024);
    expect(new TextDecoder().decode(ir.data[1].bytes)).toBe("hello");
    expect(ir.data[2].offset).toBeNull();
    expect(new TextDecoder().decode(ir.data[2].bytes)).toBe("xyz");
    // globals: imported, mutable/immutable, every type, with initialisers
    expect(ir.globals).toHaveLength(5);
    const byType = (ty: string) => ir.globals.filter((g) => g.type === ty);
    const gIn = ir.globals.find((g) => g.import)!;
    expect(gIn.import).toEqual({ module: "env", base: "g_in" });
    expect(gIn.mutable).toBe(false);
    const count = byType("i32").find((g) => !g.import)!;
    expect(count).toMatchObject({ mutable: true, init: { kind: "const", type: "i32", value: 4 } });
    expect(byType("f64")[0]).toMatchObject({ mutable: false, init: { value: 2.5 } });
    expect(byType("i64")[0]).toMatchObject({ mutable: true, init: { type: "i64", value: -9007199254740993n } });
    expect(byType("f32")[0]).toMatchObject({ mutable: false, init: { value: 0.5 } });
    // imports
    const sin = ir.functions.find((f) => f.import)!;
    expect(sin.import).toEqual({ module: "Math", base: "sin" });
    expect(sin.body).toBeNull();
    // exports of every kind, pointing at existing things
    const kinds = Object.fromEntries(ir.exports.map((e) => [e.name, e.kind]));
    expect(kinds).toEqual({ mem: "memory", tab: "table", half: "global", apply: "function", count: "global" });
    const apply = ir.exports.find((e) => e.name === "apply")!;
    expect(fnNames).toContain(apply.target);
    expect(ir.globals.map((g) => g.name)).toContain(ir.exports.find((e) => e.name === "count")!.target);
    expect(ir.tables.map((x) => x.name)).toContain(ir.exports.find((e) => e.name === "tab")!.target);
    // start function
    expect(ir.start).not.toBeNull();
    expect(fnNames).toContain(ir.start);
    // the function bodies use the constructs
    const applyFn = ir.functions.find((f) => f.name === apply.target)!;
    const kinds2 = new Set<string>();
    const walk = (e: unknown): void => {
      if (!e || typeof e !== "object") return;
      if ("kind" in (e as object)) kinds2.add((e as { kind: string }).kind);
      for (const v of Object.values(e as object)) if (Array.isArray(v)) v.forEach(walk); else if (v && typeof v === "object") walk(v);
    };
    walk(applyFn.body);
    expect(kinds2).toContain("call_indirect");
    expect(kinds2).toContain("global.get");
    expect(kinds2).toContain("call");
  });

  it("the lifted module runs as the original: start function, data, table and globals (Program)", async () => {
    const p = await Program.fromWat(FULL_WAT, { imports: { env: { g_in: 10 } } });
    const apply = p.kernel("apply");
    // table slot 1 = sq, slot 2 = cube
    expect(apply.call(0.5, 1)).toBe(2.5 * Math.sin(0.5) ** 2);
    expect(apply.call(0.5, 2)).toBe(2.5 * (Math.sin(0.5) * (Math.sin(0.5) * Math.sin(0.5))));
    const mem = new Uint8Array(p.memory.buffer);
    expect(Array.from(mem.subarray(16, 20))).toEqual([1, 2, 3, 4]);
    expect(new TextDecoder().decode(mem.subarray(1024, 1029))).toBe("hello");
    // the start function ran once: count = 4 + g_in
    const count = p.instance.exports.count as WebAssembly.Global;
    expect(count.value).toBe(14);
  });
});

// ---------------------------------------------------------------- what the lifter refuses

describe("liftModule refuses what it does not support", () => {
  it("SIMD (v128)", async () => {
    const wat = `(module
      (func (export "splat_sum") (param $x f64) (result f64)
        (f64x2.extract_lane 0 (f64x2.add (f64x2.splat (local.get $x)) (f64x2.splat (local.get $x))))))`;
    const bytes = await wat2wasm(wat, { ...FEATURES, simd: true });
    expect(WebAssembly.validate(bytes)).toBe(true);
    expect(() => lift(bytes)).toThrow(ParseError);
    await expect(Program.fromWasm(bytes)).rejects.toBeInstanceOf(ParseError);
    await expect(Program.fromWasm(bytes)).rejects.toMatchObject({ code: "PARSE" });
  });

  it("SIMD in a local's or a parameter's type only", async () => {
    for (const wat of [
      `(module (func (export "f") (param $x f64) (result f64) (local $v v128) (local.get $x)))`,
      `(module (func (export "f") (param $x f64) (param $v v128) (result f64) (local.get $x)))`,
    ]) {
      const bytes = await wat2wasm(wat, { ...FEATURES, simd: true });
      expect(WebAssembly.validate(bytes)).toBe(true);
      expect(() => lift(bytes)).toThrow(ParseError);
      await expect(Program.fromWasm(bytes)).rejects.toMatchObject({ code: "PARSE" });
    }
  });

  it("an atomic load on shared memory", async () => {
    const wat = `(module
      (memory (export "memory") 1 1 shared)
      (func (export "get") (param $p i32) (result i32) (i32.atomic.load (local.get $p))))`;
    const bytes = await wat2wasm(wat, { ...FEATURES, threads: true }, false);
    expect(WebAssembly.validate(bytes)).toBe(true);
    expect(() => lift(bytes)).toThrow(ParseError);
  });

  it("atomics (threads)", async () => {
    const wat = `(module
      (memory (export "memory") 1 1 shared)
      (func (export "bump") (param $p i32) (result i32)
        (i32.atomic.rmw.add (local.get $p) (i32.const 1))))`;
    const bytes = await wat2wasm(wat, { ...FEATURES, threads: true }, false);
    expect(WebAssembly.validate(bytes)).toBe(true);
    expect(() => lift(bytes)).toThrow(ParseError);
    await expect(Program.fromWasm(bytes)).rejects.toMatchObject({ code: "PARSE" });
  });

  it("an atomic load on unshared memory", async () => {
    const wat = `(module
      (memory (export "memory") 1 1)
      (func (export "get") (param $p i32) (result i32) (i32.atomic.load (local.get $p))))`;
    const bytes = await wat2wasm(wat, { ...FEATURES, threads: true });
    expect(() => lift(bytes)).toThrow(ParseError);
  });

  it("the lifter still works after refusing (binaryen is not left broken)", async () => {
    const ir = lift(await wat2wasm(readFileSync(new URL("dot.wat", KERNELS), "utf8")));
    expect(ir.exports.map((e) => e.name)).toContain("dot");
    const k = (await Program.fromWat(readFileSync(new URL("dot.wat", KERNELS), "utf8"))).kernel("dot");
    expect(k.call(Float64Array.of(1, 2), Float64Array.of(3, 4), 2)).toBe(11);
  });
});
