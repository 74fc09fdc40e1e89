/* gen_signal.c — code generation for the F_SIGNAL family: DFT and STFT.  (The window generators
 * and MelWeightMatrix always have constant inputs and are folded in ir/shape_signal.c.)
 *
 * Both are one kernel: a vectorized direct DFT.  Each "line" (one signal along DFT's axis, or one
 * frame of STFT) computes W output bins at a time: for every input sample n the twiddle index
 * (k·n) mod L advances by k per lane (one compare-and-subtract keeps it in range), cos/sin are
 * gathered from a table of L entries baked into the weights, and the re/im sums are FMAs.
 *
 * Why a direct DFT and not an FFT: it handles every length (the suite uses 10 and 16; real models
 * use 400, 512, ...) with one loop nest and no per-size plan, it vectorizes over output bins with no
 * shuffles, and the table stays in L1 for the sizes these ops see.  It is O(L²) per line; a
 * mixed-radix FFT is the upgrade for long transforms. */
#include <math.h>
#include <string.h>

#include "gen_util.h"

static KV i64c(KB *kb, int64_t x) { return kb_i64(kb, x); }

/* line = (hi, lo), lo in [0, nlo): the input/output element offsets of its first sample/bin */
typedef struct DftPlan {
  int64_t lines, nlo, in_hi, in_lo, out_hi, out_lo;
  int64_t L;        /* transform length (twiddle period) */
  int64_t nsamp;    /* input samples used per line (the rest are zero padding) */
  int64_t in_step;  /* element stride between samples */
  int64_t nbins;    /* output bins per line */
  int64_t out_step; /* element stride between bins */
  bool complex_in, inverse;
  int window;       /* buffer index of the STFT window, or -1 */
} DftPlan;

typedef struct DftCtx {
  const DftPlan *p;
  KElem fe;
  int W;
  KV x, y, win, cos_t, sin_t; /* x, y at this line's first sample / bin */
} DftCtx;

static void dft_body(KB *kb, void *ud, KV j, KV mask) {
  DftCtx *d = ud;
  const DftPlan *p = d->p;
  KT ft = kt(d->fe, d->W), it = kt(KE_I32, d->W), st = kt_s(d->fe);
  KV k = kb_add(kb, kb_splat(kb, kb_cast(kb, j, kt_s(KE_I32), false, false), d->W), kb_iota(kb, it));
  KV L = kb_int(kb, it, p->L);
  KVar idx = kb_var(kb, it, kb_int(kb, it, 0));
  KVar re = kb_var(kb, ft, kb_float(kb, ft, 0)), im = kb_var(kb, ft, kb_float(kb, ft, 0));
  KV n = kb_for(kb, i64c(kb, 0), i64c(kb, p->nsamp), 1);
  KV at = kb_mul(kb, n, i64c(kb, p->in_step));
  KV xr = kb_load(kb, st, kb_gep(kb, d->fe, d->x, at));
  KV xi = p->complex_in ? kb_load(kb, st, kb_gep(kb, d->fe, d->x, kb_add(kb, at, i64c(kb, 1)))) : NULL;
  if (d->win) {
    KV w = kb_load(kb, st, kb_gep(kb, d->fe, d->win, n));
    xr = kb_mul(kb, xr, w);
    if (xi) xi = kb_mul(kb, xi, w);
  }
  KV t = kb_get(kb, idx);
  KV c = kb_gather(kb, ft, d->cos_t, t, NULL), s = kb_gather(kb, ft, d->sin_t, t, NULL);
  /* forward: (xr + i xi)(c - i s); inverse: (xr + i xi)(c + i s) */
  if (p->inverse) s = kb_neg(kb, s);
  KV vr = kb_splat(kb, xr, d->W);
  KV r = kb_fma(kb, vr, c, kb_get(kb, re)), i = kb_sub(kb, kb_get(kb, im), kb_mul(kb, vr, s));
  if (xi) {
    KV vi = kb_splat(kb, xi, d->W);
    r = kb_fma(kb, vi, s, r);
    i = kb_fma(kb, vi, c, i);
  }
  kb_set(kb, re, r);
  kb_set(kb, im, i);
  KV nt = kb_add(kb, t, k);
  kb_set(kb, idx, kb_select(kb, kb_cmp(kb, KC_GE, nt, L, false), kb_sub(kb, nt, L), nt));
  kb_endfor(kb);
  KV rr = kb_get(kb, re), ii = kb_get(kb, im);
  if (p->inverse) {
    KV sc = kb_float(kb, ft, 1.0 / (double)p->L);
    rr = kb_mul(kb, rr, sc), ii = kb_mul(kb, ii, sc);
  }
  KV o = kb_mul(kb, kb_cast(kb, k, kt(KE_I64, d->W), false, false), kb_int(kb, kt(KE_I64, d->W), p->out_step));
  kb_scatter(kb, rr, d->y, o, mask);
  kb_scatter(kb, ii, d->y, kb_add(kb, o, kb_int(kb, kt(KE_I64, d->W), 1)), mask);
}

static int emit_dft(GenCtx *c, const DftPlan *p) {
  KB *kb = c->kb;
  Node *n = c->n;
  DType t = n->in[0]->dtype;
  if (t != DT_FLOAT && t != DT_DOUBLE) return ir_node_error(c->g, n, "only float32 and float64 signals are supported");
  if (p->L > INT32_MAX / 2) return ir_node_error(c->g, n, "transform length %lld is too large", (long long)p->L);
  DftCtx d = {.p = p, .fe = kb_elem_of(t)};
  d.W = gen_lanes_cap(c, kb_elem_size(d.fe), 16);
  size_t es = dtype_size(t);
  char *tab = arena_alloc(c->g->arena, 2 * es * (size_t)p->L);
  for (int64_t i = 0; i < p->L; i++) {
    double th = 2 * M_PI * (double)i / (double)p->L;
    ir_store_f64(t, tab, i, cos(th));
    ir_store_f64(t, tab, p->L + i, sin(th));
  }
  KV tw = kb_weight(kb, tab, 2 * es * (size_t)p->L);
  d.cos_t = tw;
  d.sin_t = kb_gep(kb, d.fe, tw, i64c(kb, p->L));
  int64_t flops = p->lines * p->nbins * p->nsamp;
  c->work = flops >= (1 << 15) && p->lines > 1 ? p->lines : 1;
  KV line = kb_for(kb, c->work > 1 ? kb_begin(kb) : i64c(kb, 0), c->work > 1 ? kb_end(kb) : i64c(kb, p->lines), 1);
  KV hi = kb_div(kb, line, i64c(kb, p->nlo), false), lo = kb_rem(kb, line, i64c(kb, p->nlo), false);
  KV xo = kb_add(kb, kb_mul(kb, hi, i64c(kb, p->in_hi)), kb_mul(kb, lo, i64c(kb, p->in_lo)));
  KV yo = kb_add(kb, kb_mul(kb, hi, i64c(kb, p->out_hi)), kb_mul(kb, lo, i64c(kb, p->out_lo)));
  d.x = kb_gep(kb, d.fe, kb_buf(kb, 0), xo);
  d.y = kb_gep(kb, d.fe, kb_buf(kb, n->nin), yo);
  d.win = p->window >= 0 ? kb_buf(kb, p->window) : NULL;
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, p->nbins), d.W, dft_body, &d);
  kb_endfor(kb);
  return 0;
}

static int gen_dft(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int axis;
  int64_t L;
  if (ir_dft_plan(c->g, n, &axis, &L)) return -1;
  int64_t outer = 1, inner = 1, C = x->dims[x->rank - 1];
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank - 1; d++) inner *= x->dims[d];
  int64_t Lin = x->dims[axis], K = y->dims[axis];
  DftPlan p = {.lines = outer * inner, .nlo = inner, .in_hi = Lin * inner * C, .in_lo = C, .out_hi = K * inner * 2,
               .out_lo = 2, .L = L, .nsamp = Lin < L ? Lin : L, .in_step = inner * C, .nbins = K,
               .out_step = inner * 2, .complex_in = C == 2, .inverse = ir_attr_int(n, "inverse", 0) != 0,
               .window = -1};
  for (int i = 1; i < n->nin; i++) c->const_unused |= n->in[i] ? 1u << i : 0; /* sizes: compile-time */
  return emit_dft(c, &p);
}

static int gen_stft(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int64_t step, flen, frames;
  if (ir_stft_plan(c->g, n, &step, &flen, &frames)) return -1;
  int64_t Ls = x->dims[1], C = x->dims[2], bins = y->dims[2];
  DftPlan p = {.lines = x->dims[0] * frames, .nlo = frames, .in_hi = Ls * C, .in_lo = step * C,
               .out_hi = frames * bins * 2, .out_lo = bins * 2, .L = flen, .nsamp = flen, .in_step = C,
               .nbins = bins, .out_step = 2, .complex_in = C == 2, .inverse = false,
               .window = n->nin > 2 && n->in[2] ? 2 : -1};
  c->const_unused |= 1u << 1;
  if (n->nin > 3 && n->in[3]) c->const_unused |= 1u << 3;
  return emit_dft(c, &p);
}

int gen_signal(GenCtx *c) {
  switch (c->n->op) {
  case OP_DFT: return gen_dft(c);
  case OP_STFT: return gen_stft(c);
  default: return ir_node_error(c->g, c->n, "no code generator for this op (it folds when its inputs are constant)");
  }
}
