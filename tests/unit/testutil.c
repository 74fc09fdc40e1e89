/* testutil.c — helpers shared by the Criterion unit tests. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "be.h"

Value *tu_input(Graph *g, const char *name, DType t, int rank, const int64_t *dims) {
  Value *v = ir_value_new(g, name);
  v->kind = VK_INPUT;
  v->dtype = t;
  ir_value_set_shape(v, rank, dims);
  Value **ins = arena_alloc(g->arena, sizeof(Value *) * (size_t)(g->ninputs + 1));
  if (g->ninputs) memcpy(ins, g->inputs, sizeof(Value *) * (size_t)g->ninputs);
  ins[g->ninputs++] = v;
  g->inputs = ins;
  return v;
}

Value *tu_const_f32(Graph *g, const char *name, int rank, const int64_t *dims, const float *vals) {
  Value *v = ir_const_new(g, name, DT_FLOAT, rank, dims);
  memcpy(v->data, vals, sizeof(float) * (size_t)ir_value_numel(v));
  return v;
}

Value *tu_node(Graph *g, Op op, int nin, Value **ins) {
  Node *n = ir_node_new(g, op, NULL, nin, 1);
  for (int i = 0; i < nin; i++) n->in[i] = ins[i];
  Value *o = ir_value_new(g, NULL);
  o->producer = n;
  n->out[0] = o;
  return o;
}

void tu_output(Graph *g, Value *v) {
  Value **outs = arena_alloc(g->arena, sizeof(Value *) * (size_t)(g->noutputs + 1));
  if (g->noutputs) memcpy(outs, g->outputs, sizeof(Value *) * (size_t)g->noutputs);
  outs[g->noutputs++] = v;
  g->outputs = outs;
  v->is_output = true;
}

Node *tu_node_n(Graph *g, Op op, int nin, Value **ins, int nout) {
  Node *n = ir_node_new(g, op, NULL, nin, nout);
  for (int i = 0; i < nin; i++) n->in[i] = ins[i];
  for (int i = 0; i < nout; i++) {
    n->out[i] = ir_value_new(g, NULL);
    n->out[i]->producer = n;
  }
  return n;
}

Value *tu_const(Graph *g, DType t, int rank, const int64_t *dims, const double *vals) {
  Value *v = ir_const_new(g, NULL, t, rank, dims);
  for (int64_t i = 0, m = ir_value_numel(v); i < m; i++) ir_store_f64(t, v->data, i, vals[i]);
  return v;
}

Value *tu_const_i64(Graph *g, int rank, const int64_t *dims, const int64_t *vals) {
  Value *v = ir_const_new(g, NULL, DT_INT64, rank, dims);
  int64_t m = ir_value_numel(v);
  if (m > 0) memcpy(v->data, vals, sizeof(int64_t) * (size_t)m);
  return v;
}

Attr *tu_attr(Graph *g, Node *n, const char *name, AttrType t) {
  Attr *a = arena_alloc(g->arena, sizeof(Attr) * (size_t)(n->nattr + 1));
  if (n->nattr) memcpy(a, n->attrs, sizeof(Attr) * (size_t)n->nattr);
  n->attrs = a;
  a += n->nattr++;
  a->name = arena_strdup(g->arena, name);
  a->type = t;
  return a;
}

void tu_attr_int(Graph *g, Node *n, const char *name, int64_t v) { tu_attr(g, n, name, AT_INT)->i = v; }
void tu_attr_float(Graph *g, Node *n, const char *name, float v) { tu_attr(g, n, name, AT_FLOAT)->f = v; }
void tu_attr_str(Graph *g, Node *n, const char *name, const char *s) {
  tu_attr(g, n, name, AT_STRING)->s = arena_strdup(g->arena, s);
}
void tu_attr_ints(Graph *g, Node *n, const char *name, int cnt, const int64_t *v) {
  Attr *a = tu_attr(g, n, name, AT_INTS);
  a->n = cnt;
  a->ints = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
  if (cnt) memcpy(a->ints, v, sizeof(int64_t) * (size_t)cnt);
}

int tu_emit_count(Graph *g, int opt_level, const char *kind, int n, const char *const *needles, char *err, size_t errlen) {
  char path[] = "/tmp/onnxc_emit_XXXXXX", line[4096];
  int fd = mkstemp(path);
  if (fd < 0) {
    snprintf(err, errlen, "mkstemp failed");
    return -1;
  }
  close(fd);
  BeOptions o = {.opt_level = opt_level};
  int count = -1;
  FILE *f = NULL;
  if (be_emit(g, &o, kind, path, err, errlen) == 0 && (f = fopen(path, "r"))) {
    count = 0;
    while (fgets(line, sizeof line, f)) {
      bool hit = false;
      for (int i = 0; i < n && !hit; i++) hit = strstr(line, needles[i]) != NULL;
      count += hit;
    }
    fclose(f);
  }
  unlink(path);
  return count;
}
