/* cluster.c — weight sharing by clustering (`onnxc compress --cluster K`, onnxc_session_cluster).
 *
 * Each clustered weight W (float32, constant) becomes a standard ONNX form that ONNX Runtime runs:
 *
 *   W_indices (uint8 initializer, W's shape) ─Cast(to INT32)─▶ ─Gather(W_codebook, axis 0)─▶ the node
 *
 * with W_codebook a float32 vector of at most K values (Gather takes int32/int64 indices only,
 * hence the Cast; the file stores one byte per weight).  passes/cluster.c finds this form again,
 * whoever wrote it, so the kernels can keep the weights as indices.
 *
 * The codebook is a per-layer 1-D k-means of the weight's values (Lloyd's iterations from a
 * linear initialization between the smallest and largest weight, as Deep Compression found best:
 * it keeps the rare large weights; no randomness, so a file clusters the same every time).  On
 * sorted values 1-D k-means is exact and cheap: each cluster is a run of the sorted values
 * between midpoints of neighbouring centroids, summed by prefix sums.  A weight with exact zeros
 * (a pruned one) keeps an exact 0 as codebook entry 0, which holds the zeros and nothing else,
 * so the sparsity survives; the nonzero weights share the other K - 1 entries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "quant.h"

#define CLUSTER_MIN_WEIGHTS 1024 /* smaller weights stay float: they cost nothing to store */
#define CLUSTER_ITERS 100

/* the weight inputs of a layer: Conv/Gemm/MatMul input 1; RNN/GRU/LSTM W (1) and R (2) */
static int weight_inputs(const Node *n, int *idx) {
  switch (n->op) {
  case OP_Conv: case OP_Gemm: case OP_MatMul: idx[0] = 1; return 1;
  case OP_RNN: case OP_GRU: case OP_LSTM: idx[0] = 1, idx[1] = 2; return 2;
  default: return 0;
  }
}

static bool listed(const char *list, const Node *n) { return !list || lib_layer_listed(list, n); }

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* first index of sorted x[0..n) with x[i] >= v */
static int64_t lower_bound(const float *x, int64_t n, double v) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (x[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* k-means of sorted x[0..n) (n > 0) into at most k centroids c[]; returns how many (distinct,
 * ascending; empty clusters dropped).  pre[i]: the sum of x[0..i). */
static int kmeans_sorted(const float *x, const double *pre, int64_t n, int k, float *c) {
  double lo = x[0], hi = x[n - 1];
  if (lo == hi || k == 1) return c[0] = x[n / 2], 1;
  double *cc = ir_xcalloc((size_t)k, sizeof *cc);
  int64_t *end = ir_xcalloc((size_t)k, sizeof *end);
  for (int j = 0; j < k; j++) cc[j] = lo + (hi - lo) * j / (k - 1);
  int m = k;
  for (int it = 0; it < CLUSTER_ITERS; it++) {
    for (int j = 0; j < m; j++) end[j] = j == m - 1 ? n : lower_bound(x, n, 0.5 * (cc[j] + cc[j + 1]));
    bool moved = false;
    int w = 0;
    for (int j = 0; j < m; j++) {
      int64_t b = j ? end[j - 1] : 0;
      if (end[j] == b) continue; /* empty: dropped */
      double mean = (pre[end[j]] - pre[b]) / (double)(end[j] - b);
      moved |= mean != cc[j] || w != j;
      cc[w] = mean, end[w++] = end[j];
    }
    m = w;
    if (!moved) break;
  }
  for (int j = 0; j < m; j++) c[j] = (float)cc[j];
  free(cc), free(end);
  return m;
}

/* the codebook entry nearest to v among sorted c[first..m) */
static int nearest(const float *c, int first, int m, float v) {
  int lo = first, hi = m - 1;
  while (lo < hi) { /* the first entry whose midpoint with the next is above v */
    int mid = (lo + hi) / 2;
    if (v > 0.5f * (c[mid] + c[mid + 1])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static Value *out_value(Graph *g, Node *n, const char *name, DType t, const Value *like) {
  Value *v = ir_value_new(g, name);
  v->dtype = t;
  v->producer = n;
  n->out[0] = v;
  ir_value_set_shape(v, like->rank, like->dims);
  return v;
}

/* the codebook (m entries) and indices of w, clustered to k values; rel error into *rel */
static int cluster_values(const float *w, int64_t n, int k, float *code, uint8_t *idx, double *rel) {
  float *s = ir_xmalloc(sizeof(float) * (size_t)n + 1);
  int64_t nz = 0;
  for (int64_t i = 0; i < n; i++)
    if (w[i] != 0) s[nz++] = w[i];
  bool zeros = nz < n;
  int m = 0;
  if (zeros) code[m++] = 0; /* entry 0: the pruned weights, exactly */
  if (nz) {
    qsort(s, (size_t)nz, sizeof *s, cmp_float);
    double *pre = ir_xmalloc(sizeof(double) * (size_t)(nz + 1));
    pre[0] = 0;
    for (int64_t i = 0; i < nz; i++) pre[i + 1] = pre[i] + s[i];
    m += kmeans_sorted(s, pre, nz, k - m, code + m);
    free(pre);
  }
  free(s);
  int first = zeros ? 1 : 0;
  double err = 0, ref = 0;
  for (int64_t i = 0; i < n; i++) {
    int j = w[i] == 0 && zeros ? 0 : nearest(code, first, m, w[i]);
    idx[i] = (uint8_t)j;
    double d = (double)w[i] - code[j];
    err += d * d, ref += (double)w[i] * w[i];
  }
  *rel = ref > 0 ? sqrt(err / ref) : 0;
  return m;
}

/* w replaced, for node n's input i, by Gather(codebook, Cast(uint8 indices)) */
static Value *cluster_weight(Graph *g, Value *w, int k, onnxc_cluster_layer *info) {
  int64_t n = ir_value_numel(w);
  float code[256];
  Value *iv = ir_const_new(g, lib_fresh_name(g, w->name, "_indices"), DT_UINT8, w->rank, w->dims);
  int m = cluster_values(w->data, n, k, code, iv->data, &info->rel_error);
  int64_t dm = m;
  Value *cb = ir_const_new(g, lib_fresh_name(g, w->name, "_codebook"), DT_FLOAT, 1, &dm);
  memcpy(cb->data, code, sizeof(float) * (size_t)m);
  Node *cast = ir_node_new(g, OP_Cast, lib_fresh_name(g, w->name, "_indices_Cast"), 1, 1);
  cast->in[0] = iv;
  lib_add_int_attr(g, cast, "to", DT_INT32);
  Value *i32 = out_value(g, cast, lib_fresh_name(g, w->name, "_indices_int32"), DT_INT32, w);
  Node *ga = ir_node_new(g, OP_Gather, lib_fresh_name(g, w->name, "_Gather"), 2, 1);
  ga->in[0] = cb, ga->in[1] = i32;
  lib_add_int_attr(g, ga, "axis", 0);
  info->weight = w->name, info->params = n, info->values = m;
  return out_value(g, ga, lib_fresh_name(g, w->name, "_clustered"), DT_FLOAT, w);
}

typedef struct Job {
  const onnxc_cluster_options *o;
  onnxc_cluster_layer *layers; /* in the graph's arena */
  int32_t n;
} Job;

static bool clusterable(const Value *w, int64_t min) {
  return w && w->kind == VK_CONST && w->data && w->dtype == DT_FLOAT && ir_value_numel(w) >= min;
}

int lib_cluster_graph(Graph *g, const onnxc_cluster_options *o, onnxc_cluster_layer **out, int32_t *nout) {
  int64_t min = o->min_weights > 0 ? o->min_weights : CLUSTER_MIN_WEIGHTS;
  int nn = g->nnodes, cap = 0;
  for (int i = 0; i < nn; i++) cap += 2;
  onnxc_cluster_layer *ls = arena_alloc(g->arena, sizeof *ls * (size_t)(cap + 1));
  Value **from = ir_xcalloc((size_t)cap + 1, sizeof *from), **to = ir_xcalloc((size_t)cap + 1, sizeof *to);
  int32_t k = 0;
  for (int i = 0; i < nn; i++) {
    Node *n = g->nodes[i];
    int idx[2], nw = weight_inputs(n, idx);
    if (n->dead || !listed(o->layers, n)) continue;
    for (int j = 0; j < nw; j++) {
      Value *w = idx[j] < n->nin ? n->in[idx[j]] : NULL, *done = NULL;
      if (!clusterable(w, min)) continue;
      for (int q = 0; q < k && !done; q++) done = from[q] == w ? to[q] : NULL;
      if (!done) {
        ls[k] = (onnxc_cluster_layer){.node = n->name, .op = ir_ops[n->op].name};
        from[k] = w, done = to[k] = cluster_weight(g, w, o->clusters, &ls[k]);
        k++;
      }
      n->in[idx[j]] = done;
    }
  }
  free(from), free(to);
  ir_graph_compact(g); /* the float weights are gone */
  *out = ls, *nout = k;
  return ir_graph_toposort(g) ? ONNXC_ERR_MODEL : ONNXC_OK;
}

int onnxc_cluster_options_check(const onnxc_cluster_options *o, char *err, size_t errlen) {
  if (!o) return snprintf(err, errlen, "no cluster options"), ONNXC_ERR_ARGUMENT;
  if (o->clusters < 2 || o->clusters > 256)
    return snprintf(err, errlen, "cluster count %d is not in 2..256 (the indices are one byte)", o->clusters),
           ONNXC_ERR_ARGUMENT;
  if (o->min_weights < 0) return snprintf(err, errlen, "min_weights %lld is negative", (long long)o->min_weights), ONNXC_ERR_ARGUMENT;
  return ONNXC_OK;
}

static int do_cluster(onnxc_session *s, void *arg) {
  const onnxc_cluster_options *o = arg;
  char err[512];
  int rc = lib_layer_list_check(s->g, o->layers, "cluster: layer", err, sizeof err);
  if (rc) return lib_fail(s, rc, "%s", err);
  onnxc_cluster_layer *ls;
  int32_t n;
  if ((rc = lib_cluster_graph(s->g, o, &ls, &n))) return lib_fail(s, rc, "cluster: %s", ir_last_error(s->g));
  s->cluster = ls, s->nclustered = n;
  lib_prune_free(s->prune); /* the layers' weights changed */
  s->prune = NULL;
  /* the cache keys code by the file's bytes: the clustering joins them */
  char key[64];
  snprintf(key, sizeof key, "cluster %d %lld", o->clusters, (long long)o->min_weights);
  if (s->model_digest) s->model_digest = ir_hash64(key, strlen(key), s->model_digest);
  if (s->model_digest && o->layers) s->model_digest = ir_hash64(o->layers, strlen(o->layers), s->model_digest);
  return ONNXC_OK;
}

int onnxc_session_cluster(onnxc_session *s, const onnxc_cluster_options *o) {
  if (!s) return ONNXC_ERR_ARGUMENT;
  char err[512];
  if (onnxc_cluster_options_check(o, err, sizeof err)) return lib_fail(s, ONNXC_ERR_ARGUMENT, "cluster: %s", err);
  if (lib_check_rewritable(s, "cluster")) return ONNXC_ERR_STATE;
  if (s->cluster) return lib_fail(s, ONNXC_ERR_STATE, "cluster: the model is clustered already");
  return lib_guard(s, do_cluster, (void *)o);
}

int32_t onnxc_session_num_clustered(const onnxc_session *s) { return s ? s->nclustered : 0; }

int onnxc_session_clustered(const onnxc_session *s, int32_t i, onnxc_cluster_layer *out) {
  if (!s || !out || i < 0 || i >= s->nclustered) return ONNXC_ERR_ARGUMENT;
  *out = s->cluster[i];
  return ONNXC_OK;
}
