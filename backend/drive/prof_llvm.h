/* prof_llvm.h — profiling's LLVM side (prof_llvm.c): the timing calls a profiled graph function
 * makes, and the perf map of JIT-compiled code. */
#ifndef ONNXC_PROF_LLVM_H
#define ONNXC_PROF_LLVM_H

#include <llvm-c/LLJIT.h>

#include "llvm_int.h"

/* In a top-level graph function: at its entry, and after node k's kernel call (kfn).  Both record
 * the kernel's name in m->prof and emit the runtime calls only when m->prof->timing; nothing
 * when m->prof is NULL. */
void be_prof_emit_start(KMod *m, LLVMBuilderRef b, LLVMValueRef rt);
void be_prof_emit_node(KMod *m, LLVMBuilderRef b, LLVMValueRef rt, int k, LLVMValueRef kfn);

/* The perf map (perf's /tmp/perf-PID.map convention: "START SIZE NAME" per line, hex): attach
 * before the module is added to the JIT, so that the object's function symbols (offsets and sizes
 * in its text section) are seen as it is linked; write after `anchor` (an exported function of
 * that object) is looked up, which places them.  Names: "onnxc:KERNEL:OP:NODE" for a kernel
 * (after the first node that runs it; prof may be NULL), "onnxc:SYMBOL" for the rest. */
typedef struct BePerfMap BePerfMap;
BePerfMap *be_perfmap_attach(LLVMOrcLLJITRef jit, const char *anchor); /* NULL: out of memory */
int be_perfmap_write(BePerfMap *pm, LLVMOrcLLJITRef jit, const BeProf *prof, char *err, size_t errlen);
void be_perfmap_free(BePerfMap *pm, LLVMOrcLLJITRef jit); /* also detaches it from the JIT */

#endif
