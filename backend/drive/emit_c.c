/* emit_c.c — a specialized model as portable C11 (`onnxc compile --emit c`): the kernels come
 * from the same generators as the LLVM path through the C kernel builder (kb_c.c); this file
 * writes the graph functions (the same storage plan as module.c, one call per node, the thread
 * pool through onnxc_rt_parallel, status checks) and the files:
 *     DIR/NAME_model.c    prelude, vector typedefs, kernels, int32_t NAME_graph(rt, io)
 *     DIR/NAME_weights.c  the weight blob as a 64-byte aligned array NAME_weights (if embedded)
 * tools/compile.c adds NAME.h, the glue and the runtime's sources. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aot.h"
#include "kb_c.h"
#include "passes.h"

/* helpers the kernels use: float16 / bfloat16 bits <-> float (round to nearest even) */
static const char PRELUDE[] =
    "#include <stdint.h>\n"
    "#include <string.h>\n\n"
    "#include \"onnxc_rt.h\"\n\n"
    "#if !defined(__GNUC__)\n"
    "#error \"this file needs GCC or Clang vector extensions\"\n"
    "#endif\n"
    "#define ONNXC_U __attribute__((unused))\n\n"
    "ONNXC_U static inline float onnxc_h2f(uint16_t h) {\n"
    "  uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;\n"
    "  if (e == 0x1f) u = s | 0x7f800000u | (m << 13);\n"
    "  else if (e) u = s | ((e + 112) << 23) | (m << 13);\n"
    "  else if (!m) u = s;\n"
    "  else {\n"
    "    e = 113;\n"
    "    while (!(m & 0x400)) m <<= 1, e--;\n"
    "    u = s | (e << 23) | ((m & 0x3ff) << 13);\n"
    "  }\n"
    "  float f;\n"
    "  memcpy(&f, &u, 4);\n"
    "  return f;\n"
    "}\n"
    "ONNXC_U static inline uint16_t onnxc_f2h(float f) {\n"
    "  uint32_t u, ut;\n"
    "  memcpy(&u, &f, 4);\n"
    "  uint32_t s = (u >> 16) & 0x8000, a = u & 0x7fffffffu;\n"
    "  if (a >= 0x7f800000u) return (uint16_t)(s | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0));\n"
    "  if (a >= 0x477ff000u) return (uint16_t)(s | 0x7c00);\n"
    "  if (a < 0x38800000u) {\n"
    "    float af, t;\n"
    "    memcpy(&af, &a, 4);\n"
    "    t = af + 0.5f;\n"
    "    memcpy(&ut, &t, 4);\n"
    "    return (uint16_t)(s | (ut - 0x3f000000u));\n"
    "  }\n"
    "  a += 0xfff + ((a >> 13) & 1);\n"
    "  return (uint16_t)(s | ((a - (112u << 23)) >> 13));\n"
    "}\n"
    "ONNXC_U static inline float onnxc_bf2f(uint16_t h) {\n"
    "  uint32_t u = (uint32_t)h << 16;\n"
    "  float f;\n"
    "  memcpy(&f, &u, 4);\n"
    "  return f;\n"
    "}\n"
    "ONNXC_U static inline uint16_t onnxc_f2bf(float f) {\n"
    "  uint32_t u;\n"
    "  memcpy(&u, &f, 4);\n"
    "  if (f != f) return (uint16_t)((u >> 16) | 0x40);\n"
    "  return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);\n"
    "}\n\n";

typedef struct GraphInfo {
  int64_t arena_bytes, scratch_bytes;
} GraphInfo;

static int cm_build_subgraph(GenCtx *c, Graph *sub, const char *tag, int64_t arena_base, const char **fn_name);

static void add_name(CMod *m, const char *name) {
  char **names = realloc(m->names, sizeof(char *) * (size_t)(m->nnames + 1));
  if (!names) ir_oom();
  m->names = names;
  m->names[m->nnames++] = (char *)name;
}

/* the graph function `fn` for g, arena values at arena_base (module.c's build_graph in C) */
static int cm_graph(CMod *m, Graph *g, const char *fn, int64_t arena_base, GraphInfo *info) {
  int64_t arena_top;
  memset(info, 0, sizeof *info);
  if (be_plan_graph(g, arena_base, m->max_memory, &arena_top)) return -1;
  info->arena_bytes = arena_top;
  add_name(m, fn);
  const char *sig = cm_strf(m, "%sint32_t %s(void *rt_, void *const *io)", g->parent ? "static " : "", fn);
  cstr_printf(&m->protos, "%s;\n", sig);
  int maxbufs = 1;
  for (int k = 0; k < g->nnodes; k++)
    if (g->nodes[k]->nin + g->nodes[k]->nout + 1 > maxbufs) maxbufs = g->nodes[k]->nin + g->nodes[k]->nout + 1;
  CStr s = {0};
  cstr_printf(&s, "%s {\n  onnxc_rt *rt = (onnxc_rt *)rt_;\n  ONNXC_U char *arena = rt->arena;\n", sig);
  cstr_printf(&s, "  ONNXC_U const char *weights = rt->weights;\n  ONNXC_U char *scratch = rt->scratch;\n");
  cstr_printf(&s, "  void *bufs[%d];\n  int32_t st;\n  (void)io;\n", maxbufs);
  for (int k = 0; k < g->nnodes; k++) {
    Node *n = g->nodes[k];
    bool ctl = ir_ops[n->op].family == F_CONTROL, wants_rt = ctl || ir_ops[n->op].family == F_RNN;
    int nb = n->nin + n->nout + wants_rt;
    const char *kname;
    KB *kb = kb_c_kernel_begin(m, nb, ctl, &kname);
    GenCtx ctx = {.kb = kb, .g = g, .n = n, .target = m->target, .work = 1, .build_subgraph = cm_build_subgraph,
                  .mod = m, .fn_name = fn, .arena_top = arena_top, .arena_end = arena_top};
    if (be_gen_node(&ctx)) {
      kb_c_kernel_abandon(kb);
      free(s.s);
      return -1;
    }
    kb_c_kernel_end(kb);
    if (ctx.scratch_bytes > info->scratch_bytes) info->scratch_bytes = ctx.scratch_bytes;
    if (ctx.arena_end > info->arena_bytes) info->arena_bytes = ctx.arena_end;
    cstr_printf(&s, "  /* %s", ir_ops[n->op].name);
    char nm[IR_NAME_MSG];
    cstr_printf(&s, " ");
    for (const char *p = ir_name_msg(n->name, nm, sizeof nm); *p; p++) /* escaped; no comment end */
      if (p[0] != '*' && p[0] != '/') cstr_printf(&s, "%c", *p);
    cstr_printf(&s, " */\n");
    for (int j = 0; j < nb; j++) {
      Value *v = j < n->nin ? n->in[j] : n->out[j - n->nin];
      cstr_printf(&s, "  bufs[%d] = ", j);
      if (wants_rt && j == n->nin + n->nout) cstr_printf(&s, "rt;\n");
      else if (!v) cstr_printf(&s, "0;\n");
      else if (v->storage == ST_IO) cstr_printf(&s, "io[%lld];\n", (long long)v->offset);
      else if (v->storage == ST_CONST) {
        if (j < n->nin && j < 32 && (ctx.const_unused & (1u << j))) cstr_printf(&s, "0;\n");
        else {
          if (v->offset < 0) {
            int64_t bytes = pass_value_bytes(v);
            v->offset = (int64_t)blob_add(&m->blob, v->data, (size_t)(bytes > 0 ? bytes : 0));
          }
          cstr_printf(&s, "(void *)(weights + %lld);\n", (long long)v->offset);
        }
      } else
        cstr_printf(&s, "arena + %lld;\n", (long long)(arena_base + v->offset));
    }
    /* the top-level graph records the failing node for the runtime's message */
    const char *ret = g->parent ? "return st;" : cm_strf(m, "{\n    rt->failed_node = %d;\n    return st;\n  }", k);
    if (ctx.phases > 0)
      cstr_printf(&s, "  if ((st = onnxc_rt_phases(rt, %s, bufs, %lld, %lld))) %s\n", kname, (long long)ctx.phases,
                  (long long)ctx.work, ret);
    else if (ctx.work <= 1) cstr_printf(&s, "  if ((st = %s(bufs, weights, scratch, 0, 1))) %s\n", kname, ret);
    else cstr_printf(&s, "  if ((st = onnxc_rt_parallel(rt, %s, bufs, %lld))) %s\n", kname, (long long)ctx.work, ret);
  }
  cstr_printf(&s, "  return 0;\n}\n\n");
  cstr_append(&m->body, s.s, s.n);
  free(s.s);
  return 0;
}

/* GenCtx.build_subgraph for the C module: a static graph function in the same file */
static int cm_build_subgraph(GenCtx *c, Graph *sub, const char *tag, int64_t arena_base, const char **fn_name) {
  CMod *m = c->mod;
  const char *name = cm_ident(m, cm_strf(m, "%s.%d.%s", c->fn_name, c->n->id, tag));
  for (int i = 0; i < m->nnames; i++)
    if (!strcmp(m->names[i], name)) return ir_node_error(c->g, c->n, "internal: %s built twice", name);
  GraphInfo info;
  if (cm_graph(m, sub, name, arena_base, &info)) return -1;
  if (info.arena_bytes > c->arena_end) c->arena_end = info.arena_bytes;
  if (info.scratch_bytes > c->scratch_bytes) c->scratch_bytes = info.scratch_bytes;
  *fn_name = name;
  return 0;
}

static int write_text(const char *path, const char *const *parts, int nparts, char *err, size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %.1500s: %s", path, strerror(errno));
    return -1;
  }
  for (int i = 0; i < nparts; i++)
    if (parts[i]) fputs(parts[i], f);
  if (fclose(f)) {
    snprintf(err, errlen, "cannot write %.1500s", path);
    return -1;
  }
  return 0;
}

/* the blob as one string literal: printable bytes as themselves, the rest as 3-digit octal */
static int write_weights(const char *path, const char *name, const unsigned char *data, size_t size, char *err,
                         size_t errlen) {
  FILE *f = fopen(path, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %.1500s: %s", path, strerror(errno));
    return -1;
  }
  fprintf(f, "/* %s_weights.c — the weight blob of %s (%zu bytes), generated by onnxc compile --emit c */\n",
          name, name, size);
  fprintf(f, "__attribute__((visibility(\"hidden\"), aligned(64)))\nconst char %s_weights[%zu] =\n", name,
          size + 1);
  for (size_t i = 0; i < size || i == 0; i += 64) {
    fputs("    \"", f);
    for (size_t j = i; j < i + 64 && j < size; j++) {
      unsigned char c = data[j];
      if (c >= 32 && c < 127 && c != '"' && c != '\\' && c != '?') fputc(c, f);
      else fprintf(f, "\\%03o", c);
    }
    fputs(i + 64 >= size ? "\";\n" : "\"\n", f);
  }
  if (fclose(f)) {
    snprintf(err, errlen, "cannot write %.1500s", path);
    return -1;
  }
  return 0;
}

void be_aot_graph_name(const char *name, int variant, char *buf, size_t len) {
  if (variant) snprintf(buf, len, "%s_graph_v%d", name, variant);
  else snprintf(buf, len, "%s_graph", name);
}

/* every variant's graph function into m, over one blob (identical pieces shared when several) */
static int cm_variants(CMod *m, Graph *const *gs, int n, const char *name, BeAotResult *r, char *err,
                       size_t errlen) {
  if (n > 1) blob_share_begin(&m->blob);
  int rc = 0;
  for (int k = 0; k < n && !rc; k++) {
    char fn[300];
    be_aot_graph_name(name, k, fn, sizeof fn);
    GraphInfo info;
    if ((rc = cm_graph(m, gs[k], cm_strf(m, "%s", fn), 0, &info))) {
      snprintf(err, errlen, "%s", ir_last_error(gs[k]));
      break;
    }
    r->variant[k].arena_bytes = info.arena_bytes;
    r->variant[k].scratch_bytes = info.scratch_bytes;
    if (info.arena_bytes > r->arena_bytes) r->arena_bytes = info.arena_bytes;
    if (info.scratch_bytes > r->scratch_bytes) r->scratch_bytes = info.scratch_bytes;
  }
  blob_share_end(&m->blob);
  r->nvariants = n;
  return rc;
}

int be_c_emit(Graph *g, const BeAotOptions *o, const char *dir, BeAotResult *r, char *err, size_t errlen) {
  return be_c_emit_variants(&g, 1, o, dir, r, err, errlen);
}

int be_c_emit_variants(Graph *const *gs, int n, const BeAotOptions *o, const char *dir, BeAotResult *r, char *err,
                       size_t errlen) {
  memset(r, 0, sizeof *r);
  if (n < 1 || n > BE_AOT_MAX_VARIANTS) {
    snprintf(err, errlen, "%d shapes: a library holds 1 to %d", n, BE_AOT_MAX_VARIANTS);
    return -1;
  }
  Target t = {.name = "c", .triple = "c11-gnu-vector", .cpu = "", .features = "", .vector_bytes = 32};
  if (o->target && be_target_get(o->target, &t, err, errlen)) return -1;
  snprintf(r->triple, sizeof r->triple, "%s", "portable C11 (GCC/Clang vector extensions)");
  snprintf(r->target, sizeof r->target, "c%d", t.vector_bytes * 8);
  t.has_avx512 = t.has_vnni = t.has_bf16 = false;
  if (gs[0]->fp_mode == IR_FP_BF16) {
    snprintf(err, errlen, "--fp-mode bf16 runs on AVX512-BF16 kernels (vdpbf16ps) through LLVM; the portable C of "
                          "--emit c has none: leave out --fp-mode bf16, or compile a library (--emit so|obj|lib)");
    return -1;
  }
  CMod m = {.target = &t, .prefix = o->name, .max_memory = o->max_memory};
  m.blob.record = o->compress_weights;
  int rc = -1;
  if (cm_variants(&m, gs, n, o->name, r, err, errlen)) goto out;
  char path[4400];
  snprintf(path, sizeof path, "%.4000s/%s_model.c", dir, o->name);
  const char *head = cm_strf(&m, "/* %s_model.c — generated by onnxc compile --emit c (%d-byte vectors). Do not edit.\n"
                                 " * Build: cc -std=c11 -O2 (add -march=... for the target's vector instructions). */\n",
                             o->name, t.vector_bytes);
  const char *parts[] = {head, PRELUDE, "/* vector types */\n", m.types.s, "\n/* functions */\n", m.protos.s, "\n",
                         m.body.s};
  if (write_text(path, parts, (int)(sizeof parts / sizeof parts[0]), err, errlen)) goto out;
  snprintf(r->files[r->nfiles++], sizeof r->files[0], "%s", path);
  be_aot_store_weights(&m.blob, o, r);
  if (o->embed_weights) {
    snprintf(path, sizeof path, "%.4000s/%s_weights.c", dir, o->name);
    if (write_weights(path, o->name, r->weights, r->weights_bytes, err, errlen)) goto out;
    snprintf(r->files[r->nfiles++], sizeof r->files[0], "%s", path);
  }
  rc = 0;
out:
  free(m.blob.piece);
  cm_free(&m);
  return rc;
}
