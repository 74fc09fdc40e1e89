/* cost.c — multiply-accumulates per node, the bulk of a model's FLOPs (`onnxc info`, the run
 * summary).  Each op's cost function is named in its ops.def row (cost column); 0 there: not
 * counted.  Shapes must be inferred; a node with an unknown shape counts 0. */
#include "ir.h"

typedef double (*CostFn)(const Node *n);

static double out_numel(const Node *n) {
  const Value *o = n->out[0];
  return o && ir_value_numel(o) >= 0 ? (double)ir_value_numel(o) : -1;
}

/* every output element sums over one filter: C/group · kernel */
static double cost_conv(const Node *n) {
  const Value *w = n->in[1];
  double on = out_numel(n);
  if (on < 0 || w->rank < 2 || ir_value_numel(w) < 0) return 0;
  return on * (double)(ir_value_numel(w) / w->dims[0]);
}

/* QLinearConv, QConv: the weight is input 3 */
static double cost_qconv(const Node *n) {
  const Value *w = n->in[3];
  double on = out_numel(n);
  if (on < 0 || w->rank < 2 || ir_value_numel(w) < 0) return 0;
  return on * (double)(ir_value_numel(w) / w->dims[0]);
}

/* every input element scatters into one filter's worth of outputs */
static double cost_conv_transpose(const Node *n) {
  const Value *x = n->in[0], *w = n->in[1];
  if (out_numel(n) < 0 || ir_value_numel(x) < 0 || ir_value_numel(w) < 0 || w->rank < 2) return 0;
  return (double)ir_value_numel(x) * (double)(ir_value_numel(w) / w->dims[0]);
}

static double cost_matmul(const Node *n) {
  const Value *a = n->in[0];
  double on = out_numel(n);
  return on < 0 || a->rank < 1 ? 0 : on * (double)a->dims[a->rank - 1];
}

static double cost_gemm(const Node *n) {
  const Value *a = n->in[0];
  double on = out_numel(n);
  return on < 0 || a->rank != 2 ? 0 : on * (double)a->dims[ir_attr_int(n, "transA", 0) ? 0 : 1];
}

/* RNN, GRU, LSTM: X·Wᵀ and H·Rᵀ for every step and direction */
static double cost_rnn(const Node *n) {
  const Value *x = n->in[0], *w = n->in[1], *r = n->in[2];
  if (x->rank != 3 || w->rank != 3 || r->rank != 3 || ir_value_numel(x) < 0 || ir_value_numel(w) < 0) return 0;
  return (double)x->dims[0] * (double)x->dims[1] * (double)ir_value_numel(w) / (double)w->dims[2] *
         (double)(w->dims[2] + r->dims[2]);
}

/* FusedAttention: Q·Kᵀ (S·L·D per head) and P·V (S·L·Dv per head) */
static double cost_attention(const Node *n) {
  const Value *q = n->in[0], *k = n->in[1], *v = n->in[2];
  if (q->rank != 3 || k->rank != 3 || v->rank != 3 || ir_value_numel(q) < 0 || ir_value_numel(v) < 0) return 0;
  return (double)q->dims[0] * (double)q->dims[1] * (double)k->dims[0] * (double)(q->dims[2] + v->dims[2]);
}

static const CostFn costs[OP_COUNT] = {
#define OP(name, fam, min_in, max_in, min_out, max_out, shape, fold, gen, opt_in, shape_in, fuse, cost) \
  [OP_##name] = cost,
#include "ops.def"
#undef OP
};

double ir_graph_macs(const Graph *g) {
  double macs = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const Node *n = g->nodes[i];
    if (costs[n->op]) macs += costs[n->op](n);
  }
  return macs;
}

double ir_node_macs(const Node *n) { return costs[n->op] ? costs[n->op](n) : 0; }
