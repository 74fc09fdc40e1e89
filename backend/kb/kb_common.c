/* kb_common.c — the target-neutral parts of the kernel builder, shared by both emitters and the
 * drivers: element kinds of tensor dtypes, and the weight blob. */
#include <stdlib.h>
#include <string.h>

#include "kb_impl.h"

static void blob_note_piece(WeightBlob *w, size_t off, size_t bytes) {
  if (w->npiece == w->cappiece) {
    w->cappiece = w->cappiece ? 2 * w->cappiece : 64;
    w->piece = ir_xrealloc(w->piece, w->cappiece * sizeof *w->piece);
  }
  w->piece[w->npiece][0] = off;
  w->piece[w->npiece++][1] = bytes;
}

size_t blob_add(WeightBlob *w, const void *data, size_t bytes) {
  size_t off;
  if (w->share && blob_share_find(w, data, bytes, &off)) return off;
  off = (w->size + 63) & ~(size_t)63;
  size_t need = off + bytes;
  if (need > w->cap) {
    size_t cap = w->cap ? w->cap : 1 << 16;
    while (cap < need) cap *= 2;
    unsigned char *p = realloc(w->data, cap);
    if (!p) ir_oom();
    w->data = p;
    w->cap = cap;
  }
  if (off > w->size) memset(w->data + w->size, 0, off - w->size); /* w->data is NULL until the first byte */
  if (bytes) memcpy(w->data + off, data, bytes);
  w->size = need;
  if (w->share) blob_share_note(w, off, bytes);
  if (w->record && bytes) blob_note_piece(w, off, bytes);
  return off;
}

KElem kb_elem_of(DType t) {
  switch (t) {
  case DT_FLOAT: return KE_F32;
  case DT_DOUBLE: return KE_F64;
  case DT_FLOAT16: return KE_F16;
  case DT_BFLOAT16: return KE_BF16;
  case DT_INT8:
  case DT_UINT8:
  case DT_BOOL: return KE_I8;
  case DT_INT16:
  case DT_UINT16: return KE_I16;
  case DT_INT32:
  case DT_UINT32: return KE_I32;
  case DT_INT64:
  case DT_UINT64: return KE_I64;
  default: return KE_VOID;
  }
}

size_t kb_elem_size(KElem e) {
  static const size_t sz[] = {0, 1, 1, 2, 4, 8, 2, 2, 4, 8, 8};
  return sz[e];
}

bool kb_is_float(KElem e) { return e == KE_F16 || e == KE_BF16 || e == KE_F32 || e == KE_F64; }
