/* onnxc_xsmm.c — libxsmm as a GEMM provider (ISSUE14 Deliver 4; `--gemm libxsmm`).
 *
 * Code generated with the libxsmm provider (backend/gen/gen_xsmm.c) calls onnxc_xsmm_sgemm once
 * per task of a GEMM, for a block of C.  This file is not in the runtime archive (libonnxc_rt.a
 * stays libc-only): it is its own archive, libonnxc_xsmm.a, linked with libxsmm into the onnxc
 * CLI and libonnxc (for JIT-compiled code) and into a library `onnxc compile --gemm libxsmm`
 * builds.  The names are onnxc_* so that libonnxc.so's version script exports them. */
#include <stdint.h>
#include <libxsmm.h>

/* The C tile one libxsmm kernel call computes: 64 columns (4 AVX-512 vectors, libxsmm's m) by
 * 64 rows (its n), over all of K: bench/gemm measured this against onnxc's own kernels. */
#define XSMM_TILE 64

/* rows × cols of C from rows of A and cols of B through one dispatched kernel per tile shape;
 * libxsmm is column-major, so C' = B'·A' with C' the cols × rows column-major view of C */
static int32_t xsmm_block(int64_t rows, int64_t cols, int64_t k, const float *a, int64_t lda, const float *b,
                          int64_t ldb, float *c, int64_t ldc) {
  const float alpha = 1, beta = 0;
  libxsmm_blasint la = (libxsmm_blasint)ldb, lb = (libxsmm_blasint)lda, lc = (libxsmm_blasint)ldc;
  libxsmm_smmfunction f = libxsmm_smmdispatch((libxsmm_blasint)cols, (libxsmm_blasint)rows, (libxsmm_blasint)k, &la,
                                              &lb, &lc, &alpha, &beta, NULL, NULL);
  if (!f) return -1;
  f(b, a, c);
  return 0;
}

/* C(m × n, row stride ldc) = A(m × k, row stride lda) · B(k × n, row stride ldb), fp32, row-major.
 * 0, or -1 when libxsmm has no kernel for a tile (the generated code returns that status). */
int32_t onnxc_xsmm_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                         float *c, int64_t ldc) {
  for (int64_t i = 0; i < m; i += XSMM_TILE) {
    int64_t rows = m - i < XSMM_TILE ? m - i : XSMM_TILE;
    for (int64_t j = 0; j < n; j += XSMM_TILE) {
      int64_t cols = n - j < XSMM_TILE ? n - j : XSMM_TILE;
      if (xsmm_block(rows, cols, k, a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc)) return -1;
    }
  }
  return 0;
}

