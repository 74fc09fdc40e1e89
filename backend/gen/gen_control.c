/* gen_control.c — code generation for the F_CONTROL family: If, Loop, Scan.
 *
 * Each subgraph is compiled into its own graph function (c->build_subgraph, from the driver):
 *     int32_t fn(onnxc_rt *rt, void *const *io)   io = sub inputs, sub outputs, captured values
 * The control kernel gets the onnxc_rt pointer as its last buffer; it fills io arrays and keeps
 * its other temporaries (loop counter, condition bytes, the second buffer of each loop-carried
 * value, strided scan slices) in its own arena region [arena_top, ...), and the subgraphs' arena
 * values are planned right after that region, so nothing is allocated at run time.
 *
 * Loop-carried values ping-pong between two buffers (the node's output and a temporary): an
 * iteration reads one and writes the other, since a body may write an output before it has read
 * every input.  After the last iteration the value is copied into the output if it ended in the
 * temporary.  A Loop with a constant trip count is run as a loop too (not unrolled): the per-
 * iteration cost is one indirect-free call and a few stores, and code size stays one body. */
#include <string.h>

#include "gen_util.h"

static Graph *sub_attr(const Node *n, const char *name) {
  const Attr *a = ir_attr(n, name);
  return a && a->type == AT_GRAPH ? a->g : NULL;
}

/* ---- the kernel's region, io arrays and subgraph calls ---- */
typedef struct Ctl {
  GenCtx *c;
  KB *kb;
  KV rt, region;
  int64_t used; /* bytes of the region planned so far */
} Ctl;

static int64_t region_alloc(Ctl *s, int64_t bytes) {
  int64_t off = s->used;
  s->used += (bytes + 63) & ~(int64_t)63;
  return off;
}

static KV region_ptr(Ctl *s, int64_t off) { return kb_gep_bytes(s->kb, s->region, kb_i64(s->kb, off)); }

/* Plans are done: the subgraphs go after the region.  Also loads the region pointer. */
static int64_t region_close(Ctl *s) {
  GenCtx *c = s->c;
  KB *kb = s->kb;
  s->rt = kb_buf(kb, c->n->nin + c->n->nout);
  s->region = kb_gep_bytes(kb, kb_load(kb, kt_s(KE_PTR), s->rt), kb_i64(kb, c->arena_top)); /* rt->arena */
  int64_t end = c->arena_top + s->used;
  if (end > c->arena_end) c->arena_end = end;
  return end;
}

static int ncaptures(const Graph *sub) {
  int k = 0;
  for (int i = 0; i < sub->nvalues; i++) k += sub->values[i]->kind == VK_OUTER;
  return k;
}

static int64_t bytes_of(const Value *v) { return ir_value_numel(v) * (int64_t)dtype_size(v->dtype); }

static void io_set(Ctl *s, KV io, int i, KV p) { kb_store(s->kb, p, kb_gep(s->kb, KE_PTR, io, kb_i64(s->kb, i))); }

/* io[first...] = the values sub captures, in value order (module.c's numbering) */
static void io_captures(Ctl *s, KV io, const Graph *sub, int first) {
  const Node *n = s->c->n;
  for (int i = 0, k = 0; i < sub->nvalues; i++) {
    const Value *v = sub->values[i];
    if (v->kind != VK_OUTER) continue;
    KV p = kb_null(s->kb);
    for (int j = 0; j < n->nin; j++)
      if (n->in[j] == v->outer) p = kb_buf(s->kb, j);
    io_set(s, io, first + k++, p);
  }
}

/* a runtime call returning a status; non-zero stops the kernel and is returned */
static void call_checked(Ctl *s, const char *fn, int nargs, KV *args) {
  KB *kb = s->kb;
  KV st = kb_call_rt(kb, fn, kt_s(KE_I32), nargs, args);
  kb_if(kb, kb_cmp(kb, KC_NE, st, kb_i32(kb, 0), false));
  kb_return_status(kb, st);
  kb_endif(kb);
}

/* call fn(rt, io) */
static void call_sub(Ctl *s, const char *fn, KV io) {
  KV args[2] = {s->rt, io};
  call_checked(s, fn, 2, args);
}

/* Every iteration of a Loop or Scan asks the runtime whether the run was cancelled or passed
 * its deadline (runtime/watch.c): a trip count of 2^62 or a body of Identity nodes (which launch
 * no kernel that would check) must still stop. */
static void check_stop(Ctl *s) { call_checked(s, "onnxc_rt_check", 1, &s->rt); }

static KV load_flag(KB *kb, KV p) {
  return kb_cmp(kb, KC_NE, kb_load(kb, kt_s(KE_I8), p), kb_int(kb, kt_s(KE_I8), 0), false);
}

/* ---- If ---- */
typedef struct Branch {
  Graph *g;
  const char *tag, *fn;
  int64_t io;
} Branch;

static void if_call(Ctl *s, const Branch *br, const int64_t *tmp) {
  const Node *n = s->c->n;
  KV io = region_ptr(s, br->io);
  for (int i = 0; i < n->nout; i++)
    io_set(s, io, i, n->out[i] ? kb_buf(s->kb, n->nin + i) : region_ptr(s, tmp[i]));
  io_captures(s, io, br->g, n->nout);
  call_sub(s, br->fn, io);
}

static int gen_if(Ctl *s) {
  GenCtx *c = s->c;
  Node *n = c->n;
  KB *kb = s->kb;
  Branch br[2] = {{sub_attr(n, "then_branch"), "then", NULL, 0}, {sub_attr(n, "else_branch"), "else", NULL, 0}};
  Value *cv = n->in[0];
  int only = -1; /* a constant condition (when not inlined by passes) calls one branch */
  if (cv->kind == VK_CONST && cv->data) only = ir_const_i64(cv, 0) ? 0 : 1;
  int64_t tmp[IR_MAX_RANK * 8] = {0};
  if (n->nout > (int)(sizeof tmp / sizeof tmp[0])) return ir_node_error(c->g, n, "too many outputs");
  for (int i = 0; i < n->nout; i++)
    if (!n->out[i]) tmp[i] = region_alloc(s, bytes_of(br[only < 0 ? 0 : only].g->outputs[i]));
  for (int b = 0; b < 2; b++) {
    if (!br[b].g) return ir_node_error(c->g, n, "attribute '%s_branch' is missing", br[b].tag);
    if (br[b].g->noutputs != n->nout)
      return ir_node_error(c->g, n, "%s_branch has %d outputs but the node has %d", br[b].tag, br[b].g->noutputs,
                           n->nout);
    if (only < 0 || only == b) br[b].io = region_alloc(s, 8 * (int64_t)(n->nout + ncaptures(br[b].g)));
  }
  int64_t base = region_close(s);
  for (int b = 0; b < 2; b++) /* the branches exclude each other: both use the arena after the region */
    if ((only < 0 || only == b) && c->build_subgraph(c, br[b].g, br[b].tag, base, &br[b].fn)) return -1;
  if (only >= 0) {
    if_call(s, &br[only], tmp);
    return 0;
  }
  kb_if(kb, load_flag(kb, kb_buf(kb, 0)));
  if_call(s, &br[0], tmp);
  kb_else(kb);
  if_call(s, &br[1], tmp);
  kb_endif(kb);
  return 0;
}

/* ---- loop-carried values ---- */
typedef struct Carried {
  int64_t bytes;
  KV home;     /* where the final value goes (the node output or a temporary) */
  int64_t other; /* region offset of the second buffer */
  int64_t home_tmp; /* region offset of home when the output is absent, else -1 */
  KVar rd, wr;
} Carried;

static void carried_plan(Ctl *s, Carried *cv, const Value *in, const Value *out) {
  cv->bytes = bytes_of(in);
  cv->other = region_alloc(s, cv->bytes);
  cv->home_tmp = out ? -1 : region_alloc(s, cv->bytes);
}

/* home = output (+ batch offset), filled from src; rd = home, wr = other */
static void carried_start(Ctl *s, Carried *cv, KV out, KV src) {
  KB *kb = s->kb;
  cv->home = cv->home_tmp < 0 ? out : region_ptr(s, cv->home_tmp);
  kb_memcpy(kb, cv->home, src, kb_i64(kb, cv->bytes));
  cv->rd = kb_var(kb, kt_s(KE_PTR), cv->home);
  cv->wr = kb_var(kb, kt_s(KE_PTR), region_ptr(s, cv->other));
}

static void carried_swap(KB *kb, Carried *cv) {
  KV r = kb_get(kb, cv->rd);
  kb_set(kb, cv->rd, kb_get(kb, cv->wr));
  kb_set(kb, cv->wr, r);
}

/* the last value was read from rd: copy it home unless it is there */
static void carried_finish(KB *kb, Carried *cv) {
  KV r = kb_get(kb, cv->rd);
  kb_if(kb, kb_cmp(kb, KC_NE, r, cv->home, false));
  kb_memcpy(kb, cv->home, r, kb_i64(kb, cv->bytes));
  kb_endif(kb);
}

#define CTL_MAX_VALUES 256

/* ---- Loop(M, cond, v...) with body(iter, cond, v...) -> (cond, v..., scan...) ---- */
static int gen_loop(Ctl *s) {
  GenCtx *c = s->c;
  Node *n = c->n;
  KB *kb = s->kb;
  Graph *body = sub_attr(n, "body");
  if (!body) return ir_node_error(c->g, n, "attribute 'body' is missing");
  int nstate = body->ninputs - 2, nscan = body->noutputs - 1 - nstate;
  if (nstate < 0 || nscan < 0 || nstate + nscan > CTL_MAX_VALUES || n->nout != nstate + nscan)
    return ir_node_error(c->g, n, "body has %d inputs / %d outputs for %d outputs", body->ninputs, body->noutputs,
                         n->nout);
  Carried cv[CTL_MAX_VALUES];
  int64_t scan_slice[CTL_MAX_VALUES], scan_tmp[CTL_MAX_VALUES];
  int nio = body->ninputs + body->noutputs;
  int64_t io_off = region_alloc(s, 8 * (int64_t)(nio + ncaptures(body)));
  int64_t iter_off = region_alloc(s, 8), cin_off = region_alloc(s, 1), cout_off = region_alloc(s, 1);
  for (int i = 0; i < nstate; i++) carried_plan(s, &cv[i], n->in[2 + i], n->out[i]);
  for (int k = 0; k < nscan; k++) {
    Value *y = n->out[nstate + k];
    scan_slice[k] = bytes_of(body->outputs[1 + nstate + k]);
    /* an unused scan output still needs a slice to write into */
    scan_tmp[k] = y ? -1 : region_alloc(s, scan_slice[k]);
  }
  const char *fn;
  if (c->build_subgraph(c, body, "body", region_close(s), &fn)) return -1;

  KV io = region_ptr(s, io_off), iter_p = region_ptr(s, iter_off);
  KV cin_p = region_ptr(s, cin_off), cout_p = region_ptr(s, cout_off);
  KV trips = n->in[0] ? kb_load(kb, kt_s(KE_I64), kb_buf(kb, 0)) : kb_i64(kb, INT64_MAX);
  KVar go = kb_var(kb, kt_s(KE_I1), n->nin > 1 && n->in[1] ? load_flag(kb, kb_buf(kb, 1)) : kb_true(kb));
  for (int i = 0; i < nstate; i++) {
    KV out = n->out[i] ? kb_buf(kb, n->nin + i) : NULL;
    carried_start(s, &cv[i], out, kb_buf(kb, 2 + i));
  }
  io_set(s, io, 0, iter_p);
  io_set(s, io, 1, cin_p);
  io_set(s, io, 2 + nstate, cout_p);
  io_captures(s, io, body, nio);
  KV t = kb_for(kb, kb_i64(kb, 0), trips, 1);
  kb_if(kb, kb_not(kb, kb_get(kb, go))); /* cond turned false: done */
  for (int i = 0; i < nstate; i++) carried_finish(kb, &cv[i]);
  kb_return_status(kb, kb_i32(kb, 0));
  kb_endif(kb);
  check_stop(s);
  kb_store(kb, t, iter_p);
  kb_store_bool(kb, kb_get(kb, go), cin_p, NULL);
  for (int i = 0; i < nstate; i++) {
    io_set(s, io, 2 + i, kb_get(kb, cv[i].rd));
    io_set(s, io, 3 + nstate + i, kb_get(kb, cv[i].wr));
  }
  for (int k = 0; k < nscan; k++) {
    KV p = scan_tmp[k] >= 0
               ? region_ptr(s, scan_tmp[k])
               : kb_gep_bytes(kb, kb_buf(kb, n->nin + nstate + k), kb_mul(kb, t, kb_i64(kb, scan_slice[k])));
    io_set(s, io, 3 + 2 * nstate + k, p);
  }
  call_sub(s, fn, io);
  kb_set(kb, go, load_flag(kb, cout_p));
  for (int i = 0; i < nstate; i++) carried_swap(kb, &cv[i]);
  kb_endfor(kb);
  for (int i = 0; i < nstate; i++) carried_finish(kb, &cv[i]);
  return 0;
}

/* ---- Scan ---- */
/* One scanned tensor (input or output): slice idx of batch b is the `outer` blocks of `inner`
 * bytes at base + b*batch + (o*len + idx)*inner; contiguous when outer == 1. */
typedef struct Scanned {
  int64_t outer, inner, batch;
  bool reverse;
  int64_t tmp; /* region offset of a contiguous copy of the slice, or -1 */
} Scanned;

static int64_t list_at(const Node *n, const char *name, int i, int64_t def) {
  const int64_t *p;
  int cnt = ir_attr_ints(n, name, &p);
  return cnt > i ? p[i] : def;
}

/* A tensor scanned along `axis` whose slices look like `slice`; dims[0..axis) are its leading dims.
 * Scan-8: [batch, len, ...], so per batch the slices are contiguous. */
static void scanned_plan(Ctl *s, Scanned *sc, const Value *slice, const int64_t *dims, int axis, int64_t len,
                         bool v8, bool reverse, bool need_tmp) {
  int64_t bytes = bytes_of(slice);
  sc->outer = 1;
  for (int d = 0; !v8 && d < axis; d++) sc->outer *= dims[d];
  sc->inner = sc->outer ? bytes / sc->outer : 0;
  sc->batch = v8 ? len * sc->inner : 0;
  sc->reverse = reverse;
  sc->tmp = sc->outer > 1 || need_tmp ? region_alloc(s, sc->outer * sc->inner) : -1;
}

/* base of the slice's first block (idx from t and the direction) */
static KV scanned_at(KB *kb, const Scanned *sc, KV base, KV b, KV t, int64_t len, int64_t o) {
  KV idx = sc->reverse ? kb_sub(kb, kb_i64(kb, len - 1), t) : t;
  KV off = kb_add(kb, kb_mul(kb, b, kb_i64(kb, sc->batch)),
                  kb_mul(kb, kb_add(kb, kb_i64(kb, o * len), idx), kb_i64(kb, sc->inner)));
  return kb_gep_bytes(kb, base, off);
}

/* copy between the strided slice and its contiguous temporary (to_tmp: gather, else scatter) */
static void scanned_copy(Ctl *s, const Scanned *sc, KV base, KV b, KV t, int64_t len, bool to_tmp) {
  KB *kb = s->kb;
  KV tmp = region_ptr(s, sc->tmp);
  KV first = scanned_at(kb, sc, base, b, t, len, 0);
  KV o = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, sc->outer), 1);
  KV far = kb_gep_bytes(kb, first, kb_mul(kb, o, kb_i64(kb, len * sc->inner)));
  KV near = kb_gep_bytes(kb, tmp, kb_mul(kb, o, kb_i64(kb, sc->inner)));
  if (to_tmp) kb_memcpy(kb, near, far, kb_i64(kb, sc->inner));
  else kb_memcpy(kb, far, near, kb_i64(kb, sc->inner));
  kb_endfor(kb);
}

/* Scan-9+: Scan(states..., scan inputs...) with body(states..., slices...) -> (states..., slices...)
 * Scan-8: Scan(sequence_lens, states..., scan inputs...) where every tensor has a leading batch dim. */
static int gen_scan(Ctl *s) {
  GenCtx *c = s->c;
  Node *n = c->n;
  KB *kb = s->kb;
  Graph *body = sub_attr(n, "body");
  if (!body) return ir_node_error(c->g, n, "attribute 'body' is missing");
  bool v8 = c->g->opset > 0 && c->g->opset < 9;
  int first = v8, nscan_in = (int)ir_attr_int(n, "num_scan_inputs", 0);
  int nstate = body->ninputs - nscan_in, nscan_out = body->noutputs - nstate;
  if (v8 && n->in[0]) return ir_node_error(c->g, n, "Scan-8 sequence_lens is not supported");
  if (nscan_in < 1 || nstate < 0 || nscan_out < 0 || body->ninputs + body->noutputs > CTL_MAX_VALUES ||
      n->nout != body->noutputs)
    return ir_node_error(c->g, n, "body has %d inputs / %d outputs for %d scan inputs", body->ninputs,
                         body->noutputs, nscan_in);
  Value *x0 = n->in[first + nstate];
  int64_t batch = v8 ? x0->dims[0] : 1, len = -1;
  Carried cv[CTL_MAX_VALUES];
  Scanned si[CTL_MAX_VALUES], so[CTL_MAX_VALUES];
  int nio = body->ninputs + body->noutputs;
  int64_t io_off = region_alloc(s, 8 * (int64_t)(nio + ncaptures(body)));
  for (int i = 0; i < nstate; i++) carried_plan(s, &cv[i], body->inputs[i], n->out[i]);
  for (int k = 0; k < nscan_in; k++) {
    Value *x = n->in[first + nstate + k];
    int axis = 1;
    if (!v8 && ir_normalize_axis(c->g, n, list_at(n, "scan_input_axes", k, 0), x->rank, &axis)) return -1;
    len = x->dims[axis];
    bool rev = list_at(n, v8 ? "directions" : "scan_input_directions", k, 0) != 0;
    scanned_plan(s, &si[k], body->inputs[nstate + k], x->dims, axis, len, v8, rev, false);
  }
  for (int k = 0; k < nscan_out; k++) {
    Value *y = n->out[nstate + k], *sl = body->outputs[nstate + k];
    int axis = 1;
    if (!v8 && ir_normalize_axis(c->g, n, list_at(n, "scan_output_axes", k, 0), sl->rank + 1, &axis)) return -1;
    bool rev = !v8 && list_at(n, "scan_output_directions", k, 0) != 0;
    scanned_plan(s, &so[k], sl, sl->dims, axis, len, v8, rev, !y);
  }
  const char *fn;
  if (c->build_subgraph(c, body, "body", region_close(s), &fn)) return -1;

  KV io = region_ptr(s, io_off);
  io_captures(s, io, body, nio);
  KV b = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, batch), 1);
  for (int i = 0; i < nstate; i++) {
    KV boff = kb_mul(kb, b, kb_i64(kb, v8 ? cv[i].bytes : 0));
    KV out = n->out[i] ? kb_gep_bytes(kb, kb_buf(kb, n->nin + i), boff) : NULL;
    carried_start(s, &cv[i], out, kb_gep_bytes(kb, kb_buf(kb, first + i), boff));
  }
  KV t = kb_for(kb, kb_i64(kb, 0), kb_i64(kb, len), 1);
  check_stop(s);
  for (int i = 0; i < nstate; i++) {
    io_set(s, io, i, kb_get(kb, cv[i].rd));
    io_set(s, io, body->ninputs + i, kb_get(kb, cv[i].wr));
  }
  for (int k = 0; k < nscan_in; k++) {
    KV x = kb_buf(kb, first + nstate + k);
    if (si[k].tmp >= 0) scanned_copy(s, &si[k], x, b, t, len, true);
    io_set(s, io, nstate + k, si[k].tmp >= 0 ? region_ptr(s, si[k].tmp) : scanned_at(kb, &si[k], x, b, t, len, 0));
  }
  for (int k = 0; k < nscan_out; k++) {
    KV p = so[k].tmp >= 0 ? region_ptr(s, so[k].tmp)
                          : scanned_at(kb, &so[k], kb_buf(kb, n->nin + nstate + k), b, t, len, 0);
    io_set(s, io, body->ninputs + nstate + k, p);
  }
  call_sub(s, fn, io);
  for (int k = 0; k < nscan_out; k++)
    if (so[k].tmp >= 0 && n->out[nstate + k])
      scanned_copy(s, &so[k], kb_buf(kb, n->nin + nstate + k), b, t, len, false);
  for (int i = 0; i < nstate; i++) carried_swap(kb, &cv[i]);
  kb_endfor(kb);
  for (int i = 0; i < nstate; i++) carried_finish(kb, &cv[i]);
  kb_endfor(kb);
  return 0;
}

int gen_control(GenCtx *c) {
  Ctl s = {.c = c, .kb = c->kb};
  switch (c->n->op) {
  case OP_If: return gen_if(&s);
  case OP_Loop: return gen_loop(&s);
  case OP_Scan: return gen_scan(&s);
  default: return ir_node_error(c->g, c->n, "not a control-flow op");
  }
}
