/* gen_binary_conv.c — a Conv the `binary` pass marked (passes/binary.c: weights ±α_o per output
 * channel, input values in {-1, 0, 1}) as xor + popcount over bit-packed channels (XNOR-Net).
 *
 * Compile time: for each output channel o and kernel position (kh, kw), the signs of the weights
 * over the input channels go into 64-bit words (bit c%64 of word c/64 set iff w > 0), and α_o = |w|.
 * Run time, per task (a block of output rows of one image): the input rows the block reads are
 * packed into two bit planes in scratch, per pixel and channel word: s (x > 0) and nz (x != 0);
 * padding is nz = 0.  For a pixel and weight word w, the products x·sign(w) are +1 where nz and
 * s == sign(w), -1 where nz and they differ, 0 where x = 0 or padding, so
 *     dot = popcount(nz) − 2·popcount(nz & (s ^ w))
 * is the exact integer Σ sign(x)·sign(w) over the window, and y = α_o·dot + bias, then the fused
 * epilogue.  A packed row stores its columns by phase (column j at (j % sw)·WQ + j / sw), so the
 * pixels a vector of outputs reads under one kernel column are contiguous for any stride.
 * Vectors run along output columns (i64 lanes), a block of OB output channels shares each load. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_binary_conv.h"
#include "passes.h"

#define OB 16 /* output channels per register block (16 accumulators + 2 inputs: no register copies) */
#define FAST_KS 62 /* kernel positions a per-vector bit mask holds (count_nonzero) */

typedef PassBinGeo BinGeo; /* the blocking, shared with the pass (passes/binary.c) */

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* weight sign words [o][kh][kw][cw] and α_o, registered with the weight blob */
static void pack_weights(GenCtx *c, const BinGeo *q, KV *wbits, KV *alpha, KV *wpop) {
  const float *w = c->n->in[1]->data;
  int64_t KS = q->KH * q->KW, K = q->C * KS;
  uint64_t *bits = ir_xcalloc((size_t)(q->O * KS * q->CW), sizeof *bits);
  float *al = ir_xcalloc((size_t)q->O, sizeof *al);
  for (int64_t o = 0; o < q->O; o++) {
    al[o] = fabsf(w[o * K]);
    for (int64_t ci = 0; ci < q->C; ci++)
      for (int64_t k = 0; k < KS; k++)
        if (w[o * K + ci * KS + k] > 0) bits[(o * KS + k) * q->CW + ci / 64] |= 1ull << (ci % 64);
  }
  *wbits = kb_weight(c->kb, bits, (size_t)(q->O * KS * q->CW) * sizeof *bits);
  *alpha = kb_weight(c->kb, al, (size_t)q->O * sizeof *al);
  /* the set bits of each (o, kh, kw)'s words: what the xor-only arm counts at an empty pixel */
  int64_t *pop = ir_xcalloc((size_t)(q->O * KS), sizeof *pop);
  for (int64_t i = 0; i < q->O * KS; i++)
    for (int64_t cw = 0; cw < q->CW; cw++) pop[i] += __builtin_popcountll(bits[i * q->CW + cw]);
  *wpop = kb_weight(c->kb, pop, (size_t)(q->O * KS) * sizeof *pop);
  free(pop);
  free(bits);
  free(al);
  c->const_unused |= 2u;
}

/* packs the input rows the task's nr output rows read, [ih0, ih0 + (nr − 1)·sh + (KH − 1)·dh],
 * of image xb (channels at stride H·W) into planes s, nz: padding rows are zeros without loads,
 * and only the columns valid output pixels read, (OW − 1)·sw + (KW − 1)·dw + 1 (im2col's whole
 * vectors read a few more, into lanes past a row's end that the next row or the slack takes);
 * bits[b] = 1 << b (a table: a broadcast load per bit instead of a shift and a broadcast).
 * Stride 2 reads a phase's columns as two contiguous loads and a shuffle (a gather per channel
 * cost more than the rest of a 1×1 conv); only the phases a kernel column reads are packed, and
 * with KH = 1 only the rows an output row reads. */
static void pack_input(KB *kb, const BinGeo *q, KV xb, KV ih0, KV nr, KV sp, KV nzp, KV bits) {
  int L = q->L;
  KT vt = kt(KE_I64, L), ft = kt(KE_F32, L);
  KV zero = kb_int(kb, vt, 0), fzero = kb_float(kb, ft, 0);
  KV iota = kb_iota(kb, vt);
  KV cw = kb_for(kb, I(kb, 0), I(kb, q->CW), 1);
  {
    KV c0 = kb_mul(kb, cw, I(kb, 64));
    KV nb = kb_min(kb, I(kb, 64), kb_sub(kb, I(kb, q->C), c0), false);
    int64_t wq = cdiv(cdiv((q->OW - 1) * q->sw + (q->KW - 1) * q->dw + 1, q->sw), L) * L;
    KV rows = kb_add(kb, kb_mul(kb, kb_sub(kb, nr, I(kb, 1)), I(kb, q->sh)), I(kb, (q->KH - 1) * q->dh + 1));
    bool every_sh = q->KH == 1 && q->sh > 1; /* a 1×KW kernel reads rows r·sh only */
    KV i = kb_for(kb, I(kb, 0), rows, every_sh ? q->sh : 1);
    {
      KV ih = kb_add(kb, ih0, i);
      KV rowok = kb_and(kb, kb_cmp(kb, KC_GE, ih, I(kb, 0), false), kb_cmp(kb, KC_LT, ih, I(kb, q->H), false));
      KV doff = kb_mul(kb, kb_add(kb, kb_mul(kb, cw, I(kb, q->RI)), i), I(kb, q->RL));
      KV xrow = kb_gep(kb, KE_F32, xb, kb_add(kb, kb_mul(kb, c0, I(kb, q->H * q->W)), kb_mul(kb, ih, I(kb, q->W))));
      for (int64_t ph = 0; ph < q->sw; ph++) {
        bool read = false; /* some kernel column reads phase ph */
        for (int64_t kw = 0; kw < q->KW; kw++) read |= kw * q->dw % q->sw == ph;
        if (!read) continue;
        KV q0 = kb_for(kb, I(kb, 0), I(kb, wq < q->WQ ? wq : q->WQ), L);
        {
          /* lane j: padded column (q0 + j)·sw + ph, input column that − pl */
          KV iw = kb_add(kb, kb_mul(kb, kb_add(kb, kb_splat(kb, q0, L), iota), kb_int(kb, vt, q->sw)),
                         kb_int(kb, vt, ph - q->pl));
          KV m = kb_and(kb, kb_cmp(kb, KC_GE, iw, zero, false), kb_cmp(kb, KC_LT, iw, kb_int(kb, vt, q->W), false));
          m = kb_and(kb, m, kb_splat(kb, rowok, L));
          KV idx = q->sw > 2 ? kb_cast(kb, kb_select(kb, m, iw, zero), kt(KE_I32, L), false, false) : NULL;
          /* stride 2: input columns c2 + t, t < 2L, in two loads (ma, mb: in the image and the row) */
          KV c2 = NULL, ma = NULL, mb = NULL;
          int sel[64];
          if (q->sw == 2) {
            c2 = kb_sub(kb, kb_mul(kb, q0, I(kb, 2)), I(kb, q->pl));
            KV ca = kb_add(kb, kb_splat(kb, c2, L), iota), cb = kb_add(kb, ca, kb_int(kb, vt, L));
            ma = kb_and(kb, kb_and(kb, kb_cmp(kb, KC_GE, ca, zero, false), kb_cmp(kb, KC_LT, ca, kb_int(kb, vt, q->W), false)),
                        kb_splat(kb, rowok, L));
            mb = kb_and(kb, kb_and(kb, kb_cmp(kb, KC_GE, cb, zero, false), kb_cmp(kb, KC_LT, cb, kb_int(kb, vt, q->W), false)),
                        kb_splat(kb, rowok, L));
            for (int j = 0; j < L; j++) sel[j] = 2 * j + (int)ph;
          }
          KVar s = kb_var(kb, vt, zero), nz = kb_var(kb, vt, zero);
          kb_if(kb, rowok);
          KV b = kb_for(kb, I(kb, 0), nb, 1);
          {
            KV src = kb_gep(kb, KE_F32, xrow, kb_mul(kb, b, I(kb, q->H * q->W)));
            KV v;
            if (q->sw == 1) v = kb_load_masked(kb, ft, kb_gep(kb, KE_F32, src, kb_sub(kb, q0, I(kb, q->pl))), m, fzero);
            else if (q->sw == 2) {
              KV at = kb_gep(kb, KE_F32, src, c2);
              v = kb_shuffle(kb, kb_load_masked(kb, ft, at, ma, fzero),
                             kb_load_masked(kb, ft, kb_gep(kb, KE_F32, at, I(kb, L)), mb, fzero), sel, L);
            } else v = kb_select(kb, m, kb_gather(kb, ft, src, idx, m), fzero);
            KV bit = kb_splat(kb, kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, bits, b)), L);
            kb_set(kb, s, kb_or(kb, kb_get(kb, s), kb_select(kb, kb_cmp(kb, KC_GT, v, fzero, false), bit, zero)));
            kb_set(kb, nz, kb_or(kb, kb_get(kb, nz), kb_select(kb, kb_cmp(kb, KC_NE, v, fzero, false), bit, zero)));
          }
          kb_endfor(kb);
          kb_endif(kb);
          KV at = kb_add(kb, doff, kb_add(kb, I(kb, ph * q->WQ), q0));
          kb_store(kb, kb_get(kb, s), kb_gep(kb, KE_I64, sp, at));
          kb_store(kb, kb_get(kb, nz), kb_gep(kb, KE_I64, nzp, at));
        }
        kb_endfor(kb);
      }
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
}

/* the task's buffers: weights, outputs, packed rows sp/nzp, im2col ts/tn, counts tp */
typedef struct BinOut {
  KV wbits, alpha, wpop, bias, yb, resb, sp, nzp, ts, tn, tp, fm, em, r0;
} BinOut;

/* padded input column offset of kernel column kw in a packed row (by phase, see the top) */
static KV col_off(KB *kb, const BinGeo *q, KV kw) {
  KV kc = kb_mul(kb, kw, I(kb, q->dw));
  return kb_add(kb, kb_mul(kb, kb_rem(kb, kc, I(kb, q->sw), true), I(kb, q->WQ)), kb_div(kb, kc, I(kb, q->sw), true));
}

/* the im2col planes ts, tn [k][f] (k = (kh·KW + kw)·CW + cw, f = r·OW + ow) from the packed
 * rows: whole vectors, rows in increasing order (a row's last vector spills into the next row's
 * start, which that row then overwrites; the last row's into the plane's slack) */
static void im2col(KB *kb, const BinGeo *q, const BinOut *t, KV nr) {
  int L = q->L;
  KT vt = kt(KE_I64, L);
  KV kh = kb_for(kb, I(kb, 0), I(kb, q->KH), 1);
  {
    KV kw = kb_for(kb, I(kb, 0), I(kb, q->KW), 1);
    {
      KV coff = col_off(kb, q, kw);
      KV cw = kb_for(kb, I(kb, 0), I(kb, q->CW), 1);
      {
        KV k = kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, kh, I(kb, q->KW)), kw), I(kb, q->CW)), cw);
        KV r = kb_for(kb, I(kb, 0), nr, 1);
        {
          KV rowi = kb_add(kb, kb_mul(kb, r, I(kb, q->sh)), kb_mul(kb, kh, I(kb, q->dh)));
          KV src = kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, cw, I(kb, q->RI)), rowi), I(kb, q->RL)), coff);
          KV dst = kb_add(kb, kb_mul(kb, k, I(kb, q->FL)), kb_mul(kb, r, I(kb, q->OW)));
          KV ow0 = kb_for(kb, I(kb, 0), I(kb, q->OW), L);
          {
            KV a = kb_add(kb, src, ow0), d = kb_add(kb, dst, ow0);
            kb_store(kb, kb_load(kb, vt, kb_gep(kb, KE_I64, t->sp, a)), kb_gep(kb, KE_I64, t->ts, d));
            kb_store(kb, kb_load(kb, vt, kb_gep(kb, KE_I64, t->nzp, a)), kb_gep(kb, KE_I64, t->tn, d));
          }
          kb_endfor(kb);
        }
        kb_endfor(kb);
      }
      kb_endfor(kb);
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
}

/* tp[f] = popcount of the nonzero bits in output pixel f's window: the dot product's count of
 * nonzero terms, the same for every output channel.  And per vector of pixels, three masks of
 * kernel positions p (fm[3·(f0 / L) + m], bit p) for compute_block:
 *   m = 0 (holes): some lane has a zero channel or is padding at p; else every channel bit is
 *         nonzero, nz & (s ^ w) = s ^ w and the xor-only arm is exact (bits past C are 0 in s, w);
 *   m = 1 (whole): every lane at p is all nonzero or all zero (padding): the xor-only arm counts
 *         popcount(w) at the zero lanes (s = 0 there), which em[f0 / L][p] (-1 at those lanes)
 *         takes back out;
 *   m = 2 (empty): every lane is zero at p: nothing to count.
 * KS > FAST_KS: every position takes the general arm. */
static void count_nonzero(KB *kb, const BinGeo *q, const BinOut *t, KV npix) {
  int L = q->L;
  KT vt = kt(KE_I64, L);
  int64_t KS = q->KH * q->KW;
  KV zero = kb_int(kb, vt, 0), full = kb_int(kb, vt, q->C);
  KV f0 = kb_for(kb, I(kb, 0), npix, L);
  {
    KV vi = kb_div(kb, f0, I(kb, L), true);
    KVar tot = kb_var(kb, vt, zero);
    KVar fm[3];
    for (int m = 0; m < 3; m++) fm[m] = kb_var(kb, kt_s(KE_I64), I(kb, KS > FAST_KS && !m ? -1 : 0));
    KV p = kb_for(kb, I(kb, 0), I(kb, KS), 1);
    {
      KVar pc = kb_var(kb, vt, zero);
      KV cw = kb_for(kb, I(kb, 0), I(kb, q->CW), 1);
      {
        KV k = kb_add(kb, kb_mul(kb, p, I(kb, q->CW)), cw);
        KV xn = kb_load(kb, vt, kb_gep(kb, KE_I64, t->tn, kb_add(kb, kb_mul(kb, k, I(kb, q->FL)), f0)));
        kb_set(kb, pc, kb_add(kb, kb_get(kb, pc), kb_popcount(kb, xn)));
      }
      kb_endfor(kb);
      KV n = kb_get(kb, pc);
      kb_set(kb, tot, kb_add(kb, kb_get(kb, tot), n));
      if (KS <= FAST_KS) {
        KV none = kb_cmp(kb, KC_EQ, n, zero, false), all = kb_cmp(kb, KC_EQ, n, full, false);
        KV any[3] = {kb_reduce_or(kb, kb_not(kb, all)), kb_reduce_or(kb, kb_not(kb, kb_or(kb, none, all))),
                     kb_reduce_or(kb, kb_not(kb, none))};
        KV bit = kb_shl(kb, I(kb, 1), p);
        /* holes: some lane not all set; whole: no lane in between; empty: no lane with a bit */
        kb_set(kb, fm[0], kb_or(kb, kb_get(kb, fm[0]), kb_select(kb, any[0], bit, I(kb, 0))));
        kb_set(kb, fm[1], kb_or(kb, kb_get(kb, fm[1]), kb_select(kb, any[1], I(kb, 0), bit)));
        kb_set(kb, fm[2], kb_or(kb, kb_get(kb, fm[2]), kb_select(kb, any[2], I(kb, 0), bit)));
        KV ei = kb_mul(kb, kb_add(kb, kb_mul(kb, vi, I(kb, KS)), p), I(kb, L));
        kb_store(kb, kb_select(kb, none, kb_int(kb, vt, -1), zero), kb_gep(kb, KE_I64, t->em, ei));
      }
    }
    kb_endfor(kb);
    kb_store(kb, kb_get(kb, tot), kb_gep(kb, KE_I64, t->tp, f0));
    for (int m = 0; m < 3; m++)
      kb_store(kb, kb_get(kb, fm[m]), kb_gep(kb, KE_I64, t->fm, kb_add(kb, kb_mul(kb, vi, I(kb, 3)), I(kb, m))));
  }
  kb_endfor(kb);
}

/* acc[j] −= popcount(w) of position p at the lanes em marks (zero pixels the xor-only arm counted) */
static void take_back_empty(KB *kb, const BinGeo *q, const BinOut *t, const KV *oc, KVar *acc, KV f0, KV p) {
  int L = q->L;
  KT vt = kt(KE_I64, L);
  int64_t KS = q->KH * q->KW;
  KV ei = kb_mul(kb, kb_add(kb, kb_mul(kb, kb_div(kb, f0, I(kb, L), true), I(kb, KS)), p), I(kb, L));
  KV em = kb_cmp(kb, KC_NE, kb_load(kb, vt, kb_gep(kb, KE_I64, t->em, ei)), kb_int(kb, vt, 0), false);
  for (int j = 0; j < OB; j++) {
    KV pw = kb_splat(kb, kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, t->wpop, kb_add(kb, kb_mul(kb, oc[j], I(kb, KS)), p))), L);
    kb_set(kb, acc[j], kb_sub(kb, kb_get(kb, acc[j]), kb_select(kb, em, pw, kb_int(kb, vt, 0))));
  }
}

/* acc[j] += the mismatch counts of kernel position p's channel words: popcount(nz & (s ^ w)), or
 * popcount(s ^ w) when the position has no zero (fast: one op fewer per word, and the xor can
 * take the weight word as a broadcast memory operand) */
static void position_words(KB *kb, const BinGeo *q, const BinOut *t, const KV *oc, KVar *acc, KV f0, KV p,
                           bool fast) {
  int L = q->L;
  KT vt = kt(KE_I64, L);
  KV cw = kb_for(kb, I(kb, 0), I(kb, q->CW), 1);
  {
    KV k = kb_add(kb, kb_mul(kb, p, I(kb, q->CW)), cw);
    KV at = kb_add(kb, kb_mul(kb, k, I(kb, q->FL)), f0);
    KV xs = kb_load(kb, vt, kb_gep(kb, KE_I64, t->ts, at));
    KV xn = fast ? NULL : kb_load(kb, vt, kb_gep(kb, KE_I64, t->tn, at));
    for (int j = 0; j < OB; j++) {
      /* weight words [o][kh][kw][cw]: k is the same (kh, kw, cw) order */
      KV wi = kb_add(kb, kb_mul(kb, oc[j], I(kb, q->KC)), k);
      KV wv = kb_splat(kb, kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, t->wbits, wi)), L);
      KV x = kb_xor(kb, xs, wv);
      KV d = kb_popcount(kb, fast ? x : kb_and(kb, xn, x));
      kb_set(kb, acc[j], kb_add(kb, kb_get(kb, acc[j]), d));
    }
  }
  kb_endfor(kb);
}

/* OB output channels from o0 × one vector of flattened pixels from f0 (of npix) */
static void compute_block(GenCtx *c, const BinGeo *q, const BinOut *t, KV o0, KV f0, KV npix) {
  KB *kb = c->kb;
  int L = q->L;
  KT vt = kt(KE_I64, L), ft = kt(KE_F32, L);
  KV zero = kb_int(kb, vt, 0);
  KVar acc[OB];
  for (int j = 0; j < OB; j++) acc[j] = kb_var(kb, vt, zero);
  KV oc[OB];
  for (int j = 0; j < OB; j++) oc[j] = kb_min(kb, kb_add(kb, o0, I(kb, j)), I(kb, q->O - 1), false);
  KV fi = kb_mul(kb, kb_div(kb, f0, I(kb, L), true), I(kb, 3)), fm[3];
  for (int m = 0; m < 3; m++) fm[m] = kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, t->fm, kb_add(kb, fi, I(kb, m))));
  KV p = kb_for(kb, I(kb, 0), I(kb, q->KH * q->KW), 1);
  {
    KV bit = kb_shl(kb, I(kb, 1), p), set[3];
    for (int m = 0; m < 3; m++) set[m] = kb_cmp(kb, KC_NE, kb_and(kb, fm[m], bit), I(kb, 0), false);
    kb_if(kb, kb_not(kb, set[2])); /* empty: nothing */
    {
      kb_if(kb, kb_and(kb, set[0], kb_not(kb, set[1])));
      position_words(kb, q, t, oc, acc, f0, p, false);
      kb_else(kb);
      position_words(kb, q, t, oc, acc, f0, p, true);
      kb_if(kb, set[0]);
      take_back_empty(kb, q, t, oc, acc, f0, p);
      kb_endif(kb);
      kb_endif(kb);
    }
    kb_endif(kb);
  }
  kb_endfor(kb);
  /* y = α·(tot − 2·acc) + bias (one rounding), the epilogue, stored where the channel and pixels exist */
  KV tot = kb_load(kb, vt, kb_gep(kb, KE_I64, t->tp, f0));
  KV m = kb_tail_mask(kb, L, kb_sub(kb, npix, f0));
  for (int j = 0; j < OB; j++) {
    if (q->O % OB) kb_if(kb, kb_cmp(kb, KC_LT, kb_add(kb, o0, I(kb, j)), I(kb, q->O), false));
    KV al = kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, t->alpha, oc[j])), L);
    KV bv = t->bias ? kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, t->bias, oc[j])), L) : NULL;
    KV dot = kb_sub(kb, tot, kb_shl(kb, kb_get(kb, acc[j]), kb_int(kb, vt, 1)));
    KV df = kb_cast(kb, dot, ft, false, false); /* exact while C·KH·KW <= 2^24 */
    KV yv = bv ? kb_fma(kb, al, df, bv) : kb_mul(kb, al, df);
    KV yi = kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, oc[j], I(kb, q->OH)), t->r0), I(kb, q->OW)), f0);
    if (c->n->epi) {
      KV rv = t->resb ? kb_load_masked(kb, ft, kb_gep(kb, KE_F32, t->resb, yi), m, NULL) : NULL;
      yv = gen_epi_apply(kb, c->n->epi, yv, rv);
    }
    kb_store_masked(kb, yv, kb_gep(kb, KE_F32, t->yb, yi), m);
    if (q->O % OB) kb_endif(kb);
  }
}

bool gen_binary_conv(GenCtx *c) {
  Node *n = c->n;
  BinGeo q;
  if (!pass_binary_conv_marked(n) || !pass_binary_geo(c->g, n, kb_lanes(c->kb, KE_I64), &q)) return false;
  KB *kb = c->kb;
  int L = q.L;
  BinOut t = {0};
  pack_weights(c, &q, &t.wbits, &t.alpha, &t.wpop);
  uint64_t bit_table[64];
  for (int b = 0; b < 64; b++) bit_table[b] = 1ull << b;
  KV bits = kb_weight(kb, bit_table, sizeof bit_table);
  int64_t ntask = q.N * q.nrb;
  c->work = ntask > 1 ? ntask : 1;
  int64_t plane = q.CW * q.RI * q.RL;
  int64_t cols = q.KC * q.FL;
  int64_t sb = q.scratch + 64;
  if (sb > c->scratch_bytes) c->scratch_bytes = sb;
  t.sp = kb_scratch(kb);
  t.nzp = kb_gep(kb, KE_I64, t.sp, I(kb, plane));
  t.ts = kb_gep(kb, KE_I64, t.sp, I(kb, 2 * plane));
  t.tn = kb_gep(kb, KE_I64, t.sp, I(kb, 2 * plane + cols));
  t.tp = kb_gep(kb, KE_I64, t.sp, I(kb, 2 * plane + 2 * cols));
  t.fm = kb_gep(kb, KE_I64, t.sp, I(kb, 2 * plane + 2 * cols + q.FL));
  t.em = kb_gep(kb, KE_I64, t.fm, I(kb, 3 * (q.FL / L)));
  t.bias = n->nin > 2 && n->in[2] ? kb_buf(kb, 2) : NULL;
  KV x = kb_buf(kb, 0), y = kb_buf(kb, n->nin), res = gen_epi_res(c);
  KV tk = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  {
    KV nb = kb_div(kb, tk, I(kb, q.nrb), true);
    t.r0 = kb_mul(kb, kb_rem(kb, tk, I(kb, q.nrb), true), I(kb, q.rb));
    KV xb = kb_gep(kb, KE_F32, x, kb_mul(kb, nb, I(kb, q.C * q.H * q.W)));
    KV yoff = kb_mul(kb, nb, I(kb, q.O * q.OH * q.OW));
    t.yb = kb_gep(kb, KE_F32, y, yoff);
    t.resb = res ? kb_gep(kb, KE_F32, res, yoff) : NULL;
    KV nr = kb_min(kb, I(kb, q.rb), kb_sub(kb, I(kb, q.OH), t.r0), false);
    pack_input(kb, &q, xb, kb_sub(kb, kb_mul(kb, t.r0, I(kb, q.sh)), I(kb, q.pt)), nr, t.sp, t.nzp, bits);
    im2col(kb, &q, &t, nr);
    KV npix = kb_mul(kb, nr, I(kb, q.OW));
    count_nonzero(kb, &q, &t, npix);
    KV o0 = kb_for(kb, I(kb, 0), I(kb, q.O), OB);
    {
      KV f0 = kb_for(kb, I(kb, 0), npix, L);
      compute_block(c, &q, &t, o0, f0, npix);
      kb_endfor(kb);
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
  return true;
}

/* ---- MatMul / Gemm: y[m][n] = α_n·Σ_k sign(a[m][k])·sign(b[k][n]) + bias[n] ----
 * Compile time: B's signs by column in words of 64 k, laid out [N/L][K/64][L] so a vector holds
 * one word of L neighbouring columns; α_n (0 in the padding lanes).  Run time, per row m of A (a
 * task): the row's sign and nonzero words (lanes over words, a gather per bit), then per vector
 * of L columns acc += popcount(nz & (s ^ w)) with s and nz broadcast, as in the conv. */
typedef struct BinMM {
  int64_t M, K, N, KW, NB;
  int L;
} BinMM;

static void pack_gemm_weights(GenCtx *c, const BinMM *q, KV *wbits, KV *alpha) {
  const Node *n = c->n;
  const float *b = n->in[1]->data;
  bool tb = n->op == OP_Gemm && ir_attr_int(n, "transB", 0);
  size_t nw = (size_t)(q->NB * q->KW * q->L);
  uint64_t *bits = ir_xcalloc(nw, sizeof *bits);
  float *al = ir_xcalloc((size_t)(q->NB * q->L), sizeof *al);
  for (int64_t j = 0; j < q->N; j++) {
    int64_t nb = j / q->L, lane = j % q->L;
    al[j] = fabsf(b[tb ? j * q->K : j]);
    for (int64_t k = 0; k < q->K; k++)
      if (b[tb ? j * q->K + k : k * q->N + j] > 0) bits[(nb * q->KW + k / 64) * q->L + lane] |= 1ull << (k % 64);
  }
  *wbits = kb_weight(c->kb, bits, nw * sizeof *bits);
  *alpha = kb_weight(c->kb, al, (size_t)(q->NB * q->L) * sizeof *al);
  free(bits);
  free(al);
  c->const_unused |= 2u;
}

/* row m of A (at arow) → sign words sp[kw], nonzero words nzp[kw] (bits past K are 0) */
static void pack_gemm_row(KB *kb, const BinMM *q, KV arow, KV sp, KV nzp) {
  int L = q->L;
  KT vt = kt(KE_I64, L), ft = kt(KE_F32, L);
  KV zero = kb_int(kb, vt, 0), fzero = kb_float(kb, ft, 0), iota = kb_iota(kb, vt);
  KV w0 = kb_for(kb, I(kb, 0), I(kb, q->KW), L);
  {
    KVar s = kb_var(kb, vt, zero), nz = kb_var(kb, vt, zero);
    KV base = kb_mul(kb, kb_add(kb, kb_splat(kb, w0, L), iota), kb_int(kb, vt, 64)); /* lane j: k of word w0+j */
    KV b = kb_for(kb, I(kb, 0), I(kb, 64), 1);
    {
      KV k = kb_add(kb, base, kb_splat(kb, b, L));
      KV m = kb_cmp(kb, KC_LT, k, kb_int(kb, vt, q->K), false);
      KV idx = kb_cast(kb, kb_select(kb, m, k, zero), kt(KE_I32, L), false, false);
      KV v = kb_select(kb, m, kb_gather(kb, ft, arow, idx, m), fzero);
      KV bit = kb_splat(kb, kb_shl(kb, I(kb, 1), b), L);
      kb_set(kb, s, kb_or(kb, kb_get(kb, s), kb_select(kb, kb_cmp(kb, KC_GT, v, fzero, false), bit, zero)));
      kb_set(kb, nz, kb_or(kb, kb_get(kb, nz), kb_select(kb, kb_cmp(kb, KC_NE, v, fzero, false), bit, zero)));
    }
    kb_endfor(kb);
    kb_store(kb, kb_get(kb, s), kb_gep(kb, KE_I64, sp, w0));
    kb_store(kb, kb_get(kb, nz), kb_gep(kb, KE_I64, nzp, w0));
  }
  kb_endfor(kb);
}

bool gen_binary_gemm(GenCtx *c) {
  Node *n = c->n;
  if (!n->binary || n->epi || !pass_binary_gemm_ok(n)) return false;
  KB *kb = c->kb;
  BinMM q = {.M = n->in[0]->dims[0], .K = n->in[0]->dims[1], .N = n->out[0]->dims[1], .L = kb_lanes(kb, KE_I64)};
  int L = q.L;
  q.KW = cdiv(q.K, 64);
  q.NB = cdiv(q.N, L);
  KV wbits, alpha;
  pack_gemm_weights(c, &q, &wbits, &alpha);
  int64_t kwp = cdiv(q.KW, L) * L; /* the row packing writes whole vectors of words */
  int64_t sb = 2 * kwp * 8 + 64;
  if (sb > c->scratch_bytes) c->scratch_bytes = sb;
  KV sp = kb_scratch(kb), nzp = kb_gep(kb, KE_I64, sp, I(kb, kwp));
  KV a = kb_buf(kb, 0), y = kb_buf(kb, n->nin);
  KV bias = n->op == OP_Gemm && n->nin > 2 && n->in[2] ? kb_buf(kb, 2) : NULL;
  KT vt = kt(KE_I64, L), ft = kt(KE_F32, L);
  c->work = q.M > 1 ? q.M : 1;
  KV m = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, 1), 1);
  {
    pack_gemm_row(kb, &q, kb_gep(kb, KE_F32, a, kb_mul(kb, m, I(kb, q.K))), sp, nzp);
    KV nb = kb_for(kb, I(kb, 0), I(kb, q.NB), 1);
    {
      KVar acc = kb_var(kb, vt, kb_int(kb, vt, 0)), tot = kb_var(kb, vt, kb_int(kb, vt, 0));
      KV kw = kb_for(kb, I(kb, 0), I(kb, q.KW), 1);
      {
        KV xs = kb_splat(kb, kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, sp, kw)), L);
        KV xn = kb_splat(kb, kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, nzp, kw)), L);
        KV w = kb_load(kb, vt, kb_gep(kb, KE_I64, wbits, kb_mul(kb, kb_add(kb, kb_mul(kb, nb, I(kb, q.KW)), kw), I(kb, L))));
        kb_set(kb, acc, kb_add(kb, kb_get(kb, acc), kb_popcount(kb, kb_and(kb, xn, kb_xor(kb, xs, w)))));
        kb_set(kb, tot, kb_add(kb, kb_get(kb, tot), kb_popcount(kb, xn)));
      }
      kb_endfor(kb);
      KV n0 = kb_mul(kb, nb, I(kb, L));
      KV mask = kb_tail_mask(kb, L, kb_sub(kb, I(kb, q.N), n0));
      KV dot = kb_sub(kb, kb_get(kb, tot), kb_shl(kb, kb_get(kb, acc), kb_int(kb, vt, 1)));
      KV yv = kb_mul(kb, kb_load(kb, ft, kb_gep(kb, KE_F32, alpha, n0)), kb_cast(kb, dot, ft, false, false));
      if (bias) yv = kb_add(kb, yv, kb_load_masked(kb, ft, kb_gep(kb, KE_F32, bias, n0), mask, NULL));
      kb_store_masked(kb, yv, kb_gep(kb, KE_F32, y, kb_add(kb, kb_mul(kb, m, I(kb, q.N)), n0)), mask);
    }
    kb_endfor(kb);
  }
  kb_endfor(kb);
  return true;
}
