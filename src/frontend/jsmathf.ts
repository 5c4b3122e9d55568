// AssemblyScript source of JSMathf, which Program.fromAssemblyScript substitutes for Mathf
// (asc --use Mathf=JSMathf), as JSMath replaces Math: the transcendental functions become
// imports of JS Math with f32 signatures, which have derivative rules, instead of software
// math compiled into the module (bit-level code without a derivative). Functions that are
// single Wasm instructions (abs, sqrt, floor, ...) stay NativeMathf's.
export const JSMATHF_SOURCE = `
export namespace JSMathf {
  @external("env", "Math.E") export declare const E: f32;
  @external("env", "Math.LN2") export declare const LN2: f32;
  @external("env", "Math.LN10") export declare const LN10: f32;
  @external("env", "Math.LOG2E") export declare const LOG2E: f32;
  @external("env", "Math.LOG10E") export declare const LOG10E: f32;
  @external("env", "Math.PI") export declare const PI: f32;
  @external("env", "Math.SQRT1_2") export declare const SQRT1_2: f32;
  @external("env", "Math.SQRT2") export declare const SQRT2: f32;
  @external("env", "Math.acos") export declare function acos(x: f32): f32;
  @external("env", "Math.acosh") export declare function acosh(x: f32): f32;
  @external("env", "Math.asin") export declare function asin(x: f32): f32;
  @external("env", "Math.asinh") export declare function asinh(x: f32): f32;
  @external("env", "Math.atan") export declare function atan(x: f32): f32;
  @external("env", "Math.atanh") export declare function atanh(x: f32): f32;
  @external("env", "Math.cbrt") export declare function cbrt(x: f32): f32;
  @external("env", "Math.cos") export declare function cos(x: f32): f32;
  @external("env", "Math.cosh") export declare function cosh(x: f32): f32;
  @external("env", "Math.exp") export declare function exp(x: f32): f32;
  @external("env", "Math.expm1") export declare function expm1(x: f32): f32;
  @external("env", "Math.log") export declare function log(x: f32): f32;
  @external("env", "Math.log10") export declare function log10(x: f32): f32;
  @external("env", "Math.log1p") export declare function log1p(x: f32): f32;
  @external("env", "Math.log2") export declare function log2(x: f32): f32;
  @external("env", "Math.sin") export declare function sin(x: f32): f32;
  @external("env", "Math.sinh") export declare function sinh(x: f32): f32;
  @external("env", "Math.tan") export declare function tan(x: f32): f32;
  @external("env", "Math.tanh") export declare function tanh(x: f32): f32;
  @external("env", "Math.atan2") export declare function atan2(x: f32, y: f32): f32;
  @external("env", "Math.hypot") export declare function hypot(x: f32, y: f32): f32;
  @external("env", "Math.pow") export declare function pow(x: f32, y: f32): f32;
  @external("env", "Math.random") export declare function random(): f32;
  // @ts-ignore: decorator
  @inline export function abs(x: f32): f32 { return NativeMathf.abs(x); }
  // @ts-ignore: decorator
  @inline export function ceil(x: f32): f32 { return NativeMathf.ceil(x); }
  // @ts-ignore: decorator
  @inline export function floor(x: f32): f32 { return NativeMathf.floor(x); }
  // @ts-ignore: decorator
  @inline export function sqrt(x: f32): f32 { return NativeMathf.sqrt(x); }
  // @ts-ignore: decorator
  @inline export function trunc(x: f32): f32 { return NativeMathf.trunc(x); }
  // @ts-ignore: decorator
  @inline export function round(x: f32): f32 { return NativeMathf.round(x); }
  // @ts-ignore: decorator
  @inline export function sign(x: f32): f32 { return NativeMathf.sign(x); }
  // @ts-ignore: decorator
  @inline export function fround(x: f32): f32 { return NativeMathf.fround(x); }
  // @ts-ignore: decorator
  @inline export function min(x: f32, y: f32): f32 { return NativeMathf.min(x, y); }
  // @ts-ignore: decorator
  @inline export function max(x: f32, y: f32): f32 { return NativeMathf.max(x, y); }
  // JS Math has no exp2
  // @ts-ignore: decorator
  @inline export function exp2(x: f32): f32 { return pow(2, x); }
  // @ts-ignore: decorator
  @inline export function signbit(x: f32): bool { return NativeMathf.signbit(x); }
  // @ts-ignore: decorator
  @inline export function clz32(x: f32): f32 { return NativeMathf.clz32(x); }
  // @ts-ignore: decorator
  @inline export function imul(x: f32, y: f32): f32 { return NativeMathf.imul(x, y); }
}
`;
