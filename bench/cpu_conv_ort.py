"""onnxruntime timings for the layer shapes of bench/cpu_conv.c (the CPU peer), same output format.
Usage: python3 bench/cpu_conv_ort.py [threads] [--cputime]   (--cputime: thread CPU time, needs threads == 1)"""
import sys, time
import numpy as np
import onnx
import onnx.helper as h
import onnxruntime as ort

LAYERS = [
    ("resnet50 conv1 7x7/2", 3, 64, 224, 7, 2, 1),
    ("resnet50 l1 1x1 64->64", 64, 64, 56, 1, 1, 1),
    ("resnet50 l1 3x3 64->64", 64, 64, 56, 3, 1, 1),
    ("resnet50 l1 1x1 64->256", 64, 256, 56, 1, 1, 1),
    ("resnet50 l2 3x3/2 128->128", 128, 128, 56, 3, 2, 1),
    ("resnet50 l2 1x1 128->512", 128, 512, 28, 1, 1, 1),
    ("resnet50 l3 3x3 256->256", 256, 256, 14, 3, 1, 1),
    ("resnet50 l3 1x1 1024->256", 1024, 256, 14, 1, 1, 1),
    ("resnet50 l4 3x3 512->512", 512, 512, 7, 3, 1, 1),
    ("resnet50 l4 1x1 512->2048", 512, 2048, 7, 1, 1, 1),
    ("mobilenetv2 dw 3x3 144", 144, 144, 56, 3, 1, 144),
    ("mobilenetv2 dw 3x3/2 144", 144, 144, 56, 3, 2, 144),
    ("mobilenetv2 dw 3x3 960", 960, 960, 7, 3, 1, 960),
]

threads = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 1
clock = time.thread_time if "--cputime" in sys.argv else time.perf_counter
print(f"onnxruntime {ort.__version__}, {threads} threads")
for name, c, m, hw, k, s, g in LAYERS:
    p = k // 2
    w = np.random.rand(m, c // g, k, k).astype(np.float32)
    b = np.random.rand(m).astype(np.float32)
    node = h.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, group=g)
    graph = h.make_graph([node], "g", [h.make_tensor_value_info("x", 1, [1, c, hw, hw])],
                         [h.make_tensor_value_info("y", 1, None)],
                         [onnx.numpy_helper.from_array(w, "w"), onnx.numpy_helper.from_array(b, "b")])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(h.make_model(graph, opset_imports=[h.make_opsetid("", 13)]).SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    x = np.random.rand(1, c, hw, hw).astype(np.float32)
    sess.run(None, {"x": x})
    oh = (hw + 2 * p - k) // s + 1
    flop = 2.0 * m * (c // g) * k * k * oh * oh
    reps = int(1e8 / flop) + 1
    best = 1e30
    for _ in range(25):
        t0 = clock()
        for _ in range(reps):
            sess.run(None, {"x": x})
        best = min(best, (clock() - t0) / reps)
    print(f"{name:30s} {best * 1e3:8.3f} ms  {flop / best * 1e-9:7.2f} GFLOP/s")
