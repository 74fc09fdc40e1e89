/* loader — runs any library made by `onnxc compile` through the one descriptor every compiled
 * shared library exports, `onnxc_model_descriptor` (onnxc_model.h): no model header needed.
 * It runs through `run_tensors`, which checks each buffer's dtype, shape and size against the
 * model (a generic host cannot know them at compile time, so it should let the model check).
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
  /* one onnxc_tensor per input and output, described by what this host allocated */
  int n = mi->num_inputs + mi->num_outputs;
  onnxc_tensor *ts = calloc((size_t)n + 1, sizeof *ts);
  int rc = 1;
  for (int i = 0; i < n; i++) {
    const onnxc_tensor_info *t = i < mi->num_inputs ? &mi->inputs[i] : &mi->outputs[i - mi->num_inputs];
    ts[i] = (onnxc_tensor){calloc(1, (size_t)t->bytes + 1), t->bytes, t->dtype, t->rank, t->dims};
    if (i < mi->num_inputs) {
      print_tensor("input", i, t);
      if (i + 2 < argc &&
          (!npy_descr(t->dtype) || npy_load(argv[i + 2], npy_descr(t->dtype), ts[i].data, (size_t)t->bytes)))
        goto out;
    } else
      print_tensor("output", i - mi->num_inputs, t);
  }
  onnxc_model *m;
  onnxc_options opts = {.threads = 1};
  if (mi->create(&m, &opts)) {
    fprintf(stderr, "loader: %s\n", mi->error(NULL));
    goto out;
  }
  if (mi->run_tensors(m, ts, mi->num_inputs, ts + mi->num_inputs, mi->num_outputs)) {
    fprintf(stderr, "loader: %s\n", mi->error(m));
    mi->destroy(m);
    goto out;
  }
  mi->destroy(m);
  for (int i = 0; i < mi->num_outputs; i++) {
    const onnxc_tensor_info *t = &mi->outputs[i];
    if (t->dtype != ONNXC_DT_FLOAT) continue;
    const float *v = ts[mi->num_inputs + i].data;
    double sum = 0;
    for (int64_t k = 0; k < t->numel; k++) sum += v[k];
    printf("output %d:", i);
    for (int64_t k = 0; k < t->numel && k < 5; k++) printf(" %.6f", v[k]);
    printf("%s sum %.6f\n", t->numel > 5 ? " ..." : "", sum);
  }
  rc = 0;
out:
  for (int i = 0; i < n; i++) free(ts[i].data);
  free(ts);
  dlclose(h);
  return rc;
}
