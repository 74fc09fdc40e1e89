/* plan.c — memory planning: where every value lives at run time.
 *
 *   graph inputs, outputs, captured values  ST_IO     the caller's buffers: io[offset]
 *   constants                               ST_CONST  the weight blob (the backend builds it)
 *   everything else                         ST_ARENA  one arena, offsets by liveness
 *
 * A view (a Reshape, or a Transpose that moves only size-1 axes: ir_view_roots) shares its
 * input's buffer; the group is placed as one value live from its first definition to its last use.
 *
 * The arena is laid out first fit, largest first, over live ranges in node order; every offset
 * and the arena size are multiples of 64 (the widest vector, so kernels may use aligned loads).
 *
 * A Concat along an axis with only size-1 axes before it (NCHW channels at batch 1) reads its
 * inputs from contiguous slices of its output: such an input is placed in its slice (Value.inside;
 * its producer writes there and the Concat's copy finds equal pointers and skips it).  Concats are
 * visited last to first, so DenseNet's chain Concat(x0..xk), k = 1..n, puts every xi in the last
 * one's buffer, and each earlier Concat, whose inputs are then consecutive there, becomes its
 * prefix: no copies in a dense block.  A group (a buffer and the values inside it) is placed as
 * one value live over all their uses; slices are 64-byte multiples, so no kernel's rounded store
 * reaches a neighbour.
 *
 * Subgraphs (If branches, Loop/Scan bodies) are planned here too, with offsets relative to a
 * base the backend picks while it generates the control kernel: beyond everything live in the
 * enclosing graph and the kernel's own temporaries (gen_control.c), so the model keeps one
 * arena.  The base is only known during code generation, but planning does not need it: the
 * backend adds it when it forms an address.  The values a subgraph captures become extra inputs
 * of the control node, so the enclosing graph keeps them alive and can pass their buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

int64_t pass_value_bytes(const Value *v) {
  int64_t n = ir_value_numel(v), b;
  if (n < 0 || !ir_mul_ok(n, (int64_t)dtype_size(v->dtype), &b)) return -1;
  return b;
}

/* Graph outputs must be written by a node into the caller's buffer: an output that is an input,
 * a constant, or listed twice gets an Identity copy. */
static void materialize_outputs(Graph *g) {
  for (int i = 0; i < g->noutputs; i++) {
    Value *v = g->outputs[i];
    bool dup = false;
    for (int j = 0; j < i; j++) dup |= g->outputs[j] == v;
    if (v->producer && !dup && v->kind == VK_TEMP) continue;
    Node *n = ir_node_new(g, OP_Identity, NULL, 1, 1);
    Value *o = ir_value_new(g, v->name);
    o->dtype = v->dtype;
    o->layout = v->layout;
    ir_value_set_shape(o, v->rank, v->dims);
    o->producer = n;
    o->is_output = true;
    n->in[0] = v;
    n->out[0] = o;
    g->outputs[i] = o;
  }
}

static bool has_input(const Node *n, const Value *v) {
  for (int j = 0; j < n->nin; j++)
    if (n->in[j] == v) return true;
  return false;
}

/* A control node's subgraphs capture values of g: append them to the node's inputs (once each),
 * so that liveness and buffer passing see them. */
static void add_captures(Graph *g, Node *n) {
  for (int a = 0; a < n->nattr; a++) {
    Graph *sub = n->attrs[a].type == AT_GRAPH ? n->attrs[a].g : NULL;
    for (int i = 0; sub && i < sub->nvalues; i++) {
      Value *v = sub->values[i];
      if (v->kind != VK_OUTER || !v->outer || has_input(n, v->outer)) continue;
      Value **in = arena_alloc(g->arena, sizeof(Value *) * (size_t)(n->nin + 1));
      memcpy(in, n->in, sizeof(Value *) * (size_t)n->nin);
      in[n->nin++] = v->outer;
      n->in = in;
    }
  }
}

typedef struct Interval {
  Value *v;
  int first, last;
  int64_t bytes;
} Interval;

static int by_size_desc(const void *a, const void *b) {
  const Interval *x = a, *y = b;
  return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : x->first - y->first;
}

/* lowest offset for iv[i] clear of the earlier-placed intervals live at the same time: 0 or the
 * end of one of them */
static int64_t first_fit(const Interval *iv, int i, int64_t (*busy)[2]) {
  int nb = 0;
  for (int j = 0; j < i; j++)
    if (iv[j].first <= iv[i].last && iv[i].first <= iv[j].last) {
      busy[nb][0] = iv[j].v->offset;
      busy[nb][1] = iv[j].v->offset + iv[j].bytes;
      nb++;
    }
  int64_t best = -1;
  for (int c = -1; c < nb; c++) {
    int64_t off = c < 0 ? 0 : busy[c][1];
    bool ok = true;
    for (int j = 0; j < nb && ok; j++) ok = off + iv[i].bytes <= busy[j][0] || off >= busy[j][1];
    if (ok && (best < 0 || off < best)) best = off;
  }
  return best;
}

/* Concat(x...) -> y along `axis`, byte offsets of the inputs' slices in y's buffer (off[i]), when
 * every slice is contiguous: plain layouts, only size-1 axes before the axis; else false */
static bool concat_slices(const Node *n, int64_t *off) {
  const Value *y = n->out[0];
  if (n->dead || n->op != OP_Concat || n->nout != 1 || !y || y->storage != ST_ARENA || y->layout != VL_PLAIN ||
      y->rank < 1)
    return false;
  int64_t axis = ir_attr_int(n, "axis", 1);
  if (axis < 0) axis += y->rank;
  if (axis < 0 || axis >= y->rank) return false;
  for (int d = 0; d < axis; d++)
    if (y->dims[d] != 1) return false;
  int64_t at = 0;
  for (int i = 0; i < n->nin; i++) {
    const Value *x = n->in[i];
    int64_t b = x ? pass_value_bytes(x) : -1;
    if (b < 0 || x->dtype != y->dtype || x->layout != VL_PLAIN) return false;
    off[i] = at;
    at += b;
  }
  return at == pass_value_bytes(y);
}

/* the buffer value id lives in (following Value.inside) and its byte offset there */
static int group_top(Graph *g, int id, const int64_t *rel, int64_t *at) {
  *at = 0;
  for (Value *v = g->values[id]; v->inside; v = v->inside) *at += rel[v->id], id = v->inside->id;
  return id;
}

static bool slice_ok(const Value *v, int64_t off) {
  int64_t b = pass_value_bytes(v);
  return v->storage == ST_ARENA && v->producer && v->layout == VL_PLAIN && !v->inside && b > 0 && b % 64 == 0 &&
         off % 64 == 0;
}

/* Concat inputs placed in their output's slices (the comment at the top); rel[id]: a value's
 * byte offset inside its Value.inside */
static void place_concats(Graph *g, const int *root, int64_t *rel) {
  int64_t *off = NULL;
  int cap = 0;
  for (int k = g->nnodes - 1; k >= 0; k--) {
    Node *n = g->nodes[k];
    if (n->op != OP_Concat || n->nin < 1) continue;
    if (n->nin > cap) cap = n->nin, off = ir_xrealloc(off, sizeof(int64_t) * (size_t)cap);
    if (!concat_slices(n, off)) continue;
    Value *y = n->out[0];
    /* every input already inside one buffer, one after another: y is that stretch */
    int64_t at0 = 0, at;
    int top = -1;
    bool prefix = root[y->id] == y->id && slice_ok(y, 0);
    for (int i = 0; i < n->nin && prefix; i++) {
      Value *x = n->in[i];
      int t = x->inside ? group_top(g, x->id, rel, &at) : -1;
      if (i == 0) top = t, at0 = at;
      prefix = t >= 0 && t == top && at == at0 + off[i];
    }
    if (prefix && at0 % 64 == 0) {
      y->inside = g->values[top];
      rel[y->id] = at0;
      continue;
    }
    for (int i = 0; i < n->nin; i++) {
      Value *x = n->in[i];
      bool once = true;
      for (int j = 0; j < n->nin; j++) once &= j == i || n->in[j] != x;
      if (!once || x == y || root[x->id] != x->id || !slice_ok(x, off[i])) continue;
      x->inside = y;
      rel[x->id] = off[i];
    }
  }
  free(off);
}

/* first-fit over live-range conflicts; returns arena size */
static int64_t plan_arena(Graph *g) {
  int nv = g->nvalues, n = 0;
  Interval *iv = ir_xcalloc((size_t)nv + 1, sizeof *iv);
  int *first = ir_xmalloc(sizeof(int) * (size_t)(nv + 1)), *last = ir_xmalloc(sizeof(int) * (size_t)(nv + 1));
  int *root = ir_xmalloc(sizeof(int) * (size_t)(nv + 1));
  ir_live_ranges(g, first, last);
  ir_view_roots(g, root); /* a view shares its root's buffer: one interval over all their uses */
  for (int i = 0; i < nv; i++)
    if (root[i] != i && first[i] >= 0) {
      int r = root[i];
      if (first[r] < 0 || first[i] < first[r]) first[r] = first[i];
      if (last[i] > last[r]) last[r] = last[i];
    }
  int64_t *rel = ir_xcalloc((size_t)nv + 1, sizeof(int64_t));
  int *top = ir_xmalloc(sizeof(int) * (size_t)(nv + 1));
  place_concats(g, root, rel);
  int64_t *at = ir_xcalloc((size_t)nv + 1, sizeof(int64_t));
  for (int i = 0; i < nv; i++) top[i] = group_top(g, i, rel, &at[i]); /* a group: live over all its values' uses */
  for (int i = 0; i < nv; i++)
    if (top[i] != i && first[i] >= 0) {
      int t = top[i];
      if (first[t] < 0 || first[i] < first[t]) first[t] = first[i];
      if (last[i] > last[t]) last[t] = last[i];
    }
  for (int i = 0; i < nv; i++) {
    Value *v = g->values[i];
    if (v->storage != ST_ARENA || first[i] < 0 || root[i] != i || top[i] != i) continue;
    iv[n++] = (Interval){v, first[i], last[i], (pass_value_bytes(v) + 63) & ~(int64_t)63};
  }
  qsort(iv, (size_t)n, sizeof *iv, by_size_desc);
  int64_t total = 0;
  int64_t (*busy)[2] = ir_xmalloc(sizeof(int64_t[2]) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    int64_t best = first_fit(iv, i, busy);
    iv[i].v->offset = best;
    if (best + iv[i].bytes > total) total = best + iv[i].bytes;
  }
  for (int i = 0; i < nv; i++)
    if (top[i] != i) g->values[i]->offset = g->values[top[i]]->offset + at[i];
  for (int i = 0; i < nv; i++)
    if (root[i] != i) g->values[i]->offset = g->values[root[i]]->offset;
  free(top);
  free(at);
  free(rel);
  free(root);
  free(busy);
  free(iv);
  free(first);
  free(last);
  return total;
}

static bool add_ok(int64_t a, int64_t b, int64_t *out) { return !__builtin_add_overflow(a, b, out); }

/* "1.5 GiB" */
static const char *size_str(char *buf, size_t len, int64_t bytes) {
  static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double x = (double)bytes;
  int u = 0;
  while (x >= 1024 && u < 6) x /= 1024, u++;
  snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", x, unit[u]);
  return buf;
}

/* The memory budget (--max-memory): weights + arena + per-thread scratch + graph outputs, checked
 * with overflow-safe sums before the weight blob, the arena or any output is allocated, so a small
 * file that declares a huge tensor (Expand, Tile, ConstantOfShape...) gets an error, not an OOM.
 * The message names the largest value and the node producing it. */
int pass_plan_budget(Graph *g, int64_t limit, int64_t arena, int64_t scratch) {
  int64_t weights = 0, outputs = 0, big = -1, total;
  const Value *largest = NULL;
  bool ovf = arena < 0 || scratch < 0;
  for (int i = 0; i < g->nvalues; i++) {
    const Value *v = g->values[i];
    bool is_out = v->storage == ST_IO && v->offset >= g->ninputs;
    if (v->storage != ST_CONST && v->storage != ST_ARENA && !is_out) continue;
    int64_t b = pass_value_bytes(v);
    if (b < 0 && !v->producer && v->kind != VK_CONST) continue; /* unused, no storage */
    if (b < 0) {
      ovf = true;
      largest = v;
      break;
    }
    if (b > big) big = b, largest = v;
    if (v->storage == ST_CONST) ovf |= !add_ok(weights, b, &weights);
    else if (is_out) ovf |= !add_ok(outputs, b, &outputs);
  }
  ovf = ovf || !add_ok(weights, outputs, &total) || !add_ok(total, arena, &total) ||
        !add_ok(total, scratch, &total);
  if (!ovf && total <= limit) return 0;
  char a[4][32], lim[32], lg[32];
  const Node *p = largest ? largest->producer : NULL;
  char who[300] = "";
  if (largest)
    snprintf(who, sizeof who, "; the largest value is '%.100s' (%s%s%.100s%s%s%s)", largest->name,
             pass_value_bytes(largest) < 0 ? "size overflows" : size_str(lg, sizeof lg, pass_value_bytes(largest)),
             p ? ", output of node '" : "", p && p->name ? p->name : "", p ? "' (" : "", p ? ir_ops[p->op].name : "",
             p ? ")" : "");
  if (ovf) return ir_error(g, "the model needs more memory than can be counted (more than the --max-memory limit of %s)%s",
                           size_str(lim, sizeof lim, limit), who);
  return ir_error(g, "the model needs %s of memory (weights %s, intermediates %s, scratch %s, outputs %s), "
                  "more than the --max-memory limit of %s%s",
                  size_str(lg, sizeof lg, total), size_str(a[0], 32, weights), size_str(a[1], 32, arena),
                  size_str(a[2], 32, scratch), size_str(a[3], 32, outputs), size_str(lim, sizeof lim, limit), who);
}

/* storage classes: io slots in order (inputs, outputs, captures), constants, the arena */
static int assign_storage(Graph *g) {
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    v->storage = v->kind == VK_CONST ? ST_CONST : ST_ARENA;
    v->offset = -1;
    v->inside = NULL;
  }
  for (int i = 0; i < g->ninputs; i++) g->inputs[i]->storage = ST_IO, g->inputs[i]->offset = i;
  for (int i = 0; i < g->noutputs; i++)
    g->outputs[i]->storage = ST_IO, g->outputs[i]->offset = g->ninputs + i;
  for (int i = 0, k = 0; i < g->nvalues; i++)
    if (g->values[i]->kind == VK_OUTER)
      g->values[i]->storage = ST_IO, g->values[i]->offset = g->ninputs + g->noutputs + k++;
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->storage != ST_IO && pass_value_bytes(v) < 0 && (v->producer || v->kind == VK_CONST))
      return ir_error(g, "value '%s' has no static shape; give input shapes with --shape", v->name);
  }
  return 0;
}

/* Whether code generation builds subgraph attribute a of n: an If on a constant condition that
 * was not inlined (inline disabled, or a unit test without the pipeline) builds only the branch
 * taken, and shape inference may not have visited the other one. */
static bool sub_built(const Node *n, const Attr *a) {
  const Value *c = n->op == OP_If ? n->in[0] : NULL;
  if (!c || c->kind != VK_CONST || !c->data) return true;
  return !strcmp(a->name, ir_const_i64(c, 0) ? "then_branch" : "else_branch");
}

static int plan_graph(Graph *g, int64_t limit) {
  materialize_outputs(g);
  for (int k = 0; k < g->nnodes; k++)
    if (ir_ops[g->nodes[k]->op].family == F_CONTROL) add_captures(g, g->nodes[k]);
  if (ir_graph_toposort(g) || assign_storage(g)) return -1;
  /* every value within the budget first: then the arena plan's offset sums cannot overflow */
  if (pass_plan_budget(g, limit, 0, 0)) return -1;
  g->arena_bytes = (plan_arena(g) + 63) & ~(int64_t)63;
  if (pass_plan_budget(g, limit, g->arena_bytes, 0)) return -1;
  g->planned = true;
  for (int k = 0; k < g->nnodes; k++)
    for (int a = 0; a < g->nodes[k]->nattr; a++) {
      const Attr *at = &g->nodes[k]->attrs[a];
      if (at->type == AT_GRAPH && at->g && sub_built(g->nodes[k], at) && plan_graph(at->g, limit)) return -1;
    }
  return 0;
}

int pass_plan(Graph *g, int64_t max_memory) {
  /* no limit: still one small enough that sums of 64-rounded sizes cannot overflow */
  return plan_graph(g, max_memory > 0 ? max_memory : INT64_MAX / 4);
}
