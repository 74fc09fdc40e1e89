/* kmath.c — inline vector transcendentals (placeholder; being written). */
#include "kb.h"

KV kb_exp(KB *kb, KV x) { return x; }
KV kb_log(KB *kb, KV x) { return x; }
KV kb_tanh(KB *kb, KV x) { return x; }
KV kb_sigmoid(KB *kb, KV x) { return x; }
KV kb_erf(KB *kb, KV x) { return x; }
KV kb_pow(KB *kb, KV x, KV y) { return x; }
KV kb_sin(KB *kb, KV x) { return x; }
KV kb_cos(KB *kb, KV x) { return x; }
