/* compile.h — between lib/compile.c (the driver, toolchain and linking) and lib/glue.c (NAME.h
 * and the C glue). */
#ifndef ONNXC_LIB_COMPILE_H
#define ONNXC_LIB_COMPILE_H

#include "aot.h"
#include "lib.h"

/* onnxc_compile_options resolved against the session */
typedef struct CompileOpts {
  const char *model, *out, *name, *emit, *target, *cpu, *features, *weights_file, *header;
  int64_t max_memory;
  bool compress_weights; /* the weights entropy-coded, decoded at create */
  onnxc_session *s; /* records the files written (lib_wrote) */
} CompileOpts;
/* adds path to the files the compile wrote (s->written) */
void lib_wrote(const CompileOpts *o, const char *path);

/* the graphs a library is built from: the session's (n = 1, label "") or one per shape of a
 * multi-shape compile, each specialized and through the passes (lib/multishape.c) */
typedef struct LibShapeSet {
  int n;
  Graph *g[ONNXC_MAX_VARIANTS];
  char label[ONNXC_MAX_VARIANTS][160]; /* "batch=4", "input=4x3x224x224, seq=8" */
  bool owned;                          /* loaded for the compile: freed by lib_shapes_free */
} LibShapeSet;
/* loads, specializes and optimizes one graph per co->variants[k]; 0 or a status (s->err) */
int lib_shapes_load(onnxc_session *s, const onnxc_compile_options *co, LibShapeSet *vs);
void lib_shapes_free(LibShapeSet *vs);
/* some node of vs computes on libxsmm (`--gemm libxsmm`, or `auto` chose it): the library links it */
bool lib_uses_xsmm(const LibShapeSet *vs);

const char *lib_c_type(DType t); /* the C type of a dtype compiled models can pass, or NULL */
int lib_write_header(const char *path, const char *name, const char *model, const BeAotResult *r,
                     const LibShapeSet *vs, bool embedded, bool c_sources, char *err, size_t errlen);
int lib_write_glue(const char *path, const char *header, const char *name, const BeAotResult *r,
                   const LibShapeSet *vs, bool embedded, char *err, size_t errlen);
int lib_write_file(const char *path, const void *data, size_t bytes, char *err, size_t errlen);

/* lib/toolchain.c */
typedef struct Toolchain {
  char cc[256], objcopy[256], ar[256], rtlib[4096];
  char xsmm[4096]; /* libonnxc_xsmm.a beside rtlib (native x86-64, a build with libxsmm), else "" */
} Toolchain;
typedef struct Tmp {
  char dir[64], obj[128], glue[128], glue_o[128], merged[128], vs[128], hdr[400];
} Tmp;
void lib_dir_of(const char *path, char *dir, size_t len); /* "." for a bare name; trailing slashes ignored */
/* the C compiler, objcopy, ar and runtime archive for a target triple; -1 with err written */
int lib_toolchain(const char *triple, Toolchain *tc, char *err, size_t errlen);
int lib_run_cmd(char *const argv[], char *err, size_t errlen); /* no shell; 0 if it exited 0 */
/* xsmm: also link tc->xsmm and libxsmm (`--gemm libxsmm`) */
int lib_link_so(const Tmp *t, const Toolchain *tc, bool xsmm, const char *name, const char *out, char *err,
                size_t errlen);
int lib_link_obj(const Tmp *t, const Toolchain *tc, const char *name, const char *out, char *err, size_t errlen);
int lib_link_lib(const Tmp *t, const Toolchain *tc, const char *name, const char *out, char *err, size_t errlen);
void lib_tmp_cleanup(const Tmp *t);

#endif
