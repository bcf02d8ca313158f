"""The Bandarmology domain (Get Broker Summary): who bought and sold a ticker, and the verdict.

Which provider answers:

- a crypto pair (BTCUSDT, BTC/USDT): Binance's public trades (``crypto.TradeFlowProvider``),
  unless the bot runs offline (``MARKET_OFFLINE``), which is said plainly;
- an IDX ticker: the HTTP API when ``BANDAR_API_URL`` is set; else the actor's imported CSV
  rows of that ticker; else, when the bot runs on the shipped sample data, the synthetic
  sample (BBCA), labelled as such; else a reply saying how to configure or import.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from core.actor import Actor
from core.bandarmology.csvio import FORMAT_HINT, normalize_ticker
from core.bandarmology.period import parse_period
from core.bandarmology.provider import BrokerSummaryProvider
from core.bandarmology.store import ImportResult, SampleProvider, StoredProvider, import_activity
from core.bandarmology.types import BrokerSummary
from core.compute import Compute, InlineCompute, Task
from core.config import Settings
from core.db import Database, utcnow
from core.errors import Invalid, NotFound, Unavailable
from core.market.symbols import looks_like_pair

DEFAULT_IDX = "1d"
DEFAULT_CRYPTO = "1h"


def is_crypto(ticker: str) -> bool:
    """``BTCUSDT``, ``BTC/USDT`` and, unlike for charts, ``BTC-USDT``: no Yahoo crypto rate here."""
    return looks_like_pair(ticker.strip().replace("-", "/"))


class BandarService:
    """Cheap to build per request: providers open their connections per call and close them.
    Their aggregation, and the validation of an import, run on ``compute`` on the actor's share.

    ``http`` and ``crypto`` replace the configured providers (tests)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        compute: Compute | None = None,
        http: BrokerSummaryProvider | None = None,
        crypto: BrokerSummaryProvider | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.db = db
        self.compute: Compute = compute or InlineCompute(settings)
        self._http = http
        self._crypto = crypto
        self._clock = clock

    async def summary(self, actor: Actor, ticker: str, when: str | None = None) -> BrokerSummary:
        """The broker summary of ``ticker`` over ``when`` (a date or range; the latest day by default)."""
        ticker = ticker.strip()
        if not ticker:
            raise Invalid("a ticker is needed, such as BBCA or BTCUSDT")
        crypto = is_crypto(ticker)
        period = parse_period(when, DEFAULT_CRYPTO if crypto else DEFAULT_IDX)
        provider = self._crypto_provider() if crypto else await self.provider_for(actor, ticker)
        task = Task(actor.user_id, label="the broker summary")
        return await provider.summary(ticker, period, self._clock(), compute=self.compute, task=task)

    async def provider_for(self, actor: Actor, ticker: str) -> BrokerSummaryProvider:
        """The provider that serves an IDX ``ticker`` for ``actor`` (see the module docstring)."""
        code = normalize_ticker(ticker)
        if self._http is not None:
            return self._http
        if self.settings.bandar_api_url:
            from core.bandarmology.http import HttpProvider

            return HttpProvider(self.settings)
        stored = StoredProvider(self.db, actor)
        if await stored.has(code):
            return stored
        sample = SampleProvider()
        if self.settings.sample_data and sample.has(code):
            return sample
        raise NotFound(
            f"no broker data for {code}: per-ticker IDX broker summaries come from a paid data feed",
            hint=f"import your own: /bandar import {code} with a CSV ({FORMAT_HINT}), "
            "or have the bot's admin set BANDAR_API_URL and BANDAR_API_KEY",
        )

    async def import_csv(self, actor: Actor, data: str | bytes, ticker: str | None = None) -> ImportResult:
        """Store a user's broker activity CSV (validated row by row; see ``csvio``)."""
        task = Task(actor.user_id, label="the import")
        return await import_activity(self.db, actor, data, ticker, compute=self.compute, task=task)

    def _crypto_provider(self) -> BrokerSummaryProvider:
        if self._crypto is not None:
            return self._crypto
        if self.settings.market_offline:
            raise Unavailable(
                "crypto broker flow reads Binance's live trades, and this bot runs offline",
                hint="set MARKET_OFFLINE=false to analyse Binance pairs; IDX tickers work from imported data",
            )
        from core.bandarmology.crypto import TradeFlowProvider

        return TradeFlowProvider(self.settings)
