#!/usr/bin/python3
"""cemit_test.py — `onnxc compile --emit c` end to end: for each model, emit C, build it with gcc
and with clang-19 (-std=c11 -O2 -Wall -Wextra -Werror; clang also with -march=native), link with
driver.c written only against NAME.h, run, and compare with `onnxc run` (the JIT): floats to
rel 1e-5 of the output's largest magnitude, everything else exactly.

  cemit_test.py --onnxc build/onnxc --work DIR [--cases CASES_DIR] [--only NAME...] [--ref-onnxc R]

--ref-onnxc: the onnxc whose JIT gives the expected outputs (default --onnxc; the no-LLVM build's
test, nollvm_test.py, passes an onnxc built with LLVM).
"""
import argparse, concurrent.futures, os, shutil, subprocess, sys, threading, time
import numpy as np

RT_LOCK = threading.Lock()

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
CFLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"]
COMPILERS = [("gcc", ["gcc"] + CFLAGS), ("clang", ["clang-19"] + CFLAGS + ["-march=native"])]

# conformance cases covering every generator family (and control flow, casts, f16)
CASES = [
    "test_tanh", "test_erf", "test_sigmoid", "test_cast_FLOAT_to_FLOAT16", "test_cast_FLOAT16_to_FLOAT",
    "test_cast_DOUBLE_to_FLOAT16", "test_round", "test_isnan", "test_add_bcast", "test_pow", "test_where_example",
    "test_bitshift_right_uint32", "test_mod_mixed_sign_int32", "test_min_float16", "test_max_uint8",
    "test_layer_normalization_4d_axis1", "test_softmax_axis_1", "test_batchnorm_epsilon", "test_instancenorm_example",
    "test_lrn", "test_gemm_default_matrix_bias", "test_matmul_4d", "test_einsum_batch_matmul",
    "test_conv_with_strides_padding", "test_convtranspose", "test_maxpool_2d_pads", "test_averagepool_2d_default",
    "test_reduce_max_do_not_keepdims_example", "test_argmax_keepdims_random", "test_hardmax_example",
    "test_transpose_all_permutations_3", "test_gather_1", "test_concat_3d_axis_1", "test_gathernd_example_float32",
    "test_eyelike_with_dtype", "test_if", "test_scan9_sum", "test_sce_mean_weight",
    "test_nllloss_NCd1d2_with_weight_reduction_mean", "test_maxunpool_export_without_output_shape",
]


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd[:6]), r.stdout[-3000:]))
    return r.stdout


def pb_to_array(path):
    import onnx
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def compare(got, ref):
    if got.dtype.kind == "f" or ref.dtype == np.float16:
        g, r = got.astype(np.float64), ref.astype(np.float64)
        if not np.array_equal(np.isnan(g), np.isnan(r)):
            return "NaNs differ"
        m = np.isfinite(r)
        if not np.array_equal(g[~m & ~np.isnan(r)], r[~m & ~np.isnan(r)]):
            return "infinities differ"
        scale = float(np.max(np.abs(r[m]))) if m.any() else 0.0
        err = float(np.max(np.abs(g[m] - r[m]))) if m.any() else 0.0
        return None if err <= 1e-5 * max(scale, 1e-30) or err == 0 else "max error %.3g (scale %.3g)" % (err, scale)
    return None if np.array_equal(got, ref) else "values differ"


def check_model(a, name, model, inputs, work, threads):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    paths = []
    for k, x in enumerate(inputs):
        p = os.path.join(d, "input_%d.npy" % k)
        np.save(p, x)
        paths.append(p)
    ref_dir = os.path.join(d, "jit")
    run([a.ref_onnxc or a.onnxc, "run", model] + paths + ["-o", ref_dir, "--threads", "1"])
    cdir = os.path.join(d, "c")
    run([a.onnxc, "compile", model, "--emit", "c", "-o", cdir, "--name", "m"])
    for k, x in enumerate(inputs):
        np.ascontiguousarray(x).tofile(os.path.join(d, "input_%d.bin" % k))
    refs = []
    k = 0
    while os.path.exists(os.path.join(ref_dir, "output_%d.npy" % k)):
        refs.append(np.load(os.path.join(ref_dir, "output_%d.npy" % k)))
        k += 1
    fails = []
    for cname, cc in COMPILERS:
        exe = os.path.join(d, "driver_" + cname)
        srcs = sorted(os.path.join(cdir, f) for f in os.listdir(cdir) if f.endswith(".c"))
        # the runtime's sources are the same for every model: compiled once per compiler
        rt = [f for f in srcs if os.path.basename(f).startswith("onnxc_rt_")]
        rt_objs = []
        for f in rt:
            o = os.path.join(a.work, "rt_%s_%s.o" % (cname, os.path.basename(f)[:-2]))
            with RT_LOCK:
                if not os.path.exists(o):
                    run(cc + ["-I" + cdir, "-c", f, "-o", o])
            rt_objs.append(o)
        run(cc + ["-DMODEL=m", "-DMODEL_H=\"m.h\"", "-I" + cdir] + [f for f in srcs if f not in rt] + rt_objs +
            [os.path.join(HERE, "driver.c"), "-o", exe, "-lm", "-lpthread"])
        for f in os.listdir(d):
            if f.startswith("output_"):
                os.unlink(os.path.join(d, f))
        out = subprocess.run([exe, d, str(threads)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if out.returncode:
            fails.append("%s: driver failed: %s" % (cname, out.stdout.strip()[-500:]))
            continue
        for k, ref in enumerate(refs):
            got = np.fromfile(os.path.join(d, "output_%d.bin" % k), dtype=ref.dtype).reshape(ref.shape)
            why = compare(got, ref)
            if why:
                fails.append("%s: output %d: %s" % (cname, k, why))
    return fails


def make_sp24(path):
    """x[64, 256] · W[256, 128] + b, Relu; W 2:4 along K (two of each four rows kept per column, varying)"""
    from onnx import helper, numpy_helper, TensorProto as T, save
    r = np.random.default_rng(24)
    w = r.standard_normal((256, 128)).astype(np.float32)
    g4 = w.reshape(64, 4, 128)
    drop = np.argsort(np.abs(g4), axis=1)[:, :2, :]  # the two smallest of each four
    np.put_along_axis(g4, drop, 0.0, axis=1)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["mm"]), helper.make_node("Add", ["mm", "b"], ["ab"]),
             helper.make_node("Relu", ["ab"], ["y"])]
    inits = [numpy_helper.from_array(g4.reshape(256, 128), "w"),
             numpy_helper.from_array(r.standard_normal(128).astype(np.float32), "b")]
    g = helper.make_graph(nodes, "sp24", [helper.make_tensor_value_info("x", T.FLOAT, [64, 256])],
                          [helper.make_tensor_value_info("y", T.FLOAT, [64, 128])], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def make_misc(path):
    from onnx import helper, numpy_helper, TensorProto as T, save
    c = lambda name, arr: numpy_helper.from_array(np.array(arr), name)
    body = helper.make_graph(
        [helper.make_node("Identity", ["cin"], ["cout"]),
         helper.make_node("Constant", [], ["half"], value=c("h", np.float32(0.5))),
         helper.make_node("Cast", ["it"], ["itf"], to=T.FLOAT),
         helper.make_node("Mul", ["yin", "half"], ["t"]),
         helper.make_node("Add", ["t", "itf"], ["yout"]),
         helper.make_node("ReduceSum", ["yout"], ["scan"], keepdims=0)], "body",
        [helper.make_tensor_value_info("it", T.INT64, []), helper.make_tensor_value_info("cin", T.BOOL, []),
         helper.make_tensor_value_info("yin", T.FLOAT, [2, 3, 8])],
        [helper.make_tensor_value_info("cout", T.BOOL, []), helper.make_tensor_value_info("yout", T.FLOAT, [2, 3, 8]),
         helper.make_tensor_value_info("scan", T.FLOAT, [])])
    nodes = [
        helper.make_node("Loop", ["trips", "cond", "x"], ["loop_y", "loop_scan"], body=body),
        helper.make_node("TopK", ["x", "k"], ["topv", "topi"], axis=-1),
        helper.make_node("CumSum", ["x", "axis"], ["cum"], reverse=1),
        helper.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["sl"]),
        helper.make_node("Resize", ["x", "", "scales"], ["rs"], mode="linear"),
        helper.make_node("Range", ["r0", "r1", "r2"], ["rg"]),
    ]
    inits = [c("trips", np.int64(4)), c("cond", np.bool_(True)), c("k", np.array([3], np.int64)),
             c("axis", np.int64(2)), c("starts", np.array([1, -1], np.int64)), c("ends", np.array([3, 0], np.int64)),
             c("axes", np.array([1, 2], np.int64)), c("steps", np.array([1, -2], np.int64)),
             c("scales", np.array([1, 2, 1.5], np.float32)), c("r0", np.float32(1)), c("r1", np.float32(9)),
             c("r2", np.float32(0.75))]
    outs = [("loop_y", T.FLOAT), ("loop_scan", T.FLOAT), ("topv", T.FLOAT), ("topi", T.INT64), ("cum", T.FLOAT),
            ("sl", T.FLOAT), ("rs", T.FLOAT), ("rg", T.FLOAT)]
    g = helper.make_graph(nodes, "misc", [helper.make_tensor_value_info("x", T.FLOAT, [2, 3, 8])],
                          [helper.make_tensor_value_info(n, t, None) for n, t in outs], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def make_lstm(path):
    # one LSTM of H = 256 at batch 1 with constant weights: its steps run in phases split over
    # threads (gen_rnn.c rnn_slices, onnxc_rt_phases)
    from onnx import helper, numpy_helper, TensorProto as T, save
    r = np.random.default_rng(3)
    T_, I, H = 6, 16, 256
    w = numpy_helper.from_array((r.standard_normal((1, 4 * H, I)) * 0.2).astype(np.float32), "W")
    rr = numpy_helper.from_array((r.standard_normal((1, 4 * H, H)) * 0.1).astype(np.float32), "R")
    b = numpy_helper.from_array((r.standard_normal((1, 8 * H)) * 0.1).astype(np.float32), "B")
    n = helper.make_node("LSTM", ["x", "W", "R", "B"], ["y", "yh", "yc"], hidden_size=H)
    g = helper.make_graph([n], "lstm", [helper.make_tensor_value_info("x", T.FLOAT, [T_, 1, I])],
                          [helper.make_tensor_value_info(v, T.FLOAT, None) for v in ("y", "yh", "yc")], [w, rr, b])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)]), path)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cases", default=None, help="conformance cases folder")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--ref-onnxc", default=None, help="onnxc whose `run` gives the expected outputs")
    a = ap.parse_args(argv)
    a.onnxc = os.path.abspath(a.onnxc)
    os.makedirs(a.work, exist_ok=True)
    # runtime objects are shared by this run's models only: an earlier run's may be of older sources
    for f in os.listdir(a.work):
        if f.startswith("rt_") and f.endswith(".o"):
            os.unlink(os.path.join(a.work, f))
    rng = np.random.default_rng(0)
    todo = []
    # the bundled CNN and a small transformer encoder (examples/)
    cnn = os.path.join(SRC, "examples", "cnn", "model.onnx")
    todo.append(("cnn", cnn, lambda: [rng.standard_normal((1, 1, 28, 28)).astype(np.float32)], 2))
    mdir = os.path.join(a.work, "models")
    if not os.path.exists(os.path.join(mdir, "encoder", "model.onnx")):
        run([sys.executable, os.path.join(SRC, "examples", "make_models.py"), mdir, "encoder"])
    enc = os.path.join(mdir, "encoder")
    todo.append(("encoder", os.path.join(enc, "model.onnx"),
                 lambda: [np.load(os.path.join(enc, "input_0.npy"))], 2))
    # float -> bfloat16 -> float (onnx run cannot write bfloat16 outputs)
    bf = os.path.join(a.work, "models", "bf16.onnx")
    if not os.path.exists(bf):
        from onnx import helper, TensorProto, save
        g = helper.make_graph(
            [helper.make_node("Cast", ["x"], ["h"], to=TensorProto.BFLOAT16),
             helper.make_node("Cast", ["h"], ["y"], to=TensorProto.FLOAT)], "bf16",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [37])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [37])])
        save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), bf)
    todo.append(("bf16", bf, lambda: [np.concatenate([rng.standard_normal(33) * 1e3, [np.nan, np.inf, -0.0, 3e38]])
                                       .astype(np.float32)], 1))
    # int8: the QDQ conv net of tests/models/qdq_models.py on the int8 kernels (qdq pass)
    qdq = os.path.join(a.work, "models", "qdq")
    if not os.path.exists(os.path.join(qdq, "model.onnx")):
        run([sys.executable, os.path.join(SRC, "tests", "models", "qdq_models.py"), "small", "--out", qdq])
    todo.append(("qdq", os.path.join(qdq, "model.onnx"), lambda: [np.load(os.path.join(qdq, "input_0.npy"))], 1))
    # sparse: mostly-zero 1×1 and 3×3 convs on the sparse conv kernels (gen_sparse_conv.c)
    spc = os.path.join(a.work, "models", "spconv")
    if not os.path.exists(os.path.join(spc, "model.onnx")):
        run([sys.executable, os.path.join(SRC, "tests", "models", "sparse_conv_models.py"), spc])
    todo.append(("spconv", os.path.join(spc, "model.onnx"), lambda: [np.load(os.path.join(spc, "input_0.npy"))], 2))
    # sparse MatMul: a 2:4 weight on gen_sparse.c's column-pair kernel (G = 2, k-blocked), 2 threads
    sp24 = os.path.join(a.work, "models", "sp24.onnx")
    if not os.path.exists(sp24):
        make_sp24(sp24)
    todo.append(("sp24", sp24, lambda: [rng.standard_normal((64, 256)).astype(np.float32)], 2))
    # ops whose conformance cases pass shape-giving values as inputs (AOT needs them constant):
    # Loop, TopK, CumSum, Slice, Resize, Range with constant parameters
    misc = os.path.join(a.work, "models", "misc.onnx")
    if not os.path.exists(misc):
        make_misc(misc)
    todo.append(("misc", misc, lambda: [rng.standard_normal((2, 3, 8)).astype(np.float32)], 2))
    lstm = os.path.join(a.work, "models", "lstm_split.onnx")
    if not os.path.exists(lstm):
        make_lstm(lstm)
    todo.append(("lstm_split", lstm, lambda: [rng.standard_normal((6, 1, 16)).astype(np.float32)], 2))
    if a.cases and any(not os.path.isdir(os.path.join(a.cases, c)) for c in CASES):
        # the conformance suite's generator (copies the cases python3-onnx ships)
        run([sys.executable, os.path.join(SRC, "tests", "conformance", "gen_cases.py"), a.cases])
    if a.cases:
        for c in CASES:
            if not os.path.isdir(os.path.join(a.cases, c)):
                print("FAIL: conformance case %s not found in %s" % (c, a.cases))
                return 1
            todo.append((c, os.path.join(a.cases, c, "model.onnx"), None, 1))
    failed = 0
    t0 = time.time()

    def one(item):
        name, model, gen, threads = item
        if gen is not None:
            inputs = gen()
        else:
            td = os.path.join(os.path.dirname(model), "test_data_set_0")
            inputs, k = [], 0
            while os.path.exists(os.path.join(td, "input_%d.pb" % k)):
                inputs.append(pb_to_array(os.path.join(td, "input_%d.pb" % k)))
                k += 1
        try:
            return check_model(a, name, model, inputs, a.work, threads)
        except RuntimeError as e:
            return [str(e)]

    todo = [t for t in todo if not a.only or t[0] in a.only]
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = {ex.submit(one, t): t[0] for t in todo}
        for f in concurrent.futures.as_completed(futs):
            fails = f.result()
            print("%-4s %s %s" % ("ok" if not fails else "FAIL", futs[f], "; ".join(fails)), flush=True)
            failed += bool(fails)
    print("%d failed, %.0f s" % (failed, time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
