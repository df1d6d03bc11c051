"""oddsight: streaming anomaly detection for telemetry.

>>> import numpy as np, oddsight
>>> values = np.r_[np.full(200, 10.0) + np.sin(np.arange(200)), 60.0]
>>> scores = oddsight.score(values)
>>> bool(scores[-1] > 0.5)
True

See `score`, `Detector`, `Monitor`, `analyze` and `investigate`. Every error derives from `OddsightError`.
"""

from __future__ import annotations

from . import _errors
from ._errors import *  # noqa: F403  (the exception classes)
from ._oddsight import (
    DEFAULT_SPEC,
    ERROR_CODES,
    Detector,
    Investigation,
    Monitor,
    Verdict,
    __version__,
    analyze,
    investigate,
    load_case,
    parse_timestamps,
    score,
)

__all__ = [
    "DEFAULT_SPEC",
    "ERROR_CODES",
    "Detector",
    "Investigation",
    "Monitor",
    "Verdict",
    "__version__",
    "analyze",
    "investigate",
    "load_case",
    "parse_timestamps",
    "score",
    *_errors.__all__,
]
