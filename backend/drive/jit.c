/* jit.c — the optimization pipeline, and the ORC LLJIT path (onnxc run / bench). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "module.h"
#include "onnxc_rt.h"
#include "passes.h"
#include "prof_llvm.h"

/* the host target's LLVM registration: once per process, whichever session's thread gets here
 * first (process-wide, but never changed after) */
static pthread_once_t native_once = PTHREAD_ONCE_INIT;

static void native_init(void) {
  LLVMInitializeNativeTarget();
  LLVMInitializeNativeAsmPrinter();
}

static void llvm_init(void) { pthread_once(&native_once, native_init); }

LLVMTargetMachineRef be_target_machine(const Target *t, bool pic, char *err, size_t errlen) {
  llvm_init();
  LLVMTargetRef tgt;
  char *msg = NULL;
  if (LLVMGetTargetFromTriple(t->triple, &tgt, &msg)) {
    snprintf(err, errlen, "target %s is not available in this LLVM: %s", t->triple, msg ? msg : "");
    LLVMDisposeMessage(msg);
    return NULL;
  }
  return LLVMCreateTargetMachine(tgt, t->triple, t->cpu, t->features, LLVMCodeGenLevelAggressive,
                                 pic ? LLVMRelocPIC : LLVMRelocDefault, LLVMCodeModelDefault);
}

int be_optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, int level, char *err, size_t errlen) {
  char *msg = NULL;
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
    snprintf(err, errlen, "internal error: generated module is invalid: %.600s", msg ? msg : "");
    LLVMDisposeMessage(msg);
    return -1;
  }
  LLVMDisposeMessage(msg);
  char pipeline[32];
  snprintf(pipeline, sizeof pipeline, "default<O%d>", level < 0 ? 0 : level > 3 ? 3 : level);
  LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
  LLVMErrorRef e = LLVMRunPasses(mod, pipeline, tm, po);
  LLVMDisposePassBuilderOptions(po);
  if (e) {
    char *m = LLVMGetErrorMessage(e);
    snprintf(err, errlen, "internal error: optimization failed: %s", m);
    LLVMDisposeErrorMessage(m);
    return -1;
  }
  return 0;
}

struct BeModel {
  LLVMOrcLLJITRef jit;
  int32_t (*run)(onnxc_rt *rt, void *const *io);
  onnxc_rt rt;
  unsigned char *weights;
  int nin, nout;
  int64_t scratch_bytes;
  int threads;
  int nkernels, nshared, nkeyed;
  void **io;
  int nnodes;
  char **nodes; /* "Op 'name'" per top-level node (one block): names the node a failed run stopped in */
  BeProf *prof; /* BeOptions.profile / perf_map (drive/prof.c); NULL otherwise */
};

static char **node_labels(Graph *g) {
  size_t total = (size_t)g->nnodes * sizeof(char *);
  for (int k = 0; k < g->nnodes; k++)
    total += strlen(ir_ops[g->nodes[k]->op].name) + (g->nodes[k]->name ? strlen(g->nodes[k]->name) : 0) + 4;
  char **tab = ir_xmalloc(total ? total : 1), *p = (char *)(tab + g->nnodes);
  for (int k = 0; tab && k < g->nnodes; k++) {
    const Node *n = g->nodes[k];
    tab[k] = p;
    ir_node_label(n, p, strlen(ir_ops[n->op].name) + (n->name ? strlen(n->name) : 0) + 4);
    p += strlen(p) + 1;
  }
  return tab;
}

static int take_error(LLVMErrorRef e, const char *what, char *err, size_t errlen) {
  char *m = LLVMGetErrorMessage(e);
  snprintf(err, errlen, "%s: %s", what, m);
  LLVMDisposeErrorMessage(m);
  return -1;
}

static void *xaligned(size_t bytes) {
  size_t n = (bytes + 63) & ~(size_t)63;
  return aligned_alloc(64, n ? n : 64);
}

/* The weight blob is reserved 64-aligned and large enough for the packed weights (twice the
 * constants, plus room): then be_jit keeps it as the model's weights instead of copying them once
 * more.  Pages never written cost nothing; if the guess is short, blob_add reallocates and the
 * copy is made as before. */
static void reserve_blob(const Graph *g, WeightBlob *w) {
  size_t total = 1 << 20;
  for (int i = 0; i < g->nvalues; i++) {
    int64_t b = g->values[i]->data ? pass_value_bytes(g->values[i]) : 0;
    if (b > 0 && (uint64_t)b < SIZE_MAX / 4 - total) total += 2 * (size_t)b;
  }
  total = (total + 63) & ~(size_t)63;
  w->data = aligned_alloc(64, total);
  w->cap = w->data ? total : 0;
}

BeModel *be_jit(Graph *g, const BeOptions *opt, char *err, size_t errlen) {
  BeOptions dflt = {.opt_level = 3};
  if (!opt) opt = &dflt;
  Target t;
  if (be_target_get(opt->target, &t, err, errlen)) return NULL;
  if (strcmp(t.name, "native")) {
    snprintf(err, errlen, "the JIT runs on the host only (target '%s' is for `onnxc compile`)", t.name);
    return NULL;
  }
  LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
  KMod m = {.ctx = LLVMOrcThreadSafeContextGetContext(tsc), .target = &t, .max_memory = opt->max_memory};
  m.mod = LLVMModuleCreateWithNameInContext("onnxc_model", m.ctx);
  ModuleInfo info;
  be_phase("kernel gen");
  reserve_blob(g, &m.blob);
  if ((opt->profile || opt->perf_map) && !(m.prof = be_prof_new(g, opt->profile))) {
    snprintf(err, errlen, "out of memory for the profile");
    goto fail_mod;
  }
  if (be_build_module(g, &m, "onnxc_graph_run", &info)) {
    snprintf(err, errlen, "%s", ir_last_error(g));
    be_prof_free(m.prof);
    LLVMDisposeModule(m.mod);
    LLVMOrcDisposeThreadSafeContext(tsc);
    free(m.blob.data);
    return NULL;
  }
  be_phase_kernels(info.nkernels, info.nshared);
  LLVMTargetMachineRef tm = be_target_machine(&t, false, err, errlen);
  if (!tm) goto fail_mod;
  LLVMSetTarget(m.mod, t.triple);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(m.mod, dl);
  LLVMDisposeTargetData(dl);
  if (be_phase_checked("llvm opt", "LLVM optimization", err, errlen) ||
      be_optimize(m.mod, tm, opt->opt_level ? opt->opt_level : 3, err, errlen)) {
    LLVMDisposeTargetMachine(tm);
    goto fail_mod;
  }
  if (opt->dump_llvm) {
    char *s = LLVMPrintModuleToString(m.mod);
    fputs(s, stderr);
    LLVMDisposeMessage(s);
  }
  if (be_phase_checked("llvm codegen (jit)", "LLVM code generation", err, errlen)) {
    LLVMDisposeTargetMachine(tm);
    goto fail_mod;
  }
  LLVMOrcLLJITBuilderRef jb = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(jb, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
  LLVMOrcLLJITRef jit;
  LLVMErrorRef e = LLVMOrcCreateLLJIT(&jit, jb);
  if (e) {
    take_error(e, "cannot create the JIT", err, errlen);
    goto fail_mod;
  }
  LLVMOrcDefinitionGeneratorRef gen;
  e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(jit), NULL, NULL);
  if (e) {
    take_error(e, "cannot expose runtime symbols to the JIT", err, errlen);
    LLVMOrcDisposeLLJIT(jit);
    goto fail_mod;
  }
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(jit), gen);
  BePerfMap *pm = opt->perf_map ? be_perfmap_attach(jit, "onnxc_graph_run") : NULL; /* sees the object linked */
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m.mod, tsc);
  LLVMOrcDisposeThreadSafeContext(tsc);
  e = LLVMOrcLLJITAddLLVMIRModule(jit, LLVMOrcLLJITGetMainJITDylib(jit), tsm);
  if (e) {
    take_error(e, "JIT rejected the module", err, errlen);
    be_perfmap_free(pm, jit);
    be_prof_free(m.prof);
    LLVMOrcDisposeLLJIT(jit);
    free(m.blob.data);
    return NULL;
  }
  LLVMOrcExecutorAddress addr;
  e = LLVMOrcLLJITLookup(jit, &addr, "onnxc_graph_run");
  if (e || (opt->perf_map && (!pm || be_perfmap_write(pm, jit, m.prof, err, errlen)))) {
    if (e) take_error(e, "JIT compilation failed", err, errlen);
    else if (!pm) snprintf(err, errlen, "out of memory for the perf map");
    be_perfmap_free(pm, jit);
    be_prof_free(m.prof);
    LLVMOrcDisposeLLJIT(jit);
    free(m.blob.data);
    return NULL;
  }
  be_perfmap_free(pm, jit);
  be_phase(NULL);
  BeModel *bm = calloc(1, sizeof *bm);
  if (!bm) {
    snprintf(err, errlen, "out of memory");
    be_prof_free(m.prof);
    LLVMOrcDisposeLLJIT(jit);
    free(m.blob.data);
    return NULL;
  }
  bm->jit = jit;
  bm->prof = m.prof;
  bm->rt.prof = m.prof && m.prof->timing ? m.prof->rt : NULL;
  bm->nkernels = info.nkernels;
  bm->nshared = info.nshared;
  bm->nkeyed = info.nkeyed;
  bm->run = (int32_t(*)(onnxc_rt *, void *const *))(uintptr_t)addr;
  if (m.blob.data && (uintptr_t)m.blob.data % 64 == 0) { /* reserve_blob's guess held: no copy */
    bm->weights = m.blob.data;
  } else {
    bm->weights = xaligned(m.blob.size);
    if (bm->weights && m.blob.size) memcpy(bm->weights, m.blob.data, m.blob.size);
    free(m.blob.data);
  }
  bm->rt.weights = (const char *)bm->weights;
  bm->rt.arena = xaligned((size_t)info.arena_bytes);
  bm->scratch_bytes = (info.scratch_bytes + 63) & ~(int64_t)63;
  bm->nin = g->ninputs;
  bm->nout = g->noutputs;
  bm->io = ir_xcalloc((size_t)(bm->nin + bm->nout + 1), sizeof(void *));
  bm->nnodes = g->nnodes;
  bm->nodes = node_labels(g);
  be_set_threads(bm, 1);
  if (!bm->weights || !bm->rt.arena || !bm->io || !bm->rt.scratch || !bm->nodes) {
    snprintf(err, errlen, "out of memory for the model's buffers (weights %zu, arena %lld, scratch %lld bytes)",
             m.blob.size, (long long)info.arena_bytes, (long long)bm->scratch_bytes);
    be_free(bm);
    return NULL;
  }
  return bm;

fail_mod:
  be_prof_free(m.prof);
  LLVMDisposeModule(m.mod);
  LLVMOrcDisposeThreadSafeContext(tsc);
  free(m.blob.data);
  return NULL;
}

void be_set_threads(BeModel *m, int threads) {
  if (threads <= 0) threads = onnxc_cpu_count();
  if (m->rt.pool) onnxc_pool_destroy(m->rt.pool);
  m->rt.pool = threads > 1 ? onnxc_pool_create(threads) : NULL;
  m->threads = onnxc_pool_threads(m->rt.pool);
  free(m->rt.scratch);
  m->rt.scratch_stride = m->scratch_bytes;
  m->rt.scratch = xaligned((size_t)(m->scratch_bytes * m->threads));
}

void be_set_watch(BeModel *m, onnxc_watch *w) { m->rt.watch = w; }

/* Every pointer is checked before generated code sees it: a NULL model, array or buffer is
 * ONNXC_ERR_ARGUMENT with a message naming it, never a fault inside a kernel. */
int be_run(BeModel *m, const void *const *inputs, void *const *outputs, char *err, size_t errlen) {
  if (!m || (!inputs && m->nin) || (!outputs && m->nout)) {
    snprintf(err, errlen, "run: %s is NULL", !m ? "the model" : !inputs && m->nin ? "the inputs array" : "the outputs array");
    return ONNXC_ERR_ARGUMENT;
  }
  if (!m->rt.scratch) { /* be_set_threads could not allocate scratch for its threads */
    snprintf(err, errlen, "run: out of memory for %d threads' scratch", m->threads);
    return ONNXC_ERR_NOMEM;
  }
  for (int i = 0; i < m->nin; i++)
    if (!(m->io[i] = (void *)inputs[i])) {
      snprintf(err, errlen, "run: input %d is NULL", i);
      return ONNXC_ERR_ARGUMENT;
    }
  for (int i = 0; i < m->nout; i++)
    if (!(m->io[m->nin + i] = outputs[i])) {
      snprintf(err, errlen, "run: output %d is NULL", i);
      return ONNXC_ERR_ARGUMENT;
    }
  m->rt.failed_node = -1;
  int32_t st = m->run(&m->rt, m->io);
  int k = m->rt.failed_node;
  if (st && k >= 0 && k < m->nnodes)
    snprintf(err, errlen, "run failed: node %d (%s): %s", k, m->nodes[k], onnxc_status_str(st));
  else if (st)
    snprintf(err, errlen, "run failed: %s", onnxc_status_str(st));
  return st;
}

int be_model_kernels(const BeModel *m, int *shared) {
  if (shared) *shared = m->nshared;
  return m->nkernels;
}

int be_model_kernels_keyed(const BeModel *m) { return m->nkeyed; }

void be_free(BeModel *m) {
  if (!m) return;
  LLVMOrcDisposeLLJIT(m->jit);
  onnxc_pool_destroy(m->rt.pool);
  free(m->rt.arena);
  free(m->rt.scratch);
  free(m->weights);
  free(m->io);
  free(m->nodes);
  be_prof_free(m->prof);
  free(m);
}

const BeProf *be_model_prof(const BeModel *m) { return m ? m->prof : NULL; }

int be_emit(Graph *g, const BeOptions *opt, const char *kind, const char *path, char *err, size_t errlen) {
  Target t;
  if (be_target_get(opt && opt->target ? opt->target : "native", &t, err, errlen)) return -1;
  LLVMContextRef ctx = LLVMContextCreate();
  KMod m = {.ctx = ctx, .target = &t, .max_memory = opt ? opt->max_memory : 0};
  m.mod = LLVMModuleCreateWithNameInContext("onnxc_model", ctx);
  ModuleInfo info;
  int rc = -1;
  LLVMTargetMachineRef tm = NULL;
  if (be_build_module(g, &m, "onnxc_graph_run", &info)) {
    snprintf(err, errlen, "%s", ir_last_error(g));
    goto out;
  }
  tm = be_target_machine(&t, true, err, errlen);
  if (!tm) goto out;
  LLVMSetTarget(m.mod, t.triple);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(m.mod, dl);
  LLVMDisposeTargetData(dl);
  if (be_optimize(m.mod, tm, opt && opt->opt_level ? opt->opt_level : 3, err, errlen)) goto out;
  char *msg = NULL;
  if (!strcmp(kind, "llvm")) {
    if (LLVMPrintModuleToFile(m.mod, path, &msg)) {
      snprintf(err, errlen, "cannot write %s: %s", path, msg ? msg : "");
      LLVMDisposeMessage(msg);
      goto out;
    }
  } else if (!strcmp(kind, "asm") || !strcmp(kind, "obj")) {
    if (LLVMTargetMachineEmitToFile(tm, m.mod, path, !strcmp(kind, "asm") ? LLVMAssemblyFile : LLVMObjectFile, &msg)) {
      snprintf(err, errlen, "cannot write %s: %s", path, msg ? msg : "");
      LLVMDisposeMessage(msg);
      goto out;
    }
  } else {
    snprintf(err, errlen, "unknown emit kind '%s'", kind);
    goto out;
  }
  rc = 0;
out:
  if (tm) LLVMDisposeTargetMachine(tm);
  LLVMDisposeModule(m.mod);
  LLVMContextDispose(ctx);
  free(m.blob.data);
  return rc;
}
