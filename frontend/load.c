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
    serr(l, s, "value '%.200s' is defined twice (again as %s)", v->name, what);
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
  static const char *const kinds[] = {[ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE] = "sequence",
                                      [ONNX__TYPE_PROTO__VALUE_MAP_TYPE] = "map",
                                      [ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE] = "sparse tensor",
                                      [ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE] = "optional"};
  if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
    unsigned k = (unsigned)tp->value_case;
    return serr(l, s, "%s: only tensor types are supported (this is a %s)", what,
                k < sizeof kinds / sizeof *kinds && kinds[k] ? kinds[k] : "unknown type");
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
  if (memchr(b->data, 0, b->len)) {
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
    else a->graphs = NULL, a->n = cnt;
    if (!one) {
      /* AT_TENSORS: Attr has no Value list; keep them reachable through t (first) and n */
      a->t = cnt ? vs[0] : NULL;
    }
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
    return serr(l, s, "%s: attribute type %d is not supported", what, (int)a->type);
  }
}
