/* gen_sparse_q8.c — the sparse int8 matmul steps (see gen_sparse_q8.h): windows of 128 activations
 * loaded once per group of steps, gathered per lane by a byte lookup, one vpdpbusd per step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_sparse_q8.h"

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* One step costs a lookup and a dot product per row (plus a share of the group's window loads)
 * where the dense kernel's group costs a dot product and a share of a broadcast: SQ8_STEP dense
 * groups, and sparse is taken below SQ8_TAKE of dense.  Measured (CPU time per run, 1 thread,
 * int8-dynamic, 128 × 768 × 3072 at 90% zeros: 4701 steps 260 µs, 36864 groups 790 µs; windows of
 * 64 on vpermb, 7164 steps: 300 µs).  NEON's tbl4 + tbx4 are several micro-ops on most cores
 * (a guess: no aarch64 machine, qemu only). */
#define SQ8_STEP 2.6
#define SQ8_STEP_NEON 4.0
#define SQ8_TAKE 0.8

static bool force;
void sq8_force(bool on) { force = on; }
bool sq8_forced(void) { return force; }

/* Walks the steps of b for L lanes in the kernel's order (panel, then k); fills the arrays when
 * given.  Returns the number of steps (*ngroups: of groups).  A step's window starts at the
 * smallest k any lane still has to take, rounded down to SQ8_ALIGN (moved back to end at K), and
 * each lane takes up to 4 of its next nonzeros inside it; consecutive steps on one window are a
 * group, whose rows' windows the kernel loads once.  Steps per 768 k at 10% density, 16 lanes
 * (simulated): fixed windows of 64: 37; unaligned windows of 64: 26 (but a window's load then
 * splits cache lines: a step cost 1.6× as much); windows of 128 on 64: 24.5. */
static int64_t walk(const int8_t *b, int64_t K, int64_t N, int L, int64_t *ngroups, int32_t *poff, int32_t *gof,
                    int32_t *gst, int8_t *idx, int8_t *wts) {
  int64_t np = cdiv(N, L), st = 0, ng = 0;
  int64_t *ks = malloc(sizeof(int64_t) * (size_t)(K * L)); /* lane l's nonzero k: ks[l*K ..] */
  int64_t cnt[64], pos[64];
  if (!ks) return -1;
  for (int64_t p = 0; p < np; p++) {
    if (poff) poff[p] = (int32_t)ng;
    for (int l = 0; l < L; l++) {
      int64_t n = p * L + l;
      cnt[l] = pos[l] = 0;
      for (int64_t k = 0; k < K && n < N; k++)
        if (b[k * N + n]) ks[l * K + cnt[l]++] = k;
    }
    int64_t last = -1;
    for (;;) {
      int64_t base = K;
      for (int l = 0; l < L; l++)
        if (pos[l] < cnt[l] && ks[l * K + pos[l]] < base) base = ks[l * K + pos[l]];
      if (base == K) break;
      base -= base % SQ8_ALIGN;
      if (base > K - SQ8_WIN) base = K - SQ8_WIN;
      if (base != last) {
        if (gof) gof[ng] = (int32_t)base, gst[ng] = (int32_t)st;
        ng++, last = base;
      }
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
  if (poff) poff[np] = (int32_t)ng, gst[ng] = (int32_t)st;
  free(ks);
  *ngroups = ng;
  return st;
}

/* one or two instructions for the 128-byte lookup (kb_permute2): vpermi2b (VBMI) over 16 lanes,
 * tbl4 + tbx4 (NEON) over 4 */
static bool lookup_fast(const Target *t) { return (t->has_vbmi && t->vector_bytes == 64) || (t->has_neon && t->vector_bytes == 16); }

void sq8_cost(const Target *t, const int8_t *b, int64_t K, int64_t N, SpQ8Cost *c) {
  memset(c, 0, sizeof *c);
  int L = t->vector_bytes / 4;
  if (K < SQ8_WIN || L < 1) return;
  int64_t ng;
  c->steps = walk(b, K, N, L, &ng, NULL, NULL, NULL, NULL, NULL);
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
  int64_t ng;
  sp->steps = walk(b, K, N, L, &ng, NULL, NULL, NULL, NULL, NULL);
  int64_t S = sp->steps > 0 ? sp->steps : 1;
  int32_t *poff = ir_xcalloc((size_t)sp->np + 1, sizeof *poff), *gof = ir_xcalloc((size_t)ng + 1, sizeof *gof);
  int32_t *gst = ir_xcalloc((size_t)ng + 1, sizeof *gst);
  int8_t *idx = ir_xcalloc((size_t)(S * 4 * L), 1), *wts = ir_xcalloc((size_t)(S * 4 * L), 1);
  walk(b, K, N, L, &ng, poff, gof, gst, idx, wts);
  sp->poff = kb_weight(kb, poff, sizeof *poff * (size_t)(sp->np + 1));
  sp->gof = kb_weight(kb, gof, sizeof *gof * (size_t)(ng + 1));
  sp->gst = kb_weight(kb, gst, sizeof *gst * (size_t)(ng + 1));
  sp->idx = kb_weight(kb, idx, (size_t)(S * 4 * L));
  sp->wts = kb_weight(kb, wts, (size_t)(S * 4 * L));
  free(poff), free(gof), free(gst), free(idx), free(wts);
}

static KV load_i64(KB *kb, KV base, KV i) {
  return kb_cast(kb, kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, base, i)), kt_s(KE_I64), false, false);
}

void sq8_accumulate(KB *kb, const SpQ8 *sp, KV p, int mr, const KV *arow, KVar *acc) {
  int L = sp->L;
  KT bt = kt(KE_I8, 4 * L), wt = kt(KE_I8, 64);
  KV g = kb_for(kb, load_i64(kb, sp->poff, p), load_i64(kb, sp->poff, kb_add(kb, p, I(kb, 1))), 1);
  KV at0 = kb_gep(kb, KE_I8, arow[0], load_i64(kb, sp->gof, g));
  KV lo[16], hi[16];
  for (int i = 0; i < mr; i++) {
    KV r = kb_gep(kb, KE_I8, at0, I(kb, i * sp->K));
    lo[i] = kb_load(kb, wt, r);
    hi[i] = SQ8_WIN > 64 ? kb_load(kb, wt, kb_gep(kb, KE_I8, r, I(kb, 64))) : NULL;
  }
  KV st = kb_for(kb, load_i64(kb, sp->gst, g), load_i64(kb, sp->gst, kb_add(kb, g, I(kb, 1))), 1);
  KV at = kb_mul(kb, st, I(kb, 4 * L));
  KV idx = kb_load(kb, bt, kb_gep(kb, KE_I8, sp->idx, at));
  KV w = kb_load(kb, bt, kb_gep(kb, KE_I8, sp->wts, at));
  for (int i = 0; i < mr; i++) {
    KV a = hi[i] ? kb_permute2(kb, lo[i], hi[i], idx) : kb_permute(kb, lo[i], idx); /* SQ8_WIN 128 : 64 */
    kb_set(kb, acc[i], kb_dot4_u8s8(kb, kb_get(kb, acc[i]), a, w));
  }
  kb_endfor(kb);
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
