// Prepares a lifted module for sharing one memory between the kernel and the runtime:
// every memory.grow of the kernel goes through `__ad_kernel_grow`, which records in a
// global the highest page the kernel owns. The runtime places its buffers, shadows and
// tape above that mark, and reverse mode moves the tape above pages the kernel grows
// during a call (src/ad/reverse.ts), so neither overwrites the other's memory.
import type { Expr, IRFunction, IRModule } from "../ir/types.js";
import { mapTree } from "../ir/walk.js";

import { KERNEL_GROW } from "../ad/tape.js";

export const KERNEL_PAGES = "__ad_kernel_pages";

export function instrumentMemoryGrow(ir: IRModule): IRModule {
  let grows = false;
  const functions = ir.functions.map((f) => {
    if (!f.body || ("kind" in f.body && f.body.kind === "cfg")) return f;
    const body = mapTree(f.body as Expr, (n) => {
      if (n.kind !== "memory.grow") return n;
      grows = true;
      return { kind: "call", type: "i32", func: KERNEL_GROW, args: [n.delta] } as Expr;
    });
    return { ...f, body };
  });
  if (!grows) return ir;
  const pages = (): Expr => ({ kind: "global.get", type: "i32", global: KERNEL_PAGES });
  const local = (i: number): Expr => ({ kind: "local.get", type: "i32", local: i });
  // r = memory.grow(d); if r != -1: pages = max(pages, r + d); return r
  const grow: IRFunction = {
    name: KERNEL_GROW, params: ["i32"], results: ["i32"], locals: ["i32", "i32", "i32"], localNames: ["delta", "old", "top"],
    body: { kind: "block", type: "unreachable", label: null, body: [
      { kind: "local.set", type: "none", local: 1, value: { kind: "memory.grow", type: "i32", delta: local(0) }, tee: false },
      { kind: "if", type: "none", cond: { kind: "binary", type: "i32", op: "i32.ne", left: local(1), right: { kind: "const", type: "i32", value: -1 } },
        then: { kind: "block", type: "none", label: null, body: [
          { kind: "local.set", type: "none", local: 2, value: { kind: "binary", type: "i32", op: "i32.add", left: local(1), right: local(0) }, tee: false },
          { kind: "if", type: "none", cond: { kind: "binary", type: "i32", op: "i32.gt_u", left: local(2), right: pages() },
            then: { kind: "global.set", type: "none", global: KERNEL_PAGES, value: local(2) }, else: null },
        ] }, else: null },
      { kind: "return", type: "unreachable", value: local(1) },
    ] },
  };
  return {
    ...ir, functions: [...functions, grow],
    globals: [...ir.globals, { name: KERNEL_PAGES, type: "i32", mutable: true, init: { kind: "const", type: "i32", value: 0 } }],
  };
}
