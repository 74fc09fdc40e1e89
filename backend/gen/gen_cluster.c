/* gen_cluster.c — decoding clustered weights in registers (gen_cluster.h). */
#include "gen_cluster.h"

bool gen_cluster_nibbles_ok(const Value *w, int L) {
  return w && w->kind == VK_CONST && w->cluster && w->cluster->k <= 16 && w->cluster->k <= L && L == 16 &&
         w->dtype == DT_FLOAT;
}

KV gen_cluster_table(KB *kb, const IrCluster *c, int L) {
  float t[64] = {0};
  for (int i = 0; i < c->k && i < L && i < 64; i++) t[i] = c->code[i];
  return kb_load(kb, kt(KE_F32, L), kb_weight(kb, t, sizeof(float) * (size_t)L));
}

/* one widening load (vpmovzxbd), one shift: the lookup reads only the low 4 bits of each lane,
 * so the low nibble needs no mask */
void gen_cluster_decode2(KB *kb, KV table, KV p, int L, KV *lo, KV *hi) {
  KT it = kt(KE_I32, L);
  KV x = kb_cast(kb, kb_load(kb, kt(KE_I8, L), p), it, true, false);
  *lo = kb_permute(kb, table, x);
  *hi = kb_permute(kb, table, kb_shr(kb, x, kb_int(kb, it, 4), true));
}
