#!/usr/bin/python3
"""Weight clustering (`onnxc compress --cluster K`, lib/cluster.c): models built with onnx.helper
(fixed seed) holding LSTM, GRU, MatMul, Gemm and Conv weights are clustered; the check reads the
written file back (each clustered weight is Gather(codebook, Cast(uint8 indices)) with at most K
codebook values, a pruned weight keeps its exact zeros, small weights and unlisted layers stay
float), runs it in onnxc and ONNX Runtime (rel 1e-3) and against a numpy decode of the file, and
tries bad arguments.

  cluster_models.py --onnxc PATH [--out DIR]          the check (ctest models_cluster)
  cluster_models.py --aot-model DIR                   writes DIR/model.onnx + input_0.npy (tests/aot:
      convs and 128-row MatMul/Gemm with clustered weights in the Gather form)
  cluster_models.py --onnxc PATH --bench-models DIR   writes DIR/lstm1024/model.onnx (2-layer LSTM,
      hidden 1024, input 1024, 32 steps, batch 1) + input_0.npy, and DIR/lstm1024_c16 (the same
      clustered to 16 values per weight by `onnxc compress`) + input_0.npy"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import cemit_check  # noqa: E402
ORT = os.path.join(HERE, "..", "..", "bench", "ort")
FAILS = []


def check(what, ok, detail=""):
    print("%s: %s%s" % ("ok  " if ok else "FAIL", what, "" if ok or not detail else " (%s)" % detail))
    if not ok:
        FAILS.append(what)
    return ok


def lstm_stack(path, layers, hidden, inp, steps, seed, gru=False, ndir=1, lbr=0, batch=1):
    """a stack of LSTMs (or GRUs; ndir 2: bidirectional, lbr: linear_before_reset), X [steps, batch,
    inp] -> Y [steps, batch, ndir * hidden]"""
    r = np.random.default_rng(seed)
    gates = 3 if gru else 4
    extra = {"linear_before_reset": lbr} if gru else {}
    if ndir == 2:
        extra["direction"] = "bidirectional"
    nodes, inits, x, cin = [], [], "X", inp
    for li in range(layers):
        s = 1 / np.sqrt(hidden)
        w = (r.uniform(-s, s, (ndir, gates * hidden, cin))).astype(np.float32)
        rr = (r.uniform(-s, s, (ndir, gates * hidden, hidden))).astype(np.float32)
        b = (r.uniform(-s, s, (ndir, 2 * gates * hidden))).astype(np.float32)
        inits += [numpy_helper.from_array(w, "W%d" % li), numpy_helper.from_array(rr, "R%d" % li),
                  numpy_helper.from_array(b, "B%d" % li)]
        nodes.append(helper.make_node("GRU" if gru else "LSTM", [x, "W%d" % li, "R%d" % li, "B%d" % li],
                                      ["Y%d" % li], hidden_size=hidden, name="rnn%d" % li, **extra))
        # Y [steps, ndir, batch, hidden] -> [steps, batch, ndir * hidden]
        nodes.append(helper.make_node("Transpose", ["Y%d" % li], ["T%d" % li], perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Reshape", ["T%d" % li, "shp"], ["S%d" % li]))
        x, cin = "S%d" % li, ndir * hidden
    inits.append(numpy_helper.from_array(np.array([steps, batch, ndir * hidden], np.int64), "shp"))
    nodes.append(helper.make_node("Identity", [x], ["Y"]))
    g = helper.make_graph(nodes, "gru" if gru else "lstm",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, [steps, batch, inp])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [steps, batch, ndir * hidden])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def mixed_model(path, seed):
    """MatMul, Gemm (transB) and Conv, one MatMul weight half zeros (pruned), one small bias-like MatMul"""
    r = np.random.default_rng(seed)
    w0 = r.standard_normal((64, 96)).astype(np.float32) * 0.1
    w0[np.abs(w0) < np.median(np.abs(w0))] = 0  # pruned: half exact zeros
    inits = [numpy_helper.from_array(w0, "w0"),
             numpy_helper.from_array(r.standard_normal((80, 96)).astype(np.float32) * 0.1, "w1"),
             numpy_helper.from_array(r.standard_normal((8, 8)).astype(np.float32), "small"),
             numpy_helper.from_array(r.standard_normal((16, 1, 3, 3)).astype(np.float32) * 0.3, "cw"),
             numpy_helper.from_array(np.array([1, 1, 8, 10], np.int64), "shp")]
    N = helper.make_node
    nodes = [N("MatMul", ["x", "w0"], ["h0"], name="mm0"), N("Relu", ["h0"], ["r0"]),
             N("Gemm", ["r0", "w1"], ["h1"], name="gemm1", transB=1),
             N("Reshape", ["h1", "shp"], ["img"]),
             N("Conv", ["img", "cw"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             N("Reshape", ["c", "shp2"], ["cf"]), N("MatMul", ["cf", "small"], ["y"], name="mm_small")]
    inits.append(numpy_helper.from_array(np.array([160, 8], np.int64), "shp2"))
    g = helper.make_graph(nodes, "mixed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [160, 8])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def matmul_model(path, seed):
    """MatMul (3 rows, N = 100: 4 pairs of 16 columns, one task whose last 28 columns are past N)
    + bias Add + Relu, then Gemm (alpha,
    beta, transB, a bias row) and a residual Add: the 4-bit MatMul/Gemm kernel with its epilogue"""
    r = np.random.default_rng(seed)
    N = helper.make_node
    inits = [numpy_helper.from_array(r.standard_normal((70, 100)).astype(np.float32) * 0.1, "wm"),
             numpy_helper.from_array(r.standard_normal(100).astype(np.float32), "bm"),
             numpy_helper.from_array(r.standard_normal((40, 100)).astype(np.float32) * 0.1, "wg"),
             numpy_helper.from_array(r.standard_normal((1, 40)).astype(np.float32), "bg")]
    nodes = [N("MatMul", ["x", "wm"], ["h"], name="mm"), N("Add", ["h", "bm"], ["hb"]), N("Relu", ["hb"], ["hr"]),
             N("Gemm", ["hr", "wg", "bg"], ["g"], name="gemm", transB=1, alpha=0.5, beta=2.0),
             N("Slice", ["x", "s0", "s1", "s2"], ["xs"]), N("Add", ["g", "xs"], ["y"])]
    inits += [numpy_helper.from_array(np.array([0], np.int64), "s0"), numpy_helper.from_array(np.array([40], np.int64), "s1"),
              numpy_helper.from_array(np.array([1], np.int64), "s2")]
    g = helper.make_graph(nodes, "mm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 70])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 40])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def conv_model(path, seed, three=False):
    """the GEMM engine's clustered operands (gen_cluster.h): Convs (weights as A, decoded per tile)
    1x1 (no im2col), 3x3 stride 2, grouped 3x3 with a bias, a residual Add and Relu; then MatMul
    with 128 rows (B decoded per task) and Gemm (transB, bias).  three: 3x3 stride-1 convs too
    (Winograd for float weights, the GEMM engine for clustered ones)"""
    r = np.random.default_rng(seed)
    N = helper.make_node
    def w(name, *shape, scale=0.2):
        return numpy_helper.from_array((r.standard_normal(shape) * scale).astype(np.float32), name)
    inits = [w("c1", 24, 16, 1, 1), w("c2", 32, 24, 3, 3, scale=0.1), w("c3", 32, 16, 3, 3, scale=0.1),
             w("b3", 32), w("wm", 50, 40, scale=0.1), w("wg", 24, 40, scale=0.1), w("bg", 24),
             numpy_helper.from_array(np.array([128, 50], np.int64), "shp")]
    nodes = [N("Conv", ["x", "c1"], ["a"], name="pw"), N("Relu", ["a"], ["ar"]),
             N("Conv", ["ar", "c2"], ["b"], name="s2", strides=[2, 2], pads=[1, 1, 1, 1]),
             N("Conv", ["b", "c3", "b3"], ["c"], name="grp", group=2, pads=[1, 1, 1, 1]),
             N("Add", ["c", "b"], ["cr"]), N("Relu", ["cr"], ["d"])]
    last = "d"
    if three:
        inits += [w("c4", 32, 32, 3, 3, scale=0.06), w("c5", 32, 32, 3, 3, scale=0.06)]
        nodes += [N("Conv", ["d", "c4"], ["e"], name="w3a", pads=[1, 1, 1, 1]), N("Relu", ["e"], ["er"]),
                  N("Conv", ["er", "c5"], ["f"], name="w3b", pads=[1, 1, 1, 1]), N("Add", ["f", "d"], ["fd"])]
        last = "fd"
    nodes += [N("Reshape", [last, "shp"], ["m"]), N("MatMul", ["m", "wm"], ["h"], name="mm128"),
              N("Gemm", ["h", "wg", "bg"], ["y"], name="gemm128", transB=1)]
    inits += [w("c1pad", 1)]  # unused spacer keeps the seed sequence stable
    g = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16, 20, 20])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [128, 24])], inits[:-1])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def gather_form(src, dst, ks, seed):
    """src's weights named in ks ({name: K}) written as Gather(codebook, Cast(uint8 indices)) the way
    any tool might (not onnxc compress): K quantile centroids; a name ending in "!" is pruned to
    50% first (exact 0 in the codebook, the rest K - 1 values)"""
    m = onnx.load(src)
    r = np.random.default_rng(seed)
    keep, nodes = [], []
    for t in m.graph.initializer:
        k = ks.get(t.name, ks.get(t.name + "!"))
        if k is None:
            keep.append(t)
            continue
        w = numpy_helper.to_array(t).astype(np.float32)
        prune = t.name + "!" in ks
        nz = np.abs(w) >= np.quantile(np.abs(w), 0.5) if prune else np.ones(w.shape, bool)
        cent = np.quantile(w[nz], (np.arange(k - prune) + 0.5) / (k - prune)).astype(np.float32)
        cent = np.unique(cent + r.standard_normal(cent.size).astype(np.float32) * 1e-6)
        code = np.concatenate([[0.0], cent]).astype(np.float32) if prune else cent
        idx = np.argmin(np.abs(w[..., None] - code[None, :] - (~nz[..., None]) * 1e9), axis=-1)
        idx[~nz] = 0
        keep += [numpy_helper.from_array(code, t.name + "_code"), numpy_helper.from_array(idx.astype(np.uint8), t.name + "_idx")]
        nodes += [helper.make_node("Cast", [t.name + "_idx"], [t.name + "_i32"], to=TensorProto.INT32),
                  helper.make_node("Gather", [t.name + "_code", t.name + "_i32"], [t.name], axis=0)]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    rest = list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes + rest)
    onnx.save(m, dst)


# the GEMM engine's decodes in one model: 4-bit (16), two register tables (32), a gather (100),
# pruned + clustered (c4: exact 0 and 15 values)
GEMM_KS = {"c1": 16, "c2": 32, "c3": 100, "c4!": 16, "c5": 16, "wm": 16, "wg": 32}


def conv_aot_model(d):
    """DIR/model.onnx + input_0.npy for tests/aot (AOT, aarch64 under qemu): conv_model(three) with
    its weights in the Gather form, GEMM_KS"""
    os.makedirs(d, exist_ok=True)
    conv_model(os.path.join(d, "float.onnx"), 5, True)
    gather_form(os.path.join(d, "float.onnx"), os.path.join(d, "model.onnx"), GEMM_KS, 9)
    np.save(os.path.join(d, "input_0.npy"), np.random.default_rng(3).standard_normal((2, 16, 20, 20)).astype(np.float32))


def onnxc(a, *args):
    return subprocess.run([a.onnxc] + [str(x) for x in args], capture_output=True, text=True)


def compress(a, src, dst, *args):
    p = onnxc(a, "compress", src, "-o", dst, *args)
    check("compress %s %s" % (os.path.basename(dst), " ".join(str(x) for x in args)), p.returncode == 0,
          p.stderr[-500:])
    return p


def decoded(path):
    """{weight name: (codebook, indices)} of the Gather(codebook, Cast(indices)) forms of a file"""
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    prod = {o: n for n in m.graph.node for o in n.output}
    out = {}
    for n in m.graph.node:
        if n.op_type != "Gather" or n.input[0] not in init:
            continue
        c = prod.get(n.input[1])
        if c is not None and c.op_type == "Cast" and c.input[0] in init:
            out[n.output[0]] = (init[n.input[0]], init[c.input[0]])
    return m, init, out


def run_file(a, model, inp, tag, work, *extra):
    d = os.path.join(work, tag)
    p = onnxc(a, "run", model, inp, "-o", d + "_onnxc", "--threads", "1", *extra)
    if not check("%s runs in onnxc" % tag, p.returncode == 0, p.stderr[-400:]):
        return None
    return np.load(os.path.join(d + "_onnxc", "output_0.npy"))


def exact_vs_float(a, out, inp, tag, work, what):
    """runs the clustered file as onnxc compiles it and with --disable-pass cluster (the decoded
    floats); checks the two are equal bit for bit; returns the first"""
    got = run_file(a, out, inp, tag, work)
    ref = run_file(a, out, inp, tag + "_float", work, "--disable-pass", "cluster")
    if got is not None and ref is not None:
        check("%s: %s" % (tag, what), np.array_equal(got, ref), "max diff %.3g" % np.abs(got - ref).max())
    return got


def ort_match(a, model, inp, got, tag, work):
    if not os.path.isdir(os.path.join(ORT, "node_modules", "onnxruntime-node")) or got is None:
        return print("skip: %s against ONNX Runtime (no onnxruntime-node)" % tag)
    d = os.path.join(work, tag + "_ort")
    q = subprocess.run(["node", os.path.join(ORT, "run_ort.js"), model, d, inp], capture_output=True, text=True)
    if check("%s runs in ONNX Runtime" % tag, q.returncode == 0, q.stderr[-400:]):
        want = np.load(os.path.join(d, "output_0.npy"))
        err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
        check("%s: onnxc matches ONNX Runtime (rel %.2g)" % (tag, err), err <= 1e-3)


def cemit_match(a, model, x, want, tag, work, marker="& 15]"):
    """through the C emitter for AVX-512 against the JIT (tests/common/cemit_check.py); the
    default marker is the 4-bit kernel's lookup (kb_permute lane by lane in C)"""
    cemit_check.cemit_match(a.onnxc, model, x, want, tag, work, check, marker)


def check_form(path, orig, k, expect):
    """the file's clustered weights: uint8 indices, <= k values, close to the original, zeros kept"""
    m, init, forms = decoded(path)
    src = {i.name: numpy_helper.to_array(i) for i in onnx.load(orig).graph.initializer}
    names = sorted(w for w in src if any(f.startswith(w + "_") for f in forms))
    check("%s: clustered weights %s" % (os.path.basename(path), expect), names == sorted(expect), str(names))
    for f, (cb, idx) in forms.items():
        w = f[:f.rindex("_clustered")] if "_clustered" in f else f
        check("%s: uint8 indices, %d <= %d float values" % (w, cb.size, k),
              idx.dtype == np.uint8 and cb.dtype == np.float32 and cb.ndim == 1 and cb.size <= k and
              int(idx.max()) < cb.size)
        if w in src:
            dec = cb[idx]
            rel = np.linalg.norm(dec - src[w]) / np.linalg.norm(src[w])
            # the optimal k-level quantizer of a Gaussian has rel error 0.34 (k = 4), 0.098 (16)
            bound = 0.4 if k <= 4 else 0.12 if k <= 16 else 0.02
            check("%s: decoded weight close (rel %.3g)" % (w, rel), dec.shape == src[w].shape and rel < bound)
            z = src[w] == 0
            if z.any():
                check("%s: pruned zeros stay exact and only they map to 0" % w,
                      np.all(dec[z] == 0) and np.all(dec[~z] != 0) and cb[0] == 0)


def lib_keeps_indices(a, out, tag, work, saved):
    """the compiled library of a clustered file is at least saved bytes smaller than the one of
    its decoded floats (--disable-pass cluster): the kernels keep the indices"""
    libs = [os.path.join(work, tag + x + ".so") for x in ("", "_float")]
    p = onnxc(a, "compile", out, "-o", libs[0])
    q = onnxc(a, "compile", out, "-o", libs[1], "--disable-pass", "cluster")
    if check("%s: compiles" % tag, p.returncode == 0 and q.returncode == 0, (p.stderr + q.stderr)[-400:]):
        sz = [os.path.getsize(x) for x in libs]
        check("%s: the library keeps indices (%d vs %d bytes)" % (tag, sz[0], sz[1]), sz[0] + saved < sz[1])


def check_all(a, work):
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(7)
    # LSTM and GRU stacks
    for kind in ("lstm", "gru"):
        src = os.path.join(work, kind + ".onnx")
        lstm_stack(src, 2, 48, 40, 5, 11, gru=kind == "gru")
        inp = os.path.join(work, kind + "_in.npy")
        np.save(inp, rng.standard_normal((5, 1, 40)).astype(np.float32))
        for k in (16, 200):
            out = os.path.join(work, "%s_c%d.onnx" % (kind, k))
            compress(a, src, out, "--cluster", k, "--min-weights", 256)
            check_form(out, src, k, ["R0", "R1", "W0", "W1"])
            ort_match(a, out, inp, run_file(a, out, inp, "%s_c%d" % (kind, k), work), "%s_c%d" % (kind, k), work)
    # the 4-bit kernels (gen_rnn.c, gen_cluster.c: H a multiple of 32, K <= 16): the same floats as
    # the folded weights' float kernels (--disable-pass cluster) bit for bit, and ONNX Runtime's
    # and MatMul/Gemm with few rows (gen_cluster.c)
    for tag, gru, ndir, lbr, batch in (("k_lstm", False, 1, 0, 1), ("k_lstm_bi_b3", False, 2, 0, 3),
                                       ("k_gru_bi", True, 2, 0, 1), ("k_gru_lbr_b5", True, 1, 1, 5),
                                       ("k_matmul", None, 0, 0, 0)):
        src = os.path.join(work, tag + ".onnx")
        inp = os.path.join(work, tag + "_in.npy")
        if gru is None:
            matmul_model(src, 17)
            np.save(inp, rng.standard_normal((3, 70)).astype(np.float32))
        else:
            lstm_stack(src, 2, 64, 48, 6, 13, gru=gru, ndir=ndir, lbr=lbr, batch=batch)
            np.save(inp, rng.standard_normal((6, batch, 48)).astype(np.float32))
        out = os.path.join(work, tag + "_c16.onnx")
        compress(a, src, out, "--cluster", 16, "--min-weights", 256)
        got = exact_vs_float(a, out, inp, tag, work, "the 4-bit kernel equals the float kernel exactly")
        ort_match(a, out, inp, got, tag, work)
        if tag == "k_gru_bi":
            cemit_match(a, out, np.load(inp), got, tag, work)
    # 17..256 values, or 16 with an odd count of panels (H = 48), in the LSTM/GRU kernels (8-bit
    # indices in the kernel only for weights of >= 4 MB, gen_rnn.c's idx8_pays): bit for bit the
    # float kernel's results, and ORT's
    for tag, gru, ndir, lbr, batch, hid, k in (("k8_lstm_bi_b3", False, 2, 0, 3, 64, 200),
                                               ("k8_gru_lbr_b5", True, 1, 1, 5, 64, 32),
                                               ("k8_gru", True, 1, 0, 1, 48, 100),
                                               ("k8_lstm_h48", False, 1, 0, 2, 48, 16)):
        src = os.path.join(work, tag + ".onnx")
        inp = os.path.join(work, tag + "_in.npy")
        lstm_stack(src, 2, hid, 40, 6, 17, gru=gru, ndir=ndir, lbr=lbr, batch=batch)
        np.save(inp, rng.standard_normal((6, batch, 40)).astype(np.float32))
        out = os.path.join(work, "%s_c%d.onnx" % (tag, k))
        compress(a, src, out, "--cluster", k, "--min-weights", 256)
        got = exact_vs_float(a, out, inp, tag, work, "the 8-bit kernel equals the float kernel exactly")
        ort_match(a, out, inp, got, tag, work)
        if tag == "k8_gru":
            cemit_match(a, out, np.load(inp), got, tag, work, None)
    # a weight of 4 MB (hidden 512, 32 values: idx8_pays): the 8-bit indices stay indices in the
    # kernel (two vpermps tables), bit for bit the float kernel's results, ORT's, and the library
    # holds the 2 MB of indices instead of the 8 MB of floats
    tag = "k8_lstm_h512"
    src = os.path.join(work, tag + ".onnx")
    inp = os.path.join(work, tag + "_in.npy")
    lstm_stack(src, 1, 512, 512, 3, 19)
    np.save(inp, rng.standard_normal((3, 1, 512)).astype(np.float32))
    out = os.path.join(work, tag + "_c32.onnx")
    compress(a, src, out, "--cluster", 32, "--min-weights", 256)
    got = exact_vs_float(a, out, inp, tag, work, "the 8-bit in-kernel decode equals the float kernel exactly")
    ort_match(a, out, inp, got, tag, work)
    lib_keeps_indices(a, out, tag, work, 4 << 20)
    # the GEMM engine (gen_cluster.h): Convs 1x1 / 3x3 / strided / grouped and MatMul/Gemm with 128
    # rows, indices 4-bit (16), 8-bit on two tables (32) or gathers (100), written by onnxc compress
    # and by another writer (pruned + clustered too): exactly the float kernels' results, ONNX
    # Runtime's, the library smaller than the float one's (the weights stay indices)
    src = os.path.join(work, "k_conv.onnx")
    conv_model(src, 5, True)
    inp = os.path.join(work, "k_conv_in.npy")
    np.save(inp, rng.standard_normal((2, 16, 20, 20)).astype(np.float32))
    foreign = os.path.join(work, "k_conv_gather.onnx")
    gather_form(src, foreign, GEMM_KS, 9)
    for k in (16, 32, 100, 0):
        tag = "k_conv_c%d" % k if k else "k_conv_gather"
        out = os.path.join(work, tag + ".onnx")
        if k:
            compress(a, src, out, "--cluster", k, "--min-weights", 100)
        else:
            out = foreign
        got = exact_vs_float(a, out, inp, tag, work, "the GEMM engine on indices equals it on floats exactly")
        ort_match(a, out, inp, got, tag, work)
        # 33,000 weights: 132 KB as floats, a quarter or an eighth of that as indices
        lib_keeps_indices(a, out, tag, work, 80000)
        if k in (16, 0):
            cemit_match(a, out, np.load(inp), got, tag, work)
    # MatMul, Gemm, Conv; a pruned weight; a small weight left float; --cluster-layers
    src = os.path.join(work, "mixed.onnx")
    mixed_model(src, 3)
    inp = os.path.join(work, "mixed_in.npy")
    np.save(inp, rng.standard_normal((1, 64)).astype(np.float32))
    out = os.path.join(work, "mixed_c16.onnx")
    p = compress(a, src, out, "--cluster", 16, "--min-weights", 100, "--report")
    check("report names each clustered weight", all(w in p.stdout for w in ("w0", "w1", "cw")), p.stdout[-600:])
    check_form(out, src, 16, ["cw", "w0", "w1"])
    ort_match(a, out, inp, run_file(a, out, inp, "mixed_c16", work), "mixed_c16", work)
    out = os.path.join(work, "mixed_gemm.onnx")
    compress(a, src, out, "--cluster", 4, "--cluster-layers", "Gemm,mm0")
    check_form(out, src, 4, ["w0", "w1"])
    # bad arguments: a message and a non-zero exit, no file
    for args, msg in ((["--cluster", "1"], "2..256"), (["--cluster", "300"], "2..256"), ([], "--cluster"),
                      (["--cluster", "16", "--cluster-layers", "nosuch"], "nosuch"), (["--cluster", "x"], "--cluster")):
        bad = os.path.join(work, "bad.onnx")
        if os.path.exists(bad):
            os.remove(bad)
        p = onnxc(a, "compress", src, "-o", bad, *args)
        check("compress %s fails with a message" % " ".join(args),
              p.returncode != 0 and msg in p.stderr and not os.path.exists(bad), p.stderr[-300:])


def bench_models(a, d):
    src = os.path.join(d, "lstm1024")
    os.makedirs(src, exist_ok=True)
    lstm_stack(os.path.join(src, "model.onnx"), 2, 1024, 1024, 32, 1024)
    x = np.random.default_rng(5).standard_normal((32, 1, 1024)).astype(np.float32)
    np.save(os.path.join(src, "input_0.npy"), x)
    dst = os.path.join(d, "lstm1024_c16")
    os.makedirs(dst, exist_ok=True)
    compress(a, os.path.join(src, "model.onnx"), os.path.join(dst, "model.onnx"), "--cluster", 16)
    shutil.copy(os.path.join(src, "input_0.npy"), os.path.join(dst, "input_0.npy"))
    print("wrote %s and %s" % (src, dst))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc")
    ap.add_argument("--aot-model")
    ap.add_argument("--out")
    ap.add_argument("--bench-models")
    a = ap.parse_args()
    if a.aot_model:
        conv_aot_model(a.aot_model)
        return 0
    if not a.onnxc:
        ap.error("--onnxc is required")
    if a.bench_models:
        bench_models(a, a.bench_models)
    else:
        check_all(a, a.out or tempfile.mkdtemp(prefix="onnxc_cluster_"))
    print("cluster models: %s" % ("FAIL (%d)" % len(FAILS) if FAILS else "ok"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
