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

/* Walks the steps of b for L lanes in the kernel's order (panel, then k); fills the arrays when
 * given.  Returns the number of steps.  A step's window starts at the smallest k any lane still
 * has to take, rounded down to SQ8_ALIGN (moved back to end at K), and each lane takes up to 4 of
 * its next nonzeros inside it.  Steps per 768 k at 10% density, 16 lanes (simulated): fixed
 * windows of 64: 37; unaligned windows of 64: 26, but a window's load then splits cache lines and
 * a step cost 1.6× as much (BERT's 768 × 3072, CPU time); windows of 128 on 64: 24.5. */
static int64_t walk(const int8_t *b, int64_t K, int64_t N, int L, int32_t *soff, int32_t *woff, int8_t *idx, int8_t *wts) {
  int64_t np = cdiv(N, L), st = 0;
  int64_t *ks = malloc(sizeof(int64_t) * (size_t)(K * L)); /* lane l's nonzero k: ks[l*K ..] */
  int64_t cnt[64], pos[64];
  if (!ks) return -1;
  for (int64_t p = 0; p < np; p++) {
    if (soff) soff[p] = (int32_t)st;
    for (int l = 0; l < L; l++) {
      int64_t n = p * L + l;
      cnt[l] = pos[l] = 0;
      for (int64_t k = 0; k < K && n < N; k++)
        if (b[k * N + n]) ks[l * K + cnt[l]++] = k;
    }
    for (;;) {
      int64_t base = K;
      for (int l = 0; l < L; l++)
        if (pos[l] < cnt[l] && ks[l * K + pos[l]] < base) base = ks[l * K + pos[l]];
      if (base == K) break;
      base -= base % SQ8_ALIGN;
      if (base > K - SQ8_WIN) base = K - SQ8_WIN;
      if (idx) woff[st] = (int32_t)base;
      for (int l = 0; l < L; l++)
        for (int t = 0; t < 4; t++) {
          bool take = pos[l] < cnt[l] && ks[l * K + pos[l]] < base + SQ8_WIN;
          int64_t k = take ? ks[l * K + pos[l]++] : base;
          if (!idx) continue;
          int64_t o = st * 4 * L + 4 * l + t;
          idx[o] = (int8_t)(k - base);
          wts[o] = take ? b[k * N + p * L + l] : 0;
        }
      st++;
    }
  }
  if (soff) soff[np] = (int32_t)st;
  free(ks);
  return st;
}

/* one or two instructions for the 128-byte lookup (kb_permute2): vpermi2b (VBMI) over 16 lanes,
 * tbl4 + tbx4 (NEON) over 4 */
static bool lookup_fast(const Target *t) { return (t->has_vbmi && t->vector_bytes == 64) || (t->has_neon && t->vector_bytes == 16); }

void sq8_cost(const Target *t, const int8_t *b, int64_t K, int64_t N, SpQ8Cost *c) {
  memset(c, 0, sizeof *c);
  int L = t->vector_bytes / 4;
  if (K < SQ8_WIN || L < 1) return;
  c->steps = walk(b, K, N, L, NULL, NULL, NULL, NULL);
  if (c->steps < 0) return; /* out of memory: dense */
  c->groups = cdiv(K, 4) * cdiv(N, L);
  c->dense = (double)c->groups;
  c->sparse = (double)c->steps * (t->has_neon ? SQ8_STEP_NEON : SQ8_STEP);
  c->pays = force || (lookup_fast(t) && c->sparse < SQ8_TAKE * c->dense);
}

void sq8_pack(KB *kb, const int8_t *b, int64_t K, int64_t N, int L, SpQ8 *sp) {
  memset(sp, 0, sizeof *sp);
  sp->L = L;
  sp->K = K;
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
  KT bt = kt(KE_I8, 4 * L), wt = kt(KE_I8, SQ8_WIN / 2);
  KV st = kb_for(kb, load_i64(kb, sp->soff, p), load_i64(kb, sp->soff, kb_add(kb, p, I(kb, 1))), 1);
  KV woff = load_i64(kb, sp->woff, st), at = kb_mul(kb, st, I(kb, 4 * L));
  KV idx = kb_load(kb, bt, kb_gep(kb, KE_I8, sp->idx, at));
  KV w = kb_load(kb, bt, kb_gep(kb, KE_I8, sp->wts, at));
  KV at0 = kb_gep(kb, KE_I8, arow[0], woff);
  for (int i = 0; i < mr; i++) {
    KV r = kb_gep(kb, KE_I8, at0, I(kb, i * sp->K));
    KV a = kb_permute2(kb, kb_load(kb, wt, r), kb_load(kb, wt, kb_gep(kb, KE_I8, r, I(kb, SQ8_WIN / 2))), idx);
    kb_set(kb, acc[i], kb_dot4_u8s8(kb, kb_get(kb, acc[i]), a, w));
  }
  kb_endfor(kb);
}

void sq8_explain(const Target *t, const int8_t *b, int64_t K, int64_t N, char *out, size_t len) {
  SpQ8Cost c;
  sq8_cost(t, b, K, N, &c);
  if (K < SQ8_WIN) snprintf(out, len, "dense int8 (sparse needs K >= %d, K is %lld)", SQ8_WIN, (long long)K);
  else if (c.pays)
    snprintf(out, len, "sparse int8 lookup (%lld steps, %.0f%% of dense's groups)", (long long)c.steps,
             100.0 * (double)c.steps / (double)c.groups);
  else if (!lookup_fast(t)) snprintf(out, len, "dense int8 (no byte lookup instruction on this target)");
  else
    snprintf(out, len, "dense int8 (sparse costs more: %lld steps, %.0f%% of dense's groups)", (long long)c.steps,
             100.0 * (double)c.steps / (double)c.groups);
}
