// Adjoints start at zero and are accumulated with `x̄ = x̄ + v`. Where x̄ is known to be
// zero (just consumed, or never written), `x̄ = v` does the same without an addition that
// binaryen may not fold (0 + v differs from v only for v = -0, whose sign no derivative
// depends on). A forward "known zero" data-flow over the reverse sweep's CFG decides it.
// (The sets are bit sets over the adjoint locals and the blocks run from a work list: a
// large reverse sweep has hundreds of adjoints and blocks, and this ran on every compile.)
import type { CfgBlock, CfgBody, Expr, IRFunction } from "../ir/types.js";

const ACCUMULATE = new Set(["f32.add", "f64.add"]);

export function foldZeroAdjoints(fn: IRFunction, adjoints: Set<number>): IRFunction {
  const cfg = fn.body as CfgBody;
  const bit = new Map<number, number>();
  for (const a of adjoints) bit.set(a, bit.size);
  const words = Math.max(1, Math.ceil(bit.size / 32));
  const has = (z: Uint32Array, b: number) => (z[b >>> 5] & (1 << (b & 31))) !== 0;
  const add = (z: Uint32Array, b: number) => { z[b >>> 5] |= 1 << (b & 31); };
  const del = (z: Uint32Array, b: number) => { z[b >>> 5] &= ~(1 << (b & 31)); };
  const isZeroConst = (e: Expr) => e.kind === "const" && e.value === 0 && !Object.is(e.value, -0);
  // effect of one statement on the set of known-zero adjoints (rewriting it when asked)
  const step = (s: Expr, zero: Uint32Array, rewrite: boolean): Expr => {
    if (s.kind === "tuple.set") { for (const l of s.locals) { const b = bit.get(l); if (b !== undefined) del(zero, b); } return s; }
    if (s.kind !== "local.set") return s;
    const b = bit.get(s.local);
    if (b === undefined) return s;
    const v = s.value;
    if (isZeroConst(v)) { add(zero, b); return s; }
    const acc = v.kind === "binary" && ACCUMULATE.has(v.op) && v.left.kind === "local.get" && v.left.local === s.local;
    const known = has(zero, b);
    del(zero, b);
    return rewrite && acc && known ? { ...s, value: (v as { right: Expr }).right } : s;
  };
  const run = (stmts: Expr[], zero: Uint32Array) => { for (const s of stmts) step(s, zero, false); };
  const rewriteAll = (stmts: Expr[], zero: Uint32Array) => stmts.map((s) => step(s, zero, true));
  const edgesOf = (b: CfgBlock) =>
    b.exit.kind === "goto" ? [b.exit.edge] : b.exit.kind === "branch" ? [b.exit.then, b.exit.else] : b.exit.kind === "switch" ? [...b.exit.targets, b.exit.default] : [];

  const byId = new Map(cfg.blocks.map((b) => [b.id, b]));
  const zin = new Map<number, Uint32Array>();
  const all = new Uint32Array(words);
  for (let b = 0; b < bit.size; b++) add(all, b);
  zin.set(cfg.entry, all); // fresh locals are zero
  const todo = [cfg.entry], queued = new Set(todo);
  while (todo.length) {
    const id = todo.pop()!;
    queued.delete(id);
    const b = byId.get(id);
    const start = zin.get(id);
    if (!b || !start) continue;
    const z = start.slice();
    run(b.body, z);
    for (const e of edgesOf(b)) {
      const ze = z.slice();
      run(e.code, ze);
      const prev = zin.get(e.target);
      let changed = false;
      if (!prev) { zin.set(e.target, ze); changed = true; }
      // (>>> 0: & gives a signed 32-bit number, the array holds unsigned ones)
      else for (let w = 0; w < words; w++) { const m = (prev[w] & ze[w]) >>> 0; if (m !== prev[w]) { prev[w] = m; changed = true; } }
      if (changed && !queued.has(e.target)) { queued.add(e.target); todo.push(e.target); }
    }
  }
  const blocks = cfg.blocks.map((b) => {
    const z = zin.get(b.id)?.slice() ?? new Uint32Array(words);
    const body = rewriteAll(b.body, z);
    const edge = (e: { target: number; code: Expr[] }) => ({ ...e, code: rewriteAll(e.code, z.slice()) });
    const x = b.exit;
    const exit = x.kind === "goto" ? { ...x, edge: edge(x.edge) } : x.kind === "branch" ? { ...x, then: edge(x.then), else: edge(x.else) }
      : x.kind === "switch" ? { ...x, targets: x.targets.map(edge), default: edge(x.default) } : x;
    return { ...b, body, exit } as CfgBlock;
  });
  return { ...fn, body: { ...cfg, blocks } };
}
