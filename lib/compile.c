/* compile.c — onnxc_session_compile (`onnxc compile`): ahead-of-time compilation into a shared
 * library, object, static archive, assembly, LLVM IR or C sources, plus the model's header NAME.h.
 *
 * backend/aot.c writes the model's code (NAME_graph, NAME_weights); lib/glue.c writes NAME.h and
 * a small C glue file (the descriptor NAME_info and NAME_create/run/error/destroy); this file
 * checks the arguments and drives the build, which compiles the glue with the target's C compiler
 * and links both with the target's runtime archive (libonnxc_rt.a; lib/toolchain.c):
 *   so:  cc -shared, a version script exports only NAME_* and onnxc_model_descriptor
 *   obj: cc -r, then objcopy keeps only NAME_* global (runtime symbols become local)
 *   lib: that object in an ar archive
 * The system C compiler is used because it knows where this system's crt files, libc, libm and
 * pthreads live for each target (cc here, aarch64-linux-gnu-gcc for AArch64); lld would need
 * those paths spelled out. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile.h"

bool lib_ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && !strcmp(s + n - m, suf);
}

static const char *emit_from_path(const char *out) {
  if (lib_ends_with(out, ".o")) return "obj";
  if (lib_ends_with(out, ".a")) return "lib";
  if (lib_ends_with(out, ".ll")) return "llvm";
  if (lib_ends_with(out, ".s")) return "asm";
  return "so";
}

/* libNAME.so -> NAME; anything not an identifier character becomes '_' */
static void name_from_path(const char *out, char *name, size_t len) {
  size_t end = strlen(out);
  while (end > 1 && out[end - 1] == '/') end--; /* --emit c -o net/: the folder net */
  const char *b = out;
  for (size_t i = 0; i < end; i++)
    if (out[i] == '/') b = out + i + 1;
  if (!strncmp(b, "lib", 3) && b[3] && b[3] != '.') b += 3;
  size_t n = strcspn(b, "./");
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


/* where NAME.h goes: --header, else inside OUT for --emit c, else beside OUT */
static void header_path(const CompileOpts *o, bool c_sources, const char *name, char *buf, size_t len) {
  char d[4096];
  if (o->header) snprintf(buf, len, "%s", o->header);
  else if (c_sources) snprintf(buf, len, "%.4000s/%s.h", o->out, name);
  else {
    lib_dir_of(o->out, d, sizeof d);
    snprintf(buf, len, "%.4000s/%s.h", d, name);
  }
}

/* path with its folder resolved (the file itself need not exist) */
static void canon_path(const char *path, char *buf, size_t len) {
  char d[4096], rd[PATH_MAX];
  lib_dir_of(path, d, sizeof d);
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

/* the sizes onnxc_session_weights_report gives */
static void note_weights(const CompileOpts *o, const BeAotResult *r) {
  onnxc_weights_report *w = &o->s->wreport;
  memset(w, 0, sizeof *w);
  w->raw_bytes = (int64_t)r->weights_raw_bytes;
  w->stored_bytes = (int64_t)r->weights_bytes;
  w->coded = r->weights_coded;
  for (int k = 0; k < 4; k++) {
    w->pieces[k] = (int64_t)r->coding.pieces[k];
    w->raw[k] = (int64_t)r->coding.raw[k];
    w->coded_bytes[k] = (int64_t)r->coding.coded[k];
  }
  w->huffman_bytes = (int64_t)r->coding.huffman_bytes;
}

int onnxc_session_weights_report(const onnxc_session *s, onnxc_weights_report *out) {
  if (!s || !out) return ONNXC_ERR_ARGUMENT;
  if (!s->nwritten) return ONNXC_ERR_STATE;
  *out = s->wreport;
  return ONNXC_OK;
}

/* Winograd's transformed 3x3 weights (G g G^T) take many distinct values however few g takes: a
 * compressed library keeps those convs on the direct kernels, which pack g itself */
static void no_winograd(onnxc_session *s) {
  const char *d = s->opt.disable;
  size_t n = d ? strlen(d) : 0;
  char *l = ir_xmalloc(n + 10);
  snprintf(l, n + 10, "%s%swinograd", n ? d : "", n ? "," : "");
  free(s->opt.disable);
  s->opt.disable = l;
}

bool lib_uses_xsmm(const LibShapeSet *vs) {
  for (int i = 0; i < vs->n; i++)
    for (int j = 0; j < vs->g[i]->nnodes; j++)
      if (vs->g[i]->gemm_provider == 1 || (vs->g[i]->gemm_provider == 2 && vs->g[i]->nodes[j]->xsmm)) return true;
  return false;
}

static int build_library(const CompileOpts *o, const Target *tgt, const char *emit, const char *name,
                         const LibShapeSet *vs, char *err, size_t errlen) {
  Tmp t;
  snprintf(t.dir, sizeof t.dir, "/tmp/onnxc-XXXXXX");
  if (!mkdtemp(t.dir)) {
    snprintf(err, errlen, "cannot create a temporary folder: %s", strerror(errno));
    return ONNXC_ERR_IO;
  }
  snprintf(t.obj, sizeof t.obj, "%s/model.o", t.dir);
  snprintf(t.glue, sizeof t.glue, "%s/glue.c", t.dir);
  snprintf(t.glue_o, sizeof t.glue_o, "%s/glue.o", t.dir);
  snprintf(t.merged, sizeof t.merged, "%s/merged.o", t.dir);
  snprintf(t.vs, sizeof t.vs, "%s/exports.map", t.dir);
  t.hdr[0] = 0;
  BeAotOptions bo = {.target = o->target, .cpu = o->cpu, .features = o->features, .max_memory = o->max_memory,
                     .name = name, .kind = "obj", .embed_weights = !o->weights_file,
                     .compress_weights = o->compress_weights};
  BeAotResult r = {0};
  Toolchain tc;
  int rc = ONNXC_ERR_TOOL;
  char header[4400];
  header_path(o, false, name, header, sizeof header);
  if (lib_toolchain(tgt->triple, &tc, err, errlen)) goto out; /* before the (long) code generation */
  bool xsmm = lib_uses_xsmm(vs);
  if (xsmm && !tc.xsmm[0]) {
    snprintf(err, errlen, "--gemm libxsmm: libonnxc_xsmm.a is not beside %.1000s (this onnxc was built without "
             "libxsmm-dev?)", tc.rtlib);
    goto out;
  }
  if (be_aot_emit_variants(vs->g, vs->n, &bo, t.obj, &r, err, errlen)) {
    rc = ONNXC_ERR_MODEL;
    goto out;
  }
  if (be_deadline_passed()) { /* checkpoint before glue + link */
    rc = ONNXC_ERR_TIMEOUT;
    goto out;
  }
  /* the rest runs the C compiler on small glue: not interrupted midway */
  be_phase("glue + link");
  /* the glue is built against a copy of NAME.h in the temporary folder; the user's paths (OUT,
   * NAME.h, the weights file) are written only once the build has succeeded */
  const char *hb = strrchr(header, '/');
  snprintf(t.hdr, sizeof t.hdr, "%s/%.255s", t.dir, hb ? hb + 1 : header);
  rc = ONNXC_ERR_IO;
  if (lib_write_header(t.hdr, name, o->model, &r, vs, !o->weights_file, false, err, errlen)) goto out;
  if (lib_write_glue(t.glue, t.hdr, name, &r, vs, !o->weights_file, err, errlen)) goto out;
  char inc[4500];
  snprintf(inc, sizeof inc, "-I%s", t.dir);
  /* only a shared library exports the generic onnxc_model_descriptor (objects would clash) */
  char *def = !strcmp(emit, "so") ? "-DONNXC_EXPORT_DESCRIPTOR" : "-UONNXC_EXPORT_DESCRIPTOR";
  char *cc[] = {tc.cc, "-std=c11", "-O2", "-fPIC", "-c", inc, def, "-o", t.glue_o, t.glue, NULL};
  rc = ONNXC_ERR_TOOL;
  if (lib_run_cmd(cc, err, errlen)) goto out;
  int linked;
  if (!strcmp(emit, "so")) linked = lib_link_so(&t, &tc, xsmm, name, o->out, err, errlen);
  else if (!strcmp(emit, "obj")) linked = lib_link_obj(&t, &tc, name, o->out, err, errlen);
  else linked = lib_link_lib(&t, &tc, name, o->out, err, errlen);
  if (linked) goto out;
  note_weights(o, &r);
  lib_wrote(o, o->out);
  rc = ONNXC_ERR_IO;
  if (o->weights_file && lib_write_file(o->weights_file, r.weights, r.weights_bytes, err, errlen)) goto out;
  if (o->weights_file) lib_wrote(o, o->weights_file);
  if (lib_write_header(header, name, o->model, &r, vs, !o->weights_file, false, err, errlen)) goto out;
  lib_wrote(o, header);
  rc = ONNXC_OK;
out:
  free(r.weights);
  lib_tmp_cleanup(&t);
  return rc;
}

static int emit_code(const CompileOpts *o, const char *emit, const char *name, const LibShapeSet *vs, char *err,
                     size_t errlen) {
  BeAotOptions bo = {.target = o->target, .cpu = o->cpu, .features = o->features, .max_memory = o->max_memory,
                     .name = name, .kind = emit, .embed_weights = !o->weights_file,
                     .compress_weights = o->compress_weights};
  BeAotResult r;
  if (be_aot_emit_variants(vs->g, vs->n, &bo, o->out, &r, err, errlen)) return ONNXC_ERR_MODEL;
  note_weights(o, &r);
  lib_wrote(o, o->out);
  int rc = o->weights_file ? lib_write_file(o->weights_file, r.weights, r.weights_bytes, err, errlen) : 0;
  if (!rc && o->weights_file) lib_wrote(o, o->weights_file);
  free(r.weights);
  return rc ? ONNXC_ERR_IO : ONNXC_OK;
}

/* --emit c: the model as C sources in the folder o->out, plus NAME.h, the glue and the runtime */
static int build_c(const CompileOpts *o, const char *name, const LibShapeSet *vs, char *err, size_t errlen) {
  const char *dir = o->out;
  if (mkdir(dir, 0777) && errno != EEXIST) {
    snprintf(err, errlen, "cannot create folder %.1500s: %s", dir, strerror(errno));
    return ONNXC_ERR_IO;
  }
  BeAotOptions bo = {.target = o->target, .max_memory = o->max_memory, .name = name, .kind = "c",
                     .embed_weights = !o->weights_file, .compress_weights = o->compress_weights};
  BeAotResult r;
  if (be_c_emit_variants(vs->g, vs->n, &bo, dir, &r, err, errlen)) return ONNXC_ERR_MODEL;
  note_weights(o, &r);
  for (int i = 0; i < r.nfiles; i++) lib_wrote(o, r.files[i]);
  int rc = ONNXC_ERR_IO;
  char header[4400], path[4400];
  header_path(o, true, name, header, sizeof header);
  if (o->weights_file && lib_write_file(o->weights_file, r.weights, r.weights_bytes, err, errlen)) goto out;
  if (o->weights_file) lib_wrote(o, o->weights_file);
  if (lib_write_header(header, name, o->model, &r, vs, !o->weights_file, true, err, errlen)) goto out;
  lib_wrote(o, header);
  snprintf(path, sizeof path, "%.4000s/%s_glue.c", dir, name);
  if (lib_write_glue(path, header, name, &r, vs, !o->weights_file, err, errlen)) goto out;
  lib_wrote(o, path);
  for (int i = 0; onnxc_rt_sources[i][0]; i++) {
    const char *f = onnxc_rt_sources[i][0];
    /* sources get a prefix (model.c is a likely name in an application); headers keep theirs */
    snprintf(path, sizeof path, "%.4000s/%s%s", dir, lib_ends_with(f, ".c") ? "onnxc_rt_" : "", f);
    if (lib_write_file(path, onnxc_rt_sources[i][1], strlen(onnxc_rt_sources[i][1]), err, errlen)) goto out;
    lib_wrote(o, path);
  }
  rc = ONNXC_OK;
out:
  free(r.weights);
  return rc;
}

/* ---- the files written (onnxc_session_written) ---- */
void lib_wrote(const CompileOpts *o, const char *path) {
  onnxc_session *s = o->s;
  s->written = ir_xrealloc(s->written, (size_t)(s->nwritten + 1) * sizeof *s->written);
  size_t len = strlen(path) + 1;
  s->written[s->nwritten] = memcpy(ir_xmalloc(len), path, len); /* under lib_guard: OOM is a status */
  s->nwritten++;
}

void lib_written_clear(onnxc_session *s) {
  for (int32_t i = 0; i < s->nwritten; i++) free(s->written[i]);
  free(s->written);
  s->written = NULL;
  s->nwritten = 0;
}

int32_t onnxc_session_num_written(const onnxc_session *s) { return s ? s->nwritten : 0; }

const char *onnxc_session_written(const onnxc_session *s, int32_t i) {
  return s && i >= 0 && i < s->nwritten ? s->written[i] : NULL;
}

/* ---- the driver ---- */
static bool known_emit(const char *e) {
  static const char *const kinds[] = {"so", "obj", "lib", "llvm", "asm", "c"};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (!strcmp(e, kinds[i])) return true;
  return false;
}

/* fills o from co; the C name into name[256]; ONNXC_ERR_ARGUMENT with err written if unusable */
static int resolve(const onnxc_compile_options *co, const char *model, const char *target, CompileOpts *o,
                   char *name, char *err, size_t errlen) {
  if (!co || !co->output || !*co->output) {
    snprintf(err, errlen, "no output path");
    return ONNXC_ERR_ARGUMENT;
  }
  *o = (CompileOpts){.model = co->model_path ? co->model_path : model, .out = co->output, .name = co->name,
                     .target = co->target ? co->target : target, .cpu = co->cpu, .features = co->features,
                     .weights_file = co->weights_file, .header = co->header};
  o->emit = co->emit ? co->emit : emit_from_path(o->out);
  if (!known_emit(o->emit)) {
    snprintf(err, errlen, "unknown --emit '%.100s' (expected so, obj, lib, llvm, asm or c)", o->emit);
    return ONNXC_ERR_ARGUMENT;
  }
  const char *why;
  if (o->name) {
    if ((why = bad_name(o->name))) {
      snprintf(err, errlen, "--name '%.300s' %s", o->name, why);
      return ONNXC_ERR_ARGUMENT;
    }
    snprintf(name, 256, "%s", o->name);
  } else {
    name_from_path(o->out, name, 256);
    if ((why = bad_name(name))) {
      snprintf(err, errlen, "the C name '%s' taken from -o %.1000s %s; give one with --name", name, o->out, why);
      return ONNXC_ERR_ARGUMENT;
    }
  }
  return ONNXC_OK;
}

/* OUT a folder for c and a file otherwise, in an existing folder; the target known; no two
 * written files the same, and none the model */
static int check_paths(const CompileOpts *o, const char *name, char *err, size_t errlen) {
  bool c_src = !strcmp(o->emit, "c"), lib = !strcmp(o->emit, "so") || !strcmp(o->emit, "obj") || !strcmp(o->emit, "lib");
  struct stat ost;
  if (!stat(o->out, &ost) && S_ISDIR(ost.st_mode) != c_src) {
    snprintf(err, errlen, "-o %.1500s %s", o->out,
             S_ISDIR(ost.st_mode) ? "is a folder (give the output file's path)"
                                  : "exists and is not a folder (--emit c writes a folder)");
    return ONNXC_ERR_ARGUMENT;
  }
  char odir[4096];
  lib_dir_of(o->out, odir, sizeof odir);
  int serr = stat(odir, &ost) ? errno : 0;
  if (serr || !S_ISDIR(ost.st_mode)) {
    snprintf(err, errlen, "-o %.1500s: folder %.1500s %s", o->out, odir,
             serr == ENOENT ? "does not exist" : "is not a folder");
    return ONNXC_ERR_ARGUMENT;
  }
  Target tgt;
  if (be_target_get(o->target ? o->target : "native", &tgt, err, errlen)) return ONNXC_ERR_ARGUMENT;
  char hpath[4400];
  header_path(o, c_src, name, hpath, sizeof hpath);
  const char *paths[4] = {o->model, c_src ? NULL : o->out, lib || c_src ? hpath : NULL, o->weights_file};
  static const char *const what[4] = {"the model", "-o", "the header", "--weights-file"};
  for (int i = 0; i < 4; i++)
    for (int j = i + 1; j < 4; j++)
      if (paths[i] && paths[j] && same_file(paths[i], paths[j])) {
        snprintf(err, errlen, "%s and %s are the same file (%.1500s); refusing to overwrite", what[i], what[j],
                 paths[j]);
        return ONNXC_ERR_ARGUMENT;
      }
  return ONNXC_OK;
}

int onnxc_compile_check(const onnxc_compile_options *co, char *err, size_t errlen) {
  char name[256], dummy[1];
  if (!err || !errlen) err = dummy, errlen = sizeof dummy;
  CompileOpts o;
  int rc = resolve(co, NULL, NULL, &o, name, err, errlen);
  return rc ? rc : check_paths(&o, name, err, errlen);
}

/* the session's graph through the passes: a library of one shape */
static int single_variant(onnxc_session *s, LibShapeSet *vs) {
  memset(vs, 0, sizeof *vs);
  int rc = lib_run_passes(s);
  if (!rc) vs->g[vs->n++] = s->g;
  return rc;
}

/* inputs and outputs of dtypes a compiled model can pass (the same in every variant) */
static int check_io_types(onnxc_session *s, Graph *g) {
  for (int i = 0; i < g->ninputs + g->noutputs; i++) {
    Value *v = i < g->ninputs ? g->inputs[i] : g->outputs[i - g->ninputs];
    if (!lib_c_type(v->dtype))
      return lib_fail(s, ONNXC_ERR_MODEL, "%s '%s' has dtype %s, which compiled models cannot pass",
                      i < g->ninputs ? "input" : "output", v->name, dtype_name(v->dtype));
  }
  return ONNXC_OK;
}

/* `--gemm libxsmm` (lib/gemm.c): a shared library for this x86-64 host that links libxsmm (its
 * LLVM IR or assembly may be written too); objects, archives and C sources would leave the user
 * to link libxsmm and libonnxc_xsmm.a, so they are refused.  `--gemm auto` measures on this host
 * where libxsmm could be linked (OUT a shared library, the native target) and is onnxc's own
 * kernels elsewhere; true: measure */
static bool xsmm_check(onnxc_session *s, const CompileOpts *o, const Target *tgt, int *rc) {
  bool linkable = !strcmp(o->emit, "so") || !strcmp(o->emit, "llvm") || !strcmp(o->emit, "asm");
  bool x86 = !strncmp(tgt->triple, "x86_64", 6);
  *rc = ONNXC_OK;
  if (s->opt.gemm == 2) {
    bool native = !o->target || !strcmp(o->target, "native");
    if (!linkable || !native)
      snprintf(s->gemm_note, sizeof s->gemm_note, "auto: all on onnxc's own kernels (libxsmm is measured and "
               "linked for a shared library on the native target only)");
    return linkable && native && x86;
  }
  if (!linkable)
    *rc = lib_fail(s, ONNXC_ERR_ARGUMENT,
                   "--gemm libxsmm: --emit %s is not supported (a shared library, --emit so, links libxsmm; "
                   "--emit llvm and asm show its code)", o->emit);
  else if (!x86)
    *rc = lib_fail(s, ONNXC_ERR_ARGUMENT, "--gemm libxsmm: libxsmm is linked for the x86-64 host only, not %s",
                   tgt->triple);
  return false;
}

static int do_compile(onnxc_session *s, void *arg) {
  const onnxc_compile_options *co = arg;
  char name[256];
  CompileOpts o;
  lib_written_clear(s);
  int rc = resolve(co, s->path, s->opt.target[0] ? s->opt.target : NULL, &o, name, s->err, sizeof s->err);
  if (rc || (rc = check_paths(&o, name, s->err, sizeof s->err))) return rc;
  o.max_memory = s->opt.max_memory;
  o.s = s;
  Graph *g = s->g;
  bool multi = co->num_variants > 0 || co->variants;
  if (!s->passed && !multi)
    for (int i = 0; i < g->ninputs; i++)
      if (!ir_value_shape_known(g->inputs[i]))
        return lib_fail(s, ONNXC_ERR_MODEL, "input '%s' has symbolic dims: fix them with --shape %s=DIMS",
                        g->inputs[i]->name, g->inputs[i]->name);
  o.compress_weights = co->compress_weights != 0;
  if (o.compress_weights && !s->passed) no_winograd(s);
  LibShapeSet vs;
  lib_deadline_start(s);
  rc = multi ? lib_shapes_load(s, co, &vs) : single_variant(s, &vs);
  if (rc) goto out;
  if ((rc = check_io_types(s, vs.g[0]))) goto out;
  Target tgt;
  be_target_get(o.target ? o.target : "native", &tgt, s->err, sizeof s->err); /* known: check_paths */
  bool measure = s->opt.gemm && xsmm_check(s, &o, &tgt, &rc);
  if (rc) goto out;
  for (int i = 0; i < vs.n; i++) {
    vs.g[i]->fp_mode = s->opt.fp_mode;    /* backend/gen/gen_gemm.c */
    vs.g[i]->gemm_provider = s->opt.gemm; /* backend/gen/gen_xsmm.c */
    if (measure) lib_gemm_auto(s, vs.g[i], &(BeOptions){.opt_level = 3, .max_memory = s->opt.max_memory});
  }
  bool lib = !strcmp(o.emit, "so") || !strcmp(o.emit, "obj") || !strcmp(o.emit, "lib");
  if (!strcmp(o.emit, "c")) rc = build_c(&o, name, &vs, s->err, sizeof s->err);
  else if (lib) rc = build_library(&o, &tgt, o.emit, name, &vs, s->err, sizeof s->err);
  else rc = emit_code(&o, o.emit, name, &vs, s->err, sizeof s->err);
  if (rc == ONNXC_ERR_MODEL || (rc && s->phases.expired)) rc = lib_fail_compile(s, s->err);
out:
  lib_shapes_free(&vs);
  lib_deadline_stop(s);
  return rc;
}

int onnxc_session_compile(onnxc_session *s, const onnxc_compile_options *co) {
  if (!s) return ONNXC_ERR_ARGUMENT;
  if (s->state == LIB_DUMPED) return lib_fail(s, ONNXC_ERR_STATE, "the session was dumped; create another to compile");
  if (s->state == LIB_FAILED || !s->g)
    return lib_fail(s, ONNXC_ERR_STATE, "the session failed to %s before; create another", s->g ? "compile" : "load");
  int rc = lib_guard(s, do_compile, (void *)co);
  if (rc) lib_written_clear(s); /* a failed compile reports no files */
  return rc;
}
