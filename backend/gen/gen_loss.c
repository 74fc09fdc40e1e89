/* gen_loss.c — code generation for SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss and Det.
 *
 * The losses view the input as [N][C][D] (D = d1 * ... * dk) and the target as [N][D]; each vector
 * covers W positions along D, so every class row is a unit-stride load and the picked class a
 * gather.  SoftmaxCrossEntropyLoss is log_softmax over C (max, sum of exp, and the optional
 * log_prob output written in a third pass) followed by the NLL pick.  With no d dims (N, C) the
 * vectors run along the class row instead.  Ignored targets contribute
 * neither loss nor weight; any other target outside [0, C) fails the run with ONNXC_ERR_INDEX.
 * mean = sum(loss) / sum(weight of the counted targets). */
#include <math.h>
#include <string.h>

#include "gen_reduce.h"

#define ST_INDEX 3 /* ONNXC_ERR_INDEX */

enum { RED_NONE, RED_SUM, RED_MEAN };

typedef struct Loss {
  bool sce, has_ii;
  int red, W;
  int64_t C, D, ii;
  DType xt, tt;
  KElem ce;
  KV x, t, w, y, lp, n;
  KVar accl, accw;
} Loss;

/* base[idx[i]] for the lanes in valid (others read as zero); dtype t, converted to ce */
static KV gather_at(KB *kb, DType t, KV base, KV idx, KV valid, int W, KElem ce) {
  KV v;
  if (W == 1) v = gen_load_vec(kb, t, base, idx, 1, NULL);
  else {
    v = kb_gather(kb, kt(kb_elem_of(t), W), base, idx, valid);
    if (t == DT_FLOAT16 || t == DT_BFLOAT16) v = kb_cast(kb, v, kt(KE_F32, W), false, false);
  }
  return kb_cast(kb, v, kt(ce, W), false, false);
}

static KV any_lane(KB *kb, KV m, int W) { return W == 1 ? m : kb_reduce_or(kb, m); }

static KV lane_iota(KB *kb, KV j, int W) {
  return W == 1 ? j : kb_add(kb, kb_splat(kb, j, W), kb_iota(kb, kt(KE_I64, W)));
}

static KV splat_i64(KB *kb, int64_t v, int W) { return W == 1 ? kb_i64(kb, v) : kb_int(kb, kt(KE_I64, W), v); }

static void loss_body(KB *kb, void *ud, KV j, KV mask) {
  Loss *L = ud;
  int W = L->W;
  KT ft = kt(L->ce, W);
  KV rowd = kb_add(kb, kb_mul(kb, L->n, kb_i64(kb, L->D)), j);                 /* n*D + j */
  KV base = kb_add(kb, kb_mul(kb, L->n, kb_i64(kb, L->C * L->D)), j);          /* x[n, 0, j] */
  KV tv = kb_cast(kb, gen_load_vec(kb, L->tt, L->t, rowd, W, mask), kt(KE_I64, W), false, false);
  KV valid = mask ? mask : W == 1 ? kb_true(kb) : kb_splat(kb, kb_true(kb), W);
  if (L->has_ii) valid = kb_and(kb, valid, kb_cmp(kb, KC_NE, tv, splat_i64(kb, L->ii, W), false));
  KV bad = kb_and(kb, valid, kb_cmp(kb, KC_GE, tv, splat_i64(kb, L->C, W), true)); /* unsigned: < 0 too */
  kb_if(kb, any_lane(kb, bad, W));
  kb_return_status(kb, kb_i32(kb, ST_INDEX));
  kb_endif(kb);
  KV ts = kb_select(kb, valid, tv, splat_i64(kb, 0, W));
  KV lse = NULL;
  if (L->sce) {
    KVar m = kb_var(kb, ft, kb_float(kb, ft, -INFINITY)), s = kb_var(kb, ft, kb_float(kb, ft, 0));
    KV c = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, L->C), 1);
    KV off = kb_add(kb, base, kb_mul(kb, c, kb_i64(kb, L->D)));
    kb_set(kb, m, kb_max(kb, kb_get(kb, m), gr_load(kb, L->xt, L->x, off, W, 1, mask, L->ce), false));
    kb_endfor(kb);
    KV mx = kb_get(kb, m);
    c = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, L->C), 1);
    off = kb_add(kb, base, kb_mul(kb, c, kb_i64(kb, L->D)));
    KV e = kb_exp(kb, kb_sub(kb, gr_load(kb, L->xt, L->x, off, W, 1, mask, L->ce), mx));
    kb_set(kb, s, kb_add(kb, kb_get(kb, s), e));
    kb_endfor(kb);
    lse = kb_add(kb, mx, kb_log(kb, kb_get(kb, s)));
    if (L->lp) {
      c = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, L->C), 1);
      off = kb_add(kb, base, kb_mul(kb, c, kb_i64(kb, L->D)));
      gr_store(kb, L->xt, L->lp, off, kb_sub(kb, gr_load(kb, L->xt, L->x, off, W, 1, mask, L->ce), lse), 1, mask);
      kb_endfor(kb);
    }
  }
  KV at = kb_add(kb, kb_splat(kb, kb_mul(kb, L->n, kb_i64(kb, L->C * L->D)), W),
                 kb_add(kb, kb_mul(kb, ts, splat_i64(kb, L->D, W)), lane_iota(kb, j, W)));
  KV picked = gather_at(kb, L->xt, L->x, at, valid, W, L->ce);
  if (lse) picked = kb_sub(kb, picked, lse);
  KV zero = kb_float(kb, ft, 0);
  KV wv = L->w ? gather_at(kb, L->xt, L->w, ts, valid, W, L->ce) : kb_float(kb, ft, 1);
  wv = kb_select(kb, valid, wv, zero);
  KV loss = kb_select(kb, valid, kb_neg(kb, kb_mul(kb, picked, wv)), zero);
  if (L->red == RED_NONE) {
    gr_store(kb, L->xt, L->y, rowd, loss, 1, mask);
    return;
  }
  kb_set(kb, L->accl, kb_add(kb, kb_get(kb, L->accl), loss));
  kb_set(kb, L->accw, kb_add(kb, kb_get(kb, L->accw), wv));
}

/* D == 1, the (N, C) classification case: log_softmax runs along the class row in vectors of Wc
 * lanes (three passes: max, sum of exp, log_prob); the pick and the loss are scalar per row */
typedef struct LossRow {
  Loss *L;
  int pass, Wc;
  KV rowx, mx, lse;
  KVar acc;
} LossRow;

static void loss_row_pass(KB *kb, void *ud, KV j, KV mask) {
  LossRow *r = ud;
  Loss *L = r->L;
  KT ft = kt(L->ce, r->Wc);
  KV off = kb_add(kb, r->rowx, j);
  KV v = gr_load(kb, L->xt, L->x, off, r->Wc, 1, mask, L->ce);
  if (r->pass == 0) {
    if (mask) v = kb_select(kb, mask, v, kb_float(kb, ft, -INFINITY));
    kb_set(kb, r->acc, kb_max(kb, kb_get(kb, r->acc), v, false));
  } else if (r->pass == 1) {
    KV e = kb_exp(kb, kb_sub(kb, v, r->mx));
    if (mask) e = kb_select(kb, mask, e, kb_float(kb, ft, 0));
    kb_set(kb, r->acc, kb_add(kb, kb_get(kb, r->acc), e));
  } else {
    gr_store(kb, L->xt, L->lp, off, kb_sub(kb, v, r->lse), 1, mask);
  }
}

static void loss_row(GenCtx *c, Loss *L) {
  KB *kb = c->kb;
  KT st = kt_s(L->ce);
  KV tv = kb_cast(kb, gen_load_vec(kb, L->tt, L->t, L->n, 1, NULL), kt_s(KE_I64), false, false);
  KV valid = L->has_ii ? kb_cmp(kb, KC_NE, tv, kb_i64(kb, L->ii), false) : kb_true(kb);
  kb_if(kb, kb_and(kb, valid, kb_cmp(kb, KC_GE, tv, kb_i64(kb, L->C), true)));
  kb_return_status(kb, kb_i32(kb, ST_INDEX));
  kb_endif(kb);
  KV ts = kb_select(kb, valid, tv, kb_i64(kb, 0));
  KV rowx = kb_mul(kb, L->n, kb_i64(kb, L->C));
  KV picked = kb_cast(kb, gen_load_vec(kb, L->xt, L->x, kb_add(kb, rowx, ts), 1, NULL), st, false, false);
  if (L->sce) {
    LossRow r = {.L = L, .Wc = gr_lanes(c, kb_elem_size(L->ce), L->C), .rowx = rowx};
    KT ft = kt(L->ce, r.Wc);
    r.acc = kb_var(kb, ft, kb_float(kb, ft, -INFINITY));
    gen_vec_loop(kb, kb_i64(kb, 0), kb_i64(kb, L->C), r.Wc, loss_row_pass, &r);
    KV mx = kb_reduce_max(kb, kb_get(kb, r.acc), false);
    r.pass = 1;
    r.mx = kb_splat(kb, mx, r.Wc);
    r.acc = kb_var(kb, ft, kb_float(kb, ft, 0));
    gen_vec_loop(kb, kb_i64(kb, 0), kb_i64(kb, L->C), r.Wc, loss_row_pass, &r);
    KV lse = kb_add(kb, mx, kb_log(kb, kb_reduce_add(kb, kb_get(kb, r.acc))));
    if (L->lp) {
      r.pass = 2;
      r.lse = kb_splat(kb, lse, r.Wc);
      gen_vec_loop(kb, kb_i64(kb, 0), kb_i64(kb, L->C), r.Wc, loss_row_pass, &r);
    }
    picked = kb_sub(kb, picked, lse);
  }
  KV zero = kb_float(kb, st, 0);
  KV wv = L->w ? kb_cast(kb, gen_load_vec(kb, L->xt, L->w, ts, 1, NULL), st, false, false) : kb_float(kb, st, 1);
  wv = kb_select(kb, valid, wv, zero);
  KV loss = kb_select(kb, valid, kb_neg(kb, kb_mul(kb, picked, wv)), zero);
  if (L->red == RED_NONE) {
    gr_store(kb, L->xt, L->y, L->n, loss, 1, NULL);
    return;
  }
  kb_set(kb, L->accl, kb_add(kb, kb_get(kb, L->accl), loss));
  kb_set(kb, L->accw, kb_add(kb, kb_get(kb, L->accw), wv));
}

static int gen_nll(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  Value *x = n->in[0];
  Loss L;
  memset(&L, 0, sizeof L);
  const char *red = ir_attr_str(n, "reduction", "mean");
  L.red = !strcmp(red, "none") ? RED_NONE : !strcmp(red, "sum") ? RED_SUM : RED_MEAN;
  L.sce = n->op == OP_SoftmaxCrossEntropyLoss;
  const Attr *ii = ir_attr(n, "ignore_index");
  L.has_ii = ii != NULL;
  L.ii = ii ? ii->i : 0;
  L.xt = x->dtype;
  L.tt = n->in[1]->dtype;
  L.ce = gr_ce(x->dtype, false);
  L.C = x->dims[1];
  L.D = 1;
  for (int d = 2; d < x->rank; d++) L.D *= x->dims[d];
  int64_t N = x->dims[0];
  L.W = L.D == 1 ? 1 : gr_lanes(c, kb_elem_size(L.ce), L.D);
  L.x = kb_buf(kb, 0);
  L.t = kb_buf(kb, 1);
  L.w = n->nin > 2 && n->in[2] ? kb_buf(kb, 2) : NULL;
  L.y = kb_buf(kb, n->nin);
  L.lp = L.sce && n->nout > 1 && n->out[1] ? kb_buf(kb, n->nin + 1) : NULL;
  KT ft = kt(L.ce, L.W);
  L.accl = kb_var(kb, ft, kb_float(kb, ft, 0));
  L.accw = kb_var(kb, ft, kb_float(kb, ft, 0));
  if (L.C > 0) {
    L.n = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, N), 1);
    if (L.D == 1) loss_row(c, &L);
    else gen_vec_loop(kb, kb_i64(kb, 0), kb_i64(kb, L.D), L.W, loss_body, &L);
    kb_endfor(kb);
  }
  if (L.red != RED_NONE) {
    KV s = kb_get(kb, L.accl), w = kb_get(kb, L.accw);
    if (L.W > 1) s = kb_reduce_add(kb, s), w = kb_reduce_add(kb, w);
    if (L.red == RED_MEAN) s = kb_div(kb, s, w, false);
    gr_store(kb, L.xt, L.y, kb_i64(kb, 0), s, 1, NULL);
  }
  return 0;
}

/* ---- Det: LU decomposition with partial pivoting, per matrix, in f64 scratch ---- */
typedef struct DetRow {
  KV a, k, i, f;
  int64_t m;
} DetRow;

/* a[i, j..] -= f * a[k, j..] */
static void det_row(KB *kb, void *ud, KV j, KV mask) {
  DetRow *r = ud;
  int W = mask ? kb_type(kb, mask).lanes : kb_type(kb, r->f).lanes;
  KT t = kt(KE_F64, W);
  KV pk = kb_gep(kb, KE_F64, r->a, kb_add(kb, kb_mul(kb, r->k, kb_i64(kb, r->m)), j));
  KV pi = kb_gep(kb, KE_F64, r->a, kb_add(kb, kb_mul(kb, r->i, kb_i64(kb, r->m)), j));
  KV v = kb_sub(kb, gen_vload(kb, t, pi, mask), kb_mul(kb, r->f, gen_vload(kb, t, pk, mask)));
  gen_vstore(kb, v, pi, mask);
}

/* scratch a[j..] = (f64) x[at + j..] */
typedef struct DetCopy {
  DType t;
  int W;
  KV a, x, at;
} DetCopy;

static void det_copy(KB *kb, void *ud, KV j, KV mask) {
  DetCopy *p = ud;
  KV v = gen_load_vec(kb, p->t, p->x, kb_add(kb, p->at, j), p->W, mask);
  gen_vstore(kb, kb_cast(kb, v, kt(KE_F64, p->W), false, false), kb_gep(kb, KE_F64, p->a, j), mask);
}

static KV ld(KB *kb, KV a, KV row, KV col, int64_t m) {
  return kb_load(kb, kt_s(KE_F64), kb_gep(kb, KE_F64, a, kb_add(kb, kb_mul(kb, row, kb_i64(kb, m)), col)));
}

static int gen_det(GenCtx *c) {
  KB *kb = c->kb;
  Value *x = c->n->in[0];
  int64_t m = x->dims[x->rank - 1], nmat = ir_value_numel(c->n->out[0]);
  int W = gen_lanes_cap(c, 8, 8);
  c->scratch_bytes = m * m * 8 + 64;
  KV a = kb_scratch(kb), one = kb_f64(kb, 1), zero = kb_f64(kb, 0);
  KV mat = gr_par_for(c, nmat, m * m * m * nmat);
  DetCopy cp = {.t = x->dtype, .W = W, .a = a, .x = kb_buf(kb, 0), .at = kb_mul(kb, mat, kb_i64(kb, m * m))};
  gen_vec_loop(kb, kb_i64(kb, 0), kb_i64(kb, m * m), W, det_copy, &cp);
  KVar det = kb_var(kb, kt_s(KE_F64), one);
  KV k = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, m), 1);
  /* pivot: the row at or below k with the largest |a[i, k]| */
  KVar p = kb_var(kb, kt_s(KE_I64), k), best = kb_var(kb, kt_s(KE_F64), kb_abs(kb, ld(kb, a, k, k, m)));
  KV i = kb_for(kb, kb_add(kb, k, kb_i64(kb, 1)), kb_i64(kb, m), 1);
  KV v = kb_abs(kb, ld(kb, a, i, k, m)), gt = kb_cmp(kb, KC_GT, v, kb_get(kb, best), false);
  kb_set(kb, best, kb_select(kb, gt, v, kb_get(kb, best)));
  kb_set(kb, p, kb_select(kb, gt, i, kb_get(kb, p)));
  kb_endfor(kb);
  KV pr = kb_get(kb, p);
  kb_if(kb, kb_cmp(kb, KC_NE, pr, k, false));
  {
    KV jj = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, m), 1);
    KV p1 = kb_gep(kb, KE_F64, a, kb_add(kb, kb_mul(kb, k, kb_i64(kb, m)), jj));
    KV p2 = kb_gep(kb, KE_F64, a, kb_add(kb, kb_mul(kb, pr, kb_i64(kb, m)), jj));
    KV t1 = kb_load(kb, kt_s(KE_F64), p1), t2 = kb_load(kb, kt_s(KE_F64), p2);
    kb_store(kb, t2, p1);
    kb_store(kb, t1, p2);
    kb_endfor(kb);
    kb_set(kb, det, kb_neg(kb, kb_get(kb, det)));
  }
  kb_endif(kb);
  KV piv = ld(kb, a, k, k, m);
  kb_set(kb, det, kb_mul(kb, kb_get(kb, det), piv));
  kb_if(kb, kb_cmp(kb, KC_NE, piv, zero, false));
  {
    KV r = kb_for(kb, kb_add(kb, k, kb_i64(kb, 1)), kb_i64(kb, m), 1);
    DetRow row = {.a = a, .k = k, .i = r, .m = m};
    KV f = kb_div(kb, ld(kb, a, r, k, m), piv, false);
    row.f = W == 1 ? f : kb_splat(kb, f, W);
    gen_vec_loop(kb, kb_add(kb, k, kb_i64(kb, 1)), kb_i64(kb, m), W, det_row, &row);
    kb_endfor(kb);
  }
  kb_endif(kb);
  kb_endfor(kb);
  gr_store(kb, c->n->out[0]->dtype, kb_buf(kb, 1), mat, kb_get(kb, det), 1, NULL);
  kb_endfor(kb);
  return 0;
}

int gen_loss(GenCtx *c) {
  switch (c->n->op) {
  case OP_SoftmaxCrossEntropyLoss:
  case OP_NegativeLogLikelihoodLoss: return gen_nll(c);
  case OP_Det: return gen_det(c);
  default: return ir_node_error(c->g, c->n, "not a reduction op");
  }
}
