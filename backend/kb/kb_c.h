/* kb_c.h — the C-source emitter: the kernel builder for C (kb_c.c) and the graph functions and
 * files around the kernels (emit_c.c).  Generators never include this: they see only kb.h. */
#ifndef ONNXC_KB_C_H
#define ONNXC_KB_C_H

#include "be.h"
#include "kb_impl.h"

/* growable text */
typedef struct CStr {
  char *s;
  size_t n, cap;
} CStr;
void cstr_printf(CStr *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cstr_append(CStr *b, const char *s, size_t n);

/* one C translation unit under construction */
typedef struct CMod {
  const Target *target;
  const char *prefix;          /* model name: kernels are static PREFIX_kN */
  WeightBlob blob;
  CStr types, protos, body;    /* vector typedefs, prototypes, definitions */
  unsigned char have_type[KE_PTR + 1][2][65]; /* typedef emitted for (elem, unsigned, lanes) */
  int nkernels;
  int64_t max_memory;          /* --max-memory (0 = BE_DEFAULT_MAX_MEMORY) */
  char **names;                /* C names of the graph functions built so far */
  int nnames;
  void **chunks;               /* allocations freed by cm_free */
  int nchunks, capchunks;
} CMod;

void *cm_alloc(CMod *m, size_t bytes);
void cm_free(CMod *m);
char *cm_strf(CMod *m, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* kept until cm_free */
/* a C identifier for a module-level name ("net_graph.3.then" -> "net_graph_3_then") */
const char *cm_ident(CMod *m, const char *name);

/* a kernel with the uniform signature (kb.h), written into m->body at kb_c_kernel_end */
KB *kb_c_kernel_begin(CMod *m, int nbufs, bool may_alias, const char **fn_name);
void kb_c_kernel_end(KB *kb);
void kb_c_kernel_abandon(KB *kb);

#endif
