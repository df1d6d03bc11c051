"""Speed of `oddsight.score` against the `oddsight score` command line and against what a
Python user would otherwise pick, on the same seeded series, in one run.

    python bindings-python/benches/compare.py [--n 1000000] [--cli target/release/oddsight]

Prints seconds and the ratio to `oddsight.score` for each tool found; tools that are not
installed (river, adtk, scikit-learn, isotree, pyod, pandas) are listed as skipped. Every tool
does its natural equivalent of "score each point of a univariate series for anomalies":
- oddsight CLI: `oddsight score` on the same data as CSV (parse, score, write);
- pandas: rolling mean/std z-score over 720 points (a batch approximation, not streaming);
- river: `anomaly.HalfSpaceTrees` (streaming, per point) on a subsample, extrapolated;
- adtk: `LevelShiftAD` + `PersistAD` on a datetime-indexed series;
- scikit-learn / isotree / pyod: isolation forests fit and scored on a window embedding of 8
  consecutive values (batch; the usual way to use them on a series).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import oddsight

ROOT = Path(__file__).resolve().parents[2]


def series(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    values = 100 + 10 * np.sin(i / 1440 * 2 * np.pi) + rng.normal(0, 2, n)
    spikes = rng.choice(n, size=max(1, n // 10_000), replace=False)
    values[spikes] += rng.normal(0, 30, spikes.size)
    return np.round(values, 4), 1_600_000_000_000 + i.astype(np.int64) * 60_000


def timed(f, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    return best


def embed(values: np.ndarray, width: int = 8) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(values, width)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--cli", default=str(ROOT / "target" / "release" / "oddsight"))
    ap.add_argument("--detector", default="default")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    values, ts = series(args.n)
    results: dict[str, float | str] = {}

    results["oddsight.score"] = timed(lambda: oddsight.score(values, ts, args.detector), args.repeat)
    if os.path.exists(args.cli):
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "in.csv"
            np.savetxt(src, np.c_[ts, values], fmt=["%d", "%.4f"], delimiter=",", header="timestamp,value", comments="")
            out = Path(d) / "out.csv"
            cmd = [args.cli, "score", "--quiet", "--time-unit", "ms", "--detector", args.detector, str(src), str(out)]
            results["oddsight CLI (CSV in and out)"] = timed(lambda: subprocess.run(cmd, check=True), args.repeat)
    else:
        results["oddsight CLI (CSV in and out)"] = f"skipped: no {args.cli}"

    try:
        import pandas as pd

        s = pd.Series(values)
        results["pandas rolling z (720)"] = timed(
            lambda: ((s - s.rolling(720, min_periods=30).mean()) / s.rolling(720, min_periods=30).std()).abs(),
            args.repeat,
        )
    except ImportError:
        results["pandas rolling z (720)"] = "skipped: not installed"

    try:
        from river import anomaly

        m = min(args.n, 20_000)

        def river_run() -> None:
            model = anomaly.HalfSpaceTrees(seed=1)
            for v in values[:m]:
                x = {"v": float(v)}
                model.score_one(x)
                model.learn_one(x)

        results["river HalfSpaceTrees (extrapolated)"] = timed(river_run) * args.n / m
    except ImportError:
        results["river HalfSpaceTrees (extrapolated)"] = "skipped: not installed"

    try:
        import pandas as pd
        from adtk.detector import LevelShiftAD, PersistAD

        s = pd.Series(values, index=pd.to_datetime(ts, unit="ms"))

        def adtk_run() -> None:
            LevelShiftAD(c=6.0, window=5).fit_detect(s)
            PersistAD(c=3.0, window=30).fit_detect(s)

        results["adtk LevelShift+Persist"] = timed(adtk_run)
    except ImportError:
        results["adtk LevelShift+Persist"] = "skipped: not installed"
    except Exception as e:  # noqa: BLE001 (adtk 0.6 predates pandas 2/3)
        results["adtk LevelShift+Persist"] = f"failed: {type(e).__name__}"

    x = embed(values)
    try:
        from sklearn.ensemble import IsolationForest

        results["scikit-learn IsolationForest (window 8)"] = timed(
            lambda: IsolationForest(n_estimators=100, random_state=1).fit(x).score_samples(x)
        )
    except ImportError:
        results["scikit-learn IsolationForest (window 8)"] = "skipped: not installed"
    try:
        from isotree import IsolationForest as IsoTree

        results["isotree IsolationForest (window 8)"] = timed(
            lambda: IsoTree(ntrees=100, random_seed=1).fit(x).predict(x)
        )
    except ImportError:
        results["isotree IsolationForest (window 8)"] = "skipped: not installed"
    try:
        from pyod.models.iforest import IForest

        results["pyod IForest (window 8)"] = timed(lambda: IForest(random_state=1).fit(x).decision_function(x))
    except ImportError:
        results["pyod IForest (window 8)"] = "skipped: not installed"

    base = results["oddsight.score"]
    assert isinstance(base, float)
    print(f"{args.n} points, detector {args.detector!r}, best of {args.repeat} where repeated\n")
    print(f"{'tool':45} {'seconds':>10} {'vs oddsight.score':>18}")
    for name, t in results.items():
        if isinstance(t, float):
            print(f"{name:45} {t:10.3f} {t / base:17.2f}x")
        else:
            print(f"{name:45} {t:>29}")


if __name__ == "__main__":
    main()
