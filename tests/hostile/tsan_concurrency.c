/* tsan_concurrency.c — the concurrency check of tests/unit/test_concurrency.c as a plain program,
 * for ThreadSanitizer builds (-DONNXC_TSAN=ON): Criterion cannot map its shared arena under TSan.
 * 4 threads, each its own instance of one JIT-compiled model, 1000 runs each, outputs compared
 * bit for bit with a single-threaded reference.  The model has an element-wise chain and a
 * 128x128x128 MatMul, big enough that the instances given 2 threads split it over their thread
 * pool, so the pool's hand-off is under TSan too.  Exit 0 only if every run matched. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "be.h"

#define NTHREADS 4
#define NRUNS 1000
#define N 257
#define M 128 /* MatMul M = K = N */

static Value *node(Graph *g, Op op, int nin, Value **ins, int64_t n) {
  Node *nd = ir_node_new(g, op, NULL, nin, 1);
  for (int i = 0; i < nin; i++) nd->in[i] = ins[i];
  Value *v = ir_value_new(g, NULL);
  v->producer = nd;
  v->dtype = DT_FLOAT;
  ir_value_set_shape(v, 1, &n);
  nd->out[0] = v;
  return v;
}

/* y = relu(a * w + a) */
static Graph *model(void) {
  Graph *g = ir_graph_new();
  int64_t n = N;
  Value *a = ir_value_new(g, "a");
  a->kind = VK_INPUT;
  a->dtype = DT_FLOAT;
  ir_value_set_shape(a, 1, &n);
  g->inputs = arena_alloc(g->arena, 2 * sizeof(Value *));
  g->inputs[g->ninputs++] = a;
  Value *w = ir_value_new(g, "w");
  w->kind = VK_CONST;
  w->dtype = DT_FLOAT;
  ir_value_set_shape(w, 1, &n);
  float *wd = arena_alloc(g->arena, sizeof(float) * N);
  for (int i = 0; i < N; i++) wd[i] = (float)(i % 13) * 0.25f - 1.5f;
  w->data = wd;
  Value *i1[2] = {a, w};
  Value *m = node(g, OP_Mul, 2, i1, n);
  Value *i2[2] = {m, a};
  Value *s = node(g, OP_Add, 2, i2, n);
  Value *y = node(g, OP_Relu, 1, &s, n);
  y->is_output = true;
  /* z = b @ v, b: MxM input, v: MxM constant */
  int64_t md[2] = {M, M};
  Value *b = ir_value_new(g, "b");
  b->kind = VK_INPUT;
  b->dtype = DT_FLOAT;
  ir_value_set_shape(b, 2, md);
  g->inputs[g->ninputs++] = b;
  Value *v = ir_value_new(g, "v");
  v->kind = VK_CONST;
  v->dtype = DT_FLOAT;
  ir_value_set_shape(v, 2, md);
  float *vd = arena_alloc(g->arena, sizeof(float) * M * M);
  for (int i = 0; i < M * M; i++) vd[i] = (float)(i % 7) * 0.125f - 0.375f;
  v->data = vd;
  Node *mm = ir_node_new(g, OP_MatMul, NULL, 2, 1);
  mm->in[0] = b, mm->in[1] = v;
  Value *z = ir_value_new(g, NULL);
  z->producer = mm;
  mm->out[0] = z;
  if (ir_infer_node(g, mm)) return NULL;
  z->is_output = true;
  g->outputs = arena_alloc(g->arena, 2 * sizeof(Value *));
  g->outputs[g->noutputs++] = y;
  g->outputs[g->noutputs++] = z;
  return g;
}

typedef struct Job {
  BeModel *m;
  const float *in, *ref, *in2, *ref2;
  float *out2; /* MxM: too big for a thread's stack under TSan */
  int bad;
} Job;

static void *worker(void *p) {
  Job *j = p;
  float out[N];
  char err[256];
  for (int r = 0; r < NRUNS; r++) {
    const void *ins[2] = {j->in, j->in2};
    void *outs[2] = {out, j->out2};
    if (be_run(j->m, ins, outs, err, sizeof err) || memcmp(out, j->ref, sizeof out) ||
        memcmp(j->out2, j->ref2, sizeof(float) * M * M))
      j->bad++;
  }
  return NULL;
}

static float in2[M * M], ref2[M * M], outs2[NTHREADS][M * M];

int main(void) {
  char err[512];
  float in[N], ref[N];
  for (int i = 0; i < N; i++) in[i] = (float)((i * 37) % 23) - 11.0f;
  for (int i = 0; i < M * M; i++) in2[i] = (float)((i * 29) % 17) * 0.0625f - 0.5f;
  Graph *gs[NTHREADS + 1];
  BeModel *ms[NTHREADS + 1];
  for (int t = 0; t <= NTHREADS; t++) {
    if (!(gs[t] = model())) {
      fprintf(stderr, "tsan_concurrency: building the model failed\n");
      return 1;
    }
    if (!(ms[t] = be_jit(gs[t], NULL, err, sizeof err))) {
      fprintf(stderr, "tsan_concurrency: %s\n", err);
      return 1;
    }
    be_set_threads(ms[t], t % 2 ? 2 : 1); /* the reference (t = NTHREADS) runs on one thread */
  }
  const void *ins[2] = {in, in2};
  void *outs[2] = {ref, ref2};
  if (be_run(ms[NTHREADS], ins, outs, err, sizeof err)) {
    fprintf(stderr, "tsan_concurrency: %s\n", err);
    return 1;
  }
  Job jobs[NTHREADS];
  pthread_t th[NTHREADS];
  for (int t = 0; t < NTHREADS; t++) {
    jobs[t] = (Job){ms[t], in, ref, in2, ref2, outs2[t], 0};
    pthread_create(&th[t], NULL, worker, &jobs[t]);
  }
  int bad = 0;
  for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL), bad += jobs[t].bad;
  for (int t = 0; t <= NTHREADS; t++) be_free(ms[t]), ir_graph_free(gs[t]);
  printf("tsan_concurrency: %d passed, %d failed\n", NTHREADS * NRUNS - bad, bad);
  return bad != 0;
}
