// Shared by the peer implementations in this folder (bench/peers.ts drives them).
//
// Each peer file exports, per kernel, an async factory that traces/compiles what that
// system needs and returns a PeerRun: a gradient call (value + gradient, the way that
// system's users get it), optionally that system's own primal, and the gradient as plain
// numbers for the accuracy check. A system that cannot express a kernel throws
// NotExpressible with the reason; bench/peers.ts reports it and goes on.

export interface RosenbrockInput { n: number; x: Float64Array }
/** L = Σ w · u_final after `steps` explicit updates of u (zero boundaries); gradient w.r.t. u0 and a. */
export interface HeatInput { n: number; steps: number; a: number; u0: Float64Array; w: Float64Array }

export interface PeerRun {
  /** One gradient call (value + gradient); the timed thing. */
  grad: () => unknown;
  /** Returns a promise (must be awaited when timed). */
  gradAsync?: boolean;
  /** That system's own primal, where it has one. */
  primal?: () => unknown;
  /** The gradient as f64 numbers: rosenbrock ∂f/∂x (n); heat [∂L/∂u0 (n), ∂L/∂a]. */
  gradient: () => Float64Array | Promise<Float64Array>;
  /** How inputs and outputs cross the API (for the table's notes). */
  io: string;
  /** Run (untimed) before each sample and before the check: e.g. tfjs selects its global backend. */
  setup?: () => void | Promise<void>;
  /** Frees resident tensors etc. */
  dispose?: () => void;
}

export class NotExpressible extends Error {
  override name = "NotExpressible";
}

/** Plain-JS primal of extended Rosenbrock (same summation order as bench/kernels/rosenbrock.wat). */
export function rosenbrockJs(x: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n - 1; i++) {
    const a = x[i], b = x[i + 1], d = b - a * a, e = 1 - a;
    s += 100 * d * d + e * e;
  }
  return s;
}

/** Plain-JS heat, in place on u (tmp scratch), as bench/kernels/heat.wat. */
export function heatJs(u: Float64Array, tmp: Float64Array, n: number, a: number, steps: number): void {
  for (let t = 0; t < steps; t++) {
    for (let i = 0; i < n; i++) {
      const mid = u[i], left = i > 0 ? u[i - 1] : 0, right = i < n - 1 ? u[i + 1] : 0;
      tmp[i] = mid + a * (left - 2 * mid + right);
    }
    for (let i = 0; i < n; i++) u[i] = tmp[i];
  }
}
