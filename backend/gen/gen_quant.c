/* gen_quant.c — code generation for the F_QUANT family.
 *
 * QuantizeLinear / DequantizeLinear are elementwise nests (gen_eltwise) whose scale and zero point
 * are operands with stride 1 along the quantization axis and 0 elsewhere.  DynamicQuantizeLinear is
 * one kernel: a vector min/max pass, then the quantizing pass.  The integer contractions accumulate
 * in i32 vectors: MatMulInteger / QLinearMatMul vectorize over N (one broadcast A element times a
 * row of B per step); ConvInteger / QLinearConv over a strip of output columns (gathered input
 * columns, masked at the padding, times one broadcast weight).  The QLinear ops requantize the
 * i32 sums in f32: round half to even, add the zero point, saturate. */
#include <stdint.h>
#include <string.h>

#include "gen_contract.h"
#include "gen_util.h"

static KV i64c(KB *kb, int64_t x) { return kb_i64(kb, x); }

static bool uns_of(DType t) { return t == DT_UINT8 || t == DT_UINT16 || t == DT_UINT32 || t == DT_UINT64; }

/* f (f32 lanes) → round half to even, + zp (f32 lanes), saturate to [lo, hi] within dtype t */
static KV requant_to(KB *kb, KV f, KV zp, DType t, int64_t lo, int64_t hi) {
  KT ft = kb_type(kb, f);
  KV q = kb_add(kb, kb_round_even(kb, f), zp);
  q = kb_max(kb, q, kb_float(kb, ft, (double)lo), false);
  q = kb_min(kb, q, kb_float(kb, ft, (double)hi), false);
  return gen_q8_bytes(kb, q);
}

/* ... saturating to the whole of dtype t (int8/uint8) */
static KV requant(KB *kb, KV f, KV zp, DType t) {
  bool u = t == DT_UINT8;
  return requant_to(kb, f, zp, t, u ? 0 : -128, u ? 255 : 127);
}

/* a value of dtype t (int or float lanes) as f32 lanes */
static KV to_f32(KB *kb, KV v, DType t) {
  KT vt = kb_type(kb, v);
  return kb_cast(kb, v, kt(KE_F32, vt.lanes), uns_of(t), false);
}

/* ---- QuantizeLinear / DequantizeLinear ---- */

typedef struct QdqCtx {
  bool quant, has_zp;
  DType xt, zt, yt;
} QdqCtx;

static KV qdq_fn(KB *kb, KV *ops, int lanes, void *ud) {
  QdqCtx *q = ud;
  KT f = kt(KE_F32, lanes);
  KV s = to_f32(kb, ops[1], DT_FLOAT);
  KV zp = q->has_zp ? to_f32(kb, ops[2], q->zt) : kb_float(kb, f, 0);
  if (q->quant) return requant(kb, kb_div(kb, to_f32(kb, ops[0], q->xt), s, false), zp, q->yt);
  if (q->xt == DT_INT32 && q->has_zp) { /* subtract exactly in i32 */
    KV d = kb_sub(kb, ops[0], kb_cast(kb, ops[2], kt(KE_I32, lanes), false, false));
    return kb_mul(kb, to_f32(kb, d, DT_INT32), s);
  }
  return kb_mul(kb, kb_sub(kb, to_f32(kb, ops[0], q->xt), zp), s);
}

static int gen_qdq(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *y = n->out[0];
  Value *z = n->nin > 2 ? n->in[2] : NULL;
  int axis;
  if (ir_quant_axis(c->g, n, &axis)) return -1;
  if (n->in[1]->dtype != DT_FLOAT) return ir_node_error(c->g, n, "only float32 scales are supported");
  QdqCtx q = {n->op == OP_QuantizeLinear, z != NULL, x->dtype, z ? z->dtype : DT_UINT8, y->dtype};
  EwOperand ops[3];
  memset(ops, 0, sizeof ops);
  ops[0].base = kb_buf(kb, 0), ops[0].dtype = x->dtype;
  gen_strides(x->rank, x->dims, ops[0].strides);
  for (int k = 1; k < (z ? 3 : 2); k++) {
    ops[k].base = kb_buf(kb, k), ops[k].dtype = n->in[k]->dtype;
    if (axis >= 0) ops[k].strides[axis] = 1;
  }
  gen_eltwise(c, z ? 3 : 2, ops, kb_buf(kb, n->nin), y->dtype, x->rank, x->dims, qdq_fn, &q);
  return 0;
}

/* ---- DynamicQuantizeLinear ---- */

typedef struct DqlCtx {
  KV x, y;
  KVar lo, hi;
  KV scale, zp; /* splats for the second pass */
  int W;
} DqlCtx;

/* masked-off lanes load 0, which min(0, ...) / max(0, ...) ignore */
static void dql_minmax(KB *kb, void *ud, KV j, KV mask) {
  DqlCtx *d = ud;
  KV v = gen_vload(kb, kt(KE_F32, d->W), kb_gep(kb, KE_F32, d->x, j), mask);
  kb_set(kb, d->lo, kb_min(kb, kb_get(kb, d->lo), v, false));
  kb_set(kb, d->hi, kb_max(kb, kb_get(kb, d->hi), v, false));
}

static void dql_quant(KB *kb, void *ud, KV j, KV mask) {
  DqlCtx *d = ud;
  KV v = gen_vload(kb, kt(KE_F32, d->W), kb_gep(kb, KE_F32, d->x, j), mask);
  gen_vstore(kb, requant(kb, kb_div(kb, v, d->scale, false), d->zp, DT_UINT8), kb_gep(kb, KE_I8, d->y, j), mask);
}

static int gen_dynamic_quant(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  int64_t m = ir_value_numel(n->in[0]);
  DqlCtx d = {.x = kb_buf(kb, 0), .y = kb_buf(kb, 1), .W = gen_lanes_for(c, 4)};
  KT vt = kt(KE_F32, d.W);
  d.lo = kb_var(kb, vt, kb_float(kb, vt, 0));
  d.hi = kb_var(kb, vt, kb_float(kb, vt, 0));
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, m), d.W, dql_minmax, &d);
  KV lo = kb_reduce_min(kb, kb_get(kb, d.lo), false), hi = kb_reduce_max(kb, kb_get(kb, d.hi), false);
  KV scale = kb_div(kb, kb_sub(kb, hi, lo), kb_f32(kb, 255), false);
  /* an all-zero input has scale 0: divide by 1 instead (every x is 0, so y = zp = 0) */
  KV div = kb_select(kb, kb_cmp(kb, KC_EQ, scale, kb_f32(kb, 0), false), kb_f32(kb, 1), scale);
  KV zpf = kb_round_even(kb, kb_div(kb, kb_neg(kb, lo), div, false));
  zpf = kb_min(kb, kb_max(kb, zpf, kb_f32(kb, 0), false), kb_f32(kb, 255), false);
  d.scale = kb_splat(kb, div, d.W);
  d.zp = kb_splat(kb, zpf, d.W);
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, m), d.W, dql_quant, &d);
  if (n->out[1]) kb_store(kb, scale, kb_buf(kb, 2));
  if (n->out[2])
    kb_store(kb, kb_cast(kb, kb_cast(kb, zpf, kt_s(KE_I32), false, false), kt_s(KE_I8), false, false), kb_buf(kb, 3));
  return 0;
}

/* ---- integer matmul ---- */

/* A zero point (or 0 when absent) as an i32 scalar */
static KV zp_i32(KB *kb, const Node *n, int i, KV idx) {
  if (i >= n->nin || !n->in[i]) return kb_i32(kb, 0);
  DType t = n->in[i]->dtype;
  KV v = kb_load(kb, kt_s(kb_elem_of(t)), kb_gep(kb, kb_elem_of(t), kb_buf(kb, i), idx));
  return kb_cast(kb, v, kt_s(KE_I32), uns_of(t), false);
}

static KV scale_f32(KB *kb, int i, KV idx) { return kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, kb_buf(kb, i), idx)); }

#define QMM_MR 4 /* rows of A per block: they share every B vector load */

typedef struct QmmCtx {
  GenCtx *c;
  bool ql, zb_col, sb_col;  /* b's zero point / scale per column */
  int ia, ib, W;
  DType at, bt, yt;
  int64_t K, N;
  KV nrows;                 /* rows in this block (the last block of a batch may be short) */
  KV a_row[QMM_MR], y_row[QMM_MR], za[QMM_MR], sa[QMM_MR]; /* per row: A[b, m, :], Y[b, m, :], i32, f32 */
  KV b_mat;                 /* B[b, :, :] */
  KV zb, sb, sy, zy;        /* zb: i32 splat (per-tensor); sb, sy: f32; zy: f32 splat */
} QmmCtx;

static void qmm_body(KB *kb, void *ud, KV j, KV mask) {
  QmmCtx *q = ud;
  const Node *n = q->c->n;
  KT it = kt(KE_I32, q->W), ft = kt(KE_F32, q->W);
  int izb = q->ql ? 5 : 3;
  KV zb = q->zb;
  if (q->zb_col) zb = kb_cast(kb, gen_load_vec(kb, n->in[izb]->dtype, kb_buf(kb, izb), j, q->W, mask), it, uns_of(n->in[izb]->dtype), false);
  KVar acc[QMM_MR];
  for (int r = 0; r < QMM_MR; r++) acc[r] = kb_var(kb, it, kb_int(kb, it, 0));
  KV k = kb_for(kb, i64c(kb, 0), i64c(kb, q->K), 1);
  KV bv = gen_load_vec(kb, q->bt, q->b_mat, kb_add(kb, kb_mul(kb, k, i64c(kb, q->N)), j), q->W, mask);
  bv = kb_sub(kb, kb_cast(kb, bv, it, uns_of(q->bt), false), zb);
  for (int r = 0; r < QMM_MR; r++) {
    KV a = kb_load(kb, kt_s(kb_elem_of(q->at)), kb_gep(kb, kb_elem_of(q->at), q->a_row[r], k));
    a = kb_sub(kb, kb_cast(kb, a, kt_s(KE_I32), uns_of(q->at), false), q->za[r]);
    kb_set(kb, acc[r], kb_add(kb, kb_get(kb, acc[r]), kb_mul(kb, kb_splat(kb, a, q->W), bv)));
  }
  kb_endfor(kb);
  KV sb = NULL;
  if (q->ql) sb = q->sb_col ? gen_load_vec(kb, DT_FLOAT, kb_buf(kb, 4), j, q->W, mask) : kb_splat(kb, q->sb, q->W);
  for (int r = 0; r < QMM_MR; r++) {
    if (r) kb_if(kb, kb_cmp(kb, KC_LT, i64c(kb, r), q->nrows, false));
    KV v = kb_get(kb, acc[r]);
    if (q->ql) {
      KV mult = kb_div(kb, kb_mul(kb, kb_splat(kb, q->sa[r], q->W), sb), kb_splat(kb, q->sy, q->W), false);
      if (q->sb_col && mask) mult = kb_select(kb, mask, mult, kb_float(kb, ft, 0));
      v = requant(kb, kb_mul(kb, to_f32(kb, v, DT_INT32), mult), q->zy, q->yt);
    }
    gen_store_vec(kb, q->yt, q->y_row[r], j, v, mask);
    if (r) kb_endif(kb);
  }
}

static bool per_elem(const Node *n, int i) { return i < n->nin && n->in[i] && ir_value_numel(n->in[i]) > 1; }

/* Y[b] = (A[b] - za)(B[b] - zb), in blocks of QMM_MR rows × a vector of columns */
static int gen_matmul_q(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  bool ql = n->op == OP_QLinearMatMul;
  int ia = 0, ib = ql ? 3 : 1, izb = ql ? 5 : 3;
  Value *a = n->in[ia], *b = n->in[ib], *y = n->out[0];
  if (ql && n->in[1]->dtype != DT_FLOAT) return ir_node_error(c->g, n, "only float32 scales are supported");
  int64_t K = a->dims[a->rank - 1], M = a->rank > 1 ? a->dims[a->rank - 2] : 1;
  int64_t N = b->rank > 1 ? b->dims[b->rank - 1] : 1;
  int ra = a->rank > 2 ? a->rank - 2 : 0, rbb = b->rank > 2 ? b->rank - 2 : 0;
  int r = ra > rbb ? ra : rbb;
  int64_t bd[IR_MAX_RANK], sa[IR_MAX_RANK], sb[IR_MAX_RANK], batches = 1;
  /* batch dims of the output and the element strides of A's and B's matrices along them */
  int64_t ma = M * K, mb = K * N;
  for (int d = r - 1; d >= 0; d--) {
    int da = d - (r - ra), db = d - (r - rbb);
    int64_t xa = da >= 0 ? a->dims[da] : 1, xb = db >= 0 ? b->dims[db] : 1;
    bd[d] = xa > xb ? xa : xb;
    sa[d] = xa == 1 ? 0 : ma, sb[d] = xb == 1 ? 0 : mb;
    if (da >= 0) ma *= xa;
    if (db >= 0) mb *= xb;
    batches *= bd[d];
  }
  QmmCtx q = {.c = c, .ql = ql, .zb_col = per_elem(n, izb), .sb_col = ql && per_elem(n, 4), .ia = ia, .ib = ib,
              .W = gen_lanes_cap(c, 4, 16), .at = a->dtype, .bt = b->dtype, .yt = y->dtype, .K = K, .N = N};
  int64_t nblk = (M + QMM_MR - 1) / QMM_MR, units = batches * nblk;
  c->work = batches * M * N * K >= (1 << 16) && units > 1 ? units : 1;
  if (!q.zb_col) q.zb = kb_splat(kb, zp_i32(kb, n, izb, i64c(kb, 0)), q.W);
  if (ql) {
    q.sb = q.sb_col ? NULL : scale_f32(kb, 4, i64c(kb, 0));
    q.sy = scale_f32(kb, 6, i64c(kb, 0));
    q.zy = kb_splat(kb, kb_cast(kb, zp_i32(kb, n, 7, i64c(kb, 0)), kt_s(KE_F32), false, false), q.W);
  }
  KV u = kb_for(kb, c->work > 1 ? kb_begin(kb) : i64c(kb, 0), c->work > 1 ? kb_end(kb) : i64c(kb, units), 1);
  KV bi = kb_div(kb, u, i64c(kb, nblk), false);
  KV m0 = kb_mul(kb, kb_rem(kb, u, i64c(kb, nblk), false), i64c(kb, QMM_MR));
  q.nrows = kb_min(kb, i64c(kb, QMM_MR), kb_sub(kb, i64c(kb, M), m0), false);
  KV offa = i64c(kb, 0), offb = i64c(kb, 0), rest = bi;
  for (int d = r - 1; d >= 0; d--) {
    KV id = kb_rem(kb, rest, i64c(kb, bd[d]), false);
    rest = kb_div(kb, rest, i64c(kb, bd[d]), false);
    offa = kb_add(kb, offa, kb_mul(kb, id, i64c(kb, sa[d])));
    offb = kb_add(kb, offb, kb_mul(kb, id, i64c(kb, sb[d])));
  }
  for (int k = 0; k < QMM_MR; k++) {
    /* rows past the end of a short block repeat the block's last row; their results are not stored */
    KV mi = kb_min(kb, kb_add(kb, m0, i64c(kb, k)), i64c(kb, M - 1), false);
    q.a_row[k] = kb_gep(kb, kb_elem_of(a->dtype), kb_buf(kb, ia), kb_add(kb, offa, kb_mul(kb, mi, i64c(kb, K))));
    q.y_row[k] = kb_gep(kb, kb_elem_of(y->dtype), kb_buf(kb, n->nin), kb_mul(kb, kb_add(kb, kb_mul(kb, bi, i64c(kb, M)), mi), i64c(kb, N)));
    q.za[k] = zp_i32(kb, n, 2, per_elem(n, 2) ? mi : i64c(kb, 0));
    if (ql) q.sa[k] = scale_f32(kb, 1, per_elem(n, 1) ? mi : i64c(kb, 0));
  }
  q.b_mat = kb_gep(kb, kb_elem_of(b->dtype), kb_buf(kb, ib), offb);
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, N), q.W, qmm_body, &q);
  kb_endfor(kb);
  return 0;
}

/* ---- u8 × s8 matmul with a constant B: byte dot products over B packed in groups of 4 k ----
 * Σ(a - za)(b - zb) = Σab - zb·Σa - za·Σb + K·za·zb: Σab by kb_dot4_u8s8 (vpdpbusd with VNNI) on
 * B packed as [N/W][K/4][W][4] bytes (zero padded), Σb per column at compile time, Σa per row. */

typedef struct QpkCtx {
  const Node *n;
  bool ql, zb_col, sb_col;
  int W;
  DType yt;
  int64_t K, G, N;            /* G = ceil(K/4) */
  KV nrows, bp, colsum;
  KV a_row[QMM_MR], y_row[QMM_MR], za[QMM_MR], sa[QMM_MR], rowsum[QMM_MR];
  KV zb, sb, sy, zy;
} QpkCtx;

/* 4 bytes of an A row at group g as i8 × 4W (splat); the last group is masked when K % 4 != 0 */
static KV qpk_a4(KB *kb, const QpkCtx *q, KV row, KV g, bool tail) {
  KV p = kb_gep(kb, KE_I8, row, kb_mul(kb, g, i64c(kb, 4)));
  KV v;
  if (tail) {
    KV m = kb_tail_mask(kb, 4, i64c(kb, q->K % 4));
    v = kb_bitcast(kb, kb_load_masked(kb, kt(KE_I8, 4), p, m, NULL), kt_s(KE_I32));
  } else
    v = kb_load(kb, kt_s(KE_I32), p);
  return kb_bitcast(kb, kb_splat(kb, v, q->W), kt(KE_I8, 4 * q->W));
}

static void qpk_groups(KB *kb, QpkCtx *q, KVar *acc, KV jb, bool tail) {
  KV g = tail ? i64c(kb, q->K / 4) : kb_for(kb, i64c(kb, 0), i64c(kb, q->K / 4), 1);
  KV bv = kb_load(kb, kt(KE_I8, 4 * q->W),
                  kb_gep(kb, KE_I8, q->bp, kb_mul(kb, kb_add(kb, kb_mul(kb, jb, i64c(kb, q->G)), g), i64c(kb, 4 * q->W))));
  for (int r = 0; r < QMM_MR; r++) kb_set(kb, acc[r], kb_dot4_u8s8(kb, kb_get(kb, acc[r]), qpk_a4(kb, q, q->a_row[r], g, tail), bv));
  if (!tail) kb_endfor(kb);
}

static void qpk_body(KB *kb, void *ud, KV j, KV mask) {
  QpkCtx *q = ud;
  KT it = kt(KE_I32, q->W), ft = kt(KE_F32, q->W);
  int izb = q->ql ? 5 : 3;
  KV jb = kb_div(kb, j, i64c(kb, q->W), false);
  KVar acc[QMM_MR];
  for (int r = 0; r < QMM_MR; r++) acc[r] = kb_var(kb, it, kb_int(kb, it, 0));
  qpk_groups(kb, q, acc, jb, false);
  if (q->K % 4) qpk_groups(kb, q, acc, jb, true);
  KV zb = q->zb;
  if (q->zb_col) zb = kb_cast(kb, gen_load_vec(kb, q->n->in[izb]->dtype, kb_buf(kb, izb), j, q->W, mask), it, false, false);
  KV cs = gen_vload(kb, it, kb_gep(kb, KE_I32, q->colsum, j), mask);
  KV sb = NULL;
  if (q->ql) sb = q->sb_col ? gen_load_vec(kb, DT_FLOAT, kb_buf(kb, 4), j, q->W, mask) : kb_splat(kb, q->sb, q->W);
  for (int r = 0; r < QMM_MR; r++) {
    if (r) kb_if(kb, kb_cmp(kb, KC_LT, i64c(kb, r), q->nrows, false));
    KV za = kb_splat(kb, q->za[r], q->W);
    KV v = kb_sub(kb, kb_get(kb, acc[r]), kb_mul(kb, zb, kb_splat(kb, q->rowsum[r], q->W)));
    v = kb_add(kb, kb_sub(kb, v, kb_mul(kb, za, cs)), kb_mul(kb, kb_mul(kb, za, zb), kb_int(kb, it, q->K)));
    if (q->ql) {
      KV mult = kb_div(kb, kb_mul(kb, kb_splat(kb, q->sa[r], q->W), sb), kb_splat(kb, q->sy, q->W), false);
      if (q->sb_col && mask) mult = kb_select(kb, mask, mult, kb_float(kb, ft, 0));
      v = requant(kb, kb_mul(kb, to_f32(kb, v, DT_INT32), mult), q->zy, q->yt);
    }
    gen_store_vec(kb, q->yt, q->y_row[r], j, v, mask);
    if (r) kb_endif(kb);
  }
}

/* Σ of an A row's bytes (u8) as i32 */
static KV qpk_rowsum(KB *kb, const QpkCtx *q, KV row) {
  KT bt = kt(KE_I8, 4 * q->W), it = kt(KE_I32, q->W);
  KVar s = kb_var(kb, it, kb_int(kb, it, 0));
  KV ones = kb_int(kb, bt, 1);
  KV g = kb_for(kb, i64c(kb, 0), i64c(kb, q->K / 4), 1);
  kb_set(kb, s, kb_dot4_u8s8(kb, kb_get(kb, s), qpk_a4(kb, q, row, g, false), ones));
  kb_endfor(kb);
  if (q->K % 4) kb_set(kb, s, kb_dot4_u8s8(kb, kb_get(kb, s), qpk_a4(kb, q, row, i64c(kb, q->K / 4), true), ones));
  return kb_extract(kb, kb_get(kb, s), 0); /* every lane holds the sum */
}

static bool qpk_applies(const GenCtx *c) {
  const Node *n = c->n;
  bool ql = n->op == OP_QLinearMatMul;
  const Value *a = n->in[0], *b = n->in[ql ? 3 : 1];
  return a->dtype == DT_UINT8 && b->dtype == DT_INT8 && b->kind == VK_CONST && b->data && b->rank == 2 &&
         b->dims[0] >= 4 && (!ql || n->in[1]->dtype == DT_FLOAT);
}

static int gen_matmul_q_packed(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  bool ql = n->op == OP_QLinearMatMul;
  int ib = ql ? 3 : 1, izb = ql ? 5 : 3;
  Value *a = n->in[0], *b = n->in[ib], *y = n->out[0];
  int64_t K = b->dims[0], N = b->dims[1], M = a->rank > 1 ? a->dims[a->rank - 2] : 1;
  int64_t rows = ir_value_numel(a) / K; /* B is shared: A's batch dims and M are one row range */
  /* narrow B: 8 columns per vector (kb_dot4_u8s8's widening form) rather than mostly empty 16 */
  QpkCtx q = {.n = n, .ql = ql, .zb_col = per_elem(n, izb), .sb_col = ql && per_elem(n, 4), .W = gen_lanes_cap(c, 4, N <= 8 ? 8 : 16),
              .yt = y->dtype, .K = K, .G = (K + 3) / 4, .N = N};
  int64_t nb = (N + q.W - 1) / q.W;
  int8_t *pk = arena_alloc(c->g->arena, (size_t)(nb * q.G * q.W * 4));
  int32_t *cs = arena_alloc(c->g->arena, sizeof(int32_t) * (size_t)(nb * q.W));
  const int8_t *bd = b->data;
  for (int64_t k = 0; k < K; k++)
    for (int64_t col = 0; col < N; col++) {
      int64_t jb = col / q.W, cc = col % q.W;
      pk[((jb * q.G + k / 4) * q.W + cc) * 4 + k % 4] = bd[k * N + col];
      cs[col] += bd[k * N + col];
    }
  q.bp = kb_weight(kb, pk, (size_t)(nb * q.G * q.W * 4));
  q.colsum = kb_weight(kb, cs, sizeof(int32_t) * (size_t)(nb * q.W));
  c->const_unused |= 1u << ib;
  int64_t nblk = (rows + QMM_MR - 1) / QMM_MR;
  c->work = rows * N * K >= (1 << 16) && nblk > 1 ? nblk : 1;
  if (!q.zb_col) q.zb = kb_splat(kb, zp_i32(kb, n, izb, i64c(kb, 0)), q.W);
  if (ql) {
    q.sb = q.sb_col ? NULL : scale_f32(kb, 4, i64c(kb, 0));
    q.sy = scale_f32(kb, 6, i64c(kb, 0));
    q.zy = kb_splat(kb, kb_cast(kb, zp_i32(kb, n, 7, i64c(kb, 0)), kt_s(KE_F32), false, false), q.W);
  }
  KV u = kb_for(kb, c->work > 1 ? kb_begin(kb) : i64c(kb, 0), c->work > 1 ? kb_end(kb) : i64c(kb, nblk), 1);
  KV r0 = kb_mul(kb, u, i64c(kb, QMM_MR));
  q.nrows = kb_min(kb, i64c(kb, QMM_MR), kb_sub(kb, i64c(kb, rows), r0), false);
  for (int k = 0; k < QMM_MR; k++) {
    /* rows past the end repeat the last row; their results are not stored */
    KV ri = kb_min(kb, kb_add(kb, r0, i64c(kb, k)), i64c(kb, rows - 1), false);
    KV mi = kb_rem(kb, ri, i64c(kb, M), false);
    q.a_row[k] = kb_gep(kb, KE_I8, kb_buf(kb, 0), kb_mul(kb, ri, i64c(kb, K)));
    q.y_row[k] = kb_gep(kb, kb_elem_of(y->dtype), kb_buf(kb, n->nin), kb_mul(kb, ri, i64c(kb, N)));
    q.za[k] = zp_i32(kb, n, 2, per_elem(n, 2) ? mi : i64c(kb, 0));
    if (ql) q.sa[k] = scale_f32(kb, 1, per_elem(n, 1) ? mi : i64c(kb, 0));
    q.rowsum[k] = qpk_rowsum(kb, &q, q.a_row[k]);
  }
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, N), q.W, qpk_body, &q);
  kb_endfor(kb);
  return 0;
}

/* ---- integer convolution (1-D / 2-D) ---- */

#define QCV_OB 4 /* output channels per block: they share every input vector */

typedef struct QcvCtx {
  bool ql;
  int64_t qmin, qmax;                          /* QConv: the output's saturation bounds */
  int W;
  DType xt, wt, yt;
  int64_t C, H, Wd, kh, kw, sh, sw, dh, dw, ph, pw, oh_n, ow_n;
  KV x_img, oh, nout;                          /* x at (b, first channel of the group); row; channels in block */
  KV w_oc[QCV_OB], y_plane[QCV_OB], zw[QCV_OB]; /* per channel: w at oc; y at (b, oc); i32 zero point */
  KV bias[QCV_OB], mult[QCV_OB];               /* i32 scalar; f32 splat */
  KV zx, zy;                                   /* i32 splat; f32 splat */
} QcvCtx;

/* input columns iw = ow·sw - pw + kw·dw of row xrow for the strip at j, minus x's zero point;
 * 0 where they fall in the padding */
static KV qcv_cols(KB *kb, const QcvCtx *q, KV xrow, KV j, KV valid, int64_t kw) {
  KT it = kt(KE_I32, q->W), lt = kt(KE_I64, q->W);
  KV ow = kb_add(kb, kb_splat(kb, j, q->W), kb_iota(kb, lt));
  KV iw = kb_add(kb, kb_mul(kb, ow, kb_int(kb, lt, q->sw)), kb_int(kb, lt, kw * q->dw - q->pw));
  KV in = kb_and(kb, valid, kb_and(kb, kb_cmp(kb, KC_GE, iw, kb_int(kb, lt, 0), false),
                                   kb_cmp(kb, KC_LT, iw, kb_int(kb, lt, q->Wd), false)));
  KT xt = kt(kb_elem_of(q->xt), q->W);
  KV xv;
  if (q->sw == 1) /* contiguous: a masked load (lanes in the padding are not touched) */
    xv = kb_load_masked(kb, xt, kb_gep(kb, xt.e, xrow, kb_add(kb, j, i64c(kb, kw * q->dw - q->pw))), in, NULL);
  else
    xv = kb_gather(kb, xt, xrow, iw, in);
  xv = kb_sub(kb, kb_cast(kb, xv, it, uns_of(q->xt), false), q->zx);
  return kb_select(kb, in, xv, kb_int(kb, it, 0));
}

static void qcv_body(KB *kb, void *ud, KV j, KV mask) {
  QcvCtx *q = ud;
  KT it = kt(KE_I32, q->W), lt = kt(KE_I64, q->W);
  KV valid = mask ? mask : kb_cmp(kb, KC_GE, kb_iota(kb, lt), kb_int(kb, lt, 0), false);
  KVar acc[QCV_OB];
  for (int o = 0; o < QCV_OB; o++) acc[o] = kb_var(kb, it, kb_int(kb, it, 0));
  KV ic = kb_for(kb, i64c(kb, 0), i64c(kb, q->C), 1);
  KV kh = kb_for(kb, i64c(kb, 0), i64c(kb, q->kh), 1);
  KV ih = kb_add(kb, kb_sub(kb, kb_mul(kb, q->oh, i64c(kb, q->sh)), i64c(kb, q->ph)), kb_mul(kb, kh, i64c(kb, q->dh)));
  kb_if(kb, kb_and(kb, kb_cmp(kb, KC_GE, ih, i64c(kb, 0), false), kb_cmp(kb, KC_LT, ih, i64c(kb, q->H), false)));
  KV xrow = kb_gep(kb, kb_elem_of(q->xt), q->x_img, kb_mul(kb, kb_add(kb, kb_mul(kb, ic, i64c(kb, q->H)), ih), i64c(kb, q->Wd)));
  KV woff = kb_mul(kb, kb_add(kb, kb_mul(kb, ic, i64c(kb, q->kh)), kh), i64c(kb, q->kw));
  for (int64_t kw = 0; kw < q->kw; kw++) {
    KV xv = qcv_cols(kb, q, xrow, j, valid, kw);
    for (int o = 0; o < QCV_OB; o++) {
      KV wp = kb_gep(kb, kb_elem_of(q->wt), q->w_oc[o], kb_add(kb, woff, i64c(kb, kw)));
      KV wv = kb_cast(kb, kb_load(kb, kt_s(kb_elem_of(q->wt)), wp), kt_s(KE_I32), uns_of(q->wt), false);
      wv = kb_splat(kb, kb_sub(kb, wv, q->zw[o]), q->W);
      kb_set(kb, acc[o], kb_add(kb, kb_get(kb, acc[o]), kb_mul(kb, xv, wv)));
    }
  }
  kb_endif(kb);
  kb_endfor(kb);
  kb_endfor(kb);
  KV at = kb_add(kb, kb_mul(kb, q->oh, i64c(kb, q->ow_n)), j);
  for (int o = 0; o < QCV_OB; o++) {
    if (o) kb_if(kb, kb_cmp(kb, KC_LT, i64c(kb, o), q->nout, false));
    KV r = kb_add(kb, kb_get(kb, acc[o]), kb_splat(kb, q->bias[o], q->W));
    if (q->ql) r = requant_to(kb, kb_mul(kb, to_f32(kb, r, DT_INT32), q->mult[o]), q->zy, q->yt, q->qmin, q->qmax);
    gen_store_vec(kb, q->yt, q->y_plane[o], at, r, mask);
    if (o) kb_endif(kb);
  }
}

/* 1-D / 2-D integer convolution: units of (image, block of QCV_OB output channels of one group) */
static int gen_conv_q(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  bool ql = n->op == OP_QLinearConv || n->op == OP_QConv;
  int iw_ = ql ? 3 : 1, izw = ql ? 5 : 3;
  Value *x = n->in[0], *w = n->in[iw_], *y = n->out[0];
  int nsp = x->rank - 2;
  if (nsp > 2) return ir_node_error(c->g, n, "only 1-D and 2-D convolutions are supported");
  if (ql && n->in[1]->dtype != DT_FLOAT) return ir_node_error(c->g, n, "only float32 scales are supported");
  IrWindow win;
  if (ir_window(c->g, n, nsp, x->dims + 2, w->dims + 2, &win)) return -1;
  int64_t group = ir_attr_int(n, "group", 1), M = w->dims[0], Cg = w->dims[1], B = x->dims[0], Mg = M / group;
  bool two = nsp == 2;
  bool u8 = y->dtype == DT_UINT8;
  QcvCtx q = {.ql = ql, .qmin = ir_attr_int(n, "qmin", u8 ? 0 : -128), .qmax = ir_attr_int(n, "qmax", u8 ? 255 : 127), .W = gen_lanes_cap(c, 4, 16), .xt = x->dtype, .wt = w->dtype, .yt = y->dtype, .C = Cg,
              .H = two ? x->dims[2] : 1, .Wd = x->dims[1 + nsp], .kh = two ? w->dims[2] : 1,
              .kw = w->dims[1 + nsp], .sh = two ? win.stride[0] : 1, .sw = win.stride[nsp - 1],
              .dh = two ? win.dilation[0] : 1, .dw = win.dilation[nsp - 1], .ph = two ? win.pad_begin[0] : 0,
              .pw = win.pad_begin[nsp - 1], .oh_n = two ? win.out[0] : 1, .ow_n = win.out[nsp - 1]};
  int64_t bpg = (Mg + QCV_OB - 1) / QCV_OB, units = B * group * bpg;
  c->work = units > 1 && B * M * q.oh_n * q.ow_n * Cg * q.kh * q.kw >= (1 << 16) ? units : 1;
  KV u = kb_for(kb, c->work > 1 ? kb_begin(kb) : i64c(kb, 0), c->work > 1 ? kb_end(kb) : i64c(kb, units), 1);
  KV b = kb_div(kb, u, i64c(kb, group * bpg), false), rest = kb_rem(kb, u, i64c(kb, group * bpg), false);
  KV gi = kb_div(kb, rest, i64c(kb, bpg), false);
  KV oc0 = kb_add(kb, kb_mul(kb, gi, i64c(kb, Mg)), kb_mul(kb, kb_rem(kb, rest, i64c(kb, bpg), false), i64c(kb, QCV_OB)));
  KV oc_end = kb_mul(kb, kb_add(kb, gi, i64c(kb, 1)), i64c(kb, Mg));
  q.nout = kb_min(kb, i64c(kb, QCV_OB), kb_sub(kb, oc_end, oc0), false);
  KV xoff = kb_mul(kb, kb_add(kb, kb_mul(kb, b, i64c(kb, x->dims[1])), kb_mul(kb, gi, i64c(kb, Cg))), i64c(kb, q.H * q.Wd));
  q.x_img = kb_gep(kb, kb_elem_of(x->dtype), kb_buf(kb, 0), xoff);
  q.zx = kb_splat(kb, zp_i32(kb, n, 2, i64c(kb, 0)), q.W);
  bool zw_per = per_elem(n, izw);
  KV ys = ql ? scale_f32(kb, 6, i64c(kb, 0)) : NULL, xs = ql ? scale_f32(kb, 1, i64c(kb, 0)) : NULL;
  for (int o = 0; o < QCV_OB; o++) {
    /* channels past the end of a short block repeat its last channel; their results are not stored */
    KV oc = kb_min(kb, kb_add(kb, oc0, i64c(kb, o)), kb_sub(kb, oc_end, i64c(kb, 1)), false);
    q.w_oc[o] = kb_gep(kb, kb_elem_of(w->dtype), kb_buf(kb, iw_), kb_mul(kb, oc, i64c(kb, Cg * q.kh * q.kw)));
    q.y_plane[o] = kb_gep(kb, kb_elem_of(y->dtype), kb_buf(kb, n->nin),
                          kb_mul(kb, kb_add(kb, kb_mul(kb, b, i64c(kb, M)), oc), i64c(kb, q.oh_n * q.ow_n)));
    q.zw[o] = zp_i32(kb, n, izw, zw_per ? oc : i64c(kb, 0));
    q.bias[o] = ql && n->nin > 8 && n->in[8] ? kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, kb_buf(kb, 8), oc)) : kb_i32(kb, 0);
    if (ql) {
      KV ws = scale_f32(kb, 4, per_elem(n, 4) ? oc : i64c(kb, 0));
      q.mult[o] = kb_splat(kb, kb_div(kb, kb_mul(kb, xs, ws), ys, false), q.W);
    }
  }
  if (ql) q.zy = kb_splat(kb, kb_cast(kb, zp_i32(kb, n, 7, i64c(kb, 0)), kt_s(KE_F32), false, false), q.W);
  q.oh = kb_for(kb, i64c(kb, 0), i64c(kb, q.oh_n), 1);
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, q.ow_n), q.W, qcv_body, &q);
  kb_endfor(kb);
  kb_endfor(kb);
  return 0;
}

/* ---- integer convolution on the int8 GEMM engine (gemm_emit_q8) ----
 * Y[b, g] = W[g] · im2col(X[b, g]) with u8 activations (int8 ones flipped to u8 by x ^ 0x80, the
 * zero point moved by 128) and int8 weights of zero point 0.  Padding reads as the zero point, so
 * Σ_k (x - zx)·w = Σ_k x·w - zx·Σ_k w: the second term and the bias are one constant per output
 * channel (corr), and the requantization multiplier sx·sw/sy another (mult).  The im2col panel
 * is packed per task in groups of 4 k: each k gives one byte per output pixel of a vector, read
 * by a masked load where the pixels map to contiguous input (stride 1, output as wide as the
 * input: every 3×3 "same" conv and 1×1 stride-1 conv) and by a gather otherwise; four such
 * vectors interleave into the 4L bytes one dot-product step reads. */

typedef struct QcPack {
  KV x;
  bool s8;                       /* int8 activations: flipped to u8 */
  int64_t Cg, H, Wd, kh, kw, sh, sw, dh, dw, ph, pw, OW, P, KS, K;
  bool contiguous;               /* stride 1 and OW == Wd: pixel p + offset(k) is the input */
  bool word_gather;              /* x is in the 64-aligned arena and its byte offsets fit in i32 */
  int64_t zx;                    /* as u8 */
  /* stride 2 in both dims with OW == ceil(Wd/2): read through the task's phase split (below) */
  bool phase;
  unsigned used;                 /* bit 2·py + px: some tap reads phase (py, px) */
  int64_t PW, oy0, oy1;          /* phase width (= OW); the tap row offsets floor((dy - ph)/2) span [oy0, oy1] */
  /* k in channel-quads (qc_pack_c4): k = (c4·KS + r)·4 + c % 4, the weights permuted to match */
  bool c4;
  /* k in its natural order read through padded row windows (qc_pack_rows): Rmax rows of PWd bytes per channel */
  bool rows;
  int64_t Rmax, PWd;
} QcPack;

/* rows of one phase plane for a panel of nrp pixels: the output rows it can touch plus the taps' span */
static int64_t qc_phase_rows(const QcPack *p, int64_t nrp) { return (nrp + p->OW - 2) / p->OW + 1 + p->oy1 - p->oy0; }

/* Stride-2 convs: a per-byte gather per tap and pixel made their packing cost about twice the
 * stride-1 convs'.  Instead each task first splits the input rows its pixels read into their 4
 * (row, column) parity phases in scratch — phase (py, px) of channel c at buf + ((c·4 + 2py + px)·R
 * + i)·PW, row i holding input row 2·(oa + oy0 + i) + py and column j input column 2j + px.  Since
 * PW == OW, a tap then reads consecutive output pixels from consecutive bytes of one phase with
 * the masked contiguous load of the stride-1 case.  The split is a load of 2L bytes and one byte
 * shuffle per phase; rows outside the input are left unwritten (every lane reading them is masked
 * off by the tap's bounds check). */
static void qc_phase_fill(KB *kb, const QcPack *p, KV xb, KV oa, KV buf, int64_t R, int L) {
  KT b2 = kt(KE_I8, 2 * L);
  KV c = kb_for(kb, i64c(kb, 0), i64c(kb, p->Cg), 1);
  KV src = kb_gep(kb, KE_I8, xb, kb_mul(kb, c, i64c(kb, p->H * p->Wd)));
  for (int py = 0; py < 2; py++) {
    if (!(p->used & (3u << (2 * py)))) continue;
    KV i = kb_for(kb, i64c(kb, 0), i64c(kb, R), 1);
    KV ih = kb_add(kb, kb_mul(kb, kb_add(kb, oa, kb_add(kb, i, i64c(kb, p->oy0))), i64c(kb, 2)), i64c(kb, py));
    kb_if(kb, kb_and(kb, kb_cmp(kb, KC_GE, ih, i64c(kb, 0), false), kb_cmp(kb, KC_LT, ih, i64c(kb, p->H), false)));
    KV row = kb_gep(kb, KE_I8, src, kb_mul(kb, ih, i64c(kb, p->Wd)));
    for (int64_t j0 = 0; j0 < p->PW; j0 += L) {
      int64_t left = p->Wd - 2 * j0;
      KV at = kb_gep(kb, KE_I8, row, i64c(kb, 2 * j0));
      KV v = left >= 2 * L ? kb_load(kb, b2, at) : kb_load_masked(kb, b2, at, kb_tail_mask(kb, 2 * L, i64c(kb, left)), NULL);
      for (int px = 0; px < 2; px++) {
        if (!(p->used & (1u << (2 * py + px)))) continue;
        int idx[64];
        for (int j = 0; j < L; j++) idx[j] = 2 * j + px;
        KV plane = kb_add(kb, kb_mul(kb, c, i64c(kb, 4)), i64c(kb, 2 * py + px));
        KV dst = kb_gep(kb, KE_I8, buf, kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, plane, i64c(kb, R)), i), i64c(kb, p->PW)), i64c(kb, j0)));
        gen_vstore(kb, kb_shuffle(kb, v, v, idx, L), dst, p->PW - j0 < L ? kb_tail_mask(kb, L, i64c(kb, p->PW - j0)) : NULL);
      }
    }
    kb_endif(kb);
    kb_endfor(kb);
  }
  kb_endfor(kb);
}

/* bytes a[j], b[j] → (a[0], b[0], a[1], b[1], ...) */
static KV zip(KB *kb, KV a, KV b, int n) {
  int idx[256];
  for (int j = 0; j < n; j++) idx[2 * j] = j, idx[2 * j + 1] = n + j;
  return kb_shuffle(kb, a, b, idx, 2 * n);
}

/* lanes of ok whose input position (ih, iw) lies inside the image */
static KV qc_bounds(KB *kb, const QcPack *p, KV ok, KV ih, KV iw, int L) {
  KT i32v = kt(KE_I32, L);
  KV m = kb_and(kb, ok, kb_and(kb, kb_cmp(kb, KC_GE, ih, kb_int(kb, i32v, 0), false), kb_cmp(kb, KC_LT, ih, kb_int(kb, i32v, p->H), false)));
  return kb_and(kb, m, kb_and(kb, kb_cmp(kb, KC_GE, iw, kb_int(kb, i32v, 0), false), kb_cmp(kb, KC_LT, iw, kb_int(kb, i32v, p->Wd), false)));
}

/* k in channel-quads, for the contiguous and phase-split convs with Cg % 4 == 0 and a few taps
 * (every 3×3 of a ResNet): group g = c4·KS + r holds the 4 channels 4c4..4c4+3 at tap r, so a group is
 * 4 masked loads of the whole panel (nrp bytes: one vector each) at one offset and one bounds
 * mask, both fixed per tap (the masks computed once per task), interleaved by two rounds of
 * two-source byte / word shuffles (vpermt2b / vpermt2w) — instead of 4 loads, 4 mask reads and
 * 3 shuffles per L pixels and per group, with a division of k into channel and tap per byte row. */
/* per tap r: the bounds mask of the panel's N pixels and where the tap reads pixel 0 relative to
 * the panel's bytes of a channel (the input, or its phase planes of R rows) */
static void qc_c4_taps(KB *kb, const QcPack *p, KV n0, int N, int64_t R, KV *mask, int64_t *off) {
  KT i32v = kt(KE_I32, N);
  KV pix = kb_add(kb, kb_splat(kb, kb_cast(kb, n0, kt_s(KE_I32), false, false), N), kb_iota(kb, i32v));
  KV ok = kb_cmp(kb, KC_LT, pix, kb_int(kb, i32v, p->P), false);
  KV oh = kb_sub(kb, kb_mul(kb, kb_div(kb, pix, kb_int(kb, i32v, p->OW), true), kb_int(kb, i32v, p->sh)), kb_int(kb, i32v, p->ph));
  KV ow = kb_sub(kb, kb_mul(kb, kb_rem(kb, pix, kb_int(kb, i32v, p->OW), true), kb_int(kb, i32v, p->sw)), kb_int(kb, i32v, p->pw));
  for (int64_t r = 0; r < p->KS; r++) {
    int64_t dy = r / p->kw * p->dh, dx = r % p->kw * p->dw;
    mask[r] = qc_bounds(kb, p, ok, kb_add(kb, oh, kb_int(kb, i32v, dy)), kb_add(kb, ow, kb_int(kb, i32v, dx)), N);
    if (p->phase) { /* tap (dy - ph, dx - pw) = 2·(oy, ox) + (py, px): phase (py, px) shifted by (oy - oy0, ox) */
      int64_t qy = dy - p->ph, qx = dx - p->pw, oy = qy >= 0 ? qy / 2 : -((1 - qy) / 2), ox = qx >= 0 ? qx / 2 : -((1 - qx) / 2);
      off[r] = ((2 * (qy & 1) + (qx & 1)) * R + oy - p->oy0) * p->PW + ox;
    } else
      off[r] = (dy - p->ph) * p->Wd + dx - p->pw; /* input index = output pixel + off */
  }
}

static void qc_pack_c4(GenCtx *c, const Q8Spec *s, const QcPack *p, KV batch, KV n0, KV dst) {
  KB *kb = c->kb;
  int N = s->nrp;
  KT bv = kt(KE_I8, N), h = kt(KE_I16, N);
  KV xb = kb_gep(kb, KE_I8, p->x, kb_mul(kb, batch, i64c(kb, p->Cg * p->H * p->Wd)));
  /* channel ch's bytes for the panel's first pixel at src + ch·cs (+ the tap's offset) */
  KV src;
  int64_t cs, R = 0;
  if (p->phase) { /* the task's phase split (qc_phase_fill); pixel j of the panel at prel + j of its phase rows */
    R = qc_phase_rows(p, N);
    KV oa = kb_div(kb, n0, i64c(kb, p->OW), true), pbuf = kb_gep(kb, KE_I8, dst, i64c(kb, s->ngk * N * 4));
    qc_phase_fill(kb, p, xb, oa, pbuf, R, s->lanes);
    src = kb_gep(kb, KE_I8, pbuf, kb_sub(kb, n0, kb_mul(kb, oa, i64c(kb, p->OW))));
    cs = 4 * R * p->PW;
  } else
    src = kb_gep(kb, KE_I8, xb, n0), cs = p->H * p->Wd;
  KV mask[32];
  int64_t off[32];
  qc_c4_taps(kb, p, n0, N, R, mask, off);
  KV zx = kb_int(kb, bv, p->zx);
  KV c4 = kb_for(kb, i64c(kb, 0), i64c(kb, p->Cg / 4), 1);
  KV base = kb_gep(kb, KE_I8, src, kb_mul(kb, c4, i64c(kb, 4 * cs)));
  KV out = kb_gep(kb, KE_I8, dst, kb_mul(kb, c4, i64c(kb, p->KS * 4 * N)));
  for (int64_t r = 0; r < p->KS; r++) {
    KV v[4];
    for (int t = 0; t < 4; t++) {
      v[t] = kb_load_masked(kb, bv, kb_gep(kb, KE_I8, base, i64c(kb, t * cs + off[r])), mask[r], zx);
      if (p->s8) v[t] = kb_xor(kb, v[t], kb_int(kb, bv, 0x80));
    }
    KV lo = kb_bitcast(kb, zip(kb, v[0], v[1], N), h), hi = kb_bitcast(kb, zip(kb, v[2], v[3], N), h);
    kb_store(kb, kb_bitcast(kb, zip(kb, lo, hi, N), kt(KE_I8, 4 * N)), kb_gep(kb, KE_I8, out, i64c(kb, r * 4 * N)));
  }
  kb_endfor(kb);
}

/* k in its natural order (c, dy, dx) read as row windows (qc_pack_rows), for convs with few input
 * channels and a wide kernel: ResNet's 7×7 stride-2 stem on RGB (K = 147), where the general
 * packer divides each k into channel and tap and loads, masks and interleaves 4 single bytes per
 * group.  Four consecutive k are at most two kernel rows' taps (every row has ≥ 3), and the taps of
 * one row for L output pixels of one output row lie within one window of 4L input bytes (sw·(L-1)
 * + the taps' span < 4L): a group of a vector of pixels is one or two plain window loads and one
 * constant byte shuffle (vpermb / vpermt2b), the padding read from a per-task copy of the input rows
 * the panel needs, padded with the zero point (qc_rows_fill).  A is the weights as stored. */

/* the parts of group g: up to 2 (channel, row) pairs, their first tap, and per byte 4j + t of a
 * vector the window byte it reads (from part 0: 0..4L-1, part 1: 4L..8L-1; k past K: 0) */
typedef struct QcGroup {
  int np;
  int64_t row[2], dx0[2]; /* row = c·kh + dy */
} QcGroup;

static bool qc_group(const QcPack *p, int64_t g, int L, QcGroup *q, int *idx) {
  q->np = 0;
  for (int t = 0; t < 4; t++) {
    int64_t k = 4 * g + t;
    if (k >= p->K) {
      if (idx)
        for (int j = 0; j < L; j++) idx[4 * j + t] = 0;
      continue;
    }
    int64_t row = k / p->kw, dx = k % p->kw;
    int part = q->np && q->row[q->np - 1] == row ? q->np - 1 : q->np;
    if (part == q->np) {
      if (part == 2) return false;
      q->row[part] = row, q->dx0[part] = dx, q->np++;
    }
    int64_t rel = (dx - q->dx0[part]) * p->dw;
    if (p->sw * (L - 1) + rel >= 4 * L) return false;
    if (idx)
      for (int j = 0; j < L; j++) idx[4 * j + t] = (int)(part * 4 * L + p->sw * j + rel);
  }
  return true;
}

/* padded input rows per task: Rmax rows per channel of PWd bytes, column pw + iw holding input
 * column iw, the zero point (as the kernel sees it) elsewhere and in rows outside the image */
static void qc_rows_setup(QcPack *p, int L, bool two, const Target *tg) {
  p->rows = false;
  if (!two || p->c4 || !tg->has_vbmi || tg->vector_bytes != 64 || p->K > 256 || p->OW % L || p->kw < 3 || p->pw >= 4 * L)
    return;
  for (int64_t g = 0; g < (p->K + 3) / 4; g++) {
    QcGroup q;
    if (!qc_group(p, g, L, &q, NULL)) return;
  }
  p->rows = true;
  /* rows a panel of 4L pixels (the widest gemm_emit_q8 chooses) can touch */
  p->Rmax = p->sh * ((4 * L + p->OW - 2) / p->OW) + (p->kh - 1) * p->dh + 1;
  /* the last window of a row ends at sw·(OW - L) + (kw - 1)·dw + 4L */
  int64_t end = p->sw * (p->OW - L) + (p->kw - 1) * p->dw + 4 * L;
  int64_t need = p->pw + p->Wd > end ? p->pw + p->Wd : end;
  p->PWd = (need + 4 * L - 1) / (4 * L) * (4 * L);
}

static void qc_rows_fill(KB *kb, const QcPack *p, KV xb, KV oa, KV buf, int L) {
  int B = 4 * L;
  KT bv = kt(KE_I8, B);
  KV fill = kb_int(kb, bv, p->s8 ? p->zx ^ 0x80 : p->zx);
  KV c = kb_for(kb, i64c(kb, 0), i64c(kb, p->Cg), 1);
  KV i = kb_for(kb, i64c(kb, 0), i64c(kb, p->Rmax), 1);
  KV ih = kb_add(kb, kb_sub(kb, kb_mul(kb, oa, i64c(kb, p->sh)), i64c(kb, p->ph)), i);
  KV dst = kb_gep(kb, KE_I8, buf, kb_mul(kb, kb_add(kb, kb_mul(kb, c, i64c(kb, p->Rmax)), i), i64c(kb, p->PWd)));
  kb_if(kb, kb_and(kb, kb_cmp(kb, KC_GE, ih, i64c(kb, 0), false), kb_cmp(kb, KC_LT, ih, i64c(kb, p->H), false)));
  KV src = kb_gep(kb, KE_I8, xb, kb_mul(kb, kb_add(kb, kb_mul(kb, c, i64c(kb, p->H)), ih), i64c(kb, p->Wd)));
  if (p->pw) kb_store(kb, fill, dst);
  for (int64_t j = 0; j < p->Wd; j += B) {
    KV m = p->Wd - j < B ? kb_tail_mask(kb, B, i64c(kb, p->Wd - j)) : NULL;
    KV v = m ? kb_load_masked(kb, bv, kb_gep(kb, KE_I8, src, i64c(kb, j)), m, NULL) : kb_load(kb, bv, kb_gep(kb, KE_I8, src, i64c(kb, j)));
    if (p->s8) v = kb_xor(kb, v, kb_int(kb, bv, 0x80));
    gen_vstore(kb, v, kb_gep(kb, KE_I8, dst, i64c(kb, p->pw + j)), m);
  }
  for (int64_t j = p->pw + p->Wd; j < p->PWd; j += B) kb_store(kb, fill, kb_gep(kb, KE_I8, dst, i64c(kb, j)));
  kb_else(kb);
  for (int64_t j = 0; j < p->PWd; j += B) kb_store(kb, fill, kb_gep(kb, KE_I8, dst, i64c(kb, j)));
  kb_endif(kb);
  kb_endfor(kb);
  kb_endfor(kb);
}

static void qc_pack_rows(GenCtx *c, const Q8Spec *s, const QcPack *p, KV batch, KV n0, KV dst) {
  KB *kb = c->kb;
  int L = s->lanes, B = 4 * L;
  KT bv = kt(KE_I8, B);
  KV xb = kb_gep(kb, KE_I8, p->x, kb_mul(kb, batch, i64c(kb, p->Cg * p->H * p->Wd)));
  KV oa = kb_div(kb, n0, i64c(kb, p->OW), true);
  KV buf = kb_gep(kb, KE_I8, dst, i64c(kb, s->ngk * s->nrp * 4));
  qc_rows_fill(kb, p, xb, oa, buf, L);
  /* per vector: where its output row's windows start (row 0 of channel 0, tap 0) */
  int64_t last = (p->Rmax - 1 - (p->kh - 1) * p->dh) / p->sh; /* the last output row the buffer holds */
  KV vbase[8];
  for (int v = 0; v < s->nv; v++) {
    KV pix = kb_add(kb, n0, i64c(kb, (int64_t)v * L));
    KV orow = kb_min(kb, kb_sub(kb, kb_div(kb, pix, i64c(kb, p->OW), true), oa), i64c(kb, last), false);
    KV ow0 = kb_rem(kb, pix, i64c(kb, p->OW), true);
    vbase[v] = kb_gep(kb, KE_I8, buf, kb_add(kb, kb_mul(kb, orow, i64c(kb, p->sh * p->PWd)), kb_mul(kb, ow0, i64c(kb, p->sw))));
  }
  int idx[256];
  for (int64_t g = 0; g < s->ngk; g++) {
    QcGroup q;
    qc_group(p, g, L, &q, idx);
    int64_t off[2] = {0, 0};
    for (int t = 0; t < q.np; t++) {
      int64_t ch = q.row[t] / p->kh, dy = q.row[t] % p->kh;
      off[t] = (ch * p->Rmax + dy * p->dh) * p->PWd + q.dx0[t] * p->dw;
    }
    for (int v = 0; v < s->nv; v++) {
      KV a = kb_load(kb, bv, kb_gep(kb, KE_I8, vbase[v], i64c(kb, off[0])));
      KV b = q.np > 1 ? kb_load(kb, bv, kb_gep(kb, KE_I8, vbase[v], i64c(kb, off[1]))) : a;
      kb_store(kb, kb_shuffle(kb, a, b, idx, B), kb_gep(kb, KE_I8, dst, i64c(kb, (g * s->nv + v) * B)));
    }
  }
}

static void qc_pack(GenCtx *c, const Q8Spec *s, KV batch, KV n0, KV dst, void *ud) {
  const QcPack *p = ud;
  KB *kb = c->kb;
  if (p->c4) {
    qc_pack_c4(c, s, p, batch, n0, dst);
    return;
  }
  if (p->rows) {
    qc_pack_rows(c, s, p, batch, n0, dst);
    return;
  }
  int L = s->lanes, nv = s->nv;
  KT i32v = kt(KE_I32, L), bv = kt(KE_I8, L);
  KV xb = kb_gep(kb, KE_I8, p->x, kb_mul(kb, batch, i64c(kb, p->Cg * p->H * p->Wd)));
  KV oh[8], ow[8], lane_ok[8];
  for (int v = 0; v < nv; v++) {
    KV pix = kb_add(kb, kb_splat(kb, kb_cast(kb, kb_add(kb, n0, i64c(kb, (int64_t)v * L)), kt_s(KE_I32), false, false), L),
                    kb_iota(kb, i32v));
    lane_ok[v] = kb_cmp(kb, KC_LT, pix, kb_int(kb, i32v, p->P), false);
    oh[v] = kb_sub(kb, kb_mul(kb, kb_div(kb, pix, kb_int(kb, i32v, p->OW), true), kb_int(kb, i32v, p->sh)), kb_int(kb, i32v, p->ph));
    ow[v] = kb_sub(kb, kb_mul(kb, kb_rem(kb, pix, kb_int(kb, i32v, p->OW), true), kb_int(kb, i32v, p->sw)), kb_int(kb, i32v, p->pw));
  }
  bool pad = p->ph || p->pw || p->kh > 1 || p->kw > 1;
  KV zx = kb_int(kb, bv, p->zx); /* padding: the zero point as stored, flipped below with the data */
  KV oa = NULL, pbuf = NULL, prel = NULL, mtab = NULL;
  int64_t R = 0, panel = s->ngk * s->nrp * 4;
  if (pad && (p->contiguous || p->phase)) {
    /* the bounds masks depend on the tap (r) and the pixel only, not on the channel: computed
     * once per task into a table of KS·nv vectors of 0/-1 bytes instead of per channel and tap */
    mtab = kb_gep(kb, KE_I8, dst, i64c(kb, panel));
    KV r = kb_for(kb, i64c(kb, 0), i64c(kb, p->KS), 1);
    KV dy = kb_mul(kb, kb_div(kb, r, i64c(kb, p->kw), true), i64c(kb, p->dh)), dx = kb_mul(kb, kb_rem(kb, r, i64c(kb, p->kw), true), i64c(kb, p->dw));
    KV dy32 = kb_splat(kb, kb_cast(kb, dy, kt_s(KE_I32), false, false), L), dx32 = kb_splat(kb, kb_cast(kb, dx, kt_s(KE_I32), false, false), L);
    for (int v = 0; v < nv; v++) {
      KV m = qc_bounds(kb, p, lane_ok[v], kb_add(kb, oh[v], dy32), kb_add(kb, ow[v], dx32), L);
      KV at = kb_gep(kb, KE_I8, mtab, kb_mul(kb, kb_add(kb, kb_mul(kb, r, i64c(kb, nv)), i64c(kb, v)), i64c(kb, L)));
      kb_store(kb, kb_select(kb, m, kb_int(kb, bv, -1), kb_int(kb, bv, 0)), at);
    }
    kb_endfor(kb);
    panel += p->KS * nv * L;
  }
  if (p->phase) {
    R = qc_phase_rows(p, s->nrp);
    oa = kb_div(kb, n0, i64c(kb, p->OW), true);
    pbuf = kb_gep(kb, KE_I8, dst, i64c(kb, panel));
    prel = kb_sub(kb, n0, kb_mul(kb, oa, i64c(kb, p->OW))); /* the panel's first pixel in its phase rows */
    qc_phase_fill(kb, p, xb, oa, pbuf, R, L);
  }
  KV g = kb_for(kb, i64c(kb, 0), i64c(kb, s->ngk), 1);
  KV byte[4][8];
  for (int t = 0; t < 4; t++) {
    /* k past K (the last group) re-reads k = K-1: A is zero there */
    KV k = kb_min(kb, kb_add(kb, kb_mul(kb, g, i64c(kb, 4)), i64c(kb, t)), i64c(kb, p->K - 1), false);
    KV ch = kb_div(kb, k, i64c(kb, p->KS), true), r = kb_rem(kb, k, i64c(kb, p->KS), true);
    KV dy = kb_sub(kb, kb_mul(kb, kb_div(kb, r, i64c(kb, p->kw), true), i64c(kb, p->dh)), i64c(kb, 0));
    KV dx = kb_mul(kb, kb_rem(kb, r, i64c(kb, p->kw), true), i64c(kb, p->dw));
    KV plane = kb_gep(kb, KE_I8, xb, kb_mul(kb, ch, i64c(kb, p->H * p->Wd)));
    KV dy32 = kb_splat(kb, kb_cast(kb, dy, kt_s(KE_I32), false, false), L), dx32 = kb_splat(kb, kb_cast(kb, dx, kt_s(KE_I32), false, false), L);
    for (int v = 0; v < nv; v++) {
      KV m = lane_ok[v], ih = kb_add(kb, oh[v], dy32), iw = kb_add(kb, ow[v], dx32);
      if (mtab) {
        KV at = kb_gep(kb, KE_I8, mtab, kb_mul(kb, kb_add(kb, kb_mul(kb, r, i64c(kb, nv)), i64c(kb, v)), i64c(kb, L)));
        m = kb_cmp(kb, KC_NE, kb_load(kb, bv, at), kb_int(kb, bv, 0), false);
      } else if (pad)
        m = qc_bounds(kb, p, m, ih, iw, L);
      KV val;
      if (p->phase) {
        /* tap (dy - ph, dx - pw) = 2·(oy, ox) + (py, px): its phase plane, shifted by (oy - oy0, ox) */
        KV qy = kb_sub(kb, dy, i64c(kb, p->ph)), qx = kb_sub(kb, dx, i64c(kb, p->pw));
        KV py = kb_and(kb, qy, i64c(kb, 1)), px = kb_and(kb, qx, i64c(kb, 1));
        KV oy = kb_shr(kb, qy, i64c(kb, 1), false), ox = kb_shr(kb, qx, i64c(kb, 1), false);
        KV plane = kb_add(kb, kb_mul(kb, ch, i64c(kb, 4)), kb_add(kb, kb_mul(kb, py, i64c(kb, 2)), px));
        KV off = kb_add(kb, kb_mul(kb, kb_sub(kb, oy, i64c(kb, p->oy0)), i64c(kb, p->PW)), ox);
        off = kb_add(kb, off, kb_add(kb, kb_mul(kb, plane, i64c(kb, R * p->PW)), kb_add(kb, prel, i64c(kb, (int64_t)v * L))));
        val = kb_load_masked(kb, bv, kb_gep(kb, KE_I8, pbuf, off), m, zx);
      } else if (p->contiguous) {
        /* input index = p + (dy - ph)·Wd + dx - pw */
        KV off = kb_add(kb, kb_add(kb, n0, i64c(kb, (int64_t)v * L - p->ph * p->Wd - p->pw)), kb_add(kb, kb_mul(kb, dy, i64c(kb, p->Wd)), dx));
        val = kb_load_masked(kb, bv, kb_gep(kb, KE_I8, plane, off), m, zx);
      } else if (p->word_gather) {
        /* the aligned dword holding each byte (a dword gather; LLVM scalarizes byte gathers on
         * x86), shifted down to it: never outside the 4-aligned extent of x */
        KV at = kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, batch, i64c(kb, p->Cg)), ch), i64c(kb, p->H * p->Wd)), i64c(kb, 0));
        KV idx = kb_add(kb, kb_splat(kb, kb_cast(kb, at, kt_s(KE_I32), false, false), L),
                        kb_select(kb, m, kb_add(kb, kb_mul(kb, ih, kb_int(kb, i32v, p->Wd)), iw), kb_int(kb, i32v, 0)));
        KV word = kb_gather(kb, i32v, p->x, kb_shr(kb, idx, kb_int(kb, i32v, 2), true), m);
        KV sh = kb_shl(kb, kb_and(kb, idx, kb_int(kb, i32v, 3)), kb_int(kb, i32v, 3));
        val = kb_select(kb, m, kb_cast(kb, kb_shr(kb, word, sh, true), bv, false, false), zx);
      } else {
        KV idx = kb_select(kb, m, kb_add(kb, kb_mul(kb, ih, kb_int(kb, i32v, p->Wd)), iw), kb_int(kb, i32v, 0));
        val = kb_select(kb, m, kb_gather(kb, bv, plane, idx, m), zx);
      }
      if (p->s8) val = kb_xor(kb, val, kb_int(kb, bv, 0x80));
      byte[t][v] = val;
    }
  }
  for (int v = 0; v < nv; v++) {
    KT h = kt(KE_I16, L);
    KV lo = kb_bitcast(kb, zip(kb, byte[0][v], byte[1][v], L), h), hi = kb_bitcast(kb, zip(kb, byte[2][v], byte[3][v], L), h);
    KV all = kb_bitcast(kb, zip(kb, lo, hi, L), kt(KE_I8, 4 * L));
    kb_store(kb, all, kb_gep(kb, KE_I8, dst, kb_mul(kb, kb_add(kb, kb_mul(kb, g, i64c(kb, nv)), i64c(kb, v)), i64c(kb, 4 * L))));
  }
  kb_endfor(kb);
}

/* the phase-split read (qc_phase_fill) applies to 2-D convs of stride 2 whose output is exactly
 * as wide as a phase (OW == ceil(Wd/2)) */
static void qc_phase_setup(QcPack *p, bool two) {
  p->phase = two && p->sh == 2 && p->sw == 2 && p->OW == (p->Wd + 1) / 2;
  if (!p->phase) return;
  p->PW = p->OW;
  p->used = 0;
  p->oy0 = INT64_MAX, p->oy1 = INT64_MIN;
  for (int64_t dy = 0; dy < p->kh; dy++)
    for (int64_t dx = 0; dx < p->kw; dx++) {
      int64_t qy = dy * p->dh - p->ph, qx = dx * p->dw - p->pw;
      int64_t oy = qy >= 0 ? qy / 2 : -((1 - qy) / 2); /* floor(qy / 2) */
      p->used |= 1u << (2 * (qy & 1) + (qx & 1));
      if (oy < p->oy0) p->oy0 = oy;
      if (oy > p->oy1) p->oy1 = oy;
    }
}

static bool all_const(const Node *n, int from, int to) {
  for (int i = from; i <= to; i++)
    if (i < n->nin && n->in[i] && (n->in[i]->kind != VK_CONST || !n->in[i]->data)) return false;
  return true;
}

/* QLinearConv / QConv on the int8 engine: 1-D/2-D, 8-bit x, int8 constant weights with zero
 * points 0, constant quantization parameters, and enough depth per group (depthwise convs keep
 * the direct kernel) */
static bool qconv_gemm_applies(const GenCtx *c) {
  const Node *n = c->n;
  if (n->op != OP_QLinearConv && n->op != OP_QConv) return false;
  const Value *x = n->in[0], *w = n->in[3], *zw = n->in[5];
  if (x->rank < 3 || x->rank > 4 || w->dtype != DT_INT8 || !all_const(n, 1, 8) || n->in[1]->dtype != DT_FLOAT ||
      n->in[4]->dtype != DT_FLOAT || n->in[6]->dtype != DT_FLOAT)
    return false;
  for (int64_t i = 0; zw && i < ir_value_numel(zw); i++)
    if (ir_const_i64(zw, i)) return false;
  return ir_value_numel(w) / w->dims[0] >= 16;
}

/* a residual QAdd fused into the epilogue (passes/qdq.c pass_qdq_add: inputs 9-13 r, sr, zr, so, zo;
 * attributes amin/amax); the conv's own requantization (in[6], in[7], qmin/qmax) stays */
static void qconv_residual(GenCtx *c, Q8Spec *s) {
  const Node *n = c->n;
  float so = (float)ir_const_f64(n->in[12], 0);
  bool u8 = n->in[13]->dtype == DT_UINT8;
  s->res = kb_buf(c->kb, 9);
  s->rt = n->in[9]->dtype;
  s->zc = (float)ir_const_i64(n->in[7], 0), s->ka = (float)ir_const_f64(n->in[6], 0) / so;
  s->zr = (float)ir_const_i64(n->in[11], 0), s->kr = (float)ir_const_f64(n->in[10], 0) / so;
  s->zo = (float)ir_const_i64(n->in[13], 0);
  s->amin = ir_attr_int(n, "amin", u8 ? 0 : -128), s->amax = ir_attr_int(n, "amax", u8 ? 255 : 127);
  s->res_first = ir_attr_int(n, "afirst", 0) != 0;
}

static int gen_conv_q_gemm(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *w = n->in[3], *y = n->out[0];
  int nsp = x->rank - 2;
  bool two = nsp == 2;
  IrWindow win;
  if (ir_window(c->g, n, nsp, x->dims + 2, w->dims + 2, &win)) return -1;
  int64_t G = ir_attr_int(n, "group", 1), O = w->dims[0], Og = O / G, Cg = w->dims[1];
  QcPack p = {.x = kb_buf(c->kb, 0), .s8 = x->dtype == DT_INT8, .Cg = Cg, .H = two ? x->dims[2] : 1, .Wd = x->dims[1 + nsp],
              .kh = two ? w->dims[2] : 1, .kw = w->dims[1 + nsp], .sh = two ? win.stride[0] : 1, .sw = win.stride[nsp - 1],
              .dh = two ? win.dilation[0] : 1, .dw = win.dilation[nsp - 1], .ph = two ? win.pad_begin[0] : 0,
              .pw = win.pad_begin[nsp - 1], .OW = win.out[nsp - 1]};
  p.P = (two ? win.out[0] : 1) * p.OW;
  p.KS = p.kh * p.kw;
  p.K = Cg * p.KS;
  p.contiguous = p.sh == 1 && p.sw == 1 && p.OW == p.Wd;
  qc_phase_setup(&p, two);
  p.word_gather = x->storage == ST_ARENA && ir_value_numel(x) < ((int64_t)1 << 31);
  int64_t zx = ir_const_i64(n->in[2], 0);
  p.zx = zx & 0xff;
  int64_t zxu = p.s8 ? zx + 128 : zx; /* the zero point of the u8 the kernel sees */
  float sx = (float)ir_const_f64(n->in[1], 0), sy = (float)ir_const_f64(n->in[6], 0);
  int32_t *corr = arena_alloc(c->g->arena, sizeof(int32_t) * (size_t)O);
  float *mult = arena_alloc(c->g->arena, sizeof(float) * (size_t)O);
  const int8_t *wd = w->data;
  bool wper = ir_value_numel(n->in[4]) > 1;
  /* channel quads: x86 with AVX-512 (byte masked loads of a whole panel), convs of more than one
   * tap read contiguously (stride 1, or stride 2 through the phase split) */
  p.c4 = (p.contiguous || p.phase) && two && p.KS > 1 && p.KS <= 32 && Cg % 4 == 0 && c->target->has_avx512;
  qc_rows_setup(&p, kb_lanes(c->kb, KE_I32), two, c->target);
  for (int64_t o = 0; o < O; o++) {
    int64_t sum = 0;
    for (int64_t k = 0; k < p.K; k++) sum += wd[o * p.K + k];
    int64_t b = n->nin > 8 && n->in[8] ? ir_const_i64(n->in[8], o) : 0;
    corr[o] = (int32_t)(b - zxu * sum);
    mult[o] = sx * (float)ir_const_f64(n->in[4], wper ? o : 0) / sy;
  }
  bool u8 = n->in[7]->dtype == DT_UINT8; /* the conv's own output type (y's unless a residual add is fused) */
  /* the phase planes of the widest panel gemm_emit_q8 can choose (4 vectors) */
  int64_t L4 = 4 * (int64_t)kb_lanes(c->kb, KE_I32);
  int64_t extra = p.phase ? p.Cg * 4 * qc_phase_rows(&p, L4) * p.PW : 0;
  if (!p.c4 && (p.contiguous || p.phase) && (p.ph || p.pw || p.KS > 1)) extra += p.KS * L4; /* qc_pack's mask table */
  if (p.rows) extra = p.Cg * p.Rmax * p.PWd + L4; /* qc_rows_fill's rows (its last store may pass the end by < 4L) */
  if (p.c4) { /* the weights in qc_pack_c4's k order */
    int8_t *wp = arena_alloc(c->g->arena, (size_t)(O * p.K));
    for (int64_t o = 0; o < O; o++)
      for (int64_t ch = 0; ch < Cg; ch++)
        for (int64_t r = 0; r < p.KS; r++) wp[o * p.K + ((ch / 4) * p.KS + r) * 4 + ch % 4] = wd[o * p.K + ch * p.KS + r];
    wd = wp;
  }
  Q8Spec s = {.M = Og, .N = p.P, .K = p.K, .nbatch = x->dims[0] * G, .ngroups = G, .a = wd, .pack = qc_pack, .pack_ud = &p,
              .c = kb_buf(c->kb, n->nin), .ct = y->dtype, .ldc = p.P, .c_bs = Og * p.P, .corr = corr, .mult = mult,
              .zy = (int32_t)ir_const_i64(n->in[7], 0), .qmin = ir_attr_int(n, "qmin", u8 ? 0 : -128),
              .qmax = ir_attr_int(n, "qmax", u8 ? 255 : 127), .pack_extra = extra};
  if (n->nin > 9) qconv_residual(c, &s);
  gemm_emit_q8(c, &s);
  c->const_unused |= 1u << 3;
  return 0;
}

/* ---- QAdd: both operands dequantized, added and requantized in f32 lanes ---- */

typedef struct QaddCtx {
  DType at, bt, yt;
  float za, zb, ka, kb, zy; /* ka = sa/sy, kb = sb/sy (the float form: sa, sb) */
  int64_t qmin, qmax;
  bool relu;                /* the float form's Relu */
} QaddCtx;

static KV qadd_fn(KB *kb, KV *ops, int lanes, void *ud) {
  const QaddCtx *q = ud;
  KT ft = kt(KE_F32, lanes);
  if (q->yt == DT_FLOAT) { /* DequantizeLinear's (x - zp)·s twice, added: the float nodes' operations */
    KV a = kb_mul(kb, kb_sub(kb, to_f32(kb, ops[0], q->at), kb_float(kb, ft, q->za)), kb_float(kb, ft, q->ka));
    KV b = kb_mul(kb, kb_sub(kb, to_f32(kb, ops[1], q->bt), kb_float(kb, ft, q->zb)), kb_float(kb, ft, q->kb));
    KV y = kb_add(kb, a, b);
    return q->relu ? kb_max(kb, y, kb_float(kb, ft, 0), false) : y;
  }
  /* fma((b - zb), kb, (a - za)·ka): the order gen_gemm.c's fused residual epilogue uses (bit-identical) */
  KV a = kb_mul(kb, kb_sub(kb, to_f32(kb, ops[0], q->at), kb_float(kb, ft, q->za)), kb_float(kb, ft, q->ka));
  KV b = kb_sub(kb, to_f32(kb, ops[1], q->bt), kb_float(kb, ft, q->zb));
  return requant_to(kb, kb_fma(kb, b, kb_float(kb, ft, q->kb), a), kb_float(kb, ft, q->zy), q->yt, q->qmin, q->qmax);
}

static int gen_qadd(GenCtx *c) {
  const Node *n = c->n;
  bool fl = n->out[0]->dtype == DT_FLOAT;
  if (!all_const(n, 1, 2) || !all_const(n, 4, 7) || n->in[1]->dtype != DT_FLOAT || n->in[4]->dtype != DT_FLOAT ||
      (!fl && n->in[6]->dtype != DT_FLOAT))
    return ir_node_error(c->g, n, "QAdd needs constant float32 scales and constant zero points");
  static const int idx[2] = {0, 3};
  if (fl) {
    QaddCtx q = {n->in[0]->dtype, n->in[3]->dtype, DT_FLOAT, (float)ir_const_i64(n->in[2], 0), (float)ir_const_i64(n->in[5], 0),
                 (float)ir_const_f64(n->in[1], 0), (float)ir_const_f64(n->in[4], 0), 0, 0, 0, ir_attr_int(n, "relu", 0) != 0};
    gen_eltwise_node(c, 2, idx, qadd_fn, &q);
    return 0;
  }
  float sy = (float)ir_const_f64(n->in[6], 0);
  bool u8 = n->out[0]->dtype == DT_UINT8;
  QaddCtx q = {n->in[0]->dtype, n->in[3]->dtype, n->out[0]->dtype, (float)ir_const_i64(n->in[2], 0),
               (float)ir_const_i64(n->in[5], 0), (float)ir_const_f64(n->in[1], 0) / sy, (float)ir_const_f64(n->in[4], 0) / sy,
               (float)ir_const_i64(n->in[7], 0), ir_attr_int(n, "qmin", u8 ? 0 : -128), ir_attr_int(n, "qmax", u8 ? 255 : 127), false};
  gen_eltwise_node(c, 2, idx, qadd_fn, &q);
  return 0;
}

int gen_quant(GenCtx *c) {
  for (int i = 0; i < c->n->nin; i++)
    if (c->n->in[i] && c->n->in[i]->dtype == DT_FLOAT16 && c->n->op != OP_QuantizeLinear)
      return ir_node_error(c->g, c->n, "float16 quantization parameters are not supported");
  switch (c->n->op) {
  case OP_QuantizeLinear:
  case OP_DequantizeLinear: return gen_qdq(c);
  case OP_DynamicQuantizeLinear: return gen_dynamic_quant(c);
  case OP_MatMulInteger:
  case OP_QLinearMatMul:
    if (gen_qmm_applies(c)) return gen_qmm(c); /* gen_quant_mm.c */
    return qpk_applies(c) ? gen_matmul_q_packed(c) : gen_matmul_q(c);
  case OP_QMatMul: return gen_qmm_applies(c) ? gen_qmm(c) : ir_node_error(c->g, c->n, "QMatMul needs u8 a, a constant int8 b with zero points 0 and constant scales");
  case OP_ConvInteger:
  case OP_QLinearConv:
  case OP_QConv:
    if (c->n->nin > 9 && !qconv_gemm_applies(c)) return ir_node_error(c->g, c->n, "a fused residual add needs the int8 GEMM conv");
    return qconv_gemm_applies(c) ? gen_conv_q_gemm(c) : gen_conv_q(c);
  case OP_QAdd: return gen_qadd(c);
  default: return ir_node_error(c->g, c->n, "no code generator for this op");
  }
}
