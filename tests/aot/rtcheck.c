/* rtcheck.c — the run-time input checks of a compiled model, written only against its NAME.h:
 *
 *   cc -DMODEL=NAME -DMODEL_H='"NAME.h"' [-DGATHER_MODEL] rtcheck.c -L. -lNAME
 *   ./rtcheck
 *
 * NAME_run_tensors must refuse a NULL model, NULL arrays, a NULL buffer, wrong counts, and for
 * every input and output a wrong dtype, rank, dim, NULL dims and a buffer one byte short, each
 * with ONNXC_ERR_ARGUMENT, a message naming the tensor and what was wrong, and without writing any
 * output; a good call right after each refusal must work and reproduce NAME_run's outputs.
 * With -DGATHER_MODEL (tests/aot/aot_test.py's gather model: data float[5,4], idx int64[3] ->
 * y = Gather(data, idx) float[3,4], z = data + data): indices out of range on either side give
 * ONNXC_ERR_INDEX naming the Gather node through NAME_run and NAME_run_tensors, then valid ones
 * the right rows.
 * Buffers end (or start) at a PROT_NONE page, so a read or write past them faults; under ASan
 * (-fsanitize=address) they come from malloc instead, whose redzones catch the same.
 * Prints one line per failed check; exits 0 only if all pass. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/check.h"

#include MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(MODEL, x)
#define INFO FN(_info)

#if defined(__SANITIZE_ADDRESS__)
#define USE_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USE_MALLOC 1
#endif
#endif

enum { MAXT = 64 };

/* bytes with a PROT_NONE page right after them (at_end) or right before them */
static void *guarded(int64_t bytes, int at_end) {
#ifdef USE_MALLOC
  (void)at_end;
  return malloc(bytes ? (size_t)bytes : 1);
#else
  size_t page = (size_t)sysconf(_SC_PAGESIZE), body = ((size_t)bytes + page - 1) / page * page;
  char *p = mmap(NULL, body + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED || mprotect(p, page, PROT_NONE) || mprotect(p + page + body, page, PROT_NONE)) {
    printf("FAIL: mmap\n");
    exit(1);
  }
  return at_end ? p + page + body - (size_t)bytes : p + page;
#endif
}

/* a guarded() buffer no longer needed (mappings simply stay until exit) */
static void release(void *p) {
#ifdef USE_MALLOC
  free(p);
#else
  (void)p;
#endif
}

static int nin, nout;
static onnxc_tensor in[MAXT], out[MAXT];
static void *obuf[MAXT]; /* out[i].data, also while a check has changed out[i] */
static void *ref[MAXT];  /* NAME_run's outputs for the inputs in[] */

static void fill_inputs(void) {
  for (int i = 0; i < nin; i++) {
    const onnxc_tensor_info *t = &INFO.inputs[i];
    in[i] = (onnxc_tensor){guarded(t->bytes, 1), t->bytes, t->dtype, t->rank, t->dims};
    memset(in[i].data, 0, (size_t)t->bytes);
    if (t->dtype == ONNXC_DT_FLOAT)
      for (int64_t k = 0; k < t->numel; k++) ((float *)in[i].data)[k] = (float)(k % 7) * 0.25f - 0.75f;
  }
  for (int i = 0; i < nout; i++) {
    const onnxc_tensor_info *t = &INFO.outputs[i];
    out[i] = (onnxc_tensor){obuf[i] = guarded(t->bytes, 1), t->bytes, t->dtype, t->rank, t->dims};
    ref[i] = malloc((size_t)t->bytes + 1);
  }
}

static MODEL *m;

static void fill_outputs(unsigned char byte) {
  for (int i = 0; i < nout; i++) memset(obuf[i], byte, (size_t)INFO.outputs[i].bytes);
}

/* nothing was written by a refused call */
static int outputs_untouched(void) {
  for (int i = 0; i < nout; i++)
    for (int64_t k = 0; k < INFO.outputs[i].bytes; k++)
      if (((unsigned char *)obuf[i])[k] != 0xab) return 0;
  return 1;
}

/* a good call: status 0, no message, NAME_run's outputs */
static void good_call(const char *after) {
  fill_outputs(0xcd);
  int st = FN(_run_tensors)(m, in, nin, out, nout);
  CHECK(st == ONNXC_OK, "good call after %s: %d '%s'", after, st, FN(_error)(m));
  CHECK(!FN(_error)(m)[0], "good call after %s leaves the message '%s'", after, FN(_error)(m));
  for (int i = 0; i < nout; i++)
    CHECK(!memcmp(out[i].data, ref[i], (size_t)INFO.outputs[i].bytes), "good call after %s: output %d differs",
          after, i);
}

/* a refused call: ONNXC_ERR_ARGUMENT, the message holds each of want[] (NULL-terminated), no output
 * written; the caller restores the tensor and makes a good call */
static void refused(const char *what, const onnxc_tensor *ti, int ni, const onnxc_tensor *to, int no,
                    const char *const *want) {
  fill_outputs(0xab);
  int st = FN(_run_tensors)(m, ti, ni, to, no);
  const char *msg = FN(_error)(m);
  CHECK(st == ONNXC_ERR_ARGUMENT, "%s: status %d, expected ONNXC_ERR_ARGUMENT ('%s')", what, st, msg);
  for (; *want; want++) CHECK(strstr(msg, *want) != NULL, "%s: message '%s' lacks '%s'", what, msg, *want);
  CHECK(outputs_untouched(), "%s: an output was written", what);
  printf("refused %-28s %s\n", what, msg);
}

/* every field of tensor j of ts (the inputs or the outputs) made wrong in turn */
static void check_fields(onnxc_tensor *ts, int j, const onnxc_tensor_info *t, const char *kind) {
  char what[300], idx[300];
  snprintf(idx, sizeof idx, "%s %d ('%s')", kind, j, t->name);
  onnxc_tensor save = ts[j];
  int64_t dims[9] = {0};
  for (int d = 0; d < t->rank; d++) dims[d] = t->dims[d];
  dims[t->rank] = 1;

  ts[j].data = NULL;
  snprintf(what, sizeof what, "%s %d NULL data", kind, j);
  if (t->bytes) refused(what, in, nin, out, nout, (const char *[]){idx, "is NULL", NULL});
  ts[j] = save;
  good_call(what);

  ts[j].dtype = t->dtype == ONNXC_DT_FLOAT ? ONNXC_DT_INT32 : ONNXC_DT_FLOAT;
  snprintf(what, sizeof what, "%s %d dtype", kind, j);
  refused(what, in, nin, out, nout, (const char *[]){idx, "dtype", NULL});
  ts[j] = save;
  good_call(what);

  ts[j].rank = t->rank + 1;
  ts[j].dims = dims;
  snprintf(what, sizeof what, "%s %d rank", kind, j);
  refused(what, in, nin, out, nout, (const char *[]){idx, "rank", NULL});
  ts[j] = save;
  good_call(what);

  if (t->rank) {
    dims[t->rank - 1] += 1;
    ts[j].dims = dims;
    snprintf(what, sizeof what, "%s %d last dim + 1", kind, j);
    refused(what, in, nin, out, nout, (const char *[]){idx, "dims", "the model takes", NULL});
    dims[t->rank - 1] -= 1;
    ts[j] = save;
    good_call(what);
    ts[j].dims = NULL;
    snprintf(what, sizeof what, "%s %d dims NULL", kind, j);
    refused(what, in, nin, out, nout, (const char *[]){idx, "dims is NULL", NULL});
    ts[j] = save;
    good_call(what);
  }

  if (t->bytes) {
    char need[100];
    snprintf(need, sizeof need, "buffer of %lld bytes, needs %lld", (long long)t->bytes - 1, (long long)t->bytes);
    ts[j].bytes = t->bytes - 1;
    snprintf(what, sizeof what, "%s %d one byte short", kind, j);
    refused(what, in, nin, out, nout, (const char *[]){idx, need, NULL});
    ts[j] = save;
    good_call(what);
  }
}

#ifdef GATHER_MODEL
/* Gather out of range on either side, through NAME_run and NAME_run_tensors, then in range */
static void check_gather(void) {
  const onnxc_tensor_info *td = &INFO.inputs[0];
  CHECK(nin == 2 && nout == 2 && td->rank == 2 && INFO.inputs[1].dtype == ONNXC_DT_INT64, "not the gather model");
  if (failures) return;
  int64_t rows = td->dims[0], cols = td->dims[1], nidx = INFO.inputs[1].numel;
  /* data against a guard page after it (index too large) and before it (too negative) */
  for (int side = 0; side < 2; side++) {
    float *data = guarded(td->bytes, side == 0);
    for (int64_t k = 0; k < td->numel; k++) data[k] = (float)k;
    int64_t *idx = in[1].data;
    onnxc_tensor ti[2] = {in[0], in[1]};
    ti[0].data = data;
    const void *ip[2] = {data, idx};
    void *op[2] = {out[0].data, out[1].data};
    for (int64_t bad = 0; bad < nidx; bad++) {
      for (int64_t k = 0; k < nidx; k++) idx[k] = k % rows;
      idx[bad] = side == 0 ? rows : -rows - 1;
      int st = FN(_run)(m, ip, op);
      CHECK(st == ONNXC_ERR_INDEX, "run: index %lld at %lld: status %d", (long long)idx[bad], (long long)bad, st);
      CHECK(strstr(FN(_error)(m), "Gather 'gather_rows'") && strstr(FN(_error)(m), "index out of range"),
            "run: message '%s' should name the node and say 'index out of range'", FN(_error)(m));
      if (bad == 0) printf("index %lld: %s\n", (long long)idx[bad], FN(_error)(m));
      st = FN(_run_tensors)(m, ti, 2, out, 2);
      CHECK(st == ONNXC_ERR_INDEX && strstr(FN(_error)(m), "Gather 'gather_rows'"), "run_tensors: %d '%s'", st,
            FN(_error)(m));
      st = INFO.run_tensors((onnxc_model *)m, ti, 2, out, 2);
      CHECK(st == ONNXC_ERR_INDEX, "the descriptor's run_tensors: %d", st);
    }
    /* valid, with negative indices: the instance works again */
    for (int64_t k = 0; k < nidx; k++) idx[k] = k % 2 ? -1 - k % rows : (rows - 1 - k) % rows;
    int st = FN(_run_tensors)(m, ti, 2, out, 2);
    CHECK(st == ONNXC_OK && !FN(_error)(m)[0], "valid indices after the failures: %d '%s'", st, FN(_error)(m));
    const float *y = out[0].data, *z = out[1].data;
    for (int64_t k = 0; k < nidx; k++) {
      int64_t r = idx[k] < 0 ? idx[k] + rows : idx[k];
      for (int64_t c = 0; c < cols; c++)
        CHECK(y[k * cols + c] == data[r * cols + c], "y[%lld][%lld] = %g, expected %g", (long long)k, (long long)c,
              y[k * cols + c], data[r * cols + c]);
    }
    for (int64_t k = 0; k < td->numel; k++) CHECK(z[k] == 2 * data[k], "z[%lld] = %g", (long long)k, z[k]);
    release(data);
  }
}
#endif

int main(void) {
  nin = FN(_NUM_INPUTS);
  nout = FN(_NUM_OUTPUTS);
  if (nin >= MAXT || nout >= MAXT) return 2;
  fill_inputs();
#ifdef GATHER_MODEL
  for (int64_t k = 0; k < INFO.inputs[1].numel; k++) ((int64_t *)in[1].data)[k] = k % INFO.inputs[0].dims[0];
#endif
  const void *ip[MAXT];
  void *op[MAXT]; /* NAME_run with raw pointers: the reference the checked calls must reproduce */
  for (int i = 0; i < nin; i++) ip[i] = in[i].data;
  for (int i = 0; i < nout; i++) op[i] = ref[i];
  CHECK(FN(_run)(NULL, ip, op) == ONNXC_ERR_ARGUMENT, "run(NULL model)");
  CHECK(FN(_run_tensors)(NULL, in, nin, out, nout) == ONNXC_ERR_ARGUMENT, "run_tensors(NULL model)");
  onnxc_options opts = {.threads = 2};
  int st = FN(_create)(&m, &opts);
  if (st) {
    printf("FAIL: create: %d %s\n", st, FN(_error)(NULL));
    return 1;
  }
  st = FN(_run)(m, ip, op);
  CHECK(st == ONNXC_OK, "reference run: %d '%s'", st, FN(_error)(m));
  good_call("create");

  /* arrays and counts */
  char cnt[100];
  refused("inputs NULL", NULL, nin, out, nout, (const char *[]){"input array is NULL", NULL});
  good_call("inputs NULL");
  refused("outputs NULL", in, nin, NULL, nout, (const char *[]){"output array is NULL", NULL});
  good_call("outputs NULL");
  snprintf(cnt, sizeof cnt, "%d inputs given, the model takes %d", nin + 1, nin);
  refused("one input too many", in, nin + 1, out, nout, (const char *[]){cnt, NULL});
  good_call("one input too many");
  snprintf(cnt, sizeof cnt, "%d outputs given, the model takes %d", nout - 1, nout);
  refused("one output too few", in, nin, out, nout - 1, (const char *[]){cnt, NULL});
  good_call("one output too few");
  snprintf(cnt, sizeof cnt, "%d outputs given, the model takes %d", -1, nout);
  refused("-1 outputs", in, nin, out, -1, (const char *[]){cnt, NULL});
  good_call("-1 outputs");

  /* every field of every tensor */
  for (int i = 0; i < nin; i++) check_fields(in, i, &INFO.inputs[i], "input");
  for (int i = 0; i < nout; i++) check_fields(out, i, &INFO.outputs[i], "output");

  /* a larger buffer than needed is fine, and so is the descriptor's pointer */
  if (nout) {
    onnxc_tensor save = out[0];
    out[0].data = guarded(save.bytes + 64, 1);
    out[0].bytes = save.bytes + 64;
    st = INFO.run_tensors((onnxc_model *)m, in, nin, out, nout);
    CHECK(st == ONNXC_OK && !memcmp(out[0].data, ref[0], (size_t)save.bytes), "a larger output buffer: %d '%s'", st,
          FN(_error)(m));
    release(out[0].data);
    out[0] = save;
  }
#ifdef GATHER_MODEL
  check_gather();
#endif
  FN(_destroy)(m);
  for (int i = 0; i < nin; i++) release(in[i].data);
  for (int i = 0; i < nout; i++) release(obuf[i]), free(ref[i]);
  printf("%s: rtcheck %d checks, %d failures\n", INFO.name, checks, failures);
  return failures ? 1 : 0;
}
