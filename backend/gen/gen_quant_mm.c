/* gen_quant_mm.c — int8 matmuls with a constant weight on the byte dot-product step (kb_dot4_u8s8,
 * vpdpbusd on AVX-512 VNNI): MatMulInteger, QLinearMatMul and onnxc's fused QMatMul (passes/qdq.c:
 * the dynamic form MatMulInteger → Cast → ·(sa·sb) [+ bias], and QDQ MatMul/Gemm).
 *
 * The tiling is gemm_emit_q8's (gen_gemm.c) with the operands' roles swapped: there the constant
 * operand is broadcast and the run-time one packed per task; a matmul's activations A [rows, K]
 * already hold 4 consecutive k of a row in 4 contiguous bytes, so A is read in place as broadcast
 * i32 words (no packing at run time) and the constant weight B [K, N] is the vector operand,
 * packed at compile time into panels of NRP = NV·L columns: [N/NRP][ceil(K/4)][NRP][4] bytes.
 * A tile is MR rows × NV vectors of i32 accumulators; one task is one panel × a range of row
 * tiles, so the panel (≤ 192 KB for K = 3072) stays in L2 while A's rows stream through L1.
 *
 * With weight zero points 0 (symmetric weights, as ORT's and onnxc's quantizers write them):
 *     Σ_k (a - za)·b = Σ_k a·b - za·colsum(b)
 * colsum is a constant per column, za a run-time scalar, so the correction is one multiply-add per
 * output vector in the epilogue, followed by the op's own tail:
 *     i32 (MatMulInteger):     y = acc'
 *     f32 (QMatMul, float y):  y = float(acc')·(sa·sb[n]) + bias[n]        (ORT's Cast, Mul, Add)
 *     8-bit (QLinearMatMul, QMatMul with y_scale): y = sat(round(float(acc')·(sa·sb[n]/sy)
 *                                                          + bias[n]/sy) + zy)
 * Other forms (int8 activations, non-zero or per-row zero points, a run-time weight) stay on the
 * kernels in gen_quant.c.
 *
 * A sparse weight (marked by the sparse pass; gen_sparse_q8.c's cost rule decides) keeps the
 * tiling, tasks and epilogue with panels of one vector, and its sums come from the sparse steps
 * (sq8_accumulate) instead of the dense k groups. */
#include <string.h>

#include "gen_contract.h"
#include "gen_sparse_q8.h"
#include "gen_util.h"

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

enum { QMM_I32, QMM_F32, QMM_Q8 };

typedef struct QmmK {
  int mode;
  int64_t rows, K, N, G; /* G = ceil(K/4) */
  int L, nv, mr, nrp;
  DType yt;
  int64_t qmin, qmax;
  KV a, y;
  KV bpack, colsum, mult, bias; /* weights: packed B, per column i32 / f32 / f32 (padded to panels) */
  KV za, sa, sy, zy;            /* run-time scalars: i32, f32, f32, f32 (NULL when unused) */
  /* float output: fused activations and residual (passes/fuse.c).  Unused while ops.def gives
   * FU_EPI to F_CONTRACT ops only (test_optable); QMatMul's row takes it when that rule admits it */
  const Epilogue *epi;
  KV res;                       /* the residual (NULL: none); res_row: one row of N broadcast */
  bool res_row;
  const SpQ8 *sp; /* the sparse steps (NULL: dense) */
  /* per task */
  KV panel, col0, pidx;
  KV vmask[8]; /* per vector: its store mask in the last panel (NULL: full) */
} QmmK;

/* the inputs of the three ops: a, sa, za, b, sb, zb, bias, sy, zy (-1: absent) */
typedef struct QmmIn {
  int a, sa, za, b, sb, zb, bias, sy, zy;
} QmmIn;

static QmmIn qmm_inputs(const Node *n) {
  const Node *m = n;
  QmmIn r = {0, -1, 2, 1, -1, 3, -1, -1, -1};
  if (m->op == OP_QLinearMatMul) r = (QmmIn){0, 1, 2, 3, 4, 5, -1, 6, 7};
  if (m->op == OP_QMatMul) r = (QmmIn){0, 1, 2, 3, 4, 5, 6, 7, 8};
  int *f = &r.a;
  for (int i = 0; i < 9; i++)
    if (f[i] >= n->nin || (f[i] >= 0 && !n->in[f[i]])) f[i] = -1;
  return r;
}

static bool is_const(const Value *v) { return v && v->kind == VK_CONST && v->data; }

static bool scalar_in(const Node *n, int i, bool need_const) {
  return i < 0 || (ir_value_numel(n->in[i]) == 1 && (!need_const || is_const(n->in[i])));
}

bool gen_qmm_applies(const GenCtx *c) {
  const Node *n = c->n;
  QmmIn x = qmm_inputs(n);
  if (x.b < 0) return false;
  const Value *a = n->in[x.a], *b = n->in[x.b];
  if (a->dtype != DT_UINT8 || b->dtype != DT_INT8 || !is_const(b) || b->rank != 2 || b->dims[0] < 4) return false;
  if (n->op != OP_MatMulInteger && (x.sa < 0 || x.sb < 0 || n->in[x.sa]->dtype != DT_FLOAT || n->in[x.sb]->dtype != DT_FLOAT))
    return false;
  if (x.zb >= 0) {
    if (!is_const(n->in[x.zb])) return false;
    for (int64_t i = 0; i < ir_value_numel(n->in[x.zb]); i++)
      if (ir_const_i64(n->in[x.zb], i)) return false;
  }
  if (x.sb >= 0 && !is_const(n->in[x.sb])) return false;
  if (x.bias >= 0 && (!is_const(n->in[x.bias]) || n->in[x.bias]->dtype != DT_FLOAT || ir_value_numel(n->in[x.bias]) != b->dims[1]))
    return false;
  if (x.sy >= 0 && n->in[x.sy]->dtype != DT_FLOAT) return false;
  return scalar_in(n, x.sa, false) && scalar_in(n, x.za, false) && scalar_in(n, x.sy, true) && scalar_in(n, x.zy, true);
}

/* a run-time scalar input as f32 (an 8-bit zero point converted) */
static KV scalar_f32(KB *kb, const Node *n, int i) {
  DType t = n->in[i]->dtype;
  KV v = kb_load(kb, kt_s(kb_elem_of(t)), kb_buf(kb, i));
  return t == DT_FLOAT ? v : kb_cast(kb, v, kt_s(KE_F32), t == DT_UINT8, false);
}

/* rows [m, m + mr) × the task's panel: Σ over the k groups, then the epilogue */
static void qmm_tile(KB *kb, const QmmK *q, int mr, KV m) {
  int L = q->L, nv = q->nv;
  KT it = kt(KE_I32, L), bt = kt(KE_I8, 4 * L), ft = kt(KE_F32, L);
  KV arow[16];
  for (int i = 0; i < mr; i++) arow[i] = kb_gep(kb, KE_I8, q->a, kb_mul(kb, kb_add(kb, m, I(kb, i)), I(kb, q->K)));
  KVar acc[32];
  for (int k = 0; k < mr * nv; k++) acc[k] = kb_var(kb, it, kb_int(kb, it, 0));
  if (q->sp) sq8_accumulate(kb, q->sp, q->pidx, mr, arow, acc);
  for (int tail = 0; tail < 2 && !q->sp; tail++) {
    if (tail && q->K % 4 == 0) break;
    KV g = tail ? I(kb, q->K / 4) : kb_for(kb, I(kb, 0), I(kb, q->K / 4), 1);
    KV bv[8];
    for (int v = 0; v < nv; v++)
      bv[v] = kb_load(kb, bt, kb_gep(kb, KE_I8, q->panel, kb_mul(kb, kb_add(kb, kb_mul(kb, g, I(kb, nv)), I(kb, v)), I(kb, 4 * L))));
    for (int i = 0; i < mr; i++) {
      KV p = kb_gep(kb, KE_I8, arow[i], kb_mul(kb, g, I(kb, 4)));
      KV w;
      if (tail) /* the row's last K % 4 bytes: do not read past the row (B is zero there anyway) */
        w = kb_bitcast(kb, kb_load_masked(kb, kt(KE_I8, 4), p, kb_tail_mask(kb, 4, I(kb, q->K % 4)), NULL), kt_s(KE_I32));
      else
        w = kb_load(kb, kt_s(KE_I32), p);
      KV a = kb_bitcast(kb, kb_splat(kb, w, L), bt);
      for (int v = 0; v < nv; v++) kb_set(kb, acc[i * nv + v], kb_dot4_u8s8(kb, kb_get(kb, acc[i * nv + v]), a, bv[v]));
    }
    if (!tail) kb_endfor(kb);
  }
  /* epilogue: per column vector the correction za·colsum, the multiplier and the bias */
  KV corr[8], mul[8], bias[8];
  for (int v = 0; v < nv; v++) {
    KV col = kb_add(kb, q->col0, I(kb, (int64_t)v * L));
    corr[v] = kb_mul(kb, kb_splat(kb, q->za, L), kb_load(kb, it, kb_gep(kb, KE_I32, q->colsum, col)));
    if (q->mode == QMM_I32) continue;
    mul[v] = kb_mul(kb, kb_splat(kb, q->sa, L), kb_load(kb, ft, kb_gep(kb, KE_F32, q->mult, col)));
    if (q->mode == QMM_Q8) mul[v] = kb_div(kb, mul[v], kb_splat(kb, q->sy, L), false);
    bias[v] = q->bias ? kb_load(kb, ft, kb_gep(kb, KE_F32, q->bias, col)) : NULL;
  }
  for (int i = 0; i < mr; i++) {
    KV ybase = kb_mul(kb, kb_add(kb, m, I(kb, i)), I(kb, q->N));
    for (int v = 0; v < nv; v++) {
      KV r = kb_sub(kb, kb_get(kb, acc[i * nv + v]), corr[v]);
      KV dst = kb_add(kb, ybase, kb_add(kb, q->col0, I(kb, (int64_t)v * L)));
      if (q->mode == QMM_I32) {
        gen_vstore(kb, r, kb_gep(kb, KE_I32, q->y, dst), q->vmask[v]);
        continue;
      }
      KV f = kb_mul(kb, kb_cast(kb, r, ft, false, false), mul[v]);
      if (bias[v]) f = kb_add(kb, f, bias[v]);
      if (q->mode == QMM_F32 && q->epi) {
        KV r = NULL;
        if (q->res) r = gen_vload(kb, ft, kb_gep(kb, KE_F32, q->res, q->res_row ? kb_add(kb, q->col0, I(kb, (int64_t)v * L)) : dst), q->vmask[v]);
        f = gen_epi_apply(kb, q->epi, f, r);
      }
      if (q->mode == QMM_F32) {
        gen_vstore(kb, f, kb_gep(kb, KE_F32, q->y, dst), q->vmask[v]);
        continue;
      }
      KV z = kb_add(kb, kb_round_even(kb, f), kb_splat(kb, q->zy, L));
      z = kb_min(kb, kb_max(kb, z, kb_float(kb, ft, (double)q->qmin), false), kb_float(kb, ft, (double)q->qmax), false);
      gen_vstore(kb, gen_q8_bytes(kb, z), kb_gep(kb, KE_I8, q->y, dst), q->vmask[v]);
    }
  }
}

/* row tiles [t0, t1) of mr rows, and the rows % mr left over when last */
static void qmm_rows(KB *kb, const QmmK *q, KV t0, KV t1, KV last) {
  KV t = kb_for(kb, t0, t1, 1);
  qmm_tile(kb, q, q->mr, kb_mul(kb, t, I(kb, q->mr)));
  kb_endfor(kb);
  int rest = (int)(q->rows % q->mr);
  if (!rest) return;
  kb_if(kb, last);
  qmm_tile(kb, q, rest, I(kb, q->rows - rest));
  kb_endif(kb);
}

/* B [K, N] → panels [N/nrp][G][nrp][4] (zero padded); colsum, mult (sb / 1), bias per padded column */
static void qmm_weights(GenCtx *c, QmmK *q, const Node *n, const QmmIn *x) {
  KB *kb = c->kb;
  const int8_t *b = n->in[x->b]->data;
  int64_t np = cdiv(q->N, q->nrp), ncol = np * q->nrp, bytes = q->sp ? 1 : np * q->G * q->nrp * 4;
  int8_t *pk = arena_alloc(c->g->arena, (size_t)bytes);
  int32_t *cs = arena_alloc(c->g->arena, sizeof(int32_t) * (size_t)ncol);
  float *mu = arena_alloc(c->g->arena, sizeof(float) * (size_t)ncol), *bi = NULL;
  memset(pk, 0, (size_t)bytes), memset(cs, 0, sizeof(int32_t) * (size_t)ncol), memset(mu, 0, sizeof(float) * (size_t)ncol);
  for (int64_t k = 0; k < q->K; k++)
    for (int64_t j = 0; j < q->N; j++) {
      if (!q->sp) pk[(((j / q->nrp) * q->G + k / 4) * q->nrp + j % q->nrp) * 4 + k % 4] = b[k * q->N + j];
      cs[j] += b[k * q->N + j];
    }
  for (int64_t j = 0; j < q->N && x->sb >= 0; j++) mu[j] = (float)ir_const_f64(n->in[x->sb], ir_value_numel(n->in[x->sb]) > 1 ? j : 0);
  if (x->bias >= 0 && q->mode != QMM_I32) {
    bi = arena_alloc(c->g->arena, sizeof(float) * (size_t)ncol);
    memset(bi, 0, sizeof(float) * (size_t)ncol);
    float sy = q->mode == QMM_Q8 ? (float)ir_const_f64(n->in[x->sy], 0) : 1.0f;
    for (int64_t j = 0; j < q->N; j++) bi[j] = (float)ir_const_f64(n->in[x->bias], j) / sy;
  }
  q->bpack = q->sp ? NULL : kb_weight(kb, pk, (size_t)bytes);
  q->colsum = kb_weight(kb, cs, sizeof(int32_t) * (size_t)ncol);
  q->mult = kb_weight(kb, mu, sizeof(float) * (size_t)ncol);
  q->bias = bi ? kb_weight(kb, bi, sizeof(float) * (size_t)ncol) : NULL;
  c->const_unused |= 1u << x->b;
}

/* NV (vectors of columns) with the fewest padded columns, preferring wide tiles; MR from the
 * registers left (as gemm_emit_q8) */
static void qmm_shape(const GenCtx *c, QmmK *q) {
  static const double eff[5] = {0, 0.7, 0.96, 0.98, 1.0};
  double best = 1e30;
  q->nv = 1;
  for (int v = 1; v <= 4 && !q->sp; v++) {
    double cost = (double)(cdiv(q->N, (int64_t)v * q->L) * v * q->L) / (double)q->N / eff[v];
    if (cost < best - 1e-9) best = cost, q->nv = v;
    if ((int64_t)v * q->L >= q->N) break;
  }
  int regs = c->target->vector_bytes == 32 ? 16 : 32, spare = c->target->has_vnni ? 0 : 2 + q->nv;
  q->mr = (regs - q->nv - 2 - spare) / q->nv;
  if (q->mr > 8) q->mr = 8;
  if (q->sp) q->mr = regs == 32 && c->target->has_vnni ? (SQ8_WIN > 64 ? 8 : 12) : 4; /* per row: acc and window */
  if (q->mr < 1) q->mr = 1;
  if (q->mr > q->rows) q->mr = (int)q->rows;
  q->nrp = q->nv * q->L;
}

int gen_qmm(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  QmmIn x = qmm_inputs(n);
  Value *a = n->in[x.a], *b = n->in[x.b], *y = n->out[0];
  QmmK q = {.mode = y->dtype == DT_INT32 ? QMM_I32 : y->dtype == DT_FLOAT ? QMM_F32 : QMM_Q8, .K = b->dims[0], .N = b->dims[1],
            .G = cdiv(b->dims[0], 4), .yt = y->dtype, .a = kb_buf(kb, x.a), .y = kb_buf(kb, n->nin)};
  if (q.mode == QMM_Q8 && (x.sy < 0 || !is_const(n->in[x.sy]))) return ir_node_error(c->g, n, "an 8-bit output needs a constant y_scale");
  bool u8 = y->dtype == DT_UINT8;
  q.qmin = ir_attr_int(n, "qmin", u8 ? 0 : -128), q.qmax = ir_attr_int(n, "qmax", u8 ? 255 : 127);
  q.rows = ir_value_numel(a) / q.K;
  if (n->epi && q.mode != QMM_F32) return ir_node_error(c->g, n, "a fused epilogue needs a float output");
  q.epi = n->epi;
  q.res = gen_epi_res(c);
  q.res_row = q.res && !ir_same_shape(n->epi->res, y);
  if (q.rows == 0) return 0;
  q.L = kb_lanes(kb, KE_I32);
  SpQ8 sp;
  if (n->sparse && q.K >= SQ8_WIN) {
    SpQ8Cost cost;
    Target t = *c->target;
    t.vector_bytes = q.L * 4; /* the lanes the kernel uses */
    sq8_cost(&t, b->data, q.K, q.N, &cost);
    if (cost.pays) {
      sq8_pack(kb, b->data, q.K, q.N, q.L, &sp);
      q.sp = &sp;
    }
  }
  qmm_shape(c, &q);
  qmm_weights(c, &q, n, &x);
  int64_t np = cdiv(q.N, q.nrp), ntiles = q.rows / q.mr;
  /* enough tasks for the threads: split the row tiles when the panels are few */
  int64_t nrc = np >= 16 || ntiles < 2 ? 1 : cdiv(16, np), ntask;
  if (nrc > ntiles) nrc = ntiles > 0 ? ntiles : 1;
  int64_t per = cdiv(ntiles, nrc);
  nrc = per ? cdiv(ntiles, per) : 1;
  ntask = np * nrc;
  c->work = (double)q.rows * (double)q.N * (double)q.K >= 1e6 && ntask > 1 ? ntask : 1;

  q.za = x.za >= 0 ? kb_cast(kb, kb_load(kb, kt_s(KE_I8), kb_buf(kb, x.za)), kt_s(KE_I32), true, false) : kb_i32(kb, 0);
  if (q.mode != QMM_I32) q.sa = scalar_f32(kb, n, x.sa);
  if (q.mode == QMM_Q8) {
    q.sy = kb_f32(kb, (float)ir_const_f64(n->in[x.sy], 0));
    q.zy = kb_f32(kb, x.zy >= 0 ? (float)ir_const_i64(n->in[x.zy], 0) : 0.0f);
  }
  KV task = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  KV p = kb_div(kb, task, I(kb, nrc), true), rc = kb_rem(kb, task, I(kb, nrc), true);
  q.col0 = kb_mul(kb, p, I(kb, q.nrp));
  q.pidx = p;
  q.panel = q.sp ? NULL : kb_gep(kb, KE_I8, q.bpack, kb_mul(kb, p, I(kb, q.G * q.nrp * 4)));
  KV t0 = kb_mul(kb, rc, I(kb, per)), t1 = kb_min(kb, kb_add(kb, t0, I(kb, per)), I(kb, ntiles), false);
  KV last = kb_cmp(kb, KC_EQ, rc, I(kb, nrc - 1), false);
  int64_t tail = q.N % q.nrp;
  if (!tail) qmm_rows(kb, &q, t0, t1, last);
  else {
    /* the last panel: each vector's stores masked to the columns left (none, some or all) */
    kb_if(kb, kb_cmp(kb, KC_EQ, p, I(kb, np - 1), false));
    QmmK ql = q;
    for (int v = 0; v < q.nv; v++) {
      int64_t left = tail - (int64_t)v * q.L;
      if (left < q.L) ql.vmask[v] = kb_tail_mask(kb, q.L, I(kb, left > 0 ? left : 0));
    }
    qmm_rows(kb, &ql, t0, t1, last);
    kb_else(kb);
    qmm_rows(kb, &q, t0, t1, last);
    kb_endif(kb);
  }
  kb_endfor(kb);
  return 0;
}
