"""onnxc.compile and onnxc.load_library: a model compiled ahead of time runs with the same run()."""
import os
import subprocess

import numpy as np
import pytest

import onnxc
from conftest import load_inputs


def test_compile_and_load_library(models, tmp_path):
    path = os.path.join(models, "lstm", "model.onnx")
    x = load_inputs(models, "lstm")[0]
    want = onnxc.InferenceSession(path, threads=1).run(None, {"input": x})[0]
    lib = tmp_path / "liblstm.so"
    assert onnxc.compile(path, str(lib)) == str(lib)
    assert lib.exists() and (tmp_path / "lstm.h").exists()
    m = onnxc.load_library(str(lib), threads=1)
    assert [(a.name, a.shape, a.type) for a in m.get_inputs()] == [("input", [10, 1, 16], "tensor(float)")]
    got = m.run(None, {"input": x})
    assert np.allclose(got[0], want, rtol=1e-5, atol=1e-6)
    with pytest.raises(onnxc.InvalidArgument, match="shape"):
        m.run(None, {"input": x[:5]})
    with pytest.raises(onnxc.InvalidArgument, match="missing"):
        m.run(None, {})


def test_cli_compiled_library(models, onnxc_cli, tmp_path):
    path = os.path.join(models, "mlp", "model.onnx")
    lib = tmp_path / "libmlp.so"
    p = subprocess.run([onnxc_cli, "compile", path, "-o", str(lib)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.returncode == 0, p.stdout
    x = load_inputs(models, "mlp")[0]
    want = onnxc.InferenceSession(path, threads=1).run(None, {"input": x})[0]
    assert np.allclose(onnxc.load_library(str(lib)).run(["output"], {"input": x})[0], want, rtol=1e-5, atol=1e-6)


def test_compile_bad_arguments(models, tmp_path):
    path = os.path.join(models, "mlp", "model.onnx")
    with pytest.raises(onnxc.InvalidArgument):
        onnxc.compile(path, str(tmp_path / "libx.so"), emit="exe")
    with pytest.raises(onnxc.OnnxcError, match="free|fix|shape"):
        onnxc.compile(os.path.join(models, "dyn_cnn", "model.onnx"), str(tmp_path / "libd.so"))


def test_example_classifies_an_image(models, tmp_path):
    """examples/python/classify.py on ResNet-18 (random weights here) and a generated image"""
    from conftest import ROOT
    import sys
    PIL = pytest.importorskip("PIL.Image")
    img = tmp_path / "cat.png"
    rng = np.random.default_rng(0)
    PIL.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(img)
    p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", "classify.py"),
                        os.path.join(models, "resnet18", "model.onnx"), str(img), "--threads", "1"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = p.stdout.decode(errors="replace")
    lines = out.strip().splitlines()
    assert p.returncode == 0 and len(lines) == 5, out
    probs = [float(l.split()[0]) for l in lines]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001, out
