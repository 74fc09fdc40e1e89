/* options.c — onnxc_session_options: what a session is created with (copied into it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

int onnxc_options_create(onnxc_session_options **out) {
  if (!out) return ONNXC_ERR_ARGUMENT;
  *out = calloc(1, sizeof **out);
  return *out ? ONNXC_OK : ONNXC_ERR_NOMEM;
}

void onnxc_options_free(onnxc_session_options *o) {
  if (!o) return;
  for (int i = 0; i < o->nshapes; i++) free((char *)o->shapes[i].name);
  for (int i = 0; i < o->ndims; i++) free(o->dims[i].name);
  free(o->shapes);
  free(o->dims);
  free(o->disable);
  lib_prune_spec_free(o->prune);
  free(o);
}

int onnxc_options_set_threads(onnxc_session_options *o, int threads) {
  if (!o || threads < 0 || threads > 100000) return ONNXC_ERR_ARGUMENT;
  o->threads = threads;
  return ONNXC_OK;
}

int onnxc_options_set_spin(onnxc_session_options *o, int on) {
  if (!o || (on != 0 && on != 1)) return ONNXC_ERR_ARGUMENT;
  o->spin_off = !on;
  return ONNXC_OK;
}

int onnxc_options_fix_input(onnxc_session_options *o, const char *input, int32_t rank, const int64_t *dims) {
  if (!o || !input || !*input || rank < 0 || rank > ONNXC_MAX_RANK || (rank && !dims)) return ONNXC_ERR_ARGUMENT;
  for (int d = 0; d < rank; d++)
    if (dims[d] < 0) return ONNXC_ERR_ARGUMENT;
  FeShape *sh = realloc(o->shapes, sizeof *sh * (size_t)(o->nshapes + 1));
  if (!sh) return ONNXC_ERR_NOMEM;
  o->shapes = sh;
  char *name = strdup(input);
  if (!name) return ONNXC_ERR_NOMEM;
  sh = &o->shapes[o->nshapes++];
  memset(sh, 0, sizeof *sh);
  sh->name = name;
  sh->rank = rank;
  if (rank) memcpy(sh->dims, dims, sizeof(int64_t) * (size_t)rank);
  return ONNXC_OK;
}

int onnxc_options_fix_dim(onnxc_session_options *o, const char *dim_name, int64_t value) {
  if (!o || !dim_name || !*dim_name || value < 0) return ONNXC_ERR_ARGUMENT;
  LibDim *d = realloc(o->dims, sizeof *d * (size_t)(o->ndims + 1));
  if (!d) return ONNXC_ERR_NOMEM;
  o->dims = d;
  char *name = strdup(dim_name);
  if (!name) return ONNXC_ERR_NOMEM;
  o->dims[o->ndims++] = (LibDim){name, value};
  return ONNXC_OK;
}

int onnxc_options_disable_pass(onnxc_session_options *o, const char *pass) {
  char err[256];
  if (!o || !pass || strchr(pass, ',') || pass_check_disable(pass, err, sizeof err)) return ONNXC_ERR_ARGUMENT;
  size_t had = o->disable ? strlen(o->disable) : 0;
  char *list = realloc(o->disable, had + strlen(pass) + 2);
  if (!list) return ONNXC_ERR_NOMEM;
  if (had) list[had++] = ',';
  strcpy(list + had, pass);
  o->disable = list;
  return ONNXC_OK;
}

int onnxc_options_set_verify_each(onnxc_session_options *o, int on) {
  if (!o) return ONNXC_ERR_ARGUMENT;
  o->verify_each = on != 0;
  return ONNXC_OK;
}

int onnxc_options_set_max_memory(onnxc_session_options *o, int64_t bytes) {
  if (!o || bytes < 0) return ONNXC_ERR_ARGUMENT;
  o->max_memory = bytes;
  return ONNXC_OK;
}

int onnxc_options_set_max_compile_time(onnxc_session_options *o, double seconds) {
  if (!o || !(seconds >= 0) || seconds > 1e7) return ONNXC_ERR_ARGUMENT;
  o->max_compile_time = seconds;
  return ONNXC_OK;
}

int onnxc_options_set_target(onnxc_session_options *o, const char *target) {
  if (!o || !target || strlen(target) >= sizeof o->target) return ONNXC_ERR_ARGUMENT;
  strcpy(o->target, target);
  return ONNXC_OK;
}

int onnxc_options_set_time_phases(onnxc_session_options *o, int on) {
  if (!o) return ONNXC_ERR_ARGUMENT;
  o->time_phases = on != 0;
  return ONNXC_OK;
}

int onnxc_options_set_dump_llvm(onnxc_session_options *o, int on) {
  if (!o) return ONNXC_ERR_ARGUMENT;
  o->dump_llvm = on != 0;
  return ONNXC_OK;
}

int onnxc_options_set_profile(onnxc_session_options *o, int on) {
  if (!o) return ONNXC_ERR_ARGUMENT;
  o->profile = on != 0;
  return ONNXC_OK;
}

int onnxc_options_set_perf_map(onnxc_session_options *o, int on) {
  if (!o) return ONNXC_ERR_ARGUMENT;
  o->perf_map = on != 0;
  return ONNXC_OK;
}

int onnxc_options_set_cache_dir(onnxc_session_options *o, const char *dir) {
  if (!o || (dir && strlen(dir) >= sizeof o->cache_dir)) return ONNXC_ERR_ARGUMENT;
  snprintf(o->cache_dir, sizeof o->cache_dir, "%s", dir ? dir : "");
  return ONNXC_OK;
}

int onnxc_options_set_cache_max_bytes(onnxc_session_options *o, int64_t bytes) {
  if (!o || bytes < 0) return ONNXC_ERR_ARGUMENT;
  o->cache_max_bytes = bytes;
  return ONNXC_OK;
}

int onnxc_options_set_max_run_time(onnxc_session_options *o, double seconds) {
  if (!o || !(seconds >= 0) || seconds > 1e9) return ONNXC_ERR_ARGUMENT;
  o->max_run_time = seconds;
  return ONNXC_OK;
}
