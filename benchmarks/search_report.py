"""The time-to-quality report: the table, the verdict of the Must-show, the figure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from search_curves import median_time, quantile_curves, time_to_target

# Issue 19's Must-show, on the digits workload.
SPEEDUP_OVER_OPTUNA = 3.0  # jaxtune's best reaches Optuna TPE+HB's final best in <= 1/3
VERDICT_WORKLOAD = "digits"
VERDICT_TARGET = 0.98  # no jaxtune strategy slower than Optuna random+median to this


def _fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _fmt_acc(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{100 * value:.2f}"


def table_rows(entries: dict[str, Any], targets: Sequence[float]) -> list[list[str]]:
    """One row per strategy: trials, final best, first result, time to each target."""
    rows = []
    for name, e in entries.items():
        if e["status"] != "ok":
            rows.append([name, e["status"]] + ["-"] * (3 + len(targets)))
            continue
        s = e["summary"]
        fb = s["final_best"]
        spread = f"{_fmt_acc(fb['min'])}-{_fmt_acc(fb['max'])}"
        row = [name, "ok", f"{int(np.median(e['trials']))}",
               f"{_fmt_acc(fb['median'])} ({spread})", _fmt_s(s["first_result_s"])]  # fmt: skip
        for target in targets:
            tt = s["time_to"][f"{target:.4f}"]
            times = [t for t in tt["per_seed"] if t is not None]
            rng = f" ({min(times):.1f}-{max(times):.1f})" if times else ""
            n = len(tt["per_seed"])
            row.append(f"{_fmt_s(tt['median_s'])}{rng} [{tt['reached']}/{n}]")
        rows.append(row)
    return rows


def headers(targets: Sequence[float]) -> list[str]:
    """Column names of :func:`table_rows`."""
    return ["strategy", "status", "trials", "final best % (min-max)", "1st result s"] + [
        f"s to {100 * t:.1f}% [seeds]" for t in targets
    ]


def print_table(name: str, w: dict[str, Any]) -> str:
    """Prints a workload's table (and returns it as Markdown for the README)."""
    head = headers(w["targets"])
    rows = table_rows(w["strategies"], w["targets"])
    print(f"\n{name}: {w['label']}; budget {w['budget_s']:.0f} s x {w['seeds']} seeds "
          "(medians over seeds; times in s since the run started, compile included)")  # fmt: skip
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(c.ljust(wd) for c, wd in zip(r, widths, strict=True)))
    md = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(md)


def _curves(entry: dict[str, Any]) -> list[list[tuple[float, float]]]:
    return [[tuple(p) for p in c] for c in entry.get("curves", [])]


def verdict(results: dict[str, Any]) -> list[dict[str, Any]]:
    """PASS/FAIL (None: not measured) of the Must-show, on the digits workload."""
    w = results.get(VERDICT_WORKLOAD)
    out: list[dict[str, Any]] = []
    name1 = (f"jaxtune's best strategy reaches Optuna TPE+HB's final best in <= "
             f"1/{SPEEDUP_OVER_OPTUNA:.0f} of Optuna's time (median over seeds)")  # fmt: skip
    name2 = (f"no jaxtune strategy slower than Optuna random+median pruner to reach "
             f"{100 * VERDICT_TARGET:.1f}% (median over seeds)")  # fmt: skip
    if w is None:
        return [{"target": n, "pass": None, "detail": "not measured"} for n in (name1, name2)]
    ent = w["strategies"]
    ours = {k: v for k, v in ent.items() if k.startswith("jaxtune") and v["status"] == "ok"}
    tpe = ent.get("optuna TPE+HB", {})
    if tpe.get("status") == "ok" and ours and tpe["summary"]["final_best"]["median"]:
        goal = tpe["summary"]["final_best"]["median"]
        t_opt = median_time([time_to_target(c, goal) for c in _curves(tpe)])
        times = {k: median_time([time_to_target(c, goal) for c in _curves(v)])
                 for k, v in ours.items()}  # fmt: skip
        reached = {k: t for k, t in times.items() if t is not None}
        best = min(reached, key=reached.get) if reached else None
        ok = (
            t_opt is not None and best is not None and reached[best] * SPEEDUP_OVER_OPTUNA <= t_opt
        )
        detail = (f"Optuna TPE+HB median final best {100 * goal:.2f}%, reached in "
                  f"{_fmt_s(t_opt)} s; " + (f"{best} reaches it in {reached[best]:.1f} s "
                  f"({t_opt / reached[best]:.1f}x faster)" if best and t_opt else
                  "no jaxtune strategy reaches it (median)"))  # fmt: skip
        out.append({"target": name1, "pass": ok, "detail": detail, "times_s": times,
                    "optuna_s": t_opt, "accuracy": goal})  # fmt: skip
    else:
        out.append({"target": name1, "pass": None, "detail": "Optuna TPE+HB or jaxtune not run"})
    rnd = ent.get("optuna random+median", {})
    key = f"{VERDICT_TARGET:.4f}"
    if rnd.get("status") == "ok" and ours:
        t_rnd = rnd["summary"]["time_to"].get(key, {}).get("median_s")
        times = {k: v["summary"]["time_to"].get(key, {}).get("median_s") for k, v in ours.items()}
        slower = [k for k, t in times.items() if t_rnd is not None and (t is None or t > t_rnd)]
        if t_rnd is None and all(t is None for t in times.values()):
            state, detail = None, "neither reached it within the budget"
        else:
            state = not slower
            detail = (
                f"Optuna random+median {_fmt_s(t_rnd)} s; "
                + ", ".join(f"{k} {_fmt_s(t)} s" for k, t in times.items())
                + (f"; slower: {', '.join(slower)}" if slower else "")
            )
        out.append({"target": name2, "pass": state, "detail": detail, "times_s": times,
                    "optuna_s": t_rnd})  # fmt: skip
    else:
        out.append({"target": name2, "pass": None, "detail": "Optuna random or jaxtune not run"})
    return out


def print_verdict(items: list[dict[str, Any]], profile_name: str) -> None:
    """The verdict block."""
    print(f"\nVerdict ({profile_name} run; issue 19's Must-show, digits workload)")
    for item in items:
        state = {True: "PASS", False: "FAIL", None: "n/a "}[item["pass"]]
        print(f"  {state}  {item['target']}  [{item['detail']}]")


def figure(results: dict[str, Any], path: Path, title: str) -> Path | None:
    """Best-so-far validation accuracy against wall time, median and quartiles over seeds,
    one panel per workload; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = list(results)
    fig, axes = plt.subplots(1, len(names), figsize=(6.4 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        w = results[name]
        grid = np.linspace(0, w["budget_s"], 200)
        for i, (label, e) in enumerate(w["strategies"].items()):
            if e["status"] != "ok":
                continue
            q = quantile_curves(_curves(e), grid)
            style = "-" if label.startswith("jaxtune") else "--"
            (line,) = ax.step(grid, 100 * q[0.5], where="post", ls=style, label=label,
                              color=f"C{i % 10}")  # fmt: skip
            ax.fill_between(grid, 100 * q[0.25], 100 * q[0.75], step="post", alpha=0.15,
                            color=line.get_color())  # fmt: skip
        for t in w["targets"]:
            ax.axhline(100 * t, color="grey", lw=0.6, ls=":")
        lows = [e["summary"]["final_best"]["min"] for e in w["strategies"].values()
                if e["status"] == "ok" and e["summary"]["final_best"]["min"]]  # fmt: skip
        low = min([*lows, min(w["targets"])]) if lows else min(w["targets"])
        ax.set_ylim(100 * low - 1.0, 100.0)
        ax.set_xlim(0, w["budget_s"])
        ax.set_xlabel("wall time, s (compile included)")
        ax.set_ylabel("best validation accuracy so far, %")
        ax.set_title(f"{name}: median and quartiles of {w['seeds']} seeds", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
