/* prune_recal.c — recalibrating a pruned layer's output statistics (onnxc prune --recalibrate).
 * Pruning without fine-tuning shrinks and shifts each layer's outputs, and the shifts compound
 * through a deep network.  The caller measures each output channel's mean and standard deviation
 * in the dense and the pruned model on a few samples; each channel is then scaled and shifted
 * back: W'[c] = a_c W[c], b'[c] = a_c b[c] + (mu_dense - a_c mu_pruned), a_c = sd_dense / sd_pruned.
 * Zeros stay zeros, so the sparsity and its structure are unchanged. */
#include <math.h>
#include <string.h>

#include "prune.h"

void onnxc_prune_recal_factors(int64_t n, const double *mean_dense, const double *sd_dense, const double *mean_pruned,
                               const double *sd_pruned, double lo, double hi, float *scale, float *shift) {
  for (int64_t c = 0; c < n; c++) {
    double a = 1;
    /* a constant channel (a dead ReLU's input, a fully pruned filter) has no spread to match */
    if (sd_dense[c] > 1e-6 * (1 + fabs(mean_dense[c])) && sd_pruned[c] > 1e-6 * (1 + fabs(mean_pruned[c])))
      a = sd_dense[c] / sd_pruned[c];
    a = a < lo ? lo : a > hi ? hi : a;
    scale[c] = (float)a;
    shift[c] = (float)(mean_dense[c] - a * mean_pruned[c]);
  }
}

/* the bias of layer l as n floats in a new constant of its own (a bias may be shared), or NULL
 * when it has a shape that is not per output channel */
static float *own_bias(Graph *g, const PruneLayer *l) {
  Node *nd = l->node;
  Value *b = nd->nin > 2 ? nd->in[2] : NULL;
  int64_t bn = b ? ir_value_numel(b) : 0, n = l->n;
  if (b && (b->kind != VK_CONST || !b->data || b->dtype != DT_FLOAT || (bn != n && bn != 1))) return NULL;
  Value *nb = ir_const_new(g, arena_printf(g->arena, "%s_bias_recal", nd->name), DT_FLOAT, 1, &n);
  float *d = nb->data;
  for (int64_t c = 0; b && c < n; c++) d[c] = ((const float *)b->data)[bn == n ? c : 0];
  if (nd->nin < 3) {
    Value **in = arena_alloc(g->arena, 3 * sizeof *in);
    memcpy(in, nd->in, sizeof *in * (size_t)nd->nin);
    nd->in = in, nd->nin = 3;
  }
  nd->in[2] = nb;
  return d;
}

typedef struct RescaleArgs {
  int32_t i;
  const float *scale, *shift;
} RescaleArgs;

static int do_rescale(onnxc_session *s, void *arg) {
  const RescaleArgs *r = arg;
  PruneLayer *pl = &s->prune->layers[r->i], v, *l = &v;
  Node *nd = pl->node;
  /* the view of the weight as it is now (channel pruning replaced it by a smaller one) */
  if (!prune_layer_view(nd, &v)) return lib_fail(s, ONNXC_ERR_ARGUMENT, "rescale: '%s' is not a layer", nd->name);
  double beta = nd->op == OP_Gemm ? ir_attr_float(nd, "beta", 1) : 1;
  if (nd->op == OP_MatMul || beta == 0)
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "rescale: layer '%s' (%s) has no bias to shift", nd->name, ir_ops[nd->op].name);
  float *b = own_bias(s->g, l);
  if (!b) return lib_fail(s, ONNXC_ERR_ARGUMENT, "rescale: layer '%s': its bias is not one value per output channel", nd->name);
  float *w = prune_own(s->g, l->w);
  for (int64_t c = 0; c < l->n; c++) {
    for (int64_t k = 0; k < l->k; k++) w[prune_at(l, k, c)] *= r->scale[c];
    /* Gemm adds beta * C: the shift is divided by beta */
    b[c] = (float)(r->scale[c] * b[c] + r->shift[c] / beta);
  }
  pl->recal = true;
  /* the cache keys code by the model's bytes: the factors join them */
  if (s->model_digest) {
    s->model_digest = ir_hash64(r->scale, sizeof(float) * (size_t)l->n, s->model_digest);
    s->model_digest = ir_hash64(r->shift, sizeof(float) * (size_t)l->n, s->model_digest);
  }
  return ONNXC_OK;
}

int onnxc_session_layer_rescale(onnxc_session *s, int32_t i, const float *scale, const float *shift) {
  if (!s || !scale || !shift) return ONNXC_ERR_ARGUMENT;
  int32_t n = onnxc_session_num_layers(s);
  if (i < 0 || i >= n) return lib_fail(s, ONNXC_ERR_ARGUMENT, "rescale: layer %d: the model has %d layers", i, n);
  if (lib_check_rewritable(s, "rescale")) return ONNXC_ERR_STATE;
  PruneLayer v;
  if (!prune_layer_view(s->prune->layers[i].node, &v)) return lib_fail(s, ONNXC_ERR_ARGUMENT, "rescale: layer %d has no weight", i);
  for (int64_t c = 0; c < v.n; c++)
    if (!(scale[c] > 0) || !isfinite(scale[c]) || !isfinite(shift[c]))
      return lib_fail(s, ONNXC_ERR_ARGUMENT, "rescale: channel %lld: scale must be finite and > 0, shift finite", (long long)c);
  RescaleArgs r = {i, scale, shift};
  return lib_guard(s, do_rescale, &r);
}
