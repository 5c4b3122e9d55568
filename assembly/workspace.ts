// Kernels that allocate their working memory (StaticArray, Float64Array, heap.alloc): each
// allocation gets a shadow block in derivative code. For ahead-of-time builds the runtime's
// allocator must stay a call (asc -O3 inlines it otherwise): pass the transform
// `KeepAllocatorCalls` (src/frontend/assemblyscript.ts) to asc, as the README shows.

/** Σ_i s_i after `rounds` smoothing passes over a copy of x[0..n): s ← s_i·s_{i+1 mod n} + s_i/2. */
export function smooth(x: usize, n: i32, rounds: i32): f64 {
  let cur = new StaticArray<f64>(n);
  for (let i = 0; i < n; i++) cur[i] = load<f64>(x + (<usize>i << 3));
  for (let r = 0; r < rounds; r++) {
    const next = new StaticArray<f64>(n);
    for (let i = 0; i < n; i++) next[i] = cur[i] * cur[(i + 1) % n] + 0.5 * cur[i];
    cur = next;
  }
  let s = 0.0;
  for (let i = 0; i < n; i++) s += cur[i];
  return s;
}

/** Σ_i tanh(x_i)·x_i² through a Float64Array temporary and a heap.alloc one. */
export function temporaries(x: usize, n: i32): f64 {
  const t = new Float64Array(n);
  const u = heap.alloc(<usize>n << 3);
  for (let i = 0; i < n; i++) { t[i] = load<f64>(x + (<usize>i << 3)); store<f64>(u + (<usize>i << 3), Math.tanh(t[i])); }
  let s = 0.0;
  for (let i = 0; i < n; i++) s += load<f64>(u + (<usize>i << 3)) * t[i] * t[i];
  heap.free(u);
  return s;
}
