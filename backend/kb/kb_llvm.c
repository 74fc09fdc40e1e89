/* kb_llvm.c — the kernel builder (kb.h) implemented on the LLVM 19 C API.
 *
 * A kernel is two functions: an inner one taking each buffer as its own `noalias` pointer
 * parameter (always inlined), and the outer one with the uniform kernel signature that loads the
 * pointers from bufs[] and calls the inner one.  Inlining turns the noalias parameters into
 * alias scopes, so loads from inputs can be hoisted past stores to outputs.
 *
 * Weights a generator adds (kb_weight) are reached through bufs[nbufs + k], which the caller fills,
 * not through a constant offset: so kernels that differ only in their weights (ResNet's convs of
 * one shape) have identical IR, and kb_kernel_end returns the first such kernel instead of
 * keeping another copy for LLVM to optimize and compile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_impl.h"
#include "llvm_int.h"

#define KB_MAX_FRAMES 64
#define KB_MAX_BUFS 4096

typedef struct Frame {
  int kind; /* 0 loop, 1 if */
  LLVMValueRef phi, step;
  LLVMBasicBlockRef header, exit, els, merge;
  bool has_else;
} Frame;

struct KB {
  KBHead h; /* first: kb_llvm_emitter */
  KMod *m;
  LLVMContextRef ctx;
  LLVMBuilderRef b, eb; /* body builder, entry (alloca) builder */
  LLVMValueRef inner, outer;
  LLVMTypeRef inner_ty;
  LLVMBasicBlockRef entry, body0;
  int nbufs;
  LLVMValueRef weights, scratch, begin, end, bufsp;
  size_t *wofs; /* blob offsets of the kernel's kb_weight pointers, bufs[nbufs + k] */
  int nw, capw;
  Frame frames[KB_MAX_FRAMES];
  int nframes;
  int ntmp;
};

#define V(x) ((LLVMValueRef)(x))
#define K(x) ((KV)(x))

/* this file's half of kb_impl.h's emitter table */
#define DECL(R, name, params, args) static R kbl_##name params;
#define DECLV(name, params, args) static void kbl_##name params;
KB_EMITTER_OPS(DECL, DECLV)

/* ---- types ---- */
static LLVMTypeRef elem_ty(LLVMContextRef c, KElem e) {
  switch (e) {
  case KE_VOID: return LLVMVoidTypeInContext(c);
  case KE_I1: return LLVMInt1TypeInContext(c);
  case KE_I8: return LLVMInt8TypeInContext(c);
  case KE_I16: return LLVMInt16TypeInContext(c);
  case KE_I32: return LLVMInt32TypeInContext(c);
  case KE_I64: return LLVMInt64TypeInContext(c);
  case KE_F16: return LLVMHalfTypeInContext(c);
  case KE_BF16: return LLVMBFloatTypeInContext(c);
  case KE_F32: return LLVMFloatTypeInContext(c);
  case KE_F64: return LLVMDoubleTypeInContext(c);
  case KE_PTR: return LLVMPointerTypeInContext(c, 0);
  }
  return NULL;
}

LLVMTypeRef kb_llvm_type(LLVMContextRef c, KT t) {
  LLVMTypeRef e = elem_ty(c, t.e);
  return t.lanes > 1 ? LLVMVectorType(e, (unsigned)t.lanes) : e;
}

static LLVMTypeRef ty(KB *kb, KT t) { return kb_llvm_type(kb->ctx, t); }

static KT kbl_type(KB *kb, KV v) {
  (void)kb;
  LLVMTypeRef t = LLVMTypeOf(V(v));
  int lanes = 1;
  if (LLVMGetTypeKind(t) == LLVMVectorTypeKind) {
    lanes = (int)LLVMGetVectorSize(t);
    t = LLVMGetElementType(t);
  }
  KElem e = KE_VOID;
  switch (LLVMGetTypeKind(t)) {
  case LLVMHalfTypeKind: e = KE_F16; break;
  case LLVMBFloatTypeKind: e = KE_BF16; break;
  case LLVMFloatTypeKind: e = KE_F32; break;
  case LLVMDoubleTypeKind: e = KE_F64; break;
  case LLVMPointerTypeKind: e = KE_PTR; break;
  case LLVMIntegerTypeKind:
    switch (LLVMGetIntTypeWidth(t)) {
    case 1: e = KE_I1; break;
    case 8: e = KE_I8; break;
    case 16: e = KE_I16; break;
    case 32: e = KE_I32; break;
    default: e = KE_I64; break;
    }
    break;
  default: break;
  }
  return kt(e, lanes);
}

static bool is_fp(KB *kb, KV v) { return kb_is_float(kb_type(kb, v).e); }

static int kbl_vector_bytes(const KB *kb) { return kb->m->target->vector_bytes; }
static int kbl_lanes(const KB *kb, KElem e) {
  size_t s = kb_elem_size(e);
  if (e == KE_I1) s = 1;
  return s ? (int)(kb->m->target->vector_bytes / (int)s) : 1;
}

/* ---- intrinsics ---- */
static LLVMValueRef intrin(KB *kb, const char *name, LLVMTypeRef *ovl, int novl, LLVMValueRef *args, int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (!id) {
    fprintf(stderr, "onnxc: internal error: unknown intrinsic %s\n", name);
    abort();
  }
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(kb->m->mod, id, ovl, (size_t)novl);
  LLVMTypeRef ft = LLVMIntrinsicGetType(kb->ctx, id, ovl, (size_t)novl);
  return LLVMBuildCall2(kb->b, ft, f, args, (unsigned)nargs, "");
}

static KV intrin1(KB *kb, const char *name, KV a) {
  LLVMTypeRef t = LLVMTypeOf(V(a));
  LLVMValueRef args[1] = {V(a)};
  return K(intrin(kb, name, &t, 1, args, 1));
}

static KV intrin2(KB *kb, const char *name, KV a, KV b) {
  LLVMTypeRef t = LLVMTypeOf(V(a));
  LLVMValueRef args[2] = {V(a), V(b)};
  return K(intrin(kb, name, &t, 1, args, 2));
}

/* ---- constants ---- */
static KV splat_const(KB *kb, KT t, LLVMValueRef s) {
  if (t.lanes <= 1) return K(s);
  LLVMValueRef *v = ir_xmalloc(sizeof(LLVMValueRef) * (size_t)t.lanes);
  for (int i = 0; i < t.lanes; i++) v[i] = s;
  LLVMValueRef r = LLVMConstVector(v, (unsigned)t.lanes);
  free(v);
  return K(r);
}

static KV kbl_int(KB *kb, KT t, int64_t x) {
  return splat_const(kb, t, LLVMConstInt(elem_ty(kb->ctx, t.e), (unsigned long long)x, 1));
}
static KV kbl_i64(KB *kb, int64_t x) { return kb_int(kb, kt_s(KE_I64), x); }
static KV kbl_i32(KB *kb, int32_t x) { return kb_int(kb, kt_s(KE_I32), x); }
static KV kbl_float(KB *kb, KT t, double x) { return splat_const(kb, t, LLVMConstReal(elem_ty(kb->ctx, t.e), x)); }
static KV kbl_f32(KB *kb, float x) { return kb_float(kb, kt_s(KE_F32), x); }
static KV kbl_f64(KB *kb, double x) { return kb_float(kb, kt_s(KE_F64), x); }
static KV kbl_true(KB *kb) { return kb_int(kb, kt_s(KE_I1), 1); }
static KV kbl_false(KB *kb) { return kb_int(kb, kt_s(KE_I1), 0); }
static KV kbl_null(KB *kb) { return K(LLVMConstNull(elem_ty(kb->ctx, KE_PTR))); }

static KV kbl_iota(KB *kb, KT t) {
  LLVMValueRef *v = ir_xmalloc(sizeof(LLVMValueRef) * (size_t)t.lanes);
  for (int i = 0; i < t.lanes; i++)
    v[i] = kb_is_float(t.e) ? LLVMConstReal(elem_ty(kb->ctx, t.e), i)
                            : LLVMConstInt(elem_ty(kb->ctx, t.e), (unsigned long long)i, 0);
  LLVMValueRef r = t.lanes > 1 ? LLVMConstVector(v, (unsigned)t.lanes) : v[0];
  free(v);
  return K(r);
}

/* ---- kernel lifecycle ---- */
void kb_set_fn_target_attrs(KMod *m, LLVMValueRef fn) {
  const Target *t = m->target;
  struct {
    const char *k, *v;
  } attrs[] = {
      {"target-cpu", t->cpu},
      {"target-features", t->features},
      {"min-legal-vector-width", t->vector_bytes >= 64 ? "512" : t->vector_bytes >= 32 ? "256" : "128"},
      {"prefer-vector-width", t->vector_bytes >= 64 ? "512" : t->vector_bytes >= 32 ? "256" : "128"},
      {"no-trapping-math", "true"},
  };
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
    if (!attrs[i].v || !*attrs[i].v) continue;
    LLVMAttributeRef a = LLVMCreateStringAttribute(m->ctx, attrs[i].k, (unsigned)strlen(attrs[i].k),
                                                   attrs[i].v, (unsigned)strlen(attrs[i].v));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
  }
  unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(m->ctx, nounwind, 0));
}

static void add_enum_attr(LLVMContextRef c, LLVMValueRef fn, unsigned idx, const char *name) {
  unsigned k = LLVMGetEnumAttributeKindForName(name, strlen(name));
  LLVMAddAttributeAtIndex(fn, idx, LLVMCreateEnumAttribute(c, k, 0));
}

KB *kb_kernel_begin(KMod *m, const char *name, int nbufs, bool may_alias) {
  if (nbufs > KB_MAX_BUFS) return NULL;
  KB *kb = ir_xcalloc(1, sizeof *kb);
  kb->h.em = &kb_llvm_emitter;
  kb->m = m;
  kb->ctx = m->ctx;
  kb->nbufs = nbufs;
  LLVMContextRef c = m->ctx;
  LLVMTypeRef ptr = LLVMPointerTypeInContext(c, 0), i64 = LLVMInt64TypeInContext(c),
              i32 = LLVMInt32TypeInContext(c);
  /* outer: i32 (ptr bufs, ptr weights, ptr scratch, i64 begin, i64 end) */
  LLVMTypeRef oparams[5] = {ptr, ptr, ptr, i64, i64};
  LLVMTypeRef oty = LLVMFunctionType(i32, oparams, 5, 0);
  char nm[256];
  snprintf(nm, sizeof nm, "k_%s", name);
  kb->outer = LLVMAddFunction(m->mod, nm, oty);
  LLVMSetLinkage(kb->outer, LLVMInternalLinkage);
  kb_set_fn_target_attrs(m, kb->outer);
  /* inner: i32 (ptr b0, ..., ptr bN-1, ptr weights, ptr scratch, i64 begin, i64 end, ptr bufs) */
  int np = nbufs + 5;
  LLVMTypeRef *ip = ir_xmalloc(sizeof(LLVMTypeRef) * (size_t)np);
  for (int i = 0; i < nbufs + 2; i++) ip[i] = ptr;
  ip[nbufs + 2] = i64;
  ip[nbufs + 3] = i64;
  ip[nbufs + 4] = ptr;
  kb->inner_ty = LLVMFunctionType(i32, ip, (unsigned)np, 0);
  free(ip);
  snprintf(nm, sizeof nm, "ki_%s", name);
  kb->inner = LLVMAddFunction(m->mod, nm, kb->inner_ty);
  LLVMSetLinkage(kb->inner, LLVMInternalLinkage);
  kb_set_fn_target_attrs(m, kb->inner);
  add_enum_attr(c, kb->inner, LLVMAttributeFunctionIndex, "alwaysinline");
  if (!may_alias)
    for (int i = 0; i < nbufs; i++) add_enum_attr(c, kb->inner, (unsigned)i + 1, "noalias");
  kb->weights = LLVMGetParam(kb->inner, (unsigned)nbufs);
  kb->scratch = LLVMGetParam(kb->inner, (unsigned)nbufs + 1);
  kb->begin = LLVMGetParam(kb->inner, (unsigned)nbufs + 2);
  kb->end = LLVMGetParam(kb->inner, (unsigned)nbufs + 3);
  kb->bufsp = LLVMGetParam(kb->inner, (unsigned)nbufs + 4);
  kb->entry = LLVMAppendBasicBlockInContext(c, kb->inner, "entry");
  kb->body0 = LLVMAppendBasicBlockInContext(c, kb->inner, "body");
  kb->eb = LLVMCreateBuilderInContext(c);
  LLVMPositionBuilderAtEnd(kb->eb, kb->entry);
  kb->b = LLVMCreateBuilderInContext(c);
  LLVMPositionBuilderAtEnd(kb->b, kb->body0);
  m->nkernels++;
  return kb;
}

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* The IR text of the finished inner function under a fixed name, so that two kernels compare
 * equal exactly when their code is the same. */
static char *inner_text(KB *kb) {
  size_t len;
  const char *nm = LLVMGetValueName2(kb->inner, &len);
  char *saved = strndup(nm, len);
  LLVMSetValueName2(kb->inner, "ki", 2);
  char *t = LLVMPrintValueToString(kb->inner);
  LLVMSetValueName2(kb->inner, saved, strlen(saved));
  free(saved);
  return t;
}

/* An earlier kernel of this module with the same code, or NULL after remembering this one. */
static LLVMValueRef kernel_seen(KB *kb) {
  KMod *m = kb->m;
  char *t = inner_text(kb);
  uint64_t h = fnv1a(t);
  for (int i = 0; i < m->nseen; i++)
    if (m->seen[i].hash == h && !strcmp(m->seen[i].ir, t)) {
      LLVMDisposeMessage(t);
      return m->seen[i].outer;
    }
  if (m->nseen == m->capseen) {
    m->capseen = m->capseen ? 2 * m->capseen : 64;
    m->seen = ir_xrealloc(m->seen, sizeof *m->seen * (size_t)m->capseen);
  }
  m->seen[m->nseen++] = (KernelSeen){h, t, kb->outer};
  return NULL;
}

void kb_mod_forget_kernels(KMod *m) {
  for (int i = 0; i < m->nseen; i++) LLVMDisposeMessage(m->seen[i].ir);
  free(m->seen);
  m->seen = NULL;
  m->nseen = m->capseen = 0;
}

static void kb_free(KB *kb) {
  LLVMDisposeBuilder(kb->b);
  LLVMDisposeBuilder(kb->eb);
  free(kb->wofs);
  free(kb);
}

LLVMValueRef kb_kernel_end(KB *kb, size_t **weight_offsets, int *nweights) {
  LLVMContextRef c = kb->ctx;
  LLVMTypeRef i32 = LLVMInt32TypeInContext(c), ptr = LLVMPointerTypeInContext(c, 0);
  LLVMBuildRet(kb->b, LLVMConstInt(i32, 0, 0));
  LLVMBuildBr(kb->eb, kb->body0);
  *weight_offsets = kb->wofs;
  *nweights = kb->nw;
  kb->wofs = NULL;
  LLVMValueRef same = kernel_seen(kb);
  if (same) {
    LLVMDeleteFunction(kb->inner);
    LLVMDeleteFunction(kb->outer);
    kb->m->nshared++;
    kb_free(kb);
    return same;
  }
  /* outer wrapper */
  LLVMBasicBlockRef bb = LLVMAppendBasicBlockInContext(c, kb->outer, "entry");
  LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
  LLVMPositionBuilderAtEnd(b, bb);
  int np = kb->nbufs + 5;
  LLVMValueRef *args = ir_xmalloc(sizeof(LLVMValueRef) * (size_t)np);
  LLVMValueRef bufs = LLVMGetParam(kb->outer, 0);
  for (int i = 0; i < kb->nbufs; i++) {
    LLVMValueRef idx = LLVMConstInt(LLVMInt64TypeInContext(c), (unsigned long long)i, 0);
    LLVMValueRef p = LLVMBuildGEP2(b, ptr, bufs, &idx, 1, "");
    args[i] = LLVMBuildLoad2(b, ptr, p, "");
  }
  for (int i = 0; i < 4; i++) args[kb->nbufs + i] = LLVMGetParam(kb->outer, (unsigned)i + 1);
  args[kb->nbufs + 4] = bufs;
  LLVMValueRef r = LLVMBuildCall2(b, kb->inner_ty, kb->inner, args, (unsigned)np, "");
  LLVMBuildRet(b, r);
  free(args);
  LLVMDisposeBuilder(b);
  LLVMValueRef outer = kb->outer;
  kb_free(kb);
  return outer;
}

void kb_kernel_abandon(KB *kb) {
  LLVMDeleteFunction(kb->inner);
  LLVMDeleteFunction(kb->outer);
  kb_free(kb);
}

/* ---- arguments ---- */
static KV kbl_buf(KB *kb, int i) {
  if (i < 0 || i >= kb->nbufs) {
    fprintf(stderr, "onnxc: internal error: kb_buf(%d) of %d\n", i, kb->nbufs);
    abort();
  }
  return K(LLVMGetParam(kb->inner, (unsigned)i));
}
static KV kbl_weights(KB *kb) { return K(kb->weights); }
static KV kbl_scratch(KB *kb) { return K(kb->scratch); }
static KV kbl_begin(KB *kb) { return K(kb->begin); }
static KV kbl_end(KB *kb) { return K(kb->end); }

static KV kbl_weight(KB *kb, const void *data, size_t bytes) {
  if (kb->nw == kb->capw) {
    kb->capw = kb->capw ? 2 * kb->capw : 8;
    kb->wofs = ir_xrealloc(kb->wofs, sizeof *kb->wofs * (size_t)kb->capw);
  }
  kb->wofs[kb->nw] = blob_add(&kb->m->blob, data, bytes);
  LLVMTypeRef ptr = LLVMPointerTypeInContext(kb->ctx, 0);
  LLVMValueRef idx = LLVMConstInt(LLVMInt64TypeInContext(kb->ctx), (unsigned long long)(kb->nbufs + kb->nw++), 0);
  return K(LLVMBuildLoad2(kb->eb, ptr, LLVMBuildGEP2(kb->eb, ptr, kb->bufsp, &idx, 1, ""), ""));
}

/* ---- memory ---- */
static KV kbl_gep(KB *kb, KElem e, KV p, KV idx) {
  LLVMValueRef i = V(idx);
  return K(LLVMBuildGEP2(kb->b, elem_ty(kb->ctx, e), V(p), &i, 1, ""));
}

static KV kbl_gep_bytes(KB *kb, KV p, KV off) { return kb_gep(kb, KE_I8, p, off); }

static unsigned align_of(KT t) { return (unsigned)(t.e == KE_I1 ? 1 : kb_elem_size(t.e)); }

static KV kbl_load(KB *kb, KT t, KV p) {
  LLVMValueRef l = LLVMBuildLoad2(kb->b, ty(kb, t), V(p), "");
  LLVMSetAlignment(l, align_of(t));
  return K(l);
}

static void kbl_store(KB *kb, KV val, KV p) {
  LLVMValueRef s = LLVMBuildStore(kb->b, V(val), V(p));
  LLVMSetAlignment(s, align_of(kb_type(kb, val)));
}

static KV kbl_load_masked(KB *kb, KT t, KV p, KV mask, KV passthru) {
  LLVMTypeRef ovl[2] = {ty(kb, t), LLVMPointerTypeInContext(kb->ctx, 0)};
  LLVMValueRef pt = passthru ? V(passthru) : LLVMConstNull(ovl[0]);
  LLVMValueRef args[4] = {V(p), LLVMConstInt(LLVMInt32TypeInContext(kb->ctx), align_of(t), 0), V(mask), pt};
  return K(intrin(kb, "llvm.masked.load", ovl, 2, args, 4));
}

static void kbl_store_masked(KB *kb, KV val, KV p, KV mask) {
  KT t = kb_type(kb, val);
  LLVMTypeRef ovl[2] = {ty(kb, t), LLVMPointerTypeInContext(kb->ctx, 0)};
  LLVMValueRef args[4] = {V(val), V(p), LLVMConstInt(LLVMInt32TypeInContext(kb->ctx), align_of(t), 0),
                          V(mask)};
  intrin(kb, "llvm.masked.store", ovl, 2, args, 4);
}

static KV all_true(KB *kb, int lanes) { return kb_int(kb, kt(KE_I1, lanes), 1); }

static KV kbl_gather(KB *kb, KT t, KV base, KV idx, KV mask) {
  LLVMValueRef i = V(idx);
  LLVMValueRef ptrs = LLVMBuildGEP2(kb->b, elem_ty(kb->ctx, t.e), V(base), &i, 1, "");
  LLVMTypeRef ovl[2] = {ty(kb, t), LLVMTypeOf(ptrs)};
  LLVMValueRef args[4] = {ptrs, LLVMConstInt(LLVMInt32TypeInContext(kb->ctx), align_of(t), 0),
                          V(mask ? mask : all_true(kb, t.lanes)), LLVMGetPoison(ovl[0])};
  return K(intrin(kb, "llvm.masked.gather", ovl, 2, args, 4));
}

static void kbl_scatter(KB *kb, KV val, KV base, KV idx, KV mask) {
  KT t = kb_type(kb, val);
  LLVMValueRef i = V(idx);
  LLVMValueRef ptrs = LLVMBuildGEP2(kb->b, elem_ty(kb->ctx, t.e), V(base), &i, 1, "");
  LLVMTypeRef ovl[2] = {ty(kb, t), LLVMTypeOf(ptrs)};
  LLVMValueRef args[4] = {V(val), ptrs, LLVMConstInt(LLVMInt32TypeInContext(kb->ctx), align_of(t), 0),
                          V(mask ? mask : all_true(kb, t.lanes))};
  intrin(kb, "llvm.masked.scatter", ovl, 2, args, 4);
}

static KV kbl_load_bool(KB *kb, int lanes, KV p, KV mask) {
  KT t = kt(KE_I8, lanes);
  KV bytes = mask ? kb_load_masked(kb, t, p, mask, NULL) : kb_load(kb, t, p);
  return kb_cmp(kb, KC_NE, bytes, kb_int(kb, t, 0), false);
}

static void kbl_store_bool(KB *kb, KV val, KV p, KV mask) {
  KT t = kb_type(kb, val);
  KV bytes = K(LLVMBuildZExt(kb->b, V(val), ty(kb, kt(KE_I8, t.lanes)), ""));
  if (mask) kb_store_masked(kb, bytes, p, mask);
  else kb_store(kb, bytes, p);
}

static void kbl_memcpy(KB *kb, KV dst, KV src, KV bytes) { LLVMBuildMemCpy(kb->b, V(dst), 1, V(src), 1, V(bytes)); }

static void kbl_memset(KB *kb, KV dst, int byte, KV bytes) {
  LLVMBuildMemSet(kb->b, V(dst), LLVMConstInt(LLVMInt8TypeInContext(kb->ctx), (unsigned)byte & 255, 0),
                  V(bytes), 1);
}

static void kbl_prefetch(KB *kb, KV p) {
  LLVMTypeRef ovl[1] = {LLVMPointerTypeInContext(kb->ctx, 0)};
  LLVMTypeRef i32 = LLVMInt32TypeInContext(kb->ctx);
  LLVMValueRef args[4] = {V(p), LLVMConstInt(i32, 0, 0), LLVMConstInt(i32, 3, 0), LLVMConstInt(i32, 1, 0)};
  intrin(kb, "llvm.prefetch", ovl, 1, args, 4);
}

static KV kbl_tail_mask(KB *kb, int lanes, KV remaining) {
  KV r = kb_splat(kb, remaining, lanes);
  return kb_cmp(kb, KC_LT, kb_iota(kb, kt(KE_I64, lanes)), r, false);
}

/* ---- arithmetic ---- */
static KV kbl_add(KB *kb, KV a, KV b) {
  return K(is_fp(kb, a) ? LLVMBuildFAdd(kb->b, V(a), V(b), "") : LLVMBuildAdd(kb->b, V(a), V(b), ""));
}
static KV kbl_sub(KB *kb, KV a, KV b) {
  return K(is_fp(kb, a) ? LLVMBuildFSub(kb->b, V(a), V(b), "") : LLVMBuildSub(kb->b, V(a), V(b), ""));
}
static KV kbl_mul(KB *kb, KV a, KV b) {
  return K(is_fp(kb, a) ? LLVMBuildFMul(kb->b, V(a), V(b), "") : LLVMBuildMul(kb->b, V(a), V(b), ""));
}
static KV kbl_div(KB *kb, KV a, KV b, bool uns) {
  if (is_fp(kb, a)) return K(LLVMBuildFDiv(kb->b, V(a), V(b), ""));
  return K(uns ? LLVMBuildUDiv(kb->b, V(a), V(b), "") : LLVMBuildSDiv(kb->b, V(a), V(b), ""));
}
static KV kbl_rem(KB *kb, KV a, KV b, bool uns) {
  if (is_fp(kb, a)) return K(LLVMBuildFRem(kb->b, V(a), V(b), ""));
  return K(uns ? LLVMBuildURem(kb->b, V(a), V(b), "") : LLVMBuildSRem(kb->b, V(a), V(b), ""));
}
static KV kbl_neg(KB *kb, KV a) {
  return K(is_fp(kb, a) ? LLVMBuildFNeg(kb->b, V(a), "") : LLVMBuildNeg(kb->b, V(a), ""));
}
static KV kbl_fma(KB *kb, KV a, KV b, KV c) {
  LLVMTypeRef t = LLVMTypeOf(V(a));
  LLVMValueRef args[3] = {V(a), V(b), V(c)};
  return K(intrin(kb, "llvm.fma", &t, 1, args, 3));
}
static KV kbl_min(KB *kb, KV a, KV b, bool uns) {
  if (is_fp(kb, a)) return intrin2(kb, "llvm.minnum", a, b);
  return intrin2(kb, uns ? "llvm.umin" : "llvm.smin", a, b);
}
static KV kbl_max(KB *kb, KV a, KV b, bool uns) {
  if (is_fp(kb, a)) return intrin2(kb, "llvm.maxnum", a, b);
  return intrin2(kb, uns ? "llvm.umax" : "llvm.smax", a, b);
}
static KV kbl_fmin_nan(KB *kb, KV a, KV b) { return intrin2(kb, "llvm.minimum", a, b); }
static KV kbl_fmax_nan(KB *kb, KV a, KV b) { return intrin2(kb, "llvm.maximum", a, b); }
static KV kbl_abs(KB *kb, KV a) {
  if (is_fp(kb, a)) return intrin1(kb, "llvm.fabs", a);
  LLVMTypeRef t = LLVMTypeOf(V(a));
  LLVMValueRef args[2] = {V(a), LLVMConstInt(LLVMInt1TypeInContext(kb->ctx), 0, 0)};
  return K(intrin(kb, "llvm.abs", &t, 1, args, 2));
}
static KV kbl_sqrt(KB *kb, KV a) { return intrin1(kb, "llvm.sqrt", a); }
static KV kbl_floor(KB *kb, KV a) { return intrin1(kb, "llvm.floor", a); }
static KV kbl_ceil(KB *kb, KV a) { return intrin1(kb, "llvm.ceil", a); }
static KV kbl_round_even(KB *kb, KV a) { return intrin1(kb, "llvm.roundeven", a); }
static KV kbl_trunc(KB *kb, KV a) { return intrin1(kb, "llvm.trunc", a); }
static KV kbl_copysign(KB *kb, KV m, KV s) { return intrin2(kb, "llvm.copysign", m, s); }
static KV kbl_and(KB *kb, KV a, KV b) { return K(LLVMBuildAnd(kb->b, V(a), V(b), "")); }
static KV kbl_or(KB *kb, KV a, KV b) { return K(LLVMBuildOr(kb->b, V(a), V(b), "")); }
static KV kbl_xor(KB *kb, KV a, KV b) { return K(LLVMBuildXor(kb->b, V(a), V(b), "")); }
static KV kbl_not(KB *kb, KV a) { return K(LLVMBuildNot(kb->b, V(a), "")); }
static KV kbl_shl(KB *kb, KV a, KV b) { return K(LLVMBuildShl(kb->b, V(a), V(b), "")); }
static KV kbl_popcount(KB *kb, KV a) { return intrin1(kb, "llvm.ctpop", a); }
static KV kbl_shr(KB *kb, KV a, KV b, bool uns) {
  return K(uns ? LLVMBuildLShr(kb->b, V(a), V(b), "") : LLVMBuildAShr(kb->b, V(a), V(b), ""));
}

static KV kbl_cmp(KB *kb, KCmp c, KV a, KV b, bool uns) {
  if (is_fp(kb, a)) {
    static const LLVMRealPredicate fp[] = {LLVMRealOEQ, LLVMRealUNE, LLVMRealOLT, LLVMRealOLE,
                                           LLVMRealOGT, LLVMRealOGE, LLVMRealUNO};
    return K(LLVMBuildFCmp(kb->b, fp[c], V(a), V(b), ""));
  }
  static const LLVMIntPredicate si[] = {LLVMIntEQ, LLVMIntNE, LLVMIntSLT, LLVMIntSLE, LLVMIntSGT, LLVMIntSGE, LLVMIntEQ};
  static const LLVMIntPredicate ui[] = {LLVMIntEQ, LLVMIntNE, LLVMIntULT, LLVMIntULE, LLVMIntUGT, LLVMIntUGE, LLVMIntEQ};
  if (c == KC_UNORD) return K(LLVMConstNull(ty(kb, kt(KE_I1, kb_type(kb, a).lanes))));
  return K(LLVMBuildICmp(kb->b, uns ? ui[c] : si[c], V(a), V(b), ""));
}

static KV kbl_select(KB *kb, KV c, KV a, KV b) { return K(LLVMBuildSelect(kb->b, V(c), V(a), V(b), "")); }

/* f32 → bf16 rounding to nearest even with integer ops: LLVM lowers an fptrunc to bfloat to a
 * __truncsfbf2 libcall on CPUs without avx512bf16.  NaN stays NaN (quieted). */
static KV f32_to_bf16(KB *kb, KV v) {
  int W = kb_type(kb, v).lanes;
  KT i32 = kt(KE_I32, W);
  KV u = kb_bitcast(kb, v, i32);
  KV hi = kb_shr(kb, u, kb_int(kb, i32, 16), true);
  KV odd = kb_and(kb, hi, kb_int(kb, i32, 1));
  KV rounded = kb_shr(kb, kb_add(kb, u, kb_add(kb, odd, kb_int(kb, i32, 0x7fff))), kb_int(kb, i32, 16), true);
  KV nan = kb_or(kb, hi, kb_int(kb, i32, 0x40));
  KV r = kb_select(kb, kb_cmp(kb, KC_UNORD, v, v, false), nan, rounded);
  return kb_bitcast(kb, kb_cast(kb, r, kt(KE_I16, W), false, false), kt(KE_BF16, W));
}

static KV kbl_cast(KB *kb, KV v, KT to, bool src_uns, bool dst_uns) {
  KT from = kb_type(kb, v);
  LLVMTypeRef tt = ty(kb, to);
  LLVMBuilderRef b = kb->b;
  if (from.e == to.e) return v;
  bool ff = kb_is_float(from.e), tf = kb_is_float(to.e);
  if (to.e == KE_I1) {
    KV z = ff ? kb_float(kb, from, 0) : kb_int(kb, from, 0);
    return kb_cmp(kb, KC_NE, v, z, false);
  }
  if (ff && tf) {
    size_t fs = kb_elem_size(from.e), ts = kb_elem_size(to.e);
    if (to.e == KE_BF16) return f32_to_bf16(kb, from.e == KE_F32 ? v : kb_cast(kb, v, kt(KE_F32, to.lanes), false, false));
    if (fs == ts) { /* f16 <-> bf16: through f32 */
      KV w = kb_cast(kb, v, kt(KE_F32, to.lanes), false, false);
      return K(LLVMBuildFPTrunc(b, V(w), tt, ""));
    }
    return K(fs < ts ? LLVMBuildFPExt(b, V(v), tt, "") : LLVMBuildFPTrunc(b, V(v), tt, ""));
  }
  if (!ff && tf) {
    if (from.e == KE_I1) return K(LLVMBuildUIToFP(b, V(v), tt, ""));
    return K(src_uns ? LLVMBuildUIToFP(b, V(v), tt, "") : LLVMBuildSIToFP(b, V(v), tt, ""));
  }
  if (ff && !tf) {
    /* saturating conversion: NaN → 0, out of range → limits (ONNX leaves it undefined) */
    LLVMTypeRef ovl[2] = {tt, LLVMTypeOf(V(v))};
    LLVMValueRef args[1] = {V(v)};
    return K(intrin(kb, dst_uns ? "llvm.fptoui.sat" : "llvm.fptosi.sat", ovl, 2, args, 1));
  }
  size_t fs = kb_elem_size(from.e), ts = kb_elem_size(to.e);
  if (from.e == KE_I1) return K(LLVMBuildZExt(b, V(v), tt, ""));
  if (ts < fs) return K(LLVMBuildTrunc(b, V(v), tt, ""));
  return K(src_uns ? LLVMBuildZExt(b, V(v), tt, "") : LLVMBuildSExt(b, V(v), tt, ""));
}

static KV kbl_bitcast(KB *kb, KV v, KT to) { return K(LLVMBuildBitCast(kb->b, V(v), ty(kb, to), "")); }

/* lanes [first, first + n) of v */
static KV table_part(KB *kb, KV v, int first, int n) {
  int q[64];
  for (int i = 0; i < n; i++) q[i] = first + i;
  return kb_shuffle(kb, v, v, q, n);
}

/* lane i (as many as idx has): table[idx[i] & (L - 1)]: vpermps (AVX-512: 16 lanes, AVX2: 8) on
 * float tables, else lane by lane with variable extracts (LLVM picks what the target has, e.g. tbl
 * on NEON) */
static KV kbl_permute(KB *kb, KV table, KV idx) {
  KT t = kb_type(kb, table), it = kb_type(kb, idx);
  const Target *tg = kb->m->target;
  LLVMValueRef args[2] = {V(table), V(idx)};
  if (t.e == KE_F32 && t.lanes == 16 && it.lanes == 16 && tg->has_avx512)
    return K(intrin(kb, "llvm.x86.avx512.permvar.sf.512", NULL, 0, args, 2));
  if (t.e == KE_F32 && t.lanes == 8 && it.lanes == 8 && tg->has_avx2)
    return K(intrin(kb, "llvm.x86.avx2.permps", NULL, 0, args, 2));
  KV m = kb_and(kb, idx, kb_int(kb, it, t.lanes - 1));
  LLVMValueRef r = LLVMGetUndef(ty(kb, kt(t.e, it.lanes)));
  LLVMTypeRef i32 = LLVMInt32TypeInContext(kb->ctx);
  for (int i = 0; i < it.lanes; i++) {
    LLVMValueRef j = LLVMBuildExtractElement(kb->b, V(m), LLVMConstInt(i32, (unsigned)i, 0), "");
    LLVMValueRef e = LLVMBuildExtractElement(kb->b, V(table), j, "");
    r = LLVMBuildInsertElement(kb->b, r, e, LLVMConstInt(i32, (unsigned)i, 0), "");
  }
  return K(r);
}

/* lane i: (lo ++ hi)[idx[i] & 127] */
static KV kbl_permute2(KB *kb, KV lo, KV hi, KV idx) {
  KT it = kb_type(kb, idx);
  const Target *tg = kb->m->target;
  KV m = kb_and(kb, idx, kb_int(kb, it, 127));
  if (it.lanes == 64 && tg->has_vbmi) {
    LLVMValueRef a3[3] = {V(lo), V(m), V(hi)};
    return K(intrin(kb, "llvm.x86.avx512.vpermi2var.qi.512", NULL, 0, a3, 3));
  }
  if (it.lanes == 16 && tg->has_neon) {
    /* tbl4 over lo (0 for indices past it), tbx4 over hi with idx - 64 (indices under 64 wrap past
     * 191: out of range, the lane kept) */
    LLVMTypeRef ovl = ty(kb, it);
    LLVMValueRef a5[5], a6[6];
    for (int j = 0; j < 4; j++) a5[j] = V(table_part(kb, lo, 16 * j, 16)), a6[1 + j] = V(table_part(kb, hi, 16 * j, 16));
    a5[4] = V(m);
    a6[0] = intrin(kb, "llvm.aarch64.neon.tbl4", &ovl, 1, a5, 5);
    a6[5] = V(kb_sub(kb, m, kb_int(kb, it, 64)));
    return K(intrin(kb, "llvm.aarch64.neon.tbx4", &ovl, 1, a6, 6));
  }
  KV high = kb_cmp(kb, KC_NE, kb_and(kb, m, kb_int(kb, it, 64)), kb_int(kb, it, 0), false);
  return kb_select(kb, high, kbl_permute(kb, hi, m), kbl_permute(kb, lo, m));
}

static KV kbl_splat(KB *kb, KV s, int lanes) {
  if (lanes <= 1) return s;
  LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(V(s)), (unsigned)lanes);
  LLVMValueRef z = LLVMConstInt(LLVMInt32TypeInContext(kb->ctx), 0, 0);
  LLVMValueRef ins = LLVMBuildInsertElement(kb->b, LLVMGetPoison(vt), V(s), z, "");
  LLVMValueRef mask = LLVMConstNull(LLVMVectorType(LLVMInt32TypeInContext(kb->ctx), (unsigned)lanes));
  return K(LLVMBuildShuffleVector(kb->b, ins, LLVMGetPoison(vt), mask, ""));
}

static KV kbl_extract(KB *kb, KV v, int lane) {
  return K(LLVMBuildExtractElement(kb->b, V(v), LLVMConstInt(LLVMInt32TypeInContext(kb->ctx), (unsigned)lane, 0), ""));
}

static KV kbl_insert(KB *kb, KV v, KV s, int lane) {
  return K(LLVMBuildInsertElement(kb->b, V(v), V(s), LLVMConstInt(LLVMInt32TypeInContext(kb->ctx), (unsigned)lane, 0), ""));
}

static KV kbl_shuffle(KB *kb, KV a, KV b, const int *lanes, int n) {
  LLVMTypeRef i32 = LLVMInt32TypeInContext(kb->ctx);
  LLVMValueRef *m = ir_xmalloc(sizeof(LLVMValueRef) * (size_t)n);
  for (int i = 0; i < n; i++) m[i] = lanes[i] < 0 ? LLVMGetUndef(i32) : LLVMConstInt(i32, (unsigned)lanes[i], 0);
  LLVMValueRef mask = LLVMConstVector(m, (unsigned)n);
  free(m);
  return K(LLVMBuildShuffleVector(kb->b, V(a), V(b), mask, ""));
}

/* lanes [first, first + n) of v */
static KV dot_part(KB *kb, KV v, int first, int n) {
  int idx[64];
  for (int i = 0; i < n; i++) idx[i] = first + i;
  return kb_shuffle(kb, v, v, idx, n);
}

/* x86 without VNNI (AVX2: L = 8; AVX-512BW: L = 16; SSE2: L = 4).  vpmaddubsw would saturate
 * (a pair of u8·s8 products reaches 2·255·127 > 32767), so the bytes are widened to i16 (u8 zero-,
 * s8 sign-extended: exact) and vpmaddwd sums each pair into i32, one register of 2L i16 at a time;
 * lane i is then the pair sums 2i and 2i+1 (even + odd lanes of the two results). */
static KV dot4_pmaddwd(KB *kb, KV acc, KV a, KV b, int L) {
  const char *name = L == 16 ? "llvm.x86.avx512.pmaddw.d.512" : L == 8 ? "llvm.x86.avx2.pmadd.wd" : "llvm.x86.sse2.pmadd.wd";
  KT w = kt(KE_I16, 4 * L);
  KV a16 = kb_cast(kb, a, w, true, false), b16 = kb_cast(kb, b, w, false, false), p[2];
  for (int h = 0; h < 2; h++) {
    LLVMValueRef args[2] = {V(dot_part(kb, a16, 2 * L * h, 2 * L)), V(dot_part(kb, b16, 2 * L * h, 2 * L))};
    p[h] = K(intrin(kb, name, NULL, 0, args, 2));
  }
  int ev[16], od[16];
  for (int i = 0; i < L; i++) ev[i] = 2 * i, od[i] = 2 * i + 1;
  return kb_add(kb, acc, kb_add(kb, kb_shuffle(kb, p[0], p[1], ev, L), kb_shuffle(kb, p[0], p[1], od, L)));
}

static KV neon2(KB *kb, const char *name, LLVMTypeRef r, LLVMTypeRef in, KV x, KV y) {
  LLVMTypeRef ovl[2] = {r, in};
  LLVMValueRef args[2] = {V(x), V(y)};
  return K(intrin(kb, name, ovl, r == in ? 1 : 2, args, 2));
}

/* NEON, 16 bytes (L = 4).  With dotprod: udot of a and b + 128 (b ^ 0x80 read unsigned), minus
 * udot(a, 128) = 128·Σa (the same for every b: CSE shares it between the rows of a microkernel);
 * wrapping like vpdpbusd.  Without: u8·s8 products are exact in i16 (|p| <= 255·128), saddlp adds
 * adjacent products into i32 and addp adjacent pairs of those. */
static KV dot4_neon(KB *kb, KV acc, KV a, KV b, bool dotprod) {
  LLVMTypeRef v4 = ty(kb, kt(KE_I32, 4)), v16 = ty(kb, kt(KE_I8, 16)), v8 = ty(kb, kt(KE_I16, 8));
  if (dotprod) {
    KT bt = kt(KE_I8, 16);
    LLVMTypeRef ovl[2] = {v4, v16};
    LLVMValueRef d[3] = {V(acc), V(a), V(kb_xor(kb, b, kb_int(kb, bt, -128)))};
    LLVMValueRef c[3] = {V(kb_int(kb, kt(KE_I32, 4), 0)), V(a), V(kb_int(kb, bt, -128))};
    KV sum = K(intrin(kb, "llvm.aarch64.neon.udot", ovl, 2, d, 3));
    return kb_sub(kb, sum, K(intrin(kb, "llvm.aarch64.neon.udot", ovl, 2, c, 3)));
  }
  KT w = kt(KE_I16, 8);
  KV s[2];
  for (int h = 0; h < 2; h++) {
    KV p = kb_mul(kb, kb_cast(kb, dot_part(kb, a, 8 * h, 8), w, true, false), kb_cast(kb, dot_part(kb, b, 8 * h, 8), w, false, false));
    LLVMTypeRef ovl[2] = {v4, v8};
    LLVMValueRef args[1] = {V(p)};
    s[h] = K(intrin(kb, "llvm.aarch64.neon.saddlp", ovl, 2, args, 1));
  }
  return kb_add(kb, acc, neon2(kb, "llvm.aarch64.neon.addp", v4, v4, s[0], s[1]));
}

static KV kbl_dot4_u8s8(KB *kb, KV acc, KV a, KV b) {
  const Target *t = kb->m->target;
  int L = kb_type(kb, acc).lanes;
  if (t->has_vnni && L == 16) {
    KT w = kt(KE_I32, 16);
    LLVMValueRef args[3] = {V(acc), V(kb_bitcast(kb, a, w)), V(kb_bitcast(kb, b, w))};
    return K(intrin(kb, "llvm.x86.avx512.vpdpbusd.512", NULL, 0, args, 3));
  }
  bool x86 = t->triple && strstr(t->triple, "x86_64");
  bool bw = t->features && strstr(t->features, "+avx512bw");
  if (x86 && ((L == 16 && bw) || (L == 8 && t->has_avx2) || L == 4)) return dot4_pmaddwd(kb, acc, a, b, L);
  if (t->has_neon && (L == 4 || L == 8)) { /* one or two q registers */
    bool dp = t->features && strstr(t->features, "+dotprod");
    KV r[2];
    for (int h = 0; h < L / 4; h++)
      r[h] = dot4_neon(kb, dot_part(kb, acc, 4 * h, 4), dot_part(kb, a, 16 * h, 16), dot_part(kb, b, 16 * h, 16), dp);
    if (L == 4) return r[0];
    int cat[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    return kb_shuffle(kb, r[0], r[1], cat, 8);
  }
  return kb_dot4_u8s8_generic(kb, acc, a, b);
}

static KV kbl_dot2_bf16(KB *kb, KV acc, KV a, KV b) {
  if (kb->m->target->has_bf16 && kb_type(kb, acc).lanes == 16) {
    LLVMValueRef args[3] = {V(acc), V(a), V(b)};
    return K(intrin(kb, "llvm.x86.avx512bf16.dpbf16ps.512", NULL, 0, args, 3));
  }
  return kb_dot2_bf16_generic(kb, acc, a, b);
}

/* with AVX512-BF16: vcvtne2ps2bf16 per 32 lanes (lanes 16i..16i+15 of the result from the
 * intrinsic's second operand), vcvtneps2bf16 for 16 */
static KV kbl_to_bf16(KB *kb, KV v) {
  int W = kb_type(kb, v).lanes;
  if (!kb->m->target->has_bf16 || W % 16) return kb_cast(kb, v, kt(KE_BF16, W), false, false);
  if (W == 16) {
    LLVMValueRef args[1] = {V(v)};
    return K(intrin(kb, "llvm.x86.avx512bf16.cvtneps2bf16.512", NULL, 0, args, 1));
  }
  if (W % 32 || W > 64) return kb_cast(kb, v, kt(KE_BF16, W), false, false);
  KV part[2];
  for (int h = 0; h < W / 32; h++) {
    LLVMValueRef args[2] = {V(dot_part(kb, v, 32 * h + 16, 16)), V(dot_part(kb, v, 32 * h, 16))};
    part[h] = K(intrin(kb, "llvm.x86.avx512bf16.cvtne2ps2bf16.512", NULL, 0, args, 2));
  }
  if (W == 32) return part[0];
  int cat[64];
  for (int i = 0; i < 64; i++) cat[i] = i;
  return kb_shuffle(kb, part[0], part[1], cat, 64);
}

/* x86 with AVX-512BW (L = 16) or AVX2 (L = 8): vcvtps2dq (round to nearest even: {rn-sae} on
 * AVX-512, MXCSR's default on AVX2), vpackssdw of pairs (i16, saturated), vpaddsw of the zero
 * point, vpackuswb / vpacksswb of the two (bytes, saturated).  The packs work per 128-bit lane, so
 * 32-bit group k of the packed bytes holds lanes 4q..4q+3 of v[k % 4] (q = k / 4); one vpermd
 * puts them in order.  Missing vectors (n < 4) repeat v[0]; the first n·L bytes are the result. */
static KV requant_bytes_x86(KB *kb, const KV *v, int n, int zp, bool uns, int L) {
  KT it = kt(KE_I32, L), wt = kt(KE_I16, 2 * L);
  KV d[4];
  for (int j = 0; j < 4; j++) {
    if (j >= n) {
      d[j] = d[0];
      continue;
    }
    if (L == 16) {
      LLVMValueRef args[4] = {V(v[j]), V(kb_int(kb, it, 0)), LLVMConstInt(LLVMInt16TypeInContext(kb->ctx), 0xffff, false),
                              LLVMConstInt(LLVMInt32TypeInContext(kb->ctx), 8, false)};
      d[j] = K(intrin(kb, "llvm.x86.avx512.mask.cvtps2dq.512", NULL, 0, args, 4));
    } else {
      LLVMValueRef args[1] = {V(v[j])};
      d[j] = K(intrin(kb, "llvm.x86.avx.cvt.ps2dq.256", NULL, 0, args, 1));
    }
  }
  const char *pdw = L == 16 ? "llvm.x86.avx512.packssdw.512" : "llvm.x86.avx2.packssdw";
  const char *pwb = L == 16 ? (uns ? "llvm.x86.avx512.packuswb.512" : "llvm.x86.avx512.packsswb.512")
                            : (uns ? "llvm.x86.avx2.packuswb" : "llvm.x86.avx2.packsswb");
  KV w[2];
  for (int h = 0; h < 2; h++) {
    LLVMValueRef args[2] = {V(d[2 * h]), V(d[2 * h + 1])};
    w[h] = K(intrin(kb, pdw, NULL, 0, args, 2));
    if (zp) w[h] = intrin2(kb, "llvm.sadd.sat", w[h], kb_int(kb, wt, zp));
  }
  LLVMValueRef args[2] = {V(w[0]), V(w[1])};
  KV bytes = K(intrin(kb, pwb, NULL, 0, args, 2));
  /* 32-bit lanes: out[j·L/4 + q] = in[4q + j] */
  int idx[16];
  for (int j = 0; j < 4; j++)
    for (int q = 0; q < L / 4; q++) idx[j * (L / 4) + q] = 4 * q + j;
  KV dw = kb_bitcast(kb, bytes, it);
  dw = kb_shuffle(kb, dw, dw, idx, L);
  bytes = kb_bitcast(kb, dw, kt(KE_I8, 4 * L));
  if (n == 4) return bytes;
  int cut[64];
  for (int i = 0; i < n * L; i++) cut[i] = i;
  return kb_shuffle(kb, bytes, bytes, cut, n * L);
}

static KV kbl_requant_bytes(KB *kb, const KV *v, int n, int zp, bool uns) {
  const Target *t = kb->m->target;
  int L = kb_type(kb, v[0]).lanes;
  bool x86 = t->triple && strstr(t->triple, "x86_64");
  bool bw = t->features && strstr(t->features, "+avx512bw");
  if (x86 && n >= 1 && n <= 4 && zp >= -255 && zp <= 255 && ((L == 16 && bw) || (L == 8 && t->has_avx2)))
    return requant_bytes_x86(kb, v, n, zp, uns, L);
  return kb_requant_bytes_generic(kb, v, n, zp, uns);
}

/* ---- reductions ---- */
static KV reduce_fp(KB *kb, const char *name, KV v, double start) {
  KT t = kb_type(kb, v);
  LLVMTypeRef vt = LLVMTypeOf(V(v));
  LLVMValueRef args[2] = {LLVMConstReal(elem_ty(kb->ctx, t.e), start), V(v)};
  LLVMValueRef r = intrin(kb, name, &vt, 1, args, 2);
  LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc); /* tree order, not a serial chain */
  return K(r);
}

static KV kbl_reduce_add(KB *kb, KV v) {
  if (kb_type(kb, v).lanes <= 1) return v;
  if (is_fp(kb, v)) return reduce_fp(kb, "llvm.vector.reduce.fadd", v, -0.0);
  return intrin1(kb, "llvm.vector.reduce.add", v);
}
static KV kbl_reduce_mul(KB *kb, KV v) {
  if (kb_type(kb, v).lanes <= 1) return v;
  if (is_fp(kb, v)) return reduce_fp(kb, "llvm.vector.reduce.fmul", v, 1.0);
  return intrin1(kb, "llvm.vector.reduce.mul", v);
}
static KV kbl_reduce_min(KB *kb, KV v, bool uns) {
  if (kb_type(kb, v).lanes <= 1) return v;
  if (is_fp(kb, v)) return intrin1(kb, "llvm.vector.reduce.fmin", v);
  return intrin1(kb, uns ? "llvm.vector.reduce.umin" : "llvm.vector.reduce.smin", v);
}
static KV kbl_reduce_max(KB *kb, KV v, bool uns) {
  if (kb_type(kb, v).lanes <= 1) return v;
  if (is_fp(kb, v)) return intrin1(kb, "llvm.vector.reduce.fmax", v);
  return intrin1(kb, uns ? "llvm.vector.reduce.umax" : "llvm.vector.reduce.smax", v);
}
static KV kbl_reduce_or(KB *kb, KV v) {
  if (kb_type(kb, v).lanes <= 1) return v;
  return intrin1(kb, "llvm.vector.reduce.or", v);
}

/* ---- variables and control flow ---- */
struct KVar_ {
  LLVMValueRef slot;
  KT t;
};

static KVar kbl_var(KB *kb, KT t, KV init) {
  /* allocas in the entry block so mem2reg/SROA promote them */
  LLVMValueRef slot = LLVMBuildAlloca(kb->eb, ty(kb, t), "");
  KVar v = (KVar)(void *)slot;
  if (init) kb_set(kb, v, init);
  return v;
}

static KV kbl_get(KB *kb, KVar v) {
  LLVMValueRef slot = (LLVMValueRef)(void *)v;
  return K(LLVMBuildLoad2(kb->b, LLVMGetAllocatedType(slot), slot, ""));
}

static void kbl_set(KB *kb, KVar v, KV val) { LLVMBuildStore(kb->b, V(val), (LLVMValueRef)(void *)v); }

static Frame *push(KB *kb) {
  if (kb->nframes >= KB_MAX_FRAMES) {
    fprintf(stderr, "onnxc: internal error: kernel nesting too deep\n");
    abort();
  }
  Frame *f = &kb->frames[kb->nframes++];
  memset(f, 0, sizeof *f);
  return f;
}

static KV kbl_for(KB *kb, KV lo, KV hi, int64_t step) {
  LLVMContextRef c = kb->ctx;
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(kb->b);
  Frame *f = push(kb);
  f->kind = 0;
  f->header = LLVMAppendBasicBlockInContext(c, kb->inner, "for.h");
  LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c, kb->inner, "for.b");
  f->exit = LLVMAppendBasicBlockInContext(c, kb->inner, "for.x");
  LLVMBuildBr(kb->b, f->header);
  LLVMPositionBuilderAtEnd(kb->b, f->header);
  f->phi = LLVMBuildPhi(kb->b, LLVMInt64TypeInContext(c), "i");
  LLVMValueRef lov = V(lo);
  LLVMAddIncoming(f->phi, &lov, &pre, 1);
  f->step = LLVMConstInt(LLVMInt64TypeInContext(c), (unsigned long long)step, 1);
  LLVMValueRef cond = LLVMBuildICmp(kb->b, LLVMIntSLT, f->phi, V(hi), "");
  LLVMBuildCondBr(kb->b, cond, body, f->exit);
  LLVMPositionBuilderAtEnd(kb->b, body);
  return K(f->phi);
}

static void kbl_endfor(KB *kb) {
  Frame *f = &kb->frames[--kb->nframes];
  LLVMBasicBlockRef cur = LLVMGetInsertBlock(kb->b);
  LLVMValueRef next = LLVMBuildNSWAdd(kb->b, f->phi, f->step, "");
  LLVMBuildBr(kb->b, f->header);
  LLVMAddIncoming(f->phi, &next, &cur, 1);
  LLVMPositionBuilderAtEnd(kb->b, f->exit);
}

static void kbl_if(KB *kb, KV cond) {
  LLVMContextRef c = kb->ctx;
  Frame *f = push(kb);
  f->kind = 1;
  LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(c, kb->inner, "if.t");
  f->els = LLVMAppendBasicBlockInContext(c, kb->inner, "if.e");
  f->merge = LLVMAppendBasicBlockInContext(c, kb->inner, "if.m");
  LLVMBuildCondBr(kb->b, V(cond), then, f->els);
  LLVMPositionBuilderAtEnd(kb->b, then);
}

static void kbl_else(KB *kb) {
  Frame *f = &kb->frames[kb->nframes - 1];
  LLVMBuildBr(kb->b, f->merge);
  LLVMPositionBuilderAtEnd(kb->b, f->els);
  f->has_else = true;
}

static void kbl_endif(KB *kb) {
  Frame *f = &kb->frames[--kb->nframes];
  LLVMBuildBr(kb->b, f->merge);
  if (!f->has_else) {
    LLVMPositionBuilderAtEnd(kb->b, f->els);
    LLVMBuildBr(kb->b, f->merge);
  }
  LLVMPositionBuilderAtEnd(kb->b, f->merge);
}

static void kbl_return_status(KB *kb, KV status) {
  LLVMBuildRet(kb->b, V(status));
  LLVMBasicBlockRef after = LLVMAppendBasicBlockInContext(kb->ctx, kb->inner, "after.ret");
  LLVMPositionBuilderAtEnd(kb->b, after);
}

static KV kbl_call_rt(KB *kb, const char *name, KT ret, int nargs, KV *args) {
  LLVMTypeRef *pt = ir_xmalloc(sizeof(LLVMTypeRef) * (size_t)(nargs ? nargs : 1));
  for (int i = 0; i < nargs; i++) pt[i] = LLVMTypeOf(V(args[i]));
  LLVMTypeRef ft = LLVMFunctionType(ty(kb, ret), pt, (unsigned)nargs, 0);
  LLVMValueRef f = LLVMGetNamedFunction(kb->m->mod, name);
  if (!f) f = LLVMAddFunction(kb->m->mod, name, ft);
  LLVMValueRef r = LLVMBuildCall2(kb->b, ft, f, (LLVMValueRef *)args, (unsigned)nargs, "");
  free(pt);
  return K(r);
}

#define ENTRY(R, name, params, args) .op_##name = kbl_##name,
#define ENTRYV(name, params, args) .op_##name = kbl_##name,
const KbEmitter kb_llvm_emitter = {.name = "llvm", KB_EMITTER_OPS(ENTRY, ENTRYV)};
