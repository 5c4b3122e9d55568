// The functions a module can run: those exported, the start function, those in table
// segments (call_indirect targets), and what they call, transitively. A derivative module
// shares the kernel module's functions, most of which (the primal kernel itself, helpers
// only it calls) no derivative function calls: lowering them to binaryen and running the
// passes over them was a fifth of a GMM's first call. Imports are kept (they cost nothing).
import type { CfgBody, Expr, IRModule } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";

export function withoutUnusedFunctions(mod: IRModule): IRModule {
  const byName = new Map(mod.functions.map((f) => [f.name, f]));
  const seen = new Set<string>();
  const stack: string[] = [
    ...mod.exports.filter((e) => e.kind === "function").map((e) => e.target),
    ...(mod.start ? [mod.start] : []),
    ...mod.tables.flatMap((t) => t.segments.flatMap((s) => s.funcs)),
  ];
  const visit = (e: Expr) => forEachNode(e, (n) => { if (n.kind === "call" && !seen.has(n.func)) stack.push(n.func); });
  while (stack.length) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const body = byName.get(name)?.body;
    if (!body) continue;
    if ((body as CfgBody).kind === "cfg") {
      for (const b of (body as CfgBody).blocks) {
        b.body.forEach(visit);
        const x = b.exit;
        const edges = x.kind === "goto" ? [x.edge] : x.kind === "branch" ? [x.then, x.else] : x.kind === "switch" ? [...x.targets, x.default] : [];
        for (const e of edges) e.code.forEach(visit);
        if (x.kind === "branch") visit(x.cond);
        if (x.kind === "switch") visit(x.index);
        if (x.kind === "return" && x.value) visit(x.value);
      }
    } else visit(body as Expr);
  }
  const functions = mod.functions.filter((f) => !f.body || seen.has(f.name));
  return functions.length === mod.functions.length ? mod : { ...mod, functions };
}
