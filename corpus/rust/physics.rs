// A chain of damped pendulums coupled by springs, advanced in place by a few explicit
// (symplectic Euler) steps; returns the final energy. In the corpus because Rust's f64 `sin`
// and `exp` compile std's libm into the module (no imports), and the kernel updates a
// caller's buffer in place through a raw pointer.
use core::slice;

const K: f64 = 1.5; // spring constant between neighbours
const G: f64 = 0.8; // pendulum restoring strength
const GAMMA: f64 = 0.3; // damping rate

/// `state` holds n positions followed by n velocities; both are overwritten.
#[no_mangle]
pub extern "C" fn simulate(state: *mut f64, n: i32, dt: f64, steps: i32) -> f64 {
    let n = n as usize;
    let s = unsafe { slice::from_raw_parts_mut(state, 2 * n) };
    let (x, v) = s.split_at_mut(n);
    let damp = (-GAMMA * dt).exp();
    for _ in 0..steps {
        for i in 0..n {
            let left = if i > 0 { x[i - 1] } else { 0.0 };
            let right = if i + 1 < n { x[i + 1] } else { 0.0 };
            let a = K * (left + right - 2.0 * x[i]) - G * x[i].sin();
            v[i] = (v[i] + dt * a) * damp;
        }
        for i in 0..n {
            x[i] += dt * v[i];
        }
    }
    // kinetic + spring + pendulum energy; 1 - cos x = 2 sin²(x/2)
    let mut e = 0.0;
    for i in 0..n {
        let h = (0.5 * x[i]).sin();
        e += 0.5 * v[i] * v[i] + 2.0 * G * h * h;
        if i + 1 < n {
            let d = x[i + 1] - x[i];
            e += 0.5 * K * d * d;
        }
    }
    e
}
