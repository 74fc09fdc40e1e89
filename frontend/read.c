/* read.c — reading files whole, and the wire-format pre-scan that runs before protobuf-c.
 *
 * protobuf-c's unpack recurses once per nested message and has no depth limit, so a small hostile
 * file could overflow the stack.  wire_scan walks the bytes first, guided by the message
 * descriptors, and refuses anything nested deeper than FE_MAX_PROTO_DEPTH or structurally broken
 * (bad varints, lengths past the end, group wire types).  protobuf-c's allocations are counted
 * against max_bytes, so a packed field cannot blow up memory either. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fe_int.h"

static void *pb_alloc(void *data, size_t size) {
  Fe *c = data;
  void *p = size <= (uint64_t)(c->max_bytes - c->pb_used) ? malloc(size ? size : 1) : NULL;
  if (p) c->pb_used += (int64_t)size;
  else c->pb_refused = true;
  return p;
}

static void pb_free(void *data, void *p) {
  (void)data;
  free(p);
}

void fe_init(Fe *c, const char *file, const char *dir, int64_t max_bytes, char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  c->file = file;
  c->dir = dir;
  c->max_bytes = max_bytes > 0 ? max_bytes : FE_DEFAULT_MAX_BYTES;
  c->err = err;
  c->errlen = errlen;
  if (err && errlen) err[0] = 0;
  c->pb_alloc = (ProtobufCAllocator){pb_alloc, pb_free, c};
}

/* Keeps the first error; later ones are usually consequences. Control characters from names in the
 * file are escaped (C-style) so the message stays one line. */
int fe_error(Fe *c, const char *fmt, ...) {
  if (c->failed) return -1;
  c->failed = true;
  if (!c->err || !c->errlen) return -1;
  int n = snprintf(c->err, c->errlen, "%s: ", c->file);
  if (n >= 0 && (size_t)n < c->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
  }
  ir_msg_escape(c->err, c->errlen);
  return -1;
}

const char *fe_unreadable_mode(unsigned mode) {
  if (S_ISDIR(mode)) return "is a directory, not a file";
  /* a device such as /dev/zero would stream forever */
  if (!S_ISREG(mode) && !S_ISFIFO(mode)) return "not a regular file or a pipe";
  return NULL;
}

int fe_read_file(Fe *c, const char *path, uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return fe_error(c, "cannot open: %s", strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    fclose(f);
    return fe_error(c, "cannot stat: %s", strerror(errno));
  }
  const char *why = fe_unreadable_mode(st.st_mode);
  if (why) {
    fclose(f);
    return fe_error(c, "%s", why);
  }
  if (S_ISREG(st.st_mode) && st.st_size > c->max_bytes) {
    fclose(f);
    return fe_error(c, "file has %lld bytes, more than the limit of %lld", (long long)st.st_size,
                    (long long)c->max_bytes);
  }
  /* regular files are read in one go; pipes grow the buffer until EOF or the limit, which for a
   * pipe is also at most FE_MAX_STREAM_BYTES (a protobuf message cannot exceed 2 GiB; bigger
   * models keep their weights in external data files) */
  int64_t limit = c->max_bytes;
  if (!S_ISREG(st.st_mode) && limit > FE_MAX_STREAM_BYTES) limit = FE_MAX_STREAM_BYTES;
  size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 1 << 16, n = 0;
  uint8_t *p = malloc(cap);
  while (p) {
    n += fread(p + n, 1, cap - n, f);
    if (n < cap || ferror(f) || (int64_t)n > limit) break;
    size_t grow = cap * 2;
    if ((int64_t)grow > limit + 1) grow = (size_t)limit + 1; /* one byte past the limit tells */
    uint8_t *q = realloc(p, grow);
    if (!q) free(p);
    p = q;
    cap = grow;
  }
  if (!p) {
    fclose(f);
    return fe_error(c, "out of memory reading the file");
  }
  if (ferror(f)) {
    int e = errno;
    free(p);
    fclose(f);
    return fe_error(c, "read error: %s", strerror(e));
  }
  fclose(f);
  if ((int64_t)n > limit) {
    free(p);
    return fe_error(c, "file is larger than the limit of %lld bytes", (long long)limit);
  }
  if (n == 0) {
    free(p);
    return fe_error(c, "empty file");
  }
  *buf = p;
  *len = n;
  return 0;
}

/* ---- wire format ---- */
static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return false;
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

/* protobuf-c ends a string field at its first NUL byte, so "w\0/../x" would be read as "w" (an
 * external data location, a name): such strings are refused, not cut */
static bool string_has_nul(const ProtobufCFieldDescriptor *f, const uint8_t *p, uint64_t len) {
  return f && f->type == PROTOBUF_C_TYPE_STRING && len && memchr(p, 0, (size_t)len);
}

/* 0 ok; 1 malformed (at *bad); 2 too deep; 3 subgraphs too deep; 4 a string with a NUL (at *bad).  graphs counts the GraphProto
   messages on the path (the main graph is the first), so a model whose If/Loop/Scan bodies nest
   past IR_MAX_DEPTH is refused here, before protobuf-c unpacks every one of its subgraphs. */
static int wire_scan(const uint8_t *start, const uint8_t *p, const uint8_t *end,
                     const ProtobufCMessageDescriptor *d, int depth, int graphs, size_t *bad) {
  if (depth > FE_MAX_PROTO_DEPTH) return 2;
  if (d == &onnx__graph_proto__descriptor && ++graphs > IR_MAX_DEPTH + 1) return 3;
  while (p < end) {
    const uint8_t *at = p;
    uint64_t key, len, skip;
    if (!varint(&p, end, &key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) goto malformed;
    switch (key & 7) {
    case 0:
      if (!varint(&p, end, &skip)) goto malformed;
      break;
    case 1:
    case 5:
      skip = (key & 7) == 1 ? 8 : 4;
      if ((uint64_t)(end - p) < skip) goto malformed;
      p += skip;
      break;
    case 2: {
      if (!varint(&p, end, &len) || len > (uint64_t)(end - p)) goto malformed;
      const ProtobufCFieldDescriptor *f = d ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3)) : NULL;
      if (string_has_nul(f, p, len)) {
        *bad = (size_t)(p - start);
        return 4;
      }
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        int rc = wire_scan(start, p, p + len, f->descriptor, depth + 1, graphs, bad);
        if (rc) return rc;
      }
      p += len;
      break;
    }
    default: goto malformed; /* groups (3, 4) and reserved wire types */
    }
    continue;
  malformed:
    *bad = (size_t)(at - start);
    return 1;
  }
  return 0;
}

ProtobufCMessage *fe_unpack(Fe *c, const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len) {
  if (len == 0) {
    fe_error(c, "empty file");
    return NULL;
  }
  if ((uint64_t)len > (uint64_t)c->max_bytes) {
    fe_error(c, "file has %zu bytes, more than the limit of %lld", len, (long long)c->max_bytes);
    return NULL;
  }
  size_t bad = 0;
  int rc = wire_scan(buf, buf, buf + len, d, 0, 0, &bad);
  if (rc == 1) {
    fe_error(c, "not a valid ONNX %s: protobuf is truncated or malformed at byte %zu", d->short_name, bad);
    return NULL;
  }
  if (rc == 2) {
    fe_error(c, "protobuf messages are nested more than %d levels deep (refused)", FE_MAX_PROTO_DEPTH);
    return NULL;
  }
  if (rc == 4) {
    fe_error(c, "not a valid ONNX %s: a string field holds a NUL byte (at byte %zu; refused)", d->short_name, bad);
    return NULL;
  }
  if (rc == 3) {
    fe_error(c, "subgraphs are nested more than %d levels deep (If/Loop/Scan bodies; refused)", IR_MAX_DEPTH);
    return NULL;
  }
  c->pb_used = 0;
  c->pb_refused = false;
  ProtobufCMessage *m = protobuf_c_message_unpack(d, &c->pb_alloc, len, buf);
  if (!m) {
    if (c->pb_refused)
      fe_error(c, "decoding needs more memory than the limit of %lld bytes", (long long)c->max_bytes);
    else
      fe_error(c, "not a valid ONNX %s (protobuf decoding failed)", d->short_name);
  }
  return m;
}
