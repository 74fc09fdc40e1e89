#!/usr/bin/python3
"""check_models.py — exports torch models (export_models.py), runs each through `onnxc run`, and
compares onnxc's outputs with torch's (and with ONNX Runtime's when bench/ort is installed).

  check_models.py --onnxc build/onnxc --out build/models [--rtol 1e-3 --atol 1e-5] NAME...
Prints one line per model and output; exit 1 if any output mismatches."""
import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def close(got, want, rtol, atol):
    if got.shape != want.shape or got.dtype != want.dtype:
        return False, "shape/dtype %s %s, expected %s %s" % (got.shape, got.dtype, want.shape, want.dtype)
    if got.dtype.kind in "iub":
        bad = int(np.sum(got != want))
        return bad == 0, "exact" if bad == 0 else "%d elements differ" % bad
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    tol = atol + rtol * np.abs(want.astype(np.float64))
    bad = int(np.sum(err > tol))
    rel = float(np.max(err / np.maximum(np.abs(want), 1e-30))) if want.size else 0.0
    return bad == 0, "max abs err %.3g, max rel err %.3g, %d of %d outside tolerance" % (
        float(err.max()) if err.size else 0.0, rel, bad, want.size)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("names", nargs="+")
    a = ap.parse_args()
    r = subprocess.run([sys.executable, os.path.join(HERE, "export_models.py"), a.out] + a.names)
    if r.returncode:
        print("models: export failed")
        return 1
    ort = os.path.join(ROOT, "bench", "ort")
    have_ort = not a.no_ort and os.path.isdir(os.path.join(ort, "node_modules", "onnxruntime-node"))
    failed = 0
    for name in a.names:
        d = os.path.join(a.out, name)
        ins = sorted(f for f in os.listdir(d) if f.startswith("input_") and f.endswith(".npy"))
        outdir = os.path.join(d, "onnxc_out")
        cmd = [a.onnxc, "run", os.path.join(d, "model.onnx")] + [os.path.join(d, f) for f in ins] + ["-o", outdir]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            print("FAIL %s: onnxc run exited %d: %s" % (name, p.returncode, p.stderr.strip()[:400]))
            failed += 1
            continue
        refs = [("torch", os.path.join(d, f.replace("output", "expected"))) for f in sorted(os.listdir(outdir))]
        k = 0
        while os.path.exists(os.path.join(d, "expected_%d.npy" % k)):
            got = np.load(os.path.join(outdir, "output_%d.npy" % k))
            want = np.load(os.path.join(d, "expected_%d.npy" % k))
            ok, msg = close(got, want, a.rtol, a.atol)
            print("%s %s output %d vs torch: %s" % ("ok  " if ok else "FAIL", name, k, msg))
            failed += not ok
            k += 1
        if k == 0:
            print("FAIL %s: no expected outputs" % name)
            failed += 1
        if have_ort:
            od = os.path.join(d, "ort_out")
            p = subprocess.run(["node", os.path.join(ort, "run_ort.js"), os.path.join(d, "model.onnx"), od]
                               + [os.path.join(d, f) for f in ins], capture_output=True, text=True)
            if p.returncode:
                print("note %s: ONNX Runtime failed: %s" % (name, p.stderr.strip()[:200]))
            else:
                for j in range(k):
                    got = np.load(os.path.join(outdir, "output_%d.npy" % j))
                    want = np.load(os.path.join(od, "output_%d.npy" % j))
                    ok, msg = close(got, want, a.rtol, a.atol)
                    print("%s %s output %d vs onnxruntime: %s" % ("ok  " if ok else "FAIL", name, j, msg))
                    failed += not ok
    print("models: %d passed, %d failed" % (len(a.names) - min(failed, len(a.names)), min(failed, len(a.names))))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
