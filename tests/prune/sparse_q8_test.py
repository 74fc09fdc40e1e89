#!/usr/bin/env python3
"""sparse_q8_test.py — the sparse int8 matmuls (backend/gen/gen_sparse_q8.c) end to end:

  * MatMulInteger with int8 weights 90% unstructured and 80% in 1×16 blocks (K = 200 and 256: a
    window moved back at the end, K % 4 != 0): `onnxc info` names the sparse int8 kernel, the JIT's
    int32 outputs equal numpy's exactly, the assembly has vpermb (AVX-512 VBMI hosts), the same
    through the C emitter (gcc) and through --target aarch64 (tbl4) under qemu-aarch64, exact;
  * a float MatMul + bias pruned 90% run with --quantize int8-dynamic: bit-equal with the sparse
    pass on and off (the sums are exact integers, the epilogue the dense kernel's), close to fp32;
    `onnxc quantize --quantize int8-dynamic` writes the file and `onnxc info` on it names the sparse kernel.
"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto as T, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from checks import check, summary, work_args  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
AOT_DRIVER = os.path.join(HERE, "..", "aot", "driver.c")
CEMIT_DRIVER = os.path.join(HERE, "..", "cemit", "driver.c")
VBMI = "avx512vbmi" in open("/proc/cpuinfo").read()


def sh(args):
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def sparse_weight(rng, K, N, kind):
    w = rng.integers(-127, 128, (K, N)).astype(np.int8)
    if kind == "u90":
        w[rng.random((K, N)) >= 0.1] = 0
    else:  # 1×16 blocks, 20% kept
        keep = rng.random((K, (N + 15) // 16)) < 0.2
        w[~np.repeat(keep, 16, axis=1)[:, :N]] = 0
    return w


def mmi_model(path):
    """x u8 [2, 20, K0] and [2, 20, K1] → two MatMulIntegers (zero points 7 and 0): int32 outputs"""
    rng = np.random.default_rng(16)
    shapes = [(256, 80, "u90"), (200, 48, "b16")]
    nodes, ins, outs, inits, xs, refs = [], [], [], [], [], []
    inits.append(numpy_helper.from_array(np.array(7, np.uint8), "za"))
    for k, (K, N, kind) in enumerate(shapes):
        w = sparse_weight(rng, K, N, kind)
        x = rng.integers(0, 256, (2, 20, K)).astype(np.uint8)
        inits += [numpy_helper.from_array(w, "w%d" % k), numpy_helper.from_array(np.zeros(N, np.int8), "zb%d" % k)]
        nodes.append(helper.make_node("MatMulInteger", ["x%d" % k, "w%d" % k, "za", "zb%d" % k], ["y%d" % k], name="mmi%d" % k))
        ins.append(helper.make_tensor_value_info("x%d" % k, T.UINT8, [2, 20, K]))
        outs.append(helper.make_tensor_value_info("y%d" % k, T.INT32, [2, 20, N]))
        xs.append(x)
        refs.append(np.matmul(x.astype(np.int64) - 7, w.astype(np.int64)).astype(np.int32))
    g = helper.make_graph(nodes, "sq8", ins, outs, inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    return xs, refs


def dyn_model(path):
    """x f32 [24, 256] → MatMul (weight 90% zero) + bias → y"""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((256, 96)).astype(np.float32)
    w[rng.random(w.shape) >= 0.1] = 0
    b = rng.standard_normal(96).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["t"], name="fc"), helper.make_node("Add", ["t", "b"], ["y"])]
    g = helper.make_graph(nodes, "dyn", [helper.make_tensor_value_info("x", T.FLOAT, [24, 256])],
                          [helper.make_tensor_value_info("y", T.FLOAT, [24, 96])],
                          [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    x = rng.standard_normal((24, 256)).astype(np.float32)
    return x, x @ w + b


def run(onnxc, model, inputs, od, extra=()):
    shutil.rmtree(od, ignore_errors=True)
    rc, out = sh([onnxc, "run", model, *inputs, "-o", od, *extra])
    if rc:
        return None, out
    n = len([f for f in os.listdir(od) if f.startswith("output_")])
    return [np.load(os.path.join(od, "output_%d.npy" % k)) for k in range(n)], out


def exact(got, refs):
    return got is not None and all(g.shape == r.shape and np.array_equal(g, r) for g, r in zip(got, refs))


def test_mmi(a, work):
    model = os.path.join(work, "mmi.onnx")
    xs, refs = mmi_model(model)
    inputs = []
    for k, x in enumerate(xs):
        p = os.path.join(work, "x%d.npy" % k)
        np.save(p, x)
        inputs.append(p)
    rc, out = sh([a.onnxc, "info", model])
    lines = [ln for ln in out.splitlines() if "mmi" in ln]
    check("info lists both int8 layers", rc == 0 and len(lines) == 2, out[-1500:])
    if VBMI:
        check("info: both run the sparse int8 kernel", all("sparse int8" in ln for ln in lines), "\n".join(lines))
        check("info: 90% unstructured and block:1x16 found", "unstructured" in lines[0] and "block:1x16" in lines[1], "\n".join(lines))
    got, out = run(a.onnxc, model, inputs, os.path.join(work, "mmi_out"), ["--threads", "2"])
    check("JIT: exact against numpy", exact(got, refs), out[-1500:])
    got, out = run(a.onnxc, model, inputs, os.path.join(work, "mmi_dense"), ["--disable-pass", "sparse"])
    check("JIT, sparse pass off: exact against numpy", exact(got, refs), out[-1500:])
    if VBMI:
        asm = os.path.join(work, "mmi.s")
        rc, out = sh([a.onnxc, "compile", model, "-o", asm, "--emit", "asm"])
        check("assembly has a byte permute (vpermb, vpermt2b, vpermi2b)", rc == 0 and re.search(r"\bvperm[it]?2?b\b", open(asm).read()), out[-1500:])
    # the C emitter (the native target: the kernel the JIT picks here), built with gcc
    d = os.path.join(work, "mmi_c")
    shutil.rmtree(d, ignore_errors=True)
    rc, out = sh([a.onnxc, "compile", model, "--emit", "c", "-o", d, "--name", "sq8"])
    if check("compile --emit c", rc == 0, out[-1500:]):
        srcs = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".c"))
        exe = os.path.join(d, "driver")
        rc, out = sh(["gcc", "-std=c11", "-O2", "-march=native", "-DMODEL=sq8", "-DMODEL_H=\"sq8.h\"", "-I" + d] + srcs +
                     [CEMIT_DRIVER, "-o", exe, "-lm", "-lpthread"])
        if check("the emitted C builds", rc == 0, out[-1500:]):
            for k, x in enumerate(xs):
                x.tofile(os.path.join(d, "input_%d.bin" % k))
            rc, out = sh([exe, d, "2"])
            got = [np.fromfile(os.path.join(d, "output_%d.bin" % k), np.int32).reshape(r.shape) for k, r in enumerate(refs)] if rc == 0 else None
            check("the emitted C: exact against numpy", exact(got, refs), out[-1500:])
    # aarch64 (tbl4) under qemu
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    if not (cc and qemu):
        return print("skip: aarch64 (no cross compiler or qemu-aarch64)")
    d = os.path.join(work, "mmi_a64")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    asm = os.path.join(d, "m.s")
    rc, out = sh([a.onnxc, "compile", model, "-o", asm, "--emit", "asm", "--target", "aarch64"])
    check("aarch64 assembly has tbl (the 4-register lookup)", rc == 0 and re.search(r"\btbl\s+v\d+\.16b,\s*\{", open(asm).read()), out[-1500:])
    rc, out = sh([a.onnxc, "compile", model, "-o", os.path.join(d, "libsq8.so"), "--target", "aarch64", "--name", "sq8"])
    if not check("compile --target aarch64", rc == 0, out[-1500:]):
        return
    exe = os.path.join(d, "driver")
    rc, out = sh([cc, "-std=c11", "-O1", "-DMODEL=sq8", "-DMODEL_H=\"sq8.h\"", "-I", d, AOT_DRIVER, "-o", exe, "-L", d, "-lsq8",
                  "-Wl,-rpath," + d, "-lpthread"])
    if not check("aarch64 driver builds", rc == 0, out[-1500:]):
        return
    for k, x in enumerate(xs):
        x.tofile(os.path.join(d, "input_%d.bin" % k))
    rc, out = sh([qemu, "-L", "/usr/aarch64-linux-gnu", exe, d, "2"])
    got = [np.fromfile(os.path.join(d, "output_%d.bin" % k), np.int32).reshape(r.shape) for k, r in enumerate(refs)] if rc == 0 else None
    check("aarch64 under qemu: exact against numpy", exact(got, refs), out[-1500:])


def test_dynamic(a, work):
    model = os.path.join(work, "dyn.onnx")
    x, ref = dyn_model(model)
    xp = os.path.join(work, "dyn_x.npy")
    np.save(xp, x)
    q = ["--quantize", "int8-dynamic"]
    s, out = run(a.onnxc, model, [xp], os.path.join(work, "dyn_s"), q)
    d, out2 = run(a.onnxc, model, [xp], os.path.join(work, "dyn_d"), q + ["--disable-pass", "sparse"])
    check("int8-dynamic: sparse pass on and off bit-equal", s is not None and d is not None and np.array_equal(s[0], d[0]),
          (out + out2)[-1500:])
    if s is not None:
        err = np.abs(s[0] - ref).max() / np.abs(ref).max()
        check("int8-dynamic: within 3%% of fp32 (rel %.3g)" % err, err < 0.03)
    qm = os.path.join(work, "dyn_q8.onnx")
    rc, out = sh([a.onnxc, "quantize", model, "-o", qm, "--quantize", "int8-dynamic"])
    if check("onnxc quantize --quantize int8-dynamic writes the file", rc == 0, out[-1500:]) and VBMI:
        rc, out = sh([a.onnxc, "info", qm])
        check("info on the int8-dynamic file: the sparse int8 kernel", rc == 0 and re.search(r"MatMulInteger.*sparse int8", out),
              out[-1500:])


def main():
    a = work_args(fresh=True)
    test_mmi(a, a.work)
    test_dynamic(a, a.work)
    return summary("prune_sparse_q8")


if __name__ == "__main__":
    sys.exit(main())
