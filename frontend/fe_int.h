/* fe_int.h — shared between the frontend's files (read.c, tensor.c, load.c); not installed. */
#ifndef ONNXC_FE_INT_H
#define ONNXC_FE_INT_H

#include <stdbool.h>

#include "fe.h"
#include "onnx.pb-c.h"

/* Deepest protobuf message nesting accepted.  A subgraph level costs three messages
 * (Graph → Node → Attribute → Graph), so this leaves room for IR_MAX_DEPTH subgraph levels plus
 * tensors and nested TypeProtos, while keeping protobuf-c's recursive unpack far from the stack's end. */
#define FE_MAX_PROTO_DEPTH 64
/* Newest default-domain opset accepted: a model from a newer ONNX may use semantics this build
 * does not know, so it is refused rather than guessed at. */
#define FE_MAX_OPSET 24
/* Nodes in the whole model, subgraphs included: bounds the compile time and the number of kernels
 * before any Node is allocated. */
#define FE_MAX_NODES 1000000

/* One import: where messages point, the limits, and the first error. */
typedef struct Fe {
  const char *file;     /* error prefix: the path as given, or "<buffer>" */
  const char *dir;      /* folder external data must stay in; NULL: external data refused */
  int64_t max_bytes;    /* cap on the file, protobuf-c's memory and the tensor data */
  int64_t data_bytes;   /* tensor data loaded so far */
  Arena *arena;         /* tensor data is allocated here; NULL: malloc */
  char *err;
  size_t errlen;
  bool failed;
  /* protobuf-c allocations, counted against max_bytes */
  ProtobufCAllocator pb_alloc;
  int64_t pb_used;
  bool pb_refused;      /* an allocation was refused or failed */
  bool mapped;          /* fe_read_file mapped the file (fe_release_file unmaps it) */
  /* with mapped: the mapping and a descriptor of the file (-1: none), which fe_copy_deferred reads
   * the weights through (pread: no page of them mapped, which here cost twice the bytes' copy) */
  const uint8_t *map;
  size_t map_len;
  int map_fd;
  const uint8_t *wire;  /* the buffer fe_unpack's references point into (NULL: none written) */
  size_t wire_len;
  uint64_t *digest;     /* FeOptions.digest: fe_unpack writes the hash of what protobuf-c reads,
                         * fe_copy_deferred and external data reads fold in the rest */
  /* one block in huge pages for the copies of the referenced raw_data (fe_pool_reserve), so the
   * weights cost few page faults and TLB misses; NULL: each is allocated on its own */
  uint64_t ref_bytes;   /* fe_unpack: what the references need, 64-byte rounded */
  uint8_t *pool;
  size_t pool_left;
  /* FeOptions.pool_cache, the id of this file's pool (a hash of the skeleton and ref_bytes), and
   * where it starts; pool_mapped: it is the cache's mapping, which fe_copy_deferred compares */
  const FePoolCache *pool_cache;
  uint64_t pool_id;
  uint8_t *pool_base;
  bool pool_mapped;
  /* load.c sets defer: referenced raw_data are listed here instead of copied, and fe_copy_deferred
   * copies them all at the end of the load, on two threads when they are large */
  bool defer;
  struct FeCopy *copies;
  size_t ncopies, capcopies;
} Fe;

void fe_init(Fe *c, const char *file, const char *dir, int64_t max_bytes, char *err, size_t errlen);
int fe_error(Fe *c, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* returns -1 */

/* read.c: whole-file reading and the wire-format pre-scan */
/* fe_read_file maps a regular file (reads a pipe); the buffer must outlive the unpacked message's
 * use, since large raw_data stay in it (fe_raw_ref); fe_release_file gives it back */
int fe_read_file(Fe *c, const char *path, uint8_t **buf, size_t *len);
void fe_release_file(Fe *c, uint8_t *buf, size_t len);
ProtobufCMessage *fe_unpack(Fe *c, const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len);
/* The field number that stands for a TensorProto's large raw_data in what protobuf-c unpacks: the
 * highest one protobuf allows, unknown to ONNX. */
#define FE_REF_FIELD 0x1fffffffu
/* the raw_data of tensor m left in fe_unpack's buffer, if it was; false otherwise */
bool fe_raw_ref(const Fe *c, const ProtobufCMessage *m, const uint8_t **data, size_t *len);

/* tensor.c: reserves Fe.pool in c->arena for the referenced raw_data fe_unpack found */
void fe_pool_reserve(Fe *c);
/* tensor.c: TensorProto → dense little-endian data */
typedef struct FeTensor {
  DType dtype;
  int rank;
  int64_t dims[IR_MAX_RANK];
  void *data; /* c->arena or malloc; never NULL on success (1 byte for empty tensors) */
  size_t bytes;
} FeTensor;
/* what names the tensor in messages ("initializer 'w'"); frees decoded proto fields as it goes */
int fe_tensor_decode(Fe *c, Onnx__TensorProto *tp, const char *what, FeTensor *out);
void fe_dims_str(int rank, const int64_t *dims, char *buf, size_t len); /* "4x6", "scalar" */
/* tensor.c: the copies Fe.defer put off (the buffer they read must still be there); -1 with the
 * error set if the list could not grow (then nothing was copied) */
int fe_copy_deferred(Fe *c);
/* with Fe.digest: folds bytes (a hash of data the frontend read apart from the skeleton) into it */
void fe_digest_add(Fe *c, const void *p, size_t bytes);
void fe_copies_free(Fe *c);
#endif
