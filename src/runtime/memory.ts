// Placement of a call's buffers, shadows and tape in the program's linear memory:
//   [kernel's pages][reserve for the kernel's own heap][zero-copy buffers][per-call scratch]
// The scratch region is laid out anew per call above the kernel's current pages, so nothing
// accumulates across calls; the tape starts above the last shadow and grows memory when it
// needs to. The kernel sees only its own pages (prepare.ts) and may grow into the reserve.
import { TrapError } from "../errors.js";

const PAGE = 65536;
export const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

export class ScratchArena {
  private top = 0;

  /**
   * `kernelPages`: the kernel's own page count (its virtual memory.size, see prepare.ts).
   * `reserve`: bytes above those pages kept free for the kernel's allocations during a call.
   */
  constructor(readonly memory: WebAssembly.Memory, private readonly kernelPages: () => number, readonly reserve: number) {
    this.heap = new ProgramHeap(this);
  }

  /** Zero-copy buffers (program.alloc) live above the kernel's memory and its reserve, below the scratch region. */
  readonly heap: ProgramHeap;

  /** The lowest address the runtime may place anything at now. */
  floor(pages = this.kernelPages()): number { return alignUp(Math.max(64, pages * PAGE + this.reserve), 64); }

  /**
   * Starts a call's layout. Returns the page the kernel may grow to during the call: the first
   * page the runtime uses (its live zero-copy buffers, else this call's scratch region).
   */
  reset(pages = this.kernelPages()): number {
    this.top = Math.max(this.floor(pages), this.heap.live ? this.heap.top : 0);
    return Math.floor((this.heap.live ? this.heap.start : this.top) / PAGE);
  }

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

  // (views of the whole memory, re-made when growth detaches them: a small call's copies
  // would otherwise build two views each; Float64Array to Float64Array copies bytes as they are)
  private views: { buffer: ArrayBuffer; u8: Uint8Array; f64: Float64Array } | null = null;
  private memoryViews(): { u8: Uint8Array; f64: Float64Array } {
    const buffer = this.memory.buffer;
    if (this.views?.buffer !== buffer) this.views = { buffer, u8: new Uint8Array(buffer), f64: new Float64Array(buffer) };
    return this.views;
  }

  write(address: number, view: ArrayBufferView): void {
    const m = this.memoryViews();
    if (view instanceof Float64Array && (address & 7) === 0) m.f64.set(view, address >>> 3);
    else m.u8.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), address);
  }

  read(address: number, into: ArrayBufferView): void {
    const m = this.memoryViews();
    // (subarray would clamp where a view's constructor throws)
    if (address + into.byteLength > m.u8.length) throw new RangeError(`read of ${into.byteLength} bytes at ${address} is beyond the memory's ${m.u8.length}`);
    if (into instanceof Float64Array && (address & 7) === 0) into.set(m.f64.subarray(address >>> 3, (address >>> 3) + into.length));
    else new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(m.u8.subarray(address, address + into.byteLength));
  }
}

/**
 * A first-fit allocator for zero-copy buffers, in the region between the kernel's reserve and
 * each call's scratch region (which starts above the highest live buffer).
 */
export class ProgramHeap {
  private readonly blocks = new Map<number, number>();
  private readonly holes: { at: number; size: number }[] = [];
  /** Where the buffers begin, and the end of the highest (meaningful while any is live). */
  start = 0;
  top = 0;

  constructor(private readonly arena: ScratchArena) {}

  get memory(): WebAssembly.Memory { return this.arena.memory; }
  get live(): boolean { return this.blocks.size > 0; }

  alloc(bytes: number): number {
    const size = alignUp(Math.max(bytes, 1), 64);
    // an empty heap starts afresh above the kernel's pages as they are now, and its reserve
    if (!this.live) { this.holes.length = 0; this.start = this.top = this.arena.floor(); }
    const i = this.holes.findIndex((h) => h.size >= size);
    let at: number;
    if (i >= 0) {
      const h = this.holes[i];
      at = h.at;
      if (h.size === size) this.holes.splice(i, 1); else { h.at += size; h.size -= size; }
    } else {
      // the kernel never grows past `start` while buffers live (reset() limits it), so `top` is free
      at = this.top;
      this.arena.ensure(at + size);
      this.top = at + size;
    }
    this.blocks.set(at, size);
    new Uint8Array(this.memory.buffer, at, size).fill(0);
    return at;
  }

  free(at: number): void {
    const size = this.blocks.get(at);
    if (size === undefined) return;
    this.blocks.delete(at);
    this.holes.push({ at, size });
    this.holes.sort((a, b) => a.at - b.at);
    // merge neighbours, and give the top back
    for (let k = this.holes.length - 2; k >= 0; k--) {
      const a = this.holes[k], b = this.holes[k + 1];
      if (a.at + a.size === b.at) { a.size += b.size; this.holes.splice(k + 1, 1); }
    }
    const last = this.holes[this.holes.length - 1];
    if (last && last.at + last.size === this.top) { this.top = last.at; this.holes.pop(); }
  }
}
