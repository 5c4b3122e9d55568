// withoutUnusedFunctions: what a derivative module keeps before it is lowered to binaryen.
import { describe, expect, it } from "vitest";
import { withoutUnusedFunctions } from "../../src/backend/reachable.js";
import type { Expr, IRFunction, IRModule } from "../../src/ir/types.js";

const call = (func: string): Expr => ({ kind: "call", type: "none", func, args: [] });
const fn = (name: string, body: IRFunction["body"]): IRFunction => ({ name, params: [], results: [], locals: [], body });
const block = (...stmts: Expr[]): Expr => ({ kind: "block", type: "none", label: null, body: stmts } as unknown as Expr);

describe("withoutUnusedFunctions", () => {
  it("keeps what exports, the start function and tables reach through calls in trees and CFG bodies, and every import", () => {
    const mod: IRModule = {
      functions: [
        { ...fn("imp", null), import: { module: "env", base: "imp" } },
        fn("entry", { kind: "cfg", entry: 0, blocks: [
          { id: 0, body: [call("a")], exit: { kind: "branch", cond: { kind: "const", type: "i32", value: 1 }, then: { target: 1, code: [call("edge")] }, else: { target: 1, code: [] } } },
          { id: 1, body: [], exit: { kind: "return", value: null } }] }),
        fn("a", block(call("b"))),
        fn("b", block()),
        fn("edge", block()),
        fn("init", block()),
        fn("viaTable", block(call("c"))),
        fn("c", block()),
        fn("primal", block(call("onlyPrimal"))),
        fn("onlyPrimal", block()),
      ],
      globals: [], memory: null, data: [], start: "init",
      tables: [{ name: "t", initial: 1, maximum: null, segments: [{ offset: 0, funcs: ["viaTable"] }] }],
      exports: [{ name: "entry", kind: "function", target: "entry" }],
    };
    const kept = withoutUnusedFunctions(mod).functions.map((f) => f.name);
    expect(kept).toEqual(["imp", "entry", "a", "b", "edge", "init", "viaTable", "c"]);
  });
  it("returns the module itself when everything is used", () => {
    const mod: IRModule = { functions: [fn("f", block())], globals: [], memory: null, data: [], start: null, tables: [], exports: [{ name: "f", kind: "function", target: "f" }] };
    expect(withoutUnusedFunctions(mod)).toBe(mod);
  });
});
