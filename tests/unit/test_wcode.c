/* test_wcode.c — the weight coder (backend/drive/wencode.c) and decoder (runtime/wdecode.c):
 * every form round-trips exactly, the form fits the piece, and a damaged or cut stream is refused
 * (never read or written out of bounds: the ASan build runs this too). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "aot.h"
#include "kb_impl.h"
#include "onnxc_rt.h"

static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
  rng_state = rng_state * 1664525u + 1013904223u;
  return rng_state >> 8;
}

/* a blob of four pieces: clustered fp32 (16 values, half zeros), int8 bytes, plain fp32, and 6
 * odd bytes; returns the coding */
static WeightBlob make_blob(void) {
  WeightBlob w = {.record = true};
  float code[16], *a = malloc(sizeof(float) * 4096), *c = malloc(sizeof(float) * 20000);
  signed char b[3000];
  unsigned char odd[6] = {1, 2, 3, 4, 5, 6};
  for (int i = 0; i < 16; i++) code[i] = i ? (float)(i - 8) * 0.01f : 0.0f;
  for (int i = 0; i < 4096; i++) a[i] = rnd() % 2 ? 0.0f : code[rnd() % 16];
  for (int i = 0; i < 3000; i++) b[i] = (signed char)((int)(rnd() % 17) - 8);
  for (int i = 0; i < 20000; i++) c[i] = (float)(rnd() % 100000) * 1e-5f - 0.5f;
  blob_add(&w, a, sizeof(float) * 4096);
  blob_add(&w, b, sizeof b);
  blob_add(&w, c, sizeof(float) * 20000);
  blob_add(&w, odd, sizeof odd);
  free(a);
  free(c);
  return w;
}

Test(wcode, round_trip_every_form) {
  WeightBlob w = make_blob();
  unsigned char *z;
  size_t n;
  BeWeightCoding st;
  cr_assert_eq(be_weights_encode(&w, &z, &n, &st), 0);
  cr_expect_eq(st.pieces[1], 1, "clustered fp32 as an alphabet");
  cr_expect_eq(st.pieces[2], 1, "int8 as bytes");
  cr_expect_eq(st.pieces[3], 1, "plain fp32 as byte planes");
  cr_expect_eq(st.pieces[0], 1, "6 bytes as they are");
  cr_expect_lt(st.coded[1], 4096 * 4 / 6, "16 values, half zeros: under 6 bits a weight (%zu bytes)", st.coded[1]);
  cr_expect_lt(n, w.size);
  unsigned char *d = malloc(w.size);
  cr_assert_eq(onnxc_weights_decode(z, n, d, w.size), 0);
  cr_expect(!memcmp(d, w.data, w.size), "decoded bytes equal the blob (alignment gaps zero)");
  /* the estimate (info) is close to the coded size */
  BeWeightCoding est;
  be_weights_encode(&w, NULL, NULL, &est);
  cr_expect(est.coded_bytes <= n + 64 && est.coded_bytes + 64 >= n, "estimate %zu vs %zu", est.coded_bytes, n);
  free(d);
  free(z);
  free(w.data);
  free(w.piece);
}

Test(wcode, damaged_streams_are_refused) {
  WeightBlob w = make_blob();
  unsigned char *z;
  size_t n;
  BeWeightCoding st;
  be_weights_encode(&w, &z, &n, &st);
  unsigned char *d = malloc(w.size);
  cr_expect_neq(onnxc_weights_decode(z, n, d, w.size + 1), 0, "wrong decoded size");
  for (size_t cut = 0; cut < n; cut += 1 + cut / 7) {
    unsigned char *t = malloc(cut ? cut : 1); /* exactly cut bytes: ASan sees any read past them */
    memcpy(t, z, cut);
    cr_expect_neq(onnxc_weights_decode(t, cut, d, w.size), 0, "cut to %zu of %zu bytes", cut, n);
    free(t);
  }
  /* flipped bytes: refused, or decoded to something (rANS has no checksum; the file's hash
   * catches damage on disk) -- but never out of bounds */
  for (size_t i = 0; i < n; i += 1 + i / 5) {
    z[i] ^= 0x5a;
    (void)onnxc_weights_decode(z, n, d, w.size);
    z[i] ^= 0x5a;
  }
  cr_expect_eq(onnxc_weights_decode(z, n, d, w.size), 0);
  free(d);
  free(z);
  free(w.data);
  free(w.piece);
}
