/* gen_contract.c — code generation for MatMul and Gemm (F_CONTRACT, on the GEMM engine, gen_gemm.c);
 * the family's other generators are gen_conv.c (Conv, ConvTranspose) and gen_einsum.c.  Each op's
 * ops.def row names its generator. */
#include <string.h>

#include "gen_binary_conv.h"
#include "gen_cluster.h"
#include "gen_contract.h"

static bool is_const(const Value *v) { return v && v->kind == VK_CONST && v->data; }

static int64_t numel(const Value *v) {
  int64_t n = ir_value_numel(v);
  return n < 0 ? 0 : n;
}

/* A constant B (else a constant A) is packed at compile time, and not kept in the weight blob. */
static int emit_with_const_operand(GenCtx *c, GemmSpec *s, const Value *a, const Value *b, const Value *y) {
  if (c->n->binary && gen_binary_gemm(c)) return 0; /* ±α columns on a Sign input (passes/binary.c) */
  if (is_const(b)) {
    s->b_const = b;
    c->const_unused |= 2u;
  }
  if (is_const(a) && !is_const(b)) {
    s->a_const = a;
    c->const_unused |= 1u;
  }
  gemm_set_epi(c, s, y);
  if (s->b_const && gemm_cluster_emit(c, s)) return 0; /* gen_cluster.c: clustered B, few rows */
  if (c->n->sparse && s->b_const && gemm_sparse_emit(c, s)) return 0; /* gen_sparse.c, when it pays */
  gemm_emit(c, s);
  return 0;
}

/* ---- MatMul: numpy semantics (1-D promotion, batch broadcasting) ---- */
int gen_matmul(GenCtx *c) {
  Node *n = c->n;
  if (contract_outputs_static(c)) return -1;
  const Value *a = n->in[0], *b = n->in[1], *y = n->out[0];
  if (numel(y) == 0) return 0;
  GemmSpec s;
  memset(&s, 0, sizeof s);
  s.dt = y->dtype;
  s.K = a->dims[a->rank - 1];
  s.M = a->rank > 1 ? a->dims[a->rank - 2] : 1;
  s.N = b->rank > 1 ? b->dims[b->rank - 1] : 1;
  int bd = y->rank - (a->rank > 1) - (b->rank > 1);
  int ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
  int64_t ast[IR_MAX_RANK], bst[IR_MAX_RANK];
  gen_strides(a->rank, a->dims, ast);
  gen_strides(b->rank, b->dims, bst);
  s.nbd = bd;
  int64_t cst = s.M * s.N;
  for (int d = bd - 1; d >= 0; d--) {
    s.bdims[d] = y->dims[d];
    int ka = d - (bd - ba), kb = d - (bd - bb);
    s.a_bs[d] = ka >= 0 && a->dims[ka] != 1 ? ast[ka] : 0;
    s.b_bs[d] = kb >= 0 && b->dims[kb] != 1 ? bst[kb] : 0;
    s.c_bs[d] = cst;
    cst *= y->dims[d];
  }
  /* B shared by the whole batch and A contiguous: one GEMM with M' = batch · M */
  bool fold = bd > 0;
  int64_t expect = s.M * s.K;
  for (int d = bd - 1; d >= 0 && fold; d--) {
    fold = s.b_bs[d] == 0 && (s.a_bs[d] == expect || s.bdims[d] == 1);
    expect *= s.bdims[d];
  }
  if (fold) {
    for (int d = 0; d < bd; d++) s.M *= s.bdims[d];
    s.nbd = 0;
  }
  s.a = kb_buf(c->kb, 0);
  s.a_rs = s.K;
  s.a_cs = 1;
  s.b = kb_buf(c->kb, 1);
  s.b_rs = s.N;
  s.b_cs = 1;
  s.c = kb_buf(c->kb, n->nin);
  s.ldc = s.N;
  s.alpha = 1.0;
  return emit_with_const_operand(c, &s, a, b, y);
}

/* ---- Gemm: Y = alpha · A' · B' + beta · C ---- */
int gen_gemm(GenCtx *c) {
  Node *n = c->n;
  if (contract_outputs_static(c)) return -1;
  const Value *a = n->in[0], *b = n->in[1], *cc = n->nin > 2 ? n->in[2] : NULL, *y = n->out[0];
  if (numel(y) == 0) return 0;
  int ta = (int)ir_attr_int(n, "transA", 0), tb = (int)ir_attr_int(n, "transB", 0);
  GemmSpec s;
  memset(&s, 0, sizeof s);
  s.dt = y->dtype;
  s.M = y->dims[0];
  s.N = y->dims[1];
  s.K = a->dims[ta ? 0 : 1];
  s.a = kb_buf(c->kb, 0);
  s.a_rs = ta ? 1 : s.K;
  s.a_cs = ta ? s.M : 1;
  s.b = kb_buf(c->kb, 1);
  s.b_rs = tb ? 1 : s.N;
  s.b_cs = tb ? s.K : 1;
  s.c = kb_buf(c->kb, n->nin);
  s.ldc = s.N;
  s.alpha = ir_attr_float(n, "alpha", 1.0f);
  s.beta = ir_attr_float(n, "beta", 1.0f);
  if (cc && s.beta != 0.0 && numel(cc) > 0) {
    s.bias = kb_buf(c->kb, 2);
    if (cc->rank == 2) {
      s.bias_rs = cc->dims[0] == 1 ? 0 : cc->dims[1];
      s.bias_cs = cc->dims[1] == 1 ? 0 : 1;
    } else if (cc->rank == 1) {
      s.bias_cs = cc->dims[0] == 1 ? 0 : 1;
    }
  }
  return emit_with_const_operand(c, &s, a, b, y);
}
