/* shape_attention.c — shape inference for FusedAttention, the op passes/attention.c makes of
 * torch's multi-head attention (it is not read from ONNX files' own Attention op):
 *     Y[s,h,:] = Σ_l softmax_l(scale · Q[s,h,:]·K[l,h,:] + mask[s,l]) · V[l,h,:]
 * Q [S,H,D], K [L,H,D], V [L,H,Dv], mask (optional, additive) [S,L] after leading 1s → Y [S,H,Dv];
 * float32. */
#include "ir.h"

static bool mask_fits(const Value *m, int64_t S, int64_t L) {
  if (m->rank < 2 || m->dims[m->rank - 2] != S || m->dims[m->rank - 1] != L) return false;
  for (int i = 0; i < m->rank - 2; i++)
    if (m->dims[i] != 1) return false;
  return true;
}

int shape_attention(Graph *g, Node *n) {
  const Value *q = n->in[0], *k = n->in[1], *v = n->in[2], *m = n->nin > 3 ? n->in[3] : NULL;
  for (int i = 0; i < n->nin; i++)
    if (n->in[i] && (n->in[i]->dtype != DT_FLOAT || !ir_value_shape_known(n->in[i])))
      return ir_node_error(g, n, "input %d must be float32 with a static shape", i);
  if (q->rank != 3 || k->rank != 3 || v->rank != 3) return ir_node_error(g, n, "Q, K and V must be rank 3 ([S,H,D])");
  if (k->dims[1] != q->dims[1] || k->dims[2] != q->dims[2] || v->dims[0] != k->dims[0] || v->dims[1] != q->dims[1])
    return ir_node_error(g, n, "Q [S,H,D], K [L,H,D] and V [L,H,Dv] do not match");
  if (m && !mask_fits(m, q->dims[0], k->dims[0])) return ir_node_error(g, n, "the mask must be [S,L]");
  int64_t dims[3] = {q->dims[0], q->dims[1], v->dims[2]};
  n->out[0]->dtype = DT_FLOAT;
  ir_value_set_shape(n->out[0], 3, dims);
  return 0;
}
