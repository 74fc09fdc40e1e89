/* quant_api.c — the quantization block of include/onnxc.h through the library alone (run by
 * quant_test.py on the small CNN it writes, input x[1,3,16,16], output y[1,10]): onnxc_compare
 * on known vectors, onnxc_session_add_output, onnxc_session_quantize's argument and state
 * errors, a static quantization from samples in memory with its report, and the quantized
 * session running close to the float one.  Prints "ok/FAIL NAME" lines and exits 1 on a failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxc.h"

static int failed;

static void check(const char *name, int ok, const char *detail) {
  printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", name, ok ? "" : ": ", ok ? "" : detail);
  failed |= !ok;
}

static onnxc_tensor vec(float *v, int64_t *dims, int64_t n) {
  dims[0] = n;
  return (onnxc_tensor){.data = v, .bytes = n * 4, .dtype = ONNXC_DT_FLOAT, .rank = 1, .dims = dims};
}

static void test_compare(void) {
  float a[4] = {1, 0, 2, 0}, b[4] = {0, 3, 0, 1}, c[4] = {2, 0, 4, 0}, d[4] = {1, 0, 2.5f, 0};
  int64_t da[1], db[1], dc[1], dd[1], d3[1];
  onnxc_tensor ta = vec(a, da, 4), tb = vec(b, db, 4), tc = vec(c, dc, 4), td = vec(d, dd, 4), t3 = vec(a, d3, 3);
  onnxc_compare m;
  onnxc_compare_init(&m);
  check("compare: orthogonal -> cosine 0", !onnxc_compare_add(&m, &ta, &tb) && fabs(m.cosine) < 1e-12, "");
  onnxc_compare_init(&m);
  check("compare: scaled -> cosine 1, max abs 2, max rel 1",
        !onnxc_compare_add(&m, &ta, &tc) && fabs(m.cosine - 1) < 1e-12 && m.max_abs == 2 && fabs(m.max_rel - 1) < 1e-12, "");
  onnxc_compare_init(&m);
  onnxc_compare_add(&m, &ta, &ta);
  onnxc_compare_add(&m, &ta, &td); /* accumulates over pairs */
  check("compare: two pairs accumulate (count 8, max abs 0.5)", m.count == 8 && fabs(m.max_abs - 0.5) < 1e-7, "");
  check("compare: different dims -> ONNXC_ERR_ARGUMENT", onnxc_compare_add(&m, &ta, &t3) == ONNXC_ERR_ARGUMENT, "");
}

/* n samples of x, values from a fixed sequence */
static float *make_samples(onnxc_tensor *t, int n, int64_t *dims) {
  int64_t sz = 3 * 16 * 16;
  float *x = malloc(sizeof(float) * (size_t)(sz * n));
  unsigned s = 12345;
  for (int64_t i = 0; i < sz * n; i++) s = s * 1103515245u + 12345u, x[i] = ((s >> 8) & 0xffff) / 32768.0f - 1;
  dims[0] = 1, dims[1] = 3, dims[2] = 16, dims[3] = 16;
  for (int k = 0; k < n; k++)
    t[k] = (onnxc_tensor){.data = x + k * sz, .bytes = sz * 4, .dtype = ONNXC_DT_FLOAT, .rank = 4, .dims = dims};
  return x;
}

static int run(onnxc_session *s, const onnxc_tensor *x, float *y) {
  int64_t dy[2] = {1, 10};
  onnxc_tensor ty = {.data = y, .bytes = 40, .dtype = ONNXC_DT_FLOAT, .rank = 2, .dims = dy};
  return onnxc_session_run(s, x, 1, &ty, 1);
}

static void test_quantize(const char *model) {
  onnxc_session *f = NULL, *q = NULL;
  onnxc_tensor xs[6];
  int64_t dims[4], bad_dims[4] = {1, 3, 8, 8};
  float *xdata = make_samples(xs, 6, dims), yf[10], yq[10];
  onnxc_quantize_options qo = {0};
  onnxc_session_create_from_file(model, NULL, &f);
  onnxc_session_create_from_file(model, NULL, &q);
  check("add_output: unknown value -> ONNXC_ERR_ARGUMENT", onnxc_session_add_output(f, "nope") == ONNXC_ERR_ARGUMENT,
        onnxc_session_error(f));
  check("add_output: c1", !onnxc_session_add_output(f, "c1") && onnxc_session_num_outputs(f) == 2, onnxc_session_error(f));
  check("quantize: NULL options -> ONNXC_ERR_ARGUMENT", onnxc_session_quantize(q, NULL, NULL) == ONNXC_ERR_ARGUMENT, "");
  check("quantize: static without samples -> ONNXC_ERR_ARGUMENT",
        onnxc_session_quantize(q, &qo, NULL) == ONNXC_ERR_ARGUMENT && strstr(onnxc_session_error(q), "samples"),
        onnxc_session_error(q));
  onnxc_tensor two[2] = {xs[0], xs[1]};
  two[1].dims = bad_dims;
  qo.samples = two, qo.num_samples = 2;
  check("quantize: samples of two shapes -> ONNXC_ERR_ARGUMENT",
        onnxc_session_quantize(q, &qo, NULL) == ONNXC_ERR_ARGUMENT && strstr(onnxc_session_error(q), "sample 1"),
        onnxc_session_error(q));
  qo.samples = xs, qo.num_samples = 4, qo.eval_samples = xs + 4, qo.num_eval_samples = 2;
  qo.method = ONNXC_CALIB_PERCENTILE;
  onnxc_quant_report *r = NULL;
  int st = onnxc_session_quantize(q, &qo, &r);
  check("quantize: static, percentile, with a report", !st && r && onnxc_session_num_quantized(q) == 5,
        onnxc_session_error(q));
  const char *name = NULL, *node = NULL, *op = NULL;
  onnxc_compare c = {0}, l0 = {0}, l1 = {0};
  check("report: one output 'y', cosine > 0.99", onnxc_quant_report_num_outputs(r) == 1 &&
        !onnxc_quant_report_output(r, 0, &name, &c) && !strcmp(name, "y") && c.cosine > 0.99 && c.count == 20, "");
  check("report: five layers, worst first", onnxc_quant_report_num_layers(r) == 5 &&
        !onnxc_quant_report_layer(r, 0, &node, &op, &l0) && !onnxc_quant_report_layer(r, 1, NULL, NULL, &l1) &&
        l0.cosine <= l1.cosine && op && node, "");
  check("report: index out of range", onnxc_quant_report_layer(r, 5, NULL, NULL, &l0) == ONNXC_ERR_ARGUMENT, "");
  onnxc_quant_report_free(r);
  onnxc_session_free(f);
  f = NULL;
  onnxc_session_create_from_file(model, NULL, &f);
  check("float and quantized sessions run", !run(f, &xs[5], yf) && !run(q, &xs[5], yq), onnxc_session_error(q));
  double dot = 0, nf = 0, nq = 0;
  for (int i = 0; i < 10; i++) dot += yf[i] * yq[i], nf += yf[i] * yf[i], nq += yq[i] * yq[i];
  check("quantized close to float (cosine > 0.99)", dot / sqrt(nf * nq) > 0.99, "");
  check("quantize after prepare -> ONNXC_ERR_STATE", onnxc_session_quantize(q, &qo, NULL) == ONNXC_ERR_STATE, "");
  check("add_output after prepare -> ONNXC_ERR_STATE", onnxc_session_add_output(q, "c1") == ONNXC_ERR_STATE, "");
  check("write_model after prepare -> ONNXC_ERR_STATE", onnxc_session_write_model(q, "/tmp/x.onnx") == ONNXC_ERR_STATE, "");
  onnxc_session_free(f);
  onnxc_session_free(q);
  free(xdata);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: quant_api MODEL (the small CNN quant_test.py writes)\n");
    return 2;
  }
  test_compare();
  test_quantize(argv[1]);
  return failed;
}
