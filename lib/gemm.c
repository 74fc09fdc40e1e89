/* gemm.c — the GEMM provider option (`--gemm own|libxsmm`, ISSUE14 Deliver 4): who computes a
 * session's fp32 GEMMs (backend/gen/gen_xsmm.c); and their precision (`--fp-mode fp32|bf16`,
 * Deliver 9: bf16 operands, fp32 sums, on AVX512-BF16; backend/gen/gen_gemm.c).
 *
 * libxsmm is reached through onnxc_xsmm_sgemm (runtime/xsmm/onnxc_xsmm.c, cmake/xsmm.cmake),
 * which the CLI and libonnxc.so carry when built with libxsmm; JIT-compiled code resolves it in
 * the process, so the provider is available exactly when the process has that symbol (a program
 * linking libonnxc.a adds libonnxc_xsmm.a and libxsmm itself). */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

static const char *const provider_names[] = {"own", "libxsmm", "auto"};
#define NPROVIDERS (int)(sizeof provider_names / sizeof *provider_names)

static int provider_index(const char *name) {
  for (int i = 0; name && i < NPROVIDERS; i++)
    if (!strcmp(name, provider_names[i])) return i;
  return -1;
}

int onnxc_gemm_available(const char *provider) {
  int p = provider_index(provider);
  if (p < 0) return 0;
  return p != 1 || dlsym(RTLD_DEFAULT, "onnxc_xsmm_sgemm") != NULL; /* auto: own without it */
}

int onnxc_options_set_gemm(onnxc_session_options *o, const char *provider) {
  int p = provider_index(provider);
  if (!o || p < 0 || !onnxc_gemm_available(provider)) return ONNXC_ERR_ARGUMENT;
  o->gemm = p;
  return ONNXC_OK;
}

const char *lib_gemm_name(int provider) {
  return provider >= 0 && provider < NPROVIDERS ? provider_names[provider] : "?";
}

/* the provider's line for `onnxc info` and the compile summary */
const char *onnxc_gemm_describe(const char *provider) {
  int p = provider_index(provider);
  if (p == 0) return "onnxc's own GEMM kernels";
  if (p == 2) return "per GEMM the faster of onnxc's kernels and libxsmm's, measured when compiled";
#ifdef ONNXC_XSMM_VERSION
  if (p == 1 && onnxc_gemm_available(provider)) return "libxsmm " ONNXC_XSMM_VERSION " (JIT kernels, linked)";
#endif
  return p == 1 ? "libxsmm (not in this build of onnxc: install libxsmm-dev and rebuild)" : NULL;
}

/* ---- --gemm auto ---- */
#define AUTO_MARGIN 0.95   /* libxsmm when it took at most this fraction of onnxc's own time */
#define AUTO_MIN_RUNS 3    /* timed runs per provider (after one warm-up) ... */
#define AUTO_MAX_RUNS 10   /* ... and more, up to this many, while under AUTO_BUDGET_MS */
#define AUTO_BUDGET_MS 250

/* g compiled with `provider` and per-node timing, run on zero inputs (inputs bound by value:
 * their values); each node's fastest time over the runs into ns[] (g->nnodes).  0, or -1 */
static int auto_time(onnxc_session *s, Graph *g, int provider, const BeOptions *bo, int64_t *ns) {
  g->gemm_provider = provider;
  BeOptions o = *bo;
  o.profile = true, o.dump_llvm = false, o.perf_map = false, o.keep = NULL;
  char err[512];
  BeModel *m = be_jit(g, &o, err, sizeof err);
  if (!m) return -1;
  be_set_threads(m, s->opt.threads);
  const BeProf *p = be_model_prof(m);
  int n = g->ninputs + g->noutputs, rc = -1;
  void **buf = calloc((size_t)n + 1, sizeof *buf);
  for (int i = 0; buf && i < n; i++) {
    const Value *v = i < g->ninputs ? g->inputs[i] : g->outputs[i - g->ninputs];
    int64_t e = 1;
    if (!ir_numel_ok(v->rank, v->dims, &e)) goto out;
    bool bound = i < g->ninputs && v->kind == VK_CONST && v->data; /* an input bound by value */
    if (!bound && !(buf[i] = calloc((size_t)e * dtype_size(v->dtype) + 64, 1))) goto out;
  }
  const void **in = calloc((size_t)g->ninputs + 1, sizeof *in);
  if (!in) goto out;
  for (int i = 0; i < g->ninputs; i++) in[i] = buf[i] ? buf[i] : g->inputs[i]->data;
  for (int i = 0; i < g->nnodes; i++) ns[i] = INT64_MAX;
  be_phase("gemm auto: timed runs");
  int timed = 0;
  double t0 = be_now_ms();
  for (int r = 0; r <= AUTO_MAX_RUNS; r++) {
    if (be_run(m, in, buf + g->ninputs, err, sizeof err)) {
      timed = -1;
      break;
    }
    if (!r) continue; /* the warm-up */
    timed++;
    for (int i = 0; p && i < p->n && i < g->nnodes; i++)
      if (p->rt->last_ns[i] < ns[i]) ns[i] = p->rt->last_ns[i];
    if (timed >= AUTO_MIN_RUNS && be_now_ms() - t0 > AUTO_BUDGET_MS) break;
  }
  rc = timed >= AUTO_MIN_RUNS ? 0 : -1;
  be_phase(NULL);
  free(in);
out:
  for (int i = 0; buf && i < n; i++) free(buf[i]);
  free(buf);
  be_free(m);
  return p ? rc : -1;
}

void lib_gemm_auto(onnxc_session *s, Graph *g, const BeOptions *bo) {
  for (int i = 0; i < g->nnodes; i++) g->nodes[i]->xsmm = false;
  s->gemm_note[0] = 0;
  int64_t *ns = onnxc_gemm_available("libxsmm") ? malloc(2 * sizeof *ns * ((size_t)g->nnodes + 1)) : NULL;
  int64_t *own = ns, *xs = ns ? ns + g->nnodes : NULL;
  bool timed = ns && !auto_time(s, g, 0, bo, own) && !auto_time(s, g, 1, bo, xs);
  g->gemm_provider = 2;
  if (!timed) {
    for (int i = 0; i < g->nnodes; i++) g->nodes[i]->xsmm = false;
    snprintf(s->gemm_note, sizeof s->gemm_note, "auto: all on onnxc's own kernels (%s)",
             !onnxc_gemm_available("libxsmm") ? "this onnxc has no libxsmm" : "the measurement did not run");
    free(ns);
    return;
  }
  int gemms = 0, picked = 0;
  double own_ms = 0, xs_ms = 0;
  for (int i = 0; i < g->nnodes; i++) { /* the nodes the libxsmm compile put on libxsmm (gen_xsmm.c) */
    if (!g->nodes[i]->xsmm) continue;
    g->nodes[i]->xsmm = false;
    if (own[i] == INT64_MAX || xs[i] == INT64_MAX) continue;
    gemms++;
    bool x = (double)xs[i] <= AUTO_MARGIN * (double)own[i];
    g->nodes[i]->xsmm = x;
    picked += x;
    own_ms += 1e-6 * (double)own[i];
    xs_ms += 1e-6 * (double)(x ? xs[i] : own[i]);
  }
  snprintf(s->gemm_note, sizeof s->gemm_note,
           "auto: %d of %d nodes libxsmm can compute on libxsmm (measured faster by >= %.0f%%); those nodes "
           "%.3f ms on onnxc's kernels, %.3f ms as chosen", picked, gemms, 100 * (1 - AUTO_MARGIN), own_ms, xs_ms);
  free(ns);
}

BeModel *lib_jit(onnxc_session *s, const BeOptions *bo) {
  if (s->g->gemm_provider == 2) lib_gemm_auto(s, s->g, bo);
  return be_jit(s->g, bo, s->err, sizeof s->err);
}

/* ---- --fp-mode ---- */
static const char *const fp_mode_names[] = {"fp32", "bf16"}; /* IR_FP_FP32, IR_FP_BF16 */

int onnxc_options_set_fp_mode(onnxc_session_options *o, const char *mode) {
  for (int i = 0; o && mode && i < 2; i++)
    if (!strcmp(mode, fp_mode_names[i])) {
      o->fp_mode = i;
      return ONNXC_OK;
    }
  return ONNXC_ERR_ARGUMENT;
}

const char *lib_fp_mode_name(int mode) { return mode == IR_FP_BF16 ? "bf16" : "fp32"; }

int onnxc_fp_mode_host_ok(const char *mode) {
  if (mode && !strcmp(mode, "fp32")) return 1;
  if (!mode || strcmp(mode, "bf16")) return 0;
  Target t;
  char err[256];
  return !be_target_get("native", &t, err, sizeof err) && t.has_bf16;
}
