#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Generate the ONNX backend *node* conformance suite for onnxc.

Run with Debian's interpreter (python3-onnx 1.12 + numpy 1.24):

    /usr/bin/python3 tests/conformance/gen_cases.py OUT [--force]

Produces, like `backend-test-tools generate-data` (onnx/backend/test/cmd_tools.py)
does for kind == "node", but without the extra `node/` directory level:

    OUT/<case>/model.onnx
    OUT/<case>/test_data_set_<i>/input_<j>.pb    (TensorProto / SequenceProto /
    OUT/<case>/test_data_set_<i>/output_<j>.pb    OptionalProto / MapProto)
    OUT/cases.tsv     one line per case (after a '#' header line):
                      name  ops  input_types  output_types  opsets
    OUT/.stamp        hash of (onnx version, numpy version, this script)

Type notation in cases.tsv: tensors use the TensorProto element type name in
lower case (float, double, float16, bfloat16, int8..int64, uint8..uint64, bool,
string, complex64, complex128); seq(T), opt(T), map(K,V) for the non-tensor
kinds; "-" for an empty list.  Ops are the distinct op_types of the top-level
graph nodes in order of first appearance, prefixed with "domain::" when the
domain is not the default ONNX domain.

If OUT/.stamp matches, nothing is regenerated.  Generators that fail are
reported one per line on stderr; the run still succeeds.  The last stdout line
is `generated N cases`.
"""

import hashlib
import os
import random
import shutil
import sys
import traceback
import warnings

SCRIPT_PATH = os.path.realpath(__file__)


def _die(msg):
    sys.stderr.write("gen_cases.py: " + msg + "\n")
    sys.exit(2)


def _parse_args(argv):
    force = False
    out = None
    for a in argv[1:]:
        if a in ("-f", "--force"):
            force = True
        elif a in ("-h", "--help"):
            sys.stdout.write(__doc__)
            sys.exit(0)
        elif a.startswith("-"):
            _die("unknown option " + a)
        elif out is None:
            out = a
        else:
            _die("only one output directory expected")
    if out is None:
        _die("usage: gen_cases.py OUT_DIR [--force]")
    return os.path.abspath(out), force


# --------------------------------------------------------------------------
# numpy compatibility shims (numpy >= 1.24 removed the deprecated aliases that
# onnx 1.12's case generators still use: np.float, np.object, np.bool, ...)
# --------------------------------------------------------------------------
def _install_numpy_shims(np):
    aliases = {
        "bool": bool,
        "int": int,
        "float": float,
        "complex": complex,
        "object": object,
        "str": str,
        "long": int,
        "unicode": str,
    }
    for name, typ in aliases.items():
        # Module-level assignment bypasses numpy's __getattr__, which is what
        # raises "module 'numpy' has no attribute 'float'".
        if name not in np.__dict__:
            setattr(np, name, typ)


def _stamp_value(onnx, np):
    h = hashlib.sha256()
    h.update(("onnx=%s\nnumpy=%s\n" % (onnx.__version__, np.__version__)).encode())
    with open(SCRIPT_PATH, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def _short_err(exc):
    msg = str(exc).strip().splitlines()
    first = msg[0] if msg else ""
    if len(first) > 160:
        first = first[:157] + "..."
    return "%s: %s" % (type(exc).__name__, first)


def _where(exc):
    """file:line of the innermost frame inside onnx's case generators."""
    tb = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(tb):
        if "/backend/test/case/" in fr.filename:
            return "%s:%d" % (os.path.basename(fr.filename), fr.lineno)
    if tb:
        return "%s:%d" % (os.path.basename(tb[-1].filename), tb[-1].lineno)
    return "?"


def _collect(failures):
    """Import every node case module with per-export error isolation."""
    import importlib
    import pkgutil

    import numpy as np
    import onnx.backend.test.case.base as case_base

    exporter = case_base._Exporter

    def guarded_init(cls, name, bases, dct):
        # Same as onnx's _Exporter.__init__, but one failing export_* does not
        # abort the remaining exports of the class (or the whole module).
        for k, v in dct.items():
            if not k.startswith("export"):
                continue
            if not isinstance(v, staticmethod):
                failures.append(("%s.%s" % (name, k), "not a staticmethod"))
                continue
            export = getattr(cls, k)
            try:
                case_base.Snippets[name].append(
                    case_base.process_snippet(name, k, export))
            except Exception:
                pass  # snippets are documentation only
            np.random.seed(seed=0)
            random.seed(0)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    export()
            except Exception as e:  # noqa: BLE001
                failures.append(("%s.%s" % (name, k),
                                 "%s (%s)" % (_short_err(e), _where(e))))
        type.__init__(cls, name, bases, dct)

    exporter.__init__ = guarded_init

    import onnx.backend.test.case.node as node_pkg
    node_pkg._TargetOpType = None

    for _loader, modname, ispkg in sorted(
            pkgutil.iter_modules(node_pkg.__path__), key=lambda t: t[1]):
        full = "%s.%s" % (node_pkg.__name__, modname)
        np.random.seed(seed=0)
        random.seed(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                importlib.import_module(full)
        except Exception as e:  # noqa: BLE001
            failures.append(("module " + modname,
                             "%s (%s)" % (_short_err(e), _where(e))))
    return list(node_pkg._NodeTestCases)


# --------------------------------------------------------------------------
# Serialization (mirrors cmd_tools.generate_data)
# --------------------------------------------------------------------------
def _serialize_value(numpy_helper, value, vi):
    t = vi.type
    if t.HasField("map_type"):
        return numpy_helper.from_dict(value, vi.name).SerializeToString()
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(value, vi.name).SerializeToString()
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(value, vi.name).SerializeToString()
    if not t.HasField("tensor_type"):
        raise ValueError("value %r has no supported type" % vi.name)
    return numpy_helper.from_array(value, vi.name).SerializeToString()


def _type_str(onnx, tp):
    which = tp.WhichOneof("value")
    if which == "tensor_type":
        return onnx.TensorProto.DataType.Name(tp.tensor_type.elem_type).lower()
    if which == "sparse_tensor_type":
        return "sparse(%s)" % onnx.TensorProto.DataType.Name(
            tp.sparse_tensor_type.elem_type).lower()
    if which == "sequence_type":
        return "seq(%s)" % _type_str(onnx, tp.sequence_type.elem_type)
    if which == "optional_type":
        return "opt(%s)" % _type_str(onnx, tp.optional_type.elem_type)
    if which == "map_type":
        return "map(%s,%s)" % (
            onnx.TensorProto.DataType.Name(tp.map_type.key_type).lower(),
            _type_str(onnx, tp.map_type.value_type))
    return "unknown"


def _tsv_row(onnx, case):
    g = case.model.graph
    ops = []
    for n in g.node:
        op = n.op_type if n.domain in ("", "ai.onnx") else "%s::%s" % (
            n.domain, n.op_type)
        if op not in ops:
            ops.append(op)
    ins = [_type_str(onnx, v.type) for v in g.input]
    outs = [_type_str(onnx, v.type) for v in g.output]
    opsets = ["%s:%d" % (o.domain or "ai.onnx", o.version)
              for o in case.model.opset_import]
    return "\t".join([case.name, ",".join(ops) or "-", ",".join(ins) or "-",
                      ",".join(outs) or "-", ",".join(opsets) or "-"])


def _write_case(numpy_helper, case, case_dir):
    os.makedirs(case_dir)
    with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    if not case.data_sets:
        raise ValueError("no data sets")
    g = case.model.graph
    for i, (inputs, outputs) in enumerate(case.data_sets):
        ds = os.path.join(case_dir, "test_data_set_%d" % i)
        os.makedirs(ds)
        for j, value in enumerate(inputs):
            with open(os.path.join(ds, "input_%d.pb" % j), "wb") as f:
                f.write(_serialize_value(numpy_helper, value, g.input[j]))
        for j, value in enumerate(outputs):
            with open(os.path.join(ds, "output_%d.pb" % j), "wb") as f:
                f.write(_serialize_value(numpy_helper, value, g.output[j]))


def main(argv):
    out, force = _parse_args(argv)

    warnings.simplefilter("ignore")
    import numpy as np
    _install_numpy_shims(np)
    import onnx
    from onnx import numpy_helper

    stamp = _stamp_value(onnx, np)
    stamp_path = os.path.join(out, ".stamp")
    tsv_path = os.path.join(out, "cases.tsv")
    if not force and os.path.isfile(stamp_path) and os.path.isfile(tsv_path):
        with open(stamp_path) as f:
            if f.read().strip() == stamp:
                with open(tsv_path) as f:
                    n = sum(1 for line in f if line and not line.startswith("#"))
                sys.stderr.write("gen_cases.py: %s is up to date\n" % out)
                print("generated %d cases" % n)
                return 0

    # Refuse to wipe a directory we did not create.
    if os.path.exists(out):
        if not os.path.isdir(out):
            _die("%s exists and is not a directory" % out)
        if (os.listdir(out) and not os.path.exists(stamp_path)
                and not os.path.exists(tsv_path) and not force):
            _die("%s is non-empty and was not produced by this script "
                 "(use --force to overwrite)" % out)

    failures = []
    notes = []
    cases = _collect(failures)

    # Later duplicates overwrite earlier ones, as in cmd_tools (rmtree+mkdir).
    by_name = {}
    for c in cases:
        if c.name in by_name:
            notes.append("duplicate case name %s (upstream bug): kept the "
                         "last one, as cmd_tools does" % c.name)
        by_name[c.name] = c

    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = "%s.tmp-%d" % (out, os.getpid())
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)

    rows = []
    for name in sorted(by_name):
        case = by_name[name]
        case_dir = os.path.join(tmp, name)
        try:
            if case.kind != "node" or case.model is None:
                raise ValueError("unexpected case kind %r" % case.kind)
            _write_case(numpy_helper, case, case_dir)
            rows.append(_tsv_row(onnx, case))
        except Exception as e:  # noqa: BLE001
            failures.append(("case " + name, _short_err(e)))
            shutil.rmtree(case_dir, ignore_errors=True)

    with open(os.path.join(tmp, "cases.tsv"), "w") as f:
        f.write("#name\tops\tinput_types\toutput_types\topsets\n")
        for r in rows:
            f.write(r + "\n")
    with open(os.path.join(tmp, ".stamp"), "w") as f:
        f.write(stamp + "\n")

    if os.path.exists(out):
        shutil.rmtree(out)
    os.rename(tmp, out)

    for n in notes:
        sys.stderr.write("gen_cases.py: note: %s\n" % n)
    if failures:
        sys.stderr.write("gen_cases.py: %d generator failure(s):\n" % len(failures))
        for what, why in failures:
            sys.stderr.write("  FAILED %s: %s\n" % (what, why))
    print("generated %d cases" % len(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
