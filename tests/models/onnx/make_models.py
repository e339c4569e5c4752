"""Writes the small ONNX models used by tests/unit/test_onnx_import.c (committed; rerun only to change them).

tensors.onnx   every TensorProto data type as raw_data and as typed fields, with the bytes kiln must decode them to
               (an UINT8 tensor "<dtype>_expect" in kiln's layout: sub-byte types one element per byte, signed ones
               sign-extended), sparse initializers, a sparse Constant attribute, an initializer that is also an input.
functions.onnx model-local functions: attribute references with call-site values and defaults, nested calls, an
               ignored optional output, a function-local If whose branch uses function values and a referenced
               attribute.
"""
import os

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))

VALUES = {
    TP.FLOAT: (np.float32, [1.5, -2.0, 3.25]),
    TP.DOUBLE: (np.float64, [1e300, -0.5, 2.0]),
    TP.FLOAT16: (np.float16, [0.5, -65504.0, 1.0 / 3]),
    TP.BFLOAT16: (ml_dtypes.bfloat16, [1.0, -3.5, 1e30]),
    TP.INT8: (np.int8, [-128, 127, -1]),
    TP.UINT8: (np.uint8, [0, 255, 7]),
    TP.INT16: (np.int16, [-32768, 32767, -2]),
    TP.UINT16: (np.uint16, [0, 65535, 9]),
    TP.INT32: (np.int32, [-(2**31), 2**31 - 1, -3]),
    TP.UINT32: (np.uint32, [0, 4000000000, 11]),
    TP.INT64: (np.int64, [-(2**63), 2**63 - 1, -4]),
    TP.UINT64: (np.uint64, [0, 2**64 - 1, 13]),
    TP.BOOL: (np.bool_, [True, False, True]),
    TP.COMPLEX64: (np.complex64, [1 + 2j, -3j, 0.5]),
    TP.COMPLEX128: (np.complex128, [1 + 2j, -3j, 0.25]),
    TP.FLOAT8E4M3FN: (ml_dtypes.float8_e4m3fn, [0.5, -2.0, 448.0]),
    TP.FLOAT8E4M3FNUZ: (ml_dtypes.float8_e4m3fnuz, [0.5, -2.0, 240.0]),
    TP.FLOAT8E5M2: (ml_dtypes.float8_e5m2, [0.5, -2.0, 57344.0]),
    TP.FLOAT8E5M2FNUZ: (ml_dtypes.float8_e5m2fnuz, [0.5, -2.0, 57344.0]),
    TP.FLOAT8E8M0: (ml_dtypes.float8_e8m0fnu, [1.0, 2.0, 0.25]),
    # odd element counts: the last packed byte is half used
    TP.UINT4: (ml_dtypes.uint4, [0, 15, 7, 1, 2]),
    TP.INT4: (ml_dtypes.int4, [-8, 7, -1, 0, 3]),
    TP.FLOAT4E2M1: (ml_dtypes.float4_e2m1fn, [0.5, -6.0, 1.0, 3.0, 0.0]),
    TP.UINT2: (ml_dtypes.uint2, [0, 1, 2, 3, 1]),
    TP.INT2: (ml_dtypes.int2, [-2, 1, -1, 0, 1]),
    TP.FLOAT6E2M3: (ml_dtypes.float6_e2m3fn, [0.5, 1.0, -2.0, 3.0, 0.25]),
    TP.FLOAT6E3M2: (ml_dtypes.float6_e3m2fn, [0.5, 1.0, -2.0, 3.0, 0.25]),
}
SUB_BYTE_BITS = {TP.UINT4: 4, TP.INT4: 4, TP.FLOAT4E2M1: 4, TP.UINT2: 2, TP.INT2: 2, TP.FLOAT6E2M3: 6, TP.FLOAT6E3M2: 6}
SIGNED = {TP.INT4, TP.INT2}


def kiln_bytes(dt, arr):
    if dt in SUB_BYTE_BITS:
        bits = SUB_BYTE_BITS[dt]
        codes = arr.view(np.uint8) & ((1 << bits) - 1)
        if dt in SIGNED:
            codes = np.where(codes >> (bits - 1), codes | (0xFF << bits) & 0xFF, codes)
        return codes.astype(np.uint8).tobytes()
    return arr.tobytes()


def tensors_model():
    inits, outputs = [], []
    for dt, (npt, vals) in VALUES.items():
        name = TP.DataType.Name(dt)
        arr = np.array(vals, dtype=npt).reshape(1, len(vals))
        raw = numpy_helper.from_array(arr, name + "_raw")
        assert raw.data_type == dt and raw.HasField("raw_data")
        typed = helper.make_tensor(name + "_typed", dt, arr.shape, vals, raw=False)
        assert not typed.HasField("raw_data")
        exp = kiln_bytes(dt, arr)
        expect = helper.make_tensor(name + "_expect", TP.UINT8, [len(exp)], exp, raw=True)
        inits += [raw, typed, expect]
    inits.append(helper.make_tensor("STRING_typed", TP.STRING, [2, 2], [b"a", b"", "h\u00e9llo".encode(), b"x" * 40]))
    # sparse initializers: [NNZ, rank] indices and linear indices
    sp_coo = helper.make_sparse_tensor(
        helper.make_tensor("sp_coo", TP.FLOAT, [2], [5.0, 7.0]),
        helper.make_tensor("sp_coo_idx", TP.INT64, [2, 2], [0, 1, 2, 3]), [3, 4])
    sp_lin = helper.make_sparse_tensor(
        helper.make_tensor("sp_lin", TP.INT64, [2], [5, 7]), helper.make_tensor("sp_lin_idx", TP.INT64, [2], [1, 11]),
        [3, 4])
    const = helper.make_node("Constant", [], ["c_sparse"], sparse_value=helper.make_sparse_tensor(
        helper.make_tensor("v", TP.INT32, [1], [9]), helper.make_tensor("i", TP.INT64, [1], [4]), [6]))
    names = [t.name for t in inits] + ["sp_coo", "sp_lin", "c_sparse"]
    outputs = [helper.make_tensor_value_info(n, TP.UNDEFINED, None) for n in names]
    inputs = [helper.make_tensor_value_info("FLOAT_raw", TP.FLOAT, ["batch", 3])]
    graph = helper.make_graph([const], "tensors", inputs, outputs, initializer=inits)
    graph.sparse_initializer.extend([sp_coo, sp_lin])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.save(model, os.path.join(HERE, "tensors.onnx"))


def functions_model():
    op = [helper.make_opsetid("", 18), helper.make_opsetid("custom", 1)]
    alpha_ref = helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT)
    leaky = helper.make_node("LeakyRelu", ["T"], ["Y"])
    leaky.attribute.append(alpha_ref)
    linear_act = helper.make_function(
        "custom", "LinearAct", ["X", "W"], ["Y"], [helper.make_node("MatMul", ["X", "W"], ["T"]), leaky], op,
        attributes=[], attribute_protos=[helper.make_attribute("alpha", 0.5)])
    inner_call = helper.make_node("LinearAct", ["X", "W"], ["A"], domain="custom", name="first")
    inner_call.attribute.append(helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT))
    twice = helper.make_function(
        "custom", "Twice", ["X", "W"], ["Y", "Extra"],
        [inner_call, helper.make_node("LinearAct", ["A", "W"], ["Y"], domain="custom"),
         helper.make_node("Identity", ["A"], ["Extra"])], op, attributes=["alpha"])
    k_const = helper.make_node("Constant", [], ["K"])
    k_const.attribute.append(_ref("value_float", "k", onnx.AttributeProto.FLOAT))
    then_g = helper.make_graph([k_const, helper.make_node("Add", ["X", "K"], ["Z"])], "then", [],
                               [helper.make_tensor_value_info("Z", TP.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("Identity", ["X"], ["Z2"])], "else", [],
                               [helper.make_tensor_value_info("Z2", TP.FLOAT, None)])
    pick = helper.make_function(
        "custom", "Pick", ["C", "X"], ["Y"],
        [helper.make_node("If", ["C"], ["Y"], then_branch=then_g, else_branch=else_g)], op, attributes=["k"])
    nodes = [
        helper.make_node("Twice", ["X", "W"], ["Y1", ""], domain="custom", name="call1", alpha=0.1),
        helper.make_node("Twice", ["Y1", "W"], ["Y2", "E2"], domain="custom", alpha=0.2),
        helper.make_node("Pick", ["C", "Y2"], ["P"], domain="custom", name="pick", k=3.0),
    ]
    graph = helper.make_graph(
        nodes, "functions",
        [helper.make_tensor_value_info("X", TP.FLOAT, [2, 2]), helper.make_tensor_value_info("W", TP.FLOAT, [2, 2]),
         helper.make_tensor_value_info("C", TP.BOOL, [])],
        [helper.make_tensor_value_info(n, TP.FLOAT, [2, 2]) for n in ("Y2", "E2", "P")])
    model = helper.make_model(graph, opset_imports=op, functions=[linear_act, twice, pick])
    model.ir_version = 10
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(HERE, "functions.onnx"))


def _ref(name, ref, t):
    a = onnx.AttributeProto()
    a.name = name
    a.ref_attr_name = ref
    a.type = t
    return a


if __name__ == "__main__":
    tensors_model()
    functions_model()
