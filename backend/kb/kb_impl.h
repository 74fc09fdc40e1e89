/* kb_impl.h — what an emitter of the kernel builder implements.  kb.h's entry points (kb.c) call
 * through the emitter a KB belongs to: kb_llvm.c emits LLVM IR, kb_c.c emits C source.  Each
 * emitter's KB struct starts with a KBHead naming its KbEmitter, a struct of function pointers
 * (as QBE's per-target `Target` and ggml's backends); nothing else in the builder knows which
 * emitter it is talking to. */
#ifndef ONNXC_KB_IMPL_H
#define ONNXC_KB_IMPL_H

#include "kb.h"

/* The operations of kb.h an emitter implements, one row each, in kb.h's order:
 *     X(return type, name, (parameters), (arguments))   XV(name, (parameters), (arguments)) if void
 * kb_NAME(...) forwards to em->op_NAME(...); an emitter defines its own prefix_NAME for each row and
 * fills its KbEmitter with KB_EMITTER_OPS.  kb_dot4_u8s8_generic (kb.c) serves an emitter without
 * a faster dot product. */
#define KB_EMITTER_OPS(X, XV) \
  X(int, vector_bytes, (const KB *kb), (kb))                                                            \
  X(int, lanes, (const KB *kb, KElem e), (kb, e))                                                       \
  X(KT, type, (KB *kb, KV v), (kb, v))                                                                  \
  X(KV, i64, (KB *kb, int64_t x), (kb, x))                                                              \
  X(KV, i32, (KB *kb, int32_t x), (kb, x))                                                              \
  X(KV, int, (KB *kb, KT t, int64_t x), (kb, t, x))                                                     \
  X(KV, f32, (KB *kb, float x), (kb, x))                                                                \
  X(KV, f64, (KB *kb, double x), (kb, x))                                                               \
  X(KV, float, (KB *kb, KT t, double x), (kb, t, x))                                                    \
  X(KV, true, (KB *kb), (kb))                                                                           \
  X(KV, false, (KB *kb), (kb))                                                                          \
  X(KV, iota, (KB *kb, KT t), (kb, t))                                                                  \
  X(KV, null, (KB *kb), (kb))                                                                           \
  X(KV, buf, (KB *kb, int i), (kb, i))                                                                  \
  X(KV, weights, (KB *kb), (kb))                                                                        \
  X(KV, scratch, (KB *kb), (kb))                                                                        \
  X(KV, begin, (KB *kb), (kb))                                                                          \
  X(KV, end, (KB *kb), (kb))                                                                            \
  X(KV, weight, (KB *kb, const void *data, size_t bytes), (kb, data, bytes))                            \
  X(KV, gep, (KB *kb, KElem e, KV ptr, KV idx), (kb, e, ptr, idx))                                      \
  X(KV, gep_bytes, (KB *kb, KV ptr, KV byte_offset), (kb, ptr, byte_offset))                            \
  X(KV, load, (KB *kb, KT t, KV ptr), (kb, t, ptr))                                                     \
  XV(store, (KB *kb, KV val, KV ptr), (kb, val, ptr))                                                   \
  X(KV, load_masked, (KB *kb, KT t, KV ptr, KV mask, KV passthru), (kb, t, ptr, mask, passthru))        \
  XV(store_masked, (KB *kb, KV val, KV ptr, KV mask), (kb, val, ptr, mask))                             \
  X(KV, gather, (KB *kb, KT t, KV base, KV idx_vec, KV mask), (kb, t, base, idx_vec, mask))             \
  XV(scatter, (KB *kb, KV val, KV base, KV idx_vec, KV mask), (kb, val, base, idx_vec, mask))           \
  X(KV, load_bool, (KB *kb, int lanes, KV ptr, KV mask), (kb, lanes, ptr, mask))                        \
  XV(store_bool, (KB *kb, KV val, KV ptr, KV mask), (kb, val, ptr, mask))                               \
  XV(memcpy, (KB *kb, KV dst, KV src, KV bytes), (kb, dst, src, bytes))                                 \
  XV(memset, (KB *kb, KV dst, int byte, KV bytes), (kb, dst, byte, bytes))                              \
  XV(prefetch, (KB *kb, KV ptr), (kb, ptr))                                                             \
  X(KV, tail_mask, (KB *kb, int lanes, KV remaining), (kb, lanes, remaining))                           \
  X(KV, add, (KB *kb, KV a, KV b), (kb, a, b))                                                          \
  X(KV, sub, (KB *kb, KV a, KV b), (kb, a, b))                                                          \
  X(KV, mul, (KB *kb, KV a, KV b), (kb, a, b))                                                          \
  X(KV, div, (KB *kb, KV a, KV b, bool uns), (kb, a, b, uns))                                           \
  X(KV, rem, (KB *kb, KV a, KV b, bool uns), (kb, a, b, uns))                                           \
  X(KV, neg, (KB *kb, KV a), (kb, a))                                                                   \
  X(KV, fma, (KB *kb, KV a, KV b, KV c), (kb, a, b, c))                                                 \
  X(KV, min, (KB *kb, KV a, KV b, bool uns), (kb, a, b, uns))                                           \
  X(KV, max, (KB *kb, KV a, KV b, bool uns), (kb, a, b, uns))                                           \
  X(KV, fmin_nan, (KB *kb, KV a, KV b), (kb, a, b))                                                     \
  X(KV, fmax_nan, (KB *kb, KV a, KV b), (kb, a, b))                                                     \
  X(KV, abs, (KB *kb, KV a), (kb, a))                                                                   \
  X(KV, sqrt, (KB *kb, KV a), (kb, a))                                                                  \
  X(KV, floor, (KB *kb, KV a), (kb, a))                                                                 \
  X(KV, ceil, (KB *kb, KV a), (kb, a))                                                                  \
  X(KV, round_even, (KB *kb, KV a), (kb, a))                                                            \
  X(KV, trunc, (KB *kb, KV a), (kb, a))                                                                 \
  X(KV, copysign, (KB *kb, KV mag, KV sign), (kb, mag, sign))                                           \
  X(KV, and, (KB *kb, KV a, KV b), (kb, a, b))                                                          \
  X(KV, or, (KB *kb, KV a, KV b), (kb, a, b))                                                           \
  X(KV, xor, (KB *kb, KV a, KV b), (kb, a, b))                                                          \
  X(KV, not, (KB *kb, KV a), (kb, a))                                                                   \
  X(KV, shl, (KB *kb, KV a, KV b), (kb, a, b))                                                          \
  X(KV, shr, (KB *kb, KV a, KV b, bool uns), (kb, a, b, uns))                                           \
  X(KV, popcount, (KB *kb, KV a), (kb, a))                                                              \
  X(KV, cmp, (KB *kb, KCmp c, KV a, KV b, bool uns), (kb, c, a, b, uns))                                \
  X(KV, select, (KB *kb, KV cond, KV a, KV b), (kb, cond, a, b))                                        \
  X(KV, cast, (KB *kb, KV v, KT to, bool src_uns, bool dst_uns), (kb, v, to, src_uns, dst_uns))         \
  X(KV, bitcast, (KB *kb, KV v, KT to), (kb, v, to))                                                    \
  X(KV, permute, (KB *kb, KV table, KV idx), (kb, table, idx))                                        \
  X(KV, permute2, (KB *kb, KV lo, KV hi, KV idx), (kb, lo, hi, idx))                                 \
  X(KV, splat, (KB *kb, KV scalar, int lanes), (kb, scalar, lanes))                                     \
  X(KV, extract, (KB *kb, KV vec, int lane), (kb, vec, lane))                                           \
  X(KV, insert, (KB *kb, KV vec, KV scalar, int lane), (kb, vec, scalar, lane))                         \
  X(KV, shuffle, (KB *kb, KV a, KV b, const int *lanes, int n), (kb, a, b, lanes, n))                   \
  X(KV, dot4_u8s8, (KB *kb, KV acc, KV a, KV b), (kb, acc, a, b))                                       \
  X(KV, dot2_bf16, (KB *kb, KV acc, KV a, KV b), (kb, acc, a, b))                                       \
  X(KV, to_bf16, (KB *kb, KV v), (kb, v))                                                               \
  X(KV, requant_bytes, (KB *kb, const KV *v, int n, int zp, bool uns), (kb, v, n, zp, uns))            \
  X(KV, reduce_add, (KB *kb, KV v), (kb, v))                                                            \
  X(KV, reduce_mul, (KB *kb, KV v), (kb, v))                                                            \
  X(KV, reduce_min, (KB *kb, KV v, bool uns), (kb, v, uns))                                             \
  X(KV, reduce_max, (KB *kb, KV v, bool uns), (kb, v, uns))                                             \
  X(KV, reduce_or, (KB *kb, KV v), (kb, v))                                                             \
  X(KVar, var, (KB *kb, KT t, KV init), (kb, t, init))                                                  \
  X(KV, get, (KB *kb, KVar v), (kb, v))                                                                 \
  XV(set, (KB *kb, KVar v, KV val), (kb, v, val))                                                       \
  X(KV, for, (KB *kb, KV lo, KV hi, int64_t step), (kb, lo, hi, step))                                  \
  XV(endfor, (KB *kb), (kb))                                                                            \
  XV(if, (KB *kb, KV cond), (kb, cond))                                                                 \
  XV(else, (KB *kb), (kb))                                                                              \
  XV(endif, (KB *kb), (kb))                                                                             \
  XV(return_status, (KB *kb, KV status_i32), (kb, status_i32))                                          \
  X(KV, call_rt, (KB *kb, const char *name, KT ret, int nargs, KV *args), (kb, name, ret, nargs, args))

typedef struct KbEmitter {
  const char *name; /* "llvm", "c" */
/* op_NAME: kb_for, kb_if and kb_else would make fields named after C keywords */
#define KB_EM_FIELD(R, name, params, args) R(*op_##name) params;
#define KB_EM_FIELDV(name, params, args) void(*op_##name) params;
  KB_EMITTER_OPS(KB_EM_FIELD, KB_EM_FIELDV)
#undef KB_EM_FIELD
#undef KB_EM_FIELDV
} KbEmitter;

/* the first member of every emitter's KB */
typedef struct KBHead {
  const KbEmitter *em;
} KBHead;
#define KB_EM(kb) (((const KBHead *)(const void *)(kb))->em)

/* Each emitter file declares its functions and fills its table from the same rows:
 *     #define DECL(R, name, params, args) static R kbl_##name params;   KB_EMITTER_OPS(DECL, ...)
 *     #define ENTRY(R, name, params, args) .op_##name = kbl_##name,          {KB_EMITTER_OPS(ENTRY, ...)} */
extern const KbEmitter kb_llvm_emitter; /* kb_llvm.c */
extern const KbEmitter kb_c_emitter;    /* kb_c.c */

/* kb_dot4_u8s8 from widening multiplies and shuffles (kb.c); kb_llvm.c uses VNNI when it can */
KV kb_dot4_u8s8_generic(KB *kb, KV acc, KV a, KV b);
/* kb_dot2_bf16 widened to f32: even and odd lanes by shuffles, two fmas (kb.c) */
KV kb_dot2_bf16_generic(KB *kb, KV acc, KV a, KV b);
/* kb_requant_bytes with the rounding add and clamps (kb.c) */
KV kb_requant_bytes_generic(KB *kb, const KV *v, int n, int zp, bool uns);

/* weight blob under construction: 64-byte aligned pieces (kb_common.c) */
typedef struct BlobShare BlobShare;
typedef struct WeightBlob {
  unsigned char *data;
  size_t size, cap;
  BlobShare *share; /* non-NULL: identical pieces are stored once (drive/blob_share.c) */
  /* record: blob_add lists each new piece (offset, bytes) in piece[] (for drive/wencode.c, which
   * codes piece by piece); the owner frees piece */
  bool record;
  size_t (*piece)[2];
  size_t npiece, cappiece;
} WeightBlob;
size_t blob_add(WeightBlob *w, const void *data, size_t bytes); /* returns offset; ir_oom if out of memory */
/* drive/blob_share.c: from begin on, blob_add shares identical pieces (multi-shape libraries);
 * end frees the index (the blob stays) */
void blob_share_begin(WeightBlob *w);
void blob_share_end(WeightBlob *w);
bool blob_share_find(const WeightBlob *w, const void *data, size_t bytes, size_t *off);
void blob_share_note(WeightBlob *w, size_t off, size_t bytes);

#endif
