/* prune.c — `onnxc prune` (a pruned copy of a model, and the report of what was pruned) and the
 * --prune SPEC option of compile, run and bench.  The pruning is libonnxc's (lib/prune.c); this
 * file parses arguments and prints. */
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static onnxc_prune_spec prune_spec; /* --prune */
static bool prune_set;

int tool_prune_flag(const char *cmd, int argc, char **argv, int *i) {
  if (strcmp(argv[*i], "--prune")) return 0;
  char err[512];
  const char *v = *i + 1 < argc ? argv[++*i] : NULL;
  if (!v) {
    fprintf(stderr, "onnxc %s: --prune needs a spec (e.g. --prune 0.3,channel or --prune 2:4)\n", cmd);
    return -1;
  }
  if (onnxc_prune_spec_parse(v, &prune_spec, err, sizeof err)) {
    fprintf(stderr, "onnxc %s: --prune: %s\n", cmd, err);
    return -1;
  }
  prune_set = true;
  return 1;
}

int tool_prune_options_to(onnxc_session_options *op) { return prune_set ? onnxc_options_set_prune(op, &prune_spec) : ONNXC_OK; }

/* ---- the per-layer lines (onnxc info, onnxc prune --report) ---- */

static void print_layer(FILE *f, const onnxc_layer_info *l, bool report) {
  char nm[IR_NAME_MSG];
  fprintf(f, "  %-6s %-44s %-16s %10lld  sparsity %5.1f%%  %-12s", l->op, ir_name_msg(l->name, nm, sizeof nm), l->shape,
          (long long)l->params, 100 * l->sparsity, l->structure);
  if (report && l->channels_before != l->channels_after)
    fprintf(f, "  channels %lld -> %lld", (long long)l->channels_before, (long long)l->channels_after);
  if (report && l->pruned) fprintf(f, "  kept energy %.3f", l->kept_energy);
  if (report && l->skipped) fprintf(f, "  left alone: %s", l->skipped);
  fputc('\n', f);
}

int tool_print_layers(onnxc_session *s, FILE *f, bool report) {
  int32_t n = onnxc_session_num_layers(s);
  double params = 0, zeros = 0;
  onnxc_layer_info l;
  for (int32_t i = 0; i < n; i++)
    if (!onnxc_session_layer_info(s, i, &l)) params += (double)l.params, zeros += (double)l.zeros;
  if (!n) return fprintf(f, "layers with weights: none\n"), 0;
  fprintf(f, "layers with weights: %d, %.0f weights, sparsity %.1f%% (op, node, weight shape, weights, sparsity, structure)\n",
          n, params, params > 0 ? 100 * zeros / params : 0);
  for (int32_t i = 0; i < n; i++) {
    int rc = onnxc_session_layer_info(s, i, &l);
    if (rc) return rc;
    print_layer(f, &l, report);
  }
  return 0;
}
