// Pointer provenance (a small TypeAnalysis): for every i32 value of a function in
// statement form, which parameter's buffer it points into. A load or store through an
// address derived from a "dup" parameter has a shadow at address + (shadow − primal) of
// that parameter. Flow-insensitive: a local that may hold pointers into two buffers is
// "unknown", and an active access through an unknown address is refused, never guessed.
// Memory the kernel allocates itself (see src/ad/allocations.ts) is a buffer of its own:
// its shadow lies at address + the delta local the shadow allocation set.
import type { Expr, IRFunction } from "../ir/types.js";
import { forEachNode, isNull } from "../ir/walk.js";
import type { ActivitySignature } from "./signature.js";
import { DELTA_OF, POINTER_DELTA, REALLOCATORS, RETURN_DELTA, SHADOW_ALLOC } from "./allocators.js";

/** "int": an integer, or an address in the module's own memory (no shadow). */
/**
 * "arg": into parameter `param`'s buffer; with `view`, into the data of the object parameter
 * `param` points to, whose pointer the object holds at offset `view` (its shadow object holds
 * the shadow's pointer there).
 */
export type Provenance = { kind: "int" } | { kind: "arg"; param: number; shadowed: boolean; view?: number }
  /** Into a block the function allocated; its shadow is at address + local `delta`. */
  | { kind: "alloc"; delta: number }
  /** `crossing`: the distance between two buffers' pointers, which added to one reaches the other. */
  | { kind: "unknown"; why: string; crossing?: true };

/** Whether memory at this provenance has a shadow. */
export const hasShadow = (p: Provenance): p is { kind: "arg"; param: number; shadowed: true } | { kind: "alloc"; delta: number } =>
  (p.kind === "arg" && p.shadowed) || p.kind === "alloc";

const INT: Provenance = { kind: "int" };
const unknown = (why: string): Provenance => ({ kind: "unknown", why });
const same = (a: Provenance, b: Provenance) =>
  a.kind === b.kind && (a.kind !== "arg" || (b.kind === "arg" && a.param === b.param && a.view === b.view)) && (a.kind !== "alloc" || (b.kind === "alloc" && a.delta === b.delta));

function join(a: Provenance | undefined, b: Provenance): Provenance {
  if (!a) return b;
  if (same(a, b)) return a;
  if (a.kind === "unknown") return a;
  if (b.kind === "unknown") return b;
  return unknown("it may point into different buffers on different paths");
}

/** The assignments to locals of `locals` in fn. */
function assignmentsTo(fn: IRFunction, locals: Set<number>): { local: number; value: Expr }[] {
  const out: { local: number; value: Expr }[] = [];
  forEachNode(fn.body as Expr, (n) => { if (n.kind === "local.set" && locals.has(n.local)) out.push({ local: n.local, value: n.value }); });
  return out;
}

/** Adds to `marked` every local assigned a value that reads a marked local, until nothing changes. */
function spreadThrough(sets: { local: number; value: Expr }[], marked: Set<number>): void {
  for (let changed = true; changed;) {
    changed = false;
    for (const d of sets) {
      if (marked.has(d.local)) continue;
      let reads = false;
      forEachNode(d.value, (n) => { if (n.kind === "local.get" && marked.has(n.local)) reads = true; });
      if (reads) { marked.add(d.local); changed = true; }
    }
  }
}

/** The i32 locals (not parameters) every assignment of which is null or a copy of such a local; `i32Sets`: fn's assignments to i32 locals, in walk order. */
function nullLocals(fn: IRFunction, i32Sets: { local: number; value: Expr }[]): Set<number> {
  const assigns = new Map<number, Expr[]>();
  for (const { local, value } of i32Sets) if (local >= fn.params.length) { const vs = assigns.get(local); if (vs) vs.push(value); else assigns.set(local, [value]); }
  // (greatest fixpoint from every candidate: a cycle of copies of nulls holds null)
  const out = new Set<number>();
  for (const [l, vs] of assigns) if (vs.every((v) => isNull(v) || v.kind === "local.get")) out.add(l);
  for (let changed = true; changed;) {
    changed = false;
    for (const l of out) if (!assigns.get(l)!.every((v) => isNull(v) || (v.kind === "local.get" && out.has(v.local)))) { out.delete(l); changed = true; }
  }
  return out;
}

export class PointerAnalysis {
  private readonly locals: (Provenance | undefined)[];
  /** Whether the function allocates memory that has a shadow. */
  readonly allocates: boolean;

  private readonly views = new Map<number, number[]>();
  private readonly shadowedParam: boolean[];

  constructor(readonly fn: IRFunction, sig: ActivitySignature) {
    this.shadowedParam = sig.params.map((p) => p === "dup");
    this.locals = fn.locals.map((t, i) => {
      if (i >= fn.params.length || t !== "i32") return undefined;
      const p = sig.params[i];
      if (p === "unknown") return unknown("the caller passes a value it cannot trace to an argument buffer");
      return p === "dup" || p === "const-ptr" ? { kind: "arg", param: i, shadowed: p === "dup" } : INT;
    });
    const sets: { local: number; value: Expr }[] = [];
    // locals holding pointers into blocks the function allocated carry their delta beside them
    const blocks = fn.allocDeltas ?? new Map<number, number>();
    this.allocates = blocks.size > 0;
    for (const [block, delta] of blocks) this.locals[block] = { kind: "alloc", delta };
    const mixed: { local: number; value: Expr }[] = [];
    // pointers loaded from memory: their deltas are set from the shadow word (src/ad/memory-pointers.ts)
    const sites: { delta: number; addr: Expr }[] = [];
    // a block's own assignment (a stack frame carved as `frame - n·8`) is what makes it a block
    const allocated = new Set<number>();
    // locals whose delta is set beside each assignment (allocations.ts, merged pointers) may hold any pointer
    const tracked = new Set<number>();
    // every assignment to an i32 local, in order: nullLocals reads them all, sets and mixed the ones not null
    const i32Sets: { local: number; value: Expr }[] = [];
    // (one walk collects all five: each is read only after it)
    forEachNode(fn.body as Expr, (n) => {
      if (n.kind === "local.set" && fn.locals[n.local] === "i32") i32Sets.push({ local: n.local, value: n.value });
      if (n.kind === "tuple.set") n.locals.forEach((l) => { if (fn.locals[l] === "i32") this.locals[l] = join(this.locals[l], unknown("it is returned by a call")); });
      if (n.kind === "local.set" && n.value.kind === "call" && n.value.func === POINTER_DELTA) sites.push({ delta: n.local, addr: n.value.args[0] });
      if (n.kind === "call" && n.func === SHADOW_ALLOC && n.args[1]?.kind === "local.get") allocated.add(n.args[1].local);
      if (n.kind === "local.set" && n.value.kind === "call" && n.value.func === DELTA_OF) tracked.add(n.local);
    });
    // locals that only ever hold null (`None` kept in a local at -O0, then copied into an
    // Option<NonNull> that otherwise holds a pointer): a copy of one is a null too
    const nulls = nullLocals(fn, i32Sets);
    const nullish = (v: Expr) => isNull(v) || (v.kind === "local.get" && nulls.has(v.local));
    // null is no buffer: `p = 0` (a C null, an inlined callee's locals starting at zero) leaves p's buffer as it is
    for (const d of i32Sets) if (!nullish(d.value)) (blocks.has(d.local) ? mixed : sets).push(d);
    // object parameters whose data pointer is read from a field: only while the parameter keeps its value
    const assigned = new Set(sets.map((s) => s.local));
    for (const [p, offsets] of fn.viewParams ?? []) if (!assigned.has(p) && (sig.params[p] === "dup" || sig.params[p] === "const-ptr")) this.views.set(p, offsets);
    const fixpoint = () => {
      for (let changed = true; changed;) {
        changed = false;
        for (const s of sets) {
          const next = join(this.locals[s.local], this.of(s.value));
          const prev = this.locals[s.local];
          if (!prev || !same(prev, next)) { this.locals[s.local] = next; changed = true; }
        }
      }
    };
    fixpoint();
    // a local with a delta may also be assigned integers (null), never an argument's pointer: its delta would be 0
    const plain = (v: Expr): boolean => {
      if (v.kind === "select") return plain(v.ifTrue) && plain(v.ifFalse);
      const k = this.of(v).kind;
      return k === "int" || k === "alloc";
    };
    const loadedDelta = new Set(sites.map((x) => x.delta));
    let bad = false;
    for (const m of mixed) {
      if (tracked.has(blocks.get(m.local)!)) continue;
      if (m.value.kind === "load" && m.value.op === "i32.load" && loadedDelta.has(blocks.get(m.local)!)) continue;
      if (allocated.has(m.local)) continue;
      if (m.value.kind !== "call" && !plain(m.value)) { this.locals[m.local] = unknown("it holds a block the function allocated on some paths and other pointers on others"); bad = true; }
    }
    if (bad) fixpoint();
    if (sites.length) this.poisonUnshadowedLoads(fn, blocks, sites, fixpoint);
    // deltas read from memory, or set to a marker (an integer put in a pointer local), and their copies
    const deltaLocals = new Set(blocks.values());
    const dynamic = new Set(sites.map((x) => x.delta));
    const deltaSets = assignmentsTo(fn, deltaLocals);
    for (const d of deltaSets) if ((d.value.kind === "const" && !isNull(d.value)) || (d.value.kind === "global.get" && d.value.global === RETURN_DELTA) || (d.value.kind === "call" && d.value.func === DELTA_OF)) dynamic.add(d.local);
    spreadThrough(deltaSets, dynamic);
    this.dynamicDeltas = dynamic;
  }

  private dynamicDeltas = new Set<number>();
  /** Whether delta local d may hold a marker instead of an offset (it comes from memory: memory-pointers.ts). */
  isDynamicDelta(d: number): boolean { return this.dynamicDeltas.has(d); }

  /**
   * A pointer loaded from memory without a shadow (a Const buffer, memory reached through an
   * untraced pointer) has no shadow word to read: it, and every pointer whose delta comes from
   * its delta, is untraced (an active access through it is refused), not given a made-up delta.
   */
  private poisonUnshadowedLoads(fn: IRFunction, blocks: Map<number, number>, sites: { delta: number; addr: Expr }[], fixpoint: () => void): void {
    const deltaSets = assignmentsTo(fn, new Set(blocks.values()));
    const poisoned = new Set<number>();
    for (;;) {
      const before = poisoned.size;
      for (const x of sites) if (!hasShadow(this.of(x.addr))) poisoned.add(x.delta);
      spreadThrough(deltaSets, poisoned);
      if (poisoned.size === before) return;
      for (const [p, d] of blocks) if (poisoned.has(d)) this.locals[p] = unknown("it is loaded from memory that has no shadow (a Const buffer, or memory reached through an untraced pointer)");
      fixpoint();
    }
  }

  /** The data-pointer fields of object parameter p (Float64Array, Array<f64>), if it is one. */
  viewOffsets(p: number): number[] | undefined { return this.views.get(p); }

  /** Provenance of an i32 expression (pure trees, calls and memory.grow results). */
  of(e: Expr): Provenance {
    switch (e.kind) {
      case "const": return INT;
      case "local.get": return this.locals[e.local] ?? INT;
      case "global.get": return INT;
      case "load": {
        const p = e.op === "i32.load" && e.addr.kind === "local.get" ? e.addr.local : -1;
        if (this.views.get(p)?.includes(e.offset)) return { kind: "arg", param: p, shadowed: this.shadowedParam[p], view: e.offset };
        return unknown("it is loaded from memory");
      }
      case "call": return unknown(REALLOCATORS.test(e.func)
        ? `it is returned by ${e.func}, which moves a block to a new address where its shadow does not follow (not supported yet; allocate the final size up front)`
        : `it is returned by a call to ${e.func} (if that function allocates memory, name it with program.allocator)`);
      case "call_indirect": return unknown("it is returned by a call");
      case "memory.size": case "memory.grow": return INT;
      case "select": return join(this.of(e.ifTrue), this.of(e.ifFalse));
      case "unary": return e.value.type === "i32" && this.of(e.value).kind !== "int" && !e.op.endsWith("eqz") ? unknown(`${e.op} of a pointer`) : INT;
      case "binary": {
        const op = e.op.slice(4);
        if (e.type !== "i32" || e.left.type !== "i32") return INT;
        if (/^(eq|ne|lt|gt|le|ge)/.test(op)) return INT;
        // products, quotients and shifts of untraced values are integers (sizes, scaled indexes): no
        // compiler moves a pointer within its buffer that way (and a buffer's pointer itself is refused below)
        const a = this.of(e.left), b = this.of(e.right);
        const crossing = (x: Provenance) => x.kind === "unknown" && !!x.crossing;
        if (/^(mul|shl|shr|div|rem|rot)/.test(op) && !crossing(a) && !crossing(b) && a.kind !== "arg" && a.kind !== "alloc" && b.kind !== "arg" && b.kind !== "alloc") return INT;
        if (a.kind === "int" && b.kind === "int") return INT;
        // a buffer plus an untraced value: only an integer offset makes the sum meaningful
        // (a loaded index, x + idx[i] * 8), so the sum still points into the buffer
        const buf = (x: Provenance) => x.kind === "arg" || x.kind === "alloc";
        // a block's pointer minus a variable may leave the block (clang carves a variable-length
        // array out of the stack below the frame as `frame - n·8`): not that block any more
        if (op === "sub" && a.kind === "alloc" && e.right.kind !== "const") return unknown("a variable is subtracted from a pointer into a block the function allocated, which may leave the block");
        // (not the distance between two buffers: p + (w − x) reaches w's buffer, not p's)
        if ((op === "add" || op === "sub") && buf(a) && b.kind === "unknown" && !crossing(b)) return a;
        if (op === "add" && buf(b) && a.kind === "unknown" && !crossing(a)) return b;
        if (a.kind === "unknown") return a;
        if (b.kind === "unknown") return b;
        // pointer ± integer, and pointer & | ^ small constants (aligned bases; shadows keep the alignment)
        if (op === "add" || op === "and" || op === "or" || op === "xor") return buf(a) && buf(b) ? unknown(`${e.op} of two pointers`) : buf(a) ? a : b;
        if (op === "sub") {
          if (buf(a) && b.kind === "int") return a;
          if (buf(a) && same(a, b)) return INT;
          if (buf(a) && buf(b)) return { kind: "unknown", why: "it adds the distance between two buffers' pointers (undefined behaviour in C)", crossing: true };
        }
        return unknown(`${e.op} on a pointer`);
      }
      default: return INT;
    }
  }
}
