"""Objects shared between threads: batch calls release the GIL, state stays consistent."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import oddsight
from conftest import vector


def test_one_detector_many_threads() -> None:
    d = oddsight.Detector("ewma")
    chunks = [np.full(5_000, 100.0) + (np.arange(5_000) % 7) for _ in range(16)]
    errors: list[BaseException] = []

    def work(chunk: np.ndarray) -> None:
        try:
            d.observe_batch(chunk)  # timestamps: a minute after the newest, so order holds
            d.observe(1.0 + chunk[0])
            d.snapshot()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # 16 batches and 16 single points, each one whole: the detector saw every point once.
    assert d.last_timestamp == (16 * 5_000 + 16 - 1) * 60_000


def test_independent_detectors_in_parallel_match_serial() -> None:
    values, timestamps = vector(20_000)
    specs = ["ewma", "mad", "default", "cusum"] * 2
    serial = [oddsight.score(values, timestamps, s) for s in specs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda s: oddsight.score(values, timestamps, s), specs))
    for a, b in zip(serial, parallel):
        assert np.array_equal(a, b)


def test_monitor_shared_between_threads() -> None:
    m = oddsight.Monitor({"targets": [{"name": "all", "selector": "*", "detector": "ewma"}]})
    n = 2_000

    def work(k: int) -> None:
        m.ingest_batch(f'm{{host="h{k}"}}', np.full(n, 1.0) + np.arange(n) % 3, np.arange(n) * 60_000)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(8)))
    assert m.series_count == 8
    assert m.targets()[0]["series"] == 8
