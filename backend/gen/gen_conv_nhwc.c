/* gen_conv_nhwc.c — depthwise Conv on pixel-major values (passes/layout.c chose them): x is
 * [N·H·W, C], y [N·OH·OW, C] (NHWC), the node marked Node.nhwc with its geometry in the attribute
 * "nhwc" {N, H, W, OH, OW}.  Vectors run over channels, so a 7- or 14-pixel row fills every lane
 * that NCHW's row vectors (gen_conv.c conv_dw) leave idle, and strides cost nothing extra.
 *
 * A task is one output row of one image × up to CHUNK vectors of channels; per vector of L channels, the row is cut into strips of
 * up to TW output pixels whose TW sums stay in registers: each kernel row's input pixels are
 * loaded once per strip (a pixel feeds every kernel column that reads it) and the weights
 * ([kh·kw][C], packed at compile time, channels padded to a vector) once per strip.  Strips in
 * which every tap is inside the row run in a loop; the others (the padding at either end, a
 * short last strip) are emitted with their taps known, so padding is never loaded.  Kernel rows
 * outside the input are skipped by a branch.  Bias starts the sums, the fused epilogue ends them. */
#include <stdlib.h>
#include <string.h>

#include "gen_conv_nhwc.h"

#define TW 8    /* output pixels per strip */
#define CHUNK 4 /* channel vectors per task (with one output row) */

typedef struct NG {
  int64_t N, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl, nv;
  int L;
  bool tail; /* C is not a multiple of L: masked loads and stores */
} NG;

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }

static int geo(GenCtx *c, NG *q) {
  Node *n = c->n;
  const Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
  const int64_t *gv;
  if (ir_attr_ints(n, "nhwc", &gv) != 5 || x->rank != 2 || y->rank != 2 || w->rank != 4 || !w->data ||
      x->dtype != DT_FLOAT || y->dtype != DT_FLOAT || w->dtype != DT_FLOAT)
    return ir_node_error(c->g, n, "internal: pixel-major depthwise Conv without its geometry");
  IrWindow win;
  if (ir_window(c->g, n, 2, gv + 1, w->dims + 2, &win)) return -1;
  *q = (NG){.N = gv[0], .H = gv[1], .W = gv[2], .C = x->dims[1], .OH = gv[3], .OW = gv[4], .KH = w->dims[2],
            .KW = w->dims[3], .sh = win.stride[0], .sw = win.stride[1], .dh = win.dilation[0], .dw = win.dilation[1],
            .pt = win.pad_begin[0], .pl = win.pad_begin[1], .L = kb_lanes(c->kb, KE_F32)};
  if (x->dims[0] != q->N * q->H * q->W || y->dims[0] != q->N * q->OH * q->OW || y->dims[1] != q->C ||
      w->dims[0] != q->C || w->dims[1] != 1 || win.out[0] != q->OH || win.out[1] != q->OW)
    return ir_node_error(c->g, n, "internal: pixel-major depthwise Conv with inconsistent shapes");
  q->nv = (q->C + q->L - 1) / q->L;
  q->tail = q->C % q->L != 0;
  return 0;
}

/* weights [kh·KW + kw][nv·L] and bias [nv·L], zero past C */
static void pack(GenCtx *c, const NG *q, KV *wp, KV *bp) {
  const Node *n = c->n;
  const float *w = n->in[1]->data;
  int64_t cp = q->nv * q->L, kk = q->KH * q->KW;
  float *p = ir_xcalloc((size_t)(kk * cp), sizeof *p), *b = ir_xcalloc((size_t)cp, sizeof *b);
  for (int64_t ch = 0; ch < q->C; ch++)
    for (int64_t t = 0; t < kk; t++) p[t * cp + ch] = w[ch * kk + t];
  const Value *bv = n->nin > 2 ? n->in[2] : NULL;
  if (bv)
    for (int64_t ch = 0; ch < q->C; ch++) b[ch] = (float)ir_const_f64(bv, ch);
  *wp = kb_weight(c->kb, p, sizeof *p * (size_t)(kk * cp));
  *bp = kb_weight(c->kb, b, sizeof *b * (size_t)cp);
  free(p);
  free(b);
  c->const_unused |= 2u | (bv && bv->data ? 4u : 0u);
}

typedef struct Row {
  KV xi, yi, ih0, ch, mask; /* x pixel index of (img, 0, 0), y pixel index of the row, first input row, channel, tail mask */
  KV wp, bias, res, x, y;
} Row;

static KV ld(KB *kb, const NG *q, KV p, KV mask) {
  KT ft = kt(KE_F32, q->L);
  return mask ? kb_load_masked(kb, ft, p, mask, NULL) : kb_load(kb, ft, p);
}

/* one strip of np output pixels from column ow0 (a static column when ows >= 0: taps off the row
 * are left out; otherwise every tap is inside) */
static void strip(GenCtx *c, const NG *q, const Row *r, KV ow0, int64_t ows, int np) {
  KB *kb = c->kb;
  KT ft = kt(KE_F32, q->L);
  KV b = ld(kb, q, kb_gep(kb, KE_F32, r->bias, r->ch), NULL);
  KVar acc[TW];
  for (int t = 0; t < np; t++) acc[t] = kb_var(kb, ft, b);
  int64_t span = (int64_t)(np - 1) * q->sw + (q->KW - 1) * q->dw + 1; /* input columns the strip reads */
  KV ic0 = kb_sub(kb, kb_mul(kb, ow0, I(kb, q->sw)), I(kb, q->pl));
  for (int64_t kh = 0; kh < q->KH; kh++) {
    KV ih = kb_add(kb, r->ih0, I(kb, kh * q->dh));
    kb_if(kb, kb_and(kb, kb_cmp(kb, KC_GE, ih, I(kb, 0), false), kb_cmp(kb, KC_LT, ih, I(kb, q->H), false)));
    {
      KV rowp = kb_gep(kb, KE_F32, r->x, kb_mul(kb, kb_add(kb, r->xi, kb_mul(kb, ih, I(kb, q->W))), I(kb, q->C)));
      KV wv[64];
      for (int64_t kw = 0; kw < q->KW && kw < 64; kw++)
        wv[kw] = ld(kb, q, kb_gep(kb, KE_F32, r->wp, kb_add(kb, I(kb, (kh * q->KW + kw) * q->nv * q->L), r->ch)), NULL);
      for (int64_t o = 0; o < span; o++) { /* input column ic0 + o */
        bool used = false;
        for (int t = 0; t < np && !used; t++)
          for (int64_t kw = 0; kw < q->KW && !used; kw++) used = t * q->sw + kw * q->dw == o;
        if (!used) continue;
        if (ows >= 0) {
          int64_t col = ows * q->sw - q->pl + o;
          if (col < 0 || col >= q->W) continue;
        }
        KV xv = ld(kb, q, kb_gep(kb, KE_F32, rowp, kb_add(kb, kb_mul(kb, kb_add(kb, ic0, I(kb, o)), I(kb, q->C)), r->ch)),
                   r->mask);
        for (int t = 0; t < np; t++)
          for (int64_t kw = 0; kw < q->KW; kw++)
            if (t * q->sw + kw * q->dw == o) {
              KV wk = kw < 64 ? wv[kw]
                              : ld(kb, q, kb_gep(kb, KE_F32, r->wp, kb_add(kb, I(kb, (kh * q->KW + kw) * q->nv * q->L), r->ch)), NULL);
              kb_set(kb, acc[t], kb_fma(kb, xv, wk, kb_get(kb, acc[t])));
            }
      }
    }
    kb_endif(kb);
  }
  for (int t = 0; t < np; t++) {
    KV at = kb_add(kb, kb_mul(kb, kb_add(kb, r->yi, kb_add(kb, ow0, I(kb, t))), I(kb, q->C)), r->ch);
    KV v = kb_get(kb, acc[t]);
    if (c->n->epi) v = gen_epi_apply(kb, c->n->epi, v, r->res ? ld(kb, q, kb_gep(kb, KE_F32, r->res, at), r->mask) : NULL);
    KV p = kb_gep(kb, KE_F32, r->y, at);
    if (r->mask) kb_store_masked(kb, v, p, r->mask);
    else kb_store(kb, v, p);
  }
}

/* is output column ow's every tap inside the input row? */
static bool inside(const NG *q, int64_t ow) {
  int64_t c0 = ow * q->sw - q->pl;
  return c0 >= 0 && c0 + (q->KW - 1) * q->dw < q->W;
}

int gen_conv_nhwc(GenCtx *c) {
  NG q;
  if (geo(c, &q)) return -1;
  if (q.N * q.OH * q.OW * q.C == 0) return 0;
  KB *kb = c->kb;
  Node *n = c->n;
  Row r;
  pack(c, &q, &r.wp, &r.bias);
  r.x = kb_buf(kb, 0);
  r.y = kb_buf(kb, n->nin);
  r.res = gen_epi_res(c);
  int64_t nchunk = (q.nv + CHUNK - 1) / CHUNK, ntask = q.N * q.OH * nchunk;
  c->work = ntask;
  KV t = kb_for(kb, kb_begin(kb), kb_end(kb), 1);
  {
    KV row = kb_div(kb, t, I(kb, nchunk), true), chunk = kb_rem(kb, t, I(kb, nchunk), true);
    KV oh = kb_rem(kb, row, I(kb, q.OH), true), img = kb_div(kb, row, I(kb, q.OH), true);
    r.xi = kb_mul(kb, img, I(kb, q.H * q.W));
    r.yi = kb_mul(kb, row, I(kb, q.OW));
    r.ih0 = kb_sub(kb, kb_mul(kb, oh, I(kb, q.sh)), I(kb, q.pt));
    KV c0 = kb_mul(kb, chunk, I(kb, CHUNK * q.L));
    r.ch = kb_for(kb, c0, kb_min(kb, kb_add(kb, c0, I(kb, CHUNK * q.L)), I(kb, q.nv * q.L), false), q.L);
    {
      r.mask = q.tail ? kb_tail_mask(kb, q.L, kb_sub(kb, I(kb, q.C), r.ch)) : NULL;
      /* strips s = [s·TW, min(OW, s·TW + TW)); the run of whole strips with every tap inside loops */
      int64_t ns = (q.OW + TW - 1) / TW, s0 = 0, s1 = -1;
      while (s0 < ns && !(inside(&q, s0 * TW) && (s0 + 1) * TW <= q.OW && inside(&q, s0 * TW + TW - 1))) s0++;
      for (s1 = s0; s1 + 1 < ns && (s1 + 2) * TW <= q.OW && inside(&q, (s1 + 2) * TW - 1); s1++) {
      }
      if (s0 >= ns) s1 = s0 - 1;
      for (int64_t s = 0; s < ns; s++) {
        int np = (int)((s + 1) * TW <= q.OW ? TW : q.OW - s * TW);
        if (s >= s0 && s <= s1) {
          if (s == s0) {
            KV ow0 = kb_for(kb, I(kb, s0 * TW), I(kb, (s1 + 1) * TW), TW);
            strip(c, &q, &r, ow0, -1, TW);
            kb_endfor(kb);
          }
          continue;
        }
        strip(c, &q, &r, I(kb, s * TW), s * TW, np);
      }
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
  return 0;
}
