/* tool.h — pieces of the CLI shared between its files. */
#ifndef ONNXC_TOOL_H
#define ONNXC_TOOL_H

#include <stdio.h>

#include "be.h"
#include "fe.h"
#include "passes.h"

#define TOOL_MAX_IO 256 /* graph inputs/outputs the CLI handles */

extern int64_t tool_max_memory; /* --max-memory in bytes; 0 = the defaults */
/* "512", "64K", "1.5G" -> bytes; -1 if malformed, not positive or above 2^62 */
int64_t tool_parse_size(const char *s);

/* --max-compile-time: a wall-clock bound on loading + compiling one model (seconds; 0 = none).
 * tool_deadline_arm starts it before a model is read; when it expires the process prints
 * "onnxc: compiling MODEL took longer than --max-compile-time ..." and exits 1 (LLVM cannot be
 * interrupted cleanly). tool_deadline_disarm stops it once the model is compiled. */
extern double tool_max_compile_time;
double tool_parse_seconds(const char *s); /* seconds >= 0, at most 1e7; -1 if malformed */
void tool_deadline_arm(const char *model);
void tool_deadline_disarm(void);
/* fn (async-signal-safe: unlink, rmdir) runs before the exit when the bound expires; NULL = none */
void tool_deadline_cleanup(void (*fn)(void));

/* --no-fuse and --disable-pass NAME[,NAME] (run, bench, compile, dump): *i at the option;
 * 1 consumed (and *i advanced past its value), 0 not a pass option, -1 bad (message printed). */
int tool_pass_flag(const char *cmd, int argc, char **argv, int *i);
/* the pass options from those flags, --max-memory, and ONNXC_VERIFY_EACH=1 (the test suite sets it:
 * the verifier after every pass) */
PassOptions tool_pass_options(void);
#define TOOL_HELP_PASSES                                                                             \
  "  --disable-pass NAME[,NAME]  skip optional passes: inline, dce, fuse (the pipeline is shapes,\n" \
  "                      inline, dce, fuse, layout, plan); --no-fuse = --disable-pass fuse\n"

/* pass pipeline + JIT for a graph whose input shapes are fixed */
BeModel *tool_compile(Graph *g, bool dump_llvm, char *err, size_t errlen);
/* outs[i]: zeroed, 64-byte aligned buffers shaped like the graph's outputs (free data with free) */
int tool_alloc_outputs(Graph *g, Tensor *outs, char *err, size_t errlen);
int tool_run_once(BeModel *m, Graph *g, Tensor *ins, Tensor *outs, char *err, size_t errlen);
int tool_parse_dims(const char *s, FeShape *sh);
int tool_read_tensor(const char *path, Tensor *t, char *err, size_t errlen); /* .npy or .pb */

/* info.c */
int tool_print_info(Graph *g, FILE *f, char *err, size_t errlen);
double tool_count_macs(const Graph *g); /* 0 if unknown */

/* compile.c: `onnxc compile` (ahead-of-time libraries and NAME.h) */
int tool_cmd_compile(int argc, char **argv);

/* testdata.c: run an ONNX test_data_set folder (or a folder of them); returns the exit code */
int tool_run_test_data(const char *model, const char *dir, const FeShape *shapes, int nshapes, int threads,
                       double rtol, double atol, bool verbose);
/* compares got against want; writes a one-line summary; true if they match */
bool tool_compare(const Tensor *got, const Tensor *want, double rtol, double atol, char *msg, size_t len);

#endif
