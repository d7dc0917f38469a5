"""The report: tables on stdout, the verdict against the targets, strict JSON."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from methods import LABELS, METHODS
from workloads import Profile

# Targets of the verdict block (2-core CPU).
TARGET_D_OVER_A = 20.0  # on W2 at N=256
TARGET_D_OVER_B = 0.9  # every workload and N
TARGET_CEILING = 0.70  # D on W2 at N >= 64, fraction of the large-matmul ceiling


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


def verdict(results: dict[str, Any]) -> list[dict[str, Any]]:
    """PASS/FAIL (or n/a when not measured) for each target, with the numbers."""
    out = []
    w2 = results.get("W2", {}).get("cells", {})
    c256 = w2.get("256", {})
    v = c256.get("speedup_of_D", {}).get("A")
    out.append(
        {
            "target": f"D >= {TARGET_D_OVER_A:.0f}x A on W2 at N=256",
            "value": v,
            "unit": "x",
            "pass": None if v is None else v >= TARGET_D_OVER_A,
            "detail": "" if v is not None else "not measured (N=256 on W2 not run, or skipped)",
        }
    )
    ratios = [
        (wname, n, cell["speedup_of_D"]["B"])
        for wname, w in results.items()
        for n, cell in w["cells"].items()
        if "B" in cell.get("speedup_of_D", {})
    ]
    worst = min(ratios, key=lambda t: t[2]) if ratios else None
    below = [f"{w} N={n}: {r:.2f}x" for w, n, r in ratios if r < TARGET_D_OVER_B]
    out.append(
        {
            "target": f"D >= {TARGET_D_OVER_B}x B for every workload and N",
            "value": worst[2] if worst else None,
            "unit": "x",
            "pass": None if worst is None else not below,
            "detail": (
                f"worst {worst[0]} N={worst[1]} over {len(ratios)} cells"
                + (f"; below: {', '.join(below)}" if below else "")
                if worst
                else "not measured"
            ),
        }
    )
    fracs = [
        (int(n), cell["D"]["fraction_of_ceiling"])
        for n, cell in w2.items()
        if int(n) >= 64 and cell.get("D", {}).get("status") == "ok"
    ]
    out.append(
        {
            "target": f"D >= {100 * TARGET_CEILING:.0f}% of the large-matmul ceiling on W2, "
            "every N >= 64",
            "value": min(f for _, f in fracs) if fracs else None,
            "unit": "%",
            "pass": None if not fracs else all(f >= TARGET_CEILING for _, f in fracs),
            "detail": ", ".join(f"N={n}: {100 * f:.0f}%" for n, f in fracs) or "not measured",
        }
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
