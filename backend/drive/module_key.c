/* module_key.c — kernels found identical before they are generated.
 *
 * kb_kernel_end shares a kernel whose IR text equals an earlier one's, but only after generating
 * and printing it: on a long chain of like nodes that work (and printing, whose cost grows with
 * the module) was most of the compile.  A node's key is everything its generator reads: op,
 * domain, opset, attributes, each input's and output's dtype, dims, layout, kind and storage
 * class, the contents of small constants (and the identity of large ones, whose packed copies
 * are then the same too), and the fused epilogue's nodes likewise.  A node whose key was seen
 * takes the earlier node's kernel, weight offsets and GenCtx results without running its
 * generator.  Control nodes (their subgraphs) are never keyed. */
#include <stdlib.h>
#include <string.h>

#include "module_key.h"
#include "passes.h"

/* constants up to this size are keyed by content; larger ones by identity */
#define KEY_INLINE_BYTES 4096

typedef struct Key {
  uint8_t *p;
  size_t n, cap;
  bool ok;
} Key;

static void put(Key *k, const void *src, size_t n) {
  if (k->cap - k->n < n) {
    size_t cap = k->cap ? k->cap : 256;
    while (cap - k->n < n) cap *= 2;
    k->p = ir_xrealloc(k->p, cap);
    k->cap = cap;
  }
  if (n) memcpy(k->p + k->n, src, n);
  k->n += n;
}

static void put_i64(Key *k, int64_t v) { put(k, &v, sizeof v); }

static void put_str(Key *k, const char *s) {
  put_i64(k, s ? (int64_t)strlen(s) : -1);
  if (s) put(k, s, strlen(s));
}

static void put_value(Key *k, const Value *v) {
  if (!v) {
    put_i64(k, -1);
    return;
  }
  int64_t head[5] = {v->dtype, v->rank, v->layout, v->kind, v->storage};
  put(k, head, sizeof head);
  if (v->rank > 0) put(k, v->dims, sizeof(int64_t) * (size_t)v->rank);
  int64_t bytes = v->data ? pass_value_bytes(v) : -3;
  if (v->data && bytes >= 0 && bytes <= KEY_INLINE_BYTES) {
    put_i64(k, bytes);
    put(k, v->data, (size_t)bytes);
  } else {
    put_i64(k, v->data ? -2 : -3);
    if (v->data) put(k, &v, sizeof v); /* the same Value: the same contents */
  }
}

static void put_attr(Key *k, const Attr *a) {
  put_str(k, a->name);
  int64_t head[3] = {a->type, a->i, a->n};
  put(k, head, sizeof head);
  put(k, &a->f, sizeof a->f);
  put_str(k, a->s);
  int n = a->n > 0 ? a->n : 0;
  switch (a->type) {
  case AT_FLOATS: put(k, a->floats, sizeof(float) * (size_t)n); break;
  case AT_INTS: put(k, a->ints, sizeof(int64_t) * (size_t)n); break;
  case AT_STRINGS:
    for (int i = 0; i < n; i++) put_str(k, a->strings[i]);
    break;
  case AT_TENSOR: put_value(k, a->t); break;
  case AT_TENSORS:
    for (int i = 0; i < n; i++) put_value(k, a->tensors[i]);
    break;
  case AT_GRAPH:
  case AT_GRAPHS: k->ok = false; break;
  default: break;
  }
}

static void put_node(Key *k, const Graph *g, const Node *n) {
  int64_t head[5] = {n->op, g->opset, n->nin, n->nout, n->nattr};
  put(k, head, sizeof head);
  put_str(k, n->domain);
  for (int i = 0; i < n->nin; i++) put_value(k, n->in[i]);
  for (int i = 0; i < n->nout; i++) put_value(k, n->out[i]);
  /* which operands are the same value (x + x): a generator may tell */
  for (int i = 0; i < n->nin + n->nout; i++) {
    const Value *v = i < n->nin ? n->in[i] : n->out[i - n->nin];
    int first = i;
    for (int j = 0; j < i && first == i; j++)
      if (v && v == (j < n->nin ? n->in[j] : n->out[j - n->nin])) first = j;
    put_i64(k, first);
  }
  for (int i = 0; i < n->nattr; i++) put_attr(k, &n->attrs[i]);
}

static bool node_key(const Graph *g, const Node *n, Key *k) {
  k->n = 0;
  k->ok = ir_ops[n->op].family != F_CONTROL;
  if (!k->ok) return false;
  put_node(k, g, n);
  put_i64(k, n->binary); /* the binary pass's mark picks the kernel (gen_binary_conv.c) */
  put_i64(k, n->nhwc);   /* so does the layout pass's (gen_conv_nhwc.c) */
  put_i64(k, n->epi ? n->epi->nact : -1);
  if (n->epi) {
    put_value(k, n->epi->res);
    for (int i = 0; i < n->epi->nact; i++) put_node(k, g, n->epi->act[i]);
  }
  return k->ok;
}

static uint64_t hash(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

struct KernelKeys {
  Key key;          /* the current node's, built by be_keys_find */
  uint64_t hash;
  KeyedKernel *tab; /* open addressing, a power of two in size, at most half full */
  size_t cap, n;
};

KernelKeys *be_keys_new(void) { return ir_xcalloc(1, sizeof(KernelKeys)); }

void be_keys_free(KernelKeys *ks) {
  if (!ks) return;
  for (size_t i = 0; i < ks->cap; i++) {
    free(ks->tab[i].key);
    free(ks->tab[i].wofs);
  }
  free(ks->tab);
  free(ks->key.p);
  free(ks);
}

const KeyedKernel *be_keys_find(KernelKeys *ks, const Graph *g, const Node *n) {
  if (!ks || !node_key(g, n, &ks->key)) return NULL;
  ks->hash = hash(ks->key.p, ks->key.n);
  for (size_t i = ks->hash & (ks->cap - 1); ks->cap && ks->tab[i].key; i = (i + 1) & (ks->cap - 1))
    if (ks->tab[i].hash == ks->hash && ks->tab[i].len == ks->key.n && !memcmp(ks->tab[i].key, ks->key.p, ks->key.n))
      return &ks->tab[i];
  return NULL;
}

static void insert(KernelKeys *ks, KeyedKernel e) {
  size_t i = e.hash & (ks->cap - 1);
  while (ks->tab[i].key) i = (i + 1) & (ks->cap - 1);
  ks->tab[i] = e;
}

void be_keys_add(KernelKeys *ks, const Graph *g, const Node *n, const KeyedKernel *what) {
  if (!ks || !node_key(g, n, &ks->key)) return;
  if (2 * (ks->n + 1) > ks->cap) {
    KernelKeys old = *ks;
    ks->cap = ks->cap ? 2 * ks->cap : 64;
    ks->tab = ir_xcalloc(ks->cap, sizeof *ks->tab);
    for (size_t i = 0; i < old.cap; i++)
      if (old.tab[i].key) insert(ks, old.tab[i]);
    free(old.tab);
  }
  KeyedKernel e = *what;
  e.hash = hash(ks->key.p, ks->key.n);
  e.len = ks->key.n;
  e.key = ir_xmalloc(ks->key.n);
  memcpy(e.key, ks->key.p, ks->key.n);
  e.wofs = ir_xmalloc(sizeof(size_t) * (size_t)(what->nw ? what->nw : 1));
  if (what->nw) memcpy(e.wofs, what->wofs, sizeof(size_t) * (size_t)what->nw);
  insert(ks, e);
  ks->n++;
}
