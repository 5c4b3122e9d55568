// A growable vector: malloc, then realloc doubling the capacity (dlmalloc may grow the block in
// place or move it), then a reduction over it; the shadow must follow either way.
#include <math.h>
#include <stdlib.h>

double vector_sum(const double *x, int n) {
  int cap = 1, len = 0;
  double *a = malloc(cap * sizeof(double));
  for (int i = 0; i < n; i++) {
    if (len == cap) {
      cap *= 2;
      a = realloc(a, cap * sizeof(double));
    }
    a[len++] = x[i] * x[i];
  }
  double s = 0;
  for (int i = 0; i < len; i++) s += a[i] * sin(x[i]);
  free(a);
  return s;
}
