/* roundtrip.c — the writer's structural test (tests/writer/writer_test.py drives it).
 *
 *   fe_roundtrip IN OUT [IN OUT]...
 *
 * For each pair: load IN, write OUT (fe_write), load OUT, and check that
 *   - the two graphs print the same (ir_print's lines as a multiset: the writer moves Constant
 *     nodes' values to the initializers, so declarations may change order),
 *   - every constant of IN's graphs has the same bytes under the same name in OUT's,
 *   - writing is stable: fe_write_buffer of the reloaded graph is OUT byte for byte, and
 *     fe_write_buffer of IN's graph is too.
 * One line per failing pair on stderr; exit 1 if any failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe.h"

static char *print_sorted(const Graph *g, size_t *nlines, char ***lines) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  ir_print(g, f);
  fclose(f);
  size_t n = 0, cap = 64;
  char **v = malloc(cap * sizeof *v);
  for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n")) {
    if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
    v[n++] = p;
  }
  *nlines = n;
  *lines = v;
  return text;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int same_print(const Graph *a, const Graph *b, char *why, size_t len) {
  size_t na, nb;
  char **la, **lb;
  char *ta = print_sorted(a, &na, &la), *tb = print_sorted(b, &nb, &lb);
  int rc = 0;
  if (!ta || !tb) {
    snprintf(why, len, "cannot print");
    rc = -1;
  } else {
    qsort(la, na, sizeof *la, str_cmp);
    qsort(lb, nb, sizeof *lb, str_cmp);
    for (size_t i = 0; !rc && i < (na < nb ? na : nb); i++)
      if (strcmp(la[i], lb[i])) {
        snprintf(why, len, "graphs differ: '%.200s' vs '%.200s'", la[i], lb[i]);
        rc = -1;
      }
    if (!rc && na != nb) {
      snprintf(why, len, "graphs differ: %zu vs %zu printed lines", na, nb);
      rc = -1;
    }
  }
  free(la);
  free(lb);
  free(ta);
  free(tb);
  return rc;
}

static const Value *find_const(const Graph *g, const char *name) {
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i]->kind == VK_CONST && !strcmp(g->values[i]->name, name)) return g->values[i];
  return NULL;
}

/* constants of a used by a's live nodes, in b under the same name with the same bytes; subgraphs
 * are matched by position (node order is kept when the file's order was topological) */
static int same_consts(const Graph *a, const Graph *b, char *why, size_t len) {
  for (int i = 0; i < a->nnodes; i++) {
    const Node *n = a->nodes[i];
    for (int j = 0; j < n->nin; j++) {
      const Value *v = n->in[j];
      if (!v || v->kind != VK_CONST) continue;
      const Value *w = find_const(b, v->name);
      size_t bytes = (size_t)ir_value_numel(v) * dtype_size(v->dtype);
      if (!w || w->dtype != v->dtype || ir_value_numel(w) != ir_value_numel(v) || memcmp(v->data, w->data, bytes)) {
        snprintf(why, len, "constant '%.200s' differs or is missing", v->name);
        return -1;
      }
    }
  }
  for (int i = 0; i < a->nnodes && i < b->nnodes; i++) {
    const Node *n = a->nodes[i], *m = b->nodes[i];
    for (int k = 0; k < n->nattr && k < m->nattr; k++)
      if (n->attrs[k].type == AT_GRAPH && m->attrs[k].type == AT_GRAPH &&
          same_consts(n->attrs[k].g, m->attrs[k].g, why, len))
        return -1;
  }
  return 0;
}

static int same_bytes(const Graph *g, const void *file, size_t flen, const char *what, char *why, size_t len) {
  void *buf;
  size_t blen;
  char err[512];
  if (fe_write_buffer(g, &buf, &blen, err, sizeof err)) {
    snprintf(why, len, "fe_write_buffer (%s): %s", what, err);
    return -1;
  }
  int rc = blen == flen && !memcmp(buf, file, blen) ? 0 : -1;
  if (rc) snprintf(why, len, "fe_write_buffer of %s is not the written file (%zu vs %zu bytes)", what, blen, flen);
  free(buf);
  return rc;
}

static int read_all(const char *path, void **buf, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  *buf = malloc(n > 0 ? (size_t)n : 1);
  *len = fread(*buf, 1, (size_t)n, f);
  fclose(f);
  return *len == (size_t)n ? 0 : -1;
}

static int one(const char *in, const char *out, char *why, size_t len) {
  char err[700];
  Graph *a = fe_load(in, NULL, err, sizeof err);
  if (!a) {
    snprintf(why, len, "load: %s", err);
    return -1;
  }
  Graph *b = NULL;
  void *file = NULL;
  size_t flen = 0;
  int rc = -1;
  if (fe_write(a, out, err, sizeof err)) snprintf(why, len, "fe_write: %s", err);
  else if (!(b = fe_load(out, NULL, err, sizeof err))) snprintf(why, len, "reload: %s", err);
  else if (read_all(out, &file, &flen)) snprintf(why, len, "cannot read back %s", out);
  else if (!same_print(a, b, why, len) && !same_consts(a, b, why, len) &&
           !same_bytes(b, file, flen, "the reloaded graph", why, len) &&
           !same_bytes(a, file, flen, "the original graph", why, len))
    rc = 0;
  free(file);
  ir_graph_free(a);
  ir_graph_free(b);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 3 || (argc - 1) % 2) {
    fprintf(stderr, "usage: fe_roundtrip IN OUT [IN OUT]...\n");
    return 2;
  }
  int bad = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    char why[2048];
    if (one(argv[i], argv[i + 1], why, sizeof why)) {
      fprintf(stderr, "%s: %s\n", argv[i], why);
      bad++;
    }
  }
  return bad ? 1 : 0;
}
