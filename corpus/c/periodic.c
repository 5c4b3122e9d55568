// fmod, frexp, ldexp and scalbn from libm compiled into the module (bit-level code in musl):
// recognised by name and given their rules, in double and float.
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

// frexp, ldexp and scalbn from libm (musl: bit-level code): recognised by name and given
// rules (∂m/∂x = m / x for the mantissa; 2^n for the scalings); the exponent is an integer.
double mantissas(const double *x, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) {
    int e;
    double m = frexp(x[i], &e);
    s += m * m * e + ldexp(x[i], e % 3) + scalbn(x[i] * x[i], -2);
  }
  return s;
}

float mantissasf(const float *x, int n) {
  float s = 0;
  for (int i = 0; i < n; i++) {
    int e;
    float m = frexpf(x[i], &e);
    s += m * m * e + ldexpf(x[i], e % 3) + scalbnf(x[i] * x[i], -2);
  }
  return s;
}
