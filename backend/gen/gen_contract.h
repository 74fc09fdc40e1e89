/* gen_contract.h — internals of the F_CONTRACT generators (gen_contract.c: MatMul, Gemm; gen_gemm.c;
 * gen_conv.c; gen_einsum.c).
 *
 * The GEMM engine (gen_gemm.c) emits a parallel loop over tasks = batch × M-blocks × N-panels:
 *
 *     C[b](i, j) = post(alpha · Σ_k A[b](i, k) · B[b](k, j) + beta · bias[b](i, j))
 *
 * A is read as broadcast scalars (raw strides, or packed at compile time into MR-row panels);
 * B is read as vectors from NR-wide panels: packed at compile time when constant, otherwise packed
 * per task into per-thread scratch (by a strided copy, or by a caller-supplied packer such as
 * im2col).  The microkernel keeps an MR × NR tile of accumulators in registers over a K block.
 * N <= 4 with A rows and B columns contiguous in k (e.g. matrix × vector) uses dot products
 * along K instead.  `post` is the hook for fused activations. */
#ifndef ONNXC_GEN_CONTRACT_H
#define ONNXC_GEN_CONTRACT_H

#include "gen_util.h"

#define GEMM_MAX_BD (IR_MAX_RANK + 2)

typedef struct GemmSpec GemmSpec;

/* Fills dst (klen rows of s->nrp compute-type elements, row stride nrp) with B(k0 + r, n0 + j) for
 * r < klen, j < nrp (columns >= N may hold anything finite).  bidx: the batch indices. */
typedef void (*GemmPackFn)(GenCtx *c, const GemmSpec *s, KV const *bidx, KV k0, KV klen, KV n0, KV dst,
                           void *ud);
/* optional epilogue hook applied to each result vector (compute type) before it is stored */
typedef KV (*GemmPostFn)(KB *kb, KV v, void *ud);

struct GemmSpec {
  DType dt; /* storage dtype of A, B, C (and bias) */
  int64_t M, N, K;
  int nbd;                      /* batch dims */
  int64_t bdims[GEMM_MAX_BD];
  /* A(i, k) at a + a_off(b) + i*a_rs + k*a_cs (elements); a_const: pack at compile time from it */
  KV a;
  const Value *a_const;
  int64_t a_rs, a_cs, a_bs[GEMM_MAX_BD];
  /* B(k, n) likewise; b_const: pack at compile time; pack: custom run-time packer (then b unused) */
  KV b;
  const Value *b_const;
  int64_t b_rs, b_cs, b_bs[GEMM_MAX_BD];
  GemmPackFn pack;
  void *pack_ud;
  int64_t k_align; /* custom packers: K blocks are multiples of this (0/1: any) */
  /* C(i, j) at c + c_off(b) + i*ldc + j */
  KV c;
  int64_t ldc, c_bs[GEMM_MAX_BD];
  /* epilogue */
  double alpha, beta;
  KV bias; /* NULL: none */
  int64_t bias_rs, bias_cs, bias_bs[GEMM_MAX_BD];
  GemmPostFn post;
  void *post_ud;
  /* fused epilogue (passes/fuse.c): res(i, j) at res + res_off(b) + i*res_rs + j (elements; NULL:
   * none) is added after the bias, then epi's activations run */
  const Epilogue *epi;
  KV res;
  int64_t res_rs, res_bs[GEMM_MAX_BD];
  /* chosen by gemm_emit (readable by packers) */
  int lanes, mr, nv, nrp;
  KElem ce; /* compute element type */
  /* --fp-mode bf16 (gemm_emit): fp32 operands rounded to bf16, summed in f32 by kb_dot2_bf16 over
   * pairs of k; packers still fill f32 rows, converted after them */
  bool bf16;
};

/* Emits the whole GEMM into the current kernel; sets c->work, c->scratch_bytes. */
void gemm_emit(GenCtx *c, GemmSpec *s);

/* For generators that run their own task loop (gen_winograd.c): the tile shape of s for nv
 * vectors of columns (sets ce, lanes, nv, nrp, and mr from the register file, at most s->M), and
 * one tile: C(i, j) = Σ_{k < s->K} A(i, k)·B(k, j) for i < mr, j < nrp, A packed as one MR panel
 * (A(i, k) at apanel[k*s->mr + i]), B rows at bptr + k*nrp, C rows at cptr + i*s->ldc (storage
 * dtype s->dt), no epilogue. */
void gemm_tile_shape(GenCtx *c, GemmSpec *s, int nv);
void gemm_emit_packed_tile(GenCtx *c, const GemmSpec *s, int mr, KV apanel, KV bptr, KV cptr, KV pf);
/* constant A (packed weights) of this many bytes streams from DRAM each run: its tiles prefetch
 * the next tile's A panel (gemm_emit_packed_tile's pf) */
bool gemm_a_streams(int64_t bytes);

/* ---- int8: u8 × s8 → s32 on the same tiling, requantized in the epilogue (gemm_emit_q8) ----
 * For each batch b: C(i, j) = sat(round(mult[r]·(Σ_k A(i, k)·B(k, j) + corr[r])) + zy) with
 * r = (b % ngroups)·M + i, saturated to [qmin, qmax] and stored as ct (uint8/int8).  A is constant
 * (host int8, ngroups matrices M × K, row-major), packed at compile time into MR-row panels in
 * groups of 4 k; B is u8, packed per task by pack into dst[(g·nrp + j)·4 + t] = B(4g + t, n0 + j)
 * (g < ceil(K/4); any value for k >= K, where A is zero padded).  The 4-byte groups feed
 * kb_dot4_u8s8 (vpdpbusd on AVX-512 VNNI). */
typedef struct Q8Spec Q8Spec;
typedef void (*Q8PackFn)(GenCtx *c, const Q8Spec *s, KV batch, KV n0, KV dst, void *ud);
struct Q8Spec {
  int64_t M, N, K, nbatch, ngroups;
  const int8_t *a;
  Q8PackFn pack;
  void *pack_ud;
  KV c;                 /* C(i, j) of batch b at c + b·c_bs + i·ldc + j */
  DType ct;
  int64_t ldc, c_bs;
  const int32_t *corr;  /* ngroups·M entries */
  const float *mult;
  int32_t zy;
  int64_t qmin, qmax;
  int64_t pack_extra;   /* scratch bytes the packer uses after its panel, at dst + ngk·nrp·4 */
  /* a fused residual add (NULL res: none): C = sat(round((q - zc)·ka + (R - zr)·kr) + zo) to
   * [amin, amax], q the requantized value above (saturated to [qmin, qmax]); R of dtype rt laid
   * out as C */
  KV res;
  DType rt;
  bool res_first;       /* R was the add's first operand (QAdd's fma order) */
  float zc, ka, zr, kr, zo;
  int64_t amin, amax;
  /* chosen by gemm_emit_q8 (readable by packers) */
  int lanes, nv, mr, nrp;
  int64_t ngk;          /* ceil(K/4) */
};
void gemm_emit_q8(GenCtx *c, Q8Spec *s);
/* f32 lanes holding integers in [-2^22, 2^22] → their low bytes (i8 lanes): adding 1.5·2^23 puts
 * the integer in the mantissa, read by a bitcast — kb_cast's saturating float → int conversion
 * has no vector instruction on x86 and becomes scalar code */
KV gen_q8_bytes(KB *kb, KV f);

/* gen_quant_mm.c: MatMulInteger / QLinearMatMul / QMatMul with u8 activations and a constant int8
 * weight of zero points 0 on the byte dot-product step, the dequantization or requantization in
 * the epilogue; gen_qmm_applies says whether the node has that form */
bool gen_qmm_applies(const GenCtx *c);
int gen_qmm(GenCtx *c);

/* gen_sparse.c: s (fp32, no batch dims, constant B) on the sparse kernel when its cost model says
 * it beats the dense engine (gemm_sparse_pays: nnz values stored in column groups of G sharing
 * their nonzero rows; L = lanes of f32); false: nothing emitted, run gemm_emit */
bool gemm_sparse_emit(GenCtx *c, GemmSpec *s);
bool gemm_sparse_pays(int64_t M, int64_t N, int64_t K, int64_t nnz, int G, int L);
/* tests only: true = the sparse kernel whenever it applies, whatever the cost model says */
/* the kernel gemm_sparse_emit would choose for B (K × N, B(k, n) = w[k·rs + n·cs]) with M rows and
 * L f32 lanes: "sparse csc-G[ split][ k-blocks of KC[ in super-blocks of S]]" (G columns sharing their nonzero rows;
 * split: a pair's rows looped as both / first only / second only nonzero) or "dense
 * (why)" — for reports (onnxc info, onnxc prune --report) */
void gemm_sparse_explain(const float *w, int64_t M, int64_t K, int64_t N, int64_t rs, int64_t cs, int L, char *out,
                         size_t len);
void gemm_sparse_force(bool on);
/* the bytes of B's packed form gemm_sparse_emit would store (-1: cannot) */
int64_t gemm_sparse_packed_bytes(const float *w, int64_t M, int64_t K, int64_t N, int64_t rs, int64_t cs, int L);

/* gen_xsmm.c: s on libxsmm's kernels when the root graph's gemm_provider asks for it (`--gemm
 * libxsmm`) and s has a form it takes (fp32, unpacked operands); false: nothing emitted */
bool gemm_xsmm_emit(GenCtx *c, GemmSpec *s);

/* the compute element kind of a dtype for contractions (f16/bf16 → f32; small ints → i32) */
KElem contract_elem(DType t);
/* load/store one scalar or vector of storage dtype t as compute type ce (mask may be NULL) */
KV ct_load(KB *kb, DType t, KElem ce, KV base, KV idx, int lanes, KV mask);
void ct_store(KB *kb, DType t, KV base, KV idx, KV val, KV mask);
/* a*b + c in the compute type (fma for floats) */
KV ct_madd(KB *kb, KV a, KV b, KV c);
KV ct_const(KB *kb, KElem ce, int lanes, double x);
/* host: element i of constant v converted to compute type ce, stored at dst[j] */
void ct_host_put(KElem ce, void *dst, int64_t j, const Value *v, int64_t i);

/* fused epilogues: x + r (r may be NULL), then e's activations (e may be NULL) */
KV gen_epi_apply(KB *kb, const Epilogue *e, KV x, KV r);
/* gen_unary.c: activation node act applied to a vector x of its (float) compute type */
KV gen_act_vec(KB *kb, const Node *act, KV x);
/* the node's fused residual buffer (NULL: none) */
KV gen_epi_res(GenCtx *c);
/* s's fused epilogue from the node: a residual shaped like its output y (C's layout, strides set
 * after s->ldc and s->c_bs) or a row of N values (passes/fuse.c) */
void gemm_set_epi(GenCtx *c, GemmSpec *s, const Value *y);

/* the F_CONTRACT generators (named in ops.def's gen column) */
int gen_matmul(GenCtx *c);
int gen_gemm(GenCtx *c);
int gen_conv(GenCtx *c);
int gen_conv_transpose(GenCtx *c);
int gen_einsum(GenCtx *c);
/* every output has a static shape (else a node error, -1) */
static inline int contract_outputs_static(GenCtx *c) {
  for (int i = 0; i < c->n->nout; i++)
    if (c->n->out[i] && !ir_value_shape_known(c->n->out[i]))
      return ir_node_error(c->g, c->n, "output shape is not static");
  return 0;
}

#endif
