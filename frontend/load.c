/* load.c — ModelProto → Graph: opsets, initializers, inputs/outputs, nodes, attributes, subgraphs.
 *
 * Order of work: read + pre-scan + unpack (read.c); one walk over every graph collecting all
 * unsupported (domain, op, opset) triples, reported together in one sorted error; then each graph is
 * imported in two passes: definitions first (initializers, inputs, node outputs, Constant nodes),
 * then uses (node inputs, attributes, graph outputs), so node order in the file does not matter
 * (ir_graph_toposort orders them).  Names resolve lexically: a name a subgraph does not define but an
 * enclosing graph does becomes a VK_OUTER value whose ->outer is the enclosing graph's value (which
 * may itself be VK_OUTER, one link per nesting level). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe_int.h"

typedef struct Loader {
  Fe c;
  const Onnx__ModelProto *m;
} Loader;

/* ---- scopes: one hash table name → Value per graph, chained to the enclosing graph's ---- */
typedef struct Entry {
  const char *key; /* the Value's (arena) name */
  Value *v;
  bool is_input;
} Entry;

typedef struct Scope {
  struct Scope *parent;
  Graph *g;
  const char *where; /* error prefix: "" in the main graph, "subgraph 'body' of node 'loop1': " */
  Entry *tab;
  size_t cap, n;
} Scope;

static int serr(Loader *l, const Scope *s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int serr(Loader *l, const Scope *s, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return fe_error(&l->c, "%s%s", s->where, buf);
}

static size_t hash(const char *s) {
  size_t h = 1469598103934665603u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static Entry *scope_find(const Scope *s, const char *name) {
  if (!s->cap) return NULL;
  for (size_t i = hash(name) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (!s->tab[i].key) return NULL;
    if (!strcmp(s->tab[i].key, name)) return &s->tab[i];
  }
}

static Entry *scope_insert(Scope *s, Value *v) {
  if (2 * (s->n + 1) > s->cap) {
    size_t ncap = s->cap ? 2 * s->cap : 64;
    Entry *t = calloc(ncap, sizeof *t);
    if (!t) return NULL;
    for (size_t i = 0; i < s->cap; i++) {
      if (!s->tab[i].key) continue;
      size_t j = hash(s->tab[i].key) & (ncap - 1);
      while (t[j].key) j = (j + 1) & (ncap - 1);
      t[j] = s->tab[i];
    }
    free(s->tab);
    s->tab = t;
    s->cap = ncap;
  }
  size_t j = hash(v->name) & (s->cap - 1);
  while (s->tab[j].key) j = (j + 1) & (s->cap - 1);
  s->tab[j] = (Entry){v->name, v, false};
  s->n++;
  return &s->tab[j];
}

/* defines v in s; what says how ("output of node 'n' (Add)") for the duplicate error */
static Entry *define(Loader *l, Scope *s, Value *v, const char *what) {
  if (scope_find(s, v->name)) {
    serr(l, s, "value '%s' is defined twice (again as %s)", IR_NM(v->name), what);
    return NULL;
  }
  Entry *e = scope_insert(s, v);
  if (!e) serr(l, s, "out of memory");
  return e;
}

/* lexical lookup; a hit in an enclosing graph is captured as a VK_OUTER value, level by level */
static Value *resolve(Loader *l, Scope *s, const char *name) {
  Entry *e = scope_find(s, name);
  if (e) return e->v;
  if (!s->parent) return NULL;
  Value *o = resolve(l, s->parent, name);
  if (!o) return NULL;
  Value *v = ir_value_new(s->g, name);
  v->kind = VK_OUTER;
  v->outer = o;
  v->dtype = o->dtype;
  ir_value_set_shape(v, o->rank, o->dims);
  memcpy(v->sym, o->sym, sizeof v->sym);
  return scope_insert(s, v) ? v : NULL;
}

static const char *str(const char *s) { return s ? s : ""; }

/* ---- unsupported operators: collected over the whole model, reported at once ---- */
typedef struct Unsup {
  const char *domain, *op;
  int64_t opset;
} Unsup;

typedef struct UnsupList {
  Unsup *v;
  size_t n, cap;
  bool oom;
} UnsupList;

static bool default_domain(const char *d) { return !d || !*d || !strcmp(d, "ai.onnx"); }

static int64_t opset_of(const Onnx__ModelProto *m, const char *domain) {
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const char *d = m->opset_import[i]->domain;
    if (default_domain(domain) ? default_domain(d) : (d && !strcmp(d, domain)))
      return m->opset_import[i]->version;
  }
  return 0;
}

static void collect_unsupported(const Onnx__ModelProto *m, const Onnx__GraphProto *gp, UnsupList *u, int depth) {
  if (depth > IR_MAX_DEPTH) return; /* the import reports the nesting */
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    const char *op = str(np->op_type);
    if (*op && !(default_domain(np->domain) && ir_op_lookup(op) != OP_COUNT)) {
      if (u->n == u->cap) {
        size_t ncap = u->cap ? 2 * u->cap : 16;
        Unsup *nv = realloc(u->v, ncap * sizeof *nv);
        if (!nv) {
          u->oom = true;
          return;
        }
        u->v = nv;
        u->cap = ncap;
      }
      const char *d = default_domain(np->domain) ? "ai.onnx" : np->domain;
      u->v[u->n++] = (Unsup){d, op, opset_of(m, d)};
    }
    for (size_t j = 0; j < np->n_attribute; j++) {
      const Onnx__AttributeProto *ap = np->attribute[j];
      if (ap->g) collect_unsupported(m, ap->g, u, depth + 1);
      for (size_t k = 0; k < ap->n_graphs; k++) collect_unsupported(m, ap->graphs[k], u, depth + 1);
    }
  }
}

/* nodes of gp and its subgraphs, stopping once past FE_MAX_NODES */
static size_t count_nodes(const Onnx__GraphProto *gp, int depth) {
  if (depth > IR_MAX_DEPTH) return 0; /* the import reports the nesting */
  size_t n = gp->n_node;
  for (size_t i = 0; i < gp->n_node && n <= FE_MAX_NODES; i++)
    for (size_t j = 0; j < gp->node[i]->n_attribute; j++) {
      const Onnx__AttributeProto *ap = gp->node[i]->attribute[j];
      if (ap->g) n += count_nodes(ap->g, depth + 1);
      for (size_t k = 0; k < ap->n_graphs; k++) n += count_nodes(ap->graphs[k], depth + 1);
    }
  return n;
}

static int unsup_cmp(const void *pa, const void *pb) {
  const Unsup *a = pa, *b = pb;
  int r = strcmp(a->domain, b->domain);
  if (!r) r = strcmp(a->op, b->op);
  if (!r) r = (a->opset > b->opset) - (a->opset < b->opset);
  return r;
}

static int check_unsupported(Loader *l) {
  UnsupList u = {0};
  collect_unsupported(l->m, l->m->graph, &u, 0);
  if (u.oom) {
    free(u.v);
    return fe_error(&l->c, "out of memory");
  }
  if (!u.n) return 0;
  qsort(u.v, u.n, sizeof *u.v, unsup_cmp);
  size_t k = 0, len = 64;
  for (size_t i = 0; i < u.n; i++)
    if (!k || unsup_cmp(&u.v[k - 1], &u.v[i])) {
      u.v[k++] = u.v[i];
      len += strlen(u.v[i].domain) + strlen(u.v[i].op) + 40;
    }
  char *msg = malloc(len);
  if (!msg) {
    free(u.v);
    return fe_error(&l->c, "out of memory");
  }
  size_t o = (size_t)snprintf(msg, len, "unsupported operators (%zu): ", k);
  for (size_t i = 0; i < k; i++)
    o += (size_t)snprintf(msg + o, len - o, "%s%s::%s (opset %lld)", i ? ", " : "", u.v[i].domain,
                          u.v[i].op, (long long)u.v[i].opset);
  fe_error(&l->c, "%s", msg);
  free(msg);
  free(u.v);
  return -1;
}

/* ---- types of graph inputs/outputs ---- */
typedef struct TypeInfo {
  bool has_type;
  DType dtype;
  int rank;
  int64_t dims[IR_MAX_RANK];
  const char *sym[IR_MAX_RANK];
} TypeInfo;

static int parse_type(Loader *l, Scope *s, const Onnx__ValueInfoProto *vi, const char *what, TypeInfo *ti) {
  memset(ti, 0, sizeof *ti);
  ti->rank = -1;
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET) return 0;
  static const char *const kinds[] = {[ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE] = "a sequence",
                                      [ONNX__TYPE_PROTO__VALUE_MAP_TYPE] = "a map",
                                      [ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE] = "a sparse tensor",
                                      [ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE] = "an optional"};
  if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
    unsigned k = (unsigned)tp->value_case;
    return serr(l, s, "%s: only tensor types are supported (this is %s)", what,
                k < sizeof kinds / sizeof *kinds && kinds[k] ? kinds[k] : "an unknown type");
  }
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  int et = tt && tt->has_elem_type ? tt->elem_type : 0;
  if (et == DT_STRING) return serr(l, s, "%s: string tensors are not supported", what);
  if (et < 0 || et >= DT_COUNT || (et && !dtype_supported((DType)et)))
    return serr(l, s, "%s: data type %s is not supported", what,
                et > 0 && et < DT_COUNT ? dtype_name((DType)et) : "(unknown)");
  ti->has_type = et != 0;
  ti->dtype = (DType)et;
  const Onnx__TensorShapeProto *sh = tt ? tt->shape : NULL;
  if (!sh) return 0;
  if (sh->n_dim > IR_MAX_RANK)
    return serr(l, s, "%s: rank %zu is more than the supported %d", what, sh->n_dim, IR_MAX_RANK);
  ti->rank = (int)sh->n_dim;
  for (int i = 0; i < ti->rank; i++) {
    const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
    ti->dims[i] = -1;
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      if (d->dim_value < 0)
        return serr(l, s, "%s: dim %d is %lld (must be >= 0)", what, i, (long long)d->dim_value);
      ti->dims[i] = d->dim_value;
    } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param &&
               *d->dim_param) {
      ti->sym[i] = arena_strdup(s->g->arena, d->dim_param);
    }
  }
  int64_t n;
  bool known = true;
  for (int i = 0; i < ti->rank; i++) known &= ti->dims[i] >= 0;
  if (known && (!ir_numel_ok(ti->rank, ti->dims, &n) || !ir_mul_ok(n, (int64_t)dtype_size(ti->dtype), &n)))
    return serr(l, s, "%s: size overflows", what);
  return 0;
}

static void set_type(Value *v, const TypeInfo *ti) {
  v->dtype = ti->dtype;
  ir_value_set_shape(v, ti->rank, ti->dims);
  memcpy(v->sym, ti->sym, sizeof v->sym);
}

/* a value that already has a dtype (constant, input, captured) must agree with its declaration */
static int check_dtype(Loader *l, Scope *s, const Value *v, const TypeInfo *ti, const char *what) {
  if (ti->has_type && v->dtype != DT_UNDEF && v->dtype != ti->dtype)
    return serr(l, s, "%s is declared %s but the value is %s", what, dtype_name(ti->dtype), dtype_name(v->dtype));
  return 0;
}

/* ---- constants ---- */
static Value *const_value(Graph *g, const char *name, const FeTensor *t, bool in_graph) {
  Value *v;
  if (in_graph) {
    v = ir_value_new(g, name);
  } else { /* attribute tensors are not in the graph's value list */
    v = arena_alloc(g->arena, sizeof *v);
    v->id = -1;
    v->name = arena_strdup(g->arena, name);
  }
  v->kind = VK_CONST;
  v->dtype = t->dtype;
  ir_value_set_shape(v, t->rank, t->dims);
  v->data = t->data;
  return v;
}

/* value_float(s) / value_int(s) forms of Constant, as FeTensors in the arena */
static void list_tensor(Graph *g, FeTensor *t, DType dt, int rank, const void *src, size_t n) {
  t->dtype = dt;
  t->rank = rank;
  t->dims[0] = (int64_t)n;
  t->bytes = n * dtype_size(dt);
  t->data = arena_dup(g->arena, src, t->bytes);
}

static int import_constant(Loader *l, Scope *s, Onnx__NodeProto *np, const char *desc) {
  if (np->n_input != 0 || np->n_output != 1 || !*str(np->output[0]))
    return serr(l, s, "%s: needs no inputs and exactly one output", desc);
  if (np->n_attribute != 1)
    return serr(l, s, "%s: needs exactly one attribute (value, value_float, value_ints, ...), got %zu", desc,
                np->n_attribute);
  Onnx__AttributeProto *ap = np->attribute[0];
  const char *an = str(ap->name);
  FeTensor t = {0};
  Graph *g = s->g;
  if (!strcmp(an, "value") && ap->t) {
    char what[600];
    snprintf(what, sizeof what, "%s%s: attribute 'value'", s->where, desc);
    if (fe_tensor_decode(&l->c, ap->t, what, &t)) return -1;
  } else if (!strcmp(an, "value_float") && ap->has_f) {
    list_tensor(g, &t, DT_FLOAT, 0, &ap->f, 1);
  } else if (!strcmp(an, "value_floats")) {
    list_tensor(g, &t, DT_FLOAT, 1, ap->floats, ap->n_floats);
  } else if (!strcmp(an, "value_int") && ap->has_i) {
    list_tensor(g, &t, DT_INT64, 0, &ap->i, 1);
  } else if (!strcmp(an, "value_ints")) {
    list_tensor(g, &t, DT_INT64, 1, ap->ints, ap->n_ints);
  } else if (!strcmp(an, "value_string") || !strcmp(an, "value_strings")) {
    return serr(l, s, "%s: string constants are not supported", desc);
  } else if (!strcmp(an, "sparse_value")) {
    return serr(l, s, "%s: sparse constants are not supported", desc);
  } else {
    return serr(l, s, "%s: attribute '%.100s' is missing its value or is not a Constant attribute", desc, an);
  }
  Value *v = const_value(g, np->output[0], &t, true);
  return define(l, s, v, desc) ? 0 : -1;
}

/* ---- attributes ---- */
static Graph *import_subgraph(Loader *l, Scope *parent, const Node *n, const char *attr,
                              Onnx__GraphProto *gp);

static AttrType attr_type(const Onnx__AttributeProto *ap) {
  if (ap->has_type && ap->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED) return (AttrType)ap->type;
  /* very old exporters left the type out: infer it from the one field that is set */
  if (ap->has_f) return AT_FLOAT;
  if (ap->has_i) return AT_INT;
  if (ap->has_s) return AT_STRING;
  if (ap->t) return AT_TENSOR;
  if (ap->g) return AT_GRAPH;
  if (ap->n_floats) return AT_FLOATS;
  if (ap->n_ints) return AT_INTS;
  if (ap->n_strings) return AT_STRINGS;
  if (ap->n_tensors) return AT_TENSORS;
  if (ap->n_graphs) return AT_GRAPHS;
  return AT_UNDEF;
}

static const char *bytes_str(Loader *l, Scope *s, const ProtobufCBinaryData *b, const char *what) {
  if (b->len && memchr(b->data, 0, b->len)) {
    serr(l, s, "%s: string contains a NUL byte", what);
    return NULL;
  }
  char *p = arena_alloc(s->g->arena, b->len + 1);
  if (b->len) memcpy(p, b->data, b->len);
  return p;
}

static int list_count(Loader *l, Scope *s, size_t n, const char *what) {
  if (n > INT_MAX) return serr(l, s, "%s: list has %zu elements (too many)", what, n);
  return (int)n;
}

static int import_attr(Loader *l, Scope *s, Node *n, Onnx__AttributeProto *ap, Attr *a, const char *desc) {
  Graph *g = s->g;
  char what[600];
  snprintf(what, sizeof what, "%s: attribute '%.100s'", desc, str(ap->name));
  if (!*str(ap->name)) return serr(l, s, "%s: an attribute has no name", desc);
  if (*str(ap->ref_attr_name))
    return serr(l, s, "%s refers to a function attribute (only valid inside functions)", what);
  a->name = arena_strdup(g->arena, ap->name);
  a->type = attr_type(ap);
  int cnt;
  switch (a->type) {
  case AT_FLOAT: a->f = ap->f; return 0;
  case AT_INT: a->i = ap->i; return 0;
  case AT_STRING: return (a->s = bytes_str(l, s, &ap->s, what)) ? 0 : -1;
  case AT_FLOATS:
    if ((cnt = a->n = list_count(l, s, ap->n_floats, what)) < 0) return -1;
    a->floats = arena_dup(g->arena, ap->floats, sizeof(float) * (size_t)cnt);
    return 0;
  case AT_INTS:
    if ((cnt = a->n = list_count(l, s, ap->n_ints, what)) < 0) return -1;
    a->ints = arena_dup(g->arena, ap->ints, sizeof(int64_t) * (size_t)cnt);
    return 0;
  case AT_STRINGS:
    if ((cnt = a->n = list_count(l, s, ap->n_strings, what)) < 0) return -1;
    a->strings = arena_alloc(g->arena, sizeof(char *) * (size_t)(cnt ? cnt : 1));
    for (int i = 0; i < cnt; i++)
      if (!(a->strings[i] = bytes_str(l, s, &ap->strings[i], what))) return -1;
    return 0;
  case AT_TENSOR:
  case AT_TENSORS: {
    bool one = a->type == AT_TENSOR;
    if (one && !ap->t) return serr(l, s, "%s: tensor attribute has no tensor", what);
    if ((cnt = a->n = one ? 1 : list_count(l, s, ap->n_tensors, what)) < 0) return -1;
    Value **vs = arena_alloc(g->arena, sizeof(Value *) * (size_t)(cnt ? cnt : 1));
    char w[700];
    snprintf(w, sizeof w, "%s%s", s->where, what);
    for (int i = 0; i < cnt; i++) {
      FeTensor t;
      Onnx__TensorProto *tp = one ? ap->t : ap->tensors[i];
      if (fe_tensor_decode(&l->c, tp, w, &t)) return -1;
      vs[i] = const_value(g, *str(tp->name) ? tp->name : a->name, &t, false);
    }
    if (one) a->t = vs[0], a->n = 0;
    else a->tensors = vs;
    return 0;
  }
  case AT_GRAPH:
    if (!ap->g) return serr(l, s, "%s: graph attribute has no graph", what);
    return (a->g = import_subgraph(l, s, n, a->name, ap->g)) ? 0 : -1;
  case AT_GRAPHS:
    if ((cnt = a->n = list_count(l, s, ap->n_graphs, what)) < 0) return -1;
    a->graphs = arena_alloc(g->arena, sizeof(Graph *) * (size_t)(cnt ? cnt : 1));
    for (int i = 0; i < cnt; i++)
      if (!(a->graphs[i] = import_subgraph(l, s, n, a->name, ap->graphs[i]))) return -1;
    return 0;
  default:
    if (ap->sparse_tensor || ap->n_sparse_tensors) return serr(l, s, "%s: sparse tensors are not supported", what);
    if (ap->tp || ap->n_type_protos) return serr(l, s, "%s: type attributes are not supported", what);
    if (a->type == AT_UNDEF) return serr(l, s, "%s has no type and no value", what);
    return serr(l, s, "%s: attribute type %d is not supported", what, (int)a->type);
  }
}

/* ---- nodes ---- */
static void arity_str(char *buf, size_t len, int lo, int hi) {
  if (hi < 0) snprintf(buf, len, "%d or more", lo);
  else if (lo == hi) snprintf(buf, len, "%d", lo);
  else snprintf(buf, len, "%d..%d", lo, hi);
}

static int check_arity(Loader *l, Scope *s, Op op, const Onnx__NodeProto *np, const char *desc) {
  const OpInfo *oi = &ir_ops[op];
  char want[32];
  if (np->n_input < (size_t)oi->min_in || (oi->max_in >= 0 && np->n_input > (size_t)oi->max_in)) {
    arity_str(want, sizeof want, oi->min_in, oi->max_in);
    return serr(l, s, "%s: has %zu inputs, expects %s", desc, np->n_input, want);
  }
  if (np->n_output < (size_t)oi->min_out || (oi->max_out >= 0 && np->n_output > (size_t)oi->max_out)) {
    arity_str(want, sizeof want, oi->min_out, oi->max_out);
    return serr(l, s, "%s: has %zu outputs, expects %s", desc, np->n_output, want);
  }
  return 0;
}

typedef char Desc[400]; /* "node 'name' (Op)", on the stack: only needed when reporting */

static const char *node_desc(Desc d, const char *name, const char *op) {
  snprintf(d, sizeof(Desc), "node '%s' (%.100s)", IR_NM(name), op);
  return d;
}

/* pass 1: the node and its outputs (a Constant becomes a VK_CONST value, no node) */
static int define_node(Loader *l, Scope *s, Onnx__NodeProto *np, size_t idx, Node **out) {
  Graph *g = s->g;
  const char *op_type = str(np->op_type);
  *out = NULL;
  if (!*op_type) return serr(l, s, "node #%zu ('%s') has no op_type", idx, IR_NM(str(np->name)));
  if (!default_domain(np->domain) || ir_op_lookup(op_type) == OP_COUNT) /* check_unsupported caught these */
    return serr(l, s, "node '%s': unsupported operator %.100s", IR_NM(str(np->name)), op_type);
  if (g->opset <= 0)
    return serr(l, s, "node '%s' (%.100s) uses the default domain, but the model imports no opset for it",
                IR_NM(str(np->name)), op_type);
  Op op = ir_op_lookup(op_type);
  if (np->n_input > INT_MAX / 2 || np->n_output > INT_MAX / 2)
    return serr(l, s, "node '%s' has too many inputs or outputs", IR_NM(str(np->name)));
  Desc d, num;
  char how[sizeof(Desc) + 16];
  snprintf(num, sizeof num, "#%zu", idx);
  const char *desc = node_desc(d, *str(np->name) ? np->name : num, op_type);
  if (op == OP_Constant) return import_constant(l, s, np, desc);
  if (check_arity(l, s, op, np, desc)) return -1;
  Node *n = ir_node_new(g, op, np->name, (int)np->n_input, (int)np->n_output);
  for (int j = 0; j < n->nout; j++) {
    if (!*np->output[j]) continue; /* missing optional output */
    Value *v = ir_value_new(g, np->output[j]);
    v->producer = n;
    n->out[j] = v;
    snprintf(how, sizeof how, "output of %s", desc);
    if (!define(l, s, v, how)) return -1;
  }
  *out = n;
  return 0;
}

/* pass 2: inputs and attributes */
static int link_node(Loader *l, Scope *s, Onnx__NodeProto *np, Node *n) {
  Desc d;
  const char *desc = node_desc(d, n->name, ir_ops[n->op].name);
  for (int j = 0; j < n->nin; j++) {
    if (!*np->input[j]) continue; /* missing optional input */
    if (!(n->in[j] = resolve(l, s, np->input[j])))
      return l->c.failed ? -1 : serr(l, s, "%s: input '%s' is not defined", desc, IR_NM(np->input[j]));
  }
  n->nattr = (int)np->n_attribute;
  n->attrs = arena_alloc(s->g->arena, sizeof(Attr) * (np->n_attribute ? np->n_attribute : 1));
  for (int j = 0; j < n->nattr; j++) {
    if (import_attr(l, s, n, np->attribute[j], &n->attrs[j], desc)) return -1;
    for (int k = 0; k < j; k++)
      if (!strcmp(n->attrs[k].name, n->attrs[j].name))
        return serr(l, s, "%s: attribute '%.100s' is given twice", desc, n->attrs[j].name);
  }
  char why[400];
  if (ir_attrs_check(n, s->g->opset, why, sizeof why)) return serr(l, s, "%s: %s", desc, why);
  return 0;
}

/* ---- graphs ---- */
static Value **value_list(Graph *g, size_t n) {
  return arena_alloc(g->arena, sizeof(Value *) * (n ? n : 1));
}

static int import_initializers(Loader *l, Scope *s, Onnx__GraphProto *gp) {
  if (gp->n_sparse_initializer) return serr(l, s, "sparse initializers are not supported");
  for (size_t i = 0; i < gp->n_initializer; i++) {
    Onnx__TensorProto *tp = gp->initializer[i];
    if (!*str(tp->name)) return serr(l, s, "initializer #%zu has no name", i);
    char what[700];
    snprintf(what, sizeof what, "%sinitializer '%s'", s->where, IR_NM(tp->name));
    FeTensor t;
    if (fe_tensor_decode(&l->c, tp, what, &t)) return -1;
    if (!define(l, s, const_value(s->g, tp->name, &t, true), "an initializer")) return -1;
  }
  return 0;
}

/* a graph input that an initializer of the same name feeds must be declared as that initializer is
 * (an unknown dtype or dim agrees with anything): otherwise which of the two the model means is a
 * guess, and guessing silently either way has hidden the clash */
static int check_shadow(Loader *l, Scope *s, const Value *v, const TypeInfo *ti, const char *what) {
  if (ti->has_type && ti->dtype != v->dtype)
    return serr(l, s, "%s is declared %s but the value is %s (an initializer of the same name, which must agree "
                "with it)", what, dtype_name(ti->dtype), dtype_name(v->dtype));
  bool same = true;
  if (ti->rank >= 0) {
    same &= ti->rank == v->rank;
    for (int d = 0; same && d < ti->rank; d++) same &= ti->dims[d] < 0 || ti->dims[d] == v->dims[d];
  }
  if (same) return 0;
  Value decl = {.dtype = ti->has_type ? ti->dtype : v->dtype};
  ir_value_set_shape(&decl, ti->rank, ti->dims);
  memcpy(decl.sym, ti->sym, sizeof decl.sym);
  char ds[200], vs[200];
  ir_shape_str(&decl, ds, sizeof ds);
  ir_shape_str(v, vs, sizeof vs);
  return serr(l, s, "%s is declared %s %s, but the initializer of the same name is %s %s (an initializer that "
              "shadows a graph input must agree with it)", what, dtype_name(decl.dtype), ds, dtype_name(v->dtype), vs);
}

/* graph inputs that name an initializer are constants (older exporters list them); the rest are
 * runtime inputs, which the main graph needs typed */
static int import_inputs(Loader *l, Scope *s, Onnx__GraphProto *gp) {
  Graph *g = s->g;
  g->inputs = value_list(g, gp->n_input);
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    const char *name = str(vi->name);
    if (!*name) return serr(l, s, "graph input #%zu has no name", i);
    Desc what;
    snprintf(what, sizeof what, "graph input '%s'", IR_NM(name));
    TypeInfo ti;
    if (parse_type(l, s, vi, what, &ti)) return -1;
    Entry *e = scope_find(s, name);
    if (e && e->v->kind == VK_CONST && !e->is_input) {
      e->is_input = true;
      if (check_shadow(l, s, e->v, &ti, what)) return -1;
      continue;
    }
    if (!ti.has_type && !g->parent) return serr(l, s, "%s has no tensor type", what);
    Value *v = ir_value_new(g, name);
    v->kind = VK_INPUT;
    set_type(v, &ti);
    if (!(e = define(l, s, v, "a graph input"))) return -1;
    e->is_input = true;
    g->inputs[g->ninputs++] = v;
  }
  return 0;
}

static int import_outputs(Loader *l, Scope *s, Onnx__GraphProto *gp) {
  Graph *g = s->g;
  if (!gp->n_output) return serr(l, s, "graph '%s' has no outputs", IR_NM(g->name));
  g->outputs = value_list(g, gp->n_output);
  for (size_t i = 0; i < gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi = gp->output[i];
    const char *name = str(vi->name);
    if (!*name) return serr(l, s, "graph output #%zu has no name", i);
    Desc what;
    snprintf(what, sizeof what, "graph output '%s'", IR_NM(name));
    TypeInfo ti;
    if (parse_type(l, s, vi, what, &ti)) return -1;
    Value *v = resolve(l, s, name);
    if (!v) return l->c.failed ? -1 : serr(l, s, "%s is not produced by any node, input or initializer", what);
    for (int k = 0; k < g->noutputs; k++)
      if (g->outputs[k] == v) return serr(l, s, "%s is listed twice", what);
    if (v->kind == VK_TEMP && ti.has_type) set_type(v, &ti); /* recorded; shape inference recomputes */
    else if (check_dtype(l, s, v, &ti, what)) return -1;
    v->is_output = true;
    g->outputs[g->noutputs++] = v;
  }
  return 0;
}

static int import_graph(Loader *l, Scope *s, Onnx__GraphProto *gp) {
  if (gp->n_node > INT_MAX / 2) return serr(l, s, "graph has too many nodes");
  Node **nodes = calloc(gp->n_node ? gp->n_node : 1, sizeof *nodes);
  if (!nodes) return serr(l, s, "out of memory");
  int rc = import_initializers(l, s, gp) || import_inputs(l, s, gp) ? -1 : 0;
  for (size_t i = 0; !rc && i < gp->n_node; i++) rc = define_node(l, s, gp->node[i], i, &nodes[i]);
  for (size_t i = 0; !rc && i < gp->n_node; i++)
    if (nodes[i]) rc = link_node(l, s, gp->node[i], nodes[i]);
  if (!rc) rc = import_outputs(l, s, gp);
  free(nodes);
  return rc;
}

static Graph *import_subgraph(Loader *l, Scope *parent, const Node *n, const char *attr, Onnx__GraphProto *gp) {
  Graph *pg = parent->g;
  if (pg->depth + 1 > IR_MAX_DEPTH) {
    serr(l, parent, "node '%s': subgraphs are nested more than %d levels deep", IR_NM(n->name), IR_MAX_DEPTH);
    return NULL;
  }
  Graph *g = ir_graph_new_sub(pg);
  g->name = *str(gp->name) ? arena_strdup(g->arena, gp->name) : arena_printf(g->arena, "%s.%s", n->name, attr);
  Scope s = {.parent = parent, .g = g};
  s.where = arena_printf(g->arena, "%ssubgraph '%s' of node '%s': ", parent->where, attr, IR_NM(n->name));
  int rc = import_graph(l, &s, gp);
  free(s.tab);
  return rc ? NULL : g;
}

/* ---- --shape overrides ---- */
typedef struct Binding {
  const char *sym;
  int64_t dim;
} Binding;

static int bind_sym(Loader *l, Binding *b, int *nb, const char *sym, int64_t dim) {
  for (int i = 0; i < *nb; i++)
    if (!strcmp(b[i].sym, sym)) {
      if (b[i].dim != dim)
        return fe_error(&l->c, "--shape: dim '%.100s' is given as both %lld and %lld", sym,
                        (long long)b[i].dim, (long long)dim);
      return 0;
    }
  b[(*nb)++] = (Binding){sym, dim};
  return 0;
}

/* the inputs' free dim names, quoted, for a message */
static void dim_names(const Graph *g, char *list, size_t len) {
  size_t o = 0;
  char nm[64];
  list[0] = 0;
  for (int i = 0; i < g->ninputs; i++)
    for (int d = 0; d < g->inputs[i]->rank && o < len; d++) {
      const char *sym = g->inputs[i]->sym[d];
      bool seen = !sym;
      for (int j = 0; j <= i && !seen; j++)
        for (int e = 0; e < (j < i ? g->inputs[j]->rank : d) && !seen; e++)
          seen = g->inputs[j]->sym[e] && !strcmp(g->inputs[j]->sym[e], sym);
      if (!seen) o += (size_t)snprintf(list + o, len - o, "%s'%s'", o ? ", " : "", ir_name_msg(sym, nm, sizeof nm));
    }
}

/* --shape DIM=N where DIM is a free dim's name (dim_param, as ONNX Runtime's free-dimension
 * overrides take it), not an input's: every input dim of that name becomes N.  1 if bound. */
static int shape_by_dim(Loader *l, Graph *g, const FeShape *sh, Binding *b, int *nb) {
  bool found = false;
  for (int i = 0; i < g->ninputs; i++)
    for (int d = 0; d < g->inputs[i]->rank; d++)
      found |= g->inputs[i]->sym[d] && !strcmp(g->inputs[i]->sym[d], sh->name);
  if (!found) return 0;
  char nm[IR_NAME_MSG];
  if (sh->rank != 1 || sh->dims[0] < 0)
    return fe_error(&l->c, "--shape '%s': a dim name takes one size (e.g. %s=4)", ir_name_msg(sh->name, nm, sizeof nm),
                    nm);
  return bind_sym(l, b, nb, sh->name, sh->dims[0]) ? -1 : 1;
}

static int apply_shape(Loader *l, Graph *g, const FeShape *sh, Binding *b, int *nb) {
  const char *name = str(sh->name);
  Value *v = NULL;
  char nm[IR_NAME_MSG];
  for (int i = 0; i < g->ninputs && !v; i++)
    if (!strcmp(g->inputs[i]->name, name)) v = g->inputs[i];
  if (!v) {
    int rc = shape_by_dim(l, g, sh, b, nb);
    if (rc) return rc < 0 ? -1 : 0;
    for (int i = 0; i < g->nvalues; i++)
      if (g->values[i]->kind == VK_CONST && !strcmp(g->values[i]->name, name))
        return fe_error(&l->c, "--shape '%s': that is an initializer, not a graph input",
                        ir_name_msg(name, nm, sizeof nm));
    char list[256] = "", dims[256];
    for (int i = 0, o = 0; i < g->ninputs && o < (int)sizeof list; i++)
      o += snprintf(list + o, sizeof list - (size_t)o, "%s'%s'", i ? ", " : "",
                    ir_name_msg(g->inputs[i]->name, nm, 64));
    dim_names(g, dims, sizeof dims);
    return fe_error(&l->c, "--shape '%s': the model has no input of that name (inputs: %s), nor a dim (dims: %s)",
                    ir_name_msg(name, nm, sizeof nm), list, *dims ? dims : "none");
  }
  char have[200];
  ir_shape_str(v, have, sizeof have);
  int64_t n;
  if (sh->rank < 0 || sh->rank > IR_MAX_RANK)
    return fe_error(&l->c, "--shape '%s': rank %d is not supported (at most %d)", IR_NM(name), sh->rank, IR_MAX_RANK);
  if (!ir_numel_ok(sh->rank, sh->dims, &n) || !ir_mul_ok(n, (int64_t)dtype_size(v->dtype), &n))
    return fe_error(&l->c, "--shape '%s': dims must be >= 0 and their product must not overflow", IR_NM(name));
  if (v->rank >= 0 && v->rank != sh->rank)
    return fe_error(&l->c, "--shape '%s': rank %d does not match the model's rank %d (%s)", IR_NM(name),
                    sh->rank, v->rank, have);
  for (int d = 0; d < sh->rank; d++) {
    if (v->rank >= 0 && v->dims[d] >= 0 && v->dims[d] != sh->dims[d])
      return fe_error(&l->c, "--shape '%s': dim %d is %lld, but the model fixes it to %lld (%s)", IR_NM(name), d,
                      (long long)sh->dims[d], (long long)v->dims[d], have);
    if (v->rank >= 0 && v->sym[d] && bind_sym(l, b, nb, v->sym[d], sh->dims[d])) return -1;
  }
  ir_value_set_shape(v, sh->rank, sh->dims);
  memset(v->sym, 0, sizeof v->sym);
  return 0;
}

/* fixes the named inputs, then any other input dim with the same dim_param as a fixed one */
static int apply_shapes(Loader *l, Graph *g, const FeOptions *opt) {
  if (!opt || opt->nshapes <= 0) return 0;
  Binding *b = calloc((size_t)opt->nshapes * IR_MAX_RANK, sizeof *b);
  if (!b) return fe_error(&l->c, "out of memory");
  int nb = 0, rc = 0;
  for (int i = 0; !rc && i < opt->nshapes; i++) rc = apply_shape(l, g, &opt->shapes[i], b, &nb);
  for (int i = 0; !rc && i < g->ninputs; i++) {
    Value *v = g->inputs[i];
    for (int d = 0; d < v->rank; d++)
      for (int k = 0; k < nb && v->sym[d]; k++)
        if (!strcmp(b[k].sym, v->sym[d])) {
          v->dims[d] = b[k].dim;
          v->sym[d] = NULL;
        }
  }
  free(b);
  return rc;
}

/* ---- the model ---- */
static int check_model(Loader *l, Graph *g) {
  const Onnx__ModelProto *m = l->m;
  int64_t irv = m->has_ir_version ? m->ir_version : 0;
  if (irv < 3 || irv > 12)
    return fe_error(&l->c, "ir_version %lld is not supported (need 3..12)", (long long)irv);
  if (!m->graph) return fe_error(&l->c, "model has no graph");
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    const char *d = default_domain(o->domain) ? "ai.onnx" : o->domain;
    if (!o->has_version || o->version < 1 || o->version > 10000)
      return fe_error(&l->c, "opset_import for domain '%.100s' has version %lld", d, (long long)o->version);
    if (opset_of(m, o->domain) != o->version)
      return fe_error(&l->c, "opset_import lists domain '%.100s' twice with different versions", d);
  }
  g->opset = opset_of(m, "");
  if (g->opset > FE_MAX_OPSET)
    return fe_error(&l->c, "opset %lld of the default domain is newer than this build supports (at most %d)",
                    (long long)g->opset, FE_MAX_OPSET);
  size_t nodes = count_nodes(m->graph, 0);
  if (nodes > FE_MAX_NODES)
    return fe_error(&l->c, "the model has more than %d nodes (refused)", FE_MAX_NODES);
  return 0;
}

static Graph *load(Loader *l, const uint8_t *buf, size_t len, uint8_t *owned, const FeOptions *opt) {
  Onnx__ModelProto *m = (Onnx__ModelProto *)fe_unpack(&l->c, &onnx__model_proto__descriptor, buf, len);
  if (!m) {
    fe_release_file(&l->c, owned, len);
    return NULL;
  }
  l->m = m;
  Graph *g = ir_graph_new();
  l->c.arena = g->arena;
  l->c.defer = true;
  fe_pool_reserve(&l->c);
  Scope s = {.g = g, .where = ""};
  int rc = check_model(l, g) || check_unsupported(l) ? -1 : 0;
  if (!rc) {
    if (*str(m->graph->name)) g->name = arena_strdup(g->arena, m->graph->name);
    rc = import_graph(l, &s, m->graph);
  }
  if (!rc) rc = apply_shapes(l, g, opt);
  if (!rc) rc = fe_copy_deferred(&l->c); /* before the file's buffer goes */
  fe_copies_free(&l->c);
  free(s.tab);
  onnx__model_proto__free_unpacked(m, &l->c.pb_alloc);
  fe_release_file(&l->c, owned, len); /* large raw_data were copied from it (read.c's skeleton) */
  if (rc) {
    if (!l->c.failed) fe_error(&l->c, "import failed");
    ir_graph_free(g);
    return NULL;
  }
  return g;
}

Graph *fe_load_buffer(const void *buf, size_t len, const char *model_dir, const FeOptions *opt, char *err,
                      size_t errlen) {
  Loader l;
  fe_init(&l.c, "<buffer>", model_dir, opt ? opt->max_bytes : 0, err, errlen);
  l.c.digest = opt ? opt->digest : NULL;
  l.c.pool_cache = opt ? opt->pool_cache : NULL;
  return load(&l, buf, len, NULL, opt);
}

Graph *fe_load(const char *path, const FeOptions *opt, char *err, size_t errlen) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  Loader l;
  fe_init(&l.c, path, dir, opt ? opt->max_bytes : 0, err, errlen);
  l.c.digest = opt ? opt->digest : NULL;
  l.c.pool_cache = opt ? opt->pool_cache : NULL;
  uint8_t *buf;
  size_t len;
  if (fe_read_file(&l.c, path, &buf, &len)) return NULL;
  return load(&l, buf, len, buf, opt);
}
