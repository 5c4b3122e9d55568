// A one-hidden-layer perceptron, out = c + Σ_j v_j tanh(b_j + Σ_i W_ji x_i), whose hidden
// layer is a Vec<f64> allocated per call. In the corpus because the Vec brings Rust's
// allocator (`__rust_alloc_zeroed`/`__rust_alloc`, `__rust_dealloc`, over dlmalloc) into the
// module, so the hidden layer is a block allocated inside the kernel and needs a shadow block,
// and tanh comes from std's libm. `mlp` fills a `vec![0.0; n]` by index; `mlp_push` builds the
// same layer with `Vec::with_capacity` and `push`, whose `&mut Vec` reaches `reserve_for_push`
// (so the Vec's pointer, capacity and length live in the stack frame).
use core::slice;

/// `w` holds W (n_hidden × n_in, row-major), then b (n_hidden), v (n_hidden) and c (1).
fn weights<'a>(w: *const f64, ni: usize, nh: usize) -> (&'a [f64], &'a [f64], &'a [f64], f64) {
    let w = unsafe { slice::from_raw_parts(w, nh * ni + 2 * nh + 1) };
    let (wm, rest) = w.split_at(nh * ni);
    let (b, rest) = rest.split_at(nh);
    let (v, c) = rest.split_at(nh);
    (wm, b, v, c[0])
}

fn neuron(row: &[f64], b: f64, x: &[f64]) -> f64 {
    let mut z = b;
    for i in 0..x.len() {
        z += row[i] * x[i];
    }
    z.tanh()
}

fn output(v: &[f64], hidden: &[f64], c: f64) -> f64 {
    let mut out = c;
    for j in 0..v.len() {
        out += v[j] * hidden[j];
    }
    out
}

#[no_mangle]
pub extern "C" fn mlp(x: *const f64, w: *const f64, n_in: i32, n_hidden: i32) -> f64 {
    let (ni, nh) = (n_in as usize, n_hidden as usize);
    let x = unsafe { slice::from_raw_parts(x, ni) };
    let (wm, b, v, c) = weights(w, ni, nh);
    let mut hidden = vec![0.0f64; nh];
    for j in 0..nh {
        hidden[j] = neuron(&wm[j * ni..(j + 1) * ni], b[j], x);
    }
    output(v, &hidden, c)
}

#[no_mangle]
pub extern "C" fn mlp_push(x: *const f64, w: *const f64, n_in: i32, n_hidden: i32) -> f64 {
    let (ni, nh) = (n_in as usize, n_hidden as usize);
    let x = unsafe { slice::from_raw_parts(x, ni) };
    let (wm, b, v, c) = weights(w, ni, nh);
    let mut hidden: Vec<f64> = Vec::with_capacity(nh);
    for j in 0..nh {
        hidden.push(neuron(&wm[j * ni..(j + 1) * ni], b[j], x));
    }
    output(v, &hidden, c)
}

/// As `mlp_push`, from an empty `Vec::new()`: the pushes grow it (capacity 4, 8, 16, ...), so
/// `reserve_for_push` reallocates, moving the layer while it holds values, and stores the new
/// pointer in the Vec through `&mut`.
#[no_mangle]
pub extern "C" fn mlp_grow(x: *const f64, w: *const f64, n_in: i32, n_hidden: i32) -> f64 {
    let (ni, nh) = (n_in as usize, n_hidden as usize);
    let x = unsafe { slice::from_raw_parts(x, ni) };
    let (wm, b, v, c) = weights(w, ni, nh);
    let mut hidden: Vec<f64> = Vec::new();
    for j in 0..nh {
        hidden.push(neuron(&wm[j * ni..(j + 1) * ni], b[j], x));
    }
    output(v, &hidden, c)
}
