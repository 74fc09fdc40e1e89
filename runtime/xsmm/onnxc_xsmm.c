/* onnxc_xsmm.c — libxsmm as a GEMM provider (ISSUE14 Deliver 4; `--gemm libxsmm`).
 *
 * Code generated with the libxsmm provider (backend/gen/gen_xsmm.c) calls onnxc_xsmm_sgemm once
 * per task of a GEMM, for a block of C.  This file is not in the runtime archive (libonnxc_rt.a
 * stays libc-only): it is its own archive, libonnxc_xsmm.a, linked with libxsmm into the onnxc
 * CLI and libonnxc (for JIT-compiled code; `onnxc compile` does not take --gemm yet, so no
 * compiled library links it).  The names are onnxc_* so that libonnxc.so's version script exports them. */
#include <stdint.h>
#include <libxsmm.h>

/* The C tile one libxsmm kernel call computes: 64 columns (4 AVX-512 vectors, libxsmm's m) by
 * 64 rows (its n), over a K block of at most 256: the tile of B (64 KB) stays in L1/L2 while the
 * row tiles of A's block pass by (all of K per call ran BERT's 128×768×3072 GEMM at half the
 * speed: the 768 KB column of B was read again for every row tile). */
#define XSMM_TILE 64
#define XSMM_KC 256

/* rows × cols of C (+)= rows of A · cols of B over k, through one dispatched kernel; libxsmm is
 * column-major, so C' = B'·A' with C' the cols × rows column-major view of C */
static int32_t xsmm_block(int64_t rows, int64_t cols, int64_t k, const float *a, int64_t lda, const float *b,
                          int64_t ldb, float *c, int64_t ldc, float beta) {
  const float alpha = 1;
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
  int64_t nkb = (k + XSMM_KC - 1) / XSMM_KC, kc = (k + nkb - 1) / nkb; /* even K blocks */
  for (int64_t p = 0; p < k; p += kc) {
    int64_t kl = k - p < kc ? k - p : kc;
    for (int64_t j = 0; j < n; j += XSMM_TILE) {
      int64_t cols = n - j < XSMM_TILE ? n - j : XSMM_TILE;
      for (int64_t i = 0; i < m; i += XSMM_TILE) {
        int64_t rows = m - i < XSMM_TILE ? m - i : XSMM_TILE;
        if (xsmm_block(rows, cols, kl, a + i * lda + p, lda, b + p * ldb + j, ldb, c + i * ldc + j, ldc, p ? 1.0f : 0.0f))
          return -1;
      }
    }
  }
  return 0;
}
