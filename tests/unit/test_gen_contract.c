/* test_gen_contract.c — MatMul, Gemm, Conv, ConvTranspose, Einsum code generation vs naive
 * double-accumulation references.  Many cases share one graph (one JIT) to keep the suite fast;
 * each graph is run with 1 and 2 threads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "be.h"
#include "gen_winograd.h"
#include "testutil.h"

/* ---------------------------------------------------------------------------------------------
 * harness */
#define TG_MAX 512

typedef struct HostT {
  DType t;
  int rank;
  int64_t dims[IR_MAX_RANK];
  int64_t n;
  double *d; /* values (exactly representable in t) */
} HostT;

typedef struct TG {
  Graph *g;
  int nin;
  Value *inv[TG_MAX];
  void *inbuf[TG_MAX];
  int nout;
  Value *outv[TG_MAX];
  double *ref[TG_MAX], *mag[TG_MAX];
  char desc[TG_MAX][160];
} TG;

static uint32_t rng_state = 12345;
static double rnd(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return (double)(rng_state >> 8) / (double)(1u << 24) * 2.0 - 1.0;
}

static TG *tg_new(void) {
  TG *t = calloc(1, sizeof *t);
  t->g = ir_graph_new();
  return t;
}

static int64_t prod(int rank, const int64_t *d) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= d[i];
  return n;
}

/* a runtime input (cst = false) or constant with random values */
static Value *tg_tensor(TG *t, DType dt, int rank, const int64_t *dims, bool cst, HostT *h) {
  h->t = dt;
  h->rank = rank;
  memcpy(h->dims, dims, sizeof(int64_t) * (size_t)rank);
  h->n = prod(rank, dims);
  h->d = malloc(sizeof(double) * (size_t)(h->n ? h->n : 1));
  for (int64_t i = 0; i < h->n; i++) {
    double x = rnd();
    if (dt == DT_FLOAT16 || dt == DT_BFLOAT16) x = round(x * 64) / 64;
    else if (!dtype_is_float(dt)) x = dtype_is_signed(dt) ? (double)(int)(x * 8) : (double)(int)((x + 1) * 4);
    h->d[i] = x;
  }
  Value *v;
  if (cst) {
    v = tu_const(t->g, dt, rank, dims, h->d);
  } else {
    char nm[32];
    snprintf(nm, sizeof nm, "in%d", t->nin);
    v = tu_input(t->g, nm, dt, rank, dims);
    void *buf = malloc(dtype_size(dt) * (size_t)(h->n ? h->n : 1));
    for (int64_t i = 0; i < h->n; i++) ir_store_f64(dt, buf, i, h->d[i]);
    t->inv[t->nin] = v;
    t->inbuf[t->nin++] = buf;
  }
  return v;
}

static Node *tg_node(TG *t, Op op, int nin, Value **ins) { return tu_node_n(t->g, op, nin, ins, 1); }

/* infer the node's output shape, register it as a graph output with its reference */
static void tg_out(TG *t, Node *n, double *ref, double *mag, const char *fmt, ...) {
  cr_assert_eq(ir_infer_node(t->g, n), 0, "shape inference: %s", ir_last_error(t->g));
  tu_output(t->g, n->out[0]);
  t->outv[t->nout] = n->out[0];
  t->ref[t->nout] = ref;
  t->mag[t->nout] = mag;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->desc[t->nout], sizeof t->desc[0], fmt, ap);
  va_end(ap);
  t->nout++;
}

static void tg_run(TG *t, double rtol) {
  char err[1024];
  BeModel *m = be_jit(t->g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  void *outs[TG_MAX];
  for (int i = 0; i < t->nout; i++) {
    int64_t n = ir_value_numel(t->outv[i]);
    outs[i] = calloc((size_t)(n ? n : 1), dtype_size(t->outv[i]->dtype));
  }
  for (int th = 1; th <= 2; th++) {
    be_set_threads(m, th);
    for (int i = 0; i < t->nout; i++) {
      int64_t n = ir_value_numel(t->outv[i]);
      memset(outs[i], 0x7f, (size_t)n * dtype_size(t->outv[i]->dtype)); /* poison */
    }
    cr_assert_eq(be_run(m, (const void *const *)t->inbuf, outs, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < t->nout; i++) {
      const Value *y = t->outv[i];
      int64_t n = ir_value_numel(y);
      Value tmp = *y;
      tmp.data = outs[i];
      double tol = rtol;
      if (y->dtype == DT_FLOAT16) tol = 2e-3;
      if (y->dtype == DT_BFLOAT16) tol = 1e-2;
      int bad = 0;
      for (int64_t j = 0; j < n && bad < 1; j++) {
        double got = ir_const_f64(&tmp, j), want = t->ref[i][j], mg = t->mag[i] ? t->mag[i][j] : fabs(want);
        bool ok = dtype_is_float(y->dtype) ? fabs(got - want) <= tol * (fabs(want) + 0.01 * mg) + 1e-6 : got == want;
        if (!ok) {
          bad++;
          cr_expect(ok, "%s (threads %d): element %lld: got %.9g, want %.9g", t->desc[i], th, (long long)j, got,
                    want);
        }
      }
    }
  }
  for (int i = 0; i < t->nout; i++) {
    free(outs[i]);
    free(t->ref[i]);
    free(t->mag[i]);
  }
  for (int i = 0; i < t->nin; i++) free(t->inbuf[i]);
  be_free(m);
  ir_graph_free(t->g);
  free(t);
}

/* a TG that was only emitted, not run */
static void tg_free(TG *t) {
  for (int i = 0; i < t->nout; i++) free(t->ref[i]), free(t->mag[i]);
  for (int i = 0; i < t->nin; i++) free(t->inbuf[i]);
  ir_graph_free(t->g);
  free(t);
}

static double wrap_int(DType t, double x) {
  int64_t v = (int64_t)x;
  switch (t) {
  case DT_INT32: return (double)(int32_t)v;
  case DT_UINT32: return (double)(uint32_t)v;
  case DT_INT8: return (double)(int8_t)v;
  case DT_UINT8: return (double)(uint8_t)v;
  case DT_INT16: return (double)(int16_t)v;
  case DT_UINT16: return (double)(uint16_t)v;
  default: return x;
  }
}

/* ---------------------------------------------------------------------------------------------
 * Gemm */
static void add_gemm(TG *t, DType dt, int64_t M, int64_t N, int64_t K, int ta, int tb, int crank, int64_t c0,
                     int64_t c1, float alpha, float beta, bool bconst, bool aconst) {
  HostT A, B, C = {0};
  int64_t ad[2] = {ta ? K : M, ta ? M : K}, bd[2] = {tb ? N : K, tb ? K : N};
  Value *ins[3];
  ins[0] = tg_tensor(t, dt, 2, ad, aconst, &A);
  ins[1] = tg_tensor(t, dt, 2, bd, bconst, &B);
  int nin = 2;
  if (crank >= 0) {
    int64_t cd[2] = {c0, c1};
    if (crank == 1) cd[0] = c1;
    ins[2] = tg_tensor(t, dt, crank, cd, false, &C);
    nin = 3;
  }
  Node *n = tg_node(t, OP_Gemm, nin, ins);
  if (ta) tu_attr_int(t->g, n, "transA", 1);
  if (tb) tu_attr_int(t->g, n, "transB", 1);
  if (alpha != 1.0f) tu_attr_float(t->g, n, "alpha", alpha);
  if (beta != 1.0f) tu_attr_float(t->g, n, "beta", beta);
  double *ref = malloc(sizeof(double) * (size_t)(M * N)), *mag = malloc(sizeof(double) * (size_t)(M * N));
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0, m = 0;
      for (int64_t k = 0; k < K; k++) {
        double a = A.d[ta ? k * M + i : i * K + k], b = B.d[tb ? j * K + k : k * N + j];
        s += a * b;
        m += fabs(a * b);
      }
      s *= (double)alpha;
      m *= fabs((double)alpha);
      if (crank >= 0) {
        double cv;
        if (crank == 0) cv = C.d[0];
        else if (crank == 1) cv = C.d[c1 == 1 ? 0 : j];
        else cv = C.d[(c0 == 1 ? 0 : i) * c1 + (c1 == 1 ? 0 : j)];
        s += (double)beta * cv;
        m += fabs((double)beta * cv);
      }
      ref[i * N + j] = dtype_is_float(dt) ? s : wrap_int(dt, s);
      mag[i * N + j] = m;
    }
  tg_out(t, n, ref, mag, "Gemm %s M=%lld N=%lld K=%lld tA=%d tB=%d C rank %d (%lld,%lld) a=%g b=%g Bconst=%d",
         dtype_name(dt), (long long)M, (long long)N, (long long)K, ta, tb, crank, (long long)c0, (long long)c1,
         alpha, beta, bconst);
  free(A.d);
  free(B.d);
  free(C.d);
}

static const int64_t SIZES[] = {1, 3, 17, 64, 100, 255};

Test(gemm, all_sizes_const_b) {
  for (int mi = 0; mi < 6; mi++) {
    TG *t = tg_new();
    for (int ni = 0; ni < 6; ni++)
      for (int ki = 0; ki < 6; ki++)
        add_gemm(t, DT_FLOAT, SIZES[mi], SIZES[ni], SIZES[ki], 0, 0, -1, 0, 0, 1, 1, true, false);
    tg_run(t, 1e-4);
  }
}

Test(gemm, all_sizes_runtime_b) {
  for (int mi = 0; mi < 6; mi++) {
    TG *t = tg_new();
    for (int ni = 0; ni < 6; ni++)
      for (int ki = 0; ki < 6; ki++)
        add_gemm(t, DT_FLOAT, SIZES[mi], SIZES[ni], SIZES[ki], 0, 0, -1, 0, 0, 1, 1, false, false);
    tg_run(t, 1e-4);
  }
}

Test(gemm, transposes_alpha_beta_bias) {
  TG *t = tg_new();
  int64_t sz[] = {1, 17, 100};
  int v = 0;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int mi = 0; mi < 3; mi++)
        for (int ni = 0; ni < 3; ni++) {
          int64_t M = sz[mi], N = sz[(ni + mi) % 3], K = sz[ni];
          int form = v++ % 6; /* C: none, scalar, [N], [M,1], [1,N], [M,N] */
          int crank = form == 0 ? -1 : form == 1 ? 0 : form == 2 ? 1 : 2;
          int64_t c0 = form == 3 || form == 5 ? M : 1, c1 = form == 3 ? 1 : N;
          add_gemm(t, DT_FLOAT, M, N, K, ta, tb, crank, c0, c1, form & 1 ? 0.5f : 1.0f, form & 2 ? -2.0f : 1.0f,
                   (v & 1) != 0, false);
        }
  tg_run(t, 1e-4);
}

Test(gemm, const_a_and_big_k) {
  TG *t = tg_new();
  add_gemm(t, DT_FLOAT, 37, 70, 1000, 0, 0, 1, 1, 70, 1, 1, false, true);
  add_gemm(t, DT_FLOAT, 130, 200, 700, 0, 1, 2, 130, 200, 1.5f, 0.25f, true, false);
  add_gemm(t, DT_FLOAT, 130, 200, 700, 1, 0, 2, 130, 1, 1, 1, false, false);
  add_gemm(t, DT_FLOAT, 5, 1000, 300, 0, 0, -1, 0, 0, 1, 1, true, false);
  add_gemm(t, DT_FLOAT, 301, 1, 300, 0, 0, 2, 301, 1, 2, 3, false, true);
  add_gemm(t, DT_FLOAT, 7, 4, 333, 1, 1, 1, 1, 4, 1, 1, false, true);
  add_gemm(t, DT_FLOAT, 1, 2, 1000, 0, 1, -1, 0, 0, 1, 1, false, false);
  add_gemm(t, DT_FLOAT, 3, 5, 0, 0, 0, 1, 1, 5, 1, 1, true, false); /* K = 0: bias only */
  add_gemm(t, DT_FLOAT, 4, 1, 0, 0, 0, -1, 0, 0, 1, 1, false, false);
  tg_run(t, 1e-4);
}

/* Constant B with A rows too many for L2 (gen_gemm.c weights_schedule): tasks of an M block × a group
 * of N panels, K blocks outside the panels.  BERT's FFN down (128 × 768 × 3072, a bias row); rows,
 * last panel (8 columns), K block and last group (1 of 13 panels) all partial, a full bias, alpha
 * and beta; three M blocks (600 rows). */
Test(gemm, panel_groups) {
  TG *t = tg_new();
  add_gemm(t, DT_FLOAT, 128, 768, 3072, 0, 0, 1, 1, 768, 1, 1, true, false);
  add_gemm(t, DT_FLOAT, 131, 776, 3000, 0, 0, 2, 131, 776, 0.5f, -2.0f, true, false);
  add_gemm(t, DT_FLOAT, 600, 256, 3072, 0, 1, -1, 0, 0, 1, 1, true, false);
  tg_run(t, 1e-4);
}

Test(gemm, other_dtypes) {
  TG *t = tg_new();
  DType dts[] = {DT_DOUBLE, DT_INT32, DT_INT64, DT_FLOAT16, DT_UINT32};
  for (int i = 0; i < 5; i++) {
    add_gemm(t, dts[i], 17, 33, 20, 0, 0, 1, 1, 33, 1, 1, true, false);
    add_gemm(t, dts[i], 9, 5, 64, 1, 1, -1, 0, 0, 1, 1, false, false);
  }
  tg_run(t, 1e-9);
}

/* ---------------------------------------------------------------------------------------------
 * MatMul */
static void add_matmul(TG *t, DType dt, int ra, const int64_t *ad, int rb, const int64_t *bd, bool bconst) {
  HostT A, B;
  Value *ins[2];
  ins[0] = tg_tensor(t, dt, ra, ad, false, &A);
  ins[1] = tg_tensor(t, dt, rb, bd, bconst, &B);
  Node *n = tg_node(t, OP_MatMul, 2, ins);
  cr_assert_eq(ir_infer_node(t->g, n), 0, "%s", ir_last_error(t->g));
  Value *y = n->out[0];
  int64_t ny = ir_value_numel(y);
  double *ref = calloc((size_t)(ny ? ny : 1), sizeof(double)), *mag = calloc((size_t)(ny ? ny : 1), sizeof(double));
  /* promote to >= 2-D, broadcast batch */
  int64_t K = ad[ra - 1], M = ra > 1 ? ad[ra - 2] : 1, N = rb > 1 ? bd[rb - 1] : 1;
  int ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0, bdn = ba > bb ? ba : bb;
  int64_t nb = ny / (M * N);
  for (int64_t b = 0; b < nb; b++) {
    /* batch index → offsets */
    int64_t rem = b, offa = 0, offb = 0, sa = M * K, sb = K * N;
    for (int d = bdn - 1; d >= 0; d--) {
      int ka = d - (bdn - ba), kb = d - (bdn - bb);
      int64_t da = ka >= 0 ? ad[ka] : 1, db = kb >= 0 ? bd[kb] : 1, dd = da > db ? da : db;
      int64_t i = rem % dd;
      rem /= dd;
      if (da != 1) offa += i * sa;
      if (db != 1) offb += i * sb;
      sa *= da;
      sb *= db;
    }
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double s = 0, m = 0;
        for (int64_t k = 0; k < K; k++) {
          double p = A.d[offa + i * K + k] * B.d[offb + k * N + j];
          s += p;
          m += fabs(p);
        }
        ref[b * M * N + i * N + j] = dtype_is_float(dt) ? s : wrap_int(dt, s);
        mag[b * M * N + i * N + j] = m;
      }
  }
  char sa_[64], sb_[64];
  Value tmp = {.rank = ra};
  memcpy(tmp.dims, ad, sizeof(int64_t) * (size_t)ra);
  ir_shape_str(&tmp, sa_, sizeof sa_);
  tmp.rank = rb;
  memcpy(tmp.dims, bd, sizeof(int64_t) * (size_t)rb);
  ir_shape_str(&tmp, sb_, sizeof sb_);
  tg_out(t, n, ref, mag, "MatMul %s %s x %s Bconst=%d", dtype_name(dt), sa_, sb_, bconst);
  free(A.d);
  free(B.d);
}

Test(matmul, batch_broadcast_and_1d) {
  TG *t = tg_new();
  for (int bc = 0; bc < 2; bc++) {
    int64_t a1[] = {17}, b1[] = {17};
    add_matmul(t, DT_FLOAT, 1, a1, 1, b1, bc);
    int64_t a2[] = {64}, b2[] = {64, 33};
    add_matmul(t, DT_FLOAT, 1, a2, 2, b2, bc);
    int64_t a3[] = {3, 5, 100}, b3[] = {100};
    add_matmul(t, DT_FLOAT, 3, a3, 1, b3, bc);
    int64_t a4[] = {2, 3, 20, 30}, b4[] = {30, 40};
    add_matmul(t, DT_FLOAT, 4, a4, 2, b4, bc);
    int64_t a5[] = {2, 1, 20, 30}, b5[] = {3, 30, 17};
    add_matmul(t, DT_FLOAT, 4, a5, 3, b5, bc);
    int64_t a6[] = {20, 30}, b6[] = {4, 30, 70};
    add_matmul(t, DT_FLOAT, 2, a6, 3, b6, bc);
    int64_t a7[] = {4, 1, 7, 64}, b7[] = {1, 3, 64, 16};
    add_matmul(t, DT_FLOAT, 4, a7, 4, b7, bc);
    int64_t a8[] = {1, 128, 256}, b8[] = {256, 300};
    add_matmul(t, DT_FLOAT, 3, a8, 2, b8, bc);
    int64_t a9[] = {2, 64}, b9[] = {3, 64, 1};
    add_matmul(t, DT_FLOAT, 2, a9, 3, b9, bc);
  }
  tg_run(t, 1e-4);
}

Test(matmul, dtypes) {
  TG *t = tg_new();
  int64_t a[] = {2, 9, 40}, b[] = {40, 21};
  add_matmul(t, DT_DOUBLE, 3, a, 2, b, true);
  add_matmul(t, DT_INT32, 3, a, 2, b, false);
  add_matmul(t, DT_INT64, 3, a, 2, b, true);
  add_matmul(t, DT_UINT64, 3, a, 2, b, false);
  add_matmul(t, DT_FLOAT16, 3, a, 2, b, false);
  add_matmul(t, DT_BFLOAT16, 3, a, 2, b, true);
  tg_run(t, 1e-9);
}

/* ---------------------------------------------------------------------------------------------
 * Conv / ConvTranspose */
typedef struct ConvCase {
  int nsp;
  int64_t N, C, O, group;
  int64_t in[3], k[3], s[3], d[3], pads[6], opad[3];
  const char *auto_pad;
  bool bias, wconst, transposed;
  DType dt;
  bool wino; /* marked as the winograd pass does (gen_winograd.c decides) */
  bool res;  /* a residual (a runtime input of the output's shape) fused as passes/fuse.c does */
} ConvCase;

static void add_conv(TG *t, ConvCase cc) {
  int nsp = cc.nsp, r = nsp + 2;
  DType dt = cc.dt ? cc.dt : DT_FLOAT;
  for (int i = 0; i < nsp; i++) {
    if (!cc.s[i]) cc.s[i] = 1;
    if (!cc.d[i]) cc.d[i] = 1;
  }
  int64_t xd[5] = {cc.N, cc.C}, wd[5], bd[1] = {cc.O};
  int64_t Cg = cc.C / cc.group, Og = cc.O / cc.group;
  if (!cc.transposed) wd[0] = cc.O, wd[1] = Cg;
  else wd[0] = cc.C, wd[1] = Og;
  for (int i = 0; i < nsp; i++) xd[2 + i] = cc.in[i], wd[2 + i] = cc.k[i];
  HostT X, Wt, B = {0};
  Value *ins[3];
  ins[0] = tg_tensor(t, dt, r, xd, false, &X);
  ins[1] = tg_tensor(t, dt, r, wd, cc.wconst, &Wt);
  if (cc.bias) ins[2] = tg_tensor(t, dt, 1, bd, true, &B);
  Node *n = tg_node(t, cc.transposed ? OP_ConvTranspose : OP_Conv, cc.bias ? 3 : 2, ins);
  tu_attr_ints(t->g, n, "strides", nsp, cc.s);
  tu_attr_ints(t->g, n, "dilations", nsp, cc.d);
  if (cc.group > 1) tu_attr_int(t->g, n, "group", cc.group);
  if (cc.auto_pad) tu_attr_str(t->g, n, "auto_pad", cc.auto_pad);
  else tu_attr_ints(t->g, n, "pads", 2 * nsp, cc.pads);
  if (cc.transposed) tu_attr_ints(t->g, n, "output_padding", nsp, cc.opad);
  n->winograd = cc.wino;
  cr_assert_eq(ir_infer_node(t->g, n), 0, "%s", ir_last_error(t->g));
  Value *y = n->out[0];
  int64_t out[3], pb[3];
  for (int i = 0; i < nsp; i++) {
    out[i] = y->dims[2 + i];
    int64_t ek = (cc.k[i] - 1) * cc.d[i] + 1;
    pb[i] = cc.pads[i];
    if (cc.auto_pad && !cc.transposed) {
      int64_t total = (out[i] - 1) * cc.s[i] + ek - cc.in[i];
      if (total < 0) total = 0;
      pb[i] = !strcmp(cc.auto_pad, "SAME_UPPER") ? total / 2 : !strcmp(cc.auto_pad, "SAME_LOWER") ? total - total / 2 : 0;
    }
  }
  int64_t P = 1, HW = 1, KS = 1;
  for (int i = 0; i < nsp; i++) P *= out[i], HW *= cc.in[i], KS *= cc.k[i];
  int64_t ny = cc.N * cc.O * P;
  double *ref = calloc((size_t)ny, sizeof(double)), *mag = calloc((size_t)ny, sizeof(double));
  int64_t ist[3], ost[3], kst[3];
  for (int i = nsp - 1, a = 1, b2 = 1, c2 = 1; i >= 0; i--) {
    ist[i] = a, ost[i] = b2, kst[i] = c2;
    a *= (int)cc.in[i], b2 *= (int)out[i], c2 *= (int)cc.k[i];
  }
  for (int64_t nn = 0; nn < cc.N; nn++)
    for (int64_t o = 0; o < cc.O; o++) {
      int64_t g = o / Og;
      for (int64_t p = 0; p < P; p++) {
        double bv = cc.bias ? B.d[o] : 0.0;
        ref[(nn * cc.O + o) * P + p] = bv;
        mag[(nn * cc.O + o) * P + p] = fabs(bv);
      }
      for (int64_t ci = 0; ci < Cg; ci++)
        for (int64_t kp = 0; kp < KS; kp++) {
          double wv = !cc.transposed ? Wt.d[(o * Cg + ci) * KS + kp] : Wt.d[((g * Cg + ci) * Og + o % Og) * KS + kp];
          const double *xc = X.d + (nn * cc.C + g * Cg + ci) * HW;
          if (!cc.transposed) {
            for (int64_t p = 0; p < P; p++) {
              int64_t off = 0;
              bool ok = true;
              for (int i = 0; i < nsp; i++) {
                int64_t od = p / ost[i] % out[i], kd = kp / kst[i] % cc.k[i];
                int64_t id = od * cc.s[i] - pb[i] + kd * cc.d[i];
                ok = ok && id >= 0 && id < cc.in[i];
                off += id * ist[i];
              }
              if (!ok) continue;
              ref[(nn * cc.O + o) * P + p] += wv * xc[off];
              mag[(nn * cc.O + o) * P + p] += fabs(wv * xc[off]);
            }
          } else {
            for (int64_t ip = 0; ip < HW; ip++) {
              int64_t off = 0;
              bool ok = true;
              for (int i = 0; i < nsp; i++) {
                int64_t id = ip / ist[i] % cc.in[i], kd = kp / kst[i] % cc.k[i];
                int64_t od = id * cc.s[i] - pb[i] + kd * cc.d[i];
                ok = ok && od >= 0 && od < out[i];
                off += od * ost[i];
              }
              if (!ok) continue;
              ref[(nn * cc.O + o) * P + off] += wv * xc[ip];
              mag[(nn * cc.O + o) * P + off] += fabs(wv * xc[ip]);
            }
          }
        }
    }
  char shp[64];
  ir_shape_str(y, shp, sizeof shp);
  tg_out(t, n, ref, mag, "%s nsp=%d C=%lld O=%lld g=%lld in=%lldx%lld k=%lldx%lld s=%lld,%lld d=%lld,%lld pads=%lld,%lld,%lld,%lld %s y=%s wconst=%d",
         cc.transposed ? "ConvTranspose" : "Conv", nsp, (long long)cc.C, (long long)cc.O, (long long)cc.group,
         (long long)cc.in[0], (long long)cc.in[1], (long long)cc.k[0], (long long)cc.k[1], (long long)cc.s[0],
         (long long)cc.s[1], (long long)cc.d[0], (long long)cc.d[1], (long long)cc.pads[0], (long long)cc.pads[1],
         (long long)cc.pads[2], (long long)cc.pads[3], cc.auto_pad ? cc.auto_pad : "", shp, cc.wconst);
  if (cc.res) { /* after shape inference, which takes 2..3 inputs, as the fuse pass runs after it */
    HostT R;
    Value *rv = tg_tensor(t, dt, r, y->dims, false, &R);
    int slot = ir_ops[OP_Conv].max_in;
    Value **in = arena_alloc(t->g->arena, sizeof(Value *) * (size_t)(slot + 1));
    memcpy(in, n->in, sizeof(Value *) * (size_t)n->nin);
    in[slot] = rv;
    n->in = in;
    n->nin = slot + 1;
    n->epi = arena_alloc(t->g->arena, sizeof(Epilogue));
    n->epi->res = rv;
    for (int64_t i = 0; i < ny; i++) ref[i] += R.d[i], mag[i] += fabs(R.d[i]);
    free(R.d);
  }
  free(X.d);
  free(Wt.d);
  free(B.d);
}

Test(conv, resnet_like) {
  TG *t = tg_new();
  /* 7x7 s2 p3 stem */
  add_conv(t, (ConvCase){2, 1, 3, 16, 1, {38, 38}, {7, 7}, {2, 2}, {0}, {3, 3, 3, 3}, .bias = true, .wconst = true});
  /* 3x3 s1 p1 */
  add_conv(t, (ConvCase){2, 1, 16, 16, 1, {14, 14}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 2, 8, 24, 1, {20, 23}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 32, 64, 1, {56, 56}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 64, 20, 1, {7, 7}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
  /* 3x3 s2 */
  add_conv(t, (ConvCase){2, 1, 16, 32, 1, {15, 16}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
  /* 1x1 (pointwise and strided) */
  add_conv(t, (ConvCase){2, 2, 24, 40, 1, {9, 11}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 24, 40, 1, {9, 11}, {1, 1}, {2, 2}, {0}, {0}, .bias = true, .wconst = true});
  /* runtime weights */
  add_conv(t, (ConvCase){2, 1, 16, 16, 1, {10, 10}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true});
  /* strides 3, 4, 5 along the innermost dim (strided runs, gathers) with dilation and pads */
  add_conv(t, (ConvCase){2, 1, 4, 8, 1, {20, 41}, {3, 5}, {3, 3}, {1, 2}, {1, 2, 0, 1}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 4, 8, 1, {20, 61}, {2, 4}, {1, 4}, {1, 1}, {0, 3, 1, 3}, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 4, 8, 1, {9, 61}, {3, 3}, {2, 5}, {1, 1}, {1, 1, 1, 1}, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 4, 8, 1, {40, 5}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, .wconst = true});
  tg_run(t, 1e-4);
}

/* the stem kernel (gen_conv_stem.c: C <= 4, KH·KW >= 25, stride 1 or 2 in width): output
 * channels past a block of 16 (37, 24), output widths past a vector, batch 2, asymmetric pads,
 * stride 2 by 1, SAME_UPPER, a fused residual; runtime weights stay on the other kernels */
Test(conv, stem_direct) {
  TG *t = tg_new();
  add_conv(t, (ConvCase){2, 2, 3, 37, 1, {45, 50}, {7, 7}, {2, 2}, {0}, {3, 2, 2, 3}, .bias = true, .wconst = true, .res = true});
  add_conv(t, (ConvCase){2, 1, 1, 16, 1, {20, 33}, {5, 5}, {1, 1}, {0}, {2, 2, 2, 2}, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 4, 24, 1, {31, 40}, {7, 7}, {2, 2}, {0}, {0}, .auto_pad = "SAME_UPPER", .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 2, 16, 1, {24, 70}, {5, 6}, {2, 1}, {0}, {1, 0, 2, 4}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 3, 16, 1, {30, 30}, {7, 7}, {2, 2}, {0}, {3, 3, 3, 3}, .bias = true});
  tg_run(t, 1e-4);
}

/* The GEMM engine's column tail (gen_gemm.c): N = a few vectors + 1..3 columns (7x7 = 49 pixels)
 * with the weight packed runs those columns with output channels in the lanes.  Rows that do not
 * fill a tile, bias, a fused residual, K blocked (C = 520: accumulators reloaded from C), 1, 2 and
 * 3 tail columns, runtime weights (no column tail), and the scatter seen in the emitted module. */
static void add_col_tail_convs(TG *t) {
  add_conv(t, (ConvCase){2, 1, 64, 44, 1, {7, 7}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true, .res = true});
  add_conv(t, (ConvCase){2, 2, 520, 21, 1, {7, 7}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 48, 36, 1, {7, 7}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .wconst = true, .res = true});
  add_conv(t, (ConvCase){2, 1, 24, 19, 1, {5, 10}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 24, 33, 1, {3, 17}, {1, 1}, {1, 1}, {0}, {0}, .wconst = true, .res = true});
  add_conv(t, (ConvCase){2, 1, 16, 9, 1, {1, 17}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 32, 24, 1, {14, 14}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 40, 24, 1, {7, 7}, {1, 1}, {1, 1}, {0}, {0}, .bias = true});
}

Test(conv, column_tail) {
  TG *t = tg_new();
  add_col_tail_convs(t);
  tg_run(t, 1e-4);
  t = tg_new();
  add_conv(t, (ConvCase){2, 1, 64, 44, 1, {7, 7}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  char err[1024];
  const char *scatter = "scatter";
  int hits = tu_emit_count(t->g, 3, "llvm", 1, &scatter, err, sizeof err);
  cr_assert_geq(hits, 0, "%s", err);
  cr_assert(hits > 0, "a 44x64 weight on 49 pixels runs the column tail (stores by scatter)");
  tg_free(t);
}

/* Weights as B stream from DRAM: each task prefetches the B block it reads next, a share per M
 * tile (gen_gemm.c).  BERT's Q/K/V projection (panels: the next K block, then the next panel)
 * and ViT's 197 rows with a partial K block (130 × 768 × 700 through 3 blocks); the groups
 * schedule (the next panel of the group, the group's first at the next K block) is
 * panel_groups' cases.  The prefetches are in the module; a conv (weights as A) has none. */
Test(gemm, weights_prefetched) {
  TG *t = tg_new();
  add_gemm(t, DT_FLOAT, 128, 768, 768, 0, 1, 1, 1, 768, 1, 1, true, false);
  add_gemm(t, DT_FLOAT, 197, 256, 700, 0, 0, 2, 197, 256, 1, 0.5f, true, false);
  tg_run(t, 1e-4);
  const char *pf = "llvm.prefetch";
  char err[1024];
  t = tg_new();
  add_gemm(t, DT_FLOAT, 128, 768, 768, 0, 1, 1, 1, 768, 1, 1, true, false);
  int hits = tu_emit_count(t->g, 0, "llvm", 1, &pf, err, sizeof err);
  cr_assert_geq(hits, 0, "%s", err);
  cr_assert(hits > 0, "a 128x768x768 Gemm with constant weights prefetches its next B block");
  tg_free(t);
  t = tg_new();
  add_conv(t, (ConvCase){1, 1, 64, 64, 1, {28, 28}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  hits = tu_emit_count(t->g, 0, "llvm", 1, &pf, err, sizeof err);
  cr_assert_eq(hits, 0, "a 1x1 conv with 16 KB of weights (as A) has no prefetch (%s)", err);
  tg_free(t);
}

/* Weights as A stream from DRAM when they are large (gen_gemm.c gemm_a_streams, ≥ 512 KB): each
 * M tile prefetches the next tile's A chunk, the block's last tile its first panel at the next K
 * block; Winograd's tiles their next panel.  Results against the reference at 1 and 2 threads:
 * K blocked (600, 1152 = 3 blocks), M past whole tiles (300, 200: the short last tile does not
 * prefetch), M blocks, the column tail (7x7), a stride-2 3x3 (im2col), a fused residual, and a
 * Winograd conv with 1.4 MB of transformed weights; the prefetches are in the modules. */
Test(conv, weights_prefetched_as_a) {
  TG *t = tg_new();
  add_conv(t, (ConvCase){2, 1, 600, 300, 1, {7, 7}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true, .res = true});
  add_conv(t, (ConvCase){2, 2, 512, 520, 1, {14, 14}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 128, 200, 1, {14, 14}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 96, 100, 1, {14, 14}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true});
  tg_run(t, 1e-3); /* Winograd's rounding, as Test(conv, winograd) */
  const char *pf = "llvm.prefetch";
  char err[1024];
  ConvCase cases[3] = {
      {2, 1, 600, 300, 1, {7, 7}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true},
      {2, 1, 128, 200, 1, {14, 14}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .wconst = true},
      {2, 1, 96, 100, 1, {14, 14}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .wconst = true, .wino = true},
  };
  for (int i = 0; i < 3; i++) {
    t = tg_new();
    add_conv(t, cases[i]);
    int hits = tu_emit_count(t->g, 0, "llvm", 1, &pf, err, sizeof err);
    cr_assert_geq(hits, 0, "%s", err);
    cr_assert(hits > 0, "conv case %d (weights ≥ 512 KB as A) prefetches its next A panel", i);
    tg_free(t);
  }
}

/* Pointwise convs read their input in place (gen_gemm.c: a raw f32 run-time B's full panels are
 * not packed; a partial last panel is): pixel counts that are whole panels (16x16, 28x28) and
 * not (14x14, 9x11), K blocked (C = 600: accumulators reloaded between blocks), output channels
 * past a tile, bias, a fused residual, batch 2, grouped */
Test(conv, pointwise_in_place) {
  TG *t = tg_new();
  add_conv(t, (ConvCase){2, 1, 600, 70, 1, {16, 16}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true, .res = true});
  add_conv(t, (ConvCase){2, 2, 64, 37, 1, {28, 28}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 96, 64, 1, {14, 14}, {1, 1}, {1, 1}, {0}, {0}, .wconst = true, .res = true});
  add_conv(t, (ConvCase){2, 2, 48, 40, 2, {9, 11}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 40, 24, 1, {16, 16}, {1, 1}, {1, 1}, {0}, {0}, .bias = true});
  tg_run(t, 1e-4);
}

/* Depthwise with strides 2..4 along the row (gen_conv.c conv_dw, phased rows): the padded row is
 * split into its sw phases once, each tap a unit-stride load.  Row widths around the vector, odd
 * and even input widths, 5x5 and 7x7 kernels, dilation, a residual, stride 3 and 4, more than one
 * output per group, 1-D, 3-D, and a 9-wide kernel (not phased). */
Test(conv, depthwise_phased) {
  TG *t = tg_new();
  add_conv(t, (ConvCase){2, 1, 6, 6, 6, {112, 112}, {3, 3}, {2, 2}, {0}, {0, 0, 1, 1}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 2, 4, 4, 4, {15, 33}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .wconst = true, .res = true});
  add_conv(t, (ConvCase){2, 1, 4, 4, 4, {14, 14}, {5, 5}, {2, 2}, {0}, {2, 2, 2, 2}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 4, 4, 4, {29, 31}, {5, 5}, {2, 2}, {0}, {1, 2, 2, 1}, .bias = true});
  add_conv(t, (ConvCase){2, 1, 3, 6, 3, {12, 50}, {3, 7}, {2, 2}, {1, 1}, {1, 3, 1, 3}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 2, 2, 2, {9, 40}, {3, 3}, {2, 2}, {2, 2}, {2, 2, 2, 2}, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 2, 2, 2, {10, 61}, {3, 4}, {3, 3}, {1, 1}, {1, 1, 1, 2}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 2, 2, 2, {8, 70}, {2, 5}, {1, 4}, {1, 2}, {0, 3, 1, 1}, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 2, 2, 2, {7, 40}, {3, 9}, {2, 2}, {0}, {1, 4, 1, 4}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 2, 2, 2, {4, 3}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){1, 1, 4, 4, 4, {77}, {3}, {2}, {0}, {1, 1}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){3, 1, 2, 2, 2, {5, 6, 35}, {3, 3, 3}, {1, 2, 2}, {0}, {1, 1, 1, 1, 1, 1}, .wconst = true});
  tg_run(t, 1e-4);
}

Test(conv, groups_dilation_pads_1d_3d) {
  TG *t = tg_new();
  /* grouped (8 out channels per group: GEMM path) */
  add_conv(t, (ConvCase){2, 1, 16, 32, 4, {12, 12}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
  /* grouped, 2 per group: direct path */
  add_conv(t, (ConvCase){2, 2, 12, 6, 3, {9, 10}, {3, 2}, {1, 2}, {0}, {1, 0, 1, 1}, .bias = true, .wconst = true});
  /* many input channels, few outputs per group: direct path */
  add_conv(t, (ConvCase){2, 2, 32, 4, 2, {9, 21}, {3, 3}, {1, 2}, {1, 1}, {1, 1, 0, 2}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 24, 2, 1, {11, 18}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true});
  /* depthwise 3x3 s1 / s2, with multiplier, runtime weights, wide rows */
  add_conv(t, (ConvCase){2, 1, 3, 3, 3, {5, 100}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true});
  add_conv(t, (ConvCase){2, 1, 3, 6, 3, {6, 133}, {3, 5}, {2, 3}, {1, 2}, {0, 4, 1, 0}, .bias = true});
  add_conv(t, (ConvCase){2, 1, 8, 8, 8, {19, 40}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 8, 8, 8, {19, 40}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 4, 8, 4, {7, 70}, {5, 5}, {1, 1}, {0}, {2, 2, 2, 2}, .bias = true});
  /* depthwise 5x5 on a 7x7 plane (EfficientNet's last stage); pads wider than a vector (the
     padded copy's zero lead and tail, and rows of padding only) */
  add_conv(t, (ConvCase){2, 2, 6, 6, 6, {7, 7}, {5, 5}, {1, 1}, {0}, {2, 2, 2, 2}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 2, 2, 2, {6, 9}, {3, 3}, {1, 2}, {0}, {17, 18, 2, 3}, .bias = true, .wconst = true});
  /* dilated */
  add_conv(t, (ConvCase){2, 1, 8, 16, 1, {17, 17}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 8, 16, 1, {17, 17}, {3, 3}, {2, 1}, {2, 3}, {0, 1, 2, 3}, .wconst = true});
  /* asymmetric pads */
  add_conv(t, (ConvCase){2, 1, 8, 16, 1, {13, 9}, {3, 4}, {1, 1}, {0}, {0, 2, 1, 0}, .bias = true, .wconst = true});
  /* auto_pad */
  add_conv(t, (ConvCase){2, 1, 8, 16, 1, {13, 9}, {4, 3}, {2, 1}, {0}, {0}, .auto_pad = "SAME_UPPER", .wconst = true});
  add_conv(t, (ConvCase){2, 1, 8, 16, 1, {13, 9}, {4, 3}, {2, 1}, {0}, {0}, .auto_pad = "SAME_LOWER", .wconst = true});
  add_conv(t, (ConvCase){2, 1, 8, 16, 1, {13, 9}, {4, 3}, {1, 1}, {0}, {0}, .auto_pad = "VALID", .wconst = true});
  /* 1-D */
  add_conv(t, (ConvCase){1, 2, 8, 16, 1, {50}, {5}, {1}, {0}, {2, 2}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){1, 1, 8, 16, 1, {50}, {3}, {2}, {2}, {1, 0}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){1, 1, 6, 6, 6, {33}, {3}, {1}, {0}, {1, 1}, .bias = true, .wconst = true});
  /* 3-D */
  add_conv(t, (ConvCase){3, 1, 4, 8, 1, {6, 7, 9}, {3, 3, 3}, {1, 1, 1}, {0}, {1, 1, 1, 1, 1, 1}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){3, 1, 4, 4, 4, {6, 7, 9}, {3, 2, 3}, {2, 1, 2}, {0}, {1, 0, 1, 0, 1, 1}, .bias = true, .wconst = true});
  /* tiny spatial, 1x1 output */
  add_conv(t, (ConvCase){2, 3, 16, 16, 1, {3, 3}, {3, 3}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 16, 24, 1, {2, 1}, {1, 1}, {1, 1}, {0}, {0}, .bias = true, .wconst = true});
  /* an empty input (width 0): every output is padding, so bias only (found by fuzzing: the
     depthwise path divided by the width) */
  add_conv(t, (ConvCase){2, 1, 1, 1, 1, {44, 0}, {3, 10}, {1, 1}, {0}, {9, 91, 1, 1}, .bias = true});
  add_conv(t, (ConvCase){2, 1, 4, 4, 4, {5, 0}, {3, 3}, {1, 1}, {0}, {1, 2, 1, 2}, .bias = true, .wconst = true});
  add_conv(t, (ConvCase){2, 1, 16, 16, 1, {0, 6}, {3, 3}, {1, 1}, {0}, {2, 1, 2, 1}, .bias = true, .wconst = true});
  tg_run(t, 1e-4);
}

/* Winograd F(4x4,3x3) / F(2x2,3x3) (gen_winograd.c) against the direct reference: odd sizes
 * (partial tiles), pads 0/1/asymmetric, batch > 1 (tiles spanning images), output channels not a
 * multiple of the panel height, several tasks (over tile blocks, and over output-channel panel
 * groups when tiles are few); and convs it must leave alone
 * (groups, stride 2, runtime weights, 1x1, tiny) marked anyway */
Test(conv, winograd) {
  int L = 16; /* the cost rule's lanes on AVX-512 (the host these tests run on may differ) */
  cr_assert_eq(gen_winograd_tile(1, 64, 64, 56, 56, L), 4);
  cr_assert_eq(gen_winograd_tile(1, 256, 256, 14, 14, L), 4);
  cr_assert_eq(gen_winograd_tile(1, 64, 64, 7, 7, L), 2);
  cr_assert_eq(gen_winograd_tile(1, 4, 64, 56, 56, L), 0, "too few input channels");
  cr_assert_eq(gen_winograd_tile(1, 64, 64, 1, 1, L), 0, "one output pixel");
  TG *t = tg_new();
  add_conv(t, (ConvCase){2, 1, 16, 16, 1, {14, 14}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 2, 8, 24, 1, {20, 23}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 1, 32, 64, 1, {56, 56}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 1, 64, 20, 1, {7, 7}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 3, 64, 64, 1, {7, 7}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 1, 64, 64, 1, {7, 7}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 1, 16, 40, 1, {13, 9}, {3, 3}, {1, 1}, {0}, {0}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 1, 8, 16, 1, {13, 9}, {3, 3}, {1, 1}, {0}, {0, 2, 1, 0}, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 2, 12, 9, 1, {5, 31}, {3, 3}, {1, 1}, {0}, {2, 2, 2, 2}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 1, 16, 16, 1, {9, 9}, {3, 3}, {1, 1}, {0}, {0}, .auto_pad = "SAME_UPPER", .wconst = true, .wino = true});
  /* few tiles, many output channels: tasks split over tile blocks x output-channel panel groups
     (the last group holding the partial panel) */
  add_conv(t, (ConvCase){2, 1, 64, 136, 1, {7, 7}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 2, 64, 200, 1, {7, 7}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .wconst = true, .wino = true});
  /* a fused residual, read as 4-float tile rows (F(4x4)): whole tiles, partial tiles, tiles
     spanning images, a partial last block */
  add_conv(t, (ConvCase){2, 1, 32, 32, 1, {16, 16}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true, .res = true});
  add_conv(t, (ConvCase){2, 2, 32, 24, 1, {14, 14}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true, .res = true});
  add_conv(t, (ConvCase){2, 3, 16, 16, 1, {13, 9}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true, .res = true});
  add_conv(t, (ConvCase){2, 1, 16, 16, 1, {56, 56}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true, .res = true});
  /* left to the other kernels */
  add_conv(t, (ConvCase){2, 1, 16, 32, 4, {12, 12}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 1, 16, 32, 1, {15, 16}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 1, 16, 16, 1, {10, 10}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wino = true});
  add_conv(t, (ConvCase){2, 1, 16, 16, 1, {9, 9}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2}, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 3, 16, 16, 1, {3, 3}, {3, 3}, {1, 1}, {0}, {0}, .bias = true, .wconst = true, .wino = true});
  add_conv(t, (ConvCase){2, 1, 8, 16, 1, {9, 9}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true,
                         .dt = DT_DOUBLE, .wino = true});
  tg_run(t, 1e-3); /* the fp32 model tests' rtol: F(4x4,3x3) rounds to ~1e-6 of the sum of |terms| */
}

Test(conv, transpose) {
  TG *t = tg_new();
  add_conv(t, (ConvCase){2, 1, 8, 4, 1, {5, 6}, {3, 3}, {1, 1}, {0}, {0}, .bias = true, .wconst = true, .transposed = true});
  add_conv(t, (ConvCase){2, 2, 8, 4, 1, {5, 6}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .opad = {1, 1}, .bias = true,
                         .wconst = true, .transposed = true});
  add_conv(t, (ConvCase){2, 1, 6, 9, 3, {7, 4}, {4, 3}, {3, 2}, {1, 2}, {0, 1, 2, 0}, .opad = {2, 0}, .transposed = true});
  add_conv(t, (ConvCase){2, 1, 16, 8, 1, {14, 20}, {2, 2}, {2, 2}, {0}, {0}, .bias = true, .wconst = true, .transposed = true});
  add_conv(t, (ConvCase){1, 2, 4, 6, 2, {20}, {5}, {3}, {0}, {2, 1}, .opad = {1}, .bias = true, .transposed = true});
  add_conv(t, (ConvCase){3, 1, 3, 2, 1, {3, 4, 5}, {2, 3, 2}, {2, 1, 2}, {0}, {0, 1, 0, 0, 1, 1}, .transposed = true});
  tg_run(t, 1e-4);
}

Test(conv, other_dtypes) {
  TG *t = tg_new();
  add_conv(t, (ConvCase){2, 1, 8, 16, 1, {9, 9}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .dt = DT_DOUBLE});
  add_conv(t, (ConvCase){2, 1, 8, 16, 1, {9, 9}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true, .dt = DT_FLOAT16});
  add_conv(t, (ConvCase){2, 1, 4, 4, 4, {9, 9}, {3, 3}, {2, 1}, {0}, {1, 1, 1, 1}, .bias = true, .dt = DT_DOUBLE});
  add_conv(t, (ConvCase){2, 1, 4, 4, 1, {9, 9}, {3, 3}, {2, 1}, {0}, {1, 1, 1, 1}, .bias = true, .dt = DT_FLOAT16, .transposed = true});
  tg_run(t, 1e-9);
}

/* ---------------------------------------------------------------------------------------------
 * Einsum: reference by brute force over all label values (letters only; `ref_eq` spells any
 * ellipsis out) */
static void add_einsum(TG *t, DType dt, const char *eq, const char *ref_eq, int nin, const int *ranks,
                       const int64_t dims[][IR_MAX_RANK], int cst_mask) {
  HostT H[4];
  Value *ins[4];
  for (int i = 0; i < nin; i++) ins[i] = tg_tensor(t, dt, ranks[i], dims[i], (cst_mask >> i) & 1, &H[i]);
  Node *n = tg_node(t, OP_Einsum, nin, ins);
  tu_attr_str(t->g, n, "equation", eq);
  cr_assert_eq(ir_infer_node(t->g, n), 0, "%s: %s", eq, ir_last_error(t->g));
  Value *y = n->out[0];
  int64_t ny = ir_value_numel(y);
  double *ref = calloc((size_t)(ny ? ny : 1), sizeof(double)), *mag = calloc((size_t)(ny ? ny : 1), sizeof(double));
  /* parse ref_eq */
  char terms[5][16];
  int nt = 0, k = 0;
  for (const char *p = ref_eq;; p++) {
    if (*p == ',' || *p == '-' || !*p) {
      terms[nt][k] = 0;
      nt++, k = 0;
      if (*p == '-') p++;
      if (!*p) break;
    } else
      terms[nt][k++] = *p;
  }
  int64_t size[128] = {0};
  for (int i = 0; i < nin; i++)
    for (int d = 0; terms[i][d]; d++) size[(int)terms[i][d]] = dims[i][d];
  char labs[64];
  int nl = 0;
  for (int ch = 0; ch < 128; ch++)
    if (size[ch]) labs[nl++] = (char)ch;
  int64_t total = 1;
  for (int i = 0; i < nl; i++) total *= size[(int)labs[i]];
  int64_t val[128];
  for (int64_t it = 0; it < total; it++) {
    int64_t r = it;
    for (int i = nl - 1; i >= 0; i--) {
      val[(int)labs[i]] = r % size[(int)labs[i]];
      r /= size[(int)labs[i]];
    }
    double p = 1;
    for (int i = 0; i < nin; i++) {
      int64_t off = 0;
      for (int d = 0; terms[i][d]; d++) off = off * dims[i][d] + val[(int)terms[i][d]];
      p *= H[i].d[off];
    }
    int64_t yo = 0;
    for (int d = 0; terms[nin][d]; d++) yo = yo * size[(int)terms[nin][d]] + val[(int)terms[nin][d]];
    ref[yo] += p;
    mag[yo] += fabs(p);
  }
  if (!dtype_is_float(dt))
    for (int64_t i = 0; i < ny; i++) ref[i] = wrap_int(dt, ref[i]);
  tg_out(t, n, ref, mag, "Einsum %s \"%s\"", dtype_name(dt), eq);
  for (int i = 0; i < nin; i++) free(H[i].d);
}

Test(einsum, forms) {
  TG *t = tg_new();
  /* batched matmul, plain matmul (implicit output), transposed operands */
  add_einsum(t, DT_FLOAT, "bij,bjk->bik", "bij,bjk->bik", 2, (int[]){3, 3}, (const int64_t[][8]){{3, 17, 20}, {3, 20, 33}}, 0);
  add_einsum(t, DT_FLOAT, "ij,jk", "ij,jk->ik", 2, (int[]){2, 2}, (const int64_t[][8]){{9, 70}, {70, 40}}, 2);
  add_einsum(t, DT_FLOAT, "ij,jk->ki", "ij,jk->ki", 2, (int[]){2, 2}, (const int64_t[][8]){{9, 70}, {70, 40}}, 0);
  add_einsum(t, DT_FLOAT, "bhid,bhjd->bhij", "bhid,bhjd->bhij", 2, (int[]){4, 4},
             (const int64_t[][8]){{2, 3, 10, 16}, {2, 3, 12, 16}}, 0);
  add_einsum(t, DT_FLOAT, "...ij,...jk->...ik", "bij,bjk->bik", 2, (int[]){3, 3}, (const int64_t[][8]){{4, 5, 6}, {4, 6, 7}}, 0);
  add_einsum(t, DT_FLOAT, "ij,j->i", "ij,j->i", 2, (int[]){2, 1}, (const int64_t[][8]){{33, 45}, {45}}, 0);
  add_einsum(t, DT_FLOAT, "i,i->", "i,i->", 2, (int[]){1, 1}, (const int64_t[][8]){{100}, {100}}, 0);
  add_einsum(t, DT_FLOAT, "i,j->ij", "i,j->ij", 2, (int[]){1, 1}, (const int64_t[][8]){{13}, {21}}, 0);
  add_einsum(t, DT_FLOAT, "ijk,jkl->il", "ijk,jkl->il", 2, (int[]){3, 3}, (const int64_t[][8]){{5, 4, 6}, {4, 6, 19}}, 2);
  /* one operand: transpose, reductions, diagonal, trace, copy */
  add_einsum(t, DT_FLOAT, "ij->ji", "ij->ji", 1, (int[]){2}, (const int64_t[][8]){{7, 37}}, 0);
  add_einsum(t, DT_FLOAT, "ij->i", "ij->i", 1, (int[]){2}, (const int64_t[][8]){{7, 37}}, 0);
  add_einsum(t, DT_FLOAT, "ij->j", "ij->j", 1, (int[]){2}, (const int64_t[][8]){{7, 37}}, 0);
  add_einsum(t, DT_FLOAT, "ij->", "ij->", 1, (int[]){2}, (const int64_t[][8]){{7, 37}}, 0);
  add_einsum(t, DT_FLOAT, "ii->i", "ii->i", 1, (int[]){2}, (const int64_t[][8]){{19, 19}}, 0);
  add_einsum(t, DT_FLOAT, "ii", "ii->", 1, (int[]){2}, (const int64_t[][8]){{19, 19}}, 0);
  add_einsum(t, DT_FLOAT, "bij->bji", "bij->bji", 1, (int[]){3}, (const int64_t[][8]){{2, 5, 20}}, 0);
  add_einsum(t, DT_FLOAT, "...ii->...i", "bii->bi", 1, (int[]){3}, (const int64_t[][8]){{3, 6, 6}}, 0);
  /* three operands, a label summed within one operand */
  add_einsum(t, DT_FLOAT, "ij,jk,kl->il", "ij,jk,kl->il", 3, (int[]){2, 2, 2},
             (const int64_t[][8]){{4, 5}, {5, 6}, {6, 18}}, 0);
  add_einsum(t, DT_FLOAT, "ij,kj->i", "ij,kj->i", 2, (int[]){2, 2}, (const int64_t[][8]){{4, 5}, {6, 5}}, 0);
  /* other dtypes */
  add_einsum(t, DT_INT32, "bij,bjk->bik", "bij,bjk->bik", 2, (int[]){3, 3}, (const int64_t[][8]){{2, 5, 6}, {2, 6, 7}}, 0);
  add_einsum(t, DT_INT64, "ij->j", "ij->j", 1, (int[]){2}, (const int64_t[][8]){{7, 37}}, 0);
  add_einsum(t, DT_DOUBLE, "ii->", "ii->", 1, (int[]){2}, (const int64_t[][8]){{9, 9}}, 0);
  add_einsum(t, DT_INT8, "ij,jk->ik", "ij,jk->ik", 2, (int[]){2, 2}, (const int64_t[][8]){{3, 4}, {4, 5}}, 0);
  tg_run(t, 1e-4);
}

/* ---------------------------------------------------------------------------------------------
 * the same generators for narrower targets (AVX2: 8 lanes, 16 registers; NEON: 4 lanes) must
 * produce valid modules */
Test(targets, avx2_and_neon_emit) {
  const char *targets[] = {"x86-64-avx2", "aarch64"};
  for (int ti = 0; ti < 2; ti++) {
    TG *t = tg_new();
    add_gemm(t, DT_FLOAT, 17, 100, 64, 0, 1, 1, 1, 100, 0.5f, 2, true, false);
    add_gemm(t, DT_FLOAT, 9, 1, 64, 0, 0, -1, 0, 0, 1, 1, false, false);
    add_gemm(t, DT_DOUBLE, 9, 30, 64, 0, 0, -1, 0, 0, 1, 1, false, false);
    add_conv(t, (ConvCase){2, 1, 8, 16, 1, {13, 14}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
    add_conv(t, (ConvCase){2, 1, 8, 16, 1, {13, 14}, {3, 3}, {1, 1}, {0}, {1, 1, 1, 1}, .bias = true, .wconst = true});
    add_conv(t, (ConvCase){2, 1, 4, 4, 4, {13, 14}, {3, 3}, {2, 2}, {0}, {1, 1, 1, 1}, .bias = true});
    add_conv(t, (ConvCase){2, 1, 4, 4, 1, {5, 6}, {3, 3}, {2, 2}, {0}, {0}, .transposed = true});
    /* the stem kernel (gen_conv_stem.c: 8 sums per block on AVX2, 16 on NEON) */
    add_conv(t, (ConvCase){2, 1, 3, 20, 1, {30, 37}, {7, 7}, {2, 2}, {0}, {3, 3, 3, 3}, .bias = true, .wconst = true});
    add_col_tail_convs(t);
    add_einsum(t, DT_FLOAT, "ij->j", "ij->j", 1, (int[]){2}, (const int64_t[][8]){{7, 37}}, 0);
    char err[1024];
    BeOptions o = {.target = targets[ti], .opt_level = 3};
    int rc = be_emit(t->g, &o, "asm", "/dev/null", err, sizeof err);
    if (rc && strstr(err, "is not available in this LLVM")) fprintf(stderr, "skipping %s: %s\n", targets[ti], err);
    else cr_assert_eq(rc, 0, "%s: %s", targets[ti], err);
    for (int i = 0; i < t->nout; i++) free(t->ref[i]), free(t->mag[i]);
    for (int i = 0; i < t->nin; i++) free(t->inbuf[i]);
    ir_graph_free(t->g);
    free(t);
  }
}
