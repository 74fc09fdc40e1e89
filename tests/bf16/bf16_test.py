#!/usr/bin/python3
"""bf16_test.py — `--fp-mode bf16` (ISSUE14 Deliver 9): small models whose fp32 GEMMs run on
bf16 operands with fp32 sums (vdpbf16ps): a MatMul on a constant weight with a fused bias and
Relu, odd K and N (a half pair, tail panels), K long enough to be blocked, M split over tasks, tasks
of several panels (A converted once per group), a
Gemm with transB, alpha and beta, a batched MatMul of two run-time operands, a 1x1 convolution
with a residual Add, a strided 3x3 convolution (im2col packer).  Each output must
- agree with numpy on the operands rounded to bf16 (what the kernels multiply; sums in fp32):
  relative error (L2) <= 1e-4;
- be within bf16 tolerance of the fp32 result (relative L2 error <= 1e-2), and differ from it
  (> 1e-5: the bf16 kernels did run);
and the code must hold vdpbf16ps (--dump-llvm; `onnxc compile --emit asm`) with bf16 and not
without.  Targets without AVX512-BF16 (`--target x86-64-avx2`, `--emit c`) are refused with a
message; on a host without it, `onnxc run --fp-mode bf16` is refused and nothing else is checked.

  bf16_test.py --onnxc build/onnxc --work DIR
Ends with 'bf16: N passed, N failed'."""
import os
import subprocess
import sys

import numpy as np
from onnx import helper
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))
from checks import check, summary, work_args  # noqa: E402
from float_models import matmul_bias_relu_nodes, normal, relu, run, save, save_inputs  # noqa: E402

arr = normal(11)


def bf(x):
    """x rounded to bf16 (nearest even), as float64"""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32).astype(np.float64)


def conv_ref(x, w, stride, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
            y += np.einsum("oc,nchw->nohw", w[:, :, i, j], patch)
    return y


def models():
    """(name, nodes, inputs, outputs, inits, f(round) -> numpy reference, round = bf or identity)"""
    out = []
    x, w, b = arr(77, 130), arr(130, 200) * 0.1, arr(200)
    out.append(("matmul_bias_relu", matmul_bias_relu_nodes(), {"x": x}, ["y"], {"w": w, "b": b}, lambda r, x=x, w=w, b=b: relu(r(x) @ r(w) + b)))
    x, w = arr(50, 129), arr(129, 70) * 0.1
    out.append(("matmul_odd", [helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": x}, ["y"], {"w": w},
                lambda r, x=x, w=w: r(x) @ r(w)))
    x, w = arr(64, 2001), arr(2001, 96) * 0.05
    out.append(("matmul_kblocks", [helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": x}, ["y"], {"w": w},
                lambda r, x=x, w=w: r(x) @ r(w)))
    x, w = arr(256, 256), arr(256, 64) * 0.1
    out.append(("matmul_mblocks", [helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": x}, ["y"], {"w": w},
                lambda r, x=x, w=w: r(x) @ r(w)))
    x, w = arr(600, 96), arr(96, 300) * 0.1
    out.append(("matmul_groups", [helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": x}, ["y"], {"w": w},
                lambda r, x=x, w=w: r(x) @ r(w)))
    x, w, c = arr(33, 96), arr(150, 96) * 0.1, arr(150)
    out.append(("gemm_transb", [helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1, alpha=0.5, beta=2.0)],
                {"x": x}, ["y"], {"w": w, "c": c}, lambda r, x=x, w=w, c=c: 0.5 * r(x) @ r(w).T + 2.0 * c))
    a, bb = arr(3, 40, 65), arr(3, 65, 72)
    out.append(("batched_runtime", [helper.make_node("MatMul", ["a", "bb"], ["y"])], {"a": a, "bb": bb}, ["y"], {},
                lambda r, a=a, bb=bb: r(a) @ r(bb)))
    x, w, rr = arr(1, 64, 9, 11), arr(80, 64, 1, 1) * 0.1, arr(1, 80, 9, 11)
    out.append(("conv1x1_residual",
                [helper.make_node("Conv", ["x", "w"], ["t"]), helper.make_node("Add", ["t", "r"], ["y"])],
                {"x": x, "r": rr}, ["y"], {"w": w},
                lambda r, x=x, w=w, rr=rr: np.einsum("oc,nchw->nohw", r(w)[:, :, 0, 0], r(x)) + rr))
    x, w, b = arr(1, 16, 15, 15), arr(40, 16, 3, 3) * 0.1, arr(40)
    out.append(("conv3x3_s2_relu",
                [helper.make_node("Conv", ["x", "w", "b"], ["t"], strides=[2, 2], pads=[1, 1, 1, 1]),
                 helper.make_node("Relu", ["t"], ["y"])],
                {"x": x}, ["y"], {"w": w, "b": b},
                lambda r, x=x, w=w, b=b: relu(conv_ref(r(x), r(w), 2, 1) + b[None, :, None, None])))
    return out


def rel(x, ref):
    return float(np.linalg.norm(x - ref) / max(np.linalg.norm(ref), 1e-30))


def host_has_bf16():
    with open("/proc/cpuinfo") as f:
        return "avx512_bf16" in f.read()


def main():
    a = work_args()
    ms = models()
    written = []
    for name, nodes, inputs, outputs, inits, ref in ms:
        path = os.path.join(a.work, name + ".onnx")
        save(path, nodes, [(k, v.shape) for k, v in inputs.items()], outputs, inits, "bf16")
        ins = save_inputs(a.work, name, inputs)
        written.append((name, path, ins, outputs, ref))
    first = written[0][1]
    if not host_has_bf16():
        rc, err = run(a.onnxc, first, written[0][2], os.path.join(a.work, "refused"), "--fp-mode", "bf16", "--no-cache")
        check("no AVX512-BF16 here: --fp-mode bf16 is refused naming it", rc != 0 and "AVX512-BF16" in err, err[-400:])
        return summary("bf16")
    for name, path, ins, outputs, ref in written:
        got = {}
        for mode in ("fp32", "bf16"):
            d = os.path.join(a.work, name + "_" + mode)
            rc, err = run(a.onnxc, path, ins, d, "--fp-mode", mode, "--no-cache")
            if not check("%s: runs with --fp-mode %s" % (name, mode), rc == 0, err[-400:]):
                continue
            has = "llvm.x86.avx512bf16.dpbf16ps" in err
            check("%s: --fp-mode %s %s vdpbf16ps" % (name, mode, "uses" if mode == "bf16" else "does not use"),
                  has == (mode == "bf16"))
            got[mode] = np.load(os.path.join(d, "output_0.npy")).astype(np.float64)
        if len(got) < 2:
            continue
        exact, rounded = ref(lambda v: np.asarray(v, np.float64)), ref(bf)
        y, y32 = got["bf16"], got["fp32"]
        if not check("%s: output shape" % name, y.shape == exact.shape, "%s vs %s" % (y.shape, exact.shape)):
            continue
        e_r, e_x, e_32 = rel(y, rounded), rel(y, exact), rel(y32, exact)
        check("%s: bf16 vs numpy on bf16-rounded operands" % name, e_r <= 1e-4, "rel %.3g" % e_r)
        check("%s: bf16 vs fp32 within bf16 tolerance" % name, 1e-5 < e_x <= 1e-2, "rel %.3g" % e_x)
        check("%s: fp32 vs numpy" % name, e_32 <= 1e-5, "rel %.3g" % e_32)
        print("     %s: relative L2 error, bf16 %.2e, fp32 %.2e" % (name, e_x, e_32))
    # ahead of time: the assembly holds vdpbf16ps; targets without AVX512-BF16 are refused
    asm = os.path.join(a.work, "m.s")
    p = subprocess.run([a.onnxc, "compile", first, "-o", asm, "--emit", "asm", "--fp-mode", "bf16"], capture_output=True,
                       timeout=300)
    text = open(asm).read() if p.returncode == 0 and os.path.exists(asm) else ""
    check("compile --emit asm --fp-mode bf16 holds vdpbf16ps", "vdpbf16ps" in text, p.stderr.decode(errors="replace")[-400:])
    for flags in (["--target", "x86-64-avx2", "-o", os.path.join(a.work, "m2.so")],
                  ["--emit", "c", "-o", os.path.join(a.work, "m_c")]):
        p = subprocess.run([a.onnxc, "compile", first, "--fp-mode", "bf16"] + flags, capture_output=True, timeout=300)
        err = p.stderr.decode(errors="replace")
        check("compile %s --fp-mode bf16 is refused naming AVX512-BF16" % " ".join(flags[:2]),
              p.returncode != 0 and "AVX512-BF16" in err, err[-400:])
    p = subprocess.run([a.onnxc, "run", first, "--fp-mode", "fp16"], capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    check("--fp-mode fp16 is refused naming the modes", p.returncode == 2 and "fp32 or bf16" in err, err)
    return summary("bf16")


if __name__ == "__main__":
    sys.exit(main())
