/* driver.c — runs a model emitted with `onnxc compile --emit c`, written only against its NAME.h:
 *   cc -DMODEL=NAME -DMODEL_H='"NAME.h"' -IDIR the .c files of DIR driver.c -lm -lpthread
 *   ./driver DIR [threads [runs]]   reads DIR/input_K.bin (raw, dense), writes DIR/output_K.bin;
 *   with runs, also times that many more runs and prints the median in ms
 * Runs the model twice (the second run must reproduce the first: run allocates nothing and keeps
 * no state). Prints why and exits 1 on any failure. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(MODEL, x)

static void *read_all(const char *path, size_t bytes) {
  FILE *f = fopen(path, "rb");
  void *p = calloc(1, bytes ? bytes : 1);
  if (!f || fread(p, 1, bytes, f) != bytes) {
    printf("FAIL: cannot read %zu bytes from %s\n", bytes, path);
    exit(1);
  }
  fclose(f);
  return p;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const onnxc_model_info *info = &FN(_info);
  onnxc_options opts = {.threads = argc > 2 ? atoi(argv[2]) : 1, .weights_path = NULL};
  const void *in[64];
  void *out[64], *again[64];
  char path[4096];
  for (int i = 0; i < info->num_inputs; i++) {
    snprintf(path, sizeof path, "%s/input_%d.bin", argv[1], i);
    in[i] = read_all(path, (size_t)info->inputs[i].bytes);
  }
  for (int i = 0; i < info->num_outputs; i++) {
    out[i] = calloc(1, (size_t)info->outputs[i].bytes + 1);
    again[i] = calloc(1, (size_t)info->outputs[i].bytes + 1);
  }
  MODEL *m;
  if (FN(_create)(&m, &opts)) {
    printf("FAIL: create: %s\n", FN(_error)(NULL));
    return 1;
  }
  if (FN(_run)(m, in, out) || FN(_run)(m, in, again)) {
    printf("FAIL: run: %s\n", FN(_error)(m));
    return 1;
  }
  for (int i = 0; i < info->num_outputs; i++) {
    if (memcmp(out[i], again[i], (size_t)info->outputs[i].bytes)) {
      printf("FAIL: output %d differs between two runs\n", i);
      return 1;
    }
    snprintf(path, sizeof path, "%s/output_%d.bin", argv[1], i);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(out[i], 1, (size_t)info->outputs[i].bytes, f) != (size_t)info->outputs[i].bytes || fclose(f)) {
      printf("FAIL: cannot write %s\n", path);
      return 1;
    }
  }
  int runs = argc > 3 ? atoi(argv[3]) : 0;
  if (runs > 0) {
    double *ms = calloc((size_t)runs, sizeof *ms);
    for (int r = 0; r < runs; r++) {
      struct timespec a, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      if (FN(_run)(m, in, again)) return 1;
      clock_gettime(CLOCK_MONOTONIC, &b);
      ms[r] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) * 1e-6;
    }
    for (int i = 1; i < runs; i++) /* insertion sort */
      for (int j = i; j > 0 && ms[j] < ms[j - 1]; j--) {
        double t = ms[j];
        ms[j] = ms[j - 1];
        ms[j - 1] = t;
      }
    printf("median %.3f ms over %d runs\n", ms[runs / 2], runs);
    free(ms);
  }
  FN(_destroy)(m);
  return 0;
}
