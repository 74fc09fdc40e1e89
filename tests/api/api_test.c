/* api_test.c — libonnxc through its installed header: ResNet-18 and the LSTM run through sessions
 * and equal `onnxc run`'s outputs; two sessions with different options compile and run at the same
 * time on two threads; a malformed model, wrong tensors, an exhausted max memory and an expired
 * compile time each return a status with a message while the process carries on.
 *
 * usage: api_test MODELS REFS [--concurrency-only]
 *   MODELS: tests/models/export_models.py's folder (MODELS/NAME/model.onnx, input_0.npy)
 *   REFS:   REFS/NAME/output_0.npy written by `onnxc run MODELS/NAME/model.onnx INPUT -o REFS/NAME` */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <onnxc.h>

static int passed, failed;
static void expect(const char *what, int st, int want, const onnxc_session *s);

static void check(const char *what, int ok, const char *detail) {
  if (ok) passed++;
  else failed++;
  printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail && *detail ? ": " : "", detail ? detail : "");
}

/* ---- a float32 .npy (C order), enough for these models' inputs and outputs ---- */
typedef struct Npy {
  float *data;
  int32_t rank;
  int64_t dims[ONNXC_MAX_RANK];
  int64_t numel;
} Npy;

static int npy_load(const char *path, Npy *a) {
  memset(a, 0, sizeof *a);
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  unsigned char pre[10];
  char hdr[4096];
  int rc = -1;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) || pre[6] != 1) goto out;
  size_t hl = (size_t)pre[8] | (size_t)pre[9] << 8;
  if (hl >= sizeof hdr || fread(hdr, 1, hl, f) != hl) goto out;
  hdr[hl] = 0;
  if (!strstr(hdr, "'<f4'") || strstr(hdr, "'fortran_order': True")) goto out;
  char *p = strchr(strstr(hdr, "'shape'"), '(') + 1;
  a->numel = 1;
  while (*p && *p != ')') {
    char *e;
    long long d = strtoll(p, &e, 10);
    if (e == p) break;
    a->dims[a->rank++] = d;
    a->numel *= d;
    p = e;
    while (*p == ',' || *p == ' ') p++;
  }
  a->data = malloc((size_t)a->numel * 4 + 1);
  rc = a->data && fread(a->data, 4, (size_t)a->numel, f) == (size_t)a->numel ? 0 : -1;
out:
  fclose(f);
  return rc;
}

static onnxc_tensor tensor_of(const Npy *a) {
  return (onnxc_tensor){.data = a->data, .bytes = a->numel * 4, .dtype = ONNXC_DT_FLOAT, .rank = a->rank,
                        .dims = a->dims};
}

/* ---- one model through a session, compared with onnxc run's output 0 ---- */
typedef struct Job {
  const char *models, *refs, *name;
  int threads, no_fuse, from_buffer, runs, spin_off;
  const char *const *dim_names; /* fix these symbolic dims to the input's, then prepare without tensors */
  char msg[600];
  int ok;
} Job;

static void *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *p = malloc((size_t)len + 1);
  *n = p && fread(p, 1, (size_t)len, f) == (size_t)len ? (size_t)len : 0;
  fclose(f);
  return p;
}

static onnxc_session *open_model(const Job *j, const Npy *in, int *st) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/model.onnx", j->models, j->name);
  onnxc_session_options *o;
  onnxc_session *s = NULL;
  if ((*st = onnxc_options_create(&o))) return NULL;
  onnxc_options_set_threads(o, j->threads);
  if (j->spin_off) onnxc_options_set_spin(o, 0);
  if (j->no_fuse) onnxc_options_disable_pass(o, "fuse");
  for (int d = 0; j->dim_names && d < in->rank; d++)
    if (j->dim_names[d]) onnxc_options_fix_dim(o, j->dim_names[d], in->dims[d]);
  if (j->from_buffer) {
    size_t n = 0;
    void *buf = read_all(path, &n);
    *st = onnxc_session_create_from_buffer(buf, n, o, &s);
    free(buf);
  } else
    *st = onnxc_session_create_from_file(path, o, &s);
  onnxc_options_free(o);
  return s;
}

static void *run_job(void *arg) {
  Job *j = arg;
  char path[4096];
  Npy in, ref;
  float *out = NULL;
  j->ok = 0;
  snprintf(path, sizeof path, "%s/%s/input_0.npy", j->models, j->name);
  if (npy_load(path, &in)) {
    snprintf(j->msg, sizeof j->msg, "cannot read %.500s", path);
    return NULL;
  }
  snprintf(path, sizeof path, "%s/%s/output_0.npy", j->refs, j->name);
  if (npy_load(path, &ref)) {
    snprintf(j->msg, sizeof j->msg, "cannot read %.500s", path);
    free(in.data);
    return NULL;
  }
  int st;
  onnxc_session *s = open_model(j, &in, &st);
  onnxc_value_info oi;
  onnxc_tensor ti = tensor_of(&in);
  if (st || (st = j->dim_names ? onnxc_session_prepare(s, NULL, 0) : onnxc_session_prepare(s, &ti, 1)) ||
      (st = onnxc_session_output_info(s, 0, &oi))) {
    snprintf(j->msg, sizeof j->msg, "%s: %s", onnxc_status_string(st), onnxc_session_error(s));
    goto out;
  }
  int64_t n = 1;
  for (int d = 0; d < oi.rank; d++) n *= oi.dims[d];
  int same_shape = oi.rank == ref.rank && n == ref.numel && oi.dtype == ONNXC_DT_FLOAT;
  for (int d = 0; same_shape && d < oi.rank; d++) same_shape = oi.dims[d] == ref.dims[d];
  if (!same_shape) {
    snprintf(j->msg, sizeof j->msg, "output 0 '%s' has another shape than onnxc run's", oi.name);
    goto out;
  }
  out = malloc((size_t)n * 4);
  /* outputs: only output 0 is compared; the others get buffers of their reported sizes */
  int32_t nout = onnxc_session_num_outputs(s);
  onnxc_tensor to[8];
  void *extra[8] = {0};
  for (int i = 0; i < nout && i < 8; i++) {
    onnxc_value_info vi;
    onnxc_session_output_info(s, i, &vi);
    int64_t m = 1;
    for (int d = 0; d < vi.rank; d++) m *= vi.dims[d];
    to[i] = (onnxc_tensor){.data = i ? (extra[i] = malloc((size_t)m * 8 + 1)) : out, .bytes = m * 4,
                           .dtype = vi.dtype, .rank = vi.rank, .dims = NULL};
    to[i].dims = malloc(sizeof(int64_t) * ONNXC_MAX_RANK);
    memcpy((int64_t *)to[i].dims, vi.dims, sizeof(int64_t) * ONNXC_MAX_RANK);
  }
  double worst = 0;
  for (int r = 0; r < j->runs && !st; r++) {
    memset(out, 0xff, (size_t)n * 4);
    if ((st = onnxc_session_run(s, &ti, 1, to, nout))) break;
    for (int64_t i = 0; i < n; i++) {
      double e = fabs((double)out[i] - ref.data[i]) / (1e-6 + 1e-5 * fabs((double)ref.data[i]));
      if (!(e <= worst)) worst = e; /* NaN counts as the worst */
    }
  }
  for (int i = 0; i < nout && i < 8; i++) {
    free(extra[i]);
    free((void *)to[i].dims);
  }
  if (st) snprintf(j->msg, sizeof j->msg, "run: %s: %s", onnxc_status_string(st), onnxc_session_error(s));
  else {
    j->ok = worst <= 1;
    snprintf(j->msg, sizeof j->msg, "%lld values x %d runs, threads %d, worst |diff|/(1e-6 + 1e-5|ref|) %.3g",
             (long long)n, j->runs, onnxc_session_threads(s), worst);
  }
out:
  onnxc_session_free(s);
  free(out);
  free(in.data);
  free(ref.data);
  return NULL;
}

static void check_models(const char *models, const char *refs) {
  Job r = {models, refs, "resnet18", .threads = 2, .runs = 2};
  run_job(&r);
  check("resnet18 equals onnxc run", r.ok, r.msg);
  Job l = {models, refs, "lstm", .threads = 1, .from_buffer = 1, .runs = 2};
  run_job(&l);
  check("lstm (from a buffer) equals onnxc run", l.ok, l.msg);
}

/* symbolic dims: named in the introspection, fixed by name in the options */
static void check_free_dims(const char *models, const char *refs) {
  char path[4096];
  snprintf(path, sizeof path, "%s/dyn_cnn/model.onnx", models);
  onnxc_session *s;
  int st = onnxc_session_create_from_file(path, NULL, &s);
  onnxc_value_info ii;
  int ok = !st && !onnxc_session_input_info(s, 0, &ii) && ii.rank == 4 && ii.dims[0] == -1 && ii.dims[1] == 3 &&
           ii.dim_names[0] && !strcmp(ii.dim_names[0], "batch") && ii.dim_names[2] && !strcmp(ii.dim_names[2], "height") &&
           !ii.dim_names[1];
  check("dyn_cnn's input shows its symbolic dims by name (batch x 3 x height x width)", ok, onnxc_session_error(s));
  st = st ? st : onnxc_session_prepare(s, NULL, 0);
  expect("preparing without tensors while dims are free is ONNXC_ERR_ARGUMENT", st, ONNXC_ERR_ARGUMENT, s);
  onnxc_session_free(s);
  static const char *const names[] = {"batch", NULL, "height", "width"};
  Job j = {models, refs, "dyn_cnn", .threads = 2, .runs = 1, .dim_names = names};
  run_job(&j);
  check("dyn_cnn with batch, height, width fixed by name equals onnxc run", j.ok, j.msg);
}

/* ---- free dims at run time: compiled variants per input shape (lib/variants.c) ---- */
/* worst |out - ref| / (1e-6 + 1e-5 |ref|) over n values; NaN counts as the worst */
static double worst_diff(const float *out, const float *ref, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    double e = fabs((double)out[i] - ref[i]) / (1e-6 + 1e-5 * fabs((double)ref[i]));
    if (!(e <= worst)) worst = e;
  }
  return worst;
}

/* run s on in (batch copies of the reference input) into a fresh output; returns the status */
static int run_batch(onnxc_session *s, const Npy *in, int copies, int variants, float **out, int64_t *n) {
  Npy big = *in;
  big.dims[0] *= copies, big.numel *= copies;
  big.data = malloc((size_t)big.numel * 4);
  for (int c = 0; c < copies; c++) memcpy(big.data + c * in->numel, in->data, (size_t)in->numel * 4);
  onnxc_tensor ti = tensor_of(&big);
  onnxc_value_info oi;
  /* a session without variants is prepared by its first run_batch (after which output_info is set) */
  int st = variants ? onnxc_session_select_variant(s, &ti, 1) : copies == 1 ? onnxc_session_prepare(s, &ti, 1) : 0;
  if (!st) st = onnxc_session_output_info(s, 0, &oi);
  *out = NULL;
  if (!st) {
    *n = 1;
    for (int d = 0; d < oi.rank; d++) *n *= oi.dims[d];
    *out = malloc((size_t)*n * 4 + 4);
    onnxc_tensor to = {.data = *out, .bytes = *n * 4, .dtype = oi.dtype, .rank = oi.rank, .dims = oi.dims};
    st = onnxc_session_run(s, &ti, 1, &to, 1);
  }
  free(big.data);
  return st;
}

static void check_variants(const char *models, const char *refs) {
  char path[4096], rpath[4096];
  snprintf(path, sizeof path, "%s/dyn_cnn/model.onnx", models);
  snprintf(rpath, sizeof rpath, "%s/dyn_cnn/input_0.npy", models);
  Npy in, ref;
  int ok_in = !npy_load(rpath, &in);
  snprintf(rpath, sizeof rpath, "%s/dyn_cnn/output_0.npy", refs);
  if (!ok_in || npy_load(rpath, &ref)) {
    check("variants: dyn_cnn's input and reference read", 0, rpath);
    return;
  }
  onnxc_session_options *o;
  onnxc_session *s = NULL;
  onnxc_options_create(&o);
  onnxc_options_set_threads(o, 1);
  int st = onnxc_options_set_max_variants(o, 2);
  if (!st) st = onnxc_session_create_from_file(path, o, &s);
  onnxc_options_free(o);
  check("variants: a session with max_variants 2 over dyn_cnn (free batch, height, width) loads", !st,
        onnxc_session_error(s));
  /* pre-compile batch 3 from dims alone (no data) */
  int64_t d3[4] = {3 * in.dims[0], in.dims[1], in.dims[2], in.dims[3]};
  onnxc_tensor shape_only = {.data = NULL, .bytes = 0, .dtype = ONNXC_DT_FLOAT, .rank = 4, .dims = d3};
  st = st ? st : onnxc_session_add_variant(s, &shape_only, 1);
  check("variants: add_variant pre-compiles a shape without data", !st && onnxc_session_num_variants(s) == 1,
        onnxc_session_error(s));
  float *out = NULL;
  int64_t n = 0;
  char msg[600];
  int copies[] = {1, 2, 3}; /* 3 was pre-compiled, then evicted by 1 and 2 (the least recently used) */
  for (int k = 0; k < 3; k++) {
    st = run_batch(s, &in, copies[k], 1, &out, &n);
    double w = 0;
    for (int c = 0; !st && c < copies[k]; c++) w = fmax(w, worst_diff(out + c * ref.numel, ref.data, ref.numel));
    snprintf(msg, sizeof msg, "%s: %.300s; %lld values, worst %.3g, %d variants", onnxc_status_string(st),
             onnxc_session_error(s), (long long)n, w, onnxc_session_num_variants(s));
    char what[200];
    snprintf(what, sizeof what, "variants: batch x%d runs in the same session and equals onnxc run", copies[k]);
    check(what, !st && n == copies[k] * ref.numel && w <= 1 && onnxc_session_num_variants(s) == 2, msg);
    free(out);
  }
  onnxc_value_info ii;
  st = onnxc_session_input_info(s, 0, &ii);
  check("variants: the session's input still shows its free dims", !st && ii.dims[0] == -1 && ii.dim_names[0], "");
  int64_t bad[4] = {in.dims[0], in.dims[1] + 1, in.dims[2], in.dims[3]};
  Npy wrong = in;
  memcpy(wrong.dims, bad, sizeof bad);
  wrong.numel = in.numel / in.dims[1] * (in.dims[1] + 1);
  wrong.data = calloc((size_t)wrong.numel, 4);
  onnxc_tensor tw = tensor_of(&wrong);
  st = onnxc_session_select_variant(s, &tw, 1);
  snprintf(msg, sizeof msg, "%s (%d): %.500s", onnxc_status_string(st), st, onnxc_session_error(s));
  check("variants: a shape the model cannot take (one channel more) fails with a message",
        st != ONNXC_OK && *onnxc_session_error(s), msg);
  free(wrong.data);
  st = run_batch(s, &in, 1, 1, &out, &n);
  check("variants: the session runs after a failed variant compile", !st && worst_diff(out, ref.data, ref.numel) <= 1,
        onnxc_session_error(s));
  free(out);
  out = NULL;
  onnxc_session_free(s);
  /* without max_variants a session keeps one shape, as before */
  st = onnxc_session_create_from_file(path, NULL, &s);
  if (!st) st = run_batch(s, &in, 1, 0, &out, &n);
  free(out);
  out = NULL;
  int st2 = st ? st : run_batch(s, &in, 2, 0, &out, &n);
  free(out);
  expect("variants: without max_variants another shape is ONNXC_ERR_ARGUMENT", st2, ONNXC_ERR_ARGUMENT, s);
  onnxc_session_free(s);
  free(in.data);
  free(ref.data);
}

/* two sessions, different thread counts and pass switches, created, compiled and run at once; the
 * second's workers do not spin (each of the LSTM's many small jobs wakes them) */
static void check_concurrency(const char *models, const char *refs) {
  Job a = {models, refs, "lstm", .threads = 1, .runs = 3},
      b = {models, refs, "lstm", .threads = 2, .no_fuse = 1, .runs = 3, .spin_off = 1};
  pthread_t ta, tb;
  int ca = pthread_create(&ta, NULL, run_job, &a);
  int cb = pthread_create(&tb, NULL, run_job, &b);
  if (!ca) pthread_join(ta, NULL);
  if (!cb) pthread_join(tb, NULL);
  check("concurrent session 1 (1 thread) equals onnxc run", !ca && a.ok, a.msg);
  check("concurrent session 2 (2 threads, no fusion, workers not spinning) equals onnxc run", !cb && b.ok, b.msg);
}

/* ---- failures: a status and a message, and the process carries on ---- */
static void expect(const char *what, int st, int want, const onnxc_session *s) {
  char d[900];
  const char *m = onnxc_session_error(s);
  snprintf(d, sizeof d, "%s (%d): %.800s", onnxc_status_string(st), st, m);
  check(what, st == want && m && *m, d);
}

static void check_failures(const char *models) {
  onnxc_session *s = NULL;
  static const char junk[] = "\x08\x07\x12\x04this is not an ONNX model\xff\xff\xff";
  int st = onnxc_session_create_from_buffer(junk, sizeof junk, NULL, &s);
  expect("a malformed model is ONNXC_ERR_MODEL", st, ONNXC_ERR_MODEL, s);
  st = onnxc_session_prepare(s, NULL, 0);
  expect("the failed session then says so (ONNXC_ERR_STATE)", st, ONNXC_ERR_STATE, s);
  onnxc_session_free(s);
  st = onnxc_session_create_from_file("/nonexistent/model.onnx", NULL, &s);
  expect("a missing file is ONNXC_ERR_IO", st, ONNXC_ERR_IO, s);
  onnxc_session_free(s);

  char path[4096];
  snprintf(path, sizeof path, "%s/resnet18/model.onnx", models);
  onnxc_session_options *o;
  onnxc_options_create(&o);
  onnxc_options_set_max_memory(o, 8 << 20); /* the file alone is 45 MB */
  st = onnxc_session_create_from_file(path, o, &s);
  expect("resnet18 with max memory 8 MiB is ONNXC_ERR_LIMIT", st, ONNXC_ERR_LIMIT, s);
  onnxc_session_free(s);
  onnxc_options_set_max_memory(o, 46 << 20); /* the file (44.6 MiB) fits, weights + activations do not */
  st = onnxc_session_create_from_file(path, o, &s);
  if (!st) st = onnxc_session_prepare(s, NULL, 0);
  expect("resnet18 with max memory 46 MiB fails compiling with ONNXC_ERR_LIMIT", st, ONNXC_ERR_LIMIT, s);
  onnxc_session_free(s);
  onnxc_options_set_max_memory(o, 0);
  onnxc_options_set_max_compile_time(o, 1e-6);
  st = onnxc_session_create_from_file(path, o, &s);
  if (!st) st = onnxc_session_prepare(s, NULL, 0);
  expect("a 1 us compile-time bound is ONNXC_ERR_TIMEOUT", st, ONNXC_ERR_TIMEOUT, s);
  onnxc_session_free(s);
  check("an unknown pass name is refused", onnxc_options_disable_pass(o, "no-such-pass") == ONNXC_ERR_ARGUMENT, NULL);
  check("spin other than 0 or 1 is refused", onnxc_options_set_spin(o, 2) == ONNXC_ERR_ARGUMENT &&
        onnxc_options_set_spin(o, -1) == ONNXC_ERR_ARGUMENT && onnxc_options_set_spin(o, 0) == ONNXC_OK, NULL);
  onnxc_options_free(o);

  /* a working session, then wrong tensors: each refused before anything runs */
  snprintf(path, sizeof path, "%s/lstm/model.onnx", models);
  if ((st = onnxc_session_create_from_file(path, NULL, &s)) || (st = onnxc_session_prepare(s, NULL, 0))) {
    expect("lstm session for the wrong-tensor checks", st, ONNXC_OK, s);
    onnxc_session_free(s);
    return;
  }
  onnxc_value_info ii, oi;
  onnxc_session_input_info(s, 0, &ii);
  onnxc_session_output_info(s, 0, &oi);
  int64_t in_n = 1, out_n = 1;
  for (int d = 0; d < ii.rank; d++) in_n *= ii.dims[d];
  for (int d = 0; d < oi.rank; d++) out_n *= oi.dims[d];
  float *ib = calloc((size_t)in_n + 64, 4), *ob = calloc((size_t)out_n + 64, 4);
  int64_t wrong[ONNXC_MAX_RANK];
  memcpy(wrong, ii.dims, sizeof wrong);
  wrong[ii.rank - 1] += 1;
  onnxc_tensor in = {ib, in_n * 4, ONNXC_DT_FLOAT, ii.rank, ii.dims}, out = {ob, out_n * 4, ONNXC_DT_FLOAT, oi.rank, oi.dims};
  onnxc_tensor bad = in;
  bad.dims = wrong;
  bad.bytes = (in_n + 64) * 4;
  expect("a wrong input shape is ONNXC_ERR_ARGUMENT", onnxc_session_run(s, &bad, 1, &out, 1), ONNXC_ERR_ARGUMENT, s);
  bad = in;
  bad.dtype = ONNXC_DT_INT32;
  expect("a wrong input dtype is ONNXC_ERR_ARGUMENT", onnxc_session_run(s, &bad, 1, &out, 1), ONNXC_ERR_ARGUMENT, s);
  bad = in;
  bad.bytes -= 4;
  expect("a short input buffer is ONNXC_ERR_ARGUMENT", onnxc_session_run(s, &bad, 1, &out, 1), ONNXC_ERR_ARGUMENT, s);
  bad = in;
  bad.data = NULL;
  expect("a NULL input is ONNXC_ERR_ARGUMENT", onnxc_session_run(s, &bad, 1, &out, 1), ONNXC_ERR_ARGUMENT, s);
  bad = out;
  bad.bytes = 4;
  expect("a short output buffer is ONNXC_ERR_ARGUMENT", onnxc_session_run(s, &in, 1, &bad, 1), ONNXC_ERR_ARGUMENT, s);
  expect("a wrong input count is ONNXC_ERR_ARGUMENT", onnxc_session_run(s, &in, 2, &out, 1), ONNXC_ERR_ARGUMENT, s);
  st = onnxc_session_run(s, &in, 1, &out, 1);
  check("the session still runs after those", st == ONNXC_OK, onnxc_session_error(s));
  free(ib);
  free(ob);
  onnxc_session_free(s);
}

/* the IR after a pass, the pass list, and a dumped session's state */
static void check_dump(const char *models) {
  char path[4096], err[256];
  snprintf(path, sizeof path, "%s/resnet18/model.onnx", models);
  int np = 0;
  while (onnxc_pass_name(np)) np++;
  /* plan, then the passes that only mark nodes (sparse, binary) */
  check("the pass list is shapes .. plan, sparse, binary", np >= 4 && !strcmp(onnxc_pass_name(0), "shapes") &&
                                                                !strcmp(onnxc_pass_name(np - 3), "plan") &&
                                                                !strcmp(onnxc_pass_name(np - 2), "sparse") &&
                                                                !strcmp(onnxc_pass_name(np - 1), "binary"), NULL);
  check("a pass list naming an unknown pass is refused with the valid names",
        onnxc_pass_list_check("fuse,nope", err, sizeof err) == ONNXC_ERR_ARGUMENT && strstr(err, "dce"), err);
  check("a pass list of optional passes is accepted", onnxc_pass_list_check("dce,fuse", err, sizeof err) == 0, err);
  onnxc_session *s = NULL;
  char *text = NULL;
  int st = onnxc_session_create_from_file(path, NULL, &s);
  if (!st) st = onnxc_session_dump(s, "fuse", &text);
  check("resnet18 dumped after fuse shows a fused Conv epilogue", !st && text && strstr(text, "Conv(") &&
                                                                     strstr(text, "+ Add Relu"),
        onnxc_session_error(s));
  free(text);
  expect("a dumped session cannot be prepared (ONNXC_ERR_STATE)", onnxc_session_prepare(s, NULL, 0),
         ONNXC_ERR_STATE, s);
  onnxc_session_free(s);
  st = onnxc_session_create_from_file(path, NULL, &s);
  text = NULL;
  expect("an unknown pass to dump after is ONNXC_ERR_ARGUMENT", onnxc_session_dump(s, "nope", &text),
         ONNXC_ERR_ARGUMENT, s);
  check("and gives no text", !text, NULL);
  onnxc_session_free(s);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: api_test MODELS REFS [--concurrency-only]\n");
    return 2;
  }
  int only = argc > 3 && !strcmp(argv[3], "--concurrency-only");
  if (!only) check_models(argv[1], argv[2]);
  if (!only) check_free_dims(argv[1], argv[2]);
  if (!only) check_variants(argv[1], argv[2]);
  check_concurrency(argv[1], argv[2]);
  if (!only) check_failures(argv[1]);
  if (!only) check_dump(argv[1]);
  printf("api: %d of %d checks passed\n", passed, passed + failed);
  return failed ? 1 : 0;
}
