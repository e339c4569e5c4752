#!/bin/bash
# One batch of GPU checks for the pre-processing kernel and the sample apps, run on a GPU machine from a folder
# holding: bins.tar.xz (kiln-classify, kiln-digits, test_preprocess, preprocess_gpu, stripped), digits_cnn.onnx,
# digits_test.bin, test_classify.py, images/ (test images with their .ppm reference decodes), big.jpg.
#   gpu-check.sh OUTDIR
# cuDNN and cuBLASLt may only exist as Python wheels there; their folders go on LD_LIBRARY_PATH.
set -u
out=${1:-out}
mkdir -p "$out"
cd "$(dirname "$0")"
w=/opt/torch/.venv/lib/python3.12/site-packages/nvidia
export LD_LIBRARY_PATH=$w/cudnn/lib:$w/cu13/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
tar xJf bins.tar.xz
py=python3
$py -c 'import onnx, numpy' 2>/dev/null || py=/opt/torch/.venv/bin/python3
work=$(mktemp -d)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
step() { printf '\n===== %s\n' "$*"; }

step "preprocess_gpu (kernel vs CPU reference, seed 20261125 then a fresh seed)"
timeout 60 ./preprocess_gpu 20261125; echo "rc=$?"
timeout 60 ./preprocess_gpu | grep -E '^(seed|FAIL|preprocess-gpu)'; echo "rc=$?"
step "test_preprocess (device helpers with a GPU)"
timeout 30 ./test_preprocess; echo "rc=$?"

step "kiln-digits, CPU backend"
timeout 90 ./kiln-digits --backend cpu --plan "$work/d-cpu.plan" digits_cnn.onnx digits_test.bin |
    grep -E 'engine:|accuracy|latency|stages'
step "kiln-digits, CUDA backend"
timeout 120 ./kiln-digits --backend cuda --plan "$work/d-gpu.plan" digits_cnn.onnx digits_test.bin |
    grep -vE '^  layer|^  \[kiln'; echo "rc=${PIPESTATUS[0]}"

step "kiln-classify tiny classifier: CUDA vs numpy, CPU vs numpy"
timeout 120 $py test_classify.py --classify ./kiln-classify --images images --work "$work/gpu" --backend cuda |
    tail -n 60; echo "rc=${PIPESTATUS[0]}"
timeout 120 $py test_classify.py --classify ./kiln-classify --images images --work "$work/cpu" --backend cpu |
    grep -E '^(PASS|FAIL)'
imgs="images/jpeg_420.jpg images/png_rgba_interlaced.png images/bmp_pal8.bmp"
args="--labels $work/gpu/labels.txt --mean 0.5,0.4,0.3 --std 0.2,0.25,0.3"
./kiln-classify --plan "$work/gpu/tiny_classifier.plan" $args $imgs > "$out/tiny-gpu.txt" 2>&1
./kiln-classify --plan "$work/cpu/tiny_classifier.plan" $args $imgs > "$out/tiny-cpu.txt" 2>&1
echo "top-5 lines, CPU plan vs GPU plan:"
diff <(grep '#' "$out/tiny-cpu.txt") <(grep '#' "$out/tiny-gpu.txt") && echo "identical"
grep -E 'engine|times' "$out/tiny-gpu.txt"

step "compute-sanitizer memcheck: preprocess_gpu, kiln-classify on the GPU"
timeout 150 /usr/local/cuda/bin/compute-sanitizer --tool memcheck ./preprocess_gpu 7 2>&1 | tail -n 4
timeout 60 /usr/local/cuda/bin/compute-sanitizer --tool memcheck ./kiln-classify --plan "$work/gpu/tiny_classifier.plan" \
    $args images/jpeg_420.jpg 2>&1 | tail -n 3

step "ResNet-50 (torchvision, random weights): kiln-classify CUDA and CPU vs torch on big.jpg (1920x1080)"
timeout 150 $py - "$work" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet50(weights=None).eval()
torch.onnx.export(m, torch.randn(1, 3, 224, 224), sys.argv[1] + "/r50.onnx", dynamo=False, opset_version=17,
                  input_names=["input"], output_names=["logits"])
import numpy as np
from PIL import Image
x = torch.from_numpy(np.array(Image.open("big.jpg").convert("RGB"))).permute(2, 0, 1)[None].float()
x = torch.nn.functional.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False, antialias=False)
mean = torch.tensor([0.485, 0.456, 0.406])[None, :, None, None]
std = torch.tensor([0.229, 0.224, 0.225])[None, :, None, None]
with torch.no_grad():
    p = torch.softmax(m((x / 255 - mean) / std)[0].double(), 0)
v, i = p.topk(5)
print("torch top-5:", " ".join("%d:%.6f" % (a, b) for a, b in zip(i.tolist(), v.tolist())))
PY
echo "rc=$?"
if [ -f "$work/r50.onnx" ]; then
    timeout 120 ./kiln-classify --backend cuda --model "$work/r50.onnx" --save-plan "$work/r50-gpu.plan" big.jpg big.jpg big.jpg
    echo "rc=$?"
    timeout 120 ./kiln-classify --backend cuda --fp16 --model "$work/r50.onnx" big.jpg big.jpg big.jpg | tail -n 8
    timeout 120 ./kiln-classify --backend cpu --model "$work/r50.onnx" big.jpg | tail -n 8
fi
rm -rf "$work"
