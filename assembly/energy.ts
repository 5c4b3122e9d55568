// The C corpus kernels of corpus/c/energy.c, written in AssemblyScript, for bench/c-vs-as.ts:
//   energy(x, n, k) = Σ_{i<n−1} k (x[i+1] − x[i])² + sin(x[i]) · exp(−x[i]²)
//   softplus_tanh(x, n, w, c) = Σ log(1 + exp(w·x[i])) + |x[i]|·c, x updated in place to tanh(x)  (f32)

export function energy(x: usize, n: i32, k: f64): f64 {
  let s = 0.0;
  for (let i = 0; i + 1 < n; i++) {
    const xi = load<f64>(x + (<usize>i << 3));
    const d = load<f64>(x + (<usize>(i + 1) << 3)) - xi;
    s += k * d * d + Math.sin(xi) * Math.exp(-xi * xi);
  }
  return s;
}

export function softplus_tanh(x: usize, n: i32, w: f32, c: f32): f32 {
  let s: f32 = 0;
  for (let i = 0; i < n; i++) {
    const xi = load<f32>(x + (<usize>i << 2));
    s += Mathf.log(1.0 + Mathf.exp(w * xi)) + Mathf.abs(xi) * c;
    store<f32>(x + (<usize>i << 2), Mathf.tanh(xi));
  }
  return s;
}
