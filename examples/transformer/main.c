/* transformer — a BERT-style text classifier with the compiled encoder inside (onnxc_add_model).
 * The model is examples/make_models.py's `encoder`: embeddings, 2 layers of 4-head self-attention
 * and GELU feed-forward with LayerNorm, mean-pooled into 3 logits. Weights are random: the point
 * is the plumbing, not the predictions.
 *
 *   transformer WORD...        words hashed into the 100-token vocabulary (id 0 pads to 16)
 *   transformer --ids IDS.npy  1x16 int64 token ids */
#include <stdio.h>
#include <string.h>

#include "encoder.h"
#include "npy_lite.h"

#define SEQ encoder_INPUT_0_NUMEL

static int64_t token(const char *w) {
  uint32_t h = 2166136261u;
  for (; *w; w++) h = (h ^ (unsigned char)*w) * 16777619u;
  return 1 + (int64_t)(h % 99u);
}

int main(int argc, char **argv) {
  static int64_t ids[SEQ];
  static float logits[encoder_OUTPUT_0_NUMEL], states[encoder_OUTPUT_1_NUMEL];
  if (argc == 3 && !strcmp(argv[1], "--ids")) {
    if (npy_load(argv[2], "<i8", ids, sizeof ids)) return 1;
  } else
    for (int i = 1; i < argc && i <= SEQ; i++) ids[i - 1] = token(argv[i]);
  encoder *m;
  onnxc_options opts = {.threads = 2};
  if (encoder_create(&m, &opts)) {
    fprintf(stderr, "transformer: %s\n", encoder_error(NULL));
    return 1;
  }
  const void *in[] = {ids};
  void *out[] = {logits, states};
  int st = encoder_run(m, in, out);
  if (st) fprintf(stderr, "transformer: %s\n", encoder_error(m));
  encoder_destroy(m);
  if (st) return 1;
  for (int i = 0; i < encoder_OUTPUT_0_NUMEL; i++) printf("logit %d: %.6f\n", i, logits[i]);
  return 0;
}
