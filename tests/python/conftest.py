"""Fixtures of the onnxc Python tests: where the models, the onnxc CLI and a scratch folder are.

Run by ctest (tests/python/CMakeLists.txt) with ONNXC_LIBRARY (the build's libonnxc.so),
PYTHONPATH (the source tree's python/), ONNXC (the CLI) and ONNXC_MODELS (export_models.py's
folder) set; by hand the same variables, e.g.
  ONNXC_LIBRARY=build/libonnxc.so PYTHONPATH=python ONNXC=build/onnxc ONNXC_MODELS=build/models \
  python3 -m pytest tests/python"""
import os
import subprocess

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("ONNXC_BUILD", os.path.join(ROOT, "build"))


@pytest.fixture(scope="session")
def models():
    return os.environ.get("ONNXC_MODELS", os.path.join(BUILD, "models"))


@pytest.fixture(scope="session")
def onnxc_cli():
    return os.environ.get("ONNXC", os.path.join(BUILD, "onnxc"))


@pytest.fixture(scope="session")
def cli_run(onnxc_cli, tmp_path_factory):
    """cli_run(model, inputs) -> outputs of `onnxc run model inputs... -o DIR` (the reference)"""
    def run(model, inputs):
        d = tmp_path_factory.mktemp("ref")
        files = []
        for i, a in enumerate(inputs):
            files.append(str(d / f"in_{i}.npy"))
            np.save(files[-1], a)
        p = subprocess.run([onnxc_cli, "run", model] + files + ["-o", str(d / "out")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=900)
        assert p.returncode == 0, p.stdout.decode(errors="replace")
        outs, k = [], 0
        while os.path.exists(d / "out" / f"output_{k}.npy"):
            outs.append(np.load(d / "out" / f"output_{k}.npy"))
            k += 1
        return outs
    return run


def load_inputs(models, name, alt=False):
    d = os.path.join(models, name)
    out, k = [], 0
    while os.path.exists(os.path.join(d, f"input_{'alt_' if alt else ''}{k}.npy")):
        out.append(np.load(os.path.join(d, f"input_{'alt_' if alt else ''}{k}.npy")))
        k += 1
    return out
