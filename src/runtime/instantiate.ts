// Instantiating a module the runtime built (the lifted primal, a derivative module) without
// the wait of WebAssembly.instantiate: that hands the compile to background threads and its
// result comes back a task later, often 10 ms or more for a module of a few hundred bytes on
// a busy machine, a third of a small kernel's first call; compiling synchronously takes
// microseconds for such a module. Browsers refuse synchronous compilation and instantiation
// on the main thread above a size (Chrome: 4 KB) with a RangeError: then the asynchronous
// path is taken.

export async function instantiate(bytes: Uint8Array, imports: WebAssembly.Imports): Promise<WebAssembly.Instance> {
  return instantiateNow(bytes, imports) ?? (await WebAssembly.instantiate(bytes as BufferSource, imports)).instance;
}

/** The instance, compiled and instantiated synchronously; null where the engine refuses that (then use instantiate). */
export function instantiateNow(bytes: Uint8Array, imports: WebAssembly.Imports): WebAssembly.Instance | null {
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), imports);
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
}
