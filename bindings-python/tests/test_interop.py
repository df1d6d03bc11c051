"""Snapshots cross between Rust and Python both ways (fixtures written by the Rust unit test
`fixtures::rust_snapshots_for_python`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import oddsight
from conftest import DATA, rust_vector

FIXTURES = json.loads((DATA / "rust_snapshots.json").read_text())


def continuation(n: int) -> tuple[np.ndarray, np.ndarray]:
    j = np.arange(20)
    values = 55.0 + (j % 5) + np.where(j == 13, 40.0, 0.0)
    return values, (n + j).astype(np.int64) * 60_000


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["spec"] for f in FIXTURES])
def test_a_rust_snapshot_restores_in_python_and_continues_identically(fixture: dict) -> None:
    d = oddsight.Detector.restore(fixture["snapshot"])
    values, timestamps = continuation(fixture["n"])
    got = d.observe_batch(values, timestamps)
    assert got.tolist() == fixture["next"]


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f["spec"] for f in FIXTURES])
def test_python_writes_the_snapshot_rust_writes(fixture: dict) -> None:
    d = oddsight.Detector(fixture["spec"])
    d.observe_batch(rust_vector(fixture["n"]))  # no timestamps: a minute apart from 0, as in Rust
    assert d.snapshot() == fixture["snapshot"]
    assert d == oddsight.Detector.restore(fixture["snapshot"])


def test_snapshot_envelope() -> None:
    env = json.loads(oddsight.Detector("mad").snapshot())
    assert env["format"] == "oddsight" and env["kind"] == "AnyDetector" and env["version"] == 1
    assert env["state"]["type"] == "mad"
