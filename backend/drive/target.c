/* target.c — the targets onnxc knows by name; "native" asks be_host_cpu (host_llvm.c with LLVM,
 * nollvm.c without). */
#include <stdio.h>
#include <string.h>

#include "be.h"

int be_target_get(const char *name, Target *t, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  if (!name || !strcmp(name, "native")) {
    t->name = "native";
    be_host_cpu(&t->triple, &t->cpu, &t->features);
  } else if (!strcmp(name, "x86-64-avx512")) {
    t->name = name;
    t->triple = "x86_64-unknown-linux-gnu";
    t->cpu = "x86-64-v4";
    t->features = "+avx512f,+avx512bw,+avx512dq,+avx512vl,+avx2,+fma,+f16c";
  } else if (!strcmp(name, "x86-64-avx2")) {
    t->name = name;
    t->triple = "x86_64-unknown-linux-gnu";
    t->cpu = "x86-64-v3";
    t->features = "+avx2,+fma,+f16c";
  } else if (!strcmp(name, "aarch64")) {
    t->name = name;
    t->triple = "aarch64-unknown-linux-gnu";
    t->cpu = "generic";
    t->features = "+neon";
  } else {
    snprintf(err, errlen, "unknown target '%s' (expected native, x86-64-avx512, x86-64-avx2 or aarch64)", name);
    return -1;
  }
  const char *f = t->features;
  t->has_avx512 = strstr(f, "+avx512f") != NULL;
  t->has_vnni = strstr(f, "+avx512vnni") != NULL;
  t->has_bf16 = strstr(f, "+avx512bf16") != NULL && t->has_avx512;
  t->has_avx2 = strstr(f, "+avx2") != NULL;
  t->has_vbmi = strstr(f, "+avx512vbmi,") != NULL || (strlen(f) >= 11 && !strcmp(f + strlen(f) - 11, "+avx512vbmi"));
  t->has_neon = strstr(t->triple, "aarch64") != NULL;
  t->vector_bytes = t->has_avx512 ? 64 : t->has_avx2 ? 32 : 16;
  return 0;
}

int be_fp_mode_check(const Graph *g, const Target *t, char *err, size_t errlen) {
  while (g && g->parent) g = g->parent;
  if (!g || g->fp_mode != IR_FP_BF16 || t->has_bf16) return 0;
  snprintf(err, errlen,
           "--fp-mode bf16 needs a target with AVX512-BF16 (vdpbf16ps); target %s (%s) has none: "
           "leave out --fp-mode bf16 to run in fp32",
           t->name ? t->name : "?", t->cpu && *t->cpu ? t->cpu : t->triple ? t->triple : "?");
  return -1;
}
