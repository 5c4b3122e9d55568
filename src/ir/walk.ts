// Generic traversal of IR trees: the children of a node in evaluation order, and a
// rebuild-with-new-children helper, so passes need not repeat a switch over every kind.
import type { Expr } from "./types.js";

/** Children in Wasm evaluation order. */
export function children(e: Expr): Expr[] {
  switch (e.kind) {
    case "local.set": case "global.set": case "unary": case "drop": return [e.value];
    case "tuple.set": return [e.value];
    case "binary": return [e.left, e.right];
    case "select": return [e.ifTrue, e.ifFalse, e.cond];
    case "load": return [e.addr];
    case "store": return [e.addr, e.value];
    case "call": return e.args;
    case "tuple.make": return e.values;
    case "call_indirect": return [...e.args, e.target];
    case "block": return e.body;
    case "loop": return [e.body];
    case "if": return e.else ? [e.cond, e.then, e.else] : [e.cond, e.then];
    case "br": return [...(e.value ? [e.value] : []), ...(e.cond ? [e.cond] : [])];
    case "br_table": return [...(e.value ? [e.value] : []), e.index];
    case "return": return e.value ? [e.value] : [];
    case "memory.grow": return [e.delta];
    case "memory.copy": return [e.dest, e.src, e.size];
    case "memory.fill": return [e.dest, e.value, e.size];
    default: return [];
  }
}

/** Visits every node, parents before children. */
export function forEachNode(e: Expr, f: (e: Expr) => void): void {
  f(e);
  // (the order of children(e), without building its array: this walk is the hottest loop of
  // differentiation; each child is read after f(e), as children(e) would have been)
  switch (e.kind) {
    case "local.set": case "global.set": case "unary": case "drop": case "tuple.set": forEachNode(e.value, f); return;
    case "binary": { const r = e.right; forEachNode(e.left, f); forEachNode(r, f); return; }
    case "select": { const b = e.ifFalse, c = e.cond; forEachNode(e.ifTrue, f); forEachNode(b, f); forEachNode(c, f); return; }
    case "load": forEachNode(e.addr, f); return;
    case "store": { const v = e.value; forEachNode(e.addr, f); forEachNode(v, f); return; }
    case "call": for (const c of e.args) forEachNode(c, f); return;
    case "tuple.make": for (const c of e.values) forEachNode(c, f); return;
    case "block": for (const c of e.body) forEachNode(c, f); return;
    case "loop": forEachNode(e.body, f); return;
    case "if": { const t = e.then, x = e.else; forEachNode(e.cond, f); forEachNode(t, f); if (x) forEachNode(x, f); return; }
    case "memory.grow": forEachNode(e.delta, f); return;
    case "memory.copy": { const s = e.src, n = e.size; forEachNode(e.dest, f); forEachNode(s, f); forEachNode(n, f); return; }
    case "memory.fill": { const v = e.value, n = e.size; forEachNode(e.dest, f); forEachNode(v, f); forEachNode(n, f); return; }
    default: for (const c of children(e)) forEachNode(c, f);
  }
}

/** Rebuilds e bottom-up, replacing each node by f(node with rebuilt children). */
export function mapTree(e: Expr, f: (e: Expr) => Expr): Expr {
  return rebuild(e, f, false);
}

/**
 * Like mapTree, but keeps every subtree in which f changes nothing: the same object comes back,
 * not a copy (f is given the original node when none of its children changed, and "changes
 * nothing" means it returned what it was given). Only for trees nobody looks up by identity
 * afterwards against the input (an analysis keyed by node), since the result shares nodes with e.
 */
export function mapTreeShared(e: Expr, f: (e: Expr) => Expr): Expr {
  return rebuild(e, f, true);
}

/**
 * mapTree (`share` false: every node with children is a new object, with new child arrays) and
 * mapTreeShared (`share` true: a node none of whose children changed is kept).
 */
function rebuild(e: Expr, f: (e: Expr) => Expr, share: boolean): Expr {
  const m = (x: Expr) => rebuild(x, f, share);
  const all = (xs: Expr[]): Expr[] => {
    let out: Expr[] | null = share ? null : [];
    for (let i = 0; i < xs.length; i++) {
      const y = m(xs[i]);
      if (y !== xs[i] && !out) out = xs.slice(0, i);
      if (out) out.push(y);
    }
    return out ?? xs;
  };
  // (kept: nothing below changed and sharing is asked for)
  const kept = (changed: boolean) => share && !changed;
  let r: Expr = e;
  switch (e.kind) {
    case "local.set": case "global.set": case "unary": case "drop": { const v = m(e.value); if (!kept(v !== e.value)) r = { ...e, value: v } as Expr; break; }
    case "tuple.set": { const v = m(e.value); if (!kept(v !== e.value)) r = { ...e, value: v as typeof e.value }; break; }
    case "binary": { const a = m(e.left), b = m(e.right); if (!kept(a !== e.left || b !== e.right)) r = { ...e, left: a, right: b }; break; }
    case "select": { const a = m(e.ifTrue), b = m(e.ifFalse), c = m(e.cond); if (!kept(a !== e.ifTrue || b !== e.ifFalse || c !== e.cond)) r = { ...e, ifTrue: a, ifFalse: b, cond: c }; break; }
    case "load": { const a = m(e.addr); if (!kept(a !== e.addr)) r = { ...e, addr: a }; break; }
    case "store": { const a = m(e.addr), v = m(e.value); if (!kept(a !== e.addr || v !== e.value)) r = { ...e, addr: a, value: v }; break; }
    case "call": { const a = all(e.args); if (!kept(a !== e.args)) r = { ...e, args: a }; break; }
    case "tuple.make": { const a = all(e.values); if (!kept(a !== e.values)) r = { ...e, values: a }; break; }
    case "call_indirect": { const a = all(e.args), t = m(e.target); if (!kept(a !== e.args || t !== e.target)) r = { ...e, args: a, target: t }; break; }
    case "block": { const a = all(e.body); if (!kept(a !== e.body)) r = { ...e, body: a }; break; }
    case "loop": { const b = m(e.body); if (!kept(b !== e.body)) r = { ...e, body: b }; break; }
    case "if": { const c = m(e.cond), t = m(e.then), x = e.else ? m(e.else) : null; if (!kept(c !== e.cond || t !== e.then || x !== e.else)) r = { ...e, cond: c, then: t, else: x }; break; }
    case "br": { const v = e.value ? m(e.value) : null, c = e.cond ? m(e.cond) : null; if (!kept(v !== e.value || c !== e.cond)) r = { ...e, value: v, cond: c }; break; }
    case "br_table": { const v = e.value ? m(e.value) : null, i = m(e.index); if (!kept(v !== e.value || i !== e.index)) r = { ...e, value: v, index: i }; break; }
    case "return": { const v = e.value ? m(e.value) : null; if (!kept(v !== e.value)) r = { ...e, value: v }; break; }
    case "memory.grow": { const d = m(e.delta); if (!kept(d !== e.delta)) r = { ...e, delta: d }; break; }
    case "memory.copy": { const d = m(e.dest), s = m(e.src), n = m(e.size); if (!kept(d !== e.dest || s !== e.src || n !== e.size)) r = { ...e, dest: d, src: s, size: n }; break; }
    case "memory.fill": { const d = m(e.dest), v = m(e.value), n = m(e.size); if (!kept(d !== e.dest || v !== e.value || n !== e.size)) r = { ...e, dest: d, value: v, size: n }; break; }
    default: break;
  }
  return f(r);
}

/** An i32 null: the constant 0 (a C null, an inlined callee's local starting at zero). */
export const isNull = (e: Expr): boolean => e.kind === "const" && e.type === "i32" && e.value === 0;

/** Every value assigned to each local by a local.set in e, in order, without null assignments when `skipNull`. */
export function assignmentsOf(e: Expr, skipNull = false): Map<number, Expr[]> {
  const out = new Map<number, Expr[]>();
  forEachNode(e, (n) => { if (n.kind === "local.set" && !(skipNull && isNull(n.value))) { const vs = out.get(n.local); if (vs) vs.push(n.value); else out.set(n.local, [n.value]); } });
  return out;
}

/**
 * The constant e stands for: a const, or a local every assignment of which is that value (-O0
 * code keeps even constants in locals). `assigns` as from assignmentsOf, with the zeros: where
 * they were left out, a local set to 0 before its other value would pass for a constant.
 */
export function constantOf(e: Expr, assigns: Map<number, Expr[]>, depth = 0): number | null {
  if (e.kind === "const") return Number(e.value);
  if (e.kind !== "local.get" || depth > 64) return null;
  // (every assignment, zeros too: a local set to 0 and later to 8 is no constant 8 where it is read before)
  const vs = assigns.get(e.local) ?? [];
  if (!vs.length) return null;
  const first = constantOf(vs[0], assigns, depth + 1);
  return first !== null && vs.every((v, i) => i === 0 || constantOf(v, assigns, depth + 1) === first) ? first : null;
}
