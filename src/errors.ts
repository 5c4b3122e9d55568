// Error classes of wasm-autodiff. Each has a stable `code`; messages name the function,
// the instruction or argument, and what the user can do about it.

export class AutodiffError extends Error {
  readonly code: string = "AUTODIFF";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The IR is malformed (a bug in a pass or in hand-built IR). */
export class VerifyError extends AutodiffError {
  override readonly code = "VERIFY";
}

/** The input module or text cannot be read (malformed Wasm, invalid WAT, compile errors). */
export class ParseError extends AutodiffError {
  override readonly code = "PARSE";
}

/** An instruction or construct on the active path that the transform cannot differentiate. */
export class UnsupportedError extends AutodiffError {
  override readonly code = "UNSUPPORTED";
  constructor(readonly func: string, readonly instruction: string, remedy: string) {
    super(`cannot differentiate ${instruction} in function ${func}: ${remedy}`);
  }
}

/** Activity annotations that contradict what the kernel does (e.g. an active value stored into a Const buffer). */
export class ActivityError extends AutodiffError {
  override readonly code = "ACTIVITY";
}

/** Wrong arguments at the API: count, kinds, lengths. */
export class ArgumentError extends AutodiffError {
  override readonly code = "ARGUMENT";
}

/** binaryen rejected a module we built (a bug in wasm-autodiff) or failed internally. */
export class BackendError extends AutodiffError {
  override readonly code = "BACKEND";
}

/** The kernel trapped at run time (unreachable, out-of-bounds access, memory exhausted). */
export class TrapError extends AutodiffError {
  override readonly code = "TRAP";
}
