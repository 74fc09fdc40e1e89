/* onnxc_rt.h — the tiny runtime linked into every compiled model (and into the JIT host).
 * Knows neither LLVM nor protobuf; never prints, exits or allocates on the run path. */
#ifndef ONNXC_RT_H
#define ONNXC_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* status codes and the compiled-model ABI (onnxc_model_info, onnxc_model_create, ...) */
#include "onnxc_model.h"

/* FNV-1a, 64-bit: identifies a weights file (written by onnxc compile, checked at create) */
uint64_t onnxc_hash_bytes(const void *data, size_t bytes);

/* every generated kernel has this signature (see backend/kb/kb.h) */
typedef int32_t (*onnxc_kernel_fn)(void *const *bufs, const char *weights, char *scratch,
                                    int64_t begin, int64_t end);

typedef struct onnxc_pool onnxc_pool;

/* Execution context of one model instance.  Generated code reads the first four fields by
 * position: keep their order. */
typedef struct onnxc_rt {
  char *arena;            /* intermediate tensors */
  const char *weights;    /* the weight blob */
  char *scratch;          /* threads × scratch_stride bytes */
  int64_t scratch_stride;
  onnxc_pool *pool;       /* NULL: single-threaded */
  int32_t failed_node;    /* set by the top-level graph function when a node's kernel fails */
} onnxc_rt;

/* Split [0, work) over the pool's threads and call fn on each part; returns the first non-zero
 * status a part returned. */
int32_t onnxc_rt_parallel(onnxc_rt *rt, onnxc_kernel_fn fn, void *const *bufs, int64_t work);

/* persistent worker pool: workers spin briefly, then sleep, between jobs */
onnxc_pool *onnxc_pool_create(int threads); /* threads <= 0: all online cores; NULL on failure */
void onnxc_pool_destroy(onnxc_pool *p);
int onnxc_pool_threads(const onnxc_pool *p);
int onnxc_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
