// A variable-length array on the C stack (`__stack_pointer - n * 8`): not a frame of constant
// size, so it has no shadow frame; kept in the corpus as what is refused, and how.
double vla_sum(const double *x, int n) {
  double t[n];
  for (int i = 0; i < n; i++) t[i] = x[i] * x[i];
  double s = 0;
  for (int i = 0; i < n; i++) s += t[i] * (i + 1);
  return s;
}
