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
/* wdecode.c: entropy-coded weights (onnxc compile --compress-weights) into dst, exactly dst_bytes
 * long: 0 ok, -1 malformed, -2 out of memory */
int onnxc_weights_decode(const void *src, size_t src_bytes, void *dst, size_t dst_bytes);

/* every generated kernel has this signature (see backend/kb/kb.h) */
typedef int32_t (*onnxc_kernel_fn)(void *const *bufs, const char *weights, char *scratch,
                                    int64_t begin, int64_t end);

typedef struct onnxc_pool onnxc_pool;

/* What may stop a run early (runtime/watch.c): a cancel request from another thread and a
 * deadline.  The instance (compiled model, JIT session) owns one; rt->watch points at it. */
typedef struct onnxc_watch {
#ifdef __cplusplus
  int32_t cancel;
#else
  _Atomic int32_t cancel; /* set by onnxc_watch_cancel from any thread; cleared when a run starts */
#endif
  int32_t stopped;        /* why the last run stopped: 0, ONNXC_STOP_CANCEL or ONNXC_STOP_DEADLINE */
  double max_run_time;    /* seconds, 0 = none */
  int64_t deadline_ns;    /* CLOCK_MONOTONIC of this run's end; 0 = none */
} onnxc_watch;
enum { ONNXC_STOP_CANCEL = 1, ONNXC_STOP_DEADLINE = 2 };

/* Execution context of one model instance.  Generated code reads the first four fields by
 * position: keep their order. */
typedef struct onnxc_rt {
  char *arena;            /* intermediate tensors */
  const char *weights;    /* the weight blob */
  char *scratch;          /* threads × scratch_stride bytes */
  int64_t scratch_stride;
  onnxc_pool *pool;       /* NULL: single-threaded */
  int32_t failed_node;    /* set by the top-level graph function when a node's kernel fails */
  onnxc_watch *watch;     /* NULL: nothing stops a run */
  struct onnxc_prof *prof; /* per-node times of a graph function built for profiling; else NULL */
} onnxc_rt;

/* a run begins: sets the deadline from max_run_time and clears the cancel request, unless
 * keep_cancel (libonnxc clears it before the first run compiles, so a cancel then still counts) */
void onnxc_watch_start(onnxc_watch *w, int keep_cancel);
void onnxc_watch_cancel(onnxc_watch *w);
/* "cancelled" / "past the max run time of 2 s" into buf (NUL-terminated); returns buf */
const char *onnxc_watch_reason(const onnxc_watch *w, char *buf, size_t len);
/* 0, or ONNXC_ERR_CANCELLED once the run was cancelled or passed its deadline (recorded in
 * watch->stopped).  Called by onnxc_rt_parallel before each kernel and by Loop/Scan iterations. */
int32_t onnxc_rt_check(void *rt); /* an onnxc_rt *: generated C declares it so */

/* Per-node times (runtime/prof.c), filled by a graph function built for profiling, which calls
 * onnxc_prof_start on entry and onnxc_prof_node(rt, k) after top-level node k (graph order).
 * The three arrays have nnodes entries each and belong to whoever set rt->prof. */
typedef struct onnxc_prof {
  int32_t nnodes;
  int64_t runs;            /* runs started since the last reset */
  int64_t run_total_ns;    /* sum of the completed runs' graph-function times */
  int64_t *total_ns;       /* per node, summed over the runs */
  int64_t *last_start_ns;  /* per node, in the last run: start, from the run's start */
  int64_t *last_ns;        /* per node, in the last run: duration */
  int64_t run_start_ns, mark_ns; /* CLOCK_MONOTONIC of the run's start and of the last mark */
  /* How a node's work split over the threads, in CPU time (CLOCK_THREAD_CPUTIME_ID, so a loaded
   * machine does not distort it).  Per node, summed over the runs: cpu_ns = the CPU time of the
   * work (the calling thread's outside parallel calls plus every share of each parallel call;
   * waiting for the other threads is left out); crit_ns = the same with only the longest share of
   * each parallel call counted, i.e. the node's time on idle cores.  cpu / crit bounds the node's
   * speed-up.  last_tasks: the parallel range of the node's parallel calls in the last run (0: it
   * ran on the calling thread alone).  Kept by runtime/prof.c and pool.c. */
  int64_t *cpu_ns, *crit_ns, *last_tasks;
  int64_t mark_cpu_ns;     /* the calling thread's CPU clock at the last mark */
  int64_t par_caller_ns;   /* the node so far: the calling thread's CPU inside parallel calls */
  int64_t par_cpu_ns, par_crit_ns, par_tasks; /* the node so far: its parallel calls' shares */
} onnxc_prof;
void onnxc_prof_start(onnxc_rt *rt);
void onnxc_prof_node(onnxc_rt *rt, int32_t k);
void onnxc_prof_reset(onnxc_prof *p); /* zeroes the sums and the run count */
int64_t onnxc_prof_thread_cpu_ns(void); /* the calling thread's CPU clock */
/* pool.c reports one parallel call of the current node: the caller's CPU time over the call, the
 * sum and the maximum of the participants' shares, and its parallel range */
void onnxc_prof_parallel(onnxc_prof *p, int64_t caller_ns, int64_t sum_ns, int64_t max_ns, int64_t work);

/* Split [0, work) over the pool's threads and call fn on each part; returns the first non-zero
 * status a part returned. */
int32_t onnxc_rt_parallel(onnxc_rt *rt, onnxc_kernel_fn fn, void *const *bufs, int64_t work);
/* fn over [0, phases·width) in phases [k·width, (k+1)·width), each split over the threads and
 * done before the next starts (a recurrence's steps); participant i starts on the same share of
 * every phase.  One thread: fn is called once with the whole range. */
int32_t onnxc_rt_phases(onnxc_rt *rt, onnxc_kernel_fn fn, void *const *bufs, int64_t phases, int64_t width);

/* persistent worker pool: workers spin up to half a millisecond, then sleep, between jobs */
onnxc_pool *onnxc_pool_create(int threads); /* threads <= 0: all online cores; NULL on failure */
void onnxc_pool_destroy(onnxc_pool *p);
int onnxc_pool_threads(const onnxc_pool *p);
/* a run has returned: the workers go to sleep within 50 us instead of spinning on (the next job
 * wakes them); NULL is a no-op */
void onnxc_pool_rest(onnxc_pool *p);
/* on = 1 (the default): workers spin as above; 0: a worker with no job sleeps at once (no CPU
 * between kernels or runs, a futex wake-up per kernel); NULL is a no-op */
void onnxc_pool_set_spin(onnxc_pool *p, int on);
int onnxc_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif
