/* kb.c — the kernel builder's entry points (kb.h): each calls the emitter the KB belongs to
 * (kb_impl.h: LLVM IR from kb_llvm.c, C source from kb_c.c) through its table of functions.
 * Nothing here depends on the target. */
#include <stdlib.h>

#include "kb_impl.h"

#define FWD(R, name, params, args) \
  R kb_##name params { return KB_EM(kb)->op_##name args; }
#define FWDV(name, params, args) \
  void kb_##name params { KB_EM(kb)->op_##name args; }
KB_EMITTER_OPS(FWD, FWDV)

/* widening multiplies, then the four products of each lane added with shuffles */
KV kb_dot4_u8s8_generic(KB *kb, KV acc, KV a, KV b) {
  int L = kb_type(kb, acc).lanes;
  KT wide = kt(KE_I32, 4 * L);
  KV p = kb_mul(kb, kb_cast(kb, a, wide, true, false), kb_cast(kb, b, wide, false, false));
  int idx[64];
  if (L > 64) abort(); /* wider than any vector register */
  for (int t = 0; t < 4; t++) {
    for (int i = 0; i < L; i++) idx[i] = 4 * i + t;
    acc = kb_add(kb, acc, kb_shuffle(kb, p, p, idx, L));
  }
  return acc;
}

KV kb_dot2_bf16_generic(KB *kb, KV acc, KV a, KV b) {
  int L = kb_type(kb, acc).lanes;
  KT f = kt(KE_F32, 2 * L);
  KV af = kb_cast(kb, a, f, false, false), bf = kb_cast(kb, b, f, false, false);
  int idx[64];
  if (L > 32) abort(); /* wider than any vector register */
  for (int t = 0; t < 2; t++) {
    for (int i = 0; i < L; i++) idx[i] = 2 * i + t;
    acc = kb_fma(kb, kb_shuffle(kb, af, af, idx, L), kb_shuffle(kb, bf, bf, idx, L), acc);
  }
  return acc;
}

/* f clamped to ±2^22, + 1.5·2^23 (rounds half to even), read back as an integer; then the zero
 * point and the byte range in i32 (the same bytes as sat16 first: |f| ≤ 2^22 lands beyond either
 * byte bound with any zp in i16) */
KV kb_requant_bytes_generic(KB *kb, const KV *v, int n, int zp, bool uns) {
  KT ft = kb_type(kb, v[0]), it = kt(KE_I32, ft.lanes);
  int L = ft.lanes;
  if (n < 1 || n > 4 || L > 16) abort(); /* wider than any vector register */
  KV magic = kb_float(kb, ft, 12582912.0), mbits = kb_bitcast(kb, magic, it);
  KV b[4];
  for (int j = 0; j < n; j++) {
    KV f = kb_min(kb, kb_max(kb, v[j], kb_float(kb, ft, -4194304.0), false), kb_float(kb, ft, 4194304.0), false);
    KV i = kb_sub(kb, kb_bitcast(kb, kb_add(kb, f, magic), it), mbits);
    i = kb_add(kb, i, kb_int(kb, it, zp));
    i = kb_min(kb, kb_max(kb, i, kb_int(kb, it, uns ? 0 : -128), false), kb_int(kb, it, uns ? 255 : 127), false);
    b[j] = kb_cast(kb, i, kt(KE_I8, L), false, false);
  }
  if (n == 1) return b[0];
  int idx[64];
  for (int i = 0; i < 2 * L; i++) idx[i] = i;
  KV lo = kb_shuffle(kb, b[0], b[1], idx, 2 * L);
  if (n == 2) return lo;
  KV hi = n == 4 ? kb_shuffle(kb, b[2], b[3], idx, 2 * L) : kb_shuffle(kb, b[2], b[2], idx, 2 * L);
  for (int i = 0; i < n * L; i++) idx[i] = i;
  return kb_shuffle(kb, lo, hi, idx, n * L);
}
