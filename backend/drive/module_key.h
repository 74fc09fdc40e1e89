/* module_key.h — kernels found identical before they are generated (module_key.c). */
#ifndef ONNXC_MODULE_KEY_H
#define ONNXC_MODULE_KEY_H

#include "ir.h"

/* module_key.c: a node whose key (what its generator reads) was seen before takes that node's
 * kernel without being generated.  be_keys_find(NULL, ...) finds nothing. */
typedef struct KeyedKernel {
  uint64_t hash;
  uint8_t *key;
  size_t len;
  void *kfn;          /* the kernel function (an LLVMValueRef; this file knows no LLVM) */
  size_t *wofs;       /* its kb_weight blob offsets */
  int nw;
  int64_t work, phases, scratch_bytes, arena_extra; /* GenCtx results; arena_extra = arena_end - arena_top */
  uint32_t const_unused;
} KeyedKernel;
typedef struct KernelKeys KernelKeys;
KernelKeys *be_keys_new(void);
void be_keys_free(KernelKeys *ks);
const KeyedKernel *be_keys_find(KernelKeys *ks, const Graph *g, const Node *n);
void be_keys_add(KernelKeys *ks, const Graph *g, const Node *n, const KeyedKernel *what);

#endif
