// Program.rule: registers a custom derivative rule for a function or import of a program.
// Resolves names, decides which parameters are pointers, checks each rule function's
// signature against the conventions (src/ad/custom-rules.ts) and turns JS rule functions
// into imports of the derivative modules ("__ad_rule").
import { formatSignature, ruleSignatures, validateWhen, type FnSignature } from "../ad/custom-rules.js";
import { PointerAnalysis } from "../analysis/pointers.js";
import { ArgumentError } from "../errors.js";
import { normalizeFunction } from "../ir/normalize.js";
import type { CustomRule, Expr, IRFunction, IRModule, RuleActivity, RuleParamKind } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { forEachNode } from "../ir/walk.js";

export const RULE_IMPORTS = "__ad_rule";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type JsRule = (...args: any[]) => unknown;

export interface RuleSpec {
  /** Forward rule: a function of the program (export or internal name) or a JS function. */
  forward?: string | JsRule;
  /** Reverse rule: a function of the program or a JS function. */
  reverse?: string | JsRule;
  /** Runs just before the call in reverse mode's forward sweep; returns an i32 the reverse rule receives last. */
  augmented?: string | JsRule;
  /** The activity pattern this rule is written for (per parameter: "active" | "dup" | "const"); omit for the all-active rule. */
  when?: RuleActivity[];
  /** Indexes of i32 parameters that point to float data (default: inferred from the body; none for imports). */
  pointers?: number[];
  /** Register the rule although nothing in the module calls the function (it then serves autodiff on the function itself). */
  standalone?: boolean;
}

/** The function `name` names: an export, a function of the module, or an import as "module.base". */
export function resolveFunction(ir: IRModule, name: string): IRFunction[] {
  const exp = ir.exports.find((x) => x.kind === "function" && x.name === name);
  return ir.functions.filter((f) => !f.name.startsWith("__ad_rule_") && (f.name === name || f.name === exp?.target || (f.import && `${f.import.module}.${f.import.base}` === name)));
}

/** i32 parameters of fn used (directly or through callees) as addresses of float loads and stores. */
export function inferPointerParams(ir: IRModule, fn: IRFunction, seen = new Set<string>()): Set<number> {
  const out = new Set<number>();
  if (!fn.body || seen.has(fn.name)) return out;
  seen.add(fn.name);
  const norm = normalizeFunction(fn);
  const ptr = new PointerAnalysis(norm, { params: norm.params.map((t) => (t === "i32" ? "const-ptr" : "const")), resultActive: false });
  const note = (addr: Expr) => { const p = ptr.of(addr); if (p.kind === "arg") out.add(p.param); };
  forEachNode(norm.body as Expr, (n) => {
    if ((n.kind === "load" && isFloat(n.type)) || (n.kind === "store" && isFloat(n.value.type))) note(n.addr);
    if (n.kind === "call") {
      const callee = ir.functions.find((f) => f.name === n.func);
      if (!callee) return;
      const inner = inferPointerParams(ir, callee, seen);
      n.args.forEach((a, i) => { if (inner.has(i)) note(a); });
    }
  });
  return out;
}

/**
 * `hostImports`: the program's imports, so that a JS forward rule for an import may return
 * the tangent alone (the import itself then gives the value).
 */
export function registerRule(ir: IRModule, jsRules: Record<string, JsRule>, name: string, spec: RuleSpec, hostImports: Record<string, Record<string, unknown>> = {}): void {
  const what = `rule(${JSON.stringify(name)})`;
  const targets = resolveFunction(ir, name);
  if (targets.length === 0) throw new ArgumentError(`${what}: no such function or import in the module`);
  const fn = targets[0];
  if (!spec || (spec.forward === undefined && spec.reverse === undefined))
    throw new ArgumentError(`${what}: give at least one of forward and reverse`);
  if (spec.augmented !== undefined && spec.reverse === undefined) throw new ArgumentError(`${what}: augmented is only used with a reverse rule`);
  if (fn.results.length > 1) throw new ArgumentError(`${what}: functions with several results cannot have rules`);

  let pointers: Set<number>;
  if (spec.pointers) {
    for (const i of spec.pointers)
      if (fn.params[i] !== "i32") throw new ArgumentError(`${what}: pointers[${i}] is not an i32 parameter of ${name} ${formatSignature(fn)}`);
    pointers = new Set(spec.pointers);
  } else pointers = fn.import ? new Set() : inferPointerParams(ir, fn);
  const kinds: RuleParamKind[] = fn.params.map((t, i) => (isFloat(t) ? "float" : pointers.has(i) ? "ptr" : "int"));
  const previous = fn.rules?.[0]?.kinds;
  if (previous && previous.some((k, i) => k !== kinds[i]))
    throw new ArgumentError(`${what}: the rules of ${name} disagree on which parameters are pointers (${previous.join(", ")} before, ${kinds.join(", ")} now); pass the same \`pointers\``);
  const when = spec.when ?? null;
  if (when) { const bad = validateWhen(name, kinds, when); if (bad) throw new ArgumentError(`${what}: ${bad}`); }

  // a rule serves calls: one the optimizer inlined everywhere has none left, and would be ignored
  if (!spec.standalone && !isCalled(ir, fn.name))
    throw new ArgumentError(`${what}: ${name} is never called in the module, so the rule would serve no call (only autodiff on ${name} itself: pass standalone: true for that). ` +
      "If the optimizer inlined it into its callers (asc -O3 inlines small functions even when exported), compile with { asc: { shrinkLevel: 1 } } or make it a larger function");

  const expected = ruleSignatures(fn, { kinds, when, augmented: spec.augmented });
  const rule: CustomRule = { kinds, when };
  const imports: { role: "forward" | "reverse" | "augmented"; sig: FnSignature; js: JsRule }[] = [];
  for (const role of ["forward", "reverse", "augmented"] as const) {
    const given = spec[role];
    if (given === undefined) continue;
    const options: FnSignature[] = expected[role];
    const shape = `parameters ${kinds.map((k, i) => `${i}: ${k}`).join(", ")}${when ? `, when [${when.join(", ")}]` : ""}`;
    if (typeof given === "function") { imports.push({ role, sig: options[0], js: role === "forward" ? forwardJs(what, fn, kinds, when, given, hostImports) : given }); continue; }
    if (typeof given !== "string") throw new ArgumentError(`${what}: ${role} must be a function name of the program or a JS function`);
    const [f] = resolveFunction(ir, given);
    if (!f) throw new ArgumentError(`${what}: ${role} names ${JSON.stringify(given)}, which is no function of the program`);
    if (!options.some((o) => sameSig(o, f)))
      throw new ArgumentError(`${what}: ${role} function ${given} has signature ${formatSignature(f)}; expected ${options.map(formatSignature).join(" or ")} (${shape})`);
    rule[role] = f.name;
  }
  // everything checked: JS rules become imports of the derivative modules (first accepted signature)
  for (const { role, sig, js } of imports) {
    const base = String(Object.keys(jsRules).length);
    const fname = `__ad_rule_${base}`;
    ir.functions.unshift({ name: fname, params: [...sig.params], results: [...sig.results], locals: [...sig.params], body: null, import: { module: RULE_IMPORTS, base } });
    jsRules[base] = js;
    rule[role] = fname;
  }
  for (const f of targets) f.rules = [...(f.rules ?? []), rule];
}

const isCalled = (ir: IRModule, name: string) =>
  ir.functions.some((f) => { let hit = false; if (f.body) forEachNode(f.body as Expr, (n) => { if (n.kind === "call" && n.func === name) hit = true; }); return hit; })
  || ir.tables.some((t) => t.segments.some((s) => s.funcs.includes(name)));

/**
 * A JS forward rule as the import calls it: (value, tangent) for a float result. A rule that
 * returns the tangent alone gets the value from the imported function itself.
 */
function forwardJs(what: string, fn: IRFunction, kinds: RuleParamKind[], when: RuleActivity[] | null, js: JsRule, hostImports: Record<string, Record<string, unknown>>): JsRule {
  const floatResult = fn.results.length === 1 && isFloat(fn.results[0]);
  if (!floatResult) return js;
  const host = fn.import ? hostImports[fn.import.module]?.[fn.import.base] : undefined;
  // positions of the primal arguments among the rule's
  const primalAt: number[] = [];
  let k = 0;
  kinds.forEach((kind, i) => { primalAt.push(k++); if (kind !== "int" && (when ? when[i] !== "const" : true)) k++; });
  return (...args: unknown[]) => {
    const r = js(...args);
    if (typeof r !== "number") return r;
    if (typeof host !== "function")
      throw new ArgumentError(`${what}: the JS forward rule returned one number; return [value, tangent] (the value cannot come from ${fn.name}, which is no JS function)`);
    return [host(...primalAt.map((j) => args[j])), r];
  };
}

const sameSig = (a: FnSignature, b: FnSignature) =>
  a.params.length === b.params.length && a.results.length === b.results.length && a.params.every((t, i) => t === b.params[i]) && a.results.every((t, i) => t === b.results[i]);
