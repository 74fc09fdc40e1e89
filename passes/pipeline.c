/* pipeline.c — the pass order, as one straight-line function (pass_run_until).
 *
 *   qdq      QDQ convolutions -> int8 QConv nodes (passes/qdq.c)      (optional; before shapes,
 *            which would fold the weights' DequantizeLinear; disabled by name like a fuse part)
 *   cluster  Gather(codebook, indices) clustered weights -> constants keeping that form (passes/
 *            cluster.c; before shapes, which would fold them; disabled by name like qdq)
 *   shapes   shape inference + folding of constant subgraphs (ir/shape.c)
 *   inline   If on a constant condition -> the branch taken          (optional)
 *   dce      nodes whose outputs reach no graph output               (optional)
 *   fuse     BatchNorm into Conv, epilogues, LayerNorm/Gelu         (optional)
 *            first its part "attention" (passes/attention.c, also off on its own by name)
 *            and its part "qadd" (residual QAdd into the producing QConv: passes/qdq.c)
 *   winograd Conv nodes the backend may run as Winograd (3×3, stride 1) (optional)
 *   layout   pixel-major regions (depthwise/1×1 Conv + elementwise) by a cost model (passes/
 *            layout.c); optional: --layout nchw = --disable-pass layout
 *   plan     storage classes and arena offsets (memory planning)
 *   sparse   MatMul/Gemm nodes whose constant weight may run on sparse kernels (optional; it only
 *            marks nodes, so it can run after plan and keep its place at the end of the names)
 *   binary   Conv/MatMul/Gemm nodes for xor + popcount kernels (optional; marks after plan, but
 *            its Sign fusion, which changes the graph, runs just before plan: passes/binary.c)
 *
 * plan runs last because it is the interface to the backend: it materializes outputs and adds
 * control nodes' captured values as inputs, and the sizes it lays out are final only once layout
 * has chosen (padded) layouts.  It needs nothing from the backend but the memory budget (an
 * option) and the 64-byte alignment the runtime ABI fixes; where a subgraph's arena begins is
 * decided during code generation, and its offsets are relative to that base.
 * The verifier runs after every pass when opt->verify_each is set or in builds without NDEBUG,
 * and always at the end. */
#include <stdio.h>
#include <string.h>

#include "passes.h"

const char *const pass_names[] = {"shapes", "inline", "dce", "fuse", "winograd", "layout", "plan", "sparse", "binary", NULL};

int pass_index(const char *name) {
  for (int i = 0; name && pass_names[i]; i++)
    if (!strcmp(pass_names[i], name)) return i;
  return -1;
}

bool pass_optional(int index) { return (index >= 1 && index <= 5) || index >= pass_index("sparse"); }

/* Parts of the fuse pass that --disable-pass can also switch off on their own (not passes of
 * their own, so pass_names and the pipeline's shape stay as they are): "attention" */
bool pass_is_fuse_part(const char *name) {
  return name && (!strcmp(name, "attention") || !strcmp(name, "qdq") || !strcmp(name, "cluster") /* passes/cluster.c */ ||
                  !strcmp(name, "qadd") /* passes/qdq.c: pass_qdq_add */ || !strcmp(name, "rows") /* passes/rows.c */);
}

/* "shapes, inline, ..." */
static void list_names(char *buf, size_t len) {
  size_t n = 0;
  buf[0] = 0;
  for (int i = 0; pass_names[i] && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", pass_names[i]);
}

int pass_check_disable(const char *list, char *err, size_t errlen) {
  char names[128];
  list_names(names, sizeof names);
  const char *p = list ? list : "";
  do {
    size_t len = strcspn(p, ",");
    char name[32];
    if (!len) {
      snprintf(err, errlen, "empty pass name in '%.100s' (passes: %s)", list ? list : "", names);
      return -1;
    }
    snprintf(name, sizeof name, "%.*s", (int)(len < 31 ? len : 31), p);
    int i = len < 31 ? pass_index(name) : -1;
    if (i < 0 && pass_is_fuse_part(name)) i = pass_index("fuse");
    if (i < 0) {
      snprintf(err, errlen, "unknown pass '%.*s' (passes: %s)", (int)(len < 100 ? len : 100), p, names);
      return -1;
    }
    if (!pass_optional(i)) {
      snprintf(err, errlen, "pass '%s' cannot be disabled (optional passes: inline, dce, fuse, winograd, layout, sparse, binary)", name);
      return -1;
    }
    p += len;
  } while (*p++ == ',');
  return 0;
}

static bool disabled(const PassOptions *o, const char *name) {
  size_t n = strlen(name);
  for (const char *p = o->disable; p && *p;) {
    size_t len = strcspn(p, ",");
    if (len == n && !strncmp(p, name, n)) return true;
    p += len + (p[len] == ',');
  }
  return false;
}

typedef struct Run {
  Graph *g;
  const PassOptions *opt;
  int last; /* index of the last pass to run */
  int rc;
} Run;

/* Runs pass `name` unless disabled; true when the pipeline stops here (error or last pass). */
static bool step(Run *r, const char *name, int (*pass)(Graph *, const PassOptions *)) {
  int i = pass_index(name);
  if (!disabled(r->opt, name)) r->rc = pass(r->g, r->opt);
#ifdef NDEBUG
  bool verify = r->opt->verify_each || i == r->last;
#else
  bool verify = true;
#endif
  if (!r->rc && verify) r->rc = ir_verify(r->g);
  return r->rc || i >= r->last;
}

/* the passes behind one signature */
static int run_shapes(Graph *g, const PassOptions *o) { return (void)o, ir_infer_shapes(g); }
static int run_inline(Graph *g, const PassOptions *o) { return (void)o, pass_inline(g); }
static int run_dce(Graph *g, const PassOptions *o) { return (void)o, pass_dce(g); }
static int run_fuse(Graph *g, const PassOptions *o) {
  if (!disabled(o, "attention") && pass_attention(g)) return -1; /* before fuse takes the scale Mul */
  if (!disabled(o, "qadd") && pass_qdq_add(g)) return -1;       /* residual QAdd into its QConv (needs shapes) */
  if (pass_fuse(g)) return -1;
  return disabled(o, "rows") ? 0 : pass_rows(g); /* matches the fused forms */
}
static int run_winograd(Graph *g, const PassOptions *o) { return (void)o, pass_winograd(g); }
static int run_layout(Graph *g, const PassOptions *o) { return pass_layout(g, o->layout); }
static int run_plan(Graph *g, const PassOptions *o) { return pass_plan(g, o->max_memory); }
static int run_sparse(Graph *g, const PassOptions *o) { return (void)o, pass_sparse(g); }
static int run_binary(Graph *g, const PassOptions *o) { return (void)o, pass_binary(g); }

int pass_run_until(Graph *g, const PassOptions *opt, const char *last) {
  static const PassOptions none = {0};
  Run r = {g, opt ? opt : &none, last ? pass_index(last) : pass_index("binary"), 0};
  char err[300];
  if (r.opt->disable && pass_check_disable(r.opt->disable, err, sizeof err)) return ir_error(g, "%s", err);
  if (last && !strcmp(last, "import")) return 0;
  /* `dump --after qdq`: the graph right after the QDQ matching (qdq is not in pass_names: see above) */
  bool only_qdq = last && !strcmp(last, "qdq");
  if (r.last < 0 && !only_qdq) {
    list_names(err, sizeof err);
    return ir_error(g, "unknown pass '%.100s' (passes: import, %s)", last, err);
  }
  /* qdq before shapes: shape inference folds the weights' DequantizeLinear into float tensors */
  if (!disabled(r.opt, "qdq") && pass_qdq(g)) return -1;
  if (only_qdq) return ir_verify(g);
  /* cluster before shapes too: shape inference folds a clustered weight's Gather into floats */
  if (!disabled(r.opt, "cluster") && pass_cluster(g)) return -1;
  if (step(&r, "shapes", run_shapes) || step(&r, "inline", run_inline) || step(&r, "dce", run_dce) ||
      step(&r, "fuse", run_fuse) || step(&r, "winograd", run_winograd) || step(&r, "layout", run_layout))
    return r.rc;
  /* binary's Sign fusion changes the graph, so it goes before plan (passes/binary.c) */
  if (r.last >= pass_index("binary") && !disabled(r.opt, "binary") && pass_binary_fuse(g)) return -1;
  if (step(&r, "plan", run_plan) || step(&r, "sparse", run_sparse) || step(&r, "binary", run_binary))
    return r.rc;
  return 0;
}

int pass_run_all(Graph *g, const PassOptions *opt) { return pass_run_until(g, opt, NULL); }
