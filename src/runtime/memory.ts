// Placement of a call's buffers, shadows and tape in the program's linear memory. Every
// call uses a scratch region above the module's own memory (its data and heap as it was
// at instantiation), laid out anew per call, so nothing accumulates across calls; the
// tape starts above the last shadow and grows memory when it needs to.
import { TrapError } from "../errors.js";

const PAGE = 65536;
export const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

export class ScratchArena {
  /** First address the runtime places data at. */
  readonly base: number;
  private top: number;

  /** `kernelPages`: the highest page the kernel has grown memory to (its own pages stay untouched). */
  constructor(readonly memory: WebAssembly.Memory, private readonly kernelPages: () => number = () => 0) {
    this.base = Math.max(64, alignUp(memory.buffer.byteLength, 64));
    this.top = this.base;
  }

  reset(): void { this.top = Math.max(this.base, this.kernelPages() * PAGE); }

  /** Reserves `bytes` at a 64-byte aligned address (so shadow − primal offsets keep alignment). */
  place(bytes: number): number {
    const a = alignUp(this.top, 64);
    this.top = a + Math.max(bytes, 0);
    return a;
  }

  get end(): number { return this.top; }

  /** Grows memory so that addresses below `end` exist. */
  ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch {
      throw new TrapError(`out of memory: cannot grow the module's memory to ${end} bytes (the limit is 4 GiB, or the module's declared maximum); the caller's arrays were left unchanged`);
    }
  }

  /** Like ensure, but settles for what can be had (a head start for the tape, not a requirement). */
  tryEnsure(end: number): void {
    try { this.ensure(end); } catch { /* the tape grows on demand inside the call */ }
  }

  write(address: number, view: ArrayBufferView): void {
    new Uint8Array(this.memory.buffer, address, view.byteLength).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  }

  read(address: number, into: ArrayBufferView): void {
    new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(new Uint8Array(this.memory.buffer, address, into.byteLength));
  }
}
