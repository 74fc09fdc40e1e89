/* sparse.c — the `sparse` pass: measures the sparsity of each MatMul/Gemm's constant weight and
 * marks the nodes whose weight has enough zeros for a sparse kernel to be worth considering
 * (Node.sparse).  Whether one runs is the generator's decision (backend/gen/gen_sparse.c: a cost
 * model on the shape, the nonzero count and the target's vector width), as for winograd; the pass
 * exists so that `--disable-pass sparse` keeps every layer dense (ablation, comparing results).
 * pass_sparse_analyze also names the structure found (unstructured, N:M along K, 1×C blocks along
 * N), for reports. */
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

static bool is_zero(const Value *w, int64_t i) { return ((const float *)w->data)[i] == 0.0f; }

/* the largest count of nonzeros in any group of m consecutive k of one column */
static int64_t nm_max(const Value *w, int64_t K, int64_t N, int64_t rs, int64_t cs, int m) {
  int64_t worst = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t k0 = 0; k0 < K; k0 += m) {
      int64_t nz = 0;
      for (int64_t k = k0; k < k0 + m && k < K; k++) nz += !is_zero(w, k * rs + n * cs);
      if (nz > worst) worst = nz;
    }
  return worst;
}

/* zero 1×bc blocks (one k, bc consecutive n) as a fraction of all blocks */
static double block_zero_frac(const Value *w, int64_t K, int64_t N, int64_t rs, int64_t cs, int bc) {
  int64_t zero = 0, all = 0;
  for (int64_t k = 0; k < K; k++)
    for (int64_t n0 = 0; n0 < N; n0 += bc, all++) {
      bool z = true;
      for (int64_t n = n0; n < n0 + bc && n < N && z; n++) z = is_zero(w, k * rs + n * cs);
      zero += z;
    }
  return all ? (double)zero / (double)all : 0;
}

void pass_sparse_analyze(const Value *w, int64_t K, int64_t N, int64_t rs, int64_t cs, SparseInfo *si) {
  memset(si, 0, sizeof *si);
  int64_t total = K * N, zeros = 0;
  for (int64_t k = 0; k < K; k++)
    for (int64_t n = 0; n < N; n++) zeros += is_zero(w, k * rs + n * cs);
  si->nnz = total - zeros;
  si->sparsity = total ? (double)zeros / (double)total : 0;
  snprintf(si->structure, sizeof si->structure, "%s", si->sparsity > 0 ? "unstructured" : "dense");
  if (si->sparsity < 0.2) return;
  static const int bcs[] = {16, 8, 4};
  for (int i = 0; i < 3; i++) /* nearly every zero sits in an all-zero block */
    if (block_zero_frac(w, K, N, rs, cs, bcs[i]) >= 0.98 * si->sparsity) {
      snprintf(si->structure, sizeof si->structure, "block:1x%d", bcs[i]);
      return;
    }
  static const int ms[] = {4, 8};
  for (int i = 0; i < 2; i++) {
    int64_t nz = nm_max(w, K, N, rs, cs, ms[i]);
    /* at most nz in every group, and (nearly) exactly nz: the pattern, not chance */
    if (K % ms[i] == 0 && nz * 2 <= ms[i] && si->sparsity <= 1.0 - (double)nz / ms[i] + 0.02) {
      snprintf(si->structure, sizeof si->structure, "%d:%d", (int)nz, ms[i]);
      return;
    }
  }
}

static double zero_frac(const Value *w) {
  int64_t n = ir_value_numel(w), z = 0;
  for (int64_t i = 0; i < n; i++) z += is_zero(w, i);
  return n > 0 ? (double)z / (double)n : 0;
}

int pass_sparse(Graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    int64_t K, N, rs, cs;
    const Value *w = pass_sparse_weight(n, &K, &N, &rs, &cs);
    if (w && K * N >= SPARSE_MIN_ELEMS && zero_frac(w) >= SPARSE_MIN_ZEROS) n->sparse = true;
  }
  pass_sparse_convs(g);
  return 0;
}

/* Conv nodes (group 1, constant fp32 weight) whose weight has enough zeros for the sparse conv
 * kernels (backend/gen/gen_sparse_conv.c) to be weighed; they decide by their cost model. */
void pass_sparse_convs(Graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->op != OP_Conv || n->nin < 2 || ir_attr_int(n, "group", 1) != 1) continue;
    const Value *w = n->in[1];
    if (!w || w->kind != VK_CONST || !w->data || w->dtype != DT_FLOAT || w->rank != 4) continue;
    if (ir_value_numel(w) >= SPARSE_MIN_ELEMS && zero_frac(w) >= SPARSE_MIN_ZEROS) n->sparse = true;
  }
}
