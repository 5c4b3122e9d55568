// The only importer of "binaryen". It reads binaryen's numbering at run time (the .d.ts
// const enums inline wrong numbers, see shared/STACK.md), maps our op names to binaryen
// op ids both ways, sets features, captures validation text and decodes C++ aborts.
import binaryenDefault from "binaryen";
import { BackendError } from "../errors.js";
import type { ValType } from "../ir/types.js";

// binaryen's .d.ts lags the runtime (wrapper classes, getExceptionMessage, data segments);
// this project talks to it through this loosely typed handle only.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const B: any = binaryenDefault;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type BModule = any;
export type BRef = number;

export const FEATURES: number =
  B.Features.MVP | B.Features.MutableGlobals | B.Features.SignExt | B.Features.NontrappingFPToInt |
  B.Features.BulkMemory | B.Features.BulkMemoryOpt | B.Features.Multivalue |
  // several tables (derivative tables for call_indirect) need reference types
  B.Features.ReferenceTypes;

const cap = (s: string) => s[0].toUpperCase() + s.slice(1);
const width = (t: string) => (t === "i32" ? "Int32" : t === "i64" ? "Int64" : t === "f32" ? "Float32" : "Float64");

/** binaryen's name for one of our op names, e.g. "f64.add" → "AddFloat64", "i32.trunc_sat_f64_u" → "TruncSatUFloat64ToInt32". */
function binaryenOpName(op: string): string {
  const [t, name] = op.split(".");
  const special: Record<string, string> = {
    eqz: "EqZ", popcnt: "Popcnt", copysign: "CopySign", rotl: "RotL", rotr: "RotR",
    div_s: "DivS", div_u: "DivU", rem_s: "RemS", rem_u: "RemU", shr_s: "ShrS", shr_u: "ShrU",
    lt_s: "LtS", lt_u: "LtU", gt_s: "GtS", gt_u: "GtU", le_s: "LeS", le_u: "LeU", ge_s: "GeS", ge_u: "GeU",
    extend8_s: "ExtendS8", extend16_s: "ExtendS16", extend32_s: "ExtendS32",
  };
  if (special[name]) return special[name] + width(t);
  let m: RegExpMatchArray | null;
  if (name === "wrap_i64") return "WrapInt64";
  if ((m = name.match(/^extend_i32_([su])$/))) return `Extend${m[1].toUpperCase()}Int32`;
  if ((m = name.match(/^trunc(_sat)?_(f32|f64)_([su])$/))) return `Trunc${m[1] ? "Sat" : ""}${m[3].toUpperCase()}${width(m[2])}To${width(t)}`;
  if ((m = name.match(/^convert_(i32|i64)_([su])$/))) return `Convert${m[2].toUpperCase()}${width(m[1])}To${width(t)}`;
  if (name === "demote_f64") return "DemoteFloat64";
  if (name === "promote_f32") return "PromoteFloat32";
  if ((m = name.match(/^reinterpret_(\w+)$/))) return `Reinterpret${width(m[1])}`;
  return cap(name) + width(t);
}

function opIdTable(names: string[]): { toId: Map<string, number>; fromId: Map<number, string> } {
  const toId = new Map<string, number>(), fromId = new Map<number, string>();
  for (const n of names) {
    const id = B[binaryenOpName(n)];
    if (typeof id !== "number") throw new BackendError(`binaryen has no op ${binaryenOpName(n)} for ${n}`);
    toId.set(n, id);
    fromId.set(id, n);
  }
  return { toId, fromId };
}

let tables: { unary: ReturnType<typeof opIdTable>; binary: ReturnType<typeof opIdTable> } | null = null;
/** Op tables are built lazily from ops.ts names so a missing binaryen op fails loudly once. */
export function opTables(unaryNames: string[], binaryNames: string[]) {
  tables ??= { unary: opIdTable(unaryNames), binary: opIdTable(binaryNames) };
  return tables;
}

// (one table, not an object per call: lowering asks for a type at nearly every node)
let bTypes: Record<ValType | "none" | "unreachable", number> | null = null;
export const typeToB = (t: ValType | "none" | "unreachable"): number =>
  (bTypes ??= { i32: B.i32, i64: B.i64, f32: B.f32, f64: B.f64, none: B.none, unreachable: B.unreachable })[t];
export function typeFromB(t: number): ValType | "none" | "unreachable" {
  if (t === B.i32) return "i32";
  if (t === B.i64) return "i64";
  if (t === B.f32) return "f32";
  if (t === B.f64) return "f64";
  if (t === B.none) return "none";
  if (t === B.unreachable) return "unreachable";
  throw new BackendError(`unsupported value type ${t} (only i32, i64, f32, f64 are supported)`);
}
export const typesFromB = (t: number): ValType[] =>
  (B.expandType(t) as number[]).map((x) => typeFromB(x) as ValType);

/** Turns whatever binaryen threw (an Error, a C++ exception pointer, an abort) into a message. */
export function describeBinaryenError(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "number" && typeof B.getExceptionMessage === "function") {
    try { return String(B.getExceptionMessage(e)); } catch { /* fall through */ }
  }
  return String(e);
}

/** Runs binaryen's validator and returns its complaint text ("" when valid). */
export function validateModule(m: BModule): string {
  // outside Node (a browser) there is no stream to capture: binaryen prints to the console
  if (typeof process === "undefined" || !process.stderr) return m.validate() ? "" : "binaryen validation failed (see the console)";
  let text = "";
  const write = process.stderr.write.bind(process.stderr);
  const writeOut = process.stdout.write.bind(process.stdout);
  const capture = (chunk: unknown) => { text += String(chunk); return true; };
  // binaryen prints validation errors instead of returning them
  (process.stderr as unknown as { write: unknown }).write = capture;
  (process.stdout as unknown as { write: unknown }).write = capture;
  let ok: number;
  try { ok = m.validate(); } finally {
    (process.stderr as unknown as { write: unknown }).write = write;
    (process.stdout as unknown as { write: unknown }).write = writeOut;
  }
  return ok ? "" : text || "binaryen validation failed";
}

/** Optimizes with the given levels; binaryen's levels are process-global, so set them each time. */
export function optimizeModule(m: BModule, optimizeLevel: number, shrinkLevel = 0): void {
  B.setOptimizeLevel(optimizeLevel);
  B.setShrinkLevel(shrinkLevel);
  B.setLowMemoryUnused(false);
  m.optimize();
}

/** Runs the given passes (their internal heuristics at -O3 settings). */
export function runModulePasses(m: BModule, passes: readonly string[]): void {
  B.setOptimizeLevel(3);
  B.setShrinkLevel(0);
  B.setLowMemoryUnused(false);
  m.runPasses([...passes]);
}

/**
 * Runs `passes` function by function, with `heavy` left out of functions of more than
 * `maxLocals` locals (coalesce-locals grows with locals times their live ranges: 100 s on the
 * 9,000-local derivative of a Rust kernel at -O0, into which everything was inlined).
 */
export function runFunctionPasses(m: BModule, passes: readonly string[], heavy: string, maxLocals: number): void {
  B.setOptimizeLevel(3);
  B.setShrinkLevel(0);
  B.setLowMemoryUnused(false);
  const defined: { name: string; big: boolean }[] = [];
  for (let i = 0; i < m.getNumFunctions(); i++) {
    const info = B.getFunctionInfo(m.getFunctionByIndex(i));
    if (info.body) defined.push({ name: info.name, big: info.vars.length > maxLocals });
  }
  if (!defined.some((f) => f.big)) { m.runPasses([...passes]); return; }
  const light = passes.filter((p) => p !== heavy);
  for (const f of defined) m.runPassesOnFunction(f.name, f.big ? light : [...passes]);
}
