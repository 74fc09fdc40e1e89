/* gen_move.c — code generation for the F_MOVE family (data movement), ONNX opsets up to 18.
 *
 * Most ops here are one "map copy": out[o_0..o_{r-1}] = src[base + Σ_d T_d(o_d)], where each
 * output axis d contributes either an affine offset o·s_d or a per-axis table T_d (built at compile
 * time; an entry MV_FILL means "this output element is the fill value").  Reshape-likes, Transpose,
 * Concat, Split, Slice (negative steps too), Expand, Tile, Pad (all modes, negative pads),
 * DepthToSpace/SpaceToDepth and Resize-nearest all reduce to it.  The engine (mv_*) simplifies the
 * axes (drops size-1 axes, folds affine tables, merges contiguous axes, fuses short inner axes into
 * one table axis), splits the inner axis into segments (contiguous run → vector loads or memcpy;
 * strided → gathers; fill → splat stores; irregular → table-driven gathers) and emits one loop over
 * rows (outer axes) × chunks of the inner axis, which is the kernel's parallel range.  One kernel may
 * hold several jobs (Concat: one per input, Split: one per output) sharing that range.
 *
 * Element data are treated as raw integers of their size (float32 → i32, bool → i8).
 * Index-driven ops (Gather*, Scatter*) check every index and return ONNXC_ERR_INDEX (3) instead of
 * touching memory out of bounds.  Resize linear/cubic has its own generator (per-axis tap tables). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_util.h"

#define MV_AXES (2 * IR_MAX_RANK)
#define MV_FILL INT64_MIN         /* table entry: the element is the fill value */
#define MV_TABLE_MAX 4096         /* largest fused inner-axis table (entries) */
#define MV_PAR_BYTES (1 << 16)    /* below this many output bytes a kernel runs on one thread */
#define MV_MEMCPY_BYTES 512       /* contiguous runs at least this long use memcpy */
#define MV_CHUNK_BYTES (1 << 14)  /* inner-axis chunk when there are few rows */
#define MV_MAX_SEGS 8
#define ST_INDEX 3                /* ONNXC_ERR_INDEX */


/* the bit pattern of x stored as dtype t (little endian), as an integer of the element's width */
static int64_t raw_bits(DType t, double x) {
  unsigned char b[8] = {0};
  ir_store_f64(t, b, 0, x);
  int64_t v = 0;
  memcpy(&v, b, dtype_size(t));
  return v;
}

static void mark_unused(GenCtx *c, int i) {
  Node *n = c->n;
  if (i >= 0 && i < n->nin && i < 32 && n->in[i] && n->in[i]->kind == VK_CONST) c->const_unused |= 1u << i;
}


static KV i64c(KB *kb, int64_t x) { return kb_i64(kb, x); }

/* splat(base) + iota * stride, W lanes of i64 */
static KV lane_idx(KB *kb, KV base, int64_t stride, int W) {
  KV v = kb_splat(kb, base, W);
  if (stride == 0) return v;
  KV io = kb_iota(kb, kt(KE_I64, W));
  if (stride != 1) io = kb_mul(kb, io, kb_int(kb, kt(KE_I64, W), stride));
  return kb_add(kb, v, io);
}

/* gathers/scatters that also work for one lane (a plain load/store) */
static KV gather(KB *kb, KT t, KV base, KV idx, KV mask) {
  if (t.lanes == 1) return kb_load(kb, t, kb_gep(kb, t.e, base, idx));
  return kb_gather(kb, t, base, idx, mask);
}
static void scatter(KB *kb, KV v, KV base, KV idx, KV mask) {
  KT t = kb_type(kb, v);
  if (t.lanes == 1) kb_store(kb, v, kb_gep(kb, t.e, base, idx));
  else kb_scatter(kb, v, base, idx, mask);
}



/* ---- contiguous copy of `len` elements (compile-time length) ---- */
typedef struct RunCopy {
  KElem ke;
  int W;
  KV dst, src; /* element pointers (row starts) */
} RunCopy;

static void run_body(KB *kb, void *ud, KV j, KV mask) {
  RunCopy *r = ud;
  KV v = gen_vload(kb, kt(r->ke, r->W), kb_gep(kb, r->ke, r->src, j), mask);
  gen_vstore(kb, v, kb_gep(kb, r->ke, r->dst, j), mask);
}

static void copy_run(GenCtx *c, KElem ke, KV dst, KV src, KV len, int64_t len_hint) {
  KB *kb = c->kb;
  size_t es = kb_elem_size(ke);
  if (len_hint * (int64_t)es >= MV_MEMCPY_BYTES) {
    kb_memcpy(kb, dst, src, kb_mul(kb, len, i64c(kb, (int64_t)es)));
    return;
  }
  RunCopy r = {ke, gen_lanes_cap(c, es, 64), dst, src};
  if (len_hint < r.W && len_hint > 1) {
    int w = 1;
    while (w < len_hint) w *= 2;
    r.W = w;
  } else if (len_hint == 1)
    r.W = 1;
  gen_vec_loop(kb, i64c(kb, 0), len, r.W, run_body, &r);
}

/* ================================================================================================
 * the map-copy engine
 * ============================================================================================== */
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
  /* filled by mv_prepare */
  int64_t rows, inner, chunk, nchunks, units;
  int tb, tT;            /* tiled transpose: the axis with source stride 1, tile size (0 = off) */
  int64_t tnb;           /* tiles along tb */
} MvJob;

enum { SEG_AFFINE, SEG_FILL, SEG_TABLE };
typedef struct MvSeg {
  int kind;
  int64_t lo, hi; /* [lo, hi) of the inner axis */
  int64_t c0, s;  /* SEG_AFFINE: src = c0 + j*s */
  bool tfill;     /* SEG_TABLE: has MV_FILL entries */
} MvSeg;

static void mv_free(MvJob *j) {
  for (int d = 0; d < j->rank; d++) {
    free(j->ax[d].t);
    j->ax[d].t = NULL;
  }
}

static int64_t ax_val(const MvAxis *a, int64_t i) { return a->t ? a->t[i] : i * a->s; }

static int64_t *tab_new(int64_t n) {
  int64_t *t = ir_xmalloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
  return t;
}

/* a job copying a whole source of shape (rank, dims) with row-major strides */
static void mv_init(MvJob *j, int src, int dst) {
  memset(j, 0, sizeof *j);
  j->src = src;
  j->dst = dst;
}

static void mv_add_axis(MvJob *j, int64_t n, int64_t s, int64_t d, int64_t *t) {
  MvAxis *a = &j->ax[j->rank++];
  a->n = n;
  a->s = s;
  a->d = d;
  a->t = t;
}

/* simplify the axes; compute rows/chunks. W: lanes for the element size */
static void mv_prepare(MvJob *j, int W, size_t es) {
  MvAxis ax[MV_AXES];
  int r = 0;
  for (int d = 0; d < j->rank; d++) {
    MvAxis a = j->ax[d];
    if (a.n == 0) {
      j->empty = true;
      break;
    }
    if (a.n == 1) {
      if (a.t) {
        if (a.t[0] == MV_FILL) j->allfill = true;
        else j->sbase += a.t[0];
        free(a.t);
      }
      continue;
    }
    if (a.t) { /* affine table → stride */
      bool aff = a.t[0] != MV_FILL && a.t[1] != MV_FILL;
      int64_t k = aff ? a.t[1] - a.t[0] : 0;
      for (int64_t i = 2; aff && i < a.n; i++) aff = a.t[i] != MV_FILL && a.t[i] - a.t[i - 1] == k;
      if (aff) {
        j->sbase += a.t[0];
        a.s = k;
        free(a.t);
        a.t = NULL;
      }
    }
    ax[r++] = a;
  }
  j->rank = 0;
  if (j->empty) {
    for (int d = 0; d < r; d++) free(ax[d].t);
    return;
  }
  if (j->allfill)
    for (int d = 0; d < r; d++) {
      free(ax[d].t);
      ax[d].t = NULL;
      ax[d].s = 0;
    }
  /* merge adjacent affine axes contiguous for both source and destination */
  int m = 0;
  for (int d = 0; d < r; d++) {
    if (m > 0) {
      MvAxis *p = &ax[m - 1];
      if (!p->t && !ax[d].t && p->s == ax[d].s * ax[d].n && p->d == ax[d].d * ax[d].n) {
        p->n *= ax[d].n;
        p->s = ax[d].s;
        p->d = ax[d].d;
        continue;
      }
    }
    ax[m++] = ax[d];
  }
  r = m;
  if (r == 0) {
    ax[0] = (MvAxis){1, 0, 0, NULL};
    r = 1;
  }
  /* fuse an inner axis shorter than a vector with the next outer one into a table axis
   * (destination contiguous): one gather per vector instead of a masked vector per tiny row */
  while (!j->allfill && r >= 2 && ax[r - 1].n < W && ax[r - 2].d == ax[r - 1].d * ax[r - 1].n &&
         ax[r - 2].n * ax[r - 1].n <= MV_TABLE_MAX) {
    MvAxis *o = &ax[r - 2], *i = &ax[r - 1];
    int64_t n = o->n * i->n;
    int64_t *t = tab_new(n);
    for (int64_t q = 0; q < n; q++) {
      int64_t a = ax_val(o, q / i->n), b = ax_val(i, q % i->n);
      t[q] = (a == MV_FILL && o->t) || (b == MV_FILL && i->t) ? MV_FILL : a + b;
    }
    free(o->t);
    free(i->t);
    *o = (MvAxis){n, 0, i->d, t};
    r--;
  }
  memcpy(j->ax, ax, sizeof(MvAxis) * (size_t)r);
  j->rank = r;
  j->rows = 1;
  for (int d = 0; d < r - 1; d++) j->rows *= ax[d].n;
  j->inner = ax[r - 1].n;
  j->chunk = j->inner;
  int64_t min_chunk = MV_CHUNK_BYTES / (int64_t)es;
  if (j->rows < 8 && j->inner > 2 * min_chunk) {
    int64_t ch = (j->inner + 15) / 16;
    if (ch < min_chunk) ch = min_chunk;
    j->chunk = (ch + 63) / 64 * 64;
  }
  j->nchunks = (j->inner + j->chunk - 1) / j->chunk;
  j->units = j->rows * j->nchunks;
}

/* split the inner axis into segments */
static int mv_segments(const MvJob *j, int W, MvSeg *segs) {
  const MvAxis *a = &j->ax[j->rank - 1];
  int64_t n = a->n;
  if (j->allfill) {
    segs[0] = (MvSeg){SEG_FILL, 0, n, 0, 0, false};
    return 1;
  }
  if (!a->t) {
    segs[0] = (MvSeg){SEG_AFFINE, 0, n, 0, a->s, false};
    return 1;
  }
  const int64_t *t = a->t;
  int64_t minrun = 2 * W > 16 ? 2 * W : 16;
  int ns = 0;
  bool over = false, anyfill = false;
  int64_t pend = -1; /* start of a pending table segment */
  for (int64_t i = 0; i < n && !over;) {
    int64_t e = i + 1;
    MvSeg s;
    if (t[i] == MV_FILL) {
      while (e < n && t[e] == MV_FILL) e++;
      s = (MvSeg){SEG_FILL, i, e, 0, 0, false};
      anyfill = true;
    } else {
      int64_t k = (e < n && t[e] != MV_FILL) ? t[e] - t[i] : 0;
      while (e < n && t[e] != MV_FILL && t[e] - t[e - 1] == k) e++;
      s = (MvSeg){SEG_AFFINE, i, e, t[i] - i * k, k, false};
      if (e - i < minrun && !(i == 0 && e == n)) { /* too short: part of a table segment */
        if (pend < 0) pend = i;
        i = e;
        continue;
      }
    }
    if (pend >= 0) {
      if (ns >= MV_MAX_SEGS) over = true;
      else segs[ns++] = (MvSeg){SEG_TABLE, pend, i, 0, 0, false};
      pend = -1;
    }
    if (ns >= MV_MAX_SEGS) over = true;
    else segs[ns++] = s;
    i = e;
  }
  if (pend >= 0) {
    if (ns >= MV_MAX_SEGS) over = true;
    else segs[ns++] = (MvSeg){SEG_TABLE, pend, n, 0, 0, false};
  }
  for (int k = 0; k < ns; k++)
    if (segs[k].kind == SEG_TABLE)
      for (int64_t q = segs[k].lo; q < segs[k].hi && !segs[k].tfill; q++) segs[k].tfill = t[q] == MV_FILL;
  if (over) {
    segs[0] = (MvSeg){SEG_TABLE, 0, n, 0, 0, anyfill};
    for (int64_t q = 0; q < n && !segs[0].tfill; q++) segs[0].tfill = t[q] == MV_FILL;
    ns = 1;
  }
  return ns;
}

typedef struct SegCtx {
  const MvSeg *s;
  KElem ke;
  int W;
  KV src, dst;      /* buffer base pointers */
  KV soff, doff;    /* row offsets (i64 elements) */
  int64_t dstride;  /* inner destination stride */
  KV table;         /* inner table (i64 entries, indexed by j) */
  KV fill;          /* scalar fill */
} SegCtx;

static void seg_body(KB *kb, void *ud, KV j, KV mask) {
  SegCtx *x = ud;
  const MvSeg *s = x->s;
  int W = x->W;
  KT vt = kt(x->ke, W);
  KV v;
  switch (s->kind) {
  case SEG_FILL: v = kb_splat(kb, x->fill, W); break;
  case SEG_AFFINE:
    if (s->s == 1) {
      v = gen_vload(kb, vt, kb_gep(kb, x->ke, x->src, kb_add(kb, x->soff, kb_add(kb, i64c(kb, s->c0), j))), mask);
    } else if (s->s == 0) {
      KV e = kb_load(kb, kt_s(x->ke), kb_gep(kb, x->ke, x->src, kb_add(kb, x->soff, i64c(kb, s->c0))));
      v = kb_splat(kb, e, W);
    } else if (s->s == -1 && W > 1) { /* reversed contiguous: load backwards and reverse lanes */
      int rev[64];
      for (int k = 0; k < W; k++) rev[k] = W - 1 - k;
      KV q = kb_sub(kb, kb_add(kb, x->soff, i64c(kb, s->c0 - (W - 1))), j);
      KV m = mask ? kb_shuffle(kb, mask, mask, rev, W) : NULL;
      v = gen_vload(kb, vt, kb_gep(kb, x->ke, x->src, q), m);
      v = kb_shuffle(kb, v, v, rev, W);
    } else {
      KV b = kb_add(kb, x->soff, kb_add(kb, i64c(kb, s->c0), kb_mul(kb, j, i64c(kb, s->s))));
      v = gather(kb, vt, x->src, lane_idx(kb, b, s->s, W), mask);
    }
    break;
  default: { /* SEG_TABLE */
    KV ti = gen_vload(kb, kt(KE_I64, W), kb_gep(kb, KE_I64, x->table, j), mask);
    KV idx = kb_add(kb, ti, kb_splat(kb, x->soff, W));
    if (s->tfill) {
      KV ok = kb_cmp(kb, KC_NE, ti, kb_int(kb, kt(KE_I64, W), MV_FILL), false);
      if (mask) ok = kb_and(kb, ok, mask);
      KV g = gather(kb, vt, x->src, idx, ok);
      v = kb_select(kb, ok, g, kb_splat(kb, x->fill, W));
    } else
      v = gather(kb, vt, x->src, idx, mask);
  }
  }
  if (x->dstride == 1)
    gen_vstore(kb, v, kb_gep(kb, x->ke, x->dst, kb_add(kb, x->doff, j)), mask);
  else {
    KV b = kb_add(kb, x->doff, kb_mul(kb, j, i64c(kb, x->dstride)));
    scatter(kb, v, x->dst, lane_idx(kb, b, x->dstride, W), mask);
  }
}

static void seg_emit(GenCtx *c, SegCtx *x, KV lo, KV hi) {
  KB *kb = c->kb;
  const MvSeg *s = x->s;
  size_t es = kb_elem_size(x->ke);
  if (s->kind == SEG_AFFINE && s->s == 1 && x->dstride == 1 && (s->hi - s->lo) * (int64_t)es >= MV_MEMCPY_BYTES) {
    KV d = kb_gep(kb, x->ke, x->dst, kb_add(kb, x->doff, lo));
    KV p = kb_gep(kb, x->ke, x->src, kb_add(kb, x->soff, kb_add(kb, i64c(kb, s->c0), lo)));
    kb_memcpy(kb, d, p, kb_mul(kb, kb_sub(kb, hi, lo), i64c(kb, (int64_t)es)));
    return;
  }
  int W = gen_lanes_cap(c, es, 64);
  bool gathers = (s->kind == SEG_AFFINE && s->s != 1 && s->s != 0 && s->s != -1) || s->kind == SEG_TABLE ||
                 x->dstride != 1;
  if (gathers && W > 16) W = 16;
  int64_t len = s->hi - s->lo;
  while (W > 2 && W / 2 >= len) W /= 2;
  if (len == 1 && (s->kind != SEG_AFFINE || s->s != -1)) W = 1;
  x->W = W;
  gen_vec_loop(kb, lo, hi, W, seg_body, x);
}

/* emit all rows of job j for units [lo, hi) (relative to the job) */
static void mv_emit_rows(GenCtx *c, MvJob *j, KV lo, KV hi) {
  KB *kb = c->kb;
  int r = j->rank;
  MvSeg segs[MV_MAX_SEGS];
  KElem ke = kb_type(kb, j->fill).e;
  int W = gen_lanes_cap(c, kb_elem_size(ke), 64);
  int nseg = mv_segments(j, W, segs);
  KV tabs[MV_AXES] = {0};
  bool outer_fill = false;
  for (int d = 0; d < r; d++)
    if (j->ax[d].t) {
      tabs[d] = kb_weight(kb, j->ax[d].t, sizeof(int64_t) * (size_t)j->ax[d].n);
      if (d < r - 1)
        for (int64_t q = 0; q < j->ax[d].n && !outer_fill; q++) outer_fill = j->ax[d].t[q] == MV_FILL;
    }
  KV src = kb_buf(kb, j->src), dst = kb_buf(kb, j->dst);
  KV it = kb_for(kb, lo, hi, 1);
  KV o = it, j0 = i64c(kb, 0), j1 = i64c(kb, j->inner);
  if (j->nchunks > 1) {
    o = kb_div(kb, it, i64c(kb, j->nchunks), true);
    KV ch = kb_rem(kb, it, i64c(kb, j->nchunks), true);
    j0 = kb_mul(kb, ch, i64c(kb, j->chunk));
    j1 = kb_min(kb, kb_add(kb, j0, i64c(kb, j->chunk)), i64c(kb, j->inner), false);
  }
  KV soff = i64c(kb, j->sbase), doff = i64c(kb, j->dbase), isfill = NULL;
  KV rem = o;
  for (int d = r - 2; d >= 0; d--) {
    MvAxis *a = &j->ax[d];
    KV idx = d > 0 ? kb_rem(kb, rem, i64c(kb, a->n), true) : rem;
    if (d > 0) rem = kb_div(kb, rem, i64c(kb, a->n), true);
    doff = kb_add(kb, doff, kb_mul(kb, idx, i64c(kb, a->d)));
    if (a->t) {
      KV tv = kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, tabs[d], idx));
      if (outer_fill) {
        KV f = kb_cmp(kb, KC_EQ, tv, i64c(kb, MV_FILL), false);
        isfill = isfill ? kb_or(kb, isfill, f) : f;
      }
      soff = kb_add(kb, soff, tv);
    } else if (a->s)
      soff = kb_add(kb, soff, kb_mul(kb, idx, i64c(kb, a->s)));
  }
  int64_t dstride = j->ax[r - 1].d;
  if (isfill) {
    kb_if(kb, isfill);
    MvSeg fs = {SEG_FILL, 0, j->inner, 0, 0, false};
    SegCtx x = {&fs, ke, W, src, dst, soff, doff, dstride, NULL, j->fill};
    seg_emit(c, &x, j0, j1);
    kb_else(kb);
  }
  for (int k = 0; k < nseg; k++) {
    SegCtx x = {&segs[k], ke, W, src, dst, soff, doff, dstride, tabs[r - 1], j->fill};
    if (j->nchunks > 1) {
      KV slo = kb_max(kb, j0, i64c(kb, segs[k].lo), false);
      KV shi = kb_min(kb, j1, i64c(kb, segs[k].hi), false);
      kb_if(kb, kb_cmp(kb, KC_LT, slo, shi, false));
      seg_emit(c, &x, slo, shi);
      kb_endif(kb);
    } else
      seg_emit(c, &x, i64c(kb, segs[k].lo), i64c(kb, segs[k].hi));
  }
  if (isfill) kb_endif(kb);
  kb_endfor(kb);
}

/* ---- register-tiled 2-D transpose ----
 * When the inner output axis a reads the source with a stride (not 1) and another axis b reads it
 * contiguously, T×T tiles are moved with T contiguous loads (along b), a log2(T)-stage shuffle
 * transpose in registers, and T contiguous stores (along a).  Edge tiles are masked. */
static bool mv_t2d_plan(MvJob *j, int T) {
  int r = j->rank;
  j->tT = 0;
  if (j->allfill || r < 2 || T < 4) return false;
  MvAxis *a = &j->ax[r - 1];
  if (a->t || a->d != 1 || a->s == 1 || a->s == 0 || a->n < T) return false;
  int b = -1;
  for (int d = 0; d < r - 1; d++) {
    if (j->ax[d].t) return false;
    if (j->ax[d].s == 1) b = d;
  }
  if (b < 0 || j->ax[b].n < T) return false;
  j->tb = b;
  j->tT = T;
  j->tnb = (j->ax[b].n + T - 1) / T;
  j->units = j->rows / j->ax[b].n * j->tnb;
  return true;
}

/* transpose T vectors of T lanes in place (v[k][l] → v[l][k]) */
static void reg_transpose(KB *kb, KV *v, int T) {
  int lo[64], hi[64];
  for (int s = T / 2; s >= 1; s /= 2) {
    for (int l = 0; l < T; l++) {
      lo[l] = (l & s) ? T + (l - s) : l;
      hi[l] = (l & s) ? T + l : l + s;
    }
    for (int i = 0; i < T; i++) {
      if (i & s) continue;
      KV A = v[i], B = v[i + s];
      v[i] = kb_shuffle(kb, A, B, lo, T);
      v[i + s] = kb_shuffle(kb, A, B, hi, T);
    }
  }
}

/* one tile at (soff, doff) (offsets of the tile's first element); remb/rema: valid extents along
 * b / a (NULL: full tile) */
static void t2d_tile(KB *kb, KElem ke, int T, KV src, KV dst, KV soff, KV doff, int64_t sa, int64_t db, KV remb,
                     KV rema) {
  KV v[16];
  KT vt = kt(ke, T);
  KV lmask = remb ? kb_tail_mask(kb, T, remb) : NULL;
  for (int k = 0; k < T; k++) {
    KV p = kb_gep(kb, ke, src, kb_add(kb, soff, i64c(kb, k * sa)));
    if (remb) {
      KV m = kb_and(kb, lmask, kb_splat(kb, kb_cmp(kb, KC_LT, i64c(kb, k), rema, false), T));
      v[k] = kb_load_masked(kb, vt, p, m, NULL);
    } else
      v[k] = kb_load(kb, vt, p);
  }
  reg_transpose(kb, v, T);
  KV smask = remb ? kb_tail_mask(kb, T, rema) : NULL;
  for (int l = 0; l < T; l++) {
    KV p = kb_gep(kb, ke, dst, kb_add(kb, doff, i64c(kb, l * db)));
    if (remb) kb_store_masked(kb, v[l], p, kb_and(kb, smask, kb_splat(kb, kb_cmp(kb, KC_LT, i64c(kb, l), remb, false), T)));
    else kb_store(kb, v[l], p);
  }
}

static void mv_emit_t2d(GenCtx *c, MvJob *j, KV lo, KV hi) {
  KB *kb = c->kb;
  int r = j->rank, T = j->tT, b = j->tb;
  KElem ke = kb_type(kb, j->fill).e;
  MvAxis *A = &j->ax[r - 1], *B = &j->ax[b];
  KV src = kb_buf(kb, j->src), dst = kb_buf(kb, j->dst);
  KV it = kb_for(kb, lo, hi, 1);
  KV blk = kb_rem(kb, it, i64c(kb, j->tnb), true), o = kb_div(kb, it, i64c(kb, j->tnb), true);
  KV soff = i64c(kb, j->sbase), doff = i64c(kb, j->dbase), rem = o;
  int first = -1;
  for (int d = 0; d < r - 1; d++)
    if (d != b) {
      first = d;
      break;
    }
  for (int d = r - 2; d >= 0; d--) {
    if (d == b) continue;
    MvAxis *x = &j->ax[d];
    KV idx = d != first ? kb_rem(kb, rem, i64c(kb, x->n), true) : rem;
    if (d != first) rem = kb_div(kb, rem, i64c(kb, x->n), true);
    soff = kb_add(kb, soff, kb_mul(kb, idx, i64c(kb, x->s)));
    doff = kb_add(kb, doff, kb_mul(kb, idx, i64c(kb, x->d)));
  }
  KV ib0 = kb_mul(kb, blk, i64c(kb, T));
  KV remb = kb_min(kb, i64c(kb, T), kb_sub(kb, i64c(kb, B->n), ib0), false);
  soff = kb_add(kb, soff, ib0);
  doff = kb_add(kb, doff, kb_mul(kb, ib0, i64c(kb, B->d)));
  KV fullb = kb_cmp(kb, KC_EQ, remb, i64c(kb, T), false);
  int64_t na = A->n, nfull = na / T * T;
  for (int pass = 0; pass < 2; pass++) { /* full tiles along a; then the masked rest */
    if (pass == 1 && nfull == na) break;
    KV ia = pass == 0 ? kb_for(kb, i64c(kb, 0), i64c(kb, nfull), T) : i64c(kb, nfull);
    KV so = kb_add(kb, soff, kb_mul(kb, ia, i64c(kb, A->s))), dof = kb_add(kb, doff, ia);
    KV rema = i64c(kb, pass == 0 ? T : na - nfull);
    if (pass == 0) {
      kb_if(kb, fullb);
      t2d_tile(kb, ke, T, src, dst, so, dof, A->s, B->d, NULL, NULL);
      kb_else(kb);
      t2d_tile(kb, ke, T, src, dst, so, dof, A->s, B->d, remb, rema);
      kb_endif(kb);
      kb_endfor(kb);
    } else
      t2d_tile(kb, ke, T, src, dst, so, dof, A->s, B->d, remb, rema);
  }
  kb_endfor(kb);
}

/* Emit jobs [0, nj) into the current kernel, sharing one parallel range.  `fill` of each job must
 * be set when it has MV_FILL entries (otherwise a zero of the element type is used). */
static void mv_emit(GenCtx *c, MvJob *jobs, int nj, size_t es) {
  KB *kb = c->kb;
  KElem ke = gen_raw_elem(es);
  int W = gen_lanes_cap(c, es, 64);
  int64_t total = 0, bytes = 0;
  for (int k = 0; k < nj; k++) {
    if (!jobs[k].fill) jobs[k].fill = kb_int(kb, kt_s(ke), 0);
    mv_prepare(&jobs[k], W, es);
    if (jobs[k].empty) continue;
    mv_t2d_plan(&jobs[k], W > 16 ? 16 : W);
    total += jobs[k].units;
    bytes += jobs[k].rows * jobs[k].inner * (int64_t)es;
  }
  bool par = bytes >= MV_PAR_BYTES && total > 1;
  c->work = par ? total : 1;
  int64_t w0 = 0;
  for (int k = 0; k < nj; k++) {
    MvJob *j = &jobs[k];
    if (j->empty) continue;
    KV lo, hi;
    if (par) {
      lo = kb_max(kb, kb_sub(kb, kb_begin(kb), i64c(kb, w0)), i64c(kb, 0), false);
      hi = kb_min(kb, kb_sub(kb, kb_end(kb), i64c(kb, w0)), i64c(kb, j->units), false);
    } else {
      lo = i64c(kb, 0);
      hi = i64c(kb, j->units);
    }
    if (j->tT) mv_emit_t2d(c, j, lo, hi);
    else mv_emit_rows(c, j, lo, hi);
    w0 += j->units;
    mv_free(j);
  }
}

/* one job: dst (contiguous, shape of `dims`) = src viewed with per-axis strides */
static void mv_strided(MvJob *j, int rank, const int64_t *dims, const int64_t *sstr) {
  int64_t dstr[IR_MAX_RANK];
  gen_strides(rank, dims, dstr);
  for (int d = 0; d < rank; d++) mv_add_axis(j, dims[d], sstr[d], dstr[d], NULL);
}

/* ================================================================================================
 * the ops built on the engine
 * ============================================================================================== */
static int gen_copy(GenCtx *c) { /* Reshape, Flatten, Squeeze, Unsqueeze (and Identity-like) */
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  MvJob j;
  mv_init(&j, 0, n->nin);
  int64_t numel = ir_value_numel(y);
  if (numel != ir_value_numel(x)) return ir_node_error(c->g, n, "input and output sizes differ");
  mv_add_axis(&j, numel, 1, 1, NULL);
  for (int i = 1; i < n->nin; i++) mark_unused(c, i);
  mv_emit(c, &j, 1, dtype_size(x->dtype));
  return 0;
}

static int gen_transpose(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  const int64_t *perm;
  int cnt = ir_attr_ints(n, "perm", &perm);
  int64_t xs[IR_MAX_RANK], ss[IR_MAX_RANK];
  gen_strides(r, x->dims, xs);
  for (int d = 0; d < r; d++) {
    int64_t p = cnt >= 0 ? perm[d] : r - 1 - d;
    if (p < 0 || p >= r) return ir_node_error(c->g, n, "invalid perm");
    ss[d] = xs[p];
  }
  MvJob j;
  mv_init(&j, 0, n->nin);
  mv_strided(&j, r, y->dims, ss);
  mv_emit(c, &j, 1, dtype_size(x->dtype));
  return 0;
}

static int gen_concat(GenCtx *c) {
  Node *n = c->n;
  Value *y = n->out[0];
  int r = y->rank, axis;
  if (ir_normalize_axis(c->g, n, ir_attr_int(n, "axis", 1), r, &axis)) return -1;
  int64_t ys[IR_MAX_RANK];
  gen_strides(r, y->dims, ys);
  MvJob *jobs = ir_xcalloc((size_t)n->nin + 1, sizeof *jobs);
  int nj = 0;
  int64_t off = 0;
  for (int i = 0; i < n->nin; i++) {
    Value *v = n->in[i];
    if (!v) continue;
    MvJob *j = &jobs[nj++];
    mv_init(j, i, n->nin);
    j->dbase = off * ys[axis];
    int64_t vs[IR_MAX_RANK];
    gen_strides(r, v->dims, vs);
    for (int d = 0; d < r; d++) mv_add_axis(j, v->dims[d], vs[d], ys[d], NULL);
    off += v->dims[axis];
  }
  mv_emit(c, jobs, nj, dtype_size(y->dtype));
  free(jobs);
  return 0;
}

static int gen_split(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0];
  int r = x->rank, axis;
  int64_t *sizes = ir_xcalloc((size_t)n->nout + 1, sizeof(int64_t));
  MvJob *jobs = ir_xcalloc((size_t)n->nout + 1, sizeof *jobs);
  if (ir_split_plan(c->g, n, &axis, sizes)) {
    free(sizes);
    free(jobs);
    return -1;
  }
  mark_unused(c, 1);
  int64_t xs[IR_MAX_RANK], off = 0;
  gen_strides(r, x->dims, xs);
  int nj = 0;
  for (int k = 0; k < n->nout; k++) {
    Value *y = n->out[k];
    if (y) {
      MvJob *j = &jobs[nj++];
      mv_init(j, 0, n->nin + k);
      j->sbase = off * xs[axis];
      int64_t dims[IR_MAX_RANK];
      memcpy(dims, x->dims, sizeof dims);
      dims[axis] = sizes[k];
      mv_strided(j, r, dims, xs);
    }
    off += sizes[k];
  }
  mv_emit(c, jobs, nj, dtype_size(x->dtype));
  free(sizes);
  free(jobs);
  return 0;
}

static int gen_slice(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0];
  int r = x->rank;
  int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], len[IR_MAX_RANK], xs[IR_MAX_RANK], ss[IR_MAX_RANK];
  if (ir_slice_plan(c->g, n, start, step, len)) return -1;
  for (int i = 1; i < n->nin; i++) mark_unused(c, i);
  gen_strides(r, x->dims, xs);
  MvJob j;
  mv_init(&j, 0, n->nin);
  for (int d = 0; d < r; d++) {
    j.sbase += start[d] * xs[d];
    ss[d] = step[d] * xs[d];
  }
  mv_strided(&j, r, len, ss);
  mv_emit(c, &j, 1, dtype_size(x->dtype));
  return 0;
}

static int gen_expand(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int64_t ss[IR_MAX_RANK];
  gen_bcast_strides(x, y->rank, y->dims, ss);
  mark_unused(c, 1);
  MvJob j;
  mv_init(&j, 0, n->nin);
  mv_strided(&j, y->rank, y->dims, ss);
  mv_emit(c, &j, 1, dtype_size(x->dtype));
  return 0;
}

static int gen_tile(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
  gen_strides(r, x->dims, xs);
  gen_strides(r, y->dims, ys);
  mark_unused(c, 1);
  MvJob j;
  mv_init(&j, 0, n->nin);
  for (int d = 0; d < r; d++) {
    int64_t m = x->dims[d], rep = m ? y->dims[d] / m : 0;
    if (m == 0 || y->dims[d] == 0) {
      mv_add_axis(&j, 0, 0, 0, NULL);
      continue;
    }
    mv_add_axis(&j, rep, 0, m * ys[d], NULL);
    mv_add_axis(&j, m, xs[d], ys[d], NULL);
  }
  mv_emit(c, &j, 1, dtype_size(x->dtype));
  return 0;
}

/* source index of output position o along an axis of size dim padded by (before, after) */
static int64_t pad_src(const char *mode, int64_t o, int64_t dim, int64_t before, int64_t after) {
  int64_t cs = before < 0 ? -before : 0;                          /* core start (cropping) */
  int64_t core = dim - cs - (after < 0 ? -after : 0);              /* core extent */
  int64_t jx = o - (before > 0 ? before : 0);                     /* index relative to the core */
  if (jx >= 0 && jx < core) return cs + jx;
  if (!strcmp(mode, "constant") || core <= 0) return -1;
  if (!strcmp(mode, "edge")) jx = jx < 0 ? 0 : core - 1;
  else if (!strcmp(mode, "wrap")) jx = ((jx % core) + core) % core;
  else { /* reflect */
    if (core == 1) jx = 0;
    else {
      int64_t p = 2 * (core - 1);
      jx = ((jx % p) + p) % p;
      if (jx >= core) jx = p - jx;
    }
  }
  return cs + jx;
}

static int gen_pad(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  int64_t before[IR_MAX_RANK], after[IR_MAX_RANK], xs[IR_MAX_RANK], ys[IR_MAX_RANK];
  if (ir_pad_plan(c->g, n, before, after)) return -1;
  mark_unused(c, 1);
  mark_unused(c, 3);
  const char *mode = ir_attr_str(n, "mode", "constant");
  size_t es = dtype_size(x->dtype);
  KElem ke = gen_raw_elem(es);
  KB *kb = c->kb;
  MvJob j;
  mv_init(&j, 0, n->nin);
  if (n->nin > 2 && n->in[2] && ir_value_numel(n->in[2]) > 0)
    j.fill = kb_load(kb, kt_s(ke), kb_buf(kb, 2));
  else
    j.fill = kb_int(kb, kt_s(ke), raw_bits(x->dtype, ir_attr_float(n, "value", 0.0f)));
  gen_strides(r, x->dims, xs);
  gen_strides(r, y->dims, ys);
  for (int d = 0; d < r; d++) {
    if (before[d] == 0 && after[d] == 0) {
      mv_add_axis(&j, y->dims[d], xs[d], ys[d], NULL);
      continue;
    }
    int64_t *t = tab_new(y->dims[d]);
    for (int64_t o = 0; o < y->dims[d]; o++) {
      int64_t s = pad_src(mode, o, x->dims[d], before[d], after[d]);
      t[o] = s < 0 ? MV_FILL : s * xs[d];
    }
    mv_add_axis(&j, y->dims[d], 0, ys[d], t);
  }
  mv_emit(c, &j, 1, es);
  return 0;
}

static int gen_depth_space(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int64_t b = ir_attr_int(n, "blocksize", 0);
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], Wd = x->dims[3];
  MvJob j;
  mv_init(&j, 0, n->nin);
  if (n->op == OP_DepthToSpace) {
    bool crd = !strcmp(ir_attr_str(n, "mode", "DCR"), "CRD");
    int64_t Co = y->dims[1], HW = H * Wd;
    /* output viewed as [N, Co, H, b, W, b] */
    int64_t dims[6] = {N, Co, H, b, Wd, b};
    int64_t ss[6] = {C * HW, crd ? b * b * HW : HW, Wd, crd ? b * HW : b * Co * HW, 1, crd ? HW : Co * HW};
    mv_strided(&j, 6, dims, ss);
  } else {
    int64_t Ho = y->dims[2], Wo = y->dims[3];
    /* output viewed as [N, b, b, C, Ho, Wo] */
    int64_t dims[6] = {N, b, b, C, Ho, Wo};
    int64_t ss[6] = {C * H * Wd, Wd, 1, H * Wd, b * Wd, b};
    mv_strided(&j, 6, dims, ss);
  }
  mv_emit(c, &j, 1, dtype_size(x->dtype));
  return 0;
}

/* ================================================================================================
 * index-driven ops
 * ============================================================================================== */
static bool idx_uns(DType t) { return t == DT_UINT8 || t == DT_UINT16 || t == DT_UINT32 || t == DT_UINT64; }

/* load W indices (dtype t) at p, as i64 lanes */
static KV load_idx_vec(KB *kb, DType t, KV base, KV at, int W, KV mask) {
  KElem e = kb_elem_of(t);
  KV v = gen_vload(kb, kt(e, W), kb_gep(kb, e, base, at), mask);
  if (kb_is_float(e)) return kb_cast(kb, v, kt(KE_I64, W), false, false);
  return kb_cast(kb, v, kt(KE_I64, W), idx_uns(t), false);
}

static KV load_idx(KB *kb, DType t, KV base, KV at) {
  KElem e = kb_elem_of(t);
  KV v = kb_load(kb, kt_s(e), kb_gep(kb, e, base, at));
  return kb_cast(kb, v, kt_s(KE_I64), idx_uns(t), false);
}

/* idx < 0 → idx + dim; returns the normalized value; returns status 3 unless 0 <= idx < dim */
static KV check_idx(KB *kb, KV idx, int64_t dim) {
  KV nrm = kb_select(kb, kb_cmp(kb, KC_LT, idx, i64c(kb, 0), false), kb_add(kb, idx, i64c(kb, dim)), idx);
  kb_if(kb, kb_cmp(kb, KC_GE, nrm, i64c(kb, dim), true));
  kb_return_status(kb, kb_i32(kb, ST_INDEX));
  kb_endif(kb);
  return nrm;
}

static KV check_idx_vec(KB *kb, KV idx, int64_t dim, int W, KV mask) {
  KT t = kt(KE_I64, W);
  KV nrm = kb_select(kb, kb_cmp(kb, KC_LT, idx, kb_int(kb, t, 0), false), kb_add(kb, idx, kb_int(kb, t, dim)), idx);
  KV bad = kb_cmp(kb, KC_GE, nrm, kb_int(kb, t, dim), true);
  if (mask) bad = kb_and(kb, bad, mask);
  kb_if(kb, kb_reduce_or(kb, bad));
  kb_return_status(kb, kb_i32(kb, ST_INDEX));
  kb_endif(kb);
  if (mask) nrm = kb_select(kb, mask, nrm, kb_int(kb, t, 0));
  return nrm;
}

/* parallel range helper: loop over [0, units) or [begin, end) */
static KV par_for(GenCtx *c, int64_t units, int64_t bytes) {
  KB *kb = c->kb;
  bool par = bytes >= MV_PAR_BYTES && units > 1;
  c->work = par ? units : 1;
  return kb_for(kb, par ? kb_begin(kb) : i64c(kb, 0), par ? kb_end(kb) : i64c(kb, units), 1);
}

typedef struct GatherVec {
  DType it;
  KElem ke;
  int W;
  KV data, idx, out;
  KV dbase, ibase, obase; /* i64 element offsets */
  int64_t dim, dscale;     /* index bound; index multiplier in data */
} GatherVec;

static void gather_vec_body(KB *kb, void *ud, KV j, KV mask) {
  GatherVec *g = ud;
  KV iv = load_idx_vec(kb, g->it, g->idx, kb_add(kb, g->ibase, j), g->W, mask);
  iv = check_idx_vec(kb, iv, g->dim, g->W, mask);
  if (g->dscale != 1) iv = kb_mul(kb, iv, kb_int(kb, kt(KE_I64, g->W), g->dscale));
  KV v = gather(kb, kt(g->ke, g->W), g->data, kb_add(kb, iv, kb_splat(kb, g->dbase, g->W)), mask);
  gen_vstore(kb, v, kb_gep(kb, g->ke, g->out, kb_add(kb, g->obase, j)), mask);
}

static int gen_gather(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ix = n->in[1], *y = n->out[0];
  int axis;
  if (ir_normalize_axis(c->g, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
  size_t es = dtype_size(x->dtype);
  KElem ke = gen_raw_elem(es);
  int64_t pre = 1, post = 1, A = x->dims[axis], ni = ir_value_numel(ix);
  for (int d = 0; d < axis; d++) pre *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) post *= x->dims[d];
  int64_t total = ir_value_numel(y);
  if (total == 0) return 0;
  KV data = kb_buf(kb, 0), idx = kb_buf(kb, 1), out = kb_buf(kb, n->nin);
  if (post == 1) { /* vectorize over indices: gathers */
    const int64_t CH = 2048;
    int64_t nch = (ni + CH - 1) / CH;
    KV it = par_for(c, pre * nch, total * (int64_t)es);
    KV p = kb_div(kb, it, i64c(kb, nch), true), ch = kb_rem(kb, it, i64c(kb, nch), true);
    KV i0 = kb_mul(kb, ch, i64c(kb, CH));
    KV i1 = kb_min(kb, kb_add(kb, i0, i64c(kb, CH)), i64c(kb, ni), false);
    GatherVec g = {ix->dtype, ke, gen_lanes_cap(c, es, 16), data, idx, out, kb_mul(kb, p, i64c(kb, A)),
                   i64c(kb, 0), kb_mul(kb, p, i64c(kb, ni)), A, 1};
    gen_vec_loop(kb, i0, i1, g.W, gather_vec_body, &g);
    kb_endfor(kb);
    return 0;
  }
  /* row copies: one index selects a contiguous row of `post` elements */
  KV it = par_for(c, pre * ni, total * (int64_t)es);
  KV p = kb_div(kb, it, i64c(kb, ni), true), i = kb_rem(kb, it, i64c(kb, ni), true);
  KV iv = check_idx(kb, load_idx(kb, ix->dtype, idx, i), A);
  KV soff = kb_mul(kb, kb_add(kb, kb_mul(kb, p, i64c(kb, A)), iv), i64c(kb, post));
  KV doff = kb_mul(kb, it, i64c(kb, post));
  copy_run(c, ke, kb_gep(kb, ke, out, doff), kb_gep(kb, ke, data, soff), i64c(kb, post), post);
  kb_endfor(kb);
  return 0;
}

/* GatherElements: vectorized over the innermost axis of the indices */
typedef struct GEl {
  DType it;
  KElem ke;
  int W;
  KV data, idx, out;
  KV rowd, rowi;       /* data offset (without the axis term), index/output row offset */
  int64_t dim, sa;     /* axis extent, data stride of the axis */
  bool inner_is_axis;
} GEl;

static void gel_body(KB *kb, void *ud, KV j, KV mask) {
  GEl *g = ud;
  int W = g->W;
  KV iv = load_idx_vec(kb, g->it, g->idx, kb_add(kb, g->rowi, j), W, mask);
  iv = check_idx_vec(kb, iv, g->dim, W, mask);
  KV off = kb_add(kb, kb_mul(kb, iv, kb_int(kb, kt(KE_I64, W), g->sa)), kb_splat(kb, g->rowd, W));
  if (!g->inner_is_axis) off = kb_add(kb, off, lane_idx(kb, j, 1, W));
  KV v = gather(kb, kt(g->ke, W), g->data, off, mask);
  gen_vstore(kb, v, kb_gep(kb, g->ke, g->out, kb_add(kb, g->rowi, j)), mask);
}

static int gen_gather_elements(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ix = n->in[1];
  int r = ix->rank, axis;
  if (ir_normalize_axis(c->g, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
  size_t es = dtype_size(x->dtype);
  int64_t xs[IR_MAX_RANK], total = ir_value_numel(ix);
  if (total == 0) return 0;
  gen_strides(r, x->dims, xs);
  int64_t inner = ix->dims[r - 1], rows = total / inner;
  KV it = par_for(c, rows, total * (int64_t)es);
  KV rowd = i64c(kb, 0), rem = it;
  for (int d = r - 2; d >= 0; d--) {
    KV q = d > 0 ? kb_rem(kb, rem, i64c(kb, ix->dims[d]), true) : rem;
    if (d > 0) rem = kb_div(kb, rem, i64c(kb, ix->dims[d]), true);
    if (d != axis) rowd = kb_add(kb, rowd, kb_mul(kb, q, i64c(kb, xs[d])));
  }
  GEl g = {ix->dtype, gen_raw_elem(es), gen_lanes_cap(c, es, 16), kb_buf(kb, 0), kb_buf(kb, 1), kb_buf(kb, n->nin),
           rowd, kb_mul(kb, it, i64c(kb, inner)), x->dims[axis], xs[axis], axis == r - 1};
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, inner), g.W, gel_body, &g);
  kb_endfor(kb);
  return 0;
}

/* GatherND */
typedef struct GNd {
  DType it;
  KElem ke;
  int W, k, bdim;
  KV data, idx, out;
  KV ibase, dbase;       /* ibase: tuple-number offset of this batch; dbase: data batch offset */
  int64_t dims[IR_MAX_RANK], strides[IR_MAX_RANK]; /* of the k indexed data axes */
} GNd;

static void gnd_body(KB *kb, void *ud, KV j, KV mask) {
  GNd *g = ud;
  int W = g->W;
  KT t = kt(KE_I64, W);
  KV tup = kb_mul(kb, kb_add(kb, lane_idx(kb, g->ibase, 1, W), kb_splat(kb, j, W)), kb_int(kb, t, g->k));
  KV off = kb_splat(kb, g->dbase, W);
  KElem ie = kb_elem_of(g->it);
  for (int q = 0; q < g->k; q++) {
    KV iv = gather(kb, kt(ie, W), g->idx, kb_add(kb, tup, kb_int(kb, t, q)), mask);
    iv = kb_cast(kb, iv, t, idx_uns(g->it), false);
    iv = check_idx_vec(kb, iv, g->dims[q], W, mask);
    off = kb_add(kb, off, kb_mul(kb, iv, kb_int(kb, t, g->strides[q])));
  }
  KV v = gather(kb, kt(g->ke, W), g->data, off, mask);
  gen_vstore(kb, v, kb_gep(kb, g->ke, g->out, kb_add(kb, g->ibase, j)), mask);
}

static int gen_gather_nd(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ix = n->in[1], *y = n->out[0];
  int b = (int)ir_attr_int(n, "batch_dims", 0), k = (int)ix->dims[ix->rank - 1];
  size_t es = dtype_size(x->dtype);
  KElem ke = gen_raw_elem(es);
  int64_t xs[IR_MAX_RANK], nb = 1, nm = 1, R = 1, bstride = 1;
  gen_strides(x->rank, x->dims, xs);
  for (int d = 0; d < b; d++) nb *= ix->dims[d];
  for (int d = b; d < ix->rank - 1; d++) nm *= ix->dims[d];
  for (int d = b + k; d < x->rank; d++) R *= x->dims[d];
  bstride = b > 0 ? xs[b - 1] : 0;
  int64_t total = ir_value_numel(y);
  if (total == 0) return 0;
  GNd g;
  memset(&g, 0, sizeof g);
  g.it = ix->dtype;
  g.ke = ke;
  g.k = k;
  g.data = kb_buf(kb, 0);
  g.idx = kb_buf(kb, 1);
  g.out = kb_buf(kb, n->nin);
  for (int q = 0; q < k; q++) {
    g.dims[q] = x->dims[b + q];
    g.strides[q] = xs[b + q];
  }
  if (R == 1) { /* vectorized over tuples */
    KV it = par_for(c, nb, total * (int64_t)es);
    g.W = gen_lanes_cap(c, es, 16);
    g.ibase = kb_mul(kb, it, i64c(kb, nm));
    g.dbase = kb_mul(kb, it, i64c(kb, bstride));
    gen_vec_loop(kb, i64c(kb, 0), i64c(kb, nm), g.W, gnd_body, &g);
    kb_endfor(kb);
    return 0;
  }
  KV it = par_for(c, nb * nm, total * (int64_t)es); /* one tuple → one contiguous slice of R */
  KV bi = kb_div(kb, it, i64c(kb, nm), true);
  KV off = kb_mul(kb, bi, i64c(kb, bstride));
  for (int q = 0; q < k; q++) {
    KV iv = load_idx(kb, ix->dtype, g.idx, kb_add(kb, kb_mul(kb, it, i64c(kb, k)), i64c(kb, q)));
    iv = check_idx(kb, iv, g.dims[q]);
    off = kb_add(kb, off, kb_mul(kb, iv, i64c(kb, g.strides[q])));
  }
  copy_run(c, ke, kb_gep(kb, ke, g.out, kb_mul(kb, it, i64c(kb, R))), kb_gep(kb, ke, g.data, off), i64c(kb, R), R);
  kb_endfor(kb);
  return 0;
}

/* ---- Scatter ---- */
enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int reduction_of(GenCtx *c, int *red) {
  const char *s = ir_attr_str(c->n, "reduction", "none");
  if (!strcmp(s, "none")) *red = RED_NONE;
  else if (!strcmp(s, "add")) *red = RED_ADD;
  else if (!strcmp(s, "mul")) *red = RED_MUL;
  else if (!strcmp(s, "max")) *red = RED_MAX;
  else if (!strcmp(s, "min")) *red = RED_MIN;
  else return ir_node_error(c->g, c->n, "unknown reduction '%s'", s);
  return 0;
}

static KV apply_red(KB *kb, int red, DType t, KV a, KV b) {
  bool uns = !dtype_is_signed(t);
  if (t == DT_BOOL) {
    switch (red) {
    case RED_ADD:
    case RED_MAX: return kb_or(kb, a, b);
    case RED_MUL:
    case RED_MIN: return kb_and(kb, a, b);
    default: return b;
    }
  }
  switch (red) {
  case RED_ADD: return kb_add(kb, a, b);
  case RED_MUL: return kb_mul(kb, a, b);
  case RED_MAX: return kb_max(kb, a, b, uns);
  case RED_MIN: return kb_min(kb, a, b, uns);
  default: return b;
  }
}

/* copy data → output (whole tensor, single thread: the scatter that follows needs it complete) */
static void copy_all(GenCtx *c, Value *x) {
  KB *kb = c->kb;
  int64_t bytes = ir_value_numel(x) * (int64_t)dtype_size(x->dtype);
  if (bytes > 0) kb_memcpy(kb, kb_buf(kb, c->n->nin), kb_buf(kb, 0), i64c(kb, bytes));
}

/* row update: out[doff + j] = red(out[doff + j], upd[uoff + j]) over a contiguous row */
typedef struct RowUpd {
  DType t;
  int red, W;
  KV out, upd, doff, uoff;
} RowUpd;

static void rowupd_body(KB *kb, void *ud, KV j, KV mask) {
  RowUpd *r = ud;
  KV u = gen_load_vec(kb, r->t, r->upd, kb_add(kb, r->uoff, j), r->W, mask);
  KV v = u;
  if (r->red != RED_NONE) v = apply_red(kb, r->red, r->t, gen_load_vec(kb, r->t, r->out, kb_add(kb, r->doff, j), r->W, mask), u);
  gen_store_vec(kb, r->t, r->out, kb_add(kb, r->doff, j), v, mask);
}

static int gen_scatter_nd(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ix = n->in[1];
  int red;
  if (reduction_of(c, &red)) return -1;
  int k = (int)ix->dims[ix->rank - 1];
  int64_t xs[IR_MAX_RANK], R = 1, nu = ir_value_numel(ix) / (k ? k : 1);
  gen_strides(x->rank, x->dims, xs);
  for (int d = k; d < x->rank; d++) R *= x->dims[d];
  copy_all(c, x);
  if (nu == 0 || R == 0) return 0;
  KV it = kb_for(kb, i64c(kb, 0), i64c(kb, nu), 1);
  KV off = i64c(kb, 0);
  for (int q = 0; q < k; q++) {
    KV iv = load_idx(kb, ix->dtype, kb_buf(kb, 1), kb_add(kb, kb_mul(kb, it, i64c(kb, k)), i64c(kb, q)));
    iv = check_idx(kb, iv, x->dims[q]);
    off = kb_add(kb, off, kb_mul(kb, iv, i64c(kb, xs[q])));
  }
  size_t cs = x->dtype == DT_BOOL ? 1 : kb_elem_size(gen_compute_elem(x->dtype));
  RowUpd ru = {x->dtype, red, gen_lanes_cap(c, cs, 64), kb_buf(kb, n->nin), kb_buf(kb, 2), off, kb_mul(kb, it, i64c(kb, R))};
  if (R == 1) ru.W = 1;
  else
    while (ru.W > 2 && ru.W / 2 >= R) ru.W /= 2;
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, R), ru.W, rowupd_body, &ru);
  kb_endfor(kb);
  return 0;
}

/* ScatterElements: vectorized over the innermost axis when it is not the scatter axis (distinct
 * addresses within a vector); along the axis itself scatters with reduction go one by one. */
typedef struct SEl {
  DType t, it;
  int red, W;
  KV out, idx, upd;
  KV rowd, rowi;
  int64_t dim, sa;
  bool inner_is_axis;
} SEl;

static void sel_body(KB *kb, void *ud, KV j, KV mask) {
  SEl *s = ud;
  int W = s->W;
  KV iv = load_idx_vec(kb, s->it, s->idx, kb_add(kb, s->rowi, j), W, mask);
  iv = check_idx_vec(kb, iv, s->dim, W, mask);
  KV off = kb_add(kb, kb_mul(kb, iv, kb_int(kb, kt(KE_I64, W), s->sa)), kb_splat(kb, s->rowd, W));
  if (!s->inner_is_axis) off = kb_add(kb, off, lane_idx(kb, j, 1, W));
  KElem e = kb_elem_of(s->t);
  KV u = gen_vload(kb, kt(e, W), kb_gep(kb, e, s->upd, kb_add(kb, s->rowi, j)), mask);
  if (s->red != RED_NONE) {
    KV o = gather(kb, kt(e, W), s->out, off, mask);
    KElem ce = gen_compute_elem(s->t);
    if (s->t == DT_BOOL) {
      KV z = kb_int(kb, kt(KE_I8, W), 0);
      u = kb_cast(kb, apply_red(kb, s->red, s->t, kb_cmp(kb, KC_NE, o, z, false), kb_cmp(kb, KC_NE, u, z, false)),
                  kt(KE_I8, W), false, false);
    } else if (ce != e) {
      KV r = apply_red(kb, s->red, s->t, kb_cast(kb, o, kt(ce, W), false, false), kb_cast(kb, u, kt(ce, W), false, false));
      u = kb_cast(kb, r, kt(e, W), false, false);
    } else
      u = apply_red(kb, s->red, s->t, o, u);
  }
  scatter(kb, u, s->out, off, mask);
}

static int gen_scatter_elements(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *ix = n->in[1];
  int red, axis, r = x->rank;
  if (reduction_of(c, &red)) return -1;
  if (ir_normalize_axis(c->g, n, ir_attr_int(n, "axis", 0), r, &axis)) return -1;
  int64_t xs[IR_MAX_RANK], total = ir_value_numel(ix);
  gen_strides(r, x->dims, xs);
  copy_all(c, x);
  if (total == 0) return 0;
  int64_t inner = ix->dims[r - 1], rows = total / inner;
  KV it = kb_for(kb, i64c(kb, 0), i64c(kb, rows), 1);
  KV rowd = i64c(kb, 0), rem = it;
  for (int d = r - 2; d >= 0; d--) {
    KV q = d > 0 ? kb_rem(kb, rem, i64c(kb, ix->dims[d]), true) : rem;
    if (d > 0) rem = kb_div(kb, rem, i64c(kb, ix->dims[d]), true);
    if (d != axis) rowd = kb_add(kb, rowd, kb_mul(kb, q, i64c(kb, xs[d])));
  }
  size_t es = dtype_size(x->dtype);
  SEl s = {x->dtype, ix->dtype, red, gen_lanes_cap(c, es, 16), kb_buf(kb, n->nin), kb_buf(kb, 1), kb_buf(kb, 2),
           rowd, kb_mul(kb, it, i64c(kb, inner)), x->dims[axis], xs[axis], axis == r - 1};
  if (s.inner_is_axis && red != RED_NONE) s.W = 1; /* duplicates within a row must accumulate */
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, inner), s.W, sel_body, &s);
  kb_endfor(kb);
  return 0;
}

/* ---- Trilu ---- */
typedef struct TriCtx {
  KElem ke;
  int W;
  bool upper;
  KV x, y, off, lim; /* keep j - i >= k (upper) / j - i <= k (lower): compare j with lim = i + k */
} TriCtx;

static void tri_body(KB *kb, void *ud, KV j, KV mask) {
  TriCtx *t = ud;
  KV v = gen_vload(kb, kt(t->ke, t->W), kb_gep(kb, t->ke, t->x, kb_add(kb, t->off, j)), mask);
  KV jv = lane_idx(kb, j, 1, t->W), lim = kb_splat(kb, t->lim, t->W);
  KV keep = kb_cmp(kb, t->upper ? KC_GE : KC_LE, jv, lim, false);
  v = kb_select(kb, keep, v, kb_int(kb, kt(t->ke, t->W), 0));
  gen_vstore(kb, v, kb_gep(kb, t->ke, t->y, kb_add(kb, t->off, j)), mask);
}

static int gen_trilu(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0];
  int r = x->rank;
  int64_t rows = ir_value_numel(x) / (x->dims[r - 1] ? x->dims[r - 1] : 1), cols = x->dims[r - 1];
  int64_t N = x->dims[r - 2];
  size_t es = dtype_size(x->dtype);
  if (ir_value_numel(x) == 0) return 0;
  KV k = i64c(kb, 0);
  if (n->nin > 1 && n->in[1]) {
    Value *kv = n->in[1];
    k = load_idx(kb, kv->dtype, kb_buf(kb, 1), i64c(kb, 0));
    /* j - i lies in [-(N-1), cols-1]: clamping k to [-N, cols] keeps the result, avoids overflow */
    k = kb_max(kb, kb_min(kb, k, i64c(kb, cols), false), i64c(kb, -N), false);
  }
  KV it = par_for(c, rows, rows * cols * (int64_t)es);
  KV i = kb_rem(kb, it, i64c(kb, N), true);
  TriCtx t = {gen_raw_elem(es), gen_lanes_cap(c, es, 64), ir_attr_int(n, "upper", 1) != 0, kb_buf(kb, 0),
              kb_buf(kb, n->nin), kb_mul(kb, it, i64c(kb, cols)), kb_add(kb, i, k)};
  while (t.W > 2 && t.W / 2 >= cols) t.W /= 2;
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, cols), t.W, tri_body, &t);
  kb_endfor(kb);
  return 0;
}

/* ================================================================================================
 * Resize
 * ============================================================================================== */
typedef struct RzAxis {
  int64_t in, out;
  double scale;
  double roi0, roi1;
  int taps;         /* taps per output position */
  int64_t *idx;     /* out × taps clamped source indices */
  double *w;        /* out × taps weights */
  unsigned char *ext; /* out: 1 = extrapolate (tf_crop_and_resize out of range) */
  bool identity, anyext;
} RzAxis;

typedef struct RzParams {
  const char *mode, *ctm, *nearest;
  double cubic_a, extrap;
  bool exclude, antialias;
} RzParams;

static void rz_free(RzAxis *a, int r) {
  for (int d = 0; d < r; d++) {
    free(a[d].idx);
    free(a[d].w);
    free(a[d].ext);
  }
}

static double cubic_w(double x, double A) {
  x = fabs(x);
  if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

/* source coordinate of output position o; *ext set when it falls outside (tf_crop_and_resize) */
static double rz_coord(const RzParams *p, const RzAxis *a, int64_t o, bool *ext) {
  double s = a->scale, in = (double)a->in, ow = s * in, x;
  *ext = false;
  if (!strcmp(p->ctm, "align_corners")) x = ow == 1 ? 0 : (double)o * (in - 1) / (ow - 1);
  else if (!strcmp(p->ctm, "asymmetric")) x = (double)o / s;
  else if (!strcmp(p->ctm, "tf_half_pixel_for_nn")) x = ((double)o + 0.5) / s;
  else if (!strcmp(p->ctm, "tf_crop_and_resize")) {
    x = ow == 1 ? (a->roi1 - a->roi0) * (in - 1) / 2 : (double)o * (a->roi1 - a->roi0) * (in - 1) / (ow - 1);
    x += a->roi0 * (in - 1);
    *ext = x < 0 || x > in - 1;
  } else if (!strcmp(p->ctm, "pytorch_half_pixel")) x = ow == 1 ? -0.5 : ((double)o + 0.5) / s - 0.5;
  else if (!strcmp(p->ctm, "half_pixel_symmetric")) {
    double adj = (double)a->out / ow, center = in / 2, off = center * (1 - adj);
    x = off + ((double)o + 0.5) / s - 0.5;
  } else
    x = ((double)o + 0.5) / s - 0.5; /* half_pixel */
  return x;
}

/* fill a->idx / a->w / a->ext (nearest: one tap) */
static void rz_axis_plan(const RzParams *p, RzAxis *a) {
  bool nearest = !strcmp(p->mode, "nearest"), cubic = !strcmp(p->mode, "cubic");
  double sc = a->scale < 1 ? a->scale : 1;
  bool aa = p->antialias && !nearest && a->scale < 1;
  int start, taps;
  if (nearest) start = 0, taps = 1;
  else if (cubic) {
    start = aa ? (int)floor(-2 / sc) + 1 : -1;
    taps = aa ? 2 - 2 * start : 4;
  } else {
    start = aa ? (int)floor(-1 / sc) + 1 : 0;
    taps = 2 - 2 * start;
  }
  a->taps = taps;
  a->idx = ir_xcalloc((size_t)(a->out * taps + 1), sizeof(int64_t));
  a->w = ir_xcalloc((size_t)(a->out * taps + 1), sizeof(double));
  a->ext = ir_xcalloc((size_t)a->out + 1, 1);
  for (int64_t o = 0; o < a->out; o++) {
    bool ext;
    double x = rz_coord(p, a, o, &ext), xf = floor(x), ratio;
    int64_t base;
    a->ext[o] = ext;
    a->anyext |= ext;
    if (x == xf) base = (int64_t)xf - 1, ratio = 1;
    else base = (int64_t)xf, ratio = x - xf;
    int64_t *ix = a->idx + o * taps;
    double *w = a->w + o * taps, sum = 0;
    if (nearest) {
      bool up;
      if (ratio == 1) up = true;
      else if (!strcmp(p->nearest, "round_prefer_ceil")) up = ratio >= 0.5;
      else if (!strcmp(p->nearest, "floor")) up = false;
      else if (!strcmp(p->nearest, "ceil")) up = true;
      else up = ratio > 0.5; /* round_prefer_floor */
      int64_t s = base + (up ? 1 : 0);
      ix[0] = s < 0 ? 0 : s >= a->in ? a->in - 1 : s;
      w[0] = 1;
      continue;
    }
    for (int t = 0; t < taps; t++) {
      double d = start + t - ratio; /* tap position minus x */
      if (cubic) w[t] = aa ? cubic_w(d * sc, p->cubic_a) : cubic_w(d, p->cubic_a);
      else w[t] = aa ? fmax(0, 1 - fabs(d * sc)) : (t == 0 ? 1 - ratio : ratio);
      sum += w[t];
    }
    if (aa && sum != 0)
      for (int t = 0; t < taps; t++) w[t] /= sum;
    sum = 0;
    for (int t = 0; t < taps; t++) {
      int64_t s = base + start + t;
      if (p->exclude && (s < 0 || s >= a->in)) w[t] = 0;
      sum += w[t];
      ix[t] = s < 0 ? 0 : s >= a->in ? a->in - 1 : s;
    }
    if (p->exclude && sum != 0)
      for (int t = 0; t < taps; t++) w[t] /= sum;
  }
  /* identity: out == in and every position reads exactly its own index with weight 1 */
  a->identity = a->in == a->out && !a->anyext;
  for (int64_t o = 0; o < a->out && a->identity; o++)
    for (int t = 0; t < taps; t++) {
      double w = a->w[o * taps + t];
      if (w != 0 && !(a->idx[o * taps + t] == o && fabs(w - 1) < 1e-12)) a->identity = false;
    }
  /* drop taps that are zero everywhere at the end (compress): keep simple — move non-zero taps first */
  if (!nearest) {
    int maxnz = 0;
    for (int64_t o = 0; o < a->out; o++) {
      int64_t *ix = a->idx + o * taps;
      double *w = a->w + o * taps;
      int k = 0;
      for (int t = 0; t < taps; t++)
        if (w[t] != 0) {
          ix[k] = ix[t];
          w[k] = w[t];
          k++;
        }
      for (int t = k; t < taps; t++) {
        ix[t] = ix[0];
        w[t] = 0;
      }
      if (k > maxnz) maxnz = k;
    }
    if (maxnz < 1) maxnz = 1;
    if (maxnz < taps) { /* repack to maxnz taps */
      for (int64_t o = 0; o < a->out; o++)
        for (int t = 0; t < maxnz; t++) {
          a->idx[o * maxnz + t] = a->idx[o * taps + t];
          a->w[o * maxnz + t] = a->w[o * taps + t];
        }
      a->taps = maxnz;
    }
  }
}

/* resolve scales/sizes/roi/axes per axis (same rules as shape inference) */
static int rz_setup(GenCtx *c, RzParams *p, RzAxis *ax) {
  Node *n = c->n;
  Graph *g = c->g;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  bool v10 = g->opset > 0 && g->opset < 11;
  Value *roi = NULL, *sc = NULL, *sz = NULL;
  if (v10) sc = n->nin > 1 ? n->in[1] : NULL;
  else {
    roi = n->nin > 1 ? n->in[1] : NULL;
    sc = n->nin > 2 ? n->in[2] : NULL;
    sz = n->nin > 3 ? n->in[3] : NULL;
  }
  for (int i = 1; i < n->nin; i++) {
    if (n->in[i] && (n->in[i]->kind != VK_CONST || !n->in[i]->data))
      return ir_node_error(g, n, "input %d must be a constant", i);
    mark_unused(c, i);
  }
  if (sc && ir_value_numel(sc) == 0) sc = NULL;
  if (sz && ir_value_numel(sz) == 0) sz = NULL;
  if (roi && ir_value_numel(roi) == 0) roi = NULL;
  p->mode = ir_attr_str(n, "mode", "nearest");
  p->ctm = ir_attr_str(n, "coordinate_transformation_mode", v10 ? "asymmetric" : "half_pixel");
  p->nearest = ir_attr_str(n, "nearest_mode", v10 ? "floor" : "round_prefer_floor");
  p->cubic_a = ir_attr_float(n, "cubic_coeff_a", -0.75f);
  p->exclude = ir_attr_int(n, "exclude_outside", 0) != 0;
  p->antialias = ir_attr_int(n, "antialias", 0) != 0;
  p->extrap = ir_attr_float(n, "extrapolation_value", 0.0f);
  if (strcmp(p->mode, "nearest") && strcmp(p->mode, "linear") && strcmp(p->mode, "cubic"))
    return ir_node_error(g, n, "unknown mode '%s'", p->mode);
  if (!strcmp(p->ctm, "tf_crop_and_resize") && !roi)
    return ir_node_error(g, n, "tf_crop_and_resize needs a roi input");
  int64_t axes[IR_MAX_RANK];
  const int64_t *ap;
  int na = ir_attr_ints(n, "axes", &ap);
  if (na < 0) {
    na = r;
    for (int i = 0; i < r; i++) axes[i] = i;
  } else
    for (int i = 0; i < na && i < IR_MAX_RANK; i++) axes[i] = ap[i] < 0 ? ap[i] + r : ap[i];
  for (int d = 0; d < r; d++) {
    memset(&ax[d], 0, sizeof ax[d]);
    ax[d].in = x->dims[d];
    ax[d].out = y->dims[d];
    ax[d].scale = 1;
    ax[d].roi0 = 0;
    ax[d].roi1 = 1;
  }
  const char *pol = ir_attr_str(n, "keep_aspect_ratio_policy", "stretch");
  double common = !strcmp(pol, "not_smaller") ? 0 : INFINITY;
  for (int i = 0; i < na; i++) {
    int d = (int)axes[i];
    if (d < 0 || d >= r) return ir_node_error(g, n, "axis out of range");
    if (sc) ax[d].scale = (double)(float)ir_const_f64(sc, i);
    else if (sz) {
      ax[d].scale = (double)ir_const_i64(sz, i) / (double)x->dims[d];
      common = !strcmp(pol, "not_smaller") ? fmax(common, ax[d].scale) : fmin(common, ax[d].scale);
    }
    if (roi && ir_value_numel(roi) >= 2 * na) {
      ax[d].roi0 = ir_const_f64(roi, i);
      ax[d].roi1 = ir_const_f64(roi, na + i);
    }
  }
  if (sz && strcmp(pol, "stretch"))
    for (int i = 0; i < na; i++) ax[axes[i]].scale = common;
  return 0;
}

static int gen_resize_nearest(GenCtx *c, RzParams *p, RzAxis *ax) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
  gen_strides(r, x->dims, xs);
  gen_strides(r, y->dims, ys);
  MvJob j;
  mv_init(&j, 0, n->nin);
  size_t es = dtype_size(x->dtype);
  j.fill = kb_int(c->kb, kt_s(gen_raw_elem(es)), raw_bits(x->dtype, p->extrap));
  for (int d = 0; d < r; d++) {
    int64_t *t = tab_new(y->dims[d]);
    for (int64_t o = 0; o < y->dims[d]; o++) t[o] = ax[d].ext[o] ? MV_FILL : ax[d].idx[o] * xs[d];
    mv_add_axis(&j, y->dims[d], 0, ys[d], t);
  }
  mv_emit(c, &j, 1, es);
  return 0;
}

typedef struct RzInner {
  DType t;
  KElem ce;        /* compute element (f32 / f64) */
  int W, taps;
  bool identity;
  KV x, acc;       /* acc: scratch row (compute elements) */
  KV xoff, w;      /* this combination's input offset (i64) and weight (ce scalar) */
  KV idx, wt;      /* inner tables: idx i32 [taps][n], weights ce [taps][n] */
  int64_t n;
} RzInner;

static KV load_as(KB *kb, DType t, KElem ce, KV base, KV at, int W, KV mask) {
  KV v = gen_load_vec(kb, t, base, at, W, mask);
  return kb_cast(kb, v, kt(ce, W), !dtype_is_signed(t), false);
}

static void rz_inner_body(KB *kb, void *ud, KV j, KV mask) {
  RzInner *z = ud;
  int W = z->W;
  KT ct = kt(z->ce, W);
  KV sum;
  if (z->identity) sum = load_as(kb, z->t, z->ce, z->x, kb_add(kb, z->xoff, j), W, mask);
  else {
    sum = kb_float(kb, ct, 0);
    KElem le = kb_elem_of(z->t);
    KV xb = kb_gep(kb, le, z->x, z->xoff);
    for (int t = 0; t < z->taps; t++) {
      KV at = kb_add(kb, j, i64c(kb, t * z->n));
      KV iv = gen_vload(kb, kt(KE_I32, W), kb_gep(kb, KE_I32, z->idx, at), mask);
      KV wv = gen_vload(kb, ct, kb_gep(kb, z->ce, z->wt, at), mask);
      KV v = gather(kb, kt(le, W), xb, iv, mask);
      v = kb_cast(kb, v, ct, !dtype_is_signed(z->t), false);
      sum = kb_fma(kb, v, wv, sum);
    }
  }
  KV p = kb_gep(kb, z->ce, z->acc, j);
  KV a = gen_vload(kb, ct, p, mask);
  gen_vstore(kb, kb_fma(kb, sum, kb_splat(kb, z->w, W), a), p, mask);
}

typedef struct RzOut {
  DType t;
  KElem ce;
  int W;
  KV acc, y, yoff, ext; /* ext: i8 table of the inner axis or NULL */
  double extrap;
  KV rowext;            /* scalar i1: the whole row is outside the crop (or NULL) */
} RzOut;

static void rz_out_body(KB *kb, void *ud, KV j, KV mask) {
  RzOut *z = ud;
  int W = z->W;
  KT ct = kt(z->ce, W);
  KV v = gen_vload(kb, ct, kb_gep(kb, z->ce, z->acc, j), mask);
  if (z->ext) {
    KV e = gen_vload(kb, kt(KE_I8, W), kb_gep(kb, KE_I8, z->ext, j), mask);
    v = kb_select(kb, kb_cmp(kb, KC_NE, e, kb_int(kb, kt(KE_I8, W), 0), false), kb_float(kb, ct, z->extrap), v);
  }
  if (z->rowext) v = kb_select(kb, kb_splat(kb, z->rowext, W), kb_float(kb, ct, z->extrap), v);
  KElem oe = gen_compute_elem(z->t);
  if (!kb_is_float(oe)) {
    v = kb_round_even(kb, v);
    v = kb_cast(kb, v, kt(oe, W), false, !dtype_is_signed(z->t));
  } else if (oe != z->ce)
    v = kb_cast(kb, v, kt(oe, W), false, false);
  gen_store_vec(kb, z->t, z->y, kb_add(kb, z->yoff, j), v, mask);
}

static void rz_zero_body(KB *kb, void *ud, KV j, KV mask) {
  RzOut *z = ud;
  gen_vstore(kb, kb_float(kb, kt(z->ce, z->W), 0), kb_gep(kb, z->ce, z->acc, j), mask);
}

/* ---- separable 2-D schedule: only axes h = r-2 and w = r-1 are resized (no crop extrapolation).
 * Per unit (plane × block of RZ_OB output rows): the input rows that block needs are interpolated
 * horizontally once into scratch, then each output row is a weighted sum of scratch rows. */
#define RZ_OB 16
#define RZ_MAX_VTAPS 16
#define RZ_MAX_SCRATCH (1 << 20)

typedef struct RzH {
  DType t;
  KElem ce;
  int W, taps;
  KV xrow, dst, idx, wt; /* input row (typed), scratch row (ce), inner tables */
  int64_t n;
} RzH;

static void rz_h_body(KB *kb, void *ud, KV j, KV mask) {
  RzH *z = ud;
  KT ct = kt(z->ce, z->W);
  KElem le = kb_elem_of(z->t);
  KV sum = kb_float(kb, ct, 0);
  for (int t = 0; t < z->taps; t++) {
    KV at = kb_add(kb, j, i64c(kb, t * z->n));
    KV iv = gen_vload(kb, kt(KE_I32, z->W), kb_gep(kb, KE_I32, z->idx, at), mask);
    KV wv = gen_vload(kb, ct, kb_gep(kb, z->ce, z->wt, at), mask);
    KV v = kb_cast(kb, gather(kb, kt(le, z->W), z->xrow, iv, mask), ct, !dtype_is_signed(z->t), false);
    sum = kb_fma(kb, v, wv, sum);
  }
  gen_vstore(kb, sum, kb_gep(kb, z->ce, z->dst, j), mask);
}

typedef struct RzV {
  DType t;
  KElem ce;
  int W, taps;
  KV rows[RZ_MAX_VTAPS], w[RZ_MAX_VTAPS]; /* scratch rows (ce ptrs) and scalar weights */
  KV y, yoff;
} RzV;

static KV rz_convert_out(KB *kb, DType t, KV v, int W) {
  KElem oe = gen_compute_elem(t);
  if (!kb_is_float(oe)) return kb_cast(kb, kb_round_even(kb, v), kt(oe, W), false, !dtype_is_signed(t));
  if (oe != kb_type(kb, v).e) return kb_cast(kb, v, kt(oe, W), false, false);
  return v;
}

static void rz_v_body(KB *kb, void *ud, KV j, KV mask) {
  RzV *z = ud;
  KT ct = kt(z->ce, z->W);
  KV acc = NULL;
  for (int t = 0; t < z->taps; t++) {
    KV v = gen_vload(kb, ct, kb_gep(kb, z->ce, z->rows[t], j), mask);
    KV w = kb_splat(kb, z->w[t], z->W);
    acc = acc ? kb_fma(kb, v, w, acc) : kb_mul(kb, v, w);
  }
  gen_store_vec(kb, z->t, z->y, kb_add(kb, z->yoff, j), rz_convert_out(kb, z->t, acc, z->W), mask);
}

/* returns 1 if handled, 0 if the schedule does not apply */
static int gen_resize_hv(GenCtx *c, RzAxis *ax, KElem ce) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  if (r < 2) return 0;
  RzAxis *H = &ax[r - 2], *Wa = &ax[r - 1];
  for (int d = 0; d < r - 2; d++)
    if (!ax[d].identity) return 0;
  if (H->identity || Wa->identity || H->anyext || Wa->anyext || H->taps > RZ_MAX_VTAPS) return 0;
  if (Wa->in > INT32_MAX) return 0;
  size_t cs = kb_elem_size(ce);
  int64_t ow = Wa->out, oh = H->out, iw = Wa->in, ih = H->in;
  int64_t nblk = (oh + RZ_OB - 1) / RZ_OB, maxrows = 0;
  int64_t *blo = tab_new(nblk), *bcnt = tab_new(nblk);
  for (int64_t b = 0; b < nblk; b++) {
    int64_t lo = INT64_MAX, hi = -1;
    for (int64_t o = b * RZ_OB; o < oh && o < (b + 1) * RZ_OB; o++)
      for (int t = 0; t < H->taps; t++) {
        int64_t q = H->idx[o * H->taps + t];
        lo = q < lo ? q : lo;
        hi = q > hi ? q : hi;
      }
    blo[b] = lo;
    bcnt[b] = hi - lo + 1;
    if (bcnt[b] > maxrows) maxrows = bcnt[b];
  }
  int64_t rowbytes = (ow * (int64_t)cs + 63) / 64 * 64;
  if (maxrows * rowbytes > RZ_MAX_SCRATCH) {
    free(blo);
    free(bcnt);
    return 0;
  }
  c->scratch_bytes = maxrows * rowbytes;
  KV tlo = kb_weight(kb, blo, sizeof(int64_t) * (size_t)nblk), tcnt = kb_weight(kb, bcnt, sizeof(int64_t) * (size_t)nblk);
  free(blo);
  free(bcnt);
  /* tables: horizontal [tap][ow] (i32 index, ce weight); vertical [oh][tap] (i64 row, ce weight) */
  int64_t mw = ow * Wa->taps, mh = oh * H->taps;
  int32_t *ti = ir_xmalloc(sizeof(int32_t) * (size_t)mw + 4);
  void *tw = ir_xmalloc((size_t)mw * cs + 8), *vw = ir_xmalloc((size_t)mh * cs + 8);
  for (int64_t o = 0; o < ow; o++)
    for (int t = 0; t < Wa->taps; t++) {
      ti[t * ow + o] = (int32_t)Wa->idx[o * Wa->taps + t];
      if (ce == KE_F64) ((double *)tw)[t * ow + o] = Wa->w[o * Wa->taps + t];
      else ((float *)tw)[t * ow + o] = (float)Wa->w[o * Wa->taps + t];
    }
  for (int64_t q = 0; q < mh; q++) {
    if (ce == KE_F64) ((double *)vw)[q] = H->w[q];
    else ((float *)vw)[q] = (float)H->w[q];
  }
  KV hidx = kb_weight(kb, ti, sizeof(int32_t) * (size_t)mw), hw = kb_weight(kb, tw, (size_t)mw * cs);
  KV vidx = kb_weight(kb, H->idx, sizeof(int64_t) * (size_t)mh), vwt = kb_weight(kb, vw, (size_t)mh * cs);
  free(ti);
  free(tw);
  free(vw);
  int64_t planes = oh * ow > 0 ? ir_value_numel(y) / (oh * ow) : 0;
  int W = gen_lanes_cap(c, cs, 16);
  KV it = par_for(c, planes * nblk, ir_value_numel(y) * (int64_t)dtype_size(y->dtype) * 4);
  KV pl = kb_div(kb, it, i64c(kb, nblk), true), bk = kb_rem(kb, it, i64c(kb, nblk), true);
  KV lo = kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, tlo, bk));
  KV cnt = kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, tcnt, bk));
  KV scratch = kb_scratch(kb), xbuf = kb_buf(kb, 0), ybuf = kb_buf(kb, n->nin);
  KElem le = kb_elem_of(x->dtype);
  int64_t rowel = rowbytes / (int64_t)cs;
  /* horizontal pass over the needed input rows */
  KV rr = kb_for(kb, i64c(kb, 0), cnt, 1);
  {
    KV xrow = kb_gep(kb, le, xbuf, kb_mul(kb, kb_add(kb, kb_mul(kb, pl, i64c(kb, ih)), kb_add(kb, lo, rr)), i64c(kb, iw)));
    RzH zh = {x->dtype, ce, W, Wa->taps, xrow, kb_gep(kb, ce, scratch, kb_mul(kb, rr, i64c(kb, rowel))), hidx, hw, ow};
    gen_vec_loop(kb, i64c(kb, 0), i64c(kb, ow), W, rz_h_body, &zh);
  }
  kb_endfor(kb);
  /* vertical pass */
  KV o0 = kb_mul(kb, bk, i64c(kb, RZ_OB));
  KV o1 = kb_min(kb, kb_add(kb, o0, i64c(kb, RZ_OB)), i64c(kb, oh), false);
  KV o = kb_for(kb, o0, o1, 1);
  {
    RzV zv;
    memset(&zv, 0, sizeof zv);
    zv.t = y->dtype;
    zv.ce = ce;
    zv.W = W;
    zv.taps = H->taps;
    zv.y = ybuf;
    zv.yoff = kb_mul(kb, kb_add(kb, kb_mul(kb, pl, i64c(kb, oh)), o), i64c(kb, ow));
    for (int t = 0; t < H->taps; t++) {
      KV q = kb_add(kb, kb_mul(kb, o, i64c(kb, H->taps)), i64c(kb, t));
      KV row = kb_sub(kb, kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, vidx, q)), lo);
      zv.rows[t] = kb_gep(kb, ce, scratch, kb_mul(kb, row, i64c(kb, rowel)));
      zv.w[t] = kb_load(kb, kt_s(ce), kb_gep(kb, ce, vwt, q));
    }
    gen_vec_loop(kb, i64c(kb, 0), i64c(kb, ow), W, rz_v_body, &zv);
  }
  kb_endfor(kb);
  kb_endfor(kb);
  return 1;
}

static int gen_resize_interp(GenCtx *c, RzParams *p, RzAxis *ax) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  if (x->dtype == DT_BOOL) return ir_node_error(c->g, n, "%s resize of bool is not supported", p->mode);
  KElem ce = x->dtype == DT_DOUBLE ? KE_F64 : KE_F32;
  size_t cs = kb_elem_size(ce);
  int64_t xs[IR_MAX_RANK];
  gen_strides(r, x->dims, xs);
  RzAxis *in = &ax[r - 1];
  int64_t ni = in->out, rows = ir_value_numel(y) / (ni ? ni : 1);
  if (ir_value_numel(y) == 0) return 0;
  if (in->in > INT32_MAX) return ir_node_error(c->g, n, "inner axis too large");
  if (gen_resize_hv(c, ax, ce)) return 0;
  /* tables */
  KV otab_i[IR_MAX_RANK] = {0}, otab_w[IR_MAX_RANK] = {0}, otab_e[IR_MAX_RANK] = {0};
  for (int d = 0; d < r - 1; d++) {
    RzAxis *a = &ax[d];
    if (a->identity) continue;
    int64_t m = a->out * a->taps;
    int64_t *ti = tab_new(m);
    void *tw = ir_xmalloc((size_t)m * cs + 8);
    for (int64_t q = 0; q < m; q++) {
      ti[q] = a->idx[q] * xs[d];
      if (ce == KE_F64) ((double *)tw)[q] = a->w[q];
      else ((float *)tw)[q] = (float)a->w[q];
    }
    otab_i[d] = kb_weight(kb, ti, sizeof(int64_t) * (size_t)m);
    otab_w[d] = kb_weight(kb, tw, (size_t)m * cs);
    free(ti);
    free(tw);
    if (a->anyext) otab_e[d] = kb_weight(kb, a->ext, (size_t)a->out);
  }
  KV itab_i = NULL, itab_w = NULL, itab_e = NULL;
  if (!in->identity) {
    int64_t m = ni * in->taps;
    int32_t *ti = ir_xmalloc(sizeof(int32_t) * (size_t)m + 4);
    void *tw = ir_xmalloc((size_t)m * cs + 8);
    for (int64_t o = 0; o < ni; o++) /* transposed: [tap][o], contiguous over o */
      for (int t = 0; t < in->taps; t++) {
        ti[t * ni + o] = (int32_t)in->idx[o * in->taps + t];
        if (ce == KE_F64) ((double *)tw)[t * ni + o] = in->w[o * in->taps + t];
        else ((float *)tw)[t * ni + o] = (float)in->w[o * in->taps + t];
      }
    itab_i = kb_weight(kb, ti, sizeof(int32_t) * (size_t)m);
    itab_w = kb_weight(kb, tw, (size_t)m * cs);
    free(ti);
    free(tw);
  }
  if (in->anyext) itab_e = kb_weight(kb, in->ext, (size_t)ni);
  c->scratch_bytes = (ni * (int64_t)cs + 63) / 64 * 64 + 64;
  int W = gen_lanes_cap(c, cs, 16);
  KV it = par_for(c, rows, ir_value_numel(y) * (int64_t)dtype_size(y->dtype) * 4);
  KV acc = kb_scratch(kb), ybuf = kb_buf(kb, n->nin), xbuf = kb_buf(kb, 0);
  /* decompose the row index into outer output coordinates */
  KV coord[IR_MAX_RANK], rem = it, ext = NULL, xoff = i64c(kb, 0);
  for (int d = r - 2; d >= 0; d--) {
    coord[d] = d > 0 ? kb_rem(kb, rem, i64c(kb, ax[d].out), true) : rem;
    if (d > 0) rem = kb_div(kb, rem, i64c(kb, ax[d].out), true);
    if (ax[d].identity) xoff = kb_add(kb, xoff, kb_mul(kb, coord[d], i64c(kb, xs[d])));
    if (otab_e[d]) {
      KV e = kb_load(kb, kt_s(KE_I8), kb_gep(kb, KE_I8, otab_e[d], coord[d]));
      KV f = kb_cmp(kb, KC_NE, e, kb_int(kb, kt_s(KE_I8), 0), false);
      ext = ext ? kb_or(kb, ext, f) : f;
    }
  }
  RzOut zo = {y->dtype, ce, W, acc, ybuf, kb_mul(kb, it, i64c(kb, ni)), itab_e, p->extrap, NULL};
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, ni), W, rz_zero_body, &zo);
  if (ext) kb_if(kb, kb_not(kb, ext));
  /* nested loops over the taps of the resized outer axes */
  KV off = xoff, wgt = kb_float(kb, kt_s(ce), 1);
  int nloops = 0;
  for (int d = 0; d < r - 1; d++) {
    if (ax[d].identity) continue;
    KV t = kb_for(kb, i64c(kb, 0), i64c(kb, ax[d].taps), 1);
    KV q = kb_add(kb, kb_mul(kb, coord[d], i64c(kb, ax[d].taps)), t);
    off = kb_add(kb, off, kb_load(kb, kt_s(KE_I64), kb_gep(kb, KE_I64, otab_i[d], q)));
    wgt = kb_mul(kb, wgt, kb_load(kb, kt_s(ce), kb_gep(kb, ce, otab_w[d], q)));
    nloops++;
  }
  RzInner zi = {x->dtype, ce, W, in->identity ? 1 : in->taps, in->identity, xbuf, acc, off, wgt, itab_i, itab_w, ni};
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, ni), W, rz_inner_body, &zi);
  for (int k = 0; k < nloops; k++) kb_endfor(kb);
  if (ext) kb_endif(kb);
  zo.rowext = ext;
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, ni), W, rz_out_body, &zo);
  kb_endfor(kb);
  return 0;
}

static int gen_resize(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0];
  int r = x->rank;
  RzParams p;
  memset(&p, 0, sizeof p);
  RzAxis ax[IR_MAX_RANK];
  memset(ax, 0, sizeof ax);
  if (r < 1) return ir_node_error(c->g, n, "cannot resize a scalar");
  if (ir_value_numel(n->out[0]) == 0) return 0;
  if (ir_value_numel(x) == 0) return ir_node_error(c->g, n, "cannot resize an empty tensor to a non-empty one");
  if (rz_setup(c, &p, ax)) return -1;
  for (int d = 0; d < r; d++) {
    if (ax[d].out != n->out[0]->dims[d]) return ir_node_error(c->g, n, "output shape mismatch");
    rz_axis_plan(&p, &ax[d]);
  }
  bool all_id = true;
  for (int d = 0; d < r; d++) all_id &= ax[d].identity;
  int rc = !strcmp(p.mode, "nearest") || all_id ? gen_resize_nearest(c, &p, ax) : gen_resize_interp(c, &p, ax);
  rz_free(ax, r);
  return rc;
}

int gen_move(GenCtx *c) {
  Node *n = c->n;
  for (int i = 0; i < n->nout; i++)
    if (n->out[i] && !ir_value_shape_known(n->out[i]))
      return ir_node_error(c->g, n, "output %d has no static shape", i);
  if (n->nin > 0 && n->in[0] && dtype_size(n->in[0]->dtype) == 0)
    return ir_node_error(c->g, n, "data type %s is not supported", dtype_name(n->in[0]->dtype));
  switch (n->op) {
  case OP_Reshape:
  case OP_Flatten:
  case OP_Squeeze:
  case OP_Unsqueeze: return gen_copy(c);
  case OP_Transpose: return gen_transpose(c);
  case OP_Concat: return gen_concat(c);
  case OP_Split: return gen_split(c);
  case OP_Slice: return gen_slice(c);
  case OP_Gather: return gen_gather(c);
  case OP_GatherElements: return gen_gather_elements(c);
  case OP_GatherND: return gen_gather_nd(c);
  case OP_Expand: return gen_expand(c);
  case OP_Pad: return gen_pad(c);
  case OP_Tile: return gen_tile(c);
  case OP_DepthToSpace:
  case OP_SpaceToDepth: return gen_depth_space(c);
  case OP_Trilu: return gen_trilu(c);
  case OP_ScatterElements: return gen_scatter_elements(c);
  case OP_ScatterND: return gen_scatter_nd(c);
  case OP_Resize: return gen_resize(c);
  default: return gen_select(c);
  }
}
