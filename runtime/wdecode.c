/* wdecode.c — entropy-coded weights (`onnxc compile --compress-weights`), decoded once at create.
 *
 * The stored form (written by backend/drive/wencode.c; every integer little-endian):
 *   "OXW1"  u32 pieces  u64 raw bytes
 *   per piece: u64 offset  u64 bytes  u32 kind  u32 payload bytes  payload
 * where a piece is one weight of the blob (a packed panel, a table) and kind is
 *   RAW    the bytes as they are
 *   WORDS  u32 n, n u32 values (n <= 256: the piece's distinct 4-byte words: a clustered or
 *          pruned layer has <= 16 + zero), then one rANS stream of bytes/4 indices into them
 *   BYTES  one rANS stream of the bytes (alphabet 256)
 *   PLANES four rANS streams of bytes/4 symbols: byte k of every 4-byte word (fp32 with many
 *          distinct values: the exponent bytes code well, the low mantissa bytes hardly)
 * A rANS stream: u16 n, n u16 frequencies summing to 2^14, u32 length, then the coded bytes
 * (32-bit state, byte-wise renormalization: Duda's range variant of ANS). Pieces come in
 * increasing offsets; the blob's bytes between them (alignment) are zero.
 *
 * Everything read is bounds-checked: a damaged stream is an error, never a read or write
 * outside the buffers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnxc_rt.h"

#define WD_SCALE 14
#define WD_M (1u << WD_SCALE)
#define WD_L (1u << 23)

enum { WD_RAW = 0, WD_WORDS = 1, WD_BYTES = 2, WD_PLANES = 3 };

typedef struct Rd {
  const unsigned char *p, *end;
} Rd;

static int rd_bytes(Rd *r, size_t n, const unsigned char **out) {
  if ((size_t)(r->end - r->p) < n) return -1;
  *out = r->p;
  r->p += n;
  return 0;
}

static int rd_u16(Rd *r, uint32_t *v) {
  const unsigned char *b;
  if (rd_bytes(r, 2, &b)) return -1;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8;
  return 0;
}

static int rd_u32(Rd *r, uint32_t *v) {
  const unsigned char *b;
  if (rd_bytes(r, 4, &b)) return -1;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return 0;
}

static int rd_u64(Rd *r, uint64_t *v) {
  uint32_t lo, hi;
  if (rd_u32(r, &lo) || rd_u32(r, &hi)) return -1;
  *v = (uint64_t)hi << 32 | lo;
  return 0;
}

/* one stream's model: frequency, start and the slot -> symbol table */
typedef struct Model {
  uint32_t nsym;
  uint16_t freq[256], start[256];
  unsigned char sym[WD_M];
} Model;

static int read_model(Rd *r, Model *m) {
  if (rd_u16(r, &m->nsym) || m->nsym < 1 || m->nsym > 256) return -1;
  uint32_t cum = 0;
  for (uint32_t s = 0; s < m->nsym; s++) {
    uint32_t f;
    if (rd_u16(r, &f) || f > WD_M - cum) return -1;
    m->freq[s] = (uint16_t)f, m->start[s] = (uint16_t)cum;
    memset(m->sym + cum, (int)s, f);
    cum += f;
  }
  return cum == WD_M ? 0 : -1;
}

/* n symbols of one stream, symbol i to out[i * stride] (a byte) */
static int decode_stream(Rd *r, Model *m, size_t n, unsigned char *out, size_t stride) {
  if (read_model(r, m)) return -1;
  uint32_t len;
  const unsigned char *p, *end;
  if (rd_u32(r, &len) || len < 4 || rd_bytes(r, len, &p)) return -1;
  end = p + len;
  uint32_t x = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  p += 4;
  for (size_t i = 0; i < n; i++) {
    uint32_t slot = x & (WD_M - 1);
    unsigned s = m->sym[slot];
    out[i * stride] = (unsigned char)s;
    x = m->freq[s] * (x >> WD_SCALE) + slot - m->start[s];
    while (x < WD_L) {
      if (p == end) return -1;
      x = x << 8 | *p++;
    }
  }
  return 0;
}

static int decode_piece(Rd *r, uint32_t kind, unsigned char *dst, size_t bytes, Model *m) {
  const unsigned char *b;
  switch (kind) {
  case WD_RAW:
    if (rd_bytes(r, bytes, &b)) return -1;
    memcpy(dst, b, bytes);
    return 0;
  case WD_BYTES: return decode_stream(r, m, bytes, dst, 1);
  case WD_PLANES:
    if (bytes % 4) return -1;
    for (int k = 0; k < 4; k++)
      if (decode_stream(r, m, bytes / 4, dst + k, 4)) return -1;
    return 0;
  case WD_WORDS: {
    uint32_t n, vals[256];
    if (bytes % 4 || rd_u32(r, &n) || n < 1 || n > 256) return -1;
    for (uint32_t i = 0; i < n; i++)
      if (rd_bytes(r, 4, &b)) return -1;
      else memcpy(&vals[i], b, 4);
    /* the indices go to the piece's last quarter, then expand front to back (never overtaking) */
    size_t cnt = bytes / 4;
    unsigned char *idx = dst + 3 * cnt;
    if (decode_stream(r, m, cnt, idx, 1) || m->nsym > n) return -1;
    for (size_t i = 0; i < cnt; i++) memcpy(dst + 4 * i, &vals[idx[i]], 4);
    return 0;
  }
  default: return -1;
  }
}

int onnxc_weights_decode(const void *src, size_t src_bytes, void *dst, size_t dst_bytes) {
  Rd r = {src, (const unsigned char *)src + src_bytes};
  const unsigned char *magic;
  uint32_t npieces;
  uint64_t raw;
  if (rd_bytes(&r, 4, &magic) || memcmp(magic, "OXW1", 4) || rd_u32(&r, &npieces) || rd_u64(&r, &raw) ||
      raw != dst_bytes)
    return -1;
  Model *m = malloc(sizeof *m);
  if (!m) return -2;
  int rc = 0;
  uint64_t end = 0; /* pieces come in increasing offsets: only the gaps between them are zeroed */
  for (uint32_t i = 0; i < npieces && !rc; i++) {
    uint64_t off, bytes;
    uint32_t kind, plen;
    const unsigned char *payload;
    if (rd_u64(&r, &off) || rd_u64(&r, &bytes) || rd_u32(&r, &kind) || rd_u32(&r, &plen) || off > dst_bytes ||
        bytes > dst_bytes - off || off < end || rd_bytes(&r, plen, &payload)) {
      rc = -1;
      break;
    }
    memset((unsigned char *)dst + end, 0, (size_t)(off - end));
    Rd pr = {payload, payload + plen};
    rc = decode_piece(&pr, kind, (unsigned char *)dst + off, (size_t)bytes, m);
    end = off + bytes;
  }
  if (!rc) memset((unsigned char *)dst + end, 0, (size_t)(dst_bytes - end));
  free(m);
  return rc;
}
