"""Example: oddsight.spark in batch and in Structured Streaming (local mode).

A day of per-minute latency for 50 services: the morning is scored as a batch job that keeps
each series' detector snapshot; the afternoon continues from those snapshots; then the same day
arrives as files into a streaming query whose per-key state is the snapshot.

    pip install "oddsight[spark]" && python spark_batch_and_stream.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

import oddsight.spark as ods

SPEC = {"detector": "mad", "window": 60, "warmup": 30}


def day(series: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(8)
    minutes = np.arange(1440)
    frames = []
    for s in range(series):
        values = 120.0 + 3 * s + rng.normal(0.0, 4.0, 1440)
        values[600 + 10 * s] += 80.0
        frames.append(
            pd.DataFrame({"service": f"svc-{s:02d}", "minute": minutes * 60_000, "latency_ms": values, "zone": "a"})
        )
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    data = day()
    cols = {"key": "service", "timestamp": "minute", "value": "latency_ms"}
    morning = spark.createDataFrame(data[data["minute"] < 720 * 60_000])
    afternoon = spark.createDataFrame(data[data["minute"] >= 720 * 60_000])

    # Batch: the morning, keeping snapshots; the afternoon, continuing from them.
    first = ods.score(morning, **SPEC, **cols, with_snapshots=True)
    first.combined.persist()
    second = ods.score(afternoon, **SPEC, **cols, snapshots=first.snapshots)
    batch = first.rows.unionByName(second)
    flagged = batch.where("is_anomaly").count()
    print(f"batch: {batch.count()} rows, {flagged} anomalies, {first.snapshots.count()} snapshots carried")

    # Streaming: the same day as four files; the state is each service's snapshot.
    with tempfile.TemporaryDirectory() as tmp:
        source, sink, checkpoint = Path(tmp, "in"), Path(tmp, "out"), Path(tmp, "checkpoint")
        source.mkdir()
        schema = "service string, minute long, latency_ms double, zone string"
        for i in range(4):
            part = data[(data["minute"] >= i * 360 * 60_000) & (data["minute"] < (i + 1) * 360 * 60_000)]
            part.to_parquet(source / f"part-{i}.parquet", index=False)
            stream = spark.readStream.schema(schema).parquet(str(source))
            query = (
                ods.score_stream(stream, **SPEC, **cols)
                .writeStream.format("parquet")
                .option("path", str(sink))
                .option("checkpointLocation", str(checkpoint))
                .trigger(availableNow=True)
                .start()
            )
            query.awaitTermination()
        streamed = spark.read.parquet(str(sink))
        same = batch.select("service", "minute", "anomaly_score").exceptAll(
            streamed.select("service", "minute", "anomaly_score")
        )
        print(f"stream: {streamed.count()} rows in 4 runs; rows differing from the batch scores: {same.count()}")
    spark.stop()


if __name__ == "__main__":
    main()
