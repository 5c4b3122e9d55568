// The IR: a typed, structured language that mirrors WebAssembly's expression trees.
// Every node carries its result type; control flow is block/loop/if/br/br_table/return
// as in Wasm. A function body is either structured (an Expr) or, for generated reverse
// sweeps, a control-flow graph (CfgBody) that the backend structures with binaryen's Relooper.

export type ValType = "i32" | "i64" | "f32" | "f64";
/** "none": produces no value; "unreachable": never completes normally; "tuple": a multi-value call result. */
export type Type = ValType | "none" | "unreachable" | "tuple";

export const isFloat = (t: Type): t is "f32" | "f64" => t === "f32" || t === "f64";
export const isInt = (t: Type): t is "i32" | "i64" => t === "i32" || t === "i64";
export const isValType = (t: Type): t is ValType => t === "i32" || t === "i64" || t === "f32" || t === "f64";

export interface Const { kind: "const"; type: ValType; value: number | bigint }
export interface LocalGet { kind: "local.get"; type: ValType; local: number }
/** local.set (type "none") and local.tee (type of the value). */
export interface LocalSet { kind: "local.set"; type: Type; local: number; value: Expr; tee: boolean }
/** Assigns the values of a multi-result call to several locals, in order. */
export interface TupleSet { kind: "tuple.set"; type: "none"; locals: number[]; value: Call | CallIndirect }
/** Several values at once: the value of a return from a multi-result function. */
export interface TupleMake { kind: "tuple.make"; type: "tuple"; values: Expr[] }
export interface GlobalGet { kind: "global.get"; type: ValType; global: string }
export interface GlobalSet { kind: "global.set"; type: "none"; global: string; value: Expr }
export interface Unary { kind: "unary"; type: ValType; op: string; value: Expr }
export interface Binary { kind: "binary"; type: ValType; op: string; left: Expr; right: Expr }
export interface Select { kind: "select"; type: ValType; cond: Expr; ifTrue: Expr; ifFalse: Expr }
/** op is the Wasm name ("f64.load", "i32.load8_u"); offset and align in bytes. */
export interface Load { kind: "load"; type: ValType; op: string; addr: Expr; offset: number; align: number }
export interface Store { kind: "store"; type: "none"; op: string; addr: Expr; value: Expr; offset: number; align: number }
/** Calls a function of the module (defined or imported) by name. type "tuple" for several results. */
export interface Call { kind: "call"; type: Type; func: string; args: Expr[] }
export interface CallIndirect {
  kind: "call_indirect"; type: Type; table: string; params: ValType[]; results: ValType[]; target: Expr; args: Expr[];
}
export interface Block { kind: "block"; type: Type; label: string | null; body: Expr[] }
/** A loop's label names its start: br to it continues the loop. */
export interface Loop { kind: "loop"; type: Type; label: string; body: Expr }
export interface If { kind: "if"; type: Type; cond: Expr; then: Expr; else: Expr | null }
/** br (cond null) or br_if; value for branches that carry a value to a block with a result. */
export interface Br { kind: "br"; type: Type; label: string; cond: Expr | null; value: Expr | null }
export interface BrTable { kind: "br_table"; type: "unreachable"; labels: string[]; default: string; index: Expr; value: Expr | null }
export interface Return { kind: "return"; type: "unreachable"; value: Expr | null }
export interface Unreachable { kind: "unreachable"; type: "unreachable" }
export interface Nop { kind: "nop"; type: "none" }
export interface Drop { kind: "drop"; type: "none"; value: Expr }
export interface MemorySize { kind: "memory.size"; type: "i32" }
export interface MemoryGrow { kind: "memory.grow"; type: "i32"; delta: Expr }
export interface MemoryCopy { kind: "memory.copy"; type: "none"; dest: Expr; src: Expr; size: Expr }
export interface MemoryFill { kind: "memory.fill"; type: "none"; dest: Expr; value: Expr; size: Expr }

export type Expr =
  | Const | LocalGet | LocalSet | TupleSet | TupleMake | GlobalGet | GlobalSet | Unary | Binary | Select | Load | Store
  | Call | CallIndirect | Block | Loop | If | Br | BrTable | Return | Unreachable | Nop | Drop
  | MemorySize | MemoryGrow | MemoryCopy | MemoryFill;

/** Where a CFG block goes next; code on an edge runs only when that edge is taken. */
export interface Edge { target: number; code: Expr[] }
export type Terminator =
  | { kind: "goto"; edge: Edge }
  | { kind: "branch"; cond: Expr; then: Edge; else: Edge }
  | { kind: "switch"; index: Expr; targets: Edge[]; default: Edge }
  | { kind: "return"; value: Expr | null }
  | { kind: "unreachable" };
export interface CfgBlock { id: number; body: Expr[]; exit: Terminator }
/** A function body as basic blocks; block `entry` runs first. */
export interface CfgBody { kind: "cfg"; entry: number; blocks: CfgBlock[] }

export interface IRFunction {
  name: string;
  params: ValType[];
  results: ValType[];
  /** Types of all locals, parameters first (locals[i] === params[i] for i < params.length). */
  locals: ValType[];
  localNames?: (string | undefined)[];
  /** null for an imported function. */
  body: Expr | CfgBody | null;
  import?: { module: string; base: string };
  /** Marked by the user as carrying no derivative (logging, timers, RNG seeding): calls to it are never differentiated. */
  inactive?: boolean;
  /** User-given derivative rules (Program.rule): direct calls use them instead of differentiating the body. */
  rules?: CustomRule[];
  /** Marked by program.checkpoint: reverse mode checkpoints the function's outermost loops every `every` iterations (null: automatic). */
  checkpoint?: { every: number | null };
  /** Named by the user as an allocator (program.allocator): the arguments giving the block's size. */
  allocator?: { size: [number] | [number, number] };
  /** Set by the AD stage (src/ad/allocations.ts): for each local holding a pointer into a block the function allocated, the local holding its shadow's offset. */
  allocDeltas?: Map<number, number>;
  /**
   * Set by the runtime for a kernel whose parameters are AssemblyScript objects it builds
   * (Float64Array, Array<f64>): per such parameter, the field offsets holding its data pointer.
   */
  viewParams?: Map<number, number[]>;
}

/** How a parameter takes part in a custom rule: float scalar, pointer to float data, or integer. */
export type RuleParamKind = "float" | "ptr" | "int";
/** A call site's activity per parameter, as a rule's `when` pattern names it. */
export type RuleActivity = "active" | "dup" | "const";

/**
 * A derivative rule for one function (see src/ad/custom-rules.ts for the conventions).
 * forward/reverse/augmented name functions of the module (JS rules are imports added for them).
 */
export interface CustomRule {
  kinds: RuleParamKind[];
  /** The activity pattern this rule is written for; null: the all-active rule, specialised to every call site. */
  when: RuleActivity[] | null;
  forward?: string;
  reverse?: string;
  augmented?: string;
}

export interface IRGlobal {
  name: string; type: ValType; mutable: boolean;
  init: Const | null;
  import?: { module: string; base: string };
}

export interface IRMemory {
  initial: number; maximum: number | null;
  import?: { module: string; base: string };
  exportName?: string;
}

export interface IRTable {
  name: string; initial: number; maximum: number | null;
  /** Active element segments with a constant offset. */
  segments: { offset: number; funcs: string[] }[];
  import?: { module: string; base: string };
}

export interface IRExport { name: string; kind: "function" | "global" | "memory" | "table"; target: string }

export interface IRModule {
  functions: IRFunction[];
  globals: IRGlobal[];
  memory: IRMemory | null;
  /** Active data segments at a constant offset (passive ones are kept with offset null). */
  data: { offset: number | null; bytes: Uint8Array }[];
  tables: IRTable[];
  exports: IRExport[];
  start: string | null;
}

export const typeOfCallResults = (results: ValType[]): Type =>
  results.length === 0 ? "none" : results.length === 1 ? results[0] : "tuple";
