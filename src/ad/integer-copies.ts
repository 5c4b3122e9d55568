// Bytes moved through integers: `i64.load` / `i64.store` of a struct copy, `load8_u` /
// `store8` in a memcpy compiled as a function, the sign bit of a double flipped with
// `i64.xor`. Where the source memory has a shadow, those bytes may be floats, and the
// integer path carries no derivative: the copy's shadow would silently stay behind.
// Without type information that tells floats from integers in memory, such a flow (an
// integer loaded from shadowed memory reaching a store into shadowed memory, through any
// integer arithmetic and locals) is refused with the remedy, never differentiated.
import type { Analyzed } from "./differentiator.js";
import { hasShadow } from "../analysis/pointers.js";
import { UnsupportedError } from "../errors.js";
import { printExpr } from "../ir/print.js";
import type { Expr } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";

export function refuseIntegerCopies(a: Analyzed): void {
  const fn = a.fn;
  const tainted = new Set<number>();
  /** Whether an integer tree carries bytes loaded from shadowed memory. */
  const carries = (e: Expr): boolean => {
    let found = false;
    forEachNode(e, (n) => {
      if (found || isFloat(n.type)) return;
      if (n.kind === "load" && !isFloat(n.type) && hasShadow(a.ptr.of(n.addr))) found = true;
      if (n.kind === "local.get" && tainted.has(n.local)) found = true;
    });
    return found;
  };
  const sets: { local: number; value: Expr }[] = [];
  forEachNode(fn.body as Expr, (n) => { if (n.kind === "local.set" && !isFloat(fn.locals[n.local])) sets.push({ local: n.local, value: n.value }); });
  for (let changed = true; changed;) {
    changed = false;
    for (const s of sets) if (!tainted.has(s.local) && carries(s.value)) { tainted.add(s.local); changed = true; }
  }
  forEachNode(fn.body as Expr, (n) => {
    if (n.kind !== "store" || isFloat(n.value.type) || !hasShadow(a.ptr.of(n.addr)) || !carries(n.value)) return;
    throw new UnsupportedError(fn.name, printExpr(n, 0, fn.localNames).replace(/\s+/g, " ").slice(0, 120),
      "an integer loaded from memory that has a shadow is stored into memory that has one: the bytes may be floats (a byte-wise or i64 copy, a memcpy compiled as a function, bit tricks on a double), and their derivatives would not follow; copy with f64/f32 loads and stores, or mark the copying function with a custom rule");
  });
}
