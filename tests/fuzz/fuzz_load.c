/* fuzz_load.c — libFuzzer target: bytes → fe_load_buffer → shape inference + passes → LLVM module.
 *
 * Everything a hostile .onnx file can reach before code runs: the wire pre-scan, protobuf-c, the
 * import, shape inference and host folding, the pass pipeline, storage planning and every kernel
 * generator.  The module is verified (LLVMVerifyModule) but neither optimized nor JIT-compiled:
 * LLVM's own passes are not what is under test, and they would cut the rate tenfold.
 * Symbolic input dims are fixed to 1, as `--shape` would.  External data is refused (no model
 * folder), so the fuzzer never touches the file system.  Built by -DONNXC_FUZZ=ON with clang. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <llvm-c/Analysis.h>

#include "fe.h"
#include "module.h"
#include "passes.h"

/* limits small enough that a run stays well under libFuzzer's default 2 GB RSS cap */
#define FUZZ_MAX_BYTES (256LL << 20)

static void fix_symbolic_dims(Graph *g) {
  for (int i = 0; i < g->ninputs; i++) {
    Value *v = g->inputs[i];
    if (v->rank < 0) continue;
    for (int d = 0; d < v->rank; d++)
      if (v->dims[d] < 0) v->dims[d] = 1;
  }
}

static void build_module(Graph *g) {
  Target t;
  char err[512];
  if (be_target_get("native", &t, err, sizeof err)) abort();
  LLVMContextRef ctx = LLVMContextCreate();
  KMod m = {.ctx = ctx, .target = &t, .max_memory = FUZZ_MAX_BYTES};
  m.mod = LLVMModuleCreateWithNameInContext("fuzz", ctx);
  ModuleInfo info;
  if (!be_build_module(g, &m, "onnxc_graph_run", &info)) {
    char *msg = NULL;
    if (LLVMVerifyModule(m.mod, LLVMReturnStatusAction, &msg)) {
      fprintf(stderr, "fuzz_load: generated module does not verify:\n%s\n", msg ? msg : "");
      abort(); /* a generator bug: report it as a crash */
    }
    LLVMDisposeMessage(msg);
  }
  LLVMDisposeModule(m.mod);
  LLVMContextDispose(ctx);
  free(m.blob.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[2048];
  FeOptions fo = {.max_bytes = FUZZ_MAX_BYTES};
  Graph *g = fe_load_buffer(data, size, NULL, &fo, err, sizeof err);
  if (!g) return 0;
  fix_symbolic_dims(g);
  PassOptions po = {0};
  if (!pass_run_all(g, &po)) build_module(g);
  ir_graph_free(g);
  return 0;
}
