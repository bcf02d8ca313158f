"""The contract every broker-summary source meets.

Three kinds exist: ``HttpProvider`` (a commercial IDX per-ticker API, configured by
settings), ``StoredProvider``/``SampleProvider`` (CSV data a user imported, and the shipped
synthetic sample) and ``TradeFlowProvider`` (Binance public trades, for crypto pairs). The
service picks one per request; each answers a whole summary so that crypto, which has no
broker codes, can build its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, Protocol, runtime_checkable

from core.bandarmology.period import Period
from core.bandarmology.types import BrokerSummary
from core.compute import Compute, Task


@runtime_checkable
class BrokerSummaryProvider(Protocol):
    """Errors are domain errors with user-fit messages: ``NotFound`` when there is no data for
    the ticker or window, ``Unavailable`` when the source cannot be reached or refuses."""

    name: str  # shown in replies and chart headings
    sample: bool  # synthetic data: every reply says SAMPLE DATA

    async def summary(
        self, ticker: str, period: Period, now: datetime, *, compute: Compute | None = None, task: Task | None = None
    ) -> BrokerSummary:
        """The summary of ``ticker`` over ``period`` (resolved against ``now``), aggregated on
        ``compute`` on ``task``'s share (``summarised``)."""
        ...


async def summarised(
    compute: Compute | None, task: Task | None, fn: Callable[..., BrokerSummary], /, *args: Any, **kwargs: Any
) -> BrokerSummary:
    """``fn(*args, **kwargs)``, a provider's aggregation of its rows or trades (CPU work: thousands
    of them), on the compute plane; with no ``compute`` (a provider used on its own), here."""
    call = partial(fn, *args, **kwargs)
    if compute is None:
        return call()
    return await compute.run(call, task=task or Task(label="the broker summary"))
