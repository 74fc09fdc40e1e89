/* eval.c — host evaluation of a node whose inputs are constants (constant folding).
 *
 * Shapes are already inferred when this runs; evaluation only fills data. Three engines cover the
 * ops: an elementwise loop over a broadcast iterator (unary, binary, Where, Cast), one index-mapping
 * copier for data movement (each output element names its source element, or a fill value), and a
 * reduction loop. Arithmetic is done in double, or exactly in int64 for integer tensors, and stored
 * in the output dtype with ir_store_f64 / ir_store_i64. Anything the evaluator cannot do exactly
 * (unsupported op or dtype, integer division by zero, training-mode Dropout) returns 0 and is left to
 * the backend.  Each op's fold function (eval_<op> here, eval_<family> beside a family's shape
 * function) is named in its ops.def row; ir_eval_node (shape.c) calls it through its fold table. */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define R IR_MAX_RANK
#define EW_MAX_IN 64 /* variadic elementwise ops with more inputs are left to the backend */

/* ---- iteration over a shape, with per-operand offsets (broadcast strides) ---- */
typedef struct Iter {
  int rank, nin;
  int64_t dims[R], idx[R];
  int64_t stride[EW_MAX_IN][R];
  int64_t off[EW_MAX_IN];
} Iter;

static void it_shape(Iter *it, int rank, const int64_t *dims) {
  memset(it, 0, sizeof *it);
  it->rank = rank;
  memcpy(it->dims, dims, sizeof(int64_t) * (size_t)rank);
}

/* operand k of the iteration broadcasts v (numpy rules: right-aligned, size-1 dims repeat) */
static void it_operand(Iter *it, int k, const Value *v) {
  int64_t s = 1;
  for (int d = it->rank - 1; d >= 0; d--) {
    int vd = d - (it->rank - v->rank);
    it->stride[k][d] = vd < 0 || v->dims[vd] == 1 ? 0 : s;
    if (vd >= 0) s *= v->dims[vd];
  }
  if (k >= it->nin) it->nin = k + 1;
}

static void it_next(Iter *it) {
  for (int d = it->rank - 1; d >= 0; d--) {
    if (++it->idx[d] < it->dims[d]) {
      for (int k = 0; k < it->nin; k++) it->off[k] += it->stride[k][d];
      return;
    }
    it->idx[d] = 0;
    for (int k = 0; k < it->nin; k++) it->off[k] -= it->stride[k][d] * (it->dims[d] - 1);
  }
}

static void strides_of(int rank, const int64_t *dims, int64_t *s) {
  int64_t m = 1;
  for (int d = rank - 1; d >= 0; d--) {
    s[d] = m;
    m *= dims[d];
  }
}

static int64_t numel(const Value *v) { return ir_value_numel(v); }

static void *out_data(Graph *g, Value *v) {
  int64_t m = numel(v);
  v->data = arena_alloc(g->arena, (size_t)(m > 0 ? m : 1) * dtype_size(v->dtype));
  return v->data;
}

static int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static int64_t wrap_sub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static int64_t wrap_mul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

/* ---- elementwise ---- */
typedef struct Ew {
  Op op;
  bool imode; /* exact int64 arithmetic */
  double alpha, beta, gamma, lambd, bias, lo, hi;
  int64_t ilo, ihi;
  bool fmod_, left, gelu_tanh, det_neg, det_pos;
} Ew;

static double softplus(double x) { return x > 30 ? x : log1p(exp(x)); }

static bool ew_f(const Ew *e, const double *x, int k, double *r) {
  double a = x[0], b = k > 1 ? x[1] : 0;
  switch (e->op) {
  case OP_Identity: case OP_Dropout: *r = a; break;
  case OP_Abs: *r = fabs(a); break;
  case OP_Neg: *r = -a; break;
  case OP_Exp: *r = exp(a); break;
  case OP_Log: *r = log(a); break;
  case OP_Sqrt: *r = sqrt(a); break;
  case OP_Reciprocal: *r = 1 / a; break;
  case OP_Floor: *r = floor(a); break;
  case OP_Ceil: *r = ceil(a); break;
  case OP_Round: *r = nearbyint(a); break; /* half to even */
  case OP_Sign: *r = a > 0 ? 1 : a < 0 ? -1 : a; break;
  case OP_Relu: *r = a > 0 ? a : 0; break;
  case OP_LeakyRelu: *r = a < 0 ? e->alpha * a : a; break;
  case OP_Elu: *r = a < 0 ? e->alpha * expm1(a) : a; break;
  case OP_Selu: *r = a <= 0 ? e->gamma * (e->alpha * exp(a) - e->alpha) : e->gamma * a; break;
  case OP_Celu: *r = fmax(0, a) + fmin(0, e->alpha * expm1(a / e->alpha)); break;
  case OP_ThresholdedRelu: *r = a > e->alpha ? a : 0; break;
  case OP_Sigmoid: *r = 1 / (1 + exp(-a)); break;
  case OP_HardSigmoid: *r = fmax(0, fmin(1, e->alpha * a + e->beta)); break;
  case OP_HardSwish: *r = a * fmax(0, fmin(1, a / 6 + 0.5)); break;
  case OP_Tanh: *r = tanh(a); break;
  case OP_Softplus: *r = softplus(a); break;
  case OP_Softsign: *r = a / (1 + fabs(a)); break;
  case OP_Mish: *r = a * tanh(softplus(a)); break;
  case OP_Swish: *r = a / (1 + exp(-e->alpha * a)); break;
  case OP_Gelu:
    *r = e->gelu_tanh ? 0.5 * a * (1 + tanh(0.79788456080286535588 /* sqrt(2/pi) */ * (a + 0.044715 * a * a * a)))
                      : 0.5 * a * (1 + erf(a / sqrt(2)));
    break;
  case OP_Erf: *r = erf(a); break;
  case OP_Sin: *r = sin(a); break;
  case OP_Cos: *r = cos(a); break;
  case OP_Tan: *r = tan(a); break;
  case OP_Asin: *r = asin(a); break;
  case OP_Acos: *r = acos(a); break;
  case OP_Atan: *r = atan(a); break;
  case OP_Sinh: *r = sinh(a); break;
  case OP_Cosh: *r = cosh(a); break;
  case OP_Asinh: *r = asinh(a); break;
  case OP_Acosh: *r = acosh(a); break;
  case OP_Atanh: *r = atanh(a); break;
  case OP_Not: *r = a == 0; break;
  case OP_IsNaN: *r = a != a; break;
  case OP_IsInf: *r = isinf(a) && ((a > 0 && e->det_pos) || (a < 0 && e->det_neg)); break;
  case OP_Shrink: *r = a < -e->lambd ? a + e->bias : a > e->lambd ? a - e->bias : 0; break;
  case OP_Clip: *r = a < e->lo ? e->lo : a > e->hi ? e->hi : a; break;
  case OP_Add: *r = a + b; break;
  case OP_Sub: *r = a - b; break;
  case OP_Mul: *r = a * b; break;
  case OP_Div: *r = a / b; break;
  case OP_Pow: *r = pow(a, b); break;
  case OP_Mod: {
    double m = fmod(a, b);
    if (!e->fmod_ && m != 0 && (m < 0) != (b < 0)) m += b;
    *r = m;
    break;
  }
  case OP_PRelu: *r = a < 0 ? a * b : a; break;
  case OP_Max:
  case OP_Min:
  case OP_Sum:
  case OP_Mean: {
    double s = a;
    for (int i = 1; i < k; i++) {
      double y = x[i];
      if (e->op == OP_Sum || e->op == OP_Mean) s += y;
      else if (s != s || y != y) s = NAN;
      else s = (e->op == OP_Max) == (y > s) ? y : s;
    }
    *r = e->op == OP_Mean ? s / k : s;
    break;
  }
  case OP_Equal: *r = a == b; break;
  case OP_Less: *r = a < b; break;
  case OP_LessOrEqual: *r = a <= b; break;
  case OP_Greater: *r = a > b; break;
  case OP_GreaterOrEqual: *r = a >= b; break;
  case OP_And: *r = a != 0 && b != 0; break;
  case OP_Or: *r = a != 0 || b != 0; break;
  case OP_Xor: *r = (a != 0) != (b != 0); break;
  case OP_Where: *r = a != 0 ? b : x[2]; break;
  default: return false;
  }
  return true;
}

static int64_t ipow(int64_t b, int64_t p) {
  if (p < 0) return b == 1 ? 1 : b == -1 ? (p % 2 ? -1 : 1) : 0;
  int64_t r = 1;
  while (p) {
    if (p & 1) r = wrap_mul(r, b);
    b = wrap_mul(b, b);
    p >>= 1;
  }
  return r;
}

static bool ew_i(const Ew *e, const int64_t *x, int k, int64_t *r) {
  int64_t a = x[0], b = k > 1 ? x[1] : 0;
  switch (e->op) {
  case OP_Identity: case OP_Dropout: case OP_Floor: case OP_Ceil: case OP_Round: *r = a; break;
  case OP_Abs: *r = a < 0 ? wrap_sub(0, a) : a; break;
  case OP_Neg: *r = wrap_sub(0, a); break;
  case OP_Sign: *r = (a > 0) - (a < 0); break;
  case OP_Relu: *r = a > 0 ? a : 0; break;
  case OP_Not: *r = a == 0; break;
  case OP_BitwiseNot: *r = ~a; break;
  case OP_Clip: *r = a < e->ilo ? e->ilo : a > e->ihi ? e->ihi : a; break;
  case OP_Add: *r = wrap_add(a, b); break;
  case OP_Sub: *r = wrap_sub(a, b); break;
  case OP_Mul: *r = wrap_mul(a, b); break;
  case OP_Div: /* truncates toward zero, like C and onnxruntime */
    if (b == 0) return false;
    *r = b == -1 ? wrap_sub(0, a) : a / b;
    break;
  case OP_Mod: {
    if (b == 0) return false;
    int64_t m = b == -1 ? 0 : a % b;
    if (!e->fmod_ && m != 0 && (m < 0) != (b < 0)) m += b; /* sign of the divisor, like Python */
    *r = m;
    break;
  }
  case OP_Pow: *r = ipow(a, b); break;
  case OP_PRelu: *r = a < 0 ? wrap_mul(a, b) : a; break;
  case OP_Max:
  case OP_Min:
  case OP_Sum:
  case OP_Mean: {
    int64_t s = a;
    for (int i = 1; i < k; i++) {
      if (e->op == OP_Sum || e->op == OP_Mean) s = wrap_add(s, x[i]);
      else s = (e->op == OP_Max) == (x[i] > s) ? x[i] : s;
    }
    *r = e->op == OP_Mean ? s / k : s;
    break;
  }
  case OP_Equal: *r = a == b; break;
  case OP_Less: *r = a < b; break;
  case OP_LessOrEqual: *r = a <= b; break;
  case OP_Greater: *r = a > b; break;
  case OP_GreaterOrEqual: *r = a >= b; break;
  case OP_And: *r = a != 0 && b != 0; break;
  case OP_Or: *r = a != 0 || b != 0; break;
  case OP_Xor: *r = (a != 0) != (b != 0); break;
  case OP_BitwiseAnd: *r = a & b; break;
  case OP_BitwiseOr: *r = a | b; break;
  case OP_BitwiseXor: *r = a ^ b; break;
  case OP_BitShift:
    if ((uint64_t)b >= 64) *r = 0;
    else *r = (int64_t)(e->left ? (uint64_t)a << b : (uint64_t)a >> b);
    break;
  case OP_Where: *r = a != 0 ? b : x[2]; break;
  default: return false;
  }
  return true;
}

static bool has_int_impl(Op op) {
  int64_t x[3] = {1, 1, 1}, r;
  Ew e = {.op = op};
  return ew_i(&e, x, 3, &r);
}

/* Clip's bounds: inputs 1 and 2 (opset >= 11) or attributes min / max */
static void clip_bounds(const Node *n, Ew *e) {
  e->lo = -INFINITY;
  e->hi = INFINITY;
  e->ilo = INT64_MIN;
  e->ihi = INT64_MAX;
  if (n->nin > 1 && n->in[1]) e->lo = ir_const_f64(n->in[1], 0), e->ilo = ir_const_i64(n->in[1], 0);
  else if (ir_attr(n, "min")) e->lo = ir_attr_float(n, "min", 0), e->ilo = (int64_t)e->lo;
  if (n->nin > 2 && n->in[2]) e->hi = ir_const_f64(n->in[2], 0), e->ihi = ir_const_i64(n->in[2], 0);
  else if (ir_attr(n, "max")) e->hi = ir_attr_float(n, "max", 0), e->ihi = (int64_t)e->hi;
}

static void ew_params(const Node *n, Ew *e) {
  static const struct { Op op; float alpha, beta; } defs[] = {
      {OP_LeakyRelu, 0.01f, 0}, {OP_Elu, 1, 0}, {OP_Selu, 1.67326319217681884765625f, 0},
      {OP_Celu, 1, 0}, {OP_ThresholdedRelu, 1, 0}, {OP_HardSigmoid, 0.2f, 0.5f}, {OP_Swish, 1, 0}};
  for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
    if (defs[i].op == n->op) {
      e->alpha = ir_attr_float(n, "alpha", defs[i].alpha);
      e->beta = ir_attr_float(n, "beta", defs[i].beta);
    }
  e->gamma = ir_attr_float(n, "gamma", 1.05070102214813232421875f);
  e->lambd = ir_attr_float(n, "lambd", 0.5f);
  e->bias = ir_attr_float(n, "bias", 0);
  e->fmod_ = ir_attr_int(n, "fmod", 0) != 0;
  e->left = !strcmp(ir_attr_str(n, "direction", ""), "LEFT");
  e->gelu_tanh = !strcmp(ir_attr_str(n, "approximate", "none"), "tanh");
  e->det_neg = ir_attr_int(n, "detect_negative", 1) != 0;
  e->det_pos = ir_attr_int(n, "detect_positive", 1) != 0;
  if (n->op == OP_Clip) clip_bounds(n, e);
}

int eval_elementwise(Graph *g, Node *n) {
  Value *y = n->out[0];
  int k = n->op == OP_Clip || n->op == OP_Dropout ? 1 : n->nin; /* the rest are parameters */
  if (k > EW_MAX_IN) return 0;
  if (n->op == OP_BitShift && !ir_attr(n, "direction")) return 0;
  if (n->op == OP_Dropout && n->nin > 2 && n->in[2] && ir_const_i64(n->in[2], 0)) return 0; /* training */
  Ew e = {.op = n->op};
  ew_params(n, &e);
  bool all_int = true;
  for (int i = n->op == OP_Where ? 1 : 0; i < k; i++)
    if (!n->in[i] || dtype_is_float(n->in[i]->dtype)) all_int = false;
  e.imode = all_int && has_int_impl(n->op);
  if (!e.imode && (n->op == OP_BitwiseAnd || n->op == OP_BitwiseOr || n->op == OP_BitwiseXor ||
                   n->op == OP_BitShift || n->op == OP_BitwiseNot))
    return 0;
  for (int i = 0; i < k; i++) { /* the inputs must broadcast to the inferred output shape */
    const Value *v = n->in[i];
    if (!v || v->rank > y->rank) return 0;
    for (int d = 0; d < v->rank; d++)
      if (v->dims[d] != 1 && v->dims[d] != y->dims[d + y->rank - v->rank]) return 0;
  }
  Iter *it = ir_xmalloc(sizeof *it);
  it_shape(it, y->rank, y->dims);
  for (int i = 0; i < k; i++) it_operand(it, i, n->in[i]);
  char *out = out_data(g, y);
  int64_t m = numel(y);
  int ok = 1;
  for (int64_t j = 0; j < m && ok; j++, it_next(it)) {
    if (e.imode) {
      int64_t x[EW_MAX_IN], r;
      for (int i = 0; i < k; i++) x[i] = ir_const_i64(n->in[i], it->off[i]);
      if (!ew_i(&e, x, k, &r)) ok = 0;
      else ir_store_i64(y->dtype, out, j, r);
    } else {
      double x[EW_MAX_IN], r;
      for (int i = 0; i < k; i++) x[i] = ir_const_f64(n->in[i], it->off[i]);
      if (!ew_f(&e, x, k, &r)) ok = 0;
      else ir_store_f64(y->dtype, out, j, r);
    }
  }
  free(it);
  if (ok && n->op == OP_Dropout && n->nout > 1 && n->out[1]) { /* mask: all kept */
    Value *mask = n->out[1];
    char *md = out_data(g, mask);
    for (int64_t j = 0; j < numel(mask); j++) ir_store_i64(mask->dtype, md, j, 1);
  }
  return ok;
}

/* Cast, CastLike: float sources go through double (truncation toward zero into integers),
 * integer sources stay exact in int64 unless the destination is floating point. */
int eval_cast(Graph *g, Node *n) {
  Value *x = n->in[0], *y = n->out[0];
  char *out = out_data(g, y);
  bool via_f64 = dtype_is_float(x->dtype) || dtype_is_float(y->dtype);
  for (int64_t j = 0, m = numel(y); j < m; j++) {
    if (via_f64) ir_store_f64(y->dtype, out, j, ir_const_f64(x, j));
    else ir_store_i64(y->dtype, out, j, ir_const_i64(x, j));
  }
  return 1;
}

/* ---- data movement: every output element names one source element (or the fill value) ---- */
typedef struct Mover Mover;
typedef int64_t (*SrcFn)(const Mover *m, const int64_t *o, int *src);

enum { AX_AFFINE, AX_TILE, AX_PAD };
enum { PAD_CONSTANT, PAD_EDGE, PAD_REFLECT, PAD_WRAP };

struct Mover {
  Value *const *srcs; /* sources; all have the output's dtype */
  int nsrc;
  /* per output axis (axis_src): coordinate in the source = rule(o[d]), times stride[d] */
  int kind[R];
  int64_t start[R], step[R], stride[R], lo[R], len[R];
  int pad_mode;
  /* the other mappings */
  int axis, rank;
  int64_t k, block;
  bool flag;
  const Value *idx;
  int64_t istride[R], xstride[R];
  const int64_t *offs;
};

static int64_t fold_coord(int64_t c, int64_t len, int mode) {
  if (mode == PAD_EDGE) return c < 0 ? 0 : len - 1;
  if (mode == PAD_WRAP) return ((c % len) + len) % len;
  if (len == 1) return 0; /* reflect */
  int64_t p = 2 * (len - 1);
  c = ((c % p) + p) % p;
  return c >= len ? p - c : c;
}

static int64_t axis_src(const Mover *m, const int64_t *o, int *src) {
  int64_t j = 0;
  *src = 0;
  for (int d = 0; d < m->rank; d++) {
    int64_t c;
    if (m->kind[d] == AX_AFFINE) c = m->start[d] + o[d] * m->step[d];
    else if (m->kind[d] == AX_TILE) c = o[d] % m->len[d];
    else {
      c = o[d] - m->start[d];
      if (c < 0 || c >= m->len[d]) {
        if (m->pad_mode == PAD_CONSTANT) return -1;
        c = fold_coord(c, m->len[d], m->pad_mode);
      }
      c += m->lo[d];
    }
    j += c * m->stride[d];
  }
  return j;
}

static void move(Value *y, const Mover *m, SrcFn fn, const void *fill) {
  size_t es = dtype_size(y->dtype);
  char *dst = y->data;
  Iter it;
  it_shape(&it, y->rank, y->dims);
  for (int64_t k = 0, total = numel(y); k < total; k++, it_next(&it)) {
    int s = 0;
    int64_t j = fn(m, it.idx, &s);
    memcpy(dst + (size_t)k * es, j < 0 ? fill : (const char *)m->srcs[s]->data + (size_t)j * es, es);
  }
}

/* an identity-mapped mover over x (the caller then adjusts per-axis rules) */
static void mover_init(Mover *m, Value *const *x, int rank) {
  memset(m, 0, sizeof *m);
  m->srcs = x;
  m->nsrc = 1;
  m->rank = rank;
  strides_of(x[0]->rank, x[0]->dims, m->xstride);
  for (int d = 0; d < rank; d++) {
    m->step[d] = 1;
    m->stride[d] = d < x[0]->rank ? m->xstride[d] : 0;
  }
}

int eval_transpose(Graph *g, Node *n) {
  Value *x = n->in[0], *y = n->out[0];
  Mover m;
  mover_init(&m, n->in, y->rank);
  const int64_t *perm;
  int cnt = ir_attr_ints(n, "perm", &perm);
  for (int d = 0; d < y->rank; d++) m.stride[d] = m.xstride[cnt >= 0 ? perm[d] : x->rank - 1 - d];
  out_data(g, y);
  move(y, &m, axis_src, NULL);
  return 1;
}

int eval_slice(Graph *g, Node *n) {
  Value *y = n->out[0];
  Mover m;
  mover_init(&m, n->in, y->rank);
  int64_t len[R];
  if (ir_slice_plan(g, n, m.start, m.step, len)) return -1;
  out_data(g, y);
  move(y, &m, axis_src, NULL);
  return 1;
}

int eval_split(Graph *g, Node *n) {
  int axis;
  int64_t *sizes = arena_alloc(g->arena, sizeof(int64_t) * (size_t)n->nout), off = 0;
  if (ir_split_plan(g, n, &axis, sizes)) return -1;
  for (int i = 0; i < n->nout; off += sizes[i++]) {
    Value *y = n->out[i];
    if (!y) continue;
    Mover m;
    mover_init(&m, n->in, y->rank);
    m.start[axis] = off;
    out_data(g, y);
    move(y, &m, axis_src, NULL);
  }
  return 1;
}

int eval_expand(Graph *g, Node *n) { /* also Tile */
  Value *x = n->in[0], *y = n->out[0];
  Mover m;
  mover_init(&m, n->in, y->rank);
  for (int d = 0; d < y->rank; d++) {
    int xd = d - (y->rank - x->rank);
    m.stride[d] = xd < 0 || (n->op == OP_Expand && x->dims[xd] == 1) ? 0 : m.xstride[xd];
    m.kind[d] = n->op == OP_Tile ? AX_TILE : AX_AFFINE;
    m.len[d] = xd < 0 ? 1 : x->dims[xd];
  }
  out_data(g, y);
  move(y, &m, axis_src, NULL);
  return 1;
}

int eval_pad(Graph *g, Node *n) {
  Value *x = n->in[0], *y = n->out[0];
  int64_t before[R], after[R];
  if (ir_pad_plan(g, n, before, after)) return -1;
  static const char *modes[] = {"constant", "edge", "reflect", "wrap"};
  const char *mode = ir_attr_str(n, "mode", "constant");
  Mover m;
  mover_init(&m, n->in, y->rank);
  for (int i = 0; i < 4; i++)
    if (!strcmp(mode, modes[i])) m.pad_mode = i;
  for (int d = 0; d < x->rank; d++) { /* negative pads crop [lo, lo+len) first */
    m.kind[d] = AX_PAD;
    m.lo[d] = before[d] < 0 ? -before[d] : 0;
    m.len[d] = x->dims[d] - m.lo[d] - (after[d] < 0 ? -after[d] : 0);
    m.start[d] = before[d] > 0 ? before[d] : 0;
  }
  double v = ir_attr_float(n, "value", 0);
  if (n->nin > 2 && n->in[2] && numel(n->in[2]) > 0) v = ir_const_f64(n->in[2], 0);
  int64_t fill[2] = {0, 0};
  if (n->nin > 2 && n->in[2] && !dtype_is_float(n->in[2]->dtype) && numel(n->in[2]) > 0)
    ir_store_i64(y->dtype, fill, 0, ir_const_i64(n->in[2], 0));
  else
    ir_store_f64(y->dtype, fill, 0, v);
  out_data(g, y);
  move(y, &m, axis_src, fill);
  return 1;
}

static int64_t concat_src(const Mover *m, const int64_t *o, int *src) {
  int s = 0;
  while (s + 1 < m->nsrc && o[m->axis] >= m->offs[s + 1]) s++;
  *src = s;
  const Value *v = m->srcs[s];
  int64_t j = 0, st = 1;
  for (int d = m->rank - 1; d >= 0; d--) {
    j += (d == m->axis ? o[d] - m->offs[s] : o[d]) * st;
    st *= v->dims[d];
  }
  return j;
}

int eval_concat(Graph *g, Node *n) {
  Value *y = n->out[0], **srcs = arena_alloc(g->arena, sizeof(Value *) * (size_t)n->nin);
  int64_t *offs = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(n->nin + 1));
  int k = 0;
  Mover m;
  memset(&m, 0, sizeof m);
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", 1), y->rank, &m.axis)) return -1;
  int64_t off = 0;
  for (int i = 0; i < n->nin; i++) {
    if (!n->in[i] || n->in[i]->dims[m.axis] == 0) continue; /* empty inputs contribute nothing */
    srcs[k] = n->in[i];
    offs[k++] = off;
    off += n->in[i]->dims[m.axis];
  }
  m.srcs = srcs;
  m.nsrc = k;
  m.offs = offs;
  m.rank = y->rank;
  out_data(g, y);
  if (k) move(y, &m, concat_src, NULL);
  return 1;
}

/* Gather: o = [data axes < axis][indices axes][data axes > axis] */
static int64_t gather_src(const Mover *m, const int64_t *o, int *src) {
  const Value *x = m->srcs[0], *idx = m->idx;
  int q = idx->rank, a = m->axis;
  int64_t flat = 0, j = 0;
  *src = 0;
  for (int t = 0; t < q; t++) flat += o[a + t] * m->istride[t];
  int64_t c = ir_const_i64(idx, flat);
  if (c < 0) c += x->dims[a];
  for (int d = 0; d < a; d++) j += o[d] * m->xstride[d];
  j += c * m->xstride[a];
  for (int d = a + 1; d < x->rank; d++) j += o[d + q - 1] * m->xstride[d];
  return j;
}

static int64_t gather_el_src(const Mover *m, const int64_t *o, int *src) {
  const Value *x = m->srcs[0];
  int64_t flat = 0, j = 0;
  *src = 0;
  for (int d = 0; d < x->rank; d++) flat += o[d] * m->istride[d];
  int64_t c = ir_const_i64(m->idx, flat);
  if (c < 0) c += x->dims[m->axis];
  for (int d = 0; d < x->rank; d++) j += (d == m->axis ? c : o[d]) * m->xstride[d];
  return j;
}

/* GatherND: o = [indices axes but the last][data axes from b+k]; batch axes come first in both */
static int64_t gather_nd_src(const Mover *m, const int64_t *o, int *src) {
  const Value *x = m->srcs[0], *idx = m->idx;
  int q = idx->rank, b = m->axis, k = (int)m->k;
  int64_t base = 0, j = 0;
  *src = 0;
  for (int t = 0; t < q - 1; t++) base += o[t] * m->istride[t];
  for (int d = 0; d < b; d++) j += o[d] * m->xstride[d];
  for (int t = 0; t < k; t++) {
    int64_t c = ir_const_i64(idx, base + t);
    if (c < 0) c += x->dims[b + t];
    j += c * m->xstride[b + t];
  }
  for (int d = b + k; d < x->rank; d++) j += o[q - 1 + d - b - k] * m->xstride[d];
  return j;
}

static bool indices_ok(const Value *idx, const Value *x, int axis) {
  int64_t s = x->dims[axis];
  for (int64_t i = 0, m = numel(idx); i < m; i++) {
    int64_t c = ir_const_i64(idx, i);
    if (c < -s || c >= s) return false;
  }
  return true;
}

int eval_gather(Graph *g, Node *n) {
  Value *x = n->in[0], *idx = n->in[1], *y = n->out[0];
  Mover m;
  mover_init(&m, n->in, y->rank);
  m.idx = idx;
  strides_of(idx->rank, idx->dims, m.istride);
  SrcFn fn;
  if (n->op == OP_GatherND) {
    m.axis = (int)ir_attr_int(n, "batch_dims", 0);
    m.k = idx->dims[idx->rank - 1];
    for (int64_t i = 0, cnt = numel(idx); i < cnt; i++) {
      int64_t c = ir_const_i64(idx, i), s = x->dims[m.axis + i % m.k];
      if (c < -s || c >= s) return ir_node_error(g, n, "index %lld is out of bounds", (long long)c);
    }
    fn = gather_nd_src;
  } else {
    if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &m.axis)) return -1;
    if (!indices_ok(idx, x, m.axis)) return ir_node_error(g, n, "an index is out of bounds");
    fn = n->op == OP_Gather ? gather_src : gather_el_src;
  }
  out_data(g, y);
  move(y, &m, fn, NULL);
  return 1;
}

/* DepthToSpace (DCR / CRD) and SpaceToDepth on NCHW */
static int64_t d2s_src(const Mover *m, const int64_t *o, int *src) {
  int64_t b = m->block, C = m->srcs[0]->dims[1], c, h, w;
  *src = 0;
  if (m->k) { /* DepthToSpace: output (N, C/b^2, H*b, W*b) */
    int64_t oc = o[1], bh = o[2] % b, bw = o[3] % b, Co = C / (b * b);
    c = m->flag ? oc * b * b + bh * b + bw : (bh * b + bw) * Co + oc; /* CRD : DCR */
    h = o[2] / b;
    w = o[3] / b;
  } else { /* SpaceToDepth: output (N, C*b^2, H/b, W/b) */
    int64_t blk = o[1] / C;
    c = o[1] % C;
    h = o[2] * b + blk / b;
    w = o[3] * b + blk % b;
  }
  return o[0] * m->xstride[0] + c * m->xstride[1] + h * m->xstride[2] + w * m->xstride[3];
}

int eval_depth_space(Graph *g, Node *n) {
  Value *y = n->out[0];
  Mover m;
  mover_init(&m, n->in, y->rank);
  m.block = ir_attr_int(n, "blocksize", 1);
  m.k = n->op == OP_DepthToSpace;
  m.flag = !strcmp(ir_attr_str(n, "mode", "DCR"), "CRD");
  out_data(g, y);
  move(y, &m, d2s_src, NULL);
  return 1;
}

static int64_t trilu_src(const Mover *m, const int64_t *o, int *src) {
  int64_t i = o[m->rank - 2], j = o[m->rank - 1], flat = 0;
  *src = 0;
  if (m->flag ? j - i < m->k : j - i > m->k) return -1;
  for (int d = 0; d < m->rank; d++) flat += o[d] * m->xstride[d];
  return flat;
}

int eval_trilu(Graph *g, Node *n) {
  Value *y = n->out[0];
  Mover m;
  mover_init(&m, n->in, y->rank);
  m.flag = ir_attr_int(n, "upper", 1) != 0;
  m.k = n->nin > 1 && n->in[1] ? ir_const_i64(n->in[1], 0) : 0;
  int64_t zero = 0;
  out_data(g, y);
  move(y, &m, trilu_src, &zero);
  return 1;
}

/* OneHot: output element = values[1] where the index matches its position on axis, else values[0] */
static int64_t one_hot_src(const Mover *m, const int64_t *o, int *src) {
  int64_t flat = 0;
  *src = 0;
  for (int d = 0, t = 0; d < m->rank; d++)
    if (d != m->axis) flat += o[d] * m->istride[t++];
  int64_t c = ir_const_i64(m->idx, flat);
  if (c < 0) c += m->k;
  return c == o[m->axis];
}

int eval_one_hot(Graph *g, Node *n) {
  Value *y = n->out[0];
  Mover m;
  memset(&m, 0, sizeof m);
  m.srcs = n->in + 2;
  m.rank = y->rank;
  m.idx = n->in[0];
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", -1), y->rank, &m.axis)) return -1;
  m.k = y->dims[m.axis];
  strides_of(m.idx->rank, m.idx->dims, m.istride);
  out_data(g, y);
  move(y, &m, one_hot_src, NULL);
  return 1;
}

/* EyeLike: ones on the k-th diagonal; the "source" is a two-element {0, 1} tensor */
static int64_t eye_src(const Mover *m, const int64_t *o, int *src) {
  *src = 0;
  return o[1] - o[0] == m->k;
}

int eval_eye_like(Graph *g, Node *n) {
  Value *y = n->out[0], tmp;
  int64_t buf[2] = {0, 0};
  ir_store_i64(y->dtype, buf, 0, 0);
  ir_store_i64(y->dtype, buf, 1, 1);
  memset(&tmp, 0, sizeof tmp);
  tmp.data = buf;
  Value *srcs[1] = {&tmp};
  Mover m;
  memset(&m, 0, sizeof m);
  m.srcs = srcs;
  m.k = ir_attr_int(n, "k", 0);
  out_data(g, y);
  move(y, &m, eye_src, NULL);
  return 1;
}

/* ---- scatter: copy data, then apply updates (reduction none/add/mul/max/min) ---- */
static void scatter_one(Value *y, int64_t dst, const Value *u, int64_t j, const char *red) {
  size_t es = dtype_size(y->dtype);
  if (!strcmp(red, "none")) {
    memcpy((char *)y->data + (size_t)dst * es, (const char *)u->data + (size_t)j * es, es);
    return;
  }
  Ew e = {.op = !strcmp(red, "add") ? OP_Add : !strcmp(red, "mul") ? OP_Mul : !strcmp(red, "max") ? OP_Max : OP_Min};
  if (dtype_is_float(y->dtype)) {
    double x[2] = {ir_const_f64(y, dst), ir_const_f64(u, j)}, r;
    ew_f(&e, x, 2, &r);
    ir_store_f64(y->dtype, y->data, dst, r);
  } else {
    int64_t x[2] = {ir_const_i64(y, dst), ir_const_i64(u, j)}, r;
    ew_i(&e, x, 2, &r);
    ir_store_i64(y->dtype, y->data, dst, r);
  }
}

int eval_scatter(Graph *g, Node *n) {
  Value *x = n->in[0], *idx = n->in[1], *u = n->in[2], *y = n->out[0];
  const char *red = ir_attr_str(n, "reduction", "none");
  if (strcmp(red, "none") && strcmp(red, "add") && strcmp(red, "mul") && strcmp(red, "max") &&
      strcmp(red, "min"))
    return 0;
  int64_t xs[R];
  strides_of(x->rank, x->dims, xs);
  memcpy(out_data(g, y), x->data, (size_t)numel(x) * dtype_size(x->dtype));
  if (n->op == OP_ScatterElements) {
    int axis;
    if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
    Iter it;
    it_shape(&it, idx->rank, idx->dims);
    for (int64_t j = 0, m = numel(idx); j < m; j++, it_next(&it)) {
      int64_t c = ir_const_i64(idx, j), s = x->dims[axis], dst = 0;
      if (c < -s || c >= s) return ir_node_error(g, n, "index %lld is out of bounds", (long long)c);
      if (c < 0) c += s;
      for (int d = 0; d < x->rank; d++) dst += (d == axis ? c : it.idx[d]) * xs[d];
      scatter_one(y, dst, u, j, red);
    }
    return 1;
  }
  int64_t k = idx->dims[idx->rank - 1], tuples = numel(idx) / (k ? k : 1), slice = 1;
  for (int d = (int)k; d < x->rank; d++) slice *= x->dims[d];
  for (int64_t t = 0; t < tuples; t++) {
    int64_t base = 0;
    for (int i = 0; i < k; i++) {
      int64_t c = ir_const_i64(idx, t * k + i), s = x->dims[i];
      if (c < -s || c >= s) return ir_node_error(g, n, "index %lld is out of bounds", (long long)c);
      base += (c < 0 ? c + s : c) * xs[i];
    }
    for (int64_t e = 0; e < slice; e++) scatter_one(y, base + e, u, t * slice + e, red);
  }
  return 1;
}

/* ---- generators ---- */
int eval_shape(Graph *g, Node *n) {
  Value *x = n->in[0], *y = n->out[0];
  int64_t r = x->rank, s = ir_attr_int(n, "start", 0);
  if (s < 0) s += r;
  s = s < 0 ? 0 : s > r ? r : s;
  int64_t *out = out_data(g, y);
  for (int64_t i = 0; i < y->dims[0]; i++) out[i] = x->dims[s + i];
  return 1;
}

int eval_size(Graph *g, Node *n) {
  *(int64_t *)out_data(g, n->out[0]) = numel(n->in[0]);
  return 1;
}

int eval_constant(Graph *g, Node *n) {
  Value *y = n->out[0];
  char *out = out_data(g, y);
  for (int i = 0; i < n->nattr; i++) {
    const Attr *a = &n->attrs[i];
    if (!strcmp(a->name, "value") && a->type == AT_TENSOR && a->t && a->t->data) {
      memcpy(out, a->t->data, (size_t)numel(y) * dtype_size(y->dtype));
      return 1;
    }
    if (!strcmp(a->name, "value_float")) return ir_store_f64(y->dtype, out, 0, a->f), 1;
    if (!strcmp(a->name, "value_int")) return ir_store_i64(y->dtype, out, 0, a->i), 1;
    if (!strcmp(a->name, "value_floats") || !strcmp(a->name, "value_ints")) {
      for (int j = 0; j < a->n; j++)
        if (a->floats && a->type == AT_FLOATS) ir_store_f64(y->dtype, out, j, a->floats[j]);
        else if (a->ints) ir_store_i64(y->dtype, out, j, a->ints[j]);
      return 1;
    }
  }
  return 0;
}

int eval_constant_of_shape(Graph *g, Node *n) {
  Value *y = n->out[0];
  const Attr *v = ir_attr(n, "value");
  char *out = out_data(g, y);
  if (!v || v->type != AT_TENSOR || !v->t || !v->t->data) return 1; /* float zeros */
  size_t es = dtype_size(y->dtype);
  for (int64_t j = 0, m = numel(y); j < m; j++) memcpy(out + (size_t)j * es, v->t->data, es);
  return 1;
}

int eval_range(Graph *g, Node *n) {
  Value *y = n->out[0], *a = n->in[0], *d = n->in[2];
  char *out = out_data(g, y);
  bool fl = dtype_is_float(y->dtype);
  for (int64_t j = 0, m = numel(y); j < m; j++) {
    if (fl) ir_store_f64(y->dtype, out, j, ir_const_f64(a, 0) + (double)j * ir_const_f64(d, 0));
    else ir_store_i64(y->dtype, out, j, wrap_add(ir_const_i64(a, 0), wrap_mul(j, ir_const_i64(d, 0))));
  }
  return 1;
}

/* ---- reductions: each input element accumulates into its output element ---- */
int eval_reduce(Graph *g, Node *n) {
  Value *x = n->in[0], *y = n->out[0];
  int64_t axes[R];
  int cnt = -1;
  if (n->nin > 1 && n->in[1]) {
    cnt = (int)numel(n->in[1]);
    if (cnt > R) return 0;
    for (int i = 0; i < cnt; i++) axes[i] = ir_const_i64(n->in[1], i);
  } else {
    const int64_t *p;
    cnt = ir_attr_ints(n, "axes", &p);
    if (cnt > R) return 0;
    if (cnt > 0) memcpy(axes, p, sizeof(int64_t) * (size_t)cnt);
  }
  bool red[R] = {false}, noop = cnt <= 0 && ir_attr_int(n, "noop_with_empty_axes", 0);
  for (int i = 0; i < cnt; i++) {
    int a;
    if (ir_normalize_axis(g, n, axes[i], x->rank, &a)) return -1;
    red[a] = true;
  }
  if (cnt <= 0 && !noop)
    for (int d = 0; d < x->rank; d++) red[d] = true;
  int64_t os[R], m = 1, count = 1;
  for (int d = x->rank - 1; d >= 0; d--) {
    os[d] = red[d] ? 0 : m;
    if (red[d]) count *= x->dims[d];
    else m *= x->dims[d];
  }
  if (m != numel(y)) return 0; /* the shape function disagrees: leave it to the backend */
  Op op = n->op;
  bool imode = !dtype_is_float(x->dtype) && (op == OP_ReduceSum || op == OP_ReduceProd ||
                                             op == OP_ReduceMax || op == OP_ReduceMin);
  double *af = ir_xcalloc((size_t)(m ? m : 1), sizeof(double));
  int64_t *ai = ir_xcalloc((size_t)(m ? m : 1), sizeof(int64_t));
  for (int64_t j = 0; j < m; j++) {
    af[j] = op == OP_ReduceProd ? 1 : op == OP_ReduceMax ? -INFINITY : op == OP_ReduceMin ? INFINITY : 0;
    ai[j] = op == OP_ReduceProd ? 1 : op == OP_ReduceMax ? INT64_MIN : op == OP_ReduceMin ? INT64_MAX : 0;
  }
  Iter it;
  it_shape(&it, x->rank, x->dims);
  memcpy(it.stride[0], os, sizeof os);
  it.nin = 1;
  for (int64_t j = 0, total = numel(x); j < total; j++, it_next(&it)) {
    int64_t o = it.off[0];
    if (imode) {
      int64_t v = ir_const_i64(x, j);
      switch (op) {
      case OP_ReduceSum: ai[o] = wrap_add(ai[o], v); break;
      case OP_ReduceProd: ai[o] = wrap_mul(ai[o], v); break;
      case OP_ReduceMax: ai[o] = v > ai[o] ? v : ai[o]; break;
      default: ai[o] = v < ai[o] ? v : ai[o]; break;
      }
      continue;
    }
    double v = ir_const_f64(x, j), *a = &af[o];
    switch (op) {
    case OP_ReduceSum: case OP_ReduceMean: *a += v; break;
    case OP_ReduceProd: *a *= v; break;
    case OP_ReduceMax: *a = v != v || v > *a ? v : *a; break;
    case OP_ReduceMin: *a = v != v || v < *a ? v : *a; break;
    case OP_ReduceL1: *a += fabs(v); break;
    case OP_ReduceL2: case OP_ReduceSumSquare: *a += v * v; break;
    case OP_ReduceLogSum: *a += v; break;
    case OP_ReduceLogSumExp: *a += exp(v); break;
    default: break;
    }
  }
  char *out = out_data(g, y);
  for (int64_t j = 0; j < m; j++) {
    if (imode) {
      ir_store_i64(y->dtype, out, j, ai[j]);
      continue;
    }
    double v = af[j];
    if (op == OP_ReduceMean) v /= (double)count;
    else if (op == OP_ReduceL2) v = sqrt(v);
    else if (op == OP_ReduceLogSum || op == OP_ReduceLogSumExp) v = log(v);
    ir_store_f64(y->dtype, out, j, v);
  }
  free(af);
  free(ai);
  return 1;
}

/* ---- copies ---- */
int eval_copy(Graph *g, Node *n) { /* Identity, Reshape, Flatten, (Un)squeeze: same bytes */
  Value *x = n->in[0], *y = n->out[0];
  if (numel(x) != numel(y) || x->dtype != y->dtype) return 0;
  memcpy(out_data(g, y), x->data, (size_t)numel(x) * dtype_size(x->dtype));
  return 1;
}

/* the fold column of ops that are never folded on the host */
int eval_none(Graph *g, Node *n) {
  (void)g;
  (void)n;
  return 0;
}
