/* gen_sparse_q8.c — the sparse int8 matmul steps (see gen_sparse_q8.h): windows of 64 activations
 * gathered per lane by a byte lookup, one vpdpbusd per step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_sparse_q8.h"

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* One step costs a load, a lookup and a dot product per row where the dense kernel's group costs
 * a dot product (and a share of a broadcast): SQ8_STEP dense groups, and sparse is taken below
 * SQ8_TAKE of dense (measured on BERT's 768 × 768, 768 × 3072 and 3072 × 768, int8, 1 thread).
 * NEON's tbl4 is several micro-ops on most cores (not measured: no aarch64 machine, qemu only). */
#define SQ8_STEP 1.6
#define SQ8_STEP_NEON 3.0
#define SQ8_TAKE 0.8

static bool force;
void sq8_force(bool on) { force = on; }
bool sq8_forced(void) { return force; }

/* first k of window j: the last window is moved back to end at K */
static int64_t win_base(int64_t j, int64_t K) { return j * SQ8_WIN + SQ8_WIN <= K ? j * SQ8_WIN : K - SQ8_WIN; }

/* Walks the steps of b for L lanes in the kernel's order (panel, window, step); fills the arrays
 * when given.  Returns the number of steps. */
static int64_t walk(const int8_t *b, int64_t K, int64_t N, int L, int32_t *soff, int32_t *woff, int8_t *idx, int8_t *wts) {
  int64_t np = cdiv(N, L), nw = cdiv(K, SQ8_WIN), st = 0;
  int64_t ks[64][SQ8_WIN]; /* lane l's nonzero k in the window (L <= 64) */
  int cnt[64];
  for (int64_t p = 0; p < np; p++) {
    if (soff) soff[p] = (int32_t)st;
    for (int64_t j = 0; j < nw; j++) {
      int64_t k0 = j * SQ8_WIN, k1 = k0 + SQ8_WIN < K ? k0 + SQ8_WIN : K, base = win_base(j, K);
      int most = 0;
      for (int l = 0; l < L; l++) {
        int64_t n = p * L + l;
        cnt[l] = 0;
        for (int64_t k = k0; k < k1 && n < N; k++)
          if (b[k * N + n]) ks[l][cnt[l]++] = k;
        if (cnt[l] > most) most = cnt[l];
      }
      int nst = (most + 3) / 4;
      for (int s = 0; s < nst && idx; s++, st++) {
        woff[st] = (int32_t)base;
        for (int l = 0; l < L; l++)
          for (int t = 0; t < 4; t++) {
            int e = 4 * s + t;
            int64_t o = st * 4 * L + 4 * l + t;
            idx[o] = (int8_t)(e < cnt[l] ? ks[l][e] - base : 0);
            wts[o] = e < cnt[l] ? b[ks[l][e] * N + p * L + l] : 0;
          }
      }
      if (!idx) st += nst;
    }
  }
  if (soff) soff[np] = (int32_t)st;
  return st;
}

/* one instruction for the 64-byte lookup: vpermb (VBMI) over 16 lanes, tbl4 (NEON) over 4 */
static bool lookup_fast(const Target *t) { return (t->has_vbmi && t->vector_bytes == 64) || (t->has_neon && t->vector_bytes == 16); }

void sq8_cost(const Target *t, const int8_t *b, int64_t K, int64_t N, SpQ8Cost *c) {
  memset(c, 0, sizeof *c);
  int L = t->vector_bytes / 4;
  if (K < SQ8_WIN || L < 1) return;
  c->steps = walk(b, K, N, L, NULL, NULL, NULL, NULL);
  c->groups = cdiv(K, 4) * cdiv(N, L);
  c->dense = (double)c->groups;
  c->sparse = (double)c->steps * (t->has_neon ? SQ8_STEP_NEON : SQ8_STEP);
  c->pays = force || (lookup_fast(t) && c->sparse < SQ8_TAKE * c->dense);
}

void sq8_pack(KB *kb, const int8_t *b, int64_t K, int64_t N, int L, SpQ8 *sp) {
  memset(sp, 0, sizeof *sp);
  sp->L = L;
  sp->np = cdiv(N, L);
  sp->steps = walk(b, K, N, L, NULL, NULL, NULL, NULL);
  int64_t S = sp->steps > 0 ? sp->steps : 1;
  int32_t *soff = ir_xcalloc((size_t)sp->np + 1, sizeof *soff), *woff = ir_xcalloc((size_t)S, sizeof *woff);
  int8_t *idx = ir_xcalloc((size_t)(S * 4 * L), 1), *wts = ir_xcalloc((size_t)(S * 4 * L), 1);
  walk(b, K, N, L, soff, woff, idx, wts);
  sp->soff = kb_weight(kb, soff, sizeof *soff * (size_t)(sp->np + 1));
  sp->woff = kb_weight(kb, woff, sizeof *woff * (size_t)S);
  sp->idx = kb_weight(kb, idx, (size_t)(S * 4 * L));
  sp->wts = kb_weight(kb, wts, (size_t)(S * 4 * L));
  free(soff), free(woff), free(idx), free(wts);
}

static KV load_i64(KB *kb, KV base, KV i) {
  return kb_cast(kb, kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, base, i)), kt_s(KE_I64), false, false);
}

void sq8_accumulate(KB *kb, const SpQ8 *sp, KV p, int mr, const KV *arow, KVar *acc) {
  int L = sp->L;
  KT bt = kt(KE_I8, 4 * L), wt = kt(KE_I8, SQ8_WIN);
  KV st = kb_for(kb, load_i64(kb, sp->soff, p), load_i64(kb, sp->soff, kb_add(kb, p, I(kb, 1))), 1);
  KV woff = load_i64(kb, sp->woff, st), at = kb_mul(kb, st, I(kb, 4 * L));
  KV idx = kb_load(kb, bt, kb_gep(kb, KE_I8, sp->idx, at));
  KV w = kb_load(kb, bt, kb_gep(kb, KE_I8, sp->wts, at));
  for (int i = 0; i < mr; i++) {
    KV a = kb_permute(kb, kb_load(kb, wt, kb_gep(kb, KE_I8, arow[i], woff)), idx);
    kb_set(kb, acc[i], kb_dot4_u8s8(kb, kb_get(kb, acc[i]), a, w));
  }
  kb_endfor(kb);
}

void sq8_explain(const Target *t, const int8_t *b, int64_t K, int64_t N, char *out, size_t len) {
  SpQ8Cost c;
  sq8_cost(t, b, K, N, &c);
  if (K < SQ8_WIN) snprintf(out, len, "dense int8 (K %lld < %d)", (long long)K, SQ8_WIN);
  else if (c.pays)
    snprintf(out, len, "sparse int8 lookup (%lld steps, %.0f%% of dense's groups)", (long long)c.steps,
             100.0 * (double)c.steps / (double)c.groups);
  else if (!lookup_fast(t)) snprintf(out, len, "dense int8 (no byte lookup instruction on this target)");
  else
    snprintf(out, len, "dense int8 (sparse costs more: %lld steps, %.0f%% of dense's groups)", (long long)c.steps,
             100.0 * (double)c.steps / (double)c.groups);
}
