// One entry point over every rule table: for a pure float node, its operands and their
// partials (built on placeholders), or a precision conversion. An op absent from every
// table is refused: absence never means zero.
import type { Expr, ValType } from "../../ir/types.js";
import { isFloat } from "../../ir/types.js";
import { placeholders } from "../context.js";
import { convertRules, floatBinaryRule, floatFromIntOps, floatUnaryRule } from "./float-arith.js";
import type { ConvertRule, MathCall, Partial } from "./rule.js";

export type NodeRule =
  | { kind: "partials"; operands: Expr[]; partials: Partial[] }
  | { kind: "convert"; operand: Expr; rule: ConvertRule }
  | { kind: "constant" };

/** The rule of a float-valued unary/binary/select node, or null when the op has none. */
export function nodeRule(e: Expr, math: MathCall): NodeRule | null {
  const t = e.type as ValType;
  if (!isFloat(t)) return { kind: "constant" };
  switch (e.kind) {
    case "unary": {
      if (floatFromIntOps.has(e.op)) return { kind: "constant" };
      if (convertRules[e.op]) return { kind: "convert", operand: e.value, rule: convertRules[e.op] };
      const r = floatUnaryRule(e.op);
      if (!r) return null;
      const ph = placeholders([t], t);
      return { kind: "partials", operands: [e.value], partials: [r.partial(ph.ops[0], ph.result, t, math)] };
    }
    case "binary": {
      const r = floatBinaryRule(e.op);
      if (!r) return null;
      const ph = placeholders([t, t], t);
      return { kind: "partials", operands: [e.left, e.right], partials: r.partials(ph.ops[0], ph.ops[1], ph.result, t, math) };
    }
    case "select": {
      // the selected operand gets the derivative; the condition is an integer
      const ph = placeholders([t, t, "i32"], t);
      const pick = (a: number, b: number): Expr => ({ kind: "select", type: t, cond: ph.ops[2], ifTrue: { kind: "const", type: t, value: a }, ifFalse: { kind: "const", type: t, value: b } });
      return { kind: "partials", operands: [e.ifTrue, e.ifFalse, e.cond], partials: [pick(1, 0), pick(0, 1), "zero"] };
    }
    default:
      return null;
  }
}
