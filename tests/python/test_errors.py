"""Bad input raises a Python exception carrying onnxc's message, and the interpreter carries on."""
import os

import numpy as np
import pytest

import onnxc
from conftest import load_inputs


@pytest.fixture(scope="module")
def mlp(models):
    return onnxc.InferenceSession(os.path.join(models, "mlp", "model.onnx"), threads=1)


def test_malformed_model():
    with pytest.raises(onnxc.InvalidGraph) as e:
        onnxc.InferenceSession(b"\x08\x07\x12\x04this is not an ONNX model\xff\xff\xff")
    assert e.value.status == 6 and str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(onnxc.NoSuchFile, match="nothere.onnx"):
        onnxc.InferenceSession(str(tmp_path / "nothere.onnx"))


def test_wrong_dtype(mlp):
    with pytest.raises(onnxc.InvalidArgument, match=r"tensor\(double\).*tensor\(float\)"):
        mlp.run(None, {"input": np.zeros((1, 64), np.float64)})


def test_wrong_shape(mlp):
    mlp.run(None, {"input": np.zeros((1, 64), np.float32)})
    with pytest.raises(onnxc.InvalidArgument, match=r"shape 1x63.*1x64"):
        mlp.run(None, {"input": np.zeros((1, 63), np.float32)})


def test_missing_input(mlp):
    with pytest.raises(ValueError, match="missing.*input"):
        mlp.run(None, {})


def test_unknown_input_and_output(mlp):
    x = np.zeros((1, 64), np.float32)
    with pytest.raises(onnxc.InvalidArgument, match="'inputt' is not an input"):
        mlp.run(None, {"inputt": x})
    with pytest.raises(onnxc.InvalidArgument, match="'nope'"):
        mlp.run(["nope"], {"input": x})


def test_bad_options(models):
    path = os.path.join(models, "mlp", "model.onnx")
    with pytest.raises(onnxc.InvalidArgument, match="shapes"):
        onnxc.InferenceSession(path, shapes={"input": [1, -5]})
    with pytest.raises(onnxc.InvalidArgument, match="disable_passes"):
        onnxc.InferenceSession(path, disable_passes=["shapes"])
    with pytest.raises(TypeError, match="thread"):
        onnxc.InferenceSession(path, thread=2)
    with pytest.raises(onnxc.InvalidArgument, match="free dims"):
        onnxc.InferenceSession(path, precompile=[(1, 64)])


def test_memory_limit(models):
    with pytest.raises(onnxc.OnnxcError, match="limit"):
        onnxc.InferenceSession(os.path.join(models, "resnet18", "model.onnx"), max_memory=1 << 20)


def test_not_a_library(tmp_path):
    p = tmp_path / "libjunk.so"
    p.write_bytes(b"junk")
    with pytest.raises(onnxc.NoSuchFile, match="cannot load"):
        onnxc.load_library(str(p))


def test_still_runs_after_errors(mlp, models):
    x = load_inputs(models, "mlp")[0]
    assert mlp.run(None, {"input": x})[0].shape == (1, 10)
