/* test_gen_quant_signal_vision.c — kernels of the F_QUANT, F_SIGNAL and F_VISION families,
 * JIT-compiled on hand-built graphs and checked against naive C references where the conformance
 * cases are thin: quantization rounding (half to even) and saturation, per-axis parameters, host
 * folding agreeing with the kernel; integer matmul/conv with batch broadcast, padding, strides,
 * groups and per-channel weights; DFT of non-power-of-2 lengths against an O(n²) double reference;
 * GridSample's padding modes at and beyond the borders; NonMaxSuppression on runtime data. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "be.h"
#include "testutil.h"

/* ---- harness: one graph, runtime inputs, every node output a graph output ---- */
#define T_MAX 64

typedef struct T {
  Graph *g;
  int nin, nout;
  const void *in[T_MAX];
  Value *outv[T_MAX];
  void *out[T_MAX];
} T;

static T *t_new(void) {
  T *t = calloc(1, sizeof *t);
  t->g = ir_graph_new();
  t->g->opset = 17;
  return t;
}

static Value *t_in(T *t, DType dt, int rank, const int64_t *dims, const void *data) {
  char name[32];
  snprintf(name, sizeof name, "in%d", t->nin);
  t->in[t->nin++] = data;
  return tu_input(t->g, name, dt, rank, dims);
}

static Value *t_const(T *t, DType dt, int rank, const int64_t *dims, const void *data) {
  Value *v = ir_const_new(t->g, NULL, dt, rank, dims);
  memcpy(v->data, data, (size_t)ir_value_numel(v) * dtype_size(dt));
  return v;
}

static Node *t_node(T *t, Op op, int nin, Value **ins, int nout) { return tu_node_n(t->g, op, nin, ins, nout); }

/* infer every node, make its outputs graph outputs, JIT for target (NULL: native) and run */
static void t_run_on(T *t, int threads, const char *target) {
  Graph *g = t->g;
  for (int k = 0; k < g->nnodes; k++) {
    Node *n = g->nodes[k];
    cr_assert_eq(ir_infer_node(g, n), 0, "%s", ir_last_error(g));
    for (int i = 0; i < n->nout; i++) {
      if (!n->out[i]) continue;
      tu_output(g, n->out[i]);
      t->outv[t->nout] = n->out[i];
      t->out[t->nout++] = calloc((size_t)ir_value_numel(n->out[i]) + 1, dtype_size(n->out[i]->dtype));
    }
  }
  char err[512];
  BeOptions o = {.target = target, .opt_level = 3};
  BeModel *m = be_jit(g, &o, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  if (threads) be_set_threads(m, threads);
  cr_assert_eq(be_run(m, t->in, t->out, err, sizeof err), 0, "%s", err);
  be_free(m);
}

static void t_run(T *t, int threads) { t_run_on(t, threads, NULL); }

static void *t_out(T *t, const Node *n, int i) {
  for (int k = 0; k < t->nout; k++)
    if (t->outv[k] == n->out[i]) return t->out[k];
  cr_assert_fail("output not found");
  return NULL;
}

static void t_free(T *t) {
  for (int k = 0; k < t->nout; k++) free(t->out[k]);
  ir_graph_free(t->g);
  free(t);
}

static uint32_t rng = 12345;
static uint32_t rnd(void) { return rng = rng * 1664525u + 1013904223u; }
static float frnd(float lo, float hi) { return lo + (hi - lo) * (float)(rnd() >> 8) / (float)(1 << 24); }

/* ---- quantization ---- */

static double sat(double q, bool u) { return q < (u ? 0 : -128) ? (u ? 0 : -128) : q > (u ? 255 : 127) ? (u ? 255 : 127) : q; }

Test(quant, quantize_rounds_half_even_and_saturates) {
  enum { NX = 333 };
  static float x[NX];
  for (int i = 0; i < NX; i++) x[i] = (float)(i - 166) * 0.25f; /* x / 0.5: every other one a tie */
  float s_half = 0.5f, s_q = 0.25f;
  int8_t z_i8 = -3;
  uint8_t z_u8 = 200;
  int64_t d = NX;
  T *t = t_new();
  Value *xv = t_in(t, DT_FLOAT, 1, &d, x);
  Value *sh = t_const(t, DT_FLOAT, 0, NULL, &s_half), *sq = t_const(t, DT_FLOAT, 0, NULL, &s_q);
  Value *zi = t_const(t, DT_INT8, 0, NULL, &z_i8), *zu = t_const(t, DT_UINT8, 0, NULL, &z_u8);
  Node *a = t_node(t, OP_QuantizeLinear, 3, (Value *[]){xv, sh, zi}, 1); /* ties */
  Node *b = t_node(t, OP_QuantizeLinear, 3, (Value *[]){xv, sq, zu}, 1); /* saturation both ends */
  Node *c = t_node(t, OP_QuantizeLinear, 2, (Value *[]){xv, sq}, 1);     /* no zero point: uint8 */
  Value *xc = t_const(t, DT_FLOAT, 1, &d, x);                              /* the same, folded */
  Node *f = t_node(t, OP_QuantizeLinear, 3, (Value *[]){xc, sh, zi}, 1);
  t_run(t, 1);
  cr_assert_eq(ir_eval_node(t->g, f), 1);
  const int8_t *ya = t_out(t, a, 0), *yf = f->out[0]->data;
  const uint8_t *yb = t_out(t, b, 0), *yc = t_out(t, c, 0);
  cr_assert_eq(c->out[0]->dtype, DT_UINT8);
  int ties = 0, sats = 0;
  for (int i = 0; i < NX; i++) {
    double q = rint((double)x[i] / 0.5); /* the default rounding mode: half to even */
    ties += fabs((double)x[i] / 0.5 - floor((double)x[i] / 0.5) - 0.5) < 1e-9;
    cr_assert_eq(ya[i], (int8_t)sat(q - 3, false), "x=%g: got %d", x[i], ya[i]);
    cr_assert_eq(yf[i], ya[i], "folded x=%g: %d vs kernel %d", x[i], yf[i], ya[i]);
    double r = rint((double)x[i] / 0.25);
    sats += r + 200 > 255 || r + 200 < 0;
    cr_assert_eq(yb[i], (uint8_t)sat(r + 200, true), "x=%g: got %d", x[i], yb[i]);
    cr_assert_eq(yc[i], (uint8_t)sat(r, true), "x=%g: got %d", x[i], yc[i]);
  }
  cr_assert_gt(ties, 100);
  cr_assert_gt(sats, 50);
  t_free(t);
}

Test(quant, per_axis_quantize_and_dequantize) {
  enum { A = 3, B = 5, C = 7 };
  static float x[A * B * C];
  static int8_t q[A * B * C];
  float sb[B] = {0.1f, 0.2f, 0.05f, 1.0f, 0.3f}, sa[A] = {0.5f, 0.25f, 2.0f};
  uint8_t zb[B] = {0, 10, 128, 255, 3};
  int8_t za[A] = {-5, 0, 7};
  for (int i = 0; i < A * B * C; i++) x[i] = frnd(-20, 20), q[i] = (int8_t)(rnd() & 0xff);
  int64_t dims[3] = {A, B, C}, db = B, da = A;
  T *t = t_new();
  Value *xv = t_in(t, DT_FLOAT, 3, dims, x), *qv = t_in(t, DT_INT8, 3, dims, q);
  Node *qn = t_node(t, OP_QuantizeLinear, 3,
                    (Value *[]){xv, t_const(t, DT_FLOAT, 1, &db, sb), t_const(t, DT_UINT8, 1, &db, zb)}, 1);
  tu_attr_int(t->g, qn, "axis", 1);
  Node *dn = t_node(t, OP_DequantizeLinear, 3,
                    (Value *[]){qv, t_const(t, DT_FLOAT, 1, &da, sa), t_const(t, DT_INT8, 1, &da, za)}, 1);
  tu_attr_int(t->g, dn, "axis", -3);
  t_run(t, 1);
  const uint8_t *y = t_out(t, qn, 0);
  const float *dq = t_out(t, dn, 0);
  for (int i = 0; i < A * B * C; i++) {
    int bi = (i / C) % B, ai = i / (B * C);
    float r = x[i] / sb[bi];
    cr_assert_eq(y[i], (uint8_t)sat(rint(r) + zb[bi], true), "i=%d x=%g", i, x[i]);
    cr_assert_float_eq(dq[i], (float)(q[i] - za[ai]) * sa[ai], 1e-6, "i=%d", i);
  }
  t_free(t);
}

Test(quant, dynamic_quantize_all_zero_and_mixed) {
  float z[19] = {0}, x[19];
  for (int i = 0; i < 19; i++) x[i] = frnd(-1, 3);
  int64_t d = 19;
  T *t = t_new();
  Node *a = t_node(t, OP_DynamicQuantizeLinear, 1, (Value *[]){t_in(t, DT_FLOAT, 1, &d, z)}, 3);
  Node *b = t_node(t, OP_DynamicQuantizeLinear, 1, (Value *[]){t_in(t, DT_FLOAT, 1, &d, x)}, 3);
  t_run(t, 1);
  cr_assert_eq(*(float *)t_out(t, a, 1), 0.0f);
  cr_assert_eq(*(uint8_t *)t_out(t, a, 2), 0);
  for (int i = 0; i < 19; i++) cr_assert_eq(((uint8_t *)t_out(t, a, 0))[i], 0);
  float lo = 0, hi = 0;
  for (int i = 0; i < 19; i++) lo = fminf(lo, x[i]), hi = fmaxf(hi, x[i]);
  float s = (hi - lo) / 255.0f;
  double zp = sat(rint((double)(-lo / s)), true);
  cr_assert_float_eq(*(float *)t_out(t, b, 1), s, 1e-9);
  cr_assert_eq(*(uint8_t *)t_out(t, b, 2), (uint8_t)zp);
  for (int i = 0; i < 19; i++)
    cr_assert_eq(((uint8_t *)t_out(t, b, 0))[i], (uint8_t)sat(rint((double)(x[i] / s)) + zp, true), "i=%d", i);
  t_free(t);
}

Test(quant, matmul_integer_batch_broadcast_threads) {
  enum { B0 = 2, B1 = 3, M = 21, K = 67, N = 37 };
  static uint8_t a[B0 * M * K];
  static int8_t b[B1 * K * N];
  for (int i = 0; i < B0 * M * K; i++) a[i] = (uint8_t)rnd();
  for (int i = 0; i < B1 * K * N; i++) b[i] = (int8_t)rnd();
  uint8_t za = 131;
  int8_t zb = -7;
  int64_t da[4] = {B0, 1, M, K}, db[3] = {B1, K, N};
  T *t = t_new();
  Value *av = t_in(t, DT_UINT8, 4, da, a), *bv = t_in(t, DT_INT8, 3, db, b);
  Node *n = t_node(t, OP_MatMulInteger, 4,
                   (Value *[]){av, bv, t_const(t, DT_UINT8, 0, NULL, &za), t_const(t, DT_INT8, 0, NULL, &zb)}, 1);
  t_run(t, 2);
  const int32_t *y = t_out(t, n, 0);
  cr_assert_eq(n->out[0]->rank, 4);
  for (int p = 0; p < B0; p++)
    for (int q = 0; q < B1; q++)
      for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
          int32_t s = 0;
          for (int k = 0; k < K; k++) s += (a[(p * M + i) * K + k] - za) * (b[(q * K + k) * N + j] - zb);
          cr_assert_eq(y[((p * B1 + q) * M + i) * N + j], s, "(%d,%d,%d,%d)", p, q, i, j);
        }
  t_free(t);
}

Test(quant, qlinear_matmul_per_row_and_column) {
  enum { M = 5, K = 23, N = 35 };
  int8_t a[M * K], b[K * N], za[M], zb[N];
  float sa[M], sb[N], sy = 0.9f;
  int8_t zy = -4;
  for (int i = 0; i < M * K; i++) a[i] = (int8_t)rnd();
  for (int i = 0; i < K * N; i++) b[i] = (int8_t)rnd();
  for (int i = 0; i < M; i++) za[i] = (int8_t)(rnd() % 21) - 10, sa[i] = frnd(0.01f, 0.05f);
  for (int i = 0; i < N; i++) zb[i] = (int8_t)(rnd() % 21) - 10, sb[i] = frnd(0.01f, 0.05f);
  int64_t da[2] = {M, K}, db[2] = {K, N}, dm = M, dn = N;
  T *t = t_new();
  Node *n = t_node(t, OP_QLinearMatMul, 8,
                   (Value *[]){t_in(t, DT_INT8, 2, da, a), t_const(t, DT_FLOAT, 1, &dm, sa), t_const(t, DT_INT8, 1, &dm, za),
                               t_in(t, DT_INT8, 2, db, b), t_const(t, DT_FLOAT, 1, &dn, sb), t_const(t, DT_INT8, 1, &dn, zb),
                               t_const(t, DT_FLOAT, 0, NULL, &sy), t_const(t, DT_INT8, 0, NULL, &zy)},
                   1);
  t_run(t, 1);
  const int8_t *y = t_out(t, n, 0);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      int32_t s = 0;
      for (int k = 0; k < K; k++) s += (a[i * K + k] - za[i]) * (b[k * N + j] - zb[j]);
      float r = (float)s * (sa[i] * sb[j] / sy);
      cr_assert_eq(y[i * N + j], (int8_t)sat(rintf(r) + zy, false), "(%d,%d)", i, j);
    }
  t_free(t);
}

/* QLinearConv(x, xs, zx, w, ws[co], wz[co], ys, yz, bias[co]): per-channel weight parameters */
static Node *t_qlinearconv(T *t, Value *x, float xs, Value *zx, Value *w, int64_t co, const float *ws, const int8_t *wz,
                           float ys, uint8_t yz, const int32_t *bias) {
  return t_node(t, OP_QLinearConv, 9,
                (Value *[]){x, t_const(t, DT_FLOAT, 0, NULL, &xs), zx, w, t_const(t, DT_FLOAT, 1, &co, ws),
                            t_const(t, DT_INT8, 1, &co, wz), t_const(t, DT_FLOAT, 0, NULL, &ys),
                            t_const(t, DT_UINT8, 0, NULL, &yz), t_const(t, DT_INT32, 1, &co, bias)},
                1);
}

Test(quant, qlinearconv_pads_strides_groups_per_channel) {
  enum { NB = 2, CI = 4, H = 9, W = 11, CO = 6, G = 2, KH = 3, KW = 2 };
  static uint8_t x[NB * CI * H * W];
  static int8_t w[CO * (CI / G) * KH * KW];
  int32_t bias[CO];
  float ws[CO];
  int8_t wz[CO] = {0, 1, -2, 3, 0, -1}; /* per output channel */
  for (size_t i = 0; i < sizeof x; i++) x[i] = (uint8_t)rnd();
  for (size_t i = 0; i < sizeof w; i++) w[i] = (int8_t)rnd();
  for (int i = 0; i < CO; i++) bias[i] = (int32_t)(rnd() % 20001) - 10000, ws[i] = frnd(0.001f, 0.01f);
  float xs = 0.02f, ys = 0.7f;
  uint8_t xz = 100, yz = 120;
  int64_t dx[4] = {NB, CI, H, W}, dw[4] = {CO, CI / G, KH, KW};
  int64_t pads[4] = {1, 2, 2, 1}, strides[2] = {2, 1}, dil[2] = {1, 2};
  T *t = t_new();
  Value *xv = t_in(t, DT_UINT8, 4, dx, x), *wv = t_in(t, DT_INT8, 4, dw, w);
  Node *n = t_qlinearconv(t, xv, xs, t_const(t, DT_UINT8, 0, NULL, &xz), wv, CO, ws, wz, ys, yz, bias);
  tu_attr_ints(t->g, n, "pads", 4, pads);
  tu_attr_ints(t->g, n, "strides", 2, strides);
  tu_attr_ints(t->g, n, "dilations", 2, dil);
  tu_attr_int(t->g, n, "group", G);
  Node *ci = t_node(t, OP_ConvInteger, 3, (Value *[]){xv, wv, t_const(t, DT_UINT8, 0, NULL, &xz)}, 1);
  tu_attr_ints(t->g, ci, "pads", 4, pads);
  tu_attr_ints(t->g, ci, "strides", 2, strides);
  tu_attr_ints(t->g, ci, "dilations", 2, dil);
  tu_attr_int(t->g, ci, "group", G);
  t_run(t, 2);
  int64_t OH = n->out[0]->dims[2], OW = n->out[0]->dims[3];
  cr_assert_eq(OH, (H + 1 + 2 - (KH - 1) - 1) / 2 + 1);
  cr_assert_eq(OW, (W + 2 + 1 - 2 * (KW - 1) - 1) / 1 + 1);
  const uint8_t *y = t_out(t, n, 0);
  const int32_t *yi = t_out(t, ci, 0);
  for (int b = 0; b < NB; b++)
    for (int o = 0; o < CO; o++)
      for (int i = 0; i < OH; i++)
        for (int j = 0; j < OW; j++) {
          int32_t s = 0, sq = 0;
          int gi = o / (CO / G);
          for (int c = 0; c < CI / G; c++)
            for (int kh = 0; kh < KH; kh++)
              for (int kw = 0; kw < KW; kw++) {
                int ih = i * 2 - 1 + kh, iw = j - 2 + kw * 2;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                int xv = x[((b * CI + gi * (CI / G) + c) * H + ih) * W + iw] - xz, wv = w[((o * (CI / G) + c) * KH + kh) * KW + kw];
                s += xv * wv;
                sq += xv * (wv - wz[o]);
              }
          int64_t at = ((b * CO + o) * OH + i) * OW + j;
          cr_assert_eq(yi[at], s, "ConvInteger (%d,%d,%d,%d)", b, o, i, j);
          float r = (float)(sq + bias[o]) * (xs * ws[o] / ys);
          cr_assert_eq(y[at], (uint8_t)sat(rintf(r) + yz, true), "QLinearConv (%d,%d,%d,%d)", b, o, i, j);
        }
  t_free(t);
}

/* QLinearConv with constant weights runs on the int8 GEMM engine, checked exactly against a
 * reference (stride S in both dims, pads P, 2 images).  Stride-2 convs whose output is exactly as wide as
 * a parity phase of the input (OW == ceil(W/2)) read the input through the per-task phase split
 * (qc_phase_fill): odd and even sizes, taps reaching past either border, a phase plane wider than a
 * vector, int8 activations (flipped to u8), several panels per image */
static void qconv_case(int CI, int H, int W, int CO, int KS, int P, int S, bool s8, const char *target) {
  enum { NB = 2 };
  int n_x = NB * CI * H * W, n_w = CO * CI * KS * KS;
  uint8_t *x = malloc((size_t)n_x);
  int8_t *w = malloc((size_t)n_w);
  int32_t *bias = malloc(sizeof(int32_t) * (size_t)CO);
  float *ws = malloc(sizeof(float) * (size_t)CO);
  for (int i = 0; i < n_x; i++) x[i] = (uint8_t)rnd();
  for (int i = 0; i < n_w; i++) w[i] = (int8_t)rnd();
  for (int i = 0; i < CO; i++) bias[i] = (int32_t)(rnd() % 20001) - 10000, ws[i] = frnd(0.0005f, 0.004f);
  float xs = 0.02f, ys = 0.9f;
  uint8_t xz = 37, yz = 110;
  int8_t xz8 = -21;
  int64_t dx[4] = {NB, CI, H, W}, dw[4] = {CO, CI, KS, KS};
  int64_t pads[4] = {P, P, P, P}, strides[2] = {S, S};
  int8_t *wz = calloc((size_t)CO, 1);
  T *t = t_new();
  Value *xv = t_in(t, s8 ? DT_INT8 : DT_UINT8, 4, dx, x);
  Value *zxv = s8 ? t_const(t, DT_INT8, 0, NULL, &xz8) : t_const(t, DT_UINT8, 0, NULL, &xz);
  Node *n = t_qlinearconv(t, xv, xs, zxv, t_const(t, DT_INT8, 4, dw, w), CO, ws, wz, ys, yz, bias);
  tu_attr_ints(t->g, n, "pads", 4, pads);
  tu_attr_ints(t->g, n, "strides", 2, strides);
  t_run_on(t, 2, target);
  int OH = (H + 2 * P - KS) / S + 1, OW = (W + 2 * P - KS) / S + 1;
  cr_assert_eq(OW, (W + S - 1) / S, "the case must take the phase path (stride 2) or the contiguous one (stride 1)");
  cr_assert_eq(n->out[0]->dims[2], OH);
  const uint8_t *y = t_out(t, n, 0);
  int zx = s8 ? xz8 : xz;
  for (int b = 0; b < NB; b++)
    for (int o = 0; o < CO; o++)
      for (int i = 0; i < OH; i++)
        for (int j = 0; j < OW; j++) {
          int32_t sq = 0;
          for (int c = 0; c < CI; c++)
            for (int kh = 0; kh < KS; kh++)
              for (int kw = 0; kw < KS; kw++) {
                int ih = i * S - P + kh, iw = j * S - P + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                uint8_t raw = x[((b * CI + c) * H + ih) * W + iw];
                int xv_ = s8 ? (int)(int8_t)raw : (int)raw;
                sq += (xv_ - zx) * w[((o * CI + c) * KS + kh) * KS + kw];
              }
          float r = (float)(sq + bias[o]) * (xs * ws[o] / ys);
          int64_t at = ((b * CO + o) * OH + i) * OW + j;
          cr_assert_eq(y[at], (uint8_t)sat(rintf(r) + yz, true), "%s %dx%d k%d p%d (%d,%d,%d,%d)", target ? target : "native", H,
                       W, KS, P, b, o, i, j);
        }
  t_free(t);
  free(x), free(w), free(bias), free(ws), free(wz);
}

Test(quant, qconv_stride2_phase_split) {
  qconv_case(5, 13, 13, 9, 3, 1, 2, false, NULL);  /* odd sizes, 3x3 pad 1 */
  qconv_case(16, 12, 10, 20, 1, 0, 2, true, NULL); /* 1x1 pad 0: one phase; int8 x */
  qconv_case(3, 21, 20, 8, 7, 3, 2, false, NULL);  /* the stem's 7x7 pad 3 */
  qconv_case(2, 9, 130, 5, 3, 1, 2, true, NULL);   /* a phase plane wider than 64 */
  qconv_case(2, 28, 28, 6, 3, 1, 2, false, NULL);  /* 14x14: 7 panels of 32, the last 4 columns wide */
}

/* "same" stride-1 and phase-split stride-2 convs with channels in multiples of 4 pack k in channel
 * quads on AVX-512 (qc_pack_c4): 3×3 and 5×5, one panel or several with a short last one, widths
 * below and above a panel, int8 x */
Test(quant, qconv_same_channel_quads) {
  qconv_case(8, 14, 14, 20, 3, 1, 1, false, NULL); /* 196 pixels: panels of 32, a short last one */
  qconv_case(4, 7, 7, 17, 3, 1, 1, true, NULL);    /* layer4's 49 pixels, int8 x, odd channel count */
  qconv_case(12, 9, 70, 6, 3, 1, 1, false, NULL);  /* rows wider than a panel */
  qconv_case(16, 56, 56, 8, 3, 1, 1, true, NULL);  /* layer1's size: 49 panels of 64 */
  qconv_case(8, 11, 13, 9, 5, 2, 1, false, NULL);  /* 5x5 pad 2: taps two rows past each border */
  /* stride 2 through the phase split */
  qconv_case(8, 13, 13, 9, 3, 1, 2, false, NULL);  /* odd sizes */
  qconv_case(4, 28, 28, 6, 3, 1, 2, true, NULL);   /* 14x14: 7 panels of 32, int8 x */
  qconv_case(12, 9, 130, 5, 3, 1, 2, false, NULL); /* a phase plane wider than 64 */
  qconv_case(16, 14, 14, 40, 3, 1, 2, false, NULL); /* layer4.0's 7x7 output */
}

/* a last panel of remainder columns only (pixels = whole panels + 1..4) runs several row tiles
 * at once (gen_gemm.c q8_rc_tiles): groups of tiles, leftover tiles, then a short tile */
Test(quant, qconv_remainder_panel_tiles) {
  qconv_case(8, 14, 14, 50, 3, 1, 1, false, NULL); /* 196 = 3·64 + 4: 8 tiles of 6 (3 + 3 + 2), 2 rows */
  qconv_case(4, 5, 13, 80, 3, 1, 1, true, NULL);   /* 65 = 64 + 1: 13 tiles of 6 (12 + 1), 2 rows */
  qconv_case(16, 6, 11, 40, 1, 0, 1, false, NULL); /* 1x1, 66 = 64 + 2 */
}

/* Weights of 256 KB and more stream from memory: each full row tile prefetches the next tile's A
 * panel (gen_gemm.c q8_streams_a).  Correct with the prefetches in (K not a multiple of 4, a short
 * last row tile, layer4's 49 pixels; channel quads on 14×14 in several panels), and they are in
 * the module exactly when the weights are that large. */
static int qconv_prefetches(int CI, int CO, int HW) {
  int n_w = CO * CI * 9;
  int8_t *w = calloc((size_t)n_w, 1), *wz = calloc((size_t)CO, 1);
  int32_t *bias = calloc((size_t)CO, sizeof(int32_t));
  float *ws = malloc(sizeof(float) * (size_t)CO);
  for (int i = 0; i < CO; i++) ws[i] = 0.001f;
  uint8_t xz = 3, yz = 0;
  int64_t dx[4] = {1, CI, HW, HW}, dw[4] = {CO, CI, 3, 3}, pads[4] = {1, 1, 1, 1};
  T *t = t_new();
  Node *n = t_qlinearconv(t, t_in(t, DT_UINT8, 4, dx, NULL), 0.02f, t_const(t, DT_UINT8, 0, NULL, &xz), t_const(t, DT_INT8, 4, dw, w),
                          CO, ws, wz, 0.5f, yz, bias);
  tu_attr_ints(t->g, n, "pads", 4, pads);
  cr_assert_eq(ir_infer_node(t->g, n), 0, "%s", ir_last_error(t->g));
  tu_output(t->g, n->out[0]);
  const char *pf = "llvm.prefetch";
  char err[512];
  int hits = tu_emit_count(t->g, 0, "llvm", 1, &pf, err, sizeof err);
  cr_assert_geq(hits, 0, "%s", err);
  t_free(t);
  free(w), free(wz), free(bias), free(ws);
  return hits;
}

Test(quant, qconv_streamed_weights_prefetched) {
  qconv_case(125, 7, 7, 235, 3, 1, 1, false, NULL);  /* K = 1125, 235 = 39·6 + 1 rows: 265 KB */
  qconv_case(128, 14, 14, 232, 3, 1, 1, true, NULL); /* 267 KB, 196 pixels: 4 panels */
  cr_assert_gt(qconv_prefetches(125, 235, 7), 0, "265 KB of weights: the next tile's panel is prefetched");
  cr_assert_eq(qconv_prefetches(64, 64, 14), 0, "36 KB of weights stay in cache: no prefetch");
}

/* convs with few input channels and a kernel ≥ 3 wide whose output rows are whole vectors pack k in
 * its natural order from padded row windows (qc_pack_rows, AVX-512 VBMI): ResNet's 7×7 stride-2
 * stem on 3 channels (several panels, a short last one, u8 and int8 x), 3×3 on 1 and 3 channels at
 * strides 1 and 2, 5×5 on 2 channels; the emitted stem has a window shuffle per group and vector
 * (≥ 37·4 byte or word permutes: the other packers loop over groups) */
Test(quant, qconv_row_windows) {
  qconv_case(3, 37, 64, 20, 7, 3, 2, false, NULL); /* OW 32, 19 rows: 9.5 panels of 64 */
  qconv_case(3, 20, 96, 16, 7, 3, 2, true, NULL);  /* int8 x */
  qconv_case(1, 16, 32, 8, 3, 1, 1, false, NULL);  /* K = 9: groups across two kernel rows */
  qconv_case(3, 9, 32, 5, 3, 1, 2, false, NULL);   /* MobileNet's first conv at stride 2 */
  qconv_case(2, 12, 16, 9, 5, 2, 1, true, NULL);   /* 5x5, one vector per row */
  Target tg;
  char err[256];
  cr_assert_eq(be_target_get("native", &tg, err, sizeof err), 0, "%s", err);
  if (!tg.has_vbmi || tg.vector_bytes != 64) return;
  enum { CI = 3, H = 40, W = 64, CO = 16 };
  static uint8_t x[CI * H * W];
  static int8_t w[CO * CI * 49];
  int32_t bias[CO] = {0};
  float ws[CO];
  int8_t wz[CO] = {0};
  for (int i = 0; i < CO; i++) ws[i] = 0.001f;
  int64_t dx[4] = {1, CI, H, W}, dw[4] = {CO, CI, 7, 7}, pads[4] = {3, 3, 3, 3}, strides[2] = {2, 2};
  uint8_t xz = 3, yz = 0;
  T *t = t_new();
  Node *n = t_qlinearconv(t, t_in(t, DT_UINT8, 4, dx, x), 0.02f, t_const(t, DT_UINT8, 0, NULL, &xz), t_const(t, DT_INT8, 4, dw, w),
                          CO, ws, wz, 0.5f, yz, bias);
  tu_attr_ints(t->g, n, "pads", 4, pads);
  tu_attr_ints(t->g, n, "strides", 2, strides);
  cr_assert_eq(ir_infer_node(t->g, n), 0, "%s", ir_last_error(t->g));
  tu_output(t->g, n->out[0]);
  static const char *const ops[] = {"vpermb", "vpermt2b", "vpermi2b", "vpermw", "vpermt2w", "vpermi2w"};
  int perms = tu_emit_count(t->g, 3, "asm", 6, ops, err, sizeof err);
  cr_assert_geq(perms, 0, "%s", err);
  cr_assert_geq(perms, 37 * 4, "%d byte permutes in the stem's asm", perms);
  t_free(t);
}

/* The int8 GEMM's epilogue requantizes a row's vectors together (kb_requant_bytes: vcvtps2dq and
 * saturating packs on AVX-512BW and AVX2, one store per row): 1×1 QLinearConvs whose scaled sums
 * are exact ties (mult 0.5, odd sums), beyond the i16 range of the packs (mult 40) and beyond
 * lrint's (mult 3e4: the epilogue clamps first), with odd, zero and negative zero points, u8 and
 * int8 outputs, a Relu-narrowed range (qmin/qmax attributes), and pixel counts that make 1-4
 * vectors per row, a masked last vector and remainder columns.  Run on this CPU; AVX2 (8 lanes)
 * and aarch64 (the generic form) are compiled, and AVX2's asm must hold the packs. */
static void requant_case(int H, int W, float mult, int yz, bool s8y, int qmin, int qmax, const char *target) {
  enum { NB = 1, CI = 16, CO = 13 };
  int n_x = NB * CI * H * W;
  uint8_t *x = malloc((size_t)n_x);
  static int8_t w[CO * CI];
  int32_t bias[CO];
  float ws[CO];
  int8_t wz[CO] = {0};
  for (int i = 0; i < n_x; i++) x[i] = (uint8_t)rnd();
  for (int i = 0; i < CO * CI; i++) w[i] = (int8_t)rnd();
  for (int i = 0; i < CO; i++) bias[i] = (int32_t)(rnd() % 2001) - 1000, ws[i] = mult * (float)(1 + i % 3);
  float xs = 1.0f, ys = 1.0f;
  uint8_t xz = 0;
  int64_t dx[4] = {NB, CI, H, W}, dw[4] = {CO, CI, 1, 1}, co = CO;
  T *t = t_new();
  int8_t yz8 = (int8_t)yz;
  uint8_t yzu = (uint8_t)yz;
  Node *n = t_node(t, OP_QLinearConv, 9,
                   (Value *[]){t_in(t, DT_UINT8, 4, dx, x), t_const(t, DT_FLOAT, 0, NULL, &xs), t_const(t, DT_UINT8, 0, NULL, &xz),
                               t_const(t, DT_INT8, 4, dw, w), t_const(t, DT_FLOAT, 1, &co, ws), t_const(t, DT_INT8, 1, &co, wz),
                               t_const(t, DT_FLOAT, 0, NULL, &ys),
                               s8y ? t_const(t, DT_INT8, 0, NULL, &yz8) : t_const(t, DT_UINT8, 0, NULL, &yzu),
                               t_const(t, DT_INT32, 1, &co, bias)},
                   1);
  int lo = s8y ? -128 : 0, hi = s8y ? 127 : 255;
  if (qmin > lo) tu_attr_int(t->g, n, "qmin", qmin), lo = qmin;
  if (qmax < hi) tu_attr_int(t->g, n, "qmax", qmax), hi = qmax;
  if (target) { /* compiled only */
    cr_assert_eq(ir_infer_node(t->g, n), 0, "%s", ir_last_error(t->g));
    tu_output(t->g, n->out[0]);
    char path[] = "/tmp/onnxc_requant_XXXXXX", line[4096], err[512];
    int fd = mkstemp(path), packs = 0;
    cr_assert_geq(fd, 0);
    close(fd);
    BeOptions o = {.target = target, .opt_level = 3};
    int rc = be_emit(t->g, &o, "asm", path, err, sizeof err);
    if (rc && strstr(err, "is not available in this LLVM")) fprintf(stderr, "skipping %s: %s\n", target, err);
    else cr_assert_eq(rc, 0, "%s: %s", target, err);
    FILE *f = fopen(path, "r");
    while (!rc && f && fgets(line, sizeof line, f)) packs += strstr(line, "vpackssdw") != NULL;
    if (f) fclose(f);
    unlink(path);
    if (!rc && strstr(target, "x86")) cr_assert_gt(packs, 0, "%s: no vpackssdw in the epilogue", target);
    t_free(t);
    free(x);
    return;
  }
  t_run_on(t, 1, NULL);
  const uint8_t *y = t_out(t, n, 0);
  int ties = 0, big = 0;
  for (int o = 0; o < CO; o++)
    for (int p = 0; p < H * W; p++) {
      int32_t sq = bias[o];
      for (int c = 0; c < CI; c++) sq += (int32_t)x[c * H * W + p] * w[o * CI + c];
      float m = xs * ws[o] / ys, r = (float)sq * m;
      ties += r - floorf(r) == 0.5f, big += fabsf(r) > 32768.0f;
      double q = rint((double)r) + yz;
      q = q < lo ? lo : q > hi ? hi : q;
      int got = s8y ? (int)(int8_t)y[o * H * W + p] : (int)y[o * H * W + p];
      cr_assert_eq(got, (int)q, "%s %dx%d mult %g zp %d [%d, %d] (%d, %d): %g", target ? target : "native", H, W, (double)mult, yz, lo,
                   hi, o, p, (double)r);
    }
  if (mult == 0.5f) cr_assert_gt(ties, 0, "no ties");
  if (mult > 1) cr_assert_gt(big, 0, "no sums beyond i16");
  t_free(t);
  free(x);
}

Test(quant, qconv_requant_packs) {
  static const char *const targets[] = {NULL, "x86-64-avx2", "aarch64"};
  for (int ti = 0; ti < 3; ti++) {
    const char *tgt = targets[ti];
    requant_case(8, 8, 0.5f, 3, false, 0, 255, tgt);    /* 64 pixels: 4 vectors, ties, odd zero point */
    requant_case(7, 7, 0.5f, 0, false, 0, 255, tgt);    /* 49: 3 vectors + a remainder column */
    requant_case(5, 8, 40.0f, 128, false, 0, 255, tgt); /* 40: 2 vectors + 8 masked; beyond i16 */
    requant_case(4, 4, 0.5f, -5, true, -128, 127, tgt); /* 16: 1 vector, int8 out, negative zero point */
    requant_case(6, 11, 3e4f, 7, true, -128, 127, tgt); /* 66: beyond 2^31, clamped first */
    requant_case(9, 9, 0.5f, 10, false, 10, 200, tgt);  /* 81: a Relu's range, then 1 vector + 1 column */
  }
}

/* ---- DFT against an O(n²) double reference ---- */

/* x: [lines, Lin, C] (C = 1 real, 2 complex) transformed along Lin with length L */
static void dft_ref(const float *x, int64_t lines, int64_t Lin, int C, int64_t L, int64_t K, bool inv, double *y) {
  for (int64_t l = 0; l < lines; l++)
    for (int64_t k = 0; k < K; k++) {
      double re = 0, im = 0;
      for (int64_t n = 0; n < Lin && n < L; n++) {
        double th = (inv ? 2 : -2) * M_PI * (double)((k * n) % L) / (double)L;
        double xr = x[(l * Lin + n) * C], xi = C == 2 ? x[(l * Lin + n) * C + 1] : 0;
        re += xr * cos(th) - xi * sin(th);
        im += xr * sin(th) + xi * cos(th);
      }
      y[(l * K + k) * 2] = inv ? re / (double)L : re;
      y[(l * K + k) * 2 + 1] = inv ? im / (double)L : im;
    }
}

static void dft_case(int64_t lines, int64_t Lin, int C, int64_t L, bool inv, bool onesided) {
  int64_t K = onesided ? L / 2 + 1 : L;
  float *x = malloc(sizeof(float) * (size_t)(lines * Lin * C));
  double *ref = malloc(sizeof(double) * (size_t)(lines * K * 2));
  for (int64_t i = 0; i < lines * Lin * C; i++) x[i] = frnd(-1, 1);
  dft_ref(x, lines, Lin, C, L, K, inv, ref);
  int64_t dims[3] = {lines, Lin, C};
  T *t = t_new();
  Value *ins[2] = {t_in(t, DT_FLOAT, 3, dims, x), NULL};
  if (L != Lin) ins[1] = t_const(t, DT_INT64, 0, NULL, &L);
  Node *n = t_node(t, OP_DFT, L != Lin ? 2 : 1, ins, 1);
  tu_attr_int(t->g, n, "inverse", inv);
  tu_attr_int(t->g, n, "onesided", onesided);
  t_run(t, 2);
  const float *y = t_out(t, n, 0);
  double mag = 0, err = 0;
  for (int64_t i = 0; i < lines * K * 2; i++) mag = fmax(mag, fabs(ref[i])), err = fmax(err, fabs(y[i] - ref[i]));
  cr_assert_lt(err, 1e-5 * mag + 1e-6, "lines %lld, Lin %lld, C %d, L %lld, inv %d: err %g of %g", (long long)lines,
               (long long)Lin, C, (long long)L, inv, err, mag);
  t_free(t);
  free(x);
  free(ref);
}

Test(signal, dft_non_power_of_two_lengths) {
  dft_case(3, 7, 2, 7, false, false);
  dft_case(5, 13, 2, 13, true, false);
  dft_case(2, 100, 1, 100, false, true);
  dft_case(4, 30, 1, 45, false, false); /* zero padded */
  dft_case(3, 50, 2, 21, false, false); /* truncated */
  dft_case(64, 243, 2, 243, true, false); /* 3^5, parallel over lines */
  dft_case(2, 1031, 2, 1031, false, false); /* prime; 1031² twiddles: the gathered-table path */
}

Test(signal, stft_complex_signal_with_window) {
  enum { LS = 53, FL = 12, STEP = 5 };
  float x[LS * 2], win[FL];
  for (int i = 0; i < LS * 2; i++) x[i] = frnd(-1, 1);
  for (int i = 0; i < FL; i++) win[i] = frnd(0, 1);
  int64_t dims[3] = {1, LS, 2}, dw = FL, step = STEP;
  T *t = t_new();
  Node *n = t_node(t, OP_STFT, 3,
                   (Value *[]){t_in(t, DT_FLOAT, 3, dims, x), t_const(t, DT_INT64, 0, NULL, &step), t_in(t, DT_FLOAT, 1, &dw, win)},
                   1);
  tu_attr_int(t->g, n, "onesided", 0);
  t_run(t, 1);
  int frames = (LS - FL) / STEP + 1;
  cr_assert_eq(n->out[0]->dims[1], frames);
  const float *y = t_out(t, n, 0);
  for (int f = 0; f < frames; f++) {
    float seg[FL * 2];
    double ref[FL * 2];
    for (int i = 0; i < FL; i++) seg[2 * i] = x[(f * STEP + i) * 2] * win[i], seg[2 * i + 1] = x[(f * STEP + i) * 2 + 1] * win[i];
    dft_ref(seg, 1, FL, 2, FL, FL, false, ref);
    for (int i = 0; i < FL * 2; i++) cr_assert_float_eq(y[f * FL * 2 + i], ref[i], 1e-4, "frame %d, %d", f, i);
  }
  t_free(t);
}

/* ---- GridSample: torch's grid_sample semantics, scalar and in double ---- */

static double gs_reflect(double x, double lo2, double hi2) {
  if (lo2 == hi2) return 0;
  double mn = lo2 / 2, span = (hi2 - lo2) / 2;
  x = fabs(x - mn);
  double extra = fmod(x, span);
  int flips = (int)floor(x / span);
  return flips % 2 == 0 ? extra + mn : span - extra + mn;
}

static double gs_padc(double x, int S, int pad, bool ac) {
  if (pad == 0) return x;
  if (pad == 2) x = ac ? gs_reflect(x, 0, 2.0 * (S - 1)) : gs_reflect(x, -1, 2.0 * S - 1);
  return fmin(fmax(x, 0), S - 1);
}

static double gs_px(const float *img, int H, int W, int y, int x) {
  return y < 0 || y >= H || x < 0 || x >= W ? 0 : img[y * W + x];
}

static double gs_cubic(double t, int k) {
  double A = -0.75, v = k == 0 ? t + 1 : k == 1 ? t : k == 2 ? 1 - t : 2 - t;
  return k == 1 || k == 2 ? ((A + 2) * v - (A + 3)) * v * v + 1 : ((A * v - 5 * A) * v + 8 * A) * v - 4 * A;
}

static double gs_ref(const float *img, int H, int W, double gx, double gy, int mode, int pad, bool ac) {
  double x = ac ? (gx + 1) / 2 * (W - 1) : ((gx + 1) * W - 1) / 2;
  double y = ac ? (gy + 1) / 2 * (H - 1) : ((gy + 1) * H - 1) / 2;
  if (mode == 0) return gs_px(img, H, W, (int)rint(gs_padc(y, H, pad, ac)), (int)rint(gs_padc(x, W, pad, ac)));
  if (mode == 1) {
    x = gs_padc(x, W, pad, ac), y = gs_padc(y, H, pad, ac);
    int x0 = (int)floor(x), y0 = (int)floor(y);
    double tx = x - x0, ty = y - y0;
    return gs_px(img, H, W, y0, x0) * (1 - tx) * (1 - ty) + gs_px(img, H, W, y0, x0 + 1) * tx * (1 - ty) +
           gs_px(img, H, W, y0 + 1, x0) * (1 - tx) * ty + gs_px(img, H, W, y0 + 1, x0 + 1) * tx * ty;
  }
  int x0 = (int)floor(x), y0 = (int)floor(y);
  double s = 0;
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++) {
      double py = gs_padc(y0 - 1 + a, H, pad, ac), px = gs_padc(x0 - 1 + b, W, pad, ac);
      s += gs_cubic(y - y0, a) * gs_cubic(x - x0, b) * gs_px(img, H, W, (int)py, (int)px);
    }
  return s;
}

Test(vision, gridsample_padding_modes_at_borders) {
  enum { C = 2, H = 4, W = 5, HO = 3, WO = 19 };
  static float x[C * H * W], grid[HO * WO * 2];
  static const float edge[] = {-1.0f, 1.0f, -1.3f, 1.2f, -0.999f, 0.999f, 2.7f, -3.1f, 0.0f, 0.13f, -2.0f, 3.0f};
  for (int i = 0; i < C * H * W; i++) x[i] = frnd(-2, 2);
  for (int i = 0; i < HO * WO * 2; i++) grid[i] = i < 24 ? edge[i % 12] : frnd(-1.6f, 1.6f);
  for (int i = 0; i < 12; i++) grid[24 + 2 * i] = edge[i], grid[25 + 2 * i] = edge[(i + 5) % 12];
  int64_t dx[4] = {1, C, H, W}, dg[4] = {1, HO, WO, 2};
  static const char *modes[3] = {"nearest", "bilinear", "bicubic"}, *pads[3] = {"zeros", "border", "reflection"};
  T *t = t_new();
  Value *xv = t_in(t, DT_FLOAT, 4, dx, x), *gv = t_in(t, DT_FLOAT, 4, dg, grid);
  Node *ns[18];
  for (int k = 0; k < 18; k++) {
    ns[k] = t_node(t, OP_GridSample, 2, (Value *[]){xv, gv}, 1);
    tu_attr_str(t->g, ns[k], "mode", modes[k / 6]);
    tu_attr_str(t->g, ns[k], "padding_mode", pads[(k / 2) % 3]);
    tu_attr_int(t->g, ns[k], "align_corners", k % 2);
  }
  t_run(t, 1);
  for (int k = 0; k < 18; k++) {
    const float *y = t_out(t, ns[k], 0);
    for (int c = 0; c < C; c++)
      for (int p = 0; p < HO * WO; p++) {
        double r = gs_ref(x + c * H * W, H, W, grid[2 * p], grid[2 * p + 1], k / 6, (k / 2) % 3, k % 2);
        cr_assert_float_eq(y[c * HO * WO + p], r, 1e-4, "%s/%s/ac=%d at grid (%g, %g): %g vs %g", modes[k / 6],
                           pads[(k / 2) % 3], k % 2, grid[2 * p], grid[2 * p + 1], y[c * HO * WO + p], r);
      }
  }
  t_free(t);
}

Test(vision, nms_on_runtime_data_is_a_clear_error) {
  float boxes[8] = {0, 0, 1, 1, 0, 0, 1, 1}, scores[2] = {0.5f, 0.9f};
  int64_t db[3] = {1, 2, 4}, ds[3] = {1, 1, 2};
  T *t = t_new();
  Node *n = t_node(t, OP_NonMaxSuppression, 2,
                   (Value *[]){t_in(t, DT_FLOAT, 3, db, boxes), t_in(t, DT_FLOAT, 3, ds, scores)}, 1);
  cr_assert_neq(ir_infer_node(t->g, n), 0);
  cr_assert(strstr(ir_last_error(t->g), "output shape depends on input data"), "%s", ir_last_error(t->g));
  t_free(t);
}

Test(vision, nms_folds_with_constant_inputs) {
  /* boxes 0 and 1 overlap (IoU 0.81 > 0.5); box 2 is apart; box 3 is below the score threshold */
  float boxes[16] = {0, 0, 10, 10, 1, 1, 10, 10, 20, 20, 30, 30, 40, 40, 50, 50}, scores[4] = {0.9f, 0.8f, 0.7f, 0.1f};
  int64_t db[3] = {1, 4, 4}, ds[3] = {1, 1, 4}, mx = 10;
  float iou = 0.5f, st = 0.2f;
  T *t = t_new();
  Node *n = t_node(t, OP_NonMaxSuppression, 5,
                   (Value *[]){t_const(t, DT_FLOAT, 3, db, boxes), t_const(t, DT_FLOAT, 3, ds, scores),
                               t_const(t, DT_INT64, 0, NULL, &mx), t_const(t, DT_FLOAT, 0, NULL, &iou),
                               t_const(t, DT_FLOAT, 0, NULL, &st)},
                   1);
  cr_assert_eq(ir_infer_node(t->g, n), 0, "%s", ir_last_error(t->g));
  cr_assert_eq(n->out[0]->dims[0], 2);
  cr_assert_eq(ir_eval_node(t->g, n), 1);
  const int64_t *y = n->out[0]->data;
  int64_t want[6] = {0, 0, 0, 0, 0, 2};
  for (int i = 0; i < 6; i++) cr_assert_eq(y[i], want[i], "entry %d", i);
  t_free(t);
}

/* ---- RoiAlign: ONNX Runtime's sampling (adaptive grid, corners clamped, outside points count 0) ---- */

/* the sum of the four weighted corners (avg); *mx tracks the largest weighted corner (max) */
static double ra_sample(const float *img, int H, int W, double y, double x, double *mx) {
  if (y < -1 || y > H || x < -1 || x > W) {
    *mx = fmax(*mx, 0);
    return 0;
  }
  y = fmax(y, 0), x = fmax(x, 0);
  int yl = (int)y, xl = (int)x, yh, xh;
  if (yl >= H - 1) yh = yl = H - 1, y = yl;
  else yh = yl + 1;
  if (xl >= W - 1) xh = xl = W - 1, x = xl;
  else xh = xl + 1;
  double ly = y - yl, lx = x - xl, hy = 1 - ly, hx = 1 - lx;
  double v[4] = {hy * hx * img[yl * W + xl], hy * lx * img[yl * W + xh], ly * hx * img[yh * W + xl], ly * lx * img[yh * W + xh]};
  for (int k = 0; k < 4; k++) *mx = fmax(*mx, v[k]);
  return v[0] + v[1] + v[2] + v[3];
}

Test(vision, roialign_avg_and_max_adaptive_grid) {
  enum { NB = 2, C = 19, H = 6, W = 7, R = 3, OH = 2, OW = 3 };
  static float x[NB * C * H * W];
  float rois[R * 4] = {0.5f, 1.0f, 5.5f, 4.0f, -2.0f, -1.0f, 8.0f, 9.0f, 2.0f, 2.0f, 2.5f, 2.2f};
  int64_t bidx[R] = {1, 0, 1};
  for (int i = 0; i < NB * C * H * W; i++) x[i] = frnd(0, 1);
  int64_t dx[4] = {NB, C, H, W}, dr[2] = {R, 4}, dbi = R;
  T *t = t_new();
  Value *xv = t_in(t, DT_FLOAT, 4, dx, x), *rv = t_in(t, DT_FLOAT, 2, dr, rois), *bv = t_in(t, DT_INT64, 1, &dbi, bidx);
  Node *ns[2];
  for (int k = 0; k < 2; k++) {
    ns[k] = t_node(t, OP_RoiAlign, 3, (Value *[]){xv, rv, bv}, 1);
    tu_attr_int(t->g, ns[k], "output_height", OH);
    tu_attr_int(t->g, ns[k], "output_width", OW);
    tu_attr_float(t->g, ns[k], "spatial_scale", 0.75f);
    tu_attr_str(t->g, ns[k], "mode", k ? "max" : "avg");
  }
  t_run(t, 1);
  for (int k = 0; k < 2; k++) {
    const float *y = t_out(t, ns[k], 0);
    for (int r = 0; r < R; r++) {
      double x1 = rois[r * 4] * 0.75 - 0.5, y1 = rois[r * 4 + 1] * 0.75 - 0.5;
      double rw = rois[r * 4 + 2] * 0.75 - 0.5 - x1, rh = rois[r * 4 + 3] * 0.75 - 0.5 - y1;
      double bw = rw / OW, bh = rh / OH;
      int gw = (int)ceil(bw), gh = (int)ceil(bh), cnt = gw * gh > 1 ? gw * gh : 1;
      for (int c = 0; c < C; c++)
        for (int ph = 0; ph < OH; ph++)
          for (int pw = 0; pw < OW; pw++) {
            const float *img = x + (bidx[r] * C + c) * H * W;
            double s = 0, mx = -INFINITY;
            for (int iy = 0; iy < gh; iy++)
              for (int ix = 0; ix < gw; ix++)
                s += ra_sample(img, H, W, y1 + ph * bh + (iy + 0.5) * bh / gh, x1 + pw * bw + (ix + 0.5) * bw / gw, &mx);
            double ref = k ? (isinf(mx) ? 0 : mx) : s / cnt;
            cr_assert_float_eq(y[((r * C + c) * OH + ph) * OW + pw], ref, 1e-5, "%s roi %d c %d (%d,%d)", k ? "max" : "avg", r,
                               c, ph, pw);
          }
    }
  }
  t_free(t);
}

Test(vision, roialign_batch_index_out_of_range_is_a_status) {
  float x[1 * 1 * 2 * 2] = {1, 2, 3, 4}, rois[4] = {0, 0, 1, 1};
  int64_t bidx[1] = {1}, dx[4] = {1, 1, 2, 2}, dr[2] = {1, 4}, dbi = 1;
  T *t = t_new();
  Node *n = t_node(t, OP_RoiAlign, 3,
                   (Value *[]){t_in(t, DT_FLOAT, 4, dx, x), t_in(t, DT_FLOAT, 2, dr, rois), t_in(t, DT_INT64, 1, &dbi, bidx)}, 1);
  cr_assert_eq(ir_infer_node(t->g, n), 0, "%s", ir_last_error(t->g));
  tu_output(t->g, n->out[0]);
  float y[1];
  void *outs[1] = {y};
  char err[256];
  BeModel *m = be_jit(t->g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  cr_assert_eq(be_run(m, t->in, outs, err, sizeof err), 3 /* ONNXC_ERR_INDEX */);
  be_free(m);
  t_free(t);
}

Test(quant, convinteger_1d_strided_gather_path) {
  enum { CI = 3, L = 41, CO = 9, KW = 4, S = 3, P = 2 };
  int8_t x[CI * L], w[CO * CI * KW];
  for (int i = 0; i < CI * L; i++) x[i] = (int8_t)rnd();
  for (int i = 0; i < CO * CI * KW; i++) w[i] = (int8_t)rnd();
  int8_t xz = 5, wz = -3;
  int64_t dx[3] = {1, CI, L}, dw[3] = {CO, CI, KW}, pads[2] = {P, P}, strides[1] = {S};
  T *t = t_new();
  Node *n = t_node(t, OP_ConvInteger, 4,
                   (Value *[]){t_in(t, DT_INT8, 3, dx, x), t_in(t, DT_INT8, 3, dw, w), t_const(t, DT_INT8, 0, NULL, &xz),
                               t_const(t, DT_INT8, 0, NULL, &wz)},
                   1);
  tu_attr_ints(t->g, n, "pads", 2, pads);
  tu_attr_ints(t->g, n, "strides", 1, strides);
  t_run(t, 1);
  int OL = (L + 2 * P - KW) / S + 1;
  cr_assert_eq(n->out[0]->dims[2], OL);
  const int32_t *y = t_out(t, n, 0);
  for (int o = 0; o < CO; o++)
    for (int i = 0; i < OL; i++) {
      int32_t s = 0;
      for (int c = 0; c < CI; c++)
        for (int k = 0; k < KW; k++) {
          int p = i * S - P + k;
          if (p >= 0 && p < L) s += (x[c * L + p] - xz) * (w[(o * CI + c) * KW + k] - wz);
        }
      cr_assert_eq(y[o * OL + i], s, "(%d,%d)", o, i);
    }
  t_free(t);
}

/* ---- bad input: clear errors naming the node, never a crash ---- */

static void expect_error(Graph *g, Node *n, const char *want) {
  cr_assert_neq(ir_infer_node(g, n), 0, "expected an error containing '%s'", want);
  cr_assert(strstr(ir_last_error(g), want), "got: %s", ir_last_error(g));
  cr_assert(strstr(ir_last_error(g), ir_ops[n->op].name), "the error names the op: %s", ir_last_error(g));
}

Test(shape, bad_inputs_are_reported) {
  int64_t d1[1] = {8}, d3[3] = {1, 8, 3}, d4[4] = {1, 2, 3, 4}, d5[5] = {1, 2, 3, 4, 5}, s3 = 3, big = -1;
  Graph *g;
#define FRESH() (g = ir_graph_new(), g->opset = 17)
  FRESH();
  expect_error(g, tu_node_n(g, OP_DFT, 1, (Value *[]){tu_input(g, "x", DT_FLOAT, 1, d1)}, 1), "trailing dim");
  ir_graph_free(g);
  FRESH();
  expect_error(g, tu_node_n(g, OP_DFT, 1, (Value *[]){tu_input(g, "x", DT_FLOAT, 3, d3)}, 1), "trailing dim of 1");
  ir_graph_free(g);
  FRESH();
  expect_error(g, tu_node_n(g, OP_HannWindow, 1, (Value *[]){tu_input(g, "n", DT_INT64, 0, NULL)}, 1), "constant");
  ir_graph_free(g);
  FRESH();
  expect_error(g, tu_node_n(g, OP_HannWindow, 1, (Value *[]){tu_const_i64(g, 0, NULL, &big)}, 1), "window size");
  ir_graph_free(g);
  FRESH();
  expect_error(g, tu_node_n(g, OP_GridSample, 2, (Value *[]){tu_input(g, "x", DT_FLOAT, 5, d5), tu_input(g, "g", DT_FLOAT, 5, d5)}, 1),
               "2-D sampling only");
  ir_graph_free(g);
  FRESH();
  Node *q = tu_node_n(g, OP_QuantizeLinear, 2,
                      (Value *[]){tu_input(g, "x", DT_FLOAT, 4, d4), tu_const(g, DT_FLOAT, 1, &s3, (double[]){1, 2, 3})}, 1);
  expect_error(g, q, "scale has 3 entries");
  ir_graph_free(g);
  FRESH();
  expect_error(g, tu_node_n(g, OP_MatMulInteger, 2, (Value *[]){tu_input(g, "a", DT_FLOAT, 4, d4), tu_input(g, "b", DT_INT8, 4, d4)}, 1),
               "int8 or uint8");
  ir_graph_free(g);
#undef FRESH
}

/* constant s8 B, u8 A: the packed byte-dot-product kernel (16 columns: vpdpbusd where the CPU has
 * VNNI; N <= 8: 8 columns, kb_dot4_u8s8's widening form) */
static void packed_case(int N) {
  enum { B0 = 3, M = 7, K = 45, NMAX = 40 };
  const char *target = NULL;
  static uint8_t a[B0 * M * K];
  static int8_t b[K * NMAX];
  uint8_t za[M];
  int8_t zb[NMAX], zy = 3;
  float sa = 0.03f, sb[NMAX], sy = 0.8f;
  for (int i = 0; i < B0 * M * K; i++) a[i] = (uint8_t)rnd();
  for (int i = 0; i < K * N; i++) b[i] = (int8_t)rnd();
  for (int i = 0; i < M; i++) za[i] = (uint8_t)rnd();
  for (int i = 0; i < N; i++) zb[i] = (int8_t)(rnd() % 41) - 20, sb[i] = frnd(0.001f, 0.02f);
  int64_t da[3] = {B0, M, K}, db[2] = {K, N}, dm = M, dn = N;
  T *t = t_new();
  Value *av = t_in(t, DT_UINT8, 3, da, a), *bc = t_const(t, DT_INT8, 2, db, b);
  Value *zav = t_const(t, DT_UINT8, 1, &dm, za), *zbv = t_const(t, DT_INT8, 1, &dn, zb);
  Node *mi = t_node(t, OP_MatMulInteger, 4, (Value *[]){av, bc, zav, zbv}, 1);
  Node *ql = t_node(t, OP_QLinearMatMul, 8,
                    (Value *[]){av, t_const(t, DT_FLOAT, 0, NULL, &sa), t_const(t, DT_UINT8, 0, NULL, &za[0]), bc,
                                t_const(t, DT_FLOAT, 1, &dn, sb), zbv, t_const(t, DT_FLOAT, 0, NULL, &sy),
                                t_const(t, DT_INT8, 0, NULL, &zy)},
                    1);
  t_run_on(t, 2, target);
  cr_assert_eq(mi->out[0]->dims[2], N);
  const int32_t *y = t_out(t, mi, 0);
  const int8_t *yq = t_out(t, ql, 0);
  for (int p = 0; p < B0; p++)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        int32_t s = 0, s0 = 0;
        for (int k = 0; k < K; k++) {
          s += (a[(p * M + i) * K + k] - za[i]) * (b[k * N + j] - zb[j]);
          s0 += (a[(p * M + i) * K + k] - za[0]) * (b[k * N + j] - zb[j]);
        }
        int at = (p * M + i) * N + j;
        cr_assert_eq(y[at], s, "%s MatMulInteger (%d,%d,%d)", target ? target : "native", p, i, j);
        float r = (float)s0 * (sa * sb[j] / sy);
        cr_assert_eq(yq[at], (int8_t)sat(rintf(r) + zy, false), "%s QLinearMatMul (%d,%d,%d)", target ? target : "native", p, i, j);
      }
  t_free(t);
}

Test(quant, packed_u8s8_matmul_wide_and_narrow) {
  packed_case(37);
  packed_case(6);
}

/* u8 A, constant s8 B with zero points 0 (the symmetric weights quantizers write): gen_quant_mm.c's
 * tiled kernel for MatMulInteger, QLinearMatMul and the fused QMatMul (float out with a per-column
 * scale and bias, and 8-bit out), with K % 4 != 0, N not a multiple of the panel, rows not a
 * multiple of the row tile; a's scale and zero point are run-time scalars as
 * DynamicQuantizeLinear produces them */
static void qmm_case(int B0, int M, int K, int N) {
  static uint8_t a[4 * 40 * 80];
  static int8_t b[80 * 100], zb[100];
  static float sb[100], bias[100];
  uint8_t za = (uint8_t)(rnd() % 200 + 20);
  int8_t zy = -5;
  float sa = 0.021f, sy = 0.9f;
  for (int i = 0; i < B0 * M * K; i++) a[i] = (uint8_t)rnd();
  for (int i = 0; i < K * N; i++) b[i] = (int8_t)((int)(rnd() % 255) - 127);
  for (int i = 0; i < N; i++) zb[i] = 0, sb[i] = frnd(0.001f, 0.02f), bias[i] = frnd(-2, 2);
  int64_t da[3] = {B0, M, K}, db[2] = {K, N}, dn = N;
  T *t = t_new();
  Value *av = t_in(t, DT_UINT8, 3, da, a), *bc = t_const(t, DT_INT8, 2, db, b), *zbv = t_const(t, DT_INT8, 1, &dn, zb);
  Value *sav = t_in(t, DT_FLOAT, 0, NULL, &sa), *zav = t_in(t, DT_UINT8, 0, NULL, &za);
  Value *sbv = t_const(t, DT_FLOAT, 1, &dn, sb), *bv = t_const(t, DT_FLOAT, 1, &dn, bias);
  Value *syv = t_const(t, DT_FLOAT, 0, NULL, &sy), *zyv = t_const(t, DT_INT8, 0, NULL, &zy);
  Node *mi = t_node(t, OP_MatMulInteger, 4, (Value *[]){av, bc, t_const(t, DT_UINT8, 0, NULL, &za), zbv}, 1);
  Node *ql = t_node(t, OP_QLinearMatMul, 8, (Value *[]){av, sav, zav, bc, sbv, zbv, syv, zyv}, 1);
  Node *qf = t_node(t, OP_QMatMul, 7, (Value *[]){av, sav, zav, bc, sbv, zbv, bv}, 1);
  Node *qq = t_node(t, OP_QMatMul, 9, (Value *[]){av, sav, zav, bc, sbv, zbv, bv, syv, zyv}, 1);
  t_run_on(t, 2, NULL);
  cr_assert_eq(qf->out[0]->dtype, DT_FLOAT);
  const int32_t *y = t_out(t, mi, 0);
  const int8_t *yq = t_out(t, ql, 0), *yqq = t_out(t, qq, 0);
  const float *yf = t_out(t, qf, 0);
  for (int p = 0; p < B0; p++)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        int32_t s = 0;
        for (int k = 0; k < K; k++) s += (a[(p * M + i) * K + k] - za) * b[k * N + j];
        int at = (p * M + i) * N + j;
        cr_assert_eq(y[at], s, "MatMulInteger %dx%dx%dx%d (%d,%d,%d)", B0, M, K, N, p, i, j);
        cr_assert_eq(yq[at], (int8_t)sat(rintf((float)s * (sa * sb[j] / sy)) + zy, false), "QLinearMatMul (%d,%d,%d)", p, i, j);
        float f = (float)s * (sa * sb[j]) + bias[j];
        cr_assert_eq(yf[at], f, "QMatMul float (%d,%d,%d): %g, want %g", p, i, j, yf[at], f);
        float r = (float)s * (sa * sb[j] / sy) + bias[j] / sy;
        cr_assert(abs(yqq[at] - (int)sat(rintf(r) + zy, false)) <= 1, "QMatMul int8 (%d,%d,%d)", p, i, j);
      }
  t_free(t);
}

Test(quant, qmm_u8s8_symmetric_weights) {
  qmm_case(1, 1, 4, 16);
  qmm_case(2, 7, 45, 37);
  qmm_case(3, 40, 80, 100);
  qmm_case(1, 13, 64, 64);
}
