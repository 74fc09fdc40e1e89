/* prune.c — magnitude pruning of a session's model (onnxc prune, --prune): the layers and their
 * K x N view, measuring sparsity and structure (onnxc info), zeroing by magnitude (unstructured,
 * N:M, blocks; per layer or one threshold over all layers), the spec's text form and the API.
 * Channel pruning is prune_channel.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_contract.h"
#include "gen_sparse_q8.h"
#include "gen_sparse_rnn.h"
#include "prune.h"

/* ---- layers ---- */

static bool const_f32(const Value *v) { return v && v->kind == VK_CONST && v->data && v->dtype == DT_FLOAT; }

static bool rnn_view(Node *n, PruneLayer *l);

/* the K x N view fields of l from node n's current weight */
static bool view_of(Node *n, PruneLayer *l) {
  if (l->win) return rnn_view(n, l);
  Value *w = n->nin > 1 ? n->in[1] : NULL;
  if (!const_f32(w) || ir_value_numel(w) <= 0) return false;
  l->w = w;
  if (n->op == OP_Conv && w->rank >= 3) {
    int64_t ks = 1;
    for (int d = 2; d < w->rank; d++) ks *= w->dims[d];
    /* k = kernel position * Cin + input channel, so N:M groups are neighbouring input channels */
    l->n = w->dims[0], l->ka = w->dims[1], l->k = w->dims[1] * ks;
    l->sa = ks, l->sb = 1, l->sn = w->dims[1] * ks;
  } else if ((n->op == OP_Gemm || n->op == OP_MatMul) && w->rank == 2) {
    bool tb = n->op == OP_Gemm && ir_attr_int(n, "transB", 0);
    l->k = l->ka = w->dims[tb ? 1 : 0], l->n = w->dims[tb ? 0 : 1];
    l->sa = tb ? 1 : l->n, l->sb = 0, l->sn = tb ? l->k : 1;
  } else
    return false;
  return true;
}

bool prune_layer_view(Node *n, PruneLayer *l) {
  memset(l, 0, sizeof *l);
  l->node = n;
  if (!view_of(n, l)) return false;
  l->ch_before = l->ch_after = l->n;
  l->kept_energy = 1;
  return true;
}

/* ls[*n] (viewed) joins the list unless its weight is an earlier layer's */
static void add_layer(PruneLayer *ls, int *n) {
  bool seen = false; /* a shared weight is pruned once, with its first layer */
  for (int j = 0; j < *n && !seen; j++) seen = ls[j].w == ls[*n].w;
  if (!seen) prune_measure(&ls[(*n)++]);
}

PruneLayer *prune_layers(Graph *g, int *n) {
  PruneLayer *ls = ir_xcalloc(2 * (size_t)g->nnodes + 1, sizeof *ls); /* an RNN node has two */
  *n = 0;
  for (int i = 0; i < g->nnodes; i++) {
    if (g->nodes[i]->dead) continue;
    if (prune_layer_view(g->nodes[i], &ls[*n])) add_layer(ls, n);
    else
      for (int win = 1; win <= 2; win++)
        if (prune_rnn_view(g->nodes[i], win, &ls[*n])) add_layer(ls, n);
  }
  return ls;
}

/* ---- int8 matmuls: their int8 weight [K, N] (onnxc info on a quantized model) ---- */

static const Value *q8_weight(const Node *n) {
  const Value *w = pass_sparse_q8_weight(n);
  if (w || n->op != OP_MatMul || n->nin < 2 || !n->in[1] || !n->in[1]->producer) return w;
  const Node *dq = n->in[1]->producer; /* static QDQ: MatMul(DequantizeLinear(x), DequantizeLinear(W)) */
  w = dq->op == OP_DequantizeLinear && dq->nin >= 1 ? dq->in[0] : NULL;
  return w && w->kind == VK_CONST && w->data && w->dtype == DT_INT8 && w->rank == 2 ? w : NULL;
}

static bool q8_view(Node *n, PruneLayer *l) {
  const Value *w = q8_weight(n);
  if (!w || ir_value_numel(w) <= 0) return false;
  memset(l, 0, sizeof *l);
  l->node = n;
  l->w = (Value *)w;
  l->int8 = true;
  l->k = l->ka = w->dims[0], l->n = w->dims[1];
  l->sa = l->n, l->sb = 0, l->sn = 1;
  l->ch_before = l->ch_after = l->n;
  l->kept_energy = 1;
  return true;
}

PruneLayer *prune_layers_all(Graph *g, int *n) {
  PruneLayer *ls = prune_layers(g, n);
  for (int i = 0; i < g->nnodes; i++)
    if (!g->nodes[i]->dead && q8_view(g->nodes[i], &ls[*n])) add_layer(ls, n);
  return ls;
}

/* ---- LSTM / GRU / RNN: W (input 1) and R (input 2) are two layers ---- */

static bool rnn_op(Op op) { return op == OP_LSTM || op == OP_GRU || op == OP_RNN; }

/* W [D][G·H][I] (R [D][G·H][H]) as K = I (H) by N = D·G·H: element (k, n) at n·K + k, so a block
 * 1x16 is 16 neighbouring gate units at one reduction index, one vector of the kernel's panel
 * (gen_sparse_rnn.h) */
static bool rnn_view(Node *n, PruneLayer *l) {
  Value *w = rnn_op(n->op) && l->win < n->nin ? n->in[l->win] : NULL;
  if (!const_f32(w) || w->rank != 3 || ir_value_numel(w) <= 0) return false;
  l->w = w;
  l->k = l->ka = w->dims[2], l->n = w->dims[0] * w->dims[1];
  l->sa = 1, l->sb = 0, l->sn = l->k;
  return true;
}

bool prune_rnn_view(Node *n, int win, PruneLayer *l) {
  memset(l, 0, sizeof *l);
  l->node = n;
  l->win = win;
  if (!rnn_view(n, l)) return false;
  l->ch_before = l->ch_after = l->n;
  l->kept_energy = 1;
  return true;
}

/* ---- measuring ---- */

/* the sparse pass's detector (passes/sparse.c), on the layer's K x N view (an int8 weight as floats) */
void prune_measure(PruneLayer *l) {
  float *f = NULL;
  if (l->int8) {
    int64_t ne = ir_value_numel(l->w);
    if (!(f = malloc(sizeof(float) * (size_t)ne))) {
      snprintf(l->structure, sizeof l->structure, "unknown (out of memory)");
      return;
    }
    for (int64_t i = 0; i < ne; i++) f[i] = ((const int8_t *)l->w->data)[i];
  }
  SparseView v = {.w = f ? f : l->w->data, .k = l->k, .n = l->n, .ka = l->ka, .sa = l->sa, .sb = l->sb, .sn = l->sn};
  SparseInfo si;
  pass_sparse_measure(&v, &si);
  free(f);
  l->params = ir_value_numel(l->w);
  l->zeros = l->params - si.nnz;
  ir_shape_str(l->w, l->shape, sizeof l->shape);
  snprintf(l->structure, sizeof l->structure, "%s", si.structure);
}

/* rows of the layer's data operand (MatMul: all but the last dim; Gemm: dim 0, or 1 with transA),
 * or -1 when not known */
static int64_t layer_rows(const Node *n) {
  const Value *a = n->in[0];
  if (!a || a->rank < 1) return -1;
  int64_t m = 1;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] < 1) return -1;
  if (n->op == OP_Gemm) return a->rank == 2 ? a->dims[ir_attr_int(n, "transA", 0) ? 1 : 0] : -1;
  for (int d = 0; d + 1 < a->rank; d++) m *= a->dims[d];
  return m;
}

void prune_kernel(PruneLayer *l, int vector_bytes) {
  if (l->win) {
    if (!pass_sparse_rnn_candidate(l->node)) snprintf(l->kernel, sizeof l->kernel, "dense (under 30%% zeros)");
    else rnn_sp_explain(l->node, l->win, vector_bytes, l->kernel, sizeof l->kernel);
    return;
  }
  int64_t K, N, rs, cs;
  const Value *w = pass_sparse_weight(l->node, &K, &N, &rs, &cs);
  if (!w && pass_sparse_conv_candidate(l->node))
    snprintf(l->kernel, sizeof l->kernel, "sparse conv if stride 1 and it pays (decided when compiled)");
  else if (!w) snprintf(l->kernel, sizeof l->kernel, "dense (no sparse %s kernel)", ir_ops[l->node->op].name);
  else if (!pass_sparse_candidate(l->node)) snprintf(l->kernel, sizeof l->kernel, "dense (under 30%% zeros)");
  else gemm_sparse_explain(w->data, layer_rows(l->node), K, N, rs, cs, vector_bytes / 4, l->kernel, sizeof l->kernel);
}

double prune_energy(const float *w, int64_t n) {
  double e = 0;
  for (int64_t i = 0; i < n; i++) e += (double)w[i] * w[i];
  return e;
}

/* ---- helpers ---- */

float prune_select(float *x, int64_t n, int64_t r) { /* Hoare's quickselect, median-of-three pivot */
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    float a = x[lo], b = x[mid], c = x[hi];
    float p = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (x[i] < p) i++;
      while (x[j] > p) j--;
      if (i <= j) {
        float t = x[i];
        x[i++] = x[j], x[j--] = t;
      }
    }
    if (r <= j) hi = j;
    else if (r >= i) lo = i;
    else return x[r];
  }
  return x[r];
}

float *prune_own(Graph *g, Value *w) {
  w->data = arena_dup(g->arena, w->data, (size_t)ir_value_numel(w) * sizeof(float));
  return w->data;
}

const char *prune_sensitive(Graph *g, const PruneLayer *l, const onnxc_prune_spec *spec) {
  (void)g;
  const Node *n = l->node;
  if (spec->skip && lib_layer_listed(spec->skip, n)) return "skipped by name";
  if (spec->prune_all) return NULL;
  /* the stem/head rule protects a CNN's first layer (few inputs, everything after depends on it)
   * and its classifier; a recurrent layer's W and R are most of the model's weights wherever it
   * sits (an LSTM usually reads the graph input) */
  if (l->win) return NULL;
  if (n->in[0] && n->in[0]->kind == VK_INPUT) return "sensitive: reads a graph input";
  if (n->out[0] && n->out[0]->is_output) return "sensitive: writes a graph output";
  return NULL;
}

/* ---- magnitude: unstructured and blocks (a weight is unstructured as blocks of 1x1) ---- */

/* the scores (sum of squares) of layer l's r x c blocks, appended at sc */
static int64_t block_scores(const PruneLayer *l, int64_t r, int64_t c, float *sc) {
  const float *w = l->w->data;
  int64_t nb = 0;
  for (int64_t k0 = 0; k0 < l->k; k0 += r)
    for (int64_t n0 = 0; n0 < l->n; n0 += c) {
      double e = 0;
      for (int64_t k = k0; k < k0 + r; k++)
        for (int64_t n = n0; n < n0 + c; n++) {
          float x = w[prune_at(l, k, n)];
          e += (double)x * x;
        }
      sc[nb++] = (float)e;
    }
  return nb;
}

/* zeroes the blocks scoring below t, and those equal to t while *ties lasts (so the count is exact) */
static void block_zero(Graph *g, PruneLayer *l, int64_t r, int64_t c, float t, int64_t *ties) {
  float *sc = ir_xmalloc((size_t)(l->k / r * (l->n / c)) * sizeof *sc + 1);
  block_scores(l, r, c, sc);
  double before = prune_energy(l->w->data, l->params);
  float *w = prune_own(g, l->w);
  int64_t b = 0;
  for (int64_t k0 = 0; k0 < l->k; k0 += r)
    for (int64_t n0 = 0; n0 < l->n; n0 += c, b++) {
      bool zero = sc[b] < t || (sc[b] == t && *ties > 0);
      if (!zero) continue;
      if (sc[b] == t) --*ties;
      for (int64_t k = k0; k < k0 + r; k++)
        for (int64_t n = n0; n < n0 + c; n++) w[prune_at(l, k, n)] = 0;
    }
  free(sc);
  l->pruned = true;
  l->kept_energy = before > 0 ? prune_energy(w, l->params) / before : 1;
}

/* the threshold zeroing exactly r of the scores sc[0..n) (the r-th smallest), and how many equal
 * to it must go */
static float quota(float *sc, int64_t n, int64_t r, int64_t *ties) {
  if (r <= 0) {
    *ties = 0;
    return -1; /* below every score */
  }
  float *tmp = ir_xmalloc((size_t)n * sizeof *tmp);
  memcpy(tmp, sc, (size_t)n * sizeof *tmp);
  float t = prune_select(tmp, n, r - 1);
  int64_t below = 0;
  for (int64_t i = 0; i < n; i++) below += sc[i] < t;
  free(tmp);
  *ties = r - below;
  return t;
}

static void prune_blocks(Graph *g, PruneLayer *ls, int nl, const onnxc_prune_spec *sp, int64_t r, int64_t c) {
  int64_t total = 0;
  for (int i = 0; i < nl; i++) {
    if (ls[i].skipped) continue;
    if (ls[i].k % r || ls[i].n % c)
      ls[i].skipped = arena_printf(g->arena, "block %lldx%lld does not tile its %lldx%lld (KxN) weight", (long long)r,
                                   (long long)c, (long long)ls[i].k, (long long)ls[i].n);
    else total += ls[i].params / (r * c);
  }
  if (!total) return;
  float *sc = ir_xmalloc((size_t)total * sizeof *sc);
  int64_t at = 0, ties;
  for (int i = 0; i < nl; i++) {
    if (ls[i].skipped) continue;
    int64_t nb = block_scores(&ls[i], r, c, sc + at);
    if (sp->per_layer) {
      float t = quota(sc + at, nb, llround(sp->sparsity * (double)nb), &ties);
      block_zero(g, &ls[i], r, c, t, &ties);
    }
    at += nb;
  }
  if (!sp->per_layer) { /* one threshold; ties go in layer order */
    float t = quota(sc, total, llround(sp->sparsity * (double)total), &ties);
    for (int i = 0; i < nl; i++)
      if (!ls[i].skipped) block_zero(g, &ls[i], r, c, t, &ties);
  }
  free(sc);
}

/* ---- N:M ---- */

static void nm_layer(Graph *g, PruneLayer *l, int64_t keep, int64_t m) {
  double before = prune_energy(l->w->data, l->params);
  float *w = prune_own(g, l->w);
  int64_t at[64];
  for (int64_t n = 0; n < l->n; n++)
    for (int64_t k0 = 0; k0 < l->k; k0 += m) {
      for (int64_t j = 0; j < m; j++) at[j] = prune_at(l, k0 + j, n);
      for (int64_t z = 0; z < m - keep; z++) { /* the smallest |w| left, the first of equals */
        int64_t best = -1;
        for (int64_t j = 0; j < m; j++)
          if (at[j] >= 0 && (best < 0 || fabsf(w[at[j]]) < fabsf(w[at[best]]))) best = j;
        w[at[best]] = 0;
        at[best] = -1;
      }
    }
  l->pruned = true;
  l->kept_energy = before > 0 ? prune_energy(w, l->params) / before : 1;
}

static void prune_nm(Graph *g, PruneLayer *ls, int nl, const onnxc_prune_spec *sp) {
  for (int i = 0; i < nl; i++) {
    if (ls[i].skipped) continue;
    if (ls[i].ka % sp->m)
      ls[i].skipped = arena_printf(g->arena, "%d:%d: its %lld input channels are not a multiple of %d", sp->n, sp->m,
                                   (long long)ls[i].ka, sp->m);
    else nm_layer(g, &ls[i], sp->n, sp->m);
  }
}

/* ---- the spec ---- */

int onnxc_prune_spec_check(const onnxc_prune_spec *sp, char *err, size_t errlen) {
#define BAD(...) return snprintf(err, errlen, __VA_ARGS__), ONNXC_ERR_ARGUMENT
  if (!sp) BAD("no prune spec");
  if (!(sp->sparsity >= 0 && sp->sparsity < 1)) BAD("sparsity %g is not in [0, 1)", sp->sparsity);
  switch (sp->structure) {
  case ONNXC_PRUNE_UNSTRUCTURED:
  case ONNXC_PRUNE_CHANNEL: break;
  case ONNXC_PRUNE_NM:
    if (!(sp->n > 0 && sp->n < sp->m && sp->m <= 64))
      BAD("structure %d:%d: N:M needs 0 < N < M <= 64 (N weights kept of every M)", sp->n, sp->m);
    if (sp->sparsity && fabs(sp->sparsity - (1 - (double)sp->n / sp->m)) > 1e-9)
      BAD("sparsity %g does not match structure %d:%d (which keeps %d of %d: sparsity %g)", sp->sparsity, sp->n, sp->m,
          sp->n, sp->m, 1 - (double)sp->n / sp->m);
    break;
  case ONNXC_PRUNE_BLOCK:
    if (sp->rows < 1 || sp->cols < 1 || sp->rows > 256 || sp->cols > 256)
      BAD("structure block:%dx%d: rows and columns must be 1..256", sp->rows, sp->cols);
    break;
  default: BAD("unknown structure %d", sp->structure);
  }
  if (sp->channel_multiple < 0 || sp->channel_multiple > 4096) BAD("channel multiple %d is not in 0..4096", sp->channel_multiple);
  if (sp->channel_multiple > 1 && sp->structure != ONNXC_PRUNE_CHANNEL) BAD("multiple=K applies to channel pruning only");
  return ONNXC_OK;
#undef BAD
}

/* "2:4" / "block:1x16" / "unstructured" / "channel" into sp */
static int parse_structure(const char *s, size_t len, onnxc_prune_spec *sp) {
  char buf[64], tail;
  if (len >= sizeof buf) return -1;
  memcpy(buf, s, len);
  buf[len] = 0;
  if (!strcmp(buf, "unstructured")) sp->structure = ONNXC_PRUNE_UNSTRUCTURED;
  else if (!strcmp(buf, "channel")) sp->structure = ONNXC_PRUNE_CHANNEL;
  else if (sscanf(buf, "block:%dx%d%c", &sp->rows, &sp->cols, &tail) == 2) sp->structure = ONNXC_PRUNE_BLOCK;
  else if (sscanf(buf, "%d:%d%c", &sp->n, &sp->m, &tail) == 2) sp->structure = ONNXC_PRUNE_NM;
  else return -1;
  return 0;
}

int onnxc_prune_spec_parse(const char *text, onnxc_prune_spec *sp, char *err, size_t errlen) {
  if (!sp || !text) return snprintf(err, errlen, "no prune spec"), ONNXC_ERR_ARGUMENT;
  memset(sp, 0, sizeof *sp);
  bool structure = false;
  for (const char *p = text; *p;) {
    size_t n = strcspn(p, ",");
    char *e;
    double x = strtod(p, &e);
    if (e == p + n && n) sp->sparsity = x;
    else if (n == 9 && !strncmp(p, "per-layer", n)) sp->per_layer = 1;
    else if (n == 3 && !strncmp(p, "all", n)) sp->prune_all = 1;
    else if (n > 9 && !strncmp(p, "multiple=", 9)) {
      long k = strtol(p + 9, &e, 10);
      if (e != p + n || k < 1 || k > 4096)
        return snprintf(err, errlen, "bad '%.*s' in prune spec (multiple=K, K in 1..4096)", (int)n, p), ONNXC_ERR_ARGUMENT;
      sp->channel_multiple = (int32_t)k;
    } else if (!structure && !parse_structure(p, n, sp)) structure = true;
    else
      return snprintf(err, errlen,
                      "bad '%.*s' in prune spec '%s' (expected S,STRUCTURE[,per-layer][,all][,multiple=K] with STRUCTURE "
                      "unstructured, N:M, block:RxC or channel, e.g. 0.5,unstructured or 2:4)",
                      (int)n, p, text),
             ONNXC_ERR_ARGUMENT;
    p += n + (p[n] == ',');
  }
  if (!structure)
    return snprintf(err, errlen, "prune spec '%s' names no structure (unstructured, N:M, block:RxC or channel)", text),
           ONNXC_ERR_ARGUMENT;
  return onnxc_prune_spec_check(sp, err, errlen);
}

/* the spec as text (for the cache key and the report) */
static void spec_text(const onnxc_prune_spec *sp, char *buf, size_t len) {
  char st[64];
  if (sp->structure == ONNXC_PRUNE_NM) snprintf(st, sizeof st, "%d:%d", sp->n, sp->m);
  else if (sp->structure == ONNXC_PRUNE_BLOCK) snprintf(st, sizeof st, "block:%dx%d", sp->rows, sp->cols);
  else snprintf(st, sizeof st, "%s", sp->structure == ONNXC_PRUNE_CHANNEL ? "channel" : "unstructured");
  snprintf(buf, len, "%.17g,%s%s%s,multiple=%d,skip=%.150s", sp->sparsity, st, sp->per_layer ? ",per-layer" : "",
           sp->prune_all ? ",all" : "", sp->channel_multiple, sp->skip ? sp->skip : "");
}

/* ---- the API ---- */

void lib_prune_free(LibPrune *p) {
  if (!p) return;
  free(p->layers);
  free(p);
}

static LibPrune *session_layers(onnxc_session *s) {
  if (!s->prune) {
    LibPrune *p = ir_xcalloc(1, sizeof *p);
    p->layers = prune_layers_all(s->g, &p->n);
    s->prune = p;
  }
  return s->prune;
}

/* Identity of a constant (exporters share one zero bias among Convs that way) read as the
 * constant itself, so the layers see constant weights and biases */
static void identities_of_constants(Graph *g) {
  bool any = false;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead || n->op != OP_Identity || !n->in[0] || n->in[0]->kind != VK_CONST || n->out[0]->is_output) continue;
    ir_value_replace_uses(g, n->out[0], n->in[0]);
    ir_node_remove(g, n);
    any = true;
  }
  if (any) ir_graph_compact(g);
}

int lib_prune_graph(Graph *g, const onnxc_prune_spec *sp, LibPrune **out, char *err, size_t errlen) {
  *out = NULL;
  int rc = onnxc_prune_spec_check(sp, err, errlen);
  if (rc || (rc = lib_layer_list_check(g, sp->skip, "prune: skip", err, errlen))) return rc;
  identities_of_constants(g);
  LibPrune *p = ir_xcalloc(1, sizeof *p);
  p->layers = prune_layers(g, &p->n);
  for (int i = 0; i < p->n; i++) p->layers[i].skipped = prune_sensitive(g, &p->layers[i], sp);
  if (sp->structure == ONNXC_PRUNE_CHANNEL) {
    if (prune_channels(g, p->layers, p->n, sp)) {
      snprintf(err, errlen, "prune: %s", ir_last_error(g));
      lib_prune_free(p);
      return ONNXC_ERR_MODEL;
    }
  } else if (sp->structure == ONNXC_PRUNE_NM)
    prune_nm(g, p->layers, p->n, sp);
  else if (sp->structure == ONNXC_PRUNE_BLOCK)
    prune_blocks(g, p->layers, p->n, sp, sp->rows, sp->cols);
  else
    prune_blocks(g, p->layers, p->n, sp, 1, 1);
  for (int i = 0; i < p->n; i++) {
    PruneLayer *l = &p->layers[i];
    if (l->pruned) l->skipped = NULL;
    /* channel pruning reshaped weights (a producer's rows, a consumer's input channels) */
    if (!view_of(l->node, l)) continue;
    prune_measure(l);
  }
  p->done = true;
  spec_text(sp, p->spec, sizeof p->spec);
  *out = p;
  return ONNXC_OK;
}

int lib_prune_session(onnxc_session *s, const onnxc_prune_spec *sp) {
  LibPrune *p;
  char err[1024];
  int rc = lib_prune_graph(s->g, sp, &p, err, sizeof err);
  if (rc) return lib_fail(s, rc, "%s", err);
  lib_prune_free(s->prune);
  s->prune = p;
  /* the cache keys code by the file's bytes: the spec joins them, so a pruned model's code is
   * never taken for the dense one's */
  if (s->model_digest) s->model_digest = ir_hash64(p->spec, strlen(p->spec), s->model_digest);
  return ONNXC_OK;
}

static int do_prune(onnxc_session *s, void *arg) { return lib_prune_session(s, arg); }

/* ---- the session option (onnxc_options_set_prune): a copy the options own ---- */

onnxc_prune_spec *lib_prune_spec_dup(const onnxc_prune_spec *sp) {
  onnxc_prune_spec *c = malloc(sizeof *c);
  if (!c) return NULL;
  *c = *sp;
  if (sp->skip && !(c->skip = strdup(sp->skip))) {
    free(c);
    return NULL;
  }
  return c;
}

void lib_prune_spec_free(onnxc_prune_spec *sp) {
  if (!sp) return;
  free((char *)sp->skip);
  free(sp);
}

int onnxc_options_set_prune(onnxc_session_options *o, const onnxc_prune_spec *spec) {
  char err[512];
  if (!o || (spec && onnxc_prune_spec_check(spec, err, sizeof err))) return ONNXC_ERR_ARGUMENT;
  onnxc_prune_spec *c = spec ? lib_prune_spec_dup(spec) : NULL;
  if (spec && !c) return ONNXC_ERR_NOMEM;
  lib_prune_spec_free(o->prune);
  o->prune = c;
  return ONNXC_OK;
}

int onnxc_session_prune(onnxc_session *s, const onnxc_prune_spec *spec) {
  if (!s) return ONNXC_ERR_ARGUMENT;
  char err[512];
  if (onnxc_prune_spec_check(spec, err, sizeof err)) return lib_fail(s, ONNXC_ERR_ARGUMENT, "prune: %s", err);
  if (lib_check_rewritable(s, "prune")) return ONNXC_ERR_STATE;
  if (s->prune && s->prune->done) return lib_fail(s, ONNXC_ERR_STATE, "prune: the model is pruned already");
  return lib_guard(s, do_prune, (void *)spec);
}

static int do_layers(onnxc_session *s, void *arg) {
  (void)arg;
  session_layers(s);
  return ONNXC_OK;
}

int32_t onnxc_session_num_layers(onnxc_session *s) {
  if (!s || !s->g || lib_guard(s, do_layers, NULL)) return 0;
  return s->prune->n;
}

int onnxc_session_layer_info(onnxc_session *s, int32_t i, onnxc_layer_info *out) {
  if (!s || !out || !s->g) return ONNXC_ERR_ARGUMENT;
  int rc = lib_guard(s, do_layers, NULL);
  if (rc) return rc;
  if (i < 0 || i >= s->prune->n) return lib_fail(s, ONNXC_ERR_ARGUMENT, "layer %d: the model has %d layers", i, s->prune->n);
  PruneLayer *l = &s->prune->layers[i];
  Target t;
  char err[128];
  bool tok = !be_target_get(s->opt.target[0] ? s->opt.target : "native", &t, err, sizeof err);
  if (l->int8 && tok) sq8_explain(&t, l->w->data, l->k, l->n, l->kernel, sizeof l->kernel);
  else if (l->int8) snprintf(l->kernel, sizeof l->kernel, "int8 (unknown target)");
  else prune_kernel(l, tok ? t.vector_bytes : 0);
  *out = (onnxc_layer_info){.name = l->node->name, .op = ir_ops[l->node->op].name, .weight = l->w->name,
                            .shape = l->shape, .params = l->params, .zeros = l->zeros,
                            .sparsity = l->params ? (double)l->zeros / (double)l->params : 0,
                            .structure = l->structure, .pruned = l->pruned, .skipped = s->prune->done ? l->skipped : NULL,
                            .channels_before = l->ch_before, .channels_after = l->ch_after,
                            .kept_energy = l->kept_energy, .kernel = l->kernel, .output = l->node->out[0]->name,
                            .recalibrated = l->recal};
  return ONNXC_OK;
}
