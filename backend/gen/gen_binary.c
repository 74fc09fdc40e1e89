/* gen_binary.c — elementwise ops with numpy broadcasting (F_BINARY, incl. the variadic
 * Max/Min/Sum/Mean) and Where (F_TERNARY), per the ONNX spec.
 *
 * The first input's dtype is the compute type (Pow's exponent may differ and is converted).
 * Integer division never traps: a zero divisor gives 0 and INT_MIN / -1 wraps; 8/16/32-bit
 * integer division runs exactly in f32/f64 vector division (a quotient of integers below 2^p
 * truncates correctly from its p-bit rounding), 64-bit uses the scalarized instruction. */
#include <math.h>
#include <string.h>

#include "gen_util.h"

typedef struct BCtx {
  Op op;
  DType t0, t1; /* input 0 (compute type) and input 1 */
  bool uns;     /* t0 is an unsigned integer */
  int nops;
  bool fmod;
  bool left;    /* BitShift direction */
  bool pow_const;
  double pow_y; /* Pow: constant scalar exponent folded in */
} BCtx;

static KV izero(KB *kb, KV a) { return kb_int(kb, kb_type(kb, a), 0); }

/* truncating integer division a / b; b == 0 gives 0, INT_MIN / -1 wraps */
static KV idiv(KB *kb, KV a, KV b, bool uns) {
  KT t = kb_type(kb, a);
  KV zero = izero(kb, a);
  KV bz = kb_cmp(kb, KC_EQ, b, zero, false);
  KV bm1 = uns ? NULL : kb_cmp(kb, KC_EQ, b, kb_int(kb, t, -1), false);
  KV bs = kb_select(kb, bm1 ? kb_or(kb, bz, bm1) : bz, kb_int(kb, t, 1), b);
  KV q;
  size_t es = kb_elem_size(t.e);
  if (es <= 4) {
    KT ft = kt(es <= 2 ? KE_F32 : KE_F64, t.lanes);
    KV fa = kb_cast(kb, a, ft, uns, false), fb = kb_cast(kb, bs, ft, uns, false);
    q = kb_cast(kb, kb_trunc(kb, kb_div(kb, fa, fb, false)), t, false, uns);
  } else {
    q = kb_div(kb, a, bs, uns);
  }
  if (bm1) q = kb_select(kb, bm1, kb_neg(kb, a), q);
  return kb_select(kb, bz, zero, q);
}

/* integer remainder with the sign of the dividend (C %), 0 for a zero divisor */
static KV irem(KB *kb, KV a, KV b, bool uns) {
  KV r = kb_sub(kb, a, kb_mul(kb, idiv(kb, a, b, uns), b));
  return kb_select(kb, kb_cmp(kb, KC_EQ, b, izero(kb, a), false), izero(kb, a), r);
}

/* C fmod for floats.  f32 (and f16/bf16, computed in f32): in f64, a - trunc(a/b) b is exact while
 * |a/b| < 2^29; vectors with a lane outside that (or NaN/inf/zero operands) take frem. */
static KV ffmod(KB *kb, KV a, KV b) {
  KT t = kb_type(kb, a);
  if (t.e == KE_F64) return kb_rem(kb, a, b, false);
  KT dt = kt(KE_F64, t.lanes);
  KV da = kb_cast(kb, a, dt, false, false), db = kb_cast(kb, b, dt, false, false);
  KV q = kb_trunc(kb, kb_div(kb, da, db, false));
  KV r = kb_fma(kb, kb_neg(kb, q), db, da);
  KV fast = kb_copysign(kb, kb_cast(kb, r, t, false, false), a);
  KV aa = kb_abs(kb, da), ab = kb_abs(kb, db);
  KV ok = kb_and(kb, kb_cmp(kb, KC_LT, aa, kb_mul(kb, ab, kb_float(kb, dt, 536870912.0)), false),
                 kb_cmp(kb, KC_LT, ab, kb_float(kb, dt, INFINITY), false));
  KVar res = kb_var(kb, t, fast);
  kb_if(kb, kb_reduce_or(kb, kb_not(kb, ok)));
  kb_set(kb, res, kb_rem(kb, a, b, false));
  kb_endif(kb);
  return kb_get(kb, res);
}

/* Mod: fmod=1 → C fmod / C %; fmod=0 → the result takes the divisor's sign (Python) */
static KV mod(KB *kb, KV a, KV b, const BCtx *u) {
  bool fl = kb_is_float(kb_type(kb, a).e);
  KV r = fl ? ffmod(kb, a, b) : irem(kb, a, b, u->uns);
  if (u->fmod || u->uns) return r;
  KV z = fl ? kb_float(kb, kb_type(kb, a), 0) : izero(kb, a);
  KV fix = kb_and(kb, kb_cmp(kb, KC_NE, r, z, false),
                  kb_xor(kb, kb_cmp(kb, KC_LT, r, z, false), kb_cmp(kb, KC_LT, b, z, false)));
  return kb_select(kb, fix, kb_add(kb, r, b), r);
}

/* x^n for a constant integer n >= 0 by repeated squaring (unrolled at generation time) */
static KV pow_uint(KB *kb, KV x, uint64_t n) {
  KT t = kb_type(kb, x);
  KV r = NULL;
  for (KV p = x; n; n >>= 1) {
    if (n & 1) r = r ? kb_mul(kb, r, p) : p;
    if (n > 1) p = kb_mul(kb, p, p);
  }
  return r ? r : (kb_is_float(t.e) ? kb_float(kb, t, 1) : kb_int(kb, t, 1));
}

/* float x to a constant power: exact shortcuts for the common small exponents */
static KV pow_const_f(KB *kb, KV x, double y) {
  KT t = kb_type(kb, x);
  KV one = kb_float(kb, t, 1);
  if (y == 0.5 || y == -0.5) {
    KV s = kb_sqrt(kb, x);
    s = kb_select(kb, kb_cmp(kb, KC_EQ, x, kb_float(kb, t, -INFINITY), false), kb_float(kb, t, INFINITY), s);
    return y > 0 ? s : kb_div(kb, one, s, false);
  }
  if (y == floor(y) && fabs(y) <= 16) {
    KV p = pow_uint(kb, x, (uint64_t)fabs(y));
    return y < 0 ? kb_div(kb, one, p, false) : p;
  }
  return kb_pow(kb, x, kb_float(kb, t, y));
}

/* integer base and integer exponent: exact (wrapping) repeated squaring over the exponent's bits;
 * negative exponents give the truncated real result (1, ±1 for base -1, else 0) */
static KV pow_int(KB *kb, KV x, KV y, bool yuns) {
  KT t = kb_type(kb, x);
  int lanes = t.lanes;
  KT et = kt(KE_I64, lanes);
  KV e = kb_cast(kb, y, et, yuns, false);
  KV ez = kb_int(kb, et, 0);
  KV eneg = kb_cmp(kb, KC_LT, e, ez, false);
  KVar r = kb_var(kb, t, kb_int(kb, t, 1)), b = kb_var(kb, t, x), ev = kb_var(kb, et, kb_select(kb, eneg, ez, e));
  kb_for(kb, kb_i64(kb, 0), kb_i64(kb, 64), 1);
  {
    KV ec = kb_get(kb, ev);
    kb_if(kb, kb_reduce_or(kb, kb_cmp(kb, KC_NE, ec, ez, false)));
    {
      KV odd = kb_cmp(kb, KC_NE, kb_and(kb, ec, kb_int(kb, et, 1)), ez, false);
      KV bc = kb_get(kb, b);
      kb_set(kb, r, kb_select(kb, odd, kb_mul(kb, kb_get(kb, r), bc), kb_get(kb, r)));
      kb_set(kb, b, kb_mul(kb, bc, bc));
      kb_set(kb, ev, kb_shr(kb, ec, kb_int(kb, et, 1), true));
    }
    kb_endif(kb);
  }
  kb_endfor(kb);
  KV one = kb_int(kb, t, 1), m1 = kb_int(kb, t, -1);
  KV eodd = kb_cmp(kb, KC_NE, kb_and(kb, e, kb_int(kb, et, 1)), ez, false);
  KV negres = kb_select(kb, kb_cmp(kb, KC_EQ, x, one, false), one,
                        kb_select(kb, kb_cmp(kb, KC_EQ, x, m1, false), kb_select(kb, eodd, m1, one), izero(kb, x)));
  return kb_select(kb, eneg, negres, kb_get(kb, r));
}

/* integer base, float exponent (f64 vector y): integral exponents exactly, others through f64 pow
 * with results within 1e-9 of an integer snapped to it (so 4^0.5 is 2, not 1.999... truncated) */
static KV pow_int_fexp(KB *kb, KV x, KV y, bool uns) {
  KT t = kb_type(kb, x);
  KT dt = kb_type(kb, y);
  KV r = kb_pow(kb, kb_cast(kb, x, dt, uns, false), y);
  KV ri = kb_round_even(kb, r);
  KV tol = kb_mul(kb, kb_max(kb, kb_abs(kb, r), kb_float(kb, dt, 1), false), kb_float(kb, dt, 1e-9));
  KV near = kb_cmp(kb, KC_LE, kb_abs(kb, kb_sub(kb, r, ri)), tol, false);
  KV rf = kb_cast(kb, kb_select(kb, near, ri, kb_trunc(kb, r)), t, false, uns);
  KV yint = kb_cmp(kb, KC_EQ, kb_trunc(kb, y), y, false);
  KV rp = pow_int(kb, x, kb_cast(kb, y, kt(KE_I64, t.lanes), false, false), false);
  return kb_select(kb, yint, rp, rf);
}

static KV pow_op(KB *kb, KV *v, const BCtx *u) {
  KV x = v[0];
  KT t = kb_type(kb, x);
  bool yuns = u->t1 == DT_BOOL || !dtype_is_signed(u->t1);
  KT dt = kt(KE_F64, t.lanes);
  if (kb_is_float(t.e)) {
    if (u->pow_const) return pow_const_f(kb, x, u->pow_y);
    return kb_pow(kb, x, kb_cast(kb, v[1], t, yuns, false));
  }
  if (u->pow_const) {
    double y = u->pow_y;
    if (y == floor(y) && y >= 0 && y <= 64) return pow_uint(kb, x, (uint64_t)y);
    return pow_int_fexp(kb, x, kb_float(kb, dt, y), u->uns);
  }
  if (!kb_is_float(kb_type(kb, v[1]).e)) return pow_int(kb, x, v[1], yuns);
  return pow_int_fexp(kb, x, kb_cast(kb, v[1], dt, false, false), u->uns);
}

static KCmp cmp_of(Op op) {
  switch (op) {
  case OP_Equal: return KC_EQ;
  case OP_Less: return KC_LT;
  case OP_LessOrEqual: return KC_LE;
  case OP_Greater: return KC_GT;
  default: return KC_GE;
  }
}

static KV f_binary(KB *kb, KV *v, int lanes, void *ud) {
  const BCtx *u = ud;
  KV a = v[0], b = u->nops > 1 ? v[1] : NULL;
  KT t = kb_type(kb, a);
  bool fl = kb_is_float(t.e);
  switch (u->op) {
  case OP_Add: return kb_add(kb, a, b);
  case OP_Sub: return kb_sub(kb, a, b);
  case OP_Mul: return kb_mul(kb, a, b);
  case OP_Div: return fl ? kb_div(kb, a, b, false) : idiv(kb, a, b, u->uns);
  case OP_Pow: return pow_op(kb, v, u);
  case OP_Mod: return mod(kb, a, b, u);
  case OP_PRelu: {
    KV z = fl ? kb_float(kb, t, 0) : izero(kb, a);
    return kb_select(kb, kb_cmp(kb, KC_LT, a, z, u->uns), kb_mul(kb, a, b), a);
  }
  case OP_Max:
  case OP_Min: {
    bool mx = u->op == OP_Max;
    KV r = a;
    for (int k = 1; k < u->nops; k++)
      r = fl ? (mx ? kb_fmax_nan(kb, r, v[k]) : kb_fmin_nan(kb, r, v[k]))
             : (mx ? kb_max(kb, r, v[k], u->uns) : kb_min(kb, r, v[k], u->uns));
    return r;
  }
  case OP_Sum:
  case OP_Mean: {
    KV r = a;
    for (int k = 1; k < u->nops; k++) r = kb_add(kb, r, v[k]);
    if (u->op == OP_Mean && u->nops > 1)
      r = fl ? kb_div(kb, r, kb_float(kb, t, u->nops), false) : idiv(kb, r, kb_int(kb, t, u->nops), u->uns);
    return r;
  }
  case OP_Equal:
  case OP_Less:
  case OP_LessOrEqual:
  case OP_Greater:
  case OP_GreaterOrEqual: return kb_cmp(kb, cmp_of(u->op), a, b, u->uns);
  case OP_And:
  case OP_BitwiseAnd: return kb_and(kb, a, b);
  case OP_Or:
  case OP_BitwiseOr: return kb_or(kb, a, b);
  case OP_Xor:
  case OP_BitwiseXor: return kb_xor(kb, a, b);
  case OP_BitShift: {
    /* shifting by the width or more gives 0 (LLVM would make it poison) */
    KV r = u->left ? kb_shl(kb, a, b) : kb_shr(kb, a, b, true);
    KV big = kb_cmp(kb, KC_GE, b, kb_int(kb, t, (int64_t)kb_elem_size(t.e) * 8), true);
    return kb_select(kb, big, izero(kb, a), r);
  }
  case OP_Where: return kb_select(kb, v[0], v[1], v[2]);
  default: return NULL;
  }
}

static bool supported(Op op) {
  switch (op) {
  case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_Pow: case OP_Mod: case OP_PRelu:
  case OP_Max: case OP_Min: case OP_Sum: case OP_Mean: case OP_Equal: case OP_Less:
  case OP_LessOrEqual: case OP_Greater: case OP_GreaterOrEqual: case OP_And: case OP_Or:
  case OP_Xor: case OP_BitShift: case OP_BitwiseAnd: case OP_BitwiseOr: case OP_BitwiseXor:
  case OP_Where: return true;
  default: return false;
  }
}

int gen_binary(GenCtx *c) {
  Node *n = c->n;
  if (!supported(n->op)) return ir_node_error(c->g, n, "no code generator for this op");
  if (!n->out[0] || ir_value_numel(n->out[0]) == 0) return 0;
  if (n->nin > EW_MAX_OPS)
    return ir_node_error(c->g, n, "%d inputs; at most %d are supported", n->nin, EW_MAX_OPS);
  for (int i = 0; i < n->nin; i++)
    if (!n->in[i] || !dtype_size(n->in[i]->dtype))
      return ir_node_error(c->g, n, "input %d is missing or of an unsupported type", i);
  int di = n->op == OP_Where ? 1 : 0; /* the input whose dtype is the compute type */
  BCtx u = {.op = n->op, .t0 = n->in[di]->dtype, .t1 = n->nin > 1 ? n->in[1]->dtype : DT_UNDEF, .nops = n->nin};
  u.uns = u.t0 == DT_BOOL || !dtype_is_signed(u.t0);
  u.fmod = ir_attr_int(n, "fmod", 0) != 0;
  u.left = !strcmp(ir_attr_str(n, "direction", "LEFT"), "LEFT");
  int idx[EW_MAX_OPS];
  for (int i = 0; i < n->nin; i++) idx[i] = i;
  if (n->op == OP_Pow) {
    Value *y = n->in[1];
    if (y->kind == VK_CONST && y->data && ir_value_numel(y) == 1) {
      u.pow_const = true;
      u.pow_y = ir_const_f64(y, 0);
      u.nops = 1;
      c->const_unused |= 1u << 1;
    }
  }
  gen_eltwise_node(c, u.nops, idx, f_binary, &u);
  return 0;
}
