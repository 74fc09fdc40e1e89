"""onnxc.InferenceSession against `onnxc run`: ResNet-18, the LSTM, the BERT-style encoder at two
sequence lengths in one session; ORT's API shape; free dims; threads."""
import inspect
import os
import threading

import numpy as np
import pytest

import onnxc
from conftest import load_inputs


def model_path(models, name):
    return os.path.join(models, name, "model.onnx")


def close(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["resnet18", "lstm"])
def test_model_equals_onnxc_run(models, cli_run, name):
    path = model_path(models, name)
    x = load_inputs(models, name)
    s = onnxc.InferenceSession(path, threads=2)
    feed = {a.name: v for a, v in zip(s.get_inputs(), x)}
    got = s.run(None, feed)
    want = cli_run(path, x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert close(g, w), np.abs(g - w).max()
    again = s.run([s.get_outputs()[0].name], feed)  # a second run, by output name
    assert close(again[0], want[0])


def test_encoder_two_sequence_lengths_one_session(models, cli_run):
    path = model_path(models, "dyn_bert")
    s = onnxc.InferenceSession(path, threads=1)
    assert [a.shape for a in s.get_inputs()] == [["batch", "sequence"], ["batch", "sequence"]]
    assert [a.type for a in s.get_inputs()] == ["tensor(int64)"] * 2
    for alt in (False, True, False):
        x = load_inputs(models, "dyn_bert", alt)
        got = s.run(None, {"input_ids": x[0], "token_type_ids": x[1]})
        want = cli_run(path, x)
        assert got[0].shape == (x[0].shape[0], x[0].shape[1], 768)
        for g, w in zip(got, want):
            assert close(g, w), np.abs(g - w).max()
    assert s.num_variants == 2  # the first length was kept, not compiled again


def test_variants_bounded_and_precompiled(models):
    x = load_inputs(models, "dyn_cnn")[0]
    s = onnxc.InferenceSession(model_path(models, "dyn_cnn"), threads=1, max_variants=2,
                               precompile=[(1, 3, 32, 32)])
    assert s.num_variants == 1
    ref = s.run(None, {"input": x})[0]
    for b in (1, 3, 2):  # each a new shape: the set stays at 2, least recently used evicted
        y = s.run(None, {"input": np.concatenate([x] * b)})[0]
        assert s.num_variants == 2
        assert close(y, np.concatenate([ref] * b))
    with pytest.raises(onnxc.OnnxcError) as e:  # a shape the model cannot take
        s.run(None, {"input": np.zeros((1, 4, 32, 32), np.float32)})
    assert str(e.value)
    assert close(s.run(None, {"input": x})[0], ref)  # still usable


def test_fixed_dims_and_one_shape(models):
    x = load_inputs(models, "dyn_cnn")[0]
    opts = onnxc.SessionOptions()
    opts.add_free_dimension_override_by_name("batch", x.shape[0])
    s = onnxc.InferenceSession(model_path(models, "dyn_cnn"), opts, shapes=None,
                               dims={"height": x.shape[2], "width": x.shape[3]}, threads=1)
    assert s.get_inputs()[0].shape == list(x.shape)
    y = s.run(None, {"input": x})[0]
    one = onnxc.InferenceSession(model_path(models, "dyn_cnn"), max_variants=1, threads=1)
    assert close(one.run(None, {"input": x})[0], y)
    with pytest.raises(onnxc.InvalidArgument, match="compiled for"):
        one.run(None, {"input": x[:1]})


def test_ort_api_shape(models):
    s = onnxc.InferenceSession(model_path(models, "resnet18"), providers=["CPUExecutionProvider"])
    i, o = s.get_inputs()[0], s.get_outputs()[0]
    assert (i.name, i.shape, i.type) == ("input", [1, 3, 224, 224], "tensor(float)")
    assert (o.name, o.shape, o.type) == ("output", [1, 1000], "tensor(float)")
    assert s.get_providers() == ["CPUExecutionProvider"]
    assert onnxc.get_available_providers() == ["CPUExecutionProvider"]
    m = s.get_modelmeta()
    assert m.producer_name == "pytorch" and m.graph_name and isinstance(m.custom_metadata_map, dict)


def test_from_bytes_and_metadata(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import helper, TensorProto
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "tiny",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], doc_string="gdoc")
    m = helper.make_model(g, producer_name="maker", producer_version="7", domain="ex.org", model_version=3,
                          doc_string="a relu", opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(m, {"author": "me"})
    m.ir_version = 8
    s = onnxc.InferenceSession(m.SerializeToString())
    x = np.array([[-1, 2, -3, 4]] * 3, np.float32)
    assert np.array_equal(s.run(["y"], {"x": x})[0], np.maximum(x, 0))
    md = s.get_modelmeta()
    assert (md.producer_name, md.domain, md.version, md.description, md.graph_name, md.graph_description) == \
        ("maker", "ex.org", 3, "a relu", "tiny", "gdoc")
    assert md.custom_metadata_map == {"author": "me"}
    # the same script as for onnxruntime: `import onnxc as ort`
    import onnxc as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), sess_options=so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    out = sess.run([sess.get_outputs()[0].name], {name: x})
    assert isinstance(out, list) and np.array_equal(out[0], np.maximum(x, 0))
    # ORT's allow_spinning entry: "0" switches the workers' spinning off (two threads, same results)
    so2 = ort.SessionOptions()
    so2.intra_op_num_threads = 2
    so2.add_session_config_entry("session.intra_op.allow_spinning", "0")
    assert onnxc._session._allow_spinning(so2) == "0" and onnxc._session._allow_spinning(so) == "1"
    sess2 = ort.InferenceSession(m.SerializeToString(), sess_options=so2)
    assert np.array_equal(sess2.run(None, {name: x})[0], np.maximum(x, 0))
    # no copy of a contiguous input of the right dtype; a non-contiguous one is copied and correct
    assert np.array_equal(s.run(None, {"x": np.asfortranarray(x)})[0], np.maximum(x, 0))
    assert np.array_equal(s.run(None, {"x": x[:, ::-1]})[0], np.maximum(x[:, ::-1], 0))


def test_help_documents_every_argument():
    doc = onnxc.InferenceSession.__doc__
    for p in inspect.signature(onnxc.InferenceSession.__init__).parameters:
        if p not in ("self", "kwargs"):
            assert p in doc, p
    for f in (onnxc.compile, onnxc.load_library):
        for p in inspect.signature(f).parameters:
            assert p in f.__doc__, (f.__name__, p)


def test_threads_share_a_session_and_run_sessions_in_parallel(models):
    path = model_path(models, "lstm")
    x = load_inputs(models, "lstm")[0]
    shared = onnxc.InferenceSession(path, threads=1)
    ref = shared.run(None, {"input": x})[0]
    other = onnxc.InferenceSession(path, threads=1)
    bad = []

    def work(s):
        for _ in range(20):
            if not close(s.run(None, {"input": x})[0], ref):
                bad.append(1)
    ts = [threading.Thread(target=work, args=(s,)) for s in (shared, shared, other, other)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not bad



def test_run_call_releases_the_gil():
    """the library is called through ctypes.CDLL, whose calls release the GIL (PyDLL's keep it):
    runs of different sessions on different threads then proceed at once
    (bench/python_overhead.py times it)"""
    import ctypes
    from onnxc import _capi
    assert isinstance(_capi.lib, ctypes.CDLL) and not isinstance(_capi.lib, ctypes.PyDLL)
    assert not _capi.lib.onnxc_session_run._flags_ & ctypes._FUNCFLAG_PYTHONAPI
