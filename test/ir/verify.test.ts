import { describe, it, expect } from "vitest";
import { VerifyError } from "../../src/errors.js";
import { binary, block, br, call, f64, get, i32, konst, load, nop, set, store, unary } from "../../src/ir/builder.js";
import { verifyFunction, verifyModule } from "../../src/ir/verify.js";
import type { CfgBody, Expr, IRFunction, IRModule, Type, ValType } from "../../src/ir/types.js";

const mkFn = (name: string, params: ValType[], results: ValType[], extra: ValType[], body: IRFunction["body"]): IRFunction =>
  ({ name, params, results, locals: [...params, ...extra], body });
const mkMod = (functions: IRFunction[], over: Partial<IRModule> = {}): IRModule =>
  ({ functions, globals: [], memory: { initial: 1, maximum: null }, data: [], tables: [], exports: [], start: null, ...over });
const loop = (label: string, body: Expr, type: Type = "none"): Expr => ({ kind: "loop", type, label, body });
const ifElse = (type: Type, cond: Expr, then: Expr, els: Expr | null): Expr => ({ kind: "if", type, cond, then, else: els });
const ret = (value: Expr | null): Expr => ({ kind: "return", type: "unreachable", value });

/** sum(p, n) = Σ f64 at p + 8i, for i < n. */
const sumFn = (): IRFunction => mkFn("sum", ["i32", "i32"], ["f64"], ["f64", "i32"], block([
  block([
    loop("L", block([
      br("exit", binary("i32.ge_s", get(3, "i32"), get(1, "i32"))),
      set(2, binary("f64.add", get(2, "f64"), load("f64.load", binary("i32.add", get(0, "i32"), binary("i32.shl", get(3, "i32"), i32(3)))))),
      set(3, binary("i32.add", get(3, "i32"), i32(1))),
      br("L"),
    ])),
  ], "exit"),
  get(2, "f64"),
], null, "f64"));

/** Checks fn alone (plus helpers) is rejected with a message containing frag. */
function rejects(fn: IRFunction, frag: string, mod: IRModule = mkMod([fn, ...helpers])): void {
  expect(() => verifyFunction(fn, mod)).toThrow(VerifyError);
  expect(() => verifyFunction(fn, mod)).toThrow(frag);
}
const helpers: IRFunction[] = [
  mkFn("g", ["f64", "i32"], ["f64"], [], get(0, "f64")),
  mkFn("pair", [], ["f64", "i32"], [], null),
];
/** A function f(x: f64, k: i32) with an extra f64 local 2 whose body is `body`. */
const withBody = (body: Expr, results: ValType[] = []): IRFunction => mkFn("bad", ["f64", "i32"], results, ["f64"], body);

describe("verifyFunction accepts valid IR", () => {
  it("a loop summing an f64 array from memory", () => {
    expect(() => verifyFunction(sumFn(), mkMod([sumFn()]))).not.toThrow();
  });

  it("if/else with a result", () => {
    const fn = mkFn("abs", ["f64"], ["f64"], [],
      ifElse("f64", binary("f64.lt", get(0, "f64"), f64(0)), unary("f64.neg", get(0, "f64")), get(0, "f64")));
    expect(() => verifyFunction(fn, mkMod([fn]))).not.toThrow();
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
    expect(() => verifyFunction(fn, mkMod([fn]))).not.toThrow();
  });

  it("a CFG body", () => {
    const fn = mkFn("cfg", ["i32"], ["i32"], ["i32", "i32"], cfgSum());
    expect(() => verifyFunction(fn, mkMod([fn]))).not.toThrow();
  });

  it("a block with a value carried by br, and a multi-value return", () => {
    const fn = mkFn("bv", ["i32"], ["f64"], [], block([
      { kind: "drop", type: "none", value: { kind: "br", type: "f64", label: "out", cond: get(0, "i32"), value: f64(1) } },
      f64(2),
    ], "out", "f64"));
    const tup = mkFn("tup", [], ["f64", "i32"], [], ret(call("pair", [], "tuple")));
    expect(() => verifyModule(mkMod([fn, tup, ...helpers]))).not.toThrow();
  });

  it("imported functions are skipped", () => {
    expect(() => verifyFunction(helpers[1], mkMod(helpers))).not.toThrow();
  });
});

function cfgSum(): CfgBody {
  // locals: 0 n, 1 i, 2 s
  return {
    kind: "cfg", entry: 0, blocks: [
      { id: 0, body: [set(1, i32(0)), set(2, i32(0))], exit: { kind: "goto", edge: { target: 1, code: [] } } },
      { id: 1, body: [], exit: { kind: "branch", cond: binary("i32.lt_s", get(1, "i32"), get(0, "i32")), then: { target: 2, code: [] }, else: { target: 3, code: [] } } },
      { id: 2, body: [set(2, binary("i32.add", get(2, "i32"), get(1, "i32")))], exit: { kind: "goto", edge: { target: 1, code: [set(1, binary("i32.add", get(1, "i32"), i32(1)))] } } },
      { id: 3, body: [], exit: { kind: "return", value: get(2, "i32") } },
    ],
  };
}

describe("verifyFunction rejects", () => {
  it("unknown op names", () => {
    rejects(withBody({ kind: "drop", type: "none", value: { kind: "unary", type: "f64", op: "f64.foo", value: f64(1) } }), "unknown unary op f64.foo");
    rejects(withBody({ kind: "drop", type: "none", value: { kind: "binary", type: "f64", op: "f64.pow", left: f64(1), right: f64(2) } }), "unknown binary op");
    rejects(withBody({ kind: "drop", type: "none", value: { kind: "load", type: "f64", op: "f64.load8", addr: i32(0), offset: 0, align: 1 } }), "unknown load op");
    rejects(withBody({ kind: "store", type: "none", op: "f64.store8", addr: i32(0), value: f64(0), offset: 0, align: 1 }), "unknown store op");
  });

  it("operand type mismatches, naming the function and node", () => {
    const bad = withBody(set(2, { kind: "binary", type: "f64", op: "f64.add", left: f64(1), right: i32(1) }));
    rejects(bad, "right operand of f64.add has type i32, expected f64");
    rejects(bad, "in function $bad");
    rejects(bad, "(f64.add (f64.const 1) (i32.const 1))");
  });

  it("a node type inconsistent with its op", () => {
    rejects(withBody(set(2, { kind: "binary", type: "f64", op: "f64.lt", left: f64(1), right: f64(2) })), "node has type f64 but produces i32");
  });

  it("local index out of range and local type mismatches", () => {
    rejects(withBody(set(2, get(5, "f64"))), "local index 5 out of range");
    rejects(withBody(set(9, f64(1))), "local index 9 out of range");
    rejects(withBody({ kind: "drop", type: "none", value: get(0, "i32") }), "local.get has type i32 but local 0 is f64");
    rejects(withBody(set(2, i32(1))), "value for local 2 has type i32, expected f64");
    rejects(withBody({ kind: "drop", type: "none", value: { kind: "local.set", type: "none", local: 2, value: f64(1), tee: true } }), "node has type none but produces f64");
  });

  it("unknown globals, functions and tables", () => {
    rejects(withBody({ kind: "drop", type: "none", value: { kind: "global.get", type: "f64", global: "nope" } }), "unknown global $nope");
    rejects(withBody({ kind: "drop", type: "none", value: call("nope", [], "f64") }), "unknown function $nope");
    rejects(withBody({ kind: "call_indirect", type: "none", table: "t", params: [], results: [], target: i32(0), args: [] }), "unknown table $t");
    const gm = mkMod([], { globals: [{ name: "c", type: "f64", mutable: false, init: f64(1) }] });
    const fn = withBody({ kind: "global.set", type: "none", global: "c", value: f64(2) });
    rejects(fn, "immutable global $c", { ...gm, functions: [fn] });
  });

  it("call argument count, types and result type", () => {
    rejects(withBody(set(2, call("g", [f64(1)], "f64"))), "call passes 1 arguments but $g takes 2");
    rejects(withBody(set(2, call("g", [i32(1), i32(1)], "f64"))), "argument 0 has type i32, expected f64");
    rejects(withBody(call("g", [f64(1), i32(1)], "none")), "node has type none but produces f64");
  });

  it("tuple.set locals vs call results", () => {
    rejects(withBody({ kind: "tuple.set", type: "none", locals: [2], value: call("pair", [], "tuple") }), "tuple.set of 1 locals from a call with 2 results");
    rejects(withBody({ kind: "tuple.set", type: "none", locals: [1, 2], value: call("pair", [], "tuple") }), "local 1 is i32 but result 0 is f64");
  });

  it("branches to labels not in scope", () => {
    rejects(withBody(br("nowhere")), "label $nowhere which is not in scope");
    rejects(withBody(block([block([], "a"), br("a")])), "label $a which is not in scope");
  });

  it("branch values inconsistent with the target", () => {
    const brv = (label: string, value: Expr | null): Expr => ({ kind: "br", type: "unreachable", label, cond: null, value });
    rejects(withBody(loop("L", brv("L", f64(1)))), "branch to loop $L (type none) carries a value");
    rejects(withBody(set(2, block([brv("b", null)], "b", "f64"))), "branch to block $b needs a f64 value");
    rejects(withBody(set(2, block([brv("b", i32(1))], "b", "f64"))), "branch to block $b carries i32, expected f64");
  });

  it("if without else of a value type, and mismatched arms", () => {
    rejects(withBody(set(2, ifElse("f64", get(1, "i32"), f64(1), null))), "if without else has type f64");
    rejects(withBody(set(2, ifElse("f64", get(1, "i32"), f64(1), i32(2)))), "else arm has type i32, expected f64");
    rejects(withBody(ifElse("none", get(0, "f64"), nop(), nop())), "if condition has type f64, expected i32");
  });

  it("block types inconsistent with the last element", () => {
    rejects(withBody(set(2, block([i32(1)], null, "f64"))), "block of type f64 ends with i32");
    rejects(withBody(block([f64(1)])), "block of type none ends with f64");
    rejects(withBody(set(2, block([], null, "f64"))), "block of type f64 ends with nothing");
    rejects(withBody(block([f64(1), nop()])), "block element 0 leaves a f64 value");
  });

  it("select operand and condition types", () => {
    rejects(withBody(set(2, { kind: "select", type: "f64", cond: get(1, "i32"), ifTrue: f64(1), ifFalse: i32(0) })), "select operands differ: f64 and i32");
    rejects(withBody(set(2, { kind: "select", type: "f64", cond: f64(1), ifTrue: f64(1), ifFalse: f64(0) })), "select condition has type f64");
  });

  it("memory access types, alignment and missing memory", () => {
    rejects(withBody(set(2, load("f64.load", f64(0)))), "address has type f64, expected i32");
    rejects(withBody(store("f64.store", i32(0), i32(1))), "value of f64.store has type i32, expected f64");
    rejects(withBody(set(2, load("f64.load", i32(0), 0, 3))), "alignment 3 must be a power of two <= 8");
    rejects(withBody(set(2, load("f64.load", i32(0), 0, 16))), "alignment 16 must be a power of two <= 8");
    rejects(withBody(store("i32.store8", i32(0), i32(1), 0, 2)), "alignment 2 must be a power of two <= 1");
    const fn = withBody(set(2, load("f64.load", i32(0))));
    rejects(fn, "f64.load needs a memory", mkMod([fn], { memory: null }));
    const grow = withBody({ kind: "drop", type: "none", value: { kind: "memory.grow", type: "i32", delta: i32(1) } });
    rejects(grow, "memory.grow needs a memory", mkMod([grow], { memory: null }));
  });

  it("return values vs the function results", () => {
    rejects(withBody(ret(f64(1))), "return with a value from a function without results");
    rejects(withBody(ret(null), ["f64"]), "return without a value");
    rejects(withBody(ret(i32(1)), ["f64"]), "return value has type i32, expected f64");
    rejects(withBody(ret(f64(1)), ["f64", "i32"]), "needs a call of type tuple");
    rejects(withBody(i32(1), ["f64"]), "body has type i32 but the function returns f64");
  });

  it("locals that do not start with the params", () => {
    rejects({ name: "bad", params: ["f64"], results: [], locals: ["i32"], body: nop() }, "must start with the params");
  });

  it("unknown node kinds", () => {
    rejects(withBody({ kind: "weird" } as unknown as Expr), "unknown node kind weird");
  });

  it("malformed CFG bodies", () => {
    const cfg = (over: Partial<CfgBody>): IRFunction => mkFn("bad", ["i32"], ["i32"], ["i32", "i32"], { ...cfgSum(), ...over });
    rejects(cfg({ entry: 7 }), "CFG entry 7 is not a block");
    const blocks = cfgSum().blocks;
    rejects(cfg({ blocks: [...blocks.slice(0, 3), { id: 3, body: [], exit: { kind: "goto", edge: { target: 9, code: [] } } }] }), "edge to unknown CFG block 9");
    rejects(cfg({ blocks: [...blocks, { id: 4, body: [br("exit")], exit: { kind: "unreachable" } }] }), "label $exit which is not in scope");
    rejects(cfg({ blocks: [...blocks, { id: 4, body: [], exit: { kind: "branch", cond: f64(1), then: { target: 1, code: [] }, else: { target: 1, code: [] } } }] }), "branch condition has type f64");
    rejects(cfg({ blocks: [...blocks, { id: 4, body: [], exit: { kind: "return", value: f64(1) } }] }), "(CFG block 4): return value has type f64");
    rejects(cfg({ blocks: [...blocks, { id: 4, body: [i32(1)], exit: { kind: "unreachable" } }] }), "statement leaves a i32 value");
    rejects(cfg({ blocks: [...blocks, { id: 4, body: [], exit: { kind: "goto", edge: { target: 1, code: [set(1, f64(0))] } } }] }), "value for local 1 has type f64, expected i32");
    // A branch to a label defined within the same statement is fine.
    const ok = cfg({ blocks: [...blocks, { id: 4, body: [block([br("x")], "x")], exit: { kind: "unreachable" } }] });
    expect(() => verifyFunction(ok, mkMod([ok]))).not.toThrow();
  });
});

describe("verifyModule", () => {
  it("accepts a module and checks every function", () => {
    expect(() => verifyModule(mkMod([sumFn(), ...helpers], { exports: [{ name: "sum", kind: "function", target: "sum" }] }))).not.toThrow();
    expect(() => verifyModule(mkMod([sumFn(), withBody(br("nowhere"))]))).toThrow(/in function \$bad/);
  });

  it("rejects duplicate functions, dangling exports, table entries and start", () => {
    expect(() => verifyModule(mkMod([sumFn(), sumFn()]))).toThrow("duplicate function $sum");
    expect(() => verifyModule(mkMod([], { exports: [{ name: "f", kind: "function", target: "f" }] }))).toThrow(VerifyError);
    expect(() => verifyModule(mkMod([], { tables: [{ name: "t", initial: 1, maximum: null, segments: [{ offset: 0, funcs: ["h"] }] }] })))
      .toThrow("table $t refers to unknown function $h");
    expect(() => verifyModule(mkMod([sumFn()], { start: "sum" }))).toThrow("must take and return nothing");
    expect(() => verifyModule(mkMod([], { globals: [{ name: "g", type: "f64", mutable: true, init: konst("i32", 0) }] }))).toThrow("initialiser of type i32");
  });
});
