"""Example (not part of the package): oddsight on Dask, one detector per series.

`groupby(series).apply` shuffles each series to one partition; the per-series function sorts
it by time, restores the series' detector from its snapshot (or builds a new one), scores, and
returns the rows with their verdicts. A second frame of (series, snapshot) carries each
detector to the next run.

    pip install "dask[dataframe]" oddsight && python dask_groupby.py
"""

from __future__ import annotations

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

import oddsight

DETECTOR = "mad(window=60, warmup=30)"


def score_series(rows: pd.DataFrame, snapshots: dict[str, str]) -> pd.DataFrame:
    """One series: its rows in time order with anomaly scores; its new snapshot in a column
    (the same on every row; keep one per series)."""
    rows = rows.drop(columns="group", errors="ignore").sort_values("timestamp", kind="stable")
    name = rows["series"].iloc[0]
    prior = snapshots.get(name)
    detector = oddsight.Detector.restore(prior) if prior else oddsight.Detector(DETECTOR)
    verdicts = detector.verdicts_batch(rows["value"].to_numpy(np.float64), rows["timestamp"].to_numpy(np.int64))
    return rows.assign(
        anomaly_score=verdicts["anomaly_score"],
        is_anomaly=verdicts["is_anomaly"],
        snapshot=detector.snapshot(),
    )


def run(ddf: dd.DataFrame, snapshots: dict[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    meta = {**ddf.dtypes.to_dict(), "anomaly_score": "f8", "is_anomaly": "bool", "snapshot": "object"}
    # Grouped by a copy of the key: pandas leaves the grouping column out of each group.
    grouped = ddf.assign(group=ddf["series"]).groupby("group")
    out = grouped.apply(score_series, snapshots, meta=meta).compute().reset_index(drop=True)
    new = out.groupby("series")["snapshot"].first().to_dict()
    return out.drop(columns="snapshot"), {**snapshots, **new}


def main() -> None:
    rng = np.random.default_rng(4)
    minutes = np.arange(1440)
    frames = []
    for s in range(20):
        values = 100.0 + s + rng.normal(0.0, 2.0, 1440)
        values[900 + s] += 40.0
        frames.append(pd.DataFrame({"series": f"api-{s:02d}", "timestamp": minutes * 60_000, "value": values}))
    data = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=1)

    with dask.config.set(scheduler="processes", num_workers=2):
        morning, evening = data[data["timestamp"] < 720 * 60_000], data[data["timestamp"] >= 720 * 60_000]
        first, snapshots = run(dd.from_pandas(morning, npartitions=4), {})
        second, snapshots = run(dd.from_pandas(evening, npartitions=4), snapshots)

    scored = pd.concat([first, second]).sort_values(["series", "timestamp"])
    # Two runs, carried by snapshots, equal one detector per series over the whole day.
    for name, rows in data.groupby("series"):
        rows = rows.sort_values("timestamp")
        d = oddsight.Detector(DETECTOR)
        want = d.observe_batch(rows["value"].to_numpy(), rows["timestamp"].to_numpy())
        got = scored.loc[scored["series"] == name, "anomaly_score"].to_numpy()
        assert np.array_equal(got, want), name
        assert snapshots[name] == d.snapshot()
    flagged = scored[scored["is_anomaly"]]
    print(f"dask: {len(scored)} rows, {scored['series'].nunique()} series, {len(flagged)} flagged;"
          " two runs carried by snapshots equal one run per series")


if __name__ == "__main__":
    main()
