// fmod from libm compiled into the module (bit-level code in musl): recognised by name and
// given its rule (∂/∂x = 1, ∂/∂y = −trunc(x / y)), in double and float.
#include <math.h>

double wrap(const double *x, int n, double period) {
  double s = 0;
  for (int i = 0; i < n; i++) s += fmod(x[i], period) * x[i];
  return s;
}

float wrapf(const float *x, int n, float period) {
  float s = 0;
  for (int i = 0; i < n; i++) s += fmodf(x[i], period) * x[i];
  return s;
}
