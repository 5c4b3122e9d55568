// AssemblyScript source to Wasm bytes with asc's programmatic API, using settings that
// lift cleanly (stub runtime, no assertions, function names kept, JS Math for Math and Mathf).
import { ParseError } from "../errors.js";
import { JSMATHF_SOURCE } from "./jsmathf.js";

const LIB_DIR = "__wasm_autodiff_lib";

export type AscOptions = Record<string, unknown>;

/**
 * asc's -O3 inlines the runtime's allocator into kernels (`heap.alloc` becomes bump-pointer
 * code), where it cannot be told from other integer code. Marked no-inline before asc
 * optimizes, allocations stay calls to `__alloc`/`__new`, which get shadow blocks.
 */
const RUNTIME_CALLS = ["__alloc", "__new", "__free", "__realloc", "__renew"].map((f) => `~lib/rt/*/${f}`);
/**
 * With `math: "wasm"`, AssemblyScript's own software math (NativeMath, NativeMathf) is kept
 * as functions too: a call to `~lib/math/NativeMath.tanh` is recognised by name and given its
 * rule (src/ad/calls.ts), where inlined into a kernel its bit-level code would be refused.
 */
const NATIVE_MATH_CALLS = ["~lib/math/NativeMath.*", "~lib/math/NativeMathf.*"];

/** An asc transform marking functions no-inline (by binaryen name pattern) before asc optimizes. */
function keepCalls(patterns: string[]) {
  return class KeepCalls {
    declare binaryen: { setPassArgument(key: string, value: string | null): void };
    afterCompile(module: { runPasses(passes: string[]): void }): void {
      for (const pattern of patterns) {
        this.binaryen.setPassArgument("no-inline", pattern);
        module.runPasses(["no-inline"]);
      }
      this.binaryen.setPassArgument("no-inline", null);
    }
  };
}
export const KeepAllocatorCalls = keepCalls(RUNTIME_CALLS);
/** KeepAllocatorCalls, and NativeMath/NativeMathf kept as functions: for ahead-of-time builds without Math=JSMath. */
export const KeepNativeMathCalls = keepCalls([...RUNTIME_CALLS, ...NATIVE_MATH_CALLS]);

/**
 * How an exported function's parameter is passed, from asc's bindings: a plain value (numbers,
 * `usize` pointers), a `StaticArray<f64|f32>` (a pointer to its data, after an object header
 * whose class id is `rtId`), or another managed type the wrapper cannot build.
 */
export type AscParam = { kind: "value" } | { kind: "staticarray"; elem: "f64" | "f32"; rtId: number }
  /** A Float64Array/Float32Array (object of 12 bytes) or Array<f64|f32> (16 bytes): buffer, dataStart, byteLength[, length]. */
  | { kind: "view"; elem: "f64" | "f32"; rtId: number; size: 12 | 16 }
  | { kind: "managed"; type: string };

export interface AscOutput { bytes: Uint8Array; params: Map<string, AscParam[]> }

/** The module's bytes. */
export async function compileAssemblyScript(source: string, options: AscOptions = {}, math: AscMath = "js"): Promise<Uint8Array> {
  return (await compileAssemblyScriptWithParams(source, options, math)).bytes;
}

/**
 * Where Math and Mathf come from: "js", imports of JS Math (calls out of Wasm, ~20 ns each in
 * V8); "wasm", AssemblyScript's NativeMath/NativeMathf compiled into the module and kept as
 * functions, which the differentiator recognises by name (faster where math dominates; the
 * values are musl's, which may differ from JS Math's in the last bit).
 */
export type AscMath = "js" | "wasm";

/** The module's bytes, and how each export takes its parameters. */
export async function compileAssemblyScriptWithParams(source: string, options: AscOptions = {}, math: AscMath = "js"): Promise<AscOutput> {
  if (typeof source !== "string") throw new ParseError("Program.fromAssemblyScript takes the source text");
  let asc: typeof import("assemblyscript/asc");
  try {
    asc = await import("assemblyscript/asc");
  } catch {
    throw new ParseError("Program.fromAssemblyScript needs the assemblyscript package (npm install assemblyscript)");
  }
  const out: Record<string, Uint8Array> = {};
  const texts: Record<string, string> = {};
  // Math=JSMath: AssemblyScript's Math.* become imports of JS Math, which have derivative rules,
  // instead of software math compiled into the module (bit-level code without a derivative)
  // Mathf=JSMathf likewise for f32 (jsmathf.ts, a library file of our own)
  const args = ["input.ts", "--outFile", "out.wasm", "--runtime", "stub", "-O3", "--noAssert", "--debug", "--uncheckedBehavior", "always", "--use", "abort=",
    ...(math === "js" ? ["--use", "Math=JSMath", "--lib", LIB_DIR, "--use", "Mathf=JSMathf"] : []), "--bindings", "esm"];
  if (math !== "js" && math !== "wasm") throw new ParseError(`the math option of Program.fromAssemblyScript is "js" or "wasm", got ${String(math)}`);
  for (const [k, v] of Object.entries(options)) {
    const flag = "--" + k;
    if (v === true) args.push(flag);
    else if (v !== false && v !== undefined) args.push(flag, String(v));
  }
  let stderrText = "";
  const { error } = await asc.main(args, {
    readFile: (name: string) => (name === "input.ts" ? source : name === "jsmathf.ts" || name === `${LIB_DIR}/jsmathf.ts` ? JSMATHF_SOURCE : null),
    writeFile: (name: string, contents: Uint8Array | string) => { if (typeof contents !== "string") out[name] = contents; else texts[name] = contents; },
    listFiles: (dir: string) => (dir.endsWith(LIB_DIR) ? ["jsmathf.ts"] : []),
    stderr: { write: (s: string | Uint8Array) => { stderrText += typeof s === "string" ? s : new TextDecoder().decode(s); return true; } } as never,
    stdout: { write: () => true } as never,
    transforms: [(math === "wasm" ? KeepNativeMathCalls : KeepAllocatorCalls) as never],
  });
  if (error || !out["out.wasm"]) throw new ParseError(`AssemblyScript compilation failed: ${error?.message ?? "no output"}\n${stderrText}`);
  return { bytes: out["out.wasm"], params: parameterKinds(texts["out.d.ts"] ?? "", texts["out.js"] ?? "") };
}

/** Per export, its parameters' AssemblyScript types (the bindings' doc comments) and StaticArray class ids (their glue). */
function parameterKinds(dts: string, glue: string): Map<string, AscParam[]> {
  const out = new Map<string, AscParam[]>();
  for (const m of dts.matchAll(/\/\*\*\n((?:\s*\*.*\n)*?)\s*\*\/\nexport declare function (\w+)\(/g)) {
    const name = m[2];
    const types = [...m[1].matchAll(/@param (\w+) `([^`]*)`/g)].map((p) => ({ param: p[1], type: p[2] }));
    out.set(name, types.map(({ param, type }): AscParam => {
      const sa = /^~lib\/staticarray\/StaticArray<(f64|f32)>$/.exec(type);
      if (sa) {
        const start = glue.indexOf(`    ${name}(`), body = start < 0 ? "" : glue.slice(start, glue.indexOf("\n    },", start));
        const id = new RegExp(`\\b${param} = (?:__retain\\()?__lowerStaticArray\\(\\w+, (\\d+), \\d+, ${param}\\b`).exec(body);
        return id ? { kind: "staticarray", elem: sa[1] as "f64" | "f32", rtId: Number(id[1]) } : { kind: "managed", type };
      }
      const view = /^~lib\/typedarray\/Float(64|32)Array$/.exec(type) ?? /^~lib\/array\/Array<f(64|32)>$/.exec(type);
      if (view) {
        const start = glue.indexOf(`    ${name}(`), body = start < 0 ? "" : glue.slice(start, glue.indexOf("\n    },", start));
        const id = new RegExp(`\\b${param} = (?:__retain\\()?__lower(?:TypedArray|Array)\\(\\w+, (\\d+), \\d+, ${param}\\b`).exec(body);
        if (id) return { kind: "view", elem: `f${view[1]}` as "f64" | "f32", rtId: Number(id[1]), size: type.includes("typedarray") ? 12 : 16 };
        return { kind: "managed", type };
      }
      return type.startsWith("~lib/") || type.includes("/") ? { kind: "managed", type } : { kind: "value" };
    }));
  }
  return out;
}
