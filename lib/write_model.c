/* write_model.c — onnxc_session_write_model: the session's graph, as loaded or after a
 * transformation (onnxc_session_quantize, onnxc_session_prune), as an ONNX file through the
 * frontend's writer (frontend/write.c). */
#include "lib.h"

static int write_model(onnxc_session *s, void *arg) {
  char err[1024];
  if (fe_write(s->g, arg, err, sizeof err)) return lib_fail(s, ONNXC_ERR_IO, "%s", err);
  return ONNXC_OK;
}

int onnxc_session_write_model(onnxc_session *s, const char *path) {
  if (!s || !path || !*path) return s ? lib_fail(s, ONNXC_ERR_ARGUMENT, "write model: no path") : ONNXC_ERR_ARGUMENT;
  /* after the passes the graph is fused (epilogues, packed forms): it has no ONNX spelling */
  if (!s->g || s->state != LIB_LOADED || s->passed)
    return lib_fail(s, ONNXC_ERR_STATE, "write model: only before the session is prepared or compiled");
  return lib_guard(s, write_model, (void *)path);
}
