// Finite differences: the baseline without AD. Forward differences, n + 1 calls of the
// primal (the kernel's own AssemblyScript code, the primal export of its hand-written module,
// called on data resident in that module's memory; in-place inputs restored before each call).
// When n + 1 primal calls would take longer than a budget, the timed call evaluates an evenly
// spread subset of the coordinates and its time is scaled to n + 1 calls (reported as an estimate).
import { type DupArg, type KernelCase, type PeerRun, gradientLength } from "./common.js";
import { HandModule } from "./hand.js";

/** Step for coordinate value v: ≈ √ε relative, the usual forward-difference choice. */
const step = (v: number) => 1e-7 * Math.max(1, Math.abs(v));

export async function finiteDifferences(c: KernelCase, budgetMs: number): Promise<PeerRun> {
  const m = await HandModule.load(c.file, c.math);
  const f = m.fn(c.fn);
  const addrs = c.args.map((a) => (a.kind === "dup" || a.kind === "const" ? m.put(a.data) : 0));
  const views = c.args.map((a, i) => (a.kind === "dup" ? m.f64(addrs[i], a.data.length) : null));
  const vals = c.args.map((a, i) => (a.kind === "dup" || a.kind === "const" ? addrs[i] : a.value));
  // coordinates of the gradient vector: (argument, element), element −1 for an active scalar
  const coords: [number, number][] = [];
  c.args.forEach((a, i) => {
    if (a.kind === "dup" && a.role === "grad") for (let j = 0; j < a.data.length; j++) coords.push([i, j]);
    else if (a.kind === "real" && a.active) coords.push([i, -1]);
  });
  /** L with coordinate k (−1: none) moved by h: in-place buffers are restored first, then perturbed. */
  const L = (k = -1, h = 0): number => {
    c.args.forEach((a, i) => { if (a.kind === "dup" && a.inPlace) views[i]!.set(a.data); });
    let i = -1, j = -1, v = 0;
    if (k >= 0) {
      [i, j] = coords[k];
      if (j < 0) { v = vals[i]; vals[i] = v + h; } else { v = views[i]![j]; views[i]![j] = v + h; }
    }
    let s = f(...vals) ?? 0;
    c.args.forEach((a, q) => {
      if (a.kind === "dup" && a.seed) { const w = views[q]!; for (let e = 0; e < a.seed.length; e++) s += a.seed[e] * w[e]; }
    });
    // undo the perturbation (after reading the final contents: an in-place buffer holds them now)
    if (k >= 0) { if (j < 0) vals[i] = v; else views[i]![j] = v; }
    return s;
  };
  /** (L(x + h e_k) − L(x)) / h for coordinate k. */
  const partial = (k: number, f0: number): number => {
    const [i, j] = coords[k];
    const v = j < 0 ? vals[i] : (c.args[i] as DupArg).data[j], h = step(v);
    return (L(k, h) - f0) / ((v + h) - v);
  };

  // primal cost, warm: decides between all coordinates and a subset
  for (let k = 0; k < 5; k++) L();
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 20 || calls < 3) { L(); calls++; }
  const primalMs = (performance.now() - t0) / calls;
  const n = coords.length;
  let indices = coords.map((_, k) => k);
  if ((n + 1) * primalMs > budgetMs) {
    const of = Math.max(16, Math.min(n, Math.floor(budgetMs / 4 / primalMs)));
    indices = Array.from({ length: of }, (_, q) => Math.floor((q * n) / of));
  }
  const g = new Float64Array(gradientLength(c)).fill(NaN);
  const grad = () => {
    const f0 = L();
    for (const k of indices) g[k] = partial(k, f0);
    return f0;
  };
  return {
    grad,
    gradient: () => { grad(); return g.slice(); },
    io: "AS primal on resident data, forward differences",
    subset: indices.length < n ? { of: indices.length, total: n, indices } : undefined,
    tolerance: 1e-4,
  };
}
