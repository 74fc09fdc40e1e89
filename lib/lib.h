/* lib.h — libonnxc's internals shared by its files (lib/): the session and options objects and
 * the guard every entry point runs its work under. */
#ifndef ONNXC_LIB_H
#define ONNXC_LIB_H

#include <stdbool.h>

#include "be.h"
#include "fe.h"
#include "onnxc.h"
#include "onnxc_rt.h"
#include "passes.h"

/* a symbolic dim fixed by name (onnxc_options_fix_dim) */
typedef struct LibDim {
  char *name;
  int64_t value;
} LibDim;

struct onnxc_session_options {
  int threads;
  bool spin_off; /* onnxc_options_set_spin(o, 0) */
  FeShape *shapes; /* fixed inputs; names owned */
  int nshapes;
  LibDim *dims;
  int ndims;
  char *disable;   /* comma-separated passes switched off (PassOptions.disable); NULL: none */
  bool verify_each; /* the verifier after every pass */
  int64_t max_memory;
  double max_compile_time;
  char target[64]; /* "" = native */
  bool time_phases, dump_llvm;
  int max_variants; /* > 1: a session with free dims keeps this many compiled shapes (lib/variants.c) */
  double max_run_time; /* seconds a run may take (0 = no bound) */
  bool profile, perf_map; /* per-node times; /tmp/perf-PID.map for the JIT's code (lib/profile.c) */
  char cache_dir[1024];    /* on-disk cache of compiled code (lib/cache.c); "" = none */
  int64_t cache_max_bytes; /* its bound; 0 = the default */
  onnxc_prune_spec *prune; /* lib/prune.c: applied to every load of the model; NULL: none (owned) */
  int gemm;                /* lib/gemm.c: the GEMM provider (0 own, 1 libxsmm; Graph.gemm_provider) */
  int fp_mode;             /* lib/gemm.c: IR_FP_FP32 or IR_FP_BF16 (Graph.fp_mode) */
};

typedef enum { LIB_LOADED, LIB_PREPARED, LIB_FAILED, LIB_DUMPED } LibState;

struct onnxc_session {
  onnxc_session_options opt;
  char *path;         /* the model file; "<buffer>" from memory */
  Graph *g;           /* NULL if loading failed */
  LibState state;
  bool passed;        /* the pass pipeline ran on g (prepare or compile) */
  BeModel *m;         /* after prepare */
  BePhases phases;    /* compile-phase times and the compile deadline of this session */
  double spent_ms;    /* compile time already used (load), counted against max_compile_time */
  int64_t (*given)[ONNXC_MAX_RANK + 1]; /* per input: rank, dims prepare was given */
  const void **in_ptrs;
  void **out_ptrs;
  bool inferred;      /* onnxc_session_facts ran shape inference (why: its error, or NULL) */
  const char *why;
  int (*ops)[2];      /* op histogram (op, count), most frequent first; nops rows */
  int nops;
  onnxc_watch watch;  /* cancel request and run deadline (runtime/watch.c) */
  onnxc_watch *wp;    /* the watch runs use: &watch, or for a variant its parent's (one cancel reaches all) */
  char err[2048];
  struct LibVariants *vars; /* compiled variants per input shape (lib/variants.c); NULL: none */
  char **written;           /* the files the last successful compile wrote (onnxc_session_written) */
  int32_t nwritten;
  uint64_t model_digest;    /* FeOptions.digest, when a cache dir is set (0: none, nothing cached) */
  int cache_state;          /* ONNXC_CACHE_* of the last prepare */
  char cache_note[2048];    /* what the cache did, for the phase report */
  char weights_note[1200];  /* what the load did with the cache's weights file (lib_cache_pool) */
  char gemm_note[256];      /* what `--gemm auto` measured and chose (lib/gemm.c), for the phase report */
  char kept_note[1200];     /* what the passes did with the cache's kept constants (lib_cache_kept_open) */
  struct LibPrune *prune;   /* lib/prune.c: the layers and what onnxc_session_prune did; NULL: not looked at */
  int32_t quantized;        /* lib/quantize.c: nodes onnxc_session_quantize rewrote */
  onnxc_cluster_layer *cluster; /* lib/cluster.c: the weights onnxc_session_cluster clustered (graph arena) */
  int32_t nclustered;
  onnxc_weights_report wreport; /* lib/compile.c: the weights of the last successful compile */
};

/* Runs fn(s, arg) with the calling thread's out-of-memory handler and phase record set to the
 * session's; an allocation failure inside returns ONNXC_ERR_NOMEM (the session then fails for
 * good if it was compiling).  Restores both before returning. */
int lib_guard(onnxc_session *s, int (*fn)(onnxc_session *s, void *arg), void *arg);
/* writes the message (printf-style) into s->err and returns status */
int lib_fail(onnxc_session *s, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* a message from the frontend, passes or backend: ONNXC_ERR_LIMIT for a memory limit,
 * ONNXC_ERR_TIMEOUT once the compile deadline passed, else ONNXC_ERR_MODEL */
int lib_fail_compile(onnxc_session *s, const char *msg);
/* starts the compile deadline for a compile step (what create's load left of max_compile_time) */
void lib_deadline_start(onnxc_session *s);
/* ends it, adding the time used to s->spent_ms */
void lib_deadline_stop(onnxc_session *s);
/* the pass pipeline with the session's switches; 0 or a status */
int lib_run_passes(onnxc_session *s);
void lib_written_clear(onnxc_session *s); /* forgets the files of the last compile (lib/compile.c) */
bool lib_ends_with(const char *s, const char *suffix); /* lib/compile.c */
PassOptions lib_pass_options(const onnxc_session *s); /* the session's pass switches and budget */

/* lib/variants.c: a session with free dims and max_variants > 1 compiles per input shape */
typedef struct LibVariants LibVariants;
int lib_variants_init(onnxc_session *s, const void *buf, size_t bytes); /* after loading; buf NULL: s->path */
void lib_variants_free(LibVariants *lv);
int lib_variants_run(onnxc_session *s, const onnxc_tensor *inputs, int32_t num_inputs, const onnxc_tensor *outputs,
                     int32_t num_outputs);
void lib_variants_set_threads(onnxc_session *s, int threads);
int lib_variants_output_info(const onnxc_session *s, int32_t i, onnxc_value_info *out); /* -1: none current */

/* lib/cache.c: the on-disk cache of JIT-compiled code */
/* be_jit(s->g) through the cache: a valid entry for the session's key is linked, else the model is
 * compiled and stored; NULL on failure (s->err) */
BeModel *lib_cache_jit(onnxc_session *s, const BeOptions *bo);
/* the frontend's copies of the large raw_data from the cache folder (FeOptions.pool_cache); ctx is
 * the session */
extern const FePoolCache lib_cache_pool;
/* the constants the passes make from the weights (ArenaKept, ir/ir.h): before the passes, the
 * cache's copy of an earlier load's list is mapped for them; after, the list is stored when it
 * differed or was not there */
void lib_cache_kept_open(onnxc_session *s);
void lib_cache_kept_store(onnxc_session *s);

/* lib/prune.c: prunes g by sp (under the caller's out-of-memory guard); *out receives what it did
 * (free with lib_prune_free); 0 or a status with the message in err */
struct LibPrune;
/* lib/layer_list.c: LIST is comma-separated node names or op types (prune --skip, compress
 * --cluster-layers); the check names WHAT in its message for a name that matches nothing */
bool lib_layer_listed(const char *list, const Node *n);
int lib_layer_list_check(Graph *g, const char *list, const char *what, char *err, size_t errlen);
/* ONNXC_OK when s holds a loaded model whose weights may still change (not prepared, compiled or
 * holding variants); else fails s naming WHAT */
int lib_check_rewritable(onnxc_session *s, const char *what);
int lib_prune_graph(Graph *g, const onnxc_prune_spec *sp, struct LibPrune **out, char *err, size_t errlen);
int lib_prune_session(onnxc_session *s, const onnxc_prune_spec *sp); /* s->g pruned, s->prune set */
void lib_prune_free(struct LibPrune *p);
onnxc_prune_spec *lib_prune_spec_dup(const onnxc_prune_spec *sp); /* malloc'd; NULL on OOM */
void lib_prune_spec_free(onnxc_prune_spec *sp);

/* lib/gemm.c, `--gemm auto` (Graph.gemm_provider 2): marks the nodes of g whose fp32 GEMMs ran
 * faster on libxsmm (Node.xsmm), measured by compiling g both ways with per-node timing and
 * running each on zero inputs; s->gemm_note says what it found.  Nothing marked (all onnxc's own)
 * without libxsmm or when a measurement fails; never an error. */
void lib_gemm_auto(onnxc_session *s, Graph *g, const BeOptions *bo);
/* be_jit of s->g, measuring `--gemm auto` first (lib_cache_jit's compiles) */
BeModel *lib_jit(onnxc_session *s, const BeOptions *bo);
/* lib/gemm.c: "own", "libxsmm", "auto" for Graph.gemm_provider's values */
const char *lib_gemm_name(int provider);
/* lib/gemm.c: "fp32", "bf16" for Graph.fp_mode's values */
const char *lib_fp_mode_name(int mode);

/* embedded at build time (cmake/aot.cmake, cmake/cemit.cmake) */
extern const char onnxc_model_abi_h[];
extern const char *const onnxc_rt_sources[][2];

#endif
