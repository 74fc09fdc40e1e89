/* weights_report.c — what `onnxc info` says about the model's weights in each form: as the model
 * stores them, and entropy-coded as `onnxc compile --compress-weights` would store them (the same
 * coder, backend/drive/wencode.c, over the constants as loaded, each one piece; the sizes are its
 * estimates from the symbol counts).  A compiled library packs the weights for its kernels first
 * (panels padded with zeros, Winograd off), so its figures (compile's summary) differ a little. */
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "kb_impl.h"

static int do_estimate(onnxc_session *s, void *arg) {
  onnxc_weights_report *out = arg;
  Graph *g = s->g;
  WeightBlob w = {.record = true};
  ir_graph_count_users(g); /* constants a node reads (not ones a pass left behind) */
  for (int i = 0; i < g->nvalues; i++) {
    const Value *v = g->values[i];
    int64_t n = v->kind == VK_CONST && v->data && (v->nusers > 0 || v->is_output) ? ir_value_numel(v) : 0;
    int64_t bytes = n > 0 ? n * (int64_t)dtype_size(v->dtype) : 0;
    if (bytes > 0) blob_add(&w, v->data, (size_t)bytes);
  }
  BeWeightCoding c;
  be_weights_encode(&w, NULL, NULL, &c);
  memset(out, 0, sizeof *out);
  out->coded = 1;
  for (int k = 0; k < 4; k++) {
    out->pieces[k] = (int64_t)c.pieces[k];
    out->raw[k] = (int64_t)c.raw[k];
    out->coded_bytes[k] = (int64_t)c.coded[k];
    out->raw_bytes += (int64_t)c.raw[k];
  }
  out->stored_bytes = (int64_t)c.coded_bytes;
  out->huffman_bytes = (int64_t)c.huffman_bytes;
  free(w.data);
  free(w.piece);
  return ONNXC_OK;
}

int onnxc_session_weights_estimate(onnxc_session *s, onnxc_weights_report *out) {
  if (!s || !out || !s->g) return s ? lib_fail(s, ONNXC_ERR_STATE, "the session has no model") : ONNXC_ERR_ARGUMENT;
  return lib_guard(s, do_estimate, out);
}
