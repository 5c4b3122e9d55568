// Bulk memory on data that has shadows. `memcpy`, `memmove` and `memset` compiled into a C
// module (recognised by name in linker output, with their signature) become `memory.copy`
// and `memory.fill` before anything else, so the rules below serve them too:
//  - memory.fill: forward zeroes the destination's shadow; reverse zeroes it (the old values'
//    adjoints die there).
//  - memory.copy: forward copies the shadow along; reverse adds the destination's adjoints
//    into the source's and zeroes the destination's. Adding needs the element type, taken from
//    the function's float accesses to the same buffers (f64 or f32); a copy whose type is not
//    known there, or regions that overlap at run time, are refused rather than guessed.
import { STACK_POINTER } from "./stack-frames.js";
import { binary, get, i32, load, set, store, unary } from "../ir/builder.js";
import { rewriteStatements } from "../ir/normalize.js";
import type { Expr, IRFunction, IRModule, ValType } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { assignmentsOf, forEachNode } from "../ir/walk.js";
import type { PointerAnalysis, Provenance } from "../analysis/pointers.js";

const MEM = /^(memcpy|memmove|memset)$/;

/** fn with calls to libc's memcpy/memmove/memset (in a module a C/Rust linker produced) as bulk memory instructions. */
export function lowerMemFunctions(fn: IRFunction, mod: IRModule): IRFunction {
  if (!fn.body || !mod.globals.some((g) => g.name === STACK_POINTER)) return fn;
  const names = new Set(mod.functions.filter((f) => MEM.test(f.name) && f.params.length === 3 && f.params.every((t) => t === "i32") && f.results.length === 1 && f.results[0] === "i32").map((f) => f.name));
  if (names.size === 0) return fn;
  const locals = [...fn.locals], localNames = [...(fn.localNames ?? [])];
  let changed = false;
  const body = rewriteStatements(fn.body as Expr, (s, out) => {
    const call = s.kind === "local.set" && s.value.kind === "call" ? s.value : s.kind === "call" ? s : null;
    if (!call || !names.has(call.func)) { out.push(s); return; }
    changed = true;
    const temps = call.args.map((a) => { const t = locals.push("i32") - 1; localNames[t] = `${call.func}_arg${t}`; out.push(set(t, a)); return t; });
    const arg = (i: number) => get(temps[i], "i32");
    out.push(call.func === "memset"
      ? { kind: "memory.fill", type: "none", dest: arg(0), value: arg(1), size: arg(2) }
      : { kind: "memory.copy", type: "none", dest: arg(0), src: arg(1), size: arg(2) });
    if (s.kind === "local.set") out.push(set(s.local, arg(0)));
  });
  return changed ? { ...fn, locals, localNames, body } : fn;
}

/** The float type the function reads and writes in the buffers `addrs` point into, if exactly one. */
export function copiedElementType(fn: IRFunction, ptr: PointerAnalysis, addrs: Expr[]): ValType | null {
  // a block is reached through many pointer locals, each with a delta local of its own that
  // copies the block's: follow the copies back to the delta that identifies the block
  const assigned = assignmentsOf(fn.body as Expr, true);
  const root = (d: number, depth = 0): number => {
    const vs = assigned.get(d) ?? [];
    return depth < 256 && vs.length === 1 && vs[0].kind === "local.get" ? root(vs[0].local, depth + 1) : d;
  };
  const sameBuffer = (a: Provenance, b: Provenance) =>
    (a.kind === "arg" && b.kind === "arg" && a.param === b.param && a.view === b.view) || (a.kind === "alloc" && b.kind === "alloc" && root(a.delta) === root(b.delta));
  const bufs = addrs.map((a) => ptr.of(a));
  const types = new Set<ValType>();
  forEachNode(fn.body as Expr, (n) => {
    const t = n.kind === "load" ? n.type : n.kind === "store" ? n.value.type : null;
    if (!t || !isFloat(t)) return;
    const p = ptr.of((n as { addr: Expr }).addr);
    if (bufs.some((b) => sameBuffer(b, p))) types.add(t as ValType);
  });
  return types.size === 1 ? [...types][0] : null;
}

/** `__ad_copy_adjoint_<t>(dest shadow, src shadow, bytes)`: src' += dest', dest' = 0, element by element. */
export const copyAdjointName = (t: ValType) => `__ad_copy_adjoint_${t}`;

export function copyAdjointFunctions(): IRFunction[] {
  return (["f64", "f32"] as const).map((t) => {
    const size = t === "f64" ? 8 : 4;
    const d = get(0, "i32"), s = get(1, "i32"), n = get(2, "i32"), i = 3;
    const at = (base: Expr) => binary("i32.add", base, get(i, "i32"));
    // overlapping regions (memmove within one buffer) have no element-wise reversal here: trap rather than guess
    const overlap = binary("i32.and", binary("i32.lt_u", s, binary("i32.add", d, n)), binary("i32.lt_u", d, binary("i32.add", s, n)));
    return {
      name: copyAdjointName(t), inactive: true, params: ["i32", "i32", "i32"], results: [], locals: ["i32", "i32", "i32", "i32"], localNames: ["dest", "src", "bytes", "i"],
      body: { kind: "block", type: "none", label: null, body: [
        { kind: "if", type: "none", cond: binary("i32.eq", d, s), then: { kind: "return", type: "unreachable", value: null }, else: null },
        { kind: "if", type: "none", cond: binary("i32.or", overlap, binary("i32.and", n, i32(size - 1))), then: { kind: "unreachable", type: "unreachable" }, else: null },
        { kind: "block", type: "none", label: "done", body: [{ kind: "loop", type: "none", label: "next", body: { kind: "block", type: "none", label: null, body: [
          { kind: "br", type: "none", label: "done", cond: binary("i32.ge_u", get(i, "i32"), n), value: null },
          store(`${t}.store`, at(s), binary(`${t}.add`, load(`${t}.load`, at(s)), load(`${t}.load`, at(d)))),
          store(`${t}.store`, at(d), { kind: "const", type: t, value: 0 }),
          set(i, binary("i32.add", get(i, "i32"), i32(size))),
          { kind: "br", type: "unreachable", label: "next", cond: null, value: null },
        ] } }] },
      ] },
    } satisfies IRFunction;
  });
}

/** The global a derivative module's run-time stops set (to their site number) just before they trap. */
export const STOP_GLOBAL = "__ad_stop";
export const COPY_STOP = "__ad_copy_stop";

/**
 * `__ad_copy_stop(dest shadow, src shadow, bytes, site)`: the reversal of a copy whose float
 * type the function does not show. Adjoints are added back element by element, which needs the
 * type, so when such a copy actually moved bytes the call stops here (run time, not compile
 * time: Rust's `Vec` code at -O0 carries such a copy in `Global::grow_impl`, on a path that
 * does not run when the alignment stays the same; refusing the kernel for it would refuse
 * every `Vec` that may grow). The runtime names the site from the global.
 */
export function copyStopFunction(): IRFunction {
  const d = get(0, "i32"), s = get(1, "i32"), n = get(2, "i32");
  return {
    name: COPY_STOP, inactive: true, params: ["i32", "i32", "i32", "i32"], results: [], locals: ["i32", "i32", "i32", "i32"], localNames: ["dest", "src", "bytes", "site"],
    body: { kind: "block", type: "none", label: null, body: [
      { kind: "if", type: "none", cond: binary("i32.or", unary("i32.eqz", n), binary("i32.eq", d, s)), then: { kind: "return", type: "unreachable", value: null }, else: null },
      { kind: "global.set", type: "none", global: STOP_GLOBAL, value: get(3, "i32") },
      { kind: "unreachable", type: "unreachable" },
    ] },
  } satisfies IRFunction;
}
