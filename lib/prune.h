/* prune.h — pruning inside libonnxc (lib/prune.c: layers, measuring, magnitude pruning, the API;
 * lib/prune_channel.c: removing whole output channels of convolutions).
 *
 * A "layer" is a node with a constant float32 weight that does a contraction: Conv (input 1),
 * Gemm (B), MatMul (a constant rank-2 B), and an LSTM/GRU/RNN's W and R (two layers of one node,
 * K the reduction: input or hidden size, N the gate units of all directions).  Every layer's weight is looked at as a K x N matrix:
 * K along the reduction (a Conv's input channel and kernel position, a MatMul's rows), N along
 * the outputs (a Conv's output channel, a MatMul's columns).  N:M groups run along K (for a Conv,
 * M neighbouring input channels at one kernel position); blocks RxC are R rows of K by C columns
 * of N, so "block:1x16" is 16 neighbouring outputs of one reduction row (what a sparse kernel
 * that skips one vector of outputs at a time wants). */
#ifndef ONNXC_LIB_PRUNE_H
#define ONNXC_LIB_PRUNE_H

#include "lib.h"

typedef struct PruneLayer {
  Node *node;
  Value *w;           /* the weight (after pruning: the pruned one) */
  int64_t k, n;       /* the K x N view */
  int64_t ka, sa, sb, sn; /* element (k, n) at n*sn + (k % ka)*sa + (k / ka)*sb */
  int64_t params, zeros;
  char shape[64];
  char structure[48]; /* measured: dense, unstructured, N:M, block:RxC */
  bool pruned;
  const char *skipped; /* why left alone (a string literal or in the graph's arena), NULL if pruned */
  int64_t ch_before, ch_after;
  double kept_energy; /* sum of squares after / before (1 when left alone) */
  bool recal;         /* onnxc_session_layer_rescale scaled and shifted its outputs */
  char kernel[96];    /* the kernel the backend would choose (prune_kernel), "" until asked */
  int win;            /* LSTM/GRU/RNN layers: the weight's input (1 W, 2 R); 0 for the others */
  bool int8;          /* an int8 matmul's int8 weight (a quantized model's; listed, never pruned) */
} PruneLayer;

/* the session's layers and what the last prune did to them (s->prune) */
typedef struct LibPrune {
  PruneLayer *layers;
  int n;
  bool done;          /* onnxc_session_prune ran */
  char spec[256];     /* its spec as text */
} LibPrune;

/* the K x N view of node n's weight as it is now (l zeroed first), or false when n is not a layer */
bool prune_layer_view(Node *n, PruneLayer *l);
/* the same for weight input win (1 W, 2 R) of an LSTM/GRU/RNN node n, or false */
bool prune_rnn_view(Node *n, int win, PruneLayer *l);
/* the layers of g in node order (a weight two nodes share is the first one's); *n set */
PruneLayer *prune_layers(Graph *g, int *n);
/* onnxc info: the layers plus the int8 matmuls' int8 weights (MatMulInteger, QLinearMatMul, a MatMul
 * reading a DequantizeLinear of one) with the int8 kernel's choice */
PruneLayer *prune_layers_all(Graph *g, int *n);
/* offset of element (k, n) of a layer's weight */
static inline int64_t prune_at(const PruneLayer *l, int64_t k, int64_t n) {
  return n * l->sn + (k % l->ka) * l->sa + (k / l->ka) * l->sb;
}
/* zeros, sparsity and the structure found, into l */
void prune_measure(PruneLayer *l);
/* why the spec leaves layer l alone (skip list, stem/head, too small), or NULL */
const char *prune_sensitive(Graph *g, const PruneLayer *l, const onnxc_prune_spec *spec);
/* into l->kernel: the kernel the backend would choose for the layer on a target of vector_bytes
 * (gen_sparse.c's cost model for MatMul/Gemm; the sparse pass must mark it first) */
void prune_kernel(PruneLayer *l, int vector_bytes);
/* sum of squares of the float32 data */
double prune_energy(const float *w, int64_t n);
/* the r-th smallest of x[0..n) (0-based); x is reordered */
float prune_select(float *x, int64_t n, int64_t r);
/* a weight's data replaced by a copy the pruning may write (the original may be a mapped file's,
 * or shared); returns the copy */
float *prune_own(Graph *g, Value *w);

/* channel pruning (prune_channel.c): 0, or -1 with the graph's error set */
int prune_channels(Graph *g, PruneLayer *ls, int nl, const onnxc_prune_spec *spec);

#endif
