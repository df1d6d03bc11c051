"""`oddsight.Monitor` and `oddsight.analyze`."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import oddsight

MIN = 60_000
CONFIG = {
    "targets": [
        {"name": "latency", "selector": "latency_ms", "detector": "ewma(warmup=20)", "interval": "5m"},
        {"name": "queries", "selector": 'queries{service="checkout"}', "detector": "ewma(warmup=20)"},
    ]
}


def feed(m: oddsight.Monitor, minutes: range) -> None:
    for minute in minutes:
        t = minute * MIN
        wobble = minute % 5
        trouble = 40 <= minute < 50
        m.ingest('latency_ms{service="checkout",host="a"}', t, 900.0 if trouble else 120.0 + wobble)
        m.ingest('queries{service="checkout"}', t, 80.0 if 41 <= minute < 50 else 20.0 + wobble)


def test_the_rust_doc_example() -> None:
    m = oddsight.Monitor(CONFIG)
    feed(m, range(60))
    events = m.tick(60 * MIN)
    fired = [e["target"] for e in events if e.get("event") == "fired"]
    assert fired == ["latency", "queries"]
    incidents = m.incidents()
    assert incidents[0]["service"] == "checkout"
    assert [s["metric"] for s in incidents[0]["signals"]] == ["latency_ms", "queries"]
    assert incidents[0]["status"] == "closed"
    assert m.incident(incidents[0]["id"]) == incidents[0]
    assert m.series_count == 2


def test_batches_give_what_single_points_give_and_snapshots_round_trip() -> None:
    a, b = oddsight.Monitor(CONFIG), oddsight.Monitor(CONFIG)
    feed(a, range(60))
    minutes = np.arange(60)
    lat = np.where((minutes >= 40) & (minutes < 50), 900.0, 120.0 + minutes % 5)
    q = np.where((minutes >= 41) & (minutes < 50), 80.0, 20.0 + minutes % 5)
    b.ingest_batch('latency_ms{service="checkout",host="a"}', lat, minutes * MIN)
    b.ingest_batch('queries{service="checkout"}', q, (minutes * MIN).astype("datetime64[ms]"))
    c = oddsight.Monitor.restore(a.snapshot())
    d = pickle.loads(pickle.dumps(a))
    events = a.tick(60 * MIN)
    # Events do not depend on how points were split into calls (internal sequence numbers do).
    assert b.tick(60 * MIN) == events
    assert c.tick(60 * MIN) == events == d.tick(60 * MIN)
    assert len(events) >= 4


def test_targets_alerts_acknowledge_resolve() -> None:
    m = oddsight.Monitor(history=10)
    m.add_target(name="lat", selector="latency_ms", detector="ewma(warmup=10)", interval="1m")
    m.add_target({"name": "off", "selector": "cpu", "enabled": False})
    assert [t["config"]["name"] for t in m.targets()] == ["lat", "off"]
    assert m.target("lat")["interval_ms"] == MIN and m.target("ghost") is None
    assert m.config()["history"] == 10
    for i in range(30):
        m.ingest("latency_ms", i * MIN, 100.0 + i % 3)
    for i in range(30, 34):
        m.ingest("latency_ms", i * MIN, 500.0)
    events = m.tick(34 * MIN)
    fired = [e for e in events if e.get("event") == "fired"]
    assert len(fired) == 1
    alert_id = fired[0]["alert_id"]
    assert [a["id"] for a in m.alerts(open_only=True)] == [alert_id]
    assert m.alerts(target="off") == [] and m.alerts(min_severity="critical", target="ghost") == []
    with pytest.raises(oddsight.InvalidParameter):
        m.alerts(min_severity="dire")
    assert m.acknowledge(alert_id, 35 * MIN)["acknowledged_at"] == 35 * MIN
    assert m.alerts(unacknowledged_only=True) == []
    resolved = m.resolve(alert_id, 36 * MIN)
    assert any(e.get("event") == "resolved" for e in resolved)
    assert m.alert(alert_id)["id"] == alert_id
    with pytest.raises(oddsight.AlertClosed):
        m.resolve(alert_id, 37 * MIN)
    m.set_enabled("off", True)
    assert m.update_target(name="lat", selector="latency_ms", detector="mad") == []
    assert m.remove_target("off") == []
    assert "Monitor(targets=1" in repr(m)


def test_bad_points_are_refused_whole() -> None:
    m = oddsight.Monitor(CONFIG)
    m.ingest("latency_ms", 10 * MIN, 1.0)
    before = m.snapshot()
    with pytest.raises(oddsight.NonFiniteValue):
        m.ingest_batch("latency_ms", [1.0, float("nan")], [11 * MIN, 12 * MIN])
    with pytest.raises(oddsight.OutOfOrder):
        m.ingest("latency_ms", 0, 1.0)
    with pytest.raises(oddsight.ShapeMismatch):
        m.ingest_batch("latency_ms", [1.0, 2.0], [11 * MIN])
    assert m.snapshot() == before
    # A refused batch for a new series leaves no series behind.
    with pytest.raises(oddsight.NonFiniteValue):
        m.ingest_batch('latency_ms{host="new"}', [1.0, float("inf")], [0, 1])
    with pytest.raises(oddsight.OutOfOrder):
        m.ingest_batch('latency_ms{host="new"}', [1.0, 2.0], [5, 1])
    with pytest.raises(oddsight.InvalidSeries):
        m.ingest_batch("bad{", [1.0], [0])
    assert m.snapshot() == before and m.series_count == 1
    with pytest.raises(oddsight.MalformedSnapshot):
        oddsight.Monitor.restore("{}")


def test_config_as_json_text() -> None:
    import json

    assert oddsight.Monitor(json.dumps(CONFIG)).config() == oddsight.Monitor(CONFIG).config()


def test_analyze() -> None:
    a = oddsight.analyze([100.0, 105.0, 102.0, 98.0, 250.0, 103.0])
    assert a["flagged"] == [4] and a["methods"] == ["batch_robust_z"]
    p = a["points"][4]
    assert p["expected"] == 102.0 and p["deviation"] == 148.0 and p["severity"] == "high" and p["verdicts"][0]["severity"] == "medium"
    b = oddsight.analyze(np.r_[np.full(50, 10.0) + np.arange(50) % 3, 90.0], methods=["ewma", "batch_robust_z"])
    assert b["methods"] == ["ewma", "batch_robust_z"] and 50 in b["flagged"]
    assert oddsight.analyze([1.0, 2.0, 3.0], timestamps=[0, 1, 2], methods="mad")["methods"] == ["mad"]
    with pytest.raises(oddsight.InvalidSpec):
        oddsight.analyze([1.0, 2.0], methods=["nope"])
