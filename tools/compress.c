/* compress.c — `onnxc compress`: a copy of a model with its weights shared by clustering (lib/cluster.c,
 * onnxc_session_cluster), written as Gather(codebook, uint8 indices) that ONNX Runtime runs, and the
 * report of what clustering did (per weight: codebook size and relative error; per output: the
 * compressed model against the original on sample inputs).  This file parses arguments and prints. */
#include <stdlib.h>
#include <string.h>

#include "samples.h"
#include "tool.h"

static const char *HELP =
    "usage: onnxc compress MODEL -o OUT.onnx --cluster K [--cluster-layers LIST] [--min-weights N]\n"
    "                      [--report [--samples DIR]] [--shape NAME=DIMS]... [--threads N]\n"
    "Writes a copy of the model whose weights are shared by clustering: each weight of a Conv, Gemm,\n"
    "MatMul (input 1) or RNN/GRU/LSTM (W and R) becomes at most K float values (a per-layer 1-D\n"
    "k-means, deterministic) and one uint8 index per weight, as Gather(W_codebook, Cast(W_indices))\n"
    "(a plain ONNX file ONNX Runtime runs; onnxc keeps such weights compressed in its kernels).  A\n"
    "pruned weight keeps an exact 0 in its codebook for its zeros.\n"
    "  --cluster K         values per weight, 2..256 (16: 4-bit indices)\n"
    "  --cluster-layers L  comma-separated node names or op types to cluster (default: every layer)\n"
    "  --min-weights N     weights with fewer elements stay float (default 1024)\n"
    "  --report            per weight: codebook size and relative error ||W - Wc|| / ||W||; with\n"
    "                      --samples, per output: cosine, max abs and rel error of the written file\n"
    "                      against the original model\n"
    "  --samples DIR       the inputs the report runs (DIR/s0/NAME.npy, or DIR/*.npy for a one-input model)\n"
    "  --shape NAME=DIMS   fix an input's dims\n"
    "  --threads N         threads for the report's runs (default 0 = all cores)\n"
    "  -h, --help          this help\n";

typedef struct CompressOpts {
  const char *model, *out, *clusters, *layers, *min_weights, *samples;
  bool report, help;
  FeShape shapes[TOOL_MAX_IO];
  int nshapes, threads;
} CompressOpts;

static int parse_value(CompressOpts *o, const char *a, const char *v) {
  char *e;
  if (!strcmp(a, "--threads")) {
    long t = strtol(v, &e, 10);
    if (*e || t < 0 || t > 100000) return fprintf(stderr, "onnxc compress: bad value '%s' for --threads\n", v), -1;
    o->threads = (int)t;
    return 0;
  }
  const char *eq = strchr(v, '=');
  if (!eq || eq == v || o->nshapes == TOOL_MAX_IO)
    return fprintf(stderr, "onnxc compress: --shape expects NAME=DIMS (e.g. input=1x3x224x224)\n"), -1;
  FeShape *sh = &o->shapes[o->nshapes++];
  sh->name = strndup(v, (size_t)(eq - v));
  if (tool_parse_dims(eq + 1, sh)) return fprintf(stderr, "onnxc compress: bad dims '%s' in --shape\n", eq + 1), -1;
  return 0;
}

static int parse_compress(int argc, char **argv, CompressOpts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], **slot = NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) o->help = true;
    else if (!strcmp(a, "--report")) o->report = true;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) slot = &o->out;
    else if (!strcmp(a, "--cluster")) slot = &o->clusters;
    else if (!strcmp(a, "--cluster-layers")) slot = &o->layers;
    else if (!strcmp(a, "--min-weights")) slot = &o->min_weights;
    else if (!strcmp(a, "--samples")) slot = &o->samples;
    else if (!strcmp(a, "--shape") || !strcmp(a, "--threads")) {
      if (i + 1 >= argc) return fprintf(stderr, "onnxc compress: option %s needs a value\n", a), -1;
      if (parse_value(o, a, argv[++i])) return -1;
      continue;
    } else if (a[0] == '-' && a[1])
      return fprintf(stderr, "onnxc compress: unknown option '%s' (see onnxc compress --help)\n", a), -1;
    else if (!o->model) o->model = a;
    else return fprintf(stderr, "onnxc compress: unexpected argument '%s' (compress takes one model)\n", a), -1;
    if (slot && !(*slot = i + 1 < argc ? argv[++i] : NULL))
      return fprintf(stderr, "onnxc compress: option %s needs a value\n", a), -1;
  }
  return 0;
}

static int options_from(const CompressOpts *o, onnxc_cluster_options *co) {
  char *e, err[512];
  memset(co, 0, sizeof *co);
  if (!o->clusters) return fprintf(stderr, "onnxc compress: --cluster K is required (e.g. --cluster 16)\n"), -1;
  long k = strtol(o->clusters, &e, 10);
  if (e == o->clusters || *e) return fprintf(stderr, "onnxc compress: bad --cluster '%s' (an integer, 2..256)\n", o->clusters), -1;
  co->clusters = (int32_t)(k > 1000 ? 1000 : k < -1 ? -1 : k);
  if (o->min_weights) {
    long long m = strtoll(o->min_weights, &e, 10);
    if (e == o->min_weights || *e || m < 0)
      return fprintf(stderr, "onnxc compress: bad --min-weights '%s' (a count >= 0)\n", o->min_weights), -1;
    co->min_weights = m;
  }
  co->layers = o->layers;
  if (onnxc_cluster_options_check(co, err, sizeof err)) return fprintf(stderr, "onnxc compress: %s\n", err), -1;
  return 0;
}

static void print_weights(onnxc_session *s) {
  onnxc_cluster_layer l;
  for (int32_t i = 0; i < onnxc_session_num_clustered(s); i++)
    if (!onnxc_session_clustered(s, i, &l)) {
      char nm[IR_NAME_MSG], wn[IR_NAME_MSG];
      printf("  %-6s %-40s %-40s %10lld  values %3d  rel error %.4f\n", l.op, ir_name_msg(l.node, nm, sizeof nm),
             ir_name_msg(l.weight, wn, sizeof wn), (long long)l.params, l.values, l.rel_error);
    }
}

/* runs s on every sample; outs[k * nout + j] allocated here */
static int run_samples(onnxc_session *s, const char *model, const ToolSamples *ss, Tensor *outs) {
  int nout = onnxc_session_num_outputs(s);
  char err[1024];
  if (tool_prepare(s, model, ss->t, ss->nin)) return -1;
  for (int k = 0; k < ss->n; k++) {
    if (tool_alloc_outputs(s, outs + k * nout, err, sizeof err)) return fprintf(stderr, "onnxc: %s\n", err), -1;
    if (tool_run_once(s, ss->t + k * ss->nin, outs + k * nout))
      return fprintf(stderr, "onnxc: %s: %s\n", model, onnxc_session_error(s)), -1;
  }
  return 0;
}

static void print_output(onnxc_session *d, int j, int n, int nout, const Tensor *od, const Tensor *oc) {
  onnxc_compare c;
  onnxc_compare_init(&c);
  for (int k = 0; k < n; k++) {
    onnxc_tensor a = tool_tensor(&od[k * nout + j]), b = tool_tensor(&oc[k * nout + j]);
    if (onnxc_compare_add(&c, &a, &b)) return (void)printf("  output %d: dims or dtype differ\n", j);
  }
  onnxc_value_info vi;
  onnxc_session_output_info(d, j, &vi);
  printf("  output '%s': cosine %.6f, max abs error %.4g, max rel error %.4g\n", IR_NM(vi.name), c.cosine, c.max_abs,
         c.max_rel);
}

/* the written model against the original one, per output, over the samples */
static int report_outputs(const CompressOpts *o) {
  onnxc_session *d = tool_open(o->model, o->shapes, o->nshapes, o->threads);
  onnxc_session *c = d ? tool_open(o->out, o->shapes, o->nshapes, o->threads) : NULL;
  tool_deadline_disarm();
  int rc = -1, nout = d ? onnxc_session_num_outputs(d) : 0, n = 0;
  char err[2048];
  ToolSamples ss = {0};
  Tensor *od = NULL, *oc = NULL;
  if (!c) goto out;
  if (tool_samples_read(o->samples, d, &ss, err, sizeof err)) {
    fprintf(stderr, "onnxc compress: %s\n", err);
    goto out;
  }
  n = ss.n;
  od = calloc((size_t)(n * nout) + 1, sizeof *od), oc = calloc((size_t)(n * nout) + 1, sizeof *oc);
  if (!od || !oc || run_samples(d, o->model, &ss, od) || run_samples(c, o->out, &ss, oc)) goto out;
  printf("outputs of %s against %s (%d sample%s):\n", o->out, o->model, n, n == 1 ? "" : "s");
  for (int j = 0; j < nout; j++) print_output(d, j, n, nout, od, oc);
  rc = 0;
out:
  for (int k = 0; od && oc && k < n * nout; k++) free(od[k].data), free(oc[k].data);
  free(od), free(oc);
  tool_samples_free(&ss);
  onnxc_session_free(d);
  onnxc_session_free(c);
  return rc;
}

static void summary(onnxc_session *s, int k, const char *out) {
  double params = 0;
  onnxc_cluster_layer l;
  int32_t n = onnxc_session_num_clustered(s);
  for (int32_t i = 0; i < n; i++)
    if (!onnxc_session_clustered(s, i, &l)) params += (double)l.params;
  printf("clustered %d weight%s (%.0f values) to at most %d values each; wrote %s\n", n, n == 1 ? "" : "s", params, k,
         out);
}

int tool_cmd_compress(int argc, char **argv) {
  CompressOpts o;
  onnxc_cluster_options co;
  int rc = parse_compress(argc, argv, &o);
  if (!rc && (o.help || !o.model || !o.out)) {
    fputs(HELP, o.help ? stdout : stderr);
    rc = o.help ? 0 : 2;
  } else if (rc || options_from(&o, &co)) rc = 2;
  else {
    rc = 1;
    onnxc_session *s = tool_open(o.model, o.shapes, o.nshapes, o.threads);
    tool_deadline_disarm();
    if (s && !onnxc_session_cluster(s, &co) && !onnxc_session_write_model(s, o.out)) {
      summary(s, co.clusters, o.out);
      if (o.report) print_weights(s);
      rc = o.report && o.samples && report_outputs(&o) ? 1 : 0;
    } else if (s)
      fprintf(stderr, "onnxc compress: %s\n", onnxc_session_error(s));
    onnxc_session_free(s);
  }
  for (int i = 0; i < o.nshapes; i++) free((char *)o.shapes[i].name);
  return rc;
}
