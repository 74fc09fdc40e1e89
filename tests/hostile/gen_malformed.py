#!/usr/bin/python3
"""gen_malformed.py — writes the malformed-model catalogue: one folder per case holding model.onnx
(and whatever else the case needs: external data files, links, inputs), plus manifest.json listing
for each case the onnxc command to run and the substring its one-line error must contain.

  gen_malformed.py OUTDIR            write the catalogue
  gen_malformed.py --seed-only DIR   write only a valid base model (a fuzzing seed)

Every case must make onnxc exit 1 with exactly one line on stderr containing the expected text
(which names the node, field or file), never a signal, within the runner's timeout.
Cases are built with onnx.helper where the protobuf can express the fault, as raw bytes where it
cannot (bad varints, groups, nesting deeper than onnx itself would write)."""
import json
import os
import random
import shutil
import sys

import numpy as np
from onnx import AttributeProto, ModelProto, TensorProto, helper, numpy_helper

OPSET = 13
CASES = []  # (name, files {relpath: bytes}, args (MODEL = the model path), expected substring, setup)


def model_bytes(m):
    return m.SerializeToString()


def vi(name, dt=TensorProto.FLOAT, shape=(2, 3)):
    return helper.make_tensor_value_info(name, dt, list(shape) if shape is not None else None)


def mk(nodes, inputs, outputs, inits=(), opset=OPSET, ir=8, name="g"):
    g = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] if opset else [])
    m.ir_version = ir
    return m


def base():
    """x[2,3] + c → y: the valid model most cases start from."""
    c = numpy_helper.from_array(np.ones((2, 3), np.float32), "c")
    return mk([helper.make_node("Add", ["x", "c"], ["y"], name="add")], [vi("x")], [vi("y")], [c])


def case(name, model, expect, args=("info", "MODEL"), files=None, setup=None):
    data = model if isinstance(model, (bytes, bytearray)) else model_bytes(model)
    CASES.append(dict(name=name, model=bytes(data), expect=expect, args=list(args), files=files or {},
                      setup=setup))


def one_node(op, ins, outs, attrs=None, inputs=None, outputs=None, inits=(), name="n", opset=OPSET):
    node = helper.make_node(op, ins, outs, name=name, **(attrs or {}))
    return mk([node], inputs or [vi(i) for i in ins if i not in {t.name for t in inits}],
              outputs or [vi(o, shape=None) for o in outs], inits, opset=opset)


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


# ---- raw wire-format helpers ----
def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    key = varint((num << 3) | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def build():
    good = model_bytes(base())
    rnd = random.Random(6)

    # ---- files and the wire format ----
    case("empty file", b"", "empty file")
    case("truncated", good[: len(good) // 2], "truncated or malformed")
    case("truncated by one byte", good[:-1], "truncated or malformed")
    case("random bytes", bytes(rnd.getrandbits(8) for _ in range(4096)), "ModelProto")
    case("zero bytes", bytes(4096), "malformed at byte 0")
    case("bad varint (11 bytes of 0xff)", b"\x08" + b"\xff" * 11, "malformed at byte 0")
    case("length past the end", field(7, 2, b"")[:1] + varint(1000) + b"abc", "malformed at byte 0")
    case("group wire type", varint((7 << 3) | 3) + good, "malformed at byte 0")
    case("field number 0", b"\x00\x01" + good, "malformed at byte 0")
    # TypeProto.sequence_type.elem_type ... nested 100 deep inside a graph input
    t = b""
    for _ in range(100):
        t = field(4, 2, field(1, 2, t))  # TypeProto.sequence_type(4) → Sequence.elem_type(1)
    deep = field(7, 2, field(11, 2, field(1, 2, b"x") + field(2, 2, t))) + field(1, 0, varint(8))
    case("protobuf nested 200 levels", deep, "nested more than 64 levels")
    case("a folder as the model", b"", "is a directory", args=("info", "DIR"))

    # ---- model header ----
    m = base(); m.ClearField("ir_version")
    case("ir_version missing", m, "ir_version 0 is not supported")
    m = base(); m.ir_version = 99
    case("ir_version too new", m, "ir_version 99 is not supported")
    m = base(); del m.opset_import[:]
    case("no opset_import", m, "imports no opset")
    m = base(); m.opset_import[0].version = 99
    case("opset too new", m, "opset 99")
    m = base(); m.opset_import.append(helper.make_opsetid("ai.onnx", 11))
    case("domain imported twice", m, "twice with different versions")
    m = base(); m.ClearField("graph")
    case("no graph", m, "model has no graph")

    # ---- names and structure ----
    m = base(); m.graph.node[0].input[0] = "nope"
    case("undefined input name", m, "node 'add' (Add): input 'nope' is not defined")
    m = base(); m.graph.node.append(helper.make_node("Relu", ["x"], ["y"], name="dup"))
    case("duplicate value name", m, "value 'y' is defined twice")
    m = base(); m.graph.initializer.append(const("c", np.ones((2, 3), np.float32)))
    case("duplicate initializer", m, "value 'c' is defined twice")
    m = mk([helper.make_node("Relu", ["b"], ["a"], name="r1"), helper.make_node("Relu", ["a"], ["b"], name="r2"),
            helper.make_node("Add", ["x", "a"], ["y"], name="add")], [vi("x")], [vi("y")])
    case("cycle", m, "cycle", args=("dump", "MODEL"))
    case("cycle (info exits 1)", m, "cycle")
    m = base(); m.graph.output[0].name = "ghost"
    case("output nobody produces", m, "graph output 'ghost' is not produced")
    m = base(); m.graph.output.append(m.graph.output[0])
    case("output listed twice", m, "graph output 'y' is listed twice")
    m = base(); m.graph.node[0].op_type = ""
    case("node without op_type", m, "has no op_type")
    m = base(); m.graph.node[0].op_type = "Frobnicate"
    case("unsupported operator", m, "unsupported operators (1): ai.onnx::Frobnicate")
    m = base(); m.graph.node[0].input.extend(["x"] * 100000)
    case("100000 inputs on one node", m, "node 'add' (Add): has 100002 inputs, expects 2")
    m = base(); m.graph.node[0].attribute.extend([helper.make_attribute("a", 1), helper.make_attribute("a", 2)])
    case("attribute given twice", m, "attribute 'a' is given twice")
    m = base(); m.graph.node[0].name = "bad\nname"
    m.graph.node[0].input[0] = "nope"
    case("control characters in a name", m, "node 'bad\\nname'")  # C-style escaped
    m = base(); m.graph.node[0].name = "esc\x1b[2J\x07"; m.graph.node[0].input[0] = "nope"
    case("terminal escape in a name", m, "node 'esc\\033[2J\\007'")
    m = base(); m.graph.node[0].name = "n" * (1 << 20); m.graph.node[0].input[0] = "nope"
    case("1 MB name shortened", m, "...(1048576 bytes)", args=("dump", "MODEL"))
    m = base(); m.graph.node[0].input[0] = "x\0evil"
    case("NUL byte in a name", m, "NUL byte")

    # ---- attributes against the op's schema (ir/attrs.def): type, required ones present ----
    cv = lambda attrs: one_node("Conv", ["x", "w"], ["y"], attrs, inputs=[vi("x", shape=(1, 3, 8, 8))],
                                inits=[const("w", np.ones((4, 3, 3, 3), np.float32))], name="conv")
    case("Conv strides as FLOATS", cv({"strides": [2.0, 2.0]}), "node 'conv' (Conv): attribute 'strides' is FLOATS, expected INTS")
    case("Conv group as FLOAT", cv({"group": 1.0}), "attribute 'group' is FLOAT, expected INT")
    case("Conv auto_pad as INT", cv({"auto_pad": 1}), "attribute 'auto_pad' is INT, expected STRING")
    case("Concat axis as STRING", one_node("Concat", ["x", "x"], ["y"], {"axis": "1"}, inputs=[vi("x")], name="cat"),
         "node 'cat' (Concat): attribute 'axis' is STRING, expected INT")
    case("Concat without axis", one_node("Concat", ["x", "x"], ["y"], inputs=[vi("x")], name="cat"),
         "node 'cat' (Concat): required attribute 'axis' (INT) is missing")
    case("Cast without to", one_node("Cast", ["x"], ["y"], name="cast"), "node 'cast' (Cast): required attribute 'to'")
    case("Cast to as FLOAT", one_node("Cast", ["x"], ["y"], {"to": 1.0}, name="cast"), "attribute 'to' is FLOAT, expected INT")
    case("Cast to as STRING at opset 13", one_node("Cast", ["x"], ["y"], {"to": "FLOAT"}, name="cast"),
         "attribute 'to' is STRING, expected INT")
    case("Softmax axis as INTS", one_node("Softmax", ["x"], ["y"], {"axis": [1]}, name="sm"), "attribute 'axis' is INTS, expected INT")
    case("LeakyRelu alpha as INT", one_node("LeakyRelu", ["x"], ["y"], {"alpha": 1}, name="lr"), "attribute 'alpha' is INT, expected FLOAT")
    case("Gemm transA as FLOAT", one_node("Gemm", ["x", "b"], ["y"], {"transA": 1.0}, inputs=[vi("x"), vi("b", shape=(3, 2))],
                                         name="gemm"), "attribute 'transA' is FLOAT, expected INT")
    case("MaxPool without kernel_shape", one_node("MaxPool", ["x"], ["y"], inputs=[vi("x", shape=(1, 3, 8, 8))], name="pool"),
         "node 'pool' (MaxPool): required attribute 'kernel_shape' (INTS) is missing")
    case("Transpose perm as STRINGS", one_node("Transpose", ["x"], ["y"], {"perm": ["a", "b"]}, name="tr"),
         "attribute 'perm' is STRINGS, expected INTS")
    m = mk([helper.make_node("Loop", ["", "c"], ["y"], name="loop")], [vi("c", TensorProto.BOOL, ())], [vi("y", shape=None)])
    case("Loop without body", m, "node 'loop' (Loop): required attribute 'body' (GRAPH) is missing")
    m = mk([helper.make_node("Loop", ["", "c"], ["y"], name="loop", body=1)], [vi("c", TensorProto.BOOL, ())], [vi("y", shape=None)])
    case("Loop body as INT", m, "attribute 'body' is INT, expected GRAPH")

    # ---- an initializer shadowing a graph input must agree with it ----
    m = mk([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x")], [vi("y", shape=None)],
           [const("x", np.ones((4, 5), np.float32))])
    case("initializer shadows an input with another shape", m,
         "graph input 'x' is declared float32 2x3, but the initializer of the same name is float32 4x5")
    case("initializer shadowing an input (run)", m, "initializer of the same name", args=("run", "MODEL"))
    m = mk([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x")], [vi("y", shape=None)],
           [const("x", np.ones((2, 3, 1), np.float32))])
    case("initializer shadows an input with another rank", m, "is float32 2x3x1")
    m = mk([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", TensorProto.INT64)], [vi("y", shape=None)],
           [const("x", np.ones((2, 3), np.float32))])
    case("initializer shadows an input with another dtype", m, "graph input 'x' is declared int64 but the value is float32")

    # ---- types ----
    m = base(); m.graph.input[0].type.tensor_type.elem_type = TensorProto.STRING
    case("string input", m, "graph input 'x': string tensors are not supported")
    m = base(); m.graph.input[0].type.tensor_type.elem_type = 77
    case("unknown dtype", m, "graph input 'x': data type (unknown)")
    m = base(); m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = -5
    case("negative input dim", m, "graph input 'x': dim 0 is -5")
    m = mk([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", shape=(1 << 40, 1 << 40))], [vi("y", shape=None)])
    case("input dims overflow", m, "graph input 'x': size overflows")
    m = mk([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", shape=(1,) * 9)], [vi("y", shape=None)])
    case("rank 9 input", m, "graph input 'x': rank 9 is more than the supported 8")
    s = helper.make_tensor_sequence_value_info("x", TensorProto.FLOAT, [2])
    m = mk([helper.make_node("Identity", ["x"], ["y"], name="i")], [s], [vi("y", shape=None)])
    case("sequence input", m, "graph input 'x': only tensor types are supported (this is a sequence)")

    # ---- tensors ----
    m = base(); m.graph.initializer[0].dims[0] = -1
    case("negative initializer dim", m, "initializer 'c'")
    m = base(); del m.graph.initializer[0].dims[:]; m.graph.initializer[0].dims.extend([1 << 33, 1 << 33])
    case("initializer dims overflow", m, "initializer 'c'")
    m = base(); m.graph.initializer[0].dims.extend([1] * 20)
    case("initializer rank 22", m, "initializer 'c'")
    m = base(); m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-4]
    case("raw_data too short", m, "initializer 'c': raw_data has 20 bytes, expected 24")
    m = base(); m.graph.initializer[0].float_data.extend([1.0] * 6)
    case("raw_data and float_data", m, "initializer 'c'")
    t = helper.make_tensor("c", TensorProto.FLOAT, [2, 3], [1.0] * 6); del t.float_data[5:]
    m = base(); m.graph.initializer[0].CopyFrom(t)
    case("float_data count wrong", m, "initializer 'c'")
    t = helper.make_tensor("c", TensorProto.FLOAT, [2, 3], [1] * 6); t.ClearField("float_data"); t.int64_data.extend([1] * 6)
    m = base(); m.graph.initializer[0].CopyFrom(t)
    case("wrong typed field for the dtype", m, "initializer 'c'")
    m = base(); m.graph.initializer[0].data_type = 0
    case("initializer without dtype", m, "initializer 'c'")
    m = base(); m.graph.sparse_initializer.add()
    case("sparse initializer", m, "sparse initializers are not supported")
    m = one_node("Constant", [], ["y"], {"value_string": "hi"}, inputs=[], name="k")
    case("string constant", m, "node 'k' (Constant): string constants are not supported")

    # ---- external data: must stay inside the model's folder, regular single-link files only ----
    def ext(loc, offset=None, length=24, extra_files=None, setup=None, expect="initializer 'c'"):
        m = base()
        t = m.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        kv = [("location", loc)]
        if offset is not None:
            kv.append(("offset", str(offset)))
        if length is not None:
            kv.append(("length", str(length)))
        for k, v in kv:
            e = t.external_data.add()
            e.key, e.value = k, v
        return m, extra_files or {}, setup, expect

    secret = {"../secret.bin": bytes(24)}
    for name, (m, files, setup, expect) in {
        "external data with ..": ext("../secret.bin", extra_files=secret, expect="contains '..'"),
        "external data hidden .. (a/../../x)": ext("a/../../secret.bin", extra_files=secret, expect="contains '..'"),
        "external data absolute path": ext("/etc/passwd", length=None, expect="absolute"),
        "external data symlink": ext("link.bin", setup="symlink ../secret.bin link.bin", extra_files=secret,
                                     expect="link.bin"),
        "external data symlinked folder": ext("d/w.bin", setup="symlink .. d", extra_files={"../w.bin": bytes(24)},
                                              expect="d/w.bin"),
        "external data hardlink": ext("hard.bin", setup="hardlink ../secret.bin hard.bin", extra_files=secret,
                                      expect="link"),
        "external data offset past the end": ext("w.bin", offset=4096, extra_files={"w.bin": bytes(24)},
                                                 expect="w.bin"),
        "external data length wrong": ext("w.bin", length=20, extra_files={"w.bin": bytes(24)}, expect="length"),
        "external data missing file": ext("nope.bin", expect="nope.bin"),
        "external data a folder": ext("sub", setup="mkdir sub", expect="sub"),
        "external data without location": ext("", expect="location"),
        "external data location with a NUL byte": ext("w.bin\0/../x", extra_files={"w.bin": bytes(24)}, expect="NUL byte"),
        "external data location ending in /": ext("w.bin/", extra_files={"w.bin": bytes(24)}, expect="ends in '/'"),
        "external data location only /": ext("/", expect="location '/'"),
        "external data huge offset": ext("w.bin", offset=(1 << 63) - 1, extra_files={"w.bin": bytes(24)},
                                         expect="offset"),
        "external data offset + length overflows": ext("w.bin", offset=(1 << 62), extra_files={"w.bin": bytes(24)},
                                                      expect="w.bin"),
        "external data negative offset": ext("w.bin", offset=-8, extra_files={"w.bin": bytes(24)}, expect="offset"),
    }.items():
        case(name, m, expect, files=files, setup=setup)

    # ---- subgraphs ----
    def nested_if(depth):
        """If nodes nested `depth` deep, both branches the level below: 2^depth leaves.  Built as
        bytes (each level's graph serialized once and embedded twice), not by protobuf copies,
        which take minutes for depth 20; returns what mk(...).SerializeToString() would parse as."""
        y = vi("y", shape=None)
        body = helper.make_graph([helper.make_node("Identity", ["x"], ["y"], name="leaf")], "leaf", [],
                                 [y]).SerializeToString()
        node = None
        for d in range(depth):
            # make_node orders attributes by name: else_branch, then then_branch (AttributeProto: name 1, g 6, type 20)
            node = helper.make_node("If", ["cond"], ["y"], name="if%d" % d).SerializeToString()
            for a in ("else_branch", "then_branch"):
                node += field(5, 2, field(1, 2, a.encode()) + field(6, 2, body) + field(20, 0, varint(AttributeProto.GRAPH)))
            body = field(1, 2, node) + helper.make_graph([], "b%d" % d, [], [y]).SerializeToString()
        m = mk([], [vi("cond", TensorProto.BOOL, ()), vi("x")], [y])
        top = m.graph.SerializeToString()
        m.ClearField("graph")
        return m.SerializeToString() + field(7, 2, field(1, 2, node) + top)
    case("subgraphs nested 20 deep", nested_if(20), "nested more than 16 levels deep")
    m = ModelProto()
    m.ParseFromString(nested_if(1))
    m.graph.node[0].attribute[0].g.node[0].input[0] = "undefined_inner"
    case("undefined name in a subgraph", m, "subgraph 'else_branch' of node 'if0': node 'leaf' (Identity): input 'undefined_inner'")

    # ---- attributes and shapes, found by shape inference (dump runs it) ----
    D = ("dump", "MODEL")
    w = const("w", np.ones((4, 3, 3, 3), np.float32))
    def conv(attrs, wshape=(4, 3, 3, 3), xshape=(1, 3, 8, 8)):
        return one_node("Conv", ["x", "w"], ["y"], attrs, inputs=[vi("x", shape=xshape)],
                        inits=[const("w", np.ones(wshape, np.float32))], name="conv")
    case("Conv strides 0", conv({"strides": [0, 1]}), "node 'conv' (Conv)", D)
    case("Conv dilations 0", conv({"dilations": [1, 0]}), "node 'conv' (Conv)", D)
    case("Conv strides 0 (info exits 1)", conv({"strides": [0, 1]}), "node 'conv' (Conv)")
    case("Softmax axis out of range (info exits 1)", one_node("Softmax", ["x"], ["y"], {"axis": 5}, name="sm"),
         "node 'sm' (Softmax): axis 5")
    case("Conv group 0", conv({"group": 0}), "node 'conv' (Conv)", D)
    case("Conv group not dividing channels", conv({"group": 2}), "node 'conv' (Conv)", D)
    case("Conv kernel larger than the input", conv({}, wshape=(4, 3, 9, 9)), "node 'conv' (Conv)", D)
    case("Conv negative pads", conv({"pads": [-5, 0, 0, 0]}), "node 'conv' (Conv)", D)
    mp = lambda attrs: one_node("MaxPool", ["x"], ["y"], attrs, inputs=[vi("x", shape=(1, 3, 8, 8))], name="pool")
    case("MaxPool kernel 0", mp({"kernel_shape": [0, 0]}), "node 'pool' (MaxPool)", D)
    case("MaxPool strides 0", mp({"kernel_shape": [2, 2], "strides": [0, 0]}), "node 'pool' (MaxPool)", D)
    case("MaxPool kernel rank wrong", mp({"kernel_shape": [2, 2, 2, 2, 2]}), "node 'pool' (MaxPool)", D)
    case("Softmax axis out of range", one_node("Softmax", ["x"], ["y"], {"axis": 5}, name="sm"), "node 'sm' (Softmax): axis 5", D)
    case("Concat axis out of range", one_node("Concat", ["x", "x"], ["y"], {"axis": -3}, inputs=[vi("x")], name="cat"),
         "node 'cat' (Concat)", D)
    case("Gather axis out of range",
         one_node("Gather", ["x", "i"], ["y"], {"axis": 7}, inits=[const("i", np.array([0], np.int64))], name="ga"),
         "node 'ga' (Gather)", D)
    case("ReduceSum axes out of range", one_node("ReduceSum", ["x", "ax"], ["y"], inits=[const("ax", np.array([4], np.int64))],
                                                 name="rs"), "node 'rs' (ReduceSum)", D)
    case("Transpose perm repeats", one_node("Transpose", ["x"], ["y"], {"perm": [0, 0]}, name="tr"), "node 'tr' (Transpose)", D)
    case("Split sizes do not add up",
         one_node("Split", ["x", "s"], ["a", "b"], {"axis": 1}, inits=[const("s", np.array([1, 1], np.int64))], name="sp"),
         "node 'sp' (Split)", D)
    case("Split sizes negative",
         one_node("Split", ["x", "s"], ["a", "b"], {"axis": 1}, inits=[const("s", np.array([4, -1], np.int64))], name="sp"),
         "node 'sp' (Split)", D)
    case("Reshape two -1",
         one_node("Reshape", ["x", "s"], ["y"], inits=[const("s", np.array([-1, -1], np.int64))], name="rsh"),
         "node 'rsh' (Reshape)", D)
    case("Reshape count mismatch",
         one_node("Reshape", ["x", "s"], ["y"], inits=[const("s", np.array([4, 4], np.int64))], name="rsh"),
         "node 'rsh' (Reshape)", D)
    case("Add shapes do not broadcast",
         one_node("Add", ["x", "z"], ["y"], inputs=[vi("x"), vi("z", shape=(4, 5))], name="add"),
         "cannot be broadcast", D)

    # ---- huge outputs from tiny files: refused by the memory budget before anything is allocated ----
    C = ("compile", "MODEL", "-o", "OUT", "--emit", "llvm")
    case("huge ConstantOfShape",
         one_node("ConstantOfShape", ["s"], ["y"], inputs=[], inits=[const("s", np.array([1 << 20, 1 << 20], np.int64))],
                  name="cos"), "node 'cos' (ConstantOfShape)", C)
    case("ConstantOfShape over --max-memory",
         one_node("ConstantOfShape", ["s"], ["y"], inputs=[], inits=[const("s", np.array([1 << 15, 1 << 15], np.int64))],
                  name="cos"), "output of node 'cos' (ConstantOfShape)", C + ("--max-memory", "1G"))
    case("ConstantOfShape dims overflow",
         one_node("ConstantOfShape", ["s"], ["y"], inputs=[], inits=[const("s", np.array([1 << 62, 4], np.int64))],
                  name="cos"), "node 'cos' (ConstantOfShape)", C)
    case("huge Expand",
         one_node("Expand", ["x", "s"], ["y"], inits=[const("s", np.array([1 << 16, 1 << 16, 1, 1], np.int64))], name="ex"),
         "more than the --max-memory limit", C)
    case("huge Expand names the node",
         one_node("Expand", ["x", "s"], ["y"], inits=[const("s", np.array([1 << 16, 1 << 16, 1, 1], np.int64))], name="ex"),
         "output of node 'ex' (Expand)", C)
    case("huge Tile",
         one_node("Tile", ["x", "r"], ["y"], inits=[const("r", np.array([1 << 20, 1 << 20], np.int64))], name="tile"),
         "more than the --max-memory limit", C)
    case("Tile size overflows",
         one_node("Tile", ["x", "r"], ["y"], inits=[const("r", np.array([1 << 40, 1 << 40], np.int64))], name="tile"),
         "node 'tile' (Tile)", C)
    m = mk([helper.make_node("Expand", ["x", "s"], ["t"], name="ex"), helper.make_node("ReduceSum", ["t"], ["y"], name="rs")],
           [vi("x")], [vi("y", shape=None)], [const("s", np.array([1 << 14, 1 << 14, 1, 1], np.int64))])
    case("intermediate over --max-memory", m, "intermediates 6.0 GiB", C + ("--max-memory", "1G"))
    case("Range with delta 0",
         one_node("Range", ["a", "b", "d"], ["y"], inputs=[], name="rng",
                  inits=[const("a", np.array(0, np.int64)), const("b", np.array(10, np.int64)), const("d", np.array(0, np.int64))]),
         "node 'rng' (Range)", C)
    case("huge Range",
         one_node("Range", ["a", "b", "d"], ["y"], inputs=[], name="rng",
                  inits=[const("a", np.array(0, np.int64)), const("b", np.array(1 << 60, np.int64)), const("d", np.array(1, np.int64))]),
         "node 'rng' (Range)", C)
    folded = mk([helper.make_node("ConstantOfShape", ["s"], ["k"], name="cos"), helper.make_node("Add", ["x", "k"], ["y"], name="add")],
                [vi("x", shape=(64, 64))], [vi("y", shape=None)], [const("s", np.array([64, 64], np.int64))])
    case("folded weights over --max-memory", folded, "weights 16.0 KiB",
         ("compile", "MODEL", "-o", "OUT", "--emit", "llvm", "--max-memory", "20K"))
    case("file over --max-memory", base(), "more than the limit of 16",
         ("compile", "MODEL", "-o", "OUT", "--emit", "llvm", "--max-memory", "16"))
    case("run over --max-memory", folded, "more than the --max-memory limit of 20.0 KiB",
         ("run", "MODEL", "IN0", "--max-memory", "20K"), files={"in0.npy": np.ones((64, 64), np.float32)})
    case("huge Pad",
         one_node("Pad", ["x", "p"], ["y"], inits=[const("p", np.array([0, 0, 1 << 20, 1 << 20], np.int64))], name="pad"),
         "more than the --max-memory limit", C)
    case("Pad size overflows",
         one_node("Pad", ["x", "p"], ["y"], inits=[const("p", np.array([0, 0, 1 << 62, 1 << 62], np.int64))], name="pad"),
         "node 'pad' (Pad)", C)
    case("huge graph input", one_node("Relu", ["x"], ["y"], inputs=[vi("x", shape=(1 << 20, 1 << 20))], name="r"),
         "more than the --max-memory limit", C)

    # ---- compile-time bounds: node count, checked before any node is built ----
    # written as bytes: GraphProto.node (field 1) repeated, ModelProto.graph is field 7
    m = base()
    nodes = field(1, 2, helper.make_node("Relu", ["x"], ["r"], name="r").SerializeToString()) * 1000001
    graph = m.graph.SerializeToString() + nodes
    m.ClearField("graph")
    case("a million and one nodes", model_bytes(m) + field(7, 2, graph), "more than 1000000 nodes")

    # ---- run time: indices out of range give a status, not an out-of-bounds read ----
    R = ("run", "MODEL", "IN0")
    for op, attrs, ishape in [("Gather", {"axis": 0}, (1,)), ("GatherElements", {"axis": 0}, (2, 3))]:
        m = one_node(op, ["x", "i"], ["y"], attrs, inputs=[vi("x"), vi("i", TensorProto.INT64, ishape)],
                     outputs=[vi("y", shape=None)], name="g")
        case("%s index out of range at run time" % op, m, "index out of range",
             ("run", "MODEL", "IN0", "IN1"), files={"in0.npy": np.ones((2, 3), np.float32),
                                                    "in1.npy": np.full(ishape, 1000, np.int64)})
    # found by fuzzing: an empty constant (Shape with start past the rank) as the first weight made
    # blob_add do pointer arithmetic on NULL (UBSan); the run then fails on the Gather index
    m = mk([helper.make_node("Shape", ["x"], ["s"], name="shape", start=32767),
            helper.make_node("Gather", ["x", "i"], ["z"], name="g", axis=0)],
           [vi("x"), vi("i", TensorProto.INT64, (1,))], [vi("s", TensorProto.INT64, None), vi("z", shape=None)])
    case("fuzz: empty first weight, then an index out of range", m, "index out of range",
         ("run", "MODEL", "IN0", "IN1"), files={"in0.npy": np.ones((2, 3), np.float32),
                                                "in1.npy": np.full((1,), 7, np.int64)})
    m = one_node("GatherND", ["x", "i"], ["y"], inputs=[vi("x"), vi("i", TensorProto.INT64, (1, 2))], name="g")
    case("GatherND index out of range at run time", m, "index out of range", ("run", "MODEL", "IN0", "IN1"),
         files={"in0.npy": np.ones((2, 3), np.float32), "in1.npy": np.array([[0, -7]], np.int64)})
    m = one_node("ScatterElements", ["x", "i", "u"], ["y"], {"axis": 1},
                 inputs=[vi("x"), vi("i", TensorProto.INT64, (2, 3)), vi("u")], name="sc")
    case("ScatterElements index out of range at run time", m, "index out of range",
         ("run", "MODEL", "IN0", "IN1", "IN2"),
         files={"in0.npy": np.ones((2, 3), np.float32), "in1.npy": np.full((2, 3), 3, np.int64),
                "in2.npy": np.ones((2, 3), np.float32)})
    m = one_node("ScatterND", ["x", "i", "u"], ["y"], inputs=[vi("x"), vi("i", TensorProto.INT64, (1, 1)), vi("u", shape=(1, 3))],
                 name="sc")
    case("ScatterND index out of range at run time", m, "index out of range", ("run", "MODEL", "IN0", "IN1", "IN2"),
         files={"in0.npy": np.ones((2, 3), np.float32), "in1.npy": np.array([[2]], np.int64),
                "in2.npy": np.ones((1, 3), np.float32)})


def write(outdir):
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    manifest = []
    for i, c in enumerate(CASES):
        slug = "%03d_%s" % (i, "".join(ch if ch.isalnum() else "_" for ch in c["name"].lower())[:40])
        top = os.path.join(outdir, slug)  # top/secret.bin is outside the model's folder top/m/
        d = os.path.join(top, "m")
        os.makedirs(d)
        model = os.path.join(d, "model.onnx")
        with open(model, "wb") as f:
            f.write(c["model"])
        inputs = []
        for rel, data in sorted(c["files"].items()):
            p = os.path.normpath(os.path.join(d, rel))
            if isinstance(data, np.ndarray):
                np.save(p, data)
                inputs.append(p)
            else:
                with open(p, "wb") as f:
                    f.write(data)
        if c["setup"]:
            kind, *a = c["setup"].split()
            if kind == "symlink":
                os.symlink(a[0], os.path.join(d, a[1]))
            elif kind == "hardlink":
                os.link(os.path.normpath(os.path.join(d, a[0])), os.path.join(d, a[1]))
            elif kind == "mkdir":
                os.makedirs(os.path.join(d, a[0]))
        args = []
        for x in c["args"]:
            if x == "MODEL":
                x = model
            elif x == "DIR":
                x = d
            elif x == "OUT":
                x = os.path.join(top, "out.ll")
            elif x.startswith("IN"):
                x = inputs[int(x[2:])]
            args.append(x)
        manifest.append(dict(name=c["name"], dir=top, args=args, expect=c["expect"]))
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return len(manifest)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--seed-only":
        os.makedirs(sys.argv[2], exist_ok=True)
        with open(os.path.join(sys.argv[2], "base.onnx"), "wb") as f:
            f.write(model_bytes(base()))
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build()
    print("gen_malformed: %d cases in %s" % (write(sys.argv[1]), sys.argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
