"""Writes the small BERT-like models of tests/unit/test_shape_bert_plan.c (committed; rerun only to change them).

The graphs are spelled the way torch.onnx.export(dynamo=True) writes a transformers BertModel at opset 20: token,
position and type embeddings through Gather, LayerNormalization, the attention mask as Unsqueeze/Cast/Sub/Where,
every projection MatMul + Add, heads split with Reshape shapes built at run time (Shape -> Slice/Gather ->
Unsqueeze -> Concat), scaled dot-product attention as torchlib decomposes it (key reshaped to 3-D, transposed,
reshaped back through Shape/Slice/Concat; the scale from Shape -> Slice -> Cast -> Sqrt -> Div; the mask through
Expand/Where, or indexed by GatherND with Range-built indices and And-ed, as transformers 5 builds it; NaNs of fully
masked rows zeroed through IsNaN/Where), exact GELU through Erf, and the pooler on token 0 (Gather on axis 1) with
Tanh. Shape constants come both as initializers and as Constant nodes (value_ints / value tensors), as exporters mix
them.

bert_like_static.onnx   inputs int64 [2, 16]
bert_like_dynamic.onnx  inputs int64 [batch, seq] (the test binds them through an optimization profile)
"""
import os

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
HID, HEADS, FFN, LAYERS, VOCAB, MAXPOS = 32, 4, 64, 2, 50, 64
HD = HID // HEADS


class G:
    def __init__(self, seed):
        self.nodes, self.inits, self.k = [], [], 0
        self.rng = np.random.default_rng(seed)

    def name(self, base):
        self.k += 1
        return "%s_%d" % (base, self.k)

    def init(self, base, arr):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def ints(self, base, vals):
        return self.init(base, np.array(vals, dtype=np.int64))

    def const_ints(self, vals):
        """A Constant node with value_ints (torchlib's op.Constant(value_ints=...))."""
        out = self.name("const")
        self.nodes.append(helper.make_node("Constant", [], [out], value_ints=list(vals)))
        return out

    def const_tensor(self, arr):
        out = self.name("const")
        self.nodes.append(helper.make_node("Constant", [], [out], value=numpy_helper.from_array(np.asarray(arr))))
        return out

    def op(self, op, ins, n_out=1, **attrs):
        outs = [self.name(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, ins, outs, name=self.name("n_" + op), **attrs))
        return outs[0] if n_out == 1 else outs

    def weight(self, *shape):
        return self.init("w", (self.rng.standard_normal(shape) * 0.2).astype(np.float32))

    def linear(self, x, k, n):
        return self.op("Add", [self.op("MatMul", [x, self.weight(k, n)]), self.weight(n)])

    def layer_norm(self, x):
        g = self.init("ln_g", (1 + 0.1 * self.rng.standard_normal(HID)).astype(np.float32))
        b = self.init("ln_b", (0.1 * self.rng.standard_normal(HID)).astype(np.float32))
        return self.op("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-12)


def split_heads(g, x):
    """[b, s, HID] -> [b, HEADS, s, HD]: the view shape built from Shape(x)[0:2] at run time."""
    sh = g.op("Shape", [x])
    b = g.op("Gather", [sh, g.const_tensor(np.array(0, dtype=np.int64))], axis=0)
    s = g.op("Gather", [sh, g.ints("i1", 1)], axis=0)
    shape = g.op("Concat", [g.op("Unsqueeze", [b, g.ints("ax0", [0])]), g.op("Unsqueeze", [s, g.ints("ax0", [0])]),
                            g.ints("hd", [HEADS, HD])], axis=0)
    return g.op("Transpose", [g.op("Reshape", [x, shape])], perm=[0, 2, 1, 3])


def sdpa(g, q, k, v, mask):
    """torchlib's aten_scaled_dot_product_attention with a float mask."""
    ks = g.op("Shape", [k])
    last = g.op("Slice", [ks, g.const_ints([-1]), g.const_ints([2**63 - 1])])
    second = g.op("Slice", [ks, g.const_ints([-2]), g.const_ints([-1])])
    first = g.op("Slice", [ks, g.const_ints([0]), g.const_ints([-2])])
    k3 = g.op("Reshape", [k, g.op("Concat", [g.const_ints([-1]), second, last], axis=0)])
    k3t = g.op("Transpose", [k3], perm=[0, 2, 1])
    kt = g.op("Reshape", [k3t, g.op("Concat", [first, last, second], axis=0)])
    qs = g.op("Shape", [q])
    e = g.op("Cast", [g.op("Slice", [qs, g.const_ints([-1]), g.ints("big", [2**63 - 1])])], to=TP.FLOAT)
    scale = g.op("Div", [g.init("one", np.array(1.0, dtype=np.float32)), g.op("Sqrt", [e])])
    root = g.op("Sqrt", [scale])
    w = g.op("MatMul", [g.op("Mul", [q, root]), g.op("Mul", [kt, root])])
    w = g.op("Softmax", [g.op("Add", [w, mask])], axis=-1)
    # a fully masked row is 0/0 after Softmax: torchlib's bool-mask attention zeroes NaNs
    w = g.op("Where", [g.op("IsNaN", [w]), g.init("zero_f", np.array(0.0, dtype=np.float32)), w])
    return g.op("MatMul", [w, v])


def model(dynamic):
    g = G(1)
    dims = ["batch", "seq"] if dynamic else [2, 16]
    ids = helper.make_tensor_value_info("input_ids", TP.INT64, dims)
    am = helper.make_tensor_value_info("attention_mask", TP.INT64, dims)
    tt = helper.make_tensor_value_info("token_type_ids", TP.INT64, dims)
    # embeddings: position ids sliced from a buffer by the sequence length taken at run time
    sh = g.op("Shape", ["input_ids"])
    seq = g.op("Slice", [sh, g.ints("one", [1]), g.ints("two", [2])])
    pos_ids = g.op("Slice", [g.ints("pos_buf", np.arange(MAXPOS).reshape(1, MAXPOS)), g.ints("z", [0]), seq,
                             g.ints("ax1", [1])])
    x = g.op("Add", [g.op("Gather", [g.weight(VOCAB, HID), "input_ids"]),
                     g.op("Gather", [g.weight(2, HID), "token_type_ids"])])
    x = g.op("Add", [x, g.op("Gather", [g.weight(MAXPOS, HID), pos_ids])])
    x = g.layer_norm(x)
    if dynamic:
        # extended mask: [b, s] -> [b, 1, s, s] expanded through a shape built from Shape(input_ids)
        m = g.op("Unsqueeze", [g.op("Unsqueeze", ["attention_mask", g.ints("ax1", [1])]), g.ints("ax2", [2])])
        bs = g.op("Slice", [sh, g.ints("z", [0]), g.ints("one", [1])])
        ex = g.op("Concat", [bs, g.ints("o", [1]), seq, seq], axis=0)
        m = g.op("Cast", [g.op("Expand", [m, ex])], to=TP.FLOAT)
        inv = g.op("Sub", [g.init("one_f", np.array(1.0, dtype=np.float32)), m])
        mask = g.op("Where", [g.op("Cast", [inv], to=TP.BOOL), g.init("minf", np.array(-3.4e38, dtype=np.float32)),
                              inv])
    # the padding mask as transformers' masking utilities index it (mask[batch_idx, kv_idx], a GatherND whose
    # indices are built from Range over the run-time batch and sequence lengths), then And with a [s, 1] mask
    bsz = g.op("Squeeze", [g.op("Slice", [sh, g.ints("z", [0]), g.ints("one", [1])]), g.ints("ax0", [0])])
    slen = g.op("Squeeze", [seq, g.ints("ax0", [0])])
    zero, one = g.init("zero", np.array(0, dtype=np.int64)), g.init("one", np.array(1, dtype=np.int64))
    bi = g.op("Reshape", [g.op("Range", [zero, bsz, one]), g.ints("shp", [-1, 1, 1, 1])])
    ki = g.op("Reshape", [g.op("Range", [zero, slen, one]), g.ints("shp", [1, 1, 1, -1])])
    full = g.op("Concat", [g.op("Unsqueeze", [bsz, g.ints("ax0", [0])]), g.ints("o", [1, 1]), seq], axis=0)
    idx = g.op("Concat", [g.op("Unsqueeze", [g.op("Expand", [bi, full]), g.ints("ax", [-1])]),
                          g.op("Unsqueeze", [g.op("Expand", [ki, full]), g.ints("ax", [-1])])], axis=-1)
    if not dynamic:  # a static export folds the indices into a constant
        bb, kk = np.meshgrid(np.arange(2), np.arange(16), indexing="ij")
        idx = g.init("idx", np.stack([bb, kk], -1).reshape(2, 1, 1, 16, 2).astype(np.int64))
    pad = g.op("GatherND", [g.op("Cast", ["attention_mask"], to=TP.BOOL), idx])
    qcol = g.op("ConstantOfShape", [g.op("Concat", [g.ints("o", [1, 1]), seq, g.ints("o", [1])], axis=0)],
                value=numpy_helper.from_array(np.array([1], dtype=np.bool_)))
    allowed = g.op("And", [pad, qcol])
    bool_mask = g.op("Where", [allowed, g.init("zero_f", np.array(0.0, dtype=np.float32)),
                               g.init("ninf", np.array(-np.inf, dtype=np.float32))])
    if not dynamic:
        mask = bool_mask
    for _ in range(LAYERS):
        q = split_heads(g, g.linear(x, HID, HID))
        k = split_heads(g, g.linear(x, HID, HID))
        v = split_heads(g, g.linear(x, HID, HID))
        a = g.op("Transpose", [sdpa(g, q, k, v, mask)], perm=[0, 2, 1, 3])
        ash = g.op("Shape", [a])
        a = g.op("Reshape", [a, g.op("Concat", [g.op("Slice", [ash, g.ints("z", [0]), g.ints("two", [2])]),
                                                g.ints("hid", [HID])], axis=0)])
        x = g.layer_norm(g.op("Add", [g.linear(a, HID, HID), x]))
        h = g.linear(x, HID, FFN)
        erf = g.op("Erf", [g.op("Div", [h, g.init("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))])])
        h = g.op("Mul", [g.op("Mul", [h, g.init("half", np.array(0.5, dtype=np.float32))]),
                         g.op("Add", [erf, g.init("one_f", np.array(1.0, dtype=np.float32))])])
        x = g.layer_norm(g.op("Add", [g.linear(h, FFN, HID), x]))
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    first = g.op("Gather", [x, g.const_tensor(np.array(0, dtype=np.int64))], axis=1)
    g.nodes.append(helper.make_node("Tanh", [g.linear(first, HID, HID)], ["pooler_output"]))
    outs = [helper.make_tensor_value_info("last_hidden_state", TP.FLOAT, dims + [HID]),
            helper.make_tensor_value_info("pooler_output", TP.FLOAT, dims[:1] + [HID])]
    graph = helper.make_graph(g.nodes, "bert_like", [ids, am, tt], outs, g.inits)
    mdl = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], producer_name="make_bert_like")
    mdl.ir_version = 10
    onnx.checker.check_model(mdl, full_check=True)
    return mdl


if __name__ == "__main__":
    for dyn, fn in ((False, "bert_like_static.onnx"), (True, "bert_like_dynamic.onnx")):
        onnx.save(model(dyn), os.path.join(HERE, fn))
