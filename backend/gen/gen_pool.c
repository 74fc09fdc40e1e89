/* gen_pool.c — code generation for the F_POOL family: MaxPool (+ Indices), AveragePool, LpPool
 * (1-D/2-D/3-D, NCHW) and the global pools.
 *
 * Window pools: one work item per output row (n, c, od, oh); lanes run over the output width.
 * The window's depth/height taps are clipped to the input once per row (loop bounds), so only
 * the width needs masks: the output row is split at compile time into a left border, an interior
 * whose windows lie inside the input along W, and a right border.  Taps are vector loads for
 * stride 1, wide loads + a lane shuffle for strides 2 and 4, gathers otherwise; unmasked in the
 * interior, masked on the borders.  Global pools are plain reductions (gen_reduce.h). */
#include <math.h>
#include <string.h>

#include "gen_reduce.h"

enum { PK_MAX, PK_AVG, PK_LP };

typedef struct Pool {
  int kind;
  int64_t p;
  bool include_pad, has_idx, col_major, uns;
  DType xt, yt;
  KElem ce;
  int W;
  int64_t I[3], K[3], S[3], D[3], PB[3], PE[3], O[3];
  KV X, Y, IDX;
  /* per row */
  KV xbase, ybase, nc, id0, ih0, dh_count; /* dh_count: float scalar (avg) */
  KV inv_count;                             /* avg: 1 / (dh_count * K[2]) for interior vectors */
  KV kd_lo, kd_hi, kh_lo, kh_hi;
} Pool;

/* first and one-past-last tap k in [0, K) with 0 <= start + k*d < in (start may be negative) */
static void tap_range(KB *kb, KV start, int64_t K, int64_t d, int64_t in, KV *lo, KV *hi) {
  KV zero = kb_i64(kb, 0);
  KV neg = kb_sub(kb, zero, start);
  KV l = kb_div(kb, kb_add(kb, neg, kb_i64(kb, d - 1)), kb_i64(kb, d), false);
  *lo = kb_select(kb, kb_cmp(kb, KC_GT, neg, zero, false), l, zero);
  KV q = kb_sub(kb, kb_i64(kb, in - 1), start);
  KV h = kb_min(kb, kb_add(kb, kb_div(kb, q, kb_i64(kb, d), false), kb_i64(kb, 1)), kb_i64(kb, K), false);
  *hi = kb_select(kb, kb_cmp(kb, KC_GE, q, zero, false), h, zero);
  *hi = kb_max(kb, *hi, *lo, false);
}

/* count_include_pad: taps of the window inside [-pad_begin, in + pad_end) */
static KV pad_count(KB *kb, KV start, int64_t K, int64_t d, int64_t in, int64_t pe) {
  KV q = kb_sub(kb, kb_i64(kb, in + pe - 1), start);
  KV h = kb_min(kb, kb_add(kb, kb_div(kb, q, kb_i64(kb, d), false), kb_i64(kb, 1)), kb_i64(kb, K), false);
  return kb_select(kb, kb_cmp(kb, KC_GE, q, kb_i64(kb, 0), false), h, kb_i64(kb, 0));
}

/* lanes whose stride along W makes a wide contiguous load + lane shuffle cheaper than a gather */
static bool wide_stride(int64_t s) { return s == 2 || s == 4; }

/* the W inputs of tap kw: row rowoff, positions iw (= ow*S - pad + kw*dil per lane).  Interior:
 * every lane in bounds; border: `valid` lanes only (others come back as garbage, to be masked).
 * Stride 1: a (masked) vector load; stride 2/4: a wide load of S*W elements (masked to the row),
 * then every S-th lane; otherwise a gather. */
static KV pool_tap(KB *kb, Pool *P, KV rowoff, KV ow0, KV iw, int64_t kw, KV valid, bool interior) {
  int W = P->W;
  int64_t S = P->S[2];
  KElem se = kb_elem_of(P->xt);
  KV start = kb_add(kb, rowoff, kb_add(kb, kb_mul(kb, ow0, kb_i64(kb, S)), kb_i64(kb, kw * P->D[2] - P->PB[2])));
  KV v;
  if (S == 1) {
    return gr_load(kb, P->xt, P->X, start, W, 1, valid, P->ce);
  } else if (wide_stride(S)) {
    int WW = (int)S * W;
    KT wt = kt(se, WW);
    KV p = kb_gep(kb, se, P->X, start);
    KV wide;
    if (interior) {
      wide = kb_load(kb, wt, p);
    } else {
      /* wide lane j holds position iw(lane 0) + j: in bounds, and j / S a valid output lane */
      KT jt = kt(KE_I32, WW);
      KV j = kb_iota(kb, jt);
      KV pos = kb_add(kb, kb_splat(kb, kb_cast(kb, kb_extract(kb, iw, 0), kt_s(KE_I32), false, false), WW), j);
      KV m = kb_and(kb, kb_cmp(kb, KC_GE, pos, kb_int(kb, jt, 0), false), kb_cmp(kb, KC_LT, pos, kb_int(kb, jt, P->I[2]), false));
      wide = kb_load_masked(kb, wt, p, m, NULL);
    }
    int lanes[64];
    for (int i = 0; i < W; i++) lanes[i] = i * (int)S;
    v = kb_shuffle(kb, wide, wide, lanes, W);
  } else {
    v = kb_gather(kb, kt(se, W), P->X, kb_add(kb, kb_splat(kb, rowoff, W), iw), valid);
  }
  if (P->xt == DT_FLOAT16 || P->xt == DT_BFLOAT16) v = kb_cast(kb, v, kt(KE_F32, W), false, false);
  if (kb_type(kb, v).e != P->ce) v = kb_cast(kb, v, kt(P->ce, W), !dtype_is_signed(P->xt), false);
  return v;
}

/* one output vector of W lanes at ow0; lmask: valid output lanes (NULL in the interior) */
static void pool_vec(KB *kb, Pool *P, KV ow0, KV lmask, bool interior) {
  int W = P->W;
  KT vt = kt(P->ce, W), it = kt(KE_I64, W);
  int ac = P->kind == PK_MAX ? GR_MAX : GR_ADD;
  KV ident = gr_ident(kb, vt, ac, P->uns);
  KV iw0 = kb_add(kb, kb_splat(kb, kb_sub(kb, kb_mul(kb, ow0, kb_i64(kb, P->S[2])), kb_i64(kb, P->PB[2])), W),
                  kb_mul(kb, kb_iota(kb, it), kb_int(kb, it, P->S[2])));
  /* independent accumulators across kw break the add/max dependency chain (one when tracking
   * indices: the first maximum in window order must win) */
  int na = P->has_idx ? 1 : (int)(P->K[2] < 4 ? P->K[2] : 4);
  KVar accs[4];
  for (int k = 0; k < na; k++) accs[k] = kb_var(kb, vt, ident);
  KVar best_i = P->has_idx ? kb_var(kb, it, kb_int(kb, it, -1)) : NULL;
  /* width tap counts per lane (avg on the border; the interior uses inv_count) */
  KV wcount = NULL;
  if (P->kind == PK_AVG && !interior) {
    wcount = kb_float(kb, vt, 0);
    for (int64_t kw = 0; kw < P->K[2]; kw++) {
      KV iw = kb_add(kb, iw0, kb_int(kb, it, kw * P->D[2]));
      KV ok = P->include_pad ? kb_cmp(kb, KC_LT, iw, kb_int(kb, it, P->I[2] + P->PE[2]), false)
                             : kb_and(kb, kb_cmp(kb, KC_GE, iw, kb_int(kb, it, 0), false),
                                      kb_cmp(kb, KC_LT, iw, kb_int(kb, it, P->I[2]), false));
      wcount = kb_add(kb, wcount, kb_select(kb, ok, kb_float(kb, vt, 1), kb_float(kb, vt, 0)));
    }
  }
  KV kd = kb_for(kb, P->kd_lo, P->kd_hi, 1);
  KV id = kb_add(kb, P->id0, kb_mul(kb, kd, kb_i64(kb, P->D[0])));
  KV kh = kb_for(kb, P->kh_lo, P->kh_hi, 1);
  KV ih = kb_add(kb, P->ih0, kb_mul(kb, kh, kb_i64(kb, P->D[1])));
  KV rowoff = kb_add(kb, P->xbase, kb_add(kb, kb_mul(kb, id, kb_i64(kb, P->I[1] * P->I[2])),
                                          kb_mul(kb, ih, kb_i64(kb, P->I[2]))));
  KV colbase = NULL;
  if (P->has_idx && P->col_major)
    colbase = kb_add(kb, kb_mul(kb, P->nc, kb_i64(kb, P->I[0] * P->I[1] * P->I[2])),
                     kb_add(kb, id, kb_mul(kb, ih, kb_i64(kb, P->I[0]))));
  for (int64_t kw = 0; kw < P->K[2]; kw++) {
    KV iw = kb_add(kb, iw0, kb_int(kb, it, kw * P->D[2]));
    KV valid = NULL;
    if (!interior) {
      valid = kb_and(kb, kb_cmp(kb, KC_GE, iw, kb_int(kb, it, 0), false),
                     kb_cmp(kb, KC_LT, iw, kb_int(kb, it, P->I[2]), false));
      if (lmask) valid = kb_and(kb, valid, lmask);
    }
    KV v = pool_tap(kb, P, rowoff, ow0, iw, kw, valid, interior);
    if (P->kind == PK_LP) v = gr_ipow(kb, kb_abs(kb, v), P->p);
    if (valid) v = kb_select(kb, valid, v, ident);
    KVar acc = accs[kw % na];
    KV a = kb_get(kb, acc);
    if (P->has_idx) {
      KV bi = kb_get(kb, best_i);
      KV c = kb_cmp(kb, KC_GT, v, a, P->uns);
      c = kb_or(kb, c, kb_cmp(kb, KC_LT, bi, kb_int(kb, it, 0), false));
      if (valid) c = kb_and(kb, c, valid);
      KV pos = P->col_major ? kb_add(kb, kb_splat(kb, colbase, W), kb_mul(kb, iw, kb_int(kb, it, P->I[0] * P->I[1])))
                            : kb_add(kb, kb_splat(kb, rowoff, W), iw);
      kb_set(kb, best_i, kb_select(kb, c, pos, bi));
      kb_set(kb, acc, kb_select(kb, c, v, a));
    } else {
      kb_set(kb, acc, gr_combine(kb, ac, a, v, P->uns));
    }
  }
  kb_endfor(kb);
  kb_endfor(kb);
  KV r = kb_get(kb, accs[0]);
  for (int k = 1; k < na; k++) r = gr_combine(kb, ac, r, kb_get(kb, accs[k]), P->uns);
  if (P->kind == PK_AVG) {
    if (interior) r = kb_mul(kb, r, kb_splat(kb, P->inv_count, W));
    else r = kb_div(kb, r, kb_mul(kb, kb_splat(kb, P->dh_count, W), wcount), false);
  } else if (P->kind == PK_LP) {
    if (P->p == 2) r = kb_sqrt(kb, r);
    else if (P->p != 1) r = kb_pow(kb, r, kb_float(kb, vt, 1.0 / (double)P->p));
  }
  KV yo = kb_add(kb, P->ybase, ow0);
  gr_store(kb, P->yt, P->Y, yo, r, 1, lmask);
  if (P->has_idx) gr_store(kb, DT_INT64, P->IDX, yo, kb_get(kb, best_i), 1, lmask);
}

/* vectors over [lo, hi) of the output row; interior: (hi - lo) is a multiple of W */
static void pool_seg(KB *kb, Pool *P, int64_t lo, int64_t hi, bool interior) {
  if (hi <= lo) return;
  KV ow0 = kb_for(kb, kb_i64(kb, lo), kb_i64(kb, hi), P->W);
  KV lmask = NULL;
  if (!interior && (hi - lo) % P->W) lmask = kb_tail_mask(kb, P->W, kb_sub(kb, kb_i64(kb, hi), ow0));
  pool_vec(kb, P, ow0, lmask, interior);
  kb_endfor(kb);
}

static int gen_window_pool(GenCtx *c) {
  Graph *g = c->g;
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *y = n->out[0];
  int nsp = x->rank - 2;
  if (nsp < 1 || nsp > 3) return ir_node_error(g, n, "only 1-D, 2-D and 3-D pooling is supported (input rank %d)", x->rank);
  const int64_t *k;
  int nk = ir_attr_ints(n, "kernel_shape", &k);
  if (nk != nsp) return ir_node_error(g, n, "kernel_shape must have %d values", nsp);
  IrWindow w;
  if (ir_window(g, n, nsp, x->dims + 2, k, &w)) return -1;
  Pool P;
  memset(&P, 0, sizeof P);
  P.kind = n->op == OP_MaxPool ? PK_MAX : n->op == OP_AveragePool ? PK_AVG : PK_LP;
  P.p = ir_attr_int(n, "p", 2);
  P.include_pad = ir_attr_int(n, "count_include_pad", 0) != 0;
  P.has_idx = n->op == OP_MaxPool && n->nout > 1 && n->out[1];
  P.col_major = ir_attr_int(n, "storage_order", 0) != 0;
  P.xt = x->dtype;
  P.yt = y->dtype;
  P.ce = gr_ce(x->dtype, false);
  P.uns = !kb_is_float(P.ce) && !dtype_is_signed(x->dtype);
  for (int i = 0; i < 3; i++) {
    int s = i - (3 - nsp); /* spatial dim, or < 0 for a padding dim of size 1 */
    bool real = s >= 0;
    P.I[i] = real ? x->dims[2 + s] : 1;
    P.K[i] = real ? w.kernel[s] : 1;
    P.S[i] = real ? w.stride[s] : 1;
    P.D[i] = real ? w.dilation[s] : 1;
    P.PB[i] = real ? w.pad_begin[s] : 0;
    P.PE[i] = real ? w.pad_end[s] : 0;
    P.O[i] = real ? w.out[s] : 1;
    if (real && y->dims[2 + s] != w.out[s])
      return ir_node_error(g, n, "output spatial dim %d is %lld, expected %lld", s, (long long)y->dims[2 + s],
                           (long long)w.out[s]);
  }
  int64_t NC = x->dims[0] * x->dims[1];
  int64_t nrows = NC * P.O[0] * P.O[1];
  if (nrows * P.O[2] == 0) return 0;
  size_t es = kb_elem_size(P.ce);
  P.W = gr_lanes(c, es < 4 ? 4 : es, P.O[2]);
  P.X = kb_buf(kb, 0);
  P.Y = kb_buf(kb, n->nin);
  if (P.has_idx) P.IDX = kb_buf(kb, n->nin + 1);

  KV it = gr_par_for(c, nrows, nrows * P.O[2] * P.K[0] * P.K[1] * P.K[2]);
  KV oh = kb_rem(kb, it, kb_i64(kb, P.O[1]), true), t = kb_div(kb, it, kb_i64(kb, P.O[1]), true);
  KV od = kb_rem(kb, t, kb_i64(kb, P.O[0]), true);
  P.nc = kb_div(kb, t, kb_i64(kb, P.O[0]), true);
  P.xbase = kb_mul(kb, P.nc, kb_i64(kb, P.I[0] * P.I[1] * P.I[2]));
  P.ybase = kb_mul(kb, it, kb_i64(kb, P.O[2]));
  P.id0 = kb_sub(kb, kb_mul(kb, od, kb_i64(kb, P.S[0])), kb_i64(kb, P.PB[0]));
  P.ih0 = kb_sub(kb, kb_mul(kb, oh, kb_i64(kb, P.S[1])), kb_i64(kb, P.PB[1]));
  tap_range(kb, P.id0, P.K[0], P.D[0], P.I[0], &P.kd_lo, &P.kd_hi);
  tap_range(kb, P.ih0, P.K[1], P.D[1], P.I[1], &P.kh_lo, &P.kh_hi);
  if (P.kind == PK_AVG) {
    KV cnt = P.include_pad ? kb_mul(kb, pad_count(kb, P.id0, P.K[0], P.D[0], P.I[0], P.PE[0]),
                                    pad_count(kb, P.ih0, P.K[1], P.D[1], P.I[1], P.PE[1]))
                           : kb_mul(kb, kb_sub(kb, P.kd_hi, P.kd_lo), kb_sub(kb, P.kh_hi, P.kh_lo));
    P.dh_count = kb_cast(kb, cnt, kt_s(P.ce), false, false);
    P.inv_count = kb_div(kb, kb_float(kb, kt_s(P.ce), 1), kb_mul(kb, P.dh_count, kb_float(kb, kt_s(P.ce), (double)P.K[2])), false);
  }
  /* split the row along W: windows of outputs in [owL, owR) lie inside the input (with the
   * over-read of a wide strided load); border vectors use masks */
  int64_t OW = P.O[2], ew = (P.K[2] - 1) * P.D[2];
  int64_t owL = (P.PB[2] + P.S[2] - 1) / P.S[2];
  int64_t q = P.I[2] - 1 + P.PB[2] - ew - (wide_stride(P.S[2]) ? P.S[2] - 1 : 0);
  int64_t owR = q >= 0 ? q / P.S[2] + 1 : 0;
  if (owL > OW) owL = OW;
  if (owR > OW) owR = OW;
  int64_t a = owL == 0 ? 0 : (owL + P.W - 1) / P.W * P.W;
  if (a > OW) a = OW;
  int64_t nint = owR > a ? (owR - a) / P.W : 0;
  pool_seg(kb, &P, 0, a, false);
  pool_seg(kb, &P, a, a + nint * P.W, true);
  pool_seg(kb, &P, a + nint * P.W, OW, false);
  kb_endfor(kb);
  return 0;
}

static int gen_global_pool(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  bool red[IR_MAX_RANK] = {0};
  for (int i = 2; i < x->rank; i++) red[i] = true;
  GrKind k = n->op == OP_GlobalMaxPool ? GR_K_MAX : n->op == OP_GlobalAveragePool ? GR_K_MEAN : GR_K_LP;
  gr_reduce(c, k, ir_attr_int(n, "p", 2), kb_buf(c->kb, 0), x->dtype, kb_buf(c->kb, n->nin), y->dtype, x->rank,
            x->dims, red);
  return 0;
}

int gen_pool(GenCtx *c) {
  switch (c->n->op) {
  case OP_MaxPool:
  case OP_AveragePool:
  case OP_LpPool: return gen_window_pool(c);
  case OP_GlobalMaxPool:
  case OP_GlobalAveragePool:
  case OP_GlobalLpPool: return gen_global_pool(c);
  default: return ir_node_error(c->g, c->n, "not a pooling op");
  }
}
