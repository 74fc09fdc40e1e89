/* prof.c — per-node timing for a profiled run (onnxc bench --profile, onnxc_options_set_profile).
 *
 * Only a graph function built for profiling calls these (backend/drive/prof.c emits the calls):
 * onnxc_prof_start at its entry, onnxc_prof_node after each top-level node's kernel returns.  The
 * graph function of an ordinary build has no such call, so profiling costs nothing when it is off.
 * Each node's time is the interval since the previous mark, so the nodes' times add up to the
 * graph function's run (filling a kernel's buffer table counts with its node). */
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

void onnxc_prof_start(onnxc_rt *rt) {
  onnxc_prof *p = rt->prof;
  if (!p) return;
  p->run_start_ns = p->mark_ns = prof_now_ns();
  p->runs++;
}

void onnxc_prof_node(onnxc_rt *rt, int32_t k) {
  onnxc_prof *p = rt->prof;
  if (!p || k < 0 || k >= p->nnodes) return;
  int64_t t = prof_now_ns();
  p->last_start_ns[k] = p->mark_ns - p->run_start_ns;
  p->last_ns[k] = t - p->mark_ns;
  p->total_ns[k] += t - p->mark_ns;
  p->mark_ns = t;
  if (k == p->nnodes - 1) p->run_total_ns += t - p->run_start_ns;
}

void onnxc_prof_reset(onnxc_prof *p) {
  for (int32_t k = 0; k < p->nnodes; k++) p->total_ns[k] = p->last_ns[k] = p->last_start_ns[k] = 0;
  p->runs = p->run_total_ns = 0;
}
