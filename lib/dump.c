/* dump.c — the pass pipeline as the API shows it: pass names, disable lists, and the IR as text
 * after any pass (`onnxc dump`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

const char *onnxc_pass_name(int32_t i) {
  int32_t n = 0;
  while (pass_names[n]) n++;
  return i >= 0 && i < n ? pass_names[i] : NULL;
}

int onnxc_pass_list_check(const char *list, char *err, size_t errlen) {
  char buf[300];
  if (!pass_check_disable(list, buf, sizeof buf)) return ONNXC_OK;
  if (err && errlen) snprintf(err, errlen, "%s", buf);
  return ONNXC_ERR_ARGUMENT;
}

typedef struct DumpArgs {
  const char *after;
  char **text;
} DumpArgs;

static int do_dump(onnxc_session *s, void *arg) {
  DumpArgs *a = arg;
  PassOptions po = lib_pass_options(s);
  s->passed = true; /* the pipeline cannot run on this graph again */
  be_phase("shapes + passes");
  int rc = pass_run_until(s->g, &po, a->after);
  be_phase(NULL);
  if (rc) {
    s->state = LIB_FAILED;
    return lib_fail_compile(s, ir_last_error(s->g));
  }
  s->state = LIB_DUMPED;
  size_t len;
  FILE *f = open_memstream(a->text, &len);
  if (!f) ir_oom();
  ir_print(s->g, f);
  if (fclose(f)) ir_oom();
  return ONNXC_OK;
}

int onnxc_session_dump(onnxc_session *s, const char *after, char **text) {
  if (!s || !text) return ONNXC_ERR_ARGUMENT;
  *text = NULL;
  if (!s->g || s->state != LIB_LOADED || s->passed)
    return lib_fail(s, ONNXC_ERR_STATE, "dump needs a freshly created session");
  if (after && strcmp(after, "import") && strcmp(after, "qdq") && pass_index(after) < 0) {
    char names[200] = "";
    for (int i = 0; pass_names[i]; i++)
      snprintf(names + strlen(names), sizeof names - strlen(names), ", %s", pass_names[i]);
    return lib_fail(s, ONNXC_ERR_ARGUMENT, "unknown pass '%.100s' (passes: import, qdq%s)", after, names);
  }
  lib_deadline_start(s);
  DumpArgs a = {after, text};
  int rc = lib_guard(s, do_dump, &a);
  lib_deadline_stop(s);
  if (rc) {
    free(*text);
    *text = NULL;
  }
  return rc;
}
