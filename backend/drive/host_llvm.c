/* host_llvm.c — the host CPU as LLVM sees it, for the target "native" (target.c); nollvm.c has
 * the build without LLVM's. */
#include <llvm-c/TargetMachine.h>

#include "be.h"

/* the host's triple, CPU and features for the target "native" (target.c), asked of LLVM once */
void be_host_cpu(const char **triple, const char **cpu, const char **features) {
  static char *t, *c, *f;
  if (!t) {
    t = LLVMGetDefaultTargetTriple();
    c = LLVMGetHostCPUName();
    f = LLVMGetHostCPUFeatures();
  }
  *triple = t;
  *cpu = c;
  *features = f;
}
