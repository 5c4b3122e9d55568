// Adjoints start at zero and are accumulated with `x̄ = x̄ + v`. Where x̄ is known to be
// zero (just consumed, or never written), `x̄ = v` does the same without an addition that
// binaryen may not fold (0 + v differs from v only for v = -0, whose sign no derivative
// depends on). A forward "known zero" data-flow over the reverse sweep's CFG decides it.
import type { CfgBlock, CfgBody, Expr, IRFunction } from "../ir/types.js";

export function foldZeroAdjoints(fn: IRFunction, adjoints: Set<number>): IRFunction {
  const cfg = fn.body as CfgBody;
  const isZeroConst = (e: Expr) => e.kind === "const" && e.value === 0 && !Object.is(e.value, -0);
  // effect of one statement on the set of known-zero adjoints (optionally rewriting it)
  const step = (s: Expr, zero: Set<number>, rewrite: boolean): Expr => {
    if (s.kind !== "local.set" || !adjoints.has(s.local)) {
      if (s.kind === "tuple.set") for (const l of s.locals) zero.delete(l);
      return s;
    }
    const v = s.value;
    if (isZeroConst(v)) { zero.add(s.local); return s; }
    const acc = v.kind === "binary" && /^f(32|64)\.add$/.test(v.op) && v.left.kind === "local.get" && v.left.local === s.local;
    const known = zero.has(s.local);
    zero.delete(s.local);
    return rewrite && acc && known ? { ...s, value: (v as { right: Expr }).right } : s;
  };
  const run = (stmts: Expr[], zero: Set<number>, rewrite: boolean) => stmts.map((s) => step(s, zero, rewrite));
  const edgesOf = (b: CfgBlock) =>
    b.exit.kind === "goto" ? [b.exit.edge] : b.exit.kind === "branch" ? [b.exit.then, b.exit.else] : b.exit.kind === "switch" ? [...b.exit.targets, b.exit.default] : [];

  const all = () => new Set(adjoints);
  const zin = new Map<number, Set<number> | null>(cfg.blocks.map((b) => [b.id, null]));
  zin.set(cfg.entry, all()); // fresh locals are zero
  for (let changed = true; changed;) {
    changed = false;
    for (const b of cfg.blocks) {
      const start = zin.get(b.id);
      if (!start) continue;
      const z = new Set(start);
      run(b.body, z, false);
      for (const e of edgesOf(b)) {
        const ze = new Set(z);
        run(e.code, ze, false);
        const prev = zin.get(e.target) ?? null;
        const next = prev ? new Set([...prev].filter((x) => ze.has(x))) : ze;
        if (!prev || next.size !== prev.size) { zin.set(e.target, next); changed = true; }
      }
    }
  }
  const blocks = cfg.blocks.map((b) => {
    const z = new Set(zin.get(b.id) ?? []);
    const body = run(b.body, z, true);
    const edge = (e: { target: number; code: Expr[] }) => ({ ...e, code: run(e.code, new Set(z), true) });
    const x = b.exit;
    const exit = x.kind === "goto" ? { ...x, edge: edge(x.edge) } : x.kind === "branch" ? { ...x, then: edge(x.then), else: edge(x.else) }
      : x.kind === "switch" ? { ...x, targets: x.targets.map(edge), default: edge(x.default) } : x;
    return { ...b, body, exit } as CfgBlock;
  });
  return { ...fn, body: { ...cfg, blocks } };
}
