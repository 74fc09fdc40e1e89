/* nollvm.c — the backend's LLVM entry points in a build without LLVM (cmake -DONNXC_LLVM=OFF,
 * in place of jit.c, aot.c and module_llvm.c): each fails with one message, so such an onnxc
 * can `compile --emit c` (emit_c.c) and refuses the rest cleanly. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "aot.h"

#define NO_LLVM "built without LLVM (cmake -DONNXC_LLVM=OFF): only `onnxc compile --emit c` is available"

/* the host as the compiler building onnxc saw it: enough to name the target "native"; read once
 * per process (whichever thread gets here first), never changed after */
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char host_features[128];

static void host_init(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  snprintf(host_features, sizeof host_features, "%s%s%s%s", __builtin_cpu_supports("avx512f") ? "+avx512f," : "",
           __builtin_cpu_supports("avx512vnni") ? "+avx512vnni," : "", __builtin_cpu_supports("avx2") ? "+avx2," : "",
           __builtin_cpu_supports("fma") ? "+fma," : "");
#elif defined(__aarch64__)
  snprintf(host_features, sizeof host_features, "+neon");
#endif
}

void be_host_cpu(const char **triple, const char **cpu, const char **features) {
  pthread_once(&host_once, host_init);
#if defined(__x86_64__)
  *triple = "x86_64-unknown-linux-gnu";
  *cpu = "x86-64";
#elif defined(__aarch64__)
  *triple = "aarch64-unknown-linux-gnu";
  *cpu = "generic";
#else
  *triple = "unknown-unknown-linux-gnu";
  *cpu = "generic";
#endif
  *features = host_features;
}

BeModel *be_jit(Graph *g, const BeOptions *opt, char *err, size_t errlen) {
  snprintf(err, errlen, "%s", NO_LLVM);
  return NULL;
}

int be_run(BeModel *m, const void *const *inputs, void *const *outputs, char *err, size_t errlen) {
  snprintf(err, errlen, "%s", NO_LLVM);
  return -1;
}

void be_set_threads(BeModel *m, int threads) {}
void be_set_spin(BeModel *m, int on) {}

void be_set_watch(BeModel *m, struct onnxc_watch *w) {}

void be_free(BeModel *m) {}

int be_model_kernels(const BeModel *m, int *shared) {
  if (shared) *shared = 0;
  return 0;
}

const BeProf *be_model_prof(const BeModel *m) { return NULL; }

int be_emit(Graph *g, const BeOptions *opt, const char *kind, const char *path, char *err, size_t errlen) {
  snprintf(err, errlen, "%s", NO_LLVM);
  return -1;
}

int be_aot_emit(Graph *g, const BeAotOptions *o, const char *path, BeAotResult *r, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  snprintf(err, errlen, "%s", NO_LLVM);
  return -1;
}

int be_aot_emit_variants(Graph *const *gs, int n, const BeAotOptions *o, const char *path, BeAotResult *r,
                         char *err, size_t errlen) {
  (void)gs, (void)n;
  return be_aot_emit(NULL, o, path, r, err, errlen);
}

BeModel *be_jit_artifact(Graph *g, const BeArtifact *a, void (*release)(void *), void *release_ctx, char *err,
                         size_t errlen) {
  (void)g, (void)a;
  snprintf(err, errlen, "%s", NO_LLVM);
  release(release_ctx);
  return NULL;
}

const char *be_llvm_version(void) { return "none"; }
