// Random kernels for the differentiation fuzzer: a small AST (not strings), a fast-check
// arbitrary producing it, and toWat(program), which prints it as a WAT module exporting
// "k". Shared by test/fuzz/fuzz.test.ts (bounded, in `npm test`) and bench/fuzz.ts (a
// campaign CLI).
//
// What the programs contain: f64 or f32 arithmetic (f32 kernels promote their result to
// f64), 1–3 Duplicated buffers of f64 or f32 (loaded/stored with promote/demote when the
// buffer's type differs from the kernel's), indexed with constant offsets (offset= immediates
// or address arithmetic), with loop counters ((i + c) & mask, plus an immediate offset) and
// with integer data from a Const Int32Array ($ix); in-place updates (an element overwritten
// with a function of itself); a few locals assigned many times (local.set, local.tee, and
// scratch locals $sq/$q reused by every square and squash); nested counted loops (trip 0–4
// from a constant or from the i32 parameter $n, tested at the top or at the bottom) with
// optional data-dependent early exits; if/else, br_table (with fall-through), select and
// if-expressions on integer conditions (loop counters, $n, $ix data, a mutable global $g
// counting loop iterations); early returns; direct calls to pure helpers (which may call
// each other), a recursive helper, helpers updating a buffer element through a pointer
// argument, call_indirect through a small table indexed by a loop counter; constants from
// a data segment; Const scalar arguments besides Active/Duplicated ones; Math intrinsics
// (sin, cos, tanh, exp∘tanh, log, sqrt, pow, atan2, hypot) on their smooth domains.
//
// Never NaN, Inf or a trap on inputs in [-1, 1], and never a kink or a branch that finite
// differences could cross, by construction in toWat:
//  - every operation is smooth everywhere it is used: log(1 + a²), sqrt(1 + a²),
//    pow(1 + a², y) with a constant y, a / (1 + b²), atan2 and hypot with one argument
//    1 + b² (so never at the origin), exp only as exp(tanh a);
//  - toWat tracks a bound on |value| of every node. Locals, buffer elements, helper
//    arguments and results hold values bounded by STORE_BOUND (4); a value that could be
//    larger is squashed first, with s·tanh(v / s) or v / (1 + (v / 2s)²). Inside an
//    expression a node whose bound exceeds NODE_BOUND (16) is squashed the same way. So
//    nothing overflows, whatever the nesting or the trip counts;
//  - data-dependent branches compare a value bounded by 4 against thresholds ≥ 1 away
//    ("far": v > ±6, v < ±6; "at": v + 10i > 10j − 5, which is false for i < j and true
//    for i ≥ j, so the loop leaves at iteration j without the compiler being able to know);
//    all other conditions are integers.
// Indices that the AST holds as plain numbers (locals, buffers, helpers, counters) are
// taken modulo what exists when printed, so every value the shrinker or the minimizer
// produces prints to a valid module. toWat prints only the functions, imports and table
// the kernel reaches.
import fc from "fast-check";

export type Prec = "f64" | "f32";
/** "f64": f64 kernel, f64 buffers; "mixed": f64 kernel, f32 and f64 buffers; "f32": f32 kernel, both buffer types. */
export type PrecMode = "f64" | "mixed" | "f32";

export type MathFn = "sin" | "cos" | "tanh" | "exptanh" | "log1sq" | "sqrt1sq" | "msqrt1sq";

/** An element index into a 4-element buffer. */
export type Index =
  | { k: "c"; i: number; imm: boolean } // constant element: offset= immediate, or address arithmetic
  | { k: "ctr"; d: number; add: number; mask: 1 | 3; off: number } // ((i_d + add) & mask) + off
  | { k: "data"; j: number; add: number }; // (ix[j] + add) & 3: integer index data from the Const i32 buffer $ix

/** Integer conditions (never depend on float data). */
export type Cond =
  | { k: "parity"; d: number; odd: boolean } // i_d & 1
  | { k: "ltc"; d: number; c: number } // i_d < c
  | { k: "ngt"; c: number } // $n > c
  | { k: "data"; j: number; c: number } // ix[j] > c
  | { k: "glob"; odd: boolean }; // parity of the mutable global $g, counting loop iterations since the kernel's entry

export type Expr =
  | { k: "param"; i: number } // scalar parameter (in helpers: the helper's own parameters)
  | { k: "local"; i: number }
  | { k: "tee"; l: number; a: Expr } // local.tee: assigns a local in the middle of an expression
  | { k: "const"; v: number } // a multiple of 1/16 in [-2, 2]
  | { k: "ctr"; d: number } // convert_i32_s of a loop counter: an inactive float
  | { k: "cdata"; i: number; imm: boolean } // a constant from the module's data segment (address 0)
  | { k: "gval" } // convert_i32_s($g & 3): a float computed from the mutable global (an inactive value)
  | { k: "load"; b: number; ix: Index }
  | { k: "old" } // inside an update: the element being overwritten
  | { k: "neg"; a: Expr }
  | { k: "bin"; op: "add" | "sub" | "mul"; a: Expr; b: Expr }
  | { k: "div"; a: Expr; b: Expr } // a / (1 + b²)
  | { k: "math"; f: MathFn; a: Expr }
  | { k: "pow"; a: Expr; y: number } // pow(1 + a², y)
  | { k: "atan2"; a: Expr; b: Expr; swap: boolean } // atan2(a, 1 + b²) or atan2(1 + b², a)
  | { k: "hypot"; a: Expr; b: Expr } // hypot(a, 1 + b²)
  | { k: "select"; c: Cond; a: Expr; b: Expr }
  | { k: "ifx"; c: Cond; a: Expr; b: Expr } // if (result T)
  | { k: "call"; f: number; a: Expr; b: Expr } // direct call of helper f
  | { k: "icall"; d: number; a: Expr; b: Expr } // call_indirect, index i_d mod table size
  | { k: "rcall"; n: number; a: Expr } // the recursive helper, recursion depth n (0–3)
  | { k: "mcall"; f: number; b: number; ix: Index; a: Expr }; // memory helper f on &buffer_b[ix]

export type Exit =
  | { k: "far"; at: number; v: Expr; gt: boolean; t: 6 | -6 } // br_if (v > t) / (v < t): constant outcome
  | { k: "at"; at: number; v: Expr; j: number } // br_if (v + 10i > 10j − 5): leaves at iteration j
  | { k: "int"; at: number; c: Cond }; // br_if on an integer condition

export type Stmt =
  | { k: "set"; l: number; e: Expr }
  | { k: "store"; b: number; ix: Index; e: Expr }
  | { k: "update"; b: number; ix: Index; e: Expr } // e reads the old element through { k: "old" }
  | { k: "loop"; trip: number | "n"; bottom: boolean; body: Stmt[]; exit: Exit | null }
  | { k: "if"; c: Cond; then: Stmt[]; else: Stmt[] }
  | { k: "ret"; c: Cond; e: Expr } // if (c) return e
  | { k: "switch"; sel: Selector; cases: Stmt[][]; fall: boolean[] }; // br_table; fall[i]: case i falls through into case i + 1

/** The br_table index (taken modulo the number of cases + 1; the last index is the default, the last case). */
export type Selector = { k: "ctr"; d: number } | { k: "n" } | { k: "data"; j: number };

/** A memory helper (p: i32, x: T) -> T: o = *p; *p = upd(x, o); return ret(x, o, *p). */
export interface MemHelper { upd: Expr; ret: Expr }
/** The recursive helper r(a, n) = n == 0 ? base(a) : step(a, r(a', n − 1)) with a' = arg(a). */
export interface RecHelper { base: Expr; step: Expr; arg: Expr }

export interface FuzzProgram {
  mode: PrecMode;
  scalars: boolean[]; // one per scalar parameter: true = Active/Duplicated, false = Const
  bufTypes: Prec[]; // one per buffer (the type is f64 regardless in mode "f64")
  n: number; // the value passed as the i32 parameter $n (0–4)
  idata: number[]; // the contents of the Const i32 buffer $ix (4 elements, 0–7)
  cdata: number[]; // constants in a data segment at address 0 (4 elements of the kernel's float type, multiples of 1/16 in [-2, 2])
  rotate: number; // parameter order: [scalars, buffers, n] rotated by this much
  locals: number; // 1–3 float locals
  helpers: Expr[]; // pure helpers (a: T, b: T) -> T; param 0 = a, param 1 = b
  table: number[]; // helper indices in the call_indirect table
  mem: MemHelper[];
  rec: RecHelper;
  body: Stmt[];
  result: Expr | null; // null: the kernel returns nothing
}

// ------------------------------------------------------------------ the arbitrary

const MAX_LOOP_DEPTH = 3;
const constArb = fc.integer({ min: -32, max: 32 }).map((k) => ({ k: "const" as const, v: k / 16 }));
const condArb: fc.Arbitrary<Cond> = fc.oneof({ withCrossShrink: true },
  fc.record({ k: fc.constant("parity" as const), d: fc.nat(2), odd: fc.boolean() }),
  fc.record({ k: fc.constant("ltc" as const), d: fc.nat(2), c: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ k: fc.constant("ngt" as const), c: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ k: fc.constant("data" as const), j: fc.nat(3), c: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ k: fc.constant("glob" as const), odd: fc.boolean() }),
);
const indexArb: fc.Arbitrary<Index> = fc.oneof(
  fc.record({ k: fc.constant("c" as const), i: fc.nat(3), imm: fc.boolean() }),
  fc.record({ k: fc.constant("ctr" as const), d: fc.nat(2), add: fc.nat(3), mask: fc.constantFrom<1 | 3>(3, 1), off: fc.nat(2) }),
  fc.record({ k: fc.constant("data" as const), j: fc.nat(3), add: fc.nat(3) }),
);
const selectorArb: fc.Arbitrary<Selector> = fc.oneof(
  fc.record({ k: fc.constant("ctr" as const), d: fc.nat(2) }),
  fc.record({ k: fc.constant("n" as const) }),
  fc.record({ k: fc.constant("data" as const), j: fc.nat(3) }),
);
const mathArb = fc.constantFrom<MathFn>("sin", "cos", "tanh", "exptanh", "log1sq", "sqrt1sq", "msqrt1sq");
const powY = fc.constantFrom(0.5, 1.5, 2, 3, -0.5, -1, 2.5);

interface ExprOpts { leaves: fc.Arbitrary<Expr>[]; calls: boolean; conds: boolean }

/** Expressions of depth ≤ depth over the given leaves. */
function exprArb(depth: number, o: ExprOpts): fc.Arbitrary<Expr> {
  const leaf = fc.oneof(...o.leaves);
  if (depth <= 0) return leaf;
  const sub = exprArb(depth - 1, o);
  const nodes: fc.WeightedArbitrary<Expr>[] = [
    { weight: 3, arbitrary: leaf },
    { weight: 4, arbitrary: fc.record({ k: fc.constant("bin" as const), op: fc.constantFrom("add" as const, "sub" as const, "mul" as const), a: sub, b: sub }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("neg" as const), a: sub }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("div" as const), a: sub, b: sub }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant("math" as const), f: mathArb, a: sub }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("pow" as const), a: sub, y: powY }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("atan2" as const), a: sub, b: sub, swap: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("hypot" as const), a: sub, b: sub }) },
  ];
  if (o.conds) nodes.push(
    { weight: 1, arbitrary: fc.record({ k: fc.constant("tee" as const), l: fc.nat(2), a: sub }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("select" as const), c: condArb, a: sub, b: sub }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("ifx" as const), c: condArb, a: sub, b: sub }) },
  );
  if (o.calls) nodes.push(
    { weight: 2, arbitrary: fc.record({ k: fc.constant("call" as const), f: fc.nat(2), a: sub, b: sub }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("icall" as const), d: fc.nat(2), a: sub, b: sub }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant("rcall" as const), n: fc.nat(3), a: sub }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant("mcall" as const), f: fc.nat(1), b: fc.nat(2), ix: indexArb, a: sub }) },
  );
  return fc.oneof({ withCrossShrink: true }, ...nodes);
}

const kernelLeaves: fc.Arbitrary<Expr>[] = [
  fc.record({ k: fc.constant("param" as const), i: fc.nat(2) }),
  fc.record({ k: fc.constant("local" as const), i: fc.nat(2) }),
  fc.record({ k: fc.constant("local" as const), i: fc.nat(2) }),
  fc.record({ k: fc.constant("load" as const), b: fc.nat(2), ix: indexArb }),
  fc.record({ k: fc.constant("load" as const), b: fc.nat(2), ix: indexArb }),
  constArb,
  fc.record({ k: fc.constant("ctr" as const), d: fc.nat(2) }),
  fc.record({ k: fc.constant("cdata" as const), i: fc.nat(3), imm: fc.boolean() }),
  fc.constant({ k: "gval" as const }),
];
const helperLeaves = (n: number): fc.Arbitrary<Expr>[] => [fc.record({ k: fc.constant("param" as const), i: fc.nat(n - 1) }), constArb];
const old = fc.constant({ k: "old" as const });

/** Size knobs of generated programs. */
export interface SizeOptions {
  /** depth of kernel expressions (statement values, the result); early-exit values and update operands get one less */
  exprDepth: number;
  /** depth of helper bodies */
  helperDepth: number;
  /** statements at the top level of the kernel */
  maxStmts: number;
  /** statements in a loop or if body */
  maxInner: number;
  /** helpers of each kind */
  maxHelpers: number;
}

/** Small programs (`npm test`: ≈ 300 programs in well under a minute). */
export const SMALL: SizeOptions = { exprDepth: 2, helperDepth: 1, maxStmts: 3, maxInner: 2, maxHelpers: 2 };
/** Larger programs for campaigns (`--size medium`). */
export const MEDIUM: SizeOptions = { exprDepth: 2, helperDepth: 2, maxStmts: 4, maxInner: 3, maxHelpers: 3 };

/** The fast-check arbitrary of fuzz programs of the given size. */
export function programArbitrary(size: SizeOptions = SMALL): fc.Arbitrary<FuzzProgram> {
  const kernelExpr = exprArb(size.exprDepth, { leaves: kernelLeaves, calls: true, conds: true });
  const smallKernelExpr = exprArb(size.exprDepth - 1, { leaves: kernelLeaves, calls: true, conds: true });
  // in an update, the old element is a leaf, and the value is built around it
  const updateExpr: fc.Arbitrary<Expr> = fc.oneof(
    fc.record({ k: fc.constant("bin" as const), op: fc.constantFrom("add" as const, "sub" as const, "mul" as const), a: old, b: smallKernelExpr }),
    fc.record({ k: fc.constant("div" as const), a: old, b: smallKernelExpr }),
    fc.record({ k: fc.constant("math" as const), f: mathArb, a: fc.record({ k: fc.constant("bin" as const), op: fc.constantFrom("add" as const, "mul" as const), a: old, b: smallKernelExpr }) }),
    fc.record({ k: fc.constant("bin" as const), op: fc.constant("add" as const), a: old,
      b: fc.record({ k: fc.constant("bin" as const), op: fc.constant("mul" as const), a: old, b: smallKernelExpr }) }),
  );
  const hd = size.helperDepth;
  // a pure helper's body, possibly passed on to a lower-numbered helper
  const helperExpr = exprArb(hd, { leaves: helperLeaves(2), calls: false, conds: false })
    .chain((e) => fc.oneof({ weight: 3, arbitrary: fc.constant(e) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("call" as const), f: fc.nat(2), a: fc.constant(e), b: fc.record({ k: fc.constant("param" as const), i: fc.nat(1) }) }) }));
  const memExpr = exprArb(hd, { leaves: helperLeaves(2), calls: false, conds: false });
  const memRetExpr = exprArb(hd, { leaves: helperLeaves(3), calls: false, conds: false });
  const recExpr = exprArb(hd, { leaves: helperLeaves(1), calls: false, conds: false });
  const recStep = exprArb(hd, { leaves: helperLeaves(2), calls: false, conds: false });

  const exitArb = (body: number): fc.Arbitrary<Exit | null> => fc.option(fc.oneof(
    fc.record({ k: fc.constant("far" as const), at: fc.nat(body), v: smallKernelExpr, gt: fc.boolean(), t: fc.constantFrom<6 | -6>(6, -6) }),
    fc.record({ k: fc.constant("at" as const), at: fc.nat(body), v: smallKernelExpr, j: fc.nat(4) }),
    fc.record({ k: fc.constant("int" as const), at: fc.nat(body), c: condArb }),
  ), { freq: 2 });

  const stmtArb = (depth: number): fc.Arbitrary<Stmt> => {
    const simple: fc.WeightedArbitrary<Stmt>[] = [
      { weight: 4, arbitrary: fc.record({ k: fc.constant("set" as const), l: fc.nat(2), e: kernelExpr }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant("store" as const), b: fc.nat(2), ix: indexArb, e: kernelExpr }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant("update" as const), b: fc.nat(2), ix: indexArb, e: updateExpr }) },
    ];
    if (depth <= 0) return fc.oneof(...simple);
    const inner = fc.array(stmtArb(depth - 1), { minLength: 1, maxLength: size.maxInner });
    return fc.oneof({ withCrossShrink: true },
      ...simple,
      {
        weight: 4, arbitrary: fc.record({
          trip: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 4 }) }, { weight: 1, arbitrary: fc.constant("n" as const) }),
          bottom: fc.boolean(), body: inner,
        }).chain(({ trip, bottom, body }) => exitArb(body.length).map((exit): Stmt => ({ k: "loop", trip, bottom, body, exit }))),
      },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("if" as const), c: condArb, then: inner, else: fc.array(stmtArb(depth - 1), { maxLength: size.maxInner }) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("ret" as const), c: condArb, e: smallKernelExpr }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant("switch" as const), sel: selectorArb,
        cases: fc.array(fc.array(stmtArb(depth - 1), { maxLength: size.maxInner }), { minLength: 1, maxLength: 3 }), fall: fc.array(fc.boolean(), { maxLength: 3 }) }) },
    );
  };

  return fc.record({
    mode: fc.constantFrom<PrecMode>("f64", "f64", "f64", "mixed", "f32", "f32"),
    scalars: fc.array(fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), { minLength: 1, maxLength: 3 }),
    bufTypes: fc.array(fc.constantFrom<Prec>("f64", "f32"), { minLength: 1, maxLength: 3 }),
    n: fc.integer({ min: 0, max: 4 }),
    idata: fc.array(fc.nat(7), { minLength: 4, maxLength: 4 }),
    cdata: fc.array(fc.integer({ min: -32, max: 32 }).map((k) => k / 16), { minLength: 4, maxLength: 4 }),
    rotate: fc.nat(7),
    locals: fc.integer({ min: 1, max: 3 }),
    helpers: fc.array(helperExpr, { minLength: 1, maxLength: size.maxHelpers }),
    table: fc.array(fc.nat(2), { minLength: 1, maxLength: 3 }),
    mem: fc.array(fc.record({ upd: memExpr, ret: memRetExpr }), { minLength: 1, maxLength: Math.max(1, size.maxHelpers - 1) }),
    rec: fc.record({ base: recExpr, step: recStep, arg: recExpr }),
    body: fc.array(stmtArb(2), { minLength: 1, maxLength: size.maxStmts }),
    result: fc.option(kernelExpr, { freq: 8 }),
  });
}

/** Small programs (SMALL). */
export const programArb: fc.Arbitrary<FuzzProgram> = programArbitrary(SMALL);

// ------------------------------------------------------------------ printing

export const STORE_BOUND = 4;
export const NODE_BOUND = 16;

/** The kernel's float type. */
export const precOf = (p: FuzzProgram): Prec => (p.mode === "f32" ? "f32" : "f64");
/** The type of buffer b as printed. */
export const bufTypeOf = (p: FuzzProgram, b: number): Prec => (p.mode === "f64" ? "f64" : p.bufTypes[b]);

export type ParamSig =
  | { k: "scalar"; ty: Prec; active: boolean }
  | { k: "buf"; ty: Prec; len: number }
  | { k: "int"; value: number }
  | { k: "ints"; values: number[] }; // a Const Int32Array

/** What the checker needs to know about the exported kernel "k": its parameters in order, whether it returns a value, which tolerances apply. */
export interface KernelSig { params: ParamSig[]; result: boolean; single: boolean }

export const BUF_LEN = 4;

/** Parameter order of the printed kernel: indices into [scalars..., buffers..., n]. */
function paramOrder(p: FuzzProgram): ({ k: "scalar"; i: number } | { k: "buf"; i: number } | { k: "int" } | { k: "ints" })[] {
  const all = [
    ...p.scalars.map((_, i) => ({ k: "scalar" as const, i })),
    ...p.bufTypes.map((_, i) => ({ k: "buf" as const, i })),
    { k: "int" as const },
    { k: "ints" as const },
  ];
  const r = p.rotate % all.length;
  return [...all.slice(r), ...all.slice(0, r)];
}

export function sigOf(p: FuzzProgram): KernelSig {
  const prec = precOf(p);
  const params = paramOrder(p).map((x): ParamSig =>
    x.k === "scalar" ? { k: "scalar", ty: prec, active: p.scalars[x.i] }
      : x.k === "buf" ? { k: "buf", ty: bufTypeOf(p, x.i), len: BUF_LEN }
        : x.k === "int" ? { k: "int", value: p.n } : { k: "ints", values: Array.from({ length: BUF_LEN }, (_, j) => (p.idata[j] ?? 0) | 0) });
  return { params, result: p.result !== null, single: p.mode !== "f64" };
}

interface Ctx {
  prec: Prec;
  p: FuzzProgram;
  /** loop nesting depth at this point (counters $i0..$i{loops-1} are live) */
  loops: number;
  /** helper context: the code reading each of the helper's values (parameters); null in the kernel */
  helperParams: string[] | null;
  /** the helper being printed (direct calls go to lower helpers only) */
  helperIndex: number;
  /** in an update: the address expression and buffer type of the element */
  old: string | null;
  counters: { labels: number; squash: number };
}

type Printed = [code: string, bound: number];

const fmt = (v: number): string => (Object.is(v, -0) ? "-0" : String(v));

function counter(ctx: Ctx, d: number): string {
  // relative: 0 = innermost enclosing loop; outside loops $i0 (its value after the last loop)
  const i = ctx.loops === 0 ? 0 : ctx.loops - 1 - (d % ctx.loops);
  return `(local.get $i${i})`;
}

function cond(ctx: Ctx, c: Cond): string {
  switch (c.k) {
    case "parity": {
      const bit = `(i32.and ${counter(ctx, c.d)} (i32.const 1))`;
      return c.odd ? bit : `(i32.eqz ${bit})`;
    }
    case "ltc": return `(i32.lt_s ${counter(ctx, c.d)} (i32.const ${c.c}))`;
    case "ngt": return `(i32.gt_s (local.get $n) (i32.const ${c.c}))`;
    case "data": return `(i32.gt_s ${idata(c.j)} (i32.const ${c.c}))`;
    case "glob": {
      const bit = "(i32.and (global.get $g) (i32.const 1))";
      return c.odd ? bit : `(i32.eqz ${bit})`;
    }
  }
}

const bufCount = (p: FuzzProgram) => p.bufTypes.length;
/** ix[j] (integer data from the Const buffer). */
const idata = (j: number) => `(i32.load${offs(4 * (j % BUF_LEN))} (local.get $ix))`;

/** [address expression, offset immediate] of element ix of buffer b. */
function address(ctx: Ctx, b: number, ix: Index): [string, number] {
  const ty = bufTypeOf(ctx.p, b);
  const size = ty === "f64" ? 8 : 4, shift = ty === "f64" ? 3 : 2;
  const base = `(local.get $p${b})`;
  if (ix.k === "c") {
    const i = ix.i % BUF_LEN;
    return ix.imm || i === 0 ? [base, i * size] : [`(i32.add ${base} (i32.const ${i * size}))`, 0];
  }
  if (ix.k === "data")
    return [`(i32.add ${base} (i32.shl (i32.and (i32.add ${idata(ix.j)} (i32.const ${ix.add})) (i32.const 3)) (i32.const ${shift})))`, 0];
  const mask = ix.mask === 1 ? 1 : 3;
  const off = ix.off % (BUF_LEN - mask);
  return [`(i32.add ${base} (i32.shl (i32.and (i32.add ${counter(ctx, ix.d)} (i32.const ${ix.add})) (i32.const ${mask})) (i32.const ${shift})))`, off * size];
}

const offs = (o: number) => (o ? ` offset=${o}` : "");

function loadAt(ctx: Ctx, ty: Prec, addr: string, off: number): string {
  const l = `(${ty}.load${offs(off)} ${addr})`;
  return convert(l, ty, ctx.prec);
}

function convert(code: string, from: Prec, to: Prec): string {
  if (from === to) return code;
  return from === "f32" ? `(f64.promote_f32 ${code})` : `(f32.demote_f64 ${code})`;
}

/** A call of an f64 Math import on T values. */
function mathCall(ctx: Ctx, f: string, ...args: string[]): string {
  return convert(`(call $${f} ${args.map((a) => convert(a, ctx.prec, "f64")).join(" ")})`, "f64", ctx.prec);
}

/**
 * A value bounded by s: unchanged when its bound is ≤ s, else squashed, alternately (by a
 * counter, so deterministic) with s·tanh(v / s) or the rational v / (1 + (v / 2s)²), which
 * is bounded by s too (s is a power of two, so 1 / 2s is exact).
 */
function squash(ctx: Ctx, [code, bound]: Printed, s: number): Printed {
  if (bound <= s) return [code, bound];
  const T = ctx.prec;
  if (ctx.counters.squash++ % 2 === 0) return [`(${T}.mul (${T}.const ${s}) ${mathCall(ctx, "tanh", `(${T}.div ${code} (${T}.const ${s}))`)})`, s];
  return [`(${T}.div (local.tee $q ${code}) (${T}.add (${T}.const 1) ${square(T, `(${T}.mul (local.get $q) (${T}.const ${1 / (2 * s)}))`)}))`, s];
}

/** a², evaluating a once: a's own uses of the scratch local finish before the tee. */
const square = (T: Prec, a: string) => `(${T}.mul (local.tee $sq ${a}) (local.get $sq))`;
const onePlusSq = (T: Prec, a: string) => `(${T}.add (${T}.const 1) ${square(T, a)})`;

function expr(ctx: Ctx, e: Expr): Printed {
  return squash(ctx, expr0(ctx, e), NODE_BOUND);
}

const stored = (ctx: Ctx, e: Expr): Printed => squash(ctx, expr(ctx, e), STORE_BOUND);

function mathNode(ctx: Ctx, f: MathFn, [a, ba]: Printed): Printed {
  const T = ctx.prec;
  switch (f) {
    case "sin": return [mathCall(ctx, "sin", a), 1];
    case "cos": return [mathCall(ctx, "cos", a), 1];
    case "tanh": return [mathCall(ctx, "tanh", a), 1];
    case "exptanh": return [mathCall(ctx, "exp", mathCall(ctx, "tanh", a)), Math.E * 1.001];
    case "log1sq": return [mathCall(ctx, "log", onePlusSq(T, a)), Math.log(1 + ba * ba) * 1.001 + 1e-6];
    case "sqrt1sq": return [`(${T}.sqrt ${onePlusSq(T, a)})`, Math.sqrt(1 + ba * ba) * 1.001];
    case "msqrt1sq": return [mathCall(ctx, "sqrt", onePlusSq(T, a)), Math.sqrt(1 + ba * ba) * 1.001];
  }
}

function expr0(ctx: Ctx, e: Expr): Printed {
  const T = ctx.prec, p = ctx.p;
  switch (e.k) {
    case "param":
      if (ctx.helperParams) return [ctx.helperParams[e.i % ctx.helperParams.length], STORE_BOUND];
      return [`(local.get $x${e.i % p.scalars.length})`, 1];
    case "local":
      if (ctx.helperParams) return [ctx.helperParams[e.i % ctx.helperParams.length], STORE_BOUND];
      return [`(local.get $t${e.i % p.locals})`, STORE_BOUND];
    case "const": return [`(${T}.const ${fmt(e.v)})`, Math.abs(e.v)];
    case "cdata": {
      if (ctx.helperParams) return [`(${T}.const 0.75)`, 0.75];
      const size = T === "f64" ? 8 : 4, i = e.i % BUF_LEN;
      return [e.imm ? `(${T}.load offset=${i * size} (i32.const 0))` : `(${T}.load (i32.const ${i * size}))`, Math.max(...p.cdata.map(Math.abs), 0)];
    }
    case "gval":
      if (ctx.helperParams) return [`(${T}.const 1)`, 1];
      return [`(${T}.convert_i32_s (i32.and (global.get $g) (i32.const 3)))`, 3];
    case "tee": {
      const a = stored(ctx, e.a);
      if (ctx.helperParams) return a;
      return [`(local.tee $t${e.l % p.locals} ${a[0]})`, a[1]];
    }
    case "ctr":
      if (ctx.helperParams) return [`(${T}.const 1)`, 1];
      return [`(${T}.convert_i32_s ${counter(ctx, e.d)})`, 4]; // counters end at ≤ 4
    case "load": {
      if (ctx.helperParams) return [`(${T}.const 0.5)`, 0.5];
      const b = e.b % bufCount(p);
      const [addr, off] = address(ctx, b, e.ix);
      return [loadAt(ctx, bufTypeOf(p, b), addr, off), STORE_BOUND];
    }
    case "old":
      if (ctx.old === null) return [`(${T}.const 0.25)`, 0.25];
      return [ctx.old, STORE_BOUND];
    case "neg": {
      const [a, ba] = expr(ctx, e.a);
      return [`(${T}.neg ${a})`, ba];
    }
    case "bin": {
      const [a, ba] = expr(ctx, e.a), [b, bb] = expr(ctx, e.b);
      return [`(${T}.${e.op} ${a} ${b})`, e.op === "mul" ? ba * bb : ba + bb];
    }
    case "div": {
      const [a, ba] = expr(ctx, e.a), [b] = expr(ctx, e.b);
      return [`(${T}.div ${a} ${onePlusSq(T, b)})`, ba];
    }
    case "math": return mathNode(ctx, e.f, expr(ctx, e.a));
    case "pow": {
      const [a, ba] = expr(ctx, e.a);
      return [mathCall(ctx, "pow", onePlusSq(T, a), `(${T}.const ${fmt(e.y)})`), e.y > 0 ? (1 + ba * ba) ** e.y * 1.001 : 1];
    }
    case "atan2": {
      const [a] = expr(ctx, e.a), [b] = expr(ctx, e.b);
      const args = e.swap ? [onePlusSq(T, b), a] : [a, onePlusSq(T, b)];
      return [mathCall(ctx, "atan2", ...args), Math.PI * 1.001];
    }
    case "hypot": {
      const [a, ba] = expr(ctx, e.a), [b, bb] = expr(ctx, e.b);
      return [mathCall(ctx, "hypot", a, onePlusSq(T, b)), Math.hypot(ba, 1 + bb * bb) * 1.001];
    }
    case "select": case "ifx": {
      const [a, ba] = expr(ctx, e.a), [b, bb] = expr(ctx, e.b);
      const c = ctx.helperParams ? "(i32.const 1)" : cond(ctx, e.c);
      return [e.k === "select" ? `(select ${a} ${b} ${c})` : `(if (result ${T}) ${c} (then ${a}) (else ${b}))`, Math.max(ba, bb)];
    }
    case "call": {
      const [a] = stored(ctx, e.a), [b] = stored(ctx, e.b);
      if (ctx.helperParams) {
        // helpers call lower-numbered helpers only (no recursion through this path)
        if (ctx.helperIndex <= 0) return [`(${T}.add ${a} ${b})`, 2 * STORE_BOUND];
        return [`(call $h${e.f % ctx.helperIndex} ${a} ${b})`, STORE_BOUND];
      }
      return [`(call $h${e.f % p.helpers.length} ${a} ${b})`, STORE_BOUND];
    }
    case "icall": {
      const [a] = stored(ctx, e.a), [b] = stored(ctx, e.b);
      if (ctx.helperParams) return [`(${T}.sub ${a} ${b})`, 2 * STORE_BOUND];
      return [`(call_indirect (type $bin) ${a} ${b} (i32.rem_u ${counter(ctx, e.d)} (i32.const ${p.table.length})))`, STORE_BOUND];
    }
    case "rcall": {
      const [a] = stored(ctx, e.a);
      if (ctx.helperParams) return [a, STORE_BOUND];
      return [`(call $rec ${a} (i32.const ${e.n % 4}))`, STORE_BOUND];
    }
    case "mcall": {
      const [a] = stored(ctx, e.a);
      if (ctx.helperParams) return [a, STORE_BOUND];
      const b = e.b % bufCount(p);
      const [addr, off] = address(ctx, b, e.ix);
      const ptr = off ? `(i32.add ${addr} (i32.const ${off}))` : addr;
      return [`(call $m${e.f % p.mem.length}_${bufTypeOf(p, b)} ${ptr} ${a})`, STORE_BOUND];
    }
  }
}

function storeAt(ctx: Ctx, b: number, ix: Index, value: (old: string) => string): string {
  const ty = bufTypeOf(ctx.p, b);
  const [addr, off] = address(ctx, b, ix);
  const old = loadAt(ctx, ty, addr, off);
  return `(${ty}.store${offs(off)} ${addr} ${convert(value(old), ctx.prec, ty)})`;
}

function retValue(ctx: Ctx, e: Expr): string {
  return convert(expr(ctx, e)[0], ctx.prec, "f64");
}

function stmts(ctx: Ctx, ss: Stmt[], ind: string): string {
  return ss.map((s) => stmt(ctx, s, ind)).join("\n");
}

function stmt(ctx: Ctx, s: Stmt, ind: string): string {
  const T = ctx.prec, p = ctx.p;
  switch (s.k) {
    case "set": return `${ind}(local.set $t${s.l % p.locals} ${stored(ctx, s.e)[0]})`;
    case "store": {
      const b = s.b % bufCount(p);
      return `${ind}${storeAt(ctx, b, s.ix, () => stored(ctx, s.e)[0])}`;
    }
    case "update": {
      const b = s.b % bufCount(p);
      return `${ind}${storeAt(ctx, b, s.ix, (old) => stored({ ...ctx, old }, s.e)[0])}`;
    }
    case "if": {
      const els = s.else.length ? `\n${ind}  (else\n${stmts(ctx, s.else, ind + "    ")})` : "";
      return `${ind}(if ${cond(ctx, s.c)}\n${ind}  (then\n${stmts(ctx, s.then, ind + "    ")})${els})`;
    }
    case "ret": {
      const v = p.result === null ? "(return)" : `(return ${retValue(ctx, s.e)})`;
      return `${ind}(if ${cond(ctx, s.c)} (then ${v}))`;
    }
    case "switch": {
      const id = ctx.counters.labels++;
      const n = Math.max(1, s.cases.length);
      const cases = s.cases.length ? s.cases : [[]];
      const sel = s.sel.k === "ctr" ? counter(ctx, s.sel.d) : s.sel.k === "n" ? "(local.get $n)" : idata(s.sel.j);
      // indices 0..n-1 go to case i, larger ones (the default) to the last case
      const targets = Array.from({ length: n }, (_, i) => `$c${id}_${i}`);
      let code = `${ind}(block $s${id}\n`;
      code += targets.slice().reverse().map((t, i) => `${ind}${"  ".repeat(i + 1)}(block ${t}`).join("\n") + "\n";
      code += `${ind}${"  ".repeat(n + 1)}(br_table ${targets.join(" ")} ${targets[n - 1]} (i32.rem_u ${sel} (i32.const ${n + 1})))`;
      cases.forEach((c, i) => {
        const ci = ind + "  ".repeat(n - i);
        code += ")\n" + c.map((x) => stmt(ctx, x, ci)).join("\n") + (c.length ? "\n" : "");
        if (i < n - 1) code += s.fall[i] ? `${ci}(; falls through ;)` : `${ci}(br $s${id})`;
      });
      return code.replace(/\n$/, "") + ")";
    }
    case "loop": {
      if (ctx.loops >= MAX_LOOP_DEPTH) return stmts(ctx, s.body, ind); // too deep (only after shrinking merges levels): inline the body once
      const d = ctx.loops, id = ctx.counters.labels++;
      const inner: Ctx = { ...ctx, loops: ctx.loops + 1 };
      const i = `(local.get $i${d})`;
      const trip = s.trip === "n" ? "(local.get $n)" : `(i32.const ${Math.max(0, Math.min(4, s.trip))})`;
      const body = s.body.map((x) => stmt(inner, x, ind + "    "));
      if (s.exit) {
        const x = s.exit;
        let c: string;
        if (x.k === "int") c = cond(inner, x.c);
        else {
          const [v] = stored(inner, x.v);
          if (x.k === "far") c = `(${T}.${x.gt ? "gt" : "lt"} ${v} (${T}.const ${x.t}))`;
          else c = `(${T}.gt (${T}.add ${v} (${T}.mul (${T}.const 10) (${T}.convert_i32_s ${i}))) (${T}.const ${10 * (x.j % 5) - 5}))`;
        }
        body.splice(x.at % (body.length + 1), 0, `${ind}    (br_if $b${id} ${c})`);
      }
      const step = `${ind}    (local.set $i${d} (i32.add ${i} (i32.const 1)))\n${ind}    (global.set $g (i32.add (global.get $g) (i32.const 1)))`;
      const head = `${ind}(local.set $i${d} (i32.const 0))\n${ind}(block $b${id}\n${ind}  (loop $l${id}\n`;
      if (s.bottom) return `${head}${body.join("\n")}\n${step}\n${ind}    (br_if $l${id} (i32.lt_s ${i} ${trip}))))`;
      return `${head}${ind}    (br_if $b${id} (i32.ge_s ${i} ${trip}))\n${body.join("\n")}\n${step}\n${ind}    (br $l${id})))`;
    }
  }
}

/** The values as little-endian bytes, escaped for a WAT string. */
function dataBytes(T: Prec, values: number[]): string {
  const bytes = new Uint8Array(T === "f64" ? Float64Array.from(values).buffer : Float32Array.from(values).buffer);
  return Array.from(bytes, (b) => `\\${b.toString(16).padStart(2, "0")}`).join("");
}

/** Scratch locals of every function: $sq (squares) and $q (squashes), assigned many times. */
const SCRATCH = (T: Prec) => `(local $sq ${T}) (local $q ${T})`;

const MATH_IMPORTS: [string, number][] = [["sin", 1], ["cos", 1], ["tanh", 1], ["exp", 1], ["log", 1], ["sqrt", 1], ["pow", 2], ["atan2", 2], ["hypot", 2]];

/** The program as a WAT module exporting the kernel "k". */
export function toWat(p: FuzzProgram): string {
  const T = precOf(p);
  const base: Ctx = { prec: T, p, loops: 0, helperParams: null, helperIndex: -1, old: null, counters: { labels: 0, squash: 0 } };
  const funcs: [name: string, text: string][] = [];
  p.helpers.forEach((h, i) => {
    const ctx: Ctx = { ...base, helperParams: ["(local.get $a)", "(local.get $b)"], helperIndex: i };
    funcs.push([`h${i}`, `  (func $h${i} (type $bin) (param $a ${T}) (param $b ${T}) (result ${T}) ${SCRATCH(T)}\n    ${stored(ctx, h)[0]})`]);
  });
  p.mem.forEach((m, i) => {
    for (const bt of (["f64", "f32"] as Prec[]).filter((t) => p.bufTypes.some((_, b) => bufTypeOf(p, b) === t))) {
      const ctx: Ctx = { ...base, helperParams: ["(local.get $x)", "(local.get $o)"], helperIndex: 0 };
      const ret: Ctx = { ...ctx, helperParams: ["(local.get $x)", "(local.get $o)", convert(`(${bt}.load (local.get $p))`, bt, T)] };
      funcs.push([`m${i}_${bt}`, `  (func $m${i}_${bt} (param $p i32) (param $x ${T}) (result ${T}) (local $o ${T}) ${SCRATCH(T)}
    (local.set $o ${convert(`(${bt}.load (local.get $p))`, bt, T)})
    (${bt}.store (local.get $p) ${convert(stored(ctx, m.upd)[0], T, bt)})
    ${stored(ret, m.ret)[0]})`]);
    }
  });
  {
    const ctx1: Ctx = { ...base, helperParams: ["(local.get $a)"], helperIndex: 0 };
    const ctx2: Ctx = { ...base, helperParams: ["(local.get $a)", "(local.get $r)"], helperIndex: 0 };
    funcs.push(["rec", `  (func $rec (param $a ${T}) (param $n i32) (result ${T}) (local $r ${T}) ${SCRATCH(T)}
    (if (result ${T}) (i32.eqz (local.get $n))
      (then ${stored(ctx1, p.rec.base)[0]})
      (else
        (local.set $r (call $rec ${stored(ctx1, p.rec.arg)[0]} (i32.sub (local.get $n) (i32.const 1))))
        ${stored(ctx2, p.rec.step)[0]})))`]);
  }
  const params = paramOrder(p).map((x) =>
    x.k === "scalar" ? `(param $x${x.i} ${T})` : x.k === "buf" ? `(param $p${x.i} i32)` : x.k === "int" ? `(param $n i32)` : `(param $ix i32)`).join(" ");
  const result = p.result === null ? "" : " (result f64)";
  const locals = [...Array.from({ length: p.locals }, (_, i) => `(local $t${i} ${T})`), ...Array.from({ length: MAX_LOOP_DEPTH }, (_, i) => `(local $i${i} i32)`), SCRATCH(T)].join(" ");
  const kernel = [`  (func (export "k") ${params}${result}\n    ${locals}`, "    (global.set $g (i32.const 0))", stmts(base, p.body, "    ")];
  if (p.result !== null) kernel.push(`    ${retValue(base, p.result)}`);
  kernel.push("  )");
  const kernelText = kernel.join("\n");

  // only what the kernel reaches: functions it calls (transitively), the table if it calls indirectly
  const table = p.table.map((h) => `h${h % p.helpers.length}`);
  const reached = new Set<string>();
  let indirect = false;
  const visit = (text: string) => {
    if (text.includes("call_indirect") && !indirect) { indirect = true; table.forEach(reach); }
    for (const m of text.matchAll(/\(call \$(\w+)/g)) reach(m[1]);
  };
  const reach = (name: string) => {
    if (reached.has(name)) return;
    reached.add(name);
    const f = funcs.find(([n]) => n === name);
    if (f) visit(f[1]);
  };
  visit(kernelText);
  const out: string[] = ["(module"];
  for (const [f, n] of MATH_IMPORTS) if (reached.has(f)) out.push(`  (import "Math" "${f}" (func $${f} (param${" f64".repeat(n)}) (result f64)))`);
  out.push(`  (memory (export "memory") 1)`);
  out.push(`  (data (i32.const 0) "${dataBytes(T, Array.from({ length: BUF_LEN }, (_, i) => p.cdata[i] ?? 0))}")`);
  out.push(`  (global $g (mut i32) (i32.const 0))`);
  if (indirect) {
    out.push(`  (type $bin (func (param ${T} ${T}) (result ${T})))`);
    out.push(`  (table ${table.length} funcref)`);
    out.push(`  (elem (i32.const 0) func ${table.map((h) => `$${h}`).join(" ")})`);
  }
  for (const [name, text] of funcs) if (reached.has(name)) out.push(indirect ? text : text.replace(" (type $bin)", ""));
  out.push(kernelText);
  out.push(")");
  return out.join("\n");
}
