"""_errors — the exceptions onnxc raises, named as ONNX Runtime's so `except` clauses carry over.
Every one is an OnnxcError (a RuntimeError) with .status, onnxc's status code; invalid arguments
(wrong dtype or shape, a missing input) are also ValueErrors, as ORT raises for a missing input."""


class OnnxcError(RuntimeError):
    """an onnxc failure; .status is the library's ONNXC_ERR_* code (0 for checks made in Python)"""

    def __init__(self, message, status=0):
        super().__init__(message)
        self.status = status


class InvalidArgument(OnnxcError, ValueError):
    """a wrong dtype, shape or size, a missing or unknown input, a bad option (ONNXC_ERR_ARGUMENT)"""


class NoSuchFile(OnnxcError):
    """a file could not be read or written (ONNXC_ERR_IO)"""


class InvalidGraph(OnnxcError):
    """the model is malformed or uses what onnxc does not support (ONNXC_ERR_MODEL)"""


class Fail(OnnxcError):
    """any other failure: memory or compile-time limits, the C toolchain, the session's state"""


class RuntimeException(OnnxcError):
    """a run failed (an index out of range at run time, an internal error)"""


_BY_STATUS = {1: InvalidArgument, 3: RuntimeException, 4: NoSuchFile, 5: RuntimeException, 6: InvalidGraph}


def error(status, message):
    """the exception for a status and message"""
    return _BY_STATUS.get(status, Fail)(message, status)
