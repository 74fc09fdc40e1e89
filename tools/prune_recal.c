/* prune_recal.c — onnxc prune --recalibrate: measures each pruned Conv/Gemm output channel's mean
 * and standard deviation in the dense model and in the pruned one on the samples, and lets the
 * library scale and shift the channel back (onnxc_session_layer_rescale).  Layer by layer in
 * node order: each layer is measured in the pruned model as corrected so far (one compile per
 * layer), so it makes up for what the layers before it still get wrong.  Correcting every layer
 * from one whole-model measurement and repeating does not converge: a layer measured before its
 * inputs were corrected is corrected again by them (the scale errors multiply; measured on the
 * prune test's deep CNN, the mean |log sd ratio| went 0.52, 0.99, 0.23, 0.24 over four passes and
 * the cosine fell). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune_recal.h"

typedef struct RecalLayer {
  int32_t idx;      /* the layer's index in the pruned session */
  const char *name; /* its output value */
  int64_t c;        /* output channels (axis 1 of the output) */
  double *s1, *s2, cnt;
  double *mean_d, *sd_d; /* the dense model's */
} RecalLayer;

/* adds sample output t (axis 1: the channels) into l's sums */
static int accumulate(RecalLayer *l, const Tensor *t) {
  if (t->dtype != DT_FLOAT || t->rank < 2 || t->dims[1] != l->c) return -1;
  int64_t outer = t->dims[0], inner = tensor_numel(t) / (outer * l->c);
  const float *x = t->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t c = 0; c < l->c; c++) {
      const float *p = x + (o * l->c + c) * inner;
      double a = 0, b = 0;
      for (int64_t i = 0; i < inner; i++) a += p[i], b += (double)p[i] * p[i];
      l->s1[c] += a, l->s2[c] += b;
    }
  l->cnt += (double)(outer * inner);
  return 0;
}

/* the sums turned into means (s1) and standard deviations (s2) */
static void finish(RecalLayer *l) {
  for (int64_t c = 0; c < l->c; c++) {
    double m = l->s1[c] / l->cnt, v = l->s2[c] / l->cnt - m * m;
    l->s1[c] = m, l->s2[c] = v > 0 ? sqrt(v) : 0;
  }
}

static int output_index(onnxc_session *q, const char *name) {
  for (int j = 0; j < onnxc_session_num_outputs(q); j++) {
    onnxc_value_info vi;
    if (!onnxc_session_output_info(q, j, &vi) && !strcmp(vi.name, name)) return j;
  }
  return -1;
}

/* runs model on the samples with every layer's output kept; the layers' statistics set (-1 printed) */
static int measure(const char *model, const RecalCfg *cfg, RecalLayer *ls, int nl) {
  onnxc_session *q = tool_open(model, cfg->shapes, cfg->nshapes, cfg->threads);
  tool_deadline_disarm();
  int rc = -1, nout = 0;
  Tensor *outs = NULL;
  char err[1024];
  if (!q) return -1;
  for (int i = 0; i < nl; i++) {
    memset(ls[i].s1, 0, sizeof(double) * (size_t)ls[i].c), memset(ls[i].s2, 0, sizeof(double) * (size_t)ls[i].c);
    ls[i].cnt = 0;
    if (onnxc_session_add_output(q, ls[i].name)) goto fail;
  }
  if (tool_prepare(q, model, cfg->ins, cfg->nin)) goto out;
  nout = onnxc_session_num_outputs(q);
  if (!(outs = calloc((size_t)nout, sizeof *outs)) || tool_alloc_outputs(q, outs, err, sizeof err)) {
    fprintf(stderr, "onnxc prune: --recalibrate: %s\n", outs ? err : "out of memory");
    goto out;
  }
  for (int k = 0; k < cfg->n; k++) {
    if (tool_run_once(q, cfg->ins + k * cfg->nin, outs)) goto fail;
    for (int i = 0; i < nl; i++) {
      int j = output_index(q, ls[i].name);
      if (j < 0 || accumulate(&ls[i], &outs[j])) {
        fprintf(stderr, "onnxc prune: --recalibrate: layer output '%s' is not float with %lld channels on axis 1\n",
                ls[i].name, (long long)ls[i].c);
        goto out;
      }
    }
  }
  for (int i = 0; i < nl; i++) finish(&ls[i]);
  rc = 0;
  goto out;
fail:
  fprintf(stderr, "onnxc prune: --recalibrate: %s: %s\n", model, onnxc_session_error(q));
out:
  for (int j = 0; outs && j < nout; j++) free(outs[j].data);
  free(outs);
  onnxc_session_free(q);
  return rc;
}

/* the pruned Conv/Gemm layers of s (MatMul has no bias to shift; an LSTM/GRU/RNN's outputs are not
 * its weights' channels) */
static RecalLayer *recal_layers(onnxc_session *s, int *nl) {
  int32_t n = onnxc_session_num_layers(s);
  RecalLayer *ls = calloc((size_t)n + 1, sizeof *ls);
  *nl = 0;
  for (int32_t i = 0; ls && i < n; i++) {
    onnxc_layer_info li;
    if (onnxc_session_layer_info(s, i, &li) || !li.pruned || !strcmp(li.op, "MatMul") || !strcmp(li.op, "LSTM") ||
        !strcmp(li.op, "GRU") || !strcmp(li.op, "RNN"))
      continue;
    RecalLayer *l = &ls[(*nl)++];
    l->idx = i, l->name = li.output, l->c = li.channels_after;
    size_t b = sizeof(double) * (size_t)l->c;
    l->s1 = malloc(b), l->s2 = malloc(b), l->mean_d = malloc(b), l->sd_d = malloc(b);
    if (!l->s1 || !l->s2 || !l->mean_d || !l->sd_d) return ls; /* checked by the caller */
  }
  return ls;
}

static void free_layers(RecalLayer *ls, int nl) {
  for (int i = 0; ls && i < nl; i++) free(ls[i].s1), free(ls[i].s2), free(ls[i].mean_d), free(ls[i].sd_d);
  free(ls);
}

/* corrects layers ls[0..nl) of s by the pruned model's statistics in them; adds how far they
 * were into dev[0] (sum of |log(sd pruned / sd dense)|), dev[1] (|mean difference| / sd dense) and
 * dev[2] (channels) */
static int correct(onnxc_session *s, RecalLayer *ls, int nl, double *dev) {
  for (int i = 0; i < nl; i++) {
    RecalLayer *l = &ls[i];
    float *scale = malloc(sizeof(float) * (size_t)l->c), *shift = malloc(sizeof(float) * (size_t)l->c);
    if (!scale || !shift) return free(scale), free(shift), fprintf(stderr, "onnxc prune: out of memory\n"), -1;
    for (int64_t c = 0; c < l->c; c++)
      if (l->sd_d[c] > 0 && l->s2[c] > 0) {
        dev[0] += fabs(log(l->s2[c] / l->sd_d[c])), dev[1] += fabs(l->s1[c] - l->mean_d[c]) / l->sd_d[c];
        dev[2]++;
      }
    onnxc_prune_recal_factors(l->c, l->mean_d, l->sd_d, l->s1, l->s2, 0.5, 2, scale, shift);
    int rc = onnxc_session_layer_rescale(s, l->idx, scale, shift);
    free(scale), free(shift);
    if (rc) return fprintf(stderr, "onnxc prune: --recalibrate: %s\n", onnxc_session_error(s)), -1;
  }
  return 0;
}

/* cfg->passes sweeps over the layers, each corrected as measured in the model corrected so far */
static int measure_sweeps(onnxc_session *s, const char *tmp, const RecalCfg *cfg, RecalLayer *ls, int nl) {
  for (int p = 1; p <= cfg->passes; p++) {
    double dev[3] = {0, 0, 0};
    for (int i = 0; i < nl; i++) {
      if (onnxc_session_write_model(s, tmp)) {
        fprintf(stderr, "onnxc prune: %s\n", onnxc_session_error(s));
        return -1;
      }
      if (measure(tmp, cfg, &ls[i], 1) || correct(s, &ls[i], 1, dev)) return -1;
    }
    printf("recalibration pass %d: %d layers; before each was corrected, per channel: mean |log(sd pruned / "
           "sd dense)| %.4f, mean |mean pruned - mean dense| / sd dense %.4f\n",
           p, nl, dev[2] ? dev[0] / dev[2] : 0, dev[2] ? dev[1] / dev[2] : 0);
  }
  return 0;
}

int tool_prune_recalibrate(onnxc_session *s, const char *model, const char *tmp, const RecalCfg *cfg) {
  int nl = 0, rc = -1;
  RecalLayer *ls = recal_layers(s, &nl);
  bool ok = ls != NULL;
  for (int i = 0; ok && i < nl; i++) ok = ls[i].s1 && ls[i].s2 && ls[i].mean_d && ls[i].sd_d;
  if (!ok) {
    fprintf(stderr, "onnxc prune: out of memory\n");
    goto out;
  }
  if (!nl) {
    printf("recalibration: no pruned Conv or Gemm layer\n");
    rc = 0;
    goto out;
  }
  /* every model measured runs once: keep it out of the on-disk cache (a ResNet-50 entry is 160 MB;
   * one per layer would push every other entry out) */
  const char *nc = getenv("ONNXC_NO_CACHE");
  char *saved = nc ? strdup(nc) : NULL;
  setenv("ONNXC_NO_CACHE", "1", 1);
  rc = measure(model, cfg, ls, nl);
  for (int i = 0; !rc && i < nl; i++) {
    memcpy(ls[i].mean_d, ls[i].s1, sizeof(double) * (size_t)ls[i].c);
    memcpy(ls[i].sd_d, ls[i].s2, sizeof(double) * (size_t)ls[i].c);
  }
  rc = rc ? rc : measure_sweeps(s, tmp, cfg, ls, nl);
  if (saved) setenv("ONNXC_NO_CACHE", saved, 1);
  else unsetenv("ONNXC_NO_CACHE");
  free(saved);
out:
  free_layers(ls, nl);
  return rc;
}
