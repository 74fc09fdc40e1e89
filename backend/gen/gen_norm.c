/* gen_norm.c — code generation for the F_NORM family: BatchNormalization (inference),
 * InstanceNormalization, LayerNormalization, LpNormalization, MeanVarianceNormalization, LRN.
 *
 * BatchNormalization is elementwise (per-channel a·x + b, folded at compile time when the
 * parameters are constants).  The statistics-based ones run on the reduction engine
 * (gen_reduce.h): per group, a mean pass, a variance pass (two-pass, for accuracy) or a norm
 * pass, then a pass writing y over the same positions.  LRN vectorizes over the spatial dims. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_contract.h"
#include "gen_reduce.h"

/* ================================ BatchNormalization ================================ */

typedef struct Bn {
  KElem ce;
  double eps;
  const Epilogue *epi; /* activations fused after the BN (passes/fuse.c), or NULL */
} Bn;

static KV to_ce(KB *kb, KV v, KElem ce) {
  KT t = kb_type(kb, v);
  return t.e == ce ? v : kb_cast(kb, v, kt(ce, t.lanes), false, false);
}

static KV f_bn_folded(KB *kb, KV *v, int lanes, void *ud) {
  Bn *b = ud;
  return gen_epi_apply(kb, b->epi, kb_fma(kb, v[0], to_ce(kb, v[1], b->ce), to_ce(kb, v[2], b->ce)), NULL);
}

static KV f_bn(KB *kb, KV *v, int lanes, void *ud) {
  Bn *b = ud;
  KT t = kt(b->ce, lanes);
  KV scale = to_ce(kb, v[1], b->ce), bias = to_ce(kb, v[2], b->ce), mean = to_ce(kb, v[3], b->ce),
     var = to_ce(kb, v[4], b->ce);
  KV a = kb_div(kb, scale, kb_sqrt(kb, kb_add(kb, var, kb_float(kb, t, b->eps))), false);
  return gen_epi_apply(kb, b->epi, kb_fma(kb, kb_sub(kb, v[0], mean), a, bias), NULL);
}

static int gen_batchnorm(GenCtx *c) {
  Graph *g = c->g;
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0];
  if (ir_attr_int(n, "training_mode", 0))
    return ir_node_error(g, n, "training_mode=1 is not supported (inference only)");
  for (int i = 1; i < n->nout; i++)
    if (n->out[i])
      return ir_node_error(g, n, "output %d (training statistics) is not supported (inference only)", i);
  Bn b = {gr_ce(x->dtype, false), ir_attr_float(n, "epsilon", 1e-5f), n->epi};
  int rank = x->rank;
  bool per_elem = g->opset > 0 && g->opset < 9 && ir_attr_int(n, "spatial", 1) == 0;
  int64_t P = per_elem ? ir_value_numel(x) / x->dims[0] : x->dims[1];
  EwOperand ops[5];
  memset(ops, 0, sizeof ops);
  ops[0].base = kb_buf(kb, 0);
  ops[0].dtype = x->dtype;
  gen_strides(rank, x->dims, ops[0].strides);
  int64_t pst[IR_MAX_RANK] = {0};
  if (per_elem) gen_strides(rank - 1, x->dims + 1, pst + 1);
  else pst[1] = 1;
  bool all_const = true;
  for (int i = 1; i < 5; i++) all_const &= n->in[i]->kind == VK_CONST;
  if (all_const) {
    size_t es = kb_elem_size(b.ce);
    char *ab = ir_xmalloc((size_t)(2 * P) * es + 1);
    for (int64_t i = 0; i < P; i++) {
      double s = ir_const_f64(n->in[1], i), bias = ir_const_f64(n->in[2], i), m = ir_const_f64(n->in[3], i),
             v = ir_const_f64(n->in[4], i);
      double a = s / sqrt(v + b.eps), bb = bias - m * a;
      if (b.ce == KE_F64) ((double *)ab)[i] = a, ((double *)ab)[P + i] = bb;
      else ((float *)ab)[i] = (float)a, ((float *)ab)[P + i] = (float)bb;
    }
    KV w = kb_weight(kb, ab, (size_t)(2 * P) * es);
    free(ab);
    DType pt = b.ce == KE_F64 ? DT_DOUBLE : DT_FLOAT;
    for (int k = 1; k < 3; k++) {
      ops[k].base = k == 1 ? w : kb_gep(kb, b.ce, w, kb_i64(kb, P));
      ops[k].dtype = pt;
      memcpy(ops[k].strides, pst, sizeof pst);
    }
    c->const_unused |= 0x1eu;
    gen_eltwise(c, 3, ops, kb_buf(kb, n->nin), x->dtype, rank, x->dims, f_bn_folded, &b);
    return 0;
  }
  for (int k = 1; k < 5; k++) {
    ops[k].base = kb_buf(kb, k);
    ops[k].dtype = n->in[k]->dtype;
    memcpy(ops[k].strides, pst, sizeof pst);
  }
  gen_eltwise(c, 5, ops, kb_buf(kb, n->nin), x->dtype, rank, x->dims, f_bn, &b);
  return 0;
}

/* ================================ statistics-based norms ================================ */

enum { NM_MV, NM_LP1, NM_LP2 };
enum { AFF_NONE, AFF_ROW, AFF_POS }; /* scale/bias: none, per group (o % C), per reduction position */

typedef struct Nm {
  int kind;
  bool eps_outside;  /* MVN: (x - mean) / (sqrt(var) + eps); others: / sqrt(var + eps) */
  double eps;
  KElem ce;
  DType xt, yt;
  KV x, y;
  int64_t rtot;
  int aff;
  KV sc, bi;         /* scale / bias pointers (bi may be NULL) */
  DType sct, bit;
  bool sc_one, bi_one; /* a single value for all positions */
  int64_t C;         /* AFF_ROW: channel count */
  KV mean_out, inv_out; /* LayerNorm's optional outputs */
  DType st;
  KVar acc[GR_MAX_U];
  KV mean[GR_MAX_U], inv[GR_MAX_U];
  KV rs[GR_MAX_U], rb[GR_MAX_U]; /* AFF_ROW: per-lane scale / bias */
} Nm;

static int nm_npasses(const Nm *m) { return m->kind == NM_MV ? 3 : 2; }

static KV nm_sum(KB *kb, GrNest *n, Nm *m, int u) {
  if (n->mode == GR_P1) return kb_get(kb, m->acc[u]);
  KV v = kb_get(kb, m->acc[0]);
  for (int k = 1; k < n->nvec; k++) v = kb_add(kb, v, kb_get(kb, m->acc[k]));
  return kb_splat(kb, kb_reduce_add(kb, v), n->W);
}

static void nm_begin(KB *kb, GrNest *n, void *ud) {
  Nm *m = ud;
  if (m->aff != AFF_ROW) return;
  int W = n->W;
  for (int u = 0; u < n->nvec; u++) {
    KV ch;
    KT it = kt(KE_I64, W);
    if (n->mode == GR_P1) {
      KV o = kb_add(kb, kb_splat(kb, kb_add(kb, n->o, kb_i64(kb, (int64_t)u * W)), W), kb_iota(kb, it));
      ch = kb_rem(kb, o, kb_int(kb, it, m->C), true);
      KV sv = kb_gather(kb, kt(kb_elem_of(m->sct), W), m->sc, ch, n->mask[u]);
      KV bv = kb_gather(kb, kt(kb_elem_of(m->bit), W), m->bi, ch, n->mask[u]);
      m->rs[u] = kb_cast(kb, sv, kt(m->ce, W), false, false);
      m->rb[u] = kb_cast(kb, bv, kt(m->ce, W), false, false);
    } else {
      ch = kb_rem(kb, n->o, kb_i64(kb, m->C), true);
      m->rs[u] = kb_splat(kb, gr_load(kb, m->sct, m->sc, ch, 1, 1, NULL, m->ce), W);
      m->rb[u] = kb_splat(kb, gr_load(kb, m->bit, m->bi, ch, 1, 1, NULL, m->ce), W);
    }
  }
}

static void nm_pass_begin(KB *kb, GrNest *n, int pass, void *ud) {
  Nm *m = ud;
  if (pass == nm_npasses(m) - 1) return;
  KT t = kt(m->ce, n->W);
  for (int u = 0; u < n->nvec; u++) m->acc[u] = kb_var(kb, t, kb_float(kb, t, 0));
}

/* scale / bias at reduction position rpos (AFF_POS) */
static KV nm_param(KB *kb, GrNest *n, Nm *m, KV p, DType pt, bool one, KV rpos, KV mask) {
  int W = n->W;
  if (one) return kb_splat(kb, gr_load(kb, pt, p, kb_i64(kb, 0), 1, 1, NULL, m->ce), W);
  if (n->mode == GR_P1) return kb_splat(kb, gr_load(kb, pt, p, rpos, 1, 1, NULL, m->ce), W);
  return gr_load(kb, pt, p, rpos, W, 1, mask, m->ce);
}

static void nm_visit(KB *kb, GrNest *n, int pass, int u, KV off, KV rpos, KV mask, void *ud) {
  Nm *m = ud;
  int W = n->W;
  KT t = kt(m->ce, W);
  KV v = gr_load(kb, m->xt, m->x, off, W, n->lstride, mask, m->ce);
  if (pass < nm_npasses(m) - 1) {
    KV a;
    if (pass == 1) {
      KV d = kb_sub(kb, v, m->mean[u]);
      a = kb_mul(kb, d, d);
    } else {
      a = m->kind == NM_LP1 ? kb_abs(kb, v) : m->kind == NM_LP2 ? kb_mul(kb, v, v) : v;
    }
    if (mask && n->mode == GR_P2) a = kb_select(kb, mask, a, kb_float(kb, t, 0));
    kb_set(kb, m->acc[u], kb_add(kb, kb_get(kb, m->acc[u]), a));
    return;
  }
  KV r;
  if (m->kind == NM_MV) {
    r = kb_mul(kb, kb_sub(kb, v, m->mean[u]), m->inv[u]);
    if (m->aff == AFF_ROW) {
      r = kb_fma(kb, r, m->rs[u], m->rb[u]);
    } else if (m->aff == AFF_POS) {
      KV s = nm_param(kb, n, m, m->sc, m->sct, m->sc_one, rpos, mask);
      if (m->bi) r = kb_fma(kb, r, s, nm_param(kb, n, m, m->bi, m->bit, m->bi_one, rpos, mask));
      else r = kb_mul(kb, r, s);
    }
  } else {
    r = kb_mul(kb, v, m->inv[u]);
  }
  gr_store(kb, m->yt, m->y, off, r, n->lstride, mask);
}

static void nm_pass_end(KB *kb, GrNest *n, int pass, void *ud) {
  Nm *m = ud;
  if (pass == nm_npasses(m) - 1) return;
  for (int u = 0; u < n->nvec; u++) {
    KV s = nm_sum(kb, n, m, u);
    KT t = kb_type(kb, s);
    KV one = kb_float(kb, t, 1);
    if (m->kind != NM_MV) { /* 1 / norm; a zero vector stays zero (as in onnxruntime) */
      KV norm = m->kind == NM_LP1 ? s : kb_sqrt(kb, s), zero = kb_float(kb, t, 0);
      m->inv[u] = kb_select(kb, kb_cmp(kb, KC_EQ, norm, zero, false), zero, kb_div(kb, one, norm, false));
    }
    else if (pass == 0) m->mean[u] = kb_div(kb, s, kb_float(kb, t, (double)m->rtot), false);
    else {
      KV var = kb_div(kb, s, kb_float(kb, t, (double)m->rtot), false), e = kb_float(kb, t, m->eps);
      m->inv[u] = m->eps_outside ? kb_div(kb, one, kb_add(kb, kb_sqrt(kb, var), e), false)
                                 : kb_div(kb, one, kb_sqrt(kb, kb_add(kb, var, e)), false);
    }
  }
}

static void nm_end(KB *kb, GrNest *n, void *ud) {
  Nm *m = ud;
  for (int k = 0; k < 2; k++) {
    KV out = k == 0 ? m->mean_out : m->inv_out;
    if (!out) continue;
    if (n->mode == GR_P1) {
      for (int u = 0; u < n->nvec; u++)
        gr_store(kb, m->st, out, kb_add(kb, n->o, kb_i64(kb, (int64_t)u * n->W)), k == 0 ? m->mean[u] : m->inv[u],
                 1, n->mask[u]);
    } else {
      gr_store(kb, m->st, out, n->o, kb_extract(kb, k == 0 ? m->mean[0] : m->inv[0], 0), 1, NULL);
    }
  }
}

static void nm_init(Nm *m, GenCtx *c, int kind) {
  Node *n = c->n;
  memset(m, 0, sizeof *m);
  m->kind = kind;
  m->xt = n->in[0]->dtype;
  m->yt = n->out[0]->dtype;
  m->ce = gr_ce(m->xt, false);
  m->x = kb_buf(c->kb, 0);
  m->y = kb_buf(c->kb, n->nin);
}

static void nm_run(GenCtx *c, Nm *m, int rank, const int64_t *dims, const bool *red) {
  GrGeom geo;
  gr_geom(rank, dims, red, &geo);
  m->rtot = geo.rtot;
  GrOps ops = {nm_npasses(m), nm_begin, nm_pass_begin, nm_visit, nm_pass_end, nm_end};
  gr_run(c, &geo, &ops, m, kb_elem_size(m->ce), 4);
}

static int gen_instancenorm(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0];
  Nm m;
  nm_init(&m, c, NM_MV);
  m.eps = ir_attr_float(n, "epsilon", 1e-5f);
  m.aff = AFF_ROW;
  m.sc = kb_buf(c->kb, 1);
  m.bi = kb_buf(c->kb, 2);
  m.sct = n->in[1]->dtype;
  m.bit = n->in[2]->dtype;
  m.C = x->dims[1];
  if (ir_value_numel(x) == 0) return 0;
  int64_t d2[2] = {x->dims[0] * x->dims[1], ir_value_numel(x) / (x->dims[0] * x->dims[1])};
  bool red[2] = {false, true};
  nm_run(c, &m, 2, d2, red);
  return 0;
}

/* LayerNormalization's Scale/B as a per-position parameter over the R normalized elements:
 * full size → direct; one element → splat; a constant broadcast → expanded into the weights */
static int ln_param(GenCtx *c, Nm *m, int i, int axis, KV *p, DType *pt, bool *one) {
  Node *n = c->n;
  Value *x = n->in[0], *v = n->in[i];
  int64_t R = 1;
  for (int k = axis; k < x->rank; k++) R *= x->dims[k];
  int64_t ne = ir_value_numel(v);
  *pt = v->dtype;
  *one = false;
  if (ne == R) {
    *p = kb_buf(c->kb, i);
    return 0;
  }
  if (ne == 1) {
    *p = kb_buf(c->kb, i);
    *one = true;
    return 0;
  }
  if (v->kind != VK_CONST)
    return ir_node_error(c->g, n, "a broadcast (non-constant) %s is not supported", i == 1 ? "Scale" : "B");
  /* expand: position j over dims[axis:], param index by broadcasting */
  int nd = x->rank - axis;
  const int64_t *xd = x->dims + axis;
  int64_t vst[IR_MAX_RANK], vs[IR_MAX_RANK];
  gen_strides(v->rank, v->dims, vs);
  for (int k = 0; k < nd; k++) {
    int vk = k - (nd - v->rank);
    vst[k] = vk < 0 || v->dims[vk] == 1 ? 0 : vs[vk];
  }
  size_t es = kb_elem_size(m->ce);
  char *buf = ir_xmalloc((size_t)R * es + 1);
  for (int64_t j = 0; j < R; j++) {
    int64_t rem = j, src = 0;
    for (int k = nd - 1; k >= 0; k--) {
      src += (rem % xd[k]) * vst[k];
      rem /= xd[k];
    }
    double val = ir_const_f64(v, src);
    if (m->ce == KE_F64) ((double *)buf)[j] = val;
    else ((float *)buf)[j] = (float)val;
  }
  *p = kb_weight(c->kb, buf, (size_t)R * es);
  free(buf);
  *pt = m->ce == KE_F64 ? DT_DOUBLE : DT_FLOAT;
  c->const_unused |= 1u << i;
  return 0;
}

static int gen_layernorm(GenCtx *c) {
  Graph *g = c->g;
  Node *n = c->n;
  Value *x = n->in[0];
  int axis;
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", -1), x->rank, &axis)) return -1;
  Nm m;
  nm_init(&m, c, NM_MV);
  int64_t st = ir_attr_int(n, "stash_type", DT_FLOAT);
  if (st == DT_DOUBLE) m.ce = KE_F64;
  m.eps = ir_attr_float(n, "epsilon", 1e-5f);
  m.aff = AFF_POS;
  if (ln_param(c, &m, 1, axis, &m.sc, &m.sct, &m.sc_one)) return -1;
  if (n->nin > 2 && n->in[2] && ln_param(c, &m, 2, axis, &m.bi, &m.bit, &m.bi_one)) return -1;
  if (n->nout > 1 && n->out[1]) m.mean_out = kb_buf(c->kb, n->nin + 1), m.st = n->out[1]->dtype;
  if (n->nout > 2 && n->out[2]) m.inv_out = kb_buf(c->kb, n->nin + 2), m.st = n->out[2]->dtype;
  int64_t d2[2] = {1, 1};
  for (int k = 0; k < x->rank; k++) d2[k < axis ? 0 : 1] *= x->dims[k];
  bool red[2] = {false, true};
  if (ir_value_numel(x) == 0) return 0;
  nm_run(c, &m, 2, d2, red);
  return 0;
}

static int gen_mvn(GenCtx *c) {
  Graph *g = c->g;
  Node *n = c->n;
  Value *x = n->in[0];
  static const int64_t def_axes[3] = {0, 2, 3};
  const int64_t *axes;
  int na = ir_attr_ints(n, "axes", &axes);
  if (na < 0) axes = def_axes, na = 3;
  bool red[IR_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) {
    int a;
    if (ir_normalize_axis(g, n, axes[i], x->rank, &a)) return -1;
    red[a] = true;
  }
  Nm m;
  nm_init(&m, c, NM_MV);
  m.eps = 1e-9;
  m.eps_outside = true;
  if (ir_value_numel(x) == 0) return 0;
  nm_run(c, &m, x->rank, x->dims, red);
  return 0;
}

static int gen_lpnorm(GenCtx *c) {
  Graph *g = c->g;
  Node *n = c->n;
  Value *x = n->in[0];
  int axis;
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", -1), x->rank, &axis)) return -1;
  int64_t p = ir_attr_int(n, "p", 2);
  if (p != 1 && p != 2) return ir_node_error(g, n, "p must be 1 or 2, got %lld", (long long)p);
  Nm m;
  nm_init(&m, c, p == 1 ? NM_LP1 : NM_LP2);
  int64_t d3[3] = {1, 1, 1};
  for (int k = 0; k < x->rank; k++) d3[k < axis ? 0 : k == axis ? 1 : 2] *= x->dims[k];
  bool red[3] = {false, true, false};
  if (ir_value_numel(x) == 0) return 0;
  nm_run(c, &m, 3, d3, red);
  return 0;
}

/* ================================ LRN ================================ */

static int gen_lrn(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0];
  int64_t size = ir_attr_int(n, "size", 1);
  double alpha = ir_attr_float(n, "alpha", 1e-4f), beta = ir_attr_float(n, "beta", 0.75f),
         bias = ir_attr_float(n, "bias", 1.0f);
  int64_t N = x->dims[0], C = x->dims[1], S = 1;
  for (int k = 2; k < x->rank; k++) S *= x->dims[k];
  if (N * C * S == 0) return 0;
  DType xt = x->dtype, yt = n->out[0]->dtype;
  KElem ce = gr_ce(xt, false);
  int W = gr_lanes(c, kb_elem_size(ce), S);
  KT t = kt(ce, W);
  int64_t nv = (S + W - 1) / W;
  if (nv > 2) nv = 2;
  int64_t B = nv * W, nblk = (S + B - 1) / B;
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo; /* window c - floor((size-1)/2) .. c + ceil((size-1)/2) */
  KV X = kb_buf(kb, 0), Y = kb_buf(kb, 1);
  KV it = gr_par_for(c, N * C * nblk, N * C * S * size);
  KV nc = kb_div(kb, it, kb_i64(kb, nblk), true);
  KV j0 = kb_mul(kb, kb_rem(kb, it, kb_i64(kb, nblk), true), kb_i64(kb, B));
  KV ch = kb_rem(kb, nc, kb_i64(kb, C), true);
  KV nbase = kb_add(kb, kb_mul(kb, kb_sub(kb, nc, ch), kb_i64(kb, S)), j0); /* (n*C)*S + j0 */
  KV c0 = kb_max(kb, kb_sub(kb, ch, kb_i64(kb, lo)), kb_i64(kb, 0), false);
  KV c1 = kb_min(kb, kb_add(kb, ch, kb_i64(kb, hi + 1)), kb_i64(kb, C), false);
  KV rem = kb_sub(kb, kb_i64(kb, S), j0);
  KV mask[2];
  KVar acc[2];
  for (int u = 0; u < nv; u++) {
    mask[u] = S % B ? kb_tail_mask(kb, W, kb_sub(kb, rem, kb_i64(kb, (int64_t)u * W))) : NULL;
    acc[u] = kb_var(kb, t, kb_float(kb, t, 0));
  }
  KV cc = kb_for(kb, c0, c1, 1);
  KV off = kb_add(kb, nbase, kb_mul(kb, cc, kb_i64(kb, S)));
  for (int u = 0; u < nv; u++) {
    KV v = gr_load(kb, xt, X, kb_add(kb, off, kb_i64(kb, (int64_t)u * W)), W, 1, mask[u], ce);
    kb_set(kb, acc[u], kb_fma(kb, v, v, kb_get(kb, acc[u])));
  }
  kb_endfor(kb);
  KV xoff = kb_add(kb, nbase, kb_mul(kb, ch, kb_i64(kb, S)));
  for (int u = 0; u < nv; u++) {
    KV o = kb_add(kb, xoff, kb_i64(kb, (int64_t)u * W));
    KV v = gr_load(kb, xt, X, o, W, 1, mask[u], ce);
    KV d = kb_fma(kb, kb_get(kb, acc[u]), kb_float(kb, t, alpha / (double)size), kb_float(kb, t, bias));
    KV r; /* v * d^-beta */
    if (beta == 0.75) {
      KV s = kb_sqrt(kb, d);
      r = kb_div(kb, v, kb_mul(kb, s, kb_sqrt(kb, s)), false);
    } else if (beta == 0.5) {
      r = kb_div(kb, v, kb_sqrt(kb, d), false);
    } else if (beta == 1.0) {
      r = kb_div(kb, v, d, false);
    } else {
      r = kb_mul(kb, v, kb_pow(kb, d, kb_float(kb, t, -beta)));
    }
    gr_store(kb, yt, Y, o, r, 1, mask[u]);
  }
  kb_endfor(kb);
  return 0;
}

int gen_norm(GenCtx *c) {
  switch (c->n->op) {
  case OP_BatchNormalization: return gen_batchnorm(c);
  case OP_InstanceNormalization: return gen_instancenorm(c);
  case OP_LayerNormalization: return gen_layernorm(c);
  case OP_LpNormalization: return gen_lpnorm(c);
  case OP_MeanVarianceNormalization: return gen_mvn(c);
  case OP_LRN: return gen_lrn(c);
  default: return ir_node_error(c->g, c->n, "not a normalization op");
  }
}
