/* compile.c — `onnxc compile`: its arguments; the compiling (ahead-of-time libraries, objects,
 * LLVM IR, assembly, C sources, NAME.h) is libonnxc's onnxc_session_compile (lib/compile.c). */
#include <errno.h>
#include <limits.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fe.h"
#include "tool.h"

/* --shape NAME=VALUES as given; read once the model's inputs are known (shape_values) */
typedef struct ShapeArg {
  const char *name, *values;
} ShapeArg;

typedef struct CompileOpts {
  const char *model, *out, *name, *emit, *target, *cpu, *features, *weights_file, *header;
  ShapeArg shapes[TOOL_MAX_IO];
  int nshapes;
  bool help, quiet, compress;
} CompileOpts;

static const char *HELP =
    "usage: onnxc compile MODEL -o OUT [--name NAME] [--emit so|obj|lib|llvm|asm|c] [--target T]\n"
    "                     [--cpu CPU] [--features F] [--weights-file PATH] [--header PATH]\n"
    "                     [--shape NAME=DIMS[,DIMS...]]... [--max-memory SIZE] [--max-compile-time S]\n"
    "                     [--compress-weights]\n"
    "Compiles the model ahead of time for fixed input shapes. so/obj/lib also write NAME.h (beside\n"
    "OUT unless --header) declaring NAME_create/run/error/destroy and the tensors' sizes.\n"
    "  -o OUT              output file\n"
    "  --name NAME         C prefix of the model's symbols (default: from OUT, libNAME.so -> NAME)\n"
    "                      and the instance's type; a C identifier, not a keyword, not ending\n"
    "                      in _t, not starting with onnxc\n"
    "  --emit KIND         so (shared library), obj (relocatable object), lib (static archive),\n"
    "                      llvm (LLVM IR text), asm; default from OUT's extension, else so;\n"
    "                      c: OUT is a folder receiving portable C11 sources (NAME_model.c,\n"
    "                      NAME_weights.c, NAME_glue.c, the runtime's sources, NAME.h) that build\n"
    "                      without LLVM: cc -O2 -IOUT OUT/*.c app.c -lm -lpthread\n"
    "  --target T          native (default), x86-64-avx512, x86-64-avx2, aarch64 (for c: only\n"
    "                      the vector width; default 32-byte vectors)\n"
    "  --cpu CPU           LLVM CPU name overriding the target's (e.g. znver4, neoverse-n1)\n"
    "  --features F        LLVM feature string overriding the target's (e.g. +avx2,+fma)\n"
    "  --weights-file PATH write the weights to PATH instead of embedding them; the library reads\n"
    "                      them at create time from onnxc_options.weights_path\n"
    "  --header PATH       where to write NAME.h\n"
    "  --compress-weights  store the weights entropy-coded (each packed weight over an alphabet of\n"
    "                      its distinct values when it has at most 256: clustered, pruned or int8\n"
    "                      layers; plain fp32 by bytes), decoded once by NAME_create; 3x3 convs stay\n"
    "                      on the direct kernels (Winograd's transformed weights do not cluster)\n"
    "  -q, --quiet         do not list the files written (by default one line each, with its size)\n"
    "  --shape NAME=DIMS   fix the dims of input NAME, e.g. --shape input=1x3x224x224, or every\n"
    "                      input dim called NAME, e.g. --shape batch=4\n"
    "  --shape NAME=A,B,.. several shapes (batch=1,4,16; input=1x3x224x224,4x3x224x224): one\n"
    "                      library with a variant per shape (per combination when several\n"
    "                      --shape list values, at most 32) and one copy of the weights;\n"
    "                      NAME_run_tensors runs the variant of the dims it is given\n"
    "  --max-memory SIZE   refuse models needing more (file, weights, intermediates, outputs);\n"
    "                      default 16G\n"
    "  --max-compile-time S stop with an error when loading + code generation takes longer than\n"
    "                      S seconds (default 600; 0 = no bound)\n"
    "  --time-passes       print the compile time per phase (load, shapes+passes, kernel gen, LLVM\n"
    "                      opt, LLVM codegen, C glue + link) to stderr\n"
    "  --no-fuse           no operator fusion\n" TOOL_HELP_PASSES TOOL_HELP_PRUNE TOOL_HELP_QUANT TOOL_HELP_GEMM
    "                      (compile: --emit so, llvm or asm; the library links libxsmm)\n" TOOL_HELP_FP_MODE
    "Environment: ONNXC_RT_DIR (folder of libonnxc_rt*.a), ONNXC_CC (C compiler for native targets).\n";

static int parse(int argc, char **argv, CompileOpts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char **slot = NULL;
    int pf;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      o->help = true;
      continue;
    }
    if (!strcmp(a, "--time-passes")) {
      tool_time_passes = true;
      continue;
    }
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      o->quiet = true;
      continue;
    }
    if (!strcmp(a, "--compress-weights")) {
      o->compress = true;
      continue;
    }
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) slot = &o->out;
    else if (!strcmp(a, "--name")) slot = &o->name;
    else if (!strcmp(a, "--emit")) slot = &o->emit;
    else if (!strcmp(a, "--target")) slot = &o->target;
    else if (!strcmp(a, "--cpu")) slot = &o->cpu;
    else if (!strcmp(a, "--features")) slot = &o->features;
    else if (!strcmp(a, "--weights-file")) slot = &o->weights_file;
    else if (!strcmp(a, "--header")) slot = &o->header;
    else if (!strcmp(a, "--shape")) {
      const char *v = i + 1 < argc ? argv[++i] : NULL;
      const char *eq = v ? strchr(v, '=') : NULL;
      if (!eq || eq == v || o->nshapes == TOOL_MAX_IO) {
        fprintf(stderr, "onnxc compile: --shape expects NAME=DIMS (e.g. input=1x3x224x224)\n");
        return -1;
      }
      ShapeArg *sh = &o->shapes[o->nshapes++];
      sh->name = strndup(v, (size_t)(eq - v));
      sh->values = eq + 1;
      FeShape t;
      if (tool_parse_dims(eq + 1, &t)) {
        fprintf(stderr, "onnxc compile: bad dims '%s' in --shape (expected e.g. 1x3x224x224 or 1,4,16)\n", eq + 1);
        return -1;
      }
      continue;
    } else if (!strcmp(a, "--max-compile-time")) {
      const char *v = i + 1 < argc ? argv[++i] : NULL;
      if ((tool_max_compile_time = tool_parse_seconds(v)) < 0) {
        fprintf(stderr, "onnxc compile: bad value '%s' for --max-compile-time (seconds, 0 = no bound)\n",
                v ? v : "");
        return -1;
      }
      continue;
    } else if (!strcmp(a, "--max-memory")) {
      const char *v = i + 1 < argc ? argv[++i] : NULL;
      if (!v || (tool_max_memory = tool_parse_size(v)) < 0) {
        fprintf(stderr, "onnxc compile: bad size '%s' for --max-memory (e.g. 512M, 4G)\n", v ? v : "");
        return -1;
      }
      continue;
    } else if ((pf = tool_pass_flag("compile", argc, argv, &i))) {
      if (pf < 0) return -1;
      continue;
    } else if ((pf = tool_gemm_flag("compile", argc, argv, &i))) {
      if (pf < 0) return -1;
      continue;
    } else if ((pf = tool_fp_mode_flag("compile", argc, argv, &i))) {
      if (pf < 0) return -1;
      continue;
    } else if ((pf = tool_prune_flag("compile", argc, argv, &i))) {
      if (pf < 0) return -1;
      continue;
    } else if ((pf = tool_quant_flag("compile", argc, argv, &i))) {
      if (pf < 0) return -1;
      continue;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "onnxc compile: unknown option '%s' (see onnxc compile --help)\n", a);
      return -1;
    } else if (!o->model) {
      o->model = a;
      continue;
    } else {
      fprintf(stderr, "onnxc compile: unexpected argument '%s'\n", a);
      return -1;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "onnxc compile: option %s needs a value\n", a);
      return -1;
    }
    *slot = argv[++i];
  }
  return 0;
}

/* ---- the success report: each file this compile wrote (libonnxc lists them), with its size ---- */
static void report_written(const onnxc_session *s) {
  for (int32_t i = 0; i < onnxc_session_num_written(s); i++) {
    const char *path = onnxc_session_written(s, i);
    struct stat st;
    char nm[IR_NAME_MSG];
    if (!stat(path, &st)) printf("wrote %s (%lld bytes)\n", ir_name_msg(path, nm, sizeof nm), (long long)st.st_size);
  }
}

/* The values of --shape NAME=VALUES, each a shape (FeShape) for an input NAME or a value (rank 1)
 * for a dim NAME. "1,4,16" lists values for a dim and for a rank-1 input; for an input of another
 * rank, commas separate shapes only when they are written with x (1x3x8x8,4x3x8x8), else they
 * separate the dims of one shape (1,3,8,8, as --shape has always read). 0 or -1 (printed). */
static int shape_values(onnxc_session *s, const ShapeArg *a, FeShape *vals, int *n, bool *is_dim) {
  int32_t in = onnxc_session_input_index(s, a->name);
  onnxc_value_info vi = {0};
  if (in >= 0) onnxc_session_input_info(s, in, &vi);
  *is_dim = false;
  for (int32_t i = 0; in < 0 && i < onnxc_session_num_inputs(s) && !*is_dim; i++) {
    onnxc_session_input_info(s, i, &vi);
    for (int d = 0; d < vi.rank && !*is_dim; d++) *is_dim = vi.dim_names[d] && !strcmp(vi.dim_names[d], a->name);
  }
  if (in < 0 && !*is_dim) {
    fprintf(stderr, "onnxc compile: --shape %s: the model has no input and no input dim of that name\n", a->name);
    return -1;
  }
  bool list = *is_dim || vi.rank == 1 || strpbrk(a->values, "xX");
  *n = 0;
  for (const char *p = a->values;; p++) {
    size_t len = list ? strcspn(p, ",") : strlen(p);
    char item[512];
    if (*n == ONNXC_MAX_VARIANTS || len >= sizeof item) {
      fprintf(stderr, "onnxc compile: --shape %s: more than %d values\n", a->name, ONNXC_MAX_VARIANTS);
      return -1;
    }
    memcpy(item, p, len);
    item[len] = 0;
    FeShape *v = &vals[(*n)++];
    v->name = a->name;
    if (tool_parse_dims(item, v) || (*is_dim && v->rank != 1)) {
      fprintf(stderr, "onnxc compile: --shape %s: bad %s '%s'\n", a->name, *is_dim ? "dim value" : "dims", item);
      return -1;
    }
    p += len;
    if (!*p) return 0;
  }
}

/* --compress-weights: the weights in each form: as the kernels read them, as stored, per coded form */
static void report_weights(const onnxc_session *s) {
  onnxc_weights_report w;
  if (onnxc_session_weights_report(s, &w) || !w.coded) return; /* plain: the files' sizes say it */
  printf("weights: %lld bytes decoded, %lld bytes stored entropy-coded (%.2f%%; Huffman codes would take %lld)\n",
         (long long)w.raw_bytes, (long long)w.stored_bytes,
         w.raw_bytes ? 100.0 * (double)w.stored_bytes / (double)w.raw_bytes : 0.0, (long long)w.huffman_bytes);
  static const char *const form[4] = {"as is", "alphabet <= 256 values", "bytes", "fp32 byte planes"};
  for (int k = 0; k < 4; k++)
    if (w.pieces[k])
      printf("  %-24s %5lld tensors %12lld -> %12lld bytes\n", form[k], (long long)w.pieces[k], (long long)w.raw[k],
             (long long)w.coded_bytes[k]);
}

/* one options object per combination of the --shape values, the first --shape varying slowest;
 * NULL (printed) on a bad --shape */
static onnxc_session_options **shape_variants(onnxc_session *s, const CompileOpts *o, int *nvar) {
  static FeShape vals[TOOL_MAX_IO][ONNXC_MAX_VARIANTS];
  int n[TOOL_MAX_IO];
  bool dim[TOOL_MAX_IO];
  long total = 1;
  for (int j = 0; j < o->nshapes; j++) {
    if (shape_values(s, &o->shapes[j], vals[j], &n[j], &dim[j])) return NULL;
    if ((total *= n[j]) > ONNXC_MAX_VARIANTS) {
      fprintf(stderr, "onnxc compile: the --shape lists make more than %d combinations\n", ONNXC_MAX_VARIANTS);
      return NULL;
    }
  }
  onnxc_session_options **vs = calloc((size_t)total, sizeof *vs);
  int rc = vs ? 0 : ONNXC_ERR_NOMEM;
  for (long k = 0; k < total && !rc; k++) {
    if ((rc = onnxc_options_create(&vs[k]))) break;
    long stride = total;
    for (int j = 0; j < o->nshapes && !rc; j++) {
      stride /= n[j];
      const FeShape *v = &vals[j][(k / stride) % n[j]];
      rc = dim[j] ? onnxc_options_fix_dim(vs[k], v->name, v->dims[0])
                  : onnxc_options_fix_input(vs[k], v->name, v->rank, v->dims);
    }
  }
  *nvar = (int)total;
  if (!rc) return vs;
  fprintf(stderr, "onnxc compile: --shape: %s\n", onnxc_status_string(rc));
  for (long k = 0; vs && k < total; k++) onnxc_options_free(vs[k]);
  free(vs);
  return NULL;
}

int tool_cmd_compile(int argc, char **argv) {
  CompileOpts o;
  if (parse(argc, argv, &o) || tool_quant_usage("compile")) return 2;
  if (o.nshapes && tool_quant_active()) { /* each --shape variant is compiled from the file again */
    fprintf(stderr, "onnxc compile: --quantize with --shape is not supported yet (fix the shapes in the model)\n");
    return 2;
  }
  if (o.help || !o.model || !o.out) {
    fputs(HELP, o.help ? stdout : stderr);
    return o.help ? 0 : 2;
  }
  onnxc_compile_options co = {.output = o.out, .name = o.name, .emit = o.emit, .target = o.target, .cpu = o.cpu,
                              .features = o.features, .weights_file = o.weights_file, .header = o.header,
                              .model_path = o.model, .compress_weights = o.compress};
  char err[2048];
  if (onnxc_compile_check(&co, err, sizeof err)) { /* usage errors before the (long) compile */
    fprintf(stderr, "onnxc compile: %s\n", err);
    return 2;
  }
  /* --shape is read against the model's inputs and dims: every shape is a variant (one or more) */
  onnxc_session *s = tool_open(o.model, NULL, 0, 0);
  onnxc_session_options **vs = NULL;
  int nvar = 0, rc = 1;
  if (s && o.nshapes && !(vs = shape_variants(s, &o, &nvar))) rc = 2;
  else if (s) {
    co.variants = (const onnxc_session_options *const *)vs;
    co.num_variants = nvar;
    int st = onnxc_session_compile(s, &co);
    tool_deadline_disarm();
    if (st) tool_fail_session(s, st, o.model);
    else {
      tool_print_phases(s);
      if (!o.quiet) report_written(s);
      if (!o.quiet) report_weights(s);
      rc = 0;
    }
  }
  onnxc_session_free(s);
  for (int k = 0; k < nvar; k++) onnxc_options_free(vs[k]);
  free(vs);
  for (int i = 0; i < o.nshapes; i++) free((char *)o.shapes[i].name);
  return rc;
}
