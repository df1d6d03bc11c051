"""`oddsight.score`: bit for bit what `oddsight score` writes, for every input form."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import numpy as np
import pytest

import oddsight
from conftest import vector


def run_cli(cli: Path, tmp_path: Path, timestamps: list[str], values: list[str], spec: str | None,
            unit: str = "ms") -> np.ndarray:
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in zip(timestamps, values)))
    cmd = [str(cli), "score", "--quiet", "--time-unit", unit]
    if spec is not None:
        cmd += ["--detector", spec]
    subprocess.run(cmd + [str(src), str(out)], check=True)
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,value,anomaly_score"
    return np.array([float(line.rsplit(",", 1)[1]) for line in lines[1:]])


SPECS = [
    None,  # the command line's default, which must be the library's
    "ewma",
    "mad(window=60, warmup=10)",
    "seasonal(period=1d, bucket=1h, min_samples=2)",
    "ensemble(mad, cusum, roc, combine=logp)",
    "bocpd",
]


@pytest.mark.parametrize("spec", SPECS)
def test_identical_to_the_command_line(cli: Path, tmp_path: Path, spec: str | None) -> None:
    values, timestamps = vector()
    want = run_cli(cli, tmp_path, [str(t) for t in timestamps], [repr(float(v)) for v in values], spec)
    got = oddsight.score(values, timestamps, detector=spec or "default")
    assert got.dtype == np.float64 and got.shape == values.shape
    differ = np.flatnonzero(got.view(np.int64) != want.view(np.int64))
    assert differ.size == 0, (
        f"{differ.size} scores differ from `oddsight score` (first at index {differ[0]}: "
        f"{got[differ[0]]!r} vs {want[differ[0]]!r}); is the command line built from the same sources?"
    )
    assert ((got >= 0) & (got <= 1)).all()


def test_identical_with_iso_strings_and_backward_time(cli: Path, tmp_path: Path) -> None:
    values, timestamps = vector(300)
    iso = [dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") for t in timestamps]
    iso[100], iso[101] = iso[101], iso[100]  # one step back in time: clamped on both sides
    iso[200] = iso[200].replace(" ", "T") + "Z"
    want = run_cli(cli, tmp_path, iso, [repr(float(v)) for v in values], "mad(window=30, warmup=5)")
    got = oddsight.score(values, iso, detector="mad(window=30, warmup=5)")
    assert np.array_equal(got, want)


def test_identical_with_unix_seconds(cli: Path, tmp_path: Path) -> None:
    values, timestamps = vector(200)
    seconds = [str(t // 1000) for t in timestamps]
    want = run_cli(cli, tmp_path, seconds, [repr(float(v)) for v in values], "ewma", unit="auto")
    assert np.array_equal(oddsight.score(values, seconds, detector="ewma"), want)
    assert np.array_equal(oddsight.score(values, timestamps, detector="ewma"), want)


def test_every_input_form_gives_the_same_scores() -> None:
    values, timestamps = vector(300)
    base = oddsight.score(values, timestamps, "ewma")
    assert np.array_equal(oddsight.score(values.tolist(), timestamps.tolist(), "ewma"), base)
    assert np.array_equal(oddsight.score(values.astype(np.longdouble), timestamps, "ewma"), base)
    assert np.array_equal(oddsight.score(values, timestamps.astype("datetime64[ms]"), "ewma"), base)
    assert np.array_equal(oddsight.score(values, timestamps.astype("datetime64[ms]").astype("datetime64[ns]"), "ewma"), base)
    as_datetimes = [dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc) for t in timestamps]
    assert np.array_equal(oddsight.score(values, as_datetimes, "ewma"), base)
    naive = [d.replace(tzinfo=None) for d in as_datetimes]  # naive is UTC, as on the command line
    assert np.array_equal(oddsight.score(values, naive, "ewma"), base)
    iso = [d.isoformat() for d in as_datetimes]
    assert np.array_equal(oddsight.score(values, iso, "ewma"), base)
    assert np.array_equal(oddsight.score(values, np.array(iso), "ewma"), base)
    # Strided (non-contiguous) arrays are copied once, with the same result.
    wide = np.repeat(values, 2)[::2]
    assert not wide.flags.c_contiguous
    assert np.array_equal(oddsight.score(wide, timestamps, "ewma"), base)
    assert np.array_equal(oddsight.score(values, np.repeat(timestamps, 2)[::2], "ewma"), base)
    # Integer values are converted.
    ints = np.arange(50)
    assert np.array_equal(oddsight.score(ints, detector="ewma"), oddsight.score(ints.astype(float), detector="ewma"))


def test_without_timestamps_points_are_a_minute_apart() -> None:
    values, _ = vector(200)
    implicit = np.arange(200, dtype=np.int64) * 60_000
    assert np.array_equal(oddsight.score(values), oddsight.score(values, implicit))


def test_pandas_and_polars_series() -> None:
    pd = pytest.importorskip("pandas")
    values, timestamps = vector(200)
    base = oddsight.score(values, timestamps, "mad")
    series = pd.Series(values, index=pd.to_datetime(timestamps, unit="ms"))
    assert np.array_equal(oddsight.score(series, series.index, "mad"), base)
    assert np.array_equal(oddsight.score(series, pd.Series(series.index), "mad"), base)
    aware = pd.Series(series.index.tz_localize("UTC").tz_convert("Europe/Paris"))
    assert np.array_equal(oddsight.score(series, aware, "mad"), base)


def test_polars_series() -> None:
    pl = pytest.importorskip("polars")
    values, timestamps = vector(200)
    base = oddsight.score(values, timestamps, "mad")
    assert np.array_equal(oddsight.score(pl.Series(values), pl.Series(timestamps), "mad"), base)


def test_a_detector_object_is_copied_not_consumed() -> None:
    values, timestamps = vector(200)
    d = oddsight.Detector("ewma")
    before = d.snapshot()
    assert np.array_equal(oddsight.score(values, timestamps, d), oddsight.score(values, timestamps, "ewma"))
    assert d.snapshot() == before


def test_empty_input_gives_an_empty_array() -> None:
    out = oddsight.score([])
    assert out.shape == (0,) and out.dtype == np.float64


def test_errors() -> None:
    with pytest.raises(oddsight.NonFiniteValue, match="at index 2"):
        oddsight.score([1.0, 2.0, float("nan")])
    with pytest.raises(oddsight.InvalidSpec, match="unknown detector"):
        oddsight.score([1.0], detector="nope")
    with pytest.raises(oddsight.InvalidParameter, match="window"):
        oddsight.score([1.0], detector="mad(window=0)")
    with pytest.raises(oddsight.ShapeMismatch):
        oddsight.score([1.0, 2.0], [1])
    with pytest.raises(oddsight.ShapeMismatch):
        oddsight.score(np.zeros((3, 2)))
    with pytest.raises(oddsight.InvalidData):
        oddsight.score([1.0], ["yesterday-ish"])
    with pytest.raises(TypeError):
        oddsight.score("1,2,3")
    with pytest.raises(TypeError):
        oddsight.score([1.0], detector=3)
    with pytest.raises(oddsight.InvalidData):
        oddsight.score([1.0, 2.0], np.array(["2014-01-01", "NaT"], dtype="datetime64[ms]"))
    with pytest.raises(oddsight.InvalidData):
        oddsight.score([1.0], [1.5])
