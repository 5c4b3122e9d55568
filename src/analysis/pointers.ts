// Pointer provenance (a small TypeAnalysis): for every i32 value of a function in
// statement form, which parameter's buffer it points into. A load or store through an
// address derived from a "dup" parameter has a shadow at address + (shadow − primal) of
// that parameter. Flow-insensitive: a local that may hold pointers into two buffers is
// "unknown", and an active access through an unknown address is refused, never guessed.
import type { Expr, IRFunction } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";
import type { ActivitySignature } from "./signature.js";

/** "int": an integer, or an address in the module's own memory (no shadow). */
export type Provenance = { kind: "int" } | { kind: "arg"; param: number; shadowed: boolean } | { kind: "unknown"; why: string };

const INT: Provenance = { kind: "int" };
const unknown = (why: string): Provenance => ({ kind: "unknown", why });
const same = (a: Provenance, b: Provenance) =>
  a.kind === b.kind && (a.kind !== "arg" || (b.kind === "arg" && a.param === b.param));

function join(a: Provenance | undefined, b: Provenance): Provenance {
  if (!a) return b;
  if (same(a, b)) return a;
  if (a.kind === "unknown") return a;
  if (b.kind === "unknown") return b;
  return unknown("it may point into different buffers on different paths");
}

export class PointerAnalysis {
  private readonly locals: (Provenance | undefined)[];

  constructor(readonly fn: IRFunction, sig: ActivitySignature) {
    this.locals = fn.locals.map((t, i) => {
      if (i >= fn.params.length || t !== "i32") return undefined;
      const p = sig.params[i];
      if (p === "unknown") return unknown("the caller passes a value it cannot trace to an argument buffer");
      return p === "dup" || p === "const-ptr" ? { kind: "arg", param: i, shadowed: p === "dup" } : INT;
    });
    const sets: { local: number; value: Expr }[] = [];
    forEachNode(fn.body as Expr, (n) => {
      if (n.kind === "local.set" && fn.locals[n.local] === "i32") sets.push({ local: n.local, value: n.value });
      if (n.kind === "tuple.set") n.locals.forEach((l) => { if (fn.locals[l] === "i32") this.locals[l] = join(this.locals[l], unknown("it is returned by a call")); });
    });
    for (let changed = true; changed;) {
      changed = false;
      for (const s of sets) {
        const next = join(this.locals[s.local], this.of(s.value));
        const prev = this.locals[s.local];
        if (!prev || !same(prev, next)) { this.locals[s.local] = next; changed = true; }
      }
    }
  }

  /** Provenance of an i32 expression (pure trees, calls and memory.grow results). */
  of(e: Expr): Provenance {
    switch (e.kind) {
      case "const": return INT;
      case "local.get": return this.locals[e.local] ?? INT;
      case "global.get": return INT;
      case "load": return unknown("it is loaded from memory");
      case "call": case "call_indirect": return unknown("it is returned by a call");
      case "memory.size": case "memory.grow": return INT;
      case "select": return join(this.of(e.ifTrue), this.of(e.ifFalse));
      case "unary": return e.value.type === "i32" && this.of(e.value).kind !== "int" && !e.op.endsWith("eqz") ? unknown(`${e.op} of a pointer`) : INT;
      case "binary": {
        const op = e.op.slice(4);
        if (e.type !== "i32" || e.left.type !== "i32") return INT;
        if (/^(eq|ne|lt|gt|le|ge)/.test(op)) return INT;
        const a = this.of(e.left), b = this.of(e.right);
        if (a.kind === "int" && b.kind === "int") return INT;
        // a buffer plus an untraced value: only an integer offset makes the sum meaningful
        // (a loaded index, x + idx[i] * 8), so the sum still points into the buffer
        if ((op === "add" || op === "sub") && a.kind === "arg" && b.kind === "unknown") return a;
        if (op === "add" && b.kind === "arg" && a.kind === "unknown") return b;
        if (a.kind === "unknown") return a;
        if (b.kind === "unknown") return b;
        // pointer ± integer, and pointer & | ^ small constants (aligned bases; shadows keep the alignment)
        if (op === "add" || op === "and" || op === "or" || op === "xor") return a.kind === "arg" && b.kind === "arg" ? unknown(`${e.op} of two pointers`) : a.kind === "arg" ? a : b;
        if (op === "sub") {
          if (a.kind === "arg" && b.kind === "int") return a;
          if (a.kind === "arg" && b.kind === "arg" && a.param === b.param) return INT;
        }
        return unknown(`${e.op} on a pointer`);
      }
      default: return INT;
    }
  }
}
