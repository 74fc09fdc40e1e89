/* shape.c — shape inference driver: per node in topological order, the shape function its ops.def
 * row names fills output dtypes/shapes; nodes whose inputs are all constant are then folded on the
 * host by the fold function the row names (ir_eval_node), which is how torch's
 * Shape/Gather/Unsqueeze/Concat/Reshape chains disappear. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

/* The shape and fold columns of ops.def: functions of shape_<family>.c and eval.c (or beside a
 * family's shape function), declared here from the rows so adding an op needs no header edit. */
typedef int (*NodeFn)(Graph *g, Node *n);
#define OP(name, fam, min_in, max_in, min_out, max_out, shape, fold, ...) \
  int shape(Graph *g, Node *n);                                            \
  int fold(Graph *g, Node *n);
#include "ops.def"
#undef OP
static const NodeFn shapes[OP_COUNT] = {
#define OP(name, fam, min_in, max_in, min_out, max_out, shape, ...) [OP_##name] = shape,
#include "ops.def"
#undef OP
};
static const NodeFn folds[OP_COUNT] = {
#define OP(name, fam, min_in, max_in, min_out, max_out, shape, fold, ...) [OP_##name] = fold,
#include "ops.def"
#undef OP
};

bool ir_op_has_shape(Op op) { return (unsigned)op < OP_COUNT && shapes[op]; }
bool ir_op_has_fold(Op op) { return (unsigned)op < OP_COUNT && folds[op]; }

static int check_arity(Graph *g, Node *n) {
  const OpInfo *oi = &ir_ops[n->op];
  if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in))
    return ir_node_error(g, n, "expects %d..%d inputs, got %d", oi->min_in, oi->max_in, n->nin);
  if (n->nout < oi->min_out || (oi->max_out >= 0 && n->nout > oi->max_out))
    return ir_node_error(g, n, "expects %d..%d outputs, got %d", oi->min_out, oi->max_out, n->nout);
  for (int i = 0; i < oi->min_in && i < n->nin; i++)
    if (!n->in[i] && !ir_op_input_optional(n->op, i)) return ir_node_error(g, n, "required input %d is missing", i);
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
  int rc = shapes[n->op](g, n); /* the row's shape function */
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

/* folding: every input constant (Shape/Size: known shapes suffice) and nothing too large */
static bool evaluable(const Node *n) {
  if (*n->domain) return false;
  bool shape_only = n->op == OP_Shape || n->op == OP_Size;
  for (int i = 0; i < n->nin; i++) {
    const Value *v = n->in[i];
    if (!v) continue;
    if (!ir_value_shape_known(v)) return false;
    if (shape_only) continue;
    if (v->kind != VK_CONST || !v->data || !dtype_size(v->dtype) || ir_value_numel(v) > IR_FOLD_LIMIT) return false;
  }
  for (int i = 0; i < n->nout; i++) {
    const Value *v = n->out[i];
    if (!v) continue;
    if (!ir_value_shape_known(v) || !dtype_size(v->dtype) || ir_value_numel(v) > IR_FOLD_LIMIT) return false;
  }
  return true;
}

int ir_eval_node(Graph *g, Node *n) {
  if (!evaluable(n)) return 0;
  int rc = folds[n->op](g, n);
  for (int i = 0; i < n->nout; i++) {
    Value *v = n->out[i];
    if (!v) continue;
    if (rc > 0) v->kind = VK_CONST;
    else v->data = NULL;
  }
  return rc;
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

/* Inputs whose *values* (not just shapes) decide an output shape or a compile-time parameter
 * (ops.def's shape_in column).  `onnxc run` binds graph inputs that feed these slots to the values
 * in the input files. */
bool ir_is_shape_operand(const Node *n, int i) { return ir_in_mask(ir_ops[n->op].shape_in, i); }
