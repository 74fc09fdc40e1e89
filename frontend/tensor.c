/* tensor.c — TensorProto → dense little-endian data, with every size from the file checked:
 * rank, dims, element-count and byte-size products, raw_data length, typed-field counts and value
 * ranges, conflicting data fields, and external data (contained in the model's folder, no links,
 * within the file).  Also fe_read_tensor_pb for bare TensorProto files. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fe_int.h"

void fe_dims_str(int rank, const int64_t *dims, char *buf, size_t len) {
  if (rank == 0) {
    snprintf(buf, len, "scalar");
    return;
  }
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; i < rank && o < len; i++)
    o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "x" : "", (long long)dims[i]);
}

void fe_pool_reserve(Fe *c) {
  c->pool = NULL;
  c->pool_left = 0;
  c->pool_base = NULL;
  c->pool_mapped = false;
  if (!c->arena || c->ref_bytes < ((uint64_t)2 << 20) || c->ref_bytes > SIZE_MAX) return;
  if (c->pool_cache) { /* an earlier load's block, compared before use (fe_copy_deferred) */
    void *map = NULL;
    size_t map_bytes = 0;
    uint8_t *p = c->pool_cache->open(c->pool_cache->ctx, c->pool_id, (size_t)c->ref_bytes, &map, &map_bytes);
    if (p && arena_adopt_map(c->arena, map, map_bytes)) munmap(map, map_bytes), p = NULL;
    if (p && (uintptr_t)p % 64 == 0) {
      c->pool = c->pool_base = p;
      c->pool_left = (size_t)c->ref_bytes;
      c->pool_mapped = true;
      return;
    }
  }
  c->pool = c->pool_base = arena_try_alloc_uninit(c->arena, (size_t)c->ref_bytes); /* NULL: tensors allocate their own */
  if (!c->pool) return;
  c->pool_left = (size_t)c->ref_bytes;
  arena_advise_huge(c->pool, c->pool_left);
}

/* raw: every byte is copied in at once, so the arena need not zero it first; ref: raw_data left
 * in the file's buffer, whose copy goes to the pool fe_pool_reserve sized for them */
static void *data_alloc(Fe *c, size_t bytes, const char *what, bool raw, bool ref) {
  size_t n = bytes ? bytes : 1, need = (n + 63) & ~(size_t)63;
  if (ref && c->pool && need >= n && need <= c->pool_left) {
    void *p = c->pool;
    c->pool += need;
    c->pool_left -= need;
    return p;
  }
  void *p = c->arena ? (raw ? arena_try_alloc_uninit(c->arena, n) : arena_try_alloc(c->arena, n)) : calloc(1, n);
  if (!p) fe_error(c, "%s: out of memory allocating %zu bytes", what, bytes);
  else arena_advise_huge(p, n); /* before the copy touches it */
  return p;
}

/* ---- deferred copies ---- */
/* A model's weights are most of its load, and copying them is mostly the first touch of fresh
 * pages (the kernel zeroing them: 56% of BERT's cache hit).  Copied at the end of the load, split
 * in two byte ranges, a second thread takes half of that work; under FE_COPY_SPLIT one does it. */
#define FE_COPY_SPLIT ((size_t)16 << 20)

typedef struct FeCopy {
  void *dst;
  const void *src;
  size_t bytes;
} FeCopy;

static int defer_copy(Fe *c, void *dst, const void *src, size_t bytes) {
  if (c->ncopies == c->capcopies) {
    size_t cap = c->capcopies ? 2 * c->capcopies : 64;
    FeCopy *p = realloc(c->copies, cap * sizeof *p);
    if (!p) return fe_error(c, "out of memory listing the tensors to copy");
    c->copies = p;
    c->capcopies = cap;
  }
  c->copies[c->ncopies++] = (FeCopy){dst, src, bytes};
  return 0;
}

/* bytes [lo, hi) of the copies taken one after the other, in steps of FE_COPY_STEP from the start
 * of each copy's part.  hash: each step is also hashed as it is copied (ir_hash64_copy) and the
 * steps' hashes are chained in order into h.  verify (the pool is the cache's mapping): a step is
 * written only where it differs from the model's bytes, and counted in differ.  fd (the model
 * file, mapped at [map, map + map_len)): a source in the mapping is read with pread instead, into
 * the destination or, when verifying, into buf (a step's size); the hashes do not depend on how. */
#define FE_COPY_STEP ((size_t)256 << 10)

typedef struct CopyRange {
  const FeCopy *cp;
  size_t n, lo, hi;
  bool hash, verify;
  uint64_t h;
  size_t differ;
  int fd;
  const char *map;
  size_t map_len;
  unsigned char *buf;
  bool changed; /* pread came back short: the file changed while it was read */
} CopyRange;

/* n bytes of the file at off into dst; false: short (the file shrank) or an error */
static bool read_at(int fd, void *dst, size_t n, size_t off) {
  char *d = dst;
  while (n) {
    ssize_t r = pread(fd, d, n, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    d += r, n -= (size_t)r, off += (size_t)r;
  }
  return true;
}

static void *copy_range(void *arg) {
  CopyRange *r = arg;
  size_t at = 0;
  for (size_t i = 0; i < r->n && at < r->hi && !r->changed; at += r->cp[i++].bytes) {
    size_t b = at > r->lo ? 0 : r->lo - at, e = r->cp[i].bytes < r->hi - at ? r->cp[i].bytes : r->hi - at;
    for (; b < e && !r->changed; b += FE_COPY_STEP) {
      size_t n = e - b < FE_COPY_STEP ? e - b : FE_COPY_STEP;
      char *dst = (char *)r->cp[i].dst + b;
      const char *src = (const char *)r->cp[i].src + b;
      bool in_file = r->fd >= 0 && src >= r->map && (size_t)(src - r->map) <= r->map_len &&
                     n <= r->map_len - (size_t)(src - r->map);
      if (in_file && (!r->verify || r->buf)) {
        if (!read_at(r->fd, r->verify ? (void *)r->buf : dst, n, (size_t)(src - r->map))) {
          r->changed = true;
          break;
        }
        if (r->verify) src = (const char *)r->buf;
        else if (!r->hash) continue;
        else src = NULL; /* read into dst: hashed there */
      }
      if (!r->hash && !r->verify) {
        memcpy(dst, src, n);
        continue;
      }
      uint64_t h = src ? ir_hash64_copy(dst, src, n, 41, r->verify ? &r->differ : NULL) : ir_hash64(dst, n, 41);
      uint64_t link[3] = {r->h, h, (uint64_t)n};
      r->h = ir_hash64(link, sizeof link, 43);
    }
  }
  return NULL;
}

/* With Fe.digest, the bytes copied join the model's digest (fe_unpack hashed the rest of the file):
 * the split point is total / 2 whether or not a second thread runs, so the digest depends on the
 * file alone, and it is of the copies, the bytes the graph holds. */
int fe_copy_deferred(Fe *c) {
  size_t total = 0;
  for (size_t i = 0; i < c->ncopies; i++) total += c->copies[i].bytes;
  bool hash = c->digest != NULL, v = c->pool_mapped;
  int fd = c->mapped ? c->map_fd : -1;
  CopyRange lo = {c->copies, c->ncopies, 0, total / 2, hash, v, 0, 0, fd, (const char *)c->map, c->map_len, NULL, false},
            hi = {c->copies, c->ncopies, total / 2, total, hash, v, 0, 0, fd, (const char *)c->map, c->map_len, NULL, false};
  if (v && fd >= 0) { /* a step of the model's bytes at a time, to compare with the mapped copy */
    lo.buf = malloc(FE_COPY_STEP);
    hi.buf = malloc(FE_COPY_STEP);
  }
  pthread_t t;
  if (total >= FE_COPY_SPLIT && !pthread_create(&t, NULL, copy_range, &hi)) {
    copy_range(&lo);
    pthread_join(t, NULL);
  } else { /* small, or no thread to be had: all here, in the same two ranges */
    copy_range(&lo);
    copy_range(&hi);
  }
  free(lo.buf);
  free(hi.buf);
  fe_copies_free(c);
  if (lo.changed || hi.changed) return fe_error(c, "the file changed while it was read");
  if (hash) fe_digest_add(c, (uint64_t[3]){lo.h, hi.h, (uint64_t)total}, 3 * sizeof(uint64_t));
  /* a block made here, or a mapped one that was stale, is kept for the next load */
  if (c->pool_cache && c->pool_base && (!v || lo.differ + hi.differ))
    c->pool_cache->store(c->pool_cache->ctx, c->pool_id, c->pool_base, (size_t)c->ref_bytes, lo.differ + hi.differ);
  return 0;
}

void fe_digest_add(Fe *c, const void *p, size_t bytes) {
  if (c->digest) *c->digest = ir_hash64(p, bytes, *c->digest) | 1;
}

void fe_copies_free(Fe *c) {
  free(c->copies);
  c->copies = NULL;
  c->ncopies = c->capcopies = 0;
}

/* ---- external data ---- */

/* a non-negative decimal integer */
static bool parse_size(const char *s, int64_t *out) {
  int64_t v = 0;
  if (!s || !*s) return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10) return false;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return true;
}

/* a location must name a file: not empty, not a folder-like "w.bin/" (which the component walk
 * below would read as "w.bin").  A NUL inside it is refused earlier, by the wire scan (read.c):
 * protobuf-c's strings end at the first NUL, so "w\0/../x" would arrive here as "w". */
static int check_location(Fe *c, const char *what, const char *location) {
  char nm[IR_NAME_MSG];
  if (!*location) return fe_error(c, "%s: external data location is empty", what);
  if (location[strlen(location) - 1] == '/')
    return fe_error(c, "%s: external data location '%s' ends in '/' (must name a file)", what,
                    ir_name_msg(location, nm, sizeof nm));
  return 0;
}

/* Opens location below c->dir one component at a time with O_NOFOLLOW, so no symlink anywhere on
 * the path is followed, and no check-then-open race exists. Returns an fd or -1 (error set). */
static int open_contained(Fe *c, const char *what, const char *location) {
  if (location[0] == '/')
    return fe_error(c, "%s: external data location '%s' is an absolute path (must be relative to the "
                       "model's folder)", what, location);
  for (const char *p = location; *p;) {
    size_t n = strcspn(p, "/");
    if (n == 2 && p[0] == '.' && p[1] == '.')
      return fe_error(c, "%s: external data location '%s' contains '..' (must stay inside the "
                         "model's folder)", what, location);
    p += n + (p[n] == '/');
  }
  if (!c->dir)
    return fe_error(c, "%s: external data '%s' needs the model's folder, and none was given", what,
                    location);
  char *path = strdup(location);
  if (!path) return fe_error(c, "%s: out of memory", what);
  int dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    int e = errno;
    free(path);
    return fe_error(c, "%s: cannot open the model's folder '%s': %s", what, c->dir, strerror(e));
  }
  char *save = path, *comp = strtok_r(save, "/", &save);
  while (comp) {
    char *next = strtok_r(save, "/", &save);
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (next ? O_DIRECTORY : O_NONBLOCK);
    int fd = openat(dirfd, comp, flags);
    int e = errno;
    if (fd < 0) {
      /* O_NOFOLLOW fails with ELOOP on a symlink, or ENOTDIR when O_DIRECTORY is also given */
      struct stat st;
      bool link = (e == ELOOP || e == ENOTDIR) && fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                  S_ISLNK(st.st_mode);
      const char *why = link ? "is a symbolic link (refused; copy the file into the model's folder)" : strerror(e);
      fe_error(c, "%s: external data '%s': %s", what, location, why);
      close(dirfd);
      free(path);
      return -1;
    }
    close(dirfd);
    dirfd = fd;
    comp = next;
  }
  free(path);
  return dirfd; /* the file itself (or the folder, if location named no file: caught by fstat) */
}

static int read_external(Fe *c, Onnx__TensorProto *tp, const char *what, void *dst, size_t bytes,
                         const char *desc) {
  const char *location = NULL, *offset_s = NULL, *length_s = NULL;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = tp->external_data[i];
    const char *k = e->key ? e->key : "", *v = e->value ? e->value : "";
    const char **slot = !strcmp(k, "location") ? &location
                        : !strcmp(k, "offset") ? &offset_s
                        : !strcmp(k, "length") ? &length_s
                                               : NULL;
    if (!slot) continue; /* checksum and others: not needed */
    if (*slot) return fe_error(c, "%s: external data key '%s' is given twice", what, k);
    *slot = v;
  }
  int64_t offset = 0, length = (int64_t)bytes;
  if (!location) return fe_error(c, "%s: external data has no 'location'", what);
  if (check_location(c, what, location)) return -1;
  if (offset_s && !parse_size(offset_s, &offset))
    return fe_error(c, "%s: external data offset '%.40s' is not a non-negative integer", what, offset_s);
  if (length_s && !parse_size(length_s, &length))
    return fe_error(c, "%s: external data length '%.40s' is not a non-negative integer", what, length_s);
  if (length != (int64_t)bytes)
    return fe_error(c, "%s: external data length is %lld bytes, expected %zu (%s)", what,
                    (long long)length, bytes, desc);
  int fd = open_contained(c, what, location);
  if (fd < 0) return -1;
  struct stat st;
  int rc = -1;
  if (fstat(fd, &st) != 0)
    fe_error(c, "%s: external data '%s': %s", what, location, strerror(errno));
  else if (!S_ISREG(st.st_mode))
    fe_error(c, "%s: external data '%s' is not a regular file", what, location);
  else if (st.st_nlink != 1)
    fe_error(c, "%s: external data '%s' has %lu hard links (refused)", what, location,
             (unsigned long)st.st_nlink);
  else if (offset > st.st_size || length > st.st_size - offset)
    fe_error(c, "%s: external data '%s': offset %lld + length %lld is past the end of the file (%lld bytes)",
             what, location, (long long)offset, (long long)length, (long long)st.st_size);
  else
    rc = 0;
  for (size_t done = 0; rc == 0 && done < bytes;) {
    ssize_t n = pread(fd, (char *)dst + done, bytes - done, (off_t)(offset + (int64_t)done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) rc = fe_error(c, "%s: external data '%s': read failed: %s", what, location,
                              n < 0 ? strerror(errno) : "file shrank");
    else done += (size_t)n;
  }
  close(fd);
  if (!rc && c->digest) { /* the data file's bytes join the model's digest (its name is in the skeleton) */
    uint64_t h[2] = {ir_hash64(dst, bytes, 47), (uint64_t)bytes};
    fe_digest_add(c, h, sizeof h);
  }
  return rc;
}

/* ---- typed fields ---- */

/* int32_data holds int8/int16/uint8/uint16/bool and the bit patterns of float16/bfloat16 */
static int from_int32(Fe *c, const char *what, DType t, const int32_t *src, int64_t n, void *dst) {
  int64_t lo = 0, hi = 0;
  switch (t) {
  case DT_INT32: memcpy(dst, src, (size_t)n * 4); return 0;
  case DT_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
  case DT_INT16: lo = INT16_MIN, hi = INT16_MAX; break;
  case DT_UINT8: hi = UINT8_MAX; break;
  case DT_BOOL: hi = 1; break;
  default: hi = UINT16_MAX; break; /* uint16, float16, bfloat16 */
  }
  for (int64_t i = 0; i < n; i++) {
    if (src[i] < lo || src[i] > hi)
      return fe_error(c, "%s: int32_data[%lld] = %d is out of range for %s", what, (long long)i,
                      src[i], dtype_name(t));
    if (dtype_size(t) == 1) ((uint8_t *)dst)[i] = (uint8_t)src[i];
    else ((uint16_t *)dst)[i] = (uint16_t)src[i];
  }
  return 0;
}

static int from_uint64(Fe *c, const char *what, DType t, const uint64_t *src, int64_t n, void *dst) {
  if (t == DT_UINT64) {
    memcpy(dst, src, (size_t)n * 8);
    return 0;
  }
  for (int64_t i = 0; i < n; i++) {
    if (src[i] > UINT32_MAX)
      return fe_error(c, "%s: uint64_data[%lld] = %llu is out of range for uint32", what, (long long)i,
                      (unsigned long long)src[i]);
    ((uint32_t *)dst)[i] = (uint32_t)src[i];
  }
  return 0;
}

enum { SRC_RAW, SRC_EXTERNAL, SRC_FLOAT, SRC_INT32, SRC_STRING, SRC_INT64, SRC_DOUBLE, SRC_UINT64, SRC_N };
static const char *const src_names[SRC_N] = {"raw_data", "external data", "float_data", "int32_data",
                                            "string_data", "int64_data", "double_data", "uint64_data"};

/* which field a typed source may hold: a bit per DType */
static bool src_allows(int src, DType t) {
  switch (src) {
  case SRC_FLOAT: return t == DT_FLOAT;
  case SRC_INT32:
    return t == DT_INT32 || t == DT_INT16 || t == DT_INT8 || t == DT_UINT16 || t == DT_UINT8 ||
           t == DT_BOOL || t == DT_FLOAT16 || t == DT_BFLOAT16;
  case SRC_INT64: return t == DT_INT64;
  case SRC_DOUBLE: return t == DT_DOUBLE;
  case SRC_UINT64: return t == DT_UINT64 || t == DT_UINT32;
  default: return false;
  }
}

static int check_header(Fe *c, const Onnx__TensorProto *tp, const char *what, FeTensor *out) {
  int dt = tp->has_data_type ? tp->data_type : 0;
  if (dt == DT_STRING) return fe_error(c, "%s: string tensors are not supported", what);
  if (dt == DT_UNDEF) return fe_error(c, "%s: data type is undefined", what);
  if (dt < 0 || dt >= DT_COUNT) return fe_error(c, "%s: data type %d is not supported", what, dt);
  if (!dtype_supported((DType)dt))
    return fe_error(c, "%s: data type %s is not supported", what, dtype_name((DType)dt));
  if (tp->segment) return fe_error(c, "%s: segmented tensors are not supported", what);
  if (tp->n_dims > IR_MAX_RANK)
    return fe_error(c, "%s: rank %zu is more than the supported %d", what, tp->n_dims, IR_MAX_RANK);
  out->dtype = (DType)dt;
  out->rank = (int)tp->n_dims;
  for (int i = 0; i < out->rank; i++) {
    if (tp->dims[i] < 0)
      return fe_error(c, "%s: dim %d is %lld (must be >= 0)", what, i, (long long)tp->dims[i]);
    out->dims[i] = tp->dims[i];
  }
  return 0;
}

int fe_tensor_decode(Fe *c, Onnx__TensorProto *tp, const char *what, FeTensor *out) {
  memset(out, 0, sizeof *out);
  if (check_header(c, tp, what, out)) return -1;
  int64_t numel, bytes;
  char desc[200], shape[160];
  fe_dims_str(out->rank, out->dims, shape, sizeof shape);
  snprintf(desc, sizeof desc, "%s %s", dtype_name(out->dtype), shape);
  if (!ir_numel_ok(out->rank, out->dims, &numel) ||
      !ir_mul_ok(numel, (int64_t)dtype_size(out->dtype), &bytes) || (uint64_t)bytes > SIZE_MAX)
    return fe_error(c, "%s: size of %s overflows", what, desc);
  if (bytes > c->max_bytes - c->data_bytes)
    return fe_error(c, "%s: tensor data (%lld bytes for %s) exceeds the limit of %lld bytes in total",
                    what, (long long)bytes, desc, (long long)c->max_bytes);

  /* large raw_data stay in the file's buffer (read.c's skeleton): same checks, one copy */
  const uint8_t *raw = tp->raw_data.data;
  size_t raw_len = tp->raw_data.len;
  bool has_raw = tp->has_raw_data, ref = fe_raw_ref(c, &tp->base, &raw, &raw_len);
  if (ref && has_raw) return fe_error(c, "%s: raw_data is given twice", what); /* the skeleton keeps a lone one only */
  has_raw |= ref;
  bool external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  size_t counts[SRC_N] = {has_raw ? 1 : 0, external ? 1 : 0, tp->n_float_data, tp->n_int32_data,
                          tp->n_string_data, tp->n_int64_data, tp->n_double_data, tp->n_uint64_data};
  int src = -1;
  for (int s = 0; s < SRC_N; s++) {
    if (!counts[s]) continue;
    if (src >= 0)
      return fe_error(c, "%s: conflicting data fields %s and %s", what, src_names[src], src_names[s]);
    src = s;
  }
  if (!external && tp->n_external_data)
    return fe_error(c, "%s: external_data is given but data_location is not EXTERNAL", what);
  if (src < 0 && numel > 0)
    return fe_error(c, "%s: has no data (expected %lld values for %s)", what, (long long)numel, desc);
  if (src == SRC_STRING) return fe_error(c, "%s: string_data is set (string tensors are not supported)", what);
  if (src >= SRC_FLOAT && !src_allows(src, out->dtype))
    return fe_error(c, "%s: %s cannot hold %s data", what, src_names[src], dtype_name(out->dtype));
  if (src == SRC_RAW && raw_len != (size_t)bytes)
    return fe_error(c, "%s: raw_data has %zu bytes, expected %lld (%s)", what, raw_len,
                    (long long)bytes, desc);
  if (src >= SRC_FLOAT && counts[src] != (size_t)numel)
    return fe_error(c, "%s: %s has %zu values, expected %lld (%s)", what, src_names[src], counts[src],
                    (long long)numel, desc);

  void *d = data_alloc(c, (size_t)bytes, what, src == SRC_RAW, ref);
  if (!d) return -1;
  int rc = 0;
  switch (src) {
  case SRC_RAW: /* memcpy: raw_data has no alignment guarantee */
    if (ref && c->defer && bytes) rc = defer_copy(c, d, raw, (size_t)bytes);
    else if (bytes) memcpy(d, raw, (size_t)bytes);
    /* the copy now lives in d: release protobuf-c's to keep the peak near one copy of the weights */
    if (!ref) c->pb_alloc.free(c->pb_alloc.allocator_data, tp->raw_data.data);
    tp->raw_data.data = NULL;
    tp->raw_data.len = 0;
    break;
  case SRC_EXTERNAL: rc = read_external(c, tp, what, d, (size_t)bytes, desc); break;
  case SRC_FLOAT: memcpy(d, tp->float_data, (size_t)bytes); break;
  case SRC_INT64: memcpy(d, tp->int64_data, (size_t)bytes); break;
  case SRC_DOUBLE: memcpy(d, tp->double_data, (size_t)bytes); break;
  case SRC_INT32: rc = from_int32(c, what, out->dtype, tp->int32_data, numel, d); break;
  case SRC_UINT64: rc = from_uint64(c, what, out->dtype, tp->uint64_data, numel, d); break;
  default: break; /* empty tensor */
  }
  if (rc) {
    if (!c->arena) free(d);
    return -1;
  }
  c->data_bytes += bytes;
  out->data = d;
  out->bytes = (size_t)bytes;
  return 0;
}

/* ---- bare TensorProto files ---- */
int fe_read_tensor_pb(const char *path, Tensor *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  char dir[4096];
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  Fe c;
  fe_init(&c, path, dir, 0, err, errlen);
  uint8_t *buf;
  size_t len;
  if (fe_read_file(&c, path, &buf, &len)) return -1;
  Onnx__TensorProto *tp = (Onnx__TensorProto *)fe_unpack(&c, &onnx__tensor_proto__descriptor, buf, len);
  if (!tp) {
    fe_release_file(&c, buf, len);
    return -1;
  }
  char what[300];
  snprintf(what, sizeof what, "tensor '%.200s'", tp->name ? tp->name : "");
  FeTensor t;
  int rc = fe_tensor_decode(&c, tp, what, &t);
  if (rc == 0) {
    snprintf(out->name, sizeof out->name, "%s", tp->name ? tp->name : "");
    out->dtype = t.dtype;
    out->rank = t.rank;
    memcpy(out->dims, t.dims, sizeof out->dims);
    out->data = t.data;
    out->bytes = t.bytes;
  }
  onnx__tensor_proto__free_unpacked(tp, &c.pb_alloc);
  fe_release_file(&c, buf, len); /* after decoding: its raw_data may have stayed in buf */
  return rc;
}
