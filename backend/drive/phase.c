/* phase.c — the compile-time breakdown of --time-passes and the cooperative compile deadline
 * (be_phase, be.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "be.h"

/* ---- compile-time phases ---- */
/* The record be_phase writes to: the calling thread's, installed by whoever compiles (libonnxc's
 * entry points install their session's), so sessions on different threads never share one. */
static _Thread_local BePhases *cur_phases;

static double clock_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

BePhases *be_phase_use(BePhases *p) {
  BePhases *old = cur_phases;
  cur_phases = p;
  return old;
}

double be_now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

bool be_deadline_passed(void) {
  BePhases *ph = cur_phases;
  if (!ph || !(ph->deadline_ms > 0)) return false;
  if (!ph->expired && clock_ms(CLOCK_MONOTONIC) > ph->deadline_ms) ph->expired = true;
  return ph->expired;
}

void be_phase_kernels(int kernels, int shared) {
  if (!cur_phases) return;
  cur_phases->kernels += kernels;
  cur_phases->shared += shared;
}

void be_phase_add_cpu(const char *name, double cpu_ms) {
  BePhases *ph = cur_phases;
  if (!ph || !ph->on) return;
  int i = 0;
  while (i < ph->n && strcmp(ph->p[i].name, name)) i++;
  if (i == BE_MAX_PHASES) return;
  if (i == ph->n) ph->p[ph->n++].name = name;
  ph->p[i].cpu += cpu_ms;
}

int be_phase_checked(const char *name, const char *what, char *err, size_t errlen) {
  be_phase(name);
  if (!be_deadline_passed()) return 0;
  snprintf(err, errlen, "the compile-time bound passed before %s", what);
  return -1;
}

void be_phase(const char *name) {
  BePhases *ph = cur_phases;
  be_deadline_passed(); /* phase boundaries are deadline checkpoints */
  if (!ph || !ph->on) return;
  double w = clock_ms(CLOCK_MONOTONIC), c = clock_ms(CLOCK_THREAD_CPUTIME_ID);
  if (ph->cur >= 0) {
    ph->p[ph->cur].wall += w - ph->t0;
    ph->p[ph->cur].cpu += c - ph->c0;
  }
  ph->cur = -1;
  if (!name) return;
  int i = 0;
  while (i < ph->n && strcmp(ph->p[i].name, name)) i++;
  if (i == BE_MAX_PHASES) return;
  if (i == ph->n) ph->p[ph->n++].name = name;
  ph->cur = i;
  ph->t0 = w;
  ph->c0 = c;
}

/* appends to buf[*o..len) what snprintf would, never past len */
static void put(char *buf, size_t len, size_t *o, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t len, size_t *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = *o < len ? vsnprintf(buf + *o, len - *o, fmt, ap) : 0;
  va_end(ap);
  if (n > 0) *o = *o + (size_t)n < len ? *o + (size_t)n : len;
}

size_t be_phase_report(BePhases *ph, char *buf, size_t len) {
  size_t o = 0;
  if (len) buf[0] = 0;
  if (!ph || !ph->on) return 0;
  BePhases *old = be_phase_use(ph);
  be_phase(NULL);
  be_phase_use(old);
  double tw = 0, tc = 0;
  for (int i = 0; i < ph->n; i++) tw += ph->p[i].wall, tc += ph->p[i].cpu;
  put(buf, len, &o, "compile phases:          wall ms    cpu ms\n");
  for (int i = 0; i < ph->n; i++)
    put(buf, len, &o, "  %-20s %10.1f %9.1f  %5.1f%%\n", ph->p[i].name, ph->p[i].wall, ph->p[i].cpu,
        tw > 0 ? 100 * ph->p[i].wall / tw : 0);
  put(buf, len, &o, "  %-20s %10.1f %9.1f\n", "total", tw, tc);
  if (ph->kernels)
    put(buf, len, &o, "  %d kernels, %d of them identical to an earlier one (compiled once)\n", ph->kernels,
        ph->shared);
  return o;
}
