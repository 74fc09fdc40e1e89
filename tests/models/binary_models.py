#!/usr/bin/python3
"""Binary (XNOR-Net) convolutions: models built with onnx.helper (fixed seed) whose Conv weights
are ±α per output channel and whose Conv input is Sign(x) or Where(x >= 0, 1, -1), the forms
torch exports.  onnxc runs them on xor + popcount kernels (passes/binary.c,
backend/gen/gen_binary_conv.c); the check compares `onnxc run` with and without
`--disable-pass binary` and with an exact numpy reference (integer dot products times α, in
float64), over shapes with channel remainders, padding, stride 2, dilation, batch 2, a folded
BatchNorm, a fused residual + Relu, and inputs with exact zeros (Sign(0) = 0); two cases also
through the C emitter (`onnxc compile --emit c`, gcc, tests/cemit/driver.c) against the JIT.

  binary_models.py --onnxc PATH [--out DIR]            the correctness check (ctest binary_models)
  binary_models.py --bench-models DIR                  writes bin256.onnx (Sign → binary 3×3 conv
      256→256 at 28×28) and fp256.onnx (the same conv in fp32) + input_0.npy for `onnxc bench`,
      and bnn18.onnx / fp18.onnx (a binarized ResNet-18-style CNN at 224×224 and its fp32 twin)
      + input_224.npy
  binary_models.py --small DIR                         a small binarized net (binary convs and a
      binary Gemm) + input_0.npy for the aot test (JIT vs library, x86 and aarch64 under qemu)"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# name, N, C, O, H, W, kernel, stride, pad, dilation, form, bias, bn, residual + relu
CASES = [
    ("c70_o37_pad1", 1, 70, 37, 9, 11, 3, 1, 1, 1, "sign", True, True, False),
    ("c130_o16_s2_where", 1, 130, 16, 15, 13, 3, 2, 1, 1, "where", False, False, False),
    ("c64_o8_1x1", 2, 64, 8, 8, 8, 1, 1, 0, 1, "sign", False, False, False),
    ("c5_o6_5x5_dil2", 1, 5, 6, 10, 17, 5, 1, 2, 2, "sign", True, False, True),
    ("c200_o9_s2_pad0", 2, 200, 9, 12, 9, 3, 2, 0, 1, "sign", True, True, True),
    # 10 columns: vectors of flattened pixels span rows (gen_binary_conv.c's im2col)
    ("c96_o20_w10", 1, 96, 20, 5, 10, 3, 1, 1, 1, "sign", True, False, True),
    # stride 2 packs phases by two loads and a shuffle; 1×1 reads one phase and every other row
    ("c70_o24_1x1_s2", 2, 70, 24, 11, 13, 1, 2, 0, 1, "sign", True, True, True),
    ("c33_o10_s2_dil2", 1, 33, 10, 12, 19, 3, 2, 2, 2, "sign", False, False, False),
    ("c40_o8_s3_where", 1, 40, 8, 13, 14, 3, 3, 1, 1, "where", False, False, False),  # a gather per channel
    # no zero input ("_nz"): inside the image the kernel's xor-only arm (the inputs above have zeros
    # nearly everywhere, so they take the nz arm), at the border the xor-only arm with popcount(w)
    # taken back at the padding lanes; 256 channels in 4 words, 130 in 3, output channels past a block
    ("c256_o20_nz", 1, 256, 20, 9, 11, 3, 1, 1, 1, "sign", True, False, False),
    ("c130_o12_s2_nz", 2, 130, 12, 10, 9, 3, 2, 1, 1, "sign", False, True, True),
]


def pm_alpha(r, o, c, k):
    """weights ±α_o, α_o > 0 per output channel"""
    alpha = (r.uniform(0.05, 0.5, size=(o, 1, 1, 1))).astype(np.float32)
    return (np.where(r.standard_normal((o, c, k, k)) >= 0, 1, -1) * alpha).astype(np.float32)


def conv_model(path, case, seed, identity=True):
    """identity: the output through an Identity node (the checks' models); the benchmark's bin256
    writes Y from the Conv itself, as its fp32 twin fp256 does (an Identity is a copy of Y)"""
    name, n, c, o, h, w, k, s, p, d, form, bias, bn, res = case
    r = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(pm_alpha(r, o, c, k), "W")]
    nodes = []
    if form == "sign":
        nodes.append(helper.make_node("Sign", ["X"], ["xb"]))
    else:
        inits += [numpy_helper.from_array(np.array(0, np.float32), "zero"),
                  numpy_helper.from_array(np.array(1, np.float32), "one"),
                  numpy_helper.from_array(np.array(-1, np.float32), "mone")]
        nodes += [helper.make_node("GreaterOrEqual", ["X", "zero"], ["ge"]),
                  helper.make_node("Where", ["ge", "one", "mone"], ["xb"])]
    conv_in = ["xb", "W"]
    if bias:
        inits.append(numpy_helper.from_array(r.standard_normal(o).astype(np.float32), "B"))
        conv_in.append("B")
    nodes.append(helper.make_node("Conv", conv_in, ["y0"], kernel_shape=[k, k], strides=[s, s],
                                  pads=[p, p, p, p], dilations=[d, d]))
    last = "y0"
    if bn:
        for nm, v in (("g", r.uniform(-1.5, 1.5, o)), ("be", r.standard_normal(o)), ("m", r.standard_normal(o)),
                      ("v", r.uniform(0.5, 2, o))):
            inits.append(numpy_helper.from_array(v.astype(np.float32), nm))
        nodes.append(helper.make_node("BatchNormalization", [last, "g", "be", "m", "v"], ["y1"]))
        last = "y1"
    oh = (h + 2 * p - d * (k - 1) - 1) // s + 1
    ow = (w + 2 * p - d * (k - 1) - 1) // s + 1
    inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [n, c, h, w])]
    if res:
        inputs.append(helper.make_tensor_value_info("R", TensorProto.FLOAT, [n, o, oh, ow]))
        nodes += [helper.make_node("Add", [last, "R"], ["y2"]), helper.make_node("Relu", ["y2"], ["y3"])]
        last = "y3"
    if identity:
        nodes.append(helper.make_node("Identity", [last], ["Y"]))
    else:
        nodes[-1].output[0] = "Y"
    g = helper.make_graph(nodes, name, inputs, [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n, o, oh, ow])],
                          inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return {i.name: numpy_helper.to_array(i) for i in inits}, (oh, ow)


def reference(case, ws, x, rr):
    """exact: Σ sign(x)·sign(w) as integers (float64), times α, + bias; then BN, residual, relu"""
    name, n, c, o, h, w, k, s, p, d, form, bias, bn, res = case
    xb = np.sign(x) if form == "sign" else np.where(x >= 0, 1.0, -1.0)
    xp = np.pad(xb.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p)))
    W = ws["W"].astype(np.float64)
    oh = (h + 2 * p - d * (k - 1) - 1) // s + 1
    ow = (w + 2 * p - d * (k - 1) - 1) // s + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i * d:i * d + s * (oh - 1) + 1:s, j * d:j * d + s * (ow - 1) + 1:s]
            y += np.einsum("nchw,oc->nohw", patch, W[:, :, i, j])
    if bias:
        y += ws["B"][None, :, None, None]
    if bn:
        sc = ws["g"] / np.sqrt(ws["v"].astype(np.float64) + 1e-5)
        y = (y - ws["m"][None, :, None, None]) * sc[None, :, None, None] + ws["be"][None, :, None, None]
    if res:
        y = np.maximum(y + rr, 0)
    return y


def run(onnxc, model, inputs, od, extra):
    cmd = [onnxc, "run", model, "-o", od] + extra
    for k, v in inputs.items():
        cmd += ["-i", "%s=%s" % (k, v)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        print("onnxc failed: %s\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
        return None
    return np.load(os.path.join(od, "output_0.npy"))


# binary MatMul/Gemm (gen_binary_gemm): name, M, K, N, op, transB, bias
GEMMS = [
    ("mm_m3_k200_n37", 3, 200, 37, "MatMul", 0, False),
    ("gemm_m1_k512_n1000_tb_bias", 1, 512, 1000, "Gemm", 1, True),
    ("gemm_m2_k70_n9_bias", 2, 70, 9, "Gemm", 0, True),
]


def gemm_model(path, case, seed):
    """Sign(X) · B with B's column n = ±α_n (+ a bias for Gemm)"""
    name, m, k, n, op, tb, bias = case
    r = np.random.default_rng(seed)
    b = (np.where(r.standard_normal((k, n)) >= 0, 1, -1) * r.uniform(0.05, 0.5, size=(1, n))).astype(np.float32)
    inits = [numpy_helper.from_array(np.ascontiguousarray(b.T) if tb else b, "B")]
    ins = ["xb", "B"]
    if bias:
        inits.append(numpy_helper.from_array(r.standard_normal(n).astype(np.float32), "C"))
        ins.append("C")
    attrs = {"transB": 1} if op == "Gemm" and tb else {}
    nodes = [helper.make_node("Sign", ["X"], ["xb"]), helper.make_node(op, ins, ["Y"], **attrs)]
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [m, k])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [m, n])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return b, (inits[1] if bias else None)


def check_gemms(onnxc, out):
    """each GEMMS case against numpy in float64 (exact integer dots × α), and the float path"""
    bad = 0
    for ci, case in enumerate(GEMMS):
        name, m, k, n = case[:4]
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        model = os.path.join(d, "model.onnx")
        b, bias = gemm_model(model, case, 300 + ci)
        r = np.random.default_rng(400 + ci)
        x = (r.integers(-1, 2, size=(m, k)) * r.uniform(0.1, 2, size=(m, k))).astype(np.float32)
        np.save(os.path.join(d, "x.npy"), x)
        want = np.sign(x).astype(np.float64) @ b.astype(np.float64)
        if bias is not None:
            want += numpy_helper.to_array(bias)
        bad += judge(onnxc, model, d, name, {"X": os.path.join(d, "x.npy")}, want, [x] if ci == 0 else None)
    return bad


HERE = os.path.dirname(os.path.abspath(__file__))
CEMIT = ("c70_o37_pad1", "c200_o9_s2_pad0", "c70_o24_1x1_s2", "c256_o20_nz")


def cemit(onnxc, model, d, arrays, want):
    """the C emitter's kernel (kb_popcount as __builtin_popcountll) built with gcc: same output"""
    cdir = os.path.join(d, "c")
    p = subprocess.run([onnxc, "compile", model, "--emit", "c", "-o", cdir, "--name", "m"], capture_output=True, text=True)
    if p.returncode:
        return "compile --emit c failed: " + p.stderr[-500:]
    for k, x in enumerate(arrays):
        x.tofile(os.path.join(d, "input_%d.bin" % k))
    exe = os.path.join(d, "driver")
    srcs = sorted(os.path.join(cdir, f) for f in os.listdir(cdir) if f.endswith(".c"))
    p = subprocess.run(["gcc", "-std=c11", "-O2", "-DMODEL=m", "-DMODEL_H=\"m.h\"", "-I" + cdir] + srcs +
                       [os.path.join(HERE, "..", "cemit", "driver.c"), "-o", exe, "-lm", "-lpthread"],
                       capture_output=True, text=True)
    if p.returncode:
        return "gcc failed: " + p.stderr[-500:]
    p = subprocess.run([exe, d, "1"], capture_output=True, text=True)
    if p.returncode:
        return "driver failed: " + (p.stdout + p.stderr)[-500:]
    got = np.fromfile(os.path.join(d, "output_0.bin"), dtype=np.float32).reshape(want.shape)
    return None if np.array_equal(got, want) else "C output differs from the JIT's by %.3g" % np.abs(got - want).max()


def check(onnxc, out):
    bad = 0
    for ci, case in enumerate(CASES):
        name, n, c, o, h, w = case[:6]
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        model = os.path.join(d, "model.onnx")
        ws, (oh, ow) = conv_model(model, case, 100 + ci)
        r = np.random.default_rng(200 + ci)
        # a third of the inputs exactly 0 (Sign(0) = 0; Where(0 >= 0) = 1), the rest ±; none for "_nz"
        sg = r.choice([-1, 1], size=(n, c, h, w)) if name.endswith("_nz") else r.integers(-1, 2, size=(n, c, h, w))
        x = (sg * r.uniform(0.1, 2, size=(n, c, h, w))).astype(np.float32)
        rr = r.standard_normal((n, o, oh, ow)).astype(np.float32)
        inputs = {"X": os.path.join(d, "x.npy")}
        np.save(inputs["X"], x)
        if case[13]:
            inputs["R"] = os.path.join(d, "r.npy")
            np.save(inputs["R"], rr)
        want = reference(case, ws, x, rr)
        bad += judge(onnxc, model, d, name, inputs, want, ([x, rr] if case[13] else [x]) if name in CEMIT else None)
    return bad


def judge(onnxc, model, d, name, inputs, want, cemit_arrays):
    """onnxc run with and without the binary pass against the exact reference (and the C emitter's
    build against the JIT when cemit_arrays is given); prints a line, returns 1 on failure"""
    got = run(onnxc, model, inputs, os.path.join(d, "bin"), [])
    flt = run(onnxc, model, inputs, os.path.join(d, "float"), ["--disable-pass", "binary"])
    if got is None or flt is None:
        return 1
    # the binary kernel rounds α·dot once (plus the folded BN's scale and bias): within a few
    # fp32 ulps of the exact value; the float path sums K products in fp32
    scale = np.abs(want).max() + 1
    eb = np.abs(got - want).max() / scale
    ef = np.abs(flt - want).max() / scale
    ok = got.shape == want.shape and eb <= 4e-6 and ef <= 1e-4
    why = cemit(onnxc, model, d, cemit_arrays, got) if cemit_arrays is not None else None
    ok = ok and not why
    print("%-26s binary err %.2e  float err %.2e  %s%s" % (name, eb, ef, "ok" if ok else "FAIL",
                                                        " (C emitter: same)" if cemit_arrays is not None and not why
                                                        else " " + why if why else ""))
    return 0 if ok else 1


def bench_models(out):
    """Sign → binary 3×3 conv 256→256 at 28×28, and the same conv in fp32 on float weights"""
    os.makedirs(out, exist_ok=True)
    case = ("bin256", 1, 256, 256, 28, 28, 3, 1, 1, 1, "sign", True, False, False)
    conv_model(os.path.join(out, "bin256.onnx"), case, 1, identity=False)
    r = np.random.default_rng(2)
    inits = [numpy_helper.from_array((r.standard_normal((256, 256, 3, 3)) * 0.05).astype(np.float32), "W"),
             numpy_helper.from_array(r.standard_normal(256).astype(np.float32), "B")]
    g = helper.make_graph([helper.make_node("Conv", ["X", "W", "B"], ["Y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
                          "fp256", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 256, 28, 28])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 256, 28, 28])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(out, "fp256.onnx"))
    np.save(os.path.join(out, "input_0.npy"), r.standard_normal((1, 256, 28, 28)).astype(np.float32))
    resnet18_style(os.path.join(out, "bnn18.onnx"), True, 3)
    resnet18_style(os.path.join(out, "fp18.onnx"), False, 3)
    np.save(os.path.join(out, "input_224.npy"), r.standard_normal((1, 3, 224, 224)).astype(np.float32))


def small_model(out):
    """a small binarized net for the aot and cemit tests (tests/aot/aot_test.py): Sign → binary 3×3
    conv 16→32 + BN + Relu → Sign → binary 3×3/2 conv 32→32 + BN → Flatten → Sign → binary Gemm
    800→10 (transB, bias); input with exact zeros.  Writes OUT/model.onnx and OUT/input_0.npy"""
    os.makedirs(out, exist_ok=True)
    r = np.random.default_rng(7)
    inits = [numpy_helper.from_array(pm_alpha(r, 32, 16, 3), "w1"), numpy_helper.from_array(pm_alpha(r, 32, 32, 3), "w2")]
    for k in "12":  # BatchNorms with offsets: an integer dot of 0 (common) is not left at a Sign's tie
        for nm, v in (("g", r.uniform(0.5, 1.5, 32)), ("be", r.standard_normal(32)), ("m", r.standard_normal(32)),
                      ("v", r.uniform(0.5, 2, 32))):
            inits.append(numpy_helper.from_array(v.astype(np.float32), nm + k))
    fc = np.where(r.standard_normal((10, 800)) >= 0, 1, -1) * r.uniform(0.05, 0.5, size=(10, 1))
    inits += [numpy_helper.from_array(fc.astype(np.float32), "fc"),
              numpy_helper.from_array(r.standard_normal(10).astype(np.float32), "fcb")]
    mk = helper.make_node
    nodes = [mk("Sign", ["X"], ["s1"]), mk("Conv", ["s1", "w1"], ["c1"], kernel_shape=[3, 3], pads=[1] * 4),
             mk("BatchNormalization", ["c1", "g1", "be1", "m1", "v1"], ["b1"]), mk("Relu", ["b1"], ["r1"]),
             mk("Sign", ["r1"], ["s2"]),
             mk("Conv", ["s2", "w2"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
             mk("BatchNormalization", ["c2", "g2", "be2", "m2", "v2"], ["r2"]), mk("Flatten", ["r2"], ["f"]),
             mk("Sign", ["f"], ["s3"]),
             mk("Gemm", ["s3", "fc", "fcb"], ["Y"], transB=1)]
    g = helper.make_graph(nodes, "bnn_small", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 16, 10, 10])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 10])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(out, "model.onnx"))
    x = (r.integers(-1, 2, size=(1, 16, 10, 10)) * r.uniform(0.1, 2, size=(1, 16, 10, 10))).astype(np.float32)
    np.save(os.path.join(out, "input_0.npy"), x)


def resnet18_style(path, binary, seed):
    """ResNet-18 layout: fp32 stem (7×7/2 conv, BN, Relu, max pool), 4 stages × 2 basic blocks
    (64, 128, 256, 512 channels; stride 2 and a 1×1/2 projection from stage 2), average pool, fp32
    FC.  binary: every block conv reads Sign(x) and has ±α weights (XNOR-Net); else plain fp32."""
    r = np.random.default_rng(seed)
    nodes, inits = [], []
    cnt = [0]

    def name(p):
        cnt[0] += 1
        return "%s%d" % (p, cnt[0])

    def conv(x, cin, cout, k, s, pad, binw):
        w = name("w")
        if binw:
            inits.append(numpy_helper.from_array(pm_alpha(r, cout, cin, k), w))
            sx = name("sign")
            nodes.append(helper.make_node("Sign", [x], [sx]))
            x = sx
        else:
            inits.append(numpy_helper.from_array((r.standard_normal((cout, cin, k, k)) *
                                                  np.sqrt(2.0 / (cin * k * k))).astype(np.float32), w))
        y = name("conv")
        nodes.append(helper.make_node("Conv", [x, w], [y], kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4))
        return bnorm(y, cout)

    def bnorm(x, c):
        ps = [name(p) for p in "gbmv"]
        for nm, v in zip(ps, (r.uniform(0.5, 1.5, c), r.standard_normal(c) * 0.1, r.standard_normal(c) * 0.1,
                              r.uniform(0.5, 2, c))):
            inits.append(numpy_helper.from_array(v.astype(np.float32), nm))
        y = name("bn")
        nodes.append(helper.make_node("BatchNormalization", [x] + ps, [y]))
        return y

    def relu(x):
        y = name("relu")
        nodes.append(helper.make_node("Relu", [x], [y]))
        return y

    x = relu(conv("X", 3, 64, 7, 2, 3, False))
    nodes.append(helper.make_node("MaxPool", [x], ["pool"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4))
    x, cin = "pool", 64
    for stage, cout in enumerate((64, 128, 256, 512)):
        for blk in range(2):
            s = 2 if stage and not blk else 1
            h = relu(conv(x, cin, cout, 3, s, 1, binary))
            h = conv(h, cout, cout, 3, 1, 1, binary)
            sc = conv(x, cin, cout, 1, s, 0, binary) if s != 1 or cin != cout else x
            a = name("add")
            nodes.append(helper.make_node("Add", [h, sc], [a]))
            x, cin = relu(a), cout
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    inits += [numpy_helper.from_array((r.standard_normal((512, 1000)) * 0.03).astype(np.float32), "fc_w"),
              numpy_helper.from_array(np.zeros(1000, np.float32), "fc_b")]
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["Y"]))
    g = helper.make_graph(nodes, "bnn18" if binary else "fp18",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, 224, 224])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 1000])], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc")
    ap.add_argument("--out")
    ap.add_argument("--bench-models")
    ap.add_argument("--small", help="write a small binarized net (model.onnx, input_0.npy) to this folder")
    a = ap.parse_args()
    if a.bench_models:
        bench_models(a.bench_models)
        return 0
    if a.small:
        small_model(a.small)
        return 0
    if not a.onnxc:
        ap.error("--onnxc is required")
    out = a.out or tempfile.mkdtemp(prefix="onnxc_binary_")
    bad = check(a.onnxc, out) + check_gemms(a.onnxc, out)
    print("binary models: %s" % ("FAIL" if bad else "ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
