// autodiff(mode, kernel, ...args): checks the arguments, compiles (once per kernel, mode
// and activity signature) and runs the derivative in Wasm, and copies buffers and
// shadows back. Semantics are Enzyme's (shared/DESIGN.md §1).
import { ArgumentError } from "../errors.js";
import type { Mode } from "./activity.js";
import { type ArgPlan, copyBack, placeArguments, planArguments, primalArg, runGuarded, shadowArg, signatureOf } from "./call.js";
import type { Kernel } from "./program.js";

export interface AutodiffResult {
  /** Reverse: ∂L/∂arg for each Active argument, null for the others. */
  derivs: (number | null)[];
  /** The kernel's return value (WithPrimal modes). */
  primal?: number | bigint;
  /** Forward: the tangent of the return value. */
  tangent?: number;
  stats: { tapeBytes: number; compileMs: number; moduleBytes: number };
}

const TAPE_RESERVE = 1 << 20;

/** The byte length of a buffer argument (0 for scalars): checkpoint snapshots copy whole buffers. */
const byteLengthOf = (p: ArgPlan): number => {
  const v = p.value as { byteLength?: number; array?: { byteLength: number } };
  return typeof v === "object" && v !== null ? (v.byteLength ?? v.array?.byteLength ?? 0) : 0;
};

export async function autodiff(mode: Mode, kernel: Kernel, ...args: unknown[]): Promise<AutodiffResult> {
  if (!mode || (mode.kind !== "forward" && mode.kind !== "reverse"))
    throw new ArgumentError("the first argument of autodiff is a mode: Forward, ForwardWithPrimal, Reverse or ReverseWithPrimal");
  if (!kernel || typeof (kernel as Kernel).call !== "function" || !(kernel as Kernel).fn)
    throw new ArgumentError("the second argument of autodiff is a kernel from program.kernel(name)");
  const plans = planArguments(kernel, args, mode.kind);
  const sig = signatureOf(kernel, plans);
  const pending = kernel.program.derivative(kernel, mode.kind, sig, mode.withPrimal);
  const compiled = pending instanceof Promise ? await pending : pending;
  const tapeBase = placeArguments(kernel, plans, mode.kind === "reverse" ? TAPE_RESERVE : 0);
  const fn = kernel.fn;
  const hasResult = fn.results.length === 1;
  const stats = { tapeBytes: 0, compileMs: compiled.compileMs, moduleBytes: compiled.bytes };
  if (mode.kind === "reverse") {
    const callArgs: unknown[] = plans.map(primalArg);
    for (const p of plans) if (p.activity === "dup") callArgs.push(shadowArg(p));
    if (sig.resultActive) callArgs.push(1.0);
    callArgs.push(tapeBase, ...plans.map(byteLengthOf));
    const out = runGuarded(kernel, () => compiled.entry(...callArgs), true, compiled.stopped);
    const values = Array.isArray(out) ? out : [out];
    copyBack(kernel, plans);
    let k = 0;
    const primal = hasResult ? values[k++] : undefined;
    const derivs = plans.map((p) => (p.activity === "active" ? (values[k++] as number) : null));
    stats.tapeBytes = values[k] as number;
    return { derivs, ...(mode.withPrimal ? { primal } : {}), stats };
  }
  const callArgs: unknown[] = plans.map(primalArg);
  for (const p of plans) {
    if (p.activity === "active") callArgs.push(p.shadow);
    else if (p.activity === "dup") callArgs.push(shadowArg(p));
  }
  callArgs.push(tapeBase); // shadow blocks of the kernel's own allocations go on a tape there
  const out = runGuarded(kernel, () => compiled.entry(...callArgs), true, compiled.stopped);
  copyBack(kernel, plans);
  const derivs = plans.map(() => null);
  if (!hasResult) return { derivs, stats };
  const values = Array.isArray(out) ? out : [out];
  return { derivs, ...(mode.withPrimal ? { primal: values[0] } : {}), ...(sig.resultActive ? { tangent: values[1] as number } : {}), stats };
}
