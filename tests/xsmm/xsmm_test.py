#!/usr/bin/python3
"""xsmm_test.py — `--gemm libxsmm` (ISSUE14 Deliver 4): small models whose fp32 GEMMs take
libxsmm's kernels (a MatMul on a constant weight with a fused bias and Relu, a Gemm with transB,
alpha, beta and a bias row, a batched MatMul of two run-time operands, a 1x1 convolution with
a residual Add, odd sizes for the edge tiles) agree with `--gemm own` and with numpy within fp32
tolerance, the generated code calls libxsmm (onnxc_xsmm_sgemm in --dump-llvm's module) and
`--gemm own` does not; a bad provider name is refused with a message.  `onnxc compile --gemm
libxsmm`: the shared library carries libxsmm (its symbols, its header says so), needs nothing
beyond the C library, and tests/aot/driver.c running it (two instances on two threads)
reproduces numpy; other artifacts and targets are refused with a message.  `--gemm auto`: the
phase report says how many GEMM nodes it measured faster on libxsmm, the module calls libxsmm
exactly when that is some, the time as chosen is at most the time on onnxc's kernels, and the
outputs match numpy, through the JIT and a compiled library.

  xsmm_test.py --onnxc build/onnxc --work DIR
Ends with 'xsmm: N passed, N failed'."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
from onnx import helper
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))
from checks import check, summary, work_args  # noqa: E402
from float_models import matmul_bias_relu_nodes, normal, relu, run, save, save_inputs  # noqa: E402

arr = normal(7)


def models():
    """(name, nodes, inputs {name: array}, outputs, inits, numpy reference of the outputs)"""
    out = []
    x, w, b = arr(77, 130), arr(130, 200) * 0.1, arr(200)
    out.append(("matmul_bias_relu", matmul_bias_relu_nodes(), {"x": x}, ["y"], {"w": w, "b": b}, [relu(x @ w + b)]))
    x, w, c = arr(33, 96), arr(150, 96) * 0.1, arr(150)
    out.append(("gemm_transb", [helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1, alpha=0.5, beta=2.0)],
                {"x": x}, ["y"], {"w": w, "c": c}, [0.5 * x @ w.T + 2.0 * c]))
    a, bb = arr(3, 40, 64), arr(3, 64, 72)
    out.append(("batched_runtime", [helper.make_node("MatMul", ["a", "bb"], ["y"])], {"a": a, "bb": bb}, ["y"], {},
                [a @ bb]))
    x, w = arr(1, 64, 9, 11), arr(80, 64, 1, 1) * 0.1
    r = arr(1, 80, 9, 11)
    ref = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x) + r
    out.append(("conv1x1_residual",
                [helper.make_node("Conv", ["x", "w"], ["t"]), helper.make_node("Add", ["t", "r"], ["y"])],
                {"x": x, "r": r}, ["y"], {"w": w}, [ref]))
    return out


def sh(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    return p.returncode, p.stdout.decode(errors="replace")


AUTO = re.compile(r"gemm auto: (\d+) of (\d+) nodes libxsmm can compute on libxsmm .*; those nodes ([\d.]+) ms "
                  r"on onnxc's kernels, ([\d.]+) ms as chosen")


def auto(a, name, path, ins, refs):
    """`--gemm auto` through `onnxc run` (JIT, no cache) and `onnxc compile`"""
    d = os.path.join(a.work, name + "_auto")
    rc, err = run(a.onnxc, path, ins, d, "--gemm", "auto", "--time-passes", "--no-cache")
    if not check("%s: runs with --gemm auto" % name, rc == 0, err[-400:]):
        return
    m = AUTO.search(err)
    if not check("%s: --gemm auto reports what it measured" % name, m is not None, err[-1500:]):
        return
    picked, gemms, own_ms, chosen_ms = int(m.group(1)), int(m.group(2)), float(m.group(3)), float(m.group(4))
    check("%s: auto measured %d GEMM nodes, %d on libxsmm" % (name, gemms, picked), 0 < gemms and picked <= gemms)
    check("%s: auto's choice is no slower than onnxc's kernels (%.3f <= %.3f ms)" % (name, chosen_ms, own_ms),
          chosen_ms <= own_ms)
    check("%s: the module calls libxsmm exactly when auto chose it" % name,
          ("onnxc_xsmm_sgemm" in err) == (picked > 0))
    for i, ref in enumerate(refs):
        got = np.load(os.path.join(d, "output_%d.npy" % i))
        check("%s: --gemm auto output %d vs numpy" % (name, i), np.allclose(got, ref, rtol=1e-4, atol=1e-4),
              "max diff %g" % float(np.abs(got - ref).max()))
    lib = os.path.join(d, "lib%s.so" % name)
    rc, out = sh([a.onnxc, "compile", path, "-o", lib, "--gemm", "auto", "--time-passes"])
    if check("%s: compile --gemm auto" % name, rc == 0 and AUTO.search(out) is not None, out[-1500:]):
        rc, syms = sh(["nm", lib])
        m = AUTO.search(out)
        check("%s: the library links libxsmm exactly when auto chose it" % name,
              ("libxsmm_smmdispatch" in syms) == (int(m.group(1)) > 0))
    rc, out = sh([a.onnxc, "compile", path, "-o", os.path.join(d, "x.o"), "--gemm", "auto", "--time-passes"])
    check("%s: compile --gemm auto --emit obj keeps onnxc's kernels" % name,
          rc == 0 and "all on onnxc's own kernels" in out, out[-1500:])


def compiled(a, name, inputs, refs):
    """`onnxc compile --gemm libxsmm` of the model main() saved: lib<name>.so through the AOT driver"""
    d = os.path.join(a.work, name + "_aot")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    model, lib = os.path.join(a.work, name + ".onnx"), os.path.join(d, "lib%s.so" % name)
    rc, out = sh([a.onnxc, "compile", model, "-o", lib, "--gemm", "libxsmm"])
    if not check("%s: compile --gemm libxsmm" % name, rc == 0, out[-1000:]):
        return
    rc, out = sh(["nm", lib])
    check("%s: the library carries libxsmm" % name, "libxsmm_smmdispatch" in out and "onnxc_xsmm_sgemm" in out)
    with open(os.path.join(d, name + ".h")) as f:
        check("%s: its header says it runs on libxsmm" % name, "libxsmm's kernels" in f.read())
    rc, out = sh(["ldd", lib])
    deps = [ln.split()[0] for ln in out.splitlines() if ln.strip()]
    check("%s: ldd shows only the C library %s" % (name, deps), all(
        any(k in dep for k in ("linux-vdso", "libc.so", "libm.so", "libpthread.so", "librt.so", "libdl.so",
                               "ld-linux")) for dep in deps))
    for k, v in enumerate(inputs.values()):
        np.ascontiguousarray(v).tofile(os.path.join(d, "input_%d.bin" % k))
    exe = os.path.join(d, "driver")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rc, out = sh(["cc", "-std=c11", "-O1", "-DMODEL=%s" % name, "-DMODEL_H=\"%s.h\"" % name, "-I", d,
                  os.path.join(here, "aot", "driver.c"), "-o", exe, "-L", d, "-l" + name, "-Wl,-rpath," + d,
                  "-lpthread"])
    if not check("%s: the driver builds against %s.h" % (name, name), rc == 0, out[-1000:]):
        return
    rc, out = sh([exe, d, "2"])
    if not check("%s: the driver runs lib%s.so" % (name, name), rc == 0, out[-1000:]):
        return
    for k, ref in enumerate(refs):
        got = np.fromfile(os.path.join(d, "output_%d.bin" % k), dtype=np.float32).reshape(ref.shape)
        check("%s: compiled output %d vs numpy" % (name, k), np.allclose(got, ref, rtol=1e-4, atol=1e-4),
              "max diff %g" % float(np.abs(got - ref).max()))
    for emit, extra, why in (("obj", [], "--emit obj is not supported"),
                             ("so", ["--target", "aarch64"], "x86-64 host only")):
        rc, out = sh([a.onnxc, "compile", model, "-o", os.path.join(d, "x." + emit.replace("obj", "o")), "--gemm", "libxsmm"] + extra)
        check("%s: compile --gemm libxsmm %s is refused (%s)" % (name, " ".join(["--emit", emit] + extra), why),
              rc != 0 and why in out, out[-500:])


def main():
    a = work_args()
    ms = models()
    for name, nodes, inputs, outputs, inits, refs in ms:
        path = os.path.join(a.work, name + ".onnx")
        save(path, nodes, [(k, v.shape) for k, v in inputs.items()], outputs, inits, "xsmm")
        ins = save_inputs(a.work, name, inputs)
        got = {}
        for prov in ("own", "libxsmm"):
            d = os.path.join(a.work, name + "_" + prov)
            rc, err = run(a.onnxc, path, ins, d, "--gemm", prov)
            if not check("%s: runs with --gemm %s" % (name, prov), rc == 0, err[-400:]):
                continue
            calls = "onnxc_xsmm_sgemm" in err
            check("%s: --gemm %s %s libxsmm" % (name, prov, "calls" if prov == "libxsmm" else "does not call"),
                  calls == (prov == "libxsmm"))
            got[prov] = [np.load(os.path.join(d, "output_%d.npy" % i)) for i in range(len(outputs))]
        auto(a, name, path, ins, refs)
        if len(got) < 2:
            continue
        for i, ref in enumerate(refs):
            x, o = got["libxsmm"][i], got["own"][i]
            check("%s: output %d shape" % (name, i), x.shape == ref.shape, "%s vs %s" % (x.shape, ref.shape))
            if x.shape != ref.shape:
                continue
            check("%s: output %d libxsmm vs numpy" % (name, i), np.allclose(x, ref, rtol=1e-4, atol=1e-4),
                  "max diff %g" % float(np.abs(x - ref).max()))
            check("%s: output %d libxsmm vs own" % (name, i), np.allclose(x, o, rtol=1e-4, atol=1e-4),
                  "max diff %g" % float(np.abs(x - o).max()))
    for name, nodes, inputs, outputs, inits, refs in ms[::3]:
        compiled(a, name, inputs, refs)
    p = subprocess.run([a.onnxc, "run", "x.onnx", "--gemm", "mkl"], capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    check("--gemm mkl is refused naming the providers", p.returncode != 0 and "own, libxsmm or auto" in err, err)
    return summary("xsmm")


if __name__ == "__main__":
    sys.exit(main())
