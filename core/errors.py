"""Domain errors: each carries a message fit to show a user as it is.

Adapters turn these into short replies; anything that is not a ``StoxlifyError``
is a bug and is reported with a reference id instead of its text.
"""

from __future__ import annotations

EXCERPT_CHARS = 40  # the most a message quotes of one thing a user typed or sent


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """At most ``limit`` characters of something a user typed or sent, for quoting in a message:
    a 100,000-character CSV cell or name comes back as its start and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StoxlifyError(Exception):
    """Base of every error a user may see."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class NotFound(StoxlifyError):
    """The thing asked for does not exist (or is not the asker's)."""


class Forbidden(StoxlifyError):
    """The actor may not do this."""


class Invalid(StoxlifyError):
    """The input is malformed or out of range."""


class TooLong(Invalid):
    """A computation ran past its time limit and was stopped (a script, an indicator, a chart)."""


class Conflict(StoxlifyError):
    """The request clashes with what is stored (duplicate name, wrong state)."""


class Unavailable(StoxlifyError):
    """A dependency (exchange, data feed, database) could not serve the request now."""


class LimitExceeded(StoxlifyError):
    """A quota or rate limit was reached."""
