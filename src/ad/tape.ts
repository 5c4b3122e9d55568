// The tape: a LIFO stack in linear memory above everything else the call uses. The
// augmented forward sweep pushes, the reverse sweep pops in the opposite order, so
// recursion and arbitrary control flow need no bookkeeping. `__ad_tp` is the top;
// a capacity check per basic block calls `__ad_tape_grow`, which grows memory.
import { binary, get, i32, konst, load, store, unary } from "../ir/builder.js";
import type { Expr, IRFunction, IRGlobal, ValType } from "../ir/types.js";

const TP = "__ad_tp", LIMIT = "__ad_tlimit", GROW = "__ad_tape_grow";
export const TAPE_GLOBALS = { tp: TP, limit: LIMIT, grow: GROW };
/** The function every memory.grow of a kernel goes through (see src/runtime/prepare.ts). */
export const KERNEL_GROW = "__ad_kernel_grow";
const gget = (g: string): Expr => ({ kind: "global.get", type: "i32", global: g });
const gset = (g: string, value: Expr): Expr => ({ kind: "global.set", type: "none", global: g, value });
export const sizeOf = (t: ValType) => (t === "i32" || t === "f32" ? 4 : 8);
/** Memory bytes, minus slack, as an unsigned i32 (wraps correctly at 4 GiB). */
const limitExpr = (): Expr => binary("i32.sub", binary("i32.shl", { kind: "memory.size", type: "i32" }, i32(16)), i32(16));

export const TAPE = {
  globals(): IRGlobal[] {
    return [TP, LIMIT].map((name) => ({ name, type: "i32", mutable: true, init: { kind: "const", type: "i32", value: 0 } }));
  },
  /** Starts a tape at `base` (an i32 expression): run once per top-level derivative call. */
  start(base: Expr): Expr[] { return [gset(TP, base), gset(LIMIT, limitExpr())]; },
  /** Bytes used by the tape so far, for statistics. */
  top(): Expr { return gget(TP); },
  /** Moves the top (dropping what lies above `to`: snapshots a checkpoint driver has read). */
  setTop(to: Expr): Expr[] { return [gset(TP, to)]; },
  /** Ensures `bytes` more bytes fit. */
  check(bytes: number): Expr[] {
    if (bytes === 0) return [];
    return [{ kind: "if", type: "none", cond: binary("i32.gt_u", binary("i32.add", gget(TP), i32(bytes)), gget(LIMIT)),
      then: { kind: "call", type: "none", func: GROW, args: [i32(bytes)] }, else: null }];
  },
  /**
   * Ensures `runs` (an i64 expression) times `perRun` more bytes fit: one check before a loop
   * whose iterations are bounded (see trip-count.ts). More than the 4 GiB address space traps.
   */
  checkRuns(runs: Expr, perRun: number): Expr[] {
    if (perRun === 0) return [];
    const need = binary("i64.mul", runs, konst("i64", perRun));
    const top = binary("i64.add", unary("i64.extend_i32_u", gget(TP)), need);
    return [{ kind: "if", type: "none", cond: binary("i64.gt_u", top, unary("i64.extend_i32_u", gget(LIMIT))),
      then: { kind: "if", type: "none", cond: binary("i64.gt_u", top, konst("i64", 0xffff0000)), then: { kind: "unreachable", type: "unreachable" },
        else: { kind: "call", type: "none", func: GROW, args: [unary("i32.wrap_i64", need)] } }, else: null }];
  },
  push(value: Expr): Expr[] {
    const t = value.type as ValType;
    return [store(`${t}.store`, gget(TP), value, 0, 1), gset(TP, binary("i32.add", gget(TP), i32(sizeOf(t))))];
  },
  /** Pushes `len` bytes of memory from `addr` (a snapshot of a buffer). */
  pushBytes(addr: Expr, len: Expr): Expr[] {
    return [{ kind: "memory.copy", type: "none", dest: gget(TP), src: addr, size: len }, gset(TP, binary("i32.add", gget(TP), len))];
  },
  /** Pops `len` bytes back into memory at `addr`. */
  popBytes(addr: Expr, len: Expr): Expr[] {
    return [gset(TP, binary("i32.sub", gget(TP), len)), { kind: "memory.copy", type: "none", dest: addr, src: gget(TP), size: len }];
  },
  /** Pushes a small integer (a CFG edge id) as one byte. */
  pushByte(value: number): Expr[] {
    return [store("i32.store8", gget(TP), i32(value), 0, 1), gset(TP, binary("i32.add", gget(TP), i32(1)))];
  },
  popByte(into: number): Expr[] {
    return [gset(TP, binary("i32.sub", gget(TP), i32(1))),
      { kind: "local.set", type: "none", local: into, value: load("i32.load8_u", gget(TP), 0, 1), tee: false }];
  },
  /** Statements that pop a value of type t into local `into`. */
  pop(t: ValType, into: number): Expr[] {
    return [gset(TP, binary("i32.sub", gget(TP), i32(sizeOf(t)))),
      { kind: "local.set", type: "none", local: into, value: load(`${t}.load`, gget(TP), 0, 1), tee: false }];
  },
  /** Pops what `push(get(save))` pushed and makes it the top (drops a shadow block above it). */
  land(save: number): Expr[] {
    return [...TAPE.pop("i32", save), gset(TP, get(save, "i32"))];
  },
  growFunction(): IRFunction {
    // pages = ceil((tp + need - limit) / 64 KiB), at least the current size (doubling keeps growth rare)
    const need = get(0, "i32"), pages = get(1, "i32");
    const want = binary("i32.shr_u", binary("i32.add", binary("i32.sub", binary("i32.add", gget(TP), need), gget(LIMIT)), i32(65535 + 16)), i32(16));
    const size: Expr = { kind: "memory.size", type: "i32" };
    return {
      name: GROW, params: ["i32"], results: [], locals: ["i32", "i32"], localNames: ["need", "pages"],
      body: { kind: "block", type: "none", label: null, body: [
        { kind: "local.set", type: "none", local: 1, value: { kind: "select", type: "i32", cond: binary("i32.gt_u", want, size), ifTrue: want, ifFalse: size }, tee: false },
        // do not ask for more than the 4 GiB address space holds
        { kind: "if", type: "none", cond: binary("i32.gt_u", binary("i32.add", pages, size), i32(65536)),
          then: { kind: "local.set", type: "none", local: 1, value: binary("i32.sub", i32(65536), size), tee: false }, else: null },
        { kind: "if", type: "none", cond: binary("i32.eq", { kind: "memory.grow", type: "i32", delta: pages }, i32(-1)),
          then: { kind: "unreachable", type: "unreachable" }, else: null },
        { kind: "if", type: "none", cond: binary("i32.gt_u", binary("i32.add", gget(TP), need), limitExpr()),
          then: { kind: "unreachable", type: "unreachable" }, else: null },
        gset(LIMIT, limitExpr()),
      ] },
    };
  },
};
