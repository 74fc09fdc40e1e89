/* jit.c — the optimization pipeline, and the ORC LLJIT path (onnxc run / bench). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/BitWriter.h>
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
  int spin_off; /* be_set_spin(m, 0) */
  int nkernels, nshared, nkeyed;
  void **io;
  int nnodes;
  char **nodes; /* "Op 'name'" per top-level node (one block): names the node a failed run stopped in */
  void (*release)(void *); /* frees weights (a cache entry's mapping); NULL: free(weights) */
  void *release_ctx;
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
/* the bytes of the graph's constants (saturating) */
static size_t const_bytes(const Graph *g) {
  size_t total = 0;
  for (int i = 0; i < g->nvalues; i++) {
    int64_t b = g->values[i]->data ? pass_value_bytes(g->values[i]) : 0;
    if (b > 0 && (uint64_t)b < SIZE_MAX / 4 - total) total += (size_t)b;
  }
  return total;
}

static void reserve_blob(const Graph *g, WeightBlob *w) {
  size_t total = (1 << 20) + 2 * const_bytes(g);
  total = (total + 63) & ~(size_t)63;
  w->data = aligned_alloc(64, total);
  w->cap = w->data ? total : 0;
  if (w->data) arena_advise_huge(w->data, total); /* packing writes it all once */
}

/* An LLJIT for the host with the process's symbols visible (the runtime the graph function calls);
 * takes tm.  NULL on failure (err written). */
static LLVMOrcLLJITRef jit_create(LLVMTargetMachineRef tm, char *err, size_t errlen) {
  LLVMOrcLLJITBuilderRef jb = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(jb, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(tm));
  LLVMOrcLLJITRef jit;
  LLVMErrorRef e = LLVMOrcCreateLLJIT(&jit, jb);
  if (e) {
    take_error(e, "cannot create the JIT", err, errlen);
    return NULL;
  }
  LLVMOrcDefinitionGeneratorRef gen;
  e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(jit), NULL, NULL);
  if (e) {
    take_error(e, "cannot expose runtime symbols to the JIT", err, errlen);
    LLVMOrcDisposeLLJIT(jit);
    return NULL;
  }
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(jit), gen);
  return jit;
}

/* links the object in buf and the second half's in buf2 (taken; buf2 may be NULL) and finds the graph function; 0 or -1 (err written) */
static int jit_link(LLVMOrcLLJITRef jit, LLVMMemoryBufferRef buf, LLVMMemoryBufferRef buf2,
                    LLVMOrcExecutorAddress *addr, char *err, size_t errlen) {
  LLVMErrorRef e = LLVMOrcLLJITAddObjectFile(jit, LLVMOrcLLJITGetMainJITDylib(jit), buf);
  if (e) {
    if (buf2) LLVMDisposeMemoryBuffer(buf2);
    return take_error(e, "JIT rejected the object", err, errlen);
  }
  if (buf2 && (e = LLVMOrcLLJITAddObjectFile(jit, LLVMOrcLLJITGetMainJITDylib(jit), buf2)))
    return take_error(e, "JIT rejected the second object", err, errlen);
  e = LLVMOrcLLJITLookup(jit, addr, "onnxc_graph_run");
  if (e) return take_error(e, "JIT linking failed", err, errlen);
  return 0;
}

/* The model around a linked JIT: weights are the blob (adopted; release(ctx) frees it, or free()
 * when release is NULL), the profile (adopted; NULL: none), buffers for the arena, io and one
 * thread's scratch.  Frees all on failure. */
static BeModel *model_new(Graph *g, LLVMOrcLLJITRef jit, LLVMOrcExecutorAddress addr, const BeArtifact *a,
                          unsigned char *weights, void (*release)(void *), void *ctx, BeProf *prof, char *err,
                          size_t errlen) {
  BeModel *bm = calloc(1, sizeof *bm);
  if (!bm) {
    snprintf(err, errlen, "out of memory");
    be_prof_free(prof);
    LLVMOrcDisposeLLJIT(jit);
    if (release) release(ctx);
    else free(weights);
    return NULL;
  }
  bm->jit = jit;
  bm->release = release;
  bm->release_ctx = ctx;
  bm->prof = prof;
  bm->rt.prof = prof && prof->timing ? prof->rt : NULL;
  bm->nkernels = a->nkernels;
  bm->nshared = a->nshared;
  bm->nkeyed = a->nkeyed;
  bm->run = (int32_t(*)(onnxc_rt *, void *const *))(uintptr_t)addr;
  bm->weights = weights;
  bm->rt.weights = (const char *)weights;
  bm->rt.arena = xaligned((size_t)a->arena_bytes);
  bm->scratch_bytes = (a->scratch_bytes + 63) & ~(int64_t)63;
  bm->nin = g->ninputs;
  bm->nout = g->noutputs;
  bm->io = ir_xcalloc((size_t)(bm->nin + bm->nout + 1), sizeof(void *));
  bm->nnodes = g->nnodes;
  bm->nodes = node_labels(g);
  be_set_threads(bm, 1);
  if ((!bm->weights && a->blob_bytes) || !bm->rt.arena || !bm->io || !bm->rt.scratch || !bm->nodes) {
    snprintf(err, errlen, "out of memory for the model's buffers (weights %zu, arena %lld, scratch %lld bytes)",
             a->blob_bytes, (long long)a->arena_bytes, (long long)bm->scratch_bytes);
    be_free(bm);
    return NULL;
  }
  return bm;
}

/* the optimized module as a host object file in memory (the JIT links it, the cache keeps it) */
static LLVMMemoryBufferRef emit_object(LLVMTargetMachineRef tm, LLVMModuleRef mod, char *err, size_t errlen) {
  char *msg = NULL;
  LLVMMemoryBufferRef buf = NULL;
  if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &msg, &buf)) {
    snprintf(err, errlen, "internal error: LLVM code generation failed: %s", msg ? msg : "");
    LLVMDisposeMessage(msg);
    return NULL;
  }
  return buf;
}

/* ---- two halves of the module, optimized and compiled on two threads ----
 * LLVM's optimization and code generation are most of a convolutional network's compile, and
 * one LLVMContext cannot be used by two threads.  So the module is split by kernels: the kernels
 * the graph function calls (directly or through onnxc_rt_parallel) are made external (renamed
 * onnxc_jk_*), about half of them by instruction count go to a second module, which is written
 * as bitcode and read into its own context on a worker thread; each half keeps the other's
 * kernels as declarations, and the JIT links both objects.  Helpers a kernel uses (its inner
 * function, subgraph functions) stay internal: each half keeps the copies it uses. */
#define SPLIT_MIN_INSTRS 4000 /* below this the thread and the bitcode round trip do not pay */

typedef struct JitSplit {
  pthread_t th;
  LLVMMemoryBufferRef bc;  /* the whole module as bitcode (the worker frees it) */
  char **drop;             /* the worker deletes these bodies (the first half's kernels) */
  int ndrop;
  char **mine;             /* early split: the worker's kernels, declarations in the main module at the end */
  int nmine;
  Target t;
  int opt_level;
  LLVMMemoryBufferRef obj; /* the worker's result; NULL on failure (err) */
  double cpu_ms;
  char err[512];
} JitSplit;

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
  return x < y ? -1 : x > y;
}

/* instructions in f and in the internal functions it calls (its inner function, inlined) */
static long fn_size(LLVMValueRef f, int depth) {
  long n = 0;
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(f); bb; bb = LLVMGetNextBasicBlock(bb))
    for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i)) {
      n++;
      LLVMValueRef c = depth < 2 && LLVMIsACallInst(i) ? LLVMGetCalledValue(i) : NULL;
      if (c && LLVMIsAFunction(c) && LLVMGetLinkage(c) == LLVMInternalLinkage && LLVMCountBasicBlocks(c))
        n += fn_size(c, depth + 1);
    }
  return n;
}

/* the defined functions the graph function's instructions name (its kernels), each once */
static LLVMValueRef *graph_kernels(LLVMValueRef gfn, int *nk) {
  int n = 0, cap = 64;
  LLVMValueRef *k = ir_xmalloc(sizeof *k * (size_t)cap);
  for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(gfn); bb; bb = LLVMGetNextBasicBlock(bb))
    for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i)) {
      if (!LLVMIsACallInst(i)) continue;
      int no = LLVMGetNumOperands(i);
      for (int j = 0; j < no; j++) {
        LLVMValueRef f = LLVMGetOperand(i, (unsigned)j);
        if (!f || !LLVMIsAFunction(f) || !LLVMCountBasicBlocks(f) || f == gfn) continue;
        if (n == cap) k = ir_xrealloc(k, sizeof *k * (size_t)(cap *= 2));
        k[n++] = f;
      }
    }
  qsort(k, (size_t)n, sizeof *k, cmp_ptr);
  int u = 0;
  for (int i = 0; i < n; i++)
    if (!u || k[u - 1] != k[i]) k[u++] = k[i];
  *nk = u;
  return k;
}

/* f's body gone: a declaration of the same name and type takes its uses */
static void make_declaration(LLVMModuleRef mod, LLVMValueRef f) {
  size_t len;
  const char *nm = LLVMGetValueName2(f, &len);
  char *name = ir_xmalloc(len + 1);
  memcpy(name, nm, len);
  name[len] = 0;
  LLVMValueRef d = LLVMAddFunction(mod, "onnxc_jk_tmp", LLVMGlobalGetValueType(f));
  LLVMReplaceAllUsesWith(f, d);
  LLVMDeleteFunction(f);
  LLVMSetValueName2(d, name, len);
  free(name);
}

/* internal functions nothing uses any more (the inner functions of the kernels the other half
 * compiles) deleted now: LLVM's pipeline would optimize them before dropping them */
static void drop_unused(LLVMModuleRef mod) {
  for (bool again = true; again;) {
    again = false;
    for (LLVMValueRef f = LLVMGetFirstFunction(mod), nx; f; f = nx) {
      nx = LLVMGetNextFunction(f);
      if (LLVMGetLinkage(f) == LLVMInternalLinkage && !LLVMGetFirstUse(f)) {
        LLVMDeleteFunction(f);
        again = true;
      }
    }
  }
}

static double thread_cpu_ms(void) { return (double)onnxc_prof_thread_cpu_ns() / 1e6; }

static void *split_main(void *arg) {
  JitSplit *s = arg;
  double c0 = thread_cpu_ms();
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = NULL;
  LLVMTargetMachineRef tm = NULL;
  if (LLVMParseBitcodeInContext2(ctx, s->bc, &mod)) {
    snprintf(s->err, sizeof s->err, "internal error: the module's second half did not read back");
    goto out;
  }
  LLVMValueRef g = LLVMGetNamedFunction(mod, "onnxc_graph_run");
  if (g) LLVMDeleteFunction(g);
  for (int i = 0; i < s->ndrop; i++) {
    LLVMValueRef f = LLVMGetNamedFunction(mod, s->drop[i]);
    if (f) make_declaration(mod, f);
  }
  drop_unused(mod);
  if ((tm = be_target_machine(&s->t, false, s->err, sizeof s->err)) &&
      !be_optimize(mod, tm, s->opt_level, s->err, sizeof s->err))
    s->obj = emit_object(tm, mod, s->err, sizeof s->err);
out:
  if (tm) LLVMDisposeTargetMachine(tm);
  if (mod) LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
  s->cpu_ms = thread_cpu_ms() - c0;
  return NULL;
}

static void split_free(JitSplit *s) {
  if (!s) return;
  for (int i = 0; i < s->ndrop; i++) free(s->drop[i]);
  free(s->drop);
  for (int i = 0; i < s->nmine; i++) free(s->mine[i]);
  free(s->mine);
  if (s->bc) LLVMDisposeMemoryBuffer(s->bc);
  free(s);
}

/* ONNXC_JIT_THREADS: 1 = one module, one thread (to compare); 2 = two whenever there are two
 * kernels (tests); unset = two when the module is large enough to pay.  The minimum instruction
 * count to split, or -1 for never. */
static long split_min(void) {
  const char *e = getenv("ONNXC_JIT_THREADS");
  int n = e && *e ? atoi(e) : 0;
  return n == 1 ? -1 : n >= 2 ? 0 : SPLIT_MIN_INSTRS;
}

/* kernel f renamed onnxc_jk_* and made external, for the other half to link; its new name
 * (malloc'd; NULL when out of memory) */
static char *export_kernel(LLVMValueRef f) {
  char nm[300];
  size_t len;
  snprintf(nm, sizeof nm, "onnxc_jk_%.250s", LLVMGetValueName2(f, &len));
  LLVMSetValueName2(f, nm, strlen(nm));
  LLVMSetLinkage(f, LLVMExternalLinkage);
  return strdup(LLVMGetValueName2(f, &len));
}

/* Splits mod (the first half stays in it) and starts the worker on the second; NULL when the
 * module is small, has fewer than two kernels, or the thread cannot start (then nothing changed
 * that matters: the kernels are only renamed and external). */
static JitSplit *split_start(LLVMModuleRef mod, const Target *t, int opt_level) {
  LLVMValueRef gfn = LLVMGetNamedFunction(mod, "onnxc_graph_run");
  long min = split_min();
  if (!gfn || min < 0) return NULL;
  int nk;
  LLVMValueRef *k = graph_kernels(gfn, &nk);
  long *sz = ir_xmalloc(sizeof *sz * (size_t)(nk ? nk : 1)), total = 0;
  for (int i = 0; i < nk; i++) total += sz[i] = fn_size(k[i], 0);
  JitSplit *s = NULL;
  if (nk < 2 || total < min) goto out;
  /* largest first, each to the lighter half; second[i]: kernel i goes to the worker */
  bool *second = ir_xcalloc((size_t)nk, sizeof *second);
  int *ord = ir_xmalloc(sizeof *ord * (size_t)nk);
  for (int i = 0; i < nk; i++) ord[i] = i;
  for (int i = 1; i < nk; i++)
    for (int j = i; j > 0 && sz[ord[j]] > sz[ord[j - 1]]; j--) {
      int x = ord[j];
      ord[j] = ord[j - 1], ord[j - 1] = x;
    }
  long w[2] = {0, 0};
  for (int i = 0; i < nk; i++) {
    int h = w[1] < w[0];
    second[ord[i]] = h;
    w[h] += sz[ord[i]];
  }
  s = ir_xcalloc(1, sizeof *s);
  s->t = *t;
  s->opt_level = opt_level;
  s->drop = ir_xmalloc(sizeof *s->drop * (size_t)nk);
  for (int i = 0; i < nk; i++) {
    char *nm = export_kernel(k[i]);
    if (!second[i]) s->drop[s->ndrop++] = nm;
    else free(nm);
  }
  s->bc = LLVMWriteBitcodeToMemoryBuffer(mod);
  bool ok = s->bc != NULL;
  for (int i = 0; i < s->ndrop && ok; i++) ok = s->drop[i] != NULL;
  if (!ok || pthread_create(&s->th, NULL, split_main, s)) {
    split_free(s);
    s = NULL;
  } else
    for (int i = 0; i < nk; i++)
      if (second[i]) make_declaration(mod, k[i]);
  if (s) drop_unused(mod);
  free(second);
  free(ord);
out:
  free(sz);
  free(k);
  return s;
}

/* ---- the first part's kernels on the second thread while the rest are generated ----
 * Kernel generation (IR building and weight packing) runs before LLVM and took a third of a
 * convolutional network's compile on one core.  So after the first EARLY_PART of the nodes
 * (KMod.early, called from build_graph with the graph function terminated for the moment) every
 * kernel so far goes to the worker as above; the main thread generates the rest, which it then
 * optimizes and compiles alone, while the worker compiles the first part.  The split point
 * depends on the graph only: the output is the same at every run. */
#define EARLY_PART 0.5
/* Only when packing weights makes kernel generation long: with a few MB of weights it is short
 * and the first half's kernels (a network's shapes repeat less early on) outweigh the rest
 * (MobileNetV2 14 MB, SqueezeNet 5 MB: compile 1.3 → 1.6 s, 2.2 → 2.4 s; DenseNet-121 32 MB,
 * ResNet-18 47 MB, ResNet-50 100 MB and BERT gain 10-35%). */
#define EARLY_MIN_WEIGHTS (24u << 20)

typedef struct Early {
  const Target *t;
  int opt_level;
  JitSplit *s; /* started, or NULL */
} Early;

static void early_split(KMod *m, LLVMValueRef gfn, void *arg) {
  Early *e = arg;
  long min = split_min();
  int nk;
  LLVMValueRef *k = graph_kernels(gfn, &nk);
  long total = 0;
  for (int i = 0; i < nk; i++) total += fn_size(k[i], 0);
  if (min < 0 || nk < 1 || total < min / 2) {
    free(k);
    return;
  }
  JitSplit *s = ir_xcalloc(1, sizeof *s);
  s->t = *e->t;
  s->opt_level = e->opt_level;
  s->mine = ir_xmalloc(sizeof *s->mine * (size_t)nk);
  bool ok = true;
  for (int i = 0; i < nk; i++)
    if (!(s->mine[s->nmine++] = export_kernel(k[i]))) ok = false;
  free(k);
  s->bc = ok ? LLVMWriteBitcodeToMemoryBuffer(m->mod) : NULL;
  if (!s->bc || pthread_create(&s->th, NULL, split_main, s)) {
    split_free(s); /* the kernels stay renamed and external: nothing that matters changed */
    return;
  }
  e->s = s;
  be_phase("kernel gen (2nd thread on)");
}

/* the main module after the build: the worker's kernels become declarations */
static void early_finish(LLVMModuleRef mod, JitSplit *s) {
  for (int i = 0; i < s->nmine; i++) {
    LLVMValueRef f = LLVMGetNamedFunction(mod, s->mine[i]);
    if (f && LLVMCountBasicBlocks(f)) make_declaration(mod, f);
  }
  drop_unused(mod);
}

/* ONNXC_JIT_EARLY: the part of the nodes whose kernels go early (0 = none: one split after
 * the build, as for small graphs) */
static double early_part(void) {
  const char *e = getenv("ONNXC_JIT_EARLY");
  return e && *e ? atof(e) : EARLY_PART;
}

/* waits for the worker: its object, or NULL with err written */
static LLVMMemoryBufferRef split_join(JitSplit *s, double *cpu_ms, char *err, size_t errlen) {
  pthread_join(s->th, NULL);
  LLVMMemoryBufferRef obj = s->obj;
  if (!obj) snprintf(err, errlen, "%s", s->err);
  *cpu_ms = s->cpu_ms;
  split_free(s);
  return obj;
}

/* Kernel gen, optimization and code generation to an object, which the JIT then links (rather
 * than giving it the IR) so that the same bytes can be kept by opt->keep and linked again by
 * be_jit_artifact in a later process. */
BeModel *be_jit(Graph *g, const BeOptions *opt, char *err, size_t errlen) {
  BeOptions dflt = {.opt_level = 3};
  if (!opt) opt = &dflt;
  Target t;
  if (be_target_get(opt->target, &t, err, errlen)) return NULL;
  if (strcmp(t.name, "native")) {
    snprintf(err, errlen, "the JIT runs on the host only (target '%s' is for `onnxc compile`)", t.name);
    return NULL;
  }
  if (be_fp_mode_check(g, &t, err, errlen)) return NULL;
  LLVMContextRef ctx = LLVMContextCreate();
  KMod m = {.ctx = ctx, .target = &t, .max_memory = opt->max_memory};
  m.mod = LLVMModuleCreateWithNameInContext("onnxc_model", m.ctx);
  ModuleInfo info;
  LLVMTargetMachineRef tm = NULL;
  LLVMMemoryBufferRef obj = NULL, obj2 = NULL;
  JitSplit *split = NULL;
  be_phase("kernel gen");
  reserve_blob(g, &m.blob);
  if ((opt->profile || opt->perf_map) && !(m.prof = be_prof_new(g, opt->profile))) {
    snprintf(err, errlen, "out of memory for the profile");
    goto fail;
  }
  if (!(tm = be_target_machine(&t, false, err, errlen))) goto fail;
  LLVMSetTarget(m.mod, t.triple);
  LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
  LLVMSetModuleDataLayout(m.mod, dl);
  LLVMDisposeTargetData(dl);
  int level = opt->opt_level ? opt->opt_level : 3;
  /* profiling's timing globals and the dumped module stay whole */
  Early early = {.t = &t, .opt_level = level};
  double part = early_part();
  if (!m.prof && !opt->dump_llvm && part > 0 && part < 1 && g->nnodes >= 4 &&
      (split_min() == 0 || const_bytes(g) >= EARLY_MIN_WEIGHTS)) {
    m.early = early_split;
    m.early_arg = &early;
    m.early_at = (int)(part * g->nnodes);
  }
  int built = be_build_module(g, &m, "onnxc_graph_run", &info);
  split = early.s;
  if (built) {
    snprintf(err, errlen, "%s", ir_last_error(g));
    goto fail;
  }
  be_phase_kernels(info.nkernels, info.nshared);
  if (split) early_finish(m.mod, split);
  else if (!m.prof && !opt->dump_llvm) split = split_start(m.mod, &t, level);
  if (be_phase_checked("llvm opt", "LLVM optimization", err, errlen) || be_optimize(m.mod, tm, level, err, errlen))
    goto fail;
  if (opt->dump_llvm) {
    char *s = LLVMPrintModuleToString(m.mod);
    fputs(s, stderr);
    LLVMDisposeMessage(s);
  }
  if (be_phase_checked("llvm codegen (jit)", "LLVM code generation", err, errlen) ||
      !(obj = emit_object(tm, m.mod, err, errlen)))
    goto fail;
  if (split) {
    be_phase("llvm (2nd thread, wait)");
    double cpu;
    bool was_early = split->nmine > 0;
    obj2 = split_join(split, &cpu, err, errlen);
    split = NULL;
    be_phase_add_cpu(was_early ? "llvm (2nd thread, early)" : "llvm (2nd thread)", cpu);
    if (!obj2) goto fail;
  }
  LLVMDisposeModule(m.mod);
  LLVMContextDispose(ctx);
  m.mod = NULL, ctx = NULL;
  unsigned char *weights = m.blob.data;
  if (weights && (uintptr_t)weights % 64) { /* reserve_blob's guess did not hold: copy once, aligned */
    weights = xaligned(m.blob.size);
    if (weights && m.blob.size) memcpy(weights, m.blob.data, m.blob.size);
    free(m.blob.data);
  }
  m.blob.data = NULL;
  BeArtifact a = {.obj = LLVMGetBufferStart(obj), .obj_bytes = LLVMGetBufferSize(obj),
                  .obj2 = obj2 ? LLVMGetBufferStart(obj2) : NULL, .obj2_bytes = obj2 ? LLVMGetBufferSize(obj2) : 0,
                  .blob = weights,
                  .blob_bytes = m.blob.size, .arena_bytes = info.arena_bytes, .scratch_bytes = info.scratch_bytes,
                  .nkernels = info.nkernels, .nshared = info.nshared, .nkeyed = info.nkeyed,
                  .ninputs = g->ninputs, .noutputs = g->noutputs, .nnodes = g->nnodes};
  if (opt->keep && weights) {
    be_phase("cache store");
    opt->keep(opt->keep_ctx, &a);
    be_phase("llvm codegen (jit)");
  }
  LLVMOrcLLJITRef jit = jit_create(tm, err, errlen); /* takes tm */
  tm = NULL;
  /* attached before the object is linked, so it sees the object's symbols */
  BePerfMap *pm = jit && opt->perf_map ? be_perfmap_attach(jit, "onnxc_graph_run") : NULL;
  LLVMOrcExecutorAddress addr;
  int linked = jit ? jit_link(jit, obj, obj2, &addr, err, errlen) : -1;
  if (!linked && opt->perf_map && (!pm || be_perfmap_write(pm, jit, m.prof, err, errlen))) {
    if (!pm) snprintf(err, errlen, "out of memory for the perf map");
    linked = -1;
  }
  if (jit) be_perfmap_free(pm, jit);
  if (linked) {
    if (jit) LLVMOrcDisposeLLJIT(jit);
    else {
      LLVMDisposeMemoryBuffer(obj);
      if (obj2) LLVMDisposeMemoryBuffer(obj2);
    }
    be_prof_free(m.prof);
    free(weights);
    return NULL;
  }
  be_phase(NULL);
  return model_new(g, jit, addr, &a, weights, NULL, NULL, m.prof, err, errlen);

fail:
  if (split) { /* the first error stays err's */
    double cpu;
    char e2[512];
    obj2 = split_join(split, &cpu, e2, sizeof e2);
  }
  if (obj2) LLVMDisposeMemoryBuffer(obj2);
  be_prof_free(m.prof);
  if (obj) LLVMDisposeMemoryBuffer(obj);
  if (tm) LLVMDisposeTargetMachine(tm);
  if (m.mod) LLVMDisposeModule(m.mod);
  if (ctx) LLVMContextDispose(ctx);
  free(m.blob.data);
  return NULL;
}

BeModel *be_jit_artifact(Graph *g, const BeArtifact *a, void (*release)(void *), void *release_ctx, char *err,
                         size_t errlen) {
  if (a->ninputs != g->ninputs || a->noutputs != g->noutputs || a->nnodes != g->nnodes ||
      (uintptr_t)a->blob % 64 || a->arena_bytes < 0 || a->scratch_bytes < 0) {
    snprintf(err, errlen, "the compiled code does not fit the graph (%d/%d/%d inputs/outputs/nodes, the graph has %d/%d/%d)",
             a->ninputs, a->noutputs, a->nnodes, g->ninputs, g->noutputs, g->nnodes);
    release(release_ctx);
    return NULL;
  }
  Target t;
  LLVMTargetMachineRef tm = NULL;
  if (be_target_get("native", &t, err, errlen) || !(tm = be_target_machine(&t, false, err, errlen))) {
    release(release_ctx);
    return NULL;
  }
  LLVMOrcLLJITRef jit = jit_create(tm, err, errlen);
  LLVMMemoryBufferRef obj = LLVMCreateMemoryBufferWithMemoryRangeCopy(a->obj, a->obj_bytes, "onnxc_cached");
  LLVMMemoryBufferRef obj2 =
      a->obj2_bytes ? LLVMCreateMemoryBufferWithMemoryRangeCopy(a->obj2, a->obj2_bytes, "onnxc_cached2") : NULL;
  LLVMOrcExecutorAddress addr;
  if (!jit || !obj || (a->obj2_bytes && !obj2) || jit_link(jit, obj, obj2, &addr, err, errlen)) {
    if (!obj || (a->obj2_bytes && !obj2)) snprintf(err, errlen, "out of memory");
    if (jit) LLVMOrcDisposeLLJIT(jit);
    else {
      if (obj) LLVMDisposeMemoryBuffer(obj);
      if (obj2) LLVMDisposeMemoryBuffer(obj2);
    }
    release(release_ctx);
    return NULL;
  }
  return model_new(g, jit, addr, a, (unsigned char *)(uintptr_t)a->blob, release, release_ctx, NULL, err, errlen);
}

void be_set_threads(BeModel *m, int threads) {
  if (threads <= 0) threads = onnxc_cpu_count();
  if (m->rt.pool) onnxc_pool_destroy(m->rt.pool);
  m->rt.pool = threads > 1 ? onnxc_pool_create(threads) : NULL;
  m->threads = onnxc_pool_threads(m->rt.pool);
  onnxc_pool_set_spin(m->rt.pool, !m->spin_off);
  free(m->rt.scratch);
  m->rt.scratch_stride = m->scratch_bytes;
  m->rt.scratch = xaligned((size_t)(m->scratch_bytes * m->threads));
}

void be_set_spin(BeModel *m, int on) {
  m->spin_off = !on;
  onnxc_pool_set_spin(m->rt.pool, on);
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
  onnxc_pool_rest(m->rt.pool);
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
  if (m->release) m->release(m->release_ctx);
  else free(m->weights);
  free(m->io);
  free(m->nodes);
  be_prof_free(m->prof);
  free(m);
}

const BeProf *be_model_prof(const BeModel *m) { return m ? m->prof : NULL; }

int be_emit(Graph *g, const BeOptions *opt, const char *kind, const char *path, char *err, size_t errlen) {
  Target t;
  if (be_target_get(opt && opt->target ? opt->target : "native", &t, err, errlen)) return -1;
  if (be_fp_mode_check(g, &t, err, errlen)) return -1;
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
