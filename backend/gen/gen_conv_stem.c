/* gen_conv_stem.c — a direct kernel for the stem of a CNN: a 2-D fp32 Conv with few input
 * channels (C ≤ 4), a large kernel (KH·KW ≥ 25, e.g. ResNet's 7×7 stride 2 on RGB) and stride 1
 * or 2.  There the im2col GEMM (gen_conv.c conv_gemm) spends much of its time building a
 * C·KH·KW-deep panel for a short reduction; here a vector of L output columns takes each input
 * row segment straight from x (one masked load at stride 1; two and a shuffle of the even or odd
 * lanes at stride 2, padding read as zeros by the masks) and feeds OB output channels' FMAs with
 * broadcast weights, packed at compile time as [o / OB][kw][c][kh][OB].  A task is one output row
 * of OB channels of one image; the bias starts the sums and the fused epilogue ends them. */
#include <stdlib.h>
#include <string.h>

#include "gen_conv_stem.h"

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

typedef struct StemGeo {
  int64_t N, C, H, W, O, OH, OW, KH, KW, sh, sw, pt, pl, nob;
  int OB, L;
} StemGeo;

static bool stem_geo(GenCtx *c, StemGeo *q) {
  const Node *n = c->n;
  if (n->op != OP_Conv || n->nin < 2 || n->nout < 1 || !n->in[0] || !n->in[1] || !n->out[0]) return false;
  const Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
  if (x->rank != 4 || w->rank != 4 || y->rank != 4 || x->dtype != DT_FLOAT || y->dtype != DT_FLOAT) return false;
  if (w->kind != VK_CONST || !w->data || w->dtype != DT_FLOAT || ir_attr_int(n, "group", 1) != 1) return false;
  if (n->nin > 2 && n->in[2] && n->in[2]->dtype != DT_FLOAT) return false;
  IrWindow win;
  if (ir_window(c->g, n, 2, x->dims + 2, w->dims + 2, &win)) return false;
  *q = (StemGeo){.N = x->dims[0], .C = x->dims[1], .H = x->dims[2], .W = x->dims[3], .O = y->dims[1],
                 .OH = y->dims[2], .OW = y->dims[3], .KH = w->dims[2], .KW = w->dims[3], .sh = win.stride[0],
                 .sw = win.stride[1], .pt = win.pad_begin[0], .pl = win.pad_begin[1], .L = kb_lanes(c->kb, KE_F32)};
  if (win.dilation[0] != 1 || win.dilation[1] != 1 || w->dims[1] != q->C) return false;
  if (q->C < 1 || q->C > 4 || q->KH * q->KW < 25 || (q->sw != 1 && q->sw != 2) || q->sh < 1) return false;
  /* 16 sums where the target has 32 vector registers' worth (AVX-512, or 4 lanes: NEON), else 8 */
  q->OB = q->L >= 16 || q->L == 4 ? 16 : 8;
  if (q->O < q->OB || q->OW < q->L) return false;
  q->nob = cdiv(q->O, q->OB);
  return true;
}

/* weights [ob][kw][c][kh][OB] (channels past O: 0), the order the loops read them */
static KV pack_weights(GenCtx *c, const StemGeo *q) {
  const float *w = c->n->in[1]->data;
  size_t nw = (size_t)(q->nob * q->KW * q->C * q->KH * q->OB);
  float *p = ir_xcalloc(nw, sizeof *p);
  for (int64_t o = 0; o < q->O; o++)
    for (int64_t ci = 0; ci < q->C; ci++)
      for (int64_t kh = 0; kh < q->KH; kh++)
        for (int64_t kw = 0; kw < q->KW; kw++)
          p[(((o / q->OB * q->KW + kw) * q->C + ci) * q->KH + kh) * q->OB + o % q->OB] =
              w[((o * q->C + ci) * q->KH + kh) * q->KW + kw];
  KV r = kb_weight(c->kb, p, nw * sizeof *p);
  free(p);
  c->const_unused |= 2u;
  return r;
}

bool gen_conv_stem(GenCtx *c) {
  StemGeo q;
  if (!stem_geo(c, &q)) return false;
  KB *kb = c->kb;
  Node *n = c->n;
  int L = q.L, OB = q.OB;
  KT ft = kt(KE_F32, L), it = kt(KE_I64, L);
  KV wp = pack_weights(c, &q);
  KV x = kb_buf(kb, 0), bias = n->nin > 2 && n->in[2] ? kb_buf(kb, 2) : NULL, y = kb_buf(kb, n->nin);
  KV res = gen_epi_res(c);
  int64_t ntask = q.N * q.nob * q.OH;
  c->work = ntask > 1 ? ntask : 1;
  int sel[64];
  for (int j = 0; j < L; j++) sel[j] = 2 * j;
  KV zero = kb_int(kb, it, 0), fzero = kb_float(kb, ft, 0), iota = kb_iota(kb, it);
  KV t = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  {
    KV oh = kb_rem(kb, t, I(kb, q.OH), true), nob = kb_div(kb, t, I(kb, q.OH), true);
    KV ob = kb_rem(kb, nob, I(kb, q.nob), true), nb = kb_div(kb, nob, I(kb, q.nob), true);
    KV xb = kb_gep(kb, KE_F32, x, kb_mul(kb, nb, I(kb, q.C * q.H * q.W)));
    KV wb = kb_gep(kb, KE_F32, wp, kb_mul(kb, ob, I(kb, q.KW * q.C * q.KH * OB)));
    KV o0 = kb_mul(kb, ob, I(kb, OB));
    KV ih0 = kb_sub(kb, kb_mul(kb, oh, I(kb, q.sh)), I(kb, q.pt));
    KV oc[16], bv[16];
    for (int j = 0; j < OB; j++) {
      oc[j] = kb_min(kb, kb_add(kb, o0, I(kb, j)), I(kb, q.O - 1), false);
      bv[j] = bias ? kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, bias, oc[j])), L) : fzero;
    }
    KV ow0 = kb_for(kb, I(kb, 0), I(kb, q.OW), L);
    {
      KVar acc[16];
      for (int j = 0; j < OB; j++) acc[j] = kb_var(kb, ft, bv[j]);
      KV kw = kb_for(kb, I(kb, 0), I(kb, q.KW), 1);
      {
        /* input columns c0 + t (t < sw·L) this kernel column reads, in the row or padding */
        KV c0 = kb_add(kb, kb_sub(kb, kb_mul(kb, ow0, I(kb, q.sw)), I(kb, q.pl)), kw);
        KV ca = kb_add(kb, kb_splat(kb, c0, L), iota), cb = kb_add(kb, ca, kb_int(kb, it, L));
        KV ma = kb_and(kb, kb_cmp(kb, KC_GE, ca, zero, false), kb_cmp(kb, KC_LT, ca, kb_int(kb, it, q.W), false));
        KV mb = q.sw == 2 ? kb_and(kb, kb_cmp(kb, KC_GE, cb, zero, false), kb_cmp(kb, KC_LT, cb, kb_int(kb, it, q.W), false))
                          : NULL;
        KV ci = kb_for(kb, I(kb, 0), I(kb, q.C), 1);
        {
          KV kh = kb_for(kb, I(kb, 0), I(kb, q.KH), 1);
          {
            KV ih = kb_add(kb, ih0, kh);
            kb_if(kb, kb_and(kb, kb_cmp(kb, KC_GE, ih, I(kb, 0), false), kb_cmp(kb, KC_LT, ih, I(kb, q.H), false)));
            {
              KV at = kb_gep(kb, KE_F32, xb, kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, ci, I(kb, q.H)), ih), I(kb, q.W)), c0));
              KV v = kb_load_masked(kb, ft, at, ma, fzero);
              if (q.sw == 2) v = kb_shuffle(kb, v, kb_load_masked(kb, ft, kb_gep(kb, KE_F32, at, I(kb, L)), mb, fzero), sel, L);
              KV wi = kb_mul(kb, kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, kw, I(kb, q.C)), ci), I(kb, q.KH)), kh), I(kb, OB));
              for (int j = 0; j < OB; j++) {
                KV wv = kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, wb, kb_add(kb, wi, I(kb, j)))), L);
                kb_set(kb, acc[j], kb_fma(kb, v, wv, kb_get(kb, acc[j])));
              }
            }
            kb_endif(kb);
          }
          kb_endfor(kb);
        }
        kb_endfor(kb);
      }
      kb_endfor(kb);
      KV m = kb_tail_mask(kb, L, kb_sub(kb, I(kb, q.OW), ow0));
      for (int j = 0; j < OB; j++) {
        if (q.O % OB) kb_if(kb, kb_cmp(kb, KC_LT, kb_add(kb, o0, I(kb, j)), I(kb, q.O), false));
        KV yi = kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, nb, I(kb, q.O)), oc[j]), I(kb, q.OH)), oh),
                                  I(kb, q.OW)), ow0);
        KV yv = kb_get(kb, acc[j]);
        if (n->epi) {
          KV rv = res ? kb_load_masked(kb, ft, kb_gep(kb, KE_F32, res, yi), m, NULL) : NULL;
          yv = gen_epi_apply(kb, n->epi, yv, rv);
        }
        kb_store_masked(kb, yv, kb_gep(kb, KE_F32, y, yi), m);
        if (q.O % OB) kb_endif(kb);
      }
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
  return true;
}
