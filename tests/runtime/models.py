"""models.py — the ONNX models of the run-stop tests (stop_test.py), built with onnx.helper."""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def loop_model(trips=2 ** 62, free=False):
    """y = x + 1 repeated `trips` times while x < limit: Loop(M = trips, cond = true, v = x) whose
    body adds 1 and continues while the sum is below `limit` (an input the loop captures, so a
    caller chooses per run how long it lasts; limit = 1e30 never stops: float x + 1 stalls at 2^24).
    free: x's dim is the symbolic "n" (a session keeping variants per shape runs it)."""
    body = helper.make_graph(
        [helper.make_node("Add", ["v_in", "one"], ["v_out"]),
         helper.make_node("Less", ["v_out", "limit"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("iter", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, [1]),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1])],
        [numpy_helper.from_array(np.ones(1, np.float32), "one")])
    g = helper.make_graph(
        [helper.make_node("Loop", ["M", "cond", "x"], ["y"], body=body)],
        "loop_forever",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n" if free else 1]),
         helper.make_tensor_value_info("limit", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        [numpy_helper.from_array(np.array(trips, np.int64), "M"),
         numpy_helper.from_array(np.array(True), "cond")])
    return helper.make_model(g, opset_imports=OPSET)


def roialign_model(sampling_ratio=0, mode="avg", H=8, W=8, rois=1):
    """RoiAlign over a 1x2xHxW image with rois as an input: a huge roi with sampling_ratio 0 asks
    for an adaptive sampling grid as large as the roi"""
    g = helper.make_graph(
        [helper.make_node("RoiAlign", ["X", "rois", "idx"], ["Y"], output_height=2, output_width=2,
                          sampling_ratio=sampling_ratio, mode=mode)],
        "roialign",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 2, H, W]),
         helper.make_tensor_value_info("rois", TensorProto.FLOAT, [rois, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [rois, 2, 2, 2])],
        [numpy_helper.from_array(np.zeros(rois, np.int64), "idx")])
    return helper.make_model(g, opset_imports=OPSET)
