// AssemblyScript source to Wasm bytes for the bench's own modules: the hand-written adjoints
// in assembly/hand/ (each compiled after its primal: bench/peers/hand.ts) and the ahead-of-time
// bytes of our kernels for first-call latency. Both go through the very function
// Program.fromAssemblyScript uses (src/frontend/assemblyscript.ts: stub runtime, -O3, no
// asserts, Math=JSMath), so the hand-written adjoints and our kernels start from the same code
// generation, and the AOT bytes are exactly what fromAssemblyScript lifts.
import { readFileSync } from "node:fs";
import { compileAssemblyScript } from "../../src/frontend/assemblyscript.js";

const projectRoot = new URL("../../../", import.meta.url); // dist/bench/peers/ → project root
/** The text of assembly/<path>. */
export const assemblySource = (path: string): string => readFileSync(new URL(`assembly/${path}`, projectRoot), "utf8");

export async function compileAsc(source: string, math: "js" | "wasm" = "js"): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await compileAssemblyScript(source, {}, math)); // a copy on a plain ArrayBuffer (what WebAssembly.Module's types want)
}

/** The imports of an asc module compiled with Math=JSMath: env."Math.exp" etc. are JS Math's. */
export function jsMathImports(module: WebAssembly.Module): WebAssembly.Imports {
  const env: Record<string, WebAssembly.ImportValue> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== "env" || !imp.name.startsWith("Math.")) throw new Error(`unexpected import ${imp.module}.${imp.name}`);
    const v = (Math as unknown as Record<string, WebAssembly.ImportValue>)[imp.name.slice(5)];
    if (v === undefined) throw new Error(`no JS Math.${imp.name.slice(5)}`);
    env[imp.name] = v;
  }
  return { env };
}
