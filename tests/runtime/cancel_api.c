/* cancel_api.c — run deadlines and cancellation through libonnxc (include/onnxc.h), on the loop
 * model of tests/runtime/models.py (y = x + 1 repeated while y < limit, up to 2^62 times):
 *
 *   cancel_api MODEL.onnx FREE.onnx
 *
 * (FREE.onnx: the same with x's dim free, run by a session keeping variants per shape: a cancel or
 * max run time of the session reaches the variant running.)
 * A session cancelled from another thread mid-run returns ONNXC_ERR_CANCELLED and then runs again
 * correctly; a max run time stops an endless run naming the bound; the setters refuse bad values.
 * Prints one line per failed check; exits 0 only if all pass. */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/check.h"

#include "onnxc.h"

typedef struct Run {
  onnxc_session *s;
  float x, limit, y;
  int rc;
  double secs;
} Run;

static void *run(void *arg) {
  Run *r = arg;
  int64_t one = 1;
  onnxc_tensor in[2] = {{&r->x, 4, ONNXC_DT_FLOAT, 1, &one}, {&r->limit, 4, ONNXC_DT_FLOAT, 1, &one}};
  onnxc_tensor out[1] = {{&r->y, 4, ONNXC_DT_FLOAT, 1, &one}};
  double t = check_now_s();
  r->rc = onnxc_session_run(r->s, in, 2, out, 1);
  r->secs = check_now_s() - t;
  return NULL;
}

static void check_usable(onnxc_session *s, const char *after) {
  Run r = {s, 0, 10, -1, -1, 0};
  run(&r);
  CHECK(r.rc == 0 && r.y == 10, "after %s: a loop to 10 gave rc %d y %g: %s", after, r.rc, r.y, onnxc_session_error(s));
}

/* cancel a run from another thread once it has run for a while, then run again */
static void check_cancel(onnxc_session *s, const char *when) {
  Run bg = {s, 0, 1e30f, 0, -1, 0};
  pthread_t th;
  pthread_create(&th, NULL, run, &bg);
  usleep(400 * 1000);
  double t = check_now_s();
  CHECK(onnxc_session_cancel(s) == ONNXC_OK, "cancel returns ok");
  pthread_join(th, NULL);
  double lag = check_now_s() - t;
  CHECK(bg.rc == ONNXC_ERR_CANCELLED, "%s: cancel from another thread: rc %d (%s)", when, bg.rc, onnxc_session_error(s));
  CHECK(lag < 1.0, "%s: the run stopped %.2f s after the cancel", when, lag);
  CHECK(strstr(onnxc_session_error(s), "cancelled") && strstr(onnxc_session_error(s), "Loop"),
        "%s: the message says cancelled and names the node: %s", when, onnxc_session_error(s));
  CHECK(!strcmp(onnxc_status_string(ONNXC_ERR_CANCELLED), "run cancelled or past its max run time"),
        "status string: %s", onnxc_status_string(ONNXC_ERR_CANCELLED));
  check_usable(s, "the cancel");
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: cancel_api MODEL.onnx FREE.onnx\n"), 2;
  onnxc_session_options *o;
  onnxc_options_create(&o);
  onnxc_options_set_threads(o, 1);
  CHECK(onnxc_options_set_max_run_time(o, -1) == ONNXC_ERR_ARGUMENT, "options: max run time -1 is refused");
  onnxc_session *s;
  int rc = onnxc_session_create_from_file(argv[1], o, &s);
  CHECK(rc == 0, "create: %s", onnxc_session_error(s));
  if (rc) return printf("%d checks, %d failures\n", checks, failures), 1;
  /* the first run compiles; the cancel comes while the compiled code loops */
  check_cancel(s, "first run");
  check_cancel(s, "a later run");
  check_usable(s, "runs without a cancel"); /* an earlier cancel does not stop later runs */
  /* a max run time */
  CHECK(onnxc_session_set_max_run_time(s, 0.3) == ONNXC_OK, "set max run time 0.3");
  CHECK(onnxc_session_set_max_run_time(s, -0.5) == ONNXC_ERR_ARGUMENT, "set max run time -0.5 is refused");
  Run r = {s, 0, 1e30f, 0, -1, 0};
  run(&r);
  CHECK(r.rc == ONNXC_ERR_CANCELLED && r.secs < 2.0, "max run time 0.3 s: rc %d after %.2f s (%s)", r.rc, r.secs,
        onnxc_session_error(s));
  CHECK(strstr(onnxc_session_error(s), "max run time of 0.3 s") != NULL, "the message names the bound: %s",
        onnxc_session_error(s));
  check_usable(s, "the deadline");
  onnxc_session_free(s);
  /* the option given at create */
  onnxc_options_set_max_run_time(o, 0.2);
  rc = onnxc_session_create_from_file(argv[1], o, &s);
  r = (Run){s, 0, 1e30f, 0, -1, 0};
  run(&r);
  CHECK(rc == 0 && r.rc == ONNXC_ERR_CANCELLED, "options max run time 0.2: rc %d (%s)", r.rc, onnxc_session_error(s));
  check_usable(s, "the deadline from the options");
  onnxc_session_free(s);
  /* free dims: the run goes to a compiled variant, which the session's cancel and bound reach */
  onnxc_options_set_max_run_time(o, 0);
  onnxc_options_set_max_variants(o, 2);
  rc = onnxc_session_create_from_file(argv[2], o, &s);
  CHECK(rc == 0, "create (free dims): %s", onnxc_session_error(s));
  if (!rc) {
    check_cancel(s, "a variant's first run");
    check_cancel(s, "a variant's later run");
    CHECK(onnxc_session_num_variants(s) == 1, "one variant compiled: %d", onnxc_session_num_variants(s));
    onnxc_session_set_max_run_time(s, 0.2);
    r = (Run){s, 0, 1e30f, 0, -1, 0};
    run(&r);
    CHECK(r.rc == ONNXC_ERR_CANCELLED && strstr(onnxc_session_error(s), "max run time of 0.2 s"),
          "a variant under the session's max run time 0.2: rc %d (%s)", r.rc, onnxc_session_error(s));
    check_usable(s, "a variant's deadline");
  }
  onnxc_session_free(s);
  onnxc_options_free(o);
  printf("%d checks, %d failures\n", checks, failures);
  return failures != 0;
}
