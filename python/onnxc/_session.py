"""_session — onnxc.InferenceSession, ONNX Runtime's Python API over libonnxc.

The run path is kept short because its cost is the per-call overhead: the onnxc_tensor arrays are
made once per session and only their data pointers and dims are written per call, the output
shapes are cached per input shapes, and the foreign call releases the GIL."""
import ctypes
import os
import threading

import numpy as np

from . import _capi, _meta
from ._capi import lib, Tensor, ValueInfo, DTYPES, MAX_RANK
from ._errors import InvalidArgument, error

PROVIDERS = ["CPUExecutionProvider"]
_SHAPE_CACHE = 64  # input-shape sets whose output shapes a session remembers


class NodeArg:
    """an input or output: .name, .shape (ints, a symbolic dim's name as a string, None for a dim
    with neither) and .type ('tensor(float)'), as onnxruntime.NodeArg"""

    def __init__(self, name, shape, type):
        self.name, self.shape, self.type = name, shape, type

    def __repr__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


class GraphOptimizationLevel:
    """accepted for ORT scripts; onnxc always runs its whole pass pipeline"""
    ORT_DISABLE_ALL, ORT_ENABLE_BASIC, ORT_ENABLE_EXTENDED, ORT_ENABLE_ALL = 0, 1, 2, 99


class ExecutionMode:
    ORT_SEQUENTIAL, ORT_PARALLEL = 0, 1


class SessionOptions:
    """ORT's SessionOptions, the fields onnxc reads: intra_op_num_threads (0 = all cores), the
    free-dimension overrides and the config entry session.intra_op.allow_spinning ("0": worker
    threads sleep as soon as they have no work); the others are kept and ignored"""

    def __init__(self):
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.log_severity_level = 2
        self.enable_profiling = False
        self.free_dimension_overrides = {}
        self.config_entries = {}

    def add_free_dimension_override_by_name(self, dim_name, value):
        self.free_dimension_overrides[dim_name] = int(value)

    def add_session_config_entry(self, key, value):
        self.config_entries[key] = value


def _check(status, s=None, what=""):
    if status:
        msg = lib.onnxc_session_error(s).decode("utf-8", "replace") if s else ""
        raise error(status, (what + ": " if what and not msg else "") + (msg or lib.onnxc_status_string(status).decode()))


def _dims(shape):
    return (ctypes.c_int64 * max(len(shape), 1))(*shape)


def _node_args(s, n, info_fn):
    out = []
    vi = ValueInfo()
    for i in range(n):
        _check(info_fn(s, i, ctypes.byref(vi)), s)
        shape = None
        if vi.rank >= 0:
            shape = [int(vi.dims[d]) if vi.dims[d] >= 0 else
                     (vi.dim_names[d].decode() if vi.dim_names[d] else None) for d in range(vi.rank)]
        out.append(NodeArg(vi.name.decode(), shape, DTYPES.get(vi.dtype, (None, f"tensor(unknown {vi.dtype})"))[1]))
    return out


def _allow_spinning(so):
    """ORT's session.intra_op.allow_spinning of an onnxc or ORT SessionOptions ("1" when unset)"""
    key = "session.intra_op.allow_spinning"
    entries = getattr(so, "config_entries", None)
    if isinstance(entries, dict):
        return str(entries.get(key, "1"))
    try:
        return str(so.get_session_config_entry(key)) if so is not None else "1"
    except Exception:  # ORT raises when the entry is not set
        return "1"


def _options(threads, shapes, dims, max_variants, disable_passes, max_memory, max_compile_time, target, spin=True):
    o = ctypes.c_void_p()
    _check(lib.onnxc_options_create(ctypes.byref(o)), what="options")
    try:
        _check(lib.onnxc_options_set_threads(o, int(threads or 0)), what=f"threads={threads!r}")
        if not spin:
            _check(lib.onnxc_options_set_spin(o, 0), what="spin")
        for name, shape in (shapes or {}).items():
            shape = [int(d) for d in shape]
            _check(lib.onnxc_options_fix_input(o, name.encode(), len(shape), _dims(shape)),
                   what=f"shapes[{name!r}]={shape!r} (dims must be >= 0, rank <= {MAX_RANK})")
        for name, value in (dims or {}).items():
            _check(lib.onnxc_options_fix_dim(o, name.encode(), int(value)), what=f"dims[{name!r}]={value!r}")
        _check(lib.onnxc_options_set_max_variants(o, int(max_variants)), what=f"max_variants={max_variants!r}")
        for p in ([disable_passes] if isinstance(disable_passes, str) else disable_passes or []):
            _check(lib.onnxc_options_disable_pass(o, p.encode()),
                   what=f"disable_passes: {p!r} is not an optional pass (inline, dce, fuse, winograd, layout, sparse, binary, attention, qdq)")
        if max_memory:
            _check(lib.onnxc_options_set_max_memory(o, int(max_memory)), what=f"max_memory={max_memory!r}")
        if max_compile_time:
            _check(lib.onnxc_options_set_max_compile_time(o, float(max_compile_time)),
                   what=f"max_compile_time={max_compile_time!r}")
        if target:
            _check(lib.onnxc_options_set_target(o, target.encode()), what=f"target={target!r}")
    except BaseException:
        lib.onnxc_options_free(o)
        raise
    return o


def _create(model, opts):
    """a session handle from a path or serialized bytes; raises with the load error"""
    s = ctypes.c_void_p()
    if isinstance(model, (bytes, bytearray, memoryview)):
        buf = bytes(model)
        st = lib.onnxc_session_create_from_buffer(buf, len(buf), opts, ctypes.byref(s))
    else:
        st = lib.onnxc_session_create_from_file(os.fsencode(model), opts, ctypes.byref(s))
    if st:
        try:
            _check(st, s if s.value else None, "load")
        finally:
            lib.onnxc_session_free(s)
    return s


class InferenceSession:
    """InferenceSession(path_or_bytes, sess_options=None, providers=None, provider_options=None, *,
    threads=None, shapes=None, dims=None, max_variants=4, precompile=None, disable_passes=None,
    max_memory=None, max_compile_time=None)

    An ONNX model loaded and JIT-compiled for this machine by onnxc, with ONNX Runtime's API:
    get_inputs(), get_outputs(), run(output_names, input_feed), get_modelmeta(), get_providers().

    Arguments:
      path_or_bytes     the model: a path (str or os.PathLike) or its serialized bytes (a model
                        with external data must be given as a path).
      sess_options      an onnxc.SessionOptions (or ORT's): intra_op_num_threads,
                        add_free_dimension_override_by_name and the config entry
                        session.intra_op.allow_spinning ("0": workers sleep as soon as they
                        have no work) are honoured, the rest ignored.
      providers         accepted for ORT compatibility; onnxc runs on the CPU
                        (get_providers() is ['CPUExecutionProvider']).
      provider_options  accepted and ignored.
      threads           worker threads of a run (0 = all cores); overrides
                        sess_options.intra_op_num_threads.  Default: all cores.
      shapes            {input name: dims}: fix an input's shape (like `onnxc --shape`).
      dims              {symbolic dim name: value}: fix every input dim with that name
                        (like ORT's free-dimension overrides).
      max_variants      a model with free dims (batch, sequence, image size) runs any shape: each
                        new set of input shapes compiles once, and up to this many compiled
                        variants are kept (the least recently used is evicted).  Each variant
                        holds its own compiled copy of the model, weights included, so this
                        bounds the memory too.  1: the first shape run is the only one the
                        session accepts.
      precompile        a list of {input name: dims} to compile at once (a model with one input
                        may list dims alone: [(1, 3, 224, 224), (8, 3, 224, 224)]).
      disable_passes    optional passes to switch off: "fuse", "dce", "inline", "winograd", "layout", "sparse", "binary", "attention", "qdq"
                        (str or list).
      max_memory        refuse models needing more bytes (weights, buffers); default 16 GiB.
      max_compile_time  stop compiling after this many seconds.

    Errors raise onnxc.OnnxcError subclasses carrying onnxc's message: InvalidGraph (malformed or
    unsupported model), NoSuchFile, InvalidArgument (also a ValueError: a wrong dtype or shape, a
    missing or unknown input), Fail.  run() releases the GIL; a session may be shared by threads
    (their runs take turns); different sessions run in parallel."""

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, *, threads=None,
                 shapes=None, dims=None, max_variants=4, precompile=None, disable_passes=None, max_memory=None,
                 max_compile_time=None, **kwargs):
        if kwargs:
            raise TypeError(f"InferenceSession: unknown argument(s) {', '.join(sorted(kwargs))}")
        self._s = None
        self._lock = threading.Lock()
        self._model = path_or_bytes
        self._sess_options = sess_options if sess_options is not None else SessionOptions()
        self._providers = [p if isinstance(p, str) else p[0] for p in providers or PROVIDERS]
        if threads is None:
            threads = getattr(sess_options, "intra_op_num_threads", 0) or 0
        fixed = dict(getattr(sess_options, "free_dimension_overrides", {}) or {})
        fixed.update(dims or {})
        opts = _options(threads, shapes, fixed, max_variants, disable_passes, max_memory, max_compile_time, None,
                        _allow_spinning(sess_options) != "0")
        try:
            self._s = _create(path_or_bytes, opts)
        finally:
            lib.onnxc_options_free(opts)
        s = self._s
        self._inputs = _node_args(s, lib.onnxc_session_num_inputs(s), lib.onnxc_session_input_info)
        self._outputs = _node_args(s, lib.onnxc_session_num_outputs(s), lib.onnxc_session_output_info)
        self._in_index = {a.name: i for i, a in enumerate(self._inputs)}
        self._out_index = {a.name: i for i, a in enumerate(self._outputs)}
        self._in_dtype = [_np_dtype(a.type) for a in self._inputs]
        self._variants = lib.onnxc_session_num_variants(s) >= 0 and self._has_free_dims() and max_variants > 1
        self._prepared = False
        n_in, n_out = len(self._inputs), len(self._outputs)
        self._tin = (Tensor * max(n_in, 1))()
        self._tout = (Tensor * max(n_out, 1))()
        self._din = [(ctypes.c_int64 * MAX_RANK)() for _ in range(n_in)]
        self._dout = [(ctypes.c_int64 * MAX_RANK)() for _ in range(n_out)]
        for i in range(n_in):
            self._tin[i].dims = ctypes.cast(self._din[i], ctypes.POINTER(ctypes.c_int64))
        for i in range(n_out):
            self._tout[i].dims = ctypes.cast(self._dout[i], ctypes.POINTER(ctypes.c_int64))
        self._out_shapes = {}  # input shapes -> [(shape, dtype)] of the outputs
        for p in precompile or []:
            self._precompile(p)

    def _has_free_dims(self):
        return any(a.shape is None or any(not isinstance(d, int) for d in a.shape) for a in self._inputs)

    def __del__(self):
        s, self._s = getattr(self, "_s", None), None
        if s:
            lib.onnxc_session_free(s)

    # ---- ORT's API ----
    def get_inputs(self):
        """the inputs as NodeArg (name, shape with symbolic dims as strings, type)"""
        return list(self._inputs)

    def get_outputs(self):
        """the outputs as NodeArg, as the model declares them"""
        return list(self._outputs)

    def get_overridable_initializers(self):
        return []

    def get_modelmeta(self):
        """the model's metadata: producer_name, graph_name, domain, description, graph_description,
        version, custom_metadata_map"""
        return _meta.read(self._model)

    def get_providers(self):
        return list(PROVIDERS)

    def get_provider_options(self):
        return {p: {} for p in PROVIDERS}

    def get_session_options(self):
        return self._sess_options

    def set_providers(self, providers=None, provider_options=None):
        pass

    def disable_fallback(self):
        pass

    def enable_fallback(self):
        pass

    def end_profiling(self):
        return ""

    def run(self, output_names, input_feed, run_options=None):
        """run(output_names, input_feed) -> list of numpy arrays

        output_names: the outputs wanted, in order (None or [] for all); input_feed: {input name:
        array-like}.  Arrays already of the input's dtype and C-contiguous are passed without a
        copy.  A new input shape on a model with free dims compiles a variant first."""
        if self._s is None:
            raise error(10, "the session is closed")
        n_in = len(self._inputs)
        arrays = [None] * n_in
        index = self._in_index
        for name, value in input_feed.items():
            i = index.get(name)
            if i is None:
                raise InvalidArgument(f"input '{name}' is not an input of the model (its inputs: "
                                      f"{', '.join(a.name for a in self._inputs)})", 1)
            want = self._in_dtype[i]
            a = value if type(value) is np.ndarray and value.dtype == want else _as_array(value, want, name)
            if not a.flags.c_contiguous:
                a = np.ascontiguousarray(a)
            arrays[i] = a
        if len(input_feed) < n_in:
            missing = [a.name for a, x in zip(self._inputs, arrays) if x is None]
            raise InvalidArgument(f"required inputs {missing} are missing from the input feed "
                                  f"{list(input_feed)}", 1)
        tin, din = self._tin, self._din
        for i, a in enumerate(arrays):
            _describe(tin[i], din[i], a)
        key = tuple(a.shape for a in arrays)
        with self._lock:
            if self._s is None:
                raise error(10, "the session is closed")
            outs = self._out_shapes.get(key) or self._select(key, arrays)
            results = [np.empty(shape, dtype) for shape, dtype in outs]
            tout, dout = self._tout, self._dout
            for i, r in enumerate(results):
                _describe(tout[i], dout[i], r)
            st = lib.onnxc_session_run(self._s, tin, n_in, tout, len(results))
            if st:
                _check(st, self._s)
        if not output_names:
            return results
        try:
            return [results[self._out_index[n]] for n in output_names]
        except KeyError as e:
            raise InvalidArgument(f"output {e} is not an output of the model (its outputs: "
                                  f"{', '.join(a.name for a in self._outputs)})", 1) from None

    # ---- onnxc's own ----
    def set_threads(self, threads):
        """worker threads of later runs (0 = all cores)"""
        with self._lock:
            _check(lib.onnxc_session_set_threads(self._s, int(threads)), self._s, f"threads={threads!r}")

    @property
    def num_variants(self):
        """compiled variants kept (a model with free dims compiles one per input shape)"""
        return lib.onnxc_session_num_variants(self._s)

    def _precompile(self, p):
        if not isinstance(p, dict):
            if len(self._inputs) != 1:
                raise InvalidArgument("precompile: give {input name: dims} for a model with several inputs", 1)
            p = {self._inputs[0].name: p}
        missing = [a.name for a in self._inputs if a.name not in p]
        if missing:
            raise InvalidArgument(f"precompile {p!r}: the inputs {missing} have no dims", 1)
        t = (Tensor * max(len(self._inputs), 1))()
        keep = []
        for i, a in enumerate(self._inputs):
            shape = [int(d) for d in p[a.name]]
            keep.append(_dims(shape))
            t[i].rank, t[i].dims, t[i].dtype = len(shape), keep[-1], _DT_CODE[np.dtype(self._in_dtype[i]).char]
        with self._lock:
            if self._variants:
                _check(lib.onnxc_session_add_variant(self._s, t, len(self._inputs)), self._s)
            else:
                raise InvalidArgument("precompile: the model's inputs have no free dims (or max_variants < 2)", 1)

    def _select(self, key, arrays):
        """compile (or pick) the code for these input shapes; the outputs' shapes and dtypes"""
        s, n = self._s, len(arrays)
        if self._variants:
            _check(lib.onnxc_session_select_variant(s, self._tin, n), s)
        elif not self._prepared:
            _check(lib.onnxc_session_prepare(s, self._tin, n), s)
            self._prepared = True
        vi = ValueInfo()
        outs = []
        for i in range(len(self._outputs)):
            _check(lib.onnxc_session_output_info(s, i, ctypes.byref(vi)), s)
            shape = tuple(int(vi.dims[d]) for d in range(vi.rank))
            code = vi.dtype
            if code not in _NP or any(d < 0 for d in shape):
                raise error(5, f"output '{self._outputs[i].name}': dtype {code} or shape {shape} not known after compiling")
            outs.append((shape, _NP[code]))
        if len(self._out_shapes) >= _SHAPE_CACHE:
            self._out_shapes.pop(next(iter(self._out_shapes)))
        self._out_shapes[key] = outs
        return outs


_NP = {code: np.dtype(name) for code, (name, _) in DTYPES.items() if name}
_DT_CODE = {dt.char: code for code, dt in _NP.items()}
_DT_CODE.update({"q": 7, "Q": 13, "l": 7, "L": 13})


def _describe(t, dims, a):
    """write array a into the onnxc_tensor t whose dims point at the int64[8] dims"""
    t.data = a.ctypes.data
    t.bytes = a.nbytes
    t.rank = a.ndim
    t.dtype = _DT_CODE[a.dtype.char]
    for k, v in enumerate(a.shape):
        dims[k] = v


def _np_dtype(ort_type):
    for code, (name, t) in DTYPES.items():
        if t == ort_type:
            return np.dtype(name) if name else None
    return None


def _as_array(value, want, name):
    """value as a numpy array of the input's dtype; a different dtype is refused, as ORT does,
    except Python scalars and lists, which take the input's dtype"""
    if isinstance(value, np.ndarray) or hasattr(value, "__array_interface__"):
        a = np.asarray(value)
        if want is not None and a.dtype != want:
            raise InvalidArgument(f"input '{name}': dtype {_ort_name(a.dtype)}, the model expects "
                                  f"{_ort_name(want)} (convert it, e.g. x.astype(np.{want.name}))", 1)
        return a
    try:
        return np.asarray(value, dtype=want)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"input '{name}': cannot make a {_ort_name(want)} array of it ({e})", 1) from None


def _ort_name(dt):
    code = _DT_CODE.get(np.dtype(dt).char)
    return DTYPES[code][1] if code in DTYPES else f"numpy {np.dtype(dt).name}"
