// What the reverse sweep reads, and therefore what the augmented forward sweep must
// record. The reverse sweep runs on the function's own locals, restoring each assigned
// local to its previous value as it walks back ("restore on overwrite"). A restore is
// needed only when an earlier statement's reversal reads that local before another
// assignment: a forward data-flow analysis over the CFG. Restores of `x = x ± c` on
// integers invert the operation instead of using the tape.
import type { ActivityAnalysis } from "../analysis/activity.js";
import { hasShadow, type PointerAnalysis } from "../analysis/pointers.js";
import { SHADOW_REALLOC } from "../analysis/allocators.js";
import type { StableMemory } from "../analysis/stable-memory.js";
import { isPureTree } from "../ir/normalize.js";
import type { Expr } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { forEachNode, mapTree } from "../ir/walk.js";
import { type ForwardCfg, successors } from "./cfg.js";
import { callCarries, calleeOf } from "./calls.js";
import { partialUses, placeholders } from "./context.js";
import type { Differentiator } from "./differentiator.js";
import { nodeRule } from "./rules/index.js";

export interface StmtNeeds {
  defs: number[]; pre: Set<number>; post: Set<number>;
  /** Locals whose value the reversal recomputes from their in-block definition instead of reading them. */
  subst: Map<number, Expr>;
}

const localsOf = (e: Expr, into: Set<number>) => forEachNode(e, (n) => { if (n.kind === "local.get") into.add(n.local); });
/** The locals an access's shadow address reads: the address's, and the delta of a block the function allocated. */
const addressLocals = (e: Expr, ptr: PointerAnalysis, into: Set<number>) => {
  localsOf(e, into);
  if (e.type === "i32") { const p = ptr.of(e); if (p.kind === "alloc") into.add(p.delta); }
};

export class ReverseNeeds {
  /** Per block, per statement: defined locals and the locals its reversal reads. */
  readonly stmts = new Map<number, StmtNeeds[]>();
  /** Per block, per statement: the defined locals whose previous value must be restored. */
  readonly restore = new Map<number, number[][]>();
  /** Locals the reverse sweep reads at its start (the end state of the forward sweep). */
  readonly atExit: Set<number>;

  constructor(private readonly d: Differentiator, private readonly act: ActivityAnalysis, private readonly ptr: PointerAnalysis,
    private readonly stable: StableMemory, cfg: ForwardCfg, retLocal: number, resultActive: boolean,
    /** Locals the reverse sweep reads on leaving each block backwards (recomputed branch conditions). */
    entryReads: Map<number, Set<number>> = new Map(),
    /** Per forward edge `from>to`: locals the reverse sweep sets going back along it (a loop's counter from its
     * closed form: what the loop's reversal reads of them is not restored) and the locals that reads. */
    edgeSets: Map<string, { sets: Set<number>; reads: Set<number> }> = new Map()) {
    const raw = new Map([...cfg.blocks].map(([id, b]) => [id, b.stmts.map((s) => this.needsOf(s, retLocal, resultActive))]));
    const assigned = new Set([...raw.values()].flatMap((ns) => ns.flatMap((n) => n.defs)));
    const across = new AcrossBlocks(cfg, raw, ptr.fn.params.length);
    for (const [id, b] of cfg.blocks) this.stmts.set(id, this.rematerialize(id, b.stmts, raw.get(id)!, assigned, across));
    // (which statements restore by their inverse, and each block's incoming edges with their edge sets:
    // asked on every round of the fixpoint below, and the same every time)
    const inverts = new Map([...cfg.blocks].map(([id, b]) => [id, b.stmts.map((st) => invertible(st) !== null)]));
    const incoming = new Map([...cfg.blocks].map(([id, b]) => [id, b.preds.map((p) => ({ p, e: edgeSets.get(`${p}>${id}`) }))]));
    const lin = new Map<number, Set<number>>();
    const lout = new Map<number, Set<number>>();
    for (const id of cfg.blocks.keys()) { lin.set(id, new Set()); lout.set(id, new Set()); }
    const transfer = (id: number, record: boolean) => {
      const L = new Set(lin.get(id)!);
      for (const x of entryReads.get(id) ?? []) L.add(x);
      const restores: number[][] = [];
      this.stmts.get(id)!.forEach((n, k) => {
        const restored = n.defs.filter((x) => L.has(x) || n.pre.has(x));
        restores.push(restored);
        for (const x of n.pre) L.add(x);
        for (const x of n.defs) L.delete(x);
        for (const x of n.post) L.add(x);
        // restoring by the inverse operation reads the value the statement produced
        if (restored.length && inverts.get(id)![k]) for (const x of restored) L.add(x);
      });
      if (record) this.restore.set(id, restores);
      return L;
    };
    // (a block whose in-set did not grow since its last transfer gives the same out-set: not run again)
    const transferred = new Set<number>();
    for (let changed = true; changed;) {
      changed = false;
      for (const id of cfg.order) {
        const inSet = lin.get(id)!;
        let grew = false;
        for (const { p, e } of incoming.get(id)!) {
          for (const x of lout.get(p)!) if (!inSet.has(x) && !e?.sets.has(x)) { inSet.add(x); grew = true; }
          if (e) for (const x of e.reads) if (!inSet.has(x)) { inSet.add(x); grew = true; }
        }
        if (grew) changed = true;
        else if (transferred.has(id)) continue;
        transferred.add(id);
        const out = transfer(id, false);
        const prev = lout.get(id)!;
        if (out.size !== prev.size) { lout.set(id, out); changed = true; }
      }
    }
    for (const id of cfg.blocks.keys()) transfer(id, true);
    // the reverse sweep starts at the exit: what it reads there, including a recomputed
    // return-join condition, must be handed over from the forward sweep
    this.atExit = new Set([...lin.get(cfg.exit)!, ...(entryReads.get(cfg.exit) ?? [])]);
  }

  /**
   * A value defined earlier in the same block by a pure assignment over stable memory can be
   * recomputed where the reversal needs it, as long as what it reads still holds the same
   * values there. That turns tape pushes of loaded and derived values into recomputation,
   * unless the recomputation reads two or more float locals that must then be restored in
   * its place (assigned ones, not already read): restoring the value alone is cheaper.
   */
  private rematerialize(block: number, stmts: Expr[], raw: StmtNeeds[], assigned: Set<number>, across: AcrossBlocks): StmtNeeds[] {
    let own = across.resolvers.get(block);
    if (!own) across.resolvers.set(block, own = this.resolverFor(stmts, raw));
    const { lastDefBefore, resolve } = own;
    const MAX_NODES = 48;
    return raw.map((n, k) => {
      const subst = new Map<number, Expr>();
      const pre = new Set<number>();
      for (const y of n.pre) {
        const r = resolve(y, k, { nodes: MAX_NODES }, k) ?? this.resolveAcross(y, block, k, across, MAX_NODES);
        const restoredInstead = r ? [...r.floats].filter((w) => assigned.has(w) && !n.pre.has(w)).length : 0;
        if (r && restoredInstead < 2 && [...r.leaves].every(([w, dw]) => lastDefBefore(w, k) === dw)) {
          subst.set(y, r.tree);
          for (const w of r.leaves.keys()) pre.add(w);
        } else pre.add(y);
      }
      return { ...n, pre, subst };
    });
  }

  /**
   * A value defined in another block D, by the only assignment of its local in the function,
   * recomputed where block U's reversal reads it: D must dominate U, and what the value reads
   * (its leaves, after recomputing within D) must not be assigned on any path from the
   * definition to the use. That spares the tape an address computed before a branch and
   * used after it (heat's `tmp + 8i` around the boundary tests). Leaves come back as holding
   * their value at U's entry (no assignment in U before the use).
   */
  private resolveAcross(y: number, block: number, pos: number, across: AcrossBlocks, budget: number) {
    const def = across.onlyDef(y);
    if (!def || def.block === block || !across.dominates(def.block, block)) return null;
    // (one resolver per block: building one indexes the block's definitions, and every use asks again)
    let inD = across.resolvers.get(def.block);
    if (!inD) across.resolvers.set(def.block, inD = this.resolverFor(across.cfg.blocks.get(def.block)!.stmts, across.raw.get(def.block)!));
    const r = inD.resolve(y, def.pos + 1, { nodes: budget }, def.pos + 1);
    if (!r) return null;
    for (const w of r.leaves.keys()) if (across.assignedBetween(w, def, block, pos)) return null;
    return { tree: r.tree, leaves: new Map([...r.leaves.keys()].map((w) => [w, -1])), floats: r.floats };
  }

  /** Recomputation within one block's statements. */
  private resolverFor(stmts: Expr[], raw: StmtNeeds[]) {
    const defsAt = new Map<number, number[]>();
    raw.forEach((n, k) => n.defs.forEach((x) => { const l = defsAt.get(x) ?? []; l.push(k); defsAt.set(x, l); }));
    const lastDefBefore = (x: number, pos: number) => { let j = -1; for (const k of defsAt.get(x) ?? []) if (k < pos) j = k; return j; };
    const rematValue = (j: number): Expr | null => {
      const s = stmts[j];
      if (s.kind !== "local.set" || s.tee || !isPureTree(s.value)) return null;
      let ok = true;
      forEachNode(s.value, (n) => { if ((n.kind === "load" && !this.stable.isStable(n)) || n.kind === "global.get") ok = false; });
      return ok ? s.value : null;
    };
    /** The tree that recomputes local y as read at position pos, and the block-entry or non-recomputable locals it reads (with their reaching definition). */
    // `at`: where the recomputed value is used; a local is recomputed from what it read only if
    // all of that still holds at `at` (else it stays a leaf: `i = i + 1` overwrote its input)
    const resolve = (y: number, pos: number, budget: { nodes: number }, at: number): { tree: Expr; leaves: Map<number, number>; floats: Set<number> } | null => {
      const j = lastDefBefore(y, pos);
      if (j < 0) return null;
      const value = rematValue(j);
      if (!value) return null;
      const leaves = new Map<number, number>(), floats = new Set<number>();
      const tree = mapTree(value, (n) => {
        if (--budget.nodes < 0) return n;
        if (n.kind !== "local.get") return n;
        const r = resolve(n.local, j, budget, at);
        if (r && [...r.leaves].every(([w, dw]) => lastDefBefore(w, at) === dw)) {
          for (const [w, dw] of r.leaves) leaves.set(w, dw);
          for (const w of r.floats) floats.add(w);
          return r.tree;
        }
        leaves.set(n.local, lastDefBefore(n.local, j));
        if (isFloat(n.type)) floats.add(n.local);
        return n;
      });
      return budget.nodes < 0 ? null : { tree, leaves, floats };
    };
    return { lastDefBefore, resolve };
  }

  /** Locals read while propagating an adjoint into pure tree e (values the partials use, addresses of shadowed loads). */
  propagationReads(e: Expr, into: Set<number>): void {
    if (!this.act.isActive(e)) return;
    switch (e.kind) {
      case "load": addressLocals(e.addr, this.ptr, into); return;
      case "unary": case "binary": case "select": {
        const rule = nodeRule(e, this.d.mathCall(e.type as "f64"));
        if (!rule || rule.kind === "constant") return;
        if (rule.kind === "convert") return this.propagationReads(rule.operand, into);
        rule.partials.forEach((p, i) => {
          // the reverse sweep computes partials for active operands only
          if (p === "zero" || !this.act.isActive(rule.operands[i])) return;
          const u = partialUses(p);
          for (const j of u.operands) localsOf(rule.operands[j], into);
          if (u.result) localsOf(e, into);
          this.propagationReads(rule.operands[i], into);
        });
        return;
      }
      default: return;
    }
  }

  private needsOf(s: Expr, retLocal: number, resultActive: boolean): StmtNeeds {
    const pre = new Set<number>(), post = new Set<number>();
    const defs: number[] = [];
    const addrIfShadowed = (addr: Expr) => { if (hasShadow(this.ptr.of(addr))) addressLocals(addr, this.ptr, pre); };
    const callNeeds = (c: Expr) => {
      if (c.kind !== "call" && c.kind !== "call_indirect") return;
      const carries = callCarries(this.d.module, c, this.act);
      if (!carries) return;
      if (c.kind === "call_indirect") { for (const a of c.args) { addressLocals(a, this.ptr, pre); this.propagationReads(a, pre); } return; }
      const callee = calleeOf(this.d.module, c.func);
      if (callee.kind === "import") return;
      if (callee.kind === "intrinsic") {
        const t = c.type as "f64";
        const ph = placeholders(c.args.map(() => t), t);
        callee.rule.partials(ph.ops, ph.result, t, this.d.mathCall(t)).forEach((p, i) => {
          const u = partialUses(p);
          for (const j of u.operands) localsOf(c.args[j], pre);
          if (u.result && s.kind === "local.set") post.add(s.local);
          if (p !== "zero") this.propagationReads(c.args[i], pre);
        });
        return;
      }
      for (const a of c.args) { addressLocals(a, this.ptr, pre); this.propagationReads(a, pre); }
    };
    switch (s.kind) {
      case "local.set":
        defs.push(s.local);
        // a reallocation's reversal reads its arguments and the delta it produced
        if (s.value.kind === "call" && s.value.func === SHADOW_REALLOC) { for (const a of s.value.args) localsOf(a, pre); post.add(s.local); break; }
        if (s.value.kind === "call" || s.value.kind === "call_indirect") callNeeds(s.value);
        else if (this.act.activeLocals[s.local] || (s.local === retLocal && resultActive)) this.propagationReads(s.value, pre);
        break;
      case "tuple.set": defs.push(...s.locals); callNeeds(s.value); break;
      case "call": callNeeds(s); break;
      case "store":
        if (s.value.type === "f32" || s.value.type === "f64") { addrIfShadowed(s.addr); this.propagationReads(s.value, pre); }
        else addrIfShadowed(s.addr); // its reversal clears the shadow of the bytes
        break;
      case "memory.fill":
        if (hasShadow(this.ptr.of(s.dest))) { addrIfShadowed(s.dest); localsOf(s.size, pre); }
        break;
      case "memory.copy":
        if (hasShadow(this.ptr.of(s.dest))) { addrIfShadowed(s.dest); addrIfShadowed(s.src); localsOf(s.size, pre); }
        break;
      default: break;
    }
    return { defs, pre, post, subst: new Map() };
  }
}

/** Where each local is assigned across the CFG, and which blocks lie between two points. */
class AcrossBlocks {
  private readonly defs = new Map<number, { block: number; pos: number }[]>();
  private readonly succ = new Map<number, number[]>();
  /** ReverseNeeds' resolver for each block's statements, made on first use (the statements do not change meanwhile). */
  readonly resolvers = new Map<number, ReturnType<ReverseNeeds["resolverFor"]>>();
  /** reach's answers: the CFG does not change while the analysis runs, and the callers only read the sets. */
  private readonly reached = new Map<string, Set<number>>();
  constructor(readonly cfg: ForwardCfg, readonly raw: Map<number, StmtNeeds[]>, private readonly params: number) {
    for (const [id, ns] of raw) ns.forEach((n, pos) => n.defs.forEach((x) => { const l = this.defs.get(x) ?? []; l.push({ block: id, pos }); this.defs.set(x, l); }));
    for (const [id, b] of cfg.blocks) this.succ.set(id, successors(b.exit));
  }
  /** The only assignment of local x in the function (parameters have one at entry: none). */
  onlyDef(x: number): { block: number; pos: number } | null {
    const l = this.defs.get(x);
    return l && l.length === 1 && x >= this.params ? l[0] : null;
  }
  /** Blocks reachable from `from`'s successors (or from `from` itself, with `inclusive`) without passing through `avoid`. */
  private reach(from: number, avoid: number, inclusive = false): Set<number> {
    const key = `${from},${avoid},${inclusive}`;
    let got = this.reached.get(key);
    if (!got) this.reached.set(key, got = this.walk(from, avoid, inclusive));
    return got;
  }
  private walk(from: number, avoid: number, inclusive: boolean): Set<number> {
    const seen = new Set<number>(), todo = inclusive ? [from] : [...this.succ.get(from)!];
    while (todo.length) {
      const b = todo.pop()!;
      if (b === avoid || seen.has(b)) continue;
      seen.add(b);
      todo.push(...this.succ.get(b)!);
    }
    return seen;
  }
  /** Whether every path from the entry to u passes through d. */
  dominates(d: number, u: number): boolean {
    return d === this.cfg.entry ? true : !this.reach(this.cfg.entry, d, true).has(u);
  }
  /** Whether x may be assigned after def (in its block D) and before position pos of block u, on a path that does not pass through D again. */
  assignedBetween(x: number, def: { block: number; pos: number }, u: number, pos: number): boolean {
    const fromD = this.reach(def.block, def.block);
    const uLoops = this.reach(u, def.block).has(u);
    // (the definition itself counts: `s = s + v` reads the s it overwrites)
    return (this.defs.get(x) ?? []).some((at) =>
      (at.block === def.block && at.pos >= def.pos)
      || (at.block === u ? uLoops || at.pos < pos : fromD.has(at.block) && this.reach(at.block, def.block, true).has(u)));
  }
}

/** `x = x + c` / `x = x - c` on an integer local: restorable by the inverse operation. */
export function invertible(s: Expr): Expr | null {
  if (s.kind !== "local.set" || s.value.kind !== "binary") return null;
  const v = s.value;
  if (!/^i(32|64)\.(add|sub)$/.test(v.op)) return null;
  if (v.left.kind !== "local.get" || v.left.local !== s.local || v.right.kind !== "const") return null;
  const inverse = v.op.endsWith("add") ? v.op.replace("add", "sub") : v.op.replace("sub", "add");
  return { ...s, value: { ...v, op: inverse } };
}
