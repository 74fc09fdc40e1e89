/* run.c — JIT compilation (onnxc_session_prepare) and runs over caller-owned tensors, every
 * descriptor field checked first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "onnxc_rt.h"

/* bytes of a tensor of this dtype and shape; -1 if the dtype has no fixed size, a dim is negative
 * or the size overflows */
static int64_t tensor_bytes(int32_t dtype, int32_t rank, const int64_t *dims) {
  int64_t n, b;
  if (dtype <= 0 || dtype >= DT_COUNT || !dtype_size((DType)dtype) || !ir_numel_ok(rank, dims, &n) ||
      !ir_mul_ok(n, (int64_t)dtype_size((DType)dtype), &b))
    return -1;
  return b;
}

/* the descriptor on its own: rank, dims, dtype, bytes and data consistent */
static int check_desc(onnxc_session *s, const char *kind, int i, const char *name, const onnxc_tensor *t) {
  if (t->rank < 0 || t->rank > ONNXC_MAX_RANK)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "%s %d '%s': rank %d is not in 0..%d", kind, i, name, t->rank,
                    ONNXC_MAX_RANK);
  if (t->rank && !t->dims) return lib_fail(s, ONNXC_ERR_ARGUMENT, "%s %d '%s': dims is NULL", kind, i, name);
  int64_t need = tensor_bytes(t->dtype, t->rank, t->dims);
  if (need < 0)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "%s %d '%s': dtype %d or a dim is invalid", kind, i, name, t->dtype);
  if (t->bytes < need)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "%s %d '%s': %lld bytes given, its shape needs %lld", kind, i, name,
                    (long long)t->bytes, (long long)need);
  if (!t->data && need) return lib_fail(s, ONNXC_ERR_ARGUMENT, "%s %d '%s': data is NULL", kind, i, name);
  return ONNXC_OK;
}

static void shape_text(int32_t rank, const int64_t *dims, char *buf, size_t len) {
  size_t o = 0;
  snprintf(buf, len, rank ? "" : "scalar");
  for (int d = 0; d < rank && o < len; d++) o += (size_t)snprintf(buf + o, len - o, "%s%lld", d ? "x" : "", (long long)dims[d]);
}

/* t against what v must be: dtype, rank and dims equal */
static int check_against(onnxc_session *s, const char *kind, int i, const Value *v, const onnxc_tensor *t,
                         int32_t rank, const int64_t *dims) {
  int rc = check_desc(s, kind, i, v->name, t);
  if (rc) return rc;
  if (t->dtype != (int32_t)v->dtype)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "%s %d '%s': dtype %s, the session was compiled for %s", kind, i, v->name,
                    t->dtype > 0 && t->dtype < DT_COUNT ? dtype_name((DType)t->dtype) : "?", dtype_name(v->dtype));
  bool same = t->rank == rank;
  for (int d = 0; same && d < rank; d++) same = t->dims[d] == dims[d];
  if (!same) {
    char a[200], b[200];
    shape_text(t->rank, t->dims, a, sizeof a);
    shape_text(rank, dims, b, sizeof b);
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "%s %d '%s': shape %s, the session was compiled for %s", kind, i, v->name,
                    a, b);
  }
  return ONNXC_OK;
}

static int stopped(onnxc_session *s);

typedef struct PrepArgs {
  const onnxc_tensor *in;
  int32_t n;
} PrepArgs;

/* pass_specialize on the caller's tensors: their shapes fix free dims, small shape-deciding
 * values become constants (the data is copied into the graph's arena) */
static int specialize(onnxc_session *s, const onnxc_tensor *in) {
  Graph *g = s->g;
  for (int i = 0; i < g->ninputs; i++) {
    int rc = check_desc(s, "input", i, g->inputs[i]->name, &in[i]);
    if (rc) return rc;
  }
  Tensor *ts = ir_xcalloc((size_t)g->ninputs + 1, sizeof *ts);
  for (int i = 0; i < g->ninputs; i++) {
    ts[i].dtype = (DType)in[i].dtype;
    ts[i].rank = in[i].rank;
    memcpy(ts[i].dims, in[i].dims, sizeof(int64_t) * (size_t)in[i].rank);
    ts[i].data = in[i].data ? in[i].data : (void *)"";
    ts[i].bytes = (size_t)in[i].bytes;
    s->given[i][0] = in[i].rank;
    memcpy(&s->given[i][1], in[i].dims, sizeof(int64_t) * (size_t)in[i].rank);
  }
  int rc = pass_specialize(g, ts, s->err, sizeof s->err);
  free(ts);
  if (rc) s->state = LIB_FAILED; /* it may have fixed some inputs' dims already */
  return rc ? ONNXC_ERR_ARGUMENT : ONNXC_OK;
}

static int do_prepare(onnxc_session *s, void *arg) {
  PrepArgs *a = arg;
  Graph *g = s->g;
  free(s->given);
  free(s->in_ptrs);
  free(s->out_ptrs);
  s->given = NULL, s->in_ptrs = NULL, s->out_ptrs = NULL;
  s->given = ir_xcalloc((size_t)g->ninputs + 1, sizeof *s->given);
  s->in_ptrs = ir_xcalloc((size_t)g->ninputs + 1, sizeof *s->in_ptrs);
  s->out_ptrs = ir_xcalloc((size_t)g->noutputs + 1, sizeof *s->out_ptrs);
  lib_deadline_start(s);
  int rc;
  if (a->in) {
    if ((rc = specialize(s, a->in))) goto out;
  } else
    for (int i = 0; i < g->ninputs; i++) {
      Value *v = g->inputs[i];
      if (!ir_value_shape_known(v)) {
        rc = lib_fail(s, ONNXC_ERR_ARGUMENT, "input '%s' has free dims: fix them in the options or prepare with tensors",
                      v->name);
        goto out;
      }
      s->given[i][0] = v->rank;
      memcpy(&s->given[i][1], v->dims, sizeof(int64_t) * (size_t)v->rank);
    }
  if ((rc = lib_run_passes(s))) goto out;
  s->g->gemm_provider = s->opt.gemm; /* read by backend/gen/gen_xsmm.c */
  s->g->fp_mode = s->opt.fp_mode;    /* read by backend/gen/gen_gemm.c */
  BeOptions bo = {.opt_level = 3, .dump_llvm = s->opt.dump_llvm, .max_memory = s->opt.max_memory,
                  .profile = s->opt.profile, .perf_map = s->opt.perf_map};
  if (!(s->m = lib_cache_jit(s, &bo))) {
    s->state = LIB_FAILED;
    rc = lib_fail_compile(s, s->err);
    goto out;
  }
  be_set_spin(s->m, !s->opt.spin_off);
  be_set_threads(s->m, s->opt.threads);
  be_set_watch(s->m, s->wp);
  s->state = LIB_PREPARED;
out:
  lib_deadline_stop(s); /* a compile that finished past the bound stands: only work not begun stops */
  return rc;
}

static int usable(onnxc_session *s) {
  if (!s) return ONNXC_ERR_ARGUMENT;
  if (s->state == LIB_FAILED)
    return lib_fail(s, ONNXC_ERR_STATE, "the session failed to %s before; create another", s->g ? "compile" : "load");
  if (s->state == LIB_DUMPED) return lib_fail(s, ONNXC_ERR_STATE, "the session was dumped; create another to run");
  return ONNXC_OK;
}

int onnxc_session_prepare(onnxc_session *s, const onnxc_tensor *inputs, int32_t n) {
  int rc = usable(s);
  if (rc) return rc;
  if (s->vars && inputs) return onnxc_session_select_variant(s, inputs, n);
  if (s->state == LIB_PREPARED) return lib_fail(s, ONNXC_ERR_STATE, "the session is already prepared");
  if (s->passed) return lib_fail(s, ONNXC_ERR_STATE, "the session was compiled ahead of time; create another to run");
  if (inputs ? n != s->g->ninputs : n != 0)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "prepare: %d inputs given, the model has %d", n, s->g->ninputs);
  PrepArgs a = {inputs, n};
  return lib_guard(s, do_prepare, &a);
}

/* inputs compiled in by value (prepare bound them as constants) must hold those values */
static int check_bound(onnxc_session *s, int i, const onnxc_tensor *t) {
  const Value *v = s->g->inputs[i];
  if (v->kind != VK_CONST || !v->data) return ONNXC_OK;
  int64_t n = tensor_bytes(t->dtype, t->rank, t->dims);
  if (n > 0 && memcmp(v->data, t->data, (size_t)n))
    return lib_fail(s, ONNXC_ERR_ARGUMENT,
                    "input %d '%s' decides shapes, and the session was compiled for other values of it; create "
                    "another session for these", i, v->name);
  return ONNXC_OK;
}

int onnxc_session_run(onnxc_session *s, const onnxc_tensor *inputs, int32_t num_inputs, const onnxc_tensor *outputs,
                      int32_t num_outputs) {
  int rc = usable(s);
  if (rc) return rc;
  if (s->vars) return lib_variants_run(s, inputs, num_inputs, outputs, num_outputs);
  Graph *g = s->g;
  if (num_inputs != g->ninputs || num_outputs != g->noutputs || (num_inputs && !inputs) || (num_outputs && !outputs))
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "run: %d inputs and %d outputs given (%s), the model has %d and %d",
                    num_inputs, num_outputs, (num_inputs && !inputs) || (num_outputs && !outputs) ? "an array is NULL" : "counts differ",
                    g->ninputs, g->noutputs);
  onnxc_watch_start(s->wp, 0); /* clears a cancel of an earlier run (the deadline is set again below) */
  if (s->state != LIB_PREPARED && (rc = onnxc_session_prepare(s, inputs, num_inputs))) return rc;
  for (int i = 0; i < g->ninputs; i++) {
    if ((rc = check_against(s, "input", i, g->inputs[i], &inputs[i], (int32_t)s->given[i][0], &s->given[i][1])))
      return rc;
    if ((rc = check_bound(s, i, &inputs[i]))) return rc;
    s->in_ptrs[i] = inputs[i].data ? inputs[i].data : (const void *)"";
  }
  for (int i = 0; i < g->noutputs; i++) {
    const Value *v = g->outputs[i];
    if ((rc = check_against(s, "output", i, v, &outputs[i], v->rank, v->dims))) return rc;
    s->out_ptrs[i] = outputs[i].data ? outputs[i].data : (void *)s->err; /* 0 bytes: never written */
  }
  s->wp->max_run_time = s->opt.max_run_time;
  onnxc_watch_start(s->wp, 1);
  int st = be_run(s->m, s->in_ptrs, s->out_ptrs, s->err, sizeof s->err);
  if (st == ONNXC_ERR_CANCELLED) return stopped(s);
  if (st == ONNXC_ERR_BOUND) { /* be_run named the node; say what its bound is about */
    char msg[sizeof s->err];
    snprintf(msg, sizeof msg, "%s", s->err);
    return lib_fail(s, st, "%.1800s (e.g. a RoiAlign roi too large to bound its sampling grid)", msg);
  }
  return st ? (st > 0 && st <= ONNXC_ERR_INTERNAL ? st : ONNXC_ERR_INTERNAL) : ONNXC_OK;
}

/* be_run's message names the node the run stopped in; add why it stopped */
static int stopped(onnxc_session *s) {
  char why[96], msg[sizeof s->err];
  snprintf(msg, sizeof msg, "%s", s->err);
  return lib_fail(s, ONNXC_ERR_CANCELLED, "%.1800s (%s; the session stays usable)", msg,
                  onnxc_watch_reason(s->wp, why, sizeof why));
}

int onnxc_session_set_max_run_time(onnxc_session *s, double seconds) {
  if (!s) return ONNXC_ERR_ARGUMENT;
  if (!(seconds >= 0) || seconds > 1e9)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "max run time %g s: give 0 (no bound) up to 1e9 seconds", seconds);
  s->opt.max_run_time = seconds;
  return ONNXC_OK;
}

/* only the watch's atomic flag is touched: safe while another thread runs the session */
int onnxc_session_cancel(onnxc_session *s) {
  if (!s) return ONNXC_ERR_ARGUMENT;
  onnxc_watch_cancel(s->wp);
  return ONNXC_OK;
}

int onnxc_session_set_threads(onnxc_session *s, int threads) {
  if (!s || threads < 0 || threads > 100000) return ONNXC_ERR_ARGUMENT;
  s->opt.threads = threads;
  if (s->m) be_set_threads(s->m, threads);
  lib_variants_set_threads(s, threads);
  return ONNXC_OK;
}

int onnxc_session_threads(const onnxc_session *s) {
  return !s ? 0 : s->opt.threads > 0 ? s->opt.threads : onnxc_cpu_count();
}

size_t onnxc_session_phase_report(onnxc_session *s, char *buf, size_t len) {
  char one;
  if (!s) return 0;
  size_t n = be_phase_report(&s->phases, buf && len ? buf : &one, buf && len ? len : 1);
  if (n && s->cache_note[0] && buf && n + 1 < len) /* what the on-disk cache did */
    n += (size_t)snprintf(buf + n, len - n, "  cache: %s\n", s->cache_note) ;
  if (n && s->gemm_note[0] && buf && n + 1 < len)
    n += (size_t)snprintf(buf + n, len - n, "  gemm %s\n", s->gemm_note);
  if (n && s->weights_note[0] && buf && n + 1 < len)
    n += (size_t)snprintf(buf + n, len - n, "  cache weights: %s\n", s->weights_note);
  if (n && s->kept_note[0] && buf && n + 1 < len)
    n += (size_t)snprintf(buf + n, len - n, "  cache constants: %s\n", s->kept_note);
  return n < len ? n : len ? len - 1 : 0;
}
