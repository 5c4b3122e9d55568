// The runtime's instantiation: synchronous where the engine allows it, asynchronous where it
// refuses (a browser's main thread above 4 KB throws a RangeError), errors passed on.
import { afterEach, describe, expect, it, vi } from "vitest";
import { instantiate } from "../../src/runtime/instantiate.js";

// (module (func (export "f") (result i32) (i32.const 42)))
const bytes = Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 6, 1, 4, 0, 65, 42, 11);
const f = (i: WebAssembly.Instance) => (i.exports.f as () => number)();

describe("instantiate", () => {
  afterEach(() => vi.restoreAllMocks());
  it("instantiates synchronously, without the background compile's wait", async () => {
    const spy = vi.spyOn(WebAssembly, "instantiate");
    expect(f(await instantiate(bytes, {}))).toBe(42);
    expect(spy).not.toHaveBeenCalled();
  });
  it("falls back to WebAssembly.instantiate where synchronous compilation is refused", async () => {
    const refused = vi.spyOn(WebAssembly, "Module").mockImplementation(function () { throw new RangeError("WebAssembly.Module(): Buffer size is larger than 4KB"); });
    const spy = vi.spyOn(WebAssembly, "instantiate");
    expect(f(await instantiate(bytes, {}))).toBe(42);
    expect(refused).toHaveBeenCalled();
    expect(spy).toHaveBeenCalledTimes(1);
  });
  it("falls back where synchronous instantiation is refused", async () => {
    vi.spyOn(WebAssembly, "Instance").mockImplementation(function () { throw new RangeError("WebAssembly.Instance is disallowed on the main thread"); });
    const spy = vi.spyOn(WebAssembly, "instantiate");
    expect(f(await instantiate(bytes, {}))).toBe(42);
    expect(spy).toHaveBeenCalledTimes(1);
  });
  it("passes compile and link errors on", async () => {
    await expect(instantiate(bytes.slice(0, 20), {})).rejects.toThrow(WebAssembly.CompileError);
    // (module (import "env" "g" (func)))
    const importing = Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 9, 1, 3, 101, 110, 118, 1, 103, 0, 0);
    await expect(instantiate(importing, {})).rejects.toThrow(TypeError);
    await expect(instantiate(importing, { env: { g: 1 } })).rejects.toThrow(WebAssembly.LinkError);
  });
});
