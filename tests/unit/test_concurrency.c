/* test_concurrency.c — one compiled model, N threads, each with its own instance (BeModel), 1000
 * runs each: every run's output must equal a single-threaded reference bit for bit.  Instances
 * share nothing mutable (arena, scratch, pool and io are per instance), so this also runs clean
 * under ThreadSanitizer (scripts/test-sanitize.sh builds with -DONNXC_TSAN=ON). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "be.h"
#include "testutil.h"

#define NTHREADS 4
#define NRUNS 1000
#define N 257 /* not a multiple of any vector width: exercises the masked tail */

static void set(Value *v, DType t, int rank, const int64_t *dims) {
  v->dtype = t;
  ir_value_set_shape(v, rank, dims);
}

/* y = relu(a * w + a), w a constant */
static Graph *model(void) {
  Graph *g = ir_graph_new();
  int64_t d[1] = {N};
  float w[N];
  for (int i = 0; i < N; i++) w[i] = (float)(i % 13) * 0.25f - 1.5f;
  Value *a = tu_input(g, "a", DT_FLOAT, 1, d);
  Value *c = tu_const_f32(g, "w", 1, d, w);
  Value *in1[2] = {a, c};
  Value *m = tu_node(g, OP_Mul, 2, in1);
  set(m, DT_FLOAT, 1, d);
  Value *in2[2] = {m, a};
  Value *s = tu_node(g, OP_Add, 2, in2);
  set(s, DT_FLOAT, 1, d);
  Value *y = tu_node(g, OP_Relu, 1, &s);
  set(y, DT_FLOAT, 1, d);
  tu_output(g, y);
  return g;
}

typedef struct Job {
  BeModel *m;
  const float *in, *ref;
  int mismatches, failures;
} Job;

static void *worker(void *p) {
  Job *j = p;
  float out[N];
  char err[256];
  for (int r = 0; r < NRUNS; r++) {
    memset(out, 0, sizeof out);
    const void *ins[1] = {j->in};
    void *outs[1] = {out};
    if (be_run(j->m, ins, outs, err, sizeof err)) j->failures++;
    else if (memcmp(out, j->ref, sizeof out)) j->mismatches++;
  }
  return NULL;
}

Test(concurrency, instances_in_parallel_agree) {
  char err[512];
  float in[N], ref[N];
  for (int i = 0; i < N; i++) in[i] = (float)((i * 37) % 23) - 11.0f;
  Graph *g0 = model();
  BeModel *m0 = be_jit(g0, NULL, err, sizeof err);
  cr_assert_not_null(m0, "%s", err);
  const void *ins[1] = {in};
  void *outs[1] = {ref};
  cr_assert_eq(be_run(m0, ins, outs, err, sizeof err), 0, "%s", err);
  for (int i = 0; i < N; i++) {
    float w = (float)(i % 13) * 0.25f - 1.5f, e = in[i] * w + in[i];
    cr_assert_float_eq(ref[i], e > 0 ? e : 0, 1e-6, "i=%d", i);
  }
  Job jobs[NTHREADS];
  pthread_t th[NTHREADS];
  Graph *gs[NTHREADS];
  for (int t = 0; t < NTHREADS; t++) {
    gs[t] = model();
    jobs[t] = (Job){be_jit(gs[t], NULL, err, sizeof err), in, ref, 0, 0};
    cr_assert_not_null(jobs[t].m, "%s", err);
    be_set_threads(jobs[t].m, t % 2 ? 2 : 1); /* some instances with their own pool */
  }
  for (int t = 0; t < NTHREADS; t++) cr_assert_eq(pthread_create(&th[t], NULL, worker, &jobs[t]), 0);
  for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < NTHREADS; t++) {
    cr_expect_eq(jobs[t].failures, 0, "thread %d: %d runs failed", t, jobs[t].failures);
    cr_expect_eq(jobs[t].mismatches, 0, "thread %d: %d of %d runs differ from the reference", t,
                 jobs[t].mismatches, NRUNS);
    be_free(jobs[t].m);
    ir_graph_free(gs[t]);
  }
  be_free(m0);
  ir_graph_free(g0);
}

/* be_run refuses NULL pointers with ONNXC_ERR_ARGUMENT instead of handing them to kernels */
Test(concurrency, run_rejects_null_pointers) {
  char err[256];
  Graph *g = model();
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  float in[N], out[N];
  memset(in, 0, sizeof in);
  const void *ins[1] = {in}, *nullin[1] = {NULL};
  void *outs[1] = {out}, *nullout[1] = {NULL};
  cr_expect_eq(be_run(m, NULL, outs, err, sizeof err), 1);
  cr_expect(strstr(err, "inputs array"), "%s", err);
  cr_expect_eq(be_run(m, nullin, outs, err, sizeof err), 1);
  cr_expect(strstr(err, "input 0 is NULL"), "%s", err);
  cr_expect_eq(be_run(m, ins, nullout, err, sizeof err), 1);
  cr_expect(strstr(err, "output 0 is NULL"), "%s", err);
  cr_expect_eq(be_run(NULL, ins, outs, err, sizeof err), 1);
  cr_expect_eq(be_run(m, ins, outs, err, sizeof err), 0, "%s", err);
  be_free(m);
  ir_graph_free(g);
}
