// Bundle adjustment reprojection error, as in ADBench (ba_objective, without the
// observation weights): for each observation j of point X by camera cam,
//   Xcam = R(r) · (X − C)                         (R: Rodrigues rotation of the angle-axis r)
//   p    = (Xcam.x, Xcam.y) / Xcam.z
//   p   ← p · (1 + κ1 ‖p‖² + κ2 ‖p‖⁴)             (radial distortion)
//   proj = f · p + (x0, y0)
//   err[2j], err[2j+1] = proj − feat_j
// and returns Σ_j ‖proj − feat_j‖².
//
//   ba_residual(cam, pt, feat, err): f64    one observation (ADBench's computeReprojError;
//     cam: f64[11], pt: f64[3], feat: f64[2], err: f64[2] output); returns ‖err‖²
//   ba(cams, pts, obs, feats, err, p): f64
//     cams:  f64[nCams·11]  per camera [r (3, angle-axis) | C (3, centre) | f | x0, y0 | κ1, κ2]
//     pts:   f64[nPts·3]    3D points
//     obs:   i32[2p]        per observation (camera index, point index); read-only (Const)
//     feats: f64[2p]        measured 2D features; read-only
//     err:   f64[2p]        output: the reprojection residuals (contents on entry not read)
//     p: i32, the number of observations
// The rotation uses the first-order form X + r × X when ‖r‖ = 0, as ADBench does.
// ba addresses cams and pts through indices loaded from obs; ba_residual differentiates
// today, ba does not yet (test/assembly/kernels.test.ts, "src issues").

const CAM_SIZE: i32 = 11;

export function ba_residual(cam: usize, pt: usize, feat: usize, err: usize): f64 {
  const r0 = load<f64>(cam, 0), r1 = load<f64>(cam, 8), r2 = load<f64>(cam, 16);
  // X − C
  const x = load<f64>(pt, 0) - load<f64>(cam, 24);
  const y = load<f64>(pt, 8) - load<f64>(cam, 32);
  const z = load<f64>(pt, 16) - load<f64>(cam, 40);

  // Rodrigues: R X = X cos θ + (w × X) sin θ + w (w · X)(1 − cos θ), w = r / θ
  let rx: f64, ry: f64, rz: f64;
  const sqtheta = r0 * r0 + r1 * r1 + r2 * r2;
  if (sqtheta != 0.0) {
    const theta = Math.sqrt(sqtheta);
    const costheta = Math.cos(theta);
    const sintheta = Math.sin(theta);
    const inv = 1.0 / theta;
    const w0 = r0 * inv, w1 = r1 * inv, w2 = r2 * inv;
    const cx = w1 * z - w2 * y;
    const cy = w2 * x - w0 * z;
    const cz = w0 * y - w1 * x;
    const tmp = (w0 * x + w1 * y + w2 * z) * (1.0 - costheta);
    rx = x * costheta + cx * sintheta + w0 * tmp;
    ry = y * costheta + cy * sintheta + w1 * tmp;
    rz = z * costheta + cz * sintheta + w2 * tmp;
  } else {
    rx = x + (r1 * z - r2 * y);
    ry = y + (r2 * x - r0 * z);
    rz = z + (r0 * y - r1 * x);
  }

  // projection and radial distortion
  let px = rx / rz;
  let py = ry / rz;
  const rsq = px * px + py * py;
  const l = 1.0 + load<f64>(cam, 72) * rsq + load<f64>(cam, 80) * rsq * rsq;
  px *= l;
  py *= l;
  const f = load<f64>(cam, 48);
  const ex = f * px + load<f64>(cam, 56) - load<f64>(feat, 0);
  const ey = f * py + load<f64>(cam, 64) - load<f64>(feat, 8);
  store<f64>(err, ex, 0);
  store<f64>(err, ey, 8);
  return ex * ex + ey * ey;
}

export function ba(cams: usize, pts: usize, obs: usize, feats: usize, err: usize, p: i32): f64 {
  let total = 0.0;
  for (let j = 0; j < p; j++) {
    const ci = load<i32>(obs + (<usize>(2 * j) << 2));
    const pi = load<i32>(obs + (<usize>(2 * j + 1) << 2));
    total += ba_residual(
      cams + (<usize>(ci * CAM_SIZE) << 3),
      pts + (<usize>(pi * 3) << 3),
      feats + (<usize>(2 * j) << 3),
      err + (<usize>(2 * j) << 3));
  }
  return total;
}
