/* kmath.c — transcendental functions as inline vector code built from kb primitives: no libm
 * calls, no per-element calls, no branches (both sides of a case split are computed and the
 * lanes select).  Every function takes and returns a float vector (or scalar) of any float kind:
 * f32 and f64 have their own polynomials; f16/bf16 are computed in f32.
 *
 * Polynomials are Chebyshev fits (mpmath, 50 digits) of the remainder after the leading terms,
 * which keeps relative accuracy near 0.  Measured errors are in tests/unit/test_gen_eltwise.c. */
#include <math.h>

#include "kb.h"

/* ---- coefficient tables (lowest degree first) ---- */
/* e^r = 1 + r + r^2 Q(r), |r| <= ln2/2; fit error 1.4e-9 / 1.4e-18 */
static const double EXP_Q32[6] = {0.50000000134577272, 0.16666666681614256, 0.04166646500604005,
                                  0.008333310934448869, 0.0013933641031986701, 0.00019890980869750327};
static const double EXP_Q64[11] = {0.5, 0.16666666666666671, 0.041666666666666671, 0.0083333333333261411,
                                   0.0013888888888883752, 0.00019841269874800493, 2.4801587325533363e-05,
                                   2.7557255425746435e-06, 2.7557273661348637e-07, 2.5105206373957011e-08,
                                   2.0914679376583935e-09};
/* log1p(f) = f - f^2/2 + f^3 P(f), f in [sqrt(1/2)-1, sqrt(2)-1]; fit error 2.9e-8 */
static const double LOG_P32[9] = {0.33333331180030046, -0.24999996957950882, 0.20000715748892101,
                                  -0.16667802319501254, 0.1424905764569748,  -0.12425687331451106,
                                  0.1168541992348674,   -0.11479733846637635, 0.069716114714511779};
/* log1p(f) = 2s + s^3 R(s^2), s = f/(2+f), s^2 <= 0.0295; fit error 2.1e-18 */
static const double LOG_R64[8] = {0.66666666666666663, 0.40000000000000879, 0.28571428570803614,
                                  0.22222222391713917, 0.18181795640132906, 0.15386239702814658,
                                  0.13268773138656886, 0.13086626147840102};
/* sin r = r + r^3 S(r^2), cos r = 1 - r^2/2 + r^4 C(r^2), |r| <= pi/4 */
static const double SIN_S32[4] = {-0.1666666666385529, 0.0083333318747102082, -0.00019840086735384846,
                                  2.7249925803059792e-06};
static const double SIN_S64[7] = {-0.16666666666666666, 0.0083333333333333315, -0.00019841269841265065,
                                  2.7557319219339167e-06, -2.5052106232447578e-08, 1.6058531618986147e-10,
                                  -7.5866971177069183e-13};
static const double COS_C32[4] = {0.0416666666643212, -0.0013888887672016789, 2.4800600377156728e-05,
                                  -2.7300959203901469e-07};
static const double COS_C64[7] = {0.041666666666666664, -0.0013888888888888887, 2.4801587301584645e-05,
                                  -2.7557319221402824e-07, 2.0876755791080422e-09, -1.1470460887609959e-11,
                                  4.7458719020432915e-14};
/* atan u = u + u^3 A(u^2), |u| <= tan(pi/8) */
static const double ATAN_A32[5] = {-0.33333331761168522, 0.19999540483648964, -0.1426395559798464,
                                   0.10743731490791084, -0.064519282081217488};
static const double ATAN_A64[11] = {-0.33333333333333331, 0.19999999999995521, -0.14285714284666542,
                                    0.11111111015256361,  -0.090909045781239026, 0.076921831908260865,
                                    -0.066645114473819475, 0.0585814891280221,   -0.050854497379402598,
                                    0.039231658295587189, -0.01917688711906226};
/* asin s = s + s^3 B(s^2), |s| <= 1/2 */
static const double ASIN_B32[6] = {0.16666666337430908, 0.075000945434974237, 0.044599401528512182,
                                   0.031100662735494569, 0.017149238357677253, 0.033690847202830117};
static const double ASIN_B64[13] = {0.16666666666666669, 0.074999999999984329, 0.044642857146355429,
                                    0.030381944138531247, 0.022372172942149889, 0.017352392720869973,
                                    0.013971212973552933, 0.011479177415184906, 0.010322814350185779,
                                    0.0054575067186403581, 0.017400879442694021, -0.014851887071247204,
                                    0.028757851367421566};
/* sinh x = x + x^3 S(x^2), |x| <= 1 */
static const double SINH_S32[4] = {0.16666666646842135, 0.0083333396759170605, 0.00019838101968683888,
                                   2.8062802582276946e-06};
static const double SINH_S64[7] = {0.16666666666666666, 0.0083333333333332985, 0.00019841269841324198,
                                   2.7557319191381816e-06, 2.5052117695907823e-08, 1.6057679623801638e-10,
                                   7.7461785930188273e-13};
/* erf x = x E(x^2), |x| <= 3/4 */
static const double ERF_E32[6] = {1.1283791655787516, -0.37612619469437675, 0.11283386538414544,
                                  -0.026835114568609705, 0.0051153321125322259, -0.00067564795686800468};
static const double ERF_E64[12] = {1.1283791670955126,    -0.37612638903183754, 0.11283791670955087,
                                   -0.026866170645118446, 0.005223977625222192, -0.00085483270011359463,
                                   0.00012055331545294116, -1.4925589383821143e-05, 1.6460383209858149e-06,
                                   -1.63332293434337e-07, 1.4413879289095029e-08, -9.502840894774706e-10};
/* erfc x = exp(-L(x)) for x >= 3/4, L a polynomial in t = (x - mid) / half-width:
 * f32 on [0.75, 4] (fit error 3.3e-8); f64 on [0.75, 2.5] and [2.5, 6] (7.6e-16, 2.0e-14) */
static const double ERF_L32[10] = {7.1524567873302534,    8.3155048103168898,     2.4811579040881169,
                                   0.051534342876472919,  -0.017059346686693431,  0.0054697675980746718,
                                   -0.0016569197689879089, 0.00044822551101294822, -7.5661030202708654e-05,
                                   -1.6087764786901251e-06};
static const double ERF_LA64[16] = {3.8370887037779435,     3.2664852141885401,     0.69042916333176263,
                                    0.015414210532694216,   -0.0030891944344070268, 0.00056565696266525859,
                                    -8.773520948826285e-05, 9.4105607831684722e-06, 1.707085292411429e-07,
                                    -4.5125870329379495e-07, 1.5319509658882268e-07, -3.4713249860951232e-08,
                                    5.5719804472433914e-09, -3.3741630655665061e-10, -2.3834062059723619e-10,
                                    8.8875238642661548e-11};
static const double ERF_LB64[16] = {20.107769901469695,     15.266607502163385,     2.9892590152172214,
                                    0.017491629496275134,   -0.0045068341942293578, 0.0011879764645359777,
                                    -0.00031248336731152837, 8.0762400220541885e-05, -2.02501765377309e-05,
                                    4.856280372937612e-06,  -1.0889173088276693e-06, 2.2056669808883712e-07,
                                    -3.9575951885080632e-08, 4.1088932242176468e-09, 2.5197361881742565e-09,
                                    -1.2323142825492614e-09};

/* ---- helpers ---- */
typedef struct M {
  KB *kb;
  KT t;   /* float type */
  KT it;  /* integer type of the same width and lanes */
  bool d; /* double */
} M;

static M mk(KB *kb, KV x) {
  KT t = kb_type(kb, x);
  bool d = t.e == KE_F64;
  return (M){kb, t, kt(d ? KE_I64 : KE_I32, t.lanes), d};
}

static bool is_half(KB *kb, KV x) {
  KElem e = kb_type(kb, x).e;
  return e == KE_F16 || e == KE_BF16;
}
static KV to_f32(KB *kb, KV x) { return kb_cast(kb, x, kt(KE_F32, kb_type(kb, x).lanes), false, false); }

/* f16/bf16: compute in f32 and round back */
#define PROMOTE1(fn, x)                                                       \
  do {                                                                        \
    if (is_half(kb, x)) return kb_cast(kb, fn(kb, to_f32(kb, x)), kb_type(kb, x), false, false); \
  } while (0)

#define C(v) kb_float(m->kb, m->t, (v))
#define I(v) kb_int(m->kb, m->it, (v))
#define ADD(a, b) kb_add(m->kb, a, b)
#define SUB(a, b) kb_sub(m->kb, a, b)
#define MUL(a, b) kb_mul(m->kb, a, b)
#define DIV(a, b) kb_div(m->kb, a, b, false)
#define FMA(a, b, c) kb_fma(m->kb, a, b, c)
#define SEL(c, a, b) kb_select(m->kb, c, a, b)
#define CMP(op, a, b) kb_cmp(m->kb, op, a, b, false)
#define ABS(a) kb_abs(m->kb, a)
#define AND(a, b) kb_and(m->kb, a, b)
#define OR(a, b) kb_or(m->kb, a, b)
#define NOT(a) kb_not(m->kb, a)
#define ISNAN(a) kb_cmp(m->kb, KC_UNORD, a, a, false)
#define TOI(a) kb_bitcast(m->kb, a, m->it)
#define TOF(a) kb_bitcast(m->kb, a, m->t)

/* c[0] + c[1] x + ... + c[n-1] x^(n-1).  Estrin's scheme (pairs c[i] + c[i+1] x, then pairs of
 * those with x^2, x^4, ...): a dependency chain of ~log2(n) fmas instead of n, so that the long
 * polynomials of erf/log/atan do not leave the kernels latency-bound. */
static KV poly(M *m, KV x, const double *c, int n) {
  KV t[32];
  int k = 0;
  for (int i = 0; i < n; i += 2) t[k++] = i + 1 < n ? FMA(C(c[i + 1]), x, C(c[i])) : C(c[i]);
  KV p = MUL(x, x);
  while (k > 1) {
    int j = 0;
    for (int i = 0; i < k; i += 2) t[j++] = i + 1 < k ? FMA(t[i + 1], p, t[i]) : t[i];
    k = j;
    if (k > 1) p = MUL(p, p);
  }
  return t[0];
}

/* the same with per-lane coefficients: a[] where cond, else b[] */
static KV poly_sel(M *m, KV x, KV cond, const double *a, const double *b, int n) {
  KV acc = SEL(cond, C(a[n - 1]), C(b[n - 1]));
  for (int i = n - 2; i >= 0; i--) acc = FMA(acc, x, SEL(cond, C(a[i]), C(b[i])));
  return acc;
}

/* clamp to [lo, hi] with selects, so NaN passes through (minnum/maxnum would drop it) */
static KV clamp(M *m, KV x, double lo, double hi) {
  x = SEL(CMP(KC_LT, x, C(lo)), C(lo), x);
  return SEL(CMP(KC_GT, x, C(hi)), C(hi), x);
}

/* round-to-nearest-even of x*k as a float and as an integer; exact while |x*k| < 2^22 (f32) or
 * 2^51 (f64): adding 1.5*2^mant pushes the fraction out, the low mantissa bits are the integer */
static KV round_mul(M *m, KV x, double k, KV *ni) {
  double magic = m->d ? 6755399441055744.0 : 12582912.0;
  KV t = FMA(x, C(k), C(magic));
  *ni = SUB(TOI(t), TOI(C(magic)));
  return SUB(t, C(magic));
}

/* 2^n for an integer vector n within the normal exponent range */
static KV pow2i(M *m, KV n) {
  return TOF(kb_shl(m->kb, ADD(n, I(m->d ? 1023 : 127)), I(m->d ? 52 : 23)));
}

static KV sign_bit(M *m) { return m->d ? I(INT64_MIN) : I(INT32_MIN); }

/* ---- exp / expm1 ---- */
/* e^x; *pm1 (if not NULL) gets e^r - 1 of the reduced argument, which is expm1(x) where n == 0 */
static KV exp_core(M *m, KV x, KV *pm1, KV *pn) {
  /* beyond these, e^x is 0 / inf; inside, n stays in [-1077, 1025] (f64) / [-150, 129] (f32) */
  KV xc = m->d ? clamp(m, x, -746.0, 710.0) : clamp(m, x, -104.0, 89.0);
  KV ni, n = round_mul(m, xc, 1.4426950408889634, &ni);
  KV r;
  if (m->d) {
    r = FMA(n, C(-6.93147180369123816490e-01), xc);
    r = FMA(n, C(-1.9082149292705877e-10), r);
  } else {
    r = FMA(n, C(-0.693145751953125), xc);
    r = FMA(n, C(-1.4286068203094173e-06), r);
  }
  KV q = m->d ? poly(m, r, EXP_Q64, 11) : poly(m, r, EXP_Q32, 6);
  KV em1 = FMA(MUL(r, r), q, r); /* e^r - 1 */
  if (pm1) *pm1 = em1;
  if (pn) *pn = ni;
  KV p = ADD(C(1.0), em1);
  /* scale in two steps so that results near overflow and in the denormal range are right */
  KV n1 = kb_shr(m->kb, ni, I(1), false);
  KV n2 = SUB(ni, n1);
  return MUL(MUL(p, pow2i(m, n1)), pow2i(m, n2));
}

KV kb_exp(KB *kb, KV x) {
  PROMOTE1(kb_exp, x);
  M mm = mk(kb, x), *m = &mm;
  return exp_core(m, x, NULL, NULL);
}

KV kb_expm1(KB *kb, KV x) {
  PROMOTE1(kb_expm1, x);
  M mm = mk(kb, x), *m = &mm;
  KV pm1, n;
  KV e = exp_core(m, x, &pm1, &n);
  /* |x| < ln2/2: no scaling, e^r - 1 is accurate; elsewhere e^x - 1 does not cancel badly */
  return SEL(CMP(KC_EQ, n, I(0)), pm1, SUB(e, C(1.0)));
}

/* ---- log / log1p ---- */
KV kb_log(KB *kb, KV x) {
  PROMOTE1(kb_log, x);
  M mm = mk(kb, x), *m = &mm;
  int mant = m->d ? 52 : 23;
  /* denormals: scale up by 2^mant first */
  KV tiny = CMP(KC_LT, x, C(m->d ? 2.2250738585072014e-308 : 1.17549435e-38));
  KV xs = SEL(tiny, MUL(x, C(m->d ? 4503599627370496.0 : 8388608.0)), x);
  /* split x = 2^e * y with y in [sqrt(1/2), sqrt(2)) */
  int64_t sqrth = m->d ? 0x3fe6a09e667f3bcdLL : 0x3f3504f3;
  int64_t mmask = m->d ? 0xfffffffffffffLL : 0x7fffff;
  KV ix = SUB(TOI(xs), I(sqrth));
  KV ei = kb_shr(kb, ix, I(mant), false);
  ei = SUB(ei, SEL(tiny, I(mant), I(0)));
  KV y = TOF(ADD(AND(ix, I(mmask)), I(sqrth)));
  KV e = kb_cast(kb, ei, m->t, false, false);
  KV f = SUB(y, C(1.0));
  KV res;
  if (m->d) {
    KV s = DIV(f, ADD(C(2.0), f));
    KV z = MUL(s, s);
    KV l = FMA(MUL(s, z), poly(m, z, LOG_R64, 8), ADD(s, s));
    res = FMA(e, C(6.93147180369123816490e-01), FMA(e, C(1.9082149292705877e-10), l));
  } else {
    KV f2 = MUL(f, f);
    KV yv = FMA(MUL(f2, f), poly(m, f, LOG_P32, 9), MUL(e, C(1.4286068203094173e-06)));
    yv = FMA(f2, C(-0.5), yv);
    res = FMA(e, C(0.693145751953125), ADD(f, yv));
  }
  res = SEL(CMP(KC_EQ, x, C(INFINITY)), C(INFINITY), res);
  res = SEL(CMP(KC_EQ, x, C(0.0)), C(-INFINITY), res);
  return SEL(CMP(KC_GE, x, C(0.0)), res, C(NAN)); /* negative or NaN */
}

KV kb_log1p(KB *kb, KV u) {
  PROMOTE1(kb_log1p, u);
  M mm = mk(kb, u), *m = &mm;
  KV w = ADD(C(1.0), u);
  /* log(1+u) = log(w) + (u - (w-1))/w: the quotient restores what rounding 1+u lost */
  KV corr = DIV(SUB(u, SUB(w, C(1.0))), w);
  corr = SEL(ISNAN(corr), C(0.0), corr); /* w = 0 or inf */
  return ADD(kb_log(kb, w), corr);
}

/* ---- hyperbolic ---- */
KV kb_tanh(KB *kb, KV x) {
  PROMOTE1(kb_tanh, x);
  M mm = mk(kb, x), *m = &mm;
  /* tanh|x| = t / (t + 2), t = expm1(2|x|); |x| capped where tanh rounds to 1 */
  KV a = clamp(m, ABS(x), 0.0, m->d ? 19.5 : 9.5);
  KV t = kb_expm1(kb, ADD(a, a));
  return kb_copysign(kb, DIV(t, ADD(t, C(2.0))), x);
}

KV kb_sigmoid(KB *kb, KV x) {
  PROMOTE1(kb_sigmoid, x);
  M mm = mk(kb, x), *m = &mm;
  /* e = exp(-|x|) never overflows; for x < 0, e/(1+e) keeps relative accuracy */
  KV e = kb_exp(kb, kb_neg(kb, ABS(x)));
  KV s = DIV(C(1.0), ADD(C(1.0), e));
  return SEL(CMP(KC_GE, x, C(0.0)), s, MUL(e, s));
}

KV kb_sinh(KB *kb, KV x) {
  PROMOTE1(kb_sinh, x);
  M mm = mk(kb, x), *m = &mm;
  KV a = ABS(x);
  KV z = MUL(x, x);
  KV small = FMA(MUL(x, z), m->d ? poly(m, z, SINH_S64, 7) : poly(m, z, SINH_S32, 4), x);
  /* h = e^(|x|/2) (the halving is exact); e^|x|/2 = (h/2) h stays finite up to the overflow of sinh */
  KV h = kb_exp(kb, MUL(a, C(0.5)));
  KV big = SUB(MUL(MUL(h, C(0.5)), h), DIV(C(0.5), MUL(h, h)));
  return SEL(CMP(KC_LE, a, C(1.0)), small, kb_copysign(kb, big, x));
}

KV kb_cosh(KB *kb, KV x) {
  PROMOTE1(kb_cosh, x);
  M mm = mk(kb, x), *m = &mm;
  KV h = kb_exp(kb, MUL(ABS(x), C(0.5)));
  return ADD(MUL(MUL(h, C(0.5)), h), DIV(C(0.5), MUL(h, h)));
}

/* threshold above which sqrt(1 + a^2) == a and log(2a) is the answer */
static double big_arg(M *m) { return m->d ? 9007199254740992.0 : 16777216.0; }

KV kb_asinh(KB *kb, KV x) {
  PROMOTE1(kb_asinh, x);
  M mm = mk(kb, x), *m = &mm;
  KV a = ABS(x);
  KV big = CMP(KC_GT, a, C(big_arg(m)));
  KV a2 = MUL(a, a);
  /* asinh a = log1p(a + a^2 / (1 + sqrt(1 + a^2))) */
  KV u = ADD(a, DIV(a2, ADD(C(1.0), kb_sqrt(kb, ADD(C(1.0), a2)))));
  u = SEL(big, a, u);
  KV r = ADD(kb_log1p(kb, u), SEL(big, C(0.6931471805599453), C(0.0)));
  return kb_copysign(kb, r, x);
}

KV kb_acosh(KB *kb, KV x) {
  PROMOTE1(kb_acosh, x);
  M mm = mk(kb, x), *m = &mm;
  KV big = CMP(KC_GT, x, C(big_arg(m)));
  KV t = SUB(x, C(1.0));
  /* acosh x = log1p(t + sqrt(t (x + 1))), t = x - 1 exact near 1; NaN for x < 1 */
  KV u = ADD(t, kb_sqrt(kb, MUL(t, ADD(x, C(1.0)))));
  u = SEL(big, x, u);
  KV r = ADD(kb_log1p(kb, u), SEL(big, C(0.6931471805599453), C(0.0)));
  return SEL(CMP(KC_GE, x, C(1.0)), r, C(NAN));
}

KV kb_atanh(KB *kb, KV x) {
  PROMOTE1(kb_atanh, x);
  M mm = mk(kb, x), *m = &mm;
  /* atanh |x| = log1p(2|x| / (1 - |x|)) / 2: no cancellation in 1 + u for u >= 0 */
  KV a = ABS(x);
  KV u = DIV(ADD(a, a), SUB(C(1.0), a));
  return kb_copysign(kb, MUL(kb_log1p(kb, u), C(0.5)), x);
}

/* ---- erf ---- */
KV kb_erf(KB *kb, KV x) {
  PROMOTE1(kb_erf, x);
  M mm = mk(kb, x), *m = &mm;
  KV a = ABS(x);
  KV z = MUL(x, x);
  KV small = MUL(a, m->d ? poly(m, z, ERF_E64, 12) : poly(m, z, ERF_E32, 6));
  KV L;
  if (m->d) {
    KV ac = clamp(m, a, 0.75, 6.0);
    KV lo = CMP(KC_LT, ac, C(2.5));
    KV t = FMA(ac, SEL(lo, C(1.0 / 0.875), C(1.0 / 1.75)), SEL(lo, C(-1.625 / 0.875), C(-4.25 / 1.75)));
    L = poly_sel(m, t, lo, ERF_LA64, ERF_LB64, 16);
  } else {
    KV ac = clamp(m, a, 0.75, 4.0);
    KV t = FMA(ac, C(1.0 / 1.625), C(-2.375 / 1.625));
    L = poly(m, t, ERF_L32, 10);
  }
  KV big = SUB(C(1.0), kb_exp(kb, kb_neg(kb, L)));
  return kb_copysign(kb, SEL(CMP(KC_LT, a, C(0.75)), small, big), x);
}

/* ---- pow ---- */
KV kb_pow(KB *kb, KV x, KV y) {
  if (is_half(kb, x)) {
    KT t = kb_type(kb, x);
    return kb_cast(kb, kb_pow(kb, to_f32(kb, x), to_f32(kb, y)), t, false, false);
  }
  M mm = mk(kb, x), *m = &mm;
  KV ax = ABS(x);
  KV ay = ABS(y);
  KV e = kb_exp(kb, MUL(y, kb_log(kb, ax)));
  /* y an integer (inf counts as even); odd if y/2 is not */
  KV yt = kb_trunc(kb, y);
  KV yint = CMP(KC_EQ, yt, y);
  KV yh = MUL(y, C(0.5));
  KV yodd = AND(yint, CMP(KC_NE, kb_trunc(kb, yh), yh));
  KV xneg = CMP(KC_NE, AND(TOI(x), sign_bit(m)), I(0)); /* includes -0 */
  KV res = SEL(AND(yodd, xneg), kb_neg(kb, e), e);
  /* finite x < 0 with a finite non-integer y: NaN */
  KV bad = AND(AND(CMP(KC_LT, x, C(0.0)), CMP(KC_GT, x, C(-INFINITY))),
               AND(NOT(yint), CMP(KC_LT, ay, C(INFINITY))));
  res = SEL(bad, C(NAN), res);
  /* exactly 1: pow(x, ±0), pow(1, y) (even NaN), pow(-1, ±inf) */
  KV one = OR(OR(CMP(KC_EQ, y, C(0.0)), CMP(KC_EQ, x, C(1.0))),
              AND(CMP(KC_EQ, ax, C(1.0)), CMP(KC_EQ, ay, C(INFINITY))));
  return SEL(one, C(1.0), res);
}

/* ---- trigonometric ---- */
/* x = k pi/2 + r, |r| <= pi/4 (Cody-Waite with fma, three parts of pi/2); returns r, *k = k.
 * Full accuracy up to |x| ~ 6e6 (f32) / 1e15 (f64). */
static KV trig_reduce(M *m, KV x, KV *k) {
  KV n = round_mul(m, x, 0.6366197723675814, k);
  KV r;
  if (m->d) {
    r = FMA(n, C(-1.5707963267948966), x);
    r = FMA(n, C(-6.123233995736766e-17), r);
    r = FMA(n, C(1.4973849048591698e-33), r);
  } else {
    r = FMA(n, C(-1.5707963705062866), x);
    r = FMA(n, C(4.371138828673793e-08), r);
    r = FMA(n, C(1.7151245100058819e-15), r);
  }
  /* |r| exceeds pi/4 a little for large |x| (2/pi is rounded); past 2^22 (f32) / 2^51 (f64)
   * quadrants the rounding trick fails and the answer is meaningless anyway: bound r so that it
   * stays finite and in range (inf and NaN still give NaN) */
  return clamp(m, r, -1.0, 1.0);
}

static KV sin_poly(M *m, KV r, KV z) {
  return FMA(MUL(r, z), m->d ? poly(m, z, SIN_S64, 7) : poly(m, z, SIN_S32, 4), r);
}
static KV cos_poly(M *m, KV z) {
  KV c = m->d ? poly(m, z, COS_C64, 7) : poly(m, z, COS_C32, 4);
  return FMA(MUL(z, z), c, FMA(z, C(-0.5), C(1.0)));
}

/* sin(x + q pi/2) */
static KV sin_quadrant(M *m, KV x, int q) {
  KV k;
  KV r = trig_reduce(m, x, &k);
  KV z = MUL(r, r);
  KV s = sin_poly(m, r, z), c = cos_poly(m, z);
  if (q) k = ADD(k, I(q));
  KV res = SEL(CMP(KC_NE, AND(k, I(1)), I(0)), c, s);
  /* quadrants 2 and 3 negate: move bit 1 of k into the sign bit */
  KV sgn = kb_shl(m->kb, AND(k, I(2)), I(m->d ? 62 : 30));
  return TOF(kb_xor(m->kb, TOI(res), sgn));
}

KV kb_sin(KB *kb, KV x) {
  PROMOTE1(kb_sin, x);
  M mm = mk(kb, x), *m = &mm;
  return sin_quadrant(m, x, 0);
}

KV kb_cos(KB *kb, KV x) {
  PROMOTE1(kb_cos, x);
  M mm = mk(kb, x), *m = &mm;
  return sin_quadrant(m, x, 1);
}

KV kb_tan(KB *kb, KV x) {
  PROMOTE1(kb_tan, x);
  M mm = mk(kb, x), *m = &mm;
  KV k;
  KV r = trig_reduce(m, x, &k);
  KV z = MUL(r, r);
  KV s = sin_poly(m, r, z), c = cos_poly(m, z);
  /* odd k: tan(r + pi/2) = -cos r / sin r */
  KV odd = CMP(KC_NE, AND(k, I(1)), I(0));
  return DIV(SEL(odd, kb_neg(kb, c), s), SEL(odd, s, c));
}

KV kb_atan(KB *kb, KV x) {
  PROMOTE1(kb_atan, x);
  M mm = mk(kb, x), *m = &mm;
  KV a = ABS(x);
  /* a > tan(3pi/8): pi/2 + atan(-1/a); a > tan(pi/8): pi/4 + atan((a-1)/(a+1)); else atan(a) */
  KV big = CMP(KC_GT, a, C(2.414213562373095));
  KV mid = CMP(KC_GT, a, C(0.41421356237309503));
  KV num = SEL(big, C(-1.0), SEL(mid, SUB(a, C(1.0)), a));
  KV den = SEL(big, a, SEL(mid, ADD(a, C(1.0)), C(1.0)));
  KV u = DIV(num, den);
  KV y0 = SEL(big, C(1.5707963267948966), SEL(mid, C(0.7853981633974483), C(0.0)));
  KV z = MUL(u, u);
  KV p = FMA(MUL(u, z), m->d ? poly(m, z, ATAN_A64, 11) : poly(m, z, ATAN_A32, 5), u);
  return kb_copysign(kb, ADD(y0, p), x);
}

/* asin|x| pieces: *p = asin(s) with s = |x| (|x| <= 1/2) or s = sqrt((1-|x|)/2); *small marks the first */
static KV asin_core(M *m, KV x, KV *small) {
  KV a = ABS(x);
  *small = CMP(KC_LE, a, C(0.5));
  KV z = SEL(*small, MUL(a, a), MUL(SUB(C(1.0), a), C(0.5)));
  KV s = SEL(*small, a, kb_sqrt(m->kb, z));
  return FMA(MUL(s, z), m->d ? poly(m, z, ASIN_B64, 13) : poly(m, z, ASIN_B32, 6), s);
}

KV kb_asin(KB *kb, KV x) {
  PROMOTE1(kb_asin, x);
  M mm = mk(kb, x), *m = &mm;
  KV small;
  KV p = asin_core(m, x, &small);
  /* |x| > 1/2: asin|x| = pi/2 - 2 asin(sqrt((1-|x|)/2)) */
  KV r = SEL(small, p, FMA(p, C(-2.0), C(1.5707963267948966)));
  return kb_copysign(kb, r, x);
}

KV kb_acos(KB *kb, KV x) {
  PROMOTE1(kb_acos, x);
  M mm = mk(kb, x), *m = &mm;
  KV small;
  KV p = asin_core(m, x, &small);
  /* |x| <= 1/2: pi/2 - asin x;  x > 1/2: 2p;  x < -1/2: pi - 2p */
  KV r_small = SUB(C(1.5707963267948966), kb_copysign(kb, p, x));
  KV r_big = SEL(CMP(KC_GT, x, C(0.0)), ADD(p, p), FMA(p, C(-2.0), C(3.141592653589793)));
  return SEL(small, r_small, r_big);
}
