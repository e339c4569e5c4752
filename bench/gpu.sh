#!/bin/bash
# Everything kiln measures on a GPU machine, in one go. Run from the repository root:
#
#   bench/gpu.sh --kiln DIR --out DIR [--parts export,models,conformance,backend-ops,tactics] [--commit SHA]
#                [--models resnet50,bert-base] [--models-dir DIR] [--iterations N] [--warmup W] [--compile-budget S] [--time-limit S]
#
# DIR (--kiln) holds the binaries built on the development machine: kiln, kiln-gpu-time (bench/gpu_time.c) and,
# for the backend-ops part, backend_ops; optionally a file COMMIT with the commit they were built from (the GPU
# machine may have no git history; --commit wins). Parts (default export,models):
#   export       bench/gpu_export.py: ResNet-50 and BERT-base exported with this machine's torch -> --models-dir
#                (default OUT/models; ~560 MB of weights: keep it out of OUT where OUT is copied back)
#   models       bench/gpu_bench.py: kiln build --device gpu, accuracy vs onnxruntime CPU, kiln / torch eager /
#                torch.compile / onnxruntime latency -> OUT/gpu-models.json and OUT/gpu-models.txt
#   conformance  tests/conformance/run_conformance.py on the GPU (kiln run picks the GPU when one is present)
#                -> OUT/conformance.json, OUT/conformance.txt
#   backend-ops  tests/backend-ops/gpu-run.sh -> OUT/backend-ops/
#   tactics      each exported model built three ways by this kiln and timed with kiln-gpu-time: cuDNN algorithms
#                timed at build time (the default), untimed (KILN_PASSES_OFF=tactics: cuDNN's heuristic order), and
#                timed under a 1 MiB workspace limit -> OUT/tactics-MODEL-VARIANT.{json,log}, OUT/tactics.txt
# cuDNN and cuBLASLt may exist only as Python wheels there; their folders go first on LD_LIBRARY_PATH.
set -u
here=$(cd "$(dirname "$0")" && pwd)
kiln_dir= out= models_dir= parts=export,models commit= models=resnet50,bert-base iterations=200 warmup=20 compile_budget=90
time_limit=600
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit "$1"; }
while [ $# -gt 0 ]; do
    case $1 in
        --kiln) kiln_dir=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --parts) parts=$2; shift 2 ;;
        --commit) commit=$2; shift 2 ;;
        --models) models=$2; shift 2 ;;
        --models-dir) models_dir=$2; shift 2 ;;
        --iterations) iterations=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --compile-budget) compile_budget=$2; shift 2 ;;
        --time-limit) time_limit=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "gpu.sh: unknown argument '$1'" >&2; usage 2 ;;
    esac
done
[ -n "$kiln_dir" ] && [ -n "$out" ] || { echo "gpu.sh: --kiln and --out are required" >&2; usage 2; }
kiln_dir=$(cd "$kiln_dir" && pwd) || exit 2
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 2
[ -n "$models_dir" ] || models_dir=$out/models
mkdir -p "$models_dir" && models_dir=$(cd "$models_dir" && pwd) || exit 2
[ -z "$commit" ] && [ -f "$kiln_dir/COMMIT" ] && commit=$(head -c 64 "$kiln_dir/COMMIT" | tr -d '\n')
[ -z "$commit" ] && commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
has_part() { case ",$parts," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

wheels=/opt/torch/.venv/lib/python3.12/site-packages/nvidia
libs=$wheels/cudnn/lib:$wheels/cu13/lib:/usr/local/cuda/lib64
export LD_LIBRARY_PATH="$libs:${LD_LIBRARY_PATH:-}"

# The python with the peers: plain python3 when it has torch, else the torch venv.
py=
for c in python3 /opt/torch/.venv/bin/python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import torch, onnx, onnxruntime, numpy' 2>/dev/null; then py=$c; break; fi
done
[ -n "$py" ] || { echo "gpu.sh: no python3 with torch, onnx, onnxruntime and numpy" >&2; exit 2; }

start=$(date +%s)
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    echo "kiln commit $commit; python $py ($("$py" -c 'import torch; print("torch", torch.__version__)'))"
    "$kiln_dir/kiln" --version
} 2>&1 | tee "$out/env.txt"
status=0

if has_part export; then
    echo "== export"
    "$py" "$here/gpu_export.py" --out "$models_dir" --models "$models" 2>&1 | tee "$out/export.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

if has_part models; then
    echo "== models"
    left=$((time_limit - ($(date +%s) - start)))
    "$py" "$here/gpu_bench.py" --kiln "$kiln_dir/kiln" --timer "$kiln_dir/kiln-gpu-time" \
        --models-dir "$models_dir" --models "$models" --out "$out/gpu-models.json" --commit "$commit" \
        --iterations "$iterations" --warmup "$warmup" --compile-budget "$compile_budget" --time-limit "$left" \
        2> "$out/gpu-models.log" | tee "$out/gpu-models.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    tail -n 40 "$out/gpu-models.log"
fi

if has_part conformance; then
    echo "== conformance"
    root=$(cd "$here/.." && pwd)
    [ -f "$root/tests/conformance/run_conformance.py" ] || root=$(pwd)
    "$py" "$root/tests/conformance/run_conformance.py" --kiln "$kiln_dir/kiln" --cases "${TMPDIR:-/tmp}/kiln-node-tests" \
        --tarball "$root/tests/data/onnx-node-tests-1.23.tar.xz" --report "$out/conformance.json" -j 8 \
        > "$out/conformance.txt" 2>&1
    echo "conformance: exit $?"
    tail -n 30 "$out/conformance.txt"
fi

if has_part backend-ops; then
    echo "== backend-ops"
    root=$(cd "$here/.." && pwd)
    [ -f "$root/tests/backend-ops/gpu-run.sh" ] || root=$(pwd)
    bash "$root/tests/backend-ops/gpu-run.sh" "$kiln_dir/backend_ops" "$out/backend-ops"
fi
if has_part tactics; then
    echo "== tactics"
    for m in ${models//,/ }; do
        for v in timed untimed ws1mib; do
            plan=$models_dir/$m.$v.plan
            case $v in
                timed) cmd=("$kiln_dir/kiln" build "$models_dir/$m.onnx" -o "$plan" --device gpu -v -v) ;;
                untimed) cmd=(env KILN_PASSES_OFF=tactics "$kiln_dir/kiln" build "$models_dir/$m.onnx" -o "$plan" --device gpu -v -v) ;;
                ws1mib) cmd=("$kiln_dir/kiln" build "$models_dir/$m.onnx" -o "$plan" --device gpu --workspace 1 -v -v) ;;
            esac
            t0=$(date +%s%N)
            if ! "${cmd[@]}" > "$out/tactics-$m-$v.log" 2>&1; then
                echo "$m $v: build failed: $(tail -n 2 "$out/tactics-$m-$v.log")" | tee -a "$out/tactics.txt"
                status=1
                continue
            fi
            secs=$(( ($(date +%s%N) - t0) / 1000000 ))e-3
            if "$kiln_dir/kiln-gpu-time" "$plan" --iterations "$iterations" --warmup "$warmup" --profile 10 \
                > "$out/tactics-$m-$v.json" 2>> "$out/tactics-$m-$v.log"; then
                "$py" -c 'import json, sys; d = json.load(open(sys.argv[1])); c = d["compute_ms"]
print("%s %s: build %.1f s, compute median %.3f ms (min %.3f, p90 %.3f); %s" % (sys.argv[2], sys.argv[3],
      float(sys.argv[4]), c["median"], c["min"], c["p90"], sys.argv[5]))' "$out/tactics-$m-$v.json" "$m" "$v" \
                    "$secs" "$(grep -o 'tactics: [^;]*\|kernel scratch: [0-9]* bytes' "$out/tactics-$m-$v.log" | tr '\n' ' ')" \
                    | tee -a "$out/tactics.txt"
            else
                echo "$m $v: timing failed: $(tail -n 2 "$out/tactics-$m-$v.log")" | tee -a "$out/tactics.txt"
                status=1
            fi
        done
    done
fi

echo "gpu.sh: done in $(( $(date +%s) - start )) s, results in $out"
exit $status
