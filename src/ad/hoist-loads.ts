// Reverse mode re-evaluates the pure trees of a statement when it reverses it, on locals
// it has restored but on memory as the forward sweep left it. A load from memory that may
// be overwritten later would read the wrong value then, so before reverse mode such loads
// are moved out of trees into statements of their own (`t = load …`): their values then
// live in locals, which the reverse sweep restores (recording them when needed).
import type { Expr, IRFunction, ValType } from "../ir/types.js";
import { mapTree } from "../ir/walk.js";
import { rewriteStatements } from "../ir/normalize.js";

export function hoistUnstableLoads(fn: IRFunction, isStable: (load: Expr) => boolean, mutableGlobals: Set<string> = new Set()): IRFunction {
  const locals = [...fn.locals];
  const localNames = [...(fn.localNames ?? [])];
  let changed = false;
  const hoist = (e: Expr, out: Expr[]): Expr =>
    mapTree(e, (n) => {
      // a mutable global may change later too: read it into a local like an unstable load
      const unstableGlobal = n.kind === "global.get" && mutableGlobals.has(n.global);
      if (!unstableGlobal && (n.kind !== "load" || isStable(n))) return n;
      changed = true;
      const t = locals.push(n.type) - 1;
      localNames[t] = `ld${t}`;
      out.push({ kind: "local.set", type: "none", local: t, value: n, tee: false });
      return { kind: "local.get", type: n.type as ValType, local: t };
    });
  const body = rewriteStatements(fn.body as Expr, (s, out) => {
    if (s.kind === "local.set") {
      // a statement that only loads (or reads a global) already has its value in a local
      if (s.value.kind === "load") out.push({ ...s, value: { ...s.value, addr: hoist(s.value.addr, out) } });
      else if (s.value.kind === "global.get") out.push(s);
      else out.push({ ...s, value: hoist(s.value, out) });
      return;
    }
    const pre: Expr[] = [];
    const rebuilt = hoistChildren(s, (c) => hoist(c, pre));
    out.push(...pre, rebuilt);
  }, hoist);
  return changed ? { ...fn, locals, localNames, body } : fn;
}

/** Rebuilds a simple statement with each direct operand tree passed through f, in evaluation order. */
function hoistChildren(s: Expr, f: (e: Expr) => Expr): Expr {
  switch (s.kind) {
    case "store": { const addr = f(s.addr); return { ...s, addr, value: f(s.value) }; }
    case "global.set": case "drop": return { ...s, value: f(s.value) } as Expr;
    case "call": return { ...s, args: s.args.map(f) };
    case "call_indirect": { const args = s.args.map(f); return { ...s, args, target: f(s.target) }; }
    case "tuple.set": return { ...s, value: hoistChildren(s.value, f) as typeof s.value };
    case "br": return { ...s, cond: s.cond ? f(s.cond) : null };
    case "br_table": return { ...s, index: f(s.index) };
    case "return": return { ...s, value: s.value ? f(s.value) : null };
    case "memory.grow": return { ...s, delta: f(s.delta) };
    case "memory.copy": { const dest = f(s.dest), src = f(s.src); return { ...s, dest, src, size: f(s.size) }; }
    case "memory.fill": { const dest = f(s.dest), value = f(s.value); return { ...s, dest, value, size: f(s.size) }; }
    default: return s;
  }
}
