/* passes.h — the optimization pipeline: one file per pass, run in a fixed order (pipeline.c). */
#ifndef ONNXC_PASSES_H
#define ONNXC_PASSES_H

#include "ir.h"

typedef struct PassOptions {
  const char *disable; /* comma-separated names of optional passes to skip ("fuse,dce"); NULL: none */
  bool verify_each;    /* ir_verify after every pass (always on in builds without NDEBUG) */
  int64_t max_memory;  /* plan: memory budget in bytes (see pass_plan_budget); 0: only the
                          overflow bound (the backend checks its own limit again) */
  int layout;          /* passes/layout.c: 0 cost model; 2 every candidate region pixel-major (tests) */
} PassOptions;

/* The passes in pipeline order, NULL-terminated: shapes, inline, dce, fuse, winograd, layout,
 * plan, sparse, binary (sparse and binary run last: they only mark nodes for the backend). */
extern const char *const pass_names[];
/* Index of a pass name in pass_names, -1 if unknown. */
int pass_index(const char *name);
/* Whether the pass can be switched off (inline, dce, fuse, winograd, layout, sparse, binary; the others are
 * needed by the backend). */
bool pass_optional(int index);
/* Checks a comma-separated list of pass names to disable: 0, or -1 with a message in err that
 * lists the valid names. */
int pass_check_disable(const char *list, char *err, size_t errlen);
/* A part of the fuse pass that --disable-pass also accepts by its own name ("attention"), or "qdq"
 * (passes/qdq.c, which runs first, before shapes: optional like fuse, not in pass_names). */
bool pass_is_fuse_part(const char *name);

/* Run the pipeline on a graph whose input shapes are fixed. 0 ok, -1 error (ir_last_error). */
int pass_run_all(Graph *g, const PassOptions *opt);
/* Run the pipeline up to and including pass `last` (a name in pass_names; "import": none; NULL:
 * all).  0 ok, -1 error (ir_last_error), also for an unknown name or disable list. */
int pass_run_until(Graph *g, const PassOptions *opt, const char *last);

/* individual passes */
/* Binds the graph inputs to ts[0..g->ninputs) (graph-input order): each must have data of the
 * input's dtype and a shape matching its fixed dims; symbolic dims take the tensor's.  Small
 * inputs (<= 4096 elements) whose values reach a shape operand become constants.  0 ok, -1 with
 * err written. */
int pass_specialize(Graph *g, Tensor *ts, char *err, size_t errlen);
int pass_dce(Graph *g);
int pass_inline(Graph *g); /* If on a constant condition -> the branch taken */
int pass_fuse(Graph *g);   /* BatchNorm into Conv; residual Add + activations into contraction epilogues */
int pass_rows(Graph *g);   /* rows of a token axis that only a one-row Gather reads: only that row computed (fuse's last part) */
int pass_attention(Graph *g); /* torch's multi-head attention -> FusedAttention (runs as fuse's first part) */
/* QDQ convolutions -> QConv int8 nodes (qdq.c); runs before shapes, off with --disable-pass qdq */
int pass_qdq(Graph *g);
/* a residual QAdd into the epilogue of the QConv producing one operand (qdq.c); fuse's part "qadd" */
int pass_qdq_add(Graph *g);
/* cluster.c: Gather(codebook, constant indices) folded into constants that keep the cluster form
 * (Value.cluster); before shapes, like qdq */
int pass_cluster(Graph *g);
/* Chooses where depthwise/1×1 Conv + elementwise regions run pixel-major ([N·H·W, C] values,
 * reorders at the region's edges) by a cost model (mode 0), everywhere they can (mode 2: tests),
 * or nowhere (mode 1); sets each value's layout (VL_PLAIN everywhere) and checks that every node's
 * generator accepts the layouts of its inputs and outputs. */
int pass_layout(Graph *g, int mode);
/* marks the Conv nodes the backend may run as Winograd convolutions (winograd.c) */
int pass_winograd(Graph *g);
/* marks the Conv nodes the backend runs on bit-packed xor + popcount kernels (binary.c) */
int pass_binary(Graph *g);
/* its Sign fusion, run before plan: a binary Conv on Sign(x) reads x (Node.binary_sign) and the
 * Sign goes when nothing else reads it (binary.c) */
int pass_binary_fuse(Graph *g);
/* the test the pass applies: a 2-D ungrouped fp32 Conv whose constant weights are ±α_o per output
 * channel o and whose input is Sign(x) or Where(c, 1, -1) (values in {-1, 0, 1}) */
bool pass_binary_conv_ok(const Node *n);
/* pass_binary_conv_ok, or a binary Conv the pass fused with its Sign (Node.binary_sign: in[0] is
 * the Sign's input, which the kernel binarizes while it packs the bits) */
bool pass_binary_conv_marked(const Node *n);
/* The binary Conv kernel's blocking (gen_binary_conv.c), here so that the pass fuses a Sign only
 * into a Conv the kernel will run (a fused Conv has no float fallback). */
typedef struct PassBinGeo {
  int64_t N, C, H, W, O, OH, OW, KH, KW, sh, sw, dh, dw, pt, pl;
  int64_t CW;         /* 64-bit words per pixel (channels) */
  int64_t rb, nrb;    /* output rows per task, row blocks */
  int64_t RI, WQ, RL; /* packed rows per task, phase length (multiple of L), row length sw·WQ */
  int64_t owp;        /* output columns a row of the packed planes covers (<= WQ) */
  int64_t KC;         /* im2col planes: KH·KW·CW */
  int64_t FL;         /* flat pixels per im2col plane (a multiple of L, room for a row's spill) */
  int64_t scratch;    /* bytes of scratch a task uses (≤ 2 MiB) */
  int L;              /* i64 lanes */
} PassBinGeo;
/* n's blocking for `lanes` i64 lanes (about 8 row blocks per image, else 1 row per task when that
 * does not fit the scratch bound); false when the kernel cannot run it.  True for 8 lanes implies
 * true for 1, 2 and 4. */
bool pass_binary_geo(Graph *g, const Node *n, int lanes, PassBinGeo *q);
/* the same for a MatMul/Gemm [M,K]·[K,N] whose constant B has ±α_n columns (binary.c) */
bool pass_binary_gemm_ok(const Node *n);
/* Memory planning (plan.c): outputs materialized, captured values added to control nodes,
 * topological order, storage classes, arena offsets for g and its subgraphs (see Graph.planned).
 * Checks the budget against max_memory (<= 0: only that sizes cannot overflow). */
int pass_plan(Graph *g, int64_t max_memory);

/* sparse.c: marks the MatMul/Gemm nodes whose constant weight has enough zeros for the backend to
 * weigh a sparse kernel (Node.sparse; gen_sparse.c decides by its cost model) */
int pass_sparse(Graph *g);
/* sparse.c: the same marking for Conv nodes (group 1, constant fp32 weight; gen_sparse_conv.c) */
void pass_sparse_convs(Graph *g);
/* whether pass_sparse_convs marks n (onnxc info / prune --report name the kernel with it) */
bool pass_sparse_conv_candidate(const Node *n);
/* sparse.c: the same marking for LSTM/GRU/RNN nodes with a pruned constant W or R
 * (gen_sparse_rnn.c decides per weight) */
void pass_sparse_rnns(Graph *g);
bool pass_sparse_rnn_candidate(const Node *n);
/* sparse.c: the same marking for int8 matmuls with a constant int8 weight [K, N] (MatMulInteger,
 * QLinearMatMul, QMatMul; gen_sparse_q8.c decides); their weight (NULL: none) */
void pass_sparse_q8(Graph *g);
bool pass_sparse_q8_candidate(const Node *n);
const Value *pass_sparse_q8_weight(const Node *n);
/* the weight a sparse kernel would take from n (fp32 constant, rank 2, input 1 of MatMul/Gemm) and
 * its logical view B(k, n) = data[k*rs + n*cs], K × N; NULL when n has none */
const Value *pass_sparse_weight(const Node *n, int64_t *K, int64_t *N, int64_t *rs, int64_t *cs);
/* what a weight's zeros look like, for reports */
typedef struct SparseInfo {
  double sparsity;     /* zeros / elements */
  int64_t nnz;
  char structure[48];  /* "dense", "unstructured", "N:M" (the largest N of nonzeros in any group of
                          M along K), "block:RxC" (every zero in an all-zero block of R k × C n) */
} SparseInfo;
void pass_sparse_analyze(const Value *w, int64_t K, int64_t N, int64_t rs, int64_t cs, SparseInfo *si);
/* a K × N view of any layer's weight: element (k, n) at w[n*sn + (k % ka)*sa + (k / ka)*sb] (a
 * Conv's k = kernel position · Cin + input channel, so N:M groups are neighbouring channels) */
typedef struct SparseView {
  const float *w;
  int64_t k, n, ka, sa, sb, sn;
} SparseView;
/* the structure detector: zeros, sparsity and the structure found */
void pass_sparse_measure(const SparseView *v, SparseInfo *si);
/* n would be marked by pass_sparse (a MatMul/Gemm weight with enough zeros to weigh a sparse kernel) */
bool pass_sparse_candidate(const Node *n);
/* The memory budget: weights + arena + scratch + outputs of a planned g within limit bytes, or
 * an error naming the largest value.  The backend calls it again once it knows scratch sizes
 * and where subgraphs sit. */
int pass_plan_budget(Graph *g, int64_t limit, int64_t arena, int64_t scratch);
int64_t pass_value_bytes(const Value *v); /* numel * dtype size; -1 if unknown or overflowing */
#endif
