/* onnxc.h — libonnxc, the compiler as a library: load an ONNX model into a session, look at its
 * inputs and outputs, JIT-compile it for this machine and run it over caller-owned tensors, or
 * compile it ahead of time into a library, object or C sources (what `onnxc compile` does).
 *
 * Conventions (every function):
 * - Returns a status: ONNXC_OK (0) or one of the small, stable ONNXC_ERR_* codes; the message of
 *   the last failure is onnxc_session_error(s) (or written to a caller's buffer where there is no
 *   session yet).  onnxc_status_string names a code.
 * - Nothing prints, exits or aborts on bad input or out of memory: a failed allocation returns
 *   ONNXC_ERR_NOMEM.  (The one exception is on request: onnxc_options_set_dump_llvm prints the
 *   optimized LLVM IR to stderr, a debugging aid.)
 * - No process-wide mutable state: sessions are independent and may be created, compiled and run
 *   on different threads at the same time.  One session is used by one thread at a time.
 *
 * Status codes, element types (ONNXC_DT_*) and the tensor descriptor onnxc_tensor come from
 * onnxc_model.h, the ABI of compiled models, so the same descriptors drive both. */
#ifndef ONNXC_H
#define ONNXC_H

#include <stddef.h>
#include <stdint.h>

#include "onnxc_model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ONNXC_VERSION_MAJOR 0
#define ONNXC_VERSION_MINOR 1
#define ONNXC_MAX_RANK 8

/* status codes beyond onnxc_model.h's OK/ARGUMENT/NOMEM/INDEX/IO/INTERNAL */
enum {
  ONNXC_ERR_MODEL = 6,   /* the model is malformed, or uses what onnxc does not support */
  ONNXC_ERR_LIMIT = 7,   /* the model needs more than max_memory (file, weights, buffers) */
  ONNXC_ERR_TIMEOUT = 8, /* compiling took longer than max_compile_time */
  ONNXC_ERR_TOOL = 9,    /* compile: the C compiler/linker failed, or no runtime archive found */
  ONNXC_ERR_STATE = 10,  /* the call does not fit the session's state (e.g. run after a failed compile) */
};
/* "ok", "invalid argument", "out of memory", ... ("unknown status" for other values) */
const char *onnxc_status_string(int status);

/* ---- options: copied into a session when it is created (free or reuse them after) ---- */
typedef struct onnxc_session_options onnxc_session_options; /* (onnxc_options is a compiled model's) */
int onnxc_options_create(onnxc_session_options **out);
void onnxc_options_free(onnxc_session_options *o);
/* worker threads for runs; 0 (default) = all online cores */
int onnxc_options_set_threads(onnxc_session_options *o, int threads);
/* on = 1 (default): between kernels of a run the worker threads spin up to 0.5 ms of their CPU
 * time waiting for the next one before they sleep (50 us once a run has returned); 0: they sleep
 * as soon as they have no work, as ONNX Runtime's allow_spinning = 0 (for a process sharing its
 * cores: no CPU burnt waiting, a futex wake-up per kernel).  ONNXC_ERR_ARGUMENT unless 0 or 1. */
int onnxc_options_set_spin(onnxc_session_options *o, int on);
/* fix the dims of input `input` (like --shape NAME=DIMS); rank <= ONNXC_MAX_RANK */
int onnxc_options_fix_input(onnxc_session_options *o, const char *input, int32_t rank, const int64_t *dims);
/* fix every dim named `dim_name` (a symbolic dim such as "batch") in the inputs to `value` */
int onnxc_options_fix_dim(onnxc_session_options *o, const char *dim_name, int64_t value);
/* switch an optional pass off by name: "inline" (If on a constant condition), "dce" (dead code),
 * "fuse" (operator fusion), "winograd" (Winograd 3x3 convolutions), "layout" (every activation
 * NCHW: no pixel-major depthwise/1x1 regions), "sparse" (sparse kernels for
 * mostly-zero MatMul/Gemm weights); an unknown or required pass
 * (shapes, plan) is
 * ONNXC_ERR_ARGUMENT.  Call once per pass. */
int onnxc_options_disable_pass(onnxc_session_options *o, const char *pass);
/* run the IR verifier after every pass, not only at the end (the test suite turns it on) */
int onnxc_options_set_verify_each(onnxc_session_options *o, int on);
/* refuse models needing more bytes (file, weights, intermediates, outputs); 0 = default 16 GiB */
int onnxc_options_set_max_memory(onnxc_session_options *o, int64_t bytes);
/* stop compiling after this many seconds of wall time (0 = no bound, the default).  Cooperative:
 * checked between compile phases (load, passes, kernel generation, LLVM optimization, LLVM code
 * generation, glue + link) and before each kernel is generated, so a compile stops at most one
 * kernel's generation or one LLVM phase after the bound (LLVM cannot be interrupted midway). */
int onnxc_options_set_max_compile_time(onnxc_session_options *o, double seconds);
/* target of onnxc_session_compile when its options name none: "native" (default),
 * "x86-64-avx512", "x86-64-avx2", "aarch64".  The JIT always runs natively. */
int onnxc_options_set_target(onnxc_session_options *o, const char *target);
/* record the compile time per phase (onnxc_session_phase_report) */
int onnxc_options_set_time_phases(onnxc_session_options *o, int on);
/* print the optimized LLVM IR of the JIT to stderr (debugging) */
int onnxc_options_set_dump_llvm(onnxc_session_options *o, int on);

/* ---- sessions ---- */
typedef struct onnxc_session onnxc_session;
/* Load a model (opts may be NULL for the defaults).  As with sqlite3_open, *out receives a
 * session even when loading fails (so onnxc_session_error tells why; free it with
 * onnxc_session_free), except when not even that could be allocated: then *out is NULL and the
 * status ONNXC_ERR_NOMEM.  Compiling waits for onnxc_session_prepare or the first run. */
int onnxc_session_create_from_file(const char *path, const onnxc_session_options *opts, onnxc_session **out);
/* the same from memory; external data is refused (there is no model folder) */
int onnxc_session_create_from_buffer(const void *data, size_t bytes, const onnxc_session_options *opts,
                                     onnxc_session **out);
void onnxc_session_free(onnxc_session *s);
/* the message of the session's last failure ("" if none); NULL session: "out of memory" */
const char *onnxc_session_error(const onnxc_session *s);

/* ---- inputs and outputs ---- */
typedef struct onnxc_value_info {
  const char *name;   /* valid while the session lives */
  int32_t dtype;      /* ONNXC_DT_* */
  int32_t rank;       /* -1: unknown */
  int64_t dims[ONNXC_MAX_RANK];           /* -1 where not fixed */
  const char *dim_names[ONNXC_MAX_RANK];  /* the symbolic name of a dim not fixed, or NULL */
} onnxc_value_info;
int32_t onnxc_session_num_inputs(const onnxc_session *s);
int32_t onnxc_session_num_outputs(const onnxc_session *s);
/* dims as the session knows them: as declared (with fixed dims applied) before prepare; the
 * compiled shapes after (so the outputs' sizes are known before the first run) */
int onnxc_session_input_info(const onnxc_session *s, int32_t index, onnxc_value_info *out);
int onnxc_session_output_info(const onnxc_session *s, int32_t index, onnxc_value_info *out);
/* index of the input/output called name, or -1 */
int32_t onnxc_session_input_index(const onnxc_session *s, const char *name);
int32_t onnxc_session_output_index(const onnxc_session *s, const char *name);

/* ---- compile and run ---- */
/* JIT-compile for these inputs (graph-input order, n == num_inputs; onnxc_session_input_index
 * maps names to positions): their shapes fix the free dims, and the values of small inputs that
 * decide shapes (a Reshape's shape, a Loop's trip count) are compiled in — later runs must pass
 * the same values.  inputs NULL and n 0: compile for the declared shapes, which must all be fixed.
 * Once only: a prepared session keeps its compiled code. */
int onnxc_session_prepare(onnxc_session *s, const onnxc_tensor *inputs, int32_t n);
/* Run on caller-owned tensors, inputs and outputs in graph order (prepares on the first call).
 * Every field is checked before anything runs (ONNXC_ERR_ARGUMENT, the message names the
 * tensor): counts, dtypes, ranks, dims equal to the compiled ones, bytes at least the tensor's
 * size, data not NULL unless 0 bytes.  Outputs are written in place; their shapes are
 * onnxc_session_output_info's after prepare. */
int onnxc_session_run(onnxc_session *s, const onnxc_tensor *inputs, int32_t num_inputs, const onnxc_tensor *outputs,
                      int32_t num_outputs);
/* worker threads of a prepared session (0 = all cores); the options' value otherwise */
int onnxc_session_set_threads(onnxc_session *s, int threads);
/* the threads runs use (all cores resolved to a number) */
int onnxc_session_threads(const onnxc_session *s);
/* ---- run deadlines and cancellation ---- */
/* A run that takes longer than this many seconds of wall time (0 = no bound, the default) stops
 * with ONNXC_ERR_CANCELLED and a message naming the bound; the session stays usable.  Counts the
 * run only, not the first run's compilation (max_compile_time bounds that).  Checked before each
 * kernel and at each Loop/Scan iteration, so a run stops within one kernel of the bound. */
int onnxc_options_set_max_run_time(onnxc_session_options *o, double seconds);
/* the same for later runs of this session */
int onnxc_session_set_max_run_time(onnxc_session *s, double seconds);
/* Stops the session's run in progress from another thread (the one exception to "one thread at a
 * time"): it returns ONNXC_ERR_CANCELLED at its next check (as above) and the session stays
 * usable, so the next run works.  A cancel while no run is in progress has no effect; one during
 * the first run's compilation stops that run as soon as its code starts. */
int onnxc_session_cancel(onnxc_session *s);

/* the compile-phase report (with onnxc_options_set_time_phases) as text in buf (NUL-terminated,
 * cut at len); returns the length written, 0 when phases are not timed */
size_t onnxc_session_phase_report(onnxc_session *s, char *buf, size_t len);

/* ---- profiling (lib/profile.c; onnxc bench --profile, --profile-json, --perf-map) ---- */
/* Time every top-level node of each run.  The session's code then has a second kind of graph
 * function, which reads a monotonic clock after every node; without this option the code has no
 * timing call at all (profiling costs nothing when off). */
int onnxc_options_set_profile(onnxc_session_options *o, int on);
/* When the session is compiled, append one line per JIT-compiled function to /tmp/perf-PID.map
 * (perf's convention for JIT code: "START SIZE NAME", hex), so `perf report` names kernels
 * ("onnxc:k_12:Conv:/layer1/conv1") instead of showing [JIT] addresses.  Off by default; the CLI
 * turns it on with --perf-map or ONNXC_PERF_MAP=1 (the library itself reads no environment). */
int onnxc_options_set_perf_map(onnxc_session_options *o, int on);
typedef struct onnxc_profile_node {
  const char *name;     /* the node's name ("" if it has none); strings valid while the session lives */
  const char *op;       /* its op with what fusion put in its epilogue: "Conv+Add+Relu" */
  const char *kernel;   /* the compiled function that ran it (nodes with identical code share one) */
  const char *shape;    /* its first output's shape, "1x64x56x56" */
  double flops;         /* per run, 2 per multiply-accumulate; 0 where the op has no count */
  double total_ms;      /* summed over the runs counted (onnxc_session_profile's runs) */
  double last_start_ms; /* in the last run: when it began, from the run's start */
  double last_ms;       /* in the last run: how long it took */
  /* how it split over the threads, summed over the runs, in CPU time (a loaded machine does not
   * distort it): cpu_ms, the work of all threads (waiting left out); crit_ms, the same counting
   * only the longest thread of each parallel step (its time on idle cores; = cpu_ms on 1 thread);
   * tasks, the parallel range it was split over in the last run (0: it ran on one thread) */
  double cpu_ms, crit_ms;
  int64_t tasks;
} onnxc_profile_node;
/* The profile of a prepared session built with onnxc_options_set_profile: its top-level nodes in
 * run order (*num_nodes), the runs counted since the last reset, and the sum of their times (the
 * graph function from entry to its last node: the nodes' total_ms add up to it).  Any out pointer
 * may be NULL.  ONNXC_ERR_STATE when not prepared or not profiled. */
int onnxc_session_profile(const onnxc_session *s, int32_t *num_nodes, int64_t *runs, double *run_total_ms);
int onnxc_session_profile_node(const onnxc_session *s, int32_t i, onnxc_profile_node *out);
/* forget the runs counted so far (e.g. after warm-up runs) */
int onnxc_session_profile_reset(onnxc_session *s);
/* Writes the last run as a Chrome trace (chrome://tracing, Perfetto; the format ONNX Runtime's
 * profiler writes): {"traceEvents": [...]} with one "X" event per node (cat "Node", ts and dur
 * in microseconds from the run's start, args: op_name, kernel, output_shape, flops) and one for
 * the whole run (cat "Session", name "model_run"). */
int onnxc_session_profile_write_json(onnxc_session *s, const char *path);

/* ---- free dims at run time: compiled variants (lib/variants.c) ---- */
/* A session whose inputs have free dims (after the fixed ones are applied) keeps up to n compiled
 * variants, one per set of input shapes: onnxc_session_run (and prepare with tensors) on a new
 * shape compiles once for it, the least recently used variant is evicted when n are kept.
 * 0 or 1 (the default): one shape per session (a run of another is ONNXC_ERR_ARGUMENT).  A failed
 * variant compile leaves the session usable for other shapes.  Values compiled in by prepare (a
 * Reshape's shape input) are bound per variant. */
int onnxc_options_set_max_variants(onnxc_session_options *o, int n);
/* pre-compile the variant for these input shapes (graph order; data unused, may be NULL) */
int onnxc_session_add_variant(onnxc_session *s, const onnxc_tensor *inputs, int32_t n);
/* make the variant for these inputs the current one, compiling it if new: onnxc_session_output_info
 * then gives its output shapes (to allocate outputs before running a new shape).  A run selects too. */
int onnxc_session_select_variant(onnxc_session *s, const onnxc_tensor *inputs, int32_t n);
/* variants compiled and kept (0 for a session without) */
int32_t onnxc_session_num_variants(const onnxc_session *s);

/* ---- the on-disk cache of compiled code (lib/cache.c) ---- */
/* Keep JIT-compiled code in folder `dir` (created if missing; NULL or "" = no cache, the default),
 * so that preparing the same model with the same options on this machine with this build of
 * libonnxc again links the stored code instead of compiling (ResNet-50: ~0.1 s instead of ~3 s).
 * An entry is keyed by the model's bytes, the input shapes and bound values, the options that
 * change code, the library's build and LLVM version and the CPU; it is checked (checksums) before
 * use, and a damaged one is rebuilt.  Entries are written atomically (several processes may share
 * the folder).  onnxc_options_set_dump_llvm bypasses the cache. */
int onnxc_options_set_cache_dir(onnxc_session_options *o, const char *dir);
/* bound of the folder's total size: the least recently used entries are removed past it
 * (0 = the default, 2 GiB); an entry larger than the bound is not stored */
int onnxc_options_set_cache_max_bytes(onnxc_session_options *o, int64_t bytes);
/* The usual cache folder: $ONNXC_CACHE_DIR, else $XDG_CACHE_HOME/onnxc, else $HOME/.cache/onnxc
 * (the one function of the library that reads the environment, when called).  ONNXC_ERR_ARGUMENT
 * (buf "") when none is set or it does not fit in len. */
int onnxc_cache_default_dir(char *buf, size_t len);
enum {
  ONNXC_CACHE_OFF = 0,     /* no cache dir, or nothing cacheable (e.g. string constants) */
  ONNXC_CACHE_MISS = 1,    /* compiled (and stored, unless writing failed or it exceeds the bound) */
  ONNXC_CACHE_HIT = 2,     /* the stored code was used */
  ONNXC_CACHE_REBUILT = 3, /* an entry was damaged or unusable: removed, compiled again and stored */
};
/* what the cache did at the session's prepare */
int onnxc_session_cache_state(const onnxc_session *s);

/* ---- the GEMM provider (lib/gemm.c) ----
 * Who computes fp32 GEMMs (MatMul, Gemm, 1x1 convolutions without im2col): "own" (onnxc's
 * kernels, the default), "libxsmm" (libxsmm's JIT kernels over unpacked operands, onnxc's
 * epilogue; a GEMM of another form stays on onnxc's kernels) or "auto" (per node the faster of
 * the two, measured when the model is compiled; always available, onnxc's own kernels where
 * libxsmm is not; the phase report says what it chose).  libxsmm is available when the
 * process carries onnxc's libxsmm glue (the CLI and libonnxc.so built with libxsmm-dev; a program
 * linking libonnxc.a adds libonnxc_xsmm.a and -lxsmm -lxsmmnoblas).  set: ONNXC_ERR_ARGUMENT for
 * another name or a provider not available; available: 1 or 0; describe: a line for reports
 * (NULL for an unknown name). */
int onnxc_options_set_gemm(onnxc_session_options *o, const char *provider);
int onnxc_gemm_available(const char *provider);
const char *onnxc_gemm_describe(const char *provider);

/* ---- fp precision of GEMMs (lib/gemm.c) ----
 * "fp32" (the default) or "bf16": fp32 MatMul, Gemm and convolutions that run on the GEMM engine
 * (1x1 and im2col convs; Winograd 3x3 convs and matrix-vector products stay fp32) multiply bf16
 * operands — weights rounded to bf16 when the model is compiled, activations as they are packed —
 * and sum in fp32 (AVX512-BF16's vdpbf16ps): about 1.5-2x the fp32 speed, results within about
 * 1e-2 relative of fp32.  Needs a target with AVX512-BF16: a session's prepare or compile for one
 * without fails (ONNXC_ERR_MODEL, the message says why), as does the C emitter.  set:
 * ONNXC_ERR_ARGUMENT for another name; host_ok: 1 if this CPU runs the mode. */
int onnxc_options_set_fp_mode(onnxc_session_options *o, const char *mode);
int onnxc_fp_mode_host_ok(const char *mode);

/* ---- the pass pipeline ---- */
/* the passes in pipeline order: shapes, inline, dce, fuse, winograd, layout, plan, sparse; NULL past the end */
const char *onnxc_pass_name(int32_t i);
/* Checks a comma-separated list of passes to switch off ("fuse,dce"), as onnxc_options_disable_pass
 * would take them one by one: ONNXC_OK, or ONNXC_ERR_ARGUMENT with the reason (naming the valid
 * passes) in err. */
int onnxc_pass_list_check(const char *list, char *err, size_t errlen);
/* The IR as text after pass `after` ("import" for the graph as read, a pass name, or NULL for the
 * whole pipeline), with the session's options; what `onnxc dump` prints.  *text is malloc'd (free
 * it).  A session that was dumped cannot be prepared or compiled afterwards (ONNXC_ERR_STATE):
 * its graph stays at the stage dumped. */
int onnxc_session_dump(onnxc_session *s, const char *after, char **text);

/* ---- facts (what `onnxc info` and `onnxc bench` print) ---- */
typedef struct onnxc_facts {
  const char *graph_name;
  int64_t opset;          /* the default domain's */
  int32_t num_nodes;
  int32_t num_constants;  /* initializers and Constant values holding data */
  double parameters;      /* their elements */
  double macs;            /* multiply-accumulates of the contractions; -1 if unknown */
  const char *macs_unknown; /* why macs is -1: "symbolic" (an input has free dims) or the shape
                               inference error; NULL when known */
} onnxc_facts;
/* Before prepare, runs shape inference when every input shape is fixed (output dims in
 * onnxc_session_output_info then follow); after prepare, the compiled graph's facts. */
int onnxc_session_facts(onnxc_session *s, onnxc_facts *out);
/* op histogram, most frequent first (ties by op table order): i in [0, onnxc_session_num_op_types) */
int32_t onnxc_session_num_op_types(const onnxc_session *s);
int onnxc_session_op_type(const onnxc_session *s, int32_t i, const char **op, int32_t *count);

/* ---- ahead-of-time compilation (onnxc compile) ---- */
typedef struct onnxc_compile_options {
  const char *output;       /* a file; for emit "c" a folder */
  const char *name;         /* C prefix of the model's symbols; NULL: from output (libNAME.so -> NAME) */
  const char *emit;         /* "so", "obj", "lib", "llvm", "asm", "c"; NULL: from output's extension */
  const char *target;       /* NULL: the session options' target, else "native" */
  const char *cpu;          /* LLVM CPU / feature string overriding the target's; NULL: the target's */
  const char *features;
  const char *weights_file; /* write the weights there instead of embedding them; NULL: embed */
  const char *header;       /* where NAME.h goes; NULL: beside output (inside it for "c") */
  const char *model_path;   /* for onnxc_compile_check's same-file test and NAME.h's comment;
                               NULL: the session's file */
  /* A multi-shape library (onnxc compile --shape batch=1,4,16): one variant per options object,
   * the shapes it fixes (onnxc_options_fix_input / onnxc_options_fix_dim; its other settings are
   * not used) added to the session's.  Each variant is compiled on its own load of the model's
   * file (a session from a buffer cannot), all into one library with one copy of the weights;
   * NAME_run_tensors runs the variant whose input dims it is given.  NULL / 0: the session's
   * shapes only.  At most ONNXC_MAX_VARIANTS; no two may give the same input dims. */
  const onnxc_session_options *const *variants;
  int32_t num_variants;
  /* non-zero: the weights are stored entropy-coded (each packed weight over an alphabet of its
   * distinct values when it has at most 256 — clustered and pruned layers — else by bytes), in
   * the library or the weights file, and decoded once by NAME_create into memory of their own.
   * onnxc_session_compiled_weights tells the sizes.  Winograd-transformed 3x3 weights do not
   * cluster: `onnxc compile --compress-weights` switches the winograd pass off. */
  int32_t compress_weights;
} onnxc_compile_options;
#define ONNXC_MAX_VARIANTS 32
/* The checks onnxc_session_compile makes before compiling (emit kind, name, output path and
 * folder, target, no two written files the same and none the model), without a model loaded:
 * ONNXC_ERR_ARGUMENT with the message in err.  The onnxc CLI calls it first to exit 2 early. */
int onnxc_compile_check(const onnxc_compile_options *co, char *err, size_t errlen);
/* Compile the session's model ahead of time: so/obj/lib also write NAME.h (and link the runtime,
 * found in $ONNXC_RT_DIR, beside libonnxc, or in the installation), c writes a folder of C11
 * sources with NAME.h, llvm/asm write the module.  Every input shape must be fixed. */
int onnxc_session_compile(onnxc_session *s, const onnxc_compile_options *co);
/* The files the last successful onnxc_session_compile wrote, in the order written (OUT, a
 * weights file, NAME.h; for emit "c" every source in the folder): what `onnxc compile` reports.
 * 0 / NULL before a compile, after a failed one, or for i out of range. */
int32_t onnxc_session_num_written(const onnxc_session *s);
const char *onnxc_session_written(const onnxc_session *s, int32_t i);

/* The weights of the last successful onnxc_session_compile, in each form: what the kernels read
 * (raw_bytes: packed and padded, decoded at create) and what the library or weights file stores
 * (stored_bytes; the same unless compress_weights).  With compress_weights, per form of the
 * coded pieces (ONNXC_WFORM_*): how many, their raw and their coded bytes; huffman_bytes is what
 * Huffman codes of the same symbols would have taken (the coder is rANS).  ONNXC_ERR_STATE
 * before a successful compile. */
enum { ONNXC_WFORM_RAW = 0, ONNXC_WFORM_ALPHABET = 1, ONNXC_WFORM_BYTES = 2, ONNXC_WFORM_PLANES = 3 };
typedef struct onnxc_weights_report {
  int64_t raw_bytes, stored_bytes;
  int32_t coded;
  int64_t pieces[4], raw[4], coded_bytes[4];
  int64_t huffman_bytes;
} onnxc_weights_report;
int onnxc_session_weights_report(const onnxc_session *s, onnxc_weights_report *out);
/* The same for the model's constants as loaded (`onnxc info`): raw_bytes as the model stores them,
 * stored_bytes what compress_weights would code them to (estimated from the symbol counts, each
 * constant one piece; a library packs and pads them first, so its figures differ a little). */
int onnxc_session_weights_estimate(onnxc_session *s, onnxc_weights_report *out);

/* ---- pruning (lib/prune.c, lib/prune_channel.c; onnxc prune, --prune on compile/run/bench) ---- */
/* A layer is a node with a constant float32 weight: Conv (input 1), Gemm (B), MatMul (a constant
 * rank-2 B).  Its weight is seen as a K x N matrix, K along the reduction (a Conv's input
 * channels and kernel positions), N along the outputs (a Conv's output channels). */
enum {
  ONNXC_PRUNE_UNSTRUCTURED = 0, /* the smallest |w| zeroed */
  ONNXC_PRUNE_NM = 1,           /* N kept of every M neighbours along K (for a Conv: M input
                                   channels at one kernel position); sparsity 1 - N/M */
  ONNXC_PRUNE_BLOCK = 2,        /* blocks of R rows of K by C columns of N zeroed whole, by their
                                   sum of squares ("block:1x16": 16 neighbouring outputs) */
  ONNXC_PRUNE_CHANNEL = 3,      /* whole output channels of a Conv removed (smallest sum of squares
                                   of the filter): the Conv, the BatchNormalization / activations /
                                   pooling / depthwise Convs after it and the next Conv's or Gemm's
                                   input channels shrink (a removed channel's bias goes into the
                                   next layer's bias), giving a smaller dense model.  A Conv whose
                                   channels meet another value (a residual Add, a Concat) or reach
                                   a graph output is left alone (the report says why). */
};
typedef struct onnxc_prune_spec {
  double sparsity;           /* in [0, 1): the fraction of weights zeroed, or of output channels
                                removed; for N:M 0 or exactly 1 - N/M */
  int32_t structure;         /* ONNXC_PRUNE_* */
  int32_t n, m;              /* N:M: 0 < N < M <= 64 */
  int32_t rows, cols;        /* block:RxC: 1..256 each */
  int32_t per_layer;         /* 1: every layer pruned to sparsity; 0: one magnitude threshold over
                                all layers (channel: over channel scores each divided by its layer's
                                mean), so layers end up with different sparsities */
  int32_t prune_all;         /* 1: also the sensitive layers skipped by default: those reading a
                                graph input (the stem) and those writing a graph output (the head) */
  int32_t channel_multiple;  /* channel: the kept channels of each layer rounded to a multiple of
                                this (0 or 1: none), e.g. 16 for whole vectors */
  const char *skip;          /* comma-separated node names or op types left alone; NULL: none */
} onnxc_prune_spec;
/* Parses the short form --prune takes: "S,STRUCTURE[,per-layer][,all][,multiple=K]" with
 * STRUCTURE unstructured, N:M ("2:4"), block:RxC ("block:1x16") or channel; for N:M the sparsity
 * may be left out ("2:4").  ONNXC_ERR_ARGUMENT with the reason in err (skip is set to NULL). */
int onnxc_prune_spec_parse(const char *text, onnxc_prune_spec *spec, char *err, size_t errlen);
/* The checks onnxc_session_prune makes on a spec, without a model: ONNXC_ERR_ARGUMENT with the
 * reason in err. */
int onnxc_prune_spec_check(const onnxc_prune_spec *spec, char *err, size_t errlen);
/* Prunes the session's model (before prepare or compile; once; not a session with variants):
 * magnitude based, deterministic.  Layers the spec skips, and those a structure does not fit
 * (N:M with K not a multiple of M, blocks that do not tile the weight, channels that cannot be
 * removed), are left alone; onnxc_session_layer_info says which and why.  Prepare, compile and
 * onnxc_session_write_model then see the pruned model. */
int onnxc_session_prune(onnxc_session *s, const onnxc_prune_spec *spec);
/* The same as a session option: every load of the model (the session's, its variants', a
 * multi-shape compile's) is pruned by spec (copied; NULL: none) before anything else; a failure
 * fails the session's creation.  What --prune on compile/run/bench sets. */
int onnxc_options_set_prune(onnxc_session_options *o, const onnxc_prune_spec *spec);
typedef struct onnxc_layer_info {
  const char *name;          /* the node's; strings valid while the session lives */
  const char *op;            /* "Conv", "Gemm", "MatMul" */
  const char *weight;        /* the weight's name */
  const char *shape;         /* the weight's shape now, "64x64x3x3" */
  int64_t params, zeros;     /* elements of the weight, zeros among them */
  double sparsity;           /* zeros / params */
  const char *structure;     /* found in the weight: "dense", "unstructured", "N:M" (the largest
                                N of nonzeros in any group of M along K: "2:4"), "block:RxC" (every
                                zero in an all-zero block) */
  int32_t pruned;            /* onnxc_session_prune pruned it */
  const char *skipped;       /* after a prune, why the layer was left alone; NULL otherwise */
  int64_t channels_before, channels_after; /* output channels before and after the prune */
  double kept_energy;        /* sum of squares of the weight after / before the prune (1: none) */
  const char *output;        /* the layer's output value's name (for onnxc_session_add_output) */
  int32_t recalibrated;      /* onnxc_session_layer_rescale rescaled its output channels */
  const char *kernel;        /* the kernel the backend would choose on the session's target:
                                "sparse csc-G[ k-blocks of KC]" (G columns sharing nonzero rows) or
                                "dense (why)" (--disable-pass sparse keeps every layer dense) */
} onnxc_layer_info;
/* the model's layers in node order, measured now (a prune measures again) */
int32_t onnxc_session_num_layers(onnxc_session *s);
int onnxc_session_layer_info(onnxc_session *s, int32_t i, onnxc_layer_info *out);
/* Recalibration after pruning (lib/prune_recal.c; onnxc prune --recalibrate): scales layer i's
 * output channel c by scale[c] > 0 and adds shift[c] (scale and shift: one per output channel):
 * the weight's channel c times scale[c], the bias scale[c] * b[c] + shift[c] (a bias of its own
 * is made when the layer has none or shares one).  Conv and Gemm (beta != 0); a MatMul has no
 * bias (ONNXC_ERR_ARGUMENT).  Zeros stay zeros.  Before prepare or compile (ONNXC_ERR_STATE). */
int onnxc_session_layer_rescale(onnxc_session *s, int32_t i, const float *scale, const float *shift);
/* The factors that move a channel's output statistics measured in the pruned model (mean_pruned,
 * sd_pruned) to the dense model's: scale[c] = sd_dense / sd_pruned clamped to [lo, hi] (1 where
 * either spread is ~0), shift[c] = mean_dense - scale[c] * mean_pruned; n channels. */
void onnxc_prune_recal_factors(int64_t n, const double *mean_dense, const double *sd_dense, const double *mean_pruned,
                               const double *sd_pruned, double lo, double hi, float *scale, float *shift);


/* ---- comparing outputs (lib/compare.c; the quantize and prune reports) ---- */
/* How close tensors are to reference tensors, accumulated over pairs (one per sample and
 * output): all pairs added form one long vector for the cosine. */
typedef struct onnxc_compare {
  double cosine;   /* cosine similarity of the two (1: same direction; 1 when both are all zero) */
  double max_abs;  /* largest |ref - got| */
  double max_rel;  /* max_abs / the largest |ref| (INFINITY when ref is all zero and got is not) */
  double mean_abs; /* mean |ref - got| */
  int64_t count;   /* elements compared */
  int64_t nan;     /* elements NaN in one tensor and a number in the other (left out of the rest) */
  double sum_dot, sum_ref2, sum_got2, sum_abs, max_ref; /* the accumulators */
} onnxc_compare;
void onnxc_compare_init(onnxc_compare *c);
/* adds one pair (same dtype need not hold, same dims must; numeric dtypes except float16);
 * ONNXC_ERR_ARGUMENT when the dims differ, a dtype is not compared or a buffer is short */
int onnxc_compare_add(onnxc_compare *c, const onnxc_tensor *ref, const onnxc_tensor *got);


/* ---- writing the model (lib/write_model.c) ---- */
/* Writes the session's model as it stands (as loaded, or after onnxc_session_quantize or
 * onnxc_session_prune) to path as an ONNX file (frontend/write.c), before prepare or compile
 * (ONNXC_ERR_STATE after: the compiled graph is fused).  ONNXC_ERR_IO when it cannot be written. */
int onnxc_session_write_model(onnxc_session *s, const char *path);

/* ---- quantization (lib/quantize.c; onnxc quantize, --quantize on compile/run/bench) ---- */
/* Keep value `name` of the main graph (an intermediate, e.g. a Conv's output) as an extra graph
 * output after the model's own, so runs return it too (calibration, per-layer comparisons).
 * Before prepare only (ONNXC_ERR_STATE after); ONNXC_ERR_ARGUMENT when the graph has no such
 * value.  A value already an output is not added twice.  Keeping a value stops fusion from
 * removing it (its producer's epilogue no longer absorbs what follows). */
int onnxc_session_add_output(onnxc_session *s, const char *name);

enum {
  ONNXC_QUANT_STATIC = 0,  /* QDQ: int8 weights, uint8/int8 activations with calibrated ranges */
  ONNXC_QUANT_DYNAMIC = 1, /* MatMul/Gemm weights int8, activations quantized at run time */
};
enum { ONNXC_CALIB_MINMAX = 0, ONNXC_CALIB_PERCENTILE = 1, ONNXC_CALIB_ENTROPY = 2 };
/* Zero-initialize, then set what differs from the defaults (static, min-max, uint8 activations,
 * per-channel weights). */
typedef struct onnxc_quantize_options {
  int32_t mode;               /* ONNXC_QUANT_* */
  int32_t method;             /* ONNXC_CALIB_*: how an activation's range is chosen from its values */
  double percentile;          /* ONNXC_CALIB_PERCENTILE: the share of values kept, in (0, 100); 0: 99.999 */
  int32_t signed_activations; /* static: int8 activations (else uint8, ONNX Runtime's default) */
  int32_t per_tensor_weights; /* one weight scale per tensor (else one per output channel) */
  const char *const *keep_float; /* op types ("Gemm") or node names left in float */
  int32_t num_keep_float;
  /* static: calibration samples, num_samples sets of the model's inputs in graph order
   * (samples[k * num_inputs + i]); all of one shape, which the calibration compiles for */
  const onnxc_tensor *samples;
  int32_t num_samples;
  /* optional: held-out samples for the accuracy report (same layout); 0: no report */
  const onnxc_tensor *eval_samples;
  int32_t num_eval_samples;
  /* static, with eval samples: measure each layer's sensitivity, the change of the graph outputs
   * when that layer alone is quantized (the rest float), on the eval samples: one compile and the
   * eval runs per layer.  The report lists it (onnxc_quant_report_sensitivity). */
  int32_t sensitivity;
  /* static, with eval samples: leave the keep_sensitive layers of largest sensitivity in float
   * (measures it; the report marks them) */
  int32_t keep_sensitive;
} onnxc_quantize_options;
typedef struct onnxc_quant_report onnxc_quant_report;
/* Quantizes the session's model in place, before prepare (ONNXC_ERR_STATE after, or for a
 * session keeping variants or created from a buffer when samples must be run): Conv, MatMul,
 * Gemm and residual Adds (static) or MatMul and Gemm with constant weights (dynamic), as ONNX
 * Runtime's quantizer writes them (docs/api.md).  Static calibration compiles the float model once and runs every
 * sample (twice for percentile and entropy).  The session then compiles, runs and saves
 * (onnxc_session_write_model) the quantized model; the on-disk cache is not used for it.  With eval
 * samples and report non-NULL, *report receives the accuracy report (free it with
 * onnxc_quant_report_free): the float and the quantized model run on each eval sample.
 * Errors: ONNXC_ERR_ARGUMENT (options, sample count/shape/dtype), ONNXC_ERR_MODEL (opset < 10,
 * a sample the model fails on), with the message in onnxc_session_error. */
int onnxc_session_quantize(onnxc_session *s, const onnxc_quantize_options *qo, onnxc_quant_report **report);
/* Nodes the last onnxc_session_quantize rewrote (0 before). */
int32_t onnxc_session_num_quantized(const onnxc_session *s);
/* the report: per graph output of the float model, the int8 model against it; per quantized
 * layer (its output), the same, worst (lowest cosine) first */
int32_t onnxc_quant_report_num_outputs(const onnxc_quant_report *r);
int onnxc_quant_report_output(const onnxc_quant_report *r, int32_t i, const char **name, onnxc_compare *out);
int32_t onnxc_quant_report_num_layers(const onnxc_quant_report *r);
int onnxc_quant_report_layer(const onnxc_quant_report *r, int32_t i, const char **node, const char **op,
                             onnxc_compare *out);
/* per quantizable layer, measured with the sensitivity or keep_sensitive options (else 0 layers):
 * the graph outputs with that layer alone quantized against the float model (the output of
 * lowest cosine), most sensitive (lowest cosine) first; *kept: left in float by keep_sensitive */
int32_t onnxc_quant_report_num_sensitivity(const onnxc_quant_report *r);
int onnxc_quant_report_sensitivity(const onnxc_quant_report *r, int32_t i, const char **node, const char **op,
                                   onnxc_compare *out, int32_t *kept);
void onnxc_quant_report_free(onnxc_quant_report *r);

/* ---- weight clustering (lib/cluster.c; onnxc compress --cluster K) ---- */
/* Weight sharing: each clustered weight becomes K float values (a codebook from a per-layer 1-D
 * k-means, deterministic) and one uint8 index per weight, written as the standard ONNX form
 * Gather(W_codebook, Cast(W_indices, to INT32)) that ONNX Runtime runs.  A weight with exact
 * zeros (pruned) keeps an exact 0 in its codebook holding only them.  Layers: Conv, Gemm, MatMul
 * (constant weight, input 1) and RNN/GRU/LSTM (W and R). */
typedef struct onnxc_cluster_options {
  int32_t clusters;          /* K, values per weight: 2..256 */
  const char *layers;        /* comma-separated node names or op types clustered; NULL: every layer */
  int64_t min_weights;       /* weights with fewer elements stay float; 0: 1024 */
} onnxc_cluster_options;
typedef struct onnxc_cluster_layer {
  const char *node, *op, *weight; /* the first node reading the weight; valid while the session lives */
  int64_t params;            /* elements of the weight */
  int32_t values;            /* codebook entries (<= K) */
  double rel_error;          /* ||W - clustered W|| / ||W|| */
} onnxc_cluster_layer;
/* ONNXC_ERR_ARGUMENT with the reason in err when the options are bad */
int onnxc_cluster_options_check(const onnxc_cluster_options *o, char *err, size_t errlen);
/* Clusters the session's model in place (before prepare or compile; once); compile, run and
 * onnxc_session_write_model then see the clustered model. */
int onnxc_session_cluster(onnxc_session *s, const onnxc_cluster_options *o);
/* the weights the last onnxc_session_cluster clustered (0 before), in node order */
int32_t onnxc_session_num_clustered(const onnxc_session *s);
int onnxc_session_clustered(const onnxc_session *s, int32_t i, onnxc_cluster_layer *out);

#ifdef __cplusplus
}
#endif
#endif
