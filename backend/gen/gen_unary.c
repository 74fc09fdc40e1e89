/* gen_unary.c — elementwise ops with one tensor input (F_UNARY), per the ONNX spec.
 *
 * Everything but Identity/Dropout goes through gen_eltwise: the per-vector function below sees x
 * in its compute type (bool → i1, f16/bf16 → f32).  Float-only math on integer inputs (Erf,
 * Shrink) is done in f64 (f32 for 8/16-bit ints) and converted back.  Identity and Dropout are
 * copies (memcpy split over threads); Dropout's optional mask output is all true (inference). */
#include <math.h>
#include <string.h>

#include "gen_util.h"

typedef struct UCtx {
  Op op;
  DType in, out;
  float alpha, beta, gamma, bias, lambd;
  bool det_pos, det_neg, gelu_tanh;
  /* Clip: operand index of a runtime bound (-1: none), or a constant bound */
  int lo_op, hi_op;
  bool has_lo, has_hi;
  double lo_f, hi_f;
  int64_t lo_i, hi_i;
} UCtx;

static void uctx_init(UCtx *u, const Node *n, DType in, DType out);

static bool is_uns(DType t) { return t == DT_BOOL || !dtype_is_signed(t); }

/* a constant of x's type (float or int) */
static KV num(KB *kb, KT t, double v) {
  return kb_is_float(t.e) ? kb_float(kb, t, v) : kb_int(kb, t, (int64_t)v);
}

/* integer x → a float vector that holds it exactly enough for float-only math */
static KV as_float(KB *kb, KV x, bool uns) {
  KT t = kb_type(kb, x);
  if (kb_is_float(t.e)) return x;
  KElem fe = kb_elem_size(t.e) >= 4 ? KE_F64 : KE_F32;
  return kb_cast(kb, x, kt(fe, t.lanes), uns, false);
}

static KV from_float(KB *kb, KV r, KT t, bool uns) {
  if (kb_type(kb, r).e == t.e) return r;
  return kb_cast(kb, kb_trunc(kb, r), t, false, uns);
}

/* max(lo, min(hi, x)) with selects (a NaN x stays NaN) */
static KV clamp01(KB *kb, KV x) {
  KT t = kb_type(kb, x);
  x = kb_select(kb, kb_cmp(kb, KC_LT, x, kb_float(kb, t, 0), false), kb_float(kb, t, 0), x);
  return kb_select(kb, kb_cmp(kb, KC_GT, x, kb_float(kb, t, 1), false), kb_float(kb, t, 1), x);
}

static KV softplus(KB *kb, KV x) {
  /* log(1 + e^x) = max(x, 0) + log1p(e^-|x|) */
  KT t = kb_type(kb, x);
  KV z = kb_float(kb, t, 0);
  KV pos = kb_select(kb, kb_cmp(kb, KC_GT, x, z, false), x, z);
  return kb_add(kb, pos, kb_log1p(kb, kb_exp(kb, kb_neg(kb, kb_abs(kb, x)))));
}

/* Swish in f32, x / (1 + e^(-alpha·x)): the hot epilogue of EfficientNet-style nets, so e^t here
 * skips what only matters outside the range a sigmoid needs (kb_exp's denormal results and
 * two-step scaling): t is clamped to [-80, 88] first (beyond, 1 + e^t is 1 or e^t is so large that
 * the quotient is below 1e-35 in magnitude), then e^t = 2^n·P(r), r = t - n·ln2 in [-ln2/2, ln2/2]
 * and P the degree-7 Taylor polynomial (truncation error < 6e-9 relative), with 2^n added to P's
 * exponent bits.  A NaN x stays NaN through the numerator. */
static KV swish_f32(KB *kb, KV x, double alpha) {
  KT t = kb_type(kb, x), it = kt(KE_I32, t.lanes);
#define F(c) kb_float(kb, t, (c))
  KV a = kb_mul(kb, x, F(-alpha));
  a = kb_min(kb, kb_max(kb, a, F(-80.0), false), F(88.0), false);
  KV tm = kb_fma(kb, a, F(1.4426950408889634), F(12582912.0)); /* 1.5·2^23: rounds to an integer */
  KV n = kb_sub(kb, tm, F(12582912.0));
  KV ni = kb_sub(kb, kb_bitcast(kb, tm, it), kb_bitcast(kb, F(12582912.0), it));
  KV r = kb_fma(kb, n, F(-0.693145751953125), a);
  r = kb_fma(kb, n, F(-1.4286068203094173e-06), r);
  static const double tay[8] = {1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0};
  KV p = F(tay[0]);
  for (int i = 1; i < 8; i++) p = kb_fma(kb, p, r, F(tay[i]));
  KV e = kb_bitcast(kb, kb_add(kb, kb_bitcast(kb, p, it), kb_shl(kb, ni, kb_int(kb, it, 23))), t);
  return kb_div(kb, x, kb_add(kb, F(1.0), e), false);
#undef F
}

static KV sign_of(KB *kb, KV x, bool uns) {
  KT t = kb_type(kb, x);
  KV z = num(kb, t, 0), one = num(kb, t, 1);
  if (uns) return kb_select(kb, kb_cmp(kb, KC_NE, x, z, false), one, z);
  KV r = kb_select(kb, kb_cmp(kb, KC_LT, x, z, false), num(kb, t, -1), kb_is_float(t.e) ? x : z);
  return kb_select(kb, kb_cmp(kb, KC_GT, x, z, false), one, r); /* float: ±0 and NaN pass through */
}

static KV clip(KB *kb, KV *v, const UCtx *u) {
  KV x = v[0];
  KT t = kb_type(kb, x);
  bool fl = kb_is_float(t.e), uns = is_uns(u->in);
  KV lo = u->lo_op >= 0 ? v[u->lo_op] : u->has_lo ? (fl ? kb_float(kb, t, u->lo_f) : kb_int(kb, t, u->lo_i)) : NULL;
  KV hi = u->hi_op >= 0 ? v[u->hi_op] : u->has_hi ? (fl ? kb_float(kb, t, u->hi_f) : kb_int(kb, t, u->hi_i)) : NULL;
  /* numpy clip: min(max(x, lo), hi); NaN in x propagates */
  if (lo) x = fl ? kb_select(kb, kb_cmp(kb, KC_LT, x, lo, false), lo, x) : kb_max(kb, x, lo, uns);
  if (hi) x = fl ? kb_select(kb, kb_cmp(kb, KC_GT, x, hi, false), hi, x) : kb_min(kb, x, hi, uns);
  return x;
}

static KV f_unary(KB *kb, KV *v, int lanes, void *ud) {
  const UCtx *u = ud;
  KV x = v[0];
  KT t = kb_type(kb, x);
  bool uns = is_uns(u->in);
#define F(c) kb_float(kb, t, (c))
#define LT0(a) kb_cmp(kb, KC_LT, a, F(0), false)
  switch (u->op) {
  case OP_Abs: return uns ? x : kb_abs(kb, x);
  case OP_Neg: return kb_neg(kb, x);
  case OP_Exp: return kb_exp(kb, x);
  case OP_Log: return kb_log(kb, x);
  case OP_Sqrt: return kb_sqrt(kb, x);
  case OP_Reciprocal: return kb_div(kb, F(1), x, false);
  case OP_Floor: return kb_floor(kb, x);
  case OP_Ceil: return kb_ceil(kb, x);
  case OP_Round: return kb_round_even(kb, x);
  case OP_Sign: return sign_of(kb, x, uns);
  case OP_Relu:
    if (!kb_is_float(t.e)) return kb_max(kb, x, kb_int(kb, t, 0), false);
    return kb_select(kb, LT0(x), F(0), x);
  case OP_LeakyRelu: return kb_select(kb, LT0(x), kb_mul(kb, x, F(u->alpha)), x);
  case OP_Elu: return kb_select(kb, LT0(x), kb_mul(kb, kb_expm1(kb, x), F(u->alpha)), x);
  case OP_Selu: {
    KV neg = kb_mul(kb, kb_expm1(kb, x), F(u->alpha));
    KV r = kb_select(kb, kb_cmp(kb, KC_GT, x, F(0), false), x, neg);
    return kb_mul(kb, r, F(u->gamma));
  }
  case OP_Celu: {
    /* max(0, x) + min(0, alpha (e^(x/alpha) - 1)) */
    KV e = kb_mul(kb, kb_expm1(kb, kb_div(kb, x, F(u->alpha), false)), F(u->alpha));
    KV pos = kb_select(kb, kb_cmp(kb, KC_GT, x, F(0), false), x, F(0));
    KV neg = kb_select(kb, LT0(e), e, F(0));
    KV r = kb_add(kb, pos, neg);
    return kb_select(kb, kb_cmp(kb, KC_UNORD, x, x, false), x, r);
  }
  case OP_ThresholdedRelu: return kb_select(kb, kb_cmp(kb, KC_GT, x, F(u->alpha), false), x, F(0));
  case OP_Sigmoid: return kb_sigmoid(kb, x);
  case OP_HardSigmoid: return clamp01(kb, kb_fma(kb, x, F(u->alpha), F(u->beta)));
  case OP_HardSwish: return kb_mul(kb, x, clamp01(kb, kb_fma(kb, x, F(1.0 / 6.0), F(0.5))));
  case OP_Tanh: return kb_tanh(kb, x);
  case OP_Softplus: return softplus(kb, x);
  case OP_Softsign: return kb_div(kb, x, kb_add(kb, F(1), kb_abs(kb, x)), false);
  case OP_Mish: return kb_mul(kb, x, kb_tanh(kb, softplus(kb, x)));
  case OP_Swish: /* x·sigmoid(alpha·x); SiLU when alpha = 1 (passes/fuse.c finds it spelled out) */
    if (t.e == KE_F32) return swish_f32(kb, x, u->alpha);
    return kb_mul(kb, x, kb_sigmoid(kb, u->alpha == 1.0f ? x : kb_mul(kb, x, F(u->alpha))));
  case OP_Gelu: {
    KV h = kb_mul(kb, x, F(0.5));
    if (u->gelu_tanh) {
      KV x3 = kb_mul(kb, kb_mul(kb, x, x), x);
      KV in = kb_mul(kb, kb_fma(kb, x3, F(0.044715), x), F(0.7978845608028654));
      return kb_fma(kb, h, kb_tanh(kb, in), h);
    }
    return kb_fma(kb, h, kb_erf(kb, kb_mul(kb, x, F(0.7071067811865476))), h);
  }
  case OP_Erf: return from_float(kb, kb_erf(kb, as_float(kb, x, uns)), t, uns);
  case OP_Sin: return kb_sin(kb, x);
  case OP_Cos: return kb_cos(kb, x);
  case OP_Tan: return kb_tan(kb, x);
  case OP_Asin: return kb_asin(kb, x);
  case OP_Acos: return kb_acos(kb, x);
  case OP_Atan: return kb_atan(kb, x);
  case OP_Sinh: return kb_sinh(kb, x);
  case OP_Cosh: return kb_cosh(kb, x);
  case OP_Asinh: return kb_asinh(kb, x);
  case OP_Acosh: return kb_acosh(kb, x);
  case OP_Atanh: return kb_atanh(kb, x);
  case OP_Not:
  case OP_BitwiseNot: return kb_not(kb, x);
  case OP_IsNaN: return kb_cmp(kb, KC_UNORD, x, x, false);
  case OP_IsInf: {
    KV r = kb_int(kb, kt(KE_I1, lanes), 0);
    if (u->det_pos) r = kb_or(kb, r, kb_cmp(kb, KC_EQ, x, F(INFINITY), false));
    if (u->det_neg) r = kb_or(kb, r, kb_cmp(kb, KC_EQ, x, F(-INFINITY), false));
    return r;
  }
  case OP_Shrink: {
    KV xf = as_float(kb, x, uns);
    KT ft = kb_type(kb, xf);
    KV lam = kb_float(kb, ft, u->lambd), b = kb_float(kb, ft, u->bias), z = kb_float(kb, ft, 0);
    KV r = kb_select(kb, kb_cmp(kb, KC_GT, xf, lam, false), kb_sub(kb, xf, b), z);
    r = kb_select(kb, kb_cmp(kb, KC_LT, xf, kb_neg(kb, lam), false), kb_add(kb, xf, b), r);
    return from_float(kb, r, t, uns);
  }
  case OP_Clip: return clip(kb, v, u);
  case OP_Cast:
  case OP_CastLike:
    return kb_cast(kb, x, kt(gen_compute_elem(u->out), lanes), uns, is_uns(u->out) && u->out != DT_BOOL);
  default: return NULL;
  }
#undef F
#undef LT0
}

/* Copies `elems` elements of `esize` bytes from src to dst, split over threads in 256 KB chunks;
 * if mask is set, also fills mask[0, elems) with 1 (bool true) over the same split. */
static void gen_copy(GenCtx *c, KV src, KV dst, int64_t elems, int64_t esize, KV mask) {
  KB *kb = c->kb;
  int64_t per = (1 << 18) / (esize ? esize : 1);
  int64_t work = elems > 2 * per ? (elems + per - 1) / per : 1;
  c->work = work;
  KV b = work > 1 ? kb_begin(kb) : kb_i64(kb, 0), e = work > 1 ? kb_end(kb) : kb_i64(kb, 1);
  KV lo = kb_mul(kb, b, kb_i64(kb, work > 1 ? per : elems));
  KV hi = kb_min(kb, kb_mul(kb, e, kb_i64(kb, work > 1 ? per : elems)), kb_i64(kb, elems), false);
  kb_if(kb, kb_cmp(kb, KC_LT, lo, hi, false));
  {
    KV n = kb_sub(kb, hi, lo);
    if (src && dst) {
      KV off = kb_mul(kb, lo, kb_i64(kb, esize));
      kb_memcpy(kb, kb_gep_bytes(kb, dst, off), kb_gep_bytes(kb, src, off), kb_mul(kb, n, kb_i64(kb, esize)));
    }
    if (mask) kb_memset(kb, kb_gep_bytes(kb, mask, lo), 1, n);
  }
  kb_endif(kb);
}

static int gen_identity(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0];
  size_t es = dtype_size(x->dtype);
  int64_t elems = ir_value_numel(x);
  if (!es || elems < 0) return ir_node_error(c->g, n, "cannot copy a tensor of type %s", dtype_name(x->dtype));
  bool has_out = n->out[0] != NULL, has_mask = n->op == OP_Dropout && n->nout > 1 && n->out[1];
  gen_copy(c, kb_buf(c->kb, 0), has_out ? kb_buf(c->kb, n->nin) : NULL, elems, (int64_t)es,
           has_mask ? kb_buf(c->kb, n->nin + 1) : NULL);
  return 0;
}

/* a constant scalar Clip bound (input i) folded into the code */
static bool const_bound(GenCtx *c, int i, bool *has, double *f, int64_t *iv) {
  Value *b = i < c->n->nin ? c->n->in[i] : NULL;
  if (!b || b->kind != VK_CONST || !b->data || ir_value_numel(b) != 1) return false;
  *has = true;
  *f = ir_const_f64(b, 0);
  *iv = ir_const_i64(b, 0);
  c->const_unused |= 1u << i;
  return true;
}

static int gen_clip(GenCtx *c, UCtx *u) {
  Node *n = c->n;
  int idx[3] = {0}, nops = 1;
  u->lo_op = u->hi_op = -1;
  const Attr *amin = ir_attr(n, "min"), *amax = ir_attr(n, "max");
  if (amin) u->has_lo = true, u->lo_f = amin->f, u->lo_i = (int64_t)amin->f;
  if (amax) u->has_hi = true, u->hi_f = amax->f, u->hi_i = (int64_t)amax->f;
  for (int i = 1; i < 3 && i < n->nin; i++) {
    if (!n->in[i]) continue;
    bool lo = i == 1;
    if (const_bound(c, i, lo ? &u->has_lo : &u->has_hi, lo ? &u->lo_f : &u->hi_f, lo ? &u->lo_i : &u->hi_i))
      continue;
    if (ir_value_numel(n->in[i]) != 1) return ir_node_error(c->g, n, "Clip bound (input %d) must be a scalar", i);
    *(lo ? &u->lo_op : &u->hi_op) = nops;
    idx[nops++] = i;
  }
  gen_eltwise_node(c, nops, idx, f_unary, u);
  return 0;
}

static bool supported(Op op) {
  switch (op) {
  case OP_Abs: case OP_Neg: case OP_Exp: case OP_Log: case OP_Sqrt: case OP_Reciprocal:
  case OP_Floor: case OP_Ceil: case OP_Round: case OP_Sign: case OP_Relu: case OP_LeakyRelu:
  case OP_Elu: case OP_Selu: case OP_Celu: case OP_ThresholdedRelu: case OP_Sigmoid:
  case OP_HardSigmoid: case OP_HardSwish: case OP_Tanh: case OP_Softplus: case OP_Softsign:
  case OP_Mish: case OP_Swish: case OP_Gelu: case OP_Erf: case OP_Sin: case OP_Cos: case OP_Tan: case OP_Asin:
  case OP_Acos: case OP_Atan: case OP_Sinh: case OP_Cosh: case OP_Asinh: case OP_Acosh:
  case OP_Atanh: case OP_Not: case OP_BitwiseNot: case OP_IsNaN: case OP_IsInf: case OP_Shrink:
  case OP_Cast: case OP_CastLike: return true;
  default: return false;
  }
}

int gen_unary(GenCtx *c) {
  Node *n = c->n;
  if (n->op == OP_Identity || n->op == OP_Dropout) return gen_identity(c);
  if (n->op != OP_Clip && !supported(n->op)) return ir_node_error(c->g, n, "no code generator for this op");
  Value *x = n->in[0], *y = n->out[0];
  if (!y || ir_value_numel(y) == 0) return 0;
  if (!dtype_size(x->dtype) || !dtype_size(y->dtype))
    return ir_node_error(c->g, n, "unsupported data type %s -> %s", dtype_name(x->dtype), dtype_name(y->dtype));
  UCtx u;
  uctx_init(&u, n, x->dtype, y->dtype);
  if (n->op == OP_Clip) return gen_clip(c, &u);
  int idx[1] = {0};
  gen_eltwise_node(c, 1, idx, f_unary, &u);
  return 0;
}

/* the op's parameters from its attributes (defaults per the ONNX spec) */
static void uctx_init(UCtx *u, const Node *n, DType in, DType out) {
  *u = (UCtx){.op = n->op, .in = in, .out = out, .lo_op = -1, .hi_op = -1};
  float alpha_def = n->op == OP_LeakyRelu ? 0.01f
                  : n->op == OP_HardSigmoid ? 0.2f
                  : n->op == OP_Selu ? 1.67326319217681884765625f
                                     : 1.0f;
  u->alpha = ir_attr_float(n, "alpha", alpha_def);
  u->beta = ir_attr_float(n, "beta", 0.5f);
  u->gamma = ir_attr_float(n, "gamma", 1.05070102214813232421875f);
  u->bias = ir_attr_float(n, "bias", 0.0f);
  u->lambd = ir_attr_float(n, "lambd", 0.5f);
  u->det_pos = ir_attr_int(n, "detect_positive", 1) != 0;
  u->det_neg = ir_attr_int(n, "detect_negative", 1) != 0;
  u->gelu_tanh = !strcmp(ir_attr_str(n, "approximate", "none"), "tanh");
}

/* an arithmetic op with one constant scalar operand in an epilogue (passes/fuse.c: the scale and
 * shift an export writes after an activation); the other operand is the running value x */
static KV scalar_act(KB *kb, const Node *act, KV x) {
  int k = act->in[0]->kind == VK_CONST ? 0 : 1;
  KV cv = kb_float(kb, kb_type(kb, x), ir_const_f64(act->in[k], 0));
  switch (act->op) {
  case OP_Add: return kb_add(kb, x, cv);
  case OP_Mul: return kb_mul(kb, x, cv);
  case OP_Sub: return k ? kb_sub(kb, x, cv) : kb_sub(kb, cv, x);
  default: return k ? kb_div(kb, x, cv, false) : kb_div(kb, cv, x, false); /* OP_Div */
  }
}

KV gen_act_vec(KB *kb, const Node *act, KV x) {
  if (ir_ops[act->op].family == F_BINARY) return scalar_act(kb, act, x);
  UCtx u;
  DType t = act->out[0]->dtype;
  uctx_init(&u, act, t, t);
  if (act->op == OP_Clip) { /* the fusion pass only takes constant scalar bounds */
    const Attr *amin = ir_attr(act, "min"), *amax = ir_attr(act, "max");
    if (amin) u.has_lo = true, u.lo_f = amin->f;
    if (amax) u.has_hi = true, u.hi_f = amax->f;
    for (int i = 1; i < 3 && i < act->nin; i++)
      if (act->in[i]) {
        *(i == 1 ? &u.has_lo : &u.has_hi) = true;
        *(i == 1 ? &u.lo_f : &u.hi_f) = ir_const_f64(act->in[i], 0);
      }
  }
  KV v[1] = {x};
  return f_unary(kb, v, kb_type(kb, x).lanes, &u);
}
