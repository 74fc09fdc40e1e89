/* gen_gemm.c — the GEMM engine shared by MatMul, Gemm, Conv and Einsum (see gen_contract.h).
 *
 * Tiling: a microkernel keeps MR × NV vectors of accumulators in registers (MR·NV + NV B vectors
 * + a broadcast fit the register file: 6 × 4 or 14 × 2 zmm on AVX-512); B is read from NR-wide
 * panels (NR = NV · lanes, zero padded), A as broadcast scalars.  K is blocked so a B block
 * (KC × NR) stays in L1 while the task walks down its rows of A; the task list is
 * batch × M-blocks × N-panels and is what threads split (or × groups of N panels, each task
 * running its K blocks outside its panels: bf16 with a run-time A, and fp32 A rows too many for
 * L2, see weights_schedule).  A run-time B is packed per task into scratch (im2col, strided or
 * non-f32 B), except a raw f32 B with unit column stride (a pointwise conv's input, a MatMul's
 * run-time B), whose full panels the tiles read in place (row stride b_rs instead of NR): the
 * copy cost ~15% of a 64-row 1×1 conv.  Constant operands that stream from DRAM each run are
 * prefetched a block ahead: weights as B (weights_schedule), weights as A (gemm_a_streams).
 *
 * --fp-mode bf16 (Graph.fp_mode, AVX512-BF16): the same tiling over pairs of k.  A B panel row
 * holds the pair (B(2p, j), B(2p+1, j)) per column as bf16 ([K/2][NR][2]), A is read as one
 * 32-bit broadcast of its pair (A(i, 2p), A(i, 2p+1)), and vdpbf16ps adds both products into the
 * f32 accumulators; the epilogue is unchanged.  Constant operands are rounded to bf16 when
 * packed; a run-time B block is packed as f32 (by the usual packer) then paired and converted,
 * a run-time A block converted row by row into scratch per task. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_cluster.h"
#include "gen_contract.h"

/* ---- dtype helpers ---- */
KElem contract_elem(DType t) {
  switch (t) {
  case DT_FLOAT:
  case DT_FLOAT16:
  case DT_BFLOAT16: return KE_F32;
  case DT_DOUBLE: return KE_F64;
  case DT_INT64:
  case DT_UINT64: return KE_I64;
  default: return KE_I32;
  }
}

KV ct_load(KB *kb, DType t, KElem ce, KV base, KV idx, int lanes, KV mask) {
  KV v = gen_load_vec(kb, t, base, idx, lanes, mask);
  if (kb_type(kb, v).e != ce) v = kb_cast(kb, v, kt(ce, lanes), !dtype_is_signed(t), false);
  return v;
}

static KV ct_gather(KB *kb, DType t, KElem ce, KV base, KV idxv, int lanes, KV mask) {
  KElem se = kb_elem_of(t);
  KV v = kb_gather(kb, kt(se, lanes), base, idxv, mask);
  if (se != ce) v = kb_cast(kb, v, kt(ce, lanes), !dtype_is_signed(t), false);
  return v;
}

void ct_store(KB *kb, DType t, KV base, KV idx, KV val, KV mask) {
  KElem se = gen_compute_elem(t);
  KT vt = kb_type(kb, val);
  if (vt.e != se) val = kb_cast(kb, val, kt(se, vt.lanes), false, false);
  gen_store_vec(kb, t, base, idx, val, mask);
}

KV ct_madd(KB *kb, KV a, KV b, KV c) {
  if (kb_is_float(kb_type(kb, a).e)) return kb_fma(kb, a, b, c);
  return kb_add(kb, kb_mul(kb, a, b), c);
}

KV ct_const(KB *kb, KElem ce, int lanes, double x) {
  if (kb_is_float(ce)) return kb_float(kb, kt(ce, lanes), x);
  return kb_int(kb, kt(ce, lanes), (int64_t)x);
}

void ct_host_put(KElem ce, void *dst, int64_t j, const Value *v, int64_t i) {
  switch (ce) {
  case KE_F32: ((float *)dst)[j] = v ? (float)ir_const_f64(v, i) : 0.0f; break;
  case KE_F64: ((double *)dst)[j] = v ? ir_const_f64(v, i) : 0.0; break;
  case KE_I32: ((int32_t *)dst)[j] = v ? (int32_t)ir_const_i64(v, i) : 0; break;
  default: ((int64_t *)dst)[j] = v ? ir_const_i64(v, i) : 0; break;
  }
}

KV gen_epi_apply(KB *kb, const Epilogue *e, KV x, KV r) {
  if (r) x = kb_add(kb, x, r);
  for (int i = 0; e && i < e->nact; i++) x = gen_act_vec(kb, e->act[i], x);
  return x;
}

KV gen_epi_res(GenCtx *c) {
  const Node *n = c->n;
  return n->epi && n->epi->res ? kb_buf(c->kb, ir_ops[n->op].max_in) : NULL;
}

void gemm_set_epi(GenCtx *c, GemmSpec *s, const Value *y) {
  s->epi = c->n->epi;
  if (!(s->res = gen_epi_res(c))) return;
  if (!ir_same_shape(c->n->epi->res, y)) return; /* a row: res_rs = 0, res_bs = 0 */
  s->res_rs = s->ldc;
  memcpy(s->res_bs, s->c_bs, sizeof s->res_bs);
}

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- tiling choices ---- */
static int regs_of(const Target *t) { return t->vector_bytes == 32 ? 16 : 32; }

static int mr_for(const Target *t, int nv, KElem ce) {
  int avail = regs_of(t) - nv - 1;            /* B vectors + one spare */
  if (!t->has_avx512) avail--;                /* broadcast needs a register */
  if (!kb_is_float(ce)) avail--;              /* mul + add needs a temporary */
  int mr = avail / nv;
  if (mr > 16) mr = 16;
  return mr < 1 ? 1 : mr;
}

/* ---- compile-time packing ---- */

/* The packing loops below copy one element at a time through ct_host_put, which converts by
 * dtype (ir_const_f64); for the common case, float weights packed as float, a plain load and
 * store does the same (float -> double -> float is exact) at a fraction of the cost: on the
 * BERT-style encoder the per-element calls were a tenth of the whole compile. */
static const float *f32_src(KElem ce, const Value *v) {
  return ce == KE_F32 && v && v->dtype == DT_FLOAT ? (const float *)v->data : NULL;
}

/* dst[0..n) = src[off + t * stride] for t < valid, 0 after */
static void put_f32_run(float *dst, const float *src, int64_t off, int64_t stride, int64_t valid, int64_t n) {
  int64_t t = 0;
  if (stride == 1)
    for (; t < valid; t++) dst[t] = src[off + t];
  else
    for (; t < valid; t++) dst[t] = src[off + t * stride];
  for (; t < n; t++) dst[t] = 0.0f;
}

/* which batch dims an operand varies over, and the packed-matrix strides for them */
static int64_t mat_strides(const GemmSpec *s, const int64_t *bs, int64_t *pst) {
  int64_t n = 1;
  for (int d = s->nbd - 1; d >= 0; d--) {
    pst[d] = bs[d] ? n : 0;
    if (bs[d]) n *= s->bdims[d];
  }
  return n;
}

/* host element offset of packed matrix q */
static int64_t mat_host_off(const GemmSpec *s, const int64_t *bs, int64_t q) {
  int64_t off = 0;
  for (int d = s->nbd - 1; d >= 0; d--) {
    if (!bs[d]) continue;
    off += (q % s->bdims[d]) * bs[d];
    q /= s->bdims[d];
  }
  return off;
}

/* A → [mat][mp][K][mr] */
static KV pack_a_host(KB *kb, const GemmSpec *s, int mr, int64_t nmats) {
  int64_t nmp = cdiv(s->M, mr);
  size_t es = kb_elem_size(s->ce);
  size_t n = (size_t)(nmats * nmp * s->K * mr);
  char *buf = ir_xcalloc(n ? n : 1, es);
  size_t j = 0;
  const float *src = f32_src(s->ce, s->a_const);
  for (int64_t q = 0; q < nmats; q++) {
    int64_t base = mat_host_off(s, s->a_bs, q);
    for (int64_t mp = 0; mp < nmp; mp++)
      for (int64_t k = 0; k < s->K; k++) {
        int64_t valid = s->M - mp * mr < mr ? s->M - mp * mr : mr;
        if (src) {
          put_f32_run((float *)buf + j, src, base + mp * mr * s->a_rs + k * s->a_cs, s->a_rs, valid, mr);
          j += (size_t)mr;
          continue;
        }
        for (int i = 0; i < mr; i++, j++) {
          int64_t m = mp * mr + i;
          ct_host_put(s->ce, buf, (int64_t)j, m < s->M ? s->a_const : NULL, base + m * s->a_rs + k * s->a_cs);
        }
      }
  }
  KV p = kb_weight(kb, buf, n * es);
  free(buf);
  return p;
}

/* B → [mat][np][K][nrp] */
static KV pack_b_host(KB *kb, const GemmSpec *s, int64_t nmats, int64_t npn) {
  int nrp = s->nrp;
  size_t es = kb_elem_size(s->ce);
  size_t n = (size_t)(nmats * npn * s->K * nrp);
  char *buf = ir_xcalloc(n ? n : 1, es);
  size_t j = 0;
  const float *src = f32_src(s->ce, s->b_const);
  for (int64_t q = 0; q < nmats; q++) {
    int64_t base = mat_host_off(s, s->b_bs, q);
    for (int64_t np = 0; np < npn; np++)
      for (int64_t k = 0; k < s->K; k++) {
        int64_t valid = s->N - np * nrp < nrp ? s->N - np * nrp : nrp;
        if (src) {
          put_f32_run((float *)buf + j, src, base + k * s->b_rs + np * nrp * s->b_cs, s->b_cs, valid, nrp);
          j += (size_t)nrp;
          continue;
        }
        for (int x = 0; x < nrp; x++, j++) {
          int64_t col = np * nrp + x;
          ct_host_put(s->ce, buf, (int64_t)j, col < s->N ? s->b_const : NULL, base + k * s->b_rs + col * s->b_cs);
        }
      }
  }
  KV p = kb_weight(kb, buf, n * es);
  free(buf);
  return p;
}

/* ---- bf16 (--fp-mode bf16) ---- */
static bool bf16_wanted(const GenCtx *c, const GemmSpec *s, int L) {
  const Graph *g = c->g;
  while (g->parent) g = g->parent;
  if (g->fp_mode != IR_FP_BF16 || !c->target->has_bf16 || s->dt != DT_FLOAT || L != 16 || s->K < 2) return false;
  if (s->a_const && (s->a_const->dtype != DT_FLOAT || !s->a_const->data || gemm_cl_ok(s, s->a_const))) return false;
  if (s->b_const && (s->b_const->dtype != DT_FLOAT || !s->b_const->data || gemm_cl_ok(s, s->b_const))) return false;
  return true;
}

/* rows × K of a constant (element (r, k) at off(r) + k·ks, r < valid) as [Kp][rows][2] bf16
 * pairs at dst, zero past K and valid */
static void put_bf16_pairs(uint16_t *dst, const float *src, int64_t off, int64_t rstride, int64_t ks, int64_t valid,
                           int64_t rows, int64_t K) {
  for (int64_t k = 0; k < K; k++)
    for (int64_t r = 0; r < valid; r++) dst[((k / 2) * rows + r) * 2 + k % 2] = gen_host_bf16(src[off + r * rstride + k * ks]);
}

/* constant v (A: rows M, panel mr, rs = a_rs, ks = a_cs; B: rows N, panel nrp, rs = b_cs,
 * ks = b_rs) → [mat][panel][Kp][pr][2] bf16 */
static KV pack_host_bf16(KB *kb, const GemmSpec *s, const Value *v, const int64_t *bs, int64_t nmats, int64_t rows,
                         int pr, int64_t rs, int64_t ks) {
  int64_t np = cdiv(rows, pr), per = cdiv(s->K, 2) * pr * 2;
  size_t n = (size_t)(nmats * np * per);
  uint16_t *buf = ir_xcalloc(n ? n : 1, 2);
  for (int64_t q = 0; q < nmats; q++)
    for (int64_t p = 0; p < np; p++)
      put_bf16_pairs(buf + (q * np + p) * per, v->data, mat_host_off(s, bs, q) + p * pr * rs, rs, ks,
                     rows - p * pr < pr ? rows - p * pr : pr, pr, s->K);
  KV w = kb_weight(kb, buf, n * 2);
  free(buf);
  return w;
}

/* a run-time B block packed as f32 rows (klen × nrp at stage, row stride nrp) → bf16 pairs at
 * dst ([ceil(klen/2)][nrp][2]); row klen of stage (room for it is kept) zeroed when klen is odd */
static void bf16_pair_rows(KB *kb, const GemmSpec *s, KV stage, KV klen, KV dst) {
  int L = s->lanes;
  KT ft = kt(KE_F32, L);
  kb_if(kb, kb_cmp(kb, KC_NE, kb_and(kb, klen, I(kb, 1)), I(kb, 0), false));
  for (int v = 0; v < s->nv; v++)
    kb_store(kb, kb_float(kb, ft, 0), kb_gep(kb, KE_F32, stage, kb_add(kb, kb_mul(kb, klen, I(kb, s->nrp)), I(kb, (int64_t)v * L))));
  kb_endif(kb);
  int il[64];
  for (int i = 0; i < L; i++) il[2 * i] = i, il[2 * i + 1] = L + i;
  KV p = kb_for(kb, I(kb, 0), kb_div(kb, kb_add(kb, klen, I(kb, 1)), I(kb, 2), true), 1);
  {
    KV r0 = kb_mul(kb, p, I(kb, 2 * s->nrp));
    for (int v = 0; v < s->nv; v++) {
      KV at = kb_add(kb, r0, I(kb, (int64_t)v * L));
      KV e = kb_load(kb, ft, kb_gep(kb, KE_F32, stage, at));
      KV o = kb_load(kb, ft, kb_gep(kb, KE_F32, stage, kb_add(kb, at, I(kb, s->nrp))));
      KV bf = kb_to_bf16(kb, kb_shuffle(kb, e, o, il, 2 * L));
      kb_store(kb, bf, kb_gep(kb, KE_BF16, dst, kb_add(kb, r0, I(kb, (int64_t)v * 2 * L)))); /* (p·nrp + v·L)·2 */
    }
  }
  kb_endfor(kb);
}

/* rows [0, rows) of a run-time A block (A(i, k) at a + i·a_rs + k·a_cs, k < klen) → bf16 pairs
 * at dst, row i at dst + i·kps (i32 units), zero past klen; the row's 32-float chunks need
 * kps ≥ 16·ceil(kc/32) */
static void bf16_a_rows(KB *kb, const GemmSpec *s, KV a, KV rows, KV klen, int64_t kps, KV dst) {
  int L = s->lanes;
  int cat[64];
  for (int i = 0; i < 2 * L; i++) cat[i] = i;
  KV i = kb_for(kb, I(kb, 0), rows, 1);
  {
    KV row = kb_mul(kb, i, I(kb, s->a_rs));
    KV j = kb_for(kb, I(kb, 0), klen, 2 * L);
    KV h[2];
    for (int t = 0; t < 2; t++) {
      KV k = kb_add(kb, j, I(kb, (int64_t)t * L));
      KV mask = kb_tail_mask(kb, L, kb_sub(kb, klen, k));
      if (s->a_cs == 1) h[t] = ct_load(kb, s->dt, KE_F32, a, kb_add(kb, row, k), L, mask);
      else {
        KV idx = kb_add(kb, kb_splat(kb, kb_add(kb, row, kb_mul(kb, k, I(kb, s->a_cs))), L),
                        kb_mul(kb, kb_iota(kb, kt(KE_I64, L)), kb_int(kb, kt(KE_I64, L), s->a_cs)));
        h[t] = ct_gather(kb, s->dt, KE_F32, a, idx, L, mask);
      }
    }
    KV bf = kb_to_bf16(kb, kb_shuffle(kb, h[0], h[1], cat, 2 * L));
    kb_store(kb, bf, kb_gep(kb, KE_BF16, dst, kb_add(kb, kb_mul(kb, i, I(kb, 2 * kps)), j)));
    kb_endfor(kb);
  }
  kb_endfor(kb);
}

/* clustered A / B (gen_cluster.h): the same panels as index bytes, decoded per K block at run time */
static void pack_a_cl(KB *kb, const GemmSpec *s, int mr, int64_t nmats, GemmCl *g) {
  int64_t nmp = cdiv(s->M, mr);
  uint8_t *buf = gemm_cl_begin(g, kb, s->a_const, mr, s->K, nmats * nmp);
  for (int64_t q = 0; q < nmats; q++)
    for (int64_t mp = 0; mp < nmp; mp++)
      gemm_cl_panel(g, buf, q * nmp + mp, mat_host_off(s, s->a_bs, q) + mp * mr * s->a_rs, s->a_rs, s->a_cs,
                    s->M - mp * mr < mr ? s->M - mp * mr : mr);
  gemm_cl_end(g, kb, buf, nmats * nmp);
}

static void pack_b_cl(KB *kb, const GemmSpec *s, int64_t nmats, int64_t npn, GemmCl *g) {
  uint8_t *buf = gemm_cl_begin(g, kb, s->b_const, s->nrp, s->K, nmats * npn);
  for (int64_t q = 0; q < nmats; q++)
    for (int64_t np = 0; np < npn; np++)
      gemm_cl_panel(g, buf, q * npn + np, mat_host_off(s, s->b_bs, q) + np * s->nrp * s->b_cs, s->b_cs, s->b_rs,
                    s->N - np * s->nrp < s->nrp ? s->N - np * s->nrp : s->nrp);
  gemm_cl_end(g, kb, buf, nmats * npn);
}

/* ---- run-time packing of a raw B block into scratch ---- */
static void pack_b_raw(GenCtx *c, const GemmSpec *s, KV boff, KV k0, KV klen, KV n0, KV dst) {
  KB *kb = c->kb;
  int L = s->lanes;
  KElem ce = s->ce;
  KV nval = kb_min(kb, I(kb, s->nrp), kb_sub(kb, I(kb, s->N), n0), false);
  KV masks[8];
  for (int v = 0; v < s->nv; v++) masks[v] = kb_tail_mask(kb, L, kb_sub(kb, nval, I(kb, (int64_t)v * L)));
  KV colbase = kb_add(kb, boff, kb_mul(kb, n0, I(kb, s->b_cs)));
  KV r = kb_for(kb, I(kb, 0), klen, 1);
  {
    KV src = kb_add(kb, colbase, kb_mul(kb, kb_add(kb, k0, r), I(kb, s->b_rs)));
    KV drow = kb_mul(kb, r, I(kb, s->nrp));
    for (int v = 0; v < s->nv; v++) {
      KV val;
      if (s->b_cs == 1) val = ct_load(kb, s->dt, ce, s->b, kb_add(kb, src, I(kb, (int64_t)v * L)), L, masks[v]);
      else {
        KV idx = kb_add(kb, kb_splat(kb, kb_add(kb, src, I(kb, (int64_t)v * L * s->b_cs)), L),
                        kb_mul(kb, kb_iota(kb, kt(KE_I64, L)), kb_int(kb, kt(KE_I64, L), s->b_cs)));
        val = ct_gather(kb, s->dt, ce, s->b, idx, L, masks[v]);
      }
      kb_store(kb, val, kb_gep(kb, ce, dst, kb_add(kb, drow, I(kb, (int64_t)v * L))));
    }
  }
  kb_endfor(kb);
}

/* ---- the microkernel ---- */
typedef struct TileCtx {
  GenCtx *c;
  const GemmSpec *s;
  bool a_packed;
  int64_t ars, acs; /* A strides within the tile (packed: 1, mr) */
  KV bptr;          /* B block: row r at bptr + r*nrp */
  KV klen;
  KV first, last;   /* runtime flags when K is blocked (NULL: compile-time true) */
  int64_t ldb;      /* B row stride (0: nrp, a packed block) */
  int colt;         /* column tail: columns nv*L .. nv*L + colt - 1 of the tile are computed with
                     * M in the lanes (see col_tail_rows) */
  KV pf;            /* weights as B: the B block the task reads next (NULL: no prefetch) */
  int64_t pf_lpt;   /* its 64-byte lines per M tile: tile i prefetches lines i·lpt .. */
  int pf_ppi;       /* prefetches per unrolled K iteration */
  KV pf_tile;       /* this tile's index in the M block */
} TileCtx;

/* bf16: pair k of the block, B row at bptr + k·nrp·2 (bf16), A's pair for row i at
 * aptr + k·acs + i·ars (i32) */
static void k_step_bf16(const TileCtx *t, int mr, int nv, KV aptr, KVar *acc, KV k) {
  KB *kb = t->c->kb;
  const GemmSpec *s = t->s;
  int L = s->lanes;
  KT bt = kt(KE_BF16, 2 * L);
  KV bv[8];
  KV brow = kb_mul(kb, k, I(kb, 2 * s->nrp));
  for (int v = 0; v < nv; v++) bv[v] = kb_load(kb, bt, kb_gep(kb, KE_BF16, t->bptr, kb_add(kb, brow, I(kb, (int64_t)v * 2 * L))));
  KV kcol = kb_mul(kb, k, I(kb, t->acs));
  for (int i = 0; i < mr; i++) {
    KV a = kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, aptr, kb_add(kb, kcol, I(kb, i * t->ars))));
    a = kb_bitcast(kb, kb_splat(kb, a, L), bt);
    for (int v = 0; v < nv; v++) kb_set(kb, acc[i * nv + v], kb_dot2_bf16(kb, kb_get(kb, acc[i * nv + v]), a, bv[v]));
  }
}

static void k_step(const TileCtx *t, int mr, int nv, KV aptr, KVar *acc, KV k) {
  KB *kb = t->c->kb;
  const GemmSpec *s = t->s;
  if (s->bf16) {
    k_step_bf16(t, mr, nv, aptr, acc, k);
    return;
  }
  int L = s->lanes;
  KElem ce = s->ce;
  KV bv[8];
  KV brow = kb_mul(kb, k, I(kb, t->ldb ? t->ldb : s->nrp));
  for (int v = 0; v < nv; v++)
    bv[v] = kb_load(kb, kt(ce, L), kb_gep(kb, ce, t->bptr, kb_add(kb, brow, I(kb, (int64_t)v * L))));
  KV kcol = kb_mul(kb, k, I(kb, t->acs));
  for (int i = 0; i < mr; i++) {
    KV aidx = kb_add(kb, kcol, I(kb, i * t->ars));
    KV a = t->a_packed ? kb_load(kb, kt_s(ce), kb_gep(kb, ce, aptr, aidx)) : ct_load(kb, s->dt, ce, aptr, aidx, 1, NULL);
    a = kb_splat(kb, a, L);
    for (int v = 0; v < nv; v++) kb_set(kb, acc[i * nv + v], ct_madd(kb, a, bv[v], kb_get(kb, acc[i * nv + v])));
  }
  if (!t->colt) return;
  /* column tail: the panel's mr values of A at k as one vector, times B(k, col) broadcast */
  KV av = ct_load(kb, s->dt, ce, aptr, kcol, L, mr < L ? kb_tail_mask(kb, L, I(kb, mr)) : NULL);
  for (int j = 0; j < t->colt; j++) {
    KV b = kb_load(kb, kt_s(ce), kb_gep(kb, ce, t->bptr, kb_add(kb, brow, I(kb, (int64_t)nv * L + j))));
    KVar *q = &acc[mr * nv + j];
    kb_set(kb, *q, ct_madd(kb, av, kb_splat(kb, b, L), kb_get(kb, *q)));
  }
}

/* lane i of a column-tail vector: element (i, col) of a matrix with row stride rs */
static KV col_idx(KB *kb, int L, int64_t rs, int64_t col) {
  KT it = kt(KE_I64, L);
  return kb_add(kb, kb_mul(kb, kb_iota(kb, it), kb_int(kb, it, rs)), kb_int(kb, it, col));
}

static void emit_tile(const TileCtx *t, int mr, int nv, int nlast, KV aptr, KV cptr, KV biasptr, KV resptr) {
  GenCtx *c = t->c;
  KB *kb = c->kb;
  const GemmSpec *s = t->s;
  int L = s->lanes;
  KElem ce = s->ce;
  KT vt = kt(ce, L);
  KVar acc[16 * 8 + 4];
  KV lmask = nlast < L ? kb_tail_mask(kb, L, I(kb, nlast)) : NULL;
  int nacc = mr * nv + t->colt;
  KV cmask = t->colt && mr < L ? kb_tail_mask(kb, L, I(kb, mr)) : NULL; /* column tail: rows in lanes */
  for (int q = 0; q < nacc; q++) acc[q] = kb_var(kb, vt, NULL);
  KV zero = ct_const(kb, ce, L, 0);
  if (!t->first) {
    for (int q = 0; q < nacc; q++) kb_set(kb, acc[q], zero);
  } else {
    kb_if(kb, t->first);
    for (int q = 0; q < nacc; q++) kb_set(kb, acc[q], zero);
    kb_else(kb);
    for (int i = 0; i < mr; i++)
      for (int v = 0; v < nv; v++)
        kb_set(kb, acc[i * nv + v],
               ct_load(kb, s->dt, ce, cptr, I(kb, i * s->ldc + (int64_t)v * L), L, v == nv - 1 ? lmask : NULL));
    for (int j = 0; j < t->colt; j++)
      kb_set(kb, acc[mr * nv + j], kb_gather(kb, vt, cptr, col_idx(kb, L, s->ldc, (int64_t)nv * L + j), cmask));
    kb_endif(kb);
  }
  /* K loop, unrolled by U */
  const int U = 4;
  KV kmain = kb_and(kb, t->klen, I(kb, ~(int64_t)(U - 1)));
  KV k = kb_for(kb, I(kb, 0), kmain, U);
  for (int u = 0; u < U; u++) k_step(t, mr, nv, aptr, acc, kb_add(kb, k, I(kb, u)));
  if (t->pf) { /* the next B block, a share per tile, from DRAM into cache while this one runs */
    KV line = kb_add(kb, kb_mul(kb, t->pf_tile, I(kb, t->pf_lpt)), kb_mul(kb, kb_div(kb, k, I(kb, U), true), I(kb, t->pf_ppi)));
    for (int p = 0; p < t->pf_ppi; p++)
      kb_prefetch(kb, kb_gep(kb, KE_F32, t->pf, kb_mul(kb, kb_add(kb, line, I(kb, p)), I(kb, 16))));
  }
  kb_endfor(kb);
  k = kb_for(kb, kmain, t->klen, 1);
  k_step(t, mr, nv, aptr, acc, k);
  kb_endfor(kb);
  /* epilogue */
  bool epi = s->alpha != 1.0 || s->bias || s->post || s->res || s->epi;
  if (epi) {
    if (t->last) kb_if(kb, t->last);
    KV alpha = s->alpha != 1.0 ? ct_const(kb, ce, L, s->alpha) : NULL;
    KV beta = s->bias && s->beta != 1.0 ? ct_const(kb, ce, L, s->beta) : NULL;
    for (int i = 0; i < mr; i++) {
      KV brow = NULL;
      if (s->bias && s->bias_cs == 0) brow = kb_splat(kb, ct_load(kb, s->dt, ce, biasptr, I(kb, i * s->bias_rs), 1, NULL), L);
      for (int v = 0; v < nv; v++) {
        KV x = kb_get(kb, acc[i * nv + v]);
        if (alpha) x = kb_mul(kb, x, alpha);
        if (s->bias) {
          KV bb = brow ? brow
                       : ct_load(kb, s->dt, ce, biasptr, I(kb, i * s->bias_rs + (int64_t)v * L * s->bias_cs), L,
                                 v == nv - 1 ? lmask : NULL);
          x = beta ? ct_madd(kb, bb, beta, x) : kb_add(kb, x, bb);
        }
        if (s->post) x = s->post(kb, x, s->post_ud);
        KV r = s->res ? ct_load(kb, s->dt, ce, resptr, I(kb, i * s->res_rs + (int64_t)v * L), L, v == nv - 1 ? lmask : NULL)
                      : NULL;
        x = gen_epi_apply(kb, s->epi, x, r);
        kb_set(kb, acc[i * nv + v], x);
      }
    }
    for (int j = 0; j < t->colt; j++) { /* the same per lane (row) of the column tail */
      int64_t col = (int64_t)nv * L + j;
      KV x = kb_get(kb, acc[mr * nv + j]);
      if (alpha) x = kb_mul(kb, x, alpha);
      if (s->bias) {
        KV bb = kb_gather(kb, vt, biasptr, col_idx(kb, L, s->bias_rs, col * s->bias_cs), cmask);
        x = beta ? ct_madd(kb, bb, beta, x) : kb_add(kb, x, bb);
      }
      KV r = s->res ? kb_gather(kb, vt, resptr, col_idx(kb, L, s->res_rs, col), cmask) : NULL;
      kb_set(kb, acc[mr * nv + j], gen_epi_apply(kb, s->epi, x, r));
    }
    if (t->last) kb_endif(kb);
  }
  for (int i = 0; i < mr; i++)
    for (int v = 0; v < nv; v++)
      ct_store(kb, s->dt, cptr, I(kb, i * s->ldc + (int64_t)v * L), kb_get(kb, acc[i * nv + v]), v == nv - 1 ? lmask : NULL);
  for (int j = 0; j < t->colt; j++)
    kb_scatter(kb, kb_get(kb, acc[mr * nv + j]), cptr, col_idx(kb, L, s->ldc, (int64_t)nv * L + j), cmask);
}

/* rows [m0, min(m0 + mc, M)) of one task for one N variant */
typedef struct RowsCtx {
  TileCtx t;
  KV m0;          /* NULL: the whole of M (one block) */
  int64_t mc;
  KV abase;       /* raw: A at (0, k0) of this batch; packed: panel 0 at k0 of this matrix */
  KV cbase;       /* C at (0, n0) */
  KV biasbase;    /* bias at (0, n0) */
  KV resbase;     /* fused residual at (0, n0) */
  const GemmCl *acl; /* clustered A: panels decoded per tile into ascr (gen_cluster.h) */
  KV apanel0, k0, ascr;
  KV abf_m0;         /* bf16, run-time A: the first row converted into abase (NULL: row 0) */
  KV apf_wrap;       /* weights as A: the offset from abase of the block's first panel at the next
                      * K block (NULL: no prefetch) */
  int64_t apf_lines; /* 64-byte lines of a tile's A chunk (kc · mr floats) */
  int apf_ppi;       /* prefetches per unrolled K iteration to cover them */
} RowsCtx;

static void tile_at(const RowsCtx *r, int mr, int nv, int nlast, KV m) {
  KB *kb = r->t.c->kb;
  const GemmSpec *s = r->t.s;
  KV aptr;
  if (r->acl)
    aptr = gemm_cl_decode(kb, r->acl, kb_add(kb, r->apanel0, kb_div(kb, m, I(kb, s->mr), true)), r->k0, r->t.klen, r->ascr);
  else if (s->bf16 && r->t.a_packed) /* i32 pairs: panels of Kp·mr */
    aptr = kb_gep(kb, KE_I32, r->abase, kb_mul(kb, kb_div(kb, m, I(kb, s->mr), true), I(kb, cdiv(s->K, 2) * s->mr)));
  else if (s->bf16) /* rows converted from abf_m0 on, t.ars pairs apart */
    aptr = kb_gep(kb, KE_I32, r->abase, kb_mul(kb, r->abf_m0 ? kb_sub(kb, m, r->abf_m0) : m, I(kb, r->t.ars)));
  else if (r->t.a_packed) /* m is a multiple of the panel height s->mr */
    aptr = kb_gep(kb, s->ce, r->abase, kb_mul(kb, kb_div(kb, m, I(kb, s->mr), true), I(kb, s->K * s->mr)));
  else
    aptr = kb_gep(kb, kb_elem_of(s->dt), r->abase, kb_mul(kb, m, I(kb, s->a_rs)));
  KV cptr = kb_gep(kb, kb_elem_of(s->dt), r->cbase, kb_mul(kb, m, I(kb, s->ldc)));
  KV bptr = s->bias ? kb_gep(kb, kb_elem_of(s->dt), r->biasbase, kb_mul(kb, m, I(kb, s->bias_rs))) : NULL;
  KV rptr = s->res ? kb_gep(kb, kb_elem_of(s->dt), r->resbase, kb_mul(kb, m, I(kb, s->res_rs))) : NULL;
  TileCtx t = r->t;
  if (t.pf) t.pf_tile = kb_div(kb, r->m0 ? kb_sub(kb, m, r->m0) : m, I(kb, s->mr), true);
  if (r->apf_wrap && mr == s->mr) {
    /* weights as A: the next tile's chunk of A (the next panel at this K block; after the block's
     * last full tile, its first panel at the next K block) while this tile runs */
    int64_t mfull = s->M - s->M % s->mr;
    KV mend = r->m0 ? kb_min(kb, kb_add(kb, r->m0, I(kb, r->mc)), I(kb, mfull), false) : I(kb, mfull);
    KV more = kb_cmp(kb, KC_LT, kb_add(kb, m, I(kb, s->mr)), mend, false);
    KV next = kb_mul(kb, kb_add(kb, kb_div(kb, m, I(kb, s->mr), true), I(kb, 1)), I(kb, s->K * s->mr));
    t.pf = kb_gep(kb, s->ce, r->abase, kb_select(kb, more, next, r->apf_wrap));
    t.pf_tile = I(kb, 0);
    t.pf_lpt = r->apf_lines;
    t.pf_ppi = r->apf_ppi;
  }
  emit_tile(&t, mr, nv, nlast, aptr, cptr, bptr, rptr);
}

static void emit_rows(const RowsCtx *r, int nv, int nlast) {
  KB *kb = r->t.c->kb;
  const GemmSpec *s = r->t.s;
  int mr = s->mr;
  int64_t mfull = s->M - s->M % mr;
  int mt = (int)(s->M % mr);
  if (!r->m0) {
    if (mfull > 0) {
      KV m = kb_for(kb, I(kb, 0), I(kb, mfull), mr);
      tile_at(r, mr, nv, nlast, m);
      kb_endfor(kb);
    }
    if (mt) tile_at(r, mt, nv, nlast, I(kb, mfull));
    return;
  }
  KV mend = kb_min(kb, kb_add(kb, r->m0, I(kb, r->mc)), I(kb, mfull), false);
  KV m = kb_for(kb, r->m0, mend, mr);
  tile_at(r, mr, nv, nlast, m);
  kb_endfor(kb);
  if (mt) {
    kb_if(kb, kb_cmp(kb, KC_GE, kb_add(kb, r->m0, I(kb, r->mc)), I(kb, s->M), false));
    tile_at(r, mt, nv, nlast, I(kb, mfull));
    kb_endif(kb);
  }
}

/* ---- small N: dot products along K ----
 * C(i, j) = A row i · B column j with both contiguous in k (B packed transposed at compile time
 * when constant); R rows × N columns × U vectors of accumulators, a horizontal add at the end. */
static bool dot_ok(const GemmSpec *s, int L) {
  return s->N <= 4 && s->K >= L && !s->pack && (s->a_const || s->a_cs == 1) && (s->b_const || s->b_rs == 1);
}

static void dot_tile(GenCtx *c, const GemmSpec *s, int R, KV arow, int64_t ars, KV bcol, int64_t bcs, bool bc,
                     KV cptr, KV biasptr, KV resptr) {
  KB *kb = c->kb;
  KElem ce = s->ce;
  int L = s->lanes, N = (int)s->N, U = N == 1 ? 2 : 1;
  KT vt = kt(ce, L);
  KVar acc[4][4][2];
  for (int i = 0; i < R; i++)
    for (int j = 0; j < N; j++)
      for (int u = 0; u < U; u++) acc[i][j][u] = kb_var(kb, vt, ct_const(kb, ce, L, 0));
  bool ac = s->a_const != NULL;
  int64_t step = (int64_t)U * L, kfull = s->K - s->K % step;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && kfull == s->K) break;
    KV k = pass == 0 ? kb_for(kb, kb_i64(kb, 0), kb_i64(kb, kfull), step) : kb_for(kb, kb_i64(kb, kfull), kb_i64(kb, s->K), L);
    KV mask = pass == 0 ? NULL : kb_tail_mask(kb, L, kb_sub(kb, kb_i64(kb, s->K), k));
    int uu = pass == 0 ? U : 1;
    for (int u = 0; u < uu; u++) {
      KV ku = kb_add(kb, k, kb_i64(kb, (int64_t)u * L));
      KV bv[4];
      for (int j = 0; j < N; j++) {
        KV idx = kb_add(kb, ku, kb_i64(kb, j * bcs));
        bv[j] = bc ? (mask ? kb_load_masked(kb, vt, kb_gep(kb, ce, bcol, idx), mask, NULL) : kb_load(kb, vt, kb_gep(kb, ce, bcol, idx)))
                   : ct_load(kb, s->dt, ce, bcol, idx, L, mask);
      }
      for (int i = 0; i < R; i++) {
        KV idx = kb_add(kb, ku, kb_i64(kb, i * ars));
        KV av = ac ? (mask ? kb_load_masked(kb, vt, kb_gep(kb, ce, arow, idx), mask, NULL) : kb_load(kb, vt, kb_gep(kb, ce, arow, idx)))
                   : ct_load(kb, s->dt, ce, arow, idx, L, mask);
        for (int j = 0; j < N; j++) kb_set(kb, acc[i][j][u], ct_madd(kb, av, bv[j], kb_get(kb, acc[i][j][u])));
      }
    }
    kb_endfor(kb);
  }
  for (int i = 0; i < R; i++)
    for (int j = 0; j < N; j++) {
      KV v = kb_get(kb, acc[i][j][0]);
      for (int u = 1; u < U; u++) v = kb_add(kb, v, kb_get(kb, acc[i][j][u]));
      KV x = kb_reduce_add(kb, v);
      if (s->alpha != 1.0) x = kb_mul(kb, x, ct_const(kb, ce, 1, s->alpha));
      if (s->bias) {
        KV bb = ct_load(kb, s->dt, ce, biasptr, kb_i64(kb, i * s->bias_rs + j * s->bias_cs), 1, NULL);
        x = s->beta != 1.0 ? ct_madd(kb, bb, ct_const(kb, ce, 1, s->beta), x) : kb_add(kb, x, bb);
      }
      if (s->post) x = s->post(kb, x, s->post_ud);
      KV r = s->res ? ct_load(kb, s->dt, ce, resptr, kb_i64(kb, i * s->res_rs + j), 1, NULL) : NULL;
      x = gen_epi_apply(kb, s->epi, x, r);
      ct_store(kb, s->dt, cptr, kb_i64(kb, i * s->ldc + j), x, NULL);
    }
}

/* gemm_dot's constant operand v as [nmat][rows][K] in the compute type: row r of matrix q starts
 * at mat_host_off(q) + r·rs, its K elements ks apart (A: rs = a_rs, ks = a_cs; B transposed:
 * rs = b_cs, ks = b_rs) */
static KV dot_pack(KB *kb, const GemmSpec *s, const Value *v, const int64_t *bs, int64_t nmat, int64_t rows,
                   int64_t rs, int64_t ks) {
  KElem ce = s->ce;
  int64_t K = s->K;
  size_t es = kb_elem_size(ce), n = (size_t)(nmat * rows * K);
  char *buf = ir_xcalloc(n ? n : 1, es);
  const float *src = f32_src(ce, v);
  for (int64_t q = 0, j = 0; q < nmat; q++)
    for (int64_t r = 0; r < rows; r++, j += K) {
      int64_t off = mat_host_off(s, bs, q) + r * rs;
      if (src) put_f32_run((float *)buf + j, src, off, ks, K, K);
      else
        for (int64_t k = 0; k < K; k++) ct_host_put(ce, buf, j + k, v, off + k * ks);
    }
  KV w = kb_weight(kb, buf, n * es);
  free(buf);
  return w;
}

static void gemm_dot(GenCtx *c, GemmSpec *s) {
  KB *kb = c->kb;
  KElem ce = s->ce, se = kb_elem_of(s->dt);
  int64_t M = s->M, N = s->N, K = s->K;
  int R = M < 4 ? (int)M : 4;
  int64_t apst[GEMM_MAX_BD], bpst[GEMM_MAX_BD];
  int64_t namat = mat_strides(s, s->a_bs, apst), nbmat = mat_strides(s, s->b_bs, bpst);
  KV apack = NULL, bpack = NULL;
  if (s->a_const) apack = dot_pack(kb, s, s->a_const, s->a_bs, namat, M, s->a_rs, s->a_cs); /* [mat][M][K] */
  if (s->b_const) bpack = dot_pack(kb, s, s->b_const, s->b_bs, nbmat, N, s->b_cs, s->b_rs); /* Bᵀ: [mat][N][K] */
  int64_t nb = 1;
  for (int d = 0; d < s->nbd; d++) nb *= s->bdims[d];
  double flops = 2.0 * (double)nb * (double)M * (double)N * (double)K;
  /* split from 1 MFLOP, or from 0.1 MFLOP when it streams ≥ 128 KB of constant rows (memory
     bound: EfficientNet's squeeze-excite 48 → 1152 convs, 221 KB, took 20–30 µs alone) */
  double cbytes = (double)kb_elem_size(ce) * (double)K * (double)(s->a_const ? namat * M : 0) +
                  (double)kb_elem_size(ce) * (double)K * (double)(s->b_const ? nbmat * N : 0);
  bool par = flops >= 1e6 || (flops >= 1e5 && cbytes >= (1 << 17));
  int64_t rtiles = cdiv(M, R), rows_per_task = rtiles, ntb = 1;
  if (par) {
    int64_t desired = (int64_t)(flops / 2e6);
    if (desired > 16) desired = 16;
    if (desired < 2) desired = 2;
    if (nb < desired) ntb = cdiv(desired, nb);
    if (ntb > rtiles) ntb = rtiles;
    rows_per_task = cdiv(rtiles, ntb);
    ntb = cdiv(rtiles, rows_per_task);
  }
  int64_t ntask = nb * ntb;
  c->work = par && ntask > 1 ? ntask : 1;
  KV t = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  KV rb = kb_rem(kb, t, I(kb, ntb), true), b = kb_div(kb, t, I(kb, ntb), true);
  KV aoff = I(kb, 0), boff = I(kb, 0), coff = I(kb, 0), biasoff = I(kb, 0), amat = I(kb, 0), bmat = I(kb, 0), resoff = I(kb, 0);
  for (int d = s->nbd - 1; d >= 0; d--) {
    KV idx = d > 0 ? kb_rem(kb, b, I(kb, s->bdims[d]), true) : b;
    if (d > 0) b = kb_div(kb, b, I(kb, s->bdims[d]), true);
    aoff = kb_add(kb, aoff, kb_mul(kb, idx, I(kb, s->a_bs[d])));
    boff = kb_add(kb, boff, kb_mul(kb, idx, I(kb, s->b_bs[d])));
    coff = kb_add(kb, coff, kb_mul(kb, idx, I(kb, s->c_bs[d])));
    if (s->bias) biasoff = kb_add(kb, biasoff, kb_mul(kb, idx, I(kb, s->bias_bs[d])));
    if (s->res) resoff = kb_add(kb, resoff, kb_mul(kb, idx, I(kb, s->res_bs[d])));
    amat = kb_add(kb, amat, kb_mul(kb, idx, I(kb, apst[d])));
    bmat = kb_add(kb, bmat, kb_mul(kb, idx, I(kb, bpst[d])));
  }
  KV abase = apack ? kb_gep(kb, ce, apack, kb_mul(kb, amat, I(kb, M * K))) : kb_gep(kb, se, s->a, aoff);
  int64_t ars = apack ? K : s->a_rs;
  KV bcol = bpack ? kb_gep(kb, ce, bpack, kb_mul(kb, bmat, I(kb, N * K))) : kb_gep(kb, se, s->b, boff);
  int64_t bcs = bpack ? K : s->b_cs;
  KV cbase = kb_gep(kb, se, s->c, coff);
  KV biasbase = s->bias ? kb_gep(kb, se, s->bias, biasoff) : NULL;
  KV resbase = s->res ? kb_gep(kb, se, s->res, resoff) : NULL;
  int64_t mfull = M - M % R;
  KV m0 = kb_mul(kb, rb, I(kb, rows_per_task * R));
  KV mend = kb_min(kb, kb_add(kb, m0, I(kb, rows_per_task * R)), I(kb, mfull), false);
  KV m = kb_for(kb, m0, mend, R);
  dot_tile(c, s, R, kb_gep(kb, apack ? ce : se, abase, kb_mul(kb, m, I(kb, ars))), ars, bcol, bcs, bpack != NULL,
           kb_gep(kb, se, cbase, kb_mul(kb, m, I(kb, s->ldc))),
           s->bias ? kb_gep(kb, se, biasbase, kb_mul(kb, m, I(kb, s->bias_rs))) : NULL,
           s->res ? kb_gep(kb, se, resbase, kb_mul(kb, m, I(kb, s->res_rs))) : NULL);
  kb_endfor(kb);
  if (M % R) {
    KV mt = I(kb, mfull);
    kb_if(kb, kb_cmp(kb, KC_GE, kb_add(kb, m0, I(kb, rows_per_task * R)), I(kb, M), false));
    dot_tile(c, s, (int)(M % R), kb_gep(kb, apack ? ce : se, abase, kb_mul(kb, mt, I(kb, ars))), ars, bcol, bcs,
             bpack != NULL, kb_gep(kb, se, cbase, kb_mul(kb, mt, I(kb, s->ldc))),
             s->bias ? kb_gep(kb, se, biasbase, kb_mul(kb, mt, I(kb, s->bias_rs))) : NULL,
             s->res ? kb_gep(kb, se, resbase, kb_mul(kb, mt, I(kb, s->res_rs))) : NULL);
    kb_endif(kb);
  }
  kb_endfor(kb);
}

/* The M-block count, near nmb, whose tasks split best over 2 threads.  The pool starts each thread
 * on a static share of t = (batch·nmb + M block)·npn + N panel; a task costs its M tiles × its
 * panel's vectors (the last M block and panel may be short) plus pack (B packed per task, in
 * tiles).  MobileNetV2's 160×49 pointwise conv was 5 tasks (3 : 2); 4 or 6 split evenly. */
static int64_t gemm_balance_mb(int64_t mtiles, int64_t nmb, int64_t max_nmb, int64_t per_mb, int64_t npn, int nv,
                               int nv_t, double pack) {
  const int64_t cand[4] = {nmb, nmb - 1, nmb + 1, 2 * nmb};
  int64_t best = nmb;
  double best_cost = 0;
  for (int i = 0; i < 4; i++) {
    int64_t m = cand[i];
    if (m < 1 || (m > nmb && m > max_nmb)) continue;
    int64_t mc = cdiv(mtiles, m), nb = per_mb / npn;
    m = cdiv(mtiles, mc);
    int64_t work = nb * m * npn;
    if (work > 4096) return nmb; /* many tasks: balanced enough */
    double share[2] = {0, 0};
    for (int64_t t = 0; t < work; t++) {
      int64_t np = t % npn, mb = t / npn % m, tiles = mb == m - 1 ? mtiles - mb * mc : mc;
      share[t >= work / 2] += (double)tiles * (np == npn - 1 ? nv_t : nv) + pack;
    }
    double cost = (share[0] > share[1] ? share[0] : share[1]) + 0.25 * (share[0] + share[1]);
    if (i == 0 || cost < best_cost * 0.98) best = m, best_cost = cost;
  }
  return best;
}

/* Weights as B (fp32, B constant, A at run time, one matrix: every projection of a transformer).
 * B is the model's weights: at a run's start it is in DRAM (BERT's 340 MB never fit a cache), and
 * a task's first pass over its panel streams it at 2 / (its rows) bytes per flop, so the M blocks
 * want to be tall (128 rows: 3 GB/s at 200 GFLOP/s; the 36-row blocks BERT's FFN down was cut into:
 * 11 GB/s), while A (just written, L2/L3) is cheap to reread.  Two schedules, the one reading
 * fewer bytes past L2 (a byte of B counted twice):
 * - panels: a task is an M block × one N panel, as few blocks as keep the block's A rows (all of
 *   K) in L2 beside the streamed panel, so the next panel's task finds them there;
 * - groups (when A's rows for all of K do not fit L2 in tall blocks: FFN down, A 128 × 3072, or
 *   anything at batch 8): a task runs its K blocks outside and a group of panels inside; its A
 *   slice (up to 256 rows × one K block, ≤ 256 KB) serves the group's panels from L2, the
 *   group's C block (≤ 256 KB) stays in L2 between K blocks, B is read once per M block and A
 *   once per group.
 * Sets *nmb (and *ngr, *npg for groups); true: groups.  At least 4 tasks (an even count when it
 * can) when the GEMM runs in parallel. */
static bool weights_schedule(const GemmSpec *s, int64_t kc, int64_t npn, bool parallel, int64_t *nmb, int64_t *ngr,
                             int64_t *npg) {
  const int64_t es = 4, l2 = 896 << 10, half = (int64_t)1 << 18;
  int64_t mr = s->mr, mtiles = cdiv(s->M, mr), K = s->K > 0 ? s->K : 1;
  double asz = (double)s->M * (double)K * es, bsz = 2.0 * (double)K * (double)s->N * es;
  /* panels */
  int64_t fit = (l2 - K * s->nrp * es) / (K * es * mr); /* tiles of A rows beside a panel */
  if (fit < 1) fit = 1;
  int64_t pa = cdiv(mtiles, fit);
  if (parallel && pa * npn < 4) pa = cdiv(4, npn);
  if (pa > mtiles) pa = mtiles;
  pa = cdiv(mtiles, cdiv(mtiles, pa));
  double cost_pa = (double)pa * bsz + asz;
  /* groups */
  int64_t cap = half / ((kc > 0 ? kc : 1) * es) / mr;
  if (cap < 1) cap = 1;
  int64_t m = cdiv(mtiles, cap), mct = cdiv(mtiles, m);
  m = cdiv(mtiles, mct);
  int64_t g = half / (mct * mr * s->nrp * es);
  g = g < 1 ? 1 : g > npn ? npn : g;
  int64_t r = cdiv(npn, g);
  if (parallel && m * r < 4) r = cdiv(4, m) < npn ? cdiv(4, m) : npn;
  if (parallel && (m * r) % 2 && r < npn) r++;
  g = cdiv(npn, r);
  r = cdiv(npn, g);
  if ((double)m * bsz + (double)r * asz < 0.8 * cost_pa) {
    *nmb = m, *ngr = r, *npg = g;
    return true;
  }
  *nmb = pa;
  return false;
}

/* Weights as A (a conv's weights, packed in MR-row panels [mp][K][mr]) stream from DRAM when
 * they are too large to stay in cache between runs (ResNet-50's layer 3 and 4: 0.5-9 MB a conv,
 * ~100 MB in all).  A task walks its M tiles at one K block, so the chunks it reads are K·mr
 * floats apart: each tile prefetches the next tile's chunk (after the block's last tile, its first
 * panel at the next K block) while it runs.  Winograd's tiles prefetch their next panel the same
 * way (gen_winograd.c). */
bool gemm_a_streams(int64_t bytes) { return bytes >= ((int64_t)512 << 10); }

static bool apf_on(const GemmSpec *s, KV apack, bool bf, int64_t bytes) {
  return apack && !bf && s->ce == KE_F32 && s->dt == DT_FLOAT && s->K >= 16 && gemm_a_streams(bytes);
}

void gemm_emit(GenCtx *c, GemmSpec *s) {
  s->bf16 = false;
  if (gemm_xsmm_emit(c, s)) return; /* `--gemm libxsmm` (gen_xsmm.c) */
  KB *kb = c->kb;
  KElem ce = contract_elem(s->dt);
  s->ce = ce;
  int L = kb_lanes(kb, ce);
  s->lanes = L;
  size_t es = kb_elem_size(ce);
  int64_t M = s->M, N = s->N, K = s->K;
  bool runtime_b = !s->b_const;
  bool a_packed = s->a_const != NULL;
  if (dot_ok(s, L)) {
    gemm_dot(c, s);
    return;
  }
  bool bf = s->bf16 = bf16_wanted(c, s, L);

  /* tile shape: the NV (vectors of columns) that wastes the fewest padded columns, weighted by
   * how well each microkernel shape runs; MR fills the register file */
  const int nvmax = 4;
  static const double eff[5] = {0, 0.7, 0.96, 0.98, 1.0};
  int nv = 1;
  double best = 1e30;
  for (int v = 1; v <= nvmax; v++) {
    double cost = (double)(cdiv(N, (int64_t)v * L) * v * L) / (double)N / eff[v];
    if (cost < best - 1e-9) best = cost, nv = v;
    if ((int64_t)v * L >= N) break;
  }
  int mr = mr_for(c->target, nv, ce);
  /* Column tail: when N is a few vectors plus 1..3 columns (49 = 3·16 + 1: the 7×7 convs), those
   * columns run with M in the lanes (a vector of the A panel times B(k, col) broadcast) instead of
   * as a vector of which 1..3 lanes count: a 6×4 tile's 24 FMAs per k become 8×3 + 1 = 25 for 8
   * rows.  Storage keeps nv + 1 vectors per B row, so the packers do not change. */
  int colt = 0;
  int64_t nvc = N / L, ct = N % L;
  if (ce == KE_F32 && s->dt == DT_FLOAT && a_packed && !s->post && ct >= 1 && ct <= 3 && nvc >= 1 && nvc <= 4) {
    int mrc = (regs_of(c->target) - (int)nvc - 2 - (int)ct - (c->target->has_avx512 ? 0 : 1)) / (int)nvc;
    if (mrc > 16) mrc = 16;
    if (mrc > L) mrc = L;
    double cost = ((double)nvc + (double)ct / mrc) * L / (double)N / eff[nvc];
    if (mrc >= 4 && cost < best * 0.97) colt = (int)ct, nv = (int)nvc + 1, mr = mrc;
  }
  if (mr > M) mr = (int)M;
  s->nv = nv;
  s->mr = mr;
  s->nrp = nv * L;
  int64_t npn = cdiv(N, s->nrp);
  int64_t nlast_cols = N - (npn - 1) * s->nrp; /* columns in the last panel */
  int nv_t = (int)cdiv(nlast_cols, L), nlast_t = (int)(nlast_cols - (int64_t)(nv_t - 1) * L);

  /* K blocks: a B block of ~64 KB stays near L1 while a task walks down its rows (f16/bf16:
   * unblocked, no rounded partial sums) */
  int64_t ka = s->k_align > 1 ? s->k_align : 1;
  if (bf && ka % 2) ka *= 2; /* blocks start on a pair */
  int64_t kc = (int64_t)65536 / (int64_t)(s->nrp * (bf ? 2 : (int)es));
  if (kc < 16) kc = 16;
  kc = kc / ka * ka;
  if (kc < ka) kc = ka;
  if (s->dt == DT_FLOAT16 || s->dt == DT_BFLOAT16 || K <= kc + kc / 2) kc = K;
  int64_t nkb = cdiv(K, kc > 0 ? kc : 1);
  if (nkb > 1) { /* even blocks */
    kc = cdiv(cdiv(K, nkb), ka) * ka;
    nkb = cdiv(K, kc);
  }
  if (K == 0) nkb = 1, kc = 0;

  /* tasks: enough to balance a few threads; an M block keeps its A rows in L2 while the N panels
   * pass by, but stays tall enough to amortize packing B per task */
  int64_t nb = 1;
  for (int d = 0; d < s->nbd; d++) nb *= s->bdims[d];
  double flops = 2.0 * (double)nb * (double)M * (double)N * (double)(K ? K : 1);
  bool parallel = flops >= 1e6;
  int64_t mtiles = cdiv(M, mr), base = nb * npn, nmb = 1;
  int64_t desired = (int64_t)(flops / 2e6);
  if (desired > 16) desired = 16;
  if (parallel && desired < 2) desired = 2;
  if (parallel && base < desired) nmb = cdiv(desired, base);
  int64_t l2rows = (int64_t)(1 << 19) / ((K ? K : 1) * (int64_t)es);
  if (npn > 1 && cdiv(M, nmb) > l2rows) nmb = cdiv(M, l2rows > 1 ? l2rows : 1);
  /* packing B per task costs about one pass over the block per task: custom packers (im2col)
   * want tall M blocks, but at least a few tasks, and an even count when there are few */
  int64_t min_rows = runtime_b ? (s->pack ? 256 : 32) : 2 * mr;
  if (nmb > M / min_rows) nmb = M / min_rows;
  if (nmb < 1) nmb = 1;
  if (parallel && runtime_b && s->pack) {
    while (base * nmb < 4 && M / (nmb + 1) >= 64) nmb++;
    if (base * nmb < 16 && (base * nmb) % 2 && M / (2 * nmb) >= 64) nmb *= 2;
  }
  if (parallel) nmb = gemm_balance_mb(mtiles, nmb, M / min_rows, nb * npn, npn, nv, nv_t,
                                      runtime_b ? (s->pack ? 1.0 : 0.3) : 0);
  int64_t ngr = npn, npg = 1;
  bool pg = false, wts = false;
  if (!bf && ce == KE_F32 && s->dt == DT_FLOAT && !a_packed && s->b_const && !colt && nb == 1 && npn > 1 &&
      !gemm_cl_ok(s, s->b_const)) { /* weights as B: the schedules of weights_schedule */
    wts = true;
    pg = weights_schedule(s, kc, npn, parallel, &nmb, &ngr, &npg);
    if (!pg && parallel) nmb = gemm_balance_mb(mtiles, nmb, nmb + 1, npn, npn, nv, nv_t, 0);
  }
  int64_t mc_tiles = cdiv(mtiles, nmb);
  nmb = cdiv(mtiles, mc_tiles);
  int64_t mc = mc_tiles * mr;
  /* bf16 with a run-time A: a task converts its rows of A once for a group of npg panels (not
   * once per panel); about 4 tasks in all, an even count when it can */
  bool grp = (bf && !a_packed) || pg;
  if (grp && !pg) {
    ngr = parallel ? cdiv(4, nb * nmb) : 1;
    if (ngr > npn) ngr = npn;
    if (parallel && (nb * nmb * ngr) % 2 && ngr < npn) ngr++;
    npg = cdiv(npn, ngr);
    ngr = cdiv(npn, npg);
  }
  int64_t ntask = nb * nmb * ngr;
  c->work = parallel && ntask > 1 ? ntask : 1;
  /* constant packing; a clustered constant stays index panels (gen_cluster.h) */
  int64_t apst[GEMM_MAX_BD], bpst[GEMM_MAX_BD];
  int64_t namat = mat_strides(s, s->a_bs, apst), nbmat = mat_strides(s, s->b_bs, bpst);
  GemmCl acl, bcl;
  bool a_cl = a_packed && gemm_cl_ok(s, s->a_const), b_cl = !runtime_b && gemm_cl_ok(s, s->b_const);
  if (a_cl) pack_a_cl(kb, s, mr, namat, &acl);
  if (b_cl) pack_b_cl(kb, s, nbmat, npn, &bcl);
  KV apack = NULL, bpack = NULL;
  if (a_packed && !a_cl)
    apack = bf ? pack_host_bf16(kb, s, s->a_const, s->a_bs, namat, M, mr, s->a_rs, s->a_cs) : pack_a_host(kb, s, mr, namat);
  if (s->b_const && !b_cl)
    bpack = bf ? pack_host_bf16(kb, s, s->b_const, s->b_bs, nbmat, N, s->nrp, s->b_cs, s->b_rs)
               : pack_b_host(kb, s, nbmat, npn);
  /* scratch: the B block (packed or decoded), then a decoded A panel.  bf16: the B block's pairs,
   * then its f32 rows as the packer writes them (one more row for an odd block), then the task's
   * A rows converted (kps pairs apart) */
  int64_t kp = cdiv(K, 2), kpc = cdiv(kc, 2), kps = cdiv(kc, 32) * 16, stage_at = kpc * s->nrp * 4, abf_at = 0;
  int64_t sb = runtime_b ? kc * s->nrp * (int64_t)es + 64 : b_cl ? gemm_cl_scratch(&bcl, kc) : 0;
  if (bf) {
    sb = runtime_b ? stage_at + (kc + 1) * s->nrp * 4 + 64 : 0;
    abf_at = (sb + 63) / 64 * 64;
    if (!a_packed) sb = abf_at + mc * kps * 4 + 64;
  }
  int64_t sa = a_cl ? (sb + 63) / 64 * 64 : 0;
  if (a_cl) sb = sa + gemm_cl_scratch(&acl, kc);
  if (sb > c->scratch_bytes) c->scratch_bytes = sb;

  KV t = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  KV np = kb_rem(kb, t, I(kb, ngr), true); /* grp: the panel group, the panel comes below */
  KV rest = kb_div(kb, t, I(kb, ngr), true);
  KV mb = kb_rem(kb, rest, I(kb, nmb), true);
  KV b = kb_div(kb, rest, I(kb, nmb), true);
  /* batch offsets */
  KV bidx[GEMM_MAX_BD];
  KV aoff = I(kb, 0), boff = I(kb, 0), coff = I(kb, 0), biasoff = I(kb, 0), amat = I(kb, 0), bmat = I(kb, 0), resoff = I(kb, 0);
  for (int d = s->nbd - 1; d >= 0; d--) {
    KV idx = d > 0 ? kb_rem(kb, b, I(kb, s->bdims[d]), true) : b;
    if (d > 0) b = kb_div(kb, b, I(kb, s->bdims[d]), true);
    bidx[d] = idx;
    aoff = kb_add(kb, aoff, kb_mul(kb, idx, I(kb, s->a_bs[d])));
    boff = kb_add(kb, boff, kb_mul(kb, idx, I(kb, s->b_bs[d])));
    coff = kb_add(kb, coff, kb_mul(kb, idx, I(kb, s->c_bs[d])));
    if (s->bias) biasoff = kb_add(kb, biasoff, kb_mul(kb, idx, I(kb, s->bias_bs[d])));
    if (s->res) resoff = kb_add(kb, resoff, kb_mul(kb, idx, I(kb, s->res_bs[d])));
    amat = kb_add(kb, amat, kb_mul(kb, idx, I(kb, apst[d])));
    bmat = kb_add(kb, bmat, kb_mul(kb, idx, I(kb, bpst[d])));
  }
  KV m0 = kb_mul(kb, mb, I(kb, mc));
  KElem se = kb_elem_of(s->dt);
  KV pc = NULL, k0 = I(kb, 0), klen = I(kb, K), abf = NULL, p0 = NULL;
  if (grp) { /* K blocks, (bf16) this task's A rows converted, then the group's panels */
    if (nkb > 1) {
      pc = kb_for(kb, I(kb, 0), I(kb, nkb), 1);
      k0 = kb_mul(kb, pc, I(kb, kc));
      klen = kb_min(kb, I(kb, kc), kb_sub(kb, I(kb, K), k0), false);
    }
    if (bf) {
      KV rows = nmb > 1 ? kb_min(kb, I(kb, mc), kb_sub(kb, I(kb, M), m0), false) : I(kb, M);
      KV a0 = kb_add(kb, aoff, kb_mul(kb, k0, I(kb, s->a_cs)));
      if (nmb > 1) a0 = kb_add(kb, a0, kb_mul(kb, m0, I(kb, s->a_rs)));
      abf = kb_gep_bytes(kb, kb_scratch(kb), I(kb, abf_at));
      bf16_a_rows(kb, s, kb_gep(kb, se, s->a, a0), rows, klen, kps, abf);
    }
    p0 = kb_mul(kb, np, I(kb, npg));
    np = kb_for(kb, p0, kb_min(kb, kb_add(kb, p0, I(kb, npg)), I(kb, npn), false), 1);
  }
  KV n0 = kb_mul(kb, np, I(kb, s->nrp));
  KV cbase = kb_gep(kb, se, s->c, kb_add(kb, coff, n0));
  KV biasbase = s->bias ? kb_gep(kb, se, s->bias, kb_add(kb, biasoff, kb_mul(kb, n0, I(kb, s->bias_cs)))) : NULL;
  /* bf16: B panels of kp·nrp pairs (bf16 elements), A panels of kp·mr pairs (i32 elements) */
  KElem be = bf ? KE_BF16 : ce, ae = bf ? KE_I32 : ce;
  int64_t kpanel = bf ? 2 * kp : K, kapanel = bf ? kp : K;
  KV bpanel = bpack ? kb_gep(kb, be, bpack, kb_mul(kb, kb_add(kb, kb_mul(kb, bmat, I(kb, npn)), np), I(kb, kpanel * s->nrp)))
                    : NULL;
  KV apanel = apack ? kb_gep(kb, ae, apack, kb_mul(kb, amat, I(kb, cdiv(M, mr) * kapanel * mr))) : NULL;

  if (nkb > 1 && !grp) {
    pc = kb_for(kb, I(kb, 0), I(kb, nkb), 1);
    k0 = kb_mul(kb, pc, I(kb, kc));
    klen = kb_min(kb, I(kb, kc), kb_sub(kb, I(kb, K), k0), false);
  }
  RowsCtx r;
  memset(&r, 0, sizeof r);
  r.t.c = c;
  r.t.s = s;
  r.t.a_packed = a_packed;
  r.t.ars = a_packed ? 1 : bf ? kps : s->a_rs;
  r.t.acs = a_packed ? mr : bf ? 1 : s->a_cs;
  r.t.klen = bf ? kb_div(kb, kb_add(kb, klen, I(kb, 1)), I(kb, 2), true) : klen; /* bf16: pairs */
  if (nkb > 1) {
    r.t.first = kb_cmp(kb, KC_EQ, pc, I(kb, 0), false);
    r.t.last = kb_cmp(kb, KC_EQ, pc, I(kb, nkb - 1), false);
  }
  bool tail = nv_t != nv || nlast_t != L;
  /* a raw f32 B (a pointwise conv's input, a MatMul's run-time B) is read in place by the full
     panels: row k of the panel at B + (k0 + k)·b_rs + n0 */
  bool direct_b = runtime_b && !s->pack && !bf && s->b_cs == 1 && s->dt == DT_FLOAT && !colt && (npn > 1 || !tail);
  KV bdirect = direct_b ? kb_gep(kb, KE_F32, s->b, kb_add(kb, kb_add(kb, boff, kb_mul(kb, k0, I(kb, s->b_rs))), n0)) : NULL;
  if (direct_b) {
    r.t.bptr = bdirect;
    r.t.ldb = s->b_rs;
  } else if (runtime_b) {
    KV dst = kb_scratch(kb), stage = bf ? kb_gep_bytes(kb, dst, I(kb, stage_at)) : dst;
    if (s->pack) s->pack(c, s, bidx, k0, klen, n0, stage, s->pack_ud);
    else pack_b_raw(c, s, boff, k0, klen, n0, stage);
    if (bf) bf16_pair_rows(kb, s, stage, klen, dst);
    r.t.bptr = dst;
  } else if (b_cl)
    r.t.bptr = gemm_cl_decode(kb, &bcl, kb_add(kb, kb_mul(kb, bmat, I(kb, npn)), np), k0, klen, kb_scratch(kb));
  else /* bf16: pair k0/2 starts at (k0/2)·nrp·2 = k0·nrp elements too */
    r.t.bptr = kb_gep(kb, be, bpanel, kb_mul(kb, k0, I(kb, s->nrp)));
  if (wts && bpack && !tail) {
    /* Weights stream from DRAM (a model's weights do not stay in cache between runs): the
     * task's next B block is prefetched a share per M tile while this block's tiles run, so the
     * first tile does not wait on DRAM.  Panels: the next block follows this one in the packed
     * panels (the next K block, or the next panel); groups: the next panel of the group at k0,
     * after the group's last panel the group's first at the next K block. */
    KV next = kb_mul(kb, klen, I(kb, s->nrp));
    if (pg) {
      KV pend = kb_min(kb, kb_add(kb, p0, I(kb, npg)), I(kb, npn), false);
      KV wrap = kb_add(kb, kb_mul(kb, kb_sub(kb, p0, np), I(kb, K * s->nrp)), next);
      next = kb_select(kb, kb_cmp(kb, KC_LT, kb_add(kb, np, I(kb, 1)), pend, false), I(kb, K * s->nrp), wrap);
    }
    r.t.pf = kb_gep(kb, KE_F32, r.t.bptr, next);
    int64_t lines = cdiv(kc * s->nrp, 16), iters = kc / 4 > 0 ? kc / 4 : 1; /* 16 floats a line */
    r.t.pf_lpt = cdiv(lines, mc_tiles);
    r.t.pf_ppi = (int)cdiv(r.t.pf_lpt, iters);
    if (r.t.pf_ppi > 4) r.t.pf = NULL;
  }
  if (a_cl) {
    r.acl = &acl;
    r.apanel0 = kb_mul(kb, amat, I(kb, cdiv(M, mr)));
    r.k0 = k0;
    r.ascr = kb_gep_bytes(kb, kb_scratch(kb), I(kb, sa));
  }
  r.m0 = nmb > 1 ? m0 : NULL;
  r.mc = mc;
  if (a_packed && bf) r.abase = kb_gep(kb, KE_I32, apanel, kb_mul(kb, kb_div(kb, k0, I(kb, 2), true), I(kb, mr)));
  else if (a_packed) r.abase = apanel ? kb_gep(kb, ce, apanel, kb_mul(kb, k0, I(kb, mr))) : NULL;
  else if (grp && bf) { /* this task's rows of the A block, converted above */
    r.abase = abf;
    r.abf_m0 = nmb > 1 ? m0 : NULL;
  } else r.abase = kb_gep(kb, se, s->a, kb_add(kb, aoff, kb_mul(kb, k0, I(kb, s->a_cs))));
  if (apf_on(s, apack, bf, namat * cdiv(M, mr) * K * mr * (int64_t)es)) {
    KV first = nmb > 1 ? kb_mul(kb, kb_div(kb, m0, I(kb, mr), true), I(kb, K * mr)) : I(kb, 0);
    r.apf_wrap = kb_add(kb, first, kb_mul(kb, klen, I(kb, mr)));
    int64_t kcx = nkb > 1 ? kc : K, iters = kcx / 4 > 0 ? kcx / 4 : 1;
    r.apf_lines = cdiv(kcx * mr, 16);
    r.apf_ppi = (int)cdiv(r.apf_lines, iters);
    if (r.apf_ppi > 4) r.apf_wrap = NULL;
  }
  r.cbase = cbase;
  r.biasbase = biasbase;
  r.resbase = s->res ? kb_gep(kb, se, s->res, kb_add(kb, resoff, n0)) : NULL;
  if (colt) { /* one panel: nv - 1 vectors and colt columns */
    r.t.colt = colt;
    emit_rows(&r, nv - 1, L);
  } else if (!tail) emit_rows(&r, nv, L);
  else if (npn == 1) emit_rows(&r, nv_t, nlast_t);
  else {
    kb_if(kb, kb_cmp(kb, KC_EQ, np, I(kb, npn - 1), false));
    if (direct_b) { /* the last, partial panel is packed (masked loads) */
      pack_b_raw(c, s, boff, k0, klen, n0, kb_scratch(kb));
      r.t.bptr = kb_scratch(kb);
      r.t.ldb = 0;
    }
    emit_rows(&r, nv_t, nlast_t);
    kb_else(kb);
    if (direct_b) r.t.bptr = bdirect, r.t.ldb = s->b_rs;
    emit_rows(&r, nv, L);
    kb_endif(kb);
  }
  if (grp) kb_endfor(kb); /* the group's panels */
  if (nkb > 1) kb_endfor(kb);
  kb_endfor(kb);
}

/* ---- one tile inside a caller's task (gen_winograd.c) ---- */
void gemm_tile_shape(GenCtx *c, GemmSpec *s, int nv) {
  s->ce = contract_elem(s->dt);
  s->lanes = kb_lanes(c->kb, s->ce);
  s->nv = nv;
  s->nrp = nv * s->lanes;
  s->mr = mr_for(c->target, nv, s->ce);
  if (s->mr > s->M) s->mr = (int)s->M;
}

void gemm_emit_packed_tile(GenCtx *c, const GemmSpec *s, int mr, KV apanel, KV bptr, KV cptr, KV pf) {
  TileCtx t;
  memset(&t, 0, sizeof t);
  if (pf && s->K >= 16) { /* the caller's next A panel (K · s->mr floats), over this tile's K loop */
    t.pf = pf;
    t.pf_tile = I(c->kb, 0);
    t.pf_lpt = cdiv(s->K * s->mr, 16);
    t.pf_ppi = (int)cdiv(t.pf_lpt, s->K / 4);
    if (t.pf_ppi > 4) t.pf = NULL;
  }
  t.c = c;
  t.s = s;
  t.a_packed = true;
  t.ars = 1;
  t.acs = s->mr;
  t.bptr = bptr;
  t.klen = I(c->kb, s->K);
  emit_tile(&t, mr, s->nv, s->lanes, apanel, cptr, NULL, NULL);
}

/* ---- int8 GEMM (Q8Spec in gen_contract.h) ----
 * The fp32 engine's shape: MR × NV i32 accumulator vectors, B panels of NRP columns in scratch,
 * A as broadcasts — but each step is one k group of 4 bytes: a broadcast i32 of A's 4 weights
 * and a 4L-byte B vector, one kb_dot4_u8s8.  No K blocking: a panel is ceil(K/4)·NRP·4 bytes
 * (≤ 288 KB for K = 4608, NRP = 64), walked once per row tile while it sits in L2. */

/* A → [group][M/mr panels][ngk][mr][4] bytes, zero padded */
static KV q8_pack_a(KB *kb, const Q8Spec *s) {
  int64_t nmp = cdiv(s->M, s->mr), per = nmp * s->ngk * s->mr * 4;
  size_t bytes = (size_t)(s->ngroups * per);
  int8_t *buf = calloc(bytes ? bytes : 1, 1);
  if (!buf) ir_oom();
  for (int64_t gi = 0; gi < s->ngroups; gi++)
    for (int64_t i = 0; i < s->M; i++)
      for (int64_t k = 0; k < s->K; k++)
        buf[gi * per + (((i / s->mr) * s->ngk + k / 4) * s->mr + i % s->mr) * 4 + k % 4] = s->a[(gi * s->M + i) * s->K + k];
  KV p = kb_weight(kb, buf, bytes);
  free(buf);
  return p;
}

typedef struct Q8Tile {
  const Q8Spec *s;
  KV bptr, cbase, corr, mult;     /* corr/mult: this group's rows */
  KV rbase;                       /* the fused residual at the task's C position (NULL: none) */
  KV vmask[8];                    /* per vector of columns: its mask in the last panel (NULL: full) */
  int nvt, rc;                    /* vectors of columns computed, then remainder columns (the last panel) */
  int vtail;                      /* columns in the last of the nvt vectors when it is masked (0: full) */
  int pf;                         /* full tiles prefetch the A panel pf tiles ahead (0: none) */
  bool clamp;                     /* scaled values might leave lrint's range: clamp them first */
} Q8Tile;

/* The epilogue's last step is kb_requant_bytes: the row's nv vectors rounded to nearest even,
 * the zero point added and saturated to bytes together (on AVX-512BW: vcvtps2dq per vector, then
 * two vpackssdw, vpaddsw, one vpackuswb and one vpermd for all four, one 64-byte store: 4 + 5
 * operations for 64 outputs where a round, add, two clamps and a two-uop vpmovdb per vector took
 * 24).  A saturation range narrower than the byte's (a fused Relu) is one byte max / min after.
 * Sums whose scaled value could reach 2^31 (lrint's range) are clamped first; gemm_emit_q8 proves
 * the bound for every real model (|corr| + K·255·128 times the largest mult). */
static KV q8_clamp(KB *kb, KV t, double lo, double hi) {
  KT ft = kb_type(kb, t);
  return kb_min(kb, kb_max(kb, t, kb_float(kb, ft, lo), false), kb_float(kb, ft, hi), false);
}

/* n f32 vectors (the row's outputs before rounding) → n·L bytes: + zp, saturated to [lo, hi] */
static KV q8_bytes(KB *kb, const Q8Spec *s, KV *f, int n, int64_t zp, int64_t lo, int64_t hi, bool clamp) {
  bool u8 = s->ct == DT_UINT8;
  KT ft = kb_type(kb, f[0]);
  if (clamp)
    for (int j = 0; j < n; j++) f[j] = q8_clamp(kb, f[j], -1048576.0, 1048576.0);
  KV y = kb_requant_bytes(kb, f, n, (int)zp, u8);
  KT bt = kt(KE_I8, n * ft.lanes);
  if (lo > (u8 ? 0 : -128)) y = kb_max(kb, y, kb_int(kb, bt, lo), u8);
  if (hi < (u8 ? 255 : 127)) y = kb_min(kb, y, kb_int(kb, bt, hi), u8);
  return y;
}

/* f (the conv's scaled sum) → the fused residual add's output before its rounding: the conv's
 * own value minus its zero point, t = clamp(round(f), qmin - zc, qmax - zc) (= q - zc, q its
 * requantized byte), then fma(R - zr, kr, t·ka) — fma(t, ka, (R - zr)·kr) when R was the add's
 * first operand; rounded, + zo and saturated to [amin, amax] by q8_bytes: as QAdd computes it
 * (gen_quant.c's qadd_fn: the same float operations on the same values, so the fused result is
 * bit-identical to the two nodes; zc = zy). */
static KV q8_residual_of(KB *kb, const Q8Spec *s, KV f, KV r) {
  KT ft = kb_type(kb, f);
  r = kb_cast(kb, r, ft, s->rt == DT_UINT8, false);
  KV t = q8_clamp(kb, kb_round_even(kb, f), (double)s->qmin - s->zc, (double)s->qmax - s->zc);
  KV rz = kb_sub(kb, r, kb_float(kb, ft, s->zr)), ka = kb_float(kb, ft, s->ka), kr = kb_float(kb, ft, s->kr);
  /* QAdd(A, B) sums fma(B - zb, kb, (A - za)·ka): which of the two the conv was decides the order */
  return s->res_first ? kb_fma(kb, t, ka, kb_mul(kb, rz, kr)) : kb_fma(kb, rz, kr, kb_mul(kb, t, ka));
}

/* ... with R read as C's vector at off (masked to mask when not NULL) */
static KV q8_residual(KB *kb, const Q8Tile *t, KV u, KV off, KV mask) {
  KT bt = kt(KE_I8, kb_type(kb, u).lanes);
  KV at = kb_gep(kb, KE_I8, t->rbase, off);
  return q8_residual_of(kb, t->s, u, mask ? kb_load_masked(kb, bt, at, mask, NULL) : kb_load(kb, bt, at));
}

/* the epilogue's bytes of n vectors f (a residual's outputs when s->res) */
static KV q8_out_bytes(KB *kb, const Q8Tile *t, KV *f, int n) {
  const Q8Spec *s = t->s;
  if (s->res) return q8_bytes(kb, s, f, n, (int64_t)s->zo, s->amin, s->amax, t->clamp);
  return q8_bytes(kb, s, f, n, s->zy, s->qmin, s->qmax, t->clamp);
}

static void q8_rc_store(KB *kb, const Q8Tile *t, int mr, KV m, const KVar *racc, KV cm);

/* rows [m, m + mr) × the panel's first nvt vectors, then its rc remainder columns: accumulate
 * over every k group, requantize, store */
static void q8_tile(KB *kb, const Q8Tile *t, int mr, KV apanel, KV m) {
  const Q8Spec *s = t->s;
  int L = s->lanes, nv = t->nvt, rc = t->rc;
  KT it = kt(KE_I32, L), bt = kt(KE_I8, 4 * L), ft = kt(KE_F32, L);
  /* the accumulators start at the row's corr (the bias and zero point terms): no add per vector
   * in the epilogue (the same i32 sums, wrapping) */
  KVar acc[32], racc[8];
  for (int i = 0; i < mr; i++) {
    KV corr = kb_splat(kb, kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, t->corr, kb_add(kb, m, I(kb, i)))), L);
    for (int v = 0; v < nv; v++) acc[i * nv + v] = kb_var(kb, it, corr);
  }
  KV cm = rc ? kb_tail_mask(kb, L, I(kb, mr)) : NULL;
  if (rc) {
    KV corr = kb_load_masked(kb, it, kb_gep(kb, KE_I32, t->corr, m), cm, NULL);
    for (int r = 0; r < rc; r++) racc[r] = kb_var(kb, it, corr);
  }
  KV rmask = rc && s->mr < L ? kb_tail_mask(kb, L, I(kb, s->mr)) : NULL;
  KV g = kb_for(kb, I(kb, 0), I(kb, s->ngk), 1);
  KV bv[8];
  for (int v = 0; v < nv; v++)
    bv[v] = kb_load(kb, bt, kb_gep(kb, KE_I8, t->bptr, kb_mul(kb, kb_add(kb, kb_mul(kb, g, I(kb, s->nv)), I(kb, v)), I(kb, 4 * L))));
  KV arow = kb_gep(kb, KE_I32, apanel, kb_mul(kb, g, I(kb, s->mr)));
  if (t->pf && mr == s->mr) {
    int64_t panel = s->ngk * s->mr * 4, lines = cdiv(panel, 64);
    KV line = kb_min(kb, g, I(kb, lines - 1), true);
    kb_prefetch(kb, kb_gep(kb, KE_I8, apanel, kb_add(kb, I(kb, t->pf * panel), kb_mul(kb, line, I(kb, 64)))));
  }
  for (int i = 0; i < mr; i++) {
    KV a = kb_bitcast(kb, kb_splat(kb, kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, arow, I(kb, i))), L), bt);
    for (int v = 0; v < nv; v++) kb_set(kb, acc[i * nv + v], kb_dot4_u8s8(kb, kb_get(kb, acc[i * nv + v]), bv[v], a));
  }
  if (rc) {
    /* the panel's mr rows × 4 k of this group as one vector (row i in lane i), times a column's
     * 4 bytes broadcast: one dot product per remainder column gives its mr outputs */
    KV av = rmask ? kb_load_masked(kb, it, arow, rmask, NULL) : kb_load(kb, it, arow);
    av = kb_bitcast(kb, av, bt);
    KV col = kb_gep(kb, KE_I32, t->bptr, kb_add(kb, kb_mul(kb, g, I(kb, s->nrp)), I(kb, (int64_t)nv * L)));
    for (int r = 0; r < rc; r++) {
      KV b = kb_bitcast(kb, kb_splat(kb, kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, col, I(kb, r))), L), bt);
      kb_set(kb, racc[r], kb_dot4_u8s8(kb, kb_get(kb, racc[r]), b, av));
    }
  }
  kb_endfor(kb);
  /* a row's nv vectors requantized together, one store (masked in the last panel's tail) */
  KV smask = nv && t->vtail ? kb_tail_mask(kb, nv * L, I(kb, (int64_t)(nv - 1) * L + t->vtail)) : NULL;
  for (int i = 0; i < mr && nv; i++) {
    KV row = kb_add(kb, m, I(kb, i));
    KV mult = kb_splat(kb, kb_load(kb, kt_s(KE_F32), kb_gep(kb, KE_F32, t->mult, row)), L);
    KV off = kb_mul(kb, row, I(kb, s->ldc)), f[8];
    for (int v = 0; v < nv; v++) {
      f[v] = kb_mul(kb, kb_cast(kb, kb_get(kb, acc[i * nv + v]), ft, false, false), mult);
      if (s->res) f[v] = q8_residual(kb, t, f[v], kb_add(kb, off, I(kb, (int64_t)v * L)), t->vmask[v]);
    }
    gen_vstore(kb, q8_out_bytes(kb, t, f, nv), kb_gep(kb, KE_I8, t->cbase, off), smask);
  }
  if (rc) q8_rc_store(kb, t, mr, m, racc, cm);
}

/* the remainder columns: lane i is row m + i (lanes from mr on unused), so corr and mult are
 * vectors and C / R are read and written a byte per row, ldc apart */
static void q8_rc_store(KB *kb, const Q8Tile *t, int mr, KV m, const KVar *racc, KV cm) {
  const Q8Spec *s = t->s;
  int L = s->lanes, nv = t->nvt, rc = t->rc;
  KT ft = kt(KE_F32, L);
  KV mult = kb_load_masked(kb, ft, kb_gep(kb, KE_F32, t->mult, m), cm, NULL);
  KT bl = kt(KE_I8, L);
  for (int r = 0; r < rc; r++) {
    KV f = kb_mul(kb, kb_cast(kb, kb_get(kb, racc[r]), ft, false, false), mult);
    KV at0 = kb_add(kb, kb_mul(kb, m, I(kb, s->ldc)), I(kb, (int64_t)nv * L + r));
    if (s->res) {
      KV rv = kb_int(kb, bl, 0);
      for (int i = 0; i < mr; i++)
        rv = kb_insert(kb, rv, kb_load(kb, kt_s(KE_I8), kb_gep(kb, KE_I8, t->rbase, kb_add(kb, at0, I(kb, i * s->ldc)))), i);
      f = q8_residual_of(kb, s, f, rv);
    }
    KV y = q8_out_bytes(kb, t, &f, 1);
    for (int i = 0; i < mr; i++) kb_store(kb, kb_extract(kb, y, i), kb_gep(kb, KE_I8, t->cbase, kb_add(kb, at0, I(kb, i * s->ldc))));
  }
}

/* The last panel when it is remainder columns only (ResNet-50's 14×14 = 12·16 + 4 pixels): one
 * tile there is rc dot-product chains, each step waiting on the last one's latency (10% of a
 * layer3 conv's time for 2% of its work).  np full tiles at once, rows [m, m + np·mr), share the
 * columns' broadcasts and keep np·rc chains in flight. */
#define Q8_RC_CHAINS 12
#define Q8_RC 4
static void q8_rc_tiles(KB *kb, const Q8Tile *t, int np, KV apanel, KV m) {
  const Q8Spec *s = t->s;
  int L = s->lanes, mr = s->mr, rc = t->rc;
  int64_t panel = s->ngk * mr * 4;
  KT it = kt(KE_I32, L), bt = kt(KE_I8, 4 * L);
  KV cm = kb_tail_mask(kb, L, I(kb, mr)), rmask = mr < L ? cm : NULL;
  KVar racc[4 * Q8_RC_CHAINS];
  for (int p = 0; p < np; p++) {
    KV corr = kb_load_masked(kb, it, kb_gep(kb, KE_I32, t->corr, kb_add(kb, m, I(kb, (int64_t)p * mr))), cm, NULL);
    for (int r = 0; r < rc; r++) racc[p * rc + r] = kb_var(kb, it, corr);
  }
  KV g = kb_for(kb, I(kb, 0), I(kb, s->ngk), 1);
  KV col = kb_gep(kb, KE_I32, t->bptr, kb_mul(kb, g, I(kb, s->nrp)));
  KV b[Q8_RC];
  for (int r = 0; r < rc; r++) b[r] = kb_bitcast(kb, kb_splat(kb, kb_load(kb, kt_s(KE_I32), kb_gep(kb, KE_I32, col, I(kb, r))), L), bt);
  for (int p = 0; p < np; p++) {
    KV arow = kb_gep(kb, KE_I32, kb_gep(kb, KE_I8, apanel, I(kb, p * panel)), kb_mul(kb, g, I(kb, mr)));
    KV av = kb_bitcast(kb, rmask ? kb_load_masked(kb, it, arow, rmask, NULL) : kb_load(kb, it, arow), bt);
    for (int r = 0; r < rc; r++) kb_set(kb, racc[p * rc + r], kb_dot4_u8s8(kb, kb_get(kb, racc[p * rc + r]), b[r], av));
  }
  kb_endfor(kb);
  for (int p = 0; p < np; p++) q8_rc_store(kb, t, mr, kb_add(kb, m, I(kb, (int64_t)p * mr)), racc + p * rc, cm);
}

KV gen_q8_bytes(KB *kb, KV f) {
  KT ft = kb_type(kb, f);
  KV m = kb_bitcast(kb, kb_add(kb, f, kb_float(kb, ft, 12582912.0)), kt(KE_I32, ft.lanes));
  return kb_cast(kb, m, kt(KE_I8, ft.lanes), false, false);
}

/* every row tile of one group over one packed panel */
static void q8_rows(KB *kb, const Q8Tile *t, KV apack) {
  const Q8Spec *s = t->s;
  int64_t full = s->M - s->M % s->mr, panel = s->ngk * s->mr * 4;
  if (full && !t->nvt && t->rc) { /* remainder columns only: np tiles at a time */
    int np = (Q8_RC_CHAINS + t->rc - 1) / t->rc;
    int64_t nt = full / s->mr, most = nt / np * np * s->mr;
    if (most) {
      KV m = kb_for(kb, I(kb, 0), I(kb, most), (int64_t)np * s->mr);
      q8_rc_tiles(kb, t, np, kb_gep(kb, KE_I8, apack, kb_mul(kb, kb_div(kb, m, I(kb, s->mr), true), I(kb, panel))), m);
      kb_endfor(kb);
    }
    if (nt % np) q8_rc_tiles(kb, t, (int)(nt % np), kb_gep(kb, KE_I8, apack, I(kb, most / s->mr * panel)), I(kb, most));
  } else if (full) {
    KV m = kb_for(kb, I(kb, 0), I(kb, full), s->mr);
    q8_tile(kb, t, s->mr, kb_gep(kb, KE_I8, apack, kb_mul(kb, kb_div(kb, m, I(kb, s->mr), true), I(kb, panel))), m);
    kb_endfor(kb);
  }
  if (s->M % s->mr) q8_tile(kb, t, (int)(s->M % s->mr), kb_gep(kb, KE_I8, apack, I(kb, full / s->mr * panel)), I(kb, full));
}

/* rows per tile for nv vectors of columns (without VNNI the dot product widens through
 * temporaries: leave them registers) */
static int q8_mr(const GenCtx *c, const Q8Spec *s, int nv) {
  int spare = c->target->has_vnni ? 0 : 2 + nv;
  int mr = (regs_of(c->target) - nv - 1 - spare) / nv;
  if (mr > 16) mr = 16;
  if (mr < 1) mr = 1;
  if (mr > s->M) mr = (int)s->M;
  return mr;
}

/* The last panel's tail columns past its whole vectors: up to Q8_RC of them are remainder
 * columns, each one dot product per k group for all mr rows of a tile (rows in lanes), instead
 * of a vector of L columns padded (layer4 of ResNet-50: 49 = 3·16 + 1 pixels; layer3: 196 =
 * 12·16 + 4).  Needs the tile's rows to fit a vector, and registers: the last panel has at most
 * nv - 1 whole vectors, which frees mr accumulators for rc of them + the rows' vector. */
static int q8_rc_max(int L, int mr) {
  if (mr > L) return 0;
  return mr - 1 < Q8_RC ? mr - 1 : Q8_RC;
}

/* whether every scaled value the epilogue rounds stays within ±2^30 (lrint's range with room):
 * |corr| + K·255·128 times the row's |mult|, and for a residual add its two products' bounds */
static bool q8_in_range(const Q8Spec *s) {
  double lim = 1073741824.0;
  for (int64_t r = 0; r < s->ngroups * s->M; r++) {
    double f = fabs((double)s->mult[r]) * (fabs((double)s->corr[r]) + (double)s->K * 255.0 * 128.0);
    if (!(f < lim)) return false;
  }
  if (!s->res) return true;
  double t = fmax(fabs((double)s->qmin - s->zc), fabs((double)s->qmax - s->zc));
  double y = t * fabs((double)s->ka) + (255.0 + fabs((double)s->zr)) * fabs((double)s->kr);
  return y < lim;
}

/* Weights too large to stay in L2 between their uses (ResNet-50's layer4: 1-2.4 MB, walked once
 * by its one task of 49 pixels) stream from memory: each full row tile prefetches the next tile's
 * A panel, one 64-byte line per k group (the panel's first lines first; a tile has ngk groups
 * and its panel ngk·mr·4 bytes, so the whole next panel is requested within the first 4·mr/64 of
 * the tile) — the next tile starts on cached weights.  Smaller A stays in L2 across its tasks and
 * the prefetches would only take load slots (layer1/2 convs measured 1-5% slower with them). */
#define Q8_STREAM_A_BYTES (256 * 1024)
static int q8_streams_a(const Q8Spec *s) {
  return s->ngroups * s->M * s->ngk * 4 >= Q8_STREAM_A_BYTES ? 1 : 0;
}

void gemm_emit_q8(GenCtx *c, Q8Spec *s) {
  KB *kb = c->kb;
  int L = kb_lanes(kb, KE_I32);
  s->lanes = L;
  /* the fewest padded columns, preferring wide tiles (as gemm_emit); a remainder column costs
   * L / mr columns (one dot product for mr rows, against mr per vector of L) */
  static const double eff[5] = {0, 0.7, 0.96, 0.98, 1.0};
  double best = 1e30;
  s->nv = 1;
  for (int v = 1; v <= 4; v++) {
    int64_t nrp = (int64_t)v * L, tail = s->N % nrp, rc = tail % L;
    int mr = q8_mr(c, s, v);
    double cols = (double)(s->N / nrp * nrp + tail / L * L);
    if (rc && rc <= q8_rc_max(L, mr)) cols += (double)rc * L / mr;
    else if (rc) cols += L;
    double cost = cols / (double)s->N / eff[v];
    if (cost < best - 1e-9) best = cost, s->nv = v;
    if ((int64_t)v * L >= s->N) break;
  }
  s->mr = q8_mr(c, s, s->nv);
  s->nrp = s->nv * L;
  s->ngk = cdiv(s->K, 4);
  int64_t npn = cdiv(s->N, s->nrp), ntask = s->nbatch * npn;
  double macs = (double)s->nbatch * (double)s->M * (double)s->N * (double)s->K;
  c->work = macs >= 1e6 && ntask > 1 ? ntask : 1;
  int64_t sb = s->ngk * s->nrp * 4 + s->pack_extra + 64;
  if (sb > c->scratch_bytes) c->scratch_bytes = sb;
  KV apack = q8_pack_a(kb, s);
  KV corr = kb_weight(kb, s->corr, sizeof(int32_t) * (size_t)(s->ngroups * s->M));
  KV mult = kb_weight(kb, s->mult, sizeof(float) * (size_t)(s->ngroups * s->M));

  KV task = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  KV b = kb_div(kb, task, I(kb, npn), true);
  KV n0 = kb_mul(kb, kb_rem(kb, task, I(kb, npn), true), I(kb, s->nrp));
  KV gi = kb_rem(kb, b, I(kb, s->ngroups), true);
  KV dst = kb_scratch(kb);
  s->pack(c, s, b, n0, dst, s->pack_ud);
  Q8Tile t = {.s = s, .bptr = dst, .nvt = s->nv, .pf = q8_streams_a(s), .clamp = !q8_in_range(s)};
  t.cbase = kb_gep(kb, kb_elem_of(s->ct), s->c, kb_add(kb, kb_mul(kb, b, I(kb, s->c_bs)), n0));
  if (s->res) t.rbase = kb_gep(kb, KE_I8, s->res, kb_add(kb, kb_mul(kb, b, I(kb, s->c_bs)), n0));
  t.corr = kb_gep(kb, KE_I32, corr, kb_mul(kb, gi, I(kb, s->M)));
  t.mult = kb_gep(kb, KE_F32, mult, kb_mul(kb, gi, I(kb, s->M)));
  KV ap = kb_gep(kb, KE_I8, apack, kb_mul(kb, gi, I(kb, cdiv(s->M, s->mr) * s->ngk * s->mr * 4)));
  int64_t tail = s->N % s->nrp;
  if (!tail) q8_rows(kb, &t, ap);
  else {
    /* the last panel: its whole vectors, then remainder columns or one more vector masked */
    kb_if(kb, kb_cmp(kb, KC_EQ, n0, I(kb, (npn - 1) * s->nrp), false));
    Q8Tile tl = t;
    int rc = (int)(tail % L);
    tl.nvt = (int)(tail / L);
    if (rc && rc <= q8_rc_max(L, s->mr)) tl.rc = rc;
    else if (rc) tl.vmask[tl.nvt] = kb_tail_mask(kb, L, I(kb, rc)), tl.nvt++, tl.vtail = rc;
    q8_rows(kb, &tl, ap);
    kb_else(kb);
    q8_rows(kb, &t, ap);
    kb_endif(kb);
  }
  kb_endfor(kb);
}
