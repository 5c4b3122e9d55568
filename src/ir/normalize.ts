// Statement form: the canonical shape every derivative transform works on. Control
// structures carry no values, branches carry no values, and every expression below a
// statement is pure (consts, locals, globals, unary/binary/select, loads). Effects
// (calls, stores, tees, memory.grow, values of blocks/ifs) become statements whose
// results go to fresh locals. Wasm's left-to-right evaluation order is kept by spilling
// earlier operands to locals when a later operand has effects.
import type { Expr, IRFunction, LocalGet, ValType } from "./types.js";
import { isValType } from "./types.js";
import { stmtBlock, zero } from "./builder.js";
import { assignedBeforeRead } from "./definite-assignment.js";
import { forEachNode, mapTree } from "./walk.js";

/**
 * Whether every node of e is a const, local.get, global.get, unary, binary, select or load.
 * (Stops at the first other node: norm asks this of every node on its way down, and a walk of
 * the whole subtree each time made normalizing a nested body quadratic in its depth.)
 */
export const isPureTree = (e: Expr): boolean => {
  switch (e.kind) {
    case "const": case "local.get": case "global.get": return true;
    case "unary": return isPureTree(e.value);
    case "binary": return isPureTree(e.left) && isPureTree(e.right);
    case "select": return isPureTree(e.ifTrue) && isPureTree(e.ifFalse) && isPureTree(e.cond);
    case "load": return isPureTree(e.addr);
    default: return false;
  }
};

/**
 * Rebuilds a body in statement form: each simple statement (anything but block, loop and if)
 * goes through `f`, which appends what replaces it to `out`; `cond` may rewrite an if's
 * condition, appending statements that must run before the if. Passes that move parts of
 * trees into statements of their own share the walk through the structure.
 */
export function rewriteStatements(body: Expr, f: (s: Expr, out: Expr[]) => void, cond: (c: Expr, out: Expr[]) => Expr = (c) => c): Expr {
  const stmt = (s: Expr, out: Expr[]): void => {
    const inner = (x: Expr): Expr => { const b: Expr[] = []; stmt(x, b); return { kind: "block", type: "none", label: null, body: b }; };
    switch (s.kind) {
      case "block": { const b: Expr[] = []; s.body.forEach((x) => stmt(x, b)); out.push({ ...s, body: b }); return; }
      case "loop": out.push({ ...s, body: inner(s.body) }); return;
      case "if": { const c = cond(s.cond, out); out.push({ ...s, cond: c, then: inner(s.then), else: s.else ? inner(s.else) : null }); return; }
      default: f(s, out);
    }
  };
  const out: Expr[] = [];
  stmt(body, out);
  return stmtBlock(out);
}

type Value = Expr | "none" | "dead";

/** Returns a copy of fn in statement form (fn itself is not modified). */
export function normalizeFunction(fn: IRFunction): IRFunction {
  if (!fn.body || ("kind" in fn.body && fn.body.kind === "cfg")) return fn;
  const locals = [...fn.locals];
  const localNames = [...(fn.localNames ?? [])];
  const fresh = (t: ValType, hint = "t"): number => { locals.push(t); localNames[locals.length - 1] = `${hint}${locals.length - 1}`; return locals.length - 1; };
  const labelResult: Map<string, number>[] = [new Map()];
  const resultLocal = (label: string) => {
    for (let i = labelResult.length - 1; i >= 0; i--) if (labelResult[i].has(label)) return labelResult[i].get(label)!;
    return undefined;
  };
  const get = (l: number): LocalGet => ({ kind: "local.get", type: locals[l], local: l });
  const spill = (v: Expr, out: Expr[]): Expr => {
    if (v.kind === "const") return v;
    const t = fresh(v.type as ValType);
    out.push({ kind: "local.set", type: "none", local: t, value: v, tee: false });
    return get(t);
  };

  /** Normalizes operands left to right; earlier values are spilled when a later operand has effects. */
  const operands = (es: Expr[], out: Expr[]): Expr[] | "dead" => {
    const vals: Expr[] = [];
    for (const e of es) {
      if (!isPureTree(e)) for (let i = 0; i < vals.length; i++) vals[i] = spill(vals[i], out);
      const v = norm(e, out);
      if (v === "dead") return "dead";
      if (v === "none") throw new Error("operand without a value");
      vals.push(v);
    }
    return vals;
  };

  const body = (e: Expr): Expr[] => {
    const out: Expr[] = [];
    const v = norm(e, out);
    if (v !== "dead" && v !== "none" && !isPureTree(v)) out.push({ kind: "drop", type: "none", value: v });
    return out;
  };
  const blockOf = (stmts: Expr[]): Expr => (stmts.length === 1 ? stmts[0] : { kind: "block", type: "none", label: null, body: stmts });

  function norm(e: Expr, out: Expr[]): Value {
    if (isPureTree(e)) return e;
    switch (e.kind) {
      case "unary": case "binary": case "select": case "load": {
        const kids = e.kind === "unary" ? [e.value] : e.kind === "binary" ? [e.left, e.right] : e.kind === "select" ? [e.ifTrue, e.ifFalse, e.cond] : [e.addr];
        const v = operands(kids, out);
        if (v === "dead") return "dead";
        if (e.kind === "unary") return { ...e, value: v[0] };
        if (e.kind === "binary") return { ...e, left: v[0], right: v[1] };
        if (e.kind === "select") return { ...e, ifTrue: v[0], ifFalse: v[1], cond: v[2] };
        return { ...e, addr: v[0] };
      }
      case "local.set": {
        const v = norm(e.value, out);
        if (v === "dead") return "dead";
        out.push({ kind: "local.set", type: "none", local: e.local, value: v as Expr, tee: false });
        return e.tee ? get(e.local) : "none";
      }
      case "global.set": {
        const v = norm(e.value, out);
        if (v === "dead") return "dead";
        out.push({ ...e, value: v as Expr });
        return "none";
      }
      case "store": {
        const v = operands([e.addr, e.value], out);
        if (v === "dead") return "dead";
        out.push({ ...e, addr: v[0], value: v[1] });
        return "none";
      }
      case "call": case "call_indirect": {
        const kids = e.kind === "call" ? e.args : [...e.args, e.target];
        const v = operands(kids, out);
        if (v === "dead") return "dead";
        const c: Expr = e.kind === "call" ? { ...e, args: v } : { ...e, args: v.slice(0, -1), target: v[v.length - 1] };
        if (e.type === "none") { out.push(c); return "none"; }
        if (e.type === "tuple") throw new Error(`multi-value call results are not supported in ${fn.name}`);
        if (e.type === "unreachable") { out.push(c); return "dead"; }
        const t = fresh(e.type as ValType, "r");
        out.push({ kind: "local.set", type: "none", local: t, value: c, tee: false });
        return get(t);
      }
      case "memory.size": case "memory.grow": {
        let c: Expr = e;
        if (e.kind === "memory.grow") {
          const v = operands([e.delta], out);
          if (v === "dead") return "dead";
          c = { ...e, delta: v[0] };
        }
        const t = fresh("i32", "m");
        out.push({ kind: "local.set", type: "none", local: t, value: c, tee: false });
        return get(t);
      }
      case "memory.copy": case "memory.fill": {
        const v = operands(e.kind === "memory.copy" ? [e.dest, e.src, e.size] : [e.dest, e.value, e.size], out);
        if (v === "dead") return "dead";
        out.push(e.kind === "memory.copy" ? { ...e, dest: v[0], src: v[1], size: v[2] } : { ...e, dest: v[0], value: v[1], size: v[2] });
        return "none";
      }
      case "drop": {
        const v = norm(e.value, out);
        if (v === "dead") return "dead";
        // a dropped pure value still traps where the original would (out-of-bounds load)
        if (v !== "none" && v.kind !== "const" && v.kind !== "local.get") spill(v, out);
        return "none";
      }
      case "block": {
        const r = isValType(e.type) ? fresh(e.type, "b") : -1;
        labelResult.push(new Map(e.label && r >= 0 ? [[e.label, r]] : []));
        const stmts: Expr[] = [];
        let dead = false;
        e.body.forEach((c, i) => {
          if (dead) return;
          const v = norm(c, stmts);
          if (v === "dead") { dead = true; return; }
          if (i === e.body.length - 1 && r >= 0 && v !== "none") stmts.push({ kind: "local.set", type: "none", local: r, value: v, tee: false });
          else if (v !== "none" && !isPureTree(v)) stmts.push({ kind: "drop", type: "none", value: v });
        });
        labelResult.pop();
        if (e.label) out.push({ kind: "block", type: "none", label: e.label, body: stmts });
        else out.push(...stmts);
        if (e.type === "unreachable" || (dead && !e.label)) return "dead";
        return r >= 0 ? get(r) : "none";
      }
      case "loop": {
        const r = isValType(e.type) ? fresh(e.type, "b") : -1;
        const stmts: Expr[] = [];
        const v = norm(e.body, stmts);
        if (v !== "dead" && v !== "none" && r >= 0) stmts.push({ kind: "local.set", type: "none", local: r, value: v, tee: false });
        out.push({ kind: "loop", type: "none", label: e.label, body: blockOf(stmts) });
        if (e.type === "unreachable" || v === "dead") return "dead";
        return r >= 0 ? get(r) : "none";
      }
      case "if": {
        const c = norm(e.cond, out);
        if (c === "dead") return "dead";
        const r = isValType(e.type) ? fresh(e.type, "b") : -1;
        const arm = (x: Expr) => {
          const stmts: Expr[] = [];
          const v = norm(x, stmts);
          if (v !== "dead" && v !== "none" && r >= 0) stmts.push({ kind: "local.set", type: "none", local: r, value: v, tee: false });
          return blockOf(stmts);
        };
        out.push({ kind: "if", type: "none", cond: c as Expr, then: arm(e.then), else: e.else ? arm(e.else) : null });
        if (e.type === "unreachable") return "dead";
        return r >= 0 ? get(r) : "none";
      }
      case "br": {
        let t = -1;
        if (e.value) {
          const v = norm(e.value, out);
          if (v === "dead") return "dead";
          t = fresh(e.value.type as ValType);
          out.push({ kind: "local.set", type: "none", local: t, value: v as Expr, tee: false });
        }
        let cond: Expr | null = null;
        if (e.cond) {
          const c = norm(e.cond, out);
          if (c === "dead") return "dead";
          cond = c as Expr;
        }
        const r = resultLocal(e.label);
        // unconditional as emitted (the condition, if any, moves to an `if` or back onto it below)
        const brNode: Expr = { kind: "br", type: "unreachable", label: e.label, cond: null, value: null };
        const pass: Expr[] = t >= 0 && r !== undefined ? [{ kind: "local.set", type: "none", local: r, value: get(t), tee: false }] : [];
        if (cond && pass.length) out.push({ kind: "if", type: "none", cond, then: blockOf([...pass, brNode]), else: null });
        else if (cond) out.push({ ...brNode, type: "none", cond });
        else out.push(...pass, brNode);
        if (!cond) return "dead";
        return t >= 0 ? get(t) : "none";
      }
      case "br_table": {
        let t = -1;
        if (e.value) {
          const v = norm(e.value, out);
          if (v === "dead") return "dead";
          t = fresh(e.value.type as ValType);
          out.push({ kind: "local.set", type: "none", local: t, value: v as Expr, tee: false });
        }
        const idx = norm(e.index, out);
        if (idx === "dead") return "dead";
        if (t >= 0)
          for (const l of new Set([...e.labels, e.default])) {
            const r = resultLocal(l);
            if (r !== undefined) out.push({ kind: "local.set", type: "none", local: r, value: get(t), tee: false });
          }
        out.push({ ...e, value: null, index: idx as Expr });
        return "dead";
      }
      case "return": {
        if (e.value) {
          const v = norm(e.value, out);
          if (v === "dead") return "dead";
          out.push({ kind: "return", type: "unreachable", value: v as Expr });
        } else out.push(e);
        return "dead";
      }
      case "unreachable": out.push(e); return "dead";
      case "nop": return "none";
      case "tuple.set": out.push(e); return "none";
      case "tuple.make": {
        // several results: only as what the function returns (forward and reverse rules)
        if (fn.results.length < 2) throw new Error(`tuple.make outside a multi-value return in ${fn.name}`);
        const v = operands(e.values, out);
        if (v === "dead") return "dead";
        out.push({ kind: "return", type: "unreachable", value: { ...e, values: v } });
        return "dead";
      }
      default: return e;
    }
  }

  const stmts: Expr[] = [];
  const v = norm(fn.body as Expr, stmts);
  if (v !== "dead" && v !== "none" && fn.results.length === 1) stmts.push({ kind: "return", type: "unreachable", value: v });
  // the body never falls through (a loop left only by return, as rustc emits): say so, so that
  // it types as unreachable rather than as none in a function with results
  if (v === "dead" && fn.results.length && stmts[stmts.length - 1]?.type !== "unreachable") stmts.push({ kind: "unreachable", type: "unreachable" });
  return { ...fn, locals, localNames, body: stmtBlock(stmts) };
}

/**
 * fn with no parameter ever assigned: a parameter the body assigns (binaryen's coalesce-locals
 * reuses them; hand-written code reassigns them) is copied into a fresh local at entry, and the
 * body uses that local instead. Analyses may then take a parameter's local to hold the value
 * the caller passed everywhere in the body, as a pointer into the caller's memory above all.
 */
export function withParamsUnassigned(fn: IRFunction): IRFunction {
  if (!fn.body || ("kind" in fn.body && fn.body.kind === "cfg")) return fn;
  const assigned = new Set<number>();
  forEachNode(fn.body as Expr, (n) => {
    if (n.kind === "local.set" && n.local < fn.params.length) assigned.add(n.local);
    if (n.kind === "tuple.set") for (const l of n.locals) if (l < fn.params.length) assigned.add(l);
  });
  if (!assigned.size) return fn;
  const locals = [...fn.locals], localNames = [...(fn.localNames ?? [])];
  const copy = new Map<number, number>();
  for (const p of assigned) { copy.set(p, locals.push(fn.params[p]) - 1); localNames[locals.length - 1] = `${localNames[p] ?? "p" + p}_var`; }
  const to = (l: number) => copy.get(l) ?? l;
  const body = mapTree(fn.body as Expr, (n) => (n.kind === "local.get" || n.kind === "local.set" ? { ...n, local: to(n.local) } : n.kind === "tuple.set" ? { ...n, locals: n.locals.map(to) } : n));
  // (a parameter whose value no read sees, reused as a local by binaryen's coalesce-locals, needs no
  // copy: the local then has only the body's assignments, and a frame carved into it stays one)
  const dead = assignedBeforeRead(fn.body as Expr);
  const entry: Expr[] = [...copy].filter(([p]) => !dead.has(p)).map(([p, l]) => ({ kind: "local.set", type: "none", local: l, value: { kind: "local.get", type: fn.params[p], local: p }, tee: false }) as Expr);
  return { ...fn, locals, localNames, body: { kind: "block", type: body.type, label: null, body: [...entry, body] } };
}

/**
 * fn with its locals' starting zeros made explicit: a local (not a parameter) that a read may
 * see before any assignment gets `local = 0` at entry. Wasm zeroes them anyway; written out, the
 * zero is an assignment like the others, so analyses that take a local's only assignment for
 * its value (a constant offset naming a memory word) see that the first read gets 0.
 */
export function withExplicitZeros(fn: IRFunction): IRFunction {
  if (!fn.body || ("kind" in fn.body && fn.body.kind === "cfg")) return fn;
  const first = assignedBeforeRead(fn.body as Expr);
  const read = new Set<number>();
  forEachNode(fn.body as Expr, (n) => { if (n.kind === "local.get" && n.local >= fn.params.length && !first.has(n.local)) read.add(n.local); });
  if (!read.size) return fn;
  const zeros = [...read].sort((a, b) => a - b).map((l): Expr => ({ kind: "local.set", type: "none", local: l, value: zero(fn.locals[l]), tee: false }));
  return { ...fn, body: { kind: "block", type: (fn.body as Expr).type, label: null, body: [...zeros, fn.body as Expr] } };
}
