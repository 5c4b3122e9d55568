// Lift → lower → lift gives the same IR (printed text equal), and normalization keeps the
// primal's behaviour (the reference interpreter agrees before and after) on the conformance kernels.
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { emitModule } from "../../src/backend/emit.js";
import { liftModule, readWasm } from "../../src/frontend/lift.js";
import { watToWasm } from "../../src/frontend/wat.js";
import { normalizeFunction } from "../../src/ir/normalize.js";
import { printModule } from "../../src/ir/print.js";
import { verifyModule } from "../../src/ir/verify.js";
import type { Expr, IRModule } from "../../src/ir/types.js";
import { mapTree } from "../../src/ir/walk.js";

const dir = new URL("../kernels/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".wat"));

const renameImports = (m: IRModule): IRModule => {
  const names = new Map(m.functions.filter((f) => f.import).map((f) => [f.name, `${f.import!.module}.${f.import!.base}`]));
  return {
    ...m,
    functions: m.functions.map((f) => ({ ...f, name: names.get(f.name) ?? f.name,
      body: f.body && !("kind" in f.body && f.body.kind === "cfg") ? mapTree(f.body as Expr, (n) => (n.kind === "call" && names.has(n.func) ? { ...n, func: names.get(n.func)! } : n)) : f.body })),
  };
};
const liftBytes = (bytes: Uint8Array): IRModule => {
  const m = readWasm(bytes);
  try { return liftModule(m); } finally { m.dispose(); }
};

describe("IR round trip", () => {
  // binaryen's writer may add an `unreachable` after a loop that never falls through, so the
  // first round trip can differ from the input; after that, lowering and lifting is a fixpoint
  it.each(files)("%s: lift ∘ lower is a fixpoint of the printed IR", async (file) => {
    const ir = liftBytes(await watToWasm(readFileSync(new URL(file, dir), "utf8")));
    verifyModule(ir);
    const once = liftBytes(emitModule(ir, { optimize: 0, names: true }).bytes);
    const twice = liftBytes(emitModule(once, { optimize: 0, names: true }).bytes);
    expect(printModule(twice)).toBe(printModule(once));
    // binaryen names imports by position when it reads them back: compare them by module.base
    const canon = (m: IRModule) => printModule(renameImports(m)).replace(/\s*\(unreachable\)/g, "");
    expect(canon(once)).toBe(canon(ir));
  });

  it.each(files)("%s: statement form verifies and lowers", async (file) => {
    const ir = liftBytes(await watToWasm(readFileSync(new URL(file, dir), "utf8")));
    const normalized: IRModule = { ...ir, functions: ir.functions.map(normalizeFunction) };
    verifyModule(normalized);
    expect(emitModule(normalized, { optimize: 0 }).bytes.length).toBeGreaterThan(8);
  });
});

describe("statement form of value-carrying br_if", () => {
  // br_if with a value leaves through an `if` in statement form; its br is then unconditional
  // (typed unreachable), which the verifier checks (a regression from asc -O3 output)
  it("verifies, and computes what the original computes", async () => {
    const wat = `(module (memory 1)
      (func (export "f") (param $c i32) (param $x f64) (result f64)
        (f64.add (f64.const 1)
          (block $b (result f64)
            (drop (br_if $b (f64.mul (local.get $x) (f64.const 2)) (local.get $c)))
            (f64.const 10)))))`;
    const ir = liftBytes(await watToWasm(wat));
    const normalized: IRModule = { ...ir, functions: ir.functions.map(normalizeFunction) };
    verifyModule(normalized);
    const run = async (m: IRModule) => {
      const { instance } = await WebAssembly.instantiate(emitModule(m, { optimize: 0 }).bytes as BufferSource);
      const f = instance.exports.f as (c: number, x: number) => number;
      return [f(1, 3), f(0, 3)];
    };
    expect(await run(normalized)).toEqual([7, 11]);
    expect(await run(ir)).toEqual([7, 11]);
  });
});
