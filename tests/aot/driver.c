/* driver.c — a program written only against a compiled model's NAME.h (and linked with its
 * library): runs the model on raw input files, checks the ABI's error paths, and runs two
 * instances concurrently on two threads, requiring identical outputs.
 *
 *   cc -DMODEL=NAME -DMODEL_H='"NAME.h"' driver.c -L. -lNAME -lpthread
 *   ./driver DIR [threads] [weights-file]   reads DIR/input_K.bin, writes DIR/output_K.bin
 * Prints one line per failed check; exits 0 only if all pass. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"

#include MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(MODEL, x)
#define MODEL_T MODEL
#define INFO FN(_info)

typedef struct Job {
  MODEL_T *m;
  const void *in[64];
  void *out[64];
  int runs, status;
} Job;

static void *run_job(void *arg) {
  Job *j = arg;
  for (int r = 0; r < j->runs && !j->status; r++) j->status = FN(_run)(j->m, j->in, j->out);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *dir = argv[1];
  onnxc_options opts = {.threads = argc > 2 ? atoi(argv[2]) : 1, .weights_path = argc > 3 ? argv[3] : NULL};
  char path[4096];
  int nin = FN(_NUM_INPUTS), nout = FN(_NUM_OUTPUTS);
  CHECK(nin == INFO.num_inputs && nout == INFO.num_outputs, "header and descriptor disagree");
  Job a = {.runs = 3}, b = {.runs = 3};
  for (int i = 0; i < nin; i++) {
    snprintf(path, sizeof path, "%s/input_%d.bin", dir, i);
    a.in[i] = b.in[i] = check_read_file(path, (size_t)INFO.inputs[i].bytes);
  }
  for (int i = 0; i < nout; i++) {
    a.out[i] = calloc(1, (size_t)INFO.outputs[i].bytes + 1);
    b.out[i] = calloc(1, (size_t)INFO.outputs[i].bytes + 1);
  }

  /* error paths: status codes and messages, never a crash */
  CHECK(FN(_create)(NULL, &opts) == ONNXC_ERR_ARGUMENT, "create(NULL) must fail with ONNXC_ERR_ARGUMENT");
  CHECK(strlen(FN(_error)(NULL)) > 0, "no message for a failed create");
  onnxc_options bad = {.threads = -1};
  MODEL_T *m = (MODEL_T *)&a;
  CHECK(FN(_create)(&m, &bad) == ONNXC_ERR_ARGUMENT && !m, "threads = -1 must fail and clear *out");
  if (opts.weights_path) {
    onnxc_options nofile = {.threads = 1, .weights_path = "/nonexistent/weights.bin"};
    CHECK(FN(_create)(&m, &nofile) == ONNXC_ERR_IO, "a missing weights file must give ONNXC_ERR_IO");
    CHECK(strstr(FN(_error)(NULL), "nonexistent") != NULL, "message should name the file: %s", FN(_error)(NULL));
  }
  CHECK(FN(_run)(NULL, a.in, a.out) == ONNXC_ERR_ARGUMENT, "run(NULL model)");

  int st = FN(_create)(&a.m, &opts);
  if (st) {
    printf("FAIL: create: %d %s\n", st, FN(_error)(NULL));
    return 1;
  }
  if ((st = FN(_create)(&b.m, &opts))) {
    printf("FAIL: create: %d %s\n", st, FN(_error)(NULL));
    return 1;
  }
  CHECK(FN(_run)(a.m, NULL, a.out) == ONNXC_ERR_ARGUMENT, "run(inputs = NULL)");
  CHECK(strstr(FN(_error)(a.m), "NULL") != NULL, "message for NULL inputs: '%s'", FN(_error)(a.m));
  if (nout) {
    void *save = a.out[0];
    a.out[0] = NULL;
    CHECK(FN(_run)(a.m, a.in, a.out) == ONNXC_ERR_ARGUMENT, "run(outputs[0] = NULL)");
    CHECK(strstr(FN(_error)(a.m), INFO.outputs[0].name) != NULL, "message should name output 0: '%s'",
          FN(_error)(a.m));
    a.out[0] = save;
  }
  CHECK(strlen(FN(_error)(b.m)) == 0, "errors are per instance: b has '%s'", FN(_error)(b.m));

  /* two instances, two threads, same inputs: identical outputs */
  pthread_t th;
  pthread_create(&th, NULL, run_job, &b);
  run_job(&a);
  pthread_join(th, NULL);
  CHECK(a.status == 0 && b.status == 0, "run: %d '%s' / %d '%s'", a.status, FN(_error)(a.m), b.status,
        FN(_error)(b.m));
  for (int i = 0; i < nout; i++) {
    CHECK(!memcmp(a.out[i], b.out[i], (size_t)INFO.outputs[i].bytes), "output %d differs between instances", i);
    snprintf(path, sizeof path, "%s/output_%d.bin", dir, i);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(a.out[i], 1, (size_t)INFO.outputs[i].bytes, f) == (size_t)INFO.outputs[i].bytes,
          "cannot write %s", path);
    if (f) fclose(f);
  }
  FN(_destroy)(a.m);
  FN(_destroy)(b.m);
  FN(_destroy)(NULL);
  printf("%s: %d inputs, %d outputs, %d failures\n", INFO.name, nin, nout, failures);
  return failures ? 1 : 0;
}
