/* tool.h — pieces of the CLI shared between its files.  The CLI is a client of libonnxc
 * (include/onnxc.h): it parses arguments, reads and writes files (.npy, .pb) and prints. */
#ifndef ONNXC_TOOL_H
#define ONNXC_TOOL_H

#include <stdio.h>

#include "fe.h"
#include "onnxc.h"

#define TOOL_MAX_IO 256 /* graph inputs/outputs the CLI handles */

/* options that hold for any command */
extern int64_t tool_max_memory; /* --max-memory in bytes; 0 = the defaults */
extern bool tool_no_fuse, tool_time_passes, tool_dump_llvm;
/* "512", "64K", "1.5G" -> bytes; -1 if malformed, not positive or above 2^62 */
int64_t tool_parse_size(const char *s);

/* --max-compile-time: a wall-clock bound on loading + compiling one model (seconds; 0 = none),
 * given to the library (which stops cooperatively).  tool_deadline_arm starts a SIGALRM
 * backstop before a model is read; when it expires the process prints "onnxc: compiling MODEL
 * took longer than --max-compile-time ..." and exits 1.  tool_deadline_disarm stops it. */
extern double tool_max_compile_time;
double tool_parse_seconds(const char *s); /* seconds >= 0, at most 1e7; -1 if malformed */
void tool_deadline_arm(const char *model);
void tool_deadline_disarm(void);

/* --no-fuse and --disable-pass NAME[,NAME] (run, bench, compile, dump): *i at the option;
 * 1 consumed (and *i advanced past its value), 0 not a pass option, -1 bad (message printed). */
int tool_pass_flag(const char *cmd, int argc, char **argv, int *i);
#define TOOL_HELP_PASSES                                                                             \
  "  --layout auto|nchw  auto (default): depthwise/1x1 conv + elementwise regions run pixel-major\n" \
  "                      (NHWC) where the layout pass's cost model says it pays; nchw: nowhere\n"  \
  "                      (= --disable-pass layout)\n"                                              \
  "  --disable-pass NAME[,NAME]  skip optional passes: inline, dce, fuse, winograd, layout, sparse,\n" \
  "                      binary\n"                                                                  \
  "                      (the pipeline is shapes, inline, dce, fuse, winograd, layout, plan,\n"   \
  "                      sparse, binary); sparse: sparse kernels for mostly-zero MatMul/Gemm/Conv\n" \
  "                      weights; binary: xor + popcount kernels for Sign-input, +-alpha-weight\n" \
  "                      convs/matmuls; --no-fuse = --disable-pass fuse; attention: only fuse's\n" \
  "                      multi-head attention -> FusedAttention part; qdq: QDQ convolutions\n"   \
  "                      stay float emulated instead of int8 QConv kernels (and QDQ / dynamic\n"  \
  "                      MatMul/Gemm as written instead of int8 QMatMul kernels); cluster:\n"    \
  "                      clustered weights (Gather(codebook, indices)) folded to floats, not\n"  \
  "                      kept as 4- or 8-bit indices; qadd: only fuse's residual QAdd -> the\n"  \
  "                      producing int8 QConv's epilogue part\n"
#define TOOL_HELP_CACHE                                                                              \
  "  --no-cache          compile, neither using nor storing the on-disk cache of compiled code\n"   \
  "                      (also ONNXC_NO_CACHE=1); the cache is $ONNXC_CACHE_DIR, else\n"           \
  "                      $XDG_CACHE_HOME/onnxc, else ~/.cache/onnxc, bounded by\n"                 \
  "                      $ONNXC_CACHE_MAX_SIZE (default 2G; oldest entries removed)\n"            \
  "  --cache-dir DIR     keep the cache in DIR\n"

/* a session for model with the command-line options (prints why and returns NULL on failure) */
onnxc_session *tool_open(const char *model, const FeShape *shapes, int nshapes, int threads);
/* prints a failed call's message ("onnxc: ..."; the --max-compile-time wording for a timeout) */
void tool_fail_session(const onnxc_session *s, int status, const char *model);
/* compiles for ins (NULL: the fixed shapes), prints the phase report if asked; 0 or a status (printed) */
int tool_prepare(onnxc_session *s, const char *model, Tensor *ins, int n);
void tool_print_phases(onnxc_session *s);
onnxc_tensor tool_tensor(const Tensor *t);
void tool_shape_str(const onnxc_value_info *v, char *buf, size_t len);
void tool_bf16_inputs(const onnxc_session *s, Tensor *ts, int n);
int tool_check_given(const onnxc_session *s, const Tensor *ts, char *err, size_t errlen);
/* outs[i]: zeroed, 64-byte aligned buffers shaped like the compiled outputs (free data with free) */
int tool_alloc_outputs(const onnxc_session *s, Tensor *outs, char *err, size_t errlen);
int tool_run_once(onnxc_session *s, const Tensor *ins, const Tensor *outs); /* a status */
int tool_parse_dims(const char *s, FeShape *sh);
int tool_read_tensor(const char *path, Tensor *t, char *err, size_t errlen); /* .npy or .pb */

/* profile.c: the --profile table of a profiled session (wall_ms: the mean run as the caller timed it) */
int tool_print_profile(onnxc_session *s, double wall_ms, FILE *f);

/* info.c */
int tool_print_info(onnxc_session *s, const char *model, FILE *f);

/* prune.c: --prune SPEC (compile, run, bench, dump, info), as tool_pass_flag takes its options;
 * tool_prune_options_to puts it into a session's options; tool_print_layers prints the layers'
 * sparsity and structure (report: also what the prune did) */
int tool_prune_flag(const char *cmd, int argc, char **argv, int *i);
int tool_prune_options_to(onnxc_session_options *op);
int tool_print_layers(onnxc_session *s, FILE *f, bool report);
int tool_cmd_prune(int argc, char **argv); /* `onnxc prune` */
int tool_cmd_compress(int argc, char **argv); /* compress.c: `onnxc compress` */
#define TOOL_HELP_PRUNE                                                                              \
  "  --prune SPEC        prune the model first (magnitude, as onnxc prune does): SPEC is\n"         \
  "                      S,STRUCTURE[,per-layer][,all][,multiple=K], STRUCTURE unstructured, N:M,\n" \
  "                      block:RxC or channel, e.g. 0.3,channel or 0.9,unstructured or 2:4\n"

/* gemm.c: --gemm own|libxsmm|auto (run, bench, compile), as tool_pass_flag takes its options;
 * tool_gemm_options_to puts it into a session's options; tool_gemm_provider: its name ("own") */
int tool_gemm_flag(const char *cmd, int argc, char **argv, int *i);
int tool_gemm_options_to(onnxc_session_options *op);
const char *tool_gemm_provider(void);
#define TOOL_HELP_GEMM                                                                               \
  "  --gemm own|libxsmm|auto  who computes fp32 GEMMs (MatMul, Gemm, 1x1 convs): onnxc's\n"      \
  "                      kernels (default), libxsmm's (when this onnxc was built with\n"             \
  "                      libxsmm-dev), or auto: per node the faster of the two, measured when\n"      \
  "                      compiled (the model compiled and run both ways; --time-passes reports it)\n"

/* gemm.c: --fp-mode fp32|bf16 (run, bench, compile), taken and applied as --gemm */
int tool_fp_mode_flag(const char *cmd, int argc, char **argv, int *i);
int tool_fp_mode_options_to(onnxc_session_options *op);
#define TOOL_HELP_FP_MODE                                                                            \
  "  --fp-mode fp32|bf16 bf16: GEMMs and im2col/1x1 convs multiply bf16 (weights rounded when\n"    \
  "                      compiled), summing in fp32 (AVX512-BF16 vdpbf16ps; refused without it)\n"

/* compile.c: `onnxc compile` (ahead-of-time libraries and NAME.h) */
int tool_cmd_compile(int argc, char **argv);

/* quantize.c: --quantize int8|int8-dynamic and its options (compile, run, bench, dump), as
 * tool_pass_flag: 1 consumed, 0 not one, -1 bad (printed); tool_quant_usage: 2 when the options
 * do not fit together (printed), else 0; tool_quant_apply: quantizes a new session when
 * --quantize was given (tool_open calls it): 0, or 1 after printing why not */
int tool_quant_flag(const char *cmd, int argc, char **argv, int *i);
int tool_quant_usage(const char *cmd);
bool tool_quant_active(void); /* --quantize was given */
int tool_cmd_quantize(int argc, char **argv); /* `onnxc quantize` */
int tool_quant_apply(onnxc_session *s, const char *model);
#define TOOL_HELP_QUANT                                                                              \
  "  --quantize int8     quantize first (static, QDQ): needs --calibrate DIR, sample inputs as\n"    \
  "                      DIR/s0/NAME.npy (or DIR/*.npy for a one-input model); see onnxc quantize\n"  \
  "                      --help for --method, --percentile, --keep-float, --activations, --per-tensor\n" \
  "  --quantize int8-dynamic  MatMul/Gemm weights int8, activations quantized at run time\n"

/* testdata.c: run an ONNX test_data_set folder (or a folder of them); returns the exit code */
int tool_run_test_data(const char *model, const char *dir, const FeShape *shapes, int nshapes, int threads,
                       double rtol, double atol, bool verbose);
/* compares got against want; writes a one-line summary; true if they match */
bool tool_compare(const Tensor *got, const Tensor *want, double rtol, double atol, char *msg, size_t len);

#endif
