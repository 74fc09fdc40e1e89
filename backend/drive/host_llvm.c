/* host_llvm.c — the host CPU as LLVM sees it, for the target "native" (target.c); nollvm.c has
 * the build without LLVM's. */
#include <pthread.h>

#include <llvm-c/TargetMachine.h>

#include "be.h"

/* asked of LLVM once per process, whichever session's thread gets here first; never changed after */
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static char *host_triple, *host_cpu, *host_features;

static void host_init(void) {
  host_triple = LLVMGetDefaultTargetTriple();
  host_cpu = LLVMGetHostCPUName();
  host_features = LLVMGetHostCPUFeatures();
}

/* the host's triple, CPU and features for the target "native" (target.c) */
void be_host_cpu(const char **triple, const char **cpu, const char **features) {
  pthread_once(&host_once, host_init);
  *triple = host_triple;
  *cpu = host_cpu;
  *features = host_features;
}
