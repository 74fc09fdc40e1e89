/* check.h — what the standalone C test programs share (tests/aot/driver.c, multishape.c,
 * rtcheck.c, tests/runtime/cancel_api.c, stop_check.c): a check counter, CHECK, a raw-file
 * reader and (with _POSIX_C_SOURCE) a monotonic clock.  Header-only and included by relative path, because the test
 * scripts compile those programs with a bare `cc` against a model's NAME.h. */
#ifndef ONNXC_TEST_CHECK_H
#define ONNXC_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int failures, checks;

/* counts the check; on failure prints "FAIL: <printf message>" and counts the failure */
#define CHECK(cond, ...)            \
  do {                              \
    checks++;                       \
    if (!(cond)) {                  \
      printf("FAIL: " __VA_ARGS__); \
      printf("\n");                 \
      failures++;                   \
    }                               \
  } while (0)

/* exactly `bytes` bytes of `path` in a new buffer; a short or missing file fails the program */
static inline void *check_read_file(const char *path, size_t bytes) {
  FILE *f = fopen(path, "rb");
  void *p = malloc(bytes ? bytes : 1);
  if (!f || !p || fread(p, 1, bytes, f) != bytes) {
    printf("FAIL: cannot read %zu bytes from %s\n", bytes, path);
    exit(1);
  }
  fclose(f);
  return p;
}

#ifdef CLOCK_MONOTONIC /* programs that define _POSIX_C_SOURCE before their includes */
static inline double check_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
#endif

#endif
