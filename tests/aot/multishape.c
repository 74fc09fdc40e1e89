/* multishape.c — a program written only against the NAME.h of a multi-shape library (`onnxc
 * compile --shape batch=1,4,16`): runs every variant through NAME_run_tensors and checks what
 * picks and refuses a variant.
 *
 *   cc -DMODEL=NAME -DMODEL_H='"NAME.h"' multishape.c -L. -lNAME -lpthread
 *   ./multishape DIR     reads DIR/vK_input_I.bin, writes DIR/vK_output_I.bin for every variant K
 *
 * Checks: NAME.h and the descriptor agree on the variants; one instance runs each variant with
 * its own dims (NAME_run_tensors, then the descriptor's run_tensors, and NAME_run_variant on raw
 * buffers: the same bytes); input dims of no variant are refused (ONNXC_ERR_ARGUMENT, a message
 * listing every variant's input dims, no output written) and so are output dims of another
 * variant than the inputs'; a variant index out of range is refused; the instance stays usable
 * (the variants are run again, in reverse order, and must give the same bytes). Prints one line
 * per failed check and "N variants, M failures"; exits 0 only if all pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/check.h"

#include MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(MODEL, x)
#define INFO FN(_info)
#define MAXIO 16

static onnxc_tensor tensor_of(const onnxc_tensor_info *ti, void *data) {
  return (onnxc_tensor){.data = data, .bytes = ti->bytes, .dtype = ti->dtype, .rank = ti->rank, .dims = ti->dims};
}

/* "4x3x224x224", as the runtime's messages write dims */
static const char *dims_text(const onnxc_tensor_info *ti, char *buf, size_t len) {
  size_t n = 0;
  buf[0] = 0;
  for (int r = 0; r < ti->rank && n < len; r++) n += (size_t)snprintf(buf + n, len - n, "%s%lld", r ? "x" : "", (long long)ti->dims[r]);
  return buf;
}

typedef struct Var {
  onnxc_tensor in[MAXIO], out[MAXIO];
  const void *raw_in[MAXIO];
  void *raw_out[MAXIO];
  void *first[MAXIO]; /* the outputs of the first run */
} Var;

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *dir = argv[1];
  const int nin = FN(_NUM_INPUTS), nout = FN(_NUM_OUTPUTS), nv = FN(_NUM_VARIANTS);
  char path[4096], msg[2048], d[200];
  CHECK(nv == INFO.num_variants && nv > 1 && INFO.variants, "NAME.h says %d variants, the descriptor %d", nv,
        (int)INFO.num_variants);
  if (nv != INFO.num_variants || nin > MAXIO || nout > MAXIO) return 1;
  CHECK(!strcmp(FN(_VARIANT_0_LABEL), INFO.variants[0].label) && !strcmp(FN(_VARIANT_1_LABEL), INFO.variants[1].label),
        "labels differ: '%s' / '%s'", FN(_VARIANT_1_LABEL), INFO.variants[1].label);
  CHECK(INFO.variants[0].inputs == INFO.inputs && INFO.variants[0].graph == INFO.graph,
        "variant 0 is not the descriptor's own tensors and graph");
  Var *v = calloc((size_t)nv, sizeof *v);
  for (int k = 0; k < nv; k++) {
    const onnxc_model_variant *mv = &INFO.variants[k];
    for (int i = 0; i < nin; i++) {
      snprintf(path, sizeof path, "%s/v%d_input_%d.bin", dir, k, i);
      v[k].raw_in[i] = check_read_file(path, (size_t)mv->inputs[i].bytes);
      v[k].in[i] = tensor_of(&mv->inputs[i], (void *)v[k].raw_in[i]);
    }
    for (int i = 0; i < nout; i++) {
      v[k].raw_out[i] = calloc(1, (size_t)mv->outputs[i].bytes + 1);
      v[k].first[i] = calloc(1, (size_t)mv->outputs[i].bytes + 1);
      v[k].out[i] = tensor_of(&mv->outputs[i], v[k].raw_out[i]);
    }
  }
  MODEL *m;
  int st = FN(_create)(&m, NULL);
  if (st) {
    printf("FAIL: create: %d %s\n", st, FN(_error)(NULL));
    return 1;
  }

  /* every variant through run_tensors, picked by the input dims */
  for (int k = 0; k < nv; k++) {
    st = FN(_run_tensors)(m, v[k].in, nin, v[k].out, nout);
    CHECK(st == 0, "variant %d (%s): run_tensors: %d %s", k, INFO.variants[k].label, st, FN(_error)(m));
    for (int i = 0; i < nout; i++) memcpy(v[k].first[i], v[k].raw_out[i], (size_t)INFO.variants[k].outputs[i].bytes);
    for (int i = 0; i < nout; i++) {
      snprintf(path, sizeof path, "%s/v%d_output_%d.bin", dir, k, i);
      FILE *f = fopen(path, "wb");
      size_t bytes = (size_t)INFO.variants[k].outputs[i].bytes;
      CHECK(f && fwrite(v[k].raw_out[i], 1, bytes, f) == bytes, "cannot write %s", path);
      if (f) fclose(f);
    }
  }

  /* input dims of no variant (the first input's first dim + 1000): refused, listing the shapes */
  int64_t odd[8];
  const onnxc_tensor_info *t0 = &INFO.inputs[0];
  memcpy(odd, t0->dims, sizeof(int64_t) * (size_t)t0->rank);
  odd[0] += 1000;
  onnxc_tensor bad[MAXIO];
  memcpy(bad, v[0].in, sizeof bad);
  bad[0].dims = odd;
  memset(v[0].raw_out[0], 0x5a, (size_t)INFO.outputs[0].bytes);
  st = FN(_run_tensors)(m, bad, nin, v[0].out, nout);
  snprintf(msg, sizeof msg, "%s", FN(_error)(m));
  CHECK(st == ONNXC_ERR_ARGUMENT, "dims of no variant: status %d", st);
  CHECK(strstr(msg, "match none"), "dims of no variant: message '%s'", msg);
  for (int k = 0; k < nv; k++) {
    CHECK(strstr(msg, dims_text(&INFO.variants[k].inputs[0], d, sizeof d)), "the message lacks variant %d's %s: '%s'",
          k, d, msg);
    CHECK(strstr(msg, INFO.variants[k].label), "the message lacks variant %d's label %s: '%s'", k,
          INFO.variants[k].label, msg);
  }
  CHECK(((unsigned char *)v[0].raw_out[0])[0] == 0x5a, "a refused run wrote an output");

  /* inputs of variant 1, outputs sized for variant 0: refused naming the output */
  st = FN(_run_tensors)(m, v[1].in, nin, v[0].out, nout);
  CHECK(st == ONNXC_ERR_ARGUMENT && strstr(FN(_error)(m), "output 0") &&
            strstr(FN(_error)(m), dims_text(&INFO.variants[1].outputs[0], d, sizeof d)),
        "outputs of another variant: %d '%s'", st, FN(_error)(m));
  st = FN(_run_variant)(m, nv, v[0].raw_in, v[0].raw_out);
  CHECK(st == ONNXC_ERR_ARGUMENT && strstr(FN(_error)(m), "variant"), "run_variant(%d): %d '%s'", nv, st,
        FN(_error)(m));
  CHECK(FN(_run_variant)(m, -1, v[0].raw_in, v[0].raw_out) == ONNXC_ERR_ARGUMENT, "run_variant(-1)");

  /* still usable: again in reverse order (another variant ran last each time), then on raw buffers
   * through NAME_run_variant, then through the descriptor */
  for (int k = nv - 1; k >= 0; k--) {
    for (int pass = 0; pass < 3; pass++) {
      for (int i = 0; i < nout; i++) memset(v[k].raw_out[i], 0, (size_t)INFO.variants[k].outputs[i].bytes);
      if (pass == 0) st = FN(_run_tensors)(m, v[k].in, nin, v[k].out, nout);
      else if (pass == 1) st = FN(_run_variant)(m, k, v[k].raw_in, v[k].raw_out);
      else st = INFO.run_tensors((onnxc_model *)m, v[k].in, nin, v[k].out, nout);
      CHECK(st == 0, "variant %d, pass %d: %d %s", k, pass, st, FN(_error)(m));
      for (int i = 0; i < nout; i++)
        CHECK(!memcmp(v[k].first[i], v[k].raw_out[i], (size_t)INFO.variants[k].outputs[i].bytes),
              "variant %d, pass %d: output %d differs from the first run", k, pass, i);
    }
  }
  /* NAME_run is variant 0 */
  CHECK(FN(_run)(m, v[0].raw_in, v[0].raw_out) == 0, "run: %s", FN(_error)(m));
  CHECK(!memcmp(v[0].first[0], v[0].raw_out[0], (size_t)INFO.variants[0].outputs[0].bytes), "run is not variant 0");
  FN(_destroy)(m);
  for (int k = 0; k < nv; k++) {
    for (int i = 0; i < nin; i++) free((void *)v[k].raw_in[i]);
    for (int i = 0; i < nout; i++) free(v[k].raw_out[i]), free(v[k].first[i]);
  }
  free(v);
  printf("%s: %d variants, %d failures\n", INFO.name, nv, failures);
  return failures ? 1 : 0;
}
