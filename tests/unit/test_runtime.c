/* test_runtime.c — the compiled-model ABI in runtime/model.c over a hand-written descriptor:
 * argument checks with status codes and per-instance messages, weights loaded from a file (size
 * and hash checked), kernel status propagation, and the parallel-for through an instance's pool. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "onnxc_rt.h"

/* y[i] = x[i] * w[i] (w from the weights), in parallel over 1000 elements; x[0] < 0 -> index error */
static int32_t mul_kernel(void *const *bufs, const char *weights, char *scratch, int64_t begin, int64_t end) {
  const float *x = bufs[0], *w = (const float *)weights;
  float *y = bufs[1];
  for (int64_t i = begin; i < end; i++) y[i] = x[i] * w[i];
  return x[0] < 0 ? ONNXC_ERR_INDEX : 0;
}

static int32_t graph(void *rtp, void *const *io) {
  int32_t st = onnxc_rt_parallel(rtp, mul_kernel, io, 1000);
  if (st) ((onnxc_rt *)rtp)->failed_node = 0; /* as generated top-level graphs do */
  return st;
}

static float W[1000];
static const int64_t dims[] = {1000};
static const onnxc_tensor_info ins[] = {{"x", ONNXC_DT_FLOAT, 1, dims, 1000, 4000}};
static const onnxc_tensor_info outs[] = {{"y", ONNXC_DT_FLOAT, 1, dims, 1000, 4000}};
static const char *const nodes[] = {"Mul 'scale'"};
static onnxc_model_info info = {ONNXC_ABI_VERSION, "toy", "native", 1, 1, ins, outs, NULL, onnxc_model_run,
                                onnxc_model_error, onnxc_model_destroy, onnxc_model_run_tensors, graph,
                                (const char *)W, sizeof W, 0, 64, 0, 1, nodes, 0, NULL, 0};

static void setup(void) {
  for (int i = 0; i < 1000; i++) W[i] = (float)i;
  info.weights = (const char *)W;
  info.weights_hash = onnxc_hash_bytes(W, sizeof W);
}
TestSuite(runtime, .init = setup);

static void check_run(onnxc_model *m) {
  static float x[1000], y[1000];
  for (int i = 0; i < 1000; i++) x[i] = 0.5f, y[i] = -1;
  const void *in[] = {x};
  void *out[] = {y};
  cr_assert_eq(onnxc_model_run(m, in, out), 0, "%s", onnxc_model_error(m));
  for (int i = 0; i < 1000; i++) cr_assert_eq(y[i], 0.5f * (float)i, "y[%d] = %g", i, y[i]);
}

Test(runtime, create_and_run_with_threads) {
  for (int threads = 0; threads <= 3; threads++) {
    onnxc_model *m;
    onnxc_options o = {.threads = threads};
    cr_assert_eq(onnxc_model_create(&info, &m, &o), 0, "%s", onnxc_model_error(NULL));
    check_run(m);
    check_run(m);
    onnxc_model_destroy(m);
  }
}

Test(runtime, bad_arguments_give_codes_and_messages) {
  onnxc_model *m = (onnxc_model *)&info;
  cr_assert_eq(onnxc_model_create(&info, NULL, NULL), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(NULL), "NULL"));
  onnxc_options o = {.threads = -2};
  cr_assert_eq(onnxc_model_create(&info, &m, &o), ONNXC_ERR_ARGUMENT);
  cr_assert_null(m);
  cr_assert(strstr(onnxc_model_error(NULL), "threads"));
  onnxc_model_info old = info;
  old.abi_version = 99;
  cr_assert_eq(onnxc_model_create(&old, &m, NULL), ONNXC_ERR_ARGUMENT);

  onnxc_model *a, *b;
  cr_assert_eq(onnxc_model_create(&info, &a, NULL), 0);
  cr_assert_eq(onnxc_model_create(&info, &b, NULL), 0);
  float x[1000] = {0}, y[1000];
  const void *in[] = {x}, *nullin[] = {NULL};
  void *out[] = {y}, *nullout[] = {NULL};
  cr_assert_eq(onnxc_model_run(NULL, in, out), ONNXC_ERR_ARGUMENT);
  cr_assert_eq(onnxc_model_run(a, NULL, out), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(a), "input array is NULL"), "%s", onnxc_model_error(a));
  cr_assert_eq(onnxc_model_run(a, nullin, out), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(a), "input 0 ('x') is NULL"), "%s", onnxc_model_error(a));
  cr_assert_eq(onnxc_model_run(a, in, nullout), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(a), "output 0 ('y') is NULL"), "%s", onnxc_model_error(a));
  cr_assert_str_empty(onnxc_model_error(b), "errors are per instance");
  /* a kernel's status stops the run and is reported */
  x[0] = -1;
  cr_assert_eq(onnxc_model_run(b, in, out), ONNXC_ERR_INDEX);
  cr_assert(strstr(onnxc_model_error(b), "node 0 (Mul 'scale'): index out of range"), "%s", onnxc_model_error(b));
  x[0] = 0;
  cr_assert_eq(onnxc_model_run(b, in, out), 0);
  cr_assert_str_empty(onnxc_model_error(b), "success clears the message");
  onnxc_model_destroy(a);
  onnxc_model_destroy(b);
  onnxc_model_destroy(NULL);
}

Test(runtime, weights_from_a_file) {
  info.weights = NULL;
  char path[] = "/tmp/onnxc_test_weightsXXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  FILE *f = fdopen(fd, "wb");
  fwrite(W, 1, sizeof W, f);
  fclose(f);
  onnxc_model *m;
  cr_assert_eq(onnxc_model_create(&info, &m, NULL), ONNXC_ERR_ARGUMENT, "no path given");
  cr_assert(strstr(onnxc_model_error(NULL), "weights_path"));
  onnxc_options o = {.threads = 2, .weights_path = "/nonexistent/w.bin"};
  cr_assert_eq(onnxc_model_create(&info, &m, &o), ONNXC_ERR_IO);
  cr_assert(strstr(onnxc_model_error(NULL), "/nonexistent/w.bin"));
  o.weights_path = path;
  cr_assert_eq(onnxc_model_create(&info, &m, &o), 0, "%s", onnxc_model_error(NULL));
  check_run(m);
  onnxc_model_destroy(m);
  /* another compilation's weights: same size, other bytes */
  W[5] = 42;
  info.weights_hash = onnxc_hash_bytes(W, sizeof W);
  cr_assert_eq(onnxc_model_create(&info, &m, &o), ONNXC_ERR_IO);
  cr_assert(strstr(onnxc_model_error(NULL), "another compilation"), "%s", onnxc_model_error(NULL));
  /* truncated file */
  f = fopen(path, "wb");
  fwrite(W, 1, 100, f);
  fclose(f);
  cr_assert_eq(onnxc_model_create(&info, &m, &o), ONNXC_ERR_IO);
  cr_assert(strstr(onnxc_model_error(NULL), "wrong size"), "%s", onnxc_model_error(NULL));
  remove(path);
}

/* run_tensors: every field of every tensor checked against the descriptor, message naming it */
Test(runtime, run_tensors_checks_dtype_shape_and_size) {
  onnxc_model *m;
  cr_assert_eq(onnxc_model_create(&info, &m, NULL), 0);
  static float x[1000], y[1001];
  for (int i = 0; i < 1000; i++) x[i] = 2;
  int64_t d1000[] = {1000}, d999[] = {999}, d2[] = {10, 100};
  onnxc_tensor in = {x, sizeof x, ONNXC_DT_FLOAT, 1, d1000}, out = {y, sizeof y, ONNXC_DT_FLOAT, 1, d1000};
  struct {
    onnxc_tensor in, out;
    int nin, nout;
    const char *msg;
  } bad[] = {
      {{NULL, 4000, 1, 1, d1000}, out, 1, 1, "input 0 ('x') is NULL"},
      {in, {NULL, 4000, 1, 1, d1000}, 1, 1, "output 0 ('y') is NULL"},
      {{x, 4000, ONNXC_DT_INT32, 1, d1000}, out, 1, 1, "input 0 ('x'): dtype int32 (6), the model takes float32"},
      {in, {y, 4000, 0, 1, d1000}, 1, 1, "output 0 ('y'): dtype unknown (0), the model takes float32"},
      {{x, 4000, 1, 2, d2}, out, 1, 1, "input 0 ('x'): rank 2, the model takes rank 1 (1000)"},
      {in, {y, 4000, 1, 0, NULL}, 1, 1, "output 0 ('y'): rank 0, the model takes rank 1 (1000)"},
      {{x, 4000, 1, 1, d999}, out, 1, 1, "input 0 ('x'): dims 999, the model takes 1000"},
      {in, {y, 4000, 1, 1, NULL}, 1, 1, "output 0 ('y'): dims is NULL, the model takes 1000"},
      {{x, 3999, 1, 1, d1000}, out, 1, 1, "input 0 ('x'): buffer of 3999 bytes, needs 4000"},
      {in, {y, -1, 1, 1, d1000}, 1, 1, "output 0 ('y'): buffer of -1 bytes, needs 4000"},
      {in, out, 2, 1, "2 inputs given, the model takes 1"},
      {in, out, 1, 0, "0 outputs given, the model takes 1"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    y[0] = -7;
    cr_assert_eq(onnxc_model_run_tensors(m, &bad[k].in, bad[k].nin, &bad[k].out, bad[k].nout), ONNXC_ERR_ARGUMENT,
                 "case %zu", k);
    cr_assert(strstr(onnxc_model_error(m), bad[k].msg), "case %zu: '%s', expected '%s'", k, onnxc_model_error(m),
              bad[k].msg);
    cr_assert_eq(y[0], -7, "case %zu: nothing ran", k);
    /* the instance is usable again: a good call right after */
    cr_assert_eq(onnxc_model_run_tensors(m, &in, 1, &out, 1), 0, "%s", onnxc_model_error(m));
    cr_assert_str_empty(onnxc_model_error(m));
    for (int i = 0; i < 1000; i++) cr_assert_eq(y[i], 2.0f * (float)i);
  }
  cr_assert_eq(onnxc_model_run_tensors(m, NULL, 1, &out, 1), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(m), "the input array is NULL"), "%s", onnxc_model_error(m));
  cr_assert_eq(onnxc_model_run_tensors(m, &in, 1, NULL, 1), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(m), "the output array is NULL"), "%s", onnxc_model_error(m));
  cr_assert_eq(onnxc_model_run_tensors(NULL, &in, 1, &out, 1), ONNXC_ERR_ARGUMENT);
  /* a larger buffer is fine; a kernel failure names the node */
  out.bytes = sizeof y + 4;
  x[0] = -1;
  cr_assert_eq(onnxc_model_run_tensors(m, &in, 1, &out, 1), ONNXC_ERR_INDEX);
  cr_assert(strstr(onnxc_model_error(m), "node 0 (Mul 'scale')"), "%s", onnxc_model_error(m));
  x[0] = 2;
  cr_assert_eq(onnxc_model_run_tensors(m, &in, 1, &out, 1), 0, "%s", onnxc_model_error(m));
  onnxc_model_destroy(m);
}

/* ---- the pool's parallel-for (runtime/pool.c): every task exactly once, and a thread that is
 * held up hands the rest of its share over ---- */
enum { POOL_STRIDE = 64, POOL_MAXW = 100003 };
static _Atomic int pool_count[POOL_MAXW];
static _Atomic int pool_by[POOL_MAXW]; /* the participant that ran a task */
static char *pool_scratch;
static _Atomic int pool_stolen;        /* a task of the caller's share ran on another participant */
static int pool_hold;                  /* the caller's first task waits for pool_stolen */

static int32_t count_kernel(void *const *bufs, const char *weights, char *scratch, int64_t begin, int64_t end) {
  (void)bufs, (void)weights;
  int idx = (int)((scratch - pool_scratch) / POOL_STRIDE);
  for (int64_t t = begin; t < end; t++) {
    atomic_fetch_add(&pool_count[t], 1);
    atomic_store(&pool_by[t], idx);
    if (pool_hold && idx && t < pool_hold) atomic_store(&pool_stolen, 1);
    if (pool_hold && !idx && t == 0) {
      time_t t0 = time(NULL);
      while (!atomic_load(&pool_stolen) && time(NULL) - t0 < 30) sched_yield();
    }
  }
  return 0;
}

static onnxc_rt pool_rt(int threads) {
  onnxc_rt rt = {0};
  rt.pool = onnxc_pool_create(threads);
  rt.scratch = pool_scratch = calloc((size_t)threads, POOL_STRIDE);
  rt.scratch_stride = POOL_STRIDE;
  return rt;
}

Test(runtime, pool_runs_every_task_once) {
  static const int64_t works[] = {2, 3, 5, 7, 8, 9, 64, 1000, POOL_MAXW};
  for (int threads = 2; threads <= 4; threads++) {
    onnxc_rt rt = pool_rt(threads);
    cr_assert_eq(onnxc_pool_threads(rt.pool), threads);
    for (size_t k = 0; k < sizeof works / sizeof *works; k++) {
      int64_t w = works[k];
      for (int64_t t = 0; t < w; t++) pool_count[t] = 0;
      cr_assert_eq(onnxc_rt_parallel(&rt, count_kernel, NULL, w), 0);
      for (int64_t t = 0; t < w; t++)
        cr_assert_eq(pool_count[t], 1, "threads %d, work %lld: task %lld ran %d times", threads, (long long)w,
                     (long long)t, pool_count[t]);
    }
    onnxc_pool_destroy(rt.pool);
    free(rt.scratch);
  }
}

/* onnxc_rt_phases: phase k's tasks all ran, each once, before any of phase k + 1 starts (a task
 * checks that every task of the previous phase is counted); one thread: a single call */
enum { PH_WIDTH = 3, PH_N = 50 };
static _Atomic int phase_bad, phase_calls;
static int32_t phase_kernel(void *const *bufs, const char *weights, char *scratch, int64_t begin, int64_t end) {
  (void)bufs, (void)weights, (void)scratch;
  atomic_fetch_add(&phase_calls, 1);
  for (int64_t t = begin; t < end; t++) {
    int64_t k = t / PH_WIDTH;
    for (int64_t u = (k - 1) * PH_WIDTH; k > 0 && u < k * PH_WIDTH; u++)
      if (atomic_load(&pool_count[u]) != 1) atomic_store(&phase_bad, 1);
    atomic_fetch_add(&pool_count[t], 1);
  }
  return 0;
}

Test(runtime, phases_run_in_order) {
  for (int threads = 1; threads <= 3; threads++) {
    onnxc_rt rt = pool_rt(threads);
    for (int64_t t = 0; t < PH_N * PH_WIDTH; t++) pool_count[t] = 0;
    phase_bad = phase_calls = 0;
    cr_assert_eq(onnxc_rt_phases(&rt, phase_kernel, NULL, PH_N, PH_WIDTH), 0);
    cr_assert(!atomic_load(&phase_bad), "threads %d: a task ran before the previous phase was done", threads);
    for (int64_t t = 0; t < PH_N * PH_WIDTH; t++) cr_assert_eq(pool_count[t], 1, "task %lld", (long long)t);
    if (threads == 1) cr_assert_eq(phase_calls, 1, "one thread: one call over every phase");
    onnxc_pool_destroy(rt.pool);
    free(rt.scratch);
  }
}

/* the caller's first task waits until another participant has run one of the caller's tasks:
 * with static shares it would wait forever (30 s here); with stealing the worker, done with its
 * own share, takes the back of the caller's */
Test(runtime, pool_steals_from_a_held_up_thread) {
  onnxc_rt rt = pool_rt(2);
  int64_t w = 64; /* shares of 32, taken 8 at a time */
  for (int64_t t = 0; t < w; t++) pool_count[t] = 0;
  pool_hold = 32, pool_stolen = 0;
  cr_assert_eq(onnxc_rt_parallel(&rt, count_kernel, NULL, w), 0);
  pool_hold = 0;
  cr_assert(atomic_load(&pool_stolen), "no task of the held-up caller's share ran on the other thread");
  for (int64_t t = 0; t < w; t++) cr_assert_eq(pool_count[t], 1, "task %lld ran %d times", (long long)t, pool_count[t]);
  cr_assert_eq(pool_by[31], 1, "the back of the caller's share went to the worker");
  onnxc_pool_destroy(rt.pool);
  free(rt.scratch);
}

/* a worker held up outside any job (here: in a signal handler, as if descheduled or not yet awake)
 * must not hold up the caller once the caller has run every task itself: the caller closes the
 * job and returns.  Before, the caller waited for every worker to check in, so the call returned
 * only when the watchdog released the worker after 5 s. */
static int held_pipe[2];
static _Atomic int held_in, held_released;
static pthread_t held_worker;

static void held_handler(int sig) {
  (void)sig;
  char c;
  atomic_store(&held_in, 1);
  while (read(held_pipe[0], &c, 1) < 0 && errno == EINTR) {}
}

static int32_t whose_kernel(void *const *bufs, const char *weights, char *scratch, int64_t begin, int64_t end) {
  (void)bufs, (void)weights, (void)begin, (void)end;
  if (scratch != pool_scratch) held_worker = pthread_self();
  return count_kernel(bufs, weights, scratch, begin, end);
}

static void *held_watchdog(void *arg) {
  (void)arg;
  for (int i = 0; i < 500 && !atomic_load(&held_released); i++) usleep(10000);
  if (!atomic_exchange(&held_released, 1) && write(held_pipe[1], "w", 1) != 1) abort();
  return NULL;
}

Test(runtime, pool_does_not_wait_for_a_held_up_worker) {
  onnxc_rt rt = pool_rt(2);
  cr_assert_eq(pipe(held_pipe), 0);
  struct sigaction sa = {0};
  sa.sa_handler = held_handler;
  cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
  int64_t w = 64;
  pool_hold = 32, pool_stolen = 0; /* the caller waits until the worker ran a task: its thread id */
  cr_assert_eq(onnxc_rt_parallel(&rt, whose_kernel, NULL, w), 0);
  pool_hold = 0;
  cr_assert(atomic_load(&pool_stolen));
  usleep(50000); /* the worker asleep in its condition wait, not holding the pool's mutex */
  cr_assert_eq(pthread_kill(held_worker, SIGUSR1), 0);
  for (time_t t0 = time(NULL); !atomic_load(&held_in) && time(NULL) - t0 < 30;) sched_yield();
  cr_assert(atomic_load(&held_in), "the worker never entered the signal handler");
  pthread_t dog;
  cr_assert_eq(pthread_create(&dog, NULL, held_watchdog, NULL), 0);
  for (int k = 0; k < 3; k++) { /* the first job, and the ones after, while the worker is still held */
    for (int64_t t = 0; t < w; t++) pool_count[t] = 0;
    cr_assert_eq(onnxc_rt_parallel(&rt, count_kernel, NULL, w), 0);
    cr_assert(!atomic_load(&held_released), "call %d returned only after the held-up worker was released", k);
    for (int64_t t = 0; t < w; t++) {
      cr_assert_eq(pool_count[t], 1, "task %lld ran %d times", (long long)t, pool_count[t]);
      cr_assert_eq(pool_by[t], 0, "task %lld ran on the held-up worker", (long long)t);
    }
  }
  if (!atomic_exchange(&held_released, 1)) cr_assert(write(held_pipe[1], "r", 1) == 1);
  pthread_join(dog, NULL);
  for (int k = 0; k < 20; k++) { /* released, it joins later jobs again; every task still runs once */
    for (int64_t t = 0; t < 1000; t++) pool_count[t] = 0;
    cr_assert_eq(onnxc_rt_parallel(&rt, count_kernel, NULL, 1000), 0);
    for (int64_t t = 0; t < 1000; t++) cr_assert_eq(pool_count[t], 1, "task %lld ran %d times", (long long)t, pool_count[t]);
  }
  onnxc_pool_destroy(rt.pool);
  free(rt.scratch);
  close(held_pipe[0]);
  close(held_pipe[1]);
}

/* ---- between jobs a worker spins (a run's kernels come in quick succession), and once a run has
 * returned it sleeps ---- */
static _Atomic long gap_nvcsw = -1; /* the worker's voluntary context switches when it ran task 1 */

static long thread_nvcsw(void) {
  struct rusage u;
  return getrusage(RUSAGE_THREAD, &u) ? -1 : u.ru_nvcsw;
}

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* two tasks: the caller's (0) waits up to a second for the worker's (1), so the worker joins */
static int32_t gap_kernel(void *const *bufs, const char *weights, char *scratch, int64_t begin, int64_t end) {
  (void)bufs, (void)weights;
  int idx = (int)((scratch - pool_scratch) / POOL_STRIDE);
  for (int64_t t = begin; t < end; t++) {
    if (t == 1 && idx) atomic_store(&gap_nvcsw, thread_nvcsw());
    if (t == 0)
      for (int64_t t0 = mono_ns(); atomic_load(&gap_nvcsw) < 0 && mono_ns() - t0 < 1000000000;) sched_yield();
  }
  return 0;
}

static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* jobs 150 us apart (a serial node between two kernels): the worker joins the next without going
 * to sleep.  With a spin of 20,000 loop iterations (5-10 us) it slept in every gap and each job
 * began with a futex wake-up.  Only gaps where the caller kept its core count (a loaded machine
 * deschedules it, and the worker may use up its spin meanwhile): more rounds until 40 are counted;
 * fewer than 8 in 20 s (a machine too loaded to tell): skipped, which the summary shows. */
Test(runtime, pool_worker_spins_between_jobs) {
  onnxc_rt rt = pool_rt(2);
  int slept = 0, clean = 0;
  /* rounds of 40 gaps until 40 clean ones are counted (a loaded machine needs more), for 20 s at most */
  for (int64_t t_end = mono_ns() + 20000000000; clean < 40 && mono_ns() < t_end;) {
    long last = -1;
    for (int k = 0; k < 41; k++) {
      int64_t w0 = mono_ns(), c0 = thread_cpu_ns();
      if (k)
        for (; mono_ns() - w0 < 150000;) {
        }
      atomic_store(&gap_nvcsw, -1);
      cr_assert_eq(onnxc_rt_parallel(&rt, gap_kernel, NULL, 2), 0);
      long v = atomic_load(&gap_nvcsw);
      int64_t lost = (mono_ns() - w0) - (thread_cpu_ns() - c0); /* the caller off its core */
      if (v >= 0 && last >= 0 && lost < 30000) clean++, slept += v > last;
      last = v;
    }
  }
  if (clean < 8) cr_skip_test("a loaded machine: %d gaps in 20 s with the caller on its core", clean);
  cr_assert_lt(slept, clean / 2, "the worker slept in %d of %d gaps of 150 us", slept, clean);
  onnxc_pool_destroy(rt.pool);
  free(rt.scratch);
}

/* the CPU time of the process's threads other than the caller, from /proc/self/task/N/schedstat */
static int64_t others_cpu_ns(void) {
  int64_t sum = 0;
  pid_t self = (pid_t)syscall(SYS_gettid);
  DIR *d = opendir("/proc/self/task");
  cr_assert(d);
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == self) continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
    FILE *f = fopen(path, "r");
    long long ns = 0;
    if (f && fscanf(f, "%lld", &ns) == 1) sum += ns;
    if (f) fclose(f);
  }
  closedir(d);
  return sum;
}

/* after onnxc_model_run returns the worker uses no CPU: over the next 5 ms it spins about 50 us (REST_SPIN_NS,
 * read every SPIN_CHECK turns after SPIN_ITERS, so more under a sanitizer: 248 us once under ASan), then
 * sleeps; without onnxc_pool_rest it would spin for SPIN_NS, half a millisecond of CPU */
Test(runtime, workers_sleep_when_a_run_returns) {
  onnxc_model *m;
  onnxc_options o = {.threads = 2};
  cr_assert_eq(onnxc_model_create(&info, &m, &o), 0);
  int64_t best = INT64_MAX;
  for (int k = 0; k < 5; k++) {
    check_run(m);
    int64_t c0 = others_cpu_ns();
    usleep(5000);
    int64_t used = others_cpu_ns() - c0;
    if (used < best) best = used;
  }
  cr_assert_lt(best, 400000, "the worker used %lld us of CPU in 5 ms after a run", (long long)best / 1000);
  onnxc_model_destroy(m);
}

/* spin off (onnxc_pool_set_spin(p, 0), ORT's allow_spinning = 0): a worker that finishes its share
 * sleeps at once, so jobs 150 us apart (which a spinning worker bridges: pool_worker_spins_between_jobs)
 * find it asleep, one voluntary context switch per gap (spinning: in fewer than half); every task still runs once, and spin on
 * again is what it was */
Test(runtime, pool_spin_off_sleeps_between_jobs) {
  onnxc_rt rt = pool_rt(2);
  onnxc_pool_set_spin(rt.pool, 0);
  int slept = 0, gaps = 0;
  long last = -1;
  for (int k = 0; k < 21; k++) {
    if (k)
      for (int64_t w0 = mono_ns(); mono_ns() - w0 < 150000;) {
      }
    atomic_store(&gap_nvcsw, -1);
    cr_assert_eq(onnxc_rt_parallel(&rt, gap_kernel, NULL, 2), 0);
    long v = atomic_load(&gap_nvcsw);
    cr_assert_geq(v, 0, "the worker ran task 1");
    if (last >= 0) gaps++, slept += v > last;
    last = v;
  }
  /* all of them on an idle machine; a worker descheduled on a loaded one may miss a few */
  cr_assert_geq(slept, gaps * 3 / 4, "with spin off the worker slept in %d of %d gaps of 150 us", slept, gaps);
  for (int on = 0; on <= 1; on++) {
    onnxc_pool_set_spin(rt.pool, on);
    for (int rep = 0; rep < 50; rep++) {
      int64_t w = 2 + rep * 7;
      for (int64_t t = 0; t < w; t++) pool_count[t] = 0;
      cr_assert_eq(onnxc_rt_parallel(&rt, count_kernel, NULL, w), 0);
      for (int64_t t = 0; t < w; t++) cr_assert_eq(pool_count[t], 1, "spin %d, work %lld: task %lld", on, (long long)w, (long long)t);
    }
  }
  onnxc_pool_set_spin(NULL, 0); /* a no-op */
  onnxc_pool_destroy(rt.pool);
  free(rt.scratch);
}

/* a compiled model's spin switch: 0 or 1, anything else refused with a message; runs stay right */
Test(runtime, model_spin_switch) {
  onnxc_model *m;
  onnxc_options o = {.threads = 2};
  cr_assert_eq(onnxc_model_create(&info, &m, &o), 0);
  cr_assert_eq(onnxc_model_set_spin(m, 2), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(m), "spin must be 0 (off) or 1 (on)"), "%s", onnxc_model_error(m));
  cr_assert_eq(onnxc_model_set_spin(NULL, 0), ONNXC_ERR_ARGUMENT);
  cr_assert_eq(onnxc_model_set_spin(m, 0), ONNXC_OK);
  for (int k = 0; k < 3; k++) check_run(m);
  cr_assert_eq(onnxc_model_set_spin(m, 1), ONNXC_OK);
  check_run(m);
  onnxc_model_destroy(m);
}

/* affinity: with ONNXC_POOL_AFFINITY=1 a 2-thread pool pins its worker to one CPU, not the one
 * its creator ran on; by default, or in a process allowed fewer CPUs than threads, the worker
 * keeps the process's CPUs.  The worker reports its mask from inside a task (gap_kernel's hand-off makes
 * sure it runs task 1). */
static _Atomic int aff_count = -1, aff_cpu = -1;

static int32_t aff_kernel(void *const *bufs, const char *weights, char *scratch, int64_t begin, int64_t end) {
  (void)bufs, (void)weights;
  int idx = (int)((scratch - pool_scratch) / POOL_STRIDE);
  for (int64_t t = begin; t < end; t++) {
    if (t == 1 && idx) {
      cpu_set_t s;
      if (!sched_getaffinity(0, sizeof s, &s)) {
        for (int c = 0; c < CPU_SETSIZE; c++)
          if (CPU_ISSET(c, &s)) atomic_store(&aff_cpu, c);
        atomic_store(&aff_count, CPU_COUNT(&s));
      }
    }
    if (t == 0)
      for (int64_t t0 = mono_ns(); atomic_load(&aff_count) < 0 && mono_ns() - t0 < 1000000000;) sched_yield();
  }
  return 0;
}

static int worker_cpus(int *cpu) {
  onnxc_rt rt = pool_rt(2);
  atomic_store(&aff_count, -1);
  cr_assert_eq(onnxc_rt_parallel(&rt, aff_kernel, NULL, 2), 0);
  onnxc_pool_destroy(rt.pool);
  free(rt.scratch);
  *cpu = atomic_load(&aff_cpu);
  return atomic_load(&aff_count);
}

Test(runtime, pool_pins_workers_on_request) {
  cpu_set_t all, one;
  cr_assert_eq(sched_getaffinity(0, sizeof all, &all), 0);
  int n = CPU_COUNT(&all), cpu;
  if (n < 2) cr_skip_test("one CPU: nothing to pin");
  /* the creator held on one CPU, so "not the creator's" is well defined */
  int mine = -1;
  for (int c = 0; c < CPU_SETSIZE && mine < 0; c++)
    if (CPU_ISSET(c, &all)) mine = c;
  CPU_ZERO(&one);
  CPU_SET(mine, &one);
  cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
  setenv("ONNXC_POOL_AFFINITY", "1", 1);
  /* allowed one CPU, two threads: not pinned (it inherits the creator's single CPU) */
  cr_assert_eq(worker_cpus(&cpu), 1);
  cr_assert_eq(cpu, mine);
  cr_assert_eq(sched_setaffinity(0, sizeof all, &all), 0);
  int creator = sched_getcpu();
  int got = worker_cpus(&cpu);
  cr_assert_eq(got, 1, "the worker may run on %d CPUs, not one", got);
  cr_assert(CPU_ISSET(cpu, &all));
  cr_assert_neq(cpu, creator, "the worker is pinned to the creator's CPU %d", creator);
  setenv("ONNXC_POOL_AFFINITY", "0", 1);
  cr_assert_eq(worker_cpus(&cpu), n, "ONNXC_POOL_AFFINITY=0: the worker keeps the process's CPUs");
  unsetenv("ONNXC_POOL_AFFINITY");
  cr_assert_eq(worker_cpus(&cpu), n, "by default the worker keeps the process's CPUs");
}
