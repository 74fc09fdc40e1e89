/* test_gen_extra.c — TopK (ties, both vector layouts), the losses (ignore_index, weights, every
 * reduction, log_prob), Det, the f32 → bfloat16 cast (ties, NaN, inf) and the data-dependent-shape
 * error, JIT-compiled on hand-built graphs and checked against naive C references.  Lengths are odd
 * so the masked tails run. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "testutil.h"

/* ---- harness: one node, runtime inputs, JIT, run; returns the run status ---- */
typedef struct H {
  Graph *g;
  Node *n;
  const void *in[8];
  void *out[4];
  int nin;
} H;

static Value *h_in(H *h, DType t, int rank, const int64_t *dims, const void *data) {
  char name[16];
  snprintf(name, sizeof name, "in%d", h->nin);
  h->in[h->nin++] = data;
  return tu_input(h->g, name, t, rank, dims);
}

static int h_run(H *h) {
  Graph *g = h->g;
  cr_assert_eq(ir_infer_node(g, h->n), 0, "%s", ir_last_error(g));
  for (int i = 0; i < h->n->nout; i++) {
    tu_output(g, h->n->out[i]);
    h->out[i] = calloc((size_t)ir_value_numel(h->n->out[i]) + 1, dtype_size(h->n->out[i]->dtype));
  }
  char err[512];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  int st = be_run(m, h->in, h->out, err, sizeof err);
  be_free(m);
  return st;
}

static void h_free(H *h) {
  for (int i = 0; i < 4; i++) free(h->out[i]);
  ir_graph_free(h->g);
}

static H h_new(void) {
  H h;
  memset(&h, 0, sizeof h);
  h.g = ir_graph_new();
  h.g->opset = 18;
  return h;
}

static uint32_t rng = 12345;
static int rnd(int m) {
  rng = rng * 1103515245u + 12345u;
  return (int)((rng >> 16) % (unsigned)m);
}

/* ---- TopK ---- */
static int topk_largest;
static const float *topk_row;
static int64_t topk_stride;
static int topk_cmp(const void *a, const void *b) {
  int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
  float x = topk_row[i * topk_stride], y = topk_row[j * topk_stride];
  if (x != y) return (topk_largest ? x > y : x < y) ? -1 : 1;
  return i < j ? -1 : 1;
}

/* x of shape [outer][L][S], TopK along axis 1 */
static void check_topk(int64_t outer, int64_t L, int64_t S, int64_t k, int largest, int neg_axis) {
  H h = h_new();
  int64_t d[3] = {outer, L, S}, one = 1;
  int64_t n = outer * L * S;
  float *x = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) x[i] = (float)(rnd(7) - 3); /* many ties */
  Value *ins[2] = {h_in(&h, DT_FLOAT, 3, d, x), tu_const_i64(h.g, 1, &one, &k)};
  h.n = tu_node_n(h.g, OP_TopK, 2, ins, 2);
  tu_attr_int(h.g, h.n, "axis", neg_axis ? -2 : 1);
  tu_attr_int(h.g, h.n, "largest", largest);
  cr_assert_eq(h_run(&h), 0);
  const float *y = h.out[0];
  const int64_t *yi = h.out[1];
  int64_t *ord = malloc(sizeof(int64_t) * (size_t)L);
  topk_largest = largest;
  topk_stride = S;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t s = 0; s < S; s++) {
      for (int64_t l = 0; l < L; l++) ord[l] = l;
      topk_row = x + o * L * S + s;
      qsort(ord, (size_t)L, sizeof *ord, topk_cmp);
      for (int64_t r = 0; r < k; r++) {
        int64_t at = (o * k + r) * S + s;
        cr_expect_eq(yi[at], ord[r], "L=%lld S=%lld k=%lld largest=%d: row (%lld,%lld) rank %lld: index %lld, want %lld",
                     (long long)L, (long long)S, (long long)k, largest, (long long)o, (long long)s, (long long)r,
                     (long long)yi[at], (long long)ord[r]);
        cr_expect_eq(y[at], topk_row[ord[r] * S]);
      }
    }
  free(ord);
  free(x);
  h_free(&h);
}

Test(topk, ties_last_axis) {
  for (int largest = 0; largest < 2; largest++) {
    check_topk(3, 37, 1, 1, largest, 0);
    check_topk(3, 37, 1, 9, largest, 0);
    check_topk(2, 101, 1, 101, largest, 0);
    check_topk(2, 3, 1, 2, largest, 0);
  }
}

Test(topk, ties_inner_axis) {
  for (int largest = 0; largest < 2; largest++) {
    check_topk(2, 13, 5, 4, largest, 1);
    check_topk(3, 9, 37, 9, largest, 0);
  }
}

/* ---- losses ---- */
typedef struct LossCase {
  bool sce, weights, has_ii;
  int64_t ii;
  const char *red;
  int64_t N, C, D;
} LossCase;

static void check_loss(LossCase lc) {
  H h = h_new();
  int64_t xd[3] = {lc.N, lc.C, lc.D}, td[2] = {lc.N, lc.D};
  int xr = lc.D > 1 ? 3 : 2;
  int64_t nx = lc.N * lc.C * lc.D, nt = lc.N * lc.D;
  float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)lc.C);
  int64_t *t = malloc(sizeof(int64_t) * (size_t)nt);
  for (int64_t i = 0; i < nx; i++) x[i] = (float)(rnd(2000) - 1000) / 250.0f;
  for (int64_t i = 0; i < lc.C; i++) w[i] = 0.25f + (float)rnd(8) / 4.0f;
  for (int64_t i = 0; i < nt; i++) t[i] = rnd(4) == 0 && lc.has_ii ? lc.ii : rnd((int)lc.C);
  Value *ins[3] = {h_in(&h, DT_FLOAT, xr, xd, x), h_in(&h, DT_INT64, xr - 1, td, t), NULL};
  if (lc.weights) ins[2] = h_in(&h, DT_FLOAT, 1, &lc.C, w);
  h.n = tu_node_n(h.g, lc.sce ? OP_SoftmaxCrossEntropyLoss : OP_NegativeLogLikelihoodLoss, lc.weights ? 3 : 2, ins,
                  lc.sce ? 2 : 1);
  tu_attr_str(h.g, h.n, "reduction", lc.red);
  if (lc.has_ii) tu_attr_int(h.g, h.n, "ignore_index", lc.ii);
  cr_assert_eq(h_run(&h), 0);
  const float *y = h.out[0], *lp = lc.sce ? h.out[1] : NULL;
  double sum = 0, wsum = 0;
  for (int64_t nn = 0; nn < lc.N; nn++)
    for (int64_t d = 0; d < lc.D; d++) {
      const float *col = x + nn * lc.C * lc.D + d;
      double m = -INFINITY, s = 0, lse = 0;
      if (lc.sce) {
        for (int64_t c = 0; c < lc.C; c++) m = fmax(m, col[c * lc.D]);
        for (int64_t c = 0; c < lc.C; c++) s += exp(col[c * lc.D] - m);
        lse = m + log(s);
        for (int64_t c = 0; c < lc.C; c++)
          cr_expect_float_eq(lp[nn * lc.C * lc.D + c * lc.D + d], col[c * lc.D] - lse, 1e-4, "log_prob");
      }
      int64_t tt = t[nn * lc.D + d];
      double l = 0, ww = 0;
      if (!(lc.has_ii && tt == lc.ii)) {
        ww = lc.weights ? w[tt] : 1;
        l = -(col[tt * lc.D] - lse) * ww;
      }
      if (!strcmp(lc.red, "none")) cr_expect_float_eq(y[nn * lc.D + d], l, 1e-4, "loss at (%lld, %lld)", (long long)nn, (long long)d);
      sum += l, wsum += ww;
    }
  if (!strcmp(lc.red, "sum")) cr_expect_float_eq(y[0], sum, 1e-3 * fmax(1, fabs(sum)), "sum %g want %g", y[0], sum);
  if (!strcmp(lc.red, "mean"))
    cr_expect_float_eq(y[0], sum / wsum, 1e-4 * fmax(1, fabs(sum / wsum)), "mean %g want %g", y[0], sum / wsum);
  free(x);
  free(w);
  free(t);
  h_free(&h);
}

Test(loss, nll_and_sce_ignore_index_weights_reductions) {
  static const char *reds[] = {"none", "sum", "mean"};
  for (int sce = 0; sce < 2; sce++)
    for (int r = 0; r < 3; r++)
      for (int wt = 0; wt < 2; wt++) {
        check_loss((LossCase){sce, wt, true, -1, reds[r], 3, 5, 37});  /* vectors along d, masked tail */
        check_loss((LossCase){sce, wt, true, 2, reds[r], 7, 4, 1});    /* (N, C): vectors along C */
        check_loss((LossCase){sce, wt, true, 5, reds[r], 4, 37, 1});   /* ... with a masked tail */
        check_loss((LossCase){sce, wt, false, 0, reds[r], 2, 6, 16});
      }
}

Test(loss, target_out_of_range_fails) {
  H h = h_new();
  int64_t xd[2] = {2, 3}, td[1] = {2};
  float x[6] = {0};
  int64_t t[2] = {1, 3};
  Value *ins[2] = {h_in(&h, DT_FLOAT, 2, xd, x), h_in(&h, DT_INT64, 1, td, t)};
  h.n = tu_node_n(h.g, OP_NegativeLogLikelihoodLoss, 2, ins, 1);
  cr_expect_eq(h_run(&h), 3 /* ONNXC_ERR_INDEX */);
  h_free(&h);
}

/* ---- Det ---- */
Test(det, lu_with_pivoting) {
  enum { B = 3, M = 5 };
  H h = h_new();
  int64_t d[3] = {B, M, M};
  double a[B][M][M];
  for (int b = 0; b < B; b++)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < M; j++) a[b][i][j] = rnd(9) - 4;
  for (int j = 0; j < M; j++) a[1][3][j] = 2 * a[1][1][j]; /* singular */
  a[2][0][0] = 0;                                           /* needs a pivot */
  Value *ins[1] = {h_in(&h, DT_DOUBLE, 3, d, a)};
  h.n = tu_node_n(h.g, OP_Det, 1, ins, 1);
  cr_assert_eq(h_run(&h), 0);
  const double *y = h.out[0];
  for (int b = 0; b < B; b++) {
    /* reference: Laplace-free Gaussian elimination in long double without pivoting fails on
     * a zero pivot, so compare with the permutation expansion instead (M = 5: 120 terms) */
    int p[M] = {0, 1, 2, 3, 4};
    double det = 0;
    for (;;) {
      int inv = 0;
      double prod = 1;
      for (int i = 0; i < M; i++) {
        prod *= a[b][i][p[i]];
        for (int j = i + 1; j < M; j++) inv += p[i] > p[j];
      }
      det += inv % 2 ? -prod : prod;
      int i = M - 2;
      while (i >= 0 && p[i] > p[i + 1]) i--;
      if (i < 0) break;
      int j = M - 1;
      while (p[j] < p[i]) j--;
      int tmp = p[i];
      p[i] = p[j], p[j] = tmp;
      for (int l = i + 1, r = M - 1; l < r; l++, r--) tmp = p[l], p[l] = p[r], p[r] = tmp;
    }
    cr_expect(fabs(y[b] - det) <= 1e-9 * fmax(1, fabs(det)), "matrix %d: det %g, want %g", b, y[b], det);
  }
  h_free(&h);
}

/* ---- f32 → bfloat16 ---- */
static uint16_t bf16_ref(uint32_t u) {
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) return 0; /* NaN: checked apart */
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

Test(cast, f32_to_bf16_round_to_nearest_even) {
  static const uint32_t bits[] = {
      0x3f808000u, /* tie, even below: rounds down */
      0x3f818000u, /* tie, odd below: rounds up */
      0x3f808001u, 0x3f807fffu, 0xbf818000u, 0x7f7fffffu /* rounds to inf */, 0x7f800000u, 0xff800000u,
      0x7fc00000u, 0x7f800001u /* signalling NaN, would round into inf */, 0xffffffffu, 0x00000000u,
      0x80000000u, 0x00008000u, 0x00018000u, 0x3effffffu, 0x4049fdb0u};
  enum { N = 37 };
  uint32_t in[N];
  for (int i = 0; i < N; i++) in[i] = bits[i % (sizeof bits / sizeof bits[0])];
  H h = h_new();
  int64_t d = N;
  Value *ins[1] = {h_in(&h, DT_FLOAT, 1, &d, in)};
  h.n = tu_node_n(h.g, OP_Cast, 1, ins, 1);
  tu_attr_int(h.g, h.n, "to", DT_BFLOAT16);
  cr_assert_eq(h_run(&h), 0);
  const uint16_t *y = h.out[0];
  for (int i = 0; i < N; i++) {
    float f;
    memcpy(&f, &in[i], 4);
    if (isnan(f)) cr_expect((y[i] & 0x7f80) == 0x7f80 && (y[i] & 0x7f), "NaN %08x became %04x", in[i], y[i]);
    else cr_expect_eq(y[i], bf16_ref(in[i]), "%08x: got %04x, want %04x", in[i], y[i], bf16_ref(in[i]));
  }
  h_free(&h);
  /* host folding rounds the same way */
  uint16_t b;
  ir_store_f64(DT_BFLOAT16, &b, 0, NAN);
  cr_expect((b & 0x7f80) == 0x7f80 && (b & 0x7f), "host NaN became %04x", b);
  ir_store_f64(DT_BFLOAT16, &b, 0, 1.00390625); /* 0x3f808000: tie → 0x3f80 */
  cr_expect_eq(b, 0x3f80);
}

/* ---- data-dependent shapes ---- */
Test(shape, nonzero_needs_known_input) {
  Graph *g = ir_graph_new();
  g->opset = 18;
  int64_t d = 4;
  Value *x = tu_input(g, "x", DT_FLOAT, 1, &d);
  Node *n = tu_node_n(g, OP_NonZero, 1, &x, 1);
  cr_expect_neq(ir_infer_node(g, n), 0);
  cr_expect(strstr(ir_last_error(g), "output shape depends on input data") != NULL, "%s", ir_last_error(g));
  cr_expect(ir_is_shape_operand(n, 0));
  ir_graph_free(g);
}

Test(shape, unique_and_nonzero_fold) {
  Graph *g = ir_graph_new();
  g->opset = 18;
  int64_t d = 7;
  double xv[7] = {2, 1, 1, 3, 4, 3, 0};
  Value *x = tu_const(g, DT_FLOAT, 1, &d, xv);
  Node *u = tu_node_n(g, OP_Unique, 1, &x, 4);
  tu_attr_int(g, u, "sorted", 0);
  Node *nz = tu_node_n(g, OP_NonZero, 1, &x, 1);
  for (int i = 0; i < g->nnodes; i++) tu_output(g, g->nodes[i]->out[0]);
  cr_assert_eq(ir_infer_shapes(g), 0, "%s", ir_last_error(g));
  cr_assert_eq(u->out[0]->kind, VK_CONST);
  static const double want[5] = {2, 1, 3, 4, 0};
  static const int64_t first[5] = {0, 1, 3, 4, 6}, inv[7] = {0, 1, 1, 2, 3, 2, 4}, cnt[5] = {1, 2, 2, 1, 1};
  cr_assert_eq(u->out[0]->dims[0], 5);
  for (int i = 0; i < 5; i++) {
    cr_expect_eq(ir_const_f64(u->out[0], i), want[i]);
    cr_expect_eq(ir_const_i64(u->out[1], i), first[i]);
    cr_expect_eq(ir_const_i64(u->out[3], i), cnt[i]);
  }
  for (int i = 0; i < 7; i++) cr_expect_eq(ir_const_i64(u->out[2], i), inv[i]);
  cr_assert_eq(nz->out[0]->dims[1], 6);
  ir_graph_free(g);
}

/* Compress on runtime data with a constant condition: a gather (no axis) or a Gather (axis) */
Test(compress, runtime_data_constant_condition) {
  for (int axis = -1; axis < 2; axis++) {
    H h = h_new();
    int64_t d[2] = {3, 37}, nc = axis < 0 ? 100 : d[axis];
    float x[3 * 37];
    double cond[111];
    for (int i = 0; i < 111; i++) x[i] = (float)i, cond[i] = rnd(3) == 0;
    Value *ins[2] = {h_in(&h, DT_FLOAT, 2, d, x), tu_const(h.g, DT_BOOL, 1, &nc, cond)};
    h.n = tu_node_n(h.g, OP_Compress, 2, ins, 1);
    if (axis >= 0) tu_attr_int(h.g, h.n, "axis", axis);
    cr_assert_eq(h_run(&h), 0);
    const float *y = h.out[0];
    int64_t k = 0;
    if (axis < 0) {
      for (int64_t i = 0; i < nc; i++)
        if (cond[i]) {
          cr_expect_eq(y[k], x[i], "no axis: y[%lld]", (long long)k);
          k++;
        }
    } else {
      for (int64_t r = 0; r < d[0]; r++)
        for (int64_t c = 0; c < d[1]; c++)
          if (cond[axis ? c : r]) {
            cr_expect_eq(y[k], x[r * d[1] + c], "axis %d: y[%lld]", axis, (long long)k);
            k++;
          }
    }
    cr_expect_eq(k, ir_value_numel(h.n->out[0]));
    h_free(&h);
  }
}

/* integer TopK: signed and unsigned compares, ties by lower index, both layouts */
static void check_topk_int(DType t, int64_t outer, int64_t L, int64_t S, int64_t k, int largest) {
  H h = h_new();
  int64_t d[3] = {outer, L, S}, one = 1, n = outer * L * S;
  size_t es = dtype_size(t);
  unsigned char *x = malloc((size_t)n * es);
  double *xv = malloc(sizeof(double) * (size_t)n);
  for (int64_t i = 0; i < n; i++) {
    xv[i] = t == DT_UINT8 ? rnd(4) * 60 : rnd(7) - 3;
    if (t == DT_UINT8) x[i] = (unsigned char)xv[i];
    else ((int32_t *)x)[i] = (int32_t)xv[i];
  }
  Value *ins[2] = {h_in(&h, t, 3, d, x), tu_const_i64(h.g, 1, &one, &k)};
  h.n = tu_node_n(h.g, OP_TopK, 2, ins, 2);
  tu_attr_int(h.g, h.n, "axis", 1);
  tu_attr_int(h.g, h.n, "largest", largest);
  cr_assert_eq(h_run(&h), 0);
  const int64_t *yi = h.out[1];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t s = 0; s < S; s++) {
      /* selection by the same order, naively: the r-th pick is the best not yet taken */
      bool taken[64] = {0};
      for (int64_t r = 0; r < k; r++) {
        int64_t best = -1;
        for (int64_t l = 0; l < L; l++) {
          double v = xv[(o * L + l) * S + s];
          if (taken[l]) continue;
          if (best < 0 || (largest ? v > xv[(o * L + best) * S + s] : v < xv[(o * L + best) * S + s])) best = l;
        }
        taken[best] = true;
        cr_expect_eq(yi[(o * k + r) * S + s], best, "%s L=%lld S=%lld largest=%d", dtype_name(t), (long long)L,
                     (long long)S, largest);
        double got = t == DT_UINT8 ? ((const unsigned char *)h.out[0])[(o * k + r) * S + s]
                                   : ((const int32_t *)h.out[0])[(o * k + r) * S + s];
        cr_expect_eq(got, xv[(o * L + best) * S + s]);
      }
    }
  free(x);
  free(xv);
  h_free(&h);
}

Test(topk, integer_types) {
  for (int largest = 0; largest < 2; largest++) {
    check_topk_int(DT_INT32, 5, 23, 1, 6, largest);
    check_topk_int(DT_UINT8, 5, 23, 1, 6, largest);
    check_topk_int(DT_INT32, 3, 9, 7, 9, largest);
    check_topk_int(DT_UINT8, 3, 9, 7, 4, largest);
  }
}
