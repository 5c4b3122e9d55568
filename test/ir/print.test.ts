import { describe, it, expect } from "vitest";
import { binary, block, br, f64, get, i32, konst, load, set, store, unary } from "../../src/ir/builder.js";
import { printExpr, printFunction, printModule } from "../../src/ir/print.js";
import type { Expr, IRFunction, IRModule } from "../../src/ir/types.js";

const sum = (): IRFunction => ({
  name: "sum", params: ["i32", "i32"], results: ["f64"], locals: ["i32", "i32", "f64", "i32"], localNames: ["p", "n", "s", "i"],
  body: block([
    block([
      { kind: "loop", type: "none", label: "L", body: block([
        br("exit", binary("i32.ge_s", get(3, "i32"), get(1, "i32"))),
        set(2, binary("f64.add", get(2, "f64"), load("f64.load", binary("i32.add", get(0, "i32"), binary("i32.shl", get(3, "i32"), i32(3)))))),
        set(3, binary("i32.add", get(3, "i32"), i32(1))),
        br("L"),
      ]) },
    ], "exit"),
    get(2, "f64"),
  ], null, "f64"),
});

const SUM_TEXT = `(func $sum (param $p i32) (param $n i32) (result f64)
  (local $s f64)
  (local $i i32)
  (block (result f64)
    (block $exit
      (loop $L
        (block
          (br_if $exit (i32.ge_s (local.get $i) (local.get $n)))
          (local.set $s (f64.add (local.get $s) (f64.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $L)
        )
      )
    )
    (local.get $s)
  )
)`;

const abs: IRFunction = {
  name: "abs", params: ["f64"], results: ["f64"], locals: ["f64", "i64"],
  body: {
    kind: "if", type: "f64", cond: binary("f64.lt", get(0, "f64"), f64(-0)), then: unary("f64.neg", get(0, "f64")),
    else: { kind: "select", type: "f64", cond: i32(1), ifTrue: get(0, "f64"), ifFalse: f64(NaN) },
  },
};

const ABS_TEXT = `(func $abs (param $l0 f64) (result f64)
  (local $l1 i64)
  (if (result f64)
    (f64.lt (local.get $l0) (f64.const -0))
    (then
      (f64.neg (local.get $l0))
    )
    (else
      (select (local.get $l0) (f64.const NaN) (i32.const 1))
    )
  )
)`;

const cfg: IRFunction = {
  name: "c", params: ["i32"], results: ["i32"], locals: ["i32", "i32"], localNames: ["n", undefined],
  body: { kind: "cfg", entry: 0, blocks: [
    { id: 0, body: [set(1, i32(0))], exit: { kind: "goto", edge: { target: 1, code: [] } } },
    { id: 1, body: [], exit: { kind: "branch", cond: binary("i32.lt_s", get(1, "i32"), get(0, "i32")),
      then: { target: 1, code: [set(1, binary("i32.add", get(1, "i32"), i32(1)))] }, else: { target: 2, code: [] } } },
    { id: 2, body: [], exit: { kind: "switch", index: get(1, "i32"), targets: [{ target: 3, code: [] }], default: { target: 3, code: [] } } },
    { id: 3, body: [], exit: { kind: "return", value: get(1, "i32") } },
  ] },
};

const CFG_TEXT = `(func $c (param $n i32) (result i32)
  (local $l1 i32)
  cfg entry 0
  block 0:
    (local.set $l1 (i32.const 0))
    goto 1
  block 1:
    branch (i32.lt_s (local.get $l1) (local.get $n))
      then goto 1 [(local.set $l1 (i32.add (local.get $l1) (i32.const 1)))]
      else goto 2
  block 2:
    switch (local.get $l1)
      case 0: goto 3
      default: goto 3
  block 3:
    return (local.get $l1)
)`;

describe("printFunction", () => {
  it("prints a loop with named locals", () => {
    expect(printFunction(sum())).toBe(SUM_TEXT);
  });

  it("prints if/else, select, unnamed locals and special floats", () => {
    expect(printFunction(abs)).toBe(ABS_TEXT);
  });

  it("prints CFG bodies with edge code", () => {
    expect(printFunction(cfg)).toBe(CFG_TEXT);
  });

  it("is deterministic and independent of object identity", () => {
    expect(printFunction(sum())).toBe(printFunction(sum()));
    expect(printFunction(sum())).toBe(printFunction(JSON.parse(JSON.stringify(sum())) as IRFunction));
  });

  it("prints imported functions on one line", () => {
    const imp: IRFunction = { name: "log", params: ["f64"], results: ["i32"], locals: ["f64"], body: null, import: { module: "env", base: "log" } };
    expect(printFunction(imp)).toBe(`(func $log (import "env" "log") (param $l0 f64) (result i32))`);
  });
});

describe("printExpr", () => {
  it("prints the brief's example with local names", () => {
    const e = set(2, binary("f64.add", get(2, "f64"), load("f64.load", get(0, "i32"), 8)));
    expect(printExpr(e, 0, ["p", undefined, "s"])).toBe("(local.set $s (f64.add (local.get $s) (f64.load offset=8 (local.get $p))))");
    expect(printExpr(e)).toBe("(local.set $l2 (f64.add (local.get $l2) (f64.load offset=8 (local.get $l0))))");
  });

  it("prints constants", () => {
    const c = (e: Expr) => printExpr(e);
    expect(c(konst("i64", -9223372036854775808n))).toBe("(i64.const -9223372036854775808)");
    expect(c(i32(-7))).toBe("(i32.const -7)");
    expect(c(f64(0.1))).toBe("(f64.const 0.1)");
    expect(c(f64(-0))).toBe("(f64.const -0)");
    expect(c(f64(Infinity))).toBe("(f64.const inf)");
    expect(c(f64(-Infinity))).toBe("(f64.const -inf)");
    expect(c(f64(5e-324))).toBe("(f64.const 5e-324)");
    expect(Number(/const (\S+)\)/.exec(c(f64(1 / 3)))![1])).toBe(1 / 3);
  });

  it("shows non-natural alignment and indents", () => {
    expect(printExpr(store("f32.store", i32(4), konst("f32", 1.5), 0, 2), 1)).toBe("  (f32.store align=2 (i32.const 4) (f32.const 1.5))");
    expect(printExpr(block([{ kind: "nop", type: "none" }], "b"), 1)).toBe("  (block $b\n    (nop)\n  )");
  });

  it("prints branches, calls and memory ops", () => {
    expect(printExpr({ kind: "br_table", type: "unreachable", labels: ["a", "b"], default: "c", index: get(0, "i32"), value: null }))
      .toBe("(br_table $a $b $c (local.get $l0))");
    expect(printExpr({ kind: "call_indirect", type: "f64", table: "t", params: ["f64"], results: ["f64"], target: i32(1), args: [f64(2)] }))
      .toBe("(call_indirect $t (param f64) (result f64) (f64.const 2) (i32.const 1))");
    expect(printExpr({ kind: "memory.fill", type: "none", dest: i32(0), value: i32(1), size: i32(2) })).toBe("(memory.fill (i32.const 0) (i32.const 1) (i32.const 2))");
    expect(printExpr({ kind: "return", type: "unreachable", value: null })).toBe("(return)");
  });
});

describe("printModule", () => {
  it("prints memory, globals, tables, data, exports and functions", () => {
    const mod: IRModule = {
      functions: [{ name: "imp", params: ["f64"], results: [], locals: ["f64"], body: null, import: { module: "env", base: "log" } }],
      globals: [{ name: "g", type: "i64", mutable: true, init: konst("i64", -5n) }],
      memory: { initial: 1, maximum: 2, exportName: "mem" },
      data: [{ offset: 16, bytes: new Uint8Array([104, 105, 0, 34, 255]) }],
      tables: [{ name: "t", initial: 2, maximum: null, segments: [{ offset: 0, funcs: ["imp"] }] }],
      exports: [{ name: "log", kind: "function", target: "imp" }],
      start: null,
    };
    expect(printModule(mod)).toBe(`(module
  (memory (export "mem") 1 2)
  (global $g (mut i64) (i64.const -5))
  (table $t 2 funcref)
  (elem (table $t) (i32.const 0) func $imp)
  (data (i32.const 16) "hi\\00\\22\\ff")
  (export "log" (func $imp))
  (func $imp (import "env" "log") (param $l0 f64))
)`);
  });
});
