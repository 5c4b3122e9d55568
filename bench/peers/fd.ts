// Finite differences: n + 1 calls of the plain-JS primal (forward differences), the
// baseline without AD. Only rosenbrock n = 1000 (n + 1 primals of a 10⁵-sized input
// would take ~10 s per gradient).
import { type PeerRun, type RosenbrockInput, rosenbrockJs } from "./common.js";

export async function rosenbrock({ n, x }: RosenbrockInput): Promise<PeerRun> {
  const xs = x.slice(), g = new Float64Array(n);
  const grad = () => {
    const f0 = rosenbrockJs(xs, n);
    for (let i = 0; i < n; i++) {
      const xi = xs[i], h = 1e-7 * Math.max(1, Math.abs(xi));
      xs[i] = xi + h;
      g[i] = (rosenbrockJs(xs, n) - f0) / ((xi + h) - xi);
      xs[i] = xi;
    }
    return f0;
  };
  return { grad, primal: () => rosenbrockJs(xs, n), gradient: () => { grad(); return g.slice(); }, io: "JS Float64Array; n+1 JS primals, forward differences" };
}
