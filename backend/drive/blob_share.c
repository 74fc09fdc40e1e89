/* blob_share.c — identical pieces of a weight blob stored once.
 *
 * A multi-shape library (`onnxc compile --shape batch=1,4,16`) builds one graph per shape into one
 * module; each graph registers its constants and packed weights with the module's blob again.
 * With a share index on the blob (blob_share_begin), blob_add returns the offset of an identical
 * piece already there instead of copying it, so the variants reference one copy of the weights.
 * Pieces are found by a hash of their bytes and compared in full before being shared. */
#include <stdlib.h>
#include <string.h>

#include "kb_impl.h"

typedef struct BlobPiece {
  uint64_t hash;
  size_t off, bytes; /* bytes 0: an empty slot */
} BlobPiece;

struct BlobShare {
  BlobPiece *slot;
  size_t cap, used; /* cap a power of two, kept at least twice used */
};

/* 8 bytes at a time (weights are megabytes); any hash works, equal pieces are compared anyway */
static uint64_t piece_hash(const unsigned char *p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  for (; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h ^ (h >> 29);
}

void blob_share_begin(WeightBlob *w) {
  if (w->share) return;
  w->share = ir_xcalloc(1, sizeof *w->share);
}

void blob_share_end(WeightBlob *w) {
  if (!w->share) return;
  free(w->share->slot);
  free(w->share);
  w->share = NULL;
}

static void share_grow(BlobShare *s) {
  size_t cap = s->cap ? s->cap * 2 : 256;
  BlobPiece *slot = ir_xcalloc(cap, sizeof *slot);
  for (size_t i = 0; i < s->cap; i++)
    if (s->slot[i].bytes) {
      size_t j = s->slot[i].hash & (cap - 1);
      while (slot[j].bytes) j = (j + 1) & (cap - 1);
      slot[j] = s->slot[i];
    }
  free(s->slot);
  s->slot = slot;
  s->cap = cap;
}

bool blob_share_find(const WeightBlob *w, const void *data, size_t bytes, size_t *off) {
  const BlobShare *s = w->share;
  if (!bytes || !s->cap) return false;
  uint64_t h = piece_hash(data, bytes);
  for (size_t j = h & (s->cap - 1); s->slot[j].bytes; j = (j + 1) & (s->cap - 1)) {
    const BlobPiece *p = &s->slot[j];
    if (p->hash == h && p->bytes == bytes && !memcmp(w->data + p->off, data, bytes)) {
      *off = p->off;
      return true;
    }
  }
  return false;
}

void blob_share_note(WeightBlob *w, size_t off, size_t bytes) {
  BlobShare *s = w->share;
  if (!bytes) return;
  if (2 * (s->used + 1) > s->cap) share_grow(s);
  uint64_t h = piece_hash(w->data + off, bytes);
  size_t j = h & (s->cap - 1);
  while (s->slot[j].bytes) j = (j + 1) & (s->cap - 1);
  s->slot[j] = (BlobPiece){h, off, bytes};
  s->used++;
}
