#!/usr/bin/env python3
"""Prints the latest criterion results as a markdown table: median time per iteration and the
points per second it gives, read from target/criterion/*/new/{benchmark,estimates,sample}.json.

The last column is the fastest of criterion's samples (time per iteration of the quickest
batch): on a machine shared with other work it is the closest the run came to an undisturbed
core, and on a quiet machine it sits just above the median.

    cargo bench -p oddsight-benches -- --warm-up-time 1 --measurement-time 3
    python3 benches/compare/criterion_table.py

Standard library only.
"""

import glob
import json
import os
import sys


def human_time(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main() -> int:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    rows = []
    for path in sorted(glob.glob(os.path.join(target, "criterion", "**", "new", "benchmark.json"), recursive=True)):
        with open(path) as f:
            bench = json.load(f)
        with open(os.path.join(os.path.dirname(path), "estimates.json")) as f:
            estimates = json.load(f)
        with open(os.path.join(os.path.dirname(path), "sample.json")) as f:
            sample = json.load(f)
        fastest = min(t / n for t, n in zip(sample["times"], sample["iters"]))
        median = estimates["median"]["point_estimate"]
        mad = estimates["median_abs_dev"]["point_estimate"]
        elements = (bench.get("throughput") or {}).get("Elements")
        rate = f"{elements / median * 1e3:.1f}" if elements else "-"
        per_point = f"{median / elements:.2f}" if elements else "-"
        best = f"{elements / fastest * 1e3:.1f}" if elements else "-"
        rows.append((bench["full_id"], human_time(median), human_time(mad), elements or "-", per_point, rate, best))
    if not rows:
        print("no criterion results under", target, file=sys.stderr)
        return 1
    print("| bench | median / iteration | MAD | points / iteration | ns / point | M points/s | fastest sample, M points/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
