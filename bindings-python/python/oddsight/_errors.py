"""The exception hierarchy: every error oddsight raises derives from `OddsightError`.

Each class is named exactly like the Rust error code it stands for (`err.code` in the Node
bindings), and also derives from the built-in exception a Python user would catch for it
(`ValueError` for bad input, `LookupError` for an unknown name, `OSError` for I/O). Groups in
between (`ParameterError`, `DataError`, `SnapshotError`, `InvestigationError`, `ClientError`)
catch a whole kind at once.
"""

from __future__ import annotations


class OddsightError(Exception):
    """Base class of every oddsight error. `code` is the Rust error code."""

    code = "OddsightError"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = cls.__name__


# --- groups -----------------------------------------------------------------------------------


class ParameterError(OddsightError, ValueError):
    """A parameter, specification or configuration was rejected."""


class DataError(OddsightError, ValueError):
    """The data itself was rejected: non-finite values, time going backwards, unreadable rows."""


class SnapshotError(OddsightError, ValueError):
    """A snapshot could not be restored."""


class NotFoundError(OddsightError, LookupError):
    """Something asked for by name or id does not exist."""


class InvestigationError(OddsightError):
    """An investigation could not go on."""


class ClientError(InvestigationError):
    """An LLM (or other) client failed."""


# --- parameters -------------------------------------------------------------------------------


class InvalidParameter(ParameterError):
    """A parameter is out of its documented range."""


class InvalidSpec(ParameterError):
    """A detector specification could not be parsed or names something unknown."""


class InvalidConfig(ParameterError):
    """A monitor configuration could not be read."""


class InvalidSeries(ParameterError):
    """A series name (`name{key="value"}`) could not be parsed."""


class InvalidSelector(ParameterError):
    """A target selector could not be parsed."""


class DuplicateTarget(ParameterError):
    """A target with this name already exists."""


# --- data -------------------------------------------------------------------------------------


class NonFiniteValue(DataError):
    """A value was NaN or infinite."""


class OutOfOrder(DataError):
    """A timestamp went backwards."""


class LateEvent(DataError):
    """An event arrived for an interval that has already been closed."""


class EmptyInput(DataError):
    """An input that must not be empty was empty."""


class InvalidData(DataError):
    """A data file, timestamp or record is malformed."""


class InvalidCase(DataError):
    """An investigation case is malformed."""


class ShapeMismatch(OddsightError, ValueError):
    """Inputs that must have the same length (or a row its width) did not."""


# --- snapshots --------------------------------------------------------------------------------


class MalformedSnapshot(SnapshotError):
    """A snapshot could not be parsed or does not describe a valid state."""


class IncompatibleSnapshot(SnapshotError):
    """A snapshot has a kind or version this build cannot restore."""


# --- lookups and state ------------------------------------------------------------------------


class UnknownTarget(NotFoundError):
    """No target has this name."""


class UnknownSeries(NotFoundError):
    """A series id this monitor never handed out."""


class UnknownAlert(NotFoundError):
    """No alert with this id is open or in the history."""


class AlertClosed(OddsightError, ValueError):
    """The alert has already been resolved."""


class IoError(OddsightError, OSError):
    """A file could not be read or written."""


# --- investigation ----------------------------------------------------------------------------


class UnexpectedAnswer(InvestigationError, ValueError):
    """A step of an investigation was answered with something it did not ask for."""


class ReplayDiverged(InvestigationError):
    """A journal could not be replayed into the same investigation."""


class ActionFailed(InvestigationError):
    """An action was unknown, had bad parameters or failed."""


class JsonError(InvestigationError, ValueError):
    """A JSON document could not be encoded or decoded."""


class RateLimited(ClientError):
    """The provider refused the request because of its rate limit."""


class AuthFailed(ClientError):
    """The provider rejected the credentials."""


class ContextOverflow(ClientError):
    """The request did not fit the model's context window."""


class Timeout(ClientError, TimeoutError):
    """A request took longer than allowed."""


class HttpError(ClientError):
    """The provider answered with an error status."""


class MalformedReply(ClientError, ValueError):
    """A reply from a provider or a model could not be understood."""


__all__ = [name for name, obj in list(globals().items()) if isinstance(obj, type) and issubclass(obj, OddsightError)]
