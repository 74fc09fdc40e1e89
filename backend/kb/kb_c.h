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
CMod *kb_c_mod(KB *kb);

/* emit_c.c: the graph function of a control node's subgraph (called by be_build_subgraph) */
int cm_build_subgraph(GenCtx *c, Graph *sub, const char *tag, int64_t arena_base, const char **fn_name);

/* module.c, shared by the LLVM and C graph builders: the storage plan of g (passes/plan.c;
 * planned here if the caller skipped the pipeline) placed at arena_base, and the budget checked;
 * *arena_top is the end of the arena this graph uses.  0 ok, -1 error (ir_last_error(g)). */
int be_plan_graph(Graph *g, int64_t arena_base, int64_t max_memory, int64_t *arena_top);
int be_gen_node(GenCtx *c);      /* the generator c->n's ops.def row names (gen_table.c) */

#endif
