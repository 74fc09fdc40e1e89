/* host_llvm.c — the host CPU as LLVM sees it, for the target "native" (target.c); nollvm.c has
 * the build without LLVM's. */
#include <pthread.h>
#include <stdio.h>

#include <llvm-c/Core.h>

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

static pthread_once_t version_once = PTHREAD_ONCE_INIT;
static char llvm_version[48];

static void version_init(void) {
  unsigned maj, min, pat;
  LLVMGetVersion(&maj, &min, &pat);
  snprintf(llvm_version, sizeof llvm_version, "%u.%u.%u", maj, min, pat);
}

const char *be_llvm_version(void) {
  pthread_once(&version_once, version_init);
  return llvm_version;
}
