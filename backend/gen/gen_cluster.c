/* gen_cluster.c — decoding clustered weights in registers (gen_cluster.h): the 4-bit MatMul/Gemm
 * kernel for few rows, and the GEMM engine's index panels (Conv, MatMul/Gemm with more rows or
 * more values) decoded per K block into L1. */
#include "gen_cluster.h"

#include <stdlib.h>

#include "gen_contract.h"

bool gen_cluster_nibbles_ok(const Value *w, int L) {
  return w && w->kind == VK_CONST && w->cluster && w->cluster->k <= 16 && w->cluster->k <= L && L == 16 &&
         w->dtype == DT_FLOAT;
}

KV gen_cluster_table(KB *kb, const IrCluster *c, int L) {
  float t[64] = {0};
  for (int i = 0; i < c->k && i < L && i < 64; i++) t[i] = c->code[i];
  return kb_load(kb, kt(KE_F32, L), kb_weight(kb, t, sizeof(float) * (size_t)L));
}

/* one widening load (vpmovzxbd), one shift: the lookup reads only the low 4 bits of each lane,
 * so the low nibble needs no mask */
void gen_cluster_decode2(KB *kb, KV table, KV p, int L, KV *lo, KV *hi) {
  KT it = kt(KE_I32, L);
  KV x = kb_cast(kb, kb_load(kb, kt(KE_I8, L), p), it, true, false);
  *lo = kb_permute(kb, table, x);
  *hi = kb_permute(kb, table, kb_shr(kb, x, kb_int(kb, it, 4), true));
}

/* ---- MatMul / Gemm with a clustered constant B and few rows of A (batch-1 layers are weight
 * bound: B is read once per run, so its width is the time) ----
 * B packed as index panels over N (pairs of L columns, contiguous in k; columns past N index 0);
 * a task owns CG_PAIRS pairs of columns, keeps mr x 2·CG_PAIRS vectors of accumulators and walks
 * k once per group of mr rows. */
#define CG_PAIRS 4 /* 8 vectors of columns: 8 accumulators + 8 decoded B vectors + table per row pair */
#define CG_MAX_M 8

typedef struct Cg {
  GenCtx *c;
  const GemmSpec *s;
  int L;
  KV bq, table;
} Cg;

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }

static KV cg_pack(KB *kb, const GemmSpec *s, int L, int64_t np) {
  const Value *b = s->b_const;
  const uint8_t *ix = b->cluster->idx;
  int64_t K = s->K, N = s->N;
  size_t n = (size_t)(np * K * L);
  uint8_t *buf = ir_xcalloc(n ? n : 1, 1);
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++) {
      int64_t panel = j / L;
      buf[((panel / 2) * K + k) * L + j % L] |= (uint8_t)(ix[k * s->b_rs + j * s->b_cs] << (4 * (panel % 2)));
    }
  KV p = kb_weight(kb, buf, n);
  free(buf);
  return p;
}

/* alpha, bias, fused residual and activations on one result vector of row i, columns j.. */
static KV cg_epilogue(const Cg *g, KV x, int64_t i, KV j, KV mask) {
  KB *kb = g->c->kb;
  const GemmSpec *s = g->s;
  KT vt = kt(KE_F32, g->L);
  if (s->alpha != 1.0) x = kb_mul(kb, x, kb_float(kb, vt, s->alpha));
  if (s->bias) {
    KV bb = s->bias_cs == 0 ? kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, s->bias, I(kb, i * s->bias_rs))), g->L)
                            : gen_vload(kb, vt, kb_gep(kb, KE_F32, s->bias, kb_add(kb, I(kb, i * s->bias_rs), j)), mask);
    x = s->beta != 1.0 ? kb_fma(kb, bb, kb_float(kb, vt, s->beta), x) : kb_add(kb, x, bb);
  }
  KV r = s->res ? gen_vload(kb, vt, kb_gep(kb, KE_F32, s->res, kb_add(kb, I(kb, i * s->res_rs), j)), mask) : NULL;
  return gen_epi_apply(kb, s->epi, x, r);
}

/* rows [i0, i0 + mr), pairs [p0, p0 + np) of columns; valid: columns of the block inside N */
static void cg_block(const Cg *g, KV p0, int np, int64_t valid, int64_t i0, int mr) {
  KB *kb = g->c->kb;
  const GemmSpec *s = g->s;
  int L = g->L, nv = 2 * np;
  KT vt = kt(KE_F32, L);
  KVar acc[CG_MAX_M][2 * CG_PAIRS];
  for (int i = 0; i < mr; i++)
    for (int v = 0; v < nv; v++) acc[i][v] = kb_var(kb, vt, kb_float(kb, vt, 0));
  KV k = kb_for(kb, I(kb, 0), I(kb, s->K), 1);
  KV base = kb_gep(kb, KE_I8, g->bq, kb_mul(kb, kb_add(kb, kb_mul(kb, p0, I(kb, s->K)), k), I(kb, L)));
  KV bv[2 * CG_PAIRS];
  for (int q = 0; q < np; q++)
    gen_cluster_decode2(kb, g->table, kb_gep(kb, KE_I8, base, I(kb, (int64_t)q * s->K * L)), L, &bv[2 * q], &bv[2 * q + 1]);
  for (int i = 0; i < mr; i++) {
    KV aidx = kb_add(kb, I(kb, (i0 + i) * s->a_rs), kb_mul(kb, k, I(kb, s->a_cs)));
    KV a = kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, s->a, aidx)), L);
    for (int v = 0; v < nv; v++) kb_set(kb, acc[i][v], kb_fma(kb, a, bv[v], kb_get(kb, acc[i][v])));
  }
  kb_endfor(kb);
  KV col0 = kb_mul(kb, p0, I(kb, 2 * (int64_t)L));
  for (int v = 0; v < nv; v++) {
    int64_t left = valid - (int64_t)v * L;
    if (left <= 0) break;
    KV mask = left < L ? kb_tail_mask(kb, L, I(kb, left)) : NULL;
    KV j = kb_add(kb, col0, I(kb, (int64_t)v * L));
    for (int i = 0; i < mr; i++) {
      KV x = cg_epilogue(g, kb_get(kb, acc[i][v]), i0 + i, j, mask);
      gen_vstore(kb, x, kb_gep(kb, KE_F32, s->c, kb_add(kb, I(kb, (i0 + i) * s->ldc), j)), mask);
    }
  }
}

static void cg_rows(const Cg *g, KV p0, int np, int64_t valid) {
  int mrmax = 2;
  for (int64_t i0 = 0; i0 < g->s->M; i0 += mrmax)
    cg_block(g, p0, np, valid, i0, g->s->M - i0 < mrmax ? (int)(g->s->M - i0) : mrmax);
}

bool gemm_cluster_emit(GenCtx *c, GemmSpec *s) {
  KB *kb = c->kb;
  int L = kb_lanes(kb, KE_F32);
  if (s->dt != DT_FLOAT || s->nbd || s->M > CG_MAX_M || s->a_const || s->post || !gen_cluster_nibbles_ok(s->b_const, L))
    return false;
  /* full tasks: CG_PAIRS pairs whose columns all lie inside N (a task's stores are unmasked);
   * the rest (1..CG_PAIRS pairs, masked at N) is the last task */
  int64_t np = (s->N + 2 * L - 1) / (2 * L), nfull = s->N / (2 * CG_PAIRS * L), rest = np - nfull * CG_PAIRS;
  Cg g = {c, s, L, cg_pack(kb, s, L, np), NULL};
  g.table = gen_cluster_table(kb, s->b_const->cluster, L);
  int64_t ntask = nfull + (rest > 0);
  c->work = ntask > 1 ? ntask : 1;
  KV t = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  if (nfull > 0) {
    if (rest) kb_if(kb, kb_cmp(kb, KC_LT, t, I(kb, nfull), false));
    cg_rows(&g, kb_mul(kb, t, I(kb, CG_PAIRS)), CG_PAIRS, 2 * (int64_t)CG_PAIRS * L);
    if (rest) kb_else(kb);
  }
  if (rest) cg_rows(&g, I(kb, nfull * CG_PAIRS), (int)rest, s->N - nfull * CG_PAIRS * 2 * L);
  if (nfull > 0 && rest) kb_endif(kb);
  kb_endfor(kb);
  return true;
}

/* ---- clustered constant operands of the GEMM engine (gen_cluster.h) ---- */

bool gemm_cl_ok(const GemmSpec *s, const Value *w) {
  return w && w->kind == VK_CONST && w->cluster && w->dtype == DT_FLOAT && s->dt == DT_FLOAT && w->cluster->k <= 256;
}

uint8_t *gemm_cl_begin(GemmCl *g, KB *kb, const Value *w, int P, int64_t K, int64_t npanels) {
  int L = kb_lanes(kb, KE_F32);
  *g = (GemmCl){.cl = w->cluster, .L = L, .P = P, .K = K};
  g->bits = gen_cluster_nibbles_ok(w, L) ? 4 : 8;
  g->chunk = g->bits == 4 ? 2 * (int64_t)L : L;
  g->pbytes = (K * P + g->chunk - 1) / g->chunk * L;
  size_t n = (size_t)(npanels * g->pbytes);
  return ir_xcalloc(n ? n : 1, 1);
}

void gemm_cl_panel(const GemmCl *g, uint8_t *buf, int64_t p, int64_t base, int64_t xs, int64_t ks, int64_t valid) {
  const uint8_t *ix = g->cl->idx;
  uint8_t *dst = buf + p * g->pbytes;
  for (int64_t k = 0; k < g->K; k++)
    for (int64_t x = 0; x < valid; x++) {
      int64_t e = k * g->P + x;
      uint8_t v = ix[base + x * xs + k * ks];
      if (g->bits == 8) dst[e] = v;
      else {
        int64_t pos = e % g->chunk;
        dst[e / g->chunk * g->L + pos % g->L] |= (uint8_t)(v << (4 * (pos / g->L)));
      }
    }
}

void gemm_cl_end(GemmCl *g, KB *kb, uint8_t *buf, int64_t npanels) {
  size_t n = (size_t)(npanels * g->pbytes);
  g->idx = kb_weight(kb, buf, n ? n : 1);
  free(buf);
  int L = g->L;
  if (g->bits == 4) g->table = gen_cluster_table(kb, g->cl, L);
  else gen_cluster_tables8(kb, g->cl, L, &g->table, &g->tab2);
}

bool gen_cluster_bytes_ok(const Value *w) {
  return w && w->kind == VK_CONST && w->cluster && w->dtype == DT_FLOAT && w->cluster->k <= 256;
}

void gen_cluster_tables8(KB *kb, const IrCluster *cl, int L, KV *table, KV *tab2) {
  int k = cl->k;
  *tab2 = NULL;
  if (k <= 2 * L && L == 16) { /* two register tables and a select on bit 4 of the index */
    float t[32] = {0};
    for (int i = 0; i < k; i++) t[i] = cl->code[i];
    KV p = kb_weight(kb, t, sizeof t);
    *table = kb_load(kb, kt(KE_F32, L), p);
    *tab2 = kb_load(kb, kt(KE_F32, L), kb_gep(kb, KE_F32, p, I(kb, L)));
  } else {
    float t[256] = {0};
    for (int i = 0; i < k; i++) t[i] = cl->code[i];
    *table = kb_weight(kb, t, sizeof t); /* indices past k never occur; the table is 256 long anyway */
  }
}

KV gen_cluster_decode8(KB *kb, KV table, KV tab2, KV p, int L) {
  KT it = kt(KE_I32, L);
  KV x = kb_cast(kb, kb_load(kb, kt(KE_I8, L), p), it, true, false);
  if (!tab2) return kb_gather(kb, kt(KE_F32, L), table, x, NULL);
  KV hi = kb_cmp(kb, KC_NE, kb_and(kb, x, kb_int(kb, it, L)), kb_int(kb, it, 0), false);
  return kb_select(kb, hi, kb_permute(kb, tab2, x), kb_permute(kb, table, x));
}

int64_t gemm_cl_scratch(const GemmCl *g, int64_t kc) {
  return (kc * g->P + 2 * g->chunk) * (int64_t)sizeof(float);
}

/* one chunk of L index bytes at p → its L (8-bit) or 2L (4-bit) floats at dst */
static void cl_chunk(KB *kb, const GemmCl *g, KV p, KV dst) {
  int L = g->L;
  if (g->bits == 4) {
    KV lo, hi;
    gen_cluster_decode2(kb, g->table, p, L, &lo, &hi);
    kb_store(kb, lo, dst);
    kb_store(kb, hi, kb_gep(kb, KE_F32, dst, I(kb, L)));
    return;
  }
  kb_store(kb, gen_cluster_decode8(kb, g->table, g->tab2, p, L), dst);
}

KV gemm_cl_decode(KB *kb, const GemmCl *g, KV panel, KV k0, KV klen, KV dst) {
  KV e0 = kb_mul(kb, k0, I(kb, g->P)), e1 = kb_add(kb, e0, kb_mul(kb, klen, I(kb, g->P)));
  KV c0 = kb_div(kb, e0, I(kb, g->chunk), true);
  KV c1 = kb_div(kb, kb_add(kb, e1, I(kb, g->chunk - 1)), I(kb, g->chunk), true);
  KV pb = kb_gep(kb, KE_I8, g->idx, kb_mul(kb, panel, I(kb, g->pbytes)));
  KV ch = kb_for(kb, c0, c1, 1);
  KV rel = kb_sub(kb, ch, c0);
  cl_chunk(kb, g, kb_gep(kb, KE_I8, pb, kb_mul(kb, ch, I(kb, g->L))), kb_gep(kb, KE_F32, dst, kb_mul(kb, rel, I(kb, g->chunk))));
  kb_endfor(kb);
  return kb_gep(kb, KE_F32, dst, kb_sub(kb, e0, kb_mul(kb, c0, I(kb, g->chunk))));
}

bool gen_cluster_conv_keeps(const GenCtx *c) {
  const Value *w = c->n->nin > 1 ? c->n->in[1] : NULL;
  return w && w->kind == VK_CONST && w->cluster && w->dtype == DT_FLOAT && w->cluster->k <= 256 &&
         c->n->out[0]->dtype == DT_FLOAT;
}
