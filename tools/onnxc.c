/* onnxc.c — the command-line interface (placeholder; being written). */
#include <stdio.h>

int main(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "onnxc: not built yet\n");
  return 2;
}
