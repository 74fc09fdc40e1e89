#!/usr/bin/python3
"""compare_ort.py — onnxc vs ONNX Runtime side by side, same model, same input, same thread count.

For each model and thread count, runs `onnxc bench` and bench/ort/run_ort.js (timing mode:
--iters/--warmup/--threads) in turns, REPS times each (interleaved, so load on a shared machine
hits both alike), and prints a Markdown table of the median and min latency over all timed runs
(per-run statistics of each invocation are pooled: median of the medians, min of the mins) and
the speedup (ORT median / onnxc median; > 1 means onnxc is faster).

Usage: bench/compare_ort.py [--onnxc build/onnxc] [--models-dir DIR] [--models a,b,c]
                            [--threads 1,2] [--reps 3] [--runs 20] [--warmup 3] [--before ONNXC]
--ort-modules DIR: node_modules with onnxruntime-node when bench/ort/setup.sh was not run here.
--before ONNXC: also time another onnxc binary (e.g. the previous commit's) in the same turns and
add its columns, for a before/after table (latency and JIT compile time, medians over the reps).
A model is DIR/<name>/model.onnx with its inputs DIR/<name>/input_<k>.npy.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODELS = "resnet18,mobilenet_v2,bert,mlp"


def inputs_of(mdir):
    files = []
    k = 0
    while os.path.exists(os.path.join(mdir, f"input_{k}.npy")):
        files.append(os.path.join(mdir, f"input_{k}.npy"))
        k += 1
    return files


def run_onnxc(args, model, ins, threads, exe=None):
    cmd = [exe or args.onnxc, "bench", model, *ins, "--threads", str(threads), "--runs", str(args.runs),
           "--warmup", str(args.warmup), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    j = json.loads(p.stdout.strip().splitlines()[-1])
    return j["median_ms"], j["min_ms"], j["compile_ms"]


def run_ort(args, model, ins, threads, outdir):
    cmd = ["node", os.path.join(HERE, "ort", "run_ort.js"), model, outdir, *ins, "--iters", str(args.runs),
           "--warmup", str(args.warmup), "--threads", str(threads)]
    env = dict(os.environ)
    if args.ort_modules:  # an onnxruntime-node installed elsewhere (bench/ort/setup.sh's node_modules)
        env["NODE_PATH"] = os.path.abspath(args.ort_modules)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr.strip()}")
    m = re.search(r"min ([0-9.]+) ms, median ([0-9.]+) ms", p.stderr)
    if not m:
        raise RuntimeError(f"run_ort.js: no timing line in: {p.stderr.strip()}")
    return float(m.group(2)), float(m.group(1))


def ms(x):
    """milliseconds with 4 significant digits (sub-microsecond runs stay readable)"""
    return f"{x:.4g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--onnxc", default="build/onnxc")
    ap.add_argument("--models-dir", default="build/models")
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--before", default=None)
    ap.add_argument("--ort-modules", default=None, help="node_modules holding onnxruntime-node (NODE_PATH)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            mdir = os.path.join(args.models_dir, name)
            model = os.path.join(mdir, "model.onnx")
            if not os.path.exists(model):
                print(f"compare_ort: {model} not found (make -C build test-models?)", file=sys.stderr)
                return 1
            ins = inputs_of(mdir)
            for t in [int(x) for x in args.threads.split(",")]:
                oc, ort, bef = [], [], []
                for r in range(args.reps):
                    if args.before:
                        bef.append(run_onnxc(args, model, ins, t, args.before))
                    oc.append(run_onnxc(args, model, ins, t))
                    ort.append(run_ort(args, model, ins, t, tmp))
                    print(f"{name} t={t} rep {r}: onnxc {oc[-1][0]:.3f} ms, ort {ort[-1][0]:.3f} ms (median)",
                          file=sys.stderr)
                om, on = statistics.median(x[0] for x in oc), min(x[1] for x in oc)
                rm, rn = statistics.median(x[0] for x in ort), min(x[1] for x in ort)
                bm = statistics.median(x[0] for x in bef) if bef else None
                bn = min(x[1] for x in bef) if bef else None
                cb = statistics.median(x[2] for x in bef) if bef else None
                co = statistics.median(x[2] for x in oc)
                rows.append((name, t, om, on, rm, rn, bm, bn, cb, co))
    hb = "before median ms | before min ms | " if args.before else ""
    hc = " before compile ms | onnxc compile ms | after/before (median) |" if args.before else ""
    print(f"| model | threads | {hb}onnxc median ms | onnxc min ms | ORT median ms | ORT min ms | "
          f"vs ORT (median) | vs ORT (min) |{hc}")
    print("|---|---:|" + ("---:|---:|" if args.before else "") + "---:|---:|---:|---:|---:|---:|" +
          ("---:|---:|---:|" if args.before else ""))
    for name, t, om, on, rm, rn, bm, bn, cb, co in rows:
        b = f"{ms(bm)} | {ms(bn)} | " if args.before else ""
        c = f" {cb:.0f} | {co:.0f} | {om / bm:.2f} |" if args.before else ""
        print(f"| {name} | {t} | {b}{ms(om)} | {ms(on)} | {ms(rm)} | {ms(rn)} | {rm / om:.2f}x | {rn / on:.2f}x |{c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
