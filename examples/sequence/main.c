/* sequence — a sequence classifier with a compiled 2-layer LSTM inside (onnxc_add_model).
 * The model is examples/make_models.py's `lstm`: LSTM cells written from primitives and unrolled
 * over 12 steps by torch tracing (the ONNX LSTM op is not used).
 *
 *   sequence [X.npy]   X: 12x1x16 float32 (default: a sine-wave sequence); prints the 5 logits */
#include <math.h>
#include <stdio.h>

#include "lstm.h"
#include "npy_lite.h"

int main(int argc, char **argv) {
  static float x[lstm_INPUT_0_NUMEL], logits[lstm_OUTPUT_0_NUMEL], hidden[lstm_OUTPUT_1_NUMEL];
  if (argc > 1) {
    if (npy_load(argv[1], "<f4", x, sizeof x)) return 1;
  } else
    for (int i = 0; i < lstm_INPUT_0_NUMEL; i++) x[i] = sinf(0.3f * (float)i);
  lstm *m;
  if (lstm_create(&m, NULL)) {
    fprintf(stderr, "sequence: %s\n", lstm_error(NULL));
    return 1;
  }
  const void *in[] = {x};
  void *out[] = {logits, hidden};
  int st = lstm_run(m, in, out);
  if (st) fprintf(stderr, "sequence: %s\n", lstm_error(m));
  lstm_destroy(m);
  if (st) return 1;
  int best = 0;
  for (int i = 0; i < lstm_OUTPUT_0_NUMEL; i++) {
    printf("logit %d: %.6f\n", i, logits[i]);
    if (logits[i] > logits[best]) best = i;
  }
  printf("class: %d\n", best);
  return 0;
}
