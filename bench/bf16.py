#!/usr/bin/python3
"""bf16.py — `--fp-mode bf16` against fp32 on real models (ISSUE14 Deliver 9): speed and accuracy.

For each model (a folder with model.onnx and input_K.npy, as /work/models/NAME): the outputs of
`onnxc run --fp-mode bf16` against `onnxc run` (fp32) on the same inputs — the largest absolute
difference, the relative L2 error, and for a classifier (one output with a row of > 100 scores)
whether the top-1 class and the top-5 set agree — then the speed, both modes alternated REPS
times (1 thread by default): the minimum latency of `onnxc bench`, and the CPU time per run
(the CPU time of `onnxc bench --runs 1+RUNS` minus that of `--runs 1`, the compiled code taken
from the cache both times, divided by RUNS; the minimum over REPS), which other processes on a
shared machine disturb far less than latency.  Prints a Markdown table.

  bench/bf16.py --onnxc build/onnxc [--models-dir /work/models] [--models resnet50,bert,...]
                [--threads 1] [--runs 20] [--reps 3] [--work /tmp/bf16-bench]"""
import argparse
import glob
import json
import os
import resource
import subprocess
import sys

import numpy as np

DEFAULT = "resnet50,resnet18,mobilenet_v2,densenet121,vit_b16,bert,gpt"


def inputs_of(d):
    files = sorted(glob.glob(os.path.join(d, "input_*.npy")), key=lambda p: int(p.rsplit("_", 1)[1][:-4]))
    return files


def run(onnxc, model, ins, out, mode):
    os.makedirs(out, exist_ok=True)
    p = subprocess.run([onnxc, "run", model] + ins + ["-o", out, "--fp-mode", mode], capture_output=True, timeout=1200)
    if p.returncode:
        raise RuntimeError("onnxc run --fp-mode %s: %s" % (mode, p.stderr.decode(errors="replace")[-300:]))
    return [np.load(f).astype(np.float64) for f in sorted(glob.glob(os.path.join(out, "output_*.npy")))]


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench1(onnxc, model, ins, mode, threads, runs):
    """(min latency ms, CPU seconds of the process)"""
    c0 = children_cpu()
    p = subprocess.run([onnxc, "bench", model] + ins + ["--json", "--threads", str(threads), "--runs", str(runs),
                                                        "--warmup", "1", "--fp-mode", mode], capture_output=True,
                       timeout=1200)
    if p.returncode:
        raise RuntimeError("onnxc bench --fp-mode %s: %s" % (mode, p.stderr.decode(errors="replace")[-300:]))
    return json.loads(p.stdout)["min_ms"], children_cpu() - c0


def bench(onnxc, model, ins, mode, threads, runs):
    """(min latency ms, CPU ms per run)"""
    bench1(onnxc, model, ins, mode, threads, 1)  # the compiled code into the cache: both calls below hit it
    _, c1 = bench1(onnxc, model, ins, mode, threads, 1)
    lat, cn = bench1(onnxc, model, ins, mode, threads, 1 + runs)
    return lat, (cn - c1) * 1e3 / runs


def accuracy(ref, got):
    maxabs, num, den, top1, top5 = 0.0, 0.0, 0.0, None, None
    for r, g in zip(ref, got):
        if r.dtype.kind != "f" or r.size == 0:
            continue
        maxabs = max(maxabs, float(np.abs(r - g).max()))
        num += float(((r - g) ** 2).sum())
        den += float((r ** 2).sum())
    r = ref[0].reshape(-1) if ref else None
    if len(ref) == 1 and 100 < r.size <= 100000 and ref[0].ndim == 2:
        g = got[0].reshape(-1)
        top1 = int(np.argmax(r) == np.argmax(g))
        top5 = len(set(np.argsort(r)[-5:]) & set(np.argsort(g)[-5:]))
    return maxabs, (num / den) ** 0.5 if den else 0.0, top1, top5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--models-dir", default="/work/models")
    ap.add_argument("--models", default=DEFAULT)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work", default="/tmp/bf16-bench")
    a = ap.parse_args()
    print("| model | fp32 CPU ms/run | bf16 CPU ms/run | speed-up (CPU) | fp32 min ms | bf16 min ms | max abs diff "
          "| rel L2 error | top-1 same | top-5 overlap |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in a.models.split(","):
        d = os.path.join(a.models_dir, name)
        model = os.path.join(d, "model.onnx")
        if not os.path.exists(model):
            print("| %s | (missing) |" % name)
            continue
        ins = inputs_of(d)
        try:
            ref = run(a.onnxc, model, ins, os.path.join(a.work, name, "fp32"), "fp32")
            got = run(a.onnxc, model, ins, os.path.join(a.work, name, "bf16"), "bf16")
            t = {"fp32": [], "bf16": []}
            for _ in range(a.reps):
                for mode in ("fp32", "bf16"):
                    t[mode].append(bench(a.onnxc, model, ins, mode, a.threads, a.runs))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print("| %s | error: %s |" % (name, str(e).replace("\n", " ")[:200]))
            continue
        f, b = min(x[0] for x in t["fp32"]), min(x[0] for x in t["bf16"])
        fc, bc = min(x[1] for x in t["fp32"]), min(x[1] for x in t["bf16"])
        maxabs, relerr, top1, top5 = accuracy(ref, got)
        print("| %s | %.2f | %.2f | %.2fx | %.2f | %.2f | %.3g | %.2e | %s | %s |" %
              (name, fc, bc, fc / bc, f, b, maxabs, relerr, "-" if top1 is None else ("yes" if top1 else "no"),
               "-" if top5 is None else "%d/5" % top5))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
