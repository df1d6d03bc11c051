"""Scoring on Apache Spark: one detector per series, its snapshot as the series' state.

Install with the extra: ``pip install "oddsight[spark]"`` (pyspark, pandas, pyarrow).
``import oddsight`` never imports pyspark; only ``import oddsight.spark`` does.

- `score` scores a DataFrame of ``(key..., timestamp, value, other columns...)`` rows with
  ``groupBy(key).applyInPandas``: each series is sorted by time and fed to its own detector,
  and every input row comes back with the verdict columns added. Start each series from the
  detector snapshots of an earlier job (``snapshots=``) and get the final snapshots back
  (``with_snapshots=True``), so jobs can be chained day after day.
- `score_stream` does the same on a streaming DataFrame with ``applyInPandasWithState``: the
  series' detector snapshot (the versioned JSON string of `oddsight.Detector.snapshot`) is
  Spark's per-key state, checkpointed with the query, so a query restarted from its checkpoint
  goes on exactly where it stopped.

Scores are bit for bit those of `oddsight.Detector.verdicts_batch` over each series alone.

>>> import oddsight.spark as ods
>>> ods.VERDICT_COLUMNS
('anomaly_score', 'expected', 'lower', 'upper', 'severity', 'confidence', 'is_anomaly')
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Union

import numpy as np

try:
    import pandas as pd
    from pyspark.sql import Column, DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    from pyspark.sql.streaming.state import GroupState, GroupStateTimeout
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f'oddsight.spark needs pyspark, pandas and pyarrow: pip install "oddsight[spark]" ({e})'
    ) from e

from ._errors import InvalidData, InvalidParameter, OddsightError
from ._oddsight import Detector

__all__ = [
    "ALL_VERDICT_COLUMNS",
    "SNAPSHOT_COLUMN",
    "VERDICT_COLUMNS",
    "Scored",
    "final_snapshots",
    "score",
    "score_stream",
]

#: The verdict columns added by default: score, the expected band, severity and confidence.
VERDICT_COLUMNS: tuple[str, ...] = (
    "anomaly_score",
    "expected",
    "lower",
    "upper",
    "severity",
    "confidence",
    "is_anomaly",
)

#: Every verdict column that can be asked for (``columns=``), with its Spark type.
ALL_VERDICT_COLUMNS: Mapping[str, T.DataType] = {
    "anomaly_score": T.DoubleType(),
    "expected": T.DoubleType(),
    "lower": T.DoubleType(),
    "upper": T.DoubleType(),
    "z": T.DoubleType(),
    "p_value": T.DoubleType(),
    "is_anomaly": T.BooleanType(),
    "direction": T.StringType(),
    "severity": T.StringType(),
    "severity_score": T.DoubleType(),
    "confidence": T.DoubleType(),
    "component": T.StringType(),
    "warm": T.BooleanType(),
    "scale_floored": T.BooleanType(),
    "excluded": T.BooleanType(),
    "gap": T.BooleanType(),
    "fallback": T.BooleanType(),
}

#: The column holding a detector snapshot (versioned JSON), in snapshot DataFrames.
SNAPSHOT_COLUMN = "snapshot"

# Unix milliseconds of the timestamp column, computed by Spark before the rows reach pandas
# (so session time zones never touch them) and dropped again from the output.
_TS_MS = "__oddsight_ts_ms"

_Late = str
Key = Union[str, Sequence[str]]


class Scored(NamedTuple):
    """What `score` returns with ``with_snapshots=True``.

    ``rows`` and ``snapshots`` are two filters of ``combined``, one plan: persist
    ``combined`` (``scored.combined.persist()``) before running actions on both, or the
    scoring runs once per action (with identical results).
    """

    #: Every input row with its verdict columns, as `score` returns without snapshots.
    rows: DataFrame
    #: One row per series: the key columns and ``snapshot``, the detector's final state.
    snapshots: DataFrame
    #: The rows and, per series, one extra row carrying its snapshot (``snapshot`` not null).
    combined: DataFrame


def score(
    df: DataFrame,
    detector: str = "default",
    *,
    key: Key = "series",
    timestamp: str = "timestamp",
    value: str = "value",
    columns: Sequence[str] = VERDICT_COLUMNS,
    snapshots: DataFrame | None = None,
    with_snapshots: bool = False,
    late: _Late = "raise",
    **params: Any,
) -> DataFrame | Scored:
    """Scores every series of a (batch) DataFrame with its own detector, in time order.

    ``df`` holds one row per point: the ``key`` column(s) naming the series, ``timestamp``
    (a Spark timestamp, a date, or integers read as Unix milliseconds) and ``value``
    (numeric); other columns (labels, ids) pass through unchanged. ``detector`` and
    ``params`` are those of `oddsight.Detector` and are checked here, once.

    ``snapshots``: a DataFrame of ``(key..., snapshot)`` rows from an earlier job (the
    ``snapshots`` of a `Scored`); each series it names starts from its snapshot, the others
    from a fresh detector. ``late`` says what happens to a row older than the newest point
    its series' snapshot has learned: ``"raise"`` fails the job with `oddsight.OutOfOrder`,
    ``"null"`` returns the row with null verdict columns and learns nothing from it.

    Returns the scored rows (every input row plus ``columns``), or with
    ``with_snapshots=True`` a `Scored` whose ``snapshots`` holds each series' final detector
    snapshot (series only in ``snapshots`` keep theirs).

    Raises `oddsight.InvalidParameter` / `oddsight.InvalidSpec` for a bad detector or
    argument and `oddsight.InvalidData` for missing or mistyped columns, before any job runs.
    Data errors inside a series (a null or non-finite value, a malformed snapshot) fail the
    job with the oddsight error, prefixed with the series key.
    """
    plan = _Plan.build(df, detector, params, key, timestamp, value, columns, late)
    if snapshots is not None:
        _check_snapshots(snapshots, plan.keys)
    schema = plan.output_schema(with_snapshot=with_snapshots)
    prepared = plan.prepare(df)
    grouped = prepared.groupBy(*plan.keys)
    fresh, inputs, verdicts, keys, late_mode = plan.fresh, plan.names, plan.columns, plan.keys, plan.late

    if snapshots is None:

        def one(pdf: pd.DataFrame) -> pd.DataFrame:
            return _batch_group(pdf, None, fresh, keys, value, inputs, verdicts, late_mode, with_snapshots)

        combined = grouped.applyInPandas(one, schema)
    else:
        prior = snapshots.select(*keys, SNAPSHOT_COLUMN)

        def both(pdf: pd.DataFrame, snaps: pd.DataFrame) -> pd.DataFrame:
            return _batch_group(pdf, snaps, fresh, keys, value, inputs, verdicts, late_mode, with_snapshots)

        combined = grouped.cogroup(prior.groupBy(*keys)).applyInPandas(both, schema)

    if not with_snapshots:
        return combined
    return Scored(
        rows=combined.where(F.col(SNAPSHOT_COLUMN).isNull()).drop(SNAPSHOT_COLUMN),
        snapshots=final_snapshots(combined, key),
        combined=combined,
    )


def final_snapshots(combined: DataFrame, key: Key = "series") -> DataFrame:
    """The ``(key..., snapshot)`` rows of a `Scored.combined` DataFrame: one per series."""
    keys = _keys(key)
    return combined.where(F.col(SNAPSHOT_COLUMN).isNotNull()).select(*keys, SNAPSHOT_COLUMN)


def score_stream(
    df: DataFrame,
    detector: str = "default",
    *,
    key: Key = "series",
    timestamp: str = "timestamp",
    value: str = "value",
    columns: Sequence[str] = VERDICT_COLUMNS,
    late: _Late = "null",
    idle_timeout: datetime.timedelta | int | None = None,
    **params: Any,
) -> DataFrame:
    """Scores a streaming DataFrame, keeping each series' detector snapshot as Spark state.

    Arguments are those of `score`. Each micro-batch's rows of a series are sorted by time
    and fed to the detector restored from the series' state (a fresh one the first time);
    its new snapshot becomes the state, written to the query's checkpoint. A query stopped
    and started again on the same checkpoint directory therefore continues exactly where it
    stopped: the scores equal those of one detector fed the whole series in one go.

    ``late`` (default ``"null"``): a row older than the newest point its series has learned
    (it came in a later micro-batch) is returned with null verdict columns; ``"raise"``
    fails the query instead. ``idle_timeout`` (a `datetime.timedelta` or milliseconds, in
    processing time) forgets the state of a series that has received nothing for that long;
    its next rows start a fresh detector. Spark then runs micro-batches without data to
    expire state, so a query with ``idle_timeout`` under ``Trigger.AvailableNow`` (or
    ``once``) never finishes: use a processing-time trigger.

    Returns a streaming DataFrame (output mode ``"append"``) of every row with ``columns``
    added; start it with ``writeStream`` and a ``checkpointLocation``.
    """
    plan = _Plan.build(df, detector, params, key, timestamp, value, columns, late)
    idle_ms = _duration_ms(idle_timeout)
    schema = plan.output_schema(with_snapshot=False)
    state_schema = T.StructType([T.StructField(SNAPSHOT_COLUMN, T.StringType(), False)])
    fresh, inputs, verdicts, keys, late_mode = plan.fresh, plan.names, plan.columns, plan.keys, plan.late

    def step(key_values: tuple[Any, ...], pdfs: Iterator[pd.DataFrame], state: GroupState) -> Iterator[pd.DataFrame]:
        if state.hasTimedOut:
            state.remove()
            return
        pdf = pd.concat(list(pdfs), ignore_index=True)
        where = _describe(keys, key_values)
        detector = _restore(state.get[0], where) if state.exists else Detector.restore(fresh)
        out = _score_rows(pdf, detector, value, inputs, verdicts, late_mode, where)
        state.update((_snapshot(detector, where),))
        if idle_ms is not None:
            state.setTimeoutDuration(idle_ms)
        yield out

    timeout = GroupStateTimeout.NoTimeout if idle_ms is None else GroupStateTimeout.ProcessingTimeTimeout
    return (
        plan.prepare(df)
        .groupBy(*keys)
        .applyInPandasWithState(step, schema, state_schema, "append", timeout)
    )


# --- the plan: arguments checked once, on the driver -------------------------------------


class _Plan(NamedTuple):
    fresh: str  # a fresh detector's snapshot: restored per series, so params are read once
    keys: list[str]
    timestamp: str
    value: str
    columns: list[str]
    names: list[str]  # input columns, in order, as they come back
    input_schema: T.StructType
    late: str

    @staticmethod
    def build(
        df: DataFrame,
        detector: str,
        params: Mapping[str, Any],
        key: Key,
        timestamp: str,
        value: str,
        columns: Sequence[str],
        late: str,
    ) -> _Plan:
        if not isinstance(df, DataFrame):
            raise InvalidParameter(f"invalid parameter df: expected a pyspark DataFrame, got {type(df).__name__}")
        fresh = Detector(detector, **params)
        keys = _keys(key)
        fields = {f.name: f for f in df.schema.fields}
        for role, name in [*(("key", k) for k in keys), ("timestamp", timestamp), ("value", value)]:
            if name not in fields:
                raise InvalidData(f"{role} column {name!r} is not in the DataFrame (columns: {', '.join(fields)})")
        if len(set(keys)) != len(keys) or timestamp in keys or value in keys or timestamp == value:
            raise InvalidParameter("invalid parameter key/timestamp/value: the columns must be distinct")
        ts_type = fields[timestamp].dataType
        if not isinstance(ts_type, (T.TimestampType, T.DateType, T.IntegerType, T.LongType)):
            raise InvalidData(
                f"timestamp column {timestamp!r} must be a timestamp, a date or integers (Unix ms), got {ts_type.simpleString()}"
            )
        if not isinstance(fields[value].dataType, T.NumericType):
            raise InvalidData(f"value column {value!r} must be numeric, got {fields[value].dataType.simpleString()}")
        if isinstance(columns, str) or not columns:
            raise InvalidParameter("invalid parameter columns: must be a non-empty sequence of verdict column names")
        cols = list(columns)
        for c in cols:
            if c not in ALL_VERDICT_COLUMNS:
                raise InvalidParameter(
                    f"invalid parameter columns: unknown verdict column {c!r} (known: {', '.join(ALL_VERDICT_COLUMNS)})"
                )
            if c in fields:
                raise InvalidParameter(f"invalid parameter columns: {c!r} is already a column of the DataFrame")
        if len(set(cols)) != len(cols):
            raise InvalidParameter("invalid parameter columns: a verdict column is named twice")
        for reserved in (SNAPSHOT_COLUMN, _TS_MS):
            if reserved in fields:
                raise InvalidParameter(f"invalid parameter df: the column name {reserved!r} is reserved")
        if late not in ("raise", "null"):
            raise InvalidParameter(f"invalid parameter late: must be 'raise' or 'null', got {late!r}")
        return _Plan(fresh.snapshot(), keys, timestamp, value, cols, list(fields), df.schema, late)

    def prepare(self, df: DataFrame) -> DataFrame:
        """The input plus the Unix-millisecond column the detectors read."""
        return df.withColumn(_TS_MS, _unix_ms(F.col(self.timestamp), self.input_schema[self.timestamp].dataType))

    def output_schema(self, with_snapshot: bool) -> T.StructType:
        # Every non-key column is nullable: late rows carry null verdicts and snapshot rows
        # carry nulls in the point columns.
        out = [
            f if f.name in self.keys else T.StructField(f.name, f.dataType, True, f.metadata)
            for f in self.input_schema.fields
        ]
        out += [T.StructField(c, ALL_VERDICT_COLUMNS[c], True) for c in self.columns]
        if with_snapshot:
            out.append(T.StructField(SNAPSHOT_COLUMN, T.StringType(), True))
        return T.StructType(out)


def _keys(key: Key) -> list[str]:
    keys = [key] if isinstance(key, str) else list(key) if isinstance(key, Sequence) else None
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise InvalidParameter(f"invalid parameter key: must be a column name or a non-empty list of them, got {key!r}")
    return keys


def _duration_ms(duration: Any) -> int | None:
    if duration is None:
        return None
    if isinstance(duration, datetime.timedelta):
        ms = duration // datetime.timedelta(milliseconds=1)
    elif isinstance(duration, (int, np.integer)) and not isinstance(duration, bool):
        ms = int(duration)
    else:
        raise InvalidParameter(
            f"invalid parameter idle_timeout: must be a timedelta or milliseconds, got {type(duration).__name__}"
        )
    if ms < 1:
        raise InvalidParameter(f"invalid parameter idle_timeout: must be at least 1 ms, got {ms} ms")
    return ms


def _unix_ms(col: Column, data_type: T.DataType) -> Column:
    if isinstance(data_type, T.TimestampType):
        return F.unix_millis(col)
    if isinstance(data_type, T.DateType):
        return F.unix_millis(col.cast("timestamp"))
    return col.cast("long")


def _check_snapshots(snapshots: DataFrame, keys: list[str]) -> None:
    if not isinstance(snapshots, DataFrame):
        raise InvalidParameter(f"invalid parameter snapshots: expected a pyspark DataFrame, got {type(snapshots).__name__}")
    fields = {f.name: f.dataType for f in snapshots.schema.fields}
    for name in [*keys, SNAPSHOT_COLUMN]:
        if name not in fields:
            raise InvalidData(f"snapshots: column {name!r} is missing (expected the key columns and {SNAPSHOT_COLUMN!r})")
    if not isinstance(fields[SNAPSHOT_COLUMN], T.StringType):
        raise InvalidData(f"snapshots: column {SNAPSHOT_COLUMN!r} must be a string, got {fields[SNAPSHOT_COLUMN].simpleString()}")


# --- per series, on the executors ---------------------------------------------------------


def _batch_group(
    pdf: pd.DataFrame,
    snaps: pd.DataFrame | None,
    fresh: str,
    keys: list[str],
    value: str,
    names: list[str],
    columns: list[str],
    late: str,
    with_snapshot: bool,
) -> pd.DataFrame:
    if len(pdf):
        key_values = tuple(pdf[k].iloc[0] for k in keys)
    elif snaps is not None and len(snaps):
        key_values = tuple(snaps[k].iloc[0] for k in keys)
    else:
        return _empty(names, columns, with_snapshot)
    where = _describe(keys, key_values)
    if snaps is not None and len(snaps) > 1:
        raise InvalidData(f"{where}: {len(snaps)} snapshots for one series")
    if snaps is not None and len(snaps) == 1:
        detector = _restore(snaps[SNAPSHOT_COLUMN].iloc[0], where)
    else:
        detector = Detector.restore(fresh)
    out = _score_rows(pdf, detector, value, names, columns, late, where)
    if not with_snapshot:
        return out
    # One more row: the key and the final snapshot, nulls elsewhere (reindexing keeps each
    # column's dtype where it can hold a missing value).
    for k in keys:
        out[k] = out[k].astype(object)
    out = out.reindex(range(len(out) + 1))
    last = len(out) - 1
    for k, v in zip(keys, key_values):
        out.loc[last, k] = v
    snapshots = np.full(len(out), None, dtype=object)
    snapshots[last] = _snapshot(detector, where)
    out[SNAPSHOT_COLUMN] = snapshots
    return _arrow_safe(out)


def _score_rows(
    pdf: pd.DataFrame, detector: Detector, value: str, names: list[str], columns: list[str], late: str, where: str
) -> pd.DataFrame:
    """The input columns ``names`` of the rows sorted by time, plus the verdict ``columns``;
    the detector learns the rows. Late rows (older than what the detector has learned) get
    null verdicts with ``late == "null"``."""
    pdf = pdf.sort_values(_TS_MS, kind="stable", ignore_index=True)
    ts = pdf[_TS_MS].to_numpy(dtype=np.int64)
    values = pdf[value].to_numpy(dtype=np.float64, na_value=np.nan)
    out = pdf[names].copy()
    last = detector.last_timestamp
    fresh = None
    if late == "null" and last is not None and len(ts) and ts[0] < last:
        fresh = ts >= last
        ts, values = ts[fresh], values[fresh]
    if not len(ts):
        for c in columns:
            out[c] = np.full(len(out), None, dtype=object)
        return _arrow_safe(out)
    try:
        verdicts = detector.verdicts_batch(values, ts)
    except OddsightError as e:
        raise type(e)(f"{where}: {e}") from e
    for c in columns:
        got = verdicts[c]
        if fresh is None:
            out[c] = got
        else:
            full = np.full(len(out), None, dtype=object)
            full[fresh] = got
            out[c] = full
    return _arrow_safe(out)


def _arrow_safe(out: pd.DataFrame) -> pd.DataFrame:
    # pyspark converts plain object columns of str reliably; pandas' Arrow-backed string
    # columns (the default from pandas 3) come out as chunked arrays it does not accept.
    for c in out.columns:
        if isinstance(out[c].dtype, pd.StringDtype):
            out[c] = out[c].astype(object)
    return out


def _restore(snapshot: Any, where: str) -> Detector:
    if not isinstance(snapshot, str):
        raise InvalidData(f"{where}: snapshot is {type(snapshot).__name__}, not a string")
    try:
        return Detector.restore(snapshot)
    except OddsightError as e:
        raise type(e)(f"{where}: {e}") from e


def _snapshot(detector: Detector, where: str) -> str:
    try:
        return detector.snapshot()
    except OddsightError as e:  # pragma: no cover - a detector always serialises
        raise type(e)(f"{where}: {e}") from e


def _describe(keys: list[str], key_values: tuple[Any, ...]) -> str:
    return "series " + ", ".join(f"{k}={v!r}" for k, v in zip(keys, key_values))


def _empty(names: list[str], columns: list[str], with_snapshot: bool) -> pd.DataFrame:
    cols = [*names, *columns] + ([SNAPSHOT_COLUMN] if with_snapshot else [])
    return pd.DataFrame({c: [] for c in cols})

