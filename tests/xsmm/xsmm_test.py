#!/usr/bin/python3
"""xsmm_test.py — `--gemm libxsmm` (ISSUE14 Deliver 4): small models whose fp32 GEMMs take
libxsmm's kernels (a MatMul on a constant weight with a fused bias and Relu, a Gemm with transB,
alpha, beta and a bias row, a batched MatMul of two run-time operands, a 1x1 convolution with
a residual Add, odd sizes for the edge tiles) agree with `--gemm own` and with numpy within fp32
tolerance, the generated code calls libxsmm (onnxc_xsmm_sgemm in --dump-llvm's module) and
`--gemm own` does not; a bad provider name is refused with a message.

  xsmm_test.py --onnxc build/onnxc --work DIR
Ends with 'xsmm: N passed, N failed'."""
import os
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


def main():
    a = work_args()
    for name, nodes, inputs, outputs, inits, refs in models():
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
    p = subprocess.run([a.onnxc, "run", "x.onnx", "--gemm", "mkl"], capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    check("--gemm mkl is refused naming the providers", p.returncode != 0 and "own or libxsmm" in err, err)
    return summary("xsmm")


if __name__ == "__main__":
    sys.exit(main())
