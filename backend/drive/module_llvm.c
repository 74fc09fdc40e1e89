/* module_llvm.c — from a specialized, planned Graph (module.c) to an LLVM module: one kernel per
 * node (kb_llvm.c) and the graph function that calls them, for the JIT (jit.c) and AOT (aot.c).
 *
 * A subgraph (If branch, Loop/Scan body) becomes a graph function of the same signature, built
 * when the control node's generator asks for it through GenCtx.build_subgraph. */
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "passes.h"
#include "onnxc_rt.h"
#include "prof_llvm.h"

static int build_subgraph(GenCtx *c, Graph *sub, const char *tag, int64_t arena_base, const char **fn_name);

/* Generates node k's kernel (kb_kernel_end may find it identical to an earlier one); NULL on error */
static LLVMValueRef gen_kernel(KMod *m, GenCtx *ctx, int k, int nb, bool ctl, size_t **wofs, int *nw) {
  Graph *g = ctx->g;
  KB *kb = kb_kernel_begin(m, arena_printf(g->arena, "%d", k), nb, ctl);
  if (!kb) {
    ir_node_error(g, ctx->n, "too many inputs/outputs");
    return NULL;
  }
  ctx->kb = kb;
  if (be_gen_node(ctx)) {
    kb_kernel_abandon(kb);
    return NULL;
  }
  return kb_kernel_end(kb, wofs, nw);
}

/* Builds the graph function for g with its arena values at arena_base; info->arena_bytes is the
 * end of the arena it (and its subgraphs) use.  keys (NULL: none) finds nodes whose kernel an
 * earlier node already has (module_key.c). */
static int build_graph(Graph *g, KMod *m, const char *fn_name, int64_t arena_base, ModuleInfo *info,
                       KernelKeys *keys) {
  LLVMContextRef c = m->ctx;
  memset(info, 0, sizeof *info);
  int64_t arena_top;
  if (be_plan_graph(g, arena_base, m->max_memory, &arena_top)) return -1;
  info->arena_bytes = arena_top;

  LLVMTypeRef ptr = LLVMPointerTypeInContext(c, 0), i32 = LLVMInt32TypeInContext(c),
              i64 = LLVMInt64TypeInContext(c);
  LLVMTypeRef gparams[2] = {ptr, ptr};
  LLVMValueRef gfn = LLVMAddFunction(m->mod, fn_name, LLVMFunctionType(i32, gparams, 2, 0));
  kb_set_fn_target_attrs(m, gfn);
  /* The graph function only fills buffer tables and calls kernels: nothing to optimize, while
   * LLVM's passes over one long function are superlinear (the SLP vectorizer's dependencies
   * among its thousands of stores; once the kernels' constant status is propagated, one block).
   * optnone keeps its compile time linear in the number of nodes (optnone needs noinline). */
  static const char *const graph_attrs[2] = {"noinline", "optnone"};
  for (int i = 0; i < 2; i++)
    LLVMAddAttributeAtIndex(gfn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(c, LLVMGetEnumAttributeKindForName(graph_attrs[i],
                                                                                        strlen(graph_attrs[i])), 0));
  if (g->parent) LLVMSetLinkage(gfn, LLVMInternalLinkage);
  LLVMBuilderRef b = LLVMCreateBuilderInContext(c);
  LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(c, gfn, "entry");
  LLVMPositionBuilderAtEnd(b, entry);
  LLVMValueRef rt = LLVMGetParam(gfn, 0), io = LLVMGetParam(gfn, 1);
  /* onnxc_rt fields: arena, weights, scratch, scratch_stride */
  LLVMValueRef f0 = LLVMConstInt(i64, 0, 0), f1 = LLVMConstInt(i64, 1, 0), f2 = LLVMConstInt(i64, 2, 0);
  LLVMValueRef arena = LLVMBuildLoad2(b, ptr, LLVMBuildGEP2(b, ptr, rt, &f0, 1, ""), "arena");
  LLVMValueRef weights = LLVMBuildLoad2(b, ptr, LLVMBuildGEP2(b, ptr, rt, &f1, 1, ""), "weights");
  LLVMValueRef scratch = LLVMBuildLoad2(b, ptr, LLVMBuildGEP2(b, ptr, rt, &f2, 1, ""), "scratch");
  if (!g->parent) be_prof_emit_start(m, b, rt); /* profiling only (m->prof) */
  int maxbufs = 1;
  for (int k = 0; k < g->nnodes; k++)
    if (g->nodes[k]->nin + g->nodes[k]->nout + 1 > maxbufs) maxbufs = g->nodes[k]->nin + g->nodes[k]->nout + 1;
  /* its size is set after the kernels, which may add weight pointers (kb_kernel_end) */
  LLVMValueRef bufs = LLVMBuildArrayAlloca(b, ptr, LLVMConstInt(i64, 1, 0), "bufs");
  LLVMTypeRef kparams[5] = {ptr, ptr, ptr, i64, i64};
  LLVMTypeRef kty = LLVMFunctionType(i32, kparams, 5, 0);
  LLVMTypeRef parparams[4] = {ptr, ptr, ptr, i64};
  LLVMTypeRef party = LLVMFunctionType(i32, parparams, 4, 0);
  /* one declaration for every graph function: a subgraph's second one would be renamed
   * onnxc_rt_parallel.1, which the JIT cannot resolve */
  LLVMValueRef parfn = LLVMGetNamedFunction(m->mod, "onnxc_rt_parallel");
  if (!parfn) parfn = LLVMAddFunction(m->mod, "onnxc_rt_parallel", party);
  LLVMTypeRef phparams[5] = {ptr, ptr, ptr, i64, i64};
  LLVMTypeRef phty = LLVMFunctionType(i32, phparams, 5, 0);
  LLVMValueRef phfn = LLVMGetNamedFunction(m->mod, "onnxc_rt_phases");

  for (int k = 0; k < g->nnodes; k++) {
    Node *n = g->nodes[k];
    /* control kernels also get the runtime context, last, to call their subgraphs' functions */
    bool ctl = ir_ops[n->op].family == F_CONTROL, wants_rt = ctl || ir_ops[n->op].family == F_RNN;
    int nb = n->nin + n->nout + wants_rt;
    GenCtx ctx = {.g = g, .n = n, .target = m->target, .work = 1, .build_subgraph = build_subgraph,
                  .mod = m, .fn_name = fn_name, .arena_top = arena_top, .arena_end = arena_top};
    if (be_deadline_passed()) { /* the compile-time bound, checked between kernels */
      LLVMDisposeBuilder(b);
      return ir_node_error(g, n, "the compile-time bound passed before this node's kernel");
    }
    size_t *wofs;
    int nw;
    LLVMValueRef kfn;
    const KeyedKernel *same = be_keys_find(keys, g, n);
    if (same) {
      kfn = same->kfn;
      wofs = same->wofs;
      nw = same->nw;
      ctx.work = same->work;
      ctx.phases = same->phases;
      ctx.scratch_bytes = same->scratch_bytes;
      ctx.arena_end = arena_top + same->arena_extra;
      ctx.const_unused = same->const_unused;
      m->nshared++;
      info->nkeyed++;
    } else {
      if (!(kfn = gen_kernel(m, &ctx, k, nb, ctl, &wofs, &nw))) {
        LLVMDisposeBuilder(b);
        return -1;
      }
      KeyedKernel e = {.kfn = kfn, .wofs = wofs, .nw = nw, .work = ctx.work, .phases = ctx.phases, .scratch_bytes = ctx.scratch_bytes,
                       .arena_extra = ctx.arena_end - arena_top, .const_unused = ctx.const_unused};
      be_keys_add(keys, g, n, &e);
    }
    if (ctx.scratch_bytes > info->scratch_bytes) info->scratch_bytes = ctx.scratch_bytes;
    if (ctx.arena_end > info->arena_bytes) info->arena_bytes = ctx.arena_end;
    /* fill bufs */
    for (int j = 0; j < nb; j++) {
      Value *v = j < n->nin ? n->in[j] : n->out[j - n->nin];
      LLVMValueRef p;
      if (wants_rt && j == n->nin + n->nout) p = rt;
      else if (!v) p = LLVMConstNull(ptr);
      else if (v->storage == ST_IO) {
        LLVMValueRef idx = LLVMConstInt(i64, (unsigned long long)v->offset, 0);
        p = LLVMBuildLoad2(b, ptr, LLVMBuildGEP2(b, ptr, io, &idx, 1, ""), "");
      } else if (v->storage == ST_CONST) {
        if (j < n->nin && (ctx.const_unused & (1u << j)) && j < 32) p = LLVMConstNull(ptr);
        else {
          if (v->offset < 0) {
            int64_t bytes = pass_value_bytes(v);
            v->offset = (int64_t)blob_add(&m->blob, v->data, (size_t)(bytes > 0 ? bytes : 0));
          }
          LLVMValueRef off = LLVMConstInt(i64, (unsigned long long)v->offset, 0);
          p = LLVMBuildGEP2(b, LLVMInt8TypeInContext(c), weights, &off, 1, "");
        }
      } else {
        LLVMValueRef off = LLVMConstInt(i64, (unsigned long long)(arena_base + v->offset), 0);
        p = LLVMBuildGEP2(b, LLVMInt8TypeInContext(c), arena, &off, 1, "");
      }
      LLVMValueRef idx = LLVMConstInt(i64, (unsigned long long)j, 0);
      LLVMBuildStore(b, p, LLVMBuildGEP2(b, ptr, bufs, &idx, 1, ""));
    }
    for (int j = 0; j < nw; j++) {
      LLVMValueRef off = LLVMConstInt(i64, (unsigned long long)wofs[j], 0);
      LLVMValueRef p = LLVMBuildGEP2(b, LLVMInt8TypeInContext(c), weights, &off, 1, "");
      LLVMValueRef idx = LLVMConstInt(i64, (unsigned long long)(nb + j), 0);
      LLVMBuildStore(b, p, LLVMBuildGEP2(b, ptr, bufs, &idx, 1, ""));
    }
    if (!same) free(wofs);
    if (nb + nw > maxbufs) maxbufs = nb + nw;
    LLVMValueRef st;
    if (ctx.phases > 0) {
      if (!phfn) phfn = LLVMAddFunction(m->mod, "onnxc_rt_phases", phty);
      LLVMValueRef args[5] = {rt, kfn, bufs, LLVMConstInt(i64, (unsigned long long)ctx.phases, 0),
                              LLVMConstInt(i64, (unsigned long long)ctx.work, 0)};
      st = LLVMBuildCall2(b, phty, phfn, args, 5, "");
    } else if (ctx.work <= 1) {
      LLVMValueRef args[5] = {bufs, weights, scratch, LLVMConstInt(i64, 0, 0), LLVMConstInt(i64, 1, 0)};
      st = LLVMBuildCall2(b, kty, kfn, args, 5, "");
      /* Kernels stay calls: inlined, a long chain of small kernels became one basic block (their
       * status checks fold away) whose machine scheduling is quadratic — 2,000 elementwise nodes
       * took minutes in codegen.  A call costs nothing beside a kernel's loop. */
      unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
      LLVMAddCallSiteAttribute(st, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c, noinline, 0));
    } else {
      LLVMValueRef args[4] = {rt, kfn, bufs, LLVMConstInt(i64, (unsigned long long)ctx.work, 0)};
      st = LLVMBuildCall2(b, party, parfn, args, 4, "");
    }
    if (!g->parent) be_prof_emit_node(m, b, rt, k, kfn); /* profiling only (m->prof) */
    /* Each kernel has its own failure exit: one shared exit whose phis had an incoming value per
     * node made LLVM's code generation quadratic (PHINode::removeIncomingValue) on long graphs. */
    LLVMBasicBlockRef next = LLVMAppendBasicBlockInContext(c, gfn, "next"),
                      fail = LLVMAppendBasicBlockInContext(c, gfn, "fail");
    LLVMValueRef ok = LLVMBuildICmp(b, LLVMIntEQ, st, LLVMConstInt(i32, 0, 0), "");
    LLVMBuildCondBr(b, ok, next, fail);
    LLVMPositionBuilderAtEnd(b, fail);
    if (!g->parent) { /* the top-level graph records the failing node for the runtime's message */
      LLVMValueRef off = LLVMConstInt(i64, offsetof(onnxc_rt, failed_node), 0);
      LLVMBuildStore(b, LLVMConstInt(i32, (unsigned long long)k, 0),
                     LLVMBuildGEP2(b, LLVMInt8TypeInContext(c), rt, &off, 1, ""));
    }
    LLVMBuildRet(b, st);
    LLVMPositionBuilderAtEnd(b, next);
    info->nkernels++;
    if (!g->parent && m->early && k + 1 == m->early_at) { /* a complete function for the moment */
      LLVMValueRef ret = LLVMBuildRet(b, LLVMConstInt(i32, 0, 0));
      m->early(m, gfn, m->early_arg);
      LLVMInstructionEraseFromParent(ret);
      LLVMPositionBuilderAtEnd(b, next);
    }
  }
  LLVMBuildRet(b, LLVMConstInt(i32, 0, 0));
  LLVMSetOperand(bufs, 0, LLVMConstInt(i64, (unsigned long long)maxbufs, 0));
  LLVMDisposeBuilder(b);
  info->weights_bytes = m->blob.size;
  return pass_plan_budget(g, m->max_memory > 0 ? m->max_memory : BE_DEFAULT_MAX_MEMORY, info->arena_bytes,
                          info->scratch_bytes);
}

int be_build_module(Graph *g, KMod *m, const char *fn_name, ModuleInfo *info) {
  KernelKeys *keys = be_keys_new();
  int rc = build_graph(g, m, fn_name, 0, info, keys);
  be_keys_free(keys);
  info->nshared = m->nshared;
  kb_mod_forget_kernels(m);
  return rc;
}

/* GenCtx.build_subgraph for the LLVM module: the subgraph's graph function goes into the same
 * module, internal, named after the enclosing function, the node and the branch or body */
static int build_subgraph(GenCtx *c, Graph *sub, const char *tag, int64_t arena_base, const char **fn_name) {
  KMod *m = c->mod;
  const char *name = arena_printf(c->g->arena, "%s.%d.%s", c->fn_name, c->n->id, tag);
  if (LLVMGetNamedFunction(m->mod, name)) return ir_node_error(c->g, c->n, "internal: %s built twice", name);
  ModuleInfo info;
  if (build_graph(sub, m, name, arena_base, &info, NULL)) return -1;
  if (info.arena_bytes > c->arena_end) c->arena_end = info.arena_bytes;
  if (info.scratch_bytes > c->scratch_bytes) c->scratch_bytes = info.scratch_bytes;
  *fn_name = name;
  return 0;
}
