#!/usr/bin/env python3
"""Train the demo CNN on scikit-learn's 8x8 digits and export it for kiln.

Writes (next to this script unless --out-dir is given):
  digits_cnn.onnx   the trained model, opset 17, input "input" [batch, 1, 8, 8] float32 (batch is dynamic),
                    output "logits" [batch, 10]
  digits_test.bin   the held-out test split in the format examples/digits/digits.c reads (see write_test_set)

Needs PyTorch and scikit-learn (Debian: apt-get install python3-torch python3-sklearn). When onnxruntime is
importable it also scores the exported file; otherwise run eval_ort.py with an interpreter that has it.
"""
import argparse
import os
import random
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 20240501
TEST_FRACTION = 0.2
# Pixel values in load_digits are 0..16; scale to 0..1 then standardize with fixed constants so the C side can
# reproduce the preprocessing without the training statistics.
PIXEL_SCALE = 16.0
MEAN = 0.3
STD = 0.4

MAGIC = b"KDIG"
FORMAT_VERSION = 1


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16x4x4
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32x2x2
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def preprocess(images):
    """images: uint8-valued array [n, 64] in 0..16 -> float32 [n, 1, 8, 8]."""
    x = images.astype(np.float32) / PIXEL_SCALE
    x = (x - MEAN) / STD
    return x.reshape(-1, 1, 8, 8).astype(np.float32)


def write_test_set(path, x, y):
    """Little-endian layout:
         char[4] "KDIG", u32 version (1), u32 count, u32 channels, u32 height, u32 width,
         f32 images[count][channels][height][width] (already normalized), u8 labels[count]
    """
    n, c, h, w = x.shape
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<5I", FORMAT_VERSION, n, c, h, w))
        f.write(np.ascontiguousarray(x, dtype="<f4").tobytes())
        f.write(np.ascontiguousarray(y, dtype=np.uint8).tobytes())


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # deterministic float reductions across machines with different core counts


def accuracy(logits, labels):
    return float((np.argmax(logits, axis=1) == labels).mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()

    seed_everything(SEED)
    digits = load_digits()
    x_all = preprocess(digits.data)
    y_all = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x_all, y_all, test_size=TEST_FRACTION, random_state=SEED, stratify=y_all)
    print(f"digits: {len(x_all)} images, train {len(x_tr)}, held-out test {len(x_te)}")

    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), args.batch_size):
            idx = perm[i:i + args.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if epoch % 10 == 9 or epoch == args.epochs - 1:
            print(f"epoch {epoch + 1:3d}  train loss {total / len(xt):.4f}")

    model.eval()
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(x_te)).numpy()
    torch_acc = accuracy(torch_logits, y_te)
    print(f"torch accuracy on held-out test: {torch_acc * 100:.2f}% ({len(y_te)} images)")

    os.makedirs(args.out_dir, exist_ok=True)
    onnx_path = os.path.join(args.out_dir, "digits_cnn.onnx")
    test_path = os.path.join(args.out_dir, "digits_test.bin")
    torch.onnx.export(
        model, torch.zeros(1, 1, 8, 8), onnx_path, opset_version=17,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=True)
    write_test_set(test_path, x_te, y_te)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes)")
    print(f"wrote {test_path} ({os.path.getsize(test_path)} bytes)")

    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("onnxruntime not importable here; score the export with: python3 eval_ort.py", file=sys.stderr)
        return 0
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from eval_ort import evaluate
    evaluate(onnx_path, test_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
