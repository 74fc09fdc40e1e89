/* test_gen_rnn.c — the RNN / GRU / LSTM generator, JIT-compiled on one-node graphs and checked
 * against a naive reference in double written straight from the ONNX equations: directions,
 * sequence_lens, initial states, peepholes, clip, input_forget, linear_before_reset, layout 1,
 * custom activations with alpha/beta, missing outputs, constant (compile-time packed) and
 * run-time weights, batch blocks split over threads; --fp-mode bf16's recurrence (bf16 Rᵀ and h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "be.h"
#include "testutil.h"

typedef struct Case {
  Op op;
  int64_t T, B, I, H;
  const char *direction; /* NULL: attribute absent (forward) */
  int layout;
  float clip;            /* 0: absent */
  int input_forget, lbr;
  bool bias, seq, h0, c0, peep;
  bool const_w;          /* W, R (and B) are initializers: packed at compile time */
  bool zero_state;       /* initial_h / initial_c are all-zero initializers (as torch exports) */
  int nact;
  const char *acts[6];
  int nalpha, nbeta;
  float alpha[6], beta[6];
  bool drop[3];          /* outputs left out */
  int threads;
  int zero_row;          /* 1 + the batch row given sequence length 0 (0: none) */
  bool bf16;             /* the graph in --fp-mode bf16 */
  bool bf16_rec;         /* ... and the recurrence expected in bf16: the reference rounds R and h */
  bool bf16_proj;        /* ... and the projection (even I): the reference rounds W and x */
} Case;

/* ---------------------------------------------------------------- data */

static uint32_t rng = 777;
static double urand(void) {
  rng = rng * 1664525u + 1013904223u;
  return (double)(rng >> 8) / (double)(1u << 24);
}
static float *rnd(int64_t n, double lo, double hi) {
  float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * urand());
  return p;
}

/* ---------------------------------------------------------------- reference */

typedef struct RefAct {
  char name[32];
  double alpha, beta;
} RefAct;

/* the ONNX defaults, and alpha/beta taken in order by the activations that have them */
static void ref_acts(const Case *c, int nper, int ndir, RefAct *out) {
  static const char *defs[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
  int ia = 0, ib = 0;
  for (int k = 0; k < nper * ndir; k++) {
    const char *nm = c->nact ? c->acts[k] : defs[nper - 1][k % nper];
    RefAct *a = &out[k];
    snprintf(a->name, sizeof a->name, "%s", nm);
    int np = 0;
    a->alpha = a->beta = 0;
    if (!strcasecmp(nm, "Affine")) np = 2, a->alpha = 1, a->beta = 0;
    if (!strcasecmp(nm, "LeakyRelu")) np = 1, a->alpha = 0.01;
    if (!strcasecmp(nm, "ThresholdedRelu")) np = 1, a->alpha = 1;
    if (!strcasecmp(nm, "ScaledTanh")) np = 2, a->alpha = 1, a->beta = 1;
    if (!strcasecmp(nm, "HardSigmoid")) np = 2, a->alpha = 0.2, a->beta = 0.5;
    if (!strcasecmp(nm, "Elu")) np = 1, a->alpha = 1;
    if (np >= 1 && ia < c->nalpha) a->alpha = c->alpha[ia++];
    if (np >= 2 && ib < c->nbeta) a->beta = c->beta[ib++];
  }
}

static double ref_f(const RefAct *a, double x) {
  const char *n = a->name;
  if (!strcasecmp(n, "Relu")) return x > 0 ? x : 0;
  if (!strcasecmp(n, "Tanh")) return tanh(x);
  if (!strcasecmp(n, "Sigmoid")) return 1 / (1 + exp(-x));
  if (!strcasecmp(n, "Affine")) return a->alpha * x + a->beta;
  if (!strcasecmp(n, "LeakyRelu")) return x < 0 ? a->alpha * x : x;
  if (!strcasecmp(n, "ThresholdedRelu")) return x > a->alpha ? x : 0;
  if (!strcasecmp(n, "ScaledTanh")) return a->alpha * tanh(a->beta * x);
  if (!strcasecmp(n, "HardSigmoid")) return fmax(0, fmin(1, a->alpha * x + a->beta));
  if (!strcasecmp(n, "Elu")) return x < 0 ? a->alpha * (exp(x) - 1) : x;
  if (!strcasecmp(n, "Softsign")) return x / (1 + fabs(x));
  if (!strcasecmp(n, "Softplus")) return log(1 + exp(x));
  cr_assert_fail("unknown activation %s", n);
  return 0;
}

static double clipv(const Case *c, double x) { return c->clip > 0 ? fmin(fmax(x, -c->clip), c->clip) : x; }

typedef struct Data {
  float *x, *w, *r, *b, *h0, *c0, *p;
  int32_t *seq;
} Data;

/* x rounded to bf16 (nearest even), as the kernels' packers and vcvtne2ps2bf16 do */
static double bfr(double x) {
  float f = (float)x;
  uint32_t u;
  memcpy(&u, &f, 4);
  u = (u + 0x7fffu + ((u >> 16) & 1)) & 0xffff0000u;
  memcpy(&f, &u, 4);
  return f;
}

/* Y, Y_h, Y_c in double, laid out as the op's outputs */
static void reference(const Case *c, const Data *dt, double *y, double *yh, double *yc) {
  int64_t T = c->T, B = c->B, I = c->I, H = c->H;
  int G = c->op == OP_LSTM ? 4 : c->op == OP_GRU ? 3 : 1, nper = c->op == OP_LSTM ? 3 : c->op == OP_GRU ? 2 : 1;
  bool bidir = c->direction && !strcmp(c->direction, "bidirectional");
  bool reverse = c->direction && !strcmp(c->direction, "reverse");
  int D = bidir ? 2 : 1;
  RefAct acts[6];
  ref_acts(c, nper, D, acts);
  double *h = calloc((size_t)H, sizeof(double)), *cs = calloc((size_t)H, sizeof(double));
  double *gx = calloc((size_t)(G * H), sizeof(double)), *gh = calloc((size_t)(G * H), sizeof(double));
  double *rh = calloc((size_t)H, sizeof(double)), *ghr = calloc((size_t)H, sizeof(double));
#define XO(t, b) (c->layout ? ((b) * T + (t)) * I : ((t) * B + (b)) * I)
#define YO(t, d, b) (c->layout ? (((b) * T + (t)) * D + (d)) * H : (((t) * D + (d)) * B + (b)) * H)
#define SO(d, b) (c->layout ? ((b) * D + (d)) * H : ((d) * B + (b)) * H)
  for (int d = 0; d < D; d++) {
    bool rev = reverse || d == 1;
    const RefAct *f = &acts[d * nper], *g = &acts[d * nper + (nper > 1)], *hf = &acts[d * nper + (nper > 2 ? 2 : 0)];
    const float *W = dt->w + d * G * H * I, *R = dt->r + d * G * H * H;
    const float *Wb = dt->b ? dt->b + d * 2 * G * H : NULL, *Rb = Wb ? Wb + G * H : NULL;
    for (int64_t b = 0; b < B; b++) {
      int64_t len = dt->seq ? dt->seq[b] : T;
      for (int64_t j = 0; j < H; j++) {
        h[j] = dt->h0 ? dt->h0[SO(d, b) + j] : 0;
        cs[j] = dt->c0 ? dt->c0[SO(d, b) + j] : 0;
      }
      for (int64_t s = 0; s < len; s++) {
        int64_t t = rev ? len - 1 - s : s;
        const float *x = dt->x + XO(t, b);
        for (int64_t q = 0; q < G * H; q++) {
          double ax = Wb ? Wb[q] : 0, ah = Rb ? Rb[q] : 0;
          if (c->bf16_proj)
            for (int64_t k = 0; k < I; k++) ax += bfr(W[q * I + k]) * bfr(x[k]);
          else
            for (int64_t k = 0; k < I; k++) ax += (double)W[q * I + k] * x[k];
          if (c->bf16_rec)
            for (int64_t k = 0; k < H; k++) ah += bfr(R[q * H + k]) * bfr(h[k]);
          else
            for (int64_t k = 0; k < H; k++) ah += (double)R[q * H + k] * h[k];
          gx[q] = ax, gh[q] = ah;
        }
        if (c->op == OP_LSTM) {
          const float *P = dt->p ? dt->p + d * 3 * H : NULL;
          for (int64_t j = 0; j < H; j++) {
            double pi = P ? P[j] : 0, po = P ? P[H + j] : 0, pf = P ? P[2 * H + j] : 0;
            double ig = ref_f(f, clipv(c, gx[j] + gh[j] + pi * cs[j]));
            double fg = c->input_forget ? 1 - ig : ref_f(f, clipv(c, gx[2 * H + j] + gh[2 * H + j] + pf * cs[j]));
            double cc = ref_f(g, clipv(c, gx[3 * H + j] + gh[3 * H + j]));
            cs[j] = fg * cs[j] + ig * cc;
            double og = ref_f(f, clipv(c, gx[H + j] + gh[H + j] + po * cs[j]));
            h[j] = og * ref_f(hf, cs[j]);
          }
        } else if (c->op == OP_GRU) {
          double z[4096], rr[4096];
          for (int64_t j = 0; j < H; j++) {
            z[j] = ref_f(f, clipv(c, gx[j] + gh[j]));
            rr[j] = ref_f(f, clipv(c, gx[H + j] + gh[H + j]));
            rh[j] = rr[j] * h[j];
          }
          for (int64_t j = 0; j < H; j++) {
            double pre;
            if (c->lbr) pre = gx[2 * H + j] + rr[j] * gh[2 * H + j];
            else {
              double a = Rb ? Rb[2 * H + j] : 0;
              for (int64_t k = 0; k < H; k++)
                a += c->bf16_rec ? bfr(R[(2 * H + j) * H + k]) * bfr(rh[k]) : (double)R[(2 * H + j) * H + k] * rh[k];
              pre = gx[2 * H + j] + a;
            }
            ghr[j] = ref_f(g, clipv(c, pre));
          }
          for (int64_t j = 0; j < H; j++) h[j] = (1 - z[j]) * ghr[j] + z[j] * h[j];
        } else {
          for (int64_t j = 0; j < H; j++) h[j] = ref_f(f, clipv(c, gx[j] + gh[j]));
        }
        for (int64_t j = 0; j < H; j++) y[YO(t, d, b) + j] = h[j];
      }
      for (int64_t s = len; s < T; s++)
        for (int64_t j = 0; j < H; j++) y[YO(s, d, b) + j] = 0;
      for (int64_t j = 0; j < H; j++) yh[SO(d, b) + j] = h[j], yc[SO(d, b) + j] = cs[j];
    }
  }
  free(h), free(cs), free(gx), free(gh), free(rh), free(ghr);
}

/* ---------------------------------------------------------------- graph and run */

static void attr_strs(Graph *g, Node *n, const char *name, int cnt, const char *const *v) {
  Attr *a = tu_attr(g, n, name, AT_STRINGS);
  a->n = cnt;
  a->strings = arena_alloc(g->arena, sizeof(char *) * (size_t)cnt);
  for (int i = 0; i < cnt; i++) a->strings[i] = arena_strdup(g->arena, v[i]);
}
static void attr_floats(Graph *g, Node *n, const char *name, int cnt, const float *v) {
  Attr *a = tu_attr(g, n, name, AT_FLOATS);
  a->n = cnt;
  a->floats = arena_alloc(g->arena, sizeof(float) * (size_t)cnt);
  memcpy(a->floats, v, sizeof(float) * (size_t)cnt);
}

static void check(const char *what, const float *got, const double *want, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    cr_assert(fabs(got[i] - want[i]) <= 2e-4 + 1e-3 * fabs(want[i]), "%s[%lld]: got %.7g, want %.7g", what,
              (long long)i, (double)got[i], want[i]);
}

/* builds the node for c (its attributes, inputs as graph inputs or constants) and its data */
static Node *build(Graph *g, const Case *c, Data *dt, const void **feeds, int *nfeeds) {
  int64_t T = c->T, B = c->B, I = c->I, H = c->H;
  int G = c->op == OP_LSTM ? 4 : c->op == OP_GRU ? 3 : 1;
  int D = c->direction && !strcmp(c->direction, "bidirectional") ? 2 : 1;
  int64_t xd[3] = {T, B, I}, wd[3] = {D, G * H, I}, rd[3] = {D, G * H, H}, bd[2] = {D, 2 * G * H}, sd[1] = {B},
          hd[3] = {D, B, H}, pd[2] = {D, 3 * H};
  if (c->layout) xd[0] = B, xd[1] = T, hd[0] = B, hd[1] = D;
  memset(dt, 0, sizeof *dt);
  dt->x = rnd(T * B * I, -1, 1);
  dt->w = rnd(D * G * H * I, -0.6, 0.6);
  dt->r = rnd(D * G * H * H, -0.6, 0.6);
  if (c->bias) dt->b = rnd(D * 2 * G * H, -0.5, 0.5);
  if (c->h0) dt->h0 = rnd(D * B * H, -1, 1);
  if (c->c0) dt->c0 = rnd(D * B * H, -1, 1);
  if (c->peep) dt->p = rnd(D * 3 * H, -0.5, 0.5);
  if (c->seq) {
    dt->seq = malloc(sizeof(int32_t) * (size_t)B);
    for (int64_t b = 0; b < B; b++) dt->seq[b] = (int32_t)(1 + (int64_t)(urand() * (double)T) % T);
    dt->seq[0] = (int32_t)T;
    if (c->zero_row > 0 && c->zero_row <= B) dt->seq[c->zero_row - 1] = 0;
  }
  int nin = c->op == OP_LSTM ? (c->peep ? 8 : c->c0 ? 7 : 6) : 6;
  while (nin > 3) { /* drop trailing absent inputs */
    bool present[8] = {1, 1, 1, c->bias, c->seq, c->h0, c->c0, c->peep};
    if (present[nin - 1]) break;
    nin--;
  }
  Value *ins[8] = {0};
  int k = 0;
  ins[0] = tu_input(g, "X", DT_FLOAT, 3, xd);
  feeds[k++] = dt->x;
  if (c->const_w) {
    ins[1] = tu_const_f32(g, "W", 3, wd, dt->w);
    ins[2] = tu_const_f32(g, "R", 3, rd, dt->r);
    if (c->bias) ins[3] = tu_const_f32(g, "B", 2, bd, dt->b);
  } else {
    ins[1] = tu_input(g, "W", DT_FLOAT, 3, wd), feeds[k++] = dt->w;
    ins[2] = tu_input(g, "R", DT_FLOAT, 3, rd), feeds[k++] = dt->r;
    if (c->bias) ins[3] = tu_input(g, "B", DT_FLOAT, 2, bd), feeds[k++] = dt->b;
  }
  if (c->seq) ins[4] = tu_input(g, "seq", DT_INT32, 1, sd), feeds[k++] = dt->seq;
  if (c->zero_state) {
    memset(dt->h0, 0, sizeof(float) * (size_t)(D * B * H));
    if (dt->c0) memset(dt->c0, 0, sizeof(float) * (size_t)(D * B * H));
    ins[5] = tu_const_f32(g, "h0", 3, hd, dt->h0);
    if (c->c0) ins[6] = tu_const_f32(g, "c0", 3, hd, dt->c0);
  } else {
    if (c->h0) ins[5] = tu_input(g, "h0", DT_FLOAT, 3, hd), feeds[k++] = dt->h0;
    if (c->c0) ins[6] = tu_input(g, "c0", DT_FLOAT, 3, hd), feeds[k++] = dt->c0;
  }
  if (c->peep) ins[7] = tu_input(g, "P", DT_FLOAT, 2, pd), feeds[k++] = dt->p;
  *nfeeds = k;
  int nout = c->op == OP_LSTM ? 3 : 2;
  Node *n = tu_node_n(g, c->op, nin, ins, nout);
  for (int i = 0; i < nout; i++)
    if (c->drop[i]) { /* as the frontend leaves a missing output: no value at all */
      n->out[i]->producer = NULL;
      n->out[i] = NULL;
    }
  tu_attr_int(g, n, "hidden_size", H);
  if (c->direction) tu_attr_str(g, n, "direction", c->direction);
  if (c->layout) tu_attr_int(g, n, "layout", c->layout);
  if (c->clip > 0) tu_attr_float(g, n, "clip", c->clip);
  if (c->input_forget) tu_attr_int(g, n, "input_forget", 1);
  if (c->lbr) tu_attr_int(g, n, "linear_before_reset", 1);
  if (c->nact) attr_strs(g, n, "activations", c->nact, c->acts);
  if (c->nalpha) attr_floats(g, n, "activation_alpha", c->nalpha, c->alpha);
  if (c->nbeta) attr_floats(g, n, "activation_beta", c->nbeta, c->beta);
  return n;
}

/* a new graph holding c's node, its shapes inferred */
static Node *build_inferred(const Case *c, Graph **gp, Data *dt, const void **feeds, int *nfeeds) {
  Graph *g = *gp = ir_graph_new();
  g->opset = 14;
  if (c->bf16) g->fp_mode = IR_FP_BF16;
  Node *n = build(g, c, dt, feeds, nfeeds);
  cr_assert_eq(ir_infer_node(g, n), 0, "shape inference: %s", ir_last_error(g));
  return n;
}

static void run_case(const Case *c) {
  Data dt;
  const void *feeds[8];
  int nfeeds;
  Graph *g;
  Node *n = build_inferred(c, &g, &dt, feeds, &nfeeds);
  float *outs[3] = {0};
  void *op[3];
  int k = 0;
  int64_t cnt[3] = {0};
  for (int i = 0; i < n->nout; i++) {
    if (!n->out[i]) continue;
    tu_output(g, n->out[i]);
    cnt[i] = ir_value_numel(n->out[i]);
    outs[i] = malloc(sizeof(float) * (size_t)cnt[i] + 64);
    memset(outs[i], 0xAB, sizeof(float) * (size_t)cnt[i] + 64);
    op[k++] = outs[i];
  }
  char err[1024];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "jit: %s", err);
  be_set_threads(m, c->threads ? c->threads : 1);
  cr_assert_eq(be_run(m, feeds, op, err, sizeof err), 0, "run: %s", err);
  int D = c->direction && !strcmp(c->direction, "bidirectional") ? 2 : 1;
  int64_t ny = c->T * D * c->B * c->H, ns = D * c->B * c->H;
  double *y = calloc((size_t)ny + 1, sizeof(double)), *yh = calloc((size_t)ns + 1, sizeof(double)),
         *yc = calloc((size_t)ns + 1, sizeof(double));
  reference(c, &dt, y, yh, yc);
  const double *want[3] = {y, yh, yc};
  static const char *names[3] = {"Y", "Y_h", "Y_c"};
  for (int i = 0; i < n->nout; i++)
    if (outs[i]) {
      cr_assert_eq(cnt[i], i == 0 ? ny : ns);
      check(names[i], outs[i], want[i], cnt[i]);
    }
  be_free(m);
  for (int i = 0; i < 3; i++) free(outs[i]);
  free(y), free(yh), free(yc);
  free(dt.x), free(dt.w), free(dt.r), free(dt.b), free(dt.h0), free(dt.c0), free(dt.p), free(dt.seq);
  ir_graph_free(g);
}

#define CASE(...) (Case){__VA_ARGS__}

/* ---------------------------------------------------------------- LSTM */

Test(rnn, lstm_defaults) {
  run_case(&CASE(.op = OP_LSTM, .T = 5, .B = 3, .I = 4, .H = 6));
}

Test(rnn, lstm_bidirectional_everything) {
  run_case(&CASE(.op = OP_LSTM, .T = 7, .B = 5, .I = 9, .H = 20, .direction = "bidirectional", .bias = true,
                 .seq = true, .h0 = true, .c0 = true, .peep = true, .zero_row = 3));
}

Test(rnn, lstm_reverse_clip_input_forget_layout1) {
  run_case(&CASE(.op = OP_LSTM, .T = 6, .B = 4, .I = 3, .H = 17, .direction = "reverse", .layout = 1,
                 .clip = 0.7f, .input_forget = 1, .bias = true, .seq = true, .h0 = true, .c0 = true, .peep = true));
}

Test(rnn, lstm_constant_weights_wide) {
  /* G·Hp = 4·48 columns: several register blocks and a remainder block */
  run_case(&CASE(.op = OP_LSTM, .T = 4, .B = 6, .I = 33, .H = 37, .direction = "bidirectional", .bias = true,
                 .const_w = true, .h0 = true));
}

Test(rnn, lstm_custom_activations) {
  run_case(&CASE(.op = OP_LSTM, .T = 5, .B = 2, .I = 4, .H = 8, .direction = "bidirectional", .bias = true,
                 .nact = 6, .acts = {"HardSigmoid", "ScaledTanh", "Softsign", "Sigmoid", "Affine", "Elu"},
                 .nalpha = 4, .alpha = {0.3f, 0.9f, 0.5f, 0.8f}, .nbeta = 3, .beta = {0.4f, 1.3f, -0.2f}));
}

Test(rnn, lstm_missing_outputs) {
  run_case(&CASE(.op = OP_LSTM, .T = 4, .B = 3, .I = 5, .H = 7, .drop = {true, false, true}, .seq = true));
  run_case(&CASE(.op = OP_LSTM, .T = 4, .B = 3, .I = 5, .H = 7, .drop = {true, true, false}, .c0 = true, .h0 = true));
  run_case(&CASE(.op = OP_LSTM, .T = 4, .B = 3, .I = 5, .H = 7, .drop = {false, true, true}));
}

Test(rnn, lstm_batch_blocks_threads) {
  /* 19 batch rows → 3 blocks × 2 directions split over 2 threads */
  run_case(&CASE(.op = OP_LSTM, .T = 5, .B = 19, .I = 8, .H = 16, .direction = "bidirectional", .bias = true,
                 .seq = true, .h0 = true, .c0 = true, .threads = 2, .const_w = true));
}

Test(rnn, batch1_wide_steps_walk_blocks_both_ways) {
  /* B = 1, G·Hp = 4·160: five register blocks of H·Rᵀ, walked forwards on even steps and
   * backwards on odd ones (and the GRU's split z/r, h blocks with a remainder) */
  run_case(&CASE(.op = OP_LSTM, .T = 5, .B = 1, .I = 24, .H = 150, .bias = true, .h0 = true, .c0 = true,
                 .const_w = true));
  run_case(&CASE(.op = OP_LSTM, .T = 4, .B = 1, .I = 24, .H = 150, .direction = "bidirectional", .bias = true));
  run_case(&CASE(.op = OP_GRU, .T = 5, .B = 1, .I = 24, .H = 150, .bias = true, .h0 = true, .const_w = true));
  run_case(&CASE(.op = OP_GRU, .T = 5, .B = 1, .I = 24, .H = 150, .lbr = 1, .direction = "reverse", .bias = true,
                 .seq = true, .h0 = true));
}

/* Lines of the (optimized) LLVM module of c's node that hold needle */
static int emit_lines(const Case *c, const char *needle) {
  Data dt;
  const void *feeds[8];
  int nfeeds;
  Graph *g;
  Node *n = build_inferred(c, &g, &dt, feeds, &nfeeds);
  for (int i = 0; i < n->nout; i++)
    if (n->out[i]) tu_output(g, n->out[i]);
  char err[1024];
  int hits = tu_emit_count(g, 0, "llvm", 1, &needle, err, sizeof err);
  cr_assert_geq(hits, 0, "%s", err);
  free(dt.x), free(dt.w), free(dt.r), free(dt.b), free(dt.h0), free(dt.c0), free(dt.p), free(dt.seq);
  ir_graph_free(g);
  return hits;
}

/* does the graph function run c's node in phases (onnxc_rt_phases)? */
static bool emits_phases(const Case *c) { return emit_lines(c, "call i32 @onnxc_rt_phases") > 0; }

Test(rnn, steps_split_over_threads) {
  /* one task (batch <= 4, one direction), constant weights and H·G·Hp >= 128K: the steps run as
   * phases of 2 slices of the hidden units (1 thread: whole phases; 2: one slice each).  H = 220:
   * a masked tail in the last slice; 14 vectors per gate, 7 per slice (blocks of Rᵀ cut to 7);
   * B = 4 with T = 20: two projection chunks; layout 1 and reverse; GRU with
   * linear_before_reset; plain RNN */
  Case cs[] = {
      CASE(.op = OP_LSTM, .T = 6, .B = 1, .I = 24, .H = 220, .bias = true, .h0 = true, .c0 = true, .peep = true,
           .const_w = true),
      CASE(.op = OP_LSTM, .T = 5, .B = 3, .I = 10, .H = 220, .direction = "reverse", .layout = 1, .clip = 0.9f,
           .bias = true, .h0 = true, .const_w = true, .drop = {true, false, false}),
      CASE(.op = OP_LSTM, .T = 20, .B = 4, .I = 8, .H = 256, .bias = true, .const_w = true),
      CASE(.op = OP_GRU, .T = 7, .B = 1, .I = 16, .H = 256, .lbr = 1, .bias = true, .h0 = true, .const_w = true),
      CASE(.op = OP_RNN, .T = 5, .B = 2, .I = 12, .H = 384, .bias = true, .h0 = true, .const_w = true),
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    cr_assert(emits_phases(&cs[i]), "case %zu runs in phases", i);
    for (int th = 1; th <= 2; th++) {
      cs[i].threads = th;
      run_case(&cs[i]);
    }
  }
  /* not split: two tasks (bidirectional), GRU without linear_before_reset, sequence_lens, small H */
  Case no[] = {
      CASE(.op = OP_LSTM, .T = 3, .B = 1, .I = 8, .H = 256, .direction = "bidirectional", .const_w = true),
      CASE(.op = OP_GRU, .T = 3, .B = 1, .I = 8, .H = 256, .const_w = true),
      CASE(.op = OP_LSTM, .T = 3, .B = 1, .I = 8, .H = 256, .seq = true, .const_w = true),
      CASE(.op = OP_LSTM, .T = 3, .B = 1, .I = 8, .H = 64, .const_w = true),
  };
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) cr_assert(!emits_phases(&no[i]), "case %zu is one task", i);
}

Test(rnn, phases_kernel_is_one_copy) {
  /* the phases kernel runs whole phases (1 thread) and either slice (2 threads) through one copy
   * of the projection, recurrence and gate math (run-time unit ranges): about the code of the
   * same node run as one task (here: with sequence_lens), not one copy per slice and per gate
   * (3 phase bodies, 4 gates each: LLVM's time on lstm256 338 vs 52 ms) */
  Case ph = CASE(.op = OP_LSTM, .T = 20, .B = 1, .I = 64, .H = 256, .bias = true, .const_w = true);
  Case one = ph;
  one.seq = true;
  cr_assert(emits_phases(&ph) && !emits_phases(&one));
  /* lines with a vector fma: the code LLVM optimizes and compiles grows with them */
  int a = emit_lines(&ph, "@llvm.fma.v"), b = emit_lines(&one, "@llvm.fma.v");
  cr_assert_gt(b, 0);
  cr_assert_leq(2 * a, 3 * b, "phases kernel: %d fma lines, one task: %d", a, b);
}

/* ---------------------------------------------------------------- GRU */

Test(rnn, gru_defaults) {
  run_case(&CASE(.op = OP_GRU, .T = 5, .B = 3, .I = 4, .H = 6, .bias = true));
}

Test(rnn, gru_linear_before_reset_bidirectional) {
  run_case(&CASE(.op = OP_GRU, .T = 6, .B = 5, .I = 7, .H = 19, .direction = "bidirectional", .lbr = 1,
                 .bias = true, .seq = true, .h0 = true, .zero_row = 5));
}

Test(rnn, gru_reverse_layout1_clip_activations) {
  run_case(&CASE(.op = OP_GRU, .T = 5, .B = 3, .I = 6, .H = 10, .direction = "reverse", .layout = 1, .clip = 1.5f,
                 .bias = true, .seq = true, .h0 = true, .nact = 2, .acts = {"HardSigmoid", "LeakyRelu"}, .nalpha = 2,
                 .alpha = {0.25f, 0.1f}, .nbeta = 1, .beta = {0.45f}));
}

Test(rnn, gru_constant_weights) {
  run_case(&CASE(.op = OP_GRU, .T = 4, .B = 9, .I = 20, .H = 33, .direction = "bidirectional", .bias = true,
                 .const_w = true, .seq = true, .threads = 2));
  run_case(&CASE(.op = OP_GRU, .T = 4, .B = 2, .I = 20, .H = 33, .lbr = 1, .bias = true, .const_w = true));
}

Test(rnn, zero_constant_initial_state) {
  run_case(&CASE(.op = OP_LSTM, .T = 5, .B = 3, .I = 4, .H = 10, .bias = true, .seq = true, .h0 = true, .c0 = true,
                 .zero_state = true, .const_w = true));
  run_case(&CASE(.op = OP_GRU, .T = 5, .B = 3, .I = 4, .H = 10, .direction = "bidirectional", .bias = true,
                 .h0 = true, .zero_state = true));
}

Test(rnn, gru_missing_outputs) {
  run_case(&CASE(.op = OP_GRU, .T = 4, .B = 2, .I = 3, .H = 5, .drop = {true, false}, .bias = true));
  run_case(&CASE(.op = OP_GRU, .T = 4, .B = 2, .I = 3, .H = 5, .drop = {false, true}, .bias = true));
}

/* ---------------------------------------------------------------- RNN */

Test(rnn, rnn_seq_bidirectional_layout1) {
  run_case(&CASE(.op = OP_RNN, .T = 6, .B = 4, .I = 5, .H = 12, .direction = "bidirectional", .layout = 1,
                 .bias = true, .seq = true, .h0 = true));
}

Test(rnn, rnn_every_activation) {
  static const char *names[] = {"Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh",
                                "HardSigmoid", "Elu", "Softsign", "Softplus"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    Case c = CASE(.op = OP_RNN, .T = 4, .B = 2, .I = 3, .H = 9, .direction = "bidirectional", .bias = true,
                  .nact = 2, .nalpha = 2, .alpha = {0.3f, 0.6f}, .nbeta = 2, .beta = {0.2f, 0.7f});
    c.acts[0] = names[i];
    c.acts[1] = names[(i + 3) % (sizeof names / sizeof names[0])];
    run_case(&c);
  }
}

Test(rnn, rnn_clip_reverse_constant) {
  run_case(&CASE(.op = OP_RNN, .T = 8, .B = 3, .I = 4, .H = 40, .direction = "reverse", .clip = 0.5f, .bias = true,
                 .const_w = true, .seq = true, .h0 = true));
}

/* ---------------------------------------------------------------- errors */

Test(rnn, bad_attributes_are_reported) {
  Case c = CASE(.op = OP_LSTM, .T = 3, .B = 2, .I = 3, .H = 4, .nact = 3, .acts = {"Sigmoid", "Tanh", "Swish"});
  Graph *g = ir_graph_new();
  Data dt;
  const void *feeds[8];
  int nf;
  Node *n = build(g, &c, &dt, feeds, &nf);
  cr_assert_neq(ir_infer_node(g, n), 0);
  cr_assert(strstr(ir_last_error(g), "Swish"), "%s", ir_last_error(g));
  free(dt.x), free(dt.w), free(dt.r);
  ir_graph_free(g);
  g = ir_graph_new();
  c = CASE(.op = OP_GRU, .T = 3, .B = 2, .I = 3, .H = 4, .direction = "sideways");
  n = build(g, &c, &dt, feeds, &nf);
  cr_assert_neq(ir_infer_node(g, n), 0);
  cr_assert(strstr(ir_last_error(g), "direction"), "%s", ir_last_error(g));
  free(dt.x), free(dt.w), free(dt.r);
  ir_graph_free(g);
}

Test(rnn, sequence_lens_out_of_range_is_a_run_error) {
  Case c = CASE(.op = OP_GRU, .T = 3, .B = 2, .I = 3, .H = 4, .seq = true, .bias = true);
  Graph *g = ir_graph_new();
  Data dt;
  const void *feeds[8];
  int nf;
  Node *n = build(g, &c, &dt, feeds, &nf);
  cr_assert_eq(ir_infer_node(g, n), 0, "%s", ir_last_error(g));
  tu_output(g, n->out[0]);
  tu_output(g, n->out[1]);
  char err[1024];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "jit: %s", err);
  float y[3 * 2 * 4], yh[2 * 4];
  void *outs[2] = {y, yh};
  int32_t bad[2][2] = {{3, 4}, {-1, 2}};
  for (int k = 0; k < 2; k++) {
    feeds[4] = bad[k];
    cr_assert_eq(be_run(m, feeds, outs, err, sizeof err), 3, "sequence_lens {%d, %d} must be rejected", bad[k][0],
                 bad[k][1]);
  }
  int32_t good[2] = {3, 0};
  feeds[4] = good;
  cr_assert_eq(be_run(m, feeds, outs, err, sizeof err), 0, "%s", err);
  be_free(m);
  free(dt.x), free(dt.w), free(dt.r), free(dt.b), free(dt.seq);
  ir_graph_free(g);
}

Test(rnn, output_shapes_follow_layout) {
  for (int layout = 0; layout < 2; layout++) {
    Case c = CASE(.op = OP_LSTM, .T = 7, .B = 3, .I = 2, .H = 5, .direction = "bidirectional", .layout = layout);
    Graph *g = ir_graph_new();
    Data dt;
    const void *feeds[8];
    int nf;
    Node *n = build(g, &c, &dt, feeds, &nf);
    cr_assert_eq(ir_infer_node(g, n), 0, "%s", ir_last_error(g));
    int64_t y0[4] = {7, 2, 3, 5}, y1[4] = {3, 7, 2, 5}, s0[3] = {2, 3, 5}, s1[3] = {3, 2, 5};
    const int64_t *y = layout ? y1 : y0, *s = layout ? s1 : s0;
    cr_assert_eq(n->out[0]->rank, 4);
    for (int d = 0; d < 4; d++) cr_assert_eq(n->out[0]->dims[d], y[d], "layout %d Y dim %d", layout, d);
    for (int k = 1; k < 3; k++) {
      cr_assert_eq(n->out[k]->rank, 3);
      for (int d = 0; d < 3; d++) cr_assert_eq(n->out[k]->dims[d], s[d], "layout %d output %d dim %d", layout, k, d);
    }
    free(dt.x), free(dt.w), free(dt.r);
    ir_graph_free(g);
  }
}

Test(rnn, bad_shapes_are_reported) {
  Case c = CASE(.op = OP_GRU, .T = 3, .B = 2, .I = 3, .H = 4);
  Graph *g = ir_graph_new();
  Data dt;
  const void *feeds[8];
  int nf;
  Node *n = build(g, &c, &dt, feeds, &nf);
  n->attrs[0].i = 5; /* hidden_size disagrees with R */
  cr_assert_neq(ir_infer_node(g, n), 0);
  cr_assert(strstr(ir_last_error(g), "hidden_size"), "%s", ir_last_error(g));
  free(dt.x), free(dt.w), free(dt.r);
  ir_graph_free(g);
  g = ir_graph_new(); /* the first error is the one kept */
  n = build(g, &c, &dt, feeds, &nf);
  int64_t wd[3] = {1, 12, 4}; /* input_size 4, X has 3 */
  n->in[1] = tu_input(g, "W2", DT_FLOAT, 3, wd);
  cr_assert_neq(ir_infer_node(g, n), 0);
  cr_assert(strstr(ir_last_error(g), "(W) has shape 1x12x4; expected 1x12x3"), "%s", ir_last_error(g));
  free(dt.x), free(dt.w), free(dt.r);
  ir_graph_free(g);
}

/* ---------------------------------------------------------------- --fp-mode bf16 */

static bool host_bf16(void) {
  Target t;
  char err[256];
  return be_target_get("native", &t, err, sizeof err) == 0 && t.has_bf16;
}

Test(rnn, bf16_mode_recurrence) {
  /* --fp-mode bf16: a constant R multiplies in bf16 pairs (vdpbf16ps) against h rounded to bf16
   * each step, f32 sums, and a constant W with I even against x rounded as it is read; checked
   * against the reference with R, h, W and x rounded the same way (odd I: W stays f32).  The
   * phases kernel (1 and 2 threads: each slice converts h itself), tasks per direction and batch
   * block with sequence_lens, GRU without linear_before_reset (r ⊙ h converted for its own
   * product); H not a multiple of 32 with odd I, and run-time W and R keep f32 (no vdpbf16ps) */
  if (!host_bf16()) {
    cr_log_warn("host without AVX512-BF16: --fp-mode bf16 not checked");
    return;
  }
  Case cs[] = {
      CASE(.op = OP_LSTM, .T = 6, .B = 1, .I = 24, .H = 256, .bias = true, .h0 = true, .c0 = true, .const_w = true),
      CASE(.op = OP_LSTM, .T = 7, .B = 6, .I = 9, .H = 64, .direction = "bidirectional", .bias = true, .seq = true,
           .h0 = true, .c0 = true, .peep = true, .const_w = true, .zero_row = 2),
      CASE(.op = OP_GRU, .T = 5, .B = 2, .I = 10, .H = 96, .bias = true, .h0 = true, .const_w = true),
      CASE(.op = OP_GRU, .T = 5, .B = 1, .I = 16, .H = 256, .lbr = 1, .bias = true, .h0 = true, .const_w = true),
      CASE(.op = OP_RNN, .T = 5, .B = 3, .I = 7, .H = 32, .direction = "reverse", .bias = true, .h0 = true,
           .const_w = true),
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    cs[i].bf16 = cs[i].bf16_rec = true;
    cs[i].bf16_proj = cs[i].I % 2 == 0;
    cr_assert_gt(emit_lines(&cs[i], "dpbf16"), 0, "case %zu: the recurrence runs vdpbf16ps", i);
    for (int th = 1; th <= 2; th++) {
      cs[i].threads = th;
      run_case(&cs[i]);
    }
    cs[i].bf16 = false;
    cr_assert_eq(emit_lines(&cs[i], "dpbf16"), 0, "case %zu: fp32 mode keeps f32", i);
  }
  Case f32[] = {
      CASE(.op = OP_LSTM, .T = 4, .B = 2, .I = 9, .H = 40, .bias = true, .const_w = true, .bf16 = true),
      CASE(.op = OP_LSTM, .T = 4, .B = 2, .I = 8, .H = 64, .bias = true, .bf16 = true),
  };
  for (size_t i = 0; i < sizeof f32 / sizeof f32[0]; i++) {
    cr_assert_eq(emit_lines(&f32[i], "dpbf16"), 0, "case %zu keeps f32", i);
    run_case(&f32[i]);
  }
}
