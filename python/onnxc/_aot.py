"""_aot — onnxc.compile (what `onnxc compile` does) and onnxc.load_library, which runs an
ahead-of-time compiled model through the descriptor its library exports (onnxc_model_descriptor)
with InferenceSession's run()."""
import ctypes
import os
import threading

import numpy as np

from . import _capi
from ._capi import lib, CompileOptions, ModelInfo, ModelOptions, Tensor, DTYPES
from ._errors import InvalidArgument, error
from ._session import NodeArg, _check, _options, _create, _as_array, _DT_CODE, _NP, _np_dtype


def compile(model, out, name=None, target=None, emit=None, *, shapes=None, dims=None, cpu=None, features=None,
            weights_file=None, header=None, disable_passes=None, max_memory=None, max_compile_time=None):
    """compile(model, out, name=None, target=None, emit=None, *, shapes=None, dims=None, cpu=None,
    features=None, weights_file=None, header=None, disable_passes=None, max_memory=None,
    max_compile_time=None) -> out

    Compile a model ahead of time, as `onnxc compile MODEL -o OUT` does.
      model         a path or the serialized bytes
      out           the file to write (a folder for emit="c")
      name          the C prefix of the model's symbols (default: from out, libNAME.so -> NAME)
      target        "native" (default), "x86-64-avx512", "x86-64-avx2", "aarch64"
      emit          "so", "obj", "lib", "llvm", "asm", "c" (default: from out's extension)
      shapes, dims  fix free dims as InferenceSession's arguments do (every input must be fixed)
      cpu, features LLVM CPU and feature string overriding the target's
      weights_file  write the weights there instead of embedding them
      header        where NAME.h goes (default: beside out)
    Raises OnnxcError subclasses with onnxc's message."""
    enc = lambda v: os.fsencode(v) if v is not None else None
    co = CompileOptions(output=enc(out), name=enc(name), emit=enc(emit), target=enc(target), cpu=enc(cpu),
                        features=enc(features), weights_file=enc(weights_file), header=enc(header),
                        model_path=enc(model) if isinstance(model, (str, os.PathLike)) else None)
    err = ctypes.create_string_buffer(2048)
    if lib.onnxc_compile_check(ctypes.byref(co), err, len(err)):
        raise InvalidArgument(err.value.decode("utf-8", "replace"), 1)
    opts = _options(0, shapes, dims, 0, disable_passes, max_memory, max_compile_time, target)
    try:
        s = _create(model, opts)
    finally:
        lib.onnxc_options_free(opts)
    try:
        _check(lib.onnxc_session_compile(s, ctypes.byref(co)), s)
    finally:
        lib.onnxc_session_free(s)
    return out


class CompiledModel:
    """an ahead-of-time compiled model library (onnxc.load_library): get_inputs(), get_outputs(),
    run(output_names, input_feed) as InferenceSession; the shapes are the compiled ones"""

    def __init__(self, path, threads=0, weights_path=None):
        try:
            self._dll = ctypes.CDLL(os.fspath(os.path.abspath(path)))
        except OSError as e:
            raise error(4, f"cannot load {path}: {e}") from None
        try:
            info = ModelInfo.in_dll(self._dll, "onnxc_model_descriptor")
        except ValueError:
            raise error(6, f"{path} exports no onnxc_model_descriptor (not an onnxc model library?)") from None
        if info.abi_version != 1:
            raise error(6, f"{path}: model ABI version {info.abi_version}, this package reads 1")
        self._info = info
        self._lock = threading.Lock()
        self._m = ctypes.c_void_p()
        self._keep_opts = ModelOptions(threads=int(threads or 0),
                                       weights_path=os.fsencode(weights_path) if weights_path else None)
        st = info.create(ctypes.byref(self._m), ctypes.byref(self._keep_opts))
        if st:
            msg = info.error(None)
            raise error(st, f"{path}: " + (msg.decode("utf-8", "replace") if msg else lib.onnxc_status_string(st).decode()))
        self._inputs = self._args(info.inputs, info.num_inputs)
        self._outputs = self._args(info.outputs, info.num_outputs)
        self._in_dtype = [_np_dtype(a.type) for a in self._inputs]
        self._out_index = {a.name: i for i, a in enumerate(self._outputs)}
        self._in_index = {a.name: i for i, a in enumerate(self._inputs)}
        self._tin = (Tensor * max(info.num_inputs, 1))()
        self._tout = (Tensor * max(info.num_outputs, 1))()
        for i in range(info.num_inputs):
            self._tin[i].dims = info.inputs[i].dims
        for i in range(info.num_outputs):
            t = info.outputs[i]
            self._tout[i].dims, self._tout[i].rank, self._tout[i].dtype = t.dims, t.rank, t.dtype

    @staticmethod
    def _args(ts, n):
        return [NodeArg(ts[i].name.decode(), [int(ts[i].dims[d]) for d in range(ts[i].rank)],
                        DTYPES.get(ts[i].dtype, (None, "tensor(unknown)"))[1]) for i in range(n)]

    def __del__(self):
        m, self._m = getattr(self, "_m", None), None
        if m:
            self._info.destroy(m)

    def get_inputs(self):
        return list(self._inputs)

    def get_outputs(self):
        return list(self._outputs)

    def get_providers(self):
        return ["CPUExecutionProvider"]

    def run(self, output_names, input_feed, run_options=None):
        """run(output_names, input_feed) -> list of numpy arrays (as InferenceSession.run)"""
        n_in = len(self._inputs)
        arrays = [None] * n_in
        for name, value in input_feed.items():
            i = self._in_index.get(name)
            if i is None:
                raise InvalidArgument(f"input '{name}' is not an input of the model", 1)
            a = np.ascontiguousarray(_as_array(value, self._in_dtype[i], name))
            if list(a.shape) != self._inputs[i].shape:
                raise InvalidArgument(f"input '{name}': shape {list(a.shape)}, the library was compiled for "
                                      f"{self._inputs[i].shape}", 1)
            arrays[i] = a
        missing = [a.name for a, x in zip(self._inputs, arrays) if x is None]
        if missing:
            raise InvalidArgument(f"required inputs {missing} are missing from the input feed {list(input_feed)}", 1)
        for i, a in enumerate(arrays):
            t = self._tin[i]
            t.data, t.bytes, t.rank, t.dtype = a.ctypes.data, a.nbytes, a.ndim, _DT_CODE[a.dtype.char]
        results = [np.empty(o.shape, _NP[self._tout[i].dtype]) for i, o in enumerate(self._outputs)]
        for i, r in enumerate(results):
            self._tout[i].data, self._tout[i].bytes = r.ctypes.data, r.nbytes
        with self._lock:
            st = self._info.run_tensors(self._m, self._tin, n_in, self._tout, len(results))
            if st:
                msg = self._info.error(self._m)
                raise error(st, msg.decode("utf-8", "replace") if msg else lib.onnxc_status_string(st).decode())
        if not output_names:
            return results
        return [results[self._out_index[n]] for n in output_names]


def load_library(path, threads=0, weights_path=None):
    """load_library(path, threads=0, weights_path=None) -> CompiledModel

    Load a model compiled ahead of time (`onnxc compile -o libNAME.so`, or onnxc.compile) and run it
    through its descriptor with run(output_names, input_feed).  threads: worker threads (0 = all
    cores); weights_path: the weights file of a model compiled with weights_file."""
    return CompiledModel(path, threads, weights_path)
