// Validate, optimize and emit: the last step from IR to Wasm bytes. Validation comes
// before optimization because binaryen's optimizer can silently "repair" invalid modules.
import { B, BModule, describeBinaryenError, FEATURES, optimizeModule, runFunctionPasses, runModulePasses, validateModule } from "../binaryen/adapter.js";
import { BackendError } from "../errors.js";
import { verifyModule } from "../ir/verify.js";
import type { IRModule } from "../ir/types.js";
import { lowerModule } from "./lower.js";
import { withoutUnusedFunctions } from "./reachable.js";

/**
 * The passes of the "fast" pipeline: what V8's optimizing tier does not do for our generated
 * code. Inlining (helpers and callees' derivative functions into their callers), local-cse
 * (the reverse sweep recomputes addresses and reloads values the forward sweep had: 25% of
 * Rosenbrock's gradient), coalesce-locals (the IR's many short-lived locals: heat's sweeps),
 * optimize-instructions. On the bench's kernels this runs as fast as binaryen's -O3
 * (Rosenbrock's reverse faster) in a third of the compile time (bench/run.ts: compile ms).
 * simplify-locals is left out: the same speed, and most of the time -O3 spends on a GMM.
 */
export const FAST_PASSES = ["inlining", "local-cse", "coalesce-locals", "optimize-instructions", "remove-unused-module-elements"] as const;
/** Above this many locals a function (after inlining) skips coalesce-locals, whose time grows too fast with them. */
const COALESCE_MAX_LOCALS = 3000;

export interface EmitOptions {
  /** binaryen optimize level (0 turns optimization off), or "fast" (FAST_PASSES); default 3. */
  optimize?: number | "fast";
  /** Emit the name section (function and local names), for debugging and round trips. */
  names?: boolean;
}

export function emitModule(mod: IRModule, opts: EmitOptions = {}): { bytes: Uint8Array; text?: string } {
  verifyModule(mod);
  mod = withoutUnusedFunctions(mod);
  let m: BModule;
  try {
    m = lowerModule(mod);
  } catch (e) {
    if (e instanceof BackendError) throw e;
    throw new BackendError(`lowering to binaryen failed: ${describeBinaryenError(e)}`);
  }
  try {
    const complaint = validateModule(m);
    if (complaint) throw new BackendError(`binaryen rejected the generated module (a bug in wasm-autodiff):\n${complaint.slice(0, 4000)}`);
    const level = opts.optimize ?? 3;
    if (level === "fast") runFastPasses(m);
    else if (level > 0) optimizeModule(m, level);
    B.setDebugInfo(!!opts.names);
    const bytes: Uint8Array = m.emitBinary();
    B.setDebugInfo(false);
    return { bytes: new Uint8Array(bytes) };
  } finally {
    m.dispose();
  }
}

function runFastPasses(m: BModule): void {
  runModulePasses(m, ["inlining"]);
  runFunctionPasses(m, ["local-cse", "coalesce-locals", "optimize-instructions"], "coalesce-locals", COALESCE_MAX_LOCALS);
  runModulePasses(m, ["remove-unused-module-elements"]);
}

/**
 * The "fast" pipeline over a module that emitModule wrote without optimizing: the second tier
 * of a derivative (runtime/compiled.ts). Binaryen reads back what it wrote, so the result is the
 * module emitModule(…, { optimize: "fast" }) would have given.
 */
export function optimizeBinary(bytes: Uint8Array, opts: { names?: boolean } = {}): Uint8Array {
  const m = B.readBinary(bytes);
  try {
    m.setFeatures(FEATURES);
    runFastPasses(m);
    B.setDebugInfo(!!opts.names);
    const out: Uint8Array = m.emitBinary();
    B.setDebugInfo(false);
    return new Uint8Array(out);
  } finally {
    m.dispose();
  }
}
