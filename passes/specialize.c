/* specialize.c — binds a graph's inputs to the host tensors a run is given: checks dtype, rank and
 * fixed dims, fixes the symbolic dims from the tensors, and turns small inputs whose values decide
 * shapes (Reshape's shape, Slice's starts, a Loop's trip count, an If's condition, ...) into
 * constants for shape inference, while they stay runtime inputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

/* Does v's value reach a shape operand (ir_is_shape_operand), directly or through other nodes, such
 * as a Loop trip count computed from inputs or an If condition Equal(sr, 16000)?  Shape and Size
 * read only shapes, so the search stops there. */
static bool decides_shapes(const Graph *g, const Value *v) {
  bool *seen = ir_xcalloc((size_t)g->nvalues + 1, 1);
  const Value **todo = ir_xcalloc((size_t)g->nvalues + 1, sizeof *todo);
  int head = 0, tail = 0;
  bool hit = false;
  todo[tail++] = v;
  seen[v->id] = true;
  while (head < tail && !hit)
    for (int k = 0, x = head++; k < g->nnodes && !hit; k++) {
      const Node *n = g->nodes[k];
      for (int j = 0; j < n->nin && !hit; j++) {
        if (n->in[j] != todo[x]) continue;
        hit = ir_is_shape_operand(n, j);
        for (int o = 0; o < n->nout && n->op != OP_Shape && n->op != OP_Size; o++)
          if (n->out[o] && n->out[o]->id < g->nvalues && !seen[n->out[o]->id])
            seen[n->out[o]->id] = true, todo[tail++] = n->out[o];
      }
    }
  free(seen);
  free(todo);
  return hit;
}

/* an input no node reads data or shape from (unused, or only CastLike's `like`): ONNX's test data
 * for CastLike gives `like` a different shape than the model declares */
static bool only_dtype_used(const Graph *g, const Value *v) {
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == v) return false;
  for (int k = 0; k < g->nnodes; k++) {
    const Node *n = g->nodes[k];
    for (int a = 0; a < n->nattr; a++) /* a subgraph may capture v */
      if (n->attrs[a].type == AT_GRAPH || n->attrs[a].type == AT_GRAPHS) return false;
    for (int j = 0; j < n->nin; j++)
      if (n->in[j] == v && !(n->op == OP_CastLike && j == 1)) return false;
  }
  return true;
}

int pass_specialize(Graph *g, Tensor *ts, char *err, size_t errlen) {
  for (int i = 0; i < g->ninputs; i++) {
    Value *v = g->inputs[i];
    Tensor *t = &ts[i];
    if (!t->data) {
      snprintf(err, errlen, "no data for input '%s' (give it positionally or with -i %s=FILE)", v->name, v->name);
      return -1;
    }
    /* ONNX's numpy helpers store bfloat16 test data as uint16 of the same bits */
    if (t->dtype == DT_UINT16 && v->dtype == DT_BFLOAT16) t->dtype = DT_BFLOAT16;
    if (t->dtype != v->dtype) {
      /* numpy's default dtype is float64: say how to write what the model takes */
      char hint[64] = "";
      if (dtype_is_float(t->dtype) && dtype_is_float(v->dtype) && v->dtype != DT_BFLOAT16)
        snprintf(hint, sizeof hint, " (save it with numpy as x.astype(numpy.%s))", dtype_name(v->dtype));
      snprintf(err, errlen, "input '%s': file has dtype %s, the model expects %s%s", v->name, dtype_name(t->dtype),
               dtype_name(v->dtype), hint);
      return -1;
    }
    if (only_dtype_used(g, v) && ir_value_shape_known(v)) continue; /* its shape does not matter */
    if (v->rank >= 0 && v->rank != t->rank) {
      char s[128];
      ir_shape_str(v, s, sizeof s);
      snprintf(err, errlen, "input '%s': file has rank %d, the model expects %s", v->name, t->rank, s);
      return -1;
    }
    for (int d = 0; d < t->rank; d++)
      if (v->rank >= 0 && v->dims[d] >= 0 && v->dims[d] != t->dims[d]) {
        char s[128];
        ir_shape_str(v, s, sizeof s);
        snprintf(err, errlen, "input '%s': dim %d is %lld in the file, the model expects %s", v->name, d,
                 (long long)t->dims[d], s);
        return -1;
      }
    ir_value_set_shape(v, t->rank, t->dims);
    /* specialize on the values of small inputs that decide shapes (Reshape's shape, Slice's
     * starts, ...): the input stays a runtime input, but shape inference sees its data */
    if (tensor_numel(t) <= 4096 && decides_shapes(g, v)) {
      v->kind = VK_CONST;
      v->data = arena_dup(g->arena, t->data, t->bytes);
    }
  }
  return 0;
}

