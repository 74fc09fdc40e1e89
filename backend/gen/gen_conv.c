/* gen_conv.c — Conv and ConvTranspose (NCHW, any spatial rank, groups, strides, dilations, pads;
 * auto_pad resolved by ir_window, the geometry shape inference uses).
 *
 * Conv with enough output channels per group runs on the GEMM engine: Y[g] = W[g] · im2col(X[g])
 * with W packed at compile time (MR-row panels, K = C/g · kernel) and im2col built per task, one
 * NR-wide panel of output pixels and one K block at a time, in per-thread scratch.  Along the
 * innermost spatial dim a panel vector is a few runs of input (one per output row it touches),
 * each a masked vector load — or, for strides 2..4, that many loads deinterleaved by shuffles;
 * larger strides or very short rows use gathers.  A 1×1, stride-1, unpadded conv needs no
 * im2col (B = X).
 *
 * Depthwise-like convs (<= 4 input channels per group) copy the task's input planes into a
 * zero-padded scratch buffer and run unmasked loads and FMAs over a block of output rows × up
 * to four vectors.  Other few-output-channel groups and ConvTranspose use a direct kernel
 * vectorized over the innermost output dim with masked loads (unit stride) or gathers. */
#include <string.h>

#include "gen_binary_conv.h"
#include "gen_conv_nhwc.h"
#include "gen_conv_stem.h"
#include "gen_cluster.h"
#include "gen_contract.h"
#include "gen_sparse_conv.h"
#include "gen_winograd.h"

typedef struct ConvGeo {
  int nsp;
  bool transposed;
  DType dt;
  int64_t N, C, O, G, Cg, Og;
  int64_t in[IR_MAX_RANK], out[IR_MAX_RANK], k[IR_MAX_RANK], s[IR_MAX_RANK], d[IR_MAX_RANK], pb[IR_MAX_RANK];
  int64_t istr[IR_MAX_RANK], ostr[IR_MAX_RANK], kstr[IR_MAX_RANK];
  int64_t HW, P, KS, OW, W, R; /* input/output spatial sizes, kernel size, last dims, output rows */
  KV x;
  int nseg;                    /* im2col: segments per vector (0: use gathers) */
} ConvGeo;

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static bool is_const(const Value *v) { return v && v->kind == VK_CONST && v->data; }

static int geo_init(GenCtx *c, ConvGeo *q) {
  Node *n = c->n;
  if (contract_outputs_static(c)) return -1;
  const Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
  memset(q, 0, sizeof *q);
  q->nsp = x->rank - 2;
  q->transposed = n->op == OP_ConvTranspose;
  q->dt = y->dtype;
  IrWindow win;
  if (ir_window(c->g, n, q->nsp, x->dims + 2, w->dims + 2, &win)) return -1;
  q->N = x->dims[0];
  q->C = x->dims[1];
  q->O = y->dims[1];
  q->G = ir_attr_int(n, "group", 1);
  q->Cg = q->C / q->G;
  q->Og = q->O / q->G;
  q->HW = q->P = q->KS = 1;
  for (int i = 0; i < q->nsp; i++) {
    q->in[i] = x->dims[2 + i];
    q->out[i] = y->dims[2 + i];
    q->k[i] = w->dims[2 + i];
    q->s[i] = win.stride[i];
    q->d[i] = win.dilation[i];
    q->pb[i] = win.pad_begin[i];
    q->HW *= q->in[i];
    q->P *= q->out[i];
    q->KS *= q->k[i];
  }
  gen_strides(q->nsp, q->in, q->istr);
  gen_strides(q->nsp, q->out, q->ostr);
  gen_strides(q->nsp, q->k, q->kstr);
  q->OW = q->out[q->nsp - 1];
  q->W = q->in[q->nsp - 1];
  q->R = q->OW ? q->P / q->OW : 0;
  return 0;
}

/* ---- im2col packers (GemmPackFn) ---- */

/* lanes j of a vector: iota as i32 */
static KV iota32(KB *kb, int L) { return kb_iota(kb, kt(KE_I32, L)); }
static KV splat32(KB *kb, KV i64v, int L) { return kb_splat(kb, kb_cast(kb, i64v, kt_s(KE_I32), false, false), L); }
static KV c32(KB *kb, int L, int64_t x) { return kb_int(kb, kt(KE_I32, L), x); }

/* all strides: per lane index arithmetic and gathers */
static void pack_gather(GenCtx *c, const GemmSpec *s, KV const *bidx, KV k0, KV klen, KV n0, KV dst, void *ud) {
  const ConvGeo *q = ud;
  KB *kb = c->kb;
  int L = s->lanes, nv = s->nv, nsp = q->nsp;
  KElem ce = s->ce;
  KV xoff = kb_add(kb, kb_mul(kb, bidx[0], I(kb, q->C * q->HW)),
                   kb_mul(kb, kb_add(kb, kb_mul(kb, bidx[1], I(kb, q->Cg)), kb_div(kb, k0, I(kb, q->KS), true)),
                          I(kb, q->HW)));
  KV xb = kb_gep(kb, kb_elem_of(q->dt), q->x, xoff);
  KV base[8][IR_MAX_RANK], pval[8];
  for (int v = 0; v < nv; v++) {
    KV p = kb_add(kb, splat32(kb, kb_add(kb, n0, I(kb, (int64_t)v * L)), L), iota32(kb, L));
    pval[v] = kb_cmp(kb, KC_LT, p, c32(kb, L, q->P), false);
    for (int d = 0; d < nsp; d++) {
      KV od = kb_div(kb, p, c32(kb, L, q->ostr[d]), true);
      if (d > 0) od = kb_rem(kb, od, c32(kb, L, q->out[d]), true);
      base[v][d] = kb_sub(kb, kb_mul(kb, od, c32(kb, L, q->s[d])), c32(kb, L, q->pb[d]));
    }
  }
  KV nch = kb_div(kb, klen, I(kb, q->KS), true);
  KV zero = ct_const(kb, ce, L, 0);
  KV kpos = kb_for(kb, I(kb, 0), I(kb, q->KS), 1);
  {
    KV koff[IR_MAX_RANK];
    for (int d = 0; d < nsp; d++) {
      KV kd = kb_rem(kb, kb_div(kb, kpos, I(kb, q->kstr[d]), true), I(kb, q->k[d]), true);
      koff[d] = splat32(kb, kb_mul(kb, kd, I(kb, q->d[d])), L);
    }
    KV idx[8], msk[8];
    for (int v = 0; v < nv; v++) {
      KV m = pval[v], ix = c32(kb, L, 0);
      for (int d = 0; d < nsp; d++) {
        KV id = kb_add(kb, base[v][d], koff[d]);
        m = kb_and(kb, m, kb_cmp(kb, KC_GE, id, c32(kb, L, 0), false));
        m = kb_and(kb, m, kb_cmp(kb, KC_LT, id, c32(kb, L, q->in[d]), false));
        ix = kb_add(kb, ix, kb_mul(kb, id, c32(kb, L, q->istr[d])));
      }
      idx[v] = kb_select(kb, m, ix, c32(kb, L, 0));
      msk[v] = m;
    }
    KV ch = kb_for(kb, I(kb, 0), nch, 1);
    {
      KV src = kb_gep(kb, kb_elem_of(q->dt), xb, kb_mul(kb, ch, I(kb, q->HW)));
      KV drow = kb_mul(kb, kb_add(kb, kb_mul(kb, ch, I(kb, q->KS)), kpos), I(kb, s->nrp));
      for (int v = 0; v < nv; v++) {
        KElem se = kb_elem_of(q->dt);
        KV val = kb_gather(kb, kt(se, L), src, idx[v], msk[v]);
        if (se != ce) val = kb_cast(kb, val, kt(ce, L), false, false);
        val = kb_select(kb, msk[v], val, zero);
        kb_store(kb, val, kb_gep(kb, ce, dst, kb_add(kb, drow, I(kb, (int64_t)v * L))));
      }
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
}

/* stride sw <= 4 along the innermost dim: lane j of a vector reads input column col + sw*j, so a
 * vector is q->nseg runs (one per output row it touches) of strided input; a run is sw masked
 * vector loads of contiguous input, deinterleaved by shuffles when sw > 1 */
static KV phase_pick(KB *kb, KV *ch, int nch, int sw, int ph, int L) {
  if (sw == 1 && ph == 0) return ch[0];
  int idx[64];
  for (int j = 0; j < L; j++) idx[j] = ph + sw * j < 2 * L ? ph + sw * j : -1;
  KV r = kb_shuffle(kb, ch[0], ch[1], idx, L);
  for (int c = 2; c < nch; c++) {
    for (int j = 0; j < L; j++) {
      int e = ph + sw * j;
      idx[j] = e < c * L ? j : e < (c + 1) * L ? L + e - c * L : -1;
    }
    r = kb_shuffle(kb, r, ch[c], idx, L);
  }
  return r;
}

/* lanes 0, sw, 2·sw, ... of the sw vectors ch (lane ph + sw·j of nch vectors: phase_pick) */
static KV strided_pick(KB *kb, KV *ch, int sw, int L) { return phase_pick(kb, ch, sw, sw, 0, L); }

static void pack_segments(GenCtx *c, const GemmSpec *s, KV const *bidx, KV k0, KV klen, KV n0, KV dst, void *ud) {
  const ConvGeo *q = ud;
  KB *kb = c->kb;
  int L = s->lanes, nv = s->nv, nsp = q->nsp, S = q->nseg;
  KElem ce = s->ce, se = kb_elem_of(q->dt);
  int last = nsp - 1;
  int64_t OW = q->OW, Wd = q->W, sw = q->s[last];
  KV xoff = kb_add(kb, kb_mul(kb, bidx[0], I(kb, q->C * q->HW)),
                   kb_mul(kb, kb_add(kb, kb_mul(kb, bidx[1], I(kb, q->Cg)), kb_div(kb, k0, I(kb, q->KS), true)),
                          I(kb, q->HW)));
  KV xb = kb_gep(kb, se, q->x, xoff);
  /* per (vector, segment): lane range, outer input coordinate bases, column base */
  KV lo_s[8][4], hi_s[8][4], cb[8][4], ob[8][4][IR_MAX_RANK];
  for (int v = 0; v < nv; v++) {
    KV q0 = kb_add(kb, n0, I(kb, (int64_t)v * L));
    KV row0 = kb_div(kb, q0, I(kb, OW), true), ow0 = kb_rem(kb, q0, I(kb, OW), true);
    KV plim = kb_sub(kb, I(kb, q->P), q0);
    for (int sg = 0; sg < S; sg++) {
      KV R = kb_add(kb, row0, I(kb, sg));
      KV lo = kb_max(kb, I(kb, 0), kb_sub(kb, I(kb, sg * OW), ow0), false);
      KV hi = kb_min(kb, I(kb, L), kb_sub(kb, I(kb, (sg + 1) * OW), ow0), false);
      lo_s[v][sg] = lo;
      hi_s[v][sg] = kb_min(kb, hi, plim, false);
      /* input column of lane j (before the kernel offset): (ow0 + j - sg*OW)*sw - pad */
      cb[v][sg] = kb_sub(kb, kb_mul(kb, kb_sub(kb, ow0, I(kb, sg * OW)), I(kb, sw)), I(kb, q->pb[last]));
      for (int d = 0; d < last; d++) {
        KV od = kb_div(kb, R, I(kb, q->ostr[d] / OW), true);
        if (d > 0) od = kb_rem(kb, od, I(kb, q->out[d]), true);
        ob[v][sg][d] = kb_sub(kb, kb_mul(kb, od, I(kb, q->s[d])), I(kb, q->pb[d]));
      }
    }
  }
  KV nch = kb_div(kb, klen, I(kb, q->KS), true);
  KV iota = kb_iota(kb, kt(KE_I64, L));
  KV kpos = kb_for(kb, I(kb, 0), I(kb, q->KS), 1);
  {
    KV koff[IR_MAX_RANK];
    for (int d = 0; d < nsp; d++) {
      KV kd = kb_rem(kb, kb_div(kb, kpos, I(kb, q->kstr[d]), true), I(kb, q->k[d]), true);
      koff[d] = kb_mul(kb, kd, I(kb, q->d[d]));
    }
    KV off[8][4], lmask[8][4], emask[8][4][4];
    for (int v = 0; v < nv; v++)
      for (int sg = 0; sg < S; sg++) {
        KV ok = kb_true(kb), rowoff = I(kb, 0);
        for (int d = 0; d < last; d++) {
          KV id = kb_add(kb, ob[v][sg][d], koff[d]);
          ok = kb_and(kb, ok, kb_cmp(kb, KC_GE, id, I(kb, 0), false));
          ok = kb_and(kb, ok, kb_cmp(kb, KC_LT, id, I(kb, q->in[d]), false));
          rowoff = kb_add(kb, rowoff, kb_mul(kb, id, I(kb, q->istr[d])));
        }
        KV col = kb_add(kb, cb[v][sg], koff[last]); /* input column of lane 0 */
        /* lanes with 0 <= col + sw*j < W */
        KV jlo = kb_div(kb, kb_add(kb, kb_max(kb, kb_neg(kb, col), I(kb, 0), false), I(kb, sw - 1)), I(kb, sw), false);
        KV jhi = kb_div(kb, kb_add(kb, kb_max(kb, kb_sub(kb, I(kb, Wd), col), I(kb, 0), false), I(kb, sw - 1)), I(kb, sw),
                        false);
        KV lo = kb_max(kb, lo_s[v][sg], jlo, false);
        KV hi = kb_min(kb, hi_s[v][sg], jhi, false);
        hi = kb_select(kb, ok, hi, I(kb, 0));
        lmask[v][sg] = kb_and(kb, kb_cmp(kb, KC_GE, iota, kb_splat(kb, lo, L), false),
                              kb_cmp(kb, KC_LT, iota, kb_splat(kb, hi, L), false));
        if (sw > 1) /* element e = c*L + lane of the run is needed iff sw*lo <= e < sw*(hi-1) + 1 */
          for (int ch = 0; ch < sw; ch++) {
            KV e = kb_add(kb, iota, kb_int(kb, kt(KE_I64, L), ch * L));
            emask[v][sg][ch] = kb_and(kb, kb_cmp(kb, KC_GE, e, kb_splat(kb, kb_mul(kb, lo, I(kb, sw)), L), false),
                                      kb_cmp(kb, KC_LT, e, kb_splat(kb, kb_sub(kb, kb_mul(kb, hi, I(kb, sw)), I(kb, sw - 1)), L), false));
          }
        off[v][sg] = kb_add(kb, rowoff, col);
      }
    KV ch = kb_for(kb, I(kb, 0), nch, 1);
    {
      KV src = kb_gep(kb, se, xb, kb_mul(kb, ch, I(kb, q->HW)));
      KV drow = kb_mul(kb, kb_add(kb, kb_mul(kb, ch, I(kb, q->KS)), kpos), I(kb, s->nrp));
      KV zero = kb_is_float(se) ? kb_float(kb, kt(se, L), 0) : kb_int(kb, kt(se, L), 0);
      for (int v = 0; v < nv; v++) {
        KV val = zero;
        for (int sg = 0; sg < S; sg++) {
          KV p = kb_gep(kb, se, src, off[v][sg]);
          if (sw == 1) {
            val = kb_load_masked(kb, kt(se, L), p, lmask[v][sg], val);
            continue;
          }
          KV chv[4];
          for (int c2 = 0; c2 < sw; c2++)
            chv[c2] = kb_load_masked(kb, kt(se, L), kb_gep(kb, se, p, I(kb, (int64_t)c2 * L)), emask[v][sg][c2], NULL);
          val = kb_select(kb, lmask[v][sg], strided_pick(kb, chv, (int)sw, L), val);
        }
        if (se != ce) val = kb_cast(kb, val, kt(ce, L), false, false);
        kb_store(kb, val, kb_gep(kb, ce, dst, kb_add(kb, drow, I(kb, (int64_t)v * L))));
      }
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
}

static void conv_gemm(GenCtx *c, ConvGeo *q) {
  Node *n = c->n;
  const Value *w = n->in[1], *b = n->nin > 2 ? n->in[2] : NULL;
  GemmSpec s;
  memset(&s, 0, sizeof s);
  s.dt = q->dt;
  s.M = q->Og;
  s.N = q->P;
  s.K = q->Cg * q->KS;
  s.nbd = 2;
  s.bdims[0] = q->N;
  s.bdims[1] = q->G;
  s.a = kb_buf(c->kb, 1);
  s.a_rs = s.K;
  s.a_cs = 1;
  s.a_bs[1] = q->Og * s.K;
  if (is_const(w)) {
    s.a_const = w;
    c->const_unused |= 2u;
  }
  bool pointwise = q->KS == 1;
  for (int i = 0; i < q->nsp; i++) pointwise = pointwise && q->s[i] == 1 && q->pb[i] == 0 && q->out[i] == q->in[i];
  q->x = kb_buf(c->kb, 0);
  if (pointwise) {
    s.b = q->x;
    s.b_rs = q->HW;
    s.b_cs = 1;
    s.b_bs[0] = q->C * q->HW;
    s.b_bs[1] = q->Cg * q->HW;
  } else {
    int L = kb_lanes(c->kb, contract_elem(q->dt));
    int64_t S = (q->OW + L - 2) / q->OW + 1;
    q->nseg = q->s[q->nsp - 1] <= 4 && S <= 4 ? (int)S : 0;
    s.pack = q->nseg ? pack_segments : pack_gather;
    s.pack_ud = q;
    s.k_align = q->KS;
  }
  s.c = kb_buf(c->kb, n->nin);
  s.ldc = q->P;
  s.c_bs[0] = q->O * q->P;
  s.c_bs[1] = q->Og * q->P;
  s.alpha = 1.0;
  s.beta = 1.0;
  if (b) {
    s.bias = kb_buf(c->kb, 2);
    s.bias_rs = 1;
    s.bias_bs[1] = q->Og;
  }
  gemm_set_epi(c, &s, n->out[0]);
  gemm_emit(c, &s);
}

/* the fused epilogue on an output vector at resb's index yi (see passes/fuse.c) */
static KV epi_vec(GenCtx *c, const ConvGeo *q, KV resb, KV yi, KV v, KV mask) {
  if (!c->n->epi) return v;
  KV r = resb ? ct_load(c->kb, q->dt, kb_type(c->kb, v).e, resb, yi, kb_type(c->kb, v).lanes, mask) : NULL;
  return gen_epi_apply(c->kb, c->n->epi, v, r);
}

/* ---- direct kernel (Conv with few channels per group, ConvTranspose) ---- */
static void conv_direct(GenCtx *c, ConvGeo *q) {
  KB *kb = c->kb;
  Node *n = c->n;
  KElem ce = contract_elem(q->dt), se = kb_elem_of(q->dt);
  int L = kb_lanes(kb, ce);
  int nsp = q->nsp, last = nsp - 1;
  int64_t OW = q->OW, Wd = q->W;
  int nvw = (int)cdiv(OW, L);
  if (nvw > 4) nvw = 4;
  int rb = 8 / nvw;
  if (rb > q->R) rb = (int)q->R;
  if (rb < 1) rb = 1;
  int64_t nrb = cdiv(q->R, rb);
  int64_t ngrp = cdiv(OW, (int64_t)nvw * L);
  int64_t ntask = q->N * q->O * nrb;
  double flops = 2.0 * (double)(q->N * q->O * q->P) * (double)(q->Cg * q->KS);
  c->work = flops >= 1e6 && ntask > 1 ? ntask : 1;
  KV x = kb_buf(kb, 0), w = kb_buf(kb, 1), bias = n->nin > 2 && n->in[2] ? kb_buf(kb, 2) : NULL,
     y = kb_buf(kb, n->nin);
  int64_t sw = q->s[last], dw = q->d[last], pw = q->pb[last];

  KV t = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  KV r0 = kb_mul(kb, kb_rem(kb, t, I(kb, nrb), true), I(kb, rb));
  KV no = kb_div(kb, t, I(kb, nrb), true);
  KV o = kb_rem(kb, no, I(kb, q->O), true), nb = kb_div(kb, no, I(kb, q->O), true);
  KV g = kb_div(kb, o, I(kb, q->Og), true);
  KV xb = kb_gep(kb, se, x, kb_add(kb, kb_mul(kb, nb, I(kb, q->C * q->HW)), kb_mul(kb, g, I(kb, q->Cg * q->HW))));
  /* weight of (ci, kpos) at wb + ci*wcs + kpos */
  KV wb;
  int64_t wcs;
  if (!q->transposed) {
    wb = kb_gep(kb, se, w, kb_mul(kb, o, I(kb, q->Cg * q->KS)));
    wcs = q->KS;
  } else {
    KV ol = kb_sub(kb, o, kb_mul(kb, g, I(kb, q->Og)));
    wb = kb_gep(kb, se, w, kb_add(kb, kb_mul(kb, g, I(kb, q->Cg * q->Og * q->KS)), kb_mul(kb, ol, I(kb, q->KS))));
    wcs = q->Og * q->KS;
  }
  KV yoff = kb_mul(kb, kb_add(kb, kb_mul(kb, nb, I(kb, q->O)), o), I(kb, q->P));
  KV yb = kb_gep(kb, se, y, yoff), res = gen_epi_res(c), resb = res ? kb_gep(kb, se, res, yoff) : NULL;
  KV bv = bias ? kb_splat(kb, ct_load(kb, q->dt, ce, bias, o, 1, NULL), L) : ct_const(kb, ce, L, 0);
  /* outer coordinates of the block's rows */
  KV rvalid[8], orow[8][IR_MAX_RANK];
  for (int r = 0; r < rb; r++) {
    KV R = kb_add(kb, r0, I(kb, r));
    rvalid[r] = kb_cmp(kb, KC_LT, R, I(kb, q->R), false);
    for (int d = 0; d < last; d++) {
      KV od = kb_div(kb, R, I(kb, q->ostr[d] / OW), true);
      if (d > 0) od = kb_rem(kb, od, I(kb, q->out[d]), true);
      orow[r][d] = od;
    }
  }
  KV iota = kb_iota(kb, kt(KE_I64, L));
  KV gi = kb_for(kb, I(kb, 0), I(kb, ngrp), 1);
  {
    KV ow0 = kb_mul(kb, gi, I(kb, (int64_t)nvw * L));
    KVar acc[8][4];
    for (int r = 0; r < rb; r++)
      for (int v = 0; v < nvw; v++) acc[r][v] = kb_var(kb, kt(ce, L), bv);
    KV owv[4];
    for (int v = 0; v < nvw; v++) owv[v] = kb_add(kb, kb_splat(kb, kb_add(kb, ow0, I(kb, (int64_t)v * L)), L), iota);
    KV kpos = kb_for(kb, I(kb, 0), I(kb, q->KS), 1);
    {
      KV kd[IR_MAX_RANK];
      for (int d = 0; d < nsp; d++) kd[d] = kb_rem(kb, kb_div(kb, kpos, I(kb, q->kstr[d]), true), I(kb, q->k[d]), true);
      /* per row: input row offset and validity */
      KV roff[8], rok[8];
      for (int r = 0; r < rb; r++) {
        KV ok = rvalid[r], off = I(kb, 0);
        for (int d = 0; d < last; d++) {
          KV id;
          if (!q->transposed) {
            id = kb_add(kb, kb_sub(kb, kb_mul(kb, orow[r][d], I(kb, q->s[d])), I(kb, q->pb[d])),
                        kb_mul(kb, kd[d], I(kb, q->d[d])));
          } else {
            KV num = kb_sub(kb, kb_add(kb, orow[r][d], I(kb, q->pb[d])), kb_mul(kb, kd[d], I(kb, q->d[d])));
            ok = kb_and(kb, ok, kb_cmp(kb, KC_GE, num, I(kb, 0), false));
            if (q->s[d] > 1) ok = kb_and(kb, ok, kb_cmp(kb, KC_EQ, kb_rem(kb, num, I(kb, q->s[d]), false), I(kb, 0), false));
            id = kb_div(kb, num, I(kb, q->s[d]), false);
          }
          ok = kb_and(kb, ok, kb_cmp(kb, KC_GE, id, I(kb, 0), false));
          ok = kb_and(kb, ok, kb_cmp(kb, KC_LT, id, I(kb, q->in[d]), false));
          off = kb_add(kb, off, kb_mul(kb, id, I(kb, q->istr[d])));
        }
        roff[r] = kb_select(kb, ok, off, I(kb, 0));
        rok[r] = kb_splat(kb, ok, L);
      }
      /* per vector: input columns and lane validity */
      KV kcol = kb_mul(kb, kd[last], I(kb, dw));
      KV cidx[4], cmask[4];
      bool contiguous = sw == 1;
      for (int v = 0; v < nvw; v++) {
        KV m = kb_cmp(kb, KC_LT, owv[v], kb_int(kb, kt(KE_I64, L), OW), false), iw;
        if (!q->transposed) {
          iw = kb_add(kb, kb_mul(kb, owv[v], kb_int(kb, kt(KE_I64, L), sw)),
                      kb_splat(kb, kb_sub(kb, kcol, I(kb, pw)), L));
        } else {
          KV num = kb_sub(kb, kb_add(kb, owv[v], kb_int(kb, kt(KE_I64, L), pw)), kb_splat(kb, kcol, L));
          m = kb_and(kb, m, kb_cmp(kb, KC_GE, num, kb_int(kb, kt(KE_I64, L), 0), false));
          if (sw > 1) {
            m = kb_and(kb, m, kb_cmp(kb, KC_EQ, kb_rem(kb, num, kb_int(kb, kt(KE_I64, L), sw), false),
                                     kb_int(kb, kt(KE_I64, L), 0), false));
            num = kb_div(kb, num, kb_int(kb, kt(KE_I64, L), sw), false);
          }
          iw = num;
        }
        m = kb_and(kb, m, kb_cmp(kb, KC_GE, iw, kb_int(kb, kt(KE_I64, L), 0), false));
        m = kb_and(kb, m, kb_cmp(kb, KC_LT, iw, kb_int(kb, kt(KE_I64, L), Wd), false));
        cidx[v] = contiguous ? NULL : kb_cast(kb, kb_select(kb, m, iw, kb_int(kb, kt(KE_I64, L), 0)), kt(KE_I32, L), false, false);
        cmask[v] = m;
      }
      /* contiguous: lane j reads column col0 + j */
      KV col0[4];
      for (int v = 0; v < nvw; v++) {
        KV owf = kb_add(kb, ow0, I(kb, (int64_t)v * L));
        col0[v] = !q->transposed ? kb_add(kb, owf, kb_sub(kb, kcol, I(kb, pw))) : kb_sub(kb, kb_add(kb, owf, I(kb, pw)), kcol);
      }
      KV m2[8][4];
      for (int r = 0; r < rb; r++)
        for (int v = 0; v < nvw; v++) m2[r][v] = kb_and(kb, rok[r], cmask[v]);
      KV ci = kb_for(kb, I(kb, 0), I(kb, q->Cg), 1);
      {
        KV wv = kb_splat(kb, ct_load(kb, q->dt, ce, wb, kb_add(kb, kb_mul(kb, ci, I(kb, wcs)), kpos), 1, NULL), L);
        KV xc = kb_gep(kb, se, xb, kb_mul(kb, ci, I(kb, q->HW)));
        for (int r = 0; r < rb; r++) {
          KV xr = kb_gep(kb, se, xc, roff[r]);
          for (int v = 0; v < nvw; v++) {
            KV xv;
            if (contiguous) xv = ct_load(kb, q->dt, ce, xr, col0[v], L, m2[r][v]);
            else {
              xv = kb_gather(kb, kt(se, L), xr, cidx[v], m2[r][v]);
              if (se != ce) xv = kb_cast(kb, xv, kt(ce, L), false, false);
              xv = kb_select(kb, m2[r][v], xv, ct_const(kb, ce, L, 0));
            }
            kb_set(kb, acc[r][v], ct_madd(kb, wv, xv, kb_get(kb, acc[r][v])));
          }
        }
      }
      kb_endfor(kb);
    }
    kb_endfor(kb);
    for (int r = 0; r < rb; r++) {
      KV R = kb_add(kb, r0, I(kb, r));
      kb_if(kb, kb_cmp(kb, KC_LT, R, I(kb, q->R), false));
      for (int v = 0; v < nvw; v++) {
        KV owf = kb_add(kb, ow0, I(kb, (int64_t)v * L));
        KV m = kb_tail_mask(kb, L, kb_sub(kb, I(kb, OW), owf));
        KV yi = kb_add(kb, kb_mul(kb, R, I(kb, OW)), owf);
        ct_store(kb, q->dt, yb, yi, epi_vec(c, q, resb, yi, kb_get(kb, acc[r][v]), m), m);
      }
      kb_endif(kb);
    }
  }
  kb_endfor(kb);
  kb_endfor(kb);
}

/* ---- depthwise-like Conv (few input channels per group): the task's input planes are copied
 * into a zero-padded buffer in scratch, so the inner loop is unmasked loads (deinterleaved for
 * strides <= 4) and FMAs over a block of output rows × vectors ---- */
typedef struct DwGeo {
  int64_t E[IR_MAX_RANK], Est[IR_MAX_RANK], Etot, hi[IR_MAX_RANK];
  int64_t lm; /* left margin of a padded row: input column 0 sits at lm + pad, a multiple of L */
  /* Strides 2..4 along the row (phased): a buffer row holds the padded row's sw phases, phase ph
   * (padded columns ph, ph + sw, ...) at ph·EWp, so every tap is a unit-stride vector load; the
   * padded row is built in a temporary row of EWt columns after the buffer, deinterleaved once
   * per input row instead of once per kernel column and output row that reads it (the shuffles
   * were the bound of MobileNetV2's stride-2 depthwise convs). */
  bool ph;
  int64_t EWp, EWt;
} DwGeo;

static bool dw_geo(const ConvGeo *q, int L, DwGeo *d) {
  /* an empty input (a zero spatial dim, all output from padding) goes to conv_direct: the
     padded-copy loop below divides by the row width */
  if (q->s[q->nsp - 1] > 4 || q->W <= 0 || q->HW <= 0) return false;
  for (int i = 0; i < q->nsp; i++) {
    d->hi[i] = (q->out[i] - 1) * q->s[i] - q->pb[i] + (q->k[i] - 1) * q->d[i]; /* last input index read */
    d->E[i] = d->hi[i] + q->pb[i] + 1;
  }
  /* the last dim also holds what the vectors past the row end read: up to ngrp·nvw·L outputs */
  int64_t nvw = cdiv(q->OW, L) < 4 ? cdiv(q->OW, L) : 4, span = cdiv(q->OW, nvw * L) * nvw * L;
  int last = q->nsp - 1;
  d->E[last] = span * q->s[last] + (q->k[last] - 1) * q->d[last];
  /* rows start on a vector boundary and the copy's stores are aligned (a misaligned vector
     store splits two cache lines: it made the copy half of a stride-2 depthwise conv) */
  d->lm = (L - q->pb[last] % L) % L;
  d->E[last] = cdiv(d->lm + d->E[last], L) * L;
  int64_t sw = q->s[last];
  d->ph = sw >= 2 && q->k[last] <= 8;
  d->EWp = 0;
  d->EWt = 0;
  if (d->ph) {
    d->EWp = cdiv(span + (q->k[last] - 1) * q->d[last] / sw, L) * L;
    d->EWt = cdiv(sw * d->EWp + L, L) * L;
    if (d->EWt < d->E[last]) d->EWt = d->E[last];
    d->E[last] = sw * d->EWp;
  }
  gen_strides(q->nsp, d->E, d->Est);
  d->Etot = d->Est[0] * d->E[0];
  return (q->Cg * d->Etot + d->EWt) * 4 <= (256 << 10);
}

/* one row block × vector group of the depthwise compute (2-D): kernel column kw outer, then the
 * block's input rows i, each loaded once and added into every output row r with a kernel row kh,
 * i = r·sh + kh·dh */
typedef struct DwBlock {
  KV buf, wb, r0, ow0;
  int rb, nvw;
  int64_t KH, rows_in;
} DwBlock;

static void dw_rows_reuse(GenCtx *c, const ConvGeo *q, const DwGeo *dg, DwBlock b, KVar acc[8][4]) {
  KB *kb = c->kb;
  KElem ce = contract_elem(q->dt);
  int L = kb_lanes(kb, ce);
  KT vt = kt(ce, L);
  int64_t KW = q->k[1], sh = q->s[0], dh = q->d[0], sw = q->s[1], dw = q->d[1], Est0 = dg->Est[0];
  KV c2 = kb_for(kb, I(kb, 0), I(kb, q->Cg), 1);
  {
    KV col0 = dg->ph ? b.ow0 : kb_add(kb, I(kb, dg->lm), kb_mul(kb, b.ow0, I(kb, sw)));
    KV base = kb_gep(kb, ce, b.buf,
                     kb_add(kb, kb_add(kb, kb_mul(kb, c2, I(kb, dg->Etot)), kb_mul(kb, b.r0, I(kb, sh * Est0))), col0));
    KV wrow = kb_gep(kb, kb_elem_of(q->dt), b.wb, kb_mul(kb, c2, I(kb, q->KS)));
    for (int64_t kw = 0; kw < KW; kw++) {
      KV wv[8];
      for (int64_t kh = 0; kh < b.KH; kh++) wv[kh] = kb_splat(kb, ct_load(kb, q->dt, ce, wrow, I(kb, kh * KW + kw), 1, NULL), L);
      for (int64_t i = 0; i < b.rows_in; i++) {
        int64_t khr[8];
        bool any = false;
        for (int r = 0; r < b.rb; r++) {
          int64_t t = i - r * sh;
          khr[r] = t >= 0 && t % dh == 0 && t / dh < b.KH ? t / dh : -1;
          any |= khr[r] >= 0;
        }
        if (!any) continue;
        int64_t tap = dg->ph ? kw * dw % sw * dg->EWp + kw * dw / sw : kw * dw;
        KV p = kb_gep(kb, ce, base, I(kb, i * Est0 + tap));
        for (int v = 0; v < b.nvw; v++) {
          KV pv = kb_gep(kb, ce, p, I(kb, (int64_t)v * L * (dg->ph ? 1 : sw))), xv;
          if (sw == 1 || dg->ph) xv = kb_load(kb, vt, pv);
          else {
            KV chv[4];
            for (int k2 = 0; k2 < sw; k2++) chv[k2] = kb_load(kb, vt, kb_gep(kb, ce, pv, I(kb, (int64_t)k2 * L)));
            xv = strided_pick(kb, chv, (int)sw, L);
          }
          for (int r = 0; r < b.rb; r++)
            if (khr[r] >= 0) kb_set(kb, acc[r][v], ct_madd(kb, wv[khr[r]], xv, kb_get(kb, acc[r][v])));
        }
      }
    }
  }
  kb_endfor(kb);
}

static void conv_dw(GenCtx *c, ConvGeo *q, const DwGeo *dg) {
  KB *kb = c->kb;
  Node *n = c->n;
  KElem ce = contract_elem(q->dt), se = kb_elem_of(q->dt);
  int L = kb_lanes(kb, ce);
  size_t es = kb_elem_size(ce);
  int nsp = q->nsp, last = nsp - 1;
  int64_t OW = q->OW, Wd = q->W, sw = q->s[last], dw = q->d[last], KW = q->k[last];
  int nvw = (int)cdiv(OW, L);
  if (nvw > 4) nvw = 4;
  /* blocks of up to 8/nvw rows, split evenly (14 rows: 7 + 7, not 8 + 6 with two rows wasted) */
  int rb = (int)cdiv(q->R, cdiv(q->R, 8 / nvw));
  int64_t ngrp = cdiv(OW, (int64_t)nvw * L), nrb = cdiv(q->R, rb);
  /* 2-D with whole blocks: each input row vector is loaded once per kernel column and feeds
     every (output row, kernel row) pair of the block that reads it, instead of once per pair */
  int64_t KH = nsp == 2 ? q->k[0] : 0, sh = nsp == 2 ? q->s[0] : 0, dh = nsp == 2 ? q->d[0] : 0;
  int64_t rows_in = (rb - 1) * sh + (KH - 1) * dh + 1;
  bool reuse = nsp == 2 && q->R % rb == 0 && KH <= 8 && KW <= 8 && rows_in <= 32;
  int64_t ntask = q->N * q->O;
  double flops = 2.0 * (double)(q->N * q->O * q->P) * (double)(q->Cg * q->KS);
  /* split from 0.2 MFLOP, not 1 like the GEMMs: a depthwise layer does ~1/20 of a GEMM's FLOPs
     per cycle (MobileNetV2's 960×7×7, 0.85 MFLOP, took 30–45 µs alone; a parallel call ~2 µs) */
  c->work = flops >= 2e5 && ntask > 1 ? ntask : 1;
  int64_t sb = (q->Cg * dg->Etot + dg->EWt) * (int64_t)es + 64;
  if (sb > c->scratch_bytes) c->scratch_bytes = sb;
  KV x = kb_buf(kb, 0), w = kb_buf(kb, 1), bias = n->nin > 2 && n->in[2] ? kb_buf(kb, 2) : NULL,
     y = kb_buf(kb, n->nin);
  KV buf = kb_scratch(kb);
  KT vt = kt(ce, L);

  KV t = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  KV o = kb_rem(kb, t, I(kb, q->O), true), nb = kb_div(kb, t, I(kb, q->O), true);
  KV g = kb_div(kb, o, I(kb, q->Og), true);
  KV xb = kb_gep(kb, se, x, kb_add(kb, kb_mul(kb, nb, I(kb, q->C * q->HW)), kb_mul(kb, g, I(kb, q->Cg * q->HW))));
  KV wb = kb_gep(kb, se, w, kb_mul(kb, o, I(kb, q->Cg * q->KS)));
  KV yoff = kb_mul(kb, kb_add(kb, kb_mul(kb, nb, I(kb, q->O)), o), I(kb, q->P));
  KV yb = kb_gep(kb, se, y, yoff), res = gen_epi_res(c), resb = res ? kb_gep(kb, se, res, yoff) : NULL;
  /* 1. padded copy of the Cg input planes, each buffer row written once with whole aligned
     vectors: zeros, the input row (zero past its end), zeros; rows of padding all zeros (a memset
     of the buffer before the copy wrote it twice and was a tenth of a depthwise conv's time) */
  int64_t ncopy = dg->hi[last] + 1 < Wd ? dg->hi[last] + 1 : Wd; /* columns ever read */
  int64_t EW = dg->E[last], lead = dg->lm + q->pb[last], nbr = dg->Etot / EW;
  int64_t EWc = dg->ph ? dg->EWt : EW; /* the row the copy writes: the temporary one when phased */
  KV tmp = dg->ph ? kb_gep(kb, ce, buf, I(kb, q->Cg * dg->Etot)) : NULL;
  int64_t ncv = cdiv(ncopy, L);
  KV zv = ct_const(kb, ce, L, 0);
  KV ci = kb_for(kb, I(kb, 0), I(kb, q->Cg), 1);
  {
    KV br = kb_for(kb, I(kb, 0), I(kb, nbr), 1);
    KV ok = kb_true(kb), soff = kb_mul(kb, ci, I(kb, q->HW)), rem = br;
    for (int d = last - 1; d >= 0; d--) {
      KV e = d > 0 ? kb_rem(kb, rem, I(kb, dg->E[d]), true) : rem;
      if (d > 0) rem = kb_div(kb, rem, I(kb, dg->E[d]), true);
      KV id = kb_sub(kb, e, I(kb, q->pb[d]));
      ok = kb_and(kb, ok, kb_cmp(kb, KC_GE, id, I(kb, 0), false));
      ok = kb_and(kb, ok, kb_cmp(kb, KC_LT, id, I(kb, q->in[d]), false));
      soff = kb_add(kb, soff, kb_mul(kb, id, I(kb, q->istr[d])));
    }
    KV drow = kb_gep(kb, ce, buf, kb_add(kb, kb_mul(kb, ci, I(kb, dg->Etot)), kb_mul(kb, br, I(kb, EW))));
    kb_if(kb, ok);
    {
      KV crow = dg->ph ? tmp : drow;
      for (int64_t j = 0; j < lead; j += L) kb_store(kb, zv, kb_gep(kb, ce, crow, I(kb, j)));
      KV j = kb_for(kb, I(kb, 0), I(kb, ncopy), L);
      {
        KV m = ncopy % L ? kb_tail_mask(kb, L, kb_sub(kb, I(kb, ncopy), j)) : NULL;
        kb_store(kb, ct_load(kb, q->dt, ce, xb, kb_add(kb, soff, j), L, m), kb_gep(kb, ce, crow, kb_add(kb, j, I(kb, lead))));
      }
      kb_endfor(kb);
      for (int64_t j2 = lead + ncv * L; j2 < EWc; j2 += L) kb_store(kb, zv, kb_gep(kb, ce, crow, I(kb, j2)));
      if (dg->ph) { /* deinterleave: phase p's column j is the temporary row's lm + j·sw + p, read
                       * as the aligned vectors just stored (a load across two stores stalls) */
        KV j0 = kb_for(kb, I(kb, 0), I(kb, dg->EWp), L);
        {
          KV chv[5];
          KV src = kb_mul(kb, j0, I(kb, sw));
          for (int k2 = 0; k2 <= sw; k2++) chv[k2] = kb_load(kb, vt, kb_gep(kb, ce, tmp, kb_add(kb, src, I(kb, (int64_t)k2 * L))));
          for (int p2 = 0; p2 < sw; p2++) {
            int e0 = (int)dg->lm + p2, nch = (e0 + (int)sw * (L - 1)) / L + 1;
            kb_store(kb, phase_pick(kb, chv, nch, (int)sw, e0, L), kb_gep(kb, ce, drow, kb_add(kb, j0, I(kb, p2 * dg->EWp))));
          }
        }
        kb_endfor(kb);
      }
    }
    kb_else(kb);
    {
      KV j = kb_for(kb, I(kb, 0), I(kb, EW), L);
      kb_store(kb, zv, kb_gep(kb, ce, drow, j));
      kb_endfor(kb);
    }
    kb_endif(kb);
    kb_endfor(kb);
  }
  kb_endfor(kb);
  /* 2. compute */
  KV bv = bias ? kb_splat(kb, ct_load(kb, q->dt, ce, bias, o, 1, NULL), L) : ct_const(kb, ce, L, 0);
  KV rbi = kb_for(kb, I(kb, 0), I(kb, nrb), 1);
  {
    KV r0 = kb_mul(kb, rbi, I(kb, rb));
    KV rowb[8];
    for (int r = 0; r < rb; r++) { /* padded-buffer offset of the row's window origin (clamped rows are not stored) */
      KV R = kb_min(kb, kb_add(kb, r0, I(kb, r)), I(kb, q->R - 1), false), off = I(kb, 0);
      for (int d = 0; d < last; d++) {
        KV od = kb_div(kb, R, I(kb, q->ostr[d] / OW), true);
        if (d > 0) od = kb_rem(kb, od, I(kb, q->out[d]), true);
        off = kb_add(kb, off, kb_mul(kb, od, I(kb, q->s[d] * dg->Est[d])));
      }
      rowb[r] = off;
    }
    KV gi = kb_for(kb, I(kb, 0), I(kb, ngrp), 1);
    {
      KV ow0 = kb_mul(kb, gi, I(kb, (int64_t)nvw * L));
      KVar acc[8][4];
      for (int r = 0; r < rb; r++)
        for (int v = 0; v < nvw; v++) acc[r][v] = kb_var(kb, vt, bv);
      if (reuse) dw_rows_reuse(c, q, dg, (DwBlock){buf, wb, r0, ow0, rb, nvw, KH, rows_in}, acc);
      KV c2 = reuse ? NULL : kb_for(kb, I(kb, 0), I(kb, q->Cg), 1);
      if (!reuse) {
        KV kpo = kb_for(kb, I(kb, 0), I(kb, q->KS / KW), 1);
        {
          KV koff = kb_mul(kb, c2, I(kb, dg->Etot));
          for (int d = 0; d < last; d++) {
            KV kd = kb_rem(kb, kb_div(kb, kpo, I(kb, q->kstr[d] / KW), true), I(kb, q->k[d]), true);
            koff = kb_add(kb, koff, kb_mul(kb, kd, I(kb, q->d[d] * dg->Est[d])));
          }
          KV wrow = kb_gep(kb, se, wb, kb_add(kb, kb_mul(kb, c2, I(kb, q->KS)), kb_mul(kb, kpo, I(kb, KW))));
          bool unroll = KW <= 8;
          KV kwv = unroll ? NULL : kb_for(kb, I(kb, 0), I(kb, KW), 1);
          for (int64_t kw = 0; kw < (unroll ? KW : 1); kw++) {
            KV kwi = unroll ? I(kb, kw) : kwv;
            KV wv = kb_splat(kb, ct_load(kb, q->dt, ce, wrow, kwi, 1, NULL), L);
            KV cbase = dg->ph ? kb_add(kb, koff, kb_add(kb, ow0, I(kb, kw * dw % sw * dg->EWp + kw * dw / sw)))
                              : kb_add(kb, kb_add(kb, koff, I(kb, dg->lm)),
                                       kb_add(kb, kb_mul(kb, ow0, I(kb, sw)), kb_mul(kb, kwi, I(kb, dw))));
            for (int r = 0; r < rb; r++) {
              KV p = kb_gep(kb, ce, buf, kb_add(kb, rowb[r], cbase));
              for (int v = 0; v < nvw; v++) {
                KV pv = kb_gep(kb, ce, p, I(kb, (int64_t)v * L * (dg->ph ? 1 : sw)));
                KV xv;
                if (sw == 1 || dg->ph) xv = kb_load(kb, vt, pv);
                else {
                  KV chv[4];
                  for (int k2 = 0; k2 < sw; k2++) chv[k2] = kb_load(kb, vt, kb_gep(kb, ce, pv, I(kb, (int64_t)k2 * L)));
                  xv = strided_pick(kb, chv, (int)sw, L);
                }
                kb_set(kb, acc[r][v], ct_madd(kb, wv, xv, kb_get(kb, acc[r][v])));
              }
            }
          }
          if (!unroll) kb_endfor(kb);
        }
        kb_endfor(kb);
      }
      if (!reuse) kb_endfor(kb);
      for (int r = 0; r < rb; r++) {
        KV R = kb_add(kb, r0, I(kb, r));
        if (q->R % rb) kb_if(kb, kb_cmp(kb, KC_LT, R, I(kb, q->R), false));
        for (int v = 0; v < nvw; v++) {
          KV owf = kb_add(kb, ow0, I(kb, (int64_t)v * L));
          KV m = OW % ((int64_t)nvw * L) ? kb_tail_mask(kb, L, kb_sub(kb, I(kb, OW), owf)) : NULL;
          KV yi = kb_add(kb, kb_mul(kb, R, I(kb, OW)), owf);
          ct_store(kb, q->dt, yb, yi, epi_vec(c, q, resb, yi, kb_get(kb, acc[r][v]), m), m);
        }
        if (q->R % rb) kb_endif(kb);
      }
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
  kb_endfor(kb);
}

int gen_conv(GenCtx *c) {
  if (c->n->nhwc) return gen_conv_nhwc(c); /* pixel-major depthwise (passes/layout.c) */
  ConvGeo q;
  if (geo_init(c, &q)) return -1;
  if (q.N * q.O * q.P == 0) return 0;
  DwGeo dg;
  if (gen_binary_conv(c)) return 0; /* ±α weights on a Sign input (passes/binary.c) */
  if (gen_sparse_conv(c)) return 0;   /* a mostly-zero weight, when it pays (gen_sparse_conv.c) */
  /* a clustered weight stays indices on the GEMM engine (gen_cluster.h), not Winograd's floats */
  if (!gen_cluster_conv_keeps(c) && gen_winograd_conv(c)) return 0; /* 3×3 stride 1 when it pays */
  if (!gen_cluster_conv_keeps(c) && gen_conv_stem(c)) return 0;     /* C <= 4, KH·KW >= 25 (gen_conv_stem.c) */
  if (q.Og >= 8 || (q.Og >= 4 && q.Cg * q.KS >= 64)) conv_gemm(c, &q);
  else if (q.Cg <= 4 && dw_geo(&q, kb_lanes(c->kb, contract_elem(q.dt)), &dg)) conv_dw(c, &q, &dg);
  else conv_direct(c, &q);
  return 0;
}

int gen_conv_transpose(GenCtx *c) {
  ConvGeo q;
  if (geo_init(c, &q)) return -1;
  if (q.N * q.O * q.P == 0) return 0;
  conv_direct(c, &q);
  return 0;
}
