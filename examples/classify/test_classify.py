#!/usr/bin/env python3
"""End-to-end test of kiln-classify on the CPU backend.

Generates a tiny classifier (Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm, fixed-seed weights) with onnx,
runs kiln-classify on images from tests/models/images, and checks its top-5 (classes, softmax probabilities,
labels) against an independent numpy computation: the reference decode of each image (the .ppm written next to
it), bilinear resize with half-pixel centers, normalization and the network itself, all in float64. Then runs the
saved plan on all images at once and checks that it prints the same results.

usage: test_classify.py --classify PATH/kiln-classify --images DIR --work DIR [--backend cpu]
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 24
CLASSES = 10
MEAN = np.array([0.5, 0.4, 0.3])
STD = np.array([0.2, 0.25, 0.3])
IMAGES = ["jpeg_420.jpg", "png_rgba_interlaced.png", "bmp_pal8.bmp", "webp_lossy.webp"]


def make_model(path):
    rng = np.random.RandomState(20261125)
    w = (rng.randn(8, 3, 3, 3) * 0.5).astype(np.float32)
    b = (rng.randn(8) * 0.1).astype(np.float32)
    fc = (rng.randn(8, CLASSES) * 2.0).astype(np.float32)
    fc_b = (rng.randn(CLASSES) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "w", "b"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc", "fc_b"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_classifier",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, CLASSES])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"), numpy_helper.from_array(fc, "fc"),
         numpy_helper.from_array(fc_b, "fc_b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return w.astype(np.float64), b.astype(np.float64), fc.astype(np.float64), fc_b.astype(np.float64)


def read_ppm(path):
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        fields.append(data[start:pos])
    assert fields[0] == b"P6" and fields[3] == b"255", path
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[pos + 1:pos + 1 + w * h * 3], np.uint8).reshape(h, w, 3)


def resize_axis(n_src, n_dst):
    """Interpolation matrix [n_dst, n_src] of bilinear sampling with half-pixel centers, clamped at the edges."""
    m = np.zeros((n_dst, n_src))
    for d in range(n_dst):
        s = min(max((d + 0.5) * n_src / n_dst - 0.5, 0.0), n_src - 1.0)
        i0 = int(np.floor(s))
        i1 = min(i0 + 1, n_src - 1)
        m[d, i0] += 1 - (s - i0)
        m[d, i1] += s - i0
    return m


def reference(pixels, w, b, fc, fc_b):
    h_src, w_src, _ = pixels.shape
    ry, rx = resize_axis(h_src, SIZE), resize_axis(w_src, SIZE)
    img = np.einsum("yh,hwc,xw->cyx", ry, pixels.astype(np.float64), rx)
    x = (img / 255.0 - MEAN[:, None, None]) / STD[:, None, None]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out_hw = SIZE // 2
    conv = np.zeros((8, out_hw, out_hw))
    for i in range(out_hw):
        for j in range(out_hw):
            patch = xp[:, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
            conv[:, i, j] = np.tensordot(w, patch, axes=([1, 2, 3], [0, 1, 2])) + b
    feat = np.maximum(conv, 0).mean(axis=(1, 2))
    logits = feat @ fc + fc_b
    p = np.exp(logits - logits.max())
    return logits, p / p.sum()


LINE = re.compile(r"^\s+#(\d+) class (\d+) p=([0-9.eE+-]+) logit=([0-9.eE+-]+) ?(.*)$")


def parse_blocks(text):
    """{image path: [(class, p, logit, label), ...]} from kiln-classify's output."""
    blocks, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^(\S.*): \d+x\d+ -> ", line)
        if m:
            current = blocks.setdefault(m.group(1), [])
            continue
        m = LINE.match(line)
        if m and current is not None:
            current.append((int(m.group(2)), float(m.group(3)), float(m.group(4)), m.group(5)))
    return blocks


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--classify", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--backend", default="cpu")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    model_path = os.path.join(a.work, "tiny_classifier.onnx")
    plan_path = os.path.join(a.work, "tiny_classifier.plan")
    labels_path = os.path.join(a.work, "labels.txt")
    weights = make_model(model_path)
    labels = ["label %d %s" % (i, "abcdefghij"[i] * 3) for i in range(CLASSES)]
    with open(labels_path, "w") as f:
        f.write("\n".join(labels) + "\n")
    common = ["--labels", labels_path, "--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD))]

    failures, checked, results = [], [], {}
    first = True
    for name in IMAGES:
        path = os.path.join(a.images, name)
        cmd = [a.classify, "--backend", a.backend, "--model", model_path] + common + [path]
        if first:
            cmd[1:1] = ["--save-plan", plan_path]
        r = run(cmd)
        if r.returncode != 0:
            if "built without" in r.stderr:
                print("note: %s skipped: this kiln cannot decode it" % name)
                continue
            failures.append("%s: kiln-classify exited %d" % (name, r.returncode))
            continue
        first = False
        got = parse_blocks(r.stdout).get(path, [])
        logits, probs = reference(read_ppm(os.path.splitext(path)[0] + ".ppm"), *weights)
        order = np.argsort(-probs)
        want = [int(c) for c in order[:5]]
        margin = probs[order[0]] - probs[order[1]]
        print("reference %s: top-5 %s, p %s (top-1 margin %.4f)" % (name, want, np.round(probs[order[:5]], 6),
                                                                      margin))
        if [g[0] for g in got] != want:
            failures.append("%s: kiln top-5 %s, reference %s" % (name, [g[0] for g in got], want))
            continue
        for cls, p, logit, label in got:
            if abs(p - probs[cls]) > 2e-4 or abs(logit - logits[cls]) > 1e-3:
                failures.append("%s: class %d p %.6f logit %.6f, reference %.6f %.6f" % (name, cls, p, logit,
                                                                                         probs[cls], logits[cls]))
            if label != labels[cls]:
                failures.append("%s: class %d printed label '%s', want '%s'" % (name, cls, label, labels[cls]))
        checked.append(path)
        results[path] = got

    if len(checked) < 2:
        failures.append("only %d image(s) could be checked" % len(checked))
    elif os.path.exists(plan_path):
        # the saved plan, every image in one run: the same answers
        r = run([a.classify, "--plan", plan_path] + common + checked)
        again = parse_blocks(r.stdout)
        if r.returncode != 0:
            failures.append("--plan run exited %d" % r.returncode)
        for path in checked:
            if again.get(path) != results[path]:
                failures.append("%s: --plan run printed %s, --model run %s" % (path, again.get(path), results[path]))
        # usage errors exit 2 with a message, never crash
        for bad in ([a.classify], [a.classify, "--plan", plan_path], [a.classify, "--plan", plan_path, "--std",
                                                                       "1,0,1", checked[0]],
                    [a.classify, "--plan", plan_path, os.path.join(a.work, "missing.jpg")],
                    [a.classify, "--plan", plan_path, model_path]):
            r = run(bad)
            if r.returncode != 2 or not r.stderr.strip():
                failures.append("%s: exit %d, stderr '%s' (want 2 and a message)" % (bad[1:], r.returncode,
                                                                                     r.stderr.strip()))
    for f in failures:
        print("FAIL: " + f)
    if failures:
        return 1
    print("PASS: kiln-classify agrees with the numpy reference on %d image(s)" % len(checked))
    return 0


if __name__ == "__main__":
    sys.exit(main())
