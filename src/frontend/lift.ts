// Lifts a binaryen module (read from Wasm bytes) into IR: every function, global, memory,
// table, data and element segment, export and the start function. The expression tree
// maps one to one; constructs outside Wasm 2.0's numeric core are refused with a ParseError.
import { B, BModule, BRef, describeBinaryenError, FEATURES, opTables, typeFromB, typesFromB } from "../binaryen/adapter.js";
import { ParseError } from "../errors.js";
import { binaryOps, loadOpName, storeOpName, unaryOps } from "../ir/ops.js";
import type { Expr, IRExport, IRFunction, IRGlobal, IRModule, IRTable, Type, ValType } from "../ir/types.js";
import { typeOfCallResults } from "../ir/types.js";

/** Reads Wasm bytes with binaryen. Throws ParseError for malformed input. */
export function readWasm(bytes: Uint8Array): BModule {
  if (!(bytes instanceof Uint8Array) || bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d)
    throw new ParseError("not a WebAssembly binary (missing the \\0asm header)");
  try {
    // validate with the engine first: binaryen aborts the process-wide instance on some malformed inputs
    if (!WebAssembly.validate(bytes as BufferSource)) throw new ParseError("malformed WebAssembly binary (WebAssembly.validate rejected it)");
    const m = B.readBinary(bytes);
    m.setFeatures(FEATURES);
    return m;
  } catch (e) {
    if (e instanceof ParseError) throw e;
    throw new ParseError(`cannot read the WebAssembly binary: ${describeBinaryenError(e)}`);
  }
}

/** binaryen's ssa pass: every local.set writes a fresh local (merges get their own locals). */
export function splitLocals(m: BModule): void {
  try {
    m.runPasses(["ssa"]);
  } catch (e) {
    throw new ParseError(`cannot prepare the module: ${describeBinaryenError(e)}`);
  }
}

export function liftModule(m: BModule): IRModule {
  const { unary, binary } = opTables(Object.keys(unaryOps), Object.keys(binaryOps));
  const ids = {
    block: B.BlockId, if: B.IfId, loop: B.LoopId, br: B.BreakId, switch: B.SwitchId, call: B.CallId,
    callIndirect: B.CallIndirectId, localGet: B.LocalGetId, localSet: B.LocalSetId, globalGet: B.GlobalGetId,
    globalSet: B.GlobalSetId, load: B.LoadId, store: B.StoreId, const: B.ConstId, unary: B.UnaryId,
    binary: B.BinaryId, select: B.SelectId, drop: B.DropId, return: B.ReturnId, memorySize: B.MemorySizeId,
    memoryGrow: B.MemoryGrowId, nop: B.NopId, unreachable: B.UnreachableId, memoryCopy: B.MemoryCopyId,
    memoryFill: B.MemoryFillId, tupleMake: B.TupleMakeId,
  };
  const funcs: IRFunction[] = [];
  const fnResults = new Map<string, ValType[]>();
  const n = m.getNumFunctions();
  const infos: { name: string; info: Record<string, unknown> }[] = [];
  for (let i = 0; i < n; i++) {
    const info = B.getFunctionInfo(m.getFunctionByIndex(i));
    infos.push({ name: info.name, info });
    fnResults.set(info.name, typesFromB(info.results));
  }

  for (const { name, info } of infos) {
    let params: ValType[], results: ValType[], vars: ValType[];
    try {
      params = typesFromB(info.params as number);
      results = typesFromB(info.results as number);
      vars = (info.vars as number[]).map((t) => typeFromB(t) as ValType);
    } catch {
      throw new ParseError(`function ${name}: a parameter, result or local has an unsupported type (only i32, i64, f32 and f64 are supported; SIMD and reference types are not)`);
    }
    const fn: IRFunction = { name, params, results, locals: [...params, ...vars], body: null };
    const ref = m.getFunction(name);
    // local names from the name section make printed IR and error messages readable
    fn.localNames = fn.locals.map((_, i) => (B.Function.hasLocalName(ref, i) ? String(B.Function.getLocalName(ref, i)) : undefined));
    if (info.module) { fn.import = { module: info.module as string, base: info.base as string }; funcs.push(fn); continue; }
    const where = (what: string) => `function ${name}: ${what}`;
    const lift = (ref: BRef): Expr => {
      const id = B.getExpressionId(ref);
      if (id === ids.nop) return { kind: "nop", type: "none" };
      if (id === ids.unreachable) return { kind: "unreachable", type: "unreachable" };
      const e = B.getExpressionInfo(ref);
      const type = typeFromBAny(e.type, where);
      const opt = (r: BRef) => (r ? lift(r) : null);
      switch (id) {
        case ids.block: return { kind: "block", type, label: e.name || null, body: (e.children as BRef[]).map(lift) };
        case ids.if: return { kind: "if", type, cond: lift(e.condition), then: lift(e.ifTrue), else: opt(e.ifFalse) };
        case ids.loop: return { kind: "loop", type, label: e.name, body: lift(e.body) };
        case ids.br: return { kind: "br", type, label: e.name, cond: opt(e.condition), value: opt(e.value) };
        case ids.switch: return { kind: "br_table", type: "unreachable", labels: e.names, default: e.defaultName, index: lift(e.condition), value: opt(e.value) };
        case ids.call:
          if (e.isReturn) throw new ParseError(where("return_call (tail calls) is not supported"));
          return { kind: "call", type: typeOfCallResults(fnResults.get(e.target) ?? []), func: e.target, args: (e.operands as BRef[]).map(lift) };
        case ids.callIndirect: {
          if (e.isReturn) throw new ParseError(where("return_call_indirect (tail calls) is not supported"));
          const results = typesFromB(e.results);
          return { kind: "call_indirect", type: typeOfCallResults(results), table: e.table, params: typesFromB(e.params), results, target: lift(e.target), args: (e.operands as BRef[]).map(lift) };
        }
        case ids.localGet: return { kind: "local.get", type: fn.locals[e.index], local: e.index };
        case ids.localSet: return { kind: "local.set", type: e.isTee ? fn.locals[e.index] : "none", local: e.index, value: lift(e.value), tee: e.isTee };
        case ids.globalGet: return { kind: "global.get", type: type as ValType, global: e.name };
        case ids.globalSet: return { kind: "global.set", type: "none", global: e.name, value: lift(e.value) };
        case ids.load:
          if (e.isAtomic) throw new ParseError(where("atomic loads (threads) are not supported"));
          return { kind: "load", type: type as ValType, op: loadOpName(type as ValType, e.bytes, e.isSigned), addr: lift(e.ptr), offset: e.offset, align: e.align };
        case ids.store:
          if (e.isAtomic) throw new ParseError(where("atomic stores (threads) are not supported"));
          return { kind: "store", type: "none", op: storeOpName(typeFromB(e.valueType) as ValType, e.bytes), addr: lift(e.ptr), value: lift(e.value), offset: e.offset, align: e.align };
        case ids.const: return { kind: "const", type: type as ValType, value: type === "i64" ? BigInt(e.value) : e.value };
        case ids.unary: {
          const op = unary.fromId.get(e.op);
          if (!op || unaryOps[op].result !== type) throw new ParseError(where(`unsupported unary operation (binaryen op ${e.op})`));
          return { kind: "unary", type: type as ValType, op, value: lift(e.value) };
        }
        case ids.binary: {
          const op = binary.fromId.get(e.op);
          if (!op || binaryOps[op].result !== type) throw new ParseError(where(`unsupported binary operation (binaryen op ${e.op})`));
          return { kind: "binary", type: type as ValType, op, left: lift(e.left), right: lift(e.right) };
        }
        case ids.select: return { kind: "select", type: type as ValType, cond: lift(e.condition), ifTrue: lift(e.ifTrue), ifFalse: lift(e.ifFalse) };
        case ids.drop: return { kind: "drop", type: "none", value: lift(e.value) };
        case ids.return: return { kind: "return", type: "unreachable", value: opt(e.value) };
        case ids.memorySize: return { kind: "memory.size", type: "i32" };
        case ids.memoryGrow: return { kind: "memory.grow", type: "i32", delta: lift(e.delta) };
        case ids.memoryCopy: return { kind: "memory.copy", type: "none", dest: lift(e.dest), src: lift(e.source), size: lift(e.size) };
        case ids.memoryFill: return { kind: "memory.fill", type: "none", dest: lift(e.dest), value: lift(e.value), size: lift(e.size) };
        // several results (e.g. a forward rule's value and tangent) returned together
        case ids.tupleMake: return { kind: "tuple.make", type: "tuple", values: (e.operands as BRef[]).map(lift) };
        default:
          throw new ParseError(where(`unsupported instruction (binaryen expression id ${id}); only Wasm 2.0 numeric code without SIMD, atomics, exceptions or GC is supported`));
      }
    };
    try {
      fn.body = lift(info.body as BRef);
    } catch (e) {
      if (e instanceof ParseError) throw e;
      throw new ParseError(where(describeBinaryenError(e)));
    }
    funcs.push(fn);
  }

  const globals: IRGlobal[] = [];
  for (let i = 0; i < m.getNumGlobals(); i++) {
    const g = B.getGlobalInfo(m.getGlobalByIndex(i));
    const type = typeFromB(g.type) as ValType;
    const glob: IRGlobal = { name: g.name, type, mutable: g.mutable, init: null };
    if (g.module) glob.import = { module: g.module, base: g.base };
    else {
      if (B.getExpressionId(g.init) !== B.ConstId) throw new ParseError(`global ${g.name}: only constant initialisers are supported`);
      const v = B.getExpressionInfo(g.init).value;
      glob.init = { kind: "const", type, value: type === "i64" ? BigInt(v) : v };
    }
    globals.push(glob);
  }

  let memory: IRModule["memory"] = null;
  if (m.hasMemory()) {
    const mi = m.getMemoryInfo();
    if (mi.shared) throw new ParseError("shared memory (threads) is not supported");
    if (mi.is64) throw new ParseError("memory64 is not supported");
    memory = { initial: mi.initial, maximum: mi.max ?? null };
    if (mi.module) memory.import = { module: mi.module, base: mi.base };
  }

  const data: IRModule["data"] = [];
  for (let i = 0; i < m.getNumDataSegments(); i++) {
    const d = m.getDataSegmentInfo(m.getDataSegmentByIndex(i));
    data.push({ offset: d.passive ? null : d.offset, bytes: new Uint8Array(d.data.slice(0)) });
  }

  const tables: IRTable[] = [];
  for (let i = 0; i < m.getNumTables(); i++) {
    const t = B.getTableInfo(m.getTableByIndex(i));
    const table: IRTable = { name: t.name, initial: t.initial, maximum: t.max ?? null, segments: [] };
    if (t.module) table.import = { module: t.module, base: t.base };
    tables.push(table);
  }
  for (let i = 0; i < m.getNumElementSegments(); i++) {
    const s = B.getElementSegmentInfo(m.getElementSegmentByIndex(i));
    const table = tables.find((t) => t.name === s.table);
    if (!table || !s.offset || B.getExpressionId(s.offset) !== B.ConstId) throw new ParseError("only active element segments with constant offsets are supported");
    table.segments.push({ offset: B.getExpressionInfo(s.offset).value, funcs: s.data });
  }

  const kinds: Record<number, IRExport["kind"]> = {
    [B.ExternalFunction]: "function", [B.ExternalGlobal]: "global", [B.ExternalMemory]: "memory", [B.ExternalTable]: "table",
  };
  const exports: IRExport[] = [];
  for (let i = 0; i < m.getNumExports(); i++) {
    const x = B.getExportInfo(m.getExportByIndex(i));
    const kind = kinds[x.kind];
    if (!kind) throw new ParseError(`export ${x.name}: unsupported export kind`);
    exports.push({ name: x.name, kind, target: x.value });
    if (kind === "memory" && memory) memory.exportName = x.name;
  }
  const startRef = m.getStart();
  const start = startRef ? (B.getFunctionInfo(startRef).name as string) : null;
  return { functions: funcs, globals, memory, data, tables, exports, start };
}

function typeFromBAny(t: number, where: (s: string) => string): Type {
  try {
    const expanded = B.expandType(t) as number[];
    if (expanded.length > 1) return "tuple";
    return typeFromB(t);
  } catch {
    throw new ParseError(where(`unsupported value type (only i32, i64, f32 and f64 values are supported; SIMD and reference types are not)`));
  }
}
