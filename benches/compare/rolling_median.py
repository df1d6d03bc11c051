#!/usr/bin/env python3
"""pandas' rolling(1440).median() against oddsight's QuantileWindow, on the same data.

The series comes from the benches' own seeded generators (through the `rolling` example, so it
is the data the criterion benches time), pandas' medians are checked against ours, and both are
timed on this machine:

    python3 benches/compare/rolling_median.py                 # iid noise, 200,000 points
    python3 benches/compare/rolling_median.py --shape telemetry --n 500000

Needs pandas (for example `python3 -m venv /tmp/pd && /tmp/pd/bin/pip install pandas`, then run
the script with `/tmp/pd/bin/python`) and cargo. Nothing in the test suite depends on it.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

WINDOW = 1440


def cargo(*args: str) -> str:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "oddsight-benches", "--example", "rolling", "--", *args]
    return subprocess.run(cmd, cwd=root, check=True, capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=["iid", "telemetry"], default="iid")
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5, help="pandas runs; the best one counts")
    args = parser.parse_args()

    try:
        import numpy as np
        import pandas as pd
    except ImportError:
        print("pandas is not installed; see the docstring of this script", file=sys.stderr)
        return 2

    spec = [args.shape, str(args.n), str(args.seed)]
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write(cargo("dump", *spec))
        path = f.name
    try:
        frame = pd.read_csv(path)
    finally:
        os.unlink(path)
    values = frame["value"]

    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        theirs = values.rolling(WINDOW).median()
        best = min(best, time.perf_counter() - start)
    pandas_rate = len(values) / best

    ours = frame["median"].to_numpy()
    theirs = theirs.to_numpy()
    both = ~np.isnan(ours)
    if not np.array_equal(np.isnan(theirs), ~both) or not np.array_equal(ours[both], theirs[both]):
        worst = np.nanmax(np.abs(ours - theirs))
        print(f"medians differ from pandas' (largest difference {worst:g})", file=sys.stderr)
        return 1

    rates = dict(line.rsplit(" ", 2)[:2] for line in cargo("time", *spec).splitlines())
    ours_median = float(rates["learn+median"])
    ours_robust = float(rates["learn+robust"])

    print(f"{args.shape}, {len(values):,} points, window {WINDOW}; medians identical to pandas'")
    print(f"{'pandas rolling(1440).median()':40} {pandas_rate / 1e6:8.2f} M points/s")
    print(f"{'QuantileWindow learn + median':40} {ours_median / 1e6:8.2f} M points/s  {ours_median / pandas_rate:6.1f}x")
    print(f"{'QuantileWindow learn + robust (+ MAD)':40} {ours_robust / 1e6:8.2f} M points/s  {ours_robust / pandas_rate:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
