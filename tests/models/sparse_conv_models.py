#!/usr/bin/python3
"""sparse_conv_models.py — a small CNN whose Conv weights are mostly zero, so that onnxc's sparse
conv kernels (backend/gen/gen_sparse_conv.c) run on it: a 1×1 conv (64→128, 95% zeros, bias, Relu),
a 3×3 padded conv (128→64, 95% zeros, Relu) with a residual Add of the input, and a 1×1 conv
(64→64, 90% zeros) on 13×13 pixels (not a multiple of the vector width: the masked chunks).
Writes OUT/model.onnx, OUT/input_0.npy and OUT/expected_0.npy (numpy's float64 convolution, cast
to float32).  Used by tests/aot/aot_test.py (AOT, aarch64 under qemu) and tests/cemit/cemit_test.py.

  sparse_conv_models.py OUT
"""
import os, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto


def sparse_weight(rng, shape, zeros):
    w = rng.standard_normal(shape).astype(np.float32) * np.float32(1.0 / np.sqrt(np.prod(shape[1:]) * (1 - zeros)))
    w[rng.random(shape) < zeros] = 0
    return w


def conv(x, w, b, pad):
    """float64 NCHW convolution, stride 1"""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("oc,nchw->nohw", w[:, :, i, j].astype(np.float64), xp[:, :, i:i + oh, j:j + ow])
    return y + (b.astype(np.float64)[None, :, None, None] if b is not None else 0)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(16)
    H = 13
    w1, b1 = sparse_weight(rng, (128, 64, 1, 1), 0.95), rng.standard_normal(128).astype(np.float32)
    w2, b2 = sparse_weight(rng, (64, 128, 3, 3), 0.95), rng.standard_normal(64).astype(np.float32)
    w3 = sparse_weight(rng, (64, 64, 1, 1), 0.9)
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"), (w3, "w3"))]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Add", ["r2", "x"], ["a2"]),
        helper.make_node("Conv", ["a2", "w3"], ["y"]),
    ]
    g = helper.make_graph(nodes, "sparse_conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, H, H])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64, H, H])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(out, "model.onnx"))
    x = rng.standard_normal((1, 64, H, H)).astype(np.float32)
    r1 = np.maximum(conv(x, w1, b1, 0), 0)
    a2 = np.maximum(conv(r1, w2, b2, 1), 0) + x
    np.save(os.path.join(out, "input_0.npy"), x)
    np.save(os.path.join(out, "expected_0.npy"), conv(a2, w3, None, 0).astype(np.float32))


if __name__ == "__main__":
    main()
