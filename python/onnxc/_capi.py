"""_capi — ctypes declarations of libonnxc (include/onnxc.h) and of the compiled-model ABI
(runtime/onnxc_model.h), and where the library is found.

ctypes rather than an extension module: nothing to compile at install time, and a foreign call
releases the GIL by itself, so runs of different sessions proceed in parallel."""
import ctypes
import ctypes.util
import os

MAX_RANK = 8

# ONNX TensorProto.DataType codes (ONNXC_DT_*) -> numpy dtype names and ORT type strings
DTYPES = {
    1: ("float32", "tensor(float)"), 2: ("uint8", "tensor(uint8)"), 3: ("int8", "tensor(int8)"),
    4: ("uint16", "tensor(uint16)"), 5: ("int16", "tensor(int16)"), 6: ("int32", "tensor(int32)"),
    7: ("int64", "tensor(int64)"), 9: ("bool", "tensor(bool)"), 10: ("float16", "tensor(float16)"),
    11: ("float64", "tensor(double)"), 12: ("uint32", "tensor(uint32)"), 13: ("uint64", "tensor(uint64)"),
    16: (None, "tensor(bfloat16)"),  # numpy has no bfloat16
}


class Tensor(ctypes.Structure):
    """onnxc_tensor: a caller's buffer with its dtype and shape"""
    _fields_ = [("data", ctypes.c_void_p), ("bytes", ctypes.c_int64), ("dtype", ctypes.c_int32),
                ("rank", ctypes.c_int32), ("dims", ctypes.POINTER(ctypes.c_int64))]


class ValueInfo(ctypes.Structure):
    """onnxc_value_info"""
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("dims", ctypes.c_int64 * MAX_RANK), ("dim_names", ctypes.c_char_p * MAX_RANK)]


class CompileOptions(ctypes.Structure):
    """onnxc_compile_options"""
    _fields_ = [(f, ctypes.c_char_p) for f in ("output", "name", "emit", "target", "cpu", "features",
                                               "weights_file", "header", "model_path")] + \
        [("variants", ctypes.c_void_p), ("num_variants", ctypes.c_int32)]  # none: the session's shape


class TensorInfo(ctypes.Structure):
    """onnxc_tensor_info (a compiled model's inputs and outputs)"""
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("dims", ctypes.POINTER(ctypes.c_int64)), ("numel", ctypes.c_int64), ("bytes", ctypes.c_int64)]


class ModelOptions(ctypes.Structure):
    """onnxc_options (a compiled model's create options)"""
    _fields_ = [("threads", ctypes.c_int), ("weights_path", ctypes.c_char_p), ("max_run_time", ctypes.c_double)]


_P = ctypes.c_void_p
CREATE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_P), ctypes.POINTER(ModelOptions))
RUN = ctypes.CFUNCTYPE(ctypes.c_int, _P, _P, _P)
ERROR = ctypes.CFUNCTYPE(ctypes.c_char_p, _P)
DESTROY = ctypes.CFUNCTYPE(None, _P)
RUN_TENSORS = ctypes.CFUNCTYPE(ctypes.c_int, _P, ctypes.POINTER(Tensor), ctypes.c_int32, ctypes.POINTER(Tensor),
                               ctypes.c_int32)


class ModelInfo(ctypes.Structure):
    """onnxc_model_info, the descriptor a compiled model exports (ONNXC_ABI_VERSION 1)"""
    _fields_ = [("abi_version", ctypes.c_uint32), ("name", ctypes.c_char_p), ("target", ctypes.c_char_p),
                ("num_inputs", ctypes.c_int32), ("num_outputs", ctypes.c_int32),
                ("inputs", ctypes.POINTER(TensorInfo)), ("outputs", ctypes.POINTER(TensorInfo)),
                ("create", CREATE), ("run", RUN), ("error", ERROR), ("destroy", DESTROY),
                ("run_tensors", RUN_TENSORS)]  # the runtime-only fields after these are not read


def _candidates():
    env = os.environ.get("ONNXC_LIBRARY")
    if env:
        return [env]  # asked for: no fallback that could hide a wrong path
    here = os.path.dirname(os.path.abspath(__file__))
    out = [os.path.join(here, "libonnxc.so")]  # bundled by setup.py, or linked in the build tree
    try:  # written by cmake --install: where libonnxc went
        from ._where import LIBDIR
        out.append(os.path.join(LIBDIR, "libonnxc.so"))
    except ImportError:
        pass
    found = ctypes.util.find_library("onnxc")
    if found:
        out.append(found)
    out += ["libonnxc.so.0", "libonnxc.so", "/usr/local/lib/libonnxc.so.0"]
    return out


def _load():
    errors = []
    for c in _candidates():
        if os.path.sep in c and not os.path.exists(c):
            errors.append(f"{c}: not found")
            continue
        try:
            # RTLD_GLOBAL: JIT-compiled code resolves the runtime's functions in the process
            return ctypes.CDLL(c, mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("onnxc: libonnxc not found (set ONNXC_LIBRARY to libonnxc.so, or install the package "
                      "from a built tree: pip install ./python): " + "; ".join(errors))


lib = _load()

_I, _I32, _I64, _S, _D = ctypes.c_int, ctypes.c_int32, ctypes.c_int64, ctypes.c_char_p, ctypes.c_double
_T = ctypes.POINTER(Tensor)
_SIGS = {
    "onnxc_status_string": (_S, [_I]),
    "onnxc_options_create": (_I, [ctypes.POINTER(_P)]),
    "onnxc_options_free": (None, [_P]),
    "onnxc_options_set_threads": (_I, [_P, _I]),
    "onnxc_options_set_spin": (_I, [_P, _I]),
    "onnxc_options_fix_input": (_I, [_P, _S, _I32, ctypes.POINTER(_I64)]),
    "onnxc_options_fix_dim": (_I, [_P, _S, _I64]),
    "onnxc_options_disable_pass": (_I, [_P, _S]),
    "onnxc_options_set_max_memory": (_I, [_P, _I64]),
    "onnxc_options_set_max_compile_time": (_I, [_P, _D]),
    "onnxc_options_set_target": (_I, [_P, _S]),
    "onnxc_options_set_max_variants": (_I, [_P, _I]),
    "onnxc_session_create_from_file": (_I, [_S, _P, ctypes.POINTER(_P)]),
    "onnxc_session_create_from_buffer": (_I, [ctypes.c_char_p, ctypes.c_size_t, _P, ctypes.POINTER(_P)]),
    "onnxc_session_free": (None, [_P]),
    "onnxc_session_error": (_S, [_P]),
    "onnxc_session_num_inputs": (_I32, [_P]),
    "onnxc_session_num_outputs": (_I32, [_P]),
    "onnxc_session_input_info": (_I, [_P, _I32, ctypes.POINTER(ValueInfo)]),
    "onnxc_session_output_info": (_I, [_P, _I32, ctypes.POINTER(ValueInfo)]),
    "onnxc_session_prepare": (_I, [_P, _T, _I32]),
    "onnxc_session_run": (_I, [_P, _T, _I32, _T, _I32]),
    "onnxc_session_set_threads": (_I, [_P, _I]),
    "onnxc_session_threads": (_I, [_P]),
    "onnxc_session_add_variant": (_I, [_P, _T, _I32]),
    "onnxc_session_select_variant": (_I, [_P, _T, _I32]),
    "onnxc_session_num_variants": (_I32, [_P]),
    "onnxc_session_compile": (_I, [_P, ctypes.POINTER(CompileOptions)]),
    "onnxc_compile_check": (_I, [ctypes.POINTER(CompileOptions), ctypes.c_char_p, ctypes.c_size_t]),
}
for _name, (_res, _args) in _SIGS.items():
    _f = getattr(lib, _name)
    _f.restype, _f.argtypes = _res, _args
