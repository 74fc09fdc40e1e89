"""The ctypes mirrors of onnxc's C structs (python/onnxc/_capi.py) match the headers: a struct that
grows in C (as onnxc_compile_options and onnxc_options did) and not here makes the library read past
what Python passed — garbage pointers, a crash or a random max run time."""
import os
import shutil
import subprocess

import ctypes
import pytest

from onnxc import _capi
from conftest import ROOT

STRUCTS = [("onnxc_tensor", "Tensor"), ("onnxc_value_info", "ValueInfo"),
           ("onnxc_compile_options", "CompileOptions"), ("onnxc_tensor_info", "TensorInfo"),
           ("onnxc_options", "ModelOptions")]


def test_struct_sizes_match_the_headers(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.fail("no C compiler (cc) to read the headers' sizes with")
    src = tmp_path / "sizes.c"
    body = "".join(f'  printf("{c} %zu\\n", sizeof({c}));\n' for c, _ in STRUCTS)
    # onnxc_model_info: Python reads a prefix; run_tensors' offset must agree
    body += '  printf("onnxc_model_info.run_tensors %zu\\n", offsetof(onnxc_model_info, run_tensors));\n'
    src.write_text('#include <stddef.h>\n#include <stdio.h>\n#include "onnxc.h"\nint main(void) {\n' + body +
                   "  return 0;\n}\n")
    exe = tmp_path / "sizes"
    subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), "-I", os.path.join(ROOT, "runtime"),
                    str(src), "-o", str(exe)], check=True)
    got = dict(line.split() for line in subprocess.run([str(exe)], capture_output=True, text=True,
                                                       check=True).stdout.splitlines())
    for c, py in STRUCTS:
        assert ctypes.sizeof(getattr(_capi, py)) == int(got[c]), (c, py)
    assert _capi.ModelInfo.run_tensors.offset == int(got["onnxc_model_info.run_tensors"])
