"""The exception hierarchy: one class per Rust error code, all under `OddsightError`."""

from __future__ import annotations

import pickle

import pytest

import oddsight
from oddsight import _errors


def test_every_rust_code_has_its_class() -> None:
    for code in oddsight.ERROR_CODES:
        cls = getattr(oddsight, code)
        assert issubclass(cls, oddsight.OddsightError), code
        assert cls.code == code and cls.__name__ == code
    assert set(oddsight.ERROR_CODES) == {
        name for name in _errors.__all__
        if name not in {"OddsightError", "ParameterError", "DataError", "SnapshotError", "NotFoundError",
                        "InvestigationError", "ClientError"}
    }


def test_builtin_bases() -> None:
    for code in ["InvalidParameter", "NonFiniteValue", "OutOfOrder", "EmptyInput", "ShapeMismatch",
                 "MalformedSnapshot", "IncompatibleSnapshot", "LateEvent", "InvalidSpec", "InvalidData",
                 "InvalidConfig", "InvalidSeries", "InvalidSelector"]:
        assert issubclass(getattr(oddsight, code), ValueError), code
    assert issubclass(oddsight.IoError, OSError)
    assert issubclass(oddsight.UnknownTarget, LookupError)
    assert issubclass(oddsight.Timeout, TimeoutError)
    assert issubclass(oddsight.RateLimited, oddsight.ClientError)
    assert issubclass(oddsight.ClientError, oddsight.InvestigationError)


@pytest.mark.parametrize(
    ("call", "cls", "fragment"),
    [
        (lambda: oddsight.Detector("mad", window=0), oddsight.InvalidParameter, "window"),
        (lambda: oddsight.Detector("ewma").observe(float("inf")), oddsight.NonFiniteValue, "inf"),
        (lambda: oddsight.Detector("ewma").observe_batch([1.0, 2.0], [5, 4]), oddsight.OutOfOrder, "4 ms"),
        (lambda: oddsight.analyze([]), oddsight.EmptyInput, "empty"),
        (lambda: oddsight.Detector("ewma").observe_batch([1.0], [1, 2]), oddsight.ShapeMismatch, "shape"),
        (lambda: oddsight.Detector.restore("[]"), oddsight.MalformedSnapshot, "snapshot"),
        (lambda: oddsight.Detector.restore('{"format":"oddsight","kind":"X","version":1,"state":{}}'),
         oddsight.IncompatibleSnapshot, "incompatible"),
        (lambda: oddsight.Detector("mad(("), oddsight.InvalidSpec, "spec"),
        (lambda: oddsight.score([1.0], ["never"]), oddsight.InvalidData, "never"),
        (lambda: oddsight.Monitor({"targets": [], "nope": 1}), oddsight.InvalidConfig, "nope"),
        (lambda: oddsight.Monitor().ingest("bad{", 0, 1.0), oddsight.InvalidSeries, "series"),
        (lambda: oddsight.Monitor().add_target(name="t", selector="{{"), oddsight.InvalidSelector, "selector"),
        (lambda: oddsight.Monitor().remove_target("ghost"), oddsight.UnknownTarget, "ghost"),
        (lambda: oddsight.Monitor().resolve(7, 0), oddsight.UnknownAlert, "7"),
        (lambda: oddsight.Monitor().acknowledge(7, 0), oddsight.UnknownAlert, "7"),
    ],
)
def test_rust_errors_raise_their_class_with_the_rust_message(call, cls, fragment) -> None:
    with pytest.raises(cls) as info:
        call()
    assert isinstance(info.value, oddsight.OddsightError)
    assert info.value.code == cls.__name__
    assert fragment in str(info.value)


def test_duplicate_target() -> None:
    m = oddsight.Monitor()
    m.add_target(name="t", selector="x")
    with pytest.raises(oddsight.DuplicateTarget):
        m.add_target(name="t", selector="y")


def test_late_event_class_exists_for_the_core_code() -> None:
    # No bound call raises it yet (the core's aggregators are not bound); the class is ready.
    assert issubclass(oddsight.LateEvent, oddsight.DataError)


def test_exceptions_pickle() -> None:
    try:
        oddsight.Detector("nope")
    except oddsight.InvalidSpec as e:
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is oddsight.InvalidSpec and str(back) == str(e)
