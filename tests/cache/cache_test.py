#!/usr/bin/python3
"""cache_test.py — the on-disk cache of compiled code (lib/cache.c) through `onnxc run`: a miss
stores an entry and the next run hits it with the same outputs; a corrupt, truncated or foreign
entry is rebuilt, never trusted; options, shapes and weights change the key (one byte of a large
weight, in a subgraph or an external data file, too); --no-cache and
ONNXC_NO_CACHE neither read nor write; the folder stays within ONNXC_CACHE_MAX_SIZE; two processes
compiling the same model at once both succeed; a module compiled as two halves on two threads
(ONNXC_JIT_THREADS=2) gives the same outputs and its entry (two objects) hits; the frontend's
weights file (DIR/<id>.onnxw) is mapped by the next load, and a damaged, stale, truncated or
foreign one never changes a result and is rewritten; so are the constants the passes make from the
weights (DIR/<id>.onnxk: attention's Q/K/V split).  Always in a
folder under --work (HOME is pointed there too, so nothing can reach the user's cache).

  cache_test.py --onnxc build/onnxc --work DIR
Ends with 'cache: N passed, N failed'."""
import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common"))
from checks import check, summary, work_args  # noqa: E402


def make_model(path, w, b):
    """Y = Relu(X·W + B), X float[n, 8] with a free dim n"""
    g = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["t"]), helper.make_node("Add", ["t", "B"], ["u"]),
         helper.make_node("Relu", ["u"], ["Y"])], "cached",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


class Env:
    def __init__(self, onnxc, work):
        self.onnxc, self.work = onnxc, work
        self.cache = os.path.join(work, "cache")
        self.env = dict(os.environ)
        self.env.pop("ONNXC_NO_CACHE", None)  # the suite turns the cache off for every other test
        self.env.pop("ONNXC_CACHE_MAX_SIZE", None)
        self.env.pop("XDG_CACHE_HOME", None)
        self.env["HOME"] = os.path.join(work, "home")
        self.env["ONNXC_CACHE_DIR"] = self.cache

    def run(self, model, x, *args, env=None):
        """onnxc run: (exit status, stderr, output array or None)"""
        out = os.path.join(self.work, "out")
        shutil.rmtree(out, ignore_errors=True)
        xin = os.path.join(self.work, "x.npy")
        np.save(xin, x)
        e = dict(self.env)
        e.update(env or {})
        p = subprocess.run([self.onnxc, "run", model, xin, "-o", out, "--time-passes"] + list(args),
                           capture_output=True, timeout=300, env=e)
        err = p.stderr.decode(errors="replace")
        y = os.path.join(out, "output_0.npy")
        return p.returncode, err, np.load(y) if os.path.exists(y) else None

    def entries(self, folder=None):
        return sorted(glob.glob(os.path.join(folder or self.cache, "*.onnxc")))


def note(err, what="cache:"):
    """the line of the phase report that starts with what ("cache: ...")"""
    for line in err.splitlines():
        if line.strip().startswith(what):
            return line.strip()
    return ""


def expect(x, w, b):
    return np.maximum(x @ w + b, 0)


def test_hit_miss(t, model, x, w, b):
    rc, err, y = t.run(model, x)
    check("first run compiles and stores", rc == 0 and "miss; stored" in note(err) and len(t.entries()) == 1,
          note(err) + err[-300:])
    check("first run's output", y is not None and np.allclose(y, expect(x, w, b), rtol=1e-5, atol=1e-6))
    rc, err, y2 = t.run(model, x)
    check("second run hits", rc == 0 and note(err).startswith("cache: hit"), note(err) + err[-300:])
    check("hit's output equals the compiled one", y2 is not None and y is not None and np.array_equal(y, y2))
    check("a hit runs no code generation", "kernel gen" not in err and "llvm opt" not in err, err)


def damage(t, model, x, w, b, how, edit):
    [entry] = t.entries()
    data = bytearray(open(entry, "rb").read())
    open(entry, "wb").write(edit(data))
    rc, err, y = t.run(model, x)
    check("%s entry: rebuilt" % how, rc == 0 and "bad entry" in note(err) and "rebuilt" in note(err),
          note(err) + err[-300:])
    check("%s entry: output right" % how, y is not None and np.allclose(y, expect(x, w, b), rtol=1e-5, atol=1e-6))
    rc, err, _ = t.run(model, x)
    check("%s entry: the rebuilt entry hits" % how, rc == 0 and note(err).startswith("cache: hit"), note(err))


def flip(pos):
    def f(d):
        i = pos if pos >= 0 else len(d) + pos
        d[i] ^= 0x40
        return bytes(d)
    return f


def test_damaged(t, model, x, w, b):
    damage(t, model, x, w, b, "object byte flipped", flip(-100))
    damage(t, model, x, w, b, "weight byte flipped", flip(4096 + 8))
    damage(t, model, x, w, b, "header byte flipped", flip(20))
    damage(t, model, x, w, b, "key byte flipped", flip(200))
    damage(t, model, x, w, b, "truncated", lambda d: bytes(d[: len(d) // 2]))
    damage(t, model, x, w, b, "empty", lambda d: b"")
    damage(t, model, x, w, b, "foreign (not an entry)", lambda d: b"\x7fELF" + bytes(len(d)))


def test_key(t, model, x, w, b):
    n0 = len(t.entries())
    rc, err, y = t.run(model, x, "--disable-pass", "fuse")
    check("another pass switch: a miss", rc == 0 and "miss; stored" in note(err) and len(t.entries()) == n0 + 1,
          note(err))
    check("another pass switch: output right", y is not None and np.allclose(y, expect(x, w, b), rtol=1e-5, atol=1e-6))
    x3 = np.random.RandomState(3).randn(3, 8).astype(np.float32)
    rc, err, y = t.run(model, x3)
    check("another input shape: a miss", rc == 0 and "miss; stored" in note(err) and len(t.entries()) == n0 + 2,
          note(err))
    check("another input shape: output right", y is not None and np.allclose(y, expect(x3, w, b), rtol=1e-5, atol=1e-6))
    # the same file name with other weights: never the old code and weights
    w2, b2 = w * -2.0, b + 1.0
    model2 = os.path.join(t.work, "model2.onnx")
    make_model(model2, w2, b2)
    shutil.copy(model2, model)
    rc, err, y = t.run(model, x)
    check("other weights in the same file: a miss", rc == 0 and "miss; stored" in note(err), note(err))
    check("other weights: their output", y is not None and np.allclose(y, expect(x, w2, b2), rtol=1e-5, atol=1e-6))
    make_model(model, w, b)
    rc, err, y = t.run(model, x)
    check("the first weights again: a hit", rc == 0 and note(err).startswith("cache: hit"), note(err))


def make_big_model(path, wt, we, external=False):
    """Y = If(sum(X) > 0, X·WT, X·WE), X float[n, 8], each branch's weight an initializer of its
    subgraph: large (above the frontend's in-place raw_data size), so the file's skeleton leaves
    them out of its digest and the key must hash them as constants"""
    def branch(name, w):
        return helper.make_graph([helper.make_node("MatMul", ["X", name], ["y_" + name])], "b_" + name, [],
                                 [helper.make_tensor_value_info("y_" + name, TensorProto.FLOAT, None)],
                                 [numpy_helper.from_array(w, name)])
    g = helper.make_graph(
        [helper.make_node("ReduceSum", ["X"], ["s"], keepdims=0), helper.make_node("Greater", ["s", "zero"], ["c"]),
         helper.make_node("If", ["c"], ["Y"], then_branch=branch("WT", wt), else_branch=branch("WE", we))],
        "cached_big", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", wt.shape[1]])],
        [numpy_helper.from_array(np.zeros((), np.float32), "zero")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    if external:
        data = path + ".data"
        if os.path.exists(data):
            os.remove(data)  # onnx appends to an existing data file: the offsets would move
        onnx.save(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                  location=os.path.basename(path) + ".data", size_threshold=1024)
    else:
        onnx.save(m, path)


def nudge(w, i, j):
    """w with one element changed in its last mantissa bit: one weight byte differs"""
    w2 = w.copy()
    w2[i, j] = np.nextafter(w2[i, j], np.float32(np.inf))
    return w2


def test_weight_bytes(t, model, x, w, b):
    """large weights (the frontend hashes them into the model's digest as it copies them, apart from
    the rest of the file; the key hashes no constant): one changed byte, in a subgraph's weight or
    an external data file, is a miss; the same bytes again a hit"""
    rs = np.random.RandomState(5)
    wt, we = rs.randn(8, 2048).astype(np.float32), rs.randn(8, 2048).astype(np.float32)
    # sum > 0: the then branch runs; more than 4096 values, so X is not bound into the code
    # (pass_specialize) and the If stays: both branches' weights are in the compiled model
    xp = np.abs(np.random.RandomState(6).randn(600, 8).astype(np.float32))
    for external in (False, True):
        kind = "external data" if external else "in the file"
        folder = os.path.join(t.work, "big_ext" if external else "big")
        os.makedirs(folder, exist_ok=True)
        big = os.path.join(folder, "big.onnx")
        make_big_model(big, wt, we, external)
        rc, err, y = t.run(big, xp)
        check("large weights %s: first run stores" % kind, rc == 0 and "miss; stored" in note(err), note(err) + err[-300:])
        check("large weights %s: output" % kind, y is not None and np.allclose(y, xp @ wt, rtol=1e-4, atol=1e-4))
        rc, err, y = t.run(big, xp)
        check("large weights %s: the same file hits" % kind, rc == 0 and note(err).startswith("cache: hit"), note(err))
        make_big_model(big, nudge(wt, 3, 1000), we, external)
        rc, err, y = t.run(big, xp)
        check("one byte of the running branch's weight %s changed: a miss" % kind,
              rc == 0 and "miss; stored" in note(err), note(err))
        check("the changed weight's output", y is not None and np.allclose(y, xp @ nudge(wt, 3, 1000), rtol=1e-4, atol=1e-4))
        make_big_model(big, wt, nudge(we, 7, 2047), external)
        rc, err, y = t.run(big, xp)
        check("one byte of the other branch's weight %s changed: a miss" % kind,
              rc == 0 and "miss; stored" in note(err), note(err))
        make_big_model(big, wt, we, external)
        rc, err, y = t.run(big, xp)
        check("large weights %s as at first: a hit" % kind, rc == 0 and note(err).startswith("cache: hit"), note(err))


def test_no_cache(t, model, x, w, b):
    other = os.path.join(t.work, "cache_off")
    for what, args, env in (("--no-cache", ["--no-cache"], {}), ("ONNXC_NO_CACHE=1", [], {"ONNXC_NO_CACHE": "1"})):
        rc, err, y = t.run(model, x, *args, env=dict(env, ONNXC_CACHE_DIR=other))
        check("%s: runs" % what, rc == 0 and y is not None and np.allclose(y, expect(x, w, b), rtol=1e-5, atol=1e-6),
              err[-300:])
        check("%s: no cache line, nothing written" % what, note(err) == "" and not os.path.exists(other),
              note(err))
        rc, err, y = t.run(model, x, *args, env=env)
        check("%s: the existing entry is not used" % what, rc == 0 and note(err) == "" and "llvm opt" in err,
              note(err))
    rc, err, _ = t.run(model, x, "--cache-dir", other)
    check("--cache-dir: stores there", rc == 0 and "stored " + other in note(err) and len(t.entries(other)) == 1,
          note(err))
    check("the home folder is never written", not os.path.exists(os.path.join(t.work, "home", ".cache")))


def test_bound(t, model, x, w, b):
    folder = os.path.join(t.work, "bounded")
    env = {"ONNXC_CACHE_DIR": folder}
    rc, err, _ = t.run(model, x, env=env)
    [entry] = t.entries(folder)
    size = os.path.getsize(entry)
    bound = int(size * 2.5)  # room for two entries of this model, not three
    env["ONNXC_CACHE_MAX_SIZE"] = str(bound)
    for k, args in enumerate((["--disable-pass", "fuse"], ["--disable-pass", "dce"], ["--disable-pass", "fuse,dce"])):
        rc, err, _ = t.run(model, x, *args, env=env)
        total = sum(os.path.getsize(e) for e in t.entries(folder))
        check("bound: entry %d stored, folder within the bound" % (k + 2),
              rc == 0 and "stored" in note(err) and total <= bound and len(t.entries(folder)) == 2,
              "%s; %d bytes in %d entries, bound %d" % (note(err), total, len(t.entries(folder)), bound))
    rc, err, _ = t.run(model, x, "--disable-pass", "fuse,dce", env=env)
    check("bound: the newest entry was kept", note(err).startswith("cache: hit"), note(err))
    rc, err, _ = t.run(model, x, env=env)
    check("bound: the oldest entry was evicted", "miss; stored" in note(err), note(err))
    env["ONNXC_CACHE_MAX_SIZE"] = str(size // 2)
    shutil.rmtree(folder)
    rc, err, y = t.run(model, x, env=env)
    check("bound: an entry larger than the bound is not stored",
          rc == 0 and "larger than the cache's bound" in note(err) and not t.entries(folder) and y is not None,
          note(err))


def test_concurrent(t, model, x, w, b):
    folder = os.path.join(t.work, "racing")
    xin = os.path.join(t.work, "xr.npy")
    np.save(xin, x)
    e = dict(t.env, ONNXC_CACHE_DIR=folder)
    ps = [subprocess.Popen([t.onnxc, "run", model, xin, "-o", os.path.join(t.work, "race%d" % i)], env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(3)]
    rcs = [p.wait(timeout=300) for p in ps]
    outs = [np.load(os.path.join(t.work, "race%d" % i, "output_0.npy")) for i in range(3) if rcs[i] == 0]
    check("three processes compiling at once all succeed", rcs == [0, 0, 0] and len(outs) == 3 and
          all(np.allclose(o, expect(x, w, b), rtol=1e-5, atol=1e-6) for o in outs), str(rcs))
    left = os.listdir(folder) if os.path.isdir(folder) else []
    check("one entry, no temporary files left", len(left) == 1 and left[0].endswith(".onnxc"), str(left))
    rc, err, _ = t.run(model, x, env={"ONNXC_CACHE_DIR": folder})
    check("the raced entry is whole (hits)", note(err).startswith("cache: hit"), note(err))


def make_two_kernel_model(path, w, b):
    """Y = Softmax(Relu(X·W + B)): two kernels (the MatMul with its epilogue, the Softmax)"""
    g = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["t"]), helper.make_node("Add", ["t", "B"], ["u"]),
         helper.make_node("Relu", ["u"], ["r"]), helper.make_node("Softmax", ["r"], ["Y"], axis=-1)], "halves",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def check_two_threads(t, what, path, x, folder, early, row):
    """path compiled on one thread, then on two (ONNXC_JIT_EARLY=early) with the phase row row, stored,
    hit; both outputs equal the one-thread module's bit for bit.  The one-thread output and the
    two-thread env"""
    one = {"ONNXC_JIT_THREADS": "1", "ONNXC_NO_CACHE": "1"}
    two = {"ONNXC_JIT_THREADS": "2", "ONNXC_JIT_EARLY": early, "ONNXC_CACHE_DIR": folder}
    rc1, err1, y1 = t.run(path, x, env=one)
    check(what + ": one thread compiles one module", rc1 == 0 and "2nd thread" not in err1, err1[-300:])
    rc, err, y = t.run(path, x, env=two)
    check(what + ": compiled on two threads and stored",
          rc == 0 and row in err and "miss; stored" in note(err), note(err) + err[-300:])
    check(what + ": outputs equal the one-module ones", y is not None and y1 is not None and np.array_equal(y, y1))
    rc, err, y2 = t.run(path, x, env=two)
    check(what + ": the entry hits", rc == 0 and note(err).startswith("cache: hit"), note(err) + err[-300:])
    check(what + ": the hit's outputs equal", y2 is not None and y1 is not None and np.array_equal(y2, y1))
    return y1, two


def test_two_halves(t, model, x, w, b):
    """ONNXC_JIT_THREADS=2: the module compiled as two halves on two threads (jit.c) gives the
    one-thread module's outputs bit for bit; its entry keeps both objects, hits, and a damaged
    second object is rebuilt"""
    m2 = os.path.join(t.work, "halves.onnx")
    make_two_kernel_model(m2, w, b)
    folder = os.path.join(t.work, "halves")
    y1, two = check_two_threads(t, "two halves", m2, x, folder, "0", "llvm (2nd thread)")
    [entry] = t.entries(folder)
    data = flip(-50)(bytearray(open(entry, "rb").read()))  # a byte of the second object
    open(entry, "wb").write(data)
    rc, err, y3 = t.run(m2, x, env=two)
    check("two halves: a damaged second object is rebuilt", rc == 0 and "bad entry" in note(err) and
          y3 is not None and np.array_equal(y3, y1), note(err) + err[-300:])


def make_chain_model(path, w, b):
    """Y = Softmax(Softmax(Softmax(X·W + B)·Wᵀ)·W): six kernels, the MatMuls' different in shape"""
    g = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["t"]), helper.make_node("Add", ["t", "B"], ["u"]),
         helper.make_node("Softmax", ["u"], ["s1"], axis=-1), helper.make_node("MatMul", ["s1", "WT"], ["v"]),
         helper.make_node("Softmax", ["v"], ["s2"], axis=-1), helper.make_node("MatMul", ["s2", "W"], ["z"]),
         helper.make_node("Softmax", ["z"], ["Y"], axis=-1)], "chain",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(np.ascontiguousarray(w.T), "WT"),
         numpy_helper.from_array(b, "B")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_early_half(t, model, x, w, b):
    """ONNXC_JIT_EARLY=0.5: the first half of the nodes' kernels are compiled on the second thread
    while the rest are generated (jit.c early_split); outputs bit-equal, the entry hits"""
    m3 = os.path.join(t.work, "chain.onnx")
    make_chain_model(m3, w, b)
    check_two_threads(t, "early half", m3, x, os.path.join(t.work, "early"), "0.5", "llvm (2nd thread, early)")


def wnote(err):
    """the 'cache weights: ...' line of the phase report (the frontend's weights file)"""
    return note(err, "cache weights:")


def make_wide_model(path, w1, w2):
    """Y = Relu(X·W1)·W2: 16 MB of weights, enough for the frontend's block of large raw_data
    (2 MB) and for the two-thread compare (16 MB)"""
    g = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
         helper.make_node("MatMul", ["r", "W2"], ["Y"])], "cached_wide",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", w1.shape[0]])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", w2.shape[1]])],
        [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(w2, "W2")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def check_damaged(t, what, model, x, y, path, first, note_of, stored, env):
    """the cache file at path (first: its good bytes) truncated, with a header byte flipped, or
    foreign: not mapped, stored again as it was, the output y unchanged"""
    for how, edit in (("truncated", lambda d: d[: len(d) // 2]), ("header byte flipped", flip(12)),
                      ("foreign", lambda d: b"\x7fELF" + bytes(len(d) - 4))):
        open(path, "wb").write(edit(bytearray(first)))
        rc, err, y5 = t.run(model, x, env=env)
        check("%s %s: not mapped, stored again" % (what, how), rc == 0 and note_of(err).startswith(stored),
              note_of(err) + err[-300:])
        check("%s %s: output" % (what, how), y5 is not None and y is not None and np.array_equal(y, y5))
        check("%s %s: the stored file is the first one" % (what, how), open(path, "rb").read() == first)


def test_weights_file(t, model, x, w, b):
    """the frontend maps the large raw_data an earlier load laid out (DIR/<id>.onnxw) instead of
    copying them, and compares every byte with the model's first: a damaged, stale, truncated or
    foreign file never changes a result, and is rewritten"""
    folder = os.path.join(t.work, "wide")
    cache = os.path.join(folder, "cache")
    os.makedirs(folder, exist_ok=True)
    env = {"ONNXC_CACHE_DIR": cache}
    rs = np.random.RandomState(11)
    w1, w2 = rs.randn(256, 8192).astype(np.float32), rs.randn(8192, 256).astype(np.float32) / 64
    xw = rs.randn(3, 256).astype(np.float32)
    wide = os.path.join(folder, "wide.onnx")
    make_wide_model(wide, w1, w2)

    def ref(a, b1):
        return np.maximum(a.astype(np.float64) @ b1, 0) @ w2

    def files():
        return sorted(glob.glob(os.path.join(cache, "*.onnxw")))
    rc, err, y = t.run(wide, xw, env=env)
    check("weights file: the first load stores it", rc == 0 and wnote(err).startswith("cache weights: stored") and
          len(files()) == 1, wnote(err) + err[-300:])
    check("weights file: first output", y is not None and np.allclose(y, ref(xw, w1), rtol=1e-4, atol=1e-3))
    if len(files()) != 1:
        return
    [wf] = files()
    first = open(wf, "rb").read()
    rc, err, y2 = t.run(wide, xw, env=env)
    check("weights file: the second load maps it", rc == 0 and wnote(err).startswith("cache weights: mapped") and
          "differed" not in wnote(err) and note(err).startswith("cache: hit"), wnote(err) + note(err) + err[-300:])
    check("weights file: mapped output equals the copied one", y2 is not None and y is not None and np.array_equal(y, y2))
    # damage both weights (W1 at its start, W2 near the end): the compare finds and copies them
    d = bytearray(first)
    for pos in (4096 + 1000, len(d) - 5000):
        d[pos] ^= 0x40
    open(wf, "wb").write(bytes(d))
    rc, err, y3 = t.run(wide, xw, env=env)
    check("weights file damaged: noticed and rewritten", rc == 0 and "differed from the model's, rewritten" in wnote(err),
          wnote(err) + err[-300:])
    check("weights file damaged: output unchanged", y3 is not None and y is not None and np.array_equal(y, y3))
    check("weights file damaged: the rewritten file is the first one", open(wf, "rb").read() == first)
    # the same skeleton with one weight byte changed: the same file name, stale bytes
    w1n = nudge(w1, 5, 4000)
    make_wide_model(wide, w1n, w2)
    rc, err, y4 = t.run(wide, xw, env=env)
    check("another model's weights file: noticed and rewritten",
          rc == 0 and "differed from the model's, rewritten" in wnote(err) and "miss; stored" in note(err),
          wnote(err) + note(err) + err[-300:])
    check("another model's weights file: output of the new weights",
          y4 is not None and np.allclose(y4, ref(xw, w1n), rtol=1e-4, atol=1e-3) and
          np.array_equal(y4[:, :], t.run(wide, xw, "--no-cache", env=env)[2]))
    make_wide_model(wide, w1, w2)
    check_damaged(t, "weights file", wide, xw, y, wf, first, wnote, "cache weights: stored", env)
    off = os.path.join(folder, "off")
    rc, err, _ = t.run(wide, xw, "--no-cache", env={"ONNXC_CACHE_DIR": off})
    check("--no-cache: no weights file", rc == 0 and not os.path.exists(off) and not wnote(err), wnote(err))


def kwnote(err):
    """the 'cache constants: ...' line (the passes' kept constants, DIR/<id>.onnxk)"""
    return note(err, "cache constants:")


def make_qkv_model(path, w, b):
    """t = X·W + B split in three along the last axis (attention's fused Q/K/V projection, which
    the attention pass splits into three MatMuls with new weights), Y = q·k + v elementwise"""
    n = w.shape[1] // 3
    c = [numpy_helper.from_array(np.array([v], np.int64), nm) for nm, v in
         (("s0", 0), ("s1", n), ("s2", 2 * n), ("s3", 3 * n), ("ax", -1))]
    g = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["p"]), helper.make_node("Add", ["p", "B"], ["t"]),
         helper.make_node("Slice", ["t", "s0", "s1", "ax"], ["q"]),
         helper.make_node("Slice", ["t", "s1", "s2", "ax"], ["k"]),
         helper.make_node("Slice", ["t", "s2", "s3", "ax"], ["v"]),
         helper.make_node("Mul", ["q", "k"], ["qk"]), helper.make_node("Add", ["qk", "v"], ["Y"])], "cached_qkv",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [3, w.shape[0]])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [3, n])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")] + c)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_kept_constants(t, model, x, w, b):
    """the constants attention's split makes from the weights are stored after the passes
    (DIR/<id>.onnxk) and the next load compares into a mapping of them instead of writing fresh
    pages: a damaged, truncated or foreign file never changes a result and is rewritten; another
    model's (the same skeleton, one weight byte changed) neither"""
    folder = os.path.join(t.work, "qkv")
    cache = os.path.join(folder, "cache")
    os.makedirs(folder, exist_ok=True)
    env = {"ONNXC_CACHE_DIR": cache}
    rs = np.random.RandomState(5)
    wq, bq = rs.randn(256, 3 * 512).astype(np.float32) / 16, rs.randn(3 * 512).astype(np.float32)
    xq = rs.randn(3, 256).astype(np.float32)
    path = os.path.join(folder, "qkv.onnx")
    make_qkv_model(path, wq, bq)

    def ref(wm):
        tt = xq.astype(np.float64) @ wm + bq
        return tt[:, :512] * tt[:, 512:1024] + tt[:, 1024:]

    def files():
        return sorted(glob.glob(os.path.join(cache, "*.onnxk")))
    rc, err, y = t.run(path, xq, env=env)
    check("kept constants: the first load stores them", rc == 0 and kwnote(err).startswith("cache constants: stored")
          and len(files()) == 1, kwnote(err) + err[-300:])
    check("kept constants: first output", y is not None and np.allclose(y, ref(wq), rtol=1e-4, atol=1e-3))
    if len(files()) != 1 or y is None:
        return
    [kf] = files()
    first = open(kf, "rb").read()
    check("kept constants: the file holds the split weights",
          len(first) >= 4096 + wq.nbytes and wq[:, :512].tobytes() in first and wq[:, 1024:].tobytes() in first)
    rc, err, y2 = t.run(path, xq, env=env)
    check("kept constants: the second load maps them", rc == 0 and kwnote(err).startswith("cache constants: mapped")
          and "rewritten" not in kwnote(err) and note(err).startswith("cache: hit"), kwnote(err) + note(err) + err[-300:])
    check("kept constants: mapped output equals the first", y2 is not None and np.array_equal(y, y2))
    d = bytearray(first)
    for pos in (4096 + 3, len(d) // 2, len(d) - 9):
        d[pos] ^= 0x20
    open(kf, "wb").write(bytes(d))
    for nc in ([], ["--no-cache"]):  # a hit; then --no-cache, which neither reads nor writes it
        rc, err, y3 = t.run(path, xq, *nc, env=env)
        if not nc:
            check("kept constants damaged: noticed and rewritten", rc == 0 and "differed" in kwnote(err) and
                  "rewritten" in kwnote(err), kwnote(err) + err[-300:])
            check("kept constants damaged: output unchanged", y3 is not None and np.array_equal(y, y3))
            check("kept constants damaged: the rewritten file is the first one", open(kf, "rb").read() == first)
        else:
            check("--no-cache: the kept file is not read", rc == 0 and not kwnote(err), kwnote(err))
    wn = wq.copy()
    wn[7, 600] += 1  # column 600: the second third (k), by enough to show in the output
    make_qkv_model(path, wn, bq)
    rc, err, y4 = t.run(path, xq, env=env)
    check("another model: its own kept constants", rc == 0 and kwnote(err).startswith("cache constants: stored") and
          len(files()) == 2, kwnote(err) + err[-300:])
    check("another model: output of the new weights", y4 is not None and np.allclose(y4, ref(wn), rtol=1e-4, atol=1e-3)
          and not np.array_equal(y4, y))
    make_qkv_model(path, wq, bq)
    check_damaged(t, "kept constants", path, xq, y, kf, first, kwnote, "cache constants: stored", env)


def main():
    a = work_args(fresh=True)
    t = Env(os.path.abspath(a.onnxc), a.work)
    rs = np.random.RandomState(1)
    w = rs.randn(8, 4).astype(np.float32)
    b = rs.randn(4).astype(np.float32)
    x = rs.randn(2, 8).astype(np.float32)
    model = os.path.join(a.work, "model.onnx")
    make_model(model, w, b)
    for test in (test_hit_miss, test_damaged, test_key, test_no_cache, test_bound, test_concurrent,
                 test_weight_bytes, test_two_halves, test_early_half, test_weights_file, test_kept_constants):
        test(t, model, x, w, b)
    sys.exit(summary("cache"))


if __name__ == "__main__":
    main()
