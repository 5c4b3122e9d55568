// Which functions of a module allocate memory: AssemblyScript's runtime (`__new`, `__alloc`
// of the stub, incremental and minimal runtimes), C's `malloc`/`calloc`/`aligned_alloc`
// (wasi-libc, Emscripten), Rust's `__rust_alloc`/`__rust_alloc_zeroed`, recognised by the
// names the name section keeps and checked by signature, and functions the user names with
// `program.allocator`. A block they return gets a zeroed shadow block of the same size.
import type { Expr, IRFunction } from "../ir/types.js";

/** The function derivative code calls right after an allocation: `delta = __ad_shadow_alloc(size, block)`. */
export const SHADOW_ALLOC = "__ad_shadow_alloc";
/** Sets the delta of a pointer loaded from memory from its shadow word (src/ad/memory-pointers.ts). */
export const POINTER_DELTA = "__ad_pointer_delta";
/**
 * The global through which a derivative function returning an i32 hands back the delta of the
 * pointer it returns (POISON for an integer); a caller sets it to POISON before the call, so a
 * callee run as primal code (inactive) leaves a pointer without a shadow, never a stale delta.
 */
export const RETURN_DELTA = "__ad_return_delta";
/**
 * `d = __ad_delta_of(p)`: the delta of the pointer p is, as the derivative code knows it where
 * the assignment runs (a parameter's shadow offset, a block's delta, the Const marker, POISON
 * for an integer). Set beside each assignment of a local that holds pointers into different
 * buffers on different paths (`q = c ? x : y` by branches), so its shadow follows it.
 */
export const DELTA_OF = "__ad_delta_of";

/** Which arguments give the block's size: one argument, or the product of two (calloc). */
export type SizeArgs = [number] | [number, number];

const BY_NAME: { name: RegExp; size: SizeArgs; params: number }[] = [
  { name: /^~lib\/rt\/(stub|itcms|tcms)\/__new$/, size: [0], params: 2 },
  { name: /^~lib\/rt\/(stub|tlsf)\/__alloc$/, size: [0], params: 1 },
  { name: /^(malloc|dlmalloc|emscripten_builtin_malloc)$/, size: [0], params: 1 },
  { name: /^(calloc|dlcalloc|emscripten_builtin_calloc)$/, size: [0, 1], params: 2 },
  { name: /^aligned_alloc$/, size: [1], params: 2 },
  { name: /^(__rust_alloc|__rust_alloc_zeroed)$/, size: [0], params: 2 },
];

/**
 * Functions that give a block back, or tell a GC about one (pin it, link a reference stored in
 * an object): they move no derivatives and write no object's fields, whatever pointer they get.
 */
export const DEALLOCATORS = /^(free|dlfree|emscripten_builtin_free|__rust_dealloc|~lib\/rt\/(stub|tlsf|itcms|tcms)\/(__free|__pin|__unpin|__collect|__link))$/;

/** The function derivative code calls right after a reallocation: `delta = __ad_shadow_realloc(size, block, old, oldDelta)`. */
export const SHADOW_REALLOC = "__ad_shadow_realloc";
/** The function the reverse sweep calls where it passes a reallocation: the copied adjoints go back to the old block's shadow. */
export const SHADOW_UNREALLOC = "__ad_shadow_unrealloc";

/** Functions that move a block to a new size: which arguments are the old block and the new size. */
const REALLOC_BY_NAME: { name: RegExp; old: number; size: number; params: number }[] = [
  { name: /^(realloc|dlrealloc|emscripten_builtin_realloc)$/, old: 0, size: 1, params: 2 },
  { name: /^~lib\/rt\/(stub|tlsf)\/__realloc$/, old: 0, size: 1, params: 2 },
  { name: /^~lib\/rt\/(stub|itcms|tcms)\/__renew$/, old: 0, size: 1, params: 2 },
  { name: /^__rust_realloc$/, old: 0, size: 3, params: 4 },
];
export const REALLOCATORS = /^(realloc|dlrealloc|emscripten_builtin_realloc|~lib\/rt\/(stub|tlsf)\/__realloc|~lib\/rt\/(stub|itcms|tcms)\/__renew|__rust_realloc)$/;

/** How `fn` reallocates, if it does: the old block's and the new size's argument indexes. */
export function reallocatorOf(fn: IRFunction): { old: number; size: number } | null {
  if (fn.results.length !== 1 || fn.results[0] !== "i32" || !fn.params.every((p) => p === "i32")) return null;
  const hit = REALLOC_BY_NAME.find((a) => a.name.test(fn.name) && a.params === fn.params.length);
  return hit ? { old: hit.old, size: hit.size } : null;
}

/** How `fn` allocates, if it is an allocator: the arguments giving the size. */
export function allocatorOf(fn: IRFunction): SizeArgs | null {
  if (fn.allocator) return fn.allocator.size;
  if (fn.results.length !== 1 || fn.results[0] !== "i32" || !fn.params.every((p) => p === "i32")) return null;
  const hit = BY_NAME.find((a) => a.name.test(fn.name) && a.params === fn.params.length);
  return hit ? hit.size : null;
}

/** The size of the block a call allocates, as a tree over the call's arguments. */
export function allocationSize(size: SizeArgs, args: Expr[]): Expr {
  return size.length === 1 ? args[size[0]]
    : { kind: "binary", type: "i32", op: "i32.mul", left: args[size[0]], right: args[size[1]] };
}
