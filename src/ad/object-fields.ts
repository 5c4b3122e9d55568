// Objects a function allocates and reads pointers back from: AssemblyScript's
// `new Float64Array(n)` allocates an object (buffer at 0, dataStart at 4, byteLength at 8) and
// a data block, stores the data pointer in the object, and every `t[i]` loads `dataStart`
// again. A pointer loaded from memory has no shadow the analyses can follow, so such fields
// are replaced by locals ("scalar replacement"): a store to the field also sets its local,
// a load of the field reads the local, and the pointer then travels through locals, where
// its shadow offset follows it (allocations.ts). The memory itself is still written.
//
// Only where that is exact: the object is allocated outside any loop (so each copy of its
// pointer holds that one object), it is reached only through copies of its pointer at
// constant offsets, it is passed to no call but a deallocator, and its pointer escapes into
// memory only to the address of a global (AssemblyScript's GC shadow stack). A field is
// forwarded only if every access to its bytes is a full i32 load or store of it. Anything
// else is left alone: the loads stay loads, and an active access through them is refused.
import { DEALLOCATORS, SHADOW_ALLOC, SHADOW_REALLOC } from "../analysis/allocators.js";
import { binary, get, i32, set } from "../ir/builder.js";
import { loadOps, storeOps } from "../ir/ops.js";
import { assignedBeforeRead } from "../ir/definite-assignment.js";
import { rewriteStatements } from "../ir/normalize.js";
import type { Expr } from "../ir/types.js";
import { assignmentsOf, constantOf, forEachNode, isNull, mapTree } from "../ir/walk.js";
import { STACK_POINTER } from "./stack-frames.js";

type Field = { local: number; offset: number };

/** AssemblyScript's shadow stack of GC roots (the incremental runtime). */
const GC_SHADOW_STACK = "~lib/memory/__stack_pointer";

/** The local and constant offset an address is made of: `L` or `L + k`, plus the access's offset. */
function fieldAt(addr: Expr, offset: number): Field | null {
  if (addr.kind === "local.get") return { local: addr.local, offset };
  if (addr.kind === "binary" && addr.op === "i32.add" && addr.left.kind === "local.get" && addr.right.kind === "const")
    return { local: addr.left.local, offset: offset + Number(addr.right.value) };
  return null;
}

/**
 * `body` with forwarded object fields. `blocks`: locals assigned by an allocator call (each
 * once, by the statement that allocates); `fresh` makes an i32 local.
 */
export function forwardObjectFields(body: Expr, blocks: Set<number>, fresh: (hint: string) => number): Expr {
  // the uses below are told apart by node identity: a node shared by two places in the tree
  // (an argument local read by a call and by what replaced it) must be two nodes
  body = mapTree(body, (n) => ({ ...n }) as Expr);
  // blocks allocated inside a loop may have older copies alive: not forwarded
  const inLoop = new Set<number>();
  const walk = (e: Expr, depth: number) => {
    if (e.kind === "local.set" && blocks.has(e.local) && depth > 0) inLoop.add(e.local);
    for (const c of e.kind === "loop" ? [e.body] : e.kind === "block" ? e.body : e.kind === "if" ? [e.then, ...(e.else ? [e.else] : [])] : [])
      walk(c, depth + (e.kind === "loop" ? 1 : 0));
  };
  walk(body, 0);
  // copies: locals assigned only copies of a block (or of such locals); classes of blocks joined by them
  const assigns = assignmentsOf(body);
  const root = new Map<number, number>([...blocks].map((b) => [b, b]));
  const find = (b: number): number => (root.get(b) === b ? b : find(root.get(b)!));
  const copies = new Map<number, Set<number>>(); // copy local → blocks it may hold
  // null (an inlined callee's locals start at zero) is no other object
  for (let changed = true; changed;) {
    changed = false;
    for (const [l, values] of assigns) {
      if (blocks.has(l) || copies.has(l)) continue;
      if (!values.every((v) => isNull(v) || (v.kind === "local.get" && (blocks.has(v.local) || copies.has(v.local))))) continue;
      if (values.every(isNull)) continue;
      const held = new Set(values.flatMap((v) => (v.kind !== "local.get" ? [] : blocks.has(v.local) ? [v.local] : [...copies.get(v.local)!])));
      copies.set(l, held);
      changed = true;
    }
  }
  for (const held of copies.values()) { const [first, ...rest] = [...held].map(find); for (const r of rest) root.set(r, first); }
  const classOf = (l: number): number | null => (blocks.has(l) ? find(l) : copies.has(l) ? find([...copies.get(l)!][0]) : null);
  const members = (l: number) => blocks.has(l) || copies.has(l);

  // which classes qualify, and the byte ranges accessed per class
  const bad = new Set<number>();
  for (const b of inLoop) bad.add(find(b));
  // pointers to a member at a constant offset (`&arr[0]` of an array in a C stack frame, `&acc`):
  // they are allowed uses of the object, but they give up its fields (per class, in `dynamic`)
  const constOf = (e: Expr) => constantOf(e, assigns);
  const derived = new Map<number, { cls: number; offset: number }>();
  for (let changed = true; changed;) {
    changed = false;
    for (const [l, values] of assigns) {
      if (members(l) || derived.has(l)) continue;
      const bases = values.filter((v) => !isNull(v)).map((v): { cls: number; offset: number } | null => {
        if (v.kind === "local.get" && derived.has(v.local)) return derived.get(v.local)!;
        if (v.kind === "binary" && v.op === "i32.add" && v.left.kind === "local.get" && members(v.left.local) && constOf(v.right) !== null)
          return { cls: classOf(v.left.local)!, offset: constOf(v.right)! };
        return null;
      });
      if (bases.length === 0 || bases.some((b) => !b || b.cls !== bases[0]!.cls || b.offset !== bases[0]!.offset)) continue;
      derived.set(l, bases[0]!);
      changed = true;
    }
  }
  // a derived pointer used only as the base of loads and stores at constant offsets ≥ 0 (or
  // copied to another such pointer) reaches fixed bytes of the object: those are accesses like
  // any other. Any other use (a call, arithmetic, bulk memory, a store of it) may reach any
  // field, below it too: its class keeps its fields in memory (`dynamic`)
  const fixedUse = new Set<Expr>();
  const derivedAccesses: { cls: number; offset: number; op: string; store: boolean }[] = [];
  forEachNode(body, (n) => {
    if (n.kind !== "load" && n.kind !== "store") return;
    const f = fieldAt(n.addr, n.offset);
    const d = f && derived.get(f.local);
    if (!f || !d || f.offset < 0) return;
    forEachNode(n.addr, (x) => { if (x.kind === "local.get" && x.local === f.local) fixedUse.add(x); });
    derivedAccesses.push({ cls: d.cls, offset: d.offset + f.offset, op: n.op, store: n.kind === "store" });
  });
  forEachNode(body, (n) => { if (n.kind === "local.set" && derived.has(n.local) && n.value.kind === "local.get" && derived.has(n.value.local)) fixedUse.add(n.value); });
  // `frame + K` given back to the C stack pointer when the function returns reaches no field
  forEachNode(body, (n) => { if (n.kind === "global.set" && n.global === STACK_POINTER) forEachNode(n.value, (x) => { if (x.kind === "local.get") fixedUse.add(x); }); });
  const dynamic = new Set<number>();
  forEachNode(body, (n) => { if (n.kind === "local.get" && derived.has(n.local) && !fixedUse.has(n)) dynamic.add(derived.get(n.local)!.cls); });
  const accesses = new Map<number, { offset: number; bytes: number; full: boolean }[]>();
  const note = (f: Field, op: string, isStore: boolean) => {
    const cls = classOf(f.local)!;
    const info = isStore ? storeOps[op] : loadOps[op];
    const list = accesses.get(cls) ?? [];
    list.push({ offset: f.offset, bytes: info.bytes, full: op === (isStore ? "i32.store" : "i32.load") });
    accesses.set(cls, list);
  };
  // locals holding an address in AssemblyScript's GC shadow stack (copied by ssa): only the GC reads
  // what is stored there, and it never writes an object's fields
  const globalAddr = new Set<number>();
  const isGlobalAddr = (e: Expr): boolean => (e.kind === "global.get" && e.global === GC_SHADOW_STACK) || (e.kind === "local.get" && globalAddr.has(e.local))
    || (e.kind === "binary" && (e.op === "i32.add" || e.op === "i32.sub") && isGlobalAddr(e.left) && e.right.kind === "const");
  for (let changed = true; changed;) {
    changed = false;
    for (const [l, values] of assigns)
      if (!globalAddr.has(l) && values.some(isGlobalAddr) && values.every((v) => isGlobalAddr(v) || isNull(v))) { globalAddr.add(l); changed = true; }
  }
  // locals read only to restore the C stack pointer (`end = frame + K; __stack_pointer = end`)
  const gets = new Map<number, number>(), spGets = new Map<number, number>();
  forEachNode(body, (n) => {
    if (n.kind === "local.get") gets.set(n.local, (gets.get(n.local) ?? 0) + 1);
    if (n.kind === "global.set" && n.global === STACK_POINTER) forEachNode(n.value, (x) => { if (x.kind === "local.get") spGets.set(x.local, (spGets.get(x.local) ?? 0) + 1); });
  });
  const restoresSP = (l: number) => (spGets.get(l) ?? 0) > 0 && spGets.get(l) === gets.get(l);
  // every use of a member local must be one of the allowed ones; others disqualify its class
  const allowed = new Set<Expr>();
  forEachNode(body, (n) => {
    if (n.kind === "load" || n.kind === "store") {
      const f = fieldAt(n.addr, n.offset);
      if (f && members(f.local)) {
        note(f, n.op, n.kind === "store");
        forEachNode(n.addr, (x) => { if (x.kind === "local.get") allowed.add(x); });
      }
      // an object pointer stored into memory: only to the address of a global (a GC's shadow stack)
      if (n.kind === "store" && n.value.kind === "local.get" && members(n.value.local) && isGlobalAddr(n.addr)) allowed.add(n.value);
    }
    if (n.kind === "local.set" && n.value.kind === "local.get" && members(n.value.local) && members(n.local)) allowed.add(n.value);
    if (n.kind === "local.set" && derived.has(n.local) && n.value.kind === "binary" && n.value.left.kind === "local.get") allowed.add(n.value.left);
    if (n.kind === "unary" && n.op === "i32.eqz" && n.value.kind === "local.get") allowed.add(n.value);
    if (n.kind === "binary" && /^i32\.(eq|ne)$/.test(n.op)) for (const x of [n.left, n.right]) if (x.kind === "local.get") allowed.add(x);
    // the C stack pointer moved to a frame and back (stack-frames.ts)
    if (n.kind === "global.set" && n.global === STACK_POINTER) forEachNode(n.value, (x) => { if (x.kind === "local.get") allowed.add(x); });
    if (n.kind === "local.set" && restoresSP(n.local)) forEachNode(n.value, (x) => { if (x.kind === "local.get") allowed.add(x); });
    if (n.kind === "call" && (DEALLOCATORS.test(n.func) || n.func === SHADOW_ALLOC || n.func === SHADOW_REALLOC)) for (const a of n.args) if (a.kind === "local.get") allowed.add(a);
  });
  forEachNode(body, (n) => { if (n.kind === "local.get" && members(n.local) && !allowed.has(n)) bad.add(classOf(n.local)!); });

  // (never replaced themselves: a field they touch stays in memory)
  for (const a of derivedAccesses) accesses.set(a.cls, [...(accesses.get(a.cls) ?? []), { offset: a.offset, bytes: (a.store ? storeOps : loadOps)[a.op].bytes, full: false }]);
  // per qualifying class: fields whose every overlapping access is a full i32 access at that offset
  const fieldLocals = new Map<string, number>(); // `${block}:${offset}` → local
  const forwarded = new Map<number, number[]>(); // class → offsets
  for (const [cls, list] of accesses) {
    if (bad.has(cls)) continue;
    // a pointer into the object (`&arr[0]`, `&acc`) used beyond fixed offsets may reach any of
    // its fields, below it too (`d - 4`, in a callee, by a fill): they are left in memory
    if (dynamic.has(cls)) continue;
    const offsets = [...new Set(list.filter((a) => a.full).map((a) => a.offset))].filter((c) =>
      list.every((a) => a.offset + a.bytes <= c || a.offset >= c + 4 || (a.full && a.offset === c)));
    if (offsets.length) forwarded.set(cls, offsets);
  }
  if (forwarded.size === 0) return body;
  const blocksOf = (cls: number) => [...blocks].filter((b) => find(b) === cls).sort((x, y) => x - y);
  for (const [cls, offsets] of forwarded)
    for (const b of blocksOf(cls)) for (const c of offsets) fieldLocals.set(`${b}:${c}`, fresh(`field${c}_of${b}_`));
  const fieldOf = (f: Field): number[] | null => {
    const cls = members(f.local) ? classOf(f.local) : null;
    return cls !== null && forwarded.get(cls)?.includes(f.offset) ? blocksOf(cls) : null;
  };
  /** The field's value for the object `f.local` points at: its block's field local (a select among the class's blocks). */
  const read = (f: Field, bs: number[]): Expr => bs.slice(1).reduce<Expr>((acc, b) =>
    ({ kind: "select", type: "i32", ifTrue: get(fieldLocals.get(`${b}:${f.offset}`)!, "i32"), ifFalse: acc, cond: binary("i32.eq", get(f.local, "i32"), get(b, "i32")) }),
    get(fieldLocals.get(`${bs[0]}:${f.offset}`)!, "i32"));
  // a copy of the object's pointer that holds none of its blocks (a null copy) would read the
  // field local where memory holds something else: trap there instead
  const guard = (f: Field, bs: number[], out: Expr[]) => {
    if (bs.length === 1 && bs[0] === f.local) return;
    const cond = bs.map((b) => binary("i32.ne", get(f.local, "i32"), get(b, "i32"))).reduce((x, y) => binary("i32.and", x, y));
    out.push({ kind: "if", type: "none", cond, then: { kind: "unreachable", type: "unreachable" }, else: null });
  };
  // a read that selects among blocks goes into a local first, so the pointer has a local (and a delta) of its own
  const replaceLoads = (e: Expr, pre: Expr[]): Expr => mapTree(e, (n) => {
    if (n.kind !== "load" || n.op !== "i32.load") return n;
    const f = fieldAt(n.addr, n.offset);
    const bs = f && fieldOf(f);
    if (!bs) return n;
    guard(f!, bs, pre);
    if (bs.length === 1) return read(f!, bs);
    const t = fresh("field");
    pre.push(set(t, read(f!, bs)));
    return get(t, "i32");
  });
  const inits = new Set<Expr>();
  const rewritten = rewriteStatements(body, (s, out) => {
    if (s.kind === "store" && s.op === "i32.store") {
      const f = fieldAt(s.addr, s.offset);
      const bs = f && fieldOf(f);
      if (bs) {
        const t = fresh("stored");
        guard(f!, bs, out);
        const value = replaceLoads(s.value, out);
        out.push(set(t, value), { ...s, value: get(t, "i32") });
        for (const b of bs) {
          const fl = fieldLocals.get(`${b}:${f!.offset}`)!;
          out.push(set(fl, bs.length === 1 ? get(t, "i32") : { kind: "select", type: "i32", ifTrue: get(t, "i32"), ifFalse: get(fl, "i32"), cond: binary("i32.eq", get(f!.local, "i32"), get(b, "i32")) }));
        }
        return;
      }
    }
    const pre: Expr[] = [];
    const rebuilt = replaceLoads(s, pre);
    out.push(...pre, rebuilt);
    // a new object's fields start at zero
    if (s.kind === "local.set" && blocks.has(s.local))
      for (const [key, fl] of fieldLocals) if (key.startsWith(`${s.local}:`)) { const z = set(fl, i32(0)); inits.add(z); out.push(z); }
  }, (c, out) => replaceLoads(c, out));
  // (only where a read may come before the field's first store: a zero no read sees would stand
  // in the way of analyses that follow a local's one assignment, definite-assignment.ts)
  const drop = (keep: (z: Expr) => boolean) => rewriteStatements(rewritten, (s, out) => { if (!inits.has(s) || keep(s)) out.push(s); });
  const storedFirst = assignedBeforeRead(drop(() => false));
  return drop((z) => !storedFirst.has((z as Expr & { kind: "local.set" }).local));
}
