// A hand-written adjoint in plain JS: what a user writes without an AD system.
import { type HeatInput, type PeerRun, type RosenbrockInput, heatJs, rosenbrockJs } from "./common.js";

export async function rosenbrock({ n, x }: RosenbrockInput): Promise<PeerRun> {
  const g = new Float64Array(n);
  const grad = () => {
    g.fill(0);
    let s = 0;
    for (let i = 0; i < n - 1; i++) {
      const a = x[i], b = x[i + 1], d = b - a * a, e = 1 - a;
      s += 100 * d * d + e * e;
      g[i] += -400 * a * d - 2 * e;
      g[i + 1] += 200 * d;
    }
    return s;
  };
  return { grad, primal: () => rosenbrockJs(x, n), gradient: () => { grad(); return g.slice(); }, io: "JS Float64Array" };
}

export async function heat({ n, steps, a, u0, w }: HeatInput): Promise<PeerRun> {
  // Forward sweep stores every state (steps × n doubles); the reverse sweep runs the
  // transposed update (the stencil is symmetric with zero boundaries) and accumulates ∂L/∂a.
  const states = new Float64Array(steps * n);
  const u = new Float64Array(n), tmp = new Float64Array(n), ub = new Float64Array(n);
  const out = new Float64Array(n + 1);
  const grad = () => {
    u.set(u0);
    for (let t = 0; t < steps; t++) {
      states.set(u, t * n);
      for (let i = 0; i < n; i++) {
        const mid = u[i], left = i > 0 ? u[i - 1] : 0, right = i < n - 1 ? u[i + 1] : 0;
        tmp[i] = mid + a * (left - 2 * mid + right);
      }
      u.set(tmp);
    }
    let L = 0;
    for (let i = 0; i < n; i++) L += w[i] * u[i];
    ub.set(w);
    let abar = 0;
    for (let t = steps - 1; t >= 0; t--) {
      const o = t * n;
      for (let i = 0; i < n; i++) {
        const mid = states[o + i], left = i > 0 ? states[o + i - 1] : 0, right = i < n - 1 ? states[o + i + 1] : 0;
        abar += ub[i] * (left - 2 * mid + right);
        const bl = i > 0 ? ub[i - 1] : 0, br = i < n - 1 ? ub[i + 1] : 0;
        tmp[i] = ub[i] + a * (bl - 2 * ub[i] + br);
      }
      ub.set(tmp);
    }
    out.set(ub); out[n] = abar;
    return L;
  };
  const pu = new Float64Array(n), ptmp = new Float64Array(n);
  return {
    grad,
    primal: () => { pu.set(u0); heatJs(pu, ptmp, n, a, steps); let L = 0; for (let i = 0; i < n; i++) L += w[i] * pu[i]; return L; },
    gradient: () => { grad(); return out.slice(); },
    io: "JS Float64Array; stores all states",
  };
}
