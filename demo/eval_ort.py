#!/usr/bin/env python3
"""Score digits_cnn.onnx on digits_test.bin with onnxruntime (the peer kiln's demo is compared against).

usage: eval_ort.py [model.onnx] [digits_test.bin]   (defaults: the files next to this script)
"""
import os
import struct
import sys
import time

import numpy as np

MAGIC = b"KDIG"


def read_test_set(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != MAGIC:
        raise ValueError(f"{path}: not a digits test set (bad magic)")
    version, n, c, h, w = struct.unpack_from("<5I", data, 4)
    if version != 1:
        raise ValueError(f"{path}: unsupported version {version}")
    off = 4 + 5 * 4
    count = n * c * h * w
    x = np.frombuffer(data, dtype="<f4", count=count, offset=off).reshape(n, c, h, w)
    y = np.frombuffer(data, dtype=np.uint8, count=n, offset=off + count * 4)
    return x, y


def evaluate(model_path, test_path):
    import onnxruntime as ort
    x, y = read_test_set(test_path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    for i in range(20):  # warm-up, as the C demo does
        sess.run(None, {in_name: x[i % len(x):i % len(x) + 1]})
    # One image per run, as the C demo does, so both see the same batch-1 graph and the latencies compare.
    preds = np.empty(len(x), dtype=np.int64)
    lat = np.empty(len(x))
    t_all = time.perf_counter()
    for i in range(len(x)):
        t = time.perf_counter()
        logits = sess.run(None, {in_name: x[i:i + 1]})[0]
        lat[i] = (time.perf_counter() - t) * 1e3
        preds[i] = int(np.argmax(logits))
    t_all = time.perf_counter() - t_all
    correct = int((preds == y).sum())
    lat.sort()
    p99 = lat[min(len(lat), int(np.ceil(0.99 * len(lat)))) - 1]
    print(f"onnxruntime {ort.__version__} accuracy on held-out test: {correct}/{len(y)} = "
          f"{100.0 * correct / len(y):.2f}%")
    print(f"onnxruntime batch 1 (1 thread): latency per image median {np.median(lat):.4f} ms, p99 {p99:.4f} ms, "
          f"min {lat[0]:.4f} ms; throughput {len(x) / t_all:.0f} images/s")
    return correct / len(y)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "digits_cnn.onnx")
    test = sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "digits_test.bin")
    evaluate(model, test)
