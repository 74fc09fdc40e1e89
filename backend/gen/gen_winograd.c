/* gen_winograd.c — Winograd convolution F(m×m, 3×3), m = 4 or 2 (Lavin & Gray 2016), for 3×3,
 * stride-1, dilation-1, ungrouped fp32 Conv with constant weights (NCHW).
 *
 * The output is cut into m×m tiles, each read from an a×a input patch (a = m + 2); per tile
 * element e < E = a²,  Y_tile = Aᵀ [ Σ_c U[e](o, c) · V[e](c, tile) ] A  with U = G g Gᵀ (the
 * weights, transformed and packed at compile time into the GEMM engine's MR-row panels) and
 * V = Bᵀ d B (the input patch d, transformed at run time): a² multiplies per m² outputs instead
 * of 9 m² (36/16 = 2.25 per output for m = 4, against 9), for a few transform adds, and rounding
 * of ~1e-6 of the sum of |terms| (F(4×4): within the fp32 model tests' rtol 1e-3).
 *
 * One task = one block of NRP tiles (lanes = tiles, possibly spanning images) and a group of
 * output-channel panels (all of them unless the layer has few tiles, see wino_groups):
 *   1. for each input channel, the block's patches are gathered (masked at the borders: that is
 *      the padding) and transformed with tiles in the lanes, into V[e][c][NRP] in scratch — each
 *      V[e] is exactly a packed B panel of the GEMM engine (K = C);
 *   2. per MR output channels: E microkernel tiles (gemm_emit_packed_tile) into M[e][MR][NRP]
 *      (small, stays in L1/L2), then the output transform of those channels, bias and the fused
 *      epilogue, stored as 4-float tile rows after an in-lane shuffle transpose (F(4×4), see
 *      rows_direct) or scattered to the output pixels (F(2×2)).
 * The transforms are straight-line vector code over compile-time coefficients (zeros skipped,
 * ±1 as add/sub). */
#include <stdlib.h>
#include <string.h>

#include "gen_winograd.h"

/* F(4×4, 3×3) on the points 0, -1, 1, 1/2, -2, ∞ (measured in fp32 on a 256-channel conv: a
 * quarter of the worst error of the usual 0, ±1, ±2, two thirds of its rms; ResNet-50's output
 * went from 1.2e-3 to 0.87e-3 relative), and F(2×2, 3×3) on 0, ±1, ∞ */
static const double BT4[36] = {1, -1.5, -2, 1.5, 1, 0, 0, 1, -2.5, 0.5, 1, 0, 0, -1, 0.5, 2.5, 1, 0,
                               0, -2, -1, 2, 1, 0, 0, 0.5, -1, -0.5, 1, 0, 0, 1, -1.5, -2, 1.5, 1};
static const double G4[18] = {1, 0, 0, -1.0 / 3, 1.0 / 3, -1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3,
                              -16.0 / 15, -8.0 / 15, -4.0 / 15, 1.0 / 15, -2.0 / 15, 4.0 / 15, 0, 0, 1};
static const double AT4[24] = {1, 1, 1, 1, 1, 0, 0, -1, 1, 0.5, -2, 0, 0, 1, 1, 0.25, 4, 0, 0, -1, 1, 0.125, -8, 1};
static const double BT2[16] = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1};
static const double G2[12] = {1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1};
static const double AT2[8] = {1, 1, 1, 0, 0, 1, -1, -1};

typedef struct Wino {
  GenCtx *c;
  int m, a, E;                    /* output tile m×m, input patch a×a, E = a² */
  const double *bt, *g, *at;      /* Bᵀ (a×a), G (a×3), Aᵀ (m×a), row-major */
  int64_t N, C, O, H, W, OH, OW, pt, pl;
  int64_t TH, TW, T, NT;          /* tiles per column / row / image, in all */
  int L, nv, nrp;
  int64_t nmp;                    /* MR panels of output channels */
  GemmSpec s;
  KV x, y, bias, res, apack, vbuf, mbuf;
} Wino;

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }
static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- the cost rule ----
 * in vector-instruction slots: the direct conv's GEMM (im2col columns padded to whole vectors per
 * image) against Winograd's E GEMMs over all tiles plus its transforms (a gather per patch
 * element and channel, a scatter per output pixel and channel) */
static double wino_cost(int m, int64_t n, int64_t cin, int64_t cout, int64_t oh, int64_t ow, int L) {
  int a = m + 2, E = a * a;
  double nvec = (double)cdiv(n * cdiv(oh, m) * cdiv(ow, m), L);
  double gemm = (double)E * (double)cout * (double)cin * nvec;
  double in = (double)cin * nvec * (E * 6.0 + 4.0 * a * a);
  double out = (double)cout * nvec * (E + 4.0 * a * m + m * m * 10.0);
  return gemm + in + out;
}

int gen_winograd_tile(int64_t n, int64_t cin, int64_t cout, int64_t oh, int64_t ow, int lanes) {
  if (cin < 8 || cout < 8 || oh < 2 || ow < 2) return 0;
  double direct = 9.0 * (double)cout * (double)cin * (double)(n * cdiv(oh * ow, lanes));
  double c4 = wino_cost(4, n, cin, cout, oh, ow, lanes), c2 = wino_cost(2, n, cin, cout, oh, ow, lanes);
  int m = c4 <= c2 ? 4 : 2;
  double best = c4 <= c2 ? c4 : c2;
  return best < 0.75 * direct ? m : 0;
}

/* ---- geometry ---- */
static bool is_const(const Value *v) { return v && v->kind == VK_CONST && v->data; }

static bool wino_geo(GenCtx *c, Wino *w) {
  Node *n = c->n;
  const Value *x = n->in[0], *wt = n->in[1], *y = n->out[0];
  if (!n->winograd || n->op != OP_Conv || x->rank != 4 || y->dtype != DT_FLOAT || x->dtype != DT_FLOAT) return false;
  if (!is_const(wt) || wt->rank != 4 || wt->dims[2] != 3 || wt->dims[3] != 3) return false;
  if (ir_attr_int(n, "group", 1) != 1 || !ir_value_shape_known(x) || !ir_value_shape_known(y)) return false;
  if (n->epi && n->epi->res && !ir_same_shape(n->epi->res, y)) return false;
  IrWindow win;
  if (ir_window(c->g, n, 2, x->dims + 2, wt->dims + 2, &win)) return false;
  for (int i = 0; i < 2; i++)
    if (win.stride[i] != 1 || win.dilation[i] != 1) return false;
  w->c = c;
  w->N = x->dims[0], w->C = x->dims[1], w->H = x->dims[2], w->W = x->dims[3];
  w->O = y->dims[1], w->OH = y->dims[2], w->OW = y->dims[3];
  w->pt = win.pad_begin[0], w->pl = win.pad_begin[1];
  if (wt->dims[0] != w->O || wt->dims[1] != w->C || w->H < 1 || w->W < 1) return false;
  /* lane indices are i32 */
  if (w->N * w->C * w->H * w->W >= ((int64_t)1 << 31) || w->N * w->O * w->OH * w->OW >= ((int64_t)1 << 31)) return false;
  w->L = kb_lanes(c->kb, KE_F32);
  /* the tile size and the packing depend on one image's geometry only, so the variants of a
     multi-shape library (--shape batch=1,4,16) share one copy of the packed weights */
  w->m = gen_winograd_tile(1, w->C, w->O, w->OH, w->OW, w->L);
  if (!w->m) return false;
  w->a = w->m + 2;
  w->E = w->a * w->a;
  w->bt = w->m == 4 ? BT4 : BT2;
  w->g = w->m == 4 ? G4 : G2;
  w->at = w->m == 4 ? AT4 : AT2;
  w->TH = cdiv(w->OH, w->m), w->TW = cdiv(w->OW, w->m);
  w->T = w->TH * w->TW, w->NT = w->N * w->T;
  return true;
}

/* tiles per task: up to 4 vectors, V (E·C·NRP floats) within ~160 KB, and a few tasks per image.
 * Each MR panel's E GEMM tiles stream all of V again, so V must stay near the core: measured
 * (1 thread, AVX-512, min of 200 runs) 64→64 at 56×56 took 0.53 ms with V = 147 KB (one vector
 * of tiles) against 0.60 ms with 442 KB (three), 64→64 at 112×112 2.5–2.8 against 2.7, 96→96 at
 * 56×56 1.03 against 1.09 */
static void wino_block(Wino *w) {
  int64_t nvec = cdiv(w->T, w->L); /* per image: the panel height below must not depend on the batch */
  int nv = nvec < 4 ? (int)nvec : 4;
  while (nv > 1 && (int64_t)w->E * w->C * nv * w->L * 4 > (160 << 10)) nv--;
  while (nv > 1 && cdiv(nvec, nv) < 4) nv--;
  w->nv = nv;
  memset(&w->s, 0, sizeof w->s);
  w->s.dt = DT_FLOAT;
  w->s.M = w->O;
  w->s.K = w->C;
  w->s.alpha = 1.0;
  gemm_tile_shape(w->c, &w->s, nv);
  w->nrp = w->s.nrp;
  w->s.ldc = w->nrp;
  w->nmp = cdiv(w->O, w->s.mr);
}

/* U[e](o, c) = (G g Gᵀ)[e] packed as [MR panel][e][c][MR] (rows past O zero): a task's E GEMM
 * tiles for one panel read one contiguous stream */
static KV wino_pack_weights(Wino *w) {
  const Value *wt = w->c->n->in[1];
  int a = w->a, E = w->E, mr = w->s.mr;
  size_t n = (size_t)(E * w->nmp * w->C * mr);
  float *buf = ir_xcalloc(n ? n : 1, sizeof(float));
  int64_t pst = w->C * mr; /* one panel */
  for (int64_t o = 0; o < w->O; o++)
    for (int64_t ci = 0; ci < w->C; ci++) {
      double g[9], t[18];
      for (int k = 0; k < 9; k++) g[k] = ir_const_f64(wt, (o * w->C + ci) * 9 + k);
      for (int i = 0; i < a; i++) /* t = G g (a×3) */
        for (int j = 0; j < 3; j++) {
          double acc = 0;
          for (int k = 0; k < 3; k++) acc += w->g[i * 3 + k] * g[k * 3 + j];
          t[i * 3 + j] = acc;
        }
      for (int i = 0; i < a; i++) /* U = t Gᵀ (a×a) */
        for (int j = 0; j < a; j++) {
          double acc = 0;
          for (int k = 0; k < 3; k++) acc += t[i * 3 + k] * w->g[j * 3 + k];
          int64_t e = i * a + j;
          buf[(o / mr * E + e) * pst + ci * mr + o % mr] = (float)acc;
        }
    }
  KV p = kb_weight(w->c->kb, buf, n * sizeof(float));
  free(buf);
  return p;
}

/* ---- vector helpers ---- */
/* out[r*os] = Σ_k M[r][k] · in[k*is] for r < rows, k < cols (compile-time coefficients) */
static void mat_apply(KB *kb, const double *M, int rows, int cols, KV const *in, int is, KV *out, int os, int L) {
  for (int r = 0; r < rows; r++) {
    KV acc = NULL;
    for (int k = 0; k < cols; k++) {
      double f = M[r * cols + k];
      KV v = in[k * is];
      if (f == 0) continue;
      if (!acc) acc = f == 1 ? v : f == -1 ? kb_neg(kb, v) : kb_mul(kb, v, kb_float(kb, kt(KE_F32, L), f));
      else if (f == 1) acc = kb_add(kb, acc, v);
      else if (f == -1) acc = kb_sub(kb, acc, v);
      else acc = kb_fma(kb, v, kb_float(kb, kt(KE_F32, L), f), acc);
    }
    out[r * os] = acc ? acc : kb_float(kb, kt(KE_F32, L), 0);
  }
}

static KV i32v(KB *kb, int L, int64_t x) { return kb_int(kb, kt(KE_I32, L), x); }

/* the tiles in lanes of vector v of the task's block: validity, image, first output row and
 * column (i32 vectors) */
typedef struct Lanes {
  KV valid, img, oy, ox;
} Lanes;

static Lanes tile_lanes(const Wino *w, KV tile0, int v) {
  KB *kb = w->c->kb;
  int L = w->L;
  Lanes l;
  KV t0 = kb_cast(kb, kb_add(kb, tile0, I(kb, (int64_t)v * L)), kt_s(KE_I32), false, false);
  KV tid = kb_add(kb, kb_splat(kb, t0, L), kb_iota(kb, kt(KE_I32, L)));
  l.valid = kb_cmp(kb, KC_LT, tid, i32v(kb, L, w->NT), false);
  l.img = kb_div(kb, tid, i32v(kb, L, w->T), true);
  KV r = kb_sub(kb, tid, kb_mul(kb, l.img, i32v(kb, L, w->T)));
  KV ty = kb_div(kb, r, i32v(kb, L, w->TW), true);
  KV tx = kb_sub(kb, r, kb_mul(kb, ty, i32v(kb, L, w->TW)));
  l.oy = kb_mul(kb, ty, i32v(kb, L, w->m));
  l.ox = kb_mul(kb, tx, i32v(kb, L, w->m));
  return l;
}

static KV in_range(KB *kb, KV v, int L, int64_t hi) {
  return kb_and(kb, kb_cmp(kb, KC_GE, v, i32v(kb, L, 0), false), kb_cmp(kb, KC_LT, v, i32v(kb, L, hi), false));
}

/* ---- 1. input transform: V[e][c][NRP] ---- */
static void input_transform(Wino *w, KV tile0) {
  KB *kb = w->c->kb;
  int L = w->L, a = w->a, E = w->E;
  KT vt = kt(KE_F32, L);
  KV zero = kb_float(kb, vt, 0);
  /* per vector: the patch origin's offset in its image's channel 0, and row/column validity */
  KV base[4], rok[4][6], cok[4][6];
  for (int v = 0; v < w->nv; v++) {
    Lanes l = tile_lanes(w, tile0, v);
    KV iy = kb_sub(kb, l.oy, i32v(kb, L, w->pt)), ix = kb_sub(kb, l.ox, i32v(kb, L, w->pl));
    base[v] = kb_add(kb, kb_mul(kb, l.img, i32v(kb, L, w->C * w->H * w->W)),
                     kb_add(kb, kb_mul(kb, iy, i32v(kb, L, w->W)), ix));
    for (int i = 0; i < a; i++) {
      rok[v][i] = kb_and(kb, l.valid, in_range(kb, kb_add(kb, iy, i32v(kb, L, i)), L, w->H));
      cok[v][i] = in_range(kb, kb_add(kb, ix, i32v(kb, L, i)), L, w->W);
    }
  }
  KV ci = kb_for(kb, I(kb, 0), I(kb, w->C), 1);
  {
    /* the channel's offset goes into the (i32) lane indices and each element's offset in the
       patch into the base pointer: the index vector is then computed in the loop, where LLVM sees
       it sign-extended from i32 and gathers 16 lanes with one vgatherdps (a loop-invariant index
       is hoisted as i64: two 8-lane vgatherqps) */
    KV coff = kb_splat(kb, kb_cast(kb, kb_mul(kb, ci, I(kb, w->H * w->W)), kt_s(KE_I32), false, false), L);
    for (int v = 0; v < w->nv; v++) {
      KV idx = kb_add(kb, base[v], coff);
      KV d[36], t[36], u[36];
      for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++) {
          KV msk = kb_and(kb, rok[v][i], cok[v][j]);
          KV p = kb_gep(kb, KE_F32, w->x, I(kb, (int64_t)i * w->W + j));
          d[i * a + j] = kb_select(kb, msk, kb_gather(kb, vt, p, idx, msk), zero);
        }
      for (int j = 0; j < a; j++) mat_apply(kb, w->bt, a, a, d + j, a, t + j, a, L);     /* Bᵀ d */
      for (int i = 0; i < a; i++) mat_apply(kb, w->bt, a, a, t + i * a, 1, u + i * a, 1, L); /* (Bᵀ d) B */
      for (int e = 0; e < E; e++) {
        KV off = kb_add(kb, kb_mul(kb, kb_add(kb, I(kb, (int64_t)e * w->C), ci), I(kb, w->nrp)), I(kb, (int64_t)v * L));
        kb_store(kb, u[e], kb_gep(kb, KE_F32, w->vbuf, off));
      }
    }
  }
  kb_endfor(kb);
}

/* ---- 2. per MR output channels: E GEMM tiles, then the output transform ---- */

/* F(4×4) on whole groups of 4 lanes: a tile's output row is 4 adjacent floats, so the 4 column
 * vectors of a row (lanes = tiles) are transposed by in-lane shuffles into one 4-float row per
 * tile and stored as such (a residual is read the same way, 4 floats per tile row).  A 16-lane
 * scatter or gather costs a micro-op per element (4 per tile row); this is one shuffle per 4
 * floats and one 4-float store per tile row.  Tiles past the end, output rows past OH and columns
 * past OW are not stored. */
static bool rows_direct(const Wino *w) { return w->m == 4 && w->L % 4 == 0 && w->L <= 16; }

/* per lane of the task's block: the output offset of its tile's first pixel (channel 0), and
 * whether (and how much of) it is stored */
typedef struct TileAt {
  KV off, valid, rows, cmask; /* i64; i1 (NULL: always); i64 rows left (NULL: all 4); 4-lane mask (NULL: all) */
} TileAt;

static TileAt tile_at(const Wino *w, KV tile0, int64_t lane) {
  KB *kb = w->c->kb;
  TileAt a = {0};
  KV tid = kb_add(kb, tile0, I(kb, lane));
  if (w->NT % w->nrp) {
    a.valid = kb_cmp(kb, KC_LT, tid, I(kb, w->NT), false);
    tid = kb_min(kb, tid, I(kb, w->NT - 1), false); /* the address of a lane not stored stays in bounds */
  }
  KV img = kb_div(kb, tid, I(kb, w->T), true), r = kb_sub(kb, tid, kb_mul(kb, img, I(kb, w->T)));
  KV ty = kb_div(kb, r, I(kb, w->TW), true), tx = kb_sub(kb, r, kb_mul(kb, ty, I(kb, w->TW)));
  KV oy = kb_mul(kb, ty, I(kb, 4)), ox = kb_mul(kb, tx, I(kb, 4));
  a.off = kb_add(kb, kb_mul(kb, img, I(kb, w->O * w->OH * w->OW)), kb_add(kb, kb_mul(kb, oy, I(kb, w->OW)), ox));
  if (w->OH % 4) a.rows = kb_sub(kb, I(kb, w->OH), oy);
  if (w->OW % 4) a.cmask = kb_tail_mask(kb, 4, kb_sub(kb, I(kb, w->OW), ox));
  return a;
}

/* the residual's row r of the tiles k, 4 + k, 8 + k, ... in the layout of store_rows' u[k] (rows
 * past OH read the tile's last row, columns past OW read 0: neither is stored) */
static KV res_rows(Wino *w, const TileAt *at, KV och, int r, int k) {
  KB *kb = w->c->kb;
  int L = w->L, idx[16];
  KV part[4];
  for (int g = 0; g < L / 4; g++) {
    const TileAt *a = &at[4 * g + k];
    KV roff = a->rows && r > 0 ? kb_min(kb, I(kb, r), kb_sub(kb, a->rows, I(kb, 1)), false) : I(kb, r);
    KV p = kb_gep(kb, KE_F32, w->res, kb_add(kb, kb_add(kb, a->off, och), kb_mul(kb, roff, I(kb, w->OW))));
    part[g] = a->cmask ? kb_load_masked(kb, kt(KE_F32, 4), p, a->cmask, NULL) : kb_load(kb, kt(KE_F32, 4), p);
  }
  for (int j = 0; j < 16; j++) idx[j] = j;
  if (L == 4) return part[0];
  KV lo = kb_shuffle(kb, part[0], part[1], idx, 8);
  if (L == 8) return lo;
  return kb_shuffle(kb, lo, kb_shuffle(kb, part[2], part[3], idx, 8), idx, 16);
}

/* the 16 tile outputs yv (lanes = tiles) of one output channel (offset och, bias splat bv or
 * NULL): bias, fused epilogue, stored */
static void store_rows(Wino *w, KV const *yv, const TileAt *at, KV och, KV bv) {
  KB *kb = w->c->kb;
  const Node *n = w->c->n;
  int L = w->L;
  /* per group of 4 lanes b..b+3: unpack low (a0 b0 a1 b1), unpack high (a2 b2 a3 b3), then
     the low and the high 64-bit pairs of two such vectors */
  int lo[64], hi[64], p0[64], p1[64];
  for (int b = 0; b < L; b += 4) {
    int l4[4] = {b, L + b, b + 1, L + b + 1}, h4[4] = {b + 2, L + b + 2, b + 3, L + b + 3};
    int q0[4] = {b, b + 1, L + b, L + b + 1}, q1[4] = {b + 2, b + 3, L + b + 2, L + b + 3};
    memcpy(lo + b, l4, sizeof l4), memcpy(hi + b, h4, sizeof h4);
    memcpy(p0 + b, q0, sizeof q0), memcpy(p1 + b, q1, sizeof q1);
  }
  for (int r = 0; r < 4; r++) {
    KV const *y = yv + r * 4;
    KV t0 = kb_shuffle(kb, y[0], y[1], lo, L), t1 = kb_shuffle(kb, y[0], y[1], hi, L);
    KV t2 = kb_shuffle(kb, y[2], y[3], lo, L), t3 = kb_shuffle(kb, y[2], y[3], hi, L);
    /* u[k], group g = the row of tile 4g + k */
    KV u[4] = {kb_shuffle(kb, t0, t2, p0, L), kb_shuffle(kb, t0, t2, p1, L), kb_shuffle(kb, t1, t3, p0, L),
               kb_shuffle(kb, t1, t3, p1, L)};
    for (int k = 0; k < 4; k++) { /* elementwise, so in this layout as well as in the tiles' */
      if (bv) u[k] = kb_add(kb, u[k], bv);
      if (n->epi) u[k] = gen_epi_apply(kb, n->epi, u[k], w->res ? res_rows(w, at, och, r, k) : NULL);
    }
    for (int j = 0; j < L; j++) {
      const TileAt *a = &at[j];
      KV cond = a->valid;
      if (a->rows && r > 0) {
        KV rok = kb_cmp(kb, KC_GT, a->rows, I(kb, r), false);
        cond = cond ? kb_and(kb, cond, rok) : rok;
      }
      int q[4] = {4 * (j / 4), 4 * (j / 4) + 1, 4 * (j / 4) + 2, 4 * (j / 4) + 3};
      KV row = kb_shuffle(kb, u[j % 4], u[j % 4], q, 4);
      KV p = kb_gep(kb, KE_F32, w->y, kb_add(kb, kb_add(kb, a->off, och), I(kb, (int64_t)r * w->OW)));
      if (cond) kb_if(kb, cond);
      if (a->cmask) kb_store_masked(kb, row, p, a->cmask);
      else kb_store(kb, row, p);
      if (cond) kb_endif(kb);
    }
  }
}

static void output_rows(Wino *w, KV tile0, KV o0, int rows) {
  KB *kb = w->c->kb;
  Node *n = w->c->n;
  int L = w->L, a = w->a, m = w->m, E = w->E;
  KT vt = kt(KE_F32, L);
  int64_t OHW = w->OH * w->OW;
  bool direct = rows_direct(w);
  TileAt at[4][16];
  if (direct) /* once per task and panel, outside the channel loop */
    for (int v = 0; v < w->nv; v++)
      for (int j = 0; j < L; j++) at[v][j] = tile_at(w, tile0, (int64_t)v * L + j);
  KV i = kb_for(kb, I(kb, 0), I(kb, rows), 1);
  {
    KV o = kb_add(kb, o0, i);
    KV bv = w->bias ? kb_splat(kb, ct_load(kb, DT_FLOAT, KE_F32, w->bias, o, 1, NULL), L) : NULL;
    KV o32 = kb_splat(kb, kb_cast(kb, kb_mul(kb, o, I(kb, OHW)), kt_s(KE_I32), false, false), L);
    for (int v = 0; v < w->nv; v++) {
      KV mv[36], t[36], yv[16];
      for (int e = 0; e < E; e++) {
        KV off = kb_add(kb, kb_mul(kb, kb_add(kb, I(kb, (int64_t)e * w->s.mr), i), I(kb, w->nrp)), I(kb, (int64_t)v * L));
        mv[e] = kb_load(kb, vt, kb_gep(kb, KE_F32, w->mbuf, off));
      }
      for (int j = 0; j < a; j++) mat_apply(kb, w->at, m, a, mv + j, a, t + j, a, L);     /* Aᵀ M (m×a) */
      for (int r = 0; r < m; r++) mat_apply(kb, w->at, m, a, t + r * a, 1, yv + r * m, 1, L); /* (Aᵀ M) A */
      if (direct) {
        store_rows(w, yv, at[v], kb_mul(kb, o, I(kb, OHW)), bv);
        continue;
      }
      Lanes l = tile_lanes(w, tile0, v);
      KV ybase = kb_add(kb, kb_mul(kb, l.img, i32v(kb, L, w->O * OHW)), kb_add(kb, kb_mul(kb, l.oy, i32v(kb, L, w->OW)), l.ox));
      ybase = kb_add(kb, ybase, o32);
      for (int r = 0; r < m; r++) {
        KV rok = kb_and(kb, l.valid, kb_cmp(kb, KC_LT, kb_add(kb, l.oy, i32v(kb, L, r)), i32v(kb, L, w->OH), false));
        for (int cc = 0; cc < m; cc++) {
          KV msk = kb_and(kb, rok, kb_cmp(kb, KC_LT, kb_add(kb, l.ox, i32v(kb, L, cc)), i32v(kb, L, w->OW), false));
          /* the pixel's offset in the tile goes to the base pointers, the index stays the i32
             ybase (one vscatterdps, as in input_transform) */
          KV off = I(kb, (int64_t)r * w->OW + cc);
          KV val = yv[r * m + cc];
          if (bv) val = kb_add(kb, val, bv);
          if (n->epi) {
            KV rv = w->res ? kb_gather(kb, vt, kb_gep(kb, KE_F32, w->res, off), ybase, msk) : NULL;
            val = gen_epi_apply(kb, n->epi, val, rv);
          }
          kb_scatter(kb, val, kb_gep(kb, KE_F32, w->y, off), ybase, msk);
        }
      }
    }
  }
  kb_endfor(kb);
}

/* the E GEMM tiles of MR panel mp (rows rows of it) into M, then their output transform */
static void channel_block(Wino *w, KV tile0, KV mp, int rows) {
  KB *kb = w->c->kb;
  int mr = w->s.mr;
  KV e = kb_for(kb, I(kb, 0), I(kb, w->E), 1);
  {
    KV ap = kb_gep(kb, KE_F32, w->apack, kb_mul(kb, kb_add(kb, kb_mul(kb, mp, I(kb, w->E)), e), I(kb, w->C * mr)));
    KV bp = kb_gep(kb, KE_F32, w->vbuf, kb_mul(kb, e, I(kb, w->C * w->nrp)));
    KV cp = kb_gep(kb, KE_F32, w->mbuf, kb_mul(kb, e, I(kb, (int64_t)mr * w->nrp)));
    /* the next panel (the next e, or the next MR channels' first) follows this one */
    KV pf = gemm_a_streams(w->nmp * w->E * w->C * mr * 4) ? kb_gep(kb, KE_F32, ap, I(kb, w->C * mr)) : NULL;
    gemm_emit_packed_tile(w->c, &w->s, rows, ap, bp, cp, pf);
  }
  kb_endfor(kb);
  output_rows(w, tile0, kb_mul(kb, mp, I(kb, mr)), rows);
}

/* tasks: tile blocks × groups of output-channel panels.  A layer with few tiles (13×13, 7×7: one
 * or two blocks) would otherwise be one or two tasks, run by one thread while the others wait.
 * The groups of one block need that block's input transform (V, in the thread's scratch): a
 * call transforms when its first task or a group 0 starts a block, so the consecutive groups a
 * thread takes share one transform, and one thread (which is given all tasks) does no extra
 * work.  Threads take static shares of the tasks (runtime/pool.c), so the group count is the one
 * whose longest share at 2 threads is shortest (wino_share: 13 blocks of DenseNet's 56×56 layers
 * split 7:6, its 14×14 layers with two panels were one task), extra transforms counted. */
#define WINO_XF 10 /* an input transform per vector and channel, in GEMM rows (wino_cost: 10E vs E) */

/* the cost of participant i's static share (pool.c: tasks [work·i/n, work·(i+1)/n)) of ntb × npg
 * tasks, in vectors × output-channel rows; *xf_out: the transforms in it */
static double wino_share(const Wino *w, int64_t ntb, int64_t npg, int i, int n, double *xf_out) {
  int64_t ppg = cdiv(w->nmp, npg), work = ntb * npg, mr = w->s.mr;
  double c = 0, xf = 0;
  for (int64_t t = work * i / n, lo = t; t < work * (i + 1) / n; t++) {
    int64_t b = t / npg, g = t % npg, tiles = w->NT - b * w->nrp, rows = w->O - g * ppg * mr;
    double vecs = (double)cdiv(tiles < w->nrp ? tiles : w->nrp, w->L);
    c += vecs * (double)(rows < ppg * mr ? rows : ppg * mr);
    if (t == lo || g == 0) xf += vecs * WINO_XF;
  }
  *xf_out = xf;
  return c + xf;
}

static int64_t wino_groups(const Wino *w, int64_t ntb, double flops) {
  if (flops < 1e6) return 1;
  int64_t best = 1, maxg = w->nmp < 16 ? w->nmp : 16;
  double best_cost = 0, xf1, xf;
  wino_share(w, ntb, 1, 0, 1, &xf1); /* one thread's transforms: each block once */
  for (int64_t npg = 1; npg <= maxg; npg++) {
    if (cdiv(w->nmp, cdiv(w->nmp, npg)) != npg) continue; /* not a count the panels divide into */
    double a = wino_share(w, ntb, npg, 0, 2, &xf), xa = xf, b = wino_share(w, ntb, npg, 1, 2, &xf);
    double cost = (a > b ? a : b) + 0.3 * (xa + xf - xf1); /* the longest share; extra CPU a little */
    if (npg == 1 || cost < best_cost * 0.98) best = npg, best_cost = cost;
  }
  return best;
}

/* the panels [p0, p1) of MR output channels, given at compile time or as task-dependent values
 * (then the last, partial panel, when O is not a multiple of MR, is run when p1 reaches it) */
static void channel_panels(Wino *w, KV tile0, KV p0, KV p1, bool last_group, KV is_last) {
  KB *kb = w->c->kb;
  int mr = w->s.mr;
  int64_t nfull = w->O / mr;
  if (nfull > 0) {
    KV mp = kb_for(kb, p0, kb_min(kb, p1, I(kb, nfull), true), 1);
    channel_block(w, tile0, mp, mr);
    kb_endfor(kb);
  }
  if (w->O % mr) {
    if (is_last) kb_if(kb, is_last);
    if (is_last || last_group) channel_block(w, tile0, I(kb, nfull), (int)(w->O % mr));
    if (is_last) kb_endif(kb);
  }
}

bool gen_winograd_conv(GenCtx *c) {
  Wino w;
  memset(&w, 0, sizeof w);
  if (!wino_geo(c, &w)) return false;
  KB *kb = c->kb;
  Node *n = c->n;
  wino_block(&w);
  int mr = w.s.mr;
  int64_t ntb = cdiv(w.NT, w.nrp);
  double flops = 2.0 * (double)(w.N * w.O * w.OH * w.OW) * (double)(w.C * 9);
  int64_t npg = wino_groups(&w, ntb, flops), ppg = cdiv(w.nmp, npg);
  npg = cdiv(w.nmp, ppg);
  int64_t ntask = ntb * npg;
  c->work = flops >= 1e6 && ntask > 1 ? ntask : 1;
  int64_t vfl = (int64_t)w.E * w.C * w.nrp, sb = (vfl + (int64_t)w.E * mr * w.nrp) * 4 + 64;
  if (sb > c->scratch_bytes) c->scratch_bytes = sb;
  w.apack = wino_pack_weights(&w);
  c->const_unused |= 2u;
  w.x = kb_buf(kb, 0);
  w.bias = n->nin > 2 && n->in[2] ? kb_buf(kb, 2) : NULL;
  w.y = kb_buf(kb, n->nin);
  w.res = gen_epi_res(c);

  KV t = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, ntask), 1);
  {
    w.vbuf = kb_scratch(kb);
    w.mbuf = kb_gep(kb, KE_F32, w.vbuf, I(kb, vfl));
    KV tb = npg > 1 ? kb_div(kb, t, I(kb, npg), true) : t;
    KV tile0 = kb_mul(kb, tb, I(kb, w.nrp));
    if (npg > 1) {
      KV pg = kb_rem(kb, t, I(kb, npg), true);
      KV first = c->work > 1 ? kb_begin(kb) : I(kb, 0);
      kb_if(kb, kb_or(kb, kb_cmp(kb, KC_EQ, t, first, false), kb_cmp(kb, KC_EQ, pg, I(kb, 0), false)));
      input_transform(&w, tile0);
      kb_endif(kb);
      KV p0 = kb_mul(kb, pg, I(kb, ppg));
      KV is_last = kb_cmp(kb, KC_EQ, pg, I(kb, npg - 1), false);
      channel_panels(&w, tile0, p0, kb_add(kb, p0, I(kb, ppg)), false, is_last);
    } else {
      input_transform(&w, tile0);
      channel_panels(&w, tile0, I(kb, 0), I(kb, w.nmp), true, NULL);
    }
  }
  kb_endfor(kb);
  return true;
}
