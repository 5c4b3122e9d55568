// Activity analysis: which float locals of a function in statement form can carry a
// derivative. A value is active when it depends on an active parameter, on a float
// loaded through a shadowed pointer, or on the result of an active call. The analysis
// is flow-insensitive (one answer per local), which is conservative and never drops
// a derivative; inactive values are never differentiated.
import type { Expr, IRFunction } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";
import { hasShadow, type PointerAnalysis } from "./pointers.js";
import type { ActivitySignature } from "./signature.js";

export class ActivityAnalysis {
  readonly activeLocals: boolean[];

  private readonly hasShadows: boolean;
  /** Pointer arguments (nodes of calls with no float result) shown to carry no derivative (src/ad/inert-frame-args.ts). */
  readonly inertArgs = new Set<Expr>();

  constructor(readonly fn: IRFunction, sig: ActivitySignature, private readonly ptr: PointerAnalysis,
    /** Whether a call's float result may depend on active data (decided by the call-site model). */
    private readonly callIsActive: (call: Expr, argActive: (e: Expr) => boolean) => boolean) {
    this.hasShadows = sig.params.includes("dup") || sig.params.includes("unknown") || ptr.allocates;
    this.activeLocals = fn.locals.map((t, i) => i < fn.params.length && isFloat(t) && sig.params[i] === "active");
    const sets: { locals: number[]; value: Expr }[] = [];
    forEachNode(fn.body as Expr, (n) => {
      if (n.kind === "local.set" && isFloat(fn.locals[n.local])) sets.push({ locals: [n.local], value: n.value });
      if (n.kind === "tuple.set") sets.push({ locals: n.locals.filter((l) => isFloat(fn.locals[l])), value: n.value });
    });
    for (let changed = true; changed;) {
      changed = false;
      for (const s of sets)
        if (this.isActive(s.value))
          for (const l of s.locals) if (!this.activeLocals[l]) { this.activeLocals[l] = true; changed = true; }
    }
  }

  /** Whether a float-valued expression may carry a derivative. Integer values never do. */
  isActive(e: Expr): boolean {
    if (!isFloat(e.type)) return false;
    switch (e.kind) {
      case "local.get": return this.activeLocals[e.local];
      case "load": { const p = this.ptr.of(e.addr); return p.kind === "arg" ? p.shadowed : p.kind === "alloc" || p.kind === "unknown"; }
      case "unary": return this.isActive(e.value);
      case "binary": return this.isActive(e.left) || this.isActive(e.right);
      case "select": return this.isActive(e.ifTrue) || this.isActive(e.ifFalse);
      case "call": case "call_indirect": return this.callIsActive(e, (a) => this.argCarriesDerivative(a));
      default: return false;
    }
  }

  /** Whether an argument passes a derivative to a callee: an active float or a shadowed pointer. */
  argCarriesDerivative(a: Expr): boolean {
    if (this.inertArgs.has(a)) return false;
    if (isFloat(a.type)) return this.isActive(a);
    if (a.type === "i32") {
      const p = this.ptr.of(a);
      // an untraced pointer may reach active memory when there is any: the callee decides (and refuses active accesses through it)
      return hasShadow(p) || (p.kind === "unknown" && this.hasShadows);
    }
    return false;
  }
}
