#!/usr/bin/env python3
"""Command-line tests for kiln: help, usage errors, missing files, build -> run -> inspect on a corpus model, and
plans damaged on disk (a flipped byte, a truncated file, an empty file) refused with exit 1 and a message."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

failures = 0
checks = 0


def check(cond, what, proc=None):
    global failures, checks
    checks += 1
    if cond:
        return True
    failures += 1
    msg = f"FAIL: {what}"
    if proc is not None:
        msg += f"\n  command: {' '.join(proc.args)}\n  exit: {proc.returncode}"
        msg += f"\n  stdout: {proc.stdout.strip()[-800:]}\n  stderr: {proc.stderr.strip()[-800:]}"
    print(msg)
    return False


def kiln(*args, timeout=120):
    return subprocess.run([KILN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, check=False)


def test_help():
    p = kiln("--help")
    check(p.returncode == 0 and "Usage: kiln" in p.stdout, "kiln --help prints usage, exit 0", p)
    for c in ("build", "run", "inspect"):
        p = kiln(c, "--help")
        check(p.returncode == 0 and f"kiln {c}" in p.stdout, f"kiln {c} --help, exit 0", p)
    p = kiln()
    check(p.returncode == 2 and "Usage" in p.stderr, "kiln without a command: usage, exit 2", p)
    p = kiln("--version")
    check(p.returncode == 0 and p.stdout.startswith("kiln "), "kiln --version", p)


def test_usage_errors(tmp):
    p = kiln("frobnicate")
    check(p.returncode == 2 and "frobnicate" in p.stderr, "unknown command: exit 2 naming it", p)
    p = kiln("--bogus")
    check(p.returncode == 2 and "--bogus" in p.stderr, "unknown top-level option: exit 2", p)
    for c in ("build", "run", "inspect"):
        p = kiln(c, "--no-such-option", "model.onnx")
        check(p.returncode == 2 and "--no-such-option" in p.stderr, f"kiln {c}: unknown option -> exit 2", p)
    p = kiln("build", "model.onnx")
    check(p.returncode == 2 and "-o" in p.stderr, "kiln build without -o: exit 2", p)
    p = kiln("run")
    check(p.returncode == 2, "kiln run without a model: exit 2", p)
    p = kiln("run", "m.plan", "--iterations", "many")
    check(p.returncode == 2 and "--iterations" in p.stderr, "non-numeric --iterations: exit 2", p)
    p = kiln("run", "m.plan", "--iterations")
    check(p.returncode == 2 and "--iterations" in p.stderr, "--iterations without a value: exit 2", p)
    p = kiln("build", "m.onnx", "-o", os.path.join(tmp, "x.plan"), "--shapes", "x:1xq")
    check(p.returncode == 2 and "x:1xq" in p.stderr, "malformed --shapes: exit 2 quoting it", p)
    p = kiln("build", "m.onnx", "-o", os.path.join(tmp, "x.plan"), "--device", "tpu")
    check(p.returncode == 2 and "tpu" in p.stderr, "unknown --device: exit 2", p)


def test_missing_files(tmp):
    missing = os.path.join(tmp, "no-such-dir", "missing_model.plan")
    p = kiln("run", missing)
    check(p.returncode == 1 and "missing_model.plan" in p.stderr, "run on a missing plan: exit 1 naming it", p)
    missing_onnx = os.path.join(tmp, "missing_model.onnx")
    p = kiln("run", missing_onnx)
    check(p.returncode == 1 and "missing_model.onnx" in p.stderr, "run on a missing .onnx: exit 1 naming it", p)
    p = kiln("build", missing_onnx, "-o", os.path.join(tmp, "out.plan"))
    check(p.returncode == 1 and "missing_model.onnx" in p.stderr, "build of a missing .onnx: exit 1 naming it", p)
    check(not os.path.exists(os.path.join(tmp, "out.plan")), "a failed build writes no plan")
    p = kiln("inspect", missing)
    check(p.returncode == 1 and "missing_model.plan" in p.stderr, "inspect on a missing plan: exit 1", p)
    garbage = os.path.join(tmp, "garbage.onnx")
    with open(garbage, "wb") as f:
        f.write(b"\xff\xff\xff\xff this is not a protobuf \x00\x01")
    p = kiln("build", garbage, "-o", os.path.join(tmp, "garbage.plan"))
    check(p.returncode == 1 and "garbage.onnx" in p.stderr, "build of a malformed .onnx: exit 1 naming it", p)


def pick_model(cases, tmp):
    """The first small single-op corpus model this kiln can build (kernels land over time)."""
    for name in ("test_add", "test_relu", "test_abs", "test_neg", "test_identity", "test_sigmoid"):
        d = os.path.join(cases, name)
        if not os.path.isfile(os.path.join(d, "model.onnx")):
            continue
        plan = os.path.join(tmp, name + ".plan")
        p = kiln("build", os.path.join(d, "model.onnx"), "-o", plan)
        if p.returncode == 0:
            return d, plan, p
    return None, None, None


def test_roundtrip(cases, tmp):
    d, plan, p = pick_model(cases, tmp)
    if not check(d is not None, f"one of the small corpus models under {cases} builds"):
        return None
    model = os.path.join(d, "model.onnx")
    check(os.path.getsize(plan) > 0 and "wrote" in p.stdout, "build writes a plan and says so", p)

    p = kiln("build", model, "-o", plan + ".json.plan", "--json", "--verbose")
    ok = p.returncode == 0
    try:
        j = json.loads(p.stdout)
    except json.JSONDecodeError:
        j, ok = {}, False
    check(ok and j.get("plan_bytes") == os.path.getsize(plan + ".json.plan") and j.get("build_ms", -1) >= 0,
          "build --json: one object with plan_bytes = file size and build_ms", p)

    p = kiln("run", plan, "--iterations", "7", "--warmup", "1", "--json")
    ok = p.returncode == 0
    try:
        j = json.loads(p.stdout)
    except json.JSONDecodeError:
        j, ok = {}, False
    lat = j.get("latency_ms", {})
    keys = ("min", "mean", "median", "p90", "p95", "p99", "max")
    check(ok and j.get("iterations") == 7 and all(k in lat for k in keys)
          and lat["min"] <= lat["median"] <= lat["p99"] <= lat["max"] and lat["min"] >= 0
          and j.get("throughput_per_s", 0) > 0,
          "run --json: 7 iterations, ordered latency percentiles, positive throughput", p)

    p = kiln("run", plan, "--iterations", "3")
    check(p.returncode == 0 and "latency" in p.stdout and "throughput" in p.stdout, "run: text report", p)

    p = kiln("run", model, "--iterations", "2", "--json")
    check(p.returncode == 0 and json.loads(p.stdout or "{}").get("iterations") == 2, "run on an .onnx", p)

    out_dir = os.path.join(tmp, "outputs")
    ds = os.path.join(d, "test_data_set_0")
    p = kiln("run", plan, "--inputs-dir", ds, "--outputs-dir", out_dir)
    expected = sorted(f for f in os.listdir(ds) if f.startswith("output_"))
    produced = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
    check(p.returncode == 0 and produced == expected and all(
        os.path.getsize(os.path.join(out_dir, f)) > 0 for f in produced),
        f"run --inputs-dir/--outputs-dir writes {expected}", p)

    empty_dir = os.path.join(tmp, "no-inputs")
    os.makedirs(empty_dir)
    p = kiln("run", plan, "--inputs-dir", empty_dir)
    check(p.returncode == 1 and "input_0.pb" in p.stderr, "run --inputs-dir without input_0.pb: exit 1 naming it", p)

    p_plan = kiln("inspect", plan, "--json")
    p_onnx = kiln("inspect", model, "--json")
    try:
        jp, jo = json.loads(p_plan.stdout), json.loads(p_onnx.stdout)
    except json.JSONDecodeError:
        jp, jo = {}, {}
    names = lambda j, k: [t.get("name") for t in j.get(k, [])]
    check(p_plan.returncode == 0 and p_onnx.returncode == 0 and names(jp, "inputs")
          and names(jp, "inputs") == names(jo, "inputs") and names(jp, "outputs") == names(jo, "outputs"),
          "inspect --json: plan and model list the same inputs and outputs", p_plan)
    check(len(jp.get("layers", [])) >= 1 and jp.get("memory", {}).get("file_bytes") == os.path.getsize(plan),
          "inspect --json on the plan: layers and the plan size", p_plan)
    p = kiln("inspect", plan)
    check(p.returncode == 0 and "inputs:" in p.stdout and "layers:" in p.stdout, "inspect: text report", p)
    return plan


def refused(p, what):
    check(p.returncode == 1, f"{what}: exit 1 (not a crash or signal)", p)
    check(len(p.stderr.strip()) > 0 and "error" in p.stderr, f"{what}: message on stderr", p)


def test_damaged_plans(plan, tmp):
    with open(plan, "rb") as f:
        data = bytearray(f.read())
    # A byte in the middle (inside the sections) and one in the header, each flipped.
    for where, pos in (("middle", len(data) // 2), ("header", 12)):
        bad = bytearray(data)
        bad[pos] ^= 0x5A
        path = os.path.join(tmp, f"flipped_{where}.plan")
        with open(path, "wb") as f:
            f.write(bad)
        for c in ("run", "inspect"):
            refused(kiln(c, path), f"{c} on a plan with a flipped {where} byte")
    for frac in (2, 5):
        path = os.path.join(tmp, f"truncated_{frac}.plan")
        with open(path, "wb") as f:
            f.write(data[: len(data) // frac])
        refused(kiln("run", path), f"run on a plan truncated to 1/{frac}")
    path = os.path.join(tmp, "empty.plan")
    open(path, "wb").close()
    refused(kiln("run", path), "run on an empty plan file")
    path = os.path.join(tmp, "not_a_plan.plan")
    with open(path, "wb") as f:
        f.write(b"this is a text file, not a plan\n" * 4)
    refused(kiln("inspect", path), "inspect on a text file")


def main():
    global KILN
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--cases", required=True, help="folder with the node-test case folders (test_*)")
    args = ap.parse_args()
    KILN = os.path.abspath(args.kiln)
    cases = args.cases
    if os.path.isdir(os.path.join(cases, "node")):
        cases = os.path.join(cases, "node")
    tmp = tempfile.mkdtemp(prefix="kiln-cli-test.")
    try:
        test_help()
        test_usage_errors(tmp)
        test_missing_files(tmp)
        plan = test_roundtrip(cases, tmp)
        if plan:
            test_damaged_plans(plan, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{checks} checks, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
