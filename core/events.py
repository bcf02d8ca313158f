"""What an alert is about: one ``EventKind`` for every pushed alert, deployments' and watches'.

The kinds are the same strings they always were (tests, stored rows and the alert stream's ``event:``
lines read them), but typed: a tick produces them, ``jobs.ticks`` renders them, the live stream
(``core.state.alert_stream``) names its events by them, and a misspelt kind fails at import rather
than rendering the generic text. ``preference`` is the user's switch that silences the kind
(``/alerts trades off``, ``/alerts watch off``; ``core.account.preferences``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class EventKind(StrEnum):
    """A pushed alert's kind."""

    FILLED = "filled"  # an order filled (a stop or target hit included)
    FAILED = "failed"  # an order failed or was canceled; the deployment keeps running
    REJECTED = "rejected"  # the exchange refused an order
    REFUSED = "refused"  # a signal that placed no order (below the minimum, market closed, ...)
    UNKNOWN = "unknown"  # an order sent whose outcome is not final yet
    PAUSED = "paused"  # the deployment paused, saying why
    DONE = "done"  # the deployment ended
    CROSSED = "crossed"  # a watchlist condition turned met

    @property
    def preference(self) -> Literal["trades", "watch"]:
        """The alert choice (``users.alerts_<it>``) that turns this kind on or off: trades or watch."""
        return "watch" if self is EventKind.CROSSED else "trades"
