// Small constructors for IR nodes that compute each node's type, so passes build
// trees without restating types (and the verifier checks what they build).
import { binaryOps, loadOps, storeOps, unaryOps } from "./ops.js";
import type { Block, Br, Call, Const, Expr, LocalGet, LocalSet, Load, Store, Type, ValType } from "./types.js";

export const konst = (type: ValType, value: number | bigint): Const =>
  ({ kind: "const", type, value: type === "i64" ? BigInt(value) : Number(value) });
export const f64 = (v: number): Const => konst("f64", v);
export const i32 = (v: number): Const => konst("i32", v | 0);
export const zero = (type: ValType): Const => konst(type, type === "i64" ? 0n : 0);
export const get = (local: number, type: ValType): LocalGet => ({ kind: "local.get", type, local });
export const set = (local: number, value: Expr): LocalSet => ({ kind: "local.set", type: "none", local, value, tee: false });
export const unary = (op: string, value: Expr): Expr => {
  const info = unaryOps[op];
  if (!info) throw new Error(`unknown unary op ${op}`);
  return { kind: "unary", type: info.result, op, value };
};
export const binary = (op: string, left: Expr, right: Expr): Expr => {
  const info = binaryOps[op];
  if (!info) throw new Error(`unknown binary op ${op}`);
  return { kind: "binary", type: info.result, op, left, right };
};
export const load = (op: string, addr: Expr, offset = 0, align?: number): Load => {
  const info = loadOps[op];
  if (!info) throw new Error(`unknown load op ${op}`);
  return { kind: "load", type: info.type, op, addr, offset, align: align ?? info.bytes };
};
export const store = (op: string, addr: Expr, value: Expr, offset = 0, align?: number): Store => {
  const info = storeOps[op];
  if (!info) throw new Error(`unknown store op ${op}`);
  return { kind: "store", type: "none", op, addr, value, offset, align: align ?? info.bytes };
};
export const call = (func: string, args: Expr[], type: Type): Call => ({ kind: "call", type, func, args });
export const block = (body: Expr[], label: string | null = null, type: Type = "none"): Block => ({ kind: "block", type, label, body });
export const br = (label: string, cond: Expr | null = null): Br => ({ kind: "br", type: cond ? "none" : "unreachable", label, cond, value: null });
export const nop = (): Expr => ({ kind: "nop", type: "none" });
export const unreachable = (): Expr => ({ kind: "unreachable", type: "unreachable" });

/** Float arithmetic shorthands, typed by the operand. */
export const fop = (name: string, t: ValType, ...args: Expr[]): Expr =>
  args.length === 1 ? unary(`${t}.${name}`, args[0]) : binary(`${t}.${name}`, args[0], args[1]);

/** A block of statements; typed "unreachable" when its last statement never completes (a function body ending in return). */
export const stmtBlock = (body: Expr[]): Block =>
  ({ kind: "block", type: body.length && body[body.length - 1].type === "unreachable" ? "unreachable" : "none", label: null, body });
