// The C stack (clang and rustc keep locals whose address is taken, and at -O0 every local, in
// linear memory below the global `__stack_pointer`): a function's frame is allocated by
//     F = __stack_pointer - K;  __stack_pointer = F     … and given back by __stack_pointer = F + K.
// Such a frame is a block like any other allocation: it gets a shadow block of K bytes
// (allocations.ts), and slots holding pointers and integers are read as locals where that is
// exact (object-fields.ts), so a shadow stack follows the C stack.
import type { Expr } from "../ir/types.js";
import { assignmentsOf, constantOf } from "../ir/walk.js";

export const STACK_POINTER = "__stack_pointer";

/**
 * Locals that hold a frame (assigned once, `__stack_pointer - K`), with the size K (an i32
 * tree: a constant for a frame, `n * 8` for a variable-length array or alloca). A function
 * that calls others stores the frame to `__stack_pointer`; a leaf uses the memory below the
 * stack pointer without moving it.
 */
export function stackFrames(body: Expr): Map<number, Expr> {
  // zero (an inlined callee's locals start at zero) is not an assignment that matters here
  const assigns = assignmentsOf(body, true);
  const only = (l: number) => { const v = assigns.get(l); return v && v.length === 1 ? v[0] : null; };
  // the stack pointer, a copy of it, or a frame (memory carved below a frame is a block of its own)
  const isSP = (e: Expr, depth = 0): boolean => depth < 64 && ((e.kind === "global.get" && e.global === STACK_POINTER)
    || (e.kind === "local.get" && !!only(e.local) && (isSP(only(e.local)!, depth + 1) || isCarved(only(e.local)!, depth + 1))));
  const isCarved = (v: Expr, depth: number): boolean => v.kind === "binary" && v.op === "i32.sub" && isSP(v.left, depth);
  const frames = new Map<number, Expr>();
  for (const [f] of assigns) {
    const v = only(f);
    if (!v || v.kind !== "binary" || v.op !== "i32.sub" || !isSP(v.left)) continue;
    const k = constantOf(v.right, assigns);
    if (k === null || k > 0) frames.set(f, k === null ? v.right : { kind: "const", type: "i32", value: k });
  }
  return frames;
}
