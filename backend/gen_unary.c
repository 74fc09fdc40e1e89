/* gen_unary.c — elementwise ops with one tensor input (minimal; being completed). */
#include "gen_util.h"

static KV f_unary(KB *kb, KV *v, int lanes, void *ud) {
  Node *n = ud;
  KV x = v[0];
  KT t = kb_type(kb, x);
  switch (n->op) {
  case OP_Identity:
  case OP_Dropout: return x;
  case OP_Relu: return kb_is_float(t.e) ? kb_max(kb, x, kb_float(kb, t, 0), false) : kb_max(kb, x, kb_int(kb, t, 0), false);
  case OP_Neg: return kb_neg(kb, x);
  case OP_Abs: return kb_abs(kb, x);
  default: return NULL;
  }
}

int gen_unary(GenCtx *c) {
  int idx[1] = {0};
  switch (c->n->op) {
  case OP_Identity:
  case OP_Dropout:
  case OP_Relu:
  case OP_Neg:
  case OP_Abs: gen_eltwise_node(c, 1, idx, f_unary, c->n); return 0;
  default: return ir_node_error(c->g, c->n, "code generation not implemented yet");
  }
}
