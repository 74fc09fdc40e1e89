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
} CompileOpts;

const char *lib_c_type(DType t); /* the C type of a dtype compiled models can pass, or NULL */
int lib_write_header(const char *path, const char *name, const char *model, const BeAotResult *r, Graph *g,
                     bool embedded, bool c_sources, char *err, size_t errlen);
int lib_write_glue(const char *path, const char *header, const char *name, const BeAotResult *r, Graph *g,
                   bool embedded, char *err, size_t errlen);
int lib_write_file(const char *path, const void *data, size_t bytes, char *err, size_t errlen);

#endif
