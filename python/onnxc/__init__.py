"""onnxc — ONNX models compiled to native code, with ONNX Runtime's Python API.

    import onnxc as ort
    sess = ort.InferenceSession("model.onnx")
    y, = sess.run(None, {sess.get_inputs()[0].name: x})

Beyond ORT: onnxc.compile(model, out, ...) compiles ahead of time (as `onnxc compile`), and
onnxc.load_library("libNAME.so") runs such a library with the same run().  See docs/python.md."""
from ._errors import OnnxcError, InvalidArgument, NoSuchFile, InvalidGraph, Fail, RuntimeException
from ._session import (InferenceSession, SessionOptions, NodeArg, GraphOptimizationLevel, ExecutionMode,
                       PROVIDERS as _PROVIDERS)
from ._meta import ModelMetadata
from ._aot import compile, load_library, CompiledModel

__version__ = "0.1.0"


def get_available_providers():
    """['CPUExecutionProvider']: onnxc compiles for this machine's CPU"""
    return list(_PROVIDERS)


def get_device():
    return "CPU"


__all__ = ["InferenceSession", "SessionOptions", "NodeArg", "ModelMetadata", "GraphOptimizationLevel",
           "ExecutionMode", "compile", "load_library", "CompiledModel", "get_available_providers", "get_device",
           "OnnxcError", "InvalidArgument", "NoSuchFile", "InvalidGraph", "Fail", "RuntimeException"]
