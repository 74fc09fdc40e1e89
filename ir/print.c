/* print.c — the IR's text form (ir_print): stable, one line per value or node, e.g.
 *
 *   graph main (opset 13)
 *     input  %input: float32[1x3x224x224]
 *     const  %w: float32[64x3x7x7]
 *     %y: float32[1x64x112x112] = Conv(%input, %w, _) {kernel_shape=[7,7], strides=[2,2]}   # conv1
 *     output %y
 *
 * Missing optional operands print as "_", attributes are sorted by name, constants of up to
 * PRINT_ELEMS elements show their values, and subgraphs follow their node, indented. */
#include "ir.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRINT_ELEMS 8

static void pr_name(FILE *f, const char *s) {
  if (*s == '%') s++;
  bool plain = *s != 0;
  for (const char *p = s; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("_.-/:", *p)) plain = false;
  if (plain) {
    fprintf(f, "%%%s", s);
    return;
  }
  fputs("%\"", f);
  for (const char *p = s; *p; p++) {
    if (*p == '"' || *p == '\\') fputc('\\', f);
    if ((unsigned char)*p < 0x20) fprintf(f, "\\x%02x", (unsigned char)*p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

/* a node, graph or attribute name from the file, C-style escaped (one line per node stays one line) */
static void pr_text(FILE *f, const char *s) {
  char buf[256], *p = buf;
  size_t n = ir_name_escape(s, buf, sizeof buf);
  if (n >= sizeof buf && (p = malloc(n + 1))) ir_name_escape(s, p, n + 1);
  fputs(p ? p : buf, f);
  if (p != buf) free(p);
}

static void pr_ref(FILE *f, const Value *v) {
  if (v) pr_name(f, v->name);
  else fputc('_', f);
}

static void pr_type(FILE *f, const Value *v) {
  fprintf(f, "%s[", dtype_name(v->dtype));
  if (v->rank < 0) fputc('?', f);
  for (int i = 0; i < v->rank; i++) {
    if (i) fputc('x', f);
    if (v->dims[i] >= 0) fprintf(f, "%lld", (long long)v->dims[i]);
    else fputs(v->sym[i] ? v->sym[i] : "?", f);
  }
  fputc(']', f);
}

/* shortest %g form that reads back as the same float */
static void pr_float(FILE *f, double x) {
  char buf[40];
  snprintf(buf, sizeof buf, "%g", x);
  if ((float)strtod(buf, NULL) != (float)x) snprintf(buf, sizeof buf, "%.9g", x);
  fputs(buf, f);
}

static void pr_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    if ((unsigned char)*s < 0x20) fprintf(f, "\\x%02x", (unsigned char)*s);
    else fputc(*s, f);
  }
  fputc('"', f);
}

static void pr_data(FILE *f, const Value *v) {
  int64_t m = ir_value_numel(v);
  if (!v->data || m < 0 || m > PRINT_ELEMS) return;
  fputs(v->rank ? " = [" : " = ", f);
  for (int64_t i = 0; i < m; i++) {
    if (i) fputs(", ", f);
    if (dtype_is_float(v->dtype)) pr_float(f, ir_const_f64(v, i));
    else if (v->dtype == DT_UINT64) fprintf(f, "%llu", (unsigned long long)ir_const_i64(v, i));
    else fprintf(f, "%lld", (long long)ir_const_i64(v, i));
  }
  if (v->rank) fputc(']', f);
}

static int attr_cmp(const void *a, const void *b) {
  return strcmp((*(const Attr *const *)a)->name, (*(const Attr *const *)b)->name);
}

static void pr_attr(FILE *f, const Attr *a) {
  pr_text(f, a->name);
  fputc('=', f);
  switch (a->type) {
  case AT_INT: fprintf(f, "%lld", (long long)a->i); break;
  case AT_FLOAT: pr_float(f, a->f); break;
  case AT_STRING: pr_str(f, a->s); break;
  case AT_TENSOR:
    fputc('<', f);
    if (a->t) {
      pr_type(f, a->t);
      pr_data(f, a->t);
    }
    fputc('>', f);
    break;
  case AT_GRAPH: fprintf(f, "@%s", a->name); break;
  case AT_INTS:
  case AT_FLOATS:
  case AT_STRINGS:
  case AT_TENSORS:
  case AT_GRAPHS:
    fputc('[', f);
    for (int i = 0; i < a->n; i++) {
      if (i) fputc(',', f);
      if (a->type == AT_INTS) fprintf(f, "%lld", (long long)a->ints[i]);
      else if (a->type == AT_FLOATS) pr_float(f, a->floats[i]);
      else if (a->type == AT_STRINGS) pr_str(f, a->strings[i]);
      else if (a->type == AT_GRAPHS) fprintf(f, "@%s.%d", a->name, i);
      else fputs("<tensor>", f);
    }
    fputc(']', f);
    break;
  default: fputs("?", f);
  }
}

static void pr_graph(const Graph *g, FILE *f, int ind, const char *label);

const char *ir_layout_name(ValueLayout l) {
  static const char *const names[VL_COUNT] = {[VL_PLAIN] = "plain"};
  return (unsigned)l < VL_COUNT && names[l] ? names[l] : "?";
}

/* what layout and planning decided, after the type: " <NCHW16c>" when not plain, then
 * " @io[1]" or " @arena+4096" once planned (constants: the backend places them) */
static void pr_place(FILE *f, const Value *v) {
  if (v->layout != VL_PLAIN) fprintf(f, " <%s>", ir_layout_name(v->layout));
  if (v->storage == ST_IO) fprintf(f, " @io[%lld]", (long long)v->offset);
  else if (v->storage == ST_ARENA && v->offset >= 0) fprintf(f, " @arena+%lld", (long long)v->offset);
}

static void pr_node(const Node *n, FILE *f, int ind) {
  fprintf(f, "%*s", ind, "");
  for (int i = 0; i < n->nout; i++) {
    if (i) fputs(", ", f);
    pr_ref(f, n->out[i]);
    if (n->out[i]) {
      fputs(": ", f);
      pr_type(f, n->out[i]);
      pr_place(f, n->out[i]);
    }
  }
  fprintf(f, " = %s%s%s(", n->domain, *n->domain ? "." : "", ir_ops[n->op].name);
  for (int i = 0; i < n->nin; i++) {
    if (i) fputs(", ", f);
    pr_ref(f, n->in[i]);
  }
  fputc(')', f);
  const Attr **sorted = ir_xmalloc(sizeof(Attr *) * (size_t)(n->nattr ? n->nattr : 1));
  for (int i = 0; i < n->nattr; i++) sorted[i] = &n->attrs[i];
  qsort(sorted, (size_t)n->nattr, sizeof *sorted, attr_cmp);
  for (int i = 0; i < n->nattr; i++) {
    fputs(i ? ", " : " {", f);
    pr_attr(f, sorted[i]);
  }
  if (n->nattr) fputc('}', f);
  if (n->epi) { /* fused epilogue (passes/fuse.c): "+ Add + Relu" */
    fputs(" +", f);
    if (n->epi->res) fputs(" Add", f);
    for (int i = 0; i < n->epi->nact; i++) fprintf(f, " %s", ir_ops[n->epi->act[i]->op].name);
  }
  fputs("   # ", f);
  pr_text(f, n->name);
  fputc('\n', f);
  for (int i = 0; i < n->nattr; i++) {
    const Attr *a = sorted[i];
    if (a->type == AT_GRAPH && a->g) pr_graph(a->g, f, ind + 4, a->name);
    for (int j = 0; a->type == AT_GRAPHS && j < a->n; j++) {
      char label[300];
      snprintf(label, sizeof label, "%.250s.%d", a->name, j);
      if (a->graphs[j]) pr_graph(a->graphs[j], f, ind + 4, label);
    }
  }
  free(sorted);
}

static void pr_decl(FILE *f, int ind, const char *kw, const Value *v) {
  fprintf(f, "%*s%-6s ", ind, "", kw);
  pr_ref(f, v);
  fputs(": ", f);
  pr_type(f, v);
  pr_place(f, v);
  if (v->kind == VK_CONST) pr_data(f, v);
  if (v->kind == VK_OUTER && v->outer && strcmp(v->outer->name, v->name)) {
    fputs(" <- ", f);
    pr_ref(f, v->outer);
  }
  fputc('\n', f);
}

static void pr_graph(const Graph *g, FILE *f, int ind, const char *label) {
  fprintf(f, "%*s", ind, "");
  if (label) fprintf(f, "%s: ", label);
  fputs("graph ", f);
  pr_text(f, g->name ? g->name : "?");
  fprintf(f, " (opset %lld)", (long long)g->opset);
  if (g->planned) fprintf(f, " arena %lld", (long long)g->arena_bytes);
  fputc('\n', f);
  ind += 2;
  for (int i = 0; i < g->ninputs; i++) pr_decl(f, ind, "input", g->inputs[i]);
  /* constants and captured values that live nodes or the outputs use, in value order */
  bool *used = ir_xcalloc((size_t)g->nvalues + 1, 1);
  for (int i = 0; i < g->nnodes; i++) {
    const Node *n = g->nodes[i];
    for (int j = 0; j < n->nin && !n->dead; j++) {
      const Value *v = n->in[j];
      if (v && v->id >= 0 && v->id < g->nvalues && g->values[v->id] == v) used[v->id] = true;
    }
  }
  for (int i = 0; i < g->noutputs; i++) {
    const Value *v = g->outputs[i];
    if (v && v->id >= 0 && v->id < g->nvalues && g->values[v->id] == v) used[v->id] = true;
  }
  for (int i = 0; i < g->nvalues; i++) {
    const Value *v = g->values[i];
    if (used[i] && (v->kind == VK_CONST || v->kind == VK_OUTER))
      pr_decl(f, ind, v->kind == VK_CONST ? "const" : "outer", v);
  }
  free(used);
  for (int i = 0; i < g->nnodes; i++)
    if (!g->nodes[i]->dead) pr_node(g->nodes[i], f, ind);
  for (int i = 0; i < g->noutputs; i++) {
    fprintf(f, "%*soutput ", ind, "");
    pr_ref(f, g->outputs[i]);
    fputc('\n', f);
  }
}

void ir_print(const Graph *g, void *file) { pr_graph(g, file, 0, NULL); }

void ir_node_label(const Node *n, char *buf, size_t len) {
  if (n->name && *n->name) snprintf(buf, len, "%s '%s'", ir_ops[n->op].name, n->name);
  else snprintf(buf, len, "%s", ir_ops[n->op].name);
}
