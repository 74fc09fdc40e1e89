/* compile.c — `onnxc compile`: ahead-of-time compilation into a shared library, object, static
 * archive, assembly or LLVM IR, plus the model's self-contained header NAME.h.
 *
 * backend/aot.c writes the model's code (NAME_graph, NAME_weights); this file writes NAME.h and a
 * small C glue file (the descriptor NAME_info and NAME_create/run/error/destroy), compiles the glue
 * with the target's C compiler and links both with the target's runtime archive (libonnxc_rt.a):
 *   so:  cc -shared, a version script exports only NAME_* and onnxc_model_descriptor
 *   obj: cc -r, then objcopy keeps only NAME_* global (runtime symbols become local)
 *   lib: that object in an ar archive
 * The system C compiler is used because it knows where this system's crt files, libc, libm and
 * pthreads live for each target (cc here, aarch64-linux-gnu-gcc for AArch64); lld would need
 * those paths spelled out. */
#include <errno.h>
#include <limits.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aot.h"
#include "fe.h"
#include "onnxc_rt.h"
#include "passes.h"
#include "tool.h"

extern const char onnxc_model_abi_h[]; /* runtime/onnxc_model.h, embedded at build time */
extern const char *const onnxc_rt_sources[][2]; /* runtime sources: {name, text}..., {0, 0} */

typedef struct CompileOpts {
  const char *model, *out, *name, *emit, *target, *cpu, *features, *weights_file, *header;
  FeShape shapes[TOOL_MAX_IO];
  int nshapes;
  bool help;
} CompileOpts;

static const char *HELP =
    "usage: onnxc compile MODEL -o OUT [--name NAME] [--emit so|obj|lib|llvm|asm|c] [--target T]\n"
    "                     [--cpu CPU] [--features F] [--weights-file PATH] [--header PATH]\n"
    "                     [--shape NAME=DIMS]... [--max-memory SIZE] [--max-compile-time S]\n"
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
    "  --shape NAME=DIMS   fix the dims of input NAME, e.g. --shape input=1x3x224x224\n"
    "  --max-memory SIZE   refuse models needing more (file, weights, intermediates, outputs);\n"
    "                      default 16G\n"
    "  --max-compile-time S stop with an error when loading + code generation takes longer than\n"
    "                      S seconds (default 600; 0 = no bound)\n"
    "  --time-passes       print the compile time per phase (load, shapes+passes, kernel gen, LLVM\n"
    "                      opt, LLVM codegen, C glue + link) to stderr\n"
    "  --no-fuse           no operator fusion\n" TOOL_HELP_PASSES
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
      be_phase_enable(true);
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
      FeShape *sh = &o->shapes[o->nshapes++];
      sh->name = strndup(v, (size_t)(eq - v));
      if (tool_parse_dims(eq + 1, sh)) {
        fprintf(stderr, "onnxc compile: bad dims '%s' in --shape (expected e.g. 1x3x224x224)\n", eq + 1);
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

static bool ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && !strcmp(s + n - m, suf);
}

static const char *emit_from_path(const char *out) {
  if (ends_with(out, ".o")) return "obj";
  if (ends_with(out, ".a")) return "lib";
  if (ends_with(out, ".ll")) return "llvm";
  if (ends_with(out, ".s")) return "asm";
  return "so";
}

/* libNAME.so -> NAME; anything not an identifier character becomes '_' */
static void name_from_path(const char *out, char *name, size_t len) {
  const char *b = strrchr(out, '/');
  b = b ? b + 1 : out;
  if (!strncmp(b, "lib", 3) && b[3] && b[3] != '.') b += 3;
  size_t n = strcspn(b, ".");
  if (n >= len) n = len - 1;
  for (size_t i = 0; i < n; i++) name[i] = isalnum((unsigned char)b[i]) ? b[i] : '_';
  name[n] = 0;
  if (!n || isdigit((unsigned char)name[0])) snprintf(name, len, "model");
}

static bool is_ident(const char *s) {
  if (!*s || isdigit((unsigned char)*s) || strlen(s) > 200) return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return false;
  return true;
}

/* why NAME cannot prefix the model's C symbols (NAME is also the instance's struct and typedef
 * name in NAME.h), or NULL if it can */
static const char *bad_name(const char *s) {
  static const char *const kw[] = {
      "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
      "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
      "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
      "volatile", "while", "alignas", "alignof", "bool", "constexpr", "false", "nullptr", "static_assert",
      "thread_local", "true", "typeof", "typeof_unqual", "asm", "main", NULL};
  if (!is_ident(s)) return "is not a C identifier";
  for (int i = 0; kw[i]; i++)
    if (!strcmp(s, kw[i])) return "is a C keyword";
  size_t n = strlen(s);
  if (s[0] == '_' && (s[1] == '_' || isupper((unsigned char)s[1]))) return "is reserved in C (leading _ + capital or __)";
  if (n >= 2 && !strcmp(s + n - 2, "_t")) return "ends in _t, reserved for system types";
  if (!strncmp(s, "onnxc", 5)) return "starts with onnxc, the runtime's prefix";
  return NULL;
}

static void dir_of(const char *path, char *dir, size_t len) {
  const char *s = strrchr(path, '/');
  if (!s) snprintf(dir, len, ".");
  else if (s == path) snprintf(dir, len, "/");
  else snprintf(dir, len, "%.*s", (int)(s - path), path);
}

/* where NAME.h goes: --header, else inside OUT for --emit c, else beside OUT */
static void header_path(const CompileOpts *o, bool c_sources, const char *name, char *buf, size_t len) {
  char d[4096];
  if (o->header) snprintf(buf, len, "%s", o->header);
  else if (c_sources) snprintf(buf, len, "%.4000s/%s.h", o->out, name);
  else {
    dir_of(o->out, d, sizeof d);
    snprintf(buf, len, "%.4000s/%s.h", d, name);
  }
}

/* path with its folder resolved (the file itself need not exist) */
static void canon_path(const char *path, char *buf, size_t len) {
  char d[4096], rd[PATH_MAX];
  dir_of(path, d, sizeof d);
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  if (realpath(d, rd)) snprintf(buf, len, "%.3000s/%.1000s", rd, b);
  else snprintf(buf, len, "%s", path);
}

/* do a and b name the same file (existing: same inode; else the same resolved path)? */
static bool same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (!stat(a, &sa) && !stat(b, &sb)) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  char ca[4200], cb[4200];
  canon_path(a, ca, sizeof ca);
  canon_path(b, cb, sizeof cb);
  return !strcmp(ca, cb);
}

/* ---- toolchain ---- */
typedef struct Toolchain {
  char cc[256], objcopy[256], ar[256], rtlib[4096];
} Toolchain;

static bool host_arch_is(const char *arch) {
  struct utsname u;
  return !uname(&u) && !strcmp(u.machine, arch);
}

static bool file_exists(const char *p) {
  struct stat st;
  return !stat(p, &st) && S_ISREG(st.st_mode);
}

/* the runtime archive for an architecture: $ONNXC_RT_DIR, rt/ beside the executable (build tree),
 * or the installed library folder */
static int find_rtlib(const char *arch, bool native, char *out, size_t len, char *err, size_t errlen) {
  char file[64], exe[4096], dirs[4][4096];
  snprintf(file, sizeof file, native ? "libonnxc_rt.a" : "libonnxc_rt_%s.a", arch);
  int nd = 0;
  const char *env = getenv("ONNXC_RT_DIR");
  if (env) snprintf(dirs[nd++], sizeof dirs[0], "%s", env);
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    char d[4096];
    dir_of(exe, d, sizeof d);
    snprintf(dirs[nd++], sizeof dirs[0], "%.4000s/rt", d);
    snprintf(dirs[nd++], sizeof dirs[0], "%.4000s/../%s", d, ONNXC_INSTALL_LIBDIR);
  }
  for (int i = 0; i < nd; i++) {
    snprintf(out, len, "%.4000s/%s", dirs[i], file);
    if (file_exists(out)) return 0;
  }
  snprintf(err, errlen, "no onnxc runtime for %s: %s not found in rt/ beside onnxc, in ../%s or in $ONNXC_RT_DIR%s", arch,
           file, ONNXC_INSTALL_LIBDIR,
           native ? "" : " (the build makes it when the cross compiler is installed, e.g. gcc-aarch64-linux-gnu)");
  return -1;
}

static int toolchain(const char *triple, Toolchain *tc, char *err, size_t errlen) {
  char arch[32];
  snprintf(arch, sizeof arch, "%.*s", (int)strcspn(triple, "-"), triple);
  bool native = host_arch_is(arch);
  if (native) {
    const char *cc = getenv("ONNXC_CC");
    snprintf(tc->cc, sizeof tc->cc, "%s", cc && *cc ? cc : "cc");
    snprintf(tc->objcopy, sizeof tc->objcopy, "objcopy");
    snprintf(tc->ar, sizeof tc->ar, "ar");
  } else {
    snprintf(tc->cc, sizeof tc->cc, "%s-linux-gnu-gcc", arch);
    snprintf(tc->objcopy, sizeof tc->objcopy, "%s-linux-gnu-objcopy", arch);
    snprintf(tc->ar, sizeof tc->ar, "%s-linux-gnu-ar", arch);
  }
  return find_rtlib(arch, native, tc->rtlib, sizeof tc->rtlib, err, errlen);
}

/* runs argv (no shell); 0 if it exited 0 */
static int run_cmd(char *const argv[], char *err, size_t errlen) {
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
    return -1;
  }
  if (pid == 0) {
    execvp(argv[0], argv);
    fprintf(stderr, "onnxc: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) break;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  snprintf(err, errlen, "%s failed (exit %d)%s", argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1,
           WIFEXITED(st) && WEXITSTATUS(st) == 127 ? ": is it installed?" : "");
  return -1;
}

/* ---- NAME.h and the glue ---- */
static const char *c_type(DType t) {
  switch (t) {
  case DT_FLOAT: return "float";
  case DT_DOUBLE: return "double";
  case DT_UINT8: case DT_BOOL: return "uint8_t";
  case DT_INT8: return "int8_t";
  case DT_UINT16: case DT_FLOAT16: case DT_BFLOAT16: return "uint16_t";
  case DT_INT16: return "int16_t";
  case DT_INT32: return "int32_t";
  case DT_UINT32: return "uint32_t";
  case DT_INT64: return "int64_t";
  case DT_UINT64: return "uint64_t";
  default: return NULL;
  }
}

static void put_cstr(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++)
    if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
    else if (isprint((unsigned char)*s)) fputc(*s, f);
    else fprintf(f, "\\%03o", (unsigned char)*s);
  fputc('"', f);
}

static void put_tensor_macros(FILE *f, const char *name, const char *kind, int i, const Value *v) {
  char shape[256];
  ir_shape_str(v, shape, sizeof shape);
  fprintf(f, "/* %s %d: ", kind, i);
  for (const char *s = v->name; *s; s++) fputc(*s == '*' || *s == '/' ? '_' : *s, f);
  fprintf(f, " %s[%s] */\n", dtype_name(v->dtype), shape);
  fprintf(f, "#define %s_%s_%d_NAME ", name, kind, i);
  put_cstr(f, v->name);
  fprintf(f, "\n#define %s_%s_%d_DTYPE %d\n", name, kind, i, (int)v->dtype);
  fprintf(f, "#define %s_%s_%d_CTYPE %s\n", name, kind, i, c_type(v->dtype));
  fprintf(f, "#define %s_%s_%d_RANK %d\n", name, kind, i, v->rank);
  fprintf(f, "#define %s_%s_%d_DIMS {", name, kind, i);
  for (int d = 0; d < v->rank; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)v->dims[d]);
  fprintf(f, "%s}\n", v->rank ? "" : "0");
  int64_t n = ir_value_numel(v);
  fprintf(f, "#define %s_%s_%d_NUMEL %lld\n", name, kind, i, (long long)n);
  fprintf(f, "#define %s_%s_%d_BYTES %lld\n", name, kind, i, (long long)(n * (int64_t)dtype_size(v->dtype)));
}

static int write_header(const char *path, const char *name, const char *model, const BeAotResult *r, Graph *g,
                        bool embedded, bool c_sources, char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %.1500s: %s", path, strerror(errno));
    return -1;
  }
  fprintf(f, "/* %s.h — generated by onnxc compile from %s for %s (%s). Do not edit.\n", name, model, r->target,
          r->triple);
  if (c_sources)
    fprintf(f, " *\n * Build: cc -O2 -c the .c files beside this header (the model, %s_glue.c, onnxc_rt_*.c) and\n"
               " * link them into your program; they need only libc, libm, pthreads.\n", name);
  else
    fprintf(f, " *\n * Link with lib%s.so (or the object/archive onnxc wrote); it needs only libc, libm, pthreads.\n",
            name);
  fprintf(f, " *   %s *m; %s_create(&m, NULL); %s_run(m, inputs, outputs); %s_destroy(m);\n"
             " * inputs/outputs: caller-owned buffers in the order below, dense row-major. Functions return\n"
             " * 0 or an ONNXC_ERR_* code; %s_error(m) says why (%s_error(NULL): the last failed create).\n"
             " * %s_run_tensors takes onnxc_tensor {data, bytes, dtype, rank, dims} and checks each against\n"
             " * the model's tensors first (ONNXC_ERR_ARGUMENT naming the tensor): what a host should call. */\n",
          name, name, name, name, name, name, name);
  fprintf(f, "#ifndef ONNXC_MODEL_%s_H\n#define ONNXC_MODEL_%s_H\n\n", name, name);
  fputs(onnxc_model_abi_h, f);
  fprintf(f, "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  fprintf(f, "typedef struct %s %s; /* one instance: its own arena and threads; weights are shared */\n", name, name);
  fprintf(f, "int %s_create(%s **out, const onnxc_options *opts); /* opts may be NULL */\n", name, name);
  fprintf(f, "int %s_run(%s *m, const void *const inputs[], void *const outputs[]);\n", name, name);
  fprintf(f, "int %s_run_tensors(%s *m, const onnxc_tensor *inputs, int32_t num_inputs, const onnxc_tensor *outputs,\n"
             "                     int32_t num_outputs);\n", name, name);
  fprintf(f, "const char *%s_error(const %s *m);\n", name, name);
  fprintf(f, "void %s_destroy(%s *m);\n", name, name);
  fprintf(f, "extern const onnxc_model_info %s_info;\n\n", name);
  fprintf(f, "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n", name, g->ninputs, name, g->noutputs);
  fprintf(f, "#define %s_WEIGHTS_EMBEDDED %d\n#define %s_WEIGHTS_BYTES %zu\n", name, embedded ? 1 : 0, name,
          r->weights_bytes);
  fprintf(f, "#define %s_ARENA_BYTES %lld\n\n", name, (long long)r->arena_bytes);
  for (int i = 0; i < g->ninputs; i++) put_tensor_macros(f, name, "INPUT", i, g->inputs[i]);
  for (int i = 0; i < g->noutputs; i++) put_tensor_macros(f, name, "OUTPUT", i, g->outputs[i]);
  fprintf(f, "\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
  if (fclose(f)) {
    snprintf(err, errlen, "cannot write %.1500s", path);
    return -1;
  }
  return 0;
}

static void put_tensor_table(FILE *f, const char *tab, Value *const *vs, int n) {
  for (int i = 0; i < n; i++) {
    fprintf(f, "static const int64_t %s_dims_%d[] = {", tab, i);
    for (int d = 0; d < vs[i]->rank; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)vs[i]->dims[d]);
    fprintf(f, "%s};\n", vs[i]->rank ? "" : "0");
  }
  fprintf(f, "static const onnxc_tensor_info %s[] = {\n", tab);
  for (int i = 0; i < n; i++) {
    int64_t numel = ir_value_numel(vs[i]);
    fprintf(f, "  {");
    put_cstr(f, vs[i]->name);
    fprintf(f, ", %d, %d, %s_dims_%d, %lld, %lld},\n", (int)vs[i]->dtype, vs[i]->rank, tab, i, (long long)numel,
            (long long)(numel * (int64_t)dtype_size(vs[i]->dtype)));
  }
  if (!n) fprintf(f, "  {0}\n");
  fprintf(f, "};\n");
}

/* "Op 'name'" per top-level node, in the graph function's order (rt->failed_node indexes it) */
static void put_node_table(FILE *f, Graph *g) {
  fprintf(f, "static const char *const nodes_[] = {\n");
  for (int k = 0; k < g->nnodes; k++) {
    char label[200];
    ir_node_label(g->nodes[k], label, sizeof label);
    fprintf(f, "  ");
    put_cstr(f, label);
    fprintf(f, ",\n");
  }
  fprintf(f, "  0};\n");
}

static int write_glue(const char *path, const char *header, const char *name, const BeAotResult *r, Graph *g,
                      bool embedded, char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %.1500s: %s", path, strerror(errno));
    return -1;
  }
  const char *n = name;
  const char *hb = strrchr(header, '/');
  fprintf(f, "/* glue for %s: descriptor and entry points (generated by onnxc compile) */\n#include \"%s\"\n\n", n,
          hb ? hb + 1 : header);
  fprintf(f, "#define HIDDEN __attribute__((visibility(\"hidden\")))\n");
  fprintf(f, "HIDDEN int32_t %s_graph(void *rt, void *const *io);\n", n);
  if (embedded) fprintf(f, "HIDDEN extern const char %s_weights[];\n", n);
  put_tensor_table(f, "inputs_", g->inputs, g->ninputs);
  put_tensor_table(f, "outputs_", g->outputs, g->noutputs);
  put_node_table(f, g);
  fprintf(f, "static int create_(onnxc_model **out, const onnxc_options *opts) {\n"
             "  return onnxc_model_create(&%s_info, out, opts);\n}\n", n);
  fprintf(f, "const onnxc_model_info %s_info = {\n  ONNXC_ABI_VERSION, \"%s\", \"%s\", %d, %d, inputs_, outputs_,\n"
             "  create_, onnxc_model_run, onnxc_model_error, onnxc_model_destroy, onnxc_model_run_tensors,\n"
             "  %s_graph, %s%s, %lldLL, 0x%016llxULL, %lldLL, %lldLL, %d, nodes_,\n};\n",
          n, n, r->target, g->ninputs, g->noutputs, n, embedded ? n : "0", embedded ? "_weights" : "",
          (long long)r->weights_bytes, (unsigned long long)onnxc_hash_bytes(r->weights, r->weights_bytes),
          (long long)r->arena_bytes, (long long)r->scratch_bytes, g->nnodes);
  fprintf(f, "int %s_create(%s **out, const onnxc_options *opts) {\n"
             "  return onnxc_model_create(&%s_info, (onnxc_model **)out, opts);\n}\n", n, n, n);
  fprintf(f, "int %s_run(%s *m, const void *const inputs[], void *const outputs[]) {\n"
             "  return onnxc_model_run((onnxc_model *)m, inputs, outputs);\n}\n", n, n);
  fprintf(f, "int %s_run_tensors(%s *m, const onnxc_tensor *inputs, int32_t num_inputs, const onnxc_tensor *outputs,\n"
             "                     int32_t num_outputs) {\n"
             "  return onnxc_model_run_tensors((onnxc_model *)m, inputs, num_inputs, outputs, num_outputs);\n}\n",
          n, n);
  fprintf(f, "const char *%s_error(const %s *m) { return onnxc_model_error((const onnxc_model *)m); }\n", n, n);
  fprintf(f, "void %s_destroy(%s *m) { onnxc_model_destroy((onnxc_model *)m); }\n", n, n);
  fprintf(f, "#ifdef ONNXC_EXPORT_DESCRIPTOR\n"
             "extern const onnxc_model_info onnxc_model_descriptor __attribute__((alias(\"%s_info\")));\n#endif\n", n);
  if (fclose(f)) {
    snprintf(err, errlen, "cannot write %.1500s", path);
    return -1;
  }
  return 0;
}

static int write_file(const char *path, const void *data, size_t bytes, char *err, size_t errlen) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, bytes, f) != bytes || fclose(f)) {
    snprintf(err, errlen, "cannot write %.1500s: %s", path, strerror(errno));
    if (f) fclose(f);
    return -1;
  }
  return 0;
}

/* ---- linking ---- */
typedef struct Tmp {
  char dir[64], obj[128], glue[128], glue_o[128], merged[128], vs[128], hdr[400];
} Tmp;

static int link_so(const Tmp *t, const Toolchain *tc, const char *name, const char *out, char *err, size_t errlen) {
  FILE *f = fopen(t->vs, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %s", t->vs);
    return -1;
  }
  fprintf(f, "{\n  global: %s_*; onnxc_model_descriptor;\n  local: *;\n};\n", name);
  fclose(f);
  char soname[300], vsopt[200];
  const char *b = strrchr(out, '/');
  snprintf(soname, sizeof soname, "-Wl,-soname,%s", b ? b + 1 : out);
  snprintf(vsopt, sizeof vsopt, "-Wl,--version-script=%s", t->vs);
  char *argv[] = {(char *)tc->cc, "-shared", "-o", (char *)out, (char *)t->obj, (char *)t->glue_o,
                  (char *)tc->rtlib, "-lm", "-lpthread", vsopt, soname, "-Wl,-z,noexecstack", "-Wl,--as-needed",
                  NULL};
  return run_cmd(argv, err, errlen);
}

/* one relocatable object holding the model, the glue and the runtime; only NAME_* stay global */
static int link_obj(const Tmp *t, const Toolchain *tc, const char *name, const char *out, char *err, size_t errlen) {
  char *ld[] = {(char *)tc->cc, "-r", "-nostdlib", "-o", (char *)t->merged, (char *)t->obj, (char *)t->glue_o,
                "-Wl,--whole-archive", (char *)tc->rtlib, "-Wl,--no-whole-archive", NULL};
  if (run_cmd(ld, err, errlen)) return -1;
  char keep[300];
  snprintf(keep, sizeof keep, "%s_*", name);
  char *oc[] = {(char *)tc->objcopy, "--wildcard", "--keep-global-symbol", keep, (char *)t->merged, (char *)out,
                NULL};
  return run_cmd(oc, err, errlen);
}

static int link_lib(const Tmp *t, const Toolchain *tc, const char *name, const char *out, char *err,
                    size_t errlen) {
  char obj[400];
  snprintf(obj, sizeof obj, "%s/%s.o", t->dir, name);
  if (link_obj(t, tc, name, obj, err, errlen)) return -1;
  unlink(out); /* ar would add to an existing archive */
  char *ar[] = {(char *)tc->ar, "rcs", (char *)out, obj, NULL};
  int rc = run_cmd(ar, err, errlen);
  unlink(obj);
  return rc;
}

static void tmp_cleanup(const Tmp *t) {
  const char *files[] = {t->obj, t->glue, t->glue_o, t->merged, t->vs, t->hdr};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(files[i]);
  rmdir(t->dir);
}

/* the temporary folder of the build in progress, removed if --max-compile-time expires */
static const Tmp *live_tmp;
static void live_tmp_cleanup(void) {
  if (live_tmp) tmp_cleanup(live_tmp);
}

static int build_library(const CompileOpts *o, const Target *tgt, const char *emit, const char *name, Graph *g,
                         char *err, size_t errlen) {
  Tmp t;
  snprintf(t.dir, sizeof t.dir, "/tmp/onnxc-XXXXXX");
  if (!mkdtemp(t.dir)) {
    snprintf(err, errlen, "cannot create a temporary folder: %s", strerror(errno));
    return -1;
  }
  snprintf(t.obj, sizeof t.obj, "%s/model.o", t.dir);
  snprintf(t.glue, sizeof t.glue, "%s/glue.c", t.dir);
  snprintf(t.glue_o, sizeof t.glue_o, "%s/glue.o", t.dir);
  snprintf(t.merged, sizeof t.merged, "%s/merged.o", t.dir);
  snprintf(t.vs, sizeof t.vs, "%s/exports.map", t.dir);
  t.hdr[0] = 0;
  live_tmp = &t;
  tool_deadline_cleanup(live_tmp_cleanup);
  BeAotOptions bo = {.target = o->target, .cpu = o->cpu, .features = o->features, .max_memory = tool_max_memory, .name = name, .kind = "obj",
                     .embed_weights = !o->weights_file};
  BeAotResult r;
  Toolchain tc;
  int rc = -1;
  char header[4400];
  header_path(o, false, name, header, sizeof header);
  if (toolchain(tgt->triple, &tc, err, errlen)) goto out_tmp; /* before the (long) code generation */
  int emitted = be_aot_emit(g, &bo, t.obj, &r, err, errlen);
  tool_deadline_disarm(); /* the rest runs the C compiler on small glue: not interrupted midway */
  tool_deadline_cleanup(NULL);
  live_tmp = NULL;
  if (emitted) goto out_tmp;
  be_phase("glue + link");
  /* the glue is built against a copy of NAME.h in the temporary folder; the user's paths (OUT,
   * NAME.h, the weights file) are written only once the build has succeeded */
  const char *hb = strrchr(header, '/');
  snprintf(t.hdr, sizeof t.hdr, "%s/%.255s", t.dir, hb ? hb + 1 : header);
  if (write_header(t.hdr, name, o->model, &r, g, !o->weights_file, false, err, errlen)) goto out;
  if (write_glue(t.glue, t.hdr, name, &r, g, !o->weights_file, err, errlen)) goto out;
  char inc[4500];
  snprintf(inc, sizeof inc, "-I%s", t.dir);
  /* only a shared library exports the generic onnxc_model_descriptor (objects would clash) */
  char *def = !strcmp(emit, "so") ? "-DONNXC_EXPORT_DESCRIPTOR" : "-UONNXC_EXPORT_DESCRIPTOR";
  char *cc[] = {tc.cc, "-std=c11", "-O2", "-fPIC", "-c", inc, def, "-o", t.glue_o, t.glue, NULL};
  if (run_cmd(cc, err, errlen)) goto out;
  int linked;
  if (!strcmp(emit, "so")) linked = link_so(&t, &tc, name, o->out, err, errlen);
  else if (!strcmp(emit, "obj")) linked = link_obj(&t, &tc, name, o->out, err, errlen);
  else linked = link_lib(&t, &tc, name, o->out, err, errlen);
  if (linked) goto out;
  if (o->weights_file && write_file(o->weights_file, r.weights, r.weights_bytes, err, errlen)) goto out;
  if (write_header(header, name, o->model, &r, g, !o->weights_file, false, err, errlen)) goto out;
  rc = 0;
out:
  free(r.weights);
out_tmp:
  tool_deadline_cleanup(NULL);
  live_tmp = NULL;
  tmp_cleanup(&t);
  return rc;
}

static int emit_code(const CompileOpts *o, const char *emit, const char *name, Graph *g, char *err, size_t errlen) {
  BeAotOptions bo = {.target = o->target, .cpu = o->cpu, .features = o->features, .max_memory = tool_max_memory, .name = name, .kind = emit,
                     .embed_weights = !o->weights_file};
  BeAotResult r;
  if (be_aot_emit(g, &bo, o->out, &r, err, errlen)) return -1;
  int rc = o->weights_file ? write_file(o->weights_file, r.weights, r.weights_bytes, err, errlen) : 0;
  free(r.weights);
  return rc;
}

/* --emit c: the model as C sources in the folder o->out, plus NAME.h, the glue and the runtime */
static int build_c(const CompileOpts *o, const char *name, Graph *g, char *err, size_t errlen) {
  const char *dir = o->out;
  if (mkdir(dir, 0777) && errno != EEXIST) {
    snprintf(err, errlen, "cannot create folder %.1500s: %s", dir, strerror(errno));
    return -1;
  }
  BeAotOptions bo = {.target = o->target, .max_memory = tool_max_memory, .name = name, .kind = "c",
                     .embed_weights = !o->weights_file};
  BeAotResult r;
  if (be_c_emit(g, &bo, dir, &r, err, errlen)) return -1;
  int rc = -1;
  char header[4400], path[4400];
  header_path(o, true, name, header, sizeof header);
  if (o->weights_file && write_file(o->weights_file, r.weights, r.weights_bytes, err, errlen)) goto out;
  if (write_header(header, name, o->model, &r, g, !o->weights_file, true, err, errlen)) goto out;
  snprintf(path, sizeof path, "%.4000s/%s_glue.c", dir, name);
  if (write_glue(path, header, name, &r, g, !o->weights_file, err, errlen)) goto out;
  for (int i = 0; onnxc_rt_sources[i][0]; i++) {
    const char *f = onnxc_rt_sources[i][0];
    /* sources get a prefix (model.c is a likely name in an application); headers keep theirs */
    snprintf(path, sizeof path, "%.4000s/%s%s", dir, ends_with(f, ".c") ? "onnxc_rt_" : "", f);
    if (write_file(path, onnxc_rt_sources[i][1], strlen(onnxc_rt_sources[i][1]), err, errlen)) goto out;
  }
  rc = 0;
out:
  free(r.weights);
  return rc;
}

int tool_cmd_compile(int argc, char **argv) {
  CompileOpts o;
  if (parse(argc, argv, &o)) return 2;
  if (o.help || !o.model || !o.out) {
    fputs(HELP, o.help ? stdout : stderr);
    return o.help ? 0 : 2;
  }
  const char *emit = o.emit ? o.emit : emit_from_path(o.out);
  if (strcmp(emit, "so") && strcmp(emit, "obj") && strcmp(emit, "lib") && strcmp(emit, "llvm") &&
      strcmp(emit, "asm") && strcmp(emit, "c")) {
    fprintf(stderr, "onnxc compile: unknown --emit '%s' (expected so, obj, lib, llvm, asm or c)\n", emit);
    return 2;
  }
  bool c_src = !strcmp(emit, "c"), lib = !strcmp(emit, "so") || !strcmp(emit, "obj") || !strcmp(emit, "lib");
  char name[256];
  const char *why;
  if (o.name) {
    if ((why = bad_name(o.name))) {
      fprintf(stderr, "onnxc compile: --name '%s' %s\n", o.name, why);
      return 2;
    }
    snprintf(name, sizeof name, "%s", o.name);
  } else {
    name_from_path(o.out, name, sizeof name);
    if ((why = bad_name(name))) {
      fprintf(stderr, "onnxc compile: the C name '%s' taken from -o %s %s; give one with --name\n", name, o.out, why);
      return 2;
    }
  }
  /* OUT: a folder for --emit c, a file otherwise; checked before the (long) compile */
  struct stat ost;
  if (!stat(o.out, &ost) && S_ISDIR(ost.st_mode) != c_src) {
    fprintf(stderr, "onnxc compile: -o %s %s\n", o.out,
            S_ISDIR(ost.st_mode) ? "is a folder (give the output file's path)" : "exists and is not a folder (--emit c writes a folder)");
    return 2;
  }
  char odir[4096];
  dir_of(o.out, odir, sizeof odir);
  int serr = stat(odir, &ost) ? errno : 0;
  if (serr || !S_ISDIR(ost.st_mode)) {
    fprintf(stderr, "onnxc compile: -o %s: folder %s %s\n", o.out, odir, serr == ENOENT ? "does not exist" : "is not a folder");
    return 2;
  }
  Target tgt;
  char err[2048];
  if (be_target_get(o.target ? o.target : "native", &tgt, err, sizeof err)) {
    fprintf(stderr, "onnxc compile: %s\n", err);
    return 2;
  }
  /* the files this writes must differ from each other and from the model */
  {
    char hpath[4400];
    header_path(&o, c_src, name, hpath, sizeof hpath);
    const char *paths[4] = {o.model, c_src ? NULL : o.out, lib || c_src ? hpath : NULL, o.weights_file};
    static const char *const what[4] = {"the model", "-o", "the header", "--weights-file"};
    for (int i = 0; i < 4; i++)
      for (int j = i + 1; j < 4; j++)
        if (paths[i] && paths[j] && same_file(paths[i], paths[j])) {
          fprintf(stderr, "onnxc compile: %s and %s are the same file (%s); refusing to overwrite\n", what[i],
                  what[j], paths[j]);
          return 2;
        }
  }
  FeOptions fo = {.shapes = o.shapes, .nshapes = o.nshapes, .max_bytes = tool_max_memory};
  tool_deadline_arm(o.model);
  be_phase("frontend load");
  Graph *g = fe_load(o.model, &fo, err, sizeof err);
  if (!g) {
    fprintf(stderr, "onnxc: %s\n", err);
    return 1;
  }
  int rc = 1;
  for (int i = 0; i < g->ninputs; i++)
    if (!ir_value_shape_known(g->inputs[i])) {
      snprintf(err, sizeof err, "input '%s' has symbolic dims: fix them with --shape %s=DIMS", g->inputs[i]->name,
               g->inputs[i]->name);
      goto fail;
    }
  PassOptions po = tool_pass_options();
  be_phase("shapes + passes");
  if (pass_run_all(g, &po)) {
    snprintf(err, sizeof err, "%s", ir_last_error(g));
    goto fail;
  }
  for (int i = 0; i < g->ninputs + g->noutputs; i++) {
    Value *v = i < g->ninputs ? g->inputs[i] : g->outputs[i - g->ninputs];
    if (!c_type(v->dtype)) {
      snprintf(err, sizeof err, "%s '%s' has dtype %s, which compiled models cannot pass",
               i < g->ninputs ? "input" : "output", v->name, dtype_name(v->dtype));
      goto fail;
    }
  }
  if (c_src) {
    if (build_c(&o, name, g, err, sizeof err)) goto fail;
  } else if ((lib ? build_library(&o, &tgt, emit, name, g, err, sizeof err)
                  : emit_code(&o, emit, name, g, err, sizeof err)))
    goto fail;
  tool_deadline_disarm();
  be_phase_report(stderr);
  rc = 0;
  goto out;
fail:
  fprintf(stderr, "onnxc: %s\n", err);
out:
  ir_graph_free(g);
  for (int i = 0; i < o.nshapes; i++) free((char *)o.shapes[i].name);
  return rc;
}
