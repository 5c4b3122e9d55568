// Calls that read only constants out of the caller's frame. At -O0, `vec![0.0; n]` stores the
// element 0.0 (a constant) in `from_elem`'s frame and asks `is_zero(&elem)`, which compares the
// double's bits (`to_bits`, a reinterpret). The pointer points into memory with a shadow, so
// the call counts as carrying a derivative, and the bit read is refused as one of an active
// float. But a derivative can flow through a pointer argument only through what the callee
// reads or writes there. This file marks a pointer into the function's own frame as carrying
// none when the callee's summary (clean-words.ts, frame-pointers.ts, over its callees too) shows
// that it writes nothing through it, lets it go nowhere, reads only bytes at offsets it names,
// and reads no pointer out of it to follow; and when every write to those bytes of the frame is
// the function's own store of an inactive float or of a clean integer that is no pointer to
// memory with a shadow. What the callee gets through the pointer is then constant, and it
// changes nothing there: calling its primal (when no other argument carries a derivative)
// loses no derivative.
import type { ActivityAnalysis } from "../analysis/activity.js";
import type { PointerAnalysis } from "../analysis/pointers.js";
import type { Expr, IRFunction } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";
import type { FrameWrites, WriteSummary } from "./clean-words.js";
import { wordAssignments } from "./clean-words.js";
import { parseSlotKey, slotKey } from "./memory-pointers.js";

/** The pointer arguments (the nodes themselves) of fn's calls that carry no derivative. `callee(f)`: module function f's summary, null for an import. */
export function inertFrameArgs(fn: IRFunction, act: ActivityAnalysis, ptr: PointerAnalysis, fw: FrameWrites, callee: (f: string) => WriteSummary | null): Set<Expr> {
  const out = new Set<Expr>();
  const assigns = wordAssignments(fn.body as Expr);
  forEachNode(fn.body as Expr, (n) => {
    // (a float result would be active through the call: the activity of the function's locals was found with it)
    if (n.kind !== "call" || !["none", "i32", "i64"].includes(n.type)) return;
    // (the derivative code's own helpers are no calls of the program)
    const s = n.func.startsWith("__ad_") ? null : callee(n.func);
    if (!s) return;
    n.args.forEach((a, j) => {
      if (a.type !== "i32") return;
      const k = parseSlotKey(slotKey(a, 0, assigns));
      if (!k || !fw.frames.has(k.root) || fw.escaped.has(k.root) || fw.byOthers.frames.has(k.root)) return;
      const w = s.get(j);
      if (w && (w.words.size || w.any || w.escapes || w.leaks || w.readsAny || w.holds.size || [...w.through.values()].some((t) => t.escapes || t.words.size || t.any))) return;
      const bytes = w ? [...w.reads].map((x) => x + k.off) : [];
      if (bytes.some((b) => fw.byOthers.bytes.has(`${b}@${k.root}`))) return;
      for (const o of fw.ownStores.get(k.root) ?? []) {
        if (!bytes.some((b) => b >= o.off && b < o.off + o.size)) continue;
        const v = o.store.value;
        if (isFloat(v.type) ? act.isActive(v) : !fw.cleanValue(v) || ptr.of(v).kind !== "int") return;
      }
      out.add(a);
    });
  });
  return out;
}
