// Text form of the IR in a WAT-like S-expression syntax, for debugging, golden tests and
// error messages. The output is a pure function of the tree, so it is deterministic.
import { loadOps, storeOps } from "./ops.js";
import type { CfgBody, Const, Edge, Expr, IRFunction, IRModule, Terminator, Type, ValType } from "./types.js";

type Names = readonly (string | undefined)[] | undefined;

const indent = (s: string, n = 1): string => {
  const pad = "  ".repeat(n);
  return s.split("\n").map(l => (l ? pad + l : l)).join("\n");
};

/** `(head kids...)` on one line unless a child is itself multi-line. */
const sexp = (head: string, kids: string[]): string =>
  kids.some(k => k.includes("\n")) ? multi(head, kids) : `(${[head, ...kids].join(" ")})`;

const multi = (head: string, kids: string[]): string =>
  kids.length === 0 ? `(${head})` : `(${head}\n${kids.map(k => indent(k)).join("\n")}\n)`;

const result = (t: Type): string => (t === "none" || t === "unreachable" ? "" : ` (result ${t})`);

/** Shortest text that reads back to the same double (String() round-trips); -0 and non-finite spelled out. */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "inf";
  if (v === -Infinity) return "-inf";
  if (Object.is(v, -0)) return "-0";
  return String(v);
}

const constText = (c: Const): string =>
  c.type === "f32" || c.type === "f64" ? formatFloat(Number(c.value)) : String(c.value);

const localRef = (i: number, names: Names): string => {
  const n = names?.[i];
  return n ? `$${n}` : `$l${i}`;
};

const memarg = (off: number, align: number, natural: number | undefined): string =>
  (off ? ` offset=${off}` : "") + (align !== natural ? ` align=${align}` : "");

const sig = (params: ValType[], results: ValType[]): string =>
  (params.length ? ` (param ${params.join(" ")})` : "") + (results.length ? ` (result ${results.join(" ")})` : "");

function fmt(e: Expr, names: Names): string {
  const p = (x: Expr) => fmt(x, names);
  const opt = (x: Expr | null) => (x ? [p(x)] : []);
  switch (e.kind) {
    case "const": return `(${e.type}.const ${constText(e)})`;
    case "local.get": return `(local.get ${localRef(e.local, names)})`;
    case "local.set": return sexp(`${e.tee ? "local.tee" : "local.set"} ${localRef(e.local, names)}`, [p(e.value)]);
    case "tuple.set": return sexp(`tuple.set ${e.locals.map(l => localRef(l, names)).join(" ")}`, [p(e.value)]);
    case "global.get": return `(global.get $${e.global})`;
    case "global.set": return sexp(`global.set $${e.global}`, [p(e.value)]);
    case "unary": return sexp(e.op, [p(e.value)]);
    case "binary": return sexp(e.op, [p(e.left), p(e.right)]);
    case "select": return sexp("select", [p(e.ifTrue), p(e.ifFalse), p(e.cond)]);
    case "load": return sexp(e.op + memarg(e.offset, e.align, loadOps[e.op]?.bytes), [p(e.addr)]);
    case "store": return sexp(e.op + memarg(e.offset, e.align, storeOps[e.op]?.bytes), [p(e.addr), p(e.value)]);
    case "call": return sexp(`call $${e.func}`, e.args.map(p));
    case "tuple.make": return sexp("tuple.make", e.values.map(p));
    case "call_indirect": return sexp(`call_indirect $${e.table}${sig(e.params, e.results)}`, [...e.args.map(p), p(e.target)]);
    case "block": return multi(`block${e.label !== null ? ` $${e.label}` : ""}${result(e.type)}`, e.body.map(p));
    case "loop": return multi(`loop $${e.label}${result(e.type)}`, [p(e.body)]);
    case "if": {
      const arms = [p(e.cond), multi("then", [p(e.then)])];
      if (e.else) arms.push(multi("else", [p(e.else)]));
      return multi(`if${result(e.type)}`, arms);
    }
    case "br": return sexp(`${e.cond ? "br_if" : "br"} $${e.label}`, [...opt(e.value), ...opt(e.cond)]);
    case "br_table": return sexp(`br_table ${[...e.labels, e.default].map(l => `$${l}`).join(" ")}`, [...opt(e.value), p(e.index)]);
    case "return": return sexp("return", opt(e.value));
    case "unreachable": return "(unreachable)";
    case "nop": return "(nop)";
    case "drop": return sexp("drop", [p(e.value)]);
    case "memory.size": return "(memory.size)";
    case "memory.grow": return sexp("memory.grow", [p(e.delta)]);
    case "memory.copy": return sexp("memory.copy", [p(e.dest), p(e.src), p(e.size)]);
    case "memory.fill": return sexp("memory.fill", [p(e.dest), p(e.value), p(e.size)]);
    default: return `(${String((e as { kind?: unknown }).kind)} ?)`;
  }
}

/** Prints e with every line indented by `indent` levels of two spaces. */
export function printExpr(e: Expr, indentLevel = 0, names?: readonly (string | undefined)[]): string {
  return indent(fmt(e, names), indentLevel);
}

function printEdge(ed: Edge, names: Names): string {
  const code = ed.code.map(s => fmt(s, names));
  if (code.length === 0) return `goto ${ed.target}`;
  if (code.every(c => !c.includes("\n"))) return `goto ${ed.target} [${code.join(" ")}]`;
  return `goto ${ed.target} [\n${code.map(c => indent(c)).join("\n")}\n]`;
}

/** A head followed by an expression: inline when it fits on one line. */
const headed = (head: string, e: string): string => (e.includes("\n") ? `${head}\n${indent(e)}` : `${head} ${e}`);

function printTerminator(t: Terminator, names: Names): string {
  switch (t.kind) {
    case "goto": return printEdge(t.edge, names);
    case "branch":
      return `${headed("branch", fmt(t.cond, names))}\n${indent(`then ${printEdge(t.then, names)}\nelse ${printEdge(t.else, names)}`)}`;
    case "switch": {
      const cases = t.targets.map((ed, i) => `case ${i}: ${printEdge(ed, names)}`);
      cases.push(`default: ${printEdge(t.default, names)}`);
      return `${headed("switch", fmt(t.index, names))}\n${indent(cases.join("\n"))}`;
    }
    case "return": return t.value ? headed("return", fmt(t.value, names)) : "return";
    case "unreachable": return "unreachable";
  }
}

function printCfg(body: CfgBody, names: Names): string {
  const out = [`cfg entry ${body.entry}`];
  for (const b of body.blocks) {
    out.push(`block ${b.id}:`);
    for (const s of b.body) out.push(indent(fmt(s, names)));
    out.push(indent(printTerminator(b.exit, names)));
  }
  return out.join("\n");
}

const importText = (imp: { module: string; base: string } | undefined): string =>
  imp ? ` (import ${JSON.stringify(imp.module)} ${JSON.stringify(imp.base)})` : "";

export function printFunction(fn: IRFunction): string {
  const names = fn.localNames;
  let head = `func $${fn.name}${importText(fn.import)}`;
  for (let i = 0; i < fn.params.length; i++) head += ` (param ${localRef(i, names)} ${fn.params[i]})`;
  if (fn.results.length) head += ` (result ${fn.results.join(" ")})`;
  if (fn.body === null) return `(${head})`;
  const lines: string[] = [];
  for (let i = fn.params.length; i < fn.locals.length; i++) lines.push(`(local ${localRef(i, names)} ${fn.locals[i]})`);
  lines.push(fn.body.kind === "cfg" ? printCfg(fn.body, names) : fmt(fn.body, names));
  return `(${head}\n${lines.map(l => indent(l)).join("\n")}\n)`;
}

/** WAT string escapes: printable ASCII kept, everything else as \hh. */
function bytesText(b: Uint8Array): string {
  let s = "";
  for (const c of b) s += c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : "\\" + c.toString(16).padStart(2, "0");
  return `"${s}"`;
}

export function printModule(mod: IRModule): string {
  const out: string[] = [];
  if (mod.memory) {
    const m = mod.memory;
    const exp = m.exportName !== undefined ? ` (export ${JSON.stringify(m.exportName)})` : "";
    out.push(`(memory${exp}${importText(m.import)} ${m.initial}${m.maximum !== null ? ` ${m.maximum}` : ""})`);
  }
  for (const g of mod.globals) {
    const ty = g.mutable ? `(mut ${g.type})` : g.type;
    out.push(`(global $${g.name}${importText(g.import)} ${ty}${g.init ? ` ${fmt(g.init, undefined)}` : ""})`);
  }
  for (const t of mod.tables) {
    out.push(`(table $${t.name}${importText(t.import)} ${t.initial}${t.maximum !== null ? ` ${t.maximum}` : ""} funcref)`);
    for (const s of t.segments) out.push(`(elem (table $${t.name}) (i32.const ${s.offset}) func${s.funcs.map(f => ` $${f}`).join("")})`);
  }
  for (const d of mod.data) out.push(`(data${d.offset !== null ? ` (i32.const ${d.offset})` : ""} ${bytesText(d.bytes)})`);
  for (const x of mod.exports) {
    const kind = x.kind === "function" ? "func" : x.kind;
    out.push(`(export ${JSON.stringify(x.name)} (${kind} $${x.target}))`);
  }
  if (mod.start !== null) out.push(`(start $${mod.start})`);
  for (const f of mod.functions) out.push(printFunction(f));
  return out.length ? `(module\n${out.map(l => indent(l)).join("\n")}\n)` : "(module)";
}
