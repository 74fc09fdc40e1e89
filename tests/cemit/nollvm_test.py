#!/usr/bin/python3
"""nollvm_test.py — the C emitter of an onnxc built without LLVM (cmake -DONNXC_LLVM=OFF):

  1. the binary links no LLVM, and what needs LLVM (run, bench, compile to a library, object or
     LLVM IR) fails with "built without LLVM" and exit status 1 (2 for a usage error), no crash;
  2. `compile --emit c` writes the same files, byte for byte, as the reference onnxc built with
     LLVM (--ref-onnxc) for every model of cemit_test.py (the CNN, the encoder, bf16, misc and the
     conformance cases of every generator family), whose C the normal build's cemit test compiles
     and checks;
  3. a few of them end to end with this onnxc's C (cemit_test.py --only ...: gcc and clang-19,
     compared with the reference's JIT).

  nollvm_test.py --onnxc build-nollvm/onnxc --work DIR --cases CASES_DIR [--ref-onnxc build/onnxc]

Without --ref-onnxc (a tree configured without ONNXC_REFERENCE) only 1 runs, and 2 just checks that
every model emits.
"""
import argparse, filecmp, os, shutil, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import cemit_test  # noqa: E402

CNN = os.path.join(SRC, "examples", "cnn", "model.onnx")
END_TO_END = ["cnn", "misc", "bf16", "test_if", "test_scan9_sum", "test_conv_with_strides_padding"]


def refusals(onnxc, work):
    """what needs LLVM fails with a message and exit status 1; usage errors stay 2"""
    fails = []
    ldd = subprocess.run(["ldd", onnxc], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    if "LLVM" in ldd:
        fails.append("links LLVM:\n" + ldd)
    cnn_in = os.path.join(SRC, "examples", "cnn", "input.npy")
    cases = [(["run", CNN, cnn_in], 1), (["bench", CNN, "--runs", "1"], 1),
             (["compile", CNN, "-o", os.path.join(work, "m.so")], 1),
             (["compile", CNN, "--emit", "obj", "-o", os.path.join(work, "m.o")], 1),
             (["compile", CNN, "--emit", "llvm", "-o", os.path.join(work, "m.ll")], 1),
             (["run"], 2), (["compile", CNN, "--emit", "c"], 2)]
    for args, want in cases:
        r = subprocess.run([onnxc] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        what = "onnxc " + " ".join(os.path.basename(x) for x in args)
        if r.returncode != want:
            fails.append("%s: exit %d, expected %d: %s" % (what, r.returncode, want, r.stderr[-300:]))
        elif want == 1 and "built without LLVM" not in r.stderr:
            fails.append("%s: no 'built without LLVM' in: %s" % (what, r.stderr[-300:]))
    return fails


def emit(onnxc, model, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    r = subprocess.run([onnxc, "compile", model, "--emit", "c", "-o", out, "--name", "m"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return None if r.returncode == 0 else "compile --emit c failed: %s" % r.stdout[-500:]


def same_c(a, models):
    """this onnxc's C equals the reference's, file for file"""
    fails = []
    for name, model in models:
        d = os.path.join(a.work, "same", name)
        why = emit(a.onnxc, model, os.path.join(d, "nollvm"))
        if not why and a.ref_onnxc:
            why = emit(a.ref_onnxc, model, os.path.join(d, "llvm"))
            if not why:
                cmp = filecmp.dircmp(os.path.join(d, "nollvm"), os.path.join(d, "llvm"))
                files = sorted(os.listdir(os.path.join(d, "llvm")))
                _, bad, err = filecmp.cmpfiles(os.path.join(d, "nollvm"), os.path.join(d, "llvm"), files, shallow=False)
                if bad or err or cmp.left_only:
                    why = "C differs from the reference's: %s" % " ".join(bad + err + cmp.left_only)
        print("%-4s %s" % ("ok" if not why else "FAIL", name), flush=True)
        if why:
            fails.append("%s: %s" % (name, why))
    return fails


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cases", required=True, help="conformance cases folder (made if missing)")
    ap.add_argument("--ref-onnxc", default=None, help="an onnxc built with LLVM")
    a = ap.parse_args()
    a.onnxc = os.path.abspath(a.onnxc)
    if a.ref_onnxc and not os.access(a.ref_onnxc, os.X_OK):
        print("FAIL: reference %s is not an executable (build the normal tree first)" % a.ref_onnxc)
        return 1
    os.makedirs(a.work, exist_ok=True)
    fails = refusals(a.onnxc, a.work)
    print("%-4s refusals without LLVM" % ("ok" if not fails else "FAIL"), flush=True)
    if a.ref_onnxc:
        # end to end (also makes the encoder, bf16 and misc models and the conformance cases)
        args = ["--onnxc", a.onnxc, "--ref-onnxc", a.ref_onnxc, "--work", a.work, "--cases", a.cases,
                "--only"] + END_TO_END
        if cemit_test.main(args):
            fails.append("end to end (cemit_test.py %s) failed" % " ".join(args))
    else:
        print("skip end to end and the comparison of the C: no reference onnxc (configure with "
              "-DONNXC_REFERENCE=path/to/an/onnxc/built/with/LLVM)")
    models = [("cnn", CNN)]
    mdir = os.path.join(a.work, "models")
    for name, path in [("encoder", os.path.join(mdir, "encoder", "model.onnx")), ("bf16", os.path.join(mdir, "bf16.onnx")),
                       ("misc", os.path.join(mdir, "misc.onnx"))]:
        if os.path.exists(path):
            models.append((name, path))
    models += [(c, os.path.join(a.cases, c, "model.onnx")) for c in cemit_test.CASES
               if os.path.exists(os.path.join(a.cases, c, "model.onnx"))]
    if a.ref_onnxc and len(models) != 4 + len(cemit_test.CASES):
        fails.append("only %d of %d models found" % (len(models), 4 + len(cemit_test.CASES)))
    fails += same_c(a, models)
    for f in fails:
        print("FAIL: " + f)
    print("%d failed" % len(fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
