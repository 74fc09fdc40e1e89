/* binary.c — the `binary` pass: marks the Conv nodes of the main graph that the backend runs on
 * bit-packed xor + popcount kernels (Node.binary, backend/gen/gen_binary_conv.c), the XNOR-Net
 * form torch exports: the weights take two values ±α_o per output channel o (after fuse has
 * folded a BatchNorm into them, still two values) and the input is two- or three-valued, the
 * output of Sign (-1, 0, 1) or of Where(cond, 1, -1).  Then Σ x·w = α_o · (integer dot product of
 * signs), which the kernel computes exactly from sign and nonzero bit planes.  Likewise a MatMul or
 * Gemm whose constant weight's columns are ±α_n (gen_binary_gemm).
 *
 * The marking runs after plan because it only marks nodes (nothing moves, no value changes), so
 * it can sit at the end of pass_names; its Sign fusion (pass_binary_fuse) changes the graph and
 * runs just before plan when the pipeline goes as far as binary.  `--disable-pass binary` keeps
 * the float kernels and the Signs (comparing). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static bool const_f32_scalar(const Value *v, float *out) {
  if (!v || v->kind != VK_CONST || !v->data || v->dtype != DT_FLOAT || ir_value_numel(v) != 1) return false;
  memcpy(out, v->data, sizeof *out);
  return true;
}

/* the input's values are in {-1, 0, 1} by construction */
static bool sign_valued(const Value *x) {
  const Node *p = x->producer;
  if (!p || p->dead || x->dtype != DT_FLOAT) return false;
  if (p->op == OP_Sign) return p->out[0] == x;
  float a, b;
  if (p->op == OP_Where && p->nin == 3 && const_f32_scalar(p->in[1], &a) && const_f32_scalar(p->in[2], &b))
    return fabsf(a) == 1.0f && fabsf(b) == 1.0f;
  return false;
}

/* every output channel's weights are ±α_o (α_o finite; 0 only for an all-zero channel) */
static bool pm_alpha_weights(const Value *w) {
  if (!w || w->kind != VK_CONST || !w->data || w->dtype != DT_FLOAT || w->rank != 4) return false;
  int64_t O = w->dims[0], K = w->dims[1] * w->dims[2] * w->dims[3];
  const float *d = w->data;
  if (K <= 0) return false;
  for (int64_t o = 0; o < O; o++) {
    float a = fabsf(d[o * K]);
    if (!isfinite(a)) return false;
    for (int64_t k = 1; k < K; k++)
      if (fabsf(d[o * K + k]) != a) return false;
  }
  return true;
}

/* a 2-D Conv (group 1, float output, shapes known) whose weights are ±α per output channel,
 * whatever its input holds */
static bool conv_form(const Node *n) {
  if (n->op != OP_Conv || n->nin < 2 || !n->in[0] || n->nout < 1 || !n->out[0]) return false;
  const Value *x = n->in[0], *y = n->out[0];
  if (x->rank != 4 || y->dtype != DT_FLOAT || !ir_value_shape_known(x) || !ir_value_shape_known(y)) return false;
  return ir_attr_int(n, "group", 1) == 1 && pm_alpha_weights(n->in[1]);
}

bool pass_binary_conv_ok(const Node *n) { return conv_form(n) && sign_valued(n->in[0]); }

/* a MatMul [M,K]·[K,N] or Gemm (transA 0, alpha 1, C absent or a length-N bias with beta 1) whose
 * constant B's every column n is ±α_n, on a Sign/Where input: gen_binary_gemm's form */
bool pass_binary_gemm_ok(const Node *n) {
  if ((n->op != OP_MatMul && n->op != OP_Gemm) || n->nin < 2 || !n->in[0] || n->nout < 1 || !n->out[0]) return false;
  const Value *a = n->in[0], *b = n->in[1], *y = n->out[0];
  if (a->rank != 2 || y->rank != 2 || y->dtype != DT_FLOAT || !ir_value_shape_known(a) || !ir_value_shape_known(y))
    return false;
  if (!b || b->kind != VK_CONST || !b->data || b->dtype != DT_FLOAT || b->rank != 2) return false;
  bool tb = false;
  if (n->op == OP_Gemm) {
    if (ir_attr_int(n, "transA", 0) || ir_attr_float(n, "alpha", 1.0f) != 1.0f) return false;
    tb = ir_attr_int(n, "transB", 0) != 0;
    const Value *cc = n->nin > 2 ? n->in[2] : NULL;
    if (cc && (ir_attr_float(n, "beta", 1.0f) != 1.0f || cc->dtype != DT_FLOAT || ir_value_numel(cc) != y->dims[1] ||
               (cc->rank == 2 && cc->dims[0] != 1) || cc->rank > 2))
      return false;
  }
  int64_t K = a->dims[1], N = y->dims[1];
  if (K <= 0 || N <= 0 || b->dims[tb ? 1 : 0] != K || b->dims[tb ? 0 : 1] != N) return false;
  const float *d = b->data;
  for (int64_t j = 0; j < N; j++) {
    float al = fabsf(d[tb ? j * K : j]);
    if (!isfinite(al)) return false;
    for (int64_t k = 1; k < K; k++)
      if (fabsf(d[tb ? j * K + k : k * N + j]) != al) return false;
  }
  return sign_valued(a);
}

bool pass_binary_conv_marked(const Node *n) {
  if (!n->binary) return false;
  if (!n->binary_sign) return pass_binary_conv_ok(n);
  /* the same test with the Sign gone: its input (float) in place of its output */
  return conv_form(n) && n->in[0]->dtype == DT_FLOAT;
}

static int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* the task's rows and planes for rb output rows per task; false past the scratch bound */
static bool geo_rows(PassBinGeo *q, int64_t rb) {
  q->rb = rb;
  q->nrb = cdiv(q->OH, q->rb);
  q->RI = (q->rb - 1) * q->sh + (q->KH - 1) * q->dh + 1;
  q->owp = cdiv(q->OW, q->L) * q->L;
  int64_t wp = (q->owp - 1) * q->sw + (q->KW - 1) * q->dw + 1; /* padded input columns read */
  q->WQ = cdiv(cdiv(wp, q->sw), q->L) * q->L;
  q->RL = q->sw * q->WQ;
  q->KC = q->KH * q->KW * q->CW;
  int64_t fl = (q->rb - 1) * q->OW + q->owp; /* the last row's copy writes whole vectors */
  q->FL = cdiv(fl > q->rb * q->OW ? fl : q->rb * q->OW, q->L) * q->L;
  /* sign and nonzero rows, their im2col planes, the counts, 3 mask words per vector of pixels,
   * a lane mask per pixel and kernel position */
  q->scratch = (2 * q->CW * q->RI * q->RL + 2 * q->KC * q->FL + q->FL + 3 * (q->FL / q->L) + q->KH * q->KW * q->FL) * 8;
  return q->scratch <= (2 << 20);
}

bool pass_binary_geo(Graph *g, const Node *n, int lanes, PassBinGeo *q) {
  const Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
  if (x->rank != 4 || w->rank != 4 || y->rank != 4 || x->dtype != DT_FLOAT || lanes < 1) return false;
  IrWindow win;
  if (ir_window(g, n, 2, x->dims + 2, w->dims + 2, &win)) return false;
  *q = (PassBinGeo){.N = x->dims[0], .C = x->dims[1], .H = x->dims[2], .W = x->dims[3], .O = y->dims[1],
                    .OH = y->dims[2], .OW = y->dims[3], .KH = w->dims[2], .KW = w->dims[3], .sh = win.stride[0],
                    .sw = win.stride[1], .dh = win.dilation[0], .dw = win.dilation[1], .pt = win.pad_begin[0],
                    .pl = win.pad_begin[1], .L = lanes};
  if (w->dims[1] != q->C || q->C <= 0 || q->H <= 0 || q->W <= 0 || q->OH <= 0 || q->sw > 8) return false;
  q->CW = cdiv(q->C, 64);
  /* about 4 row blocks per image (each packs KH − 1 rows more than its own: fewer, taller blocks
   * pack less twice), up to 8 rows, rounded up to whole vectors of pixels when that stays ≤ 8 */
  int64_t rb = cdiv(q->OH, 4) < 8 ? cdiv(q->OH, 4) : 8;
  for (int64_t r = rb; r <= 8 && r <= q->OH; r++)
    if (r * q->OW % q->L == 0) {
      rb = r;
      break;
    }
  return geo_rows(q, rb) || geo_rows(q, 1);
}

/* Sign fusion, before plan (pass_binary_fuse).  The kernel packs the bits x > 0 and x != 0,
 * which are the same from x as from Sign(x) (Sign keeps ±0 and NaN, and NaN != 0 either way), so
 * a binary Conv may read the Sign's input and the Sign goes when nothing else reads it: one pass
 * over the activations instead of a float tensor of ±1 written and read back.  Before plan, the
 * planner keeps x alive up to the Conv and gives the Conv's output a place of its own (after plan,
 * x's place was often already the Conv's output or another Sign's).  True when n now reads x. */
static bool fuse_sign(Graph *g, Node *n) {
  Value *xb = n->in[0];
  Node *s = xb->producer;
  if (!s || s->dead || s->op != OP_Sign || s->in[0]->dtype != DT_FLOAT || xb->is_output) return false;
  PassBinGeo q;
  if (!pass_binary_geo(g, n, 8, &q)) return false; /* 8: the widest i64 vector of any target */
  n->in[0] = s->in[0];
  n->binary = n->binary_sign = true;
  ir_graph_count_users(g);
  if (!xb->nusers) {
    ir_node_remove(g, s);
    ir_graph_compact(g);
  }
  return true;
}

int pass_binary_fuse(Graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (!n->dead && !n->binary_sign && pass_binary_conv_ok(n) && fuse_sign(g, n)) i = n->id;
  }
  return 0;
}

int pass_binary(Graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (!n->dead) n->binary = n->binary_sign ? pass_binary_conv_marked(n) : pass_binary_conv_ok(n) || pass_binary_gemm_ok(n);
  }
  return 0;
}
