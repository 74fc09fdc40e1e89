/* npy.h — NumPy .npy files (format 1.0/2.0, little-endian, C order) ⇄ host Tensors. */
#ifndef ONNXC_NPY_H
#define ONNXC_NPY_H

#include <stddef.h>

#include "ir.h"

int npy_read(const char *path, Tensor *out, char *err, size_t errlen);
int npy_write(const char *path, const Tensor *t, char *err, size_t errlen);

#endif
