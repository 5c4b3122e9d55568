// Activity constructors and differentiation modes of the public API (Enzyme's names).
import { ArgumentError } from "../errors.js";
import { WasmArray } from "./wasm-array.js";

export type Scalar = number | bigint;
export type Buffer = ArrayBufferView | WasmArray;

export type Annotated =
  | { readonly activity: "const"; readonly value: Scalar | Buffer }
  | { readonly activity: "active"; readonly value: number }
  | { readonly activity: "duplicated"; readonly value: Scalar | Buffer; readonly shadow: number | Buffer; readonly noNeed: boolean }
  | { readonly activity: "batch"; readonly value: Scalar | Buffer; readonly shadows: readonly (number | Buffer)[] };

/** An argument that carries no derivative. */
export const Const = (value: Scalar | Buffer): Annotated => ({ activity: "const", value });
/** A float argument whose derivative comes back in r.derivs (reverse mode). */
export const Active = (value: number): Annotated => {
  if (typeof value !== "number") throw new ArgumentError(`Active takes a number, got ${describe(value)}; use Duplicated(buffer, shadow) for arrays`);
  return { activity: "active", value };
};
/** A buffer with its shadow (reverse: seeds in, gradient out; forward: tangents in and out), or a float with its tangent (forward). */
export const Duplicated = (value: Scalar | Buffer, shadow: number | Buffer): Annotated => ({ activity: "duplicated", value, shadow, noNeed: false });
/** Like Duplicated; the primal contents of the buffer may be left uncomputed. */
export const DuplicatedNoNeed = (value: Scalar | Buffer, shadow: number | Buffer): Annotated => ({ activity: "duplicated", value, shadow, noNeed: true });
/** k shadows at once (vector mode). */
export const BatchDuplicated = (value: Scalar | Buffer, shadows: readonly (number | Buffer)[]): Annotated => ({ activity: "batch", value, shadows });

export interface Mode { readonly kind: "forward" | "reverse"; readonly withPrimal: boolean; readonly name: string }
export const Forward: Mode = Object.freeze({ kind: "forward", withPrimal: false, name: "Forward" });
export const ForwardWithPrimal: Mode = Object.freeze({ kind: "forward", withPrimal: true, name: "ForwardWithPrimal" });
export const Reverse: Mode = Object.freeze({ kind: "reverse", withPrimal: false, name: "Reverse" });
export const ReverseWithPrimal: Mode = Object.freeze({ kind: "reverse", withPrimal: true, name: "ReverseWithPrimal" });

export function isAnnotated(x: unknown): x is Annotated {
  return typeof x === "object" && x !== null && "activity" in x && !ArrayBuffer.isView(x) && !(x instanceof WasmArray);
}

export function describe(x: unknown): string {
  if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${(x as { length?: number }).length ?? x.byteLength})`;
  if (x instanceof WasmArray) return String(x);
  if (isAnnotated(x)) return `${x.activity}(...)`;
  return typeof x === "object" ? String(x) : `${typeof x} ${String(x)}`;
}
