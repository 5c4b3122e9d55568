// Definite assignment (src/ir/definite-assignment.ts): the inliner resets a callee's local to
// zero only where a read may see the reset, so every case here would be a wrong constant (and
// a wrong frame word) if the analysis were too generous.
import { describe, expect, it } from "vitest";
import { binary, block, br, get, i32, set, store } from "../../src/ir/builder.js";
import { assignedBeforeRead } from "../../src/ir/definite-assignment.js";
import type { Expr } from "../../src/ir/types.js";

const ifElse = (cond: Expr, then: Expr, els: Expr | null): Expr => ({ kind: "if", type: "none", cond, then, else: els });
const loop = (label: string, body: Expr): Expr => ({ kind: "loop", type: "none", label, body });
const use = (l: number) => store("i32.store", i32(0), get(l, "i32"));

describe("assignedBeforeRead", () => {
  it("straight-line code: assigned before the read, not where the read comes first", () => {
    const got = assignedBeforeRead(block([set(1, i32(4)), use(1), use(2), set(2, i32(8)), set(3, get(1, "i32"))]));
    expect([...got].sort()).toEqual([1, 3]);
  });

  it("both arms of an if assign: assigned after it; one arm only: not", () => {
    const got = assignedBeforeRead(block([ifElse(get(0, "i32"), set(1, i32(1)), set(1, i32(2))), ifElse(get(0, "i32"), set(2, i32(1)), null), use(1), use(2)]));
    expect(got.has(1)).toBe(true);
    expect(got.has(2)).toBe(false);
  });

  it("a branch out of a block before the assignment: not assigned after the block", () => {
    const got = assignedBeforeRead(block([block([br("b", get(0, "i32")), set(1, i32(1))], "b"), use(1), block([set(2, i32(1)), br("c", get(0, "i32"))], "c"), use(2)]));
    expect(got.has(1)).toBe(false);
    expect(got.has(2)).toBe(true);
  });

  it("a loop: a read before the assignment in its body sees the previous value (or the reset) on the first run", () => {
    const body = block([use(1), set(1, binary("i32.add", get(1, "i32"), i32(1))), set(2, i32(3)), use(2), br("L", get(0, "i32"))]);
    const got = assignedBeforeRead(block([loop("L", body)]));
    expect(got.has(1)).toBe(false);
    expect(got.has(2)).toBe(true);
  });

  it("code after a return or an unconditional branch reads nothing", () => {
    const got = assignedBeforeRead(block([block([br("out"), use(1)], "out"), set(1, i32(2)), use(1)]));
    expect(got.has(1)).toBe(true);
  });
});
