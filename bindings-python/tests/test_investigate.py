"""`oddsight.investigate`, `oddsight.Investigation`, `oddsight.load_case`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import oddsight

INJECT = 1_700_003_000


def write_case(root: Path) -> Path:
    """Two services; the database's latency jumps at the inject time and checkout follows."""
    case = root / "case-db"
    case.mkdir()
    times = 1_700_000_000 + np.arange(120) * 60
    rng = np.random.default_rng(3)
    db = 20 + rng.normal(0, 1, 120) + np.where(times >= INJECT, 200.0, 0.0)
    checkout = 100 + rng.normal(0, 2, 120) + np.where(times >= INJECT + 120, 80.0, 0.0)
    cpu = 40 + rng.normal(0, 1, 120)
    rows = ["time,db_latency,checkout_latency,checkout_cpu"]
    rows += [f"{t},{a:.4f},{b:.4f},{c:.4f}" for t, a, b, c in zip(times, db, checkout, cpu)]
    (case / "data.csv").write_text("\n".join(rows) + "\n")
    (case / "inject_time.txt").write_text(f"{INJECT}\n")
    (case / "changes.json").write_text(json.dumps(
        [{"time": INJECT - 60, "service": "db", "kind": "deploy", "id": "v42", "summary": "new index"}]
    ))
    (case / "logs.jsonl").write_text("".join(
        json.dumps({"time": int(t), "service": "db", "level": "error", "message": f"query timeout after {i} ms"}) + "\n"
        for i, t in enumerate(times[times >= INJECT][:20])
    ))
    return case


def test_offline_report(tmp_path: Path) -> None:
    report = oddsight.investigate(write_case(tmp_path))
    assert report["root_cause"]["service"] == "db"
    assert report["ranking"][0]["service"] == "db"
    assert 0.0 <= report["confidence"] <= 1.0
    assert report["model"]["used"] is False


def test_load_case_dict_is_an_equivalent_input(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    case = oddsight.load_case(path)
    assert case["inject_time"] == INJECT and {s["service"] for s in case["series"]} == {"db", "checkout"}
    assert oddsight.investigate(case)["root_cause"] == oddsight.investigate(str(path))["root_cause"]


def test_a_python_callable_is_the_model(tmp_path: Path) -> None:
    requests: list[dict] = []

    def llm(request: dict) -> dict:
        requests.append(request)
        assert {"model", "system", "messages", "max_tokens"} <= set(request)
        return {"text": "I cannot say.", "usage": {"input_tokens": 10, "output_tokens": 3}}

    report = oddsight.investigate(write_case(tmp_path), llm=llm, model="test-model")
    assert requests and requests[0]["model"] == "test-model"
    assert report["model"]["calls"] >= 1
    assert report["root_cause"]["service"] == "db"  # an unusable answer falls back to the ranking


def test_a_failing_model_degrades_to_the_deterministic_report(tmp_path: Path) -> None:
    def llm(request: dict) -> dict:
        raise oddsight.RateLimited("slow down")

    report = oddsight.investigate(write_case(tmp_path), llm=llm)
    assert report["root_cause"]["service"] == "db"


def test_evidence_actions_and_approver_callables(tmp_path: Path) -> None:
    queries: list[dict] = []

    def evidence(query: dict) -> list[dict]:
        queries.append(query)
        return [{"kind": "note", "service": query.get("service", ""), "text": "from python"}]

    report = oddsight.investigate(
        write_case(tmp_path), evidence=evidence, actions=lambda action: True, approver=lambda action, fp: False
    )
    assert queries and all("kind" in q for q in queries)
    assert report["root_cause"]["service"] == "db"


def test_stepping_by_hand(tmp_path: Path) -> None:
    inv = oddsight.Investigation(write_case(tmp_path))
    for _ in range(100):
        need = inv.next()
        kind = need["need"]
        if kind == "done":
            break
        if kind == "evidence":
            if need["query"]["kind"] == "similar_incidents":
                inv.provide({"answer": "similar", "matches": []})
            else:
                inv.provide({"answer": "evidence", "items": inv.case_evidence(need["query"])})
        elif kind == "completion":
            inv.provide({"answer": "completion_failed", "code": "NoClient", "message": "none"})
        elif kind == "approval":
            inv.provide({"answer": "approval", "now": 0, "approval": {
                "fingerprint": need["fingerprint"], "granted": False, "approver": "t", "decided_at": 0, "expires_at": 0}})
        elif kind == "execute":
            inv.provide({"answer": "executed", "outcome": {"ok": False, "detail": "not here"}})
        elif kind == "verify":
            inv.provide({"answer": "verified", "values": inv.case_values(need["window"])})
    assert need["need"] == "done"
    assert need["root_cause"]["service"] == "db"
    assert inv.journal()["entries"]
    assert inv.ranking()
    with pytest.raises(oddsight.InvestigationError):
        inv.provide({"answer": "verified", "values": []})


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(oddsight.IoError):
        oddsight.investigate(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "data.csv").write_text("time,db_latency\nx,1\n")
    (bad / "inject_time.txt").write_text("1\n")
    with pytest.raises(oddsight.InvalidCase):
        oddsight.investigate(bad)
    with pytest.raises(oddsight.InvalidParameter):
        oddsight.investigate(write_case(tmp_path), options={"max_tokens": "many"})
    again = tmp_path / "again"
    again.mkdir()
    inv = oddsight.Investigation(write_case(again))
    with pytest.raises(oddsight.InvestigationError):
        inv.provide({"answer": "nonsense"})
