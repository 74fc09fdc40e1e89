/* quant_insert.c — the quantization rewrite of an imported graph, in the two forms ONNX
 * Runtime's quantizer writes (so ORT runs the result and passes/qdq.c finds its patterns):
 *
 *   static (QDQ):  x ─QuantizeLinear(x_scale, x_zero_point)─▶ x_QuantizeLinear_Output
 *                    ─DequantizeLinear─▶ x_DequantizeLinear_Output ─▶ Conv / MatMul / Gemm /
 *                    a residual Add
 *                  W (int8 initializer W_quantized, W_scale[C], W_zero_point[C] = 0)
 *                    ─DequantizeLinear(axis = output channels)─▶ the same node
 *   dynamic:       A ─DynamicQuantizeLinear─▶ (A_quantized, A_scale, A_zero_point)
 *                  MatMulInteger(A_quantized, W_quantized, A_zero_point, W_zero_point) ─Cast float─▶
 *                  ·Mul(A_scale · W_scale) [+ Gemm's bias] ─▶ the node's output
 *
 * Weights: symmetric int8, q = round(w / scale) in [-127, 127], scale = max|w| / 127 per output
 * channel (per tensor before opset 13, which has no axis).  Activations: asymmetric, per tensor,
 * from the calibrated range (calib_act_params). */
#include "quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A depthwise Conv (one input channel per group, more than one group): each output channel
 * filters its own input channel, so a per-tensor activation scale gives the quiet channels only
 * a few levels (PaddleOCR's recognizer: 40-87% of some layers' channels below an SNR of 10),
 * while the layer is ~9 multiply-adds per output, a small share of a network's work. */
static bool depthwise_conv(const Node *n) {
  const Value *w = n->nin > 1 ? n->in[1] : NULL;
  return n->op == OP_Conv && ir_attr_int(n, "group", 1) > 1 && w && w->rank >= 2 && w->dims[1] == 1;
}

/* A Conv of a squeeze-and-excitation block: it reads a global pooling's 1x1 map, directly or
 * through an activation of another such Conv.  Its input is one mean per channel, channels
 * orders of magnitude apart (one per-tensor scale fits none of them), and its work is C*C/4
 * multiply-adds per image: int8 gains nothing there. */
static bool squeeze_excite_conv(const Node *n, int depth) {
  const Node *p = n->op == OP_Conv && n->in[0] ? n->in[0]->producer : NULL;
  if (!p || depth > 4) return false;
  if (p->op == OP_GlobalAveragePool || p->op == OP_GlobalMaxPool) return true;
  return (ir_ops[p->op].fuse & FU_ACT) && p->nin >= 1 && p->in[0] && p->in[0]->producer &&
         squeeze_excite_conv(p->in[0]->producer, depth + 1);
}

/* --keep-float: an op type, a node name, or a class of Convs ("depthwise", "squeeze-excite") */
static bool kept(const Node *n, const QuantPlan *p) {
  for (int i = 0; i < p->nkeep; i++) {
    const char *k = p->keep[i];
    if (!strcmp(k, ir_ops[n->op].name) || !strcmp(k, n->name)) return true;
    if ((!strcmp(k, "depthwise") && depthwise_conv(n)) || (!strcmp(k, "squeeze-excite") && squeeze_excite_conv(n, 0)))
      return true;
  }
  return false;
}

static bool const_float(const Value *v) { return v && v->kind == VK_CONST && v->data && v->dtype == DT_FLOAT; }
static bool maybe_float(const Value *v) { return v && (v->dtype == DT_FLOAT || v->dtype == DT_UNDEF); }

/* a Gemm the dynamic form rewrites: A not transposed, constant 2-D B, bias absent, constant, or
 * taken as it is (beta 1) */
static bool dynamic_gemm_ok(const Node *n) {
  const Value *c = n->nin > 2 ? n->in[2] : NULL;
  float beta = ir_attr_float(n, "beta", 1);
  return !ir_attr_int(n, "transA", 0) && (!c || beta == 1 || const_float(c));
}

/* A CNN's residual Add (two activations, one from a Conv): ORT's quantizer puts Q/DQ on its
 * inputs too, so every Conv of a residual block ends in a Q and the int8 chain is unbroken.
 * Other Adds (a bias, a transformer's attention mask) stay float: a mask's range would take the
 * scores' resolution. */
static bool residual_add(const Node *n) {
  if (n->op != OP_Add || n->nin != 2) return false;
  const Value *a = n->in[0], *b = n->in[1];
  return a && b && a->kind != VK_CONST && b->kind != VK_CONST && maybe_float(b) &&
         ((a->producer && a->producer->op == OP_Conv) || (b->producer && b->producer->op == OP_Conv));
}

static bool quantizable(const Node *n, const QuantPlan *p) {
  if (n->dead || *n->domain || kept(n, p) || !maybe_float(n->in[0])) return false;
  if (p->dynamic)
    return (n->op == OP_MatMul || (n->op == OP_Gemm && dynamic_gemm_ok(n))) && const_float(n->in[1]) &&
           n->in[1]->rank == 2 && n->in[0]->kind != VK_CONST;
  return n->op == OP_Conv || n->op == OP_MatMul || n->op == OP_Gemm || residual_add(n);
}

static bool dropped(const QuantPlan *p, int pos) {
  if (p->only > 0 && pos != p->only - 1) return true;
  for (int i = 0; i < p->ndrop; i++)
    if (p->drop[i] == pos) return true;
  return false;
}

int quant_nodes(const Graph *g, const QuantPlan *p, Node ***nodes) {
  int k = 0, pos = 0;
  *nodes = ir_xcalloc((size_t)g->nnodes + 1, sizeof(Node *));
  for (int i = 0; i < g->nnodes; i++)
    if (quantizable(g->nodes[i], p) && !dropped(p, pos++)) (*nodes)[k++] = g->nodes[i];
  return k;
}

int quant_activations(const Graph *g, const QuantPlan *p, Value ***acts) {
  Node **ns;
  int nn = quant_nodes(g, p, &ns), k = 0;
  *acts = ir_xcalloc((size_t)nn * 2 + 1, sizeof(Value *));
  for (int i = 0; i < nn; i++)
    for (int j = 0; j < 2 && j < ns[i]->nin; j++) {
      Value *v = ns[i]->in[j];
      bool seen = !v || v->kind == VK_CONST || !maybe_float(v);
      for (int m = 0; m < k && !seen; m++) seen = (*acts)[m] == v;
      if (!seen) (*acts)[k++] = v;
    }
  free(ns);
  return k;
}

/* ---- building blocks ---- */
static bool name_taken(const Graph *g, const char *name) {
  for (int i = 0; i < g->nvalues; i++)
    if (!strcmp(g->values[i]->name, name)) return true;
  return false;
}

/* base + suffix, or with _1, _2 ... when the model already has that name */
static const char *fresh(Graph *g, const char *base, const char *suffix) {
  const char *nm = arena_printf(g->arena, "%s%s", base, suffix);
  for (int k = 1; name_taken(g, nm); k++) nm = arena_printf(g->arena, "%s%s_%d", base, suffix, k);
  return nm;
}

static Value *out_value(Graph *g, Node *n, int k, const char *name, DType t) {
  Value *v = ir_value_new(g, name);
  v->dtype = t;
  v->producer = n;
  n->out[k] = v;
  return v;
}

static void add_int_attr(Graph *g, Node *n, const char *name, int64_t x) {
  Attr *a = arena_alloc(g->arena, sizeof(Attr) * (size_t)(n->nattr + 1));
  if (n->nattr) memcpy(a, n->attrs, sizeof(Attr) * (size_t)n->nattr);
  a[n->nattr] = (Attr){.name = arena_strdup(g->arena, name), .type = AT_INT, .i = x};
  n->attrs = a;
  n->nattr++;
}

static Value *scalar(Graph *g, const char *name, DType t, double x) {
  Value *v = ir_const_new(g, name, t, 0, NULL);
  ir_store_f64(t, v->data, 0, x);
  return v;
}

/* a value already rewritten (an activation or weight several nodes read), or NULL */
typedef struct Memo {
  Value **from, **to;
  int n;
} Memo;
static Value *memo_get(const Memo *m, const Value *v) {
  for (int i = 0; i < m->n; i++)
    if (m->from[i] == v) return m->to[i];
  return NULL;
}
static Value *memo_put(Memo *m, Value *from, Value *to) {
  m->from = ir_xrealloc(m->from, sizeof(Value *) * (size_t)(m->n + 1));
  m->to = ir_xrealloc(m->to, sizeof(Value *) * (size_t)(m->n + 1));
  m->from[m->n] = from, m->to[m->n++] = to;
  return to;
}

/* ---- weights ---- */
/* w as int8 with one symmetric scale per index of `axis` (-1: one for the whole tensor) */
static void quantize_weight(Graph *g, const Value *w, int axis, Value **q, Value **scale, Value **zp) {
  int64_t n = ir_value_numel(w), ch = axis < 0 ? 1 : w->dims[axis], inner = 1;
  for (int d = axis + 1; axis >= 0 && d < w->rank; d++) inner *= w->dims[d];
  const float *x = w->data;
  *q = ir_const_new(g, fresh(g, w->name, "_quantized"), DT_INT8, w->rank, w->dims);
  *scale = ir_const_new(g, fresh(g, w->name, "_scale"), DT_FLOAT, axis < 0 ? 0 : 1, &ch);
  *zp = ir_const_new(g, fresh(g, w->name, "_zero_point"), DT_INT8, axis < 0 ? 0 : 1, &ch); /* zeros */
  float *s = (*scale)->data;
  for (int64_t i = 0; i < n; i++) {
    int64_t c = (i / inner) % ch;
    if (fabsf(x[i]) > s[c]) s[c] = fabsf(x[i]);
  }
  for (int64_t c = 0; c < ch; c++) s[c] = s[c] > 0 && isfinite(s[c]) ? s[c] / 127.0f : 1.0f;
  int8_t *o = (*q)->data;
  for (int64_t i = 0; i < n; i++) {
    float r = nearbyintf(x[i] / s[(i / inner) % ch]); /* half to even, as QuantizeLinear */
    o[i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
  }
}

/* the axis of w's output channels for node n (Conv: 0; Gemm: 0 if transB else 1; MatMul: last) */
static int weight_axis(const Graph *g, const Node *n, const Value *w, const QuantPlan *p) {
  if (p->per_tensor || g->opset < 13 || w->rank < 1) return -1; /* DequantizeLinear's axis: opset 13 */
  if (n->op == OP_Conv) return 0;
  if (n->op == OP_Gemm) return ir_attr_int(n, "transB", 0) ? 0 : 1;
  return w->rank >= 2 ? w->rank - 1 : -1;
}

static Value *weight_dq(Graph *g, Memo *m, const Node *n, Value *w, const QuantPlan *p) {
  Value *done = memo_get(m, w);
  if (done) return done;
  int axis = weight_axis(g, n, w, p);
  Value *q, *s, *z;
  quantize_weight(g, w, axis, &q, &s, &z);
  Node *dq = ir_node_new(g, OP_DequantizeLinear, fresh(g, w->name, "_DequantizeLinear"), 3, 1);
  dq->in[0] = q, dq->in[1] = s, dq->in[2] = z;
  if (axis >= 0) add_int_attr(g, dq, "axis", axis);
  return memo_put(m, w, out_value(g, dq, 0, fresh(g, w->name, "_DequantizeLinear_Output"), DT_FLOAT));
}

/* ---- static: activations ---- */
static const QuantRange *range_of(const QuantPlan *p, const Value *v) {
  for (int i = 0; i < p->nranges; i++)
    if (!strcmp(p->ranges[i].name, v->name)) return &p->ranges[i];
  return NULL;
}

static Value *act_qdq(Graph *g, Memo *m, Value *x, const QuantRange *r, bool is_signed) {
  Value *done = memo_get(m, x);
  if (done) return done;
  float scale;
  int zp;
  calib_act_params(r->lo, r->hi, is_signed, &scale, &zp);
  DType qt = is_signed ? DT_INT8 : DT_UINT8;
  Value *s = scalar(g, fresh(g, x->name, "_scale"), DT_FLOAT, scale);
  Value *z = scalar(g, fresh(g, x->name, "_zero_point"), qt, zp);
  Node *q = ir_node_new(g, OP_QuantizeLinear, fresh(g, x->name, "_QuantizeLinear"), 3, 1);
  q->in[0] = x, q->in[1] = s, q->in[2] = z;
  Value *xq = out_value(g, q, 0, fresh(g, x->name, "_QuantizeLinear_Output"), qt);
  Node *dq = ir_node_new(g, OP_DequantizeLinear, fresh(g, x->name, "_DequantizeLinear"), 3, 1);
  dq->in[0] = xq, dq->in[1] = s, dq->in[2] = z;
  return memo_put(m, x, out_value(g, dq, 0, fresh(g, x->name, "_DequantizeLinear_Output"), DT_FLOAT));
}

/* true when an input of n was quantized */
static bool static_node(Graph *g, Memo *acts, Memo *weights, Node *n, const QuantPlan *p) {
  bool any = false;
  for (int i = 0; i < 2 && i < n->nin; i++) {
    Value *v = n->in[i];
    const QuantRange *r;
    if (i == 1 && const_float(v)) n->in[1] = weight_dq(g, weights, n, v, p), any = true;
    else if (v && v->kind != VK_CONST && (r = range_of(p, v)))
      n->in[i] = act_qdq(g, acts, v, r, p->act_signed), any = true;
  }
  return any;
}

/* ---- dynamic ---- */
typedef struct DynA {
  Value *q, *scale, *zp;
} DynA;

static DynA dynamic_input(Graph *g, Memo *m, Value *a) {
  Value *q = memo_get(m, a);
  if (q) return (DynA){q, q->producer->out[1], q->producer->out[2]};
  Node *d = ir_node_new(g, OP_DynamicQuantizeLinear, fresh(g, a->name, "_DynamicQuantizeLinear"), 1, 3);
  d->in[0] = a;
  DynA r = {out_value(g, d, 0, fresh(g, a->name, "_quantized"), DT_UINT8),
            out_value(g, d, 1, fresh(g, a->name, "_scale"), DT_FLOAT),
            out_value(g, d, 2, fresh(g, a->name, "_zero_point"), DT_UINT8)};
  memo_put(m, a, r.q);
  return r;
}

/* the constant [K, N] weight of a MatMul, or of a Gemm (transposed when transB) */
static Value *dynamic_weight(Graph *g, const Node *n) {
  Value *b = n->in[1];
  if (n->op != OP_Gemm || !ir_attr_int(n, "transB", 0)) return b;
  int64_t dims[2] = {b->dims[1], b->dims[0]};
  Value *t = ir_const_new(g, fresh(g, b->name, "_transposed"), DT_FLOAT, 2, dims);
  const float *x = b->data;
  float *y = t->data;
  for (int64_t i = 0; i < dims[1]; i++)
    for (int64_t j = 0; j < dims[0]; j++) y[j * dims[1] + i] = x[i * dims[0] + j];
  return t;
}

static Node *binary(Graph *g, Op op, const char *name, Value *a, Value *b) {
  Node *n = ir_node_new(g, op, name, 2, 1);
  n->in[0] = a, n->in[1] = b;
  return n;
}

static void dynamic_node(Graph *g, Memo *acts, Node *n, const QuantPlan *p) {
  DynA a = dynamic_input(g, acts, n->in[0]);
  Value *w = dynamic_weight(g, n), *q, *s, *z;
  quantize_weight(g, w, p->per_tensor ? -1 : 1, &q, &s, &z);
  float alpha = n->op == OP_Gemm ? ir_attr_float(n, "alpha", 1) : 1;
  float *sd = s->data;
  for (int64_t c = 0; c < ir_value_numel(s); c++) sd[c] *= alpha; /* Gemm's alpha rides on the scale */
  const char *base = n->name;
  Node *mm = ir_node_new(g, OP_MatMulInteger, fresh(g, base, "_MatMulInteger"), 4, 1);
  mm->in[0] = a.q, mm->in[1] = q, mm->in[2] = a.zp, mm->in[3] = z;
  Value *yi = out_value(g, mm, 0, fresh(g, base, "_MatMulInteger_Output"), DT_INT32);
  Node *cast = ir_node_new(g, OP_Cast, fresh(g, base, "_Cast"), 1, 1);
  cast->in[0] = yi;
  add_int_attr(g, cast, "to", DT_FLOAT);
  Value *yf = out_value(g, cast, 0, fresh(g, base, "_Cast_Output"), DT_FLOAT);
  Node *sm = binary(g, OP_Mul, fresh(g, base, "_scales_mul"), a.scale, s);
  Value *sc = out_value(g, sm, 0, fresh(g, base, "_scales_mul_Output"), DT_FLOAT);
  Value *c = n->op == OP_Gemm && n->nin > 2 ? n->in[2] : NULL, *y = n->out[0];
  Node *mul = binary(g, OP_Mul, fresh(g, base, "_output_scale_mul"), yf, sc);
  ir_node_remove(g, n);
  if (!c) {
    mul->out[0] = y, y->producer = mul;
    return;
  }
  Value *ym = out_value(g, mul, 0, fresh(g, base, "_output_scale_mul_Output"), DT_FLOAT);
  float beta = ir_attr_float(n, "beta", 1);
  if (beta != 1) { /* a constant bias (dynamic_gemm_ok), scaled once here */
    Value *cb = ir_const_new(g, fresh(g, c->name, "_scaled"), DT_FLOAT, c->rank, c->dims);
    for (int64_t i = 0; i < ir_value_numel(c); i++) ((float *)cb->data)[i] = beta * ((const float *)c->data)[i];
    c = cb;
  }
  Node *add = binary(g, OP_Add, fresh(g, base, "_bias_add"), ym, c);
  add->out[0] = y, y->producer = add;
}

int quant_apply(Graph *g, const QuantPlan *p) {
  if (g->opset < (p->dynamic ? 11 : 10))
    return ir_error(g, "quantization needs opset %d or later (%s), the model has opset %lld", p->dynamic ? 11 : 10,
                    p->dynamic ? "DynamicQuantizeLinear" : "QuantizeLinear", (long long)g->opset);
  Node **ns;
  int nn = quant_nodes(g, p, &ns), done = 0;
  Memo acts = {0}, weights = {0};
  for (int i = 0; i < nn; i++) {
    if (p->dynamic) dynamic_node(g, &acts, ns[i], p), done++;
    else done += static_node(g, &acts, &weights, ns[i], p);
  }
  free(ns);
  free(acts.from), free(acts.to), free(weights.from), free(weights.to);
  ir_graph_compact(g);
  if (ir_graph_toposort(g)) return -1;
  return done;
}

/* the naming and attribute helpers for lib/cluster.c's rewrite (lib.h) */
const char *lib_fresh_name(Graph *g, const char *base, const char *suffix) { return fresh(g, base, suffix); }
void lib_add_int_attr(Graph *g, Node *n, const char *name, int64_t x) { add_int_attr(g, n, name, x); }
