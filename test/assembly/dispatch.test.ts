// Dynamic dispatch in AssemblyScript kernels: first-class functions (asc compiles a call
// through a function reference to call_indirect on its function table; reverse mode records
// which function ran), and a switch that asc compiles to a br_table state machine.
import { describe, expect, it } from "vitest";
import { Const, Duplicated, Forward, Program, ReverseWithPrimal, autodiff } from "../../src/index.js";
import { relErr, richardsonFD } from "../helpers/check.js";
import { forEachNode } from "../../src/ir/walk.js";
import type { Expr } from "../../src/ir/types.js";

const source = `
type Act = (x: f64) => f64;
function sq(x: f64): f64 { return x * x; }
function sn(x: f64): f64 { return Math.sin(x) * x; }
function th(x: f64): f64 { return Math.tanh(2.0 * x); }
const table: StaticArray<Act> = [sq, sn, th];
// which function applies to x[i] depends on the data and on k
export function mapsum(x: StaticArray<f64>, k: i32): f64 {
  let s = 0.0;
  for (let i = 0; i < x.length; i++) {
    const f = table[(i + k + (x[i] > 0.5 ? 1 : 0)) % 3];
    s += f(x[i]) * (1.0 + 0.1 * <f64>i);
  }
  return s;
}
// a state machine: the next state depends on the data
export function machine(x: StaticArray<f64>, k: i32): f64 {
  let s = 0.0;
  let state = k;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    switch (state) {
      case 0: s += v * v; state = v > 0.5 ? 1 : 2; break;
      case 1: s += Math.sin(v) * s; state = 2; break;
      case 2: s -= Math.exp(-v); state = 3; break;
      default: s *= 0.5 + v; state = 0; break;
    }
  }
  return s;
}
`;

async function check(p: Program, name: string, x: Float64Array, k: number) {
  const kern = p.kernel(name);
  const f = (y: Float64Array) => kern.call(y.slice(), k) as number;
  const dx = new Float64Array(x.length);
  const r = await autodiff(ReverseWithPrimal, kern, Duplicated(x.slice(), dx), Const(k));
  expect(r.primal).toBe(f(x));
  for (let i = 0; i < x.length; i++)
    expect(relErr(dx[i], richardsonFD((h) => { const y = x.slice(); y[i] += h; return f(y); }, 1e-4)), `${name} dx[${i}] k=${k}`).toBeLessThan(1e-7);
  const t = Float64Array.from(x, (_, i) => Math.cos(1.7 * i));
  const fw = await autodiff(Forward, kern, Duplicated(x.slice(), t), Const(k));
  expect(relErr(fw.tangent!, t.reduce((s, v, i) => s + v * dx[i], 0))).toBeLessThan(1e-12);
}

describe("dynamic dispatch in AssemblyScript", () => {
  it("calls through function references (call_indirect): recorded targets, exact derivatives", async () => {
    const p = await Program.fromAssemblyScript(source);
    let indirect = false;
    forEachNode(p.ir.functions.find((f) => f.name.endsWith("/mapsum"))!.body as Expr, (n) => { if (n.kind === "call_indirect") indirect = true; });
    expect(indirect).toBe(true);
    const x = Float64Array.from({ length: 11 }, (_, i) => 0.15 * i - 0.2);
    for (const k of [0, 1, 2]) await check(p, "mapsum", x, k);
  });

  it("a switch compiled to br_table, driven by data: exact derivatives from every start state", async () => {
    const p = await Program.fromAssemblyScript(source);
    let table = false;
    forEachNode(p.ir.functions.find((f) => f.name.endsWith("/machine"))!.body as Expr, (n) => { if (n.kind === "br_table") table = true; });
    expect(table).toBe(true);
    const x = Float64Array.from({ length: 13 }, (_, i) => 0.3 + 0.4 * Math.sin(2.3 * i));
    for (const k of [0, 1, 2, 3]) await check(p, "machine", x, k);
  });
});
