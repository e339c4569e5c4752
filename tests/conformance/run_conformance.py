#!/usr/bin/env python3
"""ONNX node-test conformance for kiln.

For every case directory (test_*/model.onnx + test_data_set_N/) runs

    kiln run model.onnx --inputs-dir test_data_set_N --outputs-dir <tmp>

and compares each output_<j>.pb with the expected one the way ONNX's backend test runner does: floating types
(float, double, float16, bfloat16) with rtol 1e-3 / atol 1e-7 and NaN equal to NaN (bfloat16 gets ONNX's two-ULP
rtol), everything else exactly; dtypes and shapes must match; sequences item by item; an empty optional only
matches an empty optional. A case whose kiln run fails with "kiln was built without <library>" (an optional
library, e.g. libtiff for ImageDecoder, left out of this build) is skipped, and listed as such.

Exit status: 0 when every case passed or is listed in expected_fail.txt (and, with --strict, no listed case passes
now), 1 otherwise, 2 on a usage or environment problem (missing python packages, no kiln binary, no test data).
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:  # the CTest entry must fail loudly, never skip
    sys.stderr.write(
        f"run_conformance.py: missing Python package ({e}).\n"
        "Install the test tooling with:  python3 -m pip install onnx numpy\n"
    )
    sys.exit(2)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_EXPECTED = os.path.join(HERE, "expected_fail.txt")

RTOL = 1e-3
ATOL = 1e-7
FLOAT_TYPES = {
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.DOUBLE,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
}
# Low-precision float formats numpy only knows through ml_dtypes: compared exactly, on their float32 values,
# so that every NaN encoding still equals NaN.
EXACT_FLOAT_TYPES = {
    getattr(onnx.TensorProto, n)
    for n in (
        "FLOAT8E4M3FN",
        "FLOAT8E4M3FNUZ",
        "FLOAT8E5M2",
        "FLOAT8E5M2FNUZ",
        "FLOAT4E2M1",
        "FLOAT8E8M0",
    )
    if hasattr(onnx.TensorProto, n)
}


class Mismatch(Exception):
    """A produced output differs from the expected one. kind: mismatch / shape / dtype / kind / missing output."""

    def __init__(self, kind, detail):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


# ------------------------------------------------------------------------------------------------ reading values
def load_value(path, type_proto):
    """Reads a .pb the way onnx's backend runner does: the model's declared type picks the message kind."""
    with open(path, "rb") as f:
        data = f.read()
    which = type_proto.WhichOneof("value")
    if which == "sequence_type":
        p = onnx.SequenceProto()
        p.ParseFromString(data)
        return ("sequence", p)
    if which == "optional_type":
        p = onnx.OptionalProto()
        p.ParseFromString(data)
        return ("optional", p)
    p = onnx.TensorProto()
    p.ParseFromString(data)
    return ("tensor", p)


def tensor_elem_type(t):
    return t.data_type


def compare_tensor(expected, actual, where):
    et, at = tensor_elem_type(expected), tensor_elem_type(actual)
    if et != at:
        raise Mismatch(
            "dtype",
            f"{where}: dtype {onnx.TensorProto.DataType.Name(at)}, "
            f"expected {onnx.TensorProto.DataType.Name(et)}",
        )
    e = numpy_helper.to_array(expected)
    a = numpy_helper.to_array(actual)
    if tuple(e.shape) != tuple(a.shape):
        raise Mismatch("shape", f"{where}: shape {list(a.shape)}, expected {list(e.shape)}")
    if e.size == 0:
        return
    if et in FLOAT_TYPES:
        rtol = RTOL
        if et == onnx.TensorProto.BFLOAT16:
            rtol = max(RTOL, 2.0**-6)  # as onnx's runner: two bfloat16 ULPs
        ef = e.astype(np.float64)
        af = a.astype(np.float64)
        nan_e, nan_a = np.isnan(ef), np.isnan(af)
        bad = nan_e != nan_a
        both = ~(nan_e | nan_a)
        with np.errstate(invalid="ignore", over="ignore"):
            # infinities must match exactly (inf - inf is NaN, so handle them apart from the tolerance test)
            inf_e = np.isinf(ef)
            inf_a = np.isinf(af)
            bad |= both & (inf_e | inf_a) & (ef != af)
            fin = both & ~inf_e & ~inf_a
            bad |= fin & ~(np.abs(af - ef) <= ATOL + rtol * np.abs(ef))
        if bad.any():
            idx = np.argwhere(bad)
            first = tuple(int(i) for i in idx[0])
            n_bad = int(bad.sum())
            with np.errstate(invalid="ignore", over="ignore"):
                diff = np.abs(af - ef)
                max_diff = float(np.nanmax(np.where(fin, diff, 0.0))) if fin.any() else float("nan")
            raise Mismatch(
                "mismatch",
                f"{where}: {n_bad} of {e.size} elements differ (max abs diff {max_diff:.6g}); "
                f"first at {list(first)}: got {af[first]!r}, expected {ef[first]!r}",
            )
        return
    if et in EXACT_FLOAT_TYPES:
        ef = e.astype(np.float32)
        af = a.astype(np.float32)
        bad = ~((ef == af) | (np.isnan(ef) & np.isnan(af)))
    elif e.dtype == object:
        bad = np.vectorize(lambda x, y: x != y, otypes=[bool])(e, a)
    else:
        bad = e != a
    bad = np.asarray(bad)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
        ev = e[first] if first else e
        av = a[first] if first else a
        raise Mismatch(
            "mismatch",
            f"{where}: {int(bad.sum())} of {e.size} elements differ; first at {list(first)}: "
            f"got {av!r}, expected {ev!r}",
        )


def compare_sequence(expected, actual, where):
    # Items of an empty sequence are never compared, but their element type still has to agree when declared.
    et, at = expected.elem_type, actual.elem_type
    if et != at:
        raise Mismatch("kind", f"{where}: sequence of element kind {at}, expected {et}")
    if et == onnx.SequenceProto.TENSOR:
        ei, ai = list(expected.tensor_values), list(actual.tensor_values)
        if len(ei) != len(ai):
            raise Mismatch("shape", f"{where}: sequence of {len(ai)} items, expected {len(ei)}")
        for k, (x, y) in enumerate(zip(ei, ai)):
            compare_tensor(x, y, f"{where}[{k}]")
    elif et == onnx.SequenceProto.SEQUENCE:
        ei, ai = list(expected.sequence_values), list(actual.sequence_values)
        if len(ei) != len(ai):
            raise Mismatch("shape", f"{where}: sequence of {len(ai)} items, expected {len(ei)}")
        for k, (x, y) in enumerate(zip(ei, ai)):
            compare_sequence(x, y, f"{where}[{k}]")
    elif et == onnx.SequenceProto.OPTIONAL:
        ei, ai = list(expected.optional_values), list(actual.optional_values)
        if len(ei) != len(ai):
            raise Mismatch("shape", f"{where}: sequence of {len(ai)} items, expected {len(ei)}")
        for k, (x, y) in enumerate(zip(ei, ai)):
            compare_optional(x, y, f"{where}[{k}]")
    # UNDEFINED: an empty sequence written without an element kind; both sides agree, nothing to compare.


def optional_payload(o):
    if o.elem_type == onnx.OptionalProto.TENSOR and o.HasField("tensor_value"):
        return ("tensor", o.tensor_value)
    if o.elem_type == onnx.OptionalProto.SEQUENCE and o.HasField("sequence_value"):
        return ("sequence", o.sequence_value)
    if o.elem_type == onnx.OptionalProto.OPTIONAL and o.HasField("optional_value"):
        return ("optional", o.optional_value)
    return ("none", None)


def compare_optional(expected, actual, where):
    ek, ev = optional_payload(expected)
    ak, av = optional_payload(actual)
    if ek != ak:
        raise Mismatch("kind", f"{where}: optional holding {ak}, expected {ek}")
    compare_value((ek, ev), (ak, av), where)


def compare_value(expected, actual, where):
    ek, ev = expected
    ak, av = actual
    if ek != ak:
        raise Mismatch("kind", f"{where}: {ak}, expected {ek}")
    if ek == "tensor":
        compare_tensor(ev, av, where)
    elif ek == "sequence":
        compare_sequence(ev, av, where)
    elif ek == "optional":
        compare_optional(ev, av, where)


# ------------------------------------------------------------------------------------------------ one case
def classify_failure(stderr, model):
    """Short reason for a kiln run that exited with an error (not a signal)."""
    ops = sorted({n.op_type for n in model.graph.node}, key=len, reverse=True)
    m = re.search(r"no (?:CPU |CUDA )?kernel for op ([A-Za-z0-9_]+)", stderr) or re.search(
        r"\bop ([A-Za-z0-9_]+) \(domain", stderr)
    if m:
        return f"unsupported op {m.group(1)}"
    if re.search(r"\bunsupported\b", stderr, re.IGNORECASE):
        # Name the op the message talks about when there is one; node tests almost always hold a single op.
        for op in ops:
            if re.search(r"\b" + re.escape(op) + r"\b", stderr):
                return f"unsupported op {op}"
        return "unsupported"
    m = re.search(r"\b(parse error|shape error|type error|runtime error|invalid graph|internal error|"
                  r"invalid argument|out of memory|I/O error|corrupt plan)\b", stderr)
    if m:
        return f"error ({m.group(1)})"
    return "error"


def last_lines(text, n=6, width=600):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    out = "\n".join(lines[-n:])
    return out[-width:]


def run_case(kiln, case_dir, data_set, timeout, work_root, env):
    name = os.path.basename(case_dir)
    label = name if data_set.endswith("test_data_set_0") else f"{name}/{os.path.basename(data_set)}"
    model_path = os.path.join(case_dir, "model.onnx")
    try:
        model = onnx.load(model_path, load_external_data=False)
    except Exception as e:  # noqa: BLE001 - a corrupt corpus file is a case failure, not a runner crash
        return {"case": label, "status": "fail", "reason": "error (bad model file)", "detail": str(e)}
    out_dir = tempfile.mkdtemp(prefix=name[:40] + ".", dir=work_root)
    cmd = [kiln, "run", model_path, "--inputs-dir", data_set, "--outputs-dir", out_dir]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env, check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as e:
        shutil.rmtree(out_dir, ignore_errors=True)
        return {"case": label, "status": "fail", "reason": "timeout",
                "detail": f"no result after {timeout} s", "seconds": round(time.monotonic() - t0, 3)}
    secs = round(time.monotonic() - t0, 3)
    stderr = proc.stderr.decode("utf-8", "replace")
    res = {"case": label, "seconds": secs}
    try:
        if proc.returncode < 0:
            sig = -proc.returncode
            try:
                sname = signal.Signals(sig).name
            except ValueError:
                sname = f"signal {sig}"
            res.update(status="fail", reason="crash", detail=f"killed by {sname}\n{last_lines(stderr)}")
            return res
        if proc.returncode != 0 and "kiln was built without" in stderr:
            # an optional library left out of this build (libtiff for ImageDecoder, ...): skipped, not failed
            res.update(status="skip", reason="not built", detail=last_lines(stderr))
            return res
        if proc.returncode != 0:
            res.update(status="fail", reason=classify_failure(stderr, model),
                       detail=f"exit {proc.returncode}\n{last_lines(stderr)}")
            return res
        outputs = model.graph.output
        expected_files = sorted(
            (f for f in os.listdir(data_set) if re.fullmatch(r"output_\d+\.pb", f)),
            key=lambda f: int(f[7:-3]),
        )
        produced = sorted(f for f in os.listdir(out_dir) if re.fullmatch(r"output_\d+\.pb", f))
        if len(produced) != len(expected_files):
            res.update(status="fail", reason="missing output" if len(produced) < len(expected_files) else "shape",
                       detail=f"wrote {len(produced)} output files, expected {len(expected_files)}")
            return res
        for f in expected_files:
            j = int(f[7:-3])
            tp = outputs[j].type
            exp = load_value(os.path.join(data_set, f), tp)
            got_path = os.path.join(out_dir, f)
            try:
                got = load_value(got_path, tp)
            except Exception as e:  # noqa: BLE001 - an unreadable output is a kiln bug, not a runner crash
                res.update(status="fail", reason="bad output file", detail=f"{f}: {e}")
                return res
            compare_value(exp, got, f"output {j} ('{outputs[j].name}')")
        res.update(status="pass", reason="")
        return res
    except Mismatch as m:
        res.update(status="fail", reason=m.kind, detail=m.detail)
        return res
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ driver
def read_expected(path):
    cases = {}
    if not os.path.exists(path):
        return cases
    with open(path, encoding="utf-8") as f:
        for line in f:
            body, _, reason = line.partition("#")
            body = body.strip()
            if body:
                cases[body] = reason.strip()
    return cases


AUTO_REASON = re.compile(r"^(unsupported|mismatch|shape|dtype|kind|crash|timeout|error|missing output|"
                         r"bad output file)\b")
COMPARISON_FAILURES = {"mismatch", "shape", "dtype", "kind"}


def write_expected(path, results, previous, filtered):
    """One line per failing case. With --filter, entries of cases outside the subset are kept as they were.

    A hand-written reason (one that is not an automatic classification) explains a known result difference: it is
    kept while the case still fails by a comparison (mismatch / shape / dtype / kind); any other failure replaces
    it with the new classification."""
    lines = {}
    if filtered:
        lines.update(previous)
        for r in results:
            lines.pop(r["case"], None)
    for r in results:
        if r["status"] != "fail":
            continue
        old = previous.get(r["case"])
        if old and not AUTO_REASON.match(old) and r["reason"] in COMPARISON_FAILURES:
            lines[r["case"]] = old
        else:
            lines[r["case"]] = r["reason"]
    with open(path, "w", encoding="utf-8") as f:
        f.write("# ONNX node tests kiln does not pass yet, one per line: test name  # reason.\n")
        f.write("# Regenerate from a real run: run_conformance.py --kiln build/kiln --update-expected\n")
        f.write("# A reason written by hand (an explanation instead of a classification) survives regeneration while\n")
        f.write("# the case still fails by a result mismatch.\n")
        for case in sorted(lines):
            f.write(f"{case}  # {lines[case]}\n")


def find_cases(root, pattern):
    if not os.path.isdir(root):
        return []
    cases = []
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if not name.startswith("test_") or not os.path.isfile(os.path.join(d, "model.onnx")):
            continue
        if pattern and not pattern.search(name):
            continue
        sets = sorted(
            (os.path.join(d, s) for s in os.listdir(d) if re.fullmatch(r"test_data_set_\d+", s)),
            key=lambda s: int(s.rsplit("_", 1)[1]),
        )
        for s in sets:
            cases.append((d, s))
    return cases


def extract(tarball, dest):
    """Extracts the corpus once; a stamp file marks a complete extraction."""
    stamp = os.path.join(dest, ".extracted")
    if os.path.exists(stamp):
        return
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    with tarfile.open(tarball) as tf:
        tf.extractall(dest, filter="data") if hasattr(tarfile, "data_filter") else tf.extractall(dest)
    with open(stamp, "w", encoding="utf-8") as f:
        f.write(os.path.basename(tarball) + "\n")


def cases_root(path):
    """Accepts the extraction folder or its node/ subfolder."""
    node = os.path.join(path, "node")
    return node if os.path.isdir(node) else path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kiln", required=True, help="path to the kiln binary")
    ap.add_argument("--cases", required=True,
                    help="folder holding the test_* case folders (or the folder the corpus was extracted into)")
    ap.add_argument("--tarball", help="extract this corpus into --cases first when it is not there yet")
    ap.add_argument("--expected", default=DEFAULT_EXPECTED, help="expected-fail list (default: %(default)s)")
    ap.add_argument("--filter", help="only cases whose name matches this regular expression (re.search)")
    ap.add_argument("--report", help="write a per-case JSON report here")
    ap.add_argument("--update-expected", action="store_true",
                    help="rewrite the expected-fail list from this run (one line per failing case)")
    ap.add_argument("--strict", action="store_true", help="an expected-fail case that passes is a failure too")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case (default: %(default)s)")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="parallel cases")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every unexpected failure in full")
    args = ap.parse_args()

    kiln = os.path.abspath(args.kiln)
    if not (os.path.isfile(kiln) and os.access(kiln, os.X_OK)):
        sys.stderr.write(f"run_conformance.py: kiln binary not found or not executable: {kiln}\n")
        return 2
    if args.tarball:
        try:
            extract(args.tarball, args.cases)
        except (OSError, tarfile.TarError) as e:
            sys.stderr.write(f"run_conformance.py: cannot extract {args.tarball} into {args.cases}: {e}\n")
            return 2
    try:
        pattern = re.compile(args.filter) if args.filter else None
    except re.error as e:
        sys.stderr.write(f"run_conformance.py: bad --filter regex: {e}\n")
        return 2
    root = cases_root(args.cases)
    cases = find_cases(root, pattern)
    if not cases:
        sys.stderr.write(f"run_conformance.py: no test cases found under {root}"
                         + (f" matching {args.filter!r}" if args.filter else "") + "\n")
        return 2
    expected = read_expected(args.expected)

    env = dict(os.environ)
    if args.jobs > 1:
        # Cases already run in parallel: one kernel thread each keeps the machine from being oversubscribed.
        env.setdefault("KILN_NUM_THREADS", "1")
    work_root = tempfile.mkdtemp(prefix="kiln-conformance.")
    t0 = time.monotonic()
    results = []
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futs = [pool.submit(run_case, kiln, d, s, args.timeout, work_root, env) for d, s in cases]
            for fut in futs:
                results.append(fut.result())
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    elapsed = time.monotonic() - t0

    passed = [r for r in results if r["status"] == "pass"]
    unexpected = [r for r in results if r["status"] == "fail" and r["case"] not in expected]
    still_failing = [r for r in results if r["status"] == "fail" and r["case"] in expected]
    skipped = [r for r in results if r["status"] == "skip"]
    now_passing = [r for r in results if r["status"] == "pass" and r["case"] in expected]
    for r in results:
        r["expected_fail"] = r["case"] in expected

    for r in unexpected:
        detail = r.get("detail", "")
        if not args.verbose:
            detail = detail.splitlines()[-1] if detail else ""
        print(f"FAIL {r['case']}: {r['reason']}" + (f": {detail}" if detail else ""))
    for r in now_passing:
        print(f"NOW PASSING (listed in {os.path.basename(args.expected)}) {r['case']}")

    print(f"conformance: {len(passed)} passed, {len(unexpected)} failed")
    print(f"expected fails: {len(still_failing)} (still failing), {len(now_passing)} now passing")
    if skipped:
        print(f"skipped: {len(skipped)} (this kiln was built without a library they need: "
              + ", ".join(r["case"] for r in skipped) + ")")
    reasons = {}
    for r in results:
        if r["status"] == "fail":
            key = "unsupported op" if r["reason"].startswith("unsupported op") else r["reason"]
            reasons[key] = reasons.get(key, 0) + 1
    if reasons:
        print("failure reasons: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])))
    print(f"({len(results)} data sets in {elapsed:.1f} s, {args.jobs} jobs)")

    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump({
                "kiln": kiln,
                "passed": len(passed),
                "failed": len(unexpected),
                "expected_fail_still_failing": len(still_failing),
                "expected_fail_now_passing": len(now_passing),
                "seconds": round(elapsed, 1),
                "cases": {r["case"]: {k: v for k, v in r.items() if k != "case"} for r in results},
            }, f, indent=1, sort_keys=True)
            f.write("\n")
    if args.update_expected:
        write_expected(args.expected, results, expected, bool(args.filter))
        n = sum(1 for _ in read_expected(args.expected))
        print(f"wrote {args.expected} ({n} entries)")
        return 0
    if unexpected or (args.strict and now_passing):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
