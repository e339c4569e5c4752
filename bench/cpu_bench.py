#!/usr/bin/env python3
"""kiln vs onnxruntime on the CPU, same ONNX files, same machine, same run.

For each model: `kiln build` the plan (once per kiln configuration), check kiln's output against onnxruntime's on
one input (rtol 1e-3), then time in ROUNDS interleaved rounds: in every round each configuration (onnxruntime,
kiln, and any kiln variants with passes switched off) runs in its own process, warms up, and times ITERATIONS
inferences. Both sides use the same thread count (kiln: KILN_NUM_THREADS; onnxruntime: intra_op_num_threads,
otherwise default session options) and inputs of the same shapes and distribution (kiln run's seeded random
inputs: floats uniform in [-1, 1), integers 0..3; onnxruntime gets numpy draws of the same kind).

Reported per configuration: the median over rounds of each round's median latency ("median of medians") and p90,
the spread of the round medians, and the kiln/onnxruntime ratio, both of the medians of medians and paired per
round (each round's kiln median over the same round's onnxruntime median: robust to the machine's load drifting
between rounds). Writes bench/results/cpu-<date>.json.

Models come from bench/export_models.py (default folder build/bench-models). Needs python3 with onnxruntime, onnx
and numpy, and a built kiln CLI.

  python3 bench/cpu_bench.py                                   # resnet50 + bert-base, 5 rounds
  python3 bench/cpu_bench.py --models resnet50-bn --variant no-fuse=fuse-conv-bn,fuse-gemm,fuse-gelu
  python3 bench/cpu_bench.py --profile                         # also a per-op profile of each kiln plan
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def percentile(v, q):
    """Nearest-rank percentile, as kiln run reports it."""
    s = sorted(v)
    k = max(1, min(len(s), int(-(-q * len(s) // 1))))
    return s[k - 1]


def ort_worker(a):
    """One onnxruntime timing run (a child process, like each kiln run): prints JSON with the latency stats."""
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    if a.no_spin:  # idle pool threads block instead of spinning, so process CPU time measures work
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    t0 = time.perf_counter()
    sess = ort.InferenceSession(a.ort_worker, so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    rng = np.random.default_rng(a.seed)
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        if "float" in i.type:
            feeds[i.name] = (rng.random(shape, dtype=np.float64) * 2 - 1).astype(np.float32)
        elif "int64" in i.type:
            feeds[i.name] = rng.integers(0, 4, shape).astype(np.int64)
        elif "int32" in i.type:
            feeds[i.name] = rng.integers(0, 4, shape).astype(np.int32)
        else:
            raise SystemExit("input %s: unsupported type %s" % (i.name, i.type))
    for _ in range(a.warmup):
        sess.run(None, feeds)
    lat = []
    cpu0 = time.process_time()
    for _ in range(a.iterations):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        lat.append((time.perf_counter() - t0) * 1e3)
    cpu_ms = (time.process_time() - cpu0) * 1e3 / len(lat)
    print(json.dumps({"load_ms": load_ms, "cpu_ms_per_run": cpu_ms, "latency_ms": {
        "min": min(lat), "mean": statistics.fmean(lat), "median": statistics.median(lat),
        "p90": percentile(lat, 0.9), "max": max(lat)}, "iterations": len(lat)}))


def run(cmd, env=None, check=True):
    """Runs cmd; the result also carries cpu_s, the user + system CPU seconds the child used (a measure of work
    that the machine's other load disturbs much less than wall time)."""
    before = os.times()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    after = os.times()
    p.cpu_s = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode, p.stdout[-2000:],
                                                       p.stderr[-4000:]))
    return p


def kiln_env(threads, passes_off=None):
    env = dict(os.environ)
    env["KILN_NUM_THREADS"] = str(threads)
    env.pop("KILN_PASSES_OFF", None)
    if passes_off:
        env["KILN_PASSES_OFF"] = passes_off
    return env


def machine_info():
    cpu, flags = platform.processor() or "?", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu in ("?", "", platform.machine()):
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].split()
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(),
            "simd": [x for x in ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16") if x in flags],
            "mem_mib": mem, "os": platform.platform(), "python": platform.python_version()}


def git_info():
    def g(*a):
        p = run(["git", "-C", ROOT] + list(a), check=False)
        return p.stdout.strip() if p.returncode == 0 else None
    return {"commit": g("rev-parse", "HEAD"), "branch": g("rev-parse", "--abbrev-ref", "HEAD"),
            "dirty": bool(g("status", "--porcelain", "--untracked-files=no"))}


def check_outputs(kiln, model_path, plan, threads, tmp):
    """kiln vs onnxruntime on one realistic input: images in [0, 1), token ids over the whole vocabulary."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(2024)
    ind, outd = os.path.join(tmp, "in"), os.path.join(tmp, "out")
    os.makedirs(ind, exist_ok=True)
    feeds = {}
    for j, i in enumerate(sess.get_inputs()):
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        if "float" in i.type:
            x = rng.random(shape, dtype=np.float32)
        else:  # token ids: stay inside the smallest embedding table the input indexes
            x = rng.integers(0, 30522 if "input_ids" in i.name else 2, shape).astype(
                np.int64 if "int64" in i.type else np.int32)
        feeds[i.name] = x
        with open(os.path.join(ind, "input_%d.pb" % j), "wb") as f:
            f.write(numpy_helper.from_array(x).SerializeToString())
    refs = sess.run(None, feeds)
    run([kiln, "run", plan, "--inputs-dir", ind, "--outputs-dir", outd], env=kiln_env(threads))
    res = []
    for j, ref in enumerate(refs):
        y = numpy_helper.to_array(onnx.load_tensor(os.path.join(outd, "output_%d.pb" % j)))
        if y.shape != ref.shape:
            res.append({"output": j, "ok": False, "why": "shape %s vs %s" % (y.shape, ref.shape)})
            continue
        err = np.abs(y.astype(np.float64) - ref.astype(np.float64))
        # rtol 1e-3 as the node tests use; atol scaled to the output so near-zero elements of a deep network
        # (whose absolute error is accumulation-order noise) do not dominate
        atol = 1e-4 * max(1.0, float(np.abs(ref).max()))
        ok = bool(np.allclose(y, ref, rtol=1e-3, atol=atol))
        res.append({"output": j, "ok": ok, "shape": list(ref.shape), "max_abs_err": float(err.max()),
                    "max_abs_ref": float(np.abs(ref).max()), "rtol": 1e-3, "atol": atol})
    return res


def summarize(rounds):
    meds = [r["latency_ms"]["median"] for r in rounds]
    p90s = [r["latency_ms"]["p90"] for r in rounds]
    mm = statistics.median(meds)
    cpu = [r["process_cpu_s"] * 1e3 / r["runs"] for r in rounds]
    return {"median_of_medians_ms": mm, "p90_median_ms": statistics.median(p90s),
            "process_cpu_ms_per_run_median": statistics.median(cpu),
            "round_medians_ms": meds, "round_p90s_ms": p90s,
            "spread_min_max_ms": [min(meds), max(meds)],
            "spread_rel": (max(meds) - min(meds)) / mm if mm else None,
            "cv": statistics.pstdev(meds) / statistics.fmean(meds) if len(meds) > 1 else 0.0}


def build_profile_tool():
    exe = os.path.join(ROOT, "build", "kiln-profile")
    lib = os.path.join(ROOT, "build", "libkiln.a")
    run(["cc", "-O2", "-I" + os.path.join(ROOT, "include"), os.path.join(ROOT, "bench", "kiln_profile.c"), lib,
         "-lpthread", "-lm", "-o", exe])
    return exe


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["resnet50", "bert-base"])
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "build", "bench-models"))
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "kiln"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=PASSES[@MODEL:MODEL...]",
                    help="also time kiln built with KILN_PASSES_OFF=PASSES, for all models or those named "
                         "(repeatable)")
    ap.add_argument("--cpu-work", action="store_true",
                    help="also measure CPU time per inference in every round: kiln (bench/kiln_profile.c) vs "
                         "onnxruntime with spinning off; steadier than wall time on a loaded machine")
    ap.add_argument("--profile", action="store_true", help="per-op profile of each kiln plan (bench/kiln_profile.c)")
    ap.add_argument("--out", help="result JSON (default bench/results/cpu-<date>.json)")
    ap.add_argument("--note", help="free text stored in the result")
    ap.add_argument("--ort-worker", help=argparse.SUPPRESS)
    ap.add_argument("--no-spin", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.ort_worker:
        return ort_worker(a)

    import numpy
    import onnx
    import onnxruntime
    started = datetime.datetime.now(datetime.timezone.utc)
    kiln_version = run([a.kiln, "--version"]).stdout.strip()
    variants = []  # (config name, passes off, models or None for all)
    for v in a.variant:
        name, _, rest = v.partition("=")
        passes, _, only = rest.partition("@")
        variants.append(("kiln-" + name, passes, only.split(":") if only else None))

    def configs_of(m):
        return [("onnxruntime", None), ("kiln", None)] + [(n, p) for n, p, only in variants
                                                          if only is None or m in only]
    export_info = None
    try:
        with open(os.path.join(a.models_dir, "export-info.json")) as f:
            export_info = json.load(f)
    except (OSError, ValueError):
        pass
    result = {"started_utc": started.isoformat(timespec="seconds"), "machine": machine_info(), "kiln": git_info(),
              "versions": {"kiln": kiln_version, "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__,
                           "numpy": numpy.__version__, "export": export_info},
              "settings": {"threads": a.threads, "rounds": a.rounds, "iterations": a.iterations, "warmup": a.warmup,
                           "ort_session": "default SessionOptions + intra_op_num_threads",
                           "cpu_work": a.cpu_work and "kiln: kiln_profile process CPU time over the timed runs; "
                                       "onnxruntime: process CPU time over the timed runs, allow_spinning=0",
                           "kiln": "kiln build; kiln run --json --iterations N --warmup W, KILN_NUM_THREADS"},
              "note": a.note, "load_avg_start": list(os.getloadavg()), "models": {}}
    tmp = tempfile.mkdtemp(prefix="kiln-cpubench-")
    plans = {}
    for m in a.models:
        path = os.path.join(a.models_dir, m + ".onnx")
        if not os.path.exists(path):
            raise SystemExit("%s not found: run bench/export_models.py first" % path)
        entry = result["models"].setdefault(m, {"onnx": os.path.basename(path), "configs": {}})
        for name, off in configs_of(m)[1:]:
            plan = os.path.join(a.models_dir, "%s.%s.plan" % (m, name))
            t0 = time.perf_counter()
            b = run([a.kiln, "build", path, "-o", plan, "--json", "-v"], env=kiln_env(a.threads, off))
            info = json.loads(b.stdout.strip().splitlines()[-1])
            # what the passes did, from the builder's INFO lines ("fuse-gemm: fused 72 ...", "built CPU plan: ...")
            log = [ln.split("] ", 1)[-1] for ln in b.stderr.splitlines() if ln.startswith("[info]")]
            built = [ln for ln in log if ln.startswith("built ")]
            plan_nodes = int(built[-1].split(": ", 1)[1].split()[0]) if built else None
            entry["configs"][name] = {"passes_off": off, "build_s": time.perf_counter() - t0,
                                      "onnx_nodes": info.get("nodes"), "plan_nodes": plan_nodes,
                                      "passes": [ln for ln in log if ":" in ln and not ln.startswith("built ")],
                                      "rounds": []}
            plans[(m, name)] = plan
            chk = check_outputs(a.kiln, path, plan, a.threads, os.path.join(tmp, m + "-" + name))
            entry["configs"][name]["check_vs_onnxruntime"] = chk
            print("%-12s %-16s built (%s -> %s nodes), output check: %s" % (
                m, name, info.get("nodes"), plan_nodes, ", ".join(
                    "%s (max abs err %.2e)" % ("ok" if c["ok"] else "MISMATCH", c.get("max_abs_err", float("nan")))
                    for c in chk)), file=sys.stderr)
        entry["configs"]["onnxruntime"] = {"rounds": []}
        if a.cpu_work:
            entry["cpu_work_ms_per_run"] = {n: [] for n, _ in [("onnxruntime-nospin", None)] + configs_of(m)[1:]}
    profile_exe = build_profile_tool() if a.cpu_work or a.profile else None

    for r in range(a.rounds):
        for m in a.models:
            entry = result["models"][m]
            configs = configs_of(m)
            order = configs if r % 2 == 0 else configs[::-1]  # alternate who goes first
            for name, _ in order:
                la = os.getloadavg()[0]
                if name == "onnxruntime":
                    p = run([sys.executable, os.path.abspath(__file__), "--ort-worker",
                             os.path.join(a.models_dir, m + ".onnx"), "--threads", str(a.threads),
                             "--iterations", str(a.iterations), "--warmup", str(a.warmup), "--seed", str(a.seed + r)])
                else:
                    p = run([a.kiln, "run", plans[(m, name)], "--json", "--iterations", str(a.iterations),
                             "--warmup", str(a.warmup), "--seed", str(a.seed + r)], env=kiln_env(a.threads))
                d = json.loads(p.stdout.strip().splitlines()[-1])
                rec = {"round": r, "load_avg_1m": la, "latency_ms": {k: d["latency_ms"][k] for k in
                                                                       ("min", "mean", "median", "p90", "max")},
                       # the whole process: start, load (and onnxruntime's graph optimization), warm-up, timed
                       # runs, and for onnxruntime its worker threads' spin-waiting
                       "process_cpu_s": p.cpu_s, "runs": a.warmup + a.iterations}
                entry["configs"][name]["rounds"].append(rec)
                print("round %d %-12s %-16s median %9.2f ms  p90 %9.2f ms  (load %.1f)" % (
                    r, m, name, rec["latency_ms"]["median"], rec["latency_ms"]["p90"], la), file=sys.stderr)
            if a.cpu_work:
                work = entry["cpu_work_ms_per_run"]
                names = list(work) if r % 2 == 0 else list(work)[::-1]
                for name in names:
                    if name == "onnxruntime-nospin":
                        p = run([sys.executable, os.path.abspath(__file__), "--ort-worker",
                                 os.path.join(a.models_dir, m + ".onnx"), "--threads", str(a.threads), "--no-spin",
                                 "--iterations", str(a.iterations), "--warmup", str(a.warmup)])
                        ms = json.loads(p.stdout.strip().splitlines()[-1])["cpu_ms_per_run"]
                    else:
                        p = run([profile_exe, plans[(m, name)], str(a.iterations), "0"], env=kiln_env(a.threads))
                        ms = float(p.stdout.split("process CPU ", 1)[1].split(" ms", 1)[0])
                    work[name].append(ms)
                    print("round %d %-12s %-18s CPU %9.2f ms per inference" % (r, m, name, ms), file=sys.stderr)

    lines = []
    for m in a.models:
        cfgs = result["models"][m]["configs"]
        for name, c in cfgs.items():
            c.update(summarize(c["rounds"]))
        ort_rounds = [x["latency_ms"]["median"] for x in cfgs["onnxruntime"]["rounds"]]
        for name, _ in configs_of(m)[1:]:
            c = cfgs[name]
            paired = [k["latency_ms"]["median"] / o for k, o in zip(c["rounds"], ort_rounds)]
            c["ratio_vs_onnxruntime"] = c["median_of_medians_ms"] / cfgs["onnxruntime"]["median_of_medians_ms"]
            c["ratio_p90_vs_onnxruntime"] = c["p90_median_ms"] / cfgs["onnxruntime"]["p90_median_ms"]
            c["paired_round_ratios"] = paired
            c["paired_ratio_median"] = statistics.median(paired)
            lines.append("%-12s %-16s %9.2f ms (p90 %9.2f)  onnxruntime %9.2f ms (p90 %9.2f)  ratio %.2f "
                         "(paired %.2f, rounds %.2f..%.2f)  round spread kiln %.0f%% ort %.0f%%  "
                         "process CPU/run kiln %.0f ms" % (
                             m, name, c["median_of_medians_ms"], c["p90_median_ms"],
                             cfgs["onnxruntime"]["median_of_medians_ms"], cfgs["onnxruntime"]["p90_median_ms"],
                             c["ratio_vs_onnxruntime"], c["paired_ratio_median"], min(paired), max(paired),
                             100 * c["spread_rel"], 100 * cfgs["onnxruntime"]["spread_rel"],
                             c["process_cpu_ms_per_run_median"]))
        if a.cpu_work:
            work = result["models"][m]["cpu_work_ms_per_run"]
            med = {n: statistics.median(v) for n, v in work.items()}
            result["models"][m]["cpu_work_summary"] = {
                "median_ms": med,
                "spread_rel": {n: (max(v) - min(v)) / statistics.median(v) for n, v in work.items()},
                "ratio_vs_onnxruntime_nospin": {n: med[n] / med["onnxruntime-nospin"] for n in med
                                                if n != "onnxruntime-nospin"}}
            lines.append("%-12s CPU per inference: %s" % (m, ", ".join(
                "%s %.0f ms (spread %.0f%%%s)" % (n, med[n], 100 * (max(v) - min(v)) / med[n],
                                                  "" if n == "onnxruntime-nospin" else
                                                  ", ratio %.2f" % (med[n] / med["onnxruntime-nospin"]))
                for n, v in work.items())))
    result["load_avg_end"] = list(os.getloadavg())
    result["finished_utc"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

    if a.profile:
        result["profiles"] = {}
        for (m, name), plan in plans.items():
            p = run([profile_exe, plan, "5", "15"], env=kiln_env(a.threads))
            result["profiles"]["%s/%s" % (m, name)] = p.stdout
            print(p.stdout, file=sys.stderr)

    out = a.out or os.path.join(ROOT, "bench", "results", "cpu-%s.json" % started.strftime("%Y-%m-%d-%H%M"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print("\n".join(lines))
    print("load average %s -> %s; wrote %s" % (
        "/".join("%.1f" % x for x in result["load_avg_start"]),
        "/".join("%.1f" % x for x in result["load_avg_end"]), out))


if __name__ == "__main__":
    main()
