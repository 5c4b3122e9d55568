// Zero-copy buffers: typed arrays that live in the program's linear memory. A WasmArray is
// passed to kernels by address and never copied; its `array` view is re-created when memory
// growth detaches the old one. Structs holding pointers are built from such handles.
import { ArgumentError } from "../errors.js";
import type { ProgramHeap } from "./memory.js";

export type TypedArray = Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array | BigInt64Array | BigUint64Array;
export interface TypedArrayConstructor<T extends TypedArray> {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

export class WasmArray<T extends TypedArray = TypedArray> {
  private view: T | null = null;
  private released = false;

  /** @internal created by program.alloc */
  constructor(private readonly heap: ProgramHeap, readonly owner: object, private readonly ctor: TypedArrayConstructor<T>,
    /** Byte address in the program's memory. */
    readonly address: number,
    /** Number of elements. */
    readonly length: number) {}

  get byteLength(): number { return this.length * this.ctor.BYTES_PER_ELEMENT; }
  get freed(): boolean { return this.released; }

  /** A live view of the data (re-created after memory growth detached the previous one). */
  get array(): T {
    if (this.released) throw new ArgumentError(`this ${this.ctor.name} was freed`);
    const buf = this.heap.memory.buffer;
    if (!this.view || this.view.buffer !== buf) this.view = new this.ctor(buf, this.address, this.length);
    return this.view;
  }

  free(): void {
    if (this.released) return;
    this.released = true;
    this.view = null;
    this.heap.free(this.address);
  }

  toString(): string { return `WasmArray<${this.ctor.name}>(${this.length} at ${this.address})`; }
}

export const isWasmArray = (x: unknown): x is WasmArray => x instanceof WasmArray;
