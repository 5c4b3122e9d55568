// Copies that move memory through integer loads and stores: `core::ptr::write::<f64>` at
// -O0 copies the double through an i64, a Rust `Vec` (pointer, capacity, length) is moved as
// an i64 and an i32, C struct copies become i64 pairs. A copy is a load whose value goes only
// into stores of the same width (statement form: `x = i64.load a; i64.store b x`). Bytes are
// bytes to the primal, so such a copy may be retyped before differentiation:
//   - where the function itself reads or writes the source word as a float of that width
//     (memory it hands to no callee) and nothing else touches the bytes of the source or the
//     destination, as that float: its derivative then moves with it in both modes;
//   - an i64 copy with no float evidence, as two i32 word copies: pointers and integers move
//     with their shadow words (memory-pointers.ts); float bits moved as words stay refused in
//     reverse mode, where nothing shows them to be integers (integer-copies.ts).
import { get, set } from "../ir/builder.js";
import { rewriteStatements } from "../ir/normalize.js";
import type { Expr, IRFunction, Load, Store, ValType } from "../ir/types.js";
import { assignmentsOf, forEachNode } from "../ir/walk.js";
import { parseSlotKey, slotKey } from "./memory-pointers.js";
import { accessBytes } from "./clean-words.js";

const FLOAT_OF: Record<string, { float: ValType; load: string; store: string }> = {
  "i64.load": { float: "f64", load: "f64.load", store: "f64.store" },
  "i32.load": { float: "f32", load: "f32.load", store: "f32.store" },
};
const STORE_OF: Record<string, string> = { "i64.load": "i64.store", "i32.load": "i32.store" };

export function retypeCopies(fn: IRFunction): IRFunction {
  if (!fn.body) return fn;
  const body = fn.body as Expr;
  const assigns = assignmentsOf(body);
  // every use of each local, and the full-width integer stores whose value is exactly a local
  const uses = new Map<number, number>(), storeUses = new Map<number, Store[]>();
  /** Every access: its word, its bytes, and whether it reads or writes a float. */
  const accesses: { node: Expr; key: string; size: number; type: ValType }[] = [];
  forEachNode(body, (n) => {
    if (n.kind === "local.get") uses.set(n.local, (uses.get(n.local) ?? 0) + 1);
    if (n.kind === "store" && n.value.kind === "local.get" && (n.op === "i64.store" || n.op === "i32.store"))
      storeUses.set(n.value.local, [...(storeUses.get(n.value.local) ?? []), n]);
    if (n.kind === "load" || n.kind === "store") {
      const type = (n.kind === "load" ? n.type : n.value.type) as ValType;
      accesses.push({ node: n, key: slotKey(n.addr, n.offset, assigns), size: accessBytes(n.op, type), type });
    }
  });
  // the copies: x assigned once, from a full-width integer load, and read only by same-width stores
  const candidates: { x: number; load: Load; stores: Store[] }[] = [];
  for (const [x, vs] of assigns) {
    const v = vs.length === 1 ? vs[0] : null;
    if (!v || v.kind !== "load" || !FLOAT_OF[v.op] || x < fn.params.length) continue;
    const stores = storeUses.get(x) ?? [];
    if (!stores.length || stores.length !== uses.get(x) || stores.some((s) => s.op !== STORE_OF[v.op])) continue;
    candidates.push({ x, load: v, stores });
  }
  const inCopies = new Set<Expr>(candidates.flatMap((c) => [c.load as Expr, ...c.stores]));
  /** The accesses other than copies that touch any byte of the `size` bytes at word `key`. */
  const touching = (key: string, size: number) => {
    const k = parseSlotKey(key);
    return accesses.filter((a) => {
      if (inCopies.has(a.node)) return false;
      if (a.key === key) return true;
      const m = parseSlotKey(a.key);
      return !!k && !!m && m.root === k.root && m.off < k.off + size && k.off < m.off + a.size;
    });
  };
  // roots of memory handed to callees: they may write other types there, unseen here
  const passed = new Set<number>();
  forEachNode(body, (n) => {
    if (n.kind === "call" || n.kind === "call_indirect") for (const a of n.args) { const m = a.type === "i32" ? parseSlotKey(slotKey(a, 0, assigns)) : null; if (m) passed.add(m.root); }
  });
  const copies = new Map<number, { load: Load; stores: Store[]; as: "float" | "words" }>();
  for (const { x, load: v, stores } of candidates) {
    const keys = [slotKey(v.addr, v.offset, assigns), ...stores.map((s) => slotKey(s.addr, s.offset, assigns))];
    const float = FLOAT_OF[v.op].float, size = float === "f64" ? 8 : 4;
    const others = keys.flatMap((k) => touching(k, size).map((a) => ({ ...a, same: a.key === k })));
    // the source read or written here as a float of the copy's width (memory no callee gets), and
    // nothing else over any byte of the copy's words (a union of two f32 in an f64's bytes)
    const source = parseSlotKey(keys[0]);
    const sourceFloat = !!source && !passed.has(source.root) && touching(keys[0], size).some((a) => a.key === keys[0] && a.type === float);
    if (sourceFloat && others.every((a) => a.same && a.type === float)) copies.set(x, { load: v, stores, as: "float" });
    else if (v.op === "i64.load" && !others.some((a) => a.type === "f32" || a.type === "f64")) copies.set(x, { load: v, stores, as: "words" });
  }
  if (!copies.size) return fn;
  const locals = [...fn.locals], localNames = [...(fn.localNames ?? [])];
  const fresh = (t: ValType, hint: string) => { locals.push(t); localNames[locals.length - 1] = `${hint}${locals.length - 1}`; return locals.length - 1; };
  const parts = new Map<number, number[]>();
  for (const [x, c] of copies) parts.set(x, c.as === "float" ? [fresh(FLOAT_OF[c.load.op].float, "copied")] : [fresh("i32", "copied_lo"), fresh("i32", "copied_hi")]);
  const copied = new Set<Store>([...copies.values()].flatMap((c) => c.stores));
  const out = rewriteStatements(body, (s, o) => {
    if (s.kind === "local.set" && copies.has(s.local)) {
      const c = copies.get(s.local)!, [a, b] = parts.get(s.local)!;
      if (c.as === "float") return void o.push(set(a, { ...c.load, op: FLOAT_OF[c.load.op].load, type: FLOAT_OF[c.load.op].float } as Expr));
      const word = (offset: number): Expr => ({ ...c.load, op: "i32.load", type: "i32", offset, align: Math.min(c.load.align, 4) } as Expr);
      return void o.push(set(a, word(c.load.offset)), set(b!, word(c.load.offset + 4)));
    }
    if (s.kind === "store" && copied.has(s) && s.value.kind === "local.get") {
      const x = s.value.local, c = copies.get(x)!, [a, b] = parts.get(x)!;
      if (c.as === "float") return void o.push({ ...s, op: FLOAT_OF[c.load.op].store, value: get(a, FLOAT_OF[c.load.op].float) } as Expr);
      const word = (offset: number, l: number): Expr => ({ ...s, op: "i32.store", offset, align: Math.min(s.align, 4), value: get(l, "i32") } as Expr);
      return void o.push(word(s.offset, a), word(s.offset + 4, b!));
    }
    o.push(s);
  });
  return { ...fn, locals, localNames, body: out };
}
