/* gen_signal.c — code generation for the F_SIGNAL family: DFT and STFT.  (The window generators
 * and MelWeightMatrix always have constant inputs and are folded in ir/shape_signal.c.)
 *
 * Both are one kernel: a vectorized direct DFT.  A block of 4 "lines" (signals along DFT's axis,
 * or frames of STFT) computes W output bins at a time: for every input sample n, one cos and one
 * sin vector of twiddles serve all 4 lines (re/im sums are FMAs).  The twiddles are baked into the
 * weights: as [samples][bins] matrices (contiguous vector loads) up to 2^20 entries, beyond that
 * as one table of L entries, gathered at (k·n) mod L (the index advances by k per lane; one
 * compare-and-subtract keeps it in range).
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

#define DFT_LB 4                  /* lines per block: they share every twiddle vector */
#define DFT_MATRIX_MAX (1 << 20)  /* up to this many samples × bins, the twiddles are a matrix */

typedef struct DftCtx {
  const DftPlan *p;
  KElem fe;
  int W;
  bool matrix;                  /* twiddles as [nsamp][nbins] matrices, else a table of L */
  KV x[DFT_LB], y[DFT_LB];      /* per line of the block: first sample / bin */
  KV nlines;                    /* lines in this block */
  KV win, cos_t, sin_t;
} DftCtx;

static void dft_body(KB *kb, void *ud, KV j, KV mask) {
  DftCtx *d = ud;
  const DftPlan *p = d->p;
  KT ft = kt(d->fe, d->W), it = kt(KE_I32, d->W), st = kt_s(d->fe), lt = kt(KE_I64, d->W);
  KV k = kb_add(kb, kb_splat(kb, kb_cast(kb, j, kt_s(KE_I32), false, false), d->W), kb_iota(kb, it));
  KV L = kb_int(kb, it, p->L);
  KVar idx = d->matrix ? NULL : kb_var(kb, it, kb_int(kb, it, 0));
  /* the table index advances by k mod L: the tail's lanes past the last bin have k >= nbins, up to
   * L + W - 2 (the table is used only for L > 1024 > W), and one compare-and-subtract per sample
   * keeps the index in [0, L) only for a step below L */
  KV kstep = d->matrix ? NULL : kb_select(kb, kb_cmp(kb, KC_GE, k, L, false), kb_sub(kb, k, L), k);
  KVar re[DFT_LB], im[DFT_LB];
  for (int l = 0; l < DFT_LB; l++) re[l] = kb_var(kb, ft, kb_float(kb, ft, 0)), im[l] = kb_var(kb, ft, kb_float(kb, ft, 0));
  KV n = kb_for(kb, i64c(kb, 0), i64c(kb, p->nsamp), 1);
  KV c, s;
  if (d->matrix) {
    KV at = kb_add(kb, kb_mul(kb, n, i64c(kb, p->nbins)), j);
    c = gen_vload(kb, ft, kb_gep(kb, d->fe, d->cos_t, at), mask);
    s = gen_vload(kb, ft, kb_gep(kb, d->fe, d->sin_t, at), mask);
  } else {
    KV t = kb_get(kb, idx);
    c = kb_gather(kb, ft, d->cos_t, t, NULL), s = kb_gather(kb, ft, d->sin_t, t, NULL);
    KV nt = kb_add(kb, t, kstep);
    kb_set(kb, idx, kb_select(kb, kb_cmp(kb, KC_GE, nt, L, false), kb_sub(kb, nt, L), nt));
  }
  /* forward: (xr + i xi)(c - i s); inverse: (xr + i xi)(c + i s) */
  if (p->inverse) s = kb_neg(kb, s);
  KV w = d->win ? kb_load(kb, st, kb_gep(kb, d->fe, d->win, n)) : NULL;
  KV at = kb_mul(kb, n, i64c(kb, p->in_step));
  for (int l = 0; l < DFT_LB; l++) {
    KV xr = kb_load(kb, st, kb_gep(kb, d->fe, d->x[l], at));
    KV xi = p->complex_in ? kb_load(kb, st, kb_gep(kb, d->fe, d->x[l], kb_add(kb, at, i64c(kb, 1)))) : NULL;
    if (w) xr = kb_mul(kb, xr, w), xi = xi ? kb_mul(kb, xi, w) : NULL;
    KV vr = kb_splat(kb, xr, d->W);
    KV r = kb_fma(kb, vr, c, kb_get(kb, re[l])), i = kb_sub(kb, kb_get(kb, im[l]), kb_mul(kb, vr, s));
    if (xi) {
      KV vi = kb_splat(kb, xi, d->W);
      r = kb_fma(kb, vi, s, r);
      i = kb_fma(kb, vi, c, i);
    }
    kb_set(kb, re[l], r);
    kb_set(kb, im[l], i);
  }
  kb_endfor(kb);
  KV o = kb_mul(kb, kb_cast(kb, k, lt, false, false), kb_int(kb, lt, p->out_step));
  KV o1 = kb_add(kb, o, kb_int(kb, lt, 1));
  for (int l = 0; l < DFT_LB; l++) {
    if (l) kb_if(kb, kb_cmp(kb, KC_LT, i64c(kb, l), d->nlines, false));
    KV rr = kb_get(kb, re[l]), ii = kb_get(kb, im[l]);
    if (p->inverse) {
      KV sc = kb_float(kb, ft, 1.0 / (double)p->L);
      rr = kb_mul(kb, rr, sc), ii = kb_mul(kb, ii, sc);
    }
    kb_scatter(kb, rr, d->y[l], o, mask);
    kb_scatter(kb, ii, d->y[l], o1, mask);
    if (l) kb_endif(kb);
  }
}

static int emit_dft(GenCtx *c, const DftPlan *p) {
  KB *kb = c->kb;
  Node *n = c->n;
  DType t = n->in[0]->dtype;
  if (t != DT_FLOAT && t != DT_DOUBLE) return ir_node_error(c->g, n, "only float32 and float64 signals are supported");
  if (p->L > (1 << 24)) return ir_node_error(c->g, n, "transform length %lld is too large (at most 2^24)", (long long)p->L);
  DftCtx d = {.p = p, .fe = kb_elem_of(t), .matrix = p->nsamp * p->nbins <= DFT_MATRIX_MAX};
  d.W = gen_lanes_cap(c, kb_elem_size(d.fe), 16);
  size_t es = dtype_size(t);
  int64_t cnt = d.matrix ? p->nsamp * p->nbins : p->L;
  char *tab = arena_alloc(c->g->arena, 2 * es * (size_t)cnt);
  for (int64_t i = 0; i < cnt; i++) {
    /* matrix entry (n, k) holds the twiddle of (k·n) mod L; the table entry i that of i */
    int64_t e = d.matrix ? (i % p->nbins) * (i / p->nbins) % p->L : i;
    double th = 2 * M_PI * (double)e / (double)p->L;
    ir_store_f64(t, tab, i, cos(th));
    ir_store_f64(t, tab, cnt + i, sin(th));
  }
  KV tw = kb_weight(kb, tab, 2 * es * (size_t)cnt);
  d.cos_t = tw;
  d.sin_t = kb_gep(kb, d.fe, tw, i64c(kb, cnt));
  int64_t blocks = (p->lines + DFT_LB - 1) / DFT_LB;
  c->work = p->lines * p->nbins * p->nsamp >= (1 << 15) && blocks > 1 ? blocks : 1;
  KV blk = kb_for(kb, c->work > 1 ? kb_begin(kb) : i64c(kb, 0), c->work > 1 ? kb_end(kb) : i64c(kb, blocks), 1);
  KV l0 = kb_mul(kb, blk, i64c(kb, DFT_LB));
  d.nlines = kb_min(kb, i64c(kb, DFT_LB), kb_sub(kb, i64c(kb, p->lines), l0), false);
  for (int l = 0; l < DFT_LB; l++) {
    /* lines past the end of a short block repeat its last line; their results are not stored */
    KV line = kb_min(kb, kb_add(kb, l0, i64c(kb, l)), i64c(kb, p->lines - 1), false);
    KV hi = kb_div(kb, line, i64c(kb, p->nlo), false), lo = kb_rem(kb, line, i64c(kb, p->nlo), false);
    KV xo = kb_add(kb, kb_mul(kb, hi, i64c(kb, p->in_hi)), kb_mul(kb, lo, i64c(kb, p->in_lo)));
    KV yo = kb_add(kb, kb_mul(kb, hi, i64c(kb, p->out_hi)), kb_mul(kb, lo, i64c(kb, p->out_lo)));
    d.x[l] = kb_gep(kb, d.fe, kb_buf(kb, 0), xo);
    d.y[l] = kb_gep(kb, d.fe, kb_buf(kb, n->nin), yo);
  }
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
