// Rose 0.4.10 adapter: the library with loose types (its precise types make generic bench code
// awkward; the bench only needs values), and the math Rose lacks. Rose has no exp, log, tanh,
// sin or cos: a Rose user defines them as `opaque` JS functions with a custom `jvp`, as Rose's
// README does for log and pow, and so do we (each call crosses from Wasm into JS Math).
import * as roseLib from "rose";

export const R = roseLib as any;
const { Real, Dual, fn, opaque, mul, div, sub, neg } = R;

function unary(f: (x: number) => number, d: (x: unknown, y: unknown) => unknown) {
  const g = opaque([Real], Real, f);
  g.jvp = fn([Dual], Dual, ({ re: x, du: dx }: { re: unknown; du: unknown }) => {
    const y = g(x);
    return { re: y, du: mul(dx, d(x, y)) };
  });
  return g as (x: unknown) => unknown;
}

export const exp = unary(Math.exp, (_x, y) => y);
export const log = unary(Math.log, (x) => div(1, x));
export const tanh = unary(Math.tanh, (_x, y) => sub(1, mul(y, y)));
// cos and sin refer to each other's opaque functions in their jvps
const cosF = opaque([Real], Real, Math.cos), sinF = opaque([Real], Real, Math.sin);
cosF.jvp = fn([Dual], Dual, ({ re: x, du: dx }: { re: unknown; du: unknown }) => ({ re: cosF(x), du: mul(dx, neg(sinF(x))) }));
sinF.jvp = fn([Dual], Dual, ({ re: x, du: dx }: { re: unknown; du: unknown }) => ({ re: sinF(x), du: mul(dx, cosF(x)) }));
export const cos = cosF as (x: unknown) => unknown;
export const sin = sinF as (x: unknown) => unknown;
