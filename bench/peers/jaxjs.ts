// jax-js 0.1.25 adapter: imports jax-js and starts its Wasm device once, before any first-call
// timing. Each kernel's jax-js version (bench/peers/kernels/) is jit(valueAndGrad(f)) over
// float64 arrays kept resident between calls (passed with .ref, since every argument is
// consumed), the gradient read back with dataSync() on every call. jax-js has no loop
// primitives (no scan/fori_loop): loops unroll at trace time.
let ready: Promise<any> | null = null;

export async function load(): Promise<any> {
  // np.array needs Float16Array, which Node 20 lacks; jax-js only tests for its presence here.
  const g = globalThis as Record<string, unknown>;
  if (!g.Float16Array) g.Float16Array = class Float16Array extends Float32Array {};
  ready ??= (async () => {
    const jax = await import("@jax-js/jax");
    await jax.init("wasm"); // init() without a device throws `navigator is not defined` in Node
    jax.defaultDevice("wasm");
    return jax;
  })();
  return ready;
}

/** A resident float64 array. */
export const f64 = (jax: any, data: ArrayLike<number>, shape?: number[]) => {
  const a = jax.numpy.array(Float64Array.from(data), { dtype: jax.numpy.float64 });
  return shape ? a.reshape(shape) : a;
};
