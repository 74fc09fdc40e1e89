/* shape_pool.c — shape inference for F_POOL (MaxPool, AveragePool, LpPool and their Global forms),
 * and ir_window: the sliding-window geometry that Conv and ConvTranspose (shape_contract.c) share
 * with the pools, exported so code generation sees the same resolved pads. */
#include "ir.h"

#include <string.h>

/* an ints attribute with one value per spatial dim (len of them), each >= min; def if absent */
static int read_list(Graph *g, const Node *n, const char *name, int len, int64_t def, int64_t min,
                     int64_t *out) {
  const int64_t *v;
  int c = ir_attr_ints(n, name, &v);
  if (c <= 0) { /* absent (or an empty list, which some exporters write for "default") */
    for (int i = 0; i < len; i++) out[i] = def;
    return 0;
  }
  if (c != len) return ir_node_error(g, n, "%s has %d values, expected %d", name, c, len);
  for (int i = 0; i < len; i++) {
    if (v[i] < min || v[i] > (1LL << 31))
      return ir_node_error(g, n, "%s[%d] = %lld is out of range (must be >= %lld)", name, i,
                           (long long)v[i], (long long)min);
    out[i] = v[i];
  }
  return 0;
}

typedef enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } AutoPad;

static int read_auto_pad(Graph *g, const Node *n, AutoPad *ap) {
  const char *s = ir_attr_str(n, "auto_pad", "NOTSET");
  if (!strcmp(s, "NOTSET") || !*s) *ap = PAD_NOTSET;
  else if (!strcmp(s, "SAME_UPPER")) *ap = PAD_SAME_UPPER;
  else if (!strcmp(s, "SAME_LOWER")) *ap = PAD_SAME_LOWER;
  else if (!strcmp(s, "VALID")) *ap = PAD_VALID;
  else
    return ir_node_error(g, n, "auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got \"%s\"", s);
  return 0;
}

/* split a total padding; SAME_UPPER puts the odd element at the end */
static void split_pad(IrWindow *w, int i, int64_t total, bool extra_at_end) {
  w->pad_begin[i] = extra_at_end ? total / 2 : total - total / 2;
  w->pad_end[i] = total - w->pad_begin[i];
}

/* Conv and pools: out = floor((in + pads - ek) / stride) + 1 (ceil for ceil_mode) */
static int window_forward(Graph *g, const Node *n, int i, int64_t in, AutoPad ap, bool ceil_mode, IrWindow *w) {
  int64_t s = w->stride[i], ek = (w->kernel[i] - 1) * w->dilation[i] + 1;
  if (ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
    w->out[i] = (in + s - 1) / s;
    int64_t total = (w->out[i] - 1) * s + ek - in;
    split_pad(w, i, total > 0 ? total : 0, ap == PAD_SAME_UPPER);
    return 0;
  }
  if (ap == PAD_VALID) w->pad_begin[i] = w->pad_end[i] = 0;
  int64_t padded = in + w->pad_begin[i] + w->pad_end[i];
  if (padded < ek)
    return ir_node_error(g, n,
                         "kernel of effective size %lld (kernel %lld, dilation %lld) is larger than the "
                         "padded input (%lld) in spatial dim %d",
                         (long long)ek, (long long)w->kernel[i], (long long)w->dilation[i], (long long)padded, i);
  w->out[i] = (padded - ek) / s + 1;
  if (ceil_mode && (padded - ek) % s) {
    w->out[i]++;
    /* as in PyTorch (and ONNX since opset 19): the last window must start inside the input or
     * the left padding, never entirely in the right padding */
    if ((w->out[i] - 1) * s >= in + w->pad_begin[i]) w->out[i]--;
  }
  return 0;
}

/* ConvTranspose: out = stride * (in - 1) + output_padding + ek - pads, or given by output_shape
 * (then, and for SAME_*, pads are derived; the split follows the ONNX spec, which puts the odd
 * element at the start except for SAME_UPPER).  The identity holds for the resolved window too. */
static int window_transposed(Graph *g, const Node *n, int i, int64_t in, AutoPad ap, const int64_t *oshape,
                             IrWindow *w) {
  int64_t s = w->stride[i], d = w->dilation[i], ek = (w->kernel[i] - 1) * d + 1, op = w->out_pad[i];
  if (op >= s && op >= d)
    return ir_node_error(g, n, "output_padding[%d] = %lld must be smaller than the stride (%lld) or dilation (%lld)",
                         i, (long long)op, (long long)s, (long long)d);
  if (in < 1) return ir_node_error(g, n, "spatial dim %d of the input is empty", i);
  int64_t full, same;
  if (!ir_mul_ok(s, in - 1, &full) || !ir_mul_ok(s, in, &same) || full > INT64_MAX / 2)
    return ir_node_error(g, n, "output size overflows in spatial dim %d", i);
  full += op + ek;
  if (oshape || ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
    w->out[i] = oshape ? oshape[i] : same;
    int64_t total = full - w->out[i];
    if (total < 0) { /* an output larger than the full one: extra output padding at the end (as ORT) */
      w->out_pad[i] -= total;
      total = 0;
    }
    split_pad(w, i, total, ap == PAD_SAME_UPPER);
    return 0;
  }
  if (ap == PAD_VALID) w->pad_begin[i] = w->pad_end[i] = 0;
  w->out[i] = full - w->pad_begin[i] - w->pad_end[i];
  if (w->out[i] < 1)
    return ir_node_error(g, n, "pads (%lld, %lld) leave no output in spatial dim %d (size %lld before padding)",
                         (long long)w->pad_begin[i], (long long)w->pad_end[i], i, (long long)full);
  return 0;
}

int ir_window(Graph *g, const Node *n, int nsp, const int64_t *in, const int64_t *kernel, IrWindow *w) {
  memset(w, 0, sizeof *w);
  w->nsp = nsp;
  bool transposed = n->op == OP_ConvTranspose;
  int64_t pads[2 * IR_MAX_RANK];
  AutoPad ap = PAD_NOTSET;
  if (read_list(g, n, "strides", nsp, 1, 1, w->stride) || read_list(g, n, "dilations", nsp, 1, 1, w->dilation) ||
      read_list(g, n, "pads", 2 * nsp, 0, 0, pads) || read_auto_pad(g, n, &ap))
    return -1;
  for (int i = 0; i < nsp; i++) {
    if (kernel[i] < 1 || kernel[i] > (1LL << 31))
      return ir_node_error(g, n, "kernel size %lld in spatial dim %d is out of range", (long long)kernel[i], i);
    w->kernel[i] = kernel[i];
    w->pad_begin[i] = pads[i];
    w->pad_end[i] = pads[nsp + i];
  }
  if (!transposed) {
    int64_t ceil_mode = ir_attr_int(n, "ceil_mode", 0);
    if (ceil_mode != 0 && ceil_mode != 1)
      return ir_node_error(g, n, "ceil_mode must be 0 or 1, got %lld", (long long)ceil_mode);
    for (int i = 0; i < nsp; i++)
      if (window_forward(g, n, i, in[i], ap, ceil_mode, w)) return -1;
    return 0;
  }
  if (read_list(g, n, "output_padding", nsp, 0, 0, w->out_pad)) return -1;
  const int64_t *os;
  int nos = ir_attr_ints(n, "output_shape", &os);
  if (nos > 0) {
    if (nos == nsp + 2) os += 2; /* some exporters include N and C */
    else if (nos != nsp)
      return ir_node_error(g, n, "output_shape has %d values, expected %d (one per spatial dim)", nos, nsp);
    for (int i = 0; i < nsp; i++)
      if (os[i] < 1) return ir_node_error(g, n, "output_shape[%d] = %lld must be positive", i, (long long)os[i]);
  }
  for (int i = 0; i < nsp; i++)
    if (window_transposed(g, n, i, in[i], ap, nos > 0 ? os : NULL, w)) return -1;
  return 0;
}

/* ---- pools ---- */
#define M(t) (1u << (t))
enum { M_FLOAT = M(DT_FLOAT) | M(DT_DOUBLE) | M(DT_FLOAT16) | M(DT_BFLOAT16) };

static int check_input(Graph *g, const Node *n) {
  const Value *x = n->in[0];
  unsigned mask = M_FLOAT;
  const char *what = "a floating-point type";
  if (n->op == OP_MaxPool) {
    mask |= M(DT_INT8) | M(DT_UINT8);
    what = "a floating-point type, int8 or uint8";
  }
  if (!((unsigned)x->dtype < DT_COUNT && (mask & M(x->dtype))))
    return ir_node_error(g, n, "input has type %s, expected %s", dtype_name(x->dtype), what);
  if (x->rank < 3) {
    char s[128];
    ir_shape_str(x, s, sizeof s);
    return ir_node_error(g, n, "input must have rank >= 3 (N x C x D1 ...), got shape %s", s);
  }
  return 0;
}

static void set_out(Node *n, int i, DType t, int rank, const int64_t *dims) {
  if (i >= n->nout || !n->out[i]) return;
  n->out[i]->dtype = t;
  ir_value_set_shape(n->out[i], rank, dims);
}

static int check_01(Graph *g, const Node *n, const char *name) {
  int64_t v = ir_attr_int(n, name, 0);
  if (v != 0 && v != 1) return ir_node_error(g, n, "%s must be 0 or 1, got %lld", name, (long long)v);
  return 0;
}

static int check_p(Graph *g, const Node *n) {
  int64_t p = ir_attr_int(n, "p", 2);
  if (p < 1) return ir_node_error(g, n, "p must be positive, got %lld", (long long)p);
  return 0;
}

static int shape_window_pool(Graph *g, Node *n) {
  const Value *x = n->in[0];
  int nsp = x->rank - 2;
  const int64_t *k;
  int nk = ir_attr_ints(n, "kernel_shape", &k);
  if (nk < 0) return ir_node_error(g, n, "required attribute 'kernel_shape' is missing");
  if (nk != nsp)
    return ir_node_error(g, n, "kernel_shape has %d values but the input has %d spatial dims", nk, nsp);
  if ((n->op == OP_MaxPool && check_01(g, n, "storage_order")) ||
      (n->op == OP_AveragePool && check_01(g, n, "count_include_pad")) || (n->op == OP_LpPool && check_p(g, n)))
    return -1;
  IrWindow w;
  if (ir_window(g, n, nsp, x->dims + 2, k, &w)) return -1;
  for (int i = 0; i < nsp; i++) {
    int64_t ek = (w.kernel[i] - 1) * w.dilation[i] + 1;
    if (w.pad_begin[i] >= ek || w.pad_end[i] >= ek) /* a window entirely in padding */
      return ir_node_error(g, n, "pads (%lld, %lld) in spatial dim %d must be smaller than the kernel (%lld)",
                           (long long)w.pad_begin[i], (long long)w.pad_end[i], i, (long long)ek);
  }
  int64_t dims[IR_MAX_RANK] = {x->dims[0], x->dims[1]};
  memcpy(dims + 2, w.out, sizeof(int64_t) * (size_t)nsp);
  set_out(n, 0, x->dtype, x->rank, dims);
  set_out(n, 1, DT_INT64, x->rank, dims); /* MaxPool's Indices */
  return 0;
}

int shape_pool(Graph *g, Node *n) {
  const Value *x = n->in[0];
  if (check_input(g, n)) return -1;
  switch (n->op) {
  case OP_MaxPool:
  case OP_AveragePool:
  case OP_LpPool: return shape_window_pool(g, n);
  case OP_GlobalLpPool:
    if (check_p(g, n)) return -1;
    /* fall through */
  case OP_GlobalMaxPool:
  case OP_GlobalAveragePool: {
    int64_t dims[IR_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 2; i < x->rank; i++) dims[i] = 1;
    set_out(n, 0, x->dtype, x->rank, dims);
    return 0;
  }
  default: return ir_node_error(g, n, "not a pooling op");
  }
}
