#!/usr/bin/python3
"""A Silero-VAD-like model for control flow: the whole body is an If on an int64 `sr` input
(16000 vs 8000), whose branches do different Conv/MatMul work on weights and inputs captured from
the main graph; the 16 kHz branch runs a recurrent Loop (20 steps, more than onnxc unrolls) whose
body captures a weight two levels up, the 8 kHz branch a short Loop (unrolled).  Built with
onnx.helper, run with `onnxc run` for both sample rates, compared with a numpy reference.

usage: control_models.py --onnxc PATH [--out DIR]"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

L = 64     # samples per chunk
H = 8      # state width
STEPS16 = 20
STEPS8 = 3


def weights():
    r = np.random.default_rng(7)
    f = lambda *s: (r.standard_normal(s) * 0.3).astype(np.float32)
    return {"w16": f(4, 1, 5), "b16": f(4), "w8": f(4, 1, 3), "b8": f(4),
            "p16": f(4 * 32, H), "p8": f(4 * 31, H), "u": f(H, H), "v": f(H, H)}


def loop_body(name, steps_input, weight, act):
    """body(i, cond, h) -> (cond, act(h @ weight + x_proj)), weight and x_proj captured"""
    return helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("MatMul", ["h_in", weight], [name + "_hw"]),
         helper.make_node("Add", [name + "_hw", name + "_proj"], [name + "_pre"]),
         helper.make_node(act, [name + "_pre"], ["h_out"])],
        name + "_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_in", TensorProto.FLOAT, [1, H])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, H])])


def branch(tag, w, b, stride, pad, proj, steps, weight, act):
    """Conv1d -> Relu -> Flatten -> MatMul (input projection) -> Loop over the state"""
    n = [helper.make_node("Conv", ["x", w, b], [tag + "_conv"], strides=[stride], pads=[pad, pad]),
         helper.make_node("Relu", [tag + "_conv"], [tag + "_relu"]),
         helper.make_node("Flatten", [tag + "_relu"], [tag + "_flat"]),
         helper.make_node("MatMul", [tag + "_flat", proj], [tag + "_proj"]),
         helper.make_node("Loop", [tag + "_steps", "", "h"], [tag + "_out"],
                          body=loop_body(tag, tag + "_steps", weight, act))]
    steps_init = helper.make_node("Constant", [], [tag + "_steps"],
                                  value=numpy_helper.from_array(np.array(steps, np.int64)))
    return helper.make_graph([steps_init] + n, tag + "_branch", [],
                             [helper.make_tensor_value_info(tag + "_out", TensorProto.FLOAT, [1, H])])


def build(path):
    ws = weights()
    inits = [numpy_helper.from_array(v, k) for k, v in ws.items()]
    inits.append(numpy_helper.from_array(np.array(16000, np.int64), "sr16k"))
    nodes = [helper.make_node("Equal", ["sr", "sr16k"], ["is16k"]),
             helper.make_node("If", ["is16k"], ["y"],
                              then_branch=branch("a", "w16", "b16", 2, 2, "p16", STEPS16, "u", "Tanh"),
                              else_branch=branch("b", "w8", "b8", 2, 0, "p8", STEPS8, "v", "Sigmoid")),
             helper.make_node("Mul", ["y", "y"], ["y2"])]
    g = helper.make_graph(nodes, "silero_like",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, L]),
                           helper.make_tensor_value_info("sr", TensorProto.INT64, []),
                           helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, H])],
                          [helper.make_tensor_value_info("y2", TensorProto.FLOAT, [1, H])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return ws


def conv1d(x, w, b, stride, pad):
    x = np.pad(x[0], ((0, 0), (pad, pad)))
    co, ci, k = w.shape
    n = (x.shape[1] - k) // stride + 1
    y = np.zeros((co, n), np.float64)
    for o in range(co):
        for t in range(n):
            y[o, t] = np.sum(x[:, t * stride:t * stride + k] * w[o]) + b[o]
    return y[None]


def reference(ws, x, sr, h):
    if sr == 16000:
        c, p, steps, wt, act = conv1d(x, ws["w16"], ws["b16"], 2, 2), ws["p16"], STEPS16, ws["u"], np.tanh
    else:
        c, p, steps, wt, act = conv1d(x, ws["w8"], ws["b8"], 2, 0), ws["p8"], STEPS8, ws["v"], \
            lambda z: 1 / (1 + np.exp(-z))
    proj = np.maximum(c, 0).reshape(1, -1) @ p
    s = h.astype(np.float64)
    for _ in range(steps):
        s = act(s @ wt + proj)
    return (s * s).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="onnxc_control_")
    os.makedirs(out, exist_ok=True)
    model = os.path.join(out, "silero_like.onnx")
    ws = build(model)
    r = np.random.default_rng(1)
    x = r.standard_normal((1, 1, L)).astype(np.float32)
    h = (r.standard_normal((1, H)) * 0.5).astype(np.float32)
    np.save(os.path.join(out, "x.npy"), x)
    np.save(os.path.join(out, "h.npy"), h)
    bad = 0
    results = {}
    for sr in (16000, 8000):
        np.save(os.path.join(out, "sr.npy"), np.array(sr, np.int64))
        od = os.path.join(out, "sr%d" % sr)
        cmd = [a.onnxc, "run", model, "-i", "x=" + os.path.join(out, "x.npy"), "-i",
               "sr=" + os.path.join(out, "sr.npy"), "-i", "h=" + os.path.join(out, "h.npy"), "-o", od]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            print("sr=%d: onnxc failed:\n%s%s" % (sr, p.stdout, p.stderr))
            bad += 1
            continue
        got = np.load(os.path.join(od, "output_0.npy"))
        want = reference(ws, x, sr, h)
        err = np.max(np.abs(got - want) / (1e-3 * np.abs(want) + 1e-5))
        ok = got.shape == want.shape and err <= 1
        print("sr=%d: %s (max error %.3g of tolerance)" % (sr, "ok" if ok else "MISMATCH", err))
        bad += not ok
        results[sr] = got
    if len(results) == 2 and np.allclose(results[16000], results[8000]):
        print("the two sample rates gave the same output: the If did not select")
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
