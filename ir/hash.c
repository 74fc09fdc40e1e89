/* hash.c — the fast 64-bit hash the compile cache's key is made of (lib/cache.c), computed where
 * the bytes are at hand: the frontend hashes a model's skeleton as it reads it, the cache hashes
 * constants and its entries.  Not cryptographic: the cache stores and compares the key text it
 * names, so a collision is a miss, never a wrong model. */
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

uint64_t ir_hash64(const void *data, size_t n, uint64_t seed) {
  const unsigned char *p = data;
  uint64_t a = seed + P1 + P2, b = seed + P2, c = seed, d = seed - P1;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = round64(a, load64(p + i));
    b = round64(b, load64(p + i + 8));
    c = round64(c, load64(p + i + 16));
    d = round64(d, load64(p + i + 24));
  }
  uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + (uint64_t)n;
  for (; i + 8 <= n; i += 8) h = rotl(h ^ round64(0, load64(p + i)), 27) * P1 + P3;
  for (; i < n; i++) h = rotl(h ^ (p[i] * P3), 11) * P1;
  return mix(h);
}
