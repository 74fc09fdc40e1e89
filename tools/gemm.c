/* gemm.c — `--gemm own|libxsmm|auto` (run, bench, compile): the GEMM provider of the session's fp32 GEMMs
 * (onnxc_options_set_gemm, lib/gemm.c); `--fp-mode fp32|bf16` (run, bench, compile): their
 * precision (onnxc_options_set_fp_mode). */
#include <stdio.h>
#include <string.h>

#include "tool.h"

static const char *gemm_provider; /* --gemm NAME; NULL: the library's default (own) */

int tool_gemm_flag(const char *cmd, int argc, char **argv, int *i) {
  if (strcmp(argv[*i], "--gemm")) return 0;
  const char *v = *i + 1 < argc ? argv[++*i] : "";
  if (!onnxc_gemm_describe(v)) {
    fprintf(stderr, "onnxc %s: --gemm: unknown provider '%s' (own, libxsmm or auto)\n", cmd, v);
    return -1;
  }
  if (!onnxc_gemm_available(v)) {
    fprintf(stderr, "onnxc %s: --gemm %s: %s\n", cmd, v, onnxc_gemm_describe(v));
    return -1;
  }
  gemm_provider = v;
  return 1;
}

int tool_gemm_options_to(onnxc_session_options *op) {
  return gemm_provider ? onnxc_options_set_gemm(op, gemm_provider) : ONNXC_OK;
}

const char *tool_gemm_provider(void) { return gemm_provider ? gemm_provider : "own"; }

static const char *fp_mode; /* --fp-mode NAME; NULL: fp32 */

int tool_fp_mode_flag(const char *cmd, int argc, char **argv, int *i) {
  if (strcmp(argv[*i], "--fp-mode")) return 0;
  const char *v = *i + 1 < argc ? argv[++*i] : "";
  if (strcmp(v, "fp32") && strcmp(v, "bf16")) {
    fprintf(stderr, "onnxc %s: --fp-mode: unknown mode '%s' (fp32 or bf16)\n", cmd, v);
    return -1;
  }
  fp_mode = v;
  return 1;
}

int tool_fp_mode_options_to(onnxc_session_options *op) {
  return fp_mode ? onnxc_options_set_fp_mode(op, fp_mode) : ONNXC_OK;
}
