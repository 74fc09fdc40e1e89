/* gen_sparse_rnn.h — sparse constant W / R of LSTM, GRU and RNN (used by gen_rnn.c).
 *
 * The recurrence and the input projection compute, per panel of L output columns (gen_rnn.c's
 * column col = g·Hp + j), acc = Σ_k a[k] · Wᵀ(k, panel).  A pruned weight stores per panel only
 * the entries that hold a nonzero, in one of two forms:
 *   block  one entry per reduction index k where any of the panel's L weights is nonzero: k (i32)
 *          and the L weights; a[k] is broadcast (1×16 blocks along the outputs fill entries);
 *   perm   windowed ELLPACK for unstructured sparsity (a panel has a nonzero at almost every k,
 *          each output only at a few): k is cut in windows of L; an entry holds, for each lane,
 *          one of that output's nonzeros inside one window: the window's first k (i32), the
 *          lane's offset in it (one byte per lane) and its weight; the L values of a in the
 *          window are loaded as one vector and permuted to the lanes (vpermps: a 16-lane gather
 *          measured ~20 cycles here, the permute one).  A window holds as many entries as its
 *          busiest lane has nonzeros in it (at 90% zeros ~4 of 16).  L = 16 only, and a's rows
 *          must be readable in whole windows (kwin).
 * A panel's entries are padded (index 0, weight 0) to a multiple of RSP_U, the kernel keeping
 * RSP_U independent sums per row (one chain of FMAs would wait on its latency).  The result
 * equals the dense kernel's within fp32 rounding (the sums run in another order).
 * rnn_sp_cost is the cost rule that picks dense, block or perm per weight. */
#ifndef ONNXC_GEN_SPARSE_RNN_H
#define ONNXC_GEN_SPARSE_RNN_H

#include "gen_util.h"

enum { RSP_U = 4 };
typedef enum { RSP_DENSE = 0, RSP_BLOCK = 1, RSP_PERM = 2 } RspKind;

/* a weight [D][G·H][K] as the kernels see it (Hp = H rounded up to L) */
typedef struct RspShape {
  int64_t D, G, H, Hp, K;
  int L;
  bool kwin; /* a's rows can be read in whole windows of L (R: rows of Hp; W: K % L == 0) */
} RspShape;

typedef struct RspCost {
  double dense, block, perm; /* estimated time units of one pass over the weight for `rows` rows */
  int64_t nblock, nperm;      /* entries (padded) of each form, all directions */
  RspKind pick;
} RspCost;

typedef struct RnnSp {
  RspKind kind;
  int64_t npanel; /* panels per direction: G·Hp / L */
  KV off;         /* i32 [D·npanel + 1]: panel q's entries are [off[q], off[q + 1]) */
  KV kidx;        /* i32 per entry: block its k, perm its window's first k */
  KV lidx;        /* perm: u8 [entry][L], each lane's offset in the window */
  KV vals;        /* f32: L per entry */
} RnnSp;

/* host: the cost of each form for float data w (row-major [D][G·H][K]) and rows rows of A */
void rnn_sp_cost(const float *w, const RspShape *sh, int64_t rows, RspCost *c);
/* host: measures w (a constant float weight) and packs it when the cost rule picks a sparse
 * form (sp->kind != RSP_DENSE); sp zeroed otherwise */
void rnn_sp_plan(KB *kb, const Value *w, const RspShape *sh, int64_t rows, RnnSp *sp);
/* run time: panel q (direction · npanel + panel) for m <= 4 rows: c[i][0..L) = init (or 0) +
 * Σ over the panel's entries of a[i][k] · weights */
void rnn_sp_panel(KB *kb, const RnnSp *sp, int L, KV q, int m, const KV *a, const KV *c, KV init);
/* the kernel the backend picks for weight input win (1 W, 2 R) of RNN node n, as text (for
 * onnxc info / onnxc prune --report); vector_bytes 0: unknown target */
void rnn_sp_explain(const Node *n, int win, int vector_bytes, char *out, size_t len);

#endif
