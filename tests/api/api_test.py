#!/usr/bin/python3
"""libonnxc as an application sees it: install onnxc into a temporary prefix, build
tests/api/api_test.c against the installed onnxc.h once with pkg-config and once with a
find_package(onnxc) project (tests/api/project), write `onnxc run`'s outputs for ResNet-18 and the
LSTM (and dyn_cnn, for symbolic dims) as references, and run both builds (each compares with the references, runs two sessions
concurrently and checks the failure statuses; see api_test.c)."""
import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(("ok   " if ok else "FAIL ") + name + ("" if ok or not detail else "\n" + detail))


def sh(args, env=None, timeout=1800):
    e = dict(os.environ)
    e.update(env or {})
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "timeout after %d s: %s" % (timeout, " ".join(args))
    return p.returncode, p.stdout.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cflags", default="", help="extra C flags (the sanitizers of an instrumented libonnxc)")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    prefix, refs = os.path.join(a.work, "prefix"), os.path.join(a.work, "refs")
    rc, out = sh(["cmake", "--install", a.build, "--prefix", prefix])
    files = ["include/onnxc/onnxc.h", "include/onnxc/onnxc_model.h", "lib/libonnxc.so", "lib/libonnxc.a",
             "lib/pkgconfig/onnxc.pc", "lib/cmake/onnxc/onnxcConfig.cmake"]
    missing = [f for f in files if not os.path.exists(os.path.join(prefix, f))]
    check("cmake --install: onnxc.h, libonnxc.so/.a, onnxc.pc, onnxcConfig.cmake", rc == 0 and not missing,
          out[-2000:] + str(missing))
    for name in ("resnet18", "lstm", "dyn_cnn"):
        m = os.path.join(a.models, name)
        rc, out = sh([a.onnxc, "run", os.path.join(m, "model.onnx"), os.path.join(m, "input_0.npy"), "-o",
                      os.path.join(refs, name)])
        check("onnxc run %s (the reference)" % name, rc == 0, out)
    src = os.path.join(HERE, "api_test.c")
    cflags = a.cflags.split()
    # pkg-config
    rc, flags = sh(["pkg-config", "--cflags", "--libs", "onnxc"],
                   env={"PKG_CONFIG_PATH": os.path.join(prefix, "lib", "pkgconfig")})
    exe_pc = os.path.join(a.work, "api_test_pc")
    rc2, out = sh(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"] + cflags + [src, "-o", exe_pc] +
                  flags.split() + ["-lpthread", "-lm"])
    check("api_test.c builds with pkg-config (%s)" % flags.strip(), rc == 0 and rc2 == 0, flags + out)
    # find_package
    proj = os.path.join(a.work, "project")
    rc, out = sh(["cmake", "-S", os.path.join(HERE, "project"), "-B", proj, "-DCMAKE_PREFIX_PATH=" + prefix,
                  "-DAPI_TEST_SOURCE=" + src, "-DCMAKE_C_FLAGS=" + " ".join(cflags), "-DCMAKE_BUILD_TYPE=Release"])
    rc2, out2 = sh(["cmake", "--build", proj]) if rc == 0 else (1, "")
    exe_cm = os.path.join(proj, "api_test")
    check("api_test.c builds with find_package(onnxc) and onnxc::onnxc", rc == 0 and rc2 == 0, out + out2)
    for what, exe in (("pkg-config", exe_pc), ("find_package", exe_cm)):
        if not os.path.exists(exe):
            check("api_test (%s build) runs" % what, False, "not built")
            continue
        rc, out = sh([exe, a.models, refs])
        print(out.rstrip())
        check("api_test (%s build): every check passed" % what, rc == 0, "exit %d" % rc)
    # docs/api.md's example program (examples/jit) on the bundled CNN, against torch's output
    import numpy as np
    ex = os.path.join(HERE, "..", "..", "examples")
    exe_jit = os.path.join(a.work, "jit")
    rc, out = sh(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror"] + cflags +
                 ["-I", os.path.join(ex, "common"), os.path.join(ex, "jit", "main.c"), "-o", exe_jit] + flags.split())
    rc2, out2 = sh([exe_jit, os.path.join(ex, "cnn", "model.onnx"), os.path.join(ex, "cnn", "input.npy"), "2"]) \
        if rc == 0 else (1, "")
    want = np.load(os.path.join(ex, "cnn", "expected.npy")).ravel()
    words = out2.split()
    ok = rc2 == 0 and len(words) >= 3 and words[-1] == str(int(want.argmax())) and \
        abs(float(words[-3]) - float(want.max())) < 1e-5
    check("examples/jit (docs/api.md's example) on the CNN matches torch: %s" % out2.strip(), ok, out + out2)
    print("api: %d of %d checks passed" % (passed, passed + failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
