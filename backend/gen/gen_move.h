/* gen_move.h — what the F_MOVE family's files share: the map-copy engine and its helpers
 * (gen_move_engine.c), and the generators gen_move's switch (gen_move.c) routes to in
 * gen_move_index.c and gen_move_resize.c.  Only these files include it. */
#ifndef ONNXC_GEN_MOVE_H
#define ONNXC_GEN_MOVE_H

#include "gen_util.h"

#define MV_AXES (2 * IR_MAX_RANK)
#define MV_FILL INT64_MIN         /* table entry: the element is the fill value */
#define MV_TABLE_MAX 4096         /* largest fused inner-axis table (entries) */
#define MV_PAR_BYTES (1 << 16)    /* below this many output bytes a kernel runs on one thread */
#define MV_MEMCPY_BYTES 512       /* contiguous runs at least this long use memcpy */
#define MV_CHUNK_BYTES (1 << 14)  /* inner-axis chunk when there are few rows */
#define MV_MAX_SEGS 8
#define ST_INDEX 3                /* ONNXC_ERR_INDEX */

typedef struct MvAxis {
  int64_t n;  /* extent */
  int64_t s;  /* affine source stride (elements) when t == NULL */
  int64_t d;  /* destination stride (elements) */
  int64_t *t; /* n entries: source offset contribution, or MV_FILL (malloc'd, owned) */
} MvAxis;

typedef struct MvJob {
  int src, dst;          /* buffer indices */
  int64_t sbase, dbase;  /* element offsets */
  int rank;
  MvAxis ax[MV_AXES];
  KV fill;               /* scalar of the raw element type (needed when some table has MV_FILL) */
  bool allfill, empty;
  bool skip_in_place;    /* no copy when src is dst + dbase at run time (a Concat input planned in place) */
  /* filled by mv_prepare */
  int64_t rows, inner, chunk, nchunks, units;
  int tb, tT;            /* tiled transpose: the axis with source stride 1, tile size (0 = off) */
  int64_t tnb;           /* tiles along tb */
} MvJob;

static inline KV i64c(KB *kb, int64_t x) { return kb_i64(kb, x); }

/* ---- helpers (gen_move_engine.c) ---- */
/* the bit pattern of x stored as dtype t (little endian), as an integer of the element's width */
int64_t mv_raw_bits(DType t, double x);
/* constant input i was not read by the kernel (c->const_unused) */
void mv_mark_unused(GenCtx *c, int i);
/* splat(base) + iota * stride, W lanes of i64 */
KV mv_lane_idx(KB *kb, KV base, int64_t stride, int W);
/* gathers/scatters that also work for one lane (a plain load/store) */
KV mv_gather(KB *kb, KT t, KV base, KV idx, KV mask);
void mv_scatter(KB *kb, KV v, KV base, KV idx, KV mask);
/* contiguous copy of len elements (len_hint: its compile-time value, picks memcpy or vectors) */
void mv_copy_run(GenCtx *c, KElem ke, KV dst, KV src, KV len, int64_t len_hint);
/* parallel range helper: loop over [0, units) or [begin, end) (kb_endfor closes it) */
KV mv_par_for(GenCtx *c, int64_t units, int64_t bytes);

/* ---- the map-copy engine (gen_move_engine.c) ---- */
int64_t *mv_tab_new(int64_t n);                                        /* a table for mv_add_axis (ir_xmalloc) */
void mv_init(MvJob *j, int src, int dst);                              /* a job from buffer src to buffer dst */
void mv_add_axis(MvJob *j, int64_t n, int64_t s, int64_t d, int64_t *t); /* next output axis; takes t */
/* one job: dst (contiguous, shape of `dims`) = src viewed with per-axis strides */
void mv_strided(MvJob *j, int rank, const int64_t *dims, const int64_t *sstr);
/* Emit jobs [0, nj) into the current kernel, sharing one parallel range.  `fill` of each job must
 * be set when it has MV_FILL entries (otherwise a zero of the element type is used). */
void mv_emit(GenCtx *c, MvJob *jobs, int nj, size_t es);

/* ---- index-driven ops (gen_move_index.c) and Resize (gen_move_resize.c) ---- */
int gen_gather(GenCtx *c);
int gen_gather_elements(GenCtx *c);
int gen_gather_nd(GenCtx *c);
int gen_scatter_nd(GenCtx *c);
int gen_scatter_elements(GenCtx *c);
int gen_trilu(GenCtx *c);
int gen_resize(GenCtx *c);

#endif
