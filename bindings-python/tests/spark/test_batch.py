"""oddsight.spark.score: identity with in-process scoring, snapshots in and out, bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pyspark")
pytest.importorskip("pandas")

import oddsight  # noqa: E402
import oddsight.spark as ods  # noqa: E402
from sparkdata import QUIET, MINUTE_MS, START_MS, assert_matches, day, day_of_minutes, day_reference, reference, spark  # noqa: E402,F401
from pyspark.errors import PythonException  # noqa: E402

pytestmark = QUIET
ALL = list(ods.ALL_VERDICT_COLUMNS)


def test_importing_oddsight_does_not_import_pyspark() -> None:
    code = "import sys, oddsight; assert 'pyspark' not in sys.modules and 'pandas' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_day_of_200_series_equals_scoring_each_series_alone(spark, day, day_reference) -> None:
    scored = ods.score(spark.createDataFrame(day), columns=ALL).toPandas()
    assert len(scored) == len(day)
    assert list(scored.columns) == ["series", "timestamp", "value", "region", *ALL]
    assert_matches(scored, day_reference, ALL)
    # Labels pass through with their rows.
    joined = scored.merge(day, on=["series", "timestamp"], suffixes=("", "_in"))
    assert len(joined) == len(day)
    assert (joined["region"] == joined["region_in"]).all() and (joined["value"] == joined["value_in"]).all()
    # The data has anomalies, so the comparison covers flagged points too.
    assert scored["is_anomaly"].sum() > 0


def test_default_columns_keys_of_two_columns_spark_timestamps_and_params(spark) -> None:
    from pyspark.sql import functions as F

    data = day_of_minutes(series=12, points=600, seed=3)
    data["metric"] = np.where(data["series"].str[-1].astype(int) % 2 == 0, "latency", "errors")
    df = spark.createDataFrame(data).withColumn("at", F.timestamp_millis("timestamp"))
    scored = ods.score(df, "mad", key=["series", "metric"], timestamp="at", window=60, warmup=20).toPandas()
    assert list(scored.columns) == ["series", "timestamp", "value", "region", "metric", "at", *ods.VERDICT_COLUMNS]
    assert_matches(scored, reference(data, "mad", window=60, warmup=20), ods.VERDICT_COLUMNS)


def test_snapshots_carry_series_from_one_job_to_the_next(spark) -> None:
    data = day_of_minutes(series=40, points=1440, seed=5)
    ref = reference(data)
    # Each series is cut at its own minute; the second job starts from the first's snapshots.
    cut = START_MS + (500 + 7 * data["series"].str[-3:].astype(int)) * MINUTE_MS
    first, second = data[data["timestamp"] < cut], data[data["timestamp"] >= cut]
    one = ods.score(spark.createDataFrame(first), with_snapshots=True)
    one.combined.persist()
    rows_one = one.rows.toPandas()
    snaps_one = one.snapshots.toPandas().set_index("series")["snapshot"]
    assert len(rows_one) == len(first) and len(snaps_one) == 40

    two = ods.score(spark.createDataFrame(second), snapshots=one.snapshots, with_snapshots=True)
    rows_two = two.rows.toPandas()
    snaps_two = two.snapshots.toPandas().set_index("series")["snapshot"]
    one.combined.unpersist()

    both = __import__("pandas").concat([rows_one, rows_two], ignore_index=True)
    assert_matches(both, ref, ods.VERDICT_COLUMNS)
    for name, snapshot in snaps_two.items():
        assert snapshot == ref[name]["snapshot"]
        assert oddsight.Detector.restore(snapshot) == oddsight.Detector.restore(ref[name]["snapshot"])
    # Part-way snapshots are those of a detector fed the first part in-process.
    for name in ["svc-000", "svc-039"]:
        part = first[first["series"] == name].sort_values("timestamp")
        d = oddsight.Detector()
        d.observe_batch(part["value"].to_numpy(), part["timestamp"].to_numpy())
        assert snaps_one[name] == d.snapshot()


def test_series_only_in_the_snapshots_keep_them_and_late_rows(spark) -> None:
    data = day_of_minutes(series=3, points=300, seed=9)
    first = data[data["timestamp"] < START_MS + 200 * MINUTE_MS]
    one = ods.score(spark.createDataFrame(first), with_snapshots=True)
    prior = one.snapshots.toPandas().set_index("series")["snapshot"]
    snapshots = spark.createDataFrame(prior.reset_index())

    # Only svc-001 has new rows; 49 of them are older than its snapshot's newest point.
    at = data["timestamp"]
    new = data[(data["series"] == "svc-001") & (at >= START_MS + 150 * MINUTE_MS) & (at != START_MS + 199 * MINUTE_MS)]
    two = ods.score(spark.createDataFrame(new), snapshots=snapshots, late="null", with_snapshots=True)
    rows = two.rows.toPandas().sort_values("timestamp")
    snaps = two.snapshots.toPandas().set_index("series")["snapshot"]
    assert snaps["svc-000"] == prior["svc-000"] and snaps["svc-002"] == prior["svc-002"]
    late = rows["timestamp"] < START_MS + 199 * MINUTE_MS
    assert late.sum() == 49 and len(rows) == 149
    assert rows.loc[late, list(ods.VERDICT_COLUMNS)].isna().all().all()
    # The rest continue the first job exactly.
    ref = reference(data[(data["series"] == "svc-001") & (data["timestamp"] < START_MS + 300 * MINUTE_MS)])
    on_time = rows[~late]
    np.testing.assert_array_equal(
        on_time["anomaly_score"].to_numpy(np.float64), ref["svc-001"]["anomaly_score"][200:]
    )
    assert snaps["svc-001"] == ref["svc-001"]["snapshot"]

    with pytest.raises(PythonException, match="OutOfOrder|out-of-order"):
        ods.score(spark.createDataFrame(new), snapshots=snapshots).collect()


def test_bad_arguments_are_refused_before_any_job(spark) -> None:
    df = spark.createDataFrame(day_of_minutes(series=2, points=10, seed=1))
    with pytest.raises(oddsight.InvalidSpec):
        ods.score(df, "no-such-detector")
    with pytest.raises(oddsight.InvalidParameter):
        ods.score(df, "mad", window=0)
    with pytest.raises(oddsight.InvalidData, match="'host'"):
        ods.score(df, key="host")
    with pytest.raises(oddsight.InvalidData, match="value column 'region' must be numeric"):
        ods.score(df, value="region")
    with pytest.raises(oddsight.InvalidData, match="timestamp column 'region' must be a timestamp"):
        ods.score(df, timestamp="region")
    with pytest.raises(oddsight.InvalidParameter, match="distinct"):
        ods.score(df, timestamp="value")
    with pytest.raises(oddsight.InvalidParameter, match="unknown verdict column 'nope'"):
        ods.score(df, columns=["nope"])
    with pytest.raises(oddsight.InvalidParameter, match="already a column"):
        ods.score(df.withColumnRenamed("region", "severity"))
    with pytest.raises(oddsight.InvalidParameter, match="late"):
        ods.score(df, late="drop")
    with pytest.raises(oddsight.InvalidParameter, match="key"):
        ods.score(df, key=[])
    with pytest.raises(oddsight.InvalidParameter):
        ods.score(df.toPandas())
    with pytest.raises(oddsight.InvalidData, match="snapshot"):
        ods.score(df, snapshots=df)
    with pytest.raises(oddsight.InvalidParameter, match="idle_timeout"):
        ods.score_stream(df, idle_timeout="7 days")
    with pytest.raises(oddsight.InvalidParameter, match="at least 1 ms"):
        ods.score_stream(df, idle_timeout=0)


def test_bad_data_fails_the_job_naming_the_series(spark) -> None:
    data = day_of_minutes(series=2, points=50, seed=1)
    data.loc[data["series"] == "svc-001", "value"] = np.where(
        np.arange((data["series"] == "svc-001").sum()) == 7, np.nan, data.loc[data["series"] == "svc-001", "value"]
    )
    with pytest.raises(PythonException, match="series series='svc-001': non-finite value"):
        ods.score(spark.createDataFrame(data)).collect()

    good = spark.createDataFrame(day_of_minutes(series=1, points=20, seed=1))
    bad = spark.createDataFrame([("svc-000", '{"format":"oddsight","version":1}')], "series string, snapshot string")
    with pytest.raises(PythonException, match="series series='svc-000'"):
        ods.score(good, snapshots=bad).collect()
    twice = spark.createDataFrame(
        [("svc-000", oddsight.Detector().snapshot()), ("svc-000", oddsight.Detector().snapshot())],
        "series string, snapshot string",
    )
    with pytest.raises(PythonException, match="2 snapshots for one series"):
        ods.score(good, snapshots=twice).collect()
