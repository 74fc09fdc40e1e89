/* loader — runs any library made by `onnxc compile` through the one descriptor every compiled
 * shared library exports, `onnxc_model_descriptor` (onnxc_model.h): no model header needed.
 *
 *   loader libNAME.so [INPUT.npy...]   inputs in graph order (missing ones are zeros); prints the
 *                                      model's signature and each output's first values and sum */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy_lite.h"
#include "onnxc_model.h"

static const char *dtype_name(int dt) {
  switch (dt) {
  case ONNXC_DT_FLOAT: return "float32";
  case ONNXC_DT_INT64: return "int64";
  case ONNXC_DT_INT32: return "int32";
  case ONNXC_DT_UINT8: return "uint8";
  case ONNXC_DT_INT8: return "int8";
  case ONNXC_DT_BOOL: return "bool";
  case ONNXC_DT_DOUBLE: return "float64";
  default: return "other";
  }
}

static const char *npy_descr(int dt) { return dt == ONNXC_DT_FLOAT ? "<f4" : dt == ONNXC_DT_INT64 ? "<i8" : NULL; }

static void print_tensor(const char *kind, int i, const onnxc_tensor_info *t) {
  printf("%s %d '%s': %s[", kind, i, t->name, dtype_name(t->dtype));
  for (int d = 0; d < t->rank; d++) printf("%s%lld", d ? "x" : "", (long long)t->dims[d]);
  printf("]\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: loader libNAME.so [INPUT.npy...]\n");
    return 2;
  }
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "loader: %s\n", dlerror());
    return 1;
  }
  const onnxc_model_info *mi = dlsym(h, "onnxc_model_descriptor");
  if (!mi || mi->abi_version != ONNXC_ABI_VERSION) {
    fprintf(stderr, "loader: %s is not an onnxc model of ABI %d\n", argv[1], ONNXC_ABI_VERSION);
    return 1;
  }
  printf("model %s (%s)\n", mi->name, mi->target);
  void **bufs = calloc((size_t)(mi->num_inputs + mi->num_outputs), sizeof(void *));
  int rc = 1;
  for (int i = 0; i < mi->num_inputs; i++) {
    const onnxc_tensor_info *t = &mi->inputs[i];
    print_tensor("input", i, t);
    bufs[i] = calloc(1, (size_t)t->bytes + 1);
    if (i + 2 < argc && (!npy_descr(t->dtype) || npy_load(argv[i + 2], npy_descr(t->dtype), bufs[i], (size_t)t->bytes)))
      goto out;
  }
  for (int i = 0; i < mi->num_outputs; i++) {
    print_tensor("output", i, &mi->outputs[i]);
    bufs[mi->num_inputs + i] = calloc(1, (size_t)mi->outputs[i].bytes + 1);
  }
  onnxc_model *m;
  onnxc_options opts = {.threads = 1};
  if (mi->create(&m, &opts)) {
    fprintf(stderr, "loader: %s\n", mi->error(NULL));
    goto out;
  }
  if (mi->run(m, (const void *const *)bufs, bufs + mi->num_inputs)) {
    fprintf(stderr, "loader: %s\n", mi->error(m));
    mi->destroy(m);
    goto out;
  }
  mi->destroy(m);
  for (int i = 0; i < mi->num_outputs; i++) {
    const onnxc_tensor_info *t = &mi->outputs[i];
    if (t->dtype != ONNXC_DT_FLOAT) continue;
    const float *v = bufs[mi->num_inputs + i];
    double sum = 0;
    for (int64_t k = 0; k < t->numel; k++) sum += v[k];
    printf("output %d:", i);
    for (int64_t k = 0; k < t->numel && k < 5; k++) printf(" %.6f", v[k]);
    printf("%s sum %.6f\n", t->numel > 5 ? " ..." : "", sum);
  }
  rc = 0;
out:
  for (int i = 0; i < mi->num_inputs + mi->num_outputs; i++) free(bufs[i]);
  free(bufs);
  dlclose(h);
  return rc;
}
