// Derivative rules of Wasm's float instructions (f32 and f64), one row per op; the
// forward and the adjoint rule of a row are the same partials. Ops whose result is an
// integer (comparisons, truncations to int) carry no derivative and are not listed here:
// the activity analysis never marks integer values active.
import { binary, konst, unary } from "../../ir/builder.js";
import type { Expr, ValType } from "../../ir/types.js";
import type { BinaryRule, ConvertRule, UnaryRule } from "./rule.js";

const c = (t: ValType, v: number) => konst(t, v);
const op = (name: string, t: ValType) => `${t}.${name}`;
const mul = (t: ValType, a: Expr, b: Expr) => binary(op("mul", t), a, b);
const div = (t: ValType, a: Expr, b: Expr) => binary(op("div", t), a, b);
/** 1.0 where cond holds, else 0.0 */
const indicator = (t: ValType, cond: Expr) => ({ kind: "select", type: t, cond, ifTrue: c(t, 1), ifFalse: c(t, 0) }) as Expr;

type FloatUnary = "abs" | "neg" | "sqrt" | "ceil" | "floor" | "trunc" | "nearest";
type FloatBinary = "add" | "sub" | "mul" | "div" | "min" | "max" | "copysign";

export const floatUnaryRules: { [K in FloatUnary]: UnaryRule } = {
  neg: { partial: () => "neg-one" },
  // d|x|/dx = sign(x); at 0 we take +1 (copysign(1, +0)), a subgradient
  abs: { partial: (x, _z, t) => binary(op("copysign", t), c(t, 1), x) },
  // d sqrt(x) = 1 / (2 sqrt(x))
  sqrt: { partial: (_x, z, t) => div(t, c(t, 0.5), z) },
  // piecewise constant: zero almost everywhere
  ceil: { partial: () => "zero" },
  floor: { partial: () => "zero" },
  trunc: { partial: () => "zero" },
  nearest: { partial: () => "zero" },
};

export const floatBinaryRules: { [K in FloatBinary]: BinaryRule } = {
  add: { partials: () => ["one", "one"] },
  sub: { partials: () => ["one", "neg-one"] },
  mul: { partials: (x, y) => [y, x] },
  // z = x / y: dz/dx = 1/y, dz/dy = -z/y
  div: { partials: (_x, y, z, t) => [div(t, c(t, 1), y), unary(op("neg", t), div(t, z, y))] },
  // the operand that is selected gets the derivative; ties go to the first operand
  min: { partials: (x, y, _z, t) => [indicator(t, binary(op("le", t), x, y)), indicator(t, binary(op("gt", t), x, y))] },
  max: { partials: (x, y, _z, t) => [indicator(t, binary(op("ge", t), x, y)), indicator(t, binary(op("lt", t), x, y))] },
  // copysign(x, y) = |x| sign(y): d/dx = sign(x) sign(y); the sign of y is piecewise constant
  copysign: { partials: (x, y, _z, t) => [mul(t, binary(op("copysign", t), c(t, 1), x), binary(op("copysign", t), c(t, 1), y)), "zero"] },
};

/** Precision changes are linear: the tangent converts like the value, the adjoint converts back. */
export const convertRules: Record<string, ConvertRule> = {
  "f64.promote_f32": { forward: "f64.promote_f32", reverse: "f32.demote_f64" },
  "f32.demote_f64": { forward: "f32.demote_f64", reverse: "f64.promote_f32" },
};

/** Float results computed from integers carry no derivative (their operands are never active). */
export const floatFromIntOps = new Set(
  ["f32", "f64"].flatMap((f) => ["i32", "i64"].flatMap((i) => [`${f}.convert_${i}_s`, `${f}.convert_${i}_u`, `${f}.reinterpret_${i}`])),
);

/** Integer results of float operands: no derivative flows through them (zero almost everywhere or a bit pattern). */
export const floatToIntOps = {
  zero: new Set(["i32", "i64"].flatMap((i) => ["f32", "f64"].flatMap((f) => [`${i}.trunc_${f}_s`, `${i}.trunc_${f}_u`, `${i}.trunc_sat_${f}_s`, `${i}.trunc_sat_${f}_u`]))),
  /** Reading the bits of an active float has no derivative at the instruction level: refused. */
  refused: new Set(["i32.reinterpret_f32", "i64.reinterpret_f64"]),
};

export function floatUnaryRule(opName: string): UnaryRule | undefined {
  const [, name] = opName.split(".");
  return (floatUnaryRules as Record<string, UnaryRule>)[name];
}
export function floatBinaryRule(opName: string): BinaryRule | undefined {
  const [, name] = opName.split(".");
  return (floatBinaryRules as Record<string, BinaryRule>)[name];
}
