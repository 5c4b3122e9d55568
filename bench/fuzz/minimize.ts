// A greedy minimizer run after fast-check's shrinking (whose array and oneof shrinking
// leaves statements and subexpressions that do not matter): tries structural reductions of
// the AST one at a time — delete a statement, unroll a loop into its body, drop an early
// exit, replace an if by one branch, replace an expression by one of its operands or by a
// leaf, simplify helpers, drop parameters — and keeps each one after which the program still
// fails with the same category, until nothing applies or the budget runs out.
import type { Expr, FuzzProgram, Stmt } from "./generator.js";

type Path = (string | number)[];

const clone = <T>(x: T): T => structuredClone(x);
function at(root: unknown, path: Path): unknown {
  let o = root as Record<string | number, unknown>;
  for (const k of path) o = o[k] as Record<string | number, unknown>;
  return o;
}
function setAt<T extends object>(root: T, path: Path, value: unknown): T {
  const r = clone(root);
  (at(r, path.slice(0, -1)) as Record<string | number, unknown>)[path[path.length - 1]] = value;
  return r;
}

const EXPR_CHILDREN = ["a", "b"] as const;
/** The operands of e (some node kinds use `b` for a buffer number). */
const children = (e: Expr): [string, Expr][] =>
  EXPR_CHILDREN.filter((k) => typeof (e as unknown as Record<string, unknown>)[k] === "object").map((k) => [k, (e as unknown as Record<string, Expr>)[k]]);

function exprPaths(e: Expr, path: Path, out: Path[]): void {
  out.push(path);
  for (const [k, c] of children(e)) exprPaths(c, [...path, k], out);
}

function stmtPaths(ss: Stmt[], path: Path, arrays: Path[], exprs: Path[]): void {
  arrays.push(path);
  ss.forEach((s, i) => {
    const p = [...path, i];
    if (s.k === "set" || s.k === "store" || s.k === "update" || s.k === "ret") exprPaths(s.e, [...p, "e"], exprs);
    if (s.k === "loop") {
      if (s.exit && s.exit.k !== "int") exprPaths(s.exit.v, [...p, "exit", "v"], exprs);
      stmtPaths(s.body, [...p, "body"], arrays, exprs);
    }
    if (s.k === "if") { stmtPaths(s.then, [...p, "then"], arrays, exprs); stmtPaths(s.else, [...p, "else"], arrays, exprs); }
    if (s.k === "switch") s.cases.forEach((c, j) => stmtPaths(c, [...p, "cases", j], arrays, exprs));
  });
}

/** Candidate reductions of p, roughly biggest first. */
function* reductions(p: FuzzProgram): Generator<FuzzProgram> {
  const arrays: Path[] = [], exprs: Path[] = [];
  stmtPaths(p.body, ["body"], arrays, exprs);
  if (p.result) exprPaths(p.result, ["result"], exprs);
  p.helpers.forEach((h, i) => exprPaths(h, ["helpers", i], exprs));
  p.mem.forEach((m, i) => { exprPaths(m.upd, ["mem", i, "upd"], exprs); exprPaths(m.ret, ["mem", i, "ret"], exprs); });
  for (const k of ["base", "step", "arg"] as const) exprPaths(p.rec[k], ["rec", k], exprs);

  // statements
  for (const ap of arrays) {
    const ss = at(p, ap) as Stmt[];
    for (let i = ss.length - 1; i >= 0; i--) yield setAt(p, ap, ss.filter((_, j) => j !== i));
  }
  for (const ap of arrays) {
    const ss = at(p, ap) as Stmt[];
    for (let i = 0; i < ss.length; i++) {
      const s = ss[i];
      const splice = (repl: Stmt[]) => setAt(p, ap, [...ss.slice(0, i), ...repl, ...ss.slice(i + 1)]);
      if (s.k === "loop") {
        yield splice(s.body);
        if (s.exit) yield splice([{ ...s, exit: null }]);
        if (s.trip === "n") yield splice([{ ...s, trip: p.n }]);
        else for (let t = 0; t < s.trip; t++) yield splice([{ ...s, trip: t }]);
        if (s.bottom) yield splice([{ ...s, bottom: false }]);
      }
      if (s.k === "if") { yield splice(s.then); yield splice(s.else); if (s.else.length) yield splice([{ ...s, else: [] }]); }
      if (s.k === "switch") {
        for (const c of s.cases) yield splice(c);
        for (let j = s.cases.length - 1; j >= 1; j--) yield splice([{ ...s, cases: s.cases.filter((_, m) => m !== j) }]);
        if (s.fall.some((f) => f)) yield splice([{ ...s, fall: [] }]);
      }
    }
  }
  // program level
  if (p.result) yield { ...clone(p), result: null };
  if (p.helpers.length > 1) yield { ...clone(p), helpers: p.helpers.slice(0, 1) };
  if (p.table.length > 1) yield { ...clone(p), table: p.table.slice(0, 1) };
  if (p.mem.length > 1) yield { ...clone(p), mem: p.mem.slice(0, 1) };
  for (let i = p.scalars.length - 1; i >= 1; i--) yield { ...clone(p), scalars: p.scalars.filter((_, j) => j !== i) };
  for (let i = p.bufTypes.length - 1; i >= 1; i--) yield { ...clone(p), bufTypes: p.bufTypes.filter((_, j) => j !== i) };
  if (p.locals > 1) yield { ...clone(p), locals: 1 };
  if (p.rotate !== 0) yield { ...clone(p), rotate: 0 };
  if (p.mode === "mixed") yield { ...clone(p), mode: "f64" };
  if (p.scalars.some((a) => !a)) yield { ...clone(p), scalars: p.scalars.map(() => true) };
  // expressions: an operand, or a leaf
  for (const ep of exprs) {
    const e = at(p, ep) as Expr;
    for (const [, c] of children(e)) yield setAt(p, ep, c);
    if (e.k !== "const" && e.k !== "param") {
      yield setAt(p, ep, { k: "param", i: 0 });
      yield setAt(p, ep, { k: "const", v: 0.5 });
    }
    if (e.k === "const" && e.v !== 0.5 && e.v !== 0) yield setAt(p, ep, { k: "const", v: 0.5 });
  }
}

export interface MinimizeResult { program: FuzzProgram; failure: string; checks: number }

/**
 * Greedily reduces `program` while `fails(candidate)` returns a failure whose category
 * (the text before the first ':') equals the original one.
 */
export async function minimize(program: FuzzProgram, failure: string, fails: (p: FuzzProgram) => Promise<string | null>,
  budget: { checks?: number; ms?: number } = {}): Promise<MinimizeResult> {
  const category = failure.split(":")[0];
  const maxChecks = budget.checks ?? 2000, deadline = performance.now() + (budget.ms ?? 120_000);
  let cur = program, curFailure = failure, checks = 0;
  let progress = true;
  while (progress) {
    progress = false;
    for (const cand of reductions(cur)) {
      if (checks >= maxChecks || performance.now() > deadline) return { program: cur, failure: curFailure, checks };
      checks++;
      const f = await fails(cand);
      if (f !== null && f.split(":")[0] === category) {
        cur = cand; curFailure = f; progress = true;
        break; // restart: paths of the reduced program differ
      }
    }
  }
  return { program: cur, failure: curFailure, checks };
}
