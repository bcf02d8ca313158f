"""The watch alert job: once per crossing, re-armed when the condition turns false, one fetch per
ticker, users' choices respected, a chart with the crossing bar marked."""

from __future__ import annotations

import asyncio
import io

import pandas as pd
import pytest
from PIL import Image
from sqlalchemy import select, update

from core.account.models import User
from core.account.service import actor_for
from core.app import Core
from core.config import Settings
from core.db import Database
from core.market import watchlist
from core.market.models import Watch
from core.market.service import MarketService
from core.market.types import INTERVALS, Candles, Instrument, Source
from core.message import Message
from core.notify import ChatTarget
from jobs import monitoring
from jobs.monitoring import check_watches
from tests.sample_bars import sample_bars


def _load(name: str) -> pd.DataFrame:
    return sample_bars(name, "1d")


class FakeMarket:
    """``MarketService.candles`` over the sample files, whose last close a test can move; counts calls."""

    def __init__(self) -> None:
        self.frames = {name: _load(name) for name in ("BBCA", "TLKM")}
        self.calls: list[str] = []

    def set_last(self, ticker: str, close: float, position: int = -1) -> None:
        frame = self.frames[ticker].copy()
        last = frame.index[position]
        frame.loc[last, "close"] = close
        frame.loc[last, "high"] = max(frame.loc[last, "high"], close)
        frame.loc[last, "low"] = min(frame.loc[last, "low"], close)
        self.frames[ticker] = frame

    def add_bar(self, ticker: str, close: float) -> None:
        """A new closed bar after the last one (a day later), opening at the last close."""
        frame = self.frames[ticker]
        last = frame.iloc[-1]
        bar = pd.DataFrame(
            {"open": [last["close"]], "high": [max(last["close"], close)], "low": [min(last["close"], close)],
             "close": [close], "volume": [last["volume"]]},
            index=[frame.index[-1] + pd.Timedelta(days=1)],
        )  # fmt: skip
        self.frames[ticker] = pd.concat([frame, bar])

    async def candles(self, ticker, interval="1d", range_=None, source=Source.UNKNOWN) -> Candles:
        self.calls.append(ticker)
        instrument = Instrument(Source.YFINANCE, f"{ticker}.JK", ticker, currency="IDR")
        return Candles(instrument, INTERVALS[interval], self.frames[ticker], provider="CSV (sample)", sample=True)


class Recorder:
    """A transport's notifier that records what it would send."""

    platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[ChatTarget, Message]] = []

    async def send(self, target: ChatTarget, notice: Message) -> bool:
        self.sent.append((target, notice))
        return True


@pytest.fixture
def market() -> FakeMarket:
    return FakeMarket()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def core(db: Database, market: FakeMarket, recorder: Recorder) -> Core:
    settings = Settings(_env_file=None, market_offline=True, chart_width_px=600, chart_height_px=400)
    return Core(settings=settings, db=db, market=market, notifiers={"telegram": recorder})  # type: ignore[arg-type]


@pytest.fixture
def no_charts(monkeypatch):
    """Charts are tested once below; elsewhere a stand-in keeps the tests quick. Records its calls."""
    calls: list[dict] = []

    def fake_render(candles, indicators=(), **options):
        calls.append({"candles": candles, "indicators": list(indicators), **options})
        return b"\x89PNG fake"

    monkeypatch.setattr(monitoring, "render_candles", fake_render)
    return calls


@pytest.fixture
async def ana(db):
    return await actor_for(db, platform="telegram", external_id="111", display_name="Ana")


async def _watch(db, ticker: str, condition: str) -> Watch:
    async with db.session() as session:
        return await session.scalar(select(Watch).where(Watch.ticker == ticker, Watch.condition == condition))


async def test_alerts_once_per_crossing_and_again_after_it_turns_false(db, core, market, recorder, ana, no_charts):
    await watchlist.add_watch(db, ana, market, "BBCA", "price>9000")  # last close 8,775: not met
    assert await check_watches(core) == 0 and recorder.sent == []

    market.set_last("BBCA", 9100)  # crosses
    assert await check_watches(core) == 1
    [(target, notice)] = recorder.sent
    assert target == ChatTarget("telegram", "111")
    assert notice.text.splitlines()[0] == "🔔 BBCA: price>9000 is met"
    assert notice.text.splitlines()[1] == "Price 9,100 IDR (+3.70%)"  # against the previous close, 8,775
    assert "SAMPLE DATA" in notice.text
    assert [image.data for image in notice.images] == [b"\x89PNG fake"]
    assert ("Chart", "/market BBCA") in notice.commands
    row = await _watch(db, "BBCA", "price>9000")
    assert row.condition_met is True and row.last_triggered_at is not None and row.last_price == 9100
    first_trigger = row.last_triggered_at

    assert await check_watches(core) == 0  # still met: no second alert
    assert len(recorder.sent) == 1
    assert (await _watch(db, "BBCA", "price>9000")).last_triggered_at == first_trigger

    market.set_last("BBCA", 8900)  # turns false: re-armed, no alert
    assert await check_watches(core) == 0
    row = await _watch(db, "BBCA", "price>9000")
    assert row.condition_met is False and row.last_triggered_at is None

    market.set_last("BBCA", 9200)  # met again on the bar that fired already: at most once per bar
    assert await check_watches(core) == 0 and len(recorder.sent) == 1

    market.add_bar("BBCA", 8800)  # the next bar closes below: re-armed
    assert await check_watches(core) == 0
    market.add_bar("BBCA", 9200)  # and the one after crosses again
    assert await check_watches(core) == 1
    assert len(recorder.sent) == 2 and "Price 9,200 IDR" in recorder.sent[1][1].text


async def test_respects_users_who_turned_watch_alerts_off(db, core, market, recorder, ana, no_charts):
    await watchlist.add_watch(db, ana, market, "BBCA", "price>9000")
    async with db.session() as session:
        await session.execute(update(User).where(User.id == ana.user_id).values(alerts_watch=False))
    market.set_last("BBCA", 9100)
    calls = len(market.calls)
    assert await check_watches(core) == 0
    assert recorder.sent == [] and len(market.calls) == calls  # not even fetched
    assert (await _watch(db, "BBCA", "price>9000")).last_triggered_at is None

    async with db.session() as session:
        await session.execute(update(User).where(User.id == ana.user_id).values(alerts_watch=True))
    assert await check_watches(core) == 1  # it holds now, and they asked to hear when it does
    assert len(recorder.sent) == 1


async def test_a_plain_watch_never_alerts(db, core, market, recorder, ana, no_charts):
    await watchlist.add_watch(db, ana, market, "BBCA")
    market.set_last("BBCA", 9999)
    assert await check_watches(core) == 0
    assert recorder.sent == [] and no_charts == []


async def test_a_listing_that_sees_the_condition_false_re_arms_it(db, core, market, recorder, ana, no_charts):
    await watchlist.add_watch(db, ana, market, "BBCA", "price>9000")
    market.set_last("BBCA", 9100)
    assert await check_watches(core) == 1
    market.add_bar("BBCA", 8900)
    await watchlist.list_watches(db, ana, market)  # the user sees it false before the job does
    market.add_bar("BBCA", 9300)
    await watchlist.list_watches(db, ana, market)  # ... and met again: that must not swallow the alert
    assert await check_watches(core) == 1
    assert len(recorder.sent) == 2


async def test_one_fetch_per_ticker_and_one_chart_per_condition(db, core, market, recorder, no_charts):
    users = [await actor_for(db, platform="telegram", external_id=str(n), display_name=f"u{n}") for n in (1, 2, 3)]
    for user in users:
        await watchlist.add_watch(db, user, market, "BBCA", "price>9000")
    await watchlist.add_watch(db, users[0], market, "BBCA", "rsi<101")
    await watchlist.add_watch(db, users[1], market, "TLKM", "price>1")
    market.calls.clear()
    market.set_last("BBCA", 9100)
    assert await check_watches(core) == 5
    assert sorted(market.calls) == ["BBCA", "TLKM"]
    assert sorted(t.chat_id for t, _ in recorder.sent) == ["1", "1", "2", "2", "3"]
    assert len(no_charts) == 3  # BBCA price>9000, BBCA rsi<101, TLKM price>1
    rsi_chart = next(c for c in no_charts if c["title"].endswith("rsi:14<101"))
    assert [r.spec.text for r in rsi_chart["indicators"]] == ["rsi:14"]  # the condition's indicator is drawn


async def test_fetches_go_through_the_market_cache(db, ana, recorder, no_charts):
    """With the real market service: one provider fetch per ticker, and none again within the bar."""
    settings = Settings(_env_file=None, market_offline=True)
    market = MarketService(settings)
    core = Core(settings=settings, db=db, market=market, notifiers={"telegram": recorder})
    bob = await actor_for(db, platform="telegram", external_id="222", display_name="Bob")
    for actor in (ana, bob):
        await watchlist.add_watch(db, actor, market, "BBCA", "price>1")
        await watchlist.add_watch(db, actor, market, "TLKM", "price<1")
    market.cache.clear()
    market.cache.fetches = 0
    assert await check_watches(core) == 2  # BBCA's for both users
    assert market.cache.fetches == 2
    assert await check_watches(core) == 0
    assert market.cache.fetches == 2
    await market.close()


async def test_two_checkers_at_once_alert_once(db, core, market, recorder, ana, no_charts):
    await watchlist.add_watch(db, ana, market, "BBCA", "price>9000")
    market.set_last("BBCA", 9100)
    results = await asyncio.gather(check_watches(core), check_watches(core))
    assert sorted(results) == [0, 1] and len(recorder.sent) == 1


async def test_the_alert_goes_as_text_when_the_chart_fails(db, core, market, recorder, ana, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("renderer down")

    monkeypatch.setattr(monitoring, "render_candles", broken)
    await watchlist.add_watch(db, ana, market, "BBCA", "price>9000")
    market.set_last("BBCA", 9100)
    assert await check_watches(core) == 1
    [(_, notice)] = recorder.sent
    assert notice.images == () and "BBCA: price>9000 is met" in notice.text


async def test_the_chart_marks_the_crossing_bar(sqlite_db, market, recorder):
    settings = Settings(_env_file=None, market_offline=True, chart_width_px=600, chart_height_px=400)
    core = Core(settings=settings, db=sqlite_db, market=market, notifiers={"telegram": recorder})  # type: ignore[arg-type]
    ana = await actor_for(sqlite_db, platform="telegram", external_id="111", display_name="Ana")
    await watchlist.add_watch(sqlite_db, ana, market, "BBCA", "close crosses above ema:20")
    seen: list = []
    real = monitoring.render_candles

    def spy(candles, indicators=(), **options):
        seen.append(options["markers"])
        return real(candles, indicators, **options)

    market.set_last("BBCA", 5000, position=-2)  # well below its 20-day average ...
    market.set_last("BBCA", 9000)  # ... then well above it on the last bar
    frame = market.frames["BBCA"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(monitoring, "render_candles", spy)
        assert await check_watches(core) == 1
    [[marker]] = seen
    assert marker.at == frame.index[-1] and marker.side == "buy"
    [(_, notice)] = recorder.sent
    image = Image.open(io.BytesIO(notice.images[0].data))
    assert image.format == "PNG" and image.size == (600, 400)
