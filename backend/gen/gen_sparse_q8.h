/* gen_sparse_q8.h — sparse constant int8 weights of the int8 matmuls (gen_quant_mm.c: MatMulInteger,
 * QLinearMatMul, QMatMul; static QDQ and --quantize int8-dynamic).
 *
 * The dense kernel feeds vpdpbusd a broadcast word of 4 consecutive activations a[i][4g..4g+3] and a
 * vector of weights B[4g..4g+3][panel]: at 90% zeros almost no 4 × 16 group of B is zero, so
 * nothing could be skipped in that order.  The sparse kernel gives each lane (output column) its own
 * 4 reduction indices instead: a step holds a window start (a multiple of 64) and, per lane, 4 of
 * that column's nonzeros inside the 128 k from there, as byte offsets (the lookup) and their
 * weights.  A row's 128 activations of the window are loaded (two aligned vectors) and the lookup
 * gathers each lane's 4 bytes (kb_permute2 on a 128-byte table: one vpermi2b on AVX-512 VBMI, tbl4 +
 * tbx4 on NEON), then one vpdpbusd with the step's weights.  Steps follow the columns' nonzeros
 * (walk in gen_sparse_q8.c): at 90% zeros ~25 steps per 768 k where the dense kernel has 192 groups.
 * Padding lanes hold weight 0.  The sums are exact integers, so the result equals the dense
 * kernel's bit for bit; the epilogue (zero-point correction, scales, bias, requantization, fused
 * activation) is the dense kernel's.  K >= 128 (the last window ends at K: a row is never read past
 * its end). */
#ifndef ONNXC_GEN_SPARSE_Q8_H
#define ONNXC_GEN_SPARSE_Q8_H

#include "gen_util.h"

enum { SQ8_WIN = 128, SQ8_ALIGN = 64 };

typedef struct SpQ8 {
  int L;       /* i32 lanes = columns per panel */
  int64_t K;   /* a row's length in bytes (rows are read as arow[0] + i·K) */
  int64_t np;  /* panels: ceil(N / L) */
  int64_t steps;
  KV poff;     /* i32 [np + 1]: panel p's groups are [poff[p], poff[p + 1]) */
  KV gof;      /* i32 per group: its window's first k */
  KV gst;      /* i32 [groups + 1]: group g's steps are [gst[g], gst[g + 1]) */
  KV idx;      /* i8 [step][4L]: lane l's 4 offsets in the window */
  KV wts;      /* i8 [step][4L]: their weights (0 in padding) */
} SpQ8;

typedef struct SpQ8Cost {
  int64_t steps, groups; /* sparse steps, dense 4-row groups (both per row, over all panels of L columns) */
  double dense, sparse;  /* estimated time units per row */
  bool pays;
} SpQ8Cost;

/* host: the cost rule for the int8 weight b [K, N] (row-major) on target t; K < SQ8_WIN or a target
 * without a fast 128-byte lookup never pays (unless forced) */
void sq8_cost(const Target *t, const int8_t *b, int64_t K, int64_t N, SpQ8Cost *c);
/* host: packs b for L lanes (kb_weight) */
void sq8_pack(KB *kb, const int8_t *b, int64_t K, int64_t N, int L, SpQ8 *sp);
/* run time: acc[i] += Σ over panel p's steps, for rows arow[0] + i·K, i < mr (one base pointer: the
 * rows' offsets are constant displacements, no register per row) */
void sq8_accumulate(KB *kb, const SpQ8 *sp, KV p, int mr, const KV *arow, KVar *acc);
/* the kernel picked for b, as text (onnxc info) */
void sq8_explain(const Target *t, const int8_t *b, int64_t K, int64_t N, char *out, size_t len);
/* tests: the sparse kernel whenever it applies (K >= SQ8_WIN), whatever the cost rule says */
void sq8_force(bool on);
bool sq8_forced(void);

#endif
