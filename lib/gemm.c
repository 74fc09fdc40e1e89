/* gemm.c — the GEMM provider option (`--gemm own|libxsmm`, ISSUE14 Deliver 4): who computes a
 * session's fp32 GEMMs (backend/gen/gen_xsmm.c); and their precision (`--fp-mode fp32|bf16`,
 * Deliver 9: bf16 operands, fp32 sums, on AVX512-BF16; backend/gen/gen_gemm.c).
 *
 * libxsmm is reached through onnxc_xsmm_sgemm (runtime/xsmm/onnxc_xsmm.c, cmake/xsmm.cmake),
 * which the CLI and libonnxc.so carry when built with libxsmm; JIT-compiled code resolves it in
 * the process, so the provider is available exactly when the process has that symbol (a program
 * linking libonnxc.a adds libonnxc_xsmm.a and libxsmm itself). */
#include <dlfcn.h>
#include <string.h>

#include "lib.h"

static const char *const provider_names[] = {"own", "libxsmm"};
#define NPROVIDERS (int)(sizeof provider_names / sizeof *provider_names)

static int provider_index(const char *name) {
  for (int i = 0; name && i < NPROVIDERS; i++)
    if (!strcmp(name, provider_names[i])) return i;
  return -1;
}

int onnxc_gemm_available(const char *provider) {
  int p = provider_index(provider);
  if (p < 0) return 0;
  return p == 0 || dlsym(RTLD_DEFAULT, "onnxc_xsmm_sgemm") != NULL;
}

int onnxc_options_set_gemm(onnxc_session_options *o, const char *provider) {
  int p = provider_index(provider);
  if (!o || p < 0 || !onnxc_gemm_available(provider)) return ONNXC_ERR_ARGUMENT;
  o->gemm = p;
  return ONNXC_OK;
}

const char *lib_gemm_name(int provider) {
  return provider >= 0 && provider < NPROVIDERS ? provider_names[provider] : "?";
}

/* the provider's line for `onnxc info` and the compile summary */
const char *onnxc_gemm_describe(const char *provider) {
  int p = provider_index(provider);
  if (p == 0) return "onnxc's own GEMM kernels";
#ifdef ONNXC_XSMM_VERSION
  if (p == 1 && onnxc_gemm_available(provider)) return "libxsmm " ONNXC_XSMM_VERSION " (JIT kernels, linked)";
#endif
  return p == 1 ? "libxsmm (not in this build of onnxc: install libxsmm-dev and rebuild)" : NULL;
}

/* ---- --fp-mode ---- */
static const char *const fp_mode_names[] = {"fp32", "bf16"}; /* IR_FP_FP32, IR_FP_BF16 */

int onnxc_options_set_fp_mode(onnxc_session_options *o, const char *mode) {
  for (int i = 0; o && mode && i < 2; i++)
    if (!strcmp(mode, fp_mode_names[i])) {
      o->fp_mode = i;
      return ONNXC_OK;
    }
  return ONNXC_ERR_ARGUMENT;
}

const char *lib_fp_mode_name(int mode) { return mode == IR_FP_BF16 ? "bf16" : "fp32"; }

int onnxc_fp_mode_host_ok(const char *mode) {
  if (mode && !strcmp(mode, "fp32")) return 1;
  if (!mode || strcmp(mode, "bf16")) return 0;
  Target t;
  char err[256];
  return !be_target_get("native", &t, err, sizeof err) && t.has_bf16;
}
