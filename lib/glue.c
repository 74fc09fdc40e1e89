/* glue.c — the files `onnxc compile` writes beside the model's code: NAME.h (the ABI of
 * runtime/onnxc_model.h, the entry points and each tensor's sizes as macros) and the C glue
 * (the descriptor NAME_info and NAME_create/run/error/destroy). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "onnxc_rt.h"

/* ---- NAME.h and the glue ---- */
const char *lib_c_type(DType t) {
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
  char buf[256], *p = buf;
  size_t n = ir_name_escape_c(s, buf, sizeof buf); /* also '?': "??/" is a trigraph under -std=c11 */
  if (n >= sizeof buf && (p = malloc(n + 1))) ir_name_escape_c(s, p, n + 1);
  fprintf(f, "\"%s\"", p ? p : "");
  if (p != buf) free(p);
}

/* text inside a C comment: no comment end can form */
static void put_comment(FILE *f, const char *s) {
  for (; *s; s++) fputc(*s == '*' || *s == '/' ? '_' : *s, f);
}

/* NAME_KIND_i_DIMS, _NUMEL, _BYTES */
static void put_size_macros(FILE *f, const char *name, const char *kind, int i, const Value *v) {
  fprintf(f, "#define %s_%s_%d_DIMS {", name, kind, i);
  for (int d = 0; d < v->rank; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)v->dims[d]);
  fprintf(f, "%s}\n", v->rank ? "" : "0");
  int64_t n = ir_value_numel(v);
  fprintf(f, "#define %s_%s_%d_NUMEL %lld\n", name, kind, i, (long long)n);
  fprintf(f, "#define %s_%s_%d_BYTES %lld\n", name, kind, i, (long long)(n * (int64_t)dtype_size(v->dtype)));
}

static void put_tensor_macros(FILE *f, const char *name, const char *kind, int i, const Value *v) {
  char shape[256];
  ir_shape_str(v, shape, sizeof shape);
  fprintf(f, "/* %s %d: ", kind, i);
  char nm[IR_NAME_MSG];
  for (const char *s = ir_name_msg(v->name, nm, sizeof nm); *s; s++) fputc(*s == '*' || *s == '/' ? '_' : *s, f);
  fprintf(f, " %s[%s] */\n", dtype_name(v->dtype), shape);
  fprintf(f, "#define %s_%s_%d_NAME ", name, kind, i);
  put_cstr(f, v->name);
  fprintf(f, "\n#define %s_%s_%d_DTYPE %d\n", name, kind, i, (int)v->dtype);
  fprintf(f, "#define %s_%s_%d_CTYPE %s\n", name, kind, i, lib_c_type(v->dtype));
  fprintf(f, "#define %s_%s_%d_RANK %d\n", name, kind, i, v->rank);
  put_size_macros(f, name, kind, i, v);
}

/* run deadlines and cancellation (runtime/watch.c): NAME_cancel may be called from any thread */
static void put_stop_decls(FILE *f, const char *name) {
  fprintf(f, "/* stop the run in progress from another thread (it returns ONNXC_ERR_CANCELLED; m stays usable) */\n"
             "void %s_cancel(%s *m);\n"
             "/* seconds later runs may take, 0 = no bound (as onnxc_options.max_run_time) */\n"
             "int %s_set_max_run_time(%s *m, double seconds);\n"
             "/* 1 (default): worker threads spin up to 0.5 ms between kernels; 0: they sleep as soon as\n"
             " * they have no work (as ONNX Runtime's allow_spinning = 0), for a process sharing its cores */\n"
             "int %s_set_spin(%s *m, int on);\n", name, name, name, name, name, name);
}

static void put_stop_defs(FILE *f, const char *n) {
  fprintf(f, "void %s_cancel(%s *m) { onnxc_model_cancel((onnxc_model *)m); }\n"
             "int %s_set_max_run_time(%s *m, double seconds) {\n"
             "  return onnxc_model_set_max_run_time((onnxc_model *)m, seconds);\n}\n"
             "int %s_set_spin(%s *m, int on) { return onnxc_model_set_spin((onnxc_model *)m, on); }\n", n, n, n, n, n, n);
}

/* a multi-shape library: the shapes, and each variant's tensor sizes (the macros above are variant 0's) */
static void put_variant_macros(FILE *f, const char *name, const BeAotResult *r, const LibShapeSet *vs) {
  fprintf(f, "\n/* %d shapes, one copy of the weights: %s_run_tensors runs the one whose input dims it is\n"
             " * given (ONNXC_ERR_ARGUMENT listing these otherwise); %s_run runs shape 0,\n"
             " * %s_run_variant(m, K, inputs, outputs) shape K.\n",
          vs->n, name, name, name);
  for (int k = 0; k < vs->n; k++) {
    Graph *g = vs->g[k];
    fprintf(f, " *   %d: ", k);
    put_comment(f, vs->label[k]);
    fprintf(f, ":");
    for (int i = 0; i < g->ninputs + g->noutputs; i++) {
      char sh[256];
      ir_shape_str(i < g->ninputs ? g->inputs[i] : g->outputs[i - g->ninputs], sh, sizeof sh);
      fprintf(f, "%s %s", i == g->ninputs ? " ->" : i ? "," : "", sh);
    }
    fprintf(f, "\n");
  }
  fprintf(f, " */\n");
  for (int k = 0; k < vs->n; k++) {
    char kind[64];
    fprintf(f, "#define %s_VARIANT_%d_LABEL ", name, k);
    put_cstr(f, vs->label[k]);
    fprintf(f, "\n#define %s_VARIANT_%d_ARENA_BYTES %lld\n", name, k, (long long)r->variant[k].arena_bytes);
    for (int i = 0; i < vs->g[k]->ninputs; i++) {
      snprintf(kind, sizeof kind, "VARIANT_%d_INPUT", k);
      put_size_macros(f, name, kind, i, vs->g[k]->inputs[i]);
    }
    for (int i = 0; i < vs->g[k]->noutputs; i++) {
      snprintf(kind, sizeof kind, "VARIANT_%d_OUTPUT", k);
      put_size_macros(f, name, kind, i, vs->g[k]->outputs[i]);
    }
  }
}

int lib_write_header(const char *path, const char *name, const char *model, const BeAotResult *r,
                     const LibShapeSet *vs, bool embedded, bool c_sources, char *err, size_t errlen) {
  Graph *g = vs->g[0];
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
  else if (lib_uses_xsmm(vs)) /* `--gemm libxsmm` or `auto` (lib/compile.c) */
    fprintf(f, " *\n * Link with lib%s.so. Its fp32 GEMMs run on libxsmm's kernels, statically linked into it\n"
               " * (%s);\n * it needs libc, libm, pthreads (and librt, libdl on older C libraries).\n",
            name, onnxc_gemm_describe("libxsmm"));
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
  fprintf(f, "int %s_run_variant(%s *m, int32_t variant, const void *const inputs[], void *const outputs[]);\n",
          name, name);
  fprintf(f, "const char *%s_error(const %s *m);\n", name, name);
  fprintf(f, "void %s_destroy(%s *m);\n", name, name);
  put_stop_decls(f, name);
  fprintf(f, "extern const onnxc_model_info %s_info;\n\n", name);
  fprintf(f, "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n", name, g->ninputs, name, g->noutputs);
  fprintf(f, "#define %s_WEIGHTS_EMBEDDED %d\n#define %s_WEIGHTS_BYTES %zu\n", name, embedded ? 1 : 0, name,
          r->weights_raw_bytes);
  if (r->weights_coded) /* as stored (embedded or the file), decoded at create */
    fprintf(f, "#define %s_WEIGHTS_CODED_BYTES %zu\n", name, r->weights_bytes);
  fprintf(f, "#define %s_ARENA_BYTES %lld\n", name, (long long)r->arena_bytes);
  fprintf(f, "#define %s_NUM_VARIANTS %d\n\n", name, vs->n);
  for (int i = 0; i < g->ninputs; i++) put_tensor_macros(f, name, "INPUT", i, g->inputs[i]);
  for (int i = 0; i < g->noutputs; i++) put_tensor_macros(f, name, "OUTPUT", i, g->outputs[i]);
  if (vs->n > 1) put_variant_macros(f, name, r, vs);
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
static void put_node_table(FILE *f, const char *tab, Graph *g) {
  fprintf(f, "static const char *const %s[] = {\n", tab);
  for (int k = 0; k < g->nnodes; k++) {
    char label[200];
    ir_node_label(g->nodes[k], label, sizeof label);
    fprintf(f, "  ");
    put_cstr(f, label);
    fprintf(f, ",\n");
  }
  fprintf(f, "  0};\n");
}

/* per variant: its graph function, tensor and node tables (variant 0's are the descriptor's own
 * inputs_, outputs_, nodes_), then the list of variants */
static void put_variants(FILE *f, const char *n, const BeAotResult *r, const LibShapeSet *vs) {
  char fn[300], tab[3][32];
  for (int k = 0; k < vs->n; k++) {
    Graph *g = vs->g[k];
    be_aot_graph_name(n, k, fn, sizeof fn);
    if (k) fprintf(f, "HIDDEN int32_t %s(void *rt, void *const *io);\n", fn);
    snprintf(tab[0], sizeof tab[0], k ? "inputs_v%d" : "inputs_", k);
    snprintf(tab[1], sizeof tab[1], k ? "outputs_v%d" : "outputs_", k);
    snprintf(tab[2], sizeof tab[2], k ? "nodes_v%d" : "nodes_", k);
    put_tensor_table(f, tab[0], g->inputs, g->ninputs);
    put_tensor_table(f, tab[1], g->outputs, g->noutputs);
    put_node_table(f, tab[2], g);
  }
  fprintf(f, "static const onnxc_model_variant variants_[] = {\n");
  for (int k = 0; k < vs->n; k++) {
    be_aot_graph_name(n, k, fn, sizeof fn);
    fprintf(f, "  {");
    put_cstr(f, vs->label[k]);
    if (k) fprintf(f, ", inputs_v%d, outputs_v%d, ", k, k);
    else fprintf(f, ", inputs_, outputs_, ");
    fprintf(f, "%s, %lldLL, %lldLL, %d, nodes_", fn, (long long)r->variant[k].arena_bytes,
            (long long)r->variant[k].scratch_bytes, vs->g[k]->nnodes);
    if (k) fprintf(f, "v%d", k);
    fprintf(f, "},\n");
  }
  fprintf(f, "};\n");
}

int lib_write_glue(const char *path, const char *header, const char *name, const BeAotResult *r,
                   const LibShapeSet *vs, bool embedded, char *err, size_t errlen) {
  Graph *g = vs->g[0];
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
  put_variants(f, n, r, vs);
  fprintf(f, "static int create_(onnxc_model **out, const onnxc_options *opts) {\n"
             "  return onnxc_model_create(&%s_info, out, opts);\n}\n", n);
  fprintf(f, "const onnxc_model_info %s_info = {\n  ONNXC_ABI_VERSION, \"%s\", \"%s\", %d, %d, inputs_, outputs_,\n"
             "  create_, onnxc_model_run, onnxc_model_error, onnxc_model_destroy, onnxc_model_run_tensors,\n"
             "  %s_graph, %s%s, %lldLL, 0x%016llxULL, %lldLL, %lldLL, %d, nodes_,\n"
             "  .num_variants = %d, .variants = variants_, .weights_coded_bytes = %lldLL,\n};\n",
          n, n, r->target, g->ninputs, g->noutputs, n, embedded ? n : "0", embedded ? "_weights" : "",
          (long long)r->weights_raw_bytes, (unsigned long long)onnxc_hash_bytes(r->weights, r->weights_bytes),
          (long long)r->arena_bytes, (long long)r->scratch_bytes, g->nnodes, vs->n,
          (long long)(r->weights_coded ? r->weights_bytes : 0));
  fprintf(f, "int %s_create(%s **out, const onnxc_options *opts) {\n"
             "  return onnxc_model_create(&%s_info, (onnxc_model **)out, opts);\n}\n", n, n, n);
  fprintf(f, "int %s_run(%s *m, const void *const inputs[], void *const outputs[]) {\n"
             "  return onnxc_model_run((onnxc_model *)m, inputs, outputs);\n}\n", n, n);
  fprintf(f, "int %s_run_tensors(%s *m, const onnxc_tensor *inputs, int32_t num_inputs, const onnxc_tensor *outputs,\n"
             "                     int32_t num_outputs) {\n"
             "  return onnxc_model_run_tensors((onnxc_model *)m, inputs, num_inputs, outputs, num_outputs);\n}\n",
          n, n);
  fprintf(f, "int %s_run_variant(%s *m, int32_t variant, const void *const inputs[], void *const outputs[]) {\n"
             "  return onnxc_model_run_variant((onnxc_model *)m, variant, inputs, outputs);\n}\n", n, n);
  fprintf(f, "const char *%s_error(const %s *m) { return onnxc_model_error((const onnxc_model *)m); }\n", n, n);
  fprintf(f, "void %s_destroy(%s *m) { onnxc_model_destroy((onnxc_model *)m); }\n", n, n);
  put_stop_defs(f, n);
  fprintf(f, "#ifdef ONNXC_EXPORT_DESCRIPTOR\n"
             "extern const onnxc_model_info onnxc_model_descriptor __attribute__((alias(\"%s_info\")));\n#endif\n", n);
  if (fclose(f)) {
    snprintf(err, errlen, "cannot write %.1500s", path);
    return -1;
  }
  return 0;
}

int lib_write_file(const char *path, const void *data, size_t bytes, char *err, size_t errlen) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, bytes, f) != bytes || fclose(f)) {
    snprintf(err, errlen, "cannot write %.1500s: %s", path, strerror(errno));
    if (f) fclose(f);
    return -1;
  }
  return 0;
}

