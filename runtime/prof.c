/* prof.c — per-node timing for a profiled run (onnxc bench --profile, onnxc_options_set_profile).
 *
 * Only a graph function built for profiling calls these (backend/drive/prof.c emits the calls):
 * onnxc_prof_start at its entry, onnxc_prof_node after each top-level node's kernel returns.  The
 * graph function of an ordinary build has no such call, so profiling costs nothing when it is off.
 * Each node's time is the interval since the previous mark, so the nodes' times add up to the
 * graph function's run (filling a kernel's buffer table counts with its node).  Each node's CPU
 * time and critical path (onnxc_prof.cpu_ns, crit_ns) come from the calling thread's CPU clock
 * between marks and from what pool.c reports of the node's parallel calls. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#endif
#include <time.h>

#include "onnxc_rt.h"

static int64_t prof_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t onnxc_prof_thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void prof_clear_parallel(onnxc_prof *p) {
  p->par_caller_ns = p->par_cpu_ns = p->par_crit_ns = p->par_tasks = 0;
}

void onnxc_prof_start(onnxc_rt *rt) {
  onnxc_prof *p = rt->prof;
  if (!p) return;
  prof_clear_parallel(p);
  p->mark_cpu_ns = onnxc_prof_thread_cpu_ns();
  p->run_start_ns = p->mark_ns = prof_now_ns();
  p->runs++;
}

void onnxc_prof_parallel(onnxc_prof *p, int64_t caller_ns, int64_t sum_ns, int64_t max_ns, int64_t work) {
  p->par_caller_ns += caller_ns;
  p->par_cpu_ns += sum_ns;
  p->par_crit_ns += max_ns;
  p->par_tasks += work;
}

/* node k's CPU time and critical path since the last mark: the calling thread's CPU outside its
 * parallel calls counts in both (it ran alone), the shares as pool.c measured them */
static void prof_node_cpu(onnxc_prof *p, int32_t k) {
  int64_t c = onnxc_prof_thread_cpu_ns(), alone = c - p->mark_cpu_ns - p->par_caller_ns;
  if (alone < 0) alone = 0;
  p->cpu_ns[k] += alone + p->par_cpu_ns;
  p->crit_ns[k] += alone + p->par_crit_ns;
  p->last_tasks[k] = p->par_tasks;
  prof_clear_parallel(p);
  p->mark_cpu_ns = c;
}

void onnxc_prof_node(onnxc_rt *rt, int32_t k) {
  onnxc_prof *p = rt->prof;
  if (!p || k < 0 || k >= p->nnodes) return;
  int64_t t = prof_now_ns();
  p->last_start_ns[k] = p->mark_ns - p->run_start_ns;
  p->last_ns[k] = t - p->mark_ns;
  p->total_ns[k] += t - p->mark_ns;
  prof_node_cpu(p, k);
  p->mark_ns = t;
  if (k == p->nnodes - 1) p->run_total_ns += t - p->run_start_ns;
}

void onnxc_prof_reset(onnxc_prof *p) {
  for (int32_t k = 0; k < p->nnodes; k++)
    p->total_ns[k] = p->last_ns[k] = p->last_start_ns[k] = p->cpu_ns[k] = p->crit_ns[k] = p->last_tasks[k] = 0;
  p->runs = p->run_total_ns = 0;
}
