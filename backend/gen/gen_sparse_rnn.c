/* gen_sparse_rnn.c — sparse constant W / R of LSTM, GRU and RNN: the cost rule, the packing of
 * the block and ell forms, and the per-panel kernel (gen_sparse_rnn.h). */
#include "gen_sparse_rnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }

/* weight (d, column col of the padded layout, k), 0 for padding columns */
static float rsp_at(const float *w, const RspShape *sh, int64_t d, int64_t col, int64_t k) {
  int64_t g = col / sh->Hp, j = col % sh->Hp;
  return j < sh->H ? w[((d * sh->G + g) * sh->H + j) * sh->K + k] : 0.0f;
}

static int64_t pad_u(int64_t n) { return (n + RSP_U - 1) / RSP_U * RSP_U; }

/* entries of panel p of direction d: block (k with any nonzero) and perm (per window, the most
 * nonzeros of one lane) */
static void panel_counts(const float *w, const RspShape *sh, int64_t d, int64_t p, int64_t *nb, int64_t *np) {
  int64_t blk = 0, perm = 0, lane[64];
  for (int64_t k0 = 0; k0 < sh->K; k0 += sh->L) {
    memset(lane, 0, sizeof lane);
    int64_t mx = 0;
    for (int64_t k = k0; k < k0 + sh->L && k < sh->K; k++) {
      bool any = false;
      for (int l = 0; l < sh->L; l++)
        if (rsp_at(w, sh, d, p * sh->L + l, k) != 0) any = true, lane[l]++;
      blk += any;
    }
    for (int l = 0; l < sh->L; l++) mx = lane[l] > mx ? lane[l] : mx;
    perm += mx;
  }
  *nb = pad_u(blk);
  *np = pad_u(perm);
}

/* Time units per (entry or dense k) for one pass and `rows` rows.  The dense kernel streams one
 * vector of weights per k and does an FMA per row; a block entry adds a 4-byte index and a
 * broadcast load; a perm entry adds L index bytes, and per row a vector load and a permute.
 * Sparse must win by RSP_MARGIN. */
#define RSP_W_DENSE 1.0
#define RSP_W_BLOCK 1.15
#define RSP_W_PERM 1.4
#define RSP_ROW 0.25
#define RSP_ROW_PERM 0.6
#define RSP_MARGIN 0.8

void rnn_sp_cost(const float *w, const RspShape *sh, int64_t rows, RspCost *c) {
  memset(c, 0, sizeof *c);
  int64_t np = sh->G * sh->Hp / sh->L;
  for (int64_t d = 0; d < sh->D; d++)
    for (int64_t p = 0; p < np; p++) {
      int64_t nb, ne;
      panel_counts(w, sh, d, p, &nb, &ne);
      c->nblock += nb, c->nperm += ne;
    }
  double m = (double)(rows > 0 ? rows : 1);
  c->dense = (double)(sh->D * np * sh->K) * (RSP_W_DENSE + RSP_ROW * m);
  c->block = (double)c->nblock * (RSP_W_BLOCK + RSP_ROW * m);
  c->perm = sh->L == 16 && sh->kwin ? (double)c->nperm * (RSP_W_PERM + RSP_ROW_PERM * m) : INFINITY;
  c->pick = RSP_DENSE;
  double best = c->dense * RSP_MARGIN;
  if (c->block < best) c->pick = RSP_BLOCK, best = c->block;
  if (c->perm < best) c->pick = RSP_PERM;
}

/* host: the entries of one panel appended at e (kidx one per entry; perm: lidx L per entry) */
static int64_t pack_panel(const float *w, const RspShape *sh, RspKind kind, int64_t d, int64_t p, int32_t *kidx,
                          uint8_t *lidx, float *vals, int64_t e) {
  int L = sh->L;
  if (kind == RSP_BLOCK) {
    for (int64_t k = 0; k < sh->K; k++) {
      bool any = false;
      for (int l = 0; l < L; l++) any |= rsp_at(w, sh, d, p * L + l, k) != 0;
      if (!any) continue;
      kidx[e] = (int32_t)k;
      for (int l = 0; l < L; l++) vals[e * L + l] = rsp_at(w, sh, d, p * L + l, k);
      e++;
    }
    return e;
  }
  for (int64_t k0 = 0; k0 < sh->K; k0 += L) {
    int64_t top = e;
    for (int l = 0; l < L; l++) { /* lane l's nonzeros in the window, in k order down the entries */
      int64_t t = e;
      for (int64_t k = k0; k < k0 + L && k < sh->K; k++) {
        float v = rsp_at(w, sh, d, p * L + l, k);
        if (v == 0) continue;
        kidx[t] = (int32_t)k0, lidx[t * L + l] = (uint8_t)(k - k0), vals[t * L + l] = v;
        t++;
      }
      top = t > top ? t : top;
    }
    e = top;
  }
  return e;
}

void rnn_sp_plan(KB *kb, const Value *w, const RspShape *sh, int64_t rows, RnnSp *sp) {
  memset(sp, 0, sizeof *sp);
  if (!w || w->kind != VK_CONST || !w->data || w->dtype != DT_FLOAT || w->cluster) return;
  const float *wd = w->data;
  RspCost c;
  rnn_sp_cost(wd, sh, rows, &c);
  if (c.pick == RSP_DENSE) return;
  int L = sh->L;
  int64_t np = sh->G * sh->Hp / L, n = c.pick == RSP_BLOCK ? c.nblock : c.nperm, n1 = n > 0 ? n : 1;
  int32_t *off = ir_xcalloc((size_t)(sh->D * np + 1), sizeof *off);
  int32_t *kidx = ir_xcalloc((size_t)n1, sizeof *kidx); /* padding: k 0, weight 0 */
  uint8_t *lidx = c.pick == RSP_PERM ? ir_xcalloc((size_t)(n1 * L), 1) : NULL;
  float *vals = ir_xcalloc((size_t)(n1 * L), sizeof *vals);
  int64_t e = 0;
  for (int64_t d = 0; d < sh->D; d++)
    for (int64_t p = 0; p < np; p++) {
      off[d * np + p] = (int32_t)e;
      e = off[d * np + p] + pad_u(pack_panel(wd, sh, c.pick, d, p, kidx, lidx, vals, e) - e);
    }
  off[sh->D * np] = (int32_t)e;
  sp->kind = c.pick;
  sp->npanel = np;
  sp->off = kb_weight(kb, off, (size_t)(sh->D * np + 1) * sizeof *off);
  sp->kidx = kb_weight(kb, kidx, (size_t)n1 * sizeof *kidx);
  sp->lidx = lidx ? kb_weight(kb, lidx, (size_t)(n1 * L)) : NULL;
  sp->vals = kb_weight(kb, vals, (size_t)(n1 * L) * sizeof *vals);
  free(off), free(kidx), free(lidx), free(vals);
}

static KV ld_i32(KB *kb, KV base, KV i) {
  return kb_cast(kb, kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, base, i)), kt_s(KE_I64), false, false);
}

void rnn_sp_panel(KB *kb, const RnnSp *sp, int L, KV q, int m, const KV *a, const KV *c, KV init) {
  KT vt = kt(KE_F32, L);
  KVar acc[4][RSP_U];
  for (int i = 0; i < m; i++)
    for (int u = 0; u < RSP_U; u++)
      acc[i][u] = kb_var(kb, vt, u == 0 && init ? kb_load(kb, vt, init) : kb_float(kb, vt, 0));
  KV e = kb_for(kb, ld_i32(kb, sp->off, q), ld_i32(kb, sp->off, kb_add(kb, q, I(kb, 1))), RSP_U);
  for (int u = 0; u < RSP_U; u++) {
    KV eu = kb_add(kb, e, I(kb, u));
    KV val = kb_load(kb, vt, kb_gep(kb, KE_F32, sp->vals, kb_mul(kb, eu, I(kb, L))));
    KV k = ld_i32(kb, sp->kidx, eu);
    KV li = sp->kind == RSP_PERM ? kb_cast(kb, kb_load(kb, kt(KE_I8, L), kb_gep(kb, KE_I8, sp->lidx, kb_mul(kb, eu, I(kb, L)))),
                                           kt(KE_I32, L), true, false)
                                 : NULL;
    for (int i = 0; i < m; i++) {
      KV x = li ? kb_permute(kb, kb_load(kb, vt, kb_gep(kb, KE_F32, a[i], k)), li)
                : kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, a[i], k)), L);
      kb_set(kb, acc[i][u], kb_fma(kb, x, val, kb_get(kb, acc[i][u])));
    }
  }
  kb_endfor(kb);
  for (int i = 0; i < m; i++) {
    KV s01 = kb_add(kb, kb_get(kb, acc[i][0]), kb_get(kb, acc[i][1]));
    KV s23 = kb_add(kb, kb_get(kb, acc[i][2]), kb_get(kb, acc[i][3]));
    kb_store(kb, kb_add(kb, s01, s23), c[i]);
  }
}

/* ---- the report (lib/prune.c's layer view) ---- */

static int rnn_gates(Op op) { return op == OP_LSTM ? 4 : op == OP_GRU ? 3 : 1; }

void rnn_sp_explain(const Node *n, int win, int vector_bytes, char *out, size_t len) {
  const Value *w = win < n->nin ? n->in[win] : NULL;
  const Value *x = n->in[0];
  if (!w || w->kind != VK_CONST || !w->data || w->dtype != DT_FLOAT || w->rank != 3) {
    snprintf(out, len, "dense (not a constant float weight)");
    return;
  }
  if (w->cluster) {
    snprintf(out, len, "clustered (%d values, indices decoded in the kernel)", w->cluster->k);
    return;
  }
  int L = vector_bytes > 0 ? vector_bytes / 4 : 16;
  int64_t G = rnn_gates(n->op), H = w->dims[1] / G;
  int64_t K = w->dims[2];
  RspShape sh = {w->dims[0], G, H, (H + L - 1) / L * L, K, L, win == 2 || K % L == 0};
  bool lay = ir_attr_int(n, "layout", 0) != 0;
  int64_t B = x && x->rank == 3 ? x->dims[lay ? 0 : 1] : -1, T = x && x->rank == 3 ? x->dims[lay ? 1 : 0] : -1;
  if (B < 1 || T < 1) {
    snprintf(out, len, "dense (batch unknown)");
    return;
  }
  RspCost c;
  rnn_sp_cost(w->data, &sh, win == 1 ? T * B : B, &c); /* W: the projection of every step at once */
  static const char *names[] = {"dense", "sparse block", "sparse perm"};
  snprintf(out, len, "%s (cost dense %.0f, block %.0f, perm %.0f)", names[c.pick], c.dense, c.block, c.perm);
}
