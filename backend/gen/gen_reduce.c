/* gen_reduce.c — code generation for the F_REDUCE family: Reduce*, ArgMax/ArgMin,
 * Softmax/LogSoftmax/Hardmax, CumSum; and the reduction engine (gen_reduce.h) that the pooling
 * and normalization generators share. */
#include <math.h>
#include <string.h>

#include "gen_reduce.h"

/* ================================ helpers ================================ */

KElem gr_ce(DType t, bool wide) {
  if (t == DT_FLOAT16 || t == DT_BFLOAT16 || t == DT_FLOAT) return KE_F32;
  if (t == DT_DOUBLE) return KE_F64;
  return wide ? KE_F64 : kb_elem_of(t);
}

static KV lane_index(KB *kb, KV idx, int W, int64_t stride) {
  KT t = kt(KE_I64, W);
  return kb_add(kb, kb_splat(kb, idx, W), kb_mul(kb, kb_iota(kb, t), kb_int(kb, t, stride)));
}

KV gr_load(KB *kb, DType t, KV base, KV idx, int W, int64_t stride, KV mask, KElem ce) {
  KV v;
  if (stride == 1 || W == 1) {
    v = gen_load_vec(kb, t, base, idx, W, W == 1 ? NULL : mask);
  } else {
    v = kb_gather(kb, kt(kb_elem_of(t), W), base, lane_index(kb, idx, W, stride), mask);
    if (t == DT_FLOAT16 || t == DT_BFLOAT16) v = kb_cast(kb, v, kt(KE_F32, W), false, false);
  }
  if (kb_type(kb, v).e != ce) v = kb_cast(kb, v, kt(ce, W), !dtype_is_signed(t), false);
  return v;
}

void gr_store(KB *kb, DType t, KV base, KV idx, KV val, int64_t stride, KV mask) {
  KT vt = kb_type(kb, val);
  KElem se = gen_compute_elem(t);
  if (vt.e != se) val = kb_cast(kb, val, kt(se, vt.lanes), false, !dtype_is_signed(t));
  if (stride == 1 || vt.lanes == 1) {
    gen_store_vec(kb, t, base, idx, val, vt.lanes == 1 ? NULL : mask);
    return;
  }
  KElem e = kb_elem_of(t);
  if (se != e) val = kb_cast(kb, val, kt(e, vt.lanes), false, false);
  kb_scatter(kb, val, base, lane_index(kb, idx, vt.lanes, stride), mask);
}

KV gr_par_for(GenCtx *c, int64_t items, int64_t cost) {
  KB *kb = c->kb;
  c->work = (items > 1 && cost >= GR_PAR_MIN) ? items : 1;
  if (c->work > 1) return kb_for(kb, kb_begin(kb), kb_end(kb), 1);
  return kb_for(kb, kb_i64(kb, 0), kb_i64(kb, items), 1);
}

int gr_lanes(GenCtx *c, size_t elem_bytes, int64_t n) {
  int W = gen_lanes_for(c, elem_bytes);
  if (W > 64) W = 64;
  while (W > 4 && W / 2 >= n) W /= 2;
  return W;
}

KV gr_ipow(KB *kb, KV x, int64_t p) {
  KV r = NULL, b = x;
  while (p > 0) {
    if (p & 1) r = r ? kb_mul(kb, r, b) : b;
    p >>= 1;
    if (p) b = kb_mul(kb, b, b);
  }
  return r ? r : x;
}

static int64_t int_min(KElem e) {
  switch (e) {
  case KE_I8: return INT8_MIN;
  case KE_I16: return INT16_MIN;
  case KE_I32: return INT32_MIN;
  default: return INT64_MIN;
  }
}

static int64_t int_max(KElem e) {
  switch (e) {
  case KE_I8: return INT8_MAX;
  case KE_I16: return INT16_MAX;
  case KE_I32: return INT32_MAX;
  default: return INT64_MAX;
  }
}

KV gr_ident(KB *kb, KT t, int ac, bool uns) {
  bool f = kb_is_float(t.e);
  switch (ac) {
  case GR_ADD: return f ? kb_float(kb, t, 0) : kb_int(kb, t, 0);
  case GR_MUL: return f ? kb_float(kb, t, 1) : kb_int(kb, t, 1);
  case GR_MAX: return f ? kb_float(kb, t, -INFINITY) : kb_int(kb, t, uns ? 0 : int_min(t.e));
  default: return f ? kb_float(kb, t, INFINITY) : kb_int(kb, t, uns ? -1 : int_max(t.e));
  }
}

KV gr_combine(KB *kb, int ac, KV a, KV b, bool uns) {
  switch (ac) {
  case GR_ADD: return kb_add(kb, a, b);
  case GR_MUL: return kb_mul(kb, a, b);
  case GR_MAX: return kb_max(kb, a, b, uns);
  default: return kb_min(kb, a, b, uns);
  }
}

KV gr_horiz(KB *kb, int ac, KV v, bool uns) {
  switch (ac) {
  case GR_ADD: return kb_reduce_add(kb, v);
  case GR_MUL: return kb_reduce_mul(kb, v);
  case GR_MAX: return kb_reduce_max(kb, v, uns);
  default: return kb_reduce_min(kb, v, uns);
  }
}

/* ================================ the engine ================================ */

void gr_geom(int rank, const int64_t *dims, const bool *red, GrGeom *g) {
  int64_t st[IR_MAX_RANK];
  gen_strides(rank, dims, st);
  memset(g, 0, sizeof *g);
  g->nout = g->rtot = 1;
  int last = -1;
  for (int d = 0; d < rank; d++) {
    int r = red[d] ? 1 : 0;
    if (r) g->rtot *= dims[d];
    else g->nout *= dims[d];
    if (dims[d] == 1) continue;
    if (last == r) {
      if (r) g->rsz[g->nr - 1] *= dims[d], g->rst[g->nr - 1] = st[d];
      else g->ksz[g->nk - 1] *= dims[d], g->kst[g->nk - 1] = st[d];
    } else if (r) {
      g->rsz[g->nr] = dims[d], g->rst[g->nr] = st[d], g->nr++;
    } else {
      g->ksz[g->nk] = dims[d], g->kst[g->nk] = st[d], g->nk++;
    }
    last = r;
  }
  if (g->nk == 0 && g->nr == 0) {
    g->ksz[0] = 1, g->kst[0] = 1, g->nk = 1;
    last = 0;
  }
  g->last_red = last == 1;
}

/* offset of flat index o over groups (sizes, strides), row-major */
static KV decompose(KB *kb, KV o, int ng, const int64_t *size, const int64_t *stride) {
  KV off = kb_i64(kb, 0), rem = o;
  for (int d = ng - 1; d >= 0; d--) {
    KV idx = d > 0 ? kb_rem(kb, rem, kb_i64(kb, size[d]), true) : rem;
    if (d > 0) rem = kb_div(kb, rem, kb_i64(kb, size[d]), true);
    off = kb_add(kb, off, kb_mul(kb, idx, kb_i64(kb, stride[d])));
  }
  return off;
}

typedef struct Run {
  const GrGeom *g;
  const GrOps *ops;
  void *ud;
} Run;

/* open loops over the first ng reduced groups; *off and *rpos advance with them */
static void open_nest(KB *kb, const GrGeom *g, int ng, KV *off, KV *rpos) {
  for (int k = 0; k < ng; k++) {
    int64_t rmul = 1;
    for (int j = k + 1; j < g->nr; j++) rmul *= g->rsz[j];
    KV i = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, g->rsz[k]), 1);
    *off = kb_add(kb, *off, kb_mul(kb, i, kb_i64(kb, g->rst[k])));
    *rpos = kb_add(kb, *rpos, kb_mul(kb, i, kb_i64(kb, rmul)));
  }
}

static void close_nest(KB *kb, int ng) {
  for (int k = 0; k < ng; k++) kb_endfor(kb);
}

static void run_item(KB *kb, Run *r, GrNest *ns) {
  const GrGeom *g = r->g;
  const GrOps *ops = r->ops;
  if (ops->begin) ops->begin(kb, ns, r->ud);
  for (int pass = 0; pass < ops->npasses; pass++) {
    if (ops->pass_begin) ops->pass_begin(kb, ns, pass, r->ud);
    KV off = ns->base, rpos = kb_i64(kb, 0);
    if (ns->mode == GR_P1) {
      open_nest(kb, g, g->nr, &off, &rpos);
      for (int u = 0; u < ns->nvec; u++)
        ops->visit(kb, ns, pass, u, kb_add(kb, off, kb_i64(kb, (int64_t)u * ns->W * ns->lstride)), rpos, ns->mask[u], r->ud);
      close_nest(kb, g->nr);
    } else {
      open_nest(kb, g, g->nr - 1, &off, &rpos);
      int W = ns->W, U = ns->nvec;
      int64_t rl = g->rsz[g->nr - 1];
      KV hi = kb_add(kb, off, kb_i64(kb, rl));
      KVar iv = kb_var(kb, kt_s(KE_I64), off);
      if (U > 1 && rl >= (int64_t)U * W) {
        KV i = kb_for(kb, off, kb_sub(kb, hi, kb_i64(kb, (int64_t)U * W - 1)), (int64_t)U * W);
        for (int u = 0; u < U; u++) {
          KV iu = kb_add(kb, i, kb_i64(kb, (int64_t)u * W));
          ops->visit(kb, ns, pass, u, iu, kb_add(kb, rpos, kb_sub(kb, iu, off)), NULL, r->ud);
        }
        kb_set(kb, iv, kb_add(kb, i, kb_i64(kb, (int64_t)U * W)));
        kb_endfor(kb);
      }
      if (rl >= W) {
        KV i = kb_for(kb, kb_get(kb, iv), kb_sub(kb, hi, kb_i64(kb, W - 1)), W);
        ops->visit(kb, ns, pass, 0, i, kb_add(kb, rpos, kb_sub(kb, i, off)), NULL, r->ud);
        kb_set(kb, iv, kb_add(kb, i, kb_i64(kb, W)));
        kb_endfor(kb);
      }
      if (rl % W) {
        KV it = kb_get(kb, iv);
        kb_if(kb, kb_cmp(kb, KC_LT, it, hi, false));
        KV mask = kb_tail_mask(kb, W, kb_sub(kb, hi, it));
        ops->visit(kb, ns, pass, 0, it, kb_add(kb, rpos, kb_sub(kb, it, off)), mask, r->ud);
        kb_endif(kb);
      }
      close_nest(kb, g->nr - 1);
    }
    if (ops->pass_end) ops->pass_end(kb, ns, pass, r->ud);
  }
  if (ops->end) ops->end(kb, ns, r->ud);
}

void gr_run(GenCtx *c, const GrGeom *g, const GrOps *ops, void *ud, size_t elem_bytes, int U) {
  KB *kb = c->kb;
  if (g->nout <= 0) return;
  if (U > GR_MAX_U) U = GR_MAX_U;
  if (U < 1) U = 1;
  Run r = {g, ops, ud};
  GrNest ns;
  memset(&ns, 0, sizeof ns);
  int Wn = gr_lanes(c, elem_bytes, 1 << 30);
  int64_t cost = g->nout * (g->rtot > 0 ? g->rtot : 1) * ops->npasses;
  int64_t kl = g->nk ? g->ksz[g->nk - 1] : 1, rl = g->nr ? g->rsz[g->nr - 1] : 1;
  bool p1 = !g->last_red || (g->nk > 0 && kl >= 4 && rl * 2 < Wn);
  if (p1) {
    int W = gr_lanes(c, elem_bytes, kl);
    int64_t nv = (kl + W - 1) / W, nother = g->nout / kl;
    if (nv > U) nv = U;
    /* big nests with few items: narrower blocks, so that threads have work */
    while (nv > 2 && cost >= 4 * GR_PAR_MIN && nother * ((kl + nv * W - 1) / (nv * W)) < 64) nv /= 2;
    int64_t B = nv * W, nblk = (kl + B - 1) / B;
    ns.mode = GR_P1;
    ns.W = W;
    ns.nvec = (int)nv;
    ns.lstride = g->kst[g->nk - 1];
    KV it = gr_par_for(c, nother * nblk, cost);
    KV other = nblk > 1 ? kb_div(kb, it, kb_i64(kb, nblk), true) : it;
    KV j0 = nblk > 1 ? kb_mul(kb, kb_rem(kb, it, kb_i64(kb, nblk), true), kb_i64(kb, B)) : kb_i64(kb, 0);
    ns.base = kb_add(kb, decompose(kb, other, g->nk - 1, g->ksz, g->kst), kb_mul(kb, j0, kb_i64(kb, ns.lstride)));
    ns.o = kb_add(kb, kb_mul(kb, other, kb_i64(kb, kl)), j0);
    if (kl % B == 0) {
      run_item(kb, &r, &ns);
    } else {
      KV rem = kb_sub(kb, kb_i64(kb, kl), j0);
      if (nblk > 1) {
        kb_if(kb, kb_cmp(kb, KC_GE, rem, kb_i64(kb, B), false));
        run_item(kb, &r, &ns);
        kb_else(kb);
      }
      for (int u = 0; u < ns.nvec; u++) ns.mask[u] = kb_tail_mask(kb, W, kb_sub(kb, rem, kb_i64(kb, (int64_t)u * W)));
      run_item(kb, &r, &ns);
      if (nblk > 1) kb_endif(kb);
    }
    kb_endfor(kb);
  } else {
    int W = gr_lanes(c, elem_bytes, rl);
    int64_t nv = rl / W;
    if (nv > U) nv = U;
    if (nv < 1) nv = 1;
    ns.mode = GR_P2;
    ns.W = W;
    ns.nvec = (int)nv;
    ns.lstride = 1;
    KV it = gr_par_for(c, g->nout, cost);
    ns.base = decompose(kb, it, g->nk, g->ksz, g->kst);
    ns.o = it;
    run_item(kb, &r, &ns);
    kb_endfor(kb);
  }
}

/* ================================ Reduce* ================================ */

typedef struct Red {
  GrKind kind;
  int64_t p;
  bool uns;
  KElem ce;
  DType xt, yt;
  KV x, y;
  int64_t rtot;
  KVar acc[GR_MAX_U];
  KV res[GR_MAX_U];
  KV m[GR_MAX_U];   /* LogSumExp: the max (pass 0) */
} Red;

static int red_ac(GrKind k) {
  switch (k) {
  case GR_K_MAX: return GR_MAX;
  case GR_K_MIN: return GR_MIN;
  case GR_K_PROD: return GR_MUL;
  default: return GR_ADD;
  }
}

static int red_npasses(const Red *r) { return r->kind == GR_K_LOGSUMEXP ? 2 : 1; }
static int pass_ac(const Red *r, int pass) { return r->kind == GR_K_LOGSUMEXP && pass == 0 ? GR_MAX : red_ac(r->kind); }

static void red_pass_begin(KB *kb, GrNest *n, int pass, void *ud) {
  Red *r = ud;
  for (int u = 0; u < n->nvec; u++) r->acc[u] = kb_var(kb, kt(r->ce, n->W), gr_ident(kb, kt(r->ce, n->W), pass_ac(r, pass), r->uns));
}

static KV red_transform(KB *kb, Red *r, int pass, int u, KV v) {
  switch (r->kind) {
  case GR_K_L1: return r->uns ? v : kb_abs(kb, v);
  case GR_K_L2:
  case GR_K_SUMSQ: return kb_mul(kb, v, v);
  case GR_K_LOGSUMEXP: return pass == 0 ? v : kb_exp(kb, kb_sub(kb, v, r->m[u]));
  case GR_K_LP: return gr_ipow(kb, kb_abs(kb, v), r->p);
  default: return v;
  }
}

static void red_visit(KB *kb, GrNest *n, int pass, int u, KV off, KV rpos, KV mask, void *ud) {
  Red *r = ud;
  int ac = pass_ac(r, pass);
  KV v = gr_load(kb, r->xt, r->x, off, n->W, n->lstride, mask, r->ce);
  v = red_transform(kb, r, pass, u, v);
  if (mask && n->mode == GR_P2) v = kb_select(kb, mask, v, gr_ident(kb, kt(r->ce, n->W), ac, r->uns));
  kb_set(kb, r->acc[u], gr_combine(kb, ac, kb_get(kb, r->acc[u]), v, r->uns));
}

static void red_pass_end(KB *kb, GrNest *n, int pass, void *ud) {
  Red *r = ud;
  int ac = pass_ac(r, pass);
  if (n->mode == GR_P1) {
    for (int u = 0; u < n->nvec; u++) r->res[u] = kb_get(kb, r->acc[u]);
  } else {
    KV v = kb_get(kb, r->acc[0]);
    for (int u = 1; u < n->nvec; u++) v = gr_combine(kb, ac, v, kb_get(kb, r->acc[u]), r->uns);
    KV s = gr_horiz(kb, ac, v, r->uns);
    for (int u = 0; u < n->nvec; u++) r->res[u] = s;
  }
  if (r->kind == GR_K_LOGSUMEXP && pass == 0) {
    /* a non-finite max (all -inf, or +inf present) would give inf - inf: shift by 0 instead */
    for (int u = 0; u < n->nvec; u++) {
      KV mx = r->res[u];
      KT t = kb_type(kb, mx);
      KV fin = kb_cmp(kb, KC_LT, kb_abs(kb, mx), kb_float(kb, t, INFINITY), false);
      r->res[u] = kb_select(kb, fin, mx, kb_float(kb, t, 0));
      r->m[u] = n->mode == GR_P1 ? r->res[u] : kb_splat(kb, r->res[u], n->W);
    }
  }
}

static KV red_finalize(KB *kb, Red *r, int u, KV s) {
  KT t = kb_type(kb, s);
  bool f = kb_is_float(t.e);
  switch (r->kind) {
  case GR_K_MEAN:
    if (f) return kb_div(kb, s, kb_float(kb, t, (double)r->rtot), false);
    return kb_div(kb, s, kb_int(kb, t, r->rtot > 0 ? r->rtot : 1), r->uns);
  case GR_K_L2: return kb_sqrt(kb, s);
  case GR_K_LOGSUM: return kb_log(kb, s);
  case GR_K_LOGSUMEXP: {
    KV m = r->m[u];
    if (t.lanes == 1 && kb_type(kb, m).lanes > 1) m = kb_extract(kb, m, 0);
    return kb_add(kb, m, kb_log(kb, s));
  }
  case GR_K_LP:
    if (r->p == 1) return s;
    if (r->p == 2) return kb_sqrt(kb, s);
    return kb_pow(kb, s, kb_float(kb, t, 1.0 / (double)r->p));
  default: return s;
  }
}

static void red_end(KB *kb, GrNest *n, void *ud) {
  Red *r = ud;
  if (n->mode == GR_P1) {
    for (int u = 0; u < n->nvec; u++)
      gr_store(kb, r->yt, r->y, kb_add(kb, n->o, kb_i64(kb, (int64_t)u * n->W)), red_finalize(kb, r, u, r->res[u]), 1,
               n->mask[u]);
  } else {
    gr_store(kb, r->yt, r->y, n->o, red_finalize(kb, r, 0, r->res[0]), 1, NULL);
  }
}

void gr_reduce(GenCtx *c, GrKind kind, int64_t p, KV x, DType xt, KV y, DType yt, int rank, const int64_t *dims,
               const bool *red) {
  if (kind == GR_K_LP && p == 1) kind = GR_K_L1;
  if (kind == GR_K_LP && p == 2) kind = GR_K_L2;
  Red r;
  memset(&r, 0, sizeof r);
  r.kind = kind;
  r.p = p;
  r.xt = xt;
  r.yt = yt;
  r.x = x;
  r.y = y;
  r.uns = !dtype_is_signed(xt);
  bool wide = kind == GR_K_L2 || kind == GR_K_LOGSUM || kind == GR_K_LOGSUMEXP || kind == GR_K_LP;
  r.ce = gr_ce(xt, wide);
  if (kb_is_float(r.ce)) r.uns = false;
  GrGeom g;
  gr_geom(rank, dims, red, &g);
  r.rtot = g.rtot;
  GrOps ops = {red_npasses(&r), NULL, red_pass_begin, red_visit, red_pass_end, red_end};
  gr_run(c, &g, &ops, &r, kb_elem_size(r.ce), 4);
}

static int gen_reduce_op(GenCtx *c) {
  Graph *g = c->g;
  Node *n = c->n;
  Value *x = n->in[0], *ax = n->nin > 1 ? n->in[1] : NULL, *y = n->out[0];
  const int64_t *attr_axes = NULL;
  int na = 0;
  if (ax) {
    if (ax->kind != VK_CONST) return ir_node_error(g, n, "axes (input 1) must be a constant");
    na = (int)ir_value_numel(ax);
  } else {
    na = ir_attr_ints(n, "axes", &attr_axes);
    if (na < 0) na = 0;
  }
  bool red[IR_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) {
    int a;
    if (ir_normalize_axis(g, n, ax ? ir_const_i64(ax, i) : attr_axes[i], x->rank, &a)) return -1;
    red[a] = true;
  }
  if (na == 0 && !ir_attr_int(n, "noop_with_empty_axes", 0))
    for (int i = 0; i < x->rank; i++) red[i] = true;
  /* with noop_with_empty_axes nothing is reduced: each element is its own one-element reduction */
  GrKind k;
  switch (n->op) {
  case OP_ReduceSum: k = GR_K_SUM; break;
  case OP_ReduceMean: k = GR_K_MEAN; break;
  case OP_ReduceMax: k = GR_K_MAX; break;
  case OP_ReduceMin: k = GR_K_MIN; break;
  case OP_ReduceProd: k = GR_K_PROD; break;
  case OP_ReduceL1: k = GR_K_L1; break;
  case OP_ReduceL2: k = GR_K_L2; break;
  case OP_ReduceLogSum: k = GR_K_LOGSUM; break;
  case OP_ReduceLogSumExp: k = GR_K_LOGSUMEXP; break;
  default: k = GR_K_SUMSQ; break;
  }
  if (ax) c->const_unused |= 2u;
  gr_reduce(c, k, 0, kb_buf(c->kb, 0), x->dtype, kb_buf(c->kb, n->nin), y->dtype, x->rank, x->dims, red);
  return 0;
}

/* ================================ ArgMax / ArgMin / Hardmax ================================ */

typedef struct Arg {
  bool is_max, last, uns;
  KElem ce;
  DType xt, yt;
  KV x, y;
  int pass_arg;        /* the pass computing the arg */
  KVar best[GR_MAX_U], idx[GR_MAX_U];
  KV res[GR_MAX_U];    /* P1: i64 index vectors; P2: the scalar index */
  Red *sm;             /* Softmax family: the rest of the state */
} Arg;

static void arg_init(KB *kb, GrNest *n, Arg *a) {
  int W = n->W;
  for (int u = 0; u < n->nvec; u++) {
    KV b;
    if (n->mode == GR_P1)
      b = gr_load(kb, a->xt, a->x, kb_add(kb, n->base, kb_i64(kb, (int64_t)u * W * n->lstride)), W, n->lstride,
                  n->mask[u], a->ce);
    else b = kb_splat(kb, gr_load(kb, a->xt, a->x, n->base, 1, 1, NULL, a->ce), W);
    a->best[u] = kb_var(kb, kt(a->ce, W), b);
    a->idx[u] = kb_var(kb, kt(KE_I64, W), kb_int(kb, kt(KE_I64, W), 0));
  }
}

static void arg_visit(KB *kb, GrNest *n, int u, KV off, KV rpos, KV mask, Arg *a) {
  int W = n->W;
  KV v = gr_load(kb, a->xt, a->x, off, W, n->lstride, mask, a->ce);
  KV b = kb_get(kb, a->best[u]);
  KCmp cc = a->is_max ? (a->last ? KC_GE : KC_GT) : (a->last ? KC_LE : KC_LT);
  KV c = kb_cmp(kb, cc, v, b, a->uns);
  if (mask && n->mode == GR_P2) c = kb_and(kb, c, mask);
  KV pos = kb_splat(kb, rpos, W);
  if (n->mode == GR_P2) pos = kb_add(kb, pos, kb_iota(kb, kt(KE_I64, W)));
  kb_set(kb, a->best[u], kb_select(kb, c, v, b));
  kb_set(kb, a->idx[u], kb_select(kb, c, pos, kb_get(kb, a->idx[u])));
}

static void arg_finish(KB *kb, GrNest *n, Arg *a) {
  if (n->mode == GR_P1) {
    for (int u = 0; u < n->nvec; u++) a->res[u] = kb_get(kb, a->idx[u]);
    return;
  }
  /* P2: per-lane winners → the best value, then the first (last) index holding it */
  int ac = a->is_max ? GR_MAX : GR_MIN;
  KV v = kb_get(kb, a->best[0]);
  for (int u = 1; u < n->nvec; u++) v = gr_combine(kb, ac, v, kb_get(kb, a->best[u]), a->uns);
  KV bv = kb_splat(kb, gr_horiz(kb, ac, v, a->uns), n->W);
  KT it = kt(KE_I64, n->W);
  KV sent = kb_int(kb, it, a->last ? -1 : INT64_MAX), cand = NULL;
  for (int u = 0; u < n->nvec; u++) {
    KV eq = kb_cmp(kb, KC_EQ, kb_get(kb, a->best[u]), bv, a->uns);
    KV ci = kb_select(kb, eq, kb_get(kb, a->idx[u]), sent);
    cand = cand ? (a->last ? kb_max(kb, cand, ci, false) : kb_min(kb, cand, ci, false)) : ci;
  }
  KV r = a->last ? kb_reduce_max(kb, cand, false) : kb_reduce_min(kb, cand, false);
  for (int u = 0; u < n->nvec; u++) a->res[u] = r;
}

static void argop_begin(KB *kb, GrNest *n, void *ud) { arg_init(kb, n, ud); }
static void argop_visit(KB *kb, GrNest *n, int pass, int u, KV off, KV rpos, KV mask, void *ud) {
  arg_visit(kb, n, u, off, rpos, mask, ud);
}
static void argop_end(KB *kb, GrNest *n, void *ud) {
  Arg *a = ud;
  arg_finish(kb, n, a);
  if (n->mode == GR_P1) {
    for (int u = 0; u < n->nvec; u++)
      gr_store(kb, a->yt, a->y, kb_add(kb, n->o, kb_i64(kb, (int64_t)u * n->W)), a->res[u], 1, n->mask[u]);
  } else {
    gr_store(kb, a->yt, a->y, n->o, a->res[0], 1, NULL);
  }
}

/* [outer, R, inner] view of x around one axis */
static void view3(const Value *x, int axis, int64_t *d3) {
  d3[0] = d3[1] = d3[2] = 1;
  for (int i = 0; i < x->rank; i++) d3[i < axis ? 0 : i == axis ? 1 : 2] *= x->dims[i];
}

static int gen_arg(GenCtx *c) {
  Graph *g = c->g;
  Node *n = c->n;
  Value *x = n->in[0];
  int axis;
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
  if (ir_value_numel(x) == 0) return 0;
  Arg a;
  memset(&a, 0, sizeof a);
  a.is_max = n->op == OP_ArgMax;
  a.last = ir_attr_int(n, "select_last_index", 0) != 0;
  a.xt = x->dtype;
  a.yt = n->out[0]->dtype;
  a.x = kb_buf(c->kb, 0);
  a.y = kb_buf(c->kb, 1);
  a.ce = gr_ce(x->dtype, false);
  a.uns = !kb_is_float(a.ce) && !dtype_is_signed(x->dtype);
  int64_t d3[3];
  view3(x, axis, d3);
  bool red[3] = {false, true, false};
  GrGeom geo;
  gr_geom(3, d3, red, &geo);
  GrOps ops = {1, argop_begin, NULL, argop_visit, NULL, argop_end};
  size_t es = kb_elem_size(a.ce);
  gr_run(c, &geo, &ops, &a, es < 4 ? 4 : es, 2);
  return 0;
}

/* ================================ Softmax family ================================ */

typedef struct Sm {
  Op op;
  KElem ce;
  DType xt, yt;
  KV x, y;
  bool keep_e;      /* Softmax: pass 1 stores exp(x - max) into y (when y holds it exactly) */
  KVar acc[GR_MAX_U];
  KV m[GR_MAX_U], k[GR_MAX_U]; /* per vector: the max; 1/sum (Softmax) or log(sum) (LogSoftmax) */
  Arg arg;          /* Hardmax */
} Sm;

static void sm_begin(KB *kb, GrNest *n, void *ud) {
  Sm *s = ud;
  if (s->op == OP_Hardmax) arg_init(kb, n, &s->arg);
}

static void sm_pass_begin(KB *kb, GrNest *n, int pass, void *ud) {
  Sm *s = ud;
  if (s->op == OP_Hardmax || pass == 2) return;
  KT t = kt(s->ce, n->W);
  for (int u = 0; u < n->nvec; u++) s->acc[u] = kb_var(kb, t, gr_ident(kb, t, pass == 0 ? GR_MAX : GR_ADD, false));
}

static void sm_visit(KB *kb, GrNest *n, int pass, int u, KV off, KV rpos, KV mask, void *ud) {
  Sm *s = ud;
  int W = n->W;
  KT t = kt(s->ce, W);
  if (s->op == OP_Hardmax) {
    if (pass == 0) {
      arg_visit(kb, n, u, off, rpos, mask, &s->arg);
      return;
    }
    KV pos = kb_splat(kb, rpos, W);
    if (n->mode == GR_P2) pos = kb_add(kb, pos, kb_iota(kb, kt(KE_I64, W)));
    KV one = kb_select(kb, kb_cmp(kb, KC_EQ, pos, s->arg.res[u], false), kb_float(kb, t, 1), kb_float(kb, t, 0));
    gr_store(kb, s->yt, s->y, off, one, n->lstride, mask);
    return;
  }
  bool p2mask = mask && n->mode == GR_P2;
  if (pass == 0) {
    KV v = gr_load(kb, s->xt, s->x, off, W, n->lstride, mask, s->ce);
    if (p2mask) v = kb_select(kb, mask, v, kb_float(kb, t, -INFINITY));
    kb_set(kb, s->acc[u], kb_max(kb, kb_get(kb, s->acc[u]), v, false));
  } else if (pass == 1) {
    KV v = gr_load(kb, s->xt, s->x, off, W, n->lstride, mask, s->ce);
    KV e = kb_exp(kb, kb_sub(kb, v, s->m[u]));
    if (s->keep_e) gr_store(kb, s->yt, s->y, off, e, n->lstride, mask);
    if (p2mask) e = kb_select(kb, mask, e, kb_float(kb, t, 0));
    kb_set(kb, s->acc[u], kb_add(kb, kb_get(kb, s->acc[u]), e));
  } else if (s->op == OP_Softmax) {
    KV e = s->keep_e ? gr_load(kb, s->yt, s->y, off, W, n->lstride, mask, s->ce)
                     : kb_exp(kb, kb_sub(kb, gr_load(kb, s->xt, s->x, off, W, n->lstride, mask, s->ce), s->m[u]));
    gr_store(kb, s->yt, s->y, off, kb_mul(kb, e, s->k[u]), n->lstride, mask);
  } else {
    KV v = gr_load(kb, s->xt, s->x, off, W, n->lstride, mask, s->ce);
    gr_store(kb, s->yt, s->y, off, kb_sub(kb, kb_sub(kb, v, s->m[u]), s->k[u]), n->lstride, mask);
  }
}

static void sm_pass_end(KB *kb, GrNest *n, int pass, void *ud) {
  Sm *s = ud;
  if (s->op == OP_Hardmax) {
    if (pass == 0) {
      arg_finish(kb, n, &s->arg);
      if (n->mode == GR_P2)
        for (int u = 0; u < n->nvec; u++) s->arg.res[u] = kb_splat(kb, s->arg.res[u], n->W);
    }
    return;
  }
  if (pass == 2) return;
  int ac = pass == 0 ? GR_MAX : GR_ADD;
  KV r[GR_MAX_U];
  if (n->mode == GR_P1) {
    for (int u = 0; u < n->nvec; u++) r[u] = kb_get(kb, s->acc[u]);
  } else {
    KV v = kb_get(kb, s->acc[0]);
    for (int u = 1; u < n->nvec; u++) v = gr_combine(kb, ac, v, kb_get(kb, s->acc[u]), false);
    KV h = kb_splat(kb, gr_horiz(kb, ac, v, false), n->W);
    for (int u = 0; u < n->nvec; u++) r[u] = h;
  }
  for (int u = 0; u < n->nvec; u++) {
    KT t = kb_type(kb, r[u]);
    if (pass == 0) s->m[u] = r[u];
    else if (s->op == OP_Softmax) s->k[u] = kb_div(kb, kb_float(kb, t, 1), r[u], false);
    else s->k[u] = kb_log(kb, r[u]);
  }
}

static int gen_softmax(GenCtx *c) {
  Graph *g = c->g;
  Node *n = c->n;
  Value *x = n->in[0];
  int64_t opset = g->opset > 0 ? g->opset : 18;
  int axis;
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", opset >= 13 ? -1 : 1), x->rank, &axis)) return -1;
  if (ir_value_numel(x) == 0) return 0;
  int64_t d3[3];
  view3(x, axis, d3);
  if (opset < 13) { /* coerced to 2-D: [prod(dims[:axis]), prod(dims[axis:])] */
    d3[1] *= d3[2];
    d3[2] = 1;
  }
  Sm s;
  memset(&s, 0, sizeof s);
  s.op = n->op;
  s.xt = x->dtype;
  s.yt = n->out[0]->dtype;
  s.x = kb_buf(c->kb, 0);
  s.y = kb_buf(c->kb, 1);
  s.ce = gr_ce(x->dtype, false);
  s.keep_e = s.op == OP_Softmax && (s.yt == DT_FLOAT || s.yt == DT_DOUBLE);
  s.arg.is_max = true;
  s.arg.xt = s.xt;
  s.arg.x = s.x;
  s.arg.ce = s.ce;
  bool red[3] = {false, true, false};
  GrGeom geo;
  gr_geom(3, d3, red, &geo);
  GrOps ops = {s.op == OP_Hardmax ? 2 : 3, sm_begin, sm_pass_begin, sm_visit, sm_pass_end, NULL};
  gr_run(c, &geo, &ops, &s, kb_elem_size(s.ce), 4);
  return 0;
}

/* ================================ CumSum ================================ */

/* in-register inclusive scan of a vector (forward: prefix, reverse: suffix) */
static KV vec_scan(KB *kb, KV v, bool reverse) {
  KT t = kb_type(kb, v);
  int W = t.lanes, lanes[64];
  KV zero = kb_is_float(t.e) ? kb_float(kb, t, 0) : kb_int(kb, t, 0);
  for (int k = 1; k < W; k *= 2) {
    for (int i = 0; i < W; i++)
      lanes[i] = reverse ? (i + k < W ? i + k : W) : (i >= k ? i - k : W);
    v = kb_add(kb, v, kb_shuffle(kb, v, zero, lanes, W));
  }
  return v;
}

/* shift by one lane toward the end (forward) or start (reverse), filling with fill */
static KV vec_shift1(KB *kb, KV v, KV fill, bool reverse) {
  int W = kb_type(kb, v).lanes, lanes[64];
  for (int i = 0; i < W; i++) lanes[i] = reverse ? (i + 1 < W ? i + 1 : W) : (i >= 1 ? i - 1 : W);
  return kb_shuffle(kb, v, fill, lanes, W);
}

static int gen_cumsum(GenCtx *c) {
  Graph *g = c->g;
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ax = n->in[1];
  if (ax->kind != VK_CONST) return ir_node_error(g, n, "axis (input 1) must be a constant");
  int axis;
  if (ir_normalize_axis(g, n, ir_const_i64(ax, 0), x->rank, &axis)) return -1;
  c->const_unused |= 2u;
  if (ir_value_numel(x) == 0) return 0;
  bool excl = ir_attr_int(n, "exclusive", 0) != 0, rev = ir_attr_int(n, "reverse", 0) != 0;
  int64_t d3[3];
  view3(x, axis, d3);
  int64_t outer = d3[0], R = d3[1], inner = d3[2];
  DType t = x->dtype;
  KElem ce = gr_ce(t, false);
  KV X = kb_buf(kb, 0), Y = kb_buf(kb, 2);
  int64_t numel = outer * R * inner;
  if (inner > 1) {
    /* lanes over inner; a running vector per block walks along R */
    int W = gr_lanes(c, kb_elem_size(ce), inner);
    int64_t nv = (inner + W - 1) / W;
    if (nv > 4) nv = 4;
    int64_t B = nv * W, nblk = (inner + B - 1) / B;
    KV it = gr_par_for(c, outer * nblk, numel);
    KV o = kb_div(kb, it, kb_i64(kb, nblk), true);
    KV j0 = kb_mul(kb, kb_rem(kb, it, kb_i64(kb, nblk), true), kb_i64(kb, B));
    KV base = kb_add(kb, kb_mul(kb, o, kb_i64(kb, R * inner)), j0);
    KV rem = kb_sub(kb, kb_i64(kb, inner), j0);
    KV masks[4];
    KVar run[4];
    KT vt = kt(ce, W);
    for (int u = 0; u < nv; u++) {
      masks[u] = inner % B ? kb_tail_mask(kb, W, kb_sub(kb, rem, kb_i64(kb, (int64_t)u * W))) : NULL;
      run[u] = kb_var(kb, vt, kb_is_float(ce) ? kb_float(kb, vt, 0) : kb_int(kb, vt, 0));
    }
    KV r = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, R), 1);
    KV rr = rev ? kb_sub(kb, kb_i64(kb, R - 1), r) : r;
    KV off = kb_add(kb, base, kb_mul(kb, rr, kb_i64(kb, inner)));
    for (int u = 0; u < nv; u++) {
      KV ou = kb_add(kb, off, kb_i64(kb, (int64_t)u * W));
      KV v = gr_load(kb, t, X, ou, W, 1, masks[u], ce);
      KV s = kb_add(kb, kb_get(kb, run[u]), v);
      gr_store(kb, t, Y, ou, excl ? kb_get(kb, run[u]) : s, 1, masks[u]);
      kb_set(kb, run[u], s);
    }
    kb_endfor(kb);
    kb_endfor(kb);
    return 0;
  }
  /* inner == 1: scan along contiguous rows, W lanes at a time with an in-register scan */
  int W = gr_lanes(c, kb_elem_size(ce), R);
  KV zs = kb_is_float(ce) ? kb_float(kb, kt_s(ce), 0) : kb_int(kb, kt_s(ce), 0);
  int64_t nfull = R / W, tail = R % W;
  KV it = gr_par_for(c, outer, numel);
  KV base = kb_mul(kb, it, kb_i64(kb, R));
  KVar carry = kb_var(kb, kt_s(ce), zs);
  if (nfull > 0) {
    KV b = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, nfull), 1);
    KV pos = rev ? kb_sub(kb, kb_i64(kb, R - W), kb_mul(kb, b, kb_i64(kb, W))) : kb_mul(kb, b, kb_i64(kb, W));
    KV off = kb_add(kb, base, pos);
    KV cs = kb_get(kb, carry);
    KV inc = kb_add(kb, vec_scan(kb, gr_load(kb, t, X, off, W, 1, NULL, ce), rev), kb_splat(kb, cs, W));
    gr_store(kb, t, Y, off, excl ? vec_shift1(kb, inc, kb_splat(kb, cs, W), rev) : inc, 1, NULL);
    kb_set(kb, carry, kb_extract(kb, inc, rev ? 0 : W - 1));
    kb_endfor(kb);
  }
  if (tail) {
    KV off = rev ? base : kb_add(kb, base, kb_i64(kb, nfull * W));
    KV mask = kb_tail_mask(kb, W, kb_i64(kb, tail));
    KV cs = kb_splat(kb, kb_get(kb, carry), W);
    KV inc = kb_add(kb, vec_scan(kb, gr_load(kb, t, X, off, W, 1, mask, ce), rev), cs);
    gr_store(kb, t, Y, off, excl ? vec_shift1(kb, inc, cs, rev) : inc, 1, mask);
  }
  kb_endfor(kb);
  return 0;
}

/* ================================ dispatch ================================ */

int gen_reduce(GenCtx *c) {
  if (ir_op_is_reduce(c->n->op)) return gen_reduce_op(c);
  switch (c->n->op) {
  case OP_ArgMax:
  case OP_ArgMin: return gen_arg(c);
  case OP_Softmax:
  case OP_LogSoftmax:
  case OP_Hardmax: return gen_softmax(c);
  case OP_CumSum: return gen_cumsum(c);
  default: return ir_node_error(c->g, c->n, "not a reduction op");
  }
}
