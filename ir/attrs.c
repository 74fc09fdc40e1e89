/* attrs.c — attributes checked against their op's schema (attrs.def): each present attribute has
 * the schema's type, each required one is present.  The frontend calls it once per imported node,
 * so every later ir_attr_* read can trust the type it asks for. */
#include "ir.h"

#include <stdio.h>
#include <string.h>

typedef struct AttrRule {
  Op op;
  const char *name;
  AttrType type;
  int from, to; /* opsets: from <= opset < to (to 0: open) */
  bool required;
} AttrRule;

static const AttrRule rules[] = {
#define A(op, name, type, from, to, req) {OP_##op, #name, AT_##type, from, to, req},
#include "attrs.def"
#undef A
};
enum { NRULES = sizeof rules / sizeof *rules };

const char *ir_attr_type_name(AttrType t) {
  static const char *const names[] = {"UNDEFINED", "FLOAT",   "INT",     "STRING",  "TENSOR", "GRAPH",
                                      "FLOATS",    "INTS",    "STRINGS", "TENSORS", "GRAPHS"};
  return (unsigned)t < sizeof names / sizeof *names ? names[t] : "UNKNOWN";
}

static bool rule_holds(const AttrRule *r, int64_t opset) {
  return r->from <= opset && (r->to == 0 || opset < r->to);
}

/* the row for (op, name) at this opset; an attribute used outside the opsets that define it is
 * held to its nearest version's type (its newest row) */
static const AttrRule *rule_find(Op op, const char *name, int64_t opset) {
  const AttrRule *last = NULL;
  for (int i = 0; i < NRULES; i++) {
    if (rules[i].op != op || strcmp(rules[i].name, name)) continue;
    if (rule_holds(&rules[i], opset)) return &rules[i];
    last = &rules[i];
  }
  return last;
}

int ir_attrs_check(const Node *n, int64_t opset, char *msg, size_t len) {
  char nm[IR_NAME_MSG];
  for (int j = 0; j < n->nattr; j++) {
    const Attr *a = &n->attrs[j];
    const AttrRule *r = rule_find(n->op, a->name, opset);
    if (r && r->type != a->type) {
      snprintf(msg, len, "attribute '%s' is %s, expected %s", ir_name_msg(a->name, nm, sizeof nm),
               ir_attr_type_name(a->type), ir_attr_type_name(r->type));
      return -1;
    }
  }
  for (int i = 0; i < NRULES; i++)
    if (rules[i].op == n->op && rules[i].required && rule_holds(&rules[i], opset) && !ir_attr(n, rules[i].name)) {
      snprintf(msg, len, "required attribute '%s' (%s) is missing", rules[i].name,
               ir_attr_type_name(rules[i].type));
      return -1;
    }
  return 0;
}
