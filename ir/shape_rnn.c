/* shape_rnn.c — shape inference for the F_RNN family (RNN, GRU, LSTM; ONNX opsets up to 14) and
 * ir_rnn_spec, the one reading of their attributes that the backend shares.
 *
 *   inputs:  X [T,B,I] (layout 1: [B,T,I]), W [D,G·H,I], R [D,G·H,H], B [D,2·G·H],
 *            sequence_lens [B] (int32), initial_h [D,B,H] (layout 1: [B,D,H]), initial_c, P [D,3H]
 *   outputs: Y [T,D,B,H] (layout 1: [B,T,D,H]), Y_h [D,B,H] (layout 1: [B,D,H]), Y_c likewise
 * G is the gate count (1, 3, 4) and D the number of directions. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ir.h"

static const struct {
  const char *name;
  IrRnnAct act;
  int nparams; /* alpha, beta taken from activation_alpha / activation_beta */
  float alpha, beta; /* defaults */
} acts[] = {
    {"Relu", RA_RELU, 0, 0, 0},
    {"Tanh", RA_TANH, 0, 0, 0},
    {"Sigmoid", RA_SIGMOID, 0, 0, 0},
    {"Affine", RA_AFFINE, 2, 1.0f, 0.0f},
    {"LeakyRelu", RA_LEAKYRELU, 1, 0.01f, 0},
    {"ThresholdedRelu", RA_THRESHOLDEDRELU, 1, 1.0f, 0},
    {"ScaledTanh", RA_SCALEDTANH, 2, 1.0f, 1.0f},
    {"HardSigmoid", RA_HARDSIGMOID, 2, 0.2f, 0.5f},
    {"Elu", RA_ELU, 1, 1.0f, 0},
    {"Softsign", RA_SOFTSIGN, 0, 0, 0},
    {"Softplus", RA_SOFTPLUS, 0, 0, 0},
};

/* activations, defaulted per op, with their alpha/beta consumed in order */
static int rnn_acts(Graph *g, const Node *n, IrRnn *s) {
  static const IrRnnAct defaults[3][3] = {{RA_TANH}, {RA_SIGMOID, RA_TANH}, {RA_SIGMOID, RA_TANH, RA_TANH}};
  const IrRnnAct *def = defaults[s->nact - 1];
  int total = s->nact * s->ndir;
  const Attr *a = ir_attr(n, "activations");
  if (a && a->type != AT_STRINGS) return ir_node_error(g, n, "attribute 'activations' must be a list of strings");
  if (a && a->n != total && !(a->n == s->nact && s->ndir == 2))
    return ir_node_error(g, n, "attribute 'activations' has %d entries; expected %d (%d per direction)", a->n,
                         total, s->nact);
  const Attr *al = ir_attr(n, "activation_alpha"), *be = ir_attr(n, "activation_beta");
  if ((al && al->type != AT_FLOATS) || (be && be->type != AT_FLOATS))
    return ir_node_error(g, n, "attributes 'activation_alpha' / 'activation_beta' must be lists of floats");
  int ia = 0, ib = 0;
  for (int k = 0; k < total; k++) {
    if (!a) {
      s->act[k] = def[k % s->nact];
      s->alpha[k] = s->beta[k] = 0;
      continue;
    }
    const char *name = a->strings[k % a->n];
    size_t j = 0;
    while (j < sizeof acts / sizeof acts[0] && strcasecmp(acts[j].name, name)) j++;
    if (j == sizeof acts / sizeof acts[0])
      return ir_node_error(g, n, "activation '%s' is not supported (activations[%d])", name, k);
    s->act[k] = acts[j].act;
    s->alpha[k] = acts[j].alpha;
    s->beta[k] = acts[j].beta;
    if (acts[j].nparams >= 1 && al && ia < al->n) s->alpha[k] = al->floats[ia++];
    if (acts[j].nparams >= 2 && be && ib < be->n) s->beta[k] = be->floats[ib++];
  }
  return 0;
}

static int want_dims(Graph *g, const Node *n, int i, const char *what, int rank, const int64_t *dims) {
  const Value *v = n->nin > i ? n->in[i] : NULL;
  if (!v) return 0;
  bool ok = v->rank == rank;
  for (int d = 0; ok && d < rank; d++) ok = v->dims[d] == dims[d];
  if (ok) return 0;
  char got[128], want[128] = "";
  ir_shape_str(v, got, sizeof got);
  for (int d = 0, o = 0; d < rank; d++)
    o += snprintf(want + o, sizeof want - (size_t)o, "%s%lld", d ? "x" : "", (long long)dims[d]);
  return ir_node_error(g, n, "input %d (%s) has shape %s; expected %s", i, what, got, want);
}

int ir_rnn_spec(Graph *g, const Node *n, IrRnn *s) {
  memset(s, 0, sizeof *s);
  s->gates = n->op == OP_LSTM ? 4 : n->op == OP_GRU ? 3 : 1;
  s->nact = n->op == OP_LSTM ? 3 : n->op == OP_GRU ? 2 : 1;
  const char *dir = ir_attr_str(n, "direction", "forward");
  if (!strcmp(dir, "forward")) s->ndir = 1;
  else if (!strcmp(dir, "reverse")) s->ndir = 1, s->reverse = true;
  else if (!strcmp(dir, "bidirectional")) s->ndir = 2;
  else return ir_node_error(g, n, "attribute 'direction' is '%s'; expected forward, reverse or bidirectional", dir);
  int64_t layout = ir_attr_int(n, "layout", 0);
  if (layout != 0 && layout != 1) return ir_node_error(g, n, "attribute 'layout' is %lld; expected 0 or 1", (long long)layout);
  s->layout = layout == 1;
  s->clip = ir_attr(n, "clip") ? ir_attr_float(n, "clip", 0) : 0;
  if (ir_attr(n, "clip") && !(s->clip > 0))
    return ir_node_error(g, n, "attribute 'clip' is %g; expected a positive threshold", (double)s->clip);
  int64_t inf = n->op == OP_LSTM ? ir_attr_int(n, "input_forget", 0) : 0;
  int64_t lbr = n->op == OP_GRU ? ir_attr_int(n, "linear_before_reset", 0) : 0;
  if ((inf != 0 && inf != 1) || (lbr != 0 && lbr != 1))
    return ir_node_error(g, n, "attributes 'input_forget' / 'linear_before_reset' must be 0 or 1");
  s->input_forget = inf == 1;
  s->linear_before_reset = lbr == 1;

  const Value *x = n->in[0], *w = n->in[1], *r = n->in[2];
  if (x->rank != 3 || w->rank != 3 || r->rank != 3)
    return ir_node_error(g, n, "X, W and R must have rank 3 (got %d, %d, %d)", x->rank, w->rank, r->rank);
  s->T = x->dims[s->layout ? 1 : 0];
  s->B = x->dims[s->layout ? 0 : 1];
  s->I = x->dims[2];
  s->H = r->dims[2];
  int64_t hs = ir_attr_int(n, "hidden_size", s->H);
  if (hs != s->H)
    return ir_node_error(g, n, "attribute 'hidden_size' is %lld but R's last dim is %lld", (long long)hs,
                         (long long)s->H);
  if (s->H <= 0) return ir_node_error(g, n, "hidden_size must be positive");
  int64_t D = s->ndir, G = s->gates, H = s->H, Bt = s->B;
  int64_t wd[3] = {D, G * H, s->I}, rd[3] = {D, G * H, H}, bd[2] = {D, 2 * G * H}, sd[1] = {Bt}, pd[2] = {D, 3 * H};
  int64_t hd[3] = {D, Bt, H};
  if (s->layout) hd[0] = Bt, hd[1] = D;
  if (want_dims(g, n, 1, "W", 3, wd) || want_dims(g, n, 2, "R", 3, rd) || want_dims(g, n, 3, "B", 2, bd) ||
      want_dims(g, n, 4, "sequence_lens", 1, sd) || want_dims(g, n, 5, "initial_h", 3, hd) ||
      (n->op == OP_LSTM && (want_dims(g, n, 6, "initial_c", 3, hd) || want_dims(g, n, 7, "P", 2, pd))))
    return -1;
  for (int i = 1; i < n->nin; i++) {
    const Value *v = n->in[i];
    if (!v) continue;
    bool ok = i == 4 ? v->dtype == DT_INT32 || v->dtype == DT_INT64 : v->dtype == x->dtype;
    if (!ok)
      return ir_node_error(g, n, "input %d has type %s; expected %s", i, dtype_name(v->dtype),
                           i == 4 ? "int32" : dtype_name(x->dtype));
  }
  if (!dtype_is_float(x->dtype))
    return ir_node_error(g, n, "X has type %s; expected a float type", dtype_name(x->dtype));
  return rnn_acts(g, n, s);
}

int shape_rnn(Graph *g, Node *n) {
  IrRnn s;
  if (ir_rnn_spec(g, n, &s)) return -1;
  int64_t D = s.ndir;
  int64_t yd[4] = {s.T, D, s.B, s.H}, hd[3] = {D, s.B, s.H};
  if (s.layout) {
    yd[0] = s.B, yd[1] = s.T, yd[2] = D;
    hd[0] = s.B, hd[1] = D;
  }
  for (int i = 0; i < n->nout; i++) {
    Value *v = n->out[i];
    if (!v) continue;
    v->dtype = n->in[0]->dtype;
    if (i == 0) ir_value_set_shape(v, 4, yd);
    else ir_value_set_shape(v, 3, hd);
  }
  return 0;
}
