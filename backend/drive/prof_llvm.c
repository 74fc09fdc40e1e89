/* prof_llvm.c — the LLVM side of profiling: the timing calls of a profiled graph function
 * (runtime/prof.c does the timing) and the perf map of the JIT's code (prof_llvm.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Object.h>
#include <llvm-c/Orc.h>

#include "prof_llvm.h"

/* void fn(ptr rt[, i32 k]) declared in the module once */
static LLVMValueRef rt_fn(KMod *m, const char *name, bool with_k, LLVMTypeRef *ty) {
  LLVMTypeRef params[2] = {LLVMPointerTypeInContext(m->ctx, 0), LLVMInt32TypeInContext(m->ctx)};
  *ty = LLVMFunctionType(LLVMVoidTypeInContext(m->ctx), params, with_k ? 2 : 1, 0);
  LLVMValueRef f = LLVMGetNamedFunction(m->mod, name);
  return f ? f : LLVMAddFunction(m->mod, name, *ty);
}

void be_prof_emit_start(KMod *m, LLVMBuilderRef b, LLVMValueRef rt) {
  if (!m->prof || !m->prof->timing) return;
  LLVMTypeRef ty;
  LLVMValueRef f = rt_fn(m, "onnxc_prof_start", false, &ty);
  LLVMBuildCall2(b, ty, f, &rt, 1, "");
}

void be_prof_emit_node(KMod *m, LLVMBuilderRef b, LLVMValueRef rt, int k, LLVMValueRef kfn) {
  if (!m->prof) return;
  size_t len;
  const char *name = LLVMGetValueName2(kfn, &len);
  be_prof_set_kernel(m->prof, k, name, len);
  if (!m->prof->timing) return;
  LLVMTypeRef ty;
  LLVMValueRef f = rt_fn(m, "onnxc_prof_node", true, &ty);
  LLVMValueRef args[2] = {rt, LLVMConstInt(LLVMInt32TypeInContext(m->ctx), (unsigned long long)k, 0)};
  LLVMBuildCall2(b, ty, f, args, 2, "");
}

/* ---- the perf map ---- */
typedef struct PerfSym {
  char *name;
  uint64_t off, size; /* in the object's text section */
} PerfSym;

struct BePerfMap {
  char *anchor;
  PerfSym *syms; /* of the object that defines anchor */
  int n;
  uint64_t anchor_off;
  bool found;
  bool oom;
};

static void syms_free(PerfSym *s, int n) {
  for (int i = 0; i < n; i++) free(s[i].name);
  free(s);
}

/* the text-section symbols with a size of one object; *anchor_at: index of pm->anchor or -1 */
static PerfSym *object_syms(BePerfMap *pm, LLVMBinaryRef bin, int *n, int *anchor_at) {
  PerfSym *s = NULL;
  int cap = 0;
  *n = 0, *anchor_at = -1;
  LLVMSymbolIteratorRef si = LLVMObjectFileCopySymbolIterator(bin);
  LLVMSectionIteratorRef sec = LLVMObjectFileCopySectionIterator(bin);
  for (; !LLVMObjectFileIsSymbolIteratorAtEnd(bin, si); LLVMMoveToNextSymbol(si)) {
    const char *name = LLVMGetSymbolName(si);
    uint64_t size = LLVMGetSymbolSize(si);
    if (!name || !*name || !size) continue;
    LLVMMoveToContainingSection(sec, si);
    if (LLVMObjectFileIsSectionIteratorAtEnd(bin, sec)) continue;
    const char *sn = LLVMGetSectionName(sec);
    if (!sn || strcmp(sn, ".text")) continue; /* functions only: the JIT's module has no function sections */
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      PerfSym *t = realloc(s, sizeof *s * (size_t)cap);
      if (!t) goto oom;
      s = t;
    }
    if (!(s[*n].name = strdup(name))) goto oom;
    s[*n].off = LLVMGetSymbolAddress(si); /* section-relative in a relocatable object */
    s[*n].size = size;
    if (!strcmp(name, pm->anchor)) *anchor_at = *n;
    ++*n;
  }
  LLVMDisposeSectionIterator(sec);
  LLVMDisposeSymbolIterator(si);
  return s;
oom:
  pm->oom = true;
  LLVMDisposeSectionIterator(sec);
  LLVMDisposeSymbolIterator(si);
  syms_free(s, *n);
  *n = 0;
  return NULL;
}

/* the object transform: reads the object's symbols, passes the object on unchanged */
static LLVMErrorRef perf_transform(void *ctx, LLVMMemoryBufferRef *obj) {
  BePerfMap *pm = ctx;
  char *msg = NULL;
  LLVMBinaryRef bin = LLVMCreateBinary(*obj, NULL, &msg);
  if (!bin) { /* not an object we can read: linked as is, just not mapped */
    LLVMDisposeMessage(msg);
    return NULL;
  }
  int n, at;
  PerfSym *s = object_syms(pm, bin, &n, &at);
  LLVMDisposeBinary(bin);
  if (at < 0 || pm->found) {
    syms_free(s, n);
    return NULL;
  }
  pm->syms = s, pm->n = n, pm->anchor_off = s[at].off, pm->found = true;
  return NULL;
}

static LLVMErrorRef pass_through(void *ctx, LLVMMemoryBufferRef *obj) {
  (void)ctx, (void)obj;
  return NULL;
}

BePerfMap *be_perfmap_attach(LLVMOrcLLJITRef jit, const char *anchor) {
  BePerfMap *pm = calloc(1, sizeof *pm);
  if (!pm || !(pm->anchor = strdup(anchor))) {
    free(pm);
    return NULL;
  }
  LLVMOrcObjectTransformLayerSetTransform(LLVMOrcLLJITGetObjTransformLayer(jit), perf_transform, pm);
  return pm;
}

/* the first top-level node whose kernel is sym, or -1 */
static int node_of(const BeProf *prof, const char *sym) {
  for (int k = 0; prof && k < prof->n; k++)
    if (!strcmp(prof->nodes[k].kernel, sym)) return k;
  return -1;
}

/* a node name as one word: perf shows the symbol up to the end of the line, but tools split on
 * blanks */
static void put_word(FILE *f, const char *s) {
  for (; *s; s++) fputc(*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ? '_' : *s, f);
}

int be_perfmap_write(BePerfMap *pm, LLVMOrcLLJITRef jit, const BeProf *prof, char *err, size_t errlen) {
  if (pm->oom) return snprintf(err, errlen, "out of memory for the perf map"), -1;
  LLVMOrcExecutorAddress at;
  LLVMErrorRef e = pm->found ? LLVMOrcLLJITLookup(jit, &at, pm->anchor) : NULL;
  if (!pm->found || e) {
    if (e) LLVMConsumeError(e);
    snprintf(err, errlen, "perf map: the JIT's code for %s was not seen", pm->anchor);
    return -1;
  }
  uint64_t base = (uint64_t)at - pm->anchor_off; /* the text section is placed whole */
  char path[64];
  snprintf(path, sizeof path, "/tmp/perf-%ld.map", (long)getpid());
  FILE *f = fopen(path, "a"); /* appended: every model JIT-compiled in this process */
  if (!f) {
    snprintf(err, errlen, "perf map: cannot open %s", path);
    return -1;
  }
  for (int i = 0; i < pm->n; i++) {
    const PerfSym *s = &pm->syms[i];
    fprintf(f, "%" PRIx64 " %" PRIx64 " onnxc:", base + s->off, s->size);
    int k = node_of(prof, s->name);
    put_word(f, s->name);
    if (k >= 0) {
      fprintf(f, ":%s:", prof->nodes[k].op);
      put_word(f, prof->nodes[k].name);
    }
    fputc('\n', f);
  }
  if (fclose(f)) {
    snprintf(err, errlen, "perf map: cannot write %s", path);
    return -1;
  }
  return 0;
}

void be_perfmap_free(BePerfMap *pm, LLVMOrcLLJITRef jit) {
  if (!pm) return;
  if (jit) LLVMOrcObjectTransformLayerSetTransform(LLVMOrcLLJITGetObjTransformLayer(jit), pass_through, NULL);
  syms_free(pm->syms, pm->n);
  free(pm->anchor);
  free(pm);
}
