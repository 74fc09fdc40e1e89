/* wencode.c — the weight blob entropy-coded piece by piece (`onnxc compile --compress-weights`);
 * runtime/wdecode.c decodes it once in NAME_create and describes the format.
 *
 * Each piece (one kb_weight: a packed panel, a bias, a table) is coded in the smallest of four
 * forms, chosen from its symbol counts before coding: its bytes as they are; WORDS, an alphabet of
 * its distinct 4-byte words when there are at most 256 (a layer clustered to 16 values, pruned
 * zeros and the packing's zero padding: ~2-4 bits per weight instead of 32); BYTES, its bytes
 * over 256 symbols (int8 weights); PLANES, byte k of every word as four streams (plain fp32).
 * The coder is rANS (32-bit state, 14-bit frequencies): within ~0.1% of the order-0 entropy, where
 * Huffman spends up to a bit more per symbol when one symbol (the pruned zero) is half of them;
 * the statistics report what Huffman codes would have taken (BeWeightCoding.huffman_bytes). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aot.h"
#include "kb_impl.h"

#define WE_SCALE 14
#define WE_M (1u << WE_SCALE)
#define WE_L (1u << 23)

enum { WE_RAW = 0, WE_WORDS = 1, WE_BYTES = 2, WE_PLANES = 3 };

typedef struct Buf {
  unsigned char *p;
  size_t n, cap;
} Buf;

static void put(Buf *b, const void *data, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + n) cap *= 2;
    b->p = ir_xrealloc(b->p, cap);
    b->cap = cap;
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
}

static void put_le(Buf *b, uint64_t v, int bytes) {
  unsigned char t[8];
  for (int i = 0; i < bytes; i++) t[i] = (unsigned char)(v >> (8 * i));
  put(b, t, (size_t)bytes);
}

/* one stream's symbol counts and its normalized frequencies (sum 2^14, >= 1 for a present symbol) */
typedef struct Hist {
  uint64_t cnt[256];
  uint32_t freq[256], start[256];
  int nsym; /* highest present symbol + 1 */
} Hist;

static void hist_count(Hist *h, const unsigned char *s, size_t n, size_t stride) {
  memset(h, 0, sizeof *h);
  for (size_t i = 0; i < n; i++) h->cnt[s[i * stride]]++;
}

static void hist_normalize(Hist *h) {
  uint64_t total = 0;
  h->nsym = 1;
  for (int s = 0; s < 256; s++)
    if (h->cnt[s]) total += h->cnt[s], h->nsym = s + 1;
  uint32_t sum = 0;
  int big = 0;
  for (int s = 0; s < h->nsym; s++) {
    uint32_t f = h->cnt[s] ? (uint32_t)(h->cnt[s] * WE_M / (total ? total : 1)) : 0;
    if (h->cnt[s] && !f) f = 1;
    h->freq[s] = f;
    sum += f;
    if (f > h->freq[big]) big = s;
  }
  if (!total) h->freq[0] = WE_M, sum = WE_M; /* no symbols: any valid model */
  while (sum > WE_M) { /* the symbols raised to 1 overshot: take it from the largest */
    int b = 0;
    for (int s = 1; s < h->nsym; s++)
      if (h->freq[s] > h->freq[b]) b = s;
    uint32_t take = sum - WE_M < h->freq[b] - 1 ? sum - WE_M : h->freq[b] - 1;
    h->freq[b] -= take;
    sum -= take;
  }
  h->freq[big] += WE_M - sum;
  for (int s = 0, c = 0; s < h->nsym; c += (int)h->freq[s], s++) h->start[s] = (uint32_t)c;
}

/* bytes the stream will take (model + coded bits + the final state) */
static double hist_cost(const Hist *h) {
  double bits = 0;
  for (int s = 0; s < h->nsym; s++)
    if (h->cnt[s]) bits += (double)h->cnt[s] * (WE_SCALE - log2((double)h->freq[s]));
  return 2 + 2.0 * h->nsym + 4 + 4 + bits / 8;
}

/* what a Huffman code would take: the sum of the weights of the merged nodes (k <= 256) */
static double huffman_bytes(const Hist *h) {
  uint64_t w[256];
  int k = 0;
  for (int s = 0; s < 256; s++)
    if (h->cnt[s]) w[k++] = h->cnt[s];
  if (k == 1) return (double)w[0] / 8;
  double bits = 0;
  while (k > 1) {
    int a = 0, b = 1;
    if (w[b] < w[a]) a = 1, b = 0;
    for (int i = 2; i < k; i++)
      if (w[i] < w[a]) b = a, a = i;
      else if (w[i] < w[b]) b = i;
    w[a] += w[b];
    bits += (double)w[a];
    w[b] = w[--k];
  }
  return bits / 8;
}

/* the model, then the rANS stream of n symbols s[i * stride] (coded last to first, so that the
 * decoder reads them first to last) */
static void encode_stream(Buf *b, const Hist *h, const unsigned char *s, size_t n, size_t stride) {
  put_le(b, (uint64_t)h->nsym, 2);
  for (int i = 0; i < h->nsym; i++) put_le(b, h->freq[i], 2);
  size_t cap = 2 * n + 8;
  unsigned char *tmp = ir_xmalloc(cap), *p = tmp + cap;
  uint32_t x = WE_L;
  for (size_t i = n; i-- > 0;) {
    unsigned sym = s[i * stride];
    uint32_t f = h->freq[sym];
    uint32_t x_max = ((WE_L >> WE_SCALE) << 8) * f;
    while (x >= x_max) {
      *--p = (unsigned char)x;
      x >>= 8;
    }
    x = ((x / f) << WE_SCALE) + x % f + h->start[sym];
  }
  p -= 4;
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(x >> (8 * i));
  size_t len = (size_t)(tmp + cap - p);
  put_le(b, len, 4);
  put(b, p, len);
  free(tmp);
}

/* the distinct 4-byte words of a piece into vals (at most 256) and each word's index into idx;
 * false if there are more */
static bool word_alphabet(const unsigned char *d, size_t cnt, uint32_t *vals, int *nvals, unsigned char *idx) {
  enum { CAP = 1024 };
  uint32_t key[CAP];
  int16_t slot[CAP];
  memset(slot, -1, sizeof slot);
  int n = 0;
  for (size_t i = 0; i < cnt; i++) {
    uint32_t v;
    memcpy(&v, d + 4 * i, 4);
    uint32_t j = (v * 2654435761u) >> 22; /* 10 bits */
    while (slot[j] >= 0 && key[j] != v) j = (j + 1) & (CAP - 1);
    if (slot[j] < 0) {
      if (n == 256) return false;
      key[j] = v, slot[j] = (int16_t)n, vals[n++] = v;
    }
    idx[i] = (unsigned char)slot[j];
  }
  *nvals = n;
  return true;
}

static void piece_header(Buf *out, size_t off, size_t bytes, int kind, size_t plen) {
  put_le(out, off, 8);
  put_le(out, bytes, 8);
  put_le(out, (uint64_t)kind, 4);
  put_le(out, plen, 4);
}

/* one piece in its cheapest form, appended to out */
static void encode_piece(Buf *out, const unsigned char *d, size_t off, size_t bytes, BeWeightCoding *st) {
  /* out NULL: only the sizes (estimated from the counts, within a few bytes a stream) */
  Hist h[4];
  double best = (double)bytes, huff = (double)bytes;
  int kind = WE_RAW;
  size_t cnt = bytes / 4;
  unsigned char *idx = NULL;
  uint32_t vals[256];
  int nvals = 0;
  if (bytes % 4 == 0 && cnt) {
    idx = ir_xmalloc(cnt);
    if (word_alphabet(d, cnt, vals, &nvals, idx)) {
      hist_count(&h[0], idx, cnt, 1);
      hist_normalize(&h[0]);
      double c = 4 + 4.0 * nvals + hist_cost(&h[0]);
      if (c < best) best = c, kind = WE_WORDS, huff = 4 + 4.0 * nvals + 8 + nvals + huffman_bytes(&h[0]);
    }
  }
  if (kind == WE_RAW && bytes % 4 == 0 && cnt) {
    double c = 0, hf = 0;
    for (int k = 0; k < 4; k++) {
      hist_count(&h[k], d + k, cnt, 4);
      hist_normalize(&h[k]);
      c += hist_cost(&h[k]);
      hf += 8 + h[k].nsym + huffman_bytes(&h[k]);
    }
    if (c < best) best = c, kind = WE_PLANES, huff = hf;
  }
  if (kind == WE_RAW && bytes >= 64) {
    Hist hb;
    hist_count(&hb, d, bytes, 1);
    hist_normalize(&hb);
    double c = hist_cost(&hb);
    if (c < best) best = c, kind = WE_BYTES, huff = 8 + hb.nsym + huffman_bytes(&hb), h[0] = hb;
  }
  st->pieces[kind]++;
  st->raw[kind] += bytes;
  st->huffman_bytes += (size_t)huff + 24;
  if (!out) {
    st->coded[kind] += (size_t)best + 24;
    free(idx);
    return;
  }
  Buf p = {0};
  if (kind == WE_WORDS) {
    put_le(&p, (uint64_t)nvals, 4);
    put(&p, vals, 4 * (size_t)nvals); /* the words' bytes as stored (the target is little-endian) */
    encode_stream(&p, &h[0], idx, cnt, 1);
  } else if (kind == WE_PLANES) {
    for (int k = 0; k < 4; k++) encode_stream(&p, &h[k], d + k, cnt, 4);
  } else if (kind == WE_BYTES) {
    encode_stream(&p, &h[0], d, bytes, 1);
  } else {
    put(&p, d, bytes);
  }
  free(idx);
  piece_header(out, off, bytes, kind, p.n);
  put(out, p.p, p.n);
  st->coded[kind] += p.n + 24;
  free(p.p);
}

int be_weights_encode(const WeightBlob *w, unsigned char **out, size_t *out_bytes, BeWeightCoding *st) {
  memset(st, 0, sizeof *st);
  Buf b = {0};
  put(&b, "OXW1", 4);
  put_le(&b, w->npiece, 4);
  put_le(&b, w->size, 8);
  for (size_t i = 0; i < w->npiece; i++)
    encode_piece(out ? &b : NULL, w->data + w->piece[i][0], w->piece[i][0], w->piece[i][1], st);
  st->raw_bytes = w->size;
  st->coded_bytes = b.n;
  st->huffman_bytes += 16;
  if (!out) {
    for (int k = 0; k < 4; k++) st->coded_bytes += st->coded[k];
    free(b.p);
    return 0;
  }
  *out = b.p;
  *out_bytes = b.n;
  return 0;
}

void be_aot_store_weights(WeightBlob *w, const BeAotOptions *o, BeAotResult *r) {
  r->weights_raw_bytes = w->size;
  if (o->compress_weights) {
    be_weights_encode(w, &r->weights, &r->weights_bytes, &r->coding);
    r->weights_coded = true;
    free(w->data);
  } else {
    r->weights = w->data;
    r->weights_bytes = w->size;
  }
  w->data = NULL;
}
