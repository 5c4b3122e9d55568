// The call-site model shared by forward and reverse mode: what kind of callee a call
// reaches (a Math intrinsic with a rule, a function of the module, another import) and the
// activity signature a call site asks of a module function.
import type { ActivityAnalysis } from "../analysis/activity.js";
import type { PointerAnalysis } from "../analysis/pointers.js";
import type { ActivitySignature, ParamActivity } from "../analysis/signature.js";
import { UnsupportedError } from "../errors.js";
import type { Call, CallIndirect, CustomRule, Expr, IRFunction, IRModule, ValType } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { mathImportName } from "../ir/math-imports.js";
import { forEachNode } from "../ir/walk.js";
import { mathRules, nativeMathRules } from "./rules/math.js";
import { allocatorOf, DEALLOCATORS, reallocatorOf } from "../analysis/allocators.js";
import type { IntrinsicRule } from "./rules/rule.js";

export type Callee =
  | { kind: "intrinsic"; name: string; rule: IntrinsicRule }
  | { kind: "function"; fn: IRFunction }
  | { kind: "import"; fn: IRFunction }
  /** A function or import with user-given derivative rules (Program.rule). */
  | { kind: "rule"; fn: IRFunction; rules: CustomRule[] }
  /** The targets of a call_indirect: every function of the table with these types. */
  | { kind: "indirect"; params: ValType[]; results: ValType[] };

/** Names asc gives its Math (f64) and Mathf (f32) implementations in the name section. */
const NATIVE_MATH = /^~lib\/math\/NativeMathf?\.([a-z0-9]+)$/;

/**
 * C's libm (wasi-libc, Emscripten, Rust's libm) compiled into a module, by the names the
 * name section keeps: `sin`, `sinf`, `fabs`, … (the float signature is checked by the caller).
 * Such names are reserved for libm in C, so a function called `exp` is libm's exp.
 */
const LIBM_ALIASES: Record<string, string> = { fabs: "abs", fmin: "min", fmax: "max" };
/** AssemblyScript's spellings of libm names. */
const NATIVE_ALIASES: Record<string, string> = { mod: "fmod" };
/**
 * Only in a module a C/Rust linker produced (it defines __stack_pointer), and only for a body
 * of software math (it reads the bits of floats): a WAT function that happens to be called
 * `log` (say, logging) is not taken for libm's.
 */
function looksLikeLibm(mod: IRModule, fn: IRFunction): boolean {
  if (!mod.globals.some((g) => g.name === "__stack_pointer") || !fn.body) return false;
  let bits = false;
  forEachNode(fn.body as Expr, (n) => { if (n.kind === "unary" && /reinterpret/.test(n.op)) bits = true; });
  return bits;
}
/**
 * Rust's libm as std links it into wasm32 (`compiler_builtins::math::libm::sin::sin`, mangled
 * as `_ZN17compiler_builtins4math4libm3sin3sin17h…E`): the function's name, before the hash.
 */
function rustLibmName(name: string): string | undefined {
  const m = /^_ZN(.*)E$/.exec(name);
  if (!m) return undefined;
  const parts: string[] = [];
  for (let s = m[1]; s.length;) {
    const len = /^(\d+)/.exec(s);
    if (!len) return undefined;
    parts.push(s.slice(len[1].length, len[1].length + Number(len[1])));
    s = s.slice(len[1].length + Number(len[1]));
  }
  if (!parts.includes("libm") || parts.length < 2 || !/^h[0-9a-f]{16}$/.test(parts[parts.length - 1])) return undefined;
  return parts[parts.length - 2];
}

function libmName(name: string): string | undefined {
  name = rustLibmName(name) ?? name;
  const base = LIBM_ALIASES[name] ?? LIBM_ALIASES[name.slice(0, -1)] ?? (nativeMathRules[name] ? name : name.endsWith("f") && nativeMathRules[name.slice(0, -1)] ? name.slice(0, -1) : undefined);
  // JS-only names (sign) and Math's min/max/abs spellings are not libm's
  return base && !["sign", "min", "max", "abs"].includes(name) && !["sign", "min", "max", "abs"].includes(name.slice(0, -1)) ? base : undefined;
}

export function calleeOf(mod: IRModule, name: string): Callee {
  const fn = mod.functions.find((f) => f.name === name);
  if (!fn) throw new Error(`call to unknown function ${name}`);
  if (fn.rules?.length) return { kind: "rule", fn, rules: fn.rules };
  const floatSig = fn.params.every(isFloat) && fn.results.length === 1 && isFloat(fn.results[0]) && fn.params.every((p) => p === fn.results[0]);
  // AssemblyScript's software math, when the module keeps it as a function of its own:
  // the function computes the value, the rule gives the derivative (not its bit tricks)
  const asName = NATIVE_MATH.exec(fn.name)?.[1];
  const native = fn.import ? null : (asName ? NATIVE_ALIASES[asName] ?? asName : undefined) ?? (looksLikeLibm(mod, fn) ? libmName(fn.name) : undefined);
  if (native && nativeMathRules[native] && (nativeMathRules[native].params ? mixedSig(fn, nativeMathRules[native].params!) : floatSig) && nativeMathRules[native].arity === fn.params.length)
    return { kind: "intrinsic", name: native, rule: nativeMathRules[native] };
  if (!fn.import) return { kind: "function", fn };
  const math = mathImportName(fn.import);
  const rule = math ? mathRules[math] : undefined;
  if (math && rule && floatSig && rule.arity === fn.params.length) return { kind: "intrinsic", name: math, rule };
  return { kind: "import", fn };
}

/** A libm signature with integer parameters (frexp, ldexp): float parameters of the result's type, i32 ones where the rule says. */
function mixedSig(fn: IRFunction, params: ("float" | "i32")[]): boolean {
  const t = fn.results.length === 1 ? fn.results[0] : null;
  return !!t && isFloat(t) && fn.params.length === params.length && params.every((k, i) => fn.params[i] === (k === "float" ? t : "i32"));
}

/** Whether a call's result may carry a derivative, given which arguments do. */
export function callResultActive(mod: IRModule, call: Expr, argActive: (e: Expr) => boolean): boolean {
  if (call.kind === "call_indirect") return call.args.some(argActive);
  if (call.kind !== "call" || isInactive(mod, call.func)) return false;
  return call.args.some(argActive);
}

/**
 * WASI's functions (clock, random, fd_write, args, environ, …) move bytes and integers, never
 * derivatives: they are inactive by default, like functions the user marks inactive.
 */
const WASI_MODULES = new Set(["wasi_snapshot_preview1", "wasi_unstable"]);
const isInactive = (mod: IRModule, name: string) => {
  const fn = mod.functions.find((f) => f.name === name);
  return !!fn?.inactive || (!!fn?.import && WASI_MODULES.has(fn.import.module))
    || (!!fn && !fn.import && (DEALLOCATORS.test(fn.name) || reallocatorOf(fn) !== null || allocatorOf(fn) !== null || neverReturns(mod, fn)));
};

/**
 * Functions that never return (Rust's panics, abort): a call to one ends the derivative call
 * too, so nothing flows through it. Only bodies that plainly end in `unreachable` (or in a
 * call to such a function) with no return and no branch out of the body count.
 */
const diverging = new WeakMap<IRFunction, boolean>();
function neverReturns(mod: IRModule, fn: IRFunction, visiting = new Set<string>()): boolean {
  const got = diverging.get(fn);
  if (got !== undefined) return got;
  if (!fn.body || fn.import || visiting.has(fn.name) || fn.results.length > 0) return false;
  visiting.add(fn.name);
  const body = fn.body as Expr;
  let returns = false;
  const targets = new Set<string>();
  forEachNode(body, (n) => {
    if (n.kind === "return") returns = true;
    if (n.kind === "br") targets.add(n.label);
    if (n.kind === "br_table") { n.labels.forEach((l) => targets.add(l)); targets.add(n.default); }
  });
  const ends = (e: Expr): boolean => {
    if (e.kind === "unreachable") return true;
    if (e.kind === "call") { const c = mod.functions.find((f) => f.name === e.func); return !!c && neverReturns(mod, c, visiting); }
    if (e.kind === "block") return e.body.length > 0 && (e.label === null || !targets.has(e.label)) && ends(e.body[e.body.length - 1]);
    if (e.kind === "if") return !!e.else && ends(e.then) && ends(e.else);
    return false;
  };
  const r = !returns && ends(body);
  diverging.set(fn, r);
  return r;
}

/** Whether derivatives flow into a call: some argument carries one and the callee is not marked inactive. */
export function callCarries(mod: IRModule, call: Call | CallIndirect, act: ActivityAnalysis): boolean {
  if (call.kind === "call" && isInactive(mod, call.func)) return false;
  return call.args.some((a) => act.argCarriesDerivative(a));
}

/** The signature a call site asks of a module function (or of every target of an indirect call). */
export function calleeSignature(fn: { params: IRFunction["params"]; results: IRFunction["results"] }, call: Call | CallIndirect, act: ActivityAnalysis, ptr: PointerAnalysis): ActivitySignature {
  const params: ParamActivity[] = call.args.map((a, i) => {
    const t = fn.params[i];
    if (isFloat(t)) return act.isActive(a) ? "active" : "const";
    if (t === "i32") {
      const p = ptr.of(a);
      if (p.kind === "arg") return p.shadowed ? "dup" : "const-ptr";
      if (p.kind === "alloc") return "dup";
      // never let an untraced pointer become a plain integer in the callee: its accesses would lose their shadows
      if (p.kind === "unknown") return "unknown";
    }
    return "const";
  });
  const resultActive = fn.results.length === 1 && isFloat(fn.results[0]) && call.args.some((a) => act.argCarriesDerivative(a));
  return { params, resultActive };
}

/** Refuses calls that carry derivatives into code we cannot differentiate. */
export function checkCallSupported(mod: IRModule, caller: string, callee: Callee | null, call: Call | CallIndirect, act: ActivityAnalysis): void {
  const carries = callCarries(mod, call, act);
  if (!carries) return;
  if (call.kind === "call_indirect") {
    const table = mod.tables.find((t) => t.name === call.table);
    if (!table || table.import)
      throw new UnsupportedError(caller, "call_indirect with active arguments", "the table is imported, so its functions cannot be differentiated; define the table in the module");
    for (const seg of table.segments)
      for (const name of seg.funcs) {
        const f = mod.functions.find((x) => x.name === name);
        if (f?.import && sameTypes(f.params, call.params) && sameTypes(f.results, call.results))
          throw new UnsupportedError(caller, `call_indirect reaching import ${f.import.module}.${f.import.base}`, "an imported function in the table may receive active values; keep imports out of the table");
        if (f?.rules?.length && sameTypes(f.params, call.params) && sameTypes(f.results, call.results))
          throw new UnsupportedError(caller, `call_indirect reaching ${f.name}`, `${f.name} has a custom rule, which applies to direct calls only; call it directly`);
      }
    return;
  }
  if (callee?.kind === "import") {
    const imp = callee.fn.import!;
    throw new UnsupportedError(caller, `call ${imp.module}.${imp.base}`,
      `the import receives active values and has no derivative rule; use an import from "Math" with a known rule, or mark it inactive`);
  }
}

export const sameTypes = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((t, i) => t === b[i]);
