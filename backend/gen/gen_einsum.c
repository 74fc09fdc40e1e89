/* gen_einsum.c — Einsum.
 *
 * Every label gets a size and, per operand, a stride (summed over repeats, so "ii" is the diagonal;
 * 0 where an ellipsis dim broadcasts).  Two-operand equations whose labels split into batch
 * (A, B, out), M (A, out), N (B, out) and K (A, B) groups run on the GEMM engine — transposed
 * when the output's innermost label comes from A; extra M/N labels become batch dims, K labels must
 * merge into one strided dim.  Everything else (one operand, 3+ operands, labels summed within one
 * operand) is a generic loop nest: vectorized along the output's innermost label, or along a
 * unit-stride summed label with a horizontal add at the end. */
#include <string.h>

#include "gen_contract.h"

#define EL_MAX 80 /* labels: 0..51 letters, 52.. ellipsis dims */
#define EI_MAX 16 /* operands handled */

typedef struct Ein {
  int nin;
  int nlab;                     /* label ids in use are < nlab */
  int64_t size[EL_MAX];
  int64_t st[EI_MAX + 1][EL_MAX]; /* strides per operand (last: output) */
  bool in_op[EI_MAX + 1][EL_MAX];
  int nout;
  int out[IR_MAX_RANK];         /* output labels in order */
} Ein;

static KV I(KB *kb, int64_t x) { return kb_i64(kb, x); }

static int lab_id(char ch) { return ch >= 'a' && ch <= 'z' ? ch - 'a' : ch >= 'A' && ch <= 'Z' ? 26 + ch - 'A' : -1; }

/* parses one term [p, end) into label ids (ellipsis expanded to its ndims ids, right-aligned to E) */
static int parse_term(const char *p, const char *end, int *ids, int max, int ell_dims, int E) {
  int n = 0;
  while (p < end) {
    if (*p == '.') {
      for (int t = 0; t < ell_dims; t++) {
        if (n >= max) return -1;
        ids[n++] = 52 + (E - ell_dims) + t;
      }
      p += 3;
      continue;
    }
    int id = lab_id(*p++);
    if (id < 0 || n >= max) return -1;
    ids[n++] = id;
  }
  return n;
}

static int count_letters(const char *p, const char *end, bool *ell) {
  int n = 0;
  *ell = false;
  while (p < end) {
    if (*p == '.') {
      *ell = true;
      p += 3;
    } else
      n++, p++;
  }
  return n;
}

static int ein_parse(GenCtx *c, Ein *e) {
  Node *n = c->n;
  const char *eq0 = ir_attr_str(n, "equation", "");
  char eq[512];
  size_t len = 0;
  for (const char *p = eq0; *p && len + 1 < sizeof eq; p++)
    if (*p != ' ' && *p != '\t') eq[len++] = *p;
  eq[len] = 0;
  memset(e, 0, sizeof *e);
  e->nin = n->nin;
  if (n->nin > EI_MAX) return ir_node_error(c->g, n, "Einsum with more than %d inputs is not supported", EI_MAX);
  char *arrow = strstr(eq, "->");
  const char *lhs_end = arrow ? arrow : eq + len;
  const char *ts[EI_MAX], *te[EI_MAX];
  const char *p = eq;
  int E = 0;
  int ell_dims[EI_MAX];
  for (int i = 0; i < n->nin; i++) {
    const char *comma = memchr(p, ',', (size_t)(lhs_end - p));
    ts[i] = p;
    te[i] = comma ? comma : lhs_end;
    p = te[i] + 1;
    bool ell;
    int nl = count_letters(ts[i], te[i], &ell);
    ell_dims[i] = ell ? n->in[i]->rank - nl : 0;
    if (ell_dims[i] > E) E = ell_dims[i];
  }
  e->nlab = 52 + E;
  int cnt[EL_MAX] = {0};
  for (int i = 0; i < n->nin; i++) {
    const Value *v = n->in[i];
    int ids[IR_MAX_RANK];
    int r = parse_term(ts[i], te[i], ids, IR_MAX_RANK, ell_dims[i], E);
    if (r != v->rank) return ir_node_error(c->g, n, "equation term %d does not match input rank %d", i, v->rank);
    int64_t vst[IR_MAX_RANK];
    gen_strides(v->rank, v->dims, vst);
    for (int d = 0; d < r; d++) {
      int l = ids[d];
      if (v->dims[d] > e->size[l]) e->size[l] = v->dims[d];
      if (v->dims[d] != 1) e->st[i][l] += vst[d];
      e->in_op[i][l] = true;
      cnt[l]++;
    }
  }
  for (int l = 0; l < e->nlab; l++)
    if (!cnt[l]) e->size[l] = 0;
  if (arrow) {
    int r = parse_term(arrow + 2, eq + len, e->out, IR_MAX_RANK, E, E);
    if (r < 0) return ir_node_error(c->g, n, "cannot parse the equation's output term");
    e->nout = r;
  } else {
    for (int t = 0; t < E; t++) e->out[e->nout++] = 52 + t;
    for (int ch = 0; ch < 128; ch++) {
      int l = lab_id((char)ch);
      if (l >= 0 && cnt[l] == 1) e->out[e->nout++] = l;
    }
  }
  const Value *y = n->out[0];
  if (y->rank != e->nout) return ir_node_error(c->g, n, "Einsum output rank mismatch");
  int64_t yst[IR_MAX_RANK];
  gen_strides(y->rank, y->dims, yst);
  for (int d = 0; d < e->nout; d++) {
    e->st[EI_MAX][e->out[d]] = y->dims[d] == 1 ? 0 : yst[d];
    e->in_op[EI_MAX][e->out[d]] = true;
    if (e->size[e->out[d]] != y->dims[d]) return ir_node_error(c->g, n, "Einsum output dim mismatch");
  }
  return 0;
}

/* ---- two operands on the GEMM engine ---- */

/* merge labels list into one dim with uniform strides in the given operands: returns false if not
 * contiguous; sorted by stride in operand o0 (descending) first */
static bool merge_group(const Ein *e, int *labs, int n, const int *ops, int nops, int64_t *size, int64_t *st) {
  /* order by stride in ops[0], descending */
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (e->st[ops[0]][labs[j]] > e->st[ops[0]][labs[i]]) {
        int t = labs[i];
        labs[i] = labs[j];
        labs[j] = t;
      }
  *size = 1;
  for (int i = 0; i < n; i++) *size *= e->size[labs[i]];
  for (int k = 0; k < nops; k++) {
    int o = ops[k];
    st[k] = n ? e->st[o][labs[n - 1]] : 0;
    for (int i = n - 1; i > 0; i--)
      if (e->st[o][labs[i - 1]] != e->st[o][labs[i]] * e->size[labs[i]]) return false;
  }
  return true;
}

static bool ein_gemm(GenCtx *c, const Ein *e) {
  if (e->nin != 2 || e->nout < 1) return false;
  const int O = EI_MAX;
  int inner = e->out[e->nout - 1];
  if (e->size[inner] <= 1) return false;
  int a = 0, b = 1;
  bool ina = e->in_op[0][inner], inb = e->in_op[1][inner];
  if (ina && inb) return false; /* innermost is a batch label */
  if (ina) a = 1, b = 0;        /* C^T = B^T · A^T */
  int bat[EL_MAX], mm[EL_MAX], nn[EL_MAX], kk[EL_MAX], nb = 0, nm = 0, nnl = 0, nk = 0;
  for (int l = 0; l < e->nlab; l++) {
    if (!e->size[l]) continue;
    bool A = e->in_op[a][l], B = e->in_op[b][l], Y = e->in_op[O][l];
    if (e->size[l] == 1 && !Y) continue;
    if (A && B && Y) bat[nb++] = l;
    else if (A && Y) mm[nm++] = l;
    else if (B && Y) nn[nnl++] = l;
    else if (A && B) kk[nk++] = l;
    else if (Y) bat[nb++] = l; /* size-1 output label only */
    else return false;          /* summed within one operand */
  }
  /* N: innermost output label, merged with the N labels just outside it if contiguous */
  GemmSpec s;
  memset(&s, 0, sizeof s);
  int64_t st2[2];
  int kops[2] = {a, b};
  if (!merge_group(e, kk, nk, kops, 2, &s.K, st2)) return false;
  s.a_cs = st2[0];
  s.b_rs = st2[1];
  if (nk == 0) s.K = 1;
  s.N = e->size[inner];
  s.b_cs = e->st[b][inner];
  if (e->st[O][inner] != 1) return false;
  /* M: the M label with the largest size; other M and N labels join the batch */
  int mlab = -1;
  for (int i = 0; i < nm; i++)
    if (mlab < 0 || e->size[mm[i]] > e->size[mlab]) mlab = mm[i];
  s.M = mlab >= 0 ? e->size[mlab] : 1;
  s.a_rs = mlab >= 0 ? e->st[a][mlab] : 0;
  s.ldc = mlab >= 0 ? e->st[O][mlab] : 0;
  for (int i = 0; i < nm; i++)
    if (mm[i] != mlab) bat[nb++] = mm[i];
  for (int i = 0; i < nnl; i++)
    if (nn[i] != inner) bat[nb++] = nn[i];
  if (nb > GEMM_MAX_BD) return false;
  s.nbd = nb;
  for (int i = 0; i < nb; i++) {
    int l = bat[i];
    s.bdims[i] = e->size[l];
    s.a_bs[i] = e->st[a][l];
    s.b_bs[i] = e->st[b][l];
    s.c_bs[i] = e->st[O][l];
  }
  Node *n = c->n;
  s.dt = n->out[0]->dtype;
  s.a = kb_buf(c->kb, a);
  s.b = kb_buf(c->kb, b);
  s.c = kb_buf(c->kb, n->nin);
  s.alpha = 1.0;
  const Value *bv = n->in[b];
  if (bv->kind == VK_CONST && bv->data) {
    s.b_const = bv;
    c->const_unused |= 1u << b;
  }
  gemm_emit(c, &s);
  return true;
}

/* ---- generic loop nest ---- */
typedef struct Nest {
  GenCtx *c;
  const Ein *e;
  DType dt;
  KElem ce;
  int L;
  int vl;          /* vectorized label */
  bool vl_out;     /* vl is an output label */
  int red[EL_MAX]; /* summed labels other than vl */
  int nred;
  KV base[EI_MAX];
  KVar acc;
} Nest;

static KV nest_operand(Nest *t, int i, KV off, KV j, KV mask) {
  KB *kb = t->c->kb;
  int64_t s = t->e->st[i][t->vl];
  KV base = t->base[i];
  if (s == 0) return kb_splat(kb, ct_load(kb, t->dt, t->ce, base, off, 1, NULL), t->L);
  KV start = kb_add(kb, off, kb_mul(kb, j, I(kb, s)));
  if (s == 1) return ct_load(kb, t->dt, t->ce, base, start, t->L, mask);
  KV idx = kb_add(kb, kb_splat(kb, start, t->L),
                  kb_mul(kb, kb_iota(kb, kt(KE_I64, t->L)), kb_int(kb, kt(KE_I64, t->L), s)));
  KElem se = kb_elem_of(t->dt);
  KV v = kb_gather(kb, kt(se, t->L), base, kb_select(kb, mask, idx, kb_int(kb, kt(KE_I64, t->L), 0)), mask);
  if (se != t->ce) v = kb_cast(kb, v, kt(t->ce, t->L), !dtype_is_signed(t->dt), false);
  return kb_select(kb, mask, v, ct_const(kb, t->ce, t->L, 0));
}

/* the product of all operands at offsets off[] for vl positions j.. (mask) */
static KV nest_product(Nest *t, KV *off, KV j, KV mask) {
  KV p = NULL;
  for (int i = 0; i < t->e->nin; i++) {
    KV v = nest_operand(t, i, off[i], j, mask);
    p = p ? kb_mul(t->c->kb, p, v) : v;
  }
  return p;
}

/* vl chunk loop (summed vl) or a single chunk at j (output vl); accumulates into t->acc */
static void nest_inner(Nest *t, KV *off, KV j0) {
  KB *kb = t->c->kb;
  int64_t n = t->e->size[t->vl];
  if (t->vl_out) {
    KV mask = kb_tail_mask(kb, t->L, kb_sub(kb, I(kb, n), j0));
    kb_set(kb, t->acc, kb_add(kb, kb_get(kb, t->acc), nest_product(t, off, j0, mask)));
    return;
  }
  KV j = kb_for(kb, I(kb, 0), I(kb, n), t->L);
  KV mask = kb_tail_mask(kb, t->L, kb_sub(kb, I(kb, n), j));
  KV p = kb_select(kb, mask, nest_product(t, off, j, mask), ct_const(kb, t->ce, t->L, 0));
  kb_set(kb, t->acc, kb_add(kb, kb_get(kb, t->acc), p));
  kb_endfor(kb);
}

static void nest_reduce(Nest *t, int level, KV *off, KV j0) {
  KB *kb = t->c->kb;
  if (level == t->nred) {
    nest_inner(t, off, j0);
    return;
  }
  int l = t->red[level];
  KV r = kb_for(kb, I(kb, 0), I(kb, t->e->size[l]), 1);
  KV off2[EI_MAX];
  for (int i = 0; i < t->e->nin; i++)
    off2[i] = t->e->st[i][l] ? kb_add(kb, off[i], kb_mul(kb, r, I(kb, t->e->st[i][l]))) : off[i];
  nest_reduce(t, level + 1, off2, j0);
  kb_endfor(kb);
}

static void ein_nest(GenCtx *c, const Ein *e) {
  KB *kb = c->kb;
  Node *n = c->n;
  const int O = EI_MAX;
  Nest t;
  memset(&t, 0, sizeof t);
  t.c = c;
  t.e = e;
  t.dt = n->out[0]->dtype;
  t.ce = contract_elem(t.dt);
  t.L = kb_lanes(kb, t.ce);
  for (int i = 0; i < e->nin; i++) t.base[i] = kb_buf(kb, i);
  KV y = kb_buf(kb, n->nin);
  /* vectorize along the output's innermost label unless it is strided everywhere and a summed
   * label has unit stride somewhere */
  int vo = e->nout ? e->out[e->nout - 1] : -1, vr = -1;
  bool vo_unit = false;
  for (int i = 0; vo >= 0 && i < e->nin; i++) vo_unit |= e->st[i][vo] == 1;
  for (int l = 0; l < e->nlab; l++) {
    if (!e->size[l] || e->in_op[O][l]) continue;
    bool unit = false;
    for (int i = 0; i < e->nin; i++) unit |= e->st[i][l] == 1;
    if (unit && (vr < 0 || e->size[l] > e->size[vr])) vr = l;
  }
  if (vo >= 0 && (vo_unit || vr < 0 || e->size[vr] < t.L || e->size[vo] >= t.L)) t.vl = vo, t.vl_out = true;
  else if (vr >= 0) t.vl = vr;
  else { /* scalar output, nothing unit-stride: any summed label */
    t.vl = -1;
    for (int l = 0; l < e->nlab; l++)
      if (e->size[l] && !e->in_op[O][l] && (t.vl < 0 || e->size[l] > e->size[t.vl])) t.vl = l;
  }
  for (int l = 0; l < e->nlab; l++)
    if (e->size[l] && !e->in_op[O][l] && l != t.vl) t.red[t.nred++] = l;
  /* output rows: output labels except vl */
  int rows[IR_MAX_RANK], nrows = 0;
  int64_t nrow = 1;
  for (int d = 0; d < e->nout; d++)
    if (!(t.vl_out && e->out[d] == t.vl)) rows[nrows++] = e->out[d], nrow *= e->size[e->out[d]];
  int64_t per_row = 1;
  for (int l = 0; l < e->nlab; l++)
    if (e->size[l] && !(e->in_op[O][l] && !(t.vl_out && l == t.vl))) per_row *= e->size[l];
  c->work = nrow > 1 && (double)nrow * (double)per_row * e->nin >= 2e5 ? nrow : 1;
  KV it = c->work > 1 ? kb_for(kb, kb_begin(kb), kb_end(kb), 1) : kb_for(kb, I(kb, 0), I(kb, nrow), 1);
  KV off[EI_MAX], yoff = I(kb, 0), rem = it;
  for (int i = 0; i < e->nin; i++) off[i] = I(kb, 0);
  for (int d = nrows - 1; d >= 0; d--) {
    int l = rows[d];
    KV idx = d > 0 ? kb_rem(kb, rem, I(kb, e->size[l]), true) : rem;
    if (d > 0) rem = kb_div(kb, rem, I(kb, e->size[l]), true);
    for (int i = 0; i < e->nin; i++)
      if (e->st[i][l]) off[i] = kb_add(kb, off[i], kb_mul(kb, idx, I(kb, e->st[i][l])));
    if (e->st[O][l]) yoff = kb_add(kb, yoff, kb_mul(kb, idx, I(kb, e->st[O][l])));
  }
  t.acc = kb_var(kb, kt(t.ce, t.L), NULL);
  KV zero = ct_const(kb, t.ce, t.L, 0);
  if (t.vl < 0) { /* no labels at all: a product of scalars */
    KV p = NULL;
    for (int i = 0; i < e->nin; i++) {
      KV v = ct_load(kb, t.dt, t.ce, t.base[i], off[i], 1, NULL);
      p = p ? kb_mul(kb, p, v) : v;
    }
    ct_store(kb, t.dt, y, yoff, p, NULL);
  } else if (t.vl_out) {
    int64_t nv = e->size[t.vl];
    KV j = kb_for(kb, I(kb, 0), I(kb, nv), t.L);
    kb_set(kb, t.acc, zero);
    KV off2[EI_MAX];
    for (int i = 0; i < e->nin; i++) off2[i] = off[i];
    nest_reduce(&t, 0, off2, j);
    KV mask = kb_tail_mask(kb, t.L, kb_sub(kb, I(kb, nv), j));
    int64_t ys = e->st[O][t.vl];
    KV ystart = kb_add(kb, yoff, kb_mul(kb, j, I(kb, ys)));
    if (ys == 1 || nv == 1) ct_store(kb, t.dt, y, ystart, kb_get(kb, t.acc), mask);
    else {
      KV idx = kb_add(kb, kb_splat(kb, ystart, t.L),
                      kb_mul(kb, kb_iota(kb, kt(KE_I64, t.L)), kb_int(kb, kt(KE_I64, t.L), ys)));
      KV v = kb_get(kb, t.acc);
      KElem se = kb_elem_of(t.dt);
      if (se != t.ce) v = kb_cast(kb, v, kt(se, t.L), false, false);
      kb_scatter(kb, v, y, idx, mask);
    }
    kb_endfor(kb);
  } else {
    kb_set(kb, t.acc, zero);
    nest_reduce(&t, 0, off, NULL);
    ct_store(kb, t.dt, y, yoff, kb_reduce_add(kb, kb_get(kb, t.acc)), NULL);
  }
  kb_endfor(kb);
}

int gen_einsum(GenCtx *c) {
  Ein e;
  if (contract_outputs_static(c)) return -1;
  if (ein_parse(c, &e)) return -1;
  int64_t ny = ir_value_numel(c->n->out[0]);
  if (ny == 0) return 0;
  for (int i = 0; i < e.nin; i++)
    if (ir_value_numel(c->n->in[i]) == 0) { /* empty sum: zeros */
      KB *kb = c->kb;
      kb_memset(kb, kb_buf(kb, c->n->nin), 0, I(kb, ny * (int64_t)dtype_size(c->n->out[0]->dtype)));
      return 0;
    }
  if (ein_gemm(c, &e)) return 0;
  ein_nest(c, &e);
  return 0;
}
