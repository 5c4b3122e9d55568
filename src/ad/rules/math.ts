// Derivative rules of the JS Math functions a module may import from "Math" (the
// intrinsics of shared/DESIGN.md). Each row gives the partials of z = f(args).
import { binary, konst, unary } from "../../ir/builder.js";
import type { Expr, ValType } from "../../ir/types.js";
import type { IntrinsicRule } from "./rule.js";

const c = (t: ValType, v: number) => konst(t, v);
const add = (t: ValType, a: Expr, b: Expr) => binary(`${t}.add`, a, b);
const sub = (t: ValType, a: Expr, b: Expr) => binary(`${t}.sub`, a, b);
const mul = (t: ValType, a: Expr, b: Expr) => binary(`${t}.mul`, a, b);
const div = (t: ValType, a: Expr, b: Expr) => binary(`${t}.div`, a, b);
const neg = (t: ValType, a: Expr) => unary(`${t}.neg`, a);
const sqrt = (t: ValType, a: Expr) => unary(`${t}.sqrt`, a);
const recip = (t: ValType, a: Expr) => div(t, c(t, 1), a);
const sq = (t: ValType, a: Expr) => mul(t, a, a);
const zeroRule: IntrinsicRule = { arity: 1, partials: () => ["zero"] };

export const mathRules: Record<string, IntrinsicRule> = {
  exp: { arity: 1, partials: (_a, z) => [z] },
  // not in JS Math: reached by AssemblyScript's NativeMath.exp2 / NativeMathf.exp2 kept as functions
  exp2: { arity: 1, partials: (_a, z, t) => [mul(t, z, c(t, Math.LN2))] },
  // expm1(x) = e^x - 1, derivative e^x = z + 1
  expm1: { arity: 1, partials: (_a, z, t) => [add(t, z, c(t, 1))] },
  log: { arity: 1, partials: ([x], _z, t) => [recip(t, x)] },
  log1p: { arity: 1, partials: ([x], _z, t) => [recip(t, add(t, x, c(t, 1)))] },
  log2: { arity: 1, partials: ([x], _z, t) => [recip(t, mul(t, x, c(t, Math.LN2)))] },
  log10: { arity: 1, partials: ([x], _z, t) => [recip(t, mul(t, x, c(t, Math.LN10)))] },
  sqrt: { arity: 1, partials: (_a, z, t) => [div(t, c(t, 0.5), z)] },
  // cbrt' = 1 / (3 cbrt(x)^2)
  cbrt: { arity: 1, partials: (_a, z, t) => [recip(t, mul(t, c(t, 3), sq(t, z)))] },
  sin: { arity: 1, partials: ([x], _z, _t, m) => [m("cos", [x])] },
  cos: { arity: 1, partials: ([x], _z, t, m) => [neg(t, m("sin", [x]))] },
  // tan' = 1 + tan^2
  tan: { arity: 1, partials: (_a, z, t) => [add(t, c(t, 1), sq(t, z))] },
  asin: { arity: 1, partials: ([x], _z, t) => [recip(t, sqrt(t, sub(t, c(t, 1), sq(t, x))))] },
  acos: { arity: 1, partials: ([x], _z, t) => [neg(t, recip(t, sqrt(t, sub(t, c(t, 1), sq(t, x)))))] },
  atan: { arity: 1, partials: ([x], _z, t) => [recip(t, add(t, c(t, 1), sq(t, x)))] },
  sinh: { arity: 1, partials: ([x], _z, _t, m) => [m("cosh", [x])] },
  cosh: { arity: 1, partials: ([x], _z, _t, m) => [m("sinh", [x])] },
  // tanh' = 1 - tanh^2
  tanh: { arity: 1, partials: (_a, z, t) => [sub(t, c(t, 1), sq(t, z))] },
  asinh: { arity: 1, partials: ([x], _z, t) => [recip(t, sqrt(t, add(t, sq(t, x), c(t, 1))))] },
  acosh: { arity: 1, partials: ([x], _z, t) => [recip(t, sqrt(t, sub(t, sq(t, x), c(t, 1))))] },
  atanh: { arity: 1, partials: ([x], _z, t) => [recip(t, sub(t, c(t, 1), sq(t, x)))] },
  // atan2(y, x): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2), computed as (x/r)/r with
  // r = hypot(x, y) so that tiny arguments do not underflow x^2 + y^2 to zero
  atan2: { arity: 2, partials: ([y, x], _z, t, m) => [div(t, div(t, x, m("hypot", [x, y])), m("hypot", [x, y])), neg(t, div(t, div(t, y, m("hypot", [x, y])), m("hypot", [x, y])))] },
  // hypot(x, y) = sqrt(x^2 + y^2): d/dx = x / z, d/dy = y / z
  hypot: { arity: 2, partials: ([x, y], z, t) => [div(t, x, z), div(t, y, z)] },
  // pow(x, y) = x^y: d/dx = y x^(y-1); d/dy = x^y log x, taken as 0 where x <= 0 (log undefined there)
  pow: {
    arity: 2,
    partials: ([x, y], z, t, m) => [
      // x^0 = 1 for every x: d/dx is 0 when y = 0 (y x^(y-1) would be 0 · inf at x = 0)
      { kind: "select", type: t, cond: binary(`${t}.eq`, y, c(t, 0)), ifTrue: c(t, 0), ifFalse: mul(t, y, m("pow", [x, sub(t, y, c(t, 1))])) },
      { kind: "select", type: t, cond: binary(`${t}.gt`, x, c(t, 0)), ifTrue: mul(t, z, m("log", [x])), ifFalse: c(t, 0) },
    ],
  },
  // the operand that is selected gets the derivative; ties go to the first operand
  min: { arity: 2, partials: ([x, y], _z, t) => [sel(t, binary(`${t}.le`, x, y)), sel(t, binary(`${t}.gt`, x, y))] },
  max: { arity: 2, partials: ([x, y], _z, t) => [sel(t, binary(`${t}.ge`, x, y)), sel(t, binary(`${t}.lt`, x, y))] },
  abs: { arity: 1, partials: ([x], _z, t) => [binary(`${t}.copysign`, c(t, 1), x)] },
  // piecewise constant functions: zero almost everywhere
  floor: zeroRule, ceil: zeroRule, round: zeroRule, trunc: zeroRule, sign: zeroRule,
  fround: { arity: 1, partials: () => ["one"] },
};

/** Software math compiled into modules (C's libm, AssemblyScript's NativeMath) beyond JS Math's functions. */
export const nativeMathRules: Record<string, IntrinsicRule> = {
  ...mathRules,
  // fmod (C, and AssemblyScript's NativeMath.mod): x − trunc(x / y)·y
  fmod: { arity: 2, partials: ([x, y], _z, t) => ["one", neg(t, unary(`${t}.trunc`, div(t, x, y)))] },
  // frexp(x, &e) = x · 2^−e with e piecewise constant: ∂/∂x = z / x (0 at x = 0, where e jumps)
  frexp: { arity: 2, params: ["float", "i32"], partials: ([x], z, t) => [{ kind: "select", type: t, cond: binary(`${t}.ne`, x, c(t, 0)), ifTrue: div(t, z, x), ifFalse: c(t, 0) }, "zero"] },
  // ldexp(x, n) = scalbn(x, n) = x · 2^n: ∂/∂x = 2^n (exact: a power of two), nothing for the integer
  ldexp: { arity: 2, params: ["float", "i32"], partials: ([_x, n], _z, t, m) => [m("pow", [c(t, 2), unary(`${t}.convert_i32_s`, n)]), "zero"] },
  scalbn: { arity: 2, params: ["float", "i32"], partials: ([_x, n], _z, t, m) => [m("pow", [c(t, 2), unary(`${t}.convert_i32_s`, n)]), "zero"] },
};

function sel(t: ValType, cond: Expr): Expr {
  return { kind: "select", type: t, cond, ifTrue: c(t, 1), ifFalse: c(t, 0) };
}
