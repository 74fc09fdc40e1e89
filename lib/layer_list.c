/* layer_list.c — what the weight-rewriting commands (prune, cluster, rescale) share: the
 * comma-separated layer lists they take (`onnxc prune --skip`, `onnxc compress --cluster-layers`:
 * each name is a node's name or an op type) and the session state they need. */
#include <stdio.h>
#include <string.h>

#include "lib.h"

static bool names(const char *p, size_t k, const char *name) { return strlen(name) == k && !strncmp(p, name, k); }

bool lib_layer_listed(const char *list, const Node *n) {
  for (const char *p = list; p && *p;) {
    size_t k = strcspn(p, ",");
    if (k && (names(p, k, n->name) || names(p, k, ir_ops[n->op].name))) return true;
    p += k + (p[k] == ',');
  }
  return false;
}

int lib_layer_list_check(Graph *g, const char *list, const char *what, char *err, size_t errlen) {
  for (const char *p = list; p && *p;) {
    size_t k = strcspn(p, ",");
    bool found = false;
    for (int i = 0; i < g->nnodes && !found; i++)
      found = names(p, k, g->nodes[i]->name) || names(p, k, ir_ops[g->nodes[i]->op].name);
    if (!found && k)
      return snprintf(err, errlen, "%s '%.*s' names no node and no op type of the model", what, (int)k, p),
             ONNXC_ERR_ARGUMENT;
    p += k + (p[k] == ',');
  }
  return ONNXC_OK;
}

int lib_check_rewritable(onnxc_session *s, const char *what) {
  if (!s->g || s->state != LIB_LOADED || s->passed)
    return lib_fail(s, ONNXC_ERR_STATE, "%s: the session must hold a loaded model not yet prepared or compiled", what);
  if (s->vars) return lib_fail(s, ONNXC_ERR_STATE, "%s: a session with compiled variants cannot be changed", what);
  return ONNXC_OK;
}
