#!/usr/bin/env python3
"""Writes a chain of N elementwise nodes (Add, Relu, Mul, Tanh, in turn) as an ONNX model: the
compile-time test of issue 14 (compile time grows linearly with the model; 20,000 nodes within
20 s and 1 GB).  Usage: gen_chain.py OUT.onnx [--nodes N] [--width W]"""
import argparse

import onnx
from onnx import TensorProto, helper


def chain(nodes, width):
    ops = ["Add", "Relu", "Mul", "Tanh"]
    inits = [helper.make_tensor("c_add", TensorProto.FLOAT, [width], [0.5] * width),
             helper.make_tensor("c_mul", TensorProto.FLOAT, [width], [0.999] * width)]
    out, prev = [], "x"
    for i in range(nodes):
        op = ops[i % len(ops)]
        y = "y" if i == nodes - 1 else "t%d" % i
        ins = [prev, "c_add"] if op == "Add" else [prev, "c_mul"] if op == "Mul" else [prev]
        out.append(helper.make_node(op, ins, [y], name="n%d" % i))
        prev = y
    g = helper.make_graph(out, "chain%d" % nodes,
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, width])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--nodes", type=int, default=20000)
    ap.add_argument("--width", type=int, default=64)
    a = ap.parse_args()
    onnx.save(chain(a.nodes, a.width), a.out)


if __name__ == "__main__":
    main()
