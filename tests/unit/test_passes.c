/* test_passes.c — the pass pipeline by name (passes/pipeline.c), memory planning (passes/plan.c)
 * and the verifier's plan checks (ir/verify.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"
#include "testutil.h"

static const int64_t D[2] = {4, 8};

/* x -> Relu -> Neg -> Exp -> Add(., x) -> y: a chain whose temporaries can share arena space */
static Graph *chain(void) {
  Graph *g = ir_graph_new();
  g->opset = 17;
  Value *x = tu_input(g, "x", DT_FLOAT, 2, D);
  Value *a = tu_node(g, OP_Relu, 1, &x);
  Value *b = tu_node(g, OP_Neg, 1, &a);
  Value *c = tu_node(g, OP_Exp, 1, &b);
  tu_output(g, tu_node(g, OP_Add, 2, (Value *[]){c, x}));
  return g;
}

static Value *by_name(Graph *g, Op op) {
  for (int k = 0; k < g->nnodes; k++)
    if (g->nodes[k]->op == op) return g->nodes[k]->out[0];
  cr_assert_fail("no %s node", ir_ops[op].name);
  return NULL;
}

Test(passes, names_in_order) {
  const char *want[] = {"shapes", "inline", "dce", "fuse", "winograd", "layout", "plan", "sparse", "binary"};
  for (int i = 0; i < 9; i++) {
    cr_assert_str_eq(pass_names[i], want[i]);
    cr_assert_eq(pass_index(want[i]), i);
    cr_assert_eq(pass_optional(i), (i >= 1 && i <= 5) || i >= 7, "%s", want[i]);
  }
  cr_assert_null(pass_names[9]);
  cr_assert_eq(pass_index("import"), -1);
}

Test(passes, check_disable) {
  char err[300];
  cr_assert_eq(pass_check_disable("fuse", err, sizeof err), 0);
  cr_assert_eq(pass_check_disable("inline,dce,fuse", err, sizeof err), 0);
  cr_assert_eq(pass_check_disable("winograd", err, sizeof err), 0);
  cr_assert_eq(pass_check_disable("binary", err, sizeof err), 0);
  cr_assert_eq(pass_check_disable("layout", err, sizeof err), 0);
  cr_assert_eq(pass_check_disable("fuse,bogus", err, sizeof err), -1);
  cr_assert(strstr(err, "unknown pass 'bogus'") && strstr(err, "shapes, inline, dce, fuse, winograd, layout, plan"), "%s", err);
  cr_assert_eq(pass_check_disable("plan", err, sizeof err), -1);
  cr_assert(strstr(err, "cannot be disabled"), "%s", err);
  cr_assert_eq(pass_check_disable("fuse,", err, sizeof err), -1);
  cr_assert_eq(pass_check_disable("", err, sizeof err), -1);
}

Test(passes, run_until_stops_after_the_named_pass) {
  Graph *g = chain();
  cr_assert_eq(pass_run_until(g, NULL, "import"), 0);
  cr_assert_eq(by_name(g, OP_Relu)->rank, -1, "import runs nothing");
  cr_assert_eq(pass_run_until(g, NULL, "fuse"), 0, "%s", ir_last_error(g));
  cr_assert_eq(by_name(g, OP_Relu)->rank, 2);
  cr_assert(!g->planned && by_name(g, OP_Relu)->storage == ST_NONE);
  cr_assert_eq(pass_run_until(g, NULL, "bogus"), -1);
  cr_assert(strstr(ir_last_error(g), "unknown pass 'bogus'"), "%s", ir_last_error(g));
  ir_graph_free(g);
}

Test(passes, unknown_disable_is_an_error) {
  Graph *g = chain();
  PassOptions po = {.disable = "fuse,nope"};
  cr_assert_eq(pass_run_all(g, &po), -1);
  cr_assert(strstr(ir_last_error(g), "unknown pass 'nope'"), "%s", ir_last_error(g));
  ir_graph_free(g);
}

Test(passes, plan_places_values) {
  Graph *g = chain();
  PassOptions po = {.verify_each = true};
  cr_assert_eq(pass_run_all(g, &po), 0, "%s", ir_last_error(g));
  cr_assert(g->planned);
  cr_assert_eq(g->inputs[0]->storage, ST_IO);
  cr_assert_eq(g->inputs[0]->offset, 0);
  cr_assert_eq(g->outputs[0]->storage, ST_IO);
  cr_assert_eq(g->outputs[0]->offset, 1);
  Value *a = by_name(g, OP_Relu), *b = by_name(g, OP_Neg), *c = by_name(g, OP_Exp);
  cr_assert(a->storage == ST_ARENA && b->storage == ST_ARENA && c->storage == ST_ARENA);
  cr_assert_eq(a->layout, VL_PLAIN);
  /* 128-byte temporaries: Relu's and Exp's outputs are never live together, Neg's overlaps both */
  cr_assert_eq(a->offset % 64, 0);
  cr_assert_neq(a->offset, b->offset);
  cr_assert_eq(a->offset, c->offset);
  cr_assert_eq(g->arena_bytes, 256);
  ir_graph_free(g);
}

Test(passes, verify_checks_the_plan) {
  Graph *g = chain();
  cr_assert_eq(pass_run_all(g, NULL), 0, "%s", ir_last_error(g));
  Value *a = by_name(g, OP_Relu), *b = by_name(g, OP_Neg);
  int64_t keep = b->offset;
  b->offset = a->offset; /* live at the same time */
  cr_assert_eq(ir_verify(g), -1);
  cr_assert(strstr(ir_last_error(g), "overlap"), "%s", ir_last_error(g));
  b->offset = keep + 8;
  free(g->err), g->err = NULL;
  cr_assert_eq(ir_verify(g), -1);
  cr_assert(strstr(ir_last_error(g), "64-aligned"), "%s", ir_last_error(g));
  b->offset = g->arena_bytes;
  free(g->err), g->err = NULL;
  cr_assert_eq(ir_verify(g), -1, "beyond the arena");
  b->offset = keep;
  g->outputs[0]->offset = 0; /* the input's io slot */
  free(g->err), g->err = NULL;
  cr_assert_eq(ir_verify(g), -1);
  cr_assert(strstr(ir_last_error(g), "slot"), "%s", ir_last_error(g));
  ir_graph_free(g);
}

Test(passes, verify_checks_the_layout) {
  Graph *g = chain();
  cr_assert_eq(pass_run_until(g, NULL, "layout"), 0, "%s", ir_last_error(g));
  by_name(g, OP_Neg)->layout = VL_COUNT;
  cr_assert_eq(ir_verify(g), -1);
  cr_assert(strstr(ir_last_error(g), "layout"), "%s", ir_last_error(g));
  ir_graph_free(g);
}

Test(passes, plan_copies_an_input_that_is_an_output) {
  Graph *g = chain();
  tu_output(g, g->inputs[0]);
  cr_assert_eq(pass_run_all(g, NULL), 0, "%s", ir_last_error(g));
  Value *o = g->outputs[1];
  cr_assert(o != g->inputs[0] && o->producer && o->producer->op == OP_Identity);
  cr_assert_eq(o->storage, ST_IO);
  cr_assert_eq(o->offset, 2);
  ir_graph_free(g);
}

Test(passes, plan_checks_the_budget) {
  Graph *g = chain();
  PassOptions po = {.max_memory = 200};
  cr_assert_eq(pass_run_all(g, &po), -1);
  cr_assert(strstr(ir_last_error(g), "more than the --max-memory limit of 200 bytes"), "%s", ir_last_error(g));
  ir_graph_free(g);
}

/* the winograd pass marks Conv nodes (gen_winograd.c decides per geometry); disabled, none is */
Test(passes, winograd_marks_convs_unless_disabled) {
  for (int off = 0; off < 2; off++) {
    Graph *g = ir_graph_new();
    g->opset = 17;
    const int64_t xd[4] = {1, 8, 6, 6}, wd[4] = {8, 8, 3, 3};
    double w[8 * 8 * 9] = {0};
    Value *ins[2] = {tu_input(g, "x", DT_FLOAT, 4, xd), tu_const(g, DT_FLOAT, 4, wd, w)};
    Value *y = tu_node(g, OP_Conv, 2, ins);
    tu_output(g, tu_node(g, OP_Relu, 1, &y));
    PassOptions o = {.disable = off ? "winograd" : NULL};
    cr_assert_eq(pass_run_all(g, &o), 0, "%s", ir_last_error(g));
    for (int k = 0; k < g->nnodes; k++)
      cr_assert_eq(g->nodes[k]->winograd, !off && g->nodes[k]->op == OP_Conv, "%s", ir_ops[g->nodes[k]->op].name);
    ir_graph_free(g);
  }
}

/* the binary pass marks a Conv whose input is Sign(x) or Where(c, 1, -1) and whose weights are ±α
 * per output channel; not one with a third weight value, a float input, or when disabled */
static Graph *binary_graph(int form, bool third_value) {
  Graph *g = ir_graph_new();
  g->opset = 17;
  const int64_t xd[4] = {1, 3, 5, 5}, wd[4] = {2, 3, 3, 3}, sd[1] = {1};
  double w[2 * 27];
  for (int i = 0; i < 54; i++) w[i] = (i < 27 ? 0.5 : 0.25) * (i % 3 ? 1 : -1);
  if (third_value) w[40] = 0.125;
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd), *in;
  if (form == 0) in = tu_node(g, OP_Sign, 1, &x);
  else if (form == 1) {
    Value *zero = tu_const(g, DT_FLOAT, 1, sd, (double[]){0});
    Value *ge = tu_node(g, OP_GreaterOrEqual, 2, (Value *[]){x, zero});
    in = tu_node(g, OP_Where, 3, (Value *[]){ge, tu_const(g, DT_FLOAT, 1, sd, (double[]){1}), tu_const(g, DT_FLOAT, 1, sd, (double[]){-1})});
  } else in = tu_node(g, OP_Relu, 1, &x);
  tu_output(g, tu_node(g, OP_Conv, 2, (Value *[]){in, tu_const(g, DT_FLOAT, 4, wd, w)}));
  return g;
}

Test(passes, binary_marks_sign_convs_unless_disabled) {
  struct { int form; bool third, off, want; } cs[] = {
      {0, false, false, true}, {1, false, false, true}, {2, false, false, false}, {0, true, false, false}, {0, false, true, false}};
  for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
    Graph *g = binary_graph(cs[c].form, cs[c].third);
    PassOptions o = {.disable = cs[c].off ? "binary" : NULL};
    cr_assert_eq(pass_run_all(g, &o), 0, "%s", ir_last_error(g));
    for (int k = 0; k < g->nnodes; k++)
      cr_assert_eq(g->nodes[k]->binary, cs[c].want && g->nodes[k]->op == OP_Conv, "case %zu: %s", c, ir_ops[g->nodes[k]->op].name);
    ir_graph_free(g);
  }
}

/* the pass fuses the Sign into the binary Conv (the Conv reads the Sign's input, the Sign goes
 * when nothing else reads it), before plan, so wherever x lives: the caller's (case 0), in the
 * arena (1), in the arena with a value made between the Sign and the Conv that plan would have put
 * in x's place had the Conv not read x (2: z = Neg(Sign(x)), which also keeps the Sign), and with
 * the Sign a graph output's producer's input (3: the Sign stays) */
static Graph *sign_fusion_graph(int form) {
  Graph *g = ir_graph_new();
  g->opset = 17;
  const int64_t xd[4] = {1, 4, 3, 3}, wd[4] = {4, 4, 1, 1};
  double w[16];
  for (int i = 0; i < 16; i++) w[i] = (i / 4 + 1) * 0.5 * (i % 3 ? 1 : -1);
  Value *in = tu_input(g, "x", DT_FLOAT, 4, xd), *x = form == 0 || form == 3 ? in : tu_node(g, OP_Relu, 1, &in);
  Value *xb = tu_node(g, OP_Sign, 1, &x);
  Value *z = form == 2 ? tu_node(g, OP_Neg, 1, &xb) : NULL; /* after the Sign: x's place is free */
  Value *y = tu_node(g, OP_Conv, 2, (Value *[]){xb, tu_const(g, DT_FLOAT, 4, wd, w)});
  if (z) y = tu_node(g, OP_Add, 2, (Value *[]){y, z});
  if (form == 3) tu_output(g, tu_node(g, OP_Neg, 1, &xb));
  tu_output(g, y);
  return g;
}

Test(passes, binary_fuses_sign_before_plan) {
  for (int form = 0; form < 4; form++) {
    Graph *g = sign_fusion_graph(form);
    PassOptions o = {0};
    cr_assert_eq(pass_run_all(g, &o), 0, "%s", ir_last_error(g));
    const Node *conv = NULL;
    int signs = 0;
    for (int k = 0; k < g->nnodes; k++) {
      if (g->nodes[k]->op == OP_Conv) conv = g->nodes[k];
      signs += g->nodes[k]->op == OP_Sign;
    }
    cr_assert(conv && conv->binary, "form %d: binary Conv", form);
    cr_assert(conv->binary_sign, "form %d", form);
    cr_assert(conv->in[0]->producer == NULL || conv->in[0]->producer->op != OP_Sign, "form %d", form);
    /* the Conv's output has a place of its own: x is read up to the Conv */
    const Value *x = conv->in[0], *y = conv->out[0];
    if (x->storage == ST_ARENA && y->storage == ST_ARENA)
      cr_assert(y->offset >= x->offset + pass_value_bytes(x) || x->offset >= y->offset + pass_value_bytes(y),
                "form %d: the Conv writes over its input", form);
    cr_assert_eq(signs, form >= 2 ? 1 : 0, "form %d: Sign nodes", form);
    ir_graph_free(g);
  }
}

/* and a MatMul on Sign(x) whose constant B has ±α_n columns (gen_binary_gemm); not with a third
 * value in a column, nor on a float input */
Test(passes, binary_marks_sign_matmuls) {
  struct { bool third, sign, want; } cs[] = {{false, true, true}, {true, true, false}, {false, false, false}};
  for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
    Graph *g = ir_graph_new();
    g->opset = 17;
    const int64_t xd[2] = {2, 70}, bd[2] = {70, 3};
    double b[70 * 3];
    for (int i = 0; i < 210; i++) b[i] = (i % 3 == 1 ? 0.5 : 0.25) * (i % 7 ? 1 : -1);
    if (cs[c].third) b[100] = 0.125;
    Value *x = tu_input(g, "x", DT_FLOAT, 2, xd);
    Value *in = cs[c].sign ? tu_node(g, OP_Sign, 1, &x) : tu_node(g, OP_Relu, 1, &x);
    tu_output(g, tu_node(g, OP_MatMul, 2, (Value *[]){in, tu_const(g, DT_FLOAT, 2, bd, b)}));
    PassOptions o = {0};
    cr_assert_eq(pass_run_all(g, &o), 0, "%s", ir_last_error(g));
    for (int k = 0; k < g->nnodes; k++)
      cr_assert_eq(g->nodes[k]->binary, cs[c].want && g->nodes[k]->op == OP_MatMul, "case %zu: %s", c, ir_ops[g->nodes[k]->op].name);
    ir_graph_free(g);
  }
}
