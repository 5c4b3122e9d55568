// Hand-written adjoint of assembly/ba.ts (ADBench bundle-adjustment reprojection error): the
// gradient of Σ_j ‖err_j‖² w.r.t. cameras and points by hand. Only the gradient is here: the
// bench compiles this file after assembly/ba.ts, as one source, so the primals
// ba_residual(cam, pt, feat, err) and ba(cams, pts, obs, feats, err, p) and the constant
// CAM_SIZE are that file's.
//
//   ba_grad(cams, pts, obs, feats, err, p, dcams, dpts, nCams, nPts): f64
//     the objective (err filled as by ba); dcams (nCams·11) and dpts (nPts·3) overwritten
//     with its gradient (the residuals' own seeds are zero: L is the returned value).
//
// Each observation's residual is a straight-line function of 11 camera and 3 point values:
// its reverse sweep runs right after its forward part on locals (nothing recorded) and adds
// into the camera's and the point's slots of the gradient, picked by the same indices.

/** Adds ∂‖err‖²/∂cam into dcam and ∂/∂pt into dpt for one observation; returns ‖err‖². */
@inline
function residualAdjoint(cam: usize, pt: usize, feat: usize, err: usize, dcam: usize, dpt: usize): f64 {
  const r0 = load<f64>(cam, 0), r1 = load<f64>(cam, 8), r2 = load<f64>(cam, 16);
  const x = load<f64>(pt, 0) - load<f64>(cam, 24);
  const y = load<f64>(pt, 8) - load<f64>(cam, 32);
  const z = load<f64>(pt, 16) - load<f64>(cam, 40);
  const sqtheta = r0 * r0 + r1 * r1 + r2 * r2;
  const rotated = sqtheta != 0.0;
  // forward (the rotated branch keeps what its reverse needs)
  let theta = 0.0, costheta = 1.0, sintheta = 0.0, inv = 0.0, w0 = 0.0, w1 = 0.0, w2 = 0.0;
  let cx = 0.0, cy = 0.0, cz = 0.0, dotp = 0.0, omc = 0.0, tmp = 0.0;
  let rx: f64, ry: f64, rz: f64;
  if (rotated) {
    theta = Math.sqrt(sqtheta);
    costheta = Math.cos(theta);
    sintheta = Math.sin(theta);
    inv = 1.0 / theta;
    w0 = r0 * inv; w1 = r1 * inv; w2 = r2 * inv;
    cx = w1 * z - w2 * y;
    cy = w2 * x - w0 * z;
    cz = w0 * y - w1 * x;
    dotp = w0 * x + w1 * y + w2 * z;
    omc = 1.0 - costheta;
    tmp = dotp * omc;
    rx = x * costheta + cx * sintheta + w0 * tmp;
    ry = y * costheta + cy * sintheta + w1 * tmp;
    rz = z * costheta + cz * sintheta + w2 * tmp;
  } else {
    rx = x + (r1 * z - r2 * y);
    ry = y + (r2 * x - r0 * z);
    rz = z + (r0 * y - r1 * x);
  }
  const px0 = rx / rz, py0 = ry / rz;
  const rsq = px0 * px0 + py0 * py0;
  const k1 = load<f64>(cam, 72), k2 = load<f64>(cam, 80);
  const l = 1.0 + k1 * rsq + k2 * rsq * rsq;
  const px = px0 * l, py = py0 * l;
  const f = load<f64>(cam, 48);
  const ex = f * px + load<f64>(cam, 56) - load<f64>(feat, 0);
  const ey = f * py + load<f64>(cam, 64) - load<f64>(feat, 8);
  store<f64>(err, ex, 0);
  store<f64>(err, ey, 8);

  // reverse, seed 1 on ex² + ey²
  const dex = 2.0 * ex, dey = 2.0 * ey;
  store<f64>(dcam, load<f64>(dcam, 48) + dex * px + dey * py, 48); // f
  store<f64>(dcam, load<f64>(dcam, 56) + dex, 56);                  // x0
  store<f64>(dcam, load<f64>(dcam, 64) + dey, 64);                  // y0
  const dpx = dex * f, dpy = dey * f;
  const dl = dpx * px0 + dpy * py0;
  store<f64>(dcam, load<f64>(dcam, 72) + dl * rsq, 72);             // κ1
  store<f64>(dcam, load<f64>(dcam, 80) + dl * rsq * rsq, 80);       // κ2
  const drsq = dl * (k1 + 2.0 * k2 * rsq);
  const dpx0 = dpx * l + 2.0 * drsq * px0, dpy0 = dpy * l + 2.0 * drsq * py0;
  const drx = dpx0 / rz, dry = dpy0 / rz, drz = -(dpx0 * px0 + dpy0 * py0) / rz;
  let dx = 0.0, dy = 0.0, dz = 0.0, dr0 = 0.0, dr1 = 0.0, dr2 = 0.0;
  if (rotated) {
    // R X = X cos θ + c sin θ + w tmp,  c = w × X,  tmp = (w · X)(1 − cos θ)
    dx = drx * costheta; dy = dry * costheta; dz = drz * costheta;
    let dct = drx * x + dry * y + drz * z;
    const dst = drx * cx + dry * cy + drz * cz;
    const dtmp = drx * w0 + dry * w1 + drz * w2;
    const dcx = drx * sintheta, dcy = dry * sintheta, dcz = drz * sintheta;
    let dw0 = drx * tmp, dw1 = dry * tmp, dw2 = drz * tmp;
    const ddot = dtmp * omc;
    dct -= dtmp * dotp;
    dw0 += ddot * x; dw1 += ddot * y; dw2 += ddot * z;
    dx += ddot * w0; dy += ddot * w1; dz += ddot * w2;
    // cx = w1 z − w2 y, cy = w2 x − w0 z, cz = w0 y − w1 x
    dw1 += dcx * z; dz += dcx * w1; dw2 -= dcx * y; dy -= dcx * w2;
    dw2 += dcy * x; dx += dcy * w2; dw0 -= dcy * z; dz -= dcy * w0;
    dw0 += dcz * y; dy += dcz * w0; dw1 -= dcz * x; dx -= dcz * w1;
    // w = r / θ, θ = √(r·r)
    const dinv = dw0 * r0 + dw1 * r1 + dw2 * r2;
    dr0 = dw0 * inv; dr1 = dw1 * inv; dr2 = dw2 * inv;
    const dtheta = -dinv * inv * inv - dct * sintheta + dst * costheta;
    const dsq = dtheta * 0.5 / theta;
    dr0 += 2.0 * dsq * r0; dr1 += 2.0 * dsq * r1; dr2 += 2.0 * dsq * r2;
  } else {
    // R X = X + r × X
    dx = drx + dry * r2 - drz * r1;
    dy = dry - drx * r2 + drz * r0;
    dz = drz + drx * r1 - dry * r0;
    dr0 = drz * y - dry * z;
    dr1 = drx * z - drz * x;
    dr2 = dry * x - drx * y;
  }
  store<f64>(dcam, load<f64>(dcam, 0) + dr0, 0);
  store<f64>(dcam, load<f64>(dcam, 8) + dr1, 8);
  store<f64>(dcam, load<f64>(dcam, 16) + dr2, 16);
  store<f64>(dcam, load<f64>(dcam, 24) - dx, 24);
  store<f64>(dcam, load<f64>(dcam, 32) - dy, 32);
  store<f64>(dcam, load<f64>(dcam, 40) - dz, 40);
  store<f64>(dpt, load<f64>(dpt, 0) + dx, 0);
  store<f64>(dpt, load<f64>(dpt, 8) + dy, 8);
  store<f64>(dpt, load<f64>(dpt, 16) + dz, 16);
  return ex * ex + ey * ey;
}

export function ba_grad(cams: usize, pts: usize, obs: usize, feats: usize, err: usize, p: i32,
                        dcams: usize, dpts: usize, nCams: i32, nPts: i32): f64 {
  memory.fill(dcams, 0, <usize>(nCams * CAM_SIZE) << 3);
  memory.fill(dpts, 0, <usize>(nPts * 3) << 3);
  let total = 0.0;
  for (let j = 0; j < p; j++) {
    const ci = load<i32>(obs + (<usize>(2 * j) << 2));
    const pi = load<i32>(obs + (<usize>(2 * j + 1) << 2));
    const co = <usize>(ci * CAM_SIZE) << 3, po = <usize>(pi * 3) << 3;
    total += residualAdjoint(cams + co, pts + po, feats + (<usize>(2 * j) << 3), err + (<usize>(2 * j) << 3), dcams + co, dpts + po);
  }
  return total;
}
