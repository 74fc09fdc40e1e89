/* onnxc.c — the command-line interface: info, run, compile, bench, dump.
 * Exit codes: 0 ok, 1 bad input or unsupported model, 2 usage. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fe.h"
#include "npy.h"
#include "tool.h"

#define MAX_ARGS TOOL_MAX_IO

static const char *USAGE =
    "usage: onnxc <command> [options]\n"
    "\n"
    "commands:\n"
    "  info     MODEL [--shape NAME=DIMS]...          inputs, outputs, opsets, op histogram, parameters, MACs\n"
    "  run      MODEL [INPUT...] [-i NAME=FILE]... [-o DIR] [--threads N] [--test-data DIR]\n"
    "                                                 JIT-compile and run; writes DIR/output_K.npy\n"
    "  compile  MODEL -o OUT [--name NAME] [--emit so|obj|lib|llvm|asm|c] [--target T] [--weights-file F]\n"
    "                                                 ahead of time: libNAME.so + NAME.h, or C sources\n"
    "  bench    MODEL [INPUT...] [-i NAME=FILE]... [--threads N] [--runs N] [--warmup N] [--json]\n"
    "           [--profile] [--profile-json FILE] [--perf-map]\n"
    "                                                 JIT-compile and time runs (min/median/p90/max, GFLOP/s)\n"
    "  dump     MODEL [--after PASS] [--shape NAME=DIMS]...   the IR as text after a pass\n"
    "  prune    MODEL -o OUT.onnx --sparsity S --structure unstructured|N:M|block:RxC|channel [--report]\n"
    "                                                 a pruned copy of the model (magnitude based)\n"
    "  quantize MODEL -o OUT.onnx --calibrate DIR [--method minmax|percentile|entropy] [--report]\n"
    "                                                 int8 model (QDQ, or --quantize int8-dynamic) ONNX Runtime runs\n"
    "  compress MODEL -o OUT.onnx --cluster K [--cluster-layers LIST] [--report [--samples DIR]]\n"
    "                                                 weights shared by clustering (Gather(codebook, uint8 indices))\n"
    "\n"
    "Run 'onnxc <command> --help' for the options of one command.\n";

static const char *HELP_COMMON =
    "  --shape NAME=DIMS   fix the dims of input NAME, e.g. --shape input=1x3x224x224\n"
    "                      or every input dim named NAME (a dim_param), e.g. --shape batch=4\n"
    "  --max-memory SIZE   refuse models needing more (file, weights, intermediates, outputs);\n"
    "                      bytes or with K/M/G suffix, default 16G\n"
    "  --max-compile-time S  stop with an error when loading + compiling takes longer than S\n"
    "                      seconds (default 600; 0 = no bound)\n"
    "  -h, --help          this help\n";

/* --help on stdout (exit 0); a usage error on stderr (exit 2) */
static void usage_cmd(bool help, const char *cmd, const char *body) {
  fprintf(help ? stdout : stderr, "usage: onnxc %s\n%s%s", cmd, body, HELP_COMMON);
}

int tool_parse_dims(const char *s, FeShape *sh) {
  sh->rank = 0;
  if (!*s) return 0; /* scalar */
  while (*s) {
    if (sh->rank == IR_MAX_RANK) return -1;
    char *e;
    errno = 0;
    long long v = strtoll(s, &e, 10);
    if (e == s || errno || v < 0) return -1;
    sh->dims[sh->rank++] = v;
    if (*e == 'x' || *e == 'X' || *e == ',') e++;
    else if (*e) return -1;
    s = e;
  }
  return 0;
}

int64_t tool_max_memory; /* --max-memory; 0 = the defaults (FE_DEFAULT_MAX_BYTES, BE_DEFAULT_MAX_MEMORY) */
bool tool_no_fuse, tool_time_passes, tool_dump_llvm;

double tool_max_compile_time = 600; /* --max-compile-time SECONDS */
static double tool_max_run_time;         /* --max-run-time SECONDS (run, bench); 0 = no bound */
static bool tool_profile, tool_perf_map; /* --profile (bench), --perf-map (run, bench) */
static const char *tool_profile_json;    /* --profile-json FILE (bench; implies --profile) */
static char deadline_msg[600];
static size_t deadline_len;

static void deadline_hit(int sig) {
  (void)sig;
  ssize_t w = write(2, deadline_msg, deadline_len);
  (void)w;
  _exit(1);
}

/* The library's bound is cooperative (checked between phases and kernels); this alarm is the
 * hard backstop for a phase that will not end (an LLVM phase cannot be interrupted): it fires at
 * twice the bound plus a second, or at the bound itself for `dump`, which has no library call. */
void tool_deadline_arm(const char *model) {
  if (!(tool_max_compile_time > 0)) return;
  int n = snprintf(deadline_msg, sizeof deadline_msg,
                   "onnxc: compiling %.400s took longer than --max-compile-time %g s; stopped\n", model,
                   tool_max_compile_time);
  deadline_len = n < 0 ? 0 : (size_t)n < sizeof deadline_msg ? (size_t)n : sizeof deadline_msg - 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = deadline_hit;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  double t = 2 * tool_max_compile_time + 1; /* a backstop: the library stops at the bound itself */
  double whole = floor(t);
  struct itimerval it = {.it_value = {.tv_sec = (time_t)whole, .tv_usec = (suseconds_t)((t - whole) * 1e6)}};
  if (!it.it_value.tv_sec && !it.it_value.tv_usec) it.it_value.tv_usec = 1;
  setitimer(ITIMER_REAL, &it, NULL);
}

void tool_deadline_disarm(void) {
  struct itimerval t = {0};
  setitimer(ITIMER_REAL, &t, NULL);
}

/* --max-compile-time: seconds >= 0 (0 = no bound), at most 1e7; -1 if malformed */
double tool_parse_seconds(const char *s) {
  char *e;
  double x = s ? strtod(s, &e) : -1;
  return !s || e == s || *e || !(x >= 0) || x > 1e7 ? -1 : x;
}

/* "512", "64K", "1.5G" → bytes; -1 if malformed, not positive or above 2^62 */
int64_t tool_parse_size(const char *s) {
  char *e;
  errno = 0;
  double x = strtod(s, &e);
  double mul = 1;
  if (*e == 'k' || *e == 'K') mul = 1024.0, e++;
  else if (*e == 'm' || *e == 'M') mul = 1024.0 * 1024, e++;
  else if (*e == 'g' || *e == 'G') mul = 1024.0 * 1024 * 1024, e++;
  else if (*e == 't' || *e == 'T') mul = 1024.0 * 1024 * 1024 * 1024, e++;
  if (*e == 'b' || *e == 'B') e++;
  if (e == s || *e || errno || !(x * mul >= 1) || x * mul > 0x1p62) return -1;
  return (int64_t)(x * mul);
}

/* ---- options shared by commands ---- */
typedef struct Opts {
  const char *model;
  const char *out;        /* -o */
  const char *test_data;
  const char *emit;
  const char *target;
  const char *after;
  const char *pos[MAX_ARGS];
  int npos;
  const char *named[MAX_ARGS]; /* -i NAME=FILE */
  int nnamed;
  FeShape shapes[MAX_ARGS];
  int nshapes;
  int threads, runs, warmup;
  bool json, help;
  double rtol, atol;
} Opts;

static const char *disable_passes; /* --disable-pass LIST */
static bool layout_nchw;           /* --layout nchw */
static bool no_cache;              /* --no-cache */
static bool spin_off;              /* --spin off */
static const char *cache_dir;      /* --cache-dir DIR */

/* --no-cache / ONNXC_NO_CACHE=1, --cache-dir / the default folder, ONNXC_CACHE_MAX_SIZE into a
 * session's options (the library caches nothing unless told a folder) */
static int cache_options_to(onnxc_session_options *op) {
  const char *off = getenv("ONNXC_NO_CACHE"), *max = getenv("ONNXC_CACHE_MAX_SIZE");
  char dir[1024];
  if (no_cache || (off && *off && strcmp(off, "0"))) return ONNXC_OK;
  if (cache_dir) snprintf(dir, sizeof dir, "%s", cache_dir);
  else if (onnxc_cache_default_dir(dir, sizeof dir)) return ONNXC_OK; /* no HOME: no cache */
  int rc = onnxc_options_set_cache_dir(op, dir);
  if (rc) fprintf(stderr, "onnxc: cache folder '%s' is too long\n", dir);
  int64_t b = max && *max ? tool_parse_size(max) : 0;
  if (!rc && b < 0) {
    fprintf(stderr, "onnxc: bad size '%s' in ONNXC_CACHE_MAX_SIZE (e.g. 512M, 4G)\n", max);
    return ONNXC_ERR_ARGUMENT;
  }
  return rc ? rc : onnxc_options_set_cache_max_bytes(op, b);
}

int tool_pass_flag(const char *cmd, int argc, char **argv, int *i) {
  if (!strcmp(argv[*i], "--no-fuse")) return tool_no_fuse = true, 1;
  if (!strcmp(argv[*i], "--layout")) { /* passes/layout.c; nchw = --disable-pass layout */
    const char *v = *i + 1 < argc ? argv[++*i] : "";
    if (strcmp(v, "auto") && strcmp(v, "nchw")) {
      fprintf(stderr, "onnxc %s: --layout: unknown layout '%s' (auto or nchw)\n", cmd, v);
      return -1;
    }
    layout_nchw = !strcmp(v, "nchw");
    return 1;
  }
  if (strcmp(argv[*i], "--disable-pass")) return 0;
  char err[512];
  const char *v = *i + 1 < argc ? argv[++*i] : "";
  if (onnxc_pass_list_check(v, err, sizeof err)) {
    fprintf(stderr, "onnxc %s: --disable-pass: %s\n", cmd, *v ? err : "needs pass names");
    return -1;
  }
  disable_passes = v;
  return 1;
}

static bool verify_each(void) {
  const char *ve = getenv("ONNXC_VERIFY_EACH");
  return ve && !strcmp(ve, "1");
}

/* --no-fuse, --disable-pass and ONNXC_VERIFY_EACH into a session's options */
static int pass_options_to(onnxc_session_options *op) {
  int rc = tool_no_fuse ? onnxc_options_disable_pass(op, "fuse") : ONNXC_OK;
  if (!rc && layout_nchw) rc = onnxc_options_disable_pass(op, "layout");
  for (const char *p = disable_passes; p && *p && !rc;) {
    size_t n = strcspn(p, ",");
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), p);
    rc = onnxc_options_disable_pass(op, name);
    p += n + (p[n] == ',');
  }
  return rc ? rc : onnxc_options_set_verify_each(op, verify_each());
}

/* --shape names live as long as the process: kept here, where the leak checker sees them */
static char *shape_names[MAX_ARGS];
static const char *keep_name(char *name) {
  static int n;
  if (name && n < MAX_ARGS) shape_names[n++] = name;
  return name;
}

static int parse_opts(int argc, char **argv, Opts *o, const char *cmd) {
  memset(o, 0, sizeof *o);
  o->threads = 0;
  o->runs = 20;
  o->warmup = 3;
  o->rtol = 1e-3;
  o->atol = 1e-5;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    int pf;
#define NEXT()                                                                       \
  (i + 1 < argc ? argv[++i]                                                          \
                : (fprintf(stderr, "onnxc %s: option %s needs a value\n", cmd, a), (char *)NULL))
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) o->help = true;
    else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!(o->out = NEXT())) return -1;
    } else if (!strcmp(a, "-i") || !strcmp(a, "--input")) {
      const char *v = NEXT();
      if (!v) return -1;
      if (!strchr(v, '=')) {
        fprintf(stderr, "onnxc %s: -i expects NAME=FILE, got '%s'\n", cmd, v);
        return -1;
      }
      if (o->nnamed == MAX_ARGS) return -1;
      o->named[o->nnamed++] = v;
    } else if (!strcmp(a, "--shape")) {
      const char *v = NEXT();
      if (!v) return -1;
      const char *eq = strchr(v, '=');
      if (!eq || eq == v || o->nshapes == MAX_ARGS) {
        fprintf(stderr, "onnxc %s: --shape expects NAME=DIMS (e.g. input=1x3x224x224), got '%s'\n", cmd, v);
        return -1;
      }
      FeShape *sh = &o->shapes[o->nshapes++];
      if (!(sh->name = keep_name(strndup(v, (size_t)(eq - v))))) return -1;
      if (tool_parse_dims(eq + 1, sh)) {
        fprintf(stderr, "onnxc %s: bad dims '%s' in --shape (expected e.g. 1x3x224x224)\n", cmd, eq + 1);
        return -1;
      }
    } else if (!strcmp(a, "--threads") || !strcmp(a, "--runs") || !strcmp(a, "--warmup")) {
      const char *v = NEXT();
      if (!v) return -1;
      char *e;
      long x = strtol(v, &e, 10);
      if (*e || x < 0 || x > 100000 || (x == 0 && strcmp(a, "--threads") && strcmp(a, "--warmup"))) {
        fprintf(stderr, "onnxc %s: bad value '%s' for %s\n", cmd, v, a);
        return -1;
      }
      if (!strcmp(a, "--threads")) o->threads = (int)x;
      else if (!strcmp(a, "--runs")) o->runs = (int)x;
      else o->warmup = (int)x;
    } else if (!strcmp(a, "--max-compile-time")) {
      const char *v = NEXT();
      if (!v) return -1;
      if ((tool_max_compile_time = tool_parse_seconds(v)) < 0) {
        fprintf(stderr, "onnxc %s: bad value '%s' for --max-compile-time (seconds, 0 = no bound)\n", cmd, v);
        return -1;
      }
    } else if (!strcmp(a, "--max-run-time")) {
      const char *v = NEXT();
      if (!v) return -1;
      if ((tool_max_run_time = tool_parse_seconds(v)) < 0) {
        fprintf(stderr, "onnxc %s: bad value '%s' for --max-run-time (seconds, 0 = no bound)\n", cmd, v);
        return -1;
      }
    } else if (!strcmp(a, "--max-memory")) {
      const char *v = NEXT();
      if (!v) return -1;
      if ((tool_max_memory = tool_parse_size(v)) < 0) {
        fprintf(stderr, "onnxc %s: bad size '%s' for --max-memory (e.g. 512M, 4G)\n", cmd, v);
        return -1;
      }
    } else if (!strcmp(a, "--rtol") || !strcmp(a, "--atol")) {
      const char *v = NEXT();
      if (!v) return -1;
      char *e;
      double x = strtod(v, &e);
      if (*e || !(x >= 0)) {
        fprintf(stderr, "onnxc %s: bad value '%s' for %s\n", cmd, v, a);
        return -1;
      }
      if (!strcmp(a, "--rtol")) o->rtol = x;
      else o->atol = x;
    } else if (!strcmp(a, "--test-data")) {
      if (!(o->test_data = NEXT())) return -1;
    } else if (!strcmp(a, "--emit")) {
      if (!(o->emit = NEXT())) return -1;
    } else if (!strcmp(a, "--target")) {
      if (!(o->target = NEXT())) return -1;
    } else if (!strcmp(a, "--after")) {
      if (!(o->after = NEXT())) return -1;
    } else if (!strcmp(a, "--profile-json")) {
      if (!(tool_profile_json = NEXT())) return -1;
      tool_profile = true;
    } else if (!strcmp(a, "--profile")) tool_profile = true;
    else if (!strcmp(a, "--perf-map")) tool_perf_map = true;
    else if (!strcmp(a, "--json")) o->json = true;
    else if (!strcmp(a, "--dump-llvm")) tool_dump_llvm = true;
    else if (!strcmp(a, "--time-passes")) tool_time_passes = true;
    else if (!strcmp(a, "--no-cache")) no_cache = true;
    else if (!strcmp(a, "--spin")) {
      const char *v = NEXT();
      if (!v) return -1;
      if (strcmp(v, "on") && strcmp(v, "off")) {
        fprintf(stderr, "onnxc %s: bad value '%s' for --spin (on or off)\n", cmd, v);
        return -1;
      }
      spin_off = !strcmp(v, "off");
    } else if (!strcmp(a, "--cache-dir")) {
      if (!(cache_dir = NEXT())) return -1;
    }
    else if ((pf = tool_pass_flag(cmd, argc, argv, &i))) {
      if (pf < 0) return -1;
    } else if ((pf = tool_gemm_flag(cmd, argc, argv, &i))) {
      if (pf < 0) return -1;
    } else if ((pf = tool_fp_mode_flag(cmd, argc, argv, &i))) {
      if (pf < 0) return -1;
    } else if ((pf = tool_prune_flag(cmd, argc, argv, &i))) {
      if (pf < 0) return -1;
    } else if ((pf = tool_quant_flag(cmd, argc, argv, &i))) {
      if (pf < 0) return -1;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "onnxc %s: unknown option '%s' (see onnxc %s --help)\n", cmd, a, cmd);
      return -1;
    } else if (!o->model) o->model = a;
    else {
      if (o->npos == MAX_ARGS) return -1;
      o->pos[o->npos++] = a;
    }
#undef NEXT
  }
  return tool_quant_usage(cmd) ? -1 : 0;
}

/* ---- tensors ---- */
static bool ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && !strcmp(s + n - m, suf);
}

int tool_read_tensor(const char *path, Tensor *t, char *err, size_t errlen) {
  if (ends_with(path, ".npy")) return npy_read(path, t, err, errlen);
  return fe_read_tensor_pb(path, t, err, errlen);
}

static void fail(const char *msg) { /* names in msg (from the model or the command line) escaped */
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", msg);
  ir_msg_escape(buf, sizeof buf);
  fprintf(stderr, "onnxc: %s\n", buf);
}

void tool_fail_session(const onnxc_session *s, int status, const char *model) {
  if (status == ONNXC_ERR_TIMEOUT)
    fprintf(stderr, "onnxc: compiling %s took longer than --max-compile-time %g s; stopped\n", model,
            tool_max_compile_time);
  else
    fail(onnxc_session_error(s));
}

onnxc_session *tool_open(const char *model, const FeShape *shapes, int nshapes, int threads) {
  onnxc_session_options *op;
  if (onnxc_options_create(&op)) {
    fail("out of memory");
    return NULL;
  }
  int rc = onnxc_options_set_threads(op, threads);
  if (!rc) rc = onnxc_options_set_spin(op, !spin_off);
  for (int i = 0; i < nshapes && !rc; i++) rc = onnxc_options_fix_input(op, shapes[i].name, shapes[i].rank, shapes[i].dims);
  if (!rc) rc = pass_options_to(op);
  if (!rc) rc = onnxc_options_set_max_memory(op, tool_max_memory);
  if (!rc) rc = onnxc_options_set_max_compile_time(op, tool_max_compile_time);
  if (!rc) rc = onnxc_options_set_max_run_time(op, tool_max_run_time);
  if (!rc) rc = onnxc_options_set_time_phases(op, tool_time_passes);
  if (!rc) rc = onnxc_options_set_dump_llvm(op, tool_dump_llvm);
  if (!rc) rc = onnxc_options_set_profile(op, tool_profile);
  const char *pm = getenv("ONNXC_PERF_MAP"); /* the CLI reads it; the library reads no environment */
  if (!rc) rc = onnxc_options_set_perf_map(op, tool_perf_map || (pm && !strcmp(pm, "1")));
  if (!rc) rc = cache_options_to(op);
  if (!rc) rc = tool_prune_options_to(op);
  if (!rc) rc = tool_gemm_options_to(op);
  if (!rc) rc = tool_fp_mode_options_to(op);
  onnxc_session *s = NULL;
  if (rc) fprintf(stderr, "onnxc: bad options: %s\n", onnxc_status_string(rc));
  else {
    tool_deadline_arm(model);
    if ((rc = onnxc_session_create_from_file(model, op, &s)) || tool_quant_apply(s, model)) {
      if (rc) tool_fail_session(s, rc, model);
      onnxc_session_free(s);
      s = NULL;
    }
  }
  onnxc_options_free(op);
  return s;
}

int tool_prepare(onnxc_session *s, const char *model, Tensor *ins, int n) {
  onnxc_tensor ts[MAX_ARGS];
  for (int i = 0; ins && i < n; i++) ts[i] = tool_tensor(&ins[i]);
  int rc = onnxc_session_prepare(s, ins ? ts : NULL, ins ? n : 0);
  tool_deadline_disarm();
  fflush(stdout);
  tool_print_phases(s);
  if (rc) tool_fail_session(s, rc, model);
  return rc;
}

void tool_print_phases(onnxc_session *s) {
  char buf[4096];
  if (onnxc_session_phase_report(s, buf, sizeof buf)) fputs(buf, stderr);
}

onnxc_tensor tool_tensor(const Tensor *t) {
  return (onnxc_tensor){.data = t->data, .bytes = (int64_t)t->bytes, .dtype = (int32_t)t->dtype, .rank = t->rank,
                        .dims = t->dims};
}

void tool_shape_str(const onnxc_value_info *v, char *buf, size_t len) {
  Value iv = {.rank = v->rank}; /* the IR's printer, on the API's description */
  for (int d = 0; d < IR_MAX_RANK && d < ONNXC_MAX_RANK; d++) iv.dims[d] = v->dims[d], iv.sym[d] = v->dim_names[d];
  ir_shape_str(&iv, buf, len);
}

/* ONNX's numpy helpers store bfloat16 test data as uint16 of the same bits */
void tool_bf16_inputs(const onnxc_session *s, Tensor *ts, int n) {
  for (int i = 0; i < n; i++) {
    onnxc_value_info vi;
    if (ts[i].dtype == DT_UINT16 && !onnxc_session_input_info(s, i, &vi) && vi.dtype == ONNXC_DT_BFLOAT16)
      ts[i].dtype = DT_BFLOAT16;
  }
}

/* the given inputs all have data (the message the CLI has always given) */
int tool_check_given(const onnxc_session *s, const Tensor *ts, char *err, size_t errlen) {
  for (int i = 0; i < onnxc_session_num_inputs(s); i++) {
    onnxc_value_info vi;
    onnxc_session_input_info(s, i, &vi);
    if (!ts[i].data && !ts[i].bytes && !ts[i].dtype) {
      snprintf(err, errlen, "no data for input '%s' (give it positionally or with -i %s=FILE)", IR_NM(vi.name), IR_NM(vi.name));
      return -1;
    }
  }
  return 0;
}

/* Gathers the inputs for `run`/`bench`: positional files in graph-input order, -i NAME=FILE by
 * name (the session checks dtype/shape against the model when it compiles for them). */
static int read_inputs(const Opts *o, const onnxc_session *s, Tensor *ts, char *err, size_t errlen) {
  int nin = onnxc_session_num_inputs(s);
  if (o->npos > nin) {
    snprintf(err, errlen, "%d input files given but the model has %d inputs", o->npos, nin);
    return -1;
  }
  for (int i = 0; i < o->npos; i++)
    if (tool_read_tensor(o->pos[i], &ts[i], err, errlen)) return -1;
  for (int k = 0; k < o->nnamed; k++) {
    const char *eq = strchr(o->named[k], '=');
    char name[4096];
    snprintf(name, sizeof name, "%.*s", (int)(eq - o->named[k]), o->named[k]);
    int idx = onnxc_session_input_index(s, name);
    if (idx < 0) {
      snprintf(err, errlen, "-i %s: the model has no input named '%.*s'", o->named[k], (int)(eq - o->named[k]),
               o->named[k]);
      return -1;
    }
    bool twice = idx < o->npos;
    for (int j = 0; j < k && !twice; j++)
      twice = !strncmp(o->named[j], o->named[k], (size_t)(eq - o->named[k]) + 1);
    if (twice) {
      snprintf(err, errlen, "-i %s: input '%.1000s' is given twice", o->named[k], name);
      return -1;
    }
    if (tool_read_tensor(eq + 1, &ts[idx], err, errlen)) return -1;
  }
  tool_bf16_inputs(s, ts, nin);
  return tool_check_given(s, ts, err, errlen);
}

int tool_alloc_outputs(const onnxc_session *s, Tensor *outs, char *err, size_t errlen) {
  for (int i = 0; i < onnxc_session_num_outputs(s); i++) {
    onnxc_value_info vi;
    onnxc_session_output_info(s, i, &vi);
    Tensor *t = &outs[i];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", vi.name);
    t->dtype = (DType)vi.dtype;
    t->rank = vi.rank;
    memcpy(t->dims, vi.dims, sizeof(int64_t) * IR_MAX_RANK);
    t->bytes = (size_t)tensor_numel(t) * dtype_size(t->dtype);
    size_t cap = (t->bytes + 63) & ~(size_t)63;
    t->data = aligned_alloc(64, cap ? cap : 64);
    if (!t->data) {
      snprintf(err, errlen, "out of memory for output '%s'", vi.name);
      return -1;
    }
    memset(t->data, 0, t->bytes);
  }
  return 0;
}

int tool_run_once(onnxc_session *s, const Tensor *ins, const Tensor *outs) {
  onnxc_tensor ti[MAX_ARGS], to[MAX_ARGS];
  int nin = onnxc_session_num_inputs(s), nout = onnxc_session_num_outputs(s);
  for (int i = 0; i < nin; i++) ti[i] = tool_tensor(&ins[i]);
  for (int i = 0; i < nout; i++) to[i] = tool_tensor(&outs[i]);
  return onnxc_session_run(s, ti, nin, to, nout);
}

/* the model's inputs/outputs fit the CLI's arrays */
static int fits(const onnxc_session *s) {
  if (onnxc_session_num_inputs(s) <= MAX_ARGS && onnxc_session_num_outputs(s) <= MAX_ARGS) return 1;
  fail("too many graph inputs or outputs");
  return 0;
}

/* info and dump take the model only */
static int no_extra_args(const Opts *o, const char *cmd) {
  if (o->npos == 0) return 0;
  fprintf(stderr, "onnxc %s: unexpected argument '%s' (%s takes one model)\n", cmd, o->pos[0], cmd);
  return 2;
}

/* ---- commands ---- */
static int cmd_info(int argc, char **argv) {
  Opts o;
  if (parse_opts(argc, argv, &o, "info")) return 2;
  if (o.help || !o.model) {
    usage_cmd(o.help, "info MODEL [--shape NAME=DIMS]...",
              "Prints the model's inputs and outputs (symbolic dims by name), opset imports, a\n"
              "histogram of its ops, its parameter count, and (when every input shape is known)\n"
              "its multiply-accumulate count.\n\n");
    return o.help ? 0 : 2;
  }
  if (no_extra_args(&o, "info")) return 2;
  onnxc_session *s = tool_open(o.model, o.shapes, o.nshapes, 0);
  if (!s) return 1;
  tool_deadline_disarm();
  int rc = tool_print_info(s, o.model, stdout);
  onnxc_session_free(s);
  return rc ? 1 : 0;
}

static void mkdir_p(const char *dir) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(buf, 0777);
      *p = '/';
    }
  mkdir(buf, 0777);
}

static int cmd_run(int argc, char **argv) {
  Opts o;
  if (parse_opts(argc, argv, &o, "run")) return 2;
  if (o.help || !o.model) {
    usage_cmd(o.help, "run MODEL [INPUT...] [-i NAME=FILE]... [-o DIR] [--threads N] [--test-data DIR]\n"
                      "      [--spin on|off] [--max-run-time S] [--no-cache] [--perf-map]",
              "JIT-compiles the model for the shapes of the given inputs and runs it once.\n"
              "Inputs are .npy files or ONNX TensorProto .pb files, positional in graph-input order\n"
              "or by name with -i. Outputs go to DIR/output_K.npy (K = graph output index).\n\n"
              "  -o DIR              where to write outputs (default: print a summary only)\n"
              "  --threads N         worker threads (default 0 = all cores)\n"
              "  --spin on|off       workers spin between kernels (on, default) or sleep at once\n"
              "                      (off: no CPU spent waiting on a shared machine, as ORT's\n"
              "                      allow_spinning=0; each kernel then wakes them)\n"
              "  --test-data DIR     run an ONNX test_data_set folder (input_K.pb, output_K.pb) and\n"
              "                      compare; DIR may also be a folder of test_data_set_* folders.\n"
              "                      Exit 0 only if every output matches.\n"
              "  --rtol X, --atol X  float tolerances for --test-data (default 1e-3, 1e-5)\n"
              "  --max-run-time S    stop a run (not the compile) after S seconds: exit 1 naming the\n"
              "                      bound (default 0 = no bound)\n"
              "  --dump-llvm         print the optimized LLVM IR to stderr\n"
              "  --time-passes       print the compile time per phase (load, shapes+passes, kernel gen,\n"
              "                      LLVM opt, LLVM codegen) to stderr\n"
              "  --perf-map          write /tmp/perf-PID.map so `perf record`/`perf report` name the\n"
              "                      JIT's kernels (also ONNXC_PERF_MAP=1)\n"
              "  --no-fuse           no operator fusion (to compare)\n" TOOL_HELP_PASSES TOOL_HELP_CACHE TOOL_HELP_PRUNE
                  TOOL_HELP_GEMM TOOL_HELP_FP_MODE);
    return o.help ? 0 : 2;
  }
  if (o.test_data) return tool_run_test_data(o.model, o.test_data, o.shapes, o.nshapes, o.threads, o.rtol, o.atol, true);
  char err[2048];
  onnxc_session *s = tool_open(o.model, o.shapes, o.nshapes, o.threads);
  if (!s) return 1;
  Tensor ins[MAX_ARGS] = {0}, outs[MAX_ARGS] = {0};
  int rc = 1;
  if (!fits(s)) goto out;
  if (read_inputs(&o, s, ins, err, sizeof err)) goto fail;
  if (tool_prepare(s, o.model, ins, onnxc_session_num_inputs(s))) goto out;
  if (tool_alloc_outputs(s, outs, err, sizeof err)) goto fail;
  if (tool_run_once(s, ins, outs)) goto fail_s;
  if (o.out) mkdir_p(o.out);
  for (int i = 0; i < onnxc_session_num_outputs(s); i++) {
    char sh[128], nm[IR_NAME_MSG];
    onnxc_value_info vi;
    onnxc_session_output_info(s, i, &vi);
    tool_shape_str(&vi, sh, sizeof sh);
    if (o.out) {
      char path[4096];
      snprintf(path, sizeof path, "%s/output_%d.npy", o.out, i);
      if (npy_write(path, &outs[i], err, sizeof err)) goto fail;
      printf("output %d '%s': %s[%s] -> %s\n", i, ir_name_msg(vi.name, nm, sizeof nm), dtype_name(outs[i].dtype), sh, path);
    } else
      printf("output %d '%s': %s[%s]\n", i, ir_name_msg(vi.name, nm, sizeof nm), dtype_name(outs[i].dtype), sh);
  }
  rc = 0;
  goto out;
fail_s:
  snprintf(err, sizeof err, "%s", onnxc_session_error(s));
fail:
  fail(err);
out:
  onnxc_session_free(s);
  for (int i = 0; i < MAX_ARGS; i++) {
    tensor_free(&ins[i]);
    free(outs[i].data);
  }
  return rc;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Milliseconds since this process started, as the user waits: exec, loading the shared libraries
 * (LLVM is large) and main's work before the model is loaded all count.  The kernel gives the
 * start in clock ticks since boot (/proc/self/stat field 22, CLOCK_BOOTTIME's origin); where
 * that cannot be read, since main started (main_ms). */
static double main_ms;
static double process_age_ms(void) {
  double age = now_ms() - main_ms;
  FILE *f = fopen("/proc/self/stat", "r");
  char buf[1024];
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  if (f) fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces: fields follow its ')' */
  unsigned long long start = 0;
  long hz = sysconf(_SC_CLK_TCK);
  struct timespec ts;
  if (p && hz > 0 && clock_gettime(CLOCK_BOOTTIME, &ts) == 0 &&
      sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
             &start) == 1) {
    double boot_ms = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
    double since = boot_ms - (double)start * 1e3 / (double)hz;
    if (since >= age && since < age + 60e3) return since; /* a tick's rounding can undershoot: keep main's */
  }
  return age;
}

/* --profile's table, against the mean of the timed runs (the runs the profile counted) */
static int print_profile(onnxc_session *s, const double *lat, int runs, FILE *f) {
  double sum = 0;
  for (int i = 0; i < runs; i++) sum += lat[i];
  fflush(stdout);
  return tool_print_profile(s, runs ? sum / runs : 0, f);
}

static int cmd_bench(int argc, char **argv) {
  Opts o;
  if (parse_opts(argc, argv, &o, "bench")) return 2;
  if (o.help || !o.model) {
    usage_cmd(o.help, "bench MODEL [INPUT...] [-i NAME=FILE]... [--threads N] [--runs N] [--warmup N] [--json]\n"
                      "      [--spin on|off] [--max-run-time S] [--no-cache] [--profile] [--profile-json FILE] [--perf-map]",
              "JIT-compiles the model and times repeated runs: compile time (from process start, so loading\n"
              "the model counts), latency min/median/p90/max,\n"
              "and GFLOP/s from the model's multiply-accumulate count (2 FLOP per MAC).\n"
              "Inputs without a file are filled with zeros if their shape is fixed (--shape).\n\n"
              "  --threads N   worker threads (default 0 = all cores)\n"
              "  --spin on|off workers spin between kernels (on, default) or sleep at once (off;\n"
              "                see onnxc run --help)\n"
              "  --runs N      timed runs (default 20)\n"
              "  --warmup N    untimed runs first (default 3)\n"
              "  --json        one JSON object on stdout\n"
              "  --max-run-time S  stop any one run after S seconds (exit 1; default 0 = no bound)\n"
              "  --time-passes print the compile time per phase to stderr (see onnxc run --help)\n"
              "  --profile     time every node (a separate graph function; none when off) and print\n"
              "                per node: ms/run, % of the run, GFLOP/s, op, kernel, output shape, name,\n"
              "                sorted by time, then a per-op-type summary (to stderr with --json)\n"
              "  --profile-json FILE  also write the last run as a Chrome trace (chrome://tracing,\n"
              "                Perfetto; ONNX Runtime's profiler format); implies --profile\n"
              "  --perf-map    write /tmp/perf-PID.map so `perf report` names the JIT's kernels\n"
              "                (also ONNXC_PERF_MAP=1; run takes it too)\n"
              "  --no-fuse     no operator fusion (to compare)\n" TOOL_HELP_PASSES TOOL_HELP_CACHE TOOL_HELP_PRUNE
                  TOOL_HELP_GEMM TOOL_HELP_FP_MODE);
    return o.help ? 0 : 2;
  }
  char err[2048];
  onnxc_session *s = tool_open(o.model, o.shapes, o.nshapes, o.threads);
  if (!s) return 1;
  Tensor ins[MAX_ARGS] = {0}, outs[MAX_ARGS] = {0};
  int rc = 1, nin = onnxc_session_num_inputs(s);
  double *lat = NULL;
  if (!fits(s)) goto out;
  /* inputs without files: zeros of the model's fixed shape */
  bool zeros = o.npos == 0 && o.nnamed == 0;
  if (zeros)
    for (int i = 0; i < nin; i++) {
      onnxc_value_info vi;
      onnxc_session_input_info(s, i, &vi);
      Tensor *t = &ins[i];
      t->dtype = (DType)vi.dtype;
      t->rank = vi.rank;
      memcpy(t->dims, vi.dims, sizeof t->dims);
      bool known = vi.rank >= 0;
      for (int d = 0; d < vi.rank; d++) known &= vi.dims[d] >= 0;
      if (!known) {
        snprintf(err, sizeof err, "input '%s' has no fixed shape: give a file or --shape %s=DIMS", IR_NM(vi.name), IR_NM(vi.name));
        goto fail;
      }
      t->bytes = (size_t)tensor_numel(t) * dtype_size(t->dtype);
      t->data = calloc(1, t->bytes ? t->bytes : 1);
    }
  else if (read_inputs(&o, s, ins, err, sizeof err))
    goto fail;
  if (tool_prepare(s, o.model, zeros ? NULL : ins, nin)) goto out;
  double compile_ms = process_age_ms(); /* from process start: loading the model counts */
  if (tool_alloc_outputs(s, outs, err, sizeof err)) goto fail;
  for (int i = 0; i < o.warmup; i++)
    if (tool_run_once(s, ins, outs)) goto fail_s;
  if (tool_profile && onnxc_session_profile_reset(s)) goto fail_s; /* warm-up runs not counted */
  lat = malloc(sizeof(double) * (size_t)o.runs);
  for (int i = 0; i < o.runs; i++) {
    double st = now_ms();
    if (tool_run_once(s, ins, outs)) goto fail_s;
    lat[i] = now_ms() - st;
  }
  qsort(lat, (size_t)o.runs, sizeof(double), cmp_dbl);
  double med = lat[o.runs / 2], p90 = lat[(int)((o.runs - 1) * 0.9)];
  onnxc_facts f;
  double macs = onnxc_session_facts(s, &f) || f.macs < 0 ? 0 : f.macs;
  double gflops = macs > 0 ? 2.0 * macs / (med * 1e-3) / 1e9 : 0;
  int threads = onnxc_session_threads(s);
  if (o.json)
    printf("{\"model\": \"%s\", \"threads\": %d, \"runs\": %d, \"compile_ms\": %.1f, \"min_ms\": %.6f, "
           "\"median_ms\": %.6f, \"p90_ms\": %.6f, \"max_ms\": %.6f, \"macs\": %.0f, \"gflops\": %.2f}\n",
           o.model, threads, o.runs, compile_ms, lat[0], med, p90, lat[o.runs - 1], macs, gflops);
  else
    printf("%s: threads %d, compile %.1f ms, %d runs: min %.3f ms, median %.3f ms, p90 %.3f ms, max %.3f ms, "
           "%.2f GFLOP/s\n",
           o.model, threads, compile_ms, o.runs, lat[0], med, p90, lat[o.runs - 1], gflops);
  if (tool_profile && (print_profile(s, lat, o.runs, o.json ? stderr : stdout) ||
                       (tool_profile_json && onnxc_session_profile_write_json(s, tool_profile_json))))
    goto fail_s;
  rc = 0;
  goto out;
fail_s:
  snprintf(err, sizeof err, "%s", onnxc_session_error(s));
fail:
  fail(err);
out:
  free(lat);
  onnxc_session_free(s);
  for (int i = 0; i < MAX_ARGS; i++) {
    tensor_free(&ins[i]);
    free(outs[i].data);
  }
  return rc;
}

static int cmd_dump(int argc, char **argv) {
  Opts o;
  if (parse_opts(argc, argv, &o, "dump")) return 2;
  if (o.help || !o.model) {
    usage_cmd(o.help, "dump MODEL [--after PASS] [--shape NAME=DIMS]...",
              "Prints the IR as text after the named pass (default: the whole pipeline, the graph the\n"
              "backend sees: with each value's place, @io[K] or @arena+OFFSET).\n"
              "  --after import   as read from the file\n"
              "  --after qdq      after QDQ convolutions/adds become int8 QConv/QAdd (before shapes)\n"
              "  --after shapes   after shape inference and folding of constant subgraphs\n"
              "  --after inline   after If on a constant condition is replaced by its branch\n"
              "  --after dce      after dead nodes are removed\n"
              "  --after fuse     after fusion (epilogues print as 'Conv(...) + Add Relu')\n"
              "  --after layout   after each value's layout is chosen (printed when not plain)\n"
              "  --after plan     after memory planning (= passes, the whole pipeline)\n"
              "  --after binary   after Conv/MatMul/Gemm nodes for xor + popcount kernels are marked (their\n"
              "                   Signs fused before plan; --after plan and earlier show no fusion)\n"
              "  --no-fuse        no operator fusion\n" TOOL_HELP_PASSES);
    return o.help ? 0 : 2;
  }
  if (no_extra_args(&o, "dump")) return 2;
  const char *after = !o.after || !strcmp(o.after, "passes") ? "plan" : o.after;
  bool known = !strcmp(after, "import") || !strcmp(after, "qdq");
  for (int i = 0; onnxc_pass_name(i); i++) known |= !strcmp(after, onnxc_pass_name(i));
  if (!known) {
    fprintf(stderr, "onnxc dump: unknown pass '%s' (expected import, qdq", after);
    for (int i = 0; onnxc_pass_name(i); i++) fprintf(stderr, ", %s", onnxc_pass_name(i));
    fprintf(stderr, " or passes)\n");
    return 2;
  }
  onnxc_session *s = tool_open(o.model, o.shapes, o.nshapes, 0);
  if (!s) return 1;
  char *text = NULL;
  int rc = onnxc_session_dump(s, after, &text);
  tool_deadline_disarm();
  if (rc) tool_fail_session(s, rc, o.model);
  else fputs(text, stdout);
  free(text);
  onnxc_session_free(s);
  return rc ? 1 : 0;
}

int main(int argc, char **argv) {
  main_ms = now_ms();
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("onnxc 0.1.0\n");
    return 0;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
  if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
  if (!strcmp(cmd, "bench")) return cmd_bench(argc - 2, argv + 2);
  if (!strcmp(cmd, "dump")) return cmd_dump(argc - 2, argv + 2);
  if (!strcmp(cmd, "compile")) return tool_cmd_compile(argc - 2, argv + 2);
  if (!strcmp(cmd, "prune")) return tool_cmd_prune(argc - 2, argv + 2);
  if (!strcmp(cmd, "quantize")) return tool_cmd_quantize(argc - 2, argv + 2);
  if (!strcmp(cmd, "compress")) return tool_cmd_compress(argc - 2, argv + 2);
  fprintf(stderr, "onnxc: unknown command '%s'\n\n%s", cmd, USAGE);
  return 2;
}
