/* gen_reduce.h — the reduction engine shared by gen_reduce.c, gen_pool.c and gen_norm.c.
 *
 * A tensor is split into kept and reduced dims (row-major, contiguous).  After dropping size-1
 * dims and merging neighbours of the same class it is a list of alternating groups.  Each
 * "item" of work reduces over all reduced groups for one output position (mode P2: lanes run
 * along the innermost reduced group, which is contiguous) or for a block of consecutive
 * positions of the innermost kept group (mode P1: lanes run across outputs; vector loads when
 * that group is innermost, gathers otherwise).  Ops plug in through callbacks (GrOps) and may
 * make several passes over the reduction domain per item (softmax, normalizations). */
#ifndef ONNXC_GEN_REDUCE_H
#define ONNXC_GEN_REDUCE_H

#include "gen_util.h"

#define GR_MAX_U 8        /* max vectors per item (P1) / unroll (P2) */
#define GR_PAR_MIN 16384  /* below this many element visits a kernel runs single-threaded */

typedef struct GrGeom {
  int nk, nr;                                   /* kept / reduced groups */
  int64_t ksz[IR_MAX_RANK], kst[IR_MAX_RANK];   /* kept group sizes and input strides */
  int64_t rsz[IR_MAX_RANK], rst[IR_MAX_RANK];   /* reduced group sizes and input strides */
  int64_t nout, rtot;                           /* output positions, reduction size */
  bool last_red;                                /* innermost group is reduced */
} GrGeom;

void gr_geom(int rank, const int64_t *dims, const bool *red, GrGeom *g);

enum { GR_P1 = 1, GR_P2 = 2 };

/* what the callbacks see for the item being generated */
typedef struct GrNest {
  int mode;                /* GR_P1 or GR_P2 */
  int W;                   /* lanes */
  int nvec;                /* P1: vectors per item; P2: unroll (accumulators per pass) */
  int64_t lstride;         /* input elements between lanes (P2: 1) */
  KV base;                 /* input offset of lane 0 at reduction position 0 */
  KV o;                    /* output index of lane 0 (P1: vector u covers o + u*W + lane) */
  KV mask[GR_MAX_U];       /* P1: lane masks per vector (NULL: all lanes valid) */
} GrNest;

typedef struct GrOps {
  int npasses;
  void (*begin)(KB *kb, GrNest *n, void *ud);                 /* optional */
  void (*pass_begin)(KB *kb, GrNest *n, int pass, void *ud);  /* optional */
  /* one vector: lanes at input offsets off + lane*lstride; rpos: position of lane 0 in the
   * reduction domain (P2: lanes rpos + lane; P1: all lanes rpos); u: accumulator/vector index;
   * mask: P1 the vector's lane mask, P2 the tail mask (NULL: all valid) */
  void (*visit)(KB *kb, GrNest *n, int pass, int u, KV off, KV rpos, KV mask, void *ud);
  void (*pass_end)(KB *kb, GrNest *n, int pass, void *ud);    /* optional */
  void (*end)(KB *kb, GrNest *n, void *ud);                   /* optional */
} GrOps;

/* Emit the whole parallel nest.  elem_bytes sizes the vectors (W = vector bytes / elem_bytes),
 * U = max vectors per item / unroll.  Sets c->work. */
void gr_run(GenCtx *c, const GrGeom *g, const GrOps *ops, void *ud, size_t elem_bytes, int U);

/* ---- small helpers ---- */
/* the element kind a dtype computes in: f16/bf16/f32 → F32, f64 → F64; ints → themselves, or F64
 * when `wide` (ops whose math is floating point: log, sqrt, ...) */
KElem gr_ce(DType t, bool wide);
/* load W lanes of dtype t at base[idx + lane*stride] (vector load when stride 1, else gather),
 * converted to ce (src signedness from t) */
KV gr_load(KB *kb, DType t, KV base, KV idx, int W, int64_t stride, KV mask, KElem ce);
/* store val (any compute kind) into dtype t at base[idx + lane*stride] (scatter if stride > 1) */
void gr_store(KB *kb, DType t, KV base, KV idx, KV val, int64_t stride, KV mask);
/* c->work = items if the nest is big enough (cost = element visits), and open the item loop */
KV gr_par_for(GenCtx *c, int64_t items, int64_t cost);
/* lanes for elements of elem_bytes, shrunk (not below 4) when n elements need fewer */
int gr_lanes(GenCtx *c, size_t elem_bytes, int64_t n);
/* x raised to a small positive integer power (multiplications) */
KV gr_ipow(KB *kb, KV x, int64_t p);

/* accumulation kinds and their identities / combines / horizontal reductions */
enum { GR_ADD, GR_MUL, GR_MAX, GR_MIN };
KV gr_ident(KB *kb, KT t, int ac, bool uns);
KV gr_combine(KB *kb, int ac, KV a, KV b, bool uns);
KV gr_horiz(KB *kb, int ac, KV v, bool uns);

/* plain reductions (ReduceSum ..., the global pools) */
typedef enum GrKind {
  GR_K_SUM, GR_K_MEAN, GR_K_MAX, GR_K_MIN, GR_K_PROD, GR_K_L1, GR_K_L2, GR_K_LOGSUM, GR_K_LOGSUMEXP,
  GR_K_SUMSQ, GR_K_LP /* (sum |x|^p)^(1/p) */
} GrKind;

/* y (dtype yt, the kept dims in order) = reduce x (dtype xt, shape rank/dims) over the dims marked
 * in red. */
void gr_reduce(GenCtx *c, GrKind kind, int64_t p, KV x, DType xt, KV y, DType yt, int rank,
               const int64_t *dims, const bool *red);

#endif
