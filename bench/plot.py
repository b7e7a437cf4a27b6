#!/usr/bin/env python3
"""Plots p99 latency against the number of appointments, one line per scenario, from the latest
run's rows of each size in bench/results/scale.json (run by bench/scale.py with matplotlib).

    plot.py RESULTS_JSON OUTPUT_PNG
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(results, output):
    with open(results) as f:
        rows = [r for r in json.load(f) if r.get("kind") == "scenario"]
    latest = {}
    for r in rows:  # the file is in run order: later rows replace earlier ones
        latest[(r["scenario"], r["size"])] = r
    # Only the scenarios of the latest run (a renamed or retired one would linger otherwise).
    last_run = rows[-1]["date"] if rows else None
    current = {r["scenario"] for r in rows if r["date"] == last_run}
    latest = {k: r for k, r in latest.items() if k[0] in current}
    scenarios = sorted({s for s, _ in latest})
    fig, ax = plt.subplots(figsize=(9, 5.5))
    colours = plt.get_cmap("tab20").colors
    for i, scenario in enumerate(scenarios):
        points = sorted((size, r["p99_ms"]) for (s, size), r in latest.items() if s == scenario)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="os^Dv<>"[i % 7],
                color=colours[i % len(colours)], label=scenario)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("appointments in the database")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_title("HealthSync release server under wrk: p99 against data size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    os.makedirs(os.path.dirname(output), exist_ok=True)
    fig.savefig(output, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
