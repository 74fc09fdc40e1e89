/* gen_util.c — loop-nest helpers shared by the kernel generators. */
#include <string.h>

#include "gen_util.h"

void gen_strides(int rank, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i];
  }
}

void gen_bcast_strides(const Value *in, int rank, const int64_t *out_dims, int64_t *strides) {
  int64_t own[IR_MAX_RANK];
  gen_strides(in->rank, in->dims, own);
  for (int d = 0; d < rank; d++) {
    int k = d - (rank - in->rank);
    strides[d] = (k < 0 || in->dims[k] == 1 || out_dims[d] == 1) ? 0 : own[k];
  }
}

KElem gen_compute_elem(DType t) {
  if (t == DT_BOOL) return KE_I1;
  if (t == DT_FLOAT16 || t == DT_BFLOAT16) return KE_F32;
  return kb_elem_of(t);
}

KV gen_load_vec(KB *kb, DType t, KV base, KV idx, int lanes, KV mask) {
  KElem e = kb_elem_of(t);
  KV p = kb_gep(kb, e, base, idx);
  if (t == DT_BOOL) return kb_load_bool(kb, lanes, p, mask);
  KV v = mask ? kb_load_masked(kb, kt(e, lanes), p, mask, NULL) : kb_load(kb, kt(e, lanes), p);
  if (t == DT_FLOAT16 || t == DT_BFLOAT16) v = kb_cast(kb, v, kt(KE_F32, lanes), false, false);
  return v;
}

void gen_store_vec(KB *kb, DType t, KV base, KV idx, KV val, KV mask) {
  KElem e = kb_elem_of(t);
  KV p = kb_gep(kb, e, base, idx);
  if (t == DT_BOOL) {
    kb_store_bool(kb, val, p, mask);
    return;
  }
  int lanes = kb_type(kb, val).lanes;
  if (t == DT_FLOAT16 || t == DT_BFLOAT16) val = kb_cast(kb, val, kt(e, lanes), false, false);
  if (mask) kb_store_masked(kb, val, p, mask);
  else kb_store(kb, val, p);
}

int gen_lanes_for(GenCtx *c, size_t max_elem_bytes) {
  int vb = c->target->vector_bytes;
  int l = (int)(vb / (int)(max_elem_bytes ? max_elem_bytes : 1));
  return l < 1 ? 1 : l;
}

/* load one operand's vector for inner positions j..j+lanes (stride class decides how) */
static KV load_operand(KB *kb, const EwOperand *o, KV off, KV j, int64_t s, int lanes, KV mask, KV hoisted) {
  if (s == 0) return hoisted;
  if (s == 1) return gen_load_vec(kb, o->dtype, o->base, kb_add(kb, off, j), lanes, mask);
  /* strided: gather */
  KElem e = kb_elem_of(o->dtype);
  KV idx = kb_add(kb, kb_splat(kb, kb_add(kb, off, kb_mul(kb, j, kb_i64(kb, s))), lanes),
                  kb_mul(kb, kb_iota(kb, kt(KE_I64, lanes)), kb_int(kb, kt(KE_I64, lanes), s)));
  KV v = kb_gather(kb, kt(e, lanes), o->base, idx, mask);
  if (o->dtype == DT_BOOL) return kb_cmp(kb, KC_NE, v, kb_int(kb, kt(KE_I8, lanes), 0), false);
  if (o->dtype == DT_FLOAT16 || o->dtype == DT_BFLOAT16) v = kb_cast(kb, v, kt(KE_F32, lanes), false, false);
  return v;
}

/* one vector (or masked tail) of an elementwise nest */
typedef struct EwBody {
  const EwOperand *ops;
  int nops;
  KV *off, *hoisted;
  int64_t (*st)[IR_MAX_RANK];
  int r, W;
  EwFn fn;
  void *ud;
  KV out;
  DType out_dtype;
  KV ooff;
} EwBody;

static void ew_body(KB *kb, void *ud, KV j, KV mask) {
  EwBody *b = ud;
  KV vals[EW_MAX_OPS];
  for (int k = 0; k < b->nops; k++)
    vals[k] = load_operand(kb, &b->ops[k], b->off[k], j, b->st[k][b->r - 1], b->W, mask, b->hoisted[k]);
  gen_store_vec(kb, b->out_dtype, b->out, kb_add(kb, b->ooff, j), b->fn(kb, vals, b->W, b->ud), mask);
}

void gen_eltwise(GenCtx *c, int nops, const EwOperand *ops_in, KV out, DType out_dtype, int rank,
                 const int64_t *dims_in, EwFn fn, void *ud) {
  KB *kb = c->kb;
  /* merge dims that are contiguous for every operand and drop size-1 dims */
  int64_t dims[IR_MAX_RANK], st[EW_MAX_OPS][IR_MAX_RANK];
  int r = 0;
  for (int d = 0; d < rank; d++) {
    if (dims_in[d] == 1) continue;
    if (r > 0) {
      bool merge = true;
      for (int k = 0; k < nops && merge; k++)
        merge = ops_in[k].strides[d] * dims_in[d] == st[k][r - 1];
      if (merge) {
        dims[r - 1] *= dims_in[d];
        for (int k = 0; k < nops; k++) st[k][r - 1] = ops_in[k].strides[d];
        continue;
      }
    }
    dims[r] = dims_in[d];
    for (int k = 0; k < nops; k++) st[k][r] = ops_in[k].strides[d];
    r++;
  }
  if (r == 0) {
    dims[0] = 1;
    for (int k = 0; k < nops; k++) st[k][0] = 0;
    r = 1;
  }
  int64_t inner = dims[r - 1], outer = 1;
  for (int d = 0; d < r - 1; d++) outer *= dims[d];
  if (inner == 0 || outer == 0) return; /* an empty tensor: nothing to write (and no chunk to divide by) */

  size_t maxb = dtype_size(out_dtype);
  for (int k = 0; k < nops; k++)
    if (dtype_size(ops_in[k].dtype) > maxb) maxb = dtype_size(ops_in[k].dtype);
  if (gen_compute_elem(out_dtype) == KE_F32 && maxb < 4) maxb = 4;
  int W = gen_lanes_for(c, maxb);
  if (W > 64) W = 64;
  /* chunk the inner dim so there is parallel work even for one long row */
  int64_t chunk = inner;
  const int64_t min_chunk = 4096;
  if (outer < 8 && inner > 2 * min_chunk) {
    chunk = ((inner / 8 + W - 1) / W) * W;
    if (chunk < min_chunk) chunk = min_chunk;
  }
  int64_t nchunks = (inner + chunk - 1) / chunk;
  int64_t total = outer * nchunks;
  c->work = total * inner >= 16384 ? total : 1;

  KV it = kb_for(kb, c->work > 1 ? kb_begin(kb) : kb_i64(kb, 0), c->work > 1 ? kb_end(kb) : kb_i64(kb, total), 1);
  KV o = kb_div(kb, it, kb_i64(kb, nchunks), true);
  KV ch = kb_rem(kb, it, kb_i64(kb, nchunks), true);
  KV j0 = kb_mul(kb, ch, kb_i64(kb, chunk));
  KV j1 = kb_min(kb, kb_add(kb, j0, kb_i64(kb, chunk)), kb_i64(kb, inner), false);
  /* operand offsets of this outer index */
  KV off[EW_MAX_OPS], hoisted[EW_MAX_OPS];
  for (int k = 0; k < nops; k++) off[k] = kb_i64(kb, 0);
  KV rem = o;
  for (int d = r - 2; d >= 0; d--) {
    KV idx = d > 0 ? kb_rem(kb, rem, kb_i64(kb, dims[d]), true) : rem;
    if (d > 0) rem = kb_div(kb, rem, kb_i64(kb, dims[d]), true);
    for (int k = 0; k < nops; k++)
      if (st[k][d]) off[k] = kb_add(kb, off[k], kb_mul(kb, idx, kb_i64(kb, st[k][d])));
  }
  KV ooff = kb_mul(kb, o, kb_i64(kb, inner));
  for (int k = 0; k < nops; k++) {
    hoisted[k] = NULL;
    if (st[k][r - 1] == 0) {
      KV s = gen_load_vec(kb, ops_in[k].dtype, ops_in[k].base, off[k], 1, NULL);
      hoisted[k] = kb_splat(kb, s, W);
    }
  }
  EwBody body = {ops_in, nops, off, hoisted, st, r, W, fn, ud, out, out_dtype, ooff};
  gen_vec_loop(kb, j0, j1, W, ew_body, &body);
  kb_endfor(kb);
}

void gen_eltwise_node(GenCtx *c, int nops, const int *in_idx, EwFn fn, void *ud) {
  Node *n = c->n;
  Value *out = n->out[0];
  EwOperand ops[EW_MAX_OPS];
  for (int k = 0; k < nops; k++) {
    Value *v = n->in[in_idx[k]];
    ops[k].base = kb_buf(c->kb, in_idx[k]);
    ops[k].dtype = v->dtype;
    gen_bcast_strides(v, out->rank, out->dims, ops[k].strides);
  }
  gen_eltwise(c, nops, ops, kb_buf(c->kb, n->nin), out->dtype, out->rank, out->dims, fn, ud);
}

void gen_vec_loop(KB *kb, KV lo, KV hi, int W, GenVecBody body, void *ud) {
  if (W <= 1) {
    KV j = kb_for(kb, lo, hi, 1);
    body(kb, ud, j, NULL);
    kb_endfor(kb);
    return;
  }
  KVar jv = kb_var(kb, kt_s(KE_I64), lo);
  KV j = kb_for(kb, lo, kb_sub(kb, hi, kb_i64(kb, W - 1)), W);
  body(kb, ud, j, NULL);
  kb_set(kb, jv, kb_add(kb, j, kb_i64(kb, W)));
  kb_endfor(kb);
  KV jt = kb_get(kb, jv);
  kb_if(kb, kb_cmp(kb, KC_LT, jt, hi, false));
  body(kb, ud, jt, kb_tail_mask(kb, W, kb_sub(kb, hi, jt)));
  kb_endif(kb);
}

KV gen_vload(KB *kb, KT t, KV p, KV mask) {
  return mask ? kb_load_masked(kb, t, p, mask, NULL) : kb_load(kb, t, p);
}

void gen_vstore(KB *kb, KV v, KV p, KV mask) {
  if (mask) kb_store_masked(kb, v, p, mask);
  else kb_store(kb, v, p);
}

KElem gen_raw_elem(size_t es) {
  switch (es) {
  case 1: return KE_I8;
  case 2: return KE_I16;
  case 4: return KE_I32;
  default: return KE_I64;
  }
}

int gen_lanes_cap(GenCtx *c, size_t es, int cap) {
  int w = gen_lanes_for(c, es);
  return w > cap ? cap : w;
}
