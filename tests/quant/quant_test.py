#!/usr/bin/python3
"""quant_test.py — int8 quantization through the CLI (lib/quantize.c, tools/quantize.c,
tools/samples.c): `onnxc quantize` writes a QDQ model (static, three calibration methods) and a
dynamic one that the `onnx` checker accepts and ONNX Runtime runs (bench/ort/run_ort.js), with
outputs close to onnxc's run of the same file and to the float model; --report prints cosine
similarities; --keep-float leaves nodes (by type, name, or the depthwise / squeeze-excite classes) in
float; --quantize on run/bench/compile; bad sample folders and option combinations give clear errors.

  quant_test.py --onnxc build/onnxc [--api build/tests/quant/quant_api] --work DIR
Ends with 'quant: N passed, N failed'."""
import argparse
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))
from checks import check, summary  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_ORT = os.path.join(ROOT, "bench", "ort", "run_ort.js")


def conv_model(path, rng):
    """x[1,3,16,16] -> Conv 3x3 -> Relu -> (+ Conv 1x1 of it: a residual Add) -> Conv 3x3 /2 -> Relu -> GAP
    -> Flatten -> Gemm(transB) -> y[1,10]"""
    def w(*s):
        return (rng.standard_normal(s) * 0.3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w1b"], ["c1b"], name="conv1b"),
             helper.make_node("Add", ["c1b", "r1"], ["a1"], name="residual"),
             helper.make_node("Conv", ["a1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv2"),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("GlobalAveragePool", ["r2"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1, name="fc")]
    inits = [numpy_helper.from_array(a, n) for n, a in
             [("w1", w(8, 3, 3, 3)), ("b1", w(8)), ("w1b", w(8, 8, 1, 1)), ("w2", w(16, 8, 3, 3)), ("b2", w(16)), ("w3", w(10, 16)),
              ("b3", w(10))]]
    g = helper.make_graph(nodes, "small_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def stem_model(path, rng):
    """ResNet's stem: x[1,3,24,24] -> Conv 7x7 /2 -> Relu -> MaxPool 3x3 /2 -> Conv 3x3 /2 -> Relu -> GAP -> Flatten
    -> Gemm -> y[1,10]; `onnxc quantize` puts no Q between the Relu and the MaxPool"""
    def w(*s):
        return (rng.standard_normal(s) * 0.3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[3, 3, 3, 3], strides=[2, 2], name="stem"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("MaxPool", ["r1"], ["m1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], name="pool"),
             helper.make_node("Conv", ["m1", "w2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv2"),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("GlobalAveragePool", ["r2"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w3"], ["y"], transB=1, name="fc")]
    inits = [numpy_helper.from_array(a, n) for n, a in [("w1", w(8, 3, 7, 7) * 0.4), ("b1", w(8)), ("w2", w(16, 8, 3, 3)),
                                                         ("w3", w(10, 16))]]
    g = helper.make_graph(nodes, "stem", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 24, 24])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def mlp_model(path, rng):
    """two inputs a[4,32], b[4,32]: MatMul(a, W1) + Gemm(b, W2, C, alpha .5, beta 2) -> Relu(sum)"""
    def w(*s):
        return (rng.standard_normal(s) * 0.2).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["a", "w1"], ["m"], name="mm"),
             helper.make_node("Gemm", ["b", "w2", "c2"], ["g"], alpha=0.5, beta=2.0, transB=1, name="gemm"),
             helper.make_node("Add", ["m", "g"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["y"], name="relu")]
    inits = [numpy_helper.from_array(w(32, 24), "w1"), numpy_helper.from_array(w(24, 32), "w2"),
             numpy_helper.from_array(w(24), "c2")]
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [4, 32]) for n in ("a", "b")]
    g = helper.make_graph(nodes, "mlp2", ins, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 24])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def fragile_model(path, rng):
    """x[1,4,8,8] -> Conv 3x3 "fragile" -> Relu -> Conv 1x1 "sturdy" -> y[1,8,8,8].  Each output channel of
    the fragile weight has one huge element on input channel 3, which the samples keep at zero: per-channel
    int8 scales sized by it round every weight that matters to 0, so quantizing that layer alone ruins y,
    while the sturdy layer alone costs one quantization step"""
    wf = (rng.standard_normal((8, 4, 3, 3)) * 0.1).astype(np.float32)
    wf[:, 3, 1, 1] = 500.0
    nodes = [helper.make_node("Conv", ["x", "wf"], ["c1"], pads=[1, 1, 1, 1], name="fragile"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
             helper.make_node("Conv", ["r1", "ws"], ["y"], name="sturdy")]
    inits = [numpy_helper.from_array(wf, "wf"),
             numpy_helper.from_array((rng.standard_normal((8, 8, 1, 1)) * 0.3).astype(np.float32), "ws")]
    g = helper.make_graph(nodes, "fragile", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def test_sensitivity(t, rng):
    """--sensitivity ranks the layers by the output change each causes alone; --keep-sensitive N
    leaves the N worst in float"""
    model = os.path.join(t.work, "fragile.onnx")
    fragile_model(model, rng)
    cal = os.path.join(t.work, "cal_fragile")
    samples(cal, 5, {"x": (1, 4, 8, 8)}, rng)
    for k in range(5):
        f = os.path.join(cal, "s%d" % k, "x.npy")
        x = np.load(f)
        x[:, 3] = 0
        np.save(f, x)
    q = os.path.join(t.work, "q_fragile.onnx")
    rc, so, se = t.cli("quantize", model, "-o", q, "--calibrate", cal, "--sensitivity")
    m = re.findall(r"^\s+Conv\s+(\w+)\s+cosine ([0-9.]+)", so.split("most sensitive layers")[-1], re.M)
    check("quantize --sensitivity: both layers measured, the fragile one first (%s)" % m,
          rc == 0 and "most sensitive layers" in so and len(m) >= 2 and m[0][0] == "fragile" and
          float(m[0][1]) < 0.9 and m[1][0] == "sturdy" and float(m[1][1]) > 0.99, so + se)
    rc, so, se = t.cli("quantize", model, "-o", q, "--calibrate", cal, "--keep-sensitive", "1")
    kinds, mp = ops(q) if rc == 0 else ([], None)
    inits = {i.name for i in mp.graph.initializer} if mp else set()
    check("quantize --keep-sensitive 1: the fragile layer stays float, the sturdy one is quantized",
          rc == 0 and "quantized 1 node" in so and "wf" in inits and "ws_quantized" in inits and
          "kept float (--keep-sensitive): Conv fragile" in so, so + se)
    x = os.path.join(cal, "s4", "x.npy")
    want, _ = t.run(model, [x])
    got, se = t.run(q, [x])
    check("quantize --keep-sensitive 1: int8 vs float cosine >= 0.99",
          want is not None and got is not None and cosine(want, got) >= 0.99, se)
    rc, so, se = t.cli("quantize", model, "-o", q, "--quantize", "int8-dynamic", "--keep-sensitive", "1")
    check("quantize --quantize int8-dynamic --keep-sensitive -> exit 2", rc == 2 and "takes no calibration" in se, se)
    rc, so, se = t.cli("quantize", model, "-o", q, "--calibrate", cal, "--keep-sensitive", "-1")
    check("quantize --keep-sensitive -1 -> bad value", rc != 0 and "--keep-sensitive" in se, se)


def mobile_model(path, rng):
    """x[1,8,8,8] -> Conv 1x1 "pw1" -> HardSwish -> depthwise Conv 3x3 "dw" -> HardSwish -> a squeeze-and-excitation
    block (GlobalAveragePool -> Conv "se1" -> Relu -> Conv "se2" -> HardSigmoid -> Mul) -> Conv 1x1 "pw2" -> grouped
    (not depthwise: 4 input channels per group) Conv 3x3 "grp" -> y[1,8,8,8]"""
    def w(*s):
        return (rng.standard_normal(s) * 0.3).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w_pw1"], ["c1"], name="pw1"),
             helper.make_node("HardSwish", ["c1"], ["h1"], name="hs1"),
             helper.make_node("Conv", ["h1", "w_dw"], ["c2"], group=16, pads=[1, 1, 1, 1], name="dw"),
             helper.make_node("HardSwish", ["c2"], ["h2"], name="hs2"),
             helper.make_node("GlobalAveragePool", ["h2"], ["p"], name="gap"),
             helper.make_node("Conv", ["p", "w_se1"], ["s1"], name="se1"),
             helper.make_node("Relu", ["s1"], ["r1"], name="se_relu"),
             helper.make_node("Conv", ["r1", "w_se2"], ["s2"], name="se2"),
             helper.make_node("HardSigmoid", ["s2"], ["g"], name="se_gate"),
             helper.make_node("Mul", ["h2", "g"], ["m"], name="se_mul"),
             helper.make_node("Conv", ["m", "w_pw2"], ["c3"], name="pw2"),
             helper.make_node("Conv", ["c3", "w_grp"], ["y"], group=2, pads=[1, 1, 1, 1], name="grp")]
    inits = [numpy_helper.from_array(a, n) for n, a in
             [("w_pw1", w(16, 8, 1, 1)), ("w_dw", w(16, 1, 3, 3)), ("w_se1", w(4, 16, 1, 1)), ("w_se2", w(16, 4, 1, 1)),
              ("w_pw2", w(8, 16, 1, 1)), ("w_grp", w(8, 4, 3, 3))]]
    g = helper.make_graph(nodes, "mobile", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), path)


def test_keep_classes(t, rng):
    """--keep-float depthwise / squeeze-excite leave those Convs in float (by structure, not by name); the grouped
    Conv with 4 input channels per group and the 1x1 Convs stay quantized"""
    model, cal, x = model_and_samples(t, rng, "mobile.onnx", mobile_model, "cal_mobile", 6, (1, 8, 8, 8))
    want, _ = t.run(model, [x])
    for keep, floats in ((["depthwise"], ["dw"]), (["depthwise", "squeeze-excite"], ["dw", "se1", "se2"]),
                         (["squeeze-excite"], ["se1", "se2"])):
        q = os.path.join(t.work, "q_mobile.onnx")
        flags = sum((["--keep-float", k] for k in keep), [])
        rc, so, se = t.cli("quantize", model, "-o", q, "--calibrate", cal, *flags)
        kinds, mp = ops(q) if rc == 0 else ([], None)
        inits = {i.name for i in mp.graph.initializer} if mp else set()
        quantized = [n for n in ("pw1", "dw", "se1", "se2", "pw2", "grp") if "w_%s_quantized" % n in inits]
        want_q = [n for n in ("pw1", "dw", "se1", "se2", "pw2", "grp") if n not in floats]
        check("quantize --keep-float %s: %s float, %s quantized (got %s quantized)" % (" ".join(keep), floats, want_q, quantized),
              rc == 0 and quantized == want_q and all("w_" + n in inits for n in floats) and
              "quantized %d node" % len(want_q) in so, so + se)
        got, se = t.run(q, [x])
        ref = t.ort(q, [x])
        check("quantize --keep-float %s: onnxc and ORT run the file" % " ".join(keep), got is not None and ref is not None, se)
        if got is not None and ref is not None and want is not None:
            check("quantize --keep-float %s: onnxc vs ORT cosine %.6f >= 0.999, vs float %.4f >= 0.99" %
                  (" ".join(keep), cosine(ref, got), cosine(want, got)), cosine(ref, got) >= 0.999 and cosine(want, got) >= 0.99)


class T:
    def __init__(self, onnxc, work):
        self.onnxc, self.work = onnxc, work

    def cli(self, *args):
        p = subprocess.run([self.onnxc] + [str(a) for a in args], capture_output=True, timeout=600)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def run(self, model, ins, *extra):
        out = os.path.join(self.work, "out_onnxc")
        shutil.rmtree(out, ignore_errors=True)
        rc, so, se = self.cli("run", model, *ins, "-o", out, *extra)
        return np.load(os.path.join(out, "output_0.npy")) if rc == 0 else None, se

    def ort(self, model, ins):
        out = os.path.join(self.work, "out_ort")
        shutil.rmtree(out, ignore_errors=True)
        p = subprocess.run(["node", RUN_ORT, model, out] + list(ins), capture_output=True, timeout=300)
        if p.returncode:
            print(p.stderr.decode(errors="replace")[-2000:])
            return None
        return np.load(os.path.join(out, "output_0.npy"))


def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def samples(d, n, shapes, rng, flat=False):
    os.makedirs(d, exist_ok=True)
    for k in range(n):
        for name, shape in shapes.items():
            x = rng.standard_normal(shape).astype(np.float32)
            if flat:
                np.save(os.path.join(d, "%02d.npy" % k), x)
            else:
                os.makedirs(os.path.join(d, "s%d" % k), exist_ok=True)
                np.save(os.path.join(d, "s%d" % k, name + ".npy"), x)


def ops(path):
    m = onnx.load(path)
    return [n.op_type for n in m.graph.node], m


def model_and_samples(t, rng, name, make, cal_name, n, shape):
    """make(model path) writes the model; n samples of x in t.work/cal_name; the last one is returned"""
    model = os.path.join(t.work, name)
    make(model, rng)
    cal = os.path.join(t.work, cal_name)
    samples(cal, n, {"x": shape}, rng)
    return model, cal, os.path.join(cal, "s%d" % (n - 1), "x.npy")


def test_static(t, rng):
    model, cal, x = model_and_samples(t, rng, "small.onnx", conv_model, "cal", 10, (1, 3, 16, 16))
    want, _ = t.run(model, [x])
    for method in ("minmax", "percentile", "entropy"):
        q = os.path.join(t.work, "q_%s.onnx" % method)
        rc, so, se = t.cli("quantize", model, "-o", q, "--calibrate", cal, "--method", method, "--report")
        check("quantize --method %s exits 0" % method, rc == 0, se)
        if rc:
            continue
        check("quantize %s: summary line" % method, "quantized 5 nodes" in so, so)
        m = re.search(r"output\s+y\s+cosine ([0-9.]+)", so)
        check("quantize %s --report: output cosine printed and >= 0.99" % method, m and float(m.group(1)) >= 0.99, so)
        check("quantize %s --report: held-out samples and worst layers" % method,
              "2 held-out samples" in so and "worst layers" in so and "conv" in so, so)
        kinds, mp = ops(q)
        try:
            onnx.checker.check_model(mp)
            ok = True
        except Exception as e:  # noqa: BLE001
            ok, so = False, str(e)
        check("quantize %s: onnx checker accepts the file" % method, ok, so)
        # activations x, r1 (conv1b and the Add share it), c1b, a1, f; weights w1, w1b, w2, w3
        check("quantize %s: Q/DQ around the four contractions and the residual Add" % method,
              kinds.count("QuantizeLinear") == 5 and kinds.count("DequantizeLinear") == 9, kinds)
        inits = {i.name: i for i in mp.graph.initializer}
        w1 = inits.get("w1_quantized")
        dq = [n for n in mp.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == "w1_quantized"]
        check("quantize %s: int8 per-channel conv weight (axis 0, 8 scales)" % method,
              w1 is not None and w1.data_type == TensorProto.INT8 and list(inits["w1_scale"].dims) == [8] and
              dq and any(a.name == "axis" and a.i == 0 for a in dq[0].attribute), str(w1 and w1.dims))
        check("quantize %s: the float weights are gone" % method, "w1" not in inits and "w2" not in inits)
        got, se = t.run(q, [x])
        ref = t.ort(q, [x])
        check("quantize %s: onnxc runs the QDQ file" % method, got is not None, se)
        check("quantize %s: ONNX Runtime runs the QDQ file" % method, ref is not None)
        if got is not None and ref is not None:
            c = cosine(ref, got)
            check("quantize %s: onnxc vs ORT on the QDQ file: cosine %.6f >= 0.999" % (method, c), c >= 0.999)
            c, floor = cosine(want, got), 0.99
            check("quantize %s: int8 vs float: cosine %.6f >= %g" % (method, c, floor), c >= floor)
        rc, so, se = t.cli("dump", q, "--after", "shapes")
        check("quantize %s: the qdq pass makes the QDQ Gemm one int8 QMatMul" % method,
              rc == 0 and so.count("= QMatMul(") == 1 and "= Gemm(" not in so, so[-3000:] + se)
    # --keep-float by op type and node name
    q = os.path.join(t.work, "q_keep.onnx")
    rc, so, se = t.cli("quantize", model, "-o", q, "--calibrate", cal, "--keep-float", "Gemm", "--keep-float", "conv2",
                       "--keep-float", "Add", "--keep-float", "conv1b")
    kinds, mp = ops(q) if rc == 0 else ([], None)
    check("quantize --keep-float Gemm, Add, conv2, conv1b: one node quantized",
          rc == 0 and "quantized 1 node" in so and kinds.count("QuantizeLinear") == 1, so + se)
    # s8 activations, per-tensor weights
    q = os.path.join(t.work, "q_s8.onnx")
    rc, so, se = t.cli("quantize", model, "-o", q, "--calibrate", cal, "--activations", "s8", "--per-tensor")
    if check("quantize --activations s8 --per-tensor exits 0", rc == 0, se):
        mp = onnx.load(q)
        inits = {i.name: i for i in mp.graph.initializer}
        check("s8: int8 zero points, scalar weight scales",
              inits["x_zero_point"].data_type == TensorProto.INT8 and list(inits["w1_scale"].dims) == [], "")
        ref, (got, _) = t.ort(q, [x]), t.run(q, [x])
        check("s8: ORT and onnxc agree", ref is not None and got is not None and cosine(ref, got) >= 0.999)
    # one step: --quantize on run, bench, compile
    got, se = t.run(model, [x], "--quantize", "int8", "--calibrate", cal)
    check("run --quantize int8 --calibrate: close to float", got is not None and cosine(want, got) >= 0.99, se)
    rc, so, se = t.cli("bench", model, x, "--runs", "2", "--warmup", "0", "--quantize", "int8", "--calibrate", cal)
    check("bench --quantize int8 --calibrate runs", rc == 0 and "median" in so, se)
    lib = os.path.join(t.work, "libsmallq.so")
    rc, so, se = t.cli("compile", model, "-o", lib, "--quantize", "int8", "--calibrate", cal, "-q")
    check("compile --quantize int8 --calibrate writes a library", rc == 0 and os.path.exists(lib), se)
    return model, cal, x


def test_stem(t, rng):
    """Conv -> Relu -> MaxPool -> Q: an int8 QConv, then the MaxPool on its 8-bit output (no float conv left)"""
    model, cal, x = model_and_samples(t, rng, "stem.onnx", stem_model, "cal_stem", 6, (1, 3, 24, 24))
    q = os.path.join(t.work, "q_stem.onnx")
    rc, so, se = t.cli("quantize", model, "-o", q, "--calibrate", cal)
    if not check("quantize the stem model exits 0", rc == 0, se):
        return
    rc, so, se = t.cli("dump", q, "--after", "shapes")
    lines = [ln for ln in so.splitlines() if "= " in ln]
    stem = [ln for ln in lines if ln.strip().startswith("%") and "# stem_int8" in ln]
    pool = [ln for ln in lines if "= MaxPool(" in ln]
    check("stem: Conv -> Relu -> MaxPool -> Q is a QConv with uint8 output",
          rc == 0 and len(stem) == 1 and "uint8[1x8x12x12] = QConv(" in stem[0], so + se)
    check("stem: the MaxPool pools the QConv's uint8 output",
          len(pool) == 1 and "uint8[1x8x6x6] = MaxPool(" in pool[0] and "stem_int8_out" in pool[0], so)
    check("stem: the stem is no float Conv", not any("= Conv(" in ln and ln.rstrip().endswith("# stem") for ln in lines), so)
    got, se = t.run(q, [x])
    ref = t.ort(q, [x])
    check("stem: onnxc and ORT run the QDQ file", got is not None and ref is not None, se)
    if got is not None and ref is not None:
        c = cosine(ref, got)
        check("stem: onnxc vs ORT on the QDQ file: cosine %.6f >= 0.999" % c, c >= 0.999)


def test_dynamic(t, rng):
    model = os.path.join(t.work, "mlp2.onnx")
    mlp_model(model, rng)
    a, b = os.path.join(t.work, "a.npy"), os.path.join(t.work, "b.npy")
    np.save(a, rng.standard_normal((4, 32)).astype(np.float32))
    np.save(b, rng.standard_normal((4, 32)).astype(np.float32))
    want, _ = t.run(model, [a, b])
    q = os.path.join(t.work, "d.onnx")
    rc, so, se = t.cli("quantize", model, "-o", q, "--quantize", "int8-dynamic")
    check("quantize --quantize int8-dynamic exits 0 without samples", rc == 0 and "quantized 2 nodes" in so, so + se)
    if rc:
        return
    kinds, mp = ops(q)
    check("dynamic: DynamicQuantizeLinear + MatMulInteger, no float MatMul/Gemm left",
          kinds.count("DynamicQuantizeLinear") == 2 and kinds.count("MatMulInteger") == 2 and
          "MatMul" not in kinds and "Gemm" not in kinds, kinds)
    onnx.checker.check_model(mp)
    got, se = t.run(q, [a, b])
    ref = t.ort(q, [a, b])
    check("dynamic: onnxc and ORT run it", got is not None and ref is not None, se)
    if got is not None and ref is not None:
        check("dynamic: onnxc vs ORT cosine %.6f >= 0.999" % cosine(ref, got), cosine(ref, got) >= 0.999)
        check("dynamic: vs float cosine %.6f >= 0.99" % cosine(want, got), cosine(want, got) >= 0.99)
    rc, so, se = t.cli("dump", q, "--after", "shapes")
    check("dynamic: each DynamicQuantizeLinear, MatMulInteger, Cast, Mul (+ Add) chain is one int8 QMatMul",
          rc == 0 and so.count("= QMatMul(") == 2 and "= MatMulInteger(" not in so and "= Cast(" not in so, so[-3000:] + se)
    got, se = t.run(model, [a, b], "--quantize", "int8-dynamic")
    check("run --quantize int8-dynamic: close to float", got is not None and cosine(want, got) >= 0.99, se)
    # a flat folder is for one-input models only
    flat = os.path.join(t.work, "flat2")
    samples(flat, 2, {"a": (4, 32)}, rng, flat=True)
    rc, so, se = t.cli("quantize", model, "-o", q, "--calibrate", flat)
    check("flat folder for a two-input model: exit 1, says to use sample folders",
          rc == 1 and "has 2 inputs" in se and "DIR/s0/NAME.npy" in se, se)


def test_errors(t, model, cal, x, rng):
    out = os.path.join(t.work, "bad.onnx")
    w = t.work

    def bad(name, d, want, code=1, *extra):
        rc, so, se = t.cli("quantize", model, "-o", out, "--calibrate", d, *extra)
        check("bad samples: %s -> exit %d, '%s'" % (name, code, want), rc == code and want in se, "rc %d: %s" % (rc, se))

    bad("missing folder", os.path.join(w, "nope"), "samples folder not found")
    bad("a file, not a folder", x, "not a folder")
    os.makedirs(os.path.join(w, "empty"), exist_ok=True)
    bad("empty folder", os.path.join(w, "empty"), "no samples")
    # one sample folder s0 holding one file (or none): (folder, file, shape, dtype, error)
    for folder, name, shape, dtype, want in [
            ("wrongname", "image.npy", (1, 3, 16, 16), np.float32, "no model input is called that (expected x.npy"),
            ("wrongshape", "x.npy", (1, 3, 8, 8), np.float32, "has shape 1x3x8x8, expected 1x3x16x16"),
            ("wrongtype", "x.npy", (1, 3, 16, 16), np.float64, "is float32 in the model, the file holds float64"),
            ("missing", None, None, None, "no file for input 'x'")]:
        d = os.path.join(w, folder, "s0")
        os.makedirs(d, exist_ok=True)
        if name:
            np.save(os.path.join(d, name), np.zeros(shape, dtype))
        bad(folder, os.path.dirname(d), want)
    d = os.path.join(w, "notnpy")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "x.npy"), "w") as f:
        f.write("not numpy")
    bad("not a .npy file", d, "not a .npy file")
    mixed = os.path.join(w, "mixed")
    shutil.rmtree(mixed, ignore_errors=True)
    shutil.copytree(cal, mixed)
    np.save(os.path.join(mixed, "stray.npy"), np.zeros((1, 3, 16, 16), np.float32))
    bad("sample folders and .npy files mixed", mixed, "holds both sample folders and .npy files")
    flat = os.path.join(w, "flat")
    samples(flat, 3, {"x": (1, 3, 16, 16)}, rng, flat=True)
    rc, so, se = t.cli("quantize", model, "-o", out, "--calibrate", flat)
    check("a flat folder of .npy files works for a one-input model", rc == 0, se)
    # usage
    for args, want in [(["--calibrate", cal, "--method", "median"], "minmax, percentile or entropy"),
                       ([], "needs --calibrate DIR"),
                       (["--quantize", "int8-dynamic", "--calibrate", cal], "takes no calibration"),
                       (["--calibrate", cal, "--percentile", "100"], "in (0, 100)"),
                       (["--calibrate", cal, "--eval", cal], "--eval DIR is for --report")]:
        rc, so, se = t.cli("quantize", model, "-o", out, *args)
        check("usage %s -> exit 2" % " ".join(args[-2:]), rc == 2 and want in se, "rc %d: %s" % (rc, se))
    rc, so, se = t.cli("run", model, x, "--calibrate", cal)
    check("run --calibrate without --quantize -> exit 2", rc == 2 and "need --quantize" in se, se)
    rc, so, se = t.cli("quantize", "--help")
    check("quantize --help", rc == 0 and "--calibrate DIR" in so and "entropy" in so, se)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--api", help="quant_api (tests/quant/quant_api.c), run on the small CNN")
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    t = T(os.path.abspath(a.onnxc), a.work)
    rng = np.random.default_rng(15)
    model, cal, x = test_static(t, rng)
    if a.api:
        p = subprocess.run([a.api, model], capture_output=True, timeout=300)
        print(p.stdout.decode(errors="replace"), end="")
        check("quant_api: the library's quantization block", p.returncode == 0, p.stderr.decode(errors="replace"))
    test_dynamic(t, rng)
    test_stem(t, rng)
    test_sensitivity(t, np.random.default_rng(151))  # its own stream: the later tests keep theirs
    test_keep_classes(t, np.random.default_rng(152))
    test_errors(t, model, cal, x, rng)
    return summary("quant")


if __name__ == "__main__":
    sys.exit(main())
