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
