/* tool.h — pieces of the CLI shared between its files. */
#ifndef ONNXC_TOOL_H
#define ONNXC_TOOL_H

#include <stdio.h>

#include "be.h"
#include "fe.h"

int tool_parse_dims(const char *s, FeShape *sh);
int tool_read_tensor(const char *path, Tensor *t, char *err, size_t errlen); /* .npy or .pb */
/* checks host tensors against the graph's inputs and fixes the graph's input dims from them */
int tool_bind_inputs(Graph *g, Tensor *ts, char *err, size_t errlen);

/* info.c */
int tool_print_info(Graph *g, FILE *f, char *err, size_t errlen);
double tool_count_macs(const Graph *g); /* 0 if unknown */

/* testdata.c: run an ONNX test_data_set folder (or a folder of them); returns the exit code */
int tool_run_test_data(const char *model, const char *dir, const FeShape *shapes, int nshapes, int threads,
                       double rtol, double atol, bool verbose);
/* compares got against want; writes a one-line summary; true if they match */
bool tool_compare(const Tensor *got, const Tensor *want, double rtol, double atol, char *msg, size_t len);

#endif
