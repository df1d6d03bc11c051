"""The Spark tier's shared parts: seeded data, in-process references, a local SparkSession.

The test modules import what they use from here (fixtures included) and skip themselves where
pyspark is missing, so the main suite (bindings-python/test.sh, no pyspark) leaves them out.
There is no conftest.py here: the main suite's tests import theirs by module name.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

#: pyspark's own warnings about pandas 3 (it works; see docs/scale-out.md), for `pytestmark`.
QUIET = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

#: 2024-05-01T00:00:00Z in Unix milliseconds.
START_MS = 1_714_521_600_000
MINUTE_MS = 60_000


def day_of_minutes(series: int = 200, points: int = 1440, seed: int = 11):
    """A seeded pandas DataFrame of ``series`` × ``points`` rows, in shuffled order.

    Columns: ``series`` ("svc-000", ...), ``timestamp`` (int64 Unix ms, one a minute from
    2024-05-01), ``value`` (float64: a per-series level and daily wave, Gaussian noise, two
    spikes and a level shift at a per-series minute) and ``region`` (a label, one of four).
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    minutes = np.arange(points)
    frames = []
    for s in range(series):
        level = 50.0 + (10.0 * s) % 400
        wave = 0.1 * level * np.sin(minutes / points * 2 * np.pi + s)
        values = level + wave + rng.normal(0.0, 0.02 * level + 0.5, points)
        spikes = rng.choice(points, 2, replace=False)
        values[spikes] += 8.0 * (0.02 * level + 0.5)
        shift = int(rng.integers(points // 2, points))
        values[shift:] += 5.0 * (0.02 * level + 0.5)
        frames.append(
            pd.DataFrame(
                {
                    "series": f"svc-{s:03d}",
                    "timestamp": START_MS + minutes.astype(np.int64) * MINUTE_MS,
                    "value": np.round(values, 4),
                    "region": ["eu", "us", "ap", "sa"][s % 4],
                }
            )
        )
    data = pd.concat(frames, ignore_index=True)
    return data.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def reference(data, detector: str = "default", key: str = "series", **params) -> dict:
    """Each series scored alone in-process, in time order: key -> verdict columns."""
    import oddsight

    out = {}
    for name, group in data.groupby(key, sort=True):
        group = group.sort_values("timestamp", kind="stable")
        d = oddsight.Detector(detector, **params)
        out[name] = d.verdicts_batch(group["value"].to_numpy(np.float64), group["timestamp"].to_numpy(np.int64))
        out[name]["snapshot"] = d.snapshot()
    return out


def assert_matches(scored, ref: dict, columns, key: str = "series") -> None:
    """Every series of ``scored`` (pandas) equals the in-process verdicts exactly."""
    assert set(scored[key].unique()) == set(ref)
    for name, group in scored.groupby(key, sort=True):
        group = group.sort_values("timestamp", kind="stable")
        want = ref[name]
        np.testing.assert_array_equal(group["timestamp"].to_numpy(np.int64), want["timestamp"])
        for c in columns:
            got = group[c].to_numpy()
            if want[c].dtype.kind == "f":
                # Exact: the same bits, not approximately equal.
                np.testing.assert_array_equal(got.astype(np.float64), want[c], err_msg=f"{name} {c}")
            else:
                assert got.tolist() == want[c].tolist(), f"{name} {c}"


@pytest.fixture(scope="session")
def spark():
    """A local-mode SparkSession (two cores, few shuffle partitions, no UI)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("oddsight-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def day():
    """The day of minutes for 200 series (288,000 rows), shuffled."""
    return day_of_minutes()


@pytest.fixture(scope="session")
def day_reference(day):
    """`reference` of `day` with the default detector."""
    return reference(day)
