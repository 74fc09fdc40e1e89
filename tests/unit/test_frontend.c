/* test_frontend.c — the ONNX loader: models built in memory with protobuf-c, valid and hostile. */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe.h"
#include "onnx.pb-c.h"
#include "testutil.h"

/* ---- building models: everything lives in one arena, freed by the OS with the test process ---- */
static Arena A;
static void *al(size_t n) { return arena_alloc(&A, n); }
static char *sd(const char *s) { return arena_strdup(&A, s); }

#define PUSH(arr, n, x)                                   \
  do {                                                    \
    void *old_ = (arr);                                   \
    (arr) = al(sizeof(*(arr)) * ((n) + 1));               \
    if (n) memcpy((arr), old_, sizeof(*(arr)) * (n));     \
    (arr)[(n)++] = (x);                                   \
  } while (0)

static Onnx__GraphProto *graph(const char *name) {
  Onnx__GraphProto *g = al(sizeof *g);
  onnx__graph_proto__init(g);
  g->name = sd(name);
  return g;
}

static void opset(Onnx__ModelProto *m, const char *domain, int64_t v) {
  Onnx__OperatorSetIdProto *o = al(sizeof *o);
  onnx__operator_set_id_proto__init(o);
  o->domain = sd(domain);
  o->has_version = 1;
  o->version = v;
  PUSH(m->opset_import, m->n_opset_import, o);
}

static Onnx__ModelProto *model(void) {
  Onnx__ModelProto *m = al(sizeof *m);
  onnx__model_proto__init(m);
  m->has_ir_version = 1;
  m->ir_version = 8;
  opset(m, "", 13);
  m->graph = graph("g");
  return m;
}

/* a tensor value_info; rank -1: no shape; syms[i] non-NULL: dim_param */
static Onnx__ValueInfoProto *vinfo(const char *name, int dt, int rank, const int64_t *dims, const char **syms) {
  Onnx__ValueInfoProto *v = al(sizeof *v);
  onnx__value_info_proto__init(v);
  v->name = sd(name);
  if (dt < 0) return v;
  Onnx__TypeProto *t = al(sizeof *t);
  onnx__type_proto__init(t);
  Onnx__TypeProto__Tensor *tt = al(sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  t->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = dt;
  if (rank >= 0) {
    Onnx__TensorShapeProto *sh = al(sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < rank; i++) {
      Onnx__TensorShapeProto__Dimension *d = al(sizeof *d);
      onnx__tensor_shape_proto__dimension__init(d);
      if (syms && syms[i]) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = sd(syms[i]);
      } else {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
      }
      PUSH(sh->dim, sh->n_dim, d);
    }
    tt->shape = sh;
  }
  v->type = t;
  return v;
}

static void input(Onnx__GraphProto *g, Onnx__ValueInfoProto *v) { PUSH(g->input, g->n_input, v); }
static void output(Onnx__GraphProto *g, const char *name) {
  PUSH(g->output, g->n_output, vinfo(name, -1, -1, NULL, NULL));
}

static Onnx__TensorProto *tensor(const char *name, int dt, int rank, const int64_t *dims) {
  Onnx__TensorProto *t = al(sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = sd(name);
  t->has_data_type = 1;
  t->data_type = dt;
  t->n_dims = (size_t)rank;
  t->dims = al(sizeof(int64_t) * 8);
  memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
  return t;
}

static Onnx__TensorProto *tensor_raw(const char *name, int dt, int rank, const int64_t *dims, const void *data,
                                     size_t bytes) {
  Onnx__TensorProto *t = tensor(name, dt, rank, dims);
  t->has_raw_data = 1;
  t->raw_data.len = bytes;
  t->raw_data.data = al(bytes ? bytes : 1);
  memcpy(t->raw_data.data, data, bytes);
  return t;
}

static void init(Onnx__GraphProto *g, Onnx__TensorProto *t) { PUSH(g->initializer, g->n_initializer, t); }

/* "a,,b" → {"a", "", "b"} */
static void split(const char *list, char ***out, size_t *n) {
  *n = 0;
  if (!list) return;
  char *s = sd(list), *p = s;
  for (;;) {
    char *c = strchr(p, ',');
    if (c) *c = 0;
    PUSH(*out, *n, p);
    if (!c) break;
    p = c + 1;
  }
}

static Onnx__NodeProto *node(Onnx__GraphProto *g, const char *op, const char *name, const char *ins,
                             const char *outs) {
  Onnx__NodeProto *n = al(sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = sd(op);
  n->name = sd(name);
  split(ins, &n->input, &n->n_input);
  split(outs, &n->output, &n->n_output);
  PUSH(g->node, g->n_node, n);
  return n;
}

static Onnx__AttributeProto *attr(Onnx__NodeProto *n, const char *name, int type) {
  Onnx__AttributeProto *a = al(sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = sd(name);
  a->has_type = 1;
  a->type = type;
  PUSH(n->attribute, n->n_attribute, a);
  return a;
}

static uint8_t *pack(const Onnx__ModelProto *m, size_t *len) {
  *len = onnx__model_proto__get_packed_size(m);
  uint8_t *buf = al(*len + 1);
  onnx__model_proto__pack(m, buf);
  return buf;
}

static char err[2048];

static Graph *load_opt(const Onnx__ModelProto *m, const FeOptions *opt) {
  size_t len;
  uint8_t *buf = pack(m, &len);
  return fe_load_buffer(buf, len, NULL, opt, err, sizeof err);
}
static Graph *load(const Onnx__ModelProto *m) { return load_opt(m, NULL); }

#define assert_fails(g, sub)                                                             \
  do {                                                                                   \
    Graph *g_ = (g);                                                                     \
    cr_assert_null(g_, "expected failure with '%s'", sub);                               \
    cr_assert(strstr(err, sub), "error '%s' does not contain '%s'", err, sub);           \
    cr_assert(!strchr(err, '\n'), "error is not one line");                              \
  } while (0)

static Value *find(Graph *g, const char *name) {
  for (int i = 0; i < g->nvalues; i++)
    if (!strcmp(g->values[i]->name, name)) return g->values[i];
  return NULL;
}

/* y = x + w; z = y + b: x[N,3] input, w[3] an initializer also listed as input, b[3] initializer only */
static Onnx__ModelProto *add_model(void) {
  Onnx__ModelProto *m = model();
  Onnx__GraphProto *g = m->graph;
  int64_t xd[2] = {0, 3}, wd[1] = {3};
  const char *xs[2] = {"N", NULL};
  float w[3] = {1, 2, 3}, b[3] = {4, 5, 6};
  input(g, vinfo("x", DT_FLOAT, 2, xd, xs));
  input(g, vinfo("w", DT_FLOAT, 1, wd, NULL));
  init(g, tensor_raw("w", DT_FLOAT, 1, wd, w, sizeof w));
  init(g, tensor_raw("b", DT_FLOAT, 1, wd, b, sizeof b));
  node(g, "Add", "add1", "x,w", "y");
  node(g, "Add", "add2", "y,b", "z");
  output(g, "z");
  return m;
}

/* ---- valid models ---- */
Test(frontend, add_model_loads) {
  Graph *g = load(add_model());
  cr_assert_not_null(g, "%s", err);
  cr_assert_eq(g->opset, 13);
  cr_assert_eq(g->ninputs, 1);
  Value *x = g->inputs[0];
  cr_assert_str_eq(x->name, "x");
  cr_assert_eq(x->kind, VK_INPUT);
  cr_assert_eq(x->dtype, DT_FLOAT);
  cr_assert_eq(x->rank, 2);
  cr_assert_eq(x->dims[0], -1);
  cr_assert_str_eq(x->sym[0], "N");
  cr_assert_eq(x->dims[1], 3);
  Value *w = find(g, "w"), *b = find(g, "b");
  cr_assert_eq(w->kind, VK_CONST);
  cr_assert_eq(b->kind, VK_CONST);
  cr_assert_eq(w->rank, 1);
  cr_assert_eq(((float *)w->data)[2], 3.0f);
  cr_assert_eq(((float *)b->data)[0], 4.0f);
  cr_assert_eq(g->nnodes, 2);
  Node *n1 = g->nodes[0], *n2 = g->nodes[1];
  cr_assert_eq(n1->op, OP_Add);
  cr_assert_str_eq(n1->name, "add1");
  cr_assert_eq(n1->in[0], x);
  cr_assert_eq(n1->in[1], w);
  cr_assert_eq(n2->in[0], n1->out[0]);
  cr_assert_eq(n1->out[0]->producer, n1);
  cr_assert_eq(g->noutputs, 1);
  cr_assert_str_eq(g->outputs[0]->name, "z");
  cr_assert(g->outputs[0]->is_output);
  cr_assert_eq(g->outputs[0]->kind, VK_TEMP);
  ir_graph_free(g);
}

Test(frontend, nodes_out_of_order_and_missing_optional_inputs) {
  Onnx__ModelProto *m = model();
  int64_t d[1] = {4};
  float mx = 6;
  input(m->graph, vinfo("x", DT_FLOAT, 1, d, NULL));
  init(m->graph, tensor_raw("max", DT_FLOAT, 0, d, &mx, 4));
  node(m->graph, "Relu", "r", "c", "y"); /* uses c before its producer */
  node(m->graph, "Clip", "clip", "x,,max", "c");
  output(m->graph, "y");
  Graph *g = load(m);
  cr_assert_not_null(g, "%s", err);
  Node *clip = g->nodes[1];
  cr_assert_eq(clip->op, OP_Clip);
  cr_assert_eq(clip->nin, 3);
  cr_assert_null(clip->in[1]);
  cr_assert_eq(clip->in[2], find(g, "max"));
  cr_assert_eq(g->nodes[0]->in[0], clip->out[0]);
  ir_graph_free(g);
}

Test(frontend, constant_nodes_become_constants) {
  Onnx__ModelProto *m = model();
  int64_t d[2] = {2, 2};
  float v[4] = {1, 2, 3, 4};
  Onnx__NodeProto *c1 = node(m->graph, "Constant", "c1", NULL, "k");
  attr(c1, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR)->t = tensor_raw("", DT_FLOAT, 2, d, v, 16);
  Onnx__NodeProto *c2 = node(m->graph, "Constant", "c2", NULL, "shape");
  Onnx__AttributeProto *a = attr(c2, "value_ints", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  a->n_ints = 2;
  a->ints = al(16);
  a->ints[0] = 4, a->ints[1] = 1;
  Onnx__NodeProto *c3 = node(m->graph, "Constant", "c3", NULL, "s");
  a = attr(c3, "value_float", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  a->has_f = 1;
  a->f = 0.5f;
  node(m->graph, "Reshape", "r", "k,shape", "y");
  node(m->graph, "Mul", "m", "y,s", "z");
  output(m->graph, "z");
  Graph *g = load(m);
  cr_assert_not_null(g, "%s", err);
  cr_assert_eq(g->nnodes, 2);
  cr_assert_eq(g->ninputs, 0);
  Value *k = find(g, "k"), *sh = find(g, "shape"), *s = find(g, "s");
  cr_assert_eq(k->kind, VK_CONST);
  cr_assert_eq(k->rank, 2);
  cr_assert_eq(((float *)k->data)[3], 4.0f);
  cr_assert_eq(sh->dtype, DT_INT64);
  cr_assert_eq(sh->dims[0], 2);
  cr_assert_eq(((int64_t *)sh->data)[0], 4);
  cr_assert_eq(s->rank, 0);
  cr_assert_eq(((float *)s->data)[0], 0.5f);
  cr_assert_null(k->producer);
  cr_assert_eq(g->nodes[0]->in[0], k);
  ir_graph_free(g);
}

Test(frontend, attributes_are_converted) {
  Onnx__ModelProto *m = model();
  int64_t d[1] = {4};
  input(m->graph, vinfo("x", DT_FLOAT, 1, d, NULL));
  Onnx__NodeProto *n = node(m->graph, "Transpose", "t", "x", "y");
  Onnx__AttributeProto *a = attr(n, "perm", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  a->n_ints = 1;
  a->ints = al(8);
  a = attr(n, "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
  a->has_s = 1;
  a->s.data = (uint8_t *)sd("abc");
  a->s.len = 3;
  a = attr(n, "alpha", 0); /* no type: inferred from the field that is set */
  a->has_type = 0;
  a->has_f = 1;
  a->f = 1.5f;
  output(m->graph, "y");
  Graph *g = load(m);
  cr_assert_not_null(g, "%s", err);
  Node *t = g->nodes[0];
  const int64_t *perm;
  cr_assert_eq(ir_attr_ints(t, "perm", &perm), 1);
  cr_assert_str_eq(ir_attr_str(t, "mode", ""), "abc");
  cr_assert_eq(ir_attr_float(t, "alpha", 0), 1.5f);
  ir_graph_free(g);

  a = attr(n, "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
  assert_fails(load(m), "attribute 'mode' is given twice");
}

/* ---- --shape ---- */
static Onnx__ModelProto *sym_model(void) {
  Onnx__ModelProto *m = model();
  int64_t d[2] = {0, 3};
  const char *xs[2] = {"N", NULL}, *ys[1] = {"N"};
  input(m->graph, vinfo("x", DT_FLOAT, 2, d, xs));
  input(m->graph, vinfo("y", DT_FLOAT, 1, d, ys));
  float w[3] = {0};
  init(m->graph, tensor_raw("w", DT_FLOAT, 1, d + 1, w, sizeof w));
  node(m->graph, "Add", "a", "x,w", "z");
  node(m->graph, "Relu", "r", "y", "u");
  output(m->graph, "z");
  output(m->graph, "u");
  return m;
}

Test(frontend, shape_override_fixes_dims_and_same_named_dims) {
  FeShape s = {"x", 2, {5, 3}};
  FeOptions o = {&s, 1, 0, NULL, NULL};
  Graph *g = load_opt(sym_model(), &o);
  cr_assert_not_null(g, "%s", err);
  Value *x = g->inputs[0], *y = g->inputs[1];
  cr_assert_eq(x->dims[0], 5);
  cr_assert_eq(x->dims[1], 3);
  cr_assert_null(x->sym[0]);
  cr_assert_eq(y->dims[0], 5, "dim_param 'N' is bound by the override of x");
  cr_assert_null(y->sym[0]);
  ir_graph_free(g);
}

Test(frontend, symbolic_dims_stay_unknown_without_override) {
  Graph *g = load(sym_model());
  cr_assert_not_null(g, "%s", err);
  cr_assert_eq(g->inputs[0]->dims[0], -1);
  cr_assert_eq(g->inputs[1]->dims[0], -1);
  ir_graph_free(g);
}

Test(frontend, shape_override_errors) {
  FeShape s = {"nope", 2, {5, 3}};
  FeOptions o = {&s, 1, 0, NULL, NULL};
  assert_fails(load_opt(sym_model(), &o), "--shape 'nope': the model has no input of that name (inputs: 'x', 'y')");
  s = (FeShape){"x", 3, {5, 3, 1}};
  assert_fails(load_opt(sym_model(), &o), "rank 3 does not match the model's rank 2 (Nx3)");
  s = (FeShape){"x", 2, {5, 4}};
  assert_fails(load_opt(sym_model(), &o), "dim 1 is 4, but the model fixes it to 3");
  s = (FeShape){"w", 1, {3}};
  assert_fails(load_opt(sym_model(), &o), "that is an initializer, not a graph input");
  s = (FeShape){"x", 2, {-2, 3}};
  assert_fails(load_opt(sym_model(), &o), "dims must be >= 0");
  FeShape two[2] = {{"x", 2, {5, 3}}, {"y", 1, {6}}};
  o = (FeOptions){two, 2, 0, NULL, NULL};
  assert_fails(load_opt(sym_model(), &o), "dim 'N' is given as both 5 and 6");
}

/* ---- unsupported operators ---- */
Test(frontend, unsupported_ops_reported_together_sorted) {
  Onnx__ModelProto *m = model();
  opset(m, "com.microsoft", 1);
  int64_t d[1] = {2};
  Onnx__GraphProto *g = m->graph;
  input(g, vinfo("x", DT_FLOAT, 1, d, NULL));
  input(g, vinfo("c", DT_BOOL, 0, d, NULL));
  node(g, "Foo", "f1", "x", "a");
  node(g, "Bar", "b1", "a", "b");
  node(g, "Foo", "f2", "b", "c2");
  node(g, "Baz", "z1", "c2", "d")->domain = sd("com.microsoft");
  Onnx__NodeProto *iff = node(g, "If", "if1", "c", "e");
  Onnx__GraphProto *sub = graph("then");
  node(sub, "Qux", "q", "d", "t");
  output(sub, "t");
  attr(iff, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = sub;
  output(g, "e");
  Graph *r = load(m);
  cr_assert_null(r);
  cr_assert_str_eq(err, "<buffer>: unsupported operators (4): ai.onnx::Bar (opset 13), ai.onnx::Foo (opset 13), "
                        "ai.onnx::Qux (opset 13), com.microsoft::Baz (opset 1)");
}

/* ---- malformed files ---- */
Test(frontend, empty_buffer_and_file) {
  assert_fails(fe_load_buffer("", 0, NULL, NULL, err, sizeof err), "<buffer>: empty file");
  char path[] = "/tmp/onnxc_fe_XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  close(fd);
  assert_fails(fe_load(path, NULL, err, sizeof err), "empty file");
  unlink(path);
  assert_fails(fe_load("/tmp", NULL, err, sizeof err), "/tmp: is a directory");
  assert_fails(fe_load("/nonexistent/m.onnx", NULL, err, sizeof err), "/nonexistent/m.onnx: cannot open");
}

Test(frontend, every_truncation_fails_cleanly) {
  size_t len;
  uint8_t *buf = pack(add_model(), &len);
  for (size_t n = 0; n < len; n++) {
    Graph *g = fe_load_buffer(buf, n, NULL, NULL, err, sizeof err);
    cr_assert_null(g, "prefix of %zu bytes loaded", n);
    cr_assert(err[0]);
  }
  assert_fails(fe_load_buffer(buf, len - 3, NULL, NULL, err, sizeof err), "truncated or malformed at byte");
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)rng;
}

Test(frontend, random_and_mutated_bytes_never_crash) {
  uint8_t junk[512];
  for (int it = 0; it < 3000; it++) {
    size_t n = 1 + next() % sizeof junk;
    for (size_t i = 0; i < n; i++) junk[i] = (uint8_t)next();
    Graph *g = fe_load_buffer(junk, n, NULL, NULL, err, sizeof err);
    cr_assert_null(g);
    cr_assert(err[0]);
  }
  size_t len;
  uint8_t *good = pack(add_model(), &len), *buf = malloc(len);
  for (int it = 0; it < 3000; it++) {
    memcpy(buf, good, len);
    for (int k = 0; k < 1 + it % 4; k++) buf[next() % len] ^= (uint8_t)(1u << (next() % 8));
    Graph *g = fe_load_buffer(buf, len, NULL, NULL, err, sizeof err);
    if (g) ir_graph_free(g); /* some flips are harmless */
    else cr_assert(err[0]);
  }
  free(buf);
}

Test(frontend, model_level_checks) {
  Onnx__ModelProto *m = add_model();
  m->ir_version = 2;
  assert_fails(load(m), "ir_version 2 is not supported");
  m->ir_version = 99;
  assert_fails(load(m), "ir_version 99 is not supported");
  m->ir_version = 8;
  m->graph = NULL;
  assert_fails(load(m), "model has no graph");
  m = add_model();
  m->n_opset_import = 0;
  assert_fails(load(m), "imports no opset");
  m = add_model();
  m->graph->n_output = 0;
  assert_fails(load(m), "has no outputs");
  m = add_model();
  FeOptions o = {NULL, 0, 64, NULL, NULL};
  assert_fails(load_opt(m, &o), "more than the limit of 64");
}

Test(frontend, undefined_and_duplicate_values) {
  Onnx__ModelProto *m = add_model();
  node(m->graph, "Relu", "relu9", "nope", "q");
  assert_fails(load(m), "node 'relu9' (Relu): input 'nope' is not defined");
  m = add_model();
  node(m->graph, "Relu", "relu9", "x", "y");
  assert_fails(load(m), "value 'y' is defined twice (again as output of node 'relu9' (Relu))");
  m = add_model();
  float w[3] = {0};
  int64_t d[1] = {3};
  init(m->graph, tensor_raw("b", DT_FLOAT, 1, d, w, sizeof w));
  assert_fails(load(m), "value 'b' is defined twice");
  m = add_model();
  output(m->graph, "zz");
  assert_fails(load(m), "graph output 'zz' is not produced by any node, input or initializer");
  m = add_model();
  node(m->graph, "Add", "add3", "x", "q");
  assert_fails(load(m), "node 'add3' (Add): has 1 inputs, expects 2");
}

Test(frontend, graph_input_type_checks) {
  Onnx__ModelProto *m = add_model();
  m->graph->input[0] = vinfo("x", -1, -1, NULL, NULL);
  assert_fails(load(m), "graph input 'x' has no tensor type");
  m = add_model();
  int64_t d[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  m->graph->input[0] = vinfo("x", DT_FLOAT, 9, d, NULL);
  assert_fails(load(m), "graph input 'x': rank 9 is more than the supported 8");
  m = add_model();
  m->graph->input[0] = vinfo("x", DT_STRING, 1, d, NULL);
  assert_fails(load(m), "graph input 'x': string tensors are not supported");
  m = add_model();
  m->graph->input[1] = vinfo("w", DT_INT64, 1, d, NULL);
  assert_fails(load(m), "graph input 'w' is declared int64 but the value is float32");
}

/* ---- tensor data ---- */
Test(frontend, initializer_negative_dim) {
  Onnx__ModelProto *m = add_model();
  m->graph->initializer[1]->dims[0] = -1;
  assert_fails(load(m), "initializer 'b': dim 0 is -1 (must be >= 0)");
}

Test(frontend, initializer_raw_data_wrong_length) {
  Onnx__ModelProto *m = add_model();
  uint8_t junk[100] = {0};
  int64_t d[2] = {4, 6};
  m->graph->initializer[1] = tensor_raw("w2", DT_FLOAT, 2, d, junk, 100);
  Graph *g = load(m);
  cr_assert_null(g);
  cr_assert_str_eq(err, "<buffer>: initializer 'w2': raw_data has 100 bytes, expected 96 (float32 4x6)");
}

Test(frontend, initializer_field_checks) {
  int64_t d[2] = {2, 3}, big[3] = {1LL << 40, 1LL << 30, 1LL << 20};
  Onnx__ModelProto *m = add_model();
  Onnx__TensorProto *t = m->graph->initializer[1];
  t->n_float_data = 3;
  t->float_data = al(12);
  assert_fails(load(m), "initializer 'b': conflicting data fields raw_data and float_data");
  m = add_model();
  t = m->graph->initializer[1] = tensor("b", DT_FLOAT, 2, d);
  t->n_float_data = 5;
  t->float_data = al(20);
  assert_fails(load(m), "float_data has 5 values, expected 6 (float32 2x3)");
  m = add_model();
  t = m->graph->initializer[1] = tensor("b", DT_STRING, 1, d);
  assert_fails(load(m), "initializer 'b': string tensors are not supported");
  m = add_model();
  t = m->graph->initializer[1] = tensor("b", DT_FLOAT, 3, big);
  assert_fails(load(m), "size of float32 1099511627776x1073741824x1048576 overflows");
  m = add_model();
  t = m->graph->initializer[1] = tensor("b", DT_FLOAT, 2, d);
  assert_fails(load(m), "initializer 'b': has no data (expected 6 values");
  m = add_model();
  t = m->graph->initializer[1] = tensor("b", DT_INT64, 2, d);
  t->n_float_data = 6;
  t->float_data = al(24);
  assert_fails(load(m), "float_data cannot hold int64 data");
  m = add_model();
  t = m->graph->initializer[1] = tensor("b", DT_UINT8, 1, d);
  t->n_int32_data = 2;
  t->int32_data = al(8);
  t->int32_data[1] = 300;
  assert_fails(load(m), "int32_data[1] = 300 is out of range for uint8");
}

Test(frontend, typed_fields_decode) {
  Onnx__ModelProto *m = model();
  int64_t d[1] = {3};
  input(m->graph, vinfo("x", DT_FLOAT16, 1, d, NULL));
  Onnx__TensorProto *t = tensor("h", DT_FLOAT16, 1, d);
  t->n_int32_data = 3;
  t->int32_data = al(12);
  t->int32_data[0] = 0x3c00; /* 1.0 */
  t->int32_data[2] = 0xc000; /* -2.0 */
  init(m->graph, t);
  node(m->graph, "Add", "a", "x,h", "y");
  output(m->graph, "y");
  Graph *g = load(m);
  cr_assert_not_null(g, "%s", err);
  Value *h = find(g, "h");
  cr_assert_eq(ir_const_f64(h, 0), 1.0);
  cr_assert_eq(ir_const_f64(h, 2), -2.0);
  ir_graph_free(g);
}

/* ---- external data ---- */
static char tmpdir[64];
static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(p);
}
static void rm_tmp(void) { nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }
static void mkdir_tmp(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/onnxc_fe_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
}

static void write_file(const char *dir, const char *name, const void *data, size_t n) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(data, 1, n, f), n);
  fclose(f);
}

static void ext_entry(Onnx__TensorProto *t, const char *k, const char *v) {
  Onnx__StringStringEntryProto *e = al(sizeof *e);
  onnx__string_string_entry_proto__init(e);
  e->key = sd(k);
  e->value = sd(v);
  PUSH(t->external_data, t->n_external_data, e);
}

/* add_model with b stored at location/offset in a file; writes model.onnx into dir */
static Graph *load_ext(const char *dir, const char *location, const char *offset) {
  Onnx__ModelProto *m = add_model();
  int64_t d[1] = {3};
  Onnx__TensorProto *t = m->graph->initializer[1] = tensor("b", DT_FLOAT, 1, d);
  t->has_data_location = 1;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  ext_entry(t, "location", location);
  if (offset) ext_entry(t, "offset", offset);
  ext_entry(t, "length", "12");
  size_t len;
  uint8_t *buf = pack(m, &len);
  write_file(dir, "model.onnx", buf, len);
  char p[256];
  snprintf(p, sizeof p, "%s/model.onnx", dir);
  return fe_load(p, NULL, err, sizeof err);
}

Test(frontend, external_data_valid, .fini = rm_tmp) {
  mkdir_tmp();
  float w[5] = {9, 9, 7, 8, 9}; /* b = {7, 8, 9} at offset 8 */
  char sub[128];
  snprintf(sub, sizeof sub, "%s/sub", tmpdir);
  cr_assert_eq(mkdir(sub, 0700), 0);
  write_file(tmpdir, "sub/w.bin", w, sizeof w);
  Graph *g = load_ext(tmpdir, "sub/w.bin", "8");
  cr_assert_not_null(g, "%s", err);
  float *b = find(g, "b")->data;
  cr_assert_eq(b[0], 7.0f);
  cr_assert_eq(b[2], 9.0f);
  ir_graph_free(g);
  g = load_ext(tmpdir, "./sub/w.bin", "8");
  cr_assert_not_null(g, "%s", err);
  ir_graph_free(g);
}

Test(frontend, external_data_refused, .fini = rm_tmp) {
  mkdir_tmp();
  float w[3] = {1, 2, 3};
  write_file(tmpdir, "w.bin", w, sizeof w);
  assert_fails(load_ext(tmpdir, "../w.bin", NULL), "external data location '../w.bin' contains '..'");
  assert_fails(load_ext(tmpdir, "sub/../../w.bin", NULL), "contains '..'");
  assert_fails(load_ext(tmpdir, "/etc/passwd", NULL), "'/etc/passwd' is an absolute path");
  assert_fails(load_ext(tmpdir, "missing.bin", NULL), "external data 'missing.bin': No such file or directory");
  assert_fails(load_ext(tmpdir, "w.bin", "100"), "offset 100 + length 12 is past the end of the file (12 bytes)");
  assert_fails(load_ext(tmpdir, "w.bin", "4"), "past the end");
  assert_fails(load_ext(tmpdir, "w.bin", "-4"), "offset '-4' is not a non-negative integer");
  assert_fails(load_ext(tmpdir, ".", NULL), "is not a regular file");
  char a[256], b[256];
  snprintf(a, sizeof a, "%s/link.bin", tmpdir);
  cr_assert_eq(symlink("w.bin", a), 0);
  assert_fails(load_ext(tmpdir, "link.bin", NULL), "external data 'link.bin': is a symbolic link");
  snprintf(a, sizeof a, "%s/d", tmpdir);
  cr_assert_eq(symlink(".", a), 0);
  assert_fails(load_ext(tmpdir, "d/w.bin", NULL), "is a symbolic link");
  snprintf(a, sizeof a, "%s/w.bin", tmpdir);
  snprintf(b, sizeof b, "%s/hard.bin", tmpdir);
  cr_assert_eq(link(a, b), 0);
  assert_fails(load_ext(tmpdir, "hard.bin", NULL), "external data 'hard.bin' has 2 hard links (refused)");
}

Test(frontend, external_data_needs_a_folder) {
  Onnx__ModelProto *m = add_model();
  int64_t d[1] = {3};
  Onnx__TensorProto *t = m->graph->initializer[1] = tensor("b", DT_FLOAT, 1, d);
  t->has_data_location = 1;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  ext_entry(t, "location", "w.bin");
  assert_fails(load(m), "needs the model's folder");
  t->has_raw_data = 1;
  assert_fails(load(m), "conflicting data fields raw_data and external data");
}

/* ---- nesting ---- */
static size_t put_varint(uint8_t *end, uint64_t v) { /* writes before end; returns bytes */
  uint8_t tmp[10];
  size_t n = 0;
  do {
    tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  memcpy(end - n, tmp, n);
  return n;
}

Test(frontend, deep_protobuf_nesting_is_refused) {
  /* Model.graph{ node{ attribute{ g{ node{ ... } } } } } 210000 levels deep */
  size_t cap = 4u << 20, pos = cap;
  uint8_t *buf = malloc(cap);
  static const int fields[3] = {6, 5, 1}; /* Attribute.g, Node.attribute, Graph.node, inside out */
  for (int i = 0; i < 3 * 70000; i++) { /* ends with Graph.node: the outermost is a Graph */
    size_t len = cap - pos;
    pos -= put_varint(buf + pos, len);
    pos -= put_varint(buf + pos, (uint64_t)fields[i % 3] << 3 | 2);
  }
  size_t len = cap - pos;
  pos -= put_varint(buf + pos, len);
  pos -= put_varint(buf + pos, 7 << 3 | 2); /* Model.graph */
  /* the wire pre-scan meets the 18th GraphProto (at protobuf depth 52) before depth 64 */
  assert_fails(fe_load_buffer(buf + pos, cap - pos, NULL, NULL, err, sizeof err), "subgraphs are nested more than 16 levels deep");
  free(buf);
}

Test(frontend, deep_type_nesting_is_refused) {
  /* Model.graph{ input{ type{ sequence_type{ elem_type{ sequence_type{ ... } } } } } }: no subgraph,
     so the protobuf depth cap is what refuses it */
  size_t cap = 1u << 20, pos = cap;
  uint8_t *buf = malloc(cap);
  static const int fields[2] = {1, 4}; /* Sequence.elem_type, Type.sequence_type, inside out */
  for (int i = 0; i < 2 * 5000; i++) { /* ends with Type.sequence_type: the outermost is a Type */
    size_t len = cap - pos;
    pos -= put_varint(buf + pos, len);
    pos -= put_varint(buf + pos, (uint64_t)fields[i % 2] << 3 | 2);
  }
  static const int outer[3] = {2, 11, 7}; /* ValueInfo.type, Graph.input, Model.graph */
  for (int i = 0; i < 3; i++) {
    size_t len = cap - pos;
    pos -= put_varint(buf + pos, len);
    pos -= put_varint(buf + pos, (uint64_t)outer[i] << 3 | 2);
  }
  assert_fails(fe_load_buffer(buf + pos, cap - pos, NULL, NULL, err, sizeof err), "nested more than 64 levels");
  free(buf);
}

/* If nodes nested `depth` levels; the innermost branch outputs the main graph's "c" */
static Onnx__ModelProto *nested_ifs(int depth) {
  Onnx__ModelProto *m = model();
  int64_t d[1] = {1};
  input(m->graph, vinfo("c", DT_BOOL, 0, d, NULL));
  Onnx__GraphProto *g = m->graph;
  for (int i = 0; i < depth; i++) {
    char out[32];
    snprintf(out, sizeof out, "o%d", i);
    Onnx__NodeProto *n = node(g, "If", out, "c", out);
    output(g, out);
    g = attr(n, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = graph("b");
  }
  output(g, "c");
  return m;
}

Test(frontend, subgraph_depth_is_capped) {
  Graph *g = load(nested_ifs(IR_MAX_DEPTH));
  cr_assert_not_null(g, "%s", err);
  /* walk down: each level's "c" is VK_OUTER pointing one level up */
  Graph *sub = g;
  Value *prev = g->inputs[0];
  for (int i = 0; i < IR_MAX_DEPTH; i++) {
    sub = ir_attr(sub->nodes[0], "then_branch")->g;
    cr_assert_eq(sub->depth, i + 1);
    Value *c = sub->nnodes ? sub->nodes[0]->in[0] : sub->outputs[0];
    cr_assert_eq(c->kind, VK_OUTER);
    cr_assert_eq(c->outer, prev);
    prev = c;
  }
  ir_graph_free(g);
  assert_fails(load(nested_ifs(IR_MAX_DEPTH + 1)), "subgraphs are nested more than 16 levels deep");
}

Test(frontend, subgraph_captures_outer_values) {
  Onnx__ModelProto *m = model();
  int64_t d[1] = {2};
  Onnx__GraphProto *g = m->graph;
  input(g, vinfo("cond", DT_BOOL, 0, d, NULL));
  input(g, vinfo("x", DT_FLOAT, 1, d, NULL));
  Onnx__NodeProto *iff = node(g, "If", "if1", "cond", "y");
  Onnx__GraphProto *then = graph("then"), *els = graph("else");
  node(then, "Add", "twice", "x,x", "t");
  output(then, "t");
  output(els, "x"); /* a branch may output an outer value directly */
  attr(iff, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = then;
  attr(iff, "else_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = els;
  output(g, "y");
  Graph *r = load(m);
  cr_assert_not_null(r, "%s", err);
  Value *x = r->inputs[1];
  Node *n = r->nodes[0];
  cr_assert_eq(n->op, OP_If);
  Graph *tg = ir_attr(n, "then_branch")->g, *eg = ir_attr(n, "else_branch")->g;
  cr_assert_eq(tg->parent, r);
  cr_assert_eq(tg->depth, 1);
  cr_assert_eq(tg->ninputs, 0);
  Node *add = tg->nodes[0];
  cr_assert_eq(add->in[0]->kind, VK_OUTER);
  cr_assert_eq(add->in[0]->outer, x);
  cr_assert_eq(add->in[0], add->in[1], "one capture per name");
  cr_assert_eq(add->in[0]->dtype, DT_FLOAT);
  cr_assert_eq(tg->outputs[0], add->out[0]);
  cr_assert_eq(eg->outputs[0]->kind, VK_OUTER);
  cr_assert_eq(eg->outputs[0]->outer, x);
  cr_assert_null(find(r, "t"), "subgraph values stay in the subgraph");
  ir_graph_free(r);

  node(then, "Relu", "r", "undefined_here", "q");
  assert_fails(load(m), "subgraph 'then_branch' of node 'if1': node 'r' (Relu): input 'undefined_here' is not defined");
}

Test(frontend, loop_body_inputs_are_subgraph_inputs) {
  Onnx__ModelProto *m = model();
  int64_t d[1] = {2};
  Onnx__GraphProto *g = m->graph;
  input(g, vinfo("x", DT_FLOAT, 1, d, NULL));
  Onnx__NodeProto *loop = node(g, "Loop", "loop", ",,x", "y");
  Onnx__GraphProto *body = graph("body");
  input(body, vinfo("i", DT_INT64, 0, d, NULL));
  input(body, vinfo("cond_in", DT_BOOL, 0, d, NULL));
  input(body, vinfo("acc", -1, -1, NULL, NULL)); /* untyped: fine in a subgraph */
  node(body, "Add", "a", "acc,x", "acc_out");
  node(body, "Identity", "id", "cond_in", "cond_out");
  output(body, "cond_out");
  output(body, "acc_out");
  attr(loop, "body", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = body;
  output(g, "y");
  Graph *r = load(m);
  cr_assert_not_null(r, "%s", err);
  Graph *b = ir_attr(r->nodes[0], "body")->g;
  cr_assert_eq(b->ninputs, 3);
  cr_assert_eq(b->inputs[2]->kind, VK_INPUT);
  cr_assert_eq(b->inputs[2]->dtype, DT_UNDEF);
  cr_assert_eq(b->nodes[0]->in[0], b->inputs[2]);
  cr_assert_eq(b->nodes[0]->in[1]->outer, r->inputs[0]);
  cr_assert_null(r->nodes[0]->in[0]);
  ir_graph_free(r);
}

/* ---- bare TensorProto files ---- */
Test(frontend, read_tensor_pb, .fini = rm_tmp) {
  mkdir_tmp();
  int64_t d[2] = {2, 2};
  int64_t v[4] = {1, -2, 3, 1LL << 40};
  Onnx__TensorProto *t = tensor("input_0", DT_INT64, 2, d);
  t->n_int64_data = 4;
  t->int64_data = v;
  size_t len = onnx__tensor_proto__get_packed_size(t);
  uint8_t *buf = al(len);
  onnx__tensor_proto__pack(t, buf);
  write_file(tmpdir, "input_0.pb", buf, len);
  char p[256];
  snprintf(p, sizeof p, "%s/input_0.pb", tmpdir);
  Tensor out;
  cr_assert_eq(fe_read_tensor_pb(p, &out, err, sizeof err), 0, "%s", err);
  cr_assert_str_eq(out.name, "input_0");
  cr_assert_eq(out.dtype, DT_INT64);
  cr_assert_eq(out.rank, 2);
  cr_assert_eq(out.bytes, 32);
  cr_assert_eq(((int64_t *)out.data)[3], 1LL << 40);
  tensor_free(&out);

  write_file(tmpdir, "bad.pb", buf, len - 2);
  snprintf(p, sizeof p, "%s/bad.pb", tmpdir);
  cr_assert_eq(fe_read_tensor_pb(p, &out, err, sizeof err), -1);
  cr_assert(strstr(err, "bad.pb: not a valid ONNX TensorProto"), "%s", err);
  cr_assert_null(out.data);
}

/* ---- large raw_data (read.c's skeleton: protobuf-c never copies them) ---- */

/* b: 4096x3 floats, far above the size whose raw_data stays in the file's buffer */
static Onnx__ModelProto *large_model(float **bdata) {
  Onnx__ModelProto *m = add_model();
  int64_t d[2] = {4096, 3};
  float *b = al(sizeof(float) * 4096 * 3);
  for (int i = 0; i < 4096 * 3; i++) b[i] = (float)i * 0.5f;
  m->graph->initializer[1] = tensor_raw("b", DT_FLOAT, 2, d, b, sizeof(float) * 4096 * 3);
  *bdata = b;
  return m;
}

Test(frontend, large_raw_data_loads_the_same) {
  float *b;
  Graph *g = load(large_model(&b));
  cr_assert_not_null(g, "%s", err);
  Value *v = find(g, "b");
  cr_assert_not_null(v);
  cr_assert_eq(memcmp(v->data, b, sizeof(float) * 4096 * 3), 0);
  cr_assert_eq(((float *)find(g, "w")->data)[2], 3.0f);
  ir_graph_free(g);
}

/* 18 MB of raw_data: above FE_COPY_SPLIT, so the copy is split in two byte ranges on two threads,
 * the split falling inside b (an odd count of floats); every byte arrives, each in its place */
Test(frontend, large_raw_data_split_copy_loads_the_same) {
  Onnx__ModelProto *m = add_model();
  int64_t n = 4500001, d[1] = {n};
  float *b = al(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) b[i] = (float)(i % 1000003) - 7.25f;
  m->graph->initializer[1] = tensor_raw("b", DT_FLOAT, 1, d, b, sizeof(float) * (size_t)n);
  Graph *g = load(m);
  cr_assert_not_null(g, "%s", err);
  Value *v = find(g, "b");
  cr_assert_not_null(v);
  cr_assert_eq(memcmp(v->data, b, sizeof(float) * (size_t)n), 0);
  cr_assert_eq(((float *)find(g, "w")->data)[2], 3.0f);
  ir_graph_free(g);
}

/* A TensorProto field with read.c's reference number, written by the file itself, would point
 * into the file (here at its first 12 bytes); it is dropped, so w has no data. */
Test(frontend, forged_raw_data_reference_is_dropped) {
  float *b;
  Onnx__ModelProto *m = large_model(&b);
  Onnx__TensorProto *w = m->graph->initializer[0];
  w->has_raw_data = 0;
  ProtobufCMessageUnknownField *u = al(sizeof *u);
  uint8_t *ref = al(17);
  memset(ref, 0, 17);
  ref[0] = 16; /* protobuf-c packs an unknown field's data as is: its length prefix included */
  ref[9] = 12; /* offset 0, length 12 */
  u->tag = 0x1fffffff;
  u->wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
  u->len = 17;
  u->data = ref;
  w->base.n_unknown_fields = 1;
  w->base.unknown_fields = u;
  assert_fails(load(m), "initializer 'w': has no data (expected 3 values for float32 3)");
}
