"""onnxruntime timings for the shapes of bench/cpu_matmul.c (MatMul with an initializer weight).
Usage: python3 bench/cpu_matmul_ort.py [threads] [--cputime]"""
import sys, time
import numpy as np
import onnx
import onnx.helper as h
import onnxruntime as ort

SHAPES = [("bert-base qkv bs1", 1, 128, 768, 2304), ("bert-base attn out bs1", 1, 128, 768, 768),
          ("bert-base ffn up bs1", 1, 128, 768, 3072), ("bert-base ffn down bs1", 1, 128, 3072, 768),
          ("bert-base ffn up bs8", 8, 128, 768, 3072), ("resnet50 fc bs1", 1, 1, 2048, 1000)]
threads = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1
clock = time.thread_time if "--cputime" in sys.argv else time.perf_counter
print(f"onnxruntime {ort.__version__}, {threads} threads")
for name, b, s, k, n in SHAPES:
    w = np.random.rand(k, n).astype(np.float32)
    g = h.make_graph([h.make_node("MatMul", ["x", "w"], ["y"])], "g", [h.make_tensor_value_info("x", 1, [b, s, k])],
                     [h.make_tensor_value_info("y", 1, None)], [onnx.numpy_helper.from_array(w, "w")])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]).SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    x = np.random.rand(b, s, k).astype(np.float32)
    sess.run(None, {"x": x})
    flop = 2.0 * b * s * k * n
    reps = int(1e8 / flop) + 1
    best = 1e30
    for _ in range(25):
        t0 = clock()
        for _ in range(reps):
            sess.run(None, {"x": x})
        best = min(best, (clock() - t0) / reps)
    print(f"{name:26s} M={b * s:<5d} N={n:<5d} K={k:<5d} {best * 1e3:8.3f} ms  {flop / best * 1e-9:7.2f} GFLOP/s")
