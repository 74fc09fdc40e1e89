/* fe.h — the ONNX frontend: model files → Graph (ir.h), TensorProto files → host Tensors.
 *
 * The only part of onnxc that knows protobuf.  Everything read from a file is untrusted: sizes,
 * ranks, nesting depth, data lengths and external-data paths are checked before use, and every
 * failure is one line in err ("FILE: WHERE: WHAT"); nothing here prints, exits or aborts. */
#ifndef ONNXC_FE_H
#define ONNXC_FE_H

#include <stddef.h>
#include <stdint.h>

#include "ir.h"

#define FE_DEFAULT_MAX_BYTES (16LL << 30) /* file size, protobuf memory and tensor data caps */
#define FE_MAX_STREAM_BYTES (2LL << 30)   /* a model or tensor read from a pipe */

/* --shape NAME=DIMS: fixes the dims of one graph input */
typedef struct FeShape {
  const char *name;
  int rank;
  int64_t dims[IR_MAX_RANK];
} FeShape;

/* Where the copies of a model's large raw_data (read.c's skeleton leaves them in the file, and
 * they are most of a load) can come from a file an earlier load wrote (lib/cache.c): the copy
 * goes to fresh memory, which the kernel zeroes first (53% of a BERT cache hit's CPU), while a
 * mapped file's pages are already there.  Never trusted: every tensor's bytes in the mapping are
 * compared with the model's, and what differs is copied over (in the private mapping) before use.
 * open: a private, writable mapping of what store was given for id and bytes earlier, or NULL;
 * *map, *map_bytes: what to munmap once the graph goes (the graph's arena does).
 * store: the block after a load that found no usable mapping, or a stale one (stale: the bytes
 * of the mapping that differed from the model's; 0 when this load made the block). */
typedef struct FePoolCache {
  void *ctx;
  void *(*open)(void *ctx, uint64_t id, size_t bytes, void **map, size_t *map_bytes);
  void (*store)(void *ctx, uint64_t id, const void *pool, size_t bytes, size_t stale);
} FePoolCache;

typedef struct FeOptions {
  const FeShape *shapes;
  int nshapes;
  int64_t max_bytes; /* 0 = FE_DEFAULT_MAX_BYTES */
  /* out, when not NULL: a hash of everything the model's graph is made of, never 0: the bytes of
   * the file (its large raw_data hashed while they are copied, ir_hash64_copy) and of its external
   * data files.  The compile cache's key (lib/cache.c) takes it for the weights, so no weight
   * byte is hashed apart from the copy the load makes anyway. */
  uint64_t *digest;
  const FePoolCache *pool_cache; /* NULL: the weights are copied from the file */
} FeOptions;

/* Load an ONNX model file into a new Graph (opt may be NULL). On failure returns NULL and writes a
 * one-line message to err. External data is looked up in the model file's folder. */
Graph *fe_load(const char *path, const FeOptions *opt, char *err, size_t errlen);
/* Same, from memory; model_dir is the folder for external data (NULL: external data is refused). */
Graph *fe_load_buffer(const void *buf, size_t len, const char *model_dir, const FeOptions *opt,
                      char *err, size_t errlen);
/* Read a serialized TensorProto (.pb file, as in ONNX test_data_set_N/input_K.pb) into a host
 * Tensor (data malloc'd; free with tensor_free). 0 on success, -1 with err set on failure. */
int fe_read_tensor_pb(const char *path, Tensor *out, char *err, size_t errlen);
/* why a file of this st_mode is not read as a model or tensor (a directory, a device), or NULL for
 * a regular file or a pipe */
const char *fe_unreadable_mode(unsigned mode);

/* write.c: Graph → ONNX model (a ModelProto), the reader's inverse: opset imports, typed graph
 * inputs/outputs (dim_param for symbolic dims), the used constants as initializers (raw_data),
 * live nodes in topological order with every attribute (subgraphs, tensors).  Works on a graph as
 * fe_load gives it or after a transformation of it (not after fusion).  fe_write streams to path
 * (through a temporary renamed over it, so path may be the file g was loaded from);
 * fe_write_buffer gives a malloc'd buffer.  0, or -1 with a one-line message in err (a model
 * over protobuf's 2 GB limit is refused). */
int fe_write(const Graph *g, const char *path, char *err, size_t errlen);
int fe_write_buffer(const Graph *g, void **buf, size_t *len, char *err, size_t errlen);

#endif
