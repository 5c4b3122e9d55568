// Functions that return a block they allocate — AssemblyScript's `StaticArray<f64>#constructor`,
// a C helper `double *vec(int n) { return calloc(n, 8); }` — are inlined into the function
// being differentiated before anything else looks at it. The allocation is then the caller's
// own (src/ad/allocations.ts gives it a shadow block and a delta local that travels with the
// pointer), instead of a call whose result has no shadow the caller could know.
import { PointerAnalysis } from "../analysis/pointers.js";
import { allocatorOf, DEALLOCATORS, REALLOCATORS, reallocatorOf } from "../analysis/allocators.js";
import { get, set, zero } from "../ir/builder.js";
import { rewriteStatements } from "../ir/normalize.js";
import type { Expr, IRFunction, IRModule } from "../ir/types.js";
import { forEachNode, mapTree } from "../ir/walk.js";
import { assignedBeforeRead } from "../ir/definite-assignment.js";
import { withShadowAllocations } from "./allocations.js";

const MAX_DEPTH = 4;

/**
 * fn (statement form) with calls to allocating wrappers inlined. `normalized(name)` gives a
 * function of the module in statement form (no shadow allocations yet).
 */
export function inlineAllocatingCalls(fn: IRFunction, mod: IRModule, normalized: (name: string) => IRFunction, wrappers: Map<string, boolean>, depth = 0): IRFunction {
  if (depth >= MAX_DEPTH || !fn.body || !mod.functions.some((f) => allocatorOf(f) || reallocatorOf(f))) return fn;
  const locals = [...fn.locals], localNames = [...(fn.localNames ?? [])];
  let changed = false;
  const body = rewriteStatements(fn.body as Expr, (s, out) => {
    const call = s.kind === "local.set" && s.value.kind === "call" ? s.value : s.kind === "call" ? s : null;
    const callee = call ? mod.functions.find((f) => f.name === call.func) : undefined;
    if (!call || !callee || callee.name === fn.name || !(returnsFreshBlock(callee, mod, normalized, wrappers, depth) || resizesBlock(callee))) { out.push(s); return; }
    changed = true;
    const w = inlineAllocatingCalls(normalized(callee.name), mod, normalized, wrappers, depth + 1);
    const base = locals.length;
    const tag = callee.name.replace(/[^\w]/g, "_").slice(-24);
    w.locals.forEach((t, i) => { localNames[locals.push(t) - 1] = `${w.localNames?.[i] ?? "l" + i}_${tag}_${locals.length - 1}`; });
    const resultType = w.results[0] ?? "i32";
    const result = locals.push(resultType) - 1;
    localNames[result] = `ret${result}`;
    const exit = `inl${base}`;
    const relabel = (l: string) => `${l}_${exit}`;
    const assignedFirst = assignedBeforeRead(w.body as Expr);
    const moved = mapTree(w.body as Expr, (n) => {
      switch (n.kind) {
        case "local.get": return { ...n, local: n.local + base };
        case "local.set": return { ...n, local: n.local + base };
        case "tuple.set": return { ...n, locals: n.locals.map((l) => l + base) };
        case "block": return n.label ? { ...n, label: relabel(n.label) } : n;
        case "loop": return { ...n, label: relabel(n.label) };
        case "br": return { ...n, label: relabel(n.label) };
        case "br_table": return { ...n, labels: n.labels.map(relabel), default: relabel(n.default) };
        case "return": return { kind: "block", type: "unreachable", label: null, body: [...(n.value ? [set(result, n.value)] : []), { kind: "br", type: "unreachable", label: exit, cond: null, value: null }] };
        default: return n;
      }
    });
    // arguments are evaluated before any parameter is assigned; the callee's other locals start at zero, as on a call
    const args = call.args.map((a) => { const t = locals.push(a.type as never) - 1; localNames[t] = `arg${t}`; return t; });
    out.push(
      ...call.args.map((a, i) => set(args[i], a)),
      ...w.params.map((t, i) => set(base + i, get(args[i], t))),
      // (only those read before they are certainly assigned: a zero that no read sees would pass,
      // in analyses that name words by constant offsets, for a value the local never has when read)
      ...w.locals.slice(w.params.length).flatMap((t, i) => (assignedFirst.has(w.params.length + i) ? [] : [set(base + w.params.length + i, zero(t))])),
      { kind: "block", type: "none", label: exit, body: [moved] },
      ...(s.kind === "local.set" ? [set(s.local, get(result, resultType))] : []),
    );
  });
  return changed ? { ...fn, locals, localNames, body } : fn;
}

/**
 * Whether fn moves a block to a new size itself (AssemblyScript's `ensureCapacity` for
 * Array#push): inlined, the reallocation and the object fields it rewrites are the caller's.
 */
function resizesBlock(fn: IRFunction): boolean {
  if (fn.import || !fn.body || fn.rules?.length || fn.inactive || reallocatorOf(fn) || allocatorOf(fn) || DEALLOCATORS.test(fn.name)) return false;
  let found = false;
  forEachNode(fn.body as Expr, (n) => { if (n.kind === "call" && REALLOCATORS.test(n.func)) found = true; });
  return found;
}

/** Whether every value fn returns points into a block fn itself allocated (memoised in `wrappers`). */
function returnsFreshBlock(fn: IRFunction, mod: IRModule, normalized: (name: string) => IRFunction, wrappers: Map<string, boolean>, depth: number): boolean {
  if (fn.import || fn.rules?.length || fn.inactive || allocatorOf(fn) || reallocatorOf(fn) || DEALLOCATORS.test(fn.name) || fn.results.length !== 1 || fn.results[0] !== "i32") return false;
  let known = wrappers.get(fn.name);
  if (known === undefined) {
    wrappers.set(fn.name, false); // recursion: not a wrapper
    const w = withShadowAllocations(inlineAllocatingCalls(normalized(fn.name), mod, normalized, wrappers, depth + 1), mod);
    const ptr = new PointerAnalysis(w, { params: w.params.map(() => "const"), resultActive: false });
    let returns = 0, fromBlocks = 0;
    forEachNode(w.body as Expr, (n) => { if (n.kind === "return" && n.value) { returns++; if (ptr.of(n.value).kind === "alloc") fromBlocks++; } });
    known = returns > 0 && returns === fromBlocks;
    wrappers.set(fn.name, known);
  }
  return known;
}
