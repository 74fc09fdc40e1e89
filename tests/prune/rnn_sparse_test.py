"""rnn_sparse_test.py — pruned LSTM/GRU/RNN weights (lib/prune.c's RNN layers, the sparse W / R
kernels of backend/gen/gen_sparse_rnn.c).  Small stacks made here with the onnx package (fixed
seed).  Checked:
1. onnxc prune lists an RNN node's W and R as two layers and prunes both to the sparsity asked
   (unstructured and block:1x16), and onnxc info names the kernel the backend picks for each;
2. the cost rule takes the sparse forms on the pruned weights: the permuted windows (perm) for
   unstructured 90%, the broadcast blocks (block) for 1x16 blocks, and dense on the dense file;
3. the sparse kernels give the dense kernels' results (--disable-pass sparse, rel 1e-5) and
   ONNX Runtime's on the same pruned file (rel 1e-3), unidirectional and bidirectional, batch 1
   and 3, LSTM, GRU (both linear_before_reset), RNN, an input size that is not a multiple of 16;
4. --recalibrate leaves the recurrent layers alone and still writes the file;
5. the C emitter's code for AVX-512 (perm and block forms) gives the JIT's results.
`rnn_sparse_test.py --aot-model DIR` writes the pruned LSTM tests/aot builds as a library (x86 and
aarch64 under qemu)."""
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from cemit_check import cemit_match  # noqa: E402
from checks import check, summary, work_args  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ORT = os.path.join(HERE, "..", "..", "bench", "ort")


def stack(path, op, hidden, inp, steps, batch, ndir, seed, lbr=0):
    """two layers of op (LSTM, GRU, RNN), X [steps, batch, inp] -> Y [steps, ndir, batch, hidden]"""
    r = np.random.default_rng(seed)
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    extra = {"linear_before_reset": lbr} if op == "GRU" else {}
    if ndir == 2:
        extra["direction"] = "bidirectional"
    nodes, inits, x, cin = [], [], "X", inp
    for li in range(2):
        s = 1 / np.sqrt(hidden)
        u = lambda *d: r.uniform(-s, s, d).astype(np.float32)  # noqa: E731
        inits += [numpy_helper.from_array(u(ndir, gates * hidden, cin), "W%d" % li),
                  numpy_helper.from_array(u(ndir, gates * hidden, hidden), "R%d" % li),
                  numpy_helper.from_array(u(ndir, 2 * gates * hidden), "B%d" % li)]
        nodes.append(helper.make_node(op, [x, "W%d" % li, "R%d" % li, "B%d" % li], ["Y%d" % li],
                                      hidden_size=hidden, name="rnn%d" % li, **extra))
        nodes.append(helper.make_node("Transpose", ["Y%d" % li], ["T%d" % li], perm=[0, 2, 1, 3]))
        nodes.append(helper.make_node("Reshape", ["T%d" % li, "shp"], ["S%d" % li]))
        x, cin = "S%d" % li, ndir * hidden
    inits.append(numpy_helper.from_array(np.array([steps, batch, ndir * hidden], np.int64), "shp"))
    nodes.append(helper.make_node("Identity", [x], ["Y"]))
    g = helper.make_graph(nodes, "rnns", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [steps, batch, inp])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [steps, batch, ndir * hidden])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def onnxc(a, *args):
    return subprocess.run([a.onnxc] + [str(x) for x in args], capture_output=True, text=True)


def run(a, model, inp, out, *extra):
    p = onnxc(a, "run", model, inp, "-o", out, "--threads", "1", *extra)
    if not check("%s runs in onnxc %s" % (os.path.basename(model), " ".join(extra)), p.returncode == 0, p.stderr[-400:]):
        return None
    return np.load(os.path.join(out, "output_0.npy"))


def rel(x, y):
    return float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-30))


def kernels(a, model):
    """onnxc info's kernel column of the model's recurrent layers"""
    p = onnxc(a, "info", model)
    return re.findall(r"^\s+(?:LSTM|GRU|RNN)\s.*kernel: (\w+(?: \w+)?)", p.stdout, re.M)


def case(a, work, tag, op, hidden, inp, batch, ndir, lbr, structure, sparsity, want, cemit=False):
    src = os.path.join(work, tag + ".onnx")
    stack(src, op, hidden, inp, 7, batch, ndir, 5, lbr)
    x = os.path.join(work, tag + "_in.npy")
    np.save(x, np.random.default_rng(9).standard_normal((7, batch, inp)).astype(np.float32))
    out = os.path.join(work, tag + "_pruned.onnx")
    p = onnxc(a, "prune", src, "-o", out, "--sparsity", sparsity, "--structure", structure, "--per-layer", "--report")
    if not check("%s: onnxc prune %s %s" % (tag, structure, sparsity), p.returncode == 0, p.stderr[-400:]):
        return
    check("%s: W and R of both nodes are layers, all pruned" % tag, "pruned 4 of 4 layers" in p.stdout, p.stdout[-600:])
    m = onnx.load(out)
    for t in m.graph.initializer:
        if t.name[0] in "WR":
            z = float((numpy_helper.to_array(t) == 0).mean())
            check("%s: %s sparsity %.3f" % (tag, t.name, z), abs(z - float(sparsity)) < 0.01)
            if structure == "block:1x16":  # 16 neighbouring gate units of one k: whole blocks
                w = numpy_helper.to_array(t)
                blocks = (w.reshape(-1, w.shape[-1]).T.reshape(w.shape[-1], -1, 16) != 0).sum(axis=2)
                check("%s: %s zeros in whole 1x16 blocks" % (tag, t.name), np.all((blocks == 0) | (blocks == 16)))
    ks = kernels(a, out)
    check("%s: onnxc info names the kernels %s (want %s)" % (tag, ks, want), len(ks) == 4 and all(k == want for k in ks))
    got = run(a, out, x, os.path.join(work, tag + "_o"))
    ref = run(a, out, x, os.path.join(work, tag + "_d"), "--disable-pass", "sparse")
    if got is not None and ref is not None:
        check("%s: the sparse kernels equal the dense ones (rel %.2g)" % (tag, rel(got, ref)), rel(got, ref) <= 1e-5)
    if cemit:  # the sparse forms in C (perm: its vpermps lane by lane, `[... & 15]`), against the JIT
        cemit_match(a.onnxc, out, np.load(x), got, tag, work, check, "& 15]" if want == "sparse perm" else None)
    if got is None or not os.path.isdir(os.path.join(ORT, "node_modules", "onnxruntime-node")):
        return print("skip: %s against ONNX Runtime" % tag)
    d = os.path.join(work, tag + "_ort")
    q = subprocess.run(["node", os.path.join(ORT, "run_ort.js"), out, d, x], capture_output=True, text=True)
    if check("%s runs in ONNX Runtime" % tag, q.returncode == 0, q.stderr[-400:]):
        want_y = np.load(os.path.join(d, "output_0.npy"))
        check("%s: onnxc matches ONNX Runtime (rel %.2g)" % (tag, rel(got, want_y)), rel(got, want_y) <= 1e-3)


def aot_model(d):
    """DIR/model.onnx + input_0.npy for tests/aot (AOT libraries, aarch64 under qemu): a 2-layer
    LSTM whose W and R arrive 90% zero (smallest magnitudes), so the sparse kernels take them
    without onnxc prune"""
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "dense.onnx")
    stack(src, "LSTM", 64, 48, 7, 1, 1, 5)
    m = onnx.load(src)
    for t in m.graph.initializer:
        if t.name[0] in "WR":
            w = numpy_helper.to_array(t).copy()
            w[np.abs(w) < np.quantile(np.abs(w), 0.9)] = 0
            t.CopyFrom(numpy_helper.from_array(w, t.name))
    onnx.save(m, os.path.join(d, "model.onnx"))
    np.save(os.path.join(d, "input_0.npy"), np.random.default_rng(9).standard_normal((7, 1, 48)).astype(np.float32))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--aot-model":
        return aot_model(sys.argv[2]) or 0
    a = work_args()
    case(a, a.work, "lstm_u90", "LSTM", 64, 48, 1, 1, 0, "unstructured", "0.9", "sparse perm", cemit=True)
    case(a, a.work, "lstm_bi_b3_blk", "LSTM", 64, 48, 3, 2, 0, "block:1x16", "0.8", "sparse block")
    case(a, a.work, "gru_bi_u90", "GRU", 48, 32, 1, 2, 0, "unstructured", "0.9", "sparse perm")
    case(a, a.work, "gru_lbr_blk", "GRU", 64, 48, 3, 1, 1, "block:1x16", "0.8", "sparse block", cemit=True)
    case(a, a.work, "rnn_u90", "RNN", 64, 48, 1, 1, 0, "unstructured", "0.9", "sparse perm")
    # an input size not a multiple of 16: W's windows would read past X's rows (block or dense), R perm
    src = os.path.join(a.work, "gru_i40.onnx")
    stack(src, "GRU", 64, 40, 7, 1, 1, 5)
    out = os.path.join(a.work, "gru_i40_pruned.onnx")
    p = onnxc(a, "prune", src, "-o", out, "--sparsity", "0.9", "--structure", "unstructured", "--per-layer")
    ks = kernels(a, out) if p.returncode == 0 else []
    check("gru_i40: W of layer 0 not perm, R perm (%s)" % ks, len(ks) == 4 and ks[0] != "sparse perm" and ks[1] == "sparse perm")
    x = os.path.join(a.work, "gru_i40_in.npy")
    np.save(x, np.random.default_rng(3).standard_normal((7, 1, 40)).astype(np.float32))
    got, ref = run(a, out, x, os.path.join(a.work, "gru_i40_o")), run(a, out, x, os.path.join(a.work, "gru_i40_d"), "--disable-pass", "sparse")
    if got is not None and ref is not None:
        check("gru_i40: the sparse kernels equal the dense ones (rel %.2g)" % rel(got, ref), rel(got, ref) <= 1e-5)
    # the dense file: dense kernels
    ks = kernels(a, src)
    check("the dense file: dense kernels (%s)" % ks, len(ks) == 4 and all(k == "dense" for k in ks))
    # --recalibrate: the recurrent layers are not rescaled, the file is written
    out = os.path.join(a.work, "recal.onnx")
    p = onnxc(a, "prune", src, "-o", out, "--sparsity", "0.5", "--structure", "unstructured", "--recalibrate")
    check("--recalibrate on recurrent layers leaves them alone", p.returncode == 0 and os.path.exists(out) and
          "recalibrated" not in p.stdout, (p.stdout + p.stderr)[-400:])
    return summary("rnn sparse")


if __name__ == "__main__":
    sys.exit(main())
