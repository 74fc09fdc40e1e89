#!/usr/bin/python3
"""writer_test.py — the ONNX writer (frontend/write.c) end to end.

  writer_test.py --onnxc build/onnxc --roundtrip build/tests/writer/fe_roundtrip
                 --cases build/conformance/cases --models build/models --out build/writer

1. Every node-suite case on tests/conformance/passing.txt and every model under --models goes
   through fe_roundtrip: load → fe_write → load gives the same graph and constants, and writing is
   stable (fe_write_buffer of either graph is the written file byte for byte).
2. onnx.checker.check_model accepts every written file.
3. Compiled and run by onnxc, a written file gives the original's outputs bit for bit: the node
   cases with control flow (If, Loop, Scan) and every 20th other one, and every model with inputs
   (up to 100 MB: the BERT export's 418 MB round-trips and passes the checker, but two compiles of
   it would double this test's time).
4. ONNX Runtime (bench/ort/run_ort.js) runs written files and gives the same outputs as on the
   original file: the models up to 100 MB and the control-flow node cases.
"""
import argparse
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))
from checks import check, summary  # noqa: E402
from run_conformance import read_list  # noqa: E402  (the pass list's format)

CONTROL = ("If", "Loop", "Scan")


def case_ops(cases_dir):
    """case -> its ops, from cases.tsv"""
    ops = {}
    tsv = os.path.join(cases_dir, "cases.tsv")
    if os.path.exists(tsv):
        for line in open(tsv):
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) >= 2:
                ops[f[0]] = f[1].split(",")
    return ops


def roundtrip(tool, pairs):
    """runs fe_roundtrip over (in, out) pairs in chunks; returns {in: error line}"""
    bad = {}
    for i in range(0, len(pairs), 100):
        chunk = pairs[i:i + 100]
        args = [tool] + [p for pair in chunk for p in pair]
        p = subprocess.run(args, capture_output=True, text=True)
        for line in p.stderr.splitlines():
            src, _, why = line.partition(": ")
            bad[src] = why
        if p.returncode not in (0, 1):
            for src, _ in chunk:
                bad.setdefault(src, "fe_roundtrip exited with %d" % p.returncode)
    return bad


def onnx_check(paths):
    """onnx.checker on each file; returns {path: error}"""
    import onnx
    bad = {}
    for path in paths:
        try:
            onnx.checker.check_model(onnx.load(path))
        except Exception as e:  # the checker's ValidationError, or a parse error
            bad[path] = str(e).splitlines()[0] if str(e) else type(e).__name__
    return bad


def run_onnxc(onnxc, model, inputs, outdir):
    os.makedirs(outdir, exist_ok=True)
    for f in glob.glob(os.path.join(outdir, "output_*.npy")):
        os.remove(f)
    p = subprocess.run([onnxc, "run", model] + inputs + ["-o", outdir, "--threads", "1"],
                       capture_output=True, text=True, timeout=600)
    return p.returncode, (p.stderr.strip().splitlines() or [""])[0]


def outputs(outdir):
    return {os.path.basename(f): open(f, "rb").read() for f in sorted(glob.glob(os.path.join(outdir, "output_*.npy")))}


def same_outputs(name, run, orig, written, inputs, outdir):
    """runs orig and written with the same inputs; checks the outputs are equal byte for byte"""
    a, b = os.path.join(outdir, "orig"), os.path.join(outdir, "written")
    rc1, e1 = run(orig, inputs, a)
    rc2, e2 = run(written, inputs, b)
    if not check(name + " runs", rc1 == 0 and rc2 == 0, "original: %d %s; written: %d %s" % (rc1, e1, rc2, e2)):
        return
    oa, ob = outputs(a), outputs(b)
    check(name + " outputs bit-identical", oa and oa == ob,
          "outputs %s vs %s" % (sorted(oa), sorted(ob)) if sorted(oa) != sorted(ob) else "values differ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--roundtrip", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--every", type=int, default=20, help="run every Nth node case without control flow")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    gen = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "conformance", "gen_cases.py"), a.cases],
                         capture_output=True, text=True)
    check("node cases generated", gen.returncode == 0, gen.stderr[-300:])
    cases = [c for c in read_list(os.path.join(ROOT, "tests", "conformance", "passing.txt"))
             if os.path.exists(os.path.join(a.cases, c, "model.onnx"))]
    check("node cases present", len(cases) > 500, "%d cases" % len(cases))
    ops = case_ops(a.cases)

    # 1. structure
    wdir = os.path.join(a.out, "cases")
    os.makedirs(wdir, exist_ok=True)
    pairs = [(os.path.join(a.cases, c, "model.onnx"), os.path.join(wdir, c + ".onnx")) for c in cases]
    models = sorted(glob.glob(os.path.join(a.models, "*", "model.onnx")) +
                    glob.glob(os.path.join(a.models, "*", "*.onnx")) + glob.glob(os.path.join(a.models, "*.onnx")))
    models = [m for m in dict.fromkeys(models) if "_out" not in m and "missing_ops" not in m]
    mdir = os.path.join(a.out, "models")
    os.makedirs(mdir, exist_ok=True)
    mpairs = [(m, os.path.join(mdir, os.path.relpath(m, a.models).replace("/", "__"))) for m in models]
    bad = roundtrip(a.roundtrip, pairs + mpairs)
    check("node cases round-trip (%d)" % len(pairs), not any(p[0] in bad for p in pairs),
          "; ".join("%s: %s" % (k, v) for k, v in list(bad.items())[:5]))
    for src, dst in mpairs:
        check("model %s round-trips" % os.path.relpath(src, a.models), src not in bad, bad.get(src, ""))

    # 2. onnx.checker
    written = [p[1] for p in pairs + mpairs if p[0] not in bad]
    cbad = onnx_check(written)
    check("onnx.checker accepts the written files (%d)" % len(written), not cbad,
          "; ".join("%s: %s" % (os.path.basename(k), v[:200]) for k, v in list(cbad.items())[:5]))

    # 3. onnxc: bit-identical outputs
    def run(model, inputs, outdir):
        return run_onnxc(a.onnxc, model, inputs, outdir)

    ctl = [c for c in cases if any(o in CONTROL for o in ops.get(c, []))]
    picked = ctl + [c for i, c in enumerate(c for c in cases if c not in ctl) if i % a.every == 0]
    check("control-flow node cases found", len(ctl) >= 5, "%d" % len(ctl))
    nfail = []
    for c in picked:
        d = os.path.join(a.cases, c, "test_data_set_0")
        inputs = sorted(glob.glob(os.path.join(d, "input_*.pb")), key=lambda f: int(f.rsplit("_", 1)[1][:-3]))
        o1, o2 = os.path.join(a.out, "run", "orig"), os.path.join(a.out, "run", "written")
        r1, e1 = run(os.path.join(a.cases, c, "model.onnx"), inputs, o1)
        r2, e2 = run(os.path.join(wdir, c + ".onnx"), inputs, o2)
        if r1 or r2 or not outputs(o1) or outputs(o1) != outputs(o2):
            nfail.append("%s (%d %s / %d %s)" % (c, r1, e1, r2, e2))
    check("node cases run bit-identical (%d of %d)" % (len(picked), len(cases)), not nfail, "; ".join(nfail[:5]))

    minputs = {}
    for src, dst in mpairs:
        d = os.path.dirname(src)
        ins = sorted(glob.glob(os.path.join(d, "input_[0-9]*.npy")), key=lambda f: int(f.rsplit("_", 1)[1][:-4]))
        if os.path.basename(src) != "model.onnx" or not ins or src in bad or os.path.getsize(src) > 100 << 20:
            continue
        minputs[src] = ins
        same_outputs("model %s" % os.path.relpath(src, a.models), run, src, dst, ins,
                     os.path.join(a.out, "run", os.path.basename(d)))

    # 4. ONNX Runtime: the written file gives what the original gives
    ort = os.path.join(ROOT, "bench", "ort", "run_ort.js")
    if not check("ONNX Runtime available", os.path.isdir(os.path.join(ROOT, "bench", "ort", "node_modules")),
                 "bench/ort/node_modules missing (bench/ort/setup.sh)"):
        return summary("writer")

    def run_ort(model, inputs, outdir):
        os.makedirs(outdir, exist_ok=True)
        for f in glob.glob(os.path.join(outdir, "output_*.npy")):
            os.remove(f)
        p = subprocess.run(["node", ort, model, outdir] + inputs + ["--threads", "1"],
                           capture_output=True, text=True, timeout=600)
        return p.returncode, (p.stderr.strip().splitlines() or [""])[-1]

    for src, ins in minputs.items():
        same_outputs("ORT model %s" % os.path.relpath(src, a.models), run_ort, src,
                     dict(mpairs)[src], ins, os.path.join(a.out, "ort", os.path.basename(os.path.dirname(src))))
    # control flow in ORT: these cases' inputs are .pb, which run_ort.js does not read; convert
    import numpy as np
    import onnx
    from onnx import numpy_helper
    ofail = []
    for c in ctl:
        d = os.path.join(a.cases, c, "test_data_set_0")
        pbs = sorted(glob.glob(os.path.join(d, "input_*.pb")), key=lambda f: int(f.rsplit("_", 1)[1][:-3]))
        npys = []
        try:
            for i, f in enumerate(pbs):
                t = onnx.TensorProto()
                t.ParseFromString(open(f, "rb").read())
                nf = os.path.join(a.out, "ort", c + "_input_%d.npy" % i)
                os.makedirs(os.path.dirname(nf), exist_ok=True)
                np.save(nf, numpy_helper.to_array(t))
                npys.append(nf)
        except Exception:  # a sequence or optional input: not a plain tensor
            continue
        o1, o2 = os.path.join(a.out, "ort", "orig"), os.path.join(a.out, "ort", "written")
        r1, e1 = run_ort(os.path.join(a.cases, c, "model.onnx"), npys, o1)
        if r1:
            continue  # ORT does not run the original either
        r2, e2 = run_ort(os.path.join(wdir, c + ".onnx"), npys, o2)
        if r2 or outputs(o1) != outputs(o2):
            ofail.append("%s (%d %s)" % (c, r2, e2))
    check("ORT runs the written control-flow cases alike (%d)" % len(ctl), not ofail, "; ".join(ofail[:5]))
    return summary("writer")


if __name__ == "__main__":
    sys.exit(main())
