// Divide and conquer by recursion: a product-sum over halves, with libm's exp at the leaves.
#include <math.h>

static double split(const double *x, int lo, int hi) {
  if (hi - lo == 1) return exp(0.5 * x[lo]);
  int mid = (lo + hi) / 2;
  double a = split(x, lo, mid), b = split(x, mid, hi);
  return a * b + 0.25 * (a + b);
}

double tree(const double *x, int n) { return n > 0 ? split(x, 0, n) : 0.0; }
