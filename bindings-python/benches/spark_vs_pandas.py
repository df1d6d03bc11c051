"""Spark local mode: oddsight per series against a plain pandas rolling z-score, side by side.

Both jobs are `groupBy(series).applyInPandas` over the same cached DataFrame of ``--series`` ×
``--points`` rows (one point a minute), each writing to Spark's `noop` sink so that only the
scoring plan runs. They alternate for ``--repeats`` rounds after one warm-up round each; the
medians, throughputs (points per second) and their ratio are printed, last as one JSON line.

    bindings-python/.venv-spark/bin/python bindings-python/benches/spark_vs_pandas.py
    ... --series 200 --points 1440 --repeats 5 --detector default --cores 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

import oddsight
import oddsight.spark as ods

WINDOW = 60


def data(series: int, points: int, seed: int = 17) -> pd.DataFrame:
    """Noise around a per-series level with a daily wave and a few spikes; shuffled rows."""
    rng = np.random.default_rng(seed)
    minutes = np.arange(points)
    frames = []
    for s in range(series):
        level = 50.0 + (7.0 * s) % 300
        values = level * (1 + 0.1 * np.sin(minutes / 1440 * 2 * np.pi)) + rng.normal(0.0, 0.03 * level, points)
        values[rng.choice(points, 3, replace=False)] += 0.5 * level
        frames.append(pd.DataFrame({"series": f"s{s:04d}", "timestamp": minutes * 60_000, "value": values}))
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=seed)


def rolling_zscore(pdf: pd.DataFrame) -> pd.DataFrame:
    """The baseline: each point against the mean and standard deviation of the previous
    `WINDOW` points, with the verdict columns oddsight adds by default."""
    pdf = pdf.sort_values("timestamp", kind="stable")
    past = pdf["value"].rolling(WINDOW, min_periods=10).agg(["mean", "std"]).shift(1)
    mean, std = past["mean"], past["std"].where(past["std"] > 0)
    z = ((pdf["value"] - mean) / std).fillna(0.0)
    return pdf.assign(
        anomaly_score=(z.abs() / 6.0).clip(0.0, 1.0),
        expected=mean.fillna(pdf["value"]),
        lower=(mean - 3 * std).fillna(pdf["value"]),
        upper=(mean + 3 * std).fillna(pdf["value"]),
        severity=np.where(z.abs() > 3, "high", "normal"),
        confidence=(1.0 - np.exp(-pdf["value"].expanding().count() / WINDOW)).to_numpy(),
        is_anomaly=z.abs() > 3,
    )


def pandas_job(df: DataFrame) -> DataFrame:
    schema = T.StructType(
        df.schema.fields
        + [
            T.StructField("anomaly_score", T.DoubleType()),
            T.StructField("expected", T.DoubleType()),
            T.StructField("lower", T.DoubleType()),
            T.StructField("upper", T.DoubleType()),
            T.StructField("severity", T.StringType()),
            T.StructField("confidence", T.DoubleType()),
            T.StructField("is_anomaly", T.BooleanType()),
        ]
    )
    return df.groupBy("series").applyInPandas(rolling_zscore, schema)


def timed(job: DataFrame) -> float:
    start = time.perf_counter()
    job.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--points", type=int, default=1440)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--detector", default="default")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    if min(args.series, args.points, args.repeats, args.cores) < 1:
        parser.error("--series, --points, --repeats and --cores must be positive")

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(f"local[{args.cores}]")
        .config("spark.sql.shuffle.partitions", str(2 * args.cores))
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.createDataFrame(data(args.series, args.points)).repartition(2 * args.cores).persist()
    df.count()

    jobs = {"oddsight": ods.score(df, args.detector), "pandas rolling z": pandas_job(df)}
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for job in jobs.values():
        timed(job)  # warm-up: Python workers started, code shipped
    for _ in range(args.repeats):
        for name, job in jobs.items():
            times[name].append(timed(job))
    spark.stop()

    n = args.series * args.points
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"{args.series} series x {args.points} points = {n} points, local[{args.cores}], "
          f"oddsight {oddsight.__version__} detector {args.detector!r}, {args.repeats} rounds")
    for name, m in medians.items():
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"  {name:<17} median {m:7.2f} s  {n / m:>12,.0f} points/s  (runs: {runs})")
    ratio = medians["oddsight"] / medians["pandas rolling z"]
    print(f"  oddsight / pandas time ratio: {ratio:.2f}")
    print(json.dumps({
        "series": args.series, "points": args.points, "cores": args.cores, "detector": args.detector,
        "median_s": medians, "points_per_s": {k: n / v for k, v in medians.items()}, "time_ratio": ratio,
    }))


if __name__ == "__main__":
    main()
