// The fuzzer's oracle: checkProgram(program, seed) differentiates one generated kernel and
// checks it against the primal and against finite differences. Returns null when every
// check passes, or a description of the first failure, whose first word is its category:
//
//   refused     a typed refusal (UnsupportedError / ActivityError / other AutodiffError) of a
//               program the README says is supported
//   crash       any other exception from Program.fromWat or autodiff (including TrapError)
//   primal      ReverseWithPrimal / ForwardWithPrimal primal or buffer contents differ from
//               kernel.call (Object.is per value)
//   reverse     Reverse (no primal: a pruned forward sweep) and ReverseWithPrimal give
//               different gradient bits or buffer contents
//   reverse-fd  a reverse gradient entry differs from the finite difference of L
//   forward-fd  a forward tangent differs from the finite difference along the tangent
//   dot         forward ≠ <reverse gradient, tangent> (the dot-product test)
//   generator   the primal is NaN/Inf or kernel.call traps: the generator broke its own rules
//
// L = return value + Σ over buffers of (seed w · final contents), as in the README.
// Finite differences: Richardson-extrapolated central differences with step h (2^-10 for
// f64 kernels; 2^-7 when f32 is involved, with inputs on a 2^-10 grid and tangents
// multiples of 1/8 so every perturbed input is exact in f32). When AD and FD(h) disagree,
// FD is recomputed with h/4 and 4h: AD matching either counts as agreement; if the
// three estimates also disagree among themselves by more than the tolerance, the finite
// difference is "unreliable" for that entry (counted in the details, not a failure) —
// the dot-product test still checks reverse against forward there. Only an AD value
// that disagrees with mutually consistent FD estimates is a failure.
import { Active, AutodiffError, Const, Duplicated, ForwardWithPrimal, Program, Reverse, ReverseWithPrimal, autodiff } from "../../src/index.js";
import { type FuzzProgram, type KernelSig, sigOf, toWat } from "./generator.js";

/** A kernel saved as WAT with the signature the checker needs (regression files). */
export interface SavedCase { wat: string; sig: KernelSig }

export interface CheckDetails {
  failure: string | null;
  /** gradient / tangent entries whose finite differences were inconsistent across steps (not failures) */
  fdUnreliable: number;
  /** entries compared against FD */
  fdChecked: number;
}

export const TOL = { f64: { fd: 1e-6, dot: 1e-9, h: 2 ** -10 }, single: { fd: 2e-2, dot: 1e-4, h: 2 ** -7 } };

export { relErr, rng } from "../random.js";
import { relErr, rng } from "../random.js";

/** Richardson-extrapolated central difference of a vector function at 0, per component. */
function richardson(f: (e: number) => number[], h: number): number[] {
  const a = f(h), b = f(-h), c = f(h / 2), d = f(-h / 2);
  return a.map((_, i) => (4 * ((c[i] - d[i]) / h) - (a[i] - b[i]) / (2 * h)) / 3);
}

type Buf = Float64Array | Float32Array;
const newBuf = (ty: "f64" | "f32", xs: ArrayLike<number>): Buf => (ty === "f64" ? Float64Array.from(xs) : Float32Array.from(xs));
const fmtList = (xs: ArrayLike<number>) => Array.from(xs, (v) => String(v)).join(", ");

interface Point { scalars: number[]; bufs: Buf[] }

export async function checkProgram(program: FuzzProgram | SavedCase, seed: number): Promise<string | null> {
  return (await checkProgramDetailed(program, seed)).failure;
}

export async function checkProgramDetailed(program: FuzzProgram | SavedCase, seed: number, options: { optimize?: number | "fast" } = {}): Promise<CheckDetails> {
  const c: SavedCase = "wat" in program ? program : { wat: toWat(program), sig: sigOf(program) };
  const details: CheckDetails = { failure: null, fdUnreliable: 0, fdChecked: 0 };
  try {
    details.failure = await check(c, seed, details, options);
  } catch (e) {
    details.failure = describeError(e);
  }
  return details;
}

function describeError(e: unknown): string {
  if (e instanceof AutodiffError) {
    const code = (e as AutodiffError & { code?: string }).code ?? e.constructor.name;
    if (code === "UNSUPPORTED" || code === "ACTIVITY") return `refused: ${e.constructor.name} (${code}): ${e.message}`;
    return `crash: ${e.constructor.name} (${code}): ${e.message}`;
  }
  const err = e as Error;
  return `crash: ${err?.constructor?.name ?? "error"}: ${err?.message ?? String(e)}\n${err?.stack?.split("\n").slice(1, 6).join("\n") ?? ""}`;
}

async function check({ wat, sig }: SavedCase, seed: number, details: CheckDetails, options: { optimize?: number | "fast" }): Promise<string | null> {
  const tol = sig.single ? TOL.single : TOL.f64;
  const r = rng(seed);
  // inputs in [-1, 1]; with f32 involved, on a 2^-10 grid (exact in f32, and x ± h stays exact)
  const input = () => (sig.single ? Math.round((r() * 2 - 1) * 1024) / 1024 : r() * 2 - 1);
  const tangent = () => (sig.single ? ((r() < 0.5 ? -1 : 1) * (1 + Math.floor(r() * 8))) / 8 : (r() < 0.5 ? -1 : 1) * (0.25 + 0.75 * r()));
  const x0: Point = { scalars: [], bufs: [] };
  const tx: Point = { scalars: [], bufs: [] };
  const w: Buf[] = []; // reverse seeds of the buffers (also the weights in L)
  for (const p of sig.params) {
    if (p.k === "scalar") {
      x0.scalars.push(input());
      tx.scalars.push(p.active ? tangent() : 0);
    } else if (p.k === "buf") {
      x0.bufs.push(newBuf(p.ty, Array.from({ length: p.len }, input)));
      tx.bufs.push(newBuf(p.ty, Array.from({ length: p.len }, tangent)));
      w.push(newBuf(p.ty, Array.from({ length: p.len }, () => (sig.single ? Math.round((r() * 2 - 1) * 8) / 8 : r() * 2 - 1))));
    }
  }

  const program = await Program.fromWat(wat, options.optimize === undefined ? {} : { optimize: options.optimize });
  const k = program.kernel("k");

  /** Arguments for kernel.call / autodiff: make(kind, index-in-kind, param) per parameter. */
  const args = (pt: Point, make?: (p: KernelSig["params"][number], v: number | Buf, i: number) => unknown): unknown[] => {
    let si = 0, bi = 0;
    return sig.params.map((p) => {
      if (p.k === "int") return make ? Const(p.value) : p.value;
      if (p.k === "ints") return make ? Const(Int32Array.from(p.values)) : Int32Array.from(p.values);
      if (p.k === "scalar") { const i = si++; return make ? make(p, pt.scalars[i], i) : pt.scalars[i]; }
      const i = bi++;
      return make ? make(p, pt.bufs[i], i) : pt.bufs[i];
    });
  };
  const copy = (pt: Point): Point => ({ scalars: pt.scalars.slice(), bufs: pt.bufs.map((b) => b.slice()) });

  /** Outputs at a point: [return value?, ...final buffer contents]. */
  const outputs = (pt: Point): number[] => {
    const q = copy(pt);
    const ret = k.call(...args(q));
    return [...(sig.result ? [ret as number] : []), ...q.bufs.flatMap((b) => Array.from(b))];
  };
  const weights: number[] = [...(sig.result ? [1] : []), ...w.flatMap((b) => Array.from(b))];
  const L = (pt: Point): number => outputs(pt).reduce((s, v, i) => s + weights[i] * v, 0);

  // ---- primal reference
  let ref: number[];
  let refRet: unknown;
  const refPt = copy(x0);
  try {
    refRet = k.call(...args(refPt));
    ref = [...(sig.result ? [refRet as number] : []), ...refPt.bufs.flatMap((b) => Array.from(b))];
  } catch (e) {
    return `generator: kernel.call failed: ${describeError(e)}`;
  }
  const bad = ref.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) return `generator: non-finite primal output ${bad}: ${ref[bad]}`;

  // ---- reverse
  const revPt = copy(x0);
  const shadows = w.map((b) => b.slice());
  const rev = await autodiff(ReverseWithPrimal, k, ...args(revPt, (p, v, i) =>
    p.k === "scalar" ? (p.active ? Active(v as number) : Const(v as number)) : Duplicated(v as Buf, shadows[i])));
  if (sig.result && !Object.is(rev.primal, refRet)) return `primal: ReverseWithPrimal primal ${rev.primal} vs kernel.call ${refRet}`;
  for (let b = 0; b < revPt.bufs.length; b++)
    for (let j = 0; j < revPt.bufs[b].length; j++)
      if (!Object.is(revPt.bufs[b][j], refPt.bufs[b][j]))
        return `primal: after ReverseWithPrimal buffer ${b} = [${fmtList(revPt.bufs[b])}], kernel.call gives [${fmtList(refPt.bufs[b])}]`;
  // `Reverse` (no primal asked for) has a forward sweep of its own, pruned of what only the
  // result needed: its gradient must be the same bits, its buffers the same contents
  {
    const npPt = copy(x0);
    const npShadows = w.map((b) => b.slice());
    const np = await autodiff(Reverse, k, ...args(npPt, (p, v, i) =>
      p.k === "scalar" ? (p.active ? Active(v as number) : Const(v as number)) : Duplicated(v as Buf, npShadows[i])));
    for (let i = 0; i < rev.derivs.length; i++)
      if (!Object.is(np.derivs[i], rev.derivs[i])) return `reverse: Reverse gives dL/d(argument ${i}) = ${np.derivs[i]}, ReverseWithPrimal ${rev.derivs[i]}`;
    for (let b = 0; b < npShadows.length; b++)
      for (let j = 0; j < npShadows[b].length; j++) {
        if (!Object.is(npShadows[b][j], shadows[b][j])) return `reverse: Reverse gives shadow ${b}[${j}] = ${npShadows[b][j]}, ReverseWithPrimal ${shadows[b][j]}`;
        if (!Object.is(npPt.bufs[b][j], refPt.bufs[b][j])) return `primal: after Reverse buffer ${b} = [${fmtList(npPt.bufs[b])}], kernel.call gives [${fmtList(refPt.bufs[b])}]`;
      }
  }
  // gradient entries: active scalars, then buffer elements
  const grad: { what: string; ad: number; perturb: (pt: Point, e: number) => void; t: number }[] = [];
  {
    let si = 0, bi = 0, argi = 0;
    for (const p of sig.params) {
      const ai = argi++;
      if (p.k === "scalar") {
        const i = si++;
        if (p.active) grad.push({ what: `dL/dx${i} (argument ${ai})`, ad: rev.derivs[ai] as number, perturb: (pt, e) => { pt.scalars[i] += e; }, t: tx.scalars[i] });
      } else if (p.k === "buf") {
        const i = bi++;
        for (let j = 0; j < p.len; j++)
          grad.push({ what: `dL/dp${i}[${j}] (argument ${ai})`, ad: shadows[i][j], perturb: (pt, e) => { pt.bufs[i][j] += e; }, t: tx.bufs[i][j] });
      }
    }
  }

  // ---- forward
  const fwdPt = copy(x0);
  const tangents = tx.bufs.map((b) => b.slice());
  const fwd = await autodiff(ForwardWithPrimal, k, ...args(fwdPt, (p, v, i) =>
    p.k === "scalar" ? (p.active ? Duplicated(v as number, tx.scalars[i]) : Const(v as number)) : Duplicated(v as Buf, tangents[i])));
  if (sig.result && !Object.is(fwd.primal, refRet)) return `primal: ForwardWithPrimal primal ${fwd.primal} vs kernel.call ${refRet}`;
  for (let b = 0; b < fwdPt.bufs.length; b++)
    for (let j = 0; j < fwdPt.bufs[b].length; j++)
      if (!Object.is(fwdPt.bufs[b][j], refPt.bufs[b][j]))
        return `primal: after ForwardWithPrimal buffer ${b} = [${fmtList(fwdPt.bufs[b])}], kernel.call gives [${fmtList(refPt.bufs[b])}]`;
  const fwdOut: number[] = [...(sig.result ? [fwd.tangent as number] : []), ...tangents.flatMap((b) => Array.from(b))];
  const outName = (o: number): string => {
    if (sig.result && o === 0) return "return value";
    let j = o - (sig.result ? 1 : 0);
    for (let b = 0; b < x0.bufs.length; b++) { if (j < x0.bufs[b].length) return `p${b}[${j}]`; j -= x0.bufs[b].length; }
    return `output ${o}`;
  };

  // ---- (b) reverse vs FD of L, one input at a time
  for (const g of grad) {
    const f = (e: number) => { const q = copy(x0); g.perturb(q, e); return [L(q)]; };
    const res = fdCompare([g.ad], f, tol.h, tol.fd, details);
    if (res !== null) return `reverse-fd: ${g.what}: reverse ${g.ad}, finite differences ${res} (tolerance ${tol.fd})`;
  }

  // ---- (c) forward vs FD of every output along the tangent
  {
    const f = (e: number) => {
      const q = copy(x0);
      q.scalars.forEach((_, i) => { q.scalars[i] += e * tx.scalars[i]; });
      q.bufs.forEach((b, i) => b.forEach((_, j) => { b[j] += e * tx.bufs[i][j]; }));
      return outputs(q);
    };
    const res = fdCompare(fwdOut, f, tol.h, tol.fd, details, outName);
    if (res !== null) return `forward-fd: ${res} (tolerance ${tol.fd}; tangent scalars [${fmtList(tx.scalars)}], buffers ${tx.bufs.map((b) => `[${fmtList(b)}]`).join(" ")})`;
  }

  // ---- (d) dot-product test: <weights, forward outputs> = <reverse gradient, tangent>
  const lhs = fwdOut.reduce((s, v, i) => s + weights[i] * v, 0);
  const rhs = grad.reduce((s, g) => s + g.ad * g.t, 0);
  if (!(relErr(lhs, rhs) <= tol.dot)) return `dot: forward <w, tangent out> = ${lhs}, reverse <gradient, tangent in> = ${rhs}, relErr ${relErr(lhs, rhs)} (tolerance ${tol.dot})`;
  return null;
}

/**
 * Compares AD values with FD estimates of f'(0) per component. null if they agree, else a
 * description of the first disagreement (see the header for the retry rule).
 */
function fdCompare(ad: number[], f: (e: number) => number[], h: number, tol: number, details: CheckDetails, name?: (i: number) => string): string | null {
  const base = richardson(f, h);
  let fine: number[] | null = null, coarse: number[] | null = null;
  for (let i = 0; i < ad.length; i++) {
    details.fdChecked++;
    if (!Number.isFinite(ad[i])) return `${name ? name(i) + ": " : ""}AD value ${ad[i]} (FD ${base[i]})`;
    if (relErr(ad[i], base[i]) <= tol) continue;
    fine ??= richardson(f, h / 4);
    coarse ??= richardson(f, h * 4);
    if (relErr(ad[i], fine[i]) <= tol || relErr(ad[i], coarse[i]) <= tol) continue;
    const spread = Math.max(relErr(base[i], fine[i]), relErr(base[i], coarse[i]), relErr(fine[i], coarse[i]));
    if (spread > tol) { details.fdUnreliable++; continue; }
    return `${name ? name(i) + ": AD " + ad[i] + ", FD " : ""}${base[i]} (h/4: ${fine[i]}, 4h: ${coarse[i]}), relErr ${relErr(ad[i], base[i])}`;
  }
  return null;
}
