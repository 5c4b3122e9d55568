// The hand-written adjoints in AssemblyScript (assembly/hand/<kernel>.ts): each holds only the
// gradient code and is compiled after its primal, assembly/<kernel>.ts, as one source (the
// primal's helpers and export serve both), with the same asc flags as our kernels; the module
// is instantiated and buffers are laid out in its memory.
// Each kernel file's `hand` adapter (bench/peers/kernels/) calls its exports on that data:
// the inputs stay resident, as a hand-written Wasm adjoint would be used.
import { assemblySource, compileAsc, jsMathImports } from "./asc.js";

export class HandModule {
  private top: number;
  private constructor(readonly exports: Record<string, unknown>, readonly memory: WebAssembly.Memory) {
    this.top = Math.max(1024, align(memory.buffer.byteLength)); // above the module's static data, and never at address 0
  }

  /** assembly/<file> followed by assembly/hand/<file>, compiled as one AssemblyScript source. */
  static async load(file: string, math: "js" | "wasm" = "js"): Promise<HandModule> {
    const module = new WebAssembly.Module(await compileAsc(assemblySource(file) + "\n" + assemblySource(`hand/${file}`), math));
    const instance = new WebAssembly.Instance(module, jsMathImports(module));
    return new HandModule(instance.exports as Record<string, unknown>, instance.exports.memory as WebAssembly.Memory);
  }

  /** An exported function. */
  fn(name: string): (...a: number[]) => number {
    const f = this.exports[name];
    if (typeof f !== "function") throw new Error(`hand module: no export ${name}`);
    return f as (...a: number[]) => number;
  }

  /** Reserves bytes (64-byte aligned, memory grown as needed) and returns the address. */
  alloc(bytes: number): number {
    const addr = this.top;
    this.top = align(addr + bytes);
    const need = this.top - this.memory.buffer.byteLength;
    if (need > 0) this.memory.grow(Math.ceil(need / 65536));
    return addr;
  }

  /** Reserves room for `data` and copies it in. */
  put(data: Float64Array | Int32Array): number {
    const addr = this.alloc(data.byteLength);
    new Uint8Array(this.memory.buffer, addr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return addr;
  }

  /** A live view (views die when memory grows: take them after all allocations, or re-take). */
  f64(addr: number, length: number): Float64Array {
    return new Float64Array(this.memory.buffer, addr, length);
  }
}

const align = (n: number) => Math.ceil(n / 64) * 64;
