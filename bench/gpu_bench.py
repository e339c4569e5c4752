#!/usr/bin/env python3
"""kiln FP32 GPU engines vs torch eager, torch.compile and onnxruntime (CPU), same ONNX files, same card, same run.

For each model exported by bench/gpu_export.py (the ONNX file, its inputs <model>.inputs.npz):
  1. `kiln build --device gpu`: build time, ONNX node count, placement (nodes on the GPU, shape computations on the
     host, CPU fallbacks, from the builder's log);
  2. onnxruntime (CPUExecutionProvider) on the saved inputs is the reference; kiln's GPU outputs (`kiln run
     --inputs-dir/--outputs-dir`) are checked against it with rtol 1e-3 and atol 1e-4 x max|reference| (so that
     near-zero elements of a deep network, whose absolute error is accumulation-order noise, do not dominate);
     max abs / max rel error are reported either way;
  3. kiln latency with kiln-gpu-time (bench/gpu_time.c): CUDA events on one stream, H2D of the inputs, the engine,
     D2H of the outputs, each timed separately per iteration after a warm-up (pinned host buffers); plus `kiln run
     --json` (its H2D / compute / D2H / end to end, host wall time, pageable buffers) and a per-op-type profile;
  4. torch eager FP32 on the GPU (TF32 off for matmul and cuDNN, float32 matmul precision 'highest'), inputs on the
     GPU, CUDA events per iteration after a warm-up, torch.inference_mode, cudnn.benchmark on (and, as
     'eager-cudnn-heuristic', off: cuDNN's heuristic algorithm choice, as kiln makes it); its outputs are checked
     against onnxruntime too (same weights: the worker rebuilds the model from the export's seeds);
  5. torch.compile (default mode) in the same worker, when it compiles within --compile-budget seconds;
  6. onnxruntime CPU latency, for reference.
Writes one JSON (card, driver, versions, date, kiln commit) and prints a short summary.

Usage: python3 bench/gpu_bench.py --kiln KILN --timer KILN_GPU_TIME --models-dir DIR --out RESULT.json
                                  [--commit SHA] [--models resnet50,bert-base] [--iterations N] [--warmup W]
"""
import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RTOL = 1e-3
ATOL_REL = 1e-4


def percentile(v, q):
    """Nearest-rank percentile, as kiln run reports it."""
    s = sorted(v)
    k = max(1, min(len(s), int(-(-q * len(s) // 1))))
    return s[k - 1]


def stats(v):
    return {"min": min(v), "mean": statistics.fmean(v), "median": statistics.median(v), "p90": percentile(v, 0.9),
            "max": max(v), "n": len(v)}


# ------------------------------------------------------------------------------------------------ torch worker
def torch_worker(a):
    """A child process: torch eager, then torch.compile, on the GPU. Prints one JSON line per finished stage, so
    a compile that runs out of time still leaves the eager numbers."""
    import numpy as np
    import torch
    sys.path.insert(0, HERE)
    from gpu_export import IO_NAMES, build_model

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.benchmark = True
    name = a.torch_worker
    in_names, out_names = IO_NAMES[name]
    feeds = np.load(os.path.join(a.models_dir, name + ".inputs.npz"))
    model, src = build_model(name)
    model = model.cuda().eval()
    args = tuple(torch.from_numpy(feeds[k]).cuda() for k in in_names)

    def timed(fn):
        for _ in range(a.warmup):
            fn(*args)
        torch.cuda.synchronize()
        ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(a.iterations)]
        for e0, e1 in ev:
            e0.record()
            fn(*args)
            e1.record()
        torch.cuda.synchronize()
        return stats([e0.elapsed_time(e1) for e0, e1 in ev])

    def outputs(fn):
        y = fn(*args)
        y = y if isinstance(y, (tuple, list)) else (y,)
        return {n: t.detach().float().cpu().numpy() for n, t in zip(out_names, y)}

    def emit(stage, d):
        print(json.dumps({"stage": stage, **d}), flush=True)

    settings = {"tf32": False, "matmul_precision": torch.get_float32_matmul_precision(),
                "cudnn_benchmark": True, "inference_mode": True, "source": src,
                "attn_implementation": getattr(getattr(getattr(model, "bert", None), "config", None),
                                               "_attn_implementation", None)}
    with torch.inference_mode():
        # cuDNN's heuristic choice of algorithm (what kiln uses) next to its measured choice (torch's best)
        torch.backends.cudnn.benchmark = False
        emit("eager-cudnn-heuristic", {"latency_ms": timed(model), "settings": dict(settings, cudnn_benchmark=False)})
        torch.backends.cudnn.benchmark = True
        ys = outputs(model)
        np.savez(os.path.join(a.tmp, name + ".torch-eager.npz"), **ys)
        emit("eager", {"latency_ms": timed(model), "settings": settings})
        if a.compile_budget <= 0:
            return
        t0 = time.perf_counter()
        cm = torch.compile(model)
        ys = outputs(cm)
        compile_s = time.perf_counter() - t0
        np.savez(os.path.join(a.tmp, name + ".torch-compile.npz"), **ys)
        emit("compile", {"latency_ms": timed(cm), "compile_s": compile_s, "mode": "default"})


def run_torch(a, name, tmp, budget_s):
    """Runs the torch worker for one model; returns {stage: result} (an 'error' key on failure)."""
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", name, "--models-dir", a.models_dir,
           "--tmp", tmp, "--iterations", str(a.iterations), "--warmup", str(a.warmup),
           "--compile-budget", str(a.compile_budget)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    res = {}
    try:
        out, err = p.communicate(timeout=budget_s)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # the worker and inductor's compile workers
        out, err = p.communicate()
        res["error"] = "stopped after %.0f s (time budget)" % budget_s
    for line in out.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            res[d.pop("stage")] = d
    if p.returncode not in (0, None) and "error" not in res:
        res["error"] = "exit %s: %s" % (p.returncode, err[-3000:])
    return res


# ------------------------------------------------------------------------------------------------ helpers
def run(cmd, timeout=None, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, env=env)
    p.wall_s = time.perf_counter() - t0
    return p


def compare(y, ref):
    import numpy as np
    if y.shape != ref.shape:
        return {"ok": False, "why": "shape %s vs reference %s" % (list(y.shape), list(ref.shape))}
    y64, r64 = y.astype(np.float64), ref.astype(np.float64)
    err = np.abs(y64 - r64)
    amax = float(np.abs(r64).max()) if r64.size else 0.0
    atol = ATOL_REL * max(1.0, amax)
    big = np.abs(r64) > atol
    rel = err[big] / np.abs(r64[big]) if big.any() else np.zeros(1)
    finite = bool(np.isfinite(y64).all())
    ok = finite and bool(np.all(err <= atol + RTOL * np.abs(r64)))
    worst = int(np.argmax(err - RTOL * np.abs(r64))) if r64.size else 0
    return {"ok": ok, "shape": list(ref.shape), "max_abs_err": float(err.max()), "max_abs_ref": amax,
            "max_rel_err": float(rel.max()), "rel_l2_err": float(np.linalg.norm(y64 - r64) /
                                                                 max(np.linalg.norm(r64), 1e-30)),
            "rtol": RTOL, "atol": atol, "all_finite": finite,
            "worst": {"index": [int(i) for i in np.unravel_index(worst, ref.shape)], "got": float(y64.flat[worst]),
                      "ref": float(r64.flat[worst])}}


def card_info():
    q = "name,driver_version,memory.total,clocks.max.sm,power.limit,pci.bus_id"
    try:
        p = run(["nvidia-smi", "--query-gpu=" + q, "--format=csv,noheader"], timeout=30)
        rows = [dict(zip(q.split(","), (x.strip() for x in line.split(",")))) for line in p.stdout.splitlines()
                if line.strip()]
        return rows[0] if len(rows) == 1 else {"cards": rows}
    except (OSError, subprocess.SubprocessError) as e:
        return {"error": str(e)}


def versions():
    v = {"python": platform.python_version()}
    for mod in ("torch", "torchvision", "transformers", "onnx", "onnxruntime", "numpy"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception as e:  # a missing peer is reported, not fatal
            v[mod] = "unavailable (%s)" % type(e).__name__
    try:
        import torch
        v["torch_cuda"] = torch.version.cuda
        v["torch_cudnn"] = torch.backends.cudnn.version()
    except Exception:
        pass
    return v


def placement(log):
    """The builder's placement summary and its CPU-fallback warnings."""
    res = {"fallbacks": []}
    for ln in log.splitlines():
        if "placement:" in ln:
            words = ln.split("placement:", 1)[1].replace(",", "").split()
            try:
                res["gpu_nodes"], res["host_shape_nodes"], res["cpu_fallback_nodes"] = (
                    int(words[0]), int(words[words.index("GPU") + 1]), int(words[words.index("host") + 1]))
            except (ValueError, IndexError):
                res["line"] = ln
        elif "falls back to the CPU" in ln or "runs on the host" in ln:
            res["fallbacks" if "falls back" in ln else "host"] = res.get(
                "fallbacks" if "falls back" in ln else "host", []) + [ln.split("] ", 1)[-1]]
        elif "built " in ln and "plan" in ln:
            res["built"] = ln.split("] ", 1)[-1]
    return res


def ort_session(path, threads=None):
    import onnxruntime as ort
    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


# ------------------------------------------------------------------------------------------------ per model
def bench_model(a, name, entry, tmp, save, share_s):
    """share_s: this model's share of the time left; torch.compile gets what the steps before it left of it."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    path = os.path.join(a.models_dir, name + ".onnx")
    plan = os.path.join(tmp, name + ".plan")
    feeds = dict(np.load(os.path.join(a.models_dir, name + ".inputs.npz")))
    t_start = time.time()

    # 1. build
    p = run([a.kiln, "build", path, "-o", plan, "--device", a.device, "--json", "-v"], timeout=240)
    entry["build"] = {"exit": p.returncode, "wall_s": p.wall_s, "log_tail": p.stderr[-3000:]}
    if p.returncode == 0:
        try:
            entry["build"].update(json.loads(p.stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError):
            entry["build"]["stdout"] = p.stdout[-1000:]
        entry["build"]["placement"] = placement(p.stderr)
        entry["build"]["plan_bytes"] = os.path.getsize(plan)
    print("%s: kiln build %s in %.1f s %s" % (name, "ok" if p.returncode == 0 else "FAILED", p.wall_s,
                                              entry["build"].get("placement", p.stderr[-600:])), file=sys.stderr)
    save()

    # 2. reference and accuracy
    t0 = time.perf_counter()
    sess = ort_session(path)
    entry["onnxruntime_load_s"] = time.perf_counter() - t0
    in_names = [i.name for i in sess.get_inputs()]
    out_names = [o.name for o in sess.get_outputs()]
    refs = dict(zip(out_names, sess.run(None, {k: feeds[k] for k in in_names})))
    ind, outd = os.path.join(tmp, name + "-in"), os.path.join(tmp, name + "-out")
    os.makedirs(ind, exist_ok=True)
    raw = []
    for j, k in enumerate(in_names):
        with open(os.path.join(ind, "input_%d.pb" % j), "wb") as f:
            f.write(numpy_helper.from_array(feeds[k]).SerializeToString())
        rp = os.path.join(ind, k + ".bin")
        np.ascontiguousarray(feeds[k]).tofile(rp)
        raw += ["--input", "%s=%s" % (k, rp)]
    if p.returncode == 0:
        r = run([a.kiln, "run", plan, "--inputs-dir", ind, "--outputs-dir", outd, "--json"], timeout=120)
        chk = {"exit": r.returncode}
        if r.returncode == 0:
            for j, k in enumerate(out_names):
                y = numpy_helper.to_array(onnx.load_tensor(os.path.join(outd, "output_%d.pb" % j)))
                chk[k] = compare(y, refs[k])
            chk["ok"] = all(chk[k]["ok"] for k in out_names)
        else:
            chk["ok"] = False
            chk["stderr"] = r.stderr[-3000:]
        entry["kiln_vs_onnxruntime"] = chk
        print("%s: kiln GPU vs onnxruntime CPU: %s" % (name, json.dumps(chk)[:800]), file=sys.stderr)
        save()

        # 3. kiln latency
        t = run([a.timer, plan, "--iterations", str(a.iterations), "--warmup", str(a.warmup), "--profile", "10"]
                + raw, timeout=180)
        if t.returncode == 0:
            entry["kiln_gpu"] = json.loads(t.stdout.strip().splitlines()[-1])
        else:
            entry["kiln_gpu"] = {"error": "exit %d: %s" % (t.returncode, t.stderr[-2000:])}
        c = run([a.kiln, "run", plan, "--json", "--iterations", str(a.iterations), "--warmup", str(a.warmup)],
                timeout=180)
        if c.returncode == 0:
            d = json.loads(c.stdout.strip().splitlines()[-1])
            entry["kiln_cli_run"] = {k: d.get(k) for k in ("latency_ms", "h2d_ms", "d2h_ms", "end_to_end_ms",
                                                           "load_ms", "throughput_per_s") if k in d}
            entry["kiln_cli_run"].update({"inputs": "kiln run's seeded random inputs",
                                          "timing": "kiln run --json: host wall time per stage (latency_ms: the "
                                                    "engine, enqueue until the stream is done)"})
        else:
            entry["kiln_cli_run"] = {"error": "exit %d: %s" % (c.returncode, c.stderr[-1500:])}
        print("%s: kiln GPU %s" % (name, json.dumps({k: entry["kiln_gpu"].get(k, {}).get("median") for k in
                                                     ("h2d_ms", "compute_ms", "d2h_ms", "total_ms")})
                                  if "error" not in entry["kiln_gpu"] else entry["kiln_gpu"]["error"]),
              file=sys.stderr)
        save()

    # 4/5. torch eager and torch.compile
    left = share_s - (time.time() - t_start) - a.ort_seconds - 5
    budget = max(30.0, min(left, 60 + (a.compile_budget if a.compile_budget > 0 else 0)))
    tr = run_torch(a, name, tmp, budget)
    for stage in ("eager", "compile"):
        f = os.path.join(tmp, "%s.torch-%s.npz" % (name, stage))
        if stage in tr and os.path.exists(f):
            ys = np.load(f)
            tr[stage]["vs_onnxruntime"] = {k: compare(ys[k], refs[k]) for k in out_names if k in ys}
    entry["torch"] = tr
    print("%s: torch %s" % (name, {k: v.get("latency_ms", {}).get("median") if isinstance(v, dict) else v
                                   for k, v in tr.items()}), file=sys.stderr)
    save()

    # 6. onnxruntime CPU latency
    f = {k: feeds[k] for k in in_names}
    for _ in range(3):
        sess.run(None, f)
    lat, t_end = [], time.perf_counter() + a.ort_seconds
    while len(lat) < 5 or (time.perf_counter() < t_end and len(lat) < a.iterations):
        t0 = time.perf_counter()
        sess.run(None, f)
        lat.append((time.perf_counter() - t0) * 1e3)
    entry["onnxruntime_cpu"] = {"latency_ms": stats(lat), "threads": "default SessionOptions",
                                "logical_cpus": os.cpu_count()}
    save()


def fallback_ops(pl):
    ops = {}
    for ln in pl.get("fallbacks", []):
        op = ln.split("', ", 1)[-1].split(")", 1)[0]
        ops[op] = ops.get(op, 0) + 1
    return ": " + ", ".join("%s x%d" % kv for kv in sorted(ops.items())) if ops else ""


def summary_lines(result):
    lines = ["%s, driver %s; kiln %s; %s" % (result["card"].get("name"), result["card"].get("driver_version"),
                                             result["kiln_commit"], result["started_utc"])]
    for name, e in result["models"].items():
        b = e.get("build", {})
        pl = b.get("placement", {})
        chk = e.get("kiln_vs_onnxruntime", {})
        acc = ", ".join("%s max abs %.2e rel %.2e%s" % (k, v["max_abs_err"], v["max_rel_err"],
                                                        "" if v["ok"] else " MISMATCH")
                        for k, v in chk.items() if isinstance(v, dict) and "max_abs_err" in v)
        lines.append("%s: build %s %.1f s (%s ONNX nodes; %s on GPU, %s shape on host, %s CPU fallbacks%s); "
                     "accuracy vs onnxruntime: %s" % (
                         name, "ok" if b.get("exit") == 0 else "FAILED", b.get("wall_s", float("nan")),
                         b.get("nodes"), pl.get("gpu_nodes"), pl.get("host_shape_nodes"),
                         pl.get("cpu_fallback_nodes"), fallback_ops(pl), ("PASS" if chk.get("ok") else "FAIL") + (
                             " (" + acc + ")" if acc else "")))
        kg = e.get("kiln_gpu", {})
        te = e.get("torch", {}).get("eager", {}).get("latency_ms", {})
        tc = e.get("torch", {}).get("compile", {}).get("latency_ms", {})
        oc = e.get("onnxruntime_cpu", {}).get("latency_ms", {})
        parts = []
        if "compute_ms" in kg:
            parts.append("kiln compute %.3f ms (p90 %.3f) + H2D %.3f + D2H %.3f = %.3f" % (
                kg["compute_ms"]["median"], kg["compute_ms"]["p90"], kg["h2d_ms"]["median"], kg["d2h_ms"]["median"],
                kg["total_ms"]["median"]))
        th = e.get("torch", {}).get("eager-cudnn-heuristic", {}).get("latency_ms", {})
        if "enqueue_host_ms" in kg:
            parts.append("host enqueue %.3f" % kg["enqueue_host_ms"]["median"])
        if te:
            parts.append("torch eager %.3f ms (p90 %.3f)" % (te["median"], te["p90"]))
            if "compute_ms" in kg:
                parts.append("kiln/eager %.2f" % (kg["compute_ms"]["median"] / te["median"]))
        if th:
            parts.append("torch eager, cuDNN heuristic algos %.3f ms" % th["median"])
        if tc:
            parts.append("torch.compile %.3f ms (p90 %.3f; compiled in %.0f s)" % (
                tc["median"], tc["p90"], e["torch"]["compile"]["compile_s"]))
            if "compute_ms" in kg:
                parts.append("kiln/compile %.2f" % (kg["compute_ms"]["median"] / tc["median"]))
        elif "error" in e.get("torch", {}):
            parts.append("torch: " + e["torch"]["error"][:200])
        if oc:
            parts.append("onnxruntime CPU %.2f ms" % oc["median"])
        lines.append("  " + "; ".join(parts))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kiln")
    ap.add_argument("--timer", help="kiln-gpu-time (bench/gpu_time.c)")
    ap.add_argument("--models-dir", required=True)
    ap.add_argument("--models", default="resnet50,bert-base")
    ap.add_argument("--out")
    ap.add_argument("--commit", default="unknown", help="kiln commit the binaries were built from")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--compile-budget", type=float, default=90, help="seconds for torch.compile (0: skip)")
    ap.add_argument("--ort-seconds", type=float, default=3.0, help="onnxruntime CPU timing, seconds at most")
    ap.add_argument("--time-limit", type=float, default=600, help="seconds for the whole benchmark")
    ap.add_argument("--note")
    ap.add_argument("--device", default="gpu", help="kiln's device (cpu only to try this script without a GPU)")
    ap.add_argument("--torch-worker", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_worker:
        return torch_worker(a)
    if not (a.kiln and a.timer and a.out):
        ap.error("--kiln, --timer and --out are required")
    a.deadline = time.time() + a.time_limit
    started = datetime.datetime.now(datetime.timezone.utc)
    export_info = None
    try:
        with open(os.path.join(a.models_dir, "export-info.json")) as f:
            export_info = json.load(f)
    except (OSError, ValueError):
        pass
    kv = run([a.kiln, "--version"])
    result = {"started_utc": started.isoformat(timespec="seconds"), "card": card_info(), "kiln_commit": a.commit,
              "kiln_version": kv.stdout.strip(), "host": {"cpu_count": os.cpu_count(), "os": platform.platform()},
              "versions": versions(), "export": export_info, "note": a.note,
              "settings": {"iterations": a.iterations, "warmup": a.warmup, "precision": "FP32 everywhere",
                           "torch": "allow_tf32 False (matmul and cuDNN), float32 matmul precision 'highest', "
                                    "cudnn.benchmark True, inference_mode, inputs on the GPU, CUDA events",
                           "kiln": "CUDA plan (FP32: cuBLASLt COMPUTE_32F, cuDNN FMA math, no TF32); "
                                   "kiln-gpu-time CUDA events",
                           "accuracy": "onnxruntime CPU reference; rtol %g, atol %g x max(1, max|ref|)" % (
                               RTOL, ATOL_REL)},
              "models": {}}

    tmp = tempfile.mkdtemp(prefix="kiln-gpubench-")

    def save():
        # the machine's folders mean nothing elsewhere: results name them by role
        text = json.dumps(result, indent=1)
        for path, role in ((tmp, "<work>"), (os.path.abspath(a.models_dir), "<models>"),
                           (os.path.dirname(os.path.abspath(a.kiln)), "<kiln-dir>")):
            text = text.replace(json.dumps(path)[1:-1], role)
        with open(a.out, "w") as f:
            f.write(text + "\n")

    names = a.models.split(",")
    for k, name in enumerate(names):
        entry = result["models"].setdefault(name, {})
        if export_info and "error" in export_info.get("models", {}).get(name, {}):
            entry["error"] = "export failed: " + export_info["models"][name]["error"]
            continue
        try:
            bench_model(a, name, entry, tmp, save, (a.deadline - time.time()) / (len(names) - k))
        except Exception as e:  # one model's failure must not lose the other's numbers
            import traceback
            entry["error"] = "%s: %s" % (type(e).__name__, traceback.format_exc()[-3000:])
            print("%s: %s" % (name, entry["error"]), file=sys.stderr)
        save()
    result["finished_utc"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    result["summary"] = summary_lines(result)
    save()
    print("\n".join(result["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
