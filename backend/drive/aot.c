/* aot.c — ahead-of-time code: the same module builder as the JIT (module.c), for any target
 * LLVM knows here (x86-64 and AArch64), written as an object, assembly or LLVM IR. The C glue
 * around it (descriptor, NAME_create/run/...) is written and linked by tools/compile.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Core.h>

#include "aot.h"
#include "module.h"

/* once per process, whichever thread gets here first */
static pthread_once_t aot_once = PTHREAD_ONCE_INIT;

static void aot_llvm_register(void) {
  LLVMInitializeX86TargetInfo();
  LLVMInitializeX86Target();
  LLVMInitializeX86TargetMC();
  LLVMInitializeX86AsmPrinter();
  LLVMInitializeAArch64TargetInfo();
  LLVMInitializeAArch64Target();
  LLVMInitializeAArch64TargetMC();
  LLVMInitializeAArch64AsmPrinter();
}

static void aot_llvm_init(void) { pthread_once(&aot_once, aot_llvm_register); }

/* be_target_get plus --cpu / --features overrides */
static int aot_target(const BeAotOptions *o, Target *t, char *err, size_t errlen) {
  if (be_target_get(o->target ? o->target : "native", t, err, errlen)) return -1;
  if (o->cpu) t->cpu = o->cpu;
  if (o->features) {
    t->features = o->features;
    t->has_avx512 = strstr(o->features, "+avx512f") != NULL;
    t->has_vnni = strstr(o->features, "+avx512vnni") != NULL;
    t->has_bf16 = strstr(o->features, "+avx512bf16") != NULL && t->has_avx512;
    t->has_avx2 = strstr(o->features, "+avx2") != NULL;
    t->vector_bytes = t->has_avx512 ? 64 : t->has_avx2 ? 32 : 16;
  }
  return 0;
}

static bool kept(LLVMValueRef f, const LLVMValueRef *keep, int nkeep) {
  for (int i = 0; i < nkeep; i++)
    if (f == keep[i]) return true;
  return false;
}

/* only the graph functions (and the weights) are visible outside the object */
static void internalize(LLVMModuleRef mod, const LLVMValueRef *keep, int nkeep) {
  for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f))
    if (!kept(f, keep, nkeep) && !LLVMIsDeclaration(f)) LLVMSetLinkage(f, LLVMInternalLinkage);
  for (LLVMValueRef v = LLVMGetFirstGlobal(mod); v; v = LLVMGetNextGlobal(v))
    if (!LLVMIsDeclaration(v)) LLVMSetLinkage(v, LLVMInternalLinkage);
}

static void add_weights(KMod *m, const char *name, const unsigned char *data, size_t size) {
  char sym[300];
  snprintf(sym, sizeof sym, "%s_weights", name);
  size_t n = size ? size : 1;
  unsigned char zero = 0;
  LLVMValueRef init = LLVMConstStringInContext2(m->ctx, size ? (const char *)data : (const char *)&zero, n, 1);
  LLVMValueRef gv = LLVMAddGlobal(m->mod, LLVMTypeOf(init), sym);
  LLVMSetInitializer(gv, init);
  LLVMSetGlobalConstant(gv, 1);
  LLVMSetAlignment(gv, 64);
  LLVMSetVisibility(gv, LLVMHiddenVisibility);
}

static int write_module(LLVMModuleRef mod, LLVMTargetMachineRef tm, const char *kind, const char *path, char *err,
                        size_t errlen) {
  char *msg = NULL;
  int bad;
  if (!strcmp(kind, "llvm")) bad = LLVMPrintModuleToFile(mod, path, &msg);
  else if (!strcmp(kind, "asm") || !strcmp(kind, "obj"))
    bad = LLVMTargetMachineEmitToFile(tm, mod, path, !strcmp(kind, "asm") ? LLVMAssemblyFile : LLVMObjectFile, &msg);
  else {
    snprintf(err, errlen, "unknown emit kind '%s'", kind);
    return -1;
  }
  if (bad) snprintf(err, errlen, "cannot write %s: %s", path, msg ? msg : "");
  LLVMDisposeMessage(msg);
  return bad ? -1 : 0;
}

/* Each graph function the module builder adds declares the runtime's onnxc_rt_parallel again, and
 * LLVM renames a second declaration (onnxc_rt_parallel.1), which no library defines: the calls
 * of every copy go to the first one. */
static void unify_declarations(LLVMModuleRef mod, const char *name) {
  LLVMValueRef first = LLVMGetNamedFunction(mod, name);
  size_t n = strlen(name);
  for (LLVMValueRef f = LLVMGetFirstFunction(mod), next; f; f = next) {
    next = LLVMGetNextFunction(f);
    size_t len;
    const char *fname = LLVMGetValueName2(f, &len);
    if (f == first || !LLVMIsDeclaration(f) || len <= n || strncmp(fname, name, n) || fname[n] != '.') continue;
    if (!first) {
      LLVMSetValueName2(f, name, n);
      first = f;
      continue;
    }
    LLVMReplaceAllUsesWith(f, first);
    LLVMDeleteFunction(f);
  }
}

/* every variant's graph function into m, over one blob (identical pieces shared when several) */
static int build_variants(Graph *const *gs, int n, KMod *m, const char *name, BeAotResult *r, char *err,
                          size_t errlen) {
  if (n > 1) blob_share_begin(&m->blob);
  int nk = 0;
  for (int k = 0; k < n; k++) {
    char fn[300];
    be_aot_graph_name(name, k, fn, sizeof fn);
    ModuleInfo info;
    if (be_build_module(gs[k], m, fn, &info)) {
      snprintf(err, errlen, "%s", ir_last_error(gs[k]));
      blob_share_end(&m->blob);
      return -1;
    }
    nk += info.nkernels;
    r->variant[k].arena_bytes = info.arena_bytes;
    r->variant[k].scratch_bytes = info.scratch_bytes;
    if (info.arena_bytes > r->arena_bytes) r->arena_bytes = info.arena_bytes;
    if (info.scratch_bytes > r->scratch_bytes) r->scratch_bytes = info.scratch_bytes;
  }
  blob_share_end(&m->blob);
  unify_declarations(m->mod, "onnxc_rt_parallel");
  unify_declarations(m->mod, "onnxc_rt_phases");
  r->nvariants = n;
  be_phase_kernels(nk, m->nshared);
  return 0;
}

int be_aot_emit(Graph *g, const BeAotOptions *o, const char *path, BeAotResult *r, char *err, size_t errlen) {
  return be_aot_emit_variants(&g, 1, o, path, r, err, errlen);
}

int be_aot_emit_variants(Graph *const *gs, int n, const BeAotOptions *o, const char *path, BeAotResult *r,
                         char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  if (n < 1 || n > BE_AOT_MAX_VARIANTS) {
    snprintf(err, errlen, "%d shapes: a library holds 1 to %d", n, BE_AOT_MAX_VARIANTS);
    return -1;
  }
  aot_llvm_init();
  Target t;
  if (aot_target(o, &t, err, errlen)) return -1;
  for (int i = 0; i < n; i++)
    if (be_fp_mode_check(gs[i], &t, err, errlen)) return -1;
  snprintf(r->triple, sizeof r->triple, "%s", t.triple);
  snprintf(r->target, sizeof r->target, "%s", t.name);
  LLVMContextRef ctx = LLVMContextCreate();
  KMod m = {.ctx = ctx, .target = &t, .max_memory = o->max_memory};
  m.blob.record = o->compress_weights;
  m.mod = LLVMModuleCreateWithNameInContext(o->name, ctx);
  int rc = -1;
  LLVMTargetMachineRef tm = NULL;
  be_phase("kernel gen");
  if (build_variants(gs, n, &m, o->name, r, err, errlen)) goto out;
  if (!(tm = be_target_machine(&t, true, err, errlen))) goto out;
  LLVMSetTarget(m.mod, t.triple);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(m.mod, dl);
  LLVMDisposeTargetData(dl);
  LLVMValueRef gfn[BE_AOT_MAX_VARIANTS];
  for (int k = 0; k < n; k++) {
    char fn[300];
    be_aot_graph_name(o->name, k, fn, sizeof fn);
    gfn[k] = LLVMGetNamedFunction(m.mod, fn);
  }
  internalize(m.mod, gfn, n);
  for (int k = 0; k < n; k++) LLVMSetVisibility(gfn[k], LLVMHiddenVisibility);
  if (be_phase_checked("llvm opt", "LLVM optimization", err, errlen) ||
      be_optimize(m.mod, tm, o->opt_level ? o->opt_level : 3, err, errlen))
    goto out;
  be_aot_store_weights(&m.blob, o, r);
  /* after optimization: the passes need not look at megabytes of constant data */
  if (o->embed_weights) add_weights(&m, o->name, r->weights, r->weights_bytes);
  be_phase("llvm codegen (obj)");
  if (write_module(m.mod, tm, o->kind, path, err, errlen)) goto out;
  be_phase(NULL);
  rc = 0;
out:
  free(m.blob.piece);
  if (tm) LLVMDisposeTargetMachine(tm);
  LLVMDisposeModule(m.mod);
  LLVMContextDispose(ctx);
  free(m.blob.data);
  return rc;
}
