// wasm-autodiff's public API: explicit named re-exports only.
export { Program, Kernel } from "./runtime/program.js";
export type { ProgramOptions } from "./runtime/program.js";
export type { RuleSpec } from "./runtime/rules.js";
export type { RuleActivity } from "./ir/types.js";
export { KeepAllocatorCalls, KeepNativeMathCalls } from "./frontend/assemblyscript.js";
export { autodiff } from "./runtime/autodiff.js";
export { WasmArray } from "./runtime/wasm-array.js";
export type { AutodiffResult } from "./runtime/autodiff.js";
export {
  Const, Active, Duplicated, DuplicatedNoNeed, BatchDuplicated,
  Forward, ForwardWithPrimal, Reverse, ReverseWithPrimal,
} from "./runtime/activity.js";
export type { Mode, Annotated } from "./runtime/activity.js";
export {
  AutodiffError, VerifyError, ParseError, UnsupportedError, ActivityError, ArgumentError, BackendError, TrapError,
} from "./errors.js";
