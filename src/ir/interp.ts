// Reference interpreter of the IR with exact Wasm semantics (no binaryen), used to check
// transforms and derivatives independently of the backend. Traps throw TrapError.
import { ArgumentError, TrapError } from "../errors.js";
import { loadOps, storeOps } from "./ops.js";
import type { CallIndirect, CfgBlock, CfgBody, Edge, Expr, IRFunction, IRModule, ValType } from "./types.js";

/** i32 and f32/f64 are numbers (i32 signed, f32 already rounded), i64 a signed bigint. */
export type Value = number | bigint;
type V = Value;
// Operands are typed by the verifier, so op implementations take `any` rather than casting each use.
type Op1 = (x: any) => V;
type Op2 = (a: any, b: any) => V;

const PAGE = 65536;
const trap = (msg: string): never => { throw new TrapError(msg); };
const I64 = (x: bigint) => BigInt.asIntN(64, x);
const U64 = (x: bigint) => BigInt.asUintN(64, x);
const b2i = (b: boolean) => (b ? 1 : 0);
const scratch = new DataView(new ArrayBuffer(8));

function popcnt32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** Round half to even, keeping the sign of zero. */
function nearest(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const f = Math.floor(x), d = x - f;
  const r = d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  return r === 0 && x < 0 ? -0 : r;
}

function copysign(a: number, b: number): number {
  scratch.setFloat64(0, b);
  return scratch.getUint8(0) & 0x80 ? -Math.abs(a) : Math.abs(a);
}

/** Correctly rounded i64 -> f32: going through f64 first can double-round, so keep a sticky bit. */
function bigToF32(v: bigint): number {
  const neg = v < 0n, m = neg ? -v : v;
  if (m < 1n << 53n) return Math.fround(Number(v));
  const sh = m.toString(2).length - 53;
  let k = m >> BigInt(sh);
  if (k << BigInt(sh) !== m) k |= 1n;
  const r = Math.fround(Number(k) * 2 ** sh);
  return neg ? -r : r;
}

/** Exclusive bounds on the float operand of each truncation (nearest representable doubles). */
const TRUNC: Record<string, [number, number]> = {
  i32_s: [-2147483649, 2147483648], i32_u: [-1, 4294967296],
  i64_s: [-9223372036854777856, 9223372036854775808], i64_u: [-1, 18446744073709551616],
};
const fromTrunc = (i: "i32" | "i64", signed: boolean, t: number): V =>
  i === "i32" ? t | 0 : signed ? BigInt(t) : I64(BigInt(t));

const UN: Record<string, Op1> = {
  "i32.clz": x => Math.clz32(x), "i32.ctz": x => (x === 0 ? 32 : 31 - Math.clz32(x & -x)), "i32.popcnt": popcnt32,
  "i32.eqz": x => b2i(x === 0),
  "i64.clz": x => { const u = U64(x); return u === 0n ? 64n : BigInt(64 - u.toString(2).length); },
  "i64.ctz": x => { const u = U64(x); return u === 0n ? 64n : BigInt((u & -u).toString(2).length - 1); },
  "i64.popcnt": x => BigInt(U64(x).toString(2).replace(/0/g, "").length), "i64.eqz": x => b2i(x === 0n),
  "i32.wrap_i64": x => Number(BigInt.asIntN(32, x)), "i64.extend_i32_s": x => BigInt(x),
  "i64.extend_i32_u": x => BigInt(x >>> 0), "i32.extend8_s": x => (x << 24) >> 24,
  "i32.extend16_s": x => (x << 16) >> 16, "i64.extend8_s": x => BigInt.asIntN(8, x),
  "i64.extend16_s": x => BigInt.asIntN(16, x), "i64.extend32_s": x => BigInt.asIntN(32, x),
  "f32.demote_f64": Math.fround, "f64.promote_f32": x => x,
  "i32.reinterpret_f32": x => (scratch.setFloat32(0, x), scratch.getInt32(0)),
  "f32.reinterpret_i32": x => (scratch.setInt32(0, x), scratch.getFloat32(0)),
  "i64.reinterpret_f64": x => (scratch.setFloat64(0, x), scratch.getBigInt64(0)),
  "f64.reinterpret_i64": x => (scratch.setBigInt64(0, x), scratch.getFloat64(0)),
};
const BIN: Record<string, Op2> = {
  "i32.add": (a, b) => (a + b) | 0, "i32.sub": (a, b) => (a - b) | 0, "i32.mul": Math.imul,
  "i32.div_s": (a, b) =>
    b === 0 ? trap("integer divide by zero") : a === -2147483648 && b === -1 ? trap("integer overflow") : (a / b) | 0,
  "i32.div_u": (a, b) => (b === 0 ? trap("integer divide by zero") : ((a >>> 0) / (b >>> 0)) | 0),
  "i32.rem_s": (a, b) => (b === 0 ? trap("integer divide by zero") : a % b | 0),
  "i32.rem_u": (a, b) => (b === 0 ? trap("integer divide by zero") : ((a >>> 0) % (b >>> 0)) | 0),
  "i32.and": (a, b) => a & b, "i32.or": (a, b) => a | b, "i32.xor": (a, b) => a ^ b, "i32.shl": (a, b) => a << b,
  "i32.shr_s": (a, b) => a >> b, "i32.shr_u": (a, b) => (a >>> b) | 0,
  "i32.rotl": (a, b) => (a << b) | (a >>> (32 - (b & 31))), "i32.rotr": (a, b) => (a >>> b) | (a << (32 - (b & 31))),
  "i64.add": (a: bigint, b: bigint) => I64(a + b), "i64.sub": (a: bigint, b: bigint) => I64(a - b),
  "i64.mul": (a: bigint, b: bigint) => I64(a * b),
  "i64.div_s": (a, b) =>
    b === 0n ? trap("integer divide by zero") : a === -(1n << 63n) && b === -1n ? trap("integer overflow") : a / b,
  "i64.div_u": (a, b) => (b === 0n ? trap("integer divide by zero") : I64(U64(a) / U64(b))),
  "i64.rem_s": (a, b) => (b === 0n ? trap("integer divide by zero") : a % b),
  "i64.rem_u": (a, b) => (b === 0n ? trap("integer divide by zero") : I64(U64(a) % U64(b))),
  "i64.and": (a, b) => a & b, "i64.or": (a, b) => a | b, "i64.xor": (a, b) => a ^ b,
  "i64.shl": (a, b) => I64(a << (b & 63n)), "i64.shr_s": (a, b) => a >> (b & 63n),
  "i64.shr_u": (a, b) => I64(U64(a) >> (b & 63n)),
  "i64.rotl": (a, b) => { const k = b & 63n, u = U64(a); return I64((u << k) | (u >> ((64n - k) & 63n))); },
  "i64.rotr": (a, b) => { const k = b & 63n, u = U64(a); return I64((u >> k) | (u << ((64n - k) & 63n))); },
};
for (const t of ["i32", "i64"] as const) {
  // Unsigned comparisons: i32 via >>> 0, i64 via asUintN.
  const u: (x: V) => V = t === "i32" ? x => (x as number) >>> 0 : x => U64(x as bigint);
  Object.assign(BIN, {
    [`${t}.eq`]: (a: V, b: V) => b2i(a === b), [`${t}.ne`]: (a: V, b: V) => b2i(a !== b),
    [`${t}.lt_s`]: (a: V, b: V) => b2i(a < b), [`${t}.lt_u`]: (a: V, b: V) => b2i(u(a) < u(b)),
    [`${t}.gt_s`]: (a: V, b: V) => b2i(a > b), [`${t}.gt_u`]: (a: V, b: V) => b2i(u(a) > u(b)),
    [`${t}.le_s`]: (a: V, b: V) => b2i(a <= b), [`${t}.le_u`]: (a: V, b: V) => b2i(u(a) <= u(b)),
    [`${t}.ge_s`]: (a: V, b: V) => b2i(a >= b), [`${t}.ge_u`]: (a: V, b: V) => b2i(u(a) >= u(b)),
  });
}
for (const t of ["f32", "f64"] as const) {
  const r = t === "f32" ? Math.fround : (x: number) => x;
  Object.assign(UN, {
    [`${t}.abs`]: Math.abs, [`${t}.neg`]: (x: number) => -x, [`${t}.ceil`]: Math.ceil, [`${t}.floor`]: Math.floor,
    [`${t}.trunc`]: Math.trunc, [`${t}.nearest`]: nearest, [`${t}.sqrt`]: (x: number) => r(Math.sqrt(x)),
  });
  // Math.min/max already give NaN for any NaN operand and order -0 below +0, as Wasm requires.
  Object.assign(BIN, {
    [`${t}.add`]: (a: number, b: number) => r(a + b), [`${t}.sub`]: (a: number, b: number) => r(a - b),
    [`${t}.mul`]: (a: number, b: number) => r(a * b), [`${t}.div`]: (a: number, b: number) => r(a / b),
    [`${t}.min`]: Math.min, [`${t}.max`]: Math.max, [`${t}.copysign`]: copysign,
    [`${t}.eq`]: (a: number, b: number) => b2i(a === b), [`${t}.ne`]: (a: number, b: number) => b2i(a !== b),
    [`${t}.lt`]: (a: number, b: number) => b2i(a < b), [`${t}.gt`]: (a: number, b: number) => b2i(a > b),
    [`${t}.le`]: (a: number, b: number) => b2i(a <= b), [`${t}.ge`]: (a: number, b: number) => b2i(a >= b),
  });
  for (const i of ["i32", "i64"] as const)
    for (const s of ["s", "u"] as const) {
      const [lo, hi] = TRUNC[`${i}_${s}`];
      const signed = s === "s";
      UN[`${i}.trunc_${t}_${s}`] = (x: number) =>
        Number.isNaN(x) ? trap("invalid conversion to integer") : x <= lo || x >= hi ? trap("integer overflow") : fromTrunc(i, signed, Math.trunc(x));
      const min = i === "i32" ? (signed ? -2147483648 : 0) : signed ? -(1n << 63n) : 0n;
      const max = i === "i32" ? (signed ? 2147483647 : -1) : signed ? (1n << 63n) - 1n : -1n;
      UN[`${i}.trunc_sat_${t}_${s}`] = (x: number) =>
        Number.isNaN(x) ? (i === "i32" ? 0 : 0n) : x <= lo ? min : x >= hi ? max : fromTrunc(i, signed, Math.trunc(x));
    }
  UN[`${t}.convert_i32_s`] = (x: number) => r(x); UN[`${t}.convert_i32_u`] = (x: number) => r(x >>> 0);
  UN[`${t}.convert_i64_s`] = t === "f32" ? bigToF32 : (x: bigint) => Number(x);
  UN[`${t}.convert_i64_u`] = t === "f32" ? (x: bigint) => bigToF32(U64(x)) : (x: bigint) => Number(U64(x));
}

const coerce = (t: ValType, x: unknown): V =>
  t === "i32" ? Number(x) | 0 : t === "i64" ? I64(typeof x === "bigint" ? x : BigInt(x as number)) : t === "f32" ? Math.fround(Number(x)) : Number(x);
const zeroOf = (t: ValType): V => (t === "i64" ? 0n : 0);

export interface InterpreterOptions {
  /** Imported functions (and optionally global values) by module and base name. */
  imports?: Record<string, Record<string, unknown>>;
  /** Memory to run against instead of a fresh one of the module's initial size. */
  memory?: WebAssembly.Memory | ArrayBuffer | ArrayBufferView;
}

const NONE = 0, BR = 1, RET = 2;

export class Interpreter {
  /** Current global values by name. */
  readonly globals: Record<string, V> = Object.create(null);
  /** Table contents as function names (null for an empty slot). */
  readonly tables = new Map<string, (string | null)[]>();
  private readonly funcs = new Map<string, IRFunction>();
  private readonly imports: Record<string, Record<string, unknown>>;
  private readonly cfgs = new WeakMap<CfgBody, Map<number, CfgBlock>>();
  private wasmMem: WebAssembly.Memory | null = null;
  private u8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  private dv: DataView<ArrayBufferLike> = new DataView(this.u8.buffer);
  // Pending control transfer: structured code returns early while sig !== NONE.
  private sig = NONE;
  private brLabel = "";
  private brValue: V = 0;
  private retVals: V[] = [];
  /** Values of the last multi-result call, consumed by tuple.set / return. */
  private tuple: V[] = [];
  private cur: IRFunction | null = null;

  constructor(private readonly mod: IRModule, opts: InterpreterOptions = {}) {
    this.imports = opts.imports ?? {};
    for (const f of mod.functions) this.funcs.set(f.name, f);
    const m = opts.memory;
    if (m instanceof WebAssembly.Memory) this.wasmMem = m;
    else if (m instanceof ArrayBuffer) this.setBytes(new Uint8Array(m));
    else if (m) this.setBytes(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
    else if (mod.memory) {
      const { initial, maximum } = mod.memory;
      this.wasmMem = new WebAssembly.Memory(maximum !== null ? { initial, maximum } : { initial });
    }
    this.sync();
    for (const g of mod.globals) {
      const imp = g.import && this.imports[g.import.module]?.[g.import.base];
      const v = imp instanceof WebAssembly.Global ? imp.value : imp;
      this.globals[g.name] = typeof v === "number" || typeof v === "bigint" ? coerce(g.type, v) : g.init ? coerce(g.type, g.init.value) : zeroOf(g.type);
    }
    for (const t of mod.tables) {
      const slots: (string | null)[] = new Array(t.initial).fill(null);
      for (const s of t.segments) {
        if (s.offset + s.funcs.length > slots.length) trap(`element segment at ${s.offset} does not fit in table $${t.name}`);
        s.funcs.forEach((f, i) => { slots[s.offset + i] = f; });
      }
      this.tables.set(t.name, slots);
    }
    for (const d of mod.data) {
      if (d.offset === null) continue;
      if (d.offset + d.bytes.length > this.u8.length) trap(`data segment at ${d.offset} does not fit in memory`);
      this.u8.set(d.bytes, d.offset);
    }
    if (mod.start !== null) this.call(mod.start, []);
  }

  /** The memory as a DataView (use littleEndian = true) and as bytes; re-read after calls, as growing replaces the buffer. */
  get memory(): DataView { this.sync(); return this.dv; }
  get bytes(): Uint8Array { this.sync(); return this.u8; }

  private setBytes(b: Uint8Array): void { this.u8 = b; this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength); }
  private sync(): void { if (this.wasmMem && this.u8.buffer !== this.wasmMem.buffer) this.setBytes(new Uint8Array(this.wasmMem.buffer)); }

  /** Calls an exported or internal function by name; i64 values are bigints. */
  call(name: string, args: (number | bigint)[] = []): (number | bigint)[] {
    const fn = this.funcs.get(name);
    if (!fn) throw new ArgumentError(`no function $${name} in the module`);
    if (args.length !== fn.params.length) throw new ArgumentError(`$${name} takes ${fn.params.length} arguments, got ${args.length}`);
    this.sync();
    const saved = this.cur;
    this.sig = NONE;
    try {
      return this.invoke(fn, fn.params.map((t, i) => coerce(t, args[i])));
    } catch (err) {
      const where = this.cur ? ` in function $${this.cur.name}` : "";
      if (err instanceof RangeError && /call stack/i.test(err.message)) throw new TrapError(`call stack exhausted${where}`);
      if (err instanceof TrapError && !/ in function \$/.test(err.message)) throw new TrapError(err.message + where);
      throw err;
    } finally {
      this.cur = saved;
      this.sig = NONE;
    }
  }

  private invoke(fn: IRFunction, args: V[]): V[] {
    if (fn.body === null) return this.callImport(fn, args);
    const L: V[] = new Array(fn.locals.length);
    for (let i = 0; i < L.length; i++) L[i] = i < args.length ? args[i] : zeroOf(fn.locals[i]);
    const saved = this.cur;
    this.cur = fn;
    let out: V[];
    if (fn.body.kind === "cfg") out = this.runCfg(fn.body, L);
    else {
      const v = this.ev(fn.body, L);
      if (this.sig === RET) out = this.retVals;
      else if (this.sig === BR) trap(`branch to unknown label $${this.brLabel}`);
      else out = fn.results.length === 0 ? [] : fn.results.length === 1 ? [v] : this.tuple.slice();
      this.sig = NONE;
    }
    this.cur = saved;
    return out!;
  }

  private callImport(fn: IRFunction, args: V[]): V[] {
    const imp = fn.import;
    const f = imp ? this.imports[imp.module]?.[imp.base] : undefined;
    if (typeof f !== "function") return trap(`import ${imp?.module}.${imp?.base} of function $${fn.name} is not provided`);
    const r: unknown = f(...args);
    this.sync();
    if (fn.results.length === 0) return [];
    if (fn.results.length === 1) return [coerce(fn.results[0], r)];
    return Array.from(r as Iterable<unknown>, (x, i) => coerce(fn.results[i], x));
  }

  /** Calls from inside an expression: several results go to this.tuple. */
  private callValue(fn: IRFunction, args: V[]): V {
    const r = this.invoke(fn, args);
    if (r.length > 1) { this.tuple = r; return 0; }
    return r.length ? r[0] : 0;
  }

  private indirect(e: CallIndirect, idx: number): IRFunction {
    const slots = this.tables.get(e.table) ?? trap(`unknown table $${e.table}`);
    const i = idx >>> 0;
    if (i >= slots.length) trap(`undefined element ${i} in table $${e.table}`);
    const name = slots[i] ?? trap(`uninitialized element ${i} in table $${e.table}`);
    const f = this.funcs.get(name);
    const same = (a: ValType[], b: ValType[]) => a.length === b.length && a.every((t, k) => t === b[k]);
    if (!f || !same(f.params, e.params) || !same(f.results, e.results)) trap(`indirect call type mismatch calling $${name}`);
    return f!;
  }

  private addr(a: V, offset: number, n: number): number {
    const ea = ((a as number) >>> 0) + offset;
    if (ea + n > this.u8.length) trap(`out of bounds memory access at ${ea} (+${n} bytes, memory is ${this.u8.length})`);
    return ea;
  }

  private load(op: string, a: number): V {
    const d = this.dv, { type, bytes, signed } = loadOps[op] ?? trap(`unknown load op ${op}`);
    if (type === "f32") return d.getFloat32(a, true);
    if (type === "f64") return d.getFloat64(a, true);
    if (bytes === 8) return d.getBigInt64(a, true);
    const n = bytes === 1 ? (signed ? d.getInt8(a) : d.getUint8(a))
      : bytes === 2 ? (signed ? d.getInt16(a, true) : d.getUint16(a, true)) : signed ? d.getInt32(a, true) : d.getUint32(a, true);
    return type === "i32" ? n | 0 : BigInt(n);
  }

  private store(op: string, a: number, v: V): void {
    const d = this.dv, { type, bytes } = storeOps[op] ?? trap(`unknown store op ${op}`);
    if (type === "f32") return d.setFloat32(a, v as number, true);
    if (type === "f64") return d.setFloat64(a, v as number, true);
    if (bytes === 8) return d.setBigInt64(a, v as bigint, true);
    // DataView setters wrap modulo 2^width, which is exactly a Wasm narrowing store.
    const n = typeof v === "bigint" ? Number(BigInt.asUintN(bytes * 8, v)) : v;
    if (bytes === 1) d.setUint8(a, n);
    else if (bytes === 2) d.setUint16(a, n, true);
    else d.setUint32(a, n, true);
  }

  private grow(delta: number): number {
    const old = Math.floor(this.u8.length / PAGE);
    const max = Math.min(this.mod.memory?.maximum ?? PAGE, PAGE);
    if (old + delta > max) return -1;
    if (this.wasmMem) {
      try { this.wasmMem.grow(delta); } catch { return -1; }
      this.sync();
    } else {
      const b = new Uint8Array((old + delta) * PAGE);
      b.set(this.u8);
      this.setBytes(b);
    }
    return old;
  }

  private runCfg(body: CfgBody, L: V[]): V[] {
    let blocks = this.cfgs.get(body);
    if (!blocks) this.cfgs.set(body, (blocks = new Map(body.blocks.map(b => [b.id, b]))));
    const nres = this.cur!.results.length;
    const stop = (): V[] => {
      if (this.sig === BR) trap(`branch to unknown label $${this.brLabel}`);
      this.sig = NONE;
      return this.retVals;
    };
    for (let id = body.entry; ;) {
      const b = blocks.get(id) ?? trap(`no CFG block ${id}`);
      for (const s of b.body) { this.ev(s, L); if (this.sig) return stop(); }
      const x = b.exit;
      let edge: Edge;
      switch (x.kind) {
        case "goto": edge = x.edge; break;
        case "branch": { const c = this.ev(x.cond, L); if (this.sig) return stop(); edge = c !== 0 ? x.then : x.else; break; }
        case "switch": {
          const i = (this.ev(x.index, L) as number) >>> 0; if (this.sig) return stop();
          edge = i < x.targets.length ? x.targets[i] : x.default;
          break;
        }
        case "return": {
          if (!x.value) return [];
          const v = this.ev(x.value, L); if (this.sig) return stop();
          return nres > 1 ? this.tuple.slice() : [v];
        }
        case "unreachable": return trap(`unreachable executed in CFG block ${id}`);
      }
      for (const s of edge.code) { this.ev(s, L); if (this.sig) return stop(); }
      id = edge.target;
    }
  }

  /** Evaluates e; after any child, a set sig means control is leaving and the result is ignored. */
  private ev(e: Expr, L: V[]): V {
    switch (e.kind) {
      case "const": {
        const v = e.value;
        return e.type === "i32" ? (v as number) | 0 : e.type === "f32" ? Math.fround(v as number) : e.type === "i64" ? I64(v as bigint) : v;
      }
      case "local.get": return L[e.local];
      case "local.set": { const v = this.ev(e.value, L); if (this.sig) return 0; L[e.local] = v; return v; }
      case "tuple.make": {
        const vs: V[] = [];
        for (const x of e.values) { vs.push(this.ev(x, L)); if (this.sig) return 0; }
        this.tuple = vs;
        return 0;
      }
      case "tuple.set": {
        this.ev(e.value, L); if (this.sig) return 0;
        for (let i = 0; i < e.locals.length; i++) L[e.locals[i]] = this.tuple[i];
        return 0;
      }
      case "global.get": return this.globals[e.global];
      case "global.set": { const v = this.ev(e.value, L); if (this.sig) return 0; this.globals[e.global] = v; return 0; }
      case "unary": { const v = this.ev(e.value, L); if (this.sig) return 0; return (UN[e.op] ?? trap(`unknown op ${e.op}`))(v); }
      case "binary": {
        const a = this.ev(e.left, L); if (this.sig) return 0;
        const b = this.ev(e.right, L); if (this.sig) return 0;
        return (BIN[e.op] ?? trap(`unknown op ${e.op}`))(a, b);
      }
      case "select": {
        const a = this.ev(e.ifTrue, L); if (this.sig) return 0;
        const b = this.ev(e.ifFalse, L); if (this.sig) return 0;
        const c = this.ev(e.cond, L);
        return this.sig ? 0 : c !== 0 ? a : b;
      }
      case "load": {
        const a = this.ev(e.addr, L); if (this.sig) return 0;
        return this.load(e.op, this.addr(a, e.offset, loadOps[e.op]?.bytes ?? 0));
      }
      case "store": {
        const a = this.ev(e.addr, L); if (this.sig) return 0;
        const v = this.ev(e.value, L); if (this.sig) return 0;
        this.store(e.op, this.addr(a, e.offset, storeOps[e.op]?.bytes ?? 0), v);
        return 0;
      }
      case "call": case "call_indirect": {
        const args: V[] = new Array(e.args.length);
        for (let i = 0; i < args.length; i++) { args[i] = this.ev(e.args[i], L); if (this.sig) return 0; }
        if (e.kind === "call") return this.callValue(this.funcs.get(e.func) ?? trap(`unknown function $${e.func}`), args);
        const t = this.ev(e.target, L); if (this.sig) return 0;
        return this.callValue(this.indirect(e, t as number), args);
      }
      case "block": {
        let v: V = 0;
        for (const c of e.body) {
          v = this.ev(c, L);
          if (this.sig) {
            if (this.sig !== BR || this.brLabel !== e.label || e.label === null) return 0;
            this.sig = NONE;
            return this.brValue;
          }
        }
        return v;
      }
      case "loop":
        for (;;) {
          const v = this.ev(e.body, L);
          if (this.sig !== BR || this.brLabel !== e.label) return v;
          this.sig = NONE;
        }
      case "if": {
        const c = this.ev(e.cond, L); if (this.sig) return 0;
        return c !== 0 ? this.ev(e.then, L) : e.else ? this.ev(e.else, L) : 0;
      }
      case "br": {
        let v: V = 0;
        if (e.value) { v = this.ev(e.value, L); if (this.sig) return 0; }
        if (e.cond) { const c = this.ev(e.cond, L); if (this.sig || c === 0) return v; }
        return this.branch(e.label, v);
      }
      case "br_table": {
        let v: V = 0;
        if (e.value) { v = this.ev(e.value, L); if (this.sig) return 0; }
        const i = (this.ev(e.index, L) as number) >>> 0; if (this.sig) return 0;
        return this.branch(i < e.labels.length ? e.labels[i] : e.default, v);
      }
      case "return": {
        const v = e.value ? this.ev(e.value, L) : 0; if (this.sig) return 0;
        this.retVals = !e.value ? [] : this.cur!.results.length > 1 ? this.tuple.slice() : [v];
        this.sig = RET;
        return 0;
      }
      case "unreachable": return trap("unreachable executed");
      case "nop": return 0;
      case "drop": this.ev(e.value, L); return 0;
      case "memory.size": return Math.floor(this.u8.length / PAGE);
      case "memory.grow": { const d = this.ev(e.delta, L); return this.sig ? 0 : this.grow((d as number) >>> 0); }
      case "memory.copy": case "memory.fill": {
        const d = this.ev(e.dest, L); if (this.sig) return 0;
        const s = this.ev(e.kind === "memory.copy" ? e.src : e.value, L); if (this.sig) return 0;
        const n = (this.ev(e.size, L) as number) >>> 0; if (this.sig) return 0;
        const dst = this.addr(d, 0, n);
        if (e.kind === "memory.fill") this.u8.fill((s as number) & 0xff, dst, dst + n);
        else { const src = this.addr(s, 0, n); this.u8.copyWithin(dst, src, src + n); }
        return 0;
      }
      default: return trap(`unknown node kind ${String((e as { kind?: unknown }).kind)}`);
    }
  }

  private branch(label: string, v: V): V { this.sig = BR; this.brLabel = label; this.brValue = v; return 0; }
}
