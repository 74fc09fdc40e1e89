/* gen_rnn.c — code generation for the F_RNN family: RNN, GRU, LSTM (ONNX opsets up to 14, layout 0/1).
 *
 * One kernel per node; its parallel range is direction × batch blocks (each task owns a few batch
 * rows of one direction, which the recurrence never mixes).  A task:
 *   1. packs Wᵀ and Rᵀ for its direction as G·Hp columns (gate g, unit j at column g·Hp + j, Hp = H
 *      rounded up to a vector; zero padding) in panels of one vector, each contiguous in k — at
 *      compile time when W / R are constants, into scratch otherwise — and the summed biases;
 *   2. for a chunk of time steps, computes the input projection of every (step, batch row) of the
 *      chunk as one register-blocked GEMM: proj = X_t · Wᵀ + bias (column blocks outside, so a
 *      block of Wᵀ is reused from cache by every row);
 *   3. per step: rec = H_{t-1} · Rᵀ (a GEMM over the task's batch rows: mr rows × nv vectors of
 *      accumulators, R streamed from L2, its column blocks walked forwards on even steps and
 *      backwards on odd ones; a constant Rᵀ is packed block by block so each block is one
 *      contiguous stream, software-prefetched ahead), then the gate math for each row,
 *      vectorized over H.
 * Compressed constant weights: clustered W / R stay 4-bit (gen_cluster.h's pairs of panels) or
 * 8-bit indices decoded per vector in mm_block; pruned ones may take a sparse form
 * (gen_sparse_rnn.h: rnn_sp_panel per panel of L columns instead of mm_block).
 * sequence_lens: step s of row b is active while s < len_b; its time index is s (forward) or
 * len_b - 1 - s (reverse).  Inactive steps keep the state and write zeros to Y[s].  A length
 * outside [0, T] stops the run with ONNXC_ERR_INDEX.
 * Steps split over threads (rnn_slices): a node that is one task (batch ≤ 4, one direction) with
 * constant float W and R, and enough work per step, runs through onnxc_rt_phases instead: phase 0
 * sets the initial state, phase 1 + s is step s, and each phase is nsl tasks, one per slice of the
 * hidden units (all gates of H/nsl units: their columns of Wᵀ and Rᵀ, 1/nsl of the weights, stay
 * in one core's L2).  The state every slice reads (h, double-buffered by step parity), and what a
 * slice keeps between steps (c, the projection chunk), are in the node's arena region, since a
 * late thread's slice is taken by another; one thread runs each phase whole in one call.
 * Only float32 is generated; --fp-mode bf16 multiplies constant R and W in bf16 pairs with f32
 * sums (rec_bf16, proj_bf16), the gate math staying f32. */
#include <stdlib.h>
#include <string.h>

#include "gen_cluster.h"
#include "gen_sparse_rnn.h"
#include "gen_util.h"

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

enum { G_LSTM_I = 0, G_LSTM_O = 1, G_LSTM_F = 2, G_LSTM_C = 3 }; /* ONNX gate order i o f c */
enum { G_GRU_Z = 0, G_GRU_R = 1, G_GRU_H = 2 };                  /* z r h */

typedef struct Rnn {
  GenCtx *c;
  KB *kb;
  IrRnn s;
  int L, regs;
  int64_t Hp, GHp, nbb, tc;
  /* buffers (NULL when absent) */
  KV x, wb, seq, h0, c0, p, y, yh, yc;
  KV wconst, rconst; /* compile-time packed, per direction K·GHp floats (panel_at; R: block_at) */
  int rnv;           /* vectors per column block of the recurrence (block_at's layout) */
  bool rbf;          /* --fp-mode bf16: rconst holds Rᵀ as bf16 pairs (rec_bf16), hb the h rows */
  bool wbf;          /* --fp-mode bf16: wconst holds Wᵀ as bf16 pairs in panels (panel_at_bf16) */
  int pnv;           /* slices: vectors per column block of the projection (divides a slice's) */
  int nsl;           /* > 0: steps split into nsl slices of the hidden units (rnn_slices) */
  KV hbuf;           /* slices: h[2][nbb][Hp] in the arena, step s writes h[s & 1] */
  /* clustered W / R (gen_cluster.h): 4-bit index panels (per direction K·GHp/2 bytes), or 8-bit
   * indices in the float layout (panel_at for W, block_at for R; K·GHp bytes), and the
   * codebooks; NULL: float */
  KV wq, rq;
  int wbits, rbits; /* 4 or 8 with wq / rq, else 0 */
  RnnSp wsp, rsp;   /* pruned constant W / R in a sparse form (gen_sparse_rnn.h), or kind RSP_DENSE */
  const IrCluster *wcl, *rcl;
  /* the current task */
  bool rev;
  int dir_act; /* first activation of this direction */
  KV d, b0, nb;
  KV wt, rt, bias, rbh, proj, rec, hs, cs, rh;
  KV hb; /* rbf: the recurrence's A rows as bf16 (nbb rows of Hp), converted each step */
  KV wtq, rtq; /* this direction's index panels (clustered W / R) */
} Rnn;

/* ---------------------------------------------------------------- activations */

static KV vconst(Rnn *r, double v) { return kb_float(r->kb, kt(KE_F32, r->L), v); }

/* activation k of this direction (LSTM: 0 f, 1 g, 2 h; GRU: f, g; RNN: f); clip bounds the
 * gates' inputs, not the LSTM cell state h() reads */
static KV act(Rnn *r, int k, KV x) {
  KB *kb = r->kb;
  int a = r->dir_act + k;
  double al = r->s.alpha[a], be = r->s.beta[a];
  KV zero = vconst(r, 0);
  if (r->s.clip > 0 && k < 2) x = kb_min(kb, kb_max(kb, x, vconst(r, -r->s.clip), false), vconst(r, r->s.clip), false);
  switch (r->s.act[a]) {
  case RA_RELU: return kb_max(kb, x, zero, false);
  case RA_TANH: return kb_tanh(kb, x);
  case RA_SIGMOID: return kb_sigmoid(kb, x);
  case RA_AFFINE: return kb_fma(kb, x, vconst(r, al), vconst(r, be));
  case RA_LEAKYRELU: return kb_select(kb, kb_cmp(kb, KC_LT, x, zero, false), kb_mul(kb, x, vconst(r, al)), x);
  case RA_THRESHOLDEDRELU: return kb_select(kb, kb_cmp(kb, KC_GT, x, vconst(r, al), false), x, zero);
  case RA_SCALEDTANH: return kb_mul(kb, vconst(r, al), kb_tanh(kb, kb_mul(kb, x, vconst(r, be))));
  case RA_HARDSIGMOID:
    return kb_max(kb, kb_min(kb, kb_fma(kb, x, vconst(r, al), vconst(r, be)), vconst(r, 1), false), zero, false);
  case RA_ELU:
    return kb_select(kb, kb_cmp(kb, KC_LT, x, zero, false), kb_mul(kb, vconst(r, al), kb_expm1(kb, x)), x);
  case RA_SOFTSIGN: return kb_div(kb, x, kb_add(kb, vconst(r, 1), kb_abs(kb, x)), false);
  case RA_SOFTPLUS: /* max(x, 0) + log1p(exp(-|x|)): no overflow */
    return kb_add(kb, kb_max(kb, x, zero, false), kb_log1p(kb, kb_exp(kb, kb_neg(kb, kb_abs(kb, x)))));
  }
  return x;
}

/* ---------------------------------------------------------------- packing */

/* Packed Wᵀ / Rᵀ: column col = g·Hp + j (gate g, unit j) lives in panel col / L, stored [k][L]:
 * every vector of columns is one stream contiguous in k, which the prefetchers follow (rows of
 * G·Hp floats would put each k on a new page once G·Hp·4 reaches 4 KB). */
static int64_t panel_at(const Rnn *r, int64_t col, int64_t k, int64_t K) {
  return (col / r->L * K + k) * r->L + col % r->L;
}

static bool gru_split(const Rnn *r) { return r->s.gates == 3 && !r->s.linear_before_reset; }

/* The recurrence's column ranges: [0, GHp), or for GRU without linear_before_reset [0, 2Hp) and
 * [2Hp, 3Hp) (r ⊙ h needs z and r first) */
static void rec_range(const Rnn *r, int64_t col, int64_t *c0, int64_t *c1) {
  bool hi = gru_split(r) && col >= 2 * r->Hp;
  *c0 = hi ? 2 * r->Hp : 0;
  *c1 = gru_split(r) && !hi ? 2 * r->Hp : r->GHp;
}

/* vectors per column block of the recurrence's GEMM over [c0, c1) */
static int rec_nv(const Rnn *r, int64_t c0, int64_t c1) {
  int64_t nvec = (c1 - c0) / r->L;
  return nvec < r->rnv ? (int)nvec : r->rnv;
}

/* Packed Rᵀ for the recurrence, block by block: the column blocks mm_emit walks (rnv vectors of
 * L columns, the last one of a range narrower) are each stored [k][block width], so a block is
 * one stream contiguous in memory.  The recurrence re-reads all of Rᵀ (1 MB at H = 256) every
 * step from L2/L3; eight streams 16 KB apart (panel_at) reached ~30 B/cycle, one stream more. */
static void block_of(const Rnn *r, int64_t col, int64_t *b0, int64_t *width) {
  int64_t c0, c1;
  rec_range(r, col, &c0, &c1);
  int64_t nvec = (c1 - c0) / r->L, nv = rec_nv(r, c0, c1), step = nv * r->L;
  *b0 = c0 + (col - c0) / step * step;
  *width = *b0 + step <= c1 ? step : (nvec % nv) * r->L;
}
static int64_t block_at(const Rnn *r, int64_t col, int64_t k, int64_t K) {
  int64_t b0, width;
  block_of(r, col, &b0, &width);
  return b0 * K + k * width + (col - b0);
}

/* --fp-mode bf16 (rec_bf16): the same blocks with rows k paired, [k/2][width][2] bf16 per block
 * (vdpbf16ps's B operand), so a block is still one stream, half as long */
static int64_t block_at_bf16(const Rnn *r, int64_t col, int64_t k, int64_t K) {
  int64_t b0, width;
  block_of(r, col, &b0, &width);
  return b0 * K + (k / 2) * width * 2 + (col - b0) * 2 + k % 2;
}

/* --fp-mode bf16's Wᵀ: panel_at's panels with rows k paired, [k/2][L][2] bf16 per panel (K even) */
static int64_t panel_at_bf16(const Rnn *r, int64_t col, int64_t k, int64_t K) {
  return (col / r->L * K + k / 2 * 2) * r->L + col % r->L * 2 + k % 2;
}

/* what pack_const writes per element: the float, its bf16 bits (--fp-mode bf16, in the _bf16
 * layouts) or a clustered one's 8-bit index */
enum { PACK_F32, PACK_BF16, PACK_IDX8 };

/* host: [d][k][g·Hp + j] = W[d][g·H + j][k] (zero padded) for a constant W or R, per direction
 * K·GHp elements (PACK_IDX8: padding index 0, those columns are unused) */
static KV pack_const(Rnn *r, const Value *w, int64_t K, bool blocked, int kind) {
  int64_t D = r->s.ndir, G = r->s.gates, H = r->s.H;
  size_t n = (size_t)(D * K * r->GHp), es = kind == PACK_IDX8 ? 1 : kind == PACK_BF16 ? 2 : sizeof(float);
  int64_t (*at_of)(const Rnn *, int64_t, int64_t, int64_t) =
      kind == PACK_BF16 ? (blocked ? block_at_bf16 : panel_at_bf16) : (blocked ? block_at : panel_at);
  char *buf = ir_xcalloc(n ? n : 1, es);
  for (int64_t d = 0; d < D; d++)
    for (int64_t k = 0; k < K; k++)
      for (int64_t g = 0; g < G; g++)
        for (int64_t j = 0; j < H; j++) {
          int64_t at = d * K * r->GHp + at_of(r, g * r->Hp + j, k, K);
          int64_t i = (d * G * H + g * H + j) * K + k;
          if (kind == PACK_IDX8) ((uint8_t *)buf)[at] = w->cluster->idx[i];
          else if (kind == PACK_BF16) ((uint16_t *)buf)[at] = gen_host_bf16((float)ir_const_f64(w, i));
          else ((float *)buf)[at] = (float)ir_const_f64(w, i);
        }
  KV p = kb_weight(r->kb, buf, n * es);
  free(buf);
  return p;
}

/* host: a clustered W or R as index panels (gen_cluster.h): pair p = col / 2L, the nibble of
 * panel col / L; per direction K·GHp/2 bytes */
static KV pack_nibbles(Rnn *r, const Value *w, int64_t K) {
  int64_t D = r->s.ndir, G = r->s.gates, H = r->s.H, L = r->L, per = K * r->GHp / 2;
  const uint8_t *ix = w->cluster->idx;
  size_t n = (size_t)(D * per);
  uint8_t *buf = ir_xcalloc(n ? n : 1, 1);
  for (int64_t d = 0; d < D; d++)
    for (int64_t g = 0; g < G; g++)
      for (int64_t j = 0; j < H; j++) {
        int64_t col = g * r->Hp + j, panel = col / L;
        for (int64_t k = 0; k < K; k++) {
          uint8_t q = ix[(d * G * H + g * H + j) * K + k];
          buf[d * per + ((panel / 2) * K + k) * L + col % L] |= (uint8_t)(q << (4 * (panel % 2)));
        }
      }
  KV p = kb_weight(r->kb, buf, n);
  free(buf);
  return p;
}

/* run time: the same for this task's direction, from buffer src into dst (scratch) */
static void pack_run(Rnn *r, KV src, int64_t K, KV dst) {
  KB *kb = r->kb;
  int L = r->L;
  int64_t G = r->s.gates, H = r->s.H;
  KT it = kt(KE_I64, L);
  KV lane = kb_mul(kb, kb_iota(kb, it), kb_int(kb, it, K));
  KV k = kb_for(kb, I(kb, 0), I(kb, K), 1);
  for (int64_t g = 0; g < G; g++) {
    KV j = kb_for(kb, I(kb, 0), I(kb, r->Hp), L);
    KV mask = kb_tail_mask(kb, L, kb_sub(kb, I(kb, H), j));
    KV row = kb_add(kb, kb_mul(kb, r->d, I(kb, G * H)), kb_add(kb, I(kb, g * H), j));
    KV idx = kb_add(kb, kb_splat(kb, kb_add(kb, kb_mul(kb, row, I(kb, K)), k), L), lane);
    KV v = kb_gather(kb, kt(KE_F32, L), src, kb_select(kb, mask, idx, kb_int(kb, it, 0)), mask);
    v = kb_select(kb, mask, v, vconst(r, 0));
    KV col = kb_add(kb, I(kb, g * r->Hp), j); /* a multiple of L: panel col / L, lane 0 */
    kb_store(kb, v, kb_gep(kb, KE_F32, dst, kb_add(kb, kb_mul(kb, col, I(kb, K)), kb_mul(kb, k, I(kb, L)))));
    kb_endfor(kb);
  }
  kb_endfor(kb);
}

/* bias[g·Hp + j] = Wb + Rb (GRU with linear_before_reset: the h gate's Rb goes to rbh instead) */
static void pack_bias(Rnn *r) {
  KB *kb = r->kb;
  int L = r->L;
  int64_t G = r->s.gates, H = r->s.H;
  bool split = r->s.gates == 3 && r->s.linear_before_reset;
  for (int64_t g = 0; g < G; g++) {
    KV j = kb_for(kb, I(kb, 0), I(kb, r->Hp), L);
    KV v = vconst(r, 0), vr = vconst(r, 0);
    if (r->wb) {
      KV mask = kb_tail_mask(kb, L, kb_sub(kb, I(kb, H), j));
      KV base = kb_add(kb, kb_mul(kb, r->d, I(kb, 2 * G * H)), kb_add(kb, I(kb, g * H), j));
      v = kb_load_masked(kb, kt(KE_F32, L), kb_gep(kb, KE_F32, r->wb, base), mask, NULL);
      vr = kb_load_masked(kb, kt(KE_F32, L), kb_gep(kb, KE_F32, r->wb, kb_add(kb, base, I(kb, G * H))), mask, NULL);
    }
    if (split && g == G_GRU_H) kb_store(kb, vr, kb_gep(kb, KE_F32, r->rbh, j));
    else v = kb_add(kb, v, vr);
    kb_store(kb, v, kb_gep(kb, KE_F32, r->bias, kb_add(kb, I(kb, g * r->Hp), j)));
    kb_endfor(kb);
  }
}

/* ---------------------------------------------------------------- the register-blocked GEMM */

/* C[i][col] (= init[col] or 0) + Σ_k A[i][k] · Bp(k, col) for m rows, columns [c0, c1) (multiples
 * of L; Bp packed in panels, see panel_at) */
typedef struct Mm {
  int m;
  KV a[8], cptr[8];
  int64_t K;
  KV bp, init;
  KV bq, table, tab2; /* clustered: indices and codebook instead of bp (gen_cluster.h) */
  int bits;            /* bq's index width: 4 (pairs of panels) or 8 (bp's layout), else 0 */
  int64_t c0, c1;
  KV flip; /* i1 or NULL: true walks the column blocks last to first (see emit_step) */
  int bnv;  /* > 0: bp in block_at's layout, blocks of bnv vectors; 0: panel_at's */
  bool bf;  /* bp in bf16 pairs: with bnv block_at_bf16's layout and a[i] bf16 rows (rec_bf16);
             * without, panel_at_bf16's and a[i] f32 rows, each pair converted as it is read */
} Mm;

enum { REC_PF = 16 }; /* prefetch distance of the recurrence's Rᵀ stream, in rows of a block */

/* one vector of B at p: floats loaded, or 8-bit indices decoded */
static KV mm_b(Rnn *r, const Mm *mm, KV p) {
  if (mm->bits == 8) return gen_cluster_decode8(r->kb, mm->table, mm->tab2, p, r->L);
  return kb_load(r->kb, kt(KE_F32, r->L), p);
}

/* rec_bf16's block: K/2 pairs of rows, each nv vectors of 2L bf16 (vdpbf16ps: two k per lane) times
 * the pair (a[2p], a[2p+1]) of every row broadcast as one 32-bit value */
static void mm_block_bf16(Rnn *r, const Mm *mm, int nv, KV col, KVar acc[8][8]) {
  KB *kb = r->kb;
  int L = r->L;
  KT bt = kt(KE_BF16, 2 * L);
  int64_t w2 = (int64_t)nv * 2 * L; /* bf16 per pair row */
  KV p = kb_for(kb, I(kb, 0), I(kb, mm->K / 2), 1);
  if (!mm->bnv) { /* the projection: panels, f32 A rows */
    KV bk = kb_gep(kb, KE_BF16, mm->bp, kb_add(kb, kb_mul(kb, col, I(kb, mm->K)), kb_mul(kb, p, I(kb, 2 * (int64_t)L))));
    KV bv[8];
    for (int v = 0; v < nv; v++) bv[v] = kb_load(kb, bt, kb_gep(kb, KE_BF16, bk, I(kb, (int64_t)v * L * mm->K)));
    for (int i = 0; i < mm->m; i++) { /* (a[2p], a[2p+1]) broadcast as f32 × 2L, then to bf16 */
      KV a = kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, mm->a[i], p));
      a = kb_to_bf16(kb, kb_bitcast(kb, kb_splat(kb, a, L), kt(KE_F32, 2 * L)));
      for (int v = 0; v < nv; v++) kb_set(kb, acc[i][v], kb_dot2_bf16(kb, kb_get(kb, acc[i][v]), a, bv[v]));
    }
    kb_endfor(kb);
    return;
  }
  KV bk = kb_gep(kb, KE_BF16, mm->bp, kb_add(kb, kb_mul(kb, col, I(kb, mm->K)), kb_mul(kb, p, I(kb, w2))));
  KV bv[8];
  for (int v = 0; v < nv; v++) bv[v] = kb_load(kb, bt, kb_gep(kb, KE_BF16, bk, I(kb, (int64_t)v * 2 * L)));
  KV pp = kb_min(kb, kb_add(kb, p, I(kb, REC_PF)), I(kb, mm->K / 2 - 1), true);
  KV pb = kb_gep(kb, KE_BF16, mm->bp, kb_add(kb, kb_mul(kb, col, I(kb, mm->K)), kb_mul(kb, pp, I(kb, w2))));
  for (int v = 0; v < nv; v++) kb_prefetch(kb, kb_gep(kb, KE_BF16, pb, I(kb, (int64_t)v * 2 * L)));
  for (int i = 0; i < mm->m; i++) {
    KV a = kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, mm->a[i], p));
    a = kb_bitcast(kb, kb_splat(kb, a, L), bt);
    for (int v = 0; v < nv; v++) kb_set(kb, acc[i][v], kb_dot2_bf16(kb, kb_get(kb, acc[i][v]), a, bv[v]));
  }
  kb_endfor(kb);
}

/* the float (or clustered) block: K rows of nv vectors (see the layouts above) */
static void mm_block_f32(Rnn *r, const Mm *mm, int nv, KV col, KVar acc[8][8]) {
  KB *kb = r->kb;
  int L = r->L;
  KV k = kb_for(kb, I(kb, 0), I(kb, mm->K), 1);
  KV bv[8];
  bool b8 = mm->bits == 8;
  KElem es = b8 ? KE_I8 : KE_F32;
  KV src = b8 ? mm->bq : mm->bp;
  if (mm->bits == 4) { /* nv even, col a multiple of 2L: pairs of panels from one byte load */
    KV pk = kb_add(kb, kb_mul(kb, kb_div(kb, col, I(kb, 2 * (int64_t)L), true), I(kb, mm->K)), k);
    KV bk = kb_gep(kb, KE_I8, mm->bq, kb_mul(kb, pk, I(kb, L)));
    for (int v = 0; v < nv; v += 2)
      gen_cluster_decode2(kb, mm->table, kb_gep(kb, KE_I8, bk, I(kb, (int64_t)v / 2 * L * mm->K)), L, &bv[v], &bv[v + 1]);
  } else if (mm->bnv) { /* this block: K rows of nv·L floats (or index bytes) from col·K */
    KV bk = kb_gep(kb, es, src, kb_add(kb, kb_mul(kb, col, I(kb, mm->K)), kb_mul(kb, k, I(kb, (int64_t)nv * L))));
    for (int v = 0; v < nv; v++) bv[v] = mm_b(r, mm, kb_gep(kb, es, bk, I(kb, (int64_t)v * L)));
    /* the L1 prefetcher does not keep up with an L2/L3 stream at one row of the block per FMA
     * group: ask for the row REC_PF ahead (clamped into the block; measured ~20% of the step);
     * bytes: the same distance in bytes, one prefetch per line */
    KV kp = kb_min(kb, kb_add(kb, k, I(kb, b8 ? 4 * REC_PF : REC_PF)), I(kb, mm->K - 1), true);
    KV pb = kb_gep(kb, es, src, kb_add(kb, kb_mul(kb, col, I(kb, mm->K)), kb_mul(kb, kp, I(kb, (int64_t)nv * L))));
    for (int v = 0; v < nv; v += b8 ? 64 / L : 1) kb_prefetch(kb, kb_gep(kb, es, pb, I(kb, (int64_t)v * L)));
  } else {
    KV bk = kb_gep(kb, es, src, kb_add(kb, kb_mul(kb, col, I(kb, mm->K)), kb_mul(kb, k, I(kb, L))));
    for (int v = 0; v < nv; v++) bv[v] = mm_b(r, mm, kb_gep(kb, es, bk, I(kb, (int64_t)v * L * mm->K)));
  }
  for (int i = 0; i < mm->m; i++) {
    KV a = kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, mm->a[i], k)), L);
    for (int v = 0; v < nv; v++) kb_set(kb, acc[i][v], kb_fma(kb, a, bv[v], kb_get(kb, acc[i][v])));
  }
  kb_endfor(kb);
}

static void mm_block(Rnn *r, const Mm *mm, int nv, KV col) {
  KB *kb = r->kb;
  int L = r->L;
  KT vt = kt(KE_F32, L);
  KVar acc[8][8];
  for (int v = 0; v < nv; v++) {
    KV off = kb_add(kb, col, I(kb, (int64_t)v * L));
    KV init = mm->init ? kb_load(kb, vt, kb_gep(kb, KE_F32, mm->init, off)) : vconst(r, 0);
    for (int i = 0; i < mm->m; i++) acc[i][v] = kb_var(kb, vt, init);
  }
  if (mm->bf) mm_block_bf16(r, mm, nv, col, acc);
  else mm_block_f32(r, mm, nv, col, acc);
  for (int i = 0; i < mm->m; i++)
    for (int v = 0; v < nv; v++)
      kb_store(kb, kb_get(kb, acc[i][v]), kb_gep(kb, KE_F32, mm->cptr[i], kb_add(kb, col, I(kb, (int64_t)v * L))));
}

static void mm_emit(Rnn *r, const Mm *mm) {
  KB *kb = r->kb;
  int64_t nvec = (mm->c1 - mm->c0) / r->L;
  int nv = (r->regs - 1) / (mm->m + 1);
  if (nv > 8) nv = 8;
  if (nv < 1) nv = 1;
  if (nv > nvec) nv = (int)nvec;
  if (mm->bits == 4) nv = nv < 4 ? 2 : nv & ~1; /* pairs of panels (the table takes a register) */
  if (mm->bnv) nv = mm->bnv;
  int64_t nfull = nvec / nv, step = (int64_t)nv * r->L;
  if (nfull > 0) {
    KV blk = kb_for(kb, I(kb, 0), I(kb, nfull), 1);
    if (mm->flip) blk = kb_select(kb, mm->flip, kb_sub(kb, I(kb, nfull - 1), blk), blk);
    mm_block(r, mm, nv, kb_add(kb, I(kb, mm->c0), kb_mul(kb, blk, I(kb, step))));
    kb_endfor(kb);
  }
  if (nvec % nv) mm_block(r, mm, (int)(nvec % nv), I(kb, mm->c0 + nfull * step));
}

/* calls fn for rows [0, n) in groups of mr (then single rows) */
typedef void (*RowsFn)(Rnn *r, void *ud, KV row, int m);
static void for_rows(Rnn *r, KV n, int mr, RowsFn fn, void *ud) {
  KB *kb = r->kb;
  KV full = I(kb, 0);
  if (mr > 1) {
    full = kb_sub(kb, n, kb_rem(kb, n, I(kb, mr), true));
    KV i = kb_for(kb, I(kb, 0), full, mr);
    fn(r, ud, i, mr);
    kb_endfor(kb);
  }
  KV i = kb_for(kb, full, n, 1);
  fn(r, ud, i, 1);
  kb_endfor(kb);
}

/* ---------------------------------------------------------------- per-row helpers */

#define ST_INDEX 3 /* ONNXC_ERR_INDEX */

static KV row_len_raw(Rnn *r, KV bi) {
  KB *kb = r->kb;
  KV b = kb_add(kb, r->b0, bi);
  bool i64 = r->c->n->in[4]->dtype == DT_INT64;
  KV v = kb_load(kb, kt_s(i64 ? KE_I64 : KE_I32), kb_gep(kb, i64 ? KE_I64 : KE_I32, r->seq, b));
  return i64 ? v : kb_cast(kb, v, kt_s(KE_I64), false, false);
}

/* sequence_lens outside [0, T] is bad input: the run stops with ONNXC_ERR_INDEX, as for Gather */
static void check_lens(Rnn *r) {
  KB *kb = r->kb;
  KV bi = kb_for(kb, I(kb, 0), r->nb, 1);
  kb_if(kb, kb_cmp(kb, KC_GT, row_len_raw(r, bi), I(kb, r->s.T), true));
  kb_return_status(kb, kb_i32(kb, ST_INDEX));
  kb_endif(kb);
  kb_endfor(kb);
}

static KV row_len(Rnn *r, KV bi) { return r->seq ? row_len_raw(r, bi) : I(r->kb, r->s.T); }

/* the time index row bi reads at step s (clamped to >= 0 for inactive reverse steps) */
static KV row_time(Rnn *r, KV s, KV len) {
  KB *kb = r->kb;
  if (!r->rev) return s;
  return kb_max(kb, kb_sub(kb, kb_sub(kb, len, I(kb, 1)), s), I(kb, 0), false);
}

static KV x_off(Rnn *r, KV t, KV b) {
  KB *kb = r->kb;
  const IrRnn *s = &r->s;
  KV row = s->layout ? kb_add(kb, kb_mul(kb, b, I(kb, s->T)), t) : kb_add(kb, kb_mul(kb, t, I(kb, s->B)), b);
  return kb_mul(kb, row, I(kb, s->I));
}

static KV y_off(Rnn *r, KV t, KV b) {
  KB *kb = r->kb;
  const IrRnn *s = &r->s;
  int64_t D = s->ndir;
  KV row = s->layout ? kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, b, I(kb, s->T)), t), I(kb, D)), r->d)
                     : kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, t, I(kb, D)), r->d), I(kb, s->B)), b);
  return kb_mul(kb, row, I(kb, s->H));
}

/* offset of state row (d, b) in initial_h / Y_h layouts */
static KV st_off(Rnn *r, KV b) {
  KB *kb = r->kb;
  const IrRnn *s = &r->s;
  KV row = s->layout ? kb_add(kb, kb_mul(kb, b, I(kb, s->ndir)), r->d) : kb_add(kb, kb_mul(kb, r->d, I(kb, s->B)), b);
  return kb_mul(kb, row, I(kb, s->H));
}

/* ---------------------------------------------------------------- projection and recurrence */

typedef struct ProjUd {
  KV s0;
  KV col; /* the column block [col, col + nv·L) */
  int nv;
  KV tcn; /* the chunk's steps (phase_proj_block) */
} ProjUd;

/* the codebook registers (or pointer) of a clustered operand */
static void mm_tables(Rnn *r, Mm *mm, const IrCluster *cl) {
  if (mm->bits == 4) mm->table = gen_cluster_table(r->kb, cl, r->L);
  else if (mm->bits == 8) gen_cluster_tables8(r->kb, cl, r->L, &mm->table, &mm->tab2);
}

/* the projection's rows [row, row + m) of the chunk: X rows into a, proj rows into c */
static void proj_ptrs(Rnn *r, const ProjUd *pu, KV row, int m, KV *a, KV *c) {
  KB *kb = r->kb;
  for (int i = 0; i < m; i++) {
    KV q = kb_add(kb, row, I(kb, i));
    KV bi = kb_rem(kb, q, r->nb, true);
    KV s = kb_add(kb, pu->s0, kb_div(kb, q, r->nb, true));
    KV t = row_time(r, s, row_len(r, bi));
    a[i] = kb_gep(kb, KE_F32, r->x, x_off(r, t, kb_add(kb, r->b0, bi)));
    c[i] = kb_gep(kb, KE_F32, r->proj, kb_mul(kb, q, I(kb, r->GHp)));
  }
}

static void proj_rows(Rnn *r, void *ud, KV row, int m) {
  ProjUd *pu = ud;
  Mm mm = {.m = m, .K = r->s.I, .bp = r->wt, .init = r->bias, .c0 = 0, .c1 = r->GHp, .bq = r->wtq, .bits = r->wbits,
           .bf = r->wbf};
  mm_tables(r, &mm, r->wcl);
  proj_ptrs(r, pu, row, m, mm.a, mm.cptr);
  mm_block(r, &mm, pu->nv, pu->col);
}

/* sparse W: panel pu->col / L of rows [row, row + m) */
static void proj_sp_rows(Rnn *r, void *ud, KV row, int m) {
  KB *kb = r->kb;
  ProjUd *pu = ud;
  KV a[4], c[4];
  proj_ptrs(r, pu, row, m, a, c);
  for (int i = 0; i < m; i++) c[i] = kb_gep(kb, KE_F32, c[i], pu->col);
  KV q = kb_add(kb, kb_mul(kb, r->d, I(kb, r->wsp.npanel)), kb_div(kb, pu->col, I(kb, r->L), true));
  rnn_sp_panel(kb, &r->wsp, r->L, q, m, a, c, kb_gep(kb, KE_F32, r->bias, pu->col));
}

/* proj = X_t · Wᵀ + bias for the chunk's tcn steps.  Column blocks outside, rows inside: a block
 * of Wᵀ (nv panels, K·nv·L floats) stays in cache for every row group, where rows outside would
 * stream all of Wᵀ (as large as L2 at H = 256) again for each group of pmr rows. */
static void emit_proj_cols(Rnn *r, KV s0, KV tcn, int64_t c0, int64_t c1);
static void emit_proj(Rnn *r, KV s0, KV tcn) {
  KB *kb = r->kb;
  if (r->wsp.kind) { /* panels outside: a panel's entries stay in cache for every row group */
    ProjUd pu = {s0, NULL, 1, NULL};
    KV p = kb_for(kb, I(kb, 0), I(kb, r->wsp.npanel), 1);
    pu.col = kb_mul(kb, p, I(kb, r->L));
    for_rows(r, kb_mul(kb, tcn, r->nb), 4, proj_sp_rows, &pu);
    kb_endfor(kb);
    return;
  }
  emit_proj_cols(r, s0, tcn, 0, r->GHp);
}

/* the same for columns [c0, c1) (multiples of L) of a dense or clustered W */
static void emit_proj_cols(Rnn *r, KV s0, KV tcn, int64_t c0, int64_t c1) {
  KB *kb = r->kb;
  int pmr = (r->regs - 5) / 4; /* 4 vectors of columns */
  if (pmr > 8) pmr = 8;
  int64_t nvec = (c1 - c0) / r->L;
  int nv = nvec < 4 ? (int)nvec : 4;
  int64_t nfull = nvec / nv;
  KV rows = kb_mul(kb, tcn, r->nb);
  ProjUd pu = {s0, NULL, nv, NULL};
  KV cb = kb_for(kb, I(kb, 0), I(kb, nfull), 1);
  pu.col = kb_add(kb, I(kb, c0), kb_mul(kb, cb, I(kb, (int64_t)nv * r->L)));
  for_rows(r, rows, pmr, proj_rows, &pu);
  kb_endfor(kb);
  if (nvec % nv) {
    pu.col = I(kb, c0 + nfull * nv * r->L);
    pu.nv = (int)(nvec % nv);
    for_rows(r, rows, pmr, proj_rows, &pu);
  }
}

typedef struct RecUd {
  KV a;          /* A rows: a + bi·Hp */
  int64_t c0, c1;
  KV flip;
  KV col; /* non-NULL: only the block of rnv vectors at col (block_at's layout), not [c0, c1) */
} RecUd;

/* sparse R: the panels of [c0, c1), last to first when flip */
static void rec_sp_rows(Rnn *r, const RecUd *ru, KV row, int m) {
  KB *kb = r->kb;
  int64_t p0 = ru->c0 / r->L, p1 = ru->c1 / r->L;
  KV a[4], c[4];
  KV p = kb_for(kb, I(kb, p0), I(kb, p1), 1);
  p = kb_select(kb, ru->flip, kb_sub(kb, I(kb, p0 + p1 - 1), p), p);
  for (int i = 0; i < m; i++) {
    KV bi = kb_add(kb, row, I(kb, i));
    a[i] = kb_gep(kb, KE_F32, ru->a, kb_mul(kb, bi, I(kb, r->Hp)));
    c[i] = kb_gep(kb, KE_F32, r->rec, kb_add(kb, kb_mul(kb, bi, I(kb, r->GHp)), kb_mul(kb, p, I(kb, r->L))));
  }
  rnn_sp_panel(kb, &r->rsp, r->L, kb_add(kb, kb_mul(kb, r->d, I(kb, r->rsp.npanel)), p), m, a, c, NULL);
  kb_endfor(kb);
}

static void rec_rows(Rnn *r, void *ud, KV row, int m) {
  KB *kb = r->kb;
  RecUd *ru = ud;
  if (r->rsp.kind) {
    rec_sp_rows(r, ru, row, m);
    return;
  }
  Mm mm = {.m = m, .K = r->s.H, .bp = r->rt, .init = NULL, .c0 = ru->c0, .c1 = ru->c1, .flip = ru->flip, .bq = r->rtq,
           .bits = r->rbits, .bnv = (r->rconst || r->rbits == 8) && r->rnv ? rec_nv(r, ru->c0, ru->c1) : 0, .bf = r->rbf};
  mm_tables(r, &mm, r->rcl);
  for (int i = 0; i < m; i++) {
    KV bi = kb_add(kb, row, I(kb, i));
    mm.a[i] = kb_gep(kb, r->rbf ? KE_BF16 : KE_F32, r->rbf ? r->hb : ru->a, kb_mul(kb, bi, I(kb, r->Hp)));
    mm.cptr[i] = kb_gep(kb, KE_F32, r->rec, kb_mul(kb, bi, I(kb, r->GHp)));
  }
  if (ru->col) {
    mm.bnv = r->rnv;
    mm_block(r, &mm, r->rnv, ru->col);
  } else
    mm_emit(r, &mm);
}

static int rec_mr(Rnn *r) { return r->nbb >= 4 ? 4 : (int)r->nbb; }

/* rec_bf16: the recurrence's A rows (nb rows of Hp floats at src) into hb as bf16 */
static void to_bf16_rows(Rnn *r, KV src) {
  KB *kb = r->kb;
  int L = r->L, cat[64];
  for (int i = 0; i < 2 * L; i++) cat[i] = i;
  KT ft = kt(KE_F32, L);
  KV n = kb_mul(kb, r->nb, I(kb, r->Hp)); /* rows are contiguous: one loop over all of them */
  KV j = kb_for(kb, I(kb, 0), n, 2 * L);
  KV e = kb_load(kb, ft, kb_gep(kb, KE_F32, src, j)), o = kb_load(kb, ft, kb_gep(kb, KE_F32, src, kb_add(kb, j, I(kb, L))));
  kb_store(kb, kb_to_bf16(kb, kb_shuffle(kb, e, o, cat, 2 * L)), kb_gep(kb, KE_BF16, r->hb, j));
  kb_endfor(kb);
}

/* ---------------------------------------------------------------- gate math */

typedef struct Step {
  Rnn *r;
  KV prow, rrow, hrow, crow, rhrow; /* proj row, rec row, state rows */
  KV hin;                           /* h_{t-1} row the gate math reads (slices: not hrow) */
  KV yptr;                          /* Y row for this step, or NULL */
} Step;

static KV ld(Rnn *r, KV base, KV j, int64_t off, KV mask) {
  KB *kb = r->kb;
  return gen_vload(kb, kt(KE_F32, r->L), kb_gep(kb, KE_F32, base, kb_add(kb, j, I(kb, off))), mask);
}
static void st(Rnn *r, KV v, KV base, KV j, KV mask) {
  gen_vstore(r->kb, v, kb_gep(r->kb, KE_F32, base, j), mask);
}
/* the pre-activation of gate g: proj + rec */
static KV pre(Step *sp, KV j, int g, KV mask) {
  Rnn *r = sp->r;
  return kb_add(r->kb, ld(r, sp->prow, j, g * r->Hp, mask), ld(r, sp->rrow, j, g * r->Hp, mask));
}
static KV peep(Rnn *r, KV j, int k, KV mask) {
  KV base = kb_gep(r->kb, KE_F32, r->p, kb_mul(r->kb, r->d, I(r->kb, 3 * r->s.H)));
  return ld(r, base, j, k * r->s.H, mask);
}

static void lstm_body(KB *kb, void *ud, KV j, KV mask) {
  Step *sp = ud;
  Rnn *r = sp->r;
  KV c = ld(r, sp->crow, j, 0, mask);
  KV xi = pre(sp, j, G_LSTM_I, mask), xf = pre(sp, j, G_LSTM_F, mask);
  if (r->p) {
    xi = kb_fma(kb, peep(r, j, 0, mask), c, xi);
    xf = kb_fma(kb, peep(r, j, 2, mask), c, xf);
  }
  KV ig = act(r, 0, xi);
  KV fg = r->s.input_forget ? kb_sub(kb, vconst(r, 1), ig) : act(r, 0, xf);
  KV cand = act(r, 1, pre(sp, j, G_LSTM_C, mask));
  KV cn = kb_fma(kb, fg, c, kb_mul(kb, ig, cand));
  KV xo = pre(sp, j, G_LSTM_O, mask);
  if (r->p) xo = kb_fma(kb, peep(r, j, 1, mask), cn, xo);
  KV h = kb_mul(kb, act(r, 0, xo), act(r, 2, cn));
  st(r, cn, sp->crow, j, mask);
  st(r, h, sp->hrow, j, mask);
  if (sp->yptr) st(r, h, sp->yptr, j, mask);
}

/* GRU without linear_before_reset, first half: z (kept in rec's z slot) and r ⊙ h */
static void gru_zr_body(KB *kb, void *ud, KV j, KV mask) {
  Step *sp = ud;
  Rnn *r = sp->r;
  KV z = act(r, 0, pre(sp, j, G_GRU_Z, mask));
  KV rg = act(r, 0, pre(sp, j, G_GRU_R, mask));
  st(r, z, kb_gep(kb, KE_F32, sp->rrow, I(kb, G_GRU_Z * r->Hp)), j, mask);
  st(r, kb_mul(kb, rg, ld(r, sp->hrow, j, 0, mask)), sp->rhrow, j, mask);
}

static void gru_body(KB *kb, void *ud, KV j, KV mask) {
  Step *sp = ud;
  Rnn *r = sp->r;
  KV h = ld(r, sp->hin, j, 0, mask);
  KV z, xh;
  if (r->s.linear_before_reset) {
    z = act(r, 0, pre(sp, j, G_GRU_Z, mask));
    KV rg = act(r, 0, pre(sp, j, G_GRU_R, mask));
    KV rech = kb_add(kb, ld(r, sp->rrow, j, G_GRU_H * r->Hp, mask), ld(r, r->rbh, j, 0, mask));
    xh = kb_fma(kb, rg, rech, ld(r, sp->prow, j, G_GRU_H * r->Hp, mask));
  } else {
    z = ld(r, sp->rrow, j, G_GRU_Z * r->Hp, mask);
    xh = pre(sp, j, G_GRU_H, mask);
  }
  KV hc = act(r, 1, xh);
  KV hn = kb_fma(kb, z, kb_sub(kb, h, hc), hc); /* (1 - z) ⊙ h~ + z ⊙ h */
  st(r, hn, sp->hrow, j, mask);
  if (sp->yptr) st(r, hn, sp->yptr, j, mask);
}

static void rnn_body(KB *kb, void *ud, KV j, KV mask) {
  Step *sp = ud;
  Rnn *r = sp->r;
  KV h = act(r, 0, pre(sp, j, 0, mask));
  st(r, h, sp->hrow, j, mask);
  if (sp->yptr) st(r, h, sp->yptr, j, mask);
}

static void zero_body(KB *kb, void *ud, KV j, KV mask) {
  Step *sp = ud;
  st(sp->r, vconst(sp->r, 0), sp->yptr, j, mask);
}

static Step step_rows(Rnn *r, KV s, KV s0, KV bi) {
  KB *kb = r->kb;
  Step sp = {r, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  sp.prow = kb_gep(kb, KE_F32, r->proj, kb_mul(kb, kb_add(kb, kb_mul(kb, kb_sub(kb, s, s0), r->nb), bi), I(kb, r->GHp)));
  sp.rrow = kb_gep(kb, KE_F32, r->rec, kb_mul(kb, bi, I(kb, r->GHp)));
  sp.hrow = kb_gep(kb, KE_F32, r->hs, kb_mul(kb, bi, I(kb, r->Hp)));
  sp.crow = kb_gep(kb, KE_F32, r->cs, kb_mul(kb, bi, I(kb, r->Hp)));
  sp.rhrow = kb_gep(kb, KE_F32, r->rh, kb_mul(kb, bi, I(kb, r->Hp)));
  sp.hin = sp.hrow;
  return sp;
}

/* one time step s (projection chunk starting at s0) for all rows of the task */
static void emit_step(Rnn *r, KV s, KV s0) {
  KB *kb = r->kb;
  int64_t Hp = r->Hp;
  bool split = gru_split(r);
  /* Rᵀ is streamed once per step; at H = 256 it is as large as L2, and a cyclic walk over
   * slightly more than the cache misses on every line.  Odd steps walk the column blocks
   * backwards, so a step starts on the blocks the previous one read last, still in cache. */
  KV flip = kb_cmp(kb, KC_NE, kb_and(kb, s, I(kb, 1)), I(kb, 0), false);
  /* with a zero initial state the first step's H·Rᵀ is zero */
  KV first = r->h0 ? NULL : kb_cmp(kb, KC_EQ, s, I(kb, 0), false);
  if (first) {
    kb_if(kb, first);
    kb_memset(kb, r->rec, 0, kb_mul(kb, r->nb, I(kb, r->GHp * (int64_t)sizeof(float))));
    kb_else(kb);
  }
  if (r->rbf) to_bf16_rows(r, r->hs);
  RecUd ru = {r->hs, 0, split ? 2 * Hp : r->GHp, flip, NULL};
  for_rows(r, r->nb, rec_mr(r), rec_rows, &ru);
  if (first) kb_endif(kb);
  if (split) {
    KV bi = kb_for(kb, I(kb, 0), r->nb, 1);
    Step sp = step_rows(r, s, s0, bi);
    gen_vec_loop(kb, I(kb, 0), I(kb, r->s.H), r->L, gru_zr_body, &sp);
    kb_endfor(kb);
    if (first) kb_if(kb, kb_not(kb, first));
    if (r->rbf) to_bf16_rows(r, r->rh);
    RecUd rh = {r->rh, 2 * Hp, 3 * Hp, flip, NULL};
    for_rows(r, r->nb, rec_mr(r), rec_rows, &rh);
    if (first) kb_endif(kb);
  }
  KV bi = kb_for(kb, I(kb, 0), r->nb, 1);
  Step sp = step_rows(r, s, s0, bi);
  KV len = row_len(r, bi), b = kb_add(kb, r->b0, bi);
  if (r->seq) kb_if(kb, kb_cmp(kb, KC_LT, s, len, false));
  sp.yptr = r->y ? kb_gep(kb, KE_F32, r->y, y_off(r, row_time(r, s, len), b)) : NULL;
  GenVecBody body = r->s.gates == 4 ? lstm_body : r->s.gates == 3 ? gru_body : rnn_body;
  gen_vec_loop(kb, I(kb, 0), I(kb, r->s.H), r->L, body, &sp);
  if (r->seq) {
    kb_else(kb);
    if (r->y) {
      sp.yptr = kb_gep(kb, KE_F32, r->y, y_off(r, s, b));
      gen_vec_loop(kb, I(kb, 0), I(kb, r->s.H), r->L, zero_body, &sp);
    }
    kb_endif(kb);
  }
  kb_endfor(kb);
}

/* ---------------------------------------------------------------- states in and out */

typedef struct Copy {
  Rnn *r;
  KV dst, src; /* src NULL: zeros */
} Copy;

static void copy_body(KB *kb, void *ud, KV j, KV mask) {
  Copy *cp = ud;
  KV v = cp->src ? ld(cp->r, cp->src, j, 0, mask) : vconst(cp->r, 0);
  st(cp->r, v, cp->dst, j, mask);
}

/* body over the hidden units [j0, min(j1, H)), a vector at a time (j1 <= Hp): with H a multiple
 * of the vector no masked tail is emitted (LLVM cannot drop one whose bounds are run-time values) */
static void units_loop(Rnn *r, KV j0, KV j1, GenVecBody body, void *ud) {
  KB *kb = r->kb;
  if (r->s.H % r->L) {
    gen_vec_loop(kb, j0, kb_min(kb, j1, I(kb, r->s.H), true), r->L, body, ud);
    return;
  }
  KV j = kb_for(kb, j0, j1, r->L);
  body(kb, ud, j, NULL);
  kb_endfor(kb);
}

/* in: initial state (or zeros) into scratch; otherwise scratch into the output io */
static void copy_state(Rnn *r, KV io, KV scr, bool in, KV j0, KV j1) {
  KB *kb = r->kb;
  KV bi = kb_for(kb, I(kb, 0), r->nb, 1);
  KV srow = kb_gep(kb, KE_F32, scr, kb_mul(kb, bi, I(kb, r->Hp)));
  KV iorow = io ? kb_gep(kb, KE_F32, io, st_off(r, kb_add(kb, r->b0, bi))) : NULL;
  Copy cp = {r, in ? srow : iorow, in ? iorow : srow};
  units_loop(r, j0, j1, copy_body, &cp);
  kb_endfor(kb);
}

/* ---------------------------------------------------------------- the task */

static void emit_task(Rnn *r, bool rev) {
  KB *kb = r->kb;
  const IrRnn *s = &r->s;
  r->rev = rev;
  r->dir_act = (rev && s->ndir == 2 ? 1 : 0) * s->nact;
  int64_t K = s->I, H = s->H;
  if (r->wq) r->wtq = kb_gep(kb, KE_I8, r->wq, kb_mul(kb, r->d, I(kb, K * r->GHp * r->wbits / 8)));
  else if (r->wconst) r->wt = kb_gep(kb, r->wbf ? KE_BF16 : KE_F32, r->wconst, kb_mul(kb, r->d, I(kb, K * r->GHp)));
  else if (!r->wsp.kind) pack_run(r, kb_buf(kb, 1), K, r->wt);
  if (r->rq) r->rtq = kb_gep(kb, KE_I8, r->rq, kb_mul(kb, r->d, I(kb, H * r->GHp * r->rbits / 8)));
  else if (r->rconst) r->rt = kb_gep(kb, r->rbf ? KE_BF16 : KE_F32, r->rconst, kb_mul(kb, r->d, I(kb, H * r->GHp)));
  else if (!r->rsp.kind) pack_run(r, kb_buf(kb, 2), H, r->rt);
  pack_bias(r);
  copy_state(r, r->h0, r->hs, true, I(kb, 0), I(kb, H));
  if (s->gates == 4) copy_state(r, r->c0, r->cs, true, I(kb, 0), I(kb, H));

  KV s0 = kb_for(kb, I(kb, 0), I(kb, s->T), r->tc);
  KV tcn = kb_min(kb, I(kb, r->tc), kb_sub(kb, I(kb, s->T), s0), false);
  emit_proj(r, s0, tcn);
  KV st_ = kb_for(kb, I(kb, 0), tcn, 1);
  emit_step(r, kb_add(kb, s0, st_), s0);
  kb_endfor(kb);
  kb_endfor(kb);

  if (r->yh) copy_state(r, r->yh, r->hs, false, I(kb, 0), I(kb, H));
  if (r->yc) copy_state(r, r->yc, r->cs, false, I(kb, 0), I(kb, H));
}

/* ---------------------------------------------------------------- steps split over threads */

/* h rows of step parity k: hbuf + k·nbb·Hp */
static KV hbuf_at(Rnn *r, KV k) {
  return kb_gep(r->kb, KE_F32, r->hbuf, kb_mul(r->kb, k, I(r->kb, r->nbb * r->Hp)));
}

/* The gates' column blocks of the units [u0, u1) (run time; u1 - u0 a multiple of nv·L): calls
 * fn(r, ud, col) for each block's first column, gates and blocks last to first where flip (NULL:
 * forwards).  Every slice and the whole phase share this one copy of the code: compiling one per
 * slice cost 6× the LLVM time of the kernel. */
typedef void (*BlockFn)(Rnn *r, void *ud, KV col);
static void for_unit_blocks(Rnn *r, KV u0, KV u1, int nv, KV flip, BlockFn fn, void *ud) {
  KB *kb = r->kb;
  int64_t G = r->s.gates;
  KV nblk = kb_div(kb, kb_sub(kb, u1, u0), I(kb, (int64_t)nv * r->L), true);
  KV g = kb_for(kb, I(kb, 0), I(kb, G), 1);
  if (flip) g = kb_select(kb, flip, kb_sub(kb, I(kb, G - 1), g), g);
  KV b = kb_for(kb, I(kb, 0), nblk, 1);
  if (flip) b = kb_select(kb, flip, kb_sub(kb, kb_sub(kb, nblk, I(kb, 1)), b), b);
  fn(r, ud, kb_add(kb, kb_add(kb, kb_mul(kb, g, I(kb, r->Hp)), u0), kb_mul(kb, b, I(kb, (int64_t)nv * r->L))));
  kb_endfor(kb);
  kb_endfor(kb);
}

static void phase_proj_block(Rnn *r, void *ud, KV col) {
  ProjUd *pu = ud;
  int pmr = (r->regs - 5) / 4; /* as emit_proj_cols */
  if (pmr > 8) pmr = 8;
  pu->col = col;
  for_rows(r, kb_mul(r->kb, pu->tcn, r->nb), pmr, proj_rows, pu);
}

static void phase_rec_block(Rnn *r, void *ud, KV col) {
  RecUd *ru = ud;
  ru->col = col;
  for_rows(r, r->nb, rec_mr(r), rec_rows, ru);
}

/* phase p for the hidden units [u0, u1) (a slice, or all of them), see the file's comment */
static void emit_phase(Rnn *r, KV p, KV u0, KV u1) {
  KB *kb = r->kb;
  const IrRnn *s = &r->s;
  kb_if(kb, kb_cmp(kb, KC_EQ, p, I(kb, 0), false)); /* the initial state of the units */
  copy_state(r, r->h0, hbuf_at(r, I(kb, 1)), true, u0, u1);
  if (s->gates == 4) copy_state(r, r->c0, r->cs, true, u0, u1);
  kb_else(kb);
  KV st_ = kb_sub(kb, p, I(kb, 1));
  KV ph = kb_and(kb, st_, I(kb, 1));
  KV prev = hbuf_at(r, kb_sub(kb, I(kb, 1), ph));
  r->hs = hbuf_at(r, ph);
  pack_bias(r); /* into this thread's scratch: a slice may run on another thread next step */
  KV s0 = kb_sub(kb, st_, kb_rem(kb, st_, I(kb, r->tc), true));
  /* a chunk starts: its projection, these units' columns.  Tried (session 17, lstm256 1 thread):
   * the next chunk's projection fused into the recurrence's k loop (chunks of 8-16 steps, one
   * vector of Wᵀ columns × the chunk's rows per block of Rᵀ) ran 0.15-0.3 ms slower: its FMAs do
   * not hide behind the Rᵀ stream (slower even with Wᵀ's traffic removed), and Wᵀ re-read every
   * chunk costs L2 room Rᵀ needs. */
  kb_if(kb, kb_cmp(kb, KC_EQ, st_, s0, false));
  ProjUd pu = {s0, NULL, r->pnv, kb_min(kb, I(kb, r->tc), kb_sub(kb, I(kb, s->T), s0), false)};
  for_unit_blocks(r, u0, u1, r->pnv, NULL, phase_proj_block, &pu);
  kb_endif(kb);
  /* odd steps walk Rᵀ's blocks backwards (gates too): a step starts where the last one ended */
  if (r->rbf) to_bf16_rows(r, prev); /* each slice its own copy: hb is in scratch */
  RecUd ru = {prev, 0, 0, kb_cmp(kb, KC_NE, ph, I(kb, 0), false), NULL};
  for_unit_blocks(r, u0, u1, r->rnv, ru.flip, phase_rec_block, &ru);
  KV bi = kb_for(kb, I(kb, 0), r->nb, 1);
  Step sp = step_rows(r, st_, s0, bi);
  sp.hin = kb_gep(kb, KE_F32, prev, kb_mul(kb, bi, I(kb, r->Hp)));
  KV b = kb_add(kb, r->b0, bi);
  sp.yptr = r->y ? kb_gep(kb, KE_F32, r->y, y_off(r, row_time(r, st_, I(kb, s->T)), b)) : NULL;
  GenVecBody body = s->gates == 4 ? lstm_body : s->gates == 3 ? gru_body : rnn_body;
  units_loop(r, u0, u1, body, &sp);
  kb_endfor(kb);
  kb_if(kb, kb_cmp(kb, KC_EQ, st_, I(kb, s->T - 1), false));
  if (r->yh) copy_state(r, r->yh, r->hs, false, u0, u1);
  if (r->yc) copy_state(r, r->yc, r->cs, false, u0, u1);
  kb_endif(kb);
  kb_endif(kb);
}

/* the kernel's tasks [begin, end) = phase·nsl + slice: a whole phase at once where the range
 * covers it (one thread), else slice by slice */
static void emit_sliced(Rnn *r) {
  KB *kb = r->kb;
  int64_t S = r->nsl, Hs = r->Hp / S;
  r->rev = r->s.reverse;
  r->dir_act = 0;
  r->wt = r->wconst;
  r->rt = r->rconst;
  KV b = kb_begin(kb), e = kb_end(kb);
  KV p = kb_for(kb, kb_div(kb, b, I(kb, S), true), kb_div(kb, kb_add(kb, e, I(kb, S - 1)), I(kb, S), true), 1);
  KV lo = kb_max(kb, b, kb_mul(kb, p, I(kb, S)), false), hi = kb_min(kb, e, kb_mul(kb, kb_add(kb, p, I(kb, 1)), I(kb, S)), false);
  KV whole = kb_cmp(kb, KC_EQ, kb_sub(kb, hi, lo), I(kb, S), false);
  KV t = kb_for(kb, lo, kb_select(kb, whole, kb_add(kb, lo, I(kb, 1)), hi), 1);
  KV u0 = kb_select(kb, whole, I(kb, 0), kb_mul(kb, kb_sub(kb, t, kb_mul(kb, p, I(kb, S))), I(kb, Hs)));
  emit_phase(r, p, u0, kb_select(kb, whole, I(kb, r->Hp), kb_add(kb, u0, I(kb, Hs))));
  kb_endfor(kb);
  kb_endfor(kb);
}

/* Steps split over threads pay when a step's multiply-adds outweigh a phase's synchronization
 * (a few hundred ns) many times over: Rᵀ of at least SLICE_MIN_MACS floats (H = 256 LSTM: 256K;
 * its 1 MB of Rᵀ is as large as L2, half of it fits).  Two slices: this project's machines
 * have 2 cores (a third thread would find nothing to take). */
#define SLICE_MIN_MACS ((int64_t)128 << 10)
static int rnn_slices(const Rnn *r, int64_t ntask, bool wconst, bool rconst) {
  const IrRnn *s = &r->s;
  if (ntask != 1 || !wconst || !rconst || r->seq || gru_split(r) || s->T < 2) return 0;
  if ((r->Hp / r->L) % 2 || s->H * r->GHp < SLICE_MIN_MACS) return 0;
  return 2;
}

/* 8-bit indices decoded in the kernel only where they were measured not to lose: at most 32 values
 * (two vpermps tables; a 16-lane gather costs ~20 cycles here: lstm256 with 200 values ran 18.4 ms
 * on indices vs 2.2 on floats) and a weight too large for L2 (lstm256, 1 MB of R per layer, at 32
 * values: 2.7-3.1 ms on indices vs 2.3-2.5 on floats); otherwise the floats decoded at compile time */
#define RNN_IDX8_MIN_BYTES ((int64_t)4 << 20)
static bool idx8_pays(const Rnn *r, const Value *w, int64_t K) {
  return gen_cluster_bytes_ok(w) && w->cluster->k <= 2 * r->L && r->L == 16 &&
         K * r->GHp * (int64_t)sizeof(float) >= RNN_IDX8_MIN_BYTES;
}

/* --fp-mode bf16 (ISSUE14 Deliver 9): a constant float R multiplies in bf16 with f32 sums
 * (vdpbf16ps), half the bytes the recurrence streams each step (lstm256: its 1 MB of Rᵀ per layer,
 * beyond L2, becomes 512 KB).  H a multiple of 2L: h rows convert in whole pairs of vectors and
 * have no padding lanes (R's padded rows are zero, but 0 · garbage could be NaN). */
static bool bf16_mode(const Rnn *r) {
  const Graph *g = r->c->g;
  while (g->parent) g = g->parent;
  return g->fp_mode == IR_FP_BF16 && r->c->target->has_bf16 && r->L == 16;
}
static bool rec_bf16(const Rnn *r) { return bf16_mode(r) && r->s.H % (2 * r->L) == 0 && r->rnv > 0; }
/* and a constant float W for the projection (compute-bound, 2 k per vdpbf16ps): X rows are read
 * as pairs (x[2k], x[2k+1]) converted as they are broadcast, so I must be even */
static bool proj_bf16(const Rnn *r) { return bf16_mode(r) && r->s.I % 2 == 0; }

static bool all_zero(const Value *v) {
  if (v->kind != VK_CONST) return false;
  for (int64_t i = 0, n = ir_value_numel(v); i < n; i++)
    if (ir_const_f64(v, i) != 0) return false;
  return true;
}

/* the kernel of a node split into slices: scratch bias, rbh, rec; arena h[2], c, proj */
static int gen_rnn_sliced(Rnn *r) {
  GenCtx *c = r->c;
  KB *kb = r->kb;
  int64_t boff = 0, rboff = r->GHp, recoff = rboff + r->Hp, hboff = recoff + r->nbb * r->GHp;
  c->scratch_bytes = (hboff + (r->rbf ? r->nbb * r->Hp / 2 : 0)) * (int64_t)sizeof(float) + 64;
  int64_t top = (c->arena_top + 63) / 64 * 64, hoff = 0, coff = 2 * r->nbb * r->Hp, poff = coff + r->nbb * r->Hp;
  int64_t end = top + (poff + r->tc * r->nbb * r->GHp) * (int64_t)sizeof(float);
  if (end > c->arena_end) c->arena_end = end;
  c->work = r->nsl;
  c->phases = r->s.T + 1;
  KV sc = kb_scratch(kb);
  KV rt = kb_buf(kb, c->n->nin + c->n->nout);
  KV region = kb_gep_bytes(kb, kb_load(kb, kt_s(KE_PTR), rt), I(kb, top)); /* rt->arena */
  r->d = I(kb, 0);
  r->b0 = I(kb, 0);
  r->nb = I(kb, r->nbb);
  r->bias = kb_gep(kb, KE_F32, sc, I(kb, boff));
  r->rbh = kb_gep(kb, KE_F32, sc, I(kb, rboff));
  r->rec = kb_gep(kb, KE_F32, sc, I(kb, recoff));
  r->rh = r->rec; /* GRU's r ⊙ h: only without linear_before_reset, never split */
  r->hb = kb_gep(kb, KE_F32, sc, I(kb, hboff));
  r->hbuf = kb_gep(kb, KE_F32, region, I(kb, hoff));
  r->cs = kb_gep(kb, KE_F32, region, I(kb, coff));
  r->proj = kb_gep(kb, KE_F32, region, I(kb, poff));
  emit_sliced(r);
  return 0;
}

int gen_rnn(GenCtx *c) {
  Graph *g = c->g;
  Node *n = c->n;
  KB *kb = c->kb;
  Rnn r;
  memset(&r, 0, sizeof r);
  r.c = c;
  r.kb = kb;
  if (ir_rnn_spec(g, n, &r.s)) return -1;
  if (n->in[0]->dtype != DT_FLOAT)
    return ir_node_error(g, n, "data type %s is not supported (float32 only)", dtype_name(n->in[0]->dtype));
  const IrRnn *s = &r.s;
  r.L = kb_lanes(kb, KE_F32);
  r.regs = c->target->vector_bytes == 64 ? 32 : 16;
  r.Hp = cdiv(s->H, r.L) * r.L;
  r.GHp = s->gates * r.Hp;
  int64_t B = s->B, D = s->ndir;
  r.nbb = B <= 4 ? B : cdiv(B, cdiv(B, 4)); /* the recurrence tiles 4 rows anyway: blocks of 4 cost
                                              nothing single-threaded and give threads work */
  int64_t nbt = B > 0 ? cdiv(B, r.nbb) : 0;
  if (r.nbb < 1) r.nbb = 1;
  int rm = rec_mr(&r);
  r.rnv = (r.regs - 1) / (rm + 1);
  if (r.rnv > 8) r.rnv = 8;
  r.tc = (int64_t)65536 / (r.nbb * r.GHp);
  if (r.tc < 1) r.tc = 1;
  if (r.tc > s->T) r.tc = s->T > 0 ? s->T : 1;

  Value *in[8] = {0};
  for (int i = 0; i < n->nin && i < 8; i++) in[i] = n->in[i];
  r.x = kb_buf(kb, 0);
  r.wb = in[3] ? kb_buf(kb, 3) : NULL;
  r.seq = in[4] ? kb_buf(kb, 4) : NULL;
  /* a constant all-zero initial state (torch exports one) is the same as none */
  for (int i = 5; i <= 6; i++)
    if (in[i] && all_zero(in[i])) in[i] = NULL, c->const_unused |= 1u << i;
  r.h0 = in[5] ? kb_buf(kb, 5) : NULL;
  r.c0 = in[6] ? kb_buf(kb, 6) : NULL;
  r.p = in[7] ? kb_buf(kb, 7) : NULL;
  KV *outs[3] = {&r.y, &r.yh, &r.yc};
  for (int i = 0; i < n->nout && i < 3; i++)
    if (n->out[i]) *outs[i] = kb_buf(kb, n->nin + i);
  /* clustered weights stay 4-bit indices when every column block holds whole pairs of panels,
   * else (up to 256 values) 8-bit ones decoded in the kernel */
  bool pairs = (r.Hp / r.L) % 2 == 0;
  if (pairs && gen_cluster_nibbles_ok(in[1], r.L)) r.wbits = 4, r.wq = pack_nibbles(&r, in[1], s->I);
  else if (idx8_pays(&r, in[1], s->I)) r.wbits = 8, r.wq = pack_const(&r, in[1], s->I, false, PACK_IDX8);
  if (pairs && gen_cluster_nibbles_ok(in[2], r.L)) r.rbits = 4, r.rq = pack_nibbles(&r, in[2], s->H);
  else if (idx8_pays(&r, in[2], s->H)) r.rbits = 8, r.rq = pack_const(&r, in[2], s->H, true, PACK_IDX8);
  if (r.wq) r.wcl = in[1]->cluster;
  if (r.rq) r.rcl = in[2]->cluster;
  if (in[1]->kind == VK_CONST) c->const_unused |= 1u << 1;
  if (in[2]->kind == VK_CONST) c->const_unused |= 1u << 2;
  /* pruned weights (the sparse pass marked the node): a sparse form when the cost rule says so */
  RspShape wsh = {D, s->gates, s->H, r.Hp, s->I, r.L, s->I % r.L == 0}, rsh = {D, s->gates, s->H, r.Hp, s->H, r.L, true};
  if (n->sparse && !r.wq) rnn_sp_plan(kb, in[1], &wsh, r.tc * r.nbb, &r.wsp);
  if (n->sparse && !r.rq) rnn_sp_plan(kb, in[2], &rsh, r.nbb, &r.rsp);
  bool wc = in[1]->kind == VK_CONST && !r.wq && !r.wsp.kind, rc = in[2]->kind == VK_CONST && !r.rq && !r.rsp.kind;
  if ((r.nsl = rnn_slices(&r, D * nbt, wc, rc)))
  if (r.nsl) {
    int64_t sv = r.Hp / r.L / r.nsl; /* vectors per gate in a slice: whole blocks of Rᵀ and of W */
    while (sv % r.rnv) r.rnv--;
    r.pnv = sv % 4 == 0 ? 4 : sv % 2 == 0 ? 2 : 1;
  }
  r.wbf = wc && proj_bf16(&r);
  if (wc) r.wconst = pack_const(&r, in[1], s->I, false, r.wbf ? PACK_BF16 : PACK_F32);
  r.rbf = rc && rec_bf16(&r);
  if (rc) r.rconst = pack_const(&r, in[2], s->H, true, r.rbf ? PACK_BF16 : PACK_F32);
  if (r.nsl) return gen_rnn_sliced(&r);

  /* scratch, in floats (every piece a multiple of L) */
  int64_t off = 0, woff = -1, roff = -1;
  if (!r.wconst && !r.wq && !r.wsp.kind) woff = off, off += s->I * r.GHp;
  if (!r.rconst && !r.rq && !r.rsp.kind) roff = off, off += s->H * r.GHp;
  int64_t boff = off;
  off += r.GHp;
  int64_t rboff = off;
  off += r.Hp;
  int64_t poff = off;
  off += r.tc * r.nbb * r.GHp;
  int64_t recoff = off;
  off += r.nbb * r.GHp;
  int64_t hoff = off;
  off += r.nbb * r.Hp;
  int64_t coff = off;
  off += r.nbb * r.Hp;
  int64_t rhoff = off;
  off += r.nbb * r.Hp;
  int64_t hboff = off;
  off += r.rbf ? r.nbb * r.Hp / 2 : 0;
  c->scratch_bytes = off * (int64_t)sizeof(float) + 64;
  int64_t ntask = D * nbt;
  c->work = ntask > 1 ? ntask : 1;

  KV sc = kb_scratch(kb);
  KV task = kb_for(kb, kb_begin(kb), kb_min(kb, kb_end(kb), I(kb, ntask), false), 1);
  r.d = kb_div(kb, task, I(kb, nbt > 0 ? nbt : 1), true);
  r.b0 = kb_mul(kb, kb_rem(kb, task, I(kb, nbt > 0 ? nbt : 1), true), I(kb, r.nbb));
  r.nb = kb_min(kb, I(kb, r.nbb), kb_sub(kb, I(kb, B), r.b0), false);
  r.wt = woff >= 0 ? kb_gep(kb, KE_F32, sc, I(kb, woff)) : NULL;
  r.rt = roff >= 0 ? kb_gep(kb, KE_F32, sc, I(kb, roff)) : NULL;
  r.bias = kb_gep(kb, KE_F32, sc, I(kb, boff));
  r.rbh = kb_gep(kb, KE_F32, sc, I(kb, rboff));
  r.proj = kb_gep(kb, KE_F32, sc, I(kb, poff));
  r.rec = kb_gep(kb, KE_F32, sc, I(kb, recoff));
  r.hs = kb_gep(kb, KE_F32, sc, I(kb, hoff));
  r.cs = kb_gep(kb, KE_F32, sc, I(kb, coff));
  r.rh = kb_gep(kb, KE_F32, sc, I(kb, rhoff));
  r.hb = kb_gep(kb, KE_F32, sc, I(kb, hboff));
  if (r.seq) check_lens(&r);
  if (D == 2) {
    kb_if(kb, kb_cmp(kb, KC_EQ, r.d, I(kb, 0), false));
    emit_task(&r, false);
    kb_else(kb);
    emit_task(&r, true);
    kb_endif(kb);
  } else
    emit_task(&r, s->reverse);
  kb_endfor(kb);
  return 0;
}
