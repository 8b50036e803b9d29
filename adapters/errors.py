"""Error types shared by every layer.

Each carries a one-line message a person can act on, and the process exit code the CLI
uses for it (2 is reserved for bad input, as the CLI contract says).
"""

from __future__ import annotations

from adapters.redact import redact


class ConsoleError(Exception):
    """An expected failure: shown as one line, never as a traceback."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str):
        message = redact(message)  # messages name URLs, which may carry a password or a token
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(ConsoleError):
    """The user's input (a flag, a file, a field) is wrong."""

    exit_code = 2
    kind = "invalid input"


class BackendUnavailable(ConsoleError):
    """A server could not be reached, timed out, or answered 5xx/429."""

    exit_code = 3
    kind = "unavailable"


class Forbidden(ConsoleError):
    """The backend refused: 401/403, or an access review said no."""

    exit_code = 4
    kind = "forbidden"


class NotFound(ConsoleError):
    exit_code = 5
    kind = "not found"


class Conflict(ConsoleError):
    """The object changed since it was read (409 on a resourceVersion precondition)."""

    exit_code = 6
    kind = "conflict"


class StateConflict(Conflict):
    """Refused before anything was sent: the object's current state already is what was asked
    (already rolled back, nothing to promote) or does not allow it now. Exit 6, like a 409: the
    command was well formed, the world is not in the state it needs."""

    kind = "conflict"


class ReadOnly(ConsoleError):
    """A mutating action was refused because the console runs read-only."""

    exit_code = 7
    kind = "read-only"


class DataError(ConsoleError):
    """Stored data is unusable: a corrupt file, a newer schema, a malformed answer."""

    exit_code = 8
    kind = "data error"


class Cancelled(ConsoleError):
    """The user declined a confirmation."""

    exit_code = 9
    kind = "cancelled"
