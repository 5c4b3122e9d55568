// Bytes accessed as floats of two widths. A union of a double and two floats is such memory,
// and clang -O2 copies it with f64.load/f64.store when the function also reads it as the
// double. A float's derivative lives in shadow bytes of the float's width: a double's adjoint
// added over two floats' adjoints, or a float's tangent read as half of a double, is a wrong
// number, not an error. So the accesses each function makes to the memory of its frames and
// parameters are collected (its own, and its callees' through the pointers it passes), and
// an access that carries a derivative over bytes another access reads or writes as a float
// of another width or at another offset is refused (differentiator.ts).
//
// What carries: a float load's value used in arithmetic, stored or returned (a load only
// compared carries nothing); in forward mode a copy (a load whose value only goes to stores
// of its width) moves the tangent's bits unchanged and carries nothing either. Memory that
// escapes (clean-words.ts) may be accessed by code out of view: the check sees what it can.
import type { Expr, IRFunction } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { children, forEachNode } from "../ir/walk.js";
import { accessBytes, wordAssignments } from "./clean-words.js";
import { slotOf } from "./memory-pointers.js";
import { stackFrames } from "./stack-frames.js";

/** The float accesses through a pointer parameter: their widths by byte offset, and the widths of those at offsets the function cannot name. */
export interface ParamFloats { at: Map<number, Set<number>>; any: Set<number> }
export type FloatSummary = Map<number, ParamFloats>;

/** One access to a frame or parameter: `root` the local, `off` its offset (null: unknown), `width` in bytes; `node` for this function's own. */
interface Access { root: number; off: number | null; width: number; node: Expr | null }

const COMPARISONS = /\.(eq|ne|lt|gt|le|ge)$/;

/** How each float load's value is used: "compared" (never carries), "copied" (only into stores of its width), or "computed". */
function loadUses(body: Expr): Map<Expr, "compared" | "copied" | "computed"> {
  const assigns = wordAssignments(body);
  const uses = new Map<number, ("compared" | "copied" | "computed")[]>();
  const storeOf = (load: Expr) => (load.type === "f64" ? "f64.store" : "f32.store");
  const use = (l: number, how: "compared" | "copied" | "computed") => uses.set(l, [...(uses.get(l) ?? []), how]);
  const out = new Map<Expr, "compared" | "copied" | "computed">();
  // direct uses of loads and of locals
  const visit = (e: Expr, parent: Expr | null) => {
    const how = !parent ? "computed" : parent.kind === "binary" && COMPARISONS.test(parent.op) ? "compared"
      : parent.kind === "store" && parent.value === e && parent.op === storeOf(e) ? "copied" : "computed";
    if (e.kind === "local.get" && isFloat(e.type)) use(e.local, how);
    if (e.kind === "load" && isFloat(e.type) && parent && !(parent.kind === "local.set")) out.set(e, how);
  };
  const walk = (e: Expr, parent: Expr | null) => {
    visit(e, parent);
    for (const c of children(e)) walk(c, e);
  };
  walk(body, null);
  for (const [l, vs] of assigns) {
    const v = vs.length === 1 ? vs[0] : null;
    if (!v || v.kind !== "load" || !isFloat(v.type)) continue;
    const hows = uses.get(l) ?? [];
    // (a value never read carries nothing; one copied elsewhere as well as compared is a copy)
    out.set(v, hows.includes("computed") ? "computed" : hows.includes("copied") ? "copied" : "compared");
  }
  // a load assigned to a local reused for other values: its uses cannot be told apart
  for (const [, vs] of assigns) if (vs.length > 1) for (const v of vs) if (v.kind === "load" && isFloat(v.type)) out.set(v, "computed");
  return out;
}

export interface FloatWidths {
  summary: FloatSummary;
  /**
   * The first access of this function that carries a derivative over bytes another access
   * (its own or a callee's) reaches as a float of another width or offset, with that other
   * access's description; null when there is none.
   */
  conflict: (mode: "forward" | "reverse") => { node: Expr; memory: string; other: string } | null;
}

/**
 * The float accesses fn makes through its parameters, and its conflicts. `callee(f)`: the
 * summary of module function f (null: an import, which is handed no memory with floats the
 * check could see).
 */
export function floatWidths(fn: IRFunction, callee: (f: string) => FloatSummary | null): FloatWidths {
  const body = fn.body as Expr;
  const np = fn.params.length;
  const assigns = wordAssignments(body);
  const frames = new Set(stackFrames(body).keys());
  const isRoot = (l: number) => l < np ? fn.params[l] === "i32" : frames.has(l);
  /** The frames and parameters an address may be into (through copies and arithmetic, not loads). */
  // (per local, once, to a fixpoint: asking per access walked the same assignment chains again and again)
  const localRoots = new Map<number, Set<number>>();
  const addRoots = (x: Expr, into: Set<number>): void => {
    if (x.kind === "local.get") {
      if (isRoot(x.local)) into.add(x.local);
      else for (const r of localRoots.get(x.local) ?? []) into.add(r);
    } else if (x.kind === "binary") { addRoots(x.left, into); addRoots(x.right, into); }
    else if (x.kind === "select") { addRoots(x.ifTrue, into); addRoots(x.ifFalse, into); }
  };
  for (let changed = true; changed;) {
    changed = false;
    for (const [l, vs] of assigns) {
      if (isRoot(l)) continue;
      const s = localRoots.get(l) ?? new Set<number>(), before = s.size;
      for (const v of vs) addRoots(v, s);
      localRoots.set(l, s);
      if (s.size !== before) changed = true;
    }
  }
  const rootsOf = (e: Expr): Set<number> => { const roots = new Set<number>(); addRoots(e, roots); return roots; };
  /** Where an address plus offset falls: one root at a known offset, or roots at unknown ones. */
  const place = (addr: Expr, offset: number): { root: number; off: number | null }[] => {
    const k = slotOf(addr, offset, assigns);
    if (k && isRoot(k.root)) return [{ root: k.root, off: k.off }];
    return [...rootsOf(addr)].map((root) => ({ root, off: null }));
  };
  const accesses: Access[] = [];
  forEachNode(body, (n) => {
    if ((n.kind === "load" && isFloat(n.type)) || (n.kind === "store" && isFloat(n.value.type))) {
      const width = accessBytes(n.op, n.kind === "load" ? n.type : n.value.type);
      for (const p of place(n.addr, n.offset)) accesses.push({ ...p, width, node: n });
    }
    if (n.kind !== "call") return;
    // (a call passing no i32 passes no pointer: the callee's summary, which may take
    // normalizing a function nothing else needs, such as a math routine, is not asked for)
    if (!n.args.some((a) => a.type === "i32")) return;
    const s = callee(n.func);
    if (!s) return;
    n.args.forEach((a, j) => {
      const pf = a.type === "i32" ? s.get(j) : undefined;
      if (!pf) return;
      for (const p of place(a, 0)) {
        for (const [o, widths] of pf.at) for (const width of widths) accesses.push({ root: p.root, off: p.off === null ? null : p.off + o, width, node: null });
        for (const width of pf.any) accesses.push({ root: p.root, off: null, width, node: null });
      }
    });
  });

  const summary: FloatSummary = new Map();
  for (const a of accesses) {
    if (a.root >= np) continue;
    if (!summary.has(a.root)) summary.set(a.root, { at: new Map(), any: new Set() });
    const s = summary.get(a.root)!;
    if (a.off === null) s.any.add(a.width);
    else s.at.set(a.off, new Set([...(s.at.get(a.off) ?? []), a.width]));
  }

  const conflict = (mode: "forward" | "reverse") => {
    const uses = loadUses(body);
    // stores of values loaded only to be copied: in forward mode they move the tangent's bits
    const copiedStores = new Set<Expr>();
    forEachNode(body, (n) => {
      if (n.kind !== "store" || !isFloat(n.value.type)) return;
      const v = n.value.kind === "local.get" ? (assigns.get(n.value.local) ?? []) : [n.value];
      if (v.length === 1 && v[0].kind === "load" && uses.get(v[0]) !== "computed") copiedStores.add(n);
    });
    const carries = (a: Access) => {
      if (!a.node) return true;
      if (a.node.kind === "load") { const u = uses.get(a.node) ?? "computed"; return u === "computed" || (u === "copied" && mode === "reverse"); }
      return !(copiedStores.has(a.node) && mode === "forward");
    };
    const describe = (a: Access) => `${a.node ? `this function's ${a.node.kind === "load" ? "read" : "write"}` : "a callee's access"} of an f${8 * a.width} at offset ${a.off}`;
    // (an offset computed at run time, a loop over an array, may be anywhere in the memory:
    // only accesses at named offsets are compared, so a frame's array of doubles beside a float is no clash)
    // per root, one access of each (offset, width): the clashes are between those
    const shapes = new Map<number, Map<string, Access>>();
    for (const a of accesses) {
      if (a.off === null || !carries(a)) continue;
      const m = shapes.get(a.root) ?? new Map<string, Access>();
      shapes.set(a.root, m);
      const key = `${a.off}:${a.width}`, had = m.get(key);
      if (!had || (!had.node && a.node)) m.set(key, a); // (an own access to name, where there is one)
    }
    for (const m of shapes.values()) {
      if (m.size < 2) continue;
      const list = [...m.values()];
      for (const a of list) {
        if (!a.node) continue;
        for (const b of list) {
          if (b === a) continue;
          const clash = b.off! < a.off! + a.width && a.off! < b.off! + b.width;
          if (clash) return { node: a.node, memory: a.root < np ? `the memory parameter ${a.root} points to` : "its stack frame", other: describe(b) };
        }
      }
    }
    return null;
  };
  return { summary, conflict };
}
