// program.inactive: functions and imports that carry no derivative (logging, noise).
import { describe, expect, it } from "vitest";
import { Active, ArgumentError, Duplicated, Forward, Program, Reverse, UnsupportedError, autodiff } from "../../src/index.js";

const wat = `(module
  (import "env" "log" (func $log (param f64)))
  (memory (export "memory") 1)
  (func $jitter (param $x f64) (result f64) (f64.mul (local.get $x) (f64.const 0.001)))
  ;; f(x) = x^3 + jitter(x), logging x^2 on the way
  (func (export "f") (param $x f64) (result f64)
    (local $sq f64)
    (local.set $sq (f64.mul (local.get $x) (local.get $x)))
    (call $log (local.get $sq))
    (f64.add (f64.mul (local.get $sq) (local.get $x)) (call $jitter (local.get $x)))))`;

describe("program.inactive", () => {
  it("an import receiving active values is refused until it is marked inactive", async () => {
    const logged: number[] = [];
    const p = await Program.fromWat(wat, { imports: { env: { log: (v: number) => { logged.push(v); } } } });
    const k = p.kernel("f");
    await expect(autodiff(Reverse, k, Active(2))).rejects.toThrow(UnsupportedError);
    p.inactive("env.log");
    const r = await autodiff(Reverse, k, Active(2));
    expect(r.derivs[0]).toBeCloseTo(3 * 4 + 0.001, 12);
    expect(logged).toContain(4); // the import still runs
    const f = await autodiff(Forward, k, Duplicated(2, 1));
    expect(f.tangent).toBeCloseTo(12.001, 12);
  });
  it("a module function marked inactive contributes no derivative", async () => {
    const p = await Program.fromWat(wat, { imports: { env: { log: () => {} } } });
    p.inactive("env.log").inactive("jitter");
    const k = p.kernel("f");
    const r = await autodiff(Reverse, k, Active(2));
    expect(r.derivs[0]).toBe(12);
    const f = await autodiff(Forward, k, Duplicated(2, 1));
    expect(f.tangent).toBe(12);
    expect(k.call(2)).toBe(8.002);
  });
  it("marking a function after a call recompiles: the kernel's cached derivative is not reused", async () => {
    const p = await Program.fromWat(wat, { imports: { env: { log: () => {} } } });
    p.inactive("env.log");
    const k = p.kernel("f");
    const before = [await autodiff(Reverse, k, Active(2)), await autodiff(Reverse, k, Active(2))];
    for (const r of before) expect(r.derivs[0]).toBeCloseTo(12.001, 12);
    expect((await autodiff(Forward, k, Duplicated(2, 1))).tangent).toBeCloseTo(12.001, 12);
    p.inactive("jitter");
    // the same Kernel object, the same signature: the derivative now leaves jitter out
    expect((await autodiff(Reverse, k, Active(2))).derivs[0]).toBe(12);
    expect((await autodiff(Reverse, k, Active(2))).derivs[0]).toBe(12);
    expect((await autodiff(Forward, k, Duplicated(2, 1))).tangent).toBe(12);
  });
  it("a mark made while a derivative compiles is not undone when that compile finishes", async () => {
    const p = await Program.fromWat(wat, { imports: { env: { log: () => {} } } });
    p.inactive("env.log");
    const k = p.kernel("f");
    const early = autodiff(Reverse, k, Active(2)); // compiles the module with jitter active
    p.inactive("jitter");
    expect((await early).derivs[0]).toBeCloseTo(12.001, 12);
    expect((await autodiff(Reverse, k, Active(2))).derivs[0]).toBe(12);
  });
  it("unknown names are an ArgumentError", async () => {
    const p = await Program.fromWat(wat, { imports: { env: { log: () => {} } } });
    expect(() => p.inactive("nope")).toThrow(ArgumentError);
  });
});
