/* kb.c — the kernel builder's entry points (kb.h): each forwards to the emitter a KB belongs
 * to, LLVM IR (kb_llvm.c, kbl_*) or C source (kb_c.c, kbc_*).  Both emitters' KB structs start
 * with an int `kind`, read here. */
#include <stdlib.h>

#include "kb_impl.h"

int kb_vector_bytes(const KB *kb) {
  return KB_IS_C(kb) ? kbc_vector_bytes(kb) : kbl_vector_bytes(kb);
}
int kb_lanes(const KB *kb, KElem e) {
  return KB_IS_C(kb) ? kbc_lanes(kb, e) : kbl_lanes(kb, e);
}
KT kb_type(KB *kb, KV v) {
  return KB_IS_C(kb) ? kbc_type(kb, v) : kbl_type(kb, v);
}
KV kb_i64(KB *kb, int64_t x) {
  return KB_IS_C(kb) ? kbc_i64(kb, x) : kbl_i64(kb, x);
}
KV kb_i32(KB *kb, int32_t x) {
  return KB_IS_C(kb) ? kbc_i32(kb, x) : kbl_i32(kb, x);
}
KV kb_int(KB *kb, KT t, int64_t x) {
  return KB_IS_C(kb) ? kbc_int(kb, t, x) : kbl_int(kb, t, x);
}
KV kb_f32(KB *kb, float x) {
  return KB_IS_C(kb) ? kbc_f32(kb, x) : kbl_f32(kb, x);
}
KV kb_f64(KB *kb, double x) {
  return KB_IS_C(kb) ? kbc_f64(kb, x) : kbl_f64(kb, x);
}
KV kb_float(KB *kb, KT t, double x) {
  return KB_IS_C(kb) ? kbc_float(kb, t, x) : kbl_float(kb, t, x);
}
KV kb_true(KB *kb) {
  return KB_IS_C(kb) ? kbc_true(kb) : kbl_true(kb);
}
KV kb_false(KB *kb) {
  return KB_IS_C(kb) ? kbc_false(kb) : kbl_false(kb);
}
KV kb_iota(KB *kb, KT t) {
  return KB_IS_C(kb) ? kbc_iota(kb, t) : kbl_iota(kb, t);
}
KV kb_null(KB *kb) {
  return KB_IS_C(kb) ? kbc_null(kb) : kbl_null(kb);
}
KV kb_buf(KB *kb, int i) {
  return KB_IS_C(kb) ? kbc_buf(kb, i) : kbl_buf(kb, i);
}
KV kb_weights(KB *kb) {
  return KB_IS_C(kb) ? kbc_weights(kb) : kbl_weights(kb);
}
KV kb_scratch(KB *kb) {
  return KB_IS_C(kb) ? kbc_scratch(kb) : kbl_scratch(kb);
}
KV kb_begin(KB *kb) {
  return KB_IS_C(kb) ? kbc_begin(kb) : kbl_begin(kb);
}
KV kb_end(KB *kb) {
  return KB_IS_C(kb) ? kbc_end(kb) : kbl_end(kb);
}
KV kb_weight(KB *kb, const void *data, size_t bytes) {
  return KB_IS_C(kb) ? kbc_weight(kb, data, bytes) : kbl_weight(kb, data, bytes);
}
KV kb_gep(KB *kb, KElem e, KV ptr, KV idx) {
  return KB_IS_C(kb) ? kbc_gep(kb, e, ptr, idx) : kbl_gep(kb, e, ptr, idx);
}
KV kb_gep_bytes(KB *kb, KV ptr, KV byte_offset) {
  return KB_IS_C(kb) ? kbc_gep_bytes(kb, ptr, byte_offset) : kbl_gep_bytes(kb, ptr, byte_offset);
}
KV kb_load(KB *kb, KT t, KV ptr) {
  return KB_IS_C(kb) ? kbc_load(kb, t, ptr) : kbl_load(kb, t, ptr);
}
void kb_store(KB *kb, KV val, KV ptr) {
  if (KB_IS_C(kb)) kbc_store(kb, val, ptr);
  else kbl_store(kb, val, ptr);
}
KV kb_load_masked(KB *kb, KT t, KV ptr, KV mask, KV passthru) {
  return KB_IS_C(kb) ? kbc_load_masked(kb, t, ptr, mask, passthru) : kbl_load_masked(kb, t, ptr, mask, passthru);
}
void kb_store_masked(KB *kb, KV val, KV ptr, KV mask) {
  if (KB_IS_C(kb)) kbc_store_masked(kb, val, ptr, mask);
  else kbl_store_masked(kb, val, ptr, mask);
}
KV kb_gather(KB *kb, KT t, KV base, KV idx_vec, KV mask) {
  return KB_IS_C(kb) ? kbc_gather(kb, t, base, idx_vec, mask) : kbl_gather(kb, t, base, idx_vec, mask);
}
void kb_scatter(KB *kb, KV val, KV base, KV idx_vec, KV mask) {
  if (KB_IS_C(kb)) kbc_scatter(kb, val, base, idx_vec, mask);
  else kbl_scatter(kb, val, base, idx_vec, mask);
}
KV kb_load_bool(KB *kb, int lanes, KV ptr, KV mask) {
  return KB_IS_C(kb) ? kbc_load_bool(kb, lanes, ptr, mask) : kbl_load_bool(kb, lanes, ptr, mask);
}
void kb_store_bool(KB *kb, KV val, KV ptr, KV mask) {
  if (KB_IS_C(kb)) kbc_store_bool(kb, val, ptr, mask);
  else kbl_store_bool(kb, val, ptr, mask);
}
void kb_memcpy(KB *kb, KV dst, KV src, KV bytes) {
  if (KB_IS_C(kb)) kbc_memcpy(kb, dst, src, bytes);
  else kbl_memcpy(kb, dst, src, bytes);
}
void kb_memset(KB *kb, KV dst, int byte, KV bytes) {
  if (KB_IS_C(kb)) kbc_memset(kb, dst, byte, bytes);
  else kbl_memset(kb, dst, byte, bytes);
}
void kb_prefetch(KB *kb, KV ptr) {
  if (KB_IS_C(kb)) kbc_prefetch(kb, ptr);
  else kbl_prefetch(kb, ptr);
}
KV kb_tail_mask(KB *kb, int lanes, KV remaining) {
  return KB_IS_C(kb) ? kbc_tail_mask(kb, lanes, remaining) : kbl_tail_mask(kb, lanes, remaining);
}
KV kb_add(KB *kb, KV a, KV b) {
  return KB_IS_C(kb) ? kbc_add(kb, a, b) : kbl_add(kb, a, b);
}
KV kb_sub(KB *kb, KV a, KV b) {
  return KB_IS_C(kb) ? kbc_sub(kb, a, b) : kbl_sub(kb, a, b);
}
KV kb_mul(KB *kb, KV a, KV b) {
  return KB_IS_C(kb) ? kbc_mul(kb, a, b) : kbl_mul(kb, a, b);
}
KV kb_div(KB *kb, KV a, KV b, bool uns) {
  return KB_IS_C(kb) ? kbc_div(kb, a, b, uns) : kbl_div(kb, a, b, uns);
}
KV kb_rem(KB *kb, KV a, KV b, bool uns) {
  return KB_IS_C(kb) ? kbc_rem(kb, a, b, uns) : kbl_rem(kb, a, b, uns);
}
KV kb_neg(KB *kb, KV a) {
  return KB_IS_C(kb) ? kbc_neg(kb, a) : kbl_neg(kb, a);
}
KV kb_fma(KB *kb, KV a, KV b, KV c) {
  return KB_IS_C(kb) ? kbc_fma(kb, a, b, c) : kbl_fma(kb, a, b, c);
}
KV kb_min(KB *kb, KV a, KV b, bool uns) {
  return KB_IS_C(kb) ? kbc_min(kb, a, b, uns) : kbl_min(kb, a, b, uns);
}
KV kb_max(KB *kb, KV a, KV b, bool uns) {
  return KB_IS_C(kb) ? kbc_max(kb, a, b, uns) : kbl_max(kb, a, b, uns);
}
KV kb_fmin_nan(KB *kb, KV a, KV b) {
  return KB_IS_C(kb) ? kbc_fmin_nan(kb, a, b) : kbl_fmin_nan(kb, a, b);
}
KV kb_fmax_nan(KB *kb, KV a, KV b) {
  return KB_IS_C(kb) ? kbc_fmax_nan(kb, a, b) : kbl_fmax_nan(kb, a, b);
}
KV kb_abs(KB *kb, KV a) {
  return KB_IS_C(kb) ? kbc_abs(kb, a) : kbl_abs(kb, a);
}
KV kb_sqrt(KB *kb, KV a) {
  return KB_IS_C(kb) ? kbc_sqrt(kb, a) : kbl_sqrt(kb, a);
}
KV kb_floor(KB *kb, KV a) {
  return KB_IS_C(kb) ? kbc_floor(kb, a) : kbl_floor(kb, a);
}
KV kb_ceil(KB *kb, KV a) {
  return KB_IS_C(kb) ? kbc_ceil(kb, a) : kbl_ceil(kb, a);
}
KV kb_round_even(KB *kb, KV a) {
  return KB_IS_C(kb) ? kbc_round_even(kb, a) : kbl_round_even(kb, a);
}
KV kb_trunc(KB *kb, KV a) {
  return KB_IS_C(kb) ? kbc_trunc(kb, a) : kbl_trunc(kb, a);
}
KV kb_copysign(KB *kb, KV mag, KV sign) {
  return KB_IS_C(kb) ? kbc_copysign(kb, mag, sign) : kbl_copysign(kb, mag, sign);
}
KV kb_and(KB *kb, KV a, KV b) {
  return KB_IS_C(kb) ? kbc_and(kb, a, b) : kbl_and(kb, a, b);
}
KV kb_or(KB *kb, KV a, KV b) {
  return KB_IS_C(kb) ? kbc_or(kb, a, b) : kbl_or(kb, a, b);
}
KV kb_xor(KB *kb, KV a, KV b) {
  return KB_IS_C(kb) ? kbc_xor(kb, a, b) : kbl_xor(kb, a, b);
}
KV kb_not(KB *kb, KV a) {
  return KB_IS_C(kb) ? kbc_not(kb, a) : kbl_not(kb, a);
}
KV kb_shl(KB *kb, KV a, KV b) {
  return KB_IS_C(kb) ? kbc_shl(kb, a, b) : kbl_shl(kb, a, b);
}
KV kb_shr(KB *kb, KV a, KV b, bool uns) {
  return KB_IS_C(kb) ? kbc_shr(kb, a, b, uns) : kbl_shr(kb, a, b, uns);
}
KV kb_cmp(KB *kb, KCmp c, KV a, KV b, bool uns) {
  return KB_IS_C(kb) ? kbc_cmp(kb, c, a, b, uns) : kbl_cmp(kb, c, a, b, uns);
}
KV kb_select(KB *kb, KV cond, KV a, KV b) {
  return KB_IS_C(kb) ? kbc_select(kb, cond, a, b) : kbl_select(kb, cond, a, b);
}
KV kb_cast(KB *kb, KV v, KT to, bool src_uns, bool dst_uns) {
  return KB_IS_C(kb) ? kbc_cast(kb, v, to, src_uns, dst_uns) : kbl_cast(kb, v, to, src_uns, dst_uns);
}
KV kb_bitcast(KB *kb, KV v, KT to) {
  return KB_IS_C(kb) ? kbc_bitcast(kb, v, to) : kbl_bitcast(kb, v, to);
}
KV kb_splat(KB *kb, KV scalar, int lanes) {
  return KB_IS_C(kb) ? kbc_splat(kb, scalar, lanes) : kbl_splat(kb, scalar, lanes);
}
KV kb_extract(KB *kb, KV vec, int lane) {
  return KB_IS_C(kb) ? kbc_extract(kb, vec, lane) : kbl_extract(kb, vec, lane);
}
KV kb_insert(KB *kb, KV vec, KV scalar, int lane) {
  return KB_IS_C(kb) ? kbc_insert(kb, vec, scalar, lane) : kbl_insert(kb, vec, scalar, lane);
}
KV kb_shuffle(KB *kb, KV a, KV b, const int *lanes, int n) {
  return KB_IS_C(kb) ? kbc_shuffle(kb, a, b, lanes, n) : kbl_shuffle(kb, a, b, lanes, n);
}
KV kb_reduce_add(KB *kb, KV v) {
  return KB_IS_C(kb) ? kbc_reduce_add(kb, v) : kbl_reduce_add(kb, v);
}
KV kb_reduce_mul(KB *kb, KV v) {
  return KB_IS_C(kb) ? kbc_reduce_mul(kb, v) : kbl_reduce_mul(kb, v);
}
KV kb_reduce_min(KB *kb, KV v, bool uns) {
  return KB_IS_C(kb) ? kbc_reduce_min(kb, v, uns) : kbl_reduce_min(kb, v, uns);
}
KV kb_reduce_max(KB *kb, KV v, bool uns) {
  return KB_IS_C(kb) ? kbc_reduce_max(kb, v, uns) : kbl_reduce_max(kb, v, uns);
}
KV kb_reduce_or(KB *kb, KV v) {
  return KB_IS_C(kb) ? kbc_reduce_or(kb, v) : kbl_reduce_or(kb, v);
}
KVar kb_var(KB *kb, KT t, KV init) {
  return KB_IS_C(kb) ? kbc_var(kb, t, init) : kbl_var(kb, t, init);
}
KV kb_get(KB *kb, KVar v) {
  return KB_IS_C(kb) ? kbc_get(kb, v) : kbl_get(kb, v);
}
void kb_set(KB *kb, KVar v, KV val) {
  if (KB_IS_C(kb)) kbc_set(kb, v, val);
  else kbl_set(kb, v, val);
}
KV kb_for(KB *kb, KV lo, KV hi, int64_t step) {
  return KB_IS_C(kb) ? kbc_for(kb, lo, hi, step) : kbl_for(kb, lo, hi, step);
}
void kb_endfor(KB *kb) {
  if (KB_IS_C(kb)) kbc_endfor(kb);
  else kbl_endfor(kb);
}
void kb_if(KB *kb, KV cond) {
  if (KB_IS_C(kb)) kbc_if(kb, cond);
  else kbl_if(kb, cond);
}
void kb_else(KB *kb) {
  if (KB_IS_C(kb)) kbc_else(kb);
  else kbl_else(kb);
}
void kb_endif(KB *kb) {
  if (KB_IS_C(kb)) kbc_endif(kb);
  else kbl_endif(kb);
}
void kb_return_status(KB *kb, KV status_i32) {
  if (KB_IS_C(kb)) kbc_return_status(kb, status_i32);
  else kbl_return_status(kb, status_i32);
}
KV kb_call_rt(KB *kb, const char *name, KT ret, int nargs, KV *args) {
  return KB_IS_C(kb) ? kbc_call_rt(kb, name, ret, nargs, args) : kbl_call_rt(kb, name, ret, nargs, args);
}
KV kb_dot4_u8s8(KB *kb, KV acc, KV a, KV b) {
  return KB_IS_C(kb) ? kb_dot4_u8s8_generic(kb, acc, a, b) : kbl_dot4_u8s8(kb, acc, a, b);
}

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
