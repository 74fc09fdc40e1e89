/* model.c — the compiled-model ABI: create / run / run_tensors / error / destroy over a model's
 * descriptor.
 *
 * Everything is allocated at create time (arena, per-thread scratch, the io pointer array, the
 * pool, weights read from a file); run only checks its arguments and calls the graph function.
 * run_tensors first checks each caller tensor (dtype, rank, dims, bytes) against the descriptor.
 * A kernel's failure is reported with the top-level node the graph function recorded.
 * Instances share nothing writable, so separate instances may run concurrently. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxc_rt.h"

#define ONNXC_ERR_LEN 1024 /* room for two rank-8 shapes and a tensor name, or a list of variants */

struct onnxc_model {
  const onnxc_model_info *info;
  onnxc_rt rt;
  char *weights_owned; /* weights read from a file or decoded; NULL when embedded as they run */
  void **io;           /* inputs then outputs, as the graph function takes them */
  onnxc_watch watch;   /* cancel request and deadline (watch.c); rt.watch points here */
  const onnxc_model_variant *vars, *cur; /* the shapes compiled (own if the descriptor lists none); cur runs */
  int32_t nvars;
  onnxc_model_variant own;
  char err[ONNXC_ERR_LEN];
};

/* create fails before there is an instance to hold its message */
static _Thread_local char create_err[ONNXC_ERR_LEN];

/* a tensor's name may hold any byte: NAME_error's text gets C-style escapes for control bytes
 * (cut to ONNXC_ERR_LEN), so a caller printing it prints one clean line */
static void escape_controls(char *buf) {
  char tmp[ONNXC_ERR_LEN];
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)buf; *p && o + 5 < sizeof tmp; p++)
    if (*p == '\n' || *p == '\t' || *p == '\r') o += (size_t)snprintf(tmp + o, 3, "\\%c", "ntr"[*p == '\t' ? 1 : *p == '\r' ? 2 : 0]);
    else if (*p < 0x20 || *p == 0x7f) o += (size_t)snprintf(tmp + o, 5, "\\%03o", *p);
    else tmp[o++] = (char)*p;
  tmp[o] = 0;
  memcpy(buf, tmp, o + 1);
}

static int fail(char *buf, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, ONNXC_ERR_LEN, fmt, ap);
  va_end(ap);
  escape_controls(buf);
  return status;
}

uint64_t onnxc_hash_bytes(const void *data, size_t bytes) {
  const unsigned char *p = data;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < bytes; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static void *alloc64(int64_t bytes) {
  size_t n = ((size_t)(bytes > 0 ? bytes : 0) + 63) & ~(size_t)63;
  return aligned_alloc(64, n ? n : 64);
}

/* ---- variants (multi-shape libraries) ---- */
/* a descriptor without a variant list is its own single variant */
static void variants_init(onnxc_model *m) {
  const onnxc_model_info *d = m->info;
  m->own = (onnxc_model_variant){"", d->inputs, d->outputs, d->graph, d->arena_bytes, d->scratch_bytes,
                                 d->num_nodes, d->nodes};
  bool listed = d->num_variants > 0 && d->variants;
  m->vars = listed ? d->variants : &m->own;
  m->nvars = listed ? d->num_variants : 1;
  m->cur = &m->vars[0];
}

/* one instance runs every variant: the arena and scratch fit the largest */
static void variants_largest(const onnxc_model *m, int64_t *arena, int64_t *scratch) {
  *arena = m->info->arena_bytes;
  *scratch = m->info->scratch_bytes;
  for (int32_t k = 0; k < m->nvars; k++) {
    if (m->vars[k].arena_bytes > *arena) *arena = m->vars[k].arena_bytes;
    if (m->vars[k].scratch_bytes > *scratch) *scratch = m->vars[k].scratch_bytes;
  }
}

/* the stored weights' size: the coded stream's when compressed */
static int64_t stored_bytes(const onnxc_model_info *d) {
  return d->weights_coded_bytes > 0 ? d->weights_coded_bytes : d->weights_bytes;
}

static int load_weights(onnxc_model *m, const onnxc_options *opts) {
  const onnxc_model_info *d = m->info;
  const char *path = opts ? opts->weights_path : NULL;
  int64_t n = stored_bytes(d);
  if (!path)
    return fail(create_err, ONNXC_ERR_ARGUMENT,
                "%s: this model keeps its weights in a file; set onnxc_options.weights_path", d->name);
  FILE *f = fopen(path, "rb");
  if (!f) return fail(create_err, ONNXC_ERR_IO, "%s: cannot open weights file '%s': %s", d->name, path, strerror(errno));
  if (!(m->weights_owned = alloc64(n))) {
    fclose(f);
    return fail(create_err, ONNXC_ERR_NOMEM, "%s: out of memory for %lld bytes of weights", d->name, (long long)n);
  }
  size_t got = fread(m->weights_owned, 1, (size_t)n, f);
  int extra = fgetc(f);
  fclose(f);
  if (got != (size_t)n || extra != EOF)
    return fail(create_err, ONNXC_ERR_IO, "%s: weights file '%s' has the wrong size (expected %lld bytes)", d->name,
                path, (long long)n);
  if (onnxc_hash_bytes(m->weights_owned, (size_t)n) != d->weights_hash)
    return fail(create_err, ONNXC_ERR_IO, "%s: weights file '%s' belongs to another compilation of the model",
                d->name, path);
  m->rt.weights = m->weights_owned;
  return ONNXC_OK;
}

/* compressed weights (embedded or just read from the file) decoded into their own buffer, once
 * per instance */
static int decode_weights(onnxc_model *m) {
  const onnxc_model_info *d = m->info;
  char *raw = alloc64(d->weights_bytes);
  if (!raw)
    return fail(create_err, ONNXC_ERR_NOMEM, "%s: out of memory for %lld bytes of weights", d->name,
                (long long)d->weights_bytes);
  int rc = onnxc_weights_decode(m->rt.weights, (size_t)d->weights_coded_bytes, raw, (size_t)d->weights_bytes);
  free(m->weights_owned);
  m->weights_owned = raw;
  m->rt.weights = raw;
  if (rc == -2) return fail(create_err, ONNXC_ERR_NOMEM, "%s: out of memory decoding the weights", d->name);
  if (rc)
    return fail(create_err, ONNXC_ERR_IO, "%s: the compressed weights (%lld bytes) are damaged", d->name,
                (long long)d->weights_coded_bytes);
  return ONNXC_OK;
}

int onnxc_model_create(const onnxc_model_info *d, onnxc_model **out, const onnxc_options *opts) {
  if (!out) return fail(create_err, ONNXC_ERR_ARGUMENT, "create: the output pointer is NULL");
  *out = NULL;
  if (!d || d->abi_version != ONNXC_ABI_VERSION)
    return fail(create_err, ONNXC_ERR_ARGUMENT, "create: model descriptor missing or of another ABI version");
  if (opts && opts->threads < 0)
    return fail(create_err, ONNXC_ERR_ARGUMENT, "%s: threads must be >= 0 (0 = all cores), got %d", d->name,
                opts->threads);
  if (opts && !(opts->max_run_time >= 0))
    return fail(create_err, ONNXC_ERR_ARGUMENT, "%s: max_run_time must be >= 0 seconds (0 = no bound), got %g",
                d->name, opts->max_run_time);
  onnxc_model *m = calloc(1, sizeof *m);
  if (!m) return fail(create_err, ONNXC_ERR_NOMEM, "%s: out of memory", d->name);
  m->info = d;
  m->rt.watch = &m->watch;
  m->watch.max_run_time = opts ? opts->max_run_time : 0;
  variants_init(m);
  int st = ONNXC_OK;
  if (d->weights) m->rt.weights = d->weights;
  else if ((st = load_weights(m, opts))) goto fail;
  if (d->weights_coded_bytes > 0 && (st = decode_weights(m))) goto fail;
  int threads = opts && opts->threads ? opts->threads : onnxc_cpu_count();
  if (threads > 1 && !(m->rt.pool = onnxc_pool_create(threads))) threads = 1;
  threads = onnxc_pool_threads(m->rt.pool);
  int64_t arena_bytes, scratch_bytes;
  variants_largest(m, &arena_bytes, &scratch_bytes);
  m->rt.scratch_stride = (scratch_bytes + 63) & ~(int64_t)63;
  m->rt.arena = alloc64(arena_bytes);
  m->rt.scratch = alloc64(m->rt.scratch_stride * threads);
  m->io = calloc((size_t)(d->num_inputs + d->num_outputs + 1), sizeof(void *));
  if (!m->rt.arena || !m->rt.scratch || !m->io) {
    st = fail(create_err, ONNXC_ERR_NOMEM, "%s: out of memory for the arena (%lld bytes)", d->name,
              (long long)arena_bytes);
    goto fail;
  }
  *out = m;
  return ONNXC_OK;
fail:
  onnxc_model_destroy(m);
  return st;
}

static int check_buffers(onnxc_model *m, const void *const *bufs, int n, const onnxc_tensor_info *ti,
                         const char *what) {
  if (!bufs && n) return fail(m->err, ONNXC_ERR_ARGUMENT, "run: the %s array is NULL", what);
  for (int i = 0; i < n; i++)
    if (!bufs[i] && ti[i].bytes)
      return fail(m->err, ONNXC_ERR_ARGUMENT, "run: %s %d ('%s') is NULL", what, i, ti[i].name);
  return ONNXC_OK;
}

/* what a failed run's message adds to the status's name */
static const char *run_status_detail(const onnxc_model *m, int st, char *buf, size_t len) {
  char reason[96];
  if (st == ONNXC_ERR_INDEX) return " (an index input holds a value outside the indexed axis)";
  if (st == ONNXC_ERR_BOUND) return " (e.g. a RoiAlign roi too large to bound its sampling grid)";
  if (st != ONNXC_ERR_CANCELLED) return "";
  snprintf(buf, len, " (%s; the instance stays usable)", onnxc_watch_reason(&m->watch, reason, sizeof reason));
  return buf;
}

void onnxc_model_cancel(onnxc_model *m) {
  if (m) onnxc_watch_cancel(&m->watch);
}

int onnxc_model_set_max_run_time(onnxc_model *m, double seconds) {
  if (!m) return ONNXC_ERR_ARGUMENT;
  if (!(seconds >= 0))
    return fail(m->err, ONNXC_ERR_ARGUMENT, "max_run_time must be >= 0 seconds (0 = no bound), got %g", seconds);
  m->watch.max_run_time = seconds;
  return ONNXC_OK;
}

int onnxc_model_set_spin(onnxc_model *m, int on) {
  if (!m) return ONNXC_ERR_ARGUMENT;
  if (on != 0 && on != 1) return fail(m->err, ONNXC_ERR_ARGUMENT, "spin must be 0 (off) or 1 (on), got %d", on);
  onnxc_pool_set_spin(m->rt.pool, on);
  return ONNXC_OK;
}

/* the graph function recorded the failing top-level node (rt.failed_node) */
static int run_graph(onnxc_model *m) {
  const onnxc_model_variant *d = m->cur;
  m->rt.failed_node = -1;
  onnxc_watch_start(&m->watch, 0);
  int st = d->graph(&m->rt, m->io);
  onnxc_pool_rest(m->rt.pool);
  if (!st) {
    m->err[0] = 0;
    return ONNXC_OK;
  }
  int k = m->rt.failed_node;
  char why[128];
  const char *what = run_status_detail(m, st, why, sizeof why);
  if (d->nodes && k >= 0 && k < d->num_nodes)
    return fail(m->err, st, "run: node %d (%s): %s%s", k, d->nodes[k], onnxc_status_str(st), what);
  return fail(m->err, st, "run: %s%s", onnxc_status_str(st), what);
}

int onnxc_model_run(onnxc_model *m, const void *const inputs[], void *const outputs[]) {
  return onnxc_model_run_variant(m, 0, inputs, outputs);
}

int onnxc_model_run_variant(onnxc_model *m, int32_t variant, const void *const inputs[], void *const outputs[]) {
  if (!m) return ONNXC_ERR_ARGUMENT;
  const onnxc_model_info *d = m->info;
  if (variant < 0 || variant >= m->nvars)
    return fail(m->err, ONNXC_ERR_ARGUMENT, "run: variant %d does not exist (the model has %d)", (int)variant,
                (int)m->nvars);
  const onnxc_model_variant *v = &m->vars[variant];
  int st = check_buffers(m, inputs, d->num_inputs, v->inputs, "input");
  if (!st) st = check_buffers(m, (const void *const *)outputs, d->num_outputs, v->outputs, "output");
  if (st) return st;
  m->cur = v;
  for (int i = 0; i < d->num_inputs; i++) m->io[i] = (void *)inputs[i];
  for (int i = 0; i < d->num_outputs; i++) m->io[d->num_inputs + i] = outputs[i];
  return run_graph(m);
}

static const char *dtype_str(int32_t dt) {
  switch (dt) {
  case ONNXC_DT_FLOAT: return "float32";
  case ONNXC_DT_UINT8: return "uint8";
  case ONNXC_DT_INT8: return "int8";
  case ONNXC_DT_UINT16: return "uint16";
  case ONNXC_DT_INT16: return "int16";
  case ONNXC_DT_INT32: return "int32";
  case ONNXC_DT_INT64: return "int64";
  case ONNXC_DT_BOOL: return "bool";
  case ONNXC_DT_FLOAT16: return "float16";
  case ONNXC_DT_DOUBLE: return "float64";
  case ONNXC_DT_UINT32: return "uint32";
  case ONNXC_DT_UINT64: return "uint64";
  case ONNXC_DT_BFLOAT16: return "bfloat16";
  default: return "unknown";
  }
}

/* "1x3x224x224", "scalar" for rank 0 */
static const char *dims_str(char *buf, size_t len, int32_t rank, const int64_t *dims) {
  if (rank <= 0) return "scalar";
  size_t n = 0;
  buf[0] = 0;
  for (int32_t i = 0; i < rank && i < 8 && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? "x" : "", (long long)dims[i]);
  if (rank > 8 && n < len) snprintf(buf + n, len - n, "x...");
  return buf;
}

/* one caller tensor against the model's: the message names the tensor and what differs; without
 * `dims`, neither the dims' values nor the size (the variant is not chosen yet) */
static int check_tensor(onnxc_model *m, const onnxc_tensor *t, const onnxc_tensor_info *ti, const char *what,
                        int i, bool dims) {
  char got[200], want[200];
  if (!t->data && ti->bytes && dims) /* (a variant's size is known once it is chosen) */
    return fail(m->err, ONNXC_ERR_ARGUMENT, "run: %s %d ('%s') is NULL", what, i, ti->name);
  if (t->dtype != ti->dtype)
    return fail(m->err, ONNXC_ERR_ARGUMENT, "run: %s %d ('%s'): dtype %s (%d), the model takes %s", what, i,
                ti->name, dtype_str(t->dtype), (int)t->dtype, dtype_str(ti->dtype));
  if (t->rank != ti->rank)
    return fail(m->err, ONNXC_ERR_ARGUMENT, "run: %s %d ('%s'): rank %d, the model takes rank %d (%s)", what, i,
                ti->name, (int)t->rank, (int)ti->rank, dims_str(want, sizeof want, ti->rank, ti->dims));
  if (!t->dims && t->rank)
    return fail(m->err, ONNXC_ERR_ARGUMENT, "run: %s %d ('%s'): dims is NULL, the model takes %s", what, i,
                ti->name, dims_str(want, sizeof want, ti->rank, ti->dims));
  if (!dims) return ONNXC_OK;
  for (int32_t k = 0; k < t->rank; k++)
    if (t->dims[k] != ti->dims[k])
      return fail(m->err, ONNXC_ERR_ARGUMENT, "run: %s %d ('%s'): dims %s, the model takes %s", what, i, ti->name,
                  dims_str(got, sizeof got, t->rank, t->dims), dims_str(want, sizeof want, ti->rank, ti->dims));
  if (t->bytes < ti->bytes)
    return fail(m->err, ONNXC_ERR_ARGUMENT, "run: %s %d ('%s'): buffer of %lld bytes, needs %lld", what, i,
                ti->name, (long long)t->bytes, (long long)ti->bytes);
  return ONNXC_OK;
}

static int check_tensors(onnxc_model *m, const onnxc_tensor *ts, int32_t n, const onnxc_tensor_info *ti,
                         int32_t want, const char *what, bool dims) {
  if (n != want)
    return fail(m->err, ONNXC_ERR_ARGUMENT, "run: %d %ss given, the model takes %d", (int)n, what, (int)want);
  if (!ts && n) return fail(m->err, ONNXC_ERR_ARGUMENT, "run: the %s array is NULL", what);
  for (int32_t i = 0; i < n; i++) {
    int st = check_tensor(m, &ts[i], &ti[i], what, i, dims);
    if (st) return st;
  }
  return ONNXC_OK;
}

/* the variant whose input dims are the caller's (inputs already checked but for their dims) */
static const onnxc_model_variant *variant_of(const onnxc_model *m, const onnxc_tensor *in) {
  for (int32_t k = 0; k < m->nvars; k++) {
    const onnxc_model_variant *v = &m->vars[k];
    bool same = true;
    for (int32_t i = 0; same && i < m->info->num_inputs; i++)
      for (int32_t r = 0; same && r < in[i].rank; r++) same = in[i].dims[r] == v->inputs[i].dims[r];
    if (same) return v;
  }
  return NULL;
}

/* appends to buf (len bytes, *o used); a message cut at the end says so with "..." */
static void put(char *buf, size_t len, size_t *o, const char *fmt, ...) {
  if (*o + 1 >= len) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *o, len - *o, fmt, ap);
  va_end(ap);
  *o = n < 0 || (size_t)n >= len - *o ? len - 1 : *o + (size_t)n;
  if (*o == len - 1 && len > 4) memcpy(buf + len - 4, "...", 4);
}

/* "1x8" for one input, "(1x8, 1x4)" for several: the caller's (t) or a variant's (ti) */
static void put_shapes(char *buf, size_t len, size_t *o, int32_t n, const onnxc_tensor_info *ti,
                       const onnxc_tensor *t) {
  char d[200];
  for (int32_t i = 0; i < n; i++)
    put(buf, len, o, "%s%s%s", i ? ", " : n > 1 ? "(" : "",
        t ? dims_str(d, sizeof d, t[i].rank, t[i].dims) : dims_str(d, sizeof d, ti[i].rank, ti[i].dims),
        i == n - 1 && n > 1 ? ")" : "");
}

/* no variant has these input dims: the message lists the shapes the library has */
static int no_variant(onnxc_model *m, const onnxc_tensor *in) {
  int32_t n = m->info->num_inputs;
  size_t o = 0, len = ONNXC_ERR_LEN;
  put(m->err, len, &o, "run: input dims ");
  put_shapes(m->err, len, &o, n, NULL, in);
  put(m->err, len, &o, " match none of the model's %d shapes: ", (int)m->nvars);
  for (int32_t k = 0; k < m->nvars; k++) {
    if (k) put(m->err, len, &o, "%s", k == m->nvars - 1 ? " or " : ", ");
    put_shapes(m->err, len, &o, n, m->vars[k].inputs, NULL);
    if (m->vars[k].label && *m->vars[k].label) put(m->err, len, &o, " (%s)", m->vars[k].label);
  }
  return ONNXC_ERR_ARGUMENT;
}

int onnxc_model_run_tensors(onnxc_model *m, const onnxc_tensor *inputs, int32_t num_inputs,
                            const onnxc_tensor *outputs, int32_t num_outputs) {
  if (!m) return ONNXC_ERR_ARGUMENT;
  const onnxc_model_info *d = m->info;
  const onnxc_model_variant *v = m->nvars > 1 ? NULL : &m->vars[0];
  int st = v ? 0 : check_tensors(m, inputs, num_inputs, d->inputs, d->num_inputs, "input", false);
  if (!st && !v && !(v = variant_of(m, inputs))) st = no_variant(m, inputs);
  if (!st) st = check_tensors(m, inputs, num_inputs, v->inputs, d->num_inputs, "input", true);
  if (!st) st = check_tensors(m, outputs, num_outputs, v->outputs, d->num_outputs, "output", true);
  if (st) return st;
  m->cur = v;
  for (int i = 0; i < d->num_inputs; i++) m->io[i] = inputs[i].data;
  for (int i = 0; i < d->num_outputs; i++) m->io[d->num_inputs + i] = outputs[i].data;
  return run_graph(m);
}

const char *onnxc_model_error(const onnxc_model *m) { return m ? m->err : create_err; }

void onnxc_model_destroy(onnxc_model *m) {
  if (!m) return;
  onnxc_pool_destroy(m->rt.pool);
  free(m->rt.arena);
  free(m->rt.scratch);
  free(m->weights_owned);
  free(m->io);
  free(m);
}
