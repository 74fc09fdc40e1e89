/* quantize.c — onnxc_session_quantize: calibration through the library itself (a float session
 * of the same file keeps the activations to quantize as extra outputs and runs the samples),
 * the rewrite (quant_insert.c) of the session's graph, and the accuracy report (the float and
 * the quantized model side by side on held-out samples, per output and per quantized layer). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"
#include "quant.h"

struct onnxc_quant_report {
  int32_t nout, nlayers;
  char **out_names;
  onnxc_compare *outs;
  char **layer_node, **layer_op;
  onnxc_compare *layers;
  int32_t nsens; /* the sensitivity, most sensitive first */
  char **sens_node, **sens_op;
  onnxc_compare *sens;
  int32_t *sens_kept;
};

/* ---- extra outputs ---- */
static int add_output(onnxc_session *s, void *arg) {
  const char *name = arg;
  Graph *g = s->g;
  for (int i = 0; i < g->noutputs; i++)
    if (!strcmp(g->outputs[i]->name, name)) return ONNXC_OK;
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (strcmp(v->name, name) || v->kind == VK_OUTER) continue;
    Value **o = arena_alloc(g->arena, sizeof(Value *) * (size_t)(g->noutputs + 1));
    if (g->noutputs) memcpy(o, g->outputs, sizeof(Value *) * (size_t)g->noutputs);
    o[g->noutputs++] = v;
    g->outputs = o;
    v->is_output = true;
    return ONNXC_OK;
  }
  return lib_fail(s, ONNXC_ERR_ARGUMENT, "the model has no value called '%.1000s'", name);
}

static int check_unprepared(onnxc_session *s, const char *what) {
  if (!s->g || s->state != LIB_LOADED || s->passed || s->vars)
    return lib_fail(s, ONNXC_ERR_STATE, "%s: only before the session is prepared or compiled (and without "
                    "variants)", what);
  return ONNXC_OK;
}

int onnxc_session_add_output(onnxc_session *s, const char *name) {
  if (!s || !name) return s ? lib_fail(s, ONNXC_ERR_ARGUMENT, "add output: no name") : ONNXC_ERR_ARGUMENT;
  int rc = check_unprepared(s, "add output");
  return rc ? rc : lib_guard(s, add_output, (void *)name);
}

/* ---- running a float or quantized copy of the model ---- */
typedef struct Runner {
  onnxc_session *c;
  int32_t nin, nout;
  onnxc_tensor *outs;
  int64_t (*dims)[ONNXC_MAX_RANK];
} Runner;

static void runner_free(Runner *r) {
  for (int i = 0; r->outs && i < r->nout; i++) free(r->outs[i].data);
  free(r->outs);
  free(r->dims);
  onnxc_session_free(r->c);
  memset(r, 0, sizeof *r);
}

/* a session of s's file with s's options, minus the cache, profiling and variants */
static int runner_open(onnxc_session *s, Runner *r) {
  memset(r, 0, sizeof *r);
  onnxc_session_options o = s->opt;
  o.cache_dir[0] = 0;
  o.profile = o.perf_map = o.time_phases = o.dump_llvm = false;
  o.max_variants = 0;
  int rc = onnxc_session_create_from_file(s->path, &o, &r->c);
  if (rc) rc = lib_fail(s, rc, "%s", r->c ? r->c->err : "out of memory");
  return rc;
}

static int runner_fail(onnxc_session *s, Runner *r, int rc, const char *what) {
  return lib_fail(s, rc, "%s: %s", what, onnxc_session_error(r->c));
}

/* compiles for the first sample's shapes and allocates every output */
static int runner_prepare(onnxc_session *s, Runner *r, const onnxc_tensor *in, const char *what) {
  r->nin = onnxc_session_num_inputs(r->c);
  int rc = onnxc_session_prepare(r->c, in, r->nin);
  if (rc) return runner_fail(s, r, rc, what);
  r->nout = onnxc_session_num_outputs(r->c);
  r->outs = ir_xcalloc((size_t)r->nout + 1, sizeof *r->outs);
  r->dims = ir_xcalloc((size_t)r->nout + 1, sizeof *r->dims);
  for (int i = 0; i < r->nout; i++) {
    onnxc_value_info vi;
    onnxc_session_output_info(r->c, i, &vi);
    int64_t n = 1;
    for (int d = 0; d < vi.rank; d++) n *= r->dims[i][d] = vi.dims[d];
    size_t bytes = (size_t)n * dtype_size((DType)vi.dtype);
    r->outs[i] = (onnxc_tensor){.data = ir_xmalloc(bytes ? bytes : 1), .bytes = (int64_t)bytes,
                                .dtype = vi.dtype, .rank = vi.rank, .dims = r->dims[i]};
  }
  return ONNXC_OK;
}

static int runner_run(onnxc_session *s, Runner *r, const onnxc_tensor *in, int k, const char *what) {
  int rc = onnxc_session_run(r->c, in, r->nin, r->outs, r->nout);
  if (rc) return lib_fail(s, rc, "%s, sample %d: %s", what, k, onnxc_session_error(r->c));
  return ONNXC_OK;
}

static int64_t numel(const onnxc_tensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->rank; d++) n *= t->dims[d];
  return n;
}

/* ---- calibration ---- */
typedef struct Job {
  const onnxc_quantize_options *qo;
  QuantPlan plan;
  QuantRange *ranges;
  onnxc_quant_report *rep; /* NULL: no report asked */
  int *drop;               /* keep_sensitive: the layers left in float (plan.drop) */
  int done;
} Job;

/* pass one (min/max) or two (histograms) over every sample */
static int calib_pass(onnxc_session *s, Runner *r, const Job *j, const int *idx, CalibStat *st, int na, int pass) {
  int32_t nin = r->nin;
  for (int k = 0; k < j->qo->num_samples; k++) {
    int rc = runner_run(s, r, j->qo->samples + (size_t)k * (size_t)nin, k, "calibration");
    if (rc) return rc;
    for (int a = 0; a < na; a++) {
      const onnxc_tensor *t = &r->outs[idx[a]];
      if (t->dtype != ONNXC_DT_FLOAT) continue;
      if (pass == 1) calib_minmax(&st[a], t->data, numel(t));
      else calib_hist(&st[a], t->data, numel(t), j->qo->method == ONNXC_CALIB_ENTROPY);
    }
  }
  return ONNXC_OK;
}

static int calibrate(onnxc_session *s, Job *j) {
  Value **acts;
  int na = quant_activations(s->g, &j->plan, &acts), rc;
  Runner r;
  if (!na) {
    free(acts);
    return ONNXC_OK;
  }
  int *idx = ir_xcalloc((size_t)na, sizeof(int));
  CalibStat *st = ir_xcalloc((size_t)na, sizeof(CalibStat));
  if (!(rc = runner_open(s, &r))) {
    for (int a = 0; a < na && !rc; a++) rc = onnxc_session_add_output(r.c, acts[a]->name);
    if (rc) rc = runner_fail(s, &r, rc, "calibration");
    if (!rc) rc = runner_prepare(s, &r, j->qo->samples, "calibration: compiling the float model");
    for (int a = 0; a < na && !rc; a++) idx[a] = onnxc_session_output_index(r.c, acts[a]->name), calib_init(&st[a]);
    if (!rc) rc = calib_pass(s, &r, j, idx, st, na, 1);
    if (!rc && j->qo->method != ONNXC_CALIB_MINMAX) rc = calib_pass(s, &r, j, idx, st, na, 2);
  }
  runner_free(&r);
  j->ranges = ir_xcalloc((size_t)na, sizeof(QuantRange));
  for (int a = 0; a < na && !rc; a++) {
    j->ranges[a].name = acts[a]->name;
    calib_range(&st[a], (CalibMethod)j->qo->method, j->qo->percentile, &j->ranges[a].lo, &j->ranges[a].hi);
  }
  j->plan.ranges = j->ranges, j->plan.nranges = rc ? 0 : na;
  free(st), free(idx), free(acts);
  return rc;
}

static char *xstrdup(const char *s) { return strcpy(ir_xmalloc(strlen(s) + 1), s); }

/* ---- per-layer sensitivity: each layer quantized alone ---- */
typedef struct Refs {
  int nout, n;
  onnxc_tensor *t;                  /* t[k * nout + i]: output i of the float model on eval sample k */
  int64_t (*dims)[ONNXC_MAX_RANK];
} Refs;

static void refs_free(Refs *r) {
  for (int i = 0; r->t && i < r->n; i++) free(r->t[i].data);
  free(r->t), free(r->dims);
}

/* the float model's outputs on every eval sample, kept for the layer runs */
static int float_refs(onnxc_session *s, Job *j, Refs *r) {
  Runner f;
  int rc = runner_open(s, &f);
  if (!rc) rc = runner_prepare(s, &f, j->qo->eval_samples, "sensitivity: compiling the float model");
  int nev = j->qo->num_eval_samples;
  if (!rc) {
    r->nout = f.nout, r->n = nev * f.nout;
    r->t = ir_xcalloc((size_t)r->n + 1, sizeof *r->t);
    r->dims = ir_xcalloc((size_t)r->n + 1, sizeof *r->dims);
  }
  for (int k = 0; k < nev && !rc; k++) {
    rc = runner_run(s, &f, j->qo->eval_samples + (size_t)k * (size_t)f.nin, k, "sensitivity, float model");
    for (int i = 0; i < f.nout && !rc; i++) {
      onnxc_tensor *t = &r->t[k * f.nout + i];
      *t = f.outs[i];
      t->data = memcpy(ir_xmalloc((size_t)t->bytes + 1), f.outs[i].data, (size_t)t->bytes);
      memcpy(r->dims[k * f.nout + i], f.dims[i], sizeof r->dims[0]);
      t->dims = r->dims[k * f.nout + i];
    }
  }
  runner_free(&f);
  return rc;
}

/* the graph outputs with only the pos-th layer quantized, against refs: the output of lowest cosine */
static int layer_sensitivity(onnxc_session *s, Job *j, int pos, const Refs *refs, onnxc_compare *worst) {
  Runner q;
  int rc = runner_open(s, &q);
  if (rc) return rc;
  QuantPlan p = j->plan;
  p.only = pos + 1, p.ndrop = 0;
  if (quant_apply(q.c->g, &p) < 0) rc = lib_fail(s, ONNXC_ERR_MODEL, "%s", ir_last_error(q.c->g));
  if (!rc) rc = runner_prepare(s, &q, j->qo->eval_samples, "sensitivity: compiling a one-layer int8 model");
  onnxc_compare *c = ir_xcalloc((size_t)refs->nout + 1, sizeof *c);
  for (int i = 0; i < refs->nout; i++) onnxc_compare_init(&c[i]);
  for (int k = 0; k < j->qo->num_eval_samples && !rc; k++) {
    rc = runner_run(s, &q, j->qo->eval_samples + (size_t)k * (size_t)q.nin, k, "sensitivity, one-layer int8 model");
    for (int i = 0; i < refs->nout && i < q.nout && !rc; i++) onnxc_compare_add(&c[i], &refs->t[k * refs->nout + i], &q.outs[i]);
  }
  int w = 0;
  for (int i = 1; i < refs->nout; i++)
    if (c[i].cosine < c[w].cosine) w = i;
  if (!rc) *worst = c[w];
  free(c);
  runner_free(&q);
  return rc;
}

static int cmp_sens(const void *a, const void *b, void *arg) {
  const onnxc_compare *c = arg;
  double x = c[*(const int *)a].cosine, y = c[*(const int *)b].cosine;
  return x < y ? -1 : x > y ? 1 : *(const int *)a - *(const int *)b;
}

/* measures every layer, keeps the keep_sensitive most sensitive in float (j->plan.drop) and
 * stores the measure in the report, if any */
static int sensitivity(onnxc_session *s, Job *j) {
  Node **ns;
  int nl = quant_nodes(s->g, &j->plan, &ns), rc;
  Refs refs = {0};
  onnxc_compare *c = ir_xcalloc((size_t)nl + 1, sizeof *c);
  int *order = ir_xcalloc((size_t)nl + 1, sizeof(int));
  rc = float_refs(s, j, &refs);
  for (int l = 0; l < nl && !rc; l++) rc = layer_sensitivity(s, j, l, &refs, &c[l]), order[l] = l;
  refs_free(&refs);
  if (!rc) {
    qsort_r(order, (size_t)nl, sizeof(int), cmp_sens, c);
    int nkeep = j->qo->keep_sensitive < nl ? j->qo->keep_sensitive : nl;
    j->drop = ir_xcalloc((size_t)nkeep + 1, sizeof(int));
    for (int i = 0; i < nkeep; i++) j->drop[i] = order[i];
    j->plan.drop = j->drop, j->plan.ndrop = nkeep;
    onnxc_quant_report *r = j->rep;
    if (r) {
      r->sens_node = ir_xcalloc((size_t)nl + 1, sizeof(char *)), r->sens_op = ir_xcalloc((size_t)nl + 1, sizeof(char *));
      r->sens = ir_xcalloc((size_t)nl + 1, sizeof *r->sens), r->sens_kept = ir_xcalloc((size_t)nl + 1, sizeof(int32_t));
      for (int i = 0; i < nl; i++) {
        const Node *n = ns[order[i]];
        r->sens_node[i] = xstrdup(n->name), r->sens_op[i] = xstrdup(ir_ops[n->op].name);
        r->sens[i] = c[order[i]], r->sens_kept[i] = i < nkeep;
      }
      r->nsens = nl;
    }
  }
  free(order), free(c), free(ns);
  return rc;
}

/* ---- the report ---- */
static int cmp_layers(const void *a, const void *b, void *arg) {
  const onnxc_quant_report *r = arg;
  double x = r->layers[*(const int *)a].cosine, y = r->layers[*(const int *)b].cosine;
  return x < y ? -1 : x > y ? 1 : *(const int *)a - *(const int *)b;
}

/* orders the layers worst first */
static void sort_layers(onnxc_quant_report *r) {
  int *o = ir_xcalloc((size_t)r->nlayers + 1, sizeof(int));
  for (int i = 0; i < r->nlayers; i++) o[i] = i;
  qsort_r(o, (size_t)r->nlayers, sizeof(int), cmp_layers, r);
  char **n = ir_xcalloc((size_t)r->nlayers + 1, sizeof(char *)), **op = ir_xcalloc((size_t)r->nlayers + 1, sizeof(char *));
  onnxc_compare *c = ir_xcalloc((size_t)r->nlayers + 1, sizeof *c);
  for (int i = 0; i < r->nlayers; i++) n[i] = r->layer_node[o[i]], op[i] = r->layer_op[o[i]], c[i] = r->layers[o[i]];
  free(r->layer_node), free(r->layer_op), free(r->layers), free(o);
  r->layer_node = n, r->layer_op = op, r->layers = c;
}

/* the report's layers: the quantized nodes' first outputs, kept as extra outputs of both runs */
static int report_layers(onnxc_session *s, Job *j, Runner *f, Runner *q) {
  Node **ns;
  int nl = quant_nodes(s->g, &j->plan, &ns), rc = ONNXC_OK;
  onnxc_quant_report *r = j->rep;
  r->layer_node = ir_xcalloc((size_t)nl + 1, sizeof(char *));
  r->layer_op = ir_xcalloc((size_t)nl + 1, sizeof(char *));
  r->layers = ir_xcalloc((size_t)nl + 1, sizeof(onnxc_compare));
  for (int i = 0; i < nl && !rc; i++) {
    const char *v = ns[i]->out[0]->name;
    r->layer_node[i] = xstrdup(ns[i]->name), r->layer_op[i] = xstrdup(ir_ops[ns[i]->op].name);
    r->nlayers++;
    onnxc_compare_init(&r->layers[i]);
    if ((rc = onnxc_session_add_output(f->c, v))) rc = runner_fail(s, f, rc, "report");
    else if ((rc = onnxc_session_add_output(q->c, v))) rc = runner_fail(s, q, rc, "report");
  }
  free(ns);
  return rc;
}

/* runs the eval samples through both models and compares */
static int report_runs(onnxc_session *s, Job *j, Runner *f, Runner *q) {
  onnxc_quant_report *r = j->rep;
  int rc = runner_prepare(s, f, j->qo->eval_samples, "report: compiling the float model");
  if (!rc) rc = runner_prepare(s, q, j->qo->eval_samples, "report: compiling the quantized model");
  r->nout = rc ? 0 : s->g->noutputs;
  r->out_names = ir_xcalloc((size_t)r->nout + 1, sizeof(char *));
  r->outs = ir_xcalloc((size_t)r->nout + 1, sizeof(onnxc_compare));
  for (int i = 0; i < r->nout; i++) r->out_names[i] = xstrdup(s->g->outputs[i]->name), onnxc_compare_init(&r->outs[i]);
  for (int k = 0; k < j->qo->num_eval_samples && !rc; k++) {
    const onnxc_tensor *in = j->qo->eval_samples + (size_t)k * (size_t)f->nin;
    if ((rc = runner_run(s, f, in, k, "report, float model")) || (rc = runner_run(s, q, in, k, "report, quantized model")))
      break;
    for (int i = 0; i < r->nout; i++) onnxc_compare_add(&r->outs[i], &f->outs[i], &q->outs[i]);
    for (int l = 0; l < r->nlayers; l++) {
      /* layer l's value is the l-th extra output, or one of the model's own */
      int32_t fi = -1, qi = -1;
      const char *v = NULL;
      for (int i = 0; i < s->g->nnodes && !v; i++)
        if (!strcmp(s->g->nodes[i]->name, r->layer_node[l])) v = s->g->nodes[i]->out[0]->name;
      if (v) fi = onnxc_session_output_index(f->c, v), qi = onnxc_session_output_index(q->c, v);
      if (fi >= 0 && qi >= 0) onnxc_compare_add(&r->layers[l], &f->outs[fi], &q->outs[qi]);
    }
  }
  return rc;
}

static int report(onnxc_session *s, Job *j) {
  Runner f, q;
  int rc = runner_open(s, &f);
  if (rc) return rc;
  if ((rc = runner_open(s, &q))) {
    runner_free(&f);
    return rc;
  }
  if (quant_apply(q.c->g, &j->plan) < 0) rc = lib_fail(s, ONNXC_ERR_MODEL, "%s", ir_last_error(q.c->g));
  if (!rc) rc = report_layers(s, j, &f, &q);
  if (!rc) rc = report_runs(s, j, &f, &q);
  if (!rc) sort_layers(j->rep);
  runner_free(&f), runner_free(&q);
  return rc;
}

/* ---- the entry point ---- */
static int check_samples(onnxc_session *s, const onnxc_tensor *t, int32_t n, const char *what) {
  int32_t nin = s->g->ninputs;
  if (n > 0 && !t) return lib_fail(s, ONNXC_ERR_ARGUMENT, "quantize: %s samples: NULL with a count of %d", what, n);
  for (int32_t k = 1; k < n; k++)
    for (int32_t i = 0; i < nin; i++) {
      const onnxc_tensor *a = &t[i], *b = &t[(size_t)k * (size_t)nin + i];
      bool same = a->rank == b->rank && a->dtype == b->dtype;
      for (int d = 0; same && d < a->rank; d++) same = a->dims[d] == b->dims[d];
      if (!same)
        return lib_fail(s, ONNXC_ERR_ARGUMENT, "quantize: %s sample %d: input '%.500s' differs in dtype or shape "
                        "from sample 0 (all samples must have one shape)", what, k, s->g->inputs[i]->name);
    }
  return ONNXC_OK;
}

static int check_options(onnxc_session *s, const onnxc_quantize_options *qo, bool want_report) {
  if ((unsigned)qo->mode > ONNXC_QUANT_DYNAMIC || (unsigned)qo->method > ONNXC_CALIB_ENTROPY)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "quantize: unknown mode %d or method %d", qo->mode, qo->method);
  if (!(qo->percentile >= 0 && qo->percentile < 100))
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "quantize: percentile %g is not in (0, 100)", qo->percentile);
  if (qo->num_samples < 0 || qo->num_eval_samples < 0 || qo->num_keep_float < 0 || (qo->num_keep_float && !qo->keep_float))
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "quantize: negative count or NULL keep_float list");
  if (qo->mode == ONNXC_QUANT_STATIC && qo->num_samples < 1)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "quantize: static quantization needs calibration samples (none given)");
  if ((qo->sensitivity || qo->keep_sensitive) && (qo->mode != ONNXC_QUANT_STATIC || qo->num_eval_samples < 1 ||
                                                   qo->keep_sensitive < 0))
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "quantize: the sensitivity (and keep_sensitive %d) needs static "
                    "quantization and eval samples", qo->keep_sensitive);
  bool runs = qo->mode == ONNXC_QUANT_STATIC || want_report;
  if (runs && !strcmp(s->path, "<buffer>"))
    return lib_fail(s, ONNXC_ERR_STATE, "quantize: calibration and the report need a session created from a file");
  int rc = check_samples(s, qo->samples, qo->num_samples, "calibration");
  return rc ? rc : check_samples(s, qo->eval_samples, qo->num_eval_samples, "eval");
}

static int quantize(onnxc_session *s, void *arg) {
  Job *j = arg;
  const onnxc_quantize_options *qo = j->qo;
  j->plan = (QuantPlan){.dynamic = qo->mode == ONNXC_QUANT_DYNAMIC, .act_signed = qo->signed_activations != 0,
                        .per_tensor = qo->per_tensor_weights != 0, .keep = qo->keep_float, .nkeep = qo->num_keep_float};
  int rc = check_options(s, qo, j->rep != NULL);
  if (!rc && !j->plan.dynamic) rc = calibrate(s, j);
  if (!rc && (qo->sensitivity || qo->keep_sensitive)) rc = sensitivity(s, j);
  if (!rc && j->rep) rc = report(s, j);
  if (rc) return rc;
  int n = quant_apply(s->g, &j->plan);
  if (n < 0) {
    s->state = LIB_FAILED;
    return lib_fail(s, ONNXC_ERR_MODEL, "%s", ir_last_error(s->g));
  }
  j->done = n;
  s->model_digest = 0; /* the cache keys a model by its file's bytes: this graph is not that file */
  return ONNXC_OK;
}

int onnxc_session_quantize(onnxc_session *s, const onnxc_quantize_options *qo, onnxc_quant_report **report) {
  if (report) *report = NULL;
  if (!s || !qo) return s ? lib_fail(s, ONNXC_ERR_ARGUMENT, "quantize: no options") : ONNXC_ERR_ARGUMENT;
  int rc = check_unprepared(s, "quantize");
  if (rc) return rc;
  Job j = {.qo = qo};
  if (report && qo->num_eval_samples > 0 && !(j.rep = calloc(1, sizeof *j.rep)))
    return lib_fail(s, ONNXC_ERR_NOMEM, "out of memory");
  rc = lib_guard(s, quantize, &j);
  free(j.ranges), free(j.drop);
  if (!rc) s->quantized = j.done;
  if (rc) onnxc_quant_report_free(j.rep);
  else if (report) *report = j.rep;
  return rc;
}

int32_t onnxc_session_num_quantized(const onnxc_session *s) { return s ? s->quantized : 0; }

/* ---- the report's accessors ---- */
int32_t onnxc_quant_report_num_outputs(const onnxc_quant_report *r) { return r ? r->nout : 0; }
int32_t onnxc_quant_report_num_layers(const onnxc_quant_report *r) { return r ? r->nlayers : 0; }

int onnxc_quant_report_output(const onnxc_quant_report *r, int32_t i, const char **name, onnxc_compare *out) {
  if (!r || i < 0 || i >= r->nout) return ONNXC_ERR_ARGUMENT;
  if (name) *name = r->out_names[i];
  if (out) *out = r->outs[i];
  return ONNXC_OK;
}

int onnxc_quant_report_layer(const onnxc_quant_report *r, int32_t i, const char **node, const char **op,
                             onnxc_compare *out) {
  if (!r || i < 0 || i >= r->nlayers) return ONNXC_ERR_ARGUMENT;
  if (node) *node = r->layer_node[i];
  if (op) *op = r->layer_op[i];
  if (out) *out = r->layers[i];
  return ONNXC_OK;
}

int32_t onnxc_quant_report_num_sensitivity(const onnxc_quant_report *r) { return r ? r->nsens : 0; }

int onnxc_quant_report_sensitivity(const onnxc_quant_report *r, int32_t i, const char **node, const char **op,
                                   onnxc_compare *out, int32_t *kept) {
  if (!r || i < 0 || i >= r->nsens) return ONNXC_ERR_ARGUMENT;
  if (node) *node = r->sens_node[i];
  if (op) *op = r->sens_op[i];
  if (out) *out = r->sens[i];
  if (kept) *kept = r->sens_kept[i];
  return ONNXC_OK;
}

void onnxc_quant_report_free(onnxc_quant_report *r) {
  if (!r) return;
  for (int i = 0; i < r->nsens; i++) free(r->sens_node[i]), free(r->sens_op[i]);
  free(r->sens_node), free(r->sens_op), free(r->sens), free(r->sens_kept);
  for (int i = 0; i < r->nout; i++) free(r->out_names[i]);
  for (int i = 0; i < r->nlayers; i++) free(r->layer_node[i]), free(r->layer_op[i]);
  free(r->out_names), free(r->outs), free(r->layer_node), free(r->layer_op), free(r->layers);
  free(r);
}
