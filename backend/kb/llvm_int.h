/* llvm_int.h — internals shared by the LLVM-facing backend files (kb_llvm.c, module_llvm.c, jit.c, aot.c).
 * Generators never include this: they see only kb.h. */
#ifndef ONNXC_LLVM_INT_H
#define ONNXC_LLVM_INT_H

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>

#include "be.h"
#include "kb_impl.h"


/* a kernel already in the module, by the text of its code (kb_kernel_end shares it) */
typedef struct KernelSeen {
  uint64_t hash;
  char *ir;
  LLVMValueRef outer;
} KernelSeen;

typedef struct KMod {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  const Target *target;
  WeightBlob blob;
  int nkernels;
  int64_t max_memory;   /* be_build_module refuses a model needing more (0 = BE_DEFAULT_MAX_MEMORY) */
  int nshared; /* kernels that turned out identical to an earlier one and were dropped */
  KernelSeen *seen;
  int nseen, capseen;
  BeProf *prof; /* NULL, or the top-level nodes' kernels are recorded there (drive/prof_llvm.c) */
  /* NULL, or called once after the top-level graph's first early_at nodes, with the graph
   * function terminated (drive/jit.c hands those nodes' kernels to a second thread) */
  void (*early)(struct KMod *m, LLVMValueRef graph_fn, void *arg);
  void *early_arg;
  int early_at;
} KMod;

/* Start a kernel with nbufs buffer pointers; `written[i]` marks the buffers it writes (others get
 * readonly); all get noalias unless `may_alias` is set. */
KB *kb_kernel_begin(KMod *m, const char *name, int nbufs, bool may_alias);
/* Finish: returns the kernel (external-signature) function, an earlier one of the module if the
 * code is identical.  *weight_offsets (malloc'd, caller frees) are the blob offsets of its
 * kb_weight pointers, which the caller passes in bufs[nbufs + k], k < *nweights. */
LLVMValueRef kb_kernel_end(KB *kb, size_t **weight_offsets, int *nweights);
/* Drop the table of kernels kb_kernel_end compares against (after building a module). */
void kb_mod_forget_kernels(KMod *m);
void kb_kernel_abandon(KB *kb);

LLVMTypeRef kb_llvm_type(LLVMContextRef ctx, KT t);
void kb_set_fn_target_attrs(KMod *m, LLVMValueRef fn);

#endif
