#!/usr/bin/python3
"""python_overhead.py — what onnxc's Python package adds to a run, and whether runs of two
sessions on two Python threads proceed in parallel (the GIL released during run).

  ONNXC_LIBRARY=build/libonnxc.so PYTHONPATH=python bench/python_overhead.py [--models DIR]

1. Per-call overhead: a 3-layer MLP (64-128-128-10, batch 1, built here with onnx.helper), timed
   through InferenceSession.run() and through the bare library call (onnxc_session_run over
   prepared descriptors, via ctypes); median of 7 batches of 20000 calls, in the thread's CPU
   time and in wall time (which on a loaded machine also counts waiting for a core).
2. Threads: two sessions of the same model (1 worker thread each) run N times one after the
   other, then on two Python threads at once; prints parallel / sequential (best of 3)."""
import argparse
import ctypes
import os
import statistics
import threading
import time

import numpy as np
import onnxc
from onnxc import _capi


def mlp3():
    from onnx import helper, numpy_helper, TensorProto
    rng = np.random.default_rng(0)
    dims = [64, 128, 128, 10]
    inits, nodes, x = [], [], "input"
    for k in range(3):
        w = rng.standard_normal((dims[k], dims[k + 1]), dtype=np.float32) * 0.1
        b = rng.standard_normal(dims[k + 1], dtype=np.float32) * 0.1
        inits += [numpy_helper.from_array(w, f"w{k}"), numpy_helper.from_array(b, f"b{k}")]
        y = "output" if k == 2 else f"h{k}"
        nodes.append(helper.make_node("Gemm", [x, f"w{k}", f"b{k}"], [y if k == 2 else f"g{k}"]))
        if k < 2:
            nodes.append(helper.make_node("Relu", [f"g{k}"], [y]))
        x = y
    g = helper.make_graph(nodes, "mlp3", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def per_call(fn, n, clock):
    best = []
    for _ in range(7):
        t = clock()
        for _ in range(n):
            fn()
        best.append((clock() - t) / n)
    return statistics.median(best)


def overhead():
    s = onnxc.InferenceSession(mlp3(), threads=1)
    x = np.random.default_rng(1).standard_normal((1, 64), dtype=np.float32)
    feed = {"input": x}
    s.run(None, feed)
    y = np.empty((1, 10), np.float32)
    din, dout = (ctypes.c_int64 * 2)(1, 64), (ctypes.c_int64 * 2)(1, 10)
    tin = _capi.Tensor(x.ctypes.data, x.nbytes, 1, 2, din)
    tout = _capi.Tensor(y.ctypes.data, y.nbytes, 1, 2, dout)
    bare = lambda: _capi.lib.onnxc_session_run(s._s, ctypes.byref(tin), 1, ctypes.byref(tout), 1)
    assert bare() == 0 and np.allclose(y, s.run(None, feed)[0])
    n = 20000
    # the calling thread's CPU time (what the call costs) and wall time (also the waits for a core
    # on a loaded machine)
    for what, clock in (("thread CPU time", time.thread_time), ("wall time", time.perf_counter)):
        t_run = per_call(lambda: s.run(None, feed), n, clock)
        t_bare = per_call(bare, n, clock)
        print(f"3-layer MLP, {what}: run() {t_run * 1e6:.2f} us/call, bare onnxc_session_run {t_bare * 1e6:.2f} us/call, "
              f"overhead {(t_run - t_bare) * 1e6:.2f} us/call")


def parallel(models, name, runs):
    path = os.path.join(models, name, "model.onnx")
    x = np.load(os.path.join(models, name, "input_0.npy"))
    ss = [onnxc.InferenceSession(path, threads=1) for _ in range(2)]
    feed = {ss[0].get_inputs()[0].name: x}
    for s in ss:
        s.run(None, feed)

    def work(s):
        for _ in range(runs):
            s.run(None, feed)
    seq, par, busy = [], [], []
    for _ in range(3):
        t = time.perf_counter()
        work(ss[0])
        work(ss[1])
        seq.append(time.perf_counter() - t)
        ts = [threading.Thread(target=work, args=(s,)) for s in ss]
        t, c = time.perf_counter(), time.process_time()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        par.append(time.perf_counter() - t)
        busy.append((time.process_time() - c) / par[-1])
    r = min(par) / min(seq)
    # CPU time over wall time while both threads run: above 1 only if they ran at the same time
    print(f"{name}: two sessions x {runs} runs, 1 thread each: one after the other {min(seq):.3f} s, "
          f"two Python threads {min(par):.3f} s, ratio {r:.2f}; cores busy at once {max(busy):.2f}")
    return r


def control():
    """the same comparison for numpy's sort (which releases the GIL too): what the machine allows
    (on a machine other jobs load, neither ratio can reach 0.5)"""
    a = np.random.default_rng(0).random(1_000_000)

    def work():
        for _ in range(8):
            np.sort(a)
    seq, par = [], []
    for _ in range(3):
        t = time.perf_counter()
        work()
        work()
        seq.append(time.perf_counter() - t)
        ts = [threading.Thread(target=work) for _ in range(2)]
        t = time.perf_counter()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        par.append(time.perf_counter() - t)
    print(f"control, numpy sort on two Python threads: ratio {min(par) / min(seq):.2f} (load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="build/models")
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--runs", type=int, default=10)
    a = ap.parse_args()
    overhead()
    parallel(a.models, a.model, a.runs)
    control()


if __name__ == "__main__":
    main()
