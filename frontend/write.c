/* write.c — Graph → ModelProto: the reader (load.c) run backwards.
 *
 * The Graph is mirrored into protobuf-c messages allocated in a scratch arena; constant data is not
 * copied (raw_data points at Value.data), and a file is written through a ProtobufCBuffer that
 * streams, so a model's weights are in memory once.  What is written:
 *   - ir_version: the lowest that carries the default-domain opset (at least 4, so initializers
 *     need not be listed as graph inputs); opset_import: the default domain at g->opset, and
 *     version 1 for every other domain a node names (onnxc imports none; a transformation may add them);
 *   - per graph (subgraphs alike): the used constants as initializers (raw_data, little-endian as
 *     Value.data holds them), the runtime inputs and the outputs with dtype and shape (dim_value,
 *     dim_param for symbolic dims, an empty dim for an unknown one), the live nodes in topological
 *     order (captured values count as dependencies of the node owning the subgraph), attributes of
 *     every type the IR has (subgraphs and tensors included).
 * Captured values (VK_OUTER) are written by the name of the value they capture.  A graph after
 * fusion (epilogues) is refused: the fused form has no ONNX spelling.  The serialized model must fit
 * protobuf's 2 GB limit; external data is not written. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fe_int.h"

/* protobuf's hard limit on a serialized message */
#define WR_MAX_BYTES ((size_t)INT32_MAX)

typedef struct Wr {
  Fe c;
  Arena arena; /* every message built; freed once */
  /* non-default domains seen on nodes */
  const char **domains;
  int ndomains;
} Wr;

typedef struct Ptrs { /* a sorted set of pointers */
  const void **p;
  size_t n;
} Ptrs;

static int ptr_cmp(const void *a, const void *b) {
  const void *x = *(const void *const *)a, *y = *(const void *const *)b;
  return (x > y) - (x < y);
}

static void ptrs_sort(Ptrs *s) {
  if (s->n) qsort(s->p, s->n, sizeof *s->p, ptr_cmp);
}

static bool ptrs_has(const Ptrs *s, const void *p) {
  return s->n && bsearch(&p, s->p, s->n, sizeof *s->p, ptr_cmp) != NULL;
}

static bool default_domain(const char *d) { return !d || !*d || !strcmp(d, "ai.onnx"); }

static char *cstr(const char *s) { return (char *)(s ? s : ""); }

/* the name a value is referred to by: a captured value by its origin's */
static const char *vname(const Value *v) {
  while (v->kind == VK_OUTER && v->outer) v = v->outer;
  return v->name;
}

/* ---- tensors and types ---- */
static Onnx__TensorProto *w_tensor(Wr *w, const Value *v) {
  if (!v->data || v->rank < 0) {
    fe_error(&w->c, "constant '%s' has no data or no shape", IR_NM(v->name));
    return NULL;
  }
  if (!dtype_size(v->dtype)) {
    fe_error(&w->c, "constant '%s' has data type %s, which cannot be written", IR_NM(v->name), dtype_name(v->dtype));
    return NULL;
  }
  int64_t n = ir_value_numel(v);
  Onnx__TensorProto *t = arena_alloc(&w->arena, sizeof *t);
  *t = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
  t->name = cstr(v->name);
  t->has_data_type = 1;
  t->data_type = (int32_t)v->dtype;
  t->n_dims = (size_t)v->rank;
  t->dims = (int64_t *)v->dims;
  t->has_raw_data = 1;
  t->raw_data.len = (size_t)(n > 0 ? n : 0) * dtype_size(v->dtype);
  t->raw_data.data = v->data;
  return t;
}

static Onnx__ValueInfoProto *w_value_info(Wr *w, const Value *v) {
  Onnx__ValueInfoProto *vi = arena_alloc(&w->arena, sizeof *vi);
  *vi = (Onnx__ValueInfoProto)ONNX__VALUE_INFO_PROTO__INIT;
  vi->name = cstr(vname(v));
  if (v->dtype == DT_UNDEF) return vi; /* a subgraph's untyped input or output */
  Onnx__TypeProto__Tensor *tt = arena_alloc(&w->arena, sizeof *tt);
  *tt = (Onnx__TypeProto__Tensor)ONNX__TYPE_PROTO__TENSOR__INIT;
  tt->has_elem_type = 1;
  tt->elem_type = (int32_t)v->dtype;
  if (v->rank >= 0) {
    Onnx__TensorShapeProto *sh = arena_alloc(&w->arena, sizeof *sh);
    *sh = (Onnx__TensorShapeProto)ONNX__TENSOR_SHAPE_PROTO__INIT;
    sh->n_dim = (size_t)v->rank;
    sh->dim = arena_alloc(&w->arena, sizeof *sh->dim * (size_t)(v->rank ? v->rank : 1));
    for (int d = 0; d < v->rank; d++) {
      Onnx__TensorShapeProto__Dimension *dm = arena_alloc(&w->arena, sizeof *dm);
      *dm = (Onnx__TensorShapeProto__Dimension)ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
      if (v->sym[d] && *v->sym[d]) {
        dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        dm->dim_param = (char *)v->sym[d];
      } else if (v->dims[d] >= 0) {
        dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dm->dim_value = v->dims[d];
      }
      sh->dim[d] = dm;
    }
    tt->shape = sh;
  }
  Onnx__TypeProto *tp = arena_alloc(&w->arena, sizeof *tp);
  *tp = (Onnx__TypeProto)ONNX__TYPE_PROTO__INIT;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  vi->type = tp;
  return vi;
}

/* ---- attributes ---- */
static Onnx__GraphProto *w_graph(Wr *w, const Graph *g);

static int w_attr(Wr *w, const Node *n, const Attr *a, Onnx__AttributeProto *ap) {
  *ap = (Onnx__AttributeProto)ONNX__ATTRIBUTE_PROTO__INIT;
  ap->name = cstr(a->name);
  ap->has_type = 1;
  ap->type = (Onnx__AttributeProto__AttributeType)a->type;
  size_t cnt = a->n > 0 ? (size_t)a->n : 0;
  switch (a->type) {
  case AT_FLOAT: ap->has_f = 1, ap->f = a->f; return 0;
  case AT_INT: ap->has_i = 1, ap->i = a->i; return 0;
  case AT_STRING:
    ap->has_s = 1;
    ap->s = (ProtobufCBinaryData){strlen(cstr(a->s)), (uint8_t *)cstr(a->s)};
    return 0;
  case AT_FLOATS: ap->n_floats = cnt, ap->floats = a->floats; return 0;
  case AT_INTS: ap->n_ints = cnt, ap->ints = a->ints; return 0;
  case AT_STRINGS:
    ap->n_strings = cnt;
    ap->strings = arena_alloc(&w->arena, sizeof *ap->strings * (cnt ? cnt : 1));
    for (size_t i = 0; i < cnt; i++)
      ap->strings[i] = (ProtobufCBinaryData){strlen(cstr(a->strings[i])), (uint8_t *)cstr(a->strings[i])};
    return 0;
  case AT_TENSOR: return (ap->t = w_tensor(w, a->t)) ? 0 : -1;
  case AT_TENSORS:
    ap->n_tensors = cnt;
    ap->tensors = arena_alloc(&w->arena, sizeof *ap->tensors * (cnt ? cnt : 1));
    for (size_t i = 0; i < cnt; i++)
      if (!(ap->tensors[i] = w_tensor(w, a->tensors[i]))) return -1;
    return 0;
  case AT_GRAPH: return (ap->g = w_graph(w, a->g)) ? 0 : -1;
  case AT_GRAPHS:
    ap->n_graphs = cnt;
    ap->graphs = arena_alloc(&w->arena, sizeof *ap->graphs * (cnt ? cnt : 1));
    for (size_t i = 0; i < cnt; i++)
      if (!(ap->graphs[i] = w_graph(w, a->graphs[i]))) return -1;
    return 0;
  default:
    return fe_error(&w->c, "node '%s': attribute '%s' has type %d, which cannot be written", IR_NM(n->name),
                    cstr(a->name), (int)a->type);
  }
}

/* ---- nodes ---- */
static void note_domain(Wr *w, const char *d) {
  if (default_domain(d)) return;
  for (int i = 0; i < w->ndomains; i++)
    if (!strcmp(w->domains[i], d)) return;
  const char **nd = arena_alloc(&w->arena, sizeof *nd * (size_t)(w->ndomains + 1));
  if (w->ndomains) memcpy(nd, w->domains, sizeof *nd * (size_t)w->ndomains);
  nd[w->ndomains++] = d;
  w->domains = nd;
}

static Onnx__NodeProto *w_node(Wr *w, const Node *n) {
  if (n->epi)
    return fe_error(&w->c, "node '%s' (%s) carries a fused epilogue; write the graph before fusion", IR_NM(n->name),
                    ir_ops[n->op].name),
           NULL;
  Onnx__NodeProto *np = arena_alloc(&w->arena, sizeof *np);
  *np = (Onnx__NodeProto)ONNX__NODE_PROTO__INIT;
  np->name = cstr(n->name);
  np->op_type = cstr(ir_ops[n->op].name);
  note_domain(w, n->domain);
  if (!default_domain(n->domain)) np->domain = (char *)n->domain;
  np->n_input = (size_t)n->nin;
  np->input = arena_alloc(&w->arena, sizeof(char *) * (size_t)(n->nin ? n->nin : 1));
  for (int i = 0; i < n->nin; i++) np->input[i] = n->in[i] ? cstr(vname(n->in[i])) : "";
  np->n_output = (size_t)n->nout;
  np->output = arena_alloc(&w->arena, sizeof(char *) * (size_t)(n->nout ? n->nout : 1));
  for (int i = 0; i < n->nout; i++) np->output[i] = n->out[i] ? cstr(n->out[i]->name) : "";
  np->n_attribute = (size_t)(n->nattr > 0 ? n->nattr : 0);
  np->attribute = arena_alloc(&w->arena, sizeof *np->attribute * (np->n_attribute ? np->n_attribute : 1));
  for (size_t i = 0; i < np->n_attribute; i++) {
    np->attribute[i] = arena_alloc(&w->arena, sizeof **np->attribute);
    if (w_attr(w, n, &n->attrs[i], np->attribute[i])) return NULL;
  }
  return np;
}

/* a live node whose outputs are all constants was folded: its outputs are written as initializers */
static bool node_written(const Node *n) {
  if (n->dead) return false;
  for (int i = 0; i < n->nout; i++)
    if (n->out[i] && n->out[i]->kind != VK_CONST) return true;
  return n->nout == 0;
}

/* values of g a subgraph of n (at any depth) captures: n's implicit inputs */
static void add_captures(const Node *n, Ptrs *deps, size_t *cap) {
  for (int a = 0; a < n->nattr; a++) {
    const Attr *at = &n->attrs[a];
    int cnt = at->type == AT_GRAPH ? 1 : at->type == AT_GRAPHS ? at->n : 0;
    for (int k = 0; k < cnt; k++) {
      const Graph *sg = at->type == AT_GRAPH ? at->g : at->graphs[k];
      for (int i = 0; sg && i < sg->nvalues; i++) {
        const Value *v = sg->values[i];
        if (v->kind != VK_OUTER || !v->outer) continue;
        if (deps->n == *cap) {
          *cap = *cap ? 2 * *cap : 16;
          deps->p = ir_xrealloc(deps->p, sizeof *deps->p * *cap);
        }
        deps->p[deps->n++] = v->outer;
      }
    }
  }
}

/* the live nodes of g in an order where every node follows the producers of its inputs (and of
 * the values its subgraphs capture); the graph's own order when it already is one */
static const Node **topo_order(Wr *w, const Graph *g, int *count) {
  int nn = g->nnodes;
  const Node **out = arena_alloc(&w->arena, sizeof *out * (size_t)(nn ? nn : 1));
  Ptrs nodes = {ir_xmalloc(sizeof(void *) * (size_t)(nn ? nn : 1)), 0};
  for (int i = 0; i < nn; i++)
    if (node_written(g->nodes[i])) nodes.p[nodes.n++] = g->nodes[i];
  ptrs_sort(&nodes);
  /* state per node (index in the sorted set): 0 new, 1 on the stack, 2 emitted */
  unsigned char *state = ir_xcalloc(nodes.n ? nodes.n : 1, 1);
  typedef struct Frame {
    const Node *n;
    size_t next;
    Ptrs deps;
  } Frame;
  Frame *stack = ir_xmalloc(sizeof *stack * (nodes.n ? nodes.n : 1));
  int k = 0, rc = 0;
  for (int i = 0; i < nn && !rc; i++) {
    const Node *root = g->nodes[i];
    if (!node_written(root)) continue;
    size_t ri = (size_t)((const void **)bsearch(&root, nodes.p, nodes.n, sizeof *nodes.p, ptr_cmp) - nodes.p);
    if (state[ri]) continue;
    size_t sp = 0;
    state[ri] = 1;
    stack[sp++] = (Frame){root, 0, {NULL, 0}};
    while (sp && !rc) {
      Frame *f = &stack[sp - 1];
      if (!f->deps.p) { /* inputs, then captured values */
        size_t cap = (size_t)f->n->nin + 16;
        f->deps.p = ir_xmalloc(sizeof *f->deps.p * cap);
        for (int j = 0; j < f->n->nin; j++)
          if (f->n->in[j]) f->deps.p[f->deps.n++] = f->n->in[j];
        add_captures(f->n, &f->deps, &cap);
      }
      if (f->next == f->deps.n) {
        size_t fi = (size_t)((const void **)bsearch(&f->n, nodes.p, nodes.n, sizeof *nodes.p, ptr_cmp) - nodes.p);
        state[fi] = 2;
        out[k++] = f->n;
        free(f->deps.p);
        sp--;
        continue;
      }
      const Value *v = f->deps.p[f->next++];
      const Node *p = v->producer;
      const void **hit = p ? bsearch(&p, nodes.p, nodes.n, sizeof *nodes.p, ptr_cmp) : NULL;
      if (!hit && v->kind == VK_TEMP) { /* e.g. the output of a node a transformation removed */
        rc = fe_error(&w->c, "graph '%s': node '%s' reads '%s', which no live node produces", IR_NM(g->name),
                      IR_NM(f->n->name), IR_NM(v->name));
        break;
      }
      if (!hit) continue; /* a constant, an input, a captured value */
      size_t pi = (size_t)(hit - nodes.p);
      if (state[pi] == 2) continue;
      if (state[pi] == 1) {
        rc = fe_error(&w->c, "graph '%s' has a cycle through node '%s'", IR_NM(g->name), IR_NM(p->name));
        break;
      }
      state[pi] = 1;
      stack[sp++] = (Frame){p, 0, {NULL, 0}};
    }
    while (sp) free(stack[--sp].deps.p);
  }
  free(stack);
  free(state);
  free(nodes.p);
  *count = k;
  return rc ? NULL : out;
}

/* ---- graphs ---- */

/* the values of g that something reads: node inputs, outputs, captures by its subgraphs */
static void used_values(const Graph *g, const Node **order, int nn, Ptrs *used) {
  size_t cap = 64;
  used->p = ir_xmalloc(sizeof *used->p * cap);
  used->n = 0;
  for (int i = 0; i < nn; i++) {
    const Node *n = order[i];
    if (used->n + (size_t)n->nin + 1 > cap) {
      cap = 2 * (cap + (size_t)n->nin);
      used->p = ir_xrealloc(used->p, sizeof *used->p * cap);
    }
    for (int j = 0; j < n->nin; j++)
      if (n->in[j]) used->p[used->n++] = n->in[j];
    add_captures(n, used, &cap);
  }
  for (int i = 0; i < g->noutputs; i++) {
    if (used->n == cap) used->p = ir_xrealloc(used->p, sizeof *used->p * (cap *= 2));
    used->p[used->n++] = g->outputs[i];
  }
  ptrs_sort(used);
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ONNX graphs are in SSA form: the names the graph defines (initializers, inputs, node outputs)
 * must differ; a transformation that reused one gets an error rather than an invalid file */
static int check_names(Wr *w, const Onnx__GraphProto *gp) {
  size_t n = gp->n_initializer + gp->n_input;
  for (size_t i = 0; i < gp->n_node; i++) n += gp->node[i]->n_output;
  const char **names = ir_xmalloc(sizeof *names * (n ? n : 1));
  size_t k = 0;
  for (size_t i = 0; i < gp->n_initializer; i++) names[k++] = gp->initializer[i]->name;
  for (size_t i = 0; i < gp->n_input; i++) names[k++] = gp->input[i]->name;
  for (size_t i = 0; i < gp->n_node; i++)
    for (size_t j = 0; j < gp->node[i]->n_output; j++)
      if (*gp->node[i]->output[j]) names[k++] = gp->node[i]->output[j];
  qsort(names, k, sizeof *names, name_cmp);
  int rc = 0;
  for (size_t i = 0; i < k && !rc; i++) {
    if (!*names[i]) rc = fe_error(&w->c, "graph '%s': a value has an empty name", IR_NM(gp->name));
    else if (i && !strcmp(names[i - 1], names[i]))
      rc = fe_error(&w->c, "graph '%s': value name '%s' is defined twice", IR_NM(gp->name), IR_NM(names[i]));
  }
  free(names);
  return rc;
}

static Onnx__GraphProto *w_graph(Wr *w, const Graph *g) {
  if (!g) return fe_error(&w->c, "a graph attribute has no graph"), NULL;
  Onnx__GraphProto *gp = arena_alloc(&w->arena, sizeof *gp);
  *gp = (Onnx__GraphProto)ONNX__GRAPH_PROTO__INIT;
  gp->name = cstr(g->name);
  int nn;
  const Node **order = topo_order(w, g, &nn);
  if (!order) return NULL;
  Ptrs used;
  used_values(g, order, nn, &used);
  gp->initializer = arena_alloc(&w->arena, sizeof *gp->initializer * (size_t)(g->nvalues ? g->nvalues : 1));
  int rc = 0;
  for (int i = 0; i < g->nvalues && !rc; i++) {
    const Value *v = g->values[i];
    if (v->kind != VK_CONST || !ptrs_has(&used, v)) continue;
    Onnx__TensorProto *t = w_tensor(w, v);
    if (!t) rc = -1;
    else gp->initializer[gp->n_initializer++] = t;
  }
  free(used.p);
  if (rc) return NULL;
  gp->n_input = (size_t)g->ninputs;
  gp->input = arena_alloc(&w->arena, sizeof *gp->input * (size_t)(g->ninputs ? g->ninputs : 1));
  for (int i = 0; i < g->ninputs; i++) gp->input[i] = w_value_info(w, g->inputs[i]);
  gp->n_output = (size_t)g->noutputs;
  gp->output = arena_alloc(&w->arena, sizeof *gp->output * (size_t)(g->noutputs ? g->noutputs : 1));
  for (int i = 0; i < g->noutputs; i++) gp->output[i] = w_value_info(w, g->outputs[i]);
  gp->n_node = (size_t)nn;
  gp->node = arena_alloc(&w->arena, sizeof *gp->node * (size_t)(nn ? nn : 1));
  for (int i = 0; i < nn; i++)
    if (!(gp->node[i] = w_node(w, order[i]))) return NULL;
  return check_names(w, gp) ? NULL : gp;
}

/* the lowest IR version that carries default-domain opset `opset` (onnx's version table), at least
 * 4: from 4 on, initializers need not be graph inputs */
static int64_t ir_version_for(int64_t opset) {
  static const struct {
    int64_t opset, ir;
  } tab[] = {{9, 4}, {10, 5}, {11, 6}, {14, 7}, {18, 8}, {20, 9}, {22, 10}, {24, 11}};
  for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
    if (opset <= tab[i].opset) return tab[i].ir;
  return 11;
}

static Onnx__OperatorSetIdProto *w_opset(Wr *w, const char *domain, int64_t version) {
  Onnx__OperatorSetIdProto *o = arena_alloc(&w->arena, sizeof *o);
  *o = (Onnx__OperatorSetIdProto)ONNX__OPERATOR_SET_ID_PROTO__INIT;
  o->domain = (char *)domain;
  o->has_version = 1;
  o->version = version;
  return o;
}

static Onnx__ModelProto *w_model(Wr *w, const Graph *g) {
  if (!g) return fe_error(&w->c, "no graph"), NULL;
  if (g->parent) return fe_error(&w->c, "graph '%s' is a subgraph, not a model's graph", IR_NM(g->name)), NULL;
  if (g->opset < 1) return fe_error(&w->c, "the graph has no default-domain opset"), NULL;
  Onnx__ModelProto *m = arena_alloc(&w->arena, sizeof *m);
  *m = (Onnx__ModelProto)ONNX__MODEL_PROTO__INIT;
  m->has_ir_version = 1;
  m->ir_version = ir_version_for(g->opset);
  m->producer_name = "onnxc";
  m->producer_version = "0.1";
  if (!(m->graph = w_graph(w, g))) return NULL;
  m->n_opset_import = (size_t)w->ndomains + 1;
  m->opset_import = arena_alloc(&w->arena, sizeof *m->opset_import * m->n_opset_import);
  m->opset_import[0] = w_opset(w, "", g->opset);
  for (int i = 0; i < w->ndomains; i++) m->opset_import[i + 1] = w_opset(w, w->domains[i], 1);
  return m;
}

/* ---- output ---- */
typedef struct FileSink {
  ProtobufCBuffer base;
  FILE *f;
  bool failed;
  int err;
} FileSink;

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
  FileSink *s = (FileSink *)b;
  if (s->failed || !len) return;
  if (fwrite(data, 1, len, s->f) != len) {
    s->failed = true;
    s->err = errno;
  }
}

/* builds the model message in w->arena; checks the size */
static Onnx__ModelProto *build(Wr *w, const Graph *g, size_t *size) {
  Onnx__ModelProto *m = w_model(w, g);
  if (!m) return NULL;
  *size = onnx__model_proto__get_packed_size(m);
  if (*size > WR_MAX_BYTES) {
    fe_error(&w->c, "the model is %zu bytes serialized, more than protobuf's 2 GB limit (external data is not "
                    "written yet)", *size);
    return NULL;
  }
  return m;
}

/* runs fn with an out-of-memory handler installed: ir_oom's jump becomes an error */
typedef int (*WrFn)(Wr *w, const Graph *g, void *arg);

static int guarded(Wr *w, const Graph *g, WrFn fn, void *arg) {
  jmp_buf jb;
  jmp_buf *prev = ir_oom_swap(&jb);
  if (setjmp(jb)) {
    ir_oom_swap(prev);
    return fe_error(&w->c, "out of memory");
  }
  int rc = fn(w, g, arg);
  ir_oom_swap(prev);
  return rc;
}

typedef struct BufOut {
  void **buf;
  size_t *len;
} BufOut;

static int to_buffer(Wr *w, const Graph *g, void *arg) {
  BufOut *o = arg;
  size_t size;
  Onnx__ModelProto *m = build(w, g, &size);
  if (!m) return -1;
  uint8_t *p = malloc(size ? size : 1);
  if (!p) return fe_error(&w->c, "out of memory (%zu bytes for the model)", size);
  size_t got = onnx__model_proto__pack(m, p);
  if (got != size) {
    free(p);
    return fe_error(&w->c, "serialized %zu bytes, expected %zu", got, size);
  }
  *o->buf = p;
  *o->len = size;
  return 0;
}

typedef struct FileOut {
  const char *path;
  char *tmp; /* malloc'd; removed on failure */
  FILE *f;
} FileOut;

static int to_file(Wr *w, const Graph *g, void *arg) {
  FileOut *o = arg;
  size_t size;
  Onnx__ModelProto *m = build(w, g, &size);
  if (!m) return -1;
  /* a temporary beside the target, renamed over it at the end: the graph's weights may still be
   * mapped from the file being replaced, and a failed write leaves the old file whole */
  size_t tl = strlen(o->path) + 32;
  o->tmp = malloc(tl);
  if (!o->tmp) return fe_error(&w->c, "out of memory");
  snprintf(o->tmp, tl, "%s.tmp%ld", o->path, (long)getpid());
  int fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fe_error(&w->c, "cannot create '%s': %s", o->tmp, strerror(errno));
  o->f = fdopen(fd, "wb");
  if (!o->f) {
    close(fd);
    return fe_error(&w->c, "cannot open '%s': %s", o->tmp, strerror(errno));
  }
  setvbuf(o->f, NULL, _IOFBF, 1 << 20);
  FileSink s = {.base = {.append = sink_append}, .f = o->f};
  size_t got = protobuf_c_message_pack_to_buffer(&m->base, &s.base);
  FILE *f = o->f;
  o->f = NULL;
  if (fclose(f) && !s.failed) s.failed = true, s.err = errno;
  if (s.failed) return fe_error(&w->c, "write failed: %s", strerror(s.err));
  if (got != size) return fe_error(&w->c, "wrote %zu bytes, expected %zu", got, size);
  if (rename(o->tmp, o->path)) return fe_error(&w->c, "cannot rename '%s' to it: %s", o->tmp, strerror(errno));
  free(o->tmp);
  o->tmp = NULL;
  return 0;
}

int fe_write_buffer(const Graph *g, void **buf, size_t *len, char *err, size_t errlen) {
  Wr *w = calloc(1, sizeof *w); /* on the heap: members change after setjmp */
  if (!w) {
    if (err && errlen) snprintf(err, errlen, "<buffer>: out of memory");
    return -1;
  }
  fe_init(&w->c, "<buffer>", NULL, 0, err, errlen);
  BufOut o = {buf, len};
  *buf = NULL;
  *len = 0;
  int rc = guarded(w, g, to_buffer, &o);
  arena_free(&w->arena);
  free(w);
  return rc;
}

int fe_write(const Graph *g, const char *path, char *err, size_t errlen) {
  Wr *w = calloc(1, sizeof *w);
  FileOut *o = calloc(1, sizeof *o);
  if (!w || !o) {
    free(w);
    free(o);
    if (err && errlen) snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  fe_init(&w->c, path, NULL, 0, err, errlen);
  o->path = path;
  int rc = guarded(w, g, to_file, o);
  if (o->f) fclose(o->f);
  if (o->tmp) {
    remove(o->tmp);
    free(o->tmp);
  }
  arena_free(&w->arena);
  free(o);
  free(w);
  return rc;
}
