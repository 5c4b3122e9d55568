// Keeps the tape pointer and limit in locals inside each generated function, instead of
// reading and writing the globals on every push and pop (V8 keeps Wasm globals in memory).
// The globals are synchronised around calls to module functions (which may use the tape)
// and before returns.
import type { CfgBody, Expr, IRFunction } from "../ir/types.js";
import { mapTreeShared } from "../ir/walk.js";
import { callsModule } from "./tape-checks.js";
import { TAPE_GLOBALS } from "./tape.js";

export function localizeTape(fn: IRFunction, isImport: (name: string) => boolean): IRFunction {
  const cfg = fn.body as CfgBody;
  const locals = [...fn.locals];
  const localNames = [...(fn.localNames ?? [])];
  const tp = locals.push("i32") - 1, lim = locals.push("i32") - 1;
  localNames[tp] = "tp"; localNames[lim] = "tlimit";
  const loc = (g: string) => (g === TAPE_GLOBALS.tp ? tp : g === TAPE_GLOBALS.limit ? lim : -1);
  // (statements without the tape globals come back as they are: the input is thrown away, and a
  // copy of every node of both sweeps was most of this pass's time)
  const rewrite = (e: Expr): Expr => mapTreeShared(e, (n) => {
    if (n.kind === "global.get" && loc(n.global) >= 0) return { kind: "local.get", type: "i32", local: loc(n.global) };
    if (n.kind === "global.set" && loc(n.global) >= 0) return { kind: "local.set", type: "none", local: loc(n.global), value: n.value, tee: false };
    return n;
  });
  const store: Expr[] = [{ kind: "global.set", type: "none", global: TAPE_GLOBALS.tp, value: { kind: "local.get", type: "i32", local: tp } }];
  const load: Expr[] = [
    { kind: "local.set", type: "none", local: tp, value: { kind: "global.get", type: "i32", global: TAPE_GLOBALS.tp }, tee: false },
    { kind: "local.set", type: "none", local: lim, value: { kind: "global.get", type: "i32", global: TAPE_GLOBALS.limit }, tee: false },
  ];
  // a statement that calls into the module sees the globals; everything else uses the locals
  const stmts = (body: Expr[]): Expr[] => body.flatMap((s) => {
    // the capacity check: compare on the locals, synchronise only on the (cold) growth path
    if (s.kind === "if" && !s.else && s.then.kind === "call" && s.then.func === TAPE_GLOBALS.grow)
      return [{ ...s, cond: rewrite(s.cond), then: { kind: "block", type: "none", label: null, body: [...store, s.then, ...load] } }];
    return callsModule(s, isImport) ? [...store, s, ...load] : [rewrite(s)];
  });
  const blocks = cfg.blocks.map((b) => {
    const body = stmts(b.body);
    const exit = b.exit;
    const edge = (ed: { target: number; code: Expr[] }) => ({ ...ed, code: stmts(ed.code) });
    if (exit.kind === "return") return { ...b, body: [...(b.id === cfg.entry ? load : []), ...body, ...store], exit: exit.value ? { ...exit, value: rewrite(exit.value) } : exit };
    const pre = b.id === cfg.entry ? load : [];
    if (exit.kind === "goto") return { ...b, body: [...pre, ...body], exit: { ...exit, edge: edge(exit.edge) } };
    if (exit.kind === "branch") return { ...b, body: [...pre, ...body], exit: { ...exit, cond: rewrite(exit.cond), then: edge(exit.then), else: edge(exit.else) } };
    if (exit.kind === "switch") return { ...b, body: [...pre, ...body], exit: { ...exit, index: rewrite(exit.index), targets: exit.targets.map(edge), default: edge(exit.default) } };
    return { ...b, body: [...pre, ...body, ...store] };
  });
  return { ...fn, locals, localNames, body: { ...cfg, blocks } };
}
