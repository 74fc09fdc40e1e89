/* test_ir.c — graph construction, toposort, checked size arithmetic. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

Test(ir, op_table_lookup) {
  cr_assert_eq(ir_op_lookup("Conv"), OP_Conv);
  cr_assert_eq(ir_op_lookup("NoSuchOp"), OP_COUNT);
  cr_assert_str_eq(ir_ops[OP_MatMul].name, "MatMul");
  cr_assert_eq(ir_ops[OP_Add].family, F_BINARY);
}

Test(ir, numel_overflow_is_caught) {
  int64_t dims[3] = {1LL << 40, 1LL << 30, 2}, n;
  cr_assert_not(ir_numel_ok(3, dims, &n));
  int64_t ok[3] = {2, 3, 4};
  cr_assert(ir_numel_ok(3, ok, &n));
  cr_assert_eq(n, 24);
  int64_t neg[2] = {2, -1};
  cr_assert_not(ir_numel_ok(2, neg, &n));
}

Test(ir, toposort_orders_and_detects_cycles) {
  Graph *g = ir_graph_new();
  int64_t d[1] = {4};
  Value *x = tu_input(g, "x", DT_FLOAT, 1, d);
  /* build b = Relu(a), a = Neg(x), inserted in the wrong order */
  Node *relu = ir_node_new(g, OP_Relu, "relu", 1, 1);
  Node *neg = ir_node_new(g, OP_Neg, "neg", 1, 1);
  Value *a = ir_value_new(g, "a"), *b = ir_value_new(g, "b");
  neg->in[0] = x;
  neg->out[0] = a;
  a->producer = neg;
  relu->in[0] = a;
  relu->out[0] = b;
  b->producer = relu;
  cr_assert_eq(ir_graph_toposort(g), 0);
  cr_assert_eq(g->nodes[0], neg);
  cr_assert_eq(g->nodes[1], relu);
  neg->in[0] = b; /* cycle */
  cr_assert_eq(ir_graph_toposort(g), -1);
  cr_assert(strstr(ir_last_error(g), "cycle") != NULL);
  ir_graph_free(g);
}

Test(ir, const_access_converts) {
  Graph *g = ir_graph_new();
  int64_t d[1] = {3};
  Value *c = ir_const_new(g, "c", DT_FLOAT16, 1, d);
  ir_store_f64(DT_FLOAT16, c->data, 0, 1.5);
  ir_store_f64(DT_FLOAT16, c->data, 1, -2.0);
  ir_store_f64(DT_FLOAT16, c->data, 2, 65504.0);
  cr_assert_float_eq(ir_const_f64(c, 0), 1.5, 0);
  cr_assert_float_eq(ir_const_f64(c, 1), -2.0, 0);
  cr_assert_float_eq(ir_const_f64(c, 2), 65504.0, 0);
  ir_graph_free(g);
}

/* the non-zeroing constructor: a constant of the given shape in 64-byte aligned arena memory the
 * caller fills (small ones from the shared block, large ones a block of their own) */
Test(ir, const_new_filled_gives_writable_aligned_data) {
  Graph *g = ir_graph_new();
  int64_t small[2] = {3, 5}, large[2] = {1024, 1024}; /* 60 bytes; 4 MB, past the arena's block */
  Value *s = ir_const_new_filled(g, "s", DT_FLOAT, 2, small), *l = ir_const_new_filled(g, "l", DT_FLOAT, 2, large);
  Value *z = ir_const_new(g, "z", DT_FLOAT, 2, small);
  for (Value **v = (Value *[]){s, l, NULL}; *v; v++) {
    cr_assert_eq((*v)->kind, VK_CONST);
    cr_assert_eq((*v)->dtype, DT_FLOAT);
    cr_assert_eq((*v)->rank, 2);
    cr_assert_eq((uintptr_t)(*v)->data % 64, 0);
    int64_t n = ir_value_numel(*v);
    for (int64_t i = 0; i < n; i++) ((float *)(*v)->data)[i] = (float)i;
    cr_assert_float_eq(ir_const_f64(*v, n - 1), (double)(n - 1), 0);
  }
  cr_assert_eq(ir_value_numel(l), 1 << 20);
  cr_assert_eq(l->dims[0], 1024);
  for (int i = 0; i < 15; i++) cr_assert_float_eq(ir_const_f64(z, i), 0.0, 0); /* the other one stays zeroed */
  cr_assert_str_eq(l->name, "l");
  ir_graph_free(g);
}

/* kept constants (lib/cache.c's DIR/<id>.onnxk): listed in order; served from a region while they
 * fit; arena_fill leaves equal bytes untouched and counts the ones it rewrote; a region holding
 * wrong bytes never changes what the constant ends up holding */
Test(ir, kept_constants_fill_a_region_in_order) {
  size_t rb = 4 << 20;
  unsigned char *region = mmap(NULL, rb, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(region, MAP_FAILED);
  float *src = malloc(sizeof(float) << 20);
  for (int i = 0; i < 1 << 20; i++) src[i] = (float)i * 0.5f;
  int64_t d1[2] = {512, 1000}, d2[1] = {7}; /* 2 MB (a multiple of 64 bytes); 28 bytes, rounded to 64 */
  for (int pass = 0; pass < 3; pass++) { /* 0: no region (listing only); 1: the region, right; 2: damaged */
    Graph *g = ir_graph_new();
    if (pass == 2) region[100] ^= 1, region[2048000 + 5] ^= 0x10;
    cr_assert_eq(arena_keep_start(g->arena, pass ? region : NULL, rb), 0);
    Value *a = ir_const_new_kept(g, "a", DT_FLOAT, 2, d1), *b = ir_const_new_kept(g, "b", DT_FLOAT, 1, d2);
    for (int r = 0; r < 512; r++) arena_fill(g->arena, (float *)a->data + r * 1000, src + r * 1000, 4000);
    arena_fill(g->arena, b->data, src + 9, 28);
    cr_assert_eq(memcmp(a->data, src, 2048000), 0, "pass %d", pass);
    cr_assert_eq(memcmp(b->data, src + 9, 28), 0, "pass %d", pass);
    cr_assert_eq((uintptr_t)a->data % 64, 0);
    const ArenaKept *k = g->arena->kept;
    cr_assert_eq(k->n, 2);
    cr_assert_eq(k->item[0].p, a->data);
    cr_assert_eq(k->item[1].bytes, 28);
    if (!pass) {
      cr_assert(k->outside && !k->changed);
      memcpy(region, a->data, 2048000); /* what the cache stores: the list, 64-byte aligned */
      memcpy(region + 2048000, b->data, 28);
    } else {
      cr_assert_eq((unsigned char *)a->data, region, "pass %d", pass);
      cr_assert_eq((unsigned char *)b->data, region + 2048000);
      cr_assert_not(k->outside);
      cr_assert_eq(k->used, 2048064);
      cr_assert_eq(k->changed, pass == 1 ? 0 : 4000 + 28, "pass %d: %zu bytes rewritten", pass, k->changed);
    }
    ir_graph_free(g);
  }
  /* a region too small: what does not fit comes from the arena, and is still listed */
  Graph *g = ir_graph_new();
  cr_assert_eq(arena_keep_start(g->arena, region, 1000), 0);
  Value *a = ir_const_new_kept(g, "a", DT_FLOAT, 2, d1), *b = ir_const_new_kept(g, "b", DT_FLOAT, 1, d2);
  cr_assert_neq((unsigned char *)a->data, region);
  cr_assert_eq((unsigned char *)b->data, region);
  cr_assert(g->arena->kept->outside && g->arena->kept->n == 2);
  ir_graph_free(g);
  munmap(region, rb);
  free(src);
}

/* the vector hash: every word counts by its place (swapping two 64-byte stripes a step apart, two
 * steps of a block, two blocks, or two words in a stripe changes the value), and so do zeros (their count, where a
 * single 1 among them is) */
Test(ir, hash_depends_on_order_and_zeros) {
  size_t n = 64 << 10;
  unsigned char *a = malloc(n), *b = malloc(n);
  cr_assert(a && b);
  for (size_t i = 0; i < n; i++) a[i] = (unsigned char)(i * 2654435761u >> 11);
  uint64_t h = ir_hash64(a, n, 41);
  size_t swaps[][3] = {{0, 256, 64}, {512, 768, 256}, {0, 4096, 4096}, {8, 16, 8}, {100, 40000, 8}};
  for (size_t k = 0; k < sizeof swaps / sizeof swaps[0]; k++) {
    memcpy(b, a, n);
    memcpy(b + swaps[k][0], a + swaps[k][1], swaps[k][2]);
    memcpy(b + swaps[k][1], a + swaps[k][0], swaps[k][2]);
    cr_assert_neq(ir_hash64(b, n, 41), h, "swap %zu", k);
  }
  memset(a, 0, n);
  cr_assert_neq(ir_hash64(a, n, 41), ir_hash64(a, n - 256, 41));
  cr_assert_neq(ir_hash64(a, n, 41), ir_hash64(a, n, 42));
  a[n - 300] = 1;
  uint64_t one = ir_hash64(a, n, 41);
  a[n - 300] = 0, a[300] = 1;
  cr_assert_neq(ir_hash64(a, n, 41), one);
  free(a);
  free(b);
}

/* the copying hash: the same value as ir_hash64 of the copy, for every length around its 32-byte
 * steps and its 32 KB stretches, and the bytes copied */
Test(ir, hash_copy_matches_hash_of_the_copy) {
  size_t lens[] = {0, 1, 7, 8, 31, 32, 33, 63, 64, 100, 32768, 32769, 65536 + 40, (1 << 20) + 3};
  size_t max = (1 << 20) + 3;
  unsigned char *src = malloc(max), *dst = malloc(max);
  cr_assert(src && dst);
  for (size_t i = 0; i < max; i++) src[i] = (unsigned char)(i * 2654435761u >> 13);
  for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
    memset(dst, 0xee, max);
    uint64_t h = ir_hash64_copy(dst, src, lens[k], 41, NULL);
    cr_assert_eq(h, ir_hash64(src, lens[k], 41), "length %zu", lens[k]);
    cr_assert_eq(memcmp(dst, src, lens[k]), 0, "length %zu", lens[k]);
    if (lens[k] < max) cr_assert_eq(dst[lens[k]], 0xee, "length %zu: wrote past the end", lens[k]);
    cr_assert_neq(h, ir_hash64(src, lens[k], 42)); /* the seed counts */
  }
  uint64_t before = ir_hash64(src, 1000, 41);
  src[77] ^= 1; /* one bit changes the value */
  cr_assert_neq(ir_hash64_copy(dst, src, 1000, 41, NULL), before);
  /* comparing first: only the 32 KB stretches that differ are written and counted */
  size_t n = (1 << 20) + 3, changed = 0;
  memcpy(dst, src, n);
  dst[5] ^= 1, dst[(1 << 20) + 1] ^= 1; /* in the first stretch and in the last (3-byte) one */
  cr_assert_eq(ir_hash64_copy(dst, src, n, 41, &changed), ir_hash64(src, n, 41));
  cr_assert_eq(memcmp(dst, src, n), 0);
  cr_assert_eq(changed, (size_t)(32 << 10) + 3, "%zu bytes written", changed);
  free(src);
  free(dst);
}

/* arena_adopt_map: the arena serves allocations as before and unmaps the adopted mapping when it
 * is freed (mincore fails with ENOMEM on an unmapped range) */
Test(ir, arena_unmaps_an_adopted_mapping) {
  Arena a = {0};
  size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes = 4 * page;
  unsigned char vec[4];
  void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(m, MAP_FAILED);
  memset(m, 7, bytes);
  char *before = arena_alloc(&a, 100);
  cr_assert_eq(arena_adopt_map(&a, m, bytes), 0);
  char *after = arena_alloc(&a, 100);
  cr_assert(after != before && (after >= before + 100 || after + 100 <= before));
  cr_assert(after + 100 <= (char *)m || after >= (char *)m + bytes, "the mapping serves no allocation");
  cr_assert_eq(mincore(m, bytes, vec), 0, "mapped while the arena lives");
  arena_free(&a);
  errno = 0;
  cr_assert_eq(mincore(m, bytes, vec), -1);
  cr_assert_eq(errno, ENOMEM, "unmapped with the arena");
  Arena empty = {0}; /* adopted as the first block */
  m = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_eq(arena_adopt_map(&empty, m, bytes), 0);
  cr_assert_not_null(arena_alloc(&empty, 64));
  arena_free(&empty);
  cr_assert_eq(mincore(m, bytes, vec), -1);
}
