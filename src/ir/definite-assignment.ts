// Definite assignment: which locals every run of a function body assigns before it reads them.
// The inliner (src/ad/inline-allocating.ts) resets a callee's locals to zero, as a call does,
// only where a read could see that zero. A reset no read sees would be an assignment in the
// way of analyses that name memory words by constant offsets: a local set to 0 and then to 8
// is no constant, and one only ever set to 8 is.
import type { Expr } from "./types.js";
import { children } from "./walk.js";

type State = Set<number> | null; // null: not reached (after a br, a return, unreachable)

const meet = (a: State, b: State): State => (a === null ? b && new Set(b) : b === null ? a : new Set([...a].filter((l) => b.has(l))));

/** Locals of `body` that are assigned on every path before any read of them (in Wasm's evaluation order). */
export function assignedBeforeRead(body: Expr): Set<number> {
  const assigned = new Set<number>(), readFirst = new Set<number>();
  /** The state at each label's end, met over the branches to it (a loop's label: its start, whose state is the entry's). */
  const atLabel = new Map<string, State>();
  const branch = (label: string, s: State) => { if (s && atLabel.has(label)) atLabel.set(label, meet(atLabel.get(label)!, s)); };
  const walk = (e: Expr, s: State): State => {
    if (s === null) return null; // (dead code: no read there runs)
    switch (e.kind) {
      case "local.get":
        if (!s.has(e.local)) readFirst.add(e.local);
        return s;
      case "local.set": {
        const after = walk(e.value, s);
        if (after) { after.add(e.local); assigned.add(e.local); }
        return after;
      }
      case "tuple.set": {
        const after = walk(e.value, s);
        if (after) for (const l of e.locals) { after.add(l); assigned.add(l); }
        return after;
      }
      case "block": {
        if (e.label !== null) atLabel.set(e.label, null);
        let cur: State = s;
        for (const x of e.body) cur = walk(x, cur);
        if (e.label === null) return cur;
        const out = meet(cur, atLabel.get(e.label)!);
        atLabel.delete(e.label);
        return out;
      }
      case "loop": {
        // (a branch back to the start carries at least the entry's assignments: sets only grow along a path)
        return walk(e.body, new Set(s));
      }
      case "if": {
        const c = walk(e.cond, s);
        if (!c) return null;
        const t = walk(e.then, new Set(c));
        const f = e.else ? walk(e.else, new Set(c)) : c;
        return meet(t, f);
      }
      case "br": {
        let cur: State = s;
        if (e.value) cur = walk(e.value, cur);
        if (e.cond) cur = walk(e.cond, cur);
        branch(e.label, cur);
        return e.cond ? cur : null;
      }
      case "br_table": {
        let cur: State = s;
        if (e.value) cur = walk(e.value, cur);
        cur = walk(e.index, cur);
        for (const l of [...e.labels, e.default]) branch(l, cur);
        return null;
      }
      case "return": {
        if (e.value) walk(e.value, s);
        return null;
      }
      case "unreachable": return null;
      default: {
        let cur: State = s;
        for (const c of children(e)) cur = walk(c, cur);
        return cur;
      }
    }
  };
  walk(body, new Set());
  return new Set([...assigned].filter((l) => !readFirst.has(l)));
}
