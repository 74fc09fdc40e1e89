/* ir.h — the onnxc intermediate representation: Graph, Value, Node, Attr.
 *
 * One Graph owns one Arena (subgraphs share their root's); everything the IR allocates comes from it
 * and is freed once, with the graph.  Values carry static shapes after specialization; constant
 * values carry their data (dense, row-major).  Ops are declared once, in ops.def. */
#ifndef ONNXC_IR_H
#define ONNXC_IR_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IR_MAX_RANK 8          /* rank cap; checked by the frontend */
#define IR_MAX_DEPTH 16        /* subgraph nesting cap */
#define IR_FOLD_LIMIT (1 << 22) /* largest tensor (elements) constant folding produces */

/* ---- arena ---------------------------------------------------------------------------------- */
typedef struct ArenaBlock ArenaBlock;
typedef struct ArenaKept ArenaKept;
typedef struct Arena {
  ArenaBlock *head;
  size_t total;
  ArenaKept *kept; /* arena_keep_start: the kept constants (NULL: none listed) */
} Arena;

void *arena_alloc(Arena *a, size_t bytes); /* zeroed, 64-byte aligned; never NULL (ir_oom on OOM) */
void *arena_try_alloc(Arena *a, size_t bytes); /* same, but NULL on OOM (untrusted sizes) */
/* same, not zeroed: for data the caller overwrites at once (a model's weights: zeroing them first
 * was a quarter of loading ResNet-50) */
void *arena_try_alloc_uninit(Arena *a, size_t bytes);
void *arena_dup(Arena *a, const void *p, size_t bytes);
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...);
void arena_free(Arena *a);
/* the arena owns the mapping [p, p + bytes) from now: arena_free munmaps it; -1 (out of memory):
 * it does not, and the caller still owns it */
int arena_adopt_map(Arena *a, void *p, size_t bytes);
/* asks the kernel for huge pages behind [p, p + bytes) when it is large (weights): a 2 MB page
 * instead of 512 small ones makes first touch and TLB misses cheap; advice only, never fails */
void arena_advise_huge(void *p, size_t bytes);
/* Kept constants: what passes make from the weights (attention's Q/K/V split), kept between loads
 * by the compile cache (lib/cache.c) because fresh pages are most of what they cost.  After
 * arena_keep_start every arena_alloc_kept is listed and, while they fit, served in order from
 * [region, region + bytes) (the cache's copy of an earlier load's list, a private file mapping the
 * arena adopted; NULL: none), and arena_fill writes into it only the bytes that differ, so pages
 * holding the right bytes stay shared with the file.  The region is never trusted: every byte of a
 * kept allocation must be written through arena_fill.  -1: out of memory (nothing listed). */
typedef struct ArenaKept {
  unsigned char *region;
  size_t bytes, used; /* the region and what the allocations took of it (64-byte steps) */
  size_t changed;     /* bytes arena_fill rewrote in the region */
  bool outside;       /* an allocation did not fit in the region */
  bool broken;        /* the list could not grow: it is incomplete */
  struct ArenaKeptItem {
    void *p;
    size_t bytes;
  } *item;
  size_t n, cap;
} ArenaKept;
int arena_keep_start(Arena *a, void *region, size_t bytes);
void *arena_alloc_kept(Arena *a, size_t bytes); /* not zeroed, 64-byte aligned; NULL on OOM */
void arena_fill(Arena *a, void *dst, const void *src, size_t n); /* memcpy, see above */
/* hash.c: a fast 64-bit hash of n bytes (not cryptographic; the compile cache's key) */
uint64_t ir_hash64(const void *data, size_t n, uint64_t seed);
/* copies n bytes from src to dst and returns ir_hash64(dst, n, seed), hashing each stretch while
 * the copy left it in cache (the frontend's weights: read once for both).  changed not NULL: a
 * stretch is compared first and written only where it differs (dst a private file mapping whose
 * pages stay shared where they hold src's bytes), and *changed grows by the bytes written. */
uint64_t ir_hash64_copy(void *dst, const void *src, size_t n, uint64_t seed, size_t *changed);

/* Out of memory.  Compiler code never checks an allocation it cannot do without: it calls
 * ir_oom(), which longjmps to this thread's innermost handler.  Library entry points install one
 * around their work and turn the jump into a status code:
 *     jmp_buf jb; jmp_buf *prev = ir_oom_swap(&jb);
 *     if (setjmp(jb)) { ir_oom_swap(prev); ...; return ONNXC_ERR_NOMEM; }
 *     ... work ...
 *     ir_oom_swap(prev);
 * With no handler installed (unit tests) ir_oom aborts.  The handler is per thread: no
 * process-wide state.  Memory malloc'd by the interrupted work leaks; the arena does not. */
_Noreturn void ir_oom(void);
jmp_buf *ir_oom_swap(jmp_buf *target); /* installs target (NULL: none); returns the previous one */
void *ir_xmalloc(size_t bytes);          /* malloc that calls ir_oom instead of returning NULL */
void *ir_xcalloc(size_t n, size_t size); /* calloc likewise */
void *ir_xrealloc(void *p, size_t bytes); /* realloc likewise */

/* ---- data types (ONNX TensorProto.DataType numbering) ------------------------------------- */
typedef enum DType {
  DT_UNDEF = 0,
  DT_FLOAT = 1,
  DT_UINT8 = 2,
  DT_INT8 = 3,
  DT_UINT16 = 4,
  DT_INT16 = 5,
  DT_INT32 = 6,
  DT_INT64 = 7,
  DT_STRING = 8,
  DT_BOOL = 9,
  DT_FLOAT16 = 10,
  DT_DOUBLE = 11,
  DT_UINT32 = 12,
  DT_UINT64 = 13,
  DT_COMPLEX64 = 14,
  DT_COMPLEX128 = 15,
  DT_BFLOAT16 = 16,
  DT_COUNT
} DType;

size_t dtype_size(DType t);          /* 0 for unsupported (string, complex) */
const char *dtype_name(DType t);     /* "float32", "int64", ... (numpy names) */
bool dtype_is_float(DType t);        /* float16/bfloat16/float/double */
bool dtype_is_signed(DType t);       /* signed ints and floats */
bool dtype_supported(DType t);       /* a dtype tensors may have in onnxc */

/* ---- op table ------------------------------------------------------------------------------- */
typedef enum OpFamily {
  F_NONE,
  F_UNARY,    /* elementwise, one input (and attribute/scalar-constant parameters) */
  F_BINARY,   /* elementwise with numpy broadcasting, 2+ inputs */
  F_TERNARY,  /* Where */
  F_NORM,     /* BatchNormalization, InstanceNormalization, LayerNormalization, LRN */
  F_CONTRACT, /* MatMul, Gemm, Conv, ConvTranspose */
  F_POOL,     /* MaxPool, AveragePool, Global*, LpPool */
  F_REDUCE,   /* Reduce*, ArgMax/ArgMin, Softmax family, CumSum */
  F_MOVE,     /* data movement: Reshape .. Tile */
  F_GEN,      /* sources: Constant, Shape, Range, ConstantOfShape, ... */
  F_CONTROL,  /* If, Loop, Scan */
  F_SIGNAL,   /* windows, MelWeightMatrix, DFT, STFT */
  F_VISION,   /* GridSample, RoiAlign, NonMaxSuppression */
  F_QUANT,    /* QuantizeLinear .. QLinearConv */
  F_RNN,      /* recurrent: RNN, GRU, LSTM */
  F_COUNT
} OpFamily;

typedef enum Op {
#define OP(name, ...) OP_##name,
#include "ops.def"
#undef OP
  OP_COUNT
} Op;

typedef struct Graph Graph;
typedef struct Node Node;

/* fusion flags (ops.def's fuse column, read by passes/fuse.c) */
enum {
  FU_EPI = 1, /* may take a fused epilogue: activations and a residual of its output's shape */
  FU_ROW = 2, /* with FU_EPI: the residual may also be a row broadcast along the last dim */
  FU_ACT = 4, /* an activation that may run in an FU_EPI op's epilogue */
};

/* the data of one ops.def row.  The function columns become tables in the files that dispatch
 * through them (shape.c: shape and fold; ir/cost.c: cost; backend/gen_table.c: gen), so this table
 * depends on nothing and every file may read it. */
typedef struct OpInfo {
  const char *name;
  OpFamily family;
  int min_in, max_in;   /* max -1: variadic */
  int min_out, max_out; /* max -1: variadic */
  uint32_t opt_in;   /* inputs below min_in that may be absent (bit i: input i) */
  uint32_t shape_in; /* inputs whose values decide shapes/parameters (bit 31: inputs 31 and up) */
  unsigned fuse;     /* FU_* */
} OpInfo;

extern const OpInfo ir_ops[OP_COUNT];
Op ir_op_lookup(const char *name); /* OP_COUNT when unknown */
/* the Reduce* ops (adjacent in ops.def: ReduceSum .. ReduceSumSquare) */
static inline bool ir_op_is_reduce(Op op) { return op >= OP_ReduceSum && op <= OP_ReduceSumSquare; }
/* bit i of an input mask; bit 31 stands for every input from 31 up */
static inline bool ir_in_mask(uint32_t mask, int i) { return (mask >> (i < 31 ? i : 31)) & 1u; }
/* input i of an op may be absent (an empty name in the model) */
static inline bool ir_op_input_optional(Op op, int i) {
  return i >= ir_ops[op].min_in || ir_in_mask(ir_ops[op].opt_in, i);
}

/* ---- values, attributes, nodes, graphs ------------------------------------------------------ */

typedef enum ValueKind {
  VK_TEMP,  /* produced by a node */
  VK_INPUT, /* graph input (runtime data) */
  VK_CONST, /* initializer or folded constant: data != NULL */
  VK_OUTER, /* in a subgraph: a value captured from an enclosing graph (see Value.outer) */
} ValueKind;

/* How a value's elements sit in its buffer (passes/layout.c decides).  VL_PLAIN is dense
 * row-major (C order) over dims[]: every generator indexes that way today, and the layout pass
 * checks that no generator is handed anything else.  A blocked layout comes next (VL_NCHW16C:
 * the channel dim split into blocks of 16 that are innermost, the last block zero-padded, so the
 * buffer holds ceil(C/16)*16 channels).  A generator that accepts a non-plain value must check
 * the layout of every input and output it is given (and the padded size), and say so through
 * the layout pass's per-op predicate; everything else keeps seeing VL_PLAIN. */
typedef enum ValueLayout {
  VL_PLAIN = 0,
  VL_COUNT
} ValueLayout;
const char *ir_layout_name(ValueLayout l); /* "plain", ...; "?" when out of range */

/* Where a value lives at run time (passes/plan.c):  ST_IO: the caller's buffer io[offset]
 * (graph inputs, then outputs, then a subgraph's captured values); ST_CONST: the weight blob
 * (offset -1 until the backend adds it to the blob it builds); ST_ARENA: the arena at
 * base + offset, where base is 0 for the main graph and, for a subgraph, where its control
 * kernel places it during code generation. */
typedef enum ValueStorage { ST_NONE, ST_IO, ST_CONST, ST_ARENA } ValueStorage;

/* passes/cluster.c: a constant folded from Gather(codebook, indices) (a clustered weight, as
 * `onnxc compress --cluster K` writes it) keeps its codebook (k <= 256 floats) and one index per
 * element, so generators may keep the weight compressed (the float data is there too) */
typedef struct IrCluster {
  int k;
  const float *code;
  const uint8_t *idx;
} IrCluster;

typedef struct Value {
  int id;
  const char *name;
  ValueKind kind;
  DType dtype;
  int rank;                        /* -1: unknown */
  int64_t dims[IR_MAX_RANK];       /* -1: unknown / symbolic */
  const char *sym[IR_MAX_RANK];    /* symbolic dim names (dim_param), NULL if none */
  void *data;                      /* constant contents, nelems * dtype_size bytes */
  Node *producer;
  struct Value *outer;             /* VK_OUTER: the captured value */
  bool is_output;
  ValueLayout layout;              /* passes/layout.c; VL_PLAIN until then */
  /* filled by analyses / planning */
  int nusers;
  int64_t offset;                  /* memory planning: byte offset in its storage */
  ValueStorage storage;            /* memory planning; ST_NONE before passes/plan.c */
  struct Value *inside;            /* passes/plan.c: lives in a slice of this value's buffer (a Concat
                                    * input written in place in its output), else NULL */
  const IrCluster *cluster;        /* passes/cluster.c: a clustered weight's codebook and indices (NULL: none) */
} Value;

typedef enum AttrType {
  AT_UNDEF = 0,
  AT_FLOAT = 1,
  AT_INT = 2,
  AT_STRING = 3,
  AT_TENSOR = 4,
  AT_GRAPH = 5,
  AT_FLOATS = 6,
  AT_INTS = 7,
  AT_STRINGS = 8,
  AT_TENSORS = 9,
  AT_GRAPHS = 10,
} AttrType;

typedef struct Attr {
  const char *name;
  AttrType type;
  float f;
  int64_t i;
  const char *s; /* AT_STRING: NUL-terminated (strings with NUL bytes are rejected) */
  int n;         /* element count of the list forms */
  float *floats;
  int64_t *ints;
  const char **strings;
  Value *t;      /* AT_TENSOR: a constant value (not in the graph's value list) */
  Value **tensors; /* AT_TENSORS: n constant values (not in the graph's value list) */
  Graph *g;      /* AT_GRAPH */
  Graph **graphs;
} Attr;

struct Node {
  int id;
  Op op;
  const char *name;   /* never NULL: the ONNX name or "Op_<id>" */
  const char *domain; /* "" for the default domain */
  int nin, nout;
  Value **in;         /* missing optional inputs are NULL */
  Value **out;        /* missing optional outputs are NULL */
  int nattr;
  Attr *attrs;
  bool dead;
  struct Epilogue *epi; /* passes/fuse.c: work fused into a Conv/Gemm/MatMul (NULL: none) */
  bool winograd;        /* passes/winograd.c: a Conv the backend may run as Winograd (gen_winograd.c) */
  bool sparse;          /* passes/sparse.c: a MatMul/Gemm whose constant weight may run sparse (gen_sparse.c) */
  bool binary;          /* passes/binary.c: a Conv on ±1/0 inputs and ±α weights (gen_binary_conv.c) */
  bool binary_sign;     /* passes/binary.c: a binary Conv whose in[0] is the input of the Sign it replaced */
  bool xsmm;            /* gen_xsmm.c sets it when it puts the node's GEMM on libxsmm (`--gemm libxsmm`);
                           with `--gemm auto` (lib/gemm.c) it stays set where libxsmm measured faster */
  bool nhwc;            /* passes/layout.c: a depthwise Conv on pixel-major [N·H·W, C] values, geometry in its
                           attribute "nhwc" {N, H, W, OH, OW} (gen_conv_nhwc.c) */
};

/* An epilogue fused into a contraction (passes/fuse.c), applied to each result while it is in
 * registers, after the op's own bias:  y = act[nact-1]( ... act[0](y + res) ... ).
 * res (NULL: none) is the node's last input, in[ir_ops[op].max_in]: same shape as the output, or
 * (Gemm/MatMul) a row of N values broadcast over the rows.  act[] are the removed unary nodes,
 * kept for their op and attributes (Clip bounds are constants). */
typedef struct Epilogue {
  Value *res;
  int nact;
  Node *act[4];
} Epilogue;

struct Graph {
  Arena *arena;
  Graph *parent;        /* enclosing graph for subgraphs */
  const char *name;
  int64_t opset;        /* default-domain opset */
  int depth;            /* nesting depth (0 = main graph) */
  Node **nodes;
  int nnodes, cap_nodes;
  Value **values;
  int nvalues, cap_values;
  Value **inputs;       /* runtime inputs only (initializers excluded) */
  int ninputs;
  Value **outputs;
  int noutputs;
  char *err;            /* root graph: first error message (see ir_error) */
  int64_t max_memory;   /* bytes; 0 = default limit */
  /* passes/plan.c: storage and arena offsets of this graph's values (and its subgraphs') are
   * set; arena_bytes is the arena they use from this graph's base, a multiple of 64 */
  bool planned;
  int64_t arena_bytes;
  /* root graph: who computes its fp32 GEMMs (backend/gen/gen_xsmm.c): 0 onnxc's own kernels,
   * 1 libxsmm, 2 auto (the faster per shape, measured); libonnxc sets it from its options */
  int gemm_provider;
  /* root graph: IR_FP_FP32, or IR_FP_BF16 (`--fp-mode bf16`: fp32 GEMMs on bf16 operands with
   * fp32 accumulation, backend/gen/gen_gemm.c); libonnxc sets it from its options */
  int fp_mode;
};
enum { IR_FP_FP32 = 0, IR_FP_BF16 = 1 };

/* graph.c */
Graph *ir_graph_new(void);
Graph *ir_graph_new_sub(Graph *parent);
void ir_graph_free(Graph *g);
Value *ir_value_new(Graph *g, const char *name);
Node *ir_node_new(Graph *g, Op op, const char *name, int nin, int nout);
void ir_node_remove(Graph *g, Node *n);           /* marks dead; compacted by ir_graph_compact */
void ir_graph_compact(Graph *g);                  /* drops dead nodes and unreferenced values */
int ir_graph_toposort(Graph *g);                  /* 0 ok, -1 cycle (error set) */
void ir_graph_count_users(Graph *g);
void ir_value_replace_uses(Graph *g, Value *from, Value *to);

int ir_error(Graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ir_node_error(Graph *g, const Node *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *ir_last_error(const Graph *g);

/* value helpers */
int64_t ir_value_numel(const Value *v);                  /* -1 if unknown */
bool ir_value_shape_known(const Value *v);
void ir_value_set_shape(Value *v, int rank, const int64_t *dims);
bool ir_same_shape(const Value *a, const Value *b);
void ir_shape_str(const Value *v, char *buf, size_t len); /* "1x3x224x224", "?x3" */
/* checked arithmetic on sizes: false on overflow or negative */
bool ir_mul_ok(int64_t a, int64_t b, int64_t *out);
bool ir_numel_ok(int rank, const int64_t *dims, int64_t *out);

/* attributes */
const Attr *ir_attr(const Node *n, const char *name);
int64_t ir_attr_int(const Node *n, const char *name, int64_t def);
float ir_attr_float(const Node *n, const char *name, float def);
const char *ir_attr_str(const Node *n, const char *name, const char *def);
int ir_attr_ints(const Node *n, const char *name, const int64_t **out); /* count, or -1 if absent */

/* attrs.c: a node's attributes against ir/attrs.def: 0, or -1 with msg ("attribute 'strides' is
 * FLOATS, expected INTS", "required attribute 'axis' (INT) is missing") */
int ir_attrs_check(const Node *n, int64_t opset, char *msg, size_t len);
const char *ir_attr_type_name(AttrType t); /* "INTS" */

/* names.c: names as shown.  ir_name_escape: C-style escapes of control bytes, '\\' and '"' (UTF-8 kept);
 * ir_name_escape_c: also bytes >= 0x80 and '?', for a C string literal; both return the length the
 * whole escape needs (snprintf-like, out NUL-terminated when cap > 0).  ir_name_msg: escaped and, if
 * longer than len - 1, cut to its head and "...(N bytes)"; returns buf (len >= 32). */
#define IR_NAME_MSG 160
size_t ir_name_escape(const char *s, char *out, size_t cap);
size_t ir_name_escape_c(const char *s, char *out, size_t cap);
const char *ir_name_msg(const char *s, char *buf, size_t len);
void ir_msg_escape(char *buf, size_t cap); /* a message's control bytes escaped in place (cut to cap) */
/* ir_name_msg into a temporary that lives until the end of the enclosing block (for one message) */
#define IR_NM(name) ir_name_msg((name), (char[IR_NAME_MSG]){0}, IR_NAME_MSG)

/* constant data access: element i of a constant as double / int64 (any dtype) */
double ir_const_f64(const Value *v, int64_t i);
int64_t ir_const_i64(const Value *v, int64_t i);
void ir_store_f64(DType t, void *data, int64_t i, double x);
void ir_store_i64(DType t, void *data, int64_t i, int64_t x);
Value *ir_const_new(Graph *g, const char *name, DType t, int rank, const int64_t *dims); /* zeroed */
/* same, data not zeroed (huge pages when large): for a pass that writes every byte of it at once
 * (a weight split, folded or repacked: zeroing first doubled the pages' first touch) */
Value *ir_const_new_filled(Graph *g, const char *name, DType t, int rank, const int64_t *dims);
/* same, a kept constant (arena_alloc_kept): its bytes written with arena_fill */
Value *ir_const_new_kept(Graph *g, const char *name, DType t, int rank, const int64_t *dims);

/* shape.c: shape inference (+ folding of constant nodes) in topological order, through the shape
 * and fold tables it builds from ops.def */
int ir_infer_shapes(Graph *g);
bool ir_is_shape_operand(const Node *n, int i); /* input i's values decide shapes/parameters */
int ir_infer_node(Graph *g, Node *n);
bool ir_op_has_shape(Op op); /* the row's shape function is in the table (tests check every row) */
bool ir_op_has_fold(Op op);  /* likewise its fold function (eval_none: never folded) */
/* dims.c: axis normalization and broadcasting (shape inference and folding share them) */
int ir_normalize_axis(Graph *g, const Node *n, int64_t axis, int rank, int *out);
int ir_broadcast_shape(Graph *g, const Node *n, Value *const *ins, int nin, int *rank, int64_t *dims);

/* shape functions (shape_<family>.c) named in ops.def's shape column: fill n->out[*] dtype and
 * shape.  A family function picks among its own ops. */
int shape_unary(Graph *g, Node *n);
int shape_binary(Graph *g, Node *n);
int shape_norm(Graph *g, Node *n);
int shape_contract(Graph *g, Node *n);
int shape_pool(Graph *g, Node *n);
int shape_reduce(Graph *g, Node *n);
int shape_move(Graph *g, Node *n);
int shape_gen(Graph *g, Node *n);
int shape_control(Graph *g, Node *n);
/* shape_extra.c: losses, TopK, Det (F_REDUCE) and NonZero, Unique, Compress, ReverseSequence,
 * MaxUnpool, Upsample, Scatter (F_MOVE); their rows name it (and eval_nonzero, eval_unique,
 * eval_compress for folding) */
int shape_extra(Graph *g, Node *n);
/* data-dependent output shapes (NonZero, Unique): the inputs must be constant */
bool ir_output_depends_on_data(Op op);
int ir_topk_k(Graph *g, const Node *n, int64_t *k); /* TopK's k (input 1 or attribute) */
/* MaxUnpool's shape inference; unpooled (may be NULL) gets the size the indices refer to */
int ir_max_unpool_dims(Graph *g, Node *n, int64_t *unpooled);
int shape_signal(Graph *g, Node *n);
int shape_vision(Graph *g, Node *n);
int shape_quant(Graph *g, Node *n);
int shape_rnn(Graph *g, Node *n);

/* shape_pool.c: the sliding-window geometry Conv, ConvTranspose and the pools share.  Reads
 * strides/dilations/pads/auto_pad (+ ceil_mode for the others, output_padding/output_shape for
 * ConvTranspose), resolves auto_pad into explicit pads and gives the output spatial dims. */
typedef struct IrWindow {
  int nsp;                                              /* spatial rank */
  int64_t kernel[IR_MAX_RANK], stride[IR_MAX_RANK], dilation[IR_MAX_RANK];
  int64_t pad_begin[IR_MAX_RANK], pad_end[IR_MAX_RANK]; /* auto_pad resolved */
  int64_t out_pad[IR_MAX_RANK];                         /* ConvTranspose: output_padding, plus
                                                           any extra output_shape asks for */
  int64_t out[IR_MAX_RANK];                             /* output spatial dims */
} IrWindow;
int ir_window(Graph *g, const Node *n, int nsp, const int64_t *in, const int64_t *kernel, IrWindow *w);

/* shape_move.c: helpers shared by shape inference and host evaluation (eval.c).
 * ir_const_input: *out = input i (NULL when absent); error unless it is a constant.
 * The plans resolve an op's parameters per axis of its data input (rank entries each);
 * ir_split_plan fills sizes[n->nout]. All report errors like shape functions do. */
int ir_const_input(Graph *g, const Node *n, int i, Value **out);
int ir_slice_plan(Graph *g, const Node *n, int64_t *start, int64_t *step, int64_t *len);
int ir_pad_plan(Graph *g, const Node *n, int64_t *before, int64_t *after);
int ir_split_plan(Graph *g, const Node *n, int *axis, int64_t *sizes);

/* shape_rnn.c: the attributes and sizes of RNN / GRU / LSTM, checked once; shape inference and
 * the backend (gen_rnn.c) both read them.  Activations are per direction: f (gates), g (candidate),
 * h (LSTM output); alpha/beta are consumed in order by the activations that take them. */
typedef enum IrRnnAct {
  RA_RELU, RA_TANH, RA_SIGMOID, RA_AFFINE, RA_LEAKYRELU, RA_THRESHOLDEDRELU, RA_SCALEDTANH,
  RA_HARDSIGMOID, RA_ELU, RA_SOFTSIGN, RA_SOFTPLUS
} IrRnnAct;
typedef struct IrRnn {
  int gates;                 /* 1 RNN, 3 GRU (z r h), 4 LSTM (i o f c) */
  int nact;                  /* activations per direction: 1, 2, 3 */
  int ndir;                  /* 1 or 2 */
  bool reverse;              /* direction == "reverse" (ndir 1) */
  bool layout;               /* layout 1: batch-major X, Y, states */
  int64_t T, B, I, H;        /* seq_length, batch, input_size, hidden_size */
  IrRnnAct act[6];           /* [dir * nact + k] */
  float alpha[6], beta[6];
  float clip;                /* 0: none */
  bool input_forget;         /* LSTM */
  bool linear_before_reset;  /* GRU */
} IrRnn;
int ir_rnn_spec(Graph *g, const Node *n, IrRnn *s);

/* shape.c: host evaluation of a node whose inputs are all constant (used by folding), through the
 * fold function its ops.def row names (eval_<op> in eval.c, eval_<family> beside the family's shape
 * function; shape.c declares them from the rows).
 * Returns 1 if evaluated (outputs now VK_CONST with data), 0 if not supported, -1 on error. */
int ir_eval_node(Graph *g, Node *n);

/* cost.c: multiply-accumulates of the graph's nodes (ops.def's cost column); 0 if unknown */
double ir_graph_macs(const Graph *g);
double ir_node_macs(const Node *n); /* one node's (0 if its op has no count) */
/* shape_signal.c: DFT's signal axis (of the input) and transform length; STFT's frame geometry */
int ir_dft_plan(Graph *g, const Node *n, int *axis, int64_t *len);
int ir_stft_plan(Graph *g, const Node *n, int64_t *step, int64_t *flen, int64_t *frames);
/* shape_quant.c: the axis a QuantizeLinear/DequantizeLinear's scale and zero point run along, or -1
 * when they are per-tensor */
int ir_quant_axis(Graph *g, const Node *n, int *axis);

/* verify.c / print.c */
int ir_verify(Graph *g);
/* live ranges by node position: first[id] = the node defining value id, last[id] = its last user
 * (-1 for values no node defines or uses); arrays of g->nvalues + 1 (verify.c, used by planning) */
void ir_live_ranges(const Graph *g, int *first, int *last);
/* Views: a Reshape, Flatten, Squeeze or Unsqueeze, or a Transpose that moves only size-1
 * axes, from an arena value to an arena value of the same bytes changes no byte, so planning gives
 * its output its input's buffer (the copy kernel sees equal pointers and does nothing).  root[id]
 * = the value whose buffer value id shares (itself if none); arrays of g->nvalues + 1 (verify.c) */
void ir_view_roots(const Graph *g, int *root);
void ir_print(const Graph *g, void *file /* FILE* */);
/* "Op 'name'" (or "Op" for an unnamed node), as run-time errors name the node that failed */
void ir_node_label(const Node *n, char *buf, size_t len);



/* ---- host tensors (CLI I/O, test data): malloc'd, owned by the caller ---------------------- */
typedef struct Tensor {
  char name[256];
  DType dtype;
  int rank;
  int64_t dims[IR_MAX_RANK];
  void *data;   /* malloc'd; free with tensor_free */
  size_t bytes;
} Tensor;
void tensor_free(Tensor *t);
int64_t tensor_numel(const Tensor *t);
#endif
