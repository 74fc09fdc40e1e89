/* samples.h — folders of sample inputs (quantize --calibrate DIR, prune and the accuracy
 * reports): one subfolder per sample holding one .npy per graph input (DIR/s0/NAME.npy, or
 * DIR/s0/input_K.npy by position), or, for a one-input model, .npy files directly in DIR (one
 * sample each).  Samples are ordered by name, digits as numbers (s2 before s10). */
#ifndef ONNXC_SAMPLES_H
#define ONNXC_SAMPLES_H

#include <stddef.h>

#include "onnxc.h"
#include "tool.h"

typedef struct ToolSamples {
  int n;          /* samples */
  int nin;        /* tensors per sample: the model's inputs, in graph order */
  Tensor *t;      /* n * nin, sample-major: sample k's input i is t[k * nin + i] */
  onnxc_tensor *v; /* the same as the library's descriptors (data shared with t) */
  char **names;   /* n: each sample's subfolder or file name, for messages */
} ToolSamples;

/* Reads every sample of dir for session s's inputs (read before prepare: the names, dtypes and the
 * dims fixed in the model are checked; the samples must agree with each other on their shapes).
 * 0, or -1 with a message naming the folder, the file and what is wrong in err (a missing folder,
 * no samples, a missing or unknown input file, a wrong dtype or shape, a .npy that cannot be
 * read, .npy files directly in DIR for a model of several inputs).  Frees what it read on failure. */
int tool_samples_read(const char *dir, const onnxc_session *s, ToolSamples *out, char *err, size_t errlen);
void tool_samples_free(ToolSamples *ss);
/* the name DIR/s0/NAME.npy uses for an input: its name, bytes other than [A-Za-z0-9._-] as '_' */
void tool_sample_file_name(const char *input, char *buf, size_t len);

#endif
