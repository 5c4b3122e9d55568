// Argument handling shared by Kernel.call and autodiff: checks each argument against its
// parameter, derives the activity signature, places buffers and shadows in memory, and
// copies them back after a successful call (never after a trap, so the caller's arrays
// stay as they were).
import type { ActivitySignature, ParamActivity } from "../analysis/signature.js";
import { ArgumentError, TrapError } from "../errors.js";
import type { ValType } from "../ir/types.js";
import { isFloat } from "../ir/types.js";
import { type Annotated, describe, isAnnotated } from "./activity.js";
import type { AscParam } from "../frontend/assemblyscript.js";
import type { Kernel } from "./program.js";
import { isWasmArray, type WasmArray } from "./wasm-array.js";

export interface ArgPlan {
  param: ValType;
  activity: "const" | "active" | "dup";
  value: number | bigint | ArrayBufferView | WasmArray;
  shadow: number | ArrayBufferView | WasmArray | null;
  address: number;
  shadowAddress: number;
  /** An AssemblyScript StaticArray: the data follows an object header whose class id is rtId. */
  header?: { rtId: number };
  /**
   * An AssemblyScript Float64Array/Array<f64> parameter: the kernel gets an object (class rtId,
   * `size` bytes of fields) pointing at the data, and its shadow an object pointing at the shadow.
   */
  view?: { rtId: number; size: 12 | 16; elemBytes: number; object: number; shadowObject: number };
}

/**
 * AssemblyScript's object header before an object's data: mmInfo, gcInfo (its low bits the GC
 * colour), gcInfo2, rtId (u32) at −8, rtSize (u32, bytes) at −4. Objects the wrapper builds are
 * "transparent" (colour 3), as static data is: the incremental GC never marks, links or frees them.
 */
const AS_HEADER = 20;
const header = (rtId: number, bytes: number) => Uint32Array.of(0, 3, 0, rtId, bytes);
/** AssemblyScript's class id of ArrayBuffer, the data of a Float64Array or an Array. */
const ARRAYBUFFER_ID = 1;

/** A typed array (copied in and out) or a WasmArray (passed by address). */
const isBuffer = (x: unknown): x is ArrayBufferView | WasmArray => ArrayBuffer.isView(x) || isWasmArray(x);
const isCopied = (x: unknown): x is ArrayBufferView => ArrayBuffer.isView(x);

export function planArguments(kernel: Kernel, args: unknown[], mode: "forward" | "reverse" | "call"): ArgPlan[] {
  const fn = kernel.fn;
  if (args.length !== fn.params.length)
    throw new ArgumentError(`kernel ${kernel.name} takes ${fn.params.length} arguments (${fn.params.join(", ")}), got ${args.length}`);
  // (a loop without closures: this runs on every call, and a small kernel's call is mostly this)
  const ascParams = kernel.program.ascParams?.get(kernel.name);
  const plans: ArgPlan[] = new Array(args.length);
  for (let i = 0; i < args.length; i++) plans[i] = planArgument(kernel, args[i], i, mode, ascParams?.[i]);
  return plans;
}

/** How an argument is named in errors. */
const where = (kernel: Kernel, i: number) => `argument ${i} of ${kernel.name} (${kernel.fn.params[i]})`;

function checkOwner(kernel: Kernel, b: unknown, i: number): void {
  if (isWasmArray(b) && (b.owner !== kernel.program || b.freed))
    throw new ArgumentError(`${where(kernel, i)}: ${b.freed ? "the WasmArray was freed" : "the WasmArray belongs to another Program"}`);
}

function planArgument(kernel: Kernel, raw: unknown, i: number, mode: "forward" | "reverse" | "call", asc: AscParam | undefined): ArgPlan {
  const param = kernel.fn.params[i];
  const a: Annotated = isAnnotated(raw) ? raw : { activity: "const", value: raw as number };
  if (mode === "call" && a.activity !== "const") throw new ArgumentError(`${where(kernel, i)}: kernel.call takes plain values; use autodiff for ${a.activity} arguments`);
  if (a.activity === "batch") throw new ArgumentError(`${where(kernel, i)}: BatchDuplicated is not supported yet; call autodiff once per shadow`);
  const v = a.value as unknown;
  checkOwner(kernel, v, i);
  if (a.activity === "duplicated") checkOwner(kernel, a.shadow, i);
  const buffer = isBuffer(v);
  if (buffer) {
    if (param !== "i32") throw new ArgumentError(`${where(kernel, i)}: a buffer can only be passed for an i32 (pointer) parameter`);
  } else if (typeof v === "number" || typeof v === "bigint") {
    if (param === "i64" ? typeof v !== "bigint" && !Number.isInteger(v) : typeof v !== "number")
      throw new ArgumentError(`${where(kernel, i)}: expected a ${param === "i64" ? "bigint or integer" : "number"}, got ${describe(v)}`);
    if (param === "i32" && !Number.isInteger(v)) throw new ArgumentError(`${where(kernel, i)}: expected an integer, got ${v}`);
  } else throw new ArgumentError(`${where(kernel, i)}: expected a number or a typed array, got ${describe(v)}`);
  const value = (param === "i64" && typeof v === "number" ? BigInt(v) : v) as ArgPlan["value"];
  const plan: ArgPlan = { param, activity: "const", value, shadow: null, address: -1, shadowAddress: -1 };
  if (asc?.kind === "managed")
    throw new ArgumentError(`${where(kernel, i)}: the AssemblyScript parameter is a ${asc.type}, a managed object the wrapper cannot build; take the data as StaticArray<f64> or as a usize pointer (load<f64>(p + (<usize>i << 3)))`);
  if (asc?.kind === "staticarray") {
    const want = asc.elem === "f64" ? Float64Array : Float32Array;
    if (!(v instanceof want)) throw new ArgumentError(`${where(kernel, i)}: the AssemblyScript parameter is a StaticArray<${asc.elem}>; pass a ${want.name} (copied in, after the object header the wrapper writes)`);
    plan.header = { rtId: asc.rtId };
  }
  if (asc?.kind === "view") {
    const want = asc.elem === "f64" ? Float64Array : Float32Array;
    const type = asc.size === 12 ? `${want.name}` : `Array<${asc.elem}>`;
    if (!(v instanceof want)) throw new ArgumentError(`${where(kernel, i)}: the AssemblyScript parameter is a ${type}; pass a ${want.name} (copied in; the wrapper builds the ${type} object around it)`);
    if (a.activity === "duplicated" && !(a.shadow instanceof want)) throw new ArgumentError(`${where(kernel, i)}: the shadow of a ${type} parameter must be a ${want.name} too (the wrapper builds a shadow object around it)`);
    plan.header = { rtId: ARRAYBUFFER_ID };
    plan.view = { rtId: asc.rtId, size: asc.size, elemBytes: want.BYTES_PER_ELEMENT, object: -1, shadowObject: -1 };
  }
  if (a.activity === "active") {
    if (mode !== "reverse") throw new ArgumentError(`${where(kernel, i)}: Active is for reverse mode; in forward mode pass Duplicated(value, tangent)`);
    if (!isFloat(param)) throw new ArgumentError(`${where(kernel, i)}: only float (f32/f64) parameters can be Active; pass integers as Const`);
    plan.activity = "active";
  } else if (a.activity === "duplicated") {
    if (buffer) {
      if (!isBuffer(a.shadow)) throw new ArgumentError(`${where(kernel, i)}: the shadow of a buffer must be a typed array, got ${describe(a.shadow)}`);
      if (a.shadow.byteLength !== (v as ArrayBufferView | WasmArray).byteLength)
        throw new ArgumentError(`${where(kernel, i)}: the shadow has ${a.shadow.byteLength} bytes but its buffer has ${(v as ArrayBufferView | WasmArray).byteLength}; they must be equal`);
      plan.activity = "dup";
    } else {
      if (!isFloat(param)) throw new ArgumentError(`${where(kernel, i)}: only float parameters and buffers can be Duplicated; pass integers as Const`);
      if (mode === "reverse") throw new ArgumentError(`${where(kernel, i)}: a scalar is Active in reverse mode (its derivative comes back in r.derivs); Duplicated(value, tangent) is for forward mode`);
      if (typeof a.shadow !== "number") throw new ArgumentError(`${where(kernel, i)}: the tangent of a scalar must be a number, got ${describe(a.shadow)}`);
      plan.activity = "active";
    }
    plan.shadow = a.shadow as ArgPlan["shadow"];
  }
  return plan;
}

export function signatureOf(kernel: Kernel, plans: ArgPlan[]): ActivitySignature {
  const params: ParamActivity[] = plans.map((p) => (p.activity === "dup" ? "dup" : p.activity === "active" ? "active" : isBuffer(p.value) ? "const-ptr" : "const"));
  const r = kernel.fn.results;
  return { params, resultActive: r.length === 1 && isFloat(r[0]) };
}

/** An argument's buffer (k even) or its shadow (k odd), if it is one. */
const bufferAt = (plans: ArgPlan[], k: number): unknown => (k & 1 ? plans[k >> 1].shadow : plans[k >> 1].value);
const bufferName = (k: number) => (k & 1 ? `the shadow of argument ${k >> 1}` : `argument ${k >> 1}`);

/** Refuses arguments whose memory overlaps: each argument gets its own copy, so aliasing could not be honoured. */
function checkAliasing(kernel: Kernel, plans: ArgPlan[]): void {
  // (pairs of buffers without building lists: this runs on every call)
  const n = 2 * plans.length;
  for (let i = 0; i < n; i++) {
    const a = bufferAt(plans, i);
    if (typeof a !== "object" || a === null) continue;
    for (let j = i + 1; j < n; j++) {
      const b = bufferAt(plans, j);
      if (typeof b !== "object" || b === null) continue;
      if (isWasmArray(a) && isWasmArray(b)) {
        if (a.byteLength && b.byteLength && a.address < b.address + b.byteLength && b.address < a.address + a.byteLength)
          throw new ArgumentError(`${kernel.name}: ${bufferName(i)} and ${bufferName(j)} share memory; pass separate buffers (aliased arguments are not supported)`);
      } else if (isCopied(a) && isCopied(b)) {
        if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) continue;
        if (a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength)
          throw new ArgumentError(`${kernel.name}: ${bufferName(i)} and ${bufferName(j)} share memory; pass separate arrays (aliased arguments are not supported)`);
      }
    }
  }
}

/** Places buffers and shadows in the scratch region; returns the tape base. */
export function placeArguments(kernel: Kernel, plans: ArgPlan[], tapeReserve: number): number {
  checkAliasing(kernel, plans);
  const arena = kernel.program.beginCall();
  for (const p of plans) {
    if (isWasmArray(p.value)) p.address = p.value.address;
    else if (isCopied(p.value) && p.header) p.address = arena.place(64 + p.value.byteLength) + 64; // room for the header, data still aligned
    else if (isCopied(p.value)) p.address = arena.place(p.value.byteLength);
    if (isWasmArray(p.shadow)) p.shadowAddress = p.shadow.address;
    else if (isCopied(p.shadow) && p.view) p.shadowAddress = arena.place(64 + p.shadow.byteLength) + 64;
    else if (isCopied(p.shadow)) p.shadowAddress = arena.place(p.shadow.byteLength);
    if (p.view) {
      p.view.object = arena.place(64 + p.view.size) + 64;
      if (p.shadow) p.view.shadowObject = arena.place(64 + p.view.size) + 64;
    }
  }
  const tapeBase = arena.place(0);
  // (one read of the memory's size when it is large enough already, as it is after the first call)
  if (tapeBase + Math.max(tapeReserve, 64) > arena.memory.buffer.byteLength) {
    arena.ensure(tapeBase + 64);
    arena.tryEnsure(tapeBase + tapeReserve);
  }
  for (const p of plans) {
    if (isCopied(p.value)) arena.write(p.address, p.value);
    if (isCopied(p.value) && p.header) arena.write(p.address - AS_HEADER, header(p.header.rtId, p.value.byteLength));
    if (isCopied(p.shadow)) arena.write(p.shadowAddress, p.shadow);
    if (p.view && isCopied(p.value)) {
      const bytes = p.value.byteLength, length = bytes / p.view.elemBytes;
      const object = (at: number, data: number) => {
        arena.write(at - AS_HEADER, header(p.view!.rtId, p.view!.size));
        arena.write(at, p.view!.size === 12 ? Uint32Array.of(data, data, bytes) : Uint32Array.of(data, data, bytes, length));
      };
      object(p.view.object, p.address);
      if (p.view.shadowObject >= 0) { arena.write(p.shadowAddress - AS_HEADER, header(ARRAYBUFFER_ID, bytes)); object(p.view.shadowObject, p.shadowAddress); }
    }
  }
  return tapeBase;
}

export function copyBack(kernel: Kernel, plans: ArgPlan[]): void {
  const arena = kernel.program.arena;
  const writes = kernel.mayWriteMemory;
  for (const p of plans) {
    if (writes && isCopied(p.value)) arena.read(p.address, p.value);
    if (isCopied(p.shadow)) arena.read(p.shadowAddress, p.shadow);
  }
}

/** The primal value passed for an argument: its address for buffers, its object for Float64Array/Array parameters. */
export const primalArg = (p: ArgPlan): number | bigint => (p.view ? p.view.object : isBuffer(p.value) ? p.address : p.value);
/** The shadow passed for a Duplicated buffer: its address, or its shadow object. */
export const shadowArg = (p: ArgPlan): number => (p.view ? p.view.shadowObject : p.shadowAddress);

/**
 * In derivative code a shadow access through a pointer kept in memory whose shadow word holds
 * no shadow (src/ad/memory-pointers.ts) traps as out of bounds, on purpose.
 */
const UNTRACKED_POINTER = "; in derivative code this is also how a pointer without a shadow stops the call: a pointer kept in memory (a struct field, a C stack slot at -O0) that came from an integer, from a function's return value, from a choice between two buffers (a select) or from memory the derivative code did not see written was used to reach data that carries derivatives; pass such data as a Duplicated buffer argument, or build with -O1 or higher so pointers stay in locals";

export function runGuarded<T>(kernel: Kernel, f: () => T, derivative = false, stopped: () => Error | null = () => null): T {
  try {
    return f();
  } catch (e) {
    throw trapped(kernel, e, derivative, stopped);
  }
}

/** What a call that threw throws on: a Wasm trap becomes the error that says why. */
export function trapped(kernel: Kernel, e: unknown, derivative: boolean, stopped: () => Error | null): unknown {
  if (!(e instanceof WebAssembly.RuntimeError)) return e;
  return kernel.program.heapExhausted(kernel.name) ?? stopped() ?? new TrapError(`kernel ${kernel.name} trapped: ${e.message}; the caller's arrays were left unchanged${derivative && /out of bounds/.test(e.message) ? UNTRACKED_POINTER : ""}`, { cause: e });
}

export function callKernel(kernel: Kernel, args: unknown[]): number | bigint | undefined {
  const plans = planArguments(kernel, args, "call");
  placeArguments(kernel, plans, 0);
  const tiers = kernel.program.primal;
  // (tiered: a primal that has run as long as the program's creation took is optimized now)
  if (tiers.due) tiers.optimize();
  const f = tiers.fn(kernel.name);
  const timed = tiers.timed;
  const t0 = timed ? performance.now() : 0;
  const r = runGuarded(kernel, () => f(...plans.map(primalArg))) as number | bigint | undefined;
  if (timed) tiers.ran(performance.now() - t0);
  copyBack(kernel, plans);
  return r;
}
