// Kernels built ahead of time from assembly/ with asc and asconfig.json (as `npx asc --target
// release` does), loaded with Program.fromWasm: the same derivatives as the JIT path, bit for bit.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Const, Duplicated, Program, ReverseWithPrimal, autodiff } from "../../src/index.js";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

const root = fileURLToPath(new URL("../../", import.meta.url));

async function buildRelease(transforms: unknown[] = []): Promise<Uint8Array> {
  const asc = (await import("assemblyscript/asc")).default;
  const out: Record<string, Uint8Array> = {};
  const { error, stderr } = await asc.main(["--config", `${root}asconfig.json`, "--target", "release", "--outFile", "aot.wasm", "--textFile", "aot.wat"], {
    writeFile: (name: string, contents: Uint8Array | string) => { if (typeof contents !== "string") out[name.split("/").pop()!] = contents; },
    // asc's API lists library folders (asconfig "lib": assembly/lib) only through this callback
    listFiles: (dir: string, base: string) => { try { return readdirSync(resolve(base, dir)).filter((f) => f.endsWith(".ts")); } catch { return null; } },
    readFile: (name: string, base: string) => { try { return readFileSync(resolve(base, name), "utf8"); } catch { return null; } },
    transforms: transforms as never,
  });
  if (error) throw new Error(`asc failed: ${error.message}\n${stderr}`);
  return out["aot.wasm"];
}

describe("ahead-of-time AssemblyScript build (asconfig.json)", () => {
  it("differentiates the MLP and Rosenbrock like the JIT path does", async () => {
    const aot = await Program.fromWasm(await buildRelease(), { splitLocals: true });
    const jit = await Program.fromAssemblyScript(readFileSync(`${root}assembly/mlp.ts`, "utf8") + "\n" + readFileSync(`${root}assembly/rosenbrock.ts`, "utf8"));
    const params = Float64Array.from({ length: 252 }, (_, i) => Math.sin(i) * 0.3), x = Float64Array.of(0.4, -0.7);
    const grads = [] as Float64Array[];
    const primals = [] as unknown[];
    for (const p of [aot, jit]) {
      const g = new Float64Array(252);
      const r = await autodiff(ReverseWithPrimal, p.kernel("mlp"), Duplicated(params.slice(), g), Const(x.slice()));
      grads.push(g);
      primals.push(r.primal);
    }
    expect(primals[0]).toBe(primals[1]);
    expect(Array.from(grads[0])).toEqual(Array.from(grads[1]));
    expect(grads[0].some((v) => v !== 0)).toBe(true);
    const rx = Float64Array.of(0.5, 1.2, -0.3, 0.8), dr = new Float64Array(4);
    await autodiff(ReverseWithPrimal, aot.kernel("rosenbrock"), Duplicated(rx, dr), Const(4));
    // ∂/∂x0 of 100 (x1 − x0²)² + (1 − x0)² = −400 x0 (x1 − x0²) − 2 (1 − x0)
    expect(dr[0]).toBeCloseTo(-400 * 0.5 * (1.2 - 0.25) - 2 * (1 - 0.5), 10);
  });
});

describe("ahead-of-time build of kernels that allocate", () => {
  it("with the KeepAllocatorCalls transform, gives the JIT path's gradients bit for bit; without it, the same gradients or a refusal, never others", async () => {
    const { KeepAllocatorCalls } = await import("../../src/frontend/assemblyscript.js");
    const aot = await Program.fromWasm(await buildRelease([KeepAllocatorCalls]), { splitLocals: true });
    const jit = await Program.fromAssemblyScript(readFileSync(`${root}assembly/workspace.ts`, "utf8"));
    const x = Float64Array.from({ length: 7 }, (_, i) => 0.2 + 0.3 * Math.sin(i));
    for (const [name, rest] of [["smooth", [7, 3]], ["temporaries", [7]]] as const) {
      const grads = [] as number[][];
      for (const p of [aot, jit]) {
        const g = new Float64Array(7);
        await autodiff(ReverseWithPrimal, p.kernel(name), Duplicated(x.slice(), g), ...rest.map((v) => Const(v)));
        grads.push([...g]);
      }
      expect(grads[0]).toEqual(grads[1]);
      expect(grads[0].every((v) => v !== 0)).toBe(true);
    }
    // without it, asc inlines the allocator where a function allocates once (heap.alloc's __alloc here)
    const plain = await Program.fromWasm(await buildRelease(), { splitLocals: true });
    const want = new Float64Array(7), got = new Float64Array(7);
    await autodiff(ReverseWithPrimal, jit.kernel("temporaries"), Duplicated(x.slice(), want), Const(7));
    const r = await autodiff(ReverseWithPrimal, plain.kernel("temporaries"), Duplicated(x.slice(), got), Const(7)).catch((e) => e);
    if (r instanceof Error) expect(r.message).toMatch(/memory not derived from any Duplicated argument|cannot be traced/);
    else expect([...got]).toEqual([...want]);
  });
});

describe("ahead-of-time build with AssemblyScript's own math (no Math=JSMath)", () => {
  it("with the KeepNativeMathCalls transform, NativeMath stays functions and the gradients are the JIT path's (math: \"wasm\") bit for bit", async () => {
    const { KeepNativeMathCalls } = await import("../../src/index.js");
    const asc = (await import("assemblyscript/asc")).default;
    const source = readFileSync(`${root}assembly/mlp.ts`, "utf8");
    const out: Record<string, Uint8Array> = {};
    const { error } = await asc.main(["mlp.ts", "--outFile", "mlp.wasm", "-O3", "--runtime", "stub", "--noAssert", "--debug"], {
      readFile: (name: string) => (name === "mlp.ts" ? source : null),
      writeFile: (name: string, contents: Uint8Array | string) => { if (typeof contents !== "string") out[name] = contents; },
      listFiles: () => [],
      transforms: [KeepNativeMathCalls] as never,
    });
    expect(error).toBeFalsy();
    const aot = await Program.fromWasm(out["mlp.wasm"], { splitLocals: true });
    expect(aot.ir.functions.some((f) => f.name === "~lib/math/NativeMath.tanh")).toBe(true);
    const jit = await Program.fromAssemblyScript(source, { math: "wasm" });
    const params = Float64Array.from({ length: 252 }, (_, i) => Math.sin(i) * 0.3), xs = Float64Array.of(0.4, -0.7, 0.1, 0.9);
    const grads = [] as number[][];
    for (const p of [aot, jit]) {
      const g = new Float64Array(252);
      await autodiff(ReverseWithPrimal, p.kernel("mlp_batch"), Duplicated(params.slice(), g), Const(xs), Const(2));
      grads.push([...g]);
    }
    expect(grads[0]).toEqual(grads[1]);
    expect(grads[0].filter((v) => v !== 0).length).toBeGreaterThan(200);
  });
});

describe("JSMathf for ahead-of-time builds", () => {
  it("assembly/lib/jsmathf.ts is the library Program.fromAssemblyScript uses", async () => {
    const { JSMATHF_SOURCE } = await import("../../src/frontend/jsmathf.js");
    const file = readFileSync(`${root}assembly/lib/jsmathf.ts`, "utf8");
    expect(file.slice(file.indexOf("export namespace"))).toBe(JSMATHF_SOURCE.slice(JSMATHF_SOURCE.indexOf("export namespace")));
  });
});
