// autodiff(mode, kernel, ...args): checks the arguments, compiles (once per kernel, mode
// and activity signature) and runs the derivative in Wasm, and copies buffers and
// shadows back. Semantics are Enzyme's (shared/DESIGN.md §1).
import { ArgumentError } from "../errors.js";
import type { Mode } from "./activity.js";
import { isFloat } from "../ir/types.js";
import { type ArgPlan, copyBack, placeArguments, planArguments, primalArg, shadowArg, signatureOf, trapped } from "./call.js";
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
  const reverse = mode.kind === "reverse";
  const fn = kernel.fn;
  const hasResult = fn.results.length === 1;
  const resultActive = hasResult && isFloat(fn.results[0]);
  const pending = kernel.program.derivative(kernel, mode.kind, signatureOf(kernel, plans), mode.withPrimal);
  const compiled = pending instanceof Promise ? await pending : pending;
  // (tiered: a derivative that has run as long as its first compile took is optimized now, before anything is placed)
  if (compiled.due) await compiled.optimize();
  const tapeBase = placeArguments(kernel, plans, reverse ? TAPE_RESERVE : 0);
  const stats = { tapeBytes: 0, compileMs: compiled.compileMs, moduleBytes: compiled.bytes };
  // the entry's arguments: primal values, shadows (reverse: of Duplicated buffers; forward:
  // tangents of Duplicated scalars too), the seed of an active result (reverse), the tape's
  // base, and (reverse) each buffer's byte length for checkpoint snapshots
  const callArgs: unknown[] = [];
  for (const p of plans) callArgs.push(primalArg(p));
  for (const p of plans) {
    if (p.activity === "dup") callArgs.push(shadowArg(p));
    else if (!reverse && p.activity === "active") callArgs.push(p.shadow);
  }
  if (reverse && resultActive) callArgs.push(1.0);
  callArgs.push(tapeBase); // forward: shadow blocks of the kernel's own allocations go on a tape there
  if (reverse) for (const p of plans) callArgs.push(byteLengthOf(p));
  let out: unknown;
  const timed = compiled.timed;
  const t0 = timed ? performance.now() : 0;
  try {
    out = compiled.entry(...callArgs);
  } catch (e) {
    throw trapped(kernel, e, true, () => compiled.stopped());
  }
  if (timed) compiled.ran(performance.now() - t0);
  copyBack(kernel, plans);
  if (reverse) {
    const values = Array.isArray(out) ? out : [out];
    let k = 0;
    const primal = hasResult ? values[k++] : undefined;
    const derivs = plans.map((p) => (p.activity === "active" ? (values[k++] as number) : null));
    stats.tapeBytes = values[k] as number;
    return mode.withPrimal ? { derivs, primal, stats } : { derivs, stats };
  }
  const derivs = plans.map(() => null);
  if (!hasResult) return { derivs, stats };
  const values = Array.isArray(out) ? out : [out];
  const r: AutodiffResult = { derivs, stats };
  if (mode.withPrimal) r.primal = values[0] as number | bigint;
  if (resultActive) r.tangent = values[1] as number;
  return r;
}
