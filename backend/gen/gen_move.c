/* gen_move.c — code generation for the F_MOVE family (data movement), ONNX opsets up to 18.
 *
 * Most ops here are one "map copy": out[o_0..o_{r-1}] = src[base + Σ_d T_d(o_d)], where each
 * output axis d contributes either an affine offset o·s_d or a per-axis table T_d (built at compile
 * time; an entry MV_FILL means "this output element is the fill value").  Reshape-likes, Transpose,
 * Concat, Split, Slice (negative steps too), Expand, Tile, Pad (all modes, negative pads),
 * DepthToSpace/SpaceToDepth and Resize-nearest all reduce to it.  The engine (mv_*) simplifies the
 * axes (drops size-1 axes, folds affine tables, merges contiguous axes, fuses short inner axes into
 * one table axis), splits the inner axis into segments (contiguous run → vector loads or memcpy;
 * strided → gathers; fill → splat stores; irregular → table-driven gathers) and emits one loop over
 * rows (outer axes) × chunks of the inner axis, which is the kernel's parallel range.  One kernel may
 * hold several jobs (Concat: one per input, Split: one per output) sharing that range.
 *
 * Element data are treated as raw integers of their size (float32 → i32, bool → i8).
 * Index-driven ops (Gather*, Scatter*) check every index and return ONNXC_ERR_INDEX (3) instead of
 * touching memory out of bounds.  Resize linear/cubic has its own generator (per-axis tap tables).
 *
 * The family's files, by what they move:
 *   gen_move.c         the ops of the engine (reshape-likes, Transpose, Concat, Split, Slice, Expand,
 *                      Tile, Pad, DepthToSpace/SpaceToDepth), and gen_move's op switch
 *   gen_move_engine.c  the map-copy engine (mv_*) and helpers, shared through gen_move.h
 *   gen_move_index.c   Gather, GatherElements, GatherND, ScatterND, ScatterElements, Trilu
 *   gen_move_resize.c  Resize */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_move.h"

/* ================================================================================================
 * the ops built on the engine
 * ============================================================================================== */
/* mv_emit, except when the input and output are one buffer: planning gives a view (ir_view_roots:
 * a Reshape, or a Transpose of size-1 axes, between arena values) its input's buffer.  The test is
 * at run time, as a kernel is shared by nodes of the same key whatever their offsets. */
static void mv_emit_view(GenCtx *c, MvJob *j, size_t es) {
  Node *n = c->n;
  bool arena = n->in[0]->storage == ST_ARENA && n->out[0]->storage == ST_ARENA;
  if (arena) kb_if(c->kb, kb_cmp(c->kb, KC_NE, kb_buf(c->kb, 0), kb_buf(c->kb, n->nin), false));
  mv_emit(c, j, 1, es);
  if (arena) kb_endif(c->kb);
}

static int gen_copy(GenCtx *c) { /* Reshape, Flatten, Squeeze, Unsqueeze (and Identity-like) */
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  MvJob j;
  mv_init(&j, 0, n->nin);
  int64_t numel = ir_value_numel(y);
  if (numel != ir_value_numel(x)) return ir_node_error(c->g, n, "input and output sizes differ");
  mv_add_axis(&j, numel, 1, 1, NULL);
  for (int i = 1; i < n->nin; i++) mv_mark_unused(c, i);
  mv_emit_view(c, &j, dtype_size(x->dtype));
  return 0;
}

static int gen_transpose(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  const int64_t *perm;
  int cnt = ir_attr_ints(n, "perm", &perm);
  int64_t xs[IR_MAX_RANK], ss[IR_MAX_RANK];
  gen_strides(r, x->dims, xs);
  for (int d = 0; d < r; d++) {
    int64_t p = cnt >= 0 ? perm[d] : r - 1 - d;
    if (p < 0 || p >= r) return ir_node_error(c->g, n, "invalid perm");
    ss[d] = xs[p];
  }
  MvJob j;
  mv_init(&j, 0, n->nin);
  mv_strided(&j, r, y->dims, ss);
  mv_emit_view(c, &j, dtype_size(x->dtype));
  return 0;
}

static int gen_concat(GenCtx *c) {
  Node *n = c->n;
  Value *y = n->out[0];
  int r = y->rank, axis;
  if (ir_normalize_axis(c->g, n, ir_attr_int(n, "axis", 1), r, &axis)) return -1;
  int64_t ys[IR_MAX_RANK];
  gen_strides(r, y->dims, ys);
  MvJob *jobs = ir_xcalloc((size_t)n->nin + 1, sizeof *jobs);
  int nj = 0;
  int64_t off = 0;
  for (int i = 0; i < n->nin; i++) {
    Value *v = n->in[i];
    if (!v) continue;
    MvJob *j = &jobs[nj++];
    mv_init(j, i, n->nin);
    j->dbase = off * ys[axis];
    j->skip_in_place = v->storage == ST_ARENA && y->storage == ST_ARENA;
    int64_t vs[IR_MAX_RANK];
    gen_strides(r, v->dims, vs);
    for (int d = 0; d < r; d++) mv_add_axis(j, v->dims[d], vs[d], ys[d], NULL);
    off += v->dims[axis];
  }
  mv_emit(c, jobs, nj, dtype_size(y->dtype));
  free(jobs);
  return 0;
}

static int gen_split(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0];
  int r = x->rank, axis;
  int64_t *sizes = ir_xcalloc((size_t)n->nout + 1, sizeof(int64_t));
  MvJob *jobs = ir_xcalloc((size_t)n->nout + 1, sizeof *jobs);
  if (ir_split_plan(c->g, n, &axis, sizes)) {
    free(sizes);
    free(jobs);
    return -1;
  }
  mv_mark_unused(c, 1);
  int64_t xs[IR_MAX_RANK], off = 0;
  gen_strides(r, x->dims, xs);
  int nj = 0;
  for (int k = 0; k < n->nout; k++) {
    Value *y = n->out[k];
    if (y) {
      MvJob *j = &jobs[nj++];
      mv_init(j, 0, n->nin + k);
      j->sbase = off * xs[axis];
      int64_t dims[IR_MAX_RANK];
      memcpy(dims, x->dims, sizeof dims);
      dims[axis] = sizes[k];
      mv_strided(j, r, dims, xs);
    }
    off += sizes[k];
  }
  mv_emit(c, jobs, nj, dtype_size(x->dtype));
  free(sizes);
  free(jobs);
  return 0;
}

static int gen_slice(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0];
  int r = x->rank;
  int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], len[IR_MAX_RANK], xs[IR_MAX_RANK], ss[IR_MAX_RANK];
  if (ir_slice_plan(c->g, n, start, step, len)) return -1;
  for (int i = 1; i < n->nin; i++) mv_mark_unused(c, i);
  gen_strides(r, x->dims, xs);
  MvJob j;
  mv_init(&j, 0, n->nin);
  for (int d = 0; d < r; d++) {
    j.sbase += start[d] * xs[d];
    ss[d] = step[d] * xs[d];
  }
  mv_strided(&j, r, len, ss);
  mv_emit(c, &j, 1, dtype_size(x->dtype));
  return 0;
}

static int gen_expand(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int64_t ss[IR_MAX_RANK];
  gen_bcast_strides(x, y->rank, y->dims, ss);
  mv_mark_unused(c, 1);
  MvJob j;
  mv_init(&j, 0, n->nin);
  mv_strided(&j, y->rank, y->dims, ss);
  mv_emit(c, &j, 1, dtype_size(x->dtype));
  return 0;
}

static int gen_tile(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
  gen_strides(r, x->dims, xs);
  gen_strides(r, y->dims, ys);
  mv_mark_unused(c, 1);
  MvJob j;
  mv_init(&j, 0, n->nin);
  for (int d = 0; d < r; d++) {
    int64_t m = x->dims[d], rep = m ? y->dims[d] / m : 0;
    if (m == 0 || y->dims[d] == 0) {
      mv_add_axis(&j, 0, 0, 0, NULL);
      continue;
    }
    mv_add_axis(&j, rep, 0, m * ys[d], NULL);
    mv_add_axis(&j, m, xs[d], ys[d], NULL);
  }
  mv_emit(c, &j, 1, dtype_size(x->dtype));
  return 0;
}

/* source index of output position o along an axis of size dim padded by (before, after) */
static int64_t pad_src(const char *mode, int64_t o, int64_t dim, int64_t before, int64_t after) {
  int64_t cs = before < 0 ? -before : 0;                          /* core start (cropping) */
  int64_t core = dim - cs - (after < 0 ? -after : 0);              /* core extent */
  int64_t jx = o - (before > 0 ? before : 0);                     /* index relative to the core */
  if (jx >= 0 && jx < core) return cs + jx;
  if (!strcmp(mode, "constant") || core <= 0) return -1;
  if (!strcmp(mode, "edge")) jx = jx < 0 ? 0 : core - 1;
  else if (!strcmp(mode, "wrap")) jx = ((jx % core) + core) % core;
  else { /* reflect */
    if (core == 1) jx = 0;
    else {
      int64_t p = 2 * (core - 1);
      jx = ((jx % p) + p) % p;
      if (jx >= core) jx = p - jx;
    }
  }
  return cs + jx;
}

static int gen_pad(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int r = x->rank;
  int64_t before[IR_MAX_RANK], after[IR_MAX_RANK], xs[IR_MAX_RANK], ys[IR_MAX_RANK];
  if (ir_pad_plan(c->g, n, before, after)) return -1;
  mv_mark_unused(c, 1);
  mv_mark_unused(c, 3);
  const char *mode = ir_attr_str(n, "mode", "constant");
  size_t es = dtype_size(x->dtype);
  KElem ke = gen_raw_elem(es);
  KB *kb = c->kb;
  MvJob j;
  mv_init(&j, 0, n->nin);
  if (n->nin > 2 && n->in[2] && ir_value_numel(n->in[2]) > 0)
    j.fill = kb_load(kb, kt_s(ke), kb_buf(kb, 2));
  else
    j.fill = kb_int(kb, kt_s(ke), mv_raw_bits(x->dtype, ir_attr_float(n, "value", 0.0f)));
  gen_strides(r, x->dims, xs);
  gen_strides(r, y->dims, ys);
  for (int d = 0; d < r; d++) {
    if (before[d] == 0 && after[d] == 0) {
      mv_add_axis(&j, y->dims[d], xs[d], ys[d], NULL);
      continue;
    }
    int64_t *t = mv_tab_new(y->dims[d]);
    for (int64_t o = 0; o < y->dims[d]; o++) {
      int64_t s = pad_src(mode, o, x->dims[d], before[d], after[d]);
      t[o] = s < 0 ? MV_FILL : s * xs[d];
    }
    mv_add_axis(&j, y->dims[d], 0, ys[d], t);
  }
  mv_emit(c, &j, 1, es);
  return 0;
}

static int gen_depth_space(GenCtx *c) {
  Node *n = c->n;
  Value *x = n->in[0], *y = n->out[0];
  int64_t b = ir_attr_int(n, "blocksize", 0);
  int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], Wd = x->dims[3];
  MvJob j;
  mv_init(&j, 0, n->nin);
  if (n->op == OP_DepthToSpace) {
    bool crd = !strcmp(ir_attr_str(n, "mode", "DCR"), "CRD");
    int64_t Co = y->dims[1], HW = H * Wd;
    /* output viewed as [N, Co, H, b, W, b] */
    int64_t dims[6] = {N, Co, H, b, Wd, b};
    int64_t ss[6] = {C * HW, crd ? b * b * HW : HW, Wd, crd ? b * HW : b * Co * HW, 1, crd ? HW : Co * HW};
    mv_strided(&j, 6, dims, ss);
  } else {
    int64_t Ho = y->dims[2], Wo = y->dims[3];
    /* output viewed as [N, b, b, C, Ho, Wo] */
    int64_t dims[6] = {N, b, b, C, Ho, Wo};
    int64_t ss[6] = {C * H * Wd, Wd, 1, H * Wd, b * Wd, b};
    mv_strided(&j, 6, dims, ss);
  }
  mv_emit(c, &j, 1, dtype_size(x->dtype));
  return 0;
}

int gen_move(GenCtx *c) {
  Node *n = c->n;
  if (gen_check_movable(c)) return -1;
  switch (n->op) {
  case OP_Reshape:
  case OP_Flatten:
  case OP_Squeeze:
  case OP_Unsqueeze: return gen_copy(c);
  case OP_Transpose: return gen_transpose(c);
  case OP_Concat: return gen_concat(c);
  case OP_Split: return gen_split(c);
  case OP_Slice: return gen_slice(c);
  case OP_Gather: return gen_gather(c);
  case OP_GatherElements: return gen_gather_elements(c);
  case OP_GatherND: return gen_gather_nd(c);
  case OP_Expand: return gen_expand(c);
  case OP_Pad: return gen_pad(c);
  case OP_Tile: return gen_tile(c);
  case OP_DepthToSpace:
  case OP_SpaceToDepth: return gen_depth_space(c);
  case OP_Trilu: return gen_trilu(c);
  case OP_ScatterElements: return gen_scatter_elements(c);
  case OP_ScatterND: return gen_scatter_nd(c);
  case OP_Resize: return gen_resize(c);
  default: return ir_node_error(c->g, n, "not a data-movement op");
  }
}
