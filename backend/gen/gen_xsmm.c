/* gen_xsmm.c — fp32 GEMMs on libxsmm's kernels (`--gemm libxsmm`, ISSUE14 Deliver 4).
 *
 * With the root graph's gemm_provider set to libxsmm (libonnxc sets it from its options), a GEMM
 * of the engine's form (gen_contract.h: MatMul, Gemm, a 1×1 convolution whose B is its input)
 * becomes a parallel loop of tasks, each a block of C computed by one call of
 * onnxc_xsmm_sgemm (runtime/xsmm/onnxc_xsmm.c, which dispatches libxsmm's JIT kernels), then
 * the same epilogue onnxc's own kernels apply (alpha, bias, fused activations and residual) over
 * that block while it is in cache.  libxsmm reads unpacked row-major operands, so a constant
 * operand is copied once, row-major, into the weight blob (its strides may be transposed).
 * What does not fit (other dtypes, custom B packers such as im2col, strided run-time operands,
 * constants that vary over batch dims, clustered constants, N < 16) stays on onnxc's kernels. */
#include <stdlib.h>
#include <string.h>

#include "gen_cluster.h"
#include "gen_contract.h"

#define XSMM_MIN_N 16     /* narrower: onnxc's dot-product path (N <= 4) or few columns per call */
#define XSMM_MIN_ROWS 16  /* rows of a task's block (the call and its dispatch amortized) */
#define XSMM_COL_ALIGN 64 /* a task's columns: whole 64-column libxsmm tiles */

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* libxsmm computes c's GEMMs: `--gemm libxsmm`, or `auto` and the node measured faster on it */
static int provider_of(const GenCtx *c) {
  const Graph *g = c->g;
  while (g->parent) g = g->parent;
  return g->gemm_provider == 1 || (g->gemm_provider == 2 && c->n && c->n->xsmm) ? g->gemm_provider : 0;
}

static bool const_ok(const GemmSpec *s, const Value *v, const int64_t *bs) {
  if (v->dtype != DT_FLOAT || !v->data || gemm_cl_ok(s, v)) return false;
  for (int d = 0; d < s->nbd; d++) /* one matrix (a conv's group dim of size 1 has a stride) */
    if (bs[d] && s->bdims[d] > 1) return false;
  return true;
}

/* s has a form libxsmm takes here (see the head of the file) */
static bool xsmm_applies(const GemmSpec *s) {
  if (s->dt != DT_FLOAT || s->pack || s->N < XSMM_MIN_N || s->M < 1 || s->K < 1) return false;
  if (s->a_const ? !const_ok(s, s->a_const, s->a_bs) : s->a_cs != 1) return false;
  if (s->b_const ? !const_ok(s, s->b_const, s->b_bs) : s->b_cs != 1) return false;
  return !s->bias || s->bias_cs == 0 || s->bias_cs == 1;
}

/* constant v's rows × cols matrix (element (i, j) at v[i·rs + j·cs]) row-major in the weight blob */
static KV const_rowmajor(KB *kb, const Value *v, int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  const float *src = v->data;
  float *m = ir_xcalloc((size_t)(rows * cols), sizeof *m);
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) m[i * cols + j] = src[i * rs + j * cs];
  KV p = kb_weight(kb, m, sizeof *m * (size_t)(rows * cols));
  free(m);
  return p;
}

/* the task grid: batch × nmb row blocks × nnb column blocks, enough tasks to balance a few
 * threads (as gemm_emit: about one per 2 MFLOP, at most 16) */
typedef struct XsGrid {
  int64_t nb, nmb, nnb, mc, nc, ntask;
  bool parallel;
} XsGrid;

static XsGrid xsmm_grid(const GemmSpec *s) {
  XsGrid g = {.nb = 1, .nmb = 1, .nnb = 1};
  for (int d = 0; d < s->nbd; d++) g.nb *= s->bdims[d];
  double flops = 2.0 * (double)g.nb * (double)s->M * (double)s->N * (double)s->K;
  g.parallel = flops >= 1e6;
  int64_t desired = (int64_t)(flops / 2e6);
  if (desired > 16) desired = 16;
  if (g.parallel && desired < 2) desired = 2;
  if (g.nb < desired) {
    g.nmb = cdiv(desired, g.nb);
    if (g.nmb > cdiv(s->M, XSMM_MIN_ROWS)) g.nmb = cdiv(s->M, XSMM_MIN_ROWS);
  }
  if (g.nb * g.nmb < desired) {
    g.nnb = cdiv(desired, g.nb * g.nmb);
    if (g.nnb > cdiv(s->N, XSMM_COL_ALIGN)) g.nnb = cdiv(s->N, XSMM_COL_ALIGN);
  }
  g.mc = cdiv(s->M, g.nmb);
  g.nmb = cdiv(s->M, g.mc);
  g.nc = cdiv(cdiv(s->N, g.nnb), XSMM_COL_ALIGN) * XSMM_COL_ALIGN;
  if (g.nc > s->N) g.nc = s->N;
  g.nnb = cdiv(s->N, g.nc);
  g.ntask = g.nb * g.nmb * g.nnb;
  return g;
}

/* pointers of one task's block: rows [m0, m0 + rows) × columns [n0, n0 + cols) of batch b */
typedef struct XsTask {
  KV m0, n0, rows, cols;
  KV a, b, c, bias, res; /* A at row m0, B at column n0, C/bias/residual at (m0, n0) */
} XsTask;

/* the offset of batch index b (flattened) in an operand with batch strides bs */
static KV batch_off(KB *kb, const GemmSpec *s, KV b, const int64_t *bs) {
  KV off = I(kb, 0);
  for (int d = s->nbd - 1; d >= 0; d--) {
    KV idx = d > 0 ? kb_rem(kb, b, I(kb, s->bdims[d]), true) : b;
    if (d > 0) b = kb_div(kb, b, I(kb, s->bdims[d]), true);
    off = kb_add(kb, off, kb_mul(kb, idx, I(kb, bs[d])));
  }
  return off;
}

static XsTask xsmm_task(KB *kb, const GemmSpec *s, const XsGrid *g, KV t, KV apk, KV bpk, int64_t lda, int64_t ldb) {
  XsTask k;
  KV nbi = kb_rem(kb, t, I(kb, g->nnb), true), rest = kb_div(kb, t, I(kb, g->nnb), true);
  KV mbi = kb_rem(kb, rest, I(kb, g->nmb), true), b = kb_div(kb, rest, I(kb, g->nmb), true);
  k.m0 = kb_mul(kb, mbi, I(kb, g->mc));
  k.n0 = kb_mul(kb, nbi, I(kb, g->nc));
  k.rows = kb_min(kb, I(kb, g->mc), kb_sub(kb, I(kb, s->M), k.m0), false);
  k.cols = kb_min(kb, I(kb, g->nc), kb_sub(kb, I(kb, s->N), k.n0), false);
  KV aoff = apk ? I(kb, 0) : batch_off(kb, s, b, s->a_bs), boff = bpk ? I(kb, 0) : batch_off(kb, s, b, s->b_bs);
  k.a = kb_gep(kb, KE_F32, apk ? apk : s->a, kb_add(kb, aoff, kb_mul(kb, k.m0, I(kb, lda))));
  k.b = kb_gep(kb, KE_F32, bpk ? bpk : s->b, kb_add(kb, boff, k.n0));
  KV crow = kb_add(kb, batch_off(kb, s, b, s->c_bs), kb_add(kb, kb_mul(kb, k.m0, I(kb, s->ldc)), k.n0));
  k.c = kb_gep(kb, KE_F32, s->c, crow);
  k.bias = k.res = NULL;
  if (s->bias)
    k.bias = kb_gep(kb, KE_F32, s->bias,
                    kb_add(kb, batch_off(kb, s, b, s->bias_bs),
                           kb_add(kb, kb_mul(kb, k.m0, I(kb, s->bias_rs)), kb_mul(kb, k.n0, I(kb, s->bias_cs)))));
  if (s->res)
    k.res = kb_gep(kb, KE_F32, s->res,
                   kb_add(kb, batch_off(kb, s, b, s->res_bs), kb_add(kb, kb_mul(kb, k.m0, I(kb, s->res_rs)), k.n0)));
  return k;
}

/* C = post(alpha·C + beta·bias) + residual, activations: the epilogue of gen_gemm.c's emit_tile, in
 * the same order, over the task's block after libxsmm wrote it */
static void xsmm_epilogue(KB *kb, const GemmSpec *s, const XsTask *k) {
  if (!(s->alpha != 1.0 || s->bias || s->post || s->res || s->epi)) return;
  int L = kb_lanes(kb, KE_F32);
  KV alpha = s->alpha != 1.0 ? ct_const(kb, KE_F32, L, s->alpha) : NULL;
  KV beta = s->bias && s->beta != 1.0 ? ct_const(kb, KE_F32, L, s->beta) : NULL;
  KV i = kb_for(kb, I(kb, 0), k->rows, 1);
  KV crow = kb_mul(kb, i, I(kb, s->ldc));
  KV brow = s->bias && s->bias_cs == 0
                ? kb_splat(kb, ct_load(kb, s->dt, KE_F32, k->bias, kb_mul(kb, i, I(kb, s->bias_rs)), 1, NULL), L)
                : NULL;
  KV j = kb_for(kb, I(kb, 0), k->cols, L);
  KV mask = kb_tail_mask(kb, L, kb_sub(kb, k->cols, j));
  KV x = ct_load(kb, s->dt, KE_F32, k->c, kb_add(kb, crow, j), L, mask);
  if (alpha) x = kb_mul(kb, x, alpha);
  if (s->bias) {
    KV bb = brow ? brow : ct_load(kb, s->dt, KE_F32, k->bias, kb_add(kb, kb_mul(kb, i, I(kb, s->bias_rs)), j), L, mask);
    x = beta ? ct_madd(kb, bb, beta, x) : kb_add(kb, x, bb);
  }
  if (s->post) x = s->post(kb, x, s->post_ud);
  KV r = s->res ? ct_load(kb, s->dt, KE_F32, k->res, kb_add(kb, kb_mul(kb, i, I(kb, s->res_rs)), j), L, mask) : NULL;
  x = gen_epi_apply(kb, s->epi, x, r);
  ct_store(kb, s->dt, k->c, kb_add(kb, crow, j), x, mask);
  kb_endfor(kb);
  kb_endfor(kb);
}

bool gemm_xsmm_emit(GenCtx *c, GemmSpec *s) {
  int provider = provider_of(c);
  if (!provider || !xsmm_applies(s)) return false;
  if (provider == 1 && c->n) c->n->xsmm = true; /* it applies: what `--gemm auto` measures (lib/gemm.c) */
  KB *kb = c->kb;
  s->ce = KE_F32;
  s->lanes = kb_lanes(kb, KE_F32);
  KV apk = s->a_const ? const_rowmajor(kb, s->a_const, s->M, s->K, s->a_rs, s->a_cs) : NULL;
  KV bpk = s->b_const ? const_rowmajor(kb, s->b_const, s->K, s->N, s->b_rs, s->b_cs) : NULL;
  int64_t lda = apk ? s->K : s->a_rs, ldb = bpk ? s->N : s->b_rs;
  XsGrid g = xsmm_grid(s);
  c->work = g.parallel && g.ntask > 1 ? g.ntask : 1;
  KV t = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, g.ntask), 1);
  XsTask k = xsmm_task(kb, s, &g, t, apk, bpk, lda, ldb);
  KV args[9] = {k.rows, k.cols, I(kb, s->K), k.a, I(kb, lda), k.b, I(kb, ldb), k.c, I(kb, s->ldc)};
  KV st = kb_call_rt(kb, "onnxc_xsmm_sgemm", kt_s(KE_I32), 9, args);
  kb_if(kb, kb_cmp(kb, KC_NE, st, kb_i32(kb, 0), false));
  kb_return_status(kb, st);
  kb_endif(kb);
  xsmm_epilogue(kb, s, &k);
  kb_endfor(kb);
  return true;
}
