// User-given derivative rules (Program.rule): their calling conventions, the signatures
// they must have, and which rule serves a call site.
//
// Parameters are float scalars, pointers to float data, or integers. For the all-active
// rule (no `when`), every float and pointer parameter takes part:
// - forward(p0, t0, p1, t1, …): each parameter followed by its tangent (float: a value;
//   pointer: a shadow pointer; integer: nothing); returns (result, tangent) or, for a float
//   result, only the tangent (the primal result then comes from calling the function);
// - reverse(p0, s0, p1, …, adjoint?, tape?): each parameter followed by its shadow (pointers
//   only: where to accumulate), then the result's adjoint (float results), then the value
//   `augmented` returned; returns the adjoints of the float parameters, in order;
// - augmented(p0, p1, …) → i32: runs just before the call in the forward sweep (to keep
//   what the call overwrites) and its result reaches the reverse rule.
// A rule with `when: [...]` is written for that activity pattern only: parameters that are
// "const" there have no tangent or shadow, and the reverse rule returns adjoints of the
// "active" floats only. The exact pattern wins; otherwise the all-active rule is
// specialised to the call site (specialize-rule.ts): zero tangents, discarded shadows.
import type { ActivityAnalysis } from "../analysis/activity.js";
import type { PointerAnalysis } from "../analysis/pointers.js";
import { UnsupportedError } from "../errors.js";
import type { CustomRule, Expr, IRFunction, RuleActivity, RuleParamKind, ValType } from "../ir/types.js";
import { isFloat } from "../ir/types.js";

export interface FnSignature { params: ValType[]; results: ValType[] }

const takesPart = (rule: { when: RuleActivity[] | null; kinds: RuleParamKind[] }, i: number) =>
  rule.when ? rule.when[i] !== "const" : rule.kinds[i] !== "int";

/** The signatures a rule's functions must have (forward: both accepted result shapes). */
export function ruleSignatures(fn: FnSignature, rule: { when: RuleActivity[] | null; kinds: RuleParamKind[]; augmented?: unknown }) {
  const floatResult = fn.results.length === 1 && isFloat(fn.results[0]) ? fn.results[0] : null;
  const fwdParams: ValType[] = [], revParams: ValType[] = [], revResults: ValType[] = [];
  fn.params.forEach((t, i) => {
    fwdParams.push(t);
    revParams.push(t);
    if (!takesPart(rule, i)) return;
    if (rule.kinds[i] === "float") { fwdParams.push(t); revResults.push(t); }
    if (rule.kinds[i] === "ptr") { fwdParams.push("i32"); revParams.push("i32"); }
  });
  if (floatResult) revParams.push(floatResult);
  if (rule.augmented) revParams.push("i32");
  const fwdResults: ValType[][] = floatResult ? [[floatResult, floatResult], [floatResult]] : [[]];
  return {
    forward: fwdResults.map((results) => ({ params: fwdParams, results })),
    reverse: [{ params: revParams, results: revResults }],
    augmented: [{ params: [...fn.params], results: ["i32"] as ValType[] }],
  };
}

export const formatSignature = (s: FnSignature) =>
  `(param ${s.params.join(" ") || "—"}) (result ${s.results.join(" ") || "—"})`;

/** Why a `when` pattern does not fit the function's parameters, or null when it does. */
export function validateWhen(fnName: string, kinds: RuleParamKind[], when: RuleActivity[]): string | null {
  if (when.length !== kinds.length) return `when has ${when.length} entries; ${fnName} has ${kinds.length} parameters`;
  for (const [i, w] of when.entries()) {
    const ok = kinds[i] === "float" ? w === "active" || w === "const" : kinds[i] === "ptr" ? w === "dup" || w === "const" : w === "const";
    if (!ok) return `when[${i}] is ${JSON.stringify(w)}, but parameter ${i} is ${kinds[i] === "float" ? "a float (active or const)" : kinds[i] === "ptr" ? "a pointer (dup or const)" : "an integer (const)"}`;
  }
  return null;
}

/** The activity pattern of a call site of a function with rules. */
export function callPattern(caller: string, callee: IRFunction, kinds: RuleParamKind[], args: Expr[], act: ActivityAnalysis, ptr: PointerAnalysis): RuleActivity[] {
  return args.map((a, i) => {
    if (kinds[i] === "float") return act.isActive(a) ? "active" : "const";
    if (kinds[i] === "int") return "const";
    const p = ptr.of(a);
    if (p.kind === "arg") return p.shadowed ? "dup" : "const";
    if (p.kind === "alloc") return "dup";
    if (p.kind === "int") return "const";
    throw new UnsupportedError(caller, `call ${callee.name}`,
      `argument ${i} of the rule for ${callee.name} is a pointer whose buffer cannot be traced (${p.why}); pass a pointer derived from a kernel argument`);
  });
}

/** The rule serving a call site: the one written for its exact pattern, else the all-active one. */
export function pickRule(rules: CustomRule[], pattern: RuleActivity[], has: "forward" | "reverse"): CustomRule | null {
  const exact = rules.find((r) => r[has] && r.when && r.when.every((w, i) => w === pattern[i]));
  return exact ?? rules.find((r) => r[has] && !r.when) ?? null;
}

/** The rule serving a call site in the given mode, with the site's pattern; an error naming the caller when none does. */
export function ruleForCall(caller: string, c: { args: Expr[] }, fn: IRFunction, rules: CustomRule[], has: "forward" | "reverse",
  act: ActivityAnalysis, ptr: PointerAnalysis): { rule: CustomRule; pattern: RuleActivity[] } {
  const pattern = callPattern(caller, fn, rules[0].kinds, c.args, act, ptr);
  const rule = pickRule(rules, pattern, has);
  if (!rule) throw new UnsupportedError(caller, `call ${fn.name}`, `no rule of ${fn.name} has a ${has} function for this call site (activity ${pattern.join(", ")}); give one with \`${has}\``);
  return { rule, pattern };
}

export { takesPart };
