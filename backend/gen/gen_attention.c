/* gen_attention.c — FusedAttention (passes/attention.c): per head h and block of MR query rows,
 *     scores = scale · Q_rows·K_hᵀ (+ mask rows)   MR × L, in this thread's scratch
 *     P = exp(scores - rowmax), sum                  in place
 *     Y_rows = (P·V_h) / sum                          written straight to Y [S,H,Dv]
 * so a block of score rows goes from QKᵀ through the softmax to ·V while it sits in L1 (the
 * unfused graph writes and rereads the whole H×S×L tensor three times), and Q, K, V are read in
 * their [S,H,D] layout (no head transposes).  Each task (a head × a range of rows) first packs
 * K_hᵀ into scratch as [D][Lp] (Lp = L rounded up to a vector) so QKᵀ runs as a register-tiled
 * GEMM: MR rows × NV vectors of accumulators, Q as broadcast scalars, Kᵀ rows as vectors; P·V is
 * the same shape of tile with V's rows (contiguous in Dv) as the vectors. */
#include <math.h>

#include "gen_util.h"

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

typedef struct Att {
  GenCtx *c;
  int64_t S, L, H, D, Dv, Lp;
  int W;      /* lanes */
  int nv;     /* score vectors per tile column block */
  int nvd;    /* vectors across Dv, at most 4 (P·V runs in chunks of 4 vectors) */
  float scale;
  KV q, k, v, mask, y; /* buffers */
  KV kt, p;            /* scratch: Kᵀ [D][Lp], score rows [MR][Lp] */
  KV h;                /* this task's head */
} Att;

static KT vf(const Att *a) { return kt(KE_F32, a->W); }

/* rows r[0..W) → columns, in place: log2(W) butterfly stages, stage b swapping the off-diagonal
 * b×b blocks of every 2b×2b block (row bit b with lane bit b) */
static void transpose_regs(KB *kb, KV *r, int W) {
  int lo[16], hi[16];
  for (int b = W / 2; b >= 1; b /= 2) {
    for (int l = 0; l < W; l++) {
      lo[l] = l & b ? W + l - b : l; /* top row: its left half, then the bottom row's left half */
      hi[l] = l & b ? W + l : l + b; /* bottom row: the top row's right half, then its own */
    }
    for (int i = 0; i < W; i++)
      if (!(i & b)) {
        KV x = r[i], y = r[i + b];
        r[i] = kb_shuffle(kb, x, y, lo, W);
        r[i + b] = kb_shuffle(kb, x, y, hi, W);
      }
  }
}

/* one W×W block of Kᵀ: keys l0.. (nl valid), dims d0.. (nd valid) → kt[d0 + i][l0 ..]; keys
 * past L are zeros */
static void kt_block(const Att *a, KV l0, int nl, KV d0, int nd) {
  KB *kb = a->c->kb;
  int W = a->W;
  KT t = vf(a);
  KV r[16];
  KV dmask = nd < W ? kb_tail_mask(kb, W, I(kb, nd)) : NULL;
  KV base = kb_add(kb, kb_mul(kb, a->h, I(kb, a->D)), d0);
  for (int i = 0; i < W; i++) {
    if (i >= nl) {
      r[i] = kb_float(kb, t, 0);
      continue;
    }
    KV ptr = kb_gep(kb, KE_F32, a->k, kb_add(kb, base, kb_mul(kb, kb_add(kb, l0, I(kb, i)), I(kb, a->H * a->D))));
    r[i] = dmask ? kb_load_masked(kb, t, ptr, dmask, NULL) : kb_load(kb, t, ptr);
  }
  transpose_regs(kb, r, W);
  for (int i = 0; i < nd; i++)
    kb_store(kb, r[i], kb_gep(kb, KE_F32, a->kt, kb_add(kb, kb_mul(kb, kb_add(kb, d0, I(kb, i)), I(kb, a->Lp)), l0)));
}

/* the keys of one D chunk (nd dims at d0) */
static void kt_rows(const Att *a, KV d0, int nd) {
  KB *kb = a->c->kb;
  int W = a->W;
  int64_t lfull = a->L / W * W;
  if (lfull) {
    KV l0 = kb_for(kb, I(kb, 0), I(kb, lfull), W);
    kt_block(a, l0, W, d0, nd);
    kb_endfor(kb);
  }
  if (lfull < a->L) kt_block(a, I(kb, lfull), (int)(a->L - lfull), d0, nd);
}

/* Kᵀ of head h into kt[d][l] (zero past L), by W×W register transposes of K's rows */
static void pack_kt(const Att *a) {
  KB *kb = a->c->kb;
  int W = a->W;
  int64_t dfull = a->D / W * W;
  if (dfull) {
    KV d0 = kb_for(kb, I(kb, 0), I(kb, dfull), W);
    kt_rows(a, d0, W);
    kb_endfor(kb);
  }
  if (dfull < a->D) kt_rows(a, I(kb, dfull), (int)(a->D - dfull));
}

/* scores for rows m.. (mr of them), columns [c0, c0 + nv·W): scale·q·kᵀ + mask, into p, and
 * their running row maxima (rmax); tail: the block holds column L-1, so columns from L on
 * become -inf (exp 0; P·V never reads them) */
static void score_block(const Att *a, int mr, int nv, KV m, KV c0, bool tail, KVar *rmax) {
  KB *kb = a->c->kb;
  int W = a->W;
  KT t = vf(a);
  KVar acc[8 * 4];
  for (int i = 0; i < mr * nv; i++) acc[i] = kb_var(kb, t, kb_float(kb, t, 0));
  KV qrow = kb_gep(kb, KE_F32, a->q, kb_add(kb, kb_mul(kb, m, I(kb, a->H * a->D)), kb_mul(kb, a->h, I(kb, a->D))));
  KV d = kb_for(kb, I(kb, 0), I(kb, a->D), 1);
  KV b[4];
  KV krow = kb_add(kb, kb_mul(kb, d, I(kb, a->Lp)), c0);
  for (int v = 0; v < nv; v++) b[v] = kb_load(kb, t, kb_gep(kb, KE_F32, a->kt, kb_add(kb, krow, I(kb, (int64_t)v * W))));
  for (int i = 0; i < mr; i++) {
    KV s = kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, qrow, kb_add(kb, d, I(kb, (int64_t)i * a->H * a->D))));
    KV sv = kb_splat(kb, s, W);
    for (int v = 0; v < nv; v++) kb_set(kb, acc[i * nv + v], kb_fma(kb, sv, b[v], kb_get(kb, acc[i * nv + v])));
  }
  kb_endfor(kb);
  KV sc = kb_float(kb, t, a->scale);
  int lastv = nv - 1;                        /* in the tail block: the vector of column L-1 */
  int64_t valid = a->L - (a->L - 1) / W * W; /* its valid lanes */
  KV vmask = tail && valid < W ? kb_tail_mask(kb, W, I(kb, valid)) : NULL;
  for (int i = 0; i < mr; i++)
    for (int v = 0; v < nv; v++) {
      KV col = kb_add(kb, c0, I(kb, (int64_t)v * W));
      KV x = kb_mul(kb, kb_get(kb, acc[i * nv + v]), sc);
      KV lm = tail && v == lastv ? vmask : NULL;
      if (a->mask) {
        KV ptr = kb_gep(kb, KE_F32, a->mask, kb_add(kb, kb_mul(kb, kb_add(kb, m, I(kb, i)), I(kb, a->L)), col));
        x = kb_add(kb, x, lm ? kb_load_masked(kb, t, ptr, lm, NULL) : kb_load(kb, t, ptr));
      }
      if (lm) x = kb_select(kb, lm, x, kb_float(kb, t, -INFINITY));
      kb_set(kb, rmax[i], kb_max(kb, kb_get(kb, rmax[i]), x, false));
      kb_store(kb, x, kb_gep(kb, KE_F32, a->p, kb_add(kb, I(kb, (int64_t)i * a->Lp), col)));
    }
}

/* softmax numerators of score row i in place (all Lp columns: the padding is -inf); 1/sum */
static KV softmax_row(const Att *a, int i, KV rmax) {
  KB *kb = a->c->kb;
  int W = a->W;
  KT t = vf(a);
  KV row = kb_gep(kb, KE_F32, a->p, I(kb, (int64_t)i * a->Lp));
  KV m = kb_splat(kb, kb_reduce_max(kb, rmax, false), W);
  KVar sum = kb_var(kb, t, kb_float(kb, t, 0));
  KV l = kb_for(kb, I(kb, 0), I(kb, a->Lp), W);
  KV ptr = kb_gep(kb, KE_F32, row, l);
  KV e = kb_exp(kb, kb_sub(kb, kb_load(kb, t, ptr), m));
  kb_store(kb, e, ptr);
  kb_set(kb, sum, kb_add(kb, kb_get(kb, sum), e));
  kb_endfor(kb);
  return kb_div(kb, kb_float(kb, kt_s(KE_F32), 1), kb_reduce_add(kb, kb_get(kb, sum)), false);
}

/* columns [c0, c0 + 4W) ∩ [0, Dv) of Y's rows m..: (P·V_h) times each row's 1/sum (rs) */
static void pv_chunk(const Att *a, int mr, KV m, int64_t c0, const KV *rs) {
  KB *kb = a->c->kb;
  int W = a->W;
  KT t = vf(a);
  int64_t cols = a->Dv - c0 < 4 * (int64_t)W ? a->Dv - c0 : 4 * (int64_t)W;
  int nvd = (int)cdiv(cols, W);
  int64_t dlast = cols - (int64_t)(nvd - 1) * W;
  KV dmask = dlast < W ? kb_tail_mask(kb, W, I(kb, dlast)) : NULL;
  KVar acc[8 * 4];
  for (int i = 0; i < mr * nvd; i++) acc[i] = kb_var(kb, t, kb_float(kb, t, 0));
  KV vbase = kb_gep(kb, KE_F32, a->v, kb_add(kb, kb_mul(kb, a->h, I(kb, a->Dv)), I(kb, c0)));
  KV l = kb_for(kb, I(kb, 0), I(kb, a->L), 1);
  KV vrow = kb_mul(kb, l, I(kb, a->H * a->Dv));
  KV b[4];
  for (int v = 0; v < nvd; v++) {
    KV ptr = kb_gep(kb, KE_F32, vbase, kb_add(kb, vrow, I(kb, (int64_t)v * W)));
    b[v] = v == nvd - 1 && dmask ? kb_load_masked(kb, t, ptr, dmask, NULL) : kb_load(kb, t, ptr);
  }
  for (int i = 0; i < mr; i++) {
    KV pv = kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, a->p, kb_add(kb, l, I(kb, (int64_t)i * a->Lp)))), W);
    for (int v = 0; v < nvd; v++) kb_set(kb, acc[i * nvd + v], kb_fma(kb, pv, b[v], kb_get(kb, acc[i * nvd + v])));
  }
  kb_endfor(kb);
  KV ybase = kb_gep(kb, KE_F32, a->y,
                    kb_add(kb, kb_mul(kb, m, I(kb, a->H * a->Dv)), kb_add(kb, kb_mul(kb, a->h, I(kb, a->Dv)), I(kb, c0))));
  for (int i = 0; i < mr; i++)
    for (int v = 0; v < nvd; v++) {
      KV ptr = kb_gep(kb, KE_F32, ybase, I(kb, (int64_t)i * a->H * a->Dv + (int64_t)v * W));
      KV x = kb_mul(kb, kb_get(kb, acc[i * nvd + v]), rs[i]);
      if (v == nvd - 1 && dmask) kb_store_masked(kb, x, ptr, dmask);
      else kb_store(kb, x, ptr);
    }
}

/* one tile of mr query rows starting at m */
static void tile(const Att *a, int mr, KV m) {
  KB *kb = a->c->kb;
  int W = a->W;
  KT t = vf(a);
  /* blocks of nv vectors wholly below L run in a loop; the rest (at most nv vectors, the last
   * one partial) is one tail block */
  int64_t nvec = a->Lp / W, cw = (int64_t)a->nv * W, nblk = a->L / W / a->nv;
  int ntail = (int)(nvec - nblk * a->nv);
  KVar rmax[8];
  for (int i = 0; i < mr; i++) rmax[i] = kb_var(kb, t, kb_float(kb, t, -INFINITY));
  if (nblk) {
    KV c0 = kb_for(kb, I(kb, 0), I(kb, nblk * cw), cw);
    score_block(a, mr, a->nv, m, c0, false, rmax);
    kb_endfor(kb);
  }
  if (ntail) score_block(a, mr, ntail, m, I(kb, nblk * cw), true, rmax);
  KV rs[8];
  for (int i = 0; i < mr; i++) rs[i] = kb_splat(kb, softmax_row(a, i, kb_get(kb, rmax[i])), W);
  /* Y rows = P·V_h, in chunks of up to 4 vectors of Dv */
  for (int64_t c0 = 0; c0 < a->Dv; c0 += 4 * (int64_t)W) pv_chunk(a, mr, m, c0, rs);
}

/* register tiles: MR rows × NV vectors of accumulators + NV operand vectors + a broadcast */
static int rows_for(const GenCtx *c, int nv) {
  int regs = c->target->vector_bytes == 32 ? 16 : 32;
  int mr = (regs - nv - 2) / nv;
  return mr > 8 ? 8 : mr < 1 ? 1 : mr;
}

int gen_attention(GenCtx *c) {
  KB *kb = c->kb;
  Node *n = c->n;
  const Value *q = n->in[0], *k = n->in[1], *v = n->in[2];
  Att a = {.c = c, .S = q->dims[0], .H = q->dims[1], .D = q->dims[2], .L = k->dims[0], .Dv = v->dims[2]};
  if (a.L < 1 || a.D < 1 || a.Dv < 1) return ir_node_error(c->g, n, "empty key, head or value dims");
  a.W = kb_lanes(kb, KE_F32);
  if (a.W > 16 || (a.W & (a.W - 1))) return ir_node_error(c->g, n, "%d float lanes are not supported", a.W);
  a.Lp = cdiv(a.L, a.W) * a.W;
  int64_t nvec = a.Lp / a.W;
  a.nv = nvec < 4 ? (int)nvec : 4;
  a.nvd = a.Dv > 4 * (int64_t)a.W ? 4 : (int)cdiv(a.Dv, a.W);
  int mr = rows_for(c, a.nv > a.nvd ? a.nv : a.nvd);
  if (mr > a.S) mr = (int)a.S;
  a.scale = ir_attr_float(n, "scale", 1.0f);
  a.q = kb_buf(kb, 0), a.k = kb_buf(kb, 1), a.v = kb_buf(kb, 2);
  a.mask = n->nin > 3 && n->in[3] ? kb_buf(kb, 3) : NULL;
  a.y = kb_buf(kb, n->nin);
  c->scratch_bytes = (a.D + mr) * a.Lp * 4 + 64;

  /* tasks: head × row block; enough blocks for a few threads, each a multiple of MR rows */
  int64_t mtiles = cdiv(a.S, mr), nrb = cdiv(4, a.H);
  if (nrb > mtiles) nrb = mtiles;
  int64_t rows = cdiv(mtiles, nrb) * mr;
  nrb = cdiv(a.S, rows);
  double flops = 2.0 * (double)(a.S * a.H * a.L) * (double)(a.D + a.Dv);
  int64_t ntask = a.H * nrb;
  c->work = flops >= 1e6 && ntask > 1 ? ntask : 1;
  KV tk = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  a.h = kb_div(kb, tk, I(kb, nrb), true);
  KV r0 = kb_mul(kb, kb_rem(kb, tk, I(kb, nrb), true), I(kb, rows));
  a.kt = kb_scratch(kb);
  a.p = kb_gep(kb, KE_F32, a.kt, I(kb, a.D * a.Lp));
  pack_kt(&a);
  int64_t sfull = a.S - a.S % mr;
  KV rend = kb_min(kb, kb_add(kb, r0, I(kb, rows)), I(kb, sfull), false);
  KV m = kb_for(kb, r0, rend, mr);
  tile(&a, mr, m);
  kb_endfor(kb);
  if (a.S % mr) {
    kb_if(kb, kb_cmp(kb, KC_GE, kb_add(kb, r0, I(kb, rows)), I(kb, a.S), false));
    tile(&a, (int)(a.S % mr), I(kb, sfull));
    kb_endif(kb);
  }
  kb_endfor(kb);
  return 0;
}
