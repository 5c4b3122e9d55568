// Gives the lifted module's own code a virtual memory size, so the kernel and the runtime can
// share one linear memory: memory.size reads `__ad_kernel_pages` and memory.grow goes through
// `__ad_kernel_grow`, which hands out pages below `__ad_kernel_limit` (set by the runtime
// before each call, see memory.ts). Allocators that size their heap by memory.size
// (AssemblyScript's runtimes, C's sbrk) then never hand out the runtime's buffers, shadows or
// tape, which sit above the limit even though the real memory is larger.
import { binary, block, get, i32, set } from "../ir/builder.js";
import type { Expr, IRFunction, IRModule } from "../ir/types.js";
import { forEachNode, mapTree } from "../ir/walk.js";

import { KERNEL_GROW } from "../ad/tape.js";

/** The kernel's page count as its code sees it (memory.size). */
export const KERNEL_PAGES = "__ad_kernel_pages";
/** The page the kernel may not grow past during the current call (65536 when unlimited). */
export const KERNEL_LIMIT = "__ad_kernel_limit";
/** Set to 1 just before `__ad_kernel_grow` traps at the limit, so the runtime can say why. */
export const HEAP_EXHAUSTED = "__ad_heap_exhausted";

const MAX_PAGES = 65536;

/** Whether any function of the module grows memory (it then has an allocator that needs room). */
export function growsMemory(ir: IRModule): boolean {
  let grows = false;
  for (const f of ir.functions)
    if (f.body && !("kind" in f.body && f.body.kind === "cfg")) forEachNode(f.body as Expr, (n) => { if (n.kind === "memory.grow") grows = true; });
  return grows;
}

/**
 * Every module is instrumented, not only those with memory.grow: AssemblyScript's runtimes
 * read memory.size to find where their heap ends. `pages.initial`: what memory.size reports
 * before any growth (the module's declared initial size, or an imported memory's size);
 * `pages.maximum`: the declared maximum, past which memory.grow returns -1 as it would natively.
 */
export function virtualizeMemory(ir: IRModule, pages: { initial: number; maximum: number | null }): IRModule {
  const functions = ir.functions.map((f) => {
    if (!f.body || ("kind" in f.body && f.body.kind === "cfg")) return f;
    const body = mapTree(f.body as Expr, (n) => {
      if (n.kind === "memory.size") return gget(KERNEL_PAGES);
      if (n.kind === "memory.grow") return { kind: "call", type: "i32", func: KERNEL_GROW, args: [n.delta] } as Expr;
      return n;
    });
    return { ...f, body };
  });
  const global = (name: string, value: number) => ({ name, type: "i32" as const, mutable: true, init: i32(value) });
  return {
    ...ir, functions: [...functions, kernelGrow(Math.min(pages.maximum ?? MAX_PAGES, MAX_PAGES))],
    globals: [...ir.globals, global(KERNEL_PAGES, pages.initial), global(KERNEL_LIMIT, MAX_PAGES), global(HEAP_EXHAUSTED, 0)],
  };
}

const gget = (g: string): Expr => ({ kind: "global.get", type: "i32", global: g });
const gset = (g: string, value: Expr): Expr => ({ kind: "global.set", type: "none", global: g, value });
const ret = (value: Expr): Expr => ({ kind: "return", type: "unreachable", value });
const when = (cond: Expr, then: Expr): Expr => ({ kind: "if", type: "none", cond, then, else: null });

/** `__ad_kernel_grow(delta)`: memory.grow's contract, over the virtual size. */
function kernelGrow(maxPages: number): IRFunction {
  const delta = get(0, "i32"), old = get(1, "i32"), want = get(2, "i32"), real = get(3, "i32");
  const size: Expr = { kind: "memory.size", type: "i32" };
  const pagesToBytes = (p: Expr) => binary("i32.shl", p, i32(16));
  return {
    name: KERNEL_GROW, params: ["i32"], results: ["i32"], locals: ["i32", "i32", "i32", "i32"], localNames: ["delta", "old", "want", "real"],
    // the derivative of a page count is nothing: calls to it run as they are in every mode
    inactive: true,
    body: block([
      set(1, gget(KERNEL_PAGES)),
      // what memory.grow refuses, refuse the same way (delta is unsigned: a negative i32 is ≥ 2 GiB of pages)
      when(binary("i32.lt_s", delta, i32(0)), ret(i32(-1))),
      set(2, binary("i32.add", old, delta)),
      when(binary("i32.gt_u", want, i32(maxPages)), ret(i32(-1))),
      // past the limit lie the runtime's buffers. Trap rather than return -1: C code rarely
      // checks malloc's NULL and would write through address 0 without a word
      when(binary("i32.gt_u", want, gget(KERNEL_LIMIT)), block([gset(HEAP_EXHAUSTED, i32(1)), { kind: "unreachable", type: "unreachable" }], null, "unreachable")),
      set(3, size),
      // pages that already exist may hold an earlier call's scratch data; memory.grow gives zeros
      when(binary("i32.gt_u", real, old), {
        kind: "memory.fill", type: "none", dest: pagesToBytes(old), value: i32(0),
        size: pagesToBytes(binary("i32.sub", { kind: "select", type: "i32", cond: binary("i32.lt_u", want, real), ifTrue: want, ifFalse: real }, old)),
      }),
      when(binary("i32.lt_u", real, want),
        when(binary("i32.eq", { kind: "memory.grow", type: "i32", delta: binary("i32.sub", want, real) }, i32(-1)), ret(i32(-1)))),
      gset(KERNEL_PAGES, want),
      ret(old),
    ], null, "unreachable"),
  };
}
