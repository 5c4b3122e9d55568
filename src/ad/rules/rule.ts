// The shape of a derivative rule: one partial derivative per operand, as IR built from
// the operands and the result (both cheap pure expressions: locals or constants). Forward
// mode sums partial · tangent over active operands; reverse mode adds partial · adjoint
// into each active operand's adjoint (always +=). "one"/"neg-one"/"zero" let the
// generators skip multiplications that binaryen might not fold for floats.
import type { Expr, ValType } from "../../ir/types.js";

export type Partial = Expr | "one" | "neg-one" | "zero";

/** Builds a call to a JS Math intrinsic (e.g. "cos") of type t; the generator adds the import. */
export type MathCall = (name: string, args: Expr[]) => Expr;

export interface UnaryRule { partial: (x: Expr, z: Expr, t: ValType, math: MathCall) => Partial }
export interface BinaryRule { partials: (x: Expr, y: Expr, z: Expr, t: ValType, math: MathCall) => [Partial, Partial] }
/** A precision conversion: the tangent converts forward with `forward`, the adjoint back with `reverse`. */
export interface ConvertRule { forward: string; reverse: string }
export interface IntrinsicRule {
  arity: number;
  partials: (args: Expr[], z: Expr, t: ValType, math: MathCall) => Partial[];
  /** Parameters that are not floats of the result's type (frexp's exponent pointer, ldexp's exponent): "i32". */
  params?: ("float" | "i32")[];
}
