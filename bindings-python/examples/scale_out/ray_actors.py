"""Example (not part of the package): oddsight on Ray, detectors living in actors.

Series are hashed to a few actors; each actor holds one detector per series it owns and
observes batches in time order. `snapshots()` returns each detector's versioned JSON, which is
what to store for recovery: a new actor started from those snapshots goes on exactly where the
old one stopped (shown below by killing the actors half-way).

    pip install "ray[data]" oddsight && python ray_actors.py
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import ray

import oddsight

DETECTOR = "mad(window=60, warmup=30)"
ACTORS = 2


@ray.remote
class SeriesDetectors:
    """The detectors of the series hashed to this actor."""

    def __init__(self, snapshots: dict[str, str] | None = None) -> None:
        self.detectors = {k: oddsight.Detector.restore(s) for k, s in (snapshots or {}).items()}

    def observe(self, series: str, timestamps: np.ndarray, values: np.ndarray) -> np.ndarray:
        detector = self.detectors.get(series)
        if detector is None:
            detector = self.detectors[series] = oddsight.Detector(DETECTOR)
        return detector.observe_batch(values, timestamps)

    def snapshots(self) -> dict[str, str]:
        return {k: d.snapshot() for k, d in self.detectors.items()}


def owner(series: str) -> int:
    return zlib.crc32(series.encode()) % ACTORS


def feed(actors: list, chunk: pd.DataFrame) -> dict[str, np.ndarray]:
    calls = {}
    for name, rows in chunk.groupby("series"):
        rows = rows.sort_values("timestamp", kind="stable")
        calls[name] = actors[owner(name)].observe.remote(
            name, rows["timestamp"].to_numpy(np.int64), rows["value"].to_numpy(np.float64)
        )
    return {name: ray.get(ref) for name, ref in calls.items()}


def main() -> None:
    rng = np.random.default_rng(4)
    minutes = np.arange(1440)
    frames = []
    for s in range(20):
        values = 100.0 + s + rng.normal(0.0, 2.0, 1440)
        values[900 + s] += 40.0
        frames.append(pd.DataFrame({"series": f"api-{s:02d}", "timestamp": minutes * 60_000, "value": values}))
    data = pd.concat(frames, ignore_index=True)

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    actors = [SeriesDetectors.remote() for _ in range(ACTORS)]
    scores: dict[str, list[np.ndarray]] = {}
    for hour in range(24):
        if hour == 12:
            # Checkpoint, lose the actors, start new ones from the snapshots.
            saved = [ray.get(a.snapshots.remote()) for a in actors]
            for a in actors:
                ray.kill(a)
            actors = [SeriesDetectors.remote(s) for s in saved]
        chunk = data[(data["timestamp"] >= hour * 3_600_000) & (data["timestamp"] < (hour + 1) * 3_600_000)]
        for name, got in feed(actors, chunk).items():
            scores.setdefault(name, []).append(got)

    for name, rows in data.groupby("series"):
        want = oddsight.Detector(DETECTOR).observe_batch(rows["value"].to_numpy(), rows["timestamp"].to_numpy())
        assert np.array_equal(np.concatenate(scores[name]), want), name
    flagged = sum(int((np.concatenate(v) > 0.5).sum()) for v in scores.values())
    print(f"ray: {len(data)} points, {len(scores)} series in {ACTORS} actors, {flagged} scores > 0.5;"
          " hourly batches and a restart from snapshots equal one run per series")
    ray.shutdown()


if __name__ == "__main__":
    main()
