/* arena.c — bump allocator: one per compilation, freed once. */
#include "ir.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* The innermost out-of-memory handler of this thread (see ir_oom in ir.h). */
static _Thread_local jmp_buf *oom_target;

jmp_buf *ir_oom_swap(jmp_buf *target) {
  jmp_buf *prev = oom_target;
  oom_target = target;
  return prev;
}

_Noreturn void ir_oom(void) {
  if (oom_target) longjmp(*oom_target, 1);
  abort(); /* no library entry point is active: a unit test or a tool calling the IR directly */
}

void *ir_xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) ir_oom();
  return p;
}

void *ir_xrealloc(void *p, size_t bytes) {
  void *q = realloc(p, bytes ? bytes : 1);
  if (!q) ir_oom();
  return q;
}

void *ir_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) ir_oom();
  return p;
}

struct ArenaBlock {
  ArenaBlock *next;
  size_t used, size;
  void *map; /* arena_adopt_map: a mapping unmapped with the arena (this block serves nothing) */
  size_t map_bytes;
  _Alignas(64) unsigned char data[];
};

#define ARENA_BLOCK (1u << 20)

void *arena_try_alloc(Arena *a, size_t bytes) {
  void *p = arena_try_alloc_uninit(a, bytes);
  if (p) memset(p, 0, (bytes + 63) & ~(size_t)63);
  return p;
}

void *arena_try_alloc_uninit(Arena *a, size_t bytes) {
  size_t need = (bytes + 63) & ~(size_t)63;
  if (need < bytes) return NULL;
  ArenaBlock *b = a->head;
  if (!b || b->size - b->used < need) {
    size_t size = need > ARENA_BLOCK ? need : ARENA_BLOCK;
    size_t total = (sizeof(ArenaBlock) + size + 63) & ~(size_t)63;
    if (total < size) return NULL;
    b = aligned_alloc(64, total);
    if (!b) return NULL;
    b->used = 0;
    b->size = size;
    b->map = NULL;
    /* a large one-off block goes behind the head so the head keeps serving small requests */
    if (a->head && need > ARENA_BLOCK) {
      b->next = a->head->next;
      a->head->next = b;
    } else {
      b->next = a->head;
      a->head = b;
    }
    a->total += size;
  }
  void *p = b->data + b->used;
  b->used += need;
  return p;
}

void *arena_alloc(Arena *a, size_t bytes) {
  void *p = arena_try_alloc(a, bytes);
  if (!p) ir_oom();
  return p;
}

void *arena_dup(Arena *a, const void *p, size_t bytes) {
  void *q = arena_alloc(a, bytes ? bytes : 1);
  if (bytes) memcpy(q, p, bytes);
  return q;
}

char *arena_strdup(Arena *a, const char *s) {
  return arena_dup(a, s, strlen(s) + 1);
}

char *arena_printf(Arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = arena_alloc(a, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

int arena_adopt_map(Arena *a, void *p, size_t bytes) {
  ArenaBlock *b = aligned_alloc(64, sizeof(ArenaBlock));
  if (!b) return -1;
  *b = (ArenaBlock){.map = p, .map_bytes = bytes};
  /* behind the head (full, size 0): the head keeps serving requests */
  if (a->head) {
    b->next = a->head->next;
    a->head->next = b;
  } else
    a->head = b;
  return 0;
}

int arena_keep_start(Arena *a, void *region, size_t bytes) {
  ArenaKept *k = calloc(1, sizeof *k);
  if (!k) return -1;
  if (a->kept) free(a->kept->item), free(a->kept);
  k->region = region;
  k->bytes = region ? bytes : 0;
  a->kept = k;
  return 0;
}

void *arena_alloc_kept(Arena *a, size_t bytes) {
  ArenaKept *k = a->kept;
  size_t need = (bytes + 63) & ~(size_t)63;
  void *p = NULL;
  if (k && need >= bytes && k->bytes - k->used >= need) {
    p = k->region + k->used;
    k->used += need;
  } else {
    if (!(p = arena_try_alloc_uninit(a, bytes))) return NULL;
    arena_advise_huge(p, bytes);
    if (k) k->outside = true;
  }
  if (!k || k->broken) return p;
  if (k->n == k->cap) {
    size_t cap = k->cap ? 2 * k->cap : 64;
    struct ArenaKeptItem *it = realloc(k->item, cap * sizeof *it);
    if (!it) {
      k->broken = true;
      return p;
    }
    k->item = it, k->cap = cap;
  }
  k->item[k->n++] = (struct ArenaKeptItem){p, bytes};
  return p;
}

void arena_fill(Arena *a, void *dst, const void *src, size_t n) {
  ArenaKept *k = a->kept;
  unsigned char *d = dst;
  if (!k || !k->region || d < k->region || d >= k->region + k->bytes) {
    memcpy(dst, src, n);
    return;
  }
  if (!memcmp(dst, src, n)) return; /* the page stays the file's */
  memcpy(dst, src, n);
  k->changed += n;
}

void arena_free(Arena *a) {
  if (a->kept) free(a->kept->item), free(a->kept);
  a->kept = NULL;
  ArenaBlock *b = a->head;
  while (b) {
    ArenaBlock *n = b->next;
    if (b->map) munmap(b->map, b->map_bytes);
    free(b);
    b = n;
  }
  a->head = NULL;
  a->total = 0;
}

/* Only the 2 MB-aligned stretches inside the range can become huge pages; the kernel keeps small
 * pages for the rest.  On this project's (virtual) machines a weight copy into huge pages costs a
 * fifth of one into small pages: the page faults and TLB misses dominate, not the bytes. */
void arena_advise_huge(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
  const uintptr_t huge = (uintptr_t)2 << 20;
  uintptr_t lo = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, hi = ((uintptr_t)p + bytes) & ~(uintptr_t)4095;
  if (bytes >= huge && hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
  (void)p, (void)bytes;
#endif
}
