/* variants.c — sessions whose inputs have free dims (batch, sequence, image size) run any shape:
 * each new set of input shapes compiles a variant, kept in a bounded set where the least recently
 * used one is evicted (onnxc_options_set_max_variants).
 *
 * A variant is a child session loaded from the same model (the file again, or the session's copy
 * of the buffer) and prepared for those shapes, because preparing specializes a session's graph in
 * place: the parent keeps its graph as declared (its input_info shows the free dims) and never
 * compiles itself.  The parent forwards run, threads and output_info to the variant in use. */
#include <stdlib.h>
#include <string.h>

#include "lib.h"

typedef int64_t VarKey[ONNXC_MAX_RANK + 1]; /* per input: rank, dims */

typedef struct Variant {
  onnxc_session *s;
  VarKey *key;    /* ninputs rows */
  uint64_t used;  /* tick of its last use: the smallest is evicted */
} Variant;

struct LibVariants {
  void *buf;      /* the model bytes of a session created from a buffer; NULL: s->path */
  size_t bytes;
  int n, cap;     /* cap = max_variants */
  Variant *v;
  Variant *cur;   /* the one last selected or run (output_info answers with its shapes) */
  uint64_t tick;
};

int onnxc_options_set_max_variants(onnxc_session_options *o, int n) {
  if (!o || n < 0 || n > 4096) return ONNXC_ERR_ARGUMENT;
  o->max_variants = n;
  return ONNXC_OK;
}

static bool has_free_dims(const Graph *g) {
  for (int i = 0; i < g->ninputs; i++)
    if (!ir_value_shape_known(g->inputs[i])) return true;
  return false;
}

int lib_variants_init(onnxc_session *s, const void *buf, size_t bytes) {
  if (s->opt.max_variants < 2 || !s->g || !has_free_dims(s->g)) return ONNXC_OK;
  LibVariants *lv = calloc(1, sizeof *lv);
  Variant *v = calloc((size_t)s->opt.max_variants, sizeof *v);
  void *copy = buf ? malloc(bytes ? bytes : 1) : NULL;
  if (!lv || !v || (buf && !copy)) {
    free(lv), free(v), free(copy);
    return lib_fail(s, ONNXC_ERR_NOMEM, "out of memory");
  }
  if (buf) memcpy(copy, buf, bytes);
  *lv = (LibVariants){.buf = copy, .bytes = bytes, .cap = s->opt.max_variants, .v = v};
  s->vars = lv;
  return ONNXC_OK;
}

static void variant_free(Variant *v) {
  onnxc_session_free(v->s);
  free(v->key);
  memset(v, 0, sizeof *v);
}

void lib_variants_free(LibVariants *lv) {
  if (!lv) return;
  for (int i = 0; i < lv->n; i++) variant_free(&lv->v[i]);
  free(lv->v);
  free(lv->buf);
  free(lv);
}

static bool key_equal(const VarKey *key, const onnxc_tensor *in, int n) {
  for (int i = 0; i < n; i++) {
    if (key[i][0] != in[i].rank) return false;
    for (int d = 0; d < in[i].rank; d++)
      if (key[i][d + 1] != in[i].dims[d]) return false;
  }
  return true;
}

/* the inputs' ranks and dims are usable as a key (the data is checked by the variant's run) */
static int check_shapes(onnxc_session *s, const onnxc_tensor *in, int32_t n) {
  if (n != s->g->ninputs || (n && !in))
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "%d inputs given%s, the model has %d", n, n && !in ? " (NULL array)" : "",
                    s->g->ninputs);
  for (int i = 0; i < n; i++) {
    if (in[i].rank < 0 || in[i].rank > ONNXC_MAX_RANK || (in[i].rank && !in[i].dims))
      return lib_fail(s, ONNXC_ERR_ARGUMENT, "input %d '%s': rank %d is not in 0..%d or dims is NULL", i,
                      s->g->inputs[i]->name, in[i].rank, ONNXC_MAX_RANK);
    for (int d = 0; d < in[i].rank; d++)
      if (in[i].dims[d] < 0)
        return lib_fail(s, ONNXC_ERR_ARGUMENT, "input %d '%s': dim %d is negative", i, s->g->inputs[i]->name, d);
  }
  return ONNXC_OK;
}

static Variant *find(LibVariants *lv, const onnxc_tensor *in, int n) {
  for (int i = 0; i < lv->n; i++)
    if (key_equal(lv->v[i].key, in, n)) return &lv->v[i];
  return NULL;
}

/* a free slot, evicting the least recently used variant when the set is full */
static Variant *slot(LibVariants *lv) {
  if (lv->n < lv->cap) return &lv->v[lv->n++];
  Variant *old = &lv->v[0];
  for (int i = 1; i < lv->n; i++)
    if (lv->v[i].used < old->used) old = &lv->v[i];
  if (lv->cur == old) lv->cur = NULL;
  variant_free(old);
  return old;
}

/* the options of a variant: the parent's, with no variants of its own, and (shapes_only) every
 * input fixed to the given dims so it compiles without data */
static int child_options(onnxc_session *s, const onnxc_tensor *in, bool shapes_only, onnxc_session_options *o,
                         FeShape **tmp) {
  *o = s->opt;
  o->max_variants = 0;
  *tmp = NULL;
  if (!shapes_only) return ONNXC_OK;
  int n = s->g->ninputs;
  FeShape *sh = calloc((size_t)(n + s->opt.nshapes + 1), sizeof *sh);
  if (!sh) return lib_fail(s, ONNXC_ERR_NOMEM, "out of memory");
  int k = 0;
  for (int i = 0; i < n; i++, k++) {
    sh[k].name = s->g->inputs[i]->name;
    sh[k].rank = in[i].rank;
    memcpy(sh[k].dims, in[i].dims, sizeof(int64_t) * (size_t)in[i].rank);
  }
  for (int j = 0; j < s->opt.nshapes; j++) /* the options' own, for names that are not inputs */
    if (onnxc_session_input_index(s, s->opt.shapes[j].name) < 0) sh[k++] = s->opt.shapes[j];
  o->shapes = sh, o->nshapes = k;
  *tmp = sh;
  return ONNXC_OK;
}

/* load and prepare a variant for these inputs (their data too, unless shapes_only) */
static int compile(onnxc_session *s, const onnxc_tensor *in, bool shapes_only, onnxc_session **out) {
  LibVariants *lv = s->vars;
  onnxc_session_options o;
  FeShape *tmp;
  int rc = child_options(s, in, shapes_only, &o, &tmp);
  if (rc) return rc;
  onnxc_session *c = NULL;
  rc = lv->buf ? onnxc_session_create_from_buffer(lv->buf, lv->bytes, &o, &c)
               : onnxc_session_create_from_file(s->path, &o, &c);
  free(tmp);
  if (!rc) c->wp = s->wp; /* a cancel of the parent stops the variant's run */
  if (!rc) rc = shapes_only ? onnxc_session_prepare(c, NULL, 0) : onnxc_session_prepare(c, in, s->g->ninputs);
  if (rc) {
    lib_fail(s, rc, "%s", c ? onnxc_session_error(c) : "out of memory");
    onnxc_session_free(c);
    return rc;
  }
  *out = c;
  return ONNXC_OK;
}

/* the variant for these input shapes, compiled if new; becomes the current one */
static int select_variant(onnxc_session *s, const onnxc_tensor *in, int32_t n, bool shapes_only, Variant **out) {
  LibVariants *lv = s->vars;
  int rc = check_shapes(s, in, n);
  if (rc) return rc;
  Variant *v = find(lv, in, n);
  if (!v) {
    VarKey *key = calloc((size_t)n + 1, sizeof *key);
    if (!key) return lib_fail(s, ONNXC_ERR_NOMEM, "out of memory");
    onnxc_session *c;
    if ((rc = compile(s, in, shapes_only, &c))) {
      free(key);
      return rc;
    }
    for (int i = 0; i < n; i++) {
      key[i][0] = in[i].rank;
      memcpy(&key[i][1], in[i].dims, sizeof(int64_t) * (size_t)in[i].rank);
    }
    v = slot(lv);
    *v = (Variant){.s = c, .key = key};
  }
  v->used = ++lv->tick;
  lv->cur = v;
  *out = v;
  return ONNXC_OK;
}

static int no_variants(onnxc_session *s) {
  return s ? lib_fail(s, ONNXC_ERR_STATE, "the session has no variants (max_variants < 2 or no free dims)")
           : ONNXC_ERR_ARGUMENT;
}

int onnxc_session_select_variant(onnxc_session *s, const onnxc_tensor *inputs, int32_t n) {
  Variant *v;
  return s && s->vars ? select_variant(s, inputs, n, false, &v) : no_variants(s);
}

int onnxc_session_add_variant(onnxc_session *s, const onnxc_tensor *inputs, int32_t n) {
  Variant *v;
  return s && s->vars ? select_variant(s, inputs, n, true, &v) : no_variants(s);
}

int32_t onnxc_session_num_variants(const onnxc_session *s) { return s && s->vars ? s->vars->n : 0; }

int lib_variants_run(onnxc_session *s, const onnxc_tensor *inputs, int32_t num_inputs, const onnxc_tensor *outputs,
                     int32_t num_outputs) {
  Variant *v;
  int rc = select_variant(s, inputs, num_inputs, false, &v);
  if (rc) return rc;
  v->s->opt.max_run_time = s->opt.max_run_time; /* onnxc_session_set_max_run_time may have changed it */
  if ((rc = onnxc_session_run(v->s, inputs, num_inputs, outputs, num_outputs)))
    lib_fail(s, rc, "%s", onnxc_session_error(v->s));
  return rc;
}

void lib_variants_set_threads(onnxc_session *s, int threads) {
  for (int i = 0; s->vars && i < s->vars->n; i++) onnxc_session_set_threads(s->vars->v[i].s, threads);
}

int lib_variants_output_info(const onnxc_session *s, int32_t i, onnxc_value_info *out) {
  return s->vars->cur ? onnxc_session_output_info(s->vars->cur->s, i, out) : -1;
}
