"""prune_test.py — onnxc prune and --prune (lib/prune.c, lib/prune_channel.c, tools/prune.c).

Small models made here with the onnx package (fixed seed): a CNN (a stem Conv + BatchNorm, a
Conv feeding two Convs through MaxPool, a residual Add, a depthwise Conv, global pooling into a
Gemm head) and an MLP (MatMul layers, a Gemm head).  Checked:
1. every structure gives exactly the sparsity asked (per layer and global), of its shape (N:M
   groups along K, whole RxC blocks), and onnxc info finds that structure again;
2. channel pruning removes exactly the channels asked, shrinks the layers reading them, leaves the
   Convs of the residual Add alone (saying why), and the smaller model runs;
3. ONNX Runtime and onnxc agree on every pruned file (rel 1e-3), and --prune on run gives the
   written file's outputs;
4. --recalibrate (the per-channel statistics of the pruned layers moved back to the dense
   model's) raises the cosine of a deep pruned CNN on held-out samples, keeps every zero, and
   ONNX Runtime agrees on the file;
5. bad arguments exit 2 (or 1 for a name the model lacks) with a message naming what is wrong."""
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from checks import check, summary, work_args  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ORT = os.path.join(HERE, "..", "..", "bench", "ort")


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def make_cnn(path, rng):
    w = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.3  # noqa: E731
    inits = [init("wa", w(16, 8, 3, 3)), init("ba", w(16)),
             init("bn_s", rng.uniform(0.5, 1.5, 16)), init("bn_b", w(16)), init("bn_m", w(16)),
             init("bn_v", rng.uniform(0.5, 1.5, 16)),
             init("wb", w(24, 16, 1, 1)), init("wc", w(32, 24, 3, 3)), init("bc", w(32)),
             init("wd", w(32, 24, 1, 1)), init("wf", w(32, 32, 1, 1)), init("bf", w(32)),
             init("wdw", w(32, 1, 3, 3)), init("bdw", w(32)), init("lo", [0.0]), init("hi", [6.0]),
             init("wg", w(16, 32, 1, 1)), init("bg", w(16)), init("wh", w(10, 16)), init("bh", w(10))]
    N = helper.make_node
    nodes = [
        N("Conv", ["x", "wa", "ba"], ["a"], name="A", pads=[1, 1, 1, 1]),
        N("BatchNormalization", ["a", "bn_s", "bn_b", "bn_m", "bn_v"], ["an"], name="BN"),
        N("Relu", ["an"], ["ar"], name="ReluA"),
        N("Conv", ["ar", "wb"], ["b"], name="B"),
        N("Relu", ["b"], ["br"], name="ReluB"),
        N("MaxPool", ["br"], ["bp"], name="Pool", kernel_shape=[2, 2], strides=[2, 2]),
        N("Conv", ["bp", "wc", "bc"], ["c"], name="C", pads=[1, 1, 1, 1]),
        N("Conv", ["bp", "wd"], ["d"], name="D"),
        N("Add", ["c", "d"], ["cd"], name="Res"),
        N("Relu", ["cd"], ["cdr"], name="ReluR"),
        N("Conv", ["cdr", "wf", "bf"], ["f"], name="F"),
        N("Relu", ["f"], ["fr"], name="ReluF"),
        N("Conv", ["fr", "wdw", "bdw"], ["dw"], name="DW", group=32, pads=[1, 1, 1, 1]),
        N("Clip", ["dw", "lo", "hi"], ["dwc"], name="Clip"),
        N("Conv", ["dwc", "wg", "bg"], ["g"], name="G"),
        N("Sigmoid", ["g"], ["gs"], name="Sig"),
        N("GlobalAveragePool", ["gs"], ["gp"], name="GAP"),
        N("Flatten", ["gp"], ["fl"], name="Flat"),
        N("Gemm", ["fl", "wh", "bh"], ["y"], name="Head", transB=1),
    ]
    inits[14] = numpy_helper.from_array(np.array(0.0, np.float32), "lo")
    inits[15] = numpy_helper.from_array(np.array(6.0, np.float32), "hi")
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 12, 12])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def make_mlp(path, rng):
    w = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.2  # noqa: E731
    inits = [init("w0", w(64, 64)), init("w1", w(64, 128)), init("b1", w(128)), init("w2", w(128, 64)),
             init("wh", w(32, 64))]
    N = helper.make_node
    nodes = [N("MatMul", ["x", "w0"], ["h0"], name="L0"), N("Relu", ["h0"], ["r0"]),
             N("MatMul", ["r0", "w1"], ["h1"], name="L1"), N("Add", ["h1", "b1"], ["h1b"]),
             N("Relu", ["h1b"], ["r1"]), N("MatMul", ["r1", "w2"], ["h2"], name="L2"),
             N("Relu", ["h2"], ["r2"]), N("Gemm", ["r2", "wh"], ["y"], name="Head", transB=1)]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 32])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


class T:
    def __init__(self, a):
        self.a = a
        self.have_ort = os.path.isdir(os.path.join(ORT, "node_modules", "onnxruntime-node"))

    def onnxc(self, *args):
        return subprocess.run([self.a.onnxc] + [str(x) for x in args], capture_output=True, text=True)

    def prune(self, src, dst, *args):
        p = self.onnxc("prune", src, "-o", dst, *args)
        check("prune %s %s" % (os.path.basename(dst), " ".join(args)), p.returncode == 0, p.stderr[-500:])
        return p

    def pruned(self, src, name, *args):
        """prunes src into work/name; returns its path and its weights by name"""
        out = os.path.join(self.a.work, name)
        self.prune(src, out, *args)
        return out, self.weights(out)

    def weights(self, path):
        m = onnx.load(path)
        return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}

    def run_both(self, model, inp, tag, extra=()):
        """onnxc and ONNX Runtime on one file; returns onnxc's output (None on failure)"""
        d = os.path.join(self.a.work, tag)
        p = self.onnxc("run", model, inp, "-o", d + "_onnxc", "--threads", "1", *extra)
        if not check("%s runs in onnxc" % tag, p.returncode == 0, p.stderr[-400:]):
            return None
        got = np.load(os.path.join(d + "_onnxc", "output_0.npy"))
        if self.have_ort and not extra:
            q = subprocess.run(["node", os.path.join(ORT, "run_ort.js"), model, d + "_ort", inp], capture_output=True,
                               text=True)
            if check("%s runs in ONNX Runtime" % tag, q.returncode == 0, q.stderr[-400:]):
                want = np.load(os.path.join(d + "_ort", "output_0.npy"))
                err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
                check("%s: onnxc matches ONNX Runtime (rel %.2g)" % (tag, err), err <= 1e-3)
        return got

    def info_structures(self, model):
        p = self.onnxc("info", model)
        return {m.group(1): (float(m.group(2)), m.group(3))
                for m in re.finditer(r"^\s+\w+\s+(\S+)\s+\S+\s+\d+\s+sparsity\s+([\d.]+)%\s+(\S+)", p.stdout, re.M)}


def magnitude_tests(t, mlp, cnn, inp_mlp, inp_cnn):
    w = t.weights(mlp)
    # unstructured per layer: exactly round(S * n) zeros in each pruned layer; stem and head alone
    out, p = t.pruned(mlp, "mlp_u.onnx", "--sparsity", "0.6", "--structure", "unstructured", "--per-layer")
    for k in ("w1", "w2"):
        z = int((p[k] == 0).sum())
        check("unstructured per layer: %s has exactly 60%% zeros" % k, z == round(0.6 * p[k].size), "%d" % z)
        kept = p[k] != 0
        check("unstructured: %s keeps its largest weights unchanged" % k,
              np.array_equal(p[k][kept], w[k][kept]) and np.abs(w[k][~kept]).max() <= np.abs(w[k][kept]).min())
    check("unstructured: the stem and the head are left alone (sensitive)",
          np.array_equal(p["w0"], w["w0"]) and np.array_equal(p["wh"], w["wh"]))
    s = t.info_structures(out)
    check("info: L1 60% unstructured", s.get("L1") == (60.0, "unstructured"), str(s))
    kern = dict(re.findall(r"^\s+\w+\s+(\S+)\s.*kernel: (.+)$", t.onnxc("info", out).stdout, re.M))
    check("info: the kernel chosen per layer (L0 unpruned stays dense, L1 named)",
          kern.get("L0") == "dense (under 30% zeros)" and kern.get("L1", "").startswith(("sparse", "dense (")), str(kern))
    t.run_both(out, inp_mlp, "mlp_unstructured")
    # global: one threshold, the total exact, the layers' own sparsities differ
    out, p = t.pruned(mlp, "mlp_g.onnx", "--sparsity", "0.5", "--structure", "unstructured", "--all")
    zs = [int((p[k] == 0).sum()) for k in ("w0", "w1", "w2", "wh")]
    total = sum(p[k].size for k in ("w0", "w1", "w2", "wh"))
    check("unstructured global (--all): exactly 50% of all weights", sum(zs) == round(0.5 * total), str(zs))
    thr = max(np.abs(w[k][p[k] == 0]).max() for k in ("w0", "w1", "w2", "wh"))
    check("unstructured global: one magnitude threshold",
          all(np.abs(w[k][p[k] != 0]).min() >= thr for k in ("w0", "w1", "w2", "wh")))
    # 2:4 along K: a MatMul's rows (axis 0 of [K, N])
    out, p = t.pruned(mlp, "mlp_24.onnx", "--structure", "2:4")
    for k in ("w1", "w2"):
        nz = (p[k] != 0).reshape(p[k].shape[0] // 4, 4, -1).sum(1)
        check("2:4: %s has exactly 2 nonzeros in every group of 4 along K" % k, (nz == 2).all())
    s = t.info_structures(out)
    check("info: L1 is 2:4", s.get("L1") == (50.0, "2:4"), str(s))
    t.run_both(out, inp_mlp, "mlp_2_4")
    # block 1x16: whole runs of 16 outputs of one row
    out, p = t.pruned(mlp, "mlp_b.onnx", "--sparsity", "0.75", "--structure", "block:1x16", "--per-layer")
    for k in ("w1", "w2"):
        b = (p[k] != 0).reshape(p[k].shape[0], -1, 16)
        whole = ((b.sum(2) == 0) | (b.sum(2) == 16)).all()
        check("block:1x16: %s 75%% zeros in whole 1x16 blocks" % k,
              whole and (p[k] == 0).sum() == round(0.75 * p[k].size), "zeros %d" % (p[k] == 0).sum())
    s = t.info_structures(out)
    check("info: L2 is block:1x16", s.get("L2") == (75.0, "block:1x16"), str(s))
    t.run_both(out, inp_mlp, "mlp_block")
    # N:M on Convs: groups of input channels at one kernel position
    out, p = t.pruned(cnn, "cnn_24.onnx", "--structure", "2:4", "--all")
    wc = p["wc"]
    nz = (wc != 0).reshape(32, 6, 4, 3, 3).sum(2)
    check("2:4 on a 3x3 Conv: 2 nonzeros in every 4 input channels at each kernel position", (nz == 2).all())
    check("2:4: the depthwise Conv (1 input channel per group) is left alone",
          np.array_equal(p["wdw"], t.weights(cnn)["wdw"]))
    t.run_both(out, inp_cnn, "cnn_2_4")


def channel_tests(t, cnn, inp_cnn):
    work = t.a.work
    out = os.path.join(work, "cnn_ch.onnx")
    p = t.prune(cnn, out, "--sparsity", "0.5", "--structure", "channel", "--per-layer", "--all", "--report")
    w0, w = t.weights(cnn), t.weights(out)
    shapes = {k: w[k].shape for k in w}
    check("channel: A 16 -> 8 outputs, BatchNorm and B's inputs follow",
          shapes["wa"] == (8, 8, 3, 3) and shapes["ba"] == (8,) and shapes["bn_s"] == (8,) and shapes["bn_v"] == (8,)
          and shapes["wb"][1] == 8, str(shapes))
    check("channel: B 24 -> 12 outputs, both Convs after the MaxPool read 12",
          shapes["wb"][0] == 12 and shapes["wc"][1] == 12 and shapes["wd"][1] == 12, str(shapes))
    check("channel: C and D meet at the residual Add: their outputs stay 32",
          shapes["wc"][0] == 32 and shapes["wd"][0] == 32, str(shapes))
    check("channel: F through the depthwise Conv (group follows) to G",
          shapes["wf"][0] == 16 and shapes["wdw"] == (16, 1, 3, 3) and shapes["wg"][1] == 16, str(shapes))
    check("channel: G through GlobalAveragePool/Flatten to the Gemm head's K",
          shapes["wg"][0] == 8 and shapes["wh"] == (10, 8), str(shapes))
    # the report measures each layer's weight as it is after the channels went (once it read the
    # old K x N view over the shrunk weights: negative sparsities, and out-of-bounds reads)
    check("channel: the report measures the shrunk weights (every layer dense, 0 zeros)",
          "0 zeros (sparsity 0.0%)" in p.stdout and len(re.findall(r"sparsity +0\.0%  dense", p.stdout)) == 8,
          p.stdout[:1500])
    check("channel: the report says why C and D are left alone",
          re.search(r"\bC\b.*left alone: .*Add 'Res'", p.stdout) is not None and "cosine" in p.stdout, p.stdout[-1500:])
    m = onnx.load(out)
    dw = [n for n in m.graph.node if n.name == "DW"][0]
    check("channel: the depthwise Conv's group is 16", [a.i for a in dw.attribute if a.name == "group"] == [16])
    onnx.checker.check_model(m)
    check("channel: the file is smaller", os.path.getsize(out) < os.path.getsize(cnn))
    # the kept channels are the filters of largest sum of squares
    sq = (w0["wb"].reshape(24, -1) ** 2).sum(1)
    kept = sorted(np.argsort(-sq, kind="stable")[:12])
    check("channel: B keeps its 12 filters of largest sum of squares (A's kept inputs)",
          np.array_equal(w["wb"], w0["wb"][kept][:, keep_a(w0)]))
    got = t.run_both(out, inp_cnn, "cnn_channel")
    # --prune on run gives the written file's outputs, bit for bit
    d = os.path.join(work, "cnn_ch_run")
    r = t.onnxc("run", cnn, inp_cnn, "-o", d, "--threads", "1", "--prune", "0.5,channel,per-layer,all")
    check("run --prune: the written file's outputs", r.returncode == 0 and got is not None and
          np.array_equal(np.load(os.path.join(d, "output_0.npy")), got), r.stderr[-300:])
    # the report on a samples folder (.npy files directly in DIR for a one-input model)
    sd = os.path.join(work, "samples")
    os.makedirs(sd, exist_ok=True)
    rng = np.random.default_rng(7)
    for k in range(3):
        np.save(os.path.join(sd, "x%d.npy" % k), rng.standard_normal((1, 8, 12, 12)).astype(np.float32))
    out = os.path.join(work, "cnn_ch_s.onnx")
    p = t.prune(cnn, out, "--sparsity", "0.5", "--structure", "channel", "--report", "--samples", sd)
    m = re.search(r"\(3 samples\):\n  output 'y': cosine ([\d.]+)", p.stdout)
    check("report --samples: the cosine over 3 samples", m is not None and 0 < float(m.group(1)) <= 1, p.stdout[-500:])
    p = t.onnxc("prune", cnn, "-o", out, "--sparsity", "0.5", "--structure", "channel", "--report", "--samples",
                os.path.join(work, "nosuch"))
    check("report --samples on a missing folder -> exit 1 naming it", p.returncode == 1 and "nosuch" in p.stderr,
          p.stderr[-300:])
    # global channel pruning: 25% of the channels of the Convs that can lose channels
    out, w = t.pruned(cnn, "cnn_chg.onnx", "--sparsity", "0.25", "--structure", "channel")
    gone = (24 - w["wb"].shape[0]) + (32 - w["wf"].shape[0]) + (16 - w["wg"].shape[0])
    check("channel global: 25%% of the 72 prunable channels removed (%d)" % gone, gone == 18)
    check("channel global: the stem is left alone by default", w["wa"].shape == (16, 8, 3, 3))
    t.run_both(out, inp_cnn, "cnn_channel_global")
    # --multiple rounds the kept channels
    out, w = t.pruned(cnn, "cnn_chm.onnx", "--sparsity", "0.3", "--structure", "channel", "--per-layer", "--multiple", "8")
    check("channel --multiple 8: kept channels are multiples of 8",
          all(w[k].shape[0] % 8 == 0 for k in ("wb", "wf", "wg")), str([w[k].shape for k in ("wb", "wf", "wg")]))


def make_deep(path, rng, depth=8, ch=16):
    """a plain Conv+ReLU stack (He-init weights, biases): pruning shrinks each layer's outputs and
    the shrinking compounds, what --recalibrate undoes"""
    inits, nodes, x = [], [], "x"
    for i in range(depth):
        cin = 8 if i == 0 else ch
        w = rng.standard_normal((ch, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))
        inits += [init("w%d" % i, w), init("b%d" % i, rng.standard_normal(ch) * 0.1)]
        nodes.append(helper.make_node("Conv", [x, "w%d" % i, "b%d" % i], ["c%d" % i], name="C%d" % i, pads=[1, 1, 1, 1]))
        x = "c%d" % i
        if i < depth - 1:
            nodes.append(helper.make_node("Relu", [x], ["r%d" % i]))
            x = "r%d" % i
    g = helper.make_graph(nodes, "deep", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 12, 12])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, ch, 12, 12])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)


def recal_tests(t, rng):
    work = t.a.work
    deep = os.path.join(work, "deep.onnx")
    make_deep(deep, rng)
    cal, held = os.path.join(work, "recal_cal"), os.path.join(work, "recal_held")
    for d, n in ((cal, 4), (held, 3)):
        os.makedirs(d, exist_ok=True)
        for k in range(n):
            np.save(os.path.join(d, "x%d.npy" % k), rng.standard_normal((1, 8, 12, 12)).astype(np.float32))
    cos = r"\(3 samples\):\n  output '\w+': cosine ([\d.]+)"
    base = os.path.join(work, "deep_p.onnx")
    p = t.prune(deep, base, "--sparsity", "0.7", "--structure", "unstructured", "--report", "--samples", held)
    m0 = re.search(cos, p.stdout)
    out = os.path.join(work, "deep_r.onnx")
    p = t.onnxc("prune", deep, "-o", out, "--sparsity", "0.7", "--structure", "unstructured", "--recalibrate",
                "--samples", cal, "--report")
    check("prune --recalibrate", p.returncode == 0, p.stderr[-500:])
    check("--recalibrate: the report says so, per layer and in the summary",
          "recalibrated 6 layers" in p.stdout and len(re.findall(r"  recalibrated\b", p.stdout)) == 6, p.stdout[-1500:])
    check("--recalibrate: one line per pass (1 by default)", len(re.findall(r"^recalibration pass \d", p.stdout, re.M)) == 1)
    wb, wr = t.weights(base), t.weights(out)
    check("--recalibrate: the same zeros as without it",
          all(np.array_equal(wb[k] == 0, wr[k] == 0) for k in wb if k.startswith("w")))
    # the cosine on the held-out samples, dense against each pruned file
    outs = {}
    for k in range(3):
        xk = os.path.join(held, "x%d.npy" % k)
        for tag, f in (("dense", deep), ("plain", base), ("recal", out)):
            d = os.path.join(work, "deep_run_%s_%d" % (tag, k))
            r = t.onnxc("run", f, xk, "-o", d, "--threads", "1")
            if r.returncode == 0:
                outs.setdefault(tag, []).append(np.load(os.path.join(d, "output_0.npy")).ravel())
    if check("--recalibrate: all runs", all(len(outs.get(k, [])) == 3 for k in ("dense", "plain", "recal"))):
        c = lambda a, b: float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))  # noqa: E731
        d, pl, rc = (np.concatenate(outs[k]) for k in ("dense", "plain", "recal"))
        cp, cr = c(d, pl), c(d, rc)
        check("--recalibrate raises the held-out cosine (%.4f -> %.4f)" % (cp, cr), cr > cp + 0.01)
        check("report: the plain cosine is the numpy one", m0 is not None and abs(float(m0.group(1)) - cp) < 1e-4,
              str(m0 and m0.group(1)))
    t.run_both(out, os.path.join(held, "x0.npy"), "deep_recal")
    # without --samples: pseudo-random samples
    p = t.onnxc("prune", deep, "-o", os.path.join(work, "deep_r3.onnx"), "--sparsity", "0.7", "--structure",
                "unstructured", "--recalibrate", "--recal-passes", "2")
    check("--recalibrate without --samples, 2 passes", p.returncode == 0 and "recalibrated 6 layers" in p.stdout,
          p.stderr[-300:])


def keep_a(w0):
    """A's kept channels at 50% per layer: scores scaled by the BatchNorm that follows"""
    f = w0["bn_s"] / np.sqrt(w0["bn_v"] + 1e-5)
    sq = (w0["wa"].reshape(16, -1).astype(np.float64) ** 2).sum(1) * f * f
    return sorted(np.argsort(-sq, kind="stable")[:8])


def error_tests(t, cnn):
    out = os.path.join(t.a.work, "bad.onnx")
    cases = [
        (["--sparsity", "1.5", "--structure", "unstructured"], 2, "bad --sparsity '1.5'"),
        (["--sparsity", "0.5"], 2, "--structure is required"),
        (["--structure", "channel"], 2, "--sparsity is required"),
        (["--sparsity", "0.5", "--structure", "diagonal"], 2, "bad 'diagonal'"),
        (["--structure", "5:4"], 2, "0 < N < M"),
        (["--sparsity", "0.3", "--structure", "2:4"], 2, "does not match structure 2:4"),
        (["--sparsity", "0.5", "--structure", "block:0x16"], 2, "rows and columns must be 1..256"),
        (["--sparsity", "0.5", "--structure", "unstructured", "--multiple", "8"], 2, "channel pruning only"),
        (["--sparsity", "0.5", "--structure", "channel", "--skip", "nosuch"], 1, "skip 'nosuch' names no node"),
        (["--sparsity", "0.5", "--structure", "unstructured", "--recalibrate", "--recal-passes", "0"], 2,
         "bad value '0' for --recal-passes"),
    ]
    for args, code, msg in cases:
        p = t.onnxc("prune", cnn, "-o", out, *args)
        check("prune %s -> exit %d naming it" % (" ".join(args), code), p.returncode == code and msg in p.stderr,
              "exit %d: %s" % (p.returncode, p.stderr[-300:]))
    p = t.onnxc("prune", cnn, "--sparsity", "0.5", "--structure", "channel")
    check("prune without -o -> exit 2 with the usage", p.returncode == 2 and "usage" in p.stderr)
    p = t.onnxc("run", cnn, "--prune", "0.5,sideways")
    check("run --prune with a bad spec -> exit 2", p.returncode == 2 and "bad 'sideways'" in p.stderr, p.stderr[-300:])
    p = t.onnxc("bench", cnn, "--prune", "2:4,per-layer,multiple=4")
    check("bench --prune multiple= on N:M -> exit 2", p.returncode == 2 and "channel pruning only" in p.stderr, p.stderr)


def main():
    a = work_args()
    rng = np.random.default_rng(16)
    cnn, mlp = os.path.join(a.work, "cnn.onnx"), os.path.join(a.work, "mlp.onnx")
    make_cnn(cnn, rng)
    make_mlp(mlp, rng)
    inp_cnn, inp_mlp = os.path.join(a.work, "x_cnn.npy"), os.path.join(a.work, "x_mlp.npy")
    np.save(inp_cnn, rng.standard_normal((1, 8, 12, 12)).astype(np.float32))
    np.save(inp_mlp, rng.standard_normal((4, 64)).astype(np.float32))
    t = T(a)
    magnitude_tests(t, mlp, cnn, inp_mlp, inp_cnn)
    channel_tests(t, cnn, inp_cnn)
    error_tests(t, cnn)
    recal_tests(t, rng)
    return summary("prune")


if __name__ == "__main__":
    sys.exit(main())
