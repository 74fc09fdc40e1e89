"""float_models.py — what the GEMM test scripts share (tests/xsmm, tests/bf16): small fp32 ONNX
models written from nodes and initializers, their inputs saved as .npy files, and `onnxc run` of
one into a folder with the module dumped (--dump-llvm, so a script can look for the calls or
instructions it expects).  A script imports it after putting tests/common on sys.path."""
import os
import subprocess

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def normal(seed):
    """arr(*shape): standard-normal float32 arrays from a generator seeded with seed"""
    rng = np.random.default_rng(seed)
    return lambda *shape: rng.standard_normal(shape).astype(np.float32)


def save(path, nodes, inputs, outputs, inits, name="test"):
    """inputs: [(name, shape)]; outputs: names (float, shapes left to onnxc); inits: {name: array}"""
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs]
    vo = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs]
    g = helper.make_graph(nodes, name, vi, vo, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


def save_inputs(work, name, inputs):
    """inputs {name: array} as WORK/NAME_INPUT.npy; returns onnxc's -i arguments"""
    ins = []
    for k, v in inputs.items():
        f = os.path.join(work, "%s_%s.npy" % (name, k))
        np.save(f, v)
        ins += ["-i", "%s=%s" % (k, f)]
    return ins


def run(onnxc, model, ins, outdir, *flags):
    """`onnxc run` on 2 threads with --dump-llvm; (exit code, stderr)"""
    os.makedirs(outdir, exist_ok=True)
    cmd = [onnxc, "run", model] + ins + ["-o", outdir, "--threads", "2", "--dump-llvm"] + list(flags)
    p = subprocess.run(cmd, capture_output=True, timeout=300)
    return p.returncode, p.stderr.decode(errors="replace")


def matmul_bias_relu_nodes():
    """y = Relu(x·w + b): the MatMul with a fused bias and activation both GEMM tests start from"""
    return [helper.make_node("MatMul", ["x", "w"], ["t"]), helper.make_node("Add", ["t", "b"], ["u"]),
            helper.make_node("Relu", ["u"], ["y"])]


def relu(x):
    return np.maximum(x, 0)
