/* gen_select.c — code generation for TopK, ReverseSequence and MaxUnpool.
 *
 * TopK views the input as [outer][L][S] (L = the axis) and selects, per row, k times the best
 * element that comes after the previous pick in the order (value best first, then lower index
 * first).  That order is total, so round r needs only the previous pick (no marks, no scratch):
 * O(k L) with vector loads, good for the usual small k.  When S > 1 the lanes are W neighbouring
 * rows (unit-stride loads along S); when the axis is the last one (S == 1) the lanes run along the
 * row and each round ends with a horizontal reduction.  Compress reaches here only without an axis,
 * on runtime data with a constant condition (with an axis it became a Gather). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_reduce.h"

#define ST_INDEX 3 /* ONNXC_ERR_INDEX */

typedef struct TopK {
  DType xt;
  KElem ce;
  bool largest, uns;
  int64_t L, S, k;
  KV x, y, yi;
} TopK;

/* a is better than b in the selection order's value part */
static KV better(KB *kb, const TopK *t, KV a, KV b) {
  return kb_cmp(kb, t->largest ? KC_GT : KC_LT, a, b, t->uns);
}

static KV worst_value(KB *kb, const TopK *t, KT ty) {
  return gr_ident(kb, ty, t->largest ? GR_MAX : GR_MIN, t->uns);
}

/* x at index l comes after the previous pick (pv, pi) */
static KV after_prev(KB *kb, const TopK *t, KV x, KV l, KV pv, KV pi) {
  return kb_or(kb, better(kb, t, pv, x),
               kb_and(kb, kb_cmp(kb, KC_EQ, x, pv, false), kb_cmp(kb, KC_GT, l, pi, false)));
}

/* lanes = W neighbouring rows; row position s (vector start) within outer o */
static void topk_rows(KB *kb, const TopK *t, KV o, KV s, int W, KV mask) {
  KT vt = kt(t->ce, W), it = kt(KE_I64, W);
  KV ib = kb_add(kb, kb_mul(kb, o, kb_i64(kb, t->L * t->S)), s);
  KV ob = kb_add(kb, kb_mul(kb, o, kb_i64(kb, t->k * t->S)), s);
  KVar pv = kb_var(kb, vt, NULL), pi = kb_var(kb, it, kb_int(kb, it, -1));
  KVar bv = kb_var(kb, vt, NULL), bi = kb_var(kb, it, NULL);
  KV r = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, t->k), 1);
  kb_set(kb, bv, worst_value(kb, t, vt));
  kb_set(kb, bi, kb_int(kb, it, -1));
  KV l = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, t->L), 1);
  KV x = gr_load(kb, t->xt, t->x, kb_add(kb, ib, kb_mul(kb, l, kb_i64(kb, t->S))), W, 1, mask, t->ce);
  KV ls = kb_splat(kb, l, W);
  KV first = kb_cmp(kb, KC_EQ, r, kb_i64(kb, 0), false);
  KV cand = kb_or(kb, kb_splat(kb, first, W), after_prev(kb, t, x, ls, kb_get(kb, pv), kb_get(kb, pi)));
  KV none = kb_cmp(kb, KC_LT, kb_get(kb, bi), kb_int(kb, it, 0), false);
  KV upd = kb_and(kb, cand, kb_or(kb, none, better(kb, t, x, kb_get(kb, bv))));
  upd = kb_and(kb, upd, kb_cmp(kb, KC_EQ, x, x, false)); /* NaN is never picked */
  kb_set(kb, bv, kb_select(kb, upd, x, kb_get(kb, bv)));
  kb_set(kb, bi, kb_select(kb, upd, ls, kb_get(kb, bi)));
  kb_endfor(kb);
  KV at = kb_add(kb, ob, kb_mul(kb, r, kb_i64(kb, t->S)));
  gr_store(kb, t->xt, t->y, at, kb_get(kb, bv), 1, mask);
  gr_store(kb, DT_INT64, t->yi, at, kb_get(kb, bi), 1, mask);
  kb_set(kb, pv, kb_get(kb, bv));
  kb_set(kb, pi, kb_get(kb, bi));
  kb_endfor(kb);
}

/* S == 1: lanes along the row, a horizontal reduction per round */
static void topk_along(KB *kb, const TopK *t, KV o, int W) {
  KT vt = kt(t->ce, W), it = kt(KE_I64, W), st = kt_s(t->ce);
  KV ib = kb_mul(kb, o, kb_i64(kb, t->L)), ob = kb_mul(kb, o, kb_i64(kb, t->k));
  KVar pv = kb_var(kb, st, worst_value(kb, t, st)), pi = kb_var(kb, kt_s(KE_I64), kb_i64(kb, -1));
  KVar bv = kb_var(kb, vt, NULL), bi = kb_var(kb, it, NULL);
  KV r = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, t->k), 1);
  kb_set(kb, bv, worst_value(kb, t, vt));
  kb_set(kb, bi, kb_int(kb, it, -1));
  KV first = kb_splat(kb, kb_cmp(kb, KC_EQ, r, kb_i64(kb, 0), false), W);
  KV pvv = kb_splat(kb, kb_get(kb, pv), W), piv = kb_splat(kb, kb_get(kb, pi), W);
  KVar lv = kb_var(kb, kt_s(KE_I64), kb_i64(kb, 0));
  for (int tail = 0; tail < 2; tail++) {
    KV l, mask = NULL;
    if (!tail) {
      l = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, t->L - (W - 1)), W);
      kb_set(kb, lv, kb_add(kb, l, kb_i64(kb, W)));
    } else {
      l = kb_get(kb, lv);
      kb_if(kb, kb_cmp(kb, KC_LT, l, kb_i64(kb, t->L), false));
      mask = kb_tail_mask(kb, W, kb_sub(kb, kb_i64(kb, t->L), l));
    }
    KV x = gr_load(kb, t->xt, t->x, kb_add(kb, ib, l), W, 1, mask, t->ce);
    KV ls = kb_add(kb, kb_splat(kb, l, W), kb_iota(kb, it));
    KV cand = kb_or(kb, first, after_prev(kb, t, x, ls, pvv, piv));
    if (mask) cand = kb_and(kb, cand, mask);
    KV none = kb_cmp(kb, KC_LT, kb_get(kb, bi), kb_int(kb, it, 0), false);
    KV upd = kb_and(kb, kb_and(kb, cand, kb_cmp(kb, KC_EQ, x, x, false)),
                    kb_or(kb, none, better(kb, t, x, kb_get(kb, bv))));
    kb_set(kb, bv, kb_select(kb, upd, x, kb_get(kb, bv)));
    kb_set(kb, bi, kb_select(kb, upd, ls, kb_get(kb, bi)));
    if (!tail) kb_endfor(kb);
    else kb_endif(kb);
  }
  /* the best lane value, then the lowest index holding it */
  KV b = kb_get(kb, bv), bix = kb_get(kb, bi);
  KV has = kb_cmp(kb, KC_GE, bix, kb_int(kb, it, 0), false);
  KV m = t->largest ? kb_reduce_max(kb, kb_select(kb, has, b, worst_value(kb, t, vt)), t->uns)
                    : kb_reduce_min(kb, kb_select(kb, has, b, worst_value(kb, t, vt)), t->uns);
  KV hit = kb_and(kb, has, kb_cmp(kb, KC_EQ, b, kb_splat(kb, m, W), false));
  KV idx = kb_reduce_min(kb, kb_select(kb, hit, bix, kb_int(kb, it, INT64_MAX)), false);
  idx = kb_select(kb, kb_cmp(kb, KC_EQ, idx, kb_i64(kb, INT64_MAX), false), kb_i64(kb, -1), idx);
  gr_store(kb, t->xt, t->y, kb_add(kb, ob, r), m, 1, NULL);
  gr_store(kb, DT_INT64, t->yi, kb_add(kb, ob, r), idx, 1, NULL);
  kb_set(kb, pv, m);
  kb_set(kb, pi, idx);
  kb_endfor(kb);
}

static int gen_topk(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  Value *x = n->in[0];
  TopK t = {.xt = x->dtype, .ce = gr_ce(x->dtype, false), .largest = ir_attr_int(n, "largest", 1) != 0};
  int axis;
  if (ir_topk_k(c->g, n, &t.k) || ir_normalize_axis(c->g, n, ir_attr_int(n, "axis", -1), x->rank, &axis)) return -1;
  t.uns = !dtype_is_signed(x->dtype);
  t.L = x->dims[axis];
  t.S = 1;
  int64_t outer = 1;
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) t.S *= x->dims[d];
  t.x = kb_buf(kb, 0);
  t.y = kb_buf(kb, n->nin);
  t.yi = kb_buf(kb, n->nin + 1);
  if (t.k == 0 || outer * t.S == 0) return 0;
  size_t es = kb_elem_size(t.ce) < 8 ? 8 : kb_elem_size(t.ce); /* the index vectors are i64 */
  if (t.S == 1) {
    int W = gr_lanes(c, es, t.L);
    KV o = gr_par_for(c, outer, outer * t.L * t.k);
    topk_along(kb, &t, o, W);
    kb_endfor(kb);
    return 0;
  }
  int W = gr_lanes(c, es, t.S);
  int64_t chunks = (t.S + W - 1) / W;
  KV it = gr_par_for(c, outer * chunks, outer * t.S * t.L * t.k);
  KV o = kb_div(kb, it, kb_i64(kb, chunks), true);
  KV s = kb_mul(kb, kb_rem(kb, it, kb_i64(kb, chunks), true), kb_i64(kb, W));
  KV rem = kb_sub(kb, kb_i64(kb, t.S), s);
  kb_if(kb, kb_cmp(kb, KC_GE, rem, kb_i64(kb, W), false));
  topk_rows(kb, &t, o, s, W, NULL);
  kb_else(kb);
  topk_rows(kb, &t, o, s, W, kb_tail_mask(kb, W, rem));
  kb_endif(kb);
  kb_endfor(kb);
  return 0;
}

/* ---- ReverseSequence: x viewed as [A0][A1][inner]; one memcpy of `inner` elements per (t, b) ---- */
static int gen_reverse_sequence(GenCtx *c) {
  KB *kb = c->kb;
  Value *x = c->n->in[0];
  bool tfirst = ir_attr_int(c->n, "time_axis", 0) == 0;
  int64_t a0 = x->dims[0], a1 = x->dims[1], inner = 1, T = tfirst ? a0 : a1;
  for (int d = 2; d < x->rank; d++) inner *= x->dims[d];
  int64_t row = inner * (int64_t)dtype_size(x->dtype);
  KV src = kb_buf(kb, 0), lens = kb_buf(kb, 1), dst = kb_buf(kb, 2);
  KV i0 = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, a0), 1);
  KV i1 = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, a1), 1);
  KV t = tfirst ? i0 : i1, b = tfirst ? i1 : i0;
  KV len = kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, lens, b));
  kb_if(kb, kb_cmp(kb, KC_GT, len, kb_i64(kb, T), true)); /* unsigned: negative too */
  kb_return_status(kb, kb_i32(kb, ST_INDEX));
  kb_endif(kb);
  KV st = kb_select(kb, kb_cmp(kb, KC_LT, t, len, false), kb_sub(kb, kb_sub(kb, len, kb_i64(kb, 1)), t), t);
  KV si = tfirst ? kb_add(kb, kb_mul(kb, st, kb_i64(kb, a1)), b) : kb_add(kb, kb_mul(kb, b, kb_i64(kb, a1)), st);
  KV di = kb_add(kb, kb_mul(kb, i0, kb_i64(kb, a1)), i1);
  kb_memcpy(kb, kb_gep_bytes(kb, dst, kb_mul(kb, di, kb_i64(kb, row))),
            kb_gep_bytes(kb, src, kb_mul(kb, si, kb_i64(kb, row))), kb_i64(kb, row));
  kb_endfor(kb);
  kb_endfor(kb);
  return 0;
}

/* ---- MaxUnpool: zero the output, then scatter x to the flat indices MaxPool produced ---- */
typedef struct Unpool {
  DType xt;
  int W, rank;
  int64_t total, *from, *to; /* indices are flat over `from`; the output has shape `to` */
  KV x, idx, y;
} Unpool;

/* a flat index over u->from → the flat index of the same coordinates over u->to */
static KV unpool_remap(KB *kb, const Unpool *u, KV id) {
  KT it = kb_type(kb, id);
  KV out = kb_int(kb, it, 0), mul = kb_int(kb, it, 1);
  for (int d = u->rank - 1; d >= 0; d--) {
    KV dd = kb_int(kb, it, u->from[d]);
    out = kb_add(kb, out, kb_mul(kb, kb_rem(kb, id, dd, true), mul));
    id = kb_div(kb, id, dd, true);
    mul = kb_mul(kb, mul, kb_int(kb, it, u->to[d]));
  }
  return out;
}

static void unpool_body(KB *kb, void *ud, KV j, KV mask) {
  Unpool *u = ud;
  KElem e = kb_elem_of(u->xt);
  int W = u->W;
  KT it = kt(KE_I64, W);
  KV id = gen_vload(kb, it, kb_gep(kb, KE_I64, u->idx, j), mask);
  KV bad = kb_cmp(kb, KC_GE, id, W == 1 ? kb_i64(kb, u->total) : kb_int(kb, it, u->total), true);
  if (mask) bad = kb_and(kb, bad, mask);
  kb_if(kb, W == 1 ? bad : kb_reduce_or(kb, bad));
  kb_return_status(kb, kb_i32(kb, ST_INDEX));
  kb_endif(kb);
  if (u->to) id = unpool_remap(kb, u, id);
  KV v = gen_vload(kb, kt(e, W), kb_gep(kb, e, u->x, j), mask);
  if (W == 1) kb_store(kb, v, kb_gep(kb, e, u->y, id));
  else kb_scatter(kb, v, u->y, id, mask);
}

static int gen_max_unpool(GenCtx *c) {
  KB *kb = c->kb;
  Value *x = c->n->in[0], *y = c->n->out[0];
  Unpool u = {.xt = x->dtype, .total = ir_value_numel(y), .x = kb_buf(kb, 0), .idx = kb_buf(kb, 1),
              .y = kb_buf(kb, c->n->nin)};
  int64_t from[IR_MAX_RANK];
  if (ir_max_unpool_dims(c->g, c->n, from)) return -1;
  int64_t nfrom = 1;
  for (int d = 0; d < y->rank; d++) nfrom *= from[d];
  if (memcmp(from, y->dims, sizeof(int64_t) * (size_t)y->rank)) {
    u.rank = y->rank, u.from = from, u.to = y->dims;
  }
  kb_memset(kb, u.y, 0, kb_i64(kb, u.total * (int64_t)dtype_size(y->dtype)));
  u.total = nfrom;
  u.W = gen_lanes_cap(c, 8, 16);
  gen_vec_loop(kb, kb_i64(kb, 0), kb_i64(kb, ir_value_numel(x)), u.W, unpool_body, &u);
  return 0;
}

/* ---- Compress without axis, on runtime data (the condition is a constant): y[k] = x[sel[k]] ---- */
typedef struct Comp {
  DType t;
  int W;
  KV x, y, sel;
} Comp;

static void compress_body(KB *kb, void *ud, KV j, KV mask) {
  Comp *p = ud;
  KElem e = kb_elem_of(p->t);
  KV id = gen_vload(kb, kt(KE_I64, p->W), kb_gep(kb, KE_I64, p->sel, j), mask);
  KV v = p->W == 1 ? kb_load(kb, kt_s(e), kb_gep(kb, e, p->x, id)) : kb_gather(kb, kt(e, p->W), p->x, id, mask);
  gen_vstore(kb, v, kb_gep(kb, e, p->y, j), mask);
}

static int gen_compress(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  Value *cond = n->in[1];
  int64_t cnt = ir_value_numel(n->out[0]), k = 0;
  if (cond->kind != VK_CONST || !cond->data) return ir_node_error(c->g, n, "the condition must be a constant");
  if (cnt == 0) return 0;
  int64_t *sel = calloc((size_t)cnt, sizeof(int64_t));
  if (!sel) return ir_node_error(c->g, n, "out of memory");
  for (int64_t i = 0; i < cond->dims[0] && k < cnt; i++)
    if (ir_const_i64(cond, i)) sel[k++] = i;
  Comp p = {.t = n->in[0]->dtype, .W = gen_lanes_cap(c, 8, 16), .x = kb_buf(kb, 0), .y = kb_buf(kb, n->nin)};
  p.sel = kb_weight(kb, sel, sizeof(int64_t) * (size_t)cnt);
  free(sel);
  c->const_unused |= 1u << 1;
  gen_vec_loop(kb, kb_i64(kb, 0), kb_i64(kb, cnt), p.W, compress_body, &p);
  return 0;
}

int gen_select(GenCtx *c) {
  if (gen_check_movable(c)) return -1;
  switch (c->n->op) {
  case OP_TopK: return gen_topk(c);
  case OP_ReverseSequence: return gen_reverse_sequence(c);
  case OP_MaxUnpool: return gen_max_unpool(c);
  case OP_Compress: return gen_compress(c);
  default:
    if (ir_output_depends_on_data(c->n->op)) /* shape inference folds these unless too large */
      return ir_node_error(c->g, c->n, "output shape depends on input data; onnxc computes it at compile time, "
                           "but only for tensors of at most %d elements", IR_FOLD_LIMIT);
    return ir_node_error(c->g, c->n, "not a data-movement op");
  }
}
