/* npy_lite.h — just enough .npy reading for the examples: a C-order array of a known element
 * type and byte size ('<f4' or '<i8'). Returns 0 on success, prints why not otherwise. */
#ifndef NPY_LITE_H
#define NPY_LITE_H

#include <stdio.h>
#include <string.h>

static int npy_load(const char *path, const char *descr, void *dst, size_t bytes) {
  FILE *f = fopen(path, "rb");
  unsigned char pre[10];
  char hdr[1024];
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return -1;
  }
  int ok = fread(pre, 1, 10, f) == 10 && !memcmp(pre, "\x93NUMPY", 6) && pre[6] == 1;
  size_t hlen = ok ? (size_t)(pre[8] | pre[9] << 8) : 0;
  ok = ok && hlen < sizeof hdr && fread(hdr, 1, hlen, f) == hlen;
  if (ok) hdr[hlen] = 0;
  ok = ok && strstr(hdr, descr) && strstr(hdr, "'fortran_order': False");
  ok = ok && fread(dst, 1, bytes, f) == bytes && fgetc(f) == EOF;
  fclose(f);
  if (!ok) fprintf(stderr, "%s: expected a C-order %s array of %zu bytes\n", path, descr, bytes);
  return ok ? 0 : -1;
}

#endif
