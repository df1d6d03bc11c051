"""Shared fixtures: the repository root, the `oddsight` command line, seeded test vectors."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"


def vector(n: int = 600, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A seeded test series: noise around 100 with a daily-ish wave, two spikes, a dip and a
    level shift at 3/4; timestamps five minutes apart from 2014-04-10 (Unix ms)."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    values = 100.0 + 10.0 * np.sin(i / 288.0 * 2 * np.pi) + rng.normal(0.0, 2.0, n)
    values[n // 3] += 40.0
    values[n // 2] -= 35.0
    values[n // 2 + 7] += 60.0
    values[3 * n // 4 :] += 25.0
    timestamps = 1_397_088_000_000 + i.astype(np.int64) * 300_000
    return np.round(values, 6), timestamps


def rust_vector(n: int = 400) -> np.ndarray:
    """The series the Rust unit test in src/fixtures.rs feeds (same formula, no randomness)."""
    i = np.arange(n, dtype=np.float64)
    values = 50.0 + (i % 17) * 0.5 + np.where(i % 97 == 0, 30.0, 0.0)
    return values


def _newest(paths: list[Path]) -> Path | None:
    present = [p for p in paths if p.is_file()]
    return max(present, key=lambda p: p.stat().st_mtime) if present else None


@pytest.fixture(scope="session")
def cli() -> Path:
    """The `oddsight` command line: $ODDSIGHT_CLI, else the newest of target/{release,debug},
    else built with `cargo build -p oddsight-examples`."""
    env = os.environ.get("ODDSIGHT_CLI")
    if env:
        return Path(env)
    found = _newest([ROOT / "target" / "release" / "oddsight", ROOT / "target" / "debug" / "oddsight"])
    if found is not None:
        return found
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.fail("no oddsight binary in target/ and no cargo to build one")
    subprocess.run([cargo, "build", "-q", "-p", "oddsight-examples", "--bin", "oddsight"], cwd=ROOT, check=True)
    return ROOT / "target" / "debug" / "oddsight"
