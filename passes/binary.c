/* binary.c — the `binary` pass: marks the Conv nodes of the main graph that the backend runs on
 * bit-packed xor + popcount kernels (Node.binary, backend/gen/gen_binary_conv.c), the XNOR-Net
 * form torch exports: the weights take two values ±α_o per output channel o (after fuse has
 * folded a BatchNorm into them, still two values) and the input is two- or three-valued, the
 * output of Sign (-1, 0, 1) or of Where(cond, 1, -1).  Then Σ x·w = α_o · (integer dot product of
 * signs), which the kernel computes exactly from sign and nonzero bit planes.  Likewise a MatMul or
 * Gemm whose constant weight's columns are ±α_n (gen_binary_gemm).
 *
 * It runs after plan because it only marks nodes (nothing moves, no value changes), so it can
 * sit at the end of pass_names; `--disable-pass binary` keeps the float kernels (comparing). */
#include <math.h>
#include <string.h>

#include "passes.h"

static bool const_f32_scalar(const Value *v, float *out) {
  if (!v || v->kind != VK_CONST || !v->data || v->dtype != DT_FLOAT || ir_value_numel(v) != 1) return false;
  memcpy(out, v->data, sizeof *out);
  return true;
}

/* the input's values are in {-1, 0, 1} by construction */
static bool sign_valued(const Value *x) {
  const Node *p = x->producer;
  if (!p || p->dead || x->dtype != DT_FLOAT) return false;
  if (p->op == OP_Sign) return p->out[0] == x;
  float a, b;
  if (p->op == OP_Where && p->nin == 3 && const_f32_scalar(p->in[1], &a) && const_f32_scalar(p->in[2], &b))
    return fabsf(a) == 1.0f && fabsf(b) == 1.0f;
  return false;
}

/* every output channel's weights are ±α_o (α_o finite; 0 only for an all-zero channel) */
static bool pm_alpha_weights(const Value *w) {
  if (!w || w->kind != VK_CONST || !w->data || w->dtype != DT_FLOAT || w->rank != 4) return false;
  int64_t O = w->dims[0], K = w->dims[1] * w->dims[2] * w->dims[3];
  const float *d = w->data;
  if (K <= 0) return false;
  for (int64_t o = 0; o < O; o++) {
    float a = fabsf(d[o * K]);
    if (!isfinite(a)) return false;
    for (int64_t k = 1; k < K; k++)
      if (fabsf(d[o * K + k]) != a) return false;
  }
  return true;
}

bool pass_binary_conv_ok(const Node *n) {
  if (n->op != OP_Conv || n->nin < 2 || !n->in[0] || n->nout < 1 || !n->out[0]) return false;
  const Value *x = n->in[0], *y = n->out[0];
  if (x->rank != 4 || y->dtype != DT_FLOAT || !ir_value_shape_known(x) || !ir_value_shape_known(y)) return false;
  if (ir_attr_int(n, "group", 1) != 1) return false;
  return sign_valued(x) && pm_alpha_weights(n->in[1]);
}

/* a MatMul [M,K]·[K,N] or Gemm (transA 0, alpha 1, C absent or a length-N bias with beta 1) whose
 * constant B's every column n is ±α_n, on a Sign/Where input: gen_binary_gemm's form */
bool pass_binary_gemm_ok(const Node *n) {
  if ((n->op != OP_MatMul && n->op != OP_Gemm) || n->nin < 2 || !n->in[0] || n->nout < 1 || !n->out[0]) return false;
  const Value *a = n->in[0], *b = n->in[1], *y = n->out[0];
  if (a->rank != 2 || y->rank != 2 || y->dtype != DT_FLOAT || !ir_value_shape_known(a) || !ir_value_shape_known(y))
    return false;
  if (!b || b->kind != VK_CONST || !b->data || b->dtype != DT_FLOAT || b->rank != 2) return false;
  bool tb = false;
  if (n->op == OP_Gemm) {
    if (ir_attr_int(n, "transA", 0) || ir_attr_float(n, "alpha", 1.0f) != 1.0f) return false;
    tb = ir_attr_int(n, "transB", 0) != 0;
    const Value *cc = n->nin > 2 ? n->in[2] : NULL;
    if (cc && (ir_attr_float(n, "beta", 1.0f) != 1.0f || cc->dtype != DT_FLOAT || ir_value_numel(cc) != y->dims[1] ||
               (cc->rank == 2 && cc->dims[0] != 1) || cc->rank > 2))
      return false;
  }
  int64_t K = a->dims[1], N = y->dims[1];
  if (K <= 0 || N <= 0 || b->dims[tb ? 1 : 0] != K || b->dims[tb ? 0 : 1] != N) return false;
  const float *d = b->data;
  for (int64_t j = 0; j < N; j++) {
    float al = fabsf(d[tb ? j * K : j]);
    if (!isfinite(al)) return false;
    for (int64_t k = 1; k < K; k++)
      if (fabsf(d[tb ? j * K + k : k * N + j]) != al) return false;
  }
  return sign_valued(a);
}

int pass_binary(Graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (!n->dead) n->binary = pass_binary_conv_ok(n) || pass_binary_gemm_ok(n);
  }
  return 0;
}
