/* test_names.c — names as shown (ir/names.c: escaped, shortened) and attributes against their
 * schema (ir/attrs.c, ir/attrs.def). */
#include <criterion/criterion.h>
#include <string.h>

#include "testutil.h"

Test(names, escape_control_bytes_quotes_and_backslashes) {
  char buf[64];
  cr_assert_eq(ir_name_escape("a\nb\t\"c\\\x1b", buf, sizeof buf), strlen("a\\nb\\t\\\"c\\\\\\033"));
  cr_assert_str_eq(buf, "a\\nb\\t\\\"c\\\\\\033");
  cr_assert_str_eq((ir_name_escape("h\xc3\xa9", buf, sizeof buf), buf), "h\xc3\xa9"); /* UTF-8 kept */
  /* a C literal: bytes >= 0x80 and '?' too ("??/" is a trigraph under -std=c11) */
  ir_name_escape_c("?" "?/\xc3", buf, sizeof buf);
  cr_assert_str_eq(buf, "\\?\\?/\\303");
  /* snprintf-like: the length needed, the output cut (whole escapes only) and terminated */
  char small[4];
  cr_assert_eq(ir_name_escape("\n\n\n", small, sizeof small), 6);
  cr_assert_str_eq(small, "\\n");
}

Test(names, long_names_are_shortened_in_messages) {
  static char big[1 << 20];
  memset(big, 'n', sizeof big - 1);
  char buf[IR_NAME_MSG];
  const char *m = ir_name_msg(big, buf, sizeof buf);
  cr_assert_lt(strlen(m), sizeof buf);
  cr_assert(strstr(m, "...(1048575 bytes)"), "%s", m);
  cr_assert_str_eq(ir_name_msg("short\n", buf, sizeof buf), "short\\n");
  /* a UTF-8 character is not cut in half */
  char u[400] = "";
  for (int i = 0; i < 100; i++) strcat(u, "\xc3\xa9");
  m = ir_name_msg(u, buf, sizeof buf);
  const char *dots = strstr(m, "...(");
  cr_assert(dots && ((unsigned char)dots[-1] == 0xa9), "%s", m);
}

Test(names, messages_escaped_in_place) {
  char buf[32] = "node 'a\nb' (Relu): \"q\"";
  ir_msg_escape(buf, sizeof buf);
  cr_assert_str_eq(buf, "node 'a\\nb' (Relu): \"q\"");
  char cut[12] = "\x01\x01\x01\x01";
  ir_msg_escape(cut, sizeof cut); /* 4 escapes of 4 bytes do not fit in 11: whole escapes only */
  cr_assert_str_eq(cut, "\\001\\001");
}

static Node *node_with(Graph *g, Op op, Attr *a, int n) {
  Node *nd = ir_node_new(g, op, "n", ir_ops[op].min_in, 1);
  nd->attrs = a;
  nd->nattr = n;
  return nd;
}

Test(attrs, types_and_required_ones_checked) {
  Graph *g = ir_graph_new();
  char msg[256];
  float fl[2] = {2, 2};
  Attr strides = {.name = "strides", .type = AT_FLOATS, .n = 2, .floats = fl};
  cr_assert_eq(ir_attrs_check(node_with(g, OP_Conv, &strides, 1), 13, msg, sizeof msg), -1);
  cr_assert_str_eq(msg, "attribute 'strides' is FLOATS, expected INTS");
  Attr axis = {.name = "axis", .type = AT_STRING, .s = "1"};
  cr_assert_eq(ir_attrs_check(node_with(g, OP_Concat, &axis, 1), 13, msg, sizeof msg), -1);
  cr_assert_str_eq(msg, "attribute 'axis' is STRING, expected INT");
  cr_assert_eq(ir_attrs_check(node_with(g, OP_Concat, NULL, 0), 13, msg, sizeof msg), -1);
  cr_assert_str_eq(msg, "required attribute 'axis' (INT) is missing");
  cr_assert_eq(ir_attrs_check(node_with(g, OP_Concat, NULL, 0), 1, msg, sizeof msg), 0); /* optional in opset 1 */
  Attr to = {.name = "to", .type = AT_STRING, .s = "FLOAT"};
  cr_assert_eq(ir_attrs_check(node_with(g, OP_Cast, &to, 1), 5, msg, sizeof msg), 0); /* a STRING before opset 6 */
  cr_assert_eq(ir_attrs_check(node_with(g, OP_Cast, &to, 1), 13, msg, sizeof msg), -1);
  Attr unknown = {.name = "made_up", .type = AT_FLOAT};
  cr_assert_eq(ir_attrs_check(node_with(g, OP_Relu, &unknown, 1), 13, msg, sizeof msg), 0);
  ir_graph_free(g);
}
