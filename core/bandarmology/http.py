"""Per-ticker IDX broker summaries from a commercial HTTP API (``BANDAR_API_URL``).

The public IDX broker summary is market-wide, so per-ticker data comes from a paid feed.
This provider speaks the common shape of such APIs::

    GET {BANDAR_API_URL}/stocks/broker-summary?ticker=BBCA&from=2024-06-03&to=2024-06-07&investor=f
    Authorization: Bearer <BANDAR_API_KEY>        (or the raw key in BANDAR_API_KEY_HEADER)

    200 {"ticker": "BBCA", "from": "2024-06-03", "to": "2024-06-07", "investor": "f",
         "data": [{"broker": "AK", "buy_freq": 812, "buy_volume": 1523400, "buy_value": 14551230000,
                   "buy_avg": 9551.8, "sell_freq": 640, "sell_volume": 1201000,
                   "sell_value": 11470000000, "sell_avg": 9550.4}, ...]}

Volumes are shares (divided by 100 into lots); values IDR; numbers may arrive as strings.
Two requests go out together, ``investor=f`` and ``investor=d``: their rows add up to the
whole market and give the foreign/domestic split that ``investor=all`` would hide.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta, timezone

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from core.bandarmology.csvio import normalize_ticker
from core.bandarmology.period import Period, resolve_weekdays
from core.bandarmology.provider import summarised
from core.bandarmology.summary import summarize_flows
from core.bandarmology.types import SHARES_PER_LOT, BrokerFlow, BrokerSummary
from core.compute import Compute, Task
from core.config import Settings
from core.errors import NotFound, StoxlifyError, Unavailable

log = logging.getLogger(__name__)

PATH = "/stocks/broker-summary"
JAKARTA = timezone(timedelta(hours=7))  # IDX trading days are Jakarta days


class _Broker(BaseModel):
    model_config = ConfigDict(extra="ignore")

    broker: str
    buy_freq: int | None = None
    buy_volume: float = 0.0
    buy_value: float = 0.0
    sell_freq: int | None = None
    sell_volume: float = 0.0
    sell_value: float = 0.0


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: list[_Broker]


class HttpProvider:
    """The configured broker-summary API. ``transport`` replaces httpx's (tests)."""

    sample = False

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not settings.bandar_api_url:
            raise ValueError("BANDAR_API_URL is not set")
        self._settings = settings
        self._base = settings.bandar_api_url.rstrip("/")
        self._transport = transport
        self.name = httpx.URL(self._base).host or "broker-summary API"

    async def summary(
        self, ticker: str, period: Period, now: datetime, *, compute: Compute | None = None, task: Task | None = None
    ) -> BrokerSummary:
        code = normalize_ticker(ticker)
        start, end = resolve_weekdays(period, now.astimezone(JAKARTA).date())
        async with httpx.AsyncClient(
            timeout=self._settings.bandar_timeout_s, transport=self._transport, headers=self._headers()
        ) as client:
            foreign, domestic = await asyncio.gather(
                self._get(client, code, start, end, "f"), self._get(client, code, start, end, "d")
            )
        flows = [_flow(b, "F") for b in foreign] + [_flow(b, "D") for b in domestic]
        flows = [f for f in flows if f.buy_value or f.sell_value]
        if not flows:
            raise NotFound(
                f"{self.name} has no broker activity for {code} from {start} to {end}",
                hint="a weekend or holiday has none, and IDX publishes a day's data after the close",
            )
        return await summarised(compute, task, summarize_flows, code, flows, provider=self.name, start=start, end=end)

    def _headers(self) -> dict[str, str]:
        key = self._settings.bandar_api_key
        headers = {"Accept": "application/json"}
        if key is not None:
            name = self._settings.bandar_api_key_header
            secret = key.get_secret_value()
            headers[name] = f"Bearer {secret}" if name.lower() == "authorization" else secret
        return headers

    async def _get(
        self, client: httpx.AsyncClient, ticker: str, start: date, end: date, investor: str
    ) -> list[_Broker]:
        params = {"ticker": ticker, "from": start.isoformat(), "to": end.isoformat(), "investor": investor}
        try:
            response = await client.get(self._base + PATH, params=params)
        except httpx.TimeoutException:
            raise Unavailable(
                f"{self.name} did not answer within {self._settings.bandar_timeout_s:g} s, try again shortly"
            ) from None
        except httpx.HTTPError as exc:
            log.warning("broker-summary request failed: %s", type(exc).__name__)
            raise Unavailable(f"could not reach {self.name}, try again shortly") from None
        self._check(response, ticker)
        try:
            return _Answer.model_validate(response.json()).data
        except (ValueError, ValidationError):
            raise Unavailable(f"{self.name} sent broker data for {ticker} that could not be read") from None

    def _check(self, response: httpx.Response, ticker: str) -> None:
        status = response.status_code
        if status < 400:
            return
        error: StoxlifyError
        if status in (401, 403):
            error = Unavailable(
                f"{self.name} refused the API key (HTTP {status})",
                hint="check BANDAR_API_KEY in the bot's settings",
            )
        elif status == 404:
            error = NotFound(
                f"{self.name} has no broker data for {ticker}", hint="check the ticker, e.g. BBCA"
            )
        elif status == 429:
            error = Unavailable(f"{self.name} is limiting requests right now, try again in a minute")
        elif status >= 500:
            error = Unavailable(f"{self.name} is not available right now (HTTP {status}), try again later")
        else:
            error = Unavailable(f"{self.name} refused the request for {ticker} (HTTP {status})")
        raise error


def _flow(row: _Broker, investor: str) -> BrokerFlow:
    return BrokerFlow(
        broker=row.broker.strip().upper(),
        investor=investor,
        buy_lot=row.buy_volume / SHARES_PER_LOT,
        buy_value=row.buy_value,
        sell_lot=row.sell_volume / SHARES_PER_LOT,
        sell_value=row.sell_value,
        buy_freq=row.buy_freq,
        sell_freq=row.sell_freq,
    )
