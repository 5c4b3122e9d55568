// AssemblyScript source to Wasm bytes with asc's programmatic API, using settings that
// lift cleanly (stub runtime, no assertions, function names kept, JS Math for Math and Mathf).
import { ParseError } from "../errors.js";
import { JSMATHF_SOURCE } from "./jsmathf.js";

const LIB_DIR = "__wasm_autodiff_lib";

export type AscOptions = Record<string, unknown>;

export async function compileAssemblyScript(source: string, options: AscOptions = {}): Promise<Uint8Array> {
  if (typeof source !== "string") throw new ParseError("Program.fromAssemblyScript takes the source text");
  let asc: typeof import("assemblyscript/asc");
  try {
    asc = await import("assemblyscript/asc");
  } catch {
    throw new ParseError("Program.fromAssemblyScript needs the assemblyscript package (npm install assemblyscript)");
  }
  const out: Record<string, Uint8Array> = {};
  // Math=JSMath: AssemblyScript's Math.* become imports of JS Math, which have derivative rules,
  // instead of software math compiled into the module (bit-level code without a derivative)
  // Mathf=JSMathf likewise for f32 (jsmathf.ts, a library file of our own)
  const args = ["input.ts", "--outFile", "out.wasm", "--runtime", "stub", "-O3", "--noAssert", "--debug", "--uncheckedBehavior", "always", "--use", "abort=",
    "--use", "Math=JSMath", "--lib", LIB_DIR, "--use", "Mathf=JSMathf"];
  for (const [k, v] of Object.entries(options)) {
    const flag = "--" + k;
    if (v === true) args.push(flag);
    else if (v !== false && v !== undefined) args.push(flag, String(v));
  }
  let stderrText = "";
  const { error } = await asc.main(args, {
    readFile: (name: string) => (name === "input.ts" ? source : name === "jsmathf.ts" || name === `${LIB_DIR}/jsmathf.ts` ? JSMATHF_SOURCE : null),
    writeFile: (name: string, contents: Uint8Array | string) => { if (typeof contents !== "string") out[name] = contents; },
    listFiles: (dir: string) => (dir.endsWith(LIB_DIR) ? ["jsmathf.ts"] : []),
    stderr: { write: (s: string | Uint8Array) => { stderrText += typeof s === "string" ? s : new TextDecoder().decode(s); return true; } } as never,
    stdout: { write: () => true } as never,
  });
  if (error || !out["out.wasm"]) throw new ParseError(`AssemblyScript compilation failed: ${error?.message ?? "no output"}\n${stderrText}`);
  return out["out.wasm"];
}
