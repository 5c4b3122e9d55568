// A Jacobi-style relaxation that allocates its work arrays: calloc, malloc, free, and a
// pointer swap every sweep (the shadows must follow the pointers, not the allocation sites).
#include <math.h>
#include <stdlib.h>

double relax(const double *b, int n, int iters) {
  double *u = calloc(n, sizeof(double));
  double *v = malloc(n * sizeof(double));
  for (int it = 0; it < iters; it++) {
    for (int i = 0; i < n; i++) {
      double l = i > 0 ? u[i - 1] : 0.0, r = i < n - 1 ? u[i + 1] : 0.0;
      v[i] = 0.5 * (l + r + b[i]) - 0.1 * tanh(u[i]);
    }
    double *t = u;
    u = v;
    v = t;
  }
  double s = 0;
  for (int i = 0; i < n; i++) s += u[i] * u[i];
  free(u);
  free(v);
  return s;
}
