/* phase.c — the compile-time breakdown of --time-passes (be_phase, be.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "be.h"

/* ---- compile-time phases ---- */
enum { MAX_PHASES = 16 };
static struct {
  bool on;
  int n, cur; /* cur: running phase or -1 */
  double t0, c0;
  int kernels, shared;
  struct {
    const char *name;
    double wall, cpu;
  } p[MAX_PHASES];
} phases = {.cur = -1};

static double clock_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void be_phase_enable(bool on) { phases.on = on; }

void be_phase_kernels(int kernels, int shared) {
  phases.kernels += kernels;
  phases.shared += shared;
}

void be_phase(const char *name) {
  if (!phases.on) return;
  double w = clock_ms(CLOCK_MONOTONIC), c = clock_ms(CLOCK_PROCESS_CPUTIME_ID);
  if (phases.cur >= 0) {
    phases.p[phases.cur].wall += w - phases.t0;
    phases.p[phases.cur].cpu += c - phases.c0;
  }
  phases.cur = -1;
  if (!name) return;
  int i = 0;
  while (i < phases.n && strcmp(phases.p[i].name, name)) i++;
  if (i == MAX_PHASES) return;
  if (i == phases.n) phases.p[phases.n++].name = name;
  phases.cur = i;
  phases.t0 = w;
  phases.c0 = c;
}

void be_phase_report(FILE *f) {
  if (!phases.on) return;
  be_phase(NULL);
  double tw = 0, tc = 0;
  for (int i = 0; i < phases.n; i++) tw += phases.p[i].wall, tc += phases.p[i].cpu;
  fprintf(f, "compile phases:          wall ms    cpu ms\n");
  for (int i = 0; i < phases.n; i++)
    fprintf(f, "  %-20s %10.1f %9.1f  %5.1f%%\n", phases.p[i].name, phases.p[i].wall, phases.p[i].cpu,
            tw > 0 ? 100 * phases.p[i].wall / tw : 0);
  fprintf(f, "  %-20s %10.1f %9.1f\n", "total", tw, tc);
  if (phases.kernels)
    fprintf(f, "  %d kernels, %d of them identical to an earlier one (compiled once)\n", phases.kernels,
            phases.shared);
}
