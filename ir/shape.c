/* shape.c — shape inference driver: per node in topological order, the family's shape function
 * fills output dtypes/shapes; nodes whose inputs are all constant are then folded on the host
 * (ir_eval_node), which is how torch's Shape/Gather/Unsqueeze/Concat/Reshape chains disappear. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

int ir_normalize_axis(Graph *g, const Node *n, int64_t axis, int rank, int *out) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= (rank > 0 ? rank : 1))
    return ir_node_error(g, n, "axis %lld is out of range for rank %d", (long long)axis, rank);
  *out = (int)a;
  return 0;
}

/* numpy broadcasting of nin shapes */
int ir_broadcast_shape(Graph *g, const Node *n, Value *const *ins, int nin, int *rank, int64_t *dims) {
  int r = 0;
  for (int i = 0; i < nin; i++)
    if (ins[i] && ins[i]->rank > r) r = ins[i]->rank;
  for (int d = 0; d < r; d++) {
    int64_t dim = 1;
    for (int i = 0; i < nin; i++) {
      const Value *v = ins[i];
      if (!v) continue;
      int k = d - (r - v->rank);
      if (k < 0) continue;
      int64_t x = v->dims[k];
      if (x == 1) continue;
      if (dim == 1) dim = x;
      else if (x != dim) {
        char a[128], b[128];
        ir_shape_str(ins[0], a, sizeof a);
        ir_shape_str(v, b, sizeof b);
        return ir_node_error(g, n, "shapes %s and %s cannot be broadcast together", a, b);
      }
    }
    dims[d] = dim;
  }
  *rank = r;
  return 0;
}

static int check_arity(Graph *g, Node *n) {
  const OpInfo *oi = &ir_ops[n->op];
  if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in))
    return ir_node_error(g, n, "expects %d..%d inputs, got %d", oi->min_in, oi->max_in, n->nin);
  if (n->nout < oi->min_out || (oi->max_out >= 0 && n->nout > oi->max_out))
    return ir_node_error(g, n, "expects %d..%d outputs, got %d", oi->min_out, oi->max_out, n->nout);
  for (int i = 0; i < oi->min_in && i < n->nin; i++)
    if (!n->in[i] && !(n->op == OP_Loop && i < 2) && !(n->op == OP_Scan && i == 0) && n->op != OP_Clip)
      return ir_node_error(g, n, "required input %d is missing", i);
  for (int i = 0; i < n->nin; i++) {
    const Value *v = n->in[i];
    if (!v) continue;
    if (v->rank < 0 || !ir_value_shape_known(v)) {
      char s[128];
      ir_shape_str(v, s, sizeof s);
      return ir_node_error(g, n, "input '%s' has unknown shape %s (give it with --shape NAME=DIMS)",
                           v->name, s);
    }
  }
  return 0;
}

int ir_infer_node(Graph *g, Node *n) {
  if (check_arity(g, n)) return -1;
  int rc;
  switch (ir_ops[n->op].family) {
  case F_UNARY: rc = shape_unary(g, n); break;
  case F_BINARY:
  case F_TERNARY: rc = shape_binary(g, n); break;
  case F_NORM: rc = shape_norm(g, n); break;
  case F_CONTRACT: rc = shape_contract(g, n); break;
  case F_POOL: rc = shape_pool(g, n); break;
  case F_REDUCE: rc = shape_reduce(g, n); break;
  case F_MOVE: rc = shape_move(g, n); break;
  case F_GEN: rc = shape_gen(g, n); break;
  case F_CONTROL: rc = shape_control(g, n); break;
  case F_SIGNAL: rc = shape_signal(g, n); break;
  case F_VISION: rc = shape_vision(g, n); break;
  case F_QUANT: rc = shape_quant(g, n); break;
  case F_RNN: rc = shape_rnn(g, n); break;
  default: rc = ir_node_error(g, n, "no shape inference for this op");
  }
  if (rc) return rc;
  for (int i = 0; i < n->nout; i++) {
    Value *v = n->out[i];
    if (!v) continue;
    int64_t numel;
    if (v->rank < 0 || v->rank > IR_MAX_RANK)
      return ir_node_error(g, n, "output %d: rank %d is not supported (at most %d)", i, v->rank,
                           IR_MAX_RANK);
    if (!ir_numel_ok(v->rank, v->dims, &numel) ||
        !ir_mul_ok(numel, (int64_t)(dtype_size(v->dtype) ? dtype_size(v->dtype) : 1), &numel))
      return ir_node_error(g, n, "output %d: shape is negative or its size overflows", i);
    if (!dtype_supported(v->dtype))
      return ir_node_error(g, n, "output %d: data type %s is not supported", i, dtype_name(v->dtype));
  }
  return 0;
}

static bool foldable(const Node *n) {
  if (ir_ops[n->op].family == F_CONTROL) return false;
  for (int i = 0; i < n->nin; i++)
    if (n->in[i] && n->in[i]->kind != VK_CONST) return false;
  for (int i = 0; i < n->nout; i++)
    if (n->out[i] && (ir_value_numel(n->out[i]) > IR_FOLD_LIMIT)) return false;
  return true;
}

int ir_infer_shapes(Graph *g) {
  if (ir_graph_toposort(g)) return -1;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead) continue;
    if (ir_infer_node(g, n)) return -1;
    /* Shape only needs its input's shape, not its data */
    if (foldable(n) || n->op == OP_Shape || n->op == OP_Size) {
      int rc = ir_eval_node(g, n);
      if (rc < 0) return -1;
      if (rc > 0) ir_node_remove(g, n);
    }
  }
  ir_graph_compact(g);
  return 0;
}

/* Inputs whose *values* (not just shapes) decide an output shape or a compile-time parameter.
 * `onnxc run` binds graph inputs that feed these slots to the values in the input files. */
bool ir_is_shape_operand(const Node *n, int i) {
  if (ir_op_is_reduce(n->op)) return i == 1;
  switch (n->op) {
  case OP_Reshape:
  case OP_Expand:
  case OP_Tile:
  case OP_Split:
  case OP_Squeeze:
  case OP_Unsqueeze:
  case OP_OneHot:
  case OP_CumSum:
  case OP_Trilu: return i == 1;
  case OP_Slice: return i >= 1;
  case OP_Pad:
  case OP_Resize: return i >= 1;
  case OP_Range: return true;
  case OP_ConstantOfShape: return i == 0;
  case OP_Loop: return i <= 1;
  case OP_Dropout: return i >= 1; /* training_mode (and ratio) decide whether it is an identity */
  case OP_If: return i == 0; /* a constant condition inlines the branch (passes/inline.c) */
  case OP_TopK:
  case OP_Upsample: return i == 1;
  case OP_MaxUnpool: return i == 2;
  case OP_NonZero:
  case OP_Unique:
  case OP_Compress: return true; /* output shape depends on input data */
  case OP_HannWindow:
  case OP_HammingWindow:
  case OP_BlackmanWindow:
  case OP_MelWeightMatrix:
  case OP_NonMaxSuppression: return true;
  case OP_DFT: return i >= 1;
  case OP_STFT: return i == 1 || i == 3;
  default: return false;
  }
}
