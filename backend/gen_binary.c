/* gen_binary.c — elementwise ops with numpy broadcasting (minimal; being completed). */
#include "gen_util.h"

static KV f_binary(KB *kb, KV *v, int lanes, void *ud) {
  Node *n = ud;
  switch (n->op) {
  case OP_Add: return kb_add(kb, v[0], v[1]);
  case OP_Sub: return kb_sub(kb, v[0], v[1]);
  case OP_Mul: return kb_mul(kb, v[0], v[1]);
  case OP_Div: return kb_div(kb, v[0], v[1], !dtype_is_signed(n->in[0]->dtype));
  default: return NULL;
  }
}

int gen_binary(GenCtx *c) {
  int idx[2] = {0, 1};
  switch (c->n->op) {
  case OP_Add:
  case OP_Sub:
  case OP_Mul:
  case OP_Div: gen_eltwise_node(c, 2, idx, f_binary, c->n); return 0;
  default: return ir_node_error(c->g, c->n, "code generation not implemented yet");
  }
}
