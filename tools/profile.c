/* profile.c — `onnxc bench --profile`: the per-node table and the per-op summary, from the
 * library's profile records (onnxc_session_profile_node). */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static int by_time(const void *a, const void *b) {
  const onnxc_profile_node *x = a, *y = b;
  return x->total_ms < y->total_ms ? 1 : x->total_ms > y->total_ms ? -1 : 0;
}

typedef struct OpSum {
  const char *op;
  int count;
  double ms, cpu, flops;
} OpSum;

static int by_ms(const void *a, const void *b) {
  const OpSum *x = a, *y = b;
  return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : 0;
}

/* GFLOP/s of flops per run done in ms per run; "" when the op has no count */
static const char *gflops(double flops, double ms, char *buf, size_t len) {
  if (flops > 0 && ms > 0) snprintf(buf, len, "%.1f", flops / (ms * 1e-3) / 1e9);
  else snprintf(buf, len, "-");
  return buf;
}

static void print_ops(const onnxc_profile_node *r, int n, int64_t runs, double sum, FILE *f) {
  OpSum *ops = calloc((size_t)n + 1, sizeof *ops);
  int nops = 0;
  for (int i = 0; ops && i < n; i++) {
    int j = 0;
    while (j < nops && strcmp(ops[j].op, r[i].op)) j++;
    if (j == nops) ops[nops++].op = r[i].op;
    ops[j].count++, ops[j].ms += r[i].total_ms / (double)runs, ops[j].cpu += r[i].cpu_ms / (double)runs,
        ops[j].flops += r[i].flops;
  }
  if (!ops) return;
  qsort(ops, (size_t)nops, sizeof *ops, by_ms);
  fprintf(f, "\nper op type:\n%-22s %6s %10s %6s %8s %10s\n", "op", "nodes", "us/run", "%", "GFLOP/s", "cpu us/run");
  char g[32];
  for (int j = 0; j < nops; j++)
    fprintf(f, "%-22s %6d %10.1f %6.2f %8s %10.1f\n", ops[j].op, ops[j].count, ops[j].ms * 1e3,
            sum > 0 ? 100 * ops[j].ms / sum : 0, gflops(ops[j].flops, ops[j].ms, g, sizeof g), ops[j].cpu * 1e3);
  free(ops);
}

/* How the run split over the threads, by CPU time: the bound cpu / crit on the speed-up over one
 * thread (1.00 when every node ran on one thread; it leaves out only waking and waiting), and the
 * nodes that hold it back most: the largest crit - cpu / threads (time lost to running alone or
 * to an uneven split). */
static int by_loss(const void *a, const void *b) {
  const onnxc_profile_node *x = a, *y = b;
  double lx = x->crit_ms - x->cpu_ms * 0.5, ly = y->crit_ms - y->cpu_ms * 0.5;
  return lx < ly ? 1 : lx > ly ? -1 : 0;
}

static void print_split(onnxc_profile_node *r, int n, int64_t runs, FILE *f) {
  double cpu = 0, crit = 0, alone = 0;
  for (int i = 0; i < n; i++) {
    cpu += r[i].cpu_ms, crit += r[i].crit_ms;
    if (!r[i].tasks) alone += r[i].cpu_ms;
  }
  double k = 1.0 / (double)runs;
  fprintf(f, "\nthreads (CPU time per run): work %.3f ms, critical path %.3f ms, speed-up bound %.2fx; "
             "on one thread: %.3f ms (%.1f%%)\n", cpu * k, crit * k, crit > 0 ? cpu / crit : 1, alone * k,
          cpu > 0 ? 100 * alone / cpu : 0);
  qsort(r, (size_t)n, sizeof *r, by_loss);
  fprintf(f, "held back most (critical path minus half the work: the loss at 2 threads):\n%10s %10s %10s %7s  %-16s %-10s %-16s %s\n",
          "loss us", "crit us", "cpu us", "tasks", "op", "kernel", "shape", "node");
  for (int i = 0; i < n && i < 12; i++) {
    char name[512];
    snprintf(name, sizeof name, "%s", *r[i].name ? r[i].name : "(unnamed)");
    ir_msg_escape(name, sizeof name);
    fprintf(f, "%10.1f %10.1f %10.1f %7lld  %-16s %-10s %-16s %s\n", (r[i].crit_ms - 0.5 * r[i].cpu_ms) * k * 1e3,
            r[i].crit_ms * k * 1e3, r[i].cpu_ms * k * 1e3, (long long)r[i].tasks, r[i].op, r[i].kernel, r[i].shape, name);
  }
}

int tool_print_profile(onnxc_session *s, double wall_ms, FILE *f) {
  int32_t n;
  int64_t runs;
  double run_total;
  int rc = onnxc_session_profile(s, &n, &runs, &run_total);
  if (rc) return rc;
  onnxc_profile_node *r = calloc((size_t)n + 1, sizeof *r);
  if (!r) return ONNXC_ERR_NOMEM;
  double sum = 0;
  for (int i = 0; i < n; i++) {
    onnxc_session_profile_node(s, i, &r[i]);
    sum += r[i].total_ms;
  }
  if (runs < 1) runs = 1;
  sum /= (double)runs;
  fprintf(f, "profile: %d nodes, %lld runs: nodes sum %.4f ms per run = %.1f%% of the %.4f ms mean run\n", n,
          (long long)runs, sum, wall_ms > 0 ? 100 * sum / wall_ms : 0, wall_ms);
  qsort(r, (size_t)n, sizeof *r, by_time);
  fprintf(f, "%10s %6s %6s %8s  %-16s %-10s %-16s %s\n", "us/run", "%", "cum%", "GFLOP/s", "op", "kernel", "shape",
          "node");
  double cum = 0;
  char g[32];
  for (int i = 0; i < n; i++) {
    double ms = r[i].total_ms / (double)runs, pct = sum > 0 ? 100 * ms / sum : 0;
    cum += pct;
    char name[512];
    snprintf(name, sizeof name, "%s", *r[i].name ? r[i].name : "(unnamed)");
    ir_msg_escape(name, sizeof name);
    fprintf(f, "%10.1f %6.2f %6.2f %8s  %-16s %-10s %-16s %s\n", ms * 1e3, pct, cum, gflops(r[i].flops, ms, g, sizeof g),
            r[i].op, r[i].kernel, r[i].shape, name);
  }
  print_ops(r, n, runs, sum, f);
  print_split(r, n, runs, f);
  free(r);
  return ONNXC_OK;
}
