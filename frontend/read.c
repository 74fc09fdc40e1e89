/* read.c — reading files whole, and the wire-format pre-scan that runs before protobuf-c.
 *
 * protobuf-c's unpack recurses once per nested message and has no depth limit, so a small hostile
 * file could overflow the stack.  wire_scan walks the bytes first, guided by the message
 * descriptors, and refuses anything nested deeper than FE_MAX_PROTO_DEPTH or structurally broken
 * (bad varints, lengths past the end, group wire types).  protobuf-c's allocations are counted
 * against max_bytes, so a packed field cannot blow up memory either. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
  c->map_fd = -1;
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

/* A regular file is mapped, not read: the weights are then copied once, from the page cache into the
 * graph's arena, instead of read() into a buffer, copied by protobuf-c and copied again.  Private
 * and read-only: the file changing under the mapping cannot change what was checked, since every
 * byte is copied out (or refused) during the load, before fe_release_file unmaps it.  Not
 * populated: the skeleton's pages are faulted in as it is read, and fe_copy_deferred reads the
 * weights with pread through map_fd (mapping BERT's 437 MB cost 2-3 times its pread here). */
static int map_file(Fe *c, FILE *f, size_t size, uint8_t **buf, size_t *len) {
  void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fileno(f), 0);
  int fd = p == MAP_FAILED ? -1 : fcntl(fileno(f), F_DUPFD_CLOEXEC, 0);
  fclose(f);
  if (p == MAP_FAILED) return fe_error(c, "cannot map the file: %s", strerror(errno));
  madvise(p, size, MADV_SEQUENTIAL);
  c->mapped = true;
  c->map = p;
  c->map_len = size;
  c->map_fd = fd;
  *buf = p;
  *len = size;
  return 0;
}

void fe_release_file(Fe *c, uint8_t *buf, size_t len) {
  if (c->mapped && buf) munmap(buf, len);
  else free(buf);
  if (c->mapped && c->map_fd >= 0) close(c->map_fd);
  c->mapped = false;
  c->map = NULL;
  c->map_len = 0;
  c->map_fd = -1;
}

int fe_read_file(Fe *c, const char *path, uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  c->mapped = false;
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
  if (S_ISREG(st.st_mode) && st.st_size > 0) return map_file(c, f, (size_t)st.st_size, buf, len);
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

/* ---- the skeleton: the message without its large raw_data ----
 *
 * protobuf-c copies every bytes field it unpacks, so unpacking a 400 MB model would copy all its
 * weights once more (and fault in as many fresh pages) only for fe_tensor_decode to copy them into
 * the graph.  Instead the wire bytes are rewritten into a skeleton for protobuf-c: each
 * TensorProto's raw_data of at least FE_REF_MIN bytes becomes an FE_REF_FIELD field holding the
 * offset and length of those bytes in the original buffer (16 bytes, little-endian), which
 * fe_raw_ref resolves.  FE_REF_FIELD fields already in a file's TensorProtos are dropped while
 * rewriting, so every one protobuf-c hands back was written here.  Nested messages get a
 * five-byte length (a padded varint, which protobuf-c and wire_scan read like any other), patched
 * once their content is written.  The rewrite re-checks every length it reads, since a mapped file
 * may change after wire_scan; the skeleton is then scanned again, so protobuf-c only ever parses
 * bytes that were checked and that nobody else can change. */
#define FE_REF_MIN 4096
#define TENSOR_RAW_DATA 9 /* TensorProto.raw_data's field number */

typedef struct Out {
  uint8_t *p;
  size_t n, cap;
  bool failed;
  uint64_t ref_bytes; /* the referenced raw_data, each rounded up to 64 bytes (Fe.pool's size) */
} Out;

static void out_put(Out *o, const void *src, size_t n) {
  if (o->failed) return;
  if (o->cap - o->n < n) {
    size_t cap = o->cap ? o->cap : 1 << 16;
    while (cap - o->n < n) cap *= 2;
    uint8_t *q = realloc(o->p, cap);
    if (!q) {
      o->failed = true;
      return;
    }
    o->p = q;
    o->cap = cap;
  }
  memcpy(o->p + o->n, src, n);
  o->n += n;
}

static void out_varint(Out *o, uint64_t v) {
  uint8_t b[10];
  int n = 0;
  do {
    b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  out_put(o, b, (size_t)n);
}

/* the number of raw_data fields of one TensorProto (the last one counts in protobuf, so only a
 * lone one is referenced); -1 if malformed */
static int raw_data_fields(const uint8_t *p, const uint8_t *end) {
  int n = 0;
  while (p < end) {
    uint64_t key, v;
    if (!varint(&p, end, &key)) return -1;
    switch (key & 7) {
    case 0: if (!varint(&p, end, &v)) return -1; break;
    case 1: case 5: v = (key & 7) == 1 ? 8 : 4; if ((uint64_t)(end - p) < v) return -1; p += v; break;
    case 2:
      if (!varint(&p, end, &v) || v > (uint64_t)(end - p)) return -1;
      p += v;
      n += (key >> 3) == TENSOR_RAW_DATA;
      break;
    default: return -1;
    }
  }
  return n;
}

/* rewrites the fields in [p, end) of a message of type d; false if malformed or too deep */
static bool skel_msg(Out *o, const uint8_t *start, const uint8_t *p, const uint8_t *end,
                     const ProtobufCMessageDescriptor *d, int depth) {
  if (depth > FE_MAX_PROTO_DEPTH) return false;
  bool tensor = d == &onnx__tensor_proto__descriptor;
  bool ref_raw = tensor && raw_data_fields(p, end) == 1;
  while (p < end && !o->failed) {
    const uint8_t *at = p;
    uint64_t key, len;
    if (!varint(&p, end, &key)) return false;
    unsigned field = (unsigned)(key >> 3);
    if ((key & 7) != 2) { /* scalars: copied as they are (wire_scan checked their shape) */
      uint64_t v;
      if ((key & 7) == 0 && !varint(&p, end, &v)) return false;
      if ((key & 7) == 1 || (key & 7) == 5) {
        v = (key & 7) == 1 ? 8 : 4;
        if ((uint64_t)(end - p) < v) return false;
        p += v;
      }
      if ((key & 7) != 0 && (key & 7) != 1 && (key & 7) != 5) return false;
      if (!(tensor && field == FE_REF_FIELD)) out_put(o, at, (size_t)(p - at));
      continue;
    }
    if (!varint(&p, end, &len) || len > (uint64_t)(end - p)) return false;
    const uint8_t *body = p;
    p += len;
    if (tensor && field == FE_REF_FIELD) continue; /* the file's own: dropped */
    if (ref_raw && field == TENSOR_RAW_DATA && len >= FE_REF_MIN) {
      uint8_t ref[16];
      uint64_t off = (uint64_t)(body - start);
      for (int i = 0; i < 8; i++) ref[i] = (uint8_t)(off >> (8 * i)), ref[8 + i] = (uint8_t)(len >> (8 * i));
      out_varint(o, (uint64_t)FE_REF_FIELD << 3 | 2);
      out_varint(o, sizeof ref);
      out_put(o, ref, sizeof ref);
      o->ref_bytes += (len + 63) & ~(uint64_t)63;
      continue;
    }
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, field);
    if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE) {
      out_put(o, at, (size_t)(p - at));
      continue;
    }
    out_varint(o, key);
    uint8_t pad[5] = {0x80, 0x80, 0x80, 0x80, 0};
    size_t lenat = o->n;
    out_put(o, pad, sizeof pad);
    if (!skel_msg(o, start, body, p, f->descriptor, depth + 1)) return false;
    if (o->failed) return false;
    uint64_t n = o->n - lenat - sizeof pad;
    if (n >> 35) return false; /* beyond five varint bytes: cannot happen below the size limits */
    for (int i = 0; i < 5; i++) o->p[lenat + (size_t)i] = (uint8_t)(((n >> (7 * i)) & 0x7f) | (i < 4 ? 0x80 : 0));
  }
  return !o->failed && p == end;
}

bool fe_raw_ref(const Fe *c, const ProtobufCMessage *m, const uint8_t **data, size_t *len) {
  if (!c->wire) return false; /* no skeleton: no reference was written, none is honoured */
  for (unsigned i = 0; i < m->n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &m->unknown_fields[i];
    if (u->tag != FE_REF_FIELD || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) continue;
    /* protobuf-c keeps a length-prefixed unknown field with its length byte */
    const uint8_t *r = u->len == 17 && u->data[0] == 16 ? u->data + 1 : u->len == 16 ? u->data : NULL;
    if (!r) return false;
    uint64_t off = 0, n = 0;
    for (int k = 0; k < 8; k++) off |= (uint64_t)r[k] << (8 * k), n |= (uint64_t)r[8 + k] << (8 * k);
    if (off > c->wire_len || n > c->wire_len - off) return false; /* not ours: cannot happen */
    *data = c->wire + off;
    *len = (size_t)n;
    return true;
  }
  return false;
}

static int scan_error(Fe *c, const ProtobufCMessageDescriptor *d, int rc, size_t bad) {
  if (rc == 1)
    return fe_error(c, "not a valid ONNX %s: protobuf is truncated or malformed at byte %zu", d->short_name, bad);
  if (rc == 2)
    return fe_error(c, "protobuf messages are nested more than %d levels deep (refused)", FE_MAX_PROTO_DEPTH);
  if (rc == 4)
    return fe_error(c, "not a valid ONNX %s: a string field holds a NUL byte (at byte %zu; refused)", d->short_name, bad);
  return fe_error(c, "subgraphs are nested more than %d levels deep (If/Loop/Scan bodies; refused)", IR_MAX_DEPTH);
}

ProtobufCMessage *fe_unpack(Fe *c, const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len) {
  c->wire = NULL;
  c->wire_len = 0;
  c->ref_bytes = 0;
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
  if (rc) {
    scan_error(c, d, rc, bad);
    return NULL;
  }
  /* small messages hold no weights worth the rewrite */
  Out o = {0};
  const uint8_t *wire = buf;
  size_t wire_len = len;
  if (len >= 4 * FE_REF_MIN) {
    if (!skel_msg(&o, buf, buf, buf + len, d, 0)) {
      free(o.p);
      fe_error(c, o.failed ? "out of memory reading the file" : "the file changed while it was read");
      return NULL;
    }
    if ((rc = wire_scan(o.p, o.p, o.p + o.n, d, 0, 0, &bad))) {
      free(o.p);
      scan_error(c, d, rc, bad);
      return NULL;
    }
    c->wire = buf;
    c->wire_len = len;
    c->ref_bytes = o.ref_bytes;
    wire = o.p;
    wire_len = o.n;
  }
  /* what protobuf-c reads is everything but the referenced raw_data, which fe_copy_deferred hashes
   * into the digest as it copies them: the weights are read once, for both */
  if (c->digest || c->pool_cache) {
    uint64_t h[2] = {ir_hash64(wire, wire_len, 7) | 1, c->ref_bytes};
    if (c->digest) *c->digest = h[0];
    c->pool_id = ir_hash64(h, sizeof h, 29); /* the pool's bytes are compared on use: this only names it */
  }
  c->pb_used = 0;
  c->pb_refused = false;
  ProtobufCMessage *m = protobuf_c_message_unpack(d, &c->pb_alloc, wire_len, wire);
  free(o.p);
  if (!m) {
    c->wire = NULL;
    if (c->pb_refused)
      fe_error(c, "decoding needs more memory than the limit of %lld bytes", (long long)c->max_bytes);
    else
      fe_error(c, "not a valid ONNX %s (protobuf decoding failed)", d->short_name);
  }
  return m;
}
