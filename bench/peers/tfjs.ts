// TensorFlow.js 4.22.0 adapter (the union package, which registers the gradients), on its
// `cpu` (plain JS) or `wasm` (XNNPACK, single-threaded SIMD in Node) backend. Each kernel's
// tfjs version (bench/peers/kernels/) is tf.valueAndGrads over resident float32 tensors inside
// tf.tidy, eager ops on a tape (no control flow: loops run eagerly, op by op), the gradient
// read with dataSync() on every call. float32 only: checked against ours to 1e-3.
let tfp: Promise<any> | null = null;

/** Imports tfjs and the wasm backend and initializes both backends (once, before any first-call timing). */
export async function load(): Promise<any> {
  tfp ??= (async () => {
    const warn = console.warn, info = console.log;
    console.warn = console.log = () => {}; // tfjs prints a banner recommending tfjs-node
    try {
      const tf = await import("@tensorflow/tfjs");
      await import("@tensorflow/tfjs-backend-wasm"); // registers the "wasm" backend
      for (const b of ["wasm", "cpu"]) { await tf.setBackend(b); await tf.ready(); }
      return tf;
    } finally { console.warn = warn; console.log = info; }
  })();
  return tfp;
}

/** tfjs has one global backend: bench/peers.ts calls a run's setup() (this) before each sample,
 *  untimed; a resident tensor moves to the selected backend on its first use there. */
export async function use(tf: any, backend: string): Promise<void> {
  if (tf.getBackend() !== backend) { await tf.setBackend(backend); await tf.ready(); }
}

/**
 * The usual tfjs gradient call: valueAndGrads of f over the given resident tensors, in tidy,
 * gradients read back with dataSync() and concatenated in the case's layout.
 */
export function gradCall(tf: any, f: (...xs: any[]) => any, inputs: any[]): { call: () => Float32Array[] } {
  const vg = tf.valueAndGrads(f);
  return {
    call: () => {
      const grads = tf.tidy(() => { const { value, grads } = vg(inputs); value.dispose(); return grads; });
      const out = grads.map((g: { dataSync: () => Float32Array }) => g.dataSync());
      for (const g of grads) g.dispose();
      return out;
    },
  };
}
