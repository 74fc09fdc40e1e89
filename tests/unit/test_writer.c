/* test_writer.c — the ONNX writer (frontend/write.c) on graphs built in memory: what it writes
 * comes back from fe_load_buffer (shapes, symbolic dims, attributes of every type, subgraphs with
 * captured values, constants), nodes are written in topological order, unused constants are left
 * out, and the refusals give one-line messages. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fe.h"
#include "onnx.pb-c.h"
#include "testutil.h"

static Graph *reload(const Graph *g) {
  void *buf;
  size_t len;
  char err[512];
  cr_assert_eq(fe_write_buffer(g, &buf, &len, err, sizeof err), 0, "%s", err);
  Graph *r = fe_load_buffer(buf, len, NULL, NULL, err, sizeof err);
  cr_assert(r, "%s", err);
  free(buf);
  return r;
}

static const Value *by_name(const Graph *g, const char *name) {
  for (int i = 0; i < g->nvalues; i++)
    if (!strcmp(g->values[i]->name, name)) return g->values[i];
  return NULL;
}

static const Node *node_of(const Graph *g, Op op) {
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i]->op == op) return g->nodes[i];
  return NULL;
}

/* x[batch, 4] @ w[4, 3] + b -> Relu; w used, "unused" not */
static Graph *small(void) {
  Graph *g = ir_graph_new();
  g->opset = 17;
  Value *x = tu_input(g, "x", DT_FLOAT, 2, (int64_t[]){-1, 4});
  x->sym[0] = "batch";
  float wv[12], bv[3] = {1, -2, 3};
  for (int i = 0; i < 12; i++) wv[i] = (float)i * 0.25f - 1;
  Value *w = tu_const_f32(g, "w", 2, (int64_t[]){4, 3}, wv);
  Value *b = tu_const_f32(g, "b", 1, (int64_t[]){3}, bv);
  tu_const_f32(g, "unused", 1, (int64_t[]){3}, bv);
  Value *mm = tu_node(g, OP_MatMul, 2, (Value *[]){x, w});
  Value *add = tu_node(g, OP_Add, 2, (Value *[]){mm, b});
  Value *y = tu_node(g, OP_Relu, 1, (Value *[]){add});
  y->name = "y";
  tu_output(g, y);
  return g;
}

Test(writer, shapes_symbolic_dims_and_constants_come_back) {
  Graph *g = small();
  Graph *r = reload(g);
  cr_assert_eq(r->opset, 17);
  cr_assert_eq(r->ninputs, 1);
  const Value *x = r->inputs[0];
  cr_assert_str_eq(x->name, "x");
  cr_assert_eq(x->dtype, DT_FLOAT);
  cr_assert_eq(x->rank, 2);
  cr_assert_eq(x->dims[0], -1);
  cr_assert_str_eq(x->sym[0], "batch");
  cr_assert_eq(x->dims[1], 4);
  const Value *w = by_name(r, "w");
  cr_assert(w && w->kind == VK_CONST && w->rank == 2 && w->dims[0] == 4 && w->dims[1] == 3);
  cr_assert_eq(memcmp(w->data, by_name(g, "w")->data, 12 * sizeof(float)), 0);
  cr_assert_null(by_name(r, "unused"), "an unused constant is not written");
  cr_assert_eq(r->noutputs, 1);
  cr_assert_str_eq(r->outputs[0]->name, "y");
  cr_assert_eq(r->nnodes, 3);
  ir_graph_free(r);
  ir_graph_free(g);
}

Test(writer, nodes_are_written_in_topological_order) {
  Graph *g = small();
  /* reverse the node list: consumers first */
  for (int i = 0, j = g->nnodes - 1; i < j; i++, j--) {
    Node *t = g->nodes[i];
    g->nodes[i] = g->nodes[j];
    g->nodes[j] = t;
  }
  void *buf;
  size_t len;
  char err[512];
  cr_assert_eq(fe_write_buffer(g, &buf, &len, err, sizeof err), 0, "%s", err);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
  cr_assert(m);
  cr_assert_eq(m->graph->n_node, 3);
  cr_assert_str_eq(m->graph->node[0]->op_type, "MatMul");
  cr_assert_str_eq(m->graph->node[1]->op_type, "Add");
  cr_assert_str_eq(m->graph->node[2]->op_type, "Relu");
  cr_assert_eq(m->ir_version, 8, "opset 17 is IR version 8");
  cr_assert_eq(m->n_opset_import, 1);
  cr_assert_eq(m->opset_import[0]->version, 17);
  onnx__model_proto__free_unpacked(m, NULL);
  free(buf);
  ir_graph_free(g);
}

Test(writer, every_attribute_type_comes_back) {
  Graph *g = ir_graph_new();
  g->opset = 17;
  Value *x = tu_input(g, "x", DT_FLOAT, 1, (int64_t[]){4});
  Node *n = tu_node_n(g, OP_LeakyRelu, 1, (Value *[]){x}, 1);
  n->name = "lr";
  tu_attr_float(g, n, "alpha", 0.125f);
  tu_attr_int(g, n, "i", -7);
  tu_attr_str(g, n, "s", "hello");
  Attr *a = tu_attr(g, n, "fs", AT_FLOATS);
  a->n = 2;
  a->floats = arena_dup(g->arena, (float[]){1.5f, -2}, 8);
  tu_attr_ints(g, n, "is", 3, (int64_t[]){1, 2, 3});
  a = tu_attr(g, n, "ss", AT_STRINGS);
  a->n = 2;
  a->strings = arena_alloc(g->arena, 2 * sizeof(char *));
  a->strings[0] = "a";
  a->strings[1] = "bc";
  a = tu_attr(g, n, "t", AT_TENSOR);
  a->t = tu_const_i64(g, 1, (int64_t[]){2}, (int64_t[]){5, 6});
  a = tu_attr(g, n, "ts", AT_TENSORS);
  a->n = 1;
  a->tensors = arena_alloc(g->arena, sizeof(Value *));
  a->tensors[0] = tu_const_f32(g, "tt", 0, NULL, (float[]){3});
  tu_output(g, n->out[0]);
  Graph *r = reload(g);
  const Node *m = node_of(r, OP_LeakyRelu);
  cr_assert(m);
  cr_assert_str_eq(m->name, "lr");
  cr_assert_float_eq(ir_attr_float(m, "alpha", 0), 0.125f, 0);
  cr_assert_eq(ir_attr_int(m, "i", 0), -7);
  cr_assert_str_eq(ir_attr_str(m, "s", ""), "hello");
  const Attr *fs = ir_attr(m, "fs");
  cr_assert(fs && fs->type == AT_FLOATS && fs->n == 2 && fs->floats[0] == 1.5f && fs->floats[1] == -2);
  const int64_t *is;
  cr_assert_eq(ir_attr_ints(m, "is", &is), 3);
  cr_assert_eq(is[2], 3);
  const Attr *ss = ir_attr(m, "ss");
  cr_assert(ss && ss->type == AT_STRINGS && ss->n == 2 && !strcmp(ss->strings[1], "bc"));
  const Attr *t = ir_attr(m, "t");
  cr_assert(t && t->type == AT_TENSOR && t->t->dtype == DT_INT64 && t->t->dims[0] == 2);
  cr_assert_eq(((int64_t *)t->t->data)[1], 6);
  const Attr *ts = ir_attr(m, "ts");
  cr_assert(ts && ts->type == AT_TENSORS && ts->n == 1 && ts->tensors[0]->rank == 0);
  cr_assert_eq(*(float *)ts->tensors[0]->data, 3);
  ir_graph_free(r);
  ir_graph_free(g);
}

/* If(cond) then: x + c (c captured from the main graph) else: Neg(x) */
Test(writer, subgraphs_and_captured_values_come_back) {
  Graph *g = ir_graph_new();
  g->opset = 17;
  Value *cond = tu_input(g, "cond", DT_BOOL, 0, NULL);
  Value *x = tu_input(g, "x", DT_FLOAT, 1, (int64_t[]){2});
  Value *c = tu_const_f32(g, "c", 1, (int64_t[]){2}, (float[]){1, 2});
  Node *n = tu_node_n(g, OP_If, 1, (Value *[]){cond}, 1);
  n->name = "if";
  n->out[0]->name = "y";
  Graph *th = ir_graph_new_sub(g), *el = ir_graph_new_sub(g);
  th->name = "then";
  el->name = "else";
  Value *xo = ir_value_new(th, "x"), *co = ir_value_new(th, "c");
  xo->kind = co->kind = VK_OUTER;
  xo->outer = x;
  co->outer = c;
  Value *s = tu_node(th, OP_Add, 2, (Value *[]){xo, co});
  s->name = "ts";
  tu_output(th, s);
  Value *xe = ir_value_new(el, "x");
  xe->kind = VK_OUTER;
  xe->outer = x;
  Value *ng = tu_node(el, OP_Neg, 1, (Value *[]){xe});
  ng->name = "es";
  tu_output(el, ng);
  tu_attr(g, n, "then_branch", AT_GRAPH)->g = th;
  tu_attr(g, n, "else_branch", AT_GRAPH)->g = el;
  tu_output(g, n->out[0]);
  Graph *r = reload(g);
  const Node *m = node_of(r, OP_If);
  cr_assert(m);
  const Attr *ta = ir_attr(m, "then_branch");
  cr_assert(ta && ta->type == AT_GRAPH && ta->g);
  cr_assert_str_eq(ta->g->name, "then");
  const Node *add = node_of(ta->g, OP_Add);
  cr_assert(add && add->in[1]->kind == VK_OUTER && add->in[1]->outer->kind == VK_CONST);
  cr_assert_str_eq(add->in[1]->outer->name, "c");
  cr_assert(by_name(r, "c"), "a constant only a subgraph reads is still written");
  ir_graph_free(r);
  ir_graph_free(g);
}

Test(writer, other_domains_get_an_opset_import) {
  Graph *g = small();
  g->nodes[2]->domain = "com.example";
  void *buf;
  size_t len;
  char err[512];
  cr_assert_eq(fe_write_buffer(g, &buf, &len, err, sizeof err), 0, "%s", err);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
  cr_assert(m && m->n_opset_import == 2);
  cr_assert_str_eq(m->opset_import[1]->domain, "com.example");
  cr_assert_eq(m->opset_import[1]->version, 1);
  cr_assert_str_eq(m->graph->node[2]->domain, "com.example");
  onnx__model_proto__free_unpacked(m, NULL);
  free(buf);
  ir_graph_free(g);
}

Test(writer, file_matches_buffer_and_replaces_the_old_file) {
  Graph *g = small();
  char path[] = "/tmp/onnxc_writer_XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, "old", 3), 3);
  close(fd);
  char err[512];
  cr_assert_eq(fe_write(g, path, err, sizeof err), 0, "%s", err);
  void *buf;
  size_t len;
  cr_assert_eq(fe_write_buffer(g, &buf, &len, err, sizeof err), 0, "%s", err);
  FILE *f = fopen(path, "rb");
  cr_assert(f);
  char *file = malloc(len + 1);
  cr_assert_eq(fread(file, 1, len + 1, f), len);
  fclose(f);
  cr_assert_eq(memcmp(file, buf, len), 0);
  Graph *r = fe_load(path, NULL, err, sizeof err);
  cr_assert(r, "%s", err);
  ir_graph_free(r);
  free(file);
  free(buf);
  unlink(path);
  ir_graph_free(g);
}

Test(writer, refusals_are_one_line_messages) {
  Graph *g = small();
  char err[512];
  /* a folder that does not exist */
  cr_assert_eq(fe_write(g, "/nonexistent_onnxc_dir/m.onnx", err, sizeof err), -1);
  cr_assert(strstr(err, "/nonexistent_onnxc_dir/m.onnx") && !strchr(err, '\n'), "%s", err);
  /* a cycle */
  Node *add = g->nodes[1];
  Value *keep = add->in[0];
  add->in[0] = g->nodes[2]->out[0];
  void *buf = NULL;
  size_t len;
  cr_assert_eq(fe_write_buffer(g, &buf, &len, err, sizeof err), -1);
  cr_assert(strstr(err, "cycle"), "%s", err);
  cr_assert_null(buf);
  add->in[0] = keep;
  /* a name defined twice, a value no live node produces */
  const char *nm = g->nodes[0]->out[0]->name;
  g->nodes[0]->out[0]->name = "y";
  cr_assert_eq(fe_write_buffer(g, &buf, &len, err, sizeof err), -1);
  cr_assert(strstr(err, "'y' is defined twice"), "%s", err);
  g->nodes[0]->out[0]->name = nm;
  g->nodes[0]->dead = true;
  cr_assert_eq(fe_write_buffer(g, &buf, &len, err, sizeof err), -1);
  cr_assert(strstr(err, "no live node produces"), "%s", err);
  g->nodes[0]->dead = false;
  /* a fused epilogue */
  Epilogue epi = {0};
  g->nodes[0]->epi = &epi;
  cr_assert_eq(fe_write_buffer(g, &buf, &len, err, sizeof err), -1);
  cr_assert(strstr(err, "fused"), "%s", err);
  g->nodes[0]->epi = NULL;
  /* a subgraph on its own, and no opset */
  Graph *sub = ir_graph_new_sub(g);
  cr_assert_eq(fe_write_buffer(sub, &buf, &len, err, sizeof err), -1);
  cr_assert(strstr(err, "subgraph"), "%s", err);
  g->opset = 0;
  cr_assert_eq(fe_write_buffer(g, &buf, &len, err, sizeof err), -1);
  cr_assert(strstr(err, "opset"), "%s", err);
  ir_graph_free(g);
}
