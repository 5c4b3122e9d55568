// What every part of `npm run bench:peers` shares: how a kernel case is described (its
// AssemblyScript kernel, arguments with their activity, what L and the gradient vector are),
// what a peer hands back (PeerRun), and the error measure every gradient is checked with.
//
// One gradient vector per case, in one layout for every system: the shadows of the
// Duplicated "grad" buffers in argument order, then ∂L/∂ each Active scalar. L is the
// kernel's return value (seed 1) plus Σ seed · final contents of seeded buffers (Enzyme's).
import type { HandModule } from "./hand.js";

/** One kernel argument, in parameter order. */
export type Arg =
  /** A buffer with a derivative. role "grad": its shadow is part of the gradient vector;
   *  "scratch": a work buffer whose contents on entry are not read (its shadow is ignored).
   *  seed: the reverse seed on its final contents (absent: zero). inPlace: the kernel
   *  overwrites data it reads, so every call restores it first. */
  | { kind: "dup"; name: string; data: Float64Array; role: "grad" | "scratch"; seed?: Float64Array; inPlace?: boolean }
  /** A read-only buffer without derivative. */
  | { kind: "const"; name: string; data: Float64Array | Int32Array }
  /** An i32 parameter. */
  | { kind: "int"; name: string; value: number }
  /** An f64 parameter: active (Active in reverse, its derivative ends the gradient vector) or constant. */
  | { kind: "real"; name: string; value: number; active: boolean };

export type DupArg = Extract<Arg, { kind: "dup" }>;

export type TfBackend = "cpu" | "wasm";

/** What one system does with one case; absent systems are reported as not implemented. */
export interface PeerImpls {
  rose?: (c: KernelCase) => Promise<PeerRun>;
  jax?: (c: KernelCase) => Promise<PeerRun>;
  tfjs?: (backend: TfBackend, c: KernelCase) => Promise<PeerRun>;
}

export interface KernelCase {
  /** Short name used by --only: rosenbrock, mlp, mlp-batch, heat, gmm, ba, lstm, rk4. */
  id: string;
  size: string;
  /** assembly/<file> (ours) and assembly/hand/<file> (the hand-written adjoint, compiled after assembly/<file> as one source). */
  file: string;
  /** The exported function (ours and the hand module's primal). */
  fn: string;
  args: Arg[];
  /** For the notes: what is differentiated. */
  objective: string;
  /** Target on our reverse / our primal (issue 6), absent where it sets none. */
  target?: number;
  /** The hand-written AS adjoint on its own module (same gradient layout). */
  hand: (m: HandModule) => HandRun;
  peers: PeerImpls;
  /** Parameters for JSON. */
  params: Record<string, number>;
  /**
   * Where Math comes from in ours and in the hand-written adjoint (Program.fromAssemblyScript's
   * `math`): "js" (imports of JS Math, calls out of Wasm) or "wasm" (AssemblyScript's
   * NativeMath in the module); set for every case by --math.
   */
  math?: "js" | "wasm";
  /** The same kernel with fewer steps, `factor` times smaller, smallest first: a peer's first
   *  call on each, scaled by its factor, predicts the full one's, which is not attempted when
   *  the prediction exceeds the trace limit (a synchronous trace cannot be interrupted). */
  smaller?: () => { case: KernelCase; factor: number }[];
}

/** The hand-written adjoint's calls, on data already in its module's memory. */
export interface HandRun {
  primal: () => number;
  grad: () => number;
  /** Runs grad and returns the gradient vector. */
  gradient: () => Float64Array;
  io: string;
}

export interface PeerRun {
  /** One gradient call (value + gradient); the timed thing. */
  grad: () => unknown;
  /** Returns a promise (must be awaited when timed). */
  gradAsync?: boolean;
  /** The gradient vector as f64 numbers, in the case's layout. */
  gradient: () => Float64Array | Promise<Float64Array>;
  /** How inputs and outputs cross the API (for the table's notes). */
  io: string;
  /** Run (untimed) before each sample and before the check: e.g. tfjs selects its global backend. */
  setup?: () => void | Promise<void>;
  /** Frees resident tensors etc. */
  dispose?: () => void;
  /** Finite differences over a subset: the timed call evaluates the primal at `indices`
   *  (of `total` coordinates) plus once unperturbed; its time is scaled by (total + 1) / (of + 1). */
  subset?: { of: number; total: number; indices: number[] };
  /** Relative error allowed against ours; default 1e-6 (f64 peers). */
  tolerance?: number;
}

/** A system that cannot express a kernel throws this; the reason is reported. */
export class NotExpressible extends Error {
  override name = "NotExpressible";
}

/** max_i |g_i − ref_i| / max_i |ref_i|: the error relative to the gradient's scale (near-zero components do not blow it up). */
export function relErr(g: Float64Array, ref: Float64Array, only?: readonly number[]): number {
  if (g.length !== ref.length) return Infinity;
  let e = 0, s = 0;
  for (let i = 0; i < ref.length; i++) s = Math.max(s, Math.abs(ref[i]));
  for (const i of only ?? ref.keys()) e = Math.max(e, Math.abs(g[i] - ref[i]));
  return Number.isNaN(e) ? Infinity : s === 0 ? e : e / s;
}

export const dupArgs = (c: KernelCase): DupArg[] => c.args.filter((a): a is DupArg => a.kind === "dup");
/** Length of the case's gradient vector. */
export const gradientLength = (c: KernelCase): number =>
  c.args.reduce((n, a) => n + (a.kind === "dup" && a.role === "grad" ? a.data.length : a.kind === "real" && a.active ? 1 : 0), 0);
/** The argument's data, by name (peers read their inputs from the case). */
export function arg(c: KernelCase, name: string): Float64Array {
  const a = c.args.find((x) => x.name === name);
  if (!a || (a.kind !== "dup" && a.kind !== "const") || !(a.data instanceof Float64Array)) throw new Error(`${c.id}: no f64 buffer ${name}`);
  return a.data;
}
export function scalar(c: KernelCase, name: string): number {
  const a = c.args.find((x) => x.name === name);
  if (!a || (a.kind !== "int" && a.kind !== "real")) throw new Error(`${c.id}: no scalar ${name}`);
  return a.value;
}
/** Concatenates gradient pieces in layout order. */
export function concat(parts: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
