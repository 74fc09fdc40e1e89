/* gen_gen.c — code generation for the F_GEN family: ops that create tensors.  Most are folded at
 * compile time (shape inference evaluates them when their inputs are constant); what reaches the
 * backend is generated here: Constant / Shape / Size (the known values copied from the weight
 * blob), ConstantOfShape (a fill), Range (start/delta read at run time; the length is static),
 * EyeLike, OneHot (runtime indices and values; depth constant). */
#include <stdlib.h>
#include <string.h>

#include "gen_util.h"

#define GG_PAR_BYTES (1 << 16)
#define GG_CHUNK 16384 /* elements per parallel unit of a flat fill */



static KV i64c(KB *kb, int64_t x) { return kb_i64(kb, x); }



/* parallel loop over [0, units) (or the kernel's [begin, end) when worth it) */
static KV par_for(GenCtx *c, int64_t units, int64_t bytes) {
  KB *kb = c->kb;
  bool par = bytes >= GG_PAR_BYTES && units > 1;
  c->work = par ? units : 1;
  return kb_for(kb, par ? kb_begin(kb) : i64c(kb, 0), par ? kb_end(kb) : i64c(kb, units), 1);
}

/* the raw bits of element i of constant v (at most 8 bytes) */
static int64_t elem_bits(const Value *v, int64_t i) {
  size_t es = dtype_size(v->dtype);
  int64_t b = 0;
  memcpy(&b, (const char *)v->data + (size_t)i * es, es);
  return b;
}

static int64_t bits_of(DType t, double x) {
  unsigned char b[8] = {0};
  ir_store_f64(t, b, 0, x);
  int64_t v = 0;
  memcpy(&v, b, dtype_size(t));
  return v;
}

/* ---- copy of compile-time bytes into the output ---- */
static int write_bytes(GenCtx *c, const void *data, size_t bytes) {
  KB *kb = c->kb;
  if (!bytes) return 0;
  KV src = kb_weight(kb, data, bytes);
  int64_t chunks = (int64_t)((bytes + (1 << 20) - 1) >> 20);
  if (bytes >= (1 << 21)) { /* big constants: 1 MiB pieces in parallel */
    KV it = par_for(c, chunks, (int64_t)bytes);
    KV off = kb_mul(kb, it, i64c(kb, 1 << 20));
    KV len = kb_min(kb, i64c(kb, 1 << 20), kb_sub(kb, i64c(kb, (int64_t)bytes), off), false);
    kb_memcpy(kb, kb_gep_bytes(kb, kb_buf(kb, c->n->nin), off), kb_gep_bytes(kb, src, off), len);
    kb_endfor(kb);
  } else
    kb_memcpy(kb, kb_buf(kb, c->n->nin), src, i64c(kb, (int64_t)bytes));
  return 0;
}

static int gen_constant(GenCtx *c) {
  Node *n = c->n;
  Value *y = n->out[0];
  int64_t m = ir_value_numel(y);
  size_t es = dtype_size(y->dtype);
  for (int i = 0; i < n->nattr; i++) {
    const Attr *a = &n->attrs[i];
    if (!strcmp(a->name, "value") && a->type == AT_TENSOR && a->t && a->t->data)
      return write_bytes(c, a->t->data, (size_t)m * es);
    if (!strcmp(a->name, "value_float")) return write_bytes(c, &a->f, 4);
    if (!strcmp(a->name, "value_int")) return write_bytes(c, &a->i, 8);
    if (!strcmp(a->name, "value_floats")) return write_bytes(c, a->floats, sizeof(float) * (size_t)a->n);
    if (!strcmp(a->name, "value_ints")) return write_bytes(c, a->ints, sizeof(int64_t) * (size_t)a->n);
  }
  return ir_node_error(c->g, n, "has no supported value attribute");
}

static int gen_shape(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  c->const_unused |= x->kind == VK_CONST ? 1u : 0u; /* only its shape is used */
  if (n->op == OP_Size) {
    int64_t v = ir_value_numel(x);
    return write_bytes(c, &v, 8);
  }
  int64_t r = x->rank, s = ir_attr_int(n, "start", 0), len = ir_value_numel(y), vals[IR_MAX_RANK];
  if (s < 0) s += r;
  if (s < 0) s = 0;
  for (int64_t i = 0; i < len && s + i < r; i++) vals[i] = x->dims[s + i];
  return write_bytes(c, vals, sizeof(int64_t) * (size_t)len);
}

/* ---- flat fill ---- */
typedef struct FillCtx {
  KElem ke;
  int W;
  KV dst, val; /* val: W-lane splat */
} FillCtx;

static void fill_body(KB *kb, void *ud, KV j, KV mask) {
  FillCtx *f = ud;
  gen_vstore(kb, f->val, kb_gep(kb, f->ke, f->dst, j), mask);
}

static void flat_fill(GenCtx *c, KV dst, size_t es, int64_t count, int64_t bits) {
  KB *kb = c->kb;
  if (count <= 0) return;
  KElem ke = gen_raw_elem(es);
  FillCtx f = {ke, gen_lanes_cap(c, es, 64), dst, NULL};
  f.val = kb_int(kb, kt(ke, f.W), bits);
  int64_t units = (count + GG_CHUNK - 1) / GG_CHUNK;
  KV it = par_for(c, units, count * (int64_t)es);
  KV lo = kb_mul(kb, it, i64c(kb, GG_CHUNK));
  KV hi = kb_min(kb, kb_add(kb, lo, i64c(kb, GG_CHUNK)), i64c(kb, count), false);
  gen_vec_loop(kb, lo, hi, f.W, fill_body, &f);
  kb_endfor(kb);
}

static int gen_constant_of_shape(GenCtx *c) {
  Node *n = c->n;
  Value *y = n->out[0];
  const Attr *a = ir_attr(n, "value");
  int64_t bits = 0;
  if (a && a->type == AT_TENSOR && a->t && a->t->data) {
    if (a->t->dtype != y->dtype) return ir_node_error(c->g, n, "value type differs from the output type");
    bits = elem_bits(a->t, 0);
  }
  if (n->in[0]->kind == VK_CONST) c->const_unused |= 1u;
  flat_fill(c, kb_buf(c->kb, n->nin), dtype_size(y->dtype), ir_value_numel(y), bits);
  return 0;
}

/* ---- Range ---- */
typedef struct RangeCtx {
  KElem e;
  int W;
  KV out, start, delta; /* start/delta: W-lane splats */
} RangeCtx;

static void range_body(KB *kb, void *ud, KV j, KV mask) {
  RangeCtx *r = ud;
  KT t = kt(r->e, r->W);
  KV i = kb_add(kb, kb_splat(kb, j, r->W), kb_iota(kb, kt(KE_I64, r->W)));
  KV fi = kb_cast(kb, i, t, false, false);
  KV v = kb_is_float(r->e) ? kb_fma(kb, fi, r->delta, r->start) : kb_add(kb, r->start, kb_mul(kb, fi, r->delta));
  gen_vstore(kb, v, kb_gep(kb, r->e, r->out, j), mask);
}

static int gen_range(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *y = n->out[0];
  int64_t m = ir_value_numel(y);
  KElem e = kb_elem_of(y->dtype);
  if (e == KE_F16 || e == KE_BF16 || y->dtype == DT_BOOL)
    return ir_node_error(c->g, n, "Range of %s is not supported", dtype_name(y->dtype));
  if (n->in[1]->kind == VK_CONST) c->const_unused |= 2u; /* limit only decides the length */
  if (m <= 0) return 0;
  size_t es = kb_elem_size(e);
  RangeCtx r = {e, gen_lanes_cap(c, es, 16), kb_buf(kb, n->nin), NULL, NULL};
  KV s = kb_load(kb, kt_s(e), kb_buf(kb, 0)), d = kb_load(kb, kt_s(e), kb_buf(kb, 2));
  r.start = kb_splat(kb, s, r.W);
  r.delta = kb_splat(kb, d, r.W);
  int64_t units = (m + GG_CHUNK - 1) / GG_CHUNK;
  KV it = par_for(c, units, m * (int64_t)es);
  KV lo = kb_mul(kb, it, i64c(kb, GG_CHUNK));
  KV hi = kb_min(kb, kb_add(kb, lo, i64c(kb, GG_CHUNK)), i64c(kb, m), false);
  gen_vec_loop(kb, lo, hi, r.W, range_body, &r);
  kb_endfor(kb);
  return 0;
}

/* ---- EyeLike and OneHot: rows of select(position == target, on, off) ---- */
typedef struct HotCtx {
  KElem ke;
  int W;
  KV out, off;     /* row start (element offset) */
  KV target;       /* i64 scalar: the position in the row that gets `on` */
  KV on, off_v;    /* W-lane splats */
  /* column-mode OneHot: per lane compare indices with a fixed depth value */
  bool cols;
  DType it;
  KV idx, ioff;    /* indices base and offset of this row */
  int64_t depth;
  KV d;            /* i64 depth position of this row */
} HotCtx;

static bool uns_t(DType t) { return t == DT_UINT8 || t == DT_UINT16 || t == DT_UINT32 || t == DT_UINT64; }

static KV norm_idx(KB *kb, KV v, int64_t depth, int W) {
  KT t = kt(KE_I64, W);
  return kb_select(kb, kb_cmp(kb, KC_LT, v, kb_int(kb, t, 0), false), kb_add(kb, v, kb_int(kb, t, depth)), v);
}

static void hot_body(KB *kb, void *ud, KV j, KV mask) {
  HotCtx *h = ud;
  int W = h->W;
  KT t = kt(KE_I64, W);
  KV eq;
  if (h->cols) {
    KElem ie = kb_elem_of(h->it);
    KV p = kb_gep(kb, ie, h->idx, kb_add(kb, h->ioff, j));
    KV v = mask ? kb_load_masked(kb, kt(ie, W), p, mask, NULL) : kb_load(kb, kt(ie, W), p);
    v = kb_cast(kb, v, t, uns_t(h->it), false);
    eq = kb_cmp(kb, KC_EQ, norm_idx(kb, v, h->depth, W), kb_splat(kb, h->d, W), false);
  } else
    eq = kb_cmp(kb, KC_EQ, kb_add(kb, kb_splat(kb, j, W), kb_iota(kb, t)), kb_splat(kb, h->target, W), false);
  gen_vstore(kb, kb_select(kb, eq, h->on, h->off_v), kb_gep(kb, h->ke, h->out, kb_add(kb, h->off, j)), mask);
}

static int gen_eye_like(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *y = n->out[0];
  int64_t R = y->dims[0], C = y->dims[1], k = ir_attr_int(n, "k", 0);
  size_t es = dtype_size(y->dtype);
  if (R * C == 0) return 0;
  if (n->in[0]->kind == VK_CONST) c->const_unused |= 1u;
  HotCtx h;
  memset(&h, 0, sizeof h);
  h.ke = gen_raw_elem(es);
  h.W = gen_lanes_cap(c, es, 64);
  while (h.W > 2 && h.W / 2 >= C) h.W /= 2;
  h.on = kb_int(kb, kt(h.ke, h.W), bits_of(y->dtype, 1.0));
  h.off_v = kb_int(kb, kt(h.ke, h.W), 0);
  h.out = kb_buf(kb, n->nin);
  KV i = par_for(c, R, R * C * (int64_t)es);
  h.off = kb_mul(kb, i, i64c(kb, C));
  h.target = kb_add(kb, i, i64c(kb, k));
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, C), h.W, hot_body, &h);
  kb_endfor(kb);
  return 0;
}

static int gen_one_hot(GenCtx *c) {
  Node *n = c->n;
  KB *kb = c->kb;
  Value *ix = n->in[0], *dv = n->in[1], *vals = n->in[2], *y = n->out[0];
  if (dv->kind != VK_CONST || !dv->data) return ir_node_error(c->g, n, "depth must be a constant");
  c->const_unused |= 2u;
  int r = y->rank, axis;
  if (ir_normalize_axis(c->g, n, ir_attr_int(n, "axis", -1), r, &axis)) return -1;
  int64_t depth = y->dims[axis], pre = 1, post = 1;
  for (int d = 0; d < axis; d++) pre *= y->dims[d];
  for (int d = axis + 1; d < r; d++) post *= y->dims[d];
  size_t es = dtype_size(y->dtype);
  if (ir_value_numel(y) == 0) return 0;
  HotCtx h;
  memset(&h, 0, sizeof h);
  h.ke = gen_raw_elem(es);
  h.W = gen_lanes_cap(c, es, 16);
  h.out = kb_buf(kb, n->nin);
  h.depth = depth;
  h.it = ix->dtype;
  h.idx = kb_buf(kb, 0);
  (void)vals;
  KV off = kb_load(kb, kt_s(h.ke), kb_buf(kb, 2));
  KV on = kb_load(kb, kt_s(h.ke), kb_gep(kb, h.ke, kb_buf(kb, 2), i64c(kb, 1)));
  int64_t bytes = ir_value_numel(y) * (int64_t)es;
  if (post == 1) { /* one row of `depth` per index */
    while (h.W > 2 && h.W / 2 >= depth) h.W /= 2;
    h.on = kb_splat(kb, on, h.W);
    h.off_v = kb_splat(kb, off, h.W);
    KV i = par_for(c, pre, bytes);
    KElem ie = kb_elem_of(ix->dtype);
    KV v = kb_load(kb, kt_s(ie), kb_gep(kb, ie, h.idx, i));
    v = kb_cast(kb, v, kt_s(KE_I64), uns_t(ix->dtype), false);
    /* negative → + depth; anything still outside [0, depth) matches no position */
    h.target = kb_select(kb, kb_cmp(kb, KC_LT, v, i64c(kb, 0), false), kb_add(kb, v, i64c(kb, depth)), v);
    h.off = kb_mul(kb, i, i64c(kb, depth));
    gen_vec_loop(kb, i64c(kb, 0), i64c(kb, depth), h.W, hot_body, &h);
    kb_endfor(kb);
    return 0;
  }
  /* rows (p, d) of `post` elements: compare the indices row with d */
  while (h.W > 2 && h.W / 2 >= post) h.W /= 2;
  h.on = kb_splat(kb, on, h.W);
  h.off_v = kb_splat(kb, off, h.W);
  h.cols = true;
  KV it = par_for(c, pre * depth, bytes);
  KV p = kb_div(kb, it, i64c(kb, depth), true);
  h.d = kb_rem(kb, it, i64c(kb, depth), true);
  h.ioff = kb_mul(kb, p, i64c(kb, post));
  h.off = kb_mul(kb, it, i64c(kb, post));
  gen_vec_loop(kb, i64c(kb, 0), i64c(kb, post), h.W, hot_body, &h);
  kb_endfor(kb);
  return 0;
}

int gen_gen(GenCtx *c) {
  Node *n = c->n;
  Value *y = n->out[0];
  if (!y || !ir_value_shape_known(y)) return ir_node_error(c->g, n, "output has no static shape");
  if (dtype_size(y->dtype) == 0) return ir_node_error(c->g, n, "data type %s is not supported", dtype_name(y->dtype));
  switch (n->op) {
  case OP_Constant: return gen_constant(c);
  case OP_ConstantOfShape: return gen_constant_of_shape(c);
  case OP_Shape:
  case OP_Size: return gen_shape(c);
  case OP_Range: return gen_range(c);
  case OP_EyeLike: return gen_eye_like(c);
  case OP_OneHot: return gen_one_hot(c);
  default: return ir_node_error(c->g, n, "not a generator op");
  }
}
