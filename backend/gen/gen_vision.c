/* gen_vision.c — code generation for the F_VISION family: GridSample and RoiAlign.
 * (NonMaxSuppression is evaluated on the host: ir/shape_vision.c.)
 *
 * GridSample vectorizes over a strip of output columns: the sampling coordinates, the tap indices
 * (1 nearest, 2×2 bilinear, 4×4 bicubic), their weights and in-bounds masks are computed once per
 * strip, then every channel is a sum of masked gathers.  Coordinates follow torch's grid_sample:
 * unnormalize (align_corners), then border clamps, reflection folds the coordinate back into the
 * image, zeros drops out-of-bounds taps; bicubic (A = -0.75) applies the padding per tap.
 *
 * RoiAlign vectorizes over channels: per output bin and sample point the bilinear corners and
 * weights are scalars, and a strip of channels is gathered at plane stride.  The adaptive sample
 * grid (sampling_ratio 0) has ceil(bin size) points per axis, so its size comes from the rois'
 * values: a roi of 3e7 pixels would ask for 1e14 samples per bin.  Only samples inside [-1, size]
 * contribute (the others count in the average with weight 0), so each bin visits just the index
 * range that can land there (a few more for rounding), at most ~2×(size+1) per axis whatever the
 * roi: the result is the full grid's, in bounded time.  A range the arithmetic cannot bound (a
 * grid over 2^52 points per axis, coordinates too large for their precision) returns
 * ONNXC_ERR_BOUND instead of running. */
#include <math.h>
#include <string.h>

#include "gen_util.h"

#define ST_INDEX 3  /* ONNXC_ERR_INDEX */
#define ST_BOUND 12 /* ONNXC_ERR_BOUND */

static KV i64c(KB *kb, int64_t x) { return kb_i64(kb, x); }

/* ---- GridSample ---- */

enum { GS_NEAREST, GS_LINEAR, GS_CUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECT };

typedef struct GsCtx {
  KElem fe;
  int W, mode, pad;
  bool ac;
  int64_t H, Wd, C, plane_out; /* input H, W; channels; Ho*Wo */
  KV x_img, grid_row, y_row;   /* X[n], grid[n, ho], Y[n, 0, ho] */
} GsCtx;

/* fold x into [lo2/2, hi2/2] by reflection (torch's reflect_coordinates) */
static KV gs_reflect(KB *kb, KV x, double lo2, double hi2) {
  KT t = kb_type(kb, x);
  if (lo2 == hi2) return kb_float(kb, t, 0);
  double mn = lo2 / 2, span = (hi2 - lo2) / 2;
  KV in = kb_abs(kb, kb_sub(kb, x, kb_float(kb, t, mn)));
  KV extra = kb_rem(kb, in, kb_float(kb, t, span), false);
  KV flips = kb_floor(kb, kb_div(kb, in, kb_float(kb, t, span), false));
  KV half = kb_floor(kb, kb_mul(kb, flips, kb_float(kb, t, 0.5)));
  KV even = kb_cmp(kb, KC_EQ, flips, kb_mul(kb, half, kb_float(kb, t, 2)), false);
  return kb_select(kb, even, kb_add(kb, extra, kb_float(kb, t, mn)),
                   kb_add(kb, kb_sub(kb, kb_float(kb, t, span), extra), kb_float(kb, t, mn)));
}

/* border / reflection applied to a coordinate along an axis of size S */
static KV gs_pad(KB *kb, const GsCtx *g, KV x, int64_t S) {
  KT t = kb_type(kb, x);
  if (g->pad == GS_ZEROS) return x;
  if (g->pad == GS_REFLECT)
    x = g->ac ? gs_reflect(kb, x, 0, 2.0 * (double)(S - 1)) : gs_reflect(kb, x, -1, 2.0 * (double)S - 1);
  return kb_min(kb, kb_max(kb, x, kb_float(kb, t, 0), false), kb_float(kb, t, (double)(S - 1)), false);
}

/* cubic convolution weights (A = -0.75) for fraction t */
static void gs_cubic_w(KB *kb, KV t, KV *w) {
  KT ft = kb_type(kb, t);
  double A = -0.75;
  KV one = kb_float(kb, ft, 1);
  KV x[4] = {kb_add(kb, t, one), t, kb_sub(kb, one, t), kb_sub(kb, kb_float(kb, ft, 2), t)};
  for (int k = 0; k < 4; k++) {
    KV v = x[k];
    if (k == 1 || k == 2) /* |v| <= 1: ((A+2)v - (A+3))v² + 1 */
      w[k] = kb_fma(kb, kb_mul(kb, kb_sub(kb, kb_mul(kb, kb_float(kb, ft, A + 2), v), kb_float(kb, ft, A + 3)), v), v, one);
    else /* 1 < |v| < 2: ((A v - 5A) v + 8A) v - 4A */
      w[k] = kb_sub(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, kb_sub(kb, kb_mul(kb, kb_float(kb, ft, A), v), kb_float(kb, ft, 5 * A)), v),
                                           kb_float(kb, ft, 8 * A)), v),
                    kb_float(kb, ft, 4 * A));
  }
}

/* taps along one axis: integer positions (i64 lanes), weights, in-bounds masks; returns the count */
static int gs_taps(KB *kb, const GsCtx *g, KV x, int64_t S, KV *idx, KV *w, KV *ok) {
  KT ft = kb_type(kb, x), it = kt(KE_I64, g->W);
  KV lo = kb_float(kb, ft, 0), hi = kb_float(kb, ft, (double)(S - 1));
  int nt;
  KV pos[4];
  if (g->mode == GS_NEAREST) {
    nt = 1;
    pos[0] = kb_round_even(kb, gs_pad(kb, g, x, S));
    w[0] = kb_float(kb, ft, 1);
  } else if (g->mode == GS_LINEAR) {
    nt = 2;
    KV c = gs_pad(kb, g, x, S), f = kb_floor(kb, c), t = kb_sub(kb, c, f);
    pos[0] = f, pos[1] = kb_add(kb, f, kb_float(kb, ft, 1));
    w[0] = kb_sub(kb, kb_float(kb, ft, 1), t), w[1] = t;
  } else {
    nt = 4;
    KV f = kb_floor(kb, x);
    gs_cubic_w(kb, kb_sub(kb, x, f), w);
    for (int k = 0; k < 4; k++) pos[k] = gs_pad(kb, g, kb_add(kb, f, kb_float(kb, ft, k - 1)), S);
  }
  for (int k = 0; k < nt; k++) {
    ok[k] = kb_and(kb, kb_cmp(kb, KC_GE, pos[k], lo, false), kb_cmp(kb, KC_LE, pos[k], hi, false));
    idx[k] = kb_cast(kb, kb_select(kb, ok[k], pos[k], lo), it, false, false);
  }
  return nt;
}

/* grid value in [-1, 1] → input coordinate */
static KV gs_unnorm(KB *kb, const GsCtx *g, KV v, int64_t S) {
  KT t = kb_type(kb, v);
  KV p1 = kb_add(kb, v, kb_float(kb, t, 1));
  if (g->ac) return kb_mul(kb, p1, kb_float(kb, t, (double)(S - 1) / 2));
  return kb_mul(kb, kb_sub(kb, kb_mul(kb, p1, kb_float(kb, t, (double)S)), kb_float(kb, t, 1)), kb_float(kb, t, 0.5));
}

static void gs_body(KB *kb, void *ud, KV j, KV mask) {
  GsCtx *g = ud;
  KT ft = kt(g->fe, g->W), it = kt(KE_I64, g->W);
  KV lane = kb_add(kb, kb_splat(kb, j, g->W), kb_iota(kb, it));
  KV all = mask ? mask : kb_cmp(kb, KC_GE, lane, kb_int(kb, it, 0), false);
  KV gi = kb_mul(kb, lane, kb_int(kb, it, 2));
  KV gx = kb_select(kb, all, kb_gather(kb, ft, g->grid_row, gi, all), kb_float(kb, ft, 0));
  KV gy = kb_select(kb, all, kb_gather(kb, ft, g->grid_row, kb_add(kb, gi, kb_int(kb, it, 1)), all), kb_float(kb, ft, 0));
  KV ix[4], wx[4], okx[4], iy[4], wy[4], oky[4];
  int nx = gs_taps(kb, g, gs_unnorm(kb, g, gx, g->Wd), g->Wd, ix, wx, okx);
  int ny = gs_taps(kb, g, gs_unnorm(kb, g, gy, g->H), g->H, iy, wy, oky);
  KV tidx[16], tw[16], tok[16];
  for (int a = 0; a < ny; a++)
    for (int b = 0; b < nx; b++) {
      int k = a * nx + b;
      tidx[k] = kb_add(kb, kb_mul(kb, iy[a], kb_int(kb, it, g->Wd)), ix[b]);
      tw[k] = kb_mul(kb, wy[a], wx[b]);
      tok[k] = kb_and(kb, all, kb_and(kb, oky[a], okx[b]));
    }
  KV c = kb_for(kb, i64c(kb, 0), i64c(kb, g->C), 1);
  KV plane = kb_gep(kb, g->fe, g->x_img, kb_mul(kb, c, i64c(kb, g->H * g->Wd)));
  KV acc = kb_float(kb, ft, 0);
  for (int k = 0; k < nx * ny; k++) {
    KV v = kb_select(kb, tok[k], kb_gather(kb, ft, plane, tidx[k], tok[k]), kb_float(kb, ft, 0));
    acc = kb_fma(kb, v, tw[k], acc);
  }
  KV out = kb_gep(kb, g->fe, g->y_row, kb_add(kb, kb_mul(kb, c, i64c(kb, g->plane_out)), j));
  gen_vstore(kb, acc, out, mask);
  kb_endfor(kb);
}

static int gen_gridsample(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  Value *x = n->in[0], *gr = n->in[1], *y = n->out[0];
  if ((x->dtype != DT_FLOAT && x->dtype != DT_DOUBLE) || gr->dtype != x->dtype)
    return ir_node_error(c->g, n, "only float32/float64 X with a grid of the same dtype is supported");
  const char *mode = ir_attr_str(n, "mode", "bilinear"), *pad = ir_attr_str(n, "padding_mode", "zeros");
  GsCtx g = {.fe = kb_elem_of(x->dtype), .ac = ir_attr_int(n, "align_corners", 0) != 0, .H = x->dims[2],
             .Wd = x->dims[3], .C = x->dims[1], .plane_out = y->dims[2] * y->dims[3]};
  g.W = gen_lanes_cap(c, dtype_size(x->dtype), 16);
  g.mode = !strcmp(mode, "nearest") ? GS_NEAREST : !strcmp(mode, "bicubic") || !strcmp(mode, "cubic") ? GS_CUBIC : GS_LINEAR;
  g.pad = !strcmp(pad, "border") ? GS_BORDER : !strcmp(pad, "reflection") ? GS_REFLECT : GS_ZEROS;
  int64_t N = x->dims[0], Ho = y->dims[2], Wo = y->dims[3], rows = N * Ho;
  c->work = rows > 1 && rows * Wo * g.C >= (1 << 14) ? rows : 1;
  KV r = kb_for(kb, c->work > 1 ? kb_begin(kb) : i64c(kb, 0), c->work > 1 ? kb_end(kb) : i64c(kb, rows), 1);
  KV b = kb_div(kb, r, i64c(kb, Ho), false), ho = kb_rem(kb, r, i64c(kb, Ho), false);
  g.x_img = kb_gep(kb, g.fe, kb_buf(kb, 0), kb_mul(kb, b, i64c(kb, g.C * g.H * g.Wd)));
  g.grid_row = kb_gep(kb, g.fe, kb_buf(kb, 1), kb_mul(kb, r, i64c(kb, Wo * 2)));
  g.y_row = kb_gep(kb, g.fe, kb_buf(kb, 2),
                   kb_add(kb, kb_mul(kb, b, i64c(kb, g.C * g.plane_out)), kb_mul(kb, ho, i64c(kb, Wo))));
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, Wo), g.W, gs_body, &g);
  kb_endfor(kb);
  return 0;
}

/* ---- RoiAlign ---- */

typedef struct RaCtx {
  KElem fe;
  int W;
  bool avg;
  int64_t C, H, Wd, oh, ow, sr;
  KV x_img, y_roi;                      /* X[b], Y[r] */
  KV x1, y1, bin_w, bin_h, gw, gh, cnt; /* scalars of this roi (gw, gh: grid points per axis, floats) */
} RaCtx;

/* Grid points per axis: ceil(bin), or 0 for an empty, negative or NaN bin (no samples). */
static KV ra_grid(KB *kb, KV bin) {
  KT t = kb_type(kb, bin);
  KV g = kb_ceil(kb, bin);
  return kb_select(kb, kb_cmp(kb, KC_GE, g, kb_float(kb, t, 1), false), g, kb_float(kb, t, 0));
}

/* The sample indices [lo, hi) (i64) of one bin along an axis of size S that may land in [-1, S]
 * (sampling_ratio 0): sample k sits at start + (k + 0.5)·bin/g.  Worked out in double with a margin for the rounding
 * of the kernel's own arithmetic (eps: a few ulps of its type), clamped to [0, g).  *over is set
 * (i1) when the range is wider than any roi can need (cap) or g is too large to index: the
 * arithmetic lost the precision to bound it. */
static void ra_range(KB *kb, const RaCtx *r, KV start, KV bin, KV g, int64_t S, KV *lo, KV *hi, KV *over) {
  if (r->sr > 0) { /* a fixed grid: sr points, a compile-time bound */
    *lo = i64c(kb, 0), *hi = i64c(kb, r->sr), *over = kb_false(kb);
    return;
  }
  KT d = kt_s(KE_F64);
  /* g >= 1 means bin > 0 (g = ceil(bin)), so step > 0; at most ~2(S+1) samples plus the slack */
  int64_t cap = 2 * S + 80;
  double eps = r->fe == KE_F64 ? 0x1p-48 : 0x1p-20;
  start = kb_cast(kb, start, d, false, false), bin = kb_cast(kb, bin, d, false, false);
  g = kb_cast(kb, g, d, false, false);
  KV zero = kb_float(kb, d, 0);
  KV step = kb_div(kb, bin, kb_select(kb, kb_cmp(kb, KC_GT, g, zero, false), g, kb_float(kb, d, 1)), false);
  KV base = kb_add(kb, start, kb_mul(kb, step, kb_float(kb, d, 0.5)));
  KV slack = kb_add(kb, kb_float(kb, d, 2),
                    kb_div(kb, kb_mul(kb, kb_add(kb, kb_abs(kb, start), kb_abs(kb, bin)), kb_float(kb, d, eps)), step, false));
  KV l = kb_sub(kb, kb_floor(kb, kb_div(kb, kb_sub(kb, kb_float(kb, d, -1), base), step, false)), slack);
  KV h = kb_add(kb, kb_floor(kb, kb_div(kb, kb_sub(kb, kb_float(kb, d, (double)S), base), step, false)),
                kb_add(kb, slack, kb_float(kb, d, 1)));
  /* selects, not min/max: a NaN bound gives the empty range */
  l = kb_select(kb, kb_cmp(kb, KC_GT, l, zero, false), l, zero);
  l = kb_select(kb, kb_cmp(kb, KC_LT, l, g, false), l, g);
  h = kb_select(kb, kb_cmp(kb, KC_GT, h, l, false), h, l);
  h = kb_select(kb, kb_cmp(kb, KC_LT, h, g, false), h, g);
  *over = kb_or(kb, kb_cmp(kb, KC_GT, g, kb_float(kb, d, 0x1p52), false),
                kb_cmp(kb, KC_GT, kb_sub(kb, h, l), kb_float(kb, d, (double)cap), false));
  KV safe = kb_not(kb, *over);
  *lo = kb_cast(kb, kb_select(kb, safe, l, zero), kt_s(KE_I64), false, false);
  *hi = kb_cast(kb, kb_select(kb, safe, h, zero), kt_s(KE_I64), false, false);
}

/* one axis of a sample point: clamped low/high corner (i64) and the fraction, or "skip" (i1) */
static void ra_axis(KB *kb, KV v, int64_t S, KV *lo, KV *hi, KV *frac, KV *skip) {
  KT t = kb_type(kb, v);
  *skip = kb_or(kb, kb_cmp(kb, KC_LT, v, kb_float(kb, t, -1), false), kb_cmp(kb, KC_GT, v, kb_float(kb, t, (double)S), false));
  /* into [0, S] before the integer conversion (selects: NaN goes to 0), so it is always defined */
  v = kb_select(kb, kb_cmp(kb, KC_GT, v, kb_float(kb, t, 0), false), v, kb_float(kb, t, 0));
  v = kb_select(kb, kb_cmp(kb, KC_LT, v, kb_float(kb, t, (double)S), false), v, kb_float(kb, t, (double)S));
  KV l = kb_cast(kb, v, kt_s(KE_I64), false, false);
  KV top = kb_cmp(kb, KC_GE, l, i64c(kb, S - 1), false);
  *lo = kb_select(kb, top, i64c(kb, S - 1), l);
  *hi = kb_select(kb, top, i64c(kb, S - 1), kb_add(kb, l, i64c(kb, 1)));
  v = kb_select(kb, top, kb_cast(kb, *lo, t, false, false), v);
  *frac = kb_sub(kb, v, kb_cast(kb, *lo, t, false, false));
}

static void ra_body(KB *kb, void *ud, KV j, KV mask) {
  RaCtx *r = ud;
  KT ft = kt(r->fe, r->W), it = kt(KE_I64, r->W), st = kt_s(r->fe);
  KV cv = kb_add(kb, kb_splat(kb, j, r->W), kb_iota(kb, it));
  KV all = mask ? mask : kb_cmp(kb, KC_GE, cv, kb_int(kb, it, 0), false);
  KV cbase = kb_mul(kb, cv, kb_int(kb, it, r->H * r->Wd));
  KV half = kb_float(kb, st, 0.5), zero = kb_float(kb, st, 0), one = kb_float(kb, st, 1);
  KV gwf = r->gw, ghf = r->gh, y0, y9, yover, x0, x9, xover; /* sample ranges [y0, y9), [x0, x9) */
  KV ph = kb_for(kb, i64c(kb, 0), i64c(kb, r->oh), 1);
  KV ystart = kb_add(kb, r->y1, kb_mul(kb, kb_cast(kb, ph, st, false, false), r->bin_h));
  ra_range(kb, r, ystart, r->bin_h, ghf, r->H, &y0, &y9, &yover);
  KV pw = kb_for(kb, i64c(kb, 0), i64c(kb, r->ow), 1);
  KV xstart = kb_add(kb, r->x1, kb_mul(kb, kb_cast(kb, pw, st, false, false), r->bin_w));
  ra_range(kb, r, xstart, r->bin_w, gwf, r->Wd, &x0, &x9, &xover);
  kb_if(kb, kb_or(kb, yover, xover));
  kb_return_status(kb, kb_i32(kb, ST_BOUND));
  kb_endif(kb);
  KV init = kb_float(kb, st, 0);
  if (!r->avg) { /* samples left out would each have added a 0 to the max */
    KV seen = kb_mul(kb, kb_sub(kb, y9, y0), kb_sub(kb, x9, x0));
    KV part = kb_cmp(kb, KC_GT, kb_mul(kb, gwf, ghf), kb_cast(kb, seen, st, false, false), false);
    init = kb_select(kb, part, zero, kb_float(kb, st, -INFINITY));
  }
  KVar acc = kb_var(kb, ft, kb_splat(kb, init, r->W));
  KV iy = kb_for(kb, y0, y9, 1);
  KV yy = kb_add(kb, ystart,
                 kb_div(kb, kb_mul(kb, kb_add(kb, kb_cast(kb, iy, st, false, false), half), r->bin_h), ghf, false));
  KV ix = kb_for(kb, x0, x9, 1);
  KV xx = kb_add(kb, xstart,
                 kb_div(kb, kb_mul(kb, kb_add(kb, kb_cast(kb, ix, st, false, false), half), r->bin_w), gwf, false));
  KV ylo, yhi, ly, sy, xlo, xhi, lx, sx;
  ra_axis(kb, yy, r->H, &ylo, &yhi, &ly, &sy);
  ra_axis(kb, xx, r->Wd, &xlo, &xhi, &lx, &sx);
  KV skip = kb_or(kb, sy, sx);
  KV hy = kb_sub(kb, one, ly), hx = kb_sub(kb, one, lx);
  KV wts[4] = {kb_mul(kb, hy, hx), kb_mul(kb, hy, lx), kb_mul(kb, ly, hx), kb_mul(kb, ly, lx)};
  KV pos[4] = {kb_add(kb, kb_mul(kb, ylo, i64c(kb, r->Wd)), xlo), kb_add(kb, kb_mul(kb, ylo, i64c(kb, r->Wd)), xhi),
               kb_add(kb, kb_mul(kb, yhi, i64c(kb, r->Wd)), xlo), kb_add(kb, kb_mul(kb, yhi, i64c(kb, r->Wd)), xhi)};
  KV a = kb_get(kb, acc);
  for (int k = 0; k < 4; k++) {
    KV w = kb_splat(kb, kb_select(kb, skip, zero, wts[k]), r->W);
    KV v = kb_gather(kb, ft, r->x_img, kb_add(kb, cbase, kb_splat(kb, pos[k], r->W)), all);
    v = kb_mul(kb, kb_select(kb, all, v, kb_float(kb, ft, 0)), w);
    a = r->avg ? kb_add(kb, a, v) : kb_max(kb, a, v, false);
  }
  kb_set(kb, acc, a);
  kb_endfor(kb);
  kb_endfor(kb);
  KV res = kb_get(kb, acc);
  if (r->avg) res = kb_div(kb, res, kb_splat(kb, r->cnt, r->W), false);
  else res = kb_select(kb, kb_cmp(kb, KC_EQ, res, kb_float(kb, ft, -INFINITY), false), kb_float(kb, ft, 0), res);
  KV o = kb_add(kb, kb_mul(kb, cv, kb_int(kb, it, r->oh * r->ow)),
                kb_splat(kb, kb_add(kb, kb_mul(kb, ph, i64c(kb, r->ow)), pw), r->W));
  kb_scatter(kb, res, r->y_roi, o, all);
  kb_endfor(kb);
  kb_endfor(kb);
}

static int gen_roialign(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  Value *x = n->in[0], *rois = n->in[1], *bi = n->in[2];
  if (x->dtype != DT_FLOAT && x->dtype != DT_DOUBLE) return ir_node_error(c->g, n, "only float32/float64 X is supported");
  RaCtx r = {.fe = kb_elem_of(x->dtype), .avg = strcmp(ir_attr_str(n, "mode", "avg"), "max") != 0, .C = x->dims[1],
             .H = x->dims[2], .Wd = x->dims[3], .oh = ir_attr_int(n, "output_height", 1),
             .ow = ir_attr_int(n, "output_width", 1)};
  r.W = gen_lanes_cap(c, dtype_size(x->dtype), 16);
  bool half_pixel = strcmp(ir_attr_str(n, "coordinate_transformation_mode", "half_pixel"), "output_half_pixel") != 0;
  double scale = ir_attr_float(n, "spatial_scale", 1.0f);
  int64_t sr = ir_attr_int(n, "sampling_ratio", 0), R = rois->dims[0], N = x->dims[0];
  KT st = kt_s(r.fe);
  c->work = R > 1 && R * r.C * r.oh * r.ow >= (1 << 12) ? R : 1;
  KV ri = kb_for(kb, c->work > 1 ? kb_begin(kb) : i64c(kb, 0), c->work > 1 ? kb_end(kb) : i64c(kb, R), 1);
  KElem be = kb_elem_of(bi->dtype);
  KV b = kb_cast(kb, kb_load(kb, kt_s(be), kb_gep(kb, be, kb_buf(kb, 2), ri)), kt_s(KE_I64), false, false);
  kb_if(kb, kb_cmp(kb, KC_GE, b, i64c(kb, N), true)); /* unsigned: negatives too */
  kb_return_status(kb, kb_i32(kb, ST_INDEX));
  kb_endif(kb);
  KV rp = kb_gep(kb, r.fe, kb_buf(kb, 1), kb_mul(kb, ri, i64c(kb, 4)));
  KV co[4];
  for (int k = 0; k < 4; k++)
    co[k] = kb_sub(kb, kb_mul(kb, kb_load(kb, st, kb_gep(kb, r.fe, rp, i64c(kb, k))), kb_float(kb, st, scale)),
                   kb_float(kb, st, half_pixel ? 0.5 : 0));
  KV rw = kb_sub(kb, co[2], co[0]), rh = kb_sub(kb, co[3], co[1]);
  if (!half_pixel) rw = kb_max(kb, rw, kb_float(kb, st, 1), false), rh = kb_max(kb, rh, kb_float(kb, st, 1), false);
  r.x1 = co[0], r.y1 = co[1];
  r.bin_w = kb_div(kb, rw, kb_float(kb, st, (double)r.ow), false);
  r.bin_h = kb_div(kb, rh, kb_float(kb, st, (double)r.oh), false);
  if (sr > 0) r.gw = r.gh = kb_float(kb, st, (double)sr);
  else r.gw = ra_grid(kb, r.bin_w), r.gh = ra_grid(kb, r.bin_h);
  r.sr = sr > 0 ? sr : 0;
  r.cnt = kb_max(kb, kb_mul(kb, r.gw, r.gh), kb_float(kb, st, 1), false);
  r.x_img = kb_gep(kb, r.fe, kb_buf(kb, 0), kb_mul(kb, b, i64c(kb, r.C * r.H * r.Wd)));
  r.y_roi = kb_gep(kb, r.fe, kb_buf(kb, 3), kb_mul(kb, ri, i64c(kb, r.C * r.oh * r.ow)));
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, r.C), r.W, ra_body, &r);
  kb_endfor(kb);
  return 0;
}

int gen_vision(GenCtx *c) {
  switch (c->n->op) {
  case OP_GridSample: return gen_gridsample(c);
  case OP_RoiAlign: return gen_roialign(c);
  default: return ir_node_error(c->g, c->n, "output shape depends on input data: its inputs must be constants");
  }
}
