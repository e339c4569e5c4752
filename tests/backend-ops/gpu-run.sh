#!/bin/bash
# Runs the backend-ops test on a GPU machine and keeps everything it says.
#   gpu-run.sh BACKEND_OPS_BINARY OUTDIR [extra backend_ops arguments]
# cuDNN and cuBLASLt may only exist as Python wheels there: their library folders are found and added to
# LD_LIBRARY_PATH. When the full run dies or leaves the CUDA context broken, every op is rerun in its own process
# so one bad kernel cannot hide the results of the others.
set -u
bin=$1
out=$2
shift 2
mkdir -p "$out"
libs=/usr/local/cuda/lib64
for d in $(find /opt /usr/local /usr/lib -name 'libcudnn.so.9' -o -name 'libcublasLt.so.13' 2>/dev/null | xargs -r -n1 dirname | sort -u); do
    libs="$d:$libs"
done
export LD_LIBRARY_PATH="$libs:${LD_LIBRARY_PATH:-}"
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    ldd "$bin" | grep -E 'cudnn|cublas|not found'
} > "$out/env.txt" 2>&1
cat "$out/env.txt"

timeout 240 "$bin" --json "$out/backend-ops.json" "$@" > "$out/backend-ops.txt" 2>&1
rc=$?
echo "full run: exit $rc"
grep -E '^(FAIL|backend-ops:)' "$out/backend-ops.txt" | head -80
if [ $rc -ne 0 ] && [ $rc -ne 1 ] || grep -qE 'CUDA error|illegal|unspecified launch' "$out/backend-ops.txt"; then
    echo "isolating: one process per op"
    ops=$(dirname "$bin")/ops.txt  # from a dry run; else the ops the full run reached
    [ -f "$ops" ] || { awk '/^(PASS|FAIL) /{print $2}' "$out/backend-ops.txt" | sort -u > "$out/ops.txt"; ops=$out/ops.txt; }
    for op in $(cat "$ops"); do
        timeout 60 "$bin" --filter "$op" > "$out/op-$op.txt" 2>&1
        echo "$op: exit $? $(grep -c '^FAIL' "$out/op-$op.txt") failing"
    done
fi
exit 0
