/* gen_sparse.c — sparse kernels for MatMul/Gemm with a constant, mostly-zero fp32 weight B (K × N).
 *
 * Format (packed at compile time): B's columns in groups of G (1, 2 or 4: sp_shape takes the widest
 * whose shared row lists store few zeros, e.g. 1×16 blocks along N give 4), zero rows dropped: group
 * g's rows r in [gptr[g], gptr[g+1]) as off[r] = k · MC (row k's offset in the transposed A block
 * below) and val[r][0..G).  Any pattern (unstructured, N:M, blocks) runs on it; the work is the
 * stored values.  Dense patterns in column pairs (2:4, 50%) keep each group's rows in three segments
 * (both columns nonzero, the first only, the second only: sp_split) so no FMA multiplies a zero, and
 * store only the nonzeros with 8-bit offsets inside the row's k-block (sp_pack_host).
 *
 * Kernel: tasks = M-blocks of MC = V·L rows × column ranges.  A task (k-blocked when columns are dense enough:
 * step 2 runs per k-block of AT that fits L1, CT accumulating over them; see sp_kblock)
 *   1. transposes its A block into scratch, AT[k][MC] (L × L blocks through registers) — only when it
 *      is the first task of its call or starts a new row block: the column tasks after it in the
 *      same call (one thread runs [begin, end) in order) reuse this thread's AT,
 *   2. for each column group: G·V vector accumulators along m; per stored row one AT row of V
 *      vectors is loaded and feeds G broadcast weights — a zero row is never touched; the weight
 *      streams (offsets, values) are prefetched a few groups ahead,
 *   3. every NCH columns: reads the NCH × MC results back transposed (in registers) and applies the
 *      dense engine's epilogue (alpha, bias, post, fused residual and activations) on row vectors,
 *      storing C rows contiguously.
 * When AT is larger than SP_SUPER_BYTES (K = 3072), step 2 runs per super-block of k-blocks over all
 * the task's column chunks (CT holds them all) and step 3 after the last super-block.
 * A cost model (gemm_sparse_pays) compares this with the dense engine; gemm_emit runs otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_contract.h"

#define NCH_VECS 2 /* columns per epilogue chunk, in vectors */
#define SP_KBLOCK_BYTES (16 * 1024) /* AT rows per k-block (half of L1 on Zen 5; measured 32 KB slower) */
/* split pairs (sp_split) run three short row loops per group and k-block and reload 2·V accumulators
 * per k-block: twice the rows amortize that (min latency, 2:4, 128 × 768 × 3072 and 128 × 3072 × 768:
 * 8 KB 1.30, 16 KB 1.13, 24 KB 1.04, 32 KB 1, 40 KB 1.0, 48 KB 1.06, 64 KB 1.24) */
#define SP_KBLOCK_SPLIT_BYTES (32 * 1024)
#define SP_KBLOCK_MIN_ROWS 8        /* nonzeros per column and k-block for k-blocks to be used */
/* AT larger than this (K = 3072: 1.5 MB, more than L2) is read in super-blocks of k-blocks: every
 * column chunk of the task runs over one super-block before the next, so each super-block of AT is
 * read from L2 by all chunks instead of all of AT from L3 by each (CT then holds the task's columns) */
#define SP_SUPER_BYTES (512 * 1024)

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* the weight B (K × N) as the pattern measurement sees it: B(k, n) = d[k·rs + n·cs] */
typedef struct SpW {
  const float *d;
  int64_t K, N, rs, cs;
} SpW;

static float wat_v(const SpW *s, int64_t k, int64_t n) { return n < s->N ? s->d[k * s->rs + n * s->cs] : 0.0f; }

/* rows k with a nonzero in columns [n0, n0 + g) */
static int64_t group_rows(const SpW *s, int64_t n0, int g) {
  int64_t rows = 0;
  for (int64_t k = 0; k < s->K; k++) {
    bool nz = false;
    for (int j = 0; j < g && !nz; j++) nz = wat_v(s, k, n0 + j) != 0.0f;
    rows += nz;
  }
  return rows;
}

/* The sparsity pattern as the kernel sees it: columns in groups of G that share their list of
 * nonzero rows (G = 4 or 2 when blocks along N make that cost few stored zeros, else 1); rows[G]
 * = Σ over groups of the rows stored. */
typedef struct SpShape {
  int G;
  int64_t nnz, rows;
  bool dense_pat; /* nonzeros ≥ SP_DENSE_PATTERN of K · N (2:4, 50%): k-blocks, G = 2 by load count */
} SpShape;

/* from this fraction of nonzeros the columns are dense enough for k-blocks (sp_kblock: 8 of the
 * 32 rows of a 128-row block) and two columns sharing the union of their rows pay: 2:4 stores
 * 1.5× its nonzeros that way but loads 3/4 of the AT rows, and the kernel is bound by AT loads
 * (measured 0.75–0.88 vs 0.88–0.98 of dense on BERT's 2:4 layers, CPU time) */
#define SP_DENSE_PATTERN 0.3
#define SP_G2_DENSE_MAX 1.7 /* stored / nonzeros up to which G = 2 is taken for dense patterns */

static void sp_shape(const SpW *s, SpShape *sh) {
  int64_t rows[5] = {0};
  static const int gs[] = {1, 2, 4};
  for (int i = 0; i < 3; i++)
    for (int64_t n0 = 0; n0 < s->N; n0 += gs[i]) rows[gs[i]] += group_rows(s, n0, gs[i]);
  sh->nnz = rows[1];
  sh->G = 1;
  sh->rows = rows[1];
  sh->dense_pat = (double)rows[1] >= SP_DENSE_PATTERN * (double)s->K * (double)s->N;
  for (int i = 1; i < 3; i++) /* stored values G · rows, no more than 15% over the nonzeros */
    if ((double)(gs[i] * rows[gs[i]]) <= 1.15 * (double)rows[1]) sh->G = gs[i], sh->rows = rows[gs[i]];
  if (sh->G == 1 && sh->dense_pat && (double)(2 * rows[2]) <= SP_G2_DENSE_MAX * (double)rows[1])
    sh->G = 2, sh->rows = rows[2];
}

/* V vectors of rows per task: 8 keeps eight independent FMA chains per nonzero; 4 when AT would
 * leave L2 or G columns share the loads (G · V accumulators; G = 2 on dense patterns keeps 8 with
 * AVX-512's 32 registers: 16 accumulators, the AT vectors are memory operands) */
static int64_t sp_vecs(const SpShape *sh, int64_t M, int64_t K, int L) {
  bool pair8 = sh->G == 2 && sh->dense_pat && L >= 16;
  /* pairs keep 8 even when AT leaves L2 (K = 3072: 1.5 MB): their k-blocks read it once per column chunk,
   * and 4 would stream the weights once per 64-row block (min latency 128 × 3072 × 768 2:4: 0.95 of 4,
   * BERT 2:4 0.95) */
  int64_t V = (K * 8 * L * 4 <= 640 * 1024 && sh->G == 1) || pair8 ? 8 : 4;
  return V > cdiv(M, L) ? cdiv(M, L) : V;
}

/* Cost in units of one dense-engine vector FMA, measured (AVX-512, BERT shapes): a stored value
 * costs about 3.5 of them alone (one vector load of AT per FMA, plus its index and weight), 2 in
 * groups of 2 columns and 1.4 in groups of 4 (a loaded AT row feeds G FMAs); the transposes cost
 * about a vector op per element moved.  Dense patterns (≥ SP_DENSE_PATTERN stored, k-blocked: AT
 * from L1) cost 1.85 alone and 1.05 in pairs (session 11, CPU time, 2:4 on 128 × 768 × 768,
 * 128 × 3072 × 768, 128 × 768 × 3072) and are taken below 0.85 of dense: their figures are
 * closer to measured than the sparse ones' (L2-bound, more spread). */
static bool force; /* tests: the sparse kernel whenever it applies */
void gemm_sparse_force(bool on) { force = on; }

bool gemm_sparse_pays(int64_t M, int64_t N, int64_t K, int64_t nnz, int G, int L) {
  static const double per_fma[5] = {0, 3.5, 2.0, 2.0, 1.4}, per_fma_dense[5] = {0, 1.85, 1.05, 1.05, 1.4};
  double mv = (double)cdiv(M, L);
  double dense = (double)M / L * (double)N * (double)K;
  bool dpat = (double)nnz >= SP_DENSE_PATTERN * (double)K * (double)N;
  /* under 4 row vectors a dense pattern's rows feed too few FMAs for their index and weight loads
   * (2:4, 32 × 768 × 768: 1.17 of dense; 64 rows: 0.83) */
  if (dpat && mv < 4) return false;
  double pf = (dpat ? per_fma_dense : per_fma)[G < 1 || G > 4 ? 1 : G];
  double sparse = (double)nnz * mv * pf + mv * ((double)K + (double)N) * 2.0;
  return sparse < (dpat ? 0.85 : 0.8) * dense;
}

typedef struct SpPack {
  KV gptr, off, val; /* weights: i32 [(groups·nkb)·S+1], u8, u16 or i32 [rows], f32 values */
  KV vptr;           /* split pairs: i32 [(groups·nkb)·3+1], the first value of each segment */
  int S;             /* row segments per group: 1, or 3 when pairs are split (sp_split) */
  int osz;           /* off: 1: u8 row k - b·kc in its k-block b of AT; 2: u16 byte offsets in it; 4: i32 k · MC */
} SpPack;

/* Dense patterns in pairs (2:4, 50%): a pair's rows in three segments, both columns nonzero, the
 * first only, the second only (each then [gptr[3i], gptr[3i+1]), [.., gptr[3i+2]), [.., gptr[3i+3])).
 * A row with one nonzero feeds only its column's V accumulators: 2:4 stores 1.5× its nonzeros in
 * pairs, and the zero third of the FMAs is skipped while the AT loads stay 3/4 of one column at a
 * time. */
static bool sp_split(const SpShape *sh) { return sh->G == 2 && sh->dense_pat; }

/* the segment (0 both, 1 first only, 2 second only) row k of group g belongs to, -1 none */
static int sp_seg(const SpW *s, int64_t k, int64_t g) {
  bool a = wat_v(s, k, 2 * g) != 0.0f, b = wat_v(s, k, 2 * g + 1) != 0.0f;
  return a && b ? 0 : a ? 1 : b ? 2 : -1;
}

/* Stored in the order the kernel reads them, so the weights are one sequential stream: by chunk of nch columns (gpc =
 * nch / G groups), then k-block b (k in [b·kc, (b+1)·kc)), then group, then k. Group jj of chunk ci has its block-b
 * rows at [gptr[i], gptr[i + 1]), i = (ci·nkb + b)·gpc + jj (groups past N are empty).
 * Split pairs are compact: the weights stream from DRAM every run, so their bytes are time.  A row's
 * offset is its row in its k-block (u8) when k-blocks have up to 256 rows, else a u16 byte offset in
 * the k-block when that fits, else i32 k · MC (other patterns: i32); they store only the nonzeros (2 values on rows
 * of both columns, 1 on the others; segment i's first value at vptr[i]).  2:4 on BERT's shapes reads
 * ~2.6 bytes per dense weight (values 2, offsets 0.375, segment pointers 0.19) instead of 4.6 (i32
 * offsets and both values on every row: more than dense fp32's 4). */
typedef struct SpHost {
  int32_t *gp, *vp; /* gptr, vptr (split pairs; else NULL) */
  void *off;        /* u8, u16 or i32 (osz) */
  float *val;
  int64_t np, nr, nv; /* entries of gp (and vp), off, val */
  int S, osz;
} SpHost;

static void sp_host_free(SpHost *h) { free(h->gp), free(h->vp), free(h->off), free(h->val); }

static int64_t sp_host_bytes(const SpHost *h) {
  return h->np * 4 * (h->vp ? 2 : 1) + h->nr * h->osz + (h->nv ? h->nv : 1) * 4;
}

static bool sp_pack_host(const SpW *s, const SpShape *sh, int64_t mc, int64_t kc, int64_t nch, SpHost *h) {
  int G = sh->G, S = sp_split(sh) ? 3 : 1;
  int64_t nkb = cdiv(s->K, kc), gpc = nch / G, nchunk = cdiv(s->N, nch);
  int64_t ng = cdiv(s->N, G), nr = sh->rows ? sh->rows : 1, np = nchunk * nkb * gpc * S + 1;
  memset(h, 0, sizeof *h);
  if (sh->rows * G >= INT32_MAX || s->K * mc >= INT32_MAX) return false;
  /* other patterns keep i32 offsets: u8 on 1×16 blocks (G = 4) measured slower (38–44 vs 44–45 ms) */
  int osz = S == 1 ? 4 : kc <= 256 ? 1 : (kc - 1) * mc * 4 <= UINT16_MAX ? 2 : 4;
  int32_t *gp = malloc((size_t)np * sizeof *gp), *vp = S > 1 ? malloc((size_t)np * sizeof *vp) : NULL;
  void *off = malloc((size_t)(nr * osz));
  float *val = malloc((size_t)(nr * G) * sizeof *val);
  *h = (SpHost){gp, vp, off, val, np, nr, 0, S, osz};
  if (!gp || !off || !val || (S > 1 && !vp)) {
    sp_host_free(h);
    return false;
  }
  int64_t r = 0, nv = 0;
  int64_t i = 0;
  for (int64_t ci = 0; ci < nchunk; ci++)
    for (int64_t b = 0; b < nkb; b++)
      for (int64_t g = ci * gpc; g < (ci + 1) * gpc; g++)
        for (int seg = 0; seg < S; seg++) {
          if (vp) vp[i] = (int32_t)nv;
          gp[i++] = (int32_t)r;
          for (int64_t k = b * kc; k < (b + 1) * kc && k < s->K && g < ng; k++) {
            bool nz = false;
            for (int j = 0; j < G; j++) nz |= wat_v(s, k, g * G + j) != 0.0f;
            if (!nz || (S > 1 && sp_seg(s, k, g) != seg)) continue;
            if (osz == 1) ((uint8_t *)off)[r] = (uint8_t)(k - b * kc);
            else if (osz == 2) ((uint16_t *)off)[r] = (uint16_t)((k - b * kc) * mc * 4);
            else ((int32_t *)off)[r] = (int32_t)(k * mc);
            int j0 = S > 1 && seg == 2 ? 1 : 0, j1 = S > 1 && seg == 1 ? 1 : G; /* a split segment's columns */
            for (int j = j0; j < j1; j++) val[nv++] = wat_v(s, k, g * G + j);
            r++;
          }
        }
  if (vp) vp[i] = (int32_t)nv;
  gp[i] = (int32_t)r;
  h->nv = nv;
  return true;
}

static bool sp_pack(KB *kb, const SpW *s, const SpShape *sh, int64_t mc, int64_t kc, int64_t nch, SpPack *p) {
  SpHost h;
  if (!sp_pack_host(s, sh, mc, kc, nch, &h)) return false;
  p->S = h.S;
  p->osz = h.osz;
  p->gptr = kb_weight(kb, h.gp, (size_t)h.np * 4);
  p->vptr = h.vp ? kb_weight(kb, h.vp, (size_t)h.np * 4) : NULL;
  p->off = kb_weight(kb, h.off, (size_t)(h.nr * h.osz));
  p->val = kb_weight(kb, h.val, (size_t)(h.nv ? h.nv : 1) * 4);
  sp_host_free(&h);
  return true;
}

/* the shape of the kernel and its task split */
typedef struct SpPlan {
  int L, V, G;
  int64_t mc, nmb, ncg, nng, nch;
  int64_t kc, nkb; /* k-blocks: AT rows [b·kc, (b+1)·kc) stay in L1 while a column chunk uses them */
  int64_t ksb, nsb; /* super-blocks of ksb k-blocks (nsb > 1: AT leaves L2, see SP_SUPER_BYTES) */
  KV m0, rows;     /* this task's first row and row count (i64) */
  KV at, ct;       /* scratch: AT [K][mc], CT [nch][mc] ([ncg][mc] with super-blocks) */
} SpPlan;

/* rows r of an L-row block starting at row i0 that exist (r < rows - i0): a mask of `lanes` lanes, or
 * none; NULL when every row exists */
static KV sp_row_mask(KB *kb, const SpPlan *p, bool tails, int64_t i0, int r, KV lanes) {
  if (!tails) return lanes ? kb_tail_mask(kb, p->L, lanes) : NULL;
  KV ok = kb_cmp(kb, KC_GT, p->rows, I(kb, i0 + r), false);
  return kb_tail_mask(kb, p->L, kb_select(kb, ok, lanes ? lanes : I(kb, p->L), I(kb, 0)));
}

/* one L × L block: AT[k0 + j][i0 + r] = A(m0 + i0 + r, k0 + j), j < kn (static), zero for rows past M */
static void sp_transpose_block(KB *kb, const GemmSpec *s, const SpPlan *p, bool tails, KV src, KV k0, int64_t i0,
                               int kn) {
  int L = p->L;
  KT vt = kt(KE_F32, L);
  KV x[64];
  for (int r = 0; r < L; r++) {
    KV mk = sp_row_mask(kb, p, tails, i0, r, kn < L ? I(kb, kn) : NULL);
    x[r] = gen_vload(kb, vt, kb_gep(kb, KE_F32, src, I(kb, (i0 + r) * s->a_rs)), mk);
  }
  gen_reg_transpose(kb, x, L);
  KV dst = kb_gep(kb, KE_F32, p->at, kb_add(kb, kb_mul(kb, k0, I(kb, p->mc)), I(kb, i0)));
  for (int j = 0; j < kn; j++) kb_store(kb, x[j], kb_gep(kb, KE_F32, dst, I(kb, (int64_t)j * p->mc)));
}

/* 1. AT[k][i] = A(m0 + i, k) for i < rows (zero beyond): contiguous row loads, shuffles, stores */
static void sp_transpose_a(GenCtx *c, const GemmSpec *s, const SpPlan *p) {
  KB *kb = c->kb;
  int L = p->L;
  bool tails = s->M % p->mc != 0;
  KV abase = kb_gep(kb, KE_F32, s->a, kb_mul(kb, p->m0, I(kb, s->a_rs)));
  int64_t kfull = s->K - s->K % L;
  /* one L-row block at a time: L streams of A rows in flight, not V·L */
  for (int v = 0; v < p->V && kfull > 0; v++) {
    KV k0 = kb_for(kb, I(kb, 0), I(kb, kfull), L);
    sp_transpose_block(kb, s, p, tails, kb_gep(kb, KE_F32, abase, k0), k0, (int64_t)v * L, L);
    kb_endfor(kb);
  }
  if (kfull < s->K) {
    KV k0 = I(kb, kfull);
    KV src = kb_gep(kb, KE_F32, abase, k0);
    for (int v = 0; v < p->V; v++) sp_transpose_block(kb, s, p, tails, src, k0, (int64_t)v * L, (int)(s->K - kfull));
  }
}

/* the FMAs of stored rows [p0, p1): per row one AT row of V vectors (atb: this k-block's AT, for
 * u8/u16 offsets) feeds the accumulators of columns q in [q0, q1) of its group; row r's values are
 * vb[(r - p0) · (q1 - q0) + q - q0] */
static void sp_rows(KB *kb, const SpPlan *p, const SpPack *w, KVar *acc, KV p0, KV p1, KV vb, KV atb, int q0, int q1) {
  int L = p->L;
  KT vt = kt(KE_F32, L);
  KV r = kb_for(kb, p0, p1, 1);
  KV row;
  if (w->osz == 1)
    row = kb_gep(kb, KE_F32, atb,
                 kb_mul(kb, kb_cast(kb, kb_load(kb, kt_s(KE_I8), kb_gep(kb, KE_I8, w->off, r)), kt_s(KE_I64), true, false),
                        I(kb, p->mc)));
  else if (w->osz == 2)
    row = kb_gep_bytes(kb, atb,
                       kb_cast(kb, kb_load(kb, kt_s(KE_I16), kb_gep(kb, KE_I16, w->off, r)), kt_s(KE_I64), true, false));
  else
    row = kb_gep(kb, KE_F32, p->at,
                 kb_cast(kb, kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, w->off, r)), kt_s(KE_I64), false, false));
  KV vals = kb_gep(kb, KE_F32, vb, kb_mul(kb, kb_sub(kb, r, p0), I(kb, q1 - q0)));
  KV at[16];
  for (int v = 0; v < p->V; v++) at[v] = kb_load(kb, vt, kb_gep(kb, KE_F32, row, I(kb, (int64_t)v * L)));
  for (int q = q0; q < q1; q++) {
    KV x = kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, vals, I(kb, q - q0))), L);
    for (int v = 0; v < p->V; v++) kb_set(kb, acc[q * p->V + v], kb_fma(kb, x, at[v], kb_get(kb, acc[q * p->V + v])));
  }
  kb_endfor(kb);
}

/* gptr[i] (or vptr[i]) as i64 */
static KV sp_gptr(KB *kb, KV gptr, KV i) {
  return kb_cast(kb, kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, gptr, i)), kt_s(KE_I64), false, false);
}

/* weight-stream prefetch per group and k-block: bytes ahead, 64-byte lines.  2:4 in pairs on k-blocks
 * of 64 rows reads ~48 offsets (48–96 bytes) and 64 values (256 bytes) per group: the lines cover
 * what a group advances, ~4 groups ahead (BERT 2:4, CPU time per run, medians of 5–8 runs: −3% vs none) */
#define SP_PF_OFF_AHEAD 512
#define SP_PF_OFF_LINES 2
#define SP_PF_VAL_AHEAD 1024
#define SP_PF_VAL_LINES 6

/* 2. CT[j][i] (+)= Σ_r val[r][j % G] · AT[off[r] + i] over the rows r of column c0 + j's group in
 * k-blocks [b0, b1), for the groups of columns [c0, c0 + ncols) (whole groups: CT has room for them);
 * zero: CT starts at zero (else it holds the earlier k-blocks' sums) */
static void sp_columns(GenCtx *c, const SpPlan *p, const SpPack *w, KV c0, KV ncols, KV ct, KV b0, KV b1, bool zero) {
  KB *kb = c->kb;
  int L = p->L, G = p->G, S = w->S;
  KT vt = kt(KE_F32, L);
  KV ng = kb_div(kb, kb_add(kb, ncols, I(kb, G - 1)), I(kb, G), true);
  bool blocked = p->nkb > 1; /* CT accumulates over the k-blocks */
  if (blocked && zero) kb_memset(kb, ct, 0, I(kb, p->nch * p->mc * 4));
  KV b = blocked ? kb_for(kb, b0, b1, 1) : I(kb, 0);
  KV j = kb_for(kb, I(kb, 0), ng, 1);
  KV gpc = I(kb, p->nch / G);
  KV gi = kb_add(kb, kb_mul(kb, kb_add(kb, kb_mul(kb, kb_div(kb, c0, I(kb, p->nch), true), I(kb, p->nkb)), b), gpc), j);
  if (S > 1) gi = kb_mul(kb, gi, I(kb, S));
  KV dst = kb_gep(kb, KE_F32, ct, kb_mul(kb, j, I(kb, G * p->mc)));
  KVar acc[32];
  for (int q = 0; q < G; q++)
    for (int v = 0; v < p->V; v++) {
      KV ap = kb_gep(kb, KE_F32, dst, I(kb, q * p->mc + (int64_t)v * L));
      acc[q * p->V + v] = kb_var(kb, vt, blocked ? kb_load(kb, vt, ap) : kb_float(kb, vt, 0));
    }
  KV atb = w->osz < 4 ? kb_gep(kb, KE_F32, p->at, kb_mul(kb, b, I(kb, p->kc * p->mc))) : NULL;
  if (S > 1) { /* split pairs: the weight streams a few groups ahead (the packed order is the read order;
                * a prefetch never faults); measured there only, so sparser patterns have none */
    KV ob = kb_gep_bytes(kb, w->off, kb_mul(kb, sp_gptr(kb, w->gptr, gi), I(kb, w->osz)));
    KV vb = kb_gep(kb, KE_F32, w->val, sp_gptr(kb, w->vptr, gi));
    for (int l = 0; l < SP_PF_OFF_LINES; l++) kb_prefetch(kb, kb_gep_bytes(kb, ob, I(kb, SP_PF_OFF_AHEAD + 64 * l)));
    for (int l = 0; l < SP_PF_VAL_LINES; l++) kb_prefetch(kb, kb_gep_bytes(kb, vb, I(kb, SP_PF_VAL_AHEAD + 64 * l)));
  }
  if (S == 1) {
    KV r0 = sp_gptr(kb, w->gptr, gi);
    sp_rows(kb, p, w, acc, r0, sp_gptr(kb, w->gptr, kb_add(kb, gi, I(kb, 1))), kb_gep(kb, KE_F32, w->val, kb_mul(kb, r0, I(kb, G))),
            atb, 0, G);
  } else { /* both columns, the first only, the second only */
    static const int q0[3] = {0, 0, 1}, q1[3] = {2, 1, 2};
    for (int seg = 0; seg < 3; seg++) {
      KV si = kb_add(kb, gi, I(kb, seg));
      sp_rows(kb, p, w, acc, sp_gptr(kb, w->gptr, si), sp_gptr(kb, w->gptr, kb_add(kb, si, I(kb, 1))),
              kb_gep(kb, KE_F32, w->val, sp_gptr(kb, w->vptr, si)), atb, q0[seg], q1[seg]);
    }
  }
  for (int q = 0; q < G; q++)
    for (int v = 0; v < p->V; v++)
      kb_store(kb, kb_get(kb, acc[q * p->V + v]), kb_gep(kb, KE_F32, dst, I(kb, q * p->mc + (int64_t)v * L)));
  kb_endfor(kb);
  if (blocked) kb_endfor(kb);
}

/* 3. C(m0 + i, c0 + j) = epilogue(CT[j][i]) for i < rows, j < ncols: L × L blocks of CT
 * transposed in registers into row vectors */
static void sp_epilogue(GenCtx *c, const GemmSpec *s, const SpPlan *p, KV c0, KV ncols, KV ct) {
  KB *kb = c->kb;
  int L = p->L;
  KT vt = kt(KE_F32, L);
  bool ntails = s->N % p->nch != 0, mtails = s->M % p->mc != 0;
  KV alpha = s->alpha != 1.0 ? kb_float(kb, vt, s->alpha) : NULL;
  KV beta = s->bias && s->beta != 1.0 ? kb_float(kb, vt, s->beta) : NULL;
  for (int q = 0; q < NCH_VECS; q++) {
    KV qcols = kb_sub(kb, ncols, I(kb, (int64_t)q * L));
    if (ntails) kb_if(kb, kb_cmp(kb, KC_GT, qcols, I(kb, 0), false));
    KV cmask = ntails ? kb_tail_mask(kb, L, qcols) : NULL;
    KV col = kb_add(kb, c0, I(kb, (int64_t)q * L));
    KV bvec = s->bias && s->bias_cs != 0 && s->bias_rs == 0 ? gen_vload(kb, vt, kb_gep(kb, KE_F32, s->bias, col), cmask)
                                                            : NULL;
    KV ib = kb_for(kb, I(kb, 0), p->rows, L);
    {
      KV x[64];
      KV src = kb_gep(kb, KE_F32, ct, kb_add(kb, kb_mul(kb, I(kb, (int64_t)q * L), I(kb, p->mc)), ib));
      for (int j = 0; j < L; j++) x[j] = kb_load(kb, vt, kb_gep(kb, KE_F32, src, I(kb, (int64_t)j * p->mc)));
      gen_reg_transpose(kb, x, L);
      for (int r = 0; r < L; r++) {
        KV m = kb_add(kb, p->m0, kb_add(kb, ib, I(kb, r)));
        if (mtails) kb_if(kb, kb_cmp(kb, KC_GT, p->rows, kb_add(kb, ib, I(kb, r)), false));
        KV xv = x[r];
        if (alpha) xv = kb_mul(kb, xv, alpha);
        if (s->bias) {
          KV bb = bvec;
          KV bp = kb_gep(kb, KE_F32, s->bias,
                         kb_add(kb, kb_mul(kb, m, I(kb, s->bias_rs)), kb_mul(kb, col, I(kb, s->bias_cs))));
          if (!bb && s->bias_cs == 0) bb = kb_splat(kb, kb_load(kb, kt_s(KE_F32), bp), L);
          if (!bb) bb = gen_vload(kb, vt, bp, cmask);
          xv = beta ? kb_fma(kb, bb, beta, xv) : kb_add(kb, xv, bb);
        }
        if (s->post) xv = s->post(kb, xv, s->post_ud);
        KV rv = s->res ? gen_vload(kb, vt, kb_gep(kb, KE_F32, s->res, kb_add(kb, kb_mul(kb, m, I(kb, s->res_rs)), col)),
                                   cmask)
                       : NULL;
        xv = gen_epi_apply(kb, s->epi, xv, rv);
        gen_vstore(kb, xv, kb_gep(kb, KE_F32, s->c, kb_add(kb, kb_mul(kb, m, I(kb, s->ldc)), col)), cmask);
        if (mtails) kb_endif(kb);
      }
    }
    kb_endfor(kb);
    if (ntails) kb_endif(kb);
  }
}

/* The k-block: AT rows [b·kc, (b+1)·kc) of SP_KBLOCK_BYTES stay in L1 while a chunk of columns
 * reads them, when each column has enough nonzeros in a block to pay for reloading its
 * accumulators (dense patterns: 2:4, 50%); K (one block) otherwise: sparser columns touch too few
 * rows of a block for it to be reused. */
static int64_t sp_kblock(int64_t mc, const SpShape *sh, int64_t N, int64_t K) {
  int64_t kc = (sp_split(sh) ? SP_KBLOCK_SPLIT_BYTES : SP_KBLOCK_BYTES) / (mc * 4);
  if (kc < 8) kc = 8;
  double per_col = (double)sh->rows / (double)cdiv(N, sh->G) * (double)kc / (double)K;
  return kc < K && per_col >= SP_KBLOCK_MIN_ROWS ? kc : K;
}

/* k-blocks per super-block (SP_SUPER_BYTES of AT): all of them (one) when AT fits */
static int64_t sp_ksb(int64_t mc, int64_t kc, int64_t K) {
  int64_t nkb = cdiv(K, kc), ksb = SP_SUPER_BYTES / (kc * mc * 4);
  if (ksb < 1) ksb = 1;
  return K * mc * 4 > SP_SUPER_BYTES && nkb > ksb ? ksb : nkb;
}

static void sp_plan(GenCtx *c, const GemmSpec *s, SpPlan *p, const SpShape *sh) {
  int L = kb_lanes(c->kb, KE_F32);
  int64_t nnz = sh->nnz;
  p->L = L;
  p->G = sh->G;
  int64_t V = sp_vecs(sh, s->M, s->K, L);
  p->V = (int)V;
  p->mc = V * L;
  p->nmb = cdiv(s->M, p->mc);
  p->nch = (int64_t)NCH_VECS * L;
  p->kc = sp_kblock(p->mc, sh, s->N, s->K);
  p->nkb = cdiv(s->K, p->kc);
  /* tasks: column groups (multiples of nch) when there are fewer M blocks than a few threads want */
  double flops = 2.0 * (double)nnz * (double)s->M;
  int64_t desired = (int64_t)(flops / 2e6);
  if (desired > 16) desired = 16;
  if (flops >= 1e6 && desired < 2) desired = 2;
  int64_t nng = p->nmb < desired ? cdiv(desired, p->nmb) : 1;
  p->ncg = cdiv(cdiv(s->N, nng), p->nch) * p->nch;
  p->nng = cdiv(s->N, p->ncg);
  int64_t ntask = p->nmb * p->nng;
  c->work = flops >= 1e6 && ntask > 1 ? ntask : 1;
  p->ksb = sp_ksb(p->mc, p->kc, s->K);
  p->nsb = cdiv(p->nkb, p->ksb);
  int64_t sb = (s->K + (p->nsb > 1 ? p->ncg : p->nch)) * p->mc * 4 + 128;
  if (sb > c->scratch_bytes) c->scratch_bytes = sb;
}

bool gemm_sparse_emit(GenCtx *c, GemmSpec *s) {
  KB *kb = c->kb;
  if (s->dt != DT_FLOAT || s->nbd != 0 || s->pack || s->a_const || !s->b_const || s->post || s->M < 1 || s->N < 1 ||
      s->K < 1 || s->b_const->dtype != DT_FLOAT || !s->b_const->data)
    return false;
  SpShape sh;
  SpW wv = {s->b_const->data, s->K, s->N, s->b_rs, s->b_cs};
  sp_shape(&wv, &sh);
  SpPlan p;
  memset(&p, 0, sizeof p);
  int L = kb_lanes(kb, KE_F32);
  if (!force && !gemm_sparse_pays(s->M, s->N, s->K, sh.G * sh.rows, sh.G, L)) return false;
  int64_t work0 = c->work, scratch0 = c->scratch_bytes;
  sp_plan(c, s, &p, &sh);
  SpPack wp;
  if (!sp_pack(kb, &wv, &sh, p.mc, p.kc, p.nch, &wp)) {
    c->work = work0, c->scratch_bytes = scratch0;
    return false;
  }
  KV t = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, p.nmb * p.nng), 1);
  KV ng = kb_rem(kb, t, I(kb, p.nng), true), mb = kb_div(kb, t, I(kb, p.nng), true);
  p.m0 = kb_mul(kb, mb, I(kb, p.mc));
  p.rows = kb_min(kb, I(kb, p.mc), kb_sub(kb, I(kb, s->M), p.m0), false);
  p.at = kb_scratch(kb);
  p.ct = kb_gep(kb, KE_F32, p.at, I(kb, s->K * p.mc));
  /* AT is this thread's and outlives the task: the call's first task and each new row block
   * transpose A, the next column tasks of the same row block reuse it */
  KV t0 = c->work > 1 ? kb_begin(kb) : I(kb, 0);
  kb_if(kb, kb_or(kb, kb_cmp(kb, KC_EQ, t, t0, false), kb_cmp(kb, KC_EQ, ng, I(kb, 0), false)));
  sp_transpose_a(c, s, &p);
  kb_endif(kb);
  KV nlo = kb_mul(kb, ng, I(kb, p.ncg));
  KV nhi = kb_min(kb, kb_add(kb, nlo, I(kb, p.ncg)), I(kb, s->N), false);
  if (p.nsb == 1) {
    KV c0 = kb_for(kb, nlo, nhi, p.nch);
    KV ncols = kb_min(kb, I(kb, p.nch), kb_sub(kb, nhi, c0), false);
    sp_columns(c, &p, &wp, c0, ncols, p.ct, I(kb, 0), I(kb, p.nkb), true);
    sp_epilogue(c, s, &p, c0, ncols, p.ct);
    kb_endfor(kb);
  } else { /* super-blocks: CT [ncg][mc] for the task's columns, chunk c0's at (c0 - nlo)·mc */
    kb_memset(kb, p.ct, 0, I(kb, p.ncg * p.mc * 4));
    KV sb = kb_for(kb, I(kb, 0), I(kb, p.nsb), 1);
    KV b0 = kb_mul(kb, sb, I(kb, p.ksb));
    KV b1 = kb_min(kb, kb_add(kb, b0, I(kb, p.ksb)), I(kb, p.nkb), false);
    KV c0 = kb_for(kb, nlo, nhi, p.nch);
    KV ncols = kb_min(kb, I(kb, p.nch), kb_sub(kb, nhi, c0), false);
    sp_columns(c, &p, &wp, c0, ncols, kb_gep(kb, KE_F32, p.ct, kb_mul(kb, kb_sub(kb, c0, nlo), I(kb, p.mc))), b0, b1, false);
    kb_endfor(kb);
    kb_endfor(kb);
    c0 = kb_for(kb, nlo, nhi, p.nch);
    ncols = kb_min(kb, I(kb, p.nch), kb_sub(kb, nhi, c0), false);
    sp_epilogue(c, s, &p, c0, ncols, kb_gep(kb, KE_F32, p.ct, kb_mul(kb, kb_sub(kb, c0, nlo), I(kb, p.mc))));
    kb_endfor(kb);
  }
  kb_endfor(kb);
  return true;
}

void gemm_sparse_explain(const float *w, int64_t M, int64_t K, int64_t N, int64_t rs, int64_t cs, int L, char *out,
                         size_t len) {
  SpShape sh;
  SpW wv = {w, K, N, rs, cs};
  sp_shape(&wv, &sh);
  if (M < 1) {
    snprintf(out, len, "dense (rows unknown)");
    return;
  }
  if (!gemm_sparse_pays(M, N, K, sh.G * sh.rows, sh.G, L)) {
    snprintf(out, len, "dense (sparse costs more at %.0f%% nonzero, M %lld)", 100.0 * (double)sh.nnz / (double)(K * N),
             (long long)M);
    return;
  }
  int64_t V = sp_vecs(&sh, M, K, L);
  int64_t kc = sp_kblock(V * L, &sh, N, K);
  const char *split = sp_split(&sh) ? " split" : "";
  int64_t ksb = sp_ksb(V * L, kc, K);
  if (ksb < cdiv(K, kc))
    snprintf(out, len, "sparse csc-%d%s k-blocks of %lld in super-blocks of %lld", sh.G, split, (long long)kc,
             (long long)ksb);
  else if (kc < K) snprintf(out, len, "sparse csc-%d%s k-blocks of %lld", sh.G, split, (long long)kc);
  else snprintf(out, len, "sparse csc-%d%s", sh.G, split);
}

int64_t gemm_sparse_packed_bytes(const float *w, int64_t M, int64_t K, int64_t N, int64_t rs, int64_t cs, int L) {
  SpShape sh;
  SpW wv = {w, K, N, rs, cs};
  sp_shape(&wv, &sh);
  int64_t mc = sp_vecs(&sh, M, K, L) * L;
  SpHost h;
  if (!sp_pack_host(&wv, &sh, mc, sp_kblock(mc, &sh, N, K), (int64_t)NCH_VECS * L, &h)) return -1;
  int64_t bytes = sp_host_bytes(&h);
  sp_host_free(&h);
  return bytes;
}
