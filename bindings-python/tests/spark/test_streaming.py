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

    from sparkdata import day_of_minutes

    data = day_of_minutes(series=2, points=300, seed=13)
    a, b = data[data["series"] == "svc-000"], data[data["series"] == "svc-001"]
    source, sink, checkpoint = tmp_path / "in", tmp_path / "out", tmp_path / "checkpoint"
    source.mkdir()

    def run(frame, name):
        frame.to_parquet(source / name, index=False)
        stream = spark.readStream.schema(SCHEMA).parquet(str(source))
        query = (
            ods.score_stream(stream, "mad", window=30, warmup=10, idle_timeout=1)
            .writeStream.format("parquet")
            .option("path", str(sink))
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        assert query.exception() is None

    run(_slice(data, 0, 100), "part-0.parquet")
    time.sleep(1.0)
    # Only svc-001 speaks: svc-000's state times out in this micro-batch and is dropped.
    run(_slice(b, 100, 200), "part-1.parquet")
    run(_slice(a, 100, 200), "part-2.parquet")

    scored = _read(spark, sink)
    got_a = scored[scored["series"] == "svc-000"].sort_values("timestamp")["anomaly_score"].to_numpy(np.float64)
    fresh_a = reference(_slice(a, 100, 200), "mad", window=30, warmup=10)["svc-000"]["anomaly_score"]
    np.testing.assert_array_equal(got_a[100:], fresh_a)
    first_a = reference(_slice(a, 0, 100), "mad", window=30, warmup=10)["svc-000"]["anomaly_score"]
    np.testing.assert_array_equal(got_a[:100], first_a)
    assert not np.array_equal(fresh_a, reference(_slice(a, 0, 200), "mad", window=30, warmup=10)["svc-000"]["anomaly_score"][100:])
    # svc-001 had rows in every micro-batch until its data ended: it carried on.
    got_b = scored[scored["series"] == "svc-001"].sort_values("timestamp")["anomaly_score"].to_numpy(np.float64)
    whole_b = reference(_slice(b, 0, 200), "mad", window=30, warmup=10)["svc-001"]["anomaly_score"]
    np.testing.assert_array_equal(got_b, whole_b)
