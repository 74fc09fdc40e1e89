/* kb_c.c — the kernel builder (kb.h) emitting portable C11 with GCC/Clang vector extensions.
 *
 * Every value (KV) is a C expression: a literal, a parameter, or a named `const` local holding
 * the result of one operation (the compilers' SSA and register allocation do the rest).
 * Vectors are `__attribute__((vector_size))` typedefs named v<lanes>_<elem> (v8_f32, v16_u8),
 * declared once per translation unit; a count of lanes that is not a power of two is stored in
 * the next power of two, and memory operations and reductions touch only the logical lanes.
 *   - integers are signed C types; operations whose meaning depends on the sign convert to the
 *     unsigned type, and wrapping arithmetic is done unsigned (no signed-overflow UB);
 *   - i1 is _Bool as a scalar and int8_t lanes of 0 / -1 as a vector (what comparisons give);
 *   - float16 / bfloat16 are their bits (uint16_t) and convert through float with the helpers of
 *     the prelude (kb_c_prelude);
 *   - memory is accessed with memcpy (unaligned, no strict-aliasing assumptions), masked loads,
 *     stores, gathers and scatters lane by lane;
 *   - operations without a vector operator (fma, sqrt, floor, ...) are lane loops over the
 *     compiler builtins, which become single instructions when the target has them.
 * Variables (kb_var) are declared at the top of the kernel; loops and ifs are C blocks. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kb_c.h"

struct KV_ {
  KT t;
  const char *e; /* C expression */
  bool named;    /* e is an identifier (an lvalue of exactly type t) */
};

struct KVar_ {
  KT t;
  const char *name;
};

typedef struct CB {
  KBHead h; /* first: kb_c_emitter */
  CMod *m;
  CStr decl, code;
  int depth, ntmp, nbufs;
  bool may_alias;
  const char *fn;
  KV bufs[1]; /* nbufs entries */
} CB;

#define CBP(kb) ((CB *)(void *)(kb))

/* this file's half of kb_impl.h's emitter table */
#define DECL(R, name, params, args) static R kbc_##name params;
#define DECLV(name, params, args) static void kbc_##name params;
KB_EMITTER_OPS(DECL, DECLV)

/* ---- text and allocation ---- */
void cstr_append(CStr *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) ir_oom();
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = 0;
}

void cstr_printf(CStr *b, const char *fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < (int)sizeof small) {
    cstr_append(b, small, (size_t)n);
    return;
  }
  char *big = ir_xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  cstr_append(b, big, (size_t)n);
  free(big);
}

void *cm_alloc(CMod *m, size_t bytes) {
  if (m->nchunks == m->capchunks) {
    m->capchunks = m->capchunks ? m->capchunks * 2 : 256;
    void **chunks = realloc(m->chunks, sizeof(void *) * (size_t)m->capchunks);
    if (!chunks) ir_oom();
    m->chunks = chunks;
  }
  void *p = ir_xcalloc(1, bytes);
  return m->chunks[m->nchunks++] = p;
}

void cm_free(CMod *m) {
  for (int i = 0; i < m->nchunks; i++) free(m->chunks[i]);
  free(m->chunks);
  free(m->types.s);
  free(m->protos.s);
  free(m->body.s);
  free(m->blob.data);
  free(m->names);
  memset(m, 0, sizeof *m);
}

char *cm_strf(CMod *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = cm_alloc(m, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

const char *cm_ident(CMod *m, const char *name) {
  char *s = cm_strf(m, "%s", name);
  for (char *p = s; *p; p++)
    if (!(*p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) *p = '_';
  return s;
}

/* ---- types ---- */
static const char *ELEM_NAME[] = {"void", "i1", "i8", "i16", "i32", "i64", "f16", "bf16", "f32", "f64", "ptr"};

static int pow2_at_least(int n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

static size_t lane_bytes(KElem e) { return e == KE_I1 ? 1 : kb_elem_size(e); }
static bool is_int(KElem e) { return e >= KE_I8 && e <= KE_I64; }

/* C type of one lane (vectors) or of a scalar; uns: the unsigned integer type */
static const char *lane_ctype(KElem e, bool uns, bool scalar) {
  switch (e) {
  case KE_I1: return scalar ? "_Bool" : uns ? "uint8_t" : "int8_t";
  case KE_I8: return uns ? "uint8_t" : "int8_t";
  case KE_I16: return uns ? "uint16_t" : "int16_t";
  case KE_I32: return uns ? "uint32_t" : "int32_t";
  case KE_I64: return uns ? "uint64_t" : "int64_t";
  case KE_F16:
  case KE_BF16: return "uint16_t";
  case KE_F32: return "float";
  case KE_F64: return "double";
  case KE_PTR: return "char *";
  default: return "void";
  }
}

/* the signed integer element of a float/int element's width (for bit operations and masks) */
static KElem int_of(KElem e) {
  switch (lane_bytes(e)) {
  case 1: return KE_I8;
  case 2: return KE_I16;
  case 4: return KE_I32;
  default: return KE_I64;
  }
}

static const char *tname_u(CB *b, KT t, bool uns) {
  if (t.lanes <= 1) return lane_ctype(t.e, uns, true);
  if (t.lanes > 64) {
    fprintf(stderr, "onnxc: internal error: %d-lane vector in C emitter\n", t.lanes);
    abort();
  }
  CMod *m = b->m;
  bool u = uns && (is_int(t.e) || t.e == KE_I1);
  const char *nm = cm_strf(m, "v%d_%s%s", t.lanes, u ? "u" : "", ELEM_NAME[t.e]);
  if (!m->have_type[t.e][u][t.lanes]) {
    m->have_type[t.e][u][t.lanes] = 1;
    cstr_printf(&m->types, "typedef %s %s __attribute__((vector_size(%zu)));\n", lane_ctype(t.e, u, false), nm,
                (size_t)pow2_at_least(t.lanes) * lane_bytes(t.e));
  }
  return nm;
}
static const char *tname(CB *b, KT t) { return tname_u(b, t, false); }

/* ---- values ---- */
static KV mkv(CB *b, KT t, const char *e, bool named) {
  KV v = cm_alloc(b->m, sizeof *v);
  v->t = t;
  v->e = e;
  v->named = named;
  return v;
}

static void indent(CB *b) {
  for (int i = 0; i < b->depth + 1; i++) cstr_append(&b->code, "  ", 2);
}

static void stmt(CB *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void stmt(CB *b, const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof buf) {
    fprintf(stderr, "onnxc: internal error: C statement too long\n");
    abort();
  }
  indent(b);
  cstr_append(&b->code, buf, (size_t)n);
  cstr_append(&b->code, "\n", 1);
}

/* const T tN = expr; */
static KV let(CB *b, KT t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static KV let(CB *b, KT t, const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof buf) {
    fprintf(stderr, "onnxc: internal error: C expression too long\n");
    abort();
  }
  const char *nm = cm_strf(b->m, "t%d", b->ntmp++);
  stmt(b, "ONNXC_U %s%s %s = %s;", t.e == KE_PTR && t.lanes == 1 ? "char *const" : "const ",
       t.e == KE_PTR && t.lanes == 1 ? "" : tname(b, t), nm, buf);
  return mkv(b, t, nm, true);
}

/* a fresh mutable T tN = {0}; filled by the statements that follow */
static KV fresh(CB *b, KT t) {
  const char *nm = cm_strf(b->m, "t%d", b->ntmp++);
  stmt(b, "ONNXC_U %s %s = {0};", tname(b, t), nm);
  return mkv(b, t, nm, true);
}

/* v as an lvalue (literals get a name) */
static KV named(CB *b, KV v) { return v->named ? v : let(b, v->t, "%s", v->e); }

static const char *E(KV v) { return v->e; }

/* ---- constants ---- */
static const char *int_lit(CB *b, KElem e, int64_t x) {
  if (e == KE_I1) return x ? "1" : "0";
  /* wrap to the element's width, as LLVM's constants do */
  int bits = (int)kb_elem_size(e) * 8;
  if (bits < 64) {
    uint64_t mask = (UINT64_C(1) << bits) - 1, u = (uint64_t)x & mask;
    x = (u >> (bits - 1)) ? (int64_t)(u | ~mask) : (int64_t)u;
  }
  if (x >= 0 && x <= INT32_MAX) return cm_strf(b->m, "%lld", (long long)x);
  if (x > INT32_MIN) return cm_strf(b->m, "(%lld)", (long long)x);
  return cm_strf(b->m, "(int64_t)0x%llxULL", (unsigned long long)x);
}

static uint16_t host_f2h(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint32_t s = (u >> 16) & 0x8000, a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return (uint16_t)(s | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0));
  if (a >= 0x477ff000u) return (uint16_t)(s | 0x7c00);
  if (a < 0x38800000u) {
    float af, t;
    memcpy(&af, &a, 4);
    t = af + 0.5f;
    uint32_t ut;
    memcpy(&ut, &t, 4);
    return (uint16_t)(s | (ut - 0x3f000000u));
  }
  a += 0xfff + ((a >> 13) & 1);
  return (uint16_t)(s | ((a - (112u << 23)) >> 13));
}

static uint16_t host_f2bf(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if (f != f) return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static const char *float_lit(CB *b, KElem e, double x) {
  CMod *m = b->m;
  if (e == KE_F16) return cm_strf(m, "0x%04x", host_f2h((float)x));
  if (e == KE_BF16) return cm_strf(m, "0x%04x", host_f2bf((float)x));
  bool f = e == KE_F32;
  if (x != x) return f ? "__builtin_nanf(\"\")" : "__builtin_nan(\"\")";
  if (isinf(x)) return x > 0 ? (f ? "__builtin_inff()" : "__builtin_inf()") : (f ? "(-__builtin_inff())" : "(-__builtin_inf())");
  if (f) return cm_strf(m, "(%af)", (double)(float)x);
  return cm_strf(m, "(%a)", x);
}

/* a vector constant: declared at the top of the kernel so it is in scope everywhere */
static KV vec_const(CB *b, KT t, const char *const *lanes) {
  CStr s = {0};
  for (int i = 0; i < t.lanes; i++) cstr_printf(&s, "%s%s", i ? ", " : "", lanes[i]);
  const char *nm = cm_strf(b->m, "c%d", b->ntmp++);
  cstr_printf(&b->decl, "  ONNXC_U const %s %s = {%s};\n", tname(b, t), nm, s.s);
  free(s.s);
  return mkv(b, t, nm, true);
}

static KV splat_lit(CB *b, KT t, const char *lit) {
  if (t.lanes <= 1) return mkv(b, t, t.e == KE_I1 ? cm_strf(b->m, "((_Bool)%s)", lit) : lit, false);
  const char **l = cm_alloc(b->m, sizeof(char *) * (size_t)t.lanes);
  for (int i = 0; i < t.lanes; i++) l[i] = lit;
  return vec_const(b, t, l);
}

static KV kbc_int(KB *kb, KT t, int64_t x) {
  CB *b = CBP(kb);
  if (t.e == KE_I1 && t.lanes > 1) return splat_lit(b, t, x ? "-1" : "0");
  if (kb_is_float(t.e)) return splat_lit(b, t, float_lit(b, t.e, (double)x));
  return splat_lit(b, t, int_lit(b, t.e, x));
}
static KV kbc_i64(KB *kb, int64_t x) { return kbc_int(kb, kt_s(KE_I64), x); }
static KV kbc_i32(KB *kb, int32_t x) { return kbc_int(kb, kt_s(KE_I32), x); }
static KV kbc_float(KB *kb, KT t, double x) { return splat_lit(CBP(kb), t, float_lit(CBP(kb), t.e, x)); }
static KV kbc_f32(KB *kb, float x) { return kbc_float(kb, kt_s(KE_F32), x); }
static KV kbc_f64(KB *kb, double x) { return kbc_float(kb, kt_s(KE_F64), x); }
static KV kbc_true(KB *kb) { return kbc_int(kb, kt_s(KE_I1), 1); }
static KV kbc_false(KB *kb) { return kbc_int(kb, kt_s(KE_I1), 0); }
static KV kbc_null(KB *kb) { return mkv(CBP(kb), kt_s(KE_PTR), "((char *)0)", false); }

static KV kbc_iota(KB *kb, KT t) {
  CB *b = CBP(kb);
  if (t.lanes <= 1) return kbc_int(kb, t, 0);
  const char **l = cm_alloc(b->m, sizeof(char *) * (size_t)t.lanes);
  for (int i = 0; i < t.lanes; i++)
    l[i] = kb_is_float(t.e) ? float_lit(b, t.e, i) : int_lit(b, t.e, i);
  return vec_const(b, t, l);
}

/* ---- target facts and types ---- */
static int kbc_vector_bytes(const KB *kb) { return CBP(kb)->m->target->vector_bytes; }
static int kbc_lanes(const KB *kb, KElem e) {
  size_t s = lane_bytes(e);
  return s ? (int)((size_t)CBP(kb)->m->target->vector_bytes / s) : 1;
}
static KT kbc_type(KB *kb, KV v) {
  (void)kb;
  return v->t;
}

/* ---- kernel lifecycle ---- */

KB *kb_c_kernel_begin(CMod *m, int nbufs, bool may_alias, const char **fn_name) {
  CB *b = ir_xcalloc(1, sizeof *b + sizeof(KV) * (size_t)(nbufs > 0 ? nbufs : 1));
  b->h.em = &kb_c_emitter;
  b->m = m;
  b->nbufs = nbufs;
  b->may_alias = may_alias;
  b->fn = cm_strf(m, "%s_k%d", m->prefix, m->nkernels++);
  for (int i = 0; i < nbufs; i++) b->bufs[i] = mkv(b, kt_s(KE_PTR), cm_strf(m, "b%d", i), true);
  *fn_name = b->fn;
  return (KB *)(void *)b;
}

/* Two functions, as in kb_llvm.c: the body takes each buffer as its own (restrict) parameter —
 * compilers trust restrict on parameters — and is inlined into the uniform-signature kernel. */
void kb_c_kernel_end(KB *kb) {
  CB *b = CBP(kb);
  CMod *m = b->m;
  static const char *sig = "(void *const *bufs, const char *weights, char *scratch, int64_t begin, int64_t end)";
  cstr_printf(&m->protos, "static int32_t %s%s;\n", b->fn, sig);
  cstr_printf(&m->body, "static inline __attribute__((always_inline)) int32_t %s_body(", b->fn);
  for (int i = 0; i < b->nbufs; i++) cstr_printf(&m->body, "char *%sb%d, ", b->may_alias ? "" : "restrict ", i);
  cstr_printf(&m->body, "char *w_, char *scratch, int64_t begin, int64_t end) {\n");
  for (int i = 0; i < b->nbufs; i++) cstr_printf(&m->body, "  (void)b%d;\n", i);
  cstr_printf(&m->body, "  (void)w_, (void)scratch, (void)begin, (void)end;\n");
  if (b->decl.s) cstr_append(&m->body, b->decl.s, b->decl.n);
  if (b->code.s) cstr_append(&m->body, b->code.s, b->code.n);
  cstr_printf(&m->body, "  return 0;\n}\n\n");
  cstr_printf(&m->body, "static int32_t %s%s {\n  (void)bufs;\n  return %s_body(", b->fn, sig, b->fn);
  for (int i = 0; i < b->nbufs; i++) cstr_printf(&m->body, "(char *)bufs[%d], ", i);
  cstr_printf(&m->body, "(char *)weights, scratch, begin, end);\n}\n\n");
  kb_c_kernel_abandon(kb);
}

void kb_c_kernel_abandon(KB *kb) {
  CB *b = CBP(kb);
  free(b->decl.s);
  free(b->code.s);
  free(b);
}

/* ---- arguments ---- */
static KV kbc_buf(KB *kb, int i) {
  CB *b = CBP(kb);
  if (i < 0 || i >= b->nbufs) {
    fprintf(stderr, "onnxc: internal error: kb_buf(%d) of %d\n", i, b->nbufs);
    abort();
  }
  return b->bufs[i];
}
static KV kbc_weights(KB *kb) { return mkv(CBP(kb), kt_s(KE_PTR), "w_", true); }
static KV kbc_scratch(KB *kb) { return mkv(CBP(kb), kt_s(KE_PTR), "scratch", true); }
static KV kbc_begin(KB *kb) { return mkv(CBP(kb), kt_s(KE_I64), "begin", true); }
static KV kbc_end(KB *kb) { return mkv(CBP(kb), kt_s(KE_I64), "end", true); }

static KV kbc_weight(KB *kb, const void *data, size_t bytes) {
  CB *b = CBP(kb);
  size_t off = blob_add(&b->m->blob, data, bytes);
  return mkv(b, kt_s(KE_PTR), cm_strf(b->m, "(w_ + %zu)", off), false);
}

/* ---- memory ---- */
static KV kbc_gep(KB *kb, KElem e, KV p, KV idx) {
  return let(CBP(kb), kt_s(KE_PTR), "%s + (%s) * %zu", E(p), E(idx), e == KE_PTR ? sizeof(void *) : lane_bytes(e));
}
static KV kbc_gep_bytes(KB *kb, KV p, KV off) { return let(CBP(kb), kt_s(KE_PTR), "%s + (%s)", E(p), E(off)); }

/* bytes the logical lanes of t occupy in memory */
static size_t mem_bytes(KT t) { return (size_t)t.lanes * (t.e == KE_PTR ? sizeof(void *) : lane_bytes(t.e)); }

static KV kbc_load(KB *kb, KT t, KV p) {
  CB *b = CBP(kb);
  if (t.e == KE_I1) return kbc_load_bool(kb, t.lanes, p, NULL);
  if (t.e == KE_PTR) {
    const char *nm = cm_strf(b->m, "t%d", b->ntmp++);
    stmt(b, "ONNXC_U char *%s = 0;", nm);
    stmt(b, "memcpy(&%s, %s, sizeof %s);", nm, E(p), nm);
    return mkv(b, t, nm, true);
  }
  KV r = fresh(b, t);
  stmt(b, "memcpy(&%s, %s, %zu);", E(r), E(p), mem_bytes(t));
  return r;
}

static void kbc_store(KB *kb, KV val, KV p) {
  CB *b = CBP(kb);
  if (val->t.e == KE_I1) {
    kbc_store_bool(kb, val, p, NULL);
    return;
  }
  val = named(b, val);
  stmt(b, "memcpy(%s, &%s, %zu);", E(p), E(val), mem_bytes(val->t));
}

static KV kbc_load_masked(KB *kb, KT t, KV p, KV mask, KV passthru) {
  CB *b = CBP(kb);
  KV r = fresh(b, t);
  mask = named(b, mask);
  if (passthru) stmt(b, "%s = %s;", E(r), E(passthru));
  size_t es = lane_bytes(t.e);
  stmt(b, "for (int l = 0; l < %d; l++) if (%s[l]) memcpy((char *)&%s + l * %zu, %s + l * %zu, %zu);", t.lanes,
       E(mask), E(r), es, E(p), es, es);
  return r;
}

static void kbc_store_masked(KB *kb, KV val, KV p, KV mask) {
  CB *b = CBP(kb);
  val = named(b, val);
  mask = named(b, mask);
  size_t es = lane_bytes(val->t.e);
  stmt(b, "for (int l = 0; l < %d; l++) if (%s[l]) memcpy(%s + l * %zu, (const char *)&%s + l * %zu, %zu);",
       val->t.lanes, E(mask), E(p), es, E(val), es, es);
}

static KV kbc_gather(KB *kb, KT t, KV base, KV idx, KV mask) {
  CB *b = CBP(kb);
  KV r = fresh(b, t);
  idx = named(b, idx);
  size_t es = lane_bytes(t.e);
  if (mask) mask = named(b, mask);
  stmt(b, "for (int l = 0; l < %d; l++) %smemcpy((char *)&%s + l * %zu, %s + (int64_t)%s[l] * %zu, %zu);", t.lanes,
       mask ? cm_strf(b->m, "if (%s[l]) ", E(mask)) : "", E(r), es, E(base), E(idx), es, es);
  return r;
}

static void kbc_scatter(KB *kb, KV val, KV base, KV idx, KV mask) {
  CB *b = CBP(kb);
  val = named(b, val);
  idx = named(b, idx);
  size_t es = lane_bytes(val->t.e);
  if (mask) mask = named(b, mask);
  stmt(b, "for (int l = 0; l < %d; l++) %smemcpy(%s + (int64_t)%s[l] * %zu, (const char *)&%s + l * %zu, %zu);",
       val->t.lanes, mask ? cm_strf(b->m, "if (%s[l]) ", E(mask)) : "", E(base), E(idx), es, E(val), es, es);
}

static KV kbc_load_bool(KB *kb, int lanes, KV p, KV mask) {
  CB *b = CBP(kb);
  KT t = kt(KE_I8, lanes);
  if (lanes <= 1) {
    KV by = kbc_load(kb, t, p);
    return let(b, kt_s(KE_I1), "%s != 0", E(by));
  }
  KV by = mask ? kbc_load_masked(kb, t, p, mask, NULL) : kbc_load(kb, t, p);
  return let(b, kt(KE_I1, lanes), "%s != (%s){0}", E(by), tname(b, t));
}

static void kbc_store_bool(KB *kb, KV val, KV p, KV mask) {
  CB *b = CBP(kb);
  KT t = kt(KE_I8, val->t.lanes);
  KV by = val->t.lanes <= 1 ? let(b, t, "(int8_t)%s", E(val)) : let(b, t, "-%s", E(val));
  if (mask) kbc_store_masked(kb, by, p, mask);
  else kbc_store(kb, by, p);
}

static void kbc_memcpy(KB *kb, KV dst, KV src, KV bytes) {
  stmt(CBP(kb), "memcpy(%s, %s, (size_t)(%s));", E(dst), E(src), E(bytes));
}
static void kbc_memset(KB *kb, KV dst, int byte, KV bytes) {
  stmt(CBP(kb), "memset(%s, %d, (size_t)(%s));", E(dst), byte & 255, E(bytes));
}
static void kbc_prefetch(KB *kb, KV p) { stmt(CBP(kb), "__builtin_prefetch(%s, 0, 3);", E(p)); }

static KV kbc_tail_mask(KB *kb, int lanes, KV remaining) {
  CB *b = CBP(kb);
  KV io = kbc_iota(kb, kt(KE_I64, lanes));
  KV r = kbc_splat(kb, remaining, lanes);
  return let(b, kt(KE_I1, lanes), "__builtin_convertvector(%s < %s, %s)", E(io), E(r), tname(b, kt(KE_I1, lanes)));
}

/* ---- arithmetic ---- */
/* integer operation done in the unsigned type (wrapping), result back in the signed type */
static KV wrap2(CB *b, const char *op, KV a, KV x) {
  KT t = a->t;
  const char *u = tname_u(b, t, true);
  return let(b, t, "(%s)((%s)%s %s (%s)%s)", tname(b, t), u, E(a), op, u, E(x));
}

/* x is a scalar integer literal (as int_lit writes them) */
static bool lit_int(KV v, int64_t *x) {
  if (v->named || v->t.lanes > 1 || !is_int(v->t.e)) return false;
  const char *s = v->e + (v->e[0] == '(');
  char *end;
  long long r = strtoll(s, &end, 10);
  if (end == s || (*end && !(*end == ')' && !end[1]))) return false;
  *x = r;
  return true;
}

/* scalar integer + - * with a literal operand: fold what LLVM's builder folds (x + 0, x * 1, ...) */
static KV fold(CB *b, char op, KV a, KV x) {
  int64_t va, vx;
  bool la = lit_int(a, &va), lx = lit_int(x, &vx);
  if (la && lx) {
    uint64_t ua = (uint64_t)va, ux = (uint64_t)vx;
    return kbc_int((KB *)(void *)b, a->t, (int64_t)(op == '+' ? ua + ux : op == '-' ? ua - ux : ua * ux));
  }
  if (op == '+' && la && va == 0) return x;
  if ((op == '+' || op == '-') && lx && vx == 0) return a;
  if (op == '*' && ((la && va == 0) || (lx && vx == 0))) return kbc_int((KB *)(void *)b, a->t, 0);
  if (op == '*' && la && va == 1) return x;
  if (op == '*' && lx && vx == 1) return a;
  return NULL;
}

static KV binop(CB *b, const char *op, KV a, KV x) {
  KV f = is_int(a->t.e) && a->t.lanes <= 1 ? fold(b, op[0], a, x) : NULL;
  if (f) return f;
  if (is_int(a->t.e)) return wrap2(b, op, a, x);
  return let(b, a->t, "%s %s %s", E(a), op, E(x));
}

static KV kbc_add(KB *kb, KV a, KV b) { return binop(CBP(kb), "+", a, b); }
static KV kbc_sub(KB *kb, KV a, KV b) { return binop(CBP(kb), "-", a, b); }
static KV kbc_mul(KB *kb, KV a, KV b) { return binop(CBP(kb), "*", a, b); }

static KV kbc_div(KB *kb, KV a, KV x, bool uns) {
  CB *b = CBP(kb);
  if (uns && is_int(a->t.e)) return wrap2(b, "/", a, x);
  return let(b, a->t, "%s / %s", E(a), E(x));
}

/* r[l] = expr over a[l], b[l], c[l] (lanes) or the scalars; fmt uses %1$s.. as A, B, C */
static KV lanewise(CB *b, KT rt, const char *fmt, KV a, KV x, KV y) {
  char sa[64], sx[64], sy[64];
  if (rt.lanes <= 1) {
    char expr[1024];
    snprintf(sa, sizeof sa, "%s", a ? E(a) : "");
    snprintf(sx, sizeof sx, "%s", x ? E(x) : "");
    snprintf(sy, sizeof sy, "%s", y ? E(y) : "");
    /* substitute A, B, C */
    size_t n = 0;
    for (const char *f = fmt; *f && n + 70 < sizeof expr; f++) {
      const char *s = *f == 'A' ? sa : *f == 'B' ? sx : *f == 'C' ? sy : NULL;
      if (s) n += (size_t)snprintf(expr + n, sizeof expr - n, "(%s)", s);
      else expr[n++] = *f;
    }
    expr[n] = 0;
    return let(b, rt, "%s", expr);
  }
  if (a) a = named(b, a);
  if (x) x = named(b, x);
  if (y) y = named(b, y);
  snprintf(sa, sizeof sa, "%s[l]", a ? E(a) : "");
  snprintf(sx, sizeof sx, "%s[l]", x ? E(x) : "");
  snprintf(sy, sizeof sy, "%s[l]", y ? E(y) : "");
  char expr[1024];
  size_t n = 0;
  for (const char *f = fmt; *f && n + 70 < sizeof expr; f++) {
    const char *s = *f == 'A' ? sa : *f == 'B' ? sx : *f == 'C' ? sy : NULL;
    if (s) n += (size_t)snprintf(expr + n, sizeof expr - n, "%s", s);
    else expr[n++] = *f;
  }
  expr[n] = 0;
  KV r = fresh(b, rt);
  stmt(b, "for (int l = 0; l < %d; l++) %s[l] = %s;", rt.lanes, E(r), expr);
  return r;
}

/* name of a float builtin for the element: "sqrt" -> "__builtin_sqrtf" */
static const char *fbuiltin(CB *b, KElem e, const char *fn) {
  return cm_strf(b->m, "__builtin_%s%s", fn, e == KE_F32 ? "f" : "");
}

static KV fcall1(CB *b, const char *fn, KV a) {
  return lanewise(b, a->t, cm_strf(b->m, "%s(A)", fbuiltin(b, a->t.e, fn)), a, NULL, NULL);
}
static KV fcall2(CB *b, const char *fn, KV a, KV x) {
  return lanewise(b, a->t, cm_strf(b->m, "%s(A, B)", fbuiltin(b, a->t.e, fn)), a, x, NULL);
}

static KV kbc_rem(KB *kb, KV a, KV x, bool uns) {
  CB *b = CBP(kb);
  if (kb_is_float(a->t.e)) return fcall2(b, "fmod", a, x);
  if (uns) return wrap2(b, "%", a, x);
  return let(b, a->t, "%s %% %s", E(a), E(x));
}

static KV kbc_neg(KB *kb, KV a) {
  CB *b = CBP(kb);
  if (is_int(a->t.e)) return let(b, a->t, "(%s)(-(%s)%s)", tname(b, a->t), tname_u(b, a->t, true), E(a));
  return let(b, a->t, "-%s", E(a));
}

static KV kbc_fma(KB *kb, KV a, KV x, KV c) {
  CB *b = CBP(kb);
  return lanewise(b, a->t, cm_strf(b->m, "%s(A, B, C)", fbuiltin(b, a->t.e, "fma")), a, x, c);
}

/* r = m ? x : y for a vector mask m of a's element width (0 / -1 lanes) */
static KV vselect_w(CB *b, KV m, KV x, KV y) {
  KT t = x->t;
  KT it = kt(int_of(t.e), t.lanes);
  const char *ti = tname(b, it);
  if (kb_is_float(t.e) || t.e == KE_F16 || t.e == KE_BF16)
    return let(b, t, "(%s)(((%s)%s & %s) | ((%s)%s & ~%s))", tname(b, t), ti, E(x), E(m), ti, E(y), E(m));
  return let(b, t, "(%s)((%s & %s) | (%s & ~%s))", tname(b, t), E(x), E(m), E(y), E(m));
}

/* a comparison of vectors (an int vector of the operands' width) as the mask type of x */
static KV wide_mask(CB *b, KV cmp_i1, KT of) {
  KT it = kt(int_of(of.e), of.lanes);
  if (int_of(of.e) == KE_I8) return let(b, it, "(%s)%s", tname(b, it), E(cmp_i1));
  return let(b, it, "__builtin_convertvector(%s, %s)", E(cmp_i1), tname(b, it));
}

static KV minmax(CB *b, KV a, KV x, bool uns, bool max) {
  KT t = a->t;
  bool fl = kb_is_float(t.e);
  if (t.lanes <= 1) {
    if (fl) /* minnum / maxnum: a NaN operand loses */
      return let(b, t, max ? "(%2$s > %1$s || %1$s != %1$s) ? %2$s : %1$s" : "(%2$s < %1$s || %1$s != %1$s) ? %2$s : %1$s",
                 E(a), E(x));
    const char *u = uns ? tname_u(b, t, true) : tname(b, t);
    return let(b, t, "(%s)%s %s (%s)%s ? %s : %s", u, E(a), max ? ">" : "<", u, E(x), E(a), E(x));
  }
  a = named(b, a);
  x = named(b, x);
  KV m;
  if (fl) {
    KT it = kt(int_of(t.e), t.lanes);
    /* take x where x beats a or a is NaN */
    m = let(b, it, "(%s)((%s %s %s) | (%s != %s))", tname(b, it), E(x), max ? ">" : "<", E(a), E(a), E(a));
    return vselect_w(b, m, x, a);
  }
  const char *u = uns ? tname_u(b, t, true) : tname(b, t);
  m = let(b, kt(int_of(t.e), t.lanes), "(%s)((%s)%s %s (%s)%s)", tname(b, kt(int_of(t.e), t.lanes)), u, E(a),
          max ? ">" : "<", u, E(x));
  return vselect_w(b, m, a, x);
}

static KV kbc_min(KB *kb, KV a, KV b, bool uns) { return minmax(CBP(kb), a, b, uns, false); }
static KV kbc_max(KB *kb, KV a, KV b, bool uns) { return minmax(CBP(kb), a, b, uns, true); }

static KV kbc_fmin_nan(KB *kb, KV a, KV x) {
  CB *b = CBP(kb);
  return lanewise(b, a->t,
                  "(A != A || B != B) ? A + B : A < B ? A : B < A ? B : __builtin_signbit(A) ? A : B", a, x, NULL);
}
static KV kbc_fmax_nan(KB *kb, KV a, KV x) {
  CB *b = CBP(kb);
  return lanewise(b, a->t,
                  "(A != A || B != B) ? A + B : A > B ? A : B > A ? B : __builtin_signbit(A) ? B : A", a, x, NULL);
}

/* float bits: (a & keep) | (s & take) as the integer type of the float's width */
static KV fbits(CB *b, KV a, const char *op_a, KV s, const char *op_s) {
  KT t = a->t;
  KT it = kt(int_of(t.e), t.lanes);
  const char *ti = tname(b, it);
  if (t.lanes <= 1) { /* scalars: through memcpy (no type punning) */
    KV ia = kbc_bitcast((KB *)(void *)b, a, it);
    KV r = s ? let(b, it, "(%s)((%s %s) | (%s %s))", ti, E(ia), op_a, E(kbc_bitcast((KB *)(void *)b, s, it)), op_s)
             : let(b, it, "(%s)(%s %s)", ti, E(ia), op_a);
    return kbc_bitcast((KB *)(void *)b, r, t);
  }
  if (s) return let(b, t, "(%s)(((%s)%s %s) | ((%s)%s %s))", tname(b, t), ti, E(a), op_a, ti, E(s), op_s);
  return let(b, t, "(%s)((%s)%s %s)", tname(b, t), ti, E(a), op_a);
}

static const char *sign_mask(KElem e) { return e == KE_F64 ? "(int64_t)0x8000000000000000ULL" : "(int32_t)0x80000000U"; }
static const char *abs_mask(KElem e) { return e == KE_F64 ? "0x7fffffffffffffffLL" : "0x7fffffff"; }

static KV kbc_abs(KB *kb, KV a) {
  CB *b = CBP(kb);
  if (kb_is_float(a->t.e)) return fbits(b, a, cm_strf(b->m, "& %s", abs_mask(a->t.e)), NULL, NULL);
  if (a->t.lanes <= 1)
    return let(b, a->t, "(%s)(%s < 0 ? -(%s)%s : (%s)%s)", tname(b, a->t), E(a), tname_u(b, a->t, true), E(a),
               tname_u(b, a->t, true), E(a));
  a = named(b, a);
  const char *u = tname_u(b, a->t, true);
  KV m = let(b, a->t, "(%s)(%s < (%s){0})", tname(b, a->t), E(a), tname(b, a->t));
  return let(b, a->t, "(%s)(((%s)%s ^ (%s)%s) - (%s)%s)", tname(b, a->t), u, E(a), u, E(m), u, E(m));
}

static KV kbc_sqrt(KB *kb, KV a) { return fcall1(CBP(kb), "sqrt", a); }
static KV kbc_floor(KB *kb, KV a) { return fcall1(CBP(kb), "floor", a); }
static KV kbc_ceil(KB *kb, KV a) { return fcall1(CBP(kb), "ceil", a); }
static KV kbc_round_even(KB *kb, KV a) { return fcall1(CBP(kb), "roundeven", a); }
static KV kbc_trunc(KB *kb, KV a) { return fcall1(CBP(kb), "trunc", a); }

static KV kbc_copysign(KB *kb, KV m, KV s) {
  CB *b = CBP(kb);
  return fbits(b, m, cm_strf(b->m, "& %s", abs_mask(m->t.e)), s, cm_strf(b->m, "& %s", sign_mask(m->t.e)));
}

static KV bitop(CB *b, const char *op, KV a, KV x) {
  if (a->t.e == KE_I1 && a->t.lanes <= 1) return let(b, a->t, "%s %s %s", E(a), op, E(x));
  return let(b, a->t, "(%s)(%s %s %s)", tname(b, a->t), E(a), op, E(x));
}
static KV kbc_and(KB *kb, KV a, KV b) { return bitop(CBP(kb), "&", a, b); }
static KV kbc_or(KB *kb, KV a, KV b) { return bitop(CBP(kb), "|", a, b); }
static KV kbc_xor(KB *kb, KV a, KV b) { return bitop(CBP(kb), "^", a, b); }
static KV kbc_not(KB *kb, KV a) {
  CB *b = CBP(kb);
  if (a->t.e == KE_I1 && a->t.lanes <= 1) return let(b, a->t, "!%s", E(a));
  return let(b, a->t, "(%s)~%s", tname(b, a->t), E(a));
}

/* shift counts are taken modulo the width (LLVM: poison beyond it; the generators select the
 * out-of-range results away) */
static KV shift(CB *b, KV a, KV x, const char *op, bool uns) {
  KT t = a->t;
  int bits = (int)lane_bytes(t.e) * 8;
  const char *u = tname_u(b, t, true);
  const char *ty = uns ? u : tname(b, t);
  if (t.lanes <= 1)
    return let(b, t, "(%s)((%s)%s %s ((%s)%s & %d))", tname(b, t), ty, E(a), op, u, E(x), bits - 1);
  KV cnt = kbc_int((KB *)(void *)b, t, bits - 1);
  return let(b, t, "(%s)((%s)%s %s ((%s)%s & (%s)%s))", tname(b, t), ty, E(a), op, u, E(x), u, E(cnt));
}
static KV kbc_shl(KB *kb, KV a, KV b) { return shift(CBP(kb), a, b, "<<", true); }
static KV kbc_shr(KB *kb, KV a, KV b, bool uns) { return shift(CBP(kb), a, b, ">>", uns); }
/* lane by lane: GCC and clang turn the builtin into popcnt/cnt where the target has one */
static KV kbc_popcount(KB *kb, KV a) {
  CB *b = CBP(kb);
  const char *fn = lane_bytes(a->t.e) == 8 ? "__builtin_popcountll" : "__builtin_popcount";
  return lanewise(b, a->t, cm_strf(b->m, "(%s)%s((%s)A)", tname(b, kt_s(a->t.e)), fn, tname_u(b, kt_s(a->t.e), true)), a, NULL, NULL);
}

static KV kbc_cmp(KB *kb, KCmp c, KV a, KV x, bool uns) {
  CB *b = CBP(kb);
  static const char *ops[] = {"==", "!=", "<", "<=", ">", ">="};
  KT t = a->t;
  KT rt = kt(KE_I1, t.lanes);
  bool fl = kb_is_float(t.e);
  if (c == KC_UNORD && !fl) return kbc_int(kb, rt, 0);
  const char *ca = E(a), *cx = E(x);
  if (uns && !fl && t.e != KE_I1) {
    const char *u = tname_u(b, t, true);
    ca = cm_strf(b->m, "(%s)%s", u, E(a));
    cx = cm_strf(b->m, "(%s)%s", u, E(x));
  }
  const char *expr = c == KC_UNORD ? cm_strf(b->m, "(%s != %s) | (%s != %s)", ca, ca, cx, cx)
                                   : cm_strf(b->m, "%s %s %s", ca, ops[c], cx);
  if (t.lanes <= 1) return let(b, rt, "%s", expr);
  if (lane_bytes(t.e) == 1) return let(b, rt, "(%s)(%s)", tname(b, rt), expr);
  return let(b, rt, "__builtin_convertvector(%s, %s)", expr, tname(b, rt));
}

static KV kbc_select(KB *kb, KV c, KV a, KV x) {
  CB *b = CBP(kb);
  if (c->t.lanes <= 1) return let(b, a->t, "%s ? %s : %s", E(c), E(a), E(x));
  KV m = lane_bytes(a->t.e) == 1 ? c : wide_mask(b, c, a->t);
  return vselect_w(b, m, a, x);
}

/* ---- conversions ---- */
static KV f16_to_f32(CB *b, KV v, bool bf) {
  return lanewise(b, kt(KE_F32, v->t.lanes), bf ? "onnxc_bf2f(A)" : "onnxc_h2f(A)", v, NULL, NULL);
}

static KV kbc_cast(KB *kb, KV v, KT to, bool src_uns, bool dst_uns) {
  CB *b = CBP(kb);
  KT from = v->t;
  if (from.e == to.e) return v;
  bool ff = kb_is_float(from.e), tf = kb_is_float(to.e);
  int W = to.lanes;
  const char *tt = tname(b, to);
  bool vec = W > 1;
  if (to.e == KE_I1) {
    KV z = ff ? kbc_float(kb, from, 0) : kbc_int(kb, from, 0);
    return kbc_cmp(kb, KC_NE, v, z, false);
  }
  if (from.e == KE_F16 || from.e == KE_BF16) {
    KV f = f16_to_f32(b, v, from.e == KE_BF16);
    return kbc_cast(kb, f, to, src_uns, dst_uns);
  }
  if (to.e == KE_F16 || to.e == KE_BF16) {
    KV f = kbc_cast(kb, v, kt(KE_F32, W), src_uns, dst_uns);
    return lanewise(b, to, to.e == KE_BF16 ? "onnxc_f2bf(A)" : "onnxc_f2h(A)", f, NULL, NULL);
  }
  if (ff && tf) return vec ? let(b, to, "__builtin_convertvector(%s, %s)", E(v), tt) : let(b, to, "(%s)%s", tt, E(v));
  if (!ff && tf) {
    if (from.e == KE_I1) return vec ? let(b, to, "__builtin_convertvector(-%s, %s)", E(v), tt) : let(b, to, "(%s)%s", tt, E(v));
    const char *src = src_uns ? cm_strf(b->m, "(%s)%s", tname_u(b, from, true), E(v)) : E(v);
    return vec ? let(b, to, "__builtin_convertvector(%s, %s)", src, tt) : let(b, to, "(%s)%s", tt, src);
  }
  if (ff && !tf) {
    /* saturating: NaN -> 0, out of range -> the limits */
    int bits = (int)kb_elem_size(to.e) * 8;
    const char *fx = from.e == KE_F32 ? "f" : "";
    const char *fmt;
    if (dst_uns)
      fmt = cm_strf(b->m, "!(A > -1.0%s) ? 0 : A >= 0x1p%d%s ? (%s)~(%s)0 : (%s)(%s)A", fx, bits, fx,
                    lane_ctype(to.e, false, true), lane_ctype(to.e, true, true), lane_ctype(to.e, false, true),
                    lane_ctype(to.e, true, true));
    else
      fmt = cm_strf(b->m, "A != A ? 0 : A < -0x1p%d%s ? (%s)((%s)1 << %d) : A >= 0x1p%d%s ? (%s)(((%s)1 << %d) - 1) : (%s)A",
                    bits - 1, fx, lane_ctype(to.e, false, true), lane_ctype(to.e, true, true), bits - 1, bits - 1, fx,
                    lane_ctype(to.e, false, true), lane_ctype(to.e, true, true), bits - 1, lane_ctype(to.e, false, true));
    return lanewise(b, to, fmt, v, NULL, NULL);
  }
  /* int -> int */
  if (from.e == KE_I1)
    return vec ? let(b, to, "-__builtin_convertvector(%s, %s)", E(v), tt) : let(b, to, "(%s)%s", tt, E(v));
  const char *src = src_uns && kb_elem_size(to.e) > kb_elem_size(from.e)
                        ? cm_strf(b->m, "(%s)%s", tname_u(b, from, true), E(v))
                        : E(v);
  return vec ? let(b, to, "__builtin_convertvector(%s, %s)", src, tt) : let(b, to, "(%s)%s", tt, src);
}

static KV kbc_bitcast(KB *kb, KV v, KT to) {
  CB *b = CBP(kb);
  v = named(b, v);
  KV r = fresh(b, to);
  stmt(b, "memcpy(&%s, &%s, sizeof %s);", E(r), E(v), E(r));
  return r;
}

static KV kbc_splat(KB *kb, KV s, int lanes) {
  CB *b = CBP(kb);
  if (lanes <= 1) return s;
  KT t = kt(s->t.e, lanes);
  s = named(b, s);
  CStr l = {0};
  const char *x = s->t.e == KE_I1 ? cm_strf(b->m, "(int8_t)-%s", E(s)) : E(s);
  for (int i = 0; i < lanes; i++) cstr_printf(&l, "%s%s", i ? ", " : "", x);
  KV r = let(b, t, "(%s){%s}", tname(b, t), l.s);
  free(l.s);
  return r;
}

static KV kbc_extract(KB *kb, KV v, int lane) {
  CB *b = CBP(kb);
  v = named(b, v);
  if (v->t.e == KE_I1) return let(b, kt_s(KE_I1), "%s[%d] != 0", E(v), lane);
  return let(b, kt_s(v->t.e), "%s[%d]", E(v), lane);
}

static KV kbc_insert(KB *kb, KV v, KV s, int lane) {
  CB *b = CBP(kb);
  KV r = fresh(b, v->t);
  stmt(b, "%s = %s;", E(r), E(v));
  stmt(b, "%s[%d] = %s%s;", E(r), lane, v->t.e == KE_I1 ? "-" : "", E(s));
  return r;
}

static KV kbc_shuffle(KB *kb, KV a, KV x, const int *lanes, int n) {
  CB *b = CBP(kb);
  a = named(b, a);
  x = named(b, x);
  int na = a->t.lanes;
  KT t = kt(a->t.e, n);
  CStr l = {0};
  for (int i = 0; i < n; i++) {
    if (lanes[i] < 0) cstr_printf(&l, "%s0", i ? ", " : "");
    else if (lanes[i] < na) cstr_printf(&l, "%s%s[%d]", i ? ", " : "", E(a), lanes[i]);
    else cstr_printf(&l, "%s%s[%d]", i ? ", " : "", E(x), lanes[i] - na);
  }
  KV r = n > 1 ? let(b, t, "(%s){%s}", tname(b, t), l.s) : let(b, t, "%s", l.s);
  free(l.s);
  return r;
}

/* lane i (as many as idx has): table[idx[i] & (L - 1)], lane by lane (GCC turns it into a permute
 * where it can) */
static KV kbc_permute(KB *kb, KV table, KV idx) {
  CB *b = CBP(kb);
  table = named(b, table);
  idx = named(b, idx);
  int n = table->t.lanes, ni = idx->t.lanes;
  KT rt = kt(table->t.e, ni);
  CStr l = {0};
  for (int i = 0; i < ni; i++) cstr_printf(&l, "%s%s[%s[%d] & %d]", i ? ", " : "", E(table), E(idx), i, n - 1);
  KV r = ni > 1 ? let(b, rt, "(%s){%s}", tname(b, rt), l.s) : let(b, rt, "%s", l.s);
  free(l.s);
  return r;
}

/* lane i: (lo ++ hi)[idx[i] & 127], lane by lane */
static KV kbc_permute2(KB *kb, KV lo, KV hi, KV idx) {
  CB *b = CBP(kb);
  lo = named(b, lo);
  hi = named(b, hi);
  idx = named(b, idx);
  int n = lo->t.lanes, ni = idx->t.lanes;
  KT rt = kt(lo->t.e, ni);
  CStr l = {0};
  for (int i = 0; i < ni; i++)
    cstr_printf(&l, "%s(%s[%d] & %d) ? %s[%s[%d] & %d] : %s[%s[%d] & %d]", i ? ", " : "", E(idx), i, n, E(hi), E(idx), i,
                n - 1, E(lo), E(idx), i, n - 1);
  KV r = ni > 1 ? let(b, rt, "(%s){%s}", tname(b, rt), l.s) : let(b, rt, "%s", l.s);
  free(l.s);
  return r;
}

/* C has no portable 4-way byte dot product: widening multiplies and shuffles */
static KV kbc_dot4_u8s8(KB *kb, KV acc, KV a, KV x) { return kb_dot4_u8s8_generic(kb, acc, a, x); }
static KV kbc_dot2_bf16(KB *kb, KV acc, KV a, KV x) { return kb_dot2_bf16_generic(kb, acc, a, x); }
static KV kbc_to_bf16(KB *kb, KV v) { return kb_cast(kb, v, kt(KE_BF16, kb_type(kb, v).lanes), false, false); }
static KV kbc_requant_bytes(KB *kb, const KV *v, int n, int zp, bool uns) { return kb_requant_bytes_generic(kb, v, n, zp, uns); }

/* ---- reductions (a pairwise tree, as LLVM's reassociated reductions) ---- */
static KV reduce(CB *b, KV v, const char *fmt, KT st) {
  int n = v->t.lanes;
  if (n <= 1) return v;
  v = named(b, v);
  KV *lane = cm_alloc(b->m, sizeof(KV) * (size_t)n);
  for (int i = 0; i < n; i++) lane[i] = mkv(b, st, cm_strf(b->m, "%s[%d]", E(v), i), false);
  while (n > 1) {
    int h = (n + 1) / 2;
    for (int i = 0; i + h < n; i++) lane[i] = lanewise(b, st, fmt, lane[i], lane[i + h], NULL);
    n = h;
  }
  return lane[0];
}

static KV kbc_reduce_add(KB *kb, KV v) {
  CB *b = CBP(kb);
  KT st = kt_s(v->t.e);
  if (is_int(v->t.e)) {
    const char *u = lane_ctype(v->t.e, true, true);
    return reduce(b, v, cm_strf(b->m, "(%s)((%s)A + (%s)B)", lane_ctype(v->t.e, false, true), u, u), st);
  }
  return reduce(b, v, "A + B", st);
}
static KV kbc_reduce_mul(KB *kb, KV v) {
  CB *b = CBP(kb);
  KT st = kt_s(v->t.e);
  if (is_int(v->t.e)) {
    const char *u = lane_ctype(v->t.e, true, true);
    return reduce(b, v, cm_strf(b->m, "(%s)((%s)A * (%s)B)", lane_ctype(v->t.e, false, true), u, u), st);
  }
  return reduce(b, v, "A * B", st);
}
static KV reduce_mm(CB *b, KV v, bool uns, bool max) {
  KT st = kt_s(v->t.e);
  if (kb_is_float(v->t.e)) return reduce(b, v, max ? "(B > A || A != A) ? B : A" : "(B < A || A != A) ? B : A", st);
  if (uns) {
    const char *u = lane_ctype(v->t.e, true, true);
    return reduce(b, v, cm_strf(b->m, "(%s)A %s (%s)B ? A : B", u, max ? ">" : "<", u), st);
  }
  return reduce(b, v, max ? "A > B ? A : B" : "A < B ? A : B", st);
}
static KV kbc_reduce_min(KB *kb, KV v, bool uns) { return reduce_mm(CBP(kb), v, uns, false); }
static KV kbc_reduce_max(KB *kb, KV v, bool uns) { return reduce_mm(CBP(kb), v, uns, true); }
static KV kbc_reduce_or(KB *kb, KV v) {
  CB *b = CBP(kb);
  if (v->t.lanes <= 1) return v;
  v = named(b, v);
  KV r = fresh(b, kt_s(KE_I1));
  stmt(b, "for (int l = 0; l < %d; l++) %s |= %s[l] != 0;", v->t.lanes, E(r), E(v));
  return r;
}

/* ---- variables and control flow ---- */
static KVar kbc_var(KB *kb, KT t, KV init) {
  CB *b = CBP(kb);
  KVar v = cm_alloc(b->m, sizeof *v);
  v->t = t;
  v->name = cm_strf(b->m, "v%d", b->ntmp++);
  if (t.e == KE_PTR && t.lanes <= 1) cstr_printf(&b->decl, "  ONNXC_U char *%s = 0;\n", v->name);
  else cstr_printf(&b->decl, "  ONNXC_U %s %s = {0};\n", tname(b, t), v->name);
  if (init) kbc_set(kb, v, init);
  return v;
}

static KV kbc_get(KB *kb, KVar v) { return let(CBP(kb), v->t, "%s", v->name); }
static void kbc_set(KB *kb, KVar v, KV val) { stmt(CBP(kb), "%s = %s;", v->name, E(val)); }

static KV kbc_for(KB *kb, KV lo, KV hi, int64_t step) {
  CB *b = CBP(kb);
  const char *i = cm_strf(b->m, "i%d", b->ntmp++);
  stmt(b, "for (int64_t %s = %s; %s < %s; %s += %lld) {", i, E(lo), i, E(hi), i, (long long)step);
  b->depth++;
  return mkv(b, kt_s(KE_I64), i, true);
}

static void kbc_endfor(KB *kb) {
  CB *b = CBP(kb);
  b->depth--;
  stmt(b, "}");
}

static void kbc_if(KB *kb, KV cond) {
  CB *b = CBP(kb);
  stmt(b, "if (%s) {", E(cond));
  b->depth++;
}

static void kbc_else(KB *kb) {
  CB *b = CBP(kb);
  b->depth--;
  stmt(b, "} else {");
  b->depth++;
}

static void kbc_endif(KB *kb) { kbc_endfor(kb); }

static void kbc_return_status(KB *kb, KV status) { stmt(CBP(kb), "return %s;", E(status)); }

static KV kbc_call_rt(KB *kb, const char *name, KT ret, int nargs, KV *args) {
  CB *b = CBP(kb);
  CMod *m = b->m;
  const char *fn = cm_ident(m, name);
  bool known = false;
  for (int i = 0; i < m->nnames && !known; i++) known = !strcmp(m->names[i], fn);
  CStr a = {0}, p = {0};
  for (int i = 0; i < nargs; i++) {
    bool ptr = args[i]->t.e == KE_PTR;
    cstr_printf(&a, "%s%s%s", i ? ", " : "", ptr ? "(void *)" : "", E(args[i]));
    cstr_printf(&p, "%s%s", i ? ", " : "", ptr ? "void *" : tname(b, args[i]->t));
  }
  if (!known) cstr_printf(&m->protos, "%s %s(%s);\n", tname(b, ret), fn, nargs ? p.s : "void");
  KV r = let(b, ret, "%s(%s)", fn, nargs ? a.s : "");
  free(a.s);
  free(p.s);
  return r;
}

#define ENTRY(R, name, params, args) .op_##name = kbc_##name,
#define ENTRYV(name, params, args) .op_##name = kbc_##name,
const KbEmitter kb_c_emitter = {.name = "c", KB_EMITTER_OPS(ENTRY, ENTRYV)};
