// Dense matrix product with hand-written derivative rules (Program.rule), and a kernel
// that uses it.
//
//   matmul(a, b, c, n)          C = A·B; a, b, c: f64[n·n], row-major; c is overwritten
//   matmul_loss(a, b, c, n): f64
//                               C = A·B, then returns Σ_ij C_ij² (C keeps the product)
//   two_layer(a, b, w, t, c, n): f64
//                               T = tanh(A·B) (in place in t), C = T·W, returns Σ_ij C_ij²:
//                               two call sites, whose activity patterns differ (A Const
//                               makes only the first one ["const", "dup", "dup", "const"])
//
// Rules (Enzyme's conventions, src/ad/custom-rules.ts):
//   matmul_fwd(a, da, b, db, c, dc, n)   all active: C = A·B and dC = dA·B + A·dB
//   matmul_rev(a, da, b, db, c, dc, n)   all active: with Ĉ = dc (the adjoint of C on
//                                        entry), dA += Ĉ·Bᵀ, dB += Aᵀ·Ĉ, then dc ← 0 (C was
//                                        overwritten: its seed is consumed)
//   matmul_fwd_constA(a, b, db, c, dc, n)   for when: ["const", "dup", "dup", "const"]
//   matmul_rev_constA(a, b, db, c, dc, n)   (A has no shadow): dC = A·dB; dB += Aᵀ·Ĉ
//
//   program.rule("matmul", { forward: "matmul_fwd", reverse: "matmul_rev" })
//          .rule("matmul", { forward: "matmul_fwd_constA", reverse: "matmul_rev_constA",
//                            when: ["const", "dup", "dup", "const"] });
//
// The all-active rules serve every other call site, specialised by wasm-autodiff (a Const
// B's shadow is discarded and its terms folded away); the constA pair is that
// specialisation written by hand, to compare the two. The reverse rules run in the
// reverse sweep, after matmul itself ran in the forward sweep: they read A and B from
// memory, so a kernel must not overwrite A or B after the call (else give an `augmented`
// rule that keeps them). All functions are exported, so that asc keeps them as functions.

@inline function at(p: usize, i: i32): usize {
  return p + (<usize>i << 3);
}

/** C = A·B (n×n, row-major). */
export function matmul(a: usize, b: usize, c: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0.0;
      for (let k = 0; k < n; k++) s += load<f64>(at(a, i * n + k)) * load<f64>(at(b, k * n + j));
      store<f64>(at(c, i * n + j), s);
    }
  }
}

/** Forward rule, all active: C = A·B, dC = dA·B + A·dB (one fused loop). */
export function matmul_fwd(a: usize, da: usize, b: usize, db: usize, c: usize, dc: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0.0, ds = 0.0;
      for (let k = 0; k < n; k++) {
        const aik = load<f64>(at(a, i * n + k)), bkj = load<f64>(at(b, k * n + j));
        s += aik * bkj;
        ds += load<f64>(at(da, i * n + k)) * bkj + aik * load<f64>(at(db, k * n + j));
      }
      store<f64>(at(c, i * n + j), s);
      store<f64>(at(dc, i * n + j), ds);
    }
  }
}

/** Reverse rule, all active: dA += Ĉ·Bᵀ, dB += Aᵀ·Ĉ, Ĉ ← 0 (one fused loop). */
export function matmul_rev(a: usize, da: usize, b: usize, db: usize, c: usize, dc: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const g = load<f64>(at(dc, i * n + j));
      store<f64>(at(dc, i * n + j), 0.0);
      for (let k = 0; k < n; k++) {
        store<f64>(at(da, i * n + k), load<f64>(at(da, i * n + k)) + g * load<f64>(at(b, k * n + j)));
        store<f64>(at(db, k * n + j), load<f64>(at(db, k * n + j)) + load<f64>(at(a, i * n + k)) * g);
      }
    }
  }
}

/** Forward rule for a Const A: C = A·B, dC = A·dB. */
export function matmul_fwd_constA(a: usize, b: usize, db: usize, c: usize, dc: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0.0, ds = 0.0;
      for (let k = 0; k < n; k++) {
        const aik = load<f64>(at(a, i * n + k));
        s += aik * load<f64>(at(b, k * n + j));
        ds += aik * load<f64>(at(db, k * n + j));
      }
      store<f64>(at(c, i * n + j), s);
      store<f64>(at(dc, i * n + j), ds);
    }
  }
}

/** Reverse rule for a Const A: dB += Aᵀ·Ĉ, Ĉ ← 0. */
export function matmul_rev_constA(a: usize, b: usize, db: usize, c: usize, dc: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const g = load<f64>(at(dc, i * n + j));
      store<f64>(at(dc, i * n + j), 0.0);
      for (let k = 0; k < n; k++) {
        store<f64>(at(db, k * n + j), load<f64>(at(db, k * n + j)) + load<f64>(at(a, i * n + k)) * g);
      }
    }
  }
}

/** C = A·B; returns Σ C_ij². */
export function matmul_loss(a: usize, b: usize, c: usize, n: i32): f64 {
  matmul(a, b, c, n);
  let s = 0.0;
  for (let i = 0; i < n * n; i++) {
    const v = load<f64>(at(c, i));
    s += v * v;
  }
  return s;
}

/** T = tanh(A·B), C = T·W; returns Σ C_ij². */
export function two_layer(a: usize, b: usize, w: usize, t: usize, c: usize, n: i32): f64 {
  matmul(a, b, t, n);
  for (let i = 0; i < n * n; i++) store<f64>(at(t, i), Math.tanh(load<f64>(at(t, i))));
  matmul(t, w, c, n);
  let s = 0.0;
  for (let i = 0; i < n * n; i++) {
    const v = load<f64>(at(c, i));
    s += v * v;
  }
  return s;
}
