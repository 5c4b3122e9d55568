// Forward mode: tangents inline with the primal. Each active assignment gets a tangent
// assignment computed from the rule partials; active loads and stores have shadow twins;
// calls go to the callees' forward versions. Control flow is unchanged.
import { binary, get, konst, set, stmtBlock, zero } from "../ir/builder.js";
import type { Call, CallIndirect, CustomRule, Expr, IRFunction, Store, ValType } from "../ir/types.js";
import { isFloat, typeOfCallResults } from "../ir/types.js";
import { UnsupportedError } from "../errors.js";
import { type Callee, callCarries, calleeOf, calleeSignature, checkCallSupported } from "./calls.js";
import { DiffContext, fillPartial, partialUses, scale } from "./context.js";
import { ruleForCall, takesPart } from "./custom-rules.js";
import type { Differentiator } from "./differentiator.js";
import { hasShadow } from "../analysis/pointers.js";
import { DELTA_OF, POINTER_DELTA } from "../analysis/allocators.js";
import { copyWithConstEnds, ifElse } from "./memory-pointers.js";
import { nodeRule } from "./rules/index.js";

interface Dual { val: Expr; tan: Expr | null }

export function generateForward(d: Differentiator, name: string, fnName: string, ctx: DiffContext): IRFunction {
  const src = ctx.src;
  const extraIndex = new Map<number, number>();
  let k = src.params.length;
  ctx.sig.params.forEach((p, i) => { if (p === "active" || p === "dup") extraIndex.set(i, k++); });
  ctx.sig.params.forEach((p, i) => { if (p === "active") ctx.setDeriv(i, extraIndex.get(i)!); });
  const resultType = src.results[0];

  const isLeaf = (e: Expr) => e.kind === "const" || e.kind === "local.get";
  const temp = (v: Expr, out: Expr[], hint = "v"): Expr => {
    if (isLeaf(v)) return v;
    const t = ctx.add(v.type as ValType, hint);
    out.push(set(t, v));
    return get(t, v.type as ValType);
  };

  /** The value (new numbering) and tangent of an original pure tree; temporaries go to out. */
  const dual = (e: Expr, out: Expr[]): Dual => {
    switch (e.kind) {
      case "const": return { val: e, tan: null };
      case "local.get": return { val: ctx.remap(e), tan: ctx.act.activeLocals[e.local] ? get(ctx.derivOf(e.local), e.type) : null };
      case "global.get": return { val: e, tan: null };
      case "load": {
        if (!isFloat(e.type)) return { val: ctx.remap(e), tan: null };
        const addr = temp(ctx.remap(e.addr), out, "a");
        const sh = ctx.shadowAddress(e.addr, addr, () => `${e.op} ${ctx.describe(e)}`, undefined, "read", e.offset);
        return { val: { ...e, addr }, tan: sh ? { ...e, addr: sh } : null };
      }
      case "unary": case "binary": case "select": {
        const kids = e.kind === "unary" ? [e.value] : e.kind === "binary" ? [e.left, e.right] : [e.ifTrue, e.ifFalse, e.cond];
        const duals = kids.map((c) => dual(c, out));
        const rebuilt: Expr = e.kind === "unary" ? { ...e, value: duals[0].val } : e.kind === "binary" ? { ...e, left: duals[0].val, right: duals[1].val } : { ...e, ifTrue: duals[0].val, ifFalse: duals[1].val, cond: duals[2].val };
        if (duals.every((x) => !x.tan)) return { val: rebuilt, tan: null };
        const rule = nodeRule(e, d.mathCall(e.type as ValType));
        if (!rule) throw new UnsupportedError(src.name, ctx.describe(e), "this instruction has no derivative rule");
        if (rule.kind === "constant") return { val: rebuilt, tan: null };
        if (rule.kind === "convert") return { val: rebuilt, tan: { kind: "unary", type: e.type as ValType, op: rule.rule.forward, value: duals[0].tan! } };
        const uses = rule.partials.map(partialUses);
        const vals = duals.map((x, i) => (uses.some((u) => u.operands.has(i)) ? temp(x.val, out) : x.val));
        const node: Expr = e.kind === "unary" ? { ...e, value: vals[0] } : e.kind === "binary" ? { ...e, left: vals[0], right: vals[1] } : { ...e, ifTrue: vals[0], ifFalse: vals[1], cond: vals[2] };
        const z = uses.some((u) => u.result) ? temp(node, out) : node;
        let tan: Expr | null = null;
        rule.partials.forEach((p, i) => {
          const ti = duals[i].tan;
          if (!ti) return;
          const term = scale(fillPartial(p, vals, () => z), ti, e.type as ValType);
          if (term) tan = tan ? binary(`${e.type}.add`, tan, term) : term;
        });
        return { val: z, tan };
      }
      default:
        throw new Error(`not a pure expression: ${e.kind}`);
    }
  };

  const orZero = (t: Expr | null, type: ValType) => t ?? zero(type);

  const callStmt = (targets: number[], c: Call | CallIndirect, out: Expr[]) => {
    const callee: Callee = c.kind === "call" ? calleeOf(d.module, c.func) : { kind: "indirect", params: c.params, results: c.results };
    checkCallSupported(d.module, src.name, callee.kind === "indirect" ? null : callee, c, ctx.act);
    const anyActive = callCarries(d.module, c, ctx.act);
    const emitPlain = () => out.push(targets.length === 0 ? ctx.remap(c) : targets.length === 1 ? set(ctx.map(targets[0]), ctx.remap(c)) : ctx.remap({ kind: "tuple.set", type: "none", locals: targets, value: c }));
    if (!anyActive || callee.kind === "import") return emitPlain();
    const duals = c.args.map((a) => dual(a, out));
    if (callee.kind === "intrinsic") {
      const t = c.type as ValType;
      const vals = duals.map((x) => temp(x.val, out));
      const zt = temp({ ...(c as Call), args: vals }, out, "z");
      const partials = callee.rule.partials(vals, zt, t, d.mathCall(t));
      let tan: Expr | null = null;
      partials.forEach((p, i) => {
        const term = duals[i].tan ? scale(p, duals[i].tan!, t) : null;
        if (term) tan = tan ? binary(`${t}.add`, tan, term) : term;
      });
      const tt = temp(orZero(tan, t), out, "dz");
      if (targets.length === 1) {
        out.push(set(ctx.map(targets[0]), zt));
        if (ctx.act.activeLocals[targets[0]]) out.push(set(ctx.derivOf(targets[0]), tt));
      }
      return;
    }
    if (callee.kind === "rule") return ruleCall(targets, c as Call, callee.fn, callee.rules, duals, out);
    const types = callee.kind === "function" ? callee.fn : callee;
    const sig = calleeSignature(types, c, ctx.act, ctx.ptr);
    if (callee.kind === "function") d.noteCall(src.name, callee.fn.name, c.args, ctx.ptr);
    const what = c.kind === "call" ? `call ${c.func}` : "call_indirect";
    const extra: Expr[] = [];
    const extraTypes: ValType[] = [];
    sig.params.forEach((p, i) => {
      if (p === "active") { extra.push(orZero(duals[i].tan, types.params[i])); extraTypes.push(types.params[i]); }
      else if (p === "dup") { extra.push(ctx.shadowAddress(c.args[i], duals[i].val, () => what)!); extraTypes.push("i32"); }
    });
    const args = [...duals.map((x) => x.val), ...extra];
    const results = sig.resultActive ? [...types.results, types.results[0]] : types.results;
    const call: Call | CallIndirect = c.kind === "call"
      ? { ...c, func: d.forward((callee as { fn: IRFunction }).fn.name, sig), args, type: typeOfCallResults(results) }
      : { ...c, table: d.derivedTable(c, "fwd", sig), target: ctx.remap(c.target), params: [...c.params, ...extraTypes], results, args, type: typeOfCallResults(results) };
    if (sig.resultActive) {
      if (targets.length !== 1) throw new UnsupportedError(src.name, what, "multi-value results on the active path are not supported");
      out.push({ kind: "tuple.set", type: "none", locals: [ctx.map(targets[0]), ctx.derivOf(targets[0])], value: call });
    } else if (targets.length === 1) out.push(set(ctx.map(targets[0]), call));
    else if (targets.length === 0) out.push(call);
    else throw new UnsupportedError(src.name, what, "multi-value results on the active path are not supported");
  };

  /** A call of a function with custom rules: the forward rule (specialised to this call site) replaces it. */
  const ruleCall = (targets: number[], c: Call, fn: IRFunction, rules: CustomRule[], duals: Dual[], out: Expr[]) => {
    const { rule, pattern } = ruleForCall(src.name, c, fn, rules, "forward", ctx.act, ctx.ptr);
    const kinds = rule.kinds;
    const args: Expr[] = [];
    const zeros = new Set<number>(), discard = new Set<number>();
    c.args.forEach((a, i) => {
      args.push(duals[i].val);
      if (!takesPart(rule, i)) return;
      const t = fn.params[i];
      if (kinds[i] === "float") {
        if (pattern[i] !== "active") zeros.add(args.length);
        args.push(pattern[i] === "active" ? orZero(duals[i].tan, t) : zero(t));
      } else if (kinds[i] === "ptr") {
        if (pattern[i] !== "dup") discard.add(args.length);
        args.push(pattern[i] === "dup" ? ctx.shadowAddress(a, duals[i].val, () => `call ${fn.name}`)! : konst("i32", 0));
      }
    });
    const ruleFn = d.module.functions.find((f) => f.name === rule.forward)!;
    const call: Call = { kind: "call", type: typeOfCallResults(ruleFn.results), func: d.ruleTarget(rule.forward!, zeros, discard, src.name, fn.name), args };
    const target = targets.length === 1 ? targets[0] : -1;
    const tangentInto = (t: ValType) => (target >= 0 && ctx.act.activeLocals[target] ? ctx.derivOf(target) : ctx.add(t, "dr"));
    if (ruleFn.results.length === 2) {
      const t = ruleFn.results[0];
      out.push({ kind: "tuple.set", type: "none", locals: [target >= 0 ? ctx.map(target) : ctx.add(t, "r"), tangentInto(t)], value: call });
    } else if (ruleFn.results.length === 1) {
      // the rule gives the tangent only: the function itself gives the result, after the rule read its inputs
      out.push(set(tangentInto(ruleFn.results[0]), call));
      const plain = { ...c, args: duals.map((x) => x.val) };
      out.push(target >= 0 ? set(ctx.map(target), plain) : { kind: "drop", type: "none", value: plain });
    } else out.push(call);
  };

  const storeStmt = (s: Store, out: Expr[]) => {
    if (s.op === "i32.store" && hasShadow(ctx.ptr.of(s.addr))) return void out.push(...ctx.storeWithShadowWord(s));
    if (!isFloat(s.value.type) && hasShadow(ctx.ptr.of(s.addr))) {
      // other integer stores: the bytes carry no derivative any more
      const addr = temp(ctx.remap(s.addr), out, "a");
      out.push({ ...s, addr, value: ctx.remap(s.value) }, ctx.zeroShadowOf(s, addr));
      return;
    }
    const isF = isFloat(s.value.type);
    const active = isF && ctx.act.isActive(s.value);
    const p = ctx.ptr.of(s.addr);
    const shadowed = hasShadow(p);
    if (!isF || (!shadowed && !active && !(p.kind === "unknown" && d.hasShadows(ctx.sig)))) return out.push(ctx.remap(s));
    if (!shadowed && p.kind !== "unknown") ctx.activityError(`${s.op} ${ctx.describe(s)}`, s.addr);
    const addr = temp(ctx.remap(s.addr), out, "a");
    // an active value written through a Const pointer kept in memory stops the call; a zero tangent goes to the sink
    const sh = ctx.shadowAddress(s.addr, addr, () => `${s.op} ${ctx.describe(s)}`, undefined, active ? "pass" : "zero", s.offset)!;
    const v = dual(s.value, out);
    const tan = temp(orZero(v.tan, s.value.type as ValType), out, "dv");
    out.push({ ...s, addr, value: v.val }, { ...s, addr: sh, value: tan });
  };

  const stmt = (s: Expr, out: Expr[]): void => {
    switch (s.kind) {
      case "block": { const body: Expr[] = []; s.body.forEach((x) => stmt(x, body)); out.push({ ...s, body }); return; }
      case "loop": { const body: Expr[] = []; stmt(s.body, body); out.push({ ...s, body: { kind: "block", type: "none", label: null, body } }); return; }
      case "if": {
        const arm = (x: Expr | null) => { if (!x) return null; const b: Expr[] = []; stmt(x, b); return { kind: "block", type: "none", label: null, body: b } as Expr; };
        out.push({ ...s, cond: ctx.remap(s.cond), then: arm(s.then)!, else: arm(s.else) });
        return;
      }
      case "local.set": {
        if (s.value.kind === "call" && s.value.func === POINTER_DELTA) return void out.push(...ctx.pointerDelta(s));
        if (s.value.kind === "call" && s.value.func === DELTA_OF) return void out.push(set(ctx.map(s.local), ctx.pointerDeltaOf(s.value.args[0])));
        if (s.value.kind === "call" || s.value.kind === "call_indirect") return void callStmt([s.local], s.value, out);
        if (!ctx.act.activeLocals[s.local]) return void out.push(ctx.remap(s));
        const v = dual(s.value, out);
        if (v.tan) {
          const tt = temp(v.tan, out, "dt");
          out.push(set(ctx.map(s.local), v.val), set(ctx.derivOf(s.local), tt));
        } else out.push(set(ctx.map(s.local), v.val), set(ctx.derivOf(s.local), zero(s.value.type as ValType)));
        return;
      }
      case "tuple.set":
        return void callStmt(s.locals, s.value, out);
      case "call": return void callStmt([], s, out);
      case "call_indirect": return void callStmt([], s, out);
      case "store": return void storeStmt(s, out);
      case "global.set":
        if (ctx.act.isActive(s.value)) throw new UnsupportedError(src.name, `global.set ${s.global}`, "storing an active value in a global is not supported; keep it in a Duplicated buffer");
        return void out.push(ctx.remap(s));
      case "return": {
        // a returned i32 may be a pointer its caller follows (a returned reference): its delta goes back beside it
        if (s.value?.type === "i32" && src.results.length === 1) out.push(ctx.returnDelta(s.value));
        if (!ctx.sig.resultActive || !s.value) return void out.push(ctx.remap(s));
        const v = dual(s.value, out);
        out.push({ kind: "return", type: "unreachable", value: { kind: "tuple.make", type: "tuple", values: [v.val, orZero(v.tan, resultType)] } });
        return;
      }
      case "memory.copy": case "memory.fill": return memoryOp(s, out);
      default: out.push(ctx.remap(s));
    }
  };

  const memoryOp = (s: Expr & { kind: "memory.copy" | "memory.fill" }, out: Expr[]) => {
    const dest = ctx.ptr.of(s.dest);
    const destShadowed = hasShadow(dest);
    // a destination or source reached through a pointer kept in memory may be a Const buffer (no shadow)
    const destConst = destShadowed ? ctx.constPointer(s.dest) : null;
    if (s.kind === "memory.fill") {
      out.push(ctx.remap(s));
      if (!destShadowed) return;
      const fill: Expr = { ...s, dest: ctx.shadowAddress(s.dest, ctx.remap(s.dest), () => "memory.fill")!, value: konst("i32", 0), size: ctx.remap(s.size) };
      out.push(destConst ? ifElse(destConst, [], [fill]) : fill);
      return;
    }
    const src = ctx.ptr.of(s.src);
    const srcShadowed = hasShadow(src);
    if (srcShadowed && !destShadowed) ctx.activityError("memory.copy", s.dest);
    out.push(ctx.remap(s));
    if (!destShadowed) return;
    const srcConst = srcShadowed ? ctx.constPointer(s.src) : null;
    const dsh = ctx.shadowAddress(s.dest, ctx.remap(s.dest), () => "memory.copy")!;
    const zero: Expr = { kind: "memory.fill", type: "none", dest: dsh, value: konst("i32", 0), size: ctx.remap(s.size) };
    const copy: Expr | null = srcShadowed ? { ...s, dest: dsh, src: ctx.shadowAddress(s.src, ctx.remap(s.src), () => "memory.copy")!, size: ctx.remap(s.size) } : null;
    out.push(...copyWithConstEnds(destConst, srcConst, zero, copy));
  };

  const body: Expr[] = [];
  stmt(src.body as Expr, body);
  const entry = ctx.deltaInit((p) => extraIndex.get(p)!);
  return {
    name, params: ctx.locals.slice(0, src.params.length + ctx.nExtra), results: ctx.sig.resultActive ? [resultType, resultType] : src.results,
    locals: ctx.locals, localNames: ctx.localNames, body: stmtBlock([...entry, ...body]),
  };
}
