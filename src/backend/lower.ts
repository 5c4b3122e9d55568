// Lowers an IR module to a binaryen module: structured bodies map one to one, CFG bodies
// (generated reverse sweeps) go through binaryen's Relooper, tuple.set through a tuple
// local. The caller validates, optimizes and emits (see emit.ts).
import { B, BModule, BRef, FEATURES, opTables, typeToB } from "../binaryen/adapter.js";
import { BackendError } from "../errors.js";
import { binaryOps, loadOps, storeOps, unaryOps } from "../ir/ops.js";
import type { CfgBody, Expr, IRFunction, IRModule, Terminator, Type, ValType } from "../ir/types.js";

const MEMORY = "0";
/**
 * The name loads, stores and the bulk-memory instructions give: none, which binaryen takes
 * for the module's one memory. A name costs a string copied into binaryen's heap per
 * instruction, a good part of lowering a large derivative module.
 */
const THE_MEMORY = null as unknown as string;

export function lowerModule(mod: IRModule): BModule {
  const m = new B.Module();
  m.setFeatures(FEATURES);
  const funcResults = new Map(mod.functions.map((f) => [f.name, f.results]));
  for (const g of mod.globals) {
    if (g.import) m.addGlobalImport(g.name, g.import.module, g.import.base, typeToB(g.type), g.mutable);
    else m.addGlobal(g.name, typeToB(g.type), g.mutable, lowerExpr(m, g.init!, { fn: { name: g.name, params: [], results: [], locals: [], body: null }, extraVars: [], funcResults }));
  }
  if (mod.memory) {
    const segs = mod.data.map((d, i) => ({ name: `d${i}`, data: d.bytes, offset: d.offset === null ? 0 : m.i32.const(d.offset), passive: d.offset === null }));
    m.setMemory(mod.memory.initial, mod.memory.maximum ?? -1, mod.memory.exportName ?? null, segs, false, false, MEMORY);
    if (mod.memory.import) m.addMemoryImport(MEMORY, mod.memory.import.module, mod.memory.import.base, false);
  }
  for (const f of mod.functions) {
    const params = B.createType(f.params.map(typeToB));
    const results = B.createType(f.results.map(typeToB));
    if (f.import) { m.addFunctionImport(f.name, f.import.module, f.import.base, params, results); continue; }
    const ctx: FnCtx = { fn: f, extraVars: [], funcResults };
    const body = f.body && "kind" in f.body && f.body.kind === "cfg" ? lowerCfg(m, f.body, ctx) : lowerExpr(m, f.body as Expr, ctx);
    const vars = [...f.locals.slice(f.params.length).map(typeToB), ...ctx.extraVars];
    const ref = m.addFunction(f.name, params, results, vars, body);
    f.localNames?.forEach((n, i) => { if (n) B.Function.setLocalName(ref, i, n); });
  }
  for (const t of mod.tables) {
    if (t.import) m.addTableImport(t.name, t.import.module, t.import.base);
    else m.addTable(t.name, t.initial, t.maximum ?? -1);
    t.segments.forEach((s, i) => m.addActiveElementSegment(t.name, `${t.name}_e${i}`, s.funcs, m.i32.const(s.offset)));
  }
  for (const x of mod.exports) {
    if (x.kind === "function") m.addFunctionExport(x.target, x.name);
    else if (x.kind === "global") m.addGlobalExport(x.target, x.name);
    else if (x.kind === "table") m.addTableExport(x.target, x.name);
    else if (x.kind === "memory" && !mod.memory?.exportName) m.addMemoryExport(MEMORY, x.name);
  }
  if (mod.start) m.setStart(m.getFunction(mod.start));
  return m;
}

interface FnCtx { fn: IRFunction; extraVars: number[]; funcResults: Map<string, ValType[]> }

/** Allocates a scratch local of binaryen type t beyond the IR's locals. */
function scratch(ctx: FnCtx, t: number): number {
  ctx.extraVars.push(t);
  return ctx.fn.locals.length + ctx.extraVars.length - 1;
}

const bt = (t: Type): number => (t === "tuple" ? B.auto : typeToB(t));

let ops: ReturnType<typeof opTables> | null = null;

function lowerExpr(m: BModule, e: Expr, ctx: FnCtx): BRef {
  const { unary, binary } = (ops ??= opTables(Object.keys(unaryOps), Object.keys(binaryOps)));
  const L = (x: Expr) => lowerExpr(m, x, ctx);
  const Lopt = (x: Expr | null) => (x ? L(x) : 0);
  switch (e.kind) {
    case "const":
      switch (e.type) {
        case "i32": return m.i32.const(Number(e.value));
        case "i64": return m.i64.const(BigInt(e.value));
        case "f32": return m.f32.const(Number(e.value));
        case "f64": return m.f64.const(Number(e.value));
      }
      break;
    case "local.get": return m.local.get(e.local, typeToB(e.type));
    case "local.set": return e.tee ? m.local.tee(e.local, L(e.value), typeToB(e.type as "i32")) : m.local.set(e.local, L(e.value));
    case "tuple.set": {
      const call = e.value;
      const results = call.kind === "call" ? resultsOf(ctx, call.func) : call.results;
      const tupleType = B.createType(results.map(typeToB));
      const tmp = scratch(ctx, tupleType);
      const parts = [m.local.set(tmp, L(call))];
      e.locals.forEach((loc, i) => parts.push(m.local.set(loc, m.tuple.extract(m.local.get(tmp, tupleType), i))));
      return m.block(null, parts, B.none);
    }
    case "tuple.make": return m.tuple.make(e.values.map(L));
    case "global.get": return m.global.get(e.global, typeToB(e.type));
    case "global.set": return m.global.set(e.global, L(e.value));
    case "unary": return B._BinaryenUnary(m.ptr, unary.toId.get(e.op), L(e.value));
    case "binary": return B._BinaryenBinary(m.ptr, binary.toId.get(e.op), L(e.left), L(e.right));
    case "select": return m.select(L(e.cond), L(e.ifTrue), L(e.ifFalse), typeToB(e.type));
    case "load": {
      const [t, name] = e.op.split(".");
      if (!loadOps[e.op]) throw new BackendError(`unknown load ${e.op}`);
      return m[t][name](e.offset, e.align, L(e.addr), THE_MEMORY);
    }
    case "store": {
      const [t, name] = e.op.split(".");
      if (!storeOps[e.op]) throw new BackendError(`unknown store ${e.op}`);
      return m[t][name](e.offset, e.align, L(e.addr), L(e.value), THE_MEMORY);
    }
    case "call": return m.call(e.func, e.args.map(L), e.type === "tuple" ? B.createType(resultsOf(ctx, e.func).map(typeToB)) : bt(e.type));
    case "call_indirect":
      return m.call_indirect(e.table, L(e.target), e.args.map(L), B.createType(e.params.map(typeToB)), B.createType(e.results.map(typeToB)));
    case "block": return m.block(e.label, e.body.map(L), bt(e.type));
    case "loop": return m.loop(e.label, L(e.body));
    case "if": return m.if(L(e.cond), L(e.then), Lopt(e.else));
    case "br": return m.br(e.label, Lopt(e.cond), Lopt(e.value));
    case "br_table": return m.switch(e.labels, e.default, L(e.index), Lopt(e.value));
    case "return": return m.return(Lopt(e.value));
    case "unreachable": return m.unreachable();
    case "nop": return m.nop();
    case "drop": return m.drop(L(e.value));
    case "memory.size": return m.memory.size(THE_MEMORY, false);
    case "memory.grow": return m.memory.grow(L(e.delta), THE_MEMORY, false);
    case "memory.copy": return m.memory.copy(L(e.dest), L(e.src), L(e.size), THE_MEMORY, THE_MEMORY);
    case "memory.fill": return m.memory.fill(L(e.dest), L(e.value), L(e.size), THE_MEMORY);
  }
  throw new BackendError(`cannot lower IR node ${(e as Expr).kind}`);
}

function resultsOf(ctx: FnCtx, func: string): ValType[] {
  const r = ctx.funcResults.get(func);
  if (!r) throw new BackendError(`call to unknown function ${func}`);
  return r;
}

/** Structures a CFG body with the Relooper; each edge's code runs on that edge only. */
function lowerCfg(m: BModule, cfg: CfgBody, ctx: FnCtx): BRef {
  const r = new B.Relooper(m);
  const handles = new Map<number, number>();
  const byId = new Map(cfg.blocks.map((b) => [b.id, b]));
  const code = (stmts: Expr[], tail: BRef[] = []) => {
    const parts = [...stmts.map((s) => lowerExpr(m, s, ctx)), ...tail];
    return parts.length === 0 ? m.nop() : parts.length === 1 ? parts[0] : m.block(null, parts, B.none);
  };
  for (const b of cfg.blocks) {
    const exit: Terminator = b.exit;
    if (exit.kind === "return") handles.set(b.id, r.addBlock(code(b.body, [m.return(exit.value ? lowerExpr(m, exit.value, ctx) : 0)])));
    else if (exit.kind === "unreachable") handles.set(b.id, r.addBlock(code(b.body, [m.unreachable()])));
    else if (exit.kind === "switch") handles.set(b.id, r.addBlockWithSwitch(code(b.body), lowerExpr(m, exit.index, ctx)));
    else handles.set(b.id, r.addBlock(code(b.body)));
  }
  const edgeCode = (stmts: Expr[]) => (stmts.length ? code(stmts) : 0);
  for (const b of cfg.blocks) {
    const from = handles.get(b.id)!;
    const to = (t: number) => {
      if (!byId.has(t)) throw new BackendError(`CFG edge to unknown block ${t} in ${ctx.fn.name}`);
      return handles.get(t)!;
    };
    const exit = b.exit;
    if (exit.kind === "goto") r.addBranch(from, to(exit.edge.target), 0, edgeCode(exit.edge.code));
    else if (exit.kind === "branch") {
      r.addBranch(from, to(exit.then.target), lowerExpr(m, exit.cond, ctx), edgeCode(exit.then.code));
      r.addBranch(from, to(exit.else.target), 0, edgeCode(exit.else.code));
    } else if (exit.kind === "switch") {
      // the Relooper takes one branch per target block, with all the indexes that lead there;
      // edges to one target carry the same code (edge code depends only on the block pair)
      const groups = new Map<number, { idx: number[]; code: Expr[] }>();
      exit.targets.forEach((edge, i) => {
        if (edge.target === exit.default.target) return;
        const g = groups.get(edge.target) ?? { idx: [], code: edge.code };
        g.idx.push(i);
        groups.set(edge.target, g);
      });
      for (const [target, g] of groups) r.addBranchForSwitch(from, to(target), g.idx, edgeCode(g.code));
      r.addBranchForSwitch(from, to(exit.default.target), [], edgeCode(exit.default.code));
    }
  }
  const label = scratch(ctx, B.i32);
  const rendered = r.renderAndDispose(handles.get(cfg.entry)!, label);
  // every path ends in return or unreachable; tell the validator so
  return ctx.fn.results.length ? m.block(null, [rendered, m.unreachable()], B.createType(ctx.fn.results.map(typeToB))) : rendered;
}
