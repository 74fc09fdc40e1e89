#!/usr/bin/python3
"""compress_test.py — `onnxc compile --compress-weights`: entropy-coded weights decoded at create.

  compress_test.py --onnxc build/onnxc --work DIR [--cc cc]

A small CNN whose layers are pruned to 50% and clustered to 16 values each (as `onnxc prune` +
`onnxc compress --cluster 16` make them), and the bundled CNN (plain fp32): compiled with and
without --compress-weights (the uncompressed library with --disable-pass winograd, which
--compress-weights implies), run by tests/aot/driver.c (written only against NAME.h): the outputs
must be the same bytes, the compressed library smaller; also with --weights-file, as C sources
(--emit c, built with cc), the compile summary's sizes, and --target aarch64 under qemu. Ends with 'compress: N passed, N failed'."""
import argparse
import glob
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import aot_test as at  # noqa: E402  (check, sh, the driver helpers)


def cluster(w, k, rng):
    """w pruned to 50% (smallest |w| zeroed) and its nonzeros clustered to k - 1 values (+ exact 0)"""
    w = w.copy()
    thr = np.quantile(np.abs(w), 0.5)
    w[np.abs(w) < thr] = 0
    nz = w[w != 0]
    cent = np.quantile(nz, (np.arange(k - 1) + 0.5) / (k - 1))
    for _ in range(8):  # a few Lloyd steps
        a = np.argmin(np.abs(nz[:, None] - cent[None, :]), axis=1)
        cent = np.array([nz[a == j].mean() if (a == j).any() else cent[j] for j in range(k - 1)])
    a = np.argmin(np.abs(nz[:, None] - cent[None, :]), axis=1)
    w[w != 0] = cent[a].astype(np.float32)
    return w.astype(np.float32)


def make_clustered_cnn(d):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(19)
    inits, nodes = [], []

    def conv(name, x, cin, cout, k, pad):
        w = cluster(rng.standard_normal((cout, cin, k, k)).astype(np.float32) * (2 / (cin * k * k)) ** 0.5, 16, rng)
        inits.append(numpy_helper.from_array(w, name + "_w"))
        inits.append(numpy_helper.from_array((rng.standard_normal(cout) * 0.1).astype(np.float32), name + "_b"))
        nodes.append(helper.make_node("Conv", [x, name + "_w", name + "_b"], [name], pads=[pad] * 4))
        nodes.append(helper.make_node("Relu", [name], [name + "_r"]))
        return name + "_r"

    y = conv("c1", "x", 8, 16, 3, 1)
    y = conv("c2", y, 16, 32, 1, 0)
    y = conv("c3", y, 32, 32, 3, 1)  # Winograd-sized in an ordinary compile
    nodes.append(helper.make_node("GlobalAveragePool", [y], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    fw = cluster(rng.standard_normal((10, 32)).astype(np.float32) * 0.2, 16, rng)
    inits.append(numpy_helper.from_array(fw, "fc_w"))
    inits.append(numpy_helper.from_array(np.zeros(10, np.float32), "fc_b"))
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["out"], transB=1))
    g = helper.make_graph(nodes, "clustered", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 20, 20])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    os.makedirs(d, exist_ok=True)
    onnx.save(m, os.path.join(d, "model.onnx"))
    np.save(os.path.join(d, "input_0.npy"), rng.standard_normal((1, 8, 20, 20)).astype(np.float32))
    return at.Model("clustered", os.path.join(d, "model.onnx"), [os.path.join(d, "input_0.npy")])


def outputs(d, n_out):
    return [open(os.path.join(d, "output_%d.bin" % k), "rb").read() for k in range(n_out)]


def build_run(onnxc, cc, m, d, flags, label, weights_file=False, emit_c=False):
    """compiles m into d with flags, runs driver.c on it; (library or sources bytes, weights file
    bytes, compile output, the outputs' bytes) or None"""
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    at.write_inputs(m, d)
    wpath = os.path.join(d, "weights.bin") if weights_file else None
    out_path = os.path.join(d, "src") if emit_c else os.path.join(d, "lib%s.so" % m.name)
    args = [onnxc, "compile", m.path, "-o", out_path, "--name", m.name] + flags
    args += ["--emit", "c", "--header", os.path.join(d, m.name + ".h")] if emit_c else []
    args += ["--weights-file", wpath] if wpath else []
    rc, out = at.sh(args)
    if not at.check("%s: compile %s" % (label, " ".join(flags)), rc == 0, out[-2000:]):
        return None
    exe = os.path.join(d, "driver")
    if emit_c:
        srcs = sorted(glob.glob(os.path.join(out_path, "*.c")))
        rc, bout = at.sh([cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-DMODEL=%s" % m.name,
                          "-DMODEL_H=\"%s.h\"" % m.name, "-I", d, "-I", out_path, os.path.join(HERE, "driver.c")] +
                         srcs + ["-o", exe, "-lm", "-lpthread"])
        size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(out_path, "*_weights.c")))
    else:
        rc, bout = at.build_driver(cc, m.name, d, ["-L", d, "-l" + m.name, "-Wl,-rpath," + d], exe)
        size = os.path.getsize(out_path)
    if not at.check("%s: build the driver" % label, rc == 0, bout[-2000:]):
        return None
    rc, rout = at.sh([exe, d, "2"] + ([wpath] if wpath else []))
    if not at.check("%s: driver runs (two instances, two threads, error paths)" % label, rc == 0, rout[-2000:]):
        return None
    n_out = len(glob.glob(os.path.join(d, "output_*.bin")))
    return size, os.path.getsize(wpath) if wpath else 0, out, outputs(d, n_out)


def same_outputs(label, got, want):
    at.check("%s: outputs identical to the uncompressed library's (bit for bit)" % label,
             got is not None and want is not None and got[3] == want[3] and len(want[3]) > 0)


def test_model(onnxc, cc, m, work, min_ratio):
    base = os.path.join(work, m.name)
    plain = build_run(onnxc, cc, m, base + "_plain", ["--disable-pass", "winograd"], m.name + " plain")
    comp = build_run(onnxc, cc, m, base + "_cw", ["--compress-weights"], m.name + " compressed")
    same_outputs(m.name + " compressed .so", comp, plain)
    if comp and plain:
        at.check("%s: library %d bytes, uncompressed %d (at most %.2f of it)" % (m.name, comp[0], plain[0], min_ratio),
                 comp[0] <= min_ratio * plain[0])
        at.check("%s: the summary gives both sizes" % m.name,
                 "bytes decoded" in comp[2] and "stored entropy-coded" in comp[2], comp[2])
        rc, ldd = at.sh(["ldd", os.path.join(base + "_cw", "lib%s.so" % m.name)])
        libs = [ln.split()[0] for ln in ldd.splitlines() if ln.strip()]
        at.check("%s: the compressed library needs only libc (ldd: %s)" % (m.name, " ".join(libs)),
                 rc == 0 and all(x.startswith(("linux-vdso", "libc.so", "libm.so", "libpthread", "/lib", "/lib64"))
                                 for x in libs), ldd)
    pw = build_run(onnxc, cc, m, base + "_plain_wf", ["--disable-pass", "winograd"], m.name + " plain weights file",
                   weights_file=True)
    cw = build_run(onnxc, cc, m, base + "_cw_wf", ["--compress-weights"], m.name + " compressed weights file",
                   weights_file=True)
    same_outputs(m.name + " compressed weights file", cw, plain)
    if pw and cw:
        at.check("%s: weights file %d bytes, uncompressed %d" % (m.name, cw[1], pw[1]), cw[1] <= min_ratio * pw[1])
    pc = build_run(onnxc, cc, m, base + "_plain_c", ["--disable-pass", "winograd"], m.name + " plain C", emit_c=True)
    cc_ = build_run(onnxc, cc, m, base + "_cw_c", ["--compress-weights"], m.name + " compressed C", emit_c=True)
    same_outputs(m.name + " compressed C sources (vs uncompressed C)", cc_, pc)
    if pc and cc_:
        at.check("%s: NAME_weights.c %d bytes, uncompressed %d" % (m.name, cc_[0], pc[0]), cc_[0] < pc[0])


def test_aarch64(onnxc, m, work, x86_dir):
    """the compressed library for --target aarch64 decodes and runs under qemu like the x86 one"""
    if not (shutil.which("qemu-aarch64") and shutil.which("aarch64-linux-gnu-gcc")):
        print("skip aarch64 (no qemu-aarch64 or aarch64-linux-gnu-gcc)")
        return
    d = os.path.join(work, m.name + "_a64")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    at.write_inputs(m, d)
    rc, out = at.sh([onnxc, "compile", m.path, "-o", os.path.join(d, "lib%s.so" % m.name), "--name", m.name,
                     "--target", "aarch64", "--compress-weights"])
    if not at.check("%s aarch64: compile --compress-weights" % m.name, rc == 0, out[-2000:]):
        return
    exe = os.path.join(d, "driver")
    rc, out = at.build_driver("aarch64-linux-gnu-gcc", m.name, d, ["-L", d, "-l" + m.name, "-Wl,-rpath," + d], exe)
    if not at.check("%s aarch64: build the driver" % m.name, rc == 0, out[-2000:]):
        return
    rc, out = at.sh(["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", exe, d, "2"])
    if not at.check("%s aarch64: driver runs under qemu" % m.name, rc == 0, out[-2000:]):
        return
    got = np.fromfile(os.path.join(d, "output_0.bin"), dtype=np.float32)
    want = np.fromfile(os.path.join(x86_dir, "output_0.bin"), dtype=np.float32)
    err = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
    # fp32 tolerance: another ISA, other FMA contraction (the weights decode to the same bytes)
    at.check("%s aarch64: output equals x86's within 1e-5 of its largest (max abs err %.2e)" % (m.name, err),
             err <= 1e-5 * max(1.0, float(np.abs(want).max())))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cc", default="cc")
    a = ap.parse_args()
    onnxc = os.path.abspath(a.onnxc)
    os.makedirs(a.work, exist_ok=True)
    clustered = make_clustered_cnn(os.path.join(a.work, "clustered_model"))
    # 16 values + zero per layer: ~3 bits a weight; the code and glue are most of the library
    test_model(onnxc, a.cc, clustered, a.work, 0.75)
    test_aarch64(onnxc, clustered, a.work, os.path.join(a.work, "clustered_cw"))
    cnn = at.Model("cnn", os.path.join(ROOT, "examples", "cnn", "model.onnx"),
                   [os.path.join(ROOT, "examples", "cnn", "input.npy")])
    test_model(onnxc, a.cc, cnn, a.work, 0.95)  # plain fp32: byte planes
    print("compress: %d passed, %d failed" % (at.passed, at.failed))
    return 1 if at.failed else 0


if __name__ == "__main__":
    sys.exit(main())
