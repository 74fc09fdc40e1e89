/* stop_check.c — run deadlines and cancellation of a compiled model, written only against its
 * NAME.h (the loop model of tests/runtime/models.py: y = x + 1 repeated while y < limit, up to
 * 2^62 times):
 *
 *   cc -DMODEL=NAME -DMODEL_H='"NAME.h"' stop_check.c -L. -lNAME -lpthread
 *
 * A create option max_run_time stops an endless run with ONNXC_ERR_CANCELLED naming the bound;
 * NAME_cancel from another thread stops one; after each the same instance runs a short loop
 * correctly; bad deadlines are refused; NAME_set_spin switches the workers' spinning.  Prints one line per failed check; exits 0 only if all pass. */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/check.h"

#include MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(MODEL, x)

typedef struct Run {
  MODEL *m;
  float x, limit, y;
  int rc;
  double secs;
} Run;

static void *run(void *arg) {
  Run *r = arg;
  const void *in[2] = {&r->x, &r->limit};
  void *out[1] = {&r->y};
  double t = check_now_s();
  r->rc = FN(_run)(r->m, in, out);
  r->secs = check_now_s() - t;
  return NULL;
}

/* a short loop right after a stop: the instance is usable and right */
static void check_usable(MODEL *m, const char *after) {
  Run r = {m, 0, 10, -1, -1, 0};
  run(&r);
  CHECK(r.rc == 0 && r.y == 10, "after %s: a loop to 10 gave rc %d y %g: %s", after, r.rc, r.y, FN(_error)(m));
}

int main(void) {
  MODEL *m;
  /* a deadline given at create */
  onnxc_options o = {.threads = 1, .max_run_time = 0.3};
  int rc = FN(_create)(&m, &o);
  CHECK(rc == 0, "create with max_run_time 0.3: %d %s", rc, FN(_error)(NULL));
  if (rc) return printf("%d checks, %d failures\n", checks, failures), 1;
  Run r = {m, 0, 1e30f, 0, -1, 0};
  run(&r);
  CHECK(r.rc == ONNXC_ERR_CANCELLED, "endless loop with max_run_time 0.3: rc %d (%s)", r.rc, FN(_error)(m));
  CHECK(r.secs < 2.0, "stopped after %.2f s, the bound was 0.3 s", r.secs);
  CHECK(strstr(FN(_error)(m), "max run time of 0.3 s") != NULL, "message names the bound: %s", FN(_error)(m));
  CHECK(strstr(FN(_error)(m), "Loop") != NULL, "message names the node: %s", FN(_error)(m));
  check_usable(m, "the deadline");
  /* no bound: cancelled from another thread */
  CHECK(FN(_set_max_run_time)(m, 0) == 0, "set_max_run_time 0");
  CHECK(FN(_set_max_run_time)(m, -1) == ONNXC_ERR_ARGUMENT, "set_max_run_time -1 is refused");
  Run bg = {m, 0, 1e30f, 0, -1, 0};
  pthread_t th;
  pthread_create(&th, NULL, run, &bg);
  usleep(300 * 1000);
  double t = check_now_s();
  FN(_cancel)(m);
  pthread_join(th, NULL);
  double lag = check_now_s() - t;
  CHECK(bg.rc == ONNXC_ERR_CANCELLED, "cancel from another thread: rc %d (%s)", bg.rc, FN(_error)(m));
  CHECK(bg.secs >= 0.25, "the run was in progress when cancelled (it took %.2f s)", bg.secs);
  CHECK(lag < 1.0, "the run stopped %.2f s after the cancel", lag);
  CHECK(strstr(FN(_error)(m), "cancelled") != NULL, "message says cancelled: %s", FN(_error)(m));
  check_usable(m, "the cancel");
  check_usable(m, "a good run"); /* a cancel no longer pending does not stop later runs */
  FN(_destroy)(m);
  /* workers that sleep as soon as they have no work (NAME_set_spin(m, 0)): runs stay right */
  onnxc_options two = {.threads = 2};
  rc = FN(_create)(&m, &two);
  CHECK(rc == 0, "create with 2 threads: %d %s", rc, FN(_error)(NULL));
  if (!rc) {
    CHECK(FN(_set_spin)(m, 2) == ONNXC_ERR_ARGUMENT, "set_spin 2 is refused");
    CHECK(strstr(FN(_error)(m), "spin") != NULL, "the message names spin: %s", FN(_error)(m));
    CHECK(FN(_set_spin)(m, 0) == 0, "set_spin 0");
    check_usable(m, "spin off");
    check_usable(m, "spin off, a second run");
    CHECK(FN(_set_spin)(m, 1) == 0, "set_spin 1");
    check_usable(m, "spin on again");
    FN(_destroy)(m);
  }
  /* a bad option */
  onnxc_options bad = {.max_run_time = -2};
  MODEL *m2 = NULL;
  rc = FN(_create)(&m2, &bad);
  CHECK(rc == ONNXC_ERR_ARGUMENT && !m2, "create with max_run_time -2: rc %d", rc);
  CHECK(strstr(FN(_error)(NULL), "max_run_time") != NULL, "create message names max_run_time: %s", FN(_error)(NULL));
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
