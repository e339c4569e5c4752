#!/usr/bin/env python3
"""Writes the malformed ONNX models of kiln's robustness catalogue into tests/malformed/onnx/, and their expected
outcome into tests/malformed/onnx/EXPECT (read by tests/unit/test_robust_malformed.c).

Each EXPECT line is:   FILE  STAGE  STATUS  NEEDLE...
  STAGE   the first call that must fail: parse (kiln_onnx_parse_file), build (kiln_build_serialized) or run
          (kiln_context_execute with zero-filled inputs)
  STATUS  the kiln_status name it must return (KILN_ERR_...)
  NEEDLE  text the error message must contain (names what and where); " ~ " separates parts that must appear in
          this order, with anything between them (file:line tags, wrapping context)

Every model is a few hundred bytes. Run this script again after changing it and commit both the models and EXPECT;
the test fails if a listed file is missing, so the two cannot drift apart silently.
"""
import os
import struct
import sys

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx")
EXT = os.path.join(OUT, "ext")

cases = []  # (file, stage, status, needle)


def save(name, model_or_bytes, stage, status, needle, folder=OUT):
    path = os.path.join(folder, name)
    data = model_or_bytes if isinstance(model_or_bytes, (bytes, bytearray)) else model_or_bytes.SerializeToString()
    with open(path, "wb") as f:
        f.write(data)
    cases.append((os.path.relpath(path, OUT), stage, status, needle))


def model(nodes, inputs, outputs, inits=(), opset=17, functions=(), extra_opsets=(), name="g"):
    g = helper.make_graph(list(nodes), name, list(inputs), list(outputs), initializer=list(inits))
    ops = [helper.make_opsetid("", opset)] + list(extra_opsets)
    m = helper.make_model(g, opset_imports=ops, functions=list(functions), producer_name="kiln-malformed")
    m.ir_version = 8
    return m


def vi(name, dt=TensorProto.FLOAT, shape=(2, 3)):
    return helper.make_tensor_value_info(name, dt, list(shape) if shape is not None else None)


def relu_model():
    return model([helper.make_node("Relu", ["x"], ["y"], name="relu0")], [vi("x")], [vi("y")])


# ---- protobuf wire damage ------------------------------------------------------------------------------------------
good = relu_model().SerializeToString()
save("empty.onnx", b"", "parse", "KILN_ERR_PARSE", "the model is empty")
save("truncated_half.onnx", good[: len(good) // 2], "parse", "KILN_ERR_PARSE",
     "in ModelProto, field 7 at byte offset 18: length 66 runs past the end of the message (26 bytes left)")
save("truncated_varint.onnx", good[:1] + b"\xff\xff", "parse", "KILN_ERR_PARSE",
     "in ModelProto, field 1 at byte offset 0: truncated varint")
rnd = bytes((i * 1103515245 + 12345) >> 8 & 0xFF for i in range(300))
save("random_bytes.onnx", rnd, "parse", "KILN_ERR_PARSE", "malformed ONNX: in ModelProto, field 132900 at byte offset 8")
save("png_magic.onnx", b"\x89PNG\r\n\x1a\n" + bytes(64), "parse", "KILN_ERR_PARSE",
     "malformed ONNX: in ModelProto at byte offset 10: invalid field number 0")
save("text_file.onnx", b"this is not a model, just some text\n", "parse", "KILN_ERR_PARSE",
     "malformed ONNX: in ModelProto, field 14 at byte offset 0: unsupported wire type 4")
save("no_graph.onnx", onnx.ModelProto(ir_version=8, opset_import=[helper.make_opsetid("", 17)]), "parse",
     "KILN_ERR_PARSE", "the model has no graph")
# A plan handed to the ONNX parser.
save("plan_magic.onnx", b"KILNPLAN" + bytes(120), "parse", "KILN_ERR_PARSE",
     "malformed ONNX: in ModelProto, field 9 at byte offset 0: unsupported wire type 3")
# ModelProto.graph (field 7) whose length runs past the end of the file.
save("graph_len_past_end.onnx", b"\x08\x08\x3a\xff\x01" + bytes(20), "parse", "KILN_ERR_PARSE",
     "ModelProto, field 7 at byte offset 2: length 255 runs past the end")
# A node (GraphProto field 1) whose length runs past the end of the graph message, not of the file.
node = helper.make_node("Relu", ["x"], ["y"]).SerializeToString()
graph_body = b"\x0a" + bytes([len(node) + 40]) + node
save("node_len_past_graph.onnx", b"\x08\x08\x3a" + bytes([len(graph_body)]) + graph_body, "parse",
     "KILN_ERR_PARSE", "in GraphProto, field 1 at byte offset 4: length 52 runs past the end of the message (12 bytes left)")
save("wire_type_7.onnx", b"\x08\x08\x3f\x00", "parse", "KILN_ERR_PARSE", "unsupported wire type 7")
save("field_zero.onnx", b"\x00\x01", "parse", "KILN_ERR_PARSE", "invalid field number 0")
m = relu_model()
m.graph.node[0].op_type = ""
save("no_op_type.onnx", m, "parse", "KILN_ERR_PARSE", "node has no op_type")

# ---- tensors: dims, counts, dtypes ---------------------------------------------------------------------------------
def init_model(t, op="Add"):
    return model([helper.make_node(op, ["x", t.name], ["y"], name="use_w")], [vi("x")], [vi("y")], inits=[t])


t = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], [0.0] * 6)
t.dims[1] = -3
save("negative_dim.onnx", init_model(t), "parse", "KILN_ERR_PARSE", "tensor 'w' has negative dimension -3 at axis 1")
t = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
t.dims[:] = [1 << 40, 1 << 40]
save("huge_dims.onnx", init_model(t), "parse", "KILN_ERR_PARSE", "tensor 'w': element count overflows")
t = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
t.dims[:] = [1 << 21, 1 << 21, 1 << 21]
save("count_overflow.onnx", init_model(t), "parse", "KILN_ERR_PARSE", "tensor 'w': element count overflows")
t = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
t.dims[:] = [1 << 20, 1 << 20]
save("dims_without_data.onnx", init_model(t), "parse", "KILN_ERR_PARSE",
     "tensor 'w': float_data has 1 values, expected 1099511627776")
t = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], b"\0" * 24, raw=True)
t.raw_data = b"\0" * 20
save("raw_data_short.onnx", init_model(t), "parse", "KILN_ERR_PARSE",
     "tensor 'w' (float32, 6 elements): data has 20 bytes, expected 24")
t = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], [0.0] * 6)
t.data_type = 99
save("bad_data_type.onnx", init_model(t), "parse", "KILN_ERR_PARSE", "tensor 'w' (TensorProto at byte offset")
t = helper.make_tensor("w", TensorProto.FLOAT, [1] * 13, [0.0])
save("rank_13.onnx", init_model(t), "parse", "KILN_ERR_UNSUPPORTED", "tensor 'w' has rank 13; kiln supports up to 12")
t = helper.make_tensor("", TensorProto.FLOAT, [2, 3], [0.0] * 6)
save("unnamed_initializer.onnx", init_model(t), "parse", "KILN_ERR_PARSE", "an initializer has no name")
t = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], [0.0] * 6)
save("initializer_twice.onnx",
     model([helper.make_node("Add", ["x", "w"], ["y"])], [vi("x")], [vi("y")], inits=[t, t]), "parse",
     "KILN_ERR_INVALID_GRAPH", "initializer 'w' is given twice")
save("input_elem_type_99.onnx",
     model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", dt=99)], [vi("y")]), "parse", "KILN_ERR_UNSUPPORTED",
     "input 'x' ~ unknown tensor element type 99")
# Float input plus int64 initializer: the types disagree. kiln has no build-time type check yet, so the kernel
# refuses it at run time, naming the node and both dtypes.
t = helper.make_tensor("w", TensorProto.INT64, [2, 3], [1] * 6)
save("dtype_mismatch_add.onnx", init_model(t), "run", "KILN_ERR_TYPE",
     "node 0 ('use_w', Add) ~ input 1 has dtype int64 but input 0 has float32")
t = helper.make_tensor("w", TensorProto.INT32, [3, 4], [1] * 12)
save("dtype_mismatch_matmul.onnx",
     model([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [vi("x")], [vi("y", shape=(2, 4))], inits=[t]),
     "run", "KILN_ERR_TYPE", "node 0 ('mm', MatMul) ~ input dtypes differ: float32 and int32")
save("cast_to_99.onnx",
     model([helper.make_node("Cast", ["x"], ["y"], to=99, name="cast0")], [vi("x")], [vi("y")]), "build",
     "KILN_ERR_UNSUPPORTED", "node 0 ('cast0', Cast) ~ unsupported target dtype 99")
save("attr_wrong_type.onnx",
     model([helper.make_node("Softmax", ["x"], ["y"], axis="one", name="sm")], [vi("x")], [vi("y")]), "build",
     "KILN_ERR_INVALID_GRAPH", "node 0 ('sm', Softmax) ~ attribute 'axis' is a string where an int is expected")

# ---- graph structure -----------------------------------------------------------------------------------------------
save("cycle.onnx",
     model([helper.make_node("Add", ["x", "b"], ["a"], name="n_a"), helper.make_node("Relu", ["a"], ["b"], name="n_b")],
           [vi("x")], [vi("b")]), "parse", "KILN_ERR_INVALID_GRAPH", "graph has a cycle through node 0 ('n_a', Add)")
save("self_loop.onnx", model([helper.make_node("Add", ["x", "y"], ["y"], name="loop")], [vi("x")], [vi("y")]), "parse",
     "KILN_ERR_INVALID_GRAPH", "graph has a cycle through node 0 ('loop', Add)")
save("dangling_input.onnx",
     model([helper.make_node("Add", ["x", "nowhere"], ["y"], name="add0")], [vi("x")], [vi("y")]), "parse",
     "KILN_ERR_INVALID_GRAPH",
     "node 0 ('add0', Add) input 1 'nowhere' is not produced by any node, graph input or initializer")
save("missing_initializer.onnx",
     model([helper.make_node("Conv", ["x", "W"], ["y"], name="conv0")], [vi("x", shape=(1, 1, 4, 4))],
           [vi("y", shape=(1, 1, 4, 4))]), "parse", "KILN_ERR_INVALID_GRAPH",
     "node 0 ('conv0', Conv) input 1 'W' is not produced by any node")
save("dangling_output.onnx", model([helper.make_node("Relu", ["x"], ["y"])], [vi("x")], [vi("z")]), "parse",
     "KILN_ERR_INVALID_GRAPH", "graph output 'z' is not produced")
save("duplicate_node_output.onnx",
     model([helper.make_node("Relu", ["x"], ["y"], name="first"), helper.make_node("Neg", ["x"], ["y"], name="second")],
           [vi("x")], [vi("y")]), "parse", "KILN_ERR_INVALID_GRAPH",
     "value 'y' is produced twice: by node 0 ('first', Relu) and node 1 ('second', Neg)")
save("output_overwrites_input.onnx", model([helper.make_node("Relu", ["x"], ["x"], name="inplace")], [vi("x")],
                                            [vi("x")]), "parse", "KILN_ERR_INVALID_GRAPH",
     "node 0 ('inplace', Relu) writes 'x', which is a graph input or initializer")
# The same value listed twice as a graph output is legal ONNX: both names deliver the same tensor.
save("duplicate_graph_output.onnx",
     model([helper.make_node("Relu", ["x"], ["y"])], [vi("x")], [vi("y"), vi("y")]), "ok", "KILN_OK", "")
save("duplicate_graph_input.onnx", model([helper.make_node("Relu", ["x"], ["y"])], [vi("x"), vi("x")], [vi("y")]),
     "parse", "KILN_ERR_INVALID_GRAPH", "graph input 'x' is listed twice")
save("no_outputs.onnx", model([helper.make_node("Relu", ["x"], ["y"])], [vi("x")], []), "build",
     "KILN_ERR_INVALID_GRAPH", "no outputs")
save("unknown_op.onnx", model([helper.make_node("FrobnicateTensor", ["x"], ["y"], name="frob")], [vi("x")], [vi("y")]),
     "build", "KILN_ERR_UNSUPPORTED",
     "node 0 ('frob'): op FrobnicateTensor (domain 'ai.onnx', opset 17) has no CPU kernel")
save("opset_zero.onnx", model([helper.make_node("Relu", ["x"], ["y"])], [vi("x")], [vi("y")], opset=0), "parse",
     "KILN_ERR_PARSE", "opset_import of domain '' has invalid version 0")
m = model([helper.make_node("Softmax", ["x"], ["y"], axis=1, name="sm2")], [vi("x")], [vi("y")])
m.graph.node[0].attribute.append(helper.make_attribute("axis", 0))
save("attr_twice.onnx", m, "parse", "KILN_ERR_PARSE", "attribute 'axis' is given twice")

# ---- kernel attributes that would index or loop out of bounds (found by fuzz_plan) --------------------------------
def tfidf(name, indexes, max_skip, pool, counts, max_n=1):
    node = helper.make_node("TfIdfVectorizer", ["x"], ["y"], name=name, mode="TF", min_gram_length=1,
                            max_gram_length=max_n, max_skip_count=max_skip, ngram_counts=counts,
                            ngram_indexes=indexes, pool_int64s=pool)
    return model([node], [vi("x", TensorProto.INT32, (2, 6))], [vi("y", shape=(2, None))])


save("tfidf_negative_index.onnx", tfidf("tfidf_neg", [-3, 1], 0, [2, 3], [0]), "build", "KILN_ERR_INVALID_GRAPH",
     "node 0 ('tfidf_neg', TfIdfVectorizer) ~ ngram_indexes[0] = -3 is outside 0..2^31-1")
# A skip count of 2^62 means no more than a skip of C - 1: it must run at once, not loop 2^62 times.
save("tfidf_skip_bomb.onnx", tfidf("tfidf_skip", [0, 1, 2], 1 << 62, [2, 3, 2, 3], [0, 2], max_n=2), "ok", "KILN_OK",
     "")

# ---- subgraph and function bombs -----------------------------------------------------------------------------------
def pb_len(num, payload):
    """One length-delimited protobuf field (python's protobuf refuses to build messages this deep)."""
    n, v = bytearray(), len(payload)
    while v >= 0x80:
        n.append(v & 0x7F | 0x80)
        v >>= 7
    n.append(v)
    return bytes([num << 3 | 2]) + bytes(n) + payload


def nested_if(depth):
    out = pb_len(12, vi("o").SerializeToString())  # GraphProto.output
    leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["o"])], "leaf", [], [vi("o")]).SerializeToString()
    body = leaf
    for i in range(depth):
        then_attr = pb_len(1, b"then_branch") + b"\xa0\x01\x05" + pb_len(6, body)  # name, type=GRAPH, g
        else_attr = pb_len(1, b"else_branch") + b"\xa0\x01\x05" + pb_len(6, leaf)
        node = pb_len(1, b"c") + pb_len(2, b"o") + pb_len(4, b"If") + pb_len(5, then_attr) + pb_len(5, else_attr)
        body = pb_len(1, node) + pb_len(2, b"level%d" % i) + out
    m = onnx.ModelProto(ir_version=8, opset_import=[helper.make_opsetid("", 17)])
    inputs = pb_len(11, vi("c", TensorProto.BOOL, ()).SerializeToString()) + pb_len(11, vi("x").SerializeToString())
    return m.SerializeToString() + pb_len(7, body + inputs)


save("if_nested_30.onnx", nested_if(30), "parse", "KILN_ERR_PARSE", "nested deeper than 64 levels")

fdom = "kiln.test"
rec = helper.make_function(fdom, "Again", ["a"], ["b"], [helper.make_node("Again", ["a"], ["b"], domain=fdom)],
                           [helper.make_opsetid("", 17), helper.make_opsetid(fdom, 1)])
save("function_recursion.onnx",
     model([helper.make_node("Again", ["x"], ["y"], domain=fdom, name="call")], [vi("x")], [vi("y")],
           functions=[rec], extra_opsets=[helper.make_opsetid(fdom, 1)]), "parse", "KILN_ERR_INVALID_GRAPH",
     "function calls nested deeper than 32 levels (is function 'Again' recursive?)")
# Each level calls the next twice: 2^30 nodes once inlined, from a 2 KB file.
fns = [helper.make_function(fdom, "F30", ["a"], ["b"], [helper.make_node("Identity", ["a"], ["b"])],
                            [helper.make_opsetid("", 17)])]
for i in range(29, -1, -1):
    fns.append(helper.make_function(
        fdom, "F%d" % i, ["a"], ["b"],
        [helper.make_node("F%d" % (i + 1), ["a"], ["t"], domain=fdom),
         helper.make_node("F%d" % (i + 1), ["t"], ["b"], domain=fdom)],
        [helper.make_opsetid("", 17), helper.make_opsetid(fdom, 1)]))
save("function_bomb.onnx",
     model([helper.make_node("F0", ["x"], ["y"], domain=fdom, name="bomb")], [vi("x")], [vi("y")], functions=fns,
           extra_opsets=[helper.make_opsetid(fdom, 1)]), "parse", "KILN_ERR_UNSUPPORTED",
     "inlining model-local functions would import more than 262144 nodes")

# ---- external data -------------------------------------------------------------------------------------------------
os.makedirs(EXT, exist_ok=True)
with open(os.path.join(EXT, "weights.bin"), "wb") as f:
    f.write(struct.pack("<6f", *range(6)) + bytes(8))  # 32 bytes


def ext_model(location, offset=None, length=None):
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 3])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    return init_model(t)


save("ext_ok.onnx", ext_model("weights.bin", 0, 24), "ok", "KILN_OK", "", folder=EXT)
save("ext_outside_folder.onnx", ext_model("../EXPECT"), "parse", "KILN_ERR_INVALID_ARGUMENT",
     "external data location '../EXPECT' escapes the model's folder", folder=EXT)
save("ext_dotdot_inside.onnx", ext_model("../ext/weights.bin", 0, 24), "ok", "KILN_OK", "", folder=EXT)
save("ext_absolute.onnx", ext_model("/etc/hostname"), "parse", "KILN_ERR_INVALID_ARGUMENT",
     "external data location '/etc/hostname' is an absolute path", folder=EXT)
save("ext_past_end.onnx", ext_model("weights.bin", 16, 24), "parse", "KILN_ERR_PARSE",
     "tensor 'w': external data offset 16 + length 24 runs past the end of 'weights.bin' (32 bytes)", folder=EXT)
save("ext_offset_past_end.onnx", ext_model("weights.bin", 4096), "parse", "KILN_ERR_PARSE",
     "offset 4096", folder=EXT)
save("ext_length_mismatch.onnx", ext_model("weights.bin", 0, 32), "parse", "KILN_ERR_PARSE",
     "data has 32 bytes, expected 24", folder=EXT)
save("ext_missing_file.onnx", ext_model("nothere.bin"), "parse", "KILN_ERR_IO",
     "cannot open external data file 'nothere.bin'", folder=EXT)
save("ext_bad_offset.onnx", ext_model("weights.bin", "12abc"), "parse", "KILN_ERR_PARSE",
     "external data offset '12abc' is not a byte count", folder=EXT)
save("ext_no_location.onnx", ext_model(None, 0, 24), "parse", "KILN_ERR_PARSE",
     "external data has no valid 'location'", folder=EXT)

# ---- a valid model, for the tests that damage it at run time (truncations, shapes outside the profile) -----------
save("valid_dynamic.onnx",
     model([helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Add", ["r", "x"], ["y"], name="add")],
           [vi("x", shape=("batch", 3))], [vi("y", shape=("batch", 3))]), "ok", "KILN_OK", "")

with open(os.path.join(OUT, "EXPECT"), "w") as f:
    f.write("# Generated by tests/malformed/make_malformed.py: FILE STAGE STATUS NEEDLE\n")
    for c in cases:
        f.write("%s %s %s %s\n" % c)
print("wrote %d cases to %s" % (len(cases), OUT), file=sys.stderr)
