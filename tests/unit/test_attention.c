/* test_attention.c — passes/attention.c and backend/gen/gen_attention.c: torch's multi-head
 * attention pattern becomes one FusedAttention node (and what must stay unfused), and the fused
 * kernel computes what the unfused graph does (JIT-compiled both ways, 1 and 2 threads) over
 * masks (additive constant, causal -inf, a runtime input), odd sequence lengths and head sizes,
 * cross attention (S != L) and head counts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "passes.h"
#include "testutil.h"

typedef struct Shape {
  int64_t S, L, H, D, Dv;
  int mask;      /* 0 none, 1 constant random, 2 causal (-inf above the diagonal), 3 graph input */
  int scale;     /* 0: Div of q by √D (BERT, ViT), 1: Mul of the scores (GPT), 2: none */
  bool bad_perm; /* K transposed with the wrong perm: must stay unfused */
  bool shared;   /* the Softmax output is also a graph output: must stay unfused */
} Shape;

static Value *transpose(Graph *g, Value *x, int64_t a, int64_t b, int64_t c) {
  Node *t = tu_node_n(g, OP_Transpose, 1, &x, 1);
  tu_attr_ints(g, t, "perm", 3, (int64_t[]){a, b, c});
  return t->out[0];
}

static Value *binary(Graph *g, Op op, Value *a, Value *b) { return tu_node(g, op, 2, (Value *[]){a, b}); }

static Value *scalar(Graph *g, float x) { return tu_const_f32(g, NULL, 0, NULL, &x); }

/* Q [S,H,D], K [L,H,D], V [L,H,Dv] graph inputs → the torch export of attention → [S,H,Dv] */
static void build(Graph *g, const Shape *s) {
  Value *q = tu_input(g, "q", DT_FLOAT, 3, (int64_t[]){s->S, s->H, s->D});
  Value *k = tu_input(g, "k", DT_FLOAT, 3, (int64_t[]){s->L, s->H, s->D});
  Value *v = tu_input(g, "v", DT_FLOAT, 3, (int64_t[]){s->L, s->H, s->Dv});
  Value *qt = transpose(g, q, 1, 0, 2);
  if (s->scale == 0) qt = binary(g, OP_Div, qt, scalar(g, sqrtf((float)s->D)));
  Value *kt = s->bad_perm ? transpose(g, k, 1, 0, 2) : transpose(g, k, 1, 2, 0);
  Value *sc = tu_node(g, OP_MatMul, 2, (Value *[]){qt, kt});
  if (s->scale == 1) sc = binary(g, OP_Mul, sc, scalar(g, 1.0f / sqrtf((float)s->D)));
  if (s->mask) {
    int64_t md[3] = {1, s->S, s->L};
    Value *m;
    if (s->mask == 3) m = tu_input(g, "mask", DT_FLOAT, 2, md + 1);
    else {
      float *d = malloc(sizeof(float) * (size_t)(s->S * s->L));
      uint32_t r = 99;
      for (int64_t i = 0; i < s->S; i++)
        for (int64_t j = 0; j < s->L; j++) {
          r = r * 1664525u + 1013904223u;
          d[i * s->L + j] = s->mask == 2 ? (j > i ? -INFINITY : 0.0f) : (float)(r >> 8) / (float)(1u << 24) * 4 - 2;
        }
      m = tu_const_f32(g, NULL, 3, md, d);
      free(d);
    }
    sc = binary(g, OP_Add, sc, m);
  }
  Node *sm = tu_node_n(g, OP_Softmax, 1, &sc, 1);
  tu_attr_int(g, sm, "axis", -1);
  Value *o = tu_node(g, OP_MatMul, 2, (Value *[]){sm->out[0], transpose(g, v, 1, 0, 2)});
  tu_output(g, transpose(g, o, 1, 0, 2));
  if (s->shared) tu_output(g, sm->out[0]);
}

static int count(const Graph *g, Op op) {
  int k = 0;
  for (int i = 0; i < g->nnodes; i++) k += !g->nodes[i]->dead && g->nodes[i]->op == op;
  return k;
}

/* runs the passes (attention on or off) and the JIT model at 1 and 2 threads; outputs in outs */
static int run(const Shape *s, bool fused, float **outs, int64_t *nout) {
  Graph *g = ir_graph_new();
  build(g, s);
  PassOptions po = {.disable = fused ? NULL : "attention"};
  cr_assert_eq(pass_run_all(g, &po), 0, "%s", ir_last_error(g));
  int nfa = count(g, OP_FusedAttention);
  char err[1024];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  void *ins[4];
  uint32_t r = 777;
  for (int i = 0; i < g->ninputs; i++) {
    int64_t n = ir_value_numel(g->inputs[i]);
    float *b = malloc(sizeof(float) * (size_t)n);
    for (int64_t j = 0; j < n; j++) {
      r = r * 1664525u + 1013904223u;
      b[j] = (float)((double)(r >> 8) / (double)(1u << 24) * 4.0 - 2.0);
    }
    ins[i] = b;
  }
  *nout = ir_value_numel(g->outputs[0]);
  float *tmp[2];
  for (int th = 1; th <= 2; th++) {
    tmp[0] = outs[th - 1] = calloc((size_t)*nout, sizeof(float));
    tmp[1] = g->noutputs > 1 ? calloc((size_t)ir_value_numel(g->outputs[1]), sizeof(float)) : NULL;
    be_set_threads(m, th);
    cr_assert_eq(be_run(m, (const void *const *)ins, (void *const *)tmp, err, sizeof err), 0, "%s", err);
    free(tmp[1]);
  }
  for (int i = 0; i < g->ninputs; i++) free(ins[i]);
  be_free(m);
  ir_graph_free(g);
  return nfa;
}

static void check(Shape s, int want_fused) {
  float *a[2], *b[2];
  int64_t n, n2;
  cr_assert_eq(run(&s, false, a, &n), 0, "fused with the attention part disabled");
  cr_assert_eq(run(&s, true, b, &n2), want_fused, "S=%lld L=%lld H=%lld D=%lld: FusedAttention nodes",
               (long long)s.S, (long long)s.L, (long long)s.H, (long long)s.D);
  for (int t = 0; t < 2; t++) {
    for (int64_t j = 0; j < n; j++)
      if (!(fabsf(a[t][j] - b[t][j]) <= 1e-5f * (fabsf(a[t][j]) + 1.0f)))
        cr_assert_fail("S=%lld L=%lld H=%lld D=%lld Dv=%lld threads %d element %lld: unfused %.8g, fused %.8g",
                       (long long)s.S, (long long)s.L, (long long)s.H, (long long)s.D, (long long)s.Dv, t + 1,
                       (long long)j, a[t][j], b[t][j]);
    free(a[t]);
    free(b[t]);
  }
}

Test(attention, bert_vit_shapes) {
  check((Shape){.S = 128, .L = 128, .H = 12, .D = 64, .Dv = 64}, 1);
  check((Shape){.S = 197, .L = 197, .H = 3, .D = 64, .Dv = 64}, 1);
}

Test(attention, causal_and_masks) {
  check((Shape){.S = 64, .L = 64, .H = 6, .D = 64, .Dv = 64, .mask = 2, .scale = 1}, 1);
  check((Shape){.S = 33, .L = 33, .H = 2, .D = 16, .Dv = 16, .mask = 2}, 1);
  check((Shape){.S = 20, .L = 20, .H = 4, .D = 32, .Dv = 32, .mask = 1, .scale = 2}, 1);
  check((Shape){.S = 9, .L = 9, .H = 3, .D = 8, .Dv = 8, .mask = 3}, 1);
}

Test(attention, odd_lengths_heads_and_cross) {
  check((Shape){.S = 1, .L = 1, .H = 1, .D = 1, .Dv = 1}, 1);
  check((Shape){.S = 7, .L = 7, .H = 5, .D = 5, .Dv = 3}, 1);
  check((Shape){.S = 13, .L = 71, .H = 2, .D = 24, .Dv = 40, .mask = 1}, 1); /* cross attention */
  check((Shape){.S = 50, .L = 3, .H = 1, .D = 17, .Dv = 63, .scale = 1}, 1);
  check((Shape){.S = 31, .L = 129, .H = 7, .D = 64, .Dv = 64}, 1);
  check((Shape){.S = 12, .L = 40, .H = 2, .D = 100, .Dv = 150, .mask = 2}, 1); /* head sizes above 4 vectors */
}

/* narrower targets (AVX2: 8 lanes, 16 registers; NEON: 4 lanes) must give valid modules (the JIT
 * runs the host's only; the C emitter's test runs 8 lanes) */
Test(attention, avx2_and_neon_emit) {
  const char *targets[] = {"x86-64-avx2", "aarch64"};
  Shape shapes[] = {{.S = 29, .L = 29, .H = 3, .D = 20, .Dv = 36, .mask = 2}, {.S = 9, .L = 70, .H = 2, .D = 64, .Dv = 64}};
  for (int ti = 0; ti < 2; ti++)
    for (int si = 0; si < 2; si++) {
      Graph *g = ir_graph_new();
      build(g, &shapes[si]);
      cr_assert_eq(pass_run_all(g, NULL), 0, "%s", ir_last_error(g));
      cr_assert_eq(count(g, OP_FusedAttention), 1);
      char err[1024];
      BeOptions o = {.target = targets[ti], .opt_level = 3};
      int rc = be_emit(g, &o, "asm", "/dev/null", err, sizeof err);
      if (rc && strstr(err, "is not available in this LLVM")) fprintf(stderr, "skipping %s: %s\n", targets[ti], err);
      else cr_assert_eq(rc, 0, "%s: %s", targets[ti], err);
      ir_graph_free(g);
    }
}

Test(attention, left_alone) {
  check((Shape){.S = 8, .L = 8, .H = 2, .D = 8, .Dv = 8, .bad_perm = true}, 0);
  check((Shape){.S = 8, .L = 8, .H = 2, .D = 8, .Dv = 8, .shared = true}, 0);
}

Test(attention, shape_errors) {
  Graph *g = ir_graph_new();
  Value *q = tu_input(g, "q", DT_FLOAT, 3, (int64_t[]){4, 2, 8});
  Value *k = tu_input(g, "k", DT_FLOAT, 3, (int64_t[]){5, 2, 6});
  Value *v = tu_input(g, "v", DT_FLOAT, 3, (int64_t[]){5, 2, 8});
  tu_output(g, tu_node(g, OP_FusedAttention, 3, (Value *[]){q, k, v}));
  cr_assert_neq(pass_run_all(g, NULL), 0);
  cr_assert(strstr(ir_last_error(g), "do not match"), "%s", ir_last_error(g));
  ir_graph_free(g);
}

/* ---- the in-projection split and the views around it ----
 * x [S,1,E] · W [E,3E] + b, three Slices of its last axis (Q, K, V; the last with a negative
 * start and an end past the axis), each Reshaped to [S,H,D] and then Transposed [1,0,2] (the
 * transpose of a size-1 axis at H = 1 is a view too) → the attention pattern. */
static void build_proj(Graph *g, int64_t S, int64_t H, int64_t D, bool wide_output, int64_t token) {
  int64_t E = H * D, N = 3 * E;
  Value *x = tu_input(g, "x", DT_FLOAT, 3, (int64_t[]){S, 1, E});
  float *w = malloc(sizeof(float) * (size_t)(E * N)), *b = malloc(sizeof(float) * (size_t)N);
  uint32_t r = 5;
  for (int64_t i = 0; i < E * N; i++) r = r * 1664525u + 1013904223u, w[i] = (float)(r >> 8) / (float)(1u << 24) - 0.5f;
  for (int64_t i = 0; i < N; i++) b[i] = (float)i / (float)N - 0.5f;
  Value *p = tu_node(g, OP_MatMul, 2, (Value *[]){x, tu_const_f32(g, NULL, 2, (int64_t[]){E, N}, w)});
  p = binary(g, OP_Add, p, tu_const_f32(g, NULL, 1, &N, b));
  free(w);
  free(b);
  if (wide_output) tu_output(g, p);
  Value *qkv[3];
  int64_t se[3][2] = {{0, E}, {E, 2 * E}, {-E, INT64_MAX}}, one = 1;
  for (int i = 0; i < 3; i++) {
    Value *in[4] = {p, tu_const_i64(g, 1, &one, &se[i][0]), tu_const_i64(g, 1, &one, &se[i][1]),
                    tu_const_i64(g, 1, &one, (int64_t[]){-1})};
    Value *sl = tu_node(g, OP_Slice, 4, in);
    qkv[i] = tu_node(g, OP_Reshape, 2, (Value *[]){sl, tu_const_i64(g, 1, (int64_t[]){3}, (int64_t[]){S, H, D})});
  }
  Value *qt = binary(g, OP_Div, transpose(g, qkv[0], 1, 0, 2), scalar(g, sqrtf((float)D)));
  Value *sc = tu_node(g, OP_MatMul, 2, (Value *[]){qt, transpose(g, qkv[1], 1, 2, 0)});
  Node *sm = tu_node_n(g, OP_Softmax, 1, &sc, 1);
  tu_attr_int(g, sm, "axis", -1);
  Value *o = tu_node(g, OP_MatMul, 2, (Value *[]){sm->out[0], transpose(g, qkv[2], 1, 0, 2)});
  o = transpose(g, o, 1, 0, 2);
  if (token < 0) {
    tu_output(g, o);
    return;
  }
  /* ViT's head: [S, H, D] → [1, S, E], + x, LayerNorm, MLP (Gelu), + residual, one token read */
  Value *y = tu_node(g, OP_Reshape, 2, (Value *[]){o, tu_const_i64(g, 1, (int64_t[]){3}, (int64_t[]){1, S, E})});
  y = binary(g, OP_Add, y, tu_node(g, OP_Reshape, 2, (Value *[]){x, tu_const_i64(g, 1, (int64_t[]){3}, (int64_t[]){1, S, E})}));
  float *gam = malloc(sizeof(float) * (size_t)E), *bet = malloc(sizeof(float) * (size_t)E);
  float *w1 = malloc(sizeof(float) * (size_t)(E * 2 * E)), *w2 = malloc(sizeof(float) * (size_t)(E * 2 * E));
  for (int64_t i = 0; i < E; i++) gam[i] = 1.0f + (float)i / (float)E, bet[i] = (float)(i % 7) / 7.0f;
  for (int64_t i = 0; i < 2 * E * E; i++)
    r = r * 1664525u + 1013904223u, w1[i] = (float)(r >> 8) / (float)(1u << 24) - 0.5f, w2[i] = w1[i] * 0.5f - 0.1f;
  Node *ln = tu_node_n(g, OP_LayerNormalization, 3,
                       (Value *[]){y, tu_const_f32(g, NULL, 1, &E, gam), tu_const_f32(g, NULL, 1, &E, bet)}, 1);
  tu_attr_int(g, ln, "axis", -1);
  Value *h = tu_node(g, OP_MatMul, 2, (Value *[]){ln->out[0], tu_const_f32(g, NULL, 2, (int64_t[]){E, 2 * E}, w1)});
  h = tu_node(g, OP_Gelu, 1, &h);
  h = tu_node(g, OP_MatMul, 2, (Value *[]){h, tu_const_f32(g, NULL, 2, (int64_t[]){2 * E, E}, w2)});
  h = binary(g, OP_Add, y, h);
  free(gam), free(bet), free(w1), free(w2);
  Node *ga = tu_node_n(g, OP_Gather, 2, (Value *[]){h, tu_const_i64(g, 0, NULL, &token)}, 1);
  tu_attr_int(g, ga, "axis", 1);
  tu_output(g, ga->out[0]);
}

static int nodes_of_rows; /* after run_proj: nodes with ".row" in their name (passes/rows.c made them) */

static float *run_proj(int64_t S, int64_t H, int64_t D, bool wide_output, const char *disable, bool want_split,
                       int64_t *n, int64_t token) {
  Graph *g = ir_graph_new();
  build_proj(g, S, H, D, wide_output, token);
  PassOptions po = {.disable = disable};
  cr_assert_eq(pass_run_all(g, &po), 0, "%s", ir_last_error(g));
  int nslice = 0; /* the projection's (passes/rows.c adds its own, named ".row") */
  for (int i = 0; i < g->nnodes; i++) nslice += g->nodes[i]->op == OP_Slice && !strstr(g->nodes[i]->name, ".row");
  cr_assert_eq(nslice, want_split ? 0 : 3, "S=%lld D=%lld: %d Slice nodes", (long long)S, (long long)D, nslice);
  int nproj = 0; /* MatMuls by a constant: the projection, whole or split */
  for (int i = 0; i < g->nnodes; i++) nproj += g->nodes[i]->op == OP_MatMul && g->nodes[i]->in[1]->kind == VK_CONST;
  cr_assert_eq(nproj, (want_split ? 3 : 1) + (token >= 0 ? 2 : 0));
  int nviews = 0; /* every Reshape left between arena values shares its input's buffer */
  for (int i = 0; i < g->nnodes; i++) {
    const Node *nd = g->nodes[i];
    if (nd->op != OP_Reshape || nd->in[0]->storage != ST_ARENA ||
        nd->out[0]->storage != ST_ARENA)
      continue;
    cr_assert_eq(nd->in[0]->offset, nd->out[0]->offset, "%s: %lld vs %lld", ir_ops[nd->op].name,
                 (long long)nd->in[0]->offset, (long long)nd->out[0]->offset);
    nviews++;
  }
  cr_assert_geq(nviews, 3);
  nodes_of_rows = 0;
  for (int i = 0; i < g->nnodes; i++) nodes_of_rows += strstr(g->nodes[i]->name, ".row") != NULL;
  char err[1024];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  int64_t nx = ir_value_numel(g->inputs[0]);
  float *x = malloc(sizeof(float) * (size_t)nx);
  for (int64_t j = 0; j < nx; j++) x[j] = (float)((j * 37) % 101) / 50.0f - 1.0f;
  *n = ir_value_numel(g->outputs[g->noutputs - 1]);
  float *y = calloc((size_t)*n, sizeof(float)), *wide = wide_output ? calloc((size_t)ir_value_numel(g->outputs[0]), 4) : NULL;
  void *outs[2] = {wide ? (void *)wide : (void *)y, y};
  cr_assert_eq(be_run(m, (const void *const *)&x, (void *const *)outs, err, sizeof err), 0, "%s", err);
  free(wide);
  free(x);
  be_free(m);
  ir_graph_free(g);
  return y;
}

Test(attention, projection_split_into_q_k_v) {
  int64_t shapes[][3] = {{128, 1, 64}, {7, 1, 24}, {5, 1, 3}};
  for (int s = 0; s < 3; s++) {
    int64_t n, n2, S = shapes[s][0], H = shapes[s][1], D = shapes[s][2];
    float *a = run_proj(S, H, D, false, "attention", false, &n, -1);
    float *b = run_proj(S, H, D, false, NULL, true, &n2, -1);
    for (int64_t j = 0; j < n; j++)
      if (!(fabsf(a[j] - b[j]) <= 1e-5f * (fabsf(a[j]) + 1.0f)))
        cr_assert_fail("S=%lld D=%lld element %lld: whole %.8g, split %.8g", (long long)S, (long long)D, (long long)j,
                       a[j], b[j]);
    free(a);
    free(b);
  }
  /* the wide result is also a graph output: left whole (the Slices stay) */
  int64_t n;
  free(run_proj(9, 1, 8, true, NULL, false, &n, -1));
}

/* passes/rows.c: one token of [1, S, E] read (ViT's class token): the MLP, the LayerNorm, the
 * residuals, the attention's queries and the Q projection run on that row alone */
Test(attention, rows_of_one_token) {
  int64_t cases[][4] = {{197, 1, 64, 0}, {9, 1, 8, 4}, {5, 1, 16, -1 + 5}};
  for (int c = 0; c < 3; c++) {
    int64_t n, n2, S = cases[c][0], H = cases[c][1], D = cases[c][2], tok = cases[c][3];
    float *a = run_proj(S, H, D, false, "rows", true, &n, tok);
    cr_assert_eq(nodes_of_rows, 0);
    float *b = run_proj(S, H, D, false, NULL, true, &n2, tok);
    /* Q MatMul, attention, Reshape, Add, LayerNorm, 2 MatMuls, Add, and the Slices of x */
    cr_assert_geq(nodes_of_rows, 8, "S=%lld: %d one-row nodes", (long long)S, nodes_of_rows);
    cr_assert(n == D * H && n2 == n, "%lld, %lld elements", (long long)n, (long long)n2);
    for (int64_t j = 0; j < n; j++)
      if (!(fabsf(a[j] - b[j]) <= 1e-5f * (fabsf(a[j]) + 1.0f)))
        cr_assert_fail("S=%lld token %lld element %lld: all rows %.8g, one row %.8g", (long long)S, (long long)tok,
                       (long long)j, a[j], b[j]);
    free(a);
    free(b);
  }
}
