/* samples.c — folders of sample inputs (see samples.h): listing, matching files to the model's
 * inputs, and checking each tensor against the model and the first sample. */
#include "samples.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "npy.h"

#define SAMPLES_MAX 100000 /* a bound on entries, so a huge folder is an error, not an OOM */

void tool_sample_file_name(const char *input, char *buf, size_t len) {
  snprintf(buf, len, "%s", input);
  for (char *p = buf; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
          *p == '_' || *p == '-'))
      *p = '_';
}

static bool is_npy(const char *name) {
  size_t n = strlen(name);
  return n > 4 && !strcmp(name + n - 4, ".npy");
}

static int cmp_names(const void *a, const void *b) {
  return strverscmp(*(char *const *)a, *(char *const *)b); /* s2 before s10 */
}

static void free_names(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* the entries of dir not starting with '.', sorted; *dirs: how many are folders.  -1 on failure */
static int list_dir(const char *dir, char ***out, int *n, int *dirs, char *err, size_t errlen) {
  DIR *d = opendir(dir);
  *out = NULL, *n = 0, *dirs = 0;
  if (!d) {
    snprintf(err, errlen, "%s: cannot open the samples folder: %m", dir);
    return -1;
  }
  int cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (*n == SAMPLES_MAX) {
      snprintf(err, errlen, "%s: more than %d entries in the samples folder", dir, SAMPLES_MAX);
      closedir(d);
      free_names(*out, *n);
      return -1;
    }
    if (*n == cap) *out = ir_xrealloc(*out, sizeof(char *) * (size_t)(cap = cap ? 2 * cap : 16));
    (*out)[(*n)++] = strcpy(ir_xmalloc(strlen(e->d_name) + 1), e->d_name);
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%.3800s/%.255s", dir, e->d_name);
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) ++*dirs;
  }
  closedir(d);
  if (*n) qsort(*out, (size_t)*n, sizeof(char *), cmp_names);
  return 0;
}

/* t (read from path) fits input i of s and, for later samples, the first sample's shape */
static int check_tensor(const onnxc_session *s, int i, const Tensor *t, const Tensor *first, const char *path,
                        char *err, size_t errlen) {
  onnxc_value_info vi;
  onnxc_session_input_info(s, i, &vi);
  if (t->dtype != (DType)vi.dtype) {
    snprintf(err, errlen, "%s: input '%s' is %s in the model, the file holds %s", path, IR_NM(vi.name),
             dtype_name((DType)vi.dtype), dtype_name(t->dtype));
    return -1;
  }
  bool ok = vi.rank < 0 || vi.rank == t->rank;
  for (int d = 0; ok && vi.rank >= 0 && d < t->rank; d++) ok = vi.dims[d] < 0 || vi.dims[d] == t->dims[d];
  if (ok && first) {
    ok = first->rank == t->rank;
    for (int d = 0; ok && d < t->rank; d++) ok = first->dims[d] == t->dims[d];
  }
  if (!ok) {
    char want[128], got[128];
    Value tv = {.rank = t->rank};
    memcpy(tv.dims, t->dims, sizeof tv.dims);
    ir_shape_str(&tv, got, sizeof got);
    if (first) {
      Value fv = {.rank = first->rank};
      memcpy(fv.dims, first->dims, sizeof fv.dims);
      ir_shape_str(&fv, want, sizeof want);
    }
    if (!first || (vi.rank >= 0 && vi.rank != t->rank)) tool_shape_str(&vi, want, sizeof want);
    snprintf(err, errlen, "%s: input '%s' has shape %s, expected %s%s", path, IR_NM(vi.name), got, want,
             first ? " (every sample must have the first one's shapes)" : "");
    return -1;
  }
  return 0;
}

/* which input file `name` (in a sample folder) holds: NAME.npy or input_K.npy; -1 if none */
static int input_of_file(const onnxc_session *s, const char *name) {
  int nin = onnxc_session_num_inputs(s);
  for (int i = 0; i < nin; i++) {
    onnxc_value_info vi;
    char want[512];
    onnxc_session_input_info(s, i, &vi);
    tool_sample_file_name(vi.name, want, sizeof want - 4);
    strcat(want, ".npy");
    if (!strcmp(name, want)) return i;
  }
  int k;
  char tail;
  if (sscanf(name, "input_%d.np%c", &k, &tail) == 2 && tail == 'y' && k >= 0 && k < nin) {
    char canon[64];
    snprintf(canon, sizeof canon, "input_%d.npy", k);
    if (!strcmp(canon, name)) return k;
  }
  return -1;
}

static void list_inputs(const onnxc_session *s, char *buf, size_t len) {
  size_t at = 0;
  buf[0] = 0;
  for (int i = 0; i < onnxc_session_num_inputs(s) && at + 1 < len; i++) {
    onnxc_value_info vi;
    char f[256];
    onnxc_session_input_info(s, i, &vi);
    tool_sample_file_name(vi.name, f, sizeof f);
    int w = snprintf(buf + at, len - at, "%s%s.npy", i ? ", " : "", f);
    at += w > 0 ? (size_t)w : 0;
  }
}

static int read_one(const onnxc_session *s, ToolSamples *ss, int k, int i, const char *path, char *err,
                    size_t errlen) {
  Tensor *t = &ss->t[k * ss->nin + i];
  if (npy_read(path, t, err, errlen)) return -1;
  return check_tensor(s, i, t, k ? &ss->t[i] : NULL, path, err, errlen);
}

/* sample k from the folder dir/sub: one file per input */
static int read_folder(const onnxc_session *s, ToolSamples *ss, int k, const char *dir, const char *sub, char *err,
                       size_t errlen) {
  char path[4096], **files;
  int nf, nd;
  snprintf(path, sizeof path, "%.3800s/%.255s", dir, sub);
  if (list_dir(path, &files, &nf, &nd, err, errlen)) return -1;
  int rc = 0;
  for (int f = 0; f < nf && !rc; f++) {
    char fp[4096], inputs[1024];
    snprintf(fp, sizeof fp, "%.3800s/%.255s", path, files[f]);
    int i = is_npy(files[f]) ? input_of_file(s, files[f]) : -2;
    if (i == -2) continue; /* not a .npy: notes, labels */
    if (i < 0) {
      list_inputs(s, inputs, sizeof inputs);
      snprintf(err, errlen, "%s: no model input is called that (expected %s, or input_K.npy)", fp, inputs);
      rc = -1;
    } else if (ss->t[k * ss->nin + i].data || ss->t[k * ss->nin + i].dtype) {
      snprintf(err, errlen, "%s: a second file for input %d (NAME.npy and input_K.npy name the same input)", fp, i);
      rc = -1;
    } else
      rc = read_one(s, ss, k, i, fp, err, errlen);
  }
  for (int i = 0; i < ss->nin && !rc; i++)
    if (!ss->t[k * ss->nin + i].dtype) {
      onnxc_value_info vi;
      char f[256];
      onnxc_session_input_info(s, i, &vi);
      tool_sample_file_name(vi.name, f, sizeof f);
      snprintf(err, errlen, "%s: no file for input '%s' (%s.npy or input_%d.npy)", path, IR_NM(vi.name), f, i);
      rc = -1;
    }
  free_names(files, nf);
  return rc;
}

static int read_all(const char *dir, const onnxc_session *s, ToolSamples *ss, char **ents, int n, int ndirs,
                    char *err, size_t errlen) {
  int npy = 0;
  for (int e = 0; e < n; e++) npy += is_npy(ents[e]);
  if (ndirs && npy) {
    snprintf(err, errlen, "%s: holds both sample folders and .npy files; use one form (DIR/s0/NAME.npy, or "
             "DIR/NAME.npy for a one-input model)", dir);
    return -1;
  }
  if (!ndirs && npy && ss->nin != 1) {
    snprintf(err, errlen, "%s: .npy files directly in the folder are samples of a one-input model, this one has "
             "%d inputs: put each sample in a folder of its own (DIR/s0/NAME.npy)", dir, ss->nin);
    return -1;
  }
  ss->n = ndirs ? ndirs : npy;
  if (!ss->n) {
    snprintf(err, errlen, "%s: no samples (expected folders DIR/s0/NAME.npy, or .npy files for a one-input model)",
             dir);
    return -1;
  }
  ss->t = ir_xcalloc((size_t)ss->n * (size_t)(ss->nin ? ss->nin : 1), sizeof(Tensor));
  ss->names = ir_xcalloc((size_t)ss->n, sizeof(char *));
  int k = 0;
  for (int e = 0; e < n; e++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%.3800s/%.255s", dir, ents[e]);
    bool isdir = !stat(path, &st) && S_ISDIR(st.st_mode);
    if (ndirs ? !isdir : !is_npy(ents[e])) continue;
    ss->names[k] = strcpy(ir_xmalloc(strlen(ents[e]) + 1), ents[e]);
    if (ndirs ? read_folder(s, ss, k, dir, ents[e], err, errlen) : read_one(s, ss, k, 0, path, err, errlen))
      return -1;
    k++;
  }
  return 0;
}

int tool_samples_read(const char *dir, const onnxc_session *s, ToolSamples *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  struct stat st;
  if (stat(dir, &st)) {
    snprintf(err, errlen, "%s: samples folder not found: %m", dir);
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s: not a folder (samples are DIR/s0/NAME.npy, or DIR/*.npy for a one-input model)", dir);
    return -1;
  }
  out->nin = onnxc_session_num_inputs(s);
  char **ents;
  int n, ndirs;
  if (list_dir(dir, &ents, &n, &ndirs, err, errlen)) return -1;
  int rc = read_all(dir, s, out, ents, n, ndirs, err, errlen);
  free_names(ents, n);
  if (rc) {
    tool_samples_free(out);
    return -1;
  }
  out->v = ir_xcalloc((size_t)out->n * (size_t)(out->nin ? out->nin : 1), sizeof(onnxc_tensor));
  for (int i = 0; i < out->n * out->nin; i++) out->v[i] = tool_tensor(&out->t[i]);
  return 0;
}

void tool_samples_free(ToolSamples *ss) {
  for (int i = 0; ss->t && i < ss->n * ss->nin; i++) tensor_free(&ss->t[i]);
  for (int i = 0; ss->names && i < ss->n; i++) free(ss->names[i]);
  free(ss->t);
  free(ss->v);
  free(ss->names);
  memset(ss, 0, sizeof *ss);
}
