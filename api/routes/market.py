"""Market: Get Market Info, Search Market Ticker."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.common import PNG, Reader, wants_png
from api.problems import PROBLEMS
from core.app import Core
from core.market import watchlist
from core.market.service import MarketInfo, Quote
from core.market.types import Source
from core.script.watch import parse_watch_condition

router = APIRouter(prefix="/v1/market", tags=["Market"], responses=PROBLEMS)


class MarketInfoRequest(BaseModel):
    """The specification's request body, field for field."""

    ticker: str = Field(min_length=1, max_length=32, examples=["BBCA"], description="the product code, e.g. BBCA, BTCUSDT")
    range: str | None = Field(default=None, max_length=8, examples=["1y"], description="how far back: 1mo 3mo 6mo 1y 5y max")
    interval: str = Field(default="1d", max_length=4, examples=["1d"], description="candle width: 15m 1h 4h 1d 1w 1mo")
    indicator: str | None = Field(default=None, max_length=200, examples=["rsi macd ema:50"],
                                  description="indicators by name with parameters, separated by spaces or commas")
    source: Source = Field(default=Source.UNKNOWN, description="the data source; UnknwonSource picks by the ticker's shape")


class IndicatorOut(BaseModel):
    spec: str
    label: str
    last: dict[str, float | None]


class MarketInfoOut(BaseModel):
    ticker: str
    name: str | None
    source: Source
    currency: str | None
    interval: str
    provider: str
    sample: bool = Field(description="true on the shipped sample data, never real prices")
    quote: Quote  # the service's own view, as it is
    indicators: list[IndicatorOut]
    bars: int


class SearchHitOut(BaseModel):
    symbol: str
    name: str
    exchange: str
    source: Source
    kind: str




@router.post("/info", summary="Get Market Info", response_model=MarketInfoOut, responses={200: PNG})
async def market_info(body: MarketInfoRequest, request: Request, caller: Reader) -> MarketInfoOut | Response:
    """Quote, indicator values and, with ``Accept: image/png``, the candlestick chart a chat reply shows."""
    core: Core = request.app.state.core
    specs = (body.indicator or "").replace(",", " ").split()
    info = await core.market.market_info(body.ticker, body.interval, body.range, specs, body.source,
                                         user_id=caller.actor.user_id)  # fmt: skip
    if wants_png(request):
        png = await core.charts.candles(info.candles, info.indicators, caller.actor.user_id)
        return Response(png, media_type="image/png")
    return Response(_rendered(info), media_type="application/json")


_RENDERED: OrderedDict[int, tuple[MarketInfo, bytes]] = OrderedDict()
RENDERED_SIZE = 256


def _rendered(info: MarketInfo) -> bytes:
    """The JSON of ``info``, once per answer: the market service hands the same MarketInfo to
    every request for the same bars, and a polled quote is then a lookup and a write."""
    kept = _RENDERED.get(id(info))
    if kept is not None and kept[0] is info:  # the answer itself is kept, so its id is not reused
        _RENDERED.move_to_end(id(info))
        return kept[1]
    body = render(info).model_dump_json().encode()
    _RENDERED[id(info)] = (info, body)
    while len(_RENDERED) > RENDERED_SIZE:
        _RENDERED.popitem(last=False)
    return body


def render(info: MarketInfo) -> MarketInfoOut:
    candles, quote = info.candles, info.quote
    return MarketInfoOut(
        ticker=candles.instrument.display, name=candles.name or None, source=candles.instrument.source,
        currency=candles.instrument.currency, interval=candles.interval.code, provider=candles.provider,
        sample=candles.sample, bars=len(candles.frame),
        quote=quote,
        indicators=[IndicatorOut(spec=str(r.spec), label=r.spec.label, last=r.last()) for r in info.indicators],
    )  # fmt: skip


@router.get("/search", summary="Search Market Ticker", response_model=list[SearchHitOut])
async def search(
    request: Request, caller: Reader,
    query: Annotated[str, Query(min_length=2, max_length=64, description="the symbol or keyword to search for")],
    source: Source = Source.UNKNOWN,
) -> list[SearchHitOut]:  # fmt: skip
    core: Core = request.app.state.core
    hits = await core.market.search(query, source)
    return [SearchHitOut(symbol=h.symbol, name=h.name, exchange=h.exchange, source=h.source, kind=h.kind) for h in hits]


class WatchStatus(BaseModel):
    ticker: str
    source: Source
    condition: str = Field(description="the watch's condition, empty for a plain watch")
    price: float | None
    change_pct: float | None
    value: float | None = Field(description="the condition's left-hand side now (e.g. the RSI)")
    threshold: float | None
    met: bool | None = Field(description="whether the condition holds now; null when undecided or none")
    checked_at: datetime | None
    error: str | None
    sample: bool
    interval: str = Field(default="1d", description="the candle width the condition is judged on at each close")
    expires_at: datetime | None = Field(default=None, description="when the watch stops alerting; null: never")
    expired: bool = Field(default=False, description="true once the watch has expired (no longer checked)")


class MonitoringStatus(BaseModel):
    """The specification's ``list``: the latest monitoring status of each watched ticker."""

    list: dict[str, list[WatchStatus]]


@router.get("/monitoring", summary="Market Monitoring Status", response_model=MonitoringStatus)
async def monitoring(request: Request, caller: Reader) -> MonitoringStatus:
    """The caller's watches, each ticker fetched once and every condition checked now (as ``/watchlist``)."""
    core: Core = request.app.state.core
    views = await watchlist.list_watches(
        core.db, caller.actor, core.market, compute=core.compute, rules=parse_watch_condition
    )
    by_ticker: dict[str, list[WatchStatus]] = {}
    for v in views:
        by_ticker.setdefault(v.ticker, []).append(WatchStatus(
            ticker=v.ticker, source=v.source, condition=v.condition, price=v.price, change_pct=v.change_pct,
            value=v.lhs_value, threshold=v.rhs_value, met=v.met, checked_at=v.checked_at, error=v.error,
            sample=v.sample, interval=v.interval, expires_at=v.expires_at, expired=v.expired))  # fmt: skip
    return MonitoringStatus(list=by_ticker)
