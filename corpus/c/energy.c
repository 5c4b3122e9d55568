// A chain of springs with a sinusoidal on-site potential (double precision, libm's sin and exp):
//   energy(x, n, k) = Σ_{i<n−1} k (x[i+1] − x[i])² + sin(x[i]) · exp(−x[i]²)
#include <math.h>

double energy(const double *x, int n, double k) {
  double s = 0;
  for (int i = 0; i + 1 < n; i++) {
    double d = x[i + 1] - x[i];
    s += k * d * d + sin(x[i]) * exp(-x[i] * x[i]);
  }
  return s;
}

// Single precision, libm's f variants: Σ log(1 + exp(w·x[i])) + |x[i]|·c, x updated in place to tanh(x).
float softplus_tanh(float *x, int n, float w, float c) {
  float s = 0;
  for (int i = 0; i < n; i++) {
    s += logf(1.0f + expf(w * x[i])) + fabsf(x[i]) * c;
    x[i] = tanhf(x[i]);
  }
  return s;
}
