/* bench_gemm.c — JIT one MatMul or Conv node and report GFLOP/s (1 and 2 threads).
 *
 *   bench_gemm                 all default shapes (sgemm + ResNet-18 convs)
 *   bench_gemm mm M N K        one sgemm (A runtime, B constant weights)
 *   bench_gemm mmr M N K       one sgemm with both operands at run time
 *   bench_gemm conv N C H W O KH KW STRIDE PAD [GROUP]
 *   BENCH_FP_MODE=bf16 bench_gemm ...   the same with --fp-mode bf16 (vdpbf16ps)
 *   BENCH_NM=2:4 bench_gemm mm ...      B pruned to N of every M along K (random-like, by a hash), node
 *                                       marked sparse: gen_sparse.c's kernel where its cost model takes it
 *
 * Build: see README.md in this folder. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include "be.h"
#ifdef BENCH_XSMM
#include <libxsmm.h>
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void) { /* this thread's CPU time: robust to other processes on the machine */
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static Value *input(Graph *g, const char *name, int rank, const int64_t *dims) {
  Value *v = ir_value_new(g, name);
  v->kind = VK_INPUT;
  v->dtype = DT_FLOAT;
  ir_value_set_shape(v, rank, dims);
  Value **ins = arena_alloc(g->arena, sizeof(Value *) * (size_t)(g->ninputs + 1));
  for (int i = 0; i < g->ninputs; i++) ins[i] = g->inputs[i];
  ins[g->ninputs++] = v;
  g->inputs = ins;
  return v;
}

static Value *constant(Graph *g, int rank, const int64_t *dims) {
  Value *v = ir_const_new(g, NULL, DT_FLOAT, rank, dims);
  float *d = v->data;
  for (int64_t i = 0; i < ir_value_numel(v); i++) d[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  return v;
}

static void set_ints(Graph *g, Node *n, const char *name, int cnt, const int64_t *v) {
  Attr *a = arena_alloc(g->arena, sizeof(Attr) * (size_t)(n->nattr + 1));
  if (n->nattr) memcpy(a, n->attrs, sizeof(Attr) * (size_t)n->nattr);
  n->attrs = a;
  a += n->nattr++;
  a->name = arena_strdup(g->arena, name);
  if (cnt < 0) {
    a->type = AT_INT;
    a->i = v[0];
    return;
  }
  a->type = AT_INTS;
  a->n = cnt;
  a->ints = arena_dup(g->arena, v, sizeof(int64_t) * (size_t)cnt);
}

/* time the model; returns wall seconds per run (best of 7 batches); *cpu: the same in CPU time of
 * the calling thread (meaningful for 1 thread) */
static double timeit(BeModel *m, const void *const *in, void *const *out, double *cpu) {
  char err[512];
  for (int i = 0; i < 3; i++)
    if (be_run(m, in, out, err, sizeof err)) {
      fprintf(stderr, "%s\n", err);
      exit(1);
    }
  double t0 = now();
  int reps = 0;
  while (now() - t0 < 0.05) be_run(m, in, out, err, sizeof err), reps++;
  double best = 1e30, bestc = 1e30;
  for (int b = 0; b < 7; b++) {
    double s = now(), sc = cpu_now();
    for (int r = 0; r < reps; r++) be_run(m, in, out, err, sizeof err);
    double e = (now() - s) / reps, ec = (cpu_now() - sc) / reps;
    if (e < best) best = e;
    if (ec < bestc) bestc = ec;
  }
  *cpu = bestc;
  return best;
}

static void run_graph(Graph *g, Value *y, double flops, const char *label) {
  Node *n = y->producer;
  if (ir_infer_node(g, n)) {
    fprintf(stderr, "%s\n", ir_last_error(g));
    exit(1);
  }
  y->is_output = true;
  g->outputs = arena_alloc(g->arena, sizeof(Value *));
  g->outputs[0] = y;
  g->noutputs = 1;
  char err[1024];
  const char *fpm = getenv("BENCH_FP_MODE"); /* bf16: the GEMMs on AVX512-BF16 (--fp-mode bf16) */
  if (fpm && !strcmp(fpm, "bf16")) g->fp_mode = IR_FP_BF16;
  const char *asm_path = getenv("BENCH_ASM"); /* write the kernel's assembly there */
  if (asm_path && be_emit(g, NULL, "asm", asm_path, err, sizeof err)) fprintf(stderr, "%s\n", err);
  const char *ll_path = getenv("BENCH_LL"); /* and/or its optimized LLVM IR */
  if (ll_path && be_emit(g, NULL, "llvm", ll_path, err, sizeof err)) fprintf(stderr, "%s\n", err);
  double c0 = now();
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  double ct = now() - c0;
  if (!m) {
    fprintf(stderr, "%s\n", err);
    exit(1);
  }
  void *in[4];
  for (int i = 0; i < g->ninputs; i++) {
    int64_t ne = ir_value_numel(g->inputs[i]);
    float *d = malloc(sizeof(float) * (size_t)ne);
    for (int64_t j = 0; j < ne; j++) d[j] = (float)((j * 31) % 97) / 97.0f - 0.5f;
    in[i] = d;
  }
  void *out[1] = {malloc(sizeof(float) * (size_t)ir_value_numel(y))};
  double gf[2], cpu, gcpu = 0;
  for (int th = 1; th <= 2; th++) {
    be_set_threads(m, th);
    double s = timeit(m, (const void *const *)in, out, &cpu);
    gf[th - 1] = flops / s * 1e-9;
    if (th == 1) gcpu = flops / cpu * 1e-9;
  }
  printf("%-34s %7.3f GFLOP  1T %6.1f GFLOP/s (cpu time %6.1f)  2T %6.1f GFLOP/s  (jit %.0f ms)\n", label,
         flops * 1e-9, gf[0], gcpu, gf[1], ct * 1e3);
  fflush(stdout);
  for (int i = 0; i < g->ninputs; i++) free(in[i]);
  free(out[0]);
  be_free(m);
}

#ifdef BENCH_XSMM
/* The same row-major sgemm C = A·B through libxsmm (the GEMM provider to compare, ISSUE14 Deliver
 * 4), one thread: libxsmm is column-major, so C' = B'·A' with C' the N×M column-major view of C;
 * C is cut into 64×64 tiles, each one dispatched kernel call over all of K (B unpacked). */
static void xsmm_mm(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *c) {
  const float alpha = 1, beta = 0;
  const libxsmm_blasint bn = 64, bm = 64;
  for (int64_t i = 0; i < M; i += bm)
    for (int64_t j = 0; j < N; j += bn) {
      libxsmm_blasint mj = (libxsmm_blasint)(N - j < bn ? N - j : bn), ni = (libxsmm_blasint)(M - i < bm ? M - i : bm);
      libxsmm_blasint lda = (libxsmm_blasint)N, ldb = (libxsmm_blasint)K, ldc = (libxsmm_blasint)N;
      libxsmm_smmfunction k =
          libxsmm_smmdispatch(mj, ni, (libxsmm_blasint)K, &lda, &ldb, &ldc, &alpha, &beta, NULL, NULL);
      if (!k) {
        fprintf(stderr, "libxsmm: no kernel for %dx%dx%lld\n", (int)mj, (int)ni, (long long)K);
        exit(1);
      }
      k(b + j, a + i * K, c + i * N + j);
    }
}

static void bench_xsmm(int64_t M, int64_t N, int64_t K, const char *label) {
  float *a = malloc(sizeof(float) * (size_t)(M * K)), *b = malloc(sizeof(float) * (size_t)(K * N)),
        *c = malloc(sizeof(float) * (size_t)(M * N));
  for (int64_t j = 0; j < M * K; j++) a[j] = (float)((j * 31) % 97) / 97.0f - 0.5f;
  for (int64_t j = 0; j < K * N; j++) b[j] = (float)((j * 7919) % 1000) / 1000.0f - 0.5f;
  libxsmm_init();
  for (int i = 0; i < 3; i++) xsmm_mm(M, N, K, a, b, c);
  double t0 = now();
  int reps = 0;
  while (now() - t0 < 0.05) xsmm_mm(M, N, K, a, b, c), reps++;
  double best = 1e30, bestc = 1e30;
  for (int r = 0; r < 7; r++) {
    double s = now(), sc = cpu_now();
    for (int i = 0; i < reps; i++) xsmm_mm(M, N, K, a, b, c);
    double e = (now() - s) / reps, ec = (cpu_now() - sc) / reps;
    if (e < best) best = e;
    if (ec < bestc) bestc = ec;
  }
  double flops = 2.0 * (double)M * (double)N * (double)K;
  printf("%-34s %7.3f GFLOP  1T %6.1f GFLOP/s (cpu time %6.1f)  libxsmm 1.17, 64x64 tiles\n", label, flops * 1e-9,
         flops / best * 1e-9, flops / bestc * 1e-9);
  fflush(stdout);
  free(a), free(b), free(c);
}
#endif

/* BENCH_NM=n:m: keep n of every m neighbours along K of B (K × N, row-major), the n largest of
 * |w| + a hashed offset: B's values repeat along n, so magnitude alone would give every column the
 * same regular pattern, pruning of trained weights a random one */
static bool prune_nm(Value *b) {
  const char *nm = getenv("BENCH_NM");
  int keep, grp;
  if (!nm || sscanf(nm, "%d:%d", &keep, &grp) != 2 || grp < 1 || grp > 64 || keep < 0 || keep > grp) return false;
  int64_t K = b->dims[0], N = b->dims[1];
  float *d = b->data;
  float *key = malloc(sizeof(float) * (size_t)grp);
  for (int64_t n = 0; n < N; n++)
    for (int64_t k0 = 0; k0 + grp <= K; k0 += grp) {
      for (int j = 0; j < grp; j++) {
        uint32_t h = (uint32_t)(k0 + j) * 2654435761u ^ (uint32_t)n * 40503u;
        h ^= h >> 13, h *= 0x5bd1e995u, h ^= h >> 15;
        key[j] = fabsf(d[(k0 + j) * N + n]) + (float)(h % 1024);
      }
      for (int z = 0; z < grp - keep; z++) { /* zero the smallest key still kept, grp - keep times */
        int lo = -1;
        for (int j = 0; j < grp; j++)
          if (key[j] >= 0 && (lo < 0 || key[j] < key[lo])) lo = j;
        d[(k0 + lo) * N + n] = 0.0f;
        key[lo] = -1;
      }
    }
  free(key);
  return true;
}

static void bench_mm(int64_t M, int64_t N, int64_t K, bool bconst, int provider) {
  Graph *g = ir_graph_new();
  g->gemm_provider = provider; /* 1: the compiled GEMM on libxsmm's kernels (--gemm libxsmm) */
  int64_t ad[2] = {M, K}, bd[2] = {K, N};
  Node *n = ir_node_new(g, OP_MatMul, NULL, 2, 1);
  n->in[0] = input(g, "a", 2, ad);
  n->in[1] = bconst ? constant(g, 2, bd) : input(g, "b", 2, bd);
  n->out[0] = ir_value_new(g, "y");
  n->out[0]->producer = n;
  n->sparse = bconst && prune_nm(n->in[1]);
  char label[128];
  snprintf(label, sizeof label, "%ssgemm %lldx%lldx%lld%s", provider ? "  --gemm libxsmm " : "", (long long)M,
           (long long)N, (long long)K, !bconst ? " (B runtime)" : n->sparse ? " (B pruned BENCH_NM)" : "");
  run_graph(g, n->out[0], 2.0 * (double)M * (double)N * (double)K, label);
  ir_graph_free(g);
#ifdef BENCH_XSMM
  if (bconst && !provider) { /* the provider to compare, on the same shape: called directly, and
                              * compiled into the model as `--gemm libxsmm` does */
    snprintf(label, sizeof label, "  libxsmm %lldx%lldx%lld", (long long)M, (long long)N, (long long)K);
    bench_xsmm(M, N, K, label);
  }
  if (!provider) bench_mm(M, N, K, bconst, 1);
#endif
}

static void bench_conv(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW, int64_t S,
                       int64_t P, int64_t G) {
  Graph *g = ir_graph_new();
  int64_t xd[4] = {N, C, H, W}, wd[4] = {O, C / G, KH, KW}, bd[1] = {O};
  Node *n = ir_node_new(g, OP_Conv, NULL, 3, 1);
  n->in[0] = input(g, "x", 4, xd);
  n->in[1] = constant(g, 4, wd);
  n->in[2] = constant(g, 1, bd);
  int64_t st[2] = {S, S}, pd[4] = {P, P, P, P};
  set_ints(g, n, "strides", 2, st);
  set_ints(g, n, "pads", 4, pd);
  if (G > 1) set_ints(g, n, "group", -1, &G);
  n->out[0] = ir_value_new(g, "y");
  n->out[0]->producer = n;
  int64_t OH = (H + 2 * P - KH) / S + 1, OW = (W + 2 * P - KW) / S + 1;
  char label[128];
  snprintf(label, sizeof label, "conv %lldx%lldx%lld %lld->%lld %lldx%ld s%lld%s", (long long)N, (long long)H,
           (long long)W, (long long)C, (long long)O, (long long)KH, (long)KW, (long long)S, G > 1 ? " grouped" : "");
  run_graph(g, n->out[0], 2.0 * (double)(N * O * OH * OW) * (double)(C / G * KH * KW), label);
  ir_graph_free(g);
}

int main(int argc, char **argv) {
  if (argc >= 5 && (!strcmp(argv[1], "mm") || !strcmp(argv[1], "mmr"))) {
    bench_mm(atoll(argv[2]), atoll(argv[3]), atoll(argv[4]), !strcmp(argv[1], "mm"), 0);
    return 0;
  }
  if (argc >= 11 && !strcmp(argv[1], "conv")) {
    bench_conv(atoll(argv[2]), atoll(argv[3]), atoll(argv[4]), atoll(argv[5]), atoll(argv[6]), atoll(argv[7]),
               atoll(argv[8]), atoll(argv[9]), atoll(argv[10]), argc > 11 ? atoll(argv[11]) : 1);
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "usage: bench_gemm [mm|mmr M N K | conv N C H W O KH KW STRIDE PAD [GROUP]]\n");
    return 2;
  }
  bench_mm(64, 64, 256, true, 0);
  bench_mm(256, 256, 256, true, 0);
  bench_mm(1024, 1024, 1024, true, 0);
  bench_mm(256, 256, 256, false, 0);
  bench_mm(1024, 1024, 1024, false, 0);
  /* ResNet-18 (batch 1) */
  bench_conv(1, 3, 224, 224, 64, 7, 7, 2, 3, 1);
  bench_conv(1, 64, 56, 56, 64, 3, 3, 1, 1, 1);
  bench_conv(1, 64, 56, 56, 128, 3, 3, 2, 1, 1);
  bench_conv(1, 64, 56, 56, 128, 1, 1, 2, 0, 1);
  bench_conv(1, 128, 28, 28, 128, 3, 3, 1, 1, 1);
  bench_conv(1, 128, 28, 28, 256, 3, 3, 2, 1, 1);
  bench_conv(1, 256, 14, 14, 256, 3, 3, 1, 1, 1);
  bench_conv(1, 256, 14, 14, 512, 3, 3, 2, 1, 1);
  bench_conv(1, 512, 7, 7, 512, 3, 3, 1, 1, 1);
  return 0;
}
