// Memory a kernel allocates itself (`new StaticArray<f64>(n)`, `heap.alloc`, `malloc`) needs
// a shadow like an argument buffer. Before differentiating, every allocator call
// `p = alloc(args)` becomes
//     b = alloc(args); delta = __ad_shadow_alloc(size, b); p = b
// where `b` is a fresh local assigned only there (the pointer analysis gives it provenance
// "alloc" with that delta) and `__ad_shadow_alloc` places a zeroed block of `size` bytes on
// the tape and returns its offset from b. Loads and stores through b then reach the shadow
// at address + delta, and calls pass b + delta as the shadow pointer, as for arguments.
// The shadow block lives on the tape: the reverse sweep pops it where it reverses the
// allocation, after every use (LIFO); the runtime drops the whole tape after the call.
import { allocationSize, allocatorOf, DELTA_OF, POINTER_DELTA, RETURN_DELTA, reallocatorOf, SHADOW_ALLOC, SHADOW_REALLOC, SHADOW_UNREALLOC } from "../analysis/allocators.js";
import { binary, get, i32, load, set, store } from "../ir/builder.js";
import { rewriteStatements } from "../ir/normalize.js";
import type { Expr, IRFunction, IRModule, ValType } from "../ir/types.js";
import { assignmentsOf, isNull } from "../ir/walk.js";
import { CONST_DELTA, hoistAddressLoads, loadAddress, pointerClosure, pointerLoads, pointerParamsOf, pointerResultsOf, pointerUses, POISON, readsPointer } from "./memory-pointers.js";
import { TAPE, TAPE_GLOBALS } from "./tape.js";
import { forwardObjectFields } from "./object-fields.js";
import { STACK_POINTER, stackFrames } from "./stack-frames.js";

/** Whether some function of the module allocates (so derivative code needs the shadow allocator). */
export function moduleAllocates(mod: IRModule): boolean {
  return mod.functions.some((f) => allocatorOf(f) !== null || reallocatorOf(f) !== null) || mod.globals.some((g) => g.name === STACK_POINTER);
}

/**
 * fn (in statement form) with a shadow allocation after each allocator call, and a delta
 * local beside every local that holds a pointer into an allocated block, assigned with it:
 *     dL = delta of what v points into; L = v
 * so the delta travels with the pointer (`prev = next` copies next's delta too). A delta per
 * allocation site alone would be wrong for a pointer kept from an earlier run of a loop that
 * allocates again. The pointer analysis reads `allocDeltas` (pointer local → delta local).
 */
export function withShadowAllocations(fn: IRFunction, mod: IRModule): IRFunction {
  const sizes = new Map(mod.functions.flatMap((f) => { const s = allocatorOf(f); return s ? [[f.name, s] as const] : []; }));
  const reallocs = new Map(mod.functions.flatMap((f) => { const r = reallocatorOf(f); return r ? [[f.name, r] as const] : []; }));
  const frames = fn.body ? stackFrames(fn.body as Expr) : new Map<number, Expr>();
  if (!fn.body) return fn;
  const locals = [...fn.locals], localNames = [...(fn.localNames ?? [])];
  const fresh = (hint: string) => { locals.push("i32"); localNames[locals.length - 1] = `${hint}${locals.length - 1}`; return locals.length - 1; };
  const deltas = new Map<number, number>();
  /** Blocks that start as new objects (not a reallocation's, which holds the old block's bytes). */
  const newObjects = new Set<number>();
  // pointer words read inside addresses and arguments get locals of their own (memory-pointers.ts),
  // and so do choices between pointers passed to a function (`f(i & 1 ? w : x)`: a merged pointer, below)
  const hoisted = hoistSelectArguments(hoistAddressLoads(fn.body as Expr, fresh), fresh);
  const allocCall = (s: Expr) => (s.kind === "local.set" && s.value.kind === "call" ? sizes.get(s.value.func) : undefined);
  let body = rewriteStatements(hoisted, (s, out) => {
    if (s.kind === "local.set" && frames.has(s.local) && s.value.kind !== "const") {
      // a C stack frame: its local is the block (assigned only here)
      const delta = fresh("frame_delta");
      deltas.set(s.local, delta);
      newObjects.add(s.local);
      // the size as the assignment reads it
      const size = fresh("frame_size");
      out.push(set(size, frames.get(s.local)!), s, set(delta, { kind: "call", type: "i32", func: SHADOW_ALLOC, args: [get(size, "i32"), get(s.local, "i32")] }));
      return;
    }
    const size = allocCall(s);
    const realloc = s.kind === "local.set" && s.value.kind === "call" ? reallocs.get(s.value.func) : undefined;
    if (realloc && s.kind === "local.set" && s.value.kind === "call") {
      // the old block's shadow is copied into the new one (its delta is added below, with the others)
      const n = fresh("size"), old = fresh("old_block"), block = fresh("block"), delta = fresh("shadow_delta");
      deltas.set(block, delta);
      out.push(set(n, s.value.args[realloc.size]), set(old, s.value.args[realloc.old]), set(block, s.value),
        set(delta, { kind: "call", type: "i32", func: SHADOW_REALLOC, args: [get(n, "i32"), get(block, "i32"), get(old, "i32")] }),
        { ...s, value: get(block, "i32") });
      return;
    }
    if (!size || s.kind !== "local.set" || s.value.kind !== "call") { out.push(s); return; }
    // the size is read before the call: an argument's local may be the one the call assigns
    const n = fresh("size"), block = fresh("block"), delta = fresh("shadow_delta");
    deltas.set(block, delta);
    newObjects.add(block);
    out.push(set(n, allocationSize(size, s.value.args)), set(block, s.value), set(delta, { kind: "call", type: "i32", func: SHADOW_ALLOC, args: [get(n, "i32"), get(block, "i32")] }),
      { ...s, value: get(block, "i32") });
  });
  // pointers kept in fields of allocated objects (a Float64Array's dataStart) move into locals
  if (deltas.size > 0) body = forwardObjectFields(body, newObjects, fresh);
  const blocks = new Set(deltas.keys());
  // pointers loaded from memory (memory-pointers.ts): their deltas come from the shadow word
  const { pointerParam, pointerResults } = pointerFlowFor(mod);
  const pointerResult = (f: string) => pointerResults.has(f) && !sizes.has(f) && !reallocs.has(f);
  const loaded = pointerLoads(body, { params: fn.params, locals, blocks, views: fn.viewParams, pointerParam, returnsPointer: pointerResults.has(fn.name), pointerResult });
  // locals used as pointers that hold a parameter's pointer on some paths and another buffer's on others
  const merged = mergedPointers(body, fn.params, locals, blocks, loaded, pointerParam, pointerResults.has(fn.name));
  if (deltas.size === 0 && loaded.size === 0 && merged.size === 0) return fn;
  // locals assigned (through pointer arithmetic) from a block or from such a local
  const pointers = pointerClosure(assignmentsOf(body), new Set([...blocks, ...loaded, ...merged]), (l) => locals[l] === "i32" && l >= fn.params.length);
  for (const l of pointers) if (!blocks.has(l)) deltas.set(l, fresh(`${localNames[l] ?? "l" + l}_delta`));
  body = rewriteStatements(body, (s, out) => {
    if (s.kind === "local.set" && s.value.kind === "call" && s.value.func === SHADOW_REALLOC) {
      // the old block's delta, or 0 when it is no pointer into a block (null: realloc as malloc; else the shadow allocator traps)
      // (in a local of its own: the remapping below may reassign the old block's delta local)
      const kept = fresh("old_delta");
      const oldDelta = get(kept, "i32");
      out.push(set(kept, deltaOf(s.value.args[2], deltas, pointers) ?? i32(0)), { ...s, value: { ...s.value, args: [...s.value.args, oldDelta] } });
      // a block grown in place keeps its address, and every pointer into it its old delta: such
      // pointers (old delta, address inside the block) take the new shadow's delta. After a move
      // they dangle, and what they get does not matter.
      const [size, block] = s.value.args as [Expr, Expr];
      for (const [p, d] of deltas) {
        if (d === s.local) continue;
        const inside = binary("i32.and", binary("i32.eq", get(d, "i32"), oldDelta), binary("i32.lt_u", binary("i32.sub", get(p, "i32"), block), size));
        out.push(set(d, { kind: "select", type: "i32", ifTrue: get(s.local, "i32"), ifFalse: get(d, "i32"), cond: inside }));
      }
      return;
    }
    if (s.kind === "local.set" && loaded.has(s.local) && s.value.kind === "call") {
      // a returned pointer: its delta comes back in RETURN_DELTA (POISON unless a derivative function sets it)
      const g = (value: Expr | null): Expr => (value ? { kind: "global.set", type: "none", global: RETURN_DELTA, value } : { kind: "global.get", type: "i32", global: RETURN_DELTA });
      out.push(g(i32(POISON)), s, set(deltas.get(s.local)!, g(null)));
      return;
    }
    if (s.kind === "local.set" && loaded.has(s.local) && s.value.kind === "load" && s.value.op === "i32.load") {
      const at = loadAddress(s.value.addr, s.value.offset);
      out.push(set(deltas.get(s.local)!, { kind: "call", type: "i32", func: POINTER_DELTA, args: [at, at] }), s);
      return;
    }
    if (s.kind === "local.set" && merged.has(s.local)) {
      // the delta of whatever it is assigned, as the derivative code knows it there (context.ts, pointerDeltaOf)
      out.push(set(deltas.get(s.local)!, { kind: "call", type: "i32", func: DELTA_OF, args: [s.value] }), s);
      return;
    }
    if (s.kind === "local.set" && pointers.has(s.local) && !blocks.has(s.local)) {
      // an integer (not null) assigned to a pointer local is an address without a shadow (module data): marked as a Const pointer
      const d = deltaOf(s.value, deltas, pointers) ?? i32(isNull(s.value) ? 0 : CONST_DELTA);
      if (!(d.kind === "local.get" && d.local === deltas.get(s.local))) out.push(set(deltas.get(s.local)!, d));
    }
    out.push(s);
  });
  return { ...fn, locals, localNames, body, allocDeltas: deltas };
}

/** i32 call arguments that are selects, moved into locals of their own before the call. */
function hoistSelectArguments(body: Expr, fresh: (hint: string) => number): Expr {
  return rewriteStatements(body, (st, out) => {
    const call = st.kind === "call" ? st : st.kind === "local.set" && st.value.kind === "call" ? st.value : null;
    if (!call || !call.args.some((a) => a.kind === "select" && a.type === "i32")) return void out.push(st);
    const args = call.args.map((a) => {
      if (a.kind !== "select" || a.type !== "i32") return a;
      const l = fresh("choice");
      out.push(set(l, a));
      return get(l, "i32");
    });
    out.push(st.kind === "call" ? { ...st, args } : { ...st, value: { ...call, args } } as Expr);
  });
}

/**
 * Locals used as pointers whose assignments reach, through copies and pointer arithmetic, a
 * parameter and some other buffer (another parameter, a block, a loaded pointer): -O0 code
 * choosing between two pointer parameters by branches into one local. Each assignment gets
 * the delta of what it assigns beside it (DELTA_OF), so the shadow follows whichever it holds.
 */
function mergedPointers(body: Expr, params: ValType[], locals: ValType[], blocks: Set<number>, loaded: Set<number>, pointerParam: (f: string, i: number) => boolean, returnsPointer: boolean): Set<number> {
  const assigns = assignmentsOf(body, true);
  const i32Params = params.flatMap((t, i) => (t === "i32" ? [i] : []));
  if (i32Params.length === 0) return new Set();
  const known = pointerClosure(assigns, new Set([...i32Params, ...blocks, ...loaded]), (l) => locals[l] === "i32");
  const roots = (e: Expr, seen: Set<number>): Set<string> => {
    switch (e.kind) {
      case "local.get": {
        if (e.local < params.length) return new Set(params[e.local] === "i32" ? [`p${e.local}`] : []);
        if (blocks.has(e.local) || loaded.has(e.local)) return new Set([`b${e.local}`]);
        if (seen.has(e.local)) return new Set();
        seen.add(e.local);
        return new Set((assigns.get(e.local) ?? []).flatMap((v) => [...roots(v, seen)]));
      }
      case "binary": {
        if (!["i32.add", "i32.sub", "i32.and", "i32.or", "i32.xor"].includes(e.op)) return new Set();
        const sides = [e.left, ...(e.op === "i32.sub" ? [] : [e.right])].filter((x) => readsPointer(x, known));
        return new Set(sides.flatMap((x) => [...roots(x, seen)]));
      }
      case "select": return new Set([...roots(e.ifTrue, seen), ...roots(e.ifFalse, seen)]);
      default: return new Set();
    }
  };
  const used = pointerUses(body, assignmentsOf(body), known, pointerParam, returnsPointer);
  const out = new Set<number>();
  for (const l of used) {
    if (l < params.length || locals[l] !== "i32" || blocks.has(l) || loaded.has(l)) continue;
    const r = roots({ kind: "local.get", type: "i32", local: l }, new Set());
    if (r.size >= 2 && [...r].some((x) => x.startsWith("p"))) out.add(l);
  }
  return out;
}

type PointerFlow = { pointerParam: (f: string, i: number) => boolean; pointerResults: Set<string> };
const pointerFlowCache = new WeakMap<IRModule, PointerFlow>();
/** Per module: which parameters functions use as pointers, and which results callers use so. */
function pointerFlowFor(mod: IRModule): PointerFlow {
  let f = pointerFlowCache.get(mod);
  if (!f) {
    // (until nothing changes: a parameter a function only returns is a pointer where its result
    // is used as one, which may make the result of the call that gave the argument one too, as
    // in core's chains of identity functions at -O0: `Unique::new_unchecked(NonNull::as_ptr(NonNull::cast(p)))`)
    let pointerResults = pointerResultsOf(mod.functions, pointerParamsOf(mod.functions));
    for (let round = 0; round < 16; round++) {
      const known = pointerResults;
      const next = pointerResultsOf(mod.functions, pointerParamsOf(mod.functions, (g) => known.has(g)));
      for (const g of known) next.add(g);
      if (next.size === known.size) break;
      pointerResults = next;
    }
    const results = pointerResults;
    f = { pointerParam: pointerParamsOf(mod.functions, (g) => results.has(g)), pointerResults: results };
    pointerFlowCache.set(mod, f);
  }
  return f;
}

/** The delta of what e points into, as a tree over delta locals (null: e is no such pointer); `ptrs`: the keys of `deltas`. */
function deltaOf(e: Expr, deltas: Map<number, number>, ptrs: Set<number>): Expr | null {
  switch (e.kind) {
    case "local.get": return deltas.has(e.local) ? get(deltas.get(e.local)!, "i32") : null;
    case "binary":
      if (!readsPointer(e, ptrs)) return null;
      return readsPointer(e.left, ptrs) ? deltaOf(e.left, deltas, ptrs) : deltaOf(e.right, deltas, ptrs);
    case "select": {
      if (!readsPointer(e, ptrs)) return null;
      return { ...e, type: "i32", ifTrue: deltaOf(e.ifTrue, deltas, ptrs) ?? i32(0), ifFalse: deltaOf(e.ifFalse, deltas, ptrs) ?? i32(0) };
    }
    default: return null;
  }
}

/**
 * `__ad_shadow_alloc(size, block)`: a zeroed, 16-byte aligned block of `size` bytes on the
 * tape (so delta keeps the block's alignment), then the previous top pushed, so the reverse
 * sweep pops block and all with `TAPE.land`. Returns shadow − block.
 */
export function shadowAllocFunction(): IRFunction {
  const size = get(0, "i32"), block = get(1, "i32"), old = 2, at = 3;
  const tp: Expr = { kind: "global.get", type: "i32", global: TAPE_GLOBALS.tp };
  // the block's size sits in the 4 bytes before it, for a reallocation to copy it
  const end = binary("i32.add", binary("i32.add", get(at, "i32"), size), i32(4));
  return {
    name: SHADOW_ALLOC, inactive: true, params: ["i32", "i32"], results: ["i32"], locals: ["i32", "i32", "i32", "i32"], localNames: ["size", "block", "old", "at"],
    body: { kind: "block", type: "unreachable", label: null, body: [
      set(old, tp),
      set(at, binary("i32.and", binary("i32.add", tp, i32(15 + 4)), i32(-16))),
      { kind: "if", type: "none", cond: binary("i32.gt_u", end, { kind: "global.get", type: "i32", global: TAPE_GLOBALS.limit }),
        then: { kind: "call", type: "none", func: TAPE_GLOBALS.grow, args: [binary("i32.sub", end, tp)] }, else: null },
      { kind: "memory.fill", type: "none", dest: get(at, "i32"), value: i32(0), size },
      store("i32.store", binary("i32.sub", get(at, "i32"), i32(4)), size),
      { kind: "global.set", type: "none", global: TAPE_GLOBALS.tp, value: binary("i32.add", get(at, "i32"), size) },
      ...TAPE.push(get(old, "i32")),
      { kind: "return", type: "unreachable", value: binary("i32.sub", get(at, "i32"), block) },
    ] },
  };
}

/**
 * `__ad_shadow_realloc(size, block, old, oldDelta)`: a shadow block for the reallocated block,
 * holding the old shadow's first min(old size, size) bytes (tangents move with the data in
 * forward mode; in the augmented sweep shadows of blocks are still zero). A non-null old
 * block without a delta (not a block the analyses followed) traps instead of copying primal
 * data. `__ad_shadow_unrealloc(size, shadow, old, oldDelta)`, its reversal: the adjoints of
 * the copied bytes go back to the old shadow, which nothing touched after the move (zero).
 */
export function shadowReallocFunctions(): IRFunction[] {
  const size = get(0, "i32"), old = get(2, "i32"), oldDelta = get(3, "i32");
  const oldShadow = binary("i32.add", old, oldDelta);
  const copied = (s: Expr): Expr => ({ kind: "select", type: "i32", ifTrue: load("i32.load", binary("i32.sub", oldShadow, i32(4))), ifFalse: s,
    cond: binary("i32.lt_u", load("i32.load", binary("i32.sub", oldShadow, i32(4))), s) });
  const guard: Expr = { kind: "if", type: "none", cond: unaryEqz(oldDelta), then: { kind: "unreachable", type: "unreachable" }, else: null };
  const realloc: IRFunction = {
    name: SHADOW_REALLOC, inactive: true, params: ["i32", "i32", "i32", "i32"], results: ["i32"], locals: ["i32", "i32", "i32", "i32", "i32"], localNames: ["size", "block", "old", "old_delta", "delta"],
    body: { kind: "block", type: "unreachable", label: null, body: [
      set(4, { kind: "call", type: "i32", func: SHADOW_ALLOC, args: [size, get(1, "i32")] }),
      { kind: "if", type: "none", cond: old, then: { kind: "block", type: "none", label: null, body: [guard,
        { kind: "memory.copy", type: "none", dest: binary("i32.add", get(1, "i32"), get(4, "i32")), src: oldShadow, size: copied(size) }] }, else: null },
      { kind: "return", type: "unreachable", value: get(4, "i32") },
    ] },
  };
  const unrealloc: IRFunction = {
    name: SHADOW_UNREALLOC, inactive: true, params: ["i32", "i32", "i32", "i32"], results: [], locals: ["i32", "i32", "i32", "i32"], localNames: ["size", "shadow", "old", "old_delta"],
    body: { kind: "if", type: "none", cond: old, then: { kind: "memory.copy", type: "none", dest: oldShadow, src: get(1, "i32"), size: copied(size) }, else: null },
  };
  return [realloc, unrealloc];
}

const unaryEqz = (e: Expr): Expr => ({ kind: "unary", type: "i32", op: "i32.eqz", value: e });
