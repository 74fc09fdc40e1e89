/* module.c — what the LLVM module builder (module_llvm.c) and the C module builder (emit_c.c)
 * share, with no knowledge of either target: storage planning and the dispatch of a node to its
 * generator.  Each builder then writes one kernel per node and the graph function calling them:
 *
 *     int32_t onnxc_graph_run(onnxc_rt *rt, void *const *io)   io = inputs then outputs
 *
 * Storage: graph inputs/outputs live in caller buffers (io), constants in the weight blob,
 * everything else in one arena laid out by liveness (first fit, largest first).
 *
 * A subgraph (If branch, Loop/Scan body) becomes a graph function of the same signature whose io
 * is its inputs, then its outputs, then the values it captures (VK_OUTER, in value order); its
 * arena values are planned at a fixed base beyond everything live in the enclosing graph (the
 * control kernel passes that base, see gen_control.c), so the model keeps one arena. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"

int64_t be_value_bytes(const Value *v) {
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
    ir_value_set_shape(o, v->rank, v->dims);
    o->producer = n;
    o->is_output = true;
    n->in[0] = v;
    n->out[0] = o;
    g->outputs[i] = o;
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

/* first-fit over live-range conflicts; returns arena size */
static int64_t plan_arena(Graph *g) {
  int nv = g->nvalues;
  Interval *iv = calloc((size_t)nv + 1, sizeof *iv);
  int n = 0;
  int *first = malloc(sizeof(int) * (size_t)(nv + 1)), *last = malloc(sizeof(int) * (size_t)(nv + 1));
  for (int i = 0; i < nv; i++) first[i] = -1, last[i] = -1;
  for (int k = 0; k < g->nnodes; k++) {
    Node *nd = g->nodes[k];
    for (int j = 0; j < nd->nout; j++)
      if (nd->out[j] && first[nd->out[j]->id] < 0) first[nd->out[j]->id] = last[nd->out[j]->id] = k;
    for (int j = 0; j < nd->nin; j++)
      if (nd->in[j]) last[nd->in[j]->id] = k;
  }
  for (int i = 0; i < nv; i++) {
    Value *v = g->values[i];
    if (v->storage != ST_ARENA || first[i] < 0) continue;
    iv[n++] = (Interval){v, first[i], last[i], (be_value_bytes(v) + 63) & ~(int64_t)63};
  }
  qsort(iv, (size_t)n, sizeof *iv, by_size_desc);
  int64_t total = 0;
  int64_t (*busy)[2] = malloc(sizeof(int64_t[2]) * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    int nb = 0;
    for (int j = 0; j < i; j++)
      if (iv[j].first <= iv[i].last && iv[i].first <= iv[j].last) {
        busy[nb][0] = iv[j].v->offset;
        busy[nb][1] = iv[j].v->offset + iv[j].bytes;
        nb++;
      }
    /* lowest offset that fits between busy ranges: try 0 and every busy end */
    int64_t best = -1;
    for (int c = -1; c < nb; c++) {
      int64_t off = c < 0 ? 0 : busy[c][1];
      bool ok = true;
      for (int j = 0; j < nb && ok; j++) ok = off + iv[i].bytes <= busy[j][0] || off >= busy[j][1];
      if (ok && (best < 0 || off < best)) best = off;
    }
    iv[i].v->offset = best;
    if (best + iv[i].bytes > total) total = best + iv[i].bytes;
  }
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
static int check_budget(Graph *g, int64_t max_memory, int64_t arena, int64_t scratch) {
  int64_t limit = max_memory > 0 ? max_memory : BE_DEFAULT_MAX_MEMORY;
  int64_t weights = 0, outputs = 0, big = -1, total;
  const Value *largest = NULL;
  bool ovf = arena < 0 || scratch < 0;
  for (int i = 0; i < g->nvalues; i++) {
    const Value *v = g->values[i];
    bool is_out = v->storage == ST_IO && v->offset >= g->ninputs;
    if (v->storage != ST_CONST && v->storage != ST_ARENA && !is_out) continue;
    int64_t b = be_value_bytes(v);
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
             be_value_bytes(largest) < 0 ? "size overflows" : size_str(lg, sizeof lg, be_value_bytes(largest)),
             p ? ", output of node '" : "", p && p->name ? p->name : "", p ? "' (" : "", p ? ir_ops[p->op].name : "",
             p ? ")" : "");
  if (ovf) return ir_error(g, "the model needs more memory than can be counted (more than the --max-memory limit of %s)%s",
                           size_str(lim, sizeof lim, limit), who);
  return ir_error(g, "the model needs %s of memory (weights %s, intermediates %s, scratch %s, outputs %s), "
                  "more than the --max-memory limit of %s%s",
                  size_str(lg, sizeof lg, total), size_str(a[0], 32, weights), size_str(a[1], 32, arena),
                  size_str(a[2], 32, scratch), size_str(a[3], 32, outputs), size_str(lim, sizeof lim, limit), who);
}

int be_gen_node(GenCtx *c) {
  switch (ir_ops[c->n->op].family) {
  case F_UNARY: return gen_unary(c);
  case F_BINARY:
  case F_TERNARY: return gen_binary(c);
  case F_NORM: return gen_norm(c);
  case F_CONTRACT: return gen_contract(c);
  case F_POOL: return gen_pool(c);
  case F_REDUCE: return gen_reduce(c);
  case F_MOVE: return gen_move(c);
  case F_GEN: return gen_gen(c);
  case F_CONTROL: return gen_control(c);
  case F_SIGNAL: return gen_signal(c);
  case F_VISION: return gen_vision(c);
  case F_QUANT: return gen_quant(c);
  case F_RNN: return gen_rnn(c);
  default: return ir_node_error(c->g, c->n, "no code generator for this op");
  }
}

int be_plan_graph(Graph *g, int64_t arena_base, int64_t max_memory, int64_t *arena_top) {
  materialize_outputs(g);
  for (int k = 0; k < g->nnodes; k++)
    if (ir_ops[g->nodes[k]->op].family == F_CONTROL) gen_control_captures(g, g->nodes[k]);
  if (ir_graph_toposort(g)) return -1;
  /* storage classes */
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    v->storage = v->kind == VK_CONST ? ST_CONST : ST_ARENA;
    v->offset = -1;
  }
  for (int i = 0; i < g->ninputs; i++) g->inputs[i]->storage = ST_IO, g->inputs[i]->offset = i;
  for (int i = 0; i < g->noutputs; i++)
    g->outputs[i]->storage = ST_IO, g->outputs[i]->offset = g->ninputs + i;
  for (int i = 0, k = 0; i < g->nvalues; i++)
    if (g->values[i]->kind == VK_OUTER)
      g->values[i]->storage = ST_IO, g->values[i]->offset = g->ninputs + g->noutputs + k++;
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->storage == ST_IO) continue;
    if (be_value_bytes(v) < 0) {
      if (v->producer || v->kind == VK_CONST)
        return ir_error(g, "value '%s' has no static shape; give input shapes with --shape", v->name);
    }
  }
  /* every value within the budget first: then the arena plan's offset sums cannot overflow */
  if (check_budget(g, max_memory, 0, 0)) return -1;
  *arena_top = arena_base + ((plan_arena(g) + 63) & ~(int64_t)63);
  return check_budget(g, max_memory, *arena_top, 0);
}

/* for the builders' last check, once the kernels' scratch is known */
int be_check_budget(Graph *g, int64_t max_memory, int64_t arena, int64_t scratch) {
  return check_budget(g, max_memory, arena, scratch);
}
