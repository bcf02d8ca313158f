"""What a service call needs besides who asks and what: the database, the settings, the market.

Services of the deployment and simulation domains are free functions taking these as their first
argument (then the ``Actor``, then a request object), so that a chat command, a job and an HTTP
route all make the same call: ``core.app.Core`` satisfies ``Services`` as it is, and
``ServiceSet`` holds the three where there is no ``Core`` (tests, scripts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.config import Settings
    from core.db import Database
    from core.market.service import MarketService


class Services(Protocol):
    """Read-only properties, so that a class holding them as plain attributes (``Core``) fits."""

    @property
    def db(self) -> Database: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def market(self) -> MarketService: ...


@dataclass(frozen=True, slots=True)
class ServiceSet:
    db: Database
    settings: Settings
    market: MarketService


__all__ = ["ServiceSet", "Services"]
