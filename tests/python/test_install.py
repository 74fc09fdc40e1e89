"""The package installs with Debian's pip and setuptools, offline (what scripts/setup.sh runs), and
the installed copy finds its bundled libonnxc without ONNXC_LIBRARY or PYTHONPATH help."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, BUILD


def test_pip_install_offline(tmp_path, models):
    if not os.path.exists(os.path.join(BUILD, "libonnxc.so")):
        pytest.skip("no built libonnxc.so in " + BUILD)
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "python"), src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                                     "__pycache__"))
    env = dict(os.environ, ONNXC_BUILD=BUILD)
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-deps",
                        "--target", str(tmp_path / "site"), str(src)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=300)
    assert p.returncode == 0, p.stdout.decode(errors="replace")
    assert (tmp_path / "site" / "onnxc" / "libonnxc.so").exists()
    assert (tmp_path / "site" / "onnxc" / "rt" / "libonnxc_rt.a").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("ONNXC_LIBRARY", "PYTHONPATH")}
    env["PYTHONPATH"] = str(tmp_path / "site")
    code = ("import onnxc, numpy as np; s = onnxc.InferenceSession(%r, threads=1); "
            "print(onnxc.__file__, s.run(None, {'input': np.zeros((1, 64), np.float32)})[0].shape)"
            % os.path.join(models, "mlp", "model.onnx"))
    p = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                       cwd=str(tmp_path), timeout=300)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0 and str(tmp_path / "site") in out and "(1, 10)" in out, out
