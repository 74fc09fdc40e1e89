/* gen_move_resize.c — the F_MOVE family's Resize: nearest through the map-copy engine
 * (gen_move_engine.c), linear and cubic from per-axis tap tables (a separable h-then-w schedule
 * when only the last two axes are resized). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_move.h"

/* ================================================================================================
 * Resize
 * ============================================================================================== */
typedef struct RzAxis {
  int64_t in, out;
  double scale;
  double roi0, roi1;
  int taps;         /* taps per output position */
  int64_t *idx;     /* out × taps clamped source indices */
  double *w;        /* out × taps weights */
  unsigned char *ext; /* out: 1 = extrapolate (tf_crop_and_resize out of range) */
  bool identity, anyext;
} RzAxis;

typedef struct RzParams {
  const char *mode, *ctm, *nearest;
  double cubic_a, extrap;
  bool exclude, antialias;
} RzParams;

static void rz_free(RzAxis *a, int r) {
  for (int d = 0; d < r; d++) {
    free(a[d].idx);
    free(a[d].w);
    free(a[d].ext);
  }
}

static double cubic_w(double x, double A) {
  x = fabs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

/* source coordinate of output position o; *ext set when it falls outside (tf_crop_and_resize) */
static double rz_coord(const RzParams *p, const RzAxis *a, int64_t o, bool *ext) {
  double s = a->scale, in = (double)a->in, ow = s * in, x;
  *ext = false;
  if (!strcmp(p->ctm, "align_corners")) x = ow == 1 ? 0 : (double)o * (in - 1) / (ow - 1);
  else if (!strcmp(p->ctm, "asymmetric")) x = (double)o / s;
  else if (!strcmp(p->ctm, "tf_half_pixel_for_nn")) x = ((double)o + 0.5) / s;
  else if (!strcmp(p->ctm, "tf_crop_and_resize")) {
    x = ow == 1 ? (a->roi1 - a->roi0) * (in - 1) / 2 : (double)o * (a->roi1 - a->roi0) * (in - 1) / (ow - 1);
    x += a->roi0 * (in - 1);
    *ext = x < 0 || x > in - 1;
  } else if (!strcmp(p->ctm, "pytorch_half_pixel")) x = ow == 1 ? -0.5 : ((double)o + 0.5) / s - 0.5;
  else if (!strcmp(p->ctm, "half_pixel_symmetric")) {
    double adj = (double)a->out / ow, center = in / 2, off = center * (1 - adj);
    x = off + ((double)o + 0.5) / s - 0.5;
  } else
    x = ((double)o + 0.5) / s - 0.5; /* half_pixel */
  return x;
}

/* fill a->idx / a->w / a->ext (nearest: one tap) */
static void rz_axis_plan(const RzParams *p, RzAxis *a) {
  bool nearest = !strcmp(p->mode, "nearest"), cubic = !strcmp(p->mode, "cubic");
  double sc = a->scale < 1 ? a->scale : 1;
  bool aa = p->antialias && !nearest && a->scale < 1;
  int start, taps;
  if (nearest) start = 0, taps = 1;
  else if (cubic) {
    start = aa ? (int)floor(-2 / sc) + 1 : -1;
    taps = aa ? 2 - 2 * start : 4;
  } else {
    start = aa ? (int)floor(-1 / sc) + 1 : 0;
    taps = 2 - 2 * start;
  }
  a->taps = taps;
  a->idx = ir_xcalloc((size_t)(a->out * taps + 1), sizeof(int64_t));
  a->w = ir_xcalloc((size_t)(a->out * taps + 1), sizeof(double));
  a->ext = ir_xcalloc((size_t)a->out + 1, 1);
  for (int64_t o = 0; o < a->out; o++) {
    bool ext;
    double x = rz_coord(p, a, o, &ext), xf = floor(x), ratio;
    int64_t base;
    a->ext[o] = ext;
    a->anyext |= ext;
    if (x == xf) base = (int64_t)xf - 1, ratio = 1;
    else base = (int64_t)xf, ratio = x - xf;
    int64_t *ix = a->idx + o * taps;
    double *w = a->w + o * taps, sum = 0;
    if (nearest) {
      bool up;
      if (ratio == 1) up = true;
      else if (!strcmp(p->nearest, "round_prefer_ceil")) up = ratio >= 0.5;
      else if (!strcmp(p->nearest, "floor")) up = false;
      else if (!strcmp(p->nearest, "ceil")) up = true;
      else up = ratio > 0.5; /* round_prefer_floor */
      int64_t s = base + (up ? 1 : 0);
      ix[0] = s < 0 ? 0 : s >= a->in ? a->in - 1 : s;
      w[0] = 1;
      continue;
    }
    for (int t = 0; t < taps; t++) {
      double d = start + t - ratio; /* tap position minus x */
      if (cubic) w[t] = aa ? cubic_w(d * sc, p->cubic_a) : cubic_w(d, p->cubic_a);
      else w[t] = aa ? fmax(0, 1 - fabs(d * sc)) : (t == 0 ? 1 - ratio : ratio);
      sum += w[t];
    }
    if (aa && sum != 0)
      for (int t = 0; t < taps; t++) w[t] /= sum;
    sum = 0;
    for (int t = 0; t < taps; t++) {
      int64_t s = base + start + t;
      if (p->exclude && (s < 0 || s >= a->in)) w[t] = 0;
      sum += w[t];
      ix[t] = s < 0 ? 0 : s >= a->in ? a->in - 1 : s;
    }
    if (p->exclude && sum != 0)
      for (int t = 0; t < taps; t++) w[t] /= sum;
  }
  /* identity: out == in and every position reads exactly its own index with weight 1 */
  a->identity = a->in == a->out && !a->anyext;
  for (int64_t o = 0; o < a->out && a->identity; o++)
    for (int t = 0; t < taps; t++) {
      double w = a->w[o * taps + t];
      if (w != 0 && !(a->idx[o * taps + t] == o && fabs(w - 1) < 1e-12)) a->identity = false;
    }
  /* drop taps that are zero everywhere at the end (compress): keep simple — move non-zero taps first */
  if (!nearest) {
    int maxnz = 0;
    for (int64_t o = 0; o < a->out; o++) {
      int64_t *ix = a->idx + o * taps;
      double *w = a->w + o * taps;
      int k = 0;
      for (int t = 0; t < taps; t++)
        if (w[t] != 0) {
          ix[k] = ix[t];
          w[k] = w[t];
          k++;
        }
      for (int t = k; t < taps; t++) {
        ix[t] = ix[0];
        w[t] = 0;
      }
      if (k > maxnz) maxnz = k;
    }
    if (maxnz < 1) maxnz = 1;
    if (maxnz < taps) { /* repack to maxnz taps */
      for (int64_t o = 0; o < a->out; o++)
        for (int t = 0; t < maxnz; t++) {
          a->idx[o * maxnz + t] = a->idx[o * taps + t];
          a->w[o * maxnz + t] = a->w[o * taps + t];
        }
      a->taps = maxnz;
    }
  }
}

/* resolve scales/sizes/roi/axes per axis (same rules as shape inference) */
static int rz_setup(GenCtx *c, RzParams *p, RzAxis *ax) {
  Node *n = c->n;
  Graph *g = c->g;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  bool v10 = g->opset > 0 && g->opset < 11;
  Value *roi = NULL, *sc = NULL, *sz = NULL;
  if (v10) sc = n->nin > 1 ? n->in[1] : NULL;
  else {
    roi = n->nin > 1 ? n->in[1] : NULL;
    sc = n->nin > 2 ? n->in[2] : NULL;
    sz = n->nin > 3 ? n->in[3] : NULL;
  }
  for (int i = 1; i < n->nin; i++) {
    if (n->in[i] && (n->in[i]->kind != VK_CONST || !n->in[i]->data))
      return ir_node_error(g, n, "input %d must be a constant", i);
    mv_mark_unused(c, i);
  }
  if (sc && ir_value_numel(sc) == 0) sc = NULL;
  if (sz && ir_value_numel(sz) == 0) sz = NULL;
  if (roi && ir_value_numel(roi) == 0) roi = NULL;
  p->mode = ir_attr_str(n, "mode", "nearest");
  p->ctm = ir_attr_str(n, "coordinate_transformation_mode", v10 ? "asymmetric" : "half_pixel");
  p->nearest = ir_attr_str(n, "nearest_mode", v10 ? "floor" : "round_prefer_floor");
  p->cubic_a = ir_attr_float(n, "cubic_coeff_a", -0.75f);
  p->exclude = ir_attr_int(n, "exclude_outside", 0) != 0;
  p->antialias = ir_attr_int(n, "antialias", 0) != 0;
  p->extrap = ir_attr_float(n, "extrapolation_value", 0.0f);
  if (strcmp(p->mode, "nearest") && strcmp(p->mode, "linear") && strcmp(p->mode, "cubic"))
    return ir_node_error(g, n, "unknown mode '%s'", p->mode);
  if (!strcmp(p->ctm, "tf_crop_and_resize") && !roi)
    return ir_node_error(g, n, "tf_crop_and_resize needs a roi input");
  int64_t axes[IR_MAX_RANK];
  const int64_t *ap;
  int na = ir_attr_ints(n, "axes", &ap);
  if (na < 0) {
    na = r;
    for (int i = 0; i < r; i++) axes[i] = i;
  } else
    for (int i = 0; i < na && i < IR_MAX_RANK; i++) axes[i] = ap[i] < 0 ? ap[i] + r : ap[i];
  for (int d = 0; d < r; d++) {
    memset(&ax[d], 0, sizeof ax[d]);
    ax[d].in = x->dims[d];
    ax[d].out = y->dims[d];
    ax[d].scale = 1;
    ax[d].roi0 = 0;
    ax[d].roi1 = 1;
  }
  const char *pol = ir_attr_str(n, "keep_aspect_ratio_policy", "stretch");
  double common = !strcmp(pol, "not_smaller") ? 0 : INFINITY;
  for (int i = 0; i < na; i++) {
    int d = (int)axes[i];
    if (d < 0 || d >= r) return ir_node_error(g, n, "axis out of range");
    if (sc) ax[d].scale = (double)(float)ir_const_f64(sc, i);
    else if (sz) {
      ax[d].scale = (double)ir_const_i64(sz, i) / (double)x->dims[d];
      common = !strcmp(pol, "not_smaller") ? fmax(common, ax[d].scale) : fmin(common, ax[d].scale);
    }
    if (roi && ir_value_numel(roi) >= 2 * na) {
      ax[d].roi0 = ir_const_f64(roi, i);
      ax[d].roi1 = ir_const_f64(roi, na + i);
    }
  }
  if (sz && strcmp(pol, "stretch"))
    for (int i = 0; i < na; i++) ax[axes[i]].scale = common;
  return 0;
}

static int gen_resize_nearest(GenCtx *c, RzParams *p, RzAxis *ax) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
  gen_strides(r, x->dims, xs);
  gen_strides(r, y->dims, ys);
  MvJob j;
  mv_init(&j, 0, n->nin);
  size_t es = dtype_size(x->dtype);
  j.fill = kb_int(c->kb, kt_s(gen_raw_elem(es)), mv_raw_bits(x->dtype, p->extrap));
  for (int d = 0; d < r; d++) {
    int64_t *t = mv_tab_new(y->dims[d]);
    for (int64_t o = 0; o < y->dims[d]; o++) t[o] = ax[d].ext[o] ? MV_FILL : ax[d].idx[o] * xs[d];
    mv_add_axis(&j, y->dims[d], 0, ys[d], t);
  }
  mv_emit(c, &j, 1, es);
  return 0;
}

typedef struct RzInner {
  DType t;
  KElem ce;        /* compute element (f32 / f64) */
  int W, taps;
  bool identity;
  KV x, acc;       /* acc: scratch row (compute elements) */
  KV xoff, w;      /* this combination's input offset (i64) and weight (ce scalar) */
  KV idx, wt;      /* inner tables: idx i32 [taps][n], weights ce [taps][n] */
  int64_t n;
} RzInner;

static KV load_as(KB *kb, DType t, KElem ce, KV base, KV at, int W, KV mask) {
  KV v = gen_load_vec(kb, t, base, at, W, mask);
  return kb_cast(kb, v, kt(ce, W), !dtype_is_signed(t), false);
}

static void rz_inner_body(KB *kb, void *ud, KV j, KV mask) {
  RzInner *z = ud;
  int W = z->W;
  KT ct = kt(z->ce, W);
  KV sum;
  if (z->identity) sum = load_as(kb, z->t, z->ce, z->x, kb_add(kb, z->xoff, j), W, mask);
  else {
    sum = kb_float(kb, ct, 0);
    KElem le = kb_elem_of(z->t);
    KV xb = kb_gep(kb, le, z->x, z->xoff);
    for (int t = 0; t < z->taps; t++) {
      KV at = kb_add(kb, j, i64c(kb, t * z->n));
      KV iv = gen_vload(kb, kt(KE_I32, W), kb_gep(kb, KE_I32, z->idx, at), mask);
      KV wv = gen_vload(kb, ct, kb_gep(kb, z->ce, z->wt, at), mask);
      KV v = mv_gather(kb, kt(le, W), xb, iv, mask);
      v = kb_cast(kb, v, ct, !dtype_is_signed(z->t), false);
      sum = kb_fma(kb, v, wv, sum);
    }
  }
  KV p = kb_gep(kb, z->ce, z->acc, j);
  KV a = gen_vload(kb, ct, p, mask);
  gen_vstore(kb, kb_fma(kb, sum, kb_splat(kb, z->w, W), a), p, mask);
}

typedef struct RzOut {
  DType t;
  KElem ce;
  int W;
  KV acc, y, yoff, ext; /* ext: i8 table of the inner axis or NULL */
  double extrap;
  KV rowext;            /* scalar i1: the whole row is outside the crop (or NULL) */
} RzOut;

static void rz_out_body(KB *kb, void *ud, KV j, KV mask) {
  RzOut *z = ud;
  int W = z->W;
  KT ct = kt(z->ce, W);
  KV v = gen_vload(kb, ct, kb_gep(kb, z->ce, z->acc, j), mask);
  if (z->ext) {
    KV e = gen_vload(kb, kt(KE_I8, W), kb_gep(kb, KE_I8, z->ext, j), mask);
    v = kb_select(kb, kb_cmp(kb, KC_NE, e, kb_int(kb, kt(KE_I8, W), 0), false), kb_float(kb, ct, z->extrap), v);
  }
  if (z->rowext) v = kb_select(kb, kb_splat(kb, z->rowext, W), kb_float(kb, ct, z->extrap), v);
  KElem oe = gen_compute_elem(z->t);
  if (!kb_is_float(oe)) {
    v = kb_round_even(kb, v);
    v = kb_cast(kb, v, kt(oe, W), false, !dtype_is_signed(z->t));
  } else if (oe != z->ce)
    v = kb_cast(kb, v, kt(oe, W), false, false);
  gen_store_vec(kb, z->t, z->y, kb_add(kb, z->yoff, j), v, mask);
}

static void rz_zero_body(KB *kb, void *ud, KV j, KV mask) {
  RzOut *z = ud;
  gen_vstore(kb, kb_float(kb, kt(z->ce, z->W), 0), kb_gep(kb, z->ce, z->acc, j), mask);
}

/* ---- separable 2-D schedule: only axes h = r-2 and w = r-1 are resized (no crop extrapolation).
 * Per unit (plane × block of RZ_OB output rows): the input rows that block needs are interpolated
 * horizontally once into scratch, then each output row is a weighted sum of scratch rows. */
#define RZ_OB 16
#define RZ_MAX_VTAPS 16
#define RZ_MAX_SCRATCH (1 << 20)

typedef struct RzH {
  DType t;
  KElem ce;
  int W, taps;
  KV xrow, dst, idx, wt; /* input row (typed), scratch row (ce), inner tables */
  int64_t n;
} RzH;

static void rz_h_body(KB *kb, void *ud, KV j, KV mask) {
  RzH *z = ud;
  KT ct = kt(z->ce, z->W);
  KElem le = kb_elem_of(z->t);
  KV sum = kb_float(kb, ct, 0);
  for (int t = 0; t < z->taps; t++) {
    KV at = kb_add(kb, j, i64c(kb, t * z->n));
    KV iv = gen_vload(kb, kt(KE_I32, z->W), kb_gep(kb, KE_I32, z->idx, at), mask);
    KV wv = gen_vload(kb, ct, kb_gep(kb, z->ce, z->wt, at), mask);
    KV v = kb_cast(kb, mv_gather(kb, kt(le, z->W), z->xrow, iv, mask), ct, !dtype_is_signed(z->t), false);
    sum = kb_fma(kb, v, wv, sum);
  }
  gen_vstore(kb, sum, kb_gep(kb, z->ce, z->dst, j), mask);
}

typedef struct RzV {
  DType t;
  KElem ce;
  int W, taps;
  KV rows[RZ_MAX_VTAPS], w[RZ_MAX_VTAPS]; /* scratch rows (ce ptrs) and scalar weights */
  KV y, yoff;
} RzV;

static KV rz_convert_out(KB *kb, DType t, KV v, int W) {
  KElem oe = gen_compute_elem(t);
  if (!kb_is_float(oe)) return kb_cast(kb, kb_round_even(kb, v), kt(oe, W), false, !dtype_is_signed(t));
  if (oe != kb_type(kb, v).e) return kb_cast(kb, v, kt(oe, W), false, false);
  return v;
}

static void rz_v_body(KB *kb, void *ud, KV j, KV mask) {
  RzV *z = ud;
  KT ct = kt(z->ce, z->W);
  KV acc = NULL;
  for (int t = 0; t < z->taps; t++) {
    KV v = gen_vload(kb, ct, kb_gep(kb, z->ce, z->rows[t], j), mask);
    KV w = kb_splat(kb, z->w[t], z->W);
    acc = acc ? kb_fma(kb, v, w, acc) : kb_mul(kb, v, w);
  }
  gen_store_vec(kb, z->t, z->y, kb_add(kb, z->yoff, j), rz_convert_out(kb, z->t, acc, z->W), mask);
}

/* returns 1 if handled, 0 if the schedule does not apply */
static int gen_resize_hv(GenCtx *c, RzAxis *ax, KElem ce) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  if (r < 2) return 0;
  RzAxis *H = &ax[r - 2], *Wa = &ax[r - 1];
  for (int d = 0; d < r - 2; d++)
    if (!ax[d].identity) return 0;
  if (H->identity || Wa->identity || H->anyext || Wa->anyext || H->taps > RZ_MAX_VTAPS) return 0;
  if (Wa->in > INT32_MAX) return 0;
  size_t cs = kb_elem_size(ce);
  int64_t ow = Wa->out, oh = H->out, iw = Wa->in, ih = H->in;
  int64_t nblk = (oh + RZ_OB - 1) / RZ_OB, maxrows = 0;
  int64_t *blo = mv_tab_new(nblk), *bcnt = mv_tab_new(nblk);
  for (int64_t b = 0; b < nblk; b++) {
    int64_t lo = INT64_MAX, hi = -1;
    for (int64_t o = b * RZ_OB; o < oh && o < (b + 1) * RZ_OB; o++)
      for (int t = 0; t < H->taps; t++) {
        int64_t q = H->idx[o * H->taps + t];
        lo = q < lo ? q : lo;
        hi = q > hi ? q : hi;
      }
    blo[b] = lo;
    bcnt[b] = hi - lo + 1;
    if (bcnt[b] > maxrows) maxrows = bcnt[b];
  }
  int64_t rowbytes = (ow * (int64_t)cs + 63) / 64 * 64;
  if (maxrows * rowbytes > RZ_MAX_SCRATCH) {
    free(blo);
    free(bcnt);
    return 0;
  }
  c->scratch_bytes = maxrows * rowbytes;
  KV tlo = kb_weight(kb, blo, sizeof(int64_t) * (size_t)nblk), tcnt = kb_weight(kb, bcnt, sizeof(int64_t) * (size_t)nblk);
  free(blo);
  free(bcnt);
  /* tables: horizontal [tap][ow] (i32 index, ce weight); vertical [oh][tap] (i64 row, ce weight) */
  int64_t mw = ow * Wa->taps, mh = oh * H->taps;
  int32_t *ti = ir_xmalloc(sizeof(int32_t) * (size_t)mw + 4);
  void *tw = ir_xmalloc((size_t)mw * cs + 8), *vw = ir_xmalloc((size_t)mh * cs + 8);
  for (int64_t o = 0; o < ow; o++)
    for (int t = 0; t < Wa->taps; t++) {
      ti[t * ow + o] = (int32_t)Wa->idx[o * Wa->taps + t];
      if (ce == KE_F64) ((double *)tw)[t * ow + o] = Wa->w[o * Wa->taps + t];
      else ((float *)tw)[t * ow + o] = (float)Wa->w[o * Wa->taps + t];
    }
  for (int64_t q = 0; q < mh; q++) {
    if (ce == KE_F64) ((double *)vw)[q] = H->w[q];
    else ((float *)vw)[q] = (float)H->w[q];
  }
  KV hidx = kb_weight(kb, ti, sizeof(int32_t) * (size_t)mw), hw = kb_weight(kb, tw, (size_t)mw * cs);
  KV vidx = kb_weight(kb, H->idx, sizeof(int64_t) * (size_t)mh), vwt = kb_weight(kb, vw, (size_t)mh * cs);
  free(ti);
  free(tw);
  free(vw);
  int64_t planes = oh * ow > 0 ? ir_value_numel(y) / (oh * ow) : 0;
  int W = gen_lanes_cap(c, cs, 16);
  KV it = mv_par_for(c, planes * nblk, ir_value_numel(y) * (int64_t)dtype_size(y->dtype) * 4);
  KV pl = kb_div(kb, it, i64c(kb, nblk), true), bk = kb_rem(kb, it, i64c(kb, nblk), true);
  KV lo = kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, tlo, bk));
  KV cnt = kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, tcnt, bk));
  KV scratch = kb_scratch(kb), xbuf = kb_buf(kb, 0), ybuf = kb_buf(kb, n->nin);
  KElem le = kb_elem_of(x->dtype);
  int64_t rowel = rowbytes / (int64_t)cs;
  /* horizontal pass over the needed input rows */
  KV rr = kb_for(kb, i64c(kb, 0), cnt, 1);
  {
    KV xrow = kb_gep(kb, le, xbuf, kb_mul(kb, kb_add(kb, kb_mul(kb, pl, i64c(kb, ih)), kb_add(kb, lo, rr)), i64c(kb, iw)));
    RzH zh = {x->dtype, ce, W, Wa->taps, xrow, kb_gep(kb, ce, scratch, kb_mul(kb, rr, i64c(kb, rowel))), hidx, hw, ow};
    gen_vec_loop(kb, i64c(kb, 0), i64c(kb, ow), W, rz_h_body, &zh);
  }
  kb_endfor(kb);
  /* vertical pass */
  KV o0 = kb_mul(kb, bk, i64c(kb, RZ_OB));
  KV o1 = kb_min(kb, kb_add(kb, o0, i64c(kb, RZ_OB)), i64c(kb, oh), false);
  KV o = kb_for(kb, o0, o1, 1);
  {
    RzV zv;
    memset(&zv, 0, sizeof zv);
    zv.t = y->dtype;
    zv.ce = ce;
    zv.W = W;
    zv.taps = H->taps;
    zv.y = ybuf;
    zv.yoff = kb_mul(kb, kb_add(kb, kb_mul(kb, pl, i64c(kb, oh)), o), i64c(kb, ow));
    for (int t = 0; t < H->taps; t++) {
      KV q = kb_add(kb, kb_mul(kb, o, i64c(kb, H->taps)), i64c(kb, t));
      KV row = kb_sub(kb, kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, vidx, q)), lo);
      zv.rows[t] = kb_gep(kb, ce, scratch, kb_mul(kb, row, i64c(kb, rowel)));
      zv.w[t] = kb_load(kb, kt_s(ce), kb_gep(kb, ce, vwt, q));
    }
    gen_vec_loop(kb, i64c(kb, 0), i64c(kb, ow), W, rz_v_body, &zv);
  }
  kb_endfor(kb);
  kb_endfor(kb);
  return 1;
}

static int gen_resize_interp(GenCtx *c, RzParams *p, RzAxis *ax) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  if (x->dtype == DT_BOOL) return ir_node_error(c->g, n, "%s resize of bool is not supported", p->mode);
  KElem ce = x->dtype == DT_DOUBLE ? KE_F64 : KE_F32;
  size_t cs = kb_elem_size(ce);
  int64_t xs[IR_MAX_RANK];
  gen_strides(r, x->dims, xs);
  RzAxis *in = &ax[r - 1];
  int64_t ni = in->out, rows = ir_value_numel(y) / (ni ? ni : 1);
  if (ir_value_numel(y) == 0) return 0;
  if (in->in > INT32_MAX) return ir_node_error(c->g, n, "inner axis too large");
  if (gen_resize_hv(c, ax, ce)) return 0;
  /* tables */
  KV otab_i[IR_MAX_RANK] = {0}, otab_w[IR_MAX_RANK] = {0}, otab_e[IR_MAX_RANK] = {0};
  for (int d = 0; d < r - 1; d++) {
    RzAxis *a = &ax[d];
    if (a->identity) continue;
    int64_t m = a->out * a->taps;
    int64_t *ti = mv_tab_new(m);
    void *tw = ir_xmalloc((size_t)m * cs + 8);
    for (int64_t q = 0; q < m; q++) {
      ti[q] = a->idx[q] * xs[d];
      if (ce == KE_F64) ((double *)tw)[q] = a->w[q];
      else ((float *)tw)[q] = (float)a->w[q];
    }
    otab_i[d] = kb_weight(kb, ti, sizeof(int64_t) * (size_t)m);
    otab_w[d] = kb_weight(kb, tw, (size_t)m * cs);
    free(ti);
    free(tw);
    if (a->anyext) otab_e[d] = kb_weight(kb, a->ext, (size_t)a->out);
  }
  KV itab_i = NULL, itab_w = NULL, itab_e = NULL;
  if (!in->identity) {
    int64_t m = ni * in->taps;
    int32_t *ti = ir_xmalloc(sizeof(int32_t) * (size_t)m + 4);
    void *tw = ir_xmalloc((size_t)m * cs + 8);
    for (int64_t o = 0; o < ni; o++) /* transposed: [tap][o], contiguous over o */
      for (int t = 0; t < in->taps; t++) {
        ti[t * ni + o] = (int32_t)in->idx[o * in->taps + t];
        if (ce == KE_F64) ((double *)tw)[t * ni + o] = in->w[o * in->taps + t];
        else ((float *)tw)[t * ni + o] = (float)in->w[o * in->taps + t];
      }
    itab_i = kb_weight(kb, ti, sizeof(int32_t) * (size_t)m);
    itab_w = kb_weight(kb, tw, (size_t)m * cs);
    free(ti);
    free(tw);
  }
  if (in->anyext) itab_e = kb_weight(kb, in->ext, (size_t)ni);
  c->scratch_bytes = (ni * (int64_t)cs + 63) / 64 * 64 + 64;
  int W = gen_lanes_cap(c, cs, 16);
  KV it = mv_par_for(c, rows, ir_value_numel(y) * (int64_t)dtype_size(y->dtype) * 4);
  KV acc = kb_scratch(kb), ybuf = kb_buf(kb, n->nin), xbuf = kb_buf(kb, 0);
  /* decompose the row index into outer output coordinates */
  KV coord[IR_MAX_RANK], rem = it, ext = NULL, xoff = i64c(kb, 0);
  for (int d = r - 2; d >= 0; d--) {
    coord[d] = d > 0 ? kb_rem(kb, rem, i64c(kb, ax[d].out), true) : rem;
    if (d > 0) rem = kb_div(kb, rem, i64c(kb, ax[d].out), true);
    if (ax[d].identity) xoff = kb_add(kb, xoff, kb_mul(kb, coord[d], i64c(kb, xs[d])));
    if (otab_e[d]) {
      KV e = kb_load(kb, kt_s(KE_I8), kb_gep(kb, KE_I8, otab_e[d], coord[d]));
      KV f = kb_cmp(kb, KC_NE, e, kb_int(kb, kt_s(KE_I8), 0), false);
      ext = ext ? kb_or(kb, ext, f) : f;
    }
  }
  RzOut zo = {y->dtype, ce, W, acc, ybuf, kb_mul(kb, it, i64c(kb, ni)), itab_e, p->extrap, NULL};
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, ni), W, rz_zero_body, &zo);
  if (ext) kb_if(kb, kb_not(kb, ext));
  /* nested loops over the taps of the resized outer axes */
  KV off = xoff, wgt = kb_float(kb, kt_s(ce), 1);
  int nloops = 0;
  for (int d = 0; d < r - 1; d++) {
    if (ax[d].identity) continue;
    KV t = kb_for(kb, i64c(kb, 0), i64c(kb, ax[d].taps), 1);
    KV q = kb_add(kb, kb_mul(kb, coord[d], i64c(kb, ax[d].taps)), t);
    off = kb_add(kb, off, kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, otab_i[d], q)));
    wgt = kb_mul(kb, wgt, kb_load(kb, kt_s(ce), kb_gep(kb, ce, otab_w[d], q)));
    nloops++;
  }
  RzInner zi = {x->dtype, ce, W, in->identity ? 1 : in->taps, in->identity, xbuf, acc, off, wgt, itab_i, itab_w, ni};
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, ni), W, rz_inner_body, &zi);
  for (int k = 0; k < nloops; k++) kb_endfor(kb);
  if (ext) kb_endif(kb);
  zo.rowext = ext;
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, ni), W, rz_out_body, &zo);
  kb_endfor(kb);
  return 0;
}

int gen_resize(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0];
  int r = x->rank;
  RzParams p;
  memset(&p, 0, sizeof p);
  RzAxis ax[IR_MAX_RANK];
  memset(ax, 0, sizeof ax);
  if (r < 1) return ir_node_error(c->g, n, "cannot resize a scalar");
  if (ir_value_numel(n->out[0]) == 0) return 0;
  if (ir_value_numel(x) == 0) return ir_node_error(c->g, n, "cannot resize an empty tensor to a non-empty one");
  if (rz_setup(c, &p, ax)) return -1;
  for (int d = 0; d < r; d++) {
    if (ax[d].out != n->out[0]->dims[d]) return ir_node_error(c->g, n, "output shape mismatch");
    rz_axis_plan(&p, &ax[d]);
  }
  bool all_id = true;
  for (int d = 0; d < r; d++) all_id &= ax[d].identity;
  int rc = !strcmp(p.mode, "nearest") || all_id ? gen_resize_nearest(c, &p, ax) : gen_resize_interp(c, &p, ax);
  rz_free(ax, r);
  return rc;
}
