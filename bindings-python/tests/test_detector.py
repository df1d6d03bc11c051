"""`oddsight.Detector` and `oddsight.Verdict`: the streaming verbs, batches, snapshots."""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle

import numpy as np
import pytest

import oddsight
from conftest import vector

FIELDS = [
    "timestamp", "value", "expected", "lower", "upper", "z", "p_value", "anomaly_score", "is_anomaly",
    "direction", "severity", "severity_score", "confidence", "component", "warm",
    "scale_floored", "excluded", "gap", "fallback",
]


def spec_for(name: str) -> str:
    return "ensemble(mad, cusum)" if name == "ensemble" else name


def series_for(name: str, n: int = 300) -> np.ndarray:
    values, _ = vector(n)
    if name == "error_ratio":
        return np.clip(values / 1000.0, 0.0, 1.0)
    if name == "poisson":
        return np.round(np.abs(values - 80.0))
    return values


@pytest.mark.parametrize("name", [n for n, _ in oddsight.Detector.names()])
def test_every_detector_streams_batches_and_round_trips(name: str) -> None:
    values = series_for(name)
    _, timestamps = vector(len(values))
    d = oddsight.Detector(spec_for(name))
    loop = oddsight.Detector(spec_for(name))
    scores = d.observe_batch(values[:200], timestamps[:200])
    looped = [loop.observe(float(v), int(t)).anomaly_score for v, t in zip(values[:200], timestamps[:200])]
    assert np.array_equal(scores, np.array(looped)), "batch differs from the loop"
    assert d == loop
    # Snapshot, restore, pickle: identical state, identical verdicts after.
    restored = oddsight.Detector.restore(d.snapshot())
    pickled = pickle.loads(pickle.dumps(d))
    copied = copy.deepcopy(d)
    rest_v, rest_t = values[200:], timestamps[200:]
    want = d.verdicts_batch(rest_v, rest_t)
    for other in (restored, pickled, copied):
        got = other.verdicts_batch(rest_v, rest_t)
        for f in FIELDS:
            assert np.array_equal(got[f], want[f]), f"{name}: {f}"
    assert ((want["anomaly_score"] >= 0) & (want["anomaly_score"] <= 1)).all()


def test_verdict_has_every_core_field() -> None:
    d = oddsight.Detector("ewma", warmup=5)
    for i in range(50):
        d.observe(100.0 + i % 3, i * 60_000)
    v = d.observe(400.0, 50 * 60_000)
    assert isinstance(v, oddsight.Verdict)
    assert v.is_anomaly and v.warm and v.direction == "up" and v.severity in {"low", "medium", "high", "critical"}
    assert v.score == v.anomaly_score and 0.5 < v.anomaly_score <= 1.0
    assert v.lower < v.expected < v.upper < v.value
    assert v.z > 3 and 0 <= v.p_value < 0.0027 and 0 <= v.confidence <= 1 and 0 <= v.severity_score <= 10
    assert v.deviation == v.value - v.expected
    assert v.component == "ewma" and v.timestamp == 50 * 60_000
    assert v.notes == {"scale_floored": False, "excluded": False, "gap": False, "fallback": False}
    assert not (v.scale_floored or v.excluded or v.gap or v.fallback)
    as_dict = v.to_dict()
    assert set(as_dict) == {f for f in FIELDS if f not in {"scale_floored", "excluded", "gap", "fallback"}} | {"notes"}
    assert json.loads(v.to_json()) == as_dict
    assert oddsight.Verdict.from_json(v.to_json()) == v
    assert pickle.loads(pickle.dumps(v)) == v
    assert "expected" in v.explain() and "Verdict(" in repr(v)


def test_score_judges_without_learning_and_update_learns_without_judging() -> None:
    values, timestamps = vector(100)
    a, b = oddsight.Detector("mad", window=30, warmup=5), oddsight.Detector("mad", window=30, warmup=5)
    for v, t in zip(values, timestamps):
        before = a.snapshot()
        judged = a.score(float(v), int(t))
        assert a.snapshot() == before
        assert a.observe(float(v), int(t)) == judged
        assert b.update(float(v), int(t)) is None
    assert a == b
    batch = a.score_batch(values + 1, timestamps + 10**9)
    assert a == b and batch.shape == values.shape
    b.update_batch(values, timestamps + 10**9)
    assert a != b


def test_keyword_parameters_join_the_spec() -> None:
    assert oddsight.Detector("mad", window=60, warmup=10) == oddsight.Detector("mad(window=60, warmup=10)")
    assert oddsight.Detector("mad(window=60)", warmup=10) == oddsight.Detector("mad(window=60, warmup=10)")
    assert oddsight.Detector("seasonal", period="1d", bucket=dt.timedelta(hours=1)) == oddsight.Detector(
        "seasonal(period=1d, bucket=1h)"
    )
    assert oddsight.Detector('{"name": "ewma"}', alpha=0.2) == oddsight.Detector("ewma(alpha=0.2)")
    assert oddsight.Detector("poisson", sides="upper") == oddsight.Detector("poisson(sides=upper)")
    d = oddsight.Detector()
    assert d == oddsight.Detector(oddsight.DEFAULT_SPEC) and d.kind == oddsight.Detector(oddsight.DEFAULT_SPEC).kind
    with pytest.raises(oddsight.InvalidSpec, match="windw"):
        oddsight.Detector("mad", windw=3)
    with pytest.raises(oddsight.InvalidParameter):
        oddsight.Detector("ewma", alpha=2.0)
    with pytest.raises(TypeError):
        oddsight.Detector("ewma", alpha=[1])


def test_timestamps_in_every_form() -> None:
    t0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    ms = int(t0.timestamp() * 1000)
    forms = [ms, t0, t0.replace(tzinfo=None), "2024-05-01 12:00:00", "2024-05-01T14:00:00+02:00",
             np.datetime64("2024-05-01T12:00:00"), np.int64(ms)]
    for form in forms:
        assert oddsight.Detector("ewma").observe(1.0, form).timestamp == ms, form
    assert oddsight.Detector("ewma").observe(1.0, dt.date(2024, 5, 1)).timestamp == ms - 12 * 3_600_000
    with pytest.raises(TypeError):
        oddsight.Detector("ewma").observe(1.0, object())
    with pytest.raises(oddsight.InvalidData):
        oddsight.Detector("ewma").observe(1.0, "not a time")


def test_points_without_timestamps_come_a_minute_apart() -> None:
    d = oddsight.Detector("ewma")
    assert d.last_timestamp is None
    assert [d.observe(1.0).timestamp for _ in range(3)] == [0, 60_000, 120_000]
    d.observe(1.0, 1_000_000)
    assert d.observe(1.0).timestamp == 1_060_000
    cols = d.verdicts_batch([1.0, 2.0])
    assert cols["timestamp"].tolist() == [1_120_000, 1_180_000]


def test_verdicts_batch_columns() -> None:
    values, timestamps = vector(120)
    d = oddsight.Detector("ewma")
    loop = oddsight.Detector("ewma")
    cols = d.verdicts_batch(values, timestamps)
    assert list(cols) == FIELDS
    verdicts = [loop.observe(float(v), int(t)) for v, t in zip(values, timestamps)]
    for f in FIELDS:
        assert cols[f].shape == (120,)
        assert cols[f].tolist() == [getattr(v, f) for v in verdicts], f
    assert cols["timestamp"].dtype == np.int64 and cols["is_anomaly"].dtype == np.bool_
    assert cols["anomaly_score"].dtype == np.float64 and cols["direction"].dtype.kind == "U"
    # learn=False judges against the current state only.
    before = d.snapshot()
    d.verdicts_batch(values, timestamps + 10**9, learn=False)
    assert d.snapshot() == before


def test_bad_input_leaves_the_state_untouched() -> None:
    values, timestamps = vector(100)
    d = oddsight.Detector("mad", window=20, warmup=5)
    d.observe_batch(values[:50], timestamps[:50])
    before = d.snapshot()
    bad = values[50:].copy()
    bad[-1] = np.inf
    with pytest.raises(oddsight.NonFiniteValue):
        d.observe_batch(bad, timestamps[50:])
    with pytest.raises(oddsight.OutOfOrder):
        d.observe_batch(values[50:], timestamps[50:][::-1].copy())
    with pytest.raises(oddsight.ShapeMismatch):
        d.observe_batch(values[50:], timestamps[50:60])
    with pytest.raises(oddsight.OutOfOrder):
        d.observe(1.0, 0)
    with pytest.raises(oddsight.NonFiniteValue):
        d.update(float("nan"))
    with pytest.raises(oddsight.NonFiniteValue):
        d.update_batch([1.0, float("nan")])
    assert d.snapshot() == before
    d.reset()
    assert d.last_timestamp is None


def test_snapshot_errors() -> None:
    with pytest.raises(oddsight.MalformedSnapshot):
        oddsight.Detector.restore("{not json")
    snap = json.loads(oddsight.Detector("ewma").snapshot())
    snap["version"] = 999
    with pytest.raises(oddsight.IncompatibleSnapshot):
        oddsight.Detector.restore(json.dumps(snap))
    snap = json.loads(oddsight.Detector("ewma").snapshot())
    snap["kind"] = "Monitor"
    with pytest.raises(oddsight.SnapshotError):
        oddsight.Detector.restore(json.dumps(snap))
    d = oddsight.Detector("ewma")
    with pytest.raises(oddsight.MalformedSnapshot):
        d.__setstate__('{"format": "oddsight"}')


def test_names_and_repr() -> None:
    names = dict(oddsight.Detector.names())
    assert {"default", "ewma", "mad", "seasonal", "ensemble"} <= set(names)
    d = oddsight.Detector("ewma")
    assert repr(d) == "Detector('ewma')" or repr(d).startswith("Detector(")
    assert isinstance(d.name, str) and d.kind == "ewma"
    assert d != "ewma"
