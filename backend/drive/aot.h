/* aot.h — ahead-of-time emission of a model's code (backend/aot.c), used by `onnxc compile`. */
#ifndef ONNXC_AOT_H
#define ONNXC_AOT_H

#include "be.h"

typedef struct BeAotOptions {
  const char *target;   /* NULL = "native" */
  const char *cpu;      /* overrides the target's CPU (NULL: keep) */
  const char *features; /* overrides the target's features (NULL: keep) */
  const char *name;     /* symbol prefix: NAME_graph, NAME_weights */
  const char *kind;     /* "obj", "asm" or "llvm" */
  bool embed_weights;   /* NAME_weights in the object; else only returned in BeAotResult */
  int opt_level;        /* 0 = default (3) */
  int64_t max_memory;   /* weights + arena + scratch + outputs budget; 0 = BE_DEFAULT_MAX_MEMORY */
} BeAotOptions;

typedef struct BeAotResult {
  char triple[96];      /* the target triple the code was generated for */
  char target[32];      /* target name */
  int64_t arena_bytes, scratch_bytes;
  unsigned char *weights; /* the weight blob (free() it); also embedded when embed_weights */
  size_t weights_bytes;
} BeAotResult;

/* Builds, optimizes and writes g's code to path: the graph function
 *   int32_t NAME_graph(onnxc_rt *rt, void *const *io)      (hidden visibility)
 * plus `const char NAME_weights[]` (hidden, 64-byte aligned) when weights are embedded; every
 * kernel is internal, so several models link into one program. 0 ok, -1 error (err written). */
int be_aot_emit(Graph *g, const BeAotOptions *o, const char *path, BeAotResult *r, char *err, size_t errlen);

/* The same model as portable C11 (backend/emit_c.c): writes DIR/NAME_model.c (kernels and
 * NAME_graph) and, when embed_weights, DIR/NAME_weights.c (const char NAME_weights[], 64-byte
 * aligned).  o->target (NULL: 32-byte vectors) only sets the vector width. o->kind is ignored. */
int be_c_emit(Graph *g, const BeAotOptions *o, const char *dir, BeAotResult *r, char *err, size_t errlen);

#endif
