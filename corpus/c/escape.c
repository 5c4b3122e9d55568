// A local whose address is passed to a function that is not inlined: it lives in the C stack
// frame even at -O2, and its shadow lives in the shadow frame.
__attribute__((noinline)) static void accumulate(double *acc, double v) { *acc += v * v; }

double escape_sum(const double *x, int n) {
  double acc = 0;
  for (int i = 0; i < n; i++) accumulate(&acc, x[i]);
  return acc;
}
