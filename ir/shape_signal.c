/* shape_signal.c — shape inference and host evaluation for the F_SIGNAL family: the window
 * generators (HannWindow, HammingWindow, BlackmanWindow), MelWeightMatrix, DFT and STFT (opset 17;
 * DFT's axis input of opset 20 too).  Complex tensors are real tensors with a trailing dim of 2
 * (re, im); real signals have a trailing dim of 1.
 *
 * Sizes (window size, mel bins, dft_length, frame_step, frame_length) decide output shapes, so
 * they must be constants; the window and mel generators then have only constant inputs and are
 * always folded here, so they never reach the backend. */
#include "ir.h"

#include <math.h>
#include <string.h>

#define SIG_MAX_LEN ((int64_t)1 << 26) /* longest window / transform we accept */

/* a constant integer scalar input (one element) */
static int const_int(Graph *g, const Node *n, int i, int64_t *out) {
  Value *v;
  if (ir_const_input(g, n, i, &v)) return -1;
  if (ir_value_numel(v) != 1) return ir_node_error(g, n, "input '%s' must be a scalar", v->name);
  if (dtype_is_float(v->dtype)) return ir_node_error(g, n, "input '%s' must be an integer", v->name);
  *out = ir_const_i64(v, 0);
  return 0;
}

static int check_len(Graph *g, const Node *n, const char *what, int64_t x, int64_t lo) {
  if (x < lo || x > SIG_MAX_LEN)
    return ir_node_error(g, n, "%s is %lld; it must be in [%lld, %lld]", what, (long long)x, (long long)lo,
                         (long long)SIG_MAX_LEN);
  return 0;
}

static int out_dtype(Graph *g, const Node *n, DType def, DType *t) {
  int64_t d = ir_attr_int(n, "output_datatype", def);
  if (d <= 0 || d >= DT_COUNT || !dtype_supported((DType)d) || d == DT_BOOL || d == DT_STRING)
    return ir_node_error(g, n, "output_datatype %lld is not supported", (long long)d);
  *t = (DType)d;
  return 0;
}

static int window(Graph *g, Node *n) {
  int64_t size;
  DType t;
  if (const_int(g, n, 0, &size) || check_len(g, n, "the window size", size, 0) || out_dtype(g, n, DT_FLOAT, &t))
    return -1;
  n->out[0]->dtype = t;
  ir_value_set_shape(n->out[0], 1, &size);
  return 0;
}

static int mel(Graph *g, Node *n) {
  int64_t bins, len;
  DType t;
  if (const_int(g, n, 0, &bins) || const_int(g, n, 1, &len) || check_len(g, n, "num_mel_bins", bins, 1) ||
      check_len(g, n, "dft_length", len, 1) || out_dtype(g, n, DT_FLOAT, &t))
    return -1;
  for (int i = 2; i < 5; i++) {
    Value *v;
    if (ir_const_input(g, n, i, &v)) return -1;
    if (ir_value_numel(v) != 1) return ir_node_error(g, n, "input '%s' must be a scalar", v->name);
  }
  int64_t dims[2] = {len / 2 + 1, bins};
  n->out[0]->dtype = t;
  ir_value_set_shape(n->out[0], 2, dims);
  return 0;
}

int ir_dft_plan(Graph *g, const Node *n, int *axis, int64_t *len) {
  Value *x = n->in[0];
  if (!dtype_is_float(x->dtype)) return ir_node_error(g, n, "input must be a float tensor");
  if (x->rank < 2 || (x->dims[x->rank - 1] != 1 && x->dims[x->rank - 1] != 2))
    return ir_node_error(g, n, "input must have a trailing dim of 1 (real) or 2 (complex)");
  int64_t a = ir_attr_int(n, "axis", 1);
  if (g->opset >= 20) {
    a = -2;
    if (n->nin > 2 && n->in[2] && const_int(g, n, 2, &a)) return -1;
  }
  /* the trailing (re, im) dim is not a signal axis */
  if (a < 0) a += x->rank;
  if (a < 0 || a >= x->rank - 1)
    return ir_node_error(g, n, "axis %lld is out of range for a signal of rank %d", (long long)a, x->rank - 1);
  *axis = (int)a;
  *len = x->dims[a];
  if (n->nin > 1 && n->in[1] && const_int(g, n, 1, len)) return -1;
  if (check_len(g, n, "dft_length", *len, 1)) return -1;
  if (ir_attr_int(n, "onesided", 0) && ir_attr_int(n, "inverse", 0))
    return ir_node_error(g, n, "onesided inverse transforms are not supported");
  return 0;
}

static int dft(Graph *g, Node *n) {
  Value *x = n->in[0], *y = n->out[0];
  int axis;
  int64_t len, dims[IR_MAX_RANK];
  if (ir_dft_plan(g, n, &axis, &len)) return -1;
  memcpy(dims, x->dims, sizeof dims);
  dims[axis] = ir_attr_int(n, "onesided", 0) ? len / 2 + 1 : len;
  dims[x->rank - 1] = 2;
  y->dtype = x->dtype;
  ir_value_set_shape(y, x->rank, dims);
  return 0;
}

int ir_stft_plan(Graph *g, const Node *n, int64_t *step, int64_t *flen, int64_t *frames) {
  Value *x = n->in[0], *w = n->nin > 2 ? n->in[2] : NULL;
  if (!dtype_is_float(x->dtype)) return ir_node_error(g, n, "signal must be a float tensor");
  if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
    return ir_node_error(g, n, "signal must be [batch, length, 1 or 2]");
  if (const_int(g, n, 1, step) || check_len(g, n, "frame_step", *step, 1)) return -1;
  *flen = -1;
  if (w) {
    if (w->rank != 1) return ir_node_error(g, n, "window must be 1-D");
    if (w->dtype != x->dtype) return ir_node_error(g, n, "window must have the signal's dtype");
    *flen = w->dims[0];
  }
  if (n->nin > 3 && n->in[3]) {
    int64_t fl;
    if (const_int(g, n, 3, &fl)) return -1;
    if (*flen >= 0 && fl != *flen)
      return ir_node_error(g, n, "frame_length %lld differs from the window's length %lld", (long long)fl,
                           (long long)*flen);
    *flen = fl;
  }
  if (*flen < 0) return ir_node_error(g, n, "needs a window or a frame_length");
  if (check_len(g, n, "frame_length", *flen, 1)) return -1;
  if (*flen > x->dims[1])
    return ir_node_error(g, n, "frame_length %lld exceeds the signal length %lld", (long long)*flen,
                         (long long)x->dims[1]);
  *frames = (x->dims[1] - *flen) / *step + 1;
  return 0;
}

static int stft(Graph *g, Node *n) {
  Value *x = n->in[0], *y = n->out[0];
  int64_t step, flen, frames;
  if (ir_stft_plan(g, n, &step, &flen, &frames)) return -1;
  int64_t dims[4] = {x->dims[0], frames, ir_attr_int(n, "onesided", 1) ? flen / 2 + 1 : flen, 2};
  y->dtype = x->dtype;
  ir_value_set_shape(y, 4, dims);
  return 0;
}

int shape_signal(Graph *g, Node *n) {
  switch (n->op) {
  case OP_HannWindow:
  case OP_HammingWindow:
  case OP_BlackmanWindow: return window(g, n);
  case OP_MelWeightMatrix: return mel(g, n);
  case OP_DFT: return dft(g, n);
  case OP_STFT: return stft(g, n);
  default: return ir_node_error(g, n, "no shape inference for this op");
  }
}

/* ---- host evaluation ---- */

/* generalized cosine windows: a0 - a1 cos(2πn/N) + a2 cos(4πn/N), N = size (periodic) or size-1 */
static int eval_window(Graph *g, Node *n) {
  Value *y = n->out[0];
  int64_t size = y->dims[0];
  double a0 = 0.5, a1 = 0.5, a2 = 0;
  if (n->op == OP_HammingWindow) a0 = 25.0 / 46, a1 = 21.0 / 46;
  if (n->op == OP_BlackmanWindow) a0 = 0.42, a1 = 0.5, a2 = 0.08;
  double N = (double)(ir_attr_int(n, "periodic", 1) ? size : size - 1);
  y->data = arena_alloc(g->arena, (size_t)(size > 0 ? size : 1) * dtype_size(y->dtype));
  for (int64_t i = 0; i < size; i++) {
    double th = N > 0 ? 2 * M_PI * (double)i / N : 0;
    ir_store_f64(y->dtype, y->data, i, a0 - a1 * cos(th) + a2 * cos(2 * th));
  }
  return 1;
}

/* triangular filters between mel-spaced points mapped to DFT bins (the ONNX reference's steps) */
static int eval_mel(Graph *g, Node *n) {
  Value *y = n->out[0];
  int64_t bins = ir_const_i64(n->in[0], 0), len = ir_const_i64(n->in[1], 0);
  double rate = ir_const_f64(n->in[2], 0), lo = ir_const_f64(n->in[3], 0), hi = ir_const_f64(n->in[4], 0);
  if (rate <= 0) return ir_node_error(g, n, "sample_rate must be positive");
  if (!(lo >= 0 && lo <= hi)) return ir_node_error(g, n, "need 0 <= lower_edge_hertz <= upper_edge_hertz");
  int64_t nspec = len / 2 + 1;
  int64_t *f = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(bins + 2));
  double lmel = 2595 * log10(1 + lo / 700), hmel = 2595 * log10(1 + hi / 700);
  double step = (hmel - lmel) / (double)(bins + 2);
  for (int64_t i = 0; i < bins + 2; i++) {
    double hz = 700 * (pow(10, ((double)i * step + lmel) / 2595) - 1);
    f[i] = (int64_t)floor((double)(len + 1) * hz / rate);
    if (f[i] < 0 || f[i] > nspec - (i < bins + 1)) return ir_node_error(g, n, "upper_edge_hertz is above the Nyquist frequency");
  }
  double *o = arena_alloc(g->arena, sizeof(double) * (size_t)(nspec * bins));
  for (int64_t i = 0; i < bins; i++) {
    int64_t l = f[i], c = f[i + 1], h = f[i + 2];
    if (c == l) o[c * bins + i] = 1;
    else
      for (int64_t j = l; j <= c; j++) o[j * bins + i] = (double)(j - l) / (double)(c - l);
    for (int64_t j = c; j < h; j++) o[j * bins + i] = (double)(h - j) / (double)(h - c);
  }
  y->data = arena_alloc(g->arena, (size_t)(nspec * bins) * dtype_size(y->dtype));
  for (int64_t i = 0; i < nspec * bins; i++) ir_store_f64(y->dtype, y->data, i, o[i]);
  return 1;
}

int eval_signal(Graph *g, Node *n) {
  switch (n->op) {
  case OP_HannWindow:
  case OP_HammingWindow:
  case OP_BlackmanWindow: return eval_window(g, n);
  case OP_MelWeightMatrix: return eval_mel(g, n);
  default: return 0; /* DFT / STFT of constants: left to the backend */
  }
}
