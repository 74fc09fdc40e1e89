/* cache.c — the on-disk cache of JIT-compiled models (onnxc_options_set_cache_dir).
 *
 * An entry is one file DIR/<key id>.onnxc holding what be_jit made (BeArtifact: the host object
 * file, the weight blob, arena and scratch sizes), so a later session of the same model with the
 * same options runs the passes (cheap: they give the shapes and node names) and links the object
 * instead of generating, optimizing and compiling the code.
 *
 * The key is a text naming everything the code depends on: this build of onnxc (its GNU build id,
 * which changes with any change to the code: a rebuilt onnxc never reads an older build's
 * entries), LLVM's version, the host CPU and its features, the frontend's digest of the model's
 * bytes, weights and external data included (FeOptions.digest: the load hashes each weight byte
 * as it copies it), the graph's inputs (shapes, bound values), outputs and constants after the
 * passes (names and shapes: their bytes follow from the digest), the disabled passes and the
 * memory budget.  Its hash names the file; the text itself is stored and compared,
 * so a hash collision is a miss, not a wrong model.
 *
 * Never trusted: an entry is checked (magic, a hash of the header, sizes inside the file, the key
 * text, a hash of the whole payload) before anything in it is used; one that fails is removed and
 * rebuilt.  The folder also keeps each model's large weights as the frontend lays them out
 * (DIR/<id>.onnxw, below), which a later load maps and compares instead of copying.  Written
 * atomically: a private temporary file renamed over the entry, so a reader sees an old entry or
 * a new one, never a partial one, and two processes compiling the same model
 * both write whole files (the last rename wins).  Bounded: after a store, the least recently used
 * entries (by mtime, which a hit refreshes) are removed until the folder is within max bytes. */
#include <dirent.h>
#include <stdarg.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define CACHE_MAGIC "ONNXCC03" /* 03: large pieces hashed in two halves (hash_big) */
#define CACHE_PAGE 4096
#define CACHE_DEFAULT_MAX (2LL << 30)
#define CACHE_STALE_TMP_S 3600 /* a temporary file this old was left by a writer that died */

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* ---- hashing the weights (a cache hit reads them twice: the constants for the key, the entry to
 * check it) on two threads: one hashes each half of a large piece.  The value does not depend on
 * whether the second thread could be started. ---- */
#define CACHE_HASH_SPLIT ((size_t)4 << 20)

typedef struct HashJob {
  const unsigned char *p;
  size_t n;
  uint64_t seed, h;
} HashJob;

static void *hash_job(void *arg) {
  HashJob *j = arg;
  j->h = ir_hash64(j->p, j->n, j->seed);
  return NULL;
}

static uint64_t hash_big(const void *data, size_t n, uint64_t seed) {
  if (n < CACHE_HASH_SPLIT) return ir_hash64(data, n, seed);
  size_t half = (n / 2 + 63) & ~(size_t)63;
  HashJob lo = {data, half, seed, 0}, hi = {(const unsigned char *)data + half, n - half, seed + 1, 0};
  pthread_t t;
  bool two = !pthread_create(&t, NULL, hash_job, &hi);
  hash_job(&lo);
  if (two) pthread_join(t, NULL);
  else hash_job(&hi);
  uint64_t both[3] = {lo.h, hi.h, (uint64_t)n};
  return ir_hash64(both, sizeof both, seed);
}

/* ---- the build id of the module holding this code (executable or libonnxc.so) ---- */
typedef struct BuildId {
  const void *addr;
  char hex[2 * 64 + 1];
} BuildId;

static void note_id(const ElfW(Nhdr) *nh, const char *end, BuildId *b) {
  while ((const char *)(nh + 1) <= end) {
    const char *name = (const char *)(nh + 1), *desc = name + ((nh->n_namesz + 3) & ~3u);
    const char *next = desc + ((nh->n_descsz + 3) & ~3u);
    if (next > end) return;
    if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4) && nh->n_descsz <= 64) {
      for (unsigned i = 0; i < nh->n_descsz; i++) snprintf(b->hex + 2 * i, 3, "%02x", (unsigned char)desc[i]);
      return;
    }
    nh = (const ElfW(Nhdr) *)next;
  }
}

static int find_build_id(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  BuildId *b = arg;
  bool mine = false;
  for (int i = 0; i < info->dlpi_phnum && !mine; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
    mine = ph->p_type == PT_LOAD && (uintptr_t)b->addr >= lo && (uintptr_t)b->addr < lo + ph->p_memsz;
  }
  if (!mine) return 0;
  for (int i = 0; i < info->dlpi_phnum && !b->hex[0]; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE) continue;
    const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
    note_id((const ElfW(Nhdr) *)p, p + ph->p_memsz, b);
  }
  return 1;
}

/* "" when the module has no build id: then nothing is cached (no way to tell builds apart) */
static void build_id(char *hex, size_t len) {
  BuildId b = {.addr = (const void *)(uintptr_t)build_id};
  dl_iterate_phdr(find_build_id, &b);
  snprintf(hex, len, "%s", b.hex);
}

/* ---- the key ---- */
typedef struct Key {
  char *text;
  size_t len, cap;
} Key;

static void key_put(Key *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void key_put(Key *k, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(k->text + k->len, k->cap - k->len, fmt, ap);
    va_end(ap);
    if (n >= 0 && k->len + (size_t)n < k->cap) {
      k->len += (size_t)n;
      return;
    }
    size_t cap = 2 * k->cap + (size_t)(n > 0 ? n : 0) + 256;
    k->text = ir_xrealloc(k->text, cap);
    k->cap = cap;
  }
}

/* a value's identity in the key: name, kind, dtype, shape and, with data, a hash of its data */
static int key_value(Key *k, const Value *v, bool data) {
  key_put(k, "v %s %d %d %d", v->name ? v->name : "", (int)v->kind, (int)v->dtype, v->rank);
  for (int d = 0; d < v->rank; d++) key_put(k, " %lld", (long long)v->dims[d]);
  if (v->data) {
    int64_t b = pass_value_bytes(v);
    if (b < 0 || !dtype_size(v->dtype)) return -1; /* strings: not cached */
    if (data) key_put(k, " =%016llx", (unsigned long long)hash_big(v->data, (size_t)b, 1));
  }
  key_put(k, "\n");
  return 0;
}

/* The constants of g and of its subgraphs, and the tensors in node attributes, as the passes left
 * them: names, kinds and shapes, not their bytes.  Those follow from the model's digest (every
 * byte of the file and its external data, weights included: FeOptions.digest, hashed while the
 * load copies them; a prune spec, rescale factors or clustering fold themselves in), the inputs'
 * bound values and the options, which the passes turn into constants the same way every time; so
 * a changed weight byte, in the main graph, a subgraph or an external data file, is a miss, and
 * a cache hit reads the weights once, not a second time here. */
static int key_graph(Key *k, const Graph *g, int depth) {
  if (depth > IR_MAX_DEPTH) return -1;
  key_put(k, "g %d %d\n", g->nnodes, g->nvalues);
  for (int i = 0; i < g->noutputs; i++) key_put(k, "o %s\n", g->outputs[i]->name ? g->outputs[i]->name : "");
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i]->data && key_value(k, g->values[i], false)) return -1;
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i]->nattr; j++) {
      const Attr *a = &g->nodes[i]->attrs[j];
      if (a->t && key_value(k, a->t, false)) return -1;
      for (int e = 0; a->type == AT_TENSORS && e < a->n; e++)
        if (a->tensors[e] && key_value(k, a->tensors[e], false)) return -1;
      if (a->g && key_graph(k, a->g, depth + 1)) return -1;
      for (int e = 0; a->type == AT_GRAPHS && e < a->n; e++)
        if (a->graphs[e] && key_graph(k, a->graphs[e], depth + 1)) return -1;
    }
  return 0;
}

/* the key text of s's graph after the passes; NULL: not cacheable */
static char *make_key(onnxc_session *s) {
  char id[160];
  build_id(id, sizeof id);
  if (!id[0] || !s->model_digest) return NULL;
  Target t;
  char err[256];
  if (be_target_get("native", &t, err, sizeof err)) return NULL;
  Key k = {0};
  key_put(&k, "onnxc cache 3\nbuild %s\nllvm %s\ntarget %s %s %s\n", id, be_llvm_version(), t.triple, t.cpu,
          t.features);
  key_put(&k, "model %016llx\ndisable %s\nmax_memory %lld\nopt 3\n", (unsigned long long)s->model_digest,
          s->opt.disable ? s->opt.disable : "", (long long)s->opt.max_memory);
  if (s->opt.gemm) key_put(&k, "gemm %s\n", lib_gemm_name(s->opt.gemm)); /* lib/gemm.c; own: no line */
  if (s->opt.fp_mode) key_put(&k, "fp_mode %s\n", lib_fp_mode_name(s->opt.fp_mode)); /* fp32: no line */
  /* the inputs and constants as lines, kept in the key as a 128-bit digest (a model has thousands) */
  Graph *g = s->g;
  Key v = {0};
  for (int i = 0; i < g->ninputs; i++) /* an input bound by value (specialize): its bytes */
    if (key_value(&v, g->inputs[i], true)) goto no;
  if (key_graph(&v, g, 0)) goto no;
  key_put(&k, "graph %016llx%016llx %zu\n", (unsigned long long)ir_hash64(v.text, v.len, 19),
          (unsigned long long)ir_hash64(v.text, v.len, 23), v.len);
  free(v.text);
  return k.text;
no:
  free(v.text);
  free(k.text);
  return NULL;
}

/* ---- entries ---- */
typedef struct Header {
  char magic[8];
  uint64_t file_bytes, key_bytes;
  uint64_t blob_off, blob_bytes, obj_off, obj_bytes;
  uint64_t obj2_bytes; /* the last obj2_bytes of the obj_bytes are the second object (0: one) */
  int64_t arena_bytes, scratch_bytes;
  int32_t nkernels, nshared, nkeyed, ninputs, noutputs, nnodes;
  uint64_t payload_hash; /* of the key text, blob and object */
  uint64_t header_hash;  /* of this header with header_hash 0 */
} Header;

static uint64_t header_hash(Header h) {
  h.header_hash = 0;
  return ir_hash64(&h, sizeof h, 3);
}

static uint64_t payload_hash(const char *key, size_t key_bytes, const void *blob, size_t blob_bytes, const void *obj,
                             size_t obj_bytes) {
  return ir_hash64(key, key_bytes, 5) ^ rotl(hash_big(blob, blob_bytes, 11), 17) ^
         rotl(hash_big(obj, obj_bytes, 13), 34);
}

static void entry_path(const onnxc_session *s, const char *key, char *path, size_t len) {
  snprintf(path, len, "%s/%016llx.onnxc", s->opt.cache_dir,
           (unsigned long long)ir_hash64(key, strlen(key), 17));
}

typedef struct Mapped {
  void *p;
  size_t bytes;
} Mapped;

static void unmap_entry(void *ctx) {
  Mapped *m = ctx;
  munmap(m->p, m->bytes);
  free(m);
}

/* Checks the entry at path against key; fills a (pointing into the mapping *m) when it is whole.
 * 1: hit; 0: no entry; -1: an entry that is not this key's (collision): overwritten by the store;
 * -2: corrupt, truncated or not an entry (removed). */
static int entry_read(const char *path, const char *key, BeArtifact *a, Mapped *m, char *why, size_t whylen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  Header h;
  size_t klen = strlen(key);
  int rc = -2;
  snprintf(why, whylen, "too short");
  if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < CACHE_PAGE || pread(fd, &h, sizeof h, 0) != sizeof h)
    goto out;
  snprintf(why, whylen, "bad header");
  if (memcmp(h.magic, CACHE_MAGIC, 8) || h.header_hash != header_hash(h) || h.file_bytes != (uint64_t)st.st_size ||
      h.key_bytes > CACHE_PAGE - sizeof h || h.blob_off != CACHE_PAGE || h.blob_bytes > h.file_bytes ||
      h.obj_off < h.blob_off + h.blob_bytes || h.obj_bytes > h.file_bytes || h.obj_off > h.file_bytes - h.obj_bytes ||
      h.obj_off + h.obj_bytes != h.file_bytes || !h.obj_bytes || h.obj2_bytes >= h.obj_bytes)
    goto out;
  if (h.key_bytes != klen) {
    rc = -1;
    snprintf(why, whylen, "another key");
    goto out;
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  snprintf(why, whylen, "cannot map");
  if (p == MAP_FAILED) goto out;
  const char *base = p;
  if (payload_hash(base + sizeof h, klen, base + h.blob_off, h.blob_bytes, base + h.obj_off, h.obj_bytes) !=
      h.payload_hash) {
    munmap(p, (size_t)st.st_size);
    snprintf(why, whylen, "checksum mismatch");
    goto out;
  }
  if (memcmp(base + sizeof h, key, klen)) { /* whole, but another key's (a collision of the names) */
    munmap(p, (size_t)st.st_size);
    rc = -1;
    snprintf(why, whylen, "another key");
    goto out;
  }
  *m = (Mapped){p, (size_t)st.st_size};
  *a = (BeArtifact){.obj = base + h.obj_off, .obj_bytes = h.obj_bytes - h.obj2_bytes,
                    .obj2 = h.obj2_bytes ? base + h.obj_off + h.obj_bytes - h.obj2_bytes : NULL,
                    .obj2_bytes = h.obj2_bytes, .blob = base + h.blob_off,
                    .blob_bytes = h.blob_bytes, .arena_bytes = h.arena_bytes, .scratch_bytes = h.scratch_bytes,
                    .nkernels = h.nkernels, .nshared = h.nshared, .nkeyed = h.nkeyed, .ninputs = h.ninputs,
                    .noutputs = h.noutputs, .nnodes = h.nnodes};
  rc = 1;
out:
  close(fd);
  return rc;
}

static bool write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w, n -= (size_t)w;
  }
  return true;
}

static int mkdirs(const char *dir) {
  char p[sizeof ((onnxc_session_options *)0)->cache_dir];
  snprintf(p, sizeof p, "%s", dir);
  for (char *c = p + 1; *c; c++)
    if (*c == '/') {
      *c = 0;
      if (mkdir(p, 0700) && errno != EEXIST) return -1;
      *c = '/';
    }
  return mkdir(p, 0700) && errno != EEXIST ? -1 : 0;
}

/* ---- eviction: the least recently used entries go until the folder is within the bound ---- */
typedef struct Ent {
  char name[64];
  int64_t bytes;
  struct timespec used;
} Ent;

static int older(const void *x, const void *y) {
  const Ent *a = x, *b = y;
  if (a->used.tv_sec != b->used.tv_sec) return a->used.tv_sec < b->used.tv_sec ? -1 : 1;
  return a->used.tv_nsec < b->used.tv_nsec ? -1 : a->used.tv_nsec > b->used.tv_nsec;
}

static void evict(const char *dir, int64_t max_bytes, const char *keep) {
  DIR *d = opendir(dir);
  if (!d) return;
  Ent *e = NULL;
  size_t n = 0, cap = 0;
  int64_t total = 0;
  time_t now = time(NULL);
  for (struct dirent *de; (de = readdir(d));) {
    struct stat st;
    bool tmp = strstr(de->d_name, ".onnxc.tmp.") || strstr(de->d_name, ".onnxw.tmp.") ||
               strstr(de->d_name, ".onnxk.tmp.");
    if ((!lib_ends_with(de->d_name, ".onnxc") && !lib_ends_with(de->d_name, ".onnxw") &&
         !lib_ends_with(de->d_name, ".onnxk") && !tmp) ||
        strlen(de->d_name) >= sizeof e->name ||
        fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
      continue;
    if (tmp) { /* another writer's, in progress, unless it is old */
      if (now - st.st_mtime > CACHE_STALE_TMP_S) unlinkat(dirfd(d), de->d_name, 0);
      continue;
    }
    if (n == cap) {
      Ent *g = realloc(e, (cap = cap * 2 + 16) * sizeof *e);
      if (!g) break;
      e = g;
    }
    snprintf(e[n].name, sizeof e[n].name, "%s", de->d_name);
    e[n].bytes = (int64_t)st.st_size;
    e[n++].used = st.st_mtim;
    total += (int64_t)st.st_size;
  }
  qsort(e, n, sizeof *e, older);
  for (size_t i = 0; i < n && total > max_bytes; i++)
    if (strcmp(e[i].name, keep) && !unlinkat(dirfd(d), e[i].name, 0)) total -= e[i].bytes;
  closedir(d);
  free(e);
}

/* ---- store (be_jit's keep callback) ---- */
typedef struct Store {
  onnxc_session *s;
  const char *key;
} Store;

static int64_t max_bytes(const onnxc_session *s) {
  return s->opt.cache_max_bytes > 0 ? s->opt.cache_max_bytes : CACHE_DEFAULT_MAX;
}

static void store(void *ctx, const BeArtifact *a) {
  Store *st = ctx;
  onnxc_session *s = st->s;
  size_t klen = strlen(st->key);
  Header h = {.key_bytes = klen, .blob_off = CACHE_PAGE, .blob_bytes = a->blob_bytes,
              .obj_bytes = a->obj_bytes + a->obj2_bytes, .obj2_bytes = a->obj2_bytes,
              .arena_bytes = a->arena_bytes, .scratch_bytes = a->scratch_bytes, .nkernels = a->nkernels,
              .nshared = a->nshared, .nkeyed = a->nkeyed, .ninputs = a->ninputs, .noutputs = a->noutputs,
              .nnodes = a->nnodes};
  memcpy(h.magic, CACHE_MAGIC, 8);
  h.obj_off = (CACHE_PAGE + a->blob_bytes + 63) & ~(uint64_t)63;
  h.file_bytes = h.obj_off + h.obj_bytes;
  if (klen > CACHE_PAGE - sizeof h || (int64_t)h.file_bytes > max_bytes(s)) {
    snprintf(s->cache_note, sizeof s->cache_note, "miss; not stored (%s)",
             klen > CACHE_PAGE - sizeof h ? "key too long" : "larger than the cache's bound");
    return;
  }
  /* the two objects as stored, one after the other (the hash is of that range) */
  unsigned char *objs = a->obj2_bytes ? malloc(h.obj_bytes) : NULL;
  if (a->obj2_bytes && !objs) {
    snprintf(s->cache_note, sizeof s->cache_note, "miss; not stored (out of memory)");
    return;
  }
  if (objs) {
    memcpy(objs, a->obj, a->obj_bytes);
    memcpy(objs + a->obj_bytes, a->obj2, a->obj2_bytes);
  }
  const void *obj = objs ? objs : a->obj;
  h.payload_hash = payload_hash(st->key, klen, a->blob, a->blob_bytes, obj, h.obj_bytes);
  h.header_hash = header_hash(h);
  char path[sizeof s->opt.cache_dir + 64], tmp[sizeof path + 64];
  entry_path(s, st->key, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%lx", path, (long)getpid(), (unsigned long)(uintptr_t)&h);
  if (mkdirs(s->opt.cache_dir)) {
    snprintf(s->cache_note, sizeof s->cache_note, "miss; not stored (cannot create %.900s: %s)", s->opt.cache_dir,
             strerror(errno));
    free(objs);
    return;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  static const char zero[CACHE_PAGE];
  bool ok = fd >= 0 && write_all(fd, &h, sizeof h) && write_all(fd, st->key, klen) &&
            write_all(fd, zero, CACHE_PAGE - sizeof h - klen) && write_all(fd, a->blob, a->blob_bytes) &&
            write_all(fd, zero, h.obj_off - CACHE_PAGE - a->blob_bytes) && write_all(fd, obj, h.obj_bytes);
  int e = errno;
  free(objs);
  if (fd >= 0 && close(fd)) ok = false;
  if (ok && rename(tmp, path)) ok = false, e = errno;
  if (!ok) {
    if (fd >= 0) unlink(tmp);
    snprintf(s->cache_note, sizeof s->cache_note, "miss; not stored (%.900s: %s)", tmp, strerror(e));
    return;
  }
  snprintf(s->cache_note + strlen(s->cache_note), sizeof s->cache_note - strlen(s->cache_note), "stored %.1500s",
           path);
  evict(s->opt.cache_dir, max_bytes(s), strrchr(path, '/') + 1);
}

/* ---- the frontend's weights (FeOptions.pool_cache): DIR/<id>.onnxw holds the block of a model's
 * large raw_data as an earlier load laid it out (64-byte aligned), so a later load maps it instead
 * of copying the weights into fresh memory; the frontend compares every byte with the model's
 * before use, so the file is a copy to check, never a source to trust.  Bounded and evicted with
 * the entries. ---- */
#define POOL_MAGIC "ONNXCW01"

typedef struct PoolHeader {
  char magic[8];
  uint64_t id, bytes, header_hash;
} PoolHeader;

static uint64_t pool_header_hash(PoolHeader h) {
  h.header_hash = 0;
  return ir_hash64(&h, sizeof h, 41);
}

static void pool_path(const onnxc_session *s, uint64_t id, char *path, size_t len) {
  snprintf(path, len, "%s/%016llx.onnxw", s->opt.cache_dir, (unsigned long long)id);
}

static void *pool_open(void *ctx, uint64_t id, size_t bytes, void **map, size_t *map_bytes) {
  onnxc_session *s = ctx;
  char path[sizeof s->opt.cache_dir + 64];
  pool_path(s, id, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  PoolHeader h;
  void *p = MAP_FAILED;
  if (!fstat(fd, &st) && S_ISREG(st.st_mode) && (uint64_t)st.st_size == CACHE_PAGE + (uint64_t)bytes &&
      pread(fd, &h, sizeof h, 0) == sizeof h && !memcmp(h.magic, POOL_MAGIC, 8) && h.id == id &&
      h.bytes == bytes && h.header_hash == pool_header_hash(h))
    /* private and writable: a stale stretch is copied over in this process only */
    p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return NULL;
  utimensat(AT_FDCWD, path, NULL, 0); /* used now: the last to be evicted */
  snprintf(s->weights_note, sizeof s->weights_note, "mapped %.1000s", path);
  *map = p;
  *map_bytes = (size_t)st.st_size;
  return (char *)p + CACHE_PAGE;
}

static void pool_store(void *ctx, uint64_t id, const void *pool, size_t bytes, size_t stale) {
  onnxc_session *s = ctx;
  PoolHeader h = {.id = id, .bytes = bytes};
  memcpy(h.magic, POOL_MAGIC, 8);
  h.header_hash = pool_header_hash(h);
  if ((int64_t)(CACHE_PAGE + bytes) > max_bytes(s) / 2 || mkdirs(s->opt.cache_dir)) return;
  char path[sizeof s->opt.cache_dir + 64], tmp[sizeof path + 64];
  pool_path(s, id, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%lx", path, (long)getpid(), (unsigned long)(uintptr_t)&h);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  static const char zero[CACHE_PAGE];
  bool ok = fd >= 0 && write_all(fd, &h, sizeof h) && write_all(fd, zero, CACHE_PAGE - sizeof h) &&
            write_all(fd, pool, bytes);
  if (fd >= 0 && close(fd)) ok = false;
  if (ok && !rename(tmp, path)) {
    size_t at = strlen(s->weights_note);
    if (stale) /* the mapped file's bytes were compared, and these were not the model's: rewritten */
      snprintf(s->weights_note + at, sizeof s->weights_note - at, "; %zu bytes differed from the model's, rewritten",
               stale);
    else
      snprintf(s->weights_note, sizeof s->weights_note, "stored %.1000s", path);
    evict(s->opt.cache_dir, max_bytes(s), strrchr(path, '/') + 1);
  } else if (fd >= 0)
    unlink(tmp);
}

const FePoolCache lib_cache_pool = {NULL, pool_open, pool_store};

/* ---- kept constants (ArenaKept, ir/ir.h): DIR/<id>.onnxk holds what the passes made from the
 * weights at an earlier load of this model with these switches (BERT's Q/K/V split: 85 MB, whose
 * fresh pages were a quarter of a cache hit), one after another, 64-byte aligned.  The next load
 * serves the same allocations from a private mapping of it, and the pass compares each row instead
 * of writing it, so those pages stay the page cache's.  Never trusted: every byte is compared with
 * what the pass computes; a file that differed or did not hold the list is rewritten. ---- */
#define KEPT_MAGIC "ONNXCK01"
#define KEPT_MIN ((size_t)1 << 20) /* a smaller list: not worth a file */

static void kept_path(const onnxc_session *s, char *path, size_t len) {
  const char *d = s->opt.disable ? s->opt.disable : "";
  snprintf(path, len, "%s/%016llx.onnxk", s->opt.cache_dir,
           (unsigned long long)ir_hash64(d, strlen(d), s->model_digest ^ 0x6b657074)); /* names it only */
}

void lib_cache_kept_open(onnxc_session *s) {
  s->kept_note[0] = 0;
  if (!s->opt.cache_dir[0] || !s->model_digest) return;
  char path[sizeof s->opt.cache_dir + 64];
  kept_path(s, path, sizeof path);
  unsigned char *p = MAP_FAILED;
  size_t size = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st;
    PoolHeader h;
    if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > CACHE_PAGE && pread(fd, &h, sizeof h, 0) == sizeof h &&
        !memcmp(h.magic, KEPT_MAGIC, 8) && h.bytes == (uint64_t)st.st_size - CACHE_PAGE &&
        h.header_hash == pool_header_hash(h))
      p = mmap(NULL, size = (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
  }
  Arena *a = s->g->arena;
  if (p != MAP_FAILED && arena_adopt_map(a, p, size)) munmap(p, size), p = MAP_FAILED;
  if (arena_keep_start(a, p == MAP_FAILED ? NULL : p + CACHE_PAGE, size - CACHE_PAGE) || p == MAP_FAILED) return;
  utimensat(AT_FDCWD, path, NULL, 0); /* used now: the last to be evicted */
  snprintf(s->kept_note, sizeof s->kept_note, "mapped %.1000s", path);
}

void lib_cache_kept_store(onnxc_session *s) {
  ArenaKept *k = s->g ? s->g->arena->kept : NULL;
  if (!k) return;
  size_t total = 0, at = strlen(s->kept_note);
  for (size_t i = 0; i < k->n; i++) total += (k->item[i].bytes + 63) & ~(size_t)63;
  if (k->region && k->changed)
    snprintf(s->kept_note + at, sizeof s->kept_note - at, "; %zu bytes differed from the passes', rewritten",
             k->changed);
  else if (k->region && (k->outside || k->used != k->bytes))
    snprintf(s->kept_note + at, sizeof s->kept_note - at, "; another list, rewritten");
  if ((k->region && !k->changed && !k->outside && k->used == k->bytes) || k->broken || total < KEPT_MIN ||
      (int64_t)(CACHE_PAGE + total) > max_bytes(s) / 4 || mkdirs(s->opt.cache_dir))
    return;
  PoolHeader h = {.bytes = total};
  memcpy(h.magic, KEPT_MAGIC, 8);
  h.header_hash = pool_header_hash(h);
  char path[sizeof s->opt.cache_dir + 64], tmp[sizeof path + 64];
  kept_path(s, path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%lx", path, (long)getpid(), (unsigned long)(uintptr_t)&h);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  static const char zero[CACHE_PAGE];
  bool ok = fd >= 0 && write_all(fd, &h, sizeof h) && write_all(fd, zero, CACHE_PAGE - sizeof h);
  for (size_t i = 0; ok && i < k->n; i++)
    ok = write_all(fd, k->item[i].p, k->item[i].bytes) && write_all(fd, zero, -k->item[i].bytes & 63);
  if (fd >= 0 && close(fd)) ok = false;
  if (ok && !rename(tmp, path)) {
    if (!k->region) snprintf(s->kept_note, sizeof s->kept_note, "stored %.1000s", path);
    evict(s->opt.cache_dir, max_bytes(s), strrchr(path, '/') + 1);
  } else if (fd >= 0)
    unlink(tmp);
}

/* ---- prepare's entry: the cached model, or be_jit storing what it makes ---- */
BeModel *lib_cache_jit(onnxc_session *s, const BeOptions *bo) {
  s->cache_state = ONNXC_CACHE_OFF;
  s->cache_note[0] = 0;
  /* profiling and the perf map name kernels as they are generated: those compile afresh */
  if (!s->opt.cache_dir[0] || bo->dump_llvm || bo->profile || bo->perf_map)
    return lib_jit(s, bo);
  be_phase("cache lookup");
  char *key = make_key(s);
  if (!key) return lib_jit(s, bo);
  char path[sizeof s->opt.cache_dir + 64], why[64];
  entry_path(s, key, path, sizeof path);
  BeArtifact a;
  Mapped m;
  int hit = entry_read(path, key, &a, &m, why, sizeof why);
  if (hit == 1) {
    Mapped *keep = malloc(sizeof *keep);
    if (keep) {
      *keep = m;
      utimensat(AT_FDCWD, path, NULL, 0); /* used now: the last to be evicted */
      BeModel *bm = be_jit_artifact(s->g, &a, unmap_entry, keep, s->err, sizeof s->err);
      be_phase(NULL);
      if (bm) {
        s->cache_state = ONNXC_CACHE_HIT;
        snprintf(s->cache_note, sizeof s->cache_note, "hit %.1500s", path);
        free(key);
        return bm;
      }
      snprintf(why, sizeof why, "not linkable");
    } else
      munmap(m.p, m.bytes);
    hit = -2;
  }
  if (hit == -2) unlink(path);
  s->cache_state = hit == -2 ? ONNXC_CACHE_REBUILT : ONNXC_CACHE_MISS;
  if (hit == -2) snprintf(s->cache_note, sizeof s->cache_note, "bad entry (%s), rebuilt; ", why);
  else snprintf(s->cache_note, sizeof s->cache_note, "miss; ");
  Store st = {s, key};
  BeOptions o = *bo;
  o.keep = store;
  o.keep_ctx = &st;
  BeModel *bm = lib_jit(s, &o);
  free(key);
  return bm;
}

int onnxc_cache_default_dir(char *buf, size_t len) {
  if (!buf || !len) return ONNXC_ERR_ARGUMENT;
  const char *d = getenv("ONNXC_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  int n = d && *d ? snprintf(buf, len, "%s", d)
          : x && *x == '/' ? snprintf(buf, len, "%s/onnxc", x)
          : home && *home ? snprintf(buf, len, "%s/.cache/onnxc", home)
                          : (buf[0] = 0, -1);
  if (n < 0) return ONNXC_ERR_ARGUMENT;
  if ((size_t)n >= len) {
    buf[0] = 0;
    return ONNXC_ERR_ARGUMENT;
  }
  return ONNXC_OK;
}

int onnxc_session_cache_state(const onnxc_session *s) { return s ? s->cache_state : ONNXC_CACHE_OFF; }
