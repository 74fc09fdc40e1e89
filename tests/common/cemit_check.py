"""cemit_check.py — a model through the C emitter against the JIT, for the Python test scripts
(tests/models/cluster_models.py, tests/prune/rnn_sparse_test.py): `onnxc compile --emit c
--target x86-64-avx512` (16 lanes: the kernels the JIT picks on this machine), built with gcc and
run by tests/cemit/driver.c on one input, its output within rel 1e-5 of the JIT's.  A script
imports it after putting tests/common on sys.path and passes its own check function."""
import os
import shutil
import subprocess

import numpy as np

DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cemit", "driver.c")


def cemit_match(onnxc, model, x, want, tag, work, check, marker=None):
    """onnxc: the binary; x: the input array; want: the JIT's output; marker: text the emitted C
    must contain (shows the kernel asked for was emitted), None: no such check"""
    if want is None or "avx512f" not in open("/proc/cpuinfo").read():
        return print("skip: %s through the C emitter (no AVX-512 here)" % tag)
    d = os.path.join(work, tag + "_cemit")
    shutil.rmtree(d, ignore_errors=True)
    p = subprocess.run([onnxc, "compile", model, "--emit", "c", "--target", "x86-64-avx512", "-o", d, "--name", "m"],
                       capture_output=True, text=True)
    if not check("%s: compile --emit c --target x86-64-avx512" % tag, p.returncode == 0, p.stderr[-400:]):
        return
    path = os.path.join(d, "m_model.c")
    src = open(path).read() if os.path.exists(path) else ""
    if marker:
        check("%s: the emitted C has %r" % (tag, marker), marker in src)
    srcs = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".c"))
    exe = os.path.join(d, "driver")
    q = subprocess.run(["gcc", "-std=c11", "-O2", "-march=native", "-DMODEL=m", "-DMODEL_H=\"m.h\"", "-I" + d] + srcs +
                       [DRIVER, "-o", exe, "-lm", "-lpthread"], capture_output=True, text=True)
    if not check("%s: the emitted C builds with gcc" % tag, q.returncode == 0, q.stderr[-400:]):
        return
    x.tofile(os.path.join(d, "input_0.bin"))
    q = subprocess.run([exe, d, "1"], capture_output=True, text=True)
    if check("%s: the emitted C runs" % tag, q.returncode == 0, q.stdout[-400:]):
        got = np.fromfile(os.path.join(d, "output_0.bin"), dtype=np.float32).reshape(want.shape)
        err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
        check("%s: the emitted C matches the JIT (rel %.2g)" % (tag, err), err <= 1e-5)
