/* llvm_int.h — internals shared by the LLVM-facing backend files (kb_llvm.c, module.c, jit.c).
 * Generators never include this: they see only kb.h. */
#ifndef ONNXC_LLVM_INT_H
#define ONNXC_LLVM_INT_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "be.h"
#include "kb_impl.h"


typedef struct KMod {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  const Target *target;
  WeightBlob blob;
  int nkernels;
} KMod;

/* Start a kernel with nbufs buffer pointers; `written[i]` marks the buffers it writes (others get
 * readonly); all get noalias unless `may_alias` is set. */
KB *kb_kernel_begin(KMod *m, const char *name, int nbufs, bool may_alias);
/* Finish: returns the kernel (external-signature) function. */
LLVMValueRef kb_kernel_end(KB *kb);
void kb_kernel_abandon(KB *kb);

LLVMTypeRef kb_llvm_type(LLVMContextRef ctx, KT t);
void kb_set_fn_target_attrs(KMod *m, LLVMValueRef fn);

#endif
