// A sort-based objective: a weighted sum of the sorted values (an L-statistic). The sort is
// piecewise: its derivative is the permutation of the weights, as long as no two values tie.
#include <stdlib.h>

double sorted_weighted(const double *x, const double *w, int n) {
  double *t = malloc(n * sizeof(double));
  for (int i = 0; i < n; i++) t[i] = x[i];
  for (int i = 1; i < n; i++) {
    double v = t[i];
    int j = i - 1;
    while (j >= 0 && t[j] > v) { t[j + 1] = t[j]; j--; }
    t[j + 1] = v;
  }
  double s = 0;
  for (int i = 0; i < n; i++) s += w[i] * t[i] * t[i];
  free(t);
  return s;
}
