// The signature table of every numeric, conversion and memory op of Wasm 2.0 (MVP,
// sign extension, saturating truncation), keyed by its Wasm text name. The verifier,
// printer, interpreter, lifter and derivative rules all read this one table.
import type { ValType } from "./types.js";

export interface UnaryOpInfo { operand: ValType; result: ValType }
export interface BinaryOpInfo { operand: ValType; result: ValType }
export interface MemOpInfo { type: ValType; bytes: number; signed: boolean }

export const unaryOps: Record<string, UnaryOpInfo> = {};
export const binaryOps: Record<string, BinaryOpInfo> = {};
export const loadOps: Record<string, MemOpInfo> = {};
export const storeOps: Record<string, MemOpInfo> = {};

for (const t of ["i32", "i64"] as const) {
  for (const op of ["clz", "ctz", "popcnt"]) unaryOps[`${t}.${op}`] = { operand: t, result: t };
  unaryOps[`${t}.eqz`] = { operand: t, result: "i32" };
  for (const op of ["add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl", "rotr"])
    binaryOps[`${t}.${op}`] = { operand: t, result: t };
  for (const op of ["eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u"])
    binaryOps[`${t}.${op}`] = { operand: t, result: "i32" };
}
for (const t of ["f32", "f64"] as const) {
  for (const op of ["abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt"]) unaryOps[`${t}.${op}`] = { operand: t, result: t };
  for (const op of ["add", "sub", "mul", "div", "min", "max", "copysign"]) binaryOps[`${t}.${op}`] = { operand: t, result: t };
  for (const op of ["eq", "ne", "lt", "gt", "le", "ge"]) binaryOps[`${t}.${op}`] = { operand: t, result: "i32" };
}
const conv = (name: string, operand: ValType, result: ValType) => { unaryOps[name] = { operand, result }; };
conv("i32.wrap_i64", "i64", "i32");
conv("i64.extend_i32_s", "i32", "i64"); conv("i64.extend_i32_u", "i32", "i64");
for (const i of ["i32", "i64"] as const)
  for (const f of ["f32", "f64"] as const) {
    for (const s of ["s", "u"]) {
      conv(`${i}.trunc_${f}_${s}`, f, i);
      conv(`${i}.trunc_sat_${f}_${s}`, f, i);
      conv(`${f}.convert_${i}_${s}`, i, f);
    }
  }
conv("f32.demote_f64", "f64", "f32"); conv("f64.promote_f32", "f32", "f64");
conv("i32.reinterpret_f32", "f32", "i32"); conv("i64.reinterpret_f64", "f64", "i64");
conv("f32.reinterpret_i32", "i32", "f32"); conv("f64.reinterpret_i64", "i64", "f64");
conv("i32.extend8_s", "i32", "i32"); conv("i32.extend16_s", "i32", "i32");
conv("i64.extend8_s", "i64", "i64"); conv("i64.extend16_s", "i64", "i64"); conv("i64.extend32_s", "i64", "i64");

for (const t of ["i32", "i64", "f32", "f64"] as const) {
  const bytes = t === "i32" || t === "f32" ? 4 : 8;
  loadOps[`${t}.load`] = { type: t, bytes, signed: false };
  storeOps[`${t}.store`] = { type: t, bytes, signed: false };
}
for (const [t, widths] of [["i32", [8, 16]], ["i64", [8, 16, 32]]] as const)
  for (const w of widths) {
    loadOps[`${t}.load${w}_s`] = { type: t, bytes: w / 8, signed: true };
    loadOps[`${t}.load${w}_u`] = { type: t, bytes: w / 8, signed: false };
    storeOps[`${t}.store${w}`] = { type: t, bytes: w / 8, signed: false };
  }

export const loadOpName = (type: ValType, bytes: number, signed: boolean): string => {
  const full = type === "i32" || type === "f32" ? 4 : 8;
  return bytes === full ? `${type}.load` : `${type}.load${bytes * 8}_${signed ? "s" : "u"}`;
};
export const storeOpName = (type: ValType, bytes: number): string => {
  const full = type === "i32" || type === "f32" ? 4 : 8;
  return bytes === full ? `${type}.store` : `${type}.store${bytes * 8}`;
};
