/* quantize.c — `onnxc quantize` and the --quantize options of compile, run, bench and dump: the
 * arguments, reading the sample folders (samples.c) and printing the report; the work is
 * libonnxc's onnxc_session_quantize (lib/quantize.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samples.h"
#include "tool.h"

#define MAX_KEEP 256

typedef struct ToolQuant {
  int on;                /* --quantize given (or the quantize command) */
  onnxc_quantize_options qo;
  const char *calibrate; /* --calibrate DIR */
  const char *eval;      /* --eval DIR (quantize --report) */
  const char *keep[MAX_KEEP];
  int nkeep;
  bool report;
} ToolQuant;

static ToolQuant tq;

static int bad(const char *cmd, const char *opt, const char *v, const char *want) {
  fprintf(stderr, "onnxc %s: bad value '%s' for %s (%s)\n", cmd, v ? v : "", opt, want);
  return -1;
}

/* the options every command with --quantize shares; as tool_pass_flag: 1, 0 or -1 */
int tool_quant_flag(const char *cmd, int argc, char **argv, int *i) {
  const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
  bool quantize_cmd = !strcmp(cmd, "quantize");
  if (!strcmp(a, "--per-tensor")) return tq.qo.per_tensor_weights = 1, 1;
  if (strcmp(a, "--quantize") && strcmp(a, "--calibrate") && strcmp(a, "--method") && strcmp(a, "--percentile") &&
      strcmp(a, "--keep-float") && strcmp(a, "--activations") && strcmp(a, "--keep-sensitive") &&
      (!quantize_cmd || strcmp(a, "--eval")))
    return 0;
  if (!v) {
    fprintf(stderr, "onnxc %s: option %s needs a value\n", cmd, a);
    return -1;
  }
  ++*i;
  if (!strcmp(a, "--quantize")) {
    if (!strcmp(v, "int8")) tq.qo.mode = ONNXC_QUANT_STATIC;
    else if (!strcmp(v, "int8-dynamic")) tq.qo.mode = ONNXC_QUANT_DYNAMIC;
    else return bad(cmd, a, v, "int8 or int8-dynamic");
    tq.on = 1;
  } else if (!strcmp(a, "--calibrate")) tq.calibrate = v;
  else if (!strcmp(a, "--eval")) tq.eval = v;
  else if (!strcmp(a, "--method")) {
    if (!strcmp(v, "minmax")) tq.qo.method = ONNXC_CALIB_MINMAX;
    else if (!strcmp(v, "percentile")) tq.qo.method = ONNXC_CALIB_PERCENTILE;
    else if (!strcmp(v, "entropy")) tq.qo.method = ONNXC_CALIB_ENTROPY;
    else return bad(cmd, a, v, "minmax, percentile or entropy");
  } else if (!strcmp(a, "--percentile")) {
    char *e;
    double p = strtod(v, &e);
    if (*e || !(p > 0 && p < 100)) return bad(cmd, a, v, "a number in (0, 100), e.g. 99.99");
    tq.qo.percentile = p;
    tq.qo.method = ONNXC_CALIB_PERCENTILE;
  } else if (!strcmp(a, "--keep-sensitive")) {
    char *e;
    long n = strtol(v, &e, 10);
    if (*e || !*v || n < 0 || n > 100000) return bad(cmd, a, v, "a layer count, e.g. 3");
    tq.qo.keep_sensitive = (int32_t)n;
  } else if (!strcmp(a, "--activations")) {
    if (strcmp(v, "u8") && strcmp(v, "s8")) return bad(cmd, a, v, "u8 or s8");
    tq.qo.signed_activations = !strcmp(v, "s8");
  } else {
    if (tq.nkeep == MAX_KEEP) return bad(cmd, a, v, "too many --keep-float");
    tq.keep[tq.nkeep++] = v;
  }
  return 1;
}

/* the combinations that make no sense, before the model is read: 0 or 2 (usage) */
static int check_usage(const char *cmd) {
  bool calib_opts = tq.calibrate || tq.qo.method || tq.qo.percentile > 0 || tq.qo.signed_activations ||
                    tq.qo.keep_sensitive || tq.qo.sensitivity;
  if (!tq.on && (calib_opts || tq.nkeep || tq.qo.per_tensor_weights)) {
    fprintf(stderr, "onnxc %s: --calibrate, --method, --keep-float ... need --quantize int8 or int8-dynamic\n", cmd);
    return 2;
  }
  if (tq.on && tq.qo.mode == ONNXC_QUANT_STATIC && !tq.calibrate) {
    fprintf(stderr, "onnxc %s: static int8 quantization needs --calibrate DIR (sample inputs as .npy; "
            "or --quantize int8-dynamic, which needs none)\n", cmd);
    return 2;
  }
  if (tq.on && tq.qo.mode == ONNXC_QUANT_DYNAMIC && calib_opts) {
    fprintf(stderr, "onnxc %s: --quantize int8-dynamic takes no calibration (--calibrate, --method, "
            "--activations, --keep-sensitive, --sensitivity)\n", cmd);
    return 2;
  }
  return 0;
}

int tool_quant_usage(const char *cmd) { return check_usage(cmd); }
bool tool_quant_active(void) { return tq.on; }

/* the eval samples of --report: --eval DIR, else the last fifth of the calibration samples (held
 * out of calibration) when there are 5 or more, else the calibration samples themselves; without
 * the report, --keep-sensitive measures on every calibration sample (no accuracy figure to keep
 * honest, so none is held out) */
static void split_eval(const ToolSamples *cal, const ToolSamples *ev, bool report, int *ncal, const onnxc_tensor **ev_t,
                       int *nev, bool *held) {
  *ncal = cal->n, *ev_t = NULL, *nev = 0, *held = false;
  if (!report && tq.qo.keep_sensitive) *ev_t = cal->v, *nev = cal->n;
  if (!report) return;
  if (ev->n) {
    *ev_t = ev->v, *nev = ev->n;
    return;
  }
  int hold = cal->n >= 5 ? (cal->n + 4) / 5 : 0;
  *ncal = cal->n - hold;
  *ev_t = hold ? cal->v + (size_t)*ncal * (size_t)cal->nin : cal->v;
  *nev = hold ? hold : cal->n;
  *held = hold > 0;
}

static void print_cmp(FILE *f, const char *what, const char *name, const onnxc_compare *c) {
  char nm[IR_NAME_MSG];
  fprintf(f, "  %-8s %-40s cosine %.6f  max abs err %.4g  max rel err %.4g  mean abs err %.4g%s\n", what,
          ir_name_msg(name, nm, sizeof nm), c->cosine, c->max_abs, c->max_rel, c->mean_abs,
          c->nan ? "  (NaN mismatches)" : "");
}

/* the most sensitive layers, measured one at a time (--sensitivity, --keep-sensitive) */
static void print_sensitivity(const onnxc_quant_report *r, FILE *f) {
  int ns = onnxc_quant_report_num_sensitivity(r), shown = 0;
  if (ns) fprintf(f, "most sensitive layers (each quantized alone, the rest float: the graph output's change):\n");
  for (int i = 0; i < ns; i++) {
    const char *node, *op;
    onnxc_compare c;
    int32_t kept;
    onnxc_quant_report_sensitivity(r, i, &node, &op, &c, &kept);
    if (!kept && shown >= 10) continue;
    char what[40];
    snprintf(what, sizeof what, "%s%s", op, kept ? " (kept float)" : "");
    print_cmp(f, what, node, &c), shown++;
  }
}

/* without --report: which layers --keep-sensitive left in float */
static void print_kept(const onnxc_quant_report *r, FILE *f) {
  for (int i = 0; i < onnxc_quant_report_num_sensitivity(r); i++) {
    const char *node, *op;
    onnxc_compare c;
    int32_t kept;
    onnxc_quant_report_sensitivity(r, i, &node, &op, &c, &kept);
    char nm[IR_NAME_MSG];
    if (kept) fprintf(f, "kept float (--keep-sensitive): %s %s (alone: output cosine %.6f)\n", op,
                      ir_name_msg(node, nm, sizeof nm), c.cosine);
  }
}

static void print_report(const onnxc_quant_report *r, int nev, bool held, FILE *f) {
  fprintf(f, "accuracy of the int8 model against the float model on %d %s sample%s:\n", nev,
          held ? "held-out" : "calibration", nev == 1 ? "" : "s");
  for (int i = 0; i < onnxc_quant_report_num_outputs(r); i++) {
    const char *name;
    onnxc_compare c;
    onnxc_quant_report_output(r, i, &name, &c);
    print_cmp(f, "output", name, &c);
  }
  print_sensitivity(r, f);
  int nl = onnxc_quant_report_num_layers(r), shown = nl < 5 ? nl : 5;
  if (shown) fprintf(f, "worst layers (their outputs, errors accumulated from the layers before):\n");
  for (int i = 0; i < shown; i++) {
    const char *node, *op;
    onnxc_compare c;
    onnxc_quant_report_layer(r, i, &node, &op, &c);
    char what[32];
    snprintf(what, sizeof what, "%s", op);
    print_cmp(f, what, node, &c);
  }
}

/* quantizes s as the options say; prints the report if asked; 0, or 1 after printing why */
static int quantize_session(onnxc_session *s, const char *model, FILE *rf) {
  ToolSamples cal = {0}, ev = {0};
  char err[4096];
  int rc = 1;
  if (tq.calibrate && tool_samples_read(tq.calibrate, s, &cal, err, sizeof err)) goto fail;
  if (tq.eval && tool_samples_read(tq.eval, s, &ev, err, sizeof err)) goto fail;
  int ncal, nev;
  bool held;
  const onnxc_tensor *ev_t;
  split_eval(&cal, &ev, tq.report, &ncal, &ev_t, &nev, &held);
  tq.qo.samples = cal.v, tq.qo.num_samples = ncal;
  tq.qo.eval_samples = ev_t, tq.qo.num_eval_samples = nev;
  tq.qo.keep_float = tq.keep, tq.qo.num_keep_float = tq.nkeep;
  onnxc_quant_report *r = NULL;
  /* the sensitivity compiles the model once per layer: the whole command's alarm would fire;
   * each of those compiles stays bounded by --max-compile-time in the library */
  if (tq.qo.sensitivity || tq.qo.keep_sensitive) tool_deadline_disarm();
  int st = onnxc_session_quantize(s, &tq.qo, tq.report || tq.qo.keep_sensitive ? &r : NULL);
  if (st) {
    tool_fail_session(s, st, model);
    goto out;
  }
  if (r && tq.report) print_report(r, nev, held, rf);
  else if (r) print_kept(r, rf);
  onnxc_quant_report_free(r);
  rc = 0;
  goto out;
fail:
  fprintf(stderr, "onnxc: %s\n", err);
out:
  tool_samples_free(&cal);
  tool_samples_free(&ev);
  return rc;
}

int tool_quant_apply(onnxc_session *s, const char *model) {
  if (!tq.on) return 0;
  return quantize_session(s, model, stderr);
}

/* ---- onnxc quantize ---- */
static const char *HELP =
    "usage: onnxc quantize MODEL -o OUT.onnx --calibrate DIR [--method minmax|percentile|entropy]\n"
    "                      [--percentile P] [--keep-float OP|NODE]... [--activations u8|s8]\n"
    "                      [--per-tensor] [--keep-sensitive N] [--report|--sensitivity [--eval DIR]]\n"
    "                      [--quantize int8|int8-dynamic]\n"
    "                      [--shape NAME=DIMS]... [--threads N]\n"
    "Writes an int8 model in the form ONNX Runtime's quantizer writes, which ONNX Runtime and onnxc\n"
    "both run: static (default) QuantizeLinear/DequantizeLinear pairs on the activations feeding\n"
    "every Conv, MatMul, Gemm and residual Add, with ranges calibrated on sample inputs, and their constant\n"
    "weights stored as int8 (symmetric, one scale per output channel) behind a DequantizeLinear;\n"
    "or dynamic (--quantize int8-dynamic): MatMul/Gemm weights int8, activations quantized at run\n"
    "time (DynamicQuantizeLinear + MatMulInteger), no samples needed.\n\n"
    "  -o OUT.onnx         the quantized model\n"
    "  --calibrate DIR     sample inputs: DIR/s0/NAME.npy (one folder per sample, a file per input,\n"
    "                      named by input or input_K.npy), or DIR/*.npy for a one-input model\n"
    "  --method M          how each activation's range is chosen from what the samples show:\n"
    "                      minmax (default), percentile (cut the outer 0.001%), entropy (least\n"
    "                      KL divergence, TensorRT's method)\n"
    "  --percentile P      percentile method keeping P% of the values (e.g. 99.99)\n"
    "  --keep-float X      leave op type X (e.g. Gemm) or the node named X in float; repeatable;\n"
    "                      X = depthwise: every depthwise Conv; X = squeeze-excite: every Conv\n"
    "                      reading a global pooling (directly or through another such Conv and\n"
    "                      an activation: squeeze-and-excitation blocks)\n"
    "  --activations T     u8 (default, ONNX Runtime's) or s8 activations\n"
    "  --per-tensor        one weight scale per tensor instead of one per output channel\n"
    "  --keep-sensitive N  leave the N most sensitive layers in float: each layer is quantized\n"
    "                      alone and its change of the graph outputs measured (one compile per\n"
    "                      layer; on the --report/--eval samples, else on the calibration samples)\n"
    "  --report            compare the int8 model with the float one: per graph output cosine\n"
    "                      similarity and max error, and the 5 layers whose outputs lose the most\n"
    "  --sensitivity       --report, plus the most sensitive layers measured one at a time (each\n"
    "                      layer alone quantized: the graph outputs' change; one compile per layer)\n"
    "  --eval DIR          held-out samples for --report (default: the last fifth of --calibrate's\n"
    "                      samples when there are 5 or more, kept out of calibration)\n"
    "  --shape NAME=DIMS   fix the dims of an input (see onnxc run --help)\n"
    "  --threads N         threads for the calibration runs (default 0 = all cores)\n"
    "  -h, --help          this help\n";

typedef struct QuantArgs {
  const char *model, *out;
  FeShape shapes[TOOL_MAX_IO];
  int nshapes, threads;
  bool help;
} QuantArgs;

static int parse_shape(const char *v, QuantArgs *o) {
  const char *eq = v ? strchr(v, '=') : NULL;
  if (!eq || eq == v || o->nshapes == TOOL_MAX_IO || tool_parse_dims(eq + 1, &o->shapes[o->nshapes])) {
    fprintf(stderr, "onnxc quantize: --shape expects NAME=DIMS (e.g. input=1x3x224x224), got '%s'\n", v ? v : "");
    return -1;
  }
  o->shapes[o->nshapes++].name = strndup(v, (size_t)(eq - v));
  return 0;
}

static int parse_quantize(int argc, char **argv, QuantArgs *o) {
  memset(o, 0, sizeof *o);
  tq.on = 1; /* static int8 unless --quantize says otherwise */
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int f;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) o->help = true;
    else if (!strcmp(a, "--report")) tq.report = true;
    else if (!strcmp(a, "--sensitivity")) tq.report = true, tq.qo.sensitivity = 1;
    else if ((f = tool_quant_flag("quantize", argc, argv, &i)) || (f = tool_pass_flag("quantize", argc, argv, &i))) {
      if (f < 0) return -1;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--shape") || !strcmp(a, "--threads")) {
      if (!v) {
        fprintf(stderr, "onnxc quantize: option %s needs a value\n", a);
        return -1;
      }
      i++;
      char *e;
      if (!strcmp(a, "--shape") && parse_shape(v, o)) return -1;
      if (!strcmp(a, "--threads") && ((o->threads = (int)strtol(v, &e, 10)) < 0 || *e || !*v))
        return bad("quantize", a, v, "a thread count, 0 = all cores");
      if (!strcmp(a, "-o") || !strcmp(a, "--output")) o->out = v;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "onnxc quantize: unknown option '%s' (see onnxc quantize --help)\n", a);
      return -1;
    } else if (!o->model) o->model = a;
    else {
      fprintf(stderr, "onnxc quantize: unexpected argument '%s' (quantize takes one model)\n", a);
      return -1;
    }
  }
  if (tq.eval && !tq.report) {
    fprintf(stderr, "onnxc quantize: --eval DIR is for --report\n");
    return -1;
  }
  return o->help ? 0 : check_usage("quantize") ? -1 : 0;
}

/* "quantized 53 nodes: Conv 52, Gemm 1" */
static void print_summary(const onnxc_session *s, const char *out) {
  printf("quantized %d node%s (%s)", onnxc_session_num_quantized(s), onnxc_session_num_quantized(s) == 1 ? "" : "s",
         tq.qo.mode == ONNXC_QUANT_DYNAMIC ? "int8 dynamic" : "int8 static, QDQ");
  if (out) printf(" -> %s", out);
  printf("\n");
}

int tool_cmd_quantize(int argc, char **argv) {
  QuantArgs o;
  int rc = parse_quantize(argc, argv, &o);
  if (rc || o.help || !o.model || !o.out) {
    if (!rc) fputs(HELP, o.help ? stdout : stderr);
    return o.help && !rc ? 0 : 2;
  }
  tq.on = 0; /* tool_open must not quantize: done here, with the report */
  onnxc_session *s = tool_open(o.model, o.shapes, o.nshapes, o.threads);
  tq.on = 1;
  rc = 1;
  if (s && !quantize_session(s, o.model, stdout)) {
    int st = onnxc_session_write_model(s, o.out);
    tool_deadline_disarm();
    if (st) tool_fail_session(s, st, o.model);
    else print_summary(s, o.out), rc = 0;
  }
  onnxc_session_free(s);
  for (int i = 0; i < o.nshapes; i++) free((char *)o.shapes[i].name);
  return rc;
}
