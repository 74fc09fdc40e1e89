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
  bool compress_weights; /* the blob entropy-coded (wencode.c), decoded at create (runtime/wdecode.c) */
} BeAotOptions;

/* what --compress-weights made of the blob: per form (raw, words, bytes, planes) the pieces, their
 * bytes and their coded bytes (with the piece headers) */
typedef struct BeWeightCoding {
  size_t raw_bytes, coded_bytes;
  size_t pieces[4], raw[4], coded[4];
  size_t huffman_bytes; /* the same streams Huffman-coded (measured, not written) */
} BeWeightCoding;
struct WeightBlob;
/* codes w piece by piece (w->record was set while it was built) into *out (malloc'd); out NULL:
 * only st, with the coded sizes estimated from the symbol counts */
int be_weights_encode(const struct WeightBlob *w, unsigned char **out, size_t *out_bytes, BeWeightCoding *st);

#define BE_AOT_MAX_VARIANTS 32 /* shapes in one multi-shape library */

typedef struct BeAotResult {
  char triple[96];      /* the target triple the code was generated for */
  char target[32];      /* target name */
  int64_t arena_bytes, scratch_bytes; /* the largest of the variants' */
  int nvariants;
  struct {
    int64_t arena_bytes, scratch_bytes;
  } variant[BE_AOT_MAX_VARIANTS];
  unsigned char *weights; /* the weight blob as stored (free() it); also embedded when embed_weights */
  size_t weights_bytes;
  size_t weights_raw_bytes; /* decoded: weights_bytes unless compress_weights */
  bool weights_coded;       /* compress_weights: weights is the coded stream (coding says how) */
  BeWeightCoding coding;
  int nfiles;             /* be_c_emit: the sources it wrote (NAME_model.c, NAME_weights.c) */
  char files[2][4400];
} BeAotResult;

/* moves the finished blob w into r as the library stores it: coded when o->compress_weights
 * (wencode.c); r->weights_raw_bytes is its decoded size */
void be_aot_store_weights(struct WeightBlob *w, const BeAotOptions *o, BeAotResult *r);

/* Builds, optimizes and writes g's code to path: the graph function
 *   int32_t NAME_graph(onnxc_rt *rt, void *const *io)      (hidden visibility)
 * plus `const char NAME_weights[]` (hidden, 64-byte aligned) when weights are embedded; every
 * kernel is internal, so several models link into one program. 0 ok, -1 error (err written). */
int be_aot_emit(Graph *g, const BeAotOptions *o, const char *path, BeAotResult *r, char *err, size_t errlen);
/* A multi-shape library: gs[k] is the model specialized to the k-th shape (1 <= n <=
 * BE_AOT_MAX_VARIANTS), written as graph function k (be_aot_graph_name) into one module with one
 * weight blob, identical constants and packed weights stored once.  be_aot_emit is n = 1. */
int be_aot_emit_variants(Graph *const *gs, int n, const BeAotOptions *o, const char *path, BeAotResult *r,
                         char *err, size_t errlen);
/* NAME_graph for variant 0, NAME_graph_vK for variant K */
void be_aot_graph_name(const char *name, int variant, char *buf, size_t len);

/* The same model as portable C11 (backend/emit_c.c): writes DIR/NAME_model.c (kernels and
 * NAME_graph) and, when embed_weights, DIR/NAME_weights.c (const char NAME_weights[], 64-byte
 * aligned).  o->target (NULL: 32-byte vectors) only sets the vector width. o->kind is ignored. */
int be_c_emit(Graph *g, const BeAotOptions *o, const char *dir, BeAotResult *r, char *err, size_t errlen);
/* the same for several shapes (as be_aot_emit_variants): graph function k of each in NAME_model.c */
int be_c_emit_variants(Graph *const *gs, int n, const BeAotOptions *o, const char *dir, BeAotResult *r, char *err,
                       size_t errlen);

#endif
