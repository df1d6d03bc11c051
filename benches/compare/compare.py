#!/usr/bin/env python3
"""oddsight against the tools a Python user would otherwise pick, on the same seeded data, in one run.

    benches/compare/run.sh            # sets up the virtualenv and the runners, then runs this
    benches/compare/run.sh --quick    # small sizes, a few seconds per tool

Two sections:

* **Streaming univariate scoring.** One seeded per-minute series (daily seasonality, Gaussian
  noise, injected spikes and level changes, every event labelled) is scored point by point by
  oddsight (through the Rust runner `compare_stream` and through the Python binding's batch API)
  and by river, pandas and ADTK. Speed is points per second; quality is measured against the
  labels (see `evaluate`).
* **Isolation forest.** Rows of 5 metrics with 1 % injected outliers; every forest has 100 trees
  of 256 samples, runs on one thread, is fitted on all rows and scores all rows: oddsight (Rust
  runner `compare_forest`) against scikit-learn, isotree and PyOD. Fit seconds, scored rows per
  second and ROC-AUC against the injected outliers.

Timing: every figure is the median over `--repeat` runs of the CPU time of the calling thread
(`time.thread_time()` in Python, `CLOCK_THREAD_CPUTIME_ID` in the Rust runners), so the other
work of a shared machine does not count. Every tool is held to one thread (`n_jobs=1`,
`nthreads=1`, and OMP/BLAS thread counts set to 1 by run.sh); a Python run whose process CPU time
exceeds its thread CPU time by more than 5 % is flagged, since work on another thread would be
missing from the figure. Wall-clock medians are printed beside the CPU medians. Only the
detector call is timed: reading the data and converting it is not. Each timed Python call gets
one untimed warm-up run first (not river's per-point loops, which have nothing to warm up and
take minutes); the Rust runners need none.

Standard library and numpy; each peer is optional (listed as skipped when it cannot be imported
or fails).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
MINUTE_MS = 60_000
DAY = 1440
# No event is injected, and nothing is scored, before this many points: every tool has warmed up.
WARMUP = 2 * DAY
# Detection windows: a spike counts as found if an alarm falls on it or on the two points after
# it; a level change if an alarm falls in its first 30 minutes.
SPIKE_TOLERANCE = 3
SHIFT_TOLERANCE = 30
# For ROC-AUC the first 10 points of a level change are positives, the next 50 are left out
# (a detector that has re-baselined by then is right not to flag them, one that has not is not
# wrong either), and so are the two points after a spike.
SHIFT_POSITIVE = 10
SHIFT_AMBIGUOUS = 60
# The window of the rolling z-scores and of the rolling median/MAD, on both sides.
WINDOW = 720


# --------------------------------------------------------------------------------------------
# Data


@dataclass
class Stream:
    """A labelled univariate series."""

    values: np.ndarray
    timestamps: np.ndarray
    spikes: np.ndarray  # indices
    shifts: np.ndarray  # onset indices of level changes (both into and out of a shifted level)


def stream_data(n: int, seed: int) -> Stream:
    """Per-minute telemetry: level 100, a daily cycle of amplitude 6, Gaussian noise of σ = 2.

    After `WARMUP` the series is cut into slots of 2,000 points, and each slot gets one event at
    a uniform position 200..1,800 into it: a spike (90 %) of ±5..10 σ on one point, or (10 %) a
    level change: from the base level to ±4..8 σ away, or, when already shifted, back to the
    base level. Events are thus at least 400 points apart.
    """
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    sigma = 2.0
    values = 100.0 + 6.0 * np.sin(2 * np.pi * i / DAY) + 2.0 * np.sin(4 * np.pi * i / DAY + 1.0)
    values += rng.normal(0.0, sigma, n)
    spikes, shifts = [], []
    level = np.zeros(n)
    offset = 0.0
    slot = 2000
    for start in range(WARMUP, n - slot + 1, slot):
        at = start + int(rng.integers(200, 1800))
        if rng.random() < 0.9:
            values[at] += rng.choice([-1.0, 1.0]) * rng.uniform(5.0, 10.0) * sigma
            spikes.append(at)
        else:
            new = rng.choice([-1.0, 1.0]) * rng.uniform(4.0, 8.0) * sigma if offset == 0.0 else 0.0
            level[at:] += new - offset
            offset = new
            shifts.append(at)
    values += level
    timestamps = 1_600_000_000_000 + i.astype(np.int64) * MINUTE_MS
    return Stream(np.round(values, 6), timestamps, np.array(spikes, dtype=np.int64), np.array(shifts, dtype=np.int64))


def forest_data(n: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `width` metrics: three correlated Gaussian clusters, and 1 % outliers drawn
    uniformly from the clusters' bounding box (so some of them land among ordinary rows)."""
    rng = np.random.default_rng(seed)
    outliers = max(1, n // 100)
    inliers = n - outliers
    parts = []
    sizes = rng.multinomial(inliers, [0.5, 0.3, 0.2])
    for size in sizes:
        centre = rng.uniform(-5.0, 5.0, width)
        mixing = rng.normal(0.0, 1.0, (width, width)) / np.sqrt(width)
        parts.append(centre + rng.normal(0.0, 1.0, (size, width)) @ mixing)
    normal = np.vstack(parts)
    lo, hi = normal.min(axis=0), normal.max(axis=0)
    odd = rng.uniform(lo, hi, (outliers, width))
    rows = np.vstack([normal, odd])
    labels = np.r_[np.zeros(inliers, dtype=bool), np.ones(outliers, dtype=bool)]
    order = rng.permutation(n)
    return np.ascontiguousarray(rows[order]), labels[order]


# --------------------------------------------------------------------------------------------
# Quality


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties counted half); NaN scores count as lowest."""
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    labels = np.asarray(labels, dtype=bool)
    pos = int(labels.sum())
    neg = labels.size - pos
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    _, first, counts = np.unique(s[order], return_index=True, return_counts=True)
    ranks = np.empty(s.size)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def evaluate(data: Stream, scores: np.ndarray | None, flags: np.ndarray) -> dict[str, float]:
    """Quality of one tool's output on the labelled series, from `WARMUP` on.

    * ROC-AUC of the scores, per point: positives are the spikes and the first
      `SHIFT_POSITIVE` points of each level change (see the constants for what is left out).
    * Event recall at the tool's own decisions: the share of spikes (of level changes) with an
      alarm within `SPIKE_TOLERANCE` (`SHIFT_TOLERANCE`) points of the event.
    * Precision of the alarms: consecutive alarmed points form one alarm; an alarm is right if
      it overlaps an event's detection window.
    * F1 of that precision and the recall over all events; `flagged` is the share of points
      alarmed.
    """
    n = data.values.size
    flags = np.asarray(flags, dtype=bool).copy()
    flags[:WARMUP] = False
    window = np.zeros(n, dtype=bool)
    for at in data.spikes:
        window[at : at + SPIKE_TOLERANCE] = True
    for at in data.shifts:
        window[at : at + SHIFT_TOLERANCE] = True

    def found(events: np.ndarray, tolerance: int) -> int:
        return sum(bool(flags[at : at + tolerance].any()) for at in events)

    spikes_found = found(data.spikes, SPIKE_TOLERANCE)
    shifts_found = found(data.shifts, SHIFT_TOLERANCE)
    starts = np.flatnonzero(flags & ~np.r_[False, flags[:-1]])
    ends = np.flatnonzero(flags & ~np.r_[flags[1:], False]) + 1
    alarms = starts.size
    right = sum(bool(window[a:b].any()) for a, b in zip(starts, ends))
    events = data.spikes.size + data.shifts.size
    recall = (spikes_found + shifts_found) / events if events else float("nan")
    precision = right / alarms if alarms else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if alarms and precision + recall > 0 else 0.0
    out = {
        "precision": precision,
        "recall_spikes": spikes_found / data.spikes.size if data.spikes.size else float("nan"),
        "recall_shifts": shifts_found / data.shifts.size if data.shifts.size else float("nan"),
        "recall": recall,
        "f1": f1,
        "flagged": float(flags[WARMUP:].mean()) if n > WARMUP else float("nan"),
        "alarms": float(alarms),
    }
    if scores is not None:
        positive = np.zeros(n, dtype=bool)
        keep = np.ones(n, dtype=bool)
        keep[:WARMUP] = False
        positive[data.spikes] = True
        for at in data.spikes:
            keep[at + 1 : at + SPIKE_TOLERANCE] = False
        for at in data.shifts:
            positive[at : at + SHIFT_POSITIVE] = True
            keep[at + SHIFT_POSITIVE : at + SHIFT_AMBIGUOUS] = False
        out["roc_auc"] = roc_auc(np.asarray(scores)[keep], positive[keep])
    return out


# --------------------------------------------------------------------------------------------
# Timing


@dataclass
class Row:
    """One tool's result in one section."""

    section: str
    tool: str
    what: str
    items: int
    cpu_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    versus: str | None = None
    note: str = ""
    skipped: str = ""

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_s) if self.cpu_s else float("nan")

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_s) if self.wall_s else float("nan")


def measure(run: Callable[[], Any], repeat: int, warm_up: bool = True) -> tuple[list[float], list[float], Any, bool]:
    """Runs `run` `repeat` times: thread-CPU and wall seconds of each run, the last result, and
    whether any run used noticeably more process CPU than thread CPU (work on other threads).

    With `warm_up`, one untimed run comes first: the first call into a library pays for lazy
    imports and set-up (scikit-learn's first fit takes several times its later ones)."""
    cpu, wall, other_threads, result = [], [], False, None
    if warm_up:
        run()
    for _ in range(repeat):
        result = None
        gc.collect()
        p0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
        result = run()
        w1, t1, p1 = time.perf_counter(), time.thread_time(), time.process_time()
        cpu.append(t1 - t0)
        wall.append(w1 - w0)
        if (p1 - p0) > 1.05 * (t1 - t0) + 0.005:
            other_threads = True
    return cpu, wall, result, other_threads


def attempt(rows: list[Row], row: Row, body: Callable[[Row], None]) -> None:
    """Runs one tool, recording why it was skipped if it cannot be imported or fails."""
    t = time.perf_counter()
    try:
        body(row)
    except ImportError as e:
        row.skipped = f"not installed ({e.name or e})"
    except Exception as e:  # noqa: BLE001 (a broken peer must not stop the comparison)
        row.skipped = f"failed: {type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
        if os.environ.get("COMPARE_TRACEBACK"):
            traceback.print_exc()
    rows.append(row)
    status = row.skipped or f"median {row.cpu:.3f} s CPU"
    print(f"  {row.tool} [{row.what}]: {status} ({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)


def flag_threads(row: Row, other_threads: bool) -> None:
    if other_threads:
        row.note = (row.note + "; " if row.note else "") + "used other threads: CPU figure incomplete"


# --------------------------------------------------------------------------------------------
# Streaming section

# (label, oddsight specification): the default detector, and the counterparts of the rolling
# z-score and of the rolling median/MAD the peers run.
SPECS = [
    ("default", "default"),
    (f"window z ({WINDOW})", f"window(window={WINDOW})"),
    (f"median/MAD ({WINDOW})", f"mad(window={WINDOW})"),
]


def stream_section(args: argparse.Namespace, work: Path) -> tuple[Stream, list[Row]]:
    data = stream_data(args.n, args.seed)
    n = data.values.size
    values_path, ts_path = work / "values.f64", work / "timestamps.i64"
    data.values.astype("<f8").tofile(values_path)
    data.timestamps.astype("<i8").tofile(ts_path)
    rows: list[Row] = []
    print(f"streaming: {n:,} points, {data.spikes.size} spikes, {data.shifts.size} level changes", file=sys.stderr)

    rust_scores: dict[str, np.ndarray] = {}
    runner = Path(args.bin_dir) / "compare_stream"
    for label, spec in SPECS:
        row = Row("stream", "oddsight (Rust)", label, n)

        def body(row: Row, spec: str = spec, label: str = label) -> None:
            if not runner.exists():
                raise FileNotFoundError(f"no runner at {runner} (run.sh builds it)")
            out = work / "rust_scores.f64"
            proc = subprocess.run(
                [str(runner), spec, str(values_path), str(ts_path), str(args.repeat), str(out)],
                check=True, capture_output=True, text=True,
            )
            timing = json.loads(proc.stdout)
            row.cpu_s, row.wall_s = timing["cpu_s"], timing["wall_s"]
            both = np.fromfile(out, dtype="<f8")
            rust_scores[label] = both[:n]
            row.extra = evaluate(data, both[:n], both[n:] > 0.5)

        attempt(rows, row, body)

    for label, spec in SPECS:
        row = Row("stream", "oddsight (Python)", label, n)

        def body(row: Row, spec: str = spec, label: str = label) -> None:
            import oddsight

            cpu, wall, scores, threads = measure(
                lambda: oddsight.Detector(spec).observe_batch(data.values, data.timestamps), args.repeat
            )
            row.cpu_s, row.wall_s = cpu, wall
            flag_threads(row, threads)
            verdicts = oddsight.Detector(spec).verdicts_batch(data.values, data.timestamps)
            row.extra = evaluate(data, scores, verdicts["is_anomaly"])
            if label in rust_scores:
                same = np.array_equal(rust_scores[label], scores)
                row.note = (row.note + "; " if row.note else "") + (
                    "scores identical to the Rust runner's" if same else "SCORES DIFFER from the Rust runner's"
                )

        attempt(rows, row, body)

    def pandas_z(row: Row) -> None:
        import pandas as pd

        s = pd.Series(data.values)

        def run() -> np.ndarray:
            # Each point against the window before it, as a streaming detector judges it.
            past = s.shift(1).rolling(WINDOW, min_periods=30)
            return ((s - past.mean()) / past.std()).abs().to_numpy()

        row.cpu_s, row.wall_s, z, threads = measure(run, args.repeat)
        flag_threads(row, threads)
        row.extra = evaluate(data, z, np.nan_to_num(z) > 3.0)

    attempt(rows, Row("stream", "pandas", f"rolling z ({WINDOW}), |z| > 3", n, versus=SPECS[1][0]), pandas_z)

    def pandas_mad(row: Row) -> None:
        import pandas as pd

        s = pd.Series(data.values)

        def run() -> np.ndarray:
            past = s.shift(1)
            median = past.rolling(WINDOW, min_periods=30).median()
            # The MAD of each point against the median of its own window, over the window: the
            # vectorised form (an exact per-window MAD needs rolling.apply, 100× slower).
            mad = (past - median).abs().rolling(WINDOW, min_periods=30).median()
            return ((s - median) / (1.4826 * mad)).abs().to_numpy()

        row.cpu_s, row.wall_s, z, threads = measure(run, args.repeat)
        flag_threads(row, threads)
        row.extra = evaluate(data, z, np.nan_to_num(z) > 3.0)

    attempt(
        rows, Row("stream", "pandas", f"rolling median/MAD ({WINDOW}), |z| > 3", n, versus=SPECS[2][0]), pandas_mad
    )

    river_n = n
    xs = data.values.tolist()

    def river_z(row: Row) -> None:
        from river import stats, utils

        def run() -> np.ndarray:
            mean = utils.Rolling(stats.Mean, window_size=WINDOW)
            var = utils.Rolling(stats.Var, window_size=WINDOW)
            z = np.zeros(river_n)
            for k, x in enumerate(xs):
                sd = var.get() ** 0.5 if k >= 30 else 0.0
                z[k] = abs(x - mean.get()) / sd if sd > 0 else 0.0
                mean.update(x)
                var.update(x)
            return z

        row.cpu_s, row.wall_s, z, threads = measure(run, args.slow_repeat, warm_up=False)
        flag_threads(row, threads)
        row.extra = evaluate(data, z, z > 3.0)

    attempt(rows, Row("stream", "river", f"rolling z ({WINDOW}), |z| > 3", river_n, versus=SPECS[1][0]), river_z)

    def river_hst(row: Row) -> None:
        from river import anomaly, preprocessing

        def run() -> tuple[np.ndarray, np.ndarray]:
            model = anomaly.QuantileFilter(
                preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=args.seed), q=0.995
            )
            scores = np.zeros(river_n)
            flags = np.zeros(river_n, dtype=bool)
            for k, x in enumerate(xs):
                point = {"x": x}
                score = model.score_one(point)
                scores[k] = score
                flags[k] = model.classify(score)
                model.learn_one(point)
            return scores, flags

        row.cpu_s, row.wall_s, (scores, flags), threads = measure(run, args.slow_repeat, warm_up=False)
        flag_threads(row, threads)
        row.extra = evaluate(data, scores, flags)

    attempt(
        rows,
        Row("stream", "river", "MinMaxScaler | HalfSpaceTrees, QuantileFilter(q=0.995)", river_n, versus=SPECS[0][0]),
        river_hst,
    )

    # ADTK runs in its own interpreter (see `adtk_worker`), on the same files.
    adtk_rows = [
        Row("stream", "ADTK", "PersistAD(window=30, c=3)", n, versus=SPECS[0][0]),
        Row("stream", "ADTK", "InterQuartileRangeAD(c=3)", n, versus=SPECS[0][0], note="fitted on the whole series"),
        Row("stream", "ADTK", "LevelShiftAD(window=5, c=6)", n, versus=SPECS[0][0]),
    ]
    results: dict[str, Any] = {}

    def adtk(row: Row, k: int) -> None:
        if not results:
            cmd = [args.adtk_python, __file__, "--adtk-worker", str(values_path), str(ts_path), str(args.repeat), str(work)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                lines = proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"]
                raise RuntimeError(f"{args.adtk_python}: {lines[-1]}")
            results.update(json.loads(proc.stdout))
        result = results[ADTK_DETECTORS[k][0]]
        if "error" in result:
            raise RuntimeError(result["error"])
        row.cpu_s, row.wall_s = result["cpu_s"], result["wall_s"]
        flag_threads(row, result["threads"])
        flags = np.fromfile(work / f"adtk_{ADTK_DETECTORS[k][0]}.u8", dtype=np.uint8) > 0
        row.extra = evaluate(data, None, flags)
        row.note = (row.note + "; " if row.note else "") + f"pandas {result['pandas']}"

    for k, row in enumerate(adtk_rows):
        attempt(rows, row, lambda row, k=k: adtk(row, k))
    return data, rows


# --------------------------------------------------------------------------------------------
# ADTK worker

# ADTK 0.6.2 (its latest release) writes NaN into boolean Series, which pandas 3 refuses, so it
# runs under its own interpreter with pandas 2.2 (run.sh sets that up) as
# `compare.py --adtk-worker VALUES TIMESTAMPS REPEAT DIR`, writing its decisions to DIR.
ADTK_DETECTORS = [
    ("persist", "PersistAD", {"window": 30, "c": 3.0, "side": "both"}),
    ("iqr", "InterQuartileRangeAD", {"c": 3.0}),
    ("level_shift", "LevelShiftAD", {"window": 5, "c": 6.0, "side": "both"}),
]


def adtk_worker(values_path: str, ts_path: str, repeat: int, out_dir: str) -> int:
    import warnings

    import pandas as pd
    from adtk import detector

    # ADTK's writes of NaN into boolean Series warn on every call under pandas 2.2.
    warnings.simplefilter("ignore", FutureWarning)
    values = np.fromfile(values_path, dtype="<f8")
    timestamps = np.fromfile(ts_path, dtype="<i8")
    s = pd.Series(values, index=pd.to_datetime(timestamps, unit="ms"))
    out: dict[str, Any] = {}
    for key, name, params in ADTK_DETECTORS:
        try:
            make = getattr(detector, name)
            cpu, wall, found, threads = measure(lambda: make(**params).fit_detect(s), repeat)
            flags = pd.Series(found.to_numpy()).fillna(False).astype(bool).to_numpy()
            flags.astype(np.uint8).tofile(Path(out_dir) / f"adtk_{key}.u8")
            out[key] = {"cpu_s": cpu, "wall_s": wall, "threads": threads, "pandas": pd.__version__}
        except Exception as e:  # noqa: BLE001 (reported in the table)
            out[key] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out))
    return 0


# --------------------------------------------------------------------------------------------
# Forest section

TREES, SAMPLES, WIDTH = 100, 256, 5


def forest_section(args: argparse.Namespace, work: Path) -> list[Row]:
    rows_x, labels = forest_data(args.rows, WIDTH, args.seed)
    n = rows_x.shape[0]
    path = work / "rows.f64"
    rows_x.astype("<f8").tofile(path)
    print(f"forest: {n:,} rows × {WIDTH}, {int(labels.sum())} outliers", file=sys.stderr)
    rows: list[Row] = []
    runner = Path(args.bin_dir) / "compare_forest"

    def fill(row: Row, fit_cpu: list[float], fit_wall: list[float], score_cpu: list[float],
             score_wall: list[float], scores: np.ndarray) -> None:
        row.cpu_s, row.wall_s = score_cpu, score_wall
        row.extra = {
            "fit_cpu": statistics.median(fit_cpu),
            "fit_wall": statistics.median(fit_wall),
            "roc_auc": roc_auc(scores, labels),
        }

    for label, extension in (("extended (default)", "full"), ("axis-parallel (extension_level=0)", "0")):
        def body(row: Row, extension: str = extension) -> None:
            if not runner.exists():
                raise FileNotFoundError(f"no runner at {runner} (run.sh builds it once the forest exists)")
            out = work / "forest_scores.f64"
            proc = subprocess.run(
                [str(runner), str(path), str(WIDTH), str(TREES), str(SAMPLES), extension, str(args.seed),
                 str(args.repeat), str(out)],
                check=True, capture_output=True, text=True,
            )
            t = json.loads(proc.stdout)
            fill(row, t["fit_cpu_s"], t["fit_wall_s"], t["score_cpu_s"], t["score_wall_s"], np.fromfile(out, "<f8"))

        attempt(rows, Row("forest", "oddsight (Rust)", label, n), body)

    def python_forest(make: Callable[[], Any], score: Callable[[Any], np.ndarray]) -> Callable[[Row], None]:
        def body(row: Row) -> None:
            fit_cpu, fit_wall, model, t1 = measure(lambda: make().fit(rows_x), args.repeat)
            score_cpu, score_wall, scores, t2 = measure(lambda: score(model), args.repeat)
            flag_threads(row, t1 or t2)
            fill(row, fit_cpu, fit_wall, score_cpu, score_wall, np.asarray(scores, dtype=np.float64))

        return body

    def sklearn() -> Any:
        from sklearn.ensemble import IsolationForest

        return IsolationForest(n_estimators=TREES, max_samples=SAMPLES, n_jobs=1, random_state=args.seed)

    def isotree(ndim: int) -> Callable[[], Any]:
        def make() -> Any:
            from isotree import IsolationForest

            return IsolationForest(ntrees=TREES, sample_size=SAMPLES, ndim=ndim, nthreads=1, random_seed=args.seed)

        return make

    def pyod() -> Any:
        from pyod.models.iforest import IForest

        return IForest(n_estimators=TREES, max_samples=SAMPLES, n_jobs=1, random_state=args.seed)

    versus_axis, versus_ext = "axis-parallel (extension_level=0)", "extended (default)"
    attempt(
        rows,
        Row("forest", "scikit-learn", "IsolationForest(n_jobs=1)", n, versus=versus_axis),
        python_forest(sklearn, lambda m: -m.score_samples(rows_x)),
    )
    attempt(
        rows,
        Row("forest", "isotree", "IsolationForest(ndim=1, nthreads=1)", n, versus=versus_axis),
        python_forest(isotree(1), lambda m: m.predict(rows_x)),
    )
    attempt(
        rows,
        Row("forest", "isotree", f"IsolationForest(ndim={WIDTH}, nthreads=1)", n, versus=versus_ext),
        python_forest(isotree(WIDTH), lambda m: m.predict(rows_x)),
    )
    attempt(
        rows,
        Row("forest", "PyOD", "IForest(n_jobs=1)", n, versus=versus_axis,
            note="fit also scores every training row (decision_scores_)"),
        python_forest(pyod, lambda m: m.decision_function(rows_x)),
    )
    return rows


# --------------------------------------------------------------------------------------------
# Report


def cell(text: str) -> str:
    """Text for a markdown table cell."""
    return text.replace("|", "\\|")


def fmt(x: float, digits: int = 3) -> str:
    return "-" if x is None or x != x else f"{x:.{digits}f}"


def rate(row: Row) -> float:
    return row.items / row.cpu if row.cpu_s and row.cpu > 0 else float("nan")


def counterpart(rows: list[Row], row: Row, tool: str) -> Row | None:
    for other in rows:
        if other.tool == tool and other.what == row.versus and not other.skipped:
            return other
    return None


def stream_tables(rows: list[Row]) -> str:
    lines = [
        "| tool | what | M points/s | CPU s (median) | wall s (median) | oddsight ÷ this | compared with |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        if row.skipped:
            lines.append(f"| {row.tool} | {cell(row.what)} | - | - | - | - | {cell(row.skipped)} |")
            continue
        ours = counterpart(rows, row, "oddsight (Python)") if row.versus else None
        ratio = f"{rate(ours) / rate(row):.1f}×" if ours else ""
        versus = f"oddsight (Python) {row.versus}" if ours else ""
        if row.tool == "oddsight (Python)":
            rust = next((r for r in rows if r.tool == "oddsight (Rust)" and r.what == row.what and not r.skipped), None)
            if rust:
                ratio, versus = f"{rate(rust) / rate(row):.2f}×", "oddsight (Rust), same detector"
        lines.append(
            f"| {row.tool} | {cell(row.what)} | {rate(row) / 1e6:.2f} | {fmt(row.cpu)} | {fmt(row.wall)} | {ratio} | {versus} |"
        )
    lines += [
        "",
        "| tool | what | ROC-AUC | precision | recall, spikes | recall, level changes | F1 | points flagged | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        if row.skipped or row.tool == "oddsight (Rust)":
            continue
        q = row.extra
        lines.append(
            f"| {row.tool} | {cell(row.what)} | {fmt(q.get('roc_auc'))} | {fmt(q['precision'])} | {fmt(q['recall_spikes'])} "
            f"| {fmt(q['recall_shifts'])} | {fmt(q['f1'])} | {100 * q['flagged']:.2f} % | {cell(row.note)} |"
        )
    return "\n".join(lines)


def forest_table(rows: list[Row]) -> str:
    lines = [
        "| tool | what | fit s (CPU median) | fit s (wall) | score M rows/s | score s (CPU median) | ROC-AUC "
        "| oddsight ÷ this, fit | oddsight ÷ this, score | compared with | note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        if row.skipped:
            lines.append(f"| {row.tool} | {cell(row.what)} | - | - | - | - | - | - | - | | {cell(row.skipped)} |")
            continue
        ours = counterpart(rows, row, "oddsight (Rust)") if row.versus else None
        fit_ratio = f"{row.extra['fit_cpu'] / ours.extra['fit_cpu']:.1f}×" if ours else ""
        score_ratio = f"{rate(ours) / rate(row):.1f}×" if ours else ""
        versus = f"oddsight {row.versus}" if ours else ""
        lines.append(
            f"| {row.tool} | {cell(row.what)} | {fmt(row.extra['fit_cpu'])} | {fmt(row.extra['fit_wall'])} "
            f"| {rate(row) / 1e6:.2f} | {fmt(row.cpu)} | {fmt(row.extra['roc_auc'])} | {fit_ratio} | {score_ratio} "
            f"| {versus} | {cell(row.note)} |"
        )
    return "\n".join(lines)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = []
    for name, module in (("oddsight", "oddsight"), ("numpy", "numpy"), ("pandas", "pandas"), ("river", "river"),
                         ("adtk", "adtk"), ("scikit-learn", "sklearn"), ("isotree", "isotree"), ("pyod", "pyod")):
        try:
            from importlib.metadata import version

            versions.append(f"{name} {version(name)}")
        except Exception:  # noqa: BLE001
            versions.append(f"{name} missing")
    try:
        rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rustc = "rustc unknown"
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores (load average {load} at the end), Python {platform.python_version()}, "
            f"{rustc}; {', '.join(versions)}")


def main() -> int:
    if len(sys.argv) == 6 and sys.argv[1] == "--adtk-worker":
        return adtk_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20,000 points, 10,000 rows, 2 runs")
    ap.add_argument("--n", type=int, help="points of the streaming series (default 1,000,000)")
    ap.add_argument("--rows", type=int, help="rows for the forests (default 100,000)")
    ap.add_argument("--repeat", type=int, help="runs per tool (default 5)")
    ap.add_argument("--slow-repeat", type=int, help="runs of the per-point Python loops (river; default 3)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--section", choices=["all", "stream", "forest"], default="all")
    ap.add_argument("--bin-dir", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "examples"))
    ap.add_argument("--json", help="also write every measurement here")
    default_adtk = Path(__file__).resolve().parent / ".venv" / "adtk" / "bin" / "python"
    ap.add_argument(
        "--adtk-python",
        default=str(default_adtk) if default_adtk.exists() else sys.executable,
        help="the interpreter with ADTK and pandas 2.2 (default: the one run.sh sets up)",
    )
    args = ap.parse_args()
    args.n = args.n or (20_000 if args.quick else 1_000_000)
    args.rows = args.rows or (10_000 if args.quick else 100_000)
    args.repeat = args.repeat or (2 if args.quick else 5)
    args.slow_repeat = args.slow_repeat or (1 if args.quick else 3)
    if args.n <= WARMUP + 2000 or args.rows < 2 * SAMPLES or args.repeat < 1 or args.slow_repeat < 1:
        ap.error(f"--n must exceed {WARMUP + 2000}, --rows be at least {2 * SAMPLES}, repeats at least 1")

    rows: list[Row] = []
    out = []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        if args.section in ("all", "stream"):
            data, stream_rows = stream_section(args, work)
            rows += stream_rows
            out.append(
                f"### Streaming univariate scoring: {args.n:,} points, {data.spikes.size} spikes, "
                f"{data.shifts.size} level changes (seed {args.seed}); median of {args.repeat} runs "
                f"({args.slow_repeat} for river), thread CPU time\n\n" + stream_tables(stream_rows)
            )
        if args.section in ("all", "forest"):
            forest_rows = forest_section(args, work)
            rows += forest_rows
            out.append(
                f"### Isolation forest: {args.rows:,} rows × {WIDTH}, 1 % outliers, {TREES} trees of {SAMPLES} "
                f"samples, one thread (seed {args.seed}); median of {args.repeat} runs, thread CPU time\n\n"
                + forest_table(forest_rows)
            )
    out.append(f"Machine: {machine()}.")
    print("\n\n".join(out))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([row.__dict__ for row in rows], f, indent=1, default=float)
    failed = [r for r in rows if r.tool.startswith("oddsight") and r.skipped]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
