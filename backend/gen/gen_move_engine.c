/* gen_move_engine.c — the F_MOVE family's map-copy engine (see gen_move.c): a copy
 * out[o] = src[base + Σ_d T_d(o_d)] described as axes (mv_init, mv_add_axis), simplified and split
 * into segments, emitted as one loop over rows × chunks of the inner axis (mv_emit); and the
 * small helpers the family's files share (gen_move.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_move.h"

/* the bit pattern of x stored as dtype t (little endian), as an integer of the element's width */
int64_t mv_raw_bits(DType t, double x) {
  unsigned char b[8] = {0};
  ir_store_f64(t, b, 0, x);
  int64_t v = 0;
  memcpy(&v, b, dtype_size(t));
  return v;
}

void mv_mark_unused(GenCtx *c, int i) {
  Node *n = c->n;
  if (i >= 0 && i < n->nin && i < 32 && n->in[i] && n->in[i]->kind == VK_CONST) c->const_unused |= 1u << i;
}


/* splat(base) + iota * stride, W lanes of i64 */
KV mv_lane_idx(KB *kb, KV base, int64_t stride, int W) {
  KV v = kb_splat(kb, base, W);
  if (stride == 0) return v;
  KV io = kb_iota(kb, kt(KE_I64, W));
  if (stride != 1) io = kb_mul(kb, io, kb_int(kb, kt(KE_I64, W), stride));
  return kb_add(kb, v, io);
}

/* gathers/scatters that also work for one lane (a plain load/store) */
KV mv_gather(KB *kb, KT t, KV base, KV idx, KV mask) {
  if (t.lanes == 1) return kb_load(kb, t, kb_gep(kb, t.e, base, idx));
  return kb_gather(kb, t, base, idx, mask);
}
void mv_scatter(KB *kb, KV v, KV base, KV idx, KV mask) {
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

void mv_copy_run(GenCtx *c, KElem ke, KV dst, KV src, KV len, int64_t len_hint) {
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

int64_t *mv_tab_new(int64_t n) {
  int64_t *t = ir_xmalloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
  return t;
}

/* a job copying a whole source of shape (rank, dims) with row-major strides */
void mv_init(MvJob *j, int src, int dst) {
  memset(j, 0, sizeof *j);
  j->src = src;
  j->dst = dst;
}

void mv_add_axis(MvJob *j, int64_t n, int64_t s, int64_t d, int64_t *t) {
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
    int64_t *t = mv_tab_new(n);
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
      v = mv_gather(kb, vt, x->src, mv_lane_idx(kb, b, s->s, W), mask);
    }
    break;
  default: { /* SEG_TABLE */
    KV ti = gen_vload(kb, kt(KE_I64, W), kb_gep(kb, KE_I64, x->table, j), mask);
    KV idx = kb_add(kb, ti, kb_splat(kb, x->soff, W));
    if (s->tfill) {
      KV ok = kb_cmp(kb, KC_NE, ti, kb_int(kb, kt(KE_I64, W), MV_FILL), false);
      if (mask) ok = kb_and(kb, ok, mask);
      KV g = mv_gather(kb, vt, x->src, idx, ok);
      v = kb_select(kb, ok, g, kb_splat(kb, x->fill, W));
    } else
      v = mv_gather(kb, vt, x->src, idx, mask);
  }
  }
  if (x->dstride == 1)
    gen_vstore(kb, v, kb_gep(kb, x->ke, x->dst, kb_add(kb, x->doff, j)), mask);
  else {
    KV b = kb_add(kb, x->doff, kb_mul(kb, j, i64c(kb, x->dstride)));
    mv_scatter(kb, v, x->dst, mv_lane_idx(kb, b, x->dstride, W), mask);
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

/* transpose T vectors of T lanes in place (v[k][l] → v[l][k]); also gen_sparse.c (gen_util.h) */
void gen_reg_transpose(KB *kb, KV *v, int T) {
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
  gen_reg_transpose(kb, v, T);
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
void mv_emit(GenCtx *c, MvJob *jobs, int nj, size_t es) {
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
    if (j->skip_in_place) { /* the same bytes: planning put src in place (passes/plan.c) */
      KV s = kb_gep(kb, ke, kb_buf(kb, j->src), i64c(kb, j->sbase));
      kb_if(kb, kb_cmp(kb, KC_NE, s, kb_gep(kb, ke, kb_buf(kb, j->dst), i64c(kb, j->dbase)), false));
    }
    if (j->tT) mv_emit_t2d(c, j, lo, hi);
    else mv_emit_rows(c, j, lo, hi);
    if (j->skip_in_place) kb_endif(kb);
    w0 += j->units;
    mv_free(j);
  }
}

/* one job: dst (contiguous, shape of `dims`) = src viewed with per-axis strides */
void mv_strided(MvJob *j, int rank, const int64_t *dims, const int64_t *sstr) {
  int64_t dstr[IR_MAX_RANK];
  gen_strides(rank, dims, dstr);
  for (int d = 0; d < rank; d++) mv_add_axis(j, dims[d], sstr[d], dstr[d], NULL);
}

/* parallel range helper: loop over [0, units) or [begin, end) */
KV mv_par_for(GenCtx *c, int64_t units, int64_t bytes) {
  KB *kb = c->kb;
  bool par = bytes >= MV_PAR_BYTES && units > 1;
  c->work = par ? units : 1;
  return kb_for(kb, par ? kb_begin(kb) : i64c(kb, 0), par ? kb_end(kb) : i64c(kb, units), 1);
}
