/* kb_impl.h — the two implementations of the kernel builder behind kb.h's entry points (kb.c):
 * kbl_* emit LLVM IR (kb_llvm.c), kbc_* emit C source (kb_c.c).  Every KB starts with an int
 * kind (KB_LLVM or KB_C). */
#ifndef ONNXC_KB_IMPL_H
#define ONNXC_KB_IMPL_H

#include "kb.h"

enum { KB_LLVM, KB_C };
#define KB_IS_C(kb) (*(const int *)(const void *)(kb) == KB_C)

/* weight blob under construction: 64-byte aligned pieces (kb_llvm.c) */
typedef struct WeightBlob {
  unsigned char *data;
  size_t size, cap;
} WeightBlob;
size_t blob_add(WeightBlob *w, const void *data, size_t bytes); /* returns offset */

/* kb_dot4_u8s8 from widening multiplies and shuffles (kb.c); kb_llvm.c uses VNNI when it can */
KV kb_dot4_u8s8_generic(KB *kb, KV acc, KV a, KV b);
KV kbl_dot4_u8s8(KB *kb, KV acc, KV a, KV b);

int kbl_vector_bytes(const KB *kb);
int kbl_lanes(const KB *kb, KElem e);
KT kbl_type(KB *kb, KV v);
KV kbl_i64(KB *kb, int64_t x);
KV kbl_i32(KB *kb, int32_t x);
KV kbl_int(KB *kb, KT t, int64_t x);
KV kbl_f32(KB *kb, float x);
KV kbl_f64(KB *kb, double x);
KV kbl_float(KB *kb, KT t, double x);
KV kbl_true(KB *kb);
KV kbl_false(KB *kb);
KV kbl_iota(KB *kb, KT t);
KV kbl_null(KB *kb);
KV kbl_buf(KB *kb, int i);
KV kbl_weights(KB *kb);
KV kbl_scratch(KB *kb);
KV kbl_begin(KB *kb);
KV kbl_end(KB *kb);
KV kbl_weight(KB *kb, const void *data, size_t bytes);
KV kbl_gep(KB *kb, KElem e, KV ptr, KV idx);
KV kbl_gep_bytes(KB *kb, KV ptr, KV byte_offset);
KV kbl_load(KB *kb, KT t, KV ptr);
void kbl_store(KB *kb, KV val, KV ptr);
KV kbl_load_masked(KB *kb, KT t, KV ptr, KV mask, KV passthru);
void kbl_store_masked(KB *kb, KV val, KV ptr, KV mask);
KV kbl_gather(KB *kb, KT t, KV base, KV idx_vec, KV mask);
void kbl_scatter(KB *kb, KV val, KV base, KV idx_vec, KV mask);
KV kbl_load_bool(KB *kb, int lanes, KV ptr, KV mask);
void kbl_store_bool(KB *kb, KV val, KV ptr, KV mask);
void kbl_memcpy(KB *kb, KV dst, KV src, KV bytes);
void kbl_memset(KB *kb, KV dst, int byte, KV bytes);
void kbl_prefetch(KB *kb, KV ptr);
KV kbl_tail_mask(KB *kb, int lanes, KV remaining);
KV kbl_add(KB *kb, KV a, KV b);
KV kbl_sub(KB *kb, KV a, KV b);
KV kbl_mul(KB *kb, KV a, KV b);
KV kbl_div(KB *kb, KV a, KV b, bool uns);
KV kbl_rem(KB *kb, KV a, KV b, bool uns);
KV kbl_neg(KB *kb, KV a);
KV kbl_fma(KB *kb, KV a, KV b, KV c);
KV kbl_min(KB *kb, KV a, KV b, bool uns);
KV kbl_max(KB *kb, KV a, KV b, bool uns);
KV kbl_fmin_nan(KB *kb, KV a, KV b);
KV kbl_fmax_nan(KB *kb, KV a, KV b);
KV kbl_abs(KB *kb, KV a);
KV kbl_sqrt(KB *kb, KV a);
KV kbl_floor(KB *kb, KV a);
KV kbl_ceil(KB *kb, KV a);
KV kbl_round_even(KB *kb, KV a);
KV kbl_trunc(KB *kb, KV a);
KV kbl_copysign(KB *kb, KV mag, KV sign);
KV kbl_and(KB *kb, KV a, KV b);
KV kbl_or(KB *kb, KV a, KV b);
KV kbl_xor(KB *kb, KV a, KV b);
KV kbl_not(KB *kb, KV a);
KV kbl_shl(KB *kb, KV a, KV b);
KV kbl_shr(KB *kb, KV a, KV b, bool uns);
KV kbl_cmp(KB *kb, KCmp c, KV a, KV b, bool uns);
KV kbl_select(KB *kb, KV cond, KV a, KV b);
KV kbl_cast(KB *kb, KV v, KT to, bool src_uns, bool dst_uns);
KV kbl_bitcast(KB *kb, KV v, KT to);
KV kbl_splat(KB *kb, KV scalar, int lanes);
KV kbl_extract(KB *kb, KV vec, int lane);
KV kbl_insert(KB *kb, KV vec, KV scalar, int lane);
KV kbl_shuffle(KB *kb, KV a, KV b, const int *lanes, int n);
KV kbl_reduce_add(KB *kb, KV v);
KV kbl_reduce_mul(KB *kb, KV v);
KV kbl_reduce_min(KB *kb, KV v, bool uns);
KV kbl_reduce_max(KB *kb, KV v, bool uns);
KV kbl_reduce_or(KB *kb, KV v);
KVar kbl_var(KB *kb, KT t, KV init);
KV kbl_get(KB *kb, KVar v);
void kbl_set(KB *kb, KVar v, KV val);
KV kbl_for(KB *kb, KV lo, KV hi, int64_t step);
void kbl_endfor(KB *kb);
void kbl_if(KB *kb, KV cond);
void kbl_else(KB *kb);
void kbl_endif(KB *kb);
void kbl_return_status(KB *kb, KV status_i32);
KV kbl_call_rt(KB *kb, const char *name, KT ret, int nargs, KV *args);

int kbc_vector_bytes(const KB *kb);
int kbc_lanes(const KB *kb, KElem e);
KT kbc_type(KB *kb, KV v);
KV kbc_i64(KB *kb, int64_t x);
KV kbc_i32(KB *kb, int32_t x);
KV kbc_int(KB *kb, KT t, int64_t x);
KV kbc_f32(KB *kb, float x);
KV kbc_f64(KB *kb, double x);
KV kbc_float(KB *kb, KT t, double x);
KV kbc_true(KB *kb);
KV kbc_false(KB *kb);
KV kbc_iota(KB *kb, KT t);
KV kbc_null(KB *kb);
KV kbc_buf(KB *kb, int i);
KV kbc_weights(KB *kb);
KV kbc_scratch(KB *kb);
KV kbc_begin(KB *kb);
KV kbc_end(KB *kb);
KV kbc_weight(KB *kb, const void *data, size_t bytes);
KV kbc_gep(KB *kb, KElem e, KV ptr, KV idx);
KV kbc_gep_bytes(KB *kb, KV ptr, KV byte_offset);
KV kbc_load(KB *kb, KT t, KV ptr);
void kbc_store(KB *kb, KV val, KV ptr);
KV kbc_load_masked(KB *kb, KT t, KV ptr, KV mask, KV passthru);
void kbc_store_masked(KB *kb, KV val, KV ptr, KV mask);
KV kbc_gather(KB *kb, KT t, KV base, KV idx_vec, KV mask);
void kbc_scatter(KB *kb, KV val, KV base, KV idx_vec, KV mask);
KV kbc_load_bool(KB *kb, int lanes, KV ptr, KV mask);
void kbc_store_bool(KB *kb, KV val, KV ptr, KV mask);
void kbc_memcpy(KB *kb, KV dst, KV src, KV bytes);
void kbc_memset(KB *kb, KV dst, int byte, KV bytes);
void kbc_prefetch(KB *kb, KV ptr);
KV kbc_tail_mask(KB *kb, int lanes, KV remaining);
KV kbc_add(KB *kb, KV a, KV b);
KV kbc_sub(KB *kb, KV a, KV b);
KV kbc_mul(KB *kb, KV a, KV b);
KV kbc_div(KB *kb, KV a, KV b, bool uns);
KV kbc_rem(KB *kb, KV a, KV b, bool uns);
KV kbc_neg(KB *kb, KV a);
KV kbc_fma(KB *kb, KV a, KV b, KV c);
KV kbc_min(KB *kb, KV a, KV b, bool uns);
KV kbc_max(KB *kb, KV a, KV b, bool uns);
KV kbc_fmin_nan(KB *kb, KV a, KV b);
KV kbc_fmax_nan(KB *kb, KV a, KV b);
KV kbc_abs(KB *kb, KV a);
KV kbc_sqrt(KB *kb, KV a);
KV kbc_floor(KB *kb, KV a);
KV kbc_ceil(KB *kb, KV a);
KV kbc_round_even(KB *kb, KV a);
KV kbc_trunc(KB *kb, KV a);
KV kbc_copysign(KB *kb, KV mag, KV sign);
KV kbc_and(KB *kb, KV a, KV b);
KV kbc_or(KB *kb, KV a, KV b);
KV kbc_xor(KB *kb, KV a, KV b);
KV kbc_not(KB *kb, KV a);
KV kbc_shl(KB *kb, KV a, KV b);
KV kbc_shr(KB *kb, KV a, KV b, bool uns);
KV kbc_cmp(KB *kb, KCmp c, KV a, KV b, bool uns);
KV kbc_select(KB *kb, KV cond, KV a, KV b);
KV kbc_cast(KB *kb, KV v, KT to, bool src_uns, bool dst_uns);
KV kbc_bitcast(KB *kb, KV v, KT to);
KV kbc_splat(KB *kb, KV scalar, int lanes);
KV kbc_extract(KB *kb, KV vec, int lane);
KV kbc_insert(KB *kb, KV vec, KV scalar, int lane);
KV kbc_shuffle(KB *kb, KV a, KV b, const int *lanes, int n);
KV kbc_reduce_add(KB *kb, KV v);
KV kbc_reduce_mul(KB *kb, KV v);
KV kbc_reduce_min(KB *kb, KV v, bool uns);
KV kbc_reduce_max(KB *kb, KV v, bool uns);
KV kbc_reduce_or(KB *kb, KV v);
KVar kbc_var(KB *kb, KT t, KV init);
KV kbc_get(KB *kb, KVar v);
void kbc_set(KB *kb, KVar v, KV val);
KV kbc_for(KB *kb, KV lo, KV hi, int64_t step);
void kbc_endfor(KB *kb);
void kbc_if(KB *kb, KV cond);
void kbc_else(KB *kb);
void kbc_endif(KB *kb);
void kbc_return_status(KB *kb, KV status_i32);
KV kbc_call_rt(KB *kb, const char *name, KT ret, int nargs, KV *args);

#endif
