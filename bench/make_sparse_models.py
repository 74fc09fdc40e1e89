#!/usr/bin/python3
"""Writes pruned copies of a model for the sparse kernels' tests and benchmarks (fixed seed):
the constant rank-2 weights of MatMul/Gemm (input 1) are magnitude-pruned per layer, with
  u90   90% unstructured
  b80   80% in blocks of 1x16 (one k, 16 consecutive output columns n)
  nm24  2:4 along K (the two largest of every 4 consecutive k of a column are kept)
The weights are first jittered by a fixed-seed noise so that ties do not decide.
usage: make_sparse_models.py MODEL_DIR OUT_DIR [KIND...]   (writes OUT_DIR/<name>_<kind>/)"""
import os, shutil, sys
import numpy as np
import onnx
from onnx import numpy_helper


def logical(w, trans_b):  # the (K, N) view
    return w.T if trans_b else w


def prune(b, kind):
    k, n = b.shape
    a = np.abs(b)
    if kind == "u90":
        thr = np.quantile(a, 0.9)
        return np.where(a > thr, b, 0)
    if kind == "b80":
        nb = (n + 15) // 16
        pad = np.zeros((k, nb * 16), b.dtype)
        pad[:, :n] = a
        score = np.linalg.norm(pad.reshape(k, nb, 16), axis=2)
        thr = np.quantile(score, 0.8)
        keep = np.repeat(score > thr, 16, axis=1)[:, :n]
        return np.where(keep, b, 0)
    if kind == "nm24":
        assert k % 4 == 0
        g = a.reshape(k // 4, 4, n)
        order = np.argsort(g, axis=1)
        keep = np.zeros_like(g, dtype=bool)
        np.put_along_axis(keep, order[:, 2:, :], True, axis=1)
        return np.where(keep.reshape(k, n), b, 0)
    raise SystemExit(f"unknown kind {kind}")


def main():
    src, out = sys.argv[1], sys.argv[2]
    kinds = sys.argv[3:] or ["u90", "b80", "nm24"]
    rng = np.random.default_rng(16)
    m = onnx.load(os.path.join(src, "model.onnx"))
    inits = {t.name: t for t in m.graph.initializer}
    targets = []
    for node in m.graph.node:
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2 or node.input[1] not in inits:
            continue
        t = inits[node.input[1]]
        if len(t.dims) != 2 or t.data_type != onnx.TensorProto.FLOAT:
            continue
        tb = node.op_type == "Gemm" and any(at.name == "transB" and at.i for at in node.attribute)
        targets.append((t.name, tb))
    base = {name: numpy_helper.to_array(inits[name]).copy() for name, _ in targets}
    for kind in kinds:
        for name, tb in targets:
            w = base[name]
            jitter = 1 + 1e-6 * rng.standard_normal(w.shape).astype(np.float32)
            b = logical(w * jitter, tb)
            p = prune(b, kind)
            p = np.where(p != 0, logical(w, tb), 0).astype(np.float32)
            inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(logical(p, tb)), name))
        d = os.path.join(out, os.path.basename(os.path.normpath(src)) + "_" + kind)
        os.makedirs(d, exist_ok=True)
        onnx.save(m, os.path.join(d, "model.onnx"))
        for f in os.listdir(src):
            if f.startswith("input_") and f.endswith(".npy"):
                shutil.copy(os.path.join(src, f), d)
        print(d, len(targets), "weights pruned")


if __name__ == "__main__":
    main()
