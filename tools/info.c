/* info.c — `onnxc info`: a model's interface, ops, parameters and MACs (the facts come from
 * libonnxc; this file prints them). */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void print_value(FILE *f, const char *kind, const onnxc_value_info *v) {
  char s[256], nm[IR_NAME_MSG];
  tool_shape_str(v, s, sizeof s);
  fprintf(f, "  %-6s %-32s %s[%s]\n", kind, ir_name_msg(v->name, nm, sizeof nm), dtype_name((DType)v->dtype), s);
}

/* the weights as the model stores them and as --compress-weights would */
static void print_weights(onnxc_session *s, FILE *f) {
  onnxc_weights_report w;
  if (onnxc_session_weights_estimate(s, &w)) return;
  fprintf(f, "weights: %lld bytes as loaded; entropy-coded (compile --compress-weights) ~%lld bytes (%.2f%%:",
          (long long)w.raw_bytes, (long long)w.stored_bytes,
          w.raw_bytes ? 100.0 * (double)w.stored_bytes / (double)w.raw_bytes : 0.0);
  static const char *const form[4] = {"as is", "alphabet <= 256 values", "bytes", "fp32 byte planes"};
  const char *sep = " ";
  for (int k = 0; k < 4; k++)
    if (w.pieces[k]) {
      fprintf(f, "%s%lld %s %lld -> %lld", sep, (long long)w.pieces[k], form[k], (long long)w.raw[k],
              (long long)w.coded_bytes[k]);
      sep = ", ";
    }
  fprintf(f, ")\n");
}

/* prints what it can; 1 (after the report, with the error on stderr) when the model fails to
 * verify or infer shapes, so scripts do not take a broken model for a good one */
int tool_print_info(onnxc_session *s, const char *model, FILE *f) {
  onnxc_facts fa;
  int rc = onnxc_session_facts(s, &fa); /* runs shape inference when every input shape is fixed */
  if (rc) {
    fprintf(stderr, "onnxc: %s\n", onnxc_session_error(s));
    return rc;
  }
  char nm[IR_NAME_MSG];
  fprintf(f, "graph %s: opset %lld, %d nodes\n", ir_name_msg(fa.graph_name, nm, sizeof nm), (long long)fa.opset, fa.num_nodes);
  onnxc_value_info v;
  for (int i = 0; i < onnxc_session_num_inputs(s); i++)
    if (!onnxc_session_input_info(s, i, &v)) print_value(f, "input", &v);
  for (int i = 0; i < onnxc_session_num_outputs(s); i++)
    if (!onnxc_session_output_info(s, i, &v)) print_value(f, "output", &v);
  fprintf(f, "ops:");
  for (int i = 0; i < onnxc_session_num_op_types(s); i++) {
    const char *op;
    int32_t n;
    if (!onnxc_session_op_type(s, i, &op, &n)) fprintf(f, " %s:%d", op, n);
  }
  fprintf(f, "\nparameters: %.0f in %d tensors\n", fa.parameters, fa.num_constants);
  if (fa.macs_unknown && !strcmp(fa.macs_unknown, "symbolic"))
    fprintf(f, "MACs: unknown (inputs have symbolic dims; fix them with --shape NAME=DIMS)\n");
  else if (fa.macs_unknown) fprintf(f, "MACs: unknown (shape inference failed: %s)\n", fa.macs_unknown);
  else fprintf(f, "MACs: %.0f (%.3f GMAC)\n", fa.macs, fa.macs / 1e9);
  print_weights(s, f);
  int lrc = tool_print_layers(s, f, false);
  if (lrc) {
    fprintf(stderr, "onnxc: %s\n", onnxc_session_error(s));
    return lrc;
  }
  if (fa.macs_unknown && strcmp(fa.macs_unknown, "symbolic")) {
    fflush(f);
    fprintf(stderr, "onnxc: %s: %s\n", model, fa.macs_unknown);
    return 1;
  }
  return 0;
}
