/* jit — a model loaded and JIT-compiled at run time through libonnxc (onnxc.h), no onnxc compile
 * step: the program links onnxc::onnxc (CMake) or `pkg-config --libs onnxc`.
 *
 *   jit MODEL.onnx INPUT.npy [THREADS]   a model with one float32 input; prints output 0's shape
 *                                        and its largest value's index */
#include <stdio.h>
#include <stdlib.h>

#include <onnxc.h>

#include "npy_lite.h"

static int fail(onnxc_session *s, int status) {
  fprintf(stderr, "jit: %s: %s\n", onnxc_status_string(status), onnxc_session_error(s));
  onnxc_session_free(s);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: jit MODEL.onnx INPUT.npy [THREADS]\n");
    return 2;
  }
  onnxc_session_options *opts;
  if (onnxc_options_create(&opts)) return 1;
  onnxc_options_set_threads(opts, argc > 3 ? atoi(argv[3]) : 0);
  onnxc_options_fix_dim(opts, "batch", 1); /* a free dim called "batch", if any, is 1 */
  onnxc_session *s;
  int st = onnxc_session_create_from_file(argv[1], opts, &s);
  onnxc_options_free(opts);
  if (st) return fail(s, st);

  /* the input as the model declares it (fixed by the options) */
  onnxc_value_info in;
  onnxc_session_input_info(s, 0, &in);
  int64_t n = 1;
  for (int d = 0; d < in.rank; d++) n *= in.dims[d];
  if (in.dtype != ONNXC_DT_FLOAT || n < 0) {
    fprintf(stderr, "jit: input '%s' is not float32 of a fixed shape\n", in.name);
    onnxc_session_free(s);
    return 1;
  }
  float *x = malloc((size_t)n * sizeof *x);
  if (!x || npy_load(argv[2], "<f4", x, (size_t)n * sizeof *x)) {
    free(x);
    onnxc_session_free(s);
    return 1;
  }
  onnxc_tensor xt = {.data = x, .bytes = n * 4, .dtype = ONNXC_DT_FLOAT, .rank = in.rank, .dims = in.dims};

  /* compile for that input, then the outputs' shapes are known: allocate and run */
  if ((st = onnxc_session_prepare(s, &xt, 1))) return free(x), fail(s, st);
  int32_t nout = onnxc_session_num_outputs(s);
  onnxc_value_info *oi = calloc((size_t)nout, sizeof *oi);
  onnxc_tensor *ot = calloc((size_t)nout, sizeof *ot);
  for (int i = 0; i < nout; i++) {
    onnxc_session_output_info(s, i, &oi[i]);
    int64_t m = 1;
    for (int d = 0; d < oi[i].rank; d++) m *= oi[i].dims[d];
    int64_t bytes = m * (oi[i].dtype == ONNXC_DT_DOUBLE || oi[i].dtype == ONNXC_DT_INT64 ? 8 : 4);
    ot[i] = (onnxc_tensor){malloc((size_t)bytes + 1), bytes, oi[i].dtype, oi[i].rank, oi[i].dims};
  }
  st = onnxc_session_run(s, &xt, 1, ot, nout);
  if (!st && oi[0].dtype == ONNXC_DT_FLOAT) {
    const float *y = ot[0].data;
    int64_t m = ot[0].bytes / 4, best = 0;
    for (int64_t i = 1; i < m; i++)
      if (y[i] > y[best]) best = i;
    printf("output 0 '%s': %lld values, largest %.6f at %lld\n", oi[0].name, (long long)m, y[best], (long long)best);
  }
  for (int i = 0; i < nout; i++) free(ot[i].data);
  free(ot);
  free(oi);
  free(x);
  if (st) return fail(s, st);
  onnxc_session_free(s);
  return 0;
}
