"""Smoke tests of benchmarks/bench_sweep.py (the benchmark itself is not part of pytest).

``--smoke`` runs every method, the ceilings, the end-to-end Sweep and the compilation
cache probe at the tiniest sizes; the test checks that the JSON report has every field and
that its numbers are finite and positive. The helpers are checked against hand counts.
"""

import importlib
import importlib.util
import json
import math
import subprocess
import sys
from types import ModuleType

import pytest
from bench_import import BENCHMARKS, import_benchmark

BENCH = BENCHMARKS / "bench_sweep.py"
ALWAYS = ("A", "B", "C-random", "C-TPE", "D", "Dp", "D'")


@pytest.fixture(scope="module")
def workloads() -> ModuleType:
    """The workloads shared by the benchmarks and this test."""
    return import_benchmark("workloads")


@pytest.fixture(scope="module")
def measure() -> ModuleType:
    """Timing and the cells (for the skip estimate)."""
    return import_benchmark("measure")


@pytest.fixture(scope="module")
def report() -> ModuleType:
    """Tables and verdict (for the table cells)."""
    return import_benchmark("report")


def _positive(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_flop_counts(workloads):
    # 64-64-10: 64*64 + 64*10 multiply-adds per example.
    assert workloads.mlp_forward_flops([64, 64, 10]) == 2 * (64 * 64 + 64 * 10)
    # CNN 3x3 convs 1->16->32 on 8x8, then dense 8*8*32 -> 10.
    macs = 64 * 9 * 1 * 16 + 64 * 9 * 16 * 32 + 64 * 32 * 10
    assert workloads.cnn_forward_flops(8, 8, 1, (16, 32), 3, 10) == 2 * macs


def test_estimate_skips_from_previous_cell(measure, report):
    prev = {"status": "ok", "n": 16, "median_s": 1.6}  # 0.1 s per trial
    assert measure.estimate_seconds("B", 64, 3, prev) == pytest.approx(4 * 64 * 0.1)
    assert measure.estimate_seconds("B", 64, 3, None) is None
    # TPE's own share per trial (here 0.1 s beyond B's 0.1 s) grows with n.
    tpe = {**prev, "median_s": 3.2, "b_per_trial_s": 0.1}
    assert measure.estimate_seconds("C-TPE", 64, 3, tpe) == pytest.approx(4 * 64 * (0.1 + 0.4))
    assert report.fmt_rate({"status": "skipped", "reason": "skipped (est. 95 s)"}) == (
        "skipped (est. 95 s)"
    )


@pytest.mark.slow
def test_smoke_run_writes_a_complete_report(tmp_path, workloads):
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "Verdict" in proc.stdout
    (path,) = tmp_path.glob("bench_sweep-smoke-*.json")
    report = json.loads(path.read_text())  # strict JSON: no NaN

    meta = report["meta"]
    for key in ("jax", "jaxlib", "cpu_model", "backend", "device_kind"):
        assert isinstance(meta[key], str) and meta[key]
    assert meta["cpu_count"] >= 1 and meta["devices"]
    assert _positive(meta["peak_rss_mb"])

    ceilings = report["ceilings"]
    for when in ("start", "end"):
        for name in ("large_matmul", "batched_small_matmul"):
            assert _positive(ceilings[when][name]["gflops"])
    assert _positive(ceilings["used_gflops"])

    w1 = report["workloads"]["W1"]
    # W1 at smoke size: 256 samples -> 205 train / 51 val, batch 16 -> 12 steps, 1 epoch.
    forward = 2 * (16 * 32 + 32 * 32 + 32 * 2)
    assert w1["flops_per_trial"] == 12 * 3 * forward * 16 + forward * 51
    # ... which is what the shared workload counts for the same profile.
    wl = workloads.make_workload("W1", workloads.PROFILES["smoke"])
    assert w1["flops_per_trial"] == wl.flops_per_trial(report["profile"]["epochs"])
    assert w1["params"] == wl.params and w1["steps_per_epoch"] == wl.steps_per_epoch == 12
    cell = w1["cells"]["2"]
    has_hyperoptax = importlib.util.find_spec("hyperoptax") is not None
    expected = (*ALWAYS, "E") if has_hyperoptax else ALWAYS
    for method in expected:
        entry = cell[method]
        assert entry["status"] == "ok", (method, entry)
        for field in (
            "trials_per_s",
            "median_s",
            "first_call_s",
            "gflops",
            "fraction_of_ceiling",
            "peak_rss_mb",
        ):
            assert _positive(entry[field]), (method, field, entry[field])
        assert len(entry["seconds"]) >= 3 and all(_positive(s) for s in entry["seconds"])
        assert entry["compile_s"] >= 0
    if not has_hyperoptax:
        assert cell["E"]["status"] == "not available"
        assert cell["E"]["reason"].startswith("not available")
    assert cell["D"]["chunk"] in (1, 2)
    assert cell["D"]["b_vs_d_max_abs_diff_final_val_loss"] < 1e-4
    assert set(cell["speedup_of_D"]) >= set(expected) - {"D"}
    assert all(_positive(v) for v in cell["speedup_of_D"].values())

    sweep = report["extras"]["sweep"]
    assert _positive(sweep["trials_per_s"]) and _positive(sweep["first_run_s"])
    assert sweep["store_bytes"] > 0
    cache = report["extras"]["compile_cache"]
    for phase in ("cold", "warm"):
        assert cache[phase]["compile_s"] >= 0 and _positive(cache[phase]["first_call_s"])
    assert cache["warm"]["cache_entries"] > 0

    assert len(report["verdict"]) == 3
    for item in report["verdict"]:
        assert item["pass"] in (True, False, None) and item["target"]
