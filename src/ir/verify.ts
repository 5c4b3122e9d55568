// Type and scope checker of the IR. Passes run it on what they build, so a malformed tree
// fails here, naming the function and node, instead of deep inside binaryen or at run time.
import { VerifyError } from "../errors.js";
import { binaryOps, loadOps, storeOps, unaryOps } from "./ops.js";
import { printExpr } from "./print.js";
import { isValType, typeOfCallResults } from "./types.js";
import type { Call, CallIndirect, CfgBody, Edge, Expr, IRFunction, IRGlobal, IRModule, Type, ValType } from "./types.js";
import { children } from "./walk.js";

interface Label { name: string; loop: boolean; type: Type; targeted: boolean }

/** One-line, bounded rendering of a node for messages; never throws on malformed input. */
function short(e: Expr): string {
  let s: string;
  try { s = printExpr(e).replace(/\s+/g, " "); } catch { s = `(${String((e as { kind?: unknown })?.kind)} ...)`; }
  return s.length > 120 ? s.slice(0, 117) + "..." : s;
}

/** `actual` may stand where `expected` is required: an unreachable child never completes. */
const fits = (actual: Type, expected: Type): boolean => actual === expected || actual === "unreachable";

const sameTypes = (a: readonly ValType[], b: readonly ValType[]): boolean => a.length === b.length && a.every((t, i) => t === b[i]);

class Verifier {
  private labels: Label[] = [];
  private where = "";

  constructor(private fn: IRFunction, private mod: IRModule, private funcs: Map<string, IRFunction>) {}

  private fail(msg: string, at?: Expr): never {
    const loc = this.where ? ` (${this.where})` : "";
    throw new VerifyError(`in function $${this.fn.name}${loc}: ${msg}${at ? ` at ${short(at)}` : ""}`);
  }

  run(): void {
    const { fn } = this;
    if (fn.locals.length < fn.params.length || fn.params.some((p, i) => fn.locals[i] !== p))
      this.fail(`locals [${fn.locals.join(" ")}] must start with the params [${fn.params.join(" ")}]`);
    fn.locals.forEach((t, i) => { if (!isValType(t)) this.fail(`local ${i} has invalid type ${String(t)}`); });
    if (fn.body === null) return;
    if (fn.body.kind === "cfg") return this.cfg(fn.body);
    this.visit(fn.body);
    const want = typeOfCallResults(fn.results);
    if (!fits(fn.body.type, want)) this.fail(`body has type ${fn.body.type} but the function returns ${want}`, fn.body);
  }

  private cfg(body: CfgBody): void {
    const ids = new Set<number>();
    for (const b of body.blocks) {
      if (ids.has(b.id)) this.fail(`duplicate CFG block id ${b.id}`);
      ids.add(b.id);
    }
    if (!ids.has(body.entry)) this.fail(`CFG entry ${body.entry} is not a block`);
    for (const b of body.blocks) {
      this.where = `CFG block ${b.id}`;
      for (const s of b.body) this.statement(s);
      const x = b.exit;
      switch (x.kind) {
        case "goto": this.edge(x.edge, ids); break;
        case "branch":
          this.visit(x.cond);
          if (!fits(x.cond.type, "i32")) this.fail(`branch condition has type ${x.cond.type}, expected i32`, x.cond);
          this.edge(x.then, ids); this.edge(x.else, ids);
          break;
        case "switch":
          this.visit(x.index);
          if (!fits(x.index.type, "i32")) this.fail(`switch index has type ${x.index.type}, expected i32`, x.index);
          for (const ed of x.targets) this.edge(ed, ids);
          this.edge(x.default, ids);
          break;
        case "return":
          if (x.value) this.visit(x.value);
          this.returnValue(x.value);
          break;
        case "unreachable": break;
        default: this.fail(`unknown terminator kind ${String((x as { kind?: unknown }).kind)}`);
      }
    }
    this.where = "";
  }

  private edge(ed: Edge, ids: Set<number>): void {
    if (!ids.has(ed.target)) this.fail(`edge to unknown CFG block ${ed.target}`);
    for (const s of ed.code) this.statement(s);
  }

  /** A CFG statement: no enclosing labels, and it must leave nothing on the stack. */
  private statement(s: Expr): void {
    this.labels = [];
    this.visit(s);
    if (!fits(s.type, "none")) this.fail(`statement leaves a ${s.type} value (drop it)`, s);
  }

  private localType(i: number, at: Expr): ValType {
    if (!Number.isInteger(i) || i < 0 || i >= this.fn.locals.length)
      this.fail(`local index ${i} out of range (function has ${this.fn.locals.length} locals)`, at);
    return this.fn.locals[i];
  }

  private global(name: string, at: Expr): IRGlobal {
    const g = this.mod.globals.find(x => x.name === name);
    return g ?? this.fail(`unknown global $${name}`, at);
  }

  private needMemory(at: Expr): void {
    if (!this.mod.memory) this.fail(`${at.kind === "load" || at.kind === "store" ? at.op : at.kind} needs a memory but the module has none`, at);
  }

  private child(c: Expr, want: Type, what: string, at: Expr): void {
    if (!fits(c.type, want)) this.fail(`${what} has type ${c.type}, expected ${want}`, at);
  }

  /** The node's own type field; "unreachable" is accepted when a child never completes. */
  private ownType(e: Expr, want: Type): void {
    if (e.type === want) return;
    if (e.type === "unreachable" && children(e).some(c => c.type === "unreachable")) return;
    this.fail(`node has type ${e.type} but produces ${want}`, e);
  }

  private memarg(e: Expr & { offset: number; align: number }, bytes: number): void {
    const a = e.align;
    if (!Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0 || a > bytes) this.fail(`alignment ${a} must be a power of two <= ${bytes}`, e);
    if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset > 0xffffffff) this.fail(`offset ${e.offset} is not a u32`, e);
  }

  private args(e: Call | CallIndirect, params: ValType[], callee: string): void {
    if (e.args.length !== params.length) this.fail(`call passes ${e.args.length} arguments but ${callee} takes ${params.length}`, e);
    e.args.forEach((a, i) => this.child(a, params[i], `argument ${i}`, e));
  }

  private callResults(c: Call | CallIndirect): ValType[] {
    return c.kind === "call" ? (this.funcs.get(c.func)?.results ?? []) : c.results;
  }

  private label(name: string, at: Expr): Label {
    for (let i = this.labels.length - 1; i >= 0; i--)
      if (this.labels[i].name === name) { this.labels[i].targeted = true; return this.labels[i]; }
    return this.fail(`branch to label $${name} which is not in scope`, at);
  }

  /** A branch carries a value iff its target is a block with a result. */
  private branchValue(l: Label, v: Expr | null, at: Expr): void {
    const want: Type = l.loop ? "none" : l.type;
    if (want === "none" || want === "unreachable") {
      if (v) this.fail(`branch to ${l.loop ? "loop" : "block"} $${l.name} (type ${want}) carries a value`, at);
    } else if (!v) this.fail(`branch to block $${l.name} needs a ${want} value`, at);
    else if (!fits(v.type, want)) this.fail(`branch to block $${l.name} carries ${v.type}, expected ${want}`, at);
  }

  private returnValue(v: Expr | null, at?: Expr): void {
    const rs = this.fn.results;
    if (rs.length === 0) { if (v) this.fail("return with a value from a function without results", at); return; }
    if (!v) return this.fail(`return without a value from a function returning ${rs.join(" ")}`, at);
    if (rs.length === 1) return this.child(v, rs[0], "return value", at ?? v);
    if (v.type === "unreachable") return;
    if (v.kind === "tuple.make") {
      const ts = v.values.map((x) => x.type);
      if (ts.length !== rs.length || ts.some((t, i) => t !== rs[i] && t !== "unreachable")) this.fail(`tuple.make gives [${ts.join(" ")}], expected [${rs.join(" ")}]`, at ?? v);
      return;
    }
    if ((v.kind !== "call" && v.kind !== "call_indirect") || v.type !== "tuple")
      this.fail(`return of ${rs.length} results needs a call of type tuple`, at ?? v);
    if (!sameTypes(this.callResults(v), rs)) this.fail(`returned call gives [${this.callResults(v).join(" ")}], expected [${rs.join(" ")}]`, at ?? v);
  }

  private blockType(e: Expr & { kind: "block" }, targeted: boolean): void {
    const last = e.body.length ? e.body[e.body.length - 1].type : "none";
    if (e.type === "unreachable") {
      if (targeted) this.fail("block of type unreachable is the target of a branch", e);
      if (!e.body.some(c => c.type === "unreachable")) this.fail("block of type unreachable never stops", e);
    } else if (!fits(last, e.type)) this.fail(`block of type ${e.type} ends with ${e.body.length ? last : "nothing"}`, e);
  }

  visit(e: Expr): void {
    if (!e || typeof e !== "object") this.fail(`expected an expression, found ${String(e)}`);
    switch (e.kind) {
      case "const": {
        if (!isValType(e.type)) this.fail(`const of type ${e.type}`, e);
        if (typeof e.value !== (e.type === "i64" ? "bigint" : "number")) this.fail(`${e.type}.const holds a ${typeof e.value}`, e);
        return;
      }
      case "local.get": {
        const lt = this.localType(e.local, e);
        if (e.type !== lt) this.fail(`local.get has type ${e.type} but local ${e.local} is ${lt}`, e);
        return;
      }
      case "local.set": {
        const lt = this.localType(e.local, e);
        this.visit(e.value);
        this.child(e.value, lt, `value for local ${e.local}`, e);
        return this.ownType(e, e.tee ? lt : "none");
      }
      case "tuple.make": {
        for (const x of e.values) { this.visit(x); if (!isValType(x.type) && x.type !== "unreachable") this.fail("tuple.make of a value without a type", e); }
        if (e.values.length < 2) this.fail("tuple.make needs at least two values", e);
        return this.ownType(e, "tuple");
      }
      case "tuple.set": {
        if (e.value?.kind !== "call" && e.value?.kind !== "call_indirect") this.fail("tuple.set value must be a call", e);
        this.visit(e.value);
        const rs = this.callResults(e.value);
        if (e.locals.length !== rs.length) this.fail(`tuple.set of ${e.locals.length} locals from a call with ${rs.length} results`, e);
        e.locals.forEach((l, i) => {
          const lt = this.localType(l, e);
          if (lt !== rs[i]) this.fail(`tuple.set: local ${l} is ${lt} but result ${i} is ${rs[i]}`, e);
        });
        return this.ownType(e, "none");
      }
      case "global.get": {
        const g = this.global(e.global, e);
        if (e.type !== g.type) this.fail(`global.get has type ${e.type} but $${g.name} is ${g.type}`, e);
        return;
      }
      case "global.set": {
        const g = this.global(e.global, e);
        if (!g.mutable) this.fail(`global.set of immutable global $${g.name}`, e);
        this.visit(e.value);
        this.child(e.value, g.type, "value", e);
        return this.ownType(e, "none");
      }
      case "unary": {
        const info = unaryOps[e.op] ?? this.fail(`unknown unary op ${e.op}`, e);
        this.visit(e.value);
        this.child(e.value, info.operand, `operand of ${e.op}`, e);
        return this.ownType(e, info.result);
      }
      case "binary": {
        const info = binaryOps[e.op] ?? this.fail(`unknown binary op ${e.op}`, e);
        this.visit(e.left); this.visit(e.right);
        this.child(e.left, info.operand, `left operand of ${e.op}`, e);
        this.child(e.right, info.operand, `right operand of ${e.op}`, e);
        return this.ownType(e, info.result);
      }
      case "select": {
        this.visit(e.ifTrue); this.visit(e.ifFalse); this.visit(e.cond);
        const a = e.ifTrue.type, b = e.ifFalse.type;
        if (a !== b && a !== "unreachable" && b !== "unreachable") this.fail(`select operands differ: ${a} and ${b}`, e);
        if (!isValType(e.type) && e.type !== "unreachable") this.fail(`select of type ${e.type}`, e);
        this.child(e.ifTrue, e.type, "select operand", e);
        this.child(e.ifFalse, e.type, "select operand", e);
        return this.child(e.cond, "i32", "select condition", e);
      }
      case "load": {
        const info = loadOps[e.op] ?? this.fail(`unknown load op ${e.op}`, e);
        this.needMemory(e);
        this.visit(e.addr);
        this.child(e.addr, "i32", "address", e);
        this.memarg(e, info.bytes);
        return this.ownType(e, info.type);
      }
      case "store": {
        const info = storeOps[e.op] ?? this.fail(`unknown store op ${e.op}`, e);
        this.needMemory(e);
        this.visit(e.addr); this.visit(e.value);
        this.child(e.addr, "i32", "address", e);
        this.child(e.value, info.type, `value of ${e.op}`, e);
        this.memarg(e, info.bytes);
        return this.ownType(e, "none");
      }
      case "call": {
        const f = this.funcs.get(e.func) ?? this.fail(`call to unknown function $${e.func}`, e);
        e.args.forEach(a => this.visit(a));
        this.args(e, f.params, `$${f.name}`);
        return this.ownType(e, typeOfCallResults(f.results));
      }
      case "call_indirect": {
        if (!this.mod.tables.some(t => t.name === e.table)) this.fail(`call_indirect through unknown table $${e.table}`, e);
        e.args.forEach(a => this.visit(a));
        this.visit(e.target);
        this.args(e, e.params, "the signature");
        this.child(e.target, "i32", "table index", e);
        return this.ownType(e, typeOfCallResults(e.results));
      }
      case "block": {
        const l: Label = { name: e.label ?? "", loop: false, type: e.type, targeted: false };
        if (e.label !== null) this.labels.push(l);
        e.body.forEach((c, i) => {
          this.visit(c);
          if (i < e.body.length - 1 && !fits(c.type, "none")) this.fail(`block element ${i} leaves a ${c.type} value (drop it)`, e);
        });
        if (e.label !== null) this.labels.pop();
        return this.blockType(e, l.targeted);
      }
      case "loop": {
        this.labels.push({ name: e.label, loop: true, type: e.type, targeted: false });
        this.visit(e.body);
        this.labels.pop();
        if (!fits(e.body.type, e.type)) this.fail(`loop of type ${e.type} has a body of type ${e.body.type}`, e);
        return;
      }
      case "if": {
        this.visit(e.cond); this.visit(e.then);
        if (e.else) this.visit(e.else);
        this.child(e.cond, "i32", "if condition", e);
        if (e.type === "unreachable" && e.cond.type === "unreachable") return;
        if (e.else === null) {
          if (e.type !== "none") this.fail(`if without else has type ${e.type}, expected none`, e);
          return this.child(e.then, "none", "then arm of if without else", e);
        }
        if (e.type === "unreachable") {
          if (e.then.type !== "unreachable" || e.else.type !== "unreachable") this.fail("if of type unreachable has an arm that completes", e);
          return;
        }
        this.child(e.then, e.type, "then arm", e);
        return this.child(e.else, e.type, "else arm", e);
      }
      case "br": {
        const l = this.label(e.label, e);
        if (e.value) this.visit(e.value);
        if (e.cond) this.visit(e.cond);
        this.branchValue(l, e.value, e);
        if (!e.cond) return this.ownType(e, "unreachable");
        this.child(e.cond, "i32", "br_if condition", e);
        return this.ownType(e, e.value ? e.value.type : "none");
      }
      case "br_table": {
        const ls = [...e.labels, e.default].map(n => this.label(n, e));
        if (e.value) this.visit(e.value);
        this.visit(e.index);
        for (const l of ls) this.branchValue(l, e.value, e);
        this.child(e.index, "i32", "br_table index", e);
        return this.ownType(e, "unreachable");
      }
      case "return": {
        if (e.value) this.visit(e.value);
        this.returnValue(e.value, e);
        return this.ownType(e, "unreachable");
      }
      case "unreachable": return this.ownType(e, "unreachable");
      case "nop": return this.ownType(e, "none");
      case "drop": {
        this.visit(e.value);
        if (e.value.type === "none") this.fail("drop of an expression without a value", e);
        return this.ownType(e, "none");
      }
      case "memory.size": this.needMemory(e); return this.ownType(e, "i32");
      case "memory.grow": {
        this.needMemory(e);
        this.visit(e.delta);
        this.child(e.delta, "i32", "memory.grow delta", e);
        return this.ownType(e, "i32");
      }
      case "memory.copy": case "memory.fill": {
        this.needMemory(e);
        const ops = children(e);
        ops.forEach(c => this.visit(c));
        ops.forEach((c, i) => this.child(c, "i32", `operand ${i} of ${e.kind}`, e));
        return this.ownType(e, "none");
      }
      default: this.fail(`unknown node kind ${String((e as { kind?: unknown }).kind)}`);
    }
  }
}

const funcMap = (mod: IRModule): Map<string, IRFunction> => new Map(mod.functions.map(f => [f.name, f]));

/** Throws VerifyError if fn is malformed in the context of mod. Imported functions are only checked for their locals. */
export function verifyFunction(fn: IRFunction, mod: IRModule): void {
  new Verifier(fn, mod, funcMap(mod)).run();
}

/** Checks module-level references (exports, tables, start, globals) and then every function. */
export function verifyModule(mod: IRModule): void {
  const fail = (msg: string): never => { throw new VerifyError(`in module: ${msg}`); };
  const funcs = funcMap(mod);
  const unique = (names: string[], what: string) => {
    const seen = new Set<string>();
    for (const n of names) { if (seen.has(n)) fail(`duplicate ${what} $${n}`); seen.add(n); }
  };
  unique(mod.functions.map(f => f.name), "function");
  unique(mod.globals.map(g => g.name), "global");
  unique(mod.tables.map(t => t.name), "table");
  for (const g of mod.globals) {
    if (!isValType(g.type)) fail(`global $${g.name} has invalid type ${String(g.type)}`);
    if (g.init && (g.init.kind !== "const" || g.init.type !== g.type)) fail(`global $${g.name} of type ${g.type} has an initialiser of type ${g.init.type}`);
  }
  for (const t of mod.tables)
    for (const s of t.segments)
      for (const f of s.funcs) if (!funcs.has(f)) fail(`table $${t.name} refers to unknown function $${f}`);
  if (mod.data.length && !mod.memory) fail("data segments without a memory");
  for (const x of mod.exports) {
    const ok = x.kind === "function" ? funcs.has(x.target)
      : x.kind === "global" ? mod.globals.some(g => g.name === x.target)
        : x.kind === "table" ? mod.tables.some(t => t.name === x.target) : mod.memory !== null;
    if (!ok) fail(`export "${x.name}" refers to unknown ${x.kind} ${x.target}`);
  }
  if (mod.start !== null) {
    const s = funcs.get(mod.start) ?? fail(`start function $${mod.start} does not exist`);
    if (s.params.length || s.results.length) fail(`start function $${s.name} must take and return nothing`);
  }
  for (const f of mod.functions) new Verifier(f, mod, funcs).run();
}
