/* profile.c — per-node profiling through the library (include/onnxc.h): the records
 * of a profiled session and its Chrome trace.  The timing itself is the compiled code's
 * (backend/drive/prof_llvm.c emits it, runtime/prof.c keeps it). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib.h"

/* the session's profile with timing, or NULL with the reason in s->err */
static const BeProf *timed(const onnxc_session *s) {
  const BeProf *p = s->m ? be_model_prof(s->m) : NULL;
  if (p && p->timing) return p;
  lib_fail((onnxc_session *)s, ONNXC_ERR_STATE, "%s",
           !s->m ? "the session is not prepared (or keeps variants per shape, which are not profiled)"
                 : "the session was not created with onnxc_options_set_profile");
  return NULL;
}

int onnxc_session_profile(const onnxc_session *s, int32_t *num_nodes, int64_t *runs, double *run_total_ms) {
  if (!s) return ONNXC_ERR_ARGUMENT;
  const BeProf *p = timed(s);
  if (!p) return ONNXC_ERR_STATE;
  if (num_nodes) *num_nodes = p->n;
  if (runs) *runs = p->rt->runs;
  if (run_total_ms) *run_total_ms = (double)p->rt->run_total_ns * 1e-6;
  return ONNXC_OK;
}

int onnxc_session_profile_node(const onnxc_session *s, int32_t i, onnxc_profile_node *out) {
  if (!s || !out) return ONNXC_ERR_ARGUMENT;
  const BeProf *p = timed(s);
  if (!p) return ONNXC_ERR_STATE;
  if (i < 0 || i >= p->n)
    return lib_fail((onnxc_session *)s, ONNXC_ERR_INDEX, "profile node %d: the profile has %d", i, p->n);
  const BeProfNode *e = &p->nodes[i];
  *out = (onnxc_profile_node){.name = e->name, .op = e->op, .kernel = e->kernel, .shape = e->shape,
                              .flops = e->flops, .total_ms = (double)p->rt->total_ns[i] * 1e-6,
                              .last_start_ms = (double)p->rt->last_start_ns[i] * 1e-6,
                              .last_ms = (double)p->rt->last_ns[i] * 1e-6,
                              .cpu_ms = (double)p->rt->cpu_ns[i] * 1e-6,
                              .crit_ms = (double)p->rt->crit_ns[i] * 1e-6,
                              .tasks = p->rt->last_tasks[i]};
  return ONNXC_OK;
}

int onnxc_session_profile_reset(onnxc_session *s) {
  if (!s) return ONNXC_ERR_ARGUMENT;
  const BeProf *p = timed(s);
  if (!p) return ONNXC_ERR_STATE;
  onnxc_prof_reset(p->rt);
  return ONNXC_OK;
}

/* a JSON string: quotes, backslashes and control characters escaped */
static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

int onnxc_session_profile_write_json(onnxc_session *s, const char *path) {
  if (!s || !path) return ONNXC_ERR_ARGUMENT;
  const BeProf *p = timed(s);
  if (!p) return ONNXC_ERR_STATE;
  FILE *f = fopen(path, "w");
  if (!f) return lib_fail(s, ONNXC_ERR_IO, "cannot write the profile to %s", path);
  long pid = (long)getpid();
  double run_us = p->n ? (double)(p->rt->last_start_ns[p->n - 1] + p->rt->last_ns[p->n - 1]) * 1e-3 : 0;
  fprintf(f, "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n");
  fprintf(f, "{\"name\": \"model_run\", \"cat\": \"Session\", \"ph\": \"X\", \"pid\": %ld, \"tid\": 0, "
             "\"ts\": 0, \"dur\": %.3f, \"args\": {\"nodes\": %d}}", pid, run_us, p->n);
  for (int k = 0; k < p->n; k++) {
    const BeProfNode *e = &p->nodes[k];
    fprintf(f, ",\n{\"name\": ");
    json_str(f, *e->name ? e->name : e->op);
    fprintf(f, ", \"cat\": \"Node\", \"ph\": \"X\", \"pid\": %ld, \"tid\": 0, \"ts\": %.3f, \"dur\": %.3f, "
               "\"args\": {\"op_name\": ", pid, (double)p->rt->last_start_ns[k] * 1e-3,
            (double)p->rt->last_ns[k] * 1e-3);
    json_str(f, e->op);
    fprintf(f, ", \"kernel\": ");
    json_str(f, e->kernel);
    fprintf(f, ", \"output_shape\": ");
    json_str(f, e->shape);
    fprintf(f, ", \"flops\": %.0f, \"node_index\": %d, \"tasks\": %lld}}", e->flops, k,
            (long long)p->rt->last_tasks[k]);
  }
  fprintf(f, "\n]}\n");
  if (fclose(f)) return lib_fail(s, ONNXC_ERR_IO, "cannot write the profile to %s", path);
  return ONNXC_OK;
}
