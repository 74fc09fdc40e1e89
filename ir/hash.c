/* hash.c — the fast 64-bit hash the compile cache's key is made of (lib/cache.c), computed where
 * the bytes are at hand: the frontend hashes a model's skeleton as it reads it and its weights as
 * it copies them (ir_hash64_copy), the cache hashes its entries.  Not cryptographic: the cache
 * stores and compares the key text it names, so a collision is a miss, never a wrong model. */
#include <string.h>

#include "ir.h"

/* 4 independent 64-bit lanes (multiply-rotate rounds), 32 bytes a step */
static const uint64_t P1 = 0x9e3779b185ebca87ULL, P2 = 0xc2b2ae3d27d4eb4fULL, P3 = 0x165667b19e3779f9ULL;

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static uint64_t round64(uint64_t acc, uint64_t v) { return rotl(acc + v * P2, 31) * P1; }
static uint64_t load64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  return h ^ (h >> 32);
}

typedef struct Lanes {
  uint64_t a, b, c, d;
} Lanes;

static Lanes lanes_init(uint64_t seed) { return (Lanes){seed + P1 + P2, seed + P2, seed, seed - P1}; }

/* the whole 32-byte steps of [p, p + n) (n a multiple of 32) */
static void lanes_run(Lanes *l, const unsigned char *p, size_t n) {
  uint64_t a = l->a, b = l->b, c = l->c, d = l->d;
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a = round64(a, load64(p + i));
    b = round64(b, load64(p + i + 8));
    c = round64(c, load64(p + i + 16));
    d = round64(d, load64(p + i + 24));
  }
  *l = (Lanes){a, b, c, d};
}

/* the lanes, the total length and the tail of fewer than 32 bytes */
static uint64_t lanes_end(const Lanes *l, const unsigned char *tail, size_t ntail, size_t n) {
  uint64_t h = rotl(l->a, 1) + rotl(l->b, 7) + rotl(l->c, 12) + rotl(l->d, 18) + (uint64_t)n;
  size_t i = 0;
  for (; i + 8 <= ntail; i += 8) h = rotl(h ^ round64(0, load64(tail + i)), 27) * P1 + P3;
  for (; i < ntail; i++) h = rotl(h ^ (tail[i] * P3), 11) * P1;
  return mix(h);
}

uint64_t ir_hash64(const void *data, size_t n, uint64_t seed) {
  const unsigned char *p = data;
  Lanes l = lanes_init(seed);
  size_t whole = n & ~(size_t)31;
  lanes_run(&l, p, whole);
  return lanes_end(&l, p + whole, n - whole, n);
}

/* stretches of 32 KB: copied (or compared) with the C library, then hashed from L1/L2 */
#define COPY_STEP ((size_t)32 << 10)

uint64_t ir_hash64_copy(void *dst, const void *src, size_t n, uint64_t seed, size_t *changed) {
  unsigned char *q = dst;
  const unsigned char *p = src;
  Lanes l = lanes_init(seed);
  for (size_t at = 0; at < n; at += COPY_STEP) {
    size_t step = n - at < COPY_STEP ? n - at : COPY_STEP;
    if (!changed) memcpy(q + at, p + at, step);
    else if (memcmp(q + at, p + at, step)) {
      memcpy(q + at, p + at, step);
      *changed += step;
    }
    if (step == COPY_STEP) lanes_run(&l, q + at, step);
    else { /* the last stretch: its whole 32-byte steps, then the tail */
      size_t whole = step & ~(size_t)31;
      lanes_run(&l, q + at, whole);
      return lanes_end(&l, q + at + whole, step - whole, n);
    }
  }
  return lanes_end(&l, q + n, 0, n);
}
