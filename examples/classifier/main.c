/* classify — an image classifier with a CNN compiled into the program (onnxc compile --emit lib;
 * see CMakeLists.txt: onnxc_add_model(classify cnn/model.onnx NAME cnn)).
 *
 *   classify IMAGE.npy      a 1x1x28x28 float32 image; prints the top 3 classes */
#include <stdio.h>

#include "cnn.h"
#include "npy_lite.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: classify IMAGE.npy\n");
    return 2;
  }
  static float image[cnn_INPUT_0_NUMEL], probs[cnn_OUTPUT_0_NUMEL];
  if (npy_load(argv[1], "<f4", image, sizeof image)) return 1;
  cnn *m;
  onnxc_options opts = {.threads = 1};
  if (cnn_create(&m, &opts)) {
    fprintf(stderr, "classify: %s\n", cnn_error(NULL));
    return 1;
  }
  const void *in[] = {image};
  void *out[] = {probs};
  if (cnn_run(m, in, out)) {
    fprintf(stderr, "classify: %s\n", cnn_error(m));
    cnn_destroy(m);
    return 1;
  }
  cnn_destroy(m);
  int used[cnn_OUTPUT_0_NUMEL] = {0};
  for (int k = 0; k < 3; k++) {
    int best = -1;
    for (int c = 0; c < cnn_OUTPUT_0_NUMEL; c++)
      if (!used[c] && (best < 0 || probs[c] > probs[best])) best = c;
    used[best] = 1;
    printf("class %d: p=%.6f\n", best, probs[best]);
  }
  return 0;
}
