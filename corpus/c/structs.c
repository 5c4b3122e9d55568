// A layer described by a struct of pointers (weights, bias, output), built on the stack and
// passed to a function that reads and writes through its fields.
#include <math.h>

struct layer { int n_in, n_out; const double *w, *b; double *out; };

static void forward(const struct layer *l, const double *in) {
  for (int o = 0; o < l->n_out; o++) {
    double s = l->b[o];
    for (int i = 0; i < l->n_in; i++) s += l->w[o * l->n_in + i] * in[i];
    l->out[o] = tanh(s);
  }
}

double dense(const double *in, const double *w, const double *b, double *out, int n_in, int n_out) {
  struct layer l = { n_in, n_out, w, b, out };
  forward(&l, in);
  double s = 0;
  for (int o = 0; o < n_out; o++) s += out[o] * out[o];
  return s;
}
