"""The contract every broker-summary source meets.

Three kinds exist: ``HttpProvider`` (a commercial IDX per-ticker API, configured by
settings), ``StoredProvider``/``SampleProvider`` (CSV data a user imported, and the shipped
synthetic sample) and ``TradeFlowProvider`` (Binance public trades, for crypto pairs). The
service picks one per request; each answers a whole summary so that crypto, which has no
broker codes, can build its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from core.bandarmology.period import Period
from core.bandarmology.types import BrokerSummary


@runtime_checkable
class BrokerSummaryProvider(Protocol):
    """Errors are domain errors with user-fit messages: ``NotFound`` when there is no data for
    the ticker or window, ``Unavailable`` when the source cannot be reached or refuses."""

    name: str  # shown in replies and chart headings
    sample: bool  # synthetic data: every reply says SAMPLE DATA

    async def summary(self, ticker: str, period: Period, now: datetime) -> BrokerSummary:
        """The summary of ``ticker`` over ``period`` (resolved against ``now``)."""
        ...
