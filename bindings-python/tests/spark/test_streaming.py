"""oddsight.spark.score_stream: detector snapshots as Spark state, across triggers and restarts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")
pytest.importorskip("pandas")

import oddsight.spark as ods  # noqa: E402
from sparkdata import QUIET, MINUTE_MS, START_MS, assert_matches, day, day_reference, reference, spark  # noqa: E402,F401

pytestmark = QUIET
SCHEMA = "series string, timestamp long, value double, region string"


def _slice(data, start_minute: int, end_minute: int):
    at = data["timestamp"]
    return data[(at >= START_MS + start_minute * MINUTE_MS) & (at < START_MS + end_minute * MINUTE_MS)]


def _read(spark, path):
    # Through Spark, so only files the sink committed count.
    return spark.read.parquet(str(path)).toPandas()


def test_state_carries_across_available_now_runs(spark, day, day_reference, tmp_path) -> None:
    source, sink, checkpoint = tmp_path / "in", tmp_path / "out", tmp_path / "checkpoint"
    source.mkdir()
    # A day in four files, each added before its own run: every run is a new query on the
    # same checkpoint, so each series' detector comes back from Spark's state store.
    for i, (lo, hi) in enumerate([(0, 360), (360, 720), (720, 1080), (1080, 1440)]):
        _slice(day, lo, hi).to_parquet(source / f"part-{i}.parquet", index=False)
        stream = spark.readStream.schema(SCHEMA).parquet(str(source))
        query = (
            ods.score_stream(stream)
            .writeStream.format("parquet")
            .option("path", str(sink))
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        assert query.exception() is None
        assert len(_read(spark, sink)) == len(_slice(day, 0, hi))
    scored = _read(spark, sink)
    assert list(scored.columns) == ["series", "timestamp", "value", "region", *ods.VERDICT_COLUMNS]
    assert_matches(scored, day_reference, ods.VERDICT_COLUMNS)


def test_a_restarted_query_continues_where_it_stopped(spark, day, day_reference, tmp_path) -> None:
    source, sink, checkpoint = tmp_path / "in", tmp_path / "out", tmp_path / "checkpoint"
    source.mkdir()

    def start():
        stream = spark.readStream.schema(SCHEMA).option("maxFilesPerTrigger", 1).parquet(str(source))
        return (
            ods.score_stream(stream)
            .writeStream.format("parquet")
            .option("path", str(sink))
            .option("checkpointLocation", str(checkpoint))
            .trigger(processingTime="1 second")
            .start()
        )

    query = start()
    for i, (lo, hi) in enumerate([(0, 500), (500, 900)]):
        _slice(day, lo, hi).to_parquet(source / f"part-{i}.parquet", index=False)
        query.processAllAvailable()
    query.stop()
    assert query.exception() is None
    assert len(_read(spark, sink)) == len(_slice(day, 0, 900))

    # A late row (minute 10 of svc-007, already learned) arrives with the rest of the day.
    late = _slice(day, 10, 11)
    late = late[late["series"] == "svc-007"]
    query = start()
    _slice(day, 900, 1170).to_parquet(source / "part-2.parquet", index=False)
    query.processAllAvailable()
    late_and_rest = pd.concat([_slice(day, 1170, 1440), late]).sample(frac=1.0, random_state=2)
    late_and_rest.to_parquet(source / "part-3.parquet", index=False)
    query.processAllAvailable()
    query.stop()
    assert query.exception() is None

    scored = _read(spark, sink)
    assert len(scored) == len(day) + 1
    is_late = (scored["series"] == "svc-007") & (scored["timestamp"] == START_MS + 10 * MINUTE_MS)
    assert is_late.sum() == 2
    late_rows = scored[is_late]
    assert late_rows["anomaly_score"].isna().sum() == 1 and late_rows["anomaly_score"].notna().sum() == 1
    on_time = scored[~(is_late & scored["anomaly_score"].isna())]
    assert_matches(on_time, day_reference, ods.VERDICT_COLUMNS)
    assert np.isfinite(on_time["anomaly_score"].to_numpy(np.float64)).all()


def test_idle_timeout_forgets_silent_series(spark, tmp_path) -> None:
    import time

    from pyspark.errors import AnalysisException
    from sparkdata import day_of_minutes

    spec = {"detector": "mad", "window": 30, "warmup": 10}
    a = day_of_minutes(series=1, points=200, seed=13)
    source, sink, checkpoint = tmp_path / "in", tmp_path / "out", tmp_path / "checkpoint"
    source.mkdir()
    stream = spark.readStream.schema(SCHEMA).parquet(str(source))
    query = (
        ods.score_stream(stream, **spec, idle_timeout=1)
        .writeStream.format("parquet")
        .option("path", str(sink))
        .option("checkpointLocation", str(checkpoint))
        .trigger(processingTime="200 milliseconds")
        .start()
    )
    # Expiring state runs micro-batches without data, so the stream is never idle and
    # processAllAvailable would not return: poll the sink instead.
    def wait_for(rows: int, batches_after: int = 0) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                committed = len(_read(spark, sink)) >= rows
            except AnalysisException:  # nothing committed yet: no schema to read
                committed = False
            progress = query.lastProgress
            if committed and progress is not None and progress["batchId"] >= batches_after:
                return
            time.sleep(0.5)
        raise AssertionError(f"the query did not reach {rows} rows")

    try:
        _slice(a, 0, 100).to_parquet(source / "part-0.parquet", index=False)
        wait_for(100)
        # Two more micro-batches (without data): the series' state times out and is dropped.
        wait_for(100, batches_after=query.lastProgress["batchId"] + 2)
        _slice(a, 100, 200).to_parquet(source / "part-1.parquet", index=False)
        wait_for(200)
    finally:
        query.stop()
    assert query.exception() is None

    got = _read(spark, sink).sort_values("timestamp")["anomaly_score"].to_numpy(np.float64)
    first = reference(_slice(a, 0, 100), **spec)["svc-000"]["anomaly_score"]
    fresh = reference(_slice(a, 100, 200), **spec)["svc-000"]["anomaly_score"]
    carried_on = reference(a, **spec)["svc-000"]["anomaly_score"][100:]
    assert len(got) == 200
    np.testing.assert_array_equal(got[:100], first)
    np.testing.assert_array_equal(got[100:], fresh)
    assert not np.array_equal(fresh, carried_on)
