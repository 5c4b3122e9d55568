// A one-hidden-layer perceptron, out = Σ_j v_j tanh(Σ_i W_ji x_i + b_j) + c, whose hidden layer
// is a Vec<f64> allocated per call. In the corpus because the Vec brings Rust's allocator
// (`__rust_alloc`, `__rust_dealloc`, dlmalloc) into the module, so the hidden layer is a block
// allocated inside the kernel that needs a shadow block, and tanh comes from std's libm.
use core::slice;

/// `w` holds W (n_hidden × n_in, row-major), then b (n_hidden), v (n_hidden) and c (1).
#[no_mangle]
pub extern "C" fn mlp(x: *const f64, w: *const f64, n_in: i32, n_hidden: i32) -> f64 {
    let (ni, nh) = (n_in as usize, n_hidden as usize);
    let x = unsafe { slice::from_raw_parts(x, ni) };
    let w = unsafe { slice::from_raw_parts(w, nh * ni + 2 * nh + 1) };
    let (wm, rest) = w.split_at(nh * ni);
    let (b, rest) = rest.split_at(nh);
    let (v, c) = rest.split_at(nh);
    let mut hidden: Vec<f64> = Vec::with_capacity(nh);
    for j in 0..nh {
        let row = &wm[j * ni..(j + 1) * ni];
        let mut z = b[j];
        for i in 0..ni {
            z += row[i] * x[i];
        }
        hidden.push(z.tanh());
    }
    let mut out = c[0];
    for j in 0..nh {
        out += v[j] * hidden[j];
    }
    out
}
