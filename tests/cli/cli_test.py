#!/usr/bin/python3
"""cli_test.py — the onnxc command line on good and bad input: exit codes (0 ok, 1 bad input,
2 usage), one-line error messages naming the problem, never a signal.

  cli_test.py --onnxc build/onnxc --work DIR
Ends with 'cli: N passed, N failed'."""
import argparse
import os
import re
import random
import shutil
import struct
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))
from checks import check, summary  # noqa: E402


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(ROOT, "examples", "cnn")

def run(onnxc, *args, stdin_bytes=None):
    p = subprocess.run([onnxc] + list(args), capture_output=True, timeout=300, input=stdin_bytes)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def npy_bytes(header, body, version=1):
    """a .npy file with the given header dict text (padded as numpy pads it)"""
    h = header.encode()
    lenbytes = 2 if version == 1 else 4
    h += b" " * (16 - (6 + 2 + lenbytes + len(h) + 1) % 16) + b"\n"
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<H" if version == 1 else "<I", len(h)) + h + body


def hostile_inputs(o, w, model):
    """input files that are broken, hostile or not files at all: exit 1, one line naming the file"""
    good = np.arange(6, dtype=np.float32).tobytes()
    hdr = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }"
    cases = [
        ("truncated data", npy_bytes(hdr % ("<f4", "False", "(2, 3)"), good[:10]), "truncated"),
        ("dim product overflows", npy_bytes(hdr % ("<f4", "False", "(4611686018427387904, 4)"), good), "too large"),
        ("negative dim", npy_bytes(hdr % ("<f4", "False", "(-2, 3)"), good), "malformed shape"),
        ("Fortran order", npy_bytes(hdr % ("<f4", "True", "(2, 3)"), good), "fortran"),
        ("big-endian dtype", npy_bytes(hdr % (">f4", "False", "(2, 3)"), good), "unsupported dtype"),
        ("complex dtype", npy_bytes(hdr % ("<c8", "False", "(2, 3)"), good * 2), "unsupported dtype"),
        ("object dtype", npy_bytes(hdr % ("|O", "False", "(2, 3)"), good), "unsupported dtype"),
        ("no shape key", npy_bytes("{'descr': '<f4', 'fortran_order': False, }", good), "malformed .npy header"),
        ("v2 header length 4 GiB", b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFF00) + b"{", "header too long"),
        ("unknown version", b"\x93NUMPY\x09\x00" + b"\x00" * 32, "version"),
        ("empty file", b"", "bad magic"),
    ]
    for name, data, needle in cases:
        f = os.path.join(w, "hostile_%s.npy" % name.replace(" ", "_"))
        open(f, "wb").write(data)
        expect_error(o, ".npy input: %s -> exit 1" % name, ["run", model, f], 1, needle)
    # a well-formed v2 header is fine
    f = os.path.join(w, "v2.npy")
    open(f, "wb").write(npy_bytes(hdr % ("<f4", "False", "(2, 3)"), good, version=2))
    rc, out, err = run(o, "run", model, f)
    check(".npy version 2 input runs", rc == 0, err[:300])
    d = os.path.join(w, "adir.npy")
    os.makedirs(d, exist_ok=True)
    expect_error(o, "input is a directory -> exit 1", ["run", model, d], 1, "is a directory")
    ln = os.path.join(w, "dangling.npy")
    if not os.path.lexists(ln):
        os.symlink(os.path.join(w, "no", "such.npy"), ln)
    expect_error(o, "input is a dangling symlink -> exit 1", ["run", model, ln], 1, "cannot open")
    # devices stream forever: refused, not read (before, a .pb input of /dev/zero grew without end)
    for dev in ("/dev/zero", "/dev/null"):
        expect_error(o, "input %s -> exit 1" % dev, ["run", model, dev], 1, "not a regular file or a pipe")
        expect_error(o, "input %s as .npy -> exit 1" % dev, ["run", model, "-i", "x=" + dev], 1, "not a regular file")
        expect_error(o, "model %s -> exit 1" % dev, ["info", dev], 1, "not a regular file or a pipe")
    # a model through a pipe works, and a pipe's length is bounded by --max-memory
    data = open(model, "rb").read()
    rc, out, err = run(o, "info", "/dev/stdin", stdin_bytes=data)
    check("model read from a pipe", rc == 0 and "float32[2x3]" in out, err[:300])
    rc, out, err = run(o, "info", "/dev/stdin", "--max-memory", "64", stdin_bytes=data + b"\0" * 200000)
    lines = [l for l in err.splitlines() if l.strip()]
    check("pipe longer than --max-memory -> exit 1", rc == 1 and len(lines) == 1 and "larger than the limit" in err,
          "(exit %d, %r)" % (rc, err[:300]))


def expect_error(onnxc, name, args, code, needle):
    rc, out, err = run(onnxc, *args)
    lines = [l for l in err.splitlines() if l.strip()]
    check(name, rc == code and len(lines) == 1 and needle.lower() in err.lower(),
          "(exit %d, stderr %r)" % (rc, err[:300]))


def add_model(w, x_shape=(2, 3)):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(x_shape))
    c = numpy_helper.from_array(np.ones(x_shape, np.float32), "c")
    g = helper.make_graph([helper.make_node("Add", ["x", "c"], ["y"])], "g", [x], [y], [c])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def compile_outputs(o, w, model):
    """onnxc compile refuses bad output paths and C names before compiling, and writes nothing"""
    d = os.path.join(w, "cout")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    plain = os.path.join(d, "plain")
    open(plain, "w").write("x")
    cases = [
        ("-o is a folder", ["-o", d], "is a folder"),
        ("-o in a missing folder", ["-o", os.path.join(d, "no", "libm.so")], "does not exist"),
        ("-o under a file", ["-o", os.path.join(plain, "libm.so")], "is not a folder"),
        ("--emit c onto a file", ["-o", plain, "--emit", "c"], "is not a folder"),
        ("--name a C keyword", ["-o", os.path.join(d, "libm.so"), "--name", "int"], "keyword"),
        ("--name ending in _t", ["-o", os.path.join(d, "libm.so"), "--name", "size_t"], "_t"),
        ("--name with the runtime's prefix", ["-o", os.path.join(d, "libm.so"), "--name", "onnxc_model"], "onnxc"),
        ("--name reserved", ["-o", os.path.join(d, "libm.so"), "--name", "__m"], "reserved"),
        ("--name not an identifier", ["-o", os.path.join(d, "libm.so"), "--name", "m-1"], "identifier"),
        ("C name from -o a keyword", ["-o", os.path.join(d, "libwhile.so")], "--name"),
        ("-o the model itself", ["-o", model], "same file"),
        ("--weights-file the library", ["-o", os.path.join(d, "libm.so"), "--weights-file",
                                        os.path.join(d, "..", "cout", "libm.so")], "same file"),
        ("--header the library", ["-o", os.path.join(d, "libm.so"), "--header", os.path.join(d, "libm.so")], "same file"),
        ("--header the model", ["-o", os.path.join(d, "libm.so"), "--header", model], "same file"),
    ]
    model_bytes = open(model, "rb").read()
    for name, args, needle in cases:
        expect_error(o, "compile: %s -> exit 2" % name, ["compile", model] + args, 2, needle)
    left = sorted(f for f in os.listdir(d) if f != "plain")
    check("refused compiles wrote nothing", not left and not os.path.exists(os.path.join(w, "cout.h"))
          and open(model, "rb").read() == model_bytes, left)
    # a good compile writes exactly the library and its header
    rc, out, err = run(o, "compile", model, "-o", os.path.join(d, "libgood.so"))
    check("compile writes libgood.so and good.h only", rc == 0 and sorted(os.listdir(d)) == ["good.h", "libgood.so", "plain"],
          (rc, err[:300], sorted(os.listdir(d))))
    # --emit c -o DIR/ (a trailing slash, as docs/aot.md writes it): the folder DIR, named DIR
    rc, out, err = run(o, "compile", model, "--emit", "c", "-o", os.path.join(d, "net") + "/")
    made = sorted(os.listdir(os.path.join(d, "net"))) if os.path.isdir(os.path.join(d, "net")) else []
    check("compile --emit c -o net/ writes the folder net with net.h", rc == 0 and "net.h" in made
          and "net_model.c" in made, (rc, err[:300], made))


def conv_relu_model():
    """Conv -> Relu (fuse makes it an epilogue), a dead Neg (dce removes it), x also an output
    (plan copies it into the caller's buffer)"""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    xo = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    wt = numpy_helper.from_array(np.linspace(-1, 1, 54, dtype=np.float32).reshape(3, 2, 3, 3), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu"), helper.make_node("Neg", ["x"], ["dead"], name="neg")]
    g = helper.make_graph(nodes, "g", [x], [y, xo], [wt])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def dump_after(o, w):
    """onnxc dump --after PASS for every pass, --disable-pass, and the pass names in --help"""
    names = ["import", "shapes", "inline", "dce", "fuse", "layout", "plan"]
    p = os.path.join(w, "convrelu.onnx")
    onnx.save(conv_relu_model(), p)
    outs = {}
    for name in names:
        rc, out, err = run(o, "dump", p, "--after", name)
        check("dump --after %s exits 0" % name, rc == 0 and "graph g" in out, err[:300])
        outs[name] = out
    check("dump --after import: Relu and the dead Neg are nodes", "= Relu(" in outs["import"] and "= Neg(" in outs["import"])
    check("dump --after dce: the dead Neg is gone", "= Neg(" not in outs["dce"] and "= Relu(" in outs["dce"], outs["dce"])
    check("dump --after fuse: Relu is the Conv's epilogue", "+ Relu" in outs["fuse"] and "= Relu(" not in outs["fuse"],
          outs["fuse"])
    check("dump --after layout: no offsets yet", "@arena" not in outs["layout"] and "@io" not in outs["layout"])
    plan = outs["plan"]
    check("dump --after plan: io slots, arena offsets and size, the input output copied",
          "%x: float32[1x2x4x4] @io[0]" in plan and "@io[2] = Identity(%x)" in plan and " @io[1] = Conv(" in plan
          and re.search(r"^graph g \(opset 13\) arena \d+$", plan, re.M) is not None, plan)
    rc, out, _ = run(o, "dump", p)
    check("dump without --after is dump --after plan", rc == 0 and out == plan)
    rc, out, _ = run(o, "dump", p, "--after", "passes")
    check("dump --after passes is dump --after plan", rc == 0 and out == plan)
    for flags in (["--disable-pass", "fuse"], ["--no-fuse"]):
        rc, out, err = run(o, "dump", p, "--after", "fuse", *flags)
        check("dump --after fuse %s: no epilogue" % " ".join(flags), rc == 0 and "+ Relu" not in out and "= Relu(" in out,
              err[:300])
    rc, out, err = run(o, "dump", p, "--disable-pass", "dce,fuse,inline")
    check("--disable-pass dce,fuse,inline keeps the dead Neg and the Relu", rc == 0 and "= Neg(" in out and
          "= Relu(" in out and "@arena" in out, err[:300])
    rc, _, err = run(o, "dump", p, "--after", "bogus")
    check("dump --after an unknown pass exits 2 listing the passes",
          rc == 2 and "bogus" in err and all(n in err for n in names), err[:300])
    for bad, needle in (("bogus", "unknown pass 'bogus'"), ("plan", "cannot be disabled"), ("fuse,", "empty pass name"),
                        ("", "needs pass names")):
        for cmd in ("dump", "run", "bench", "compile"):
            expect_error(o, "%s --disable-pass '%s' exits 2" % (cmd, bad), [cmd, p, "--disable-pass", bad], 2, needle)
    rc, out, _ = run(o, "dump", "--help")
    check("dump --help lists every pass", rc == 0 and all("--after " + n in out for n in names), out[:600])
    for cmd in ("run", "bench", "compile"):
        rc, out, _ = run(o, cmd, "--help")
        check("%s --help shows --disable-pass" % cmd, rc == 0 and "--disable-pass" in out)
        check("%s --help shows --layout auto|nchw" % cmd, rc == 0 and "--layout auto|nchw" in out)
    # the same outputs with the optional passes off
    x = np.linspace(-2, 2, 32, dtype=np.float32).reshape(1, 2, 4, 4)
    xf = os.path.join(w, "xconv.npy")
    np.save(xf, x)
    res = []
    rc, _, err = run(o, "run", p, "--layout", "nhwc")
    check("--layout nhwc: refused, naming the choices", rc != 0 and "unknown layout 'nhwc' (auto or nchw)" in err, err[:300])
    for flags in ([], ["--disable-pass", "inline,dce,fuse"], ["--layout", "nchw"]):
        od = os.path.join(w, "out_conv%d" % len(flags))
        rc, _, err = run(o, "run", p, xf, "-o", od, *flags)
        check("run %s exits 0" % " ".join(flags), rc == 0, err[:300])
        res.append([np.load(os.path.join(od, "output_%d.npy" % k)) for k in range(2)] if rc == 0 else None)
    check("run with inline, dce, fuse disabled: the same outputs", res[0] is not None and res[1] is not None and
          np.allclose(res[0][0], res[1][0], atol=1e-6) and np.array_equal(res[1][1], x) and res[0][0].min() >= 0)
    check("run --layout nchw: the same outputs", res[0] is not None and res[2] is not None and
          np.allclose(res[0][0], res[2][0], atol=1e-6))


def save_graph(path, nodes, inputs, outputs, inits=(), opset=13):
    m = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, list(inits)),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save(m, path)
    return path


def dim_names(o, w):
    """--shape DIM=N by a free dim's name (as ONNX Runtime's free-dimension overrides) in every command"""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    p = save_graph(os.path.join(w, "dyn.onnx"), [helper.make_node("Relu", ["x"], ["y"], name="r")], [x], [y])
    rc, out, err = run(o, "info", p, "--shape", "batch=4")
    check("info --shape batch=4 (a dim name)", rc == 0 and "float32[4x3]" in out, (rc, out, err))
    od = os.path.join(w, "out_dyn")
    x4, x2 = os.path.join(w, "x4.npy"), os.path.join(w, "x2.npy")
    np.save(x4, np.ones((4, 3), np.float32))
    np.save(x2, np.ones((2, 3), np.float32))
    rc, out, err = run(o, "run", p, x4, "--shape", "batch=4", "-o", od)
    ok = rc == 0 and np.load(os.path.join(od, "output_0.npy")).shape == (4, 3)
    check("run --shape batch=4 with a 4x3 input", ok, (rc, out, err[:300]))
    expect_error(o, "run --shape batch=4 refuses a 2x3 input", ["run", p, x2, "--shape", "batch=4"], 1, "dim 0")
    rc, out, err = run(o, "dump", p, "--shape", "batch=5")
    check("dump --shape batch=5", rc == 0 and "float32[5x3]" in out, (rc, err[:300]))
    rc, out, err = run(o, "bench", p, "--shape", "batch=2", "--runs", "2")
    check("bench --shape batch=2", rc == 0, (rc, err[:300]))
    rc, out, err = run(o, "compile", p, "--shape", "batch=2", "-o", os.path.join(w, "dyn.ll"))
    check("compile --shape batch=2", rc == 0 and os.path.exists(os.path.join(w, "dyn.ll")), (rc, err[:300]))
    expect_error(o, "--shape by an unknown name lists the inputs and the dims", ["info", p, "--shape", "nope=4"], 1,
                 "(inputs: 'x'), nor a dim (dims: 'batch')")
    expect_error(o, "--shape a dim name with several dims", ["info", p, "--shape", "batch=2x3"], 1,
                 "a dim name takes one size")
    expect_error(o, "--shape the dim and its input disagree", ["info", p, "--shape", "batch=2", "--shape", "x=3x3"], 1,
                 "given as both")


def info_exit_codes(o, w):
    """info prints what it can, then exits 1 naming the file when the model fails to infer shapes"""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    wt = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    p = save_graph(os.path.join(w, "stride0.onnx"),
                   [helper.make_node("Conv", ["x", "w"], ["y"], strides=[0, 1], name="conv")], [x], [y], [wt])
    rc, out, err = run(o, "info", p)
    check("info on a zero stride: report on stdout, exit 1, the error naming file and node on stderr",
          rc == 1 and "graph g" in out and p in err and "node 'conv' (Conv)" in err, (rc, out, err))
    xf = os.path.join(w, "x1388.npy")
    np.save(xf, np.ones((1, 3, 8, 8), np.float32))
    expect_error(o, "run: a shape error names the model file", ["run", p, xf], 1, p + ": node 'conv' (Conv)")
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [4, 5])
    p = save_graph(os.path.join(w, "nobroadcast.onnx"), [helper.make_node("Add", ["a", "b"], ["y"], name="add")],
                   [a, b], [y])
    expect_error(o, "compile: a shape error names the model file", ["compile", p, "-o", os.path.join(w, "nb.ll")], 1,
                 p + ": node 'add' (Add)")
    rc, out, err = run(o, "info", os.path.join(EXAMPLE, "model.onnx"))
    check("info on a good model exits 0", rc == 0 and not err, err[:300])


def escaped_names(o, w):
    """names with control bytes are printed escaped, long ones shortened; NAME_error and NAME.h too"""
    bad = "in\tput\n\x1b[31m??/"
    x = helper.make_tensor_value_info(bad, TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y" * 100000, TensorProto.FLOAT, [2, 3])
    p = save_graph(os.path.join(w, "names.onnx"), [helper.make_node("Relu", [bad], ["y" * 100000], name="r\nr")], [x], [y])
    rc, out, err = run(o, "info", p)
    check("info prints names escaped and shortened", rc == 0 and "in\\tput\\n\\033[31m" in out and "\x1b" not in out
          and "\t" not in out and max(len(l) for l in out.splitlines()) < 400, (rc, out[:400], err[:300]))
    rc, out, err = run(o, "dump", p)
    check("dump prints node names escaped", rc == 0 and "# r\\nr" in out and "\x1b" not in out, (rc, err[:300]))
    expect_error(o, "a message with a 100000-byte name is short", ["run", p, "-i", "y" * 100000 + "=nope.npy"], 1, "-i")
    rc, _, err = run(o, "run", p, "-i", "y" * 100000 + "=nope.npy")
    check("... under 5000 bytes", len(err) < 5000, len(err))
    d = os.path.join(w, "names_so")
    os.makedirs(d, exist_ok=True)
    so = os.path.join(d, "libnm.so")
    rc, out, err = run(o, "compile", p, "-o", so)
    check("compile lists what it wrote with sizes", rc == 0 and ("wrote %s (" % so) in out
          and ("wrote %s (" % os.path.join(d, "nm.h")) in out and "bytes)" in out, (rc, out, err[:300]))
    rc, out, err = run(o, "compile", "-q", p, "-o", so)
    check("compile -q prints nothing", rc == 0 and not out and not err, (rc, out, err[:300]))
    # what libonnxc says it wrote (onnxc_session_written), not what the folder happens to hold
    open(os.path.join(d, "other.h"), "w").write("/* not the compile's */\n")
    rc, out, err = run(o, "compile", p, "-o", so)
    check("compile lists exactly the files it wrote", rc == 0 and sorted(out.split("\n")[:-1]) == sorted(
        "wrote %s (%d bytes)" % (f, os.path.getsize(f)) for f in (so, os.path.join(d, "nm.h"))), (rc, out, err[:300]))
    c_dir = os.path.join(d, "nm_c")
    rc, out, err = run(o, "compile", p, "--emit", "c", "-o", c_dir)
    listed = sorted(l.split(" ")[1] for l in out.splitlines())
    check("compile --emit c lists every file of the folder", rc == 0 and listed == sorted(
        os.path.join(c_dir, f) for f in os.listdir(c_dir)), (rc, out, err[:300]))
    if rc:
        return
    # NAME.h's name macro is the exact name, even under -std=c11 (trigraphs); NAME_error escapes it
    src = os.path.join(d, "t.c")
    open(src, "w").write('''#include <stdio.h>
#include <string.h>
#include "nm.h"
int main(void) {
  nm *m;
  if (nm_create(&m, NULL)) return 2;
  float out[6];
  const void *in[1] = {NULL};
  void *outs[1] = {out};
  if (!nm_run(m, in, outs)) return 3;
  printf("%s|%d\\n", nm_error(m), (int)strlen(nm_INPUT_0_NAME));
  nm_destroy(m);
  return 0;
}
''')
    exe = os.path.join(d, "t")
    cc = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", d, src, so, "-o", exe, "-Wl,-rpath," + d],
                        capture_output=True, text=True)
    check("NAME.h with hostile names compiles under -std=c11", cc.returncode == 0, cc.stderr[:400])
    if cc.returncode == 0:
        r = subprocess.run([exe], capture_output=True)
        line = r.stdout.decode(errors="replace")
        check("NAME_error escapes the name; NAME_INPUT_0_NAME is the exact name",
              r.returncode == 0 and "in\\tput\\n\\033[31m" in line and "\x1b" not in line
              and line.strip().endswith("|%d" % len(bad.encode())), (r.returncode, line))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--static-llvm", action="store_true", help="the build linked LLVM's static archives")
    a = ap.parse_args()
    w = a.work
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    o = a.onnxc
    rnd = random.Random(1)

    if a.static_llvm:  # a process start without libLLVM.so's ~340,000 relocations (README, Speed)
        ldd = subprocess.run(["ldd", o], capture_output=True, text=True).stdout
        check("the CLI does not load libLLVM.so", "libLLVM" not in ldd, ldd)
        p = subprocess.run([o, "--version"], capture_output=True, text=True, env=dict(os.environ, LD_DEBUG="statistics"))
        rel = [int(m) for m in re.findall(r"number of relative relocations: (\d+)", p.stderr)]
        check("a process start relocates few pointers (< 20,000)", p.returncode == 0 and rel and max(rel) < 20000, rel)

    # usage and help
    rc, out, _ = run(o, "--help")
    check("help exits 0", rc == 0 and "commands:" in out)
    for cmd in ["info", "run", "compile", "bench", "dump"]:
        rc, out, _ = run(o, cmd, "--help")
        check("%s --help exits 0" % cmd, rc == 0 and ("usage: onnxc " + cmd) in out)
        rc, out, err = run(o, cmd)
        check("%s without a model: exit 2, usage on stderr" % cmd, rc == 2 and not out and
              err.startswith("usage: onnxc " + cmd), (rc, out[:100], err[:100]))
    for cmd in ["info", "dump"]:
        expect_error(o, "%s with an extra argument exits 2" % cmd, [cmd, os.path.join(EXAMPLE, "model.onnx"), "extra"], 2,
                     "unexpected argument 'extra'")
    rc, _, err = run(o)
    check("no command is a usage error (exit 2, usage on stderr)", rc == 2 and err.startswith("usage:"))
    rc, _, err = run(o, "frobnicate")
    check("unknown command exits 2", rc == 2 and "unknown command" in err)
    expect_error(o, "unknown option exits 2", ["run", os.path.join(EXAMPLE, "model.onnx"), "--bogus"], 2, "unknown option")
    expect_error(o, "bad --max-memory exits 2", ["info", os.path.join(EXAMPLE, "model.onnx"), "--max-memory", "lots"], 2,
                 "bad size")
    expect_error(o, "bad --max-compile-time exits 2",
                 ["run", os.path.join(EXAMPLE, "model.onnx"), "--max-compile-time", "-1"], 2, "max-compile-time")
    # the compile-time bound: a microsecond is over before the model is even read
    expect_error(o, "run past --max-compile-time exits 1 naming the bound",
                 ["run", os.path.join(EXAMPLE, "model.onnx"), os.path.join(EXAMPLE, "input.npy"),
                  "--max-compile-time", "0.000001"], 1, "longer than --max-compile-time")
    lib = os.path.join(w, "bound", "libbound.so")
    os.makedirs(os.path.dirname(lib), exist_ok=True)
    expect_error(o, "compile past --max-compile-time exits 1 naming the bound",
                 ["compile", os.path.join(EXAMPLE, "model.onnx"), "-o", lib, "--max-compile-time", "0.000001"], 1,
                 "longer than --max-compile-time")
    check("compile past --max-compile-time writes no library or header",
          not os.path.exists(lib) and not os.path.exists(os.path.join(w, "bound", "bound.h")))
    expect_error(o, "bad --shape exits 2", ["info", os.path.join(EXAMPLE, "model.onnx"), "--shape", "x=1xZ"], 2, "bad dims")
    expect_error(o, "bad --spin exits 2", ["run", os.path.join(EXAMPLE, "model.onnx"), "--spin", "maybe"], 2,
                 "bad value 'maybe' for --spin")
    rc, out, err = run(o, "run", os.path.join(EXAMPLE, "model.onnx"), os.path.join(EXAMPLE, "input.npy"), "--threads", "2",
                       "--spin", "off", "--no-cache")
    check("run --threads 2 --spin off runs (workers not spinning)", rc == 0, "(exit %d, %r)" % (rc, err[:300]))

    # malformed model files
    good = add_model(w).SerializeToString()
    cases = {
        "empty": b"",
        "truncated": good[: len(good) // 2],
        "random bytes": bytes(rnd.getrandbits(8) for _ in range(4096)),
    }
    for name, data in cases.items():
        p = os.path.join(w, name.replace(" ", "_") + ".onnx")
        open(p, "wb").write(data)
        rc, _, err = run(o, "info", p)
        lines = [l for l in err.splitlines() if l.strip()]
        check("malformed model (%s) -> exit 1, one line" % name, rc == 1 and len(lines) == 1, "(exit %d, %r)" % (rc, err[:300]))

    m = add_model(w)
    m.graph.initializer[0].dims[0] = -1
    p = os.path.join(w, "negdim.onnx")
    open(p, "wb").write(m.SerializeToString())
    expect_error(o, "initializer dim -1 -> exit 1", ["info", p], 1, "'c'")

    m = add_model(w)
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-4]
    p = os.path.join(w, "rawlen.onnx")
    open(p, "wb").write(m.SerializeToString())
    expect_error(o, "raw_data of the wrong length -> exit 1", ["info", p], 1, "raw_data")

    expect_error(o, "missing model file -> exit 1", ["info", os.path.join(w, "nope.onnx")], 1, "nope.onnx")
    expect_error(o, "a folder as model -> exit 1", ["info", w], 1, w)

    # unsupported ops: one error listing all, sorted
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    g = helper.make_graph([helper.make_node("Zeta", ["x"], ["t"]), helper.make_node("Alpha", ["t"], ["u"]),
                           helper.make_node("Zeta", ["u"], ["y"])], "g", [x], [y])
    p = os.path.join(w, "unsupported.onnx")
    open(p, "wb").write(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    rc, _, err = run(o, "info", p)
    check("unsupported ops listed once, sorted", rc == 1 and "Alpha" in err and "Zeta" in err
          and err.index("Alpha") < err.index("Zeta") and err.count("Zeta") == 1, err[:300])

    # run: wrong input shape / dtype / missing input
    p = os.path.join(w, "add.onnx")
    onnx.save(add_model(w), p)
    np.save(os.path.join(w, "x_bad.npy"), np.zeros((3, 3), np.float32))
    np.save(os.path.join(w, "x_int.npy"), np.zeros((2, 3), np.int64))
    np.save(os.path.join(w, "x.npy"), np.arange(6, dtype=np.float32).reshape(2, 3))
    expect_error(o, "wrong input shape -> exit 1", ["run", p, os.path.join(w, "x_bad.npy")], 1, "dim 0")
    expect_error(o, "wrong input dtype -> exit 1", ["run", p, os.path.join(w, "x_int.npy")], 1, "dtype")
    np.save(os.path.join(w, "x_f64.npy"), np.zeros((2, 3)))  # numpy's default dtype
    expect_error(o, "a float64 .npy for a float32 input says how to convert it -> exit 1",
                 ["run", p, os.path.join(w, "x_f64.npy")], 1, "x.astype(numpy.float32)")
    expect_error(o, "missing input -> exit 1", ["run", p], 1, "no data for input 'x'")
    expect_error(o, "unknown input name -> exit 1", ["run", p, "-i", "nope=" + os.path.join(w, "x.npy")], 1, "no input named")
    xf = os.path.join(w, "x.npy")
    expect_error(o, "input given twice by -i -> exit 1", ["run", p, "-i", "x=" + xf, "-i", "x=" + xf], 1, "given twice")
    expect_error(o, "input given by position and -i -> exit 1", ["run", p, xf, "-i", "x=" + xf], 1, "given twice")
    open(os.path.join(w, "junk.npy"), "wb").write(b"\x93NUMPY\x01\x00garbage")
    expect_error(o, "malformed .npy -> exit 1", ["run", p, os.path.join(w, "junk.npy")], 1, "junk.npy")

    # run: a correct run writes output_0.npy
    od = os.path.join(w, "out")
    rc, out, err = run(o, "run", p, os.path.join(w, "x.npy"), "-o", od)
    ok = rc == 0 and os.path.exists(os.path.join(od, "output_0.npy"))
    if ok:
        got = np.load(os.path.join(od, "output_0.npy"))
        ok = np.array_equal(got, np.arange(6, dtype=np.float32).reshape(2, 3) + 1)
    check("run writes output_0.npy with the right values", ok, err[:300])
    hostile_inputs(o, w, p)
    compile_outputs(o, w, p)
    dump_after(o, w)

    # data-dependent output shapes: compile names the node; run binds the input's values
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, None)
    g = helper.make_graph([helper.make_node("NonZero", ["x"], ["y"], name="nz")], "g", [x], [y])
    p = os.path.join(w, "nonzero.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), p)
    expect_error(o, "compile NonZero of a runtime input -> exit 1", ["compile", p, "-o", os.path.join(w, "nz.so")], 1,
                 "node 'nz' (NonZero): output shape depends on input data")
    np.save(os.path.join(w, "xnz.npy"), np.array([[0, 1, 0], [2, 0, 3]], np.float32))
    od = os.path.join(w, "out_nz")
    rc, out, err = run(o, "run", p, os.path.join(w, "xnz.npy"), "-o", od)
    ok = rc == 0 and os.path.exists(os.path.join(od, "output_0.npy"))
    if ok:
        ok = np.array_equal(np.load(os.path.join(od, "output_0.npy")), np.array([[0, 1, 1], [1, 0, 2]]))
    check("run NonZero on the values of its input file", ok, err[:300])

    dim_names(o, w)
    info_exit_codes(o, w)
    escaped_names(o, w)

    return summary("cli")


if __name__ == "__main__":
    sys.exit(main())
