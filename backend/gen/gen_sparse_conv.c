/* gen_sparse_conv.c — Conv (NCHW, 2-D, group 1, stride 1, dilation 1) with a constant, mostly-zero
 * fp32 weight, as weight-left sparse products over pixels:
 *
 *     Y[co][q] = Σ_r val[r] · S[off[r] + q]      over the stored nonzeros r of output channel co
 *
 * where S is the image's input planes and off[r] = ci·Sp + kh·Wp + kw is where nonzero (co, ci, kh,
 * kw) reads, packed at compile time (CSR by output channel: ptr[O + 1], off i32, val f32).  The
 * weight is the left operand in NCHW, so no transpose: a broadcast weight times vectors of
 * consecutive pixels, a zero weight is never touched, and results are already output rows.
 *   - 1×1 unpadded: S = X itself (Sp = H·W), q = the output pixel; the epilogue (bias, fused
 *     residual, activations) runs on the accumulators and stores Y directly.
 *   - k×k (e.g. 3×3): each task copies its block of RB output rows' input rows into scratch with the
 *     zero padding written out (rows of Wp = OW + kw - 1), so every tap is a constant offset and q
 *     runs over "padded-width" pixels q = oh·Wp + ow; the kw - 1 extra columns per row are computed
 *     and dropped: results go to a row buffer T, then the epilogue copies the valid columns out.
 * Tasks: images × pixel (row) blocks × output-channel groups; inside a task output channels are
 * the outer loop so one channel's nonzeros stay in L1 while the input block (L2) streams past.
 * A cost model (conv_sparse_pays) compares with the dense kernels (GEMM engine or Winograd). */
#include <stdlib.h>
#include <string.h>

#include "gen_sparse_conv.h"

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static bool force; /* tests: the sparse kernel whenever it applies */
void conv_sparse_force(bool on) { force = on; }

/* Costs in vector FMAs of the dense engine, measured on ResNet-50's shapes (AVX-512, 1 thread):
 * a stored nonzero costs per pixel vector one FMA fed by one vector load from L2 (no register
 * reuse of the input, unlike the dense tile): about 3 dense FMAs for 1×1 convs (10/20/30% kept
 * ran 0.37/0.6/1.05× dense), 3.7 for k×k ones (the padded row block is larger); the padded copy
 * and the epilogue a few vector ops per pixel and channel.  Winograd (3×3) ran the dense work in about 1/1.6 of the im2col GEMM's time (3×3 at
 * 10% kept ran 0.45-0.9× Winograd, at 20% 0.8-1.6×). */
bool conv_sparse_pays(int64_t O, int64_t C, int64_t KS, int64_t P, int64_t lanes, int64_t nnz, int L, bool wino) {
  double pv = (double)P / L, lv = (double)lanes / L;
  double dense = (double)O * (double)C * (double)KS * pv;
  if (wino) dense /= 1.6;
  double sparse = (double)nnz * lv * (KS > 1 ? 3.7 : 3.0) + (double)(O + (KS > 1 ? 2 * C : 0)) * lv * 2.0;
  return sparse < 0.8 * dense;
}

typedef struct SpConv {
  GenCtx *c;
  int64_t N, C, H, W, O, OH, OW, KH, KW, pt, pl;
  bool pw;            /* 1×1 unpadded: S = X */
  int L, V;
  int64_t PT;         /* pixels per chunk: V·L */
  int64_t Wp, RB, Sp; /* padded row width, output rows per block, plane stride of S */
  int64_t PB, nblk, cog, ncog, ntask;
  KV ptr, off, val;   /* packed weights */
  KV x, bias, y, res; /* buffers */
} SpConv;

static bool sc_geo(GenCtx *c, SpConv *s) {
  Node *n = c->n;
  if (!n->sparse || n->op != OP_Conv || n->nin < 2) return false;
  const Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
  if (x->rank != 4 || x->dtype != DT_FLOAT || y->dtype != DT_FLOAT || !ir_value_shape_known(x) || !ir_value_shape_known(y))
    return false;
  if (w->kind != VK_CONST || !w->data || w->dtype != DT_FLOAT || w->rank != 4) return false;
  if (ir_attr_int(n, "group", 1) != 1) return false;
  if (n->epi && n->epi->res && !ir_same_shape(n->epi->res, y)) return false;
  IrWindow win;
  if (ir_window(c->g, n, 2, x->dims + 2, w->dims + 2, &win)) return false;
  for (int i = 0; i < 2; i++)
    if (win.stride[i] != 1 || win.dilation[i] != 1) return false;
  s->c = c;
  s->N = x->dims[0], s->C = x->dims[1], s->H = x->dims[2], s->W = x->dims[3];
  s->O = y->dims[1], s->OH = y->dims[2], s->OW = y->dims[3];
  s->KH = w->dims[2], s->KW = w->dims[3];
  s->pt = win.pad_begin[0], s->pl = win.pad_begin[1];
  if (w->dims[0] != s->O || w->dims[1] != s->C || s->OH < 1 || s->OW < 1 || s->N < 1) return false;
  /* stride 1: the padded row is exactly OW + KW - 1 wide (negative pads: refuse) */
  for (int i = 0; i < 2; i++)
    if (win.pad_begin[i] < 0 || win.pad_end[i] < 0) return false;
  s->pw = s->KH == 1 && s->KW == 1 && s->pt == 0 && s->pl == 0 && s->OH == s->H && s->OW == s->W;
  s->L = kb_lanes(c->kb, KE_F32);
  return true;
}

static int64_t nnz_of(const Value *w) {
  int64_t n = ir_value_numel(w), z = 0;
  const float *d = w->data;
  for (int64_t i = 0; i < n; i++) z += d[i] != 0.0f;
  return z;
}

/* chunk and block sizes: blocks of pixels (1×1) or output rows (k×k) whose input fits the L2
 * budget, as even as their count allows; chunks of up to 8 vectors (a nonzero's index and weight
 * loads feed V FMAs), as few as cover a block, evenly filled.  Returns the lanes computed per
 * image (pixels, plus the padded columns and the chunks' unused lanes). */
static int64_t sc_shape(SpConv *s) {
  int L = s->L;
  int64_t budget = 192 * 1024 / 4; /* floats of input block kept in L2 */
  int64_t q;                       /* pixels (padded-width) per block */
  if (s->pw) {
    int64_t P = s->H * s->W, pbmax = budget / s->C;
    if (pbmax < 1) pbmax = 1;
    q = cdiv(P, cdiv(P, pbmax));
    s->Wp = s->W, s->Sp = P;
  } else {
    s->Wp = s->OW + s->KW - 1;
    int64_t rb = budget / (s->C * s->Wp) - (s->KH - 1);
    if (rb < 1) rb = 1;
    if (rb > s->OH) rb = s->OH;
    s->RB = cdiv(s->OH, cdiv(s->OH, rb));
    s->nblk = cdiv(s->OH, s->RB);
    s->Sp = (s->RB + s->KH - 1) * s->Wp;
    q = s->RB * s->Wp;
  }
  int64_t qv = cdiv(q, L);
  s->V = (int)cdiv(qv, cdiv(qv, 8));
  s->PT = (int64_t)s->V * L;
  if (s->pw) {
    s->PB = cdiv(q, s->PT) * s->PT;
    s->nblk = cdiv(s->H * s->W, s->PB);
  }
  return s->nblk * cdiv(q, s->PT) * s->PT;
}

/* task split and scratch */
static void sc_plan(SpConv *s, int64_t nnz) {
  GenCtx *c = s->c;
  /* output-channel groups so that a few threads find tasks even with one block */
  double flops = 2.0 * (double)nnz * (double)(s->OH * s->OW) * (double)s->N;
  int64_t desired = (int64_t)(flops / 2e6);
  if (desired > 16) desired = 16;
  int64_t blocks = s->N * s->nblk;
  s->ncog = blocks < desired ? cdiv(desired, blocks) : 1;
  if (s->ncog > s->O) s->ncog = s->O;
  s->cog = cdiv(s->O, s->ncog);
  s->ncog = cdiv(s->O, s->cog);
  s->ntask = blocks * s->ncog;
  c->work = flops >= 1e6 && s->ntask > 1 ? s->ntask : 1;
  int64_t sb = s->pw ? 64 : (s->C * s->Sp + s->PT + s->KW + s->RB * s->Wp + s->PT) * 4 + 128;
  if (sb > c->scratch_bytes) c->scratch_bytes = sb;
}

/* CSR by output channel; false when the weight's offsets do not fit i32 or memory runs out */
static bool sc_pack(SpConv *s, const Value *w, int64_t nnz) {
  KB *kb = s->c->kb;
  if (s->C * s->Sp + s->PT >= INT32_MAX || nnz >= INT32_MAX) return false;
  int64_t nr = nnz ? nnz : 1, ks = s->KH * s->KW;
  int32_t *ptr = malloc((size_t)(s->O + 1) * sizeof *ptr), *off = malloc((size_t)nr * sizeof *off);
  float *val = malloc((size_t)nr * sizeof *val);
  if (!ptr || !off || !val) {
    free(ptr), free(off), free(val);
    return false;
  }
  const float *d = w->data;
  int64_t r = 0;
  for (int64_t co = 0; co < s->O; co++) {
    ptr[co] = (int32_t)r;
    for (int64_t ci = 0; ci < s->C; ci++)
      for (int64_t kh = 0; kh < s->KH; kh++)
        for (int64_t kw = 0; kw < s->KW; kw++) {
          float v = d[(co * s->C + ci) * ks + kh * s->KW + kw];
          if (v == 0.0f) continue;
          off[r] = (int32_t)(ci * s->Sp + kh * s->Wp + kw);
          val[r++] = v;
        }
  }
  ptr[s->O] = (int32_t)r;
  s->ptr = kb_weight(kb, ptr, (size_t)(s->O + 1) * sizeof *ptr);
  s->off = kb_weight(kb, off, (size_t)nr * sizeof *off);
  s->val = kb_weight(kb, val, (size_t)nr * sizeof *val);
  free(ptr), free(off), free(val);
  return true;
}

static KV ld_i64(KB *kb, KV base, KV i) {
  return kb_cast(kb, kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, base, i)), kt_s(KE_I64), false, false);
}

/* acc[v] = Σ_r val[r] · S[off[r] + q + v·L] over co's nonzeros [r0, r1); masks[v] (NULL: none) for
 * the pixels that exist */
static void sc_accumulate(SpConv *s, KV src, KV r0, KV r1, KV q, KV const *masks, KVar *acc) {
  KB *kb = s->c->kb;
  KT vt = kt(KE_F32, s->L);
  for (int v = 0; v < s->V; v++) kb_set(kb, acc[v], kb_float(kb, vt, 0));
  KV base = kb_gep(kb, KE_F32, src, q);
  KV r = kb_for(kb, r0, r1, 1);
  {
    KV p = kb_gep(kb, KE_F32, base, ld_i64(kb, s->off, r));
    KV w = kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, s->val, r)), s->L);
    for (int v = 0; v < s->V; v++) {
      KV xv = gen_vload(kb, vt, kb_gep(kb, KE_F32, p, I(kb, (int64_t)v * s->L)), masks ? masks[v] : NULL);
      kb_set(kb, acc[v], kb_fma(kb, w, xv, kb_get(kb, acc[v])));
    }
  }
  kb_endfor(kb);
}

/* bias, fused residual (at Y's index yi) and activations on one output vector */
static KV sc_epi(SpConv *s, KV x, KV bias, KV yi, KV mask) {
  KB *kb = s->c->kb;
  if (bias) x = kb_add(kb, x, bias);
  KV rv = s->res ? gen_vload(kb, kb_type(kb, x), kb_gep(kb, KE_F32, s->res, yi), mask) : NULL;
  return s->c->n->epi ? gen_epi_apply(kb, s->c->n->epi, x, rv) : x;
}

/* 1×1: the chunk of V vectors at pixel p (of PT; masked when tail) of channel co, stored to Y */
static void sc_pw_chunk(SpConv *s, KV src, KV ybase, KV r0, KV r1, KV bias, KV p, KV pend, bool tail, KVar *acc) {
  KB *kb = s->c->kb;
  KV masks[8];
  for (int v = 0; v < s->V && tail; v++)
    masks[v] = kb_tail_mask(kb, s->L, kb_sub(kb, pend, kb_add(kb, p, I(kb, (int64_t)v * s->L))));
  sc_accumulate(s, src, r0, r1, p, tail ? masks : NULL, acc);
  for (int v = 0; v < s->V; v++) {
    KV yi = kb_add(kb, ybase, kb_add(kb, p, I(kb, (int64_t)v * s->L)));
    KV mk = tail ? masks[v] : NULL;
    gen_vstore(kb, sc_epi(s, kb_get(kb, acc[v]), bias, yi, mk), kb_gep(kb, KE_F32, s->y, yi), mk);
  }
}

static void sc_pointwise(SpConv *s, KV n, KV blk, KV co_lo, KV co_hi) {
  KB *kb = s->c->kb;
  int64_t P = s->H * s->W;
  KV src = kb_gep(kb, KE_F32, s->x, kb_mul(kb, n, I(kb, s->C * P)));
  KV p0 = kb_mul(kb, blk, I(kb, s->PB));
  KV pend = kb_min(kb, kb_add(kb, p0, I(kb, s->PB)), I(kb, P), false);
  /* whole chunks, then (when P is not a multiple of PT) one masked chunk */
  KV pfull = P % s->PT ? kb_sub(kb, pend, kb_rem(kb, kb_sub(kb, pend, p0), I(kb, s->PT), true)) : pend;
  KVar acc[8];
  KT vt = kt(KE_F32, s->L);
  for (int v = 0; v < s->V; v++) acc[v] = kb_var(kb, vt, kb_float(kb, vt, 0));
  KV co = kb_for(kb, co_lo, co_hi, 1);
  {
    KV r0 = ld_i64(kb, s->ptr, co), r1 = ld_i64(kb, s->ptr, kb_add(kb, co, I(kb, 1)));
    KV bias = s->bias ? kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, s->bias, co)), s->L) : NULL;
    KV ybase = kb_mul(kb, kb_add(kb, kb_mul(kb, n, I(kb, s->O)), co), I(kb, P));
    KV p = kb_for(kb, p0, pfull, s->PT);
    sc_pw_chunk(s, src, ybase, r0, r1, bias, p, pend, false, acc);
    kb_endfor(kb);
    if (P % s->PT) {
      kb_if(kb, kb_cmp(kb, KC_LT, pfull, pend, false));
      sc_pw_chunk(s, src, ybase, r0, r1, bias, pfull, pend, true, acc);
      kb_endif(kb);
    }
  }
  kb_endfor(kb);
}

/* k×k: XP[ci][r][Wp] = the zero-padded input rows oh0 - pt + r of image n, r < RB + KH - 1 */
static void sc_pad_copy(SpConv *s, KV xp, KV n, KV oh0) {
  KB *kb = s->c->kb;
  int L = s->L;
  KT vt = kt(KE_F32, L);
  KV zero = kb_float(kb, vt, 0);
  KV xn = kb_gep(kb, KE_F32, s->x, kb_mul(kb, n, I(kb, s->C * s->H * s->W)));
  int64_t nr = s->RB + s->KH - 1;
  KV ci = kb_for(kb, I(kb, 0), I(kb, s->C), 1);
  {
    KV r = kb_for(kb, I(kb, 0), I(kb, nr), 1);
    {
      KV dst = kb_gep(kb, KE_F32, xp, kb_add(kb, kb_mul(kb, ci, I(kb, s->Sp)), kb_mul(kb, r, I(kb, s->Wp))));
      KV j = kb_for(kb, I(kb, 0), I(kb, s->Wp), L);
      gen_vstore(kb, zero, kb_gep(kb, KE_F32, dst, j), s->Wp % L ? kb_tail_mask(kb, L, kb_sub(kb, I(kb, s->Wp), j)) : NULL);
      kb_endfor(kb);
      KV ih = kb_sub(kb, kb_add(kb, oh0, r), I(kb, s->pt));
      KV in = kb_and(kb, kb_cmp(kb, KC_GE, ih, I(kb, 0), false), kb_cmp(kb, KC_LT, ih, I(kb, s->H), false));
      kb_if(kb, in);
      {
        KV srow = kb_gep(kb, KE_F32, xn, kb_add(kb, kb_mul(kb, ci, I(kb, s->H * s->W)), kb_mul(kb, ih, I(kb, s->W))));
        /* input columns that land inside the padded row (a right pad < 0 would drop some) */
        int64_t wn = s->W < s->Wp - s->pl ? s->W : s->Wp - s->pl;
        KV d2 = kb_gep(kb, KE_F32, dst, I(kb, s->pl));
        KV k = kb_for(kb, I(kb, 0), I(kb, wn), L);
        KV mk = wn % L ? kb_tail_mask(kb, L, kb_sub(kb, I(kb, wn), k)) : NULL;
        gen_vstore(kb, gen_vload(kb, vt, kb_gep(kb, KE_F32, srow, k), mk), kb_gep(kb, KE_F32, d2, k), mk);
        kb_endfor(kb);
      }
      kb_endif(kb);
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
  /* the slack past the last plane, read by the last chunk's unused lanes: zeros, not garbage */
  KV tailp = kb_gep(kb, KE_F32, xp, I(kb, s->C * s->Sp));
  for (int64_t j = 0; j < s->PT + s->KW + L; j += L) kb_store(kb, zero, kb_gep(kb, KE_F32, tailp, I(kb, j)));
}

static void sc_padded(SpConv *s, KV n, KV blk, KV co_lo, KV co_hi) {
  KB *kb = s->c->kb;
  int L = s->L;
  KT vt = kt(KE_F32, L);
  KV xp = kb_scratch(kb);
  KV tb = kb_gep(kb, KE_F32, xp, I(kb, s->C * s->Sp + s->PT + s->KW + L));
  KV oh0 = kb_mul(kb, blk, I(kb, s->RB));
  KV rows = kb_min(kb, I(kb, s->RB), kb_sub(kb, I(kb, s->OH), oh0), false);
  sc_pad_copy(s, xp, n, oh0);
  KV qn = kb_mul(kb, rows, I(kb, s->Wp));
  KVar acc[8];
  for (int v = 0; v < s->V; v++) acc[v] = kb_var(kb, vt, kb_float(kb, vt, 0));
  KV co = kb_for(kb, co_lo, co_hi, 1);
  {
    KV r0 = ld_i64(kb, s->ptr, co), r1 = ld_i64(kb, s->ptr, kb_add(kb, co, I(kb, 1)));
    KV q = kb_for(kb, I(kb, 0), qn, s->PT);
    sc_accumulate(s, xp, r0, r1, q, NULL, acc);
    for (int v = 0; v < s->V; v++) kb_store(kb, kb_get(kb, acc[v]), kb_gep(kb, KE_F32, tb, kb_add(kb, q, I(kb, (int64_t)v * L))));
    kb_endfor(kb);
    KV bias = s->bias ? kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, s->bias, co)), L) : NULL;
    KV ybase = kb_mul(kb, kb_add(kb, kb_mul(kb, n, I(kb, s->O)), co), I(kb, s->OH * s->OW));
    KV oh = kb_for(kb, I(kb, 0), rows, 1);
    {
      KV yrow = kb_add(kb, ybase, kb_mul(kb, kb_add(kb, oh0, oh), I(kb, s->OW)));
      KV trow = kb_gep(kb, KE_F32, tb, kb_mul(kb, oh, I(kb, s->Wp)));
      KV j = kb_for(kb, I(kb, 0), I(kb, s->OW), L);
      KV mk = s->OW % L ? kb_tail_mask(kb, L, kb_sub(kb, I(kb, s->OW), j)) : NULL;
      KV yi = kb_add(kb, yrow, j);
      KV xv = sc_epi(s, kb_load(kb, vt, kb_gep(kb, KE_F32, trow, j)), bias, yi, mk);
      gen_vstore(kb, xv, kb_gep(kb, KE_F32, s->y, yi), mk);
      kb_endfor(kb);
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
}

bool gen_sparse_conv(GenCtx *c) {
  SpConv s;
  memset(&s, 0, sizeof s);
  if (!sc_geo(c, &s)) return false;
  Node *n = c->n;
  const Value *w = n->in[1];
  int64_t nnz = nnz_of(w), KS = s.KH * s.KW;
  bool wino = n->winograd && s.KH == 3 && s.KW == 3;
  int64_t lanes = sc_shape(&s);
  if (!force && !conv_sparse_pays(s.O, s.C, KS, s.OH * s.OW, lanes, nnz, s.L, wino)) return false;
  int64_t work0 = c->work, scratch0 = c->scratch_bytes;
  sc_plan(&s, nnz);
  if (!sc_pack(&s, w, nnz)) {
    c->work = work0, c->scratch_bytes = scratch0;
    return false;
  }
  c->const_unused |= 2u;
  KB *kb = c->kb;
  s.x = kb_buf(kb, 0);
  s.bias = n->nin > 2 && n->in[2] ? kb_buf(kb, 2) : NULL;
  s.y = kb_buf(kb, n->nin);
  s.res = gen_epi_res(c);
  KV t = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, s.ntask), 1);
  KV cg = kb_rem(kb, t, I(kb, s.ncog), true), rest = kb_div(kb, t, I(kb, s.ncog), true);
  KV blk = kb_rem(kb, rest, I(kb, s.nblk), true), img = kb_div(kb, rest, I(kb, s.nblk), true);
  KV co_lo = kb_mul(kb, cg, I(kb, s.cog));
  KV co_hi = kb_min(kb, kb_add(kb, co_lo, I(kb, s.cog)), I(kb, s.O), false);
  if (s.pw) sc_pointwise(&s, img, blk, co_lo, co_hi);
  else sc_padded(&s, img, blk, co_lo, co_hi);
  kb_endfor(kb);
  return true;
}
