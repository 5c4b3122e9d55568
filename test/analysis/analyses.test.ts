// The read-only analyses on lifted kernels: pointer provenance, activity, stable memory,
// and the reverse-sweep needs (what gets recorded), on small WAT functions.
import { describe, expect, it } from "vitest";
import { ActivityAnalysis } from "../../src/analysis/activity.js";
import { PointerAnalysis } from "../../src/analysis/pointers.js";
import type { ActivitySignature } from "../../src/analysis/signature.js";
import { StableMemory, StoreSummary } from "../../src/analysis/stable-memory.js";
import { callResultActive } from "../../src/ad/calls.js";
import { liftModule, readWasm } from "../../src/frontend/lift.js";
import { watToWasm } from "../../src/frontend/wat.js";
import { normalizeFunction } from "../../src/ir/normalize.js";
import type { Expr, IRFunction, IRModule } from "../../src/ir/types.js";
import { forEachNode } from "../../src/ir/walk.js";

async function lift(wat: string): Promise<IRModule> {
  const m = readWasm(await watToWasm(wat));
  try { return liftModule(m); } finally { m.dispose(); }
}
const byName = (fn: IRFunction, name: string) => {
  const i = fn.localNames?.indexOf(name) ?? -1;
  if (i >= 0) return i;
  throw new Error(`no local ${name}`);
};
function analyze(mod: IRModule, name: string, sig: ActivitySignature) {
  const fn = normalizeFunction(mod.functions.find((f) => f.name === name)!);
  const ptr = new PointerAnalysis(fn, sig);
  const act = new ActivityAnalysis(fn, sig, ptr, (c, argActive) => callResultActive(mod, c, argActive));
  return { fn, ptr, act };
}
const loads = (fn: IRFunction) => { const out: Expr[] = []; forEachNode(fn.body as Expr, (n) => { if (n.kind === "load") out.push(n); }); return out; };

const kernel = `(module (memory 1)
  (func $k (export "k") (param $x i32) (param $y i32) (param $n i32) (param $a f64) (result f64)
    (local $p i32) (local $q i32) (local $i i32) (local $s f64) (local $c f64) (local $bad i32)
    (local.set $p (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 3))))
    (local.set $q (i32.or (local.get $y) (i32.const 8)))
    (local.set $bad (i32.load (local.get $x)))
    (local.set $c (f64.convert_i32_s (local.get $n)))
    (local.set $s (f64.mul (f64.load (local.get $p)) (local.get $a)))
    (f64.store (local.get $q) (local.get $c))
    (f64.add (local.get $s) (f64.load (local.get $q)))))`;

describe("pointer provenance", () => {
  it("follows pointer arithmetic from each buffer argument", async () => {
    const mod = await lift(kernel);
    const { fn, ptr } = analyze(mod, "k", { params: ["dup", "const-ptr", "const", "active"], resultActive: true });
    const of = (name: string) => ptr.of({ kind: "local.get", type: "i32", local: byName(fn, name) });
    expect(of("p")).toEqual({ kind: "arg", param: 0, shadowed: true });
    expect(of("q")).toEqual({ kind: "arg", param: 1, shadowed: false });
    expect(of("i")).toEqual({ kind: "int" });
    expect(of("bad").kind).toBe("unknown");
  });
  it("marks a local that may point into two buffers as unknown", async () => {
    const mod = await lift(`(module (memory 1) (func $k (export "k") (param $x i32) (param $y i32) (param $c i32) (result f64)
      (local $p i32) (local.set $p (local.get $x)) (if (local.get $c) (then (local.set $p (local.get $y)))) (f64.load (local.get $p))))`);
    const { fn, ptr } = analyze(mod, "k", { params: ["dup", "dup", "const"], resultActive: true });
    expect(ptr.of({ kind: "local.get", type: "i32", local: byName(fn, "p") }).kind).toBe("unknown");
  });
});

describe("activity", () => {
  it("marks floats that depend on active inputs and leaves the rest inactive", async () => {
    const mod = await lift(kernel);
    const { fn, act } = analyze(mod, "k", { params: ["dup", "const-ptr", "const", "active"], resultActive: true });
    expect(act.activeLocals[byName(fn, "s")]).toBe(true);
    expect(act.activeLocals[byName(fn, "c")]).toBe(false);
    // a load through the Const buffer is inactive, one through the Duplicated buffer is active
    const f64Loads = loads(fn).filter((l) => l.type === "f64");
    expect(f64Loads.map((l) => act.isActive(l))).toEqual([true, false]);
  });
  it("makes nothing active when every input is Const", async () => {
    const mod = await lift(kernel);
    const { act } = analyze(mod, "k", { params: ["const-ptr", "const-ptr", "const", "const"], resultActive: false });
    expect(act.activeLocals.some(Boolean)).toBe(false);
  });
});

describe("stable memory", () => {
  it("treats a buffer as stable only when nothing writes it", async () => {
    const mod = await lift(kernel);
    const { fn, ptr } = analyze(mod, "k", { params: ["dup", "const-ptr", "const", "active"], resultActive: true });
    const stable = new StableMemory(fn, ptr, new StoreSummary(mod), "k", false);
    const [viaP, viaQ] = loads(fn).filter((l) => l.type === "f64");
    expect(stable.isStable(viaP)).toBe(true);   // x is only read
    expect(stable.isStable(viaQ)).toBe(false);  // y is stored to
  });
  it("is conservative inside callees and for storing callees", async () => {
    const mod = await lift(`(module (memory 1)
      (func $w (param $p i32) (f64.store (local.get $p) (f64.const 1)))
      (func $k (export "k") (param $x i32) (param $y i32) (result f64) (call $w (local.get $y)) (f64.load (local.get $x))))`);
    const { fn, ptr } = analyze(mod, "k", { params: ["dup", "dup"], resultActive: true });
    const stores = new StoreSummary(mod);
    expect(stores.mayStore("w")).toBe(true);
    expect(new StableMemory(fn, ptr, stores, "k", false).isStable(loads(fn)[0])).toBe(true);
    // the same function analysed as a callee of something that stores: nothing is stable
    expect(new StableMemory(fn, ptr, stores, "other", false).isStable(loads(fn)[0])).toBe(false);
  });
});
