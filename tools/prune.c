/* prune.c — `onnxc prune` (a pruned copy of a model, and the report of what was pruned) and the
 * --prune SPEC option of compile, run and bench.  The pruning is libonnxc's (lib/prune.c); this
 * file parses arguments and prints. */
#include <stdlib.h>
#include <string.h>

#include "prune_recal.h"
#include "samples.h"
#include "tool.h"

static onnxc_prune_spec prune_spec; /* --prune */
static bool prune_set;

int tool_prune_flag(const char *cmd, int argc, char **argv, int *i) {
  if (strcmp(argv[*i], "--prune")) return 0;
  char err[512];
  const char *v = *i + 1 < argc ? argv[++*i] : NULL;
  if (!v) {
    fprintf(stderr, "onnxc %s: --prune needs a spec (e.g. --prune 0.3,channel or --prune 2:4)\n", cmd);
    return -1;
  }
  if (onnxc_prune_spec_parse(v, &prune_spec, err, sizeof err)) {
    fprintf(stderr, "onnxc %s: --prune: %s\n", cmd, err);
    return -1;
  }
  prune_set = true;
  return 1;
}

int tool_prune_options_to(onnxc_session_options *op) { return prune_set ? onnxc_options_set_prune(op, &prune_spec) : ONNXC_OK; }

/* ---- the per-layer lines (onnxc info, onnxc prune --report) ---- */

static void print_layer(FILE *f, const onnxc_layer_info *l, bool report) {
  char nm[IR_NAME_MSG];
  fprintf(f, "  %-6s %-44s %-16s %10lld  sparsity %5.1f%%  %-12s", l->op, ir_name_msg(l->name, nm, sizeof nm), l->shape,
          (long long)l->params, 100 * l->sparsity, l->structure);
  if (report && l->channels_before != l->channels_after)
    fprintf(f, "  channels %lld -> %lld", (long long)l->channels_before, (long long)l->channels_after);
  if (report && l->pruned) fprintf(f, "  kept energy %.3f", l->kept_energy);
  if (report && l->recalibrated) fprintf(f, "  recalibrated");
  if (report && l->skipped) fprintf(f, "  left alone: %s", l->skipped);
  fprintf(f, "  kernel: %s", l->kernel);
  fputc('\n', f);
}

int tool_print_layers(onnxc_session *s, FILE *f, bool report) {
  int32_t n = onnxc_session_num_layers(s);
  double params = 0, zeros = 0;
  onnxc_layer_info l;
  for (int32_t i = 0; i < n; i++)
    if (!onnxc_session_layer_info(s, i, &l)) params += (double)l.params, zeros += (double)l.zeros;
  if (!n) return fprintf(f, "layers with weights: none\n"), 0;
  fprintf(f, "layers with weights: %d, %.0f weights, sparsity %.1f%% (op, node, weight shape, weights, sparsity, structure, kernel)\n",
          n, params, params > 0 ? 100 * zeros / params : 0);
  for (int32_t i = 0; i < n; i++) {
    int rc = onnxc_session_layer_info(s, i, &l);
    if (rc) return rc;
    print_layer(f, &l, report);
  }
  return 0;
}

/* ---- onnxc prune ---- */

static const char *HELP =
    "usage: onnxc prune MODEL -o OUT.onnx --sparsity S --structure unstructured|N:M|block:RxC|channel\n"
    "                   [--per-layer] [--all] [--skip NAME[,NAME]] [--multiple K] [--report]\n"
    "                   [--recalibrate] [--recal-passes N] [--samples DIR] [--shape NAME=DIMS]...\n"
    "                   [--threads N]\n"
    "Writes a pruned copy of the model (a plain ONNX file that ONNX Runtime runs), pruned by weight\n"
    "magnitude.  A layer is a Conv, Gemm or MatMul with a constant weight, seen as K x N (K: the\n"
    "reduction, N: the outputs).\n"
    "  --sparsity S        fraction in [0, 1) of the weights zeroed, or of the output channels removed\n"
    "                      (for N:M it may be left out: it is 1 - N/M)\n"
    "  --structure T       unstructured: the smallest |w|; N:M: N kept of every M neighbours along K\n"
    "                      (2:4); block:RxC: whole RxC blocks of the KxN view (block:1x16: 16\n"
    "                      neighbouring outputs); channel: whole output channels of Convs removed\n"
    "                      and the layers reading them shrunk: a smaller dense model.  A Conv whose\n"
    "                      channels meet another branch (a residual Add, a Concat) is left alone.\n"
    "  --per-layer         every layer to S (default: one threshold over all layers, so layers\n"
    "                      end up with different sparsities)\n"
    "  --all               also prune the sensitive layers left alone by default: those reading a\n"
    "                      graph input and those writing a graph output\n"
    "  --skip LIST         node names or op types to leave alone\n"
    "  --multiple K        channel: round each layer's kept channels to a multiple of K\n"
    "  --report            per layer: weight shape, sparsity, structure found, channels, energy kept,\n"
    "                      why a layer was left alone; per output: cosine similarity, max abs and\n"
    "                      rel error of the pruned model (the written file) against the dense one\n"
    "  --recalibrate       after pruning, scale and shift each pruned Conv/Gemm output channel so its\n"
    "                      mean and standard deviation on the samples match the dense model's:\n"
    "                      W'[c] = a W[c], b'[c] = a b[c] + mean_dense - a mean_pruned, a = sd_dense /\n"
    "                      sd_pruned clamped to [0.5, 2]; zeros stay zeros.  Measured on --samples,\n"
    "                      else on 4 pseudo-random samples (floats in [-1, 1), not the report's;\n"
    "                      with --samples the report runs the same samples).  Layer by layer, each\n"
    "                      measured in the model corrected so far: one compile per pruned layer\n"
    "  --recal-passes N    sweeps over the layers (default 1)\n"
    "  --samples DIR       the inputs the report and --recalibrate run (DIR/s0/NAME.npy, or DIR/*.npy for a\n"
    "                      one-input model; default: one pseudo-random sample, floats in [-1, 1),\n"
    "                      integers 0)\n"
    "  --shape NAME=DIMS   fix an input's dims (for the report's default sample)\n"
    "  --threads N         threads for the report's runs (default 0 = all cores)\n"
    "  -h, --help          this help\n";

typedef struct PruneOpts {
  const char *model, *out, *sparsity, *structure, *skip, *multiple, *samples;
  bool per_layer, all, report, help, recal;
  FeShape shapes[TOOL_MAX_IO];
  int nshapes, threads, passes;
} PruneOpts;

static int parse_prune(int argc, char **argv, PruneOpts *o) {
  memset(o, 0, sizeof *o);
  o->passes = 1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], **slot = NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) o->help = true;
    else if (!strcmp(a, "--per-layer")) o->per_layer = true;
    else if (!strcmp(a, "--all")) o->all = true;
    else if (!strcmp(a, "--report")) o->report = true;
    else if (!strcmp(a, "--recalibrate")) o->recal = true;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) slot = &o->out;
    else if (!strcmp(a, "--sparsity")) slot = &o->sparsity;
    else if (!strcmp(a, "--structure")) slot = &o->structure;
    else if (!strcmp(a, "--skip")) slot = &o->skip;
    else if (!strcmp(a, "--multiple")) slot = &o->multiple;
    else if (!strcmp(a, "--samples")) slot = &o->samples;
    else if (!strcmp(a, "--shape") || !strcmp(a, "--threads") || !strcmp(a, "--recal-passes")) {
      const char *v = i + 1 < argc ? argv[++i] : NULL, *eq = v ? strchr(v, '=') : NULL;
      char *e;
      if (strcmp(a, "--shape")) {
        bool th = !strcmp(a, "--threads");
        long t = v ? strtol(v, &e, 10) : -1;
        if (!v || *e || t < !th || t > (th ? 100000 : 100))
          return fprintf(stderr, "onnxc prune: bad value '%s' for %s\n", v ? v : "", a), -1;
        *(th ? &o->threads : &o->passes) = (int)t;
        continue;
      }
      if (!eq || eq == v || o->nshapes == TOOL_MAX_IO)
        return fprintf(stderr, "onnxc prune: --shape expects NAME=DIMS (e.g. input=1x3x224x224)\n"), -1;
      FeShape *sh = &o->shapes[o->nshapes++];
      sh->name = strndup(v, (size_t)(eq - v));
      if (tool_parse_dims(eq + 1, sh)) return fprintf(stderr, "onnxc prune: bad dims '%s' in --shape\n", eq + 1), -1;
      continue;
    } else if (a[0] == '-' && a[1])
      return fprintf(stderr, "onnxc prune: unknown option '%s' (see onnxc prune --help)\n", a), -1;
    else if (!o->model) o->model = a;
    else return fprintf(stderr, "onnxc prune: unexpected argument '%s' (prune takes one model)\n", a), -1;
    if (slot && !(*slot = i + 1 < argc ? argv[++i] : NULL))
      return fprintf(stderr, "onnxc prune: option %s needs a value\n", a), -1;
  }
  return 0;
}

/* the options as a spec (the --prune text form, so both read alike); -1 printed */
static int spec_from(const PruneOpts *o, onnxc_prune_spec *sp) {
  char text[512], err[768];
  if (!o->structure) return fprintf(stderr, "onnxc prune: --structure is required (unstructured, N:M, block:RxC or channel)\n"), -1;
  if (!o->sparsity && !strchr(o->structure, ':'))
    return fprintf(stderr, "onnxc prune: --sparsity is required for --structure %s\n", o->structure), -1;
  if (o->sparsity) {
    char *e;
    double x = strtod(o->sparsity, &e);
    if (e == o->sparsity || *e || !(x >= 0 && x < 1))
      return fprintf(stderr, "onnxc prune: bad --sparsity '%s' (a fraction in [0, 1), e.g. 0.5)\n", o->sparsity), -1;
  }
  snprintf(text, sizeof text, "%s%s%.200s%s%s%s%.20s", o->sparsity ? o->sparsity : "", o->sparsity ? "," : "", o->structure,
           o->per_layer ? ",per-layer" : "", o->all ? ",all" : "", o->multiple ? ",multiple=" : "", o->multiple ? o->multiple : "");
  if (strchr(o->structure, ',') || onnxc_prune_spec_parse(text, sp, err, sizeof err))
    return fprintf(stderr, "onnxc prune: %s\n", strchr(o->structure, ',') ? "bad --structure" : err), -1;
  sp->skip = o->skip;
  return 0;
}

/* pseudo-random inputs of the model's fixed shapes: one sample (floats in [-1, 1), integers 0) */
static int random_sample(onnxc_session *s, Tensor *ts, uint64_t seed, char *err, size_t errlen) {
  uint64_t x = 0x9e3779b97f4a7c15ull + seed * 0x2545f4914f6cdd1dull;
  for (int i = 0; i < onnxc_session_num_inputs(s); i++) {
    onnxc_value_info vi;
    onnxc_session_input_info(s, i, &vi);
    Tensor *t = &ts[i];
    t->dtype = (DType)vi.dtype, t->rank = vi.rank;
    for (int d = 0; d < vi.rank; d++) {
      if (vi.dims[d] < 0)
        return snprintf(err, errlen, "input '%s' has free dims: give --samples DIR or --shape %s=DIMS", IR_NM(vi.name),
                        IR_NM(vi.name)), -1;
      t->dims[d] = vi.dims[d];
    }
    t->bytes = (size_t)tensor_numel(t) * dtype_size(t->dtype);
    if (!(t->data = calloc(1, t->bytes + 1))) return snprintf(err, errlen, "out of memory"), -1;
    for (int64_t k = 0; t->dtype == DT_FLOAT && k < tensor_numel(t); k++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      ((float *)t->data)[k] = (float)((double)(x >> 11) / 9007199254740992.0 * 2 - 1);
    }
  }
  return 0;
}

/* runs session s on each sample; outs[k * nout + j]: sample k's output j (allocated here) */
static int run_all(onnxc_session *s, const char *model, Tensor *ins, int nsamples, Tensor *outs) {
  int nin = onnxc_session_num_inputs(s), nout = onnxc_session_num_outputs(s);
  char err[1024];
  if (tool_prepare(s, model, ins, nin)) return -1;
  for (int k = 0; k < nsamples; k++) {
    if (tool_alloc_outputs(s, outs + k * nout, err, sizeof err)) return fprintf(stderr, "onnxc: %s\n", err), -1;
    if (tool_run_once(s, ins + k * nin, outs + k * nout))
      return fprintf(stderr, "onnxc: %s: %s\n", model, onnxc_session_error(s)), -1;
  }
  return 0;
}

/* the written model against the dense one, per output, over the samples */
static int report_outputs(const PruneOpts *o) {
  onnxc_session *d = tool_open(o->model, o->shapes, o->nshapes, o->threads);
  onnxc_session *p = d ? tool_open(o->out, o->shapes, o->nshapes, o->threads) : NULL;
  tool_deadline_disarm();
  int rc = -1, n = 1, nin = d ? onnxc_session_num_inputs(d) : 0, nout = d ? onnxc_session_num_outputs(d) : 0;
  char err[2048];
  ToolSamples ss = {0};
  Tensor *rnd = NULL, *od = NULL, *op = NULL;
  if (!p) goto out;
  if (nin > TOOL_MAX_IO || nout > TOOL_MAX_IO) {
    fprintf(stderr, "onnxc prune: too many graph inputs or outputs\n");
    goto out;
  }
  Tensor *ins = NULL;
  if (o->samples) {
    if (tool_samples_read(o->samples, d, &ss, err, sizeof err)) goto fail;
    ins = ss.t, n = ss.n;
  } else {
    ins = rnd = calloc((size_t)nin + 1, sizeof *rnd);
    if (!rnd || random_sample(d, rnd, 0, err, sizeof err)) goto fail;
  }
  od = calloc((size_t)(n * nout) + 1, sizeof *od), op = calloc((size_t)(n * nout) + 1, sizeof *op);
  if (!od || !op || run_all(d, o->model, ins, n, od) || run_all(p, o->out, ins, n, op)) goto out;
  printf("outputs of %s against %s (%d sample%s%s):\n", o->out, o->model, n, n == 1 ? "" : "s", o->samples ? "" : ", pseudo-random");
  for (int j = 0; j < nout; j++) {
    onnxc_compare c;
    onnxc_compare_init(&c);
    for (int k = 0; k < n; k++) {
      onnxc_tensor a = tool_tensor(&od[k * nout + j]), b = tool_tensor(&op[k * nout + j]);
      if (onnxc_compare_add(&c, &a, &b)) {
        snprintf(err, sizeof err, "output %d: the pruned model's dims or dtype differ from the dense model's", j);
        goto fail;
      }
    }
    onnxc_value_info vi;
    onnxc_session_output_info(d, j, &vi);
    printf("  output '%s': cosine %.6f, max abs error %.4g, max rel error %.4g\n", IR_NM(vi.name), c.cosine, c.max_abs,
           c.max_rel);
  }
  rc = 0;
  goto out;
fail:
  fprintf(stderr, "onnxc prune: %s\n", err);
out:
  for (int k = 0; od && op && k < n * nout; k++) free(od[k].data), free(op[k].data);
  for (int i = 0; rnd && i < nin; i++) tensor_free(&rnd[i]);
  free(rnd), free(od), free(op);
  tool_samples_free(&ss);
  onnxc_session_free(d);
  onnxc_session_free(p);
  return rc;
}

/* --recalibrate on session s (pruned, not written yet): the samples, or 4 pseudo-random ones */
static int recalibrate(const PruneOpts *o, onnxc_session *s) {
  enum { NSYNTH = 4 };
  int nin = onnxc_session_num_inputs(s), rc = -1;
  char err[2048];
  ToolSamples ss = {0};
  RecalCfg cfg = {.shapes = o->shapes, .nshapes = o->nshapes, .threads = o->threads, .nin = nin, .passes = o->passes};
  Tensor *rnd = NULL;
  if (o->samples) {
    if (tool_samples_read(o->samples, s, &ss, err, sizeof err)) goto fail;
    cfg.ins = ss.t, cfg.n = ss.n;
  } else {
    cfg.ins = rnd = calloc((size_t)(NSYNTH * nin) + 1, sizeof *rnd), cfg.n = NSYNTH;
    if (!rnd) goto fail;
    for (int k = 0; k < NSYNTH; k++) /* seeds 1..4: the report's default sample (seed 0) stays held out */
      if (random_sample(s, rnd + k * nin, (uint64_t)k + 1, err, sizeof err)) goto fail;
  }
  rc = tool_prune_recalibrate(s, o->model, o->out, &cfg);
  goto out;
fail:
  fprintf(stderr, "onnxc prune: --recalibrate: %s\n", rnd || o->samples ? err : "out of memory");
out:
  for (int i = 0; rnd && i < NSYNTH * nin; i++) tensor_free(&rnd[i]);
  free(rnd);
  tool_samples_free(&ss);
  return rc;
}

static void summary(onnxc_session *s, const char *out) {
  int32_t n = onnxc_session_num_layers(s), pruned = 0, recal = 0;
  double params = 0, zeros = 0;
  onnxc_layer_info l;
  for (int32_t i = 0; i < n; i++)
    if (!onnxc_session_layer_info(s, i, &l)) {
      pruned += l.pruned, recal += l.recalibrated;
      params += (double)l.params, zeros += (double)l.zeros;
    }
  printf("pruned %d of %d layers: %.0f weights, %.0f zeros (sparsity %.1f%%); wrote %s\n", pruned, n, params, zeros,
         params > 0 ? 100 * zeros / params : 0, out);
  if (recal) printf("recalibrated %d layers' output statistics to the dense model's\n", recal);
}

int tool_cmd_prune(int argc, char **argv) {
  PruneOpts o;
  onnxc_prune_spec sp;
  int rc = parse_prune(argc, argv, &o);
  if (!rc && (o.help || !o.model || !o.out)) {
    fputs(HELP, o.help ? stdout : stderr);
    rc = o.help ? 0 : 2;
  } else if (rc || spec_from(&o, &sp)) rc = 2;
  else {
    rc = 1;
    onnxc_session *s = tool_open(o.model, o.shapes, o.nshapes, o.threads);
    tool_deadline_disarm();
    if (s && (onnxc_session_prune(s, &sp) || onnxc_session_write_model(s, o.out)))
      fprintf(stderr, "onnxc prune: %s\n", onnxc_session_error(s));
    else if (s && o.recal && recalibrate(&o, s)) { /* printed */
    } else if (s && o.recal && onnxc_session_write_model(s, o.out))
      fprintf(stderr, "onnxc prune: %s\n", onnxc_session_error(s));
    else if (s) {
      summary(s, o.out);
      rc = o.report && (tool_print_layers(s, stdout, true) || report_outputs(&o)) ? 1 : 0;
    }
    onnxc_session_free(s);
  }
  for (int i = 0; i < o.nshapes; i++) free((char *)o.shapes[i].name);
  return rc;
}
