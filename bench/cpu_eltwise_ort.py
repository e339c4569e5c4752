#!/usr/bin/env python3
"""onnxruntime (CPU provider) side of bench/cpu_eltwise.c: the same single-node graphs on the same data, median of
21 runs after a warm-up. Usage: cpu_eltwise_ort.py [threads] (default 1)."""
import sys
import time

import numpy as np
import onnxruntime as ort
from onnx import TensorProto as TP
from onnx import helper

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 1


def bench(name, op, ins, attrs=None, opset=20, out_t=None):
    inputs = [helper.make_tensor_value_info(f"x{i}", helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
              for i, a in enumerate(ins)]
    node = helper.make_node(op, [f"x{i}" for i in range(len(ins))], ["y"], **(attrs or {}))
    out = helper.make_tensor_value_info("y", out_t or inputs[0].type.tensor_type.elem_type, None)
    model = helper.make_model(helper.make_graph([node], "g", inputs, [out]),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feed = {f"x{i}": a for i, a in enumerate(ins)}
    sess.run(None, feed)
    t = []
    for _ in range(21):
        t0 = time.perf_counter()
        sess.run(None, feed)
        t.append(time.perf_counter() - t0)
    print(f"{name:30s} {sorted(t)[10] * 1e3:9.3f} ms")


def main():
    print(f"onnxruntime {ort.__version__} elementwise, {THREADS} threads")
    n = 1 << 22
    a = (np.arange(n) * 7919 % 1000 / 500 - 1).astype(np.float32)
    b = a.copy()
    m = a.reshape(4096, 1024)
    r = a[:1024].copy()
    c = a[:4096].reshape(4096, 1).copy()
    s = np.array([a[0]], np.float32)
    bench("Add f32 same 4M", "Add", [a, b])
    bench("Add f32 [4096,1024]+[1024]", "Add", [m, r])
    bench("Add f32 [4096,1024]+[4096,1]", "Add", [m, c])
    bench("Mul f32 4M * scalar", "Mul", [a, s])
    bench("Add f16 same 4M", "Add", [a.astype(np.float16), b.astype(np.float16)])
    bench("Less f32 4M", "Less", [a, b], out_t=TP.BOOL)
    bench("Div f32 4M", "Div", [a, b])
    for op in ["Relu", "Sigmoid", "Tanh", "Exp", "Erf", "Sqrt", "Abs", "Gelu"]:
        bench(f"{op} f32 4M", op, [a])
    bench("Cast f32->f16 4M", "Cast", [a], {"to": TP.FLOAT16}, out_t=TP.FLOAT16)
    bench("Cast f32->i64 4M", "Cast", [a], {"to": TP.INT64}, out_t=TP.INT64)
    bench("Cast f16->f32 4M", "Cast", [a.astype(np.float16)], {"to": TP.FLOAT}, out_t=TP.FLOAT)
    bench("Cast i64->f32 4M", "Cast", [(a * 1000).astype(np.int64)], {"to": TP.FLOAT}, out_t=TP.FLOAT)
    bench("Where f32 4M", "Where", [a != 0, a, b], out_t=TP.FLOAT)
    bench("Clip f32 4M", "Clip", [a, s.reshape(()), s.reshape(())])
    bench("Sum 3 f32 4M", "Sum", [a, b, a])


if __name__ == "__main__":
    main()
