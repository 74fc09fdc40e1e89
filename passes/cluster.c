/* cluster.c — the `cluster` step: clustered weights, as `onnxc compress --cluster K` (lib/cluster.c)
 * or any other tool writes them, become constants that remember their codebook and indices.
 *
 * A clustered weight is the standard ONNX form
 *     Gather(codebook, indices, axis 0)    codebook: a constant float vector of at most 256 values
 *                                          indices: a constant integer tensor, or Cast(constant
 *                                          integer tensor) to int32/int64 (Gather takes no uint8)
 * Shape inference would fold it into a plain float tensor; this step runs before it (like qdq) and
 * does that folding itself, keeping the codebook and one byte per element on the new constant
 * (Value.cluster, IrCluster in ir.h).  Generators that can use the compressed form read it
 * (gen_cluster.h: LSTM/GRU/RNN, MatMul/Gemm and Conv weights kept as 4- or 8-bit indices);
 * every other consumer sees an ordinary float constant, as after folding.  An index out of range
 * leaves the node as written (shape inference then reports it). */
#include <string.h>

#include "passes.h"

static bool is_const(const Value *v) { return v && v->kind == VK_CONST && v->data; }
static bool is_int(DType t) {
  return t == DT_UINT8 || t == DT_INT8 || t == DT_UINT16 || t == DT_INT16 || t == DT_INT32 || t == DT_INT64 ||
         t == DT_UINT32 || t == DT_UINT64;
}

/* the constant integer indices of a Gather: in[1] itself, or what a Cast to int32/int64 reads */
static const Value *indices_of(const Node *ga, Node **cast) {
  const Value *v = ga->in[1];
  *cast = NULL;
  if (is_const(v) && is_int(v->dtype)) return v;
  Node *c = v ? v->producer : NULL;
  if (!c || c->dead || c->op != OP_Cast || v->is_output) return NULL;
  int64_t to = ir_attr_int(c, "to", 0);
  if ((to != DT_INT32 && to != DT_INT64) || !is_const(c->in[0]) || !is_int(c->in[0]->dtype)) return NULL;
  *cast = c;
  return c->in[0];
}

/* Gather(codebook, indices) as a constant with its cluster form, or NULL when it is not one */
static Value *fold(Graph *g, Node *ga) {
  const Value *cb = ga->in[0];
  Node *cast;
  const Value *ix = indices_of(ga, &cast);
  if (!ix || !is_const(cb) || cb->dtype != DT_FLOAT || cb->rank != 1 || cb->dims[0] < 1 || cb->dims[0] > 256 ||
      ir_attr_int(ga, "axis", 0) != 0 || ix->rank < 0)
    return NULL;
  int64_t k = cb->dims[0], n = ir_value_numel(ix);
  for (int64_t i = 0; i < n; i++) {
    int64_t j = ir_const_i64(ix, i);
    if (j < -k || j >= k) return NULL;
  }
  IrCluster *cl = arena_alloc(g->arena, sizeof *cl);
  uint8_t *idx = arena_alloc(g->arena, (size_t)n + 1);
  float *code = arena_alloc(g->arena, sizeof(float) * (size_t)k);
  memcpy(code, cb->data, sizeof(float) * (size_t)k);
  Value *w = ir_const_new_filled(g, ga->out[0]->name, DT_FLOAT, ix->rank, ix->dims);
  float *wd = w->data;
  for (int64_t i = 0; i < n; i++) {
    int64_t j = ir_const_i64(ix, i);
    idx[i] = (uint8_t)(j < 0 ? j + k : j);
    wd[i] = code[idx[i]];
  }
  *cl = (IrCluster){.k = (int)k, .code = code, .idx = idx};
  w->cluster = cl;
  return w;
}

int pass_cluster(Graph *g) {
  bool any = false;
  ir_graph_count_users(g);
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead || n->op != OP_Gather || !n->out[0] || n->out[0]->is_output) continue;
    Value *w = fold(g, n);
    if (!w) continue;
    Node *cast = n->in[1]->producer;
    ir_value_replace_uses(g, n->out[0], w);
    ir_node_remove(g, n);
    if (cast && !cast->dead && n->in[1]->nusers == 1) ir_node_remove(g, cast);
    any = true;
  }
  if (any) ir_graph_compact(g);
  return 0;
}
