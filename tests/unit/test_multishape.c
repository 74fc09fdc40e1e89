/* test_multishape.c — multi-shape libraries below the compiler: the runtime's choice of a
 * variant over a hand-written descriptor of two shapes (runtime/model.c), and the weight blob's
 * sharing of identical pieces (backend/drive/blob_share.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kb_impl.h"
#include "onnxc_rt.h"

/* y[i] = x[i] + c, c = 1 for the long variant and 2 for the short one (tells them apart) */
static int32_t add_kernel(void *const *bufs, const char *weights, char *scratch, int64_t begin, int64_t end) {
  (void)weights;
  const float *x = bufs[0];
  float *y = bufs[1], c = *(const float *)scratch;
  for (int64_t i = begin; i < end; i++) y[i] = x[i] + c;
  return 0;
}

/* each graph writes its constant into the scratch, which must hold the larger variant's 64 bytes */
static int32_t graph_long(void *rtp, void *const *io) {
  onnxc_rt *rt = rtp;
  memset(rt->scratch + 4, 0, 60);
  *(float *)rt->scratch = 1;
  memset(rt->arena, 1, 6000); /* the arena is the largest variant's */
  return add_kernel(io, rt->weights, rt->scratch, 0, 1000);
}
static int32_t graph_short(void *rtp, void *const *io) {
  onnxc_rt *rt = rtp;
  *(float *)rt->scratch = 2;
  return add_kernel(io, rt->weights, rt->scratch, 0, 500);
}

static const int64_t d1000[] = {1000}, d500[] = {500};
static const onnxc_tensor_info in_long[] = {{"x", ONNXC_DT_FLOAT, 1, d1000, 1000, 4000}},
                               out_long[] = {{"y", ONNXC_DT_FLOAT, 1, d1000, 1000, 4000}},
                               in_short[] = {{"x", ONNXC_DT_FLOAT, 1, d500, 500, 2000}},
                               out_short[] = {{"y", ONNXC_DT_FLOAT, 1, d500, 500, 2000}};
static const char *const nodes[] = {"Add 'plus'"};
static const onnxc_model_variant variants[] = {
    {"n=1000", in_long, out_long, graph_long, 6000, 64, 1, nodes},
    {"n=500", in_short, out_short, graph_short, 100, 8, 1, nodes},
};
static const char W[64];
static const onnxc_model_info info = {
    ONNXC_ABI_VERSION, "two", "native", 1, 1, in_long, out_long, NULL, onnxc_model_run, onnxc_model_error,
    onnxc_model_destroy, onnxc_model_run_tensors, graph_long, W, sizeof W, 0, 100, 8, 1, nodes, 2, variants, 0};

Test(multishape, run_tensors_picks_the_variant_of_the_input_dims) {
  onnxc_model *m;
  onnxc_options o = {.threads = 1};
  cr_assert_eq(onnxc_model_create(&info, &m, &o), 0, "%s", onnxc_model_error(NULL));
  static float x[1000], y[1000];
  for (int i = 0; i < 1000; i++) x[i] = (float)i;
  int64_t d700[] = {700};
  onnxc_tensor in = {x, sizeof x, ONNXC_DT_FLOAT, 1, d1000}, out = {y, sizeof y, ONNXC_DT_FLOAT, 1, d1000};
  cr_assert_eq(onnxc_model_run_tensors(m, &in, 1, &out, 1), 0, "%s", onnxc_model_error(m));
  cr_assert_eq(y[999], 1000.0f);
  in.dims = out.dims = d500;
  y[500] = -5;
  cr_assert_eq(onnxc_model_run_tensors(m, &in, 1, &out, 1), 0, "%s", onnxc_model_error(m));
  cr_assert_eq(y[499], 501.0f, "the short variant adds 2");
  cr_assert_eq(y[500], -5.0f, "the short variant writes 500 elements");
  /* dims of neither: refused, listing both */
  in.dims = d700;
  y[0] = -9;
  cr_assert_eq(onnxc_model_run_tensors(m, &in, 1, &out, 1), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(m), "input dims 700 match none of the model's 2 shapes: 1000 (n=1000) or 500 (n=500)"),
            "%s", onnxc_model_error(m));
  cr_assert_eq(y[0], -9.0f, "nothing ran");
  /* the checks that need no variant come first; the outputs are checked against the chosen one */
  in.dtype = ONNXC_DT_INT32;
  cr_assert_eq(onnxc_model_run_tensors(m, &in, 1, &out, 1), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(m), "dtype int32"), "%s", onnxc_model_error(m));
  in.dtype = ONNXC_DT_FLOAT;
  in.dims = d500;
  out.dims = d1000;
  cr_assert_eq(onnxc_model_run_tensors(m, &in, 1, &out, 1), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(m), "output 0 ('y'): dims 1000, the model takes 500"), "%s",
            onnxc_model_error(m));
  in.bytes = 1999;
  out.dims = d500;
  cr_assert_eq(onnxc_model_run_tensors(m, &in, 1, &out, 1), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(m), "buffer of 1999 bytes, needs 2000"), "%s", onnxc_model_error(m));
  /* raw buffers: run is variant 0, run_variant any */
  const void *ins[] = {x};
  void *outs[] = {y};
  cr_assert_eq(onnxc_model_run(m, ins, outs), 0);
  cr_assert_eq(y[999], 1000.0f);
  cr_assert_eq(onnxc_model_run_variant(m, 1, ins, outs), 0);
  cr_assert_eq(y[0], 2.0f);
  cr_assert_eq(onnxc_model_run_variant(m, 2, ins, outs), ONNXC_ERR_ARGUMENT);
  cr_assert(strstr(onnxc_model_error(m), "variant 2 does not exist (the model has 2)"), "%s", onnxc_model_error(m));
  onnxc_model_destroy(m);
}

Test(multishape, blob_shares_identical_pieces_only_when_asked) {
  unsigned char a[300], b[300];
  for (int i = 0; i < 300; i++) a[i] = (unsigned char)i, b[i] = (unsigned char)(i * 7);
  WeightBlob w = {0};
  size_t a0 = blob_add(&w, a, sizeof a), a1 = blob_add(&w, a, sizeof a);
  cr_assert_neq(a0, a1, "no sharing by default");
  blob_share_begin(&w);
  size_t a2 = blob_add(&w, a, sizeof a), b0 = blob_add(&w, b, sizeof b), a3 = blob_add(&w, a, sizeof a);
  size_t b1 = blob_add(&w, b, sizeof b), head = blob_add(&w, a, 100);
  cr_assert_eq(a2, a3, "the same bytes: one copy");
  cr_assert_eq(b0, b1);
  cr_assert_neq(a2, b0);
  cr_assert_neq(head, a2, "a prefix is another piece");
  cr_assert_eq(head % 64, 0);
  for (int i = 0; i < 2000; i++) { /* many pieces: the index grows */
    unsigned char p[8] = {(unsigned char)i, (unsigned char)(i >> 8), 1, 2, 3, 4, 5, 6};
    size_t o1 = blob_add(&w, p, sizeof p), o2 = blob_add(&w, p, sizeof p);
    cr_assert_eq(o1, o2);
    cr_assert(!memcmp(w.data + o1, p, sizeof p));
  }
  cr_assert(!memcmp(w.data + a2, a, sizeof a) && !memcmp(w.data + b0, b, sizeof b));
  blob_share_end(&w);
  cr_assert_null(w.share);
  free(w.data);
}
