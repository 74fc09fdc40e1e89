/* multishape.c — the graphs of a multi-shape library (`onnxc compile --shape batch=1,4,16`):
 * one load of the model per shape, with the session's fixed shapes and dims plus the variant's,
 * each specialized and run through the passes; lib/compile.c then builds them into one library
 * (one graph function per variant, one weight blob: backend/drive/aot.c, emit_c.c).
 *
 * Loading the file again per variant is simpler and safer than copying a graph (attributes,
 * subgraphs, constant data): the frontend applies each variant's input shapes with its usual
 * checks and messages, and nothing a pass does to one variant can reach another. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"

_Static_assert(ONNXC_MAX_VARIANTS == BE_AOT_MAX_VARIANTS, "one bound on the variants of a library");

/* "batch=4, input=4x3x224x224": what the variant fixes */
static void variant_label(const onnxc_session_options *o, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = 0;
  for (int i = 0; i < o->ndims && n < len; i++)
    n += (size_t)snprintf(buf + n, len - n, "%s%s=%lld", n ? ", " : "", o->dims[i].name, (long long)o->dims[i].value);
  for (int i = 0; i < o->nshapes && n < len; i++) {
    n += (size_t)snprintf(buf + n, len - n, "%s%s=", n ? ", " : "", o->shapes[i].name);
    for (int d = 0; d < o->shapes[i].rank && n < len; d++)
      n += (size_t)snprintf(buf + n, len - n, "%s%lld", d ? "x" : "", (long long)o->shapes[i].dims[d]);
  }
}

/* every input dim called by one of the names becomes its value (as onnxc_options_fix_dim) */
static void fix_dims(Graph *g, const LibDim *dims, int ndims) {
  for (int i = 0; i < g->ninputs; i++) {
    Value *v = g->inputs[i];
    for (int d = 0; d < v->rank; d++)
      for (int k = 0; k < ndims && v->dims[d] < 0; k++)
        if (v->sym[d] && !strcmp(v->sym[d], dims[k].name)) v->dims[d] = dims[k].value;
  }
}

/* a dim name no input has would be silently ignored: refuse it */
static int check_dim_names(onnxc_session *s, Graph *g, const onnxc_session_options *o, const char *label, int k) {
  for (int j = 0; j < o->ndims; j++) {
    bool found = false;
    for (int i = 0; i < g->ninputs && !found; i++)
      for (int d = 0; d < g->inputs[i]->rank && !found; d++)
        found = g->inputs[i]->sym[d] && !strcmp(g->inputs[i]->sym[d], o->dims[j].name);
    if (!found)
      return lib_fail(s, ONNXC_ERR_ARGUMENT, "shape %d (%s): no input has a dim named '%.200s'", k, label,
                      o->dims[j].name);
  }
  return ONNXC_OK;
}

static Graph *load_variant(onnxc_session *s, const onnxc_session_options *o, const char *label, int k) {
  int n = s->opt.nshapes + o->nshapes;
  FeShape *sh = ir_xcalloc((size_t)n + 1, sizeof *sh);
  memcpy(sh, s->opt.shapes, sizeof *sh * (size_t)s->opt.nshapes);
  if (o->nshapes) memcpy(sh + s->opt.nshapes, o->shapes, sizeof *sh * (size_t)o->nshapes);
  FeOptions fo = {.shapes = sh, .nshapes = n, .max_bytes = s->opt.max_memory};
  char err[1500];
  Graph *g = fe_load(s->path, &fo, err, sizeof err);
  free(sh);
  if (!g) {
    lib_fail(s, ONNXC_ERR_MODEL, "shape %d (%s): %s", k, label, err);
    return NULL;
  }
  fix_dims(g, s->opt.dims, s->opt.ndims);
  fix_dims(g, o->dims, o->ndims);
  struct LibPrune *pr = NULL;
  if (s->opt.prune && lib_prune_graph(g, s->opt.prune, &pr, err, sizeof err)) { /* as the session's load did */
    lib_fail(s, ONNXC_ERR_MODEL, "shape %d (%s): %s", k, label, err);
    ir_graph_free(g);
    return NULL;
  }
  lib_prune_free(pr);
  return g;
}

/* every input static, and io of dtypes a compiled model can pass */
static int check_variant(onnxc_session *s, Graph *g, const char *label, int k) {
  for (int i = 0; i < g->ninputs; i++)
    if (!ir_value_shape_known(g->inputs[i])) {
      char sh[200];
      ir_shape_str(g->inputs[i], sh, sizeof sh);
      return lib_fail(s, ONNXC_ERR_ARGUMENT, "shape %d (%s): input '%s' is still %s: fix its other dims too", k,
                      label, g->inputs[i]->name, sh);
    }
  return ONNXC_OK;
}

/* two variants with the same input dims: run_tensors could never pick the second */
static int check_distinct(onnxc_session *s, const LibShapeSet *vs) {
  for (int a = 0; a < vs->n; a++)
    for (int b = a + 1; b < vs->n; b++) {
      bool same = true;
      for (int i = 0; same && i < vs->g[a]->ninputs; i++) {
        const Value *x = vs->g[a]->inputs[i], *y = vs->g[b]->inputs[i];
        same = x->rank == y->rank && !memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)x->rank);
      }
      if (same)
        return lib_fail(s, ONNXC_ERR_ARGUMENT, "shapes %d (%s) and %d (%s) give the same input dims", a,
                        vs->label[a], b, vs->label[b]);
    }
  return ONNXC_OK;
}

int lib_shapes_load(onnxc_session *s, const onnxc_compile_options *co, LibShapeSet *vs) {
  memset(vs, 0, sizeof *vs);
  vs->owned = true;
  if (co->num_variants < 1 || co->num_variants > ONNXC_MAX_VARIANTS || !co->variants)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "%d shapes%s: a library holds 1 to %d", (int)co->num_variants,
                    co->variants ? "" : " (variants NULL)", ONNXC_MAX_VARIANTS);
  if (!strcmp(s->path, "<buffer>"))
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "a multi-shape library loads the model once per shape: "
                                           "create the session from a file");
  PassOptions po = lib_pass_options(s);
  for (int k = 0; k < co->num_variants; k++) {
    const onnxc_session_options *o = co->variants[k];
    if (!o) return lib_fail(s, ONNXC_ERR_ARGUMENT, "shape %d is NULL", k);
    variant_label(o, vs->label[k], sizeof vs->label[k]);
    be_phase("frontend load");
    Graph *g = load_variant(s, o, vs->label[k], k);
    if (!g) return ONNXC_ERR_MODEL;
    vs->g[vs->n++] = g;
    int rc = check_dim_names(s, g, o, vs->label[k], k);
    if (!rc) rc = check_variant(s, g, vs->label[k], k);
    if (rc) return rc;
    be_phase("shapes + passes");
    if (pass_run_all(g, &po)) {
      char msg[sizeof s->err];
      snprintf(msg, sizeof msg, "shape %d (%.160s): %.1800s", k, vs->label[k], ir_last_error(g));
      return lib_fail_compile(s, msg);
    }
  }
  be_phase(NULL);
  return check_distinct(s, vs);
}

void lib_shapes_free(LibShapeSet *vs) {
  if (vs->owned)
    for (int k = 0; k < vs->n; k++) ir_graph_free(vs->g[k]);
  vs->n = 0;
}
