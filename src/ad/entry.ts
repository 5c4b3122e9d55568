// Entry points that the runtime calls: for reverse mode one function that starts the
// tape, runs the augmented forward sweep and then the reverse sweep, and returns the
// primal result, the adjoints of the active scalars and the tape bytes used; for forward
// mode the forward function itself.
import type { ActivitySignature } from "../analysis/signature.js";
import { binary, get, i32, set, stmtBlock } from "../ir/builder.js";
import { RESTORE_WORDS, SINK_WORD, WORD_LOG, ZERO_WORD } from "./memory-pointers.js";
import type { Expr, IRFunction, ValType } from "../ir/types.js";
import type { Differentiator } from "./differentiator.js";
import { reverseSignature } from "./reverse.js";
import { TAPE } from "./tape.js";
import { bufferLengthGlobal } from "./checkpoint.js";

/**
 * Forward mode's entry: the forward function, after starting the tape at the base the runtime
 * passes last, when the module allocates (shadow blocks of in-kernel allocations live there).
 */
export function forwardEntry(d: Differentiator, kernel: string, sig: ActivitySignature, name: string): IRFunction {
  const fwd = d.forward(kernel, sig);
  const fn = d.normalizedFn(kernel);
  const params: ValType[] = [...fn.params, ...sig.params.flatMap((p, i) => (p === "active" ? [fn.params[i]] : p === "dup" ? ["i32" as ValType] : [])), "i32"];
  const results: ValType[] = [...fn.results, ...(sig.resultActive ? [fn.results[0]] : [])];
  const call: Expr = { kind: "call", type: results.length > 1 ? "tuple" : results[0] ?? "none", func: fwd, args: params.slice(0, -1).map((t, i) => get(i, t)) };
  const base = get(params.length - 1, "i32");
  const body: Expr[] = [...pointerWords(base), ...(d.allocates ? TAPE.start(binary("i32.add", base, i32(16))) : []), results.length ? { kind: "return", type: "unreachable", value: call } : call];
  return { name, params, results, locals: params, body: stmtBlock(body) };
}

/** The zero word and the sink word of Const pointers kept in memory (memory-pointers.ts): 16 bytes at the tape's base, zeroed. */
function pointerWords(base: Expr): Expr[] {
  const word = (k: number, global: string): Expr[] => [
    { kind: "store", type: "none", op: "i64.store", addr: base, offset: k, align: 8, value: { kind: "const", type: "i64", value: 0n } },
    { kind: "global.set", type: "none", global, value: binary("i32.add", base, i32(k)) }];
  return [...word(0, ZERO_WORD), ...word(8, SINK_WORD), { kind: "global.set", type: "none", global: WORD_LOG, value: i32(0) }];
}

/** `primalUsed` false (`Reverse`): the primal result comes back as 0, and the forward sweep skips what only it needed. */
export function reverseEntry(d: Differentiator, kernel: string, sig: ActivitySignature, name: string, primalUsed = true): IRFunction {
  const fn = d.normalizedFn(kernel);
  d.entry = kernel;
  const names = d.reverse(kernel, sig, !primalUsed && fn.results.length > 0);
  const rsig = reverseSignature(fn, sig);
  // parameters: the kernel's, the shadows, the seed (as the reverse sweep takes them), the tape
  // base, then the byte length of each argument's buffer (0 for scalars), for checkpoint snapshots
  const params: ValType[] = [...rsig.params, "i32", ...fn.params.map(() => "i32" as ValType)];
  const tapeBase = rsig.params.length;
  const lengths = fn.params.flatMap((t, i) => (t === "i32" ? [i] : []));
  for (const i of lengths) d.extraGlobals.push({ name: bufferLengthGlobal(i), type: "i32", mutable: true, init: { kind: "const", type: "i32", value: 0 } });
  const locals: ValType[] = [...params, ...fn.results, ...rsig.results, "i32"];
  const resLocal = params.length;
  const adjLocals = rsig.results.map((_, i) => params.length + fn.results.length + i);
  const usedLocal = locals.length - 1;
  // the augmented sweep takes the kernel's parameters and the shadows (as the reverse sweep does, before its seed)
  const nShadows = sig.params.filter((p) => p === "dup").length;
  const args = rsig.params.slice(0, fn.params.length + nShadows).map((t, i) => get(i, t));
  const augCall: Expr = { kind: "call", type: fn.results[0] ?? "none", func: names.aug, args };
  const revCall: Expr = { kind: "call", type: rsig.results.length > 1 ? "tuple" : rsig.results[0] ?? "none", func: names.rev, args: rsig.params.map((t, i) => get(i, t)) };
  const body: Expr[] = [
    ...lengths.map((i): Expr => ({ kind: "global.set", type: "none", global: bufferLengthGlobal(i), value: get(tapeBase + 1 + i, "i32") })),
    ...pointerWords(get(tapeBase, "i32")),
    ...TAPE.start(binary("i32.add", get(tapeBase, "i32"), i32(16))),
    fn.results.length ? set(resLocal, augCall) : augCall,
    // the seeds the recording sweep overwrote with shadow words come back for the reverse sweep
    { kind: "call", type: "none", func: RESTORE_WORDS, args: [] },
    set(usedLocal, binary("i32.sub", TAPE.top(), get(tapeBase, "i32"))),
    rsig.results.length === 0 ? revCall : rsig.results.length === 1 ? set(adjLocals[0], revCall) : { kind: "tuple.set", type: "none", locals: adjLocals, value: revCall as never },
  ];
  const results: ValType[] = [...fn.results, ...rsig.results, "i32"];
  const values = [...fn.results.map((t) => get(resLocal, t)), ...rsig.results.map((t, i) => get(adjLocals[i], t)), get(usedLocal, "i32")];
  body.push({ kind: "return", type: "unreachable", value: values.length === 1 ? values[0] : { kind: "tuple.make", type: "tuple", values } });
  return { name, params, results, locals, body: stmtBlock(body) };
}
