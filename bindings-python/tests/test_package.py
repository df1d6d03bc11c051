"""The package itself: version, typing files, public names."""

from __future__ import annotations

from pathlib import Path

import oddsight


def test_version() -> None:
    assert oddsight.__version__ == "0.1.0"


def test_native_module_inside_the_package() -> None:
    from oddsight import _oddsight

    assert _oddsight.__name__ == "oddsight._oddsight"
    assert oddsight.Detector.__module__ == "oddsight"


def test_typing_files_ship() -> None:
    here = Path(oddsight.__file__).parent
    assert (here / "py.typed").is_file()
    assert (here / "__init__.pyi").is_file() or (here / "_oddsight.pyi").is_file()


def test_public_names() -> None:
    for name in oddsight.__all__:
        assert hasattr(oddsight, name), name
    assert isinstance(oddsight.DEFAULT_SPEC, str) and oddsight.Detector(oddsight.DEFAULT_SPEC)


def test_parse_timestamps_reads_like_the_command_line() -> None:
    got = oddsight.parse_timestamps(["2014-04-10 16:15:00", "2014-04-10T16:15:00.5Z", "2014-04-10T18:15:00+02:00"])
    assert got.tolist() == [1397146500000, 1397146500500, 1397146500000]
    assert oddsight.parse_timestamps(["1397146500", "1397146560"]).tolist() == [1397146500000, 1397146560000]
