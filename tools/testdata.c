/* testdata.c — `onnxc run --test-data`: ONNX test_data_set folders, compared output by output. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tool.h"

#define MAX_IO TOOL_MAX_IO

static double get(const Tensor *t, int64_t i) {
  Value v = {.dtype = t->dtype, .data = t->data};
  return ir_const_f64(&v, i);
}

static int64_t geti(const Tensor *t, int64_t i) {
  Value v = {.dtype = t->dtype, .data = t->data};
  return ir_const_i64(&v, i);
}

bool tool_compare(const Tensor *got, const Tensor *want_file, double rtol, double atol, char *msg, size_t len) {
  /* ONNX's numpy helpers store bfloat16 expected outputs as uint16 of the same bits */
  Tensor bf;
  const Tensor *want = want_file;
  if (got->dtype == DT_BFLOAT16 && want_file->dtype == DT_UINT16) {
    bf = *want_file;
    bf.dtype = DT_BFLOAT16;
    want = &bf;
  }
  /* bfloat16 keeps 8 significant bits: allow one ulp (ONNX 1.12's generator truncates where
   * onnxc rounds to nearest even) */
  if (got->dtype == DT_BFLOAT16 && rtol < 0x1p-7) rtol = 0x1p-7;
  if (got->dtype != want->dtype) {
    snprintf(msg, len, "dtype %s, expected %s", dtype_name(got->dtype), dtype_name(want->dtype));
    return false;
  }
  bool shape_ok = got->rank == want->rank;
  for (int d = 0; shape_ok && d < got->rank; d++) shape_ok = got->dims[d] == want->dims[d];
  if (!shape_ok) {
    Value a = {.rank = got->rank}, b = {.rank = want->rank};
    memcpy(a.dims, got->dims, sizeof a.dims);
    memcpy(b.dims, want->dims, sizeof b.dims);
    char sa[128], sb[128];
    ir_shape_str(&a, sa, sizeof sa);
    ir_shape_str(&b, sb, sizeof sb);
    snprintf(msg, len, "shape %s, expected %s", sa, sb);
    return false;
  }
  int64_t n = tensor_numel(want), bad = 0, first = -1;
  double max_abs = 0, max_rel = 0;
  bool fp = dtype_is_float(want->dtype);
  for (int64_t i = 0; i < n; i++) {
    if (fp) {
      double a = get(got, i), b = get(want, i);
      if (isnan(b) || isnan(a)) {
        if (!(isnan(a) && isnan(b))) bad++, first = first < 0 ? i : first;
        continue;
      }
      if (isinf(b) || isinf(a)) {
        if (a != b) bad++, first = first < 0 ? i : first;
        continue;
      }
      double e = fabs(a - b);
      if (e > max_abs) max_abs = e;
      if (fabs(b) > atol && e / fabs(b) > max_rel) max_rel = e / fabs(b);
      if (e > atol + rtol * fabs(b)) bad++, first = first < 0 ? i : first;
    } else if (want->dtype == DT_UINT64 ? ((uint64_t *)got->data)[i] != ((uint64_t *)want->data)[i]
                                        : geti(got, i) != geti(want, i)) {
      bad++;
      first = first < 0 ? i : first;
    }
  }
  if (bad) {
    if (fp)
      snprintf(msg, len, "%lld of %lld elements differ (first at %lld: got %.9g, expected %.9g); max abs err %.3g",
               (long long)bad, (long long)n, (long long)first, get(got, first), get(want, first), max_abs);
    else
      snprintf(msg, len, "%lld of %lld elements differ (first at %lld: got %lld, expected %lld)", (long long)bad,
               (long long)n, (long long)first, (long long)geti(got, first), (long long)geti(want, first));
    return false;
  }
  if (fp) snprintf(msg, len, "ok (%lld elements, max abs err %.3g, max rel err %.3g)", (long long)n, max_abs, max_rel);
  else snprintf(msg, len, "ok (%lld elements, exact)", (long long)n);
  return true;
}

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* one test_data_set folder; returns 0 pass, 1 mismatch or error */
static int run_set(const char *model, const char *dir, const FeShape *shapes, int nshapes, int threads, double rtol,
                   double atol, bool verbose) {
  char err[2048], path[4096];
  onnxc_session *s = tool_open(model, shapes, nshapes, threads);
  if (!s) return 1;
  int nin = onnxc_session_num_inputs(s), nout = onnxc_session_num_outputs(s);
  Tensor ins[MAX_IO] = {0}, want[MAX_IO] = {0}, got[MAX_IO] = {0};
  int nwant = 0, rc = 1;
  if (nin > MAX_IO || nout > MAX_IO) {
    snprintf(err, sizeof err, "too many inputs/outputs");
    goto fail;
  }
  for (int i = 0; i < nin; i++) {
    snprintf(path, sizeof path, "%s/input_%d.pb", dir, i);
    if (fe_read_tensor_pb(path, &ins[i], err, sizeof err)) goto fail;
  }
  snprintf(path, sizeof path, "%s/input_%d.pb", dir, nin);
  if (exists(path)) {
    snprintf(err, sizeof err, "%s: more input files than the model's %d inputs", dir, nin);
    goto fail;
  }
  for (nwant = 0; nwant < MAX_IO; nwant++) {
    snprintf(path, sizeof path, "%s/output_%d.pb", dir, nwant);
    if (!exists(path)) break;
    if (fe_read_tensor_pb(path, &want[nwant], err, sizeof err)) goto fail;
  }
  if (nwant != nout) {
    snprintf(err, sizeof err, "%s has %d output files, the model has %d outputs", dir, nwant, nout);
    goto fail;
  }
  tool_bf16_inputs(s, ins, nin);
  if (tool_check_given(s, ins, err, sizeof err)) goto fail;
  if (tool_prepare(s, model, ins, nin)) goto out;
  if (tool_alloc_outputs(s, got, err, sizeof err)) goto fail;
  if (tool_run_once(s, ins, got)) {
    snprintf(err, sizeof err, "%s", onnxc_session_error(s));
    goto fail;
  }
  rc = 0;
  for (int i = 0; i < nwant; i++) {
    char msg[512];
    bool ok = tool_compare(&got[i], &want[i], rtol, atol, msg, sizeof msg);
    if (!ok) rc = 1;
    char nm[IR_NAME_MSG];
    if (verbose || !ok) printf("%s: output %d '%s': %s\n", dir, i, ir_name_msg(got[i].name, nm, sizeof nm), msg);
  }
  goto out;
fail:
  fprintf(stderr, "onnxc: %s\n", err);
out:
  onnxc_session_free(s);
  for (int i = 0; i < MAX_IO; i++) {
    tensor_free(&ins[i]);
    tensor_free(&want[i]);
    free(got[i].data);
  }
  return rc;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int tool_run_test_data(const char *model, const char *dir, const FeShape *shapes, int nshapes, int threads,
                       double rtol, double atol, bool verbose) {
  char path[4096];
  snprintf(path, sizeof path, "%s/input_0.pb", dir);
  if (!is_dir(dir)) {
    fprintf(stderr, "onnxc: --test-data %s: not a folder\n", dir);
    return 1;
  }
  snprintf(path, sizeof path, "%s/output_0.pb", dir);
  if (exists(path)) return run_set(model, dir, shapes, nshapes, threads, rtol, atol, verbose);
  /* a folder of test_data_set_* folders */
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "onnxc: --test-data %s: cannot open\n", dir);
    return 1;
  }
  char *sets[1024];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 1024)
    if (!strncmp(e->d_name, "test_data_set_", 14)) sets[n++] = strdup(e->d_name);
  closedir(d);
  if (n == 0) {
    fprintf(stderr, "onnxc: --test-data %s: no output_0.pb and no test_data_set_* folders in it\n", dir);
    return 1;
  }
  qsort(sets, (size_t)n, sizeof(char *), by_name);
  int rc = 0;
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, sets[i]);
    rc |= run_set(model, path, shapes, nshapes, threads, rtol, atol, verbose);
    free(sets[i]);
  }
  return rc;
}
