/* graph.c — building and editing graphs, errors, attributes, constant access. */
#include "ir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dtypes ---- */
static const struct {
  const char *name;
  size_t size;
} dtypes[DT_COUNT] = {
    [DT_FLOAT] = {"float32", 4},  [DT_UINT8] = {"uint8", 1},     [DT_INT8] = {"int8", 1},
    [DT_UINT16] = {"uint16", 2},  [DT_INT16] = {"int16", 2},     [DT_INT32] = {"int32", 4},
    [DT_INT64] = {"int64", 8},    [DT_STRING] = {"string", 0},   [DT_BOOL] = {"bool", 1},
    [DT_FLOAT16] = {"float16", 2}, [DT_DOUBLE] = {"float64", 8}, [DT_UINT32] = {"uint32", 4},
    [DT_UINT64] = {"uint64", 8},  [DT_COMPLEX64] = {"complex64", 0},
    [DT_COMPLEX128] = {"complex128", 0}, [DT_BFLOAT16] = {"bfloat16", 2},
};

size_t dtype_size(DType t) { return (unsigned)t < DT_COUNT ? dtypes[t].size : 0; }
const char *dtype_name(DType t) {
  return (unsigned)t < DT_COUNT && dtypes[t].name ? dtypes[t].name : "undefined";
}
bool dtype_is_float(DType t) {
  return t == DT_FLOAT || t == DT_DOUBLE || t == DT_FLOAT16 || t == DT_BFLOAT16;
}
bool dtype_is_signed(DType t) {
  return dtype_is_float(t) || t == DT_INT8 || t == DT_INT16 || t == DT_INT32 || t == DT_INT64;
}
bool dtype_supported(DType t) { return t > DT_UNDEF && t < DT_COUNT && dtype_size(t) > 0; }

/* ---- graphs ---- */
Graph *ir_graph_new(void) {
  Arena *a = ir_xcalloc(1, sizeof *a);
  Graph *g = arena_alloc(a, sizeof *g);
  g->arena = a;
  g->name = "main";
  return g;
}

Graph *ir_graph_new_sub(Graph *parent) {
  Graph *g = arena_alloc(parent->arena, sizeof *g);
  g->arena = parent->arena;
  g->parent = parent;
  g->depth = parent->depth + 1;
  g->opset = parent->opset;
  g->name = "subgraph";
  return g;
}

void ir_graph_free(Graph *g) {
  if (!g) return;
  Arena *a = g->arena;
  free(g->err);
  arena_free(a);
  free(a);
}

static void *grow(Arena *a, void *old, int n, int *cap, size_t elem) {
  if (n < *cap) return old;
  int ncap = *cap ? *cap * 2 : 16;
  void *p = arena_alloc(a, (size_t)ncap * elem);
  if (old) memcpy(p, old, (size_t)n * elem);
  *cap = ncap;
  return p;
}

Value *ir_value_new(Graph *g, const char *name) {
  Value *v = arena_alloc(g->arena, sizeof *v);
  v->id = g->nvalues;
  v->name = name ? arena_strdup(g->arena, name) : arena_printf(g->arena, "%%%d", g->nvalues);
  v->rank = -1;
  for (int i = 0; i < IR_MAX_RANK; i++) v->dims[i] = -1;
  g->values = grow(g->arena, g->values, g->nvalues, &g->cap_values, sizeof(Value *));
  g->values[g->nvalues++] = v;
  return v;
}

Node *ir_node_new(Graph *g, Op op, const char *name, int nin, int nout) {
  Node *n = arena_alloc(g->arena, sizeof *n);
  n->id = g->nnodes;
  n->op = op;
  n->name = name && *name ? arena_strdup(g->arena, name)
                          : arena_printf(g->arena, "%s_%d", ir_ops[op].name, g->nnodes);
  n->domain = "";
  n->nin = nin;
  n->nout = nout;
  n->in = arena_alloc(g->arena, sizeof(Value *) * (size_t)(nin ? nin : 1));
  n->out = arena_alloc(g->arena, sizeof(Value *) * (size_t)(nout ? nout : 1));
  g->nodes = grow(g->arena, g->nodes, g->nnodes, &g->cap_nodes, sizeof(Node *));
  g->nodes[g->nnodes++] = n;
  return n;
}

void ir_node_remove(Graph *g, Node *n) {
  (void)g;
  n->dead = true;
  for (int i = 0; i < n->nout; i++)
    if (n->out[i] && n->out[i]->producer == n) n->out[i]->producer = NULL;
}

void ir_graph_compact(Graph *g) {
  int k = 0;
  for (int i = 0; i < g->nnodes; i++)
    if (!g->nodes[i]->dead) g->nodes[k++] = g->nodes[i];
  g->nnodes = k;
  for (int i = 0; i < g->nnodes; i++) g->nodes[i]->id = i;
}

void ir_graph_count_users(Graph *g) {
  for (int i = 0; i < g->nvalues; i++) g->values[i]->nusers = 0;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    for (int j = 0; j < n->nin; j++)
      if (n->in[j]) n->in[j]->nusers++;
  }
  for (int i = 0; i < g->noutputs; i++) g->outputs[i]->nusers++;
}

void ir_value_replace_uses(Graph *g, Value *from, Value *to) {
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    for (int j = 0; j < n->nin; j++)
      if (n->in[j] == from) n->in[j] = to;
  }
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == from) g->outputs[i] = to;
}

/* The values node n reads from g: its inputs, plus values its subgraphs capture from g (a
 * capture in a nested subgraph reaches g through a chain of ->outer links). */
static void collect_captures(const Graph *g, const Graph *sub, Value ***deps, int *n, int *cap) {
  for (int i = 0; i < sub->nvalues; i++) {
    Value *v = sub->values[i];
    while (v && v->outer && v->kind != VK_TEMP) {
      Value *o = v->outer;
      if (o->id < g->nvalues && g->values[o->id] == o) {
        if (*n == *cap) {
          *cap = *cap ? *cap * 2 : 16;
          *deps = ir_xrealloc(*deps, sizeof(Value *) * (size_t)*cap);
        }
        (*deps)[(*n)++] = o;
        break;
      }
      v = o;
    }
  }
  for (int k = 0; k < sub->nnodes; k++) {
    const Node *m = sub->nodes[k];
    for (int a = 0; a < m->nattr; a++) {
      if (m->attrs[a].type == AT_GRAPH && m->attrs[a].g) collect_captures(g, m->attrs[a].g, deps, n, cap);
      if (m->attrs[a].type == AT_GRAPHS)
        for (int j = 0; j < m->attrs[a].n; j++) collect_captures(g, m->attrs[a].graphs[j], deps, n, cap);
    }
  }
}

static int node_deps(const Graph *g, const Node *nd, Value ***deps, int *cap) {
  int n = 0;
  for (int j = 0; j < nd->nin; j++) {
    if (n == *cap) {
      *cap = *cap ? *cap * 2 : 16;
      *deps = ir_xrealloc(*deps, sizeof(Value *) * (size_t)*cap);
    }
    (*deps)[n++] = nd->in[j];
  }
  for (int a = 0; a < nd->nattr; a++) {
    if (nd->attrs[a].type == AT_GRAPH && nd->attrs[a].g) collect_captures(g, nd->attrs[a].g, deps, &n, cap);
    if (nd->attrs[a].type == AT_GRAPHS)
      for (int j = 0; j < nd->attrs[a].n; j++) collect_captures(g, nd->attrs[a].graphs[j], deps, &n, cap);
  }
  return n;
}

/* Kahn's algorithm over producer edges (inputs and subgraph captures); values produced outside the
 * node list count as ready. */
int ir_graph_toposort(Graph *g) {
  int n = g->nnodes;
  if (n == 0) return 0;
  int *indeg = ir_xcalloc((size_t)n, sizeof(int));
  Node **order = ir_xcalloc((size_t)n, sizeof(Node *));
  int *prod = ir_xcalloc((size_t)g->nvalues + 1, sizeof(int)); /* value id -> producer index + 1 */
  int *ucount = ir_xcalloc((size_t)n + 1, sizeof(int));
  for (int i = 0; i < n; i++) g->nodes[i]->id = i;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < g->nodes[i]->nout; j++) {
      Value *v = g->nodes[i]->out[j];
      if (v && v->id < g->nvalues && g->values[v->id] == v) prod[v->id] = i + 1;
    }
  /* edges producer -> consumer, in CSR form */
  Value **deps = NULL;
  int cap = 0, nedges = 0;
  for (int i = 0; i < n; i++) {
    int nd = node_deps(g, g->nodes[i], &deps, &cap);
    for (int j = 0; j < nd; j++) {
      Value *v = deps[j];
      if (v && v->id < g->nvalues && g->values[v->id] == v && prod[v->id]) {
        indeg[i]++;
        ucount[prod[v->id] - 1]++;
        nedges++;
      }
    }
  }
  int *start = ir_xcalloc((size_t)n + 1, sizeof(int)), *fill = ir_xcalloc((size_t)n + 1, sizeof(int));
  int *succ = ir_xcalloc((size_t)nedges + 1, sizeof(int));
  for (int i = 0; i < n; i++) start[i + 1] = start[i] + ucount[i];
  for (int i = 0; i < n; i++) {
    int nd = node_deps(g, g->nodes[i], &deps, &cap);
    for (int j = 0; j < nd; j++) {
      Value *v = deps[j];
      if (v && v->id < g->nvalues && g->values[v->id] == v && prod[v->id]) {
        int p = prod[v->id] - 1;
        succ[start[p] + fill[p]++] = i;
      }
    }
  }
  int head = 0, tail = 0;
  for (int i = 0; i < n; i++)
    if (indeg[i] == 0) order[tail++] = g->nodes[i];
  while (head < tail) {
    int p = order[head++]->id;
    for (int e = start[p]; e < start[p + 1]; e++)
      if (--indeg[succ[e]] == 0) order[tail++] = g->nodes[succ[e]];
  }
  int rc = 0;
  if (tail != n) {
    for (int i = 0; i < n; i++)
      if (indeg[i] > 0) {
        rc = ir_node_error(g, g->nodes[i], "graph has a cycle through this node");
        break;
      }
  } else {
    memcpy(g->nodes, order, sizeof(Node *) * (size_t)n);
    for (int i = 0; i < n; i++) g->nodes[i]->id = i;
  }
  free(deps);
  free(indeg);
  free(order);
  free(prod);
  free(ucount);
  free(start);
  free(fill);
  free(succ);
  return rc;
}

/* ---- errors ---- */
static Graph *root(const Graph *g) {
  while (g->parent) g = g->parent;
  return (Graph *)g;
}

static int verror(Graph *g, const char *prefix, const char *fmt, va_list ap) {
  Graph *r = root(g);
  if (r->err) return -1; /* keep the first error: later ones are usually consequences */
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "%s", prefix);
  vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
  ir_msg_escape(buf, sizeof buf);
  r->err = strdup(buf);
  return -1;
}

int ir_error(Graph *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verror(g, "", fmt, ap);
  va_end(ap);
  return -1;
}

int ir_node_error(Graph *g, const Node *n, const char *fmt, ...) {
  char prefix[300], nm[IR_NAME_MSG];
  snprintf(prefix, sizeof prefix, "node '%s' (%s): ", ir_name_msg(n->name, nm, sizeof nm), ir_ops[n->op].name);
  va_list ap;
  va_start(ap, fmt);
  verror(g, prefix, fmt, ap);
  va_end(ap);
  return -1;
}

const char *ir_last_error(const Graph *g) {
  const Graph *r = root(g);
  return r->err ? r->err : "unknown error";
}

/* ---- shapes ---- */
bool ir_mul_ok(int64_t a, int64_t b, int64_t *out) {
  if (a < 0 || b < 0) return false;
  if (a != 0 && b > INT64_MAX / a) return false;
  *out = a * b;
  return true;
}

bool ir_numel_ok(int rank, const int64_t *dims, int64_t *out) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++)
    if (!ir_mul_ok(n, dims[i], &n)) return false;
  *out = n;
  return true;
}

int64_t ir_value_numel(const Value *v) {
  int64_t n;
  if (v->rank < 0 || !ir_numel_ok(v->rank, v->dims, &n)) return -1;
  return n;
}

bool ir_value_shape_known(const Value *v) {
  if (v->rank < 0) return false;
  for (int i = 0; i < v->rank; i++)
    if (v->dims[i] < 0) return false;
  return true;
}

void ir_value_set_shape(Value *v, int rank, const int64_t *dims) {
  v->rank = rank;
  for (int i = 0; i < IR_MAX_RANK; i++) v->dims[i] = i < rank ? dims[i] : -1;
}

bool ir_same_shape(const Value *a, const Value *b) {
  if (a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

void ir_shape_str(const Value *v, char *buf, size_t len) {
  if (v->rank < 0) {
    snprintf(buf, len, "?");
    return;
  }
  if (v->rank == 0) {
    snprintf(buf, len, "scalar");
    return;
  }
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < v->rank && o < len; i++) {
    if (v->dims[i] >= 0)
      o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "x" : "", (long long)v->dims[i]);
    else
      o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "x" : "", v->sym[i] ? v->sym[i] : "?");
  }
}

/* ---- attributes ---- */
const Attr *ir_attr(const Node *n, const char *name) {
  for (int i = 0; i < n->nattr; i++)
    if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
  return NULL;
}

int64_t ir_attr_int(const Node *n, const char *name, int64_t def) {
  const Attr *a = ir_attr(n, name);
  return a && a->type == AT_INT ? a->i : def;
}

float ir_attr_float(const Node *n, const char *name, float def) {
  const Attr *a = ir_attr(n, name);
  if (a && a->type == AT_FLOAT) return a->f;
  if (a && a->type == AT_INT) return (float)a->i;
  return def;
}

const char *ir_attr_str(const Node *n, const char *name, const char *def) {
  const Attr *a = ir_attr(n, name);
  return a && a->type == AT_STRING ? a->s : def;
}

int ir_attr_ints(const Node *n, const char *name, const int64_t **out) {
  const Attr *a = ir_attr(n, name);
  if (!a || a->type != AT_INTS) return -1;
  *out = a->ints;
  return a->n;
}

/* ---- constant data ---- */
static uint16_t f32_to_f16(float f);
static float f16_to_f32(uint16_t h);

double ir_const_f64(const Value *v, int64_t i) {
  const void *d = v->data;
  switch (v->dtype) {
  case DT_FLOAT: return ((const float *)d)[i];
  case DT_DOUBLE: return ((const double *)d)[i];
  case DT_FLOAT16: return f16_to_f32(((const uint16_t *)d)[i]);
  case DT_BFLOAT16: {
    uint32_t u = (uint32_t)((const uint16_t *)d)[i] << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  case DT_INT8: return ((const int8_t *)d)[i];
  case DT_UINT8: return ((const uint8_t *)d)[i];
  case DT_BOOL: return ((const uint8_t *)d)[i] != 0;
  case DT_INT16: return ((const int16_t *)d)[i];
  case DT_UINT16: return ((const uint16_t *)d)[i];
  case DT_INT32: return ((const int32_t *)d)[i];
  case DT_UINT32: return ((const uint32_t *)d)[i];
  case DT_INT64: return (double)((const int64_t *)d)[i];
  case DT_UINT64: return (double)((const uint64_t *)d)[i];
  default: return 0;
  }
}

int64_t ir_const_i64(const Value *v, int64_t i) {
  const void *d = v->data;
  switch (v->dtype) {
  case DT_INT64: return ((const int64_t *)d)[i];
  case DT_UINT64: return (int64_t)((const uint64_t *)d)[i];
  case DT_INT32: return ((const int32_t *)d)[i];
  case DT_UINT32: return ((const uint32_t *)d)[i];
  case DT_INT16: return ((const int16_t *)d)[i];
  case DT_UINT16: return ((const uint16_t *)d)[i];
  case DT_INT8: return ((const int8_t *)d)[i];
  case DT_UINT8: return ((const uint8_t *)d)[i];
  case DT_BOOL: return ((const uint8_t *)d)[i] != 0;
  default: {
    double x = ir_const_f64(v, i);
    if (x != x) return 0;
    if (x >= 9.2e18) return INT64_MAX;
    if (x <= -9.2e18) return INT64_MIN;
    return (int64_t)x;
  }
  }
}

void ir_store_f64(DType t, void *d, int64_t i, double x) {
  switch (t) {
  case DT_FLOAT: ((float *)d)[i] = (float)x; break;
  case DT_DOUBLE: ((double *)d)[i] = x; break;
  case DT_FLOAT16: ((uint16_t *)d)[i] = f32_to_f16((float)x); break;
  case DT_BFLOAT16: {
    float f = (float)x;
    uint32_t u;
    memcpy(&u, &f, 4);
    if (f != f) u = (u | 0x400000u); /* NaN stays NaN (quieted) */
    else u += 0x7fff + ((u >> 16) & 1); /* round to nearest even */
    ((uint16_t *)d)[i] = (uint16_t)(u >> 16);
    break;
  }
  case DT_BOOL: ((uint8_t *)d)[i] = x != 0; break;
  default:
    if (x != x) x = 0;
    if (t == DT_UINT64 && x >= 9.2e18)
      ((uint64_t *)d)[i] = (uint64_t)x;
    else
      ir_store_i64(t, d, i, x >= 9.2e18 ? INT64_MAX : x <= -9.2e18 ? INT64_MIN : (int64_t)x);
  }
}

void ir_store_i64(DType t, void *d, int64_t i, int64_t x) {
  switch (t) {
  case DT_INT64: ((int64_t *)d)[i] = x; break;
  case DT_UINT64: ((uint64_t *)d)[i] = (uint64_t)x; break;
  case DT_INT32: ((int32_t *)d)[i] = (int32_t)x; break;
  case DT_UINT32: ((uint32_t *)d)[i] = (uint32_t)x; break;
  case DT_INT16: ((int16_t *)d)[i] = (int16_t)x; break;
  case DT_UINT16: ((uint16_t *)d)[i] = (uint16_t)x; break;
  case DT_INT8: ((int8_t *)d)[i] = (int8_t)x; break;
  case DT_UINT8: ((uint8_t *)d)[i] = (uint8_t)x; break;
  case DT_BOOL: ((uint8_t *)d)[i] = x != 0; break;
  default: ir_store_f64(t, d, i, (double)x);
  }
}

/* how: 1 zeroed, 0 not, 2 kept (arena_alloc_kept) */
static Value *const_new(Graph *g, const char *name, DType t, int rank, const int64_t *dims, int how) {
  Value *v = ir_value_new(g, name);
  v->kind = VK_CONST;
  v->dtype = t;
  ir_value_set_shape(v, rank, dims);
  int64_t n = ir_value_numel(v);
  size_t bytes = (size_t)(n > 0 ? n : 1) * dtype_size(t);
  if (how == 1) {
    v->data = arena_alloc(g->arena, bytes);
    return v;
  }
  if (how == 2) {
    if (!(v->data = arena_alloc_kept(g->arena, bytes))) ir_oom();
    return v;
  }
  if (!(v->data = arena_try_alloc_uninit(g->arena, bytes))) ir_oom();
  arena_advise_huge(v->data, bytes);
  return v;
}

Value *ir_const_new(Graph *g, const char *name, DType t, int rank, const int64_t *dims) {
  return const_new(g, name, t, rank, dims, 1);
}

Value *ir_const_new_kept(Graph *g, const char *name, DType t, int rank, const int64_t *dims) {
  return const_new(g, name, t, rank, dims, 2);
}

Value *ir_const_new_filled(Graph *g, const char *name, DType t, int rank, const int64_t *dims) {
  return const_new(g, name, t, rank, dims, 0);
}

/* IEEE half conversions (round to nearest even) */
static uint16_t f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
  int exp = (int)((x >> 23) & 0xff);
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
  int e = exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, x;
  if (exp == 0) {
    if (!mant) x = sign;
    else {
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while (!(mant & 0x400));
      x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 0x1f)
    x = sign | 0x7f800000 | (mant << 13);
  else
    x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  float f;
  memcpy(&f, &x, 4);
  return f;
}

void tensor_free(Tensor *t) {
  free(t->data);
  t->data = NULL;
  t->bytes = 0;
}

int64_t tensor_numel(const Tensor *t) {
  int64_t n;
  return ir_numel_ok(t->rank, t->dims, &n) ? n : -1;
}
