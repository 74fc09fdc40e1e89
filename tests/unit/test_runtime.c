/* test_runtime.c — the compiled-model ABI in runtime/model.c over a hand-written descriptor:
 * argument checks with status codes and per-instance messages, weights loaded from a file (size
 * and hash checked), kernel status propagation, and the parallel-for through an instance's pool. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "onnxc_rt.h"

/* y[i] = x[i] * w[i] (w from the weights), in parallel over 1000 elements; x[0] < 0 -> index error */
static int32_t mul_kernel(void *const *bufs, const char *weights, char *scratch, int64_t begin, int64_t end) {
  const float *x = bufs[0], *w = (const float *)weights;
  float *y = bufs[1];
  for (int64_t i = begin; i < end; i++) y[i] = x[i] * w[i];
  return x[0] < 0 ? ONNXC_ERR_INDEX : 0;
}

static int32_t graph(void *rtp, void *const *io) {
  return onnxc_rt_parallel(rtp, mul_kernel, io, 1000);
}

static float W[1000];
static const int64_t dims[] = {1000};
static const onnxc_tensor_info ins[] = {{"x", ONNXC_DT_FLOAT, 1, dims, 1000, 4000}};
static const onnxc_tensor_info outs[] = {{"y", ONNXC_DT_FLOAT, 1, dims, 1000, 4000}};
static onnxc_model_info info = {ONNXC_ABI_VERSION, "toy", "native", 1, 1, ins, outs, NULL, onnxc_model_run,
                                onnxc_model_error, onnxc_model_destroy, graph, (const char *)W, sizeof W, 0, 64, 0};

static void setup(void) {
  for (int i = 0; i < 1000; i++) W[i] = (float)i;
  info.weights = (const char *)W;
  info.weights_hash = onnxc_hash_bytes(W, sizeof W);
}
TestSuite(runtime, .init = setup);

static void check_run(onnxc_model *m) {
  static float x[1000], y[1000];
  for (int i = 0; i < 1000; i++) x[i] = 0.5f, y[i] = -1;
  const void *in[] = {x};
  void *out[] = {y};
  cr_assert_eq(onnxc_model_run(m, in, out), 0, "%s", onnxc_model_error(m));
  for (int i = 0; i < 1000; i++) cr_assert_eq(y[i], 0.5f * (float)i, "y[%d] = %g", i, y[i]);
}

Test(runtime, create_and_run_with_threads) {
  for (int threads = 0; threads <= 3; threads++) {
    onnxc_model *m;
    onnxc_options o = {.threads = threads};
    cr_assert_eq(onnxc_model_create(&info, &m, &o), 0, "%s", onnxc_model_error(NULL));
    check_run(m);
    check_run(m);
    onnxc_model_destroy(m);
  }
}

Test(runtime, bad_arguments_give_codes_and_messages) {
  onnxc_model *m = (onnxc_model *)&info;
  cr_assert_eq(onnxc_model_create(&info, NULL, NULL), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(NULL), "NULL"));
  onnxc_options o = {.threads = -2};
  cr_assert_eq(onnxc_model_create(&info, &m, &o), ONNXC_ERR_ARGUMENT);
  cr_assert_null(m);
  cr_assert(strstr(onnxc_model_error(NULL), "threads"));
  onnxc_model_info old = info;
  old.abi_version = 99;
  cr_assert_eq(onnxc_model_create(&old, &m, NULL), ONNXC_ERR_ARGUMENT);

  onnxc_model *a, *b;
  cr_assert_eq(onnxc_model_create(&info, &a, NULL), 0);
  cr_assert_eq(onnxc_model_create(&info, &b, NULL), 0);
  float x[1000] = {0}, y[1000];
  const void *in[] = {x}, *nullin[] = {NULL};
  void *out[] = {y}, *nullout[] = {NULL};
  cr_assert_eq(onnxc_model_run(NULL, in, out), ONNXC_ERR_ARGUMENT);
  cr_assert_eq(onnxc_model_run(a, NULL, out), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(a), "input array is NULL"), "%s", onnxc_model_error(a));
  cr_assert_eq(onnxc_model_run(a, nullin, out), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(a), "input 0 ('x') is NULL"), "%s", onnxc_model_error(a));
  cr_assert_eq(onnxc_model_run(a, in, nullout), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(a), "output 0 ('y') is NULL"), "%s", onnxc_model_error(a));
  cr_assert_str_empty(onnxc_model_error(b), "errors are per instance");
  /* a kernel's status stops the run and is reported */
  x[0] = -1;
  cr_assert_eq(onnxc_model_run(b, in, out), ONNXC_ERR_INDEX);
  cr_assert(strstr(onnxc_model_error(b), "index out of range"), "%s", onnxc_model_error(b));
  x[0] = 0;
  cr_assert_eq(onnxc_model_run(b, in, out), 0);
  cr_assert_str_empty(onnxc_model_error(b), "success clears the message");
  onnxc_model_destroy(a);
  onnxc_model_destroy(b);
  onnxc_model_destroy(NULL);
}

Test(runtime, weights_from_a_file) {
  info.weights = NULL;
  char path[] = "/tmp/onnxc_test_weightsXXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  FILE *f = fdopen(fd, "wb");
  fwrite(W, 1, sizeof W, f);
  fclose(f);
  onnxc_model *m;
  cr_assert_eq(onnxc_model_create(&info, &m, NULL), ONNXC_ERR_ARGUMENT, "no path given");
  cr_assert(strstr(onnxc_model_error(NULL), "weights_path"));
  onnxc_options o = {.threads = 2, .weights_path = "/nonexistent/w.bin"};
  cr_assert_eq(onnxc_model_create(&info, &m, &o), ONNXC_ERR_IO);
  cr_assert(strstr(onnxc_model_error(NULL), "/nonexistent/w.bin"));
  o.weights_path = path;
  cr_assert_eq(onnxc_model_create(&info, &m, &o), 0, "%s", onnxc_model_error(NULL));
  check_run(m);
  onnxc_model_destroy(m);
  /* another compilation's weights: same size, other bytes */
  W[5] = 42;
  info.weights_hash = onnxc_hash_bytes(W, sizeof W);
  cr_assert_eq(onnxc_model_create(&info, &m, &o), ONNXC_ERR_IO);
  cr_assert(strstr(onnxc_model_error(NULL), "another compilation"), "%s", onnxc_model_error(NULL));
  /* truncated file */
  f = fopen(path, "wb");
  fwrite(W, 1, 100, f);
  fclose(f);
  cr_assert_eq(onnxc_model_create(&info, &m, &o), ONNXC_ERR_IO);
  cr_assert(strstr(onnxc_model_error(NULL), "wrong size"), "%s", onnxc_model_error(NULL));
  remove(path);
}
