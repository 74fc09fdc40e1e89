/* gen_move_index.c — the F_MOVE family's index-driven ops: Gather, GatherElements, GatherND,
 * ScatterND, ScatterElements, and Trilu (its diagonal offset k is an input).  Every index is
 * checked: one out of range makes the kernel return ONNXC_ERR_INDEX (3) instead of touching
 * memory out of bounds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_move.h"

/* ================================================================================================
 * index-driven ops
 * ============================================================================================== */
static bool idx_uns(DType t) { return t == DT_UINT8 || t == DT_UINT16 || t == DT_UINT32 || t == DT_UINT64; }

/* load W indices (dtype t) at p, as i64 lanes */
static KV load_idx_vec(KB *kb, DType t, KV base, KV at, int W, KV mask) {
  KElem e = kb_elem_of(t);
  KV v = gen_vload(kb, kt(e, W), kb_gep(kb, e, base, at), mask);
  if (kb_is_float(e)) return kb_cast(kb, v, kt(KE_I64, W), false, false);
  return kb_cast(kb, v, kt(KE_I64, W), idx_uns(t), false);
}

static KV load_idx(KB *kb, DType t, KV base, KV at) {
  KElem e = kb_elem_of(t);
  KV v = kb_load(kb, kt_s(e), kb_gep(kb, e, base, at));
  return kb_cast(kb, v, kt_s(KE_I64), idx_uns(t), false);
}

/* idx < 0 → idx + dim; returns the normalized value; returns status 3 unless 0 <= idx < dim */
static KV check_idx(KB *kb, KV idx, int64_t dim) {
  KV nrm = kb_select(kb, kb_cmp(kb, KC_LT, idx, i64c(kb, 0), false), kb_add(kb, idx, i64c(kb, dim)), idx);
  kb_if(kb, kb_cmp(kb, KC_GE, nrm, i64c(kb, dim), true));
  kb_return_status(kb, kb_i32(kb, ST_INDEX));
  kb_endif(kb);
  return nrm;
}

static KV check_idx_vec(KB *kb, KV idx, int64_t dim, int W, KV mask) {
  KT t = kt(KE_I64, W);
  KV nrm = kb_select(kb, kb_cmp(kb, KC_LT, idx, kb_int(kb, t, 0), false), kb_add(kb, idx, kb_int(kb, t, dim)), idx);
  KV bad = kb_cmp(kb, KC_GE, nrm, kb_int(kb, t, dim), true);
  if (mask) bad = kb_and(kb, bad, mask);
  kb_if(kb, kb_reduce_or(kb, bad));
  kb_return_status(kb, kb_i32(kb, ST_INDEX));
  kb_endif(kb);
  if (mask) nrm = kb_select(kb, mask, nrm, kb_int(kb, t, 0));
  return nrm;
}

typedef struct GatherVec {
  DType it;
  KElem ke;
  int W;
  KV data, idx, out;
  KV dbase, ibase, obase; /* i64 element offsets */
  int64_t dim, dscale;     /* index bound; index multiplier in data */
} GatherVec;

static void gather_vec_body(KB *kb, void *ud, KV j, KV mask) {
  GatherVec *g = ud;
  KV iv = load_idx_vec(kb, g->it, g->idx, kb_add(kb, g->ibase, j), g->W, mask);
  iv = check_idx_vec(kb, iv, g->dim, g->W, mask);
  if (g->dscale != 1) iv = kb_mul(kb, iv, kb_int(kb, kt(KE_I64, g->W), g->dscale));
  KV v = mv_gather(kb, kt(g->ke, g->W), g->data, kb_add(kb, iv, kb_splat(kb, g->dbase, g->W)), mask);
  gen_vstore(kb, v, kb_gep(kb, g->ke, g->out, kb_add(kb, g->obase, j)), mask);
}

int gen_gather(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ix = n->in[1], *y = n->out[0];
  int axis;
  if (ir_normalize_axis(c->g, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
  size_t es = dtype_size(x->dtype);
  KElem ke = gen_raw_elem(es);
  int64_t pre = 1, post = 1, A = x->dims[axis], ni = ir_value_numel(ix);
  for (int d = 0; d < axis; d++) pre *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) post *= x->dims[d];
  int64_t total = ir_value_numel(y);
  if (total == 0) return 0;
  KV data = kb_buf(kb, 0), idx = kb_buf(kb, 1), out = kb_buf(kb, n->nin);
  if (post == 1) { /* vectorize over indices: gathers */
    const int64_t CH = 2048;
    int64_t nch = (ni + CH - 1) / CH;
    KV it = mv_par_for(c, pre * nch, total * (int64_t)es);
    KV p = kb_div(kb, it, i64c(kb, nch), true), ch = kb_rem(kb, it, i64c(kb, nch), true);
    KV i0 = kb_mul(kb, ch, i64c(kb, CH));
    KV i1 = kb_min(kb, kb_add(kb, i0, i64c(kb, CH)), i64c(kb, ni), false);
    GatherVec g = {ix->dtype, ke, gen_lanes_cap(c, es, 16), data, idx, out, kb_mul(kb, p, i64c(kb, A)),
                   i64c(kb, 0), kb_mul(kb, p, i64c(kb, ni)), A, 1};
    gen_vec_loop(kb, i0, i1, g.W, gather_vec_body, &g);
    kb_endfor(kb);
    return 0;
  }
  /* row copies: one index selects a contiguous row of `post` elements */
  KV it = mv_par_for(c, pre * ni, total * (int64_t)es);
  KV p = kb_div(kb, it, i64c(kb, ni), true), i = kb_rem(kb, it, i64c(kb, ni), true);
  KV iv = check_idx(kb, load_idx(kb, ix->dtype, idx, i), A);
  KV soff = kb_mul(kb, kb_add(kb, kb_mul(kb, p, i64c(kb, A)), iv), i64c(kb, post));
  KV doff = kb_mul(kb, it, i64c(kb, post));
  mv_copy_run(c, ke, kb_gep(kb, ke, out, doff), kb_gep(kb, ke, data, soff), i64c(kb, post), post);
  kb_endfor(kb);
  return 0;
}

/* GatherElements: vectorized over the innermost axis of the indices */
typedef struct GEl {
  DType it;
  KElem ke;
  int W;
  KV data, idx, out;
  KV rowd, rowi;       /* data offset (without the axis term), index/output row offset */
  int64_t dim, sa;     /* axis extent, data stride of the axis */
  bool inner_is_axis;
} GEl;

static void gel_body(KB *kb, void *ud, KV j, KV mask) {
  GEl *g = ud;
  int W = g->W;
  KV iv = load_idx_vec(kb, g->it, g->idx, kb_add(kb, g->rowi, j), W, mask);
  iv = check_idx_vec(kb, iv, g->dim, W, mask);
  KV off = kb_add(kb, kb_mul(kb, iv, kb_int(kb, kt(KE_I64, W), g->sa)), kb_splat(kb, g->rowd, W));
  if (!g->inner_is_axis) off = kb_add(kb, off, mv_lane_idx(kb, j, 1, W));
  KV v = mv_gather(kb, kt(g->ke, W), g->data, off, mask);
  gen_vstore(kb, v, kb_gep(kb, g->ke, g->out, kb_add(kb, g->rowi, j)), mask);
}

int gen_gather_elements(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ix = n->in[1];
  int r = ix->rank, axis;
  if (ir_normalize_axis(c->g, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
  size_t es = dtype_size(x->dtype);
  int64_t xs[IR_MAX_RANK], total = ir_value_numel(ix);
  if (total == 0) return 0;
  gen_strides(r, x->dims, xs);
  int64_t inner = ix->dims[r - 1], rows = total / inner;
  KV it = mv_par_for(c, rows, total * (int64_t)es);
  KV rowd = i64c(kb, 0), rem = it;
  for (int d = r - 2; d >= 0; d--) {
    KV q = d > 0 ? kb_rem(kb, rem, i64c(kb, ix->dims[d]), true) : rem;
    if (d > 0) rem = kb_div(kb, rem, i64c(kb, ix->dims[d]), true);
    if (d != axis) rowd = kb_add(kb, rowd, kb_mul(kb, q, i64c(kb, xs[d])));
  }
  GEl g = {ix->dtype, gen_raw_elem(es), gen_lanes_cap(c, es, 16), kb_buf(kb, 0), kb_buf(kb, 1), kb_buf(kb, n->nin),
           rowd, kb_mul(kb, it, i64c(kb, inner)), x->dims[axis], xs[axis], axis == r - 1};
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, inner), g.W, gel_body, &g);
  kb_endfor(kb);
  return 0;
}

/* GatherND */
typedef struct GNd {
  DType it;
  KElem ke;
  int W, k, bdim;
  KV data, idx, out;
  KV ibase, dbase;       /* ibase: tuple-number offset of this batch; dbase: data batch offset */
  int64_t dims[IR_MAX_RANK], strides[IR_MAX_RANK]; /* of the k indexed data axes */
} GNd;

static void gnd_body(KB *kb, void *ud, KV j, KV mask) {
  GNd *g = ud;
  int W = g->W;
  KT t = kt(KE_I64, W);
  KV tup = kb_mul(kb, kb_add(kb, mv_lane_idx(kb, g->ibase, 1, W), kb_splat(kb, j, W)), kb_int(kb, t, g->k));
  KV off = kb_splat(kb, g->dbase, W);
  KElem ie = kb_elem_of(g->it);
  for (int q = 0; q < g->k; q++) {
    KV iv = mv_gather(kb, kt(ie, W), g->idx, kb_add(kb, tup, kb_int(kb, t, q)), mask);
    iv = kb_cast(kb, iv, t, idx_uns(g->it), false);
    iv = check_idx_vec(kb, iv, g->dims[q], W, mask);
    off = kb_add(kb, off, kb_mul(kb, iv, kb_int(kb, t, g->strides[q])));
  }
  KV v = mv_gather(kb, kt(g->ke, W), g->data, off, mask);
  gen_vstore(kb, v, kb_gep(kb, g->ke, g->out, kb_add(kb, g->ibase, j)), mask);
}

int gen_gather_nd(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ix = n->in[1], *y = n->out[0];
  int b = (int)ir_attr_int(n, "batch_dims", 0), k = (int)ix->dims[ix->rank - 1];
  size_t es = dtype_size(x->dtype);
  KElem ke = gen_raw_elem(es);
  int64_t xs[IR_MAX_RANK], nb = 1, nm = 1, R = 1, bstride = 1;
  gen_strides(x->rank, x->dims, xs);
  for (int d = 0; d < b; d++) nb *= ix->dims[d];
  for (int d = b; d < ix->rank - 1; d++) nm *= ix->dims[d];
  for (int d = b + k; d < x->rank; d++) R *= x->dims[d];
  bstride = b > 0 ? xs[b - 1] : 0;
  int64_t total = ir_value_numel(y);
  if (total == 0) return 0;
  GNd g;
  memset(&g, 0, sizeof g);
  g.it = ix->dtype;
  g.ke = ke;
  g.k = k;
  g.data = kb_buf(kb, 0);
  g.idx = kb_buf(kb, 1);
  g.out = kb_buf(kb, n->nin);
  for (int q = 0; q < k; q++) {
    g.dims[q] = x->dims[b + q];
    g.strides[q] = xs[b + q];
  }
  if (R == 1) { /* vectorized over tuples */
    KV it = mv_par_for(c, nb, total * (int64_t)es);
    g.W = gen_lanes_cap(c, es, 16);
    g.ibase = kb_mul(kb, it, i64c(kb, nm));
    g.dbase = kb_mul(kb, it, i64c(kb, bstride));
    gen_vec_loop(kb, i64c(kb, 0), i64c(kb, nm), g.W, gnd_body, &g);
    kb_endfor(kb);
    return 0;
  }
  KV it = mv_par_for(c, nb * nm, total * (int64_t)es); /* one tuple → one contiguous slice of R */
  KV bi = kb_div(kb, it, i64c(kb, nm), true);
  KV off = kb_mul(kb, bi, i64c(kb, bstride));
  for (int q = 0; q < k; q++) {
    KV iv = load_idx(kb, ix->dtype, g.idx, kb_add(kb, kb_mul(kb, it, i64c(kb, k)), i64c(kb, q)));
    iv = check_idx(kb, iv, g.dims[q]);
    off = kb_add(kb, off, kb_mul(kb, iv, i64c(kb, g.strides[q])));
  }
  mv_copy_run(c, ke, kb_gep(kb, ke, g.out, kb_mul(kb, it, i64c(kb, R))), kb_gep(kb, ke, g.data, off), i64c(kb, R), R);
  kb_endfor(kb);
  return 0;
}

/* ---- Scatter ---- */
enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int reduction_of(GenCtx *c, int *red) {
  const char *s = ir_attr_str(c->n, "reduction", "none");
  if (!strcmp(s, "none")) *red = RED_NONE;
  else if (!strcmp(s, "add")) *red = RED_ADD;
  else if (!strcmp(s, "mul")) *red = RED_MUL;
  else if (!strcmp(s, "max")) *red = RED_MAX;
  else if (!strcmp(s, "min")) *red = RED_MIN;
  else return ir_node_error(c->g, c->n, "unknown reduction '%s'", s);
  return 0;
}

static KV apply_red(KB *kb, int red, DType t, KV a, KV b) {
  bool uns = !dtype_is_signed(t);
  if (t == DT_BOOL) {
    switch (red) {
    case RED_ADD:
    case RED_MAX: return kb_or(kb, a, b);
    case RED_MUL:
    case RED_MIN: return kb_and(kb, a, b);
    default: return b;
    }
  }
  switch (red) {
  case RED_ADD: return kb_add(kb, a, b);
  case RED_MUL: return kb_mul(kb, a, b);
  case RED_MAX: return kb_max(kb, a, b, uns);
  case RED_MIN: return kb_min(kb, a, b, uns);
  default: return b;
  }
}

/* copy data → output (whole tensor, single thread: the scatter that follows needs it complete) */
static void copy_all(GenCtx *c, Value *x) {
  KB *kb = c->kb;
  int64_t bytes = ir_value_numel(x) * (int64_t)dtype_size(x->dtype);
  if (bytes > 0) kb_memcpy(kb, kb_buf(kb, c->n->nin), kb_buf(kb, 0), i64c(kb, bytes));
}

/* row update: out[doff + j] = red(out[doff + j], upd[uoff + j]) over a contiguous row */
typedef struct RowUpd {
  DType t;
  int red, W;
  KV out, upd, doff, uoff;
} RowUpd;

static void rowupd_body(KB *kb, void *ud, KV j, KV mask) {
  RowUpd *r = ud;
  KV u = gen_load_vec(kb, r->t, r->upd, kb_add(kb, r->uoff, j), r->W, mask);
  KV v = u;
  if (r->red != RED_NONE) v = apply_red(kb, r->red, r->t, gen_load_vec(kb, r->t, r->out, kb_add(kb, r->doff, j), r->W, mask), u);
  gen_store_vec(kb, r->t, r->out, kb_add(kb, r->doff, j), v, mask);
}

int gen_scatter_nd(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ix = n->in[1];
  int red;
  if (reduction_of(c, &red)) return -1;
  int k = (int)ix->dims[ix->rank - 1];
  int64_t xs[IR_MAX_RANK], R = 1, nu = ir_value_numel(ix) / (k ? k : 1);
  gen_strides(x->rank, x->dims, xs);
  for (int d = k; d < x->rank; d++) R *= x->dims[d];
  copy_all(c, x);
  if (nu == 0 || R == 0) return 0;
  KV it = kb_for(kb, i64c(kb, 0), i64c(kb, nu), 1);
  KV off = i64c(kb, 0);
  for (int q = 0; q < k; q++) {
    KV iv = load_idx(kb, ix->dtype, kb_buf(kb, 1), kb_add(kb, kb_mul(kb, it, i64c(kb, k)), i64c(kb, q)));
    iv = check_idx(kb, iv, x->dims[q]);
    off = kb_add(kb, off, kb_mul(kb, iv, i64c(kb, xs[q])));
  }
  size_t cs = x->dtype == DT_BOOL ? 1 : kb_elem_size(gen_compute_elem(x->dtype));
  RowUpd ru = {x->dtype, red, gen_lanes_cap(c, cs, 64), kb_buf(kb, n->nin), kb_buf(kb, 2), off, kb_mul(kb, it, i64c(kb, R))};
  if (R == 1) ru.W = 1;
  else
    while (ru.W > 2 && ru.W / 2 >= R) ru.W /= 2;
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, R), ru.W, rowupd_body, &ru);
  kb_endfor(kb);
  return 0;
}

/* ScatterElements: vectorized over the innermost axis when it is not the scatter axis (distinct
 * addresses within a vector); along the axis itself scatters with reduction go one by one. */
typedef struct SEl {
  DType t, it;
  int red, W;
  KV out, idx, upd;
  KV rowd, rowi;
  int64_t dim, sa;
  bool inner_is_axis;
} SEl;

static void sel_body(KB *kb, void *ud, KV j, KV mask) {
  SEl *s = ud;
  int W = s->W;
  KV iv = load_idx_vec(kb, s->it, s->idx, kb_add(kb, s->rowi, j), W, mask);
  iv = check_idx_vec(kb, iv, s->dim, W, mask);
  KV off = kb_add(kb, kb_mul(kb, iv, kb_int(kb, kt(KE_I64, W), s->sa)), kb_splat(kb, s->rowd, W));
  if (!s->inner_is_axis) off = kb_add(kb, off, mv_lane_idx(kb, j, 1, W));
  KElem e = kb_elem_of(s->t);
  KV u = gen_vload(kb, kt(e, W), kb_gep(kb, e, s->upd, kb_add(kb, s->rowi, j)), mask);
  if (s->red != RED_NONE) {
    KV o = mv_gather(kb, kt(e, W), s->out, off, mask);
    KElem ce = gen_compute_elem(s->t);
    if (s->t == DT_BOOL) {
      KV z = kb_int(kb, kt(KE_I8, W), 0);
      u = kb_cast(kb, apply_red(kb, s->red, s->t, kb_cmp(kb, KC_NE, o, z, false), kb_cmp(kb, KC_NE, u, z, false)),
                  kt(KE_I8, W), false, false);
    } else if (ce != e) {
      KV r = apply_red(kb, s->red, s->t, kb_cast(kb, o, kt(ce, W), false, false), kb_cast(kb, u, kt(ce, W), false, false));
      u = kb_cast(kb, r, kt(e, W), false, false);
    } else
      u = apply_red(kb, s->red, s->t, o, u);
  }
  mv_scatter(kb, u, s->out, off, mask);
}

int gen_scatter_elements(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ix = n->in[1];
  int red, axis, r = x->rank;
  if (reduction_of(c, &red)) return -1;
  if (ir_normalize_axis(c->g, n, ir_attr_int(n, "axis", 0), r, &axis)) return -1;
  int64_t xs[IR_MAX_RANK], total = ir_value_numel(ix);
  gen_strides(r, x->dims, xs);
  copy_all(c, x);
  if (total == 0) return 0;
  int64_t inner = ix->dims[r - 1], rows = total / inner;
  KV it = kb_for(kb, i64c(kb, 0), i64c(kb, rows), 1);
  KV rowd = i64c(kb, 0), rem = it;
  for (int d = r - 2; d >= 0; d--) {
    KV q = d > 0 ? kb_rem(kb, rem, i64c(kb, ix->dims[d]), true) : rem;
    if (d > 0) rem = kb_div(kb, rem, i64c(kb, ix->dims[d]), true);
    if (d != axis) rowd = kb_add(kb, rowd, kb_mul(kb, q, i64c(kb, xs[d])));
  }
  size_t es = dtype_size(x->dtype);
  SEl s = {x->dtype, ix->dtype, red, gen_lanes_cap(c, es, 16), kb_buf(kb, n->nin), kb_buf(kb, 1), kb_buf(kb, 2),
           rowd, kb_mul(kb, it, i64c(kb, inner)), x->dims[axis], xs[axis], axis == r - 1};
  if (s.inner_is_axis && red != RED_NONE) s.W = 1; /* duplicates within a row must accumulate */
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, inner), s.W, sel_body, &s);
  kb_endfor(kb);
  return 0;
}

/* ---- Trilu ---- */
typedef struct TriCtx {
  KElem ke;
  int W;
  bool upper;
  KV x, y, off, lim; /* keep j - i >= k (upper) / j - i <= k (lower): compare j with lim = i + k */
} TriCtx;

static void tri_body(KB *kb, void *ud, KV j, KV mask) {
  TriCtx *t = ud;
  KV v = gen_vload(kb, kt(t->ke, t->W), kb_gep(kb, t->ke, t->x, kb_add(kb, t->off, j)), mask);
  KV jv = mv_lane_idx(kb, j, 1, t->W), lim = kb_splat(kb, t->lim, t->W);
  KV keep = kb_cmp(kb, t->upper ? KC_GE : KC_LE, jv, lim, false);
  v = kb_select(kb, keep, v, kb_int(kb, kt(t->ke, t->W), 0));
  gen_vstore(kb, v, kb_gep(kb, t->ke, t->y, kb_add(kb, t->off, j)), mask);
}

int gen_trilu(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0];
  int r = x->rank;
  int64_t rows = ir_value_numel(x) / (x->dims[r - 1] ? x->dims[r - 1] : 1), cols = x->dims[r - 1];
  int64_t N = x->dims[r - 2];
  size_t es = dtype_size(x->dtype);
  if (ir_value_numel(x) == 0) return 0;
  KV k = i64c(kb, 0);
  if (n->nin > 1 && n->in[1]) {
    Value *kv = n->in[1];
    k = load_idx(kb, kv->dtype, kb_buf(kb, 1), i64c(kb, 0));
    /* j - i lies in [-(N-1), cols-1]: clamping k to [-N, cols] keeps the result, avoids overflow */
    k = kb_max(kb, kb_min(kb, k, i64c(kb, cols), false), i64c(kb, -N), false);
  }
  KV it = mv_par_for(c, rows, rows * cols * (int64_t)es);
  KV i = kb_rem(kb, it, i64c(kb, N), true);
  TriCtx t = {gen_raw_elem(es), gen_lanes_cap(c, es, 64), ir_attr_int(n, "upper", 1) != 0, kb_buf(kb, 0),
              kb_buf(kb, n->nin), kb_mul(kb, it, i64c(kb, cols)), kb_add(kb, i, k)};
  while (t.W > 2 && t.W / 2 >= cols) t.W /= 2;
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, cols), t.W, tri_body, &t);
  kb_endfor(kb);
  return 0;
}
