"""Candlestick charts for replies: drawn on the compute plane, the PNG reused for identical bars.

The market service returns data (``MarketService.market_info``); whoever shows it asks here for
the picture. Many users asking for one ticker between two candles see the same chart, so each PNG
is kept by what it shows (source, symbol, interval, the last bar, the indicators) and drawn once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import partial

from core.charts import candles as drawing
from core.compute import Compute, Task
from core.config import Settings
from core.market.indicator_compute import IndicatorResult
from core.market.types import Candles

CHART_CACHE_SIZE = 256  # PNGs of ~150 KB: under 40 MB at most


class ChartService:
    def __init__(self, settings: Settings, compute: Compute) -> None:
        self.settings = settings
        self.compute = compute  # the market service's, so charts and indicators share one executor
        self._pngs: OrderedDict[tuple, bytes] = OrderedDict()

    async def candles(
        self, candles: Candles, results: Sequence[IndicatorResult] = (), user_id: int | None = None
    ) -> bytes:
        """Render, or reuse the PNG of identical bars and indicators (many users, one candle), on
        ``user_id``'s share of the compute plane."""
        frame = candles.frame
        key = (
            candles.provider,
            candles.instrument.symbol,
            candles.interval.code,
            len(frame),
            frame.index[-1] if len(frame) else None,
            tuple(frame[["close", "volume"]].iloc[-1]) if len(frame) else (),
            tuple(r.spec.text for r in results),
        )
        png = self._pngs.get(key)
        if png is None:
            # looked up at each call, not bound at import: a benchmark swaps the renderer in
            job = partial(drawing.render_candles, candles, tuple(results), width_px=self.settings.chart_width_px,
                          height_px=self.settings.chart_height_px, max_candles=self.settings.chart_max_candles)  # fmt: skip
            png = await self.compute.run(job, task=Task(user_id, label="the chart"))
            self._pngs[key] = png
            while len(self._pngs) > CHART_CACHE_SIZE:
                self._pngs.popitem(last=False)
        else:
            self._pngs.move_to_end(key)
        return png

    def forget(self) -> None:
        """Drop every kept PNG (the next request draws again)."""
        self._pngs.clear()
