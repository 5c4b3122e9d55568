import { describe, it, expect } from "vitest";
import wabtInit from "wabt";
import { ArgumentError, TrapError } from "../../src/errors.js";
import { binaryOps, unaryOps } from "../../src/ir/ops.js";
import { binary, block, br, call, f64, get, i32, konst, load, set, store, unary } from "../../src/ir/builder.js";
import { Interpreter } from "../../src/ir/interp.js";
import { verifyModule } from "../../src/ir/verify.js";
import type { CfgBody, Expr, IRFunction, IRModule, Type, ValType } from "../../src/ir/types.js";

const mkFn = (name: string, params: ValType[], results: ValType[], extra: ValType[], body: IRFunction["body"]): IRFunction =>
  ({ name, params, results, locals: [...params, ...extra], body });
const mkMod = (functions: IRFunction[], over: Partial<IRModule> = {}): IRModule =>
  ({ functions, globals: [], memory: { initial: 1, maximum: 4 }, data: [], tables: [], exports: [], start: null, ...over });
const loop = (label: string, body: Expr, type: Type = "none"): Expr => ({ kind: "loop", type, label, body });
const ret = (value: Expr | null): Expr => ({ kind: "return", type: "unreachable", value });
const i64 = (v: bigint) => konst("i64", v);
const f32 = (v: number) => konst("f32", v);
const un = unary, bin = binary;

/** Evaluates a closed expression of a value type in a fresh module (verified first). */
function run(e: Expr, over: Partial<IRModule> = {}): number | bigint {
  const mod = mkMod([mkFn("f", [], [e.type as ValType], [], e)], over);
  verifyModule(mod);
  return new Interpreter(mod).call("f", [])[0];
}

const sumFn = (): IRFunction => mkFn("sum", ["i32", "i32"], ["f64"], ["f64", "i32"], block([
  block([
    loop("L", block([
      br("exit", bin("i32.ge_s", get(3, "i32"), get(1, "i32"))),
      set(2, bin("f64.add", get(2, "f64"), load("f64.load", bin("i32.add", get(0, "i32"), bin("i32.shl", get(3, "i32"), i32(3)))))),
      set(3, bin("i32.add", get(3, "i32"), i32(1))),
      br("L"),
    ])),
  ], "exit"),
  get(2, "f64"),
], null, "f64"));

describe("Interpreter: control flow and memory", () => {
  it("sums an f64 array from memory", () => {
    const mod = mkMod([sumFn()]);
    verifyModule(mod);
    const it = new Interpreter(mod);
    const xs = [1.5, -2.25, 3.125, 1e-3, 7];
    xs.forEach((x, k) => it.memory.setFloat64(64 + 8 * k, x, true));
    let want = 0;
    for (const x of xs) want += x;
    expect(it.call("sum", [64, xs.length])).toEqual([want]);
  });

  it("runs ~1e5 loop iterations quickly", () => {
    const it = new Interpreter(mkMod([sumFn()], { memory: { initial: 16, maximum: null } }));
    const n = 100000;
    for (let k = 0; k < n; k++) it.memory.setFloat64(8 * k, k % 7, true);
    let want = 0;
    for (let k = 0; k < n; k++) want += k % 7;
    const t0 = Date.now();
    expect(it.call("sum", [0, n])[0]).toBe(want);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("br_table in nested blocks", () => {
    const fn = mkFn("sw", ["i32"], ["i32"], [], block([
      block([
        block([
          block([{ kind: "br_table", type: "unreachable", labels: ["b0", "b1"], default: "b2", index: get(0, "i32"), value: null }], "b0"),
          ret(i32(10)),
        ], "b1"),
        ret(i32(20)),
      ], "b2"),
      i32(30),
    ], null, "i32"));
    const it = new Interpreter(mkMod([fn]));
    expect([0, 1, 2, -1].map(k => it.call("sw", [k])[0])).toEqual([10, 20, 30, 30]);
  });

  it("if/else with a result, br with a value, and select", () => {
    const fn = mkFn("f", ["i32"], ["f64"], [], block([
      { kind: "drop", type: "none", value: { kind: "br", type: "f64", label: "out", cond: bin("i32.eq", get(0, "i32"), i32(7)), value: f64(70) } },
      { kind: "if", type: "f64", cond: get(0, "i32"), then: { kind: "select", type: "f64", cond: bin("i32.gt_s", get(0, "i32"), i32(5)), ifTrue: f64(6), ifFalse: f64(5) }, else: f64(-1) },
    ], "out", "f64"));
    const it = new Interpreter(mkMod([fn]));
    expect([0, 3, 7, 9].map(k => it.call("f", [k])[0])).toEqual([-1, 5, 70, 6]);
  });

  it("runs a CFG body loop with edge code", () => {
    const body: CfgBody = { kind: "cfg", entry: 0, blocks: [
      { id: 0, body: [set(1, i32(0)), set(2, i32(0))], exit: { kind: "goto", edge: { target: 1, code: [] } } },
      { id: 1, body: [], exit: { kind: "branch", cond: bin("i32.lt_s", get(1, "i32"), get(0, "i32")), then: { target: 2, code: [] }, else: { target: 3, code: [] } } },
      { id: 2, body: [set(2, bin("i32.add", get(2, "i32"), get(1, "i32")))], exit: { kind: "goto", edge: { target: 1, code: [set(1, bin("i32.add", get(1, "i32"), i32(1)))] } } },
      { id: 3, body: [], exit: { kind: "switch", index: get(0, "i32"), targets: [{ target: 4, code: [set(2, i32(-1))] }], default: { target: 4, code: [] } } },
      { id: 4, body: [], exit: { kind: "return", value: get(2, "i32") } },
    ] };
    const mod = mkMod([mkFn("tri", ["i32"], ["i32"], ["i32", "i32"], body)]);
    verifyModule(mod);
    const it = new Interpreter(mod);
    expect(it.call("tri", [10])).toEqual([45]);
    expect(it.call("tri", [0])).toEqual([-1]);
    expect(it.call("tri", [1000])).toEqual([499500]);
  });

  it("makes data segments visible and loads/stores every width little-endian", () => {
    const data = [{ offset: 8, bytes: new Uint8Array([0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0x80, 0x00]) }];
    expect(run(load("i32.load", i32(8)), { data })).toBe(0x04030201);
    expect(run(load("i32.load8_s", i32(12)), { data })).toBe(-1);
    expect(run(load("i32.load8_u", i32(12)), { data })).toBe(255);
    expect(run(load("i32.load16_s", i32(12)), { data })).toBe(-1);
    expect(run(load("i32.load16_u", i32(14)), { data })).toBe(0x80);
    expect(run(load("i64.load", i32(8)), { data })).toBe(0x0080ffff04030201n);
    expect(run(load("i64.load32_u", i32(12)), { data })).toBe(0x0080ffffn);
    expect(run(load("i64.load16_s", i32(12)), { data })).toBe(-1n);
    expect(run(load("i64.load8_u", i32(4), 4), { data })).toBe(1n);
    const rt = (st: Expr, ld: Expr) => run(block([st, ld], null, ld.type));
    expect(rt(store("i32.store8", i32(0), i32(0x1ff)), load("i32.load", i32(0)))).toBe(0xff);
    expect(rt(store("i32.store16", i32(0), i32(-2)), load("i32.load16_u", i32(0)))).toBe(0xfffe);
    expect(rt(store("i64.store32", i32(0), i64(-1n)), load("i64.load", i32(0)))).toBe(0xffffffffn);
    expect(rt(store("i64.store", i32(3), i64(-5n), 0, 1), load("i64.load", i32(3)))).toBe(-5n);
    expect(rt(store("f32.store", i32(0), f32(0.1)), load("f32.load", i32(0)))).toBe(Math.fround(0.1));
    expect(rt(store("f64.store", i32(0), f64(Math.PI)), load("f64.load", i32(0)))).toBe(Math.PI);
  });

  it("memory.size/grow/copy/fill and out-of-bounds traps", () => {
    expect(run({ kind: "memory.grow", type: "i32", delta: i32(2) })).toBe(1);
    expect(run(block([{ kind: "drop", type: "none", value: { kind: "memory.grow", type: "i32", delta: i32(2) } }, { kind: "memory.size", type: "i32" }], null, "i32"))).toBe(3);
    expect(run({ kind: "memory.grow", type: "i32", delta: i32(4) })).toBe(-1);
    const fill: Expr = { kind: "memory.fill", type: "none", dest: i32(10), value: i32(0x1ab), size: i32(4) };
    const copy: Expr = { kind: "memory.copy", type: "none", dest: i32(12), src: i32(8), size: i32(4) };
    expect(run(block([fill, copy, load("i32.load", i32(12))], null, "i32"))).toBe(0xabab0000 | 0);
    expect(() => run(load("i32.load", i32(65534)))).toThrow(TrapError);
    expect(() => run(load("i32.load", i32(-1)))).toThrow(/out of bounds/);
    expect(() => run(load("i32.load", i32(65532), 4))).toThrow(TrapError);
  });

  it("globals, calls, imports and the start function", () => {
    const inc = mkFn("inc", ["f64"], ["f64"], [], block([
      { kind: "global.set", type: "none", global: "n", value: bin("i32.add", { kind: "global.get", type: "i32", global: "n" }, i32(1)) },
      call("twice", [get(0, "f64")], "f64"),
    ], null, "f64"));
    const twice = { ...mkFn("twice", ["f64"], ["f64"], [], null), import: { module: "env", base: "twice" } };
    const init = mkFn("init", [], [], [], { kind: "global.set", type: "none", global: "n", value: i32(100) });
    const mod = mkMod([inc, twice, init], { globals: [{ name: "n", type: "i32", mutable: true, init: i32(5) }], start: "init" });
    verifyModule(mod);
    const it = new Interpreter(mod, { imports: { env: { twice: (x: number) => 2 * x } } });
    expect(it.globals.n).toBe(100);
    expect(it.call("inc", [1.25])).toEqual([2.5]);
    expect(it.globals.n).toBe(101);
    expect(() => new Interpreter(mkMod([inc, twice])).call("inc", [1])).toThrow(/env.twice/);
    expect(() => it.call("inc", [])).toThrow(ArgumentError);
  });

  it("call_indirect through a table, trapping on null and signature mismatch", () => {
    const sq = mkFn("sq", ["f64"], ["f64"], [], bin("f64.mul", get(0, "f64"), get(0, "f64")));
    const neg = mkFn("neg", ["f64"], ["f64"], [], un("f64.neg", get(0, "f64")));
    const other = mkFn("other", ["i32"], ["i32"], [], get(0, "i32"));
    const via = mkFn("via", ["i32", "f64"], ["f64"], [],
      { kind: "call_indirect", type: "f64", table: "t", params: ["f64"], results: ["f64"], target: get(0, "i32"), args: [get(1, "f64")] });
    const mod = mkMod([sq, neg, other, via], { tables: [{ name: "t", initial: 5, maximum: null, segments: [{ offset: 0, funcs: ["sq", "neg"] }, { offset: 3, funcs: ["other"] }] }] });
    verifyModule(mod);
    const it = new Interpreter(mod);
    expect(it.call("via", [0, 3])).toEqual([9]);
    expect(it.call("via", [1, 3])).toEqual([-3]);
    expect(() => it.call("via", [2, 3])).toThrow(/uninitialized element/);
    expect(() => it.call("via", [3, 3])).toThrow(/type mismatch/);
    expect(() => it.call("via", [9, 3])).toThrow(TrapError);
  });

  it("multi-value calls via tuple.set and return", () => {
    const pair = mkFn("pair", ["f64"], ["f64", "i32"], [], null);
    const fwd = mkFn("fwd", ["f64"], ["f64", "i32"], [], ret(call("pair", [get(0, "f64")], "tuple")));
    const use = mkFn("use", ["f64"], ["f64"], ["f64", "i32"], block([
      { kind: "tuple.set", type: "none", locals: [1, 2], value: call("fwd", [get(0, "f64")], "tuple") },
      bin("f64.add", get(1, "f64"), un("f64.convert_i32_s", get(2, "i32"))),
    ], null, "f64"));
    const mod = mkMod([{ ...pair, import: { module: "m", base: "pair" } }, fwd, use]);
    verifyModule(mod);
    const it = new Interpreter(mod, { imports: { m: { pair: (x: number) => [x / 2, 7] } } });
    expect(it.call("fwd", [3])).toEqual([1.5, 7]);
    expect(it.call("use", [3])).toEqual([8.5]);
  });

  it("unreachable traps with TrapError naming the function", () => {
    const mod = mkMod([mkFn("boom", [], [], [], { kind: "unreachable", type: "unreachable" })]);
    expect(() => new Interpreter(mod).call("boom", [])).toThrow(TrapError);
    expect(() => new Interpreter(mod).call("boom", [])).toThrow(/unreachable.*\$boom/);
  });
});

describe("Interpreter: numeric semantics", () => {
  const i32b = (op: string, a: number, b: number) => run(bin(op, i32(a), i32(b)));
  const i64b = (op: string, a: bigint, b: bigint) => run(bin(op, i64(a), i64(b)));

  it("i32 wraps around and handles unsigned ops, shifts and rotations", () => {
    expect(i32b("i32.add", 0x7fffffff, 1)).toBe(-2147483648);
    expect(i32b("i32.mul", 0x10001, 0x10001)).toBe(Number(BigInt.asIntN(32, 0x10001n * 0x10001n)));
    expect(i32b("i32.sub", -2147483648, 1)).toBe(2147483647);
    expect(i32b("i32.div_u", -1, 2)).toBe(0x7fffffff);
    expect(i32b("i32.div_s", -7, 2)).toBe(-3);
    expect(i32b("i32.rem_s", -7, 2)).toBe(-1);
    expect(i32b("i32.rem_u", -1, 10)).toBe(4294967295 % 10);
    expect(i32b("i32.rem_s", -2147483648, -1)).toBe(0);
    expect(i32b("i32.shl", 1, 33)).toBe(2);
    expect(i32b("i32.shr_u", -1, 28)).toBe(15);
    expect(i32b("i32.shr_s", -16, 2)).toBe(-4);
    expect(i32b("i32.rotl", 0x80000001 | 0, 1)).toBe(3);
    expect(i32b("i32.rotr", 3, 1)).toBe(0x80000001 | 0);
    expect(i32b("i32.rotl", 0x12345678, 32)).toBe(0x12345678);
    expect(i32b("i32.lt_u", -1, 1)).toBe(0);
    expect(i32b("i32.lt_s", -1, 1)).toBe(1);
    expect(run(un("i32.clz", i32(1)))).toBe(31);
    expect(run(un("i32.ctz", i32(0x80)))).toBe(7);
    expect(run(un("i32.ctz", i32(0)))).toBe(32);
    expect(run(un("i32.popcnt", i32(-1)))).toBe(32);
    expect(run(un("i32.extend8_s", i32(0x80)))).toBe(-128);
    expect(run(un("i32.extend16_s", i32(0x7fff)))).toBe(0x7fff);
  });

  it("i64 ops match BigInt arithmetic", () => {
    const M = 1n << 64n, S = (x: bigint) => BigInt.asIntN(64, x), U = (x: bigint) => BigInt.asUintN(64, x);
    const a = 0x7fffffffffffffffn, b = -3n;
    expect(i64b("i64.add", a, 1n)).toBe(-(1n << 63n));
    expect(i64b("i64.mul", a, a)).toBe(S(a * a));
    expect(i64b("i64.div_u", b, 2n)).toBe(S((M + b) / 2n));
    expect(i64b("i64.div_s", -7n, 2n)).toBe(-3n);
    expect(i64b("i64.rem_u", b, 10n)).toBe(S(U(b) % 10n));
    expect(i64b("i64.shl", 1n, 65n)).toBe(2n);
    expect(i64b("i64.shr_u", -1n, 60n)).toBe(15n);
    expect(i64b("i64.shr_s", -16n, 2n)).toBe(-4n);
    expect(i64b("i64.rotl", -(1n << 63n) + 1n, 1n)).toBe(3n);
    expect(i64b("i64.rotr", 3n, 1n)).toBe(S((1n << 63n) | 1n));
    expect(i64b("i64.lt_u", -1n, 1n)).toBe(0);
    expect(i64b("i64.ge_s", 1n, -1n)).toBe(1);
    expect(run(un("i64.clz", i64(1n)))).toBe(63n);
    expect(run(un("i64.ctz", i64(0n)))).toBe(64n);
    expect(run(un("i64.ctz", i64(-(1n << 63n))))).toBe(63n);
    expect(run(un("i64.popcnt", i64(-1n)))).toBe(64n);
    expect(run(un("i64.eqz", i64(0n)))).toBe(1);
    expect(run(un("i64.extend32_s", i64(0x80000000n)))).toBe(-2147483648n);
    expect(run(un("i64.extend_i32_u", i32(-1)))).toBe(4294967295n);
    expect(run(un("i64.extend_i32_s", i32(-1)))).toBe(-1n);
    expect(run(un("i32.wrap_i64", i64(0x1ffffffffn)))).toBe(-1);
    const it = new Interpreter(mkMod([mkFn("id", ["i64"], ["i64"], [], bin("i64.add", get(0, "i64"), i64(0n)))]));
    expect(it.call("id", [1n << 63n])).toEqual([-(1n << 63n)]);
  });

  it("integer division traps", () => {
    expect(() => i32b("i32.div_s", 1, 0)).toThrow(TrapError);
    expect(() => i32b("i32.rem_u", 1, 0)).toThrow(/divide by zero/);
    expect(() => i32b("i32.div_s", -2147483648, -1)).toThrow(/overflow/);
    expect(() => i64b("i64.div_u", 1n, 0n)).toThrow(TrapError);
    expect(() => i64b("i64.div_s", -(1n << 63n), -1n)).toThrow(/overflow/);
  });

  it("rounds f32 arithmetic", () => {
    expect(run(bin("f32.add", f32(0.1), f32(0.2)))).toBe(Math.fround(Math.fround(0.1) + Math.fround(0.2)));
    expect(run(bin("f32.div", f32(1), f32(3)))).toBe(Math.fround(1 / 3));
    expect(run(un("f32.demote_f64", f64(0.1)))).toBe(Math.fround(0.1));
    expect(run(un("f32.sqrt", f32(2)))).toBe(Math.fround(Math.SQRT2));
    // 2^60 + 2^36 + 1 rounds to 2^60 if converted through f64 first; correctly rounded it is 2^60 + 2^37.
    expect(run(un("f32.convert_i64_s", i64((1n << 60n) + (1n << 36n) + 1n)))).toBe(2 ** 60 + 2 ** 37);
    expect(run(un("f32.convert_i64_u", i64(-1n)))).toBe(2 ** 64);
    expect(run(un("f64.convert_i32_u", i32(-1)))).toBe(4294967295);
  });

  it("nearest, min/max, copysign and floor follow Wasm", () => {
    expect(run(un("f64.nearest", f64(2.5)))).toBe(2);
    expect(run(un("f64.nearest", f64(3.5)))).toBe(4);
    expect(run(un("f64.nearest", f64(-2.5)))).toBe(-2);
    expect(Object.is(run(un("f64.nearest", f64(-0.4))), -0)).toBe(true);
    expect(run(un("f32.nearest", f32(0.5)))).toBe(0);
    expect(Object.is(run(bin("f64.min", f64(-0), f64(0))), -0)).toBe(true);
    expect(Object.is(run(bin("f64.min", f64(0), f64(-0))), -0)).toBe(true);
    expect(Object.is(run(bin("f64.max", f64(-0), f64(0))), 0)).toBe(true);
    expect(run(bin("f64.min", f64(NaN), f64(1)))).toBeNaN();
    expect(run(bin("f32.max", f32(1), f32(NaN)))).toBeNaN();
    expect(run(bin("f64.copysign", f64(3), f64(-0)))).toBe(-3);
    expect(run(bin("f64.copysign", f64(-3), f64(1)))).toBe(3);
    expect(Object.is(run(un("f64.ceil", f64(-0.5))), -0)).toBe(true);
    expect(run(un("f64.floor", f64(-0.5)))).toBe(-1);
    expect(run(un("f64.trunc", f64(-1.7)))).toBe(-1);
    expect(run(bin("f64.ne", f64(NaN), f64(NaN)))).toBe(1);
  });

  it("trunc traps on NaN and out of range; trunc_sat saturates", () => {
    expect(run(un("i32.trunc_f64_s", f64(-2147483648.9)))).toBe(-2147483648);
    expect(run(un("i32.trunc_f64_u", f64(4294967295.5)))).toBe(-1);
    expect(run(un("i32.trunc_f64_u", f64(-0.9)))).toBe(0);
    expect(run(un("i64.trunc_f64_s", f64(-1e18)))).toBe(-(10n ** 18n));
    expect(run(un("i64.trunc_f64_u", f64(2 ** 63)))).toBe(-(1n << 63n));
    expect(() => run(un("i32.trunc_f64_s", f64(NaN)))).toThrow(/invalid conversion/);
    expect(() => run(un("i32.trunc_f64_s", f64(2147483648)))).toThrow(TrapError);
    expect(() => run(un("i32.trunc_f32_u", f32(-1)))).toThrow(TrapError);
    expect(() => run(un("i64.trunc_f64_s", f64(2 ** 63)))).toThrow(/overflow/);
    expect(() => run(un("i64.trunc_f64_u", f64(Infinity)))).toThrow(TrapError);
    expect(run(un("i32.trunc_sat_f64_s", f64(1e10)))).toBe(2147483647);
    expect(run(un("i32.trunc_sat_f64_s", f64(-1e10)))).toBe(-2147483648);
    expect(run(un("i32.trunc_sat_f64_s", f64(NaN)))).toBe(0);
    expect(run(un("i32.trunc_sat_f64_u", f64(-5)))).toBe(0);
    expect(run(un("i32.trunc_sat_f64_u", f64(5e9)))).toBe(-1);
    expect(run(un("i64.trunc_sat_f64_s", f64(1e19)))).toBe((1n << 63n) - 1n);
    expect(run(un("i64.trunc_sat_f64_s", f64(-Infinity)))).toBe(-(1n << 63n));
    expect(run(un("i64.trunc_sat_f32_u", f32(-1)))).toBe(0n);
    expect(run(un("i64.trunc_sat_f64_u", f64(1e20)))).toBe(-1n);
  });

  it("reinterprets bits", () => {
    expect(run(un("i32.reinterpret_f32", f32(1)))).toBe(0x3f800000);
    expect(run(un("f32.reinterpret_i32", i32(0x40490fdb)))).toBe(Math.fround(Math.PI));
    expect(run(un("i64.reinterpret_f64", f64(-2)))).toBe(-0x4000000000000000n);
    expect(run(un("f64.reinterpret_i64", i64(0x3ff0000000000000n)))).toBe(1);
  });
});

describe("Interpreter agrees with V8 on every numeric op", () => {
  const inputs: Record<ValType, (number | bigint)[]> = {
    i32: [0, 1, -1, 7, -7, 31, 32, 33, 2147483647, -2147483648, 0x12345678],
    i64: [0n, 1n, -1n, 7n, -7n, 63n, 64n, 65n, (1n << 63n) - 1n, -(1n << 63n), 0x123456789abcdefn, (1n << 60n) + (1n << 36n) + 1n],
    f32: [0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, 0.1, 3.4e38, 2147483520, 4294967040, NaN, Infinity, -Infinity, 1e-45].map(Math.fround),
    f64: [0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, 0.1, 1e300, 2147483647.9, -2147483648.9, 4294967295.9, 9223372036854774784, NaN, Infinity, -Infinity, 5e-324],
  };
  const same = (a: unknown, b: unknown) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
  const attempt = (f: () => unknown) => { try { return f(); } catch (e) { return e instanceof TrapError || e instanceof WebAssembly.RuntimeError ? "trap" : e; } };

  it("unary and binary ops on edge-case inputs", async () => {
    const wabt = await wabtInit();
    const compile = (wat: string) => {
      const { buffer } = wabt.parseWat("t.wat", wat, { sat_float_to_int: true, sign_extension: true }).toBinary({});
      return new WebAssembly.Instance(new WebAssembly.Module(buffer as Uint8Array<ArrayBuffer>)).exports.f as (...a: unknown[]) => unknown;
    };
    const check = (op: string, params: ValType[], result: ValType, body: Expr) => {
      const wasm = compile(`(module (func (export "f") (param ${params.join(" ")}) (result ${result}) ${params.map((_, k) => `local.get ${k}`).join(" ")} ${op}))`);
      const it = new Interpreter(mkMod([mkFn("f", params, [result], [], body)], { memory: null }));
      const argSets = params.length === 1 ? inputs[params[0]].map(x => [x]) : inputs[params[0]].flatMap(x => inputs[params[0]].map(y => [x, y]));
      for (const args of argSets) {
        const want = attempt(() => wasm(...args)), got = attempt(() => it.call("f", args)[0]);
        if (!same(want, got)) expect({ op, args, got }).toEqual({ op, args, got: want });
      }
    };
    for (const [op, { operand, result }] of Object.entries(unaryOps)) check(op, [operand], result, un(op, get(0, operand)));
    for (const [op, { operand, result }] of Object.entries(binaryOps)) check(op, [operand, operand], result, bin(op, get(0, operand), get(1, operand)));
  });
});
