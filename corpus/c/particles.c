// Particles on springs, explicit Euler steps: the previous positions are kept with memcpy and
// the forces cleared with memset, in arrays on the C stack. Updates x and v in place and
// returns the energy at the end.
#include <math.h>
#include <string.h>

double particles(double *x, double *v, int n, double dt, int steps) {
  double prev[64], f[64];
  if (n > 64) n = 64;
  for (int s = 0; s < steps; s++) {
    memcpy(prev, x, n * sizeof(double));
    memset(f, 0, n * sizeof(double));
    for (int i = 0; i < n; i++) {
      double l = i > 0 ? prev[i - 1] : 0.0, r = i < n - 1 ? prev[i + 1] : 0.0;
      f[i] += (l + r - 2 * prev[i]) - 0.1 * sin(prev[i]);
    }
    for (int i = 0; i < n; i++) {
      v[i] += dt * f[i];
      x[i] = prev[i] + dt * v[i];
    }
  }
  double e = 0;
  for (int i = 0; i < n; i++) e += 0.5 * v[i] * v[i] + cos(x[i]);
  return e;
}
