/* session.c — creating and freeing sessions, their errors, the entry-point guard, and the
 * inputs/outputs a session shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

const char *onnxc_status_string(int status) {
  static const char *const names[] = {
      "ok",           "invalid argument",        "out of memory",         "index out of range",
      "I/O error",    "internal error",          "malformed or unsupported model", "memory limit exceeded",
      "compile time limit exceeded", "C compiler, linker or runtime archive failed", "wrong session state",
      "run cancelled or past its max run time", "input values ask for more work than the kernel's bound"};
  return status >= 0 && status < (int)(sizeof names / sizeof names[0]) ? names[status] : "unknown status";
}

int lib_fail(onnxc_session *s, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  ir_msg_escape(s->err, sizeof s->err); /* names from the model or the caller, escaped */
  return status;
}

int lib_fail_compile(onnxc_session *s, const char *msg) {
  if (s->phases.expired)
    return lib_fail(s, ONNXC_ERR_TIMEOUT, "compiling %.1500s took longer than the max compile time of %g s; stopped",
                    s->path, s->opt.max_compile_time);
  /* the frontend's and the memory planner's size checks say "limit of" */
  int st = strstr(msg, "limit of") ? ONNXC_ERR_LIMIT
           : strstr(msg, "cannot open") ? ONNXC_ERR_IO
                                        : ONNXC_ERR_MODEL;
  /* a message from the graph (shape inference, passes) names the model's file, as the loader's do */
  if (msg != s->err) snprintf(s->err, sizeof s->err, "%.1000s: %s", s->path, msg);
  ir_msg_escape(s->err, sizeof s->err);
  return st;
}

void lib_deadline_start(onnxc_session *s) {
  double left = s->opt.max_compile_time * 1e3 - s->spent_ms;
  s->phases.deadline_ms = s->opt.max_compile_time > 0 ? be_now_ms() + (left > 0 ? left : 1e-3) : 0;
}

void lib_deadline_stop(onnxc_session *s) {
  if (s->phases.deadline_ms > 0) {
    be_deadline_passed(); /* the end of a step is a checkpoint too */
    s->spent_ms = s->opt.max_compile_time * 1e3 - (s->phases.deadline_ms - be_now_ms());
  }
  s->phases.deadline_ms = 0;
}

int lib_guard(onnxc_session *s, int (*fn)(onnxc_session *s, void *arg), void *arg) {
  jmp_buf jb;
  jmp_buf *prev = ir_oom_swap(&jb);
  BePhases *prev_phases = be_phase_use(&s->phases);
  int rc;
  if (setjmp(jb)) {
    if (s->state == LIB_LOADED && s->passed) s->state = LIB_FAILED; /* a pass stopped midway */
    rc = lib_fail(s, ONNXC_ERR_NOMEM, "out of memory");
  } else
    rc = fn(s, arg);
  be_phase_use(prev_phases);
  ir_oom_swap(prev);
  return rc;
}

PassOptions lib_pass_options(const onnxc_session *s) {
  return (PassOptions){.disable = s->opt.disable, .verify_each = s->opt.verify_each,
                       .max_memory = s->opt.max_memory > 0 ? s->opt.max_memory : BE_DEFAULT_MAX_MEMORY};
}

int lib_run_passes(onnxc_session *s) {
  if (s->passed) return ONNXC_OK;
  PassOptions po = lib_pass_options(s);
  s->passed = true;
  be_phase("shapes + passes");
  lib_cache_kept_open(s);
  int rc = pass_run_all(s->g, &po);
  if (!rc) lib_cache_kept_store(s);
  be_phase(NULL);
  if (rc) {
    s->state = LIB_FAILED;
    return lib_fail_compile(s, ir_last_error(s->g));
  }
  return ONNXC_OK;
}

/* ---- create ---- */
typedef struct LoadArgs {
  const onnxc_session_options *opt;
  const char *path;
  const void *data;
  size_t bytes;
  bool buffer;
} LoadArgs;

static void copy_options(onnxc_session *s, const onnxc_session_options *o) {
  if (!o) return;
  s->opt = *o;
  s->opt.shapes = NULL, s->opt.dims = NULL, s->opt.disable = NULL; /* the caller's until copied */
  s->opt.nshapes = s->opt.ndims = 0;
  s->opt.shapes = ir_xcalloc((size_t)o->nshapes + 1, sizeof *o->shapes);
  s->opt.dims = ir_xcalloc((size_t)o->ndims + 1, sizeof *o->dims);
  for (int i = 0; i < o->nshapes; i++, s->opt.nshapes++) {
    s->opt.shapes[i] = o->shapes[i];
    s->opt.shapes[i].name = strcpy(ir_xmalloc(strlen(o->shapes[i].name) + 1), o->shapes[i].name);
  }
  for (int i = 0; i < o->ndims; i++, s->opt.ndims++)
    s->opt.dims[i] = (LibDim){strcpy(ir_xmalloc(strlen(o->dims[i].name) + 1), o->dims[i].name), o->dims[i].value};
  if (o->disable) s->opt.disable = strcpy(ir_xmalloc(strlen(o->disable) + 1), o->disable);
  s->opt.prune = NULL;
  if (o->prune && !(s->opt.prune = lib_prune_spec_dup(o->prune))) ir_oom();
}

/* onnxc_options_fix_dim: every input dim called by one of the names becomes its value */
static void fix_named_dims(onnxc_session *s) {
  for (int i = 0; i < s->g->ninputs; i++) {
    Value *v = s->g->inputs[i];
    for (int d = 0; d < v->rank; d++)
      for (int k = 0; k < s->opt.ndims && v->dims[d] < 0; k++)
        if (v->sym[d] && !strcmp(v->sym[d], s->opt.dims[k].name)) v->dims[d] = s->opt.dims[k].value;
  }
}

static int do_load(onnxc_session *s, void *arg) {
  LoadArgs *a = arg;
  copy_options(s, a->opt);
  s->path = strcpy(ir_xmalloc(strlen(a->path) + 1), a->path);
  s->phases.on = s->opt.time_phases;
  s->phases.cur = -1;
  FeOptions fo = {.shapes = s->opt.shapes, .nshapes = s->opt.nshapes, .max_bytes = s->opt.max_memory,
                  .digest = s->opt.cache_dir[0] ? &s->model_digest : NULL}; /* the cache's key: lib/cache.c */
  FePoolCache pool = lib_cache_pool;
  pool.ctx = s;
  if (s->opt.cache_dir[0]) fo.pool_cache = &pool;
  lib_deadline_start(s);
  be_phase("frontend load");
  s->g = a->buffer ? fe_load_buffer(a->data, a->bytes, NULL, &fo, s->err, sizeof s->err)
                 : fe_load(a->path, &fo, s->err, sizeof s->err);
  be_phase(NULL);
  lib_deadline_stop(s);
  if (!s->g || s->phases.expired) {
    s->state = LIB_FAILED;
    return lib_fail_compile(s, s->err);
  }
  fix_named_dims(s);
  if (s->opt.prune) return lib_prune_session(s, s->opt.prune); /* onnxc_options_set_prune */
  return ONNXC_OK;
}

static int create(const LoadArgs *a, onnxc_session **out) {
  if (!out) return ONNXC_ERR_ARGUMENT;
  onnxc_session *s = *out = calloc(1, sizeof *s);
  if (!s) return ONNXC_ERR_NOMEM;
  s->state = LIB_FAILED;
  s->wp = &s->watch;
  if (a->buffer ? !a->data : !a->path)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "no model: the %s is NULL", a->buffer ? "buffer" : "path");
  s->state = LIB_LOADED;
  int rc = lib_guard(s, do_load, (void *)a);
  if (!rc) rc = lib_variants_init(s, a->buffer ? a->data : NULL, a->bytes);
  if (rc) s->state = LIB_FAILED;
  return rc;
}

int onnxc_session_create_from_file(const char *path, const onnxc_session_options *opts, onnxc_session **out) {
  LoadArgs a = {.opt = opts, .path = path};
  return create(&a, out);
}

int onnxc_session_create_from_buffer(const void *data, size_t bytes, const onnxc_session_options *opts,
                                     onnxc_session **out) {
  LoadArgs a = {.opt = opts, .path = "<buffer>", .data = data, .bytes = bytes, .buffer = true};
  return create(&a, out);
}

void onnxc_session_free(onnxc_session *s) {
  if (!s) return;
  lib_variants_free(s->vars);
  lib_written_clear(s);
  lib_prune_free(s->prune);
  be_free(s->m);
  if (s->g) ir_graph_free(s->g);
  for (int i = 0; i < s->opt.nshapes; i++) free((char *)s->opt.shapes[i].name);
  for (int i = 0; i < s->opt.ndims; i++) free(s->opt.dims[i].name);
  free(s->opt.shapes);
  free(s->opt.dims);
  free(s->opt.disable);
  lib_prune_spec_free(s->opt.prune);
  free(s->path);
  free(s->given);
  free(s->in_ptrs);
  free(s->out_ptrs);
  free(s->ops);
  free(s);
}

const char *onnxc_session_error(const onnxc_session *s) { return s ? s->err : "out of memory"; }

/* ---- inputs and outputs ---- */
int32_t onnxc_session_num_inputs(const onnxc_session *s) { return s && s->g ? s->g->ninputs : 0; }
int32_t onnxc_session_num_outputs(const onnxc_session *s) { return s && s->g ? s->g->noutputs : 0; }

static int value_info(const onnxc_session *s, bool input, int32_t i, onnxc_value_info *out) {
  if (!s || !out || !s->g) return ONNXC_ERR_ARGUMENT;
  int n = input ? s->g->ninputs : s->g->noutputs;
  if (i < 0 || i >= n) return ONNXC_ERR_ARGUMENT;
  const Value *v = input ? s->g->inputs[i] : s->g->outputs[i];
  memset(out, 0, sizeof *out);
  out->name = v->name;
  out->dtype = (int32_t)v->dtype;
  out->rank = v->rank;
  for (int d = 0; d < ONNXC_MAX_RANK; d++) {
    out->dims[d] = d < v->rank ? v->dims[d] : -1;
    out->dim_names[d] = d < v->rank && v->dims[d] < 0 ? v->sym[d] : NULL;
  }
  return ONNXC_OK;
}

int onnxc_session_input_info(const onnxc_session *s, int32_t i, onnxc_value_info *out) {
  return value_info(s, true, i, out);
}
int onnxc_session_output_info(const onnxc_session *s, int32_t i, onnxc_value_info *out) {
  if (s && s->vars && lib_variants_output_info(s, i, out) >= 0) return ONNXC_OK; /* the current variant's */
  return value_info(s, false, i, out);
}

static int32_t index_of(Value *const *vs, int n, const char *name) {
  for (int i = 0; name && i < n; i++)
    if (!strcmp(vs[i]->name, name)) return i;
  return -1;
}

int32_t onnxc_session_input_index(const onnxc_session *s, const char *name) {
  return s && s->g ? index_of(s->g->inputs, s->g->ninputs, name) : -1;
}
int32_t onnxc_session_output_index(const onnxc_session *s, const char *name) {
  return s && s->g ? index_of(s->g->outputs, s->g->noutputs, name) : -1;
}
