/* onnxc_rt.h — the tiny runtime linked into every compiled model (and into the JIT host).
 * Knows neither LLVM nor protobuf; never prints, exits or allocates on the run path. */
#ifndef ONNXC_RT_H
#define ONNXC_RT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* status codes: small and stable (0 = ok) */
enum {
  ONNXC_OK = 0,
  ONNXC_ERR_ARGUMENT = 1, /* NULL pointer, bad option */
  ONNXC_ERR_NOMEM = 2,    /* allocation failed (create only) */
  ONNXC_ERR_INDEX = 3,    /* an index tensor held an out-of-range value at run time */
  ONNXC_ERR_IO = 4,       /* weights file missing or malformed */
  ONNXC_ERR_INTERNAL = 5,
};
const char *onnxc_status_str(int status);

/* every generated kernel has this signature (see backend/kb.h) */
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
