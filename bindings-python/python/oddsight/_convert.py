"""Timestamps from what Python users hold, to Unix milliseconds (int64).

The native module reads int64 arrays in place and calls these helpers for everything else:
numpy datetime64 (any unit), pandas and polars series, lists of ints, `datetime` objects and
ISO 8601 strings (parsed by the same code as the `oddsight score` command line). Times without
a zone are UTC, as on the command line.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np

from . import _oddsight
from ._errors import InvalidData, ShapeMismatch

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_INT64 = np.iinfo(np.int64)


def _datetime_ms(d: _dt.datetime) -> int:
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    delta = d - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def timestamp_ms(obj: Any) -> int:
    """One timestamp as Unix milliseconds."""
    if isinstance(obj, bool):
        raise TypeError("a timestamp must be int milliseconds, a datetime, numpy datetime64 or an ISO string, got bool")
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, _dt.datetime):
        return _datetime_ms(obj)
    if isinstance(obj, _dt.date):
        return _datetime_ms(_dt.datetime(obj.year, obj.month, obj.day))
    if isinstance(obj, np.datetime64):
        if np.isnat(obj):
            raise InvalidData("timestamp is NaT (not a time)")
        return int(obj.astype("datetime64[ms]").astype(np.int64))
    if isinstance(obj, str):
        return int(_oddsight.parse_timestamp(obj))
    if isinstance(obj, (float, np.floating)) and float(obj).is_integer():
        return int(obj)
    raise TypeError(
        f"a timestamp must be int milliseconds, a datetime, numpy datetime64 or an ISO string, got {type(obj).__name__}"
    )


def timestamps_ms(obj: Any) -> np.ndarray:
    """A sequence of timestamps as a contiguous int64 array of Unix milliseconds."""
    if isinstance(obj, (str, bytes)):
        raise TypeError("timestamps must be a sequence, got a single str")
    arr = np.asarray(obj)
    if arr.ndim != 1:
        raise ShapeMismatch(f"shape mismatch: timestamps must be 1-D, got {arr.ndim}-D")
    kind = arr.dtype.kind
    if kind == "M":
        ms = arr.astype("datetime64[ms]")
        nat = np.isnat(ms)
        if nat.any():
            raise InvalidData(f"timestamp {int(np.argmax(nat))} is NaT (not a time)")
        return np.ascontiguousarray(ms.view(np.int64))
    if kind == "i":
        return np.ascontiguousarray(arr, dtype=np.int64)
    if kind == "u":
        if arr.size and int(arr.max()) > _INT64.max:
            raise InvalidData("timestamps do not fit in int64 milliseconds")
        return np.ascontiguousarray(arr, dtype=np.int64)
    if kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.floor(arr)):
            raise InvalidData("float timestamps must be whole, finite milliseconds")
        return np.ascontiguousarray(arr, dtype=np.int64)
    if kind in "US":
        texts = [t.decode() if isinstance(t, bytes) else str(t) for t in arr.tolist()]
        return _oddsight.parse_timestamps(texts)
    if kind == "O":
        if arr.size and all(isinstance(t, str) for t in arr.tolist()):
            return _oddsight.parse_timestamps(arr.tolist())
        return np.fromiter((timestamp_ms(t) for t in arr.tolist()), dtype=np.int64, count=arr.size)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    raise TypeError(
        f"timestamps must be int64 milliseconds, datetime64, datetimes or ISO strings, got dtype {arr.dtype}"
    )
