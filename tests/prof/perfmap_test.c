/* perfmap_test.c — the perf map and the profile through libonnxc, checked in the process whose
 * JIT wrote them: every /tmp/perf-PID.map line lies inside an executable mapping of this process
 * (/proc/self/maps), the lines do not overlap, each distinct kernel of the profile has exactly one
 * line (plus the graph function), and a session without the option writes no map.  The profile's
 * node times add up to its run total.
 *   perfmap_test MODEL   (every input shape fixed in the model; float32 inputs)
 * Ends with "perfmap: N passed, N failed"; exit 0 only if none failed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnxc.h"

static int passed, failed;

static void check(const char *what, int ok, const char *detail) {
  if (ok) passed++, printf("ok   %s\n", what);
  else failed++, printf("FAIL %s %s\n", what, detail ? detail : "");
}

typedef struct Range {
  uint64_t lo, hi;
} Range;

/* the executable mappings of this process */
static int exec_maps(Range *r, int cap) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[1024];
  int n = 0;
  while (f && n < cap && fgets(line, sizeof line, f)) {
    unsigned long long lo, hi;
    char perm[8];
    if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perm) == 3 && perm[2] == 'x') r[n++] = (Range){lo, hi};
  }
  if (f) fclose(f);
  return n;
}

static int inside(const Range *r, int n, uint64_t lo, uint64_t hi) {
  for (int i = 0; i < n; i++)
    if (lo >= r[i].lo && hi <= r[i].hi) return 1;
  return 0;
}

/* a session with the model's fixed shapes, prepared and run once on zeros */
static onnxc_session *run_model(const char *model, int perf_map, int profile) {
  onnxc_session_options *o;
  onnxc_session *s = NULL;
  onnxc_options_create(&o);
  onnxc_options_set_threads(o, 1);
  onnxc_options_set_perf_map(o, perf_map);
  onnxc_options_set_profile(o, profile);
  int st = onnxc_session_create_from_file(model, o, &s);
  onnxc_options_free(o);
  if (!st) st = onnxc_session_prepare(s, NULL, 0);
  if (st) {
    check("session prepared", 0, onnxc_session_error(s));
    onnxc_session_free(s);
    return NULL;
  }
  int nin = onnxc_session_num_inputs(s), nout = onnxc_session_num_outputs(s);
  onnxc_tensor t[16];
  onnxc_value_info vi[16];
  for (int i = 0; i < nin + nout && i < 16; i++) {
    if (i < nin) onnxc_session_input_info(s, i, &vi[i]);
    else onnxc_session_output_info(s, i - nin, &vi[i]);
    int64_t n = 1;
    for (int d = 0; d < vi[i].rank; d++) n *= vi[i].dims[d];
    t[i] = (onnxc_tensor){.data = calloc((size_t)n, 4), .bytes = n * 4, .dtype = vi[i].dtype, .rank = vi[i].rank,
                          .dims = vi[i].dims};
  }
  for (int r = 0; r < 3 && !st; r++) st = onnxc_session_run(s, t, nin, t + nin, nout);
  check("runs", st == 0, onnxc_session_error(s));
  for (int i = 0; i < nin + nout && i < 16; i++) free(t[i].data);
  return s;
}

static void check_profile(onnxc_session *s) {
  int32_t n;
  int64_t runs;
  double total, sum = 0, cpu = 0;
  int one_thread = 1;
  check("profile available", onnxc_session_profile(s, &n, &runs, &total) == ONNXC_OK, onnxc_session_error(s));
  check("profile counted 3 runs", runs == 3, NULL);
  for (int i = 0; i < n; i++) {
    onnxc_profile_node r;
    onnxc_session_profile_node(s, i, &r);
    sum += r.total_ms;
    cpu += r.cpu_ms;
    one_thread &= r.crit_ms == r.cpu_ms && r.tasks == 0 && r.cpu_ms >= 0;
  }
  check("1 thread: CPU time counted, critical path = CPU time, no tasks", cpu > 0 && one_thread, NULL);
  char d[128];
  snprintf(d, sizeof d, "nodes %.6f ms, runs %.6f ms", sum, total);
  check("node times add up to the runs' time", total > 0 && sum > 0.999 * total && sum < 1.001 * total, d);
  onnxc_profile_node r;
  check("profile node out of range", onnxc_session_profile_node(s, n, &r) == ONNXC_ERR_INDEX, NULL);
  check("profile reset", onnxc_session_profile_reset(s) == ONNXC_OK && !onnxc_session_profile(s, NULL, &runs, NULL) &&
                             runs == 0, NULL);
}

/* the lines of the map; each kernel of the profile once, all inside executable mappings */
static void check_map(onnxc_session *s, const char *path) {
  FILE *f = fopen(path, "r");
  check("perf map written", f != NULL, path);
  if (!f) return;
  static Range ex[4096], lines[4096];
  static char names[4096][256];
  int nex = exec_maps(ex, 4096), nl = 0, bad = 0;
  char line[1024];
  while (nl < 4096 && fgets(line, sizeof line, f)) {
    unsigned long long a, sz;
    if (sscanf(line, "%llx %llx %255s", &a, &sz, names[nl]) != 3 || !sz) {
      bad++;
      continue;
    }
    lines[nl] = (Range){a, a + sz};
    if (!inside(ex, nex, a, a + sz)) {
      check("map line inside an executable mapping", 0, line);
      bad++;
    }
    nl++;
  }
  fclose(f);
  check("map lines well formed and inside the JIT's code", bad == 0 && nl > 0, NULL);
  int overlap = 0;
  for (int i = 0; i < nl; i++)
    for (int j = i + 1; j < nl; j++) overlap += lines[i].lo < lines[j].hi && lines[j].lo < lines[i].hi;
  check("map lines do not overlap", overlap == 0, NULL);
  int32_t n = 0;
  onnxc_session_profile(s, &n, NULL, NULL);
  int distinct = 0, missing = 0;
  for (int i = 0; i < n; i++) {
    onnxc_profile_node r, q;
    onnxc_session_profile_node(s, i, &r);
    int first = 1;
    for (int j = 0; j < i && first; j++) first = !(onnxc_session_profile_node(s, j, &q) == 0 && !strcmp(q.kernel, r.kernel));
    if (!first) continue;
    distinct++;
    char want[300];
    snprintf(want, sizeof want, "onnxc:%s:", r.kernel);
    int times = 0;
    for (int l = 0; l < nl; l++) times += !strncmp(names[l], want, strlen(want));
    if (times != 1) {
      check("kernel has one map line", 0, want);
      missing++;
    }
  }
  int graph = 0;
  for (int l = 0; l < nl; l++) graph += !strcmp(names[l], "onnxc:onnxc_graph_run");
  char d[128];
  snprintf(d, sizeof d, "%d lines, %d distinct kernels, %d graph functions", nl, distinct, graph);
  check("one line per kernel plus the graph function", !missing && graph == 1 && nl == distinct + 1, d);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: perfmap_test MODEL\n");
    return 2;
  }
  char path[64];
  snprintf(path, sizeof path, "/tmp/perf-%ld.map", (long)getpid());
  unlink(path);
  onnxc_session *plain = run_model(argv[1], 0, 0);
  check("no perf map unless asked", access(path, F_OK) != 0, path);
  check("no profile unless asked", plain && onnxc_session_profile(plain, NULL, NULL, NULL) == ONNXC_ERR_STATE, NULL);
  onnxc_session_free(plain);
  onnxc_session *s = run_model(argv[1], 1, 1);
  if (s) {
    check_profile(s);
    check_map(s, path);
  }
  onnxc_session_free(s);
  unlink(path);
  printf("perfmap: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
