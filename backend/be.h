/* be.h — backend internals: targets, the code-generation context, generator entry points,
 * and the compiled-model object that JIT and AOT share. */
#ifndef ONNXC_BE_H
#define ONNXC_BE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"
#include "kb.h"

/* ---- targets ---- */
typedef struct Target {
  const char *name;     /* "native", "x86-64-avx512", "x86-64-avx2", "aarch64" */
  const char *triple;
  const char *cpu;
  const char *features;
  int vector_bytes;     /* 64 AVX-512, 32 AVX2, 16 NEON */
  bool has_avx512, has_vnni, has_avx2, has_neon;
  bool has_vbmi;        /* AVX-512 VBMI: vpermb (the sparse int8 matmuls' byte gather) */
  bool has_bf16;        /* AVX512-BF16 (vdpbf16ps): what --fp-mode bf16 needs */
} Target;

/* Fills t for a target name ("native" = this host). 0 ok, -1 unknown name (err written). */
int be_target_get(const char *name, Target *t, char *err, size_t errlen);
/* --fp-mode bf16 (the root graph's fp_mode) on a target without AVX512-BF16: -1 with err
 * written (JIT, AOT and the C emitter refuse it rather than run it slowly); 0 otherwise */
int be_fp_mode_check(const Graph *g, const Target *t, char *err, size_t errlen);
/* The host's triple, CPU name and features ("+avx2,+fma,..."), kept for the process. */
void be_host_cpu(const char **triple, const char **cpu, const char **features);
/* the version of the LLVM linked ("19.1.7"; "none" without LLVM), for the cache's key */
const char *be_llvm_version(void);

/* ---- code generation context handed to each generator ---- */
typedef struct GenCtx GenCtx;
/* Builds subgraph `sub` of c->n as a graph function with its arena values at arena_base; raises
 * c->arena_end / c->scratch_bytes; *fn_name is the function to call:
 *     int32_t fn(onnxc_rt *rt, void *const *io)   io = sub inputs, sub outputs, captures
 * Supplied by the driver building the module (drive/module_llvm.c for LLVM, drive/emit_c.c for C),
 * so control-flow generation (gen_control.c) does not depend on either. */
typedef int (*BeBuildSubgraph)(GenCtx *c, Graph *sub, const char *tag, int64_t arena_base, const char **fn_name);
struct GenCtx {
  KB *kb;
  Graph *g;
  Node *n;
  const Target *target;
  /* set by the generator: */
  int64_t work;            /* parallel trip count: the kernel is called with [begin,end) ⊆ [0,work)
                              (default 1: called once with [0,1)) */
  int64_t phases;          /* > 0: called through onnxc_rt_phases over [0, phases·work): phase k's
                              [k·work, (k+1)·work) split over the threads, phases in order (a
                              recurrence's steps); such a kernel gets the onnxc_rt pointer as its
                              last buffer (F_RNN nodes all do) */
  int64_t scratch_bytes;   /* per-thread scratch the kernel needs (bytes) */
  uint32_t const_unused;   /* bit i: constant input i was baked into the code (e.g. packed with
                              kb_weight), so the original need not be in the weight blob */  /* control flow (gen_control.c): the driver's subgraph builder and its module (KMod, CMod), the
   * enclosing graph function's name, and the arena: [arena_top, arena_end) is free for the node's
   * own use (raised by the generator, and by build_subgraph).  A control kernel gets the onnxc_rt
   * pointer as its last buffer. */
  BeBuildSubgraph build_subgraph;
  void *mod;
  const char *fn_name;
  int64_t arena_top, arena_end;
};

/* Generators (backend/gen_<family>.c), named in ops.def's gen column (gen_table.c builds the
 * table be_gen_node dispatches through): emit the body of the current kernel for ctx->n.
 * Return 0, or ir_node_error(...) for something unsupported. */
bool be_has_gen(Op op); /* the op's row names a generator (the unit tests check the table) */
int gen_unary(GenCtx *c);
int gen_binary(GenCtx *c);  /* F_BINARY and F_TERNARY */
int gen_norm(GenCtx *c);
int gen_pool(GenCtx *c);
int gen_reduce(GenCtx *c);
int gen_move(GenCtx *c);
int gen_gen(GenCtx *c);
int gen_control(GenCtx *c);
/* gen_loss.c: SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss, Det; gen_select.c: TopK,
 * ReverseSequence, MaxUnpool, Compress (and the data-dependent NonZero/Unique's error) */
int gen_loss(GenCtx *c);
int gen_select(GenCtx *c);
int gen_signal(GenCtx *c);
int gen_vision(GenCtx *c);
int gen_quant(GenCtx *c);
int gen_rnn(GenCtx *c);

/* Index helpers shared by generators (gen_util.c). */
/* strides (in elements) of a row-major shape */
void gen_strides(int rank, const int64_t *dims, int64_t *strides);
/* strides of `in` broadcast to an output of rank `rank` (0 where broadcast) */
void gen_bcast_strides(const Value *in, int rank, const int64_t *out_dims, int64_t *strides);

/* ---- the storage plan and node dispatch, shared by the LLVM and C drivers ----
 * be_plan_graph (drive/module.c): the storage plan of g (passes/plan.c; planned here if the
 * caller skipped the pipeline) placed at arena_base, and the budget checked; *arena_top is the end
 * of the arena this graph uses.  0 ok, -1 error (ir_last_error(g)).
 * be_gen_node (gen/gen_table.c): runs the generator c->n's ops.def row names. */
int be_plan_graph(Graph *g, int64_t arena_base, int64_t max_memory, int64_t *arena_top);
int be_gen_node(GenCtx *c);

/* ---- compiled models ---- */
/* The compiled form of a JIT model that libonnxc's on-disk cache keeps (lib/cache.c): the host
 * object file of the whole module, the weight blob its kernels read, and what the runtime needs
 * besides (arena and per-thread scratch sizes), plus counts that tie it to its graph. */
typedef struct BeArtifact {
  const void *obj;
  size_t obj_bytes;
  const void *obj2;       /* the second half's object (jit.c compiles two on two threads); NULL: none */
  size_t obj2_bytes;
  const void *blob;       /* 64-aligned */
  size_t blob_bytes;
  int64_t arena_bytes, scratch_bytes;
  int32_t nkernels, nshared, nkeyed;
  int32_t ninputs, noutputs, nnodes; /* of the graph compiled (checked again on load) */
} BeArtifact;
/* BeOptions.keep: be_jit hands the artifact it made to this before the JIT takes the object (the
 * pointers are valid during the call only); a failure to keep it is the keeper's business. */
typedef void (*BeKeep)(void *ctx, const BeArtifact *a);

typedef struct BeOptions {
  const char *target;      /* NULL = "native" */
  int opt_level;           /* 0..3, default 3 */
  bool dump_llvm;          /* print the optimized module to stderr */
  int64_t max_memory;      /* bytes for weights + arena + scratch + outputs; 0 = BE_DEFAULT_MAX_MEMORY.
                              Checked while planning, before anything that size is allocated */
  /* profiling (drive/prof.c): time every top-level node (a graph function with timing calls;
   * without it the graph function has none), and write /tmp/perf-PID.map lines for the JIT's code */
  bool profile, perf_map;
  BeKeep keep;             /* be_jit: called with the object and weights made (the cache); NULL: none */
  void *keep_ctx;
} BeOptions;

#define BE_DEFAULT_MAX_MEMORY (16LL << 30)

typedef struct BeModel BeModel;

/* Build the LLVM module for g (shapes must be static) and JIT it. NULL on failure (err written). */
BeModel *be_jit(Graph *g, const BeOptions *opt, char *err, size_t errlen);
/* A model from an artifact be_jit made before (the cache's entry) for the same graph after the
 * same passes: the object is linked by the JIT, a->blob becomes the model's weights without a copy
 * and release(release_ctx) is called when the model is freed (also when this fails).  NULL on
 * failure (err written): a mismatch with g, or an object the JIT cannot link. */
BeModel *be_jit_artifact(Graph *g, const BeArtifact *a, void (*release)(void *), void *release_ctx, char *err,
                         size_t errlen);
/* Run on caller-owned buffers: inputs in graph-input order, outputs in graph-output order.
 * threads: 0 = all cores. Returns 0 or a runtime status code (err written). */
int be_run(BeModel *m, const void *const *inputs, void *const *outputs, char *err, size_t errlen);
void be_set_threads(BeModel *m, int threads);
/* the pool's workers spin between kernels (1, the default) or sleep at once (0); kept across
 * be_set_threads */
void be_set_spin(BeModel *m, int on);
/* what may stop the model's runs (runtime/watch.c: cancel, deadline); NULL: nothing */
struct onnxc_watch;
void be_set_watch(BeModel *m, struct onnxc_watch *w);
void be_free(BeModel *m);
/* kernels (one per node) and how many of them reuse an identical earlier kernel's code */
int be_model_kernels(const BeModel *m, int *shared);
/* of the shared kernels, how many were found so before being generated (module_key.c) */
int be_model_kernels_keyed(const BeModel *m);

/* ---- profiling (drive/prof.c, drive/prof_llvm.c) ----
 * A BeProf describes the top-level nodes of a model built with BeOptions.profile or .perf_map:
 * per node its name, op, output shape, FLOPs (2 per MAC, ir_node_macs) and the kernel function
 * that runs it (several nodes may share one), and the runtime's timing record (onnxc_rt.prof). */
typedef struct BeProfNode {
  const char *name, *op, *kernel, *shape; /* op with its fused epilogue ("Conv+Add+Relu"); kernel: ""
                                             until the module is built */
  double flops;                           /* 0: the op has no FLOP count */
} BeProfNode;
typedef struct BeProf {
  int n;
  BeProfNode *nodes;
  bool timing;           /* the graph function calls onnxc_prof_start / onnxc_prof_node */
  struct onnxc_prof *rt; /* the per-node times the runtime fills */
} BeProf;
BeProf *be_prof_new(const Graph *g, bool timing); /* NULL: out of memory */
void be_prof_set_kernel(BeProf *p, int k, const char *kernel, size_t len);
void be_prof_free(BeProf *p);
/* the model's profile (NULL unless built with BeOptions.profile or .perf_map) */
const BeProf *be_model_prof(const BeModel *m);

/* Emit the model's LLVM module as text (--emit llvm) or assembly/object (AOT, later). */
int be_emit(Graph *g, const BeOptions *opt, const char *kind, const char *path, char *err, size_t errlen);

/* Compile-time breakdown (--time-passes) and the cooperative compile deadline (jit.c).
 * A BePhases record belongs to one compilation (libonnxc keeps one per session); be_phase_use
 * installs it for the calling thread and returns the one it replaces.  be_phase("x") ends the
 * running phase and starts phase x, be_phase(NULL) just ends it; a phase entered twice
 * accumulates; without an installed record (or with on == false) it only checks the deadline.
 * be_deadline_passed: has the installed record's deadline_ms (CLOCK_MONOTONIC, be_now_ms; 0 =
 * none) passed?  Checked at every phase boundary and before each kernel is generated
 * (module.c), so a compile stops within one kernel's generation or one LLVM phase of it. */
enum { BE_MAX_PHASES = 16 };
typedef struct BePhases {
  bool on;             /* time the phases */
  int n, cur;          /* cur: running phase or -1 (set it to -1 before use) */
  double t0, c0;
  int kernels, shared;
  struct {
    const char *name;
    double wall, cpu;
  } p[BE_MAX_PHASES];
  double deadline_ms;  /* 0 = none */
  bool expired;        /* set once the deadline was seen passed */
} BePhases;
BePhases *be_phase_use(BePhases *p);
void be_phase(const char *name);
bool be_deadline_passed(void);
/* be_phase(name), then the deadline: -1 with "the compile-time bound passed before WHAT" in err */
int be_phase_checked(const char *name, const char *what, char *err, size_t errlen);
double be_now_ms(void);
/* the report (wall and thread-CPU ms per phase) as text in buf; its length, 0 when off */
size_t be_phase_report(BePhases *p, char *buf, size_t len);
/* CPU time another thread spent for the running compile, as its own line of the report */
void be_phase_add_cpu(const char *name, double cpu_ms);
void be_phase_kernels(int kernels, int shared); /* counted by be_jit / be_aot_emit for the report */

#endif
