/* hash.c — the fast 64-bit hash the compile cache's key is made of (lib/cache.c), computed where
 * the bytes are at hand: the frontend hashes a model's skeleton as it reads it and its weights as
 * it copies them (ir_hash64_copy), the cache hashes its entries.  Not cryptographic: the cache
 * stores and compares the key text it names, so a collision is a miss, never a wrong model. */
#include <string.h>

#include "ir.h"

#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi" /* V8 values between the clones below: all inlined */
#endif

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

/* The bulk: 32 accumulators of 64 bits as 4 vectors of 8, 256 bytes (a step) at a time.  Each 64-bit
 * word d is keyed by its place (k: its lane, its vector and the step's place in a block of 16 steps)
 * and adds lo32(d ^ k) * hi32(d ^ k) to its accumulator and d itself to the neighbouring one (a
 * product of 0 loses nothing); after each block every accumulator is scrambled (xorshift, multiply
 * by an odd constant), so the order of blocks counts.  Generic vectors: the same value whatever
 * instructions a clone below is compiled to (8 GB/s scalar before, ~4x that with AVX-512 here). */
typedef uint64_t V8 __attribute__((vector_size(64)));
#define HASH_STEP 256
#define HASH_BLOCK 16 /* steps between scrambles */

typedef struct Lanes {
  V8 acc[4];
  uint64_t steps; /* steps run so far: the place in the block */
} Lanes;

static Lanes lanes_init(uint64_t seed) {
  Lanes l;
  for (int v = 0; v < 4; v++)
    for (int i = 0; i < 8; i++) l.acc[v][i] = mix(seed + (uint64_t)(8 * v + i + 1) * P1);
  l.steps = 0;
  return l;
}

/* the key of vector v of the step at place t of its block (a scalar operand is every lane's) */
static const V8 KEY_BASE = {0x8b5a2c1f6d3e9047ULL, 0x3f1d7a9c5e2b8064ULL, 0xd2c4e6a80b1f3957ULL, 0x64a2f08e1c3b5d79ULL,
                            0xa7e3c5b91d0f2846ULL, 0x1c9e7b3d5f028a64ULL, 0xf0a5d3b7192c4e68ULL, 0x5b2e8d4a7c1f0936ULL};
#define KEY(v, t) (KEY_BASE + (4 * (uint64_t)(t) + (v) + 1) * P3)
#define SWAP_PAIRS(d) __builtin_shufflevector(d, d, 1, 0, 3, 2, 5, 4, 7, 6)

static inline __attribute__((always_inline)) void lanes_body(Lanes *l, const unsigned char *p, size_t n) {
  V8 a0 = l->acc[0], a1 = l->acc[1], a2 = l->acc[2], a3 = l->acc[3];
  uint64_t t = l->steps % HASH_BLOCK;
  V8 k0 = KEY(0, t), k1 = KEY(1, t), k2 = KEY(2, t), k3 = KEY(3, t);
  for (size_t i = 0; i + HASH_STEP <= n; i += HASH_STEP) {
    V8 d0, d1, d2, d3;
    memcpy(&d0, p + i, 64);
    memcpy(&d1, p + i + 64, 64);
    memcpy(&d2, p + i + 128, 64);
    memcpy(&d3, p + i + 192, 64);
    V8 x0 = d0 ^ k0, x1 = d1 ^ k1, x2 = d2 ^ k2, x3 = d3 ^ k3;
    a0 += (x0 & 0xffffffffULL) * (x0 >> 32) + SWAP_PAIRS(d0);
    a1 += (x1 & 0xffffffffULL) * (x1 >> 32) + SWAP_PAIRS(d1);
    a2 += (x2 & 0xffffffffULL) * (x2 >> 32) + SWAP_PAIRS(d2);
    a3 += (x3 & 0xffffffffULL) * (x3 >> 32) + SWAP_PAIRS(d3);
    k0 += 4 * P3, k1 += 4 * P3, k2 += 4 * P3, k3 += 4 * P3;
    if (++t == HASH_BLOCK) {
      t = 0;
      k0 = KEY(0, 0), k1 = KEY(1, 0), k2 = KEY(2, 0), k3 = KEY(3, 0);
      a0 = (a0 ^ (a0 >> 47)) * P1;
      a1 = (a1 ^ (a1 >> 47)) * P1;
      a2 = (a2 ^ (a2 >> 47)) * P1;
      a3 = (a3 ^ (a3 >> 47)) * P1;
    }
  }
  l->acc[0] = a0, l->acc[1] = a1, l->acc[2] = a2, l->acc[3] = a3;
  l->steps += n / HASH_STEP;
}

/* the whole steps of [p, p + n) (n a multiple of HASH_STEP), compiled for AVX-512, AVX2 and plain
 * x86-64 and chosen per call: not target_clones, whose ifunc resolver runs while the dynamic loader
 * relocates, before a sanitizer's runtime is up (the TSan build crashed in it) */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void lanes_avx512(Lanes *l, const unsigned char *p, size_t n) {
  lanes_body(l, p, n);
}
__attribute__((target("avx2"))) static void lanes_avx2(Lanes *l, const unsigned char *p, size_t n) {
  lanes_body(l, p, n);
}
static void lanes_run(Lanes *l, const unsigned char *p, size_t n) {
  if (__builtin_cpu_supports("avx512f")) lanes_avx512(l, p, n);
  else if (__builtin_cpu_supports("avx2")) lanes_avx2(l, p, n);
  else lanes_body(l, p, n);
}
#else
static void lanes_run(Lanes *l, const unsigned char *p, size_t n) { lanes_body(l, p, n); }
#endif

/* the accumulators, the total length and the tail of fewer than HASH_STEP bytes */
static uint64_t lanes_end(const Lanes *l, const unsigned char *tail, size_t ntail, size_t n) {
  uint64_t h = (uint64_t)n * P1;
  for (int v = 0; v < 4; v++)
    for (int i = 0; i < 8; i++) h = rotl(h ^ mix(l->acc[v][i]), 27) * P1 + P3;
  size_t i = 0;
  for (; i + 8 <= ntail; i += 8) h = rotl(h ^ round64(0, load64(tail + i)), 27) * P1 + P3;
  for (; i < ntail; i++) h = rotl(h ^ (tail[i] * P3), 11) * P1;
  return mix(h);
}

uint64_t ir_hash64(const void *data, size_t n, uint64_t seed) {
  const unsigned char *p = data;
  Lanes l = lanes_init(seed);
  size_t whole = n & ~(size_t)(HASH_STEP - 1);
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
    else { /* the last stretch: its whole steps, then the tail */
      size_t whole = step & ~(size_t)(HASH_STEP - 1);
      lanes_run(&l, q + at, whole);
      return lanes_end(&l, q + at + whole, step - whole, n);
    }
  }
  return lanes_end(&l, q + n, 0, n);
}
