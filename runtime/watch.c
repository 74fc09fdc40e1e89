/* watch.c — run deadlines and cancellation.
 *
 * A run checks its watch cooperatively: onnxc_rt_parallel before every kernel it launches and
 * generated Loop/Scan code once per iteration (gen_control.c), so a stop takes effect within one
 * kernel or one iteration, and the instance's buffers are left as a later run expects them (every
 * run writes its intermediates before reading them).  The check is one relaxed atomic load, plus
 * a monotonic clock read when a deadline is set. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 (the --emit c sources' documented build) */
#endif
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "onnxc_rt.h"

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void onnxc_watch_start(onnxc_watch *w, int keep_cancel) {
  if (!keep_cancel) atomic_store_explicit(&w->cancel, 0, memory_order_relaxed);
  w->stopped = 0;
  w->deadline_ns = 0;
  if (w->max_run_time > 0) {
    /* a bound beyond ~290 years is no bound (and would overflow the nanosecond count) */
    double ns = w->max_run_time * 1e9;
    if (ns < 9e18) w->deadline_ns = now_ns() + (int64_t)ns;
    if (w->deadline_ns <= 0) w->deadline_ns = 1;
  }
}

void onnxc_watch_cancel(onnxc_watch *w) { atomic_store_explicit(&w->cancel, 1, memory_order_relaxed); }

const char *onnxc_watch_reason(const onnxc_watch *w, char *buf, size_t len) {
  if (w && w->stopped == ONNXC_STOP_DEADLINE)
    snprintf(buf, len, "stopped at the max run time of %g s", w->max_run_time);
  else
    snprintf(buf, len, "cancelled");
  return buf;
}

int32_t onnxc_rt_check(void *ctx) {
  onnxc_watch *w = ((onnxc_rt *)ctx)->watch;
  if (!w) return ONNXC_OK;
  if (atomic_load_explicit(&w->cancel, memory_order_relaxed)) {
    w->stopped = ONNXC_STOP_CANCEL;
    return ONNXC_ERR_CANCELLED;
  }
  if (w->deadline_ns && now_ns() >= w->deadline_ns) {
    w->stopped = ONNXC_STOP_DEADLINE;
    return ONNXC_ERR_CANCELLED;
  }
  return ONNXC_OK;
}
