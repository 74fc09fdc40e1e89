/* prof.c — what a profiled model knows about its top-level nodes (BeProf, be.h): names, ops,
 * output shapes, FLOPs and kernel functions for `onnxc bench --profile` and the perf map, and the
 * runtime's per-node timing record (runtime/prof.c).  No LLVM here: prof_llvm.c emits the timing
 * calls and writes the perf map. */
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "onnxc_rt.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* the op with its fused epilogue (passes/fuse.c), as onnxc dump shows it: "Conv+Add+Relu" */
static char *op_text(const Node *nd) {
  char buf[160];
  size_t o = (size_t)snprintf(buf, sizeof buf, "%s", ir_ops[nd->op].name);
  if (nd->epi && nd->epi->res && o < sizeof buf) o += (size_t)snprintf(buf + o, sizeof buf - o, "+Add");
  for (int i = 0; nd->epi && i < nd->epi->nact && o < sizeof buf; i++)
    o += (size_t)snprintf(buf + o, sizeof buf - o, "+%s", ir_ops[nd->epi->act[i]->op].name);
  return dup_str(buf);
}

BeProf *be_prof_new(const Graph *g, bool timing) {
  BeProf *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  int n = g->nnodes;
  p->n = n;
  p->timing = timing;
  p->nodes = calloc((size_t)n + 1, sizeof *p->nodes);
  p->rt = calloc(1, sizeof *p->rt);
  int64_t *t = calloc(6 * (size_t)n + 1, sizeof *t);
  if (!p->nodes || !p->rt || !t) {
    free(t);
    be_prof_free(p);
    return NULL;
  }
  p->rt->nnodes = n;
  p->rt->total_ns = t, p->rt->last_start_ns = t + n, p->rt->last_ns = t + 2 * n;
  p->rt->cpu_ns = t + 3 * n, p->rt->crit_ns = t + 4 * n, p->rt->last_tasks = t + 5 * n;
  for (int k = 0; k < n; k++) {
    const Node *nd = g->nodes[k];
    BeProfNode *e = &p->nodes[k];
    char shape[256] = "";
    if (nd->nout && nd->out[0]) ir_shape_str(nd->out[0], shape, sizeof shape);
    e->name = dup_str(nd->name ? nd->name : "");
    e->op = op_text(nd);
    e->kernel = dup_str("");
    e->shape = dup_str(shape);
    e->flops = 2 * ir_node_macs(nd);
    if (!e->name || !e->op || !e->kernel || !e->shape) {
      be_prof_free(p);
      return NULL;
    }
  }
  return p;
}

void be_prof_set_kernel(BeProf *p, int k, const char *kernel, size_t len) {
  if (!p || k < 0 || k >= p->n) return;
  char *s = malloc(len + 1);
  if (!s) return; /* keeps "" */
  memcpy(s, kernel, len);
  s[len] = 0;
  free((char *)p->nodes[k].kernel);
  p->nodes[k].kernel = s;
}

void be_prof_free(BeProf *p) {
  if (!p) return;
  for (int k = 0; p->nodes && k < p->n; k++) {
    free((char *)p->nodes[k].name);
    free((char *)p->nodes[k].op);
    free((char *)p->nodes[k].kernel);
    free((char *)p->nodes[k].shape);
  }
  free(p->nodes);
  if (p->rt) free(p->rt->total_ns);
  free(p->rt);
  free(p);
}
