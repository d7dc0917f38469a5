"""The report: tables on stdout, the verdict against the targets, strict JSON."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from methods import LABELS, METHODS
from workloads import Profile

# Targets of the verdict block (issue 12, 2-core CPU).
TARGET_SHARED_OVER_OWN = 1.4  # D (shared order) over Dp (own order), W2 at N=256
TARGET_D_OVER_E = 1.3  # D over hyperoptax on the same training function, W2 at N=256
TARGET_D_OVER_BEST = 0.95  # D over the best of B and E, every workload and N


def strict_json(value: Any) -> Any:
    """``value`` with non-finite floats as None and tuples as lists (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def fmt_rate(entry: dict[str, Any] | None) -> str:
    """A table cell: trials/s, or why there is none."""
    if not entry:
        return "-"
    if entry["status"] == "ok":
        rate = entry["trials_per_s"]
        text = f"{rate:.3g}" if rate < 100 else f"{rate:.0f}"
        return f"{text} (k={entry['chunk']})" if "chunk" in entry else text
    if entry["status"] == "not available":
        return "n/a"
    return entry["reason"] if entry["status"] == "skipped" else "error"


def print_workload(name: str, r: dict[str, Any], ceiling: float) -> None:
    """The table of one workload: methods down, N across."""
    ns = list(r["cells"])
    width = 20
    head = f"{'':<24}" + "".join(f"{'N=' + n:>{width}}" for n in ns)
    print(
        f"\n{name}  {r['label']}, batch {r['batch']}, {r['epochs']} epochs, "
        f"{r['flops_per_trial'] / 1e9:.4f} GFLOP/trial, {r['n_train']} train / {r['n_val']} val"
    )
    print(f"{'trials/s (median)':<24}{head[24:]}")
    print("-" * len(head))
    cells = r["cells"]
    for m in METHODS:
        label = LABELS[m]
        if m == "E":
            ok = [c["E"] for c in cells.values() if c.get("E", {}).get("status") == "ok"]
            if ok:
                label = f"E  hyperoptax P<={max(e['n_parallel'] for e in ok)}"
        print(f"{label:<24}" + "".join(f"{fmt_rate(cells[n].get(m)):>{width}}" for n in ns))
    for other in ("A", "B", "C-random", "C-TPE", "E"):
        row = [cells[n]["speedup_of_D"].get(other) for n in ns]
        print(
            f"{'D / ' + other:<24}"
            + "".join(f"{(f'{v:.2f}x' if v else '-'):>{width}}" for v in row)
        )
    for m in ("D", "D'", "B"):
        row = []
        for n in ns:
            e = cells[n].get(m, {})
            ok = e.get("status") == "ok"
            row.append(f"{e['gflops']:.1f} ({100 * e['fraction_of_ceiling']:.0f}%)" if ok else "-")
        print(f"{m + ' GFLOP/s (% ceil)':<24}" + "".join(f"{v:>{width}}" for v in row))
    for m in METHODS:
        row = []
        for n in ns:
            e = cells[n].get(m, {})
            row.append(f"{e['compile_s']:.2f}" if e.get("status") == "ok" else "-")
        print(f"{'compile s ' + m:<24}" + "".join(f"{v:>{width}}" for v in row))
    row = []
    for n in ns:
        a, d = (cells[n].get(m, {}).get("median_final_val_loss") for m in ("A", "D"))
        row.append(" | ".join("-" if v is None else f"{v:.3f}" for v in (a, d)))
    print(f"{'val loss A | D (median)':<24}" + "".join(f"{v:>{width}}" for v in row))
    diffs = [
        cells[n]["D"].get("b_vs_d_max_abs_diff_final_val_loss")
        for n in ns
        if cells[n].get("D", {}).get("status") == "ok"
    ]
    diffs = [d for d in diffs if d is not None and math.isfinite(d)]
    if diffs:
        print(f"B vs D final val loss, max |diff| over checked trials: {max(diffs):.2e}")
    print(f"peak RSS so far: {r['peak_rss_mb']:.0f} MiB (ceiling used: {ceiling:.1f} GFLOP/s)")


def _target(name: str, value: float | None, goal: float, detail: str) -> dict[str, Any]:
    return {
        "target": name,
        "value": value,
        "unit": "x",
        "pass": None if value is None else value >= goal,
        "detail": detail if value is not None else "not measured",
    }


def verdict(results: dict[str, Any]) -> list[dict[str, Any]]:
    """PASS/FAIL (or n/a when not measured) for each target, with the numbers."""
    c256 = results.get("W2", {}).get("cells", {}).get("256", {}).get("speedup_of_D", {})
    out = [
        _target(
            f"D (shared order) >= {TARGET_SHARED_OVER_OWN}x Dp (own order) on W2 at N=256",
            c256.get("Dp"),
            TARGET_SHARED_OVER_OWN,
            "same trainer, auto chunks",
        ),
        _target(
            f"D >= {TARGET_D_OVER_E}x E (hyperoptax) on W2 at N=256",
            c256.get("E"),
            TARGET_D_OVER_E,
            "E runs the same training function",
        ),
    ]
    ratios = []
    for wname, w in results.items():
        for n, cell in w["cells"].items():
            rates = [
                cell[m]["trials_per_s"]
                for m in ("B", "E")
                if cell.get(m, {}).get("status") == "ok"
            ]
            if rates and cell.get("D", {}).get("status") == "ok":
                ratios.append((wname, n, cell["D"]["trials_per_s"] / max(rates)))
    worst = min(ratios, key=lambda t: t[2]) if ratios else None
    below = [f"{w} N={n}: {r:.2f}x" for w, n, r in ratios if r < TARGET_D_OVER_BEST]
    out.append(
        _target(
            f"D >= {TARGET_D_OVER_BEST}x the best of B and E, every workload and N",
            worst[2] if worst else None,
            TARGET_D_OVER_BEST,
            (f"worst {worst[0]} N={worst[1]} over {len(ratios)} cells" if worst else "")
            + (f"; below: {', '.join(below)}" if below else ""),
        )
    )
    return out


def print_verdict(items: list[dict[str, Any]], profile: Profile) -> None:
    """The verdict block."""
    print(f"\nVerdict ({profile.name} run; targets are for the full run on a 2-core CPU)")
    for item in items:
        state = {True: "PASS", False: "FAIL", None: "n/a "}[item["pass"]]
        value = item["value"]
        if value is None:
            shown = ""
        elif item["unit"] == "%":
            shown = f" {100 * value:.0f}%"
        else:
            shown = f" {value:.2f}x"
        print(f"  {state}  {item['target']}:{shown}  [{item['detail']}]")
