#!/usr/bin/python3
"""aot_test.py — ahead-of-time compilation end to end.

  aot_test.py --onnxc build/onnxc --work DIR [--quick]

For ResNet-18 (torchvision export), an LSTM unrolled from primitives, a BERT-style encoder and
the bundled CNN: `onnxc compile` -> libNAME.so + NAME.h; a C program written only against NAME.h
(tests/aot/driver.c) runs it (two instances on two threads, error paths) and must reproduce
`onnxc run`'s outputs (bit-exact or within 1e-5 relative). tests/aot/rtcheck.c checks the run-time
input checks of NAME_run_tensors and a Gather index out of range (shared library with guard pages;
--emit c under ASan+UBSan). Also: ldd shows no LLVM/protobuf;
--weights-file; --emit obj/lib (two models statically linked into one program), llvm, asm;
--target x86-64-avx2; --target aarch64 run under qemu-aarch64 against the x86 outputs.
Ends with 'aot: N passed, N failed'."""
import argparse
import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % name, flush=True)
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail), flush=True)
    return cond


def sh(args, env=None, timeout=1200):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout + p.stderr


def compare(got, want, rtol, atol=1e-7):
    """'exact', 'close (max abs err X)' (|got - want| <= atol + rtol |want|) or None"""
    if got.shape != want.shape:
        return None
    if np.array_equal(got, want):
        return "exact"
    if got.dtype.kind != "f":
        return None
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    tol = atol + rtol * np.abs(want.astype(np.float64))
    return "close (max abs err %.2e)" % err.max() if (err <= tol).all() else None


class Model:
    def __init__(self, name, path, inputs):
        self.name, self.path, self.inputs = name, path, inputs


def prepare_models(work, onnxc, quick, shared_models):
    mdir = os.path.join(work, "models")
    names = ["lstm", "encoder"]
    rc, out = sh([sys.executable, os.path.join(ROOT, "examples", "make_models.py"), mdir] + names)
    check("make lstm and encoder models", rc == 0, out[-2000:])
    models = [Model("cnn", os.path.join(ROOT, "examples", "cnn", "model.onnx"),
                    [os.path.join(ROOT, "examples", "cnn", "input.npy")])]
    models += [Model(n, os.path.join(mdir, n, "model.onnx"), [os.path.join(mdir, n, "input_0.npy")]) for n in names]
    # int8: the QDQ conv net of tests/models/qdq_models.py (int8 kernels; aarch64: the dot product without VNNI)
    qdq = os.path.join(mdir, "qdq")
    rc, out = sh([sys.executable, os.path.join(ROOT, "tests", "models", "qdq_models.py"), "small", "--out", qdq])
    check("make the int8 QDQ model", rc == 0, out[-2000:])
    models.append(Model("qdq", os.path.join(qdq, "model.onnx"), [os.path.join(qdq, "input_0.npy")]))
    # sparse: mostly-zero 1×1 and 3×3 convs on the sparse conv kernels (gen_sparse_conv.c)
    spc = os.path.join(mdir, "spconv")
    rc, out = sh([sys.executable, os.path.join(ROOT, "tests", "models", "sparse_conv_models.py"), spc])
    check("make the sparse conv model", rc == 0, out[-2000:])
    models.append(Model("spconv", os.path.join(spc, "model.onnx"), [os.path.join(spc, "input_0.npy")]))
    # binary: xor + popcount convs and Gemm (tests/models/binary_models.py --small; aarch64: cnt)
    bnn = os.path.join(mdir, "bnn")
    rc, out = sh([sys.executable, os.path.join(ROOT, "tests", "models", "binary_models.py"), "--small", bnn])
    check("make the binary model", rc == 0, out[-2000:])
    models.append(Model("bnn", os.path.join(bnn, "model.onnx"), [os.path.join(bnn, "input_0.npy")]))
    # clustered: Conv and 128-row MatMul/Gemm weights as 4-/8-bit indices on the GEMM engine
    # (tests/models/cluster_models.py --aot-model; gen_cluster.h)
    clc = os.path.join(mdir, "clconv")
    rc, out = sh([sys.executable, os.path.join(ROOT, "tests", "models", "cluster_models.py"), "--aot-model", clc])
    check("make the clustered conv model", rc == 0, out[-2000:])
    models.append(Model("clconv", os.path.join(clc, "model.onnx"), [os.path.join(clc, "input_0.npy")]))
    # sparse LSTM: W and R 90% zero on the sparse recurrent kernels (tests/prune/rnn_sparse_test.py
    # --aot-model; gen_sparse_rnn.h: perm at 16 lanes, block or dense at NEON's 4)
    sprnn = os.path.join(mdir, "sprnn")
    rc, out = sh([sys.executable, os.path.join(ROOT, "tests", "prune", "rnn_sparse_test.py"), "--aot-model", sprnn])
    check("make the sparse LSTM model", rc == 0, out[-2000:])
    models.append(Model("sprnn", os.path.join(sprnn, "model.onnx"), [os.path.join(sprnn, "input_0.npy")]))
    if not quick:
        # the models test's export (skipped when up to date)
        sdir = shared_models or mdir
        rc, out = sh([sys.executable, os.path.join(ROOT, "tests", "models", "export_models.py"), sdir, "resnet18"])
        check("export resnet18", rc == 0, out[-2000:])
        models.append(Model("resnet18", os.path.join(sdir, "resnet18", "model.onnx"),
                            [os.path.join(sdir, "resnet18", "input_0.npy")]))
    return models


def reference(onnxc, m, d):
    """onnxc run's outputs (the JIT) as a list of arrays"""
    rc, out = sh([onnxc, "run", m.path] + m.inputs + ["-o", os.path.join(d, "ref")])
    if not check("%s: onnxc run" % m.name, rc == 0, out[-1000:]):
        return None
    refs, k = [], 0
    while os.path.exists(os.path.join(d, "ref", "output_%d.npy" % k)):
        refs.append(np.load(os.path.join(d, "ref", "output_%d.npy" % k)))
        k += 1
    return refs


def write_inputs(m, d):
    for k, p in enumerate(m.inputs):
        np.ascontiguousarray(np.load(p)).tofile(os.path.join(d, "input_%d.bin" % k))


def build_driver(cc, name, d, link, exe, extra=()):
    args = [cc, "-std=c11", "-O1", "-Wall", "-Werror", "-DMODEL=%s" % name, "-DMODEL_H=\"%s.h\"" % name,
            "-I", d, os.path.join(HERE, "driver.c"), "-o", exe] + list(link) + ["-lpthread"] + list(extra)
    return sh(args)


def run_driver(exe, d, refs, label, rtol, wrap=(), env=None, weights=None, threads=2, atol=1e-7):
    args = list(wrap) + [exe, d, str(threads)] + ([weights] if weights else [])
    rc, out = sh(args, env=env)
    if not check("%s: driver" % label, rc == 0, out[-2000:]):
        return
    for k, want in enumerate(refs):
        got = np.fromfile(os.path.join(d, "output_%d.bin" % k), dtype=want.dtype).reshape(want.shape)
        how = compare(got, want, rtol, atol)
        check("%s: output %d matches (%s)" % (label, k, how), how is not None,
              "max abs diff %s" % (np.abs(got.astype(np.float64) - want).max() if got.shape == want.shape else "shape"))


def test_so(onnxc, cc, m, work):
    d = os.path.join(work, m.name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    refs = reference(onnxc, m, d)
    if refs is None:
        return None
    write_inputs(m, d)
    lib = os.path.join(d, "lib%s.so" % m.name)
    rc, out = sh([onnxc, "compile", m.path, "-o", lib, "--name", m.name])
    if not check("%s: compile -> lib%s.so + %s.h" % (m.name, m.name, m.name), rc == 0 and os.path.exists(
            os.path.join(d, m.name + ".h")), out[-2000:]):
        return None
    rc, out = sh(["ldd", lib])
    deps = [l.split()[0] for l in out.splitlines() if l.strip()]
    allowed = ("linux-vdso", "libc.so", "libm.so", "libpthread.so", "/lib64/ld-linux")
    check("%s: ldd shows only libc/libm/pthreads %s" % (m.name, deps),
          rc == 0 and all(x.startswith(allowed) for x in deps) and "LLVM" not in out and "protobuf" not in out, out)
    exe = os.path.join(d, "driver")
    rc, out = build_driver(cc, m.name, d, ["-L", d, "-l" + m.name, "-Wl,-rpath," + d], exe)
    if check("%s: driver builds against %s.h" % (m.name, m.name), rc == 0, out[-2000:]):
        run_driver(exe, d, refs, m.name + " (so)", 1e-5)
    print("size: lib%s.so %d bytes" % (m.name, os.path.getsize(lib)), flush=True)
    return refs


def test_variants(onnxc, cc, models, refs, work):
    m = models[0]  # the CNN
    d = os.path.join(work, m.name)
    # weights beside the library
    wd = os.path.join(work, "cnn_wfile")
    shutil.rmtree(wd, ignore_errors=True)
    os.makedirs(wd)
    write_inputs(m, wd)
    wpath = os.path.join(wd, "cnn.weights")
    rc, out = sh([onnxc, "compile", m.path, "-o", os.path.join(wd, "libcnn.so"), "--weights-file", wpath])
    check("cnn: compile --weights-file", rc == 0 and os.path.exists(wpath) and os.path.getsize(wpath) > 100000, out)
    size = lambda p: os.path.getsize(p) if os.path.exists(p) else -1
    embedded, separate = size(os.path.join(d, "libcnn.so")), size(os.path.join(wd, "libcnn.so"))
    check("cnn: the library without weights is smaller (%d < %d)" % (separate, embedded),
          0 < separate and separate + 100000 < embedded)
    exe = os.path.join(wd, "driver")
    rc, out = build_driver(cc, "cnn", wd, ["-L", wd, "-lcnn", "-Wl,-rpath," + wd], exe)
    if check("cnn: driver builds (weights file)", rc == 0, out):
        run_driver(exe, wd, refs["cnn"], "cnn (weights file)", 1e-5, weights=wpath)
        rc, out = sh([exe, wd, "1"])
        check("cnn: create without weights_path fails with a message", rc != 0 and "weights_path" in out, out)

    # static: object and archive, two models linked into one program without clashes
    sd = os.path.join(work, "static")
    shutil.rmtree(sd, ignore_errors=True)
    os.makedirs(sd)
    write_inputs(m, sd)
    rc1, o1 = sh([onnxc, "compile", m.path, "-o", os.path.join(sd, "cnn.o"), "--name", "cnn"])
    lstm = [x for x in models if x.name == "lstm"][0]
    rc2, o2 = sh([onnxc, "compile", lstm.path, "-o", os.path.join(sd, "liblstm.a"), "--name", "lstm"])
    check("compile --emit obj and --emit lib", rc1 == 0 and rc2 == 0, o1 + o2)
    rc, out = sh(["nm", "-g", "--defined-only", os.path.join(sd, "cnn.o")])
    syms = [l.split()[-1] for l in out.splitlines() if l.strip()]
    check("cnn.o: only cnn_* symbols are global %s" % syms, rc == 0 and syms and all(s.startswith("cnn_") for s in syms))
    exe = os.path.join(sd, "driver")
    rc, out = build_driver(cc, "cnn", sd, [os.path.join(sd, "cnn.o"), os.path.join(sd, "liblstm.a"), "-lm"], exe,
                           ["-Wl,--undefined=lstm_create"])
    if check("a program links cnn.o and liblstm.a together", rc == 0, out[-2000:]):
        run_driver(exe, sd, refs["cnn"], "cnn (static object)", 1e-5)
    for kind, ext in (("llvm", "ll"), ("asm", "s")):
        p = os.path.join(sd, "cnn." + ext)
        rc, out = sh([onnxc, "compile", m.path, "-o", p, "--emit", kind])
        check("compile --emit %s" % kind, rc == 0 and os.path.getsize(p) > 1000 and "cnn_graph" in open(p).read(), out)

    # another x86 target, and --cpu / --features
    for label, args in (("x86-64-avx2", ["--target", "x86-64-avx2"]),
                        ("--cpu x86-64-v2 --features +sse4.2", ["--cpu", "x86-64-v2", "--features", "+sse4.2"])):
        td = os.path.join(work, "cnn_" + label.split()[0].strip("-"))
        shutil.rmtree(td, ignore_errors=True)
        os.makedirs(td)
        write_inputs(m, td)
        rc, out = sh([onnxc, "compile", m.path, "-o", os.path.join(td, "libcnn.so")] + args)
        exe = os.path.join(td, "driver")
        if check("cnn: compile %s" % label, rc == 0, out):
            rc, out = build_driver(cc, "cnn", td, ["-L", td, "-lcnn", "-Wl,-rpath," + td], exe)
            if check("cnn: driver builds (%s)" % label, rc == 0, out):
                run_driver(exe, td, refs["cnn"], "cnn (%s)" % label, 1e-4)

    hp = os.path.join(sd, "inc", "my_model.h")
    os.makedirs(os.path.dirname(hp), exist_ok=True)
    rc, out = sh([onnxc, "compile", m.path, "-o", os.path.join(sd, "libh.so"), "--header", hp])
    check("compile --header PATH (another file name)", rc == 0 and "h_create" in open(hp).read(), out)

    # bad input: clear errors, exit codes
    rc, out = sh([onnxc, "compile", m.path, "-o", os.path.join(sd, "x.so"), "--target", "sparc"])
    check("unknown target is a usage error naming it (exit 2)", rc == 2 and "sparc" in out, out)
    rc, out = sh([onnxc, "compile", m.path, "-o", os.path.join(sd, "x.so"), "--name", "1bad"])
    check("--name must be a C identifier", rc == 2 and "identifier" in out, out)


def make_gather_model(path):
    """data float[5,4], idx int64[3] -> y = Gather(data, idx) (node 'gather_rows'), z = data + data"""
    from onnx import helper, TensorProto as T, save
    g = helper.make_graph(
        [helper.make_node("Gather", ["data", "idx"], ["y"], axis=0, name="gather_rows"),
         helper.make_node("Add", ["data", "data"], ["z"], name="double")], "gather",
        [helper.make_tensor_value_info("data", T.FLOAT, [5, 4]), helper.make_tensor_value_info("idx", T.INT64, [3])],
        [helper.make_tensor_value_info("y", T.FLOAT, [3, 4]), helper.make_tensor_value_info("z", T.FLOAT, [5, 4])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_rtcheck(onnxc, cc, models, work):
    """tests/aot/rtcheck.c against NAME.h: NAME_run_tensors refuses bad counts, NULLs, dtypes, ranks,
    dims and short buffers (inputs and outputs) naming the tensor; Gather indices out of range give
    ONNXC_ERR_INDEX naming the node; buffers against guard pages (shared library) or under
    ASan+UBSan (--emit c, everything instrumented)"""
    d = os.path.join(work, "rtcheck")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    gm = os.path.join(d, "gather.onnx")
    make_gather_model(gm)
    src = os.path.join(HERE, "rtcheck.c")
    cflags = ["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror"]
    ok = lambda rc, out: rc == 0 and ", 0 failures" in out
    todo = [("gather", gm, ["-DGATHER_MODEL"])] + [(m.name, m.path, []) for m in models if m.name in ("cnn", "encoder")]
    for name, path, defs in todo:
        md = os.path.join(d, name)
        os.makedirs(md)
        lib = os.path.join(md, "lib%s.so" % name)
        rc, out = sh([onnxc, "compile", path, "-o", lib, "--name", name])
        if not check("rtcheck %s: compile" % name, rc == 0, out[-2000:]):
            continue
        exe = os.path.join(md, "rtcheck")
        rc, out = sh([cc] + cflags + defs + ["-DMODEL=" + name, "-DMODEL_H=\"%s.h\"" % name, "-I", md, src, "-o", exe,
                                             "-L", md, "-l" + name, "-Wl,-rpath," + md, "-lpthread"])
        if check("rtcheck %s: builds against %s.h" % (name, name), rc == 0, out[-2000:]):
            rc, out = sh([exe])
            check("rtcheck %s (so, guard pages): %s" % (name, out.splitlines()[-1] if out else ""), ok(rc, out),
                  out[-3000:])
        cdir = os.path.join(md, "c")
        rc, out = sh([onnxc, "compile", path, "--emit", "c", "-o", cdir, "--name", name])
        if not check("rtcheck %s: compile --emit c" % name, rc == 0, out[-2000:]):
            continue
        exe = os.path.join(md, "rtcheck_asan")
        srcs = sorted(os.path.join(cdir, f) for f in os.listdir(cdir) if f.endswith(".c"))
        rc, out = sh(["gcc"] + cflags + ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"] + defs +
                     ["-DMODEL=" + name, "-DMODEL_H=\"%s.h\"" % name, "-I", cdir] + srcs +
                     [src, "-o", exe, "-lm", "-lpthread"])
        if check("rtcheck %s: --emit c builds with ASan+UBSan" % name, rc == 0, out[-2000:]):
            rc, out = sh([exe])
            check("rtcheck %s (--emit c, ASan+UBSan): %s" % (name, out.splitlines()[-1] if out else ""),
                  ok(rc, out), out[-3000:])


def make_dyn_model(path):
    """x float[batch, seq, 8] -> y = Softmax(Relu(x W + B)) [batch, seq, 16], z = its Transpose
    [seq, batch, 16]: two free dims, weights, contraction, elementwise, reduction, data movement"""
    from onnx import helper, numpy_helper, TensorProto as T, save
    rng = np.random.RandomState(3)
    w = numpy_helper.from_array(rng.standard_normal((8, 16)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal(16).astype(np.float32), "B")
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "B"], ["a"]),
         helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Softmax", ["r"], ["y"], axis=-1),
         helper.make_node("Transpose", ["r"], ["z"], perm=[1, 0, 2])], "dyn",
        [helper.make_tensor_value_info("x", T.FLOAT, ["batch", "seq", 8])],
        [helper.make_tensor_value_info("y", T.FLOAT, ["batch", "seq", 16]),
         helper.make_tensor_value_info("z", T.FLOAT, ["seq", "batch", 16])], initializer=[w, b])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def header_dims(header, name, k):
    """NAME_VARIANT_k_INPUT_0_DIMS of a multi-shape NAME.h as a tuple"""
    key = "#define %s_VARIANT_%d_INPUT_0_DIMS {" % (name, k)
    line = [l for l in open(header).read().splitlines() if l.startswith(key)][0]
    return tuple(int(x) for x in line[len(key):].rstrip("}").split(","))


def run_multishape(onnxc, label, model, d, name, shapes_of, inputs_of, build, rtol=1e-5):
    """the variants of d/NAME.h: inputs_of(dims) -> arrays (written as vK_input_I.bin); the
    program build(exe) made from tests/aot/multishape.c runs them; each variant's outputs must
    equal onnxc run's on the same inputs"""
    header = os.path.join(d, name + ".h")
    n = int([l.split()[-1] for l in open(header).read().splitlines()
             if l.startswith("#define %s_NUM_VARIANTS " % name)][0])
    check("%s: %s.h lists %d shapes" % (label, name, len(shapes_of)), n == len(shapes_of))
    refs = []
    for k in range(n):
        dims = header_dims(header, name, k)
        check("%s: variant %d has dims %s" % (label, k, dims), dims == shapes_of[k])
        ins = inputs_of(dims)
        paths = []
        for i, a in enumerate(ins):
            a.tofile(os.path.join(d, "v%d_input_%d.bin" % (k, i)))
            paths.append(os.path.join(d, "v%d_input_%d.npy" % (k, i)))
            np.save(paths[-1], a)
        ref = os.path.join(d, "ref_v%d" % k)
        rc, out = sh([onnxc, "run", model] + paths + ["-o", ref])
        if not check("%s: onnxc run at %s" % (label, "x".join(map(str, dims))), rc == 0, out[-1000:]):
            return
        refs.append([np.load(os.path.join(ref, f)) for f in sorted(os.listdir(ref)) if f.startswith("output_")])
    exe = os.path.join(d, "multishape")
    rc, out = build(exe)
    if not check("%s: multishape.c builds against %s.h" % (label, name), rc == 0, out[-2000:]):
        return
    rc, out = sh([exe, d])
    if not check("%s: %s" % (label, out.strip().splitlines()[-1] if out.strip() else "multishape"),
                 rc == 0, out[-3000:]):
        return
    for k, outs in enumerate(refs):
        for i, want in enumerate(outs):
            got = np.fromfile(os.path.join(d, "v%d_output_%d.bin" % (k, i)), dtype=want.dtype)
            how = compare(got.reshape(want.shape), want, rtol) if got.size == want.size else None
            check("%s: variant %d output %d equals onnxc run (%s)" % (label, k, i, how), how is not None)


def test_multishape(onnxc, cc, work):
    """--shape with lists of values: one library (so, lib, c) with a variant per combination,
    each equal to onnxc run at its shape; the refusals of --shape"""
    d0 = os.path.join(work, "multishape")
    shutil.rmtree(d0, ignore_errors=True)
    os.makedirs(d0)
    model = os.path.join(d0, "dyn.onnx")
    make_dyn_model(model)
    rng = np.random.RandomState(5)
    inputs_of = lambda dims: [rng.standard_normal(dims).astype(np.float32)]
    shapes = [(1, 2, 8), (1, 5, 8), (3, 2, 8), (3, 5, 8)]  # the first --shape varies slowest
    src = os.path.join(HERE, "multishape.c")
    cflags = ["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-DMODEL=dyn", "-DMODEL_H=\"dyn.h\""]
    for emit in ("so", "lib", "c"):
        d = os.path.join(d0, emit)
        os.makedirs(d)
        out_path = {"so": os.path.join(d, "libdyn.so"), "lib": os.path.join(d, "libdyn.a"),
                    "c": os.path.join(d, "src")}[emit]
        rc, out = sh([onnxc, "compile", model, "-o", out_path, "--name", "dyn", "--emit", emit,
                      "--shape", "batch=1,3", "--shape", "seq=2,5"])
        if not check("multishape %s: compile --shape batch=1,3 --shape seq=2,5" % emit, rc == 0, out[-2000:]):
            continue
        if emit == "c":
            hd = out_path
            srcs = sorted(os.path.join(hd, f) for f in os.listdir(hd) if f.endswith(".c"))
            build = lambda exe: sh(["gcc"] + cflags + ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                                                      "-I", hd] + srcs + [src, "-o", exe, "-lm", "-lpthread"])
            shutil.copy(os.path.join(hd, "dyn.h"), os.path.join(d, "dyn.h"))
        elif emit == "so":
            build = lambda exe: sh([cc] + cflags + ["-I", d, src, "-o", exe, "-L", d, "-ldyn", "-Wl,-rpath," + d,
                                                    "-lpthread"])
        else:
            build = lambda exe: sh([cc] + cflags + ["-I", d, src, "-o", exe, out_path, "-lm", "-lpthread"])
        run_multishape(onnxc, "multishape %s" % emit, model, d, "dyn", shapes, inputs_of, build)

    # input names take lists of shapes too; one value of a dim name is an ordinary library
    d = os.path.join(d0, "byinput")
    os.makedirs(d)
    rc, out = sh([onnxc, "compile", model, "-o", os.path.join(d, "libdyn.so"), "--shape", "x=2x3x8,4x1x8"])
    check("multishape: --shape x=2x3x8,4x1x8 (an input's shapes)", rc == 0 and
          "#define dyn_NUM_VARIANTS 2" in open(os.path.join(d, "dyn.h")).read() and
          header_dims(os.path.join(d, "dyn.h"), "dyn", 1) == (4, 1, 8), out)
    rc, out = sh([onnxc, "compile", model, "-o", os.path.join(d, "libone.so"), "--name", "one", "--shape", "batch=2",
                  "--shape", "seq=3"])
    hdr = open(os.path.join(d, "one.h")).read() if rc == 0 else ""
    check("multishape: --shape batch=2 --shape seq=3 (dim names, one shape)", rc == 0 and
          "#define one_NUM_VARIANTS 1" in hdr and "#define one_INPUT_0_DIMS {2, 3, 8}" in hdr, out + hdr[-500:])
    # refusals: a name neither input nor dim, too many combinations, two equal shapes, a dim left free
    bad = [(["--shape", "nosuch=1,2"], 2, "nosuch"),
           (["--shape", "batch=1,2,3,4,5,6", "--shape", "seq=1,2,3,4,5,6"], 2, "more than 32"),
           (["--shape", "batch=1,4,1", "--shape", "seq=2"], 1, "same input dims"),
           (["--shape", "batch=1,4"], 1, "seq"),
           (["--shape", "batch=1,x"], 2, "bad dims")]
    for args, code, words in bad:
        rc, out = sh([onnxc, "compile", model, "-o", os.path.join(d, "libbad.so")] + args)
        check("multishape: compile %s exits %d naming %r" % (" ".join(args), code, words),
              rc == code and words in out, "exit %d: %s" % (rc, out))


def test_multishape_resnet(onnxc, cc, work, shared_models):
    """ISSUE17: a library compiled with --shape batch=1,4,16 from a dynamic-batch ResNet-18 runs all
    three batch sizes through NAME_run_tensors, each equal to onnxc run at that batch, and is
    smaller than three separate libraries together"""
    mdir = shared_models or os.path.join(work, "models")
    rc, out = sh([sys.executable, os.path.join(ROOT, "tests", "models", "export_models.py"), mdir, "resnet18_dyn"])
    if not check("export resnet18_dyn", rc == 0, out[-2000:]):
        return
    model = os.path.join(mdir, "resnet18_dyn", "model.onnx")
    d = os.path.join(work, "multishape_resnet18")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    lib = os.path.join(d, "libr18.so")
    rc, out = sh([onnxc, "compile", model, "-o", lib, "--shape", "batch=1,4,16"])
    if not check("resnet18_dyn: compile --shape batch=1,4,16", rc == 0, out[-2000:]):
        return
    rng = np.random.RandomState(7)
    inputs_of = lambda dims: [rng.standard_normal(dims).astype(np.float32)]
    src = os.path.join(HERE, "multishape.c")
    build = lambda exe: sh([cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-DMODEL=r18",
                            "-DMODEL_H=\"r18.h\"", "-I", d, src, "-o", exe, "-L", d, "-lr18", "-Wl,-rpath," + d,
                            "-lpthread"])
    run_multishape(onnxc, "resnet18_dyn", model, d, "r18", [(b, 3, 224, 224) for b in (1, 4, 16)], inputs_of, build)
    # one separate library (batch 1): the weights are the same bytes, and the three-shape library
    # is smaller than two such libraries; a separate library for batch 4 or 16 holds those weights
    # too, so three separate libraries are larger still. The static ResNet-18 export (the same
    # seeded weights) compiled by test_so is that library when it is there.
    one, one_h = os.path.join(work, "resnet18", "libresnet18.so"), os.path.join(work, "resnet18", "resnet18.h")
    if not os.path.exists(one) or not os.path.exists(one_h):
        one, one_h = os.path.join(d, "libr18b1.so"), os.path.join(d, "r18b1.h")
        rc, out = sh([onnxc, "compile", model, "-o", one, "--shape", "batch=1"])
        if not check("resnet18_dyn: compile --shape batch=1", rc == 0, out[-2000:]):
            return
    wbytes = lambda h: int([l.split()[-1] for l in open(h).read().splitlines() if "_WEIGHTS_BYTES" in l][0])
    multi, single = os.path.getsize(lib), os.path.getsize(one)
    w3, w1 = wbytes(os.path.join(d, "r18.h")), wbytes(one_h)
    check("resnet18_dyn: one copy of the weights (%d bytes in both libraries)" % w3, w3 == w1 and w1 > 40000000)
    check("resnet18_dyn: the 3-shape library (%d bytes) is smaller than 2 separate ones (%d)" % (multi, 2 * single),
          multi < 2 * single)
    print("size: libr18.so (batch 1,4,16) %d bytes, batch 1 alone (%s) %d bytes" % (multi, os.path.basename(one), single),
          flush=True)


def test_sparse_conv(onnxc, m, refs, work):
    """the JIT's run of the sparse conv model equals numpy's convolution, and its library drops the
    dense weights (the sparse kernels ran: CSR values only)"""
    want = np.load(os.path.join(os.path.dirname(m.path), "expected_0.npy"))
    err = np.abs(refs[0] - want).max() / np.abs(want).max()
    check("spconv: JIT output matches numpy's convolution (rel %.1e)" % err, err <= 1e-5)
    d = os.path.join(work, "spconv_dense")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    lib = os.path.join(d, "libspconv.so")
    rc, out = sh([onnxc, "compile", m.path, "-o", lib, "--name", "spconv", "--disable-pass", "sparse"])
    if check("spconv: compile --disable-pass sparse", rc == 0, out[-2000:]):
        ss, ds = os.path.getsize(os.path.join(work, "spconv", "libspconv.so")), os.path.getsize(lib)
        check("spconv: the sparse library (%d bytes) is under half the dense one (%d bytes)" % (ss, ds), 2 * ss < ds)


def test_aarch64(onnxc, models, refs, work):
    cc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    if not check("aarch64 cross compiler and qemu-aarch64 installed (scripts/setup.sh)", cc and qemu):
        return
    for m in models:
        if m.name == "resnet18":
            continue  # the same kernels as the CNN, and slow under emulation
        d = os.path.join(work, "aarch64_" + m.name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        write_inputs(m, d)
        lib = os.path.join(d, "lib%s.so" % m.name)
        rc, out = sh([onnxc, "compile", m.path, "-o", lib, "--target", "aarch64", "--name", m.name])
        if not check("%s: compile --target aarch64" % m.name, rc == 0, out[-2000:]):
            continue
        with open(lib, "rb") as f:
            head = f.read(20)
        check("%s: lib%s.so is an AArch64 ELF library" % (m.name, m.name),
              head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == 183, repr(head))
        exe = os.path.join(d, "driver")
        rc, out = build_driver(cc, m.name, d, ["-L", d, "-l" + m.name, "-Wl,-rpath," + d], exe)
        if check("%s: aarch64 driver builds" % m.name, rc == 0, out[-2000:]):
            # other ISA, other FMA contraction and reduction order: the suite's fp32 tolerance
            run_driver(exe, d, refs[m.name], m.name + " (aarch64 under qemu vs x86)", 1e-4, atol=1e-5,
                       wrap=[qemu, "-L", "/usr/aarch64-linux-gnu"])


def make_int8_dot_model(path):
    """x u8[3,7,45] -> MatMulInteger with constant s8 weights of 37 and of 6 columns (the packed u8×s8
    kernel, kb_dot4_u8s8: wide and narrow B), int32 outputs; row 0 of x is all 255 against columns of
    127 and -128 (a pair sum of 2·255·127 saturates vpmaddubsw).  Returns the input and the exact
    numpy outputs."""
    from onnx import helper, numpy_helper, TensorProto as T, save
    rng = np.random.default_rng(15)
    x = rng.integers(0, 256, (3, 7, 45), dtype=np.uint8)
    x[:, 0] = 255
    ws = [rng.integers(-128, 128, (45, n), dtype=np.int8) for n in (37, 6)]
    for w in ws:
        w[:, 0], w[:, 1] = 127, -128
    za, zb = np.uint8(3), np.array([(-5 + 3 * j) % 11 - 5 for j in range(37)], np.int8)
    inits = [numpy_helper.from_array(np.array(za), "za")]
    nodes, outs, refs = [], [], []
    for k, w in enumerate(ws):
        n = w.shape[1]
        inits += [numpy_helper.from_array(w, "w%d" % k), numpy_helper.from_array(zb[:n], "zb%d" % k)]
        nodes.append(helper.make_node("MatMulInteger", ["x", "w%d" % k, "za", "zb%d" % k], ["y%d" % k]))
        outs.append(helper.make_tensor_value_info("y%d" % k, T.INT32, [3, 7, n]))
        refs.append(np.matmul(x.astype(np.int64) - int(za), w.astype(np.int64) - zb[:n]).astype(np.int32))
    g = helper.make_graph(nodes, "dot", [helper.make_tensor_value_info("x", T.UINT8, [3, 7, 45])], outs, inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    return x, refs


def test_int8_dot(onnxc, cc, work):
    """kb_dot4_u8s8's lowerings, exact against numpy: AVX2 (vpmaddwd on i16-widened bytes), AVX-512
    without VNNI (the same on zmm), both run on this machine; aarch64 with dotprod (udot and a
    correction) and without (saddlp/addp) under qemu-aarch64 (its default CPU has dotprod)"""
    d0 = os.path.join(work, "int8_dot")
    shutil.rmtree(d0, ignore_errors=True)
    os.makedirs(d0)
    model = os.path.join(d0, "dot.onnx")
    x, refs = make_int8_dot_model(model)
    acc, qemu = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("qemu-aarch64")
    # (label, compile options, C compiler, wrapper, an instruction the lowering must emit)
    variants = [("x86-64-avx2", ["--target", "x86-64-avx2"], cc, (), r"vpmaddwd\s+%ymm"),
                ("x86-64-avx512 without VNNI", ["--target", "x86-64-avx512"], cc, (), r"vpmaddwd\s+%zmm")]
    if check("int8 dot: aarch64 cross compiler and qemu-aarch64 installed (scripts/setup.sh)", acc and qemu):
        wrap = (qemu, "-L", "/usr/aarch64-linux-gnu")
        variants += [("aarch64 +dotprod", ["--target", "aarch64", "--features", "+neon,+dotprod"], acc, wrap, r"\budot\b"),
                     ("aarch64", ["--target", "aarch64"], acc, wrap, r"\bsaddlp\b")]
    for k, (label, args, c, wrap, insn) in enumerate(variants):
        d = os.path.join(d0, "v%d" % k)
        os.makedirs(d)
        asm = os.path.join(d, "dot.s")
        rc, out = sh([onnxc, "compile", model, "-o", asm, "--emit", "asm"] + args)
        check("int8 dot: %s assembly has %s" % (label, insn), rc == 0 and re.search(insn, open(asm).read()), out[-2000:])
        x.tofile(os.path.join(d, "input_0.bin"))
        rc, out = sh([onnxc, "compile", model, "-o", os.path.join(d, "libdot.so"), "--name", "dot"] + args)
        if not check("int8 dot: compile %s" % label, rc == 0, out[-2000:]):
            continue
        exe = os.path.join(d, "driver")
        rc, out = build_driver(c, "dot", d, ["-L", d, "-ldot", "-Wl,-rpath," + d], exe)
        if check("int8 dot: driver builds (%s)" % label, rc == 0, out[-2000:]):
            run_driver(exe, d, refs, "int8 dot (%s, exact)" % label, 0, wrap=wrap, atol=0)


def parse_logits(out):
    return np.array([float(l.split(":")[1]) for l in out.splitlines() if l.startswith("logit ")], np.float32)


def test_package(onnxc, build, work):
    """cmake --install into a temporary prefix, then examples/ as a consumer project:
    find_package(onnxc), onnxc_add_model; pkg-config; each example run and checked"""
    prefix, exb = os.path.join(work, "prefix"), os.path.join(work, "examples")
    shutil.rmtree(prefix, ignore_errors=True)
    shutil.rmtree(exb, ignore_errors=True)
    rc, out = sh(["cmake", "--install", build, "--prefix", prefix])
    files = ["bin/onnxc", "lib/libonnxc_rt.a", "include/onnxc/onnxc_model.h", "lib/pkgconfig/onnxc.pc",
             "lib/cmake/onnxc/onnxcConfig.cmake"]
    missing = [f for f in files if not os.path.exists(os.path.join(prefix, f))]
    if not check("cmake --install to a temporary prefix", rc == 0 and not missing, out[-2000:] + str(missing)):
        return
    rc, out = sh(["cmake", "-S", os.path.join(ROOT, "examples"), "-B", exb, "-DCMAKE_PREFIX_PATH=" + prefix,
                  "-DCMAKE_BUILD_TYPE=Release"])
    if not check("examples configure with find_package(onnxc)", rc == 0, out[-3000:]):
        return
    rc, out = sh(["cmake", "--build", exb, "-j2"])
    if not check("examples build (onnxc_add_model compiles the models)", rc == 0, out[-3000:]):
        return
    ex = lambda n: os.path.join(exb, n)
    # classifier: top class and probability against torch's expected output
    rc, out = sh([ex("classify"), os.path.join(ROOT, "examples", "cnn", "input.npy")])
    want = np.load(os.path.join(ROOT, "examples", "cnn", "expected.npy")).ravel()
    first = out.splitlines()[0].split() if rc == 0 and out else ["", "", "p=nan"]
    check("classify: top class %s matches torch's %d" % (first[1:], want.argmax()),
          first[1] == "%d:" % want.argmax() and abs(float(first[2][2:]) - want.max()) < 1e-5, out)
    # sequence and transformer: logits against onnxc run on the same models and inputs
    for exe, model, args, inp in (("sequence", "lstm", [os.path.join(exb, "models", "lstm", "input_0.npy")], None),
                                  ("transformer", "encoder", ["--ids"], os.path.join(exb, "models", "encoder",
                                                                                     "input_0.npy"))):
        inp = inp or args[0]
        rc, out = sh([ex(exe)] + args + ([inp] if args == ["--ids"] else []))
        got = parse_logits(out) if rc == 0 else None
        rc2, out2 = sh([onnxc, "run", os.path.join(exb, "models", model, "model.onnx"), inp, "-o",
                        os.path.join(exb, "ref_" + model)])
        want = np.load(os.path.join(exb, "ref_" + model, "output_0.npy")).ravel() if rc2 == 0 else None
        check("%s: logits match onnxc run" % exe, got is not None and want is not None and got.shape == want.shape
              and np.allclose(got, want, rtol=1e-5, atol=2e-6), out + out2)
    rc, out = sh([ex("transformer"), "compiled", "models", "need", "no", "llvm"])
    check("transformer: runs on words", rc == 0 and len(parse_logits(out)) == 3, out)
    # loader: the generic descriptor of a shared library
    rc, out = sh([ex("loader"), ex("libcnn_shared.so"), os.path.join(ROOT, "examples", "cnn", "input.npy")])
    want = np.load(os.path.join(ROOT, "examples", "cnn", "expected.npy")).ravel()
    ok = rc == 0 and "model cnn_shared" in out and "input 0 'image': float32[1x1x28x28]" in out
    vals = [l for l in out.splitlines() if l.startswith("output 0:")]
    ok = ok and vals and np.allclose([float(x) for x in vals[0].split()[2:7]], want[:5], atol=1e-5)
    check("loader: dlopen + onnxc_model_descriptor", ok, out)
    # pkg-config: the loader again, built with the flags from onnxc.pc
    env = {"PKG_CONFIG_PATH": os.path.join(prefix, "lib", "pkgconfig")}
    rc, flags = sh(["pkg-config", "--cflags", "--libs", "--static", "onnxc"], env=env)
    exe = os.path.join(exb, "loader_pc")
    rc2, out = sh(["cc", "-std=c11", "-I", os.path.join(ROOT, "examples", "common"),
                   os.path.join(ROOT, "examples", "loader", "main.c"), "-o", exe] + flags.split() + ["-ldl"])
    rc3, out3 = sh([exe, ex("libcnn_shared.so")]) if rc2 == 0 else (1, "")
    check("pkg-config onnxc: %s" % flags.strip(), rc == 0 and rc2 == 0 and rc3 == 0, flags + out + out3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--quick", action="store_true", help="skip ResNet-18")
    ap.add_argument("--models", help="folder of tests/models/export_models.py exports to reuse")
    ap.add_argument("--build", help="onnxc's build folder: test cmake --install, pkg-config and examples/")
    ap.add_argument("--rtcheck-only", action="store_true", help="only the run-time input checks (rtcheck.c)")
    ap.add_argument("--multishape-only", action="store_true", help="only the multi-shape libraries (multishape.c)")
    ap.add_argument("--int8-dot-only", action="store_true", help="only the u8×s8 dot step on each ISA")
    a = ap.parse_args()
    onnxc = os.path.abspath(a.onnxc)
    os.makedirs(a.work, exist_ok=True)
    if a.multishape_only:
        test_multishape(onnxc, a.cc, a.work)
        if not a.quick:
            test_multishape_resnet(onnxc, a.cc, a.work, a.models)
        print("aot: %d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    if a.int8_dot_only:
        test_int8_dot(onnxc, a.cc, a.work)
        print("aot: %d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    models = prepare_models(a.work, onnxc, a.quick, a.models)
    test_rtcheck(onnxc, a.cc, models, a.work)
    if a.rtcheck_only:
        print("aot: %d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
    refs = {}
    for m in models:
        r = test_so(onnxc, a.cc, m, a.work)
        if r is not None:
            refs[m.name] = r
    if "cnn" in refs:
        test_variants(onnxc, a.cc, models, refs, a.work)
    if "spconv" in refs:
        test_sparse_conv(onnxc, [m for m in models if m.name == "spconv"][0], refs["spconv"], a.work)
    test_multishape(onnxc, a.cc, a.work)
    if not a.quick:
        test_multishape_resnet(onnxc, a.cc, a.work, a.models)
    test_aarch64(onnxc, [m for m in models if m.name in refs], refs, a.work)
    test_int8_dot(onnxc, a.cc, a.work)
    if a.build:
        test_package(onnxc, os.path.abspath(a.build), a.work)
    rt = os.path.join(os.path.dirname(onnxc), "rt", "libonnxc_rt.a")
    if os.path.exists(rt):
        rc, out = sh(["size", "-t", rt])
        print("size: runtime %s %d bytes; text+data+bss: %s" % (rt, os.path.getsize(rt), out.splitlines()[-1]))
    print("aot: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
