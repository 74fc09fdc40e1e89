#!/usr/bin/python3
"""qdq_models.py — QDQ int8 models laid out as ONNX Runtime's static quantizer writes them, and a
check that onnxc runs them on its integer kernels.

  qdq_models.py make  --model FLOAT.onnx --input input_0.npy --out DIR   (a QDQ copy of a model:
                      DIR/model.onnx + DIR/input_0.npy, ranges calibrated with ONNX Runtime)
  qdq_models.py small --out DIR                                          (the test net below)
  qdq_models.py check --onnxc build/onnxc --out DIR                      (make the small net, run it)
  qdq_models.py check-model --onnxc build/onnxc --out DIR [--model M --input X | --export NAME]
                      (a QDQ copy of a real net, default torchvision MobileNetV2 from export_models.py:
                      every Conv must become a QConv and every quantized tensor match ORT within a step)
  qdq_models.py check-residual --onnxc build/onnxc --out DIR
                      (residual Adds fused into a QConv's epilogue: bit-identical to the unfused graph)
  qdq_models.py check-tails --onnxc build/onnxc --out DIR
                      (pixel counts leaving 1-4 columns past the last whole vector: every value
                      within a step of the float-emulated graph and ONNX Runtime)
  qdq_models.py check-float-add --onnxc build/onnxc --out DIR
                      (DQ + DQ -> Add -> [Relu] with a float result: one QAdd, bit-identical)

Layout (ORT's QDQ format): every Conv reads DequantizeLinear(QuantizeLinear(x)) with per-tensor u8
activations (asymmetric, range calibrated by running the float model), DequantizeLinear of a
per-channel symmetric int8 weight (axis 0, zero points 0) and of an int32 bias (scale sx·sw); a
Conv's output (or the Relu/Clip right after it) is quantized the same way.  Everything else (Add,
pooling, Gemm) reads the dequantized values in float.

`check` builds a small net (3×3, 1×1, strided, depthwise and grouped convs, Relu/Clip/none after
them, a residual Add), quantizes it with ranges from a numpy forward pass, and requires: onnxc
with the qdq pass matches onnxc without it (the float-emulated reference) and ONNX Runtime (when
bench/ort is installed) within one quantization step of the output, and `onnxc dump` shows the
convs became QConv int8 nodes and the residual Add a QAdd.  Fixed seed."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORT = os.path.join(ROOT, "bench", "ort")


def act_params(lo, hi):
    """per-tensor u8: scale and zero point covering [min(lo, 0), max(hi, 0)]"""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    s = (hi - lo) / 255.0 if hi > lo else 1.0
    zp = int(np.clip(np.round(-lo / s), 0, 255))
    return np.float32(s), np.uint8(zp)


def activation_of(g, conv, consumers):
    """the tensor a Conv's output quantization sits on: the Relu/Clip right after it, or its output"""
    users = consumers.get(conv.output[0], [])
    if len(users) == 1 and users[0].op_type in ("Relu", "Clip"):
        return users[0].output[0]
    return conv.output[0]


def quantized_tensors(g):
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    ts = []
    for n in g.node:
        if n.op_type == "Conv":
            for t in (n.input[0], activation_of(g, n, consumers)):
                if t not in ts:
                    ts.append(t)
    return ts


def qdq(model, ranges):
    """model with Q/DQ pairs on the tensors in ranges and quantized Conv weights/biases"""
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:  # Constant nodes hold Clip's bounds in newer exports
        if n.op_type == "Constant":
            inits.setdefault(n.output[0], numpy_helper.to_array(n.attribute[0].t))
    new_inits, nodes = [], []
    dq_name, params = {}, {}
    for t, (lo, hi) in ranges.items():
        s, zp = act_params(lo, hi)
        params[t] = (s, zp)
        new_inits += [numpy_helper.from_array(np.array(s, np.float32), t + "_scale"),
                      numpy_helper.from_array(np.array(zp, np.uint8), t + "_zp")]
        dq_name[t] = t + "_dq"

    def emit_qdq(t):
        nodes.append(helper.make_node("QuantizeLinear", [t, t + "_scale", t + "_zp"], [t + "_q"], name=t + "_Q"))
        nodes.append(helper.make_node("DequantizeLinear", [t + "_q", t + "_scale", t + "_zp"], [t + "_dq"], name=t + "_DQ"))

    for inp in g.input:
        if inp.name in ranges:
            emit_qdq(inp.name)
    drop = set()
    for n in g.node:
        ins = [dq_name.get(i, i) for i in n.input]
        if n.op_type == "Conv":
            w = inits[n.input[1]].astype(np.float32)
            o = w.shape[0]
            sw = np.abs(w.reshape(o, -1)).max(axis=1) / 127.0
            sw = np.where(sw > 0, sw, 1.0).astype(np.float32)
            wq = np.clip(np.round(w / sw.reshape((o,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
            wn = n.name or n.output[0]
            new_inits += [numpy_helper.from_array(wq, wn + "_wq"), numpy_helper.from_array(sw, wn + "_ws"),
                          numpy_helper.from_array(np.zeros(o, np.int8), wn + "_wz")]
            nodes.append(helper.make_node("DequantizeLinear", [wn + "_wq", wn + "_ws", wn + "_wz"], [wn + "_wdq"], axis=0))
            drop.add(n.input[1])
            ins[1] = wn + "_wdq"
            if len(n.input) > 2 and n.input[2]:
                sx = params[n.input[0]][0]
                sb = (sx * sw).astype(np.float32)
                bq = np.round(inits[n.input[2]].astype(np.float64) / sb).astype(np.int32)
                new_inits += [numpy_helper.from_array(bq, wn + "_bq"), numpy_helper.from_array(sb, wn + "_bs"),
                              numpy_helper.from_array(np.zeros(o, np.int32), wn + "_bz")]
                nodes.append(helper.make_node("DequantizeLinear", [wn + "_bq", wn + "_bs", wn + "_bz"], [wn + "_bdq"], axis=0))
                drop.add(n.input[2])
                ins[2] = wn + "_bdq"
        m = helper.make_node(n.op_type, ins, list(n.output), name=n.name, domain=n.domain)
        m.attribute.extend(n.attribute)
        nodes.append(m)
        for t in n.output:
            if t in ranges:
                emit_qdq(t)
    keep = [i for i in g.initializer if i.name not in drop]
    graph = helper.make_graph(nodes, g.name + "_qdq", list(g.input), list(g.output), keep + new_inits)
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", max(13, model.opset_import[0].version))])
    out.ir_version = model.ir_version
    return out


def ranges_ort(model, x, tensors):
    """min/max of each tensor over one run of ONNX Runtime on x"""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    for t in tensors:
        m.graph.output.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
    with tempfile.TemporaryDirectory() as d:
        onnx.save(m, os.path.join(d, "m.onnx"))
        np.save(os.path.join(d, "x.npy"), x)
        subprocess.run(["node", os.path.join(ORT, "run_ort.js"), os.path.join(d, "m.onnx"), d, os.path.join(d, "x.npy")],
                       check=True, stderr=subprocess.DEVNULL)
        return {t: (np.load(os.path.join(d, "output_%d.npy" % k)).min(), np.load(os.path.join(d, "output_%d.npy" % k)).max())
                for k, t in enumerate(tensors)}


# ---- the small test net, with a numpy forward pass for calibration ----

def conv_np(x, w, b, stride, pad, group):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, o, oh, ow), np.float64)
    og = o // group
    for gi in range(group):
        xs = xp[:, gi * cg:(gi + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
                y[:, gi * og:(gi + 1) * og] += np.einsum("nchw,oc->nohw", patch, w[gi * og:(gi + 1) * og, :, i, j])
    return (y + b.reshape(1, -1, 1, 1)).astype(np.float32)


# (name, out channels, kernel, stride, pad, group, activation)
SMALL = [("c1", 24, 3, 1, 1, 1, "Relu"), ("c2", 32, 1, 1, 0, 1, "Clip"), ("c3", 32, 3, 2, 1, 1, "Relu"),
         ("dw", 32, 3, 1, 1, 32, "Relu"), ("c4", 40, 1, 1, 0, 1, ""), ("c5", 40, 3, 1, 1, 2, "Relu"),
         ("c6", 20, 5, 1, 2, 1, "")]


def small_float(rng):
    """float model: the convs in SMALL, a residual Add of c4 and c5's outputs, global pooling"""
    inits, nodes, c, t = [], [], 5, "x"
    ws = {}
    for name, o, k, s, p, gr, act in SMALL:
        w = (rng.standard_normal((o, c // gr, k, k)) * np.sqrt(2.0 / (c // gr * k * k))).astype(np.float32)
        b = (rng.standard_normal(o) * 0.1).astype(np.float32)
        ws[name] = (w, b)
        inits += [numpy_helper.from_array(w, name + "_w"), numpy_helper.from_array(b, name + "_b")]
        nodes.append(helper.make_node("Conv", [t, name + "_w", name + "_b"], [name], name=name, strides=[s, s],
                                      pads=[p] * 4, group=gr, kernel_shape=[k, k]))
        t = name
        if act == "Relu":
            nodes.append(helper.make_node("Relu", [t], [name + "_a"]))
            t = name + "_a"
        elif act == "Clip":
            inits += [numpy_helper.from_array(np.array(0, np.float32), "lo"), numpy_helper.from_array(np.array(6, np.float32), "hi")]
            nodes.append(helper.make_node("Clip", [t, "lo", "hi"], [name + "_a"]))
            t = name + "_a"
        if name == "c5":
            nodes.append(helper.make_node("Add", [t, "c4"], ["sum"]))
            t = "sum"
        c = o
    nodes.append(helper.make_node("GlobalAveragePool", [t], ["y"]))
    g = helper.make_graph(nodes, "small_qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 19, 17])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 20, 1, 1])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), ws


def small_ranges(ws, x):
    r, t = {"x": (x.min(), x.max())}, x
    for name, o, k, s, p, gr, act in SMALL:
        y = conv_np(t, ws[name][0], ws[name][1], s, p, gr)
        if name == "c4":
            c4 = y
        a = np.maximum(y, 0) if act == "Relu" else np.clip(y, 0, 6) if act == "Clip" else y
        r[name + "_a" if act else name] = (a.min(), a.max())
        t = a + c4 if name == "c5" else a
        if name == "c5":
            r["sum"] = (t.min(), t.max())
    return r


def make_small(out):
    rng = np.random.default_rng(15)
    model, ws = small_float(rng)
    x = rng.standard_normal((2, 5, 19, 17)).astype(np.float32)
    q = qdq(model, small_ranges(ws, x))
    onnx.checker.check_model(q)
    os.makedirs(out, exist_ok=True)
    onnx.save(q, os.path.join(out, "model.onnx"))
    np.save(os.path.join(out, "input_0.npy"), x)
    # the output is dequantized from c6's u8 grid, then averaged: one step is c6's scale
    return float(numpy_helper.to_array(next(i for i in q.graph.initializer if i.name == "c6_scale")))


def run_onnxc(onnxc, model, x, out, extra):
    subprocess.run([onnxc, "run", model, x, "-o", out] + extra, check=True)
    return np.load(os.path.join(out, "output_0.npy"))


def check(args):
    step = make_small(args.out)
    model, x = os.path.join(args.out, "model.onnx"), os.path.join(args.out, "input_0.npy")
    fails = 0
    dump = subprocess.run([args.onnxc, "dump", model, "--after", "plan"], capture_output=True, text=True, check=True).stdout
    nq = dump.count("= QConv(")
    print("int8 conv nodes after the qdq pass: %d of %d; QAdd nodes: %d of 1" % (nq, len(SMALL), dump.count("= QAdd(")))
    if nq != len(SMALL) or "= Conv(" in dump or dump.count("= QAdd(") != 1 or "= Add(" in dump:
        print("FAIL: the QDQ convs did not all become int8 nodes\n" + dump)
        fails += 1
    y = run_onnxc(args.onnxc, model, x, os.path.join(args.out, "int8"), [])
    fails += within_one_step(args, model, x, y, step)
    return 1 if fails else 0


def within_one_step(args, model, x, y, step):
    """failures of y (onnxc's int8 output) against the float-emulated graph and ONNX Runtime (when
    bench/ort is installed): each must be within one quantization step"""
    ref = run_onnxc(args.onnxc, model, x, os.path.join(args.out, "float"), ["--disable-pass", "qdq"])
    refs = [("onnxc --disable-pass qdq", ref)]
    if os.path.isdir(os.path.join(ORT, "node_modules")):
        d = os.path.join(args.out, "ort")
        os.makedirs(d, exist_ok=True)
        subprocess.run(["node", os.path.join(ORT, "run_ort.js"), model, d, x], check=True, stderr=subprocess.DEVNULL)
        refs.append(("ONNX Runtime", np.load(os.path.join(d, "output_0.npy"))))
    fails = 0
    for name, r in refs:
        err = float(np.abs(y - r).max())
        ok = err <= step * 1.001
        print("%s: max |int8 - %s| = %.3g (one step %.3g)" % ("ok" if ok else "FAIL", name, err, step))
        fails += not ok
    return fails


# ---- residual blocks: a QAdd fused into the QConv producing one operand (passes/qdq.c pass_qdq_add) ----

# (name, input, out channels, kernel, pad, activation)
RES = [("c1", "x", 32, 1, 0, "Relu"), ("c2", "c1_a", 32, 3, 1, "Relu"), ("c3", "c2_a", 16, 1, 0, ""),
       ("c4", "r1", 48, 1, 0, ""), ("c5", "r1", 48, 3, 1, "")]


def add_conv(rng, g, name, src, o, k, p, act):
    """a k × k Conv of src to o channels (He-initialized weights, then bias, from rng), and a Relu after
    it when act, appended to g = (inits, nodes, vals, ranges): the output's value and range recorded"""
    inits, nodes, vals, ranges = g
    c = vals[src].shape[1]
    w = (rng.standard_normal((o, c, k, k)) * np.sqrt(2.0 / (c * k * k))).astype(np.float32)
    b = (rng.standard_normal(o) * 0.1).astype(np.float32)
    inits += [numpy_helper.from_array(w, name + "_w"), numpy_helper.from_array(b, name + "_b")]
    nodes.append(helper.make_node("Conv", [src, name + "_w", name + "_b"], [name], name=name, pads=[p] * 4,
                                  kernel_shape=[k, k]))
    y = conv_np(vals[src], w, b, 1, p, 1)
    t = name
    if act:
        nodes.append(helper.make_node("Relu", [t], [name + "_a"]))
        t, y = name + "_a", np.maximum(y, 0)
    vals[t] = y
    ranges[t] = (y.min(), y.max())


def make_residual(out):
    """ResNet's two block ends, as QDQ: r1 = Relu(c3 + x) (the identity residual) and r2 = Relu(c5 +
    c4) (two convs, as a downsample block; the fused 1x1 c4 is the add's second operand, so the
    epilogue must sum in that order); 19 x 17 pixels leave a partial last panel"""
    rng = np.random.default_rng(151)
    shape = (2, 16, 19, 17)
    x = rng.standard_normal(shape).astype(np.float32)
    inits, nodes, vals, ranges = [], [], {"x": x}, {"x": (x.min(), x.max())}
    for name, src, o, k, p, act in RES:
        add_conv(rng, (inits, nodes, vals, ranges), name, src, o, k, p, act)
        if name in ("c3", "c5"):
            a, b_, r = ("c3", "x", "r1") if name == "c3" else ("c5", "c4", "r2")  # c4 (1x1) second: the fused add sums in QAdd(c5, c4)'s order
            nodes += [helper.make_node("Add", [a, b_], ["sum_" + r]), helper.make_node("Relu", ["sum_" + r], [r])]
            vals[r] = np.maximum(vals[a] + vals[b_], 0)
            ranges[r] = (vals[r].min(), vals[r].max())
    nodes.append(helper.make_node("GlobalAveragePool", ["r2"], ["y"]))
    g = helper.make_graph(nodes, "residual_qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 48, 1, 1])], inits)
    q = qdq(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), ranges)
    onnx.checker.check_model(q)
    os.makedirs(out, exist_ok=True)
    onnx.save(q, os.path.join(out, "model.onnx"))
    np.save(os.path.join(out, "input_0.npy"), x)
    return float(act_params(*ranges["r2"])[0])  # the output is r2's u8 grid averaged: one step


def check_residual(args):
    """both residual QAdds fused into a QConv's epilogue (none left after plan; `--disable-pass qadd`
    keeps them), the result bit-identical to the unfused graph at 1 and 2 threads, and within one
    step of the float-emulated graph and ONNX Runtime"""
    step = make_residual(args.out)
    model, x = os.path.join(args.out, "model.onnx"), os.path.join(args.out, "input_0.npy")
    fails = 0
    for extra, want in (([], 0), (["--disable-pass", "qadd"], 2)):
        dump = subprocess.run([args.onnxc, "dump", model, "--after", "plan"] + extra, capture_output=True, text=True,
                              check=True).stdout
        nadd, nfused = dump.count("= QAdd("), dump.count("amin=")
        ok = nadd == want and nfused == 2 - want and dump.count("= QConv(") == len(RES) and "= Add(" not in dump
        print("%s: onnxc dump --after plan %s: %d QAdd nodes, %d QConv with a fused add" %
              ("ok" if ok else "FAIL", " ".join(extra), nadd, nfused))
        fails += not ok
    outs = {}
    for threads in ("1", "2"):
        for extra in ([], ["--disable-pass", "qadd"]):
            key = (threads, bool(extra))
            outs[key] = run_onnxc(args.onnxc, model, x, os.path.join(args.out, "t%s%s" % (threads, "u" if extra else "f")),
                                  ["--threads", threads] + extra)
        same = np.array_equal(outs[(threads, False)], outs[(threads, True)])
        print("%s: %s thread(s): fused == unfused bit for bit" % ("ok" if same else "FAIL", threads))
        fails += not same
    fails += within_one_step(args, model, x, outs[("1", False)], step)
    return 1 if fails else 0


def export_torch(name, out):
    """(model, input) of export_models.py's NAME (torchvision, random seeded weights), exported into out"""
    subprocess.run([sys.executable, os.path.join(HERE, "export_models.py"), out, name], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(out, name, "model.onnx"), os.path.join(out, name, "input_0.npy")


def check_model(args):
    """A real net (default: torchvision MobileNetV2) with Q/DQ around every Conv: every Conv must become
    a QConv (`onnxc dump --after qdq`, also with every QuantizeLinear output made a graph output, the
    probe) and each quantized tensor of the probe must match ONNX Runtime within one step."""
    if not os.path.isdir(os.path.join(ORT, "node_modules")):
        print("FAIL: ONNX Runtime is the reference (bash bench/ort/setup.sh)")
        return 1
    src, xin = (args.model, args.input) if args.model else export_torch(args.export, os.path.join(args.out, "export"))
    fmodel, x = onnx.load(src), np.load(xin)
    q = qdq(fmodel, ranges_ort(fmodel, x, quantized_tensors(fmodel.graph)))
    os.makedirs(args.out, exist_ok=True)
    model, probe, xp = (os.path.join(args.out, f) for f in ("model.onnx", "probe.onnx", "input_0.npy"))
    onnx.save(q, model)
    np.save(xp, x)
    qnames = [n.output[0] for n in q.graph.node if n.op_type == "QuantizeLinear"]
    # the probe's extra outputs carry their inferred shapes: a graph output without one is not a
    # valid model (onnx.checker), and the writer test round-trips every model under build/models
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(q).graph.value_info}
    for t in qnames:
        q.graph.output.append(inferred[t] if t in inferred
                              else helper.make_tensor_value_info(t, TensorProto.UINT8, None))
    onnx.save(q, probe)
    nconv = sum(n.op_type == "Conv" for n in fmodel.graph.node)
    fails = 0
    for m, after in ((model, "qdq"), (probe, "plan")):
        dump = subprocess.run([args.onnxc, "dump", m, "--after", after], capture_output=True, text=True, check=True).stdout
        nq = dump.count("= QConv(")
        print("%s: onnxc dump --after %s: %d of %d convs are QConv int8 nodes" % (os.path.basename(m), after, nq, nconv))
        if nq != nconv or "= Conv(" in dump:
            print("FAIL: not every QDQ conv became an int8 node")
            fails += 1
        if after == "qdq":  # the evidence: one depthwise conv as the pass leaves it
            print("  " + next((l.strip() for l in dump.splitlines() if "= QConv(" in l and "group=1," not in l),
                              "(no grouped QConv)"))
    oc, ort = os.path.join(args.out, "onnxc_out"), os.path.join(args.out, "ort_out")
    os.makedirs(ort, exist_ok=True)
    subprocess.run([args.onnxc, "run", probe, xp, "-o", oc], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["node", os.path.join(ORT, "run_ort.js"), probe, ort, xp], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worst, differ, total = 0, 0, 0
    for k in range(len(q.graph.output)):
        a, b = (np.load(os.path.join(d, "output_%d.npy" % k)) for d in (oc, ort))
        if k == 0:
            cos = float(np.sum(a * b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
            print("graph output (float, after the last int8 conv): max abs diff %.3g, cosine %.7f" %
                  (float(np.abs(a - b).max()), cos))
            continue
        d = np.abs(a.astype(np.int32) - b.astype(np.int32))
        worst, differ, total = max(worst, int(d.max())), differ + int(np.sum(d > 0)), total + d.size
    ok = worst <= 1
    print("%s: %d quantized tensors vs ONNX Runtime: max %d step(s) apart, %d of %d values differ" %
          ("ok" if ok else "FAIL", len(qnames), worst, differ, total))
    return 1 if fails or not ok else 0


# ---- panel tails: the int8 engine's last panel of pixels (gen_gemm.c gemm_emit_q8) ----

# (H, W): pixels per image 49 = 3·16 + 1 (ResNet-50's layer4), 196 = 12·16 + 4 (layer3), 18 = 16 + 2,
# 15 (< one vector), 2, 323 = 20·16 + 3; with 16 i32 lanes the tails of 1-4 columns are remainder
# columns (rows in lanes), the others a masked vector
TAILS = [(7, 7), (14, 14), (3, 6), (5, 3), (1, 2), (19, 17)]


def make_tail(out, h, w):
    """x (2 × 20 × h × w) → 1×1 conv to 40 + Relu (a) → 3×3 conv to 36 + Relu → 1×1 conv to 40,
    + a, Relu (r: the residual QAdd fused into the conv) → 1×1 conv to 5 (y2); outputs a flattened r
    and y2.  40, 36 and 5 output channels leave partial row tiles."""
    rng = np.random.default_rng(1500 + h * 31 + w)
    shape = (2, 20, h, w)
    x = rng.standard_normal(shape).astype(np.float32)
    inits, nodes, vals, ranges = [], [], {"x": x}, {"x": (x.min(), x.max())}
    for name, src, o, k, act in (("c1", "x", 40, 1, True), ("c2", "c1_a", 36, 3, True), ("c3", "c2_a", 40, 1, False),
                                 ("c4", "r", 5, 1, False)):
        add_conv(rng, (inits, nodes, vals, ranges), name, src, o, k, k // 2, act)
        if name == "c3":
            nodes += [helper.make_node("Add", ["c3", "c1_a"], ["sum"]), helper.make_node("Relu", ["sum"], ["r"])]
            vals["r"] = np.maximum(vals["c3"] + vals["c1_a"], 0)
            ranges["r"] = (vals["r"].min(), vals["r"].max())
    nodes += [helper.make_node("Flatten", ["r"], ["y1"]), helper.make_node("Flatten", ["c4"], ["y2"])]
    g = helper.make_graph(nodes, "tail_qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y1", TensorProto.FLOAT, [2, 40 * h * w]),
                           helper.make_tensor_value_info("y2", TensorProto.FLOAT, [2, 5 * h * w])], inits)
    q = qdq(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), ranges)
    onnx.checker.check_model(q)
    os.makedirs(out, exist_ok=True)
    onnx.save(q, os.path.join(out, "model.onnx"))
    np.save(os.path.join(out, "input_0.npy"), x)
    steps = {t: float(act_params(*ranges[t])[0]) for t in ("r", "c4")}
    return steps["r"], steps["c4"]


def check_tails(args):
    """per pixel count in TAILS: every output value of the int8 graph (QConvs with a fused QAdd)
    within one step of the float-emulated graph (`--disable-pass qdq`) and of ONNX Runtime when
    installed, at most 1% of them differing at all, and 1 and 2 threads bit-identical"""
    fails = 0
    for h, w in TAILS:
        d = os.path.join(args.out, "t%dx%d" % (h, w))
        steps = make_tail(d, h, w)
        model, x = os.path.join(d, "model.onnx"), os.path.join(d, "input_0.npy")
        ys = {}
        for key, extra in (("1", ["--threads", "1"]), ("2", ["--threads", "2"]), ("float", ["--disable-pass", "qdq"])):
            o = os.path.join(d, key)
            subprocess.run([args.onnxc, "run", model, x, "-o", o] + extra, check=True, stdout=subprocess.DEVNULL)
            ys[key] = [np.load(os.path.join(o, "output_%d.npy" % k)) for k in range(2)]
        refs = [("onnxc --disable-pass qdq", ys["float"])]
        if os.path.isdir(os.path.join(ORT, "node_modules")):
            o = os.path.join(d, "ort")
            os.makedirs(o, exist_ok=True)
            subprocess.run(["node", os.path.join(ORT, "run_ort.js"), model, o, x], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            refs.append(("ONNX Runtime", [np.load(os.path.join(o, "output_%d.npy" % k)) for k in range(2)]))
        same = all(np.array_equal(a, b) for a, b in zip(ys["1"], ys["2"]))
        print("%s: %d x %d pixels: 1 and 2 threads bit for bit" % ("ok" if same else "FAIL", h, w))
        fails += not same
        for name, r in refs:
            err = max(float(np.abs(a - b).max()) / s for a, b, s in zip(ys["1"], r, steps))
            frac = sum(int(np.sum(a != b)) for a, b in zip(ys["1"], r)) / sum(a.size for a in r)
            ok = err <= 1.001 and frac <= 0.01
            print("%s: %d x %d pixels: max |int8 - %s| = %.3g steps, %.2f%% of values differ" %
                  ("ok" if ok else "FAIL", h, w, name, err, 100 * frac))
            fails += not ok
    return 1 if fails else 0


# ---- the float form of QAdd: DQ(a) + DQ(b) -> [Relu] with no QuantizeLinear after it ----

def make_float_add(out):
    """a (2 x 24 x 7 x 7) and b (1 x 24 x 1 x 7, broadcast), each quantized and dequantized (u8,
    zero points 131 and 7), added; y1 = Relu(sum) (ResNet-50's last block before its float pool) and,
    from a second pair, y2 = the sum without an activation"""
    rng = np.random.default_rng(77)
    xa = (rng.standard_normal((2, 24, 7, 7)) * 3).astype(np.float32)
    xb = (rng.standard_normal((1, 24, 1, 7)) * 2).astype(np.float32)
    inits = [numpy_helper.from_array(np.array(v, t), n) for n, v, t in
             (("sa", 0.047, np.float32), ("za", 131, np.uint8), ("sb", 0.031, np.float32), ("zb", 7, np.uint8))]
    nodes = []
    for x, s, z in (("a", "sa", "za"), ("b", "sb", "zb")):
        nodes.append(helper.make_node("QuantizeLinear", [x, s, z], [x + "_q"]))
        for k in ("1", "2"):
            nodes.append(helper.make_node("DequantizeLinear", [x + "_q", s, z], [x + "_dq" + k]))
    nodes += [helper.make_node("Add", ["a_dq1", "b_dq1"], ["sum1"]), helper.make_node("Relu", ["sum1"], ["y1"]),
              helper.make_node("Add", ["b_dq2", "a_dq2"], ["y2"])]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(v.shape)) for n, v in (("a", xa), ("b", xb))]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 24, 7, 7]) for n in ("y1", "y2")]
    m = helper.make_model(helper.make_graph(nodes, "float_add", vi, outs, inits), opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    os.makedirs(out, exist_ok=True)
    onnx.save(m, os.path.join(out, "model.onnx"))
    np.save(os.path.join(out, "input_0.npy"), xa)
    np.save(os.path.join(out, "input_1.npy"), xb)


def check_float_add(args):
    """both Adds (one with its Relu) become QAdd's float form (`onnxc dump --after plan`: two QAdd, no
    Add, Relu or DequantizeLinear left), and its outputs equal the float graph's (`--disable-pass
    qdq`) bit for bit"""
    make_float_add(args.out)
    model = os.path.join(args.out, "model.onnx")
    ins = [os.path.join(args.out, "input_%d.npy" % i) for i in range(2)]
    dump = subprocess.run([args.onnxc, "dump", model, "--after", "plan"], capture_output=True, text=True, check=True).stdout
    ok = dump.count("= QAdd(") == 2 and dump.count("relu=1") == 1 and not any(
        "= %s(" % op in dump for op in ("Add", "Relu", "DequantizeLinear"))
    print("%s: onnxc dump --after plan: %d QAdd nodes (%d with relu=1), Add/Relu/DequantizeLinear left: %s" %
          ("ok" if ok else "FAIL", dump.count("= QAdd("), dump.count("relu=1"),
           [op for op in ("Add", "Relu", "DequantizeLinear") if "= %s(" % op in dump]))
    fails = not ok
    ys = {}
    for key, extra in (("q", []), ("float", ["--disable-pass", "qdq"])):
        o = os.path.join(args.out, key)
        subprocess.run([args.onnxc, "run", model] + ins + ["-o", o] + extra, check=True, stdout=subprocess.DEVNULL)
        ys[key] = [np.load(os.path.join(o, "output_%d.npy" % k)) for k in range(2)]
    for k in range(2):
        same = np.array_equal(ys["q"][k], ys["float"][k])
        print("%s: y%d equals the float graph's bit for bit (max |y| %.3g)" % ("ok" if same else "FAIL", k + 1,
                                                                           float(np.abs(ys["q"][k]).max())))
        fails += not same
    return 1 if fails else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["make", "small", "check", "check-model", "check-residual", "check-tails",
                                     "check-float-add"])
    ap.add_argument("--model")
    ap.add_argument("--input")
    ap.add_argument("--out", required=True)
    ap.add_argument("--onnxc")
    ap.add_argument("--export", default="mobilenet_v2", help="check-model without --model: export_models.py's NAME")
    args = ap.parse_args()
    if args.what == "small":
        make_small(args.out)
        return 0
    if args.what == "check":
        return check(args)
    if args.what == "check-model":
        return check_model(args)
    if args.what == "check-residual":
        return check_residual(args)
    if args.what == "check-tails":
        return check_tails(args)
    if args.what == "check-float-add":
        return check_float_add(args)
    model = onnx.load(args.model)
    x = np.load(args.input)
    q = qdq(model, ranges_ort(model, x, quantized_tensors(model.graph)))
    os.makedirs(args.out, exist_ok=True)
    onnx.save(q, os.path.join(args.out, "model.onnx"))
    np.save(os.path.join(args.out, "input_0.npy"), x)
    return 0


if __name__ == "__main__":
    sys.exit(main())
