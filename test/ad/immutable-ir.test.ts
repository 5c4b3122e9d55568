// No pass changes the program's IR in place. Every derivative compile and the primal's
// optimized tier are built from the same lifted IR, and two caches key on its nodes by
// identity (stack frames per function body, ad/stack-frames.ts; statements shared instead of
// copied, ad/tape-locals.ts): a pass that wrote into a node would change what a later compile
// sees. Here every function body is deep-frozen after creation (writes into a frozen object
// throw in ES modules), then derivatives of every mode are generated and emitted, and the
// primal is optimized, from the frozen IR.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Active, Const, Duplicated, Program, Reverse, autodiff } from "../../src/index.js";
import type { ParamActivity } from "../../src/analysis/signature.js";
import { emitModule } from "../../src/backend/emit.js";

function deepFreeze(x: unknown, seen = new Set<object>()): void {
  if (typeof x !== "object" || x === null || seen.has(x)) return;
  seen.add(x);
  for (const v of Object.values(x)) deepFreeze(v, seen);
  Object.freeze(x);
}

const assembly = (file: string) => readFileSync(new URL(`../../assembly/${file}`, import.meta.url), "utf8");
const corpus = (file: string) => readFileSync(new URL(`../../corpus/${file}`, import.meta.url));

const cases: { what: string; make: () => Promise<Program>; kernel: string; params: ParamActivity[] }[] = [
  { what: "GMM (AssemblyScript, scratch buffer, logsumexp calls)", make: () => Program.fromAssemblyScript(assembly("gmm.ts"), { math: "wasm" }), kernel: "gmm", params: ["dup", "dup", "dup", "const", "dup", "const", "const", "const", "const", "const"] },
  { what: "LSTM (AssemblyScript)", make: () => Program.fromAssemblyScript(assembly("lstm.ts"), { math: "wasm" }), kernel: "lstm", params: ["dup", "dup", "const", "dup", "const", "const", "const"] },
  { what: "RK4 (AssemblyScript, in place)", make: () => Program.fromAssemblyScript(assembly("rk4.ts"), { math: "wasm" }), kernel: "rk4", params: ["dup", "dup", "dup", "const", "const"] },
  { what: "energy (C at -O0: a stack frame in memory, libm)", make: () => Program.fromWasm(corpus("c/wasm/energy.O0.wasm"), { splitLocals: true }), kernel: "energy", params: ["dup", "const", "active"] },
  { what: "energy (C at -O2)", make: () => Program.fromWasm(corpus("c/wasm/energy.O2.wasm"), { splitLocals: true }), kernel: "energy", params: ["dup", "const", "active"] },
];

describe("the program's IR is never changed in place", () => {
  it.each(cases)("$what", async ({ make, kernel, params }) => {
    const p = await make();
    const k = p.kernel(kernel);
    const resultActive = k.fn.results.length === 1;
    for (const f of p.ir.functions) deepFreeze(f.body);
    expect(() => { (k.fn.body as { kind: string }).kind = "nop"; }).toThrow(TypeError); // frozen indeed
    for (const mode of ["reverse", "forward"] as const)
      for (const primalUsed of mode === "reverse" ? [true, false] : [true]) {
        const mod = p.derivativeIR(k, mode, { params: [...params], resultActive }, { primalUsed });
        expect(emitModule(mod, { optimize: "fast" }).bytes.length).toBeGreaterThan(8);
      }
    // the primal's optimized tier is lowered from the same IR
    p.primal.ran(Infinity);
    const exported = p.ir.exports.find((x) => x.kind === "function" && x.name !== kernel && p.ir.functions.find((f) => f.name === x.target)?.params.length === 0);
    if (exported) p.kernel(exported.name).call();
    else p.primal.optimize();
    expect(p.primal.optimized).toBe(true);
  });

  it("a derivative compiled through autodiff from frozen IR gives the gradient a fresh program gives", async () => {
    const make = () => Program.fromWasm(corpus("c/wasm/energy.O0.wasm"), { splitLocals: true });
    const x = Float64Array.of(0.1, 0.5, -0.3, 0.8);
    const run = async (p: Program) => {
      const dx = new Float64Array(x.length);
      const r = await autodiff(Reverse, p.kernel("energy"), Duplicated(x.slice(), dx), Const(x.length), Active(2));
      return [...dx, r.derivs[2]!];
    };
    const frozen = await make();
    for (const f of frozen.ir.functions) deepFreeze(f.body);
    expect(await run(frozen)).toEqual(await run(await make()));
  });
});
