/* kb.h — the kernel builder: a small structured layer (loops, variables, vector memory ops,
 * arithmetic, reductions) that kernel generators use instead of LLVM directly.  Nothing here names
 * an LLVM type, so a second emitter (C source) can implement the same interface later.
 *
 * Values (KV) are typed: scalar or vector of an element kind.  Integers carry no sign; operations
 * whose meaning depends on it take a `uns` flag.  Booleans are KE_I1 in registers and one byte
 * (0/1) in memory — use kb_load_bool / kb_store_bool for tensors of dtype bool.
 *
 * Control flow is structured: kb_for/kb_endfor, kb_if/kb_else/kb_endif.  Loop-carried state
 * lives in variables (kb_var/kb_get/kb_set); the optimizer turns them into registers.
 *
 * Every kernel has the signature
 *     int32_t kernel(void *const *bufs, const char *weights, char *scratch, int64_t begin, int64_t end)
 * bufs: one pointer per node input then per output (NULL for missing optional ones); weights: the
 * weight blob (for constants registered with kb_weight); scratch: this thread's scratch space;
 * [begin, end): the part of the kernel's parallel range this call computes (see GenCtx.work). */
#ifndef ONNXC_KB_H
#define ONNXC_KB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

typedef struct KB KB;
typedef struct KV_ *KV;      /* a value */
typedef struct KVar_ *KVar;  /* a mutable variable */

typedef enum KElem { KE_VOID, KE_I1, KE_I8, KE_I16, KE_I32, KE_I64, KE_F16, KE_BF16, KE_F32, KE_F64, KE_PTR } KElem;

typedef struct KT {
  KElem e;
  int lanes; /* 1 = scalar */
} KT;

static inline KT kt(KElem e, int lanes) { return (KT){e, lanes}; }
static inline KT kt_s(KElem e) { return (KT){e, 1}; }

/* element kind used to hold a tensor dtype in registers (bool → KE_I8 in memory) */
KElem kb_elem_of(DType t);
size_t kb_elem_size(KElem e);
bool kb_is_float(KElem e);

/* ---- target facts ---- */
int kb_vector_bytes(const KB *kb); /* 64 on AVX-512, 32 on AVX2, 16 on NEON */
int kb_lanes(const KB *kb, KElem e); /* native lanes for one vector register */

/* ---- type queries ---- */
KT kb_type(KB *kb, KV v);

/* ---- constants ---- */
KV kb_i64(KB *kb, int64_t x);
KV kb_i32(KB *kb, int32_t x);
KV kb_int(KB *kb, KT t, int64_t x);   /* integer constant of any int type (splat for vectors) */
KV kb_f32(KB *kb, float x);
KV kb_f64(KB *kb, double x);
KV kb_float(KB *kb, KT t, double x);  /* float constant of any float type (splat for vectors) */
KV kb_true(KB *kb);
KV kb_false(KB *kb);
KV kb_iota(KB *kb, KT t);             /* vector <0, 1, 2, ...> of integer type t */
KV kb_null(KB *kb);                   /* null pointer */

/* ---- kernel arguments ---- */
KV kb_buf(KB *kb, int i);    /* bufs[i] as a pointer (inputs first, then outputs) */
KV kb_weights(KB *kb);       /* the weight blob base */
KV kb_scratch(KB *kb);       /* this thread's scratch base */
KV kb_begin(KB *kb);         /* i64 */
KV kb_end(KB *kb);           /* i64 */
/* Register constant data with the weight blob (copied); returns a pointer to it at run time. */
KV kb_weight(KB *kb, const void *data, size_t bytes);

/* ---- pointers and memory ---- */
KV kb_gep(KB *kb, KElem e, KV ptr, KV idx);        /* ptr + idx * sizeof(e), idx i64 */
KV kb_gep_bytes(KB *kb, KV ptr, KV byte_offset);
KV kb_load(KB *kb, KT t, KV ptr);                  /* unaligned vector or scalar load */
void kb_store(KB *kb, KV val, KV ptr);
KV kb_load_masked(KB *kb, KT t, KV ptr, KV mask, KV passthru); /* passthru may be NULL (zero) */
void kb_store_masked(KB *kb, KV val, KV ptr, KV mask);
KV kb_gather(KB *kb, KT t, KV base, KV idx_vec, KV mask);      /* base[idx[i]] (elements of t.e); mask may be NULL */
void kb_scatter(KB *kb, KV val, KV base, KV idx_vec, KV mask);
KV kb_load_bool(KB *kb, int lanes, KV ptr, KV mask);             /* bytes → i1 vector */
void kb_store_bool(KB *kb, KV val, KV ptr, KV mask);             /* i1 vector → bytes 0/1 */
void kb_memcpy(KB *kb, KV dst, KV src, KV bytes);
void kb_memset(KB *kb, KV dst, int byte, KV bytes);
void kb_prefetch(KB *kb, KV ptr);

/* ---- masks ---- */
KV kb_tail_mask(KB *kb, int lanes, KV remaining); /* lane j active iff j < remaining (i64) */

/* ---- arithmetic (operands of equal type; scalars are not auto-splatted) ---- */
KV kb_add(KB *kb, KV a, KV b);
KV kb_sub(KB *kb, KV a, KV b);
KV kb_mul(KB *kb, KV a, KV b);
KV kb_div(KB *kb, KV a, KV b, bool uns);  /* ints: truncating */
KV kb_rem(KB *kb, KV a, KV b, bool uns);  /* ints: C remainder; floats: fmod */
KV kb_neg(KB *kb, KV a);
KV kb_fma(KB *kb, KV a, KV b, KV c);      /* a*b + c, fused */
KV kb_min(KB *kb, KV a, KV b, bool uns);  /* floats: minnum (NaN-ignoring) */
KV kb_max(KB *kb, KV a, KV b, bool uns);
KV kb_fmin_nan(KB *kb, KV a, KV b);       /* NaN-propagating */
KV kb_fmax_nan(KB *kb, KV a, KV b);
KV kb_abs(KB *kb, KV a);
KV kb_sqrt(KB *kb, KV a);
KV kb_floor(KB *kb, KV a);
KV kb_ceil(KB *kb, KV a);
KV kb_round_even(KB *kb, KV a);
KV kb_trunc(KB *kb, KV a);
KV kb_copysign(KB *kb, KV mag, KV sign);
KV kb_and(KB *kb, KV a, KV b);
KV kb_or(KB *kb, KV a, KV b);
KV kb_xor(KB *kb, KV a, KV b);
KV kb_not(KB *kb, KV a);
KV kb_shl(KB *kb, KV a, KV b);
KV kb_shr(KB *kb, KV a, KV b, bool uns);
/* bits set in each lane of an integer value (vpopcntq/vpopcntd on AVX-512 VPOPCNTDQ, cnt on NEON) */
KV kb_popcount(KB *kb, KV a);

typedef enum KCmp { KC_EQ, KC_NE, KC_LT, KC_LE, KC_GT, KC_GE, KC_UNORD /* isnan */ } KCmp;
KV kb_cmp(KB *kb, KCmp c, KV a, KV b, bool uns); /* → i1 (vector); floats: ordered except NE */
KV kb_select(KB *kb, KV cond, KV a, KV b);

/* conversions: numeric cast with C semantics; uns = the source (int→float, int widening) or
 * destination (float→int) is unsigned.  float→int saturates (no UB). bool from number: != 0. */
KV kb_cast(KB *kb, KV v, KT to, bool src_uns, bool dst_uns);
KV kb_bitcast(KB *kb, KV v, KT to);
KV kb_splat(KB *kb, KV scalar, int lanes);
KV kb_extract(KB *kb, KV vec, int lane);
KV kb_insert(KB *kb, KV vec, KV scalar, int lane);
KV kb_shuffle(KB *kb, KV a, KV b, const int *lanes, int n); /* -1 = undef */
/* a table lookup in registers: lane i is table[idx[i] & (L - 1)] (table: L lanes of 32-bit
 * elements, idx: i32 x L).  vpermps/vpermd on AVX-512 and AVX2 (one instruction); lane by lane
 * elsewhere.  Clustered weights decode their 4-bit indices through it (gen_cluster.c).  idx may
 * have another lane count (the result has idx's lanes, table's elements). */
KV kb_permute(KB *kb, KV table, KV idx);
/* the same over the 128-byte table lo ++ hi (64 bytes each; i8 idx, as many as wanted, & 127):
 * vpermi2b on AVX-512 VBMI (64 indices), tbl4 + tbx4 on NEON (16), else two lookups and a select.
 * The sparse int8 matmuls gather their activations with it (gen_sparse_q8.c). */
KV kb_permute2(KB *kb, KV lo, KV hi, KV idx);

/* 4-way byte dot product: acc (i32 × L) plus, per lane i, Σ_{t<4} a[4i+t]·b[4i+t] with a unsigned and
 * b signed bytes (i8 × 4L each), wrapping.  AVX-512 VNNI's vpdpbusd for L = 16; vpmaddwd on
 * i16-widened bytes on other x86 (L = 4, 8, 16); aarch64 udot with dotprod, smull/saddlp/addp
 * without (L = 4, 8); widening multiplies and shuffles elsewhere (kb_llvm.c). */
KV kb_dot4_u8s8(KB *kb, KV acc, KV a, KV b);
/* 2-way bf16 dot product with f32 accumulation: acc (f32 × L) plus, per lane i,
 * a[2i]·b[2i] + a[2i+1]·b[2i+1] (a, b: bf16 × 2L).  AVX512-BF16's vdpbf16ps for L = 16 (which
 * flushes denormal inputs and products to zero); widened to f32 and two fmas elsewhere. */
KV kb_dot2_bf16(KB *kb, KV acc, KV a, KV b);
/* f32 → bf16 rounded to nearest even, denormals possibly flushed to zero (vcvtne2ps2bf16 with
 * AVX512-BF16, kb_cast's exact rounding elsewhere): the fast conversion of --fp-mode bf16's
 * packers */
KV kb_to_bf16(KB *kb, KV v);
/* requantization to bytes: n (1..4) f32 vectors of L lanes → one vector of n·L i8 lanes in order
 * (v[0]'s lanes first), lane = sat8(sat16(round_half_even(f)) + zp) with sat8 to [0, 255] (uns)
 * or [-128, 127], zp in [-255, 255].  Lanes with |f| ≥ 2^31 give unspecified bytes (the
 * caller clamps when it cannot bound f).  AVX-512BW / AVX2: vcvtps2dq, vpackssdw, vpaddsw,
 * vpackuswb / vpacksswb and one vpermd for all n vectors (a vpmovdb is two uops per vector on
 * Zen); elsewhere the 1.5·2^23 rounding add and clamps (kb.c). */
KV kb_requant_bytes(KB *kb, const KV *v, int n, int zp, bool uns);

/* horizontal reductions of a vector to a scalar */
KV kb_reduce_add(KB *kb, KV v);
KV kb_reduce_mul(KB *kb, KV v);
KV kb_reduce_min(KB *kb, KV v, bool uns);
KV kb_reduce_max(KB *kb, KV v, bool uns);
KV kb_reduce_or(KB *kb, KV v);  /* i1 vectors: any */

/* ---- transcendental math: inline vector polynomials (kmath.c), float types ---- */
KV kb_exp(KB *kb, KV x);
KV kb_log(KB *kb, KV x);
KV kb_tanh(KB *kb, KV x);
KV kb_sigmoid(KB *kb, KV x);
KV kb_erf(KB *kb, KV x);
KV kb_pow(KB *kb, KV x, KV y);
KV kb_sin(KB *kb, KV x);
KV kb_cos(KB *kb, KV x);
KV kb_expm1(KB *kb, KV x);  /* e^x - 1, accurate near 0 */
KV kb_log1p(KB *kb, KV x);  /* log(1 + x), accurate near 0 */
KV kb_tan(KB *kb, KV x);
KV kb_atan(KB *kb, KV x);
KV kb_asin(KB *kb, KV x);
KV kb_acos(KB *kb, KV x);
KV kb_sinh(KB *kb, KV x);
KV kb_cosh(KB *kb, KV x);
KV kb_asinh(KB *kb, KV x);
KV kb_acosh(KB *kb, KV x);
KV kb_atanh(KB *kb, KV x);

/* ---- variables and control flow ---- */
KVar kb_var(KB *kb, KT t, KV init);
KV kb_get(KB *kb, KVar v);
void kb_set(KB *kb, KVar v, KV val);
KV kb_for(KB *kb, KV lo, KV hi, int64_t step); /* for (i = lo; i < hi; i += step); returns i (i64) */
void kb_endfor(KB *kb);
void kb_if(KB *kb, KV cond);  /* scalar i1 */
void kb_else(KB *kb);
void kb_endif(KB *kb);
void kb_return_status(KB *kb, KV status_i32); /* early return (e.g. an index out of range) */

/* ---- calls into the runtime (rare; never per element) ---- */
KV kb_call_rt(KB *kb, const char *name, KT ret, int nargs, KV *args);

#endif
