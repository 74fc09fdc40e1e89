/* module.h — building the LLVM module for a graph (module_llvm.c), shared by JIT and AOT. */
#ifndef ONNXC_MODULE_H
#define ONNXC_MODULE_H

#include "llvm_int.h"
#include "module_key.h"

typedef struct ModuleInfo {
  int64_t arena_bytes;
  int64_t scratch_bytes; /* per thread */
  size_t weights_bytes;
  int nkernels;
  int nshared; /* of which identical to an earlier kernel (one copy of the code, kb_kernel_end) */
  int nkeyed;  /* of those, found so before being generated (module_key.c) */
} ModuleInfo;

/* Plans storage and emits every kernel plus the graph function `fn_name` into m.
 * The weight blob ends up in m->blob. 0 ok, -1 error (ir_last_error(g)). */
int be_build_module(Graph *g, KMod *m, const char *fn_name, ModuleInfo *info);

/* Optimize a module for a target: verify, then run the new pass manager's default<O{level}>. */
int be_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int level, char *err, size_t errlen);
LLVMTargetMachineRef be_target_machine(const Target *t, bool pic, char *err, size_t errlen);

#endif
