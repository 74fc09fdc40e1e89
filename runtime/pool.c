/* pool.c — persistent thread pool and the parallel-for used by generated code.
 *
 * A job is published by a new generation in `job`; workers spin on it for up to SPIN_NS (kernels
 * come in quick succession during a run) and then sleep on a condition variable; once a run has
 * returned (onnxc_pool_rest) they sleep after REST_SPIN_NS, so an idle instance uses no CPU.
 * onnxc_pool_set_spin(p, 0) (as ORT's allow_spinning = 0: for a process that shares its cores)
 * makes a worker sleep as soon as it finds no job: no CPU burnt between kernels, but each kernel
 * then begins with a futex wake-up that the caller does not wait for.  Each participant starts on
 * its static share of [0, work) and takes it from the front (a small share in one call, a larger
 * one in a few chunks); one that runs out takes half of what is left of another's share from the
 * back (both through one CAS on the share's packed [next, end) word).  So a thread that is slower
 * (a task costlier than its neighbours, a core shared with other processes, a late wake-up) hands
 * work over instead of making the others wait at the kernel's end, and a balanced kernel is still
 * a handful of contiguous calls per thread (kernels amortize a packing or a transform over a
 * call's consecutive tasks).
 * A worker joins a job through one CAS on `job` (generation, closed bit, count of participants
 * inside); the caller, once every share is empty, closes the job and waits only for the workers
 * inside it.  So a worker still asleep (a futex wake-up takes tens of microseconds, more on a
 * virtual CPU) or descheduled when the caller has done all the tasks costs the caller nothing:
 * it skips the closed job and joins the next one.  Without this every kernel call waited for
 * every worker to wake up and check in, even with nothing left to do.
 * ONNXC_POOL_STATIC=1 in the environment (read when the pool is made) turns stealing off; each
 * static share then has to run on its owner, so the caller waits for every worker.
 * ONNXC_POOL_AFFINITY=1 (Linux; read when the pool is made): when the process may run on at least
 * as many CPUs as the pool has threads, each worker is pinned to its own CPU, none on the one the
 * creating thread runs on (the caller is left free: it is the user's thread).  Every job waits
 * for its slowest participant, and 2-thread speed-ups at normal priority were well below those
 * under chrt -f (where the real-time scheduler pushes a second runnable thread to the free CPU at
 * once); this guest kernel also packs tasks onto fewer vCPUs (sched_vcpu_pack), which affinity
 * overrides.  Off by default: on the idle machine, normal priority, ResNet-50 at 2 threads read
 * medians 23.1-24.0 ms pinned and 23.6-24.0 free (4 alternating pairs), within noise; and a pinned
 * worker cannot leave its CPU when something else holds it (another process's real-time thread there starved one
 * for minutes; unpinned it would have run on the other CPU). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* CPU_SET, pthread_attr_setaffinity_np, sched_getcpu */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnxc_rt.h"

#define SPIN_ITERS 20000 /* a worker's first spin without reading the clock (5-10 us); the caller's
                            wait for workers inside a job, before it yields */
/* A worker's spin between jobs, in its own CPU time (a worker descheduled on a loaded machine
 * keeps its budget): within a run it waits out a kernel's uneven end or a serial node.  An
 * iteration count of 20,000 was 5-10 us: ResNet-50 at 2 threads slept and was woken by a futex
 * call ~40 times per run, each wake-up tens of us (more on an idle virtual CPU) during which the
 * caller ran the worker's share alone. */
#define SPIN_NS 500000
/* after a run has returned (onnxc_pool_rest): runs back to back (a benchmark, a stream of
 * inputs) still find the worker awake, an idle instance stops using CPU within 50 us */
#define REST_SPIN_NS 50000
#define SPIN_CHECK 4096 /* loop iterations between clock reads, after the first SPIN_ITERS */
#define JOB_CLOSED ((uint64_t)1 << 31)
#define JOB_INSIDE (JOB_CLOSED - 1)
#define SHARE_CHUNKS 4 /* an owner takes a share of more than SHARE_WHOLE tasks in about this many calls */
#define SHARE_WHOLE 8  /* and a smaller one in one call: few coarse tasks often amortize a transform
                          or a packing over consecutive tasks (gen_winograd.c's panel groups of one
                          tile block); a late owner's share can still be taken before it starts */

struct onnxc_pool {
  int n; /* participants, including the caller */
  pthread_t *threads;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  _Atomic uint64_t job; /* generation << 32 | JOB_CLOSED | participants inside (the caller excluded) */
  _Atomic int done;     /* static shares: workers finished with the job */
  _Atomic int32_t status;
  _Atomic int sleepers;
  _Atomic int stop;
  _Atomic int rest; /* the run has returned: workers spin only REST_SPIN_NS (onnxc_pool_rest) */
  _Atomic int nospin; /* onnxc_pool_set_spin(p, 0): a worker with no job sleeps at once */
  /* current job */
  onnxc_kernel_fn fn;
  void *const *bufs;
  const char *weights;
  char *scratch;
  int64_t stride, work;
  int64_t base;       /* fn sees [base + lo, base + hi): a phase of onnxc_rt_phases */
  int timed;          /* a profiled run: each share's CPU time into share_ns[idx] */
  int64_t *share_ns;  /* n entries */
  int steal;          /* the job's shares are claimed through `range` (else static) */
  int64_t chunk;      /* the owner's chunk */
  int no_steal;       /* ONNXC_POOL_STATIC */
  _Atomic uint64_t *range; /* n entries: a share's [next, end) as next << 32 | end */
};

typedef struct {
  onnxc_pool *p;
  int idx;
} WorkerArg;

const char *onnxc_status_str(int s) {
  switch (s) {
  case ONNXC_OK: return "ok";
  case ONNXC_ERR_ARGUMENT: return "invalid argument";
  case ONNXC_ERR_NOMEM: return "out of memory";
  case ONNXC_ERR_INDEX: return "index out of range";
  case ONNXC_ERR_IO: return "weights file missing or malformed";
  case ONNXC_ERR_CANCELLED: return "run cancelled or past its max run time";
  case ONNXC_ERR_BOUND: return "input values ask for more work than the kernel's bound";
  default: return "internal error";
  }
}

int onnxc_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void run_part(onnxc_pool *p, int idx, int64_t lo, int64_t hi) {
  int32_t s = p->fn(p->bufs, p->weights, p->scratch + p->stride * idx, p->base + lo, p->base + hi);
  if (s) {
    int32_t zero = 0;
    atomic_compare_exchange_strong(&p->status, &zero, s);
  }
}

/* claims [lo, hi) of share j: its owner from the front, up to `chunk`; another participant half
 * of what is left, from the back.  0 when the share is empty. */
static int claim(onnxc_pool *p, int j, int own, int64_t *lo, int64_t *hi) {
  uint64_t r = atomic_load_explicit(&p->range[j], memory_order_relaxed);
  for (;;) {
    int64_t next = (int64_t)(r >> 32), end = (int64_t)(r & 0xffffffffu), left = end - next;
    if (left <= 0) return 0;
    int64_t take = own ? (left < p->chunk ? left : p->chunk) : (left + 1) / 2;
    uint64_t nr = own ? (uint64_t)(next + take) << 32 | (uint64_t)end : (uint64_t)next << 32 | (uint64_t)(end - take);
    if (atomic_compare_exchange_weak_explicit(&p->range[j], &r, nr, memory_order_acq_rel, memory_order_relaxed)) {
      *lo = own ? next : end - take;
      *hi = own ? next + take : end;
      return 1;
    }
  }
}

static void run_steal(onnxc_pool *p, int idx) {
  int64_t lo, hi;
  while (claim(p, idx, 1, &lo, &hi)) run_part(p, idx, lo, hi);
  for (int k = 1; k < p->n; k++) {
    int j = (idx + k) % p->n;
    while (claim(p, j, 0, &lo, &hi)) run_part(p, idx, lo, hi);
  }
}

static void run_share(onnxc_pool *p, int idx) {
  int64_t t0 = p->timed ? onnxc_prof_thread_cpu_ns() : 0;
  if (p->steal) run_steal(p, idx);
  else {
    int64_t lo = p->work * idx / p->n, hi = p->work * (idx + 1) / p->n;
    if (lo < hi) run_part(p, idx, lo, hi);
  }
  if (p->timed) p->share_ns[idx] = onnxc_prof_thread_cpu_ns() - t0;
}

static uint64_t job_gen(onnxc_pool *p) { return atomic_load_explicit(&p->job, memory_order_acquire) >> 32; }

/* enters the job of generation `gen` unless the caller has closed it (or already published the
 * next one); acquire: the job's fields, written before it was published, are then visible */
static int job_join(onnxc_pool *p, uint64_t gen) {
  uint64_t s = atomic_load_explicit(&p->job, memory_order_acquire);
  while (s >> 32 == gen && !(s & JOB_CLOSED))
    if (atomic_compare_exchange_weak_explicit(&p->job, &s, s + 1, memory_order_acq_rel, memory_order_acquire))
      return 1;
  return 0;
}

static void *worker(void *arg) {
  WorkerArg *wa = arg;
  onnxc_pool *p = wa->p;
  int idx = wa->idx;
  free(wa);
  uint64_t seen = 0;
  for (;;) {
    uint64_t g;
    int spins = 0;
    int64_t t0 = 0;
    while ((g = job_gen(p)) == seen && !atomic_load(&p->stop)) {
      if (!atomic_load_explicit(&p->nospin, memory_order_relaxed)) {
        if (++spins < SPIN_ITERS || spins % SPIN_CHECK) continue; /* the clock read is a system call */
        if (!t0) t0 = onnxc_prof_thread_cpu_ns();
        if (onnxc_prof_thread_cpu_ns() - t0 <
            (atomic_load_explicit(&p->rest, memory_order_relaxed) ? REST_SPIN_NS : SPIN_NS))
          continue;
      }
      pthread_mutex_lock(&p->mu);
      atomic_fetch_add(&p->sleepers, 1);
      while (job_gen(p) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
      atomic_fetch_sub(&p->sleepers, 1);
      pthread_mutex_unlock(&p->mu);
      spins = 0;
      t0 = 0;
    }
    if (atomic_load(&p->stop)) return NULL;
    seen = g;
    if (!job_join(p, g)) continue; /* done without us: wait for the next one */
    int counted = !p->steal; /* read before leaving: the caller may publish the next job after */
    run_share(p, idx);
    atomic_fetch_sub_explicit(&p->job, 1, memory_order_release); /* leave */
    if (counted) atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
  }
}

/* the CPU for each worker (cpus[1..n-1]), or 0 when they stay free: ONNXC_POOL_AFFINITY is not
 * 1, or the process may use fewer CPUs than there are threads */
static int pool_cpus(int n, int *cpus) {
#ifdef __linux__
  const char *e = getenv("ONNXC_POOL_AFFINITY");
  if (!e || strcmp(e, "1")) return 0;
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) || CPU_COUNT(&allowed) < n) return 0;
  int self = sched_getcpu(), k = 1;
  for (int c = 0; c < CPU_SETSIZE && k < n; c++)
    if (CPU_ISSET(c, &allowed) && c != self) cpus[k++] = c;
  return k == n;
#else
  (void)n, (void)cpus;
  return 0;
#endif
}

onnxc_pool *onnxc_pool_create(int threads) {
  if (threads <= 0) threads = onnxc_cpu_count();
  if (threads > 256) threads = 256;
  onnxc_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->n = threads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  p->threads = calloc((size_t)threads, sizeof(pthread_t));
  p->share_ns = calloc((size_t)threads, sizeof *p->share_ns);
  p->range = calloc((size_t)threads, sizeof *p->range);
  const char *st = getenv("ONNXC_POOL_STATIC");
  p->no_steal = st && *st && *st != '0';
  if (!p->threads || !p->share_ns || !p->range) {
    free(p->threads);
    free(p->share_ns);
    free((void *)p->range);
    free(p);
    return NULL;
  }
  int *cpus = threads > 1 ? malloc((size_t)threads * sizeof *cpus) : NULL;
  int pin = cpus && pool_cpus(threads, cpus);
  for (int i = 1; i < threads; i++) {
    WorkerArg *wa = malloc(sizeof *wa);
    pthread_attr_t attr, *ap = NULL;
#ifdef __linux__
    if (pin && !pthread_attr_init(&attr)) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpus[i], &one);
      ap = &attr;
      if (pthread_attr_setaffinity_np(ap, sizeof one, &one)) pthread_attr_destroy(ap), ap = NULL;
    }
#else
    (void)attr;
#endif
    int failed = !wa || pthread_create(&p->threads[i], ap, worker, (wa->p = p, wa->idx = i, wa));
    if (failed && wa && ap) failed = pthread_create(&p->threads[i], NULL, worker, wa); /* a refused CPU: free */
    if (ap) pthread_attr_destroy(ap);
    if (failed) {
      free(wa);
      p->n = i; /* run with the threads we got */
      break;
    }
  }
  free(cpus);
  return p;
}

void onnxc_pool_destroy(onnxc_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, 1);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p->threads);
  free(p->share_ns);
  free((void *)p->range);
  free(p);
}

int onnxc_pool_threads(const onnxc_pool *p) { return p ? p->n : 1; }

void onnxc_pool_rest(onnxc_pool *p) {
  if (p) atomic_store_explicit(&p->rest, 1, memory_order_relaxed);
}

void onnxc_pool_set_spin(onnxc_pool *p, int on) {
  if (p) atomic_store_explicit(&p->nospin, !on, memory_order_relaxed);
}

/* a profiled run: how the call split, for the node's CPU time and critical path (runtime/prof.c) */
static void pool_report(onnxc_pool *p, onnxc_prof *prof, int64_t caller_t0) {
  int64_t sum = 0, max = 0;
  for (int i = 0; i < p->n; i++) {
    sum += p->share_ns[i];
    if (p->share_ns[i] > max) max = p->share_ns[i];
  }
  onnxc_prof_parallel(prof, onnxc_prof_thread_cpu_ns() - caller_t0, sum, max, p->work);
}

/* the caller's share is done.  Stealing: every share is empty (the caller took what was left of
 * the others'), so the job is closed and only workers already inside it are waited for.  Static
 * shares: every worker has to run its own. */
static void pool_finish(onnxc_pool *p) {
  int spins = 0;
  if (!p->steal)
    while (atomic_load_explicit(&p->done, memory_order_acquire) < p->n - 1)
      if (++spins > SPIN_ITERS) sched_yield();
  uint64_t s = atomic_fetch_or(&p->job, JOB_CLOSED);
  while ((s & JOB_INSIDE) != 0) {
    if (++spins > SPIN_ITERS) sched_yield();
    s = atomic_load_explicit(&p->job, memory_order_acquire);
  }
}

/* one job over [base, base + work) */
static int32_t pool_run(onnxc_rt *rt, onnxc_kernel_fn fn, void *const *bufs, int64_t base, int64_t work) {
  int32_t stop = onnxc_rt_check(rt); /* a cancel or the deadline stops the run before the next kernel */
  if (stop) return stop;
  onnxc_pool *p = rt->pool;
  if (!p || p->n == 1 || work <= 1) return fn(bufs, rt->weights, rt->scratch, base, base + work);
  int64_t caller_t0 = rt->prof ? onnxc_prof_thread_cpu_ns() : 0;
  p->fn = fn;
  p->bufs = bufs;
  p->weights = rt->weights;
  p->scratch = rt->scratch;
  p->stride = rt->scratch_stride;
  p->work = work;
  p->base = base;
  p->timed = rt->prof != NULL;
  p->steal = !p->no_steal && work < ((int64_t)1 << 31);
  if (p->steal) { /* the static shares, each to be taken in SHARE_CHUNKS calls */
    int64_t share = (work + p->n - 1) / p->n;
    p->chunk = share <= SHARE_WHOLE ? share : (share + SHARE_CHUNKS - 1) / SHARE_CHUNKS;
    if (p->chunk < 1) p->chunk = 1;
    for (int i = 0; i < p->n; i++)
      atomic_store_explicit(&p->range[i], (uint64_t)(work * i / p->n) << 32 | (uint64_t)(work * (i + 1) / p->n),
                            memory_order_relaxed);
  }
  atomic_store(&p->status, 0);
  atomic_store(&p->done, 0);
  if (atomic_load_explicit(&p->rest, memory_order_relaxed)) atomic_store_explicit(&p->rest, 0, memory_order_relaxed);
  if (p->timed)
    for (int i = 1; i < p->n; i++) p->share_ns[i] = 0; /* a worker that does not join runs nothing */
  uint64_t gen = (atomic_load(&p->job) >> 32) + 1;
  atomic_store(&p->job, gen << 32); /* seq_cst: a worker going to sleep either sees this or is counted in sleepers */
  if (atomic_load(&p->sleepers)) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
  run_share(p, 0);
  pool_finish(p);
  if (p->timed) pool_report(p, rt->prof, caller_t0);
  return atomic_load(&p->status);
}

int32_t onnxc_rt_parallel(onnxc_rt *rt, onnxc_kernel_fn fn, void *const *bufs, int64_t work) {
  return pool_run(rt, fn, bufs, 0, work);
}

/* Phases are jobs one after another (a job's end is the barrier).  Participant i starts on the
 * same static share of every phase, so a kernel whose phase-p task k touches the same data as
 * its task k of phase p-1 finds it in that core's cache; a late participant's task is still
 * taken by another, so nothing a task keeps between phases may live in per-thread scratch.
 * One thread: one call over every phase, which the kernel may run as it likes in order. */
int32_t onnxc_rt_phases(onnxc_rt *rt, onnxc_kernel_fn fn, void *const *bufs, int64_t phases, int64_t width) {
  onnxc_pool *p = rt->pool;
  if (!p || p->n == 1 || width <= 1) return pool_run(rt, fn, bufs, 0, phases * width);
  for (int64_t k = 0; k < phases; k++) {
    int32_t st = pool_run(rt, fn, bufs, k * width, width);
    if (st) return st;
  }
  return 0;
}
