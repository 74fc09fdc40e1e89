/* gen_cluster.h — clustered weights (Value.cluster, passes/cluster.c) kept compressed in kernels:
 * at most 16 codebook values, 4-bit indices, decoded in registers by a table lookup (kb_permute:
 * vpermps on AVX-512 with the codebook in one register).
 *
 * Index panels: a weight packed in panels of L output columns, contiguous along the reduction k
 * (gen_rnn.c's float layout), is stored as pairs of panels: for pair p and reduction index k one
 * byte per lane, its low nibble the index of panel 2p, its high nibble panel 2p + 1.  Pair p's
 * bytes are at (p·K + k)·L: a kernel reads L bytes per k for 2·L weights (one eighth of fp32). */
#ifndef ONNXC_GEN_CLUSTER_H
#define ONNXC_GEN_CLUSTER_H

#include "gen_util.h"

struct GemmSpec;

/* w (a constant) has a cluster form the nibble kernels take for vectors of L floats (k <= L,
 * L = 16: a pair's 16 bytes are one load widened to 16 i32 lanes, the lookup masks to 4 bits) */
bool gen_cluster_nibbles_ok(const Value *w, int L);
/* the codebook as a vector of L floats (zero padded), loaded from the weight blob */
KV gen_cluster_table(KB *kb, const IrCluster *c, int L);
/* the two panels of pair bytes at p (L bytes): values of panel 2p into *lo, 2p + 1 into *hi */
void gen_cluster_decode2(KB *kb, KV table, KV p, int L, KV *lo, KV *hi);

/* ---- 8-bit indices (k <= 256), one byte per weight: the GEMM engine's chunks and gen_rnn.c ---- */
/* w (a constant) is clustered float with at most 256 values */
bool gen_cluster_bytes_ok(const Value *w);
/* the codebook for gen_cluster_decode8: for k <= 2L (L = 16) two vectors (*table, *tab2), else
 * *table points to 256 floats in the weight blob and *tab2 is NULL */
void gen_cluster_tables8(KB *kb, const IrCluster *cl, int L, KV *table, KV *tab2);
/* L index bytes at p → L floats: two register lookups and a select on bit 4, or a gather */
KV gen_cluster_decode8(KB *kb, KV table, KV tab2, KV p, int L);

/* MatMul / Gemm (float, no batch dims, M <= 8) whose constant B is clustered with at most 16
 * values: a 4-bit GEMV-like kernel with the epilogue; false when it does not apply */
struct GemmSpec;
bool gemm_cluster_emit(GenCtx *c, struct GemmSpec *s);

/* ---- clustered constant operands of the GEMM engine (gen_gemm.c: Conv weights as A in MR-row
 * panels, MatMul/Gemm weights as B in NRP-column panels) ----
 * The operand is stored as index panels in the float panels' element order (e = k·P + lane):
 *   4-bit (k <= 16, L = 16): chunks of 2L elements in L bytes, element j < L in the low nibble of
 *          byte j, element L + j in its high nibble (decoded by gen_cluster_decode2);
 *   8-bit (k <= 256): one byte per element, chunks of L (decoded by a gather from the codebook,
 *          or for k <= 2L by two register lookups and a select).
 * Each panel is padded to whole chunks (index 0).  Per task (B) or tile (A) the K block the
 * microkernel reads is decoded into a float panel in scratch that stays in L1, so the weight
 * is read from memory at 1/8 (1/4) of its fp32 bytes and the microkernel is unchanged. */
typedef struct GemmCl {
  const IrCluster *cl;
  int L, bits, P; /* lanes of f32, index width, panel width (elements per k) */
  int64_t K, chunk, pbytes; /* elements per chunk, bytes per panel */
  KV idx, table;  /* index panels; codebook vector (4-bit, 8-bit k <= 2L: two, see tab2) or pointer */
  KV tab2;
} GemmCl;

/* w is a clustered float constant the engine can keep as indices (s: float compute) */
bool gemm_cl_ok(const struct GemmSpec *s, const Value *w);
/* host: start packing npanels panels of P lanes over K (returns the zeroed index buffer) */
uint8_t *gemm_cl_begin(GemmCl *g, KB *kb, const Value *w, int P, int64_t K, int64_t npanels);
/* host: panel p's lanes x < valid read w's indices at base + x·xs + k·ks */
void gemm_cl_panel(const GemmCl *g, uint8_t *buf, int64_t p, int64_t base, int64_t xs, int64_t ks, int64_t valid);
/* host: the buffer into the weight blob (freed), the codebook loaded */
void gemm_cl_end(GemmCl *g, KB *kb, uint8_t *buf, int64_t npanels);
/* run time: decode panel's elements [k0·P, (k0 + klen)·P) into dst (float scratch, at least
 * gemm_cl_scratch bytes); returns the float pointer of element k0·P (row k0 of the block) */
KV gemm_cl_decode(KB *kb, const GemmCl *g, KV panel, KV k0, KV klen, KV dst);
/* scratch bytes a decode of klen <= kc rows needs */
int64_t gemm_cl_scratch(const GemmCl *g, int64_t kc);
/* Conv: the weight is clustered and the GEMM engine keeps it so (then it skips Winograd, whose
 * transformed weights are floats) */
bool gen_cluster_conv_keeps(const GenCtx *c);

#endif
