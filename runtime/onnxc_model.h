/* onnxc_model.h — the public ABI of a compiled model, shared by every NAME.h.
 *
 * `onnxc compile` pastes this file into each generated NAME.h, so a header is self-contained and
 * several model headers can be included in one translation unit (everything here is guarded).
 * The runtime (runtime/model.c) implements the generic functions; NAME_create/run/error/destroy
 * in a compiled library are thin wrappers bound to that model's descriptor. */
#ifndef ONNXC_MODEL_ABI_H
#define ONNXC_MODEL_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ONNXC_ABI_VERSION 1

/* status codes: small and stable (0 = ok) */
enum {
  ONNXC_OK = 0,
  ONNXC_ERR_ARGUMENT = 1, /* NULL pointer, bad option, tensor of the wrong dtype/shape/size */
  ONNXC_ERR_NOMEM = 2,    /* allocation failed (create only) */
  ONNXC_ERR_INDEX = 3,    /* an index tensor held an out-of-range value at run time */
  ONNXC_ERR_IO = 4,       /* weights file missing or malformed */
  ONNXC_ERR_INTERNAL = 5,
};
/* run-time stops (after libonnxc's 6..10 in onnxc.h, so one numbering serves both) */
enum {
  ONNXC_ERR_CANCELLED = 11, /* the run was cancelled (onnxc_model_cancel) or passed its max run time;
                               the instance stays usable */
  ONNXC_ERR_BOUND = 12,     /* an input's values ask a kernel for more work than its ceiling (a RoiAlign
                               roi whose adaptive sampling grid is too large) */
};

/* element types: ONNX TensorProto.DataType codes */
enum {
  ONNXC_DT_FLOAT = 1, ONNXC_DT_UINT8 = 2, ONNXC_DT_INT8 = 3, ONNXC_DT_UINT16 = 4, ONNXC_DT_INT16 = 5,
  ONNXC_DT_INT32 = 6, ONNXC_DT_INT64 = 7, ONNXC_DT_BOOL = 9, ONNXC_DT_FLOAT16 = 10, ONNXC_DT_DOUBLE = 11,
  ONNXC_DT_UINT32 = 12, ONNXC_DT_UINT64 = 13, ONNXC_DT_BFLOAT16 = 16,
};

typedef struct onnxc_options {
  int threads;              /* worker threads for this instance; 0 = all online cores */
  const char *weights_path; /* models compiled with --weights-file: the file onnxc wrote */
  double max_run_time;      /* seconds a run may take, 0 = no bound: a longer run stops with
                               ONNXC_ERR_CANCELLED (checked by Loop/Scan iterations and between kernels) */
} onnxc_options;

typedef struct onnxc_tensor_info {
  const char *name;
  int32_t dtype; /* ONNXC_DT_* */
  int32_t rank;
  const int64_t *dims;
  int64_t numel;
  int64_t bytes;
} onnxc_tensor_info;

/* A caller's buffer with what it holds, for onnxc_model_run_tensors / NAME_run_tensors. Every
 * field is checked against the model's onnxc_tensor_info before anything runs: dtype and rank
 * must be equal, dims[0..rank) equal (dims may be NULL only when rank is 0), bytes at least the
 * tensor's size; data may be NULL only for a tensor of 0 bytes. Nothing is "not given". A
 * multi-shape library compares the input dims with each variant's and runs the one they equal
 * (ONNXC_ERR_ARGUMENT listing the shapes it has when none does). */
typedef struct onnxc_tensor {
  void *data;          /* dense row-major; inputs are only read */
  int64_t bytes;       /* size of the buffer at data */
  int32_t dtype;       /* ONNXC_DT_* */
  int32_t rank;
  const int64_t *dims;
} onnxc_tensor;

typedef struct onnxc_model onnxc_model; /* one instance */

/* One shape of a multi-shape library (`onnxc compile --shape batch=1,4,16`): its own tensors'
 * dims and graph function over the library's one copy of the weights. run_tensors picks the
 * variant whose input dims equal the caller's; run runs variant 0 (the first shape given). */
typedef struct onnxc_model_variant {
  const char *label; /* the dims fixed for it, e.g. "batch=4" ("" for a single-shape library) */
  const onnxc_tensor_info *inputs, *outputs;
  int32_t (*graph)(void *rt, void *const *io);
  int64_t arena_bytes, scratch_bytes;
  int32_t num_nodes;
  const char *const *nodes;
} onnxc_model_variant;

/* The descriptor every compiled model exports (as NAME_info; a shared library also as
 * `onnxc_model_descriptor`, so a host can dlopen any model without knowing its name). */
typedef struct onnxc_model_info {
  uint32_t abi_version; /* ONNXC_ABI_VERSION */
  const char *name;
  const char *target;
  int32_t num_inputs, num_outputs;
  const onnxc_tensor_info *inputs, *outputs;
  int (*create)(onnxc_model **out, const onnxc_options *opts);
  int (*run)(onnxc_model *m, const void *const inputs[], void *const outputs[]);
  const char *(*error)(const onnxc_model *m);
  void (*destroy)(onnxc_model *m);
  int (*run_tensors)(onnxc_model *m, const onnxc_tensor *inputs, int32_t num_inputs, const onnxc_tensor *outputs,
                     int32_t num_outputs);
  /* for the runtime only */
  int32_t (*graph)(void *rt, void *const *io);
  const char *weights;   /* embedded weights; NULL when they live in a file */
  int64_t weights_bytes;
  uint64_t weights_hash; /* FNV-1a of the weight bytes, checked when loading a file */
  int64_t arena_bytes, scratch_bytes;
  int32_t num_nodes;
  const char *const *nodes; /* "Op 'name'" per top-level node: names the node a run failed in */
  /* the shapes it was compiled for: variants[0] is the fields above (inputs, outputs, graph,
   * nodes; arena/scratch above are the largest of all variants); 0 / NULL: only those fields */
  int32_t num_variants;
  const onnxc_model_variant *variants;
  /* > 0: the weights (embedded, or the file) are this many bytes entropy-coded (`onnxc compile
   * --compress-weights`), decoded at create into weights_bytes; weights_hash is of the coded bytes */
  int64_t weights_coded_bytes;
} onnxc_model_info;

/* the runtime's generic entry points (what NAME_create etc. call) */
int onnxc_model_create(const onnxc_model_info *info, onnxc_model **out, const onnxc_options *opts);
int onnxc_model_run(onnxc_model *m, const void *const inputs[], void *const outputs[]);
/* run with sizes: counts, buffers, dtypes, shapes and byte sizes checked first (ONNXC_ERR_ARGUMENT
 * and a message naming the tensor), then as onnxc_model_run; a multi-shape library runs the
 * variant whose input dims these are */
int onnxc_model_run_tensors(onnxc_model *m, const onnxc_tensor *inputs, int32_t num_inputs,
                            const onnxc_tensor *outputs, int32_t num_outputs);
/* raw buffers (as onnxc_model_run) for variant k of a multi-shape library (0 <= k < num_variants);
 * ONNXC_ERR_ARGUMENT for another k */
int onnxc_model_run_variant(onnxc_model *m, int32_t variant, const void *const inputs[], void *const outputs[]);
/* m == NULL: the message of the last failed create on this thread */
const char *onnxc_model_error(const onnxc_model *m);
void onnxc_model_destroy(onnxc_model *m);
const char *onnxc_status_str(int status);
/* Stops the instance's run in progress, if any, from any thread: the run returns
 * ONNXC_ERR_CANCELLED at its next check (each Loop/Scan iteration, each kernel) and the instance
 * stays usable.  A cancel with no run in progress has no effect on later runs. */
void onnxc_model_cancel(onnxc_model *m);
/* the max run time of later runs of this instance, in seconds (0 = no bound); as
 * onnxc_options.max_run_time.  ONNXC_ERR_ARGUMENT if negative or not a number. */
int onnxc_model_set_max_run_time(onnxc_model *m, double seconds);
/* on = 1 (the default): between kernels a worker thread spins up to 0.5 ms of its CPU time
 * waiting for the next one (and 50 us after a run returns) before it sleeps; 0: it sleeps as soon
 * as it has no work (as ONNX Runtime's allow_spinning = 0), for a process sharing its cores with
 * others: no CPU burnt waiting, a futex wake-up at each kernel.  ONNXC_ERR_ARGUMENT unless 0 or 1. */
int onnxc_model_set_spin(onnxc_model *m, int on);

#ifdef __cplusplus
}
#endif
#endif
