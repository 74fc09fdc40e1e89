/* npy.c — NumPy .npy reader/writer.  The header is a Python dict literal; only the three keys
 * numpy writes are accepted ('descr', 'fortran_order', 'shape'), with strict bounds. */
#include "npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fe.h"

static const struct {
  const char *descr;
  DType t;
} descrs[] = {
    {"<f4", DT_FLOAT}, {"<f8", DT_DOUBLE}, {"<f2", DT_FLOAT16}, {"|i1", DT_INT8},  {"|u1", DT_UINT8},
    {"<i2", DT_INT16}, {"<u2", DT_UINT16}, {"<i4", DT_INT32},   {"<u4", DT_UINT32}, {"<i8", DT_INT64},
    {"<u8", DT_UINT64}, {"|b1", DT_BOOL},
};

static const char *descr_of(DType t) {
  for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
    if (descrs[i].t == t) return descrs[i].descr;
  return NULL;
}

/* find 'key': in the header dict and return a pointer just past the colon */
static const char *find_key(const char *h, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(h, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

int npy_read(const char *path, Tensor *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  unsigned char pre[12];
  int rc = -1;
  char *hdr = NULL;
  struct stat st;
  const char *why = fstat(fileno(f), &st) ? NULL : fe_unreadable_mode(st.st_mode);
  if (why) {
    snprintf(err, errlen, "%s: %s", path, why);
    goto out;
  }
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
    snprintf(err, errlen, "%s: not a .npy file (bad magic)", path);
    goto out;
  }
  size_t hlen;
  if (pre[6] == 1) hlen = pre[8] | (size_t)pre[9] << 8;
  else if (pre[6] == 2 || pre[6] == 3) {
    if (fread(pre + 10, 1, 2, f) != 2) goto trunc;
    hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  } else {
    snprintf(err, errlen, "%s: unsupported .npy version %d", path, pre[6]);
    goto out;
  }
  if (hlen > 65536) {
    snprintf(err, errlen, "%s: .npy header too long (%zu bytes)", path, hlen);
    goto out;
  }
  hdr = calloc(1, hlen + 1);
  if (!hdr || fread(hdr, 1, hlen, f) != hlen) goto trunc;
  const char *d = find_key(hdr, "descr"), *fo = find_key(hdr, "fortran_order"), *sh = find_key(hdr, "shape");
  if (!d || !fo || !sh || *d != '\'') {
    snprintf(err, errlen, "%s: malformed .npy header", path);
    goto out;
  }
  char descr[8] = {0};
  size_t dl = strcspn(d + 1, "'");
  if (dl >= sizeof descr) dl = sizeof descr - 1;
  memcpy(descr, d + 1, dl);
  if (!strcmp(descr, "<b1")) strcpy(descr, "|b1");
  if (!strcmp(descr, "<i1")) strcpy(descr, "|i1");
  if (!strcmp(descr, "<u1")) strcpy(descr, "|u1");
  out->dtype = DT_UNDEF;
  for (size_t i = 0; i < sizeof descrs / sizeof descrs[0]; i++)
    if (!strcmp(descrs[i].descr, descr)) out->dtype = descrs[i].t;
  if (out->dtype == DT_UNDEF) {
    snprintf(err, errlen, "%s: unsupported dtype '%s' (big-endian or non-numeric?)", path, descr);
    goto out;
  }
  if (strncmp(fo, "False", 5)) {
    snprintf(err, errlen, "%s: Fortran-order arrays are not supported (save with np.ascontiguousarray)", path);
    goto out;
  }
  if (*sh != '(') {
    snprintf(err, errlen, "%s: malformed shape in .npy header", path);
    goto out;
  }
  const char *p = sh + 1;
  out->rank = 0;
  for (;;) {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    if (!isdigit((unsigned char)*p)) {
      snprintf(err, errlen, "%s: malformed shape in .npy header", path);
      goto out;
    }
    if (out->rank == IR_MAX_RANK) {
      snprintf(err, errlen, "%s: rank above %d is not supported", path, IR_MAX_RANK);
      goto out;
    }
    char *e;
    errno = 0;
    long long v = strtoll(p, &e, 10);
    if (errno || v < 0) {
      snprintf(err, errlen, "%s: bad dimension in .npy header", path);
      goto out;
    }
    out->dims[out->rank++] = v;
    p = e;
  }
  int64_t n, bytes;
  if (!ir_numel_ok(out->rank, out->dims, &n) || !ir_mul_ok(n, (int64_t)dtype_size(out->dtype), &bytes) ||
      bytes > (16LL << 30)) {
    snprintf(err, errlen, "%s: array size overflows or is too large", path);
    goto out;
  }
  out->bytes = (size_t)bytes;
  out->data = malloc(out->bytes ? out->bytes : 1);
  if (!out->data) {
    snprintf(err, errlen, "%s: out of memory", path);
    goto out;
  }
  if (fread(out->data, 1, out->bytes, f) != out->bytes) goto trunc;
  rc = 0;
  goto out;
trunc:
  snprintf(err, errlen, "%s: file is truncated", path);
out:
  if (rc) tensor_free(out);
  free(hdr);
  fclose(f);
  return rc;
}

int npy_write(const char *path, const Tensor *t, char *err, size_t errlen) {
  const char *d = descr_of(t->dtype);
  if (!d) {
    snprintf(err, errlen, "%s: dtype %s cannot be written as .npy", path, dtype_name(t->dtype));
    return -1;
  }
  char shape[256] = "(";
  size_t o = 1;
  for (int i = 0; i < t->rank; i++)
    o += (size_t)snprintf(shape + o, sizeof shape - o, "%lld,%s", (long long)t->dims[i],
                          i + 1 < t->rank ? " " : "");
  if (t->rank > 1) shape[--o] = 0; /* numpy writes (2, 3) but (2,) */
  snprintf(shape + o, sizeof shape - o, ")");
  char hdr[512];
  int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", d, shape);
  int total = 10 + n + 1;
  int pad = (64 - total % 64) % 64;
  memset(hdr + n, ' ', (size_t)pad);
  hdr[n + pad] = '\n';
  int hlen = n + pad + 1;
  FILE *f = fopen(path, "wb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
    return -1;
  }
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 255), (unsigned char)(hlen >> 8)};
  bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)hlen, f) == (size_t)hlen &&
            fwrite(t->data, 1, t->bytes, f) == t->bytes;
  ok &= fclose(f) == 0;
  if (!ok) {
    snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}
