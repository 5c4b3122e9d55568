// Validate, optimize and emit: the last step from IR to Wasm bytes. Validation comes
// before optimization because binaryen's optimizer can silently "repair" invalid modules.
import { B, BModule, describeBinaryenError, optimizeModule, validateModule } from "../binaryen/adapter.js";
import { BackendError } from "../errors.js";
import { verifyModule } from "../ir/verify.js";
import type { IRModule } from "../ir/types.js";
import { lowerModule } from "./lower.js";

export interface EmitOptions {
  /** binaryen optimize level (0 turns optimization off); default 3. */
  optimize?: number;
  /** Emit the name section (function and local names), for debugging and round trips. */
  names?: boolean;
}

export function emitModule(mod: IRModule, opts: EmitOptions = {}): { bytes: Uint8Array; text?: string } {
  verifyModule(mod);
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
    if (level > 0) optimizeModule(m, level);
    B.setDebugInfo(!!opts.names);
    const bytes: Uint8Array = m.emitBinary();
    B.setDebugInfo(false);
    return { bytes: new Uint8Array(bytes) };
  } finally {
    m.dispose();
  }
}
