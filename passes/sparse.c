/* sparse.c — the `sparse` pass: measures the sparsity of each MatMul/Gemm's constant weight and
 * marks the nodes whose weight has enough zeros for a sparse kernel to be worth considering
 * (Node.sparse).  Whether one runs is the generator's decision (backend/gen/gen_sparse.c: a cost
 * model on the shape, the nonzero count and the target's vector width), as for winograd; the pass
 * exists so that `--disable-pass sparse` keeps every layer dense (ablation, comparing results).
 * pass_sparse_measure is the one structure detector (unstructured, N:M along K, R×C blocks), used
 * by reports (onnxc info and onnxc prune, through lib/prune.c's prune_measure) and tests. */
#include <stdio.h>
#include <string.h>

#include "passes.h"

/* below this fraction of zeros no sparse kernel can win: not even measured by the backend */
#define SPARSE_MIN_ZEROS 0.3
#define SPARSE_MIN_ELEMS 1024

/* the weight operand of a contraction the sparse kernels handle, with its logical (K, N) view:
 * B(k, n) at data[k*rs + n*cs]; NULL when there is none */
const Value *pass_sparse_weight(const Node *n, int64_t *K, int64_t *N, int64_t *rs, int64_t *cs) {
  if ((n->op != OP_MatMul && n->op != OP_Gemm) || n->nin < 2) return NULL;
  const Value *b = n->in[1];
  if (!b || b->kind != VK_CONST || !b->data || b->dtype != DT_FLOAT || b->rank != 2) return NULL;
  bool tb = n->op == OP_Gemm && ir_attr_int(n, "transB", 0);
  *K = b->dims[tb ? 1 : 0];
  *N = b->dims[tb ? 0 : 1];
  *rs = tb ? 1 : *N;
  *cs = tb ? *K : 1;
  return b;
}

/* ---- the structure detector (also onnxc info / onnxc prune's, through prune_measure) ---- */

static float sv_at(const SparseView *v, int64_t k, int64_t n) {
  return v->w[n * v->sn + (k % v->ka) * v->sa + (k / v->ka) * v->sb];
}

/* the largest count of nonzeros in a group of m along K, or -1 when m does not tile K */
static int64_t nm_max(const SparseView *v, int64_t m) {
  if (v->ka % m) return -1;
  int64_t mx = 0;
  for (int64_t n = 0; n < v->n; n++)
    for (int64_t k0 = 0; k0 < v->k; k0 += m) {
      int64_t nz = 0;
      for (int64_t k = k0; k < k0 + m; k++) nz += sv_at(v, k, n) != 0;
      if (nz > mx) mx = nz;
    }
  return mx;
}

/* zeros that lie in all-zero r x c blocks */
static int64_t block_zeros(const SparseView *v, int64_t r, int64_t c) {
  int64_t z = 0;
  for (int64_t k0 = 0; k0 < v->k; k0 += r)
    for (int64_t n0 = 0; n0 < v->n; n0 += c) {
      bool all = true;
      for (int64_t k = k0; k < k0 + r && all; k++)
        for (int64_t n = n0; n < n0 + c && all; n++) all = sv_at(v, k, n) == 0;
      z += all ? r * c : 0;
    }
  return z;
}

static void measure_structure(const SparseView *v, int64_t zeros, char *out, size_t len) {
  double density = 1 - (double)zeros / (double)(v->k * v->n);
  static const int64_t ms[] = {4, 8, 16};
  for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
    int64_t mx = nm_max(v, ms[i]);
    /* N:M only when the groups explain the sparsity (90% unstructured is not "3:4") */
    if (mx >= 0 && mx < ms[i] && (double)mx / (double)ms[i] <= density + 0.02) {
      snprintf(out, len, "%lld:%lld", (long long)mx, (long long)ms[i]);
      return;
    }
  }
  static const int64_t bs[][2] = {{4, 4}, {1, 16}, {16, 1}, {1, 8}, {8, 1}, {2, 2}, {1, 4}, {4, 1}, {1, 2}, {2, 1}};
  for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++)
    if (v->k % bs[i][0] == 0 && v->n % bs[i][1] == 0 && (double)block_zeros(v, bs[i][0], bs[i][1]) >= 0.99 * (double)zeros) {
      snprintf(out, len, "block:%lldx%lld", (long long)bs[i][0], (long long)bs[i][1]);
      return;
    }
  snprintf(out, len, "unstructured");
}

void pass_sparse_measure(const SparseView *v, SparseInfo *si) {
  memset(si, 0, sizeof *si);
  int64_t total = v->k * v->n, zeros = 0;
  for (int64_t k = 0; k < v->k; k++)
    for (int64_t n = 0; n < v->n; n++) zeros += sv_at(v, k, n) == 0;
  si->nnz = total - zeros;
  si->sparsity = total ? (double)zeros / (double)total : 0;
  if (!zeros) snprintf(si->structure, sizeof si->structure, "dense");
  else measure_structure(v, zeros, si->structure, sizeof si->structure);
}

void pass_sparse_analyze(const Value *w, int64_t K, int64_t N, int64_t rs, int64_t cs, SparseInfo *si) {
  SparseView v = {.w = w->data, .k = K, .n = N, .ka = K, .sa = rs, .sb = 0, .sn = cs};
  pass_sparse_measure(&v, si);
}

/* whether at least SPARSE_MIN_ZEROS of w's floats are zero: counted a block at a time (a loop the
 * compiler vectorizes), stopping as soon as the answer is known (a dense weight: once 70% of it is
 * seen), since every constant weight of a model is scanned at each compile and cache hit */
#define ZERO_BLOCK 4096

static bool enough_zeros(const Value *w) {
  const float *d = w->data;
  int64_t n = ir_value_numel(w), need = (int64_t)(SPARSE_MIN_ZEROS * (double)n), z = 0;
  if (n <= 0) return false;
  if ((double)need < SPARSE_MIN_ZEROS * (double)n) need++; /* z >= 0.3 n, exactly */
  for (int64_t i = 0; i < n; i += ZERO_BLOCK) {
    int32_t b = 0;
    if (n - i >= ZERO_BLOCK)
      for (int j = 0; j < ZERO_BLOCK; j++) b += d[i + j] == 0.0f;
    else
      for (int64_t j = i; j < n; j++) b += d[j] == 0.0f;
    z += b;
    if (z >= need) return true;
    if (z + (n - i - ZERO_BLOCK) < need) return false; /* the rest could not make up the count */
  }
  return z >= need;
}

bool pass_sparse_candidate(const Node *n) {
  int64_t K, N, rs, cs;
  const Value *w = pass_sparse_weight(n, &K, &N, &rs, &cs);
  return w && K * N >= SPARSE_MIN_ELEMS && enough_zeros(w);
}

int pass_sparse(Graph *g) {
  for (int i = 0; i < g->nnodes; i++)
    if (pass_sparse_candidate(g->nodes[i])) g->nodes[i]->sparse = true;
  pass_sparse_convs(g);
  pass_sparse_rnns(g);
  pass_sparse_q8(g);
  return 0;
}

/* Conv nodes (group 1, constant fp32 weight) whose weight has enough zeros for the sparse conv
 * kernels (backend/gen/gen_sparse_conv.c) to be weighed; they decide by their cost model. */
bool pass_sparse_conv_candidate(const Node *n) {
  if (n->op != OP_Conv || n->nin < 2 || ir_attr_int(n, "group", 1) != 1) return false;
  const Value *w = n->in[1];
  if (!w || w->kind != VK_CONST || !w->data || w->dtype != DT_FLOAT || w->rank != 4) return false;
  return ir_value_numel(w) >= SPARSE_MIN_ELEMS && enough_zeros(w);
}

void pass_sparse_convs(Graph *g) {
  for (int i = 0; i < g->nnodes; i++)
    if (pass_sparse_conv_candidate(g->nodes[i])) g->nodes[i]->sparse = true;
}

/* LSTM / GRU / RNN nodes whose constant fp32 W or R has enough zeros for gen_rnn.c to weigh its
 * sparse forms (gen_sparse_rnn.c's cost rule decides per weight) */
bool pass_sparse_rnn_candidate(const Node *n) {
  if ((n->op != OP_LSTM && n->op != OP_GRU && n->op != OP_RNN) || n->nin < 3) return false;
  for (int i = 1; i <= 2; i++) {
    const Value *w = n->in[i];
    if (w && w->kind == VK_CONST && w->data && w->dtype == DT_FLOAT && ir_value_numel(w) >= SPARSE_MIN_ELEMS &&
        enough_zeros(w))
      return true;
  }
  return false;
}

void pass_sparse_rnns(Graph *g) {
  for (int i = 0; i < g->nnodes; i++)
    if (pass_sparse_rnn_candidate(g->nodes[i])) g->nodes[i]->sparse = true;
}

/* the int8 matmuls (MatMulInteger, QLinearMatMul, QMatMul) whose constant int8 weight [K, N] has
 * enough zeros for gen_quant_mm.c to weigh its sparse steps (gen_sparse_q8.c's cost rule decides);
 * the weight or NULL */
const Value *pass_sparse_q8_weight(const Node *n) {
  int wi = n->op == OP_MatMulInteger ? 1 : n->op == OP_QLinearMatMul || n->op == OP_QMatMul ? 3 : -1;
  const Value *w = wi >= 0 && wi < n->nin ? n->in[wi] : NULL;
  if (!w || w->kind != VK_CONST || !w->data || w->dtype != DT_INT8 || w->rank != 2) return NULL;
  return w;
}

bool pass_sparse_q8_candidate(const Node *n) {
  const Value *w = pass_sparse_q8_weight(n);
  if (!w || ir_value_numel(w) < SPARSE_MIN_ELEMS) return false;
  int64_t z = 0, ne = ir_value_numel(w);
  const int8_t *d = w->data;
  for (int64_t i = 0; i < ne; i++) z += d[i] == 0;
  return (double)z >= SPARSE_MIN_ZEROS * (double)ne;
}

void pass_sparse_q8(Graph *g) {
  for (int i = 0; i < g->nnodes; i++)
    if (pass_sparse_q8_candidate(g->nodes[i])) g->nodes[i]->sparse = true;
}
